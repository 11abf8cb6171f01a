/**
 * The sync/async/error envelopes of the Incus API, built in one place.
 * Routes return these objects; http/server.ts serialises them.
 */
import { createHash } from 'node:crypto';
import type { AsyncResponse, ErrorResponse, SyncResponse } from '../api/response';
import type { Operation } from '../api/operation';

export function syncResponse<T>(metadata: T): SyncResponse<T> {
  return {
    type: 'sync',
    status: 'Success',
    status_code: 200,
    operation: '',
    error_code: 0,
    error: '',
    metadata,
  };
}

export function asyncResponse(op: Operation): AsyncResponse<Operation> {
  return {
    type: 'async',
    status: 'Operation created',
    status_code: 100,
    operation: `/1.0/operations/${op.id}`,
    error_code: 0,
    error: '',
    metadata: op,
  };
}

export function errorResponse(code: number, message: string): ErrorResponse {
  return {
    type: 'error',
    status: '',
    status_code: 0,
    operation: '',
    error_code: code,
    error: message,
    metadata: null,
  };
}

/** ETag of an entity: sha256 over the JSON of its writable fields, as Incus hashes them. */
export function etagOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}
