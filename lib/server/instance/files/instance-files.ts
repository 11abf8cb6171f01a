/**
 * File access inside an instance, as the files API, SFTP and pushes use
 * it: a small filesystem surface a driver opens per request (containers:
 * the forkfile helper in the container's namespaces or its rootfs; VMs:
 * the guest agent). The forkfile session defines the shape.
 */
import type { FileSession } from '../../../native/forkfile';

export type InstanceFiles = Pick<
  FileSession,
  | 'close'
  | 'lstat'
  | 'stat'
  | 'readdir'
  | 'mkdir'
  | 'symlink'
  | 'readlink'
  | 'remove'
  | 'rmdir'
  | 'removeAll'
  | 'rename'
  | 'link'
  | 'setstat'
  | 'open'
  | 'fstat'
  | 'fsetstat'
  | 'statvfs'
>;
