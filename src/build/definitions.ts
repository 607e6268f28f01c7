/**
 * Stage "read definitions": --copy-from= images' partitions first, then the repart.d files.
 * Writes: ctx.definitions.
 */
import path from 'node:path';
import { BUILTIN_DEFINITIONS, SYSTEMD_DEFINITIONS } from '../config/cli.js';
import { DEFAULT_DEFINITION_DIRS, readDefinitions } from '../config/load.js';
import { FORMAT_FACTS } from '../fs/facts.js';
import { SUPPORTED_FORMATS } from '../fs/registry.js';
import type { PartitionDefinition } from '../config/definition.js';
import type { BuildContext, Stage } from './context.js';
import { hostPathIn } from '../tree/chase.js';

export const readDefinitionsStage: Stage = {
  name: 'read definitions',
  async run(ctx: BuildContext) {
    const o = ctx.request;
    // --definitions= (empty) alone: no definitions at all, not the default directories
    const dirs = o.definitions.length > 0 || o.definitionsGiven ? o.definitions : DEFAULT_DEFINITION_DIRS.map((d) => hostPathIn(o.root, d));
    const filter = o.include ? { mode: 'include' as const, types: o.include } : o.exclude ? { mode: 'exclude' as const, types: o.exclude } : undefined;
    const copied: PartitionDefinition[] = [];
    if (o.copyFrom.length > 0) {
      const { definitionsFromImage } = await import('../config/copy-from.js');
      for (const img of o.copyFrom) copied.push(...await definitionsFromImage(img, ctx.compat.version, filter));
    }
    ctx.definitions = [...copied, ...readDefinitions(dirs, {
      compat: ctx.compat.version,
      architecture: o.architecture,
      specifiers: { root: o.root },
      root: o.definitions.length > 0 ? undefined : o.root,
      warn: ctx.warn,
      supportedFormats: SUPPORTED_FORMATS,
      minimizable: new Set(Object.keys(FORMAT_FACTS).filter((f) => FORMAT_FACTS[f]!.minimizable)),
      filter,
    })];
    // --make-ddi: our copies of systemd's built-in definitions go by systemd's own paths
    const rename = (f: string) => (f.startsWith(BUILTIN_DEFINITIONS + path.sep) ? SYSTEMD_DEFINITIONS + f.slice(BUILTIN_DEFINITIONS.length) : f);
    for (const d of ctx.definitions) {
      d.file = rename(d.file);
      d.dropIns = d.dropIns.map(rename);
      for (const w of Object.values(d.where)) if (w?.file) w.file = rename(w.file);
    }
  },
};
