/**
 * TCP_INFO as Linux's `struct tcp_info`: a connection's `TcpInfo` snapshot encoded in
 * the kernel's layout (and read back), so code written against getsockopt(TCP_INFO) on
 * Linux reads the same fields from a stack socket.
 */
import type { TcpInfo } from '../tcp/info.ts';

/** Linux `enum tcp_state` numbers (include/net/tcp_states.h), as tcpi_state reports them. */
export const LINUX_TCP_STATES: Readonly<Record<string, number>> = {
  ESTABLISHED: 1,
  'SYN-SENT': 2,
  'SYN-RECEIVED': 3,
  'FIN-WAIT-1': 4,
  'FIN-WAIT-2': 5,
  'TIME-WAIT': 6,
  CLOSED: 7,
  'CLOSE-WAIT': 8,
  'LAST-ACK': 9,
  LISTEN: 10,
  CLOSING: 11,
};

/** Size of the `struct tcp_info` prefix we encode (through tcpi_rehash, Linux 5.16-6.6's whole struct). */
export const TCP_INFO_SIZE = 240;

/** Linux `enum tcp_ca_state` (include/uapi/linux/tcp.h), as tcpi_ca_state reports it. */
export const LINUX_TCP_CA_STATES: Readonly<Record<TcpInfo['caState'], number>> = {
  open: 0,
  disorder: 1,
  cwr: 2,
  recovery: 3,
  loss: 4,
};

/**
 * Encodes a snapshot as Linux's `struct tcp_info` (little-endian, the first 240
 * bytes: through tcpi_rehash), so code written against getsockopt(TCP_INFO) on
 * Linux reads the same fields: tcpi_state (u8 @0), tcpi_ca_state (@1), tcpi_retransmits (@2),
 * tcpi_probes (@3), tcpi_backoff (@4), tcpi_options (@5: TS 1, SACK 2, WSCALE 4, ECN 8,
 * ECN_SEEN 16), wscales (@6),
 * tcpi_rto (u32 µs @8), tcpi_snd_mss (@16), tcpi_rcv_mss (@20), tcpi_unacked
 * (segments @24), tcpi_sacked (@28), tcpi_lost (@32), tcpi_last_data_sent (ms ago
 * @44), tcpi_last_data_recv (@52), tcpi_rtt (µs @68), tcpi_rttvar (@72),
 * tcpi_snd_ssthresh (segments @76), tcpi_snd_cwnd (segments @80), tcpi_advmss
 * (@84), tcpi_reordering (@88), tcpi_total_retrans (@100), tcpi_pacing_rate (u64 bytes/s
 * @104; ~0 when not paced), tcpi_delivery_rate_app_limited (bit 0 @7), tcpi_bytes_acked (u64 @120),
 * tcpi_bytes_received (u64 @128), tcpi_segs_out (@136), tcpi_segs_in (@140),
 * tcpi_delivery_rate (u64 bytes/s @160), tcpi_delivered (segments @192), tcpi_delivered_ce
 * (@196), tcpi_snd_wnd (bytes @228), tcpi_rcv_wnd (@232). The rest stays 0.
 */
export function encodeTcpInfo(info: TcpInfo | undefined, now: number, state = 'CLOSED'): Uint8Array {
  const out = new Uint8Array(TCP_INFO_SIZE);
  const dv = new DataView(out.buffer);
  if (!info) {
    dv.setUint8(0, LINUX_TCP_STATES[state] ?? 7);
    return out;
  }
  // Linux counts in packets of mss_cache, the payload MSS: the data in flight as the packets
  // that carry it, the windows as whole packets (snd_cwnd is a packet count).
  const mss = Math.max(1, info.sndMss);
  const segs = (b: number): number => Math.min(0xffffffff, Math.ceil(b / mss));
  const packets = (b: number): number => Math.min(0xffffffff, Math.floor(b / mss));
  const u32 = (off: number, v: number): void =>
    dv.setUint32(off, Math.max(0, Math.min(0xffffffff, Math.round(v))), true);
  dv.setUint8(0, LINUX_TCP_STATES[info.state] ?? 7);
  dv.setUint8(1, LINUX_TCP_CA_STATES[info.caState] ?? 0);
  dv.setUint8(2, Math.min(255, info.retransmits));
  dv.setUint8(3, Math.min(255, info.probes));
  dv.setUint8(4, Math.min(255, info.backoff));
  const ws = info.options.windowScale;
  const o = info.options;
  dv.setUint8(
    5,
    (o.timestamps ? 1 : 0) |
      (o.sack ? 2 : 0) |
      (ws ? 4 : 0) |
      (o.ecn ? 8 : 0) |
      (o.ecnSeen ? 16 : 0) |
      (o.synData ? 32 : 0) |
      (o.tfoChild ? 128 : 0),
  );
  if (ws) dv.setUint8(6, (ws.snd & 0xf) | ((ws.rcv & 0xf) << 4));
  if (info.deliveryRateAppLimited) dv.setUint8(7, 1);
  u32(8, info.rto);
  u32(16, info.sndMss);
  u32(20, info.rcvMss);
  u32(24, segs(info.unacked));
  u32(28, segs(info.sacked));
  u32(32, info.lost);
  u32(44, info.lastDataSent !== undefined ? (now - info.lastDataSent) / 1000 : 0);
  u32(52, info.lastDataRecv !== undefined ? (now - info.lastDataRecv) / 1000 : 0);
  u32(68, info.rtt ?? 0);
  u32(72, info.rttvar ?? 0);
  u32(76, Number.isFinite(info.ssthresh) ? packets(info.ssthresh) : 0x7fffffff);
  u32(80, packets(info.cwnd));
  u32(84, info.rcvMss);
  u32(88, info.reordering);
  u32(100, info.totalRetrans);
  // Linux reports ~0ULL for a socket that is not paced (sk_pacing_rate starts at ~0UL).
  dv.setBigUint64(104, info.pacingRate > 0 ? BigInt(Math.floor(info.pacingRate)) : 0xffffffffffffffffn, true);
  dv.setBigUint64(120, BigInt(Math.max(0, Math.floor(info.bytesAcked))), true);
  dv.setBigUint64(128, BigInt(Math.max(0, Math.floor(info.bytesReceived))), true);
  u32(136, info.segsOut);
  u32(140, info.segsIn);
  dv.setBigUint64(160, BigInt(Math.max(0, Math.floor(info.deliveryRate))), true);
  u32(192, segs(info.bytesDelivered));
  u32(196, segs(info.bytesDeliveredCe));
  u32(228, info.sndWnd);
  u32(232, info.rcvWnd);
  return out;
}

/** Reads back the fields `encodeTcpInfo` writes (for programs that got TCP_INFO bytes). */
export function decodeTcpInfo(b: Uint8Array): {
  state: number;
  caState: number;
  reordering: number;
  lost: number;
  lastDataSent: number;
  lastDataRecv: number;
  deliveryRate: bigint;
  delivered: number;
  deliveredCe: number;
  sndWnd: number;
  rcvWnd: number;
  retransmits: number;
  probes: number;
  backoff: number;
  options: number;
  rto: number;
  sndMss: number;
  rcvMss: number;
  unacked: number;
  rtt: number;
  rttvar: number;
  sndCwnd: number;
  totalRetrans: number;
  bytesAcked: bigint;
  bytesReceived: bigint;
  segsOut: number;
  segsIn: number;
} {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    state: dv.getUint8(0),
    caState: dv.getUint8(1),
    reordering: dv.getUint32(88, true),
    lost: dv.getUint32(32, true),
    lastDataSent: dv.getUint32(44, true),
    lastDataRecv: dv.getUint32(52, true),
    deliveryRate: b.byteLength >= 168 ? dv.getBigUint64(160, true) : 0n,
    delivered: b.byteLength >= 196 ? dv.getUint32(192, true) : 0,
    deliveredCe: b.byteLength >= 200 ? dv.getUint32(196, true) : 0,
    sndWnd: b.byteLength >= 232 ? dv.getUint32(228, true) : 0,
    rcvWnd: b.byteLength >= 236 ? dv.getUint32(232, true) : 0,
    retransmits: dv.getUint8(2),
    probes: dv.getUint8(3),
    backoff: dv.getUint8(4),
    options: dv.getUint8(5),
    rto: dv.getUint32(8, true),
    sndMss: dv.getUint32(16, true),
    rcvMss: dv.getUint32(20, true),
    unacked: dv.getUint32(24, true),
    rtt: dv.getUint32(68, true),
    rttvar: dv.getUint32(72, true),
    sndCwnd: dv.getUint32(80, true),
    totalRetrans: dv.getUint32(100, true),
    bytesAcked: dv.getBigUint64(120, true),
    bytesReceived: dv.getBigUint64(128, true),
    segsOut: dv.getUint32(136, true),
    segsIn: dv.getUint32(140, true),
  };
}
