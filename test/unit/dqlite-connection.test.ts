/**
 * The dqlite client's framing and retry rules over an in-memory stream:
 * responses split across chunks or packed together, FAILURE as DqliteError,
 * a dropped connection as ECONNLOST (notSent when nothing was written), and
 * which failed requests may move to the next leader.
 */
import t from 'tap';
import { Duplex } from 'node:stream';
import { Connection } from '../../lib/server/db/dqlite/connection';
import { DqliteError } from '../../lib/server/db/dqlite/errors';
import { BodyWriter, encodeMessage, Response } from '../../lib/server/db/dqlite/protocol';
import { leaderRequest } from '../../lib/server/db/dqlite/requests';
import { retryable } from '../../lib/server/db/dqlite/retry';

/** A stream whose reads the test feeds and whose writes it collects. */
function pipePair(): { stream: Duplex; written: Buffer[]; feed: (b: Buffer) => void } {
  const written: Buffer[] = [];
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      written.push(chunk);
      cb();
    },
  });
  return { stream, written, feed: (b) => stream.push(b) };
}

const nodeResponse = encodeMessage(Response.Node, new BodyWriter().uint64(1).text('a:1').body());

t.test('handshake, then a response split across chunks', async (t) => {
  const { stream, written, feed } = pipePair();
  const c = Connection.open(stream, 'a:1', 1000);
  const p = c.call(leaderRequest(), Response.Node);
  feed(nodeResponse.subarray(0, 3));
  feed(nodeResponse.subarray(3, 11));
  feed(nodeResponse.subarray(11));
  const f = await p;
  t.equal(f.type, Response.Node);
  t.same(written[0], Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]), 'protocol version 1 first');
  t.same(written[1], leaderRequest());
  // Two responses in one chunk.
  const q1 = c.call(leaderRequest(), Response.Node);
  feed(Buffer.concat([nodeResponse, nodeResponse]));
  await q1;
  await c.read(Response.Node);
  c.close();
});

t.test('FAILURE and an unexpected type', async (t) => {
  const { stream, feed } = pipePair();
  const c = Connection.open(stream, 'a:1', 1000);
  const p = c.call(leaderRequest(), Response.Node);
  feed(encodeMessage(Response.Failure, new BodyWriter().uint64(10250).text('not leader').body()));
  await t.rejects(p, { code: 'SQLITE_IOERR_NOT_LEADER', sqliteCode: 10250, message: 'not leader' });
  const q = c.call(leaderRequest(), Response.Db);
  feed(nodeResponse);
  await t.rejects(q, { code: 'EPROTO' });
  t.ok(c.broken, 'a protocol error ends the connection');
});

t.test('a dropped connection and a timeout', async (t) => {
  const { stream } = pipePair();
  const c = Connection.open(stream, 'a:1', 1000);
  const p = c.call(leaderRequest(), Response.Node);
  stream.destroy();
  const inFlight = (await p.catch((e: unknown) => e)) as DqliteError;
  t.equal(inFlight.code, 'ECONNLOST');
  t.notOk(inFlight.notSent, 'in flight: maybe applied');
  const later = (await c.call(leaderRequest(), Response.Node).catch((e: unknown) => e)) as DqliteError;
  t.equal(later.code, 'ECONNLOST');
  t.ok(later.notSent, 'after the drop: never sent');

  const slow = Connection.open(pipePair().stream, 'b:2', 50);
  await t.rejects(slow.call(leaderRequest(), Response.Node), { code: 'ETIMEDOUT' });
  t.ok(slow.broken);
});

t.test('what may move to the next leader', async (t) => {
  const notLeader = new DqliteError('not leader', 'SQLITE_IOERR_NOT_LEADER', 10250);
  const lost = new DqliteError('disk I/O error', 'SQLITE_IOERR_LEADERSHIP_LOST', 10506);
  const dropped = new DqliteError('closed', 'ECONNLOST');
  const unsent = Object.assign(new DqliteError('closed', 'ECONNLOST'), { notSent: true });
  t.ok(retryable(notLeader, false), 'refused unseen: always');
  t.ok(retryable(unsent, false), 'never written: always');
  t.notOk(retryable(lost, false), 'a write during leadership loss: never');
  t.notOk(retryable(dropped, false), 'a write in flight: never');
  t.ok(retryable(lost, true), 'a read: yes');
  t.ok(retryable(dropped, true), 'a read in flight: yes');
});
