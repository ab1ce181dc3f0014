import { Worker, workerData } from 'node:worker_threads';

/**
 * A worker thread running the TypeScript module `entry` (the services run under tsx).
 * The module reads `data` with `tsWorkerData()`.
 */
export function startTsWorker(entry: URL, data: unknown): Worker {
  return new Worker(new URL('./tsWorkerBoot.mjs', import.meta.url), {
    workerData: { entry: entry.href, data },
  });
}

/** Inside a worker started by startTsWorker: the data it was given. */
export function tsWorkerData<T>(): T {
  return (workerData as { data: T }).data;
}
