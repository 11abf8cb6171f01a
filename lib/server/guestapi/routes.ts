/**
 * The `/dev/incus/sock` routes, answered as Incus's devIncus handlers
 * answer: JSON or raw bodies, errors as plain text with the status, and
 * every answer about the calling container only.
 */
import { createReadStream } from 'node:fs';
import { hostname } from 'node:os';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DevIncusGet, DevIncusPut } from '../../api/dev-incus';
import type { Instance } from '../../api/instance';
import type { DaemonState } from '../state';
import { isFalse, isTrue } from '../instance/config-keys';
import { isFalseOrEmpty } from '../instance/files/headers';
import { splitImageBody } from '../images/export';
import { errorResponse } from '../response';
import type { GuestCaller } from './identify';

/** What a route gets: the daemon, the identified caller and the exchange. */
export interface GuestRequest {
  s: DaemonState;
  caller: GuestCaller;
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
}

export type GuestHandler = (r: GuestRequest) => Promise<void> | void;

/** Go's http.Error: plain text, the message and a newline. */
export function sendError(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  res.end(`${message}\n`);
}

function sendJson(res: ServerResponse, value: unknown): void {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(`${JSON.stringify(value)}\n`);
}

function sendRaw(res: ServerResponse, text: string): void {
  res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
  res.end(text);
}

/** Every route but `/` and `GET /1.0` is closed to an instance with security.guestapi false. */
export async function guestApiAllowed(r: GuestRequest): Promise<boolean> {
  return (await allowedExpansion(r)) !== null;
}

/** The caller's expanded config and devices when `security.guestapi` allows the API; else a 403 is sent and null returned. */
async function allowedExpansion(r: GuestRequest): Promise<Pick<Instance, 'expanded_config' | 'expanded_devices'> | null> {
  const e = await r.s.instances.expand(r.caller.rec);
  if (!isFalse(e.expanded_config['security.guestapi'])) return e;
  sendError(r.res, 403, 'not authorized');
  return null;
}

async function readBody(req: IncomingMessage, limit = 64 * 1024): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) throw new Error('request body too large');
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const root: GuestHandler = ({ res }) => sendJson(res, ['/1.0']);

const api: GuestHandler = async (r) => {
  const { s, caller, req, res } = r;
  if (req.method === 'GET') {
    const info: DevIncusGet = {
      state: isTrue(caller.rec.config['volatile.last_state.ready']) ? 'Ready' : 'Started',
      api_version: '1.0',
      instance_type: 'container',
      location: hostname(),
    };
    return sendJson(res, info);
  }
  if (req.method === 'PATCH') {
    if (!(await guestApiAllowed(r))) return;
    let put: DevIncusPut;
    try {
      put = JSON.parse(await readBody(req)) as DevIncusPut;
    } catch (err) {
      return sendError(res, 400, (err as Error).message);
    }
    const state = typeof put?.state === 'string' ? put.state : '';
    if (state !== 'Started' && state !== 'Ready') return sendError(res, 400, `Invalid state "${state}"`);
    await s.instances.setVolatile(caller.rec, 'volatile.last_state.ready', String(state === 'Ready'));
    if (state === 'Ready') s.events.lifecycle('instance-ready', `/1.0/instances/${caller.rec.name}`, caller.rec.project);
    return sendRaw(res, '');
  }
  sendError(res, 405, `method "${req.method}" not allowed`);
};

const configList: GuestHandler = async (r) => {
  const e = await allowedExpansion(r);
  if (!e) return;
  const cfg = e.expanded_config;
  const keys = Object.keys(cfg).filter((k) => k.startsWith('user.') || k.startsWith('cloud-init.'));
  sendJson(r.res, keys.map((k) => `/1.0/config/${k}`));
};

const configKey: GuestHandler = async (r) => {
  const e = await allowedExpansion(r);
  if (!e) return;
  const key = r.params.key;
  if (!key.startsWith('user.') && !key.startsWith('cloud-init.')) return sendError(r.res, 403, 'not authorized');
  const cfg = e.expanded_config;
  if (!Object.hasOwn(cfg, key)) return sendError(r.res, 404, 'not found');
  sendRaw(r.res, cfg[key]);
};

const metaData: GuestHandler = async (r) => {
  const e = await allowedExpansion(r);
  if (!e) return;
  const { rec } = r.caller;
  const cfg = e.expanded_config;
  const id = rec.config['volatile.cloud-init.instance-id'] || rec.name;
  sendRaw(r.res, `#cloud-config\ninstance-id: ${id}\nlocal-hostname: ${rec.name}\n${cfg['user.meta-data'] ?? ''}`);
};

const devices: GuestHandler = async (r) => {
  const e = await allowedExpansion(r);
  if (!e) return;
  const { rec } = r.caller;
  const devs = e.expanded_devices;
  // NICs carry their generated MAC so that cloud-init can find them.
  for (const [name, d] of Object.entries(devs)) {
    const mac = rec.config[`volatile.${name}.hwaddr`];
    if (d.type === 'nic' && !d.hwaddr && mac) devs[name] = { ...d, hwaddr: mac };
  }
  sendJson(r.res, devs);
};

/** An image file, only when public or cached and named by its whole fingerprint (as Incus checks for /dev/incus). */
const imageExport: GuestHandler = async (r) => {
  const e = await allowedExpansion(r);
  if (!e) return;
  const cfg = e.expanded_config;
  if (isFalseOrEmpty(cfg['security.guestapi.images'])) return sendError(r.res, 403, 'not authorized');
  const fp = r.params.fingerprint;
  const project = r.url.searchParams.get('project') || 'default';
  const notFound = (): void => {
    r.res.writeHead(404, { 'Content-Type': 'application/json' });
    r.res.end(`${JSON.stringify(errorResponse(404, `Image "${fp}" not found`))}\n`);
  };
  let rec;
  try {
    rec = await r.s.images.byFingerprint(await r.s.instances.featureProject(project, 'images'), fp);
  } catch {
    return notFound();
  }
  if (rec.fingerprint !== fp || (!rec.public && !rec.cached)) return notFound();
  const rootfs = r.s.images.rootfsPath(rec.fingerprint);
  if (rootfs) {
    const body = await splitImageBody(r.s.images.path(rec.fingerprint), rootfs, rec.fingerprint, rec.type);
    r.res.writeHead(200, { 'Content-Type': body.contentType, 'Content-Length': String(body.length) });
    body.stream.pipe(r.res);
    return;
  }
  r.res.writeHead(200, {
    'Content-Type': 'application/octet-stream',
    'Content-Disposition': `attachment; filename=${rec.filename || `${rec.fingerprint}.tar.xz`}`,
    'Content-Length': String(rec.size),
  });
  createReadStream(r.s.images.path(rec.fingerprint)).pipe(r.res);
};

/** The routes, as Go ServeMux patterns reduced to regular expressions (one path segment per parameter). */
export const GUEST_ROUTES: { pattern: RegExp; names: string[]; handler: GuestHandler | 'events' }[] = [
  { pattern: /^\/$/, names: [], handler: root },
  { pattern: /^\/1\.0$/, names: [], handler: api },
  { pattern: /^\/1\.0\/config$/, names: [], handler: configList },
  { pattern: /^\/1\.0\/config\/([^/]+)$/, names: ['key'], handler: configKey },
  { pattern: /^\/1\.0\/meta-data$/, names: [], handler: metaData },
  { pattern: /^\/1\.0\/events$/, names: [], handler: 'events' },
  { pattern: /^\/1\.0\/images\/([^/]+)\/export$/, names: ['fingerprint'], handler: imageExport },
  { pattern: /^\/1\.0\/devices$/, names: [], handler: devices },
];

/** The route for a path and its decoded parameters, or null (Go's "404 page not found"). */
export function matchGuestRoute(path: string): { handler: GuestHandler | 'events'; params: Record<string, string> } | null {
  for (const r of GUEST_ROUTES) {
    const m = r.pattern.exec(path);
    if (!m) continue;
    const params: Record<string, string> = {};
    try {
      r.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1])));
    } catch {
      return null;
    }
    return { handler: r.handler, params };
  }
  return null;
}
