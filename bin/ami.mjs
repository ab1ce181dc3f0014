#!/usr/bin/env node
// `npx ami ...`: runs the TypeScript CLI through tsx.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));
const r = spawnSync(tsx, [`${root}packages/cli/src/ami.ts`, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
