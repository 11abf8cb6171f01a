/** Instance console (`/1.0/instances/{name}/console`). */

/** The console types Incus knows: a text console, or SPICE for a VM's screen. */
export type InstanceConsoleType = 'console' | 'vga';

/** POST /1.0/instances/{name}/console. */
export interface InstanceConsolePost {
  /** Columns (console type only). */
  width?: number;
  /** Rows (console type only). */
  height?: number;
  /** `console` (default) or `vga` (API extension console_vga_type). */
  type?: InstanceConsoleType | '';
  /** Take the console over from a session already attached (API extension console_force). */
  force?: boolean;
}

/** A message on the console's `control` websocket (JSON text frame). */
export interface InstanceConsoleControl {
  command: string;
  args: Record<string, string>;
}

/** Operation metadata of a console session: one websocket secret per stream. */
export interface InstanceConsoleMetadata {
  fds: { '0': string; control: string };
}
