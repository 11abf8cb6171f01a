/**
 * Numbered schema migrations: index N takes the schema from version N to N+1
 * (SQLite's user_version). Never edit a released step; append a new one.
 */
import type { Sql } from './sql';
import { splitPoolConfig } from './pool-member-keys';

type Step = (sql: Sql) => Promise<void>;

const v1: Step = async (sql) => {
  await sql.exec(`
    CREATE TABLE config (
      key TEXT PRIMARY KEY,
      value TEXT NOT NULL
    );
    CREATE TABLE projects (
      id INTEGER PRIMARY KEY,
      name TEXT NOT NULL UNIQUE,
      description TEXT NOT NULL DEFAULT '',
      config TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE profiles (
      id INTEGER PRIMARY KEY,
      project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      description TEXT NOT NULL DEFAULT '',
      config TEXT NOT NULL DEFAULT '{}',
      devices TEXT NOT NULL DEFAULT '{}',
      UNIQUE (project_id, name)
    );
    CREATE TABLE instances (
      id INTEGER PRIMARY KEY,
      project_id INTEGER NOT NULL REFERENCES projects(id),
      name TEXT NOT NULL,
      type TEXT NOT NULL,
      architecture TEXT NOT NULL,
      ephemeral INTEGER NOT NULL DEFAULT 0,
      stateful INTEGER NOT NULL DEFAULT 0,
      description TEXT NOT NULL DEFAULT '',
      created_at TEXT NOT NULL,
      last_used_at TEXT NOT NULL,
      config TEXT NOT NULL DEFAULT '{}',
      devices TEXT NOT NULL DEFAULT '{}',
      UNIQUE (project_id, name)
    );
    CREATE TABLE instance_profiles (
      instance_id INTEGER NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
      profile_id INTEGER NOT NULL REFERENCES profiles(id) ON DELETE RESTRICT,
      apply_order INTEGER NOT NULL,
      PRIMARY KEY (instance_id, profile_id)
    );
    CREATE INDEX instance_profiles_profile ON instance_profiles(profile_id);
    CREATE TABLE images (
      id INTEGER PRIMARY KEY,
      project_id INTEGER NOT NULL REFERENCES projects(id),
      fingerprint TEXT NOT NULL,
      filename TEXT NOT NULL DEFAULT '',
      size INTEGER NOT NULL,
      public INTEGER NOT NULL DEFAULT 0,
      architecture TEXT NOT NULL,
      type TEXT NOT NULL DEFAULT 'container',
      created_at TEXT NOT NULL,
      expires_at TEXT NOT NULL,
      uploaded_at TEXT NOT NULL,
      last_used_at TEXT NOT NULL,
      cached INTEGER NOT NULL DEFAULT 0,
      auto_update INTEGER NOT NULL DEFAULT 0,
      properties TEXT NOT NULL DEFAULT '{}',
      UNIQUE (project_id, fingerprint)
    );
    CREATE TABLE image_aliases (
      id INTEGER PRIMARY KEY,
      project_id INTEGER NOT NULL REFERENCES projects(id),
      name TEXT NOT NULL,
      image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
      description TEXT NOT NULL DEFAULT '',
      UNIQUE (project_id, name)
    );
    CREATE TABLE storage_pools (
      id INTEGER PRIMARY KEY,
      name TEXT NOT NULL UNIQUE,
      driver TEXT NOT NULL,
      description TEXT NOT NULL DEFAULT '',
      config TEXT NOT NULL DEFAULT '{}',
      status TEXT NOT NULL DEFAULT 'Created'
    );
    CREATE TABLE storage_volumes (
      id INTEGER PRIMARY KEY,
      pool_id INTEGER NOT NULL REFERENCES storage_pools(id) ON DELETE RESTRICT,
      project_id INTEGER NOT NULL REFERENCES projects(id),
      name TEXT NOT NULL,
      type TEXT NOT NULL,
      content_type TEXT NOT NULL DEFAULT 'filesystem',
      description TEXT NOT NULL DEFAULT '',
      config TEXT NOT NULL DEFAULT '{}',
      created_at TEXT NOT NULL,
      UNIQUE (pool_id, project_id, type, name)
    );
    INSERT INTO projects (name, description) VALUES ('default', 'Default Incus project');
    INSERT INTO profiles (project_id, name, description)
      VALUES ((SELECT id FROM projects WHERE name = 'default'), 'default', 'Default Incus profile');
  `);
};

/** Managed networks (issue 04). */
const v2: Step = async (sql) => {
  await sql.exec(`
    CREATE TABLE networks (
      id INTEGER PRIMARY KEY,
      project_id INTEGER NOT NULL REFERENCES projects(id),
      name TEXT NOT NULL,
      type TEXT NOT NULL,
      description TEXT NOT NULL DEFAULT '',
      config TEXT NOT NULL DEFAULT '{}',
      status TEXT NOT NULL DEFAULT 'Pending',
      UNIQUE (project_id, name)
    );
  `);
};

/** Where a downloaded image came from, for refresh and auto-update (issue 05). */
const v3: Step = async (sql) => {
  await sql.exec(`
    CREATE TABLE images_source (
      id INTEGER PRIMARY KEY,
      image_id INTEGER NOT NULL UNIQUE REFERENCES images(id) ON DELETE CASCADE,
      server TEXT NOT NULL,
      protocol TEXT NOT NULL,
      certificate TEXT NOT NULL DEFAULT '',
      alias TEXT NOT NULL DEFAULT ''
    );
  `);
};

/** Instance snapshots with the config and devices they were taken with (issue 06). */
const v4: Step = async (sql) => {
  await sql.exec(`
    CREATE TABLE instance_snapshots (
      id INTEGER PRIMARY KEY,
      instance_id INTEGER NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      created_at TEXT NOT NULL,
      expires_at TEXT NOT NULL DEFAULT '0001-01-01T00:00:00Z',
      stateful INTEGER NOT NULL DEFAULT 0,
      description TEXT NOT NULL DEFAULT '',
      architecture TEXT NOT NULL DEFAULT '',
      ephemeral INTEGER NOT NULL DEFAULT 0,
      config TEXT NOT NULL DEFAULT '{}',
      devices TEXT NOT NULL DEFAULT '{}',
      profiles TEXT NOT NULL DEFAULT '[]',
      UNIQUE (instance_id, name)
    );
    CREATE INDEX instance_snapshots_expiry ON instance_snapshots(expires_at);
  `);
};

/** Instance backups: the tarballs live under $INCUS_DIR/backups/instances/<instance id>/ (issue 06). */
const v5: Step = async (sql) => {
  await sql.exec(`
    CREATE TABLE instance_backups (
      id INTEGER PRIMARY KEY,
      instance_id INTEGER NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      created_at TEXT NOT NULL,
      expires_at TEXT NOT NULL DEFAULT '0001-01-01T00:00:00Z',
      instance_only INTEGER NOT NULL DEFAULT 0,
      optimized_storage INTEGER NOT NULL DEFAULT 0,
      compression TEXT NOT NULL DEFAULT 'gzip',
      UNIQUE (instance_id, name)
    );
  `);
};

/** Projects (issue 10): the default project holds every kind of resource, as Incus shows it. */
const v6: Step = async (sql) => {
  const features = ['images', 'networks', 'networks.zones', 'profiles', 'storage.buckets', 'storage.volumes'];
  const config = Object.fromEntries(features.map((f) => [`features.${f}`, 'true']));
  await sql.run("UPDATE projects SET config = json_patch(config, ?) WHERE name = 'default'", [JSON.stringify(config)]);
};

/** Trusted client certificates and the projects a restricted one may use (issue 11). */
const v7: Step = async (sql) => {
  await sql.exec(`
    CREATE TABLE certificates (
      id INTEGER PRIMARY KEY,
      fingerprint TEXT NOT NULL UNIQUE,
      type TEXT NOT NULL,
      name TEXT NOT NULL,
      certificate TEXT NOT NULL,
      restricted INTEGER NOT NULL DEFAULT 0,
      description TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE certificates_projects (
      certificate_id INTEGER NOT NULL REFERENCES certificates(id) ON DELETE CASCADE,
      project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
      PRIMARY KEY (certificate_id, project_id)
    );
  `);
};

/** Warnings (issue 15): one row per (project, entity, type), raised again in place. */
const v8: Step = async (sql) => {
  await sql.exec(`
    CREATE TABLE warnings (
      id INTEGER PRIMARY KEY,
      uuid TEXT NOT NULL UNIQUE,
      project TEXT NOT NULL DEFAULT '',
      entity_url TEXT NOT NULL DEFAULT '',
      type_code INTEGER NOT NULL,
      status INTEGER NOT NULL,
      first_seen_at TEXT NOT NULL,
      last_seen_at TEXT NOT NULL,
      updated_at TEXT NOT NULL DEFAULT '0001-01-01T00:00:00Z',
      last_message TEXT NOT NULL DEFAULT '',
      count INTEGER NOT NULL DEFAULT 1,
      UNIQUE (project, entity_url, type_code)
    );
  `);
};

/**
 * As in Incus's schema: a pool's volume rows go with its row (before it,
 * so that the foreign key's RESTRICT is met), and a volume's snapshot rows (`<volume>/<snapshot>`) are renamed and deleted
 * with it, also by hand-written SQL (`incus admin sql` recovery drills);
 * `storage_pools_config` answers the key/value queries scripts make of
 * Incus's table.
 */
const v9: Step = async (sql) => {
  await sql.exec(`
    CREATE TRIGGER storage_pools_volumes_delete BEFORE DELETE ON storage_pools
    BEGIN
      DELETE FROM storage_volumes WHERE pool_id = OLD.id;
    END;
    CREATE TRIGGER storage_volumes_snapshots_delete AFTER DELETE ON storage_volumes WHEN instr(OLD.name, '/') = 0
    BEGIN
      DELETE FROM storage_volumes WHERE pool_id = OLD.pool_id AND project_id = OLD.project_id AND type = OLD.type
        AND substr(name, 1, length(OLD.name) + 1) = OLD.name || '/';
    END;
    CREATE TRIGGER storage_volumes_snapshots_rename AFTER UPDATE OF name ON storage_volumes WHEN instr(OLD.name, '/') = 0
    BEGIN
      UPDATE storage_volumes SET name = NEW.name || substr(name, length(OLD.name) + 1)
        WHERE pool_id = OLD.pool_id AND project_id = OLD.project_id AND type = OLD.type
        AND substr(name, 1, length(OLD.name) + 1) = OLD.name || '/';
    END;
    CREATE VIEW storage_pools_config (storage_pool_id, node_id, key, value) AS
      SELECT sp.id, NULL, j.key, j.value FROM storage_pools sp, json_each(sp.config) j;
  `);
};

/**
 * `instances_devices_config` as a key/value view over each instance's device
 * JSON, writable through a trigger: scripts plant values with `incus admin sql`
 * (Incus keeps devices in that table), e.g. a stale value that validation
 * would now refuse.
 */
const v10: Step = async (sql) => {
  await sql.exec(`
    CREATE VIEW instances_devices_config (instance_id, device, key, value) AS
      SELECT i.id, d.key, c.key, c.value FROM instances i, json_each(i.devices) d, json_each(d.value) c;
    CREATE TRIGGER instances_devices_config_update INSTEAD OF UPDATE OF value ON instances_devices_config
    BEGIN
      UPDATE instances SET devices = json_set(devices, '$.' || json_quote(OLD.device) || '.' || json_quote(OLD.key), NEW.value)
        WHERE id = OLD.instance_id;
    END;
  `);
};

/** Network forwards: a listen address on a network, its config and port rules (JSON, as the API has them). */
const v11: Step = async (sql) => {
  await sql.exec(`
    CREATE TABLE networks_forwards (
      id INTEGER PRIMARY KEY,
      network_id INTEGER NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
      listen_address TEXT NOT NULL,
      description TEXT NOT NULL DEFAULT '',
      config TEXT NOT NULL DEFAULT '{}',
      ports TEXT NOT NULL DEFAULT '[]',
      UNIQUE (network_id, listen_address)
    );
  `);
};

/** Incus's architecture numbers (osarch), as the nodes table stores them. */
const ARCH_IDS: Record<string, number> = { ia32: 1, x64: 2, arm: 3, arm64: 4, ppc: 5, ppc64: 7, s390x: 8, mips: 9, riscv64: 12, loong64: 15 };

/**
 * Cluster members (Incus's `nodes`). A standalone host has one row, id 1,
 * named "none" at 0.0.0.0, as Incus creates it; bootstrapping a cluster
 * renames it and gives it the member's address.
 */
const v12: Step = async (sql) => {
  await sql.exec(`
    CREATE TABLE nodes (
      id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
      name TEXT NOT NULL,
      description TEXT DEFAULT '',
      address TEXT NOT NULL,
      schema INTEGER NOT NULL,
      api_extensions INTEGER NOT NULL,
      heartbeat DATETIME DEFAULT CURRENT_TIMESTAMP,
      state INTEGER NOT NULL DEFAULT 0,
      arch INTEGER NOT NULL DEFAULT 0 CHECK (arch > 0),
      failure_domain_id INTEGER DEFAULT NULL,
      UNIQUE (name),
      UNIQUE (address)
    );
  `);
  await sql.run("INSERT INTO nodes (id, name, description, address, schema, api_extensions, arch) VALUES (1, 'none', '', '0.0.0.0', 12, 0, ?)", [
    ARCH_IDS[process.arch] ?? 2,
  ]);
};

/** Custom volume backups: the tarballs live under $INCUS_DIR/backups/custom/<pool>/<project>_<volume>/, as Incus. */
const v13: Step = async (sql) => {
  await sql.exec(`
    CREATE TABLE storage_volumes_backups (
      id INTEGER PRIMARY KEY,
      storage_volume_id INTEGER NOT NULL REFERENCES storage_volumes(id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      created_at TEXT NOT NULL,
      expires_at TEXT NOT NULL DEFAULT '0001-01-01T00:00:00Z',
      volume_only INTEGER NOT NULL DEFAULT 0,
      optimized_storage INTEGER NOT NULL DEFAULT 0,
      compression TEXT NOT NULL DEFAULT 'gzip',
      UNIQUE (storage_volume_id, name)
    );
  `);
};

/** Cluster members' own config (Incus's nodes_config: scheduler.instance, user.*). */
const v14: Step = async (sql) => {
  await sql.exec(`
    CREATE TABLE nodes_config (
      id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
      node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
      key TEXT NOT NULL,
      value TEXT NOT NULL,
      UNIQUE (node_id, key)
    );
  `);
};

/**
 * Where things live in a cluster: the member an instance runs on, the members
 * holding an image's files (Incus's images_nodes), and each member's own
 * config of a storage pool (source, size: Incus's node-specific pool keys)
 * with the pool's state on that member. A standalone host is member 1.
 */
const v15: Step = async (sql) => {
  await sql.exec(`
    ALTER TABLE instances ADD COLUMN node_id INTEGER NOT NULL DEFAULT 1;
    CREATE INDEX instances_node ON instances(node_id);
    CREATE TABLE images_nodes (
      image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
      node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
      UNIQUE (image_id, node_id)
    );
    INSERT INTO images_nodes (image_id, node_id) SELECT id, 1 FROM images;
    CREATE TABLE storage_pools_nodes (
      storage_pool_id INTEGER NOT NULL REFERENCES storage_pools(id) ON DELETE CASCADE,
      node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
      state INTEGER NOT NULL DEFAULT 1,
      config TEXT NOT NULL DEFAULT '{}',
      UNIQUE (storage_pool_id, node_id)
    );
    DROP VIEW storage_pools_config;
    CREATE VIEW storage_pools_config (storage_pool_id, node_id, key, value) AS
      SELECT sp.id, NULL, j.key, j.value FROM storage_pools sp, json_each(sp.config) j
      UNION ALL
      SELECT spn.storage_pool_id, spn.node_id, j.key, j.value FROM storage_pools_nodes spn, json_each(spn.config) j;
  `);
  for (const pool of await sql.all<{ id: number; config: string }>('SELECT id, config FROM storage_pools')) {
    const { shared, member } = splitPoolConfig(JSON.parse(pool.config) as Record<string, string>);
    await sql.run('UPDATE storage_pools SET config = ? WHERE id = ?', [JSON.stringify(shared), pool.id]);
    await sql.run('INSERT INTO storage_pools_nodes (storage_pool_id, node_id, state, config) VALUES (?, 1, 1, ?)', [pool.id, JSON.stringify(member)]);
  }
};

/**
 * Cluster groups (Incus's cluster_groups, nodes_cluster_groups and
 * cluster_groups_config): "default" holds every member, as Incus creates it.
 */
const v16: Step = async (sql) => {
  await sql.exec(`
    CREATE TABLE cluster_groups (
      id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
      name TEXT NOT NULL,
      description TEXT NOT NULL DEFAULT '',
      UNIQUE (name)
    );
    CREATE TABLE nodes_cluster_groups (
      node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
      group_id INTEGER NOT NULL REFERENCES cluster_groups(id) ON DELETE CASCADE,
      UNIQUE (node_id, group_id)
    );
    CREATE TABLE cluster_groups_config (
      id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
      cluster_group_id INTEGER NOT NULL REFERENCES cluster_groups(id) ON DELETE CASCADE,
      key TEXT NOT NULL,
      value TEXT NOT NULL,
      UNIQUE (cluster_group_id, key)
    );
    INSERT INTO cluster_groups (id, name, description) VALUES (1, 'default', 'Default cluster group');
    INSERT INTO nodes_cluster_groups (node_id, group_id) SELECT id, 1 FROM nodes;
  `);
};

/**
 * Each member's part of a managed network in a cluster (Incus's
 * networks_nodes): its state there (0 pending, 1 created) and its own keys
 * (bridge.external_interfaces, parent). A standalone host has no rows.
 */
const v17: Step = async (sql) => {
  await sql.exec(`
    CREATE TABLE networks_nodes (network_id INTEGER NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
      node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE, state INTEGER NOT NULL DEFAULT 0,
      config TEXT NOT NULL DEFAULT '{}', UNIQUE (network_id, node_id));
  `);
};

export const migrations: Step[] = [v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15, v16, v17];
