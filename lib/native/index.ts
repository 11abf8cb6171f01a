/** The whole typed native surface in one import (lxc.ts already re-exports the rest). */
export * from './lxc';
export { watchPid } from './pidfd';
export { helperPath } from './addon';
export { AttachedProcess, attachCommand } from './exec';
export type { AttachSpec } from './exec';
export { PtyMaster, makePipe, openPty, setWindowSize } from './pty';
export type { OpenPtyOptions, PtyPair } from './pty';
export { ConsolePty, clearConsoleLog, openConsole, readConsoleLog } from './console';
export { FileSession, fileType } from './forkfile';
export type { CreateOptions, DirEntry, FileStat, ForkfileTarget, FsStats, OpenOptions, OpenedFile, SetAttrs } from './forkfile';
