/**
 * Start-up cost (issue 18): what a run does not use is not loaded. A GPT-only build must load no
 * Format= driver, no Minimize= model, no tree scanner, no verity/LUKS code and not piscina; the
 * guard looks at the set of module URLs the CLI's process loads (a module.register() hook), not
 * at time. (node:zlib stays: the project takes its CRC-32 from there, ~2-4 ms of load.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { scratchDir } from './helpers/scratch.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');

/** Module URLs (file: and node:) the CLI loads for `args`, through the ESM loader. */
function loadedModules(dir: string, args: string[]): { status: number; stderr: string; urls: string[] } {
  const trace = path.join(dir, 'modules.txt');
  const hooks = `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) { appendFileSync(${JSON.stringify(trace)}, url + '\\n'); return next(url, context); }`;
  const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});`;
  const r = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(register)}`, CLI, ...args], { cwd: dir, encoding: 'utf8' });
  let urls: string[] = [];
  try { urls = readFileSync(trace, 'utf8').split('\n').filter(Boolean); } catch { /* nothing loaded */ }
  return { status: r.status ?? -1, stderr: r.stderr, urls };
}

test('a GPT-only build loads no format driver, Minimize= model, tree scanner, verity, LUKS or piscina', () => {
  const dir = scratchDir('repart-ts-startup-', {
    'repart.d/10-root.conf': '[Partition]\nType=root\nSizeMinBytes=16M\n',
    'repart.d/20-home.conf': '[Partition]\nType=home\nSizeMinBytes=8M\nLabel=data\n',
  });
  try {
    const r = loadedModules(dir, ['--offline=yes', '--definitions=repart.d', '--empty=create', '--size=auto', '--dry-run=no', '--json=off', '--quiet',
      '--seed=e2a40bf9-73f1-4278-9160-49c031e7aef8', 'img.raw']);
    assert.equal(r.status, 0, r.stderr);
    const ours = pathToFileURL(path.resolve(path.dirname(CLI), '..')).href + '/';
    const loaded = r.urls.map((u) => (u.startsWith(ours) ? u.slice(ours.length) : u));
    // the trace works: the CLI and the GPT writer are in it
    for (const m of ['cli/main.js', 'gpt/table.js', 'build/pipeline.js', 'image/build.js']) assert.ok(loaded.includes(m), `${m} not traced: ${loaded.join(' ')}`);
    const unwanted = [
      /^fs\/(vfat|ext4|xfs|btrfs|erofs|squashfs|wasm)\//, /^fs\/(swap|pool-worker)\.js$/, /^plan\/minimize\/(?!mkfs-options\.js$)/,
      /^tree\/(?!chase\.js$)/, /^build\/(trees|minimize-models|readahead|measure|verity|verity-sizes|signing|signatures|conformance|copy-blocks)\.js$/,
      /^(verity|luks|compress|nixos|initramfs)\//, /^report\/(generated-tabs|layout-svg)\.js$/, /^config\/copy-from\.js$/,
      /piscina/, /^node:(worker_threads|child_process|v8|vm|fs\/promises)$/,
    ];
    const bad = loaded.filter((m) => unwanted.some((re) => re.test(m)));
    assert.deepEqual(bad, [], `loaded by a GPT-only build: ${bad.join(' ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
