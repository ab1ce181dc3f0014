import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { ClickHouseClient } from '@clickhouse/client';
import { createClickHouse, sqlIdent } from '@ami/lib';
import { EXPECTED, READS, ms } from '@ami/loader/testing/fixtures';
import { testConfig, testLogger, uniqueName, insertFixtureMeters } from '../support/fixtures.js';
import { migrate } from '@ami/loader/migrate';
import { loadTariffs } from '@ami/loader/tariffs';
import { insertRows } from '@ami/loader/insert';
import { TABLES } from '@ami/loader/tables';
import { billingRows } from '@ami/loader/billingStore';
import { BillingRefresher } from '@ami/loader/billingRefresh';
import { loadLoaderConfig } from '@ami/loader/config';

/** A logger whose lines the test reads back. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

describe("the loader's billing refresh thread", () => {
  const db = uniqueName('ami_billing_refresh');
  const cfg = loadLoaderConfig({ ...process.env, CLICKHOUSE_DB: db, LOG_LEVEL: 'warn' });
  // 5 April 2025: the months that can still change are March (complete) and April.
  const asOf = ms('2025-04-05T00:00:00Z');
  let ch: ClickHouseClient;

  beforeAll(async () => {
    ch = createClickHouse(testConfig());
    await migrate(ch, db, testLogger);
    await loadTariffs(ch, db, testLogger);
    await insertFixtureMeters(ch, db);
    await insertRows(
      ch,
      db,
      TABLES.reads,
      READS.map((r) => TABLES.reads.toRow({ ...r }, { key: null, offset: 0 })!),
    );
  });

  afterAll(async () => {
    await ch.command({ query: `DROP DATABASE IF EXISTS ${sqlIdent(db)}` });
    await ch.close();
  });

  it('bills the recent months in its own thread and says how long the loader thread stalled', async () => {
    const { logger, lines } = capturingLogger();
    const refresher = new BillingRefresher(cfg, logger);
    try {
      await refresher.refreshRecent(asOf);
    } finally {
      await refresher.stop();
    }
    const refreshed = lines.filter((l) => l.msg === 'billing refreshed');
    expect(refreshed.map((l) => l.period)).toEqual(['2025-03', '2025-04']);
    for (const l of refreshed) expect(l.loopMaxMs).toEqual(expect.any(Number));
    const rows = await billingRows(ch, db, '2025-03');
    expect(rows.map((r) => r.meter_id)).toEqual(Object.keys(EXPECTED));
    for (const r of rows) expect(String(r.kwh)).toBe(EXPECTED[r.meter_id]!.kwh);
  });

  it('logs a failed refresh with its error and refreshes again at the next call', async () => {
    const { logger, lines } = capturingLogger();
    const missing = { ...cfg, CLICKHOUSE_DB: uniqueName('ami_no_such_db') };
    const refresher = new BillingRefresher(missing, logger);
    try {
      await refresher.refreshRecent(asOf);
      const failed = lines.filter((l) => l.msg === 'billing refresh failed; next try at the next tick');
      expect(failed.map((l) => l.period)).toEqual(['2025-03', '2025-04']);
      expect((failed[0]!.err as { message: string }).message).toMatch(/ami_no_such_db/);
      // The thread survived its failures: the same refresher answers again.
      await refresher.refreshRecent(asOf);
      expect(lines.filter((l) => String(l.msg).startsWith('billing refresh failed'))).toHaveLength(4);
    } finally {
      await refresher.stop();
    }
  });
});
