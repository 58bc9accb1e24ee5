// The links a page uses to reach outside itself (bundled on their own as dist/browser/links.js).
export * from './message-port.ts';
export * from './websocket.ts';
