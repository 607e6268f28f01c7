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
import { openScannedHandle, SourceChangedError, type SourceHandle } from '../../io/open-verified.js';

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

async function streamData(
  fh: FileHandle,
  layout: Layout,
  dataOff: number,
  cs: number,
  put: (b: Uint8Array, off: number) => Promise<void>,
  base: number,
  progress?: (p: FormatProgress) => void,
): Promise<void> {
  const segs = layout.segments;
  if (segs.length === 0) return;
  const bufs = [Buffer.alloc(BUF), Buffer.alloc(BUF)];
  const zero = Buffer.alloc(BUF);
  const scratch = Buffer.alloc(BUF);
  let which = 0;
  let buf = bufs[0]!;
  let fill = 0;
  let bufDisk = dataOff + (segs[0]!.cluster - 2) * cs;
  let pending: Promise<void> = Promise.resolve();
  let files = 0;
  let bytes = 0;

  const flush = async (): Promise<void> => {
    if (fill === 0) return;
    const len = fill;
    const b = buf;
    const off = bufDisk;
    await pending;
    pending = (async () => {
      const view = b.subarray(0, len);
      if (view.equals(zero.subarray(0, len))) {
        // skip writing zeros over zeros (keeps sparse sources sparse in the image)
        if (await isZeroAt(fh, scratch.subarray(0, len), base + off)) return;
      }
      await put(view, off);
    })();
    which ^= 1;
    buf = bufs[which]!;
    buf.fill(0);
    bufDisk += len;
    fill = 0;
  };

  const SMALL = 1 << 20;
  const isSmallHost = (s: Segment): s is Extract<Segment, { kind: 'file' }> => s.kind === 'file' && s.source.kind === 'host' && s.size <= SMALL;
  for (let si = 0; si < segs.length; si++) {
    const seg = segs[si]!;
    const segDisk = dataOff + (seg.cluster - 2) * cs;
    if (isSmallHost(seg) && segDisk === bufDisk + fill) {
      // a run of small files that fits the buffer: read them concurrently into place
      const batch: { s: Extract<Segment, { kind: 'file' }>; at: number }[] = [];
      let at = fill;
      for (let j = si; j < segs.length; j++) {
        const t = segs[j]!;
        if (!isSmallHost(t) || at + t.clusters * cs > BUF || dataOff + (t.cluster - 2) * cs !== bufDisk + at) break;
        batch.push({ s: t, at });
        at += t.clusters * cs;
      }
      if (batch.length > 1) {
        const target = buf;
        let k = 0;
        const worker = async (): Promise<void> => {
          while (k < batch.length) {
            const { s, at: o } = batch[k++]!;
            await readWhole(s, target, o);
          }
        };
        await Promise.all(Array.from({ length: Math.min(32, batch.length) }, worker));
        fill = at;
        files += batch.length;
        for (const b of batch) bytes += b.s.size;
        progress?.({ files, bytes, totalFiles: layout.files, totalBytes: layout.bytes });
        si += batch.length - 1;
        if (fill === BUF) await flush();
        continue;
      }
    }
    if (segDisk !== bufDisk + fill) throw new WriteError('internal error: data segments are not contiguous');
    if (seg.kind === 'dir') {
      let o = 0;
      while (o < seg.bytes.length) {
        const n = Math.min(seg.bytes.length - o, BUF - fill);
        buf.set(seg.bytes.subarray(o, o + n), fill);
        fill += n;
        o += n;
        if (fill === BUF) await flush();
      }
      continue;
    }
    const total = seg.clusters * cs;
    if (seg.source.kind === 'bytes') {
      const data = seg.source.data;
      if (data.length !== seg.size) throw new WriteError(`${seg.path}: in-memory file has ${data.length} bytes, expected ${seg.size}`, seg.path);
      let o = 0;
      while (o < total) {
        const n = Math.min(total - o, BUF - fill);
        if (o < data.length) buf.set(data.subarray(o, Math.min(data.length, o + n)), fill);
        fill += n;
        o += n;
        if (fill === BUF) await flush();
      }
    } else {
      const src = openSource(seg.source, seg.path);
      // an archive member (src/tree/tar.ts) is `size` bytes from its offset in the archive
      const base = seg.source.kind === 'archive' ? seg.source.offset : 0;
      try {
        const size = src.size();
        if (seg.source.kind === 'host' && size !== seg.size) throw new WriteError(`${seg.source.path}: file changed size while building (${seg.size} → ${size} bytes)`, seg.path);
        if (size < base + seg.size) throw new WriteError(`${seg.source.path}: archive shrank while building`, seg.path);
        let o = 0;
        while (o < total) {
          const n = Math.min(total - o, BUF - fill);
          const want = Math.max(0, Math.min(n, seg.size - o));
          let got = 0;
          while (got < want) {
            const bytesRead = await src.read(buf, fill + got, want - got, base + o + got);
            if (bytesRead === 0) throw new WriteError(`${seg.source.path}: file shrank while copying (expected ${seg.size} bytes)`, seg.path);
            got += bytesRead;
          }
          fill += n;
          o += n;
          if (fill === BUF) await flush();
        }
      } finally {
        src.close();
      }
    }
    files++;
    bytes += seg.size;
    progress?.({ files, bytes, totalFiles: layout.files, totalBytes: layout.bytes });
  }
  await flush();
  await pending;
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
    return openScannedHandle(source.path, source.dev !== undefined && source.ino !== undefined ? { dev: source.dev, ino: source.ino } : undefined);
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
