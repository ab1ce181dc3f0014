import { describe, expect, it } from 'vitest';
import { avroType, frame, type MeterRead } from '@ami/lib';
import { RowBinaryReader, RowBinaryWriter, rowEncoder } from '../src/rowbinary.js';
import { transcodeRead } from '../src/transcodeRead.js';
import { TABLES } from '../src/tables.js';
import { splitChunks } from '../src/sink.js';
import { loadMigrations, splitStatements } from '../src/migrate.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function read(i: number): MeterRead {
  return {
    meter_id: `M-${i}-ü`,
    gardu_id: 'G'.repeat(i % 300),
    read_at: 1_740_787_200_000 + i * 900_123,
    interval_s: 900,
    energy_import_wh: i * 2 ** 33 + 7,
    demand_w: Math.abs(i - 500), // negative demand is refused (packages/lib/src/validate.ts)
    voltage_v: 229.5 + i / 7,
    relay: i % 2 ? 'OPEN' : 'CLOSED',
    power_limit_va: 2200,
    kind: i % 3 ? 'INTERVAL' : 'ON_DEMAND',
  };
}

describe('RowBinary', () => {
  it('writes 64-bit and variable-length values as ClickHouse reads them', () => {
    const w = new RowBinaryWriter(1);
    w.i64(-2);
    w.varUInt(300);
    w.string('é');
    expect([...w.take()]).toEqual([
      0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xac, 0x02, 0x02, 0xc3, 0xa9,
    ]);
  });

  it('transcodes Avro reads to the same bytes as decode + encode', () => {
    const type = avroType('MeterRead');
    const encode = rowEncoder(TABLES.reads.columns);
    for (let i = 0; i < 500; i++) {
      const r = read(i);
      const fast = new RowBinaryWriter(16);
      transcodeRead(frame(1, type.toBuffer(r)), fast);
      const slow = new RowBinaryWriter(16);
      encode(
        slow,
        TABLES.reads.toRow(type.fromBuffer(type.toBuffer(r)) as MeterRead, { key: null, offset: 0 })!,
      );
      expect(fast.take().equals(slow.take()), `read ${i}`).toBe(true);
    }
  });

  it('refuses what the table cannot hold, so the full decoder names it', () => {
    const type = avroType('MeterRead');
    expect(() =>
      transcodeRead(frame(1, type.toBuffer({ ...read(1), energy_import_wh: -1 })), new RowBinaryWriter()),
    ).toThrow(/negative/);
    expect(() =>
      transcodeRead(frame(1, type.toBuffer({ ...read(1), demand_w: -1 })), new RowBinaryWriter()),
    ).toThrow(/negative demand/);
    expect(() =>
      transcodeRead(frame(1, type.toBuffer(read(1)).subarray(0, 10)), new RowBinaryWriter()),
    ).toThrow();
  });
});

describe('batching and migrations', () => {
  it('splits a flush into inserts of similar size', () => {
    const chunks = [5, 5, 5, 5].map((rows) => ({ rows }));
    expect(splitChunks(chunks, 2).map((g) => g.length)).toEqual([2, 2]);
    expect(splitChunks(chunks, 1)).toHaveLength(1);
    expect(splitChunks([], 2)).toEqual([]);
  });

  it('splits migration files into statements, dropping comment-only chunks', () => {
    expect(
      splitStatements('-- c\nCREATE TABLE a (x UInt8) ENGINE = Memory;\n-- only a comment;\nSELECT 1;'),
    ).toEqual(['-- c\nCREATE TABLE a (x UInt8) ENGINE = Memory', 'SELECT 1']);
  });

  it('refuses two migrations with one number, and quotes the database', () => {
    const dir = `${mkdtempSync(join(tmpdir(), 'mig-'))}/`;
    writeFileSync(`${dir}001_a.sql`, 'CREATE TABLE {{db}}.a (x UInt8) ENGINE = Memory;');
    expect(loadMigrations('ami_x', dir)[0]!.statements).toEqual([
      'CREATE TABLE `ami_x`.a (x UInt8) ENGINE = Memory',
    ]);
    expect(() => loadMigrations('bad-name', dir)).toThrow();
    writeFileSync(`${dir}001_b.sql`, 'SELECT 1;');
    expect(() => loadMigrations('ami_x', dir)).toThrow(/share number 1/);
  });
});

describe('RowBinaryReader', () => {
  it('reads back what the writer wrote: short, long and non-ASCII strings, UInt32', () => {
    const w = new RowBinaryWriter(16);
    const long = 'x'.repeat(300);
    w.string('BM1');
    w.u32(4_000_000_000);
    w.string(long);
    w.string('Pontianak – ü');
    const r = new RowBinaryReader(w.take());
    expect([r.string(), r.u32(), r.string(), r.string(), r.done]).toEqual([
      'BM1',
      4_000_000_000,
      long,
      'Pontianak – ü',
      true,
    ]);
  });

  it('refuses a value that runs past the end', () => {
    const w = new RowBinaryWriter(16);
    w.string('BM123');
    const body = w.take();
    expect(() => new RowBinaryReader(body.subarray(0, 4)).string()).toThrow(RangeError);
    expect(() => new RowBinaryReader(Buffer.from([1, 2])).u32()).toThrow(RangeError);
  });
});
