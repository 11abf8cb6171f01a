/**
 * `core.metrics_address`: a second HTTPS listener that serves only `/`,
 * `/1.0` and `/1.0/metrics` (Incus's metricsServer, cmd/incusd/api.go);
 * every other path is Incus's top-level 404, and websocket upgrades are
 * refused. Trust is decided as on the main listener.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { parseListenAddress } from '../auth/https-listener';
import { errorResponse } from '../response';

/** Incus's default port for `core.metrics_address` (ports.HTTPSMetricsDefaultPort). */
export const METRICS_DEFAULT_PORT = 8444;

const SERVED = new Set(['/', '/1.0', '/1.0/metrics']);

/** The address to listen on: a value without a port gets 8444 (the main listener's default is 8443). */
export function metricsListenAddress(value: string): string {
  if (value === '') return '';
  const { host, port } = parseListenAddress(value);
  const explicit = /\]:\d+$/.test(value) || (!value.startsWith('[') && value.split(':').length === 2 && !value.endsWith(':'));
  const h = host ?? '';
  const bracketed = h.includes(':') ? `[${h}]` : h;
  return `${bracketed}:${explicit ? port : METRICS_DEFAULT_PORT}`;
}

/** Wraps the app's request handler so that only the metrics server's paths reach it. */
export function metricsOnly(routing: (req: IncomingMessage, res: ServerResponse) => void): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';
    if (SERVED.has(path)) {
      routing(req, res);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end(`${JSON.stringify(errorResponse(404, 'not found'))}\n`);
  };
}

/** Websocket upgrades are not served on the metrics listener. */
export function refuseUpgrades(_req: IncomingMessage, socket: Duplex): void {
  socket.destroy();
}
