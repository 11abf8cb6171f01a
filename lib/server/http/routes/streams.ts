/**
 * `/streams/v1/index.json`, `/streams/v1/images.json` and the files they
 * point at: this daemon's public images as a simplestreams server, so
 * another daemon or client can add it as a `simplestreams` remote.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { indexFor } from '../../../simplestreams/build';
import { errorResponse } from '../../response';
import type { DaemonState } from '../../state';
import { StreamServer } from '../../images/stream-server';
import { projectOf } from '../request';

export function registerStreams(app: FastifyInstance, s: DaemonState): void {
  const stream = new StreamServer({ db: s.db, images: s.images });

  app.get('/streams/v1/index.json', async (req, reply) => {
    const products = await stream.products(await projectOf(s, req));
    return reply.header('Content-Type', 'application/json').send(JSON.stringify(indexFor(products)));
  });

  app.get('/streams/v1/images.json', async (req, reply) => {
    return reply.header('Content-Type', 'application/json').send(JSON.stringify(await stream.products(await projectOf(s, req))));
  });

  app.get<{ Params: { fingerprint: string; file: string } }>('/streams/images/:fingerprint/:file', async (req, reply) => {
    const file = await stream.file(await projectOf(s, req), req.params.fingerprint, req.params.file);
    const st = file ? await stat(file).catch(() => null) : null;
    if (!file || !st) return reply.code(404).send(errorResponse(404, 'Image not found'));
    return reply
      .header('Content-Type', 'application/octet-stream')
      .header('Content-Length', String(st.size))
      .send(createReadStream(file));
  });
}
