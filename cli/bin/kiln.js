#!/usr/bin/env node
// Kiln ships TypeScript sources; tsx compiles them in memory on load, so there is
// no build step between a checkout and a working `kiln`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv);
