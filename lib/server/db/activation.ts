/**
 * What `incusd activateifneeded` reads: the database opened read-only,
 * without migrations, to tell whether the daemon has work at boot, in the
 * order and with the messages of Incus's main_activateifneeded.go.
 */
import BetterSqlite3 from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { jsonMap } from './database';

/** Why the daemon should start now (Incus's debug message), or why not. */
export interface ActivationCheck {
  activate: boolean;
  message: string;
}

/** Reads the database at `path` (absent: no need to start). */
export function activationCheck(path: string): ActivationCheck {
  if (!existsSync(path)) return { activate: false, message: 'No local database, so no need to start the daemon now' };
  const sql = new BetterSqlite3(path, { readonly: true, fileMustExist: true });
  try {
    const address = sql.prepare("SELECT value FROM config WHERE key = 'core.https_address'").get() as { value: string } | undefined;
    if (address && address.value !== '') return { activate: true, message: 'Daemon has core.https_address set, activating...' };
    const profiles = sql.prepare('SELECT ip.instance_id AS id, p.config AS config FROM instance_profiles ip JOIN profiles p ON p.id = ip.profile_id ORDER BY ip.instance_id, ip.apply_order').all() as {
      id: number;
      config: string;
    }[];
    for (const inst of sql.prepare('SELECT id, config FROM instances ORDER BY id').all() as { id: number; config: string }[]) {
      const expanded: Record<string, string> = {};
      for (const p of profiles) if (p.id === inst.id) Object.assign(expanded, jsonMap(p.config));
      Object.assign(expanded, jsonMap(inst.config));
      const autostart = expanded['boot.autostart'];
      const wasRunning = expanded['volatile.last_state.power'] === 'RUNNING';
      if (isTrue(autostart) || ((autostart ?? '') === '' && wasRunning)) return { activate: true, message: 'Daemon has auto-started instances, activating...' };
      if ((expanded['snapshots.schedule'] ?? '') !== '') return { activate: true, message: 'Daemon has scheduled instance snapshots, activating...' };
    }
    for (const v of sql.prepare("SELECT config FROM storage_volumes WHERE type = 'custom'").all() as { config: string }[]) {
      if ((jsonMap(v.config)['snapshots.schedule'] ?? '') !== '') return { activate: true, message: 'Daemon has scheduled volume snapshots, activating...' };
    }
    return { activate: false, message: 'No need to start the daemon now' };
  } finally {
    sql.close();
  }
}

function isTrue(v: string | undefined): boolean {
  return ['1', 'on', 'yes', 'true'].includes((v ?? '').toLowerCase());
}
