/** Raw HTTP over the daemon's socket for hostile requests: any path, any body, never throws on the reply. */
import { Agent, type ClientRequest, request } from 'node:http';

export interface Reply {
  status: number;
  text: string;
  /** The parsed body, or null when it was not JSON. */
  json: Record<string, unknown> | null;
  /** Set when no reply came (connection reset, timeout). */
  transportError?: string;
}

export interface Req {
  method: string;
  /** Raw request target, sent as is (not normalised). */
  path: string;
  /** Raw body text; undefined sends none. */
  body?: string;
  headers?: Record<string, string>;
}

const agents = new Map<string, Agent>();

export function send(socketPath: string, r: Req, timeoutMs = 60_000): Promise<Reply> {
  let agent = agents.get(socketPath);
  if (!agent) {
    agent = new Agent({ keepAlive: true, maxSockets: 16 });
    agents.set(socketPath, agent);
  }
  return new Promise((resolve) => {
    const headers: Record<string, string> = { ...(r.body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...r.headers };
    let done = false;
    const finish = (rep: Reply): void => {
      if (done) return;
      done = true;
      resolve(rep);
    };
    let req: ClientRequest;
    try {
      req = request({ socketPath, method: r.method, path: r.path, headers, agent, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (b: Buffer) => chunks.push(b));
        res.on('error', (e) => finish({ status: res.statusCode ?? 0, text: '', json: null, transportError: e.message }));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let json: Record<string, unknown> | null = null;
          try {
            const v = JSON.parse(text) as unknown;
            if (v && typeof v === 'object' && !Array.isArray(v)) json = v as Record<string, unknown>;
          } catch {
            // Not JSON: the envelope check reports it.
          }
          finish({ status: res.statusCode ?? 0, text, json });
        });
      });
    } catch (e) {
      // The client library refuses some targets (raw non-ASCII, spaces): nobody can send those.
      finish({ status: 0, text: '', json: null, transportError: `unsendable: ${(e as Error).message}` });
      return;
    }
    req.on('timeout', () => {
      req.destroy(new Error(`no reply within ${timeoutMs} ms`));
    });
    req.on('error', (e) => finish({ status: 0, text: '', json: null, transportError: e.message }));
    req.end(r.body);
  });
}

/** Closes the pooled connections (end of suite). */
export function closeAgents(): void {
  for (const a of agents.values()) a.destroy();
  agents.clear();
}

/** Whether a reply is Incus's error envelope with the status it was sent with. */
export function isErrorEnvelope(rep: Reply): boolean {
  const j = rep.json;
  return !!j && j.type === 'error' && j.error_code === rep.status && typeof j.error === 'string' && (j.error as string).length > 0;
}
