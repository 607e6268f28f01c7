/**
 * Differential tests: the same definitions and seed through the real systemd-repart (262 from
 * Debian sid against our default, 257 from trixie against --compat=257) and through repart-ts.
 * Compared: exit status, --json output, the first 1 MiB and the GPT tail of the image, and
 * every --split file.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync, openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { CASES } from '../differential-cases.js';
import { referenceSkipReason, runOurs, runReference, type Suite } from '../helpers/reference.js';

const SEED = 'e2a40bf9-73f1-4278-9160-49c031e7aef8';

function readRange(file: string, start: number, len: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(len);
    const n = readSync(fd, b, 0, len, start);
    return b.subarray(0, n);
  } finally { closeSync(fd); }
}

function fileSize(file: string): number {
  const fd = openSync(file, 'r');
  try { return fstatSync(fd).size; } finally { closeSync(fd); }
}

function digest(file: string): string {
  const h = createHash('sha256');
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(1 << 22);
    let pos = 0;
    for (;;) {
      const n = readSync(fd, b, 0, b.length, pos);
      if (n === 0) break;
      h.update(b.subarray(0, n));
      pos += n;
    }
  } finally { closeSync(fd); }
  return h.digest('hex');
}

function moveOutputs(dir: string, to: string): string[] {
  mkdirSync(path.join(dir, to));
  const names = readdirSync(dir).filter((n) => n.startsWith('disk')).sort();
  for (const n of names) renameSync(path.join(dir, n), path.join(dir, to, n));
  return names;
}

for (const [suite, compatArgs] of [['sid', []], ['trixie', ['--compat=257']]] as [Suite, string[]][]) {
  describe(`differential vs systemd-repart (${suite})`, () => {
    const skip = referenceSkipReason(suite);
    for (const c of CASES) {
      it(c.name, { skip: skip ?? false }, () => {
        const dir = mkdtempSync(path.join(os.tmpdir(), 'repart-diff-'));
        try {
          for (const [name, content] of Object.entries(c.files)) {
            mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
            writeFileSync(path.join(dir, name), content.replaceAll('%CWD%', dir));
          }
          const common = [`--seed=${SEED}`, '--json=pretty', '--definitions=defs', ...c.args];
          const ref = runReference(suite, ['--offline=yes', ...common, 'disk.raw'], dir);
          const refFiles = moveOutputs(dir, 'ref');
          const ours = runOurs([...compatArgs, '--offline=yes', ...common, 'disk.raw'], dir);
          const ourFiles = moveOutputs(dir, 'ours');
          const ctx = `\n--- reference stderr:\n${ref.stderr}\n--- ours stderr:\n${ours.stderr}`;
          assert.equal(ours.status, ref.status, `exit status${ctx}`);
          assert.equal(ours.stdout, ref.stdout, `JSON output${ctx}`);
          assert.deepEqual(ourFiles, refFiles, `output files${ctx}`);
          if (ref.status !== 0 || c.jsonOnly) return;
          for (const f of refFiles) {
            const a = path.join(dir, 'ref', f);
            const b = path.join(dir, 'ours', f);
            assert.equal(fileSize(b), fileSize(a), `size of ${f}`);
            if (f === 'disk.raw') {
              const size = fileSize(a);
              const tail = 33 * 512; // covers E+1 sectors for 512 (33) and 4096 (5 sectors = 20480 → use 5*4096 below)
              assert.ok(readRange(b, 0, 1 << 20).equals(readRange(a, 0, 1 << 20)), 'first 1 MiB');
              const t = Math.max(tail, 5 * 4096);
              assert.ok(readRange(b, size - t, t).equals(readRange(a, size - t, t)), 'GPT tail');
              assert.equal(digest(b), digest(a), 'whole image');
            } else assert.equal(digest(b), digest(a), `split file ${f}`);
          }
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });
    }
  });
}

describe('listing an existing image (no definitions) vs systemd-repart', () => {
  for (const suite of ['sid', 'trixie'] as Suite[]) {
    for (const ss of [512, 4096]) {
      it(`${suite}, ${ss}-byte sectors`, { skip: referenceSkipReason(suite) ?? false }, () => {
        const dir = mkdtempSync(path.join(os.tmpdir(), 'repart-list-'));
        try {
          const c = CASES[0]!;
          for (const [name, content] of Object.entries(c.files)) {
            mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
            writeFileSync(path.join(dir, name), content);
          }
          mkdirSync(path.join(dir, 'none'));
          const made = runReference(suite, ['--offline=yes', `--seed=${SEED}`, '--definitions=defs', '--empty=create', '--size=1G', `--sector-size=${ss}`, 'disk.raw'], dir);
          assert.equal(made.status, 0, made.stderr);
          for (const json of ['short', 'pretty']) {
            const ref = runReference(suite, ['--offline=yes', `--json=${json}`, '--definitions=none', 'disk.raw'], dir);
            const ours = runOurs([...(suite === 'trixie' ? ['--compat=257'] : []), `--json=${json}`, '--definitions=none', 'disk.raw'], dir);
            assert.equal(ours.status, ref.status, ref.stderr + ours.stderr);
            assert.equal(ours.stdout, ref.stdout);
          }
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });
    }
  }
});
