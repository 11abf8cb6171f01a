/** Warning rows (`/1.0/warnings`): raised again in place, resolved, acknowledged, deleted. */
import { randomUUID } from 'node:crypto';
import { type Sql, Statements } from './sql';

export interface WarningRow {
  uuid: string;
  project: string;
  entity_url: string;
  type_code: number;
  status: number;
  first_seen_at: string;
  last_seen_at: string;
  last_message: string;
  count: number;
}

/** Which warnings a resolve or delete applies to (unset: any). */
export interface WarningMatch {
  type?: number;
  project?: string;
  entityUrl?: string;
}

const COLS = 'uuid, project, entity_url, type_code, status, first_seen_at, last_seen_at, last_message, count';
const STATUS_NEW = 1;
const STATUS_RESOLVED = 3;

export class WarningQueries {
  private readonly st;

  constructor(private readonly sql: Sql) {
    const s = new Statements(sql);
    this.st = {
      list: s.prepare<[], WarningRow>(`SELECT ${COLS} FROM warnings ORDER BY first_seen_at, uuid`),
      inProject: s.prepare<[string], WarningRow>(`SELECT ${COLS} FROM warnings WHERE project = ? ORDER BY first_seen_at, uuid`),
      get: s.prepare<[string], WarningRow>(`SELECT ${COLS} FROM warnings WHERE uuid = ?`),
      find: s.prepare<[string, string, number], WarningRow>(`SELECT ${COLS} FROM warnings WHERE project = ? AND entity_url = ? AND type_code = ?`),
      insert: s.prepare<[string, string, string, number, number, string, string, string]>(
        'INSERT INTO warnings (uuid, project, entity_url, type_code, status, first_seen_at, last_seen_at, last_message, count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)',
      ),
      again: s.prepare<[number, string, string, string]>('UPDATE warnings SET status = ?, last_seen_at = ?, last_message = ?, count = count + 1 WHERE uuid = ?'),
      setStatus: s.prepare<[number, string, string]>('UPDATE warnings SET status = ?, updated_at = ? WHERE uuid = ?'),
      remove: s.prepare<[string]>('DELETE FROM warnings WHERE uuid = ?'),
    };
  }

  /** Every warning, or the project's (`''`: the server's own). */
  async list(project?: string): Promise<WarningRow[]> {
    return project === undefined ? await this.st.list.all() : await this.st.inProject.all(project);
  }

  async get(uuid: string): Promise<WarningRow | undefined> {
    return this.st.get.get(uuid);
  }

  /**
   * Records the condition: a new row, or the existing one seen again
   * (count + 1; a resolved one becomes new, an acknowledged one stays so).
   * Returns the row and whether it is new or came back.
   */
  async upsert(type: number, project: string, entityUrl: string, message: string): Promise<{ row: WarningRow; fresh: boolean }> {
    return this.sql.transaction(async (tx) => {
      const now = new Date().toISOString();
      const found = await this.st.find.in(tx).get(project, entityUrl, type);
      if (found) {
        const status = found.status === STATUS_RESOLVED ? STATUS_NEW : found.status;
        await this.st.again.in(tx).run(status, now, message, found.uuid);
        return { row: (await this.st.get.in(tx).get(found.uuid))!, fresh: found.status === STATUS_RESOLVED };
      }
      const uuid = randomUUID();
      await this.st.insert.in(tx).run(uuid, project, entityUrl, type, STATUS_NEW, now, now, message);
      return { row: (await this.st.get.in(tx).get(uuid))!, fresh: true };
    });
  }

  async setStatus(uuid: string, status: number): Promise<void> {
    await this.st.setStatus.run(status, new Date().toISOString(), uuid);
  }

  /** The unresolved rows `m` matches. */
  async unresolved(m: WarningMatch): Promise<WarningRow[]> {
    return (await this.st.list.all()).filter((r) => r.status !== STATUS_RESOLVED && matches(r, m));
  }

  /** The rows `m` matches, whatever their status. */
  async matching(m: WarningMatch): Promise<WarningRow[]> {
    return (await this.st.list.all()).filter((r) => matches(r, m));
  }

  async delete(uuid: string): Promise<void> {
    await this.st.remove.run(uuid);
  }
}

function matches(r: WarningRow, m: WarningMatch): boolean {
  return (m.type === undefined || r.type_code === m.type) && (m.project === undefined || r.project === m.project) && (m.entityUrl === undefined || r.entity_url === m.entityUrl);
}
