/**
 * The upstream DNS server gateway tests run on 127.0.0.1: `files.test` A 10.0.2.2 (the
 * gateway's host-loopback alias), NXDOMAIN for other names. It records the questions.
 */
import * as dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { encodeDnsMessage, parseDnsMessage, RCODE_NXDOMAIN, TYPE_A } from '../../src/dns/message.ts';

export async function dnsServer(): Promise<{ port: number; queries: string[]; close(): void }> {
  const sock = dgram.createSocket('udp4');
  const queries: string[] = [];
  sock.on('message', (msg, rinfo) => {
    const p = parseDnsMessage(new Uint8Array(msg));
    if (!p.ok || p.message.qr) return;
    const q = p.message.questions[0];
    if (!q) return;
    queries.push(`${q.name}/${q.type}`);
    const hit = q.name === 'files.test' && q.type === TYPE_A;
    const answer = encodeDnsMessage({
      id: p.message.id,
      qr: true,
      rd: p.message.rd,
      ra: true,
      rcode: hit || q.name === 'files.test' ? 0 : RCODE_NXDOMAIN,
      questions: [q],
      answers: hit ? [{ name: q.name, type: TYPE_A, class: 1, ttl: 60, address: '10.0.2.2' }] : [],
    });
    sock.send(answer, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  return { port: (sock.address() as AddressInfo).port, queries, close: () => sock.close() };
}
