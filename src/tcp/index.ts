// TCP (RFC 9293) public surface.
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
