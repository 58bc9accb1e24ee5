/**
 * The listener table: listeners by local port (RFC 9293 §3.10.7.2, a segment with no
 * connection goes to a listener on its port: the one bound to its address, else a wildcard).
 */
import { type IpAddress, ipEquals } from '../wire/address.ts';

interface Listening {
  readonly local: {
    readonly address: IpAddress | undefined;
    readonly port: number;
    /** A wildcard listener of one family only (AF_INET, or AF_INET6 with IPV6_V6ONLY). */
    readonly family?: 4 | 6;
  };
}

/** The listener for a segment to (local, port): an exact address first, else the wildcard. */
export function findListener<L extends Listening>(
  table: ReadonlyMap<number, readonly L[]>,
  local: IpAddress,
  port: number,
): L | undefined {
  const ls = table.get(port);
  if (!ls) return undefined;
  let wild: L | undefined;
  for (const l of ls) {
    if (l.local.address === undefined) {
      if (l.local.family === undefined || l.local.family === local.family) wild = l;
    } else if (ipEquals(l.local.address, local)) return l;
  }
  return wild;
}

/** Takes a closed listener out of the table. */
export function removeListener<L extends Listening>(table: Map<number, L[]>, l: L): void {
  const list = table.get(l.local.port);
  if (!list) return;
  const i = list.indexOf(l);
  if (i >= 0) list.splice(i, 1);
  if (list.length === 0) table.delete(l.local.port);
}
