/** TCP_INFO: a snapshot of one connection (info.ts describes its fields). */
import type { TcpInfo } from './info.ts';
import { pacingRate } from './output.ts';
import { seqSub } from './seq.ts';
import type { Tcb } from './tcb.ts';

/** Linux's tcpi_ca_state for the connection's recovery state (the most severe first). */
function caState(c: Tcb): TcpInfo['caState'] {
  if (c.lossEnd !== undefined) return 'loss';
  if (c.inRecovery) return 'recovery';
  if (c.ecnCwrEnd !== undefined) return 'cwr';
  const sacked = c.hasScoreboard ? c.scoreboard.sackedBytes : 0;
  const lost = c.hasTxLog ? c.txLog.lostBytes : 0;
  return sacked > 0 || lost > 0 || c.dupAcks > 0 ? 'disorder' : 'open';
}

export function tcpInfo(c: Tcb): TcpInfo {
  const sb = c.hasScoreboard ? c.scoreboard : undefined;
  const info: TcpInfo = {
    state: c.state,
    rto: c.rtt.rto,
    cwnd: c.cc.cwnd,
    ssthresh: c.cc.ssthresh,
    mss: c.mss,
    sndMss: c.mss - (c.tsOk ? 12 : 0),
    rcvMss: c.rcvMss,
    retransmits: c.rtxCount,
    totalRetrans: c.stats.retransmits,
    lost: c.hasTxLog ? Math.ceil(c.txLog.lostBytes / Math.max(1, c.mss)) : 0,
    caState: caState(c),
    reordering: c.reordering,
    bytesDelivered: c.stats.bytesDelivered,
    bytesDeliveredCe: c.stats.bytesDeliveredCe,
    deliveryRate: c.deliveryRate,
    deliveryRateAppLimited: c.rateSampleAppLimited,
    pacingRate: Math.round(pacingRate(c)),
    sacked: sb ? sb.sackedBytes : 0,
    unacked: seqSub(c.sndMax, c.snd.una),
    sndWnd: c.snd.wnd,
    rcvWnd: c.rcv.wnd,
    options: {
      timestamps: c.tsOk,
      sack: c.sackOk,
      ecn: c.ecnOk,
      ecnSeen: c.ecnSeen,
      synData: c.tfoSynDataAcked,
      tfoChild: c.tfoChild,
    },
    backoff: c.rtt.backoffCount,
    probes: c.persistCount + c.keepaliveProbes,
    bytesAcked: c.stats.bytesAcked,
    bytesReceived: c.stats.bytesReceived,
    segsOut: c.stats.segsOut,
    segsIn: c.stats.segsIn,
    congestion: c.cc.name,
  };
  if (c.lastDataSend > 0) info.lastDataSent = c.lastDataSend;
  if (c.dataSeen || c.lastDataRecv > 0) info.lastDataRecv = c.lastDataRecv;
  const srtt = c.rtt.srtt;
  if (srtt !== undefined) info.rtt = srtt;
  const rttvar = c.rtt.rttvar;
  if (rttvar !== undefined) info.rttvar = rttvar;
  if (c.wsOk) info.options.windowScale = { snd: c.sndWscale, rcv: c.rcvWscale };
  return info;
}
