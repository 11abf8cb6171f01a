/**
 * `/1.0/instances/{name}/logs` and `/logs/{file}`: the instance's liblxc
 * log (and the other names Incus serves) listed, read and deleted; and
 * `/logs/exec-output` and `/logs/exec-output/{file}`: the recorded output of
 * `record-output` execs likewise.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { badRequest } from '../../errors';
import { syncResponse } from '../../response';
import type { DaemonState } from '../../state';
import { deleteLogFile, instanceLogDir, listLogFiles, openLogFile } from '../../instance/logs';
import { deleteExecOutputFile, execOutputDir, listExecOutputFiles, openExecOutputFile } from '../../instance/exec/output-files';
import type { InstanceRecord } from '../../db/instances';
import { projectOf } from '../request';

type NameParams = { Params: { name: string } };
type FileParams = { Params: { name: string; file: string } };

/** Incus refuses snapshot names ("c1/snap0") on these endpoints. */
function checkName(name: string): void {
  if (name.includes('/')) throw badRequest('Invalid instance name');
}

/** The log source URL of lifecycle events. */
function logUrl(name: string, file: string, project: string): string {
  const base = `/1.0/instances/${encodeURIComponent(name)}/logs/${encodeURIComponent(file)}`;
  return project === 'default' ? base : `${base}?project=${encodeURIComponent(project)}`;
}

/** One family of files under /logs: where they lie and how they are listed, opened and deleted. */
interface LogFamily {
  /** URL path under /1.0/instances/{name}/logs ('' or '/exec-output'). */
  path: string;
  dir(rec: InstanceRecord): Promise<string>;
  list(dir: string): Promise<string[]>;
  open(dir: string, name: string): Promise<FileHandle>;
  remove(dir: string, name: string): Promise<void>;
}

export function registerInstanceLogs(app: FastifyInstance, s: DaemonState): void {
  registerFamily(app, s, {
    path: '',
    dir: async (rec) => instanceLogDir(s.varDir, rec.project, rec.name),
    list: listLogFiles,
    open: openLogFile,
    remove: deleteLogFile,
  });
  registerFamily(app, s, {
    path: '/exec-output',
    dir: async (rec) => execOutputDir((await s.instances.runtime(rec)).volumePath),
    list: listExecOutputFiles,
    open: openExecOutputFile,
    remove: deleteExecOutputFile,
  });
}

function registerFamily(app: FastifyInstance, s: DaemonState, family: LogFamily): void {
  const route = `/1.0/instances/:name/logs${family.path}`;
  const instance = async (req: FastifyRequest<NameParams>): Promise<{ project: string; rec: InstanceRecord }> => {
    const project = await projectOf(s, req);
    checkName(req.params.name);
    return { project, rec: await s.instances.get(project, req.params.name) };
  };

  app.get<NameParams>(route, async (req) => {
    const { rec } = await instance(req);
    const files = await family.list(await family.dir(rec));
    const base = `/1.0/instances/${encodeURIComponent(rec.name)}/logs${family.path}`;
    return syncResponse(files.map((f) => `${base}/${encodeURIComponent(f)}`));
  });

  app.get<FileParams>(`${route}/:file`, async (req, reply) => {
    const { project, rec } = await instance(req);
    const file = req.params.file;
    const fh = await family.open(await family.dir(rec), file);
    s.events.lifecycle('instance-log-retrieved', logUrl(rec.name, file, project), project);
    return sendFile(reply, fh, file);
  });

  app.delete<FileParams>(`${route}/:file`, async (req) => {
    const { project, rec } = await instance(req);
    await family.remove(await family.dir(rec), req.params.file);
    s.events.lifecycle('instance-log-deleted', logUrl(rec.name, req.params.file, project), project);
    return syncResponse({});
  });
}

/** Sends an open file up to its size now (a log may grow meanwhile); the handle is closed either way. */
async function sendFile(reply: FastifyReply, fh: FileHandle, name: string): Promise<FastifyReply> {
  let st;
  try {
    st = await fh.stat();
  } catch (err) {
    await fh.close();
    throw err;
  }
  let body: Readable | Buffer;
  if (st.size > 0) {
    body = fh.createReadStream({ start: 0, end: st.size - 1 });
  } else {
    await fh.close();
    body = Buffer.alloc(0);
  }
  return reply
    .code(200)
    .header('Content-Type', 'application/octet-stream')
    .header('Content-Disposition', `inline;filename=${name}`)
    .header('Content-Length', String(st.size))
    .header('Last-Modified', st.mtime.toUTCString())
    .send(body);
}
