/**
 * systemd's conf-parser line handling (config_parse()/parse_line()): comments, continuation
 * lines, sections, KEY=VALUE. Produces assignments; the meaning of keys lives elsewhere.
 */
import { ConfigError } from '../errors.js';

export interface Assignment {
  section: string;
  key: string;
  value: string;
  line: number;
}

export interface ParsedIni {
  assignments: Assignment[];
  warnings: string[];
}

const COMMENTS = '#;';
const LONG_LINE_MAX = 1024 * 1024;
const tooLong = (s: string): boolean => s.length > LONG_LINE_MAX / 3 && Buffer.byteLength(s, 'utf8') > LONG_LINE_MAX;

function strip(s: string): string {
  return s.replace(/^[ \t\n\r]+|[ \t\n\r]+$/g, '');
}

/**
 * @param knownSections sections whose assignments are returned; others warn (X- prefixed: silently).
 */
export function parseIni(data: Uint8Array, file: string, knownSections: readonly string[]): ParsedIni {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    throw new ConfigError('E_CONFIG_SYNTAX', 'file is not valid UTF-8', { file });
  }
  if (text.startsWith('\ufeff')) text = text.slice(1);
  const lines = text.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();

  const out: Assignment[] = [];
  const warnings: string[] = [];
  let section: string | null = null;
  let sectionIgnored = false;
  let continuation: string | null = null;
  let contLine = 0;

  for (let idx = 0; idx < lines.length; idx++) {
    const raw = lines[idx]!.replace(/\r$/, '');
    const lineNo = idx + 1;
    // systemd reads lines of at most LONG_LINE_MAX (1 MiB) and refuses the file otherwise; its
    // message names the line before (the counter moves only after a successful read; measured)
    if (tooLong(raw)) throw new ConfigError('E_CONFIG_SYNTAX', 'Line too long', { file, line: lineNo - 1 });
    if (continuation !== null && tooLong(continuation + raw)) throw new ConfigError('E_CONFIG_SYNTAX', 'Continuation line too long', { file, line: lineNo });
    const lead = raw.replace(/^[ \t\n\r]+/, '');
    // Comment lines are dropped before continuation handling, even inside a continued line.
    if (lead.length > 0 && COMMENTS.includes(lead[0]!)) continue;

    let l = raw;
    if (continuation !== null) l = continuation + l;
    else contLine = lineNo;

    // A line ending in an unescaped backslash continues on the next one.
    let escaped = false;
    for (const c of l) escaped = escaped ? false : c === '\\';
    if (escaped) {
      continuation = l.slice(0, -1) + ' ';
      continue;
    }
    continuation = null;

    const t = strip(l);
    if (t === '') continue;
    if (t[0] === '[') {
      if (t[t.length - 1] !== ']') throw new ConfigError('E_CONFIG_SYNTAX', `invalid section header '${t}'`, { file, line: contLine });
      const name = t.slice(1, -1);
      section = name;
      sectionIgnored = !knownSections.includes(name);
      if (sectionIgnored && !name.startsWith('X-')) warnings.push(`${file}:${contLine}: unknown section '${name}', ignoring`);
      continue;
    }
    if (section === null) {
      warnings.push(`${file}:${contLine}: assignment outside of section, ignoring`);
      continue;
    }
    if (sectionIgnored) continue;
    const eq = t.indexOf('=');
    if (eq < 0) {
      warnings.push(`${file}:${contLine}: missing '=', ignoring line`);
      continue;
    }
    out.push({ section, key: strip(t.slice(0, eq)), value: strip(t.slice(eq + 1)), line: contLine });
  }
  if (continuation !== null) {
    const t = strip(continuation);
    if (t !== '' && section !== null && !sectionIgnored) {
      const eq = t.indexOf('=');
      if (eq >= 0) out.push({ section, key: strip(t.slice(0, eq)), value: strip(t.slice(eq + 1)), line: contLine });
    }
  }
  return { assignments: out, warnings };
}
