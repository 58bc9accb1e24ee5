/**
 * Ports the os backend's bind() holds between bind() and listen()/connect(). Node cannot
 * bind a TCP socket without listening (see os-backend.ts), so the kernel does not know
 * about a bound port until then: this process keeps its own reservations, checked by the
 * same rules the stack's TCP uses (src/transport/bind-rules.ts `streamConflict`), and asks
 * /proc/net/tcp{,6} for what the kernel holds but cannot refuse on our behalf.
 */
import { readFileSync } from 'node:fs';
import {
  addressesOverlap,
  type PortClaim,
  type PortEndpoint,
  type PortRequest,
  type PortRole,
  streamConflict,
} from '../transport/bind-rules.ts';
import { PortTable } from '../transport/port-table.ts';
import { type IpAddress, parseIp } from '../wire/address.ts';

/** A port or AF_UNIX path this process holds for a bound socket. */
export interface Reservation {
  /** Gives it back (listen/connect took the port into the kernel, or close()). Idempotent. */
  release(): void;
}

/** The host text of a socket address as an address (undefined: the wildcard, or text we cannot read). */
function hostAddress(host: string): IpAddress | undefined {
  return parseIp(host);
}

/** ::ffff:a.b.c.d as a.b.c.d (the kernel's dual-stack sockets report IPv4 peers so). */
function unmapped(a: IpAddress | undefined): IpAddress | undefined {
  if (a?.family !== 6) return a;
  const b = a.v6;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return a;
  if (b[10] !== 0xff || b[11] !== 0xff) return a;
  return { family: 4, v4: ((b[12] << 24) | (b[13] << 16) | (b[14] << 8) | b[15]) >>> 0 };
}

class TcpReservation implements PortClaim, Reservation {
  readonly local: PortEndpoint;
  readonly #opts: { readonly reuse: boolean };
  constructor(local: PortEndpoint, opts: { readonly reuse: boolean }) {
    this.local = local;
    this.#opts = opts;
  }
  /** Read at each check, like Linux's sk_reuse. */
  get reuseAddr(): boolean {
    return this.#opts.reuse;
  }
  release(): void {
    tcpReservations.remove(this);
  }
}

const tcpReservations = new PortTable<TcpReservation>(streamConflict);
const unixPaths = new Set<string>();

/** Does a bind() of this process (not yet listening or connected) keep (host, port, reuse) off? */
export function reservedInProcess(host: string, port: number, reuseAddr: boolean): boolean {
  return tcpReservations.conflicts({ address: hostAddress(host), role: 'bound', reuseAddr }, port);
}

/**
 * Would bind(host, port) fail EADDRINUSE on Linux, for a reason the kernel cannot tell
 * Node: a reservation of this process, or a kernel socket that does not listen (below).
 */
export function tcpBindConflict(host: string, port: number, reuseAddr: boolean): boolean {
  if (reservedInProcess(host, port, reuseAddr)) return true;
  const req: PortRequest = { address: unmapped(hostAddress(host)), role: 'bound', reuseAddr };
  for (const k of kernelTcpClaims(port))
    if (addressesOverlap(req.address, k.claim.local.address) && streamConflict(req, k.claim, k.role))
      return true;
  return false;
}

/** Holds (host, port) for a bound socket; `opts.reuse` is its SO_REUSEADDR. */
export function reserveTcp(host: string, port: number, opts: { readonly reuse: boolean }): Reservation {
  const r = new TcpReservation({ address: hostAddress(host), port }, opts);
  tcpReservations.add(r, 'bound');
  return r;
}

/** Holds an AF_UNIX path for a bound socket; undefined when this process holds it already. */
export function reserveUnixPath(path: string): Reservation | undefined {
  if (unixPaths.has(path)) return undefined;
  unixPaths.add(path);
  return { release: () => unixPaths.delete(path) };
}

// ---------------------------------------------------------------------------- the kernel's

/** A /proc/net/tcp{,6} local address (hex, 32-bit words in host byte order). */
function procAddress(hex: string): IpAddress | undefined {
  const bytes: number[] = [];
  for (let w = 0; w < hex.length; w += 8)
    for (let i = 6; i >= 0; i -= 2) bytes.push(Number.parseInt(hex.slice(w + i, w + i + 2), 16));
  if (bytes.length === 4)
    return { family: 4, v4: ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0 };
  if (bytes.length === 16) return unmapped({ family: 6, v6: new Uint8Array(bytes) });
  return undefined;
}

/**
 * The kernel's TCP sockets on `port` that do not listen (connections, TIME-WAIT included,
 * and bound ones), from Linux's /proc/net/tcp and tcp6 (none where they do not exist), as
 * claims for the bind rules. libuv sets SO_REUSEADDR on every TCP socket it binds, so the
 * kernel lets Node bind over such sockets where Linux refuses a bind without SO_REUSEADDR
 * (inet_csk_bind_conflict); checking them here lets the os backend refuse it too.
 * Deviation: the kernel does not say which of them had SO_REUSEADDR; they are taken to have
 * it (ours all do), so a bind with SO_REUSEADDR gets past any of them. Listeners need no
 * check: the kernel refuses those itself.
 */
function* kernelTcpClaims(port: number): IterableIterator<{ claim: PortClaim; role: PortRole }> {
  const want = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || f[3] === '0A') continue; // 0A: LISTEN
      const [hex, p] = f[1]!.split(':');
      if (p !== want || !hex) continue;
      const role: PortRole = f[3] === '07' ? 'bound' : 'connected'; // 07: CLOSE (bound, unconnected)
      yield { claim: { local: { address: procAddress(hex), port }, reuseAddr: true }, role };
    }
  }
}
