import { z } from 'zod';
import { commonConfigSchema, parseConfig } from '@ami/lib';

/** Configuration of the simulator and the head-end (environment, flags override). */
export const simulatorConfigSchema = commonConfigSchema.extend({
  /** Records per produced batch (reads + events). Larger batches, fewer round trips. */
  SIM_BATCH_SIZE: z.coerce.number().int().min(1).max(500_000).default(25_000),
  /** Partitions of topics the simulator creates when they are missing. */
  SIM_PARTITIONS: z.coerce.number().int().min(1).default(6),
  /** Consumer group of the head-end on ami.commands. */
  HEADEND_GROUP_ID: z.string().min(1).default('ami-headend'),
  /**
   * Wall-clock ms from RECONNECT_ENABLED to the simulated button press; "never"
   * leaves the relay open (an officer must come).
   */
  HEADEND_BUTTON_DELAY_MS: z.union([z.literal('never'), z.coerce.number().int().min(0)]).default(5_000),
});

export type SimulatorConfig = z.infer<typeof simulatorConfigSchema>;

export function loadSimulatorConfig(env: Record<string, string | undefined> = process.env): SimulatorConfig {
  return parseConfig(simulatorConfigSchema, env);
}
