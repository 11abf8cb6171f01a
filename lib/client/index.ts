/** Public surface of the API client. */
export { IncusClient, nameFromUrl } from './client';
export type {
  CallOptions,
  ClientOptions,
  ImageFileOptions,
  ImageImportResult,
  ListOptions,
  RawResult,
  WithEtag,
  WriteOptions,
} from './client';
export { ApiError, ConnectionError, isNotFound } from './errors';
export { EventStream } from './events';
export { parseEnvelope } from './envelope';
export type { Envelope } from './envelope';
export { Operation, checkOperation, isFinal } from './operation';
export type { RequestOptions, Requester } from './operation';
export { DEFAULT_SOCKET_PATH, discoverSocketPath } from './socket-path';
export type { HttpMethod, Transport, TransportRequest, TransportResponse } from './transport';
export { UnixTransport, connectionErrorFor } from './unix-transport';
