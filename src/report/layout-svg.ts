/**
 * A self-contained SVG picture of the partition layout (--layout-svg FILE): one bar, each
 * partition and gap proportional to its size (with a minimum width so small ones stay
 * visible), labels and sizes below.
 */
import { fmtBytes } from '../plan/allocate.js';
import type { Plan } from '../plan/plan.js';

const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

interface Seg { kind: 'meta' | 'part' | 'pad' | 'free'; start: bigint; size: bigint; title: string; color: string; sub?: string }

export function layoutSegments(plan: Plan): Seg[] {
  const segs: Seg[] = [];
  const ss = BigInt(plan.geometry.sectorSize);
  const live = plan.partitions.filter((p) => !p.dropped).sort((a, b) => (a.offset < b.offset ? -1 : 1));
  let cursor = 0n;
  const firstData = plan.geometry.firstUsableLba * ss;
  segs.push({ kind: 'meta', start: 0n, size: firstData, title: 'GPT', color: '#555' });
  cursor = firstData;
  live.forEach((p, i) => {
    if (p.offset > cursor) segs.push({ kind: 'free', start: cursor, size: p.offset - cursor, title: 'free', color: '#eee' });
    segs.push({ kind: 'part', start: p.offset, size: p.size, title: p.label || p.type.name, sub: `${p.type.name} · ${fmtBytes(p.size)}`, color: PALETTE[i % PALETTE.length]! });
    cursor = p.offset + p.size;
    if (p.padding > 0n) {
      segs.push({ kind: 'pad', start: cursor, size: p.padding, title: 'padding', color: '#ddd' });
      cursor += p.padding;
    }
  });
  const tailStart = (plan.geometry.lastUsableLba + 1n) * ss;
  if (tailStart > cursor) segs.push({ kind: 'free', start: cursor, size: tailStart - cursor, title: 'free', color: '#eee' });
  segs.push({ kind: 'meta', start: tailStart, size: plan.imageSize - tailStart, title: 'GPT', color: '#555' });
  return segs;
}

export function renderLayoutSvg(plan: Plan, title = 'partition layout'): string {
  const segs = layoutSegments(plan);
  const W = 960, barY = 40, barH = 48, minW = 6;
  const total = Number(plan.imageSize);
  // proportional widths with a floor, then scaled back to the bar width
  const raw = segs.map((s) => Math.max(minW, (Number(s.size) / total) * W));
  const scale = W / raw.reduce((a, b) => a + b, 0);
  let x = 20;
  const parts: string[] = [];
  const labels: string[] = [];
  segs.forEach((s, i) => {
    const w = raw[i]! * scale;
    parts.push(`<rect x="${x.toFixed(2)}" y="${barY}" width="${w.toFixed(2)}" height="${barH}" fill="${s.color}" stroke="#fff" stroke-width="1"><title>${esc(`${s.title}: offset ${s.start}, ${s.size} bytes`)}</title></rect>`);
    if (s.kind === 'part') labels.push(`<line x1="${(x + w / 2).toFixed(2)}" y1="${barY + barH}" x2="${(x + w / 2).toFixed(2)}" y2="${barY + barH + 10 + labels.length * 0}" stroke="#888"/>` +
      `<text x="${(x + w / 2).toFixed(2)}" y="${barY + barH + 24 + (labels.length % 2) * 30}" text-anchor="middle" font-size="12">${esc(s.title)}</text>` +
      `<text x="${(x + w / 2).toFixed(2)}" y="${barY + barH + 38 + (labels.length % 2) * 30}" text-anchor="middle" font-size="10" fill="#555">${esc(s.sub ?? '')}</text>`);
    x += w;
  });
  const h = barY + barH + 90;
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${W + 40}" height="${h}" viewBox="0 0 ${W + 40} ${h}" font-family="sans-serif">
<text x="20" y="24" font-size="14" font-weight="bold">${esc(title)} — ${esc(fmtBytes(plan.imageSize))} (${plan.imageSize} bytes), ${plan.geometry.sectorSize}-byte sectors</text>
${parts.join('\n')}
${labels.join('\n')}
</svg>
`;
}
