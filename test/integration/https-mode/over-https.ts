/**
 * Runs an existing CLI integration test file with every `incus ...` call
 * going to its daemon over HTTPS: the harness (lib/daemon.ts withDaemon)
 * reads INCUS_TEST_TRANSPORT when it makes a daemon, listens on
 * 127.0.0.1:<free port>, trusts a client certificate through a token
 * (`remote add`) and makes that remote the default (`remote switch`).
 * Each wrapper in this folder is its own tap process, so the mode never
 * leaks into the socket runs of the same file.
 */

/** What a wrapper leaves out. */
export interface HttpsRunOptions {
  /** Top-level tests to skip over HTTPS (the wrapper says why). */
  skipTop?: string[];
  /**
   * Subtests (second level, under the file's top-level tests) to skip over
   * HTTPS because they never run our CLI (they call the API through the
   * harness's socket client), so they would only repeat the socket run.
   */
  skipApiOnly?: string[];
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Sets the HTTPS mode (and tap's filter) and loads `testModule` (a path relative to this folder). */
export function runOverHttps(testModule: string, opts: HttpsRunOptions = {}): void {
  process.env.INCUS_TEST_TRANSPORT = 'https';
  const none = (names: string[] | undefined): string => (names?.length ? `/^(?!(?:${names.map(escape).join('|')})$)/` : '/./');
  if (opts.skipTop?.length || opts.skipApiOnly?.length) {
    // tap's TAP_GREP: one pattern per nesting level; read when 'tap' is first loaded, which is below.
    process.env.TAP_GREP = [none(opts.skipTop), none(opts.skipApiOnly)].join('\n');
  }
  require(testModule);
}
