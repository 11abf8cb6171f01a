/** `/`, `/1.0` and the internal endpoints the CLI uses. */
import type { FastifyInstance } from 'fastify';
import { serverPutSchema } from '../../../api/schemas';
import { syncResponse } from '../../response';
import type { DaemonState } from '../../state';
import { badRequest, StatusError } from '../../errors';
import { checkIfMatch, projectOf, setEtag } from '../request';
import { serverObject, untrustedServerObject } from '../../server-info';
import { callerOf } from '../../auth/caller';
import { listenAddresses } from '../../auth/listen-addresses';
import { messageOf } from '../../errors';
import { validateImageCacheKey } from '../../images/remote/config';
import { serverKeyProblem } from '../../server-config-keys';
import { metricsListenAddress } from '../../metrics/listener';
import { LOKI_KEYS } from '../../loki/config';
import { DAEMON_STORAGE_KEYS, isDaemonStorageKey, moveDaemonStorage, validateDaemonVolume } from '../../storage/daemon-storage';

/** The member's cluster address: kept in its local store, not in the (possibly shared) database. */
const CLUSTER_ADDRESS_KEY = 'cluster.https_address';
const HTTPS_ADDRESS_KEY = 'core.https_address';

/** Server keys accepted so far; later issues extend this table. */
const SERVER_KEYS = new Set([
  CLUSTER_ADDRESS_KEY,
  'cluster.join_token_expiry',
  'cluster.offline_threshold',
  'core.https_address',
  'core.metrics_address',
  'core.metrics_authentication',
  'core.remote_token_expiry',
  'core.shutdown_timeout',
  'images.auto_update_cached',
  'images.auto_update_interval',
  'images.compression_algorithm',
  'images.remote_cache_expiry',
  'instances.nic.host_name',
  ...LOKI_KEYS,
  ...Object.keys(DAEMON_STORAGE_KEYS),
]);

function validateServerConfig(config: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) {
    if (!SERVER_KEYS.has(k) && !k.startsWith('user.')) throw badRequest(`Invalid config: Unknown key "${k}"`);
    if (v !== null) validateImageCacheKey(k, String(v));
    const why = v !== null ? serverKeyProblem(k, String(v)) : null;
    if (why) throw badRequest(why);
    if (v !== null && v !== '') out[k] = String(v);
  }
  return out;
}

export function registerRoot(app: FastifyInstance, s: DaemonState): void {
  const facts = s.facts;
  /** The server config as `GET /1.0` shows it: the database's keys and this member's own. */
  const serverConfig = async (): Promise<Record<string, string>> => {
    const local = s.cluster.local.config();
    const address = local[CLUSTER_ADDRESS_KEY];
    // A member listens on its own core.https_address (Incus keeps it in the node-local database).
    const ownAddress = s.cluster.clustered ? local[HTTPS_ADDRESS_KEY] : undefined;
    const own: Record<string, string> = ownAddress ? { [HTTPS_ADDRESS_KEY]: ownAddress } : {};
    return { ...(await s.db.config.all()), ...own, ...(address ? { [CLUSTER_ADDRESS_KEY]: address } : {}) };
  };
  app.get('/', async () => syncResponse(['/1.0']));

  app.get('/1.0', async (req, reply) => {
    const config = await serverConfig();
    const caller = callerOf(req.raw, s.trust);
    if (!caller.trusted) {
      setEtag(reply, untrustedServerObject(config));
      return syncResponse(untrustedServerObject(config));
    }
    setEtag(reply, config);
    const net = {
      certificate: s.keypair.certPem,
      certificateFingerprint: s.keypair.fingerprint,
      addresses: listenAddresses(config['core.https_address'] ?? ''),
    };
    const who = caller.protocol === 'tls' ? { method: 'tls' as const, name: caller.fingerprint ?? '' } : undefined;
    return syncResponse(serverObject(facts, config, await projectOf(s, req), net, who));
  });

  /**
   * Saves the config, moving the HTTPS listener first: a listener that cannot start keeps the old config.
   * A daemon storage volume is checked before anything moves, its content moved just before the write.
   */
  const save = async (current: Record<string, string>, next: Record<string, string>): Promise<void> => {
    const storageChanges = Object.keys(DAEMON_STORAGE_KEYS).filter(isDaemonStorageKey).filter((k) => (current[k] ?? '') !== (next[k] ?? ''));
    for (const k of storageChanges) if (next[k]) await validateDaemonVolume(s.db, s.pools, k, next[k]);
    const clusterAddress = next[CLUSTER_ADDRESS_KEY] ?? '';
    if (clusterAddress !== (current[CLUSTER_ADDRESS_KEY] ?? '') && s.cluster.clustered) {
      throw new StatusError(500, 'Changing cluster.https_address is currently not supported');
    }
    const address = next['core.https_address'] ?? '';
    if (address !== s.https.current) {
      try {
        await s.https.apply(address);
      } catch (err) {
        throw badRequest(messageOf(err));
      }
    }
    const metricsAddress = metricsListenAddress(next['core.metrics_address'] ?? '');
    if (metricsAddress !== s.metricsListener.current) {
      try {
        await s.metricsListener.apply(metricsAddress);
      } catch (err) {
        throw badRequest(messageOf(err));
      }
    }
    for (const k of storageChanges) await moveDaemonStorage(s.varDir, s.pools, k, next[k] ?? '');
    const { [CLUSTER_ADDRESS_KEY]: _member, ...shared } = next;
    if (s.cluster.clustered) {
      // This member's own address; the shared value stays the cluster's.
      s.cluster.local.setConfig({ [HTTPS_ADDRESS_KEY]: address || null });
      const stored = (await s.db.config.all())[HTTPS_ADDRESS_KEY];
      if (stored) shared[HTTPS_ADDRESS_KEY] = stored;
      else delete shared[HTTPS_ADDRESS_KEY];
    }
    await s.db.config.replace(shared);
    if (clusterAddress !== (current[CLUSTER_ADDRESS_KEY] ?? '')) s.cluster.local.setConfig({ [CLUSTER_ADDRESS_KEY]: clusterAddress || null });
    s.events.lifecycle('config-updated', '/1.0');
  };

  // One config change at a time: each reads, checks If-Match, merges, moves the listeners and writes
  // while no other runs (a transaction would be held across the listeners' moves).
  let changing: Promise<unknown> = Promise.resolve();
  const serially = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = changing.then(fn);
    changing = run.catch(() => undefined);
    return run;
  };

  app.put('/1.0', { schema: { body: serverPutSchema } }, async (req) => {
    await serially(async () => {
      const current = await serverConfig();
      checkIfMatch(req, current);
      const body = (req.body ?? {}) as { config?: Record<string, unknown> | null };
      await save(current, validateServerConfig(body.config ?? {}));
    });
    return syncResponse({});
  });

  app.patch('/1.0', { schema: { body: serverPutSchema } }, async (req) => {
    await serially(async () => {
      const current = await serverConfig();
      checkIfMatch(req, current);
      const body = (req.body ?? {}) as { config?: Record<string, unknown> | null };
      const merged: Record<string, unknown> = { ...current, ...(body.config ?? {}) };
      await save(current, validateServerConfig(merged));
    });
    return syncResponse({});
  });

  app.get('/internal/ready', async () => syncResponse({}));

  app.put('/internal/shutdown', async () => {
    await s.requestShutdown();
    return syncResponse({});
  });
}
