/**
 * One TCP connection as the socket layer sees it: write/read/shutdown/close/abort,
 * options and TCP_INFO, over the TCB (tcb.ts). Segment arrival lives in input.ts, "what to
 * send next" in output.ts, timer expiry in timers.ts.
 */

import type { Instant } from '../time/instant.ts';
import { sndSpaceReady } from './buffers.ts';
import { ccCreate } from './cc.ts';
import type { TcpSocketOptions } from './config.ts';
import type { CongestionName } from './congestion/types.ts';
import { reasonCode, TcpError } from './errors.ts';
import type { TcpInfo } from './info.ts';
import { tcpInfo } from './info-snapshot.ts';
import { armFinWait2, armKeepalive, terminate } from './lifecycle.ts';
import { sendAbortRst, tcpOutput, windowUpdateDue } from './output.ts';
import { markWrite } from './push.ts';
import { rateCheckAppLimited } from './rate.ts';
import { rcvSpaceAdjust } from './rcvbuf-auto.ts';
import { seqAdd, seqSub } from './seq.ts';
import { canQueueFin, canSendData, isHandshaking, isSynchronized, isUnconnected } from './state.ts';
import { Tcb } from './tcb.ts';
import { tfoDeferredWrite } from './tfo.ts';
import { runTimers } from './timers.ts';

export {
  EV_CLOSE,
  EV_END,
  EV_ESTABLISHED,
  EV_READABLE,
  EV_WRITABLE,
  type TcpConnectionEvents,
} from './events.ts';
export type { TcpEndpoint } from './host.ts';
export type { TcpConnStats } from './tcb.ts';

export class TcpConnection extends Tcb {
  /** @internal */
  protected override timerFired(now: Instant): void {
    runTimers(this, now);
  }

  /** @internal Then the handshake's held ACK (input.ts synAckArrives), if nothing carried it. */
  override deliverEvents(): void {
    super.deliverEvents();
    if (this.handshakeAckHeld) {
      this.handshakeAckHeld = false;
      if (this.ackNow && this.state !== 'CLOSED') tcpOutput(this);
    }
  }

  // ---------------------------------------------------------------- API

  get readableLength(): number {
    return this.rcvBuf.length;
  }
  get writableSpace(): number {
    return this.sndBuf.space;
  }
  /**
   * Whether a writer may write now (POLLOUT, Linux tcp_poll's __sk_stream_is_writeable): the
   * send buffer's room by the profile's rule (buffers.ts sndSpaceReady), and under
   * TCP_NOTSENT_LOWAT fewer than half the mark unsent (the wake factor). When not, the next
   * ACK that makes it so raises onWritable.
   */
  get writeReady(): boolean {
    const ok = sndSpaceReady(this.sndBuf, this.layer.config.sndLowat) && this.notSent * 2 < this.notSentLowat;
    if (!ok) this.wantWritable = true;
    return ok;
  }
  /** Bytes written but not yet acknowledged. */
  get unackedLength(): number {
    return this.sndBuf.length;
  }
  /** The peer's FIN arrived and every byte before it has been read. */
  get eof(): boolean {
    return this.finReceived && this.rcvBuf.length === 0;
  }
  /** Whether this side can still send (not shut down, not closed). */
  get writable(): boolean {
    return !this.finQueued && (canSendData(this.state) || isHandshaking(this.state));
  }
  get options(): Readonly<TcpSocketOptions> {
    return this.opts;
  }

  /**
   * Queues bytes for sending; returns how many fit in the send buffer (0 when full).
   * `more` (MSG_MORE): more data follows, so a partial segment waits for it as under TCP_CORK
   * (Linux tcp_sendmsg pushes with TCP_NAGLE_CORK). `eor` (MSG_EOR): these bytes end a record,
   * and no segment will carry them together with later bytes (Linux TCPCB_EOR).
   */
  write(data: Uint8Array, more = false, eor = false): number {
    this.checkSendable();
    this.moreHold = more;
    // TCP_FASTOPEN_CONNECT: the first write's data rides on the SYN (tfo.ts).
    if (this.tfoDeferred && data.length > 0) {
      const k = tfoDeferredWrite(this, data);
      if (k > 0 && this.layer.config.pushWriteEnd) markWrite(this, k, more && k === data.length);
      tcpOutput(this);
      return k;
    }
    // Linux tcp_sendmsg: is the sender application-limited as this data arrives? (rate.ts)
    if (this.sackOk && isSynchronized(this.state)) {
      const inFlight = seqSub(this.sndMax, this.snd.una);
      const unsent = this.sndBuf.length - seqSub(this.snd.nxt, this.sndBufSeq);
      rateCheckAppLimited(this, unsent, inFlight, this.cc.cwnd, this.hasTxLog ? this.txLog.lostBytes : 0);
    }
    const n = this.sndBuf.push(data);
    if (n < data.length) {
      this.wantWritable = true;
      this.layer.memory.blockedWriter(this);
    }
    // The record ends with the last byte taken (a short write ends it there; Linux marks the
    // tail skb of what was copied).
    if (eor && n > 0) (this.eorMarks ??= []).push(seqAdd(this.sndBufSeq, this.sndBuf.length));
    // Linux marks PSH where the write ends (push.ts); a short write is marked even under MSG_MORE.
    if (n > 0 && this.layer.config.pushWriteEnd) markWrite(this, n, more && n === data.length);
    if (n > 0 || (!more && this.sndBuf.length > 0)) tcpOutput(this);
    return n;
  }

  /** Takes up to `max` received bytes; null when none are buffered (check `eof`). */
  read(max = Number.POSITIVE_INFINITY): Uint8Array | null {
    if (this.rcvBuf.length === 0) {
      if (this.closeReason !== undefined && !this.finReceived)
        throw new TcpError(reasonCode(this.closeReason));
      return null;
    }
    const out = this.rcvBuf.take(max);
    this.afterRead();
    return out;
  }

  /**
   * As read(), into the caller's buffer (no allocation: the bytes are copied once, from the
   * receive buffer into `buf`). Returns the count, or null when none are buffered (check `eof`).
   */
  readInto(buf: Uint8Array): number | null {
    if (this.rcvBuf.length === 0 || buf.length === 0) {
      if (this.rcvBuf.length === 0 && this.closeReason !== undefined && !this.finReceived)
        throw new TcpError(reasonCode(this.closeReason));
      return this.rcvBuf.length === 0 ? null : 0;
    }
    const n = this.rcvBuf.takeInto(buf);
    this.afterRead();
    return n;
  }

  // Private methods are TypeScript `private`, not `#`: `#` methods give every instance a
  // brand field, 8 bytes per connection (bench/idle.ts).
  private afterRead(): void {
    rcvSpaceAdjust(this);
    // RFC 9293 §3.8.6.2.2: advertise the reopened window once it grew enough (receiver SWS).
    if (windowUpdateDue(this)) {
      this.ackNow = true;
      tcpOutput(this);
    }
    // An idle connection read empty keeps no receive storage.
    if (this.rcvBuf.length === 0) this.trimIfIdle();
  }

  /** The congestion controller's name ('newreno', 'cubic', 'bbr'). */
  get congestionName(): CongestionName {
    return this.cc.name as CongestionName;
  }

  /** Applies socket options (some take effect at once: buffer sizes, keepalive, Nagle). */
  setOptions(o: Partial<TcpSocketOptions>): void {
    Object.assign(this.ownOpts(), o);
    if (o.sndBuf !== undefined) {
      this.sndBuf.limit = o.sndBuf;
      this.sndBufLocked = true;
    }
    if (o.rcvBuf !== undefined) {
      this.rcvBuf.limit = o.rcvBuf;
      this.rcvBufLocked = true;
    }
    if (o.keepAlive !== undefined || o.keepIdle !== undefined) armKeepalive(this);
    if (o.noDelay && this.state !== 'CLOSED') tcpOutput(this);
    // Clearing TCP_CORK pushes what waited (Linux tcp_push_pending_frames; Nagle still applies).
    if (o.cork === false && this.state !== 'CLOSED') tcpOutput(this);
    // TCP_CONGESTION: Linux switches a live connection too (tcp_reinit_congestion_control): the
    // new controller starts from its initial state, keeping the current window and ssthresh.
    if (o.congestion !== undefined && o.congestion !== this.cc.name) {
      const live = isSynchronized(this.state);
      const cwnd = this.cc.cwnd;
      const ssthresh = this.cc.ssthresh;
      this.cc = ccCreate(this, o.congestion);
      if (live) this.cc.adopt?.(cwnd, ssthresh);
    }
  }

  /**
   * RFC 9293 §3.10.4 (CLOSE) for one or both directions. 'write' queues a FIN after
   * the buffered data; 'read' ends reading (a read of an empty buffer returns end of stream)
   * and discards buffered and future data, as FreeBSD's soshutdown (sorflush) does, unless
   * config.shutRdKeepsReceiving: Linux's tcp_shutdown ignores RCV_SHUTDOWN, so data is still
   * acknowledged, queued and readable.
   */
  shutdown(how: 'read' | 'write' | 'both'): void {
    if (isUnconnected(this.state)) throw new TcpError('ENOTCONN');
    if (how !== 'write') {
      this.readShut = true;
      if (!this.layer.config.shutRdKeepsReceiving) {
        this.rcvDiscard = true;
        this.rcvBuf.clear();
      }
    }
    if (how !== 'read') this.queueFin();
  }

  /**
   * Graceful close: FIN after queued data, then the connection finishes unattended.
   * Sends RST instead if unread data would be discarded (RFC 1122 §4.2.2.13) or
   * SO_LINGER is 0.
   */
  close(): void {
    const s = this.state;
    if (s === 'CLOSED') {
      this.rcvBuf.clear(); // nobody will read it: give the memory back
      return;
    }
    this.orphan = true;
    this.events = undefined;
    if (s === 'SYN-SENT') {
      // RFC 9293 §3.10.4: SYN-SENT: "Delete the TCB".
      terminate(this, undefined);
      return;
    }
    if (this.rcvBuf.length > 0 || this.opts.linger === 0 || this.reasmBytes > 0) {
      // RFC 1122 §4.2.2.13: "If such a host issues a CLOSE call while received data is still
      // pending in TCP ... its TCP SHOULD send a RST to show that data was lost."
      this.abort();
      return;
    }
    this.readShut = true;
    this.rcvDiscard = true;
    this.queueFin();
    if (this.state === 'FIN-WAIT-2') armFinWait2(this);
  }

  /** RFC 9293 §3.10.5 ABORT: RST to the peer (when synchronized) and gone. */
  abort(): void {
    // RFC 9293 §3.10.5: "All queued SENDs and RECEIVEs should be given 'connection reset'".
    this.rcvBuf.clear();
    const s = this.state;
    if (s === 'CLOSED') return;
    if (s !== 'SYN-SENT' && s !== 'TIME-WAIT' && s !== 'LISTEN') {
      sendAbortRst(this);
    }
    this.events = undefined;
    terminate(this, 'aborted');
  }

  /** TCP_INFO-style snapshot. */
  info(): TcpInfo {
    return tcpInfo(this);
  }

  private checkSendable(): void {
    if (this.finQueued) throw new TcpError('EPIPE', 'write after shutdown');
    if (this.closeReason !== undefined) throw new TcpError(reasonCode(this.closeReason));
    const s = this.state;
    if (canSendData(s) || isHandshaking(s)) return;
    if (isUnconnected(s)) throw new TcpError('ENOTCONN');
    throw new TcpError('EPIPE');
  }

  private queueFin(): void {
    if (this.finQueued) return;
    const s = this.state;
    if (s === 'SYN-SENT') {
      terminate(this, undefined);
      return;
    }
    if (!canQueueFin(s)) return;
    this.finQueued = true;
    this.finSeq = seqAdd(this.sndBufSeq, this.sndBuf.length);
    // SYN-RECEIVED: "queue for processing after entering ESTABLISHED state" (§3.10.4);
    // the state moves in input.ts when our SYN is acknowledged.
    if (s === 'ESTABLISHED') this.state = 'FIN-WAIT-1';
    else if (s === 'CLOSE-WAIT') this.state = 'LAST-ACK';
    tcpOutput(this);
  }
}
