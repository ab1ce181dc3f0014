import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import { auditDatabases, createClickHouse, loadCommonConfig, sqlIdent } from '@ami/lib';
import { migrate } from '@ami/loader/migrate';
import { testLogger, uniqueName } from '../support/fixtures.js';

/** Every ```sql block of docs/analysts.md runs against a migrated database with sample rows and returns rows. */
const DOC = readFileSync(new URL('../../docs/analysts.md', import.meta.url), 'utf8');
const EXAMPLES = [...DOC.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!.trim());

const secs = (ms: number) => Math.floor(ms / 1000);
const now = Date.now();
const d = new Date(now);
const prevMonth = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1)).toISOString().slice(0, 10);

async function seed(ch: ClickHouseClient, db: string): Promise<void> {
  const t = (name: string) => `${sqlIdent(db)}.${sqlIdent(name)}`;
  const meter = (id: string, idpel: string) => ({
    meter_id: id,
    idpel,
    kdpm: 'R',
    phases: 1,
    tariff: 'R-1',
    daya_va: 1300,
    gardu_id: 'GD-1',
    feeder_id: 'PNY-1',
    ulp: 'DENPASAR',
    region: 'BALI',
    timezone: 'Asia/Makassar',
    installed_at: secs(Date.UTC(2025, 0, 1)),
    deleted: 0,
    version: 1,
  });
  await ch.insert({
    table: t('meters'),
    format: 'JSONEachRow',
    values: [meter('M1', '510000000001'), meter('M2', '510000000002')],
  });
  const bill = (id: string, estimated: number) => ({
    meter_id: id,
    idpel: '5100000000',
    region: 'BALI',
    ulp: 'DENPASAR',
    tariff: 'R-1',
    daya_va: 1300,
    billing_period: prevMonth,
    period_start: secs(now - 40 * 86_400_000),
    period_end: secs(now - 10 * 86_400_000),
    energy_start_wh: 0,
    energy_end_wh: 150_000,
    kwh: 150,
    reads_received: 2900,
    reads_expected: 2976,
    estimated,
    start_estimated: estimated,
    end_estimated: 0,
    period_complete: 1,
    max_demand_w: 1200,
    tariff_version: '2025',
    rate_sen_per_kwh: 144470,
    energy_charge_sen: 21670500,
    minimum_charge_sen: 7512440,
    minimum_applied: 0,
    amount_sen: 21670500,
    amount_rp: 216705,
    computed_at: secs(now),
  });
  await ch.insert({
    table: t('billing_usage'),
    format: 'JSONEachRow',
    values: [bill('M1', 0), bill('M2', 1)],
  });
  const started = secs(now - 2 * 86_400_000);
  const outage = (id: string, parent: string | null) => ({
    outage_id: id,
    scope: 'GARDU',
    status: 'RESTORED',
    region: 'BALI',
    ulp: 'DENPASAR',
    feeder_id: 'PNY-1',
    gardu_id: 'GD-1',
    meter_ids: [],
    parent_outage_id: parent,
    started_at: started,
    confirmed_at: started + 300,
    restored_at: started + 3600,
    customers_affected: 2,
    customers_total: 2,
    last_gasps: 2,
    tusbung_excluded: 0,
    emitted_at: started + 3600,
    version: 1,
  });
  await ch.insert({
    table: t('outages'),
    format: 'JSONEachRow',
    values: [outage('O1', null), outage('O2', 'O1')],
  });
  const audit = (target: string, result: string, detail: string) => ({
    request_id: 'r1',
    command_id: result === 'SENT' ? 'c1' : '',
    at: secs(now),
    issued_by: 'ani',
    role: 'operator',
    type: 'DISCONNECT',
    target,
    meter_id: 'M1',
    idpel: '510000000001',
    power_limit_va: null,
    reason: 'tusbung',
    result,
    detail,
    recorded_at: secs(now),
  });
  const call = (id: string, version: number, over: Record<string, unknown>) => ({
    call_id: id,
    idpel: '510000000001',
    meter_id: 'M1',
    region: 'BALI',
    ulp: 'DENPASAR',
    gardu_id: 'GD-1',
    keyword: 'KWH METER AMI',
    complaint_type: 'KELUHAN_METER',
    complaint_subtype: 'PENORMALAN',
    outcome: 'FORWARDED_TO_UNIT',
    status: 'OPEN',
    ptl: 1,
    agent: 'sri',
    called_at: secs(now - 3_600_000),
    notes: '',
    action: 'LOGGED',
    actor: 'sri',
    actor_role: 'agent',
    updated_at: secs(now - 3_600_000),
    resolution: null,
    version,
    ...over,
  });
  await ch.insert({
    table: t('calls'),
    format: 'JSONEachRow',
    values: [
      call('call-1', 1, {
        outcome: 'ISSUE_CLOSED',
        status: 'ISSUE_CLOSED',
        ptl: 0,
        complaint_type: 'INFORMASI',
        complaint_subtype: 'BIAYA',
      }),
      call('call-2', 2, {}),
      call('call-3', 3, {}),
      call('call-3', 4, {
        status: 'CLOSED',
        ptl: 0,
        action: 'CLOSED',
        actor: 'wayan',
        actor_role: 'unit',
        updated_at: secs(now),
        resolution: 'ok',
      }),
    ],
  });
  await ch.insert({
    table: t('command_results'),
    format: 'JSONEachRow',
    values: [
      {
        command_id: 'c1',
        meter_id: 'M1',
        type: 'DISCONNECT',
        status: 'ACCEPTED',
        reason: null,
        decided_at: secs(now),
        event_id: null,
      },
    ],
  });
  await ch.insert({
    table: `${sqlIdent(auditDatabases(db).trail)}.command_audit`,
    format: 'JSONEachRow',
    values: [
      audit('idpel:510000000001', 'SENT', ''),
      audit('idpel:510000000003', 'REFUSED', 'AMR_METER: not AMI'),
    ],
  });
}

describe('docs/analysts.md examples', () => {
  let ch: ClickHouseClient;
  const db = uniqueName('it_docs');

  beforeAll(async () => {
    ch = createClickHouse(loadCommonConfig());
    await migrate(ch, db, testLogger);
    await seed(ch, db);
  });
  afterAll(async () => {
    for (const d of [db, auditDatabases(db).trail, auditDatabases(db).inbox])
      await ch.command({ query: `DROP DATABASE IF EXISTS ${sqlIdent(d)}` });
    await ch.close();
  });

  it('has examples for billing, estimated share, outages by feeder, SAIDI/SAIFI and the audit trail', () => {
    expect(EXAMPLES.length).toBeGreaterThanOrEqual(6);
    for (const needle of [
      'ami.billing',
      'estimated',
      'feeder_id',
      'saidi',
      'command_audit',
      'ami.calls_latest',
    ])
      expect(EXAMPLES.some((q) => q.includes(needle))).toBe(true);
  });

  it.each(EXAMPLES.map((q) => [q.split('\n').find((l) => /^FROM /.test(l)) ?? q.slice(0, 40), q]))(
    '%s',
    async (_name, query) => {
      const rs = await ch.query({
        query: query
          .replace(/\bami\./g, `${sqlIdent(db)}.`)
          .replace(/\bami_audit\./g, `${sqlIdent(auditDatabases(db).trail)}.`),
        format: 'JSONEachRow',
      });
      const rows = await rs.json<Record<string, unknown>>();
      expect(rows.length).toBeGreaterThan(0);
    },
  );
});
