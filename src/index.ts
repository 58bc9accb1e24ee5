// sockstack core: runs in Node and browsers (no `node:` imports below src/node and src/cli).

export * from './rand/index.ts';
export * from './time/index.ts';
export * from './wire/address.ts';
export * from './link/index.ts';
