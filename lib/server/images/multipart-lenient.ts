/**
 * Go's mime.ParseMediaType accepts a Content-Disposition with a trailing
 * semicolon (`form-data; name=metadata;`), which some Incus clients send
 * (Incus's own test tool import-busybox does); busboy rejects such a header
 * and drops the part. This stream rewrites only the part headers of a
 * multipart body, dropping that trailing semicolon, and passes every byte of
 * the part bodies through untouched.
 */
import { Transform, type TransformCallback } from 'node:stream';

const HEADER_LIMIT = 64 * 1024;

/** The boundary parameter of a multipart Content-Type, or null. */
export function multipartBoundary(contentType: string | undefined): string | null {
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  return m ? (m[1] ?? m[2] ?? null) : null;
}

/** A part's header block with trailing semicolons removed from Content-Disposition. */
export function fixPartHeaders(block: string): string {
  return block.replace(/^(content-disposition:[^\r\n]*?)[ \t;]+(?=\r\n)/gim, '$1');
}

/** Transform over a multipart/form-data body with `boundary` (see the file comment). */
export function lenientMultipart(boundary: string): Transform {
  // The first delimiter has no CRLF before it: two virtual bytes make it look like the others.
  const delim = Buffer.from(`\r\n--${boundary}`, 'latin1');
  let buf: Buffer = Buffer.from('\r\n', 'latin1');
  let skip = 2;
  let state: 'body' | 'after-delim' | 'headers' | 'epilogue' = 'body';

  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const emit = (b: Buffer): void => {
        const out = skip > 0 ? b.subarray(Math.min(skip, b.length)) : b;
        skip -= Math.min(skip, b.length);
        if (out.length > 0) this.push(out);
      };
      for (;;) {
        if (state === 'body') {
          const i = buf.indexOf(delim);
          if (i < 0) {
            const keep = Math.min(buf.length, delim.length - 1);
            emit(buf.subarray(0, buf.length - keep));
            buf = buf.subarray(buf.length - keep);
            break;
          }
          emit(buf.subarray(0, i + delim.length));
          buf = buf.subarray(i + delim.length);
          state = 'after-delim';
        } else if (state === 'after-delim') {
          if (buf.length < 2) break;
          state = buf[0] === 0x2d && buf[1] === 0x2d ? 'epilogue' : 'headers';
        } else if (state === 'headers') {
          const i = buf.indexOf('\r\n\r\n', 0, 'latin1');
          if (i < 0) {
            if (buf.length <= HEADER_LIMIT) break;
            state = 'body'; // not a header block after all: let busboy judge it
            continue;
          }
          emit(Buffer.from(fixPartHeaders(buf.subarray(0, i + 4).toString('latin1')), 'latin1'));
          buf = buf.subarray(i + 4);
          state = 'body';
        } else {
          emit(buf);
          buf = Buffer.alloc(0);
          break;
        }
      }
      done();
    },
    flush(done: TransformCallback): void {
      const out = buf.subarray(Math.min(skip, buf.length));
      if (out.length > 0) this.push(out);
      done();
    },
  });
}
