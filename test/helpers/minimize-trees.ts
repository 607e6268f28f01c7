/**
 * Small host trees for the Minimize=guess tests (fast tier and oracle tier): sparse files, hard
 * links, small files, deep directories, many empty files. Deterministic; each `make` fills an
 * empty directory.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generate } from '../../test-images/gen-tree.js';

const MiB = 1024 * 1024;

export interface GuessTree {
  name: string;
  make: (dir: string) => void;
  /** the default inode ratio cannot hold it within repart's size: the model adds -N */
  needsInodes: boolean;
  /** at least this many inodes are in use once the tree is copied */
  minInodes: number;
  /** systemd-repart's own guess fails for it ("Could not allocate inode") */
  repartFails?: boolean;
}

/** Non-zero pseudo-random bytes (all-zero blocks would be skipped by mke2fs). */
export function noise(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = (x & 0xff) | 1;
  }
  return b;
}

/** A sparse file of `size` bytes with `runs` runs of `each` data bytes spread evenly. */
export function sparseFile(p: string, size: number, runs: number, each: number, seed = 1): void {
  const fd = fs.openSync(p, 'w');
  try {
    fs.ftruncateSync(fd, size);
    for (let i = 0; i < runs; i++) fs.writeSync(fd, noise(each, seed + i), 0, each, Math.floor((i * size) / runs / 4096) * 4096);
  } finally {
    fs.closeSync(fd);
  }
}

export const guessTrees: GuessTree[] = [
  {
    name: 'sparse files',
    needsInodes: false,
    minInodes: 300,
    make: (d) => {
      generate('closure', path.join(d, 'closure'), 3, 6 * MiB, 300);
      // 50 MB apparent, 5 MiB of data; a disk image whose 300 data runs need an extent leaf
      sparseFile(path.join(d, 'big.sparse'), 50 * 1000 * 1000, 5, MiB);
      sparseFile(path.join(d, 'disk.img'), 32 * MiB, 300, 8192, 99);
    },
  },
  {
    name: 'hard links',
    needsInodes: false,
    minInodes: 300,
    make: (d) => {
      for (let i = 0; i < 300; i++) {
        const first = path.join(d, 'l0', `f${i}`);
        fs.mkdirSync(path.dirname(first), { recursive: true });
        fs.writeFileSync(first, noise((i % 12) * 1024, i));
        for (let k = 1; k < 10; k++) {
          fs.mkdirSync(path.join(d, `l${k}`), { recursive: true });
          fs.linkSync(first, path.join(d, `l${k}`, `f${i}-${k}`));
        }
      }
    },
  },
  { name: 'small files (1 200)', needsInodes: false, minInodes: 1200, make: (d) => void generate('tiny', d, 3, 0, 1200) },
  {
    name: 'deep directories (300 levels)',
    needsInodes: false,
    minInodes: 900,
    make: (d) => {
      let p = d;
      for (let i = 0; i < 300; i++) {
        p = path.join(p, `d${i % 10}`);
        fs.mkdirSync(p);
        fs.writeFileSync(path.join(p, 'a'), `level ${i}\n`);
        fs.writeFileSync(path.join(p, 'b'), noise(5000, i));
      }
    },
  },
  { name: 'many small files (5 000)', needsInodes: true, repartFails: true, minInodes: 5000, make: (d) => void generate('tiny', d, 3, 0, 5000) },
  {
    name: 'empty files (20 000)',
    needsInodes: true,
    repartFails: true,
    minInodes: 20000,
    make: (d) => {
      for (let k = 0; k < 20; k++) {
        fs.mkdirSync(path.join(d, `d${k}`));
        for (let i = 0; i < 1000; i++) fs.closeSync(fs.openSync(path.join(d, `d${k}`, `e${i}`), 'w'));
      }
    },
  },
];
