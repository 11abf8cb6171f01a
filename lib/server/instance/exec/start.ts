/**
 * `POST /1.0/instances/{name}/exec` behind the route: the checks Incus
 * makes (400s before any operation exists), the environment, and the
 * operation: a websocket one with `wait-for-websocket`, a task otherwise.
 */
import type { InstanceExecPost } from '../../../api/instance-exec';
import type { Operation } from '../../../api/operation';
import { StatusCode } from '../../../api/response';
import type { InstanceRecord } from '../../db/instances';
import { badRequest } from '../../errors';
import type { DaemonState } from '../../state';
import { environmentNameProblem } from '../config/validators';
import { instanceUrl } from '../views';
import { execEnvironment } from './environment';
import type { ExecCommand } from './instance-exec';
import { ExecSession } from './session';
import { runExecTask } from './task';

/** What starting an exec needs from the daemon. */
export type ExecDeps = Pick<DaemonState, 'ops' | 'drivers' | 'instances' | 'events'>;

/** Refuses option combinations Incus refuses. */
export function checkExecPost(post: InstanceExecPost): void {
  if (post['record-output'] && post['wait-for-websocket']) {
    throw badRequest('Cannot use "record-output" in combination with "wait-for-websocket"');
  }
  if (post.interactive && post['record-output']) {
    throw badRequest('Cannot use "interactive" in combination with "record-output"');
  }
  // Refused here rather than by the helper, which would fail the operation after the websockets connect.
  for (const [name, value] of Object.entries(post.environment ?? {})) {
    // Line breaks are fine in a value here (only the config file form cannot hold them).
    const why = environmentNameProblem(name) ?? (value.includes('\0') ? 'Environment variables cannot contain NUL bytes' : null);
    if (why) throw badRequest(`Invalid environment variable ${JSON.stringify(name)}: ${why}`);
  }
}

/** Validates, then starts the exec operation; returns its wire object. */
export async function startExec(s: ExecDeps, rec: InstanceRecord, post: InstanceExecPost): Promise<Operation> {
  checkExecPost(post);
  const driver = s.drivers.of(rec.type);
  const [st] = await driver.states([rec]);
  if (st.pid <= 0) throw badRequest('Instance is not running');
  if (st.statusCode === StatusCode.Frozen) throw badRequest('Instance is frozen');

  const rt = await s.instances.runtime(rec);
  const target = await driver.exec(rt, st);
  if (post.interactive && !target.terminals) throw badRequest('Interactive exec is not supported by this instance yet');
  const user = post.user ?? 0;
  const cmd: ExecCommand = {
    command: post.command,
    environment: execEnvironment({
      requested: post.environment,
      expandedConfig: rt.expandedConfig,
      user,
      exists: (p) => target.exists(p),
    }),
    cwd: post.cwd ?? '',
    user,
    group: post.group ?? 0,
  };
  const url = instanceUrl(rec);
  // Incus announces each command once it runs.
  const onStarted = (): void => s.events.lifecycle('instance-exec', `/1.0/instances/${rec.name}`, rec.project, { command: cmd.command });

  if (post['wait-for-websocket']) {
    const session = new ExecSession({
      exec: target,
      cmd,
      interactive: post.interactive === true,
      width: post.width ?? 0,
      height: post.height ?? 0,
      onStarted,
    });
    return s.ops.start({
      class: 'websocket',
      description: 'Executing command',
      project: rec.project,
      resources: { instances: [url] },
      metadata: { ...session.metadata() },
      cancellable: true,
      websockets: session,
      run: (ctx) => session.run(ctx),
    });
  }
  return s.ops.start({
    class: 'task',
    description: 'Executing command',
    project: rec.project,
    resources: { instances: [url], containers: [url] },
    run: (ctx) => runExecTask(target, cmd, post['record-output'] === true, ctx, onStarted),
  });
}
