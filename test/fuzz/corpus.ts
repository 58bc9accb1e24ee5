/**
 * The fuzzer's seed corpus: real frames recorded at the four input paths of the fuzz
 * network (network.ts) while it runs our own sessions (issue #17):
 *
 * - TCP both ways through the router under the impairment matrix (loss, duplication,
 *   reordering), with SACK, timestamps and window scaling, ending with FIN and TIME-WAIT;
 *   the router's eth1 MTU of 1280 makes it answer "fragmentation needed" to a's DF segments
 *   (PMTU discovery), and a connection to a closed port draws a RST;
 * - UDP datagrams larger than the MTU (fragmented by the sender) and ones the router must
 *   fragment, and a datagram to a closed port (ICMP port unreachable);
 * - echo requests and replies, one with TTL 1 (ICMP time exceeded from the router);
 * - a lone first fragment left to time out (ICMP time exceeded, reassembly);
 * - ARP: every resolution of the run, gratuitous ARPs included.
 *
 * Deterministic for a seed. Frames are copies; `point` says where each was received.
 */

import { AF_INET, SHUT_WR, SOCK_DGRAM, SOCK_STREAM } from '../../src/socket/constants.ts';
import { millis, seconds } from '../../src/time/instant.ts';
import { randomBytes, recvAll } from '../scenarios/tcp-net.ts';
import { buildNetwork, type InputPoint } from './network.ts';

export interface CorpusFrame {
  point: InputPoint['name'];
  frame: Uint8Array;
}

export async function captureCorpus(seed = 1): Promise<CorpusFrame[]> {
  const net = buildNetwork(seed);
  const out: CorpusFrame[] = [];
  // Record what every interface receives (ARP of the start is replayed below).
  for (const p of net.points) {
    const deliver = p.end.onReceive;
    if (deliver === null) throw new Error(`no receiver at ${p.name}`);
    p.end.onReceive = (f) => {
      out.push({ point: p.name, frame: f.slice() });
      deliver(f);
    };
  }
  const { sim, a, b, ca, cb } = net;
  // Neighbours forget each other (gc after 60 s stale), so the run below resolves afresh.
  await sim.advance(seconds(200));
  const impair = (loss: number, dup: number, reorder: number) => {
    for (const ch of [ca.aToB, ca.bToA, cb.aToB, cb.bToA])
      ch.configure({
        delay: millis(1),
        loss,
        duplicate: dup,
        reorder: reorder > 0 ? { probability: reorder, extraDelay: millis(3) } : undefined,
      });
  };
  await sim.run(
    async () => {
      const srv = b.socket(AF_INET, SOCK_STREAM);
      await srv.bind(['0.0.0.0', 5000]);
      await srv.listen(8);
      const srvA = a.socket(AF_INET, SOCK_STREAM);
      await srvA.bind(['0.0.0.0', 5001]);
      await srvA.listen(8);
      const matrix: [number, number, number][] = [
        [0, 0, 0],
        [0.03, 0, 0],
        [0, 0.05, 0],
        [0, 0, 0.1],
        [0.02, 0.02, 0.05],
      ];
      let k = 0;
      for (const [loss, dup, reorder] of matrix) {
        impair(loss, dup, reorder);
        // a → b:5000 and b → a:5001, data both ways, orderly close.
        for (const [from, to, addr, port] of [
          [a, srv, '10.0.2.2', 5000],
          [b, srvA, '10.0.1.2', 5001],
        ] as const) {
          const c = from.socket(AF_INET, SOCK_STREAM);
          await c.connect([addr, port]);
          const [s] = await to.accept();
          const up = randomBytes(12_000, seed * 100 + k++);
          const down = randomBytes(6_000, seed * 100 + k++);
          await Promise.all([
            c.sendall(up).then(() => c.shutdown(SHUT_WR)),
            s.sendall(down).then(() => s.shutdown(SHUT_WR)),
            recvAll(s),
            recvAll(c),
          ]);
          await c.close();
          await s.close();
        }
      }
      impair(0, 0, 0);
      // A connection refused (RST).
      const r = a.socket(AF_INET, SOCK_STREAM);
      await r.connect(['10.0.2.2', 6000]).catch(() => undefined);
      await r.close();
      // UDP: fragmented by the sender, fragmented by the router, and to a closed port.
      const ub = b.socket(AF_INET, SOCK_DGRAM);
      await ub.bind(['0.0.0.0', 5353]);
      const ua = a.socket(AF_INET, SOCK_DGRAM);
      await ua.bind(['0.0.0.0', 7007]);
      await ua.sendto(randomBytes(3000, 1), ['10.0.2.2', 5353]);
      await ub.recvfrom(65535);
      await ua.sendto(randomBytes(1400, 2), ['10.0.2.2', 5353]);
      await ub.recvfrom(65535);
      await ub.sendto(randomBytes(200, 3), ['10.0.1.2', 7007]);
      await ua.recvfrom(65535);
      await ua.sendto(randomBytes(64, 4), ['10.0.2.2', 9]);
      await sim.delay(millis(20));
      // Echo, and an echo that dies at the router (TTL 1).
      await a.ping('10.0.2.2', { size: 56 });
      await a.ping('10.0.2.2', { size: 3000 });
      await a.ping('10.0.2.2', { ttl: 1, timeout: millis(50) });
      await ua.close();
      await ub.close();
      await srv.close();
      await srvA.close();
    },
    { timeout: seconds(600) },
  );
  // A lone first fragment left at b to time out: b answers ICMP time exceeded.
  const frag = out.find(
    (f) => f.point === 'b' && f.frame[12] === 0x08 && f.frame[13] === 0x00 && (f.frame[14 + 6] & 0x20) !== 0,
  );
  if (frag !== undefined) {
    const lone = frag.frame.slice();
    lone[14 + 4] ^= 0x55; // another datagram id
    lone[14 + 10] = 0;
    lone[14 + 11] = 0;
    let s = 0;
    for (let i = 14; i < 34; i += 2) s += (lone[i] << 8) | lone[i + 1];
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    lone[14 + 10] = (~s >>> 8) & 0xff;
    lone[14 + 11] = ~s & 0xff;
    net.points[3].end.receive(lone);
  }
  // TIME-WAIT, reassembly timeouts, neighbour probes: all of it recorded.
  await sim.advance(seconds(120));
  return out;
}

/** A short summary by kind (for logs): ARP, TCP, UDP, ICMP, fragments. */
export function corpusKinds(corpus: readonly CorpusFrame[]): Record<string, number> {
  const k: Record<string, number> = {};
  for (const { frame: f } of corpus) {
    let name = 'other';
    if (f[12] === 0x08 && f[13] === 0x06) name = 'arp';
    else if (f[12] === 0x08 && f[13] === 0x00) {
      const frag = ((f[20] << 8) | f[21]) & 0x3fff;
      if (frag !== 0) name = 'ipv4-fragment';
      else name = ({ 1: 'icmp', 6: 'tcp', 17: 'udp' } as Record<number, string>)[f[23]] ?? 'ipv4-other';
    }
    k[name] = (k[name] ?? 0) + 1;
  }
  return k;
}
