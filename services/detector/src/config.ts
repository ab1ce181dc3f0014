import { hostname } from 'node:os';
import { z } from 'zod';
import { commonConfigSchema, envBoolean, parseConfig, serviceGroupId } from '@ami/lib';

const ms = (def: number) => z.coerce.number().int().min(0).default(def);
const share = (def: number) => z.coerce.number().min(0).max(1).default(def);

/**
 * Every threshold, window and delay of the outage detector. All durations are
 * event-time milliseconds unless the name says wall clock.
 */
const detectorFields = commonConfigSchema.extend({
  /**
   * Consumer group shared by all detector instances of one pipeline; default
   * `<AMI_TOPIC_PREFIX>-detector` (`ami-detector`), so detectors of other
   * prefixes on the same cluster are other groups. The transactional id derives from it.
   */
  DETECTOR_GROUP_ID: z.string().min(1).optional(),
  /** Stable per instance: the transactional id derives from it, so a restarted instance fences its zombie. */
  DETECTOR_INSTANCE_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/)
    .default(hostname().replace(/[^A-Za-z0-9._-]/g, '-')),
  /**
   * An incident is published only once it lasted this long. 300 s is the IEEE 1366
   * momentary bound, so everything restored sooner is momentary and never OPEN.
   */
  CONFIRM_DELAY_MS: ms(300_000),
  /** Fewer last gasps than this is at most a METER outage (1-2 meters). */
  GARDU_MIN_GASPS: z.coerce.number().int().min(1).default(3),
  /** Last-gasp share of the gardu's AMI meters that alone proves a gardu outage. */
  GARDU_GASP_SHARE: share(0.3),
  /** Share of (last gasps + silent meters) that proves a gardu outage once silence is known. */
  GARDU_EVIDENCE_SHARE: share(0.6),
  /** Interval reads are due at multiples of this (contract: 900 s reads). */
  READ_INTERVAL_MS: ms(900_000),
  /** A read for boundary B is missing (the meter is silent) once the watermark passes B + this. */
  READ_GRACE_MS: ms(120_000),
  /** Gardu outages of one feeder starting within this window roll up to one FEEDER outage. */
  FEEDER_WINDOW_MS: ms(120_000),
  /** At least this many gardu outages ... */
  FEEDER_MIN_GARDU: z.coerce.number().int().min(2).default(3),
  /** ... and at least this share of the feeder's gardu make a FEEDER outage. */
  FEEDER_GARDU_SHARE: share(0.5),
  /** Out-of-orderness tolerated: the watermark trails the newest event time by this much. */
  ALLOWED_LATENESS_MS: ms(60_000),
  /** Event ids are remembered this long past the watermark, so late duplicates are recognised. */
  DEDUP_RETENTION_MS: ms(3_600_000),
  /** Wall clock: when every input is caught up this long, the watermark follows the wall clock (0: never). */
  IDLE_ADVANCE_MS: ms(2_000),
  /**
   * Event-time ms per wall-clock ms while every input is idle: 1 live. A replay of recorded traffic
   * at N times real time sets N (the load test does), else each quiet spell between deliveries
   * takes its real length and outages wait for the next delivery.
   */
  IDLE_ADVANCE_RATE: z.coerce.number().positive().default(1),
  /**
   * The transactional producer: `wire` (our wire-protocol client, packages/lib/src/kafkaWire; falls
   * back to kafkajs when SASL is configured, which it does not speak) or `kafkajs`.
   */
  DETECTOR_PRODUCER: z.enum(['wire', 'kafkajs']).default('wire'),
  /**
   * Reads, the bulk of the input, fetched raw off the wire (packages/lib/src/kafkaWire/fetch.ts:
   * no per-record kafkajs objects to build and hold until the watermark releases them); kafkajs
   * keeps the group and fetches events. With and without SASL/TLS, compressed batches included.
   */
  DETECTOR_RAW_FETCH: envBoolean(true),
  /**
   * Inputs released (and outputs emitted) per step, i.e. per transaction: a storm is committed in
   * slices of this size.
   */
  DETECTOR_STEP_LIMIT: z.coerce.number().int().min(1).default(20_000),
  /**
   * Backpressure: with more inputs than this held for the watermark, fetching a topic waits while
   * steps can work some off, or while the watermark waits for the other topic's fetch (behind on
   * the broker). Bounds memory when the inputs arrive faster than the rules take them (a replay at
   * full speed held 5.4 GB without it, 6.3 GB while kafkajs rejoined its group). The topic the
   * watermark waits for never waits.
   */
  DETECTOR_MAX_BUFFERED: z.coerce.number().int().min(1).default(500_000),
  /** Write one JSON line per step (inputs, outputs, held inputs, heap, ms in rules, snapshots, encoding, transaction) to stderr. */
  DETECTOR_TRACE_STEPS: envBoolean(false),
  /**
   * Scale-out without losing the feeder roll-up (README, "Scaling out"): a read or event not on its
   * feeder's partition (`inputPartition` of @ami/lib; a producer using Kafka's default partitioner)
   * is forwarded, in the step's transaction, to `<prefix>.detector-repartition` on that partition and
   * processed when read from there. `false`: processed where it lands (one instance is then still
   * right; several roll a feeder up separately).
   */
  DETECTOR_REPARTITION: envBoolean(true),
  /** Partitions of topics the detector creates when they are missing (tests, local stack). */
  DETECTOR_PARTITIONS: z.coerce.number().int().min(1).default(6),
  /**
   * Event time of an input may run ahead of its Kafka record timestamp by this much (meter and
   * head-end clocks, produce delays). An input further ahead that no other meter confirms is a
   * faulty clock: it goes to the DLQ as `future-dated` and never moves the watermark.
   */
  DETECTOR_MAX_CLOCK_SKEW_MS: z.coerce.number().int().min(0).default(300_000),
  /**
   * Wall-clock ms an input ahead of the fleet waits for another meter to confirm its time (a
   * replay ahead of the wall clock moves every meter; a faulty clock moves one) before it is
   * dead-lettered as `future-dated`.
   */
  DETECTOR_FUTURE_CONFIRM_MS: z.coerce.number().int().min(0).default(30_000),
  /**
   * An input of a meter the meters table does not know (or on another gardu, before its
   * installation) first waits up to this long for the table to reach the meters topic's end: the
   * profile may have been published a moment earlier. Longer counts as Kafka unavailable (retried).
   */
  DETECTOR_METERS_CATCHUP_MS: z.coerce.number().int().positive().default(30_000),
  /**
   * Ping verification (src/pings.ts): a suspected outage the evidence does not settle (1-2 meters,
   * a gardu below the gasp share) is verified by READ_NOW pings through the head-end
   * (`<prefix>.pings`, answers on `<prefix>.command-results`). Pings only make a suspicion
   * VERIFIED or CANCELLED sooner; confirmed outages stay the event-time rule's.
   */
  DETECTOR_PINGS: envBoolean(true),
  /** Budget per suspected outage: READ_NOW commands sent, retries after CONCENTRATOR_BUSY included. */
  PING_MAX_PER_INCIDENT: z.coerce.number().int().min(1).max(100).default(8),
  /** AMI neighbours on the gasping meters' gardu pinged beside them (a deterministic sample). */
  PING_NEIGHBOURS: z.coerce.number().int().min(0).max(50).default(2),
  /** Unanswered pings at once per data concentrator (the PLC meters of one gardu share one). */
  PING_MAX_IN_FLIGHT_PER_CONCENTRATOR: z.coerce.number().int().min(1).default(2),
  /** All pings of this instance, per second (token bucket, burst one second's worth). */
  PING_RATE_PER_S: z.coerce.number().positive().max(10_000).default(20),
  /** Wall clock: a ping refused CONCENTRATOR_BUSY goes again after this times its attempts. */
  PING_BUSY_RETRY_MS: z.coerce.number().int().min(0).default(5_000),
  /**
   * Wall clock: a ping with no result by then is given up (no evidence either way). Longer than
   * the head-end's slowest medium time-out (PLC: tens of seconds plus the concentrator's queue).
   */
  PING_RESULT_TIMEOUT_MS: z.coerce.number().int().positive().default(90_000),
  /**
   * A ping says what a meter is now: evidence further than this from the wall clock (a replay of
   * the past, a simulation ahead of it) is not pinged.
   */
  PING_MAX_EVIDENCE_AGE_MS: z.coerce.number().int().positive().default(120_000),
  /**
   * Wall clock: restoration verification (src/restoration.ts) waits this long after the first sign
   * of supply at a gardu under an open GARDU outage (so the other meters' power restores arrive),
   * then pings its AMI meters that showed no sign of life.
   */
  RESTORE_PING_DELAY_MS: z.coerce.number().int().min(0).default(5_000),
});

export const detectorConfigSchema = detectorFields.transform((c) => ({
  ...c,
  DETECTOR_GROUP_ID: c.DETECTOR_GROUP_ID ?? serviceGroupId(c.AMI_TOPIC_PREFIX, 'detector'),
}));

export type DetectorConfig = z.infer<typeof detectorConfigSchema>;

/** The pure rules' view of the config (no Kafka settings). */
export type RulesConfig = Pick<
  DetectorConfig,
  | 'CONFIRM_DELAY_MS'
  | 'GARDU_MIN_GASPS'
  | 'GARDU_GASP_SHARE'
  | 'GARDU_EVIDENCE_SHARE'
  | 'READ_INTERVAL_MS'
  | 'READ_GRACE_MS'
  | 'FEEDER_WINDOW_MS'
  | 'FEEDER_MIN_GARDU'
  | 'FEEDER_GARDU_SHARE'
  | 'DEDUP_RETENTION_MS'
>;

export function loadDetectorConfig(env: Record<string, string | undefined> = process.env): DetectorConfig {
  return parseConfig(detectorConfigSchema, env);
}

/** The documented defaults, e.g. for unit tests of the rules. */
export const defaultDetectorConfig: DetectorConfig = parseConfig(detectorConfigSchema, {});
