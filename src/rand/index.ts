export * from './rng.ts';
