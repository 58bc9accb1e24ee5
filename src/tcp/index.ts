// TCP (RFC 9293) public surface.
//
// The modules, read top-down (each imports only modules below it, never back):
//   layer.ts        the host's TCP: demux, connect/listen, bind, ICMP (icmp.ts), tables
//   listen.ts       LISTEN: SYN queue, accept queue, SYN cookies
//   connection.ts   TcpConnection: the socket-facing API over the TCB
//   timers.ts       timer expiry: one queue entry per connection, runTimers dispatch
//   input.ts        segment arrival in RFC 9293 §3.10.7 order, dispatching to
//     sender.ts     ACK processing, RTT, recovery, send window
//     receiver.ts   text, reassembly, FIN, ACK policy, D-SACK
//   output.ts       what to send now, into env.output (the transmit sink)
//   recovery.ts     what SACK recovery sends: RACK's or RFC 6675's losses, PRR's window
//   rack.ts, prr.ts RACK loss detection (RFC 8985 §6), proportional rate reduction (RFC 6937)
//   rate.ts         delivery-rate samples (tcp_rate.c) from the stamps on rack-log.ts's entries
//   congestion/     NewReno, CUBIC (+ hystart.ts: Linux HyStart, RFC 9406 HyStart++), BBR v1
//                   (bbr.ts, minmax.ts), built by factory.ts from a TCP_CONGESTION name
//   ecn.ts          RFC 3168 ECN: negotiation, ECT(0) marking, CE -> ECE -> CWR, the response
//   tfo.ts          RFC 7413 Fast Open on a connection: the client's SYN data, its SYN-ACK, the
//                   server's choice (fastopen.ts: keyed cookies, the client's cookie cache)
//   frto.ts         RFC 5682 F-RTO: spurious retransmission timeouts, and the undo they allow
//   sndbuf-auto.ts  send-buffer autotuning after an ACK's output step (Linux tcp_sndbuf_expand,
//                   FreeBSD SB_AUTOSIZE); buffers.ts: the profile's sizing at ESTABLISHED
//   rcvbuf-auto.ts  receive-buffer autotuning, DRS (Linux tcp_rcv_rtt_measure on in-order data,
//                   tcp_rcv_space_adjust on reads): the buffer follows what is read per RTT
//   tlp.ts, cc.ts, options.ts, lifecycle.ts   loss probes, congestion context, option
//                   negotiation, terminate/TIME-WAIT
//   tcb.ts          the TCB: data, deadlines, the one timer entry (its storage, and empty
//                   buffers' storage, let go while the connection is idle)
//   shared-options.ts  socket options shared by connections with equal ones, copied on write
//   host.ts, env.ts, events.ts, stats.ts, memory.ts, congestion/types.ts   interfaces
//   seq.ts, state.ts, ring.ts, reassembly.ts, sack.ts, rack-log.ts, rtt.ts, ...   leaves
export { DEFAULT_TCP_CONFIG, type TcpConfig, type TcpSocketOptions } from './config.ts';
export { TcpConnection, type TcpConnectionEvents, type TcpEndpoint } from './connection.ts';
export { type TcpCloseReason, TcpError, type TcpErrorCode } from './errors.ts';
export type { TcpInfo } from './info.ts';
export {
  TcpBinding,
  type TcpBindOptions,
  type TcpConnectOptions,
  type TcpEnv,
  type TcpIcmpKind,
  TcpLayer,
  type TcpListenOptions,
  type TcpStats,
} from './layer.ts';
export { TcpListener } from './listen.ts';
export { TcpMemory } from './memory.ts';
export * from './seq.ts';
