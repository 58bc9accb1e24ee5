import { Failure, fmt, type Pending, type RunState } from './run-state.ts';

export function collect(r: RunState): void {
  for (const o of r.target.takeOutbound()) r.outbox.push({ time: o.time, packet: o.packet });
}

/** Lets promise callbacks run (a blocking call's completion chain). */
export async function settle(r: RunState): Promise<void> {
  const rounds = r.pending.some((p) => p.outcome === undefined) ? 32 : 2;
  for (let k = 0; k < rounds; k++) await Promise.resolve();
  collect(r);
}

/**
 * Waits for outstanding blocking calls and checks their return time and value.
 * Like packetdrill (one syscall thread), this happens before the next system
 * call and at the end of the script, not when the call returns.
 */
export async function joinPending(r: RunState): Promise<void> {
  for (const p of [...r.pending]) {
    if (p.outcome === undefined) await advanceTo(r, p.expectedEnd + p.tol, p);
    r.pending.splice(r.pending.indexOf(p), 1);
    if (p.outcome === undefined) {
      throw new Failure(
        p.event.pos,
        `blocking ${p.event.name}() still blocked at ${fmt(r.now())}; expected to return at ${fmt(p.expectedEnd)}`,
        'syscall',
      );
    }
    const at = p.settledAt ?? r.now();
    if (Math.abs(at - p.expectedEnd) > p.tol) {
      r.fail(
        p.event.pos,
        `blocking ${p.event.name}() returned at ${fmt(at)}, expected at ${fmt(p.expectedEnd)} (tolerance ${fmt(p.tol)})`,
        'syscall',
      );
    }
    p.check(p.outcome);
  }
}

/** Advances timer by timer to `to`, settling blocking calls on the way; stops early once `until` settles. */
export async function advanceTo(r: RunState, to: number, until?: Pending): Promise<void> {
  for (;;) {
    if (until && until.outcome !== undefined) return;
    const d = r.target.nextDeadline();
    if (d === undefined || d > to) break;
    r.target.advance(Math.max(d, r.now()));
    await settle(r);
    if (d <= r.now() && r.target.nextDeadline() === d) break; // a stuck timer: stop
  }
  if (to > r.now()) r.target.advance(to);
  await settle(r);
}

/** Waits (advancing timers) until an outbound packet is queued or `limit` passes. */
export async function waitOutbound(r: RunState, limit: number): Promise<boolean> {
  collect(r);
  while (r.outbox.length === 0) {
    const d = r.target.nextDeadline();
    if (d === undefined || d > limit) {
      if (Number.isFinite(limit) && limit > r.now()) {
        r.target.advance(limit);
        await settle(r);
      }
      return r.outbox.length > 0;
    }
    r.target.advance(Math.max(d, r.now()));
    await settle(r);
  }
  return true;
}
