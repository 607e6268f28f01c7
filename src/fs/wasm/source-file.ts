/**
 * A host source file as a WebAssembly tool reads it (mke2fs -d, mkfs.btrfs --rootdir,
 * mkfs.erofs, mksquashfs): the one place every format's file bytes pass through.
 *
 * - Opened as the file that was scanned (src/io/open-verified.ts: no final symlink followed,
 *   dev/ino checked), so a source swapped after the scan cannot bring a host file in.
 * - Exactly the planned bytes: the tool sees the scanned size; a file that is shorter when read
 *   (it shrank, or lied in stat as sysfs/procfs files do) or longer fails with its path — the
 *   tools would otherwise loop (erofs, btrfs), store it empty (squashfs) or zero-pad it (ext4).
 * - Holes: SEEK_DATA/SEEK_HOLE are answered from the file's allocation (Node has no lseek
 *   with those whences): a file without allocated blocks is all hole and never read; a sparse
 *   one is scanned in large chunks for non-zero blocks, stopping once the non-zero blocks found
 *   account for every allocated block, so the tools that ask (mke2fs) skip the holes.
 *
 * An archive member (CopyArchive=, src/tree/tar.ts) is `size` bytes from its offset in the
 * archive, which is opened and checked the same way; it has no holes of its own.
 *
 * The first failure is recorded (`SourceFailure`) so that the run fails with the file's path and
 * errno whatever the tool makes of the error it gets.
 */
import * as fs from 'node:fs';
import { openScannedStat, scanIdOf, SourceChangedError, verifyScannedEmpty } from '../../io/open-verified.js';
import { allocationOf, HoleFinder } from '../../io/holes.js';
import type { FileNode } from '../../tree/model.js';
import type { EmStream, StreamHandler } from './emscripten.js';
import type { Fail } from './vtree.js';

export interface SourceFailure {
  path: string;
  errno: string;
  message: string;
  /** the message already says the errno */
  namesErrno: boolean;
}

export interface SourceReader {
  handler: StreamHandler;
  /** the host fd, -1 for an empty file checked without opening it */
  nfd: number;
}

/** A host file the read-ahead already opened as scanned (fd-handoff.ts): its descriptor (now the reader's) and its size then. */
export interface OpenedSource {
  fd: number;
  size: number;
  /**
   * Instead of the check at close (fstat: the size still the planned one) and close(2): hand the
   * descriptor back to the thread that opened it, which makes that check and closes it
   * (fd-handoff.ts; its verdict is recorded before the run ends, VirtualTree.finishHandoff).
   */
  giveBack?: () => void;
  /**
   * Its bytes, as the read-ahead read them with that descriptor to the planned size (fd-handoff.ts
   * arena): copied from there instead of read again; valid until giveBack.
   */
  bytes?: Uint8Array;
}

/**
 * Open a scanned host file for a tool; failures are recorded with `record` and thrown as errnos.
 * `opened`: the file was opened and checked as scanned already (openScannedStat on another
 * thread), so only what follows the open is done here.
 */
export function openSourceFile(
  node: FileNode & { source: { kind: 'host' | 'archive' } },
  fail: Fail,
  record: (f: SourceFailure) => void,
  counted: (n: number) => void,
  done: () => void,
  opened?: OpenedSource,
): SourceReader {
  const path = node.source.path;
  const id = scanIdOf(node.source);
  const failWith = (errno: string, message: string, toolErrno = errno, namesErrno = false): never => {
    record({ path, errno, message, namesErrno });
    throw fail(toolErrno);
  };
  let fd: number;
  let sizeAtOpen: number | undefined;
  if (opened) ({ fd, size: sizeAtOpen } = opened);
  else try {
    // an empty file has nothing to read: one lstat checks it is still the scanned one
    if (node.size === 0 && node.source.kind === 'host' && verifyScannedEmpty(path, id)) return emptyReader(fail, done);
    ({ fd, size: sizeAtOpen } = openScannedStat(path, id));
  } catch (e) {
    if (e instanceof SourceChangedError) return failWith(e.errno, e.message, e.errno === 'ESTALE' ? 'EIO' : e.errno, e.namesErrno);
    throw e;
  }
  const planned = node.size;
  const member = node.source.kind === 'archive';
  const base = node.source.kind === 'archive' ? node.source.offset : 0;
  const size0 = sizeAtOpen ?? fs.fstatSync(fd).size;
  if (member ? size0 < base + planned : size0 !== planned) {
    fs.closeSync(fd);
    return failWith('EIO', `${path}: changed size since it was scanned (${member ? 'the archive is shorter than its members' : `${planned} → ${size0} bytes`})`);
  }
  const short = (pos: number): never => failWith('EIO', `${path}: ended after ${pos} bytes, ${planned} were planned (changed since it was scanned, or its size is not what stat says)`);
  const bytes = opened?.bytes?.length === planned ? opened.bytes : undefined;
  const alloc = member || bytes ? null : allocationOf(fd, planned);
  const holes = alloc ? new HoleFinder(fd, planned, alloc, short) : null;
  return {
    nfd: fd,
    handler: {
      read(_s: EmStream, buf: Uint8Array, off: number, len: number, pos: number): number {
        // never past the planned size: what the tool sized for is what it gets
        const want = Math.max(0, Math.min(len, planned - pos));
        if (want === 0) return 0;
        if (holes?.isHole(pos, want)) {
          buf.fill(0, off, off + want);
          counted(want);
          return want;
        }
        if (bytes) {
          buf.set(bytes.subarray(pos, pos + want), off);
          counted(want);
          return want;
        }
        // all of `want` or a failure: a tool that takes a short read for the end of the file
        // (mke2fs zero-pads the rest) must not see one before the planned end
        let n = 0;
        while (n < want) {
          let r: number;
          try {
            r = fs.readSync(fd, buf, off + n, want - n, base + pos + n);
          } catch (e) {
            const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
            return failWith(code, `${path}: read failed: ${code}`, code, true);
          }
          if (r === 0) short(pos + n);
          n += r;
        }
        counted(n);
        return n;
      },
      write(): number {
        throw fail('EBADF');
      },
      size: () => planned,
      seekData(_s: EmStream, pos: number, whence: 3 | 4): number {
        if (pos >= planned) throw fail('ENXIO');
        if (!holes) return whence === 3 ? pos : planned;
        if (whence === 3) {
          const d = holes.seekData(pos);
          if (d < 0) throw fail('ENXIO');
          return d;
        }
        return holes.seekHole(pos);
      },
      close() {
        if (opened?.giveBack) {
          holes?.close();
          opened.giveBack();
          done();
          return;
        }
        // a file that grew while it was read: its planned prefix is not what the user has (an
        // empty file has no prefix: it was checked empty at open, and nothing of it was read)
        if (planned === 0) {
          fs.closeSync(fd);
          done();
          return;
        }
        let now = planned;
        try {
          now = fs.fstatSync(fd).size;
        } finally {
          holes?.close();
          fs.closeSync(fd);
          done();
        }
        if (!member && now !== planned) record(sizeChanged(path, planned, now));
      },
    },
  };
}

/** A source whose size at the end of reading was not the planned one (a file that grew or shrank while read). */
export function sizeChanged(path: string, planned: number, now: number): SourceFailure {
  return { path, errno: 'EIO', message: `${path}: changed size while it was read (${planned} → ${now} bytes)`, namesErrno: false };
}

/** An empty source verified by lstat (verifyScannedEmpty, here or on the thread of empty-check.ts): no fd, no bytes, no holes to seek. */
export function emptyReader(fail: Fail, done: () => void): SourceReader {
  return {
    nfd: -1,
    handler: {
      read: () => 0,
      write(): number {
        throw fail('EBADF');
      },
      size: () => 0,
      seekData(): number {
        throw fail('ENXIO');
      },
      close: done,
    },
  };
}
