import { heapPop, type MeterEvent, type MeterRead } from '@ami/lib';
import type { MeterInfo } from '../topology.js';
import { decide, onAlive, onLastGasp, settleWhenKnown } from './incident.js';
import { publish } from './publish.js';
import {
  earlier,
  factsOf,
  forgetIfIdle,
  gardu,
  meterInfo,
  setRelay,
  stepOf,
  type DetectorState,
  type Emission,
  type RulesContext,
  type Step,
} from './state.js';
import { payOwedStatuses, payStatuses, refreshStatus } from './status.js';

/** A repeated event_id is the same event: it changes nothing. `known`: the meter's topology entry, if looked up. */
export function isDuplicate(
  ctx: RulesContext,
  st: DetectorState,
  ev: MeterEvent,
  known?: MeterInfo,
): boolean {
  const g = st.gardus.get((known ?? ctx.topo.meter(ev.meter_id))?.garduId ?? ev.gardu_id);
  return g !== undefined && g.seen.has(ev.event_id);
}

/** `known`: the meter's topology entry if the caller already looked it up (as of now). Returns it. */
export function applyEvent(
  ctx: RulesContext,
  st: DetectorState,
  ev: MeterEvent,
  out: Emission[],
  known?: MeterInfo,
): MeterInfo {
  const info = known ?? meterInfo(ctx, ev.meter_id);
  const g = gardu(st, info.garduId);
  if (g.seen.has(ev.event_id)) return info;
  const step = stepOf(ctx, st, out);
  payStatuses(step, g);
  g.seen.set(ev.event_id, ev.occurred_at);
  st.dirty.add(g.garduId);
  const t = ev.occurred_at;
  const f = factsOf(g, info.meterId);
  if (ev.relay === 'OPEN' && ev.cause === 'REMOTE_DISCONNECT' && f.relay === 'CLOSED')
    setRelay(f, 'OPEN', 'REMOTE_DISCONNECT', t);
  switch (ev.type) {
    case 'LAST_GASP':
      if (info.ami) onLastGasp(step, g, info, t);
      break;
    case 'POWER_RESTORE':
      onAlive(step, g, info.meterId, t, true);
      break;
    case 'RELAY_OPENED':
      setRelay(f, 'OPEN', ev.cause, t);
      break;
    case 'RELAY_CLOSED':
      setRelay(f, 'CLOSED', ev.cause, t);
      break;
    case 'RECONNECT_ENABLED':
      f.reconnectEnabled = f.relay === 'OPEN';
      break;
    case 'POWER_LIMIT_CHANGED':
      break;
  }
  // Tusbung during an open outage changes its counts.
  if (ev.type.startsWith('RELAY') || ev.type === 'RECONNECT_ENABLED')
    for (const inc of g.incidents) publish(step, g, inc, 'UPDATED');
  refreshStatus(step, g, info.meterId, t);
  return info;
}

/** `known`: the meter's topology entry if the caller already looked it up (as of now). Returns it. */
export function applyRead(
  ctx: RulesContext,
  st: DetectorState,
  read: MeterRead,
  out: Emission[],
  known?: MeterInfo,
): MeterInfo {
  const info = known ?? meterInfo(ctx, read.meter_id);
  const m = info.meterId;
  // Fast path of the steady state: nothing remembered about the meter, no incident at its gardu, relay
  // as expected: the read changes nothing. A gardu is often remembered only for its recent event ids;
  // going on would scan them (forgetIfIdle) at every read of its meters.
  const remembered = st.gardus.get(info.garduId);
  if (
    read.relay === 'CLOSED' &&
    (remembered === undefined ||
      (remembered.incidents.length === 0 &&
        remembered.facts[m] === undefined &&
        remembered.statusesOwedSince === undefined))
  )
    return info;
  const step = stepOf(ctx, st, out);
  const g = remembered ?? gardu(st, info.garduId);
  payStatuses(step, g);
  const f = g.facts[m];
  // The meter knows its relay best; a read fixes a missed relay event.
  let changed = false;
  if ((f?.relay ?? 'CLOSED') !== read.relay) {
    setRelay(factsOf(g, m), read.relay, f?.cause ?? 'NONE', read.read_at);
    changed = true;
  }
  if (onAlive(step, g, m, read.read_at, false)) changed = true;
  // Marks the gardu dirty itself when the status or the remembered facts change.
  refreshStatus(step, g, m, read.read_at);
  if (forgetIfIdle(st, g)) changed = true;
  // A read that changed nothing (e.g. a gardu remembered only for its event ids) needs no new snapshot.
  if (changed) st.dirty.add(g.garduId);
  return info;
}

/** A read or an event, as released by the edge in event-time order. */
export type Input = { kind: 'event'; value: MeterEvent } | { kind: 'read'; value: MeterRead };

export function inputTime(i: Input): number {
  return i.kind === 'event' ? i.value.occurred_at : i.value.read_at;
}

/**
 * One step in event time: timers due before the input fire first, then the
 * input applies. `known`: the meter's topology entry if the caller already
 * looked it up (as of now). Returns the meter's topology entry.
 */
export function applyInput(
  ctx: RulesContext,
  st: DetectorState,
  input: Input,
  out: Emission[],
  known?: MeterInfo,
): MeterInfo {
  if (st.timers.length > 0) fireTimers(stepOf(ctx, st, out), inputTime(input) - 1, Number.POSITIVE_INFINITY);
  if (input.kind === 'event') return applyEvent(ctx, st, input.value, out, known);
  return applyRead(ctx, st, input.value, out, known);
}

/**
 * Fire every timer due at or before `upTo` (event time), in time order, then publish the meter
 * statuses owed, until `out` holds `limit` emissions. Returns false when either is left.
 */
export function advance(
  ctx: RulesContext,
  st: DetectorState,
  upTo: number,
  out: Emission[],
  limit = Number.POSITIVE_INFINITY,
): boolean {
  const step = stepOf(ctx, st, out);
  return fireTimers(step, upTo, limit) && payOwedStatuses(step, limit);
}

function fireTimers(step: Step, upTo: number, limit: number): boolean {
  const st = step.state;
  while (st.timers.length > 0 && st.timers[0]!.dueAt <= upTo) {
    if (step.emissions.length >= limit) return false;
    const timer = heapPop(st.timers, earlier)!;
    const g = st.gardus.get(timer.garduId);
    const inc = g?.incidents.find((i) => i.key === timer.key && i.dueAt === timer.dueAt);
    if (!g || !inc) continue; // stale: the incident moved on
    payStatuses(step, g);
    st.dirty.add(g.garduId);
    if (inc.phase === 'candidate') decide(step, g, inc, timer.dueAt);
    else if (inc.phase === 'settling') settleWhenKnown(step, g, inc, timer.dueAt);
    forgetIfIdle(st, g);
  }
  return true;
}

/** Forget event ids older than the retention; called by the edge now and then. */
export function pruneSeen(ctx: RulesContext, st: DetectorState, watermark: number): void {
  const horizon = watermark - ctx.cfg.DEDUP_RETENTION_MS;
  for (const g of st.gardus.values()) {
    let changed = false;
    for (const [id, at] of g.seen) {
      if (at < horizon) {
        g.seen.delete(id);
        changed = true;
      }
    }
    if (changed) st.dirty.add(g.garduId);
    forgetIfIdle(st, g);
  }
}
