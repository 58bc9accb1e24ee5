/**
 * Option negotiation on the handshake: MSS (RFC 9293 §3.7.1), window scale (RFC 7323 §2),
 * timestamps (RFC 7323 §3), SACK (RFC 2018).
 */
import type { TcpOptions } from '../wire/tcp.ts';
import { ccCreate } from './cc.ts';
import type { Tcb } from './tcb.ts';

const MAX_WSCALE = 14;

/**
 * The window shift we ask for so the whole receive buffer can be offered (RFC 7323 §2.3),
 * for a buffer that may grow to `rcvBuf` (callers pass max(SO_RCVBUF, config.maxRcvBuf)).
 */
export function wantedWscale(rcvBuf: number): number {
  let s = 0;
  while (s < MAX_WSCALE && rcvBuf >>> s > 0xffff) s++;
  return s;
}

/**
 * Negotiates options from the peer's SYN (or SYN-ACK): MSS (RFC 9293 §3.7.1, 536 when
 * absent), window scale (RFC 7323 §2), timestamps (RFC 7323 §3), SACK (RFC 2018).
 * `routeMss`: the route's MSS towards the peer, when the caller has just asked for it.
 */
export function applySynOptions(
  c: Tcb,
  o: TcpOptions,
  weOffered: boolean,
  routeMss = c.layer.routeMss(c.remote.address, c.opts),
): void {
  const cfg = c.layer.config;
  const cap = c.opts.maxSeg ?? Number.POSITIVE_INFINITY;
  // An MSS option of 0 counts as absent, as in Linux (tcp_parse_options: "if (in_mss)").
  c.mss = Math.max(cfg.minMss, Math.min(o.mss || 536, routeMss, cap));
  if (o.windowScale !== undefined && cfg.windowScaling && weOffered) {
    c.wsOk = true;
    // RFC 7323 §2.3: "If a Window Scale option is received with a shift.cnt value larger
    // than 14, the TCP SHOULD log the error but MUST use 14 instead of the specified value."
    c.sndWscale = Math.min(o.windowScale, MAX_WSCALE);
  } else {
    c.wsOk = false;
    c.sndWscale = 0;
    c.rcvWscale = 0;
  }
  if (o.timestamps && cfg.timestamps && weOffered) {
    c.tsOk = true;
    c.tsRecent = o.timestamps.tsVal;
    c.tsRecentAge = c.layer.env.clock.now();
  } else c.tsOk = false;
  c.sackOk = o.sackPermitted === true && cfg.sack && weOffered;
  // An active open's controller exists since connect: its initial window is now in segments
  // of the negotiated MSS (Linux tcp_init_transfer, tcp_init_cwnd). A passive one's is made here.
  if (c.active) c.cc.setInitialMss(c.mss);
  else c.cc = ccCreate(c);
}
