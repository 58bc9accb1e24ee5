// The stack alone, for pages and bundles that want no more: Stack, TCP, UDP, IPv4/IPv6, the
// sockets API, getaddrinfo (with DNS, which dist/browser/stack.js leaves out: see
// src/dns/resolver-absent.ts), loopback, the real-time driver, address parsing. No `node:` imports.
// src/index.ts adds simulated networks (Simulation, Cable, Switch, impairments), packet
// capture, the page links (MessagePort, WebSocket), the VM gateway and the Wisp client;
// dist/browser/stack.js is this file (budgeted at 100 KB gzipped).

// The hosts table; the DNS client's classes (src/dns/message.ts, resolver.ts) are exported by
// src/index.ts, so that dist/browser/stack.js can leave the DNS client out.
export * from './dns/hosts.ts';
export type { Device, LinkType, SimDevice } from './link/device.ts';
export * from './link/loopback.ts';
export * from './link/realtime.ts';
export * from './rand/index.ts';
export * from './socket/index.ts';
export * from './stack.ts';
// Dialect profiles (here rather than in tcp/index.ts while src/tcp is being reshaped).
export { tcpConfigFor } from './tcp/config.ts';
export * from './tcp/index.ts';
export { FREEBSD, LINUX, TCP_PROFILES, type TcpProfile, type TcpProfileName } from './tcp/profile.ts';
export * from './time/index.ts';
// Addresses only: the header codecs (src/wire/index.ts) are exported by src/index.ts, so
// dist/browser/stack.js carries only the codecs the stack itself uses (about 2 KB gzipped less).
export * from './wire/address.ts';
export * from './wire/error.ts';
