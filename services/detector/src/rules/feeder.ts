import { ableGaspShare, evidence, verdict } from './evidence.js';
import { digestOf, placeOf } from './records.js';
import type {
  ChildFigures,
  DetectorState,
  FeederOutage,
  GarduState,
  Incident,
  OutageRecord,
  RulesContext,
  Step,
} from './state.js';

/**
 * When enough gardu of one feeder go out together, a FEEDER outage becomes the
 * parent. Counts this gardu, open unparented gardu outages and gardu whose
 * last gasps already qualify, all starting within the feeder window. A gardu
 * outage starting while the feeder's outage is open joins it, however late its
 * evidence came (one feeder outage at a time). Returns the already-open gardu
 * outages that just got the new parent.
 */
export function rollUpToFeeder(
  step: Step,
  g: GarduState,
  inc: Incident,
  now: number,
): Array<[GarduState, Incident]> {
  const feederId = placeOf(step, g.garduId).feederId;
  const win = step.cfg.FEEDER_WINDOW_MS;
  const existing = step.state.feeders.get(feederId);
  if (existing) {
    if (inc.startedAt >= existing.startedAt - win) inc.parentId = existing.outageId;
    return [];
  }
  const group: Array<[GarduState, Incident]> = [];
  for (const other of step.topo.feederGardus(feederId)) {
    const og = other === g.garduId ? undefined : step.state.gardus.get(other);
    const oi = og?.incidents.find(
      (i) => Math.abs(i.startedAt - inc.startedAt) <= win && joinsFeeder(step, og, i, now),
    );
    if (og && oi) group.push([og, oi]);
  }
  if (!makesFeeder(step, group.length + 1, step.topo.feederGardus(feederId).size)) return [];
  const startedAt = Math.min(inc.startedAt, ...group.map(([, i]) => i.startedAt));
  const feeder: FeederOutage = {
    outageId: `FEEDER-${feederId}-${startedAt}`,
    feederId,
    startedAt,
    confirmedAt: now,
    restoredAt: null,
    children: {},
    rev: 0,
    shown: null,
  };
  step.state.feeders.set(feederId, feeder);
  inc.parentId = feeder.outageId;
  const joined = group.filter(([, oi]) => oi.phase === 'open');
  for (const [, oi] of joined) oi.parentId = feeder.outageId;
  return joined;
}

/**
 * A momentary of several gardu of one feeder is one FEEDER momentary (the same
 * roll-up rule as sustained outages); the gardu records name it as parent.
 */
export function feederMomentary(
  step: Step,
  g: GarduState,
  inc: Incident,
  backAt: number,
  now: number,
): string | null {
  const place = placeOf(step, g.garduId);
  const win = step.cfg.FEEDER_WINDOW_MS;
  const known = step.state.feederMomentaries.get(place.feederId);
  if (known && Math.abs(known.startedAt - inc.startedAt) <= win) return known.outageId;
  const group = [...step.topo.feederGardus(place.feederId)].filter((other) => {
    if (other === g.garduId) return true;
    const og = step.state.gardus.get(other);
    return (
      og?.incidents.some(
        (i) => Math.abs(i.startedAt - inc.startedAt) <= win && joinsFeeder(step, og, i, now),
      ) ?? false
    );
  });
  if (!makesFeeder(step, group.length, step.topo.feederGardus(place.feederId).size)) return null;
  const startedAt = Math.min(
    inc.startedAt,
    ...group
      .flatMap((id) => step.state.gardus.get(id)?.incidents.map((i) => i.startedAt) ?? [])
      .filter((t) => Math.abs(t - inc.startedAt) <= win),
  );
  const outageId = `FEEDER-${place.feederId}-${startedAt}`;
  step.state.feederMomentaries.set(place.feederId, { outageId, startedAt });
  let customersTotal = 0;
  for (const id of step.topo.feederGardus(place.feederId)) customersTotal += step.topo.garduMeters(id).size;
  let affected = 0;
  for (const id of group) affected += step.topo.garduMeters(id).size;
  step.emissions.push({
    to: 'momentary',
    record: {
      outage_id: outageId,
      scope: 'FEEDER',
      status: 'RESTORED',
      region: place.region,
      ulp: place.ulp,
      feeder_id: place.feederId,
      gardu_id: null,
      meter_ids: [],
      parent_outage_id: null,
      started_at: startedAt,
      confirmed_at: backAt,
      restored_at: backAt,
      customers_affected: affected,
      customers_total: customersTotal,
      last_gasps: group.reduce(
        (s, id) =>
          s +
          Object.keys(
            step.state.gardus.get(id)?.incidents.find((i) => Math.abs(i.startedAt - inc.startedAt) <= win)
              ?.gasps ?? {},
          ).length,
        0,
      ),
      tusbung_excluded: 0,
      customers_interrupted: 0,
      customer_interruption_s: 0,
    },
  });
  return outageId;
}

/**
 * The gardu went dark with its feeder: GARDU_GASP_SHARE of its meters able to send a last gasp with the
 * gardu dark did (AMI but not PLC, whose data concentrator dies with the gardu), and its feeder is dark
 * as a whole around that moment by the roll-up rule. Too few meters could gasp for the gardu rule alone (a
 * gardu of 3 meters, 2 of them PLC: 1 last gasp, below GARDU_MIN_GASPS), and a momentary ends before a
 * read could fall silent: without this its PLC customers' interruption went uncounted.
 */
export function darkWithFeeder(step: Step, g: GarduState, inc: Incident, now: number): boolean {
  return ableGaspShare(step, g, inc).proves && feederDarkAround(step, g, inc.startedAt, now);
}

/** A FEEDER outage or momentary of the gardu's feeder at `t`, or enough of its other gardu dark then to make one. */
function feederDarkAround(step: Step, g: GarduState, t: number, now: number): boolean {
  const feederId = placeOf(step, g.garduId).feederId;
  const win = step.cfg.FEEDER_WINDOW_MS;
  const open = step.state.feeders.get(feederId);
  if (open && t >= open.startedAt - win) return true;
  const blink = step.state.feederMomentaries.get(feederId);
  if (blink && Math.abs(blink.startedAt - t) <= win) return true;
  const gardus = step.topo.feederGardus(feederId);
  let dark = 1;
  for (const other of gardus) {
    const og = other === g.garduId ? undefined : step.state.gardus.get(other);
    if (og?.incidents.some((i) => Math.abs(i.startedAt - t) <= win && garduWideOrJoining(step, og, i, now)))
      dark++;
  }
  return makesFeeder(step, dark, gardus.size);
}

/** The roll-up rule: `dark` gardu of a feeder of `total` are a FEEDER outage (or momentary). */
function makesFeeder(ctx: RulesContext, dark: number, total: number): boolean {
  return dark >= ctx.cfg.FEEDER_MIN_GARDU && dark / total >= ctx.cfg.FEEDER_GARDU_SHARE;
}

/** Decided gardu-wide (open, restored or a momentary settling), or a candidate whose last gasps prove it. */
function garduWideOrJoining(ctx: RulesContext, g: GarduState, i: Incident, now: number): boolean {
  return i.phase === 'candidate' ? joinsFeeder(ctx, g, i, now) : i.scope === 'GARDU';
}

function joinsFeeder(ctx: RulesContext, g: GarduState, i: Incident, now: number): boolean {
  if (i.phase === 'open') return i.scope === 'GARDU' && i.parentId === null;
  return (
    i.phase === 'candidate' &&
    verdict(ctx.cfg, { ...evidence(ctx, g, i, now), silenceKnown: false }) === 'GARDU'
  );
}

export function feederOf(st: DetectorState, r: OutageRecord): FeederOutage | undefined {
  const f = r.parent_outage_id === null ? undefined : st.feeders.get(r.feeder_id);
  return f && f.outageId === r.parent_outage_id ? f : undefined;
}

/**
 * The feeder's supply is back when the children still dark no longer make a feeder outage by the
 * roll-up rule: restored at the child restore that made them too few. Null while they still do.
 */
function feederRestoredAt(ctx: RulesContext, feeder: FeederOutage): number | null {
  const kids = Object.values(feeder.children);
  const gardus = ctx.topo.feederGardus(feeder.feederId).size;
  const ends = kids.flatMap((c) => (c.restoredAt === null ? [] : [c.restoredAt])).sort((a, b) => a - b);
  let dark = kids.length;
  for (const at of ends) {
    dark--;
    if (!makesFeeder(ctx, dark, gardus)) return at;
  }
  return null;
}

/**
 * OPEN on creation, UPDATED as children change, RESTORED when its supply is back (feederRestoredAt);
 * gardu outages still dark then stay open as its children and are restored on their own.
 */
export function publishFeeder(step: Step, feeder: FeederOutage): void {
  const kids = Object.values(feeder.children);
  const sum = (f: (c: ChildFigures) => number) => kids.reduce((s, c) => s + f(c), 0);
  const restoredAt = feederRestoredAt(step, feeder);
  const anyGardu = step.topo.feederGardus(feeder.feederId).values().next().value;
  const where = anyGardu === undefined ? { region: '', ulp: '' } : placeOf(step, anyGardu);
  let customersTotal = 0;
  for (const garduId of step.topo.feederGardus(feeder.feederId))
    customersTotal += step.topo.garduMeters(garduId).size;
  const record: OutageRecord = {
    outage_id: feeder.outageId,
    scope: 'FEEDER',
    status: feeder.shown === null ? 'OPEN' : restoredAt !== null ? 'RESTORED' : 'UPDATED',
    region: where.region,
    ulp: where.ulp,
    feeder_id: feeder.feederId,
    gardu_id: null,
    meter_ids: [],
    parent_outage_id: null,
    started_at: feeder.startedAt,
    confirmed_at: feeder.confirmedAt,
    restored_at: restoredAt,
    customers_affected: sum((c) => c.affected),
    customers_total: customersTotal,
    last_gasps: sum((c) => c.lastGasps),
    tusbung_excluded: sum((c) => c.tusbung),
    customers_interrupted: 0,
    customer_interruption_s: 0,
  };
  // A child changed (publish), even when the record shows nothing new: a new revision to carry.
  feeder.rev++;
  for (const child of snapshotsCarrying(feeder, restoredAt !== null)) step.state.dirty.add(child);
  const digest = digestOf(record);
  if (digest === feeder.shown) return;
  feeder.shown = digest;
  step.emissions.push({ to: 'outages', record });
  if (restoredAt !== null) step.state.feeders.delete(feeder.feederId);
}

/**
 * The gardu whose snapshots must be written again for a new revision of `feeder` (a restart keeps
 * the highest revision any child's snapshot holds, loadGardu). One carries it: the first child still
 * out, which is not forgotten before it is back, by when it has handed over to the next. Its end
 * needs every child (an older snapshot would bring it back), as does a feeder none of whose children
 * is still out. Every child at every revision wrote each gardu of a feeder once for every sibling
 * confirmed after it: at 1.2 M meters, 1,500 snapshots a step instead of 150.
 */
function snapshotsCarrying(feeder: FeederOutage, ended: boolean): string[] {
  let carrier: string | undefined;
  if (!ended)
    for (const [garduId, child] of Object.entries(feeder.children))
      if (child.restoredAt === null && (carrier === undefined || garduId < carrier)) carrier = garduId;
  return carrier === undefined ? Object.keys(feeder.children) : [carrier];
}
