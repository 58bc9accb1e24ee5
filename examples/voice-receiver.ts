/**
 * Joins a multicast group and listens to a voice stream (voice-sender.ts), then reports
 * what a telephone would care about: frames lost (from the RTP sequence numbers) and the
 * interarrival jitter (RFC 3550 §6.4.1).
 *
 *   npx tsx examples/voice-receiver.ts [--group 239.255.0.1] [--port 5004] [--count 50]
 *                                      [--timeout 10] [--idle 1] [--backend os|stack]
 *
 * IP_ADD_MEMBERSHIP joins the group on this host's interface (127.0.0.1 on os, the
 * virtual host's address on stack): the host reports the membership with IGMP, and its
 * network card starts accepting the group's Ethernet address. SO_REUSEADDR lets several
 * receivers on one host share the port. It stops after --count frames, or --idle seconds
 * without one once the stream began.
 */
import {
  AF_INET,
  IP_ADD_MEMBERSHIP,
  IP_DROP_MEMBERSHIP,
  IPPROTO_IP,
  inet_aton,
  SO_REUSEADDR,
  SOCK_DGRAM,
  SOL_SOCKET,
  SocketTimeoutError,
} from '../src/node/socket.ts';
import { cli } from './_cli.ts';
import { CLOCK_RATE, decodeRtp, ReceiverStats } from './rtp.ts';

const c = await cli({ role: 'server' });
const group = c.str('group', '239.255.0.1');
const count = c.num('count', 50);
const s = c.socket(AF_INET, SOCK_DGRAM);
s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
await s.bind(['', c.num('port', 5004)]);
// struct ip_mreq: the group, then the address of the interface to join on.
const mreq = new Uint8Array([...inet_aton(group), ...inet_aton(c.localAddress)]);
s.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq);
console.log('listening on', s.getsockname(), `joined ${group} on ${c.localAddress}`);
const stats = new ReceiverStats();
let from = '';
s.settimeout(c.num('timeout', 10));
try {
  while (stats.received < count) {
    const [data, addr] = await s.recvfrom(2048);
    const p = decodeRtp(data);
    if (p === undefined) continue;
    const [host, port] = addr as [string, number];
    from = `${host}:${port} ssrc ${p.ssrc}`;
    stats.add(p, (performance.now() / 1000) * CLOCK_RATE);
    s.settimeout(c.num('idle', 1));
  }
} catch (e) {
  if (!(e instanceof SocketTimeoutError)) throw e;
}
const pct = stats.expected === 0 ? 0 : (100 * stats.lost) / stats.expected;
console.log(
  `receiver: ${stats.received} of ${stats.expected} frames from ${from || 'nobody'}, ` +
    `lost ${stats.lost} (${pct.toFixed(1)}%), out of order ${stats.outOfOrder}, ` +
    `jitter ${stats.jitterMs.toFixed(2)} ms`,
);
s.setsockopt(IPPROTO_IP, IP_DROP_MEMBERSHIP, mreq);
await s.close();
