/**
 * BuildRequests from the command line's options: `buildRequest()` for library callers (name the
 * image and what differs: `buildRequest('disk.raw', { definitions: ['repart.d'], empty: 'create',
 * size: 'auto', dryRun: false })`), and `requestFromOptions()` for parsed argv plus the
 * environment systemd-repart reads (SOURCE_DATE_EPOCH, SYSTEMD_REPART_MKFS_OPTIONS_<FSTYPE>).
 */
import { parseCommandLine, type CliOptions } from '../config/cli.js';
import type { BuildRequest } from './request.js';

/** What a library caller may override; the seed may also be given as the command line spells it. */
export type RequestOverrides = Omit<Partial<BuildRequest>, 'seed'> & { seed?: BuildRequest['seed'] | string };

export function buildRequest(device: string, overrides: RequestOverrides = {}): BuildRequest {
  const { seed, ...rest } = overrides;
  // a string seed goes through --seed='s parser: a UUID, "random", or "" for the machine ID
  const parsedSeed = typeof seed === 'string' ? parseCommandLine([`--seed=${seed}`, device]).seed : seed;
  return { ...requestFromOptions(parseCommandLine([device]), {}), ...rest, ...(parsedSeed === undefined ? {} : { seed: parsedSeed }), device };
}

export function requestFromOptions(o: CliOptions, env: NodeJS.ProcessEnv): BuildRequest {
  const { help: _h, version: _v, warnings: _w, json: _j, pretty: _p, noPager: _n, noLegend: _l, quiet: _q, progress: _g, ...options } = o;
  return { ...options, sourceDateEpoch: sourceDateEpoch(env), mkfsOptions: mkfsOptionsFromEnv(env), env };
}

function sourceDateEpoch(env: NodeJS.ProcessEnv): number | undefined {
  const v = env.SOURCE_DATE_EPOCH;
  if (v === undefined || !/^[0-9]+$/.test(v)) return undefined;
  return Number(v);
}

/** SYSTEMD_REPART_MKFS_OPTIONS_<FSTYPE>, split into words, by lower-case Format= value. */
function mkfsOptionsFromEnv(env: NodeJS.ProcessEnv): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(env)) {
    const m = /^SYSTEMD_REPART_MKFS_OPTIONS_([A-Z0-9]+)$/.exec(k);
    if (m && v) out[m[1]!.toLowerCase()] = mkfsWords(v);
  }
  return out;
}

export const mkfsWords = (v: string): string[] => v.split(/[ \t\n]+/).filter((x) => x !== '');
