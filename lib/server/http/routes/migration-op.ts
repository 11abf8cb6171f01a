/**
 * A migration end as an operation: one that waits for its peer is a
 * `websocket` operation whose metadata holds the connection secrets (kept
 * under the progress the transfer reports); one that dials its peer is a
 * cancellable `task`. Answers 202 with the operation.
 */
import type { FastifyReply } from 'fastify';
import type { Report } from '../../migration/progress';
import { badRequest } from '../../errors';
import { connsFor, type MigrationConns, type PeerSpec } from '../../migration/conns';
import { asyncResponse } from '../../response';
import type { DaemonState } from '../../state';

export interface MigrationOpSpec {
  conns: MigrationConns;
  /** True when the peer dials us (our secrets go out in the metadata). */
  waits: boolean;
  description: string;
  project: string;
  resources: Record<string, string[]>;
  run: (report: Report, signal: AbortSignal) => Promise<unknown>;
}

export function replyMigrationOp(s: DaemonState, reply: FastifyReply, o: MigrationOpSpec): FastifyReply {
  const secrets = o.waits ? o.conns.secrets() : {};
  const op = s.ops.start({
    class: o.waits ? 'websocket' : 'task',
    description: o.description,
    project: o.project,
    resources: o.resources,
    metadata: o.waits ? secrets : undefined,
    cancellable: true,
    ...(o.waits ? { websockets: o.conns } : {}),
    run: async (ctx) => {
      await o.run((md) => ctx.setMetadata({ ...secrets, ...md }), ctx.signal);
    },
  });
  return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
}

/** A migration source's connections: dialing the push `target` in the body, or waiting for the target. */
export function sourceConns(s: DaemonState, target: PeerSpec | null | undefined): { conns: MigrationConns; waits: boolean } {
  if (target && !target.operation) throw badRequest('Missing target operation URL');
  return { conns: connsFor(['control', 'fs'], target ?? null, s.keypair), waits: !target };
}
