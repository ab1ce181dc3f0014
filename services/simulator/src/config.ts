import { z } from 'zod';
import { commonConfigSchema, parseConfig, serviceGroupId } from '@ami/lib';

/** Configuration of the simulator and the head-end (environment, flags override). */
const simulatorFields = commonConfigSchema.extend({
  /** Records per produced batch (reads + events). Larger batches, fewer round trips. */
  SIM_BATCH_SIZE: z.coerce.number().int().min(1).max(500_000).default(25_000),
  /** Partitions of topics the simulator creates when they are missing. */
  SIM_PARTITIONS: z.coerce.number().int().min(1).default(6),
  /**
   * Consumer group of the head-end on `<prefix>.commands`; default `<AMI_TOPIC_PREFIX>-headend`
   * (`ami-headend`), so head-ends of other prefixes on the same cluster never share it.
   */
  HEADEND_GROUP_ID: z.string().min(1).optional(),
  /**
   * Wall-clock ms from RECONNECT_ENABLED to the simulated button press; "never"
   * leaves the relay open (an officer must come).
   */
  HEADEND_BUTTON_DELAY_MS: z.union([z.literal('never'), z.coerce.number().int().min(0)]).default(5_000),
  /**
   * Multiplies every medium's ping latency and time-out (src/media.ts): 1 is the
   * table; tests run the media faster (e.g. 0.05). Wall-clock only, never event time.
   */
  HEADEND_LATENCY_SCALE: z.coerce.number().positive().max(10).default(1),
  /** Pings one PLC data concentrator (one per gardu) has in flight at once. */
  HEADEND_CONCENTRATOR_IN_FLIGHT: z.coerce.number().int().min(1).default(8),
  /** Pings waiting for a concentrator slot; one more is refused CONCENTRATOR_BUSY. */
  HEADEND_CONCENTRATOR_QUEUE: z.coerce.number().int().min(0).default(64),
  /** Seed of the pings' latency and loss draws (with the command id: the same command draws the same). */
  HEADEND_SEED: z.coerce.number().int().min(0).default(1),
});

export const simulatorConfigSchema = simulatorFields.transform((c) => ({
  ...c,
  HEADEND_GROUP_ID: c.HEADEND_GROUP_ID ?? serviceGroupId(c.AMI_TOPIC_PREFIX, 'headend'),
}));

export type SimulatorConfig = z.infer<typeof simulatorConfigSchema>;

export function loadSimulatorConfig(env: Record<string, string | undefined> = process.env): SimulatorConfig {
  return parseConfig(simulatorConfigSchema, env);
}
