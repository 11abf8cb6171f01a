/** JSON calls on a test daemon's Unix socket, and waiting for the operations they start. */
import { rawRequest } from './http';
import type { TestDaemon } from './daemon';

export interface Reply {
  status: number;
  body: Record<string, unknown>;
}

export const api = async (d: TestDaemon, method: string, path: string, body?: unknown): Promise<Reply> => {
  const r = await rawRequest(d.socket, method, path, body === undefined ? undefined : JSON.stringify(body));
  return { status: r.status, body: r.body as Record<string, unknown> };
};

/** Waits for the operation an answer started; returns its final state. */
export async function waitOp(d: TestDaemon, r: Reply, timeoutS = 60): Promise<Record<string, unknown>> {
  const id = (r.body.metadata as { id: string }).id;
  return (await api(d, 'GET', `/1.0/operations/${id}/wait?timeout=${timeoutS}`)).body.metadata as Record<string, unknown>;
}
