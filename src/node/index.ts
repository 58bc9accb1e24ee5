// sockstack/node: Node-only adapters — the OS socket backend, TAP/TUN, QEMU/UDP links, pcap files,
// and net.Socket-compatible adapters so node:http, https/tls, undici and ws run over a stack.
export * from './agents.ts';
// `sockstack gateway` as a library: a QEMU guest's network over host sockets (docs/gateway.md).
export { type RunningGateway, type StartGatewayOptions, startGateway } from './gateway.ts';
export { OsDialer, streamOver } from './gateway-dialer.ts';
export * from './links.ts';
export * from './net-adapter.ts';
export * from './net-facade.ts';
export * from './pcap-file.ts';
export * from './relay.ts';
export * from './runtime.ts';
export * from './socket.ts';
export * from './stack-backend.ts';
export * from './tap-stack.ts';
// The same for a v86 emulator in this process (its network card on a V86Link).
export { startV86Gateway, type V86Gateway, type V86GatewayOptions } from './v86-gateway.ts';
export * from './wisp-client.ts';
export * from './wisp-policy.ts';
export * from './wisp-server.ts';
