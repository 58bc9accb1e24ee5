/**
 * Send-buffer autotuning (config.sndBufAuto, profile sendBufferAutotuning): a bulk sender's
 * buffer grows with its window, so the buffer does not cap the flight below what the path
 * and the peer allow. Runs in the output step after an ACK that freed room a writer was
 * waiting for (Tcb.sndBufCheck; input.ts outputAfterInput), and only for a connection
 * whose SO_SNDBUF nobody set (Tcb.sndBufLocked: Linux SOCK_SNDBUF_LOCK; FreeBSD clears
 * SB_AUTOSIZE). The grown size lives in the ring's limit alone.
 *
 * Deviation: a SO_SNDBUF given at connect or listen that equals the default does not stop
 * autotuning (setsockopt on a connection does), and getsockopt(SO_SNDBUF) reports the size
 * set, not the grown one.
 */
import { sndSpaceReady } from './buffers.ts';
import { EV_WRITABLE } from './events.ts';
import type { Tcb } from './tcb.ts';

/** FreeBSD net.inet.tcp.sendbuf_inc (tcp_output.c V_tcp_autosndbuf_inc). */
const FREEBSD_SENDBUF_INC = 8192;
/** Linux TCP_INIT_CWND: the window tcp_sndbuf_expand sizes for at least. */
const INIT_CWND_SEGS = 10;

/** Grows `c`'s send buffer when its profile's rule says so (see the file comment). */
export function tuneSendBuffer(c: Tcb): void {
  c.sndBufCheck = false;
  const cfg = c.layer.config;
  const buf = c.sndBuf;
  if (cfg.sndBufAuto === 'none' || c.sndBufLocked || buf.limit >= cfg.maxSndBuf) return;
  const cwnd = c.cc.cwnd;
  let want: number;
  if (cfg.sndBufAuto === 'linux-sndbuf-expand') {
    // tcp_should_expand_sndbuf: not under memory pressure, not when the flight fills cwnd
    // (then cwnd, not the buffer, is the limit).
    if (c.layer.memory.underPressure || c.flight + c.mss > cwnd) return;
    // tcp_sndbuf_expand: room for twice the window ("Fast Recovery (RFC 5681 3.2): Cubic
    // needs 1.7 factor, rounded to 2 to include extra cushion (application might react
    // slowly to EPOLLOUT)"), in segments of at least TCP_INIT_CWND and reordering + 1.
    // Deviation: Linux counts each segment's skb truesize (MSS + headers, rounded to a power
    // of two, about 3 MSS at MSS 1448); this buffer holds payload bytes, so twice the window.
    const segs = Math.max(Math.ceil(cwnd / c.mss), INIT_CWND_SEGS, c.reordering + 1);
    want = 2 * segs * c.mss;
  } else {
    // FreeBSD tcp_output (SB_AUTOSIZE): "the socket buffer is nearly full (7/8) and the
    // window could take all of it" (snd_wnd / 4 * 5 >= sb_hiwat, sbused >= sb_hiwat / 8 * 7,
    // sendwin >= sbused - in flight): grow by sendbuf_inc. Evaluated after this output step.
    const used = buf.length;
    if (
      (c.snd.wnd / 4) * 5 < buf.limit ||
      used < (buf.limit / 8) * 7 ||
      Math.min(c.snd.wnd, cwnd) < used - c.flight
    )
      return;
    want = buf.limit + FREEBSD_SENDBUF_INC;
  }
  if (want <= buf.limit) return;
  buf.limit = Math.min(want, cfg.maxSndBuf);
  // sk_stream_write_space after tcp_new_space: the writer hears of the new room (the rule
  // of sender.ts newAck, against the grown limit).
  if (c.wantWritable && sndSpaceReady(buf, cfg.sndLowat)) {
    c.wantWritable = false;
    c.pending |= EV_WRITABLE;
  }
}
