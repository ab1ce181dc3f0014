import { KeyIndex, type Kdpm, type MeterProfile } from '@ami/lib';

/** What the rules need to know about a meter, from `ami.meters`. */
export interface MeterInfo {
  meterId: string;
  garduId: string;
  feederId: string;
  region: string;
  ulp: string;
  /** KDPM L/R/S/F. AMR (A) sends no last gasp: excluded from every share and denominator. */
  ami: boolean;
  /** The meter's medium (L PLC through the gardu's concentrator, R RF, S cellular, F fibre): pings' budget. */
  kdpm: Kdpm;
  /** For input validation (packages/lib/src/validate.ts): nothing happens at a meter before it is installed. */
  installedAt?: number;
}

/**
 * The meters table (compacted topic) as indexes: meter, gardu -> meters,
 * feeder -> gardu. Strings are shared between meters to keep 1.2 M meters small;
 * meter ids index a `KeyIndex` (a lookup per input: half of a 1.2 M-entry Map's).
 */
export class Topology {
  private readonly index = new KeyIndex(1 << 16);
  /** By slot of `index`; undefined for a free slot. */
  private readonly infos: Array<MeterInfo | undefined> = [];
  private readonly gardus = new Map<string, Set<string>>();
  private readonly feeders = new Map<string, Set<string>>();
  private readonly strings = new Map<string, string>();
  /** AMI meters per gardu, built when the rules first ask and valid while `version` is unchanged. */
  private readonly ami = new Map<string, { version: number; meters: readonly string[] }>();
  private changes = 0;

  get size(): number {
    return this.index.size;
  }

  meter(meterId: string): MeterInfo | undefined {
    const slot = this.index.get(meterId);
    return slot < 0 ? undefined : this.infos[slot];
  }

  garduMeters(garduId: string): ReadonlySet<string> {
    return this.gardus.get(garduId) ?? EMPTY;
  }

  /**
   * The gardu's AMI meters (every share and denominator counts only these): a decision at a storm
   * gardu would otherwise look up each of its ~133 meters again.
   */
  garduAmiMeters(garduId: string): readonly string[] {
    const cached = this.ami.get(garduId);
    if (cached !== undefined && cached.version === this.changes) return cached.meters;
    const meters = [...this.garduMeters(garduId)].filter((m) => this.meter(m)?.ami === true);
    if (this.ami.size > 100_000) this.ami.clear(); // a bound: a cache, not a second index
    this.ami.set(garduId, { version: this.changes, meters });
    return meters;
  }

  feederGardus(feederId: string): ReadonlySet<string> {
    return this.feeders.get(feederId) ?? EMPTY;
  }

  /** Increases on every change: a lookup made at this version still holds while it is unchanged. */
  get version(): number {
    return this.changes;
  }

  /** A profile upserts the meter; null (tombstone) removes it. */
  apply(meterId: string, profile: MeterProfile | null): void {
    this.changes++;
    this.remove(meterId);
    if (!profile) return;
    const info: MeterInfo = {
      meterId,
      garduId: this.intern(profile.gardu_id),
      feederId: this.intern(profile.feeder_id),
      region: this.intern(profile.region),
      ulp: this.intern(profile.ulp),
      ami: profile.kdpm !== 'A',
      kdpm: profile.kdpm,
      installedAt: profile.installed_at,
    };
    this.infos[this.index.add(meterId)] = info;
    setOf(this.gardus, info.garduId).add(meterId);
    setOf(this.feeders, info.feederId).add(info.garduId);
  }

  private remove(meterId: string): void {
    const slot = this.index.delete(meterId);
    if (slot < 0) return;
    const old = this.infos[slot]!;
    this.infos[slot] = undefined;
    const inGardu = this.gardus.get(old.garduId);
    inGardu?.delete(meterId);
    if (inGardu?.size === 0) {
      this.gardus.delete(old.garduId);
      this.feeders.get(old.feederId)?.delete(old.garduId);
    }
  }

  private intern(s: string): string {
    const known = this.strings.get(s);
    if (known !== undefined) return known;
    this.strings.set(s, s);
    return s;
  }
}

const EMPTY: ReadonlySet<string> = new Set();

function setOf<K, V>(map: Map<K, Set<V>>, key: K): Set<V> {
  let s = map.get(key);
  if (!s) {
    s = new Set();
    map.set(key, s);
  }
  return s;
}
