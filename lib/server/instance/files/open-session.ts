/**
 * Opens file access on an instance through its driver (inside it while it
 * runs, on its root volume otherwise). Waits for any state change in
 * progress so that the choice between the two cannot be overtaken by a
 * start or stop.
 */
import type { InstanceRecord } from '../../db/instances';
import type { InstanceDrivers } from '../load';
import type { InstanceManager } from '../manager';
import type { InstanceFiles } from './instance-files';

/** What opening a session needs from the daemon. */
export interface FileSessionDeps {
  instances: InstanceManager;
  drivers: InstanceDrivers;
}

/** Opens file access on `rec` (running or stopped); the caller closes it. */
export async function openInstanceFiles(deps: FileSessionDeps, rec: InstanceRecord): Promise<InstanceFiles> {
  const m = deps.instances;
  return m.locks.with(m.lockKey(rec), async () => {
    const fresh = await m.get(rec.project, rec.name);
    const driver = deps.drivers.of(fresh.type);
    const [st] = await driver.states([fresh]);
    return driver.openFiles(await m.runtime(fresh), st);
  });
}
