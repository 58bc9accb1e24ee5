// sockstack core: runs in Node and browsers (no `node:` imports below src/node and src/cli).

// The stack itself (src/core.ts), then what is built on it.
export * from './core.ts';
// The DNS client, message codec and stub resolver, which stack.js leaves out.
export * from './dns/index.ts';
// A user-mode gateway for a VM's link: DHCP, DNS forwarding, NAT by termination (docs/gateway.md).
export { DhcpServer, type DhcpServerConfig } from './gateway/dhcp-server.ts';
export type { Dialer, HostDatagram, HostStream } from './gateway/dialer.ts';
export { Gateway, type GatewayOptions, type GatewayStats } from './gateway/gateway.ts';
// The gateway's way out from a page: Wisp streams through a Wisp server.
export { WispDialer } from './gateway/wisp-dialer.ts';
// Simulated networks: a virtual clock's Simulation, Cable, Switch and their impairments.
export * from './link/impair.ts';
export * from './link/memory.ts';
// Packet capture (pcapng) and the page links: a MessagePort between workers, a WebSocket relay.
export * from './link/message-port.ts';
export * from './link/pcap.ts';
export * from './link/sim.ts';
export * from './link/switch.ts';
// A v86 emulator's network card as a Device (the guest link for a Gateway in a page or Node).
export * from './link/v86.ts';
export * from './link/websocket.ts';
// Virtual host timers: a real-time runtime (and socket timeouts) on a test's virtual clock.
export * from './time/manual-host.ts';
export * from './wire/index.ts';
export * from './wisp/index.ts';
