import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import { loadCommonConfig, createLogger, type CommonConfig } from '@ami/lib';
import { insertRows } from '@ami/loader/insert';
import { TABLES } from '@ami/loader/tables';
import { METERS } from '@ami/loader/testing/fixtures';

/** A unique name per test run, so tests never share topics, groups or databases. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

/** The common config pointing at the test services, with a fresh topic prefix. */
export function testConfig(overrides: Record<string, string> = {}): CommonConfig {
  return loadCommonConfig({
    ...process.env,
    AMI_TOPIC_PREFIX: uniqueName('t'),
    LOG_LEVEL: 'warn',
    ...overrides,
  });
}

export const testLogger = createLogger('test', process.env.LOG_LEVEL ?? 'warn');

/** Poll until `probe` returns a value (not undefined) or the deadline passes. */
export async function eventually<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 30_000, intervalMs = 200, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`,
      );
    }
    await sleep(intervalMs);
  }
}

/** The loader fixtures' meters (services/loader/test/fixtures.ts) into `db.meters`, as the loader writes them. */
export async function insertFixtureMeters(ch: ClickHouseClient, db: string): Promise<void> {
  await insertRows(
    ch,
    db,
    TABLES.meters,
    METERS.map((m, i) => TABLES.meters.toRow(m, { key: m.meter_id, offset: i })!),
  );
}
