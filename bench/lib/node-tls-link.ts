/**
 * What one TLS link costs Node here, with nothing else to do: a sender
 * process writes a stream in 1 MiB writes (as the migration's frame sender
 * does) to a receiver process that drops it, over TLS 1.3 on 127.0.0.1
 * with the given certificate; the receiver reads into a reused 1 MiB
 * buffer (`onread`), as the migration's receiver reads into its pool. Each
 * side reports the CPU it used from the end of the handshake to the end of
 * the stream; the receiver the rate.
 */
import { spawn } from 'node:child_process';

const MIB = 1024 * 1024;

/** CPU per MiB of each end, and the receiver's rate. */
export interface TlsLinkCost {
  senderMsPerMib: number;
  receiverMsPerMib: number;
  mibPerSecond: number;
  cipher: string;
}

const SENDER = `
const tls = require('node:tls'), fs = require('node:fs');
const [cert, key, total] = process.argv.slice(1);
const server = tls.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key), minVersion: 'TLSv1.3' }, (c) => {
  const t0 = process.cpuUsage();
  const buf = Buffer.alloc(${MIB}, 0x5a);
  let sent = 0;
  const pump = () => {
    while (sent < +total) {
      const n = Math.min(${MIB}, +total - sent);
      sent += n;
      if (!c.write(n === ${MIB} ? buf : buf.subarray(0, n))) return void c.once('drain', pump);
    }
    c.end(() => {
      const u = process.cpuUsage(t0);
      console.log(JSON.stringify({ cpuMs: (u.user + u.system) / 1000, cipher: c.getCipher().name }));
      server.close();
    });
  };
  pump();
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
`;

const RECEIVER = `
const tls = require('node:tls');
let t0, w0, n = 0;
const onread = { buffer: Buffer.allocUnsafe(${MIB}), callback: (k) => { n += k; } };
const c = tls.connect({ host: '127.0.0.1', port: +process.argv[1], rejectUnauthorized: false, onread }, () => { t0 = process.cpuUsage(); w0 = process.hrtime.bigint(); });
c.on('end', () => {
  const u = process.cpuUsage(t0);
  console.log(JSON.stringify({ cpuMs: (u.user + u.system) / 1000, bytes: n, ms: Number(process.hrtime.bigint() - w0) / 1e6 }));
});
c.resume();
`;

/** Runs `node -e script args`; resolves each stdout line parsed as JSON through `onLine`, then the exit. */
function runNode(script: string, args: string[], onLine: (v: Record<string, unknown>) => void): Promise<void> {
  const child = spawn(process.execPath, ['-e', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buf = '';
  child.stdout.on('data', (b: Buffer) => {
    buf += b.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      onLine(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
      buf = buf.slice(i + 1);
    }
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`node TLS link side exited ${code}`))));
  });
}

/** Sends `bytes` over one TLS link between two fresh Node processes; see the file comment. */
export async function measureNodeTlsLink(cert: string, key: string, bytes: number): Promise<TlsLinkCost> {
  let sender: { cpuMs: number; cipher: string } | null = null;
  let receiver: { cpuMs: number; bytes: number; ms: number } | null = null;
  let started: Promise<void> | null = null;
  await new Promise<void>((resolve, reject) => {
    const senderDone = runNode(SENDER, [cert, key, String(bytes)], (v) => {
      if (typeof v.port === 'number') {
        started = runNode(RECEIVER, [String(v.port)], (r) => void (receiver = r as typeof receiver));
        started.catch(reject);
      } else sender = v as typeof sender;
    });
    senderDone.then(() => (started ?? Promise.reject(new Error('the sender never listened'))).then(resolve), reject);
  });
  if (!sender || !receiver) throw new Error('a TLS link side reported nothing');
  const s = sender as { cpuMs: number; cipher: string };
  const r = receiver as { cpuMs: number; bytes: number; ms: number };
  if (r.bytes !== bytes) throw new Error(`the receiver got ${r.bytes} of ${bytes} bytes`);
  return { senderMsPerMib: s.cpuMs / (bytes / MIB), receiverMsPerMib: r.cpuMs / (bytes / MIB), mibPerSecond: bytes / MIB / (r.ms / 1000), cipher: s.cipher };
}
