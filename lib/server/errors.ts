/**
 * The one error type the server's layers throw for the caller's mistakes and
 * for known conditions; http/error-handler.ts maps it to the error envelope.
 */
export class StatusError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'StatusError';
  }
}

export const badRequest = (msg: string): StatusError => new StatusError(400, msg);
export const notFound = (msg: string): StatusError => new StatusError(404, msg);
export const conflict = (msg: string): StatusError => new StatusError(409, msg);
export const forbidden = (msg: string): StatusError => new StatusError(403, msg);
export const preconditionFailed = (msg: string): StatusError => new StatusError(412, msg);
export const notImplemented = (msg: string): StatusError => new StatusError(501, msg);
export const unavailable = (msg: string): StatusError => new StatusError(503, msg);

/** The HTTP status an error stands for: a StatusError's own, or 500. */
export function statusOf(err: unknown): number {
  if (err instanceof StatusError) return err.status;
  const s = (err as { statusCode?: unknown } | null)?.statusCode;
  if (typeof s === 'number' && s >= 400 && s < 600) return s;
  // Two racing creates of one name: the database's uniqueness is the final word.
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return 409;
  return 500;
}

/** A message safe to send to the client. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
