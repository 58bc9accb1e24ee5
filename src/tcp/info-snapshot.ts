/** TCP_INFO: a snapshot of one connection (info.ts describes its fields). */
import type { TcpInfo } from './info.ts';
import { seqSub } from './seq.ts';
import type { Tcb } from './tcb.ts';

export function tcpInfo(c: Tcb): TcpInfo {
  const sb = c.hasScoreboard ? c.scoreboard : undefined;
  const info: TcpInfo = {
    state: c.state,
    rto: c.rtt.rto,
    cwnd: c.cc.cwnd,
    ssthresh: c.cc.ssthresh,
    mss: c.mss,
    rcvMss: c.rcvMss,
    retransmits: c.rtxCount,
    totalRetrans: c.stats.retransmits,
    lost: 0,
    sacked: sb ? sb.sackedBytes : 0,
    unacked: seqSub(c.sndMax, c.snd.una),
    sndWnd: c.snd.wnd,
    rcvWnd: c.rcv.wnd,
    options: { timestamps: c.tsOk, sack: c.sackOk },
    backoff: c.rtt.backoffCount,
    probes: c.persistCount + c.keepaliveProbes,
    bytesAcked: c.stats.bytesAcked,
    bytesReceived: c.stats.bytesReceived,
    segsOut: c.stats.segsOut,
    segsIn: c.stats.segsIn,
    lastDataSent: c.lastSend,
    lastDataRecv: c.lastRecv,
    congestion: c.cc.name,
  };
  const srtt = c.rtt.srtt;
  if (srtt !== undefined) info.rtt = srtt;
  const rttvar = c.rtt.rttvar;
  if (rttvar !== undefined) info.rttvar = rttvar;
  if (c.wsOk) info.options.windowScale = { snd: c.sndWscale, rcv: c.rcvWscale };
  return info;
}
