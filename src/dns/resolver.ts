/**
 * A stub resolver (RFC 1035 §7, RFC 1123 §6.1.3): sends recursive queries over
 * UDP to configured servers and turns the answers into addresses, with the
 * getaddrinfo errors Python shows:
 *
 *   NXDOMAIN                         → GaiError EAI_NONAME
 *   name exists, no record of type   → GaiError EAI_NODATA
 *   every try timed out / SERVFAIL   → GaiError EAI_AGAIN
 *   REFUSED/FORMERR/NOTIMP everywhere → GaiError EAI_FAIL
 *
 * It is written against an abstract datagram socket (`DnsTransport`, which a
 * front `Socket` of type SOCK_DGRAM satisfies) and a `Scheduler`, so the stack
 * backend runs it over its own UDP in virtual time. Each lookup opens a fresh
 * transport (a fresh source port) and uses a random query id; a reply counts only
 * if it comes from the server asked, carries the query's id, is a response, and
 * repeats the question (RFC 5452 §4). The hosts table is consulted first.
 *
 * Deviations: truncated (TC) replies are used as they are (no TCP retry); no
 * search domains; CNAME chains are followed within an answer and then by
 * re-querying the target, at most 8 links.
 */

import type { Rng } from '../rand/rng.ts';
import type { ResolvedAddress, Scheduler } from '../socket/backend.ts';
import { GaiError } from '../socket/errno.ts';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../wire/address.ts';
import { HostsTable } from './hosts.ts';
import {
  buildQuery,
  type DnsMessage,
  parseDnsMessage,
  RCODE_NOERROR,
  RCODE_NXDOMAIN,
  RCODE_SERVFAIL,
  sameName,
  TYPE_A,
  TYPE_AAAA,
  TYPE_CNAME,
} from './message.ts';

/** The datagram-socket calls the resolver needs (a SOCK_DGRAM front Socket has them). */
export interface DnsTransport {
  sendto(data: Uint8Array, address: readonly [string, number]): Promise<unknown>;
  /** Resolves with the next datagram and its source; rejects once the transport is closed. */
  recvfrom(bufsize: number): Promise<[Uint8Array, unknown]>;
  close(): Promise<void> | void;
}

export type DnsServer = readonly [host: string, port: number];

export interface StubResolverOptions {
  /** Servers in order of preference, e.g. [['127.0.0.53', 53]]. */
  servers: readonly DnsServer[];
  /** Opens a fresh datagram transport (a UDP socket of the right family) for one lookup. */
  open: (server: DnsServer) => DnsTransport | Promise<DnsTransport>;
  scheduler: Scheduler;
  /** Query ids come from here (use a CryptoRng in production). */
  rng: Rng;
  /** Per-try timeout in ms (default 2000). */
  timeoutMs?: number;
  /** Tries per server (default 2, resolv.conf's attempts:2). */
  attempts?: number;
  /** Consulted before DNS; defaults to a table with localhost. */
  hosts?: HostsTable;
}

const MAX_CNAME = 8;

class Timeout {}

type Outcome =
  | { kind: 'answer'; msg: DnsMessage }
  | { kind: 'servfail' }
  | { kind: 'fail' }
  | { kind: 'timeout' };

export class StubResolver {
  readonly #o: Required<StubResolverOptions>;
  /** Counters: queries sent, replies ignored (wrong id/source/question/unparsable). */
  readonly stats = { queries: 0, ignored: 0, timeouts: 0 };

  constructor(options: StubResolverOptions) {
    this.#o = {
      timeoutMs: 2000,
      attempts: 2,
      hosts: HostsTable.withDefaults(),
      ...options,
    };
  }

  get hosts(): HostsTable {
    return this.#o.hosts;
  }

  /**
   * getaddrinfo-style lookup: addresses of `name` for `family` (0 = both: A then AAAA).
   * Matches `SocketBackend.resolve`, so a backend can delegate to it.
   */
  async resolve(name: string, family: 0 | 2 | 10 = 0): Promise<ResolvedAddress[]> {
    const v4 = parseIpv4(name);
    if (v4 !== undefined && family !== 10) return [{ family: 2, host: formatIpv4(v4) }];
    const v6 = name.includes(':') ? parseIpv6(name) : undefined;
    if (v6 !== undefined && family !== 2) return [{ family: 10, host: formatIpv6(v6) }];
    if (v4 !== undefined || v6 !== undefined) throw new GaiError('EAI_ADDRFAMILY', name);
    const fromHosts = this.#o.hosts.lookup(name, family);
    if (fromHosts !== undefined) {
      if (fromHosts.length) return fromHosts;
      throw new GaiError('EAI_ADDRFAMILY', name);
    }
    if (name.length === 0 || name.length > 253) throw new GaiError('EAI_NONAME', name);
    const types = family === 2 ? [TYPE_A] : family === 10 ? [TYPE_AAAA] : [TYPE_A, TYPE_AAAA];
    const out: ResolvedAddress[] = [];
    let failure: GaiError | undefined;
    for (const t of types) {
      try {
        for (const a of await this.#addresses(name, t)) out.push({ family: t === TYPE_A ? 2 : 10, host: a });
      } catch (e) {
        if (!(e instanceof GaiError)) throw e;
        // RFC 8020: NXDOMAIN means no record of any type exists: no need for the next question.
        if (e.code === 'EAI_NONAME' && out.length === 0) throw e;
        // glibc (nss_dns gethostbyname4): the addresses one question found are the answer
        // even when the other question failed; with none, the first failure is.
        failure ??= e;
      }
    }
    if (out.length === 0) throw failure ?? new GaiError('EAI_NODATA', name);
    return out;
  }

  async #addresses(name: string, type: number): Promise<string[]> {
    let current = name;
    for (let hop = 0; hop <= MAX_CNAME; hop++) {
      const msg = await this.query(current, type);
      if (msg.rcode === RCODE_NXDOMAIN) throw new GaiError('EAI_NONAME', name);
      // Follow the CNAME chain inside the answer section.
      for (let i = 0; i < MAX_CNAME; i++) {
        const c = msg.answers.find((r) => r.type === TYPE_CNAME && sameName(r.name, current));
        if (!c || !('target' in c)) break;
        current = c.target;
      }
      const addrs = msg.answers
        .filter((r) => r.type === type && sameName(r.name, current) && 'address' in r)
        .map((r) => (r as { address: string }).address);
      if (addrs.length) return addrs;
      const pendingCname = msg.answers.some((r) => r.type === TYPE_CNAME);
      if (!pendingCname || sameName(current, name)) throw new GaiError('EAI_NODATA', name);
    }
    throw new GaiError('EAI_FAIL', name, 'CNAME chain too long');
  }

  /** Sends one question to the servers in turn and returns the first acceptable reply. */
  async query(name: string, type: number): Promise<DnsMessage> {
    let sawServfail = false;
    let sawFail = false;
    for (const server of this.#o.servers) {
      const r = await this.#askServer(server, name, type);
      if (r.kind === 'answer') return r.msg;
      if (r.kind === 'servfail') sawServfail = true;
      if (r.kind === 'fail') sawFail = true;
    }
    if (sawFail && !sawServfail) throw new GaiError('EAI_FAIL', name);
    throw new GaiError('EAI_AGAIN', name);
  }

  async #askServer(server: DnsServer, name: string, type: number): Promise<Outcome> {
    const id = this.#o.rng.below(0x10000);
    let query: Uint8Array;
    try {
      query = buildQuery(id, name, type);
    } catch {
      throw new GaiError('EAI_NONAME', name, 'not a valid DNS name');
    }
    const t = await this.#o.open(server);
    let pending: Promise<[Uint8Array, unknown]> | undefined;
    try {
      for (let attempt = 0; attempt < this.#o.attempts; attempt++) {
        await t.sendto(query, server);
        this.stats.queries++;
        const sched = this.#o.scheduler;
        let timer: unknown;
        const expired = new Promise<Timeout>((res) => {
          timer = sched.schedule(() => res(new Timeout()), this.#o.timeoutMs);
        });
        try {
          for (;;) {
            pending ??= t.recvfrom(4096);
            const got = await Promise.race([pending, expired]);
            if (got instanceof Timeout) {
              this.stats.timeouts++;
              break; // keep `pending`: the next attempt waits on the same receive
            }
            pending = undefined;
            const [bytes, from] = got;
            const msg = this.#accept(bytes, from, server, id, name, type);
            if (!msg) {
              this.stats.ignored++;
              continue;
            }
            if (msg.rcode === RCODE_NOERROR || msg.rcode === RCODE_NXDOMAIN) return { kind: 'answer', msg };
            return msg.rcode === RCODE_SERVFAIL ? { kind: 'servfail' } : { kind: 'fail' };
          }
        } finally {
          sched.cancel(timer);
        }
      }
      return { kind: 'timeout' };
    } finally {
      pending?.catch(() => undefined);
      await t.close();
    }
  }

  #accept(
    bytes: Uint8Array,
    from: unknown,
    server: DnsServer,
    id: number,
    name: string,
    type: number,
  ): DnsMessage | undefined {
    if (Array.isArray(from) && (from[1] !== server[1] || !sameHost(String(from[0]), server[0])))
      return undefined;
    const r = parseDnsMessage(bytes);
    if (!r.ok) return undefined;
    const m = r.message;
    if (!m.qr || m.id !== id) return undefined;
    const q = m.questions[0];
    if (m.questions.length !== 1 || !q || q.type !== type || !sameName(q.name, name)) return undefined;
    return m;
  }
}

function sameHost(a: string, b: string): boolean {
  if (a === b) return true;
  const x = parseIpv6(a);
  const y = parseIpv6(b);
  return x !== undefined && y !== undefined && x.every((v, i) => v === y[i]);
}
