import t from 'tap';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { fixPartHeaders, lenientMultipart, multipartBoundary } from '../../../lib/server/images/multipart-lenient';

/** A body as Incus's test/deps/import-busybox builds it: unquoted names and a trailing ';'. */
function body(boundary: string, parts: [string, Buffer][]): Buffer {
  const out: Buffer[] = [];
  for (const [name, data] of parts) {
    out.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name=${name};\r\nContent-Type: application/octet-stream\r\n\r\n`));
    out.push(data, Buffer.from('\r\n'));
  }
  out.push(Buffer.from(`--${boundary}--\r\n\r\n`));
  return Buffer.concat(out);
}

async function through(input: Buffer, boundary: string, chunk: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < input.length; i += chunk) chunks.push(input.subarray(i, i + chunk));
  const out: Buffer[] = [];
  for await (const b of Readable.from(chunks).pipe(lenientMultipart(boundary))) out.push(b as Buffer);
  return Buffer.concat(out);
}

t.test('multipartBoundary reads plain and quoted boundaries', async (t) => {
  t.equal(multipartBoundary('multipart/form-data; boundary=abc-1'), 'abc-1');
  t.equal(multipartBoundary('multipart/form-data; boundary="a b"'), 'a b');
  t.equal(multipartBoundary('application/octet-stream'), null);
  t.equal(multipartBoundary(undefined), null);
});

t.test('fixPartHeaders drops a trailing semicolon from Content-Disposition only', async (t) => {
  t.equal(fixPartHeaders('\r\nContent-Disposition: form-data; name=metadata;\r\nX-A: b;\r\n\r\n'), '\r\nContent-Disposition: form-data; name=metadata\r\nX-A: b;\r\n\r\n');
  t.equal(fixPartHeaders('\r\ncontent-disposition: form-data; name="x" ; \r\n\r\n'), '\r\ncontent-disposition: form-data; name="x"\r\n\r\n');
});

t.test('part bodies pass through byte for byte whatever the chunking', async (t) => {
  const boundary = 'b7c1-9f';
  // Data that contains a near-delimiter and header-like bytes.
  const meta = Buffer.concat([randomBytes(3000), Buffer.from(`\r\n--${boundary.slice(0, 4)}x\r\nContent-Disposition: a;\r\n\r\n`), randomBytes(100)]);
  const rootfs = randomBytes(70000);
  const input = body(boundary, [['metadata', meta], ['rootfs', rootfs]]);
  const expected = Buffer.from(input.toString('latin1').replace(/name=(metadata|rootfs);\r\n/g, 'name=$1\r\n'), 'latin1');
  for (const size of [1, 7, 64, 4096, input.length]) {
    t.ok((await through(input, boundary, size)).equals(expected), `chunks of ${size}`);
  }
});

t.test('busboy sees both parts as files after the rewrite', async (t) => {
  const boundary = 'xyz';
  const input = body(boundary, [['metadata', Buffer.from('M')], ['rootfs', Buffer.from('R')]]);
  const busboy = (require('busboy') as typeof import('busboy'))({ headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } });
  const seen: string[] = [];
  busboy.on('file', (name, stream) => {
    const parts: Buffer[] = [];
    stream.on('data', (b: Buffer) => parts.push(b));
    stream.on('end', () => seen.push(`${name}=${Buffer.concat(parts).toString()}`));
  });
  await new Promise<void>((resolve, reject) => {
    busboy.on('close', resolve);
    busboy.on('error', reject);
    Readable.from([input]).pipe(lenientMultipart(boundary)).pipe(busboy);
  });
  t.same(seen, ['metadata=M', 'rootfs=R']);
});
