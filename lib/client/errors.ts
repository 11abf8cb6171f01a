/** Errors raised by the API client. */
import type { Operation as OperationData } from '../api/operation';
import type { Response } from '../api/response';

/**
 * The server answered with an error: an error envelope, a non-JSON error
 * page, or an operation that ended in Failure or Cancelled.
 *
 * `message` is the server's `error` text (or the operation's `err`), so the
 * CLI can print it as is.
 */
export class ApiError extends Error {
  /**
   * HTTP status of the response that carried the error; for a failed or
   * cancelled operation, the operation's status code (400 or 401).
   */
  readonly status: number;
  /** The whole envelope when the server sent one (kept for `incus query --raw`). */
  readonly response?: Response;
  /** The operation in its final state when the error came from one. */
  readonly operation?: OperationData;

  constructor(status: number, message: string, extra?: { response?: Response; operation?: OperationData }) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.response = extra?.response;
    this.operation = extra?.operation;
  }
}

/** The daemon could not be reached at all (no socket, refused, no permission). */
export class ConnectionError extends Error {
  /** errno name of the underlying failure, e.g. `ENOENT`, `ECONNREFUSED`. */
  readonly code: string;
  /** Where we tried to connect. */
  readonly address: string;

  constructor(message: string, code: string, address: string) {
    super(message);
    this.name = 'ConnectionError';
    this.code = code;
    this.address = address;
  }
}

/** True when `err` is an {@link ApiError} with HTTP status 404. */
export function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && err.status === 404;
}
