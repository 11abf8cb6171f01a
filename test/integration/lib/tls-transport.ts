/**
 * A test-only {@link Transport} over HTTPS with a client certificate, so the
 * typed client (exec, events, operations) can be driven against the
 * daemon's TLS listener.
 */
import { X509Certificate } from 'node:crypto';
import * as https from 'node:https';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import type { Transport, TransportRequest, TransportResponse } from '../../../lib/client/transport';

/** A client keypair made with openssl (ECDSA P-384, self-signed, like Incus's client certificates). */
export interface ClientKeypair {
  cert: string;
  key: string;
  fingerprint: string;
}

export function makeClientKeypair(dir: string, name: string): ClientKeypair {
  const crt = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const r = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp384r1', '-nodes',
    '-keyout', key, '-out', crt, '-days', '30', '-subj', `/CN=${name}`,
  ], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  const cert = readFileSync(crt, 'utf8');
  return { cert, key: readFileSync(key, 'utf8'), fingerprint: new X509Certificate(cert).fingerprint256.replace(/:/g, '').toLowerCase() };
}

/**
 * HTTPS to host:port, presenting `client` (or no certificate), trusting only
 * the server certificate given (pinned as the sole CA, as the Incus client
 * does with a remote's certificate; the host name is not checked).
 */
export class TlsTransport implements Transport {
  readonly address: string;
  readonly agent: https.Agent;

  constructor(
    readonly hostPort: string,
    private readonly client: ClientKeypair | null,
    private readonly serverCertPem: string,
  ) {
    this.address = `https://${hostPort}`;
    this.agent = new https.Agent({ keepAlive: true, ...this.tlsOptions() });
  }

  private tlsOptions(): https.AgentOptions {
    return {
      ...(this.client ? { cert: this.client.cert, key: this.client.key } : {}),
      ca: this.serverCertPem,
      checkServerIdentity: () => undefined,
    };
  }

  request(req: TransportRequest): Promise<TransportResponse> {
    const i = this.hostPort.lastIndexOf(':');
    const host = this.hostPort.slice(0, i).replace(/^\[|\]$/g, '');
    const port = Number(this.hostPort.slice(i + 1));
    return new Promise((resolve, reject) => {
      const body = req.body;
      const headers: Record<string, string | number> = { ...req.headers };
      if (typeof body === 'string' || Buffer.isBuffer(body)) headers['Content-Length'] = Buffer.byteLength(body);
      const r = https.request({ host, port, method: req.method, path: req.path, headers, agent: this.agent, signal: req.signal });
      r.on('error', reject);
      r.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: res.headers, body: Buffer.concat(chunks) }));
      });
      if (body === undefined) r.end();
      else if (typeof body === 'string' || Buffer.isBuffer(body)) r.end(body);
      else body.pipe(r);
    });
  }

  openWebSocket(path: string): WebSocket {
    return new WebSocket(`wss://${this.hostPort}${path}`, { ...this.tlsOptions() });
  }

  close(): void {
    this.agent.destroy();
  }
}
