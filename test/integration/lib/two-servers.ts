/** Two test daemons talking HTTPS on 127.0.0.1: listeners, a CLI whose remote `b` is the second, operations. */
import type { Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freeLocalPort } from '../../../bench/lib/free-port';
import { type CliResult, runCli, type TestDaemon } from './daemon';
import { rawRequest } from './http';

export interface OpReply {
  status: string;
  err: string;
  metadata: Record<string, unknown> | null;
}

/** Starts an async operation and returns its id and metadata (throws unless 202). */
export async function expectOp(d: TestDaemon, method: string, path: string, body: unknown): Promise<{ id: string; metadata: Record<string, unknown> }> {
  const r = await rawRequest(d.socket, method, path, JSON.stringify(body));
  if (r.status !== 202) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  const md = r.body.metadata as { id: string; metadata: Record<string, unknown> | null };
  return { id: md.id, metadata: md.metadata ?? {} };
}

export async function waitOp(d: TestDaemon, id: string): Promise<OpReply> {
  const done = await rawRequest(d.socket, 'GET', `/1.0/operations/${id}/wait?timeout=300`);
  return done.body.metadata as OpReply;
}

/** Gives the daemon an HTTPS address; returns it and its certificate. */
export async function listen(d: TestDaemon): Promise<{ address: string; certificate: string }> {
  const port = await freeLocalPort();
  const r = await rawRequest(d.socket, 'PATCH', '/1.0', JSON.stringify({ config: { 'core.https_address': `127.0.0.1:${port}` } }));
  if (r.status !== 200) throw new Error(`PATCH /1.0: ${JSON.stringify(r.body)}`);
  return { address: `https://127.0.0.1:${port}`, certificate: readFileSync(join(d.dir, 'server.crt'), 'utf8') };
}

export function ok(t: Test, r: { code: number | null; stdout: string; stderr: string }, what: string): void {
  t.equal(r.code, 0, `${what}${r.code === 0 ? '' : `: ${r.stderr}`}`);
}

/** A client config dir (INCUS_CONF) whose `local` is `a` and whose remote `b` is `b` over HTTPS (trust token). */
export async function clientFor(t: Test, a: TestDaemon, b: TestDaemon, bAddr: string): Promise<(args: string[]) => Promise<CliResult>> {
  const conf = join(a.dir, 'client-conf');
  const env = { INCUS_DIR: a.dir, INCUS_SOCKET: '', INCUS_CONF: conf, INCUS_REMOTE: '', INCUS_PROJECT: '' };
  const token = (await b.cli(['config', 'trust', 'add', 'mover'])).stdout.trim().split('\n').pop()!;
  const added = await runCli(env, ['remote', 'add', 'b', token]);
  ok(t, added, `remote add b (${bAddr})`);
  return (args) => runCli(env, args);
}
