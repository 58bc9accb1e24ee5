/**
 * What to send next (RFC 9293 §3.8.6, RFC 5681/6675/6582 for the congestion and
 * recovery window). Every segment of a connection leaves through `emit`.
 */
import type { IpAddress } from '../wire/address.ts';
import {
  type SackBlock,
  TCP_ACK,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  type TcpOptions,
  type TcpRepr,
} from '../wire/tcp.ts';
import { sndSpaceReady } from './buffers.ts';
import { ccContext } from './cc.ts';
import { ECN_NOT_ECT, ecnForSegment, ecnSynFlags } from './ecn.ts';
import type { TcpEnv, TcpIpFields } from './env.ts';
import { EV_WRITABLE } from './events.ts';
import type { TcpHost } from './host.ts';
import { prrTransmitted } from './prr.ts';
import { gsoEndAt, gsoPacketEnd, gsoSegs, pushMarked } from './push.ts';
import { rackEnabled, rackPipe, rackTransmitted } from './rack.ts';
import { recoveryCwnd, recoveryNextSeg, recoveryPipe, sackRecovering } from './recovery.ts';
import { type Seq, seqAdd, seqGt, seqLe, seqLt, seqMax, seqSub } from './seq.ts';
import { canReceiveData, isHandshaking, isUnconnected } from './state.ts';
import { T_DELACK, T_PACE, T_PERSIST, T_REO, type Tcb } from './tcb.ts';
import { scheduleLossProbe } from './tlp.ts';
import { undoRetransmitted } from './undo.ts';

const NO_OPTIONS: TcpOptions = Object.freeze({});

/** Timestamp clock: milliseconds (RFC 7323 §5.4 allows 1 ms..1 s per tick) plus a per-connection offset. */
export function tsNow(c: Tcb): number {
  return (Math.floor(c.layer.env.clock.now() / 1000) + c.tsOffset) >>> 0;
}

/** Bytes of TCP options on a non-SYN segment with `sackBlocks` SACK blocks. */
function optionBytes(c: Tcb, sackBlocks: number): number {
  return (c.tsOk ? 12 : 0) + (sackBlocks > 0 ? 4 + 8 * sackBlocks : 0);
}

/** The timestamps of a segment that carries no other option (dataOptions lends it). */
const tsScratch = { tsVal: 0, tsEcr: 0 };
const tsOnlyScratch: TcpOptions = { timestamps: tsScratch };

/**
 * Options for a non-SYN segment (timestamps, SACK blocks while we hold out-of-order data).
 * The common case, timestamps alone, is one object reused for every segment: the options
 * are lent to env.output with the segment, which writes them out before it returns.
 */
function dataOptions(c: Tcb): TcpOptions {
  const max = c.tsOk ? 3 : 4;
  let sack = c.sackOk && c.hasReasm ? c.reasm.sackBlocks(max) : undefined;
  const dsack = c.dsack;
  if (dsack !== undefined) {
    // RFC 2883 §4: the duplicate goes first, in the next ACK only, then the usual blocks.
    c.dsack = undefined;
    if (c.sackOk) sack = [dsack, ...(sack ?? []).slice(0, max - 1)];
  }
  if (!sack || sack.length === 0) {
    if (!c.tsOk) return NO_OPTIONS;
    tsScratch.tsVal = tsNow(c);
    tsScratch.tsEcr = c.tsRecent;
    return tsOnlyScratch;
  }
  const o: { timestamps?: { tsVal: number; tsEcr: number }; sack?: readonly SackBlock[] } = {};
  if (c.tsOk) o.timestamps = { tsVal: tsNow(c), tsEcr: c.tsRecent };
  if (sack && sack.length > 0) o.sack = sack;
  return o;
}

/** Options for our SYN or SYN-ACK (RFC 9293 §3.7.1 MSS, RFC 7323, RFC 2018). */
function synOptions(c: Tcb): TcpOptions {
  const cfg = c.layer.config;
  const synAck = c.state === 'SYN-RECEIVED';
  const o: {
    mss: number;
    windowScale?: number;
    sackPermitted?: boolean;
    timestamps?: { tsVal: number; tsEcr: number };
    fastOpen?: TcpOptions['fastOpen'];
  } = { mss: c.rcvMss };
  // RFC 7323 §2.2: a SYN-ACK carries the option only if the SYN did.
  if (synAck ? c.wsOk : cfg.windowScaling) o.windowScale = c.rcvWscale;
  if (synAck ? c.sackOk : cfg.sack) o.sackPermitted = true;
  if (synAck ? c.tsOk : cfg.timestamps) o.timestamps = { tsVal: tsNow(c), tsEcr: synAck ? c.tsRecent : 0 };
  // RFC 7413 §4.1.1: the cookie or cookie request, on the first SYN / SYN-ACK only (Linux
  // tcp_send_syn_data: "Exclude Fast Open option for SYN retries"; SYN-ACK retransmissions
  // carry none either).
  if (c.tfoOption) o.fastOpen = c.tfoOption;
  return o;
}

/**
 * The window to advertise, with receiver SWS avoidance (RFC 9293 §3.8.6.2.2: "keep
 * RCV.NXT+RCV.WND fixed until the reduction satisfies: RCV.BUFF - RCV.USER - RCV.WND >=
 * min( Fr * RCV.BUFF, Eff.snd.MSS )") and never shrinking the offered right edge.
 * Returns the raw 16-bit field and records rcv.wnd / rcvAdv.
 */
function selectWindow(c: Tcb): number {
  const s = c.rcvWscale;
  // Under memory pressure the window grows by little at a time (memory.ts windowRoom).
  const space = c.rcvDiscard ? c.rcvBuf.limit : Math.min(c.rcvBuf.space, c.layer.memory.windowRoom(c.rcvMss));
  const cur = Math.max(0, seqSub(c.rcvAdv, c.rcv.nxt));
  let win = cur;
  // The largest window the field can carry. When free space reaches it, the window is not
  // limited by the buffer and offering all of it is no silly-window increment: FreeBSD and
  // Linux recompute min(free space, 65535 << shift) for every segment (conformance T5).
  const maxWin = 0xffff << s;
  const target = Math.min(space, maxWin);
  // config.advertiseFreeSpace (FreeBSD tcp_output): every segment offers the free space, and
  // receiver SWS avoidance only decides when a pure window update is due (windowUpdateDue).
  if (
    target > cur &&
    (c.layer.config.advertiseFreeSpace ||
      target === maxWin ||
      target - cur >= Math.min(c.rcvBuf.limit >> 1, c.rcvMss))
  )
    win = target;
  let field = win >>> s;
  // The shift truncates: round up rather than seem to shrink the offered edge (as Linux
  // does), but never past the free space rounded up to one granule. Rounding `cur` up on
  // every ACK would ratchet the edge ever further beyond the buffer (RFC 7323 Appendix F);
  // past that bound the field is rounded down instead, and data up to the edge offered
  // earlier (rcvAdv) is still accepted. The buffer so overshoots by less than 1 << shift.
  if (field << s < cur && (field + 1) << s <= space + (1 << s) - 1) field++;
  if (field > 0xffff) field = 0xffff;
  const wnd = field << s;
  c.rcv.wnd = wnd;
  const edge = seqAdd(c.rcv.nxt, wnd);
  if (seqGt(edge, c.rcvAdv)) c.rcvAdv = edge;
  return field;
}

/** Whether reading freed enough space that the peer should hear about it now. */
export function windowUpdateDue(c: Tcb): boolean {
  const st = c.state;
  if (!canReceiveData(st)) return false;
  if (c.finReceived) return false;
  const cur = Math.max(0, seqSub(c.rcvAdv, c.rcv.nxt));
  const space = Math.min(c.rcvBuf.space, 0xffff << c.rcvWscale);
  return space - cur >= Math.min(c.rcvBuf.limit >> 1, 2 * c.rcvMss);
}

/**
 * Hands one segment of this connection to IP. `gsoSize`: a super-segment of several segments
 * of that many data bytes (see sendDataAt), counted as the segments it stands for.
 */
function emit(c: Tcb, seqNo: Seq, ctl: number, payload: Uint8Array, options: TcpOptions, gsoSize = 0): void {
  let flags = ctl;
  const layer = c.layer;
  let window: number;
  if (flags & TCP_SYN) {
    // RFC 7323 §2.2: "The window field in a segment where the SYN bit is set ... MUST NOT be scaled."
    window = Math.min(c.rcvBuf.space, 0xffff);
    c.rcv.wnd = window;
    c.rcvAdv = seqAdd(c.rcv.nxt, window);
  } else {
    window = selectWindow(c);
  }
  // RFC 3168 ECN: the flags and IP field of a non-SYN segment (a SYN's are sendSyn's).
  let ipEcn = ECN_NOT_ECT;
  if (!(flags & TCP_SYN) && c.ecnOk) {
    ecnFlags.flags = flags;
    ipEcn = ecnForSegment(c, seqNo, payload.length, ecnFlags);
    flags = ecnFlags.flags;
  }
  const hasAck = (flags & TCP_ACK) !== 0;
  // One repr reused for every segment: env.output builds the segment before it returns.
  const repr = reprScratch;
  repr.srcPort = c.local.port;
  repr.dstPort = c.remote.port;
  repr.seq = seqNo;
  repr.ack = hasAck ? c.rcv.nxt : 0;
  repr.flags = flags;
  repr.window = window;
  repr.options = options;
  if (hasAck) {
    // An ACK of data spends one quick ACK (Linux tcp_dec_quickack_mode).
    if (c.quickAcks > 0 && c.rcv.nxt !== c.lastAckSent) c.quickAcks--;
    c.lastAckSent = c.rcv.nxt;
    c.delackSegs = 0;
    c.ackNow = false;
    c.clearTimer(T_DELACK);
  }
  const segs = gsoSize > 0 ? Math.ceil(payload.length / gsoSize) : 1;
  c.stats.segsOut += segs;
  layer.stats.segmentsOut += segs;
  c.lastSend = layer.env.clock.now();
  if (gsoSize > 0)
    layer.env.output(c.local.address, c.remote.address, repr, payload, c.opts, undefined, ipEcn, gsoSize);
  else
    layer.env.output(
      c.local.address,
      c.remote.address,
      repr,
      payload,
      c.opts,
      layer.udpEncap(c.opts.udpEncapsPort),
      ipEcn,
    );
}

/** The header emit lends to env.output (a TcpRepr with its fields writable). */
const reprScratch: { -readonly [K in keyof TcpRepr]: TcpRepr[K] } = {
  srcPort: 0,
  dstPort: 0,
  seq: 0,
  ack: 0,
  flags: 0,
  window: 0,
  urgentPointer: 0,
  options: NO_OPTIONS,
};

/** The flags ecnForSegment adds to (one object: emit is synchronous). */
const ecnFlags = { flags: 0 };

const EMPTY = new Uint8Array(0);

/**
 * Where a segment's payload is assembled when it wraps around the send ring. The payload
 * is lent to env.output for one call (which copies it), so one buffer serves every
 * connection: a per-connection buffer of MSS bytes cost an allocation per connection
 * (64 KiB each over loopback) though most payloads never wrap.
 */
let wrapScratch = new Uint8Array(0);

/** Payloads of at most this many bytes are lent from smallPayload (sendDataAt). */
const SMALL_PAYLOAD = 16;
/** smallPayload[n]: an n-byte buffer a payload of n bytes is copied into (lent to env.output). */
const smallPayload: Uint8Array[] = (() => {
  const all = new Uint8Array(4096);
  const views: Uint8Array[] = [];
  // Views of one buffer too large for V8's heap, so a view is never moved off it later.
  for (let n = 0; n <= SMALL_PAYLOAD; n++) views.push(all.subarray(0, n));
  return views;
})();

/**
 * The sequence number for a segment without text (ACK, RST): RFC 9293's SND.NXT is our
 * highest sequence sent (sndMax), not snd.nxt pulled back for a go-back-N retransmission:
 * after an RTO the peer may have received (and acknowledged, in an ACK we lost) beyond
 * snd.nxt, and would find <SEQ=snd.nxt> below RCV.NXT and drop it unread, so ACKs could
 * never get through while both sides retransmit (an ACK war). Like Linux's
 * tcp_acceptable_seq: never beyond the peer's window (SND.UNA + SND.WND, zero-window probes).
 */
export function acceptableSeq(c: Tcb): Seq {
  const end = seqAdd(c.snd.una, c.snd.wnd);
  return seqLt(end, c.sndMax) && !seqLt(end, c.snd.nxt) ? end : c.sndMax;
}

/**
 * The ACK tcpOutput sends: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> (SND.NXT: see acceptableSeq).
 * Under config.finOnAcks, while our FIN is sent and unacknowledged and no retransmission
 * has pulled SND.NXT below it, the FIN goes again with it, <SEQ=FIN><CTL=FIN,ACK>, as
 * FreeBSD's tcp_output builds every segment in FIN-WAIT-1, CLOSING and LAST-ACK.
 */
export function sendAck(c: Tcb): void {
  if (c.layer.config.finOnAcks && c.finSent && !c.finAcked && !seqLt(c.snd.nxt, c.finSeq)) {
    emit(c, c.finSeq, TCP_FIN | TCP_ACK, EMPTY, dataOptions(c));
    return;
  }
  sendBareAck(c);
}

/**
 * <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> whatever the profile: the replies FreeBSD builds with
 * tcp_respond rather than tcp_output (challenge ACKs).
 */
export function sendBareAck(c: Tcb): void {
  emit(c, acceptableSeq(c), TCP_ACK, EMPTY, dataOptions(c));
}

/** An ACK with a given sequence number (keepalive: SND.UNA-1). */
export function sendAckAt(c: Tcb, s: Seq): void {
  emit(c, s, TCP_ACK, EMPTY, dataOptions(c));
}

/** <SEQ=s><CTL=RST> from this connection. */
export function sendRst(c: Tcb, s: Seq): void {
  c.layer.stats.rstSent++;
  const opts = c.tsOk ? dataOptions(c) : NO_OPTIONS;
  const layer = c.layer;
  layer.stats.segmentsOut++;
  layer.env.output(
    c.local.address,
    c.remote.address,
    {
      srcPort: c.local.port,
      dstPort: c.remote.port,
      seq: s,
      ack: 0,
      flags: TCP_RST,
      window: 0,
      urgentPointer: 0,
      options: opts,
    },
    EMPTY,
    c.opts,
    layer.udpEncap(c.opts.udpEncapsPort),
  );
}

/**
 * The reset of RFC 9293 §3.10.5 ABORT, "<SEQ=SND.NXT><CTL=RST>", sent with the ACK bit and
 * RCV.NXT as Linux (tcp_send_active_reset) and FreeBSD (tcp_drop) send it. The extra ACK
 * changes nothing for the peer, which accepts a reset by its sequence number alone
 * (§3.10.7.4, RFC 5961 §3.2), and it carries our window like any other segment.
 */
export function sendAbortRst(c: Tcb): void {
  c.layer.stats.rstSent++;
  emit(c, acceptableSeq(c), TCP_RST | TCP_ACK, EMPTY, c.tsOk ? dataOptions(c) : NO_OPTIONS);
}

/**
 * RST in reply to a segment that has no connection (RFC 9293 §3.10.7.1), or that a
 * connection or listener refuses (`fields`: its IP_TOS / IP_TTL, as FreeBSD's tcp_respond
 * takes them from the inpcb): "If the ACK
 * bit is off, sequence number zero is used, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
 * If the ACK bit is on, <SEQ=SEG.ACK><CTL=RST>."
 */
export function replyRst(
  layer: TcpHost,
  local: IpAddress,
  remote: IpAddress,
  r: TcpRepr,
  segLen: number,
  tunnelPort = 0,
  fields?: TcpIpFields,
): void {
  if (r.flags & TCP_RST) return;
  const env: TcpEnv = layer.env;
  // A tunnelled segment is answered through the tunnel, to the UDP port it came from.
  const udp = layer.udpEncap(tunnelPort);
  layer.stats.rstSent++;
  layer.stats.segmentsOut++;
  if (r.flags & TCP_ACK) {
    env.output(
      local,
      remote,
      {
        srcPort: r.dstPort,
        dstPort: r.srcPort,
        seq: r.ack,
        ack: 0,
        flags: TCP_RST,
        window: 0,
        urgentPointer: 0,
        options: NO_OPTIONS,
      },
      EMPTY,
      fields,
      udp,
    );
  } else {
    env.output(
      local,
      remote,
      {
        srcPort: r.dstPort,
        dstPort: r.srcPort,
        seq: 0,
        ack: (r.seq + segLen) >>> 0,
        flags: TCP_RST | TCP_ACK,
        window: 0,
        urgentPointer: 0,
        options: NO_OPTIONS,
      },
      EMPTY,
      fields,
      udp,
    );
  }
}

/** <SEQ=SEG.ACK><CTL=RST> (or RST+ACK) for a segment the connection refuses: its way back and its IP fields. */
export function refuseSegment(c: Tcb, r: TcpRepr, segLen: number): void {
  replyRst(c.layer, c.local.address, c.remote.address, r, segLen, c.opts.udpEncapsPort ?? 0, c.opts);
}

/** Arms the retransmission timer if it is not running (RFC 6298 §5.1). */
function armRtx(c: Tcb): void {
  if (!c.rtxArmed) c.armRto(c.layer.env.clock.now() + c.rtt.rto);
}

/**
 * Sends one data segment starting at `s` carrying at most `maxLen` bytes (and our FIN if
 * the segment reaches it). Returns the sequence space used (0: nothing to send). `gsoPush`:
 * the segment ends what Linux sends as one GSO packet of more than one segment (push.ts).
 * `gsoMax` (new data only): the largest segment, header included, the route's device takes
 * as one super-segment (TSO); the segment then carries up to that many whole MSS-sized
 * segments' worth (Linux tcp_mss_split_point: whole segments unless it reaches the end of
 * the queued data), sent under one header.
 */
export function sendDataAt(
  c: Tcb,
  s: Seq,
  maxLen: number,
  retransmit: boolean,
  gsoPush = false,
  gsoMax = 0,
): number {
  const options = dataOptions(c);
  const sackN = options.sack?.length ?? 0;
  const optBytes = optionBytes(c, sackN);
  const effMss = c.mss - optBytes;
  const off = seqSub(s, c.sndBufSeq);
  let avail = Math.max(0, c.sndBuf.length - off);
  // MSG_EOR: a segment ends at the end of its record (no two records in one segment).
  if (c.eorMarks !== undefined) avail = Math.min(avail, eorRoom(c, s));
  let len = Math.max(0, Math.min(avail, effMss, maxLen));
  let gsoSize = 0;
  if (gsoMax > 0 && len === effMss && !retransmit && s === c.sndMax) {
    const segs = Math.floor((gsoMax - 20 - optBytes) / effMss);
    if (segs >= 2) {
      let big = Math.min(avail, maxLen, segs * effMss);
      // Short of the end of the queued data, whole segments only: what the windows leave
      // over goes (or waits, by Nagle and SWS avoidance) as a segment of its own. At the end,
      // a partial last segment goes along only where Nagle would let it go after the full
      // ones, in flight by then (Linux tcp_mss_split_point with tcp_nagle_check).
      if (big < avail || !(c.opts.noDelay || c.finQueued)) big -= big % effMss;
      if (big > effMss) {
        len = big;
        gsoSize = effMss;
        c.gsoSegs = Math.ceil(big / effMss);
      }
    }
  }
  const fin = c.finQueued && seqAdd(s, len) === c.finSeq;
  if (len === 0 && !fin) return 0;
  let payload: Uint8Array = EMPTY;
  if (len > 0 && len <= SMALL_PAYLOAD) {
    // A few bytes (request/response): copied into a view kept for that length, no new view.
    payload = smallPayload[len]!;
    c.sndBuf.copyOut(off, len, payload);
  } else if (len > 0) {
    if (wrapScratch.length < len) wrapScratch = new Uint8Array(Math.max(len, 2048));
    payload = c.sndBuf.peek(off, len, wrapScratch);
  }
  let flags = TCP_ACK;
  if (fin) flags |= TCP_FIN;
  // RFC 1122 §4.2.2.2: PSH on the segment that empties the send buffer (FreeBSD), or, as
  // Linux marks it (config.pushWriteEnd, push.ts), on the one that ends a write, first sent
  // or resent. Like Linux (config.pushBurstEnd) also on the last segment of each packet of
  // more than one segment (__tcp_transmit_skb's PSH on GSO packets): a super-segment, the
  // last segment of such a packet of new data (gsoPush), and a retransmission that ends such
  // a packet resent whole (a run of resent segments reaching its end: Linux resends the skb).
  const cfg = c.layer.config;
  const segEnd = seqAdd(s, len);
  const gso =
    cfg.pushBurstEnd &&
    (gsoSize > 0 || gsoPush || (retransmit && rtxRunEnd === s && len > 0 && gsoEndAt(c, segEnd)));
  if (
    len > 0 &&
    (gso || (cfg.pushWriteEnd && c.pshMarks !== undefined ? pushMarked(c, s, len) : len === avail))
  )
    flags |= TCP_PSH;
  if (gso && !retransmit && !seqLt(s, c.sndMax)) gsoPacketEnd(c, segEnd);
  if (retransmit || seqLt(s, c.sndMax)) {
    // RFC 6298 §3 (Karn): "RTT samples MUST NOT be made using segments that were retransmitted".
    c.rttTiming = false;
    c.stats.retransmits++;
    c.layer.stats.retransmits++;
    undoRetransmitted(c, s, len);
  } else if (!c.tsOk && !c.rttTiming && len > 0) {
    c.rttTiming = true;
    c.rttSeq = s;
    c.rttStart = c.layer.env.clock.now();
  }
  emit(c, s, flags, payload, options, gsoSize);
  if (len > 0) c.lastDataSend = c.lastSend;
  const used = len + (fin ? 1 : 0);
  // The per-segment transmit record (RFC 8985) and PRR's prr_out (RFC 6937); a super-segment
  // is recorded as the segments it stands for.
  if (c.sackOk) {
    if (gsoSize > 0) {
      let at = s;
      for (let left = len; left > 0; ) {
        const n = Math.min(left, gsoSize);
        left -= n;
        const u = left === 0 && fin ? n + 1 : n; // (a FIN rides with the last)
        rackTransmitted(c, at, u, c.lastSend);
        at = seqAdd(at, u);
      }
    } else rackTransmitted(c, s, used, c.lastSend);
  }
  prrTransmitted(c, used);
  const end = seqAdd(s, used);
  if (seqGt(end, c.sndMax)) {
    c.sndMax = end;
    c.tailSeq = s;
  }
  armRtx(c);
  return used;
}

/** Bytes from `s` to the end of its MSG_EOR record (Infinity: no record end ahead); drops ends already acknowledged. */
function eorRoom(c: Tcb, s: Seq): number {
  const marks = c.eorMarks!;
  while (marks.length > 0 && seqLe(marks[0]!, c.snd.una)) marks.shift();
  if (marks.length === 0) {
    c.eorMarks = undefined;
    return Number.POSITIVE_INFINITY;
  }
  for (const m of marks) if (seqGt(m, s)) return seqSub(m, s);
  return Number.POSITIVE_INFINITY;
}

/** Sends our SYN (active open) or SYN-ACK (passive / simultaneous open) at ISS. */
export function sendSyn(c: Tcb): void {
  const synAck = c.state !== 'SYN-SENT';
  const retransmit = seqGt(c.sndMax, c.iss);
  const flags = (synAck ? TCP_SYN | TCP_ACK : TCP_SYN) | ecnSynFlags(c, synAck, retransmit);
  if (retransmit) {
    c.rttTiming = false; // Karn
    c.stats.retransmits++;
    c.layer.stats.retransmits++;
  } else if (!c.tsOk) {
    c.rttTiming = true;
    c.rttSeq = c.iss;
    c.rttStart = c.layer.env.clock.now();
  }
  // RFC 7413 §3: a Fast Open client's first SYN carries the data queued for it (tfo.ts); a
  // retransmitted SYN is a regular one, the data follows the handshake.
  const dataLen = !synAck && !retransmit ? c.tfoSynData : 0;
  // FreeBSD's tcp_output asks tcp_mssopt for every SYN: the option follows what the path's MTU
  // allows now (config.mssOptionPerSyn), e.g. after a Packet Too Big.
  if (c.layer.config.mssOptionPerSyn) {
    const m = c.layer.routeMss(c.remote.address, c.opts);
    c.rcvMss = c.opts.maxSeg !== undefined ? Math.min(m, c.opts.maxSeg) : m;
  }
  let payload: Uint8Array = EMPTY;
  if (dataLen > 0) {
    if (wrapScratch.length < dataLen) wrapScratch = new Uint8Array(Math.max(dataLen, 2048));
    payload = c.sndBuf.peek(0, dataLen, wrapScratch);
  }
  emit(c, c.iss, flags, payload, synOptions(c));
  c.tfoOption = undefined;
  if (dataLen > 0) c.lastDataSend = c.lastSend;
  c.snd.nxt = seqAdd(c.iss, 1 + dataLen);
  if (seqGt(c.snd.nxt, c.sndMax)) c.sndMax = c.snd.nxt;
  armRtx(c);
}

/** The pacing rate in bytes/s (0: not paced): the controller's, capped by SO_MAX_PACING_RATE. */
export function pacingRate(c: Tcb): number {
  const user = c.opts.pacingRate ?? 0;
  const cc = c.cc.pacingRate ?? 0;
  if (cc > 0 && user > 0) return Math.min(cc, user);
  return cc > 0 ? cc : user;
}

/** The congestion window in use (NewReno recovery inflates it, RFC 6582). */
function cwnd(c: Tcb): number {
  return c.cc.cwnd + c.nrInflate;
}

/**
 * The data in flight cwnd limits outside SACK recovery. With RACK (Linux) it is
 * tcp_packets_in_flight: SACKed data has left the network, so every ACK that SACKs a segment
 * clocks out a new one before any loss is marked (Linux's Disorder state), whatever window
 * the ACK carries (a receiver holding out-of-order data advertises a changing window, and such
 * an ACK is no RFC 5681 duplicate for limited transmit). Else SND.NXT - SND.UNA.
 */
function openFlight(c: Tcb): number {
  return rackEnabled(c) && c.snd.nxt === c.sndMax ? rackPipe(c) : seqSub(c.snd.nxt, c.snd.una);
}

/**
 * Sends whatever the windows, Nagle and SWS avoidance allow, then an ACK if one is owed.
 */
export function tcpOutput(c: Tcb): void {
  const st = c.state;
  if (isUnconnected(st)) return;
  if (isHandshaking(st)) {
    // TCP_FASTOPEN_CONNECT: the SYN waits for the first write's data (tfo.ts).
    if (c.tfoDeferred) return;
    if (c.snd.nxt === c.iss) sendSyn(c);
    else if (c.ackNow && st === 'SYN-RECEIVED') sendSyn(c);
    // RFC 7413 §4.2.2: a Fast Open server may send data before the handshake completes (Linux
    // tcp_sendmsg in TCP_SYN_RECV for a passive Fast Open), once its SYN-ACK is out.
    if (!(c.tfoChild && st === 'SYN-RECEIVED' && c.snd.nxt !== c.iss && c.rtxCount === 0)) return;
  }
  if (st === 'TIME-WAIT') {
    if (c.ackNow) sendAck(c);
    return;
  }
  let sent = false;
  if (c.sndMax === c.snd.una && c.sndBuf.length > seqSub(c.snd.nxt, c.sndBufSeq)) {
    // RFC 5681 §4.1: after an idle period longer than the RTO, restart from the restart window
    // (Linux net.ipv4.tcp_slow_start_after_idle, on by default; config.slowStartAfterIdle).
    // Idle since data last went out (Linux lsndtime; a bare ACK is no transmission here).
    const cfg = c.layer.config;
    const idle = c.layer.env.clock.now() - c.lastDataSend;
    if (c.cc.onIdle && cfg.slowStartAfterIdle && idle > c.rtt.rto)
      c.cc.onIdle(ccContext(c), idle, cfg.idleCwndDecay ? c.rtt.rto : undefined);
    // Transmission starts with nothing in flight (Linux CA_EVENT_TX_START).
    c.cc.onTxStart?.(ccContext(c), c.appLimitedUntil !== 0);
  }
  // Pacing (SO_MAX_PACING_RATE, or the controller's rate, the lower of the two, as Linux caps
  // sk_pacing_rate by sk_max_pacing_rate): at most a burst of segments now, then the next
  // burst when these bytes have taken their time at the rate.
  const rate = pacingRate(c);
  const now = rate > 0 ? c.layer.env.clock.now() : 0;
  const burstMax =
    rate > 0 ? Math.max(1, c.cc.pacingBurst ?? c.opts.pacingBurst ?? 2) : Number.POSITIVE_INFINITY;
  let burstSegs = 0;
  let burstBytes = 0;
  let held = false;
  const sackRec = sackRecovering(c);
  if (sackRec) {
    // A controller that paces (BBR) paces everything, recovery's sends too, as Linux's pacing
    // applies to every transmission; SO_MAX_PACING_RATE alone leaves retransmissions unpaced.
    if (rate > 0 && (c.cc.pacingRate ?? 0) > 0) {
      const pace: Pace = { segs: 0, bytes: 0, held: false };
      sent = sackRecoverySend(c, { pace, now, burstMax });
      burstSegs = pace.segs;
      burstBytes = pace.bytes;
      held = pace.held;
    } else sent = sackRecoverySend(c, undefined);
  }
  // Super-segments (TSO) when the route's device takes them; not while pacing (each burst is
  // a few segments) nor through a UDP tunnel. Asked once, when there is more than a segment to send.
  let gsoMax = -1;
  // Segments per GSO packet (push.ts gsoSegs), worked out when a packet may hold more than one
  // (-1 until then; 0: no GSO packets under this profile).
  let pktMax = c.layer.config.pushBurstEnd ? -1 : 0;
  let pktSegs = 0;
  for (;;) {
    const off = seqSub(c.snd.nxt, c.sndBufSeq);
    let avail = Math.max(0, c.sndBuf.length - off);
    const finPending = c.finQueued && seqSub(c.finSeq, c.snd.nxt) >= 0;
    if (avail === 0 && !finPending) break;
    // MSG_EOR: a segment stops at its record's end.
    if (c.eorMarks !== undefined) avail = Math.min(avail, eorRoom(c, c.snd.nxt));
    // F-RTO step 2b (frto.ts): the data the timeout marked lost is not in flight, only the new
    // data sent since (Linux counts lost segments out of tcp_packets_in_flight).
    const inFlight = seqSub(c.snd.nxt, c.snd.una);
    const ccFlight = c.frtoNewFrom === undefined ? openFlight(c) : seqSub(c.snd.nxt, c.frtoNewFrom);
    const usable = Math.max(0, Math.min(c.snd.wnd - inFlight, (sackRec ? 0 : cwnd(c)) - ccFlight));
    let len = Math.min(avail, usable);
    if (len > 0) {
      // RFC 9293 §3.8.6.2.1 sender SWS avoidance + Nagle (RFC 896): send if a full segment,
      // or all queued data when nothing is outstanding (or TCP_NODELAY), or at least half
      // the largest window the peer ever offered, or when retransmitting.
      const effMss = c.mss - optionBytes(c, 0);
      // A Fast Open server's SYN-ACK is no data in flight (Linux sends it from the request, not
      // the child's queue), so its first write is not held by Nagle.
      const idle = c.sndMax === c.snd.una || (c.tfoChild && c.sndMax === seqAdd(c.iss, 1));
      // TCP_CORK and MSG_MORE (Linux TCP_NAGLE_CORK): only full segments, the FIN's and
      // retransmissions leave; the rest waits to be pushed. A record's end (MSG_EOR) is as the
      // end of the queued data to Nagle (Linux: the EOR skb is complete, Nagle still applies).
      const corked = (c.opts.cork === true || c.moreHold) && !(c.finQueued && finPending);
      const ok =
        len >= effMss ||
        (!corked &&
          ((len === avail && (idle || c.opts.noDelay || (c.finQueued && finPending))) ||
            (c.maxSndWnd > 0 && len >= c.maxSndWnd >> 1))) ||
        seqLt(c.snd.nxt, c.sndMax);
      if (!ok) len = 0;
    }
    // Our FIN goes once every byte before it has gone, even into a closed window.
    if (len === 0 && !(finPending && avail === 0)) break;
    if (held || (rate > 0 && (now < c.paceNext || burstSegs >= burstMax))) {
      held = true;
      break;
    }
    if (gsoMax < 0 && len > c.mss) {
      const env = c.layer.env;
      gsoMax =
        rate === 0 && !c.opts.udpEncapsPort && env.gsoMaxSegment !== undefined
          ? env.gsoMaxSegment(c.local.address, c.remote.address)
          : 0;
      // Super-segments to a device that gathers: their payloads go from a shared send ring.
      if (gsoMax > 0 && !c.sndBuf.shared && env.txGather?.(c.local.address, c.remote.address))
        c.sndBuf.share();
    }
    // Linux's GSO packets (push.ts gsoSegs): this segment ends one when it is the packet's
    // last by size, takes all the windows allow now, reaches a PSH mark (an skb's end), or
    // leaves a partial segment behind that Nagle holds.
    let gsoPush = false;
    if (pktMax !== 0 && gsoMax <= 0 && !seqLt(c.snd.nxt, c.sndMax)) {
      const effSeg = c.mss - optionBytes(c, 0);
      const seg = Math.min(len, effSeg);
      const rest = len - seg;
      pktSegs++;
      if (
        rest === 0 ||
        pktSegs >= (pktMax < 0 ? (pktMax = gsoSegs(c, effSeg, rate)) : pktMax) ||
        (rest < seg &&
          !(
            rest === avail - seg &&
            (c.opts.noDelay || c.finQueued) &&
            !(c.opts.cork === true || c.moreHold)
          )) ||
        (c.pshMarks !== undefined && pushMarked(c, c.snd.nxt, seg))
      ) {
        gsoPush = pktSegs >= 2;
        pktSegs = 0;
      }
    }
    const used = sendDataAt(c, c.snd.nxt, len, false, gsoPush, Math.max(0, gsoMax));
    if (used === 0) break;
    c.snd.nxt = seqAdd(c.snd.nxt, used);
    sent = true;
    burstSegs++;
    burstBytes += used;
  }
  if (rate > 0) {
    // This burst's bytes take their time at the rate before the next may start; data held
    // back leaves from the pacing timer.
    if (burstSegs > 0) {
      const burstTime = Math.ceil((burstBytes * 1e6) / rate);
      // A burst that left late (a timer's granularity, a busy event loop) keeps the schedule:
      // lateness up to one burst's time or 2 ms is made up by the bursts that follow, so
      // the rate holds (Linux keeps per-flow departure times the same way, tcp_wstamp_ns).
      const late = now - c.paceNext;
      const base = c.paceNext > 0 && late >= 0 && late <= Math.max(burstTime, 2000) ? c.paceNext : now;
      c.paceNext = base + burstTime;
    }
    if (held && !c.timerArmed(T_PACE)) c.setTimer(T_PACE, Math.max(c.paceNext, now + 1));
  }
  // TCP_NOTSENT_LOWAT: a writer waiting for the unsent bytes to drain hears of it once fewer
  // than half the mark are left (Linux tcp_poll's wake factor) and the buffer has room.
  if (
    sent &&
    c.wantWritable &&
    c.notSent * 2 < c.notSentLowat &&
    sndSpaceReady(c.sndBuf, c.layer.config.sndLowat)
  ) {
    c.wantWritable = false;
    c.pending |= EV_WRITABLE;
    c.flush();
  }
  // Linux tcp_write_xmit: "is_cwnd_limited |= (tcp_packets_in_flight(tp) >= tcp_snd_cwnd(tp))",
  // in packets: here, no room left in cwnd for another full segment.
  const cwndLimited = openFlight(c) + c.mss - optionBytes(c, 0) > cwnd(c);
  if (sent || cwndLimited) cwndValidate(c, cwndLimited);
  if (!sent && c.ackNow) sendAck(c);
  // RFC 8985 §7.2: new data went out, so (re)start the loss probe timer.
  else if (sent) scheduleLossProbe(c, false);
  armPersistIfStalled(c);
}

/**
 * Linux tcp_cwnd_validate's bookkeeping (RFC 7661 §4.2 asks the same question, "is the
 * sender cwnd-limited?"): remember for the current window of data whether cwnd limited it,
 * else the most bytes that were out. The sender lets cwnd grow only when cwnd-limited (sender.ts).
 */
function cwndValidate(c: Tcb, limited: boolean): void {
  const out = seqSub(c.sndMax, c.snd.una);
  if (!seqLt(c.snd.una, c.cwndUsageSeq) || limited || (!c.cwndLimited && out > c.maxFlightOut)) {
    c.cwndLimited = limited;
    c.maxFlightOut = out;
    c.cwndUsageSeq = c.sndMax;
  }
}

/**
 * Zero window (or SWS-withheld data) with nothing in flight: the persist timer probes
 * (RFC 9293 §3.8.6.1) and doubles as the SWS override timer.
 */
function armPersistIfStalled(c: Tcb): void {
  const off = seqSub(c.snd.nxt, c.sndBufSeq);
  if (c.sndBuf.length - off > 0 && c.sndMax === c.snd.una && !c.persistArmed) {
    c.cancelRtx();
    const base = Math.max(c.rtt.rto, c.layer.config.minRto);
    c.setTimer(
      T_PERSIST,
      c.layer.env.clock.now() + Math.min(base * 2 ** c.persistCount, c.layer.config.persistMax),
    );
  }
}

/**
 * RFC 6675 §5 (C): "If cwnd - pipe >= 1 SMSS the sender SHOULD transmit one or more
 * segments": NextSeg() picks lost segments first, then new data.
 */
function sackRecoverySend(c: Tcb, p?: { pace: Pace; now: number; burstMax: number }): boolean {
  let sent = false;
  rtxRunEnd = -1;
  // Room for one more segment: a segment's payload is the MSS less the timestamp option, and
  // PRR's credit comes in what the ACKs delivered, such payloads (Linux counts packets). Against
  // the bare MSS a credit of exactly one segment would send nothing, and a lost retransmission
  // with no new data behind it to reveal it waits for the RTO.
  const segRoom = c.mss - optionBytes(c, 0);
  for (let guard = 0; guard < 4096; guard++) {
    const pipe = recoveryPipe(c);
    if (recoveryCwnd(c) - pipe < segRoom) break;
    if (p && (p.now < c.paceNext || p.pace.segs >= p.burstMax)) {
      p.pace.held = true;
      break;
    }
    const before = c.stats.segsOut;
    const off = seqSub(c.sndMax, c.sndBufSeq);
    const avail = c.sndBuf.length - off;
    const usable = c.snd.wnd - seqSub(c.sndMax, c.snd.una);
    const finPending = c.finQueued && seqSub(c.finSeq, c.sndMax) >= 0;
    const newData = (avail > 0 && usable > 0) || (finPending && avail <= 0);
    // NextSeg rule (1) lost data, else (2) new data, else (3) a not-yet-lost hole.
    const ns = recoveryNextSeg(c, newData);
    if (ns) {
      const used = sendDataAt(c, ns.seq, ns.len, true);
      rtxRunEnd = used > 0 ? seqAdd(ns.seq, used) : -1;
      if (used === 0) break;
      c.highRxt = seqMax(c.highRxt, seqAdd(ns.seq, used));
      // Linux tcp_xmit_retransmit_queue: resending the head restarts the RTO (unless RACK's
      // reordering timer holds it), so the timer runs from the newest copy of the head, not
      // from the last cumulative ACK; a lost retransmission is RACK's to find first.
      if (ns.seq === c.snd.una && !c.timerArmed(T_REO)) c.armRto(c.layer.env.clock.now() + c.rtt.rto);
      sent = true;
      if (p) paced(p.pace, c.stats.segsOut - before, used);
      continue;
    }
    if (!newData) break;
    rtxRunEnd = -1;
    c.snd.nxt = c.sndMax;
    const used = sendDataAt(c, c.sndMax, Math.max(0, Math.min(avail, usable)), false);
    if (used === 0) break;
    c.snd.nxt = seqAdd(c.snd.nxt, used);
    sent = true;
    if (p) paced(p.pace, c.stats.segsOut - before, used);
  }
  rtxRunEnd = -1;
  return sent;
}

/**
 * The end of the segment the running recovery pass resent last (-1: none): a resend that
 * continues it is part of one resent skb (sendDataAt's PSH on a GSO packet resent whole).
 */
let rtxRunEnd: number = -1;

/** What the current paced burst holds. */
interface Pace {
  segs: number;
  bytes: number;
  held: boolean;
}

function paced(p: Pace, segs: number, bytes: number): void {
  p.segs += Math.max(1, segs);
  p.bytes += bytes;
}

/** Retransmits the first unacknowledged segment (fast retransmit, partial ACK, probes). */
export function retransmitFirst(c: Tcb): void {
  const s = c.snd.una;
  const used = sendDataAt(c, s, c.mss, true);
  if (used > 0 && seqGt(seqAdd(s, used), c.highRxt)) c.highRxt = seqAdd(s, used);
}
