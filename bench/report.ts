/** Self-contained HTML report with inline SVG bar charts (no scripts, no external assets). */
import type { BenchReport } from './run.js';
import { faults, pairedRatio, summarize } from './run.js';

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const COLORS = ['#4e79a7', '#e15759', '#59a14f', '#f28e2b', '#b07aa1'];

function bars(title: string, unit: string, items: { label: string; value: number; min?: number; max?: number }[]): string {
  const W = 520, rowH = 26, left = 210;
  const top = Math.max(...items.map((i) => i.max ?? i.value), 1e-9);
  const h = items.length * rowH + 30;
  const rects = items.map((it, i) => {
    const y = 24 + i * rowH;
    const w = (it.value / top) * (W - left - 70);
    const whisker = it.min !== undefined && it.max !== undefined
      ? `<line x1="${left + (it.min / top) * (W - left - 70)}" x2="${left + (it.max / top) * (W - left - 70)}" y1="${y + 9}" y2="${y + 9}" stroke="#222" stroke-width="1.5"/>` : '';
    return `<text x="${left - 6}" y="${y + 13}" text-anchor="end" font-size="12">${esc(it.label)}</text><rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="18" fill="${COLORS[i % COLORS.length]}"/>${whisker}<text x="${left + w + 4}" y="${y + 13}" font-size="11">${it.value.toFixed(2)} ${unit}</text>`;
  }).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" font-family="sans-serif"><text x="0" y="14" font-size="13" font-weight="bold">${esc(title)}</text>${rects}</svg>`;
}

export function renderReportHtml(r: BenchReport): string {
  const sections = r.scenarios.map((s) => {
    const ok = s.builders.filter((b) => b.samples.some((x) => x.status === 0));
    const sum = ok.map((b) => ({ b, m: summarize(b) }));
    const floor = (s.floor?.readSeconds ?? 0) + (s.floor?.writeSeconds ?? 0);
    const wall = bars('wall time (median, whiskers min–max)', 's', [...sum.map(({ b, m }) => ({ label: b.builder, value: m.wallMedian, min: m.wallMin, max: m.wallMax })), ...(floor > 0 ? [{ label: 'floor', value: floor }] : [])]);
    const rss = bars('peak RSS', 'MiB', sum.map(({ b, m }) => ({ label: b.builder, value: m.maxRssMiB })));
    const cpu = bars('CPU time (user+sys, median)', 's', sum.map(({ b, m }) => ({ label: b.builder, value: m.cpuMedian })));
    const failed = s.builders.filter((b) => !ok.includes(b)).map((b) => `<p class="fail">${esc(b.builder)} failed: ${esc(b.samples[0]?.stderrTail ?? '')}</p>`).join('');
    return `<section><h2>${esc(s.scenario)}</h2><p>${esc(s.description)}; source ${(s.sourceBytes / 2 ** 20).toFixed(0)} MiB</p>${failed}${wall}${cpu}${rss}</section>`;
  }).join('\n');
  const m = r.machine;
  return `<!doctype html><html><head><meta charset="utf-8"><title>repart-ts benchmark</title>
<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}section{border-top:1px solid #ccc;padding:.5em 0}svg{margin:.3em 1em .3em 0;vertical-align:top}.fail{color:#b00}</style></head>
<body><h1>repart-ts benchmark</h1><p>${esc(r.date)} · ${esc(String(m.cpu))}, ${m.cores} cores, ${m.memoryGiB} GiB · node ${esc(String(m.node))} · reference: ${esc(String(m.reference))} · ${r.runs} run(s)${r.quick ? ' (quick)' : ''}</p>
${sections}</body></html>
`;
}

/** The README's "Performance" section, generated from a report (bench-results/bench.md). */
export function renderReportMarkdown(r: BenchReport): string {
  const m = r.machine;
  const out: string[] = [
    `Measured ${r.date.slice(0, 10)} on ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, kernel ${m.kernel}; reference: ${m.reference}.`,
    `${r.runs} run(s) per builder after a warm-up, alternating${r.quick ? ' (`--quick`: smaller trees)' : ''}. Wall times are medians (min–max); paired = the median of run i's ratios.`,
    '',
    '| scenario | builder | wall s | CPU s | peak RSS MiB | page faults | image MiB (allocated) | repart-ts / this (paired) | × floor |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const s of r.scenarios) {
    const base = s.builders[0] && s.builders[0].samples.some((x) => x.status === 0) ? summarize(s.builders[0]) : undefined;
    const floor = (s.floor?.readSeconds ?? 0) + (s.floor?.writeSeconds ?? 0);
    for (const b of s.builders) {
      if (!b.samples.some((x) => x.status === 0)) { out.push(`| ${s.scenario} | ${b.builder} | failed | | | | | | |`); continue; }
      const x = summarize(b);
      const p = base && b !== s.builders[0] ? pairedRatio(s.builders[0]!, b) : undefined;
      const ratio = base && b !== s.builders[0] ? (base.wallMedian / x.wallMedian).toFixed(2) + (p === undefined ? '' : ` (${p.toFixed(2)})`) : '';
      out.push(`| ${s.scenario} | ${b.builder} | ${x.wallMedian.toFixed(2)} (${x.wallMin.toFixed(2)}–${x.wallMax.toFixed(2)}) | ${x.cpuMedian.toFixed(2)} | ${x.maxRssMiB.toFixed(0)} | ${faults(x.faultsMedian)} | ${(x.imageBytes / 2 ** 20).toFixed(0)} (${(x.allocatedBytes / 2 ** 20).toFixed(0)}) | ${ratio} | ${floor > 0 ? (x.wallMedian / floor).toFixed(1) : ''} |`);
    }
    if (floor > 0) out.push(`| ${s.scenario} | floor: read sources + write image | ${floor.toFixed(2)} | | | | | | |`);
  }
  return out.join('\n') + '\n';
}
