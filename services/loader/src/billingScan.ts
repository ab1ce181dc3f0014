/**
 * The billing of one period from summary rows streamed out of ClickHouse in
 * (meter_id, start) order: `reads_buckets_daily` buckets or `reads_days` day
 * summaries (billingSql.ts, one layout). The rule of billing.ts (usageOf,
 * charge) is applied meter by meter as the rows go by, without an object per row.
 *
 * A row's first and last register are reads, so the neighbours of a boundary
 * are the last row before it (its last read) and the first row at or after it
 * (its first read); no row straddles a boundary of a month (002_reads_buckets.sql,
 * 008_reads_days.sql). Inside the period each row appends its run of registers
 * to the segments (appendSegment): a reset between two rows or inside a day
 * summary's buckets is seen, one hidden inside a bucket is not (README "Billing rule").
 */
import { AmiError } from '@ami/lib';
import {
  appendSegment,
  charge,
  shortestInterval,
  tariffIn,
  tariffVersionAt,
  usageOf,
  type RegisterPoint,
  type Segments,
  type TariffChoice,
  type TariffRow,
} from './billing.js';
import { ROW_END_MARK, SUMMARY_ROW_BYTES } from './billingSql.js';
import { DEFAULT_TIMEZONE, isSupportedTimezone, localMidnight } from './timezones.js';

/** A meter's latest live profile (metersSql). */
export interface MeterProfileRow {
  meter_id: string;
  idpel: string;
  region: string;
  ulp: string;
  tariff: string;
  daya_va: number;
  timezone: string;
  installed: number;
}

/** One bill: a billing_usage row before encoding (instants in epoch seconds, energy in Wh). */
export interface BillRow {
  meter: MeterProfileRow;
  periodStart: number;
  periodEnd: number;
  startWh: number;
  endWh: number;
  wh: number;
  readsReceived: number;
  readsExpected: number;
  estimated: boolean;
  startEstimated: boolean;
  endEstimated: boolean;
  resets: number;
  periodComplete: boolean;
  maxDemandW: number;
  tariffVersion: string;
  rateSen: number;
  energySen: number;
  minimumSen: number;
  minimumApplied: boolean;
  amountSen: number;
}

export interface PeriodContext {
  /** First local day of the period and first local day after it, YYYY-MM-DD. */
  from: string;
  to: string;
  /** Epoch seconds (whole): periods ending after it are in progress. */
  asOf: number;
  minimumEligible: boolean;
  tariffs: readonly TariffRow[];
}

/** The stream was not in (meter_id, bucket) order: ask again with an ORDER BY. */
export class UnorderedScanError extends AmiError {
  constructor(message: string) {
    super(message, { retriable: true });
  }
}

const TWO_32 = 4294967296;
/** Bytes of a chunk copied to complete a row begun in the previous chunk (ids are short). */
const STRADDLE_BYTES = 512;

/**
 * One summary row of the current meter, as billingSql.ts lays it out: its start `bk` (bucket or
 * local day), first read `fa`/`fw` and last read `la`/`lw` (epoch seconds, Wh), interval reads,
 * shortest interval, highest demand, Wh risen and register resets. The reader fills one object
 * and reuses it: a subclass reads it during `row` and keeps nothing of it.
 */
export interface SummaryRow {
  bk: number;
  fa: number;
  fw: number;
  la: number;
  lw: number;
  reads: number;
  intervalS: number;
  maxDemand: number;
  rising: number;
  resets: number;
}

const point = (has: boolean, t: number, wh: number): RegisterPoint | undefined =>
  has ? { t, wh } : undefined;

/**
 * Parses streamed summary rows (RowBinary, SUMMARY_ROW_BYTES after the id),
 * checks their (meter_id, start) order and hands each to the subclass.
 */
export abstract class SummaryRowReader {
  private rest: Buffer | undefined;
  // The current meter's id bytes.
  private id = Buffer.alloc(256);
  private idLen = -1;
  private lastBk = -1;
  private readonly current: SummaryRow = {
    bk: 0,
    fa: 0,
    fw: 0,
    la: 0,
    lw: 0,
    reads: 0,
    intervalS: 0,
    maxDemand: 0,
    rising: 0,
    resets: 0,
  };
  /** Rows parsed so far. */
  rows = 0;

  /** A new meter begins (ids ascending); `meterId` is undefined after the last one. */
  protected abstract meterStarts(meterId: string | undefined): void;

  /** One row of the current meter, in start order. */
  protected abstract row(r: Readonly<SummaryRow>): void;

  /** Parses whole rows of `chunk` (a row may continue from the previous chunk and into the next). */
  push(chunk: Buffer): void {
    let from = 0;
    if (this.rest) {
      // Only the straddling row is copied, not the whole chunk.
      const head = Buffer.concat([this.rest, chunk.subarray(0, STRADDLE_BYTES)]);
      const used = this.parse(head, 0, 1);
      if (used === 0 && chunk.length > STRADDLE_BYTES) {
        // A row longer than STRADDLE_BYTES (a very long meter id): copy it all.
        const all = Buffer.concat([this.rest, chunk]);
        const n = this.parse(all, 0, Infinity);
        this.rest = n < all.length ? all.subarray(n) : undefined;
        return;
      }
      if (used === 0) {
        this.rest = head;
        return;
      }
      from = used - this.rest.length;
    }
    const used = this.parse(chunk, from, Infinity);
    this.rest = used < chunk.length ? Buffer.from(chunk.subarray(used)) : undefined;
  }

  /** After the last chunk: closes the last meter. */
  end(): void {
    if (this.rest) throw new AmiError('summary scan: the stream ended inside a row', { retriable: true });
    this.meterStarts(undefined);
  }

  /** Parses at most `maxRows` whole rows from `p`; returns where the first unparsed row starts. */
  private parse(buf: Buffer, p: number, maxRows: number): number {
    const n = buf.length;
    // DataView reads are inlined by V8; Buffer#readUInt32LE validates its argument on every call.
    const dv = new DataView(buf.buffer, buf.byteOffset, n);
    for (let rows = 0; p < n && rows < maxRows; rows++) {
      let len = buf[p]!;
      let q = p + 1;
      if (len >= 0x80) {
        // A meter id of 128 bytes or more: a multi-byte length.
        len = 0;
        let shift = 1;
        for (q = p; q < n && buf[q]! >= 0x80; q++, shift *= 128) len += (buf[q]! & 0x7f) * shift;
        if (q >= n) return p;
        len += buf[q]! * shift;
        q++;
      }
      if (q + len + SUMMARY_ROW_BYTES > n) return p;
      if (dv.getUint32(q + len + SUMMARY_ROW_BYTES - 4, true) !== ROW_END_MARK)
        throw new AmiError('summary scan: a row without its end mark (the stream was cut)', {
          retriable: true,
        });
      if (!this.sameMeter(buf, q, len)) this.startMeter(buf, q, len);
      q += len;
      const bk = dv.getUint32(q, true);
      if (bk <= this.lastBk) throw new UnorderedScanError(`row ${bk} after ${this.lastBk}`);
      this.lastBk = bk;
      this.rows++;
      const r = this.current;
      r.bk = bk;
      r.fa = dv.getUint32(q + 4, true);
      r.fw = dv.getUint32(q + 8, true) + dv.getInt32(q + 12, true) * TWO_32;
      r.la = dv.getUint32(q + 16, true);
      r.lw = dv.getUint32(q + 20, true) + dv.getInt32(q + 24, true) * TWO_32;
      r.reads = dv.getUint32(q + 28, true);
      r.intervalS = dv.getUint32(q + 32, true);
      r.maxDemand = dv.getInt32(q + 36, true);
      r.rising = dv.getUint32(q + 40, true) + dv.getInt32(q + 44, true) * TWO_32;
      r.resets = dv.getUint32(q + 48, true);
      this.row(r);
      p = q + SUMMARY_ROW_BYTES;
    }
    return p;
  }

  private sameMeter(buf: Buffer, at: number, len: number): boolean {
    if (len !== this.idLen) return false;
    const id = this.id;
    // Ids mostly differ at the end (BM1, BM2, ...): compare backwards.
    for (let i = len - 1; i >= 0; i--) if (buf[at + i] !== id[i]) return false;
    return true;
  }

  private startMeter(buf: Buffer, at: number, len: number): void {
    if (this.idLen >= 0 && Buffer.compare(buf.subarray(at, at + len), this.id.subarray(0, this.idLen)) <= 0)
      throw new UnorderedScanError('meter ids out of order');
    if (len > this.id.length) this.id = Buffer.alloc(len * 2);
    buf.copy(this.id, 0, at, at + len);
    this.idLen = len;
    this.lastBk = -1;
    this.meterStarts(buf.toString('utf8', at, at + len));
  }
}

/** Folds streamed summary rows into one BillRow per billable meter. */
export class PeriodScanner extends SummaryRowReader {
  private readonly zoneBounds = new Map<string, [number, number]>();
  private readonly tariffChoices = new Map<string, TariffChoice>();
  private readonly tariffVersion: string | undefined;
  // The meter being folded: its profile and boundaries.
  private meter: MeterProfileRow | undefined;
  private bStart = 0;
  private bEnd = 0;
  // Neighbours of the boundaries (ps/ns: start, pe/ne: end) and the period's own rows.
  private hasPs = false;
  private psT = 0;
  private psE = 0;
  private hasNs = false;
  private nsT = 0;
  private nsE = 0;
  private hasPe = false;
  private peT = 0;
  private peE = 0;
  private hasNe = false;
  private neT = 0;
  private neE = 0;
  private seg: Segments | undefined;
  private received = 0;
  private intervalS = 0;
  private maxDemand = 0;
  /** Meters without a row before the start or (a finished period) after the end. */
  readonly wider: string[] = [];

  constructor(
    private readonly meters: ReadonlyMap<string, MeterProfileRow>,
    private readonly ctx: PeriodContext,
    private readonly emit: (row: BillRow) => void,
  ) {
    super();
    this.tariffVersion = tariffVersionAt(ctx.tariffs, ctx.from);
  }

  protected meterStarts(meterId: string | undefined): void {
    this.finishMeter();
    this.meter = meterId === undefined ? undefined : this.meters.get(meterId);
    if (this.meter) [this.bStart, this.bEnd] = this.bounds(this.meter.timezone);
    this.hasPs = this.hasNs = this.hasPe = this.hasNe = false;
    // As the SQL aggregates did: a missing neighbour reads 0.
    this.psT = this.psE = this.nsT = this.nsE = this.peT = this.peE = this.neT = this.neE = 0;
    this.seg = undefined;
    this.received = this.intervalS = this.maxDemand = 0;
  }

  protected row(r: Readonly<SummaryRow>): void {
    if (!this.meter) return;
    const { bk, fa, fw, la, lw, reads, intervalS, maxDemand, rising, resets } = r;
    if (bk < this.bStart) {
      this.hasPs = true;
      this.psT = la;
      this.psE = lw;
    } else if (!this.hasNs) {
      this.hasNs = true;
      this.nsT = fa;
      this.nsE = fw;
    }
    if (bk >= this.bEnd) {
      if (!this.hasNe) {
        this.hasNe = true;
        this.neT = fa;
        this.neE = fw;
      }
      return;
    }
    this.hasPe = true;
    this.peT = la;
    this.peE = lw;
    if (bk < this.bStart) return;
    // A row inside the period.
    if (!this.seg || maxDemand > this.maxDemand) this.maxDemand = maxDemand;
    this.seg = appendSegment(this.seg, fw, lw, rising, resets);
    this.received += reads;
    this.intervalS = shortestInterval(this.intervalS, intervalS);
  }

  private finishMeter(): void {
    const m = this.meter;
    this.meter = undefined;
    if (!m || m.installed >= this.bEnd) return;
    // A neighbour of a boundary may lie further out than the rows scanned.
    if ((!this.hasPs && m.installed < this.bStart) || (!this.hasNe && this.bEnd <= this.ctx.asOf))
      this.wider.push(m.meter_id);
    // Billable: installed before the end, and a read before the start or inside the period.
    if (!(this.hasPs || this.nsT < this.bEnd)) return;
    const u = usageOf(
      {
        startPrev: point(this.hasPs, this.psT, this.psE),
        startNext: point(this.hasNs, this.nsT, this.nsE),
        endPrev: point(this.hasPe, this.peT, this.peE),
        endNext: point(this.hasNe, this.neT, this.neE),
        inside: this.seg,
      },
      this.bStart,
      this.bEnd,
      m.installed,
      this.ctx.asOf,
    );
    if (!u) return;
    const tariff = this.tariffOf(m);
    const c = charge(u.wh, m.daya_va, tariff.row, this.ctx.minimumEligible && u.periodComplete);
    const counted = Math.max(Math.min(this.ctx.asOf, this.bEnd) - Math.max(this.bStart, m.installed), 0);
    this.emit({
      meter: m,
      periodStart: this.bStart,
      periodEnd: this.bEnd,
      startWh: u.startWh,
      endWh: u.endWh,
      wh: u.wh,
      readsReceived: this.received,
      readsExpected: this.intervalS === 0 ? 0 : Math.floor(counted / this.intervalS),
      estimated: u.estimated,
      startEstimated: u.startEstimated,
      endEstimated: u.endEstimated,
      resets: u.resets,
      periodComplete: u.periodComplete,
      maxDemandW: this.maxDemand,
      tariffVersion: tariff.version,
      rateSen: tariff.row?.rate_sen_per_kwh ?? 0,
      energySen: c.energySen,
      minimumSen: c.minimumSen,
      minimumApplied: c.minimumApplied,
      amountSen: c.amountSen,
    });
  }

  /** Local midnights of the period's first day and of the day after it (an unknown zone bills as WIB). */
  private bounds(timezone: string): [number, number] {
    let b = this.zoneBounds.get(timezone);
    if (!b) {
      const tz = isSupportedTimezone(timezone) ? timezone : DEFAULT_TIMEZONE;
      b = [localMidnight(this.ctx.from, tz), localMidnight(this.ctx.to, tz)];
      this.zoneBounds.set(timezone, b);
    }
    return b;
  }

  /** The class and power band in the version in force on the period's first day (tariffIn, cached). */
  private tariffOf(m: MeterProfileRow): TariffChoice {
    const key = `${m.tariff}\u0000${m.daya_va}`;
    let choice = this.tariffChoices.get(key);
    if (!choice) {
      choice = tariffIn(this.ctx.tariffs, this.tariffVersion, m.tariff, m.daya_va);
      this.tariffChoices.set(key, choice);
    }
    return choice;
  }
}
