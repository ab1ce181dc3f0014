import { ConfigError } from '@ami/lib';
import { describe, expect, it } from 'vitest';
import { fillPlaceholders, loadMigrations } from '../src/migrate.js';
import { bucketSql } from '../src/timezones.js';

describe('migration placeholders', () => {
  it('leaves none unfilled in any migration, fragments included', () => {
    for (const m of loadMigrations('ami_x'))
      for (const st of m.statements) expect(st, m.name).not.toMatch(/\{\{|\}\}/);
  });

  it('fills the read buckets for the database asked, in both migrations that write them', () => {
    const views = loadMigrations('ami_x')
      .flatMap((m) => m.statements)
      .filter((st) => /CREATE MATERIALIZED VIEW .*reads_buckets(_daily)?_mv/.test(st));
    expect(views).toHaveLength(2);
    for (const v of views) {
      expect(v).toContain(`${bucketSql('read_at')} AS bucket`);
      expect(v).toContain('FROM `ami_x`.reads\nGROUP BY meter_id, bucket');
    }
  });

  it('refuses a placeholder it does not know, naming it', () => {
    expect(() => fillPlaceholders('SELECT {{dbb}}', 'ami')).toThrow(ConfigError);
    expect(() => fillPlaceholders('SELECT {{day_unitt:read_at}}', 'ami')).toThrow(
      /\{\{day_unitt:read_at\}\}/,
    );
  });
});
