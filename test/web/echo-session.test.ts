/**
 * The course page's session (src/web/echo-session.ts) in Node: it echoes, it is the same
 * run for the same seed and settings, the controls change what happens on the wire, and
 * its pcapng holds exactly its frames.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readPcap } from '../../src/link/pcap.ts';
import { DEFAULT_SETTINGS, type EchoSettings, runEchoSession } from '../../src/web/echo-session.ts';

const digest = (t: Awaited<ReturnType<typeof runEchoSession>>) =>
  t.events.map((e) =>
    e.kind === 'frame'
      ? `${e.time} #${e.index} s${e.subnet} ${e.label} ${Buffer.from(e.data).toString('hex')}`
      : e.kind === 'call'
        ? `${e.time} ${e.who} ${e.text}`
        : `${e.time} ${e.who} ${e.from}->${e.to}`,
  );

describe('the course page echo session', () => {
  it('echoes over TCP through the router, with ARP, the handshake, data and both FINs', async () => {
    const t = await runEchoSession();
    assert.equal(t.failure, undefined);
    assert.equal(t.echoed, 'Hello, world');
    assert.ok(t.ok);
    const labels = t.frames.map((f) => f.label);
    assert.match(labels[0], /^ARP: who has 10\.0\.1\.1\? tell 10\.0\.1\.2$/);
    assert.ok(labels.some((l) => l.startsWith('1/3 handshake: SYN')));
    assert.ok(labels.some((l) => l.includes("data: client → server 'Hello, world'")));
    assert.ok(labels.some((l) => l.includes('FIN from client')));
    assert.ok(labels.some((l) => l.includes('FIN from server')));
    // Every datagram the client sends to the server shows on both subnets.
    assert.ok(t.frames.some((f) => f.subnet === 1 && f.forwarded));
    const states = t.events.filter((e) => e.kind === 'state').map((e) => `${e.who} ${e.to}`);
    assert.ok(states.includes('client ESTABLISHED') && states.includes('client TIME-WAIT'));
    assert.equal(states[states.length - 1].endsWith('CLOSED'), true);
  });

  it('is the same run, event for event and byte for byte, for the same seed and settings', async () => {
    const s: EchoSettings = { ...DEFAULT_SETTINGS, lossPercent: 20, seed: 7, message: 'x'.repeat(3000) };
    const a = await runEchoSession(s);
    const b = await runEchoSession(s);
    assert.deepEqual(digest(a), digest(b));
    assert.deepEqual(a.pcapng, b.pcapng);
    const c = await runEchoSession({ ...s, seed: 8 });
    assert.notDeepEqual(digest(a), digest(c));
  });

  it('with loss, TCP retransmits and still echoes the message intact', async () => {
    // Seeds are tried in order until one loses a frame: loss is random per seed.
    let t: Awaited<ReturnType<typeof runEchoSession>> | undefined;
    for (let seed = 1; seed <= 20 && (t === undefined || t.retransmissions === 0); seed++)
      t = await runEchoSession({ ...DEFAULT_SETTINGS, lossPercent: 30, seed });
    assert.ok(t && t.retransmissions > 0, 'no seed of 1–20 lost a frame at 30% loss');
    assert.equal(t.echoed, 'Hello, world');
    assert.ok(t.frames.some((f) => f.label.startsWith('retransmission')));
  });

  it('over UDP with a small MTU, IP fragments the datagram and the echo comes back whole', async () => {
    const message = 'y'.repeat(2000);
    const t = await runEchoSession({ ...DEFAULT_SETTINGS, udp: true, mtu: 576, message });
    assert.equal(t.echoed, message);
    assert.ok(t.frames.some((f) => f.label.startsWith('IP fragment')));
    assert.equal(
      t.frames.some((f) => f.dissection.tcp !== undefined),
      false,
    );
  });

  it('with jitter, segments overtake each other and the echo still comes back in order', async () => {
    const message = 'j'.repeat(8000);
    const t = await runEchoSession({ ...DEFAULT_SETTINGS, jitterMs: 2, message });
    assert.equal(t.echoed, message);
    assert.ok(
      t.frames.some((f) => f.label.includes('out of order')),
      'no frame was labelled out of order',
    );
    assert.ok(t.clientInfo && t.clientInfo.mss === 1460, `MSS ${t.clientInfo?.mss}`);
  });

  it('writes its frames, and only those, to the pcapng (one interface per subnet)', async () => {
    const t = await runEchoSession();
    const p = readPcap(t.pcapng);
    assert.equal(p.records.length, t.frames.length);
    assert.deepEqual(
      p.interfaces.map((i) => i.name),
      ['client.eth0', 'server.eth0'],
    );
    p.records.forEach((r, i) => {
      assert.deepEqual(r.data, t.frames[i].data);
      assert.equal(r.iface, t.frames[i].subnet);
    });
  });

  it('refuses bad settings with EINVAL', async () => {
    for (const bad of [{ mtu: 40 }, { lossPercent: 95 }, { message: '' }, { seed: 1.5 }, { delayMs: -1 }])
      await assert.rejects(runEchoSession({ ...DEFAULT_SETTINGS, ...bad }), { code: 'EINVAL' });
  });
});
