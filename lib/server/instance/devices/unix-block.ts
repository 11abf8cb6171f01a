/** `unix-block` devices: a block device node in the container (see unix-common.ts). */
import { unixDriver } from './unix-common';

export const unixBlockDevice = unixDriver('unix-block');
