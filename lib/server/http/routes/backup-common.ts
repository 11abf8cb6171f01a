/** What instance and custom volume backup routes share: the upload of an import, the rename body's check, the download answer. */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Operation } from '../../../api/operation';
import { badRequest } from '../../errors';
import { validateBackupName } from '../../names';
import type { OperationSpec } from '../../operations/registry';
import { asyncResponse } from '../../response';
import type { DaemonState } from '../../state';

/** The new name a rename body (`{name}`) asks for; a 400 as Incus answers when missing or invalid. */
export function backupNewName(body: unknown): string {
  const name = (body as { name?: unknown } | null)?.name;
  if (typeof name !== 'string' || name === '') throw badRequest('No name provided');
  validateBackupName(name);
  return name;
}

/** Answers with a backup's tarball, streamed from disk. */
export async function sendBackupFile(reply: FastifyReply, path: string): Promise<FastifyReply> {
  const st = await stat(path);
  return reply.header('Content-Type', 'application/octet-stream').header('Content-Length', String(st.size)).send(createReadStream(path));
}

/** The 202 answer of a request that started an operation. */
export const accepted = (reply: FastifyReply, op: Operation): FastifyReply =>
  reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));

/**
 * A backup upload (the request body) stored in a temporary file under
 * `$INCUS_DIR/backups`, then `plan(file)`: it reads and checks the file
 * (400/409 before any change) and says what operation imports it. The
 * file goes when that operation ends, or at once on a failure before.
 */
export async function importUpload(s: DaemonState, req: FastifyRequest, reply: FastifyReply, plan: (file: string) => Promise<OperationSpec>): Promise<FastifyReply> {
  const base = join(s.varDir, 'backups');
  await mkdir(base, { recursive: true, mode: 0o700 });
  const tmp = await mkdtemp(join(base, 'import_'));
  const drop = () => rm(tmp, { recursive: true, force: true });
  try {
    const file = join(tmp, 'backup');
    await pipeline(req.body as Readable, createWriteStream(file, { mode: 0o600 }));
    const spec = await plan(file);
    const op = s.ops.start({
      ...spec,
      run: async (ctx) => {
        try {
          return await spec.run(ctx);
        } finally {
          await drop();
        }
      },
    });
    return accepted(reply, op);
  } catch (err) {
    await drop();
    throw err;
  }
}
