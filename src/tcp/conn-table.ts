/**
 * The connection table: connections (every state but LISTEN) by their 4-tuple, for
 * demultiplexing (RFC 9293 §3.10.7: "the TCB ... identified by the segment's socket pair").
 *
 * Keyed by the port pair, packed into one 32-bit integer (a small integer to the engine,
 * so the key costs no allocation); the addresses are compared within an entry. An entry is
 * the connection itself, or a list when several share the port pair (different
 * addresses): most port pairs hold one connection, and a one-element array per
 * connection would cost more than the rest of its table entry (idle connections at scale,
 * bench/idle.ts).
 */
import { type IpAddress, ipEquals } from '../wire/address.ts';
import type { TcpTuple } from './host.ts';

const tupleKey = (localPort: number, remotePort: number): number => (localPort << 16) | remotePort;

export class ConnTable<C extends TcpTuple> {
  readonly #byPorts = new Map<number, C | C[]>();
  #count = 0;

  get size(): number {
    return this.#count;
  }

  *all(): IterableIterator<C> {
    for (const e of this.#byPorts.values()) {
      if (Array.isArray(e)) yield* e;
      else yield e;
    }
  }

  find(local: IpAddress, localPort: number, remote: IpAddress, remotePort: number): C | undefined {
    const e = this.#byPorts.get(tupleKey(localPort, remotePort));
    if (e === undefined) return undefined;
    if (!Array.isArray(e)) {
      return ipEquals(e.remote.address, remote) && ipEquals(e.local.address, local) ? e : undefined;
    }
    for (let i = 0; i < e.length; i++) {
      const c = e[i]!;
      if (ipEquals(c.remote.address, remote) && ipEquals(c.local.address, local)) return c;
    }
    return undefined;
  }

  add(c: C): void {
    const k = tupleKey(c.local.port, c.remote.port);
    const e = this.#byPorts.get(k);
    if (e === undefined) this.#byPorts.set(k, c);
    else if (Array.isArray(e)) e.push(c);
    else this.#byPorts.set(k, [e, c]);
    this.#count++;
  }

  remove(c: C): void {
    const k = tupleKey(c.local.port, c.remote.port);
    const e = this.#byPorts.get(k);
    if (e === undefined) return;
    if (!Array.isArray(e)) {
      if (e === c) {
        this.#byPorts.delete(k);
        this.#count--;
      }
      return;
    }
    const i = e.indexOf(c);
    if (i < 0) return;
    e.splice(i, 1);
    this.#count--;
    if (e.length === 1) this.#byPorts.set(k, e[0]!);
  }
}
