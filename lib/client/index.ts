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
export {
  attachConsole,
  clearConsoleLog,
  deleteInstanceLogFile,
  getConsoleLog,
  getInstanceLogFiles,
  openOperationWebsocket,
  sendWindowResize,
} from './console';
export type { ConsoleAttachment } from './console';
export { execInstance, execReturn } from './exec';
export type { ExecControl, ExecIO, ExecOptions, ExecResult } from './exec';
export { createProfile, deleteProfile, patchProfile, renameProfile } from './profiles';
export {
  createProject,
  deleteProject,
  getProject,
  getProjectState,
  getProjects,
  getProjectWithEtag,
  renameProject,
  updateProject,
} from './projects';
export { putInstance } from './instance-update';
export { InstanceFiles, fileInfoOf } from './files';
export type { InstanceFileContent, InstanceFileInfo, InstanceFilePush } from './files';
export { SftpSession, isNoSuchFile, sftpCode } from './sftp';
export {
  createImage,
  exportImageToFiles,
  getImageSecret,
  getImageWithEtag,
  refreshImage,
  renameImageAlias,
  updateImage,
} from './images';
export type { ExportedImage, ImagesPost } from './images';
export { HttpsTransport, certFingerprint, httpsErrorFor } from './https-transport';
export type { HttpsOptions } from './https-transport';
export { fetchRemoteCertificate } from './remote-certificate';
export type { RemoteCertificate } from './remote-certificate';
