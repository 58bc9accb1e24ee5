/**
 * `startRelay({ uplinks: [tap] })` and `{ tap }`: a stack behind a WebSocket client
 * reaches the Linux kernel through the relay's TAP device. The TAP lives in a
 * namespace this test creates (and deletes); the kernel there pings the stack and
 * runs a TCP echo listener the stack connects to. Skips without root, /dev/net/tun
 * or iproute2.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { connectWebSocketLink } from '../../src/link/websocket.ts';
import {
  createNetns,
  deleteNetns,
  moveLinkToNetns,
  nsExecSync,
  nsSpawn,
  uniqueName,
} from '../../src/node/netns.ts';
import { startRelay } from '../../src/node/relay.ts';
import { StackRuntime } from '../../src/node/runtime.ts';
import { CryptoRng } from '../../src/rand/rng.ts';
import { AF_INET, SOCK_STREAM } from '../../src/socket/constants.ts';
import { Stack } from '../../src/stack.ts';
import { skipWithoutKernelLinks, tapInNetns } from '../helpers/netns.ts';

const missing = ['ping', 'python3'].filter((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0);
const skip = missing.length ? `not installed: ${missing.join(', ')}` : false;

const NET = `10.86.${60 + (process.pid % 150)}`;
const KERNEL = `${NET}.1`;
const STACK = `${NET}.2`;

/** A TCP echo server in the namespace; resolves once it listens. */
async function kernelEcho(netns: string, port: number) {
  const code = [
    'import socket,sys',
    's=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
    `s.bind(('${KERNEL}', ${port})); s.listen(1); s.settimeout(20)`,
    "print('ready', flush=True)",
    'c,a=s.accept(); c.settimeout(20)',
    "print('peer', a[0], flush=True)",
    'while True:',
    '  d=c.recv(4096)',
    '  if not d: break',
    '  c.sendall(d)',
    'c.close()',
  ].join('\n');
  const child = nsSpawn(netns, 'python3', ['-c', code]);
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  const timer = setTimeout(() => child.kill(), 30_000);
  child.once('exit', () => clearTimeout(timer));
  for (let i = 0; i < 200 && !out.includes('ready'); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(out.includes('ready'), 'the kernel echo server did not start');
  return { child, output: () => out };
}

/** A Node stack on a WebSocket link to the relay (as a page's stack would be). */
async function stackBehindWebSocket(t: import('node:test').TestContext, url: string): Promise<Stack> {
  const rt = new StackRuntime();
  t.after(() => rt.stop());
  const link = await connectWebSocketLink(url, { WebSocket, wake: () => rt.kick(), timeoutMs: 5000 });
  t.after(() => link.close());
  const stack = rt.addStack(new Stack({ clock: rt.clock, rng: new CryptoRng(), name: 'ws-client' }));
  stack.addInterface({ name: 'eth0', device: link, addresses: [`${STACK}/24`] });
  return stack;
}

describe('relay joined to a TAP device', { skip }, () => {
  it('a WebSocket client stack and the kernel behind the TAP ping and talk TCP', {
    timeout: 60_000,
  }, async (t) => {
    if (skipWithoutKernelLinks(t)) return;
    const { tap, netns } = await tapInNetns(t, { addresses: [`${KERNEL}/24`], name: uniqueName('webtap') });
    const relay = await startRelay({ uplinks: [tap] });
    t.after(() => relay.close());
    const stack = await stackBehindWebSocket(t, relay.url);

    // The kernel pings the stack: ARP and ICMP both ways through TAP, switch and WebSocket.
    // -w: wait for both replies up to a deadline (with -W alone, once one reply came,
    // ping waits only two round trips for the next, which a loaded machine can exceed).
    const ping = nsSpawn(netns, 'ping', ['-c', '2', '-i', '0.2', '-w', '20', STACK]);
    let pingOut = '';
    ping.stdout?.setEncoding('utf8').on('data', (d: string) => {
      pingOut += d;
    });
    const [code] = await once(ping, 'exit');
    assert.equal(code, 0, `ping: ${pingOut}`);
    assert.match(pingOut, /2 received/);

    // The stack connects to a kernel listener and gets its bytes echoed.
    const echo = await kernelEcho(netns, 7007);
    t.after(() => echo.child.kill());
    const s = stack.socket(AF_INET, SOCK_STREAM);
    s.settimeout(10);
    await s.connect([KERNEL, 7007]);
    const msg = new TextEncoder().encode('through the relay to the kernel');
    await s.sendall(msg);
    const got: number[] = [];
    for (let i = 0; i < 100 && got.length < msg.length; i++) {
      const d = await s.recv(1024);
      if (d.length === 0) break;
      got.push(...d);
    }
    await s.close();
    assert.equal(new TextDecoder().decode(new Uint8Array(got)), 'through the relay to the kernel');
    assert.match(echo.output(), new RegExp(`peer ${STACK.replace(/\./g, '\\.')}`));
    assert.ok(relay.stats.framesIn > 0 && relay.stats.framesOut > 0);
    assert.ok(tap.stats.rxFrames > 0 && tap.stats.txFrames > 0);
  });

  it('with { tap }, the relay opens the TAP itself and closes it (the interface goes away)', {
    timeout: 60_000,
  }, async (t) => {
    if (skipWithoutKernelLinks(t)) return;
    const name = uniqueName('webtap');
    const netns = uniqueName('webns');
    createNetns(netns);
    t.after(() => deleteNetns(netns));
    const relay = await startRelay({ tap: { name } });
    t.after(() => relay.close());
    assert.equal(relay.tap?.ifname, name);
    moveLinkToNetns(name, netns, { addresses: [`${KERNEL}/24`], disableIpv6: true });
    await stackBehindWebSocket(t, relay.url);
    const ping = nsSpawn(netns, 'ping', ['-c', '1', '-W', '5', STACK]);
    const [code] = await once(ping, 'exit');
    assert.equal(code, 0);
    await relay.close();
    assert.equal(relay.tap?.closed, true);
    assert.doesNotMatch(nsExecSync(netns, 'ip', ['-o', 'link']), new RegExp(`${name}[:@]`));
  });

  it('sockstack relay --tap NAME plugs the TAP in, says how to configure it, and removes it on SIGTERM', {
    timeout: 60_000,
  }, async (t) => {
    if (skipWithoutKernelLinks(t)) return;
    const name = uniqueName('webtap');
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'relay', '--port', '0', '--tap', name, '--quiet'],
      { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const killer = setTimeout(() => child.kill('SIGKILL'), 50_000);
    t.after(() => clearTimeout(killer));
    let err = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    const exited = once(child, 'exit');
    for (let i = 0; i < 300 && !err.includes('Ctrl-C to stop') && child.exitCode === null; i++)
      await new Promise((r) => setTimeout(r, 50));
    assert.match(
      err,
      new RegExp(`TAP ${name} plugged in \\(ip addr add ADDR/PREFIX dev ${name}; ip link set ${name} up\\)`),
    );
    assert.match(
      nsExecSync(undefined, 'ip', ['-o', 'link', 'show', 'dev', name]),
      /state DOWN|state UNKNOWN|<BROADCAST/,
    );
    child.kill('SIGTERM');
    const [code] = await exited;
    assert.equal(code, 0, err);
    assert.doesNotMatch(nsExecSync(undefined, 'ip', ['-o', 'link']), new RegExp(`: ${name}[:@]`));
  });
});
