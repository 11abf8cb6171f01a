/**
 * Schema upgrades and the helpers the query modules share. Engines live
 * beside it (sqlite-engine.ts; dqlite/ for a cluster); this module only
 * speaks the async seam.
 */
import { migrations } from './migrations';
import type { Sql } from './sql';

/** Applies the pending numbered migrations, each in its own transaction. */
export async function migrate(sql: Sql): Promise<void> {
  const row = await sql.get<{ user_version: number }>('PRAGMA user_version');
  const current = row?.user_version ?? 0;
  for (let v = current; v < migrations.length; v++) {
    const step = migrations[v];
    await sql.transaction(async (tx) => {
      await step(tx);
      await tx.exec(`PRAGMA user_version = ${v + 1}`);
    });
  }
}

/** Parses a JSON column holding a string map, tolerating NULL. */
export function jsonMap<T = Record<string, string>>(text: string | null): T {
  return (text ? JSON.parse(text) : {}) as T;
}
