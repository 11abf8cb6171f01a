/** Turns a raw HTTP response into one of the three Incus envelopes. */
import type { Operation as OperationData } from '../api/operation';
import type { Response } from '../api/response';
import { ApiError } from './errors';
import type { TransportResponse } from './transport';

/** A decoded non-error response: sync metadata or a new operation. */
export type Envelope =
  | { type: 'sync'; metadata: unknown; etag: string; response: Response }
  | { type: 'async'; operation: OperationData; response: Response };

function header(res: TransportResponse, name: string): string {
  const v = res.headers[name];
  return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
}

/**
 * Decodes `res` as an Incus response.
 *
 * @param what  the request, for the message when the body is not JSON
 *              (`GET /1.0/foo`).
 * @throws ApiError for an error envelope (message = the server's `error`),
 *   and for a non-JSON body with a non-200 status.
 */
export function parseEnvelope(res: TransportResponse, what: string): Envelope {
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.body.toString('utf8'));
  } catch (err) {
    if (res.status !== 200) {
      throw new ApiError(res.status, `Failed to fetch ${what}: ${res.status} ${res.statusText}`.trimEnd());
    }
    throw new ApiError(res.status, `Invalid response from ${what}: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ApiError(res.status, `Invalid response from ${what}: not an object`);
  }
  const response = parsed as Response;
  const type: string = response.type;
  switch (response.type) {
    case 'error':
      throw new ApiError(res.status, String(response.error ?? ''), { response });
    case 'sync':
      return { type: 'sync', metadata: response.metadata, etag: header(res, 'etag'), response };
    case 'async': {
      const op = response.metadata as OperationData | null;
      if (!op || typeof op !== 'object' || typeof op.id !== 'string') {
        throw new ApiError(res.status, `Invalid response from ${what}: async response without an operation`);
      }
      return { type: 'async', operation: op, response };
    }
    default:
      if (res.status >= 400) {
        throw new ApiError(res.status, `Failed to fetch ${what}: ${res.status} ${res.statusText}`.trimEnd());
      }
      throw new ApiError(res.status, `Invalid response from ${what}: unknown type ${JSON.stringify(type)}`);
  }
}
