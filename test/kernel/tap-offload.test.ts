/**
 * TAP offloads through virtio_net_hdr (IFF_VNET_HDR + TUNSETOFFLOAD) against the Linux
 * kernel, in a namespace the test creates (named vn...): 16 MiB each way byte-exact
 * (SHA-256) with checksum offload both ways and the kernel's TCP super-segments taken
 * whole; the kernel counts no checksum errors (/proc/net/snmp InCsumErrors in the
 * namespace), the stack counts none, and tshark finds no malformed packet in a capture
 * of the TAP's kernel side. Through the kernel as a router to a host that verifies every
 * checksum, the checksums the kernel completes from our NEEDS_CSUM frames are right. The
 * writer thread's ring at its smallest still delivers every byte. Without offload the
 * device says so and the same transfer works.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { configureLink, createNetns, deleteNetns, ip, uniqueName } from '../../src/node/netns.ts';
import { type TapStackHost, type TapStackOptions, tapStack } from '../../src/node/tap-stack.ts';
import { exited, skipUnless } from './helpers.ts';
import { fromKernel, toKernel } from './transfer.ts';

const MiB = 1 << 20;

/** A tapStack in a fresh `vn` namespace; closed and the namespace deleted when the test ends. */
async function vnHost(t: TestContext, options: TapStackOptions = {}): Promise<TapStackHost> {
  const ns = uniqueName('vn');
  createNetns(ns);
  let h: TapStackHost;
  try {
    h = await tapStack({ ...options, netns: ns, kernelAddr: '10.79.1.1/24', stackAddr: '10.79.1.2/24' });
  } catch (e) {
    deleteNetns(ns);
    throw e;
  }
  t.after(async () => {
    await h.close();
    deleteNetns(ns);
  });
  return h;
}

/** InCsumErrors of Tcp and Udp from /proc/net/snmp as the namespace sees it. */
async function kernelCsumErrors(h: TapStackHost, ns?: string): Promise<{ tcp: number; udp: number }> {
  const r = await h.exec([...(ns === undefined ? [] : ['ip', 'netns', 'exec', ns]), 'cat', '/proc/net/snmp']);
  assert.equal(r.code, 0, r.stderr);
  const field = (proto: string): number => {
    const rows = r.stdout.split('\n').filter((l) => l.startsWith(`${proto}:`));
    assert.equal(rows.length, 2, `${proto} rows in /proc/net/snmp`);
    const names = rows[0].trim().split(/\s+/);
    const values = rows[1].trim().split(/\s+/);
    const i = names.indexOf('InCsumErrors');
    assert.ok(i > 0, `${proto} InCsumErrors in /proc/net/snmp`);
    return Number(values[i]);
  };
  return { tcp: field('Tcp'), udp: field('Udp') };
}

/** dumpcap on the kernel side of the TAP. */
interface Capture {
  /**
   * Stops the capture once it holds `frames` frames (bounded in time). dumpcap hands frames
   * from its kernel ring to the file in blocks, so frames of the last second may still be in
   * the ring when the transfer ends; a SIGINT then would lose them, and the capture would hold
   * only what was drained by chance.
   */
  stop(frames: number): Promise<void>;
}

/** Starts dumpcap on the kernel side of the TAP; resolves once it captures. */
async function capture(h: TapStackHost, file: string): Promise<Capture> {
  // Not -q: dumpcap reports "Packets: N" on stderr as frames reach the file.
  const c = h.spawn(['dumpcap', '-i', h.ifname, '-s', '256', '-w', file]);
  let err = '';
  let written = 0;
  let onReport = (): void => {};
  c.stderr?.on('data', (b: Buffer) => {
    err += b.toString('utf8');
    for (const m of err.matchAll(/Packets: (\d+)/g)) written = Math.max(written, Number(m[1]));
    if (err.length > 4096) err = err.slice(-256);
    onReport();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dumpcap did not start: ${err}`)), 10_000);
    onReport = () => {
      if (/Capturing on/.test(err)) {
        clearTimeout(timer);
        resolve();
      }
    };
    c.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`dumpcap exited: ${err}`));
    });
  });
  return {
    async stop(frames: number): Promise<void> {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 10_000);
        onReport = () => {
          if (written >= frames) {
            clearTimeout(timer);
            resolve();
          }
        };
        onReport();
      });
      c.kill('SIGINT');
      assert.equal(await exited(c, 10_000), 0, 'dumpcap stopped cleanly');
      assert.ok(written >= frames, `dumpcap wrote ${written} frames of the ${frames} that crossed the TAP`);
    },
  };
}

/** Frames that crossed the TAP either way so far. */
function tapFrames(h: TapStackHost): number {
  return h.tap.stats.txFrames + h.tap.stats.rxFrames;
}

describe('TAP with virtio_net_hdr offloads, kernel peer', () => {
  it('16 MiB each way byte-exact; no checksum errors anywhere; tshark finds nothing malformed', async (t) => {
    if (skipUnless(t, ['python3', 'dumpcap', 'tshark'])) return;
    const h = await vnHost(t);
    const tap = h.tap;
    assert.equal(tap.offload, true, 'this kernel has IFF_VNET_HDR');
    assert.equal(tap.txChecksumOffload, true);
    assert.equal(tap.rxChecksumValid, true);
    const dir = mkdtempSync(join(tmpdir(), 'vn-offload-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'tap.pcapng');
    const before = await kernelCsumErrors(h);
    const cap = await capture(h, file);
    const framesBefore = tapFrames(h);

    await toKernel(t, h, 16 * MiB, 60_000);
    await fromKernel(t, h, 16 * MiB, 60_000);

    await cap.stop(tapFrames(h) - framesBefore);
    const after = await kernelCsumErrors(h);
    assert.deepEqual(after, before, 'kernel InCsumErrors unchanged');

    const st = tap.stats;
    // With TSO the 16 MiB to the kernel leave in super-segments of up to 64 KiB (>= 256 of them).
    assert.ok(st.txCsumOffloaded > 300, `frames sent with NEEDS_CSUM: ${st.txCsumOffloaded}`);
    assert.ok(st.txGso > 100, `TCP super-segments sent (GSO_TCPV4): ${st.txGso}`);
    // txGather: their payloads went from the send ring's shared buffer straight to the writer
    // thread, never copied into a frame; the bytes still arrived exact.
    assert.ok(st.txGathered > 100, `super-segments gathered from the send ring: ${st.txGathered}`);
    assert.ok(st.rxCsumTrusted > 100, `frames received with NEEDS_CSUM/DATA_VALID: ${st.rxCsumTrusted}`);
    assert.ok(st.rxGso > 0, `GSO super-segments received: ${st.rxGso}`);
    // lendRx (tapStack's default): TCP gave the super-segments' buffers back once read, and
    // the reader read later frames into them; the transfer above stayed byte-exact.
    assert.ok(st.rxReturned > 10, `receive buffers given back: ${st.rxReturned}`);
    assert.ok(st.rxReused > 10, `frames read into a given-back buffer: ${st.rxReused}`);
    assert.equal(st.rxCsumErrors, 0);
    assert.equal(st.rxBadHeader, 0);
    assert.equal(st.txErrors, 0);
    assert.equal(h.stack.tcpStats.badChecksum, 0);
    assert.equal(h.stack.tcpStats.malformed, 0);
    assert.equal(h.stack.stats.ip.badChecksum, 0);

    const tshark = (filter: string): number => {
      const out = execFileSync(
        'tshark',
        ['-n', '-r', file, '-Y', filter, '-T', 'fields', '-e', 'frame.number'],
        {
          encoding: 'utf8',
          maxBuffer: 64 << 20,
        },
      );
      return out.split('\n').filter((l) => l.trim() !== '').length;
    };
    assert.ok(tshark('tcp') > 500, 'TCP frames on the capture');
    // Both transfers are on it: our data to the kernel, the kernel's to us.
    assert.ok(tshark('ip.src == 10.79.1.2 && tcp.len > 1500') > 100, 'our super-segments on the capture');
    assert.ok(
      tshark('ip.src == 10.79.1.1 && tcp.len > 1500') > 10,
      "the kernel's super-segments on the capture",
    );
    assert.equal(tshark('_ws.malformed'), 0, 'malformed packets');
  });

  it('IPv6: 16 MiB each way byte-exact, GSO_TCPV6 super-segments both ways; no checksum errors; tshark finds nothing malformed', async (t) => {
    if (skipUnless(t, ['python3', 'dumpcap', 'tshark'])) return;
    const h = await vnHost(t, {
      ipv6: { kernelAddr: 'fd00:79::1/64', stackAddr: 'fd00:79::2/64' },
      // The kernel's address is configured without DAD; ours too, so both are usable at once.
      config: { ipv6: { slaac: { dadTransmits: 0 } } },
    });
    const dir = mkdtempSync(join(tmpdir(), 'vn-offload6-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'tap6.pcapng');
    const before = await kernelCsumErrors(h);
    const cap = await capture(h, file);
    const framesBefore = tapFrames(h);

    await toKernel(t, h, 16 * MiB, 60_000, { ns: h.ns, ip: 'fd00:79::1' });
    await fromKernel(t, h, 16 * MiB, 60_000, undefined, 'fd00:79::2');

    await cap.stop(tapFrames(h) - framesBefore);
    // TCP's MIB counts both families' checksum errors.
    assert.deepEqual(await kernelCsumErrors(h), before, 'kernel InCsumErrors unchanged');
    const st = h.tap.stats;
    // Only IPv6 carries TCP here: every super-segment sent went as GSO_TCPV6.
    assert.ok(st.txGso > 100, `TCP super-segments sent (GSO_TCPV6): ${st.txGso}`);
    assert.ok(st.txGathered > 100, `super-segments gathered from the send ring: ${st.txGathered}`);
    assert.ok(st.rxGso > 0, `GSO super-segments received: ${st.rxGso}`);
    assert.equal(st.rxCsumErrors, 0);
    assert.equal(st.rxBadHeader, 0);
    assert.equal(st.txErrors, 0);
    assert.equal(h.stack.tcpStats.badChecksum, 0);
    assert.equal(h.stack.tcpStats.malformed, 0);
    assert.equal(h.stack.ip6.stats.fragOk, 0, 'nothing fragmented');
    const tshark = (filter: string): number =>
      execFileSync('tshark', ['-n', '-r', file, '-Y', filter, '-T', 'fields', '-e', 'frame.number'], {
        encoding: 'utf8',
        maxBuffer: 64 << 20,
      })
        .split('\n')
        .filter((l) => l.trim() !== '').length;
    assert.ok(tshark('ipv6 && tcp') > 500, 'TCP over IPv6 frames on the capture');
    assert.ok(
      tshark('ipv6.src == fd00:79::2 && tcp.len > 1500') > 100,
      'our super-segments on the capture, as the kernel took them',
    );
    assert.ok(
      tshark('ipv6.src == fd00:79::1 && tcp.len > 1500') > 10,
      "the kernel's super-segments on the capture",
    );
    assert.equal(tshark('_ws.malformed'), 0, 'malformed packets');
  });

  it('through a kernel router to a checking host: the kernel completes our partial checksums right', async (t) => {
    if (skipUnless(t, ['python3', 'ethtool'])) return;
    // [sockstack] -TAP- (ns A: kernel, forwarding) -veth- (ns B: kernel). A's veth has
    // transmit checksum offload off, so A must complete each NEEDS_CSUM frame from us in
    // software (skb_checksum_help, from our csum_start/csum_offset and the pseudo-header sum
    // we left in the field); B's veth has receive offload off, so B verifies every checksum.
    const h = await vnHost(t);
    const b = uniqueName('vnb');
    createNetns(b);
    t.after(() => deleteNetns(b));
    const va = uniqueName('vna');
    const vb = uniqueName('vnb');
    ip(['link', 'add', va, 'netns', h.ns, 'type', 'veth', 'peer', 'name', vb, 'netns', b]);
    configureLink(va, { addresses: ['10.79.3.1/24'], disableIpv6: true }, h.ns);
    configureLink(vb, { addresses: ['10.79.3.2/24'], disableIpv6: true }, b);
    ip(['route', 'add', 'default', 'via', '10.79.3.1'], b);
    for (const [ns, cmd] of [
      [h.ns, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']],
      [h.ns, ['ethtool', '-K', va, 'tx', 'off']],
      [b, ['ethtool', '-K', vb, 'rx', 'off', 'tx', 'off']],
    ] as const) {
      const r = await h.exec(['ip', 'netns', 'exec', ns, ...cmd]);
      assert.equal(r.code, 0, `${cmd.join(' ')}: ${r.stderr}`);
    }
    h.stack.addRoute({ destination: '0.0.0.0/0', gateway: '10.79.1.1' });
    const before = await kernelCsumErrors(h, b);
    await toKernel(t, h, 4 * MiB, 60_000, { ns: b, ip: '10.79.3.2' });
    await fromKernel(t, h, 4 * MiB, 60_000, b);
    assert.deepEqual(await kernelCsumErrors(h, b), before, 'InCsumErrors at the checking host');
    const st = h.tap.stats;
    assert.ok(st.txCsumOffloaded > 100, `frames sent with NEEDS_CSUM: ${st.txCsumOffloaded}`);
    // The kernel router cut our super-segments for its veth without TSO (skb_gso_segment).
    assert.ok(st.txGso > 20, `TCP super-segments sent: ${st.txGso}`);
    assert.equal(st.rxCsumErrors, 0);
    assert.equal(h.stack.tcpStats.badChecksum, 0);
  });

  it('the smallest writer ring wraps and fills without losing a byte (4 MiB to the kernel)', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    // txRingBytes is raised to its minimum (room for two of the largest frames, ~128 KiB):
    // the ring wraps dozens of times, and bursts larger than it wait in the retry queue.
    // Once with MTU-sized frames, once with 64 KiB super-segments (TSO), two to a ring.
    const h = await vnHost(t, { txRingBytes: 1, tso: false });
    await toKernel(t, h, 4 * MiB, 60_000);
    const st = h.tap.stats;
    assert.ok(st.txFrames > 2000, `frames written: ${st.txFrames}`);
    assert.equal(st.txGso, 0);
    assert.equal(st.txErrors, 0);
    const g = await vnHost(t, { txRingBytes: 1 });
    await toKernel(t, g, 4 * MiB, 60_000);
    assert.ok(g.tap.stats.txGso > 30, `super-segments written: ${g.tap.stats.txGso}`);
    // Gathered records are small: many wait in the ring at once, and some in the retry queue.
    assert.ok(g.tap.stats.txGathered > 30, `super-segments gathered: ${g.tap.stats.txGathered}`);
    assert.equal(g.tap.stats.txErrors, 0);
  });

  it('txGather: false copies super-segments into their frames as before (2 MiB byte-exact)', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const h = await vnHost(t, { txGather: false });
    assert.equal(h.tap.txGather, false);
    await toKernel(t, h, 2 * MiB, 60_000);
    assert.ok(h.tap.stats.txGso > 10, `super-segments sent: ${h.tap.stats.txGso}`);
    assert.equal(h.tap.stats.txGathered, 0);
    assert.equal(h.tap.stats.txSharedBuffers, 0);
  });

  it('without a writer thread, gathered super-segments go out in one writev on the stack thread (4 MiB byte-exact)', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const h = await vnHost(t, { txRingBytes: 0 });
    await toKernel(t, h, 4 * MiB, 60_000);
    const st = h.tap.stats;
    assert.ok(st.txGathered > 30, `super-segments gathered: ${st.txGathered}`);
    assert.equal(st.txSharedBuffers, 0, 'no writer thread to hand buffers to');
    assert.equal(st.txErrors, 0);
  });

  it("the writer thread lets go of a send ring's shared buffer once the stack has", async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const h = await vnHost(t);
    // Each connection's send ring grows into shared buffers the writer reads payloads from.
    for (let i = 0; i < 3; i++) await toKernel(t, h, 2 * MiB, 30_000);
    const st = h.tap.stats;
    assert.ok(st.txGathered > 10, `super-segments gathered: ${st.txGathered}`);
    assert.ok(st.txSharedBuffers >= 3, `shared buffers handed to the writer: ${st.txSharedBuffers}`);
    // The connections are closed and their rings cleared: once collected here, the buffers are
    // reported (FinalizationRegistry), and the next frames tell the writer to drop them.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    for (let i = 0; i < 50 && h.tap.stats.txSharedFreed === 0; i++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    const freed = h.tap.stats.txSharedFreed;
    assert.ok(freed > 0, 'shared buffers collected');
    await toKernel(t, h, 2 * MiB, 30_000);
    assert.ok(
      h.tap.stats.txSharedForgotten >= freed,
      `the writer was told to drop ${h.tap.stats.txSharedForgotten} of ${freed}`,
    );
    assert.equal(h.tap.stats.txErrors, 0);
  });

  it('offload: false gives a plain TAP that still carries 1 MiB each way', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const h = await vnHost(t, { offload: false });
    assert.equal(h.tap.offload, false);
    assert.equal(h.tap.txChecksumOffload, false);
    assert.equal(h.tap.rxChecksumValid, false);
    await toKernel(t, h, MiB, 30_000);
    await fromKernel(t, h, MiB, 30_000);
    assert.equal(h.tap.stats.txCsumOffloaded, 0);
    assert.equal(h.tap.stats.rxGso, 0);
    assert.equal(h.stack.tcpStats.badChecksum, 0);
  });
});
