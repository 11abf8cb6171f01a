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
  /** Stops `name` at once (kill, no clean shutdown). */
  stop(name: string): Promise<void>;
  /** Deletes the stopped `name` and its rootfs. */
  delete(name: string): Promise<void>;
  /**
   * Whether `name` is running, read independently of the step that got it
   * there; checked between steps of the first cycle, untimed.
   */
  isRunning(name: string): Promise<boolean>;
  /** Releases what the driver set up (daemon, image); safe to call twice. */
  close(): Promise<void>;
}
