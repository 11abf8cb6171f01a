/** Trusted certificates (`/1.0/certificates`) and the projects a restricted one is limited to. */
import type { Certificate } from '../../api/certificate';
import type { Database } from './database';

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

  constructor(private readonly db: Database) {
    const s = db.sql;
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

  private toApi(r: Row): Certificate {
    return {
      name: r.name,
      type: r.type,
      restricted: r.restricted !== 0,
      projects: this.st.projects.all(r.id).map((p) => p.name),
      certificate: r.certificate,
      description: r.description,
      fingerprint: r.fingerprint,
    };
  }

  list(): Certificate[] {
    return this.st.list.all().map((r) => this.toApi(r));
  }

  get(fingerprint: string): Certificate | undefined {
    const r = this.st.byFingerprint.get(fingerprint);
    return r ? this.toApi(r) : undefined;
  }

  /** Inserts a certificate with its projects (which must exist) in one transaction. */
  create(c: Certificate): void {
    this.db.transaction(() => {
      const id = Number(this.st.insert.run(c.fingerprint, c.type, c.name, c.certificate, c.restricted ? 1 : 0, c.description).lastInsertRowid);
      for (const p of c.projects) this.st.addProject.run(id, p);
    });
  }

  /** Replaces the row found by `oldFingerprint` (the certificate itself may change) and its projects. */
  update(oldFingerprint: string, c: Certificate): void {
    this.db.transaction(() => {
      const row = this.st.byFingerprint.get(oldFingerprint);
      if (!row) return;
      this.st.update.run(c.fingerprint, c.name, c.certificate, c.restricted ? 1 : 0, c.description, row.id);
      this.st.clearProjects.run(row.id);
      for (const p of c.projects) this.st.addProject.run(row.id, p);
    });
  }

  remove(fingerprint: string): void {
    this.st.remove.run(fingerprint);
  }
}
