/**
 * The agent wire format on the host side: frames encode as
 * [u32 channel BE][u32 length BE][payload], decode across any chunking,
 * and a length above the limit (guest-controlled) is refused, not buffered.
 */
import t from 'tap';
import {
  AGENT_MAGIC,
  encodeControl,
  encodeFrame,
  FrameDecoder,
  MAX_FRAME,
} from '../../lib/server/instance/drivers/qemu/agent-protocol';

t.test('encodes big-endian channel and length before the payload', async (t) => {
  const f = encodeFrame(0x01020304, Buffer.from('hi'));
  t.same([...f], [1, 2, 3, 4, 0, 0, 0, 2, 0x68, 0x69]);
  t.same([...encodeFrame(7)], [0, 0, 0, 7, 0, 0, 0, 0], 'zero-length frame is EOF');
  const c = encodeControl({ id: 3, op: 'state' });
  t.equal(c.readUInt32BE(0), 0, 'control on channel 0');
  t.same(JSON.parse(c.subarray(8).toString()), { id: 3, op: 'state' });
  t.equal(AGENT_MAGIC.toString('latin1'), 'INCUSAG1');
});

t.test('refuses bad channels and oversized payloads', async (t) => {
  t.throws(() => encodeFrame(-1), RangeError);
  t.throws(() => encodeFrame(2 ** 32), RangeError);
  t.throws(() => encodeFrame(1.5), RangeError);
  t.throws(() => encodeFrame(1, Buffer.alloc(MAX_FRAME + 1)), RangeError);
  t.doesNotThrow(() => encodeFrame(1, Buffer.alloc(MAX_FRAME)));
});

t.test('decodes frames split at every byte and several per chunk', async (t) => {
  const frames = [encodeFrame(0, '{"id":1}'), encodeFrame(5, Buffer.from([0, 1, 2])), encodeFrame(6), encodeFrame(9, 'x'.repeat(70000))];
  const all = Buffer.concat(frames);
  const d = new FrameDecoder();
  const got = [];
  for (let i = 0; i < all.length; i += i < 200 ? 1 : 4096) got.push(...d.push(all.subarray(i, i < 200 ? i + 1 : i + 4096)));
  t.same(got.map((f) => [f.channel, f.payload.length]), [[0, 8], [5, 3], [6, 0], [9, 70000]]);
  t.equal(got[1]!.payload.toString('hex'), '000102');
  t.equal(d.pending, 0);
  const d2 = new FrameDecoder();
  t.same(d2.push(all).map((f) => f.channel), [0, 5, 6, 9], 'all in one chunk');
  t.same(d2.push(all.subarray(0, 11)), [], 'partial frame held');
  t.equal(d2.pending, 11);
});

t.test('a length above the limit throws at the header, before the body arrives', async (t) => {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(1, 0);
  head.writeUInt32BE(MAX_FRAME + 1, 4);
  t.throws(() => new FrameDecoder().push(head), /frame of 1048577 bytes/);
});

t.test('expectMagic: skips bytes before the magic, even split across chunks, and drops later magics', async (t) => {
  const d = new FrameDecoder({ expectMagic: true });
  t.same(d.push(Buffer.concat([Buffer.from('stale\0\0\0\x05junk'), AGENT_MAGIC.subarray(0, 3)])), [], 'nothing before the magic');
  const rest = Buffer.concat([AGENT_MAGIC.subarray(3), encodeFrame(0, '{"id":0}'), AGENT_MAGIC, encodeFrame(4, 'x')]);
  t.same(d.push(rest).map((f) => [f.channel, f.payload.toString()]), [[0, '{"id":0}'], [4, 'x']]);
  t.same(new FrameDecoder({ expectMagic: true }).push(encodeFrame(0, '{}')), [], 'frames before any magic are not trusted');
  t.throws(() => new FrameDecoder().push(AGENT_MAGIC), RangeError, 'without expectMagic the magic is just a bad header');
});
