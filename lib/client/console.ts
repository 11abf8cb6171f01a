/**
 * Client side of the instance console and log endpoints: attach (the
 * operation plus its `control` and `0` websockets, opened in that order as
 * Incus's client does), the console log, and `/logs` files.
 */
import type WebSocket from 'ws';
import { openOperationSocket } from './ws-stream';
import type { InstanceConsoleControl, InstanceConsolePost } from '../api/instance-console';
import type { CallOptions, IncusClient } from './client';
import { nameFromUrl } from './client';
import { parseEnvelope } from './envelope';
import { ApiError } from './errors';
import { Operation } from './operation';

const seg = encodeURIComponent;

/** An attached console: bytes go over `data` (binary frames), window sizes over `control`. */
export interface ConsoleAttachment {
  operation: Operation;
  data: WebSocket;
  control: WebSocket;
}

/** `?project=` for raw requests made outside the client's own request(). */
function projectQuery(client: IncusClient, opts: CallOptions): string {
  const project = opts.project ?? client.project;
  return project !== undefined ? `?${new URLSearchParams({ project }).toString()}` : '';
}

/**
 * Opens one stream of a websocket operation (`/1.0/operations/{id}/websocket`);
 * resolves once open, rejects with the server's error when it refuses.
 */
export function openOperationWebsocket(client: IncusClient, id: string, secret: string): Promise<WebSocket> {
  return openOperationSocket(client.transport, id, secret);
}

/** Reads a string secret out of an operation's `metadata.fds`. */
function fdSecret(md: Record<string, unknown> | null, key: string): string {
  const fds = md?.fds as Record<string, unknown> | undefined;
  const v = fds?.[key];
  if (typeof v !== 'string' || v === '') throw new ApiError(0, `Did not receive a file descriptor for the ${key} channel`);
  return v;
}

/**
 * POST /1.0/instances/{name}/console, then connects the control and data
 * websockets. On a failure after the POST the operation is cancelled.
 */
export async function attachConsole(
  client: IncusClient,
  name: string,
  post: InstanceConsolePost,
  opts: CallOptions = {},
): Promise<ConsoleAttachment> {
  const env = await client.request('POST', `/1.0/instances/${seg(name)}/console`, { ...opts, body: { type: 'console', ...post } });
  if (env.type !== 'async') throw new ApiError(0, `Expected an operation from POST /1.0/instances/${name}/console`);
  const operation = new Operation(client, env.operation, opts.project ?? client.project);
  let control: WebSocket | null = null;
  try {
    const md = env.operation.metadata;
    control = await openOperationWebsocket(client, operation.id, fdSecret(md, 'control'));
    const data = await openOperationWebsocket(client, operation.id, fdSecret(md, '0'));
    return { operation, data, control };
  } catch (err) {
    control?.terminate();
    await operation.cancel().catch(() => undefined);
    throw err;
  }
}

/** Sends a `window-resize` on the control websocket. */
export function sendWindowResize(control: WebSocket, width: number, height: number): void {
  const msg: InstanceConsoleControl = { command: 'window-resize', args: { width: String(width), height: String(height) } };
  control.send(JSON.stringify(msg));
}

/** GET /1.0/instances/{name}/console: the console log as bytes. */
export async function getConsoleLog(client: IncusClient, name: string, opts: CallOptions = {}): Promise<Buffer> {
  const p = `/1.0/instances/${seg(name)}/console${projectQuery(client, opts)}`;
  const res = await client.transport.request({ method: 'GET', path: p, signal: opts.signal });
  if (res.status !== 200) parseEnvelope(res, `GET ${p}`);
  return res.body;
}

/** DELETE /1.0/instances/{name}/console: clears the console log. */
export async function clearConsoleLog(client: IncusClient, name: string, opts: CallOptions = {}): Promise<void> {
  await client.request('DELETE', `/1.0/instances/${seg(name)}/console`, opts);
}

/** GET /1.0/instances/{name}/logs: the file names (lxc.log, ...). */
export async function getInstanceLogFiles(client: IncusClient, name: string, opts: CallOptions = {}): Promise<string[]> {
  const env = await client.request('GET', `/1.0/instances/${seg(name)}/logs`, opts);
  if (env.type !== 'sync') throw new ApiError(0, `Expected a sync response from GET /1.0/instances/${name}/logs`);
  return ((env.metadata as string[] | null) ?? []).map(nameFromUrl);
}

/** DELETE /1.0/instances/{name}/logs/{file}. */
export async function deleteInstanceLogFile(client: IncusClient, name: string, file: string, opts: CallOptions = {}): Promise<void> {
  await client.request('DELETE', `/1.0/instances/${seg(name)}/logs/${seg(file)}`, opts);
}
