/**
 * A BuildRequest with the command line's defaults, for library callers: name the image and what
 * differs (`buildRequest('disk.raw', { definitions: ['repart.d'], empty: 'create', size: 'auto', dryRun: false })`).
 */
import { parseCommandLine } from '../config/cli.js';
import type { BuildRequest } from './request.js';

export function buildRequest(device: string, overrides: Partial<BuildRequest> = {}): BuildRequest {
  const { help: _h, version: _v, warnings: _w, json: _j, pretty: _p, noPager: _n, noLegend: _l, quiet: _q, progress: _g, ...defaults } = parseCommandLine([device]);
  return { ...defaults, ...overrides, device };
}
