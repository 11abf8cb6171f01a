/**
 * The network layer: managed networks as the API sees them, kept in step
 * between the database and their drivers; host interfaces listed beside
 * them. Changes run one at a time. DHCP reservations follow the instances:
 * they are rewritten whenever an instance or profile changes.
 */
import type { Network, NetworkLease, NetworkState, NetworksPost } from '../../api/network';
import type { Db } from '../db';
import { NETWORK_CREATED, type NetworkRecord } from '../db/networks';
import { badRequest, conflict, notFound } from '../errors';
import type { Logger } from '../log';
import type { EventBus } from '../operations/event-bus';
import { parseCidr } from './cidr';
import { DnsmasqSupervisor } from './dnsmasq';
import { hostInterfaces, interfaceExists, interfaceState } from './host-interfaces';
import type { AddressUse, NetworkDriver, NetworkSpec } from './interface';
import { loadNetworkDriver } from './load';
import { hostPrefixes } from './subnet';
import { networkStatics, networkUsedBy } from './used-by';
import { validateNetworkName } from '../names';

export interface NetworkManagerDeps {
  db: Db;
  events: EventBus;
  log: Logger;
  varDir: string;
  debug: boolean;
}

/** Networks live in the default project (projects with features.networks come later). */
const PROJECT = 'default';

/** Lifecycle actions after which NIC reservations may have changed. */
const REFRESH_ON = /^(instance-(created|updated|deleted|renamed|started|restored)|profile-(updated|deleted))$/;

function spec(r: NetworkRecord): NetworkSpec {
  return { project: r.project, name: r.name, description: r.description, config: r.config };
}

export class NetworkManager {
  private readonly drivers = new Map<string, NetworkDriver>();
  private readonly dnsmasq: DnsmasqSupervisor;
  private queue: Promise<unknown> = Promise.resolve();
  private refreshPending = false;
  private scheduled: Promise<void> = Promise.resolve();
  private readonly unsubscribe: () => void;

  constructor(private readonly deps: NetworkManagerDeps) {
    this.dnsmasq = new DnsmasqSupervisor(deps.log);
    this.unsubscribe = deps.events.subscribe(['lifecycle'], null, (ev) => {
      const action = (ev.metadata as { action?: string }).action ?? '';
      if (REFRESH_ON.test(action)) this.scheduleStaticsRefresh();
    });
  }

  /** Runs fn after every change queued before it. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  driver(type: string): NetworkDriver {
    let d = this.drivers.get(type);
    if (!d) {
      d = loadNetworkDriver(type, { varDir: this.deps.varDir, log: this.deps.log, debug: this.deps.debug, dnsmasq: this.dnsmasq });
      this.drivers.set(type, d);
    }
    return d;
  }

  list(): Promise<NetworkRecord[]> {
    return this.deps.db.networks.list(PROJECT);
  }

  /** A managed network, or a 404 "Network not found". */
  async get(name: string): Promise<NetworkRecord> {
    const r = await this.deps.db.networks.get(PROJECT, name);
    if (!r) throw notFound('Network not found');
    return r;
  }

  find(name: string): Promise<NetworkRecord | undefined> {
    return this.deps.db.networks.get(PROJECT, name);
  }

  usedBy(name: string): Promise<string[]> {
    return networkUsedBy(this.deps.db, name);
  }

  async toApi(r: NetworkRecord): Promise<Network> {
    return {
      name: r.name,
      description: r.description,
      type: r.type,
      managed: true,
      status: r.status,
      config: r.config,
      used_by: await this.usedBy(r.name),
      locations: ['none'],
      project: r.project,
    };
  }

  /** Host interfaces that are not managed networks, as Incus lists them. */
  async unmanaged(): Promise<Network[]> {
    const managed = new Set((await this.list()).map((r) => r.name));
    const out: Network[] = [];
    for (const i of await hostInterfaces()) {
      if (managed.has(i.name)) continue;
      out.push({
        name: i.name,
        description: '',
        type: i.type,
        managed: false,
        status: '',
        config: {},
        used_by: await this.usedBy(i.name),
        locations: [],
        project: PROJECT,
      });
    }
    return out;
  }

  /** An unmanaged host interface by name, or a 404. */
  async unmanagedOne(name: string): Promise<Network> {
    const n = (await this.unmanaged()).find((x) => x.name === name);
    if (!n) throw notFound('Network not found');
    return n;
  }

  /** Subnets taken on the host and by other managed networks. */
  private async addressUse(exclude: string | null): Promise<AddressUse> {
    const networks: AddressUse['networks'] = [];
    const all = await this.list();
    for (const r of all) {
      if (r.name === exclude) continue;
      for (const k of ['ipv4.address', 'ipv6.address']) {
        const c = r.config[k] ? parseCidr(r.config[k]) : null;
        if (c) networks.push({ cidr: c, what: `network "${r.name}"` });
      }
    }
    const skip = new Set(all.map((r) => r.name));
    if (exclude) skip.add(exclude);
    return { host: await hostPrefixes(skip), networks };
  }

  /** Validates, stores and brings up a new network; nothing is left behind on failure. */
  create(post: NetworksPost): Promise<NetworkRecord> {
    return this.serial(async () => {
      const type = post.type || 'bridge';
      const d = this.driver(type);
      validateNetworkName(post.name);
      d.validateName(post.name);
      if (await this.find(post.name)) throw conflict(`Network "${post.name}" already exists`);
      if (d.info.hostInterface && interfaceExists(post.name)) throw badRequest(`Network interface "${post.name}" already exists`);
      const use = await this.addressUse(post.name);
      const config = d.fillConfig(post.name, post.config ?? {}, use, 'create');
      d.validate(post.name, config, use);
      const rec = await this.deps.db.networks.create({ project: PROJECT, name: post.name, type, description: post.description ?? '', config, status: 'Pending' });
      try {
        await d.start(spec(rec), []);
      } catch (err) {
        await d.delete(spec(rec)).catch(() => undefined);
        await this.deps.db.networks.delete(rec.id);
        throw err;
      }
      await this.deps.db.networks.setStatus(rec.id, 'Created');
      this.deps.events.lifecycle('network-created', `/1.0/networks/${rec.name}`, PROJECT);
      return { ...rec, status: 'Created' };
    });
  }

  /** Replaces the writable part (PATCH merges before calling); the old config comes back on failure. */
  update(name: string, next: { config: Record<string, string>; description: string }): Promise<void> {
    return this.serial(async () => {
      const rec = await this.get(name);
      const d = this.driver(rec.type);
      const use = await this.addressUse(rec.name);
      const config = d.fillConfig(rec.name, next.config, use, 'update');
      d.validate(rec.name, config, use);
      const after: NetworkRecord = { ...rec, config, description: next.description };
      await this.deps.db.networks.update(after);
      const statics = await networkStatics(this.deps.db, rec.name);
      try {
        await d.update(spec(rec), spec(after), statics);
      } catch (err) {
        await this.deps.db.networks.update(rec);
        await d.update(spec(after), spec(rec), statics).catch(() => undefined);
        throw err;
      }
      await this.deps.db.networks.setStatus(rec.id, 'Created');
      this.deps.events.lifecycle('network-updated', `/1.0/networks/${rec.name}`, PROJECT);
    });
  }

  /** Renames an unused network (its host objects are rebuilt under the new name). */
  rename(name: string, newName: string): Promise<void> {
    return this.serial(async () => {
      const rec = await this.get(name);
      const d = this.driver(rec.type);
      validateNetworkName(newName, true);
      d.validateName(newName);
      if (await this.find(newName)) throw conflict(`Network "${newName}" already exists`);
      if ((await this.usedBy(rec.name)).length > 0) throw badRequest('Network is currently in use');
      if (d.info.hostInterface && interfaceExists(newName)) throw badRequest(`Network interface "${newName}" already exists`);
      await d.delete(spec(rec));
      await this.deps.db.networks.rename(rec.id, newName);
      await d.start(spec({ ...rec, name: newName }), []);
      this.deps.events.lifecycle('network-renamed', `/1.0/networks/${newName}`, PROJECT, { old_name: name });
    });
  }

  /** Deletes an unused network and everything it made on the host. */
  delete(name: string): Promise<void> {
    return this.serial(async () => {
      const rec = await this.get(name);
      if ((await this.usedBy(rec.name)).length > 0) throw badRequest('The network is currently in use');
      await this.driver(rec.type).delete(spec(rec));
      await this.deps.db.networks.delete(rec.id);
      this.deps.events.lifecycle('network-deleted', `/1.0/networks/${rec.name}`, PROJECT);
    });
  }

  /** Brings every managed network up at daemon start (adopting what a previous daemon left running). */
  startAll(): Promise<void> {
    return this.serial(async () => {
      for (const rec of await this.deps.db.networks.all()) {
        // Defined member by member but not created yet: nothing to bring up.
        if (rec.clusterPending) continue;
        try {
          await this.driver(rec.type).start(spec(rec), await networkStatics(this.deps.db, rec.name));
          if (rec.status !== 'Created') await this.deps.db.networks.setStatus(rec.id, 'Created');
        } catch (err) {
          await this.deps.db.networks.setStatus(rec.id, 'Errored');
          this.deps.log.error('Failed to start network', { network: rec.name, err: (err as Error).message });
        }
      }
    });
  }

  /**
   * The cluster-wide config of a network created on every member, filled once
   * (the `auto` subnets chosen here) so that every member uses the same.
   */
  async clusterConfig(name: string, type: string, config: Record<string, string>): Promise<Record<string, string>> {
    const d = this.driver(type);
    validateNetworkName(name);
    d.validateName(name);
    return d.fillConfig(name, config, await this.addressUse(name), 'create');
  }

  /** Brings a cluster's network up on this member with its own keys, recorded as created here. */
  startHere(name: string): Promise<void> {
    return this.serial(async () => {
      const rec = await this.get(name);
      const d = this.driver(rec.type);
      d.validate(rec.name, rec.config, await this.addressUse(rec.name));
      try {
        await d.start(spec(rec), await networkStatics(this.deps.db, rec.name));
      } catch (err) {
        await d.delete(spec(rec)).catch(() => undefined);
        throw err;
      }
      await this.deps.db.networks.setMemberState(rec.id, NETWORK_CREATED);
    });
  }

  /** Takes a cluster's network down on this member only (its rows are the deleting member's job). */
  deleteHere(name: string): Promise<void> {
    return this.serial(async () => {
      const rec = await this.get(name);
      if (!rec.clusterPending) await this.driver(rec.type).delete(spec(rec));
    });
  }

  /** Runtime state of a managed network or a host interface. */
  async state(name: string): Promise<NetworkState> {
    const rec = await this.find(name);
    if (rec) return this.driver(rec.type).state(spec(rec));
    const st = await interfaceState(name);
    if (!st) throw notFound('Network not found');
    return st;
  }

  async leases(name: string): Promise<NetworkLease[]> {
    const rec = await this.get(name);
    const d = this.driver(rec.type);
    if (!d.info.dhcp) return [];
    return d.leases(spec(rec), await networkStatics(this.deps.db, rec.name));
  }

  /** Rewrites every network's reservations now (also what the event hook does, batched). */
  refreshStatics(): Promise<void> {
    return this.serial(async () => {
      for (const rec of await this.list()) {
        if (rec.status !== 'Created') continue;
        await this.driver(rec.type)
          .setStatics(spec(rec), await networkStatics(this.deps.db, rec.name))
          .catch((err: Error) => this.deps.log.warn('Failed to update DHCP reservations', { network: rec.name, err: err.message }));
      }
    });
  }

  private scheduleStaticsRefresh(): void {
    if (this.refreshPending) return;
    this.refreshPending = true;
    this.scheduled = new Promise((resolve) =>
      setImmediate(() => {
        this.refreshPending = false;
        void this.refreshStatics().then(resolve, resolve);
      }),
    );
  }

  /**
   * Resolves once the reservations a change just asked for are written: an
   * instance or profile change awaits it before its request completes, so a
   * NIC's dnsmasq entry is there (or gone) when the client hears back.
   */
  async settled(): Promise<void> {
    await this.scheduled;
  }

  /** The daemon stops: networks stay up, their dnsmasq keeps running. */
  release(): void {
    this.unsubscribe();
    for (const d of this.drivers.values()) d.release();
  }
}
