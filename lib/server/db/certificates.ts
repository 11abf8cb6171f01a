/** Trusted certificates (`/1.0/certificates`) and the projects a restricted one is limited to. */
import type { Certificate } from '../../api/certificate';
import { type Sql, Statements } from './sql';

interface Row {
  id: number;
  fingerprint: string;
  type: string;
  name: string;
  certificate: string;
  restricted: number;
  description: string;
}

export class CertificateQueries {
  private readonly st;

  constructor(private readonly sql: Sql) {
    const s = new Statements(sql);
    const cols = 'id, fingerprint, type, name, certificate, restricted, description';
    this.st = {
      list: s.prepare<[], Row>(`SELECT ${cols} FROM certificates ORDER BY fingerprint`),
      byFingerprint: s.prepare<[string], Row>(`SELECT ${cols} FROM certificates WHERE fingerprint = ?`),
      projects: s.prepare<[number], { name: string }>(
        'SELECT p.name FROM certificates_projects cp JOIN projects p ON p.id = cp.project_id WHERE cp.certificate_id = ? ORDER BY p.name',
      ),
      insert: s.prepare<[string, string, string, string, number, string]>(
        'INSERT INTO certificates (fingerprint, type, name, certificate, restricted, description) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      update: s.prepare<[string, string, string, number, string, number]>(
        'UPDATE certificates SET fingerprint = ?, name = ?, certificate = ?, restricted = ?, description = ? WHERE id = ?',
      ),
      clearProjects: s.prepare<[number]>('DELETE FROM certificates_projects WHERE certificate_id = ?'),
      addProject: s.prepare<[number, string]>(
        'INSERT OR IGNORE INTO certificates_projects (certificate_id, project_id) SELECT ?, id FROM projects WHERE name = ?',
      ),
      remove: s.prepare<[string]>('DELETE FROM certificates WHERE fingerprint = ?'),
    };
  }

  private async toApi(r: Row): Promise<Certificate> {
    return {
      name: r.name,
      type: r.type,
      restricted: r.restricted !== 0,
      projects: (await this.st.projects.all(r.id)).map((p) => p.name),
      certificate: r.certificate,
      description: r.description,
      fingerprint: r.fingerprint,
    };
  }

  async list(): Promise<Certificate[]> {
    return Promise.all((await this.st.list.all()).map((r) => this.toApi(r)));
  }

  async get(fingerprint: string): Promise<Certificate | undefined> {
    const r = await this.st.byFingerprint.get(fingerprint);
    return r ? this.toApi(r) : undefined;
  }

  /** Inserts a certificate with its projects (which must exist) in one transaction. */
  async create(c: Certificate): Promise<void> {
    await this.sql.transaction(async (tx) => {
      const id = (await this.st.insert.in(tx).run(c.fingerprint, c.type, c.name, c.certificate, c.restricted ? 1 : 0, c.description)).lastInsertRowid;
      for (const p of c.projects) await this.st.addProject.in(tx).run(id, p);
    });
  }

  /** Replaces the row found by `oldFingerprint` (the certificate itself may change) and its projects. */
  async update(oldFingerprint: string, c: Certificate): Promise<void> {
    await this.sql.transaction(async (tx) => {
      const row = await this.st.byFingerprint.in(tx).get(oldFingerprint);
      if (!row) return;
      await this.st.update.in(tx).run(c.fingerprint, c.name, c.certificate, c.restricted ? 1 : 0, c.description, row.id);
      await this.st.clearProjects.in(tx).run(row.id);
      for (const p of c.projects) await this.st.addProject.in(tx).run(row.id, p);
    });
  }

  async remove(fingerprint: string): Promise<void> {
    await this.st.remove.run(fingerprint);
  }
}
