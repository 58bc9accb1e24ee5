/**
 * The receiver side of a connection (RFC 9293 §3.10.7.4 seventh and eighth steps): segment
 * text into the receive buffer or the out-of-order queue (reassembly.ts), the FIN, the ACK
 * policy (RFC 9293 §3.8.6.3 delayed ACKs, RFC 5681 §4.2 immediate ACKs, Linux quick-ACK
 * mode) and D-SACK reports (RFC 2883).
 */
import { superSegmentGsoSize } from '../wire/gso.ts';
import { EV_END, EV_READABLE } from './events.ts';
import { enterTimeWait } from './lifecycle.ts';
import { rcvRttMeasure } from './rcvbuf-auto.ts';
import { PIECE_OVERHEAD } from './reassembly.ts';
import { type Seq, seqAdd, seqLt, seqSub } from './seq.ts';
import { T_DELACK, type Tcb } from './tcb.ts';

/**
 * RCV.WND for arriving segments (RFC 9293 §3.10.7.4): what we offered, RCV.ADV - RCV.NXT;
 * under config.inputWindowFromBuffer at least the free receive-buffer space, as FreeBSD's
 * tcp_input computes tp->rcv_wnd = imax(sbspace(&so->so_rcv), rcv_adv - rcv_nxt).
 */
export function inputWindow(c: Tcb): number {
  const offered = Math.max(0, seqSub(c.rcvAdv, c.rcv.nxt));
  return c.layer.config.inputWindowFromBuffer ? Math.max(offered, c.rcvBuf.space) : offered;
}

/**
 * Seventh/eighth steps for ESTABLISHED, FIN-WAIT-1/2 (and SYN-SENT's continuation): trims to
 * the window, delivers in-order bytes, queues the rest, then handles an in-order FIN.
 * Returns the (possibly advanced) sequence number.
 */
export function receiveText(c: Tcb, segSeq: Seq, data: Uint8Array, fin: boolean): Seq {
  const stats = c.layer.stats;
  // Trim the left edge (already received).
  const dup = seqSub(c.rcv.nxt, segSeq);
  if (dup > 0 && data.length > 0) noteDuplicate(c, segSeq, data.length);
  if (dup > 0) {
    if (dup >= data.length) {
      // All bytes are old; a FIN right after them is new only if it sits at rcv.nxt.
      fin = fin && dup === data.length;
      data = data.subarray(data.length);
    } else data = data.subarray(dup);
    segSeq = c.rcv.nxt;
    c.ackNow = true;
  }
  // Trim the right edge to the window (inputWindow: the offered one, or FreeBSD's).
  const room = seqSub(seqAdd(c.rcv.nxt, inputWindow(c)), segSeq);
  if (data.length > room) {
    data = data.subarray(0, Math.max(0, room));
    fin = false;
    stats.truncatedToWindow++;
  }
  if (data.length > 0 && !admitData(c, segSeq, data)) {
    // Over the layer's memory limit (memory.ts): drop it, ACK, and let the peer retransmit.
    c.ackNow = true;
    return segSeq;
  }
  if (segSeq !== c.rcv.nxt) {
    // Out of order: hold it, and ACK at once (RFC 5681 §4.2: "A TCP receiver SHOULD send an
    // immediate duplicate ACK when an out-of-order segment arrives").
    if (data.length > 0 || fin) {
      if (data.length > 0) noteDuplicateAbove(c, segSeq, data.length);
      const res = c.reasm.insert(segSeq, data, fin);
      if (res === 'dropped-limit') stats.reassemblyDrops++;
      else if (res === 'stored') stats.outOfOrder++;
    }
    c.ackNow = true;
    return segSeq;
  }
  let delivered = deliver(c, data, true);
  if (delivered < data.length) fin = false;
  if (c.hasReasm) {
    // RFC 5681 §4.2: "an immediate ACK SHOULD be generated when a segment arrives that fills
    // in all or part of a gap in the sequence space."
    const got = c.reasm.take(c.rcv.nxt);
    for (const chunk of got.chunks) delivered += deliver(c, chunk);
    if (got.fin) fin = true;
    c.ackNow = true;
    if (delivered > 0) c.lastDataRecv = c.layer.env.clock.now();
  } else if (delivered > 0) {
    inOrderAckPolicy(c, data, fin);
  }
  if (delivered > 0) {
    c.pending |= EV_READABLE;
    rcvRttMeasure(c);
  }
  if (fin) receiveFin(c);
  return c.rcv.nxt;
}

/**
 * The ACK policy for in-order data that filled no gap: ACK now, or leave it to the
 * delayed-ACK timer.
 */
function inOrderAckPolicy(c: Tcb, data: Uint8Array, fin: boolean): void {
  const len = data.length;
  // RFC 9293 §3.8.6.3: "an ACK SHOULD be generated for at least every second full-sized
  // segment"; otherwise the delayed-ACK timer sends it. Smaller segments do not count
  // (RFC 1122 §4.2.3.2: "in a stream of full-sized segments there SHOULD be an ACK for at
  // least every second segment").
  const cap = c.rcvMss - (c.tsOk ? 12 : 0);
  let full = Math.min(c.rcvMssEst, cap);
  if (len > full) {
    // A super-segment's segment size is its gso size (Linux tcp_measure_rcv_mss: gso_size).
    const g = superSegmentGsoSize(data);
    const seg = g > 0 ? g : len;
    if (seg > full) full = c.rcvMssEst = Math.min(seg, cap);
  }
  // config.ackEverySegmentPair (FreeBSD DELAY_ACK): any second segment is ACKed at once.
  // A super-segment (received whole from a link that carries them, as the kernel's GRO
  // builds them) counts as the full-sized segments it holds, so one of two or more is ACKed
  // at once (Linux __tcp_ack_snd_check: more than one rcv_mss unacknowledged).
  if (len >= full || c.layer.config.ackEverySegmentPair) {
    c.delackSegs += len >= 2 * full ? Math.floor(len / full) : 1;
    if (c.delackSegs >= 2) c.ackNow = true;
  }
  if (!c.layer.config.quickAck) c.lastDataRecv = c.layer.env.clock.now();
  else {
    const quick = quickAckDue(c);
    // Data with a FIN: tcp_fin's pingpong mode turns quick-ACK mode off for this ACK too, and
    // __tcp_ack_snd_check ACKs at once only when more than one MSS, the FIN counted, is owed.
    if (fin && finAckHeld(c) ? seqSub(c.rcv.nxt, c.lastAckSent) + 1 > full : quick) c.ackNow = true;
  }
}

/** Linux tcp_fin: an ESTABLISHED connection's FIN puts it in pingpong mode (profile finAck). */
function finAckHeld(c: Tcb): boolean {
  return c.layer.config.finAckDelayed && (c.state === 'ESTABLISHED' || c.state === 'SYN-RECEIVED');
}

/**
 * Linux quick-ACK mode (tcp_event_data_recv / tcp_incr_quickack): the first in-order data of
 * a connection, or data after a gap longer than the RTO ("apparently sender failed to
 * restart window, so that we send ACKs quickly"), starts a run of immediate ACKs: one per
 * two MSS of the window we offer, at least 2 and at most 16. Each ACK of data spends one
 * (emit). Returns whether this segment is to be acknowledged at once.
 */
function quickAckDue(c: Tcb): boolean {
  const now = c.layer.env.clock.now();
  if (!c.dataSeen || now - c.lastDataRecv > c.rtt.rto) {
    c.dataSeen = true;
    let q = Math.floor(c.rcv.wnd / (2 * c.rcvMssEst));
    if (q === 0) q = 2;
    if (q > 16) q = 16;
    if (q > c.quickAcks) c.quickAcks = q;
  }
  c.lastDataRecv = now;
  return c.quickAcks > 0;
}

/**
 * RFC 2883 §4 (D-SACK): data received again below RCV.NXT is reported as the first SACK
 * block of the next ACK: "the first SACK block MUST specify the contiguous block of data
 * containing the duplicate segment". Only the part below RCV.NXT is a duplicate.
 */
export function noteDuplicate(c: Tcb, segSeq: Seq, len: number): void {
  if (!c.sackOk || !c.layer.config.dsack) return;
  const end = seqAdd(segSeq, len);
  if (!seqLt(segSeq, c.rcv.nxt)) return;
  c.dsack = { left: segSeq, right: seqLt(end, c.rcv.nxt) ? end : c.rcv.nxt };
}

/**
 * RFC 2883 §4 for data above RCV.NXT: "If the D-SACK block reports a duplicate contiguous
 * sequence from a (possibly larger) block of data in the receiver's data queue above the
 * cumulative acknowledgement, then the second SACK block in that SACK option should specify
 * that (possibly larger) block of data." The block follows by itself: the arrival is the most
 * recent (reassembly.ts sackBlocks), as Linux's tcp_sack_new_ofo_skb puts it first.
 */
function noteDuplicateAbove(c: Tcb, segSeq: Seq, len: number): void {
  if (!c.sackOk || !c.layer.config.dsack || !c.hasReasm) return;
  const held = c.reasm.heldRun(segSeq, seqAdd(segSeq, len));
  if (held) c.dsack = held;
}

/** `sole`: `data` is the arriving segment's own (see RecvQueue.push), not a reassembled piece. */
function deliver(c: Tcb, data: Uint8Array, sole = false): number {
  if (data.length === 0) return 0;
  // Everything here lies inside the window we advertised (receiveText trims to rcvAdv), so
  // it is kept even when that window was rounded up to the scale granularity (RFC 7323
  // §2.3) or SO_RCVBUF shrank since: the buffer may exceed its limit by that much.
  const n = c.rcvDiscard ? data.length : c.rcvBuf.push(data, true, sole);
  c.rcv.nxt = seqAdd(c.rcv.nxt, n);
  c.stats.bytesReceived += n;
  return n;
}

/** Eighth step: an in-order FIN. */
function receiveFin(c: Tcb): void {
  c.rcv.nxt = seqAdd(c.rcv.nxt, 1);
  c.finReceived = true;
  c.pending |= EV_END | EV_READABLE;
  const open = c.state === 'ESTABLISHED' || c.state === 'SYN-RECEIVED';
  // Linux tcp_fin enters pingpong mode: once data has come (ato set), the FIN's ACK is left
  // to the delayed-ACK timer (armDelayedAck); an ACK this segment already owed stays.
  if (!(c.dataSeen && finAckHeld(c))) c.ackNow = true;
  if (open) c.state = 'CLOSE-WAIT';
  // FIN-WAIT-1: "If our FIN has been ACKed ... enter TIME-WAIT ... otherwise, enter the CLOSING state."
  else if (c.state === 'FIN-WAIT-1') {
    if (c.finAcked) enterTimeWait(c);
    else c.state = 'CLOSING';
  } else if (c.state === 'FIN-WAIT-2') enterTimeWait(c);
}

/**
 * Receive side: may `data` new bytes at `segSeq` be held? When not, the connection's
 * out-of-order data above the segment is pruned first (RFC 2018 §8 lets a receiver discard
 * SACKed data; the sender keeps it until it is cumulatively acknowledged); if that is not
 * enough, the caller drops the segment and ACKs, and the peer retransmits (RFC 9293 §3.8.6:
 * "If more data arrives than can be accepted, it will be discarded").
 */
function admitData(c: Tcb, segSeq: Seq, bytes: Uint8Array): boolean {
  const mem = c.layer.memory;
  const data = bytes.length;
  // Out of order it is held as a piece, which costs its overhead too (reassembly.ts); in
  // order, what the receive queue charges for it (its frame's true size when kept by reference).
  const len = segSeq === c.rcv.nxt ? c.rcvBuf.chargeFor(bytes) : data + PIECE_OVERHEAD;
  if (len <= mem.available) return true;
  // In-order data on a connection shut for reading is discarded, not held.
  if (c.rcvDiscard && segSeq === c.rcv.nxt) return true;
  if (c.hasReasm) {
    const before = c.reasm.bytes;
    c.reasm.clear(seqAdd(segSeq, data));
    if (c.reasm.bytes < before) c.layer.stats.memoryPrunes++;
    if (len <= mem.available) return true;
  }
  c.layer.stats.memoryDrops++;
  return false;
}

/**
 * After a segment is processed: data received but not yet acknowledged leaves the
 * delayed-ACK timer owing the peer an ACK (RFC 9293 §3.8.6.3).
 */
export function armDelayedAck(c: Tcb, now: number): void {
  if (c.rcv.nxt !== c.lastAckSent && !c.ackNow && !c.delackArmed && c.state !== 'CLOSED') {
    c.setTimer(T_DELACK, now + c.layer.config.delayedAckTimeout);
  }
}
