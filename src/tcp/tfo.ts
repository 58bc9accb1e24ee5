/**
 * TCP Fast Open (RFC 7413) on a connection, as Linux does it: what the client's SYN carries
 * (tcp_send_syn_data, tcp_fastopen_defer_connect), what its SYN-ACK teaches
 * (tcp_rcv_fastopen_synack), and the server's choice for a SYN (tcp_try_fastopen). The
 * keyed cookies and the client's cookie cache are fastopen.ts's.
 */
import type { IpAddress } from '../wire/address.ts';
import type { TcpRepr } from '../wire/tcp.ts';
import type { TcpSocketOptions } from './config.ts';
import {
  clientSynCookie,
  type FastOpenOption,
  TFO_CLIENT_NO_COOKIE,
  TFO_SERVER_COOKIE_NOT_REQD,
  TFO_SERVER_ENABLE,
  TFO_SERVER_WO_SOCKOPT1,
} from './fastopen.ts';
import type { TcpHost } from './host.ts';
import { type Seq, seqAdd, seqGt, seqSub } from './seq.ts';
import type { Tcb } from './tcb.ts';

/** Linux MAX_TCP_OPTION_SPACE: room kept for options when sizing the data of a SYN. */
const MAX_TCP_OPTION_SPACE = 40;

/**
 * How much data a SYN may carry: Linux tcp_send_syn_data sizes it from the path MTU less the
 * largest options ("Reserve maximum option space for middleboxes that add private TCP
 * options"), and from the MSS the server announced last time, when known.
 */
function synDataRoom(c: Tcb, cachedMss: number): number {
  const route = c.layer.routeMss(c.remote.address, c.opts);
  const mss = cachedMss > 0 ? Math.min(route, cachedMss + MAX_TCP_OPTION_SPACE) : route;
  return Math.max(0, mss - MAX_TCP_OPTION_SPACE);
}

/**
 * An active open with Fast Open (MSG_FASTOPEN or TCP_FASTOPEN_CONNECT; the caller checked
 * config.fastOpen has TFO_CLIENT_ENABLE). With a cached cookie (or no cookie needed) the
 * first part of `data` is queued to ride on the SYN, or, for `defer`, the SYN waits for the
 * first write; otherwise the SYN asks for a cookie (RFC 7413 §4.1.3) and the data waits for
 * the handshake. Returns the bytes queued for the SYN.
 */
export function tfoConnect(c: Tcb, data: Uint8Array | undefined, defer: boolean): number {
  const noCookie = (c.layer.config.fastOpen & TFO_CLIENT_NO_COOKIE) !== 0 || c.opts.fastOpenNoCookie === true;
  const entry = c.layer.fastOpen.cached(c.remote.address);
  const pick = clientSynCookie(entry, noCookie);
  c.tfoSyn = true;
  c.tfoOption = pick.option;
  c.tfoOptionExp = pick.option?.experimental === true;
  if (!pick.data) return 0;
  if (defer) {
    // Linux tcp_fastopen_defer_connect: connect() returns 0, the SYN goes with the first write.
    c.tfoDeferred = true;
    return 0;
  }
  return queueSynData(c, data, entry?.mss ?? 0);
}

/** The first write on a deferred connect (TCP_FASTOPEN_CONNECT): the SYN leaves with its data. */
export function tfoDeferredWrite(c: Tcb, data: Uint8Array): number {
  c.tfoDeferred = false;
  return queueSynData(c, data, c.layer.fastOpen.cached(c.remote.address)?.mss ?? 0);
}

function queueSynData(c: Tcb, data: Uint8Array | undefined, cachedMss: number): number {
  if (!data || data.length === 0) return 0;
  const n = c.sndBuf.push(data.subarray(0, synDataRoom(c, cachedMss)));
  c.tfoSynData = n;
  return n;
}

/**
 * The client's SYN-ACK (Linux tcp_rcv_fastopen_synack), after SND.UNA moved to its ACK:
 * remember the server's MSS and cookie; data of the SYN it acknowledged leaves the send
 * buffer, and data it did not is sent again at once (RFC 7413 §4.2.1: "the client ...
 * retransmits any data not acknowledged"), carrying the ACK of the SYN-ACK.
 */
export function tfoSynAckArrived(c: Tcb, r: TcpRepr, ack: Seq): void {
  releaseAcked(c, ack);
  if (!c.tfoSyn) return; // an unsolicited cookie is ignored
  const fo = r.options.fastOpen;
  let tryExp = 0;
  // A cookie request that went unanswered: try the experimental option next time, or go
  // back to the RFC one (Linux try_exp). Not after a SYN timeout: the regular SYN was answered.
  if (c.stats.retransmits === 0 && !fo && c.tfoSynData === 0) tryExp = c.tfoOptionExp ? 2 : 1;
  c.layer.fastOpen.remember(c.remote.address, r.options.mss ?? 0, fo, tryExp);
  if (c.tfoSynData === 0) return;
  if (seqGt(c.sndMax, ack)) {
    c.layer.stats.fastOpenActiveFail++;
    // tcp_non_congestion_loss_retransmit: resend from SND.UNA now, no window reduction.
    c.snd.nxt = ack;
    return;
  }
  c.tfoSynDataAcked = true;
  c.layer.stats.fastOpenActive++;
}

/**
 * SND.UNA moved past the SYN during the handshake (a SYN-ACK acknowledging the data of our
 * SYN, or the ACK of a Fast Open server's SYN-ACK and the data it sent after it): the
 * acknowledged bytes leave the send buffer.
 */
export function releaseAcked(c: Tcb, ack: Seq): void {
  const n = Math.min(c.sndBuf.length, Math.max(0, seqSub(ack, c.sndBufSeq)));
  if (n > 0) {
    c.sndBuf.consume(n);
    c.sndBufSeq = seqAdd(c.sndBufSeq, n);
    c.stats.bytesAcked += n;
  }
  if (seqGt(ack, c.snd.nxt)) c.snd.nxt = ack;
}

/** What a server does with a SYN's Fast Open option and data (tcp_try_fastopen). */
export interface TfoServerChoice {
  /** Make a connection that takes the SYN's data and is accepted at once. */
  readonly child: boolean;
  /** The cookie the SYN-ACK carries (a request, or a cookie that failed); undefined: none. */
  readonly reply: FastOpenOption | undefined;
}

const NO_TFO: TfoServerChoice = Object.freeze({ child: false, reply: undefined });

/**
 * A listener's choice for a SYN (Linux tcp_try_fastopen): Fast Open needs the server bit of
 * config.fastOpen, a SYN with data or the option, and room in the listener's Fast Open queue
 * (`pending` below `maxQlen`, RFC 7413 §5.1). Then a valid cookie, or none needed
 * (TFO_SERVER_COOKIE_NOT_REQD, TCP_FASTOPEN_NO_COOKIE), makes a child; a request or a bad
 * cookie is answered with the client's cookie and the data is ignored (RFC 7413 §4.2.2:
 * "the server ... MUST ... drop the data").
 */
export function tfoServerChoice(
  layer: TcpHost,
  opts: TcpSocketOptions,
  maxQlen: number,
  pending: number,
  client: IpAddress,
  server: IpAddress,
  r: TcpRepr,
  dataLen: number,
): TfoServerChoice {
  const cfg = layer.config.fastOpen;
  const fo = r.options.fastOpen;
  if (fo && fo.cookie.length === 0) layer.stats.fastOpenCookieReqd++;
  if (!(cfg & TFO_SERVER_ENABLE) || (dataLen === 0 && !fo) || maxQlen <= 0) return NO_TFO;
  if (pending >= maxQlen) {
    layer.stats.fastOpenListenOverflow++;
    return NO_TFO;
  }
  if (cfg & TFO_SERVER_COOKIE_NOT_REQD || opts.fastOpenNoCookie) return childChoice(layer);
  if (!fo) return NO_TFO;
  if (fo.cookie.length > 0) {
    if (layer.fastOpen.valid(fo.cookie, client, server)) return childChoice(layer);
    layer.stats.fastOpenPassiveFail++;
  }
  const cookie = layer.fastOpen.cookie(client, server);
  return { child: false, reply: fo.experimental ? { cookie, experimental: true } : { cookie } };
}

function childChoice(layer: TcpHost): TfoServerChoice {
  layer.stats.fastOpenPassive++;
  return { child: true, reply: undefined };
}

/**
 * The Fast Open queue bound of a listener (Linux fastopenq.max_qlen): TCP_FASTOPEN's value, or
 * the backlog when config.fastOpen has TFO_SERVER_WO_SOCKOPT1 and the server bit.
 */
export function tfoMaxQlen(layer: TcpHost, opts: TcpSocketOptions, backlog: number): number {
  const q = opts.fastOpenQlen ?? 0;
  if (q > 0) return q;
  const cfg = layer.config.fastOpen;
  return cfg & TFO_SERVER_WO_SOCKOPT1 && cfg & TFO_SERVER_ENABLE ? backlog : 0;
}
