import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  barChart,
  lineChart,
  type MeterEvent,
  type MeterRead,
  type Outage,
  type SuspectedOutage,
} from '@ami/lib';
import { parseConsumerPerf, parseProducerPerf, runCommand } from '../../loadtest/src/baseline.js';
import {
  checkOutages,
  checkReliability,
  latestOutages,
  type ReliabilityViewRow,
} from '../../loadtest/src/correctness.js';
import { DistinctReads } from '../../loadtest/src/distinct.js';
import { encodeNative, encodeTsv } from '../../loadtest/src/native.js';
import { Pacer, parsePace } from '../../loadtest/src/pace.js';
import type { ReplayStats } from '../../loadtest/src/replay.js';
import {
  readManifest,
  readRecording,
  readRecordingMeta,
  recordSimulation,
  RecordingWriter,
} from '../../loadtest/src/recording.js';
import { percentiles, reliabilitySection, suspicionSection } from '../../loadtest/src/report.js';
import {
  checkSuspicions,
  confirmingEvidenceAt,
  outageLatencies,
  pendingSuspicions,
  suspicionLatencies,
} from '../../loadtest/src/judge.js';
import { idleAdvanceRateFor } from '../../loadtest/src/runContext.js';
import { Fleet } from '../../services/simulator/src/fleet.js';
import { loadScenario } from '../../services/simulator/src/scenario.js';
import type { InterruptionTruth } from '../../services/simulator/src/groundTruth.js';
import { truthReliability, type ReliabilityCell } from '../../services/simulator/src/reliabilityTruth.js';
import { runScenario } from '../../services/simulator/test/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'loadtest-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const read = (m: number, t: number, energy = 1000 + m): MeterRead => ({
  meter_id: `M${String(m).padStart(8, '0')}`,
  gardu_id: 'JATIM-SIDOAR-G0001',
  read_at: t,
  interval_s: 900,
  energy_import_wh: energy,
  demand_w: 100,
  voltage_v: 221.5,
  relay: 'CLOSED',
  power_limit_va: 900,
  kind: 'INTERVAL',
});

describe('pace', () => {
  it('dates the evidence of an event time by the last chunk at or before it, and the paced clock', () => {
    // Reads at 0 and 900 s (event time), produced at wall 1000 and 1090 (10x); an outage confirmed at 300 s.
    const timeline = [
      { at: 0, wall: 1_000 },
      { at: 900_000, wall: 91_000 },
    ];
    expect(confirmingEvidenceAt(300_000, timeline)).toBe(1_000); // max speed: everything up to 300 s was out
    expect(confirmingEvidenceAt(300_000, timeline, { wall0: 1_000, at0: 0, factor: 10 })).toBe(31_000);
    expect(confirmingEvidenceAt(900_000, timeline, { wall0: 1_000, at0: 0, factor: 10 })).toBe(91_000);
    expect(confirmingEvidenceAt(-1, timeline)).toBeUndefined(); // before the first chunk
    expect(confirmingEvidenceAt(1_000_000, timeline)).toBeUndefined(); // the replay never passed it
  });

  it("reports a storm outage's latency beyond the confirmation delay in wall time at the replay's speed", () => {
    // 10x: the 300 s delay is 30 s of wall time. First gasp produced at wall 10 s, the outage out at 62 s;
    // the replay acknowledged the traffic up to confirmed_at only at 70 s (a fleet's quarter hour of reads).
    const outage = {
      outage_id: 'GARDU-G1-0',
      scope: 'GARDU',
      gardu_id: 'G1',
      started_at: 0,
      confirmed_at: 300_000,
    } as unknown as Outage;
    const stats = {
      gasps: new Map([['G1', [{ occurredAt: 0, sentAt: 10_000 }]]]),
      timeline: [
        { at: 0, wall: 10_000 },
        { at: 300_000, wall: 70_000 },
      ],
    } as unknown as ReplayStats;
    const clock = { wall0: 10_000, at0: 0, factor: 10 };
    const r = outageLatencies([{ outage, receivedAt: 62_000 }], stats, undefined, 300_000, clock);
    expect(r.gasp).toEqual([52_000]);
    expect(r.minusDelay).toEqual([22_000]);
    expect(r.beyond).toEqual([0]); // out before the evidence was acknowledged: why the row above exists
    // Unpaced (max speed): no wall-time delay to subtract.
    expect(outageLatencies([{ outage, receivedAt: 62_000 }], stats, undefined, 300_000).minusDelay).toEqual(
      [],
    );
  });

  it('sets the detector idle advance to the replay factor, at most 10x', () => {
    expect(idleAdvanceRateFor(parsePace('4x'))).toBe(4);
    expect(idleAdvanceRateFor(parsePace('360x'))).toBe(10);
    expect(idleAdvanceRateFor(parsePace('max'))).toBe(1);
    expect(idleAdvanceRateFor(parsePace('40k/s'))).toBe(1);
  });

  it('parses max, realtime, Nx and N/s', () => {
    expect(parsePace('max')).toEqual({ mode: 'max' });
    expect(parsePace('realtime')).toEqual({ mode: 'factor', factor: 1 });
    expect(parsePace('24x')).toEqual({ mode: 'factor', factor: 24 });
    expect(parsePace('40k/s')).toEqual({ mode: 'rate', perSecond: 40_000 });
    expect(() => parsePace('fast')).toThrow(/speed must be/);
  });

  it('schedules by delivery time at Nx and by count at N/s', () => {
    let now = 1000;
    const f = new Pacer({ mode: 'factor', factor: 60 }, () => now);
    expect(f.origin).toBeUndefined();
    expect(f.dueAt(900_000, 10)).toBe(1000);
    expect(f.dueAt(960_000, 10)).toBe(2000);
    // The report's clock maps delivery times from here, not from the recording's start.
    expect(f.origin).toEqual({ at: 900_000, wall: 1000 });
    const r = new Pacer({ mode: 'rate', perSecond: 100 }, () => now);
    expect(r.dueAt(5, 50)).toBe(1000);
    expect(r.dueAt(5, 50)).toBe(1500);
    now = 0;
  });
});

describe('DistinctReads', () => {
  it('counts distinct (meter, read_at) with checksums, duplicates once', () => {
    const start = Date.UTC(2026, 10, 18);
    const d = new DistinctReads(10, start, start + 3_600_000, 900_000);
    d.add('M00000001', start + 900_000, 'INTERVAL', 5);
    d.add('M00000001', start + 900_000, 'INTERVAL', 5);
    d.add('M00000001', start + 1_800_000 + 42_000, 'INTERVAL', 7); // clock skew stays in its bucket
    d.add('X-other', start, 'INTERVAL', 9);
    d.add('M00000002', start + 900_000, 'ON_DEMAND', 3);
    expect(d.total).toBe(5);
    expect(d.distinct).toBe(4);
    expect(d.sumEnergy).toBe(5 + 7 + 9 + 3);
  });
});

describe('recording', () => {
  it('writes deliveries to an Avro container and reads them back in order', async () => {
    const path = join(dir, 'r.avro');
    const w = new RecordingWriter(path, {
      format: 'ami-loadtest-recording/1',
      source: 'simulator',
      clock: 'sim',
      startMs: 0,
      endMs: 10,
    });
    const ev: MeterEvent = {
      event_id: 'e1',
      meter_id: 'M00000001',
      gardu_id: 'JATIM-SIDOAR-G0001',
      occurred_at: 5,
      type: 'LAST_GASP',
      relay: 'CLOSED',
      cause: 'NONE',
      power_limit_va: null,
    };
    await w.write({ at: 1, reads: [read(1, 1), read(2, 1)], events: [] });
    await w.write({ at: 5, reads: [], events: [ev] });
    const m = await w.close();
    expect(m).toMatchObject({ reads: 2, events: 1, lastGasps: 1, deliveries: 2 });
    expect(readManifest(path).reads).toBe(2);
    expect((await readRecordingMeta(path)).source).toBe('simulator');
    const back = [];
    for await (const d of readRecording(path)) back.push(d);
    expect(back.map((d) => d.at)).toEqual([1, 5]);
    expect(back[0]!.reads[1]).toEqual(read(2, 1));
    expect(back[1]!.events[0]).toEqual(ev);
  });

  it("keeps a simulator recording's fleet options, so a replay publishes the recorded topology", async () => {
    const path = join(dir, 'sim.avro');
    const fleet = new Fleet({
      meters: 300,
      seed: 7,
      regions: ['BALI'],
      garduSize: { min: 20, max: 40 },
      amrShare: 0.2,
    });
    const scenario = loadScenario('gardu-outage');
    const m = await recordSimulation({
      path,
      fleet,
      scenario,
      startMs: Date.UTC(2026, 0, 1),
      durationMs: 3_600_000,
    });
    const rebuilt = new Fleet(readManifest(path).fleet!);
    expect(m.fleet).toEqual(fleet.options);
    expect([...rebuilt.profiles()]).toEqual([...fleet.profiles()]);
  });
});

describe('baseline tool runs', () => {
  it("feeds a file to the tool's input and returns its output, its failure and a deadline's stop", async () => {
    const file = join(dir, 'input.tsv');
    writeFileSync(file, 'a\t1\nb\t2\n');
    const cat = await runCommand('cat', [], { stdinFile: file, timeoutMs: 10_000 });
    expect(cat).toMatchObject({ code: 0, stdout: 'a\t1\nb\t2', timedOut: false });
    const failed = await runCommand('sh', ['-c', 'echo progress; echo "no such table" >&2; exit 60'], {
      timeoutMs: 10_000,
    });
    expect(failed).toMatchObject({ code: 60, stdout: 'progress', stderr: 'no such table' });
    const late = await runCommand('sleep', ['30'], { timeoutMs: 300 });
    expect(late.timedOut).toBe(true);
    expect(late.ms).toBeLessThan(10_000);
  });
});

describe('baseline output parsers', () => {
  it('reads ProducerPerformance and ConsumerPerformance summaries', () => {
    const p = parseProducerPerf(
      '118417 records sent, 23532.8 records/sec (1.64 MB/sec), 111.1 ms avg latency, 1594.0 ms max latency.\n' +
        '1000000 records sent, 81719.375664 records/sec (5.69 MB/sec), 105.23 ms avg latency, 1594.00 ms max latency, 86 ms 50th, 263 ms 95th, 320 ms 99th, 535 ms 99.9th.\n',
    );
    expect(p).toEqual({
      records: 1_000_000,
      recordsPerSec: 81719.375664,
      mbPerSec: 5.69,
      avgLatencyMs: 105.23,
      p99LatencyMs: 320,
    });
    const c = parseConsumerPerf(
      'start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n' +
        '2026-11-28 20:55:40:000, 2026-11-28 20:55:48:000, 34.8, 4.1, 500000, 60153.99, 3000, 5000, 6.96, 100000.0\n',
    );
    expect(c).toEqual({ records: 500_000, recordsPerSec: 100_000, mbPerSec: 6.96 });
    expect(parseProducerPerf('Exception in thread main')).toBeUndefined();
  });
});

describe('native and TSV encoders', () => {
  const cols = [
    { name: 'meter_id', type: 'String' },
    { name: 'read_at', type: "DateTime('UTC')" },
    { name: 'relay', type: "Enum8('CLOSED' = 0, 'OPEN' = 1)" },
    { name: 'voltage_v', type: 'Float32' },
    { name: 'energy_import_wh', type: 'Int64' },
  ];
  it('writes a Native block: column count, row count, then name, type and values per column', () => {
    const b = encodeNative(cols, [read(1, 1_000_000) as unknown as Record<string, unknown>]);
    expect(b[0]).toBe(5);
    expect(b[1]).toBe(1);
    expect(b.subarray(3, 11).toString()).toBe('meter_id');
    expect(b.includes(Buffer.from('M00000001'))).toBe(true);
  });
  it('writes TSV with DateTime as epoch seconds', () => {
    expect(encodeTsv(cols, [read(1, 1_000_000) as unknown as Record<string, unknown>])).toBe(
      'M00000001\t1000\tCLOSED\t221.5\t1001\n',
    );
  });
});

describe('outage check', () => {
  const fleet = new Fleet({ meters: 3000, seed: 11, regions: ['JABAR'], garduSize: { min: 50, max: 150 } });
  const feeder = fleet.feeders.find((f) => f.gardu.length >= 3)!;
  const g0 = fleet.garduIds[feeder.gardu[0]!]!;
  const truth = (scope: 'GARDU' | 'FEEDER', start: number, end: number): InterruptionTruth => ({
    kind: 'interruption',
    id: `INT-${scope}`,
    scope,
    region: 'JABAR',
    ulp: feeder.ulp.name,
    feeder_id: feeder.id,
    gardu_id: scope === 'GARDU' ? g0 : null,
    meter_ids: [],
    start,
    end,
    momentary: false,
    ami_meters_total: 100,
    meters_affected: 100,
    tusbung_excluded: 0,
    trip_excluded: 0,
    already_dark: 0,
    amr_meters: 0,
    last_gasps_sent: 100,
    last_gasps_delivered: 90,
  });
  const outage = (o: Partial<Outage>): Outage => ({
    outage_id: 'o1',
    scope: 'GARDU',
    status: 'RESTORED',
    region: 'JABAR',
    ulp: feeder.ulp.name,
    feeder_id: feeder.id,
    gardu_id: g0,
    meter_ids: [],
    parent_outage_id: null,
    started_at: 1_000_000,
    confirmed_at: 1_300_000,
    restored_at: 5_000_000,
    customers_affected: 100,
    customers_total: 100,
    last_gasps: 90,
    tusbung_excluded: 0,
    customers_interrupted: 0,
    customer_interruption_s: 0,
    emitted_at: 1,
    ...o,
  });

  it('matches a gardu outage within the tolerances', () => {
    const r = checkOutages(
      [truth('GARDU', 1_000_000, 5_000_000)],
      fleet,
      [outage({ started_at: 1_000_500 })],
      10_000_000,
    );
    expect(r).toMatchObject({ expected: 1, matched: 1, exact: 1, ok: true });
  });

  it('flags a wrong scope, a missing outage and an unexpected one', () => {
    const r = checkOutages([truth('FEEDER', 1_000_000, 5_000_000)], fleet, [outage({})], 10_000_000);
    expect(r.wrong).toHaveLength(1);
    expect(r.wrong[0]!.problems[0]).toMatch(/expected FEEDER/);
    const missing = checkOutages([truth('GARDU', 1_000_000, 5_000_000)], fleet, [], 10_000_000);
    expect(missing.missing).toHaveLength(1);
    const extra = checkOutages([], fleet, [outage({})], 10_000_000);
    expect(extra.unexpected).toHaveLength(1);
    expect(extra.ok).toBe(false);
  });

  it('fails on two GARDU outages of one gardu at once, though one of them matches the truth', () => {
    // The escalation defect: a few meters, then the whole gardu a minute later, reported as two outages.
    const first = outage({ outage_id: 'GARDU-a', started_at: 940_000 });
    const second = outage({ outage_id: 'GARDU-b', started_at: 1_000_000 });
    const r = checkOutages([truth('GARDU', 1_000_000, 5_000_000)], fleet, [first, second], 10_000_000);
    expect(r).toMatchObject({ matched: 1, exact: 1, unexpected: [], ok: false });
    expect(r.overlapping).toEqual([{ scope: 'GARDU', place: g0, first, second }]);
    // One after the other is two outages, not a duplicate.
    const later = outage({ outage_id: 'GARDU-c', started_at: 5_000_000, restored_at: 6_000_000 });
    expect(checkOutages([], fleet, [second, later], 10_000_000).overlapping).toEqual([]);
  });

  it('flags a restore far from the truth, and keeps the latest record per outage', () => {
    const late = outage({ restored_at: 9_000_000, emitted_at: 2 });
    const latest = latestOutages([outage({ status: 'OPEN', restored_at: null }), late]);
    expect(latest).toEqual([late]);
    const r = checkOutages([truth('GARDU', 1_000_000, 5_000_000)], fleet, latest, 10_000_000);
    expect(r.wrong[0]!.problems[0]).toMatch(/restored_at off by 4000 s/);
  });
});

describe('suspected outages', () => {
  // One gardu suspicion's records as the detector sends them: crossed the threshold when the last gasp
  // logged at 10,000 arrived, sent 300 ms later; again with more gasps; then CONFIRMED.
  const suspicion = (o: Partial<SuspectedOutage>): SuspectedOutage => ({
    outage_id: 'GARDU-G1-0',
    scope: 'GARDU',
    status: 'SUSPECTED',
    region: 'JATIM',
    ulp: 'SIDOARJO',
    feeder_id: 'F1',
    gardu_id: 'G1',
    meter_ids: [],
    started_at: 0,
    last_gasps: 3,
    customers_total: 10,
    evidence_logged_at: 10_000,
    pings_sent: 0,
    pings_answered: 0,
    pings_silent: 0,
    reason: null,
    confirmed_outage_id: null,
    emitted_at: 10_300,
    ...o,
  });
  const g1 = [
    suspicion({}),
    suspicion({ last_gasps: 8, evidence_logged_at: 10_000, emitted_at: 12_000 }),
    suspicion({ status: 'CONFIRMED', confirmed_outage_id: 'GARDU-G1-0', emitted_at: 40_000 }),
  ];
  // A METER suspicion verified by pings (no SUSPECTED record before it was seen), then cancelled.
  const meter = (o: Partial<SuspectedOutage>) =>
    suspicion({ outage_id: 'METER-G2-5-M1', scope: 'METER', ...o });
  const m1 = [
    meter({ status: 'VERIFIED', emitted_at: 20_000 }),
    meter({ evidence_logged_at: 30_000, emitted_at: 31_000 }),
    meter({ status: 'CANCELLED', reason: 'SUPPLY_BACK: read', emitted_at: 35_000 }),
  ];

  it("times each suspicion by its first SUSPECTED record: the detector's emitted_at minus the evidence's Kafka time", () => {
    expect(suspicionLatencies([...g1, ...m1])).toEqual([300, 1_000]);
    expect(suspicionLatencies([])).toEqual([]);
  });

  it('counts suspicions by final status and passes when each ended CONFIRMED as a seen outage or CANCELLED', () => {
    const r = checkSuspicions([...g1, ...m1], new Set(['GARDU-G1-0']));
    expect(r).toEqual({
      ok: true,
      suspicions: 2,
      byStatus: { SUSPECTED: 0, VERIFIED: 0, CONFIRMED: 1, CANCELLED: 1 },
      pending: 0,
      unconfirmed: 0,
      problems: [],
    });
    expect(pendingSuspicions([...g1, ...m1])).toEqual([]);
  });

  it('fails on a suspicion left SUSPECTED or VERIFIED, whatever came before', () => {
    const cancelledThenSuspected = [...m1, meter({ emitted_at: 50_000 })];
    const verified = suspicion({ outage_id: 'GARDU-G3-0', status: 'VERIFIED', pings_silent: 2 });
    const r = checkSuspicions([...g1, ...cancelledThenSuspected, verified], new Set(['GARDU-G1-0']));
    expect(r).toMatchObject({
      ok: false,
      suspicions: 3,
      byStatus: { SUSPECTED: 1, VERIFIED: 1, CONFIRMED: 1, CANCELLED: 0 },
      pending: 2,
      unconfirmed: 0,
    });
    expect(r.problems).toEqual([
      'METER suspicion METER-G2-5-M1 left SUSPECTED (last record sent 1970-01-01T00:00:50.000Z)',
      'GARDU suspicion GARDU-G3-0 left VERIFIED (last record sent 1970-01-01T00:00:10.300Z)',
    ]);
    expect(pendingSuspicions([...cancelledThenSuspected, verified]).map((s) => s.outage_id)).toEqual([
      'METER-G2-5-M1',
      'GARDU-G3-0',
    ]);
  });

  it('fails on a CONFIRMED suspicion whose outage never came out, by confirmed_outage_id when it is set', () => {
    // The real outage started at an earlier last gasp that arrived after the suspicion was published.
    const renamed = suspicion({ status: 'CONFIRMED', confirmed_outage_id: 'GARDU-G1-(-5000)' });
    expect(checkSuspicions([renamed], new Set(['GARDU-G1-(-5000)'])).ok).toBe(true);
    const r = checkSuspicions([renamed], new Set(['GARDU-G1-0']));
    expect(r).toMatchObject({ ok: false, pending: 0, unconfirmed: 1 });
    expect(r.problems).toEqual([
      'GARDU suspicion GARDU-G1-0 CONFIRMED as GARDU-G1-(-5000), which never came out on the outages topic',
    ]);
    // Without confirmed_outage_id, the suspicion's own id.
    expect(
      checkSuspicions(g1.slice(0, 2).concat(suspicion({ status: 'CONFIRMED' })), new Set()).unconfirmed,
    ).toBe(1);
  });

  it('reports the figures and the problems in the correctness section', () => {
    const lines = suspicionSection(
      checkSuspicions([...g1, suspicion({ outage_id: 'GARDU-G3-0' })], new Set(['GARDU-G1-0'])),
    );
    expect(lines[0]).toBe(
      'Suspected outages: **FAIL**. 2 suspicions, by final status: 1 CONFIRMED, 0 CANCELLED, 1 SUSPECTED, 0 VERIFIED; 1 left pending after the drain; 0 CONFIRMED as an outage that never came out on the outages topic.',
    );
    expect(lines[1]).toMatch(/^- GARDU suspicion GARDU-G3-0 left SUSPECTED/);
  });
});

describe('report helpers', () => {
  it('percentiles and charts', () => {
    expect(percentiles([5, 1, 3, 2, 4])).toEqual({ count: 5, p50: 3, p90: 5, p95: 5, p99: 5, max: 5 });
    expect(percentiles([])).toBeUndefined();
    const svg = lineChart({
      title: 'T <x>',
      xLabel: 's',
      yLabel: 'r',
      series: [
        {
          name: 'a',
          points: [
            [0, 1],
            [1, 3],
          ],
        },
      ],
    });
    expect(svg).toContain('<polyline');
    expect(svg).toContain('T &lt;x&gt;');
    expect(
      barChart({ title: 'b', yLabel: 's', groups: [{ name: 'g', bars: [{ label: 'p50', value: 2 }] }] }),
    ).toContain('<rect');
  });
});

describe('reliability judge', () => {
  // feeder-outage: one feeder of BANDUNG UTARA dark for 2 h (the run: the view read 0).
  const run = runScenario('feeder-outage');
  const truth = truthReliability(run.truth, run.fleet);
  const cell = truth.cells[0]!;
  const viewOf = (c: ReliabilityCell, o: Partial<ReliabilityViewRow> = {}): ReliabilityViewRow => {
    const row = {
      region: c.region,
      ulp: c.ulp,
      month: c.month,
      customers_served: c.customers_served,
      sustained_interruptions: 1,
      momentary_interruptions: 0,
      customers_interrupted: c.customers_interrupted,
      customer_minutes: c.customer_minutes,
      customer_momentary: c.customer_momentary,
      ...o,
    };
    const n = row.customers_served;
    return {
      ...row,
      saidi_minutes: row.customer_minutes / n,
      saifi: row.customers_interrupted / n,
      caidi_minutes: row.customers_interrupted ? row.customer_minutes / row.customers_interrupted : 0,
      maifi: row.customer_momentary / n,
    };
  };

  it('computes the truth of feeder-outage: SAIDI 45.88 min, SAIFI 0.382', () => {
    expect(truth.cells).toHaveLength(1);
    expect([cell.saidi_minutes.toFixed(2), cell.saifi.toFixed(3)]).toEqual(['45.88', '0.382']);
  });

  it('fails the feeder outage that counted for nothing (SAIDI 0, SAIFI 0: scored PASS before)', () => {
    const zero = viewOf(cell, { customers_interrupted: 0, customer_minutes: 0 });
    const r = checkReliability(truth, [zero]);
    expect(r.ok).toBe(false);
    expect(r.cells[0]!.problems).toEqual([
      `customers interrupted: 0, truth ${cell.customers_interrupted} (${cell.customers_interrupted} missing)`,
      expect.stringMatching(/^customer-minutes 0.0, truth 137640.0 \(off by -137640.0, allowed ±26381.0\)$/),
    ]);
    expect(checkReliability(truth, []).cells[0]!.problems).toEqual(['no row in reliability_monthly']);
  });

  it('fails a duplicated outage: every customer and minute counted twice', () => {
    const doubled = viewOf(cell, {
      customers_interrupted: 2 * cell.customers_interrupted,
      customer_minutes: 2 * cell.customer_minutes,
    });
    const r = checkReliability(truth, [doubled]);
    expect(r.ok).toBe(false);
    expect(r.cells[0]!.problems.join('\n')).toMatch(
      /customers interrupted: 2294, truth 1147 \(a customer counted twice\)/,
    );
    expect(r.cells[0]!.problems.join('\n')).toMatch(/a customer counted twice for the same minutes/);
    // One customer too many is a duplicate too: counts are exact.
    const oneMore = viewOf(cell, { customers_interrupted: cell.customers_interrupted + 1 });
    expect(checkReliability(truth, [oneMore]).ok).toBe(false);
  });

  it('passes exact counts with minutes within the start and restore tolerances, and fails beyond', () => {
    // Default tolerances: start 3 min + restore 20 min = 23 min a customer.
    const within = viewOf(cell, {
      customer_minutes: cell.customer_minutes + 22 * cell.customers_interrupted,
    });
    expect(checkReliability(truth, [within]).ok).toBe(true);
    const beyond = viewOf(cell, {
      customer_minutes: cell.customer_minutes - 24 * cell.customers_interrupted,
    });
    expect(checkReliability(truth, [beyond]).ok).toBe(false);
    const other = viewOf({ ...cell, ulp: 'CIJAURA' });
    expect(
      checkReliability(truth, [viewOf(cell), other]).cells.find((c) => c.ulp === 'CIJAURA')!.problems,
    ).toEqual([
      'customers interrupted: 1147, truth 0 (a customer counted twice)',
      expect.stringMatching(/^customer-minutes 137640.0, truth 0.0/),
    ]);
  });

  it('lets customers restored at the very end of the range be missing from the view, not doubled', () => {
    const end = run.truth.find((l) => l.kind === 'customer_dark')!.end!;
    const near = truthReliability(run.truth, run.fleet, {
      until: end + 60_000,
      pendingWithinMs: 20 * 60_000,
    });
    expect(near.cells[0]!.pending_customers).toBe(cell.customers_interrupted);
    expect(checkReliability(near, [viewOf(cell, { customers_interrupted: 0, customer_minutes: 0 })]).ok).toBe(
      true,
    );
  });

  it('prints the truth beside reliability_monthly', () => {
    const md = reliabilitySection(
      checkReliability(truth, [viewOf(cell, { customers_interrupted: 0, customer_minutes: 0 })]),
    );
    const text = md.join('\n');
    expect(text).toContain('Reliability indices: **FAIL**');
    expect(text).toContain(
      '| JABAR | BANDUNG UTARA | 2026-11-01 | 3,000 / 3,000 | 1,147 / 0 | 137,640.0 / 0.0 | 45.88 / 0.00 | 0.382 / 0.000 |',
    );
  });
});
