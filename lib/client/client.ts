/** Typed client for the Incus REST API. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import type { Image, ImageAliasesEntry, ImageAliasesPost } from '../api/image';
import type { Instance, InstanceFull, InstancePost, InstancePut, InstanceRebuildPost, InstancesPost } from '../api/instance';
import type { StorageVolumePost, StorageVolumesPost } from '../api/storage-volume';
import type { InstanceState, InstanceStatePut } from '../api/instance-state';
import type { Operation as OperationData } from '../api/operation';
import type { Profile, ProfilePut } from '../api/profile';
import type { Response } from '../api/response';
import type { Server, ServerPut } from '../api/server';
import type { StoragePool, StoragePoolsPost } from '../api/storage-pool';
import { parseEnvelope, type Envelope } from './envelope';
import { ApiError, isNotFound } from './errors';
import type { EventStream } from './events';
import type { Operation, RequestOptions, Requester } from './operation';
import { discoverSocketPath } from './socket-path';
import type { HttpMethod, Transport, TransportResponse } from './transport';
import { UnixTransport } from './unix-transport';

/** How to build an {@link IncusClient}. */
export interface ClientOptions {
  /** Use this transport instead of a Unix socket. */
  transport?: Transport;
  /** Unix socket path; default from {@link discoverSocketPath}. */
  socketPath?: string;
  /** Default project for every call (`?project=`). */
  project?: string;
  userAgent?: string;
}

/** Options accepted by every typed method. */
export interface CallOptions {
  project?: string;
  signal?: AbortSignal;
}

/** Options of calls that replace an object. */
export interface WriteOptions extends CallOptions {
  /** Sent as If-Match: the write fails with 412 if the object changed. */
  etag?: string;
}

/** Options of collection reads. */
export interface ListOptions extends CallOptions {
  /** Server-side filter expression (`?filter=`). */
  filter?: string;
  allProjects?: boolean;
}

/** A value with the ETag the server sent for it. */
export interface WithEtag<T> {
  value: T;
  etag: string;
}

/** The whole envelope of a raw call, for `incus query`. */
export interface RawResult {
  response: Response;
  etag: string;
}

/** Options of an image file upload. */
export interface ImageFileOptions extends CallOptions {
  public?: boolean;
  aliases?: string[];
  /** Sent as X-Incus-filename; defaults to the file's base name. */
  filename?: string;
  properties?: Record<string, string>;
}

/** What an image import produced. */
export interface ImageImportResult {
  fingerprint: string;
  operation: OperationData;
}

/** Last path segment of an API URL, decoded (`/1.0/instances/c1?project=p` -> `c1`). */
export function nameFromUrl(url: string): string {
  const p = url.split('?')[0] ?? '';
  return decodeURIComponent(p.slice(p.lastIndexOf('/') + 1));
}

const seg = encodeURIComponent;

/** Bytes and streams go as they are (octet-stream), anything else as JSON; sets Content-Type if unset. */
function encodeBody(body: unknown, headers: Record<string, string>): Buffer | string | Readable | undefined {
  if (body === undefined) return undefined;
  if (Buffer.isBuffer(body) || typeof body === 'string' || body instanceof Readable) {
    headers['Content-Type'] ??= 'application/octet-stream';
    return body;
  }
  headers['Content-Type'] ??= 'application/json';
  return JSON.stringify(body);
}

/**
 * Typed client for the Incus REST API. Async endpoints return an
 * {@link Operation}; errors are thrown as {@link ApiError} or, when the
 * daemon cannot be reached, {@link ConnectionError}.
 */
export class IncusClient implements Requester {
  readonly transport: Transport;
  /** Default project, or undefined for the server's default. */
  readonly project?: string;

  constructor(opts: ClientOptions = {}) {
    this.transport = opts.transport ?? new UnixTransport(opts.socketPath ?? discoverSocketPath(), opts.userAgent);
    this.project = opts.project;
  }

  /** A client on the same connection whose calls default to `project`. */
  useProject(project: string): IncusClient {
    return new IncusClient({ transport: this.transport, project });
  }

  /** Drops idle connections; the client stays usable. */
  close(): void {
    this.transport.close();
  }

  /** One API call, decoded into its envelope (errors thrown as ApiError). */
  async request(method: HttpMethod, apiPath: string, opts: RequestOptions = {}): Promise<Envelope> {
    const params = new URLSearchParams();
    const project = opts.project ?? this.project;
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) params.set(k, String(v));
    if (project !== undefined && !params.has('project')) params.set('project', project);
    const qs = params.toString();
    const full = qs ? `${apiPath}${apiPath.includes('?') ? '&' : '?'}${qs}` : apiPath;
    const headers: Record<string, string> = { ...opts.headers };
    const body = encodeBody(opts.body, headers);
    if (opts.etag) headers['If-Match'] = opts.etag;
    const res = await this.transport.request({ method, path: full, headers, body, signal: opts.signal });
    return parseEnvelope(res, `${method} ${full}`);
  }

  /**
   * A raw call for `incus query`: `apiPath` is used verbatim (with its own
   * query string, no project added) and the whole envelope is returned.
   */
  async raw(method: HttpMethod, apiPath: string, body?: unknown): Promise<RawResult> {
    const headers: Record<string, string> = {};
    const payload = encodeBody(body, headers);
    const res = await this.transport.request({ method, path: apiPath, headers, body: payload });
    const env = parseEnvelope(res, `${method} ${apiPath}`);
    return { response: env.response, etag: env.type === 'sync' ? env.etag : '' };
  }

  /**
   * The bare HTTP exchange for `apiPath` (verbatim, no project added), for
   * callers that must see non-JSON answers too.
   */
  rawHttp(method: HttpMethod, apiPath: string, body?: Buffer | Readable, contentType?: string): Promise<TransportResponse> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['Content-Type'] = contentType ?? 'application/octet-stream';
    return this.transport.request({ method, path: apiPath, headers, body });
  }

  /** Subscribes to `/1.0/events`; resolves once the websocket is open. */
  async events(types?: string[], opts: { project?: string; allProjects?: boolean } = {}): Promise<EventStream> {
    const params = new URLSearchParams();
    if (types && types.length > 0) params.set('type', types.join(','));
    const project = opts.project ?? this.project;
    if (project !== undefined) params.set('project', project);
    if (opts.allProjects) params.set('all-projects', 'true');
    const qs = params.toString();
    const p = `/1.0/events${qs ? `?${qs}` : ''}`;
    const { EventStream: Stream } = require('./events') as typeof import('./events');
    const stream = new Stream(this.transport.openWebSocket(p), `GET ${p}`);
    await stream.ready;
    return stream;
  }

  private async sync<T>(method: HttpMethod, apiPath: string, opts: RequestOptions = {}): Promise<WithEtag<T>> {
    const env = await this.request(method, apiPath, opts);
    if (env.type !== 'sync') throw new ApiError(0, `Expected a sync response from ${method} ${apiPath}, got ${env.type}`);
    return { value: env.metadata as T, etag: env.etag };
  }

  private async get<T>(apiPath: string, opts: RequestOptions = {}): Promise<T> {
    return (await this.sync<T>('GET', apiPath, opts)).value;
  }

  private async op(method: HttpMethod, apiPath: string, opts: RequestOptions = {}): Promise<Operation> {
    const env = await this.request(method, apiPath, opts);
    if (env.type !== 'async') throw new ApiError(0, `Expected an operation from ${method} ${apiPath}, got a ${env.type} response`);
    return this.operationHandle(env.operation, opts.project ?? this.project);
  }

  /** Read-only commands never need the operation code, so it loads on first use. */
  private operationHandle(data: OperationData, project: string | undefined): Operation {
    const { Operation: Handle } = require('./operation') as typeof import('./operation');
    return new Handle(this, data, project);
  }

  private listQuery(recursion: number, opts: ListOptions): RequestOptions {
    return {
      project: opts.project,
      signal: opts.signal,
      query: { recursion, filter: opts.filter, 'all-projects': opts.allProjects ? 'true' : undefined },
    };
  }

  // Server

  getServer(opts: CallOptions = {}): Promise<Server> {
    return this.get<Server>('/1.0', opts);
  }

  getServerWithEtag(opts: CallOptions = {}): Promise<WithEtag<Server>> {
    return this.sync<Server>('GET', '/1.0', opts);
  }

  async updateServer(put: ServerPut, opts: WriteOptions = {}): Promise<void> {
    await this.sync('PUT', '/1.0', { ...opts, body: put });
  }

  // Instances

  /** recursion 0: names; 1: instances; 2: instances with state and snapshots. */
  getInstances(recursion: 0, opts?: ListOptions): Promise<string[]>;
  getInstances(recursion: 1, opts?: ListOptions): Promise<Instance[]>;
  getInstances(recursion: 2, opts?: ListOptions): Promise<InstanceFull[]>;
  async getInstances(recursion: 0 | 1 | 2, opts: ListOptions = {}): Promise<string[] | Instance[] | InstanceFull[]> {
    const value = await this.get<unknown[]>('/1.0/instances', this.listQuery(recursion, opts));
    const list = value ?? [];
    return recursion === 0 ? (list as string[]).map(nameFromUrl) : (list as Instance[]);
  }

  getInstance(name: string, opts: CallOptions = {}): Promise<Instance> {
    return this.get<Instance>(`/1.0/instances/${seg(name)}`, opts);
  }

  getInstanceWithEtag(name: string, opts: CallOptions = {}): Promise<WithEtag<Instance>> {
    return this.sync<Instance>('GET', `/1.0/instances/${seg(name)}`, opts);
  }

  /** The instance with its state (fetched separately if the server omits it). */
  async getInstanceFull(name: string, opts: CallOptions = {}): Promise<InstanceFull> {
    const inst = await this.get<Partial<InstanceFull> & Instance>(`/1.0/instances/${seg(name)}`, {
      ...opts,
      query: { recursion: 1 },
    });
    const state = inst.state ?? (await this.getInstanceState(name, opts));
    return { ...inst, state, snapshots: inst.snapshots ?? null, backups: inst.backups ?? null };
  }

  /** Creates an instance; `target` places it on that cluster member. */
  createInstance(post: InstancesPost, opts: CallOptions & { target?: string } = {}): Promise<Operation> {
    const { target, ...rest } = opts;
    return this.op('POST', '/1.0/instances', { ...rest, body: post, query: { target } });
  }

  updateInstance(name: string, put: InstancePut, opts: WriteOptions = {}): Promise<Operation> {
    return this.op('PUT', `/1.0/instances/${seg(name)}`, { ...opts, body: put });
  }

  async patchInstance(name: string, patch: Partial<InstancePut>, opts: WriteOptions = {}): Promise<void> {
    await this.sync('PATCH', `/1.0/instances/${seg(name)}`, { ...opts, body: patch });
  }

  deleteInstance(name: string, opts: CallOptions = {}): Promise<Operation> {
    return this.op('DELETE', `/1.0/instances/${seg(name)}`, opts);
  }

  /** Moves an instance to another cluster member (stopped there if it ran, started again after). */
  moveInstanceToMember(name: string, target: string, opts: CallOptions = {}): Promise<Operation> {
    const body: InstancePost = { name, migration: true };
    return this.op('POST', `/1.0/instances/${seg(name)}`, { ...opts, body, query: { target } });
  }

  renameInstance(name: string, newName: string, opts: CallOptions = {}): Promise<Operation> {
    const body: InstancePost = { name: newName };
    return this.op('POST', `/1.0/instances/${seg(name)}`, { ...opts, body });
  }

  /** Makes a stopped instance's root again from `post.source` (an image, or `none` for empty). */
  rebuildInstance(name: string, post: InstanceRebuildPost, opts: CallOptions = {}): Promise<Operation> {
    return this.op('POST', `/1.0/instances/${seg(name)}/rebuild`, { ...opts, body: post });
  }

  /** The source side of a migration (`migration: true`), or a push to `post.target`. */
  migrateInstance(name: string, post: InstancePost, opts: CallOptions = {}): Promise<Operation> {
    return this.op('POST', `/1.0/instances/${seg(name)}`, { ...opts, body: { ...post, migration: true } });
  }

  /** The source side of a migration of one snapshot, sent as an instance of its own. */
  migrateInstanceSnapshot(name: string, snapshot: string, post: InstancePost, opts: CallOptions = {}): Promise<Operation> {
    return this.op('POST', `/1.0/instances/${seg(name)}/snapshots/${seg(snapshot)}`, { ...opts, body: { ...post, migration: true } });
  }

  /**
   * The source side of a custom volume migration (`migration: true`), or a
   * push to `post.target`; a `<volume>/<snapshot>` name sends that snapshot
   * as a volume of its own (POST on the snapshot, as Incus's client).
   */
  migrateStorageVolume(pool: string, name: string, post: StorageVolumePost, opts: CallOptions = {}): Promise<Operation> {
    const [volume, snapshot] = name.split('/') as [string, string | undefined];
    if (snapshot !== undefined) {
      const body = { name: snapshot, migration: true, ...(post.target ? { target: post.target } : {}) };
      return this.op('POST', `/1.0/storage-pools/${seg(pool)}/volumes/custom/${seg(volume)}/snapshots/${seg(snapshot)}`, { ...opts, body });
    }
    return this.op('POST', `/1.0/storage-pools/${seg(pool)}/volumes/custom/${seg(name)}`, { ...opts, body: { ...post, migration: true } });
  }

  /** A custom volume made from a migration (`source.type: migration`): the target side. */
  createStorageVolumeFromMigration(pool: string, post: StorageVolumesPost, opts: CallOptions = {}): Promise<Operation> {
    return this.op('POST', `/1.0/storage-pools/${seg(pool)}/volumes/custom`, { ...opts, body: post });
  }

  getInstanceState(name: string, opts: CallOptions = {}): Promise<InstanceState> {
    return this.get<InstanceState>(`/1.0/instances/${seg(name)}/state`, opts);
  }

  updateInstanceState(name: string, put: InstanceStatePut, opts: CallOptions = {}): Promise<Operation> {
    return this.op('PUT', `/1.0/instances/${seg(name)}/state`, { ...opts, body: put });
  }

  /** A file from `/1.0/instances/{name}/logs/` (e.g. `lxc.log`), as text. */
  async getInstanceLogFile(name: string, file: string, opts: CallOptions = {}): Promise<string> {
    const project = opts.project ?? this.project;
    const qs = project !== undefined ? `?${new URLSearchParams({ project }).toString()}` : '';
    const p = `/1.0/instances/${seg(name)}/logs/${seg(file)}${qs}`;
    const res = await this.transport.request({ method: 'GET', path: p, signal: opts.signal });
    if (res.status !== 200) parseEnvelope(res, `GET ${p}`);
    return res.body.toString('utf8');
  }

  // Images

  /** recursion 0: fingerprints; 1: images. */
  getImages(recursion: 0, opts?: ListOptions): Promise<string[]>;
  getImages(recursion: 1, opts?: ListOptions): Promise<Image[]>;
  async getImages(recursion: 0 | 1, opts: ListOptions = {}): Promise<string[] | Image[]> {
    const list = (await this.get<unknown[]>('/1.0/images', this.listQuery(recursion, opts))) ?? [];
    return recursion === 0 ? (list as string[]).map(nameFromUrl) : (list as Image[]);
  }

  getImage(fingerprint: string, opts: CallOptions = {}): Promise<Image> {
    return this.get<Image>(`/1.0/images/${seg(fingerprint)}`, opts);
  }

  deleteImage(fingerprint: string, opts: CallOptions = {}): Promise<Operation> {
    return this.op('DELETE', `/1.0/images/${seg(fingerprint)}`, opts);
  }

  /** Starts streaming an image file (unified tarball) to POST /1.0/images. */
  async uploadImageFile(file: string, opts: ImageFileOptions = {}): Promise<Operation> {
    await fs.promises.access(file, fs.constants.R_OK);
    const headers: Record<string, string> = {
      'Content-Type': 'application/octet-stream',
      'X-Incus-filename': opts.filename ?? path.basename(file),
    };
    if (opts.public) headers['X-Incus-public'] = 'true';
    if (opts.properties && Object.keys(opts.properties).length > 0) {
      headers['X-Incus-properties'] = new URLSearchParams(opts.properties).toString();
    }
    return this.op('POST', '/1.0/images', { ...opts, headers, body: fs.createReadStream(file) });
  }

  /**
   * Imports an image file: uploads it, waits for the operation, then points
   * each alias at it (an existing alias of that name is replaced, like Incus).
   */
  async createImageFromFile(file: string, opts: ImageFileOptions = {}): Promise<ImageImportResult> {
    const op = await this.uploadImageFile(file, opts);
    const done = await op.wait(opts.signal);
    const fingerprint = done.metadata?.fingerprint;
    if (typeof fingerprint !== 'string') throw new ApiError(0, 'Bad fingerprint');
    for (const name of opts.aliases ?? []) {
      try {
        await this.deleteImageAlias(name, opts);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      await this.createImageAlias({ name, target: fingerprint, description: '' }, opts);
    }
    return { fingerprint, operation: done };
  }

  getImageAliases(opts: CallOptions = {}): Promise<ImageAliasesEntry[]> {
    return this.get<ImageAliasesEntry[]>('/1.0/images/aliases', { ...opts, query: { recursion: 1 } }).then((l) => l ?? []);
  }

  getImageAlias(name: string, opts: CallOptions = {}): Promise<ImageAliasesEntry> {
    return this.get<ImageAliasesEntry>(`/1.0/images/aliases/${seg(name)}`, opts);
  }

  async createImageAlias(post: ImageAliasesPost, opts: CallOptions = {}): Promise<void> {
    await this.sync('POST', '/1.0/images/aliases', { ...opts, body: post });
  }

  async deleteImageAlias(name: string, opts: CallOptions = {}): Promise<void> {
    await this.sync('DELETE', `/1.0/images/aliases/${seg(name)}`, opts);
  }

  // Profiles

  getProfiles(opts: ListOptions = {}): Promise<Profile[]> {
    return this.get<Profile[]>('/1.0/profiles', this.listQuery(1, opts)).then((l) => l ?? []);
  }

  getProfile(name: string, opts: CallOptions = {}): Promise<Profile> {
    return this.get<Profile>(`/1.0/profiles/${seg(name)}`, opts);
  }

  getProfileWithEtag(name: string, opts: CallOptions = {}): Promise<WithEtag<Profile>> {
    return this.sync<Profile>('GET', `/1.0/profiles/${seg(name)}`, opts);
  }

  async updateProfile(name: string, put: ProfilePut, opts: WriteOptions = {}): Promise<void> {
    await this.sync('PUT', `/1.0/profiles/${seg(name)}`, { ...opts, body: put });
  }

  // Storage pools

  getStoragePools(opts: ListOptions = {}): Promise<StoragePool[]> {
    return this.get<StoragePool[]>('/1.0/storage-pools', this.listQuery(1, opts)).then((l) => l ?? []);
  }

  getStoragePool(name: string, opts: CallOptions = {}): Promise<StoragePool> {
    return this.get<StoragePool>(`/1.0/storage-pools/${seg(name)}`, opts);
  }

  async createStoragePool(post: StoragePoolsPost, opts: CallOptions = {}): Promise<void> {
    await this.sync('POST', '/1.0/storage-pools', { ...opts, body: post });
  }

  // Operations

  /** All operations, flattened from the server's status -> list map. */
  async getOperations(opts: ListOptions = {}): Promise<OperationData[]> {
    const byStatus = await this.get<Record<string, OperationData[]> | null>('/1.0/operations', this.listQuery(1, opts));
    return Object.values(byStatus ?? {}).flat();
  }

  /** A handle on an existing operation (its state is read from the server). */
  async getOperation(id: string, opts: CallOptions = {}): Promise<Operation> {
    const data = await this.get<OperationData>(`/1.0/operations/${seg(id)}`, opts);
    return this.operationHandle(data, opts.project ?? this.project);
  }
}
