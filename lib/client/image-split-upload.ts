/**
 * Split image upload (POST /1.0/images as multipart/form-data): a
 * "metadata" part and the rootfs part, named "rootfs.img" for a VM disk
 * (qcow2) and "rootfs" otherwise, as Incus's client sends them.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import type { ImageFileOptions, ImageImportResult, IncusClient } from './client';
import { ApiError, isNotFound } from './errors';
import type { Operation } from './operation';
import { isQcow2File } from '../image-formats/qcow2';

/** Starts streaming `meta` and `rootfs` to POST /1.0/images; resolves with the operation. */
export async function uploadSplitImageFiles(client: IncusClient, meta: string, rootfs: string, opts: ImageFileOptions = {}): Promise<Operation> {
  const vm = rootfs.endsWith('.qcow2') || (await isQcow2File(rootfs));
  const boundary = randomBytes(16).toString('hex');
  const parts = [
    { field: 'metadata', file: meta },
    { field: vm ? 'rootfs.img' : 'rootfs', file: rootfs },
  ];
  const head = (p: (typeof parts)[number]): string =>
    `--${boundary}\r\nContent-Disposition: form-data; name="${p.field}"; filename="${path.basename(p.file)}"\r\nContent-Type: application/octet-stream\r\n\r\n`;
  for (const p of parts) await fs.promises.access(p.file, fs.constants.R_OK);
  const body = new PassThrough();
  void (async () => {
    try {
      for (const p of parts) {
        body.write(head(p));
        for await (const chunk of fs.createReadStream(p.file)) {
          if (!body.write(chunk)) await new Promise((r) => body.once('drain', r));
        }
        body.write('\r\n');
      }
      body.end(`--${boundary}--\r\n`);
    } catch (err) {
      body.destroy(err as Error);
    }
  })();
  const headers: Record<string, string> = { 'Content-Type': `multipart/form-data; boundary=${boundary}` };
  if (opts.filename) headers['X-Incus-filename'] = opts.filename;
  if (opts.public) headers['X-Incus-public'] = 'true';
  if (opts.properties && Object.keys(opts.properties).length > 0) {
    headers['X-Incus-properties'] = new URLSearchParams(opts.properties).toString();
  }
  const env = await client.request('POST', '/1.0/images', { project: opts.project, signal: opts.signal, headers, body });
  if (env.type !== 'async') throw new ApiError(0, `Expected an operation from POST /1.0/images, got a ${env.type} response`);
  const { Operation: Handle } = require('./operation') as typeof import('./operation');
  return new Handle(client, env.operation, opts.project ?? client.project);
}

/**
 * Imports a split image: uploads both files, waits for the operation, then
 * points each alias at it (an existing alias of that name is replaced).
 */
export async function createImageFromFiles(client: IncusClient, meta: string, rootfs: string, opts: ImageFileOptions = {}): Promise<ImageImportResult> {
  const op = await uploadSplitImageFiles(client, meta, rootfs, opts);
  const done = await op.wait(opts.signal);
  const fingerprint = done.metadata?.fingerprint;
  if (typeof fingerprint !== 'string') throw new ApiError(0, 'Bad fingerprint');
  for (const name of opts.aliases ?? []) {
    try {
      await client.deleteImageAlias(name, opts);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    await client.createImageAlias({ name, target: fingerprint, description: '' }, opts);
  }
  return { fingerprint, operation: done };
}
