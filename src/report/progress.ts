/**
 * Progress of long work, one line per partition: a bar with files, bytes, rate and ETA on a
 * terminal (redrawn in place, at most 10 times a second), plain periodic lines otherwise.
 * Always on stderr: stdout carries the JSON.
 */
import { fmtBytes } from '../plan/allocate.js';
import type { FormatProgress } from '../fs/driver.js';

interface Row { label: string; p: FormatProgress; started: number; done: boolean; lastLine: number }

export class ProgressReporter {
  private rows = new Map<string, Row>();
  private drawn = 0;
  private lastDraw = 0;

  constructor(private readonly write: (s: string) => void, private readonly tty: boolean, private readonly enabled: boolean,
    private readonly now: () => number = () => Date.now(), private readonly plainEveryMs = 5000) {}

  start(id: string, label: string): void {
    if (!this.enabled) return;
    this.rows.set(id, { label, p: { files: 0, bytes: 0, totalFiles: 0, totalBytes: 0 }, started: this.now(), done: false, lastLine: this.now() });
    if (!this.tty) this.write(`${label}: formatting…\n`);
    this.draw(true);
  }

  update(id: string, p: FormatProgress): void {
    const r = this.rows.get(id);
    if (!r) return;
    r.p = p;
    if (!this.tty && this.now() - r.lastLine >= this.plainEveryMs) {
      r.lastLine = this.now();
      this.write(`${r.label}: ${this.describe(r)}\n`);
    }
    this.draw(false);
  }

  finish(id: string): void {
    const r = this.rows.get(id);
    if (!r) return;
    r.done = true;
    if (!this.tty) this.write(`${r.label}: done, ${r.p.files} files, ${fmtBytes(BigInt(r.p.bytes))} in ${((this.now() - r.started) / 1000).toFixed(1)} s\n`);
    this.draw(true);
  }

  private describe(r: Row): string {
    const secs = Math.max((this.now() - r.started) / 1000, 1e-3);
    const rate = r.p.bytes / secs;
    const eta = rate > 0 && r.p.totalBytes > r.p.bytes ? (r.p.totalBytes - r.p.bytes) / rate : 0;
    return `${r.p.files}/${r.p.totalFiles} files, ${fmtBytes(BigInt(r.p.bytes))}/${fmtBytes(BigInt(r.p.totalBytes))}, ${fmtBytes(BigInt(Math.round(rate)))}/s` +
      (r.done ? ', done' : eta > 0 ? `, ETA ${eta.toFixed(0)} s` : '');
  }

  /** A line for one partition: label, [#####.....], numbers. */
  line(r: Row, width = 24): string {
    const frac = r.done ? 1 : r.p.totalBytes > 0 ? Math.min(1, r.p.bytes / r.p.totalBytes) : 0;
    const n = Math.round(frac * width);
    return `${r.label.padEnd(16).slice(0, 16)} [${'#'.repeat(n)}${'.'.repeat(width - n)}] ${(frac * 100).toFixed(0).padStart(3)}% ${this.describe(r)}`;
  }

  private draw(force: boolean): void {
    if (!this.tty || !this.enabled) return;
    if (!force && this.now() - this.lastDraw < 100) return;
    this.lastDraw = this.now();
    let s = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    for (const r of this.rows.values()) s += `\r\x1b[2K${this.line(r)}\n`;
    this.drawn = this.rows.size;
    this.write(s);
  }
}
