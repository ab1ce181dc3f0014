import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { ClickHouseClient } from '@clickhouse/client';
import { ConfigError, sqlIdent, type Logger } from '@ami/lib';
import { rupiahToSen, type TariffRow } from './billing.js';

/** Versioned tariff files: one JSON per regulation, never edited once loaded (add a new version). */
export const TARIFFS_DIR = fileURLToPath(new URL('../tariffs/', import.meta.url));

const fileSchema = z.object({
  version: z.string().regex(/^[A-Za-z0-9._-]+$/),
  valid_from: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  tariffs: z
    .array(
      z.object({
        tariff: z.string().min(1),
        daya_min_va: z.number().int().min(0),
        daya_max_va: z.number().int().min(0).max(4294967295),
        rate_rp_per_kwh: z.string(),
        subsidised: z.boolean(),
        min_charge_hours: z.number().int().min(0).max(744),
      }),
    )
    .min(1),
});

export function parseTariffFile(text: string, name = 'tariff file'): TariffRow[] {
  const parsed = fileSchema.safeParse(JSON.parse(text));
  if (!parsed.success)
    throw new ConfigError(
      `${name}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  const { version, valid_from, tariffs } = parsed.data;
  return tariffs.map((t) => ({
    version,
    valid_from,
    tariff: t.tariff,
    daya_min_va: t.daya_min_va,
    daya_max_va: t.daya_max_va,
    rate_sen_per_kwh: rupiahToSen(t.rate_rp_per_kwh),
    subsidised: t.subsidised,
    min_charge_hours: t.min_charge_hours,
  }));
}

export function loadTariffFiles(dir = TARIFFS_DIR): TariffRow[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .flatMap((f) => parseTariffFile(readFileSync(`${dir}${f}`, 'utf8'), f));
}

/** Loads every tariff version not yet in `<db>.tariffs`; returns the versions loaded. */
export async function loadTariffs(
  ch: ClickHouseClient,
  db: string,
  logger: Logger,
  rows = loadTariffFiles(),
): Promise<string[]> {
  const rs = await ch.query({
    query: `SELECT DISTINCT version FROM ${sqlIdent(db)}.tariffs`,
    format: 'JSONEachRow',
  });
  const present = new Set((await rs.json<{ version: string }>()).map((r) => r.version));
  const fresh = rows.filter((r) => !present.has(r.version));
  if (fresh.length === 0) return [];
  await ch.insert({
    table: `${sqlIdent(db)}.tariffs`,
    format: 'JSONEachRow',
    values: fresh.map((r) => ({
      ...r,
      subsidised: r.subsidised ? 1 : 0,
      loaded_at: new Date().toISOString().slice(0, 19).replace('T', ' '),
    })),
  });
  const versions = [...new Set(fresh.map((r) => r.version))];
  logger.info({ db, versions }, 'tariffs loaded');
  return versions;
}

/** The tariff rows as stored in ClickHouse (for `ami usage` and tests). */
export async function readTariffs(ch: ClickHouseClient, db: string): Promise<TariffRow[]> {
  const rs = await ch.query({
    query: `SELECT version, toString(valid_from) AS valid_from, tariff, daya_min_va, daya_max_va, rate_sen_per_kwh, subsidised, min_charge_hours FROM ${sqlIdent(db)}.tariffs FINAL`,
    format: 'JSONEachRow',
  });
  return (await rs.json<Omit<TariffRow, 'subsidised'> & { subsidised: number }>()).map((r) => ({
    ...r,
    subsidised: Boolean(r.subsidised),
  }));
}
