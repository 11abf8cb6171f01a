/** storage.test.ts again, every CLI call over an HTTPS remote (see ./over-https.ts). */
import { runOverHttps } from './over-https';

runOverHttps('../storage.test', {
  // The btrfs tests are about the driver (loop files, subvolumes, quotas) and drive the CLI little; they cost the most.
  skipTop: ['btrfs pool on a loop file: optimized images, quotas, snapshots', 'btrfs driver snapshots: read-only, restore swaps subvolumes, quota kept'],
});
