/**
 * dqlite wire protocol encoding and decoding against byte layouts written
 * out by hand from dqlite's protocol description (canonical.com/dqlite
 * "Wire protocol"; dqlite 1.11 src/request.h, response.h, tuple.c, query.c):
 * an 8-byte header (body words, type, schema, unused), little-endian words,
 * NUL-terminated texts padded to 8 bytes, parameter tuples with one type
 * byte each, row tuples with 4 bits per column.
 */
import t from 'tap';
import { decodeFailure, decodeHeader, decodeNode, decodeNodes, decodeResult, decodeRows, ROWS_DONE, ROWS_PART } from '../../lib/server/db/dqlite/protocol';
import { assignRequest, clusterRequest, leaderRequest, openRequest, sqlRequest } from '../../lib/server/db/dqlite/requests';
import { DqliteError } from '../../lib/server/db/dqlite/errors';

/** Bytes from a list of numbers and strings (each string's UTF-8 bytes). */
function bytes(...parts: Array<number | string | number[]>): Buffer {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === 'number') out.push(p);
    else if (typeof p === 'string') out.push(...Buffer.from(p, 'utf8'));
    else out.push(...p);
  }
  return Buffer.from(out);
}
const zeros = (n: number): number[] => new Array<number>(n).fill(0);
/** A little-endian 64-bit word. */
function u64(v: bigint | number): number[] {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)));
  return [...b];
}

t.test('LEADER: one unused word', async (t) => {
  t.same(leaderRequest(), bytes([1, 0, 0, 0], 0, 0, 0, 0, zeros(8)));
});

t.test('OPEN: name, flags, vfs', async (t) => {
  // "test.db\0" fills one word; flags 0; "" is a NUL padded to one word.
  t.same(openRequest('test.db'), bytes([3, 0, 0, 0], 3, 0, 0, 0, 'test.db', 0, u64(0), zeros(8)));
});

t.test('EXEC_SQL with integer, text, null, float, blob and boolean parameters', async (t) => {
  const msg = sqlRequest(8, 0, 'SELECT ?', [1, 'a', null, 1.5, Buffer.from([9, 8, 7]), true]);
  const f = 1.5;
  const fb = Buffer.alloc(8);
  fb.writeDoubleLE(f);
  const body = bytes(
    u64(0), // db id
    'SELECT ?', 0, zeros(7), // 9 bytes padded to 16
    6, 1, 3, 5, 2, 4, 1, 0, // count 6, types int text null float blob int(bool), padded to a word
    u64(1),
    'a', 0, zeros(6),
    u64(0), // null
    [...fb],
    u64(3), 9, 8, 7, zeros(5), // blob: length then bytes padded
    u64(1), // true
  );
  t.equal(body.length % 8, 0);
  t.same(msg, Buffer.concat([bytes([body.length / 8, 0, 0, 0], 8, 0, 0, 0), body]));
});

t.test('parameter header padding: 8 parameters need two words of types', async (t) => {
  const msg = sqlRequest(8, 0, 'x', [1, 2, 3, 4, 5, 6, 7, 8]);
  const params = msg.subarray(8 + 8 + 8); // header, db id, "x\0" padded
  t.same(params.subarray(0, 16), bytes(8, 1, 1, 1, 1, 1, 1, 1, 1, zeros(7)));
  t.same(params.subarray(16, 24), bytes(u64(1)));
  t.equal(params.length, 16 + 8 * 8);
});

t.test('no parameters: nothing after the sql text', async (t) => {
  t.same(sqlRequest(9, 0, 'SELECT 1', []), bytes([3, 0, 0, 0], 9, 0, 0, 0, u64(0), 'SELECT 1', zeros(8)));
});

t.test('parameter checks', async (t) => {
  t.throws(() => sqlRequest(8, 0, 'x', [2 ** 60]), RangeError, 'inexact integer');
  t.throws(() => sqlRequest(8, 0, 'x', ['a\0b']), TypeError, 'NUL in text');
  t.throws(() => sqlRequest(8, 0, 'x', [{} as unknown as string]), TypeError, 'object');
  t.throws(() => sqlRequest(8, 0, 'x', new Array(256).fill(1)), RangeError, 'more than 255');
  // Big integers go as int64 two's complement.
  t.same(sqlRequest(8, 0, 'x', [-2n]).subarray(-8), bytes(u64(-2n)));
});

t.test('ASSIGN and CLUSTER', async (t) => {
  t.same(assignRequest(3, 'standby'), bytes([2, 0, 0, 0], 13, 0, 0, 0, u64(3), u64(1)));
  t.same(clusterRequest(), bytes([1, 0, 0, 0], 16, 0, 0, 0, u64(1)));
});

t.test('header', async (t) => {
  t.same(decodeHeader(bytes([2, 1, 0, 0], 7, 1, 0, 0)), { size: 258 * 8, type: 7, schema: 1 });
});

t.test('ROWS: two columns, two rows, done', async (t) => {
  const body = bytes(
    u64(2), 'id', 0, zeros(5), 'name', 0, zeros(3),
    0x31, zeros(7), u64(7), 'x', 0, zeros(6), // INTEGER, TEXT
    0x54, zeros(7), u64(3), 1, 2, 3, zeros(5), u64(0), // BLOB, NULL (first column in the low nibble)
    u64(ROWS_DONE),
  );
  t.same(decodeRows(body), { columns: ['id', 'name'], rows: [[7, 'x'], [Buffer.from([1, 2, 3]), null]], more: false });
});

t.test('ROWS: a partial batch, special types, big integers', async (t) => {
  const f = Buffer.alloc(8);
  f.writeDoubleLE(-2.5);
  const body = bytes(
    u64(3), 'a', 0, zeros(6), 'b', 0, zeros(6), 'c', 0, zeros(6),
    0xa2, 0x0b, zeros(6), [...f], zeros(8), u64(1), // FLOAT, ISO8601 "" (NULL), BOOLEAN
    0x19, 0x01, zeros(6), u64(1700000000), u64(2n ** 62n), u64(-1), // UNIXTIME, INTEGER, INTEGER
    u64(ROWS_PART),
  );
  t.same(decodeRows(body), {
    columns: ['a', 'b', 'c'],
    rows: [[-2.5, null, 1], [1700000000, 2n ** 62n, -1]],
    more: true,
  });
});

t.test('FAILURE, RESULT, SERVER, SERVERS', async (t) => {
  const failure = decodeFailure(bytes(u64(2067), 'UNIQUE constraint failed: t.id', 0, zeros(1)));
  t.same(failure, { code: 2067, message: 'UNIQUE constraint failed: t.id' });
  const err = DqliteError.fromFailure(failure.code, failure.message);
  t.equal(err.code, 'SQLITE_CONSTRAINT_UNIQUE');
  t.equal(DqliteError.fromFailure(10250, 'not leader').code, 'SQLITE_IOERR_NOT_LEADER');
  t.equal(DqliteError.fromFailure(1, 'x').code, 'SQLITE_ERROR');
  t.same(decodeResult(bytes(u64(5), u64(2))), { lastInsertId: 5, rowsAffected: 2 });
  t.same(decodeNode(bytes(u64(2), '10.0.0.2:8443', 0, zeros(2))), { id: 2, address: '10.0.0.2:8443' });
  t.same(decodeNode(bytes(u64(0), zeros(8))), { id: 0, address: '' });
  t.same(
    decodeNodes(bytes(u64(2), u64(1), '127.0.0.1:9001', 0, zeros(1), u64(0), u64(2), '127.0.0.1:9002', 0, zeros(1), u64(2))),
    [{ id: 1, address: '127.0.0.1:9001', role: 'voter' }, { id: 2, address: '127.0.0.1:9002', role: 'spare' }],
  );
  t.throws(() => decodeResult(bytes(u64(5))), RangeError, 'short body');
});
