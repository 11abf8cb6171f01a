/**
 * Leader discovery: ask the known members who leads (LEADER request), and
 * follow the answer to a connection with the leader itself, retrying with a
 * growing pause until a deadline while an election runs.
 */
import type { Duplex } from 'node:stream';
import { Connection } from './connection';
import { DqliteError } from './errors';
import { decodeNode, Response } from './protocol';
import { leaderRequest } from './requests';

/** Opens an authenticated byte stream to a member (TLS in a cluster); the client never dials by itself. */
export type Dial = (address: string) => Promise<Duplex>;

export interface DialOptions {
  dial: Dial;
  /** Limit for one dial and for one request's answer. */
  timeoutMs: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Dials address and sends the handshake; a dial slower than timeoutMs fails with ETIMEDOUT. */
export async function connectTo(address: string, opts: DialOptions): Promise<Connection> {
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const pending = opts.dial(address);
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      reject(new DqliteError(`cannot reach ${address} within ${opts.timeoutMs} ms`, 'ETIMEDOUT'));
    }, opts.timeoutMs);
  });
  // A stream that arrives after the timeout is closed at once.
  pending.then((s) => timedOut && s.destroy(), () => undefined);
  try {
    const stream = await Promise.race([pending, timeout]);
    return Connection.open(stream, address, opts.timeoutMs);
  } catch (err) {
    if (err instanceof DqliteError) throw err;
    throw new DqliteError(`cannot reach ${address}: ${(err as Error).message}`, 'ECONNLOST');
  } finally {
    clearTimeout(timer);
  }
}

/** Asks conn's node who leads: its id and address, or null while there is none. */
export async function askLeader(conn: Connection): Promise<{ id: number; address: string } | null> {
  const f = await conn.call(leaderRequest(), Response.Node);
  const node = decodeNode(f.body);
  return node.address === '' ? null : node;
}

/** One pass over addresses: a connection to the leader, or null. */
async function attempt(addresses: readonly string[], opts: DialOptions, errors: string[]): Promise<Connection | null> {
  for (const address of addresses) {
    let conn: Connection | null = null;
    try {
      conn = await connectTo(address, opts);
      const leader = await askLeader(conn);
      if (!leader) {
        errors.push(`${address}: no leader`);
        conn.close();
        continue;
      }
      if (leader.address === address) return conn;
      conn.close();
      conn = await connectTo(leader.address, opts);
      // The node it names must agree that it leads.
      const again = await askLeader(conn);
      if (again && again.address === leader.address) return conn;
      errors.push(`${leader.address}: named leader by ${address} but does not lead`);
      conn.close();
    } catch (err) {
      conn?.close();
      errors.push(`${address}: ${(err as Error).message}`);
    }
  }
  return null;
}

/**
 * A connection to the current leader, found through the members that
 * `addresses()` lists (read again on every pass). Fails with ENOLEADER after
 * deadline (a Date.now() value).
 */
export async function connectLeader(addresses: () => readonly string[], opts: DialOptions, deadline: number): Promise<Connection> {
  let pause = 50;
  for (;;) {
    const errors: string[] = [];
    const conn = await attempt(addresses(), opts, errors);
    if (conn) return conn;
    if (Date.now() + pause > deadline) {
      throw new DqliteError(`no dqlite leader found (${errors.slice(-6).join('; ') || 'no members known'})`, 'ENOLEADER');
    }
    await sleep(pause);
    pause = Math.min(pause * 2, 1000);
  }
}
