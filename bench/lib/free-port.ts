/** A TCP port on 127.0.0.1 that was free a moment ago (listen on 0, read it back, close). */
import { createServer } from 'node:net';

export async function freeLocalPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}
