import type { ClickHouseClient } from '@clickhouse/client';
import {
  auditDatabases,
  ident,
  sql,
  sqlDate,
  sqlDateTime,
  SqlFragment,
  UnavailableError,
  type MeterCommandType,
  type Outage,
} from '@ami/lib';
import type { Consumption } from './wording.js';

/** The ClickHouse edge of the web service: outage history, billing, the command audit trail. */

/** Epoch ms of a DateTime column; only column names of this file, never input. */
const msOf = (col: string) => new SqlFragment(`toUInt64(toUnixTimestamp(${col})) * 1000`);

async function rows<T>(ch: ClickHouseClient, query: string, what: string): Promise<T[]> {
  try {
    const rs = await ch.query({ query, format: 'JSONEachRow' });
    return await rs.json<T>();
  } catch (err) {
    throw new UnavailableError('clickhouse', `${what}: ${(err as Error).message}`, err);
  }
}

const sqlDateTimeOf = (epochMs: number) => new SqlFragment(sqlDateTime(epochMs));

/** Latest state of outages open at any time since `from` (epoch ms), for the chart and restored list. */
export async function outageHistory(ch: ClickHouseClient, db: string, from: number): Promise<Outage[]> {
  // Aliases never reuse a column name: in 18.16 an alias would replace the column in WHERE.
  const query = sql`
    SELECT outage_id, toString(scope) AS scope_s, toString(status) AS status_s, region, ulp, feeder_id, gardu_id,
      meter_ids, parent_outage_id,
      ${msOf('started_at')} AS started_ms, ${msOf('confirmed_at')} AS confirmed_ms,
      if(isNull(restored_at), NULL, ${msOf('assumeNotNull(restored_at)')}) AS restored_ms,
      customers_affected, customers_total, last_gasps, tusbung_excluded, ${msOf('emitted_at')} AS emitted_ms
    FROM ${ident(db)}.outages_latest
    WHERE isNull(restored_at) OR assumeNotNull(restored_at) >= ${sqlDateTimeOf(from)}`;
  type Row = Omit<
    Outage,
    'scope' | 'status' | 'started_at' | 'confirmed_at' | 'restored_at' | 'emitted_at'
  > & {
    scope_s: Outage['scope'];
    status_s: Outage['status'];
    started_ms: number;
    confirmed_ms: number;
    restored_ms: number | null;
    emitted_ms: number;
  };
  return (await rows<Row>(ch, query, 'outage history')).map(
    ({ scope_s, status_s, started_ms, confirmed_ms, restored_ms, emitted_ms, ...o }) => ({
      ...o,
      scope: scope_s,
      status: status_s,
      started_at: started_ms,
      confirmed_at: confirmed_ms,
      restored_at: restored_ms,
      emitted_at: emitted_ms,
    }),
  );
}

/** Consumption of one meter in one billing period (period to date when in progress); null if not computed yet. */
export async function billingOf(
  ch: ClickHouseClient,
  db: string,
  meterId: string,
  period: string,
): Promise<Consumption | null> {
  const query = sql`
    SELECT toString(billing_period) AS period, toFloat64(kwh) AS kwh_f, toFloat64(amount_rp) AS amount_f,
      estimated, ${msOf('period_end')} AS as_of
    FROM ${ident(db)}.billing_usage FINAL
    WHERE meter_id = ${meterId} AND billing_period = ${new SqlFragment(sqlDate(period))}
    LIMIT 1`;
  // Aliases differ from column names: in 18.16 an alias would replace the column in WHERE.
  const [r] = await rows<{
    period: string;
    kwh_f: number;
    amount_f: number;
    estimated: number;
    as_of: number;
  }>(ch, query, 'billing');
  return r
    ? {
        billing_period: r.period,
        kwh: r.kwh_f,
        amount_rp: r.amount_f,
        estimated: r.estimated === 1,
        as_of: r.as_of,
      }
    : null;
}

export type AuditResult = 'SENT' | 'REFUSED' | 'SEND_FAILED';

export interface AuditRow {
  request_id: string;
  command_id: string;
  at: number;
  issued_by: string;
  role: string;
  type: MeterCommandType;
  target: string;
  meter_id: string;
  idpel: string;
  power_limit_va: number | null;
  reason: string | null;
  result: AuditResult;
  detail: string;
}

const dt = (epochMs: number) => Math.floor(epochMs / 1000);

/**
 * One INSERT per request (a whole campaign), JSONEachRow through @clickhouse/client: no SQL text
 * built from values. `ch` signs in as the audit user; the rows go through the audit inbox, the
 * only table that user may touch, into `<db>_audit.command_audit` (migration 010).
 */
export async function insertAudit(
  ch: ClickHouseClient,
  db: string,
  batch: readonly AuditRow[],
): Promise<void> {
  if (batch.length === 0) return;
  const recorded = dt(Date.now());
  try {
    await ch.insert({
      table: `${ident(auditDatabases(db).inbox).text}.command_audit`,
      format: 'JSONEachRow',
      values: batch.map((r) => ({ ...r, at: dt(r.at), recorded_at: recorded })),
    });
  } catch (err) {
    throw new UnavailableError(
      'clickhouse',
      `audit insert of ${batch.length} rows: ${(err as Error).message}`,
      err,
    );
  }
}
