/**
 * Day summaries for a month's billing refresh (migrations/008_reads_days.sql):
 * which day units need (re)summarising, and the summariser that folds a unit's
 * buckets into one row (or keeps them apart in a unit holding month boundaries).
 *
 * A unit is summarised again when reads arrived for it at or after its last
 * summary's server time minus `settleS`. The margin covers an INSERT whose
 * arrival stamp (reads_arrivals_mv) was taken before its buckets part became
 * visible (the views of one INSERT run one after the other).
 */
import { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import { isRetriable } from '@ami/lib';
import {
  SERVER_NOW_SQL,
  bucketsSql,
  insertDaysSql,
  markSummarisedSql,
  SCAN_SETTINGS,
  unitStampsSql,
  type MeterRange,
  type ScanWindow,
} from './billingSql.js';
import { SummaryRowReader, UnorderedScanError, type SummaryRow } from './billingScan.js';
import { appendSegment, shortestInterval, type Segments } from './billing.js';
import { streamInsert } from './insert.js';
import { RowBinaryWriter } from './rowbinary.js';
import { UNIT_OFFSET_S } from './timezones.js';

const DAY_S = 86_400;

export const unitOf = (t: number): number => Math.floor((t - UNIT_OFFSET_S) / DAY_S);
export const unitStart = (unit: number): number => unit * DAY_S + UNIT_OFFSET_S;
export const unitDate = (unit: number): string => new Date(unit * DAY_S * 1000).toISOString().slice(0, 10);
const unitOfDate = (date: string): number => Date.parse(`${date}T00:00:00Z`) / 1000 / DAY_S;

/** The unit before the 1st of a month holds its local midnights in every zone (LOCAL_MIDNIGHTS_UTC_S). */
export function isBoundaryUnit(unit: number): boolean {
  return new Date((unit + 1) * DAY_S * 1000).getUTCDate() === 1;
}

/** The units that intersect a window (first and last day numbers). */
export function unitsOfWindow(w: ScanWindow): { first: number; last: number } {
  return { first: unitOf(w.lo), last: unitOf(w.hi - 1) };
}

/**
 * The units of [first, last] to summarise: never summarised, or reads arrived at
 * or after their summary's time minus `settleS` (epoch seconds of the server).
 */
export function unitsToSummarise(
  first: number,
  last: number,
  summarisedAt: ReadonlyMap<number, number>,
  arrivedAt: ReadonlyMap<number, number>,
  settleS: number,
): number[] {
  const dirty: number[] = [];
  for (let u = first; u <= last; u++) {
    const done = summarisedAt.get(u);
    const arrived = arrivedAt.get(u);
    if (done === undefined || (arrived !== undefined && arrived >= done - settleS)) dirty.push(u);
  }
  return dirty;
}

/** Sorted units as runs of consecutive ones, each at most `maxUnits` long. */
export function unitRuns(units: readonly number[], maxUnits: number): [number, number][] {
  const runs: [number, number][] = [];
  for (const u of units) {
    const run = runs.at(-1);
    if (run && u === run[1] + 1 && u - run[0] < maxUnits) run[1] = u;
    else runs.push([u, u]);
  }
  return runs;
}

/** Bytes of RowBinary the summariser hands on at a time. */
const OUTPUT_CHUNK_BYTES = 1 << 22;

/**
 * Folds bucket rows (bucketsSql, in (meter_id, bucket) order) into reads_days
 * rows (DAY_COLUMNS): one per meter and unit, or the unit's buckets unchanged
 * in a boundary unit. A day row is the buckets' run of registers folded with
 * appendSegment's rule, so billing it equals billing its buckets.
 */
export class DaySummariser extends SummaryRowReader {
  private w = new RowBinaryWriter(OUTPUT_CHUNK_BYTES + 4096);
  private meterId: string | undefined;
  private unit = -1;
  private fa = 0;
  private la = 0;
  /** The unit's registers so far, folded as billing.ts folds them. */
  private seg: Segments = { firstWh: 0, lastWh: 0, risingWh: 0, resets: 0 };
  private reads = 0;
  private intervalS = 0;
  private maxDemand = 0;
  /** Rows written. */
  written = 0;

  constructor(
    private readonly version: number,
    private readonly out: (chunk: Buffer) => void,
  ) {
    super();
  }

  override end(): void {
    super.end();
    if (this.w.length > 0) this.out(this.w.take());
  }

  protected meterStarts(meterId: string | undefined): void {
    this.flushUnit();
    this.meterId = meterId;
  }

  protected row(r: Readonly<SummaryRow>): void {
    const { bk, fa, fw, la, lw, reads, intervalS, maxDemand, rising, resets } = r;
    const unit = unitOf(bk);
    if (unit === this.unit) {
      // The next bucket of the unit: its registers follow the unit's so far.
      appendSegment(this.seg, fw, lw, rising, resets);
      this.la = la;
      this.reads += reads;
      this.intervalS = shortestInterval(this.intervalS, intervalS);
      if (maxDemand > this.maxDemand) this.maxDemand = maxDemand;
      return;
    }
    this.flushUnit();
    if (isBoundaryUnit(unit)) {
      this.write(bk, unit, fa, fw, la, lw, rising, resets, reads, intervalS, maxDemand);
      return;
    }
    this.unit = unit;
    this.seg = appendSegment(undefined, fw, lw, rising, resets);
    [this.fa, this.la, this.reads, this.intervalS, this.maxDemand] = [fa, la, reads, intervalS, maxDemand];
  }

  private flushUnit(): void {
    if (this.unit < 0) return;
    const u = this.unit;
    this.unit = -1;
    this.write(
      unitStart(u),
      u,
      this.fa,
      this.seg.firstWh,
      this.la,
      this.seg.lastWh,
      this.seg.risingWh,
      this.seg.resets,
      this.reads,
      this.intervalS,
      this.maxDemand,
    );
  }

  private write(
    start: number,
    unit: number,
    fa: number,
    fw: number,
    la: number,
    lw: number,
    rising: number,
    resets: number,
    reads: number,
    intervalS: number,
    maxDemand: number,
  ): void {
    const w = this.w;
    w.string(this.meterId!);
    w.u32(start);
    w.u16(unit);
    w.u32(fa);
    w.i64(fw);
    w.u32(la);
    w.i64(lw);
    w.i64(rising);
    w.u32(resets);
    w.u32(reads);
    w.u32(intervalS);
    w.i32(maxDemand);
    w.u32(this.version);
    this.written++;
    if (w.length >= OUTPUT_CHUNK_BYTES) {
      this.out(w.take());
      this.w = new RowBinaryWriter(OUTPUT_CHUNK_BYTES + 4096);
    }
  }
}

export interface SummaryOptions {
  /** Reads arriving this close before a summary make its unit summarised again (seconds). */
  settleS: number;
  /** Meter-id ranges scanned side by side. */
  ranges: readonly MeterRange[];
}

/** Units per summarising pass: bounds one pass's buckets query and INSERT. */
const UNITS_PER_PASS = 31;

export async function jsonRows<T>(ch: ClickHouseClient, query: string): Promise<T[]> {
  return (await ch.query({ query, format: 'JSONEachRow', clickhouse_settings: SCAN_SETTINGS })).json<T>();
}

/**
 * Brings reads_days up to date for every unit of the window: summarises the
 * units never summarised and those that got reads since. Returns how many
 * units and rows were written.
 */
export async function summariseDays(
  ch: ClickHouseClient,
  db: string,
  w: ScanWindow,
  opts: SummaryOptions,
): Promise<{ units: number; rows: number }> {
  const { first, last } = unitsOfWindow(w);
  const asMap = (rows: { day: string; at: number }[]) =>
    new Map(rows.map((r) => [unitOfDate(r.day), Number(r.at)]));
  const stamps = (stamp: Parameters<typeof unitStampsSql>[1]) =>
    jsonRows<{ day: string; at: number }>(ch, unitStampsSql(db, stamp, unitDate(first), unitDate(last)));
  const [done, arrived] = await Promise.all([
    stamps('reads_days_summarised.summarised_at'),
    stamps('reads_arrivals.arrived_at'),
  ]);
  const dirty = unitsToSummarise(first, last, asMap(done), asMap(arrived), opts.settleS);
  let rows = 0;
  for (const [a, b] of unitRuns(dirty, UNITS_PER_PASS))
    rows += await summariseUnits(ch, db, a, b, opts.ranges);
  return { units: dirty.length, rows };
}

/** Summarises units a..b (consecutive) for every meter and marks them summarised. */
async function summariseUnits(
  ch: ClickHouseClient,
  db: string,
  a: number,
  b: number,
  ranges: readonly MeterRange[],
): Promise<number> {
  // The server's time before the buckets are read: reads arriving later mark the units again.
  const [now] = await jsonRows<{ now: number }>(ch, SERVER_NOW_SQL);
  const at = Number(now!.now);
  const w = { lo: unitStart(a), hi: unitStart(b + 1) };
  let passes: { written: number }[];
  try {
    passes = await Promise.all(ranges.map((range) => summarisePass(ch, db, w, at, { range })));
  } catch (err) {
    if (!(err instanceof UnorderedScanError)) throw err;
    // Rows of the unordered pass may be wrong: the sorted pass outranks them (version + 1).
    passes = [await summarisePass(ch, db, w, at + 1, { ordered: true })];
  }
  const written = passes.reduce((sum, p) => sum + p.written, 0);
  const units = Array.from({ length: b - a + 1 }, (_, i) => unitDate(a + i));
  await ch.command({ query: markSummarisedSql(db, units, at) });
  return written;
}

/** RowBinary of day rows sent per INSERT: bounded memory, and a failed INSERT can be sent again. */
const INSERT_BYTES = 16 << 20;

/**
 * One INSERT of day rows, tried again on a retriable failure (a pooled socket the server closed
 * gives "socket hang up"): rows carry their version, so one that did land twice collapses.
 */
async function insertDays(ch: ClickHouseClient, db: string, chunks: Buffer[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await streamInsert(ch, insertDaysSql(db), Readable.from(chunks), 'reads_days insert');
    } catch (err) {
      if (attempt >= 3 || !isRetriable(err)) throw err;
      await new Promise((r) => setTimeout(r, 250 * attempt));
    }
  }
}

/** One bucket stream folded into day rows, inserted every INSERT_BYTES as they are made. */
async function summarisePass(
  ch: ClickHouseClient,
  db: string,
  w: ScanWindow,
  version: number,
  o: { range?: MeterRange; ordered?: boolean },
): Promise<{ written: number }> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const summariser = new DaySummariser(version, (chunk) => {
    pending.push(chunk);
    pendingBytes += chunk.length;
  });
  const flush = async () => {
    const chunks = pending;
    [pending, pendingBytes] = [[], 0];
    if (chunks.length > 0) await insertDays(ch, db, chunks);
  };
  const res = await ch.exec({ query: bucketsSql(db, w, o), clickhouse_settings: SCAN_SETTINGS });
  try {
    for await (const chunk of res.stream) {
      summariser.push(chunk as Buffer);
      // The scan waits (server-side) while a batch is inserted.
      if (pendingBytes >= INSERT_BYTES) await flush();
    }
  } finally {
    res.stream.destroy();
  }
  summariser.end();
  await flush();
  return { written: summariser.written };
}
