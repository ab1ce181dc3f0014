import {
  rejectIfInvalid,
  validateProfile,
  type CallRecord,
  type MeterProfile,
  type MeterStatus,
  type Outage,
  type SuspectedOutage,
} from '@ami/lib';
import type { ProfileLookup } from './commands.js';
import { isPending } from './suspectedView.js';

export type Listener<V> = (key: string, value: V | null) => void;

/** The latest value per key of a compacted topic; null (a tombstone) removes the key. */
export class LatestTable<V> {
  protected readonly rows = new Map<string, V>();
  private readonly listeners: Listener<V>[] = [];

  get size(): number {
    return this.rows.size;
  }

  get(key: string): V | undefined {
    return this.rows.get(key);
  }

  values(): IterableIterator<V> {
    return this.rows.values();
  }

  onChange(listener: Listener<V>): void {
    this.listeners.push(listener);
  }

  apply(key: string, value: V | null): void {
    this.beforeApply(key, value);
    if (value === null) this.rows.delete(key);
    else this.rows.set(key, value);
    for (const l of this.listeners) l(key, value);
  }

  protected beforeApply(_key: string, _value: V | null): void {}
}

/** Meter profiles by meter id, with an IDPEL index: the call centre and command validation look up here. */
export class ProfileTable extends LatestTable<MeterProfile> implements ProfileLookup {
  private readonly byIdpelIndex = new Map<string, string>();

  byMeter(meterId: string): MeterProfile | undefined {
    return this.get(meterId);
  }

  /**
   * A profile is checked as every consumer of the meters topic checks it (`validateProfile`
   * in @ami/lib; the feed dead-letters the BadRecordError) and kept by its meter_id, not the key.
   */
  override apply(key: string, value: MeterProfile | null): void {
    if (value !== null) rejectIfInvalid(validateProfile(value));
    super.apply(value?.meter_id ?? key, value);
  }

  byIdpel(idpel: string): MeterProfile | undefined {
    const id = this.byIdpelIndex.get(idpel);
    return id === undefined ? undefined : this.get(id);
  }

  protected override beforeApply(key: string, value: MeterProfile | null): void {
    const old = this.get(key);
    if (old && this.byIdpelIndex.get(old.idpel) === key) this.byIdpelIndex.delete(old.idpel);
    if (value) this.byIdpelIndex.set(value.idpel, key);
  }
}

export type StatusTable = LatestTable<MeterStatus>;

/**
 * Outages by id. Restored outages older than `keepRestoredMs` are forgotten
 * (ClickHouse keeps the history), so memory follows what is open.
 */
export class OutageTable extends LatestTable<Outage> {
  prune(now: number, keepRestoredMs: number): number {
    let n = 0;
    for (const [id, o] of this.rows) {
      if (o.status === 'RESTORED' && (o.restored_at ?? o.emitted_at) < now - keepRestoredMs) {
        this.rows.delete(id);
        n++;
      }
    }
    return n;
  }
}

/**
 * Suspected outages by outage_id, only while pending (SUSPECTED or VERIFIED): a CONFIRMED or
 * CANCELLED record ends the suspicion and removes it, so memory follows what is being verified.
 */
export class SuspectedTable extends LatestTable<SuspectedOutage> {
  override apply(key: string, value: SuspectedOutage | null): void {
    super.apply(value?.outage_id ?? key, value && isPending(value) ? value : null);
  }
}

/**
 * CC 123 calls by call_id (the topic is keyed by IDPEL): the latest record of each call is
 * its state. A record older than the one held (by updated_at) is ignored, so the record the
 * web applies as it sends and the same record read back from Kafka agree.
 */
export class CallTable extends LatestTable<CallRecord> {
  private readonly byIdpelIndex = new Map<string, Set<string>>();

  override apply(key: string, value: CallRecord | null): void {
    if (value === null) return; // calls are never deleted
    const held = this.get(value.call_id);
    if (held && held.updated_at > value.updated_at) return;
    let ids = this.byIdpelIndex.get(value.idpel);
    if (!ids) this.byIdpelIndex.set(value.idpel, (ids = new Set()));
    ids.add(value.call_id);
    super.apply(value.call_id, value);
  }

  /** The calls of one customer, newest first. */
  ofIdpel(idpel: string): CallRecord[] {
    return [...(this.byIdpelIndex.get(idpel) ?? [])]
      .map((id) => this.get(id)!)
      .sort((a, b) => b.called_at - a.called_at);
  }
}
