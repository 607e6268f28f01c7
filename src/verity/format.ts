/**
 * Writes a dm-verity hash device (superblock + tree) for a data area, the way repart's
 * crypt_format(CRYPT_VERITY, CRYPT_VERITY_CREATE_HASH) does: both areas are byte ranges of files
 * (usually two partition windows of the same image file).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { RepartError, FsError } from '../errors.js';
import { parseUuid, type Uuid } from '../gpt/guid.js';
import { verityLayout, checkVerityBlockSizes, type VerityLayout } from './geometry.js';
import { encodeVeritySuperblock, VERITY_MAX_SALT, type VeritySuperblock } from './superblock.js';
import { VerityTreeBuilder, type HashBlockRun } from './tree.js';

export interface FileRange {
  path: string;
  offset: number | bigint;
  /** bytes of the range; for the data area, trailing bytes short of a whole data block are not hashed (libcryptsetup: device size / block size) */
  length: number | bigint;
}

export interface VerityFormatOptions {
  dataBlockSize: number;
  hashBlockSize: number;
  /** 0..256 bytes; repart: deriveVeritySalt(seed) */
  salt: Uint8Array;
  /** superblock UUID, 16 bytes in string order or a UUID string; repart: deriveVerityUuid(seed) */
  uuid: Uuid | string;
  /** 1 = normal (repart), 0 = Chrome OS */
  hashType?: 0 | 1;
  /** write a superblock at the start of the hash area and start the tree at the next hash block (repart: yes) */
  superblock?: boolean;
  /** hash this many data blocks instead of all whole blocks of the data range */
  dataBlocks?: number;
  /**
   * Zero the hash range behind the tree. repart's hash partition is all zero there (it formats a
   * zero-filled scratch file and copies the whole partition); skip only when the range is known to
   * read as zero already (a fresh sparse image).
   */
  zeroRest?: boolean;
  /** read size, rounded down to whole data blocks (default 4 MiB) */
  chunkBytes?: number;
  onProgress?: (dataBytesDone: number, dataBytesTotal: number) => void;
}

export interface VerityFormatResult {
  rootHash: Uint8Array;
  rootHashHex: string;
  dataBlocks: number;
  /** bytes at the start of the hash range that libcryptsetup writes: superblock block + tree */
  hashBytes: number;
  layout: VerityLayout;
  superblock: VeritySuperblock | null;
}

function toSafe(v: number | bigint, what: string): number {
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (!Number.isSafeInteger(n) || n < 0) throw new RepartError('E_IMAGE_IO', `verity ${what} ${v} is out of range`);
  return n;
}

function uuidBytes(u: Uuid | string): Uuid {
  if (typeof u !== 'string') {
    if (u.length !== 16) throw new RepartError('E_CONFIG_VALUE', `verity UUID must be 16 bytes, got ${u.length}`);
    return u;
  }
  const p = parseUuid(u);
  if (!p) throw new RepartError('E_CONFIG_VALUE', `invalid verity UUID "${u}"`);
  return p;
}

async function readFully(fh: FileHandle, buf: Uint8Array, pos: number, path: string): Promise<Uint8Array> {
  let got = 0;
  while (got < buf.length) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, pos + got);
    if (bytesRead === 0) throw new RepartError('E_IMAGE_IO', `${path}: verity data ends at byte ${pos + got}, ${buf.length - got} bytes short`);
    got += bytesRead;
  }
  return buf;
}

async function writeFully(fh: FileHandle, data: Uint8Array, pos: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, pos + done);
    done += bytesWritten;
  }
}

/** Builds the hash tree of `data` and writes superblock + tree into `hash`; returns the root hash. */
export async function formatVerityHash(data: FileRange, hash: FileRange, o: VerityFormatOptions): Promise<VerityFormatResult> {
  checkVerityBlockSizes(o.dataBlockSize, o.hashBlockSize);
  if (o.salt.length > VERITY_MAX_SALT) throw new RepartError('E_CONFIG_VALUE', `verity salt is ${o.salt.length} bytes, at most ${VERITY_MAX_SALT} are supported`);
  const hashType = o.hashType ?? 1;
  const withSb = o.superblock ?? true;
  const uuid = uuidBytes(o.uuid);
  const dataOff = toSafe(data.offset, 'data offset');
  const dataLen = toSafe(data.length, 'data length');
  const hashOff = toSafe(hash.offset, 'hash offset');
  const hashLen = toSafe(hash.length, 'hash area size');
  const dbs = o.dataBlockSize;
  const hbs = o.hashBlockSize;

  const dataBlocks = o.dataBlocks ?? Math.floor(dataLen / dbs);
  if (dataBlocks * dbs > dataLen) throw new RepartError('E_IMAGE_IO', `${data.path}: ${dataBlocks} verity data blocks of ${dbs} bytes do not fit the ${dataLen}-byte data area`);
  if (dataBlocks === 0) throw new FsError('E_FS', `${data.path}: verity data area of ${dataLen} bytes holds no ${dbs}-byte block`);
  const layout = verityLayout(dataBlocks, dbs, hbs, withSb);
  if (layout.hashBytes > hashLen) {
    throw new FsError('E_FS_NO_SPACE', `Verity hash data does not fit in partition: needs ${layout.hashBytes} bytes, the hash area has ${hashLen}`);
  }

  const sb: VeritySuperblock | null = withSb
    ? { version: 1, hashType, uuid, algorithm: 'sha256', dataBlockSize: dbs, hashBlockSize: hbs, dataBlocks: BigInt(dataBlocks), salt: o.salt }
    : null;

  const dfh = await open(data.path, 'r');
  let hfh: FileHandle | undefined;
  try {
    hfh = await open(hash.path, 'r+');
    const hf = hfh;
    const writeRuns = (runs: HashBlockRun[]) => Promise.all(runs.map((r) => writeFully(hf, r.bytes, hashOff + r.block * hbs)));

    const builder = new VerityTreeBuilder(layout, o.salt, hashType);
    const chunkBlocks = Math.max(1, Math.floor((o.chunkBytes ?? 4 << 20) / dbs));
    const bufs = [new Uint8Array(chunkBlocks * dbs), new Uint8Array(chunkBlocks * dbs)];
    const total = dataBlocks * dbs;
    const readChunk = (i: number, block: number) => {
      const n = Math.min(chunkBlocks, dataBlocks - block);
      return readFully(dfh, bufs[i]!.subarray(0, n * dbs), dataOff + block * dbs, data.path);
    };
    // Double buffering: the next read runs in the thread pool while this chunk is hashed.
    let next: Promise<Uint8Array> | null = readChunk(0, 0);
    let pending: Promise<unknown> = Promise.resolve();
    for (let block = 0, i = 0; next; i ^= 1) {
      const chunk: Uint8Array = await next;
      const after = block + chunk.length / dbs;
      next = after < dataBlocks ? readChunk(i ^ 1, after) : null;
      const runs = builder.pushData(chunk);
      await pending;
      pending = writeRuns(runs);
      block = after;
      o.onProgress?.(block * dbs, total);
    }
    const { runs, rootHash } = builder.finish();
    await pending;
    await writeRuns(runs);

    if (sb) {
      const first = new Uint8Array(layout.treeStartBlock * hbs);
      first.set(encodeVeritySuperblock(sb), 0);
      await writeFully(hf, first, hashOff);
    }
    if (o.zeroRest ?? true) {
      const zeros = new Uint8Array(Math.min(4 << 20, Math.max(hashLen - layout.hashBytes, 1)));
      for (let p = layout.hashBytes; p < hashLen; p += zeros.length) {
        await writeFully(hf, zeros.subarray(0, Math.min(zeros.length, hashLen - p)), hashOff + p);
      }
    }
    return { rootHash, rootHashHex: Buffer.from(rootHash).toString('hex'), dataBlocks, hashBytes: layout.hashBytes, layout, superblock: sb };
  } catch (e) {
    if (e instanceof RepartError) throw e;
    throw new RepartError('E_IMAGE_IO', `verity hash of ${data.path} → ${hash.path}: ${(e as Error).message}`, {}, 1, { cause: e });
  } finally {
    await dfh.close();
    await hfh?.close();
  }
}

