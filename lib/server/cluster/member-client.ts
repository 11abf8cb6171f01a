/**
 * Requests from this host to another cluster member's HTTPS API, as Incus's
 * joiner makes them: this host's own keypair as client certificate, and the
 * other side trusted only when it presents the pinned certificate (the one
 * the join was given), not by a CA or a name.
 */
import { request } from 'node:https';
import { certificateFingerprint, splitHostPort } from '../db/dqlite/tls-transport';
import { memberAgent, pinPeer } from './member-agent';

export interface MemberReply {
  status: number;
  /** The answer's JSON (Incus's response envelope). */
  body: { type?: string; error?: string; metadata?: unknown };
}

/** Longest a member has to answer one request. */
const TIMEOUT_MS = 30_000;

export function memberRequest(
  address: string,
  client: { certPem: string; keyPem: string },
  pinnedCertPem: string,
  method: string,
  path: string,
  body?: unknown,
  extraHeaders: Record<string, string> = {},
): Promise<MemberReply> {
  const fingerprint = certificateFingerprint(pinnedCertPem);
  const { host, port } = splitHostPort(address);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port,
        method,
        path,
        cert: client.certPem,
        key: client.keyPem,
        rejectUnauthorized: false,
        checkServerIdentity: () => undefined,
        minVersion: 'TLSv1.2',
        // Between members (the cluster keypair both ways) the connection is kept and reused.
        agent: client.certPem === pinnedCertPem ? memberAgent : false,
        timeout: TIMEOUT_MS,
        headers: payload === undefined ? extraHeaders : { ...extraHeaders, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          try {
            resolve({ status: res.statusCode ?? 0, body: text === '' ? {} : (JSON.parse(text) as MemberReply['body']) });
          } catch {
            reject(new Error(`Invalid answer from ${address}: ${text.slice(0, 200)}`));
          }
        });
      },
    );
    pinPeer(req, fingerprint, () => new Error(`Server certificate of ${address} does not match the expected one`));
    req.on('timeout', () => req.destroy(new Error(`Timed out waiting for ${address}`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** The answer's metadata, or its error as thrown (Incus's client returns the server's error text). */
export function metadataOf<T>(reply: MemberReply): T {
  if (reply.status >= 400 || reply.body.type === 'error') throw Object.assign(new Error(reply.body.error ?? `HTTP ${reply.status}`), { status: reply.status });
  return reply.body.metadata as T;
}
