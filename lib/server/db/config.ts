/** Server configuration (`/1.0` config): a plain key/value table. */
import { type Sql, Statements } from './sql';

export class ConfigQueries {
  private readonly st;

  constructor(private readonly sql: Sql) {
    const s = new Statements(sql);
    this.st = {
      all: s.prepare<[], { key: string; value: string }>('SELECT key, value FROM config ORDER BY key'),
      clear: s.prepare('DELETE FROM config'),
      insert: s.prepare('INSERT INTO config (key, value) VALUES (?, ?)'),
    };
  }

  async all(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const r of await this.st.all.all()) out[r.key] = r.value;
    return out;
  }

  /** Replaces the whole map in one transaction. */
  async replace(config: Record<string, string>): Promise<void> {
    await this.sql.transaction(async (tx) => {
      await this.st.clear.in(tx).run();
      for (const [k, v] of Object.entries(config)) await this.st.insert.in(tx).run(k, v);
    });
  }
}
