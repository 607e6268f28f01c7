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
 * The first failure is recorded (`SourceFailure`) so that the run fails with the file's path and
 * errno whatever the tool makes of the error it gets.
 */
import * as fs from 'node:fs';
import { openScanned, SourceChangedError } from '../../io/open-verified.js';
import type { FileNode } from '../../tree/model.js';
import type { EmStream, StreamHandler } from './emscripten.js';
import type { Fail } from './vtree.js';

export interface SourceFailure {
  path: string;
  errno: string;
  message: string;
}

/** File systems whose st_blocks counts every data block, uncompressed (ext2/3/4, xfs, tmpfs). */
const BLOCKS_ARE_DATA = new Set([0xef53, 0x58465342, 0x01021994]);
/** Below this, a file is read as it is (inline data has no blocks at all). */
const SPARSE_MIN = 1 << 20;
const SCAN_CHUNK = 4 << 20;

interface Allocation {
  /** bytes of allocated blocks (st_blocks * 512) */
  allocated: number;
  /** block size of the file system: a non-zero block of this size is an allocated one */
  block: number;
}

/** How a file's holes can be found, or null to treat it as data everywhere. */
function allocationOf(fd: number, size: number): Allocation | null {
  if (size < SPARSE_MIN) return null;
  const st = fs.fstatSync(fd);
  const allocated = st.blocks * 512;
  if (allocated >= size) return null;
  let sf;
  try {
    // statfs of the open file itself, not of a path that may have changed
    sf = fs.statfsSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
  if (!BLOCKS_ARE_DATA.has(sf.type) || sf.bsize < 512 || sf.bsize > 65536) return null;
  return { allocated, block: sf.bsize };
}

/**
 * Finds data and holes by reading: non-zero blocks are data. `confirmed` counts the data blocks
 * seen below `scanned`; once it reaches the allocation, nothing past `scanned` can be data.
 */
class HoleFinder {
  private scanned = 0;
  private confirmed = 0;
  /** data runs [start, end) found below `scanned`, in order */
  private readonly runs: [number, number][] = [];
  private readonly buf: Buffer;
  private readonly zero: Buffer;

  constructor(private readonly fd: number, private readonly size: number, private readonly a: Allocation, private readonly onShort: (pos: number) => never) {
    this.buf = Buffer.alloc(a.allocated === 0 ? 0 : SCAN_CHUNK);
    this.zero = Buffer.alloc(a.block);
  }

  private get exhausted(): boolean {
    return this.confirmed >= this.a.allocated;
  }

  /** scan one more chunk; false when there is nothing left to learn */
  private step(): boolean {
    if (this.scanned >= this.size || this.exhausted) return false;
    const want = Math.min(SCAN_CHUNK, this.size - this.scanned);
    let got = 0;
    while (got < want) {
      const n = fs.readSync(this.fd, this.buf, got, want - got, this.scanned + got);
      if (n === 0) this.onShort(this.scanned + got);
      got += n;
    }
    for (let off = 0; off < want; off += this.a.block) {
      const end = Math.min(want, off + this.a.block);
      if (this.buf.compare(this.zero, 0, end - off, off, end) === 0) continue;
      const s = this.scanned + off;
      const last = this.runs[this.runs.length - 1];
      if (last && last[1] === s) last[1] = this.scanned + end;
      else this.runs.push([s, this.scanned + end]);
      this.confirmed += end - off;
    }
    this.scanned += want;
    return true;
  }

  /** the first run ending after pos (binary search: a fragmented file has many runs) */
  private runAfter(pos: number): [number, number] | undefined {
    let lo = 0;
    let hi = this.runs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.runs[mid]![1] > pos) hi = mid;
      else lo = mid + 1;
    }
    return this.runs[lo];
  }

  /** lseek(SEEK_DATA): the first data offset >= pos, or -1 (ENXIO). */
  seekData(pos: number): number {
    for (;;) {
      const r = this.runAfter(pos);
      if (r) return Math.max(r[0], pos);
      if (!this.step()) return -1;
    }
  }

  /** lseek(SEEK_HOLE): the first hole offset >= pos (the end of file at worst). */
  seekHole(pos: number): number {
    for (;;) {
      const r = this.runAfter(pos);
      if (r && r[0] > pos) return pos;
      if (r && (r[1] < this.scanned || this.exhausted)) return Math.min(r[1], this.size);
      if (!r && (pos < this.scanned || this.exhausted)) return pos;
      if (!this.step()) return r ? Math.min(r[1], this.size) : pos;
    }
  }

  /** true when [pos, pos+len) is known to be a hole (reads can be answered without I/O) */
  isHole(pos: number, len: number): boolean {
    if (!this.exhausted && pos + len > this.scanned) return false;
    const r = this.runAfter(pos);
    return !r || r[0] >= pos + len;
  }
}

export interface SourceReader {
  handler: StreamHandler;
  nfd: number;
}

/** Open a scanned host file for a tool; failures are recorded with `record` and thrown as errnos. */
export function openSourceFile(
  node: FileNode & { source: { kind: 'host' } },
  fail: Fail,
  record: (f: SourceFailure) => void,
  counted: (n: number) => void,
  done: () => void,
): SourceReader {
  const path = node.source.path;
  const id = node.source.ino !== undefined && node.source.dev !== undefined ? { dev: node.source.dev, ino: node.source.ino } : undefined;
  const failWith = (errno: string, message: string, toolErrno = errno): never => {
    record({ path, errno, message });
    throw fail(toolErrno);
  };
  let fd: number;
  try {
    fd = openScanned(path, id);
  } catch (e) {
    if (e instanceof SourceChangedError) return failWith(e.errno, e.message, e.errno === 'ESTALE' ? 'EIO' : e.errno);
    throw e;
  }
  const planned = node.size;
  const size0 = fs.fstatSync(fd).size;
  if (size0 !== planned) {
    fs.closeSync(fd);
    return failWith('EIO', `${path}: changed size since it was scanned (${planned} → ${size0} bytes)`);
  }
  const short = (pos: number): never => failWith('EIO', `${path}: ended after ${pos} bytes, ${planned} were planned (changed since it was scanned, or its size is not what stat says)`);
  const alloc = allocationOf(fd, planned);
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
        // all of `want` or a failure: a tool that takes a short read for the end of the file
        // (mke2fs zero-pads the rest) must not see one before the planned end
        let n = 0;
        while (n < want) {
          let r: number;
          try {
            r = fs.readSync(fd, buf, off + n, want - n, pos + n);
          } catch (e) {
            const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
            return failWith(code, `${path}: read failed: ${code}`);
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
        // a file that grew while it was read: its planned prefix is not what the user has
        let now = planned;
        try {
          now = fs.fstatSync(fd).size;
        } finally {
          fs.closeSync(fd);
          done();
        }
        if (now !== planned) record({ path, errno: 'EIO', message: `${path}: changed size while it was read (${planned} → ${now} bytes)` });
      },
    },
  };
}
