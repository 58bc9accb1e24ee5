/**
 * TAP I/O throughput: frames/s read and written through TapDevice, with the
 * kernel side in a private network namespace.
 *
 *   node --import tsx bench/tap-io.ts [--seconds 3] [--size 64] [--mode tap|tun]
 *
 * RX: python3 in the namespace floods UDP datagrams at our address (a permanent
 * neighbour entry, so no ARP); we count what arrives through the reader thread
 * and compare with what the kernel handed to the device (its tx counter) and
 * dropped because we were not reading fast enough.
 * TX: we write UDP frames to the kernel's address as fast as `transmit` goes;
 * the kernel's rx counter says how many it took.
 *
 * Needs root (skips with a message otherwise). Not a test: prints numbers only.
 */
import { spawn } from 'node:child_process';
import { writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ip, kernelLinkUnavailable, linkCounters, openTapInNetns } from '../src/node/netns.ts';
import { formatIpv4, ipv4, type MacAddress, parseMac } from '../src/wire/address.ts';
import { ETHERTYPE_IPV4, emitEthernet } from '../src/wire/ethernet.ts';
import { emitIpv4, IP_PROTO_UDP } from '../src/wire/ipv4.ts';
import { VIRTIO_NET_HDR_MRG_LEN } from '../src/wire/virtio-net.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    size: { type: 'string', default: '64' },
    mode: { type: 'string', default: 'tap' },
  },
});
const seconds = Number(values.seconds);
const udpPayload = Math.max(0, Number(values.size) - 14 - 20 - 8);
const mode = values.mode === 'tun' ? 'tun' : 'tap';

const why = kernelLinkUnavailable();
if (why) {
  console.log(`tap-io: skipped: ${why}`);
  process.exit(0);
}

const subnet = 100 + (process.pid % 100);
const kernelIp = ipv4(10, 81, subnet, 1);
const ourIp = ipv4(10, 81, subnet, 2);
const ourMac: MacAddress = parseMac('02:00:00:81:00:02')!;
const h = await openTapInNetns({ mode, addresses: [`${formatIpv4(kernelIp)}/24`], disableIpv6: true });
const { tap, netns } = h;
try {
  if (mode === 'tap')
    ip(
      [
        'neigh',
        'add',
        formatIpv4(ourIp),
        'lladdr',
        '02:00:00:81:00:02',
        'dev',
        tap.ifname,
        'nud',
        'permanent',
      ],
      netns,
    );
  const kernelMac =
    mode === 'tap'
      ? parseMac(
          (JSON.parse(ip(['-j', 'link', 'show', 'dev', tap.ifname], netns)) as [{ address: string }])[0]
            .address,
        )!
      : undefined;

  // ---- RX: kernel -> us ----
  let rx = 0;
  tap.onReceive = () => {
    rx++;
  };
  const before = linkCounters(tap.ifname, netns);
  const py = `
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((${JSON.stringify(formatIpv4(ourIp))}, 9))
msg = b'x' * ${udpPayload}
end = time.time() + ${seconds}
n = 0
while time.time() < end:
    for _ in range(2000):
        try:
            s.send(msg)
            n += 1
        except OSError:
            pass
print(n)
`;
  const gen = spawn('ip', ['netns', 'exec', netns, 'python3', '-c', py], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let genOut = '';
  gen.stdout.on('data', (d: Buffer) => {
    genOut += d.toString();
  });
  const t0 = performance.now();
  const genCode = await new Promise<number | null>((resolve) => gen.once('exit', resolve));
  // Let the last batches in flight arrive: wait until the count stops moving (bounded).
  for (let last = -1, i = 0; last !== rx && i < 50; i++) {
    last = rx;
    await new Promise((r) => setTimeout(r, 20));
  }
  const rxSecs = (performance.now() - t0) / 1000;
  const after = linkCounters(tap.ifname, netns);
  if (genCode !== 0) console.log('tap-io: python3 generator failed (is python3 installed?)');
  const sent = Number(genOut.trim()) || 0;
  const kernelTx = after.txPackets - before.txPackets;
  const kernelDrop = after.txDropped - before.txDropped;
  console.log(
    `RX  ${mode} ${values.size}B frames: ${Math.round(rx / rxSecs).toLocaleString()} frames/s read` +
      ` (${rx.toLocaleString()} in ${rxSecs.toFixed(2)} s; generator sent ${sent.toLocaleString()},` +
      ` kernel queued ${kernelTx.toLocaleString()}, dropped ${kernelDrop.toLocaleString()} for want of a reader;` +
      ` ${(tap.stats.rxFrames / Math.max(1, tap.stats.rxBatches)).toFixed(1)} frames per batch)`,
  );

  // ---- TX: us -> kernel ----
  const ipLen = 20 + 8 + udpPayload;
  const frameLen = mode === 'tap' ? 14 + ipLen : ipLen;
  const template = new Uint8Array(frameLen);
  let off = 0;
  if (mode === 'tap')
    off = emitEthernet({ dst: kernelMac!, src: ourMac, ethertype: ETHERTYPE_IPV4 }, template);
  emitIpv4(
    {
      dscp: 0,
      ecn: 0,
      identification: 0,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: 64,
      protocol: IP_PROTO_UDP,
      src: ourIp,
      dst: kernelIp,
      options: new Uint8Array(0),
      payloadLength: 8 + udpPayload,
    },
    template.subarray(off),
  );
  const udp = new DataView(template.buffer, off + 20, 8);
  udp.setUint16(0, 40000);
  udp.setUint16(2, 9);
  udp.setUint16(4, 8 + udpPayload);
  udp.setUint16(6, 0); // no checksum (allowed for UDP over IPv4)
  const b2 = linkCounters(tap.ifname, netns);
  const deadline = performance.now() + seconds * 1000;
  let n = 0;
  const t1 = performance.now();
  while (performance.now() < deadline) {
    for (let i = 0; i < 1000; i++) tap.transmit(template.slice());
    n += 1000;
  }
  const txSecs = (performance.now() - t1) / 1000;
  const a2 = linkCounters(tap.ifname, netns);
  console.log(
    `TX  ${mode} ${values.size}B frames: ${Math.round(n / txSecs).toLocaleString()} frames/s written` +
      ` (${tap.stats.txFrames.toLocaleString()} written, ${tap.stats.txQueued} queued on EAGAIN, ${tap.stats.txErrors} errors;` +
      ` kernel counted rx ${(a2.rxPackets - b2.rxPackets).toLocaleString()}, rx dropped ${(a2.rxDropped - b2.rxDropped).toLocaleString()})`,
  );

  // ---- Baseline: bare fs.writeSync on the same fd, no TapDevice, no copy ----
  // (With vnet headers, as openTap opens a TAP by default, each write starts with one: zeros.)
  const raw = tap.offload ? new Uint8Array(VIRTIO_NET_HDR_MRG_LEN + template.length) : template;
  if (tap.offload) raw.set(template, VIRTIO_NET_HDR_MRG_LEN);
  const d3 = performance.now() + seconds * 1000;
  let m = 0;
  const t3 = performance.now();
  while (performance.now() < d3) {
    for (let i = 0; i < 1000; i++) writeSync(tap.fd, raw);
    m += 1000;
  }
  const rawSecs = (performance.now() - t3) / 1000;
  console.log(
    `RAW ${mode} ${values.size}B frames: ${Math.round(m / rawSecs).toLocaleString()} frames/s with bare fs.writeSync` +
      ` (TapDevice.transmit incl. a copy per frame reaches ${((n / txSecs / (m / rawSecs)) * 100).toFixed(0)}% of it)`,
  );
} finally {
  await h.close();
}
