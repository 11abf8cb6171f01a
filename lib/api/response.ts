/** The three response envelopes of the Incus REST API and its status codes. */

/** Numeric status codes used in operations and instance state (Incus `api.StatusCode`). */
export const StatusCode = {
  OperationCreated: 100,
  Started: 101,
  Stopped: 102,
  Running: 103,
  Cancelling: 104,
  Pending: 105,
  Starting: 106,
  Stopping: 107,
  Aborting: 108,
  Freezing: 109,
  Frozen: 110,
  Thawed: 111,
  Error: 112,
  Ready: 113,
  Success: 200,
  Failure: 400,
  Cancelled: 401,
} as const;

export type StatusCodeValue = (typeof StatusCode)[keyof typeof StatusCode];

/** Text that goes with each status code, as Incus prints it. */
export const StatusText: Record<number, string> = {
  100: 'Operation created',
  101: 'Started',
  102: 'Stopped',
  103: 'Running',
  104: 'Cancelling',
  105: 'Pending',
  106: 'Starting',
  107: 'Stopping',
  108: 'Aborting',
  109: 'Freezing',
  110: 'Frozen',
  111: 'Thawed',
  112: 'Error',
  113: 'Ready',
  200: 'Success',
  400: 'Failure',
  401: 'Cancelled',
};

export interface SyncResponse<T = unknown> {
  type: 'sync';
  status: string;
  status_code: number;
  operation: string;
  error_code: 0;
  error: '';
  metadata: T;
}

export interface AsyncResponse<T = unknown> {
  type: 'async';
  status: string;
  status_code: number;
  operation: string;
  error_code: 0;
  error: '';
  metadata: T;
}

export interface ErrorResponse {
  type: 'error';
  status: '';
  status_code: 0;
  operation: '';
  error_code: number;
  error: string;
  metadata: unknown;
}

export type Response<T = unknown> = SyncResponse<T> | AsyncResponse<T> | ErrorResponse;
