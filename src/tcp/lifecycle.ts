/**
 * A connection's way out: the timed states at the end (FIN-WAIT-2 for an orphan,
 * TIME-WAIT), keepalive arming, and terminate(), which deletes the TCB (RFC 9293
 * §3.10.7.4 "enter the CLOSED state, delete the TCB").
 */
import type { TcpRepr } from '../wire/tcp.ts';
import type { TcpCloseReason } from './errors.ts';
import { EV_CLOSE } from './events.ts';
import { seq, seqGt } from './seq.ts';
import { isSynchronized } from './state.ts';
import { T_DELACK, T_KEEP, T_PERSIST, T_WAIT, type Tcb } from './tcb.ts';

/** Starts (or stops) the keepalive timer from the last segment received. */
export function armKeepalive(c: Tcb): void {
  const s = c.state;
  if (!c.keepAliveOn || !isSynchronized(s)) {
    c.clearTimer(T_KEEP);
    return;
  }
  c.keepaliveProbes = 0;
  c.setTimer(T_KEEP, c.lastRecv + c.opts.keepIdle);
}

/** Orphans in FIN-WAIT-2 are reaped (Linux tcp_fin_timeout). */
export function armFinWait2(c: Tcb): void {
  if (c.orphan) {
    const t = c.opts.finWait2Timeout ?? c.layer.config.finWait2Timeout;
    c.setTimer(T_WAIT, c.layer.env.clock.now() + t);
  }
}

/** Enters TIME-WAIT and (re)starts the 2*MSL timer. */
export function enterTimeWait(c: Tcb): void {
  c.state = 'TIME-WAIT';
  c.cancelRtx();
  c.clearTimer(T_PERSIST);
  c.clearTimer(T_KEEP);
  c.clearTimer(T_DELACK);
  c.sndBuf.clear();
  // Like Linux's inet_timewait_sock, TIME-WAIT keeps only what it answers segments with:
  // the out-of-order queue, SACK scoreboard and transmit record go (every byte is
  // acknowledged, both FINs included), and so does an orphan's unread data.
  if (c.orphan) c.rcvBuf.clear();
  else c.rcvBuf.trim();
  c.clearQueues();
  c.setTimer(T_WAIT, c.layer.env.clock.now() + 2 * c.layer.config.msl);
}

/** Ends the connection: CLOSED, timers off, removed from the layer (and from its listener). */
export function terminate(c: Tcb, reason: TcpCloseReason | undefined): void {
  if (c.terminated) return;
  c.terminated = true;
  c.state = 'CLOSED';
  c.closeReason = reason;
  c.cancelTimers();
  c.sndBuf.clear();
  // Nobody will read it: closed by the user, or never accepted from the listener.
  if (c.orphan || c.parent) c.rcvBuf.clear();
  c.layer.memory.forget(c);
  c.clearQueues();
  c.layer.remove(c);
  if (c.parent) {
    c.parent.forget(c);
    c.parent = undefined;
  }
  c.pending |= EV_CLOSE;
}

/**
 * RFC 9293 §3.10.7.4 note / RFC 6191 §2: a new SYN may reuse a TIME-WAIT tuple when its
 * timestamp (or, failing that, its sequence number) is beyond the old incarnation's.
 * `timestamps`: whether the new incarnation would use them (config.timestamps).
 */
export function synMayReuseTimeWait(c: Tcb, r: TcpRepr, timestamps: boolean): boolean {
  const ts = r.options.timestamps;
  const newTs = ts !== undefined && timestamps;
  const seqNewer = seqGt(seq(r.seq), c.rcv.nxt);
  if (c.tsOk && newTs) {
    // "greater than the last timestamp seen", or equal to it with a greater sequence number.
    const d = (ts.tsVal - c.tsRecent) | 0;
    return d > 0 || (d === 0 && seqNewer);
  }
  if (c.tsOk) return seqNewer;
  // "If the previous incarnation ... did not use Timestamps ... If TCP Timestamps would be
  // enabled for the new incarnation ..., honor the incoming connection request."
  return newTs || seqNewer;
}
