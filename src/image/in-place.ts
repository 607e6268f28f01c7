/**
 * Writing an existing image in place (incremental mode): through a symlink, on the same inode, so
 * mode, owner and hard links stay. Crash safety comes from the order of writes, as in
 * systemd-repart/libfdisk, not from a rename:
 *
 *   1. grow the file; zero the ranges the new layout does not keep (new partitions, discarded
 *      gaps) — only inside the old table's free space, never the tables or kept partitions;
 *   2. write the new partitions' contents; fsync;
 *   3. write the backup GPT (entry array, then header) at the (new) end; fsync;
 *   4. write the protective MBR and primary GPT; fsync.
 *
 * Until 4 the old primary GPT is intact and valid, so the disk still reads as before (libfdisk
 * and repart-ts trust the primary; a backup that differs only in its entries is ignored). During
 * 4 the primary may be torn, its CRCs fail, and the new backup from 3 is read instead. What a
 * crash can leave is described in README.md ("Existing disks").
 */
import { closeSync, fstatSync, fsyncSync, openSync, realpathSync } from 'node:fs';
import { RepartError } from '../errors.js';
import type { EncodedGpt } from '../gpt/table.js';
import { ImageFile } from './file.js';

const CHUNK = 4 * 1024 * 1024;

/** Open in-place images, rolled back on SIGINT/SIGTERM (main.ts) as temporary files are removed. */
const open = new Set<InPlaceImage>();
export function rollBackOpenImages(): void {
  for (const i of open) i.rollBack();
}

export class InPlaceImage {
  private tablesStarted = false;
  private done = false;

  private constructor(
    /** the real path behind any symlinks: formatters open it by name */
    readonly path: string,
    readonly file: ImageFile,
    readonly oldSize: bigint,
    /** the old backup GPT, restored if the run fails before the new tables are written */
    private readonly savedBackup: { offset: bigint; bytes: Uint8Array } | undefined,
  ) {}

  /** `oldBackup`: [offset, length] of the old backup entry array and header, if any. */
  static open(target: string, oldBackup?: [bigint, bigint]): InPlaceImage {
    let real: string, fd: number;
    try {
      real = realpathSync(target);
      fd = openSync(real, 'r+');
    } catch (e) {
      throw new RepartError('E_IMAGE_IO', `cannot open image for writing: ${(e as Error).message}`, { file: target }, 1, { cause: e });
    }
    const st = fstatSync(fd);
    if (!st.isFile()) {
      closeSync(fd);
      throw new RepartError('E_IMAGE_IO', 'not a regular file; repart-ts only writes image files', { file: target });
    }
    const file = new ImageFile(fd, real);
    const saved = oldBackup && { offset: oldBackup[0], bytes: file.readAt(oldBackup[0], Number(oldBackup[1])) };
    const img = new InPlaceImage(real, file, BigInt(st.size), saved);
    open.add(img);
    return img;
  }

  /** Grows (never below the size it had): the new bytes read as zero. */
  resize(size: bigint): void {
    this.file.truncate(size > this.oldSize ? size : this.oldSize);
  }

  /**
   * Zeroes [offset, offset+length) inside the old size (beyond it the file was grown and reads as
   * zero); only chunks that are not zero already are written, so holes stay holes.
   */
  zero(offset: bigint, length: bigint): void {
    let end = offset + length;
    if (end > this.oldSize) end = this.oldSize;
    const zeros = new Uint8Array(CHUNK);
    for (let pos = offset; pos < end;) {
      const n = Number(end - pos < BigInt(CHUNK) ? end - pos : BigInt(CHUNK));
      const b = this.file.readAt(pos, n);
      if (!isZero(b)) this.file.writeAt(pos, zeros.subarray(0, n));
      pos += BigInt(n);
    }
  }

  /** Steps 2–4: contents are durable before the backup table, the backup before the primary. */
  writeTables(gpt: EncodedGpt & { headOffset?: bigint }): void {
    fsyncSync(this.file.fd);
    this.tablesStarted = true;
    this.file.writeAt(gpt.tailOffset, gpt.tail);
    fsyncSync(this.file.fd);
    this.file.writeAt(gpt.headOffset ?? 0n, gpt.head);
    fsyncSync(this.file.fd);
    this.done = true;
  }

  /**
   * After a failure before the tables: the old size and the old backup GPT come back (the old
   * primary was never touched); free space the run zeroed or wrote stays so. Once the tables
   * are being written there is nothing to undo: either copy describes a consistent disk.
   */
  rollBack(): void {
    if (this.tablesStarted || this.done) return;
    this.done = true;
    try {
      if (this.savedBackup) this.file.writeAt(this.savedBackup.offset, this.savedBackup.bytes);
      this.file.truncate(this.oldSize);
      fsyncSync(this.file.fd);
    } catch { /* best effort: the primary GPT is intact either way */ }
  }

  close(): void {
    open.delete(this);
    this.file.close();
  }
}

function isZero(b: Uint8Array): boolean {
  const words = new BigUint64Array(b.buffer, b.byteOffset, b.length >>> 3);
  for (let i = 0; i < words.length; i++) if (words[i] !== 0n) return false;
  for (let i = words.length << 3; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}
