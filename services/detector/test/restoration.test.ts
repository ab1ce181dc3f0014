import { describe, expect, it } from 'vitest';
import type { CommandResult } from '@ami/lib';
import { defaultDetectorConfig } from '../src/config.js';
import { decodeSnapshot, encodeSnapshot } from '../src/changelog.js';
import { PingVerifier } from '../src/pings.js';
import {
  recordPingSilence,
  restorationKey,
  restorationTargets,
  RestorationWatch,
  type SilentPing,
} from '../src/restoration.js';
import {
  newSuspicionState,
  openSuspicions,
  settleByRecords,
  suspectNested,
  sweep,
  type NestedSuspect,
  type SuspicionRecord,
  type SuspicionState,
} from '../src/suspicion.js';
import {
  garduOutageId,
  meterOutageId,
  loadGardu,
  newDetectorState,
  snapshotGardu,
  type OutageRecord,
} from '../src/rules.js';
import { MIN, T0, World, event, gasps, meterId, range, read, reads, restores } from './world.js';

const G = 'G1';
const cfg = defaultDetectorConfig;
/** The gardu's restore, 30 minutes after its outage began (between read boundaries). */
const BACK = T0 + 30 * MIN;
const NEXT_READ = Math.ceil(BACK / (15 * MIN)) * 15 * MIN;
/** When a read is missing after the restore: the nested outage's confirmation without pings. */
const SILENCE_KNOWN = NEXT_READ + cfg.READ_GRACE_MS;
/** A PLC ping sent 5 s after the restore, given up after its 40 s time-out. */
const SENT = BACK + 5_000;
const TIMED_OUT = SENT + 40_000;

const silent = (i: number, sentAt = SENT, at = TIMED_OUT): SilentPing => ({
  garduId: G,
  meterId: meterId(G, i),
  sentAt,
  at,
});

/** Gardu G1, 10 AMI meters, all dark at T0; at BACK supply returns, meters 2-9 send a power restore. */
function restoredGardu(): World {
  return new World([{ id: G, meters: 10 }])
    .feed([...gasps(G, range(0, 10), T0), ...restores(G, range(2, 10), BACK)])
    .until(BACK + 2_000);
}

const nestedOf = (w: World): OutageRecord[] => w.outages().filter((o) => o.scope === 'METER');

/** A record without its confirmation time (the one field restoration pings change). */
const sansConfirmation = ({ confirmed_at: _c, ...rest }: OutageRecord) => rest;

describe('restoration pings as event-time evidence in the rules', () => {
  it('meters still dark and silent on their pings become the nested METER outage at the time-out, not at the next read', () => {
    const pinged = restoredGardu();
    for (const i of [0, 1]) expect(recordPingSilence(pinged.st, silent(i), BACK + 2_000)).toBe('RECORDED');
    pinged.until(TIMED_OUT);
    const [nested, ...more] = nestedOf(pinged);
    expect(more).toEqual([]);
    expect(nested).toMatchObject({
      status: 'OPEN',
      parent_outage_id: garduOutageId(G, T0),
      meter_ids: [meterId(G, 0), meterId(G, 1)],
      started_at: T0,
      confirmed_at: TIMED_OUT,
    });
    expect(TIMED_OUT - BACK).toBeLessThanOrEqual(60_000);

    // Without pings: the same outage (id, members, counts), confirmed once the next read is missing.
    const unpinged = restoredGardu().until(SILENCE_KNOWN);
    expect(nestedOf(unpinged).map(sansConfirmation)).toEqual([sansConfirmation(nested!)]);
    expect(nestedOf(unpinged)[0]!.confirmed_at).toBe(SILENCE_KNOWN);

    // Both end alike when the meters come back: the same RESTORED record and customer-seconds.
    const back = [
      event(meterId(G, 0), 'POWER_RESTORE', BACK + 40 * MIN),
      read(meterId(G, 1), BACK + 41 * MIN),
    ];
    pinged.feed(back).until(BACK + 45 * MIN);
    unpinged.feed(back).until(BACK + 45 * MIN);
    const restored = (w: World) => sansConfirmation(nestedOf(w).at(-1)!);
    expect(nestedOf(pinged).at(-1)).toMatchObject({ status: 'RESTORED', restored_at: BACK + 41 * MIN });
    expect(restored(pinged)).toEqual(restored(unpinged));
  });

  it('a meter that answers (its ON_DEMAND read) after the others were silent is left out, judged at its answer', () => {
    const w = restoredGardu();
    for (const i of [0, 1]) recordPingSilence(w.st, silent(i), BACK + 2_000);
    // Meter 2 lost its power restore; its ping waited for the concentrator and answered later.
    const w2 = new World([{ id: G, meters: 10 }])
      .feed([...gasps(G, range(0, 10), T0), ...restores(G, range(3, 10), BACK)])
      .until(BACK + 2_000);
    for (const i of [0, 1]) recordPingSilence(w2.st, silent(i), BACK + 2_000);
    w2.until(TIMED_OUT);
    expect(nestedOf(w2)).toEqual([]); // meter 2 is neither alive nor proven silent yet
    w2.feed([read(meterId(G, 2), TIMED_OUT + 9_000)]).until(TIMED_OUT + 10_000);
    expect(nestedOf(w2)).toMatchObject([
      { meter_ids: [meterId(G, 0), meterId(G, 1)], confirmed_at: TIMED_OUT + 9_000 },
    ]);
    expect(
      w
        .until(TIMED_OUT)
        .outages()
        .filter((o) => o.scope === 'METER'),
    ).toHaveLength(1);
  });

  it('every meter back: answers (ON_DEMAND reads) before the time-out of a silent ping open nothing', () => {
    const w = restoredGardu();
    recordPingSilence(w.st, silent(0), BACK + 2_000); // its exchange was lost; a read came meanwhile
    w.feed([read(meterId(G, 0), BACK + 20_000), read(meterId(G, 1), BACK + 21_000)]).until(TIMED_OUT);
    expect(w.st.gardus.get(G)?.incidents ?? []).toEqual([]); // settled at the time-out
    w.until(SILENCE_KNOWN + 10 * MIN);
    expect(nestedOf(w)).toEqual([]);
    expect(w.st.gardus.get(G)?.incidents ?? []).toEqual([]);
  });

  it('until every meter without a sign of life is proven silent, the next read decides (as without pings)', () => {
    const w = restoredGardu();
    recordPingSilence(w.st, silent(0), BACK + 2_000); // meter 1 was not pinged (budget) or not answered
    w.until(SILENCE_KNOWN - 1);
    expect(nestedOf(w)).toEqual([]);
    w.until(SILENCE_KNOWN);
    expect(nestedOf(w)).toMatchObject([
      { meter_ids: [meterId(G, 0), meterId(G, 1)], confirmed_at: SILENCE_KNOWN },
    ]);
  });

  it('a ping sent before the restore proves nothing about the meter after it', () => {
    const w = restoredGardu();
    for (const i of [0, 1]) recordPingSilence(w.st, silent(i, BACK - 1_000, BACK + 39_000), BACK - 30_000);
    w.until(SILENCE_KNOWN - 1);
    expect(nestedOf(w)).toEqual([]);
  });

  it('a silence whose time-out the watermark has passed (its result came late) counts from the watermark on, not at the next read', () => {
    const late = TIMED_OUT + 20_000;
    const w = restoredGardu().until(late);
    for (const i of [0, 1]) expect(recordPingSilence(w.st, silent(i), late)).toBe('LATE');
    expect(nestedOf(w)).toEqual([]); // never in the rules' past
    w.until(late + 1);
    expect(nestedOf(w)).toMatchObject([
      { meter_ids: [meterId(G, 0), meterId(G, 1)], started_at: T0, confirmed_at: late + 1 },
    ]);
    // A sign of life the rules saw before it arrived still wins over it.
    const answered = restoredGardu()
      .feed([read(meterId(G, 1), TIMED_OUT + 5_000)])
      .until(late);
    for (const i of [0, 1]) recordPingSilence(answered.st, silent(i), late);
    answered.until(late + 1);
    expect(nestedOf(answered)).toMatchObject([{ meter_ids: [meterId(G, 0)], confirmed_at: late + 1 }]);
  });

  it('a silence where no gardu outage is restoring changes nothing', () => {
    const w = restoredGardu();
    const before = encodeSnapshot(snapshotGardu(w.st, G)!);
    expect(recordPingSilence(w.st, { ...silent(0), garduId: 'G9' }, BACK)).toBe('NO_OUTAGE');
    expect(encodeSnapshot(snapshotGardu(w.st, G)!)).toBe(before);
  });

  it('the evidence recorded before the restore is applied (arrival runs ahead of the watermark)', () => {
    const w = new World([{ id: G, meters: 10 }]).feed(gasps(G, range(0, 10), T0)).until(BACK - 60_000);
    for (const i of [0, 1]) expect(recordPingSilence(w.st, silent(i), BACK - 60_000)).toBe('RECORDED');
    w.feed(restores(G, range(2, 10), BACK)).until(TIMED_OUT);
    expect(nestedOf(w)).toMatchObject([
      { confirmed_at: TIMED_OUT, meter_ids: [meterId(G, 0), meterId(G, 1)] },
    ]);
  });

  it('is saved with the gardu: a restart from the snapshot gives the same records', () => {
    const run = restoredGardu();
    for (const i of [0, 1]) recordPingSilence(run.st, silent(i), BACK + 2_000);
    const snap = encodeSnapshot(snapshotGardu(run.st, G)!);
    const emittedBefore = run.out.length;
    run.until(TIMED_OUT);

    const restarted = new World([{ id: G, meters: 10 }]);
    loadGardu(restarted.st, decodeSnapshot(snap));
    restarted.until(TIMED_OUT);
    expect(restarted.out).toEqual(run.out.slice(emittedBefore));
    expect(newDetectorState().gardus.size).toBe(0);
  });
});

describe('which meters a restoration pings', () => {
  it('the meters without a sign of life, those that gasped first, within the budget', () => {
    // 10 meters; 0-5 gasped (6-9 lost theirs); 3 and 4 seen alive on arrival, 5 in the rules.
    const w = new World([{ id: G, meters: 10 }])
      .feed([...gasps(G, range(0, 6), T0), ...reads(G, range(6, 10), T0 - 1)])
      .until(T0 + cfg.CONFIRM_DELAY_MS);
    const g = w.st.gardus.get(G)!;
    const inc = g.incidents.find((i) => i.scope === 'GARDU')!;
    w.feed([event(meterId(G, 5), 'POWER_RESTORE', BACK)]).until(BACK);
    const alive = new Set([meterId(G, 3), meterId(G, 4)]);
    const all = restorationTargets(w.ctx, g, inc, BACK, alive, 8);
    expect(all).toEqual({
      meters: [0, 1, 2, 6, 7, 8, 9].map((i) => meterId(G, i)).slice(0, 7),
      unpinged: 0,
    });
    expect(restorationTargets(w.ctx, g, inc, BACK, alive, 4)).toEqual({
      meters: [0, 1, 2, 6].map((i) => meterId(G, i)),
      unpinged: 3,
    });
  });

  it('a tusbung meter (relay opened by remote disconnect) is never pinged for restoration', () => {
    const w = new World([{ id: G, meters: 5 }])
      .feed([
        event(meterId(G, 0), 'RELAY_OPENED', T0 - MIN, { cause: 'REMOTE_DISCONNECT', relay: 'OPEN' }),
        ...gasps(G, range(0, 5), T0),
      ])
      .until(T0 + cfg.CONFIRM_DELAY_MS);
    const g = w.st.gardus.get(G)!;
    const inc = g.incidents.find((i) => i.scope === 'GARDU')!;
    expect(restorationTargets(w.ctx, g, inc, BACK, new Set(), 8).meters).not.toContain(meterId(G, 0));
  });
});

describe('the restoration watch (on arrival, wall clock)', () => {
  const open = () =>
    new World([{ id: G, meters: 10 }]).feed(gasps(G, range(0, 10), T0)).until(T0 + cfg.CONFIRM_DELAY_MS);

  it('starts at the first power restore under an open GARDU outage and pings the rest after the delay, once', () => {
    const w = open();
    const watch = new RestorationWatch(w.ctx, cfg);
    for (const input of restores(G, range(2, 10), BACK))
      watch.onArrival(w.st, input, G, input.value.meter_id, BACK + 500);
    expect(watch.due(w.st, BACK + 500 + cfg.RESTORE_PING_DELAY_MS - 1)).toEqual([]);
    const plans = watch.due(w.st, BACK + 500 + cfg.RESTORE_PING_DELAY_MS);
    expect(plans).toEqual([
      {
        key: restorationKey(garduOutageId(G, T0)),
        outageId: garduOutageId(G, T0),
        garduId: G,
        startedAt: T0,
        backAt: BACK,
        meters: [meterId(G, 0), meterId(G, 1)],
        unpinged: 0,
      },
    ]);
    expect(watch.due(w.st, BACK + 10 * MIN)).toEqual([]);
  });

  it('a read of a meter that never gasped, or a replay of the past, starts nothing', () => {
    const w = new World([{ id: G, meters: 10 }])
      .feed(gasps(G, range(0, 8), T0))
      .until(T0 + cfg.CONFIRM_DELAY_MS);
    const watch = new RestorationWatch(w.ctx, cfg);
    watch.onArrival(w.st, read(meterId(G, 9), BACK), G, meterId(G, 9), BACK);
    const replay = event(meterId(G, 3), 'POWER_RESTORE', BACK);
    watch.onArrival(w.st, replay, G, meterId(G, 3), BACK + cfg.PING_MAX_EVIDENCE_AGE_MS + 1);
    expect(watch.size).toBe(0);
  });

  it('forgets an outage the rules have settled', () => {
    const w = open();
    const watch = new RestorationWatch(w.ctx, cfg);
    const input = event(meterId(G, 2), 'POWER_RESTORE', BACK);
    watch.onArrival(w.st, input, G, meterId(G, 2), BACK);
    w.feed([input, ...restores(G, [0, 1, 3, 4, 5, 6, 7, 8, 9], BACK + 1)]).until(SILENCE_KNOWN);
    expect(watch.due(w.st, BACK + MIN)).toEqual([]);
    expect(watch.size).toBe(0);
  });
});

describe('restoration pings share the ping budget', () => {
  it('two at a time per PLC concentrator; their results decide no verdict and are known as restoration pings', () => {
    const dir = {
      garduAmiMeters: () => range(0, 10).map((i) => meterId(G, i)),
      kdpm: () => 'L' as const,
    };
    const v = new PingVerifier(cfg, dir, BACK);
    const key = restorationKey(garduOutageId(G, T0));
    v.restore(
      key,
      G,
      [0, 1, 2].map((i) => meterId(G, i)),
      BACK,
    );
    const first = v.due(BACK);
    expect(first.map((p) => p.command.meter_id)).toEqual([meterId(G, 0), meterId(G, 1)]);
    expect(first[0]!.command).toMatchObject({
      command_id: `ping:${key}:${meterId(G, 0)}`,
      type: 'READ_NOW',
      issued_by: 'detector',
      reason: `verifies restoration of ${garduOutageId(G, T0)} (no sign of life since)`,
    });
    expect(v.lookup(first[0]!.command.command_id)).toEqual({ key, sentAt: BACK, restoration: true });
    const noAnswer: CommandResult = {
      command_id: first[0]!.command.command_id,
      meter_id: meterId(G, 0),
      type: 'READ_NOW',
      status: 'REFUSED',
      reason: 'NO_ANSWER: meter did not answer within 40 s',
      decided_at: BACK + 40_000,
      event_id: null,
      answered_in_ms: null,
      read_at: null,
      energy_import_wh: null,
      voltage_v: null,
      relay: null,
    };
    expect(v.onResult(noAnswer, BACK + 40_000)).toMatchObject({ pingsSilent: 1, verdict: null });
    // The concentrator's slot is free again: the third meter goes.
    expect(v.due(BACK + 40_000).map((p) => p.command.meter_id)).toEqual([meterId(G, 2)]);
    v.restore(key, G, [meterId(G, 5)], BACK + 40_000); // planned once per outage
    expect(v.due(BACK + 41_000)).toEqual([]);
  });
});

describe('the nested suspicion (on arrival of the silent restoration pings)', () => {
  const nestedSuspect = (meters: number[]): NestedSuspect => ({
    garduId: G,
    parentId: garduOutageId(G, T0),
    startedAt: T0,
    backAt: BACK,
    meters: meters.map((i) => meterId(G, i)),
    loggedAt: TIMED_OUT + 300,
  });

  /** The step's order at the edge: the rules' records settle suspicions, then the sweep. */
  function settle(w: World, sst: SuspicionState, from: number, out: SuspicionRecord[]): void {
    settleByRecords(w.ctx, sst, w.st, w.out.slice(from), out);
    sweep(w.ctx, sst, w.st, TIMED_OUT + 60_000, out);
  }

  it('is VERIFIED at once with the id of the nested outage, and CONFIRMED when the rule opens it', () => {
    const w = restoredGardu();
    const sst = newSuspicionState();
    const out: SuspicionRecord[] = [];
    for (const i of [0, 1]) recordPingSilence(w.st, silent(i), BACK + 2_000);
    suspectNested(w.ctx, sst, nestedSuspect([1, 0]), out);
    const id = meterOutageId(G, T0, meterId(G, 0));
    expect(out).toMatchObject([
      {
        outage_id: id,
        scope: 'METER',
        status: 'VERIFIED',
        meter_ids: [meterId(G, 0), meterId(G, 1)],
        started_at: T0,
        evidence_logged_at: TIMED_OUT + 300,
      },
    ]);
    expect(out[0]!.reason).toMatch(/^NO_ANSWER: 2 meters silent on restoration pings after GARDU-G1-/);
    // Not settled while the rules still hold the restore.
    const before = w.out.length;
    settleByRecords(w.ctx, sst, w.st, [], out);
    sweep(w.ctx, sst, w.st, BACK + 2_000, out);
    expect(out).toHaveLength(1);
    suspectNested(w.ctx, sst, nestedSuspect([0, 1]), out); // one per restored outage
    expect(out).toHaveLength(1);
    w.until(TIMED_OUT);
    settle(w, sst, before, out);
    expect(out.at(-1)).toMatchObject({ outage_id: id, status: 'CONFIRMED', confirmed_outage_id: id });
    expect(openSuspicions(sst)).toEqual([]);
  });

  it('is CANCELLED (NOT_CONFIRMED) when the meters came back before the rule settled the restore', () => {
    const w = restoredGardu();
    const sst = newSuspicionState();
    const out: SuspicionRecord[] = [];
    recordPingSilence(w.st, silent(0), BACK + 2_000);
    suspectNested(w.ctx, sst, nestedSuspect([0]), out);
    const before = w.out.length;
    w.feed([read(meterId(G, 0), BACK + 20_000), read(meterId(G, 1), BACK + 21_000)]).until(TIMED_OUT);
    settle(w, sst, before, out);
    expect(out.at(-1)).toMatchObject({ status: 'CANCELLED' });
    expect(out.at(-1)!.reason).toMatch(/^NOT_CONFIRMED/);
    expect(openSuspicions(sst)).toEqual([]);
  });
});
