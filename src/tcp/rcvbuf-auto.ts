/**
 * Receive-buffer autotuning, "dynamic right-sizing" (config.rcvBufAuto, profile
 * receiveBufferAutotuning; Linux net.ipv4.tcp_moderate_rcvbuf = 1): a bulk receiver's buffer,
 * and with it the window it offers, grows to what the application reads per round trip, so
 * the window does not cap a sender below what the path carries. Linux tcp_rcv_rtt_measure
 * (a receiver-side RTT: the time one offered window of data takes to arrive) and
 * tcp_rcv_space_adjust (per such RTT, at a read: the buffer grows to twice what was read in
 * the last one, more while that grows). Off for a connection whose SO_RCVBUF was set
 * (Tcb.rcvBufLocked: SOCK_RCVBUF_LOCK). The grown size lives in the queue's limit alone.
 *
 * Deviation: Linux also samples the receiver RTT from timestamps (tcp_rcv_rtt_measure_ts);
 * here only the window-based sample is taken, with or without timestamps (the estimate is
 * its minimum, as Linux keeps it without them). The buffer holds payload bytes, so
 * tcp_space_from_win's overhead factor is 1. As for the send buffer (sndbuf-auto.ts), a
 * SO_RCVBUF given at connect or listen that equals the default does not stop autotuning,
 * and getsockopt(SO_RCVBUF) reports the size set, not the grown one.
 */
import { type Seq, seqAdd, seqLt, seqSub } from './seq.ts';
import type { Tcb } from './tcb.ts';

/** Linux TCP_INIT_CWND: tcp_init_buffer_space starts the measure at 10 segments' worth. */
const INIT_SEGS = 10;

/** Where the application has read up to (Linux copied_seq). */
function copiedSeq(c: Tcb): Seq {
  return seqAdd(c.rcv.nxt, -c.rcvBuf.length);
}

/** In-order data arrived (Linux tcp_event_data_recv -> tcp_rcv_rtt_measure). */
export function rcvRttMeasure(c: Tcb): void {
  if (c.rcvBufLocked || !c.layer.config.rcvBufAuto) return;
  const now = c.layer.env.clock.now();
  let s = c.rcvSpace;
  if (s === null) {
    // Deviation: the measure starts once more than the initial space (below) has arrived,
    // not at the handshake: nothing can grow before that, and a connection that carries a
    // few bytes then holds no measure (bench/idle.ts --exchange: memory per connection).
    if (c.stats.bytesReceived <= INIT_SEGS * c.rcvMss) return;
    // tcp_init_buffer_space: rcvq_space.space = min(rcv_wnd, TCP_INIT_CWND * advmss).
    s = c.rcvSpace = {
      rtt: 0,
      rttSeq: c.rcv.nxt,
      rttTime: now,
      space: Math.min(c.rcv.wnd, INIT_SEGS * c.rcvMss),
      seq: copiedSeq(c),
      time: now,
    };
  } else {
    if (seqLt(c.rcv.nxt, s.rttSeq)) return;
    // tcp_rcv_rtt_update with win_dep: "we are only going for a minimum in the
    // non-timestamp case" (a window may take longer than an RTT when the sender is slower).
    const sample = now - s.rttTime || 1;
    if (s.rtt === 0 || sample < s.rtt) s.rtt = sample;
  }
  s.rttSeq = seqAdd(c.rcv.nxt, c.rcv.wnd);
  s.rttTime = now;
}

/** The application read data (Linux tcp_recvmsg -> tcp_rcv_space_adjust). */
export function rcvSpaceAdjust(c: Tcb): void {
  const s = c.rcvSpace;
  if (s === null || s.rtt === 0 || c.rcvBufLocked) return;
  const now = c.layer.env.clock.now();
  if (now - s.time < s.rtt) return;
  const copied = seqSub(copiedSeq(c), s.seq);
  if (copied > s.space) {
    // "copied = bytes received in previous RTT, our base window. To cope with packet losses,
    // we need a 2x factor. To cope with slow start, and sender growing its cwin by 100 % every
    // RTT, we need a 4x factor": twice what was read plus 16 segments of cushion, plus twice
    // that times the growth since the last RTT.
    let win = 2 * copied + 16 * c.rcvMss;
    win += Math.floor((2 * win * (copied - s.space)) / Math.max(1, s.space));
    c.rcvBuf.limit = Math.max(c.rcvBuf.limit, Math.min(win, c.layer.config.maxRcvBuf));
    s.space = copied;
  }
  s.seq = copiedSeq(c);
  s.time = now;
}
