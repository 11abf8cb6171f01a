/**
 * The single error class for failures coming out of the native layer (the
 * addon and incusd-helper), shaped like Node's system errors.
 */

/** Fields a NativeError may carry besides its message. */
export interface NativeErrorFields {
  code: string;
  errno?: number;
  syscall?: string;
  op?: string;
  instance?: string;
  path?: string;
}

/**
 * A native failure. `code` is an errno name ('ENOENT', 'ETIMEDOUT', ...) or
 * 'ELXC' when liblxc failed without an errno; `errno` is negative, as in
 * Node's system errors; `op` names the operation (e.g. 'stop') and
 * `instance` the container.
 */
export class NativeError extends Error {
  code: string;
  // declare: absent fields stay absent instead of becoming own undefined properties.
  declare errno?: number;
  declare syscall?: string;
  declare op?: string;
  declare instance?: string;
  declare path?: string;

  constructor(message: string, fields: NativeErrorFields) {
    super(message);
    this.name = 'NativeError';
    this.code = fields.code;
    if (fields.errno !== undefined) this.errno = fields.errno;
    if (fields.syscall !== undefined) this.syscall = fields.syscall;
    if (fields.op !== undefined) this.op = fields.op;
    if (fields.instance !== undefined) this.instance = fields.instance;
    if (fields.path !== undefined) this.path = fields.path;
  }

  /**
   * Converts whatever the addon or helper threw into a NativeError for the
   * public operation `context.op`, keeping code/errno/syscall/path/instance.
   */
  static from(err: unknown, context: { op: string; instance?: string }): NativeError {
    const e = (err ?? {}) as Partial<NativeErrorFields> & { message?: unknown };
    const message = typeof e.message === 'string' ? e.message : String(err);
    const out = new NativeError(message, {
      code: typeof e.code === 'string' ? e.code : 'ELXC',
      errno: typeof e.errno === 'number' ? e.errno : undefined,
      syscall: typeof e.syscall === 'string' ? e.syscall : undefined,
      op: context.op,
      instance: typeof e.instance === 'string' ? e.instance : context.instance,
      path: typeof e.path === 'string' ? e.path : undefined,
    });
    if (err instanceof Error && err.stack) out.stack = err.stack;
    return out;
  }
}

/**
 * Runs fn and rethrows its failures as NativeErrors for op/instance; a
 * TypeError or RangeError (a caller's mistake) passes through unchanged.
 */
export async function wrapNative<T>(op: string, instance: string | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof TypeError || err instanceof RangeError) throw err;
    throw NativeError.from(err, { op, instance });
  }
}
