/** Server configuration (`/1.0` config): a plain key/value table. */
import type { Database } from './database';

export class ConfigQueries {
  private readonly st;

  constructor(private readonly db: Database) {
    const s = db.sql;
    this.st = {
      all: s.prepare<[], { key: string; value: string }>('SELECT key, value FROM config ORDER BY key'),
      clear: s.prepare('DELETE FROM config'),
      insert: s.prepare('INSERT INTO config (key, value) VALUES (?, ?)'),
    };
  }

  all(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const r of this.st.all.all()) out[r.key] = r.value;
    return out;
  }

  /** Replaces the whole map in one transaction. */
  replace(config: Record<string, string>): void {
    this.db.transaction(() => {
      this.st.clear.run();
      for (const [k, v] of Object.entries(config)) this.st.insert.run(k, v);
    });
  }
}
