/**
 * JSON schemas of the request bodies whose routes declare none inline, keyed
 * by route ("METHOD /url/pattern"), so that every JSON body the daemon reads
 * is type-checked before a handler runs (a number where a name belongs is a
 * 400 naming the field, never a crash inside the handler). Additional
 * properties are allowed, as Incus ignores fields it does not know.
 */

const stringMap = { type: 'object', additionalProperties: { type: 'string' } } as const;
const timestamp = { type: ['string', 'null'] } as const;

export const instanceSnapshotsPostSchema = {
  type: 'object',
  properties: { name: { type: 'string' }, stateful: { type: 'boolean' }, expires_at: timestamp },
} as const;

export const instanceSnapshotPostSchema = {
  type: 'object',
  properties: { name: { type: 'string' }, migration: { type: 'boolean' }, live: { type: 'boolean' }, target: { type: ['object', 'null'] } },
} as const;

export const instanceSnapshotPutSchema = {
  type: 'object',
  properties: { expires_at: timestamp },
} as const;

export const instanceBackupsPostSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    expires_at: timestamp,
    instance_only: { type: 'boolean' },
    optimized_storage: { type: 'boolean' },
    compression_algorithm: { type: 'string' },
  },
} as const;

export const renameSchema = {
  type: 'object',
  properties: { name: { type: 'string' } },
} as const;

export const instanceConsolePostSchema = {
  type: 'object',
  properties: { width: { type: 'integer' }, height: { type: 'integer' }, type: { type: 'string' }, force: { type: 'boolean' } },
} as const;

export const imagesPostSchema = {
  type: 'object',
  properties: {
    filename: { type: 'string' },
    public: { type: 'boolean' },
    auto_update: { type: 'boolean' },
    expires_at: { type: 'string' },
    compression_algorithm: { type: 'string' },
    properties: stringMap,
    aliases: { type: ['array', 'null'], items: { type: 'object', properties: { name: { type: 'string' }, description: { type: 'string' } } } },
    source: {
      type: 'object',
      properties: {
        type: { type: 'string' },
        name: { type: 'string' },
        fingerprint: { type: 'string' },
        alias: { type: 'string' },
        server: { type: 'string' },
        protocol: { type: 'string' },
        secret: { type: 'string' },
        certificate: { type: 'string' },
        mode: { type: 'string' },
        url: { type: 'string' },
        project: { type: 'string' },
        image_type: { type: 'string' },
      },
    },
  },
} as const;

export const imageAliasPatchSchema = {
  type: 'object',
  properties: { description: { type: 'string' }, target: { type: 'string' } },
} as const;

export const recoverPostSchema = {
  type: 'object',
  properties: { pools: { type: ['array', 'null'], items: { type: 'object', properties: { name: { type: 'string' } } } } },
} as const;

export const snapshotTickSchema = {
  type: 'object',
  properties: { time: { type: 'string' } },
} as const;

export const projectPutSchema = {
  type: 'object',
  properties: { config: { ...stringMap, type: ['object', 'null'] }, description: { type: 'string' } },
} as const;

export const projectsPostSchema = {
  type: 'object',
  required: ['name'],
  properties: { ...projectPutSchema.properties, name: { type: 'string' } },
} as const;

/** Body schemas by route, for the routes that declare none themselves. */
export const routeBodySchemas: Readonly<Record<string, object>> = {
  'POST /1.0/instances/:name/snapshots': instanceSnapshotsPostSchema,
  'POST /1.0/instances/:name/snapshots/:snap': instanceSnapshotPostSchema,
  'PUT /1.0/instances/:name/snapshots/:snap': instanceSnapshotPutSchema,
  'PATCH /1.0/instances/:name/snapshots/:snap': instanceSnapshotPutSchema,
  'POST /1.0/instances/:name/backups': instanceBackupsPostSchema,
  'POST /1.0/instances/:name/backups/:backup': renameSchema,
  'POST /1.0/instances/:name/console': instanceConsolePostSchema,
  'POST /1.0/images': imagesPostSchema,
  'PATCH /1.0/images/aliases/*': imageAliasPatchSchema,
  'POST /1.0/images/aliases/*': renameSchema,
  'POST /1.0/profiles/:name': renameSchema,
  'POST /1.0/projects': projectsPostSchema,
  'PUT /1.0/projects/:name': projectPutSchema,
  'PATCH /1.0/projects/:name': projectPutSchema,
  'POST /1.0/projects/:name': renameSchema,
  'POST /internal/recover/validate': recoverPostSchema,
  'POST /internal/recover/import': recoverPostSchema,
  'POST /internal/testing/snapshots/tick': snapshotTickSchema,
};
