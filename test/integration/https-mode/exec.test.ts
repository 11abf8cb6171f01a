/** exec.test.ts again, every CLI call over an HTTPS remote (see ./over-https.ts). */
import { runOverHttps } from './over-https';

runOverHttps('../exec.test', {
  skipApiOnly: [
    'interactive: a pty, resize and signals through the control socket',
    '100 concurrent execs all return the right codes',
    'no fd leak in the daemon after 500 execs',
    'record-output and plain task execs',
    'websocket operation: metadata, secrets, cancel before connecting',
    'LXD 5.0 client: lxc exec',
    'the forkexec server is a child of the daemon',
  ],
});
