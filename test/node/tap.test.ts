/**
 * The Linux kernel as the peer of a TAP/TUN device. Every test builds its own
 * network namespace (ss...), moves the interface into it, and deletes it again;
 * no traffic leaves the namespace. Skips (with the reason) without root,
 * /dev/net/tun or iproute2.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { deleteNetns, linkCounters, nsSpawn } from '../../src/node/netns.ts';
import { LinkError, openTap, type TapDevice } from '../../src/node/tap.ts';
import { formatIpv4, type Ipv4Address, ipv4, type MacAddress } from '../../src/wire/address.ts';
import { ARP_OP_REPLY, ARP_OP_REQUEST, emitArp, parseArp } from '../../src/wire/arp.ts';
import { isWireError } from '../../src/wire/error.ts';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, emitEthernet, parseEthernet } from '../../src/wire/ethernet.ts';
import { emitIcmpv4, type Icmpv4Repr, icmpv4Length, parseIcmpv4 } from '../../src/wire/icmpv4.ts';
import { emitIpv4, IP_PROTO_ICMP, IP_PROTO_UDP, parseIpv4Packet } from '../../src/wire/ipv4.ts';
import { FrameCollector, skipWithoutKernelLinks, tapInNetns } from '../helpers/netns.ts';
import { bundleForNobody } from '../helpers/nobody.ts';

const SUBNET = 20 + (process.pid % 200);
const OUR_MAC: MacAddress = new Uint8Array([0x02, 0x00, 0x00, 0x77, SUBNET, 0x02]);

function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** An IPv4 packet carrying `icmp`, built with the wire codecs. */
function ipv4Icmp(src: Ipv4Address, dst: Ipv4Address, icmp: Icmpv4Repr): Uint8Array {
  const ilen = icmpv4Length(icmp);
  const pkt = new Uint8Array(20 + ilen);
  const hl = emitIpv4(
    {
      dscp: 0,
      ecn: 0,
      identification: 0x1234,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: 64,
      protocol: IP_PROTO_ICMP,
      src,
      dst,
      options: new Uint8Array(0),
      payloadLength: ilen,
    },
    pkt,
  );
  emitIcmpv4(icmp, pkt.subarray(hl));
  return pkt;
}

function ethernet(dst: MacAddress, ethertype: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + payload.length);
  emitEthernet({ dst, src: OUR_MAC, ethertype }, f);
  f.set(payload, 14);
  return f;
}

/**
 * A tiny host at `me` on a TAP: answers ARP requests for its address and ICMP
 * echo requests to it. Returns counters of what it answered.
 */
function answerPings(tap: TapDevice, me: Ipv4Address) {
  const seen = { arpRequests: 0, echoRequests: 0, other: 0 };
  tap.onReceive = (frame) => {
    const eth = parseEthernet(frame);
    if (isWireError(eth)) return;
    if (eth.repr.ethertype === ETHERTYPE_ARP) {
      const arp = parseArp(eth.payload);
      if (isWireError(arp) || arp.repr.op !== ARP_OP_REQUEST || arp.repr.targetIp !== me) return;
      seen.arpRequests++;
      const body = new Uint8Array(28);
      emitArp(
        {
          op: ARP_OP_REPLY,
          senderMac: OUR_MAC,
          senderIp: me,
          targetMac: arp.repr.senderMac,
          targetIp: arp.repr.senderIp,
        },
        body,
      );
      tap.transmit(ethernet(arp.repr.senderMac, ETHERTYPE_ARP, body));
      return;
    }
    if (eth.repr.ethertype !== ETHERTYPE_IPV4) return;
    const ip = parseIpv4Packet(eth.payload);
    if (isWireError(ip) || ip.repr.dst !== me || ip.repr.protocol !== IP_PROTO_ICMP) {
      seen.other++;
      return;
    }
    const icmp = parseIcmpv4(ip.payload);
    if (isWireError(icmp) || icmp.repr.kind !== 'echoRequest') return;
    seen.echoRequests++;
    const reply = ipv4Icmp(me, ip.repr.src, {
      kind: 'echoReply',
      ident: icmp.repr.ident,
      seq: icmp.repr.seq,
      data: icmp.repr.data,
    });
    tap.transmit(ethernet(eth.repr.src, ETHERTYPE_IPV4, reply));
  };
  return seen;
}

function waitExit(
  child: ReturnType<typeof spawn>,
  timeoutMs: number,
): Promise<{ code: number | null; out: string }> {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child did not exit within ${timeoutMs} ms; output so far:\n${out}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe('TAP/TUN against the Linux kernel (in a private network namespace)', () => {
  it('TAP: the kernel pings us; we answer its ARP and echo requests from JS', async (t) => {
    if (skipWithoutKernelLinks(t)) return;
    if (!hasCommand('ping')) {
      t.skip('ping (iputils-ping) is not installed');
      return;
    }
    const kernelIp = ipv4(10, 77, SUBNET, 1);
    const ourIp = ipv4(10, 77, SUBNET, 2);
    const { tap, netns } = await tapInNetns(t, { addresses: [`${formatIpv4(kernelIp)}/24`] });
    assert.equal(tap.linkType, 'ethernet');
    assert.equal(tap.mode, 'tap');
    const seen = answerPings(tap, ourIp);
    const ping = nsSpawn(netns, 'ping', [
      '-n',
      '-c',
      '3',
      '-i',
      '0.2',
      '-W',
      '1',
      '-w',
      '10',
      formatIpv4(ourIp),
    ]);
    t.after(() => {
      if (ping.exitCode === null) ping.kill('SIGKILL');
    });
    const { code, out } = await waitExit(ping, 15_000);
    assert.equal(code, 0, `ping failed:\n${out}`);
    assert.match(out, /3 packets transmitted, 3 received/);
    assert.ok(seen.arpRequests >= 1, 'kernel asked for our MAC');
    assert.equal(seen.echoRequests, 3);
    assert.ok(tap.stats.txFrames >= 4);
    assert.equal(tap.stats.txErrors, 0);
    // The kernel's view: it received our ARP reply and three echo replies.
    assert.ok(linkCounters(tap.ifname, netns).rxPackets >= 4);
  });

  it('TUN: the kernel sends a raw IPv4 packet; we ping the kernel and read its reply', async (t) => {
    if (skipWithoutKernelLinks(t)) return;
    const kernelIp = ipv4(10, 78, SUBNET, 1);
    const ourIp = ipv4(10, 78, SUBNET, 2);
    const { tap, netns } = await tapInNetns(t, { mode: 'tun', addresses: [`${formatIpv4(kernelIp)}/24`] });
    assert.equal(tap.linkType, 'ip');
    const c = new FrameCollector(tap);
    // bash's /dev/udp needs no extra tool: one UDP datagram from the kernel side.
    const send = nsSpawn(netns, 'bash', ['-c', `echo -n sockstack > /dev/udp/${formatIpv4(ourIp)}/9`]);
    const sent = await waitExit(send, 10_000);
    assert.equal(sent.code, 0, sent.out);
    const isOurUdp = (p: Uint8Array) => {
      const ip = parseIpv4Packet(p);
      return !isWireError(ip) && ip.repr.protocol === IP_PROTO_UDP && ip.repr.dst === ourIp;
    };
    await c.waitFor((fs) => fs.some(isOurUdp), 5000, 'the UDP datagram');
    const raw = c.frames.find(isOurUdp)!;
    assert.equal(raw[0], 0x45, 'a bare IPv4 header, no Ethernet and no packet-info prefix');
    const ip = parseIpv4Packet(raw);
    assert.ok(!isWireError(ip));
    assert.equal(ip.repr.src, kernelIp);
    assert.equal(new TextDecoder().decode(ip.payload.subarray(8)), 'sockstack');

    // Now the other way: an echo request written to the TUN, answered by the kernel.
    const data = new TextEncoder().encode('hello kernel');
    tap.transmit(ipv4Icmp(ourIp, kernelIp, { kind: 'echoRequest', ident: 0x4242, seq: 7, data }));
    await c.waitFor(
      (fs) =>
        fs.some((p) => {
          const r = parseIpv4Packet(p);
          if (isWireError(r) || r.repr.protocol !== IP_PROTO_ICMP) return false;
          const m = parseIcmpv4(r.payload);
          return (
            !isWireError(m) &&
            m.repr.kind === 'echoReply' &&
            m.repr.ident === 0x4242 &&
            m.repr.seq === 7 &&
            Buffer.from(m.repr.data).equals(Buffer.from(data))
          );
        }),
      5000,
      'the kernel echo reply',
    );
    assert.equal(tap.stats.txErrors, 0);
  });

  it('a TAP stays usable after being moved into another namespace; close() deletes the interface', async (t) => {
    if (skipWithoutKernelLinks(t)) return;
    const h = await tapInNetns(t, { addresses: [`10.79.${SUBNET}.1/24`], mtu: 9000 });
    const name = h.tap.ifname;
    assert.equal(h.tap.mtu, 9000);
    assert.match(
      execFileSync('ip', ['-n', h.netns, 'link', 'show', 'dev', name], { encoding: 'utf8' }),
      /mtu 9000 /,
    );
    assert.match(
      execFileSync('ip', ['-n', h.netns, '-br', 'link', 'show', 'dev', name], { encoding: 'utf8' }),
      /UP|UNKNOWN/,
    );
    // Not in our own namespace any more.
    assert.throws(() => execFileSync('ip', ['link', 'show', 'dev', name], { stdio: 'pipe' }));
    await h.tap.close();
    assert.ok(h.tap.closed);
    assert.throws(() => execFileSync('ip', ['-n', h.netns, 'link', 'show', 'dev', name], { stdio: 'pipe' }));
    // transmit after close is a counted drop, not a throw.
    h.tap.transmit(new Uint8Array(60));
    assert.equal(h.tap.stats.txDropped, 1);
  });

  it('reports EBADFD through onError when the namespace (and so the interface) is deleted under it', async (t) => {
    if (skipWithoutKernelLinks(t)) return;
    const h = await tapInNetns(t, { addresses: [`10.82.${SUBNET}.1/24`] });
    const err = new Promise<LinkError>((resolve) => {
      h.tap.onError = resolve;
    });
    deleteNetns(h.netns);
    const e = await Promise.race([
      err,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('no onError within 5 s')), 5000).unref(),
      ),
    ]);
    assert.equal(e.code, 'EBADFD');
    assert.match(e.message, /is gone/);
    h.tap.transmit(new Uint8Array(60));
    assert.equal(h.tap.stats.txErrors, 1);
  });

  it('rejects a name longer than 15 bytes with EINVAL', async (t) => {
    if (skipWithoutKernelLinks(t)) return;
    await assert.rejects(openTap({ name: 'x'.repeat(16) }), (e: unknown) => {
      assert.ok(e instanceof LinkError);
      assert.equal(e.code, 'EINVAL');
      return true;
    });
  });

  it('an unprivileged user gets EACCES/EPERM with a human message', async (t) => {
    if (skipWithoutKernelLinks(t)) return;
    const dir = mkdtempSync(join(tmpdir(), 'ss-tap-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const script = join(dir, 'probe.mjs');
    // Everything the child imports is copied to `dir` (nobody may not read this checkout).
    await bundleForNobody(new URL('../../src/node/tap.ts', import.meta.url).pathname, dir, 'tap.mjs');
    writeFileSync(
      script,
      `import { openTap } from './tap.mjs';
try { const t = await openTap(); await t.close(); console.log('OPENED'); }
catch (e) { console.log(JSON.stringify({ code: e.code, name: e.name, message: e.message })); }
`,
    );
    execFileSync('chmod', ['-R', 'a+rX', dir]);
    const child = spawn(process.execPath, [script], {
      uid: 65534,
      gid: 65534,
      cwd: dir,
      env: { ...process.env, HOME: dir, TMPDIR: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const { code, out } = await waitExit(child, 30_000);
    if (code !== 0 && /EACCES|permission denied/i.test(out) && !out.includes('LinkError')) {
      t.skip(`cannot run node as nobody here: ${out.split('\n')[0]}`);
      return;
    }
    const line = out.split('\n').find((l) => l.startsWith('{') || l === 'OPENED');
    assert.ok(line, out);
    if (line === 'OPENED') {
      t.skip('/dev/net/tun lets unprivileged users create interfaces here');
      return;
    }
    const r = JSON.parse(line) as { code: string; name: string; message: string };
    assert.equal(r.name, 'LinkError');
    assert.ok(r.code === 'EACCES' || r.code === 'EPERM', r.code);
    assert.match(r.message, /root|CAP_NET_ADMIN/);
  });

  it('close() stops the reader thread so the process exits on its own', async (t) => {
    if (skipWithoutKernelLinks(t)) return;
    const dir = mkdtempSync(join(tmpdir(), 'ss-tap-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const script = join(dir, 'exit.mts');
    const netnsUrl = new URL('../../src/node/netns.ts', import.meta.url).href;
    writeFileSync(
      script,
      `import { openTapInNetns } from ${JSON.stringify(netnsUrl)};
const h = await openTapInNetns({ addresses: ['10.80.${SUBNET}.1/24'], disableIpv6: true });
h.tap.onReceive = () => {};
const t0 = performance.now();
await h.close();
console.log('closed in', (performance.now() - t0).toFixed(1), 'ms');
`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: new URL('../..', import.meta.url).pathname,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const { code, out } = await waitExit(child, 20_000);
    assert.equal(code, 0, out);
    assert.match(out, /closed in/);
  });
});
