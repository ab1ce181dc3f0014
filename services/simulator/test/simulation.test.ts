import { describe, expect, it } from 'vitest';
import type { InterruptionTruth, RelayTruth, SummaryTruth } from '../src/groundTruth.js';
import { loadScenario } from '../src/scenario.js';
import { byMeter, runScenario } from './helpers.js';

const interruptions = (truth: { kind: string }[]) =>
  truth.filter((l): l is InterruptionTruth => l.kind === 'interruption');
const relays = (truth: { kind: string }[]) => truth.filter((l): l is RelayTruth => l.kind === 'relay');

describe('simulation engine', { timeout: 60_000 }, () => {
  it('is deterministic: same fleet, scenario and seed give the same records', () => {
    const a = runScenario('duplicates-out-of-order');
    const b = runScenario('duplicates-out-of-order', 777);
    expect(b.reads).toEqual(a.reads);
    expect(b.events).toEqual(a.events);
    expect(b.truth).toEqual(a.truth);
  });

  it('yields batches in delivery-time order', () => {
    const { batchTimes } = runScenario('momentaries');
    for (let i = 1; i < batchTimes.length; i++)
      expect(batchTimes[i]).toBeGreaterThanOrEqual(batchTimes[i - 1]!);
  });

  it('reads every interval; the register only grows; demand never above daya nor the power limit', () => {
    const { fleet, reads } = runScenario('power-limit-trips');
    const bad: string[] = [];
    for (const [id, rows] of byMeter(reads)) {
      const daya = fleet.profileOf(fleet.meterIndex(id)!).daya_va;
      rows.sort((x, y) => x.read_at - y.read_at);
      rows.forEach((r, i) => {
        if (r.demand_w > daya || r.demand_w > r.power_limit_va || r.demand_w < 0)
          bad.push(`${id} demand ${r.demand_w} > ${Math.min(daya, r.power_limit_va)}`);
        if (r.voltage_v < 190 || r.voltage_v > 250) bad.push(`${id} voltage ${r.voltage_v}`);
        if (i > 0 && r.energy_import_wh < rows[i - 1]!.energy_import_wh)
          bad.push(`${id} register went down at ${r.read_at}`);
      });
    }
    expect(bad).toEqual([]);
    expect(reads.length).toBe(fleet.size * 32); // 8 h of 15-minute reads, no outage
    expect(reads.every((r) => r.interval_s === 900 && r.kind === 'INTERVAL')).toBe(true);
  });

  it('gardu outage: last gasps (best effort), no reads while dark, restores, reads resume', () => {
    const { fleet, reads, events, truth } = runScenario('gardu-outage');
    const [out] = interruptions(truth);
    expect(out).toMatchObject({ scope: 'GARDU', momentary: false, tusbung_excluded: 0 });
    const g = fleet.garduIndex(out!.gardu_id!)!;
    const inGardu = (id: string) => fleet.meterGardu[fleet.meterIndex(id)!] === g;
    expect(
      reads.filter((r) => inGardu(r.meter_id) && r.read_at > out!.start && r.read_at < out!.end),
    ).toEqual([]);
    expect(reads.filter((r) => inGardu(r.meter_id) && r.read_at > out!.end).length).toBeGreaterThan(0);
    const gasps = events.filter((e) => e.type === 'LAST_GASP');
    expect(gasps.length).toBe(out!.last_gasps_delivered);
    expect(gasps.length).toBeGreaterThan(0);
    expect(gasps.length).toBeLessThan(out!.ami_meters_total); // best effort: some never arrive
    expect(
      gasps.every((e) => inGardu(e.meter_id) && e.relay === 'CLOSED' && e.occurred_at >= out!.start),
    ).toBe(true);
    const { first, end } = fleet.metersOfGardu(g);
    let ami = 0;
    for (let m = first; m < end; m++) if (fleet.isAmi(m)) ami++;
    expect(out!.ami_meters_total).toBe(ami);
    expect(out!.meters_affected).toBe(ami);
    expect(out!.amr_meters).toBe(end - first - ami);
    expect(events.filter((e) => e.type === 'POWER_RESTORE').every((e) => e.occurred_at >= out!.end)).toBe(
      true,
    );
  });

  it('lossy comms: about 60% of last gasps lost', () => {
    const [out] = interruptions(runScenario('gardu-outage-lossy').truth);
    const delivered = out!.last_gasps_delivered / out!.last_gasps_sent;
    expect(delivered).toBeGreaterThan(0.25);
    expect(delivered).toBeLessThan(0.55);
  });

  it('PLC meters whose concentrator dies with the gardu deliver no last gasp', () => {
    const { fleet, events } = runScenario('feeder-outage');
    const plcGasps = events.filter(
      (e) => e.type === 'LAST_GASP' && fleet.kdpmOf(fleet.meterIndex(e.meter_id)!) === 'L',
    );
    expect(plcGasps).toEqual([]);
  });

  it('AMR meters send reads but never events', () => {
    const { fleet, reads, events } = runScenario('mixed-ami-amr');
    expect(events.some((e) => !fleet.isAmi(fleet.meterIndex(e.meter_id)!))).toBe(false);
    expect(reads.some((r) => !fleet.isAmi(fleet.meterIndex(r.meter_id)!))).toBe(true);
  });

  it('tusbung: relay opened remotely, meter keeps reporting with relay OPEN, reconnect enabled, button closes it', () => {
    const { reads, events, truth } = runScenario('tusbung-campaign');
    const opened = relays(truth).filter((r) => r.type === 'RELAY_OPENED');
    expect(opened.length).toBeGreaterThan(20);
    expect(opened.every((r) => r.cause === 'REMOTE_DISCONNECT')).toBe(true);
    const readsOf = byMeter(reads);
    const evOf = byMeter(events);
    for (const o of opened) {
      const rows = readsOf.get(o.meter_id)!;
      const seq = evOf.get(o.meter_id)!.map((e) => `${e.type}/${e.cause}/${e.relay}`);
      expect(seq[0]).toBe('RELAY_OPENED/REMOTE_DISCONNECT/OPEN');
      const closed = relays(truth).find((r) => r.meter_id === o.meter_id && r.type === 'RELAY_CLOSED');
      const enabled = relays(truth).find((r) => r.meter_id === o.meter_id && r.type === 'RECONNECT_ENABLED');
      if (enabled) expect(seq[1]).toBe('RECONNECT_ENABLED/REMOTE_CONNECT/OPEN');
      if (closed) expect(seq[2]).toBe('RELAY_CLOSED/BUTTON/CLOSED');
      if (closed) expect(enabled).toBeDefined();
      // powered while disconnected: reads keep coming, relay OPEN, no demand for whole intervals
      const whileOpen = rows.filter(
        (r) => r.read_at >= o.at + 900_000 && r.read_at <= (closed?.at ?? Infinity),
      );
      expect(whileOpen.length).toBeGreaterThan(0);
      expect(whileOpen.every((r) => r.relay === 'OPEN' && r.demand_w === 0)).toBe(true);
    }
    const enabledNotPressed = relays(truth).filter(
      (r) =>
        r.type === 'RECONNECT_ENABLED' &&
        !relays(truth).some((c) => c.meter_id === r.meter_id && c.type === 'RELAY_CLOSED'),
    );
    expect(enabledNotPressed.length).toBeGreaterThan(0); // some never press the button
  });

  it('tusbung during an outage: disconnected meters send last gasps but are excluded from the affected count', () => {
    const { fleet, events, truth } = runScenario('tusbung-during-outage');
    const [out] = interruptions(truth);
    const g = fleet.garduIndex(out!.gardu_id!)!;
    const disconnected = new Set(
      relays(truth)
        .filter((r) => r.type === 'RELAY_OPENED' && r.gardu_id === out!.gardu_id && r.at < out!.start)
        .map((r) => r.meter_id),
    );
    expect(disconnected.size).toBeGreaterThan(0);
    expect(out!.tusbung_excluded).toBe(disconnected.size);
    expect(out!.meters_affected + out!.tusbung_excluded).toBe(out!.ami_meters_total);
    const gaspsFromOpen = events.filter((e) => e.type === 'LAST_GASP' && e.relay === 'OPEN');
    expect(
      gaspsFromOpen.every(
        (e) => disconnected.has(e.meter_id) && fleet.meterGardu[fleet.meterIndex(e.meter_id)!] === g,
      ),
    ).toBe(true);
  });

  it('power-limit trips: RELAY_OPENED cause POWER_LIMIT_TRIP, then RELAY_CLOSED cause BUTTON', () => {
    const { events } = runScenario('power-limit-trips');
    const trips = events.filter((e) => e.type === 'RELAY_OPENED');
    expect(trips.length).toBeGreaterThan(0);
    expect(trips.every((e) => e.cause === 'POWER_LIMIT_TRIP' && e.relay === 'OPEN')).toBe(true);
    const closes = byMeter(events.filter((e) => e.type === 'RELAY_CLOSED'));
    for (const t of trips)
      expect(closes.get(t.meter_id)?.[0]).toMatchObject({ cause: 'BUTTON', relay: 'CLOSED' });
    expect(
      events.filter((e) => e.type === 'POWER_LIMIT_CHANGED').every((e) => e.power_limit_va !== null),
    ).toBe(true);
  });

  it('momentaries are marked momentary (<= 5 minutes) and readings continue', () => {
    const ints = interruptions(runScenario('momentaries').truth);
    expect(ints.filter((i) => i.momentary).length).toBe(5);
    expect(ints.filter((i) => !i.momentary).length).toBe(1);
  });

  it('duplicates reuse the event id; out-of-order records arrive late; summary counts them', () => {
    const { events, reads, truth } = runScenario('duplicates-out-of-order');
    const summary = truth.at(-1) as SummaryTruth;
    expect(summary.kind).toBe('summary');
    expect(summary.reads).toBe(reads.length);
    expect(summary.events).toBe(events.length);
    const ids = events.map((e) => e.event_id);
    const unique = new Set(ids);
    expect(unique.size).toBeLessThan(ids.length);
    const readKeys = reads.map((r) => `${r.meter_id}@${r.read_at}`);
    expect(new Set(readKeys).size).toBeLessThan(readKeys.length);
    let outOfOrder = 0;
    const last = new Map<string, number>();
    for (const r of reads) {
      if ((last.get(r.meter_id) ?? 0) > r.read_at) outOfOrder++;
      last.set(r.meter_id, Math.max(last.get(r.meter_id) ?? 0, r.read_at));
    }
    expect(outOfOrder).toBeGreaterThan(0);
    for (const e of events)
      expect(
        events.filter((x) => x.event_id === e.event_id).every((x) => JSON.stringify(x) === JSON.stringify(e)),
      ).toBe(true);
  });

  it('regional blackout darkens every meter of the region', () => {
    const s = loadScenario('regional-blackout');
    const { fleet, reads, truth } = runScenario({ ...s, fleet: { ...s.fleet, meters: 1500 } });
    const [blackout] = interruptions(truth);
    expect(blackout).toMatchObject({ scope: 'REGION', region: 'BALI', gardu_id: null });
    const inBali = (id: string) => fleet.profileOf(fleet.meterIndex(id)!).region === 'BALI';
    expect(
      reads.filter((r) => inBali(r.meter_id) && r.read_at > blackout!.start && r.read_at < blackout!.end),
    ).toEqual([]);
    expect(
      reads.filter((r) => !inBali(r.meter_id) && r.read_at > blackout!.start && r.read_at < blackout!.end)
        .length,
    ).toBeGreaterThan(0);
  });
});
