/** Export of a split image: both files in one multipart/form-data body, as Incus sends them. */
import { randomBytes } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { type ImageType, imageFileExtension } from './image-type';

/**
 * Sends both files; as Incus names them: `meta-<fp><ext>` and `<fp><ext>`
 * with each extension from the file's content, the rootfs part called
 * "rootfs.img" for a VM image and "rootfs" otherwise.
 */
export async function sendSplitExport(reply: FastifyReply, metadataFile: string, rootfsFile: string, fingerprint: string, type: ImageType): Promise<FastifyReply> {
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
          if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
        }
        out.write('\r\n');
      }
      out.end(tail);
    } catch (err) {
      out.destroy(err as Error);
    }
  })();
  return reply
    .header('Content-Type', `multipart/form-data; boundary=${boundary}`)
    .header('Content-Length', String(length))
    .send(out);
}
