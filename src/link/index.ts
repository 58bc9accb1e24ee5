// Links: devices, simulated networks, drivers and packet capture (pure core).
export type { Device, LinkType, SimDevice } from './device.ts';
export * from './impair.ts';
export * from './loopback.ts';
export * from './memory.ts';
export * from './message-port.ts';
export * from './passthrough.ts';
export * from './pcap.ts';
export * from './realtime.ts';
export * from './sim.ts';
export * from './switch.ts';
export * from './websocket.ts';
