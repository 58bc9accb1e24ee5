/**
 * Modern loss recovery and ECN against the Linux kernel over TAP (issue #16's real peer),
 * in namespaces the tests create (named rk...). Impairments come from our own link layer
 * on our side of the TAP (this kernel has no netem), seeded, so each run sees the same
 * pattern of loss:
 *
 * - Our sender (Linux profile: RACK-TLP, PRR, SACK) to the kernel over a link that drops
 *   and reorders our frames: every byte arrives (SHA-256 at the kernel), RACK marked the
 *   losses, fast recovery repaired them, and the kernel's D-SACKs for the spurious
 *   retransmissions reordering causes are honoured.
 * - The kernel's sender to us over a link that drops its frames: our SACK blocks drive the
 *   kernel's SACK recovery (its TcpExtTCPSackRecovery counter grows) and every byte
 *   arrives.
 * - Undo on D-SACK both ways, over a link that only reorders: the receiver reports each
 *   needless retransmission as a D-SACK and the sender undoes its window reduction (ours:
 *   spuriousUndos; the kernel's: its TcpExtTCP*Undo counters).
 * - ECN both ways (RFC 3168) with the kernel's net.ipv4.tcp_ecn=1: a marking AQM on our side
 *   of the link sets CE on ECT frames above a queue threshold; the receiver echoes ECE,
 *   the sender reduces its window and answers CWR, and the AQM drops nothing.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { Impairments } from '../../src/link/impair.ts';
import { createNetns, deleteNetns, uniqueName } from '../../src/node/netns.ts';
import { type TapStackHost, type TapStackOptions, tapStack } from '../../src/node/tap-stack.ts';
import { SeededRng } from '../../src/rand/rng.ts';
import { millis } from '../../src/time/instant.ts';
import { skipUnless } from './helpers.ts';
import { fromKernel, toKernel } from './transfer.ts';

const MiB = 1 << 20;

async function rkHost(
  t: TestContext,
  impair: { tx?: Impairments; rx?: Impairments },
  options: TapStackOptions = {},
): Promise<TapStackHost> {
  const ns = uniqueName('rk');
  createNetns(ns);
  let h: TapStackHost;
  try {
    h = await tapStack({
      ...options,
      netns: ns,
      kernelAddr: '10.81.1.1/24',
      stackAddr: '10.81.1.2/24',
      impair,
      rng: new SeededRng(0x5eed),
    });
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

/** The namespace's kernel counters (nstat -az: absolute values, TcpExt included). */
async function nstat(h: TapStackHost): Promise<Map<string, number>> {
  const r = await h.exec(['nstat', '-az']);
  assert.equal(r.code, 0, r.stderr);
  const m = new Map<string, number>();
  for (const line of r.stdout.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 2 && /^\d+$/.test(f[1])) m.set(f[0], Number(f[1]));
  }
  return m;
}

async function sysctl(h: TapStackHost, name: string, value: string): Promise<void> {
  const r = await h.exec(['sh', '-c', `echo ${value} > /proc/sys/${name.replaceAll('.', '/')}`]);
  assert.equal(r.code, 0, `${name}=${value}: ${r.stderr}`);
}

describe('loss recovery and ECN against the kernel over TAP', () => {
  it('RACK-TLP + PRR: our sender over 1 % loss and reordering, every byte delivered', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const h = await rkHost(t, {
      tx: { loss: 0.01, reorder: { probability: 0.02, extraDelay: millis(3) } },
    });
    const st = h.stack.tcp.stats;
    const before = { ...st };
    await toKernel(t, h, 8 * MiB, 90_000);
    const lost = h.impaired?.txStats?.dropped.loss ?? 0;
    assert.ok(lost > 10, `frames dropped on the way: ${lost}`);
    assert.ok(st.rackLosses > before.rackLosses, 'RACK marked losses');
    assert.ok(st.sackRecoveries > before.sackRecoveries, 'SACK-based fast recovery ran');
    assert.ok(st.retransmits - before.retransmits >= lost / 2, 'the losses were retransmitted');
    // Repair by fast recovery, not by timeouts: far fewer RTOs than losses.
    assert.ok(
      st.timeouts - before.timeouts < lost / 4,
      `RTOs ${st.timeouts - before.timeouts} for ${lost} losses`,
    );
  });

  it("the kernel's sender over 1 % loss to us: our SACKs drive its SACK recovery", async (t) => {
    if (skipUnless(t, ['python3', 'nstat'])) return;
    const h = await rkHost(t, { rx: { loss: 0.01 } });
    const k0 = await nstat(h);
    await fromKernel(t, h, 8 * MiB, 90_000);
    const k1 = await nstat(h);
    const lost = h.impaired?.rxStats?.dropped.loss ?? 0;
    assert.ok(lost > 10, `frames dropped on the way: ${lost}`);
    const delta = (k: string) => (k1.get(k) ?? 0) - (k0.get(k) ?? 0);
    assert.ok(delta('TcpExtTCPSackRecovery') > 0, 'the kernel recovered with SACK');
    assert.ok(delta('TcpRetransSegs') >= lost / 2, `kernel retransmissions ${delta('TcpRetransSegs')}`);
    assert.ok(h.stack.tcp.stats.outOfOrder > 0, 'out-of-order data was queued, not dropped');
  });

  it('undo on D-SACK: the kernel D-SACKs our needless retransmissions over a reordering link and we undo', async (t) => {
    if (skipUnless(t, ['python3', 'nstat'])) return;
    // Reordering only, no loss: every fast retransmission is needless.
    const h = await rkHost(t, { tx: { reorder: { probability: 0.03, extraDelay: millis(4) } } });
    const k0 = await nstat(h);
    const st = h.stack.tcp.stats;
    const before = { ...st };
    await toKernel(t, h, 8 * MiB, 90_000);
    const k1 = await nstat(h);
    const delta = (k: string) => (k1.get(k) ?? 0) - (k0.get(k) ?? 0);
    assert.ok(st.retransmits > before.retransmits, 'reordering made us retransmit');
    const dsacksSent = delta('TcpExtTCPDSACKOldSent') + delta('TcpExtTCPDSACKOfoSent');
    assert.ok(dsacksSent > 0, `the kernel sent D-SACKs: ${dsacksSent}`);
    assert.ok(st.spuriousUndos > before.spuriousUndos, 'the D-SACKs undid a reduction');
  });

  it("undo on D-SACK: we D-SACK the kernel's needless retransmissions and it undoes", async (t) => {
    if (skipUnless(t, ['python3', 'nstat'])) return;
    // Our receive buffer keeps its default size here. Autotuned (up to 6 MiB), it lets the
    // kernel keep so much in flight over this 3 %-reordering link that its RACK resent about
    // 2,400 segments of 8 MiB (TcpExtTCPLostRetransmit ~700) against about 210 at the fixed
    // size. Linux undoes only an episode whose every retransmission was D-SACKed, so the undo
    // count then fell to 0-9 and hung on scheduling; this test is about the D-SACKs.
    const h = await rkHost(
      t,
      { rx: { reorder: { probability: 0.03, extraDelay: millis(4) } } },
      { config: { tcp: { rcvBufAuto: false } } },
    );
    const k0 = await nstat(h);
    await fromKernel(t, h, 8 * MiB, 90_000);
    const k1 = await nstat(h);
    const delta = (k: string) => (k1.get(k) ?? 0) - (k0.get(k) ?? 0);
    assert.ok(delta('TcpRetransSegs') > 0, 'reordering made the kernel retransmit');
    assert.ok(
      delta('TcpExtTCPDSACKRecv') > 0,
      `the kernel received our D-SACKs: ${delta('TcpExtTCPDSACKRecv')}`,
    );
    // Linux undoes by D-SACK (tcp_try_undo_dsack) or, with timestamps, by Eifel detection
    // (tcp_packet_delayed) in the full, partial or loss undo: any of them shows it believed us.
    const undos = ['TcpExtTCPDSACKUndo', 'TcpExtTCPFullUndo', 'TcpExtTCPPartialUndo', 'TcpExtTCPLossUndo']
      .map(delta)
      .reduce((a, b) => a + b, 0);
    assert.ok(undos > 0, `the kernel undid a reduction: ${undos}`);
  });

  it('ECN: our sender, CE marked by our AQM, the kernel echoes ECE and we reduce the window', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    // A 40 Mbit/s bottleneck whose AQM marks above 30 kB queued, with room for 1 MB: only
    // marks, no drops (every data frame is ECT(0)).
    const h = await rkHost(
      t,
      { tx: { bandwidth: 40e6, ceThreshold: 30_000, queueLimit: 1 << 20 } },
      { config: { tcp: { ecn: 1 } } },
    );
    await sysctl(h, 'net.ipv4.tcp_ecn', '1');
    const st = h.stack.tcp.stats;
    const before = { ...st };
    await toKernel(t, h, 4 * MiB, 90_000);
    const ch = h.impaired?.txStats;
    assert.ok(ch, 'impaired link');
    assert.equal(st.ecnConnections - before.ecnConnections, 1, 'ECN negotiated with the kernel');
    assert.ok(ch.ceMarked > 0, `frames CE-marked by the AQM: ${ch.ceMarked}`);
    assert.equal(ch.dropped.aqm, 0, 'no Not-ECT data frame was dropped by the AQM');
    assert.equal(ch.dropped.queue, 0, 'nothing dropped at the queue limit');
    assert.ok(st.ecnReductions > before.ecnReductions, 'ECE from the kernel reduced our window');
  });

  it("ECN: the kernel's sender, CE marked on its way to us, reduces for our ECE (TcpExtTCPDeliveredCE)", async (t) => {
    if (skipUnless(t, ['python3', 'nstat'])) return;
    const h = await rkHost(
      t,
      { rx: { bandwidth: 40e6, ceThreshold: 30_000, queueLimit: 1 << 20 } },
      { config: { tcp: { ecn: 1 } } },
    );
    await sysctl(h, 'net.ipv4.tcp_ecn', '1');
    const k0 = await nstat(h);
    const st = h.stack.tcp.stats;
    const before = { ...st };
    await fromKernel(t, h, 4 * MiB, 90_000);
    const k1 = await nstat(h);
    const ch = h.impaired?.rxStats;
    assert.ok(ch, 'impaired link');
    assert.equal(st.ecnConnections - before.ecnConnections, 1, 'ECN negotiated with the kernel');
    assert.ok(ch.ceMarked > 0, `frames CE-marked by the AQM: ${ch.ceMarked}`);
    assert.ok(st.ecnCeReceived > before.ecnCeReceived, 'we saw the CE marks');
    assert.equal(ch.dropped.aqm, 0, 'the kernel marked its data ECT');
    // (TCPDeliveredCE exists since Linux 4.19; older kernels lack the counter.)
    if (k1.has('TcpExtTCPDeliveredCE')) {
      const deliveredCe = (k1.get('TcpExtTCPDeliveredCE') ?? 0) - (k0.get('TcpExtTCPDeliveredCE') ?? 0);
      assert.ok(deliveredCe > 0, `the kernel counted CE-echoed deliveries: ${deliveredCe}`);
    }
  });
});
