/**
 * F-RTO (RFC 5682), the SACK-enhanced variant as Linux runs it (net.ipv4.tcp_frto = 2;
 * tcp_enter_loss and tcp_process_loss): after a retransmission timeout the sender resends
 * only the first segment; when the next ACK advances SND.UNA it sends new data instead of
 * going back over the rest, and the ACKs that follow tell whether the timeout was spurious
 * (segments that were never retransmitted are acknowledged: the originals arrived, so the
 * window reduction is undone, undo.ts) or the loss was real (duplicate ACKs or SACKs:
 * conventional go-back-N recovery resumes from SND.UNA).
 *
 * Tcb fields: `frto` (the episode runs), `frtoRtxEnd` (the end of what the timeout
 * retransmitted), `frtoNewFrom` (where the new data of step 2b starts, while it is the
 * only data counted in flight) and `lossEnd` (Linux's high_seq).
 */
import { type Seq, seq, seqGt, seqMin, seqSub } from './seq.ts';
import type { Tcb } from './tcb.ts';

/**
 * RFC 5682 §3.1 step 1 (Linux tcp_enter_loss): at an RTO, F-RTO runs when enabled and no
 * loss recovery was underway, or when the timeout recurs on the same SND.UNA (§3.2).
 * `recovering`: a fast recovery or an earlier RTO episode was running.
 */
export function frtoOnRto(c: Tcb, recovering: boolean, retransmittedTo: Seq, hadSacks: boolean): void {
  // Deviation: not when the peer had SACKed data above a hole at the timeout. Linux keeps
  // those SACK marks through the RTO, so a cumulative ACK over data SACKed before does not
  // count as "never-retransmitted data (s)acked"; the stack clears its scoreboard at an RTO
  // (RFC 2018 §8) and could not tell, taking a real loss for a spurious timeout.
  c.frto = c.layer.config.frto > 0 && !hadSacks && (!recovering || c.rtxCount > 1);
  c.frtoRtxEnd = retransmittedTo;
  c.frtoNewFrom = undefined;
}

/** What an ACK in the Loss state said, as Linux's ack flags. */
export interface FrtoAck {
  /** SND.UNA advanced (FLAG_SND_UNA_ADVANCED). */
  readonly advanced: boolean;
  /** New SACK information (FLAG_DATA_SACKED). */
  readonly sacked: boolean;
  /** A duplicate ACK. */
  readonly dupAck: boolean;
  /** The ACK or its SACK blocks cover data sent once, before the timeout (FLAG_ORIG_SACK_ACKED). */
  readonly origAcked: boolean;
  /** The Loss state's end (high_seq) before this ACK. */
  readonly high: Seq;
}

export type FrtoVerdict = 'spurious' | 'real' | 'new-data' | 'wait';

/**
 * RFC 5682 §3.1 steps 2 and 3 on an ACK after the timeout (Linux tcp_process_loss with
 * tp->frto). 'spurious': undo the reduction; 'real': resume conventional recovery from
 * SND.UNA; 'new-data': step 2b, send new data (SND.NXT moved to SND.MAX); 'wait': nothing
 * decided. The caller acts on the verdict.
 */
export function frtoOnAck(c: Tcb, a: FrtoAck): FrtoVerdict {
  if (!c.frto) return 'wait';
  // Step 3b: "A timeout is spurious if not all data are lost, i.e., never-retransmitted data
  // are (s)acked" (Linux).
  if (a.origAcked) return endFrto(c, 'spurious');
  if (c.frtoNewFrom !== undefined) {
    // Step 3a: after new data went out, a duplicate ACK or a SACK means the loss was real.
    if (a.sacked || a.dupAck) return endFrto(c, 'real');
    return 'wait';
  }
  const recovered = c.lossEnd === undefined;
  if (recovered) {
    endFrto(c, 'wait');
    return 'wait';
  }
  if (a.advanced) {
    // Step 2b: "transmit up to two new (previously unsent) segments"; without new data to
    // send (or room in the peer's window), fall back to conventional recovery.
    const unsent = c.sndBuf.length - Math.max(0, seqSub(c.sndMax, c.sndBufSeq));
    const room = c.snd.wnd - Math.max(0, seqSub(c.sndMax, c.snd.una));
    if (unsent > 0 && room > 0) {
      c.lossEnd = c.sndMax;
      c.frtoNewFrom = c.sndMax;
      c.snd.nxt = c.sndMax;
      return 'new-data';
    }
    return endFrto(c, 'real');
  }
  return 'wait';
}

function endFrto(c: Tcb, v: FrtoVerdict): FrtoVerdict {
  c.frto = false;
  c.frtoNewFrom = undefined;
  return v;
}

/**
 * FLAG_ORIG_SACK_ACKED for this ACK: the cumulative ACK, or a new SACK block, covers data
 * above what the timeout retransmitted and at or below high_seq (sent once, before it).
 */
export function frtoOrigAcked(
  c: Tcb,
  ack: Seq,
  high: Seq,
  sack: readonly { left: number; right: number }[] | undefined,
  newlySacked: boolean,
): boolean {
  const from = c.frtoRtxEnd;
  if (seqGt(seqMin(ack, high), from)) return true;
  if (!newlySacked || !sack) return false;
  for (const b of sack) {
    const right = seqMin(seq(b.right), high);
    if (seqGt(right, from) && seqGt(right, seq(b.left))) return true;
  }
  return false;
}
