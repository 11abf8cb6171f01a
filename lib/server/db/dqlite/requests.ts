/**
 * Request bodies of dqlite's wire protocol (dqlite 1.11 src/request.h), one
 * builder per request type; each returns the whole message, header included.
 */
import { BodyWriter, encodeMessage, Request, Role, writeParams, type RoleName, type SqlParam } from './protocol';

/** LEADER: who leads (one unused word). */
export function leaderRequest(): Buffer {
  return encodeMessage(Request.Leader, new BodyWriter().uint64(0).body());
}

/** OPEN name with flags 0 and the node's default VFS (empty name). */
export function openRequest(name: string): Buffer {
  return encodeMessage(Request.Open, new BodyWriter().text(name).uint64(0).text('').body());
}

/** PREPARE sql on database dbId. */
export function prepareRequest(dbId: number, sql: string): Buffer {
  return encodeMessage(Request.Prepare, new BodyWriter().uint64(dbId).text(sql).body());
}

/** EXEC or QUERY of a prepared statement with its parameters. */
export function stmtRequest(type: typeof Request.Exec | typeof Request.Query, dbId: number, stmtId: number, params: readonly SqlParam[]): Buffer {
  const w = new BodyWriter().uint32(dbId).uint32(stmtId);
  writeParams(w, params);
  return encodeMessage(type, w.body());
}

/** FINALIZE a prepared statement. */
export function finalizeRequest(dbId: number, stmtId: number): Buffer {
  return encodeMessage(Request.Finalize, new BodyWriter().uint32(dbId).uint32(stmtId).body());
}

/** EXEC_SQL or QUERY_SQL: sql text with parameters (bound to its first statement). */
export function sqlRequest(type: typeof Request.ExecSql | typeof Request.QuerySql, dbId: number, sql: string, params: readonly SqlParam[]): Buffer {
  const w = new BodyWriter().uint64(dbId).text(sql);
  writeParams(w, params);
  return encodeMessage(type, w.body());
}

/** INTERRUPT the query whose rows are still streaming. */
export function interruptRequest(dbId: number): Buffer {
  return encodeMessage(Request.Interrupt, new BodyWriter().uint64(dbId).body());
}

/** ADD a member as a spare. */
export function addRequest(id: number, address: string): Buffer {
  return encodeMessage(Request.Add, new BodyWriter().uint64(id).text(address).body());
}

/** ASSIGN a role to a member. */
export function assignRequest(id: number, role: RoleName): Buffer {
  return encodeMessage(Request.Assign, new BodyWriter().uint64(id).uint64(Role[role]).body());
}

/** REMOVE a member. */
export function removeRequest(id: number): Buffer {
  return encodeMessage(Request.Remove, new BodyWriter().uint64(id).body());
}

/** DUMP the database file and WAL as this node holds them. */
export function dumpRequest(name: string): Buffer {
  return encodeMessage(Request.Dump, new BodyWriter().text(name).body());
}

/** CLUSTER in format 1 (id, address, role). */
export function clusterRequest(): Buffer {
  return encodeMessage(Request.Cluster, new BodyWriter().uint64(1).body());
}

/** TRANSFER leadership to a member (0: let raft pick one). */
export function transferRequest(id: number): Buffer {
  return encodeMessage(Request.Transfer, new BodyWriter().uint64(id).body());
}

/** DESCRIBE this node: failure domain and weight (format 0). */
export function describeRequest(): Buffer {
  return encodeMessage(Request.Describe, new BodyWriter().uint64(0).body());
}

/** WEIGHT: set this node's weight. */
export function weightRequest(weight: number): Buffer {
  return encodeMessage(Request.Weight, new BodyWriter().uint64(weight).body());
}
