/** The backup tests again on a btrfs pool over a loop file the daemon creates (the default run uses dir). */
import { spawnSync } from 'node:child_process';
import t from 'tap';

if (spawnSync('mkfs.btrfs', ['--version']).status !== 0) {
  t.pass('skipped: no btrfs-progs (mkfs.btrfs) on this host', { skip: true });
} else {
  process.env.INCUS_TEST_POOL_DRIVER = 'btrfs';
  require('./backup.test');
}
