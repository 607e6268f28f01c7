/**
 * `repart-ts build CONFIG.json [--out DIR]`: the NixOS image.repart flow without Nix. Writes the
 * definitions nixpkgs would write (text only; file contents are read in place by the tree),
 * runs the same command line as nixpkgs' builder, keeps its JSON as repart-output.json, names
 * outputs as the module does and compresses them when asked.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RepartError } from '../errors.js';
import { nativeArchitecture } from '../gpt/types.js';
import { parseCommandLine } from '../config/cli.js';
import { buildImage } from '../build/build-image.js';
import { mkfsWords, requestFromOptions } from '../build/defaults.js';
import type { BuildRequest, BuildResult, Formatter, ProgressSink } from '../build/request.js';
import { builderArgs, checkSources, definitionText, imageBaseName, parseNixosConfig, type NixosImageConfig } from './config.js';
import { compressOutputs } from '../compress/index.js';
import { formatJson, partitionsJson, type PartitionRow } from '../report/json.js';

export interface NixosBuildOptions {
  config: string;
  outDir: string;
  /** repart-ts options put before the builder's command line (--compat=, --quiet, --no-progress) */
  repartOptions?: string[];
  /** the environment systemd-repart and the UKI command would see (default: process.env) */
  env?: NodeJS.ProcessEnv;
  formatter?: Formatter;
  onWarning?: (message: string) => void;
  /** progress of formatting (given the parsed options, to honour --no-progress) */
  progress?: (enabled: boolean) => ProgressSink;
}

export interface NixosBuildResult {
  /** the image (before compression) */
  image: string;
  /** the final listing, as written to repart-output.json */
  rows: PartitionRow[];
  json: string;
  /** root hashes by partition label (the verityStore flow: from its first build) */
  rootHashes: Record<string, string>;
  warnings: string[];
}

/** One build of the image with the builder's command line (and extra arguments). */
async function buildOnce(cfg: NixosImageConfig, o: NixosBuildOptions, argv: string[]): Promise<{ result: BuildResult; compat: number }> {
  const env = o.env ?? process.env;
  const opts = parseCommandLine(argv);
  const warn = (m: string) => { if (!opts.quiet) o.onWarning?.(m); };
  opts.warnings.forEach(warn);
  const base = requestFromOptions(opts, env);
  const mkfsOptions = { ...base.mkfsOptions };
  for (const [fs, words] of Object.entries(cfg.mkfsOptions)) mkfsOptions[fs] = mkfsWords(words.join(' '));
  const request: BuildRequest = {
    ...base, mkfsOptions, formatter: o.formatter, onWarning: warn, progress: o.progress?.(opts.progress),
    mapOwnersToRoot: cfg.mapOwnersToRoot, dedupe: cfg.dedupe,
  };
  return { result: await buildImage(request), compat: opts.compat };
}

const jsonOf = (rows: PartitionRow[], compat: number) => formatJson(partitionsJson(rows, compat), 'pretty') + '\n';

/**
 * As repart-verity-store.nix: an intermediate image without the ESP gives the store's root hash;
 * the UKI is built with usrhash=; the same image is built again to add the ESP. The final rows
 * carry the root hashes of the first build (the second only knows them as "TBD").
 */
async function verityStoreFlow(cfg: NixosImageConfig, o: NixosBuildOptions, args: string[], writeDefinitions: () => void, image: string): Promise<NixosBuildResult> {
  const vs = cfg.verityStore!;
  const env = o.env ?? process.env;
  const first = await buildOnce(cfg, o, [...args.filter((a) => !a.startsWith('--split=')), '--split=false', '--defer-partitions=esp']);
  const storeRow = first.result.rows.find((r) => /^usr-.*-verity$/.test(r.type));
  const usrhash = storeRow && first.result.rootHashes[storeRow.label];
  if (!usrhash || !/^[0-9a-f]{64}$/.test(usrhash))
    throw new RepartError('E_VERITY', 'the intermediate image reports no root hash for the store', { file: cfg.file });
  const ukiDir = mkdtempSync(path.join(os.tmpdir(), 'repart-ts-uki-'));
  let finished = false;
  try {
    const uki = path.join(ukiDir, path.basename(vs.ukiPath));
    const fill = (a: string) => a.replaceAll('@usrhash@', usrhash).replaceAll('@out@', uki);
    const [cmd, ...cmdArgs] = vs.ukiCommand.map(fill);
    const r = spawnSync(cmd!, cmdArgs, { cwd: path.dirname(path.resolve(cfg.file)), env: { ...env, USRHASH: usrhash, UKI_OUT: uki }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.error || r.status !== 0 || !existsSync(uki))
      throw new RepartError('E_SOURCE', `verityStore.ukiCommand failed (${r.error?.message ?? (r.status !== 0 ? `exit ${r.status}` : `no file at ${uki}`)}): ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' / ')}`, { file: cfg.file });
    cfg.partitions.find(([n]) => n === vs.partitionIds.esp)![1].contents.push({ target: vs.ukiPath, source: uki });
    writeDefinitions();
    const second = await buildOnce(cfg, o, args.filter((a) => a !== '--empty=create'));
    finished = true;
    const hashes = new Map(first.result.rows.filter((r) => r.roothash != null).map((r) => [r.uuid, r.roothash!]));
    const rows = second.result.rows
      .map((r) => (hashes.has(r.uuid) ? { ...r, roothash: hashes.get(r.uuid)! } : r))
      .sort((a, b) => Number(a.offset) - Number(b.offset));
    return { image, rows, json: jsonOf(rows, second.compat), rootHashes: first.result.rootHashes, warnings: [...first.result.warnings, ...second.result.warnings] };
  } finally {
    rmSync(ukiDir, { recursive: true, force: true });
    // no half-made output: the intermediate image goes if the final one was not made
    if (!finished) rmSync(image, { force: true });
  }
}

/**
 * Messages about the generated definitions in the terms of the JSON: `DEFS/esp.conf:3` (a file
 * deleted when the build ends) becomes `partitions.esp.repartConfig.Foo`, the line's origin.
 */
export function jsonOrigins(cfg: NixosImageConfig, defs: string): (s: string) => string {
  const lines = new Map<string, string[]>();
  for (const [pname, p] of cfg.partitions) {
    const at = `partitions.${pname}`;
    // definitionText's order: [Partition], repartConfig, contents, store paths
    lines.set(pname, [at, ...p.repartConfig.map(([k]) => `${at}.repartConfig.${k}`), ...p.contents.map((c) => `${at}.contents.${JSON.stringify(c.target)}`)]);
  }
  const esc = defs.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = new RegExp(`${esc}/([^/:\\s]+)\\.conf(?::(\\d+))?(?::\\s*([A-Za-z]+)=:)?`, 'g');
  return (s: string) => s.replace(re, (all, name: string, line?: string, key?: string) => {
    const l = lines.get(name);
    if (!l) return all;
    const origin = line === undefined ? l[0]! : l[Number(line) - 1] ?? `partitions.${name}.storePaths`;
    // "file:3: Foo=:" → "partitions.x.repartConfig.Foo:" (the key is in the path already)
    return key !== undefined && origin.endsWith(`.${key}`) ? `${origin}:` : key !== undefined ? `${origin}: ${key}=:` : origin;
  }).replaceAll(defs, '(definitions generated from the JSON)');
}

/** A second build into the same --out: say so in build's terms before anything is written. */
function refuseExistingOutputs(cfg: NixosImageConfig, outDir: string, base: string): void {
  let names: string[];
  try {
    names = readdirSync(outDir);
  } catch {
    return;
  }
  const re = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\..+)?\\.raw(\\.(zst|xz))?$`);
  const found = names.filter((n) => re.test(n)).sort();
  if (found.length === 0) return;
  throw new RepartError('E_IMAGE_EXISTS',
    `${path.join(outDir, found[0]!)}${found.length > 1 ? ` (and ${found.length - 1} more)` : ''} already exists from an earlier build: remove ${found.length > 1 ? 'them' : 'it'}, or build into another --out directory`,
    { file: cfg.file });
}

/** Builds a NixOS image.repart description into `outDir` (image, split files, repart-output.json). */
export async function buildNixosImage(o: NixosBuildOptions): Promise<NixosBuildResult> {
  const cfg = parseNixosConfig(o.config);
  const outDir = path.resolve(o.outDir);
  refuseExistingOutputs(cfg, outDir, imageBaseName(cfg));
  // every source (contents, store paths) is checked before the output directory is made
  checkSources(cfg);
  try {
    mkdirSync(outDir, { recursive: true });
  } catch (e) {
    throw new RepartError('E_IMAGE_IO', `cannot create output directory: ${(e as Error).message}`, { file: outDir });
  }
  const base = imageBaseName(cfg);
  const image = path.join(outDir, `${base}.raw`);
  const defs = mkdtempSync(path.join(os.tmpdir(), 'repart-ts-defs-'));
  try {
    const writeDefinitions = () => {
      for (const [pname, p] of cfg.partitions) writeFileSync(path.join(defs, `${pname}.conf`), definitionText(cfg, pname, p));
    };
    writeDefinitions();
    const args = [...(o.repartOptions ?? []), ...builderArgs(cfg, defs, image, cfg.architecture ?? nativeArchitecture())];
    // warnings and errors about the generated definitions name the JSON instead
    const origins = jsonOrigins(cfg, defs);
    const oj: NixosBuildOptions = { ...o, onWarning: (m) => o.onWarning?.(origins(m)) };
    let out: NixosBuildResult;
    try {
      if (cfg.verityStore) out = await verityStoreFlow(cfg, oj, args, writeDefinitions, image);
      else {
        const { result, compat } = await buildOnce(cfg, oj, args);
        out = { image, rows: result.rows, json: jsonOf(result.rows, compat), rootHashes: result.rootHashes, warnings: result.warnings.map(origins) };
      }
    } catch (e) {
      // a presentation rewrite, not a decision on the kind of error: an error whose text names a
      // generated definition is re-worded to name the JSON instead; the others pass unchanged
      const named = e instanceof RepartError ? origins(e.message) : undefined;
      if (e instanceof RepartError && named !== e.message) throw new RepartError(e.code, named!, {}, e.exitCode, { cause: e });
      throw e;
    }
    writeFileSync(path.join(outDir, 'repart-output.json'), out.json);
    if (cfg.compression.enable) {
      // as nixpkgs does: every image file becomes FILE.zst / FILE.xz, the original is removed
      const outputs = readdirSync(outDir).filter((f) => f === `${base}.raw` || (f.startsWith(`${base}.`) && f.endsWith('.raw'))).map((f) => path.join(outDir, f));
      await compressOutputs(outputs, { algorithm: cfg.compression.algorithm, level: cfg.compression.level });
    }
    return out;
  } finally {
    rmSync(defs, { recursive: true, force: true });
  }
}
