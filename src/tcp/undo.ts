/**
 * Undoing a window reduction that D-SACKs show was spurious (RFC 2883 §4 "the sender could
 * ... restore the congestion window", RFC 3708 detection, as Linux's tcp_try_undo_dsack /
 * tcp_try_undo_recovery / tcp_try_undo_loss run it): a recovery or RTO remembers the window
 * before it (Linux tcp_init_undo: undo_marker, prior_cwnd, prior_ssthresh) and counts the
 * bytes it retransmits (undo_retrans); every D-SACK for data at or above the marker takes
 * its bytes off; when none are left, every retransmission was a duplicate (the originals
 * arrived), so the loss was not real and the old window comes back.
 */
import type { SackBlock } from '../wire/tcp.ts';
import { type Seq, seq, seqGe, seqGt, seqLe, seqLt, seqMax, seqSub } from './seq.ts';
import type { Tcb } from './tcb.ts';

/**
 * A reduction starts (fast recovery or the first RTO of an episode): remember the window
 * before it. Linux's prior_ssthresh is tcp_current_ssthresh: max(ssthresh, 3/4 cwnd) while
 * not already reduced. Call before the controller reduces.
 */
export function undoStart(c: Tcb): void {
  const cc = c.cc;
  c.undoMarker = c.snd.una;
  c.undoRetrans = 0;
  c.priorCwnd = cc.cwnd;
  c.priorSsthresh = Math.max(cc.ssthresh === 0x7fffffff ? 0 : cc.ssthresh, (cc.cwnd * 3) >> 2);
}

/** Bytes retransmitted at `s` while an undo episode is open (Linux undo_retrans). */
export function undoRetransmitted(c: Tcb, s: Seq, len: number): void {
  if (c.undoMarker !== undefined && len > 0 && seqGe(s, c.undoMarker)) c.undoRetrans += len;
}

/**
 * RFC 2883 §4: the first SACK block is a D-SACK when it lies at or below SEG.ACK, or inside
 * the second block. Returns it, or undefined.
 */
export function dsackBlock(sack: readonly SackBlock[] | undefined, ack: Seq): SackBlock | undefined {
  if (!sack || sack.length === 0) return undefined;
  const b = sack[0]!;
  if (seqLe(seq(b.right), ack)) return b;
  const n = sack[1];
  return n !== undefined && seqGe(seq(b.left), seq(n.left)) && seqLe(seq(b.right), seq(n.right))
    ? b
    : undefined;
}

/**
 * A D-SACK arrived: its bytes at or above the marker were retransmitted needlessly. Returns
 * whether every retransmission of the episode is now accounted for (tcp_may_undo), so the
 * reduction may be undone. Below SND.UNA every D-SACKed byte counts (Linux tcp_check_dsack);
 * above it, the duplicate may be of an original the peer got twice, so only bytes the
 * transmit log says were retransmitted count (Linux tcp_sacktag_one: a dup_sack on a
 * TCPCB_RETRANS skb).
 */
export function undoOnDsack(c: Tcb, b: SackBlock): boolean {
  const marker = c.undoMarker;
  if (marker === undefined || c.undoRetrans <= 0) return false;
  const left = seqMax(seq(b.left), marker);
  const right = seq(b.right);
  if (!seqGt(right, left)) return false;
  const una = c.snd.una;
  let dup = seqLt(left, una) ? seqSub(seqLe(right, una) ? right : una, left) : 0;
  if (seqGt(right, una)) {
    // Deviation: with RACK off (tcp_recovery=0) there is no transmit log saying which
    // segments above SND.UNA were retransmitted; such a D-SACK leaves the reduction in place.
    if (c.hasTxLog) dup += c.txLog.retransmittedIn(seqLt(left, una) ? una : left, right);
  }
  if (dup === 0) return false;
  c.undoRetrans = Math.max(0, c.undoRetrans - dup);
  return c.undoRetrans === 0;
}

/**
 * Restores the window from before the reduction (Linux tcp_undo_cwnd_reduction: cwnd =
 * max(cwnd, prior_cwnd), ssthresh = prior_ssthresh when larger) and withdraws a CWR the
 * reduction queued (tcp_ecn_withdraw_cwr). Ends the episode.
 */
export function undoReduction(c: Tcb): void {
  c.cc.onUndo?.(c.priorCwnd, c.priorSsthresh);
  c.undoMarker = undefined;
  c.undoRetrans = 0;
  c.ecnQueueCwr = false;
  c.ecnCwrEnd = undefined;
  c.layer.stats.spuriousUndos++;
}
