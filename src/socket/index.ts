/**
 * The BSD sockets API, backend-neutral (no Node imports). The Node entry point
 * (src/node/socket.ts) adds `socket()` with the OS backend as default.
 */
export * from './address.ts';
export type * from './backend.ts';
export * from './constants.ts';
export * from './errno.ts';
export * from './file.ts';
export * from './registry.ts';
export * from './resolve.ts';
export * from './sendfile.ts';
export * from './server.ts';
export * from './socket.ts';
export * from './web-streams.ts';
