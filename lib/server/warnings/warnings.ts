/**
 * The server's warnings: raised where a condition is noticed (a new row,
 * or the same one seen again), resolved when it clears, acknowledged or
 * deleted by the user; the API's view of a row.
 */
import type { Warning } from '../../api/warning';
import type { Db } from '../db';
import type { WarningMatch, WarningRow } from '../db/warnings';
import type { Logger } from '../log';
import type { EventBus } from '../operations/event-bus';
import { statusName, WarningStatus, warningSeverity, warningTypeName, type WarningTypeCode } from './types';

export const warningUrl = (uuid: string): string => `/1.0/warnings/${uuid}`;

export class Warnings {
  constructor(
    private readonly db: Db,
    private readonly events: EventBus,
    /** The daemon's log (new warnings are written there). */
    readonly log: Logger,
  ) {}

  /** Records the condition; logs it when it is new (or back after being resolved). */
  async raise(type: WarningTypeCode, message: string, where: { project?: string; entityUrl?: string } = {}): Promise<void> {
    const { fresh } = await this.db.warnings.upsert(type, where.project ?? '', where.entityUrl ?? '', message);
    if (fresh) this.log.warn(message, { type: warningTypeName(type), ...(where.entityUrl ? { entity: where.entityUrl } : {}) });
  }

  /** Marks the matching unresolved warnings resolved (the condition cleared). */
  async resolve(m: WarningMatch): Promise<void> {
    // Most calls find nothing to resolve: only then take the write transaction.
    if ((await this.db.warnings.unresolved(m)).length === 0) return;
    await this.db.transaction(async (tx) => {
      for (const r of await tx.warnings.unresolved(m)) await tx.warnings.setStatus(r.uuid, WarningStatus.resolved);
    });
  }

  /** Raises or resolves one condition by whether it holds. */
  async set(type: WarningTypeCode, holds: boolean, message: string, where: { project?: string; entityUrl?: string } = {}): Promise<void> {
    if (holds) await this.raise(type, message, where);
    else await this.resolve({ type, project: where.project ?? '', entityUrl: where.entityUrl ?? '' });
  }

  /** The warnings of an entity that went away (an instance deleted). */
  async forget(m: WarningMatch): Promise<void> {
    if ((await this.db.warnings.matching(m)).length === 0) return;
    await this.db.transaction(async (tx) => {
      for (const r of await tx.warnings.matching(m)) await tx.warnings.delete(r.uuid);
    });
  }

  toApi(r: WarningRow): Warning {
    return {
      status: statusName(r.status),
      uuid: r.uuid,
      location: 'none',
      project: r.project,
      type: warningTypeName(r.type_code),
      count: r.count,
      first_seen_at: r.first_seen_at,
      last_seen_at: r.last_seen_at,
      last_message: r.last_message,
      severity: warningSeverity(r.type_code),
      entity_url: r.entity_url,
    };
  }

  /** Lifecycle event for a user's change (Incus's warning-acknowledged/-reset/-deleted). */
  changed(action: 'warning-acknowledged' | 'warning-reset' | 'warning-deleted', uuid: string): void {
    this.events.lifecycle(action, warningUrl(uuid), 'default');
  }
}
