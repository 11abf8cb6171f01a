/**
 * `/1.0/instances/{name}/logs` and `/logs/{file}`: the instance's liblxc
 * log (and the other names Incus serves) listed, read and deleted.
 */
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { badRequest } from '../../errors';
import { syncResponse } from '../../response';
import type { DaemonState } from '../../state';
import { deleteLogFile, instanceLogDir, listLogFiles, openLogFile } from '../../instance/logs';
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

export function registerInstanceLogs(app: FastifyInstance, s: DaemonState): void {
  app.get<NameParams>('/1.0/instances/:name/logs', async (req) => {
    const project = await projectOf(s, req);
    checkName(req.params.name);
    const rec = await s.instances.get(project, req.params.name);
    const files = await listLogFiles(instanceLogDir(s.varDir, rec.project, rec.name));
    return syncResponse(files.map((f) => `/1.0/instances/${encodeURIComponent(rec.name)}/logs/${encodeURIComponent(f)}`));
  });

  app.get<FileParams>('/1.0/instances/:name/logs/:file', async (req, reply) => {
    const project = await projectOf(s, req);
    checkName(req.params.name);
    const rec = await s.instances.get(project, req.params.name);
    const file = req.params.file;
    const fh = await openLogFile(instanceLogDir(s.varDir, rec.project, rec.name), file);
    let st;
    try {
      st = await fh.stat();
    } catch (err) {
      await fh.close();
      throw err;
    }
    // Served up to its size now (lxc.log may grow meanwhile); the stream closes the handle.
    let body: Readable | Buffer;
    if (st.size > 0) {
      body = fh.createReadStream({ start: 0, end: st.size - 1 });
    } else {
      await fh.close();
      body = Buffer.alloc(0);
    }
    s.events.lifecycle('instance-log-retrieved', logUrl(rec.name, file, project), project);
    return reply
      .code(200)
      .header('Content-Type', 'application/octet-stream')
      .header('Content-Disposition', `inline;filename=${file}`)
      .header('Content-Length', String(st.size))
      .header('Last-Modified', st.mtime.toUTCString())
      .send(body);
  });

  app.delete<FileParams>('/1.0/instances/:name/logs/:file', async (req) => {
    const project = await projectOf(s, req);
    checkName(req.params.name);
    const rec = await s.instances.get(project, req.params.name);
    await deleteLogFile(instanceLogDir(s.varDir, rec.project, rec.name), req.params.file);
    s.events.lifecycle('instance-log-deleted', logUrl(rec.name, req.params.file, project), project);
    return syncResponse({});
  });
}
