/**
 * The port table of one transport: every socket holding a local port (bound, listening,
 * connected, TIME-WAIT), indexed by port, like Linux's bind hash (inet_bind_bucket, whose
 * owners include connections and TIME-WAIT sockets). bind(2), listen(2), connect(2) and the
 * socket layer all ask this one table, so they agree on who holds a port.
 *
 * The table knows no protocol: the conflict rules are given (bind-rules.ts: TCP's
 * `streamConflict`, UDP's `datagramConflict`), and ephemeral ports come from RFC 6056
 * (`EphemeralPorts`). Demultiplexing stays with the transport (its own 4-tuple and
 * listener maps); this table answers only "may this socket have that port?".
 */
import type { IpAddress } from '../wire/address.ts';
import {
  addressesOverlap,
  type ConflictRule,
  isWildcard,
  type PortClaim,
  type PortEndpoint,
  type PortRequest,
  type PortRole,
  sameTuple,
} from './bind-rules.ts';
import type { EphemeralPorts } from './ports.ts';

export class PortTable<C extends PortClaim = PortClaim> {
  readonly rule: ConflictRule;
  /** RFC 6056 picker for port 0 (the transport's, shared with whoever else uses it). */
  readonly ephemeral: EphemeralPorts | undefined;
  /** Claims by local port, each with its role. */
  readonly #byPort = new Map<number, Map<C, PortRole>>();
  #size = 0;

  constructor(rule: ConflictRule, ephemeral?: EphemeralPorts) {
    this.rule = rule;
    this.ephemeral = ephemeral;
  }

  /** Number of claims. */
  get size(): number {
    return this.#size;
  }

  /** Records that `claim` holds `claim.local.port` as `role` (no check: see `conflicts`). */
  add(claim: C, role: PortRole): void {
    const port = claim.local.port;
    let m = this.#byPort.get(port);
    if (!m) this.#byPort.set(port, (m = new Map()));
    if (!m.has(claim)) this.#size++;
    m.set(claim, role);
  }

  /** Forgets `claim` (idempotent). Its port must not have changed since `add`. */
  remove(claim: C): void {
    const port = claim.local.port;
    const m = this.#byPort.get(port);
    if (!m?.delete(claim)) return;
    this.#size--;
    if (m.size === 0) this.#byPort.delete(port);
  }

  /** The role `claim` holds its port in, or undefined when it holds none. */
  roleOf(claim: C): PortRole | undefined {
    return this.#byPort.get(claim.local.port)?.get(claim);
  }

  /**
   * The claims on `port` with their roles, in the order they were added (undefined: none).
   * For a transport's demultiplexing on the hot path (UDP: the endpoints bound to a port).
   */
  at(port: number): ReadonlyMap<C, PortRole> | undefined {
    return this.#byPort.get(port);
  }

  /** Claims on `port` (all of them, or those of one role). */
  *on(port: number, role?: PortRole): IterableIterator<C> {
    const m = this.#byPort.get(port);
    if (!m) return;
    for (const [c, r] of m) if (role === undefined || r === role) yield c;
  }

  /** Every claim of one role (or all). */
  *claims(role?: PortRole): IterableIterator<C> {
    for (const m of this.#byPort.values())
      for (const [c, r] of m) if (role === undefined || r === role) yield c;
  }

  /** Would `req` on `port` conflict with a claim there (by the table's rule)? */
  conflicts(req: PortRequest, port: number): boolean {
    const m = this.#byPort.get(port);
    if (!m) return false;
    for (const [held, role] of m) {
      if (held === req.self || !addressesOverlap(req.address, held.local.address)) continue;
      if (req.exclusive || this.rule(req, held, role)) return true;
    }
    return false;
  }

  /** Is there a connection from (local, port) to exactly `remote`? */
  tupleInUse(local: IpAddress, port: number, remote: PortEndpoint): boolean {
    const m = this.#byPort.get(port);
    if (!m) return false;
    for (const held of m.keys()) if (sameTuple(local, remote, held)) return true;
    return false;
  }

  /**
   * An ephemeral port (RFC 6056) that `req` may have, skipping every port where it would
   * conflict (binds, listeners and, for a connection, its 4-tuple in use: Linux
   * __inet_hash_connect skips ports held by bind()). undefined when none is left: bind
   * then fails EADDRINUSE and connect EADDRNOTAVAIL, as on Linux.
   */
  pick(req: PortRequest): number | undefined {
    const e = this.ephemeral;
    if (!e) throw new Error('PortTable.pick: this table has no ephemeral port range');
    const r = req.remote;
    // The wildcard hashes as "no address" however it is spelled (undefined, 0.0.0.0, ::).
    const local = isWildcard(req.address) ? undefined : req.address;
    return e.pick(local, r?.address, r?.port ?? 0, (p) => this.conflicts(req, p));
  }
}
