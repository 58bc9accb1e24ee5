// Wisp v1: the codec, the client multiplexer and the `wisp` socket backend (core: no `node:` imports).
// The server is Node-only: src/node/wisp-server.ts.
export * from './backend.ts';
export * from './client.ts';
export * from './packet.ts';
export * from './reasons.ts';
