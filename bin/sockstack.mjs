#!/usr/bin/env node
// The `sockstack` command. From a built package (dist/, made by `npm run build` and
// `npm pack`) it runs the compiled JavaScript. In a source checkout it runs the
// TypeScript sources directly: tsx's ESM loader is registered in this process
// (tsx/esm/api `register`, node:module `register`, Node >= 20.6), then
// src/cli/main.ts is imported. One process either way, so signals, stdin and exit
// codes behave. Equivalent to: node --import tsx src/cli/main.ts <args>
import { existsSync } from 'node:fs';

const built = new URL('../dist/cli/main.js', import.meta.url);
let cli;
if (existsSync(built)) {
  ({ cli } = await import(built.href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ cli } = await import('../src/cli/main.ts'));
}
await cli(process.argv.slice(2));
