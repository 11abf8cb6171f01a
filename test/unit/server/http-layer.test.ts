import t from 'tap';
import Fastify from 'fastify';
import { DEFAULT_IDLE_TIMEOUT_S, idleTimeoutMs } from '../../../lib/server/http/timeouts';
import { attachBodySchemas } from '../../../lib/server/http/route-schemas';
import { recordRoutes } from '../../../lib/server/http/route-table';
import { frameworkErrors } from '../../../lib/server/http/framework-errors';
import { routeBodySchemas } from '../../../lib/api/body-schemas';

t.test('idle timeout: INCUS_HTTP_IDLE_TIMEOUT seconds, else 60 s', async (t) => {
  t.equal(DEFAULT_IDLE_TIMEOUT_S, 60);
  t.equal(idleTimeoutMs({}), 60_000);
  t.equal(idleTimeoutMs({ INCUS_HTTP_IDLE_TIMEOUT: '2' }), 2_000);
  t.equal(idleTimeoutMs({ INCUS_HTTP_IDLE_TIMEOUT: '0.5' }), 500);
  t.equal(idleTimeoutMs({ INCUS_HTTP_IDLE_TIMEOUT: 'soon' }), 60_000, 'garbage falls back to the default');
  t.equal(idleTimeoutMs({ INCUS_HTTP_IDLE_TIMEOUT: '0' }), 60_000, 'zero cannot disable it');
});

t.test('routes without an inline schema get theirs from the table; the route table records them', async (t) => {
  // The daemon's ajv settings: no type coercion.
  const app = Fastify({ frameworkErrors, routerOptions: { maxParamLength: 16 }, ajv: { customOptions: { coerceTypes: false } } });
  attachBodySchemas(app);
  const routes = recordRoutes(app);
  let seen: unknown = 'unset';
  app.post('/1.0/profiles/:name', async (req) => {
    seen = req.body;
    return { ok: true };
  });
  app.get('/1.0/profiles/:name', async () => ({ ok: true }));
  await app.ready();
  t.same(
    routes.map((r) => [r.method, r.url, r.params, r.bodySchema !== null]),
    [
      ['POST', '/1.0/profiles/:name', ['name'], true],
      ['GET', '/1.0/profiles/:name', ['name'], false],
    ],
    'one entry per method (no HEAD twin), with params and schema presence',
  );
  t.equal(routes[0]!.bodySchema, routeBodySchemas['POST /1.0/profiles/:name']);

  const bad = await app.inject({ method: 'POST', url: '/1.0/profiles/p1', payload: { name: 42 } });
  t.equal(bad.statusCode, 400, 'a number for a name is refused before the handler');
  t.equal(seen, 'unset');
  const empty = await app.inject({ method: 'POST', url: '/1.0/profiles/p1' });
  t.equal(empty.statusCode, 200, 'no body still reads as an empty object');
  t.same(seen, {});

  const badUrl = await app.inject({ method: 'GET', url: '/1.0/profiles/%E0%A4%A' });
  t.equal(badUrl.statusCode, 400);
  t.match(badUrl.json(), { type: 'error', error_code: 400, error: 'Invalid URL encoding' }, "router errors in Incus's envelope");
  const long = await app.inject({ method: 'GET', url: `/1.0/profiles/${'a'.repeat(40)}` });
  t.match(long.json(), { type: 'error', error_code: 400, error: 'Name too long' });
});
