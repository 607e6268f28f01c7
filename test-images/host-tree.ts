/**
 * A host directory as a SourceTree: a minimal lstat walk standing in for src/tree's builder, so
 * driver tests and driver benchmarks feed the tools a tree without CopyFiles= semantics.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DirNode, FileNode, NodeMeta, SourceTree, TreeNode } from '../src/tree/model.js';

function meta(st: fs.BigIntStats): NodeMeta {
  const ts = (ns: bigint) => ({ sec: Number(ns / 1000000000n), nsec: Number(ns % 1000000000n) });
  return {
    perm: Number(st.mode) & 0o7777,
    uid: Number(st.uid),
    gid: Number(st.gid),
    atime: ts(st.atimeNs),
    mtime: ts(st.mtimeNs),
    ctime: ts(st.ctimeNs),
  };
}

/** lstat walk of a host directory; hard links (same dev:ino) become the same FileNode. */
export function hostTree(root: string): SourceTree {
  let nextIno = 2;
  const seen = new Map<string, FileNode>();
  const rootSt = fs.lstatSync(root, { bigint: true });
  const tree: SourceTree = { root: { kind: 'dir', ino: 1, meta: meta(rootSt), entries: new Map(), hostPath: root }, nextIno: 0 };
  const visit = (dir: DirNode, hostDir: string): void => {
    for (const name of fs.readdirSync(hostDir).sort()) {
      const p = path.join(hostDir, name);
      const st = fs.lstatSync(p, { bigint: true });
      let node: TreeNode;
      if (st.isDirectory()) {
        node = { kind: 'dir', ino: nextIno++, meta: meta(st), entries: new Map(), hostPath: p };
        visit(node, p);
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const known = st.nlink > 1n ? seen.get(key) : undefined;
        if (known) node = known;
        else {
          node = { kind: 'file', ino: nextIno++, meta: meta(st), size: Number(st.size), source: { kind: 'host', path: p } };
          if (st.nlink > 1n) seen.set(key, node);
        }
      } else if (st.isSymbolicLink()) {
        node = { kind: 'symlink', ino: nextIno++, meta: meta(st), target: fs.readlinkSync(p), hostPath: p };
      } else {
        const kind = st.isFIFO() ? 'fifo' : st.isSocket() ? 'socket' : st.isCharacterDevice() ? 'char' : 'block';
        node = { kind, ino: nextIno++, meta: meta(st), rdev: Number(st.rdev), hostPath: p };
      }
      dir.entries.set(name, node);
    }
  };
  visit(tree.root, root);
  tree.nextIno = nextIno;
  return tree;
}

