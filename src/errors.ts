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
  | 'E_FS_DIR_FULL' // vfat: a directory cannot take a name's slots even after growing by one cluster (a larger cluster would)
  | 'E_FS_NAME' // a name the file system cannot store
  | 'E_VERITY' // a dm-verity step cannot be done (no root hash where one is needed)
  | 'E_INITRAMFS' // a newc cpio archive is malformed, or an entry cannot be encoded in one
  | 'E_NOT_IMPLEMENTED';

export interface ErrorWhere {
  file?: string;
  line?: number;
  key?: string;
}

/** A RepartError as data: what crosses a worker thread (structured clone) or a JSON boundary. */
export interface RepartErrorJson {
  name: string;
  code: ErrorCode;
  detail: string;
  where: ErrorWhere;
  exitCode: number;
}

export class RepartError extends Error {
  readonly code: ErrorCode;
  readonly where: ErrorWhere;
  /** exit status the CLI uses (systemd-repart: 1 for errors, 77 for "not repartitioning"). */
  readonly exitCode: number;
  /** what went wrong, without the location (wrap with `detail`, not with `message`) */
  readonly detail: string;

  constructor(code: ErrorCode, detail: string, where: ErrorWhere = {}, exitCode = 1, options?: { cause?: unknown }) {
    detail = clipMessage(detail);
    super(detail, options);
    this.name = 'RepartError';
    this.code = code;
    this.where = where;
    this.exitCode = exitCode;
    this.detail = detail;
    // `message` is the location and the detail, formatted when read (never baked in, so a
    // rebuilt or re-located error does not carry an old location)
    Object.defineProperty(this, 'message', { get: () => formatWhere(this.where) + this.detail, enumerable: false, configurable: true });
  }

  /** The same error with another location (the detail is kept as it is). */
  at(where: ErrorWhere): RepartError {
    return RepartError.fromJSON({ ...this.toJSON(), where });
  }

  toJSON(): RepartErrorJson {
    return { name: this.name, code: this.code, detail: this.detail, where: { ...this.where }, exitCode: this.exitCode };
  }

  /** Rebuilds an error sent as data, as the same class where it is one of ours. */
  static fromJSON(j: RepartErrorJson): RepartError {
    let e: RepartError;
    if (j.name === 'FsError') e = new FsError(j.code as FsErrorCode, j.detail, j.where);
    else if (j.name === 'ConfigError') e = new ConfigError(j.code, j.detail, j.where);
    else e = new RepartError(j.code, j.detail, j.where, j.exitCode);
    return e;
  }
}

/** Messages echo values; a value of megabytes is cut (a message stays readable, and bounded). */
export const MESSAGE_MAX = 2048;
export function clipMessage(m: string): string {
  if (m.length <= MESSAGE_MAX) return m;
  return `${m.slice(0, MESSAGE_MAX)}… (${m.length - MESSAGE_MAX} more characters)`;
}

/** "file:line: key=: " — how a location is printed before a message. */
export function formatWhere(w: ErrorWhere): string {
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

type FsErrorCode = 'E_FS' | 'E_FS_NO_SPACE' | 'E_FS_DIR_FULL' | 'E_FS_NAME' | 'E_SOURCE';

export class FsError extends RepartError {
  constructor(code: FsErrorCode, message: string, where: ErrorWhere = {}) {
    super(code, message, where);
    this.name = 'FsError';
  }
}
