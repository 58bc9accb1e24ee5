/**
 * Where PSH goes under Linux's rule (config.pushWriteEnd; profile pushPlacement
 * 'linux-tcp-push'). RFC 9293 §3.9.1.2 lets SEND carry a PUSH flag and RFC 1122 §4.2.2.2
 * leaves the placement to the implementation beyond "the last buffered segment"; Linux's
 * sockets have no PUSH argument and mark instead:
 *
 * - the end of each write (tcp_sendmsg_locked -> tcp_push -> tcp_mark_push), unless MSG_MORE
 *   (a short write, one that waited for room, is marked all the same: tcp_push with
 *   flags & ~MSG_MORE before sk_stream_wait_memory);
 * - a full skb when more than half the peer's largest window was written since the last mark
 *   (forced_push: write_seq > pushed_seq + max_window / 2);
 * - a mark goes when the next write is appended to the same, still unsent, skb ("if (!copied)
 *   tcp_flags &= ~TCPHDR_PSH").
 *
 * The mark stays on its byte: tcp_fragment and tso_fragment move PSH to the second part of a
 * split, so whichever piece ends there carries it, on first transmission and when resent. A
 * segment carries PSH when a mark falls in (start, end]; a retransmission that joins pieces
 * (tcp_retrans_try_collapse) ORs their flags, as this does.
 *
 * Marks are kept as the sequence numbers just past each marked byte, ascending, trimmed as
 * SND.UNA passes them; at most MAX_MARKS (the oldest go first: only a retransmission of that
 * old data would lose its PSH).
 */
import { type Seq, seqAdd, seqGt, seqLe, seqSub } from './seq.ts';
import type { Tcb } from './tcb.ts';

const MAX_MARKS = 64;

/**
 * Records the PSH marks of a write of `n` bytes that ends at the end of the send buffer.
 * `more`: MSG_MORE and the write took everything.
 */
export function markWrite(c: Tcb, n: number, more: boolean): void {
  const end = seqAdd(c.sndBufSeq, c.sndBuf.length);
  const start = seqAdd(end, -n);
  if (c.pshMarks === undefined) {
    c.pshMarks = [];
    c.pushedSeq = start; // tcp_connect_init: pushed_seq = write_seq
  }
  const marks = c.pshMarks;
  trimMarks(c, marks);
  // The previous write's mark is on a skb still (partly) unsent: this write fills that skb.
  const last = marks.length - 1;
  if (last >= 0 && marks[last] === start && seqGt(start, c.sndMax) && !c.eorMarks?.includes(start))
    marks.pop();
  const half = c.maxSndWnd >> 1;
  // forced_push on each full skb short of the write's end (after a window was seen). Linux's
  // skbs are GSO-sized whatever the device (tcp_xmit_size_goal): whole segments of up to
  // 64 KB, less a header's room, and at most half the largest window (tcp_bound_to_half_wnd).
  if (c.maxSndWnd > 0 && seqSub(end, c.pushedSeq) > half) {
    const mss = c.mss - (c.tsOk ? 12 : 0);
    const skbSize =
      mss * Math.max(1, Math.floor(Math.min(65_215, c.maxSndWnd > 536 ? half : c.maxSndWnd) / mss));
    for (let b = seqAdd(start, skbSize); seqGt(end, b); b = seqAdd(b, skbSize)) {
      if (seqSub(b, c.pushedSeq) > half) push(c, marks, b);
    }
  }
  // tcp_push: "if (!(flags & MSG_MORE) || forced_push(tp)) tcp_mark_push(tp, skb)".
  if (!more || (c.maxSndWnd > 0 && seqSub(end, c.pushedSeq) > half)) push(c, marks, end);
}

function push(c: Tcb, marks: Seq[], at: Seq): void {
  if (marks.length >= MAX_MARKS) marks.shift();
  marks.push(at);
  c.pushedSeq = at;
}

function trimMarks(c: Tcb, marks: Seq[]): void {
  let k = 0;
  while (k < marks.length && seqLe(marks[k]!, c.snd.una)) k++;
  if (k === 0) return;
  // In place (splice would allocate the removed part's array on every write and ACK), and
  // shortened by pop(): `length = 0` frees the array's store, which the next write's push
  // allocates again (request/response empties it on every ACK).
  marks.copyWithin(0, k);
  while (k-- > 0) marks.pop();
}

/** Whether the segment [s, s + len) ends a marked stretch (a mark in (s, s + len]). */
export function pushMarked(c: Tcb, s: Seq, len: number): boolean {
  return markIn(c, c.pshMarks!, s, seqAdd(s, len));
}

/** Whether one of `marks` (ascending) lies in (s, e], after dropping those SND.UNA passed. */
function markIn(c: Tcb, marks: Seq[], s: Seq, e: Seq): boolean {
  trimMarks(c, marks);
  // (An index loop: for-of's iterator was a tenth of request/response's PSH bookkeeping.)
  for (let i = 0; i < marks.length; i++) {
    const m = marks[i]!;
    if (seqGt(m, e)) return false;
    if (seqGt(m, s)) return true;
  }
  return false;
}

/**
 * Linux's GSO packets (config.pushBurstEnd): __tcp_transmit_skb sets PSH on every packet of
 * more than one segment ("to expedite GRO flush at receiver"), and GSO segmentation leaves it
 * on the last segment. New data leaves in such packets of up to tcp_tso_autosize segments: the
 * pacing rate (tcp_update_pacing_rate: 200 % of cwnd per SRTT in slow start, 120 % after)
 * over 2^10 (sk_pacing_shift), plus 64 KB >> (min RTT in µs >> 9) on short paths, at most
 * 64 KB, at least tcp_min_tso_segs (config.minTsoSegs, 2) segments. `rate`: a controller's
 * or the user's pacing rate (bytes/s), 0 for none.
 */
export function gsoSegs(c: Tcb, effMss: number, rate: number): number {
  const srtt = c.rtt.srtt;
  let bytes = 65536;
  if (rate > 0 || (srtt !== undefined && srtt > 0)) {
    const cw = c.cc.cwnd;
    bytes = (rate > 0 ? rate : ((cw < c.cc.ssthresh / 2 ? 2 : 1.2) * cw * 1e6) / srtt!) / 1024;
    const r = (c.minRtt > 0 ? c.minRtt : (srtt ?? 0)) >> 9;
    if (r < 32) bytes += 65536 >>> r;
  }
  return Math.max(c.layer.config.minTsoSegs, Math.floor(Math.min(bytes, 65536) / effMss));
}

const MAX_GSO_ENDS = 64;

/** Records where a GSO packet of more than one segment ended (its skb, if resent whole, is one again). */
export function gsoPacketEnd(c: Tcb, end: Seq): void {
  const ends = (c.gsoEnds ??= []);
  trimMarks(c, ends);
  // Bounded: past MAX_GSO_ENDS the newest go unrecorded (their resends lose only the PSH).
  if (ends.length < MAX_GSO_ENDS) ends.push(end);
}

/** Whether a multi-segment GSO packet ended at `end` (push.ts gsoPacketEnd). */
export function gsoEndAt(c: Tcb, end: Seq): boolean {
  return c.gsoEnds !== undefined && markIn(c, c.gsoEnds, seqAdd(end, -1), end);
}
