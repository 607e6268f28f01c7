/**
 * Fast tier: the build pipeline in process, as a dry run, for every differential case (262 and
 * --compat=257), against golden rows recorded from the CLI before the pipeline refactor
 * (test/golden/pipeline-dry-run.json, written by tools/golden-dry-run.mjs). A layout change shows
 * here without root, the oracle or an image being written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CASES } from './differential-cases.js';
import { buildImage, RepartError, type BuildRequest } from '../src/index.js';
import { parseCommandLine } from '../src/config/cli.js';
import { errorLine } from '../src/cli/run.js';
import { formatJson, partitionsJson } from '../src/report/json.js';

const SEED = 'e2a40bf9-73f1-4278-9160-49c031e7aef8';
const GOLDEN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/golden/pipeline-dry-run.json');
const golden = JSON.parse(readFileSync(GOLDEN, 'utf8')) as Record<string, { status: number; rows: unknown; error?: string }>;

interface Outcome { status: number; rows: unknown; error?: string }

async function dryRun(args: string[]): Promise<Outcome> {
  let request: BuildRequest;
  let o;
  try {
    o = parseCommandLine(args);
    const { help: _h, version: _v, warnings: _w, json: _j, pretty: _p, noPager: _n, noLegend: _l, quiet: _q, progress: _g, ...rest } = o;
    request = rest;
  } catch (e) {
    if (e instanceof RepartError) return { status: e.exitCode, rows: null, error: errorLine(e) };
    throw e;
  }
  try {
    const r = await buildImage(request);
    return { status: 0, rows: JSON.parse(formatJson(partitionsJson(r.rows, o.compat), 'short')) };
  } catch (e) {
    if (e instanceof RepartError) return { status: e.exitCode, rows: null, error: errorLine(e) };
    throw e;
  }
}

for (const compat of ['262', '257']) {
  for (const c of CASES) {
    const key = `${compat}: ${c.name}`;
    test(`dry-run pipeline ${key}`, { timeout: 60_000 }, async () => {
      const want = golden[key];
      assert.ok(want, `no golden expectation for ${key} (regenerate with tools/golden-dry-run.mjs)`);
      const dir = mkdtempSync(path.join(os.tmpdir(), 'pipeline-'));
      const cwd = process.cwd();
      try {
        for (const [name, content] of Object.entries(c.files)) {
          mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
          writeFileSync(path.join(dir, name), content.replaceAll('%CWD%', dir));
        }
        process.chdir(dir);
        const args = [`--compat=${compat}`, '--offline=yes', `--seed=${SEED}`, '--json=short', '--definitions=defs',
          ...c.args.map((a) => (a === '--dry-run=no' ? '--dry-run=yes' : a)), 'disk.raw'];
        const got = await dryRun(args);
        const norm = (v: unknown) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v).replaceAll(dir, '%CWD%')));
        assert.equal(got.status, want.status, `exit status (${got.error ?? ''})`);
        assert.deepEqual(norm(got.rows), want.rows, 'rows');
        assert.equal(norm(got.error), want.error, 'error message');
      } finally {
        process.chdir(cwd);
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
}
