/**
 * The mkfs.xfs protofile systemd-repart writes for a root directory (`make_protofile` in
 * mkfs-util.c, formatting.md §6.3), generated from the virtual tree. File lines name the
 * file's path under the tree's mount point inside the tool, which the WASM host serves from
 * the tree: nothing is staged.
 *
 *   /                      boot image placeholder
 *   0 0                    blocks and inodes (unused)
 *   d--755 0 0             the root directory, fixed
 *   <name> <t><u><g><ooo> <uid> <gid> [<source path> | <link target> | <major> <minor>]
 *   ...                    depth first, names sorted as strcmp does; "$" closes a directory
 *   $                      closes the root
 */
import { FsError } from '../../errors.js';
import type { DirNode, SourceTree, TreeNode } from '../../tree/model.js';
import { byteOrder } from '../wasm/vtree.js';

export interface Protofile {
  text: string;
  /** a name contained a space, written as "/": mkfs.xfs needs `-p slashes_are_spaces=1,<file>` */
  slashesAreSpaces: boolean;
  /**
   * Source paths with a space cannot be written in a protofile (mkfs.xfs splits words on
   * whitespace). repart points at them through symlinks in a temporary directory; here an alias
   * path (no space) that the host resolves to the real path.
   */
  aliases: Record<string, string>;
}

const TYPE: Partial<Record<TreeNode['kind'], string>> = { dir: 'd', file: '-', symlink: 'l', fifo: 'p', block: 'b', char: 'c' };

/** Linux's dev_t split (glibc gnu_dev_major/minor). */
function majorMinor(rdev: number): [number, number] {
  const hi = Math.floor(rdev / 2 ** 32);
  const lo = rdev >>> 0;
  const major = ((lo >>> 8) & 0xfff) | ((hi & ~0xfff) >>> 0);
  const minor = (lo & 0xff) | ((lo >>> 12) & ~0xff);
  return [major >>> 0, minor >>> 0];
}

/**
 * @param mount where the tree appears inside the tool (file lines name `${mount}${path}`)
 * @param aliasDir where alias paths for source paths with spaces go
 */
export function makeProtofile(tree: SourceTree, mount: string, aliasDir: string, where: { file: string }): Protofile {
  const lines: string[] = ['/', '0 0', 'd--755 0 0'];
  const aliases: Record<string, string> = {};
  let slashesAreSpaces = false;
  const visit = (dir: DirNode, prefix: string): void => {
    for (const name of byteOrder([...dir.entries.keys()])) {
      const node = dir.entries.get(name)!;
      const t = TYPE[node.kind];
      if (!t) continue; // sockets: repart skips them
      const path = `${prefix}/${name}`;
      let shown = name;
      if (name.includes(' ')) {
        shown = name.replaceAll(' ', '/');
        slashesAreSpaces = true;
      }
      const m = node.meta;
      let line = `${shown} ${t}${m.perm & 0o4000 ? 'u' : '-'}${m.perm & 0o2000 ? 'g' : '-'}${(m.perm & 0o777).toString(8).padStart(3, '0')} ${m.uid} ${m.gid} `;
      if (node.kind === 'file') {
        let src = mount + path;
        if (src.includes(' ')) {
          const alias = `${aliasDir}/${Object.keys(aliases).length}`;
          aliases[alias] = src;
          src = alias;
        }
        line += src;
      } else if (node.kind === 'symlink') {
        if (node.target.includes(' ')) {
          throw new FsError('E_FS', `Symlinks to paths containing whitespace are not supported by mkfs.xfs: ${path} -> ${node.target}`, where);
        }
        line += node.target;
      } else if (node.kind === 'block' || node.kind === 'char') {
        const [ma, mi] = majorMinor(node.rdev);
        line += `${ma} ${mi}`;
      }
      lines.push(line);
      if (node.kind === 'dir') {
        visit(node, path);
        lines.push('$');
      }
    }
  };
  visit(tree.root, '');
  lines.push('$');
  return { text: lines.join('\n') + '\n', slashesAreSpaces, aliases };
}
