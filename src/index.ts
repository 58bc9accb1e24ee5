// sockstack core: runs in Node and browsers (no `node:` imports below src/node and src/cli).

export * from './dns/index.ts';
// A user-mode gateway for a VM's link: DHCP, DNS forwarding, NAT by termination (docs/gateway.md).
export { DhcpServer, type DhcpServerConfig } from './gateway/dhcp-server.ts';
export type { Dialer, HostDatagram, HostStream } from './gateway/dialer.ts';
export { Gateway, type GatewayOptions, type GatewayStats } from './gateway/gateway.ts';
export * from './link/index.ts';
export * from './rand/index.ts';
export * from './socket/index.ts';
export * from './stack.ts';
// Dialect profiles (here rather than in tcp/index.ts while src/tcp is being reshaped).
export { tcpConfigFor } from './tcp/config.ts';
export * from './tcp/index.ts';
export { FREEBSD, LINUX, TCP_PROFILES, type TcpProfile, type TcpProfileName } from './tcp/profile.ts';
export * from './time/index.ts';
export * from './wire/index.ts';
export * from './wisp/index.ts';
