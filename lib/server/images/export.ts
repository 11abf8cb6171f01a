/** Export of a split image: both files in one multipart/form-data body, as Incus sends them. */
import { randomBytes } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { type ImageType, imageFileExtension } from './image-type';

/** Resolves once `s` takes writes again, or is closed. */
function drained(s: PassThrough): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      s.off('drain', done);
      s.off('close', done);
      resolve();
    };
    s.on('drain', done);
    s.on('close', done);
  });
}

/** A multipart body ready to send. */
export interface SplitBody {
  contentType: string;
  length: number;
  stream: Readable;
}

/**
 * Both files of a split image as one multipart/form-data stream, named as
 * Incus names them: `meta-<fp><ext>` and `<fp><ext>` with each extension
 * from the file's content, the rootfs part called "rootfs.img" for a VM
 * image and "rootfs" otherwise (what POST /1.0/images takes back).
 */
export async function splitImageBody(metadataFile: string, rootfsFile: string, fingerprint: string, type: ImageType): Promise<SplitBody> {
  const boundary = randomBytes(16).toString('hex');
  const parts = [
    { field: 'metadata', file: metadataFile, name: `meta-${fingerprint}${await imageFileExtension(metadataFile)}` },
    { field: type === 'virtual-machine' ? 'rootfs.img' : 'rootfs', file: rootfsFile, name: `${fingerprint}${await imageFileExtension(rootfsFile)}` },
  ];
  const head = (p: (typeof parts)[number]): string =>
    `--${boundary}\r\nContent-Disposition: form-data; name="${p.field}"; filename="${p.name}"\r\nContent-Type: application/octet-stream\r\n\r\n`;
  const tail = `--${boundary}--\r\n`;
  const length = parts.reduce((n, p) => n + Buffer.byteLength(head(p)) + statSync(p.file).size + 2, 0) + Buffer.byteLength(tail);
  const out = new PassThrough();
  void (async () => {
    try {
      for (const p of parts) {
        out.write(head(p));
        for await (const chunk of createReadStream(p.file)) {
          // A reader gone (request aborted) ends the loop, closing the file.
          if (out.destroyed) return;
          if (!out.write(chunk)) await drained(out);
        }
        out.write('\r\n');
      }
      out.end(tail);
    } catch (err) {
      out.destroy(err as Error);
    }
  })();
  return { contentType: `multipart/form-data; boundary=${boundary}`, length, stream: out };
}

/** Sends a split image's files as GET /1.0/images/{fp}/export answers them. */
export async function sendSplitExport(reply: FastifyReply, metadataFile: string, rootfsFile: string, fingerprint: string, type: ImageType): Promise<FastifyReply> {
  const body = await splitImageBody(metadataFile, rootfsFile, fingerprint, type);
  return reply.header('Content-Type', body.contentType).header('Content-Length', String(body.length)).send(body.stream);
}
