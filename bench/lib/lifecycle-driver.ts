/** One way of driving a container's lifecycle, timed by the lifecycle case. */
export interface LifecycleDriver {
  /** Short name used in metric names (`raw`, `api`, `cli`, `lxd`). */
  readonly label: string;
  /** What it is, for the results legend. */
  readonly description: string;
  /** Creates `name` from the cached busybox image and starts it; resolves once it runs. */
  launch(name: string): Promise<void>;
  /** Starts the stopped `name`; resolves once it runs. */
  start(name: string): Promise<void>;
  /** Stops the running `name` cleanly (init asked to halt); resolves once it is stopped. */
  stop(name: string): Promise<void>;
  /** Stops the running `name` at once (kill, no clean shutdown). */
  stopForce(name: string): Promise<void>;
  /** Kills the running `name` and starts it again; resolves once it runs. */
  restartForce(name: string): Promise<void>;
  /** Deletes the running `name` and its rootfs, killing it first. */
  deleteForce(name: string): Promise<void>;
  /**
   * Whether `name` is running, read independently of the step that got it
   * there; checked between steps of the first cycle, untimed.
   */
  isRunning(name: string): Promise<boolean>;
  /** Releases what the driver set up (daemon, image); safe to call twice. */
  close(): Promise<void>;
}

/** How long a clean stop may take before it becomes a kill, on every side (lxc-stop's default). */
export const CLEAN_STOP_TIMEOUT_S = 60;
