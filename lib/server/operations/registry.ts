/**
 * Background operations: each mutation that takes time runs as an operation
 * with a UUID, reported through `/1.0/operations` and the event bus.
 */
import { randomUUID } from 'node:crypto';
import type { Operation, OperationClass } from '../../api/operation';
import { StatusCode, StatusText } from '../../api/response';
import { StatusError, messageOf } from '../errors';
import type { EventBus } from './event-bus';

/** How long a finished operation stays visible (Incus keeps them 5 s). */
const KEEP_FINISHED_MS = 5000;

export interface OperationContext {
  readonly id: string;
  readonly signal: AbortSignal;
  /** Replaces the operation's metadata and announces the change. */
  setMetadata(md: Record<string, unknown>): void;
}

/**
 * Websocket side of a `websocket`-class operation: `accepts` says whether a
 * secret opens one of its streams, `attach` receives the upgraded socket.
 */
export interface OperationWebsockets {
  accepts(secret: string): boolean;
  attach(secret: string, ws: import('ws').WebSocket): void;
}

export interface OperationSpec {
  class?: OperationClass;
  description: string;
  project?: string;
  resources?: Record<string, string[]>;
  metadata?: Record<string, unknown>;
  /** When set, DELETE /1.0/operations/{id} aborts the signal. */
  cancellable?: boolean;
  /** For class `websocket`: where GET /1.0/operations/{id}/websocket connections go. */
  websockets?: OperationWebsockets;
  run: (ctx: OperationContext) => Promise<Record<string, unknown> | void>;
}

interface Entry {
  op: Operation;
  project: string;
  abort: AbortController;
  done: Promise<void>;
  waiters: Set<() => void>;
  websockets?: OperationWebsockets;
}

export class OperationRegistry {
  private readonly ops = new Map<string, Entry>();

  constructor(
    private readonly events: EventBus,
    /** The member operations run on ("none" on a standalone host, as Incus shows it). */
    private readonly location: () => string = () => 'none',
  ) {}

  /** Creates and starts an operation; returns its wire object (status Running). */
  start(spec: OperationSpec): Operation {
    const now = new Date().toISOString();
    const op: Operation = {
      id: randomUUID(),
      class: spec.class ?? 'task',
      description: spec.description,
      created_at: now,
      updated_at: now,
      status: StatusText[StatusCode.Running],
      status_code: StatusCode.Running,
      resources: spec.resources ?? null,
      metadata: spec.metadata ?? null,
      may_cancel: spec.cancellable === true,
      err: '',
      location: this.location(),
    };
    const abort = new AbortController();
    const entry: Entry = {
      op,
      project: spec.project ?? 'default',
      abort,
      done: Promise.resolve(),
      waiters: new Set(),
      websockets: spec.websockets,
    };
    this.ops.set(op.id, entry);
    this.announce(entry);
    const ctx: OperationContext = {
      id: op.id,
      signal: abort.signal,
      setMetadata: (md) => {
        op.metadata = md;
        this.touch(entry);
      },
    };
    entry.done = Promise.resolve()
      .then(() => spec.run(ctx))
      .then(
        (md) => {
          if (md) op.metadata = { ...(op.metadata ?? {}), ...md };
          this.finish(entry, abort.signal.aborted ? StatusCode.Cancelled : StatusCode.Success, '');
        },
        (err: unknown) => {
          const code = abort.signal.aborted ? StatusCode.Cancelled : StatusCode.Failure;
          this.finish(entry, code, messageOf(err));
        },
      );
    return { ...op };
  }

  get(id: string): Operation | undefined {
    const e = this.ops.get(id);
    return e ? { ...e.op } : undefined;
  }

  /** The websocket side of a running operation, if it has one. */
  websockets(id: string): OperationWebsockets | undefined {
    const e = this.ops.get(id);
    if (!e || isFinal(e.op.status_code)) return undefined;
    return e.websockets;
  }

  /** The project of an operation, or undefined when there is none. */
  projectOf(id: string): string | undefined {
    return this.ops.get(id)?.project;
  }

  /** Cancels every running operation of a class (pending tokens at shutdown). */
  cancelClass(cls: OperationClass): void {
    for (const e of this.ops.values()) if (e.op.class === cls && !isFinal(e.op.status_code)) e.abort.abort();
  }

  /** Operations grouped by status, as GET /1.0/operations returns them. */
  list(project: string | null): Operation[] {
    const out: Operation[] = [];
    for (const e of this.ops.values()) if (project === null || e.project === project) out.push({ ...e.op });
    return out;
  }

  /** Waits until the operation ends or timeoutSec passes (-1: no limit); returns its state then. */
  async wait(id: string, timeoutSec: number, signal?: AbortSignal): Promise<Operation> {
    const e = this.ops.get(id);
    if (!e) throw new StatusError(404, 'Operation not found');
    if (isFinal(e.op.status_code)) return { ...e.op };
    await new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        if (timer) clearTimeout(timer);
        e.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      e.waiters.add(done);
      if (timeoutSec >= 0) timer = setTimeout(done, timeoutSec * 1000);
      signal?.addEventListener('abort', done, { once: true });
    });
    return { ...e.op };
  }

  /** Cancels a cancellable running operation. */
  cancel(id: string): void {
    const e = this.ops.get(id);
    if (!e) throw new StatusError(404, 'Operation not found');
    if (isFinal(e.op.status_code)) throw new StatusError(400, 'Operation is already finished');
    if (!e.op.may_cancel) throw new StatusError(403, 'Only running operations can be cancelled');
    e.abort.abort();
  }

  /** Resolves once every running operation has ended (daemon shutdown). */
  async drain(): Promise<void> {
    await Promise.all([...this.ops.values()].map((e) => e.done));
  }

  private finish(e: Entry, code: number, err: string): void {
    e.op.status_code = code;
    e.op.status = StatusText[code];
    e.op.err = err;
    e.op.may_cancel = false;
    this.touch(e);
    for (const w of [...e.waiters]) w();
    setTimeout(() => this.ops.delete(e.op.id), KEEP_FINISHED_MS).unref();
  }

  private touch(e: Entry): void {
    e.op.updated_at = new Date().toISOString();
    this.announce(e);
  }

  private announce(e: Entry): void {
    this.events.emit('operation', { ...e.op }, e.project);
  }
}

function isFinal(code: number): boolean {
  return code === StatusCode.Success || code === StatusCode.Failure || code === StatusCode.Cancelled;
}
