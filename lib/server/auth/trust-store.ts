/**
 * The trust store: certificates from the database, kept in memory for the
 * per-request check, and told to whoever must act at once when one is
 * removed or changes (the TLS listener drops that client's connections).
 */
import type { Certificate } from '../../api/certificate';
import type { CertificateQueries } from '../db/certificates';
import { StatusError, notFound } from '../errors';

export class TrustStore {
  private cache = new Map<string, Certificate>();
  private readonly revokeListeners = new Set<(fingerprint: string) => void>();

  constructor(private readonly db: CertificateQueries) {
    this.reload();
  }

  /** The entry for a peer certificate's fingerprint, if trusted. */
  lookup(fingerprint: string): Certificate | undefined {
    return this.cache.get(fingerprint);
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

  create(c: Certificate): void {
    this.db.create(c);
    this.reload();
  }

  /** Replaces an entry; a replaced certificate cuts the old one's connections. */
  update(oldFingerprint: string, c: Certificate): void {
    this.db.update(oldFingerprint, c);
    this.reload();
    if (c.fingerprint !== oldFingerprint) this.revoked(oldFingerprint);
  }

  remove(fingerprint: string): void {
    this.db.remove(fingerprint);
    this.reload();
    this.revoked(fingerprint);
  }

  /** Called with a fingerprint whose connections must end now (removed or changed). */
  onRevoke(fn: (fingerprint: string) => void): () => void {
    this.revokeListeners.add(fn);
    return () => this.revokeListeners.delete(fn);
  }

  /** Re-reads the store (a project rename or delete changes the lists). */
  reload(): void {
    this.cache = new Map(this.db.list().map((c) => [c.fingerprint, c]));
  }

  private revoked(fingerprint: string): void {
    for (const fn of this.revokeListeners) fn(fingerprint);
  }
}
