/**
 * What belongs to this member alone, as Incus's node-local database
 * (database/local.db): its own config keys (cluster.https_address and, once
 * clustered, core.https_address) and the raft members it knows of, read at
 * start before the replicated database can be reached. SQLite through
 * better-sqlite3: a handful of rows, read once at start and written on
 * membership changes.
 */
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import Database from 'better-sqlite3';
import { parseListenAddress } from '../auth/https-listener';

/** Incus's CanonicalNetworkAddress: host and port, the default port filled in, IPv6 in brackets. */
export function canonicalAddress(address: string): string {
  if (address === '') return '';
  const { host, port } = parseListenAddress(address);
  const h = host ?? '';
  return `${h.includes(':') ? `[${h}]` : h}:${port}`;
}

/** Raft roles as dqlite numbers them. */
export type RaftRole = 'voter' | 'standby' | 'spare';

export interface RaftNode {
  id: number;
  address: string;
  role: RaftRole;
  name: string;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS config (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS raft_nodes (id INTEGER PRIMARY KEY NOT NULL, address TEXT NOT NULL UNIQUE, role TEXT NOT NULL, name TEXT NOT NULL DEFAULT '');
`;

/** Server keys that belong to one member once clustered (Incus's node config). */
export const MEMBER_KEYS = new Set(['core.https_address', 'cluster.https_address', 'core.metrics_address', 'storage.backups_volume', 'storage.images_volume']);

export class LocalStore {
  private constructor(private readonly db: Database.Database) {}

  static open(varDir: string): LocalStore {
    mkdirSync(join(varDir, 'database'), { recursive: true, mode: 0o700 });
    const db = new Database(join(varDir, 'database', 'local.db'));
    db.pragma('journal_mode = WAL');
    db.exec(SCHEMA);
    return new LocalStore(db);
  }

  config(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const r of this.db.prepare('SELECT key, value FROM config').all() as { key: string; value: string }[]) out[r.key] = r.value;
    return out;
  }

  /** Sets (or with null or '' removes) each key, in one transaction. */
  setConfig(changes: Record<string, string | null>): void {
    const set = this.db.prepare('INSERT INTO config (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    const del = this.db.prepare('DELETE FROM config WHERE key = ?');
    this.db.transaction(() => {
      for (const [k, v] of Object.entries(changes)) {
        if (v === null || v === '') del.run(k);
        else set.run(k, v);
      }
    })();
  }

  raftNodes(): RaftNode[] {
    return this.db.prepare('SELECT id, address, role, name FROM raft_nodes ORDER BY id').all() as RaftNode[];
  }

  setRaftNodes(nodes: RaftNode[]): void {
    const ins = this.db.prepare('INSERT INTO raft_nodes (id, address, role, name) VALUES (?, ?, ?, ?)');
    this.db.transaction(() => {
      this.db.exec('DELETE FROM raft_nodes');
      for (const n of nodes) ins.run(n.id, n.address, n.role, n.name);
    })();
  }

  /** This member's cluster address with its port (Incus's canonical form: 127.0.0.1 is 127.0.0.1:8443), or ''. */
  get clusterAddress(): string {
    return canonicalAddress(this.config()['cluster.https_address'] ?? '');
  }

  /** This member's raft id, or 0 while it is not a cluster member. */
  get raftId(): number {
    const address = this.clusterAddress;
    return this.raftNodes().find((n) => n.address === address)?.id ?? 0;
  }

  close(): void {
    this.db.close();
  }
}
