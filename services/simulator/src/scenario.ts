import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ValidationError } from '@ami/lib';

/**
 * Declarative scenarios (YAML or JSON), validated with zod. Times are
 * durations from the simulation start ("90s", "1h30m", a number of seconds),
 * an ISO timestamp, or a day of the month in local time ("21st 08:00").
 */

export const SCENARIO_DIR = fileURLToPath(new URL('../scenarios/', import.meta.url));

const DURATION = /^(\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const DAY_OF_MONTH = /^(\d{1,2})(?:st|nd|rd|th) (\d{2}):(\d{2})$/;

/** Milliseconds of "1h30m", "45s", "250ms", "2d" or a number of seconds. */
export function parseDuration(v: string | number): number {
  if (typeof v === 'number') return v * 1000;
  if (!DURATION.test(v))
    throw new ValidationError(`not a duration: ${JSON.stringify(v)} (use e.g. 90s, 15m, 1h30m, 2d)`);
  const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  let total = 0;
  for (const [, n, u] of v.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(n) * unitMs[u!]!;
  return total;
}

const duration = z.union([
  z.number().nonnegative(),
  z.string().regex(DURATION, 'a duration such as 90s, 15m, 1h30m or 2d'),
]);
const never = z.literal('never');
const range = z.tuple([duration, duration]);
const share = z.number().min(0).max(1);
const when = z.union([
  z.number().nonnegative(),
  z.string().refine((s) => DURATION.test(s) || DAY_OF_MONTH.test(s) || !Number.isNaN(Date.parse(s)), {
    message:
      'a duration from the start (1h30m), an ISO timestamp, or a day of month in local time ("21st 08:00")',
  }),
]);

const target = z
  .object({
    region: z.string().optional(),
    ulp: z.string().optional(),
    feeder_id: z.string().optional(),
    gardu_id: z.string().optional(),
    meter_id: z.string().optional(),
    /** Which of the matching units to take, in a seeded shuffle (0 = first). */
    pick: z.number().int().nonnegative().default(0),
  })
  .strict()
  .default({});

const outage = z
  .object({
    type: z.literal('outage'),
    scope: z.enum(['METER', 'GARDU', 'FEEDER', 'REGION']),
    target,
    at: when,
    duration,
  })
  .strict();

const momentaries = z
  .object({
    type: z.literal('momentaries'),
    scope: z.enum(['METER', 'GARDU', 'FEEDER', 'REGION']).default('FEEDER'),
    target,
    count: z.number().int().positive(),
    within: range,
    duration: range.default([2, 60]),
  })
  .strict();

const meterSet = {
  target,
  /** Explicit meter ids, or a share of the AMI meters matching the target. */
  meter_ids: z.array(z.string()).optional(),
  share: share.optional(),
};

const tusbung = z
  .object({
    type: z.literal('tusbung'),
    ...meterSet,
    at: when,
    /** Disconnections are spread over this window (the unit works through its list). */
    spread: duration.default('1h'),
    /** Time from disconnection to payment and reconnect enabled, or never. */
    reconnect_after: z.union([range, duration, never]).default('never'),
    /** Share of disconnected customers who pay (reconnect enabled). */
    reconnect_share: share.default(1),
    /** Time from reconnect enabled to the button press, or never. */
    button_after: z.union([range, duration, never]).default(['2m', '2h']),
    /** Share of reconnect-enabled customers who never press the button (an officer must come). */
    button_never_share: share.default(0),
  })
  .strict();

const powerLimit = z
  .object({
    type: z.literal('power_limit'),
    ...meterSet,
    at: when,
    limit_va: z.number().int().min(100).max(200_000),
    /** Whether the relay trips when the load exceeds the new limit (at the next interval over it). */
    trip: z.boolean().default(true),
    button_after: z.union([range, duration, never]).default(['1m', '30m']),
  })
  .strict();

export const actionSchema = z.discriminatedUnion('type', [outage, momentaries, tusbung, powerLimit]);

const commsKdpm = z
  .object({
    /** Share of last gasps that reach the head-end. */
    last_gasp: share.optional(),
    /** Share of power-restore messages that reach the head-end. */
    restore: share.optional(),
    /** Delivery delay of last gasp / restore, [min, max]. */
    delay: range.optional(),
  })
  .strict();

export const commsSchema = z
  .object({
    default: commsKdpm.optional(),
    L: commsKdpm.optional(),
    R: commsKdpm.optional(),
    S: commsKdpm.optional(),
    F: commsKdpm.optional(),
    /** PLC meters talk through the gardu's concentrator: it dies with the gardu, their last gasps never arrive. */
    plc_concentrator_dies_with_gardu: z.boolean().default(true),
  })
  .strict()
  .default({});

export const scenarioSchema = z
  .object({
    name: z.string().min(1),
    description: z.string().default(''),
    fleet: z
      .object({
        meters: z.number().int().positive().optional(),
        seed: z.union([z.string(), z.number()]).optional(),
        regions: z.array(z.string()).optional(),
        gardu_size: z.tuple([z.number().int().positive(), z.number().int().positive()]).optional(),
        /** Share of AMR (KDPM A) meters (default 0.07). */
        amr_share: share.optional(),
      })
      .strict()
      .default({}),
    start: z
      .string()
      .refine((s) => !Number.isNaN(Date.parse(s)), 'an ISO timestamp')
      .optional(),
    duration: duration.default('1d'),
    interval: duration.default('15m'),
    comms: commsSchema,
    delivery: z
      .object({
        duplicates: share.default(0),
        out_of_order: share.default(0),
        max_delay: duration.default('10m'),
      })
      .strict()
      .default({}),
    clock_skew: z
      .object({ share: share.default(0), max: duration.default('2m') })
      .strict()
      .default({}),
    actions: z.array(actionSchema).default([]),
  })
  .strict();

export type Scenario = z.infer<typeof scenarioSchema>;
export type Action = z.infer<typeof actionSchema>;
export type Target = z.infer<typeof target>;
export type Comms = z.infer<typeof commsSchema>;

/** Validate a parsed document; every problem is listed with its path. */
export function validateScenario(doc: unknown, source = 'scenario'): Scenario {
  const r = scenarioSchema.safeParse(doc);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new ValidationError(`invalid ${source}:\n${lines.join('\n')}`);
}

export function parseScenarioText(text: string, source = 'scenario'): Scenario {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ValidationError(`${source} is not valid YAML/JSON: ${(err as Error).message}`);
  }
  return validateScenario(doc, source);
}

export function listScenarios(): string[] {
  return namedScenarioNames();
}

function namedScenarioNames(): string[] {
  // Kept explicit so a missing file is a test failure, not a silent gap.
  return [
    'demo',
    'ulp-day',
    'regional-blackout',
    'gardu-outage',
    'gardu-outage-lossy',
    'feeder-outage',
    'momentaries',
    'tusbung-campaign',
    'tusbung-during-outage',
    'power-limit-trips',
    'duplicates-out-of-order',
    'mixed-ami-amr',
  ];
}

/** A named scenario from the library, or a path to a YAML/JSON file. */
export function loadScenario(nameOrPath: string): Scenario {
  const named = `${SCENARIO_DIR}${nameOrPath}.yaml`;
  const path = existsSync(named) ? named : nameOrPath;
  if (!existsSync(path)) {
    throw new ValidationError(
      `no scenario ${JSON.stringify(nameOrPath)}: not a file, and not one of ${namedScenarioNames().join(', ')}`,
    );
  }
  return parseScenarioText(readFileSync(path, 'utf8'), path);
}

/** Resolve a `when` to epoch ms, given the simulation start and a UTC offset for local days. */
export function resolveWhen(v: string | number, startMs: number, utcOffsetH = 7): number {
  if (typeof v === 'number' || DURATION.test(v)) return startMs + parseDuration(v);
  const dm = DAY_OF_MONTH.exec(v);
  if (dm) return nextDayOfMonth(startMs, Number(dm[1]), Number(dm[2]), Number(dm[3]), utcOffsetH);
  return Date.parse(v);
}

/** First instant at or after `startMs` that is day `day`, hh:mm local time. */
function nextDayOfMonth(startMs: number, day: number, hh: number, mm: number, utcOffsetH: number): number {
  const local = new Date(startMs + utcOffsetH * 3_600_000);
  for (let k = 0; k < 24; k++) {
    const t = Date.UTC(local.getUTCFullYear(), local.getUTCMonth() + k, day, hh, mm) - utcOffsetH * 3_600_000;
    if (t >= startMs && new Date(t + utcOffsetH * 3_600_000).getUTCDate() === day) return t;
  }
  throw new ValidationError(`no day ${day} of a month within two years of the start`);
}

/** [min, max] ms of a range-or-duration; null for 'never'. */
export function resolveRange(
  v: readonly [string | number, string | number] | string | number,
): [number, number] | null {
  if (v === 'never') return null;
  if (Array.isArray(v)) return [parseDuration(v[0]), parseDuration(v[1])];
  const d = parseDuration(v as string | number);
  return [d, d];
}
