/**
 * `/1.0/instances/{name}/console`: POST attaches (a websocket operation
 * with `0` and `control` secrets), GET returns the console log, DELETE
 * clears it. One console session per instance, as liblxc allows; `force`
 * takes it over.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { InstanceConsolePost, InstanceConsoleType } from '../../../api/instance-console';
import { StatusCode } from '../../../api/response';
import { badRequest, conflict } from '../../errors';
import { asyncResponse, syncResponse } from '../../response';
import type { DaemonState } from '../../state';
import type { InstanceRecord } from '../../db/instances';
import { ConsoleSession } from '../../instance/console-session';
import { VgaSession } from '../../instance/vga-session';
import { instanceUrl } from '../../instance/views';
import { projectOf, query } from '../request';

type Params = { Params: { name: string } };

/** A validated POST body. */
interface ConsoleRequest {
  width: number;
  height: number;
  type: InstanceConsoleType;
  force: boolean;
}

function intField(body: Record<string, unknown>, key: string): number {
  const v = body[key];
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw badRequest(`Invalid value for "${key}": must be an integer`);
  return v < 0 ? 0 : v;
}

/** Decodes the body as Incus does: missing fields take their zero value, type defaults to console. */
export function parseConsolePost(raw: unknown): ConsoleRequest {
  if (raw === undefined || raw === null) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw badRequest('Invalid request body: expected an object');
  const body = raw as Record<string, unknown> & InstanceConsolePost;
  const type = body.type === undefined || body.type === null || body.type === '' ? 'console' : body.type;
  if (type !== 'console' && type !== 'vga') throw badRequest(`Unknown console type ${JSON.stringify(String(type))}`);
  if (body.force !== undefined && typeof body.force !== 'boolean') throw badRequest('Invalid value for "force": must be a boolean');
  return { width: intField(body, 'width'), height: intField(body, 'height'), type, force: body.force === true };
}

/** Incus refuses snapshot names ("c1/snap0") on these endpoints. */
function checkName(name: string): void {
  if (name.includes('/')) throw badRequest('Invalid instance name');
}

/** Running or frozen (pid > 0); frozen is reported separately. */
async function runState(s: DaemonState, rec: InstanceRecord): Promise<{ running: boolean; frozen: boolean }> {
  const [st] = await s.drivers.states([rec]);
  return { running: st.pid > 0, frozen: st.statusCode === StatusCode.Frozen };
}

export function registerInstanceConsole(app: FastifyInstance, s: DaemonState): void {
  /** Live sessions by project/name: one per instance, as liblxc (and a serial port) allows. */
  const sessions = new Map<string, ConsoleSession>();
  // Upgraded sockets outlive the HTTP server: end the sessions so that shutdown need not wait for them.
  /** VGA sessions (any number per VM). */
  const vgaSessions = new Set<VgaSession>();
  app.addHook('preClose', async () => {
    for (const session of sessions.values()) session.stop();
    for (const session of vgaSessions) session.stop();
  });

  app.post<Params>('/1.0/instances/:name/console', async (req, reply) => {
    const project = await projectOf(s, req);
    checkName(req.params.name);
    const post = parseConsolePost(req.body);
    const rec = await s.instances.get(project, req.params.name);
    const driver = s.drivers.of(rec.type);
    if (post.type === 'vga' && rec.type !== 'virtual-machine') {
      throw badRequest('VGA console is only supported by virtual machines');
    }
    if (!driver.info.features.consoles.includes(post.type)) throw badRequest(`Console type "${post.type}" is not supported yet`);
    const st = await runState(s, rec);
    if (!st.running) throw badRequest('Instance is not running');
    if (st.frozen) throw badRequest('Instance is frozen');

    const url = instanceUrl(rec);
    if (post.type === 'vga') {
      const openVga = driver.console.openVga?.bind(driver.console);
      if (!openVga) throw badRequest('VGA console is only supported by virtual machines');
      const vga = new VgaSession({
        connect: () => openVga(rec),
        onAttached: () => s.events.lifecycle('instance-console', url, project, { type: 'vga' }),
      });
      const vop = s.ops.start({
        class: 'websocket',
        description: 'Showing console',
        project,
        resources: { instances: [url] },
        metadata: { fds: { ...vga.metadata.fds } },
        cancellable: true,
        websockets: vga,
        run: async (ctx) => {
          vgaSessions.add(vga);
          try {
            await vga.run(ctx);
          } finally {
            vgaSessions.delete(vga);
          }
        },
      });
      return reply.code(202).header('Location', `/1.0/operations/${vop.id}`).send(asyncResponse(vop));
    }

    const key = s.instances.lockKey(rec);
    const current = sessions.get(key);
    if (current) {
      if (!post.force) throw conflict('This console is already connected. Force is required to take it over.');
      current.stop();
    }

    const session = new ConsoleSession({
      width: post.width,
      height: post.height,
      attach: (signal) => driver.console.attach(rec, signal),
      onAttached: () => s.events.lifecycle('instance-console', url, project, { type: 'console' }),
    });
    sessions.set(key, session);
    const op = s.ops.start({
      class: 'websocket',
      description: 'Showing console',
      project,
      resources: { instances: [url] },
      metadata: { fds: { ...session.metadata.fds } },
      cancellable: true,
      websockets: session,
      run: async (ctx) => {
        try {
          await session.run(ctx);
        } finally {
          if (sessions.get(key) === session) sessions.delete(key);
        }
      },
    });
    return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
  });

  app.get<Params>('/1.0/instances/:name/console', async (req: FastifyRequest<Params>, reply: FastifyReply) => {
    const project = await projectOf(s, req);
    const type = query(req).type ?? '';
    if (type !== '' && type !== 'log' && type !== 'vga') throw badRequest(`Invalid value for type parameter: ${type}`);
    checkName(req.params.name);
    const rec = await s.instances.get(project, req.params.name);
    const st = await runState(s, rec);
    const log = await s.drivers.of(rec.type).console.readLog(rec, st.running);
    return reply
      .code(200)
      .header('Content-Type', 'application/octet-stream')
      .header('Content-Disposition', 'inline;filename=console.log')
      .send(log);
  });

  app.delete<Params>('/1.0/instances/:name/console', async (req) => {
    const project = await projectOf(s, req);
    checkName(req.params.name);
    const rec = await s.instances.get(project, req.params.name);
    if (rec.type !== 'container') throw badRequest('Instance is not container type');
    const st = await runState(s, rec);
    await s.drivers.of(rec.type).console.clearLog(rec, st.running);
    if (st.running) s.events.lifecycle('instance-console-reset', instanceUrl(rec), project);
    return syncResponse({});
  });
}
