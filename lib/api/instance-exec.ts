/** Running commands in an instance (`POST /1.0/instances/{name}/exec`). */

/** POST /1.0/instances/{name}/exec. */
export interface InstanceExecPost {
  /** Command and its arguments (no shell). */
  command: string[];
  /** Spawn only once every data websocket is connected (websocket operation). */
  'wait-for-websocket'?: boolean;
  /** One pty for stdin/stdout/stderr instead of three pipes. */
  interactive?: boolean;
  /** Extra environment; the server adds PATH, HOME, USER and LANG when unset. */
  environment?: Record<string, string> | null;
  /** Terminal columns (interactive). */
  width?: number;
  /** Terminal rows (interactive). */
  height?: number;
  /** Without websockets: keep stdout/stderr in log files listed in the metadata. */
  'record-output'?: boolean;
  /** UID to run as (API extension container_exec_user_group_cwd). */
  user?: number;
  /** GID to run as. */
  group?: number;
  /** Working directory (default $HOME, /root for root). */
  cwd?: string;
}

/** Control commands Incus knows on the `control` websocket. */
export type InstanceExecControlCommand = 'window-resize' | 'signal';

/**
 * A message on the exec `control` websocket (JSON text frame):
 * `{"command":"window-resize","args":{"width":"80","height":"24"}}` or
 * `{"command":"signal","signal":15}`.
 */
export interface InstanceExecControl {
  command: string;
  args?: Record<string, string> | null;
  signal?: number;
}

/** The websocket secrets of an exec operation: `0`, `1`, `2`, `control` (or `0`, `control` when interactive). */
export interface InstanceExecFds {
  '0': string;
  '1'?: string;
  '2'?: string;
  control: string;
}

/** Metadata of an exec operation with websockets, while it runs. */
export interface InstanceExecMetadata {
  fds: InstanceExecFds;
  command: string[];
  environment: Record<string, string>;
  interactive: boolean;
  /** Exit status once finished (128+N for signal N). */
  return?: number;
}

/** Metadata of a finished exec operation without websockets. */
export interface InstanceExecResult {
  return: number;
  /** With record-output: `{"1": "/1.0/instances/<name>/logs/exec_<op>.stdout", "2": ...}`. */
  output?: Record<string, string>;
}

/** Largest value a uint32 field (user, group) may take. */
const UINT32_MAX = 4294967295;

/**
 * JSON schema of {@link InstanceExecPost}, for the route. Unknown fields
 * are allowed (Incus ignores them); `environment` may be null.
 */
export const instanceExecPostSchema = {
  type: 'object',
  required: ['command'],
  properties: {
    command: { type: 'array', minItems: 1, items: { type: 'string' } },
    'wait-for-websocket': { type: 'boolean' },
    interactive: { type: 'boolean' },
    environment: { type: ['object', 'null'], additionalProperties: { type: 'string' } },
    width: { type: 'integer', minimum: 0, maximum: 65535 },
    height: { type: 'integer', minimum: 0, maximum: 65535 },
    'record-output': { type: 'boolean' },
    user: { type: 'integer', minimum: 0, maximum: UINT32_MAX },
    group: { type: 'integer', minimum: 0, maximum: UINT32_MAX },
    cwd: { type: 'string' },
  },
} as const;
