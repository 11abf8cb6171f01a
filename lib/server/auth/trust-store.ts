/**
 * The trust store: certificates from the database, kept in memory for the
 * per-request check, and told to whoever must act at once when one is
 * removed or changes (the TLS listener drops that client's connections).
 */
import type { Certificate } from '../../api/certificate';
import type { Db, Queries } from '../db';
import { StatusError, conflict, notFound } from '../errors';
import { X509Certificate } from 'node:crypto';
import { fingerprintOf } from './x509';

/** Checks run inside a change's transaction before the write (the projects named exist). */
export type TrustCheck = (tx: Queries) => Promise<void>;

export class TrustStore {
  private cache = new Map<string, Certificate>();
  private readonly revokeListeners = new Set<(fingerprint: string) => void>();
  /** Reloads started and the latest one applied: a slow, older read never replaces a newer one. */
  private loadsStarted = 0;
  private loadApplied = 0;

  private constructor(private readonly db: Db) {}

  /** The store with the database's certificates loaded. */
  static async open(db: Db): Promise<TrustStore> {
    const store = new TrustStore(db);
    await store.reload();
    return store;
  }

  /** The entry for a peer certificate's fingerprint, if trusted. */
  lookup(fingerprint: string): Certificate | undefined {
    return this.cache.get(fingerprint) ?? this.clusterEntry(fingerprint);
  }

  /**
   * Trusts a peer presenting the cluster certificate as a member (Incus's
   * CheckTrustState trusts the network certificate): only members hold its
   * key. `current` is read at each lookup, as the certificate appears on
   * bootstrap or join.
   */
  trustClusterCertificate(current: () => string | null): void {
    this.clusterPem = current;
  }

  private clusterPem: () => string | null = () => null;
  private clusterSeen: { pem: string; entry: Certificate } | null = null;

  private clusterEntry(fingerprint: string): Certificate | undefined {
    const pem = this.clusterPem();
    if (pem === null) return undefined;
    if (this.clusterSeen?.pem !== pem) {
      const entry: Certificate = { name: 'cluster', type: 'server', restricted: false, projects: [], certificate: pem, description: '', fingerprint: fingerprintOf(new X509Certificate(pem)) };
      this.clusterSeen = { pem, entry };
    }
    return this.clusterSeen.entry.fingerprint === fingerprint ? this.clusterSeen.entry : undefined;
  }

  list(): Certificate[] {
    return [...this.cache.values()];
  }

  /**
   * The entry whose fingerprint starts with `prefix`, as Incus's
   * GetCertificateByFingerprintPrefix.
   */
  byPrefix(prefix: string): Certificate {
    const hits = [...this.cache.values()].filter((c) => c.fingerprint.startsWith(prefix.toLowerCase()));
    if (hits.length > 1) throw new StatusError(400, 'More than one certificate matches');
    if (hits.length === 0) throw notFound('Certificate not found');
    return hits[0]!;
  }

  /** Adds a certificate: 409 when its fingerprint is trusted already; `check` runs in the same transaction. */
  async create(c: Certificate, check?: TrustCheck): Promise<void> {
    await this.db.transaction(async (tx) => {
      if (await tx.certificates.get(c.fingerprint)) throw conflict('Certificate already in trust store');
      await check?.(tx);
      await tx.certificates.create(c);
    });
    await this.reload();
  }

  /**
   * Replaces the entry `fingerprint` with what `change` makes of its current
   * value, read and written in one transaction (so that concurrent changes
   * never undo each other); a replaced certificate cuts the old one's
   * connections. 404 when it went away, 409 when the new fingerprint is taken.
   */
  async update(fingerprint: string, change: (current: Certificate, tx: Queries) => Promise<Certificate>): Promise<void> {
    const next = await this.db.transaction(async (tx) => {
      const current = await tx.certificates.get(fingerprint);
      if (!current) throw notFound('Certificate not found');
      const c = await change(current, tx);
      if (c.fingerprint !== fingerprint && (await tx.certificates.get(c.fingerprint))) throw conflict('Certificate already in trust store');
      await tx.certificates.update(fingerprint, c);
      return c;
    });
    await this.reload();
    if (next.fingerprint !== fingerprint) this.revoked(fingerprint);
  }

  async remove(fingerprint: string): Promise<void> {
    await this.db.certificates.remove(fingerprint);
    await this.reload();
    this.revoked(fingerprint);
  }

  /** Called with a fingerprint whose connections must end now (removed or changed). */
  onRevoke(fn: (fingerprint: string) => void): () => void {
    this.revokeListeners.add(fn);
    return () => this.revokeListeners.delete(fn);
  }

  /** Re-reads the store (a project rename or delete changes the lists). */
  async reload(): Promise<void> {
    const load = ++this.loadsStarted;
    const list = await this.db.certificates.list();
    if (load < this.loadApplied) return;
    this.loadApplied = load;
    this.cache = new Map(list.map((c) => [c.fingerprint, c]));
  }

  private revoked(fingerprint: string): void {
    for (const fn of this.revokeListeners) fn(fingerprint);
  }
}
