import type { MeterProfile, MeterStatus, Outage, SuspectedOutage } from '@ami/lib';
import { PingTracker } from '../src/ping.js';
import { CallTable } from '../src/tables.js';
import type { WebBackend } from '../src/server.js';
import type { WorkspaceBackend } from '../src/workspace.js';

export const T0 = Date.UTC(2026, 10, 28, 6, 0, 0);

export function profile(over: Partial<MeterProfile> = {}): MeterProfile {
  return {
    meter_id: 'MTR-0001',
    idpel: '512345678901',
    kdpm: 'R',
    phases: 1,
    tariff: 'R-1',
    daya_va: 2200,
    gardu_id: 'GD-BALI-01',
    feeder_id: 'PNY-BALI-1',
    ulp: 'DENPASAR',
    region: 'BALI',
    timezone: 'Asia/Makassar',
    installed_at: T0 - 86_400_000 * 100,
    ...over,
  };
}

export function status(over: Partial<MeterStatus> = {}): MeterStatus {
  return {
    meter_id: 'MTR-0001',
    gardu_id: 'GD-BALI-01',
    state: 'ENERGIZED',
    relay: 'CLOSED',
    since: T0,
    outage_id: null,
    ...over,
  };
}

export function outage(over: Partial<Outage> = {}): Outage {
  return {
    outage_id: 'OUT-1',
    scope: 'GARDU',
    status: 'OPEN',
    region: 'BALI',
    ulp: 'DENPASAR',
    feeder_id: 'PNY-BALI-1',
    gardu_id: 'GD-BALI-01',
    meter_ids: [],
    parent_outage_id: null,
    started_at: T0 - 600_000,
    confirmed_at: T0 - 300_000,
    restored_at: null,
    customers_affected: 120,
    customers_total: 130,
    last_gasps: 90,
    tusbung_excluded: 10,
    customers_interrupted: 0,
    customer_interruption_s: 0,
    emitted_at: T0 - 300_000,
    ...over,
  };
}

/** A suspected gardu outage, as the detector publishes it on `<prefix>.suspected-outages`. */
export function suspected(over: Partial<SuspectedOutage> = {}): SuspectedOutage {
  return {
    outage_id: 'OUT-S1',
    scope: 'GARDU',
    status: 'SUSPECTED',
    region: 'BALI',
    ulp: 'DENPASAR',
    feeder_id: 'PNY-BALI-1',
    gardu_id: 'GD-BALI-01',
    meter_ids: [],
    started_at: T0 - 120_000,
    last_gasps: 12,
    customers_total: 130,
    evidence_logged_at: T0 - 118_000,
    pings_sent: 0,
    pings_answered: 0,
    pings_silent: 0,
    reason: null,
    confirmed_outage_id: null,
    emitted_at: T0 - 117_500,
    ...over,
  };
}

/** The workspace part of a fake WebBackend: calls in memory, pings, an empty ClickHouse story. */
export function workspaceFakes(): Omit<WorkspaceBackend, 'audit' | 'send'> & {
  calls: CallTable;
  controlRoom: WebBackend['controlRoom'];
  suspected: WebBackend['suspected'];
} {
  const calls = new CallTable();
  return {
    calls,
    sendCall: async (r) => calls.apply(r.idpel, r),
    pings: new PingTracker(30_000),
    story: async () => ({ events: [], outages: [], commands: [], latest_read: null, bills: [] }),
    controlRoom: async () => ({ reliability: [], silent: [] }),
    suspected: () => [],
  };
}
