import t from 'tap';
import {
  decodeDirEntries,
  decodeReply,
  decodeStatvfs,
  encodeRequest,
  FF_REQ_SIZE,
  FF_RESP_SIZE,
  FfFlag,
  FfOp,
  fileType,
} from '../../lib/native/forkfile-wire';

/** A struct ff_stat as the helper writes it. */
function statBytes(mode: number, uid: number, size: number, mtime: number): Buffer {
  const b = Buffer.alloc(56);
  b.writeUInt32LE(mode, 0);
  b.writeUInt32LE(uid, 4);
  b.writeUInt32LE(uid + 1, 8);
  b.writeUInt32LE(2, 12);
  b.writeBigUInt64LE(BigInt(size), 16);
  b.writeBigInt64LE(BigInt(mtime), 32);
  b.writeUInt32LE(123, 52);
  return b;
}

t.test('requests have the C layout (struct ff_req + two strings)', async (t) => {
  const b = encodeRequest({ op: FfOp.OPEN, flags: FfFlag.O_WRITE | FfFlag.MODE_SET, mode: 0o640, uid: 5, path: '/a/é', path2: 'x', a: 7, b: -1 });
  t.equal(b.readUInt32LE(0), FfOp.OPEN);
  t.equal(b.readUInt32LE(4), FfFlag.O_WRITE | FfFlag.MODE_SET);
  t.equal(b.readUInt32LE(8), 0o640);
  t.equal(b.readInt32LE(12), 5);
  t.equal(b.readInt32LE(16), -1, 'an absent gid is -1');
  t.equal(b.readUInt32LE(20), Buffer.byteLength('/a/é'), 'lengths in bytes');
  t.equal(b.readUInt32LE(24), 1);
  t.equal(b.readBigInt64LE(32), 7n);
  t.equal(b.readBigInt64LE(40), -1n);
  t.equal(b.subarray(FF_REQ_SIZE).toString(), '/a/éx');
  t.throws(() => encodeRequest({ op: FfOp.STAT, path: 'a\0b' }), TypeError, 'NUL bytes are refused');
  t.throws(() => encodeRequest({ op: FfOp.STAT, path: '/'.repeat(4097) }), RangeError, 'so are paths beyond PATH_MAX');
});

t.test('replies decode (struct ff_resp, listings, statvfs)', async (t) => {
  const head = Buffer.alloc(16);
  head.writeInt32LE(0, 0);
  head.writeUInt32LE(2, 4);
  head.writeUInt32LE(0, 8);
  const r = decodeReply(Buffer.concat([head, statBytes(0o100644, 1000, 2 ** 40, 1700000000), Buffer.from('tail')]));
  t.equal(r.err, 0);
  t.equal(r.flags, 2);
  t.same([r.stat.mode, r.stat.uid, r.stat.gid, r.stat.nlink, r.stat.size, r.stat.mtime, r.stat.mtimeNsec], [0o100644, 1000, 1001, 2, 2 ** 40, 1700000000, 123]);
  t.equal(r.payload.toString(), 'tail');
  t.equal(FF_RESP_SIZE, 72);
  t.throws(() => decodeReply(Buffer.alloc(10)));

  const entry = (name: string, mode: number): Buffer => {
    const len = Buffer.alloc(2);
    len.writeUInt16LE(Buffer.byteLength(name));
    return Buffer.concat([statBytes(mode, 0, 1, 0), len, Buffer.from(name)]);
  };
  const list = decodeDirEntries(Buffer.concat([entry('a', 0o040755), entry('ünï', 0o120777)]), 2);
  t.same(list.map((e) => [e.name, fileType(e.stat.mode)]), [['a', 'directory'], ['ünï', 'symlink']]);
  t.throws(() => decodeDirEntries(entry('abc', 0).subarray(0, 58), 1), /truncated/);

  const v = Buffer.alloc(88);
  for (let i = 0; i < 11; i++) v.writeBigUInt64LE(BigInt(i + 1), i * 8);
  t.same(decodeStatvfs(v), { bsize: 1, frsize: 2, blocks: 3, bfree: 4, bavail: 5, files: 6, ffree: 7, favail: 8, fsid: 9, flag: 10, namemax: 11 });
});
