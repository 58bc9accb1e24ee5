/**
 * Real links for a stack running in Node: TAP/TUN devices, QEMU/passt socket
 * backends, a UDP tunnel between processes, and namespace helpers for tests.
 */
export {
  configureLink,
  createNetns,
  deleteNetns,
  ip,
  kernelLinkUnavailable,
  type LinkConfig,
  type LinkCounters,
  linkCounters,
  moveLinkToNetns,
  nsExecSync,
  nsSpawn,
  openTapInNetns,
  sweepStaleNetns,
  type TapInNetns,
  type TapInNetnsOptions,
  uniqueName,
} from './netns.ts';
export {
  connectStreamLink,
  DgramLink,
  type DgramLinkOptions,
  dgramLink,
  encodeStreamFrame,
  type LinkOptions,
  type LinkStats,
  listenStreamLink,
  type SocketLink,
  STREAM_MAX_FRAME,
  type StreamAddress,
  StreamDeframer,
  StreamLink,
  type StreamLinkOptions,
  type StreamLinkServer,
  UDP4_MAX_PAYLOAD,
} from './qemu-link.ts';
export { LinkError, openTap, type TapDevice, type TapOptions, type TapStats } from './tap.ts';
export {
  TUNNEL_HEADER_LEN,
  TUNNEL_MAX_FRAME,
  TUNNEL_VERSION,
  type TunnelPeer,
  UdpTunnel,
  type UdpTunnelOptions,
  type UdpTunnelStats,
  udpTunnel,
} from './udp-tunnel.ts';
