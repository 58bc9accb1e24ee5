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

/** Size of the `struct tcp_info` prefix we fill (through tcpi_segs_in). */
export const TCP_INFO_SIZE = 144;

/**
 * Encodes a snapshot as Linux's `struct tcp_info` (little-endian, the first 144
 * bytes: through tcpi_segs_in), so code written against getsockopt(TCP_INFO) on
 * Linux reads the same fields: tcpi_state (u8 @0), tcpi_retransmits (@2),
 * tcpi_probes (@3), tcpi_backoff (@4), tcpi_options (@5), wscales (@6),
 * tcpi_rto (u32 µs @8), tcpi_snd_mss (@16), tcpi_rcv_mss (@20), tcpi_unacked
 * (segments @24), tcpi_sacked (@28), tcpi_lost (@32), tcpi_last_data_sent (ms ago
 * @44), tcpi_last_data_recv (@52), tcpi_rtt (µs @68), tcpi_rttvar (@72),
 * tcpi_snd_ssthresh (segments @76), tcpi_snd_cwnd (segments @80), tcpi_advmss
 * (@84), tcpi_total_retrans (@100), tcpi_bytes_acked (u64 @120),
 * tcpi_bytes_received (u64 @128), tcpi_segs_out (@136), tcpi_segs_in (@140).
 */
export function encodeTcpInfo(info: TcpInfo | undefined, now: number, state = 'CLOSED'): Uint8Array {
  const out = new Uint8Array(TCP_INFO_SIZE);
  const dv = new DataView(out.buffer);
  if (!info) {
    dv.setUint8(0, LINUX_TCP_STATES[state] ?? 7);
    return out;
  }
  const mss = Math.max(1, info.mss);
  const segs = (b: number): number => Math.min(0xffffffff, Math.ceil(b / mss));
  const u32 = (off: number, v: number): void =>
    dv.setUint32(off, Math.max(0, Math.min(0xffffffff, Math.round(v))), true);
  dv.setUint8(0, LINUX_TCP_STATES[info.state] ?? 7);
  dv.setUint8(2, Math.min(255, info.retransmits));
  dv.setUint8(3, Math.min(255, info.probes));
  dv.setUint8(4, Math.min(255, info.backoff));
  const ws = info.options.windowScale;
  dv.setUint8(5, (info.options.timestamps ? 1 : 0) | (info.options.sack ? 2 : 0) | (ws ? 4 : 0));
  if (ws) dv.setUint8(6, (ws.snd & 0xf) | ((ws.rcv & 0xf) << 4));
  u32(8, info.rto);
  u32(16, info.mss);
  u32(20, info.rcvMss);
  u32(24, segs(info.unacked));
  u32(28, segs(info.sacked));
  u32(32, info.lost);
  u32(44, info.lastDataSent !== undefined ? (now - info.lastDataSent) / 1000 : 0);
  u32(52, info.lastDataRecv !== undefined ? (now - info.lastDataRecv) / 1000 : 0);
  u32(68, info.rtt ?? 0);
  u32(72, info.rttvar ?? 0);
  u32(76, Number.isFinite(info.ssthresh) ? segs(info.ssthresh) : 0x7fffffff);
  u32(80, segs(info.cwnd));
  u32(84, info.rcvMss);
  u32(100, info.totalRetrans);
  dv.setBigUint64(120, BigInt(Math.max(0, Math.floor(info.bytesAcked))), true);
  dv.setBigUint64(128, BigInt(Math.max(0, Math.floor(info.bytesReceived))), true);
  u32(136, info.segsOut);
  u32(140, info.segsIn);
  return out;
}

/** Reads back the fields `encodeTcpInfo` writes (for programs that got TCP_INFO bytes). */
export function decodeTcpInfo(b: Uint8Array): {
  state: number;
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
