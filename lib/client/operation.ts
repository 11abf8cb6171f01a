/** Handle on a background operation (`/1.0/operations/{id}`). */
import type { Operation as OperationData } from '../api/operation';
import { StatusCode } from '../api/response';
import type { Envelope } from './envelope';
import { ApiError } from './errors';
import type { HttpMethod } from './transport';

/** Per-request options understood by the client core. */
export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  /** JSON-encoded unless it is a Buffer, string or stream (sent as is). */
  body?: unknown;
  headers?: Record<string, string>;
  /** Project for this call; overrides the client's default. */
  project?: string;
  /** Sent as If-Match. */
  etag?: string;
  signal?: AbortSignal;
}

/** What an {@link Operation} needs from the client: one request primitive. */
export interface Requester {
  request(method: HttpMethod, path: string, opts?: RequestOptions): Promise<Envelope>;
}

const FINAL: ReadonlySet<number> = new Set([StatusCode.Success, StatusCode.Failure, StatusCode.Cancelled]);

/** True once an operation can no longer change state. */
export function isFinal(op: OperationData): boolean {
  return FINAL.has(op.status_code);
}

/**
 * Returns `op` when it succeeded; throws an {@link ApiError} carrying its
 * `err` when it failed or was cancelled.
 */
export function checkOperation(op: OperationData): OperationData {
  if (op.status_code === StatusCode.Failure || op.status_code === StatusCode.Cancelled) {
    const message = op.err || (op.status_code === StatusCode.Cancelled ? 'Operation cancelled' : 'Operation failed');
    throw new ApiError(op.status_code, message, { operation: op });
  }
  return op;
}

/** A background operation returned by an async API call. */
export class Operation {
  /** The operation's UUID. */
  readonly id: string;
  /** Last state seen (from creation, {@link refresh} or {@link wait}). */
  data: OperationData;

  constructor(
    private readonly requester: Requester,
    data: OperationData,
    private readonly project?: string,
  ) {
    this.id = data.id;
    this.data = data;
  }

  /** `/1.0/operations/{id}` */
  get path(): string {
    return `/1.0/operations/${encodeURIComponent(this.id)}`;
  }

  /**
   * Waits until the operation is final (GET .../wait?timeout=-1).
   * Resolves to the final operation; rejects with an {@link ApiError} when it
   * failed or was cancelled. Aborting `signal` stops waiting only; the
   * operation keeps running on the server (use {@link cancel}).
   */
  async wait(signal?: AbortSignal): Promise<OperationData> {
    for (;;) {
      const env = await this.requester.request('GET', `${this.path}/wait`, {
        query: { timeout: -1 },
        project: this.project,
        signal,
      });
      if (env.type !== 'sync') throw new ApiError(0, `Unexpected ${env.type} response while waiting for operation ${this.id}`);
      this.data = env.metadata as OperationData;
      if (isFinal(this.data)) return checkOperation(this.data);
    }
  }

  /** Reads the current state without waiting. */
  async refresh(): Promise<OperationData> {
    const env = await this.requester.request('GET', this.path, { project: this.project });
    if (env.type !== 'sync') throw new ApiError(0, `Unexpected ${env.type} response for operation ${this.id}`);
    this.data = env.metadata as OperationData;
    return this.data;
  }

  /** Asks the server to cancel the operation (DELETE). */
  async cancel(): Promise<void> {
    await this.requester.request('DELETE', this.path, { project: this.project });
  }
}
