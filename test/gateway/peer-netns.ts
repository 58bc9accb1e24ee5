/**
 * A real peer for the gateway tests without leaving the machine: a network namespace the
 * test makes (and removes) whose interface holds documentation-range addresses
 * (198.51.100.1/24, 2001:db8:6::1/64), with an HTTP server and a UDP echo server on the
 * IPv6 address, a TTL and hop limit of its own (so a reply is known to come from there),
 * and ping sockets allowed or not (net.ipv4.ping_group_range). The gateway runs inside it
 * (`ip netns exec`), so the host it dials is that namespace's kernel.
 */
import type { ChildProcess } from 'node:child_process';
import type { TestContext } from 'node:test';
import { createNetns, deleteNetns, ip, nsExecSync, nsSpawn, uniqueName } from '../../src/node/netns.ts';
import { lines } from '../kernel/helpers.ts';

export const PEER4 = '198.51.100.1';
export const PEER6 = '2001:db8:6::1';
/** On the peer's subnet, nobody: no neighbour answers for it, so pings to it go unanswered. */
export const SILENT4 = '198.51.100.99';
export const TTL4 = 77;
export const HOPS6 = 66;
export const HTTP_PORT = 7000;
export const UDP_PORT = 7001;
export const BODY_SIZE = 300_000;

/** The body the peer's HTTP server sends for any request: deterministic, so guests can check it. */
export function peerBody(): Uint8Array {
  return Uint8Array.from({ length: BODY_SIZE }, (_, i) => (i * 7 + 3) & 0xff);
}

const SERVER = `
const net = require('node:net'), dgram = require('node:dgram');
const body = Buffer.alloc(${BODY_SIZE}, 0).map((_, i) => (i * 7 + 3) & 0xff);
const head = 'HTTP/1.0 200 OK\\r\\nContent-Length: ${BODY_SIZE}\\r\\nConnection: close\\r\\n\\r\\n';
const tcp = net.createServer((s) => {
  let req = '';
  s.on('data', (d) => { req += d; if (req.includes('\\r\\n\\r\\n')) { s.write(head); s.end(body); } });
  s.on('error', () => {});
});
const udp = dgram.createSocket('udp6');
udp.on('message', (m, r) => udp.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address));
tcp.listen(${HTTP_PORT}, '${PEER6}', () => udp.bind(${UDP_PORT}, '${PEER6}', () => console.log('ready')));
`;

export function kill(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** Makes the namespace (removed after the test) and starts its servers. */
export async function peerNamespace(
  t: TestContext,
  o: { pingAllowed: boolean; servers?: boolean },
): Promise<string> {
  const ns = uniqueName('gw6n');
  createNetns(ns);
  t.after(() => deleteNetns(ns));
  const sysctl = (kv: string) => nsExecSync(ns, 'sysctl', ['-qw', kv]);
  sysctl(`net.ipv4.ping_group_range=${o.pingAllowed ? '0 2147483647' : '1 0'}`);
  sysctl(`net.ipv4.ip_default_ttl=${TTL4}`);
  for (const dev of ['all', 'default', 'lo']) sysctl(`net.ipv6.conf.${dev}.hop_limit=${HOPS6}`);
  // The peer's addresses on one end of a veth pair whose other end holds none: an address
  // of their subnet that is not the peer's gets no neighbour, so it never answers.
  const a = uniqueName('gw6a');
  const b = uniqueName('gw6b');
  ip(['link', 'add', a, 'type', 'veth', 'peer', 'name', b], ns);
  ip(['addr', 'add', `${PEER4}/24`, 'dev', a], ns);
  ip(['addr', 'add', `${PEER6}/64`, 'dev', a, 'nodad'], ns);
  ip(['link', 'set', a, 'up'], ns);
  ip(['link', 'set', b, 'up'], ns);
  if (o.servers ?? true) {
    const server = nsSpawn(ns, process.execPath, ['-e', SERVER]);
    t.after(() => kill(server));
    await lines(server, 'server').waitFor(/ready/, 20_000);
  }
  return ns;
}

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;

/** Runs `sockstack gateway --socket SOCK ...` inside `ns`; resolves once it listens. Its log is `log.out`. */
export async function gatewayInNamespace(t: TestContext, ns: string, sock: string, args: readonly string[]) {
  const gw = nsSpawn(ns, process.execPath, [
    '--import',
    'tsx',
    MAIN,
    'gateway',
    '--socket',
    sock,
    '--status',
    '0',
    ...args,
  ]);
  t.after(() => kill(gw));
  // The command logs on stderr: read it as the helper's stdout.
  const log = lines({ stdout: gw.stderr, stderr: null, once: gw.once.bind(gw) } as never, 'gateway');
  await log.waitFor(/waiting for QEMU on/, 20_000);
  return log;
}
