import { describe, expect, it } from 'vitest';
import { ValidationError, sql, sqlDate, sqlDateTime, sqlIdent, sqlString, ident } from '../src/index.js';

describe('sql escaping (the one audited place)', () => {
  it('quotes strings so quotes and backslashes cannot end the literal', () => {
    expect(sqlString("O'Brien")).toBe("'O\\'Brien'");
    expect(sqlString('a\\')).toBe("'a\\\\'");
    expect(sqlString("x' OR 1=1 --")).toBe("'x\\' OR 1=1 --'");
  });

  it('refuses identifiers that are not plain names', () => {
    expect(sqlIdent('ami_test_1')).toBe('`ami_test_1`');
    expect(() => sqlIdent('ami; DROP TABLE x')).toThrow(ValidationError);
    expect(() => sqlIdent('a`b')).toThrow(ValidationError);
    expect(() => sqlIdent('')).toThrow(ValidationError);
  });

  it('builds queries from a template with every value escaped', () => {
    const idpel = "5123'456";
    expect(
      sql`SELECT * FROM ${ident('meters')} WHERE idpel = ${idpel} AND daya_va > ${900} AND tariff IN ${['R-1', 'R-1M']}`,
    ).toBe(
      "SELECT * FROM `meters` WHERE idpel = '5123\\'456' AND daya_va > 900 AND tariff IN ['R-1', 'R-1M']",
    );
  });

  it('refuses numbers, dates and timestamps that are not what they claim', () => {
    expect(() => sql`SELECT ${Number.NaN}`).toThrow(ValidationError);
    expect(() => sqlDate("2025-01-01' OR '1")).toThrow(ValidationError);
    expect(sqlDate('2025-06-01')).toBe("toDate('2025-06-01')");
    expect(sqlDateTime(Date.UTC(2025, 0, 1, 0, 0, 0, 999))).toBe('toDateTime(1735689600)');
  });
});
