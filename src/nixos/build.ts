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
import { run, type Io, type RunHooks } from '../cli/run.js';
import { builderArgs, checkSources, definitionText, imageBaseName, parseNixosConfig, type NixosImageConfig } from './config.js';
import { compressOutputs } from '../compress/index.js';
import { formatJson, type JsonValue } from '../report/json.js';

export interface BuildOptions {
  config: string;
  outDir: string;
  /** repart-ts options put before the builder's command line (--compat=, --quiet, --no-progress) */
  repartOptions?: string[];
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

export async function buildNixosImage(o: BuildOptions, io: Io, hooks: RunHooks = {}): Promise<number> {
  const cfg = parseNixosConfig(o.config);
  const outDir = path.resolve(o.outDir);
  const base = imageBaseName(cfg);
  refuseExistingOutputs(cfg, outDir, base);
  // every source (contents, store paths) is checked before the output directory is made
  checkSources(cfg);
  try {
    mkdirSync(outDir, { recursive: true });
  } catch (e) {
    throw new RepartError('E_IMAGE_IO', `cannot create output directory: ${(e as Error).message}`, { file: outDir });
  }
  const image = path.join(outDir, `${base}.raw`);
  const defs = mkdtempSync(path.join(os.tmpdir(), 'repart-ts-defs-'));
  try {
    const writeDefinitions = () => {
      for (const [pname, p] of cfg.partitions) writeFileSync(path.join(defs, `${pname}.conf`), definitionText(cfg, pname, p));
    };
    writeDefinitions();
    const env = { ...io.env };
    for (const [fs, opts] of Object.entries(cfg.mkfsOptions)) env[`SYSTEMD_REPART_MKFS_OPTIONS_${fs.toUpperCase()}`] = opts.join(' ');
    const args = [...(o.repartOptions ?? []), ...builderArgs(cfg, defs, image, cfg.architecture ?? nativeArchitecture())];
    const origins = jsonOrigins(cfg, defs);
    const repart = async (argv: string[], echo: boolean): Promise<{ code: number; json: string }> => {
      let json = '';
      const code = await run(argv, {
        ...io, env, stdout: (s) => { json += s; if (echo) io.stdout(s); }, stderr: (s) => io.stderr(origins(s)),
      }, { ...hooks, mapOwnersToRoot: cfg.mapOwnersToRoot, dedupe: cfg.dedupe });
      return { code, json };
    };

    let json: string;
    if (cfg.verityStore) {
      // As repart-verity-store.nix: an intermediate image without the ESP gives the store's root
      // hash; the UKI is built with usrhash=; the same image is run again to add the ESP.
      const vs = cfg.verityStore;
      const first = await repart([...args.filter((a) => !a.startsWith('--split=')), '--split=false', `--defer-partitions=esp`], false);
      if (first.code !== 0) return first.code;
      const rows = JSON.parse(first.json) as { type: string; uuid: string; roothash?: string | null }[];
      const usrhash = rows.find((r) => /^usr-.*-verity$/.test(r.type))?.roothash;
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
        const second = await repart(args.filter((a) => a !== '--empty=create'), false);
        if (second.code !== 0) return second.code;
        finished = true;
        // as the module does: the final rows, with the root hashes the first run reported
        // (the second run only knows them as "TBD"), ordered by offset
        const hashes = new Map(rows.filter((r) => r.roothash != null).map((r) => [r.uuid, r.roothash!]));
        const merged = (JSON.parse(second.json) as Record<string, JsonValue>[])
          .map((r) => (hashes.has(r.uuid as string) ? { ...r, roothash: hashes.get(r.uuid as string)! } : r))
          .sort((a, b) => Number(a.offset) - Number(b.offset));
        json = formatJson(merged, 'pretty') + '\n';
        io.stdout(json);
      } finally {
        rmSync(ukiDir, { recursive: true, force: true });
        // no half-made output: the intermediate image goes if the final one was not made
        if (!finished) rmSync(image, { force: true });
      }
    } else {
      const r = await repart(args, true);
      if (r.code !== 0) return r.code;
      json = r.json;
    }
    writeFileSync(path.join(outDir, 'repart-output.json'), json);
    if (cfg.compression.enable) {
      // as nixpkgs does: every image file becomes FILE.zst / FILE.xz, the original is removed
      const outputs = readdirSync(outDir).filter((f) => f === `${base}.raw` || (f.startsWith(`${base}.`) && f.endsWith('.raw'))).map((f) => path.join(outDir, f));
      await compressOutputs(outputs, { algorithm: cfg.compression.algorithm, level: cfg.compression.level });
    }
    return 0;
  } finally {
    rmSync(defs, { recursive: true, force: true });
  }
}
