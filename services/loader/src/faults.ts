import { z } from 'zod';
import { envBoolean, parseConfig } from '@ami/lib';

/**
 * Fault injection for the crash tests, kept out of the loader's configuration (config.ts): read
 * from the environment here and only by `ami loader run`; never set in production.
 */
const loaderFaultsSchema = z.object({
  /** Exit (code 3) right after the first accepted insert, before its offsets are committed. */
  LOADER_FAULT_EXIT_AFTER_INSERT: envBoolean(false),
});

export type LoaderFaults = z.infer<typeof loaderFaultsSchema>;

export const NO_FAULTS: LoaderFaults = { LOADER_FAULT_EXIT_AFTER_INSERT: false };

export function loadLoaderFaults(env: Record<string, string | undefined> = process.env): LoaderFaults {
  return parseConfig(loaderFaultsSchema, env);
}
