/**
 * Who may share a local port: the bind-conflict rules of the transports, written once.
 * `PortTable` (port-table.ts) asks them for every claim on a port whose address overlaps
 * the request's; the os backend (src/node/os-ports.ts) asks them for its in-process
 * reservations.
 *
 * A claim is a socket holding a local port: bound by bind(2) (`'bound'`), listening
 * (`'listening'`), or a connection with a peer (`'connected'`, TIME-WAIT included: Linux
 * keeps TIME-WAIT sockets in the port's bind bucket, tw_bind_node). The flags are read
 * from the claim at each check, because a socket may set SO_REUSEADDR while it holds
 * its port and Linux reads sk_reuse at the time of the conflict check.
 */
import { type IpAddress, ipEquals, isUnspecified } from '../wire/address.ts';

export type PortRole = 'bound' | 'listening' | 'connected';

/** A local or remote (address, port); address undefined (or unspecified): every local address. */
export interface PortEndpoint {
  readonly address: IpAddress | undefined;
  readonly port: number;
}

/** A socket holding a port (TcpBinding, TcpListener, TcpConnection, a UDP endpoint...). */
export interface PortClaim {
  readonly local: PortEndpoint;
  /** The peer of a connected claim: with `local` its 4-tuple. */
  readonly remote?: PortEndpoint | undefined;
  /** SO_REUSEADDR. */
  readonly reuseAddr: boolean;
  /** SO_REUSEPORT (datagram rules only). */
  readonly reusePort?: boolean;
}

/** What bind(2), listen(2) or connect(2) asks of a port. */
export interface PortRequest {
  /** undefined (or unspecified): every local address. */
  readonly address: IpAddress | undefined;
  /** What the requester becomes: a bound socket, a listener, or a connection to `remote`. */
  readonly role: PortRole;
  readonly reuseAddr: boolean;
  readonly reusePort?: boolean;
  /** The peer of a `'connected'` request. */
  readonly remote?: PortEndpoint;
  /**
   * Every overlapping claim conflicts, whatever the flags. Linux's port-0 bind
   * (inet_csk_find_open_port) searches with `relax = false`, so an ephemeral bind takes a
   * port nobody holds, even when both sides set SO_REUSEADDR.
   */
  readonly exclusive?: boolean;
  /** A claim of the requester itself (a binding that listen()/connect() takes over): never a conflict. */
  readonly self?: PortClaim;
}

/**
 * Whether `held` (on the requested port, on an overlapping address, not the requester
 * itself) keeps `req` off the port.
 */
export type ConflictRule = (req: PortRequest, held: PortClaim, heldRole: PortRole) => boolean;

// ---------------------------------------------------------------------------- addresses

/** The unspecified address (0.0.0.0, ::) or undefined: every local address. */
export function isWildcard(a: IpAddress | undefined): boolean {
  return a === undefined || isUnspecified(a);
}

/** Two addresses are the same (wire/address.ts ipEquals). */
export const ipEqual = ipEquals;

/**
 * Do two local addresses share traffic, so that their sockets compete for a port? Yes when
 * they are equal or either is a wildcard (Linux inet_rcv_saddr_equal with match_wildcard).
 * Deviation, until the stack has IPv6 sockets: a wildcard of either family overlaps every
 * address. Linux lets an IPv4 wildcard and a plain IPv6 address (or a v6-only wildcard
 * and an IPv4 address) coexist, and treats ::ffff:a.b.c.d as a.b.c.d; that belongs here.
 */
export function addressesOverlap(a: IpAddress | undefined, b: IpAddress | undefined): boolean {
  return isWildcard(a) || isWildcard(b) || ipEqual(a as IpAddress, b as IpAddress);
}

/** Is `held` a connection from `address` to exactly `remote` (the same 4-tuple, the port being equal)? */
export function sameTuple(address: IpAddress | undefined, remote: PortEndpoint, held: PortClaim): boolean {
  const r = held.remote;
  if (r === undefined || r.address === undefined || remote.address === undefined) return false;
  if (r.port !== remote.port || !ipEqual(r.address, remote.address)) return false;
  const l = held.local.address;
  return l !== undefined && address !== undefined && ipEqual(l, address);
}

// ---------------------------------------------------------------------------- rules

/**
 * TCP (Linux inet_csk_bind_conflict, __inet_hash_connect):
 * - a listener on the port keeps everyone else off it;
 * - a bound socket shares the port only when both set SO_REUSEADDR and the requester does
 *   not listen (Linux re-checks the port at listen(), inet_csk_listen_start -> get_port:
 *   sharing through SO_REUSEADDR ends when one of the sockets listens);
 * - a connection, TIME-WAIT included, shares the port with a bind or listen only when both
 *   set SO_REUSEADDR. A connection keeps the flag of the socket it came from (an accepted
 *   one, its listener's), so restarting a server over its own TIME-WAIT connections needs
 *   SO_REUSEADDR on the old and the new socket (as Python on Linux shows);
 * - a connection shares the port with another connection unless their 4-tuples are equal
 *   (Linux __inet_check_established).
 */
export const streamConflict: ConflictRule = (req, held, heldRole) => {
  if (heldRole === 'listening') return true;
  if (heldRole === 'bound') return !(req.reuseAddr && held.reuseAddr && req.role !== 'listening');
  if (req.role === 'connected') return req.remote !== undefined && sameTuple(req.address, req.remote, held);
  return !(req.reuseAddr && held.reuseAddr);
};

/**
 * UDP (Linux udp_lib_lport_inuse): two sockets on overlapping addresses share a port when
 * both set SO_REUSEADDR or both set SO_REUSEPORT (Deviation: Linux also wants the same
 * owner uid for SO_REUSEPORT; the stack has one user). Connected or not makes no difference.
 */
export const datagramConflict: ConflictRule = (req, held) =>
  !((req.reuseAddr && held.reuseAddr) || (req.reusePort === true && held.reusePort === true));
