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

/**
 * The one claim on a port (the common case: each connection's ephemeral port). A Map per
 * port would cost about 150 bytes per connection. `list` is made when `claimsAt` asks.
 */
interface Single<C> {
  claim: C;
  role: PortRole;
  list?: readonly C[];
}

type Entry<C> = Single<C> | Map<C, PortRole>;

export class PortTable<C extends PortClaim = PortClaim> {
  readonly rule: ConflictRule;
  /** RFC 6056 picker for port 0 (the transport's, shared with whoever else uses it). */
  readonly ephemeral: EphemeralPorts | undefined;
  /** Claims by local port, each with its role (in the order they were added). */
  readonly #byPort = new Map<number, Entry<C>>();
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
    const e = this.#byPort.get(port);
    if (e === undefined) {
      this.#byPort.set(port, { claim, role });
      this.#size++;
    } else if (e instanceof Map) {
      if (!e.has(claim)) this.#size++;
      e.set(claim, role);
    } else if (e.claim === claim) {
      e.role = role;
    } else {
      this.#byPort.set(
        port,
        new Map([
          [e.claim, e.role],
          [claim, role],
        ]),
      );
      this.#size++;
    }
  }

  /** Forgets `claim` (idempotent). Its port must not have changed since `add`. */
  remove(claim: C): void {
    const port = claim.local.port;
    const e = this.#byPort.get(port);
    if (e === undefined) return;
    if (!(e instanceof Map)) {
      if (e.claim !== claim) return;
      this.#byPort.delete(port);
      this.#size--;
      return;
    }
    if (!e.delete(claim)) return;
    this.#size--;
    // A port that had several claims keeps its Map down to the last one: a listener's port,
    // where each accepted connection comes and goes, would otherwise make a Map (and take it
    // apart) for every connection (bench crr).
    if (e.size === 0) this.#byPort.delete(port);
  }

  /** The role `claim` holds its port in, or undefined when it holds none. */
  roleOf(claim: C): PortRole | undefined {
    const e = this.#byPort.get(claim.local.port);
    if (e === undefined) return undefined;
    if (e instanceof Map) return e.get(claim);
    return e.claim === claim ? e.role : undefined;
  }

  /**
   * The claims on `port`, in the order they were added (undefined: none). For a
   * transport's demultiplexing on the hot path (UDP: the endpoints bound to a port).
   */
  claimsAt(port: number): Iterable<C> | undefined {
    const e = this.#byPort.get(port);
    if (e === undefined) return undefined;
    if (e instanceof Map) return e.keys();
    if (e.list === undefined) e.list = [e.claim];
    return e.list;
  }

  /** Claims on `port` (all of them, or those of one role). */
  *on(port: number, role?: PortRole): IterableIterator<C> {
    const e = this.#byPort.get(port);
    if (e !== undefined) yield* this.#of(e, role);
  }

  /** Every claim of one role (or all). */
  *claims(role?: PortRole): IterableIterator<C> {
    for (const e of this.#byPort.values()) yield* this.#of(e, role);
  }

  *#of(e: Entry<C>, role: PortRole | undefined): IterableIterator<C> {
    if (!(e instanceof Map)) {
      if (role === undefined || e.role === role) yield e.claim;
      return;
    }
    for (const [c, r] of e) if (role === undefined || r === role) yield c;
  }

  /** Would `req` on `port` conflict with a claim there (by the table's rule)? */
  conflicts(req: PortRequest, port: number): boolean {
    const e = this.#byPort.get(port);
    if (e === undefined) return false;
    if (!(e instanceof Map)) return this.#conflictsWith(req, e.claim, e.role);
    for (const [held, role] of e) if (this.#conflictsWith(req, held, role)) return true;
    return false;
  }

  #conflictsWith(req: PortRequest, held: C, role: PortRole): boolean {
    if (held === req.self || !addressesOverlap(req.address, held.local.address)) return false;
    return req.exclusive === true || this.rule(req, held, role);
  }

  /** Is there a connection from (local, port) to exactly `remote`? */
  tupleInUse(local: IpAddress, port: number, remote: PortEndpoint): boolean {
    const e = this.#byPort.get(port);
    if (e === undefined) return false;
    if (!(e instanceof Map)) return sameTuple(local, remote, e.claim);
    for (const held of e.keys()) if (sameTuple(local, remote, held)) return true;
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
