import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import { auditDatabases, createClickHouse, sqlIdent, type Outage } from '@ami/lib';
import { CurrentClickHouseComponent, loadStackSettings } from '@ami/stack';
import { READS, ms } from '@ami/loader/testing/fixtures';
import { loadMigrations, migrate } from '@ami/loader/migrate';
import { loadTariffs } from '@ami/loader/tariffs';
import { insertRows } from '@ami/loader/insert';
import { TABLES } from '@ami/loader/tables';
import { billingRows, refreshBilling } from '@ami/loader/billingStore';
import { eventually, insertFixtureMeters, testConfig, testLogger, uniqueName } from '../support/fixtures.js';

/**
 * Users run current ClickHouse releases (docker-compose names one); the local stack runs Debian's
 * 18.16. The same migrations, billing, reliability view and docs/analysts.md queries run on both
 * engines over the same rows, through the same client code, and must give the same answers.
 * The current engine is chDB 26.9 (PyPI chdb-core) behind ClickHouse's HTTP interface.
 */

const DOC = readFileSync(new URL('../../docs/analysts.md', import.meta.url), 'utf8');
const EXAMPLES = [...DOC.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!.trim());

const current = new CurrentClickHouseComponent(loadStackSettings());

interface Engine {
  name: string;
  ch: ClickHouseClient;
  db: string;
  applied: number[];
}

/** Outages that exercise the reliability view: a feeder with two gardu, a nested meter outage, a momentary. */
function outages(): Outage[] {
  const base = {
    region: 'BALI',
    ulp: 'ULP-DENPASAR',
    feeder_id: 'F1',
    meter_ids: [] as string[],
    customers_total: 4,
    last_gasps: 2,
    tusbung_excluded: 0,
    status: 'RESTORED' as const,
  };
  const t = (iso: string) => ms(`2025-03-05T${iso}Z`);
  return [
    {
      ...base,
      outage_id: 'FEEDER-F1',
      scope: 'FEEDER',
      gardu_id: null,
      parent_outage_id: null,
      started_at: t('02:00:00'),
      confirmed_at: t('02:05:00'),
      restored_at: t('03:00:00'),
      customers_affected: 3,
      customers_interrupted: 0,
      customer_interruption_s: 0,
      emitted_at: t('03:00:01'),
    },
    {
      ...base,
      outage_id: 'GARDU-G-M1',
      scope: 'GARDU',
      gardu_id: 'G-M1',
      parent_outage_id: 'FEEDER-F1',
      started_at: t('02:00:00'),
      confirmed_at: t('02:05:00'),
      restored_at: t('03:00:00'),
      customers_affected: 2,
      customers_interrupted: 2,
      customer_interruption_s: 2 * 3600,
      emitted_at: t('03:00:01'),
    },
    {
      ...base,
      outage_id: 'METER-G-M1-M1',
      scope: 'METER',
      gardu_id: 'G-M1',
      meter_ids: ['M1'],
      parent_outage_id: 'GARDU-G-M1',
      started_at: t('02:00:00'),
      confirmed_at: t('03:15:00'),
      restored_at: t('03:40:00'),
      customers_affected: 1,
      customers_interrupted: 0,
      customer_interruption_s: 40 * 60,
      emitted_at: t('03:40:01'),
    },
  ].map((o) => ({ ...o, scope: o.scope as Outage['scope'] }));
}

async function prepare(name: string, url: string): Promise<Engine> {
  const ch = createClickHouse({ ...testConfig(), CLICKHOUSE_URL: url });
  const db = uniqueName('it_sql');
  const applied = await migrate(ch, db, testLogger);
  await loadTariffs(ch, db, testLogger);
  await insertFixtureMeters(ch, db);
  const at = { key: null, offset: 0 };
  await insertRows(
    ch,
    db,
    TABLES.reads,
    READS.map((r) => TABLES.reads.toRow({ ...r }, at)!),
  );
  await insertRows(
    ch,
    db,
    TABLES.outages,
    outages().map((o) => TABLES.outages.toRow(o, at)!),
  );
  await refreshBilling(ch, db, '2025-03');
  return { name, ch, db, applied };
}

async function rows(e: Engine, query: string): Promise<Record<string, unknown>[]> {
  const rs = await e.ch.query({
    query: query
      .replace(/\bami\./g, `${sqlIdent(e.db)}.`)
      .replace(/\bami_audit\./g, `${sqlIdent(auditDatabases(e.db).trail)}.`),
    format: 'JSONEachRow',
  });
  return rs.json<Record<string, unknown>>();
}

/** Rows as comparable text: numbers rounded (the engines print floats differently), rows sorted. */
function canonical(list: Record<string, unknown>[]): string[] {
  const norm = (v: unknown): unknown =>
    typeof v === 'number' ? Number(v.toPrecision(12)) : Array.isArray(v) ? v.map(norm) : v;
  return list
    .map((r) => JSON.stringify(Object.entries(r).map(([k, v]) => [k, k === 'computed_at' ? null : norm(v)])))
    .sort();
}

describe('the SQL on ClickHouse 18.16 and on a current ClickHouse (chDB 26.9)', () => {
  let old: Engine;
  let now: Engine;

  beforeAll(async () => {
    await current.install();
    await current.start();
    await eventually(async () => ((await current.healthy().catch(() => false)) ? true : undefined), {
      timeoutMs: 60_000,
      what: 'the current ClickHouse to answer',
    });
    old = await prepare('18.16', testConfig().CLICKHOUSE_URL);
    now = await prepare('current', current.address);
  }, 600_000);

  afterAll(async () => {
    for (const e of [old, now].filter(Boolean)) {
      await e.ch.command({ query: `DROP DATABASE IF EXISTS ${sqlIdent(e.db)}` }).catch(() => undefined);
      await e.ch.close();
    }
    await current.stop();
  });

  it('applies every migration on both engines', () => {
    const all = loadMigrations('x').map((m) => m.version);
    expect(old.applied).toEqual(all);
    expect(now.applied).toEqual(all);
  });

  it('computes the same bills on both engines', async () => {
    const bills = async (e: Engine) =>
      canonical((await billingRows(e.ch, e.db, '2025-03')) as unknown as Record<string, unknown>[]);
    const expected = await bills(old);
    expect(expected.length).toBeGreaterThan(0);
    expect(await bills(now)).toEqual(expected);
  });

  it('gives the same reliability indices on both engines', async () => {
    const q = 'SELECT * FROM ami.reliability_monthly ORDER BY region, ulp, month';
    const expected = await rows(old, q);
    expect(expected.length).toBeGreaterThan(0);
    expect(canonical(await rows(now, q))).toEqual(canonical(expected));
  });

  it.each(EXAMPLES.map((q) => [q.split('\n').find((l) => /^FROM /.test(l)) ?? q.slice(0, 40), q]))(
    'docs/analysts.md: %s gives the same rows on both engines',
    async (_name, query) => {
      expect(canonical(await rows(now, query))).toEqual(canonical(await rows(old, query)));
    },
  );
});
