/** Remote image helpers: download progress text, cache config keys, server URLs. */
import t from 'tap';
import { byteSize, progressReporter } from '../../../lib/server/images/remote/progress';
import { imageCacheConfig, validateImageCacheKey } from '../../../lib/server/images/remote/config';
import { parseServerUrl } from '../../../lib/server/images/remote/server-url';

t.test('progress as Incus words it, at most every 200 ms unless done', async (t) => {
  t.equal(byteSize(999), '999B');
  t.equal(byteSize(1200), '1.20kB');
  t.equal(byteSize(3_400_000), '3.40MB');
  let now = 0;
  const seen: string[] = [];
  const p = progressReporter((md) => seen.push(String(md.download_progress)), () => now);
  now = 1000;
  p('metadata', 500, 1000);
  now = 1100;
  p('metadata', 600, 1000);
  now = 1300;
  p('metadata', 700, 1000);
  now = 1350;
  p('metadata', 1000, 1000);
  t.same(seen, ['metadata: 50% (500B/s)', 'metadata: 70% (538B/s)', 'metadata: 100% (740B/s)']);
});

t.test('cache keys: defaults, fractions, validation', async (t) => {
  t.same(imageCacheConfig({}), { autoUpdateIntervalHours: 6, autoUpdateCached: true, remoteCacheExpiryDays: 10 });
  t.same(imageCacheConfig({ 'images.auto_update_interval': '0', 'images.auto_update_cached': 'false', 'images.remote_cache_expiry': '0.5' }), {
    autoUpdateIntervalHours: 0,
    autoUpdateCached: false,
    remoteCacheExpiryDays: 0.5,
  });
  t.throws(() => validateImageCacheKey('images.auto_update_interval', 'often'), /not a non-negative number/);
  t.throws(() => validateImageCacheKey('images.remote_cache_expiry', '-1'), /not a non-negative number/);
  t.throws(() => validateImageCacheKey('images.auto_update_cached', 'maybe'), /not a boolean/);
  t.doesNotThrow(() => validateImageCacheKey('images.auto_update_interval', '12'));
});

t.test('remote servers: https, loopback http, unix sockets', async (t) => {
  t.same(parseServerUrl('https://images.example'), { kind: 'http', url: 'https://images.example' });
  t.same(parseServerUrl('http://127.0.0.1:8000'), { kind: 'http', url: 'http://127.0.0.1:8000' });
  t.same(parseServerUrl('unix:///var/lib/incus/unix.socket'), { kind: 'unix', socketPath: '/var/lib/incus/unix.socket' });
  t.throws(() => parseServerUrl('http://images.example'), /only https/);
  t.throws(() => parseServerUrl('ftp://x'), /only https/);
  t.throws(() => parseServerUrl('unix:relative'), /absolute socket path/);
});
