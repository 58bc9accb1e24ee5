#!/usr/bin/env node
// The `sockstack` command. It runs the TypeScript sources directly: tsx's ESM
// loader is registered in this process (tsx/esm/api `register`, which uses
// node:module `register` — Node >= 20.6), then src/cli/main.ts is imported.
// This keeps one process (signals, stdin and exit codes behave) and needs no
// build step. Equivalent to: node --import tsx src/cli/main.ts <args>
import { register } from 'tsx/esm/api';

register();
const { cli } = await import('../src/cli/main.ts');
await cli(process.argv.slice(2));
