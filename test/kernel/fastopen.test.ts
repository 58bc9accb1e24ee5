/**
 * TCP Fast Open (RFC 7413) against the Linux kernel over a TAP, in a namespace the test
 * creates (net.ipv4.tcp_fastopen is per namespace): a kernel client (Python's
 * sendto(MSG_FASTOPEN)) to our server, and our client to a kernel server (TCP_FASTOPEN).
 * The second connection of each pair carries its request in the SYN: tcpdump in the
 * namespace captures it and tshark reads the SYN's payload; the kernel's own counters
 * (nstat TcpExtTCPFastOpen*) agree. With the kernel's key set, the cookie the kernel hands
 * our client is the one our SipHash computes for the same key and addresses.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { TapStackHost } from '../../src/node/tap-stack.ts';
import { SeededRng } from '../../src/rand/rng.ts';
import { AF_INET, IPPROTO_TCP, MSG_FASTOPEN, SOCK_STREAM, TCP_FASTOPEN } from '../../src/socket/constants.ts';
import { FastOpen } from '../../src/tcp/fastopen.ts';
import { parseIp } from '../../src/wire/address.ts';
import { hasTshark, tsharkFields } from '../helpers/tshark.ts';
import { exited, host, lines, skipUnless, until } from './helpers.ts';

const KEY_TEXT = '00112233-44556677-8899aabb-ccddeeff';

/** The kernel's net.ipv4.tcp_fastopen_key bytes: each 32-bit word little-endian (cpu_to_le32). */
function keyBytes(text: string): Uint8Array {
  const key = new Uint8Array(16);
  const dv = new DataView(key.buffer);
  text.split('-').forEach((w, i) => {
    dv.setUint32(4 * i, Number.parseInt(w, 16), true);
  });
  return key;
}

/** tcpdump on the kernel's side of the TAP; `stop()` ends it and returns the SYNs that carried data. */
async function capture(
  t: TestContext,
  h: TapStackHost,
): Promise<{ stop(): Promise<{ src: string; len: number }[]> }> {
  const dir = mkdtempSync(join(tmpdir(), 'tfo-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'tfo.pcap');
  const dump = h.spawn([
    'tcpdump',
    '-Z',
    'root',
    '--immediate-mode',
    '-i',
    h.ifname,
    '-U',
    '-n',
    '-w',
    file,
    'tcp',
  ]);
  const err = { text: '' };
  dump.stderr?.on('data', (b: Buffer) => {
    err.text += b.toString();
  });
  await until(() => /listening on/.test(err.text), 10_000, 'tcpdump to start');
  return {
    async stop() {
      await new Promise((r) => setTimeout(r, 200));
      dump.kill('SIGINT');
      await exited(dump, 10_000);
      const rows = tsharkFields(file, ['ip.src', 'tcp.flags.syn', 'tcp.flags.ack', 'tcp.len']);
      const on = (v: string | undefined) => v === '1' || v === 'True';
      return rows
        .filter(([, syn, ack, len]) => on(syn) && !on(ack) && Number(len) > 0)
        .map(([src, , , len]) => ({ src: src!, len: Number(len) }));
    },
  };
}

/** A kernel counter in the namespace (nstat -az). */
async function nstat(h: TapStackHost, name: string): Promise<number> {
  const r = await h.exec(['nstat', '-az', name]);
  const m = r.stdout.match(new RegExp(`${name}\\s+(\\d+)`));
  return m ? Number(m[1]) : Number.NaN;
}

const KERNEL_CLIENT = `
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
for i in range(2):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.sendto(b"hello %d" % i, socket.MSG_FASTOPEN, (host, port))
    print("REPLY", s.recv(100).decode(), flush=True)
    s.close()
`;

const KERNEL_SERVER = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_TCP, 23, 16)  # TCP_FASTOPEN
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(8)
print("ready", flush=True)
for i in range(2):
    c, _ = s.accept()
    c.sendall(c.recv(100).upper())
    c.close()
`;

describe('kernel peer over TAP: TCP Fast Open', () => {
  it('a kernel Fast Open client (sendto MSG_FASTOPEN) to our server: data in its second SYN', async (t) => {
    if (skipUnless(t, ['python3', 'tcpdump', 'nstat'])) return;
    if (!hasTshark()) return t.skip('tshark is not installed');
    const h = await host(t, { config: { tcp: { fastOpen: 3 } } });
    assert.equal((await h.exec(['sysctl', '-qw', 'net.ipv4.tcp_fastopen=3'])).code, 0);
    const cap = await capture(t, h);
    const l = h.stack.socket(AF_INET, SOCK_STREAM);
    t.after(() => l.close());
    l.setsockopt(IPPROTO_TCP, TCP_FASTOPEN, 16);
    await l.bind(['', 5401]);
    await l.listen(8);
    l.settimeout(10);
    const client = h.spawn(['python3', '-c', KERNEL_CLIENT, h.stackIp, '5401']);
    const out = lines(client, 'kernel client');
    for (let i = 0; i < 2; i++) {
      const [c] = await l.accept();
      c.settimeout(10);
      const req = await c.recv(100);
      await c.sendall(new TextDecoder().decode(req).toUpperCase());
      await c.close();
    }
    await out.waitFor(/REPLY HELLO 1/);
    assert.equal(await exited(client, 5000), 0);
    const syns = await cap.stop();
    assert.deepEqual(syns, [{ src: h.kernelIp, len: 7 }], 'one SYN with "hello 1" in it, from the kernel');
    assert.equal(h.stack.tcp.stats.fastOpenCookieReqd, 1);
    assert.equal(h.stack.tcp.stats.fastOpenPassive, 1);
    assert.equal(await nstat(h, 'TcpExtTCPFastOpenActive'), 1);
  });

  it('our client (sendto MSG_FASTOPEN) to a kernel Fast Open server: its cookie is our SipHash; data in the second SYN', async (t) => {
    if (skipUnless(t, ['python3', 'tcpdump', 'nstat'])) return;
    if (!hasTshark()) return t.skip('tshark is not installed');
    const h = await host(t, { config: { tcp: { fastOpen: 1 } } });
    assert.equal((await h.exec(['sysctl', '-qw', 'net.ipv4.tcp_fastopen=3'])).code, 0);
    assert.equal((await h.exec(['sysctl', '-qw', `net.ipv4.tcp_fastopen_key=${KEY_TEXT}`])).code, 0);
    const cap = await capture(t, h);
    const server = h.spawn(['python3', '-c', KERNEL_SERVER, h.kernelIp, '5402']);
    const out = lines(server, 'kernel server');
    await out.waitFor(/ready/);
    for (let i = 0; i < 2; i++) {
      const s = h.stack.socket(AF_INET, SOCK_STREAM);
      t.after(() => s.close());
      s.settimeout(10);
      assert.equal(await s.sendto(`hello ${i}`, MSG_FASTOPEN, [h.kernelIp, 5402]), 7);
      assert.equal(new TextDecoder().decode(await s.recv(100)), `HELLO ${i}`);
      await s.close();
    }
    assert.equal(await exited(server, 5000), 0);
    const cached = h.stack.tcp.fastOpen.cached(parseIp(h.kernelIp)!)?.cookie?.cookie;
    const ours = new FastOpen(new SeededRng(1), keyBytes(KEY_TEXT)).cookie(
      parseIp(h.stackIp)!,
      parseIp(h.kernelIp)!,
    );
    assert.deepEqual(cached, ours, 'the kernel cookie for our address is SipHash-2-4 of the addresses');
    const syns = await cap.stop();
    assert.deepEqual(syns, [{ src: h.stackIp, len: 7 }], 'one SYN with "hello 1" in it, from us');
    assert.equal(h.stack.tcp.stats.fastOpenActive, 1);
    assert.equal(await nstat(h, 'TcpExtTCPFastOpenPassive'), 1);
  });
});
