/** The whole typed native surface in one import (lxc.ts already re-exports the rest). */
export * from './lxc';
export { watchPid } from './pidfd';
export { helperPath } from './addon';
