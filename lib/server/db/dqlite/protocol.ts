/**
 * dqlite wire protocol, version 1 (dqlite.io "protocol" page; dqlite 1.11
 * src/request.h, response.h, tuple.c, query.c): message bodies built and
 * read as 8-byte words. Pure encoding and decoding, no I/O.
 *
 * Every message is an 8-byte header (uint32 body size in words, uint8 type,
 * uint8 schema, uint16 unused) and a body that is a whole number of words.
 * Integers are little endian; a text is UTF-8, NUL-terminated and padded with
 * zeros to a word boundary; a blob is a uint64 length then the bytes padded.
 */

/** Sent once as a uint64 right after connecting. */
export const PROTOCOL_VERSION = 1n;

export const HEADER_SIZE = 8;
const WORD = 8;

/** Request types. */
export const Request = {
  Leader: 0,
  Client: 1,
  Heartbeat: 2,
  Open: 3,
  Prepare: 4,
  Exec: 5,
  Query: 6,
  Finalize: 7,
  ExecSql: 8,
  QuerySql: 9,
  Interrupt: 10,
  Add: 12,
  Assign: 13,
  Remove: 14,
  Dump: 15,
  Cluster: 16,
  Transfer: 17,
  Describe: 18,
  Weight: 19,
} as const;

/** Response types. */
export const Response = {
  Failure: 0,
  Node: 1,
  Welcome: 2,
  Nodes: 3,
  Db: 4,
  Stmt: 5,
  Result: 6,
  Rows: 7,
  Empty: 8,
  Files: 9,
  Metadata: 10,
} as const;

/** Value type codes in parameter and row tuples. */
export const ValueType = {
  Integer: 1,
  Float: 2,
  Text: 3,
  Blob: 4,
  Null: 5,
  UnixTime: 9,
  Iso8601: 10,
  Boolean: 11,
} as const;

/** Ends the rows of a ROWS response: more follow in another response. */
export const ROWS_PART = 0xeeeeeeeeeeeeeeeen;
/** Ends the rows of the last ROWS response. */
export const ROWS_DONE = 0xffffffffffffffffn;

/** Cluster request format 1: id, address and role per member. */
export const CLUSTER_FORMAT_V1 = 1;

/** Raft roles as dqlite numbers them. */
export const Role = { voter: 0, standby: 1, spare: 2 } as const;
export type RoleName = keyof typeof Role;

/** A statement parameter. Booleans go as integers 0/1; integral numbers as INTEGER, others as FLOAT. */
export type SqlParam = number | bigint | string | Buffer | Uint8Array | boolean | null | undefined;
/** A column value as read back: INTEGER beyond 2^53 comes as bigint. */
export type SqlValue = number | bigint | string | Buffer | null;

/** A decoded message: its type, schema and body. */
export interface Frame {
  type: number;
  schema: number;
  body: Buffer;
}

/** Reads the 8-byte header: body size in bytes, type and schema. */
export function decodeHeader(buf: Buffer, offset = 0): { size: number; type: number; schema: number } {
  return { size: buf.readUInt32LE(offset) * WORD, type: buf.readUInt8(offset + 4), schema: buf.readUInt8(offset + 5) };
}

function pad(n: number): number {
  return (n + WORD - 1) & ~(WORD - 1);
}

/** Builds one message body word by word. */
export class BodyWriter {
  private buf = Buffer.alloc(256);
  private off = 0;

  private room(n: number): void {
    if (this.off + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.off + n) size *= 2;
    const next = Buffer.alloc(size);
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
  }

  uint8(v: number): this {
    this.room(1);
    this.buf.writeUInt8(v, this.off);
    this.off += 1;
    return this;
  }

  uint32(v: number): this {
    this.room(4);
    this.buf.writeUInt32LE(v, this.off);
    this.off += 4;
    return this;
  }

  uint64(v: number | bigint): this {
    this.room(8);
    this.buf.writeBigUInt64LE(BigInt(v), this.off);
    this.off += 8;
    return this;
  }

  int64(v: number | bigint): this {
    this.room(8);
    this.buf.writeBigInt64LE(BigInt(v), this.off);
    this.off += 8;
    return this;
  }

  float64(v: number): this {
    this.room(8);
    this.buf.writeDoubleLE(v, this.off);
    this.off += 8;
    return this;
  }

  text(v: string): this {
    const bytes = Buffer.from(v, 'utf8');
    if (bytes.includes(0)) throw new TypeError('dqlite: text values cannot contain NUL characters (pass a Buffer)');
    const n = pad(bytes.length + 1);
    this.room(n);
    bytes.copy(this.buf, this.off);
    this.off += n; // the NUL and padding are already zero
    return this;
  }

  blob(v: Uint8Array): this {
    this.uint64(v.length);
    const n = pad(v.length);
    this.room(n);
    this.buf.set(v, this.off);
    this.off += n;
    return this;
  }

  /** Zero bytes up to the next word boundary. */
  align(): this {
    const n = pad(this.off) - this.off;
    this.room(n);
    this.off += n;
    return this;
  }

  /** The body (a whole number of words). */
  body(): Buffer {
    this.align();
    return this.buf.subarray(0, this.off);
  }
}

/** Header plus body of one request; the body must be a whole number of words. */
export function encodeMessage(type: number, body: Buffer, schema = 0): Buffer {
  if (body.length === 0 || body.length % WORD !== 0) throw new RangeError('dqlite: a message body is one or more whole words');
  const header = Buffer.alloc(HEADER_SIZE);
  header.writeUInt32LE(body.length / WORD, 0);
  header.writeUInt8(type, 4);
  header.writeUInt8(schema, 5);
  return Buffer.concat([header, body]);
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** An int64 as a number when it is exact, else a bigint. */
function narrow(v: bigint): number | bigint {
  return v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : v;
}

/** The type code a parameter is sent with. */
function paramType(v: SqlParam): number {
  if (v === null || v === undefined) return ValueType.Null;
  switch (typeof v) {
    case 'boolean':
    case 'bigint':
      return ValueType.Integer;
    case 'number':
      return Number.isInteger(v) ? ValueType.Integer : ValueType.Float;
    case 'string':
      return ValueType.Text;
    default:
      if (v instanceof Uint8Array) return ValueType.Blob;
      throw new TypeError(`dqlite: unsupported parameter type ${Object.prototype.toString.call(v)}`);
  }
}

/**
 * Appends a parameter tuple (schema 0): a uint8 count, one type byte per
 * value, zero padding to a word boundary, then the values. Nothing at all
 * for no parameters (dqlite then binds none).
 */
export function writeParams(w: BodyWriter, params: readonly SqlParam[]): void {
  if (params.length === 0) return;
  if (params.length > 255) throw new RangeError('dqlite: at most 255 parameters per statement');
  const types = params.map(paramType);
  w.uint8(params.length);
  for (const t of types) w.uint8(t);
  w.align();
  params.forEach((v, i) => {
    switch (types[i]) {
      case ValueType.Null:
        w.uint64(0);
        break;
      case ValueType.Integer:
        if (typeof v === 'boolean') w.int64(v ? 1 : 0);
        else if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new RangeError(`dqlite: integer parameter ${v} is not exact; pass a bigint`);
        else w.int64(v as number | bigint);
        break;
      case ValueType.Float:
        w.float64(v as number);
        break;
      case ValueType.Text:
        w.text(v as string);
        break;
      case ValueType.Blob:
        w.blob(v as Uint8Array);
        break;
    }
  });
}

/** Reads a message body word by word; throws a RangeError on a short or malformed body. */
export class BodyReader {
  private off = 0;
  constructor(private readonly buf: Buffer) {}

  get remaining(): number {
    return this.buf.length - this.off;
  }

  private need(n: number): void {
    if (this.off + n > this.buf.length) throw new RangeError('dqlite: short message body');
  }

  uint8(): number {
    this.need(1);
    return this.buf.readUInt8(this.off++);
  }

  peekUint8(): number {
    this.need(1);
    return this.buf.readUInt8(this.off);
  }

  uint32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.off);
    this.off += 4;
    return v;
  }

  uint64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64LE(this.off);
    this.off += 8;
    return v;
  }

  /** A uint64 that must fit a number exactly (ids, counts, codes). */
  uint64n(): number {
    const v = this.uint64();
    if (v > MAX_SAFE) throw new RangeError(`dqlite: value ${v} does not fit a number`);
    return Number(v);
  }

  int64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64LE(this.off);
    this.off += 8;
    return v;
  }

  float64(): number {
    this.need(8);
    const v = this.buf.readDoubleLE(this.off);
    this.off += 8;
    return v;
  }

  text(): string {
    const end = this.buf.indexOf(0, this.off);
    if (end < 0) throw new RangeError('dqlite: unterminated text in message body');
    const s = this.buf.toString('utf8', this.off, end);
    this.off = Math.min(this.buf.length, this.off + pad(end - this.off + 1));
    return s;
  }

  blob(): Buffer {
    const len = this.uint64n();
    this.need(pad(len));
    const out = Buffer.from(this.buf.subarray(this.off, this.off + len));
    this.off += pad(len);
    return out;
  }

  /** n raw bytes (a view into the body). */
  bytes(n: number): Buffer {
    this.need(n);
    const out = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return out;
  }

  skip(n: number): void {
    this.need(n);
    this.off += n;
  }
}

/** A FAILURE response: SQLite (extended) result code and message. */
export function decodeFailure(body: Buffer): { code: number; message: string } {
  const r = new BodyReader(body);
  return { code: r.uint64n(), message: r.text() };
}

/** One batch of rows from a ROWS response, and whether more batches follow. */
export interface RowsBatch {
  columns: string[];
  rows: SqlValue[][];
  more: boolean;
}

/**
 * Decodes a ROWS response: uint64 column count, the column names, then rows
 * (a header of 4 bits per column with the type codes, padded to a word, then
 * the values), then ROWS_PART or ROWS_DONE. The marker is told apart from a
 * row header by its first byte: a header byte holds two codes below 16.
 */
export function decodeRows(body: Buffer): RowsBatch {
  const r = new BodyReader(body);
  const n = r.uint64n();
  const columns: string[] = [];
  for (let i = 0; i < n; i++) columns.push(r.text());
  const rows: SqlValue[][] = [];
  const headerSize = pad(Math.ceil(n / 2));
  for (;;) {
    const first = r.peekUint8();
    if (first === 0xee || first === 0xff) {
      const marker = r.uint64();
      if (marker !== ROWS_PART && marker !== ROWS_DONE) throw new RangeError('dqlite: bad end-of-rows marker');
      return { columns, rows, more: marker === ROWS_PART };
    }
    const types: number[] = [];
    for (let i = 0; i < headerSize; i++) {
      const b = r.uint8();
      types.push(b & 0x0f, b >> 4);
    }
    const row: SqlValue[] = [];
    for (let i = 0; i < n; i++) row.push(readValue(r, types[i]));
    rows.push(row);
  }
}

function readValue(r: BodyReader, type: number): SqlValue {
  switch (type) {
    case ValueType.Integer:
    case ValueType.UnixTime:
    case ValueType.Boolean:
      return narrow(r.int64());
    case ValueType.Float:
      return r.float64();
    case ValueType.Text:
      return r.text();
    case ValueType.Iso8601: {
      const s = r.text();
      return s === '' ? null : s; // dqlite sends a NULL DATETIME as ""
    }
    case ValueType.Blob:
      return r.blob();
    case ValueType.Null:
      r.uint64();
      return null;
    default:
      throw new RangeError(`dqlite: unknown value type ${type}`);
  }
}

/** A RESULT response. */
export function decodeResult(body: Buffer): { lastInsertId: number | bigint; rowsAffected: number } {
  const r = new BodyReader(body);
  return { lastInsertId: narrow(BigInt.asIntN(64, r.uint64())), rowsAffected: r.uint64n() };
}

/** A member as CLUSTER (format 1) describes it. */
export interface NodeInfo {
  id: number;
  address: string;
  role: RoleName;
}

const roleNames: RoleName[] = ['voter', 'standby', 'spare'];

/** A SERVERS response in format 1. */
export function decodeNodes(body: Buffer): NodeInfo[] {
  const r = new BodyReader(body);
  const n = r.uint64n();
  const out: NodeInfo[] = [];
  for (let i = 0; i < n; i++) {
    const id = r.uint64n();
    const address = r.text();
    const role = roleNames[r.uint64n()];
    if (!role) throw new RangeError('dqlite: unknown role in cluster response');
    out.push({ id, address, role });
  }
  return out;
}

/** A SERVER response: the leader's id and address (0 and "" when none is known). */
export function decodeNode(body: Buffer): { id: number; address: string } {
  const r = new BodyReader(body);
  return { id: r.uint64n(), address: r.text() };
}

/** A FILES response (DUMP): the database file and its WAL. */
export function decodeFiles(body: Buffer): Array<{ name: string; data: Buffer }> {
  const r = new BodyReader(body);
  const n = r.uint64n();
  const out: Array<{ name: string; data: Buffer }> = [];
  for (let i = 0; i < n; i++) {
    const name = r.text();
    const len = r.uint64n();
    out.push({ name, data: Buffer.from(r.bytes(len)) });
    r.skip(pad(len) - len);
  }
  return out;
}
