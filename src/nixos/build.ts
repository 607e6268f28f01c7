/**
 * `repart-ts build CONFIG.json [--out DIR]`: the NixOS image.repart flow without Nix. Writes the
 * definitions nixpkgs would write (text only; file contents are read in place by the tree),
 * runs the same command line as nixpkgs' builder, keeps its JSON as repart-output.json, names
 * outputs as the module does and compresses them when asked.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RepartError } from '../errors.js';
import { nativeArchitecture } from '../gpt/types.js';
import { run, type Io, type RunHooks } from '../cli/run.js';
import { builderArgs, definitionText, imageBaseName, parseNixosConfig } from './config.js';
import { compressOutputs } from '../compress/index.js';

export interface BuildOptions {
  config: string;
  outDir: string;
}

export async function buildNixosImage(o: BuildOptions, io: Io, hooks: RunHooks = {}): Promise<number> {
  const cfg = parseNixosConfig(o.config);
  const outDir = path.resolve(o.outDir);
  try {
    mkdirSync(outDir, { recursive: true });
  } catch (e) {
    throw new RepartError('E_IMAGE_IO', `cannot create output directory: ${(e as Error).message}`, { file: outDir });
  }
  const base = imageBaseName(cfg);
  const image = path.join(outDir, `${base}.raw`);
  const defs = mkdtempSync(path.join(os.tmpdir(), 'repart-ts-defs-'));
  try {
    for (const [pname, p] of cfg.partitions) writeFileSync(path.join(defs, `${pname}.conf`), definitionText(cfg, pname, p));
    const env = { ...io.env };
    for (const [fs, opts] of Object.entries(cfg.mkfsOptions)) env[`SYSTEMD_REPART_MKFS_OPTIONS_${fs.toUpperCase()}`] = opts.join(' ');
    let json = '';
    const code = await run(builderArgs(cfg, defs, image, cfg.architecture ?? nativeArchitecture()), {
      ...io, env, stdout: (s) => { json += s; io.stdout(s); },
    }, { ...hooks, mapOwnersToRoot: cfg.mapOwnersToRoot, dedupe: cfg.dedupe });
    if (code !== 0) return code;
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
