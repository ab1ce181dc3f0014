import { z } from 'zod';
import type { CallAction, CallOutcome, CallRecord, ComplaintStatus, MeterProfile } from '@ami/lib';
import { COMPLAINT_TYPES, type Localized, type MessageKey, type Params } from './catalogue.js';
import { text } from './input.js';

/**
 * Logging a CC 123 call as the SOP says, and the life of the complaint it may
 * become. Pure: records are built from plain data, the rules are unit-tested.
 *   call explained and understood  -> ISSUE_CLOSED (closed at first contact, PTL off)
 *   customer objects, unit needed  -> OPEN (forwarded to the ULP, PTL on)
 *   unit staff start work          -> IN_PROGRESS (PTL on)
 *   unit staff close it            -> CLOSED (PTL off, resolution required)
 */

/** The SOP's logging keyword: every call about the programme carries it. */
export const CALL_KEYWORD = 'KWH METER AMI';

export const CALL_OUTCOMES = ['ISSUE_CLOSED', 'FORWARDED_TO_UNIT'] as const satisfies readonly CallOutcome[];

/** `POST /api/calls`: what the agent fills in; who and when come from the session and the clock. */
export const logCallSchema = z
  .object({
    q: text(64).refine((s) => s.trim() !== '', 'IDPEL or meter id required'),
    complaint_type: text(64),
    complaint_subtype: text(64),
    outcome: z.enum(CALL_OUTCOMES),
    notes: text(2000).default(''),
  })
  .strict();
export type LogCallRequest = z.infer<typeof logCallSchema>;

/** `POST /api/complaints/:id/close`. */
export const closeComplaintSchema = z.object({ resolution: text(2000) }).strict();

/** A rule broken by a request: a catalogue message, and the HTTP status it deserves. */
export interface CallRefusal extends Localized {
  status: 400 | 403 | 404 | 409;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; refusal: CallRefusal };
const refuse = <T>(
  status: CallRefusal['status'],
  key: MessageKey,
  params: Params = {},
  keys: Record<string, MessageKey> = {},
): Outcome<T> => ({ ok: false, refusal: { status, key, params, keys } });

/** Type and sub-type must be a pair of the catalogue's list. */
export function checkComplaintType(type: string, subtype: string): CallRefusal | null {
  const known = COMPLAINT_TYPES[type];
  if (known && Object.hasOwn(known.subtypes, subtype)) return null;
  return { status: 400, key: 'error.subtype', params: { type, sub: subtype } };
}

export interface Actor {
  user: string;
  role: string;
  /** ULPs this user works for; empty: every ULP (an administrator). */
  ulps: readonly string[];
}

/** The first record of a call: logged by the agent, closed at CC 123 or forwarded to the ULP. */
export function newCall(
  req: LogCallRequest,
  profile: MeterProfile,
  agent: Actor,
  now: number,
  callId: string,
): Outcome<CallRecord> {
  const bad = checkComplaintType(req.complaint_type, req.complaint_subtype);
  if (bad) return { ok: false, refusal: bad };
  const forwarded = req.outcome === 'FORWARDED_TO_UNIT';
  return {
    ok: true,
    value: {
      call_id: callId,
      idpel: profile.idpel,
      meter_id: profile.meter_id,
      region: profile.region,
      ulp: profile.ulp,
      gardu_id: profile.gardu_id,
      keyword: CALL_KEYWORD,
      complaint_type: req.complaint_type,
      complaint_subtype: req.complaint_subtype,
      outcome: req.outcome,
      status: forwarded ? 'OPEN' : 'ISSUE_CLOSED',
      ptl: forwarded,
      agent: agent.user,
      called_at: now,
      notes: req.notes.trim(),
      action: 'LOGGED',
      actor: agent.user,
      actor_role: agent.role,
      updated_at: now,
      resolution: null,
    },
  };
}

/** Which statuses each unit action may start from, and where it leads. */
const TRANSITIONS: Readonly<
  Record<Exclude<CallAction, 'LOGGED'>, { from: readonly ComplaintStatus[]; to: ComplaintStatus }>
> = {
  WORK_STARTED: { from: ['OPEN'], to: 'IN_PROGRESS' },
  CLOSED: { from: ['OPEN', 'IN_PROGRESS'], to: 'CLOSED' },
};

export function mayWorkOn(actor: Actor, ulp: string): boolean {
  return actor.ulps.length === 0 || actor.ulps.includes(ulp);
}

/**
 * The next record of a forwarded complaint: unit staff of its ULP start work or
 * close it (a resolution is required to close). Anything else is refused.
 */
export function complaintStep(
  current: CallRecord | undefined,
  callId: string,
  action: Exclude<CallAction, 'LOGGED'>,
  actor: Actor,
  now: number,
  resolution: string | null = null,
): Outcome<CallRecord> {
  if (!current || current.outcome !== 'FORWARDED_TO_UNIT')
    return refuse(404, 'error.no_complaint', { id: callId });
  if (!mayWorkOn(actor, current.ulp))
    return refuse(403, 'error.not_your_ulp', { id: callId, ulp: current.ulp });
  const rule = TRANSITIONS[action];
  if (!rule.from.includes(current.status))
    return refuse(
      409,
      'error.transition',
      { id: callId },
      { status: `status.${current.status}`, action: action === 'CLOSED' ? 'action.close' : 'action.work' },
    );
  const text = resolution?.trim() ?? '';
  if (action === 'CLOSED' && text === '') return refuse(400, 'error.resolution_required');
  return {
    ok: true,
    value: {
      ...current,
      status: rule.to,
      ptl: rule.to !== 'CLOSED',
      action,
      actor: actor.user,
      actor_role: actor.role,
      // Strictly after the record it follows: the latest per call_id is decided by updated_at.
      updated_at: Math.max(now, current.updated_at + 1),
      resolution: action === 'CLOSED' ? text : current.resolution,
    },
  };
}

/** Forwarded complaints still needing the unit (PTL on), oldest first, for the ULPs `actor` works for. */
export function openComplaints(calls: Iterable<CallRecord>, actor: Actor): CallRecord[] {
  return [...calls]
    .filter((c) => c.ptl && mayWorkOn(actor, c.ulp))
    .sort((a, b) => a.called_at - b.called_at || a.call_id.localeCompare(b.call_id));
}
