#!/usr/bin/env node
/**
 * Before/after evidence for refactors that must not change output: builds every bench scenario
 * (quick) and every differential case (262 and --compat=257) with the CLI of one compiled tree
 * (DIST), same seed and SOURCE_DATE_EPOCH, and writes {name: {status, stdout, files}} sha256s.
 *
 *   node tools/compare-builds.mjs DIST OUT.json [WORKDIR] [--only=diff|bench]
 *   node tools/compare-builds.mjs --diff A.json B.json      (prints a markdown table)
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SEED = 'e2a40bf9-73f1-4278-9160-49c031e7aef8';
const sha = (b) => createHash('sha256').update(b).digest('hex');
function shaFile(f) {
  const h = createHash('sha256');
  const fd = openSync(f, 'r');
  const b = Buffer.alloc(1 << 22);
  try {
    for (let pos = 0; ;) {
      const n = readSync(fd, b, 0, b.length, pos);
      if (n === 0) break;
      h.update(b.subarray(0, n));
      pos += n;
    }
  } finally { closeSync(fd); }
  return h.digest('hex');
}

if (process.argv[2] === '--diff') {
  const a = JSON.parse(readFileSync(process.argv[3], 'utf8')), b = JSON.parse(readFileSync(process.argv[4], 'utf8'));
  console.log('| build | output | before | after | same |\n|---|---|---|---|---|');
  let diff = 0;
  for (const k of Object.keys(a)) {
    const x = a[k], y = b[k] ?? { files: {} };
    const outs = new Set(['status', 'stdout', ...Object.keys(x.files), ...Object.keys(y.files)]);
    for (const o of outs) {
      const va = o === 'status' ? String(x.status) : o === 'stdout' ? x.stdout : x.files[o];
      const vb = o === 'status' ? String(y.status) : o === 'stdout' ? y.stdout : y.files[o];
      const same = va === vb;
      if (!same) diff++;
      console.log(`| ${k} | ${o} | ${String(va).slice(0, 12)} | ${String(vb).slice(0, 12)} | ${same ? 'yes' : '**NO**'} |`);
    }
  }
  console.log(`\n${diff} differences`);
  process.exit(diff ? 1 : 0);
}

const dist = path.resolve(process.argv[2]);
const out = path.resolve(process.argv[3]);
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
const work = path.resolve(process.argv[4] && !process.argv[4].startsWith('--') ? process.argv[4] : path.join(os.tmpdir(), 'compare-builds-work'));
const cli = path.join(dist, 'src/cli/main.js');
const result = {};

function build(name, dir, steps, between) {
  const files = {};
  let status = 0, stdout = '';
  for (const f of readdirSync(dir)) if (f.startsWith('disk')) rmSync(path.join(dir, f));
  for (const [k, args] of steps.entries()) {
    const r = spawnSync(process.execPath, [cli, '--quiet', ...args], { cwd: dir, encoding: 'buffer', maxBuffer: 1 << 26, env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' } });
    status = r.status; stdout = r.stdout.toString();
    if (status !== 0) { stdout += r.stderr.toString(); break; }
    if (between && k < steps.length - 1) between(k, stdout);
  }
  for (const f of readdirSync(dir).sort()) if (f.startsWith('disk')) files[f] = shaFile(path.join(dir, f));
  // the temporary directory is in the JSON (definition paths): compare the rows without it
  result[name] = { status, stdout: sha(stdout.replaceAll(dir, '%DIR%')), files };
  writeFileSync(out, JSON.stringify(result, null, 1) + '\n'); // as it goes: a long run can be read before it ends
  process.stderr.write(`${name}: ${status} ${Object.keys(files).join(' ')}\n`);
}

const { CASES } = await import(path.join(dist, 'test/differential-cases.js'));
for (const [compat, extra] of only === 'bench' ? [] : [['262', []], ['257', ['--compat=257']]]) {
  for (const c of CASES) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cmp-diff-'));
    for (const [n, content] of Object.entries(c.files)) {
      mkdirSync(path.dirname(path.join(dir, n)), { recursive: true });
      writeFileSync(path.join(dir, n), content.replaceAll('%CWD%', dir));
    }
    build(`diff ${compat}: ${c.name}`, dir, [[...extra, '--offline=yes', `--seed=${SEED}`, '--json=pretty', '--definitions=defs', ...c.args, 'disk.raw']]);
    rmSync(dir, { recursive: true, force: true });
  }
}

const { SCENARIOS } = await import(path.join(dist, 'bench/scenarios.js'));
for (const sc of only === 'diff' ? [] : SCENARIOS) {
  const dir = path.join(work, sc.name);
  rmSync(path.join(dir, 'repart.d'), { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const prep = sc.prepare(dir, true);
  const steps = (prep.steps ?? [[]]).map((extra, k) => ['--offline=yes', '--definitions=repart.d', ...(k === 0 ? ['--empty=create'] : []), `--seed=${SEED}`, '--json=off', '--dry-run=no', ...prep.args, ...extra, 'disk.raw']);
  build(`bench ${sc.name}`, dir, steps, prep.between);
  for (const f of readdirSync(dir)) if (f.startsWith('disk')) rmSync(path.join(dir, f));
}
writeFileSync(out, JSON.stringify(result, null, 1) + '\n');
