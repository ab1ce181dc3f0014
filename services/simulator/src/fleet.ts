import type { Kdpm, MeterProfile } from '@ami/lib';
import { hash32, pickWeighted, Rng, seedOf, unit } from './prng.js';

/**
 * The meter fleet: a deterministic topology (regions, ULPs, feeders, gardu,
 * meters) generated from a seed. Meters are numbered 0..n-1 gardu by gardu,
 * so a gardu's meters are one contiguous index range. Per-meter attributes live
 * in typed arrays (a few bytes a meter: 1.2 million meters take ~10 MB); the
 * MeterProfile objects are built on demand by `profileOf`.
 */

export interface RegionDef {
  code: string;
  area: string;
  timezone: 'Asia/Jakarta' | 'Asia/Makassar';
  /** Fixed UTC offset in hours (Indonesia has no daylight saving). */
  utcOffsetH: number;
  /** Share of the programme's meters. */
  weight: number;
  /** Two digits that start the region's IDPELs. */
  idpelPrefix: string;
  ulps: readonly string[];
}

export const REGIONS: readonly RegionDef[] = [
  {
    code: 'JATIM',
    area: 'Sidoarjo',
    timezone: 'Asia/Jakarta',
    utcOffsetH: 7,
    weight: 0.18,
    idpelPrefix: '51',
    ulps: ['SIDOARJO', 'KRIAN', 'PORONG', 'TAMAN'],
  },
  {
    code: 'JATENG',
    area: 'Magelang',
    timezone: 'Asia/Jakarta',
    utcOffsetH: 7,
    weight: 0.1,
    idpelPrefix: '52',
    ulps: ['MAGELANG KOTA', 'MUNTILAN', 'TEMANGGUNG', 'GRABAG'],
  },
  {
    code: 'JABAR',
    area: 'Bandung',
    timezone: 'Asia/Jakarta',
    utcOffsetH: 7,
    weight: 0.18,
    idpelPrefix: '53',
    ulps: ['BANDUNG UTARA', 'CIJAURA', 'UJUNGBERUNG', 'KOPO'],
  },
  {
    code: 'JAKARTA',
    area: 'Jakarta',
    timezone: 'Asia/Jakarta',
    utcOffsetH: 7,
    weight: 0.16,
    idpelPrefix: '54',
    ulps: ['MENTENG', 'KEBON JERUK', 'BANDENGAN', 'PONDOK GEDE'],
  },
  {
    code: 'BANTEN',
    area: 'Banten',
    timezone: 'Asia/Jakarta',
    utcOffsetH: 7,
    weight: 0.12,
    idpelPrefix: '55',
    ulps: ['CIPUTAT', 'SERPONG', 'BINTARO', 'CIKUPA'],
  },
  {
    code: 'BALI',
    area: 'Bali',
    timezone: 'Asia/Makassar',
    utcOffsetH: 8,
    weight: 0.1,
    idpelPrefix: '56',
    ulps: ['DENPASAR', 'KUTA', 'SANUR', 'GIANYAR'],
  },
  {
    code: 'MEDAN',
    area: 'Medan',
    timezone: 'Asia/Jakarta',
    utcOffsetH: 7,
    weight: 0.08,
    idpelPrefix: '57',
    ulps: ['MEDAN KOTA', 'MEDAN BARU', 'SUNGGAL', 'HELVETIA'],
  },
  {
    code: 'MAKASSAR',
    area: 'Makassar',
    timezone: 'Asia/Makassar',
    utcOffsetH: 8,
    weight: 0.08,
    idpelPrefix: '58',
    ulps: ['MATTOANGIN', 'PANAKKUKANG', 'KARUWISI', 'DAYA'],
  },
];

export const KDPM_CODES: readonly Kdpm[] = ['L', 'R', 'S', 'F', 'A'];
/** Default KDPM mix: PLC and RF mesh dominate, some cellular and fibre, ~7% AMR. */
export const KDPM_WEIGHTS: readonly number[] = [0.33, 0.35, 0.2, 0.05, 0.07];

export type LoadClass = 'RESIDENTIAL' | 'BUSINESS' | 'PUBLIC' | 'SOCIAL' | 'STREET_LIGHT';

export interface TariffProduct {
  tariff: string;
  dayaVa: number;
  phases: 1 | 3;
  loadClass: LoadClass;
  weight: number;
}

/** Tariff class and contracted power combinations, weighted like a postpaid low-voltage base. */
export const TARIFF_PRODUCTS: readonly TariffProduct[] = [
  { tariff: 'R-1', dayaVa: 450, phases: 1, loadClass: 'RESIDENTIAL', weight: 0.2 },
  { tariff: 'R-1', dayaVa: 900, phases: 1, loadClass: 'RESIDENTIAL', weight: 0.18 },
  { tariff: 'R-1M', dayaVa: 900, phases: 1, loadClass: 'RESIDENTIAL', weight: 0.1 },
  { tariff: 'R-1', dayaVa: 1300, phases: 1, loadClass: 'RESIDENTIAL', weight: 0.18 },
  { tariff: 'R-1', dayaVa: 2200, phases: 1, loadClass: 'RESIDENTIAL', weight: 0.08 },
  { tariff: 'R-2', dayaVa: 3500, phases: 1, loadClass: 'RESIDENTIAL', weight: 0.04 },
  { tariff: 'R-2', dayaVa: 4400, phases: 1, loadClass: 'RESIDENTIAL', weight: 0.015 },
  { tariff: 'R-2', dayaVa: 5500, phases: 1, loadClass: 'RESIDENTIAL', weight: 0.012 },
  { tariff: 'R-3', dayaVa: 7700, phases: 1, loadClass: 'RESIDENTIAL', weight: 0.005 },
  { tariff: 'R-3', dayaVa: 11000, phases: 1, loadClass: 'RESIDENTIAL', weight: 0.003 },
  { tariff: 'R-3', dayaVa: 6600, phases: 3, loadClass: 'RESIDENTIAL', weight: 0.005 },
  { tariff: 'R-3', dayaVa: 13200, phases: 3, loadClass: 'RESIDENTIAL', weight: 0.003 },
  { tariff: 'B-2', dayaVa: 6600, phases: 3, loadClass: 'BUSINESS', weight: 0.03 },
  { tariff: 'B-2', dayaVa: 13200, phases: 3, loadClass: 'BUSINESS', weight: 0.015 },
  { tariff: 'B-2', dayaVa: 23000, phases: 3, loadClass: 'BUSINESS', weight: 0.008 },
  { tariff: 'B-2', dayaVa: 33000, phases: 3, loadClass: 'BUSINESS', weight: 0.004 },
  { tariff: 'P-1', dayaVa: 6600, phases: 3, loadClass: 'PUBLIC', weight: 0.005 },
  { tariff: 'P-1', dayaVa: 13200, phases: 3, loadClass: 'PUBLIC', weight: 0.003 },
  { tariff: 'P-3', dayaVa: 2200, phases: 1, loadClass: 'STREET_LIGHT', weight: 0.003 },
  { tariff: 'S-1', dayaVa: 450, phases: 1, loadClass: 'SOCIAL', weight: 0.01 },
  { tariff: 'S-1', dayaVa: 900, phases: 1, loadClass: 'SOCIAL', weight: 0.01 },
  { tariff: 'S-1', dayaVa: 1300, phases: 1, loadClass: 'SOCIAL', weight: 0.008 },
  { tariff: 'S-1', dayaVa: 2200, phases: 1, loadClass: 'SOCIAL', weight: 0.005 },
  { tariff: 'S-1', dayaVa: 3500, phases: 1, loadClass: 'SOCIAL', weight: 0.004 },
];

export interface FleetOptions {
  /** Number of meters (20 for a demo, 1,200,000 for the programme). */
  meters: number;
  seed: string | number;
  /** Region codes to use (default: all eight, weighted). */
  regions?: readonly string[];
  /** Meters per gardu, inclusive range (default 50-300). */
  garduSize?: { min: number; max: number };
  /** Gardu per feeder, inclusive range (default 6-16). */
  garduPerFeeder?: { min: number; max: number };
  /** Meters per ULP above which a region opens its next ULP (default 30,000). */
  metersPerUlp?: number;
  /** Share of AMR (KDPM A) meters, default 0.07; the AMI kinds keep their proportions. */
  amrShare?: number;
}

/** KDPM weights with the AMR share replaced by `amr`. */
export function kdpmWeights(amr = KDPM_WEIGHTS[4]!): number[] {
  if (amr < 0 || amr > 1) throw new RangeError(`AMR share must be in [0, 1], got ${amr}`);
  const ami = KDPM_WEIGHTS.slice(0, 4);
  const total = ami.reduce((a, b) => a + b, 0);
  return [...ami.map((w) => (w / total) * (1 - amr)), amr];
}

export interface Ulp {
  name: string;
  region: RegionDef;
  index: number;
}

export interface Feeder {
  id: string;
  ulp: Ulp;
  index: number;
  gardu: number[];
}

const PROGRAMME_START = Date.UTC(2023, 5, 1); // first wave from June 2023
const INSTALL_SPREAD_DAYS = 880;

export class Fleet {
  /** What the fleet was built from: the same options build the same fleet (recordings keep them). */
  readonly options: FleetOptions;
  readonly seed: number;
  readonly size: number;
  readonly ulps: Ulp[] = [];
  readonly feeders: Feeder[] = [];
  readonly garduIds: string[] = [];
  /** Per gardu: feeder index, first meter index, meter count. */
  readonly garduFeeder: Uint32Array;
  readonly garduFirst: Uint32Array;
  readonly garduCount: Uint32Array;
  /** Per meter: gardu index, KDPM index (KDPM_CODES), tariff product index (TARIFF_PRODUCTS). */
  readonly meterGardu: Uint32Array;
  readonly meterKdpm: Uint8Array;
  readonly meterProduct: Uint8Array;
  private readonly ulpSerialBase: Uint32Array;
  private readonly garduByIdMap = new Map<string, number>();

  constructor(opts: FleetOptions) {
    if (!Number.isInteger(opts.meters) || opts.meters < 1)
      throw new RangeError(`fleet size must be a positive integer, got ${opts.meters}`);
    this.options = opts;
    this.seed = seedOf(opts.seed);
    this.size = opts.meters;
    this.meterGardu = new Uint32Array(opts.meters);
    this.meterKdpm = new Uint8Array(opts.meters);
    this.meterProduct = new Uint8Array(opts.meters);
    const layout = buildLayout(opts, this.seed);
    this.garduFeeder = Uint32Array.from(layout.garduFeeder);
    this.garduFirst = Uint32Array.from(layout.garduFirst);
    this.garduCount = Uint32Array.from(layout.garduCount);
    this.ulps.push(...layout.ulps);
    this.feeders.push(...layout.feeders);
    this.garduIds.push(...layout.garduIds);
    this.garduIds.forEach((id, g) => this.garduByIdMap.set(id, g));
    this.ulpSerialBase = Uint32Array.from(layout.ulpSerialBase);
    this.assignMeters(kdpmWeights(opts.amrShare));
  }

  get garduTotal(): number {
    return this.garduIds.length;
  }

  private assignMeters(kdpm: number[]): void {
    const productWeights = TARIFF_PRODUCTS.map((p) => p.weight);
    for (let g = 0; g < this.garduTotal; g++) {
      const first = this.garduFirst[g]!;
      for (let m = first; m < first + this.garduCount[g]!; m++) {
        this.meterGardu[m] = g;
        this.meterKdpm[m] = pickWeighted(kdpm, unit(this.seed, m, 11));
        this.meterProduct[m] = pickWeighted(productWeights, unit(this.seed, m, 12));
      }
    }
  }

  garduIndex(garduId: string): number | undefined {
    return this.garduByIdMap.get(garduId);
  }

  feederOfGardu(g: number): Feeder {
    return this.feeders[this.garduFeeder[g]!]!;
  }

  regionOfMeter(m: number): RegionDef {
    return this.feederOfGardu(this.meterGardu[m]!).ulp.region;
  }

  kdpmOf(m: number): Kdpm {
    return KDPM_CODES[this.meterKdpm[m]!]!;
  }

  isAmi(m: number): boolean {
    return this.meterKdpm[m] !== 4;
  }

  productOf(m: number): TariffProduct {
    return TARIFF_PRODUCTS[this.meterProduct[m]!]!;
  }

  meterId(m: number): string {
    return `M${String(m).padStart(8, '0')}`;
  }

  /** Index of a meter id made by `meterId`, or undefined. */
  meterIndex(meterId: string): number | undefined {
    if (!/^M\d{8,}$/.test(meterId)) return undefined;
    const m = Number(meterId.slice(1));
    return m < this.size ? m : undefined;
  }

  /** 12-digit IDPEL: region prefix (2), ULP number (2), serial within the ULP (8). */
  idpelOf(m: number): string {
    const ulp = this.feederOfGardu(this.meterGardu[m]!).ulp;
    const serial = m - this.ulpSerialBase[ulp.index]!;
    return `${ulp.region.idpelPrefix}${String(ulp.index % 100).padStart(2, '0')}${String(serial).padStart(8, '0')}`;
  }

  installedAt(m: number): number {
    const day = Math.floor(unit(this.seed, m, 13) * INSTALL_SPREAD_DAYS);
    return PROGRAMME_START + day * 86_400_000 + (hash32(this.seed, m, 14) % 28_800) * 1000;
  }

  profileOf(m: number): MeterProfile {
    const g = this.meterGardu[m]!;
    const feeder = this.feederOfGardu(g);
    const p = this.productOf(m);
    return {
      meter_id: this.meterId(m),
      idpel: this.idpelOf(m),
      kdpm: this.kdpmOf(m),
      phases: p.phases,
      tariff: p.tariff,
      daya_va: p.dayaVa,
      gardu_id: this.garduIds[g]!,
      feeder_id: feeder.id,
      ulp: feeder.ulp.name,
      region: feeder.ulp.region.code,
      timezone: feeder.ulp.region.timezone,
      installed_at: this.installedAt(m),
    };
  }

  /** Meter indices of a gardu (contiguous). */
  metersOfGardu(g: number): { first: number; end: number } {
    const first = this.garduFirst[g]!;
    return { first, end: first + this.garduCount[g]! };
  }

  *profiles(): Generator<MeterProfile> {
    for (let m = 0; m < this.size; m++) yield this.profileOf(m);
  }
}

interface Layout {
  ulps: Ulp[];
  feeders: Feeder[];
  garduIds: string[];
  garduFeeder: number[];
  garduFirst: number[];
  garduCount: number[];
  ulpSerialBase: number[];
}

function regionsFor(codes: readonly string[] | undefined): RegionDef[] {
  if (!codes || codes.length === 0) return [...REGIONS];
  return codes.map((code) => {
    const r = REGIONS.find((x) => x.code === code.toUpperCase());
    if (!r) throw new RangeError(`unknown region ${code}; known: ${REGIONS.map((x) => x.code).join(', ')}`);
    return r;
  });
}

/** Meters per region by weight, the rounding remainder to the largest. */
function splitByWeight(total: number, regions: RegionDef[]): number[] {
  const sum = regions.reduce((s, r) => s + r.weight, 0);
  const counts = regions.map((r) => Math.floor((total * r.weight) / sum));
  let rest = total - counts.reduce((s, c) => s + c, 0);
  for (let i = 0; rest > 0; i = (i + 1) % counts.length, rest--) counts[i]!++;
  return counts;
}

function buildLayout(opts: FleetOptions, seed: number): Layout {
  const rng = new Rng(seed);
  const size = opts.garduSize ?? { min: 50, max: 300 };
  const perFeeder = opts.garduPerFeeder ?? { min: 6, max: 16 };
  const perUlp = opts.metersPerUlp ?? 30_000;
  if (size.min < 1 || size.max < size.min)
    throw new RangeError(`invalid gardu size range ${size.min}-${size.max}`);
  const regions = regionsFor(opts.regions);
  const out: Layout = {
    ulps: [],
    feeders: [],
    garduIds: [],
    garduFeeder: [],
    garduFirst: [],
    garduCount: [],
    ulpSerialBase: [],
  };
  let next = 0;
  splitByWeight(opts.meters, regions).forEach((count, ri) => {
    if (count === 0) return;
    const region = regions[ri]!;
    const sizes: number[] = [];
    for (let left = count; left > 0;) {
      const s = Math.min(left, rng.int(size.min, size.max));
      sizes.push(s);
      left -= s;
    }
    const ulpCount = Math.min(region.ulps.length, Math.max(1, Math.ceil(count / perUlp)));
    const ulpOfGardu = (i: number) => Math.floor((i * ulpCount) / sizes.length);
    for (let u = 0; u < ulpCount; u++) {
      const ulp: Ulp = { name: region.ulps[u]!, region, index: out.ulps.length };
      out.ulps.push(ulp);
      out.ulpSerialBase.push(next);
      const mine = sizes.map((_, i) => i).filter((i) => ulpOfGardu(i) === u);
      const code = ulp.name.replace(/\s+/g, '').slice(0, 6);
      let feeder: Feeder | undefined;
      let room = 0;
      let gNo = 0;
      let fNo = 0;
      for (const i of mine) {
        if (!feeder || room === 0) {
          feeder = {
            id: `${region.code}-${code}-F${String(++fNo).padStart(2, '0')}`,
            ulp,
            index: out.feeders.length,
            gardu: [],
          };
          out.feeders.push(feeder);
          room = rng.int(perFeeder.min, perFeeder.max);
        }
        const g = out.garduIds.length;
        out.garduIds.push(`${region.code}-${code}-G${String(++gNo).padStart(4, '0')}`);
        out.garduFeeder.push(feeder.index);
        out.garduFirst.push(next);
        out.garduCount.push(sizes[i]!);
        feeder.gardu.push(g);
        next += sizes[i]!;
        room--;
      }
    }
  });
  return out;
}
