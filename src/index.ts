// sockstack core: runs in Node and browsers (no `node:` imports below src/node and src/cli).

export * from './dns/index.ts';
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
