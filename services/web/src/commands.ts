import { z } from 'zod';
import type { MeterCommand, MeterCommandType, MeterProfile } from '@ami/lib';
import { INT32_MAX, parseOr400, text } from './input.js';

/** Lowest power limit a meter takes (VA); the highest is its contracted power (daya). */
export const MIN_POWER_LIMIT_VA = 450;

export const COMMAND_TYPES = ['DISCONNECT', 'ENABLE_RECONNECT', 'SET_POWER_LIMIT', 'READ_NOW'] as const;

const IDPEL = /^\d{12}$/;

/** One request: a meter or a campaign (IDPELs and/or meter ids). */
export interface CommandRequest {
  type: MeterCommandType;
  idpels: string[];
  meter_ids: string[];
  power_limit_va: number | null;
  reason: string | null;
}

/**
 * The body of `POST /api/commands`, checked in full at the edge: whatever
 * passes can be audited in ClickHouse and sent to Kafka (text without control
 * characters or lone surrogates, a power limit that fits the contract's int).
 * Per-meter rules (unknown, AMR, the meter's daya) are refusals, not 400s.
 */
export function commandRequestSchema(maxTargets: number) {
  return z
    .object(
      {
        type: z.enum(COMMAND_TYPES, {
          errorMap: () => ({ message: `type must be one of ${COMMAND_TYPES.join(', ')}` }),
        }),
        idpels: z.array(text(64)).default([]),
        meter_ids: z.array(text(64)).default([]),
        power_limit_va: z
          .number()
          .int('power_limit_va must be a whole number of VA')
          .min(1, 'power_limit_va must be positive')
          .max(INT32_MAX, `power_limit_va must be at most ${INT32_MAX}`)
          .nullable()
          .default(null),
        reason: text(500).nullable().default(null),
      },
      { invalid_type_error: 'the body must be a JSON object' },
    )
    .strict()
    .superRefine((r, ctx) => {
      const n = r.idpels.length + r.meter_ids.length;
      const fail = (message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, message });
      if (n === 0) fail('no meters: give idpels and/or meter_ids');
      if (n > maxTargets) fail(`${n} meters in one request; at most ${maxTargets}: split the campaign`);
      if (r.type === 'SET_POWER_LIMIT' && r.power_limit_va === null)
        fail('SET_POWER_LIMIT needs power_limit_va (VA)');
      if (r.type !== 'SET_POWER_LIMIT' && r.power_limit_va !== null)
        fail(`power_limit_va is only for SET_POWER_LIMIT, not ${r.type}`);
    });
}

/** Validates a request body; refuses the whole request (400) when it cannot be read at all. */
export function parseCommandRequest(body: unknown, maxTargets: number): CommandRequest {
  return parseOr400(commandRequestSchema(maxTargets), body, 'body');
}

export type RefusalCode =
  | 'INVALID_IDPEL'
  | 'UNKNOWN_IDPEL'
  | 'UNKNOWN_METER'
  | 'AMR_METER'
  | 'POWER_LIMIT_OUT_OF_RANGE'
  | 'OUT_OF_SCOPE'
  | 'DUPLICATE';

export interface Refusal {
  /** What the caller asked for: `idpel:<IDPEL>` or `meter:<meter id>`. */
  target: string;
  meter_id: string | null;
  idpel: string | null;
  code: RefusalCode;
  message: string;
}

export interface Accepted {
  target: string;
  meter_id: string;
  idpel: string;
  command: MeterCommand;
}

export interface Plan {
  accepted: Accepted[];
  refused: Refusal[];
}

export interface ProfileLookup {
  byIdpel(idpel: string): MeterProfile | undefined;
  byMeter(meterId: string): MeterProfile | undefined;
}

export interface IssueContext {
  user: string;
  now: number;
  newId: () => string;
  /** Where the user may act (users entry `regions`, `ulps`); empty or absent: everywhere. */
  scope?: { regions?: readonly string[]; ulps?: readonly string[] };
}

/** Why a meter is outside the user's regions or ULPs, or null. */
export function scopeRefusal(
  p: MeterProfile,
  scope: IssueContext['scope'],
): { code: RefusalCode; message: string } | null {
  const outside = (list: readonly string[] | undefined, v: string) =>
    list !== undefined && list.length > 0 && !list.includes(v);
  if (outside(scope?.regions, p.region) || outside(scope?.ulps, p.ulp))
    return {
      code: 'OUT_OF_SCOPE',
      message: `meter ${p.meter_id} (region ${p.region}, ULP ${p.ulp}) is outside the regions/ULPs this user may command`,
    };
  return null;
}

type Resolved = { ok: true; profile: MeterProfile } | { ok: false; code: RefusalCode; message: string };

function resolve(kind: 'idpel' | 'meter', value: string, lookup: ProfileLookup): Resolved {
  if (kind === 'idpel' && !IDPEL.test(value))
    return { ok: false, code: 'INVALID_IDPEL', message: `IDPEL ${JSON.stringify(value)} is not 12 digits` };
  const profile = kind === 'idpel' ? lookup.byIdpel(value) : lookup.byMeter(value);
  if (profile) return { ok: true, profile };
  return kind === 'idpel'
    ? { ok: false, code: 'UNKNOWN_IDPEL', message: `no customer with IDPEL ${value}` }
    : { ok: false, code: 'UNKNOWN_METER', message: `no meter with id ${JSON.stringify(value)}` };
}

/** Why this meter cannot take this command, or null if it can. */
export function meterRefusal(
  p: MeterProfile,
  type: MeterCommandType,
  powerLimitVa: number | null,
): { code: RefusalCode; message: string } | null {
  if (p.kdpm === 'A')
    return {
      code: 'AMR_METER',
      message: `meter ${p.meter_id} (IDPEL ${p.idpel}) is AMR (KDPM A), not AMI: it takes no remote commands`,
    };
  if (
    type === 'SET_POWER_LIMIT' &&
    (powerLimitVa === null || powerLimitVa < MIN_POWER_LIMIT_VA || powerLimitVa > p.daya_va)
  )
    return {
      code: 'POWER_LIMIT_OUT_OF_RANGE',
      message: `power limit ${powerLimitVa} VA is outside ${MIN_POWER_LIMIT_VA}..${p.daya_va} VA (the contracted power) of meter ${p.meter_id}`,
    };
  return null;
}

/**
 * Decides, meter by meter, what is sent and what is refused and why. Every
 * target of the request appears exactly once in `accepted` or `refused`.
 */
export function planCommands(req: CommandRequest, lookup: ProfileLookup, ctx: IssueContext): Plan {
  const plan: Plan = { accepted: [], refused: [] };
  const seen = new Set<string>();
  const targets = [
    ...req.idpels.map((v) => ({ kind: 'idpel' as const, value: v.trim() })),
    ...req.meter_ids.map((v) => ({ kind: 'meter' as const, value: v.trim() })),
  ];
  for (const t of targets) {
    const target = `${t.kind}:${t.value}`;
    const r = resolve(t.kind, t.value, lookup);
    if (!r.ok) {
      plan.refused.push({
        target,
        meter_id: t.kind === 'meter' ? t.value : null,
        idpel: t.kind === 'idpel' ? t.value : null,
        ...r,
      });
      continue;
    }
    const p = r.profile;
    const refusal = seen.has(p.meter_id)
      ? { code: 'DUPLICATE' as const, message: `meter ${p.meter_id} is already in this request` }
      : (scopeRefusal(p, ctx.scope) ?? meterRefusal(p, req.type, req.power_limit_va));
    seen.add(p.meter_id);
    if (refusal) {
      plan.refused.push({ target, meter_id: p.meter_id, idpel: p.idpel, ...refusal });
      continue;
    }
    plan.accepted.push({
      target,
      meter_id: p.meter_id,
      idpel: p.idpel,
      command: {
        command_id: ctx.newId(),
        meter_id: p.meter_id,
        issued_at: ctx.now,
        type: req.type,
        power_limit_va: req.type === 'SET_POWER_LIMIT' ? req.power_limit_va : null,
        issued_by: ctx.user,
        reason: req.reason,
      },
    });
  }
  return plan;
}

/** A campaign file: one IDPEL per line (or separated by commas/spaces); `#` starts a comment. */
export function parseCampaignFile(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.replace(/#.*$/, ''))
    .flatMap((line) => line.split(/[\s,;]+/))
    .filter((s) => s !== '');
}
