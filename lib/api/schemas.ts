/**
 * JSON schemas of request bodies, used by the server's routes to refuse
 * malformed input with a message naming the field. Additional properties
 * are allowed, as Incus ignores fields it does not know.
 */

const stringMap = { type: 'object', additionalProperties: { type: 'string' } } as const;
const devicesMap = { type: 'object', additionalProperties: stringMap } as const;
const nullableStringList = { type: ['array', 'null'], items: { type: 'string' } } as const;

export const instancePutSchema = {
  type: 'object',
  properties: {
    architecture: { type: 'string' },
    config: { ...stringMap, type: ['object', 'null'] },
    devices: { ...devicesMap, type: ['object', 'null'] },
    ephemeral: { type: 'boolean' },
    profiles: nullableStringList,
    stateful: { type: 'boolean' },
    description: { type: 'string' },
    restore: { type: 'string' },
  },
} as const;

export const instancesPostSchema = {
  type: 'object',
  properties: {
    ...instancePutSchema.properties,
    name: { type: 'string' },
    type: { type: 'string', enum: ['container', 'virtual-machine', ''] },
    instance_type: { type: 'string' },
    start: { type: 'boolean' },
    source: {
      type: 'object',
      properties: {
        type: { type: 'string' },
        alias: { type: 'string' },
        fingerprint: { type: 'string' },
        server: { type: 'string' },
        protocol: { type: 'string' },
        project: { type: 'string' },
        properties: stringMap,
        source: { type: 'string' },
        instance_only: { type: 'boolean' },
        refresh: { type: 'boolean' },
      },
    },
  },
} as const;

/** `POST /1.0/instances/{name}/rebuild`: InstanceRebuildPost. */
export const instanceRebuildPostSchema = {
  type: 'object',
  required: ['source'],
  properties: { source: instancesPostSchema.properties.source },
} as const;

export const instancePostSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    migration: { type: 'boolean' },
    live: { type: 'boolean' },
    instance_only: { type: 'boolean' },
    container_only: { type: 'boolean' },
    allow_inconsistent: { type: 'boolean' },
    target: {
      type: ['object', 'null'],
      properties: {
        certificate: { type: 'string' },
        operation: { type: 'string' },
        websockets: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
    pool: { type: 'string' },
    project: { type: 'string' },
    refresh: { type: 'boolean' },
    profiles: { type: 'array', items: { type: 'string' } },
    config: { type: 'object', additionalProperties: { type: 'string' } },
    devices: { type: 'object', additionalProperties: { type: 'object', additionalProperties: { type: 'string' } } },
  },
} as const;

export const instanceStatePutSchema = {
  type: 'object',
  required: ['action'],
  properties: {
    action: { type: 'string', enum: ['start', 'stop', 'restart', 'freeze', 'unfreeze'] },
    timeout: { type: 'integer' },
    force: { type: 'boolean' },
    stateful: { type: 'boolean' },
  },
} as const;

export const imageAliasesPostSchema = {
  type: 'object',
  required: ['name', 'target'],
  properties: {
    name: { type: 'string', minLength: 1 },
    description: { type: 'string' },
    target: { type: 'string', minLength: 1 },
    type: { type: 'string' },
  },
} as const;

export const imageAliasPutSchema = {
  type: 'object',
  required: ['target'],
  properties: { description: { type: 'string' }, target: { type: 'string', minLength: 1 } },
} as const;

export const imagePutSchema = {
  type: 'object',
  properties: {
    auto_update: { type: 'boolean' },
    properties: stringMap,
    public: { type: 'boolean' },
    expires_at: { type: 'string' },
  },
} as const;

export const profilePutSchema = {
  type: 'object',
  properties: {
    config: { ...stringMap, type: ['object', 'null'] },
    description: { type: 'string' },
    devices: { ...devicesMap, type: ['object', 'null'] },
  },
} as const;

export const profilesPostSchema = {
  type: 'object',
  required: ['name'],
  properties: { ...profilePutSchema.properties, name: { type: 'string', minLength: 1 } },
} as const;

export const storagePoolsPostSchema = {
  type: 'object',
  required: ['name', 'driver'],
  properties: {
    name: { type: 'string', minLength: 1 },
    driver: { type: 'string', minLength: 1 },
    description: { type: 'string' },
    config: stringMap,
  },
} as const;

export const serverPutSchema = {
  type: 'object',
  properties: { config: { type: ['object', 'null'], additionalProperties: { type: ['string', 'number', 'boolean'] } } },
} as const;

export const networkPutSchema = {
  type: 'object',
  properties: {
    config: { ...stringMap, type: ['object', 'null'] },
    description: { type: 'string' },
  },
} as const;

export const networksPostSchema = {
  type: 'object',
  required: ['name'],
  properties: { ...networkPutSchema.properties, name: { type: 'string', minLength: 1 }, type: { type: 'string' } },
} as const;

export const networkPostSchema = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1 } },
} as const;

const forwardPortSchema = {
  type: 'object',
  properties: {
    description: { type: 'string' },
    protocol: { type: 'string' },
    listen_port: { type: 'string' },
    target_port: { type: 'string' },
    target_address: { type: 'string' },
  },
} as const;

export const networkForwardPutSchema = {
  type: 'object',
  properties: {
    config: { ...stringMap, type: ['object', 'null'] },
    description: { type: 'string' },
    ports: { type: ['array', 'null'], items: forwardPortSchema },
  },
} as const;

export const networkForwardsPostSchema = {
  type: 'object',
  required: ['listen_address'],
  properties: { ...networkForwardPutSchema.properties, listen_address: { type: 'string' } },
} as const;
