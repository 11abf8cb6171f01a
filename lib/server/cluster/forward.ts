/**
 * Any member answers any request (Incus's forwarding): a request about an
 * instance goes to the member that holds it, a new instance to the member
 * `?target=` names or the scheduler picks, and an operation (its wait, its
 * websockets) to the member that runs it. Nothing here runs on a standalone
 * host: each hook returns at once.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { InstancesPost } from '../../api/instance';
import type { DaemonState } from '../state';
import { FORWARDED_HEADER, forwardRequest, forwardUpgrade } from './member-proxy';
import { memberRequest } from './member-client';
import { pickMember, targetMember } from './placement';
import type { MemberRow } from '../db/members';
import { badRequest } from '../errors';

/** Operations of other members this member has seen, by id (bounded: oldest forgotten first). */
const OP_HOMES_MAX = 4096;

/** Sources a new instance can be made from on any member (a copy or an upload stays where its data is). */
const PLACEABLE_SOURCES = new Set([undefined, 'image', 'none']);

export class ClusterForwarder {
  private readonly opHomes = new Map<string, string>();

  constructor(private readonly s: DaemonState) {}

  /** Whether the request should be served here whatever it names (standalone, or already passed on by a member). */
  private servedHere(req: IncomingMessage): boolean {
    return !this.s.cluster.clustered || req.headers[FORWARDED_HEADER] !== undefined || this.s.cluster.certificate === null;
  }

  /** onRequest hook: instance and operation routes of another member are passed on, streaming. */
  readonly onRequest = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (this.servedHere(req.raw)) return;
    const route = req.routeOptions.url ?? '';
    const params = req.params as Record<string, string | undefined>;
    let address: string | null = null;
    if (route.startsWith('/1.0/instances/:name') && params.name !== undefined) {
      address = await this.instanceHome((req.query as Record<string, string | undefined>).project || 'default', params.name);
    }
    else if (route.startsWith('/1.0/operations/:id') && params.id !== undefined) address = await this.operationHome(params.id);
    else if (route === '/1.0/cluster/members/:name/state' && params.name !== undefined && params.name !== this.s.cluster.serverName && this.s.cluster.clustered) {
      address = (await this.s.db.members.get(params.name))?.address ?? null;
    }
    if (address === null) return;
    reply.hijack();
    const answer = await forwardRequest(address, this.s.cluster.certificate!, req.raw, reply.raw);
    this.learn(answer?.location, address);
  };

  /** preHandler of `POST /1.0/instances`: the new instance is made on the member it is placed on. */
  readonly onCreate = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (this.servedHere(req.raw)) return;
    const ctype = String(req.headers['content-type'] ?? '').split(';')[0]!.trim();
    if (ctype === 'application/octet-stream') return;
    const body = (req.body ?? {}) as InstancesPost;
    const target = (req.query as Record<string, string | undefined>).target ?? '';
    const self = this.s.cluster.serverName;
    const project = (req.query as Record<string, string | undefined>).project || 'default';
    let member;
    if (body.source?.type === 'copy') {
      // A copy is made where the source's data is (between members only through a move afterwards).
      const holder = await this.instanceMember(body.source.project || project, (body.source.source ?? '').split('/')[0]!);
      if (target !== '' && holder !== null && target !== holder.name) {
        throw badRequest(`Copying an instance to another cluster member is not supported yet: copy it on "${holder.name}", then move it with --target`);
      }
      if (holder === null || holder.name === self) return;
      member = holder;
    } else if (target === self) {
      return;
    } else if (target !== '' && !target.startsWith('@')) {
      member = await targetMember(this.s.db, target);
    } else {
      // `@group`: the scheduler picks among the group's members.
      if (target === '' && !PLACEABLE_SOURCES.has(body.source?.type)) return;
      member = await pickMember(this.s.db, { group: target.slice(1) });
      if (member.name === self) return;
    }
    await this.passOn(req, reply, member.address);
  };

  /** preHandler of `POST /1.0/images`: publishing an instance or a snapshot runs where its volume is. */
  readonly onPublish = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (this.servedHere(req.raw)) return;
    const source = ((req.body ?? {}) as { source?: { type?: string; name?: string; project?: string } }).source;
    if (!source || !['instance', 'container', 'virtual-machine', 'snapshot'].includes(source.type ?? '')) return;
    const project = source.project || (req.query as Record<string, string | undefined>).project || 'default';
    const holder = await this.instanceMember(project, (source.name ?? '').split('/')[0]!);
    if (holder === null || holder.name === this.s.cluster.serverName) return;
    await this.passOn(req, reply, holder.address);
  };

  /** The member holding an instance (null: none, or it does not exist). */
  private async instanceMember(project: string, name: string): Promise<MemberRow | null> {
    const rec = name === '' ? undefined : await this.s.db.instances.get(project, name);
    return rec ? ((await this.s.db.members.get(rec.location)) ?? null) : null;
  }

  /** Passes a request whose JSON body was parsed on to `address`, remembering the operation it starts there. */
  private async passOn(req: FastifyRequest, reply: FastifyReply, address: string): Promise<void> {
    reply.hijack();
    const answer = await forwardRequest(address, this.s.cluster.certificate!, req.raw, reply.raw, Buffer.from(JSON.stringify(req.body ?? {})));
    this.learn(answer?.location, address);
  }

  /** An answer that started an operation: the client asks this member about it next, and it is known to be there. */
  private learn(location: string | string[] | undefined, address: string): void {
    const id = /^\/1\.0\/operations\/([^/?]+)/.exec(String(location ?? ''))?.[1];
    if (id) this.remember(decodeURIComponent(id), address);
  }

  /** Websockets of another member's operations and instances (sftp): the upgrade is passed on. */
  readonly upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    if (this.servedHere(req)) return false;
    const url = new URL(req.url ?? '/', 'http://x');
    let home: Promise<string | null>;
    const op = /^\/1\.0\/operations\/([^/]+)\/websocket\/?$/.exec(url.pathname);
    const inst = /^\/1\.0\/instances\/([^/]+)\//.exec(url.pathname);
    if (op) {
      const id = decodeURIComponent(op[1]!);
      if (this.s.ops.get(id)) return false;
      home = this.operationHome(id);
    } else if (inst) {
      home = this.instanceHome(url.searchParams.get('project') || 'default', decodeURIComponent(inst[1]!));
    } else {
      return false;
    }
    void home.then(
      (address) => {
        if (address === null) return void this.upgradeHere(req, socket, head);
        forwardUpgrade(address, this.s.cluster.certificate!, req, socket, head);
      },
      () => socket.destroy(),
    );
    return true;
  };

  /** Set by the server: the upgrade handlers that serve an upgrade on this member. */
  upgradeHere: (req: IncomingMessage, socket: Duplex, head: Buffer) => void = (_req, socket) => socket.destroy();

  /** The address of the member holding the instance when it is not this one. */
  private async instanceHome(project: string, name: string): Promise<string | null> {
    const rec = await this.s.db.instances.get(project, name);
    if (!rec || rec.local) return null;
    return (await this.s.db.members.get(rec.location))?.address ?? null;
  }

  /** The address of the member running an operation this member does not know (null: none does). */
  private async operationHome(id: string): Promise<string | null> {
    if (this.s.ops.get(id)) return null;
    const known = this.opHomes.get(id);
    if (known) return known;
    const cert = this.s.cluster.certificate!;
    const self = this.s.cluster.local.clusterAddress;
    const others = (await this.s.db.members.list()).filter((m) => m.address !== self);
    const found = await Promise.all(
      others.map((m) =>
        // Marked as passed on: a member that does not run it says so rather than asking the others in turn.
        memberRequest(m.address, cert, cert.certPem, 'GET', `/1.0/operations/${encodeURIComponent(id)}`, undefined, { [FORWARDED_HEADER]: '1' })
          .then((r) => (r.status === 200 ? m.address : null))
          .catch(() => null),
      ),
    );
    const address = found.find((a) => a !== null) ?? null;
    if (address) this.remember(id, address);
    return address;
  }

  private remember(id: string, address: string): void {
    if (this.opHomes.size >= OP_HOMES_MAX) this.opHomes.delete(this.opHomes.keys().next().value!);
    this.opHomes.set(id, address);
  }
}
