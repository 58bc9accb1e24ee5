#!/usr/bin/env node
// The `sockstack` command. In a source checkout (tsconfig.json beside src/) it runs
// the TypeScript sources directly, so an edit shows at once even after `npm ci`
// built dist/: tsx's ESM loader is registered in this process (tsx/esm/api
// `register`, node:module `register`, Node >= 20.6), then src/cli/main.ts is
// imported. From an installed package (no tsconfig.json, no tsx) it runs the
// compiled JavaScript in dist/. One process either way, so signals, stdin and exit
// codes behave. Equivalent to: node --import tsx src/cli/main.ts <args>
import { existsSync } from 'node:fs';

const checkout = existsSync(new URL('../tsconfig.json', import.meta.url));
const built = new URL('../dist/cli/main.js', import.meta.url);
let cli;
if (!checkout && existsSync(built)) {
  ({ cli } = await import(built.href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ cli } = await import('../src/cli/main.ts'));
}
await cli(process.argv.slice(2));
