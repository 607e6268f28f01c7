#!/usr/bin/env node
/**
 * Writes the golden expectations of test/pipeline.test.ts: every differential case run through the
 * CLI of a compiled tree (DIST) as a dry run (--dry-run=yes instead of --dry-run=no), for 262 and
 * --compat=257: exit status, the --json=short rows, and stderr's last line when it fails.
 * Regenerate only when a layout change is intended (and say so in the commit).
 *
 *   node tools/golden-dry-run.mjs DIST test/golden/pipeline-dry-run.json
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SEED = 'e2a40bf9-73f1-4278-9160-49c031e7aef8';
const dist = path.resolve(process.argv[2]);
const { CASES } = await import(path.join(dist, 'test/differential-cases.js'));
const out = {};
for (const compat of ['262', '257']) {
  for (const c of CASES) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'golden-'));
    for (const [n, content] of Object.entries(c.files)) {
      mkdirSync(path.dirname(path.join(dir, n)), { recursive: true });
      writeFileSync(path.join(dir, n), content.replaceAll('%CWD%', dir));
    }
    const args = [`--compat=${compat}`, '--offline=yes', `--seed=${SEED}`, '--json=short', '--definitions=defs',
      ...c.args.map((a) => (a === '--dry-run=no' ? '--dry-run=yes' : a)), 'disk.raw'];
    const r = spawnSync(process.execPath, [path.join(dist, 'src/cli/main.js'), ...args], { cwd: dir, encoding: 'utf8' });
    const err = r.stderr.trim().split('\n').pop() ?? '';
    out[`${compat}: ${c.name}`] = {
      status: r.status,
      rows: r.status === 0 ? JSON.parse(r.stdout.replaceAll(dir, '%CWD%')) : null,
      error: r.status === 0 ? undefined : err.replaceAll(dir, '%CWD%'),
    };
    rmSync(dir, { recursive: true, force: true });
  }
}
writeFileSync(process.argv[3], JSON.stringify(out, null, 1) + '\n');
