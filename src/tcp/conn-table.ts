/**
 * The connection table: connections (every state but LISTEN) by their 4-tuple, for
 * demultiplexing (RFC 9293 §3.10.7: "the TCB ... identified by the segment's socket pair").
 */
import { type IpAddress, ipEquals } from '../wire/address.ts';
import type { TcpTuple } from './host.ts';

const tupleKey = (localPort: number, remotePort: number): number => localPort * 65536 + remotePort;

export class ConnTable<C extends TcpTuple> {
  /** Connections by (local port, remote port); addresses are compared within a list. */
  readonly byPorts = new Map<number, C[]>();
  #count = 0;

  get size(): number {
    return this.#count;
  }

  *all(): IterableIterator<C> {
    for (const list of this.byPorts.values()) yield* list;
  }

  find(local: IpAddress, localPort: number, remote: IpAddress, remotePort: number): C | undefined {
    const list = this.byPorts.get(tupleKey(localPort, remotePort));
    if (!list) return undefined;
    for (let i = 0; i < list.length; i++) {
      const c = list[i]!;
      if (ipEquals(c.remote.address, remote) && ipEquals(c.local.address, local)) return c;
    }
    return undefined;
  }

  add(c: C): void {
    const k = tupleKey(c.local.port, c.remote.port);
    let list = this.byPorts.get(k);
    if (!list) this.byPorts.set(k, (list = []));
    list.push(c);
    this.#count++;
  }

  remove(c: C): void {
    const k = tupleKey(c.local.port, c.remote.port);
    const list = this.byPorts.get(k);
    if (list) {
      const i = list.indexOf(c);
      if (i >= 0) {
        list.splice(i, 1);
        this.#count--;
        if (list.length === 0) this.byPorts.delete(k);
      }
    }
  }
}
