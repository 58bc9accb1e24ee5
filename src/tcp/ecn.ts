/**
 * Explicit Congestion Notification for TCP (RFC 3168 §6.1), as Linux runs it (tcp_input.c
 * tcp_ecn_*, tcp_output.c tcp_ecn_send*):
 * - negotiation: an ECN-setup SYN carries ECE and CWR, an ECN-setup SYN-ACK ECE only
 *   (§6.1.1); config.ecn decides whether we ask (1, or the socket's `ecn` option) or only
 *   answer (2);
 * - the sender marks new data segments ECT(0) and nothing else: no ECT on SYNs, pure ACKs or
 *   retransmissions (§6.1.5, §6.1.4), and answers an ECN-Echo with one window reduction per
 *   window of data through the congestion controller, setting CWR on its next new data
 *   (§6.1.2);
 * - the receiver, on a CE-marked data segment, sets ECE on every ACK until a data segment
 *   with CWR arrives (§6.1.3).
 */
import { TCP_CWR, TCP_ECE } from '../wire/tcp.ts';
import { ccContext } from './cc.ts';
import { type Seq, seqGt, seqLt } from './seq.ts';
import type { Tcb } from './tcb.ts';

/** The IP ECN field's codepoints (RFC 3168 §5). */
export const ECN_NOT_ECT = 0;
export const ECN_ECT1 = 1;
export const ECN_ECT0 = 2;
export const ECN_CE = 3;

/** Whether our SYN asks for ECN: config.ecn 1, or the socket asked (Linux tcp_ecn_send_syn). */
export function ecnWanted(c: Tcb): boolean {
  return c.layer.config.ecn === 1 || c.opts.ecn === true;
}

/**
 * The ECN flags of our SYN or SYN-ACK. A first SYN asks with ECE|CWR and marks the connection
 * ECN-capable until the SYN-ACK says otherwise. A retransmitted SYN drops the request, as
 * Linux's tcp_ecn_clear_syn (net.ipv4.tcp_ecn_fallback, default on): RFC 3168 §6.1.1.1 lets a
 * host fall back to a non-ECN-setup SYN when the first may have been dropped for its flags.
 * A SYN-ACK answers with ECE alone when the peer's SYN negotiated ECN (§6.1.1).
 */
export function ecnSynFlags(c: Tcb, synAck: boolean, retransmit: boolean): number {
  if (synAck) return c.ecnOk ? TCP_ECE : 0;
  if (retransmit || !ecnWanted(c)) return 0;
  c.ecnOk = true;
  return TCP_ECE | TCP_CWR;
}

/**
 * A listener's answer to a SYN (Linux tcp_ecn_create_request): ECN when the SYN is an
 * ECN-setup SYN (ECE and CWR), config.ecn allows it, and the SYN itself is not ECT: RFC 3168
 * §6.1.1 has SYNs sent Not-ECT, so an ECT SYN shows a path or peer that rewrites the field.
 */
export function ecnAcceptSyn(c: Tcb, flags: number, ipEcn: number): void {
  const setup = (flags & (TCP_ECE | TCP_CWR)) === (TCP_ECE | TCP_CWR);
  c.ecnOk = setup && ipEcn === ECN_NOT_ECT && (c.layer.config.ecn !== 0 || c.opts.ecn === true);
  if (c.ecnOk) c.layer.stats.ecnConnections++;
}

/**
 * Our SYN's answer arrived. A SYN-ACK negotiates ECN only with ECE set and CWR clear (RFC 3168
 * §6.1.1: a SYN-ACK with both is not an ECN-setup SYN-ACK; Linux tcp_ecn_rcv_synack). A SYN
 * (simultaneous open) needs both (Linux tcp_ecn_rcv_syn).
 */
export function ecnSynArrived(c: Tcb, flags: number, synAck: boolean): void {
  if (!c.ecnOk) return;
  const ece = (flags & TCP_ECE) !== 0;
  const cwr = (flags & TCP_CWR) !== 0;
  c.ecnOk = synAck ? ece && !cwr : ece && cwr;
  if (c.ecnOk && synAck) c.layer.stats.ecnConnections++;
}

/**
 * The receiver's side for a segment with text (Linux tcp_ecn_accept_cwr, tcp_ecn_check_ce).
 * CWR ends the ECN-Echo we owe (§6.1.3: "the receiver ... stops setting the ECN-Echo flag")
 * and is ACKed at once (the sender's window may be down to one segment). A CE mark starts
 * ECN-Echo and quick ACKs; a Not-ECT segment after ECT ones is probably a retransmission, and
 * Linux quick-ACKs it too.
 */
export function ecnDataArrived(c: Tcb, flags: number, ipEcn: number): void {
  if (!c.ecnOk) return;
  if (flags & TCP_CWR) {
    c.ecnDemandCwr = false;
    c.ackNow = true;
  }
  switch (ipEcn) {
    case ECN_NOT_ECT:
      if (c.ecnSeen) quickAck(c);
      break;
    case ECN_CE:
      c.layer.stats.ecnCeReceived++;
      if (!c.ecnDemandCwr) {
        quickAck(c);
        c.ecnDemandCwr = true;
      }
      c.ecnSeen = true;
      break;
    default:
      c.ecnSeen = true;
      break;
  }
}

/** Linux tcp_enter_quickack_mode(sk, 2): the next two ACKs of data go at once. */
function quickAck(c: Tcb): void {
  if (c.quickAcks < 2) c.quickAcks = 2;
  c.ackNow = true;
}

/**
 * An acceptable ACK arrived (before the ACK's other processing): ECN-Echo on a non-SYN
 * segment is congestion (RFC 3168 §6.1.2): "the TCP source halves the congestion window
 * "cwnd" and reduces the slow start threshold "ssthresh"", at most once per window of data,
 * and not again for a window whose loss already reduced it (fast recovery, an RTO). The
 * controller decides the reduction as for a loss (RFC 9438 §4.6 and RFC 5681 treat ECN as
 * loss); CWR goes on the next new data segment.
 *
 * Deviation: the window drops at once (RFC 3168's response); Linux's CWR state brings the
 * flight down to ssthresh over a round trip with PRR (tcp_cwnd_reduction). Both reduce once
 * per window of data.
 */
export function ecnEchoArrived(c: Tcb, flags: number, ack: Seq): void {
  if (!c.ecnOk) return;
  // Linux holds its CWR state until something *above* the window's end is acknowledged, so
  // that the segment carrying CWR has reached the receiver (tcp_fastretrans_alert).
  const end = c.ecnCwrEnd;
  if (end !== undefined && seqGt(ack, end)) c.ecnCwrEnd = undefined;
  // (A loss recovery or RTO in this window already reduced it: ecnLossReduction.)
  if (!(flags & TCP_ECE) || c.ecnCwrEnd !== undefined || c.inRecovery) return;
  const ctx = ccContext(c);
  c.cc.onEnterRecovery(ctx);
  ctx.prrExit = true; // cwnd = ssthresh now
  c.cc.onExitRecovery(ctx);
  c.ecnCwrEnd = c.sndMax;
  c.ecnQueueCwr = true;
  c.layer.stats.ecnReductions++;
}

/**
 * A window reduction for loss (fast recovery, RTO): it is the response to any CE in the same
 * window too, and CWR tells the receiver so (Linux tcp_ecn_queue_cwr from
 * tcp_init_cwnd_reduction and tcp_enter_loss).
 */
export function ecnLossReduction(c: Tcb): void {
  if (!c.ecnOk) return;
  c.ecnQueueCwr = true;
  c.ecnCwrEnd = c.sndMax;
}

/**
 * The TCP flags and IP ECN field for an outgoing non-SYN segment (Linux tcp_ecn_send): a data
 * segment beyond everything sent so far goes ECT(0), with CWR if one is owed; anything else
 * (pure ACKs, window probes without new data, retransmissions, a bare FIN) goes Not-ECT
 * (RFC 3168 §6.1.4, §6.1.5). ECE rides on every segment while the receiver owes it. Returns
 * the ECN field; `out.flags` gets the added flags.
 */
export function ecnForSegment(c: Tcb, seqNo: Seq, len: number, out: { flags: number }): number {
  if (!c.ecnOk) return ECN_NOT_ECT;
  let field = ECN_NOT_ECT;
  if (len > 0 && !seqLt(seqNo, c.sndMax)) {
    field = ECN_ECT0;
    if (c.ecnQueueCwr) {
      c.ecnQueueCwr = false;
      out.flags |= TCP_CWR;
    }
  }
  if (c.ecnDemandCwr) out.flags |= TCP_ECE;
  return field;
}
