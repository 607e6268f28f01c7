/**
 * Reading an xfs image back without mounting: xfs_db (-r) walks directories by inode (`inode N`
 * + `ls`), prints each inode's core and reads file extents (`bmap`), whose blocks are then read
 * from the image. Works with bookworm's xfs_db 6.1 for images without 6.13+'s incompat
 * features (exchange, parent); the oracle tests use the reference trees' xfs_db for the rest.
 */
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import type { Entry } from './wasm-helpers.js';

function assertEq(a: number, b: number, what: string): void {
  if (a !== b) throw new Error(`${what}: ${a} != ${b}`);
}

function xfsDb(img: string, cmds: string[]): string {
  return execFileSync('xfs_db', ['-r', ...cmds.flatMap((c) => ['-c', c]), img], { encoding: 'utf8', maxBuffer: 1 << 28 });
}

const TYPES: Record<string, string> = { directory: 'dir', regular: 'file', symlink: 'symlink', fifo: 'fifo', chardev: 'char', blkdev: 'block', socket: 'socket' };

/** path → Entry (mtime 0: mkfs.xfs' protofile does not carry times), as describeTree gives. */
export function describeXfs(img: string): Map<string, Entry> {
  const sb = xfsDb(img, ['sb 0', 'print agblocks blocksize rootino']);
  const num = (k: string) => Number(new RegExp(`^${k} = (\\d+)$`, 'm').exec(sb)![1]);
  const agblocks = num('agblocks');
  const bsize = num('blocksize');
  const entries = new Map<string, Entry>();
  const fd = fs.openSync(img, 'r');
  try {
    const stack: [string, number][] = [['', num('rootino')]];
    while (stack.length) {
      const [dir, ino] = stack.pop()!;
      const children: [number, string, string][] = [];
      for (const line of xfsDb(img, [`inode ${ino}`, 'ls']).split('\n')) {
        const m = /^\d+\s+(\d+)\s+(\S+)\s+0x[0-9a-f]+\s+\d+ (.*) \(good\)$/.exec(line);
        if (m && m[3] !== '.' && m[3] !== '..') children.push([Number(m[1]), m[2]!, m[3]!]);
      }
      if (!children.length) continue;
      // one xfs_db run per directory: each child's core, extents and (symlinks) target
      const out = xfsDb(img, children.flatMap(([i, type]) => [`inode ${i}`, 'print core.mode core.uid core.gid core.size', ...(type === 'regular' ? ['bmap'] : []), ...(type === 'symlink' ? ['print u3.symlink'] : [])]));
      const parts = out.split(/^(?=core\.mode = )/m).filter((x) => x.startsWith('core.mode'));
      assertEq(parts.length, children.length, `xfs_db output for ${dir || '/'}`);
      for (const [k, [childIno, type, name]] of children.entries()) {
        const core = parts[k]!;
        const p = `${dir}/${name}`;
        const field = (f: string) => Number(new RegExp(`^core\\.${f} = (\\d+)$`, 'm').exec(core)![1]);
        const mode = parseInt(/^core\.mode = (\d+)$/m.exec(core)![1]!, 8);
        const e: Entry = { type: TYPES[type] ?? type, perm: mode & 0o7777, uid: field('uid'), gid: field('gid'), mtime: 0, size: type === 'regular' ? field('size') : 0 };
        if (type === 'regular') {
          const data = Buffer.alloc(e.size);
          for (const x of core.matchAll(/^data offset (\d+) startblock \d+ \((\d+)\/(\d+)\) count (\d+) flag 0$/gm)) {
            const [off, ag, agbno, count] = [x[1], x[2], x[3], x[4]].map(Number) as [number, number, number, number];
            const len = Math.min(count * bsize, e.size - off * bsize);
            if (len > 0) fs.readSync(fd, data, off * bsize, len, (ag * agblocks + agbno) * bsize);
          }
          e.sha = crypto.createHash('sha256').update(data).digest('hex');
        }
        if (type === 'symlink') e.target = /^u3\.symlink = "?(.*?)"?$/m.exec(core)?.[1];
        entries.set(p, e);
        if (type === 'directory') stack.push([p, childIno]);
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return entries;
}
