export * from './clock.ts';
export * from './instant.ts';
export * from './manual-host.ts';
export * from './system.ts';
export * from './timers.ts';
