/**
 * Opt-in content de-duplication: regular files with the same bytes and the same metadata
 * (permissions, owner, mtime) become hard links of one inode, whether or not the host store was
 * optimised (`nix-store --optimise` does the same inside a store). Only files whose size
 * occurs more than once are hashed, so a tree of unique sizes costs no reads.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { openScanned, scanIdOf } from '../io/open-verified.js';
import type { DirNode, FileNode, SourceTree } from './model.js';

async function digest(f: FileNode): Promise<string> {
  const h = createHash('sha256');
  if (f.source.kind === 'bytes') return h.update(f.source.data).digest('hex');
  // an archive member is `size` bytes from its offset in the archive
  if (f.size === 0) return h.digest('hex');
  const { path } = f.source;
  const range = f.source.kind === 'archive' ? { start: f.source.offset, end: f.source.offset + f.size - 1 } : {};
  const fd = openScanned(path, scanIdOf(f.source));
  for await (const chunk of createReadStream(path, { fd, highWaterMark: 1 << 20, ...range })) h.update(chunk as Buffer);
  return h.digest('hex');
}

export interface DedupeStats {
  files: number;
  merged: number;
  bytesSaved: number;
}

export async function dedupeTree(tree: SourceTree): Promise<DedupeStats> {
  const bySize = new Map<number, FileNode[]>();
  const seen = new Set<FileNode>();
  const walk = (d: DirNode) => {
    for (const n of d.entries.values()) {
      if (n.kind === 'dir') walk(n);
      else if (n.kind === 'file' && !seen.has(n)) {
        seen.add(n);
        if (n.size === 0) continue; // empty files are cheap and often meant to be distinct
        bySize.set(n.size, [...(bySize.get(n.size) ?? []), n]);
      }
    }
  };
  walk(tree.root);
  const replace = new Map<FileNode, FileNode>();
  let bytesSaved = 0;
  for (const [size, group] of bySize) {
    if (group.length < 2) continue;
    const canonical = new Map<string, FileNode>();
    for (const f of group) {
      const m = f.meta;
      // xattrs are metadata too: a file capability must not move to a file that lacks it
      const xk = (m.xattrs ?? []).map((x) => `${x.name}=${Buffer.from(x.value).toString('hex')}`).join(',');
      const key = `${await digest(f)}:${m.perm}:${m.uid}:${m.gid}:${m.mtime.sec}:${m.mtime.nsec}:${xk}`;
      const first = canonical.get(key);
      if (first) { replace.set(f, first); bytesSaved += size; } else canonical.set(key, f);
    }
  }
  if (replace.size > 0) {
    const rewrite = (d: DirNode) => {
      for (const [name, n] of d.entries) {
        if (n.kind === 'dir') rewrite(n);
        else if (n.kind === 'file' && replace.has(n)) d.entries.set(name, replace.get(n)!);
      }
    };
    rewrite(tree.root);
  }
  return { files: seen.size, merged: replace.size, bytesSaved };
}
