/**
 * Paths a run resolves through --root= (CopyBlocks= sources, the generated fstab/crypttab):
 * symlinks are followed inside the root (src/tree/chase.ts), never on the host, and a source's
 * type is checked before it is opened, so that a FIFO cannot hang the run in open().
 */
import { closeSync, fstatSync, lstatSync, readFileSync, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { RepartError, type ErrorWhere } from '../errors.js';
import { chaseInRoot, ChaseError, hostPathIn } from '../tree/chase.js';
import { openScanned, type ScanId } from './open-verified.js';

export interface CheckedBlockSource {
  path: string;
  offset: bigint;
  length: bigint;
  /** identity at the check; the copy refuses a different file at the path */
  id: ScanId;
}

function resolve(root: string | undefined, p: string, where: ErrorWhere): string {
  try {
    return hostPathIn(root, p);
  } catch (e) {
    if (e instanceof ChaseError) throw new RepartError('E_SOURCE', `Failed to resolve CopyBlocks= path '${p}': ${e.message}`, where);
    throw e;
  }
}

/** A block device's size from sysfs (Node has no BLKGETSIZE64): 512-byte sectors. */
function blockDeviceSize(rdev: bigint): bigint | null {
  // glibc's gnu_dev_major/minor
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  try {
    return BigInt(readFileSync(`/sys/dev/block/${major}:${minor}/size`, 'utf8').trim()) * 512n;
  } catch {
    return null;
  }
}

/**
 * CopyBlocks=PATH checked as repart does before anything is written: it must be a regular file
 * or a block device (a directory's backing device is not supported here), of a non-zero size
 * that is a multiple of 512. The type is checked with lstat after resolving, before any open().
 */
export function copyBlocksSource(root: string | undefined, p: string, where: ErrorWhere): CheckedBlockSource {
  const host = resolve(root, p, where);
  let st: Stats;
  try {
    st = lstatSync(host);
  } catch (e) {
    throw new RepartError('E_SOURCE', `cannot open CopyBlocks= source ${host}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, where);
  }
  if (st.isDirectory()) throw new RepartError('E_SOURCE', `CopyBlocks= source ${host} is a directory; copying its backing block device is not supported`, where);
  if (!st.isFile() && !st.isBlockDevice())
    throw new RepartError('E_SOURCE', `Specified path to copy blocks from '${host}' is not a regular file, block device or directory, refusing.`, where);
  // opened once now (O_NOFOLLOW, O_NONBLOCK, identity checked): readable, and the same file
  const fd = openScanned(host, undefined, where);
  let id: ScanId;
  let rdev: bigint;
  try {
    const big = lstatSync(host, { bigint: true });
    id = { dev: big.dev, ino: big.ino };
    rdev = big.rdev;
    const f = fstatSync(fd, { bigint: true });
    if (f.ino !== big.ino || f.dev !== big.dev || Number(big.ino) !== st.ino) throw new RepartError('E_SOURCE', `${host}: changed while it was checked`, where);
  } finally {
    closeSync(fd);
  }
  const size = st.isFile() ? BigInt(st.size) : blockDeviceSize(rdev);
  if (size === null) throw new RepartError('E_SOURCE', `Failed to determine size of block device to copy from: ${host}`, where);
  if (size === 0n) throw new RepartError('E_SOURCE', `File to copy bytes from '${host}' has zero size, refusing.`, where);
  if (size % 512n !== 0n) throw new RepartError('E_SOURCE', `File to copy bytes from '${host}' has size that is not multiple of 512, refusing.`, where);
  return { path: host, offset: 0n, length: size, id };
}

/**
 * --generate-fstab=/--generate-crypttab= with --root=: the file goes below the root (as repart
 * writes it), its directory resolved inside the root. repart 262 follows a symlink there on the
 * host; we never write outside the root.
 */
export function generatedPath(root: string | undefined, p: string): string {
  if (!root) return p;
  const dir = chaseInRoot(root, posix.dirname(p)).hostPath;
  return posix.join(dir, posix.basename(p));
}
