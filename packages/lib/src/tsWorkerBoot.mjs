// Entry of a worker thread that runs a TypeScript module (tsWorker.ts): on Node 20 a worker does
// not inherit the tsx loader of the thread that started it, so it registers its own first.
import { URL, fileURLToPath } from 'node:url';
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../../../tsconfig.json', import.meta.url)) });
await import(workerData.entry);
