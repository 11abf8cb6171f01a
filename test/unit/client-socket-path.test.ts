import t from 'tap';
import { DEFAULT_SOCKET_PATH, discoverSocketPath } from '../../lib/client/socket-path';

t.test('INCUS_SOCKET wins over INCUS_DIR', async (t) => {
  t.equal(discoverSocketPath({ INCUS_SOCKET: '/run/x.sock', INCUS_DIR: '/tmp/d' }), '/run/x.sock');
});

t.test('INCUS_DIR gives DIR/unix.socket', async (t) => {
  t.equal(discoverSocketPath({ INCUS_DIR: '/tmp/d' }), '/tmp/d/unix.socket');
  t.equal(discoverSocketPath({ INCUS_DIR: '/tmp/d/' }), '/tmp/d/unix.socket');
});

t.test('empty variables count as unset; default is /var/lib/incus', async (t) => {
  t.equal(discoverSocketPath({}), '/var/lib/incus/unix.socket');
  t.equal(discoverSocketPath({ INCUS_SOCKET: '', INCUS_DIR: '' }), DEFAULT_SOCKET_PATH);
  t.equal(discoverSocketPath({ INCUS_SOCKET: '', INCUS_DIR: '/srv' }), '/srv/unix.socket');
});
