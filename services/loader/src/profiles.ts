import {
  demandAboveRating,
  KeyIndex,
  type GarduLookup,
  type KnownMeter,
  type MeterProfile,
  type ProfileLookup,
} from '@ami/lib';
import type { ReadFits } from './tables.js';

/**
 * What the loader's input checks need of each meter in `ami.meters`: its
 * gardu, installation time and contracted power (daya, VA). Nothing else is
 * kept, and compactly, because the programme has 1.2 M meters:
 *
 * - `slots`: meter_id -> slot number (a Map of string to small integer, no
 *   object per meter);
 * - per slot, typed arrays: gardu number (Uint32), installed_at in ms
 *   (Float64), daya_va (Uint32); 16 bytes per meter;
 * - gardu ids interned once (about 50 meters per gardu), with a count of
 *   live meters per gardu, so `garduKnown` answers without a scan.
 *
 * A tombstone frees the slot for the next new meter. Measured: about
 * 110 bytes per meter with 9-character ids, the id string included, so
 * about 125 MiB for 1.2 M meters (README.md, "Input checks").
 */
export class ProfileTable {
  /** Meter id -> slot of the columns below (no Map of 1.2 M strings: see KeyIndex). */
  private readonly slots: KeyIndex;
  private garduOf: Uint32Array;
  private installedAt: Float64Array;
  private dayaVa: Uint32Array;
  private readonly garduIds: string[] = [];
  /** UTF-8 of each gardu id, compared with a read's bytes without decoding them. */
  private readonly garduBytes: Buffer[] = [];
  private readonly garduIndex = new Map<string, number>();
  private garduMeters: Uint32Array;

  constructor(initialCapacity = 1024) {
    const n = Math.max(16, initialCapacity);
    this.slots = new KeyIndex(n);
    this.garduOf = new Uint32Array(n);
    this.installedAt = new Float64Array(n);
    this.dayaVa = new Uint32Array(n);
    this.garduMeters = new Uint32Array(Math.max(16, n >> 4));
  }

  /** Live meters. */
  get size(): number {
    return this.slots.size;
  }

  /** Gardu with at least one live meter. */
  get gardus(): number {
    let n = 0;
    for (let g = 0; g < this.garduIds.length; g++) if (this.garduMeters[g]! > 0) n++;
    return n;
  }

  /** A profile upserts the meter; null (tombstone) removes it. */
  apply(meterId: string, profile: Pick<MeterProfile, 'gardu_id' | 'installed_at' | 'daya_va'> | null): void {
    const known = this.slots.get(meterId);
    if (known >= 0) this.garduMeters[this.garduOf[known]!]!--;
    if (profile === null) {
      this.slots.delete(meterId);
      return;
    }
    const slot = this.slots.add(meterId);
    if (slot >= this.garduOf.length) this.grow();
    const g = this.intern(profile.gardu_id);
    this.garduOf[slot] = g;
    this.garduMeters[g]!++;
    this.installedAt[slot] = profile.installed_at;
    this.dayaVa[slot] = Math.max(0, Math.min(0xffffffff, profile.daya_va));
  }

  /** The meter as the checks see it (packages/lib/src/validate.ts), or undefined when unknown. */
  readonly lookup: ProfileLookup = (meterId: string): KnownMeter | undefined => {
    const slot = this.slots.get(meterId);
    if (slot < 0) return undefined;
    return {
      gardu_id: this.garduIds[this.garduOf[slot]!]!,
      installed_at: this.installedAt[slot]!,
      daya_va: this.dayaVa[slot]!,
    };
  };

  /**
   * The meters-table checks of one read on the transcoding path, without an
   * object per read: known meter, same gardu (`buf[garduAt, garduAt + garduLen)`,
   * UTF-8), not before installation, demand within the rating. Same answers
   * as validate.ts with `lookup`.
   */
  readonly readFits: ReadFits = (buf, meterAt, meterLen, garduAt, garduLen, readAtMs, demandW, limits) => {
    const slot = this.slots.getUtf8(buf, meterAt, meterAt + meterLen);
    if (slot < 0 || garduLen === 0) return false;
    const g = this.garduBytes[this.garduOf[slot]!]!;
    if (g.length !== garduLen) return false;
    for (let i = 0; i < garduLen; i++) if (g[i] !== buf[garduAt + i]) return false;
    return readAtMs >= this.installedAt[slot]! && !demandAboveRating(demandW, this.dayaVa[slot], limits);
  };

  /** Whether any live meter hangs off `garduId`. */
  readonly garduKnown: GarduLookup = (garduId: string): boolean => {
    const g = this.garduIndex.get(garduId);
    return g !== undefined && this.garduMeters[g]! > 0;
  };

  private intern(garduId: string): number {
    let g = this.garduIndex.get(garduId);
    if (g === undefined) {
      g = this.garduIds.length;
      this.garduIds.push(garduId);
      this.garduBytes.push(Buffer.from(garduId, 'utf8'));
      this.garduIndex.set(garduId, g);
      if (g >= this.garduMeters.length) {
        const next = new Uint32Array(this.garduMeters.length * 2);
        next.set(this.garduMeters);
        this.garduMeters = next;
      }
    }
    return g;
  }

  private grow(): void {
    const n = Math.ceil(this.garduOf.length * 1.5);
    const garduOf = new Uint32Array(n);
    garduOf.set(this.garduOf);
    const installedAt = new Float64Array(n);
    installedAt.set(this.installedAt);
    const dayaVa = new Uint32Array(n);
    dayaVa.set(this.dayaVa);
    this.garduOf = garduOf;
    this.installedAt = installedAt;
    this.dayaVa = dayaVa;
  }
}
