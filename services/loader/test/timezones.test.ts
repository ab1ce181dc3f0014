import { describe, expect, it } from 'vitest';
import { REGIONS } from '@ami/simulator/fleet';
import { isBoundaryUnit, unitOf } from '../src/billingDays.js';
import { loadMigrations } from '../src/migrate.js';
import {
  bucketOf,
  bucketSql,
  LOCAL_MIDNIGHTS_UTC_S,
  localMidnight,
  monthBounds,
  TIMEZONES,
  UNIT_OFFSET_S,
  unitSql,
} from '../src/timezones.js';

/**
 * The local-day boundary is stated once (timezones.ts); the migrations take their read buckets and
 * day units from it through placeholders (migrate.ts, readBuckets.ts). Their statements as applied
 * are parsed here and checked against that source for every zone of the fleet's regions: a new zone,
 * or SQL with other hours, fails this test instead of billing across a month boundary.
 */
const MIGRATIONS = loadMigrations('ami')
  .filter((m) => ['002_reads_buckets.sql', '008_reads_days.sql'].includes(m.name))
  .map((m) => ({ name: m.name, sql: m.statements.join(';\n') }));

/** A bucket expression of a migration as numbers: the one-hour buckets' hours and the day bucket's start. */
interface ParsedBucket {
  hours: number[];
  dayStartS: number;
}

function parseBucketExpressions(sql: string): ParsedBucket[] {
  const re =
    /if\(toHour\((\w+)\) IN \(([\d, ]+)\), toStartOfHour\(\1\), toStartOfDay\(\1 - (\d+)\) \+ (\d+)\) AS bucket/g;
  return [...sql.matchAll(re)].map((m) => {
    expect(m[3], 'the day bucket is shifted back and forth by the same seconds').toBe(m[4]);
    return { hours: m[2]!.split(',').map((h) => Number(h.trim())), dayStartS: Number(m[3]) };
  });
}

/** The parsed SQL evaluated as ClickHouse does (DateTime('UTC')). */
function sqlBucketOf(b: ParsedBucket, t: number): number {
  if (b.hours.includes(Math.floor((t % 86_400) / 3600))) return t - (t % 3600);
  return Math.floor((t - b.dayStartS) / 86_400) * 86_400 + b.dayStartS;
}

/** Every `toDate(x - N)` of a migration: the day-unit offsets N. */
const unitOffsets = (sql: string) => [...sql.matchAll(/toDate\(\w+ - (\d+)\)/g)].map((m) => Number(m[1]));

const zones = [...new Set([...TIMEZONES, ...REGIONS.map((r) => r.timezone)])];
const months = Array.from(
  { length: 36 },
  (_, i) => `${2025 + Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, '0')}`,
);
/** Local midnight of the 1st of every month of 2025-2027 in every zone. */
const monthStarts = zones.flatMap((tz) =>
  months.map((m) => ({ tz, m, t: localMidnight(monthBounds(m).from, tz) })),
);

describe('the local-day boundary, one statement', () => {
  it("derives Indonesia's local midnights from the zones: WIT 15:00, WITA 16:00, WIB 17:00 UTC", () => {
    expect(LOCAL_MIDNIGHTS_UTC_S.map((s) => s / 3600)).toEqual([15, 16, 17]);
    expect(UNIT_OFFSET_S).toBe(15 * 3600);
  });

  it('starts a bucket at every local month boundary of every region, and a day unit holds it', () => {
    for (const { tz, m, t } of monthStarts) {
      expect(bucketOf(t), `${tz} ${m}`).toBe(t);
      expect(bucketOf(t - 1), `${tz} ${m}: the bucket before ends at the boundary`).toBeLessThan(t);
      expect(isBoundaryUnit(unitOf(t)), `${tz} ${m}`).toBe(true);
    }
  });

  for (const { name, sql } of MIGRATIONS) {
    describe(name, () => {
      const parsed = parseBucketExpressions(sql);

      it('has the bucket expression the source generates', () => {
        expect(parsed).toHaveLength(1);
        expect(sql).toContain(`${bucketSql('read_at')} AS bucket`);
      });

      it('buckets reads as the source does around every local month boundary of every region', () => {
        for (const { tz, m, t } of monthStarts)
          for (const at of [t - 3601, t - 1, t, t + 1, t + 3599, t + 3600, t + 86_399])
            expect(sqlBucketOf(parsed[0]!, at), `${tz} ${m} at ${at}`).toBe(bucketOf(at));
      });

      it('cuts day units where the source does', () => {
        for (const n of unitOffsets(sql)) expect(n).toBe(UNIT_OFFSET_S);
      });
    });
  }

  it("008 partitions and stamps arrivals by the source's day unit", () => {
    const sql = MIGRATIONS[1]!.sql;
    expect(sql).toContain(`PARTITION BY ${unitSql('bucket')}`);
    expect(sql).toContain(`SELECT ${unitSql('read_at')} AS unit`);
  });
});
