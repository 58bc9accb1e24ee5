export * from './clock.ts';
export * from './instant.ts';
export * from './system.ts';
export * from './timers.ts';
