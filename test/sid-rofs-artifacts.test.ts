/**
 * The sid set of mkfs.erofs/mksquashfs (erofs-utils 1.9.4, squashfs-tools 4.7.5; --compat ≥ 258):
 * checksums, pinned sources, licenses; the versions they report; and that --compat picks them
 * (262) or trixie's (257). Byte comparisons with sid's native tools: test/oracle/sid-tools.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkArtifacts } from './erofs-helpers.js';
import { runTool, toolArtifact, toolSetFor } from '../src/fs/wasm/host.js';

test('wasm/sid/erofs and wasm/sid/squashfs: checksums, sources, licenses', () => {
  checkArtifacts('sid/erofs', ['mkfs.erofs.cjs', 'mkfs.erofs.wasm'],
    [/^debian-suite: sid$/m, /^erofs-utils: 1\.9\.4-1$/m, /^lz4: 1\.10\.0-10$/m, /^libzstd: 1\.5\.7\+dfsg-4$/m, /^emscripten: 3\.1\.6/m],
    ['erofs-utils-COPYING', 'lz4-lib-LICENSE', 'zstd-LICENSE', 'xz-COPYING.0BSD', 'zlib-LICENSE']);
  checkArtifacts('sid/squashfs', ['mksquashfs.cjs', 'mksquashfs.wasm'],
    [/^debian-suite: sid$/m, /^squashfs-tools: 1:4\.7\.5-1$/m, /^lzo2: 2\.10-3$/m, /^emscripten: 3\.1\.6/m],
    ['squashfs-tools-COPYING', 'lzo2-COPYING', 'zstd-LICENSE', 'zlib-LICENSE']);
});

test('--compat=262 runs erofs-utils 1.9.4 and squashfs-tools 4.7.5, --compat=257 1.8.6 and 4.6.1', async () => {
  for (const [compat, erofs, sqfs] of [[262, '1.9.4', '4.7.5'], [257, '1.8.6', '4.6.1']] as const) {
    const set = toolSetFor(compat);
    const e = await runTool({ tool: 'mkfs.erofs', toolSet: set, argv0: 'mkfs.erofs', args: ['-V'], env: {} });
    assert.match(e.stdout + e.stderr, new RegExp(`mkfs\\.erofs \\(erofs-utils\\) ${erofs.replace(/\./g, '\\.')}`), `${toolArtifact('mkfs.erofs', set)}`);
    const s = await runTool({ tool: 'mksquashfs', toolSet: set, argv0: 'mksquashfs', args: ['-version'], env: {} });
    assert.match(s.stdout + s.stderr, new RegExp(`mksquashfs version ${sqfs.replace(/\./g, '\\.')}`), `${toolArtifact('mksquashfs', set)}`);
  }
});
