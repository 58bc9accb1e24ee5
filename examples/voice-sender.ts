/**
 * The course's voice use of UDP: streams 20 ms frames of a synthetic tone as RTP
 * (RFC 3550, payload PCMU) to a multicast group. Every receiver that joined the group
 * gets each frame from this one send: the network copies it, not the sender.
 *
 *   npx tsx examples/voice-sender.ts [--group 239.255.0.1] [--port 5004] [--count 50]
 *                                    [--interval 20] [--ttl 1] [--backend os|stack]
 *
 * It sends out of this host's interface (IP_MULTICAST_IF: 127.0.0.1 on os, the virtual
 * host's address on stack) with TTL 1 (IP_MULTICAST_TTL: the group stays on the link).
 * Start voice-receiver.ts first.
 */
import {
  AF_INET,
  IP_MULTICAST_IF,
  IP_MULTICAST_TTL,
  IPPROTO_IP,
  inet_aton,
  SOCK_DGRAM,
} from '../src/node/socket.ts';
import { cli } from './_cli.ts';
import { CLOCK_RATE, encodeRtp, PT_PCMU, toneFrame } from './rtp.ts';

const c = await cli({ role: 'client' });
const group = c.str('group', '239.255.0.1');
const port = c.num('port', 5004);
const count = c.num('count', 50);
const interval = c.num('interval', 20);
const s = c.socket(AF_INET, SOCK_DGRAM);
s.setsockopt(IPPROTO_IP, IP_MULTICAST_IF, inet_aton(c.localAddress));
s.setsockopt(IPPROTO_IP, IP_MULTICAST_TTL, c.num('ttl', 1));
// RFC 3550 §5.1: the first sequence number and timestamp are random, as is the SSRC.
const seq0 = Math.floor(Math.random() * 0x10000);
const ts0 = Math.floor(Math.random() * 0x1_0000_0000);
const ssrc = Math.floor(Math.random() * 0x1_0000_0000);
const samples = Math.round((CLOCK_RATE * interval) / 1000);
const start = performance.now();
for (let i = 0; i < count; i++) {
  const frame = encodeRtp(
    {
      seq: (seq0 + i) & 0xffff,
      timestamp: (ts0 + i * samples) >>> 0,
      ssrc,
      payloadType: PT_PCMU,
      payload: toneFrame(i * samples, samples),
    },
    i === 0,
  );
  await s.sendto(frame, [group, port]);
  // Paced by the schedule, not by the previous send: no drift over a long stream.
  const wait = start + (i + 1) * interval - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}
console.log(
  `sent ${count} frames of ${interval} ms (${samples} samples, PCMU) to ${group}:${port}, ssrc ${ssrc}`,
);
await s.close();
