import { ValidationError } from './errors.js';

/**
 * The one audited place where values enter SQL text. ClickHouse 18.16 has no
 * server-side query parameters, so every value is validated and escaped here;
 * nothing else in the code base may paste input into a query.
 */

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A database, table or column name: only plain identifiers, quoted. */
export function sqlIdent(name: string): string {
  if (!IDENT.test(name)) throw new ValidationError(`not a plain SQL identifier: ${JSON.stringify(name)}`);
  return `\`${name}\``;
}

/** A string literal with backslash and quote escaped (ClickHouse string syntax). */
export function sqlString(value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000]/.test(value)) throw new ValidationError('string value contains a NUL byte');
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function sqlNumber(value: number): string {
  if (!Number.isFinite(value)) throw new ValidationError(`not a finite number: ${value}`);
  return String(value);
}

/** A DateTime literal in UTC from epoch milliseconds (second precision). */
export function sqlDateTime(epochMs: number): string {
  if (!Number.isFinite(epochMs)) throw new ValidationError(`not a timestamp: ${epochMs}`);
  return `toDateTime(${Math.floor(epochMs / 1000)})`;
}

/** A Date literal from 'YYYY-MM-DD'. */
export function sqlDate(isoDate: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(isoDate)) throw new ValidationError(`not a date (YYYY-MM-DD): ${isoDate}`);
  return `toDate('${isoDate}')`;
}

export type SqlValue = string | number | readonly string[] | SqlFragment;

/** Already-escaped SQL text, produced only by this module. */
export class SqlFragment {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export function ident(name: string): SqlFragment {
  return new SqlFragment(sqlIdent(name));
}

function literal(value: SqlValue): string {
  if (value instanceof SqlFragment) return value.text;
  if (typeof value === 'number') return sqlNumber(value);
  if (typeof value === 'string') return sqlString(value);
  return `[${value.map(sqlString).join(', ')}]`;
}

/** Tagged template: sql`SELECT * FROM t WHERE id = ${id}` escapes every value. */
export function sql(strings: TemplateStringsArray, ...values: SqlValue[]): string {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += literal(v) + (strings[i + 1] ?? '');
  });
  return out;
}
