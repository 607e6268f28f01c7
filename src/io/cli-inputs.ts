/**
 * The small files named on the command line (--key-file=, --private-key=, --certificate=), read
 * once before any work, as systemd-repart reads them while parsing its arguments: /dev/zero, a
 * FIFO or a huge file is refused at once, not after every partition has been formatted.
 */
import { KEY_FILE_MAX, PEM_MAX, readSmallFile } from './read-small.js';

export interface CliInputs {
  keyFile?: Buffer;
  privateKey?: Buffer;
  certificate?: Buffer;
}

export function readCliInputs(o: { keyFile?: string; privateKey?: string; certificate?: string }): CliInputs {
  return {
    keyFile: o.keyFile ? readSmallFile(o.keyFile, { what: '--key-file=', max: KEY_FILE_MAX, streams: true }) : undefined,
    privateKey: o.privateKey ? readSmallFile(o.privateKey, { what: '--private-key=', max: PEM_MAX, streams: true }) : undefined,
    certificate: o.certificate ? readSmallFile(o.certificate, { what: '--certificate=', max: PEM_MAX, streams: true }) : undefined,
  };
}

/** Stage "command-line inputs": the first stage, so that a bad key file fails before any work. */
export const commandLineInputsStage = {
  name: 'command-line inputs',
  run(ctx: { request: { keyFile?: string; privateKey?: string; certificate?: string }; inputs?: CliInputs }): void {
    ctx.inputs = readCliInputs(ctx.request);
  },
};
