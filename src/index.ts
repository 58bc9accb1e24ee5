// sockstack core: runs in Node and browsers (no `node:` imports below src/node and src/cli).

export type { Device, LinkType, SimDevice } from './link/device.ts';
export * from './rand/index.ts';
export * from './time/index.ts';
export * from './wire/address.ts';
