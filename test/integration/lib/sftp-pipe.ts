/**
 * `node sftp-pipe.js SOCKET INSTANCE`: opens the instance's SFTP endpoint
 * (HTTP upgrade) and joins it to stdin/stdout, so that OpenSSH's client can
 * use it as a local server (`sftp -D "node sftp-pipe.js ..."`).
 */
import { IncusClient } from '../../../lib/client';
import { InstanceFiles } from '../../../lib/client/files';

async function main(): Promise<void> {
  const [socketPath, instance] = process.argv.slice(2);
  if (!socketPath || !instance) throw new Error('usage: sftp-pipe SOCKET INSTANCE');
  const files = new InstanceFiles(new IncusClient({ socketPath }));
  const conn = await files.sftpConnection(instance);
  process.stdin.pipe(conn);
  conn.pipe(process.stdout);
  conn.on('close', () => process.exit(0));
}

main().catch((err: unknown) => {
  process.stderr.write(`sftp-pipe: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
