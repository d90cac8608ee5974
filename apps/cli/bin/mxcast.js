#!/usr/bin/env node
// The `mxcast` command. Workspace packages are TypeScript sources ("just-in-time packages"),
// so the command loads them through tsx's ESM loader; there is no build step for Node.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv.slice(2));
