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
import { AMI_KDPM, type AmiKdpm, type Count, type SilentGarduCounts } from './silentView.js';
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
      estimated, ${msOf('period_end')} AS as_of, reads_received AS received
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
    received: number;
  }>(ch, query, 'billing');
  return r
    ? {
        billing_period: r.period,
        kwh: r.kwh_f,
        amount_rp: r.amount_f,
        estimated: r.estimated === 1,
        as_of: r.as_of,
        reads_received: Number(r.received),
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

/** What ClickHouse knows of one customer for the call-centre story (the last `days` days). */
export interface StoryData {
  events: { at: number; type: string; relay: string; cause: string }[];
  outages: {
    outage_id: string;
    scope: string;
    started_at: number;
    restored_at: number | null;
    customers_affected: number;
    momentary: boolean;
  }[];
  commands: {
    command_id: string;
    at: number;
    issued_by: string;
    role: string;
    type: string;
    audit_result: string;
    detail: string;
    answer: { status: string; reason: string | null; decided_at: number } | null;
  }[];
  latest_read: {
    read_at: number;
    energy_import_wh: number;
    voltage_v: number;
    relay: string;
    kind: string;
  } | null;
  bills: {
    billing_period: string;
    kwh: number;
    amount_rp: number;
    estimated: boolean;
    minimum_applied: boolean;
    reads_received: number;
    as_of: number;
  }[];
}

export interface StoryTarget {
  meter_id: string;
  gardu_id: string;
  feeder_id: string;
}

/**
 * One customer's last `days` days from ClickHouse: relay events, outages and momentaries of
 * the meter, its gardu or its feeder, remote commands from the audit trail joined to the
 * head-end's answers (command_results), the latest read and the bills by month. `ch` reads
 * `db` and the audit trail (the analyst user in production).
 */
export async function storyOf(
  ch: ClickHouseClient,
  db: string,
  p: StoryTarget,
  now: number,
  days = 30,
): Promise<StoryData> {
  const from = new SqlFragment(sqlDateTime(now - days * 86_400_000));
  const d = ident(db);
  const trail = ident(auditDatabases(db).trail);
  const [events, outages, momentaries, commands, reads, bills] = await Promise.all([
    rows<{ at: number; type_s: string; relay_s: string; cause_s: string }>(
      ch,
      sql`SELECT ${msOf('occurred_at')} AS at, toString(type) AS type_s, toString(relay) AS relay_s,
          toString(cause) AS cause_s
        FROM ${d}.events WHERE meter_id = ${p.meter_id} AND occurred_at >= ${from}
        ORDER BY occurred_at DESC LIMIT 200`,
      'story events',
    ),
    rows<{ id: string; scope_s: string; started: number; restored: number | null; affected: number }>(
      ch,
      sql`SELECT outage_id AS id, toString(scope) AS scope_s, ${msOf('started_at')} AS started,
          if(isNull(restored_at), NULL, ${msOf('assumeNotNull(restored_at)')}) AS restored,
          customers_affected AS affected
        FROM ${d}.outages_latest
        WHERE (has(meter_ids, ${p.meter_id}) OR gardu_id = ${p.gardu_id}
               OR (toString(scope) = 'FEEDER' AND feeder_id = ${p.feeder_id}))
          AND started_at >= ${from}
        ORDER BY started_at DESC LIMIT 100`,
      'story outages',
    ),
    rows<{ id: string; started: number; duration: number; affected: number }>(
      ch,
      sql`SELECT interruption_id AS id, ${msOf('started_at')} AS started, duration_s AS duration,
          customers_affected AS affected
        FROM ${d}.momentary_interruptions FINAL
        WHERE (gardu_id = ${p.gardu_id} OR feeder_id = ${p.feeder_id}) AND started_at >= ${from}
        ORDER BY started_at DESC LIMIT 100`,
      'story momentaries',
    ),
    rows<{
      command_id: string;
      at_ms: number;
      issued_by: string;
      role: string;
      type_s: string;
      result_s: string;
      detail: string;
      answer_s: string;
      answer_reason: string | null;
      decided: number;
    }>(
      ch,
      // Unqualified names: 18.16 resolves columns of a joined subquery by name only.
      sql`SELECT command_id, at_ms, issued_by, role, type_s, result_s, detail, answer_s, answer_reason, decided
        FROM (
          SELECT command_id, argMax(${msOf('at')}, recorded_at) AS at_ms, argMax(issued_by, recorded_at) AS issued_by,
            argMax(role, recorded_at) AS role, argMax(toString(type), recorded_at) AS type_s,
            argMax(toString(result), recorded_at) AS result_s, argMax(detail, recorded_at) AS detail
          FROM ${trail}.command_audit
          WHERE meter_id = ${p.meter_id} AND at >= ${from} AND command_id != ''
          GROUP BY command_id
        )
        ANY LEFT JOIN (
          SELECT command_id, toString(status) AS answer_s, reason AS answer_reason,
            ${msOf('decided_at')} AS decided
          FROM ${d}.command_results WHERE meter_id = ${p.meter_id}
        ) USING command_id
        ORDER BY at_ms DESC LIMIT 100`,
      'story commands',
    ),
    rows<{ read_ms: number; wh: number; v: number; relay_s: string; kind_s: string }>(
      ch,
      sql`SELECT ${msOf('read_at')} AS read_ms, energy_import_wh AS wh, voltage_v AS v,
          toString(relay) AS relay_s, toString(kind) AS kind_s
        FROM ${d}.reads WHERE meter_id = ${p.meter_id}
        ORDER BY read_at DESC LIMIT 1`,
      'story latest read',
    ),
    rows<{
      period: string;
      kwh_f: number;
      amount_f: number;
      estimated: number;
      minimum: number;
      received: number;
      as_of: number;
    }>(
      ch,
      sql`SELECT toString(billing_period) AS period, toFloat64(kwh) AS kwh_f, toFloat64(amount_rp) AS amount_f,
          estimated, minimum_applied AS minimum, reads_received AS received, ${msOf('period_end')} AS as_of
        FROM ${d}.billing_usage FINAL
        WHERE meter_id = ${p.meter_id}
        ORDER BY billing_period DESC LIMIT 12`,
      'story bills',
    ),
  ]);
  return {
    events: events.map((e) => ({ at: Number(e.at), type: e.type_s, relay: e.relay_s, cause: e.cause_s })),
    outages: [
      ...outages.map((o) => ({
        outage_id: o.id,
        scope: o.scope_s,
        started_at: Number(o.started),
        restored_at: o.restored === null ? null : Number(o.restored),
        customers_affected: Number(o.affected),
        momentary: false,
      })),
      ...momentaries.map((m) => ({
        outage_id: m.id,
        scope: 'GARDU',
        started_at: Number(m.started),
        restored_at: Number(m.started) + Number(m.duration) * 1000,
        customers_affected: Number(m.affected),
        momentary: true,
      })),
    ],
    commands: commands.map((c) => ({
      command_id: c.command_id,
      at: Number(c.at_ms),
      issued_by: c.issued_by,
      role: c.role,
      type: c.type_s,
      audit_result: c.result_s,
      detail: c.detail,
      // ANY LEFT JOIN fills a missing right side with defaults: an empty status is no answer yet.
      answer:
        c.answer_s && c.answer_s !== ''
          ? { status: c.answer_s, reason: c.answer_reason, decided_at: Number(c.decided) }
          : null,
    })),
    latest_read: reads[0]
      ? {
          read_at: Number(reads[0].read_ms),
          energy_import_wh: Number(reads[0].wh),
          voltage_v: Number(reads[0].v),
          relay: reads[0].relay_s,
          kind: reads[0].kind_s,
        }
      : null,
    bills: bills.map((b) => ({
      billing_period: b.period,
      kwh: b.kwh_f,
      amount_rp: b.amount_f,
      estimated: b.estimated === 1,
      minimum_applied: b.minimum === 1,
      reads_received: Number(b.received),
      as_of: Number(b.as_of),
    })),
  };
}

/** YYYY-MM-01 of the local month containing `epochMs` in `timeZone`. */
function firstDayOfMonth(epochMs: number, timeZone: string): string {
  return `${new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit' }).format(new Date(epochMs))}-01`;
}

/** The control room's figures from ClickHouse: this month's indices per ULP, meters gone silent. */
export interface ControlRoomData {
  reliability: {
    region: string;
    ulp: string;
    month: string;
    customers_served: number;
    saidi_minutes: number;
    saifi: number;
    caidi_minutes: number;
    maifi: number;
  }[];
  /**
   * Gardus with AMI meters installed more than `silentMs` ago and no read in the last
   * `silentMs`: each gardu's AMI meters and silent ones by medium (KDPM).
   */
  silent: SilentGarduCounts[];
}

export async function controlRoomOf(
  ch: ClickHouseClient,
  db: string,
  now: number,
  silentMs = 3_600_000,
): Promise<ControlRoomData> {
  const d = ident(db);
  const since = new SqlFragment(sqlDateTime(now - silentMs));
  const [reliability, silent] = await Promise.all([
    rows<Omit<ControlRoomData['reliability'][number], 'month'> & { month_s: string }>(
      ch,
      // This local month: from WIB's (the westernmost zone); an eastern ULP already in the next
      // month has two rows for an hour or two, and the later one is kept below.
      // Aliases differ from column names: in 18.16 an alias would replace the column in WHERE.
      sql`SELECT region, ulp, toString(month) AS month_s, toUInt64(customers_served) AS customers_served,
          toFloat64(saidi_minutes) AS saidi_minutes, toFloat64(saifi) AS saifi,
          toFloat64(caidi_minutes) AS caidi_minutes, toFloat64(maifi) AS maifi
        FROM ${d}.reliability_monthly
        WHERE month >= ${new SqlFragment(sqlDate(firstDayOfMonth(now, 'Asia/Jakarta')))}
        ORDER BY region, ulp, month`,
      'reliability this month',
    ),
    rows<SilentRow>(
      ch,
      // Aliases differ from column names: in 18.16 an alias would replace the column in WHERE.
      // Per gardu and medium (the PLC meters share the gardu's concentrator, the others talk
      // direct), then one row per gardu that has a silent meter, most silent first.
      sql`SELECT region, ulp, feeder_id, gardu_id, groupArray(k) AS kinds, groupArray(n) AS meters_n,
          groupArray(sn) AS silent_n, groupArray(ex) AS example_lists, sum(sn) AS total_silent
        FROM (
          SELECT r AS region, u AS ulp, f AS feeder_id, g AS gardu_id, k, toUInt64(count()) AS n,
            toUInt64(sum(sl)) AS sn, groupArrayIf(5)(m, sl = 1) AS ex
          FROM (
            SELECT meter_id AS m, region AS r, ulp AS u, feeder_id AS f, gardu_id AS g, toString(kdpm) AS k,
              meter_id NOT IN (SELECT meter_id FROM ${d}.reads WHERE read_at >= ${since}) AS sl
            FROM ${d}.meters_latest
            WHERE removed = 0 AND toString(kdpm) != 'A' AND installed_at < ${since}
          )
          GROUP BY r, u, f, g, k
        )
        GROUP BY region, ulp, feeder_id, gardu_id
        HAVING total_silent > 0
        ORDER BY total_silent DESC, gardu_id
        LIMIT 100`,
      'silent meters',
    ),
  ]);
  const latest = new Map(reliability.map((r) => [`${r.region}\u0000${r.ulp}`, r]));
  return {
    reliability: [...latest.values()].map(({ month_s, ...r }) => ({
      ...r,
      month: month_s,
      customers_served: Number(r.customers_served),
      saidi_minutes: Number(r.saidi_minutes),
      saifi: Number(r.saifi),
      caidi_minutes: Number(r.caidi_minutes),
      maifi: Number(r.maifi),
    })),
    silent: silentCounts(silent),
  };
}

interface SilentRow {
  region: string;
  ulp: string;
  feeder_id: string;
  gardu_id: string;
  kinds: string[];
  meters_n: (number | string)[];
  silent_n: (number | string)[];
  example_lists: string[][];
}

/** One row per gardu, arrays by medium, into counts by KDPM. */
function silentCounts(rows: readonly SilentRow[]): SilentGarduCounts[] {
  return rows.map((r) => {
    const by_kdpm: Record<AmiKdpm, Count> = {
      L: { meters: 0, silent: 0 },
      R: { meters: 0, silent: 0 },
      S: { meters: 0, silent: 0 },
      F: { meters: 0, silent: 0 },
    };
    r.kinds.forEach((k, i) => {
      if ((AMI_KDPM as readonly string[]).includes(k))
        by_kdpm[k as AmiKdpm] = { meters: Number(r.meters_n[i]), silent: Number(r.silent_n[i]) };
    });
    return {
      region: r.region,
      ulp: r.ulp,
      feeder_id: r.feeder_id,
      gardu_id: r.gardu_id,
      by_kdpm,
      examples: r.example_lists.flat().slice(0, 5),
    };
  });
}
