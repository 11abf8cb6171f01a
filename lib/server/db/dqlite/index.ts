/** The dqlite backend's client side: wire protocol client, TLS transport. */
export { DqliteClient, type DqliteClientOptions } from './client';
export { DqliteDatabase, DqliteStatement, rowObjects, type DqliteTransaction, type ExecResult, type QueryResult } from './database';
export { DqliteError } from './errors';
export type { Dial } from './leader';
export type { NodeInfo, RoleName, SqlParam, SqlValue } from './protocol';
export { certificateFingerprint, tlsClusterServer, tlsDial, type ClusterCertificate } from './tls-transport';
