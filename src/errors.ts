/**
 * Typed errors with stable codes. Every user-facing failure is a RepartError so the CLI can
 * print one clear line (file, line, key when known) and choose the exit status systemd-repart
 * would use.
 */
export type ErrorCode =
  | 'E_USAGE' // bad command line
  | 'E_CONFIG_SYNTAX' // a line of a definition file cannot be parsed
  | 'E_CONFIG_VALUE' // a value is invalid for its key
  | 'E_CONFIG_UNSUPPORTED' // a key repart knows but repart-ts cannot honour yet
  | 'E_CONFIG_CONFLICT' // keys that cannot be combined
  | 'E_NO_DEFINITIONS'
  | 'E_NO_SPACE' // the partitions cannot fit
  | 'E_IMAGE_EXISTS'
  | 'E_IMAGE_IO'
  | 'E_IMAGE_LABEL' // existing image has no (GPT) label / has one when it must not
  | 'E_GPT_CORRUPT'
  | 'E_SOURCE' // a CopyFiles/CopyBlocks source problem
  | 'E_FS' // a file system driver failed
  | 'E_FS_NO_SPACE' // content does not fit the file system
  | 'E_FS_NAME' // a name the file system cannot store
  | 'E_VERITY' // a dm-verity step cannot be done (no root hash where one is needed)
  | 'E_INITRAMFS' // a newc cpio archive is malformed, or an entry cannot be encoded in one
  | 'E_NOT_IMPLEMENTED';

export interface ErrorWhere {
  file?: string;
  line?: number;
  key?: string;
}

export class RepartError extends Error {
  readonly code: ErrorCode;
  readonly where: ErrorWhere;
  /** exit status the CLI uses (systemd-repart: 1 for errors, 77 for "not repartitioning"). */
  readonly exitCode: number;

  constructor(code: ErrorCode, message: string, where: ErrorWhere = {}, exitCode = 1, options?: { cause?: unknown }) {
    super(formatWhere(where) + clipMessage(message), options);
    this.name = 'RepartError';
    this.code = code;
    this.where = where;
    this.exitCode = exitCode;
  }
}

/** Messages echo values; a value of megabytes is cut (a message stays readable, and bounded). */
export const MESSAGE_MAX = 2048;
export function clipMessage(m: string): string {
  if (m.length <= MESSAGE_MAX) return m;
  return `${m.slice(0, MESSAGE_MAX)}… (${m.length - MESSAGE_MAX} more characters)`;
}

function formatWhere(w: ErrorWhere): string {
  if (!w.file) return w.key ? `${w.key}=: ` : '';
  let s = w.file;
  if (w.line !== undefined) s += `:${w.line}`;
  if (w.key) s += `: ${w.key}=`;
  return s + ': ';
}

export class ConfigError extends RepartError {
  constructor(code: ErrorCode, message: string, where: ErrorWhere = {}) {
    super(code, message, where);
    this.name = 'ConfigError';
  }
}

export class UsageError extends RepartError {
  constructor(message: string) {
    super('E_USAGE', message);
    this.name = 'UsageError';
  }
}

export class FsError extends RepartError {
  constructor(code: 'E_FS' | 'E_FS_NO_SPACE' | 'E_FS_NAME' | 'E_SOURCE', message: string, where: ErrorWhere = {}) {
    super(code, message, where);
    this.name = 'FsError';
  }
}
