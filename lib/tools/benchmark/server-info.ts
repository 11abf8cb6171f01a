/** The "Test environment" block incus-benchmark prints before each run. */
import type { IncusClient } from '../../client/client';

/** Prints the server's environment as Incus's tool does. */
export async function printServerInfo(c: IncusClient): Promise<void> {
  const env = (await c.getServer()).environment;
  process.stdout.write(
    'Test environment:\n' +
      `  Server backend: ${env.server}\n` +
      `  Server version: ${env.server_version}\n` +
      `  Kernel: ${env.kernel}\n` +
      `  Kernel architecture: ${env.kernel_architecture}\n` +
      `  Kernel version: ${env.kernel_version}\n` +
      `  Storage backend: ${env.storage}\n` +
      `  Storage version: ${env.storage_version}\n` +
      `  Container backend: ${env.driver}\n` +
      `  Container version: ${env.driver_version}\n\n`,
  );
}
