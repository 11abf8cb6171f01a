/** The rsync daemon the migration bench uses as its bare-TCP floor: its config, and how it is seen listening. */
import t from 'tap';
import { listeningOn, rsyncdConfig } from '../../bench/lib/rsync-daemon';

t.test('config: one writable module on loopback, ids kept, no chroot', async (t) => {
  const conf = rsyncdConfig(24873, 'm', '/srv/x');
  t.match(conf, /^port = 24873\naddress = 127\.0\.0\.1\n/);
  t.match(conf, /\n\[m\]\npath = \/srv\/x\nread only = no\nnumeric ids = yes\n$/);
  t.match(conf, /use chroot = no/);
});

t.test('listening: a 127.0.0.1 socket in state 0A on the port, nothing else', async (t) => {
  const table = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:6129 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0',
    '   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1',
    '   2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 100 0 0 10 0',
  ].join('\n');
  t.ok(listeningOn(0x6129, table));
  t.notOk(listeningOn(0x1f90, table), 'established, not listening');
  t.notOk(listeningOn(0x16, table), 'on 0.0.0.0, not loopback');
  t.notOk(listeningOn(1234, table));
});
