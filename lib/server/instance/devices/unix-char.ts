/** `unix-char` devices: a character device node in the container (see unix-common.ts). */
import { unixDriver } from './unix-common';

export const unixCharDevice = unixDriver('unix-char');
