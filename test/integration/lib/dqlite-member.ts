/**
 * One dqlite cluster member in a process of its own (so a test can kill -9
 * it): a TLS listener on 127.0.0.1 with the cluster certificate whose
 * connections are piped into the node, and outgoing raft traffic over the
 * same TLS. Started with fork(); argv[2] is JSON {id, port, dataDir,
 * certFile, keyFile}; reports {ready, address} over IPC, stops cleanly on
 * the message "stop".
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { DqliteNode } from '../../../lib/native/dqlite';
import { tlsClusterServer, tlsDial } from '../../../lib/server/db/dqlite/tls-transport';

interface MemberArgs {
  id: number;
  port: number;
  dataDir: string;
  certFile: string;
  keyFile: string;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2]) as MemberArgs;
  const cluster = { certPem: readFileSync(args.certFile, 'utf8'), keyPem: readFileSync(args.keyFile, 'utf8') };
  let node: DqliteNode | null = null;
  const server = tlsClusterServer(cluster, (socket) => {
    if (node) node.accept(socket);
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(args.port, '127.0.0.1', () => resolve());
  });
  const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  node = await DqliteNode.create({ id: args.id, address, dataDir: args.dataDir, dial: tlsDial(cluster), failureDomain: args.id });
  await node.start();
  process.send?.({ ready: true, address, bindAddress: node.bindAddress });
  process.on('message', (msg) => {
    if (msg !== 'stop') return;
    void (async () => {
      server.close();
      await node?.close();
      process.send?.({ stopped: true });
      process.exit(0);
    })();
  });
  process.on('disconnect', () => process.exit(0));
}

main().catch((err) => {
  console.error(`dqlite member: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
