import { describe, expect, it } from 'vitest';
import {
  DaySummariser,
  isBoundaryUnit,
  unitOf,
  unitRuns,
  unitStart,
  unitsToSummarise,
} from '../src/billingDays.js';
import { PeriodScanner, type BillRow, type MeterProfileRow } from '../src/billingScan.js';
import { ROW_END_MARK, SUMMARY_ROW_BYTES } from '../src/billingSql.js';
import { loadTariffFiles } from '../src/tariffs.js';
import { bucketsOf, encode } from './buckets.js';
import { METERS, READS } from './fixtures.js';

/**
 * Day summaries (migrations/008_reads_days.sql) must bill exactly as the
 * buckets they fold: the month refresh reads them instead of reads_buckets.
 */
const tariffs = loadTariffFiles();
const march = { from: '2025-03-01', to: '2025-04-01', asOf: 2_000_000_000, minimumEligible: true, tariffs };

/** reads_days rows as the summariser writes them (DAY_COLUMNS), re-encoded in the layout daysSql streams. */
function dayRowsAsScanRows(body: Buffer): { bodies: Buffer; starts: Map<string, number[]> } {
  const out: Buffer[] = [];
  const starts = new Map<string, number[]>();
  let p = 0;
  while (p < body.length) {
    const len = body[p]!;
    const id = body.toString('utf8', p + 1, p + 1 + len);
    let q = p + 1 + len;
    const start = body.readUInt32LE(q);
    q += 4 + 2; // start, unit
    const fa = body.readUInt32LE(q);
    const fw = body.readBigInt64LE(q + 4);
    const la = body.readUInt32LE(q + 12);
    const lw = body.readBigInt64LE(q + 16);
    const rising = body.readBigInt64LE(q + 24);
    const resets = body.readUInt32LE(q + 32);
    const n = body.readUInt32LE(q + 36);
    const iv = body.readUInt32LE(q + 40);
    const md = body.readInt32LE(q + 44);
    p = q + 48 + 4; // version
    const row = Buffer.alloc(1 + len + SUMMARY_ROW_BYTES);
    row[0] = len;
    row.write(id, 1);
    let o = 1 + len;
    o = row.writeUInt32LE(start, o);
    o = row.writeUInt32LE(fa, o);
    o = row.writeBigInt64LE(fw, o);
    o = row.writeUInt32LE(la, o);
    o = row.writeBigInt64LE(lw, o);
    o = row.writeUInt32LE(n, o);
    o = row.writeUInt32LE(iv, o);
    o = row.writeInt32LE(md, o);
    o = row.writeBigInt64LE(rising, o);
    o = row.writeUInt32LE(resets, o);
    row.writeUInt32LE(ROW_END_MARK, o);
    out.push(row);
    starts.set(id, [...(starts.get(id) ?? []), start]);
  }
  return { bodies: Buffer.concat(out), starts };
}

function summarise(bucketRows: Buffer, chunkBytes = bucketRows.length): Buffer {
  const chunks: Buffer[] = [];
  const s = new DaySummariser(1, (c) => chunks.push(Buffer.from(c)));
  for (let p = 0; p < bucketRows.length; p += chunkBytes) s.push(bucketRows.subarray(p, p + chunkBytes));
  s.end();
  return Buffer.concat(chunks);
}

function bill(meters: ReadonlyMap<string, MeterProfileRow>, body: Buffer, ctx = march): BillRow[] {
  const rows: BillRow[] = [];
  const s = new PeriodScanner(meters, ctx, (r) => rows.push(r));
  s.push(body);
  s.end();
  return rows;
}

const profileOf = (id: string, timezone: string, installed = 1_700_000_000): MeterProfileRow => ({
  meter_id: id,
  idpel: '511000000000',
  region: 'JATIM',
  ulp: 'ULP-SIDOARJO',
  tariff: 'R-1',
  daya_va: 1300,
  timezone,
  installed,
});

/** A small deterministic generator (no flaky seeds). */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1_664_525) + 1_013_904_223) >>> 0;
    return x / 2 ** 32;
  };
}

/** Reads of `meters` meters from mid-February to mid-April: gaps, off-grid reads, resets, duplicates. */
function randomReads(meters: number, seed: number) {
  const rnd = lcg(seed);
  const reads: { meter_id: string; t: number; wh: number; interval: boolean }[] = [];
  const from = Date.parse('2025-02-15T00:00:00Z') / 1000;
  const to = Date.parse('2025-04-15T00:00:00Z') / 1000;
  for (let m = 0; m < meters; m++) {
    const id = `RM${String(m).padStart(3, '0')}`;
    let wh = Math.floor(rnd() * 1e6);
    for (let t = from + Math.floor(rnd() * 3600) * 60; t < to;) {
      // A dark or missing stretch now and then, across a boundary or not.
      t += rnd() < 0.02 ? Math.floor(rnd() * 5 * 86_400) : 900 * (1 + Math.floor(rnd() * 8));
      wh = rnd() < 0.003 ? Math.floor(rnd() * 1000) : wh + Math.floor(rnd() * 400);
      reads.push({ meter_id: id, t, wh, interval: t % 900 === 0 });
      if (rnd() < 0.01) reads.push({ meter_id: id, t, wh, interval: t % 900 === 0 }); // redelivered
    }
  }
  return reads;
}

describe('day summaries (reads_days) bill as their buckets', () => {
  it('gives the hand-computed fixture bills exactly as the buckets do', () => {
    const meters = new Map(
      METERS.map((m) => [m.meter_id, profileOf(m.meter_id, m.timezone, m.installed_at / 1000)]),
    );
    const buckets = encode(
      bucketsOf(
        READS.map((r) => ({
          meter_id: r.meter_id,
          t: r.read_at / 1000,
          wh: r.energy_import_wh,
          interval: r.kind === 'INTERVAL',
        })),
      ),
    );
    const days = dayRowsAsScanRows(summarise(buckets)).bodies;
    expect(bill(meters, days)).toEqual(bill(meters, buckets));
  });

  for (const tz of ['Asia/Jakarta', 'Asia/Makassar', 'Asia/Jayapura']) {
    it(`bills 60 irregular meters in ${tz} identically, for March and for February (resets, gaps, duplicates)`, () => {
      const reads = randomReads(60, tz.length);
      const meters = new Map([...new Set(reads.map((r) => r.meter_id))].map((id) => [id, profileOf(id, tz)]));
      const buckets = encode(bucketsOf(reads));
      const days = dayRowsAsScanRows(summarise(buckets, 997)).bodies;
      expect(days.length).toBeLessThan(buckets.length * 0.75);
      for (const ctx of [march, { ...march, from: '2025-02-01', to: '2025-03-01' }]) {
        const expected = bill(meters, buckets, ctx);
        expect(expected).toHaveLength(60);
        expect(expected.some((r) => r.resets > 0)).toBe(true);
        expect(bill(meters, days, ctx)).toEqual(expected);
      }
    });
  }

  it('keeps one row per meter and day, and the buckets of the day before the 1st apart', () => {
    const t = (iso: string) => Date.parse(iso) / 1000;
    const reads = [
      '2025-03-09T14:00:00Z',
      '2025-03-10T15:30:00Z',
      '2025-03-10T16:30:00Z',
      '2025-03-11T03:00:00Z',
      '2025-03-31T15:30:00Z',
      '2025-03-31T16:30:00Z',
      '2025-04-01T03:00:00Z',
    ].map((iso, i) => ({ meter_id: 'M1', t: t(iso), wh: 100 * i, interval: true }));
    const { starts } = dayRowsAsScanRows(summarise(encode(bucketsOf(reads))));
    expect(starts.get('M1')).toEqual([
      t('2025-03-08T15:00:00Z'), // 9 March 14:00 belongs to the unit of 8 March
      t('2025-03-10T15:00:00Z'), // 10 March 15:30, 16:30 and 11 March 03:00: one unit
      t('2025-03-31T15:00:00Z'), // the unit before 1 April: its three buckets
      t('2025-03-31T16:00:00Z'),
      t('2025-03-31T17:00:00Z'),
    ]);
  });
});

describe('which day units are summarised again', () => {
  const day = unitOf(Date.parse('2025-03-10T15:00:00Z') / 1000);

  it('knows a unit by its 15:00 UTC start and the unit before the 1st as a boundary unit', () => {
    expect(unitStart(day)).toBe(Date.parse('2025-03-10T15:00:00Z') / 1000);
    expect(unitOf(Date.parse('2025-03-11T14:59:59Z') / 1000)).toBe(day);
    expect(isBoundaryUnit(unitOf(Date.parse('2025-03-31T16:00:00Z') / 1000))).toBe(true);
    expect(isBoundaryUnit(unitOf(Date.parse('2025-02-28T17:00:00Z') / 1000))).toBe(true);
    expect(isBoundaryUnit(day)).toBe(false);
  });

  it('summarises units never summarised and units with reads since (or just before) their summary', () => {
    const done = new Map([
      [day, 1000],
      [day + 1, 1000],
      [day + 2, 1000],
      [day + 3, 1000],
    ]);
    const arrived = new Map([
      [day, 900], // before the summary, beyond the settle margin: clean
      [day + 1, 950], // within 60 s before it: the summary may have missed it
      [day + 2, 1500], // after it
    ]);
    expect(unitsToSummarise(day, day + 4, done, arrived, 60)).toEqual([day + 1, day + 2, day + 4]);
    expect(unitsToSummarise(day, day + 4, done, arrived, 0)).toEqual([day + 2, day + 4]);
  });

  it('groups units into runs of consecutive days, each at most the pass size', () => {
    expect(unitRuns([1, 2, 3, 5, 6, 9], 8)).toEqual([
      [1, 3],
      [5, 6],
      [9, 9],
    ]);
    expect(unitRuns([1, 2, 3, 4, 5], 2)).toEqual([
      [1, 2],
      [3, 4],
      [5, 5],
    ]);
  });
});
