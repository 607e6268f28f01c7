/**
 * Writes a planned FAT volume into its window of the image file: reserved sectors, FATs and the
 * root region once, then the whole used part of the data area as one sequential stream of large
 * writes (directory clusters and file contents interleaved in cluster order). Source files are
 * read straight into the write buffer; runs that are zero in the source and already zero in the
 * image are not written, so sparse sources keep the image sparse.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { encodeFat, fatByteLength } from './fat-table.js';
import { encodeFsInfo } from './fsinfo.js';
import type { Layout, Segment } from './layout.js';
import type { MkfsImage } from './mkfs.js';
import type { FormatProgress } from '../driver.js';
import { openScannedHandle, scanIdOf, SourceChangedError, type SourceHandle } from '../../io/open-verified.js';

const BUF = 8 * 1024 * 1024;

export class WriteError extends Error {
  constructor(message: string, readonly path?: string) {
    super(message);
  }
}

export interface WriteTarget {
  path: string;
  offset: number;
  size: number;
}

export async function writeVolume(target: WriteTarget, img: MkfsImage, layout: Layout | null, progress?: (p: FormatProgress) => void): Promise<void> {
  const g = img.geometry;
  const ss = g.sectorSize;
  const end = g.totalSectors * ss;
  if (end > target.size) throw new WriteError(`file system (${end} bytes) larger than its window (${target.size})`);
  const fh = await open(target.path, 'r+');
  try {
    const at = (off: number): number => {
      if (off < 0 || off > target.size) throw new WriteError(`write outside the partition window at ${off}`);
      return target.offset + off;
    };
    const put = async (buf: Uint8Array, off: number): Promise<void> => {
      if (off + buf.length > target.size) throw new WriteError(`write outside the partition window at ${off}+${buf.length}`);
      let done = 0;
      while (done < buf.length) {
        const { bytesWritten } = await fh.write(buf, done, buf.length - done, at(off + done));
        done += bytesWritten;
      }
    };

    // reserved sectors: zeroed, then boot sector, FSInfo and their backups
    const reserved = new Uint8Array(g.reservedSectors * ss);
    reserved.set(img.bootBytes, 0);
    if (img.fsInfoBytes) {
      let fsinfo = img.fsInfoBytes;
      if (layout && layout.allocatedClusters > 0) {
        fsinfo = encodeFsInfo({ freeClusters: g.clusterCount - 1 - layout.allocatedClusters, nextFree: layout.lastAllocated });
      }
      reserved.set(fsinfo, g.infoSector * ss);
      if (g.backupBootSector) {
        reserved.set(img.bootBytes, g.backupBootSector * ss);
        const bi = g.backupBootSector + g.infoSector;
        if (bi !== g.infoSector && bi < g.reservedSectors) reserved.set(img.fsInfoBytes, bi * ss);
      }
    }
    await put(reserved, 0);

    // FATs
    const fatBytes = new Uint8Array(g.fatLength * ss);
    if (layout) encodeFat(g.fatBits, layout.fat, fatBytes);
    else encodeFat(g.fatBits, Uint32Array.from(img.initialFat), fatBytes.subarray(0, fatByteLength(g.fatBits, img.initialFat.length)));
    for (let i = 0; i < g.numFats; i++) await put(fatBytes, (g.reservedSectors + i * g.fatLength) * ss);

    const dataOff = g.dataStart * ss;
    const cs = g.sectorsPerCluster * ss;
    const rootOff = (g.reservedSectors + g.numFats * g.fatLength) * ss;
    if (g.fatBits !== 32) {
      const region = new Uint8Array(g.rootDirSectors * ss);
      if (layout?.rootRegion) region.set(layout.rootRegion);
      else if (img.labelEntry) region.set(img.labelEntry);
      await put(region, rootOff);
    }
    if (!layout) {
      if (g.fatBits === 32) {
        const rootCluster = new Uint8Array(cs);
        if (img.labelEntry) rootCluster.set(img.labelEntry);
        await put(rootCluster, dataOff);
      }
      return;
    }
    await streamData(fh, layout, dataOff, cs, put, target.offset, progress);
  } finally {
    await fh.close();
  }
}

type FileSegment = Extract<Segment, { kind: 'file' }>;
type Put = (b: Uint8Array, off: number) => Promise<void>;

const SMALL = 1 << 20;
const isSmallHost = (s: Segment): s is FileSegment => s.kind === 'file' && s.source.kind === 'host' && s.size <= SMALL;

/**
 * The data area as one sequential stream: one buffer is filled while the other is written, so
 * reading sources and writing the image overlap.
 */
class DataStream {
  private readonly bufs = [Buffer.alloc(BUF), Buffer.alloc(BUF)];
  private readonly zero = Buffer.alloc(BUF);
  private readonly scratch = Buffer.alloc(BUF);
  /** bytes of each buffer written since it was last zeroed: only those need zeroing again */
  private readonly used = [0, 0];
  private which = 0;
  private pending: Promise<void> = Promise.resolve();
  /** the buffer being filled; replaced by flush() */
  buf: Buffer = this.bufs[0]!;
  fill = 0;
  /** window offset of buf[0] */
  bufDisk: number;
  files = 0;
  bytes = 0;

  constructor(
    private readonly fh: FileHandle,
    private readonly put: Put,
    /** the window's offset in the image file (for reading back what is there) */
    private readonly base: number,
    firstDisk: number,
  ) {
    this.bufDisk = firstDisk;
  }

  /** window offset the next byte of the stream goes to */
  get next(): number {
    return this.bufDisk + this.fill;
  }

  /** `n` more bytes of buf are filled; writes the buffer out when it is full. */
  async advance(n: number): Promise<void> {
    this.fill += n;
    if (this.fill === BUF) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.fill === 0) return;
    const len = this.fill;
    const b = this.buf;
    const off = this.bufDisk;
    await this.pending;
    this.pending = (async () => {
      const view = b.subarray(0, len);
      if (view.equals(this.zero.subarray(0, len))) {
        // skip writing zeros over zeros (keeps sparse sources sparse in the image)
        if (await isZeroAt(this.fh, this.scratch.subarray(0, len), this.base + off)) return;
      }
      await this.put(view, off);
    })();
    this.used[this.which] = len;
    this.which ^= 1;
    this.buf = this.bufs[this.which]!;
    // Only the part an earlier use wrote: a buffer never used is zero already, and zeroing all
    // 8 MiB of it would touch every page (~60 ms of page faults for a small ESP's one flush).
    this.buf.fill(0, 0, this.used[this.which]);
    this.used[this.which] = 0;
    this.bufDisk += len;
    this.fill = 0;
  }

  async finish(): Promise<void> {
    await this.flush();
    await this.pending;
  }
}

async function streamData(
  fh: FileHandle,
  layout: Layout,
  dataOff: number,
  cs: number,
  put: Put,
  base: number,
  progress?: (p: FormatProgress) => void,
): Promise<void> {
  const segs = layout.segments;
  if (segs.length === 0) return;
  const diskOf = (s: Segment): number => dataOff + (s.cluster - 2) * cs;
  const out = new DataStream(fh, put, base, diskOf(segs[0]!));
  const report = (): void => progress?.({ files: out.files, bytes: out.bytes, totalFiles: layout.files, totalBytes: layout.bytes });
  for (let si = 0; si < segs.length; si++) {
    const seg = segs[si]!;
    if (isSmallHost(seg) && diskOf(seg) === out.next) {
      const batch = await readSmallFiles(out, segs, si, diskOf, cs);
      if (batch.count > 1) {
        report();
        si += batch.count - 1;
        await out.advance(batch.length);
        continue;
      }
    }
    if (diskOf(seg) !== out.next) throw new WriteError('internal error: data segments are not contiguous');
    if (seg.kind === 'dir') {
      await copyBytes(out, seg.bytes, seg.bytes.length);
      continue;
    }
    const total = seg.clusters * cs;
    if (seg.source.kind === 'bytes') {
      if (seg.source.data.length !== seg.size) throw new WriteError(`${seg.path}: in-memory file has ${seg.source.data.length} bytes, expected ${seg.size}`, seg.path);
      await copyBytes(out, seg.source.data, total);
    } else {
      await copySource(out, seg, seg.source, total);
    }
    out.files++;
    out.bytes += seg.size;
    report();
  }
  await out.finish();
}

/**
 * A run of small host files from `segs[first]` on that are contiguous and fit the rest of the
 * buffer: read concurrently into place. Reads nothing unless the run has two files or more;
 * returns how many segments it took and how many buffer bytes they fill (not yet advanced).
 */
async function readSmallFiles(out: DataStream, segs: Segment[], first: number, diskOf: (s: Segment) => number, cs: number): Promise<{ count: number; length: number }> {
  const batch: { s: FileSegment; at: number }[] = [];
  let at = out.fill;
  for (let j = first; j < segs.length; j++) {
    const t = segs[j]!;
    if (!isSmallHost(t) || at + t.clusters * cs > BUF || diskOf(t) !== out.bufDisk + at) break;
    batch.push({ s: t, at });
    at += t.clusters * cs;
  }
  if (batch.length <= 1) return { count: batch.length, length: 0 };
  const target = out.buf;
  let k = 0;
  const worker = async (): Promise<void> => {
    while (k < batch.length) {
      const { s, at: o } = batch[k++]!;
      await readWhole(s, target, o);
    }
  };
  await Promise.all(Array.from({ length: Math.min(32, batch.length) }, worker));
  out.files += batch.length;
  for (const b of batch) out.bytes += b.s.size;
  return { count: batch.length, length: at - out.fill };
}

/** `total` bytes of the stream from memory: `data`, then zeros. */
async function copyBytes(out: DataStream, data: Uint8Array, total: number): Promise<void> {
  let o = 0;
  while (o < total) {
    const n = Math.min(total - o, BUF - out.fill);
    if (o < data.length) out.buf.set(data.subarray(o, Math.min(data.length, o + n)), out.fill);
    o += n;
    await out.advance(n);
  }
}

/** A host file or an archive member (`size` bytes from its offset in the archive, src/tree/tar.ts), then zeros to `total`. */
async function copySource(out: DataStream, seg: FileSegment, source: Exclude<FileSegment['source'], { kind: 'bytes' }>, total: number): Promise<void> {
  const src = openSource(source, seg.path);
  const base = source.kind === 'archive' ? source.offset : 0;
  try {
    const size = src.size();
    if (source.kind === 'host' && size !== seg.size) throw new WriteError(`${source.path}: file changed size while building (${seg.size} → ${size} bytes)`, seg.path);
    if (size < base + seg.size) throw new WriteError(`${source.path}: archive shrank while building`, seg.path);
    let o = 0;
    while (o < total) {
      const n = Math.min(total - o, BUF - out.fill);
      const want = Math.max(0, Math.min(n, seg.size - o));
      let got = 0;
      while (got < want) {
        const bytesRead = await src.read(out.buf, out.fill + got, want - got, base + o + got);
        if (bytesRead === 0) throw new WriteError(`${source.path}: file shrank while copying (expected ${seg.size} bytes)`, seg.path);
        got += bytesRead;
      }
      o += n;
      await out.advance(n);
    }
  } finally {
    src.close();
  }
}

async function readWhole(seg: Extract<Segment, { kind: 'file' }>, into: Buffer, at: number): Promise<void> {
  const source = seg.source as { kind: 'host'; path: string; dev?: bigint; ino?: bigint };
  const path = source.path;
  const src = openSource(source, seg.path);
  try {
    const size = src.size();
    if (size !== seg.size) throw new WriteError(`${path}: file changed size while building (${seg.size} → ${size} bytes)`, seg.path);
    let got = 0;
    while (got < seg.size) {
      const bytesRead = await src.read(into, at + got, seg.size - got, got);
      if (bytesRead === 0) throw new WriteError(`${path}: file shrank while copying`, seg.path);
      got += bytesRead;
    }
  } finally {
    src.close();
  }
}

/** A host source opened as the file that was scanned (no final symlink, same dev/ino). */
function openSource(source: { path: string; dev?: bigint; ino?: bigint }, inImage: string): SourceHandle {
  try {
    return openScannedHandle(source.path, scanIdOf(source));
  } catch (e) {
    throw new WriteError(e instanceof SourceChangedError ? e.message : `${source.path}: cannot open: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, inImage);
  }
}

/** true when the image already holds only zeros at absolute offset `pos` (cheap for holes). */
async function isZeroAt(fh: FileHandle, into: Buffer, pos: number): Promise<boolean> {
  let got = 0;
  while (got < into.length) {
    const { bytesRead } = await fh.read(into, got, into.length - got, pos + got);
    if (bytesRead === 0) {
      into.fill(0, got);
      break;
    }
    got += bytesRead;
  }
  for (let i = 0; i < into.length; i += 65536) {
    const end = Math.min(into.length, i + 65536);
    if (!into.subarray(i, end).equals(ZERO64K.subarray(0, end - i))) return false;
  }
  return true;
}
const ZERO64K = Buffer.alloc(65536);
