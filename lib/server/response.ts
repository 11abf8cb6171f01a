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

/** JSON with object keys sorted, so that equal content hashes equally whatever the key order. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** ETag of an entity: sha256 over its writable fields, independent of key order. */
export function etagOf(value: unknown): string {
  return createHash('sha256').update(stableJson(value)).digest('hex');
}
