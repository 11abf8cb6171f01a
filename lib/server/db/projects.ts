/** Project id lookups (projects get full CRUD in a later issue). */
import type { Database } from './database';

export class ProjectQueries {
  private readonly byName;

  constructor(db: Database) {
    this.byName = db.sql.prepare<[string], { id: number }>('SELECT id FROM projects WHERE name = ?');
  }

  /** The project's id, or undefined when there is no such project. */
  id(name: string): number | undefined {
    return this.byName.get(name)?.id;
  }
}
