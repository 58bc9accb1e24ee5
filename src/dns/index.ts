export * from './hosts.ts';
export * from './message.ts';
export * from './resolver.ts';
