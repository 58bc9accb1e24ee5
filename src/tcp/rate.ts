/**
 * Delivery-rate estimation (draft-cheng-iccrg-delivery-rate-estimation; Linux tcp_rate.c), in
 * bytes and microseconds.
 *
 * Each transmission is stamped (rack-log.ts TxSegment) with the connection's delivered count,
 * when that count last grew, the send time of the most recently delivered segment (the start
 * of the "send phase") and whether the sender was application-limited. When an ACK delivers
 * segments, the most recently sent of them gives the sample: the data delivered since it was
 * sent, over the longer of its send phase and its ACK phase. A sample whose interval is below
 * the minimum RTT is discarded (ACK compression). BBR (congestion/bbr.ts) takes its bandwidth
 * from these samples; TCP_INFO's delivery rate is the last one kept.
 *
 * The stamps ride on the per-transmission record RACK keeps (SACK connections with RACK);
 * without it the rate is an average over about one round trip (rateAverage).
 */
import type { RateSample } from './congestion/types.ts';
import type { TxRateStamp, TxSegment } from './rack-log.ts';
import type { Tcb } from './tcb.ts';

/**
 * The stamp for a transmission at `now` (Linux tcp_rate_skb_sent), lent until the next call. `nothingOutstanding`:
 * the flight was empty before it, so the sampling interval starts now: "any ACKs after now
 * indicate that the network was able to deliver those packets completely in the sampling
 * interval between now and the next ACK".
 */
export function rateStamp(c: Tcb, now: number, nothingOutstanding: boolean): TxRateStamp {
  if (nothingOutstanding) {
    c.rateFirstTx = now;
    c.rateDeliveredTs = now;
  }
  // One object lent to the caller (rack.ts copies its fields into the log at once): a stamp
  // per transmission allocated nothing.
  const s = stampScratch;
  s.delivered = c.stats.bytesDelivered;
  s.deliveredTs = c.rateDeliveredTs;
  s.firstTxTs = c.rateFirstTx;
  s.appLimited = c.appLimitedUntil !== 0;
  return s;
}

/** The stamp rateStamp fills in and lends (its fields are copied before the next call). */
const stampScratch: TxRateStamp = { delivered: 0, deliveredTs: 0, firstTxTs: 0, appLimited: false };

/** Restamps a retransmitted entry (Linux stamps every transmission). */
export function rateRestamp(seg: TxSegment, stamp: TxRateStamp): void {
  seg.delivered = stamp.delivered;
  seg.deliveredTs = stamp.deliveredTs;
  seg.firstTxTs = stamp.firstTxTs;
  seg.appLimited = stamp.appLimited;
}

/** A new ACK is being processed: no sample yet. */
export function rateAckBegin(c: Tcb): void {
  c.rsHave = false;
  c.rsRttUs = -1;
  c.rsRttOrder = 0;
  c.ackRttUs = -1;
}

/**
 * `seg` was newly delivered (cumulatively or by SACK) at `now` (Linux tcp_rate_skb_delivered):
 * the most recently sent delivered segment sets the sample's start.
 */
export function rateSegDelivered(c: Tcb, seg: TxSegment, now: number, bySack: boolean): void {
  if (!seg.rtx && seg.order > c.rsRttOrder) {
    c.rsRttOrder = seg.order;
    c.rsRttUs = now - seg.xmitTs;
  }
  if (seg.deliveredTs < 0) return;
  if (!c.rsHave || seg.order > c.rsOrder) {
    c.rsHave = true;
    c.rsPriorDelivered = seg.delivered;
    c.rsPriorTs = seg.deliveredTs;
    c.rsAppLimited = seg.appLimited;
    c.rsOrder = seg.order;
    // Record the send time of the most recently delivered segment; the send phase is the
    // time from the then most recently delivered segment's send to this one's.
    c.rateFirstTx = seg.xmitTs;
    c.rsSndUs = seg.xmitTs - seg.firstTxTs;
  }
  // A SACKed entry is used once: not again when the cumulative ACK passes it.
  if (bySack) seg.deliveredTs = -1;
}

/** A rate sample to fill in (rateGenerate). */
export function newRateSample(): RateSample {
  return {
    delivered: -1,
    intervalUs: -1,
    priorDelivered: 0,
    isAppLimited: false,
    ackedSacked: 0,
    losses: 0,
    rttUs: -1,
    priorInFlight: 0,
    deliveredTotal: 0,
    deliveredTs: 0,
  };
}

/**
 * The ACK's sample (Linux tcp_rate_gen), after the delivered count took this ACK's bytes,
 * written into `rs`. `ackedSacked`: bytes newly delivered; `losses`: bytes newly marked lost.
 */
export function rateGenerate(
  c: Tcb,
  ackedSacked: number,
  losses: number,
  priorInFlight: number,
  now: number,
  rs: RateSample = newRateSample(),
): RateSample {
  const total = c.stats.bytesDelivered;
  // "Clear app limited if bubble is acked and gone."
  if (c.appLimitedUntil !== 0 && total > c.appLimitedUntil) c.appLimitedUntil = 0;
  if (ackedSacked > 0) c.rateDeliveredTs = now;
  rs.delivered = -1;
  rs.intervalUs = -1;
  rs.priorDelivered = c.rsPriorDelivered;
  rs.isAppLimited = c.rsAppLimited;
  rs.ackedSacked = ackedSacked;
  rs.losses = losses;
  rs.rttUs = c.rsRttUs;
  rs.priorInFlight = priorInFlight;
  rs.deliveredTotal = total;
  rs.deliveredTs = c.rateDeliveredTs;
  if (!c.rsHave) return rs;
  rs.delivered = total - c.rsPriorDelivered;
  // "Use the longer of the send phase and the ACK phase": a burst sent faster than the
  // bottleneck, or ACKs compressed on the way back, would overstate the rate.
  const ackUs = now - c.rsPriorTs;
  const interval = Math.max(c.rsSndUs, ackUs);
  if (interval <= 0 || (c.minRtt > 0 && interval < c.minRtt)) return rs;
  rs.intervalUs = interval;
  // Keep the last sample that is not application-limited, or the highest application-limited
  // one, for TCP_INFO.
  if (!rs.isAppLimited || rs.delivered * c.rateSampleUs >= c.rateSampleDelivered * interval) {
    c.rateSampleDelivered = rs.delivered;
    c.rateSampleUs = interval;
    c.rateSampleAppLimited = rs.isAppLimited;
    c.deliveryRate = Math.round((rs.delivered * 1e6) / interval);
  }
  return rs;
}

/**
 * The application is about to add data (Linux tcp_rate_check_app_limited, from sendmsg): if
 * less than a segment is waiting to be sent, the window has room and every lost segment has
 * been resent, the sender is application-limited until what is in flight now is delivered,
 * and samples from that stretch say so.
 */
export function rateCheckAppLimited(
  c: Tcb,
  unsent: number,
  inFlight: number,
  cwnd: number,
  lostOut: number,
): void {
  if (unsent < c.mss && inFlight < cwnd && lostOut === 0)
    c.appLimitedUntil = c.stats.bytesDelivered + inFlight || 1;
}

/**
 * Without per-segment stamps (no SACK): the delivery rate over the last window of at least
 * SRTT, as a sample.
 *
 * Deviation: Linux samples per ACK from per-packet stamps whatever the SACK state; without
 * SACK our record of transmissions is not kept, so the sample is this plain average, with
 * application-limited stretches included. Returns whether a sample was taken.
 */
export function rateAverage(c: Tcb, now: number, rs: RateSample): boolean {
  const st = c.stats;
  if (c.rateStart === 0) {
    c.rateStart = c.lastDataSend || now;
    c.rateDelivered = st.bytesDelivered - rs.ackedSacked;
  }
  const span = now - c.rateStart;
  if (!(span > 0 && span >= (c.rtt.srtt ?? 0))) return false;
  rs.delivered = st.bytesDelivered - c.rateDelivered;
  rs.intervalUs = span;
  rs.priorDelivered = c.rateDelivered;
  c.deliveryRate = Math.round((rs.delivered * 1e6) / span);
  c.rateStart = now;
  c.rateDelivered = st.bytesDelivered;
  return true;
}
