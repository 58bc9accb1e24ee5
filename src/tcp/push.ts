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
 * `more`: MSG_MORE (or TCP_CORK's MSG_MORE-like hold) and the write took everything.
 * `skbSize`: the bytes Linux puts in one skb (its size_goal: the MSS, or TSO's size).
 */
export function markWrite(c: Tcb, n: number, more: boolean, skbSize: number): void {
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
  // forced_push on each full skb short of the write's end (after a window was seen).
  if (c.maxSndWnd > 0 && seqSub(end, c.pushedSeq) > half && skbSize > 0) {
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
  if (k > 0) marks.splice(0, k);
}

/** Whether the segment [s, s + len) ends a marked stretch (a mark in (s, s + len]). */
export function pushMarked(c: Tcb, s: Seq, len: number): boolean {
  const marks = c.pshMarks!;
  trimMarks(c, marks);
  const e = seqAdd(s, len);
  for (const m of marks) {
    if (seqGt(m, e)) return false;
    if (seqGt(m, s)) return true;
  }
  return false;
}
