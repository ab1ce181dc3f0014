import { describe, expect, it } from 'vitest';
import { encodeNative, encodeTsv } from '../src/native.js';
import { read } from './fixtures.js';

describe('native and TSV encoders', () => {
  const cols = [
    { name: 'meter_id', type: 'String' },
    { name: 'read_at', type: "DateTime('UTC')" },
    { name: 'relay', type: "Enum8('CLOSED' = 0, 'OPEN' = 1)" },
    { name: 'voltage_v', type: 'Float32' },
    { name: 'energy_import_wh', type: 'Int64' },
  ];
  it('writes a Native block: column count, row count, then name, type and values per column', () => {
    const b = encodeNative(cols, [read(1, 1_000_000) as unknown as Record<string, unknown>]);
    expect(b[0]).toBe(5);
    expect(b[1]).toBe(1);
    expect(b.subarray(3, 11).toString()).toBe('meter_id');
    expect(b.includes(Buffer.from('M00000001'))).toBe(true);
  });
  it('writes every type the baseline meets as ClickHouse Native lays it out', () => {
    const types = [
      'UInt8',
      'UInt16',
      'UInt32',
      'UInt64',
      'Int8',
      'Int16',
      'Int32',
      'Int64',
      'Float32',
      'Float64',
      "DateTime('UTC')",
      "Enum8('CLOSED' = 0, 'OPEN' = 1)",
      'Nullable(String)',
    ];
    const columns = types.map((type, i) => ({ name: `c${i}`, type }));
    const values = [
      200,
      60_000,
      4_000_000_000,
      2 ** 40 + 5,
      -100,
      -30_000,
      -2,
      -(2 ** 33),
      1.5,
      0.1,
      86_400_000,
    ];
    const rows = [
      { ...Object.fromEntries(values.map((v, i) => [`c${i}`, v])), c11: 'OPEN', c12: 'gardu-ü' },
      { ...Object.fromEntries(values.map((v, i) => [`c${i}`, v])), c11: 'CLOSED', c12: null },
    ];
    const le = (size: number, write: (b: Buffer) => void) => {
      const b = Buffer.alloc(size);
      write(b);
      return b;
    };
    const str = (s: string) => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)]);
    const cell = [
      (v: number) => le(1, (b) => b.writeUInt8(v)),
      (v: number) => le(2, (b) => b.writeUInt16LE(v)),
      (v: number) => le(4, (b) => b.writeUInt32LE(v)),
      (v: number) => le(8, (b) => b.writeBigUInt64LE(BigInt(v))),
      (v: number) => le(1, (b) => b.writeInt8(v)),
      (v: number) => le(2, (b) => b.writeInt16LE(v)),
      (v: number) => le(4, (b) => b.writeInt32LE(v)),
      (v: number) => le(8, (b) => b.writeBigInt64LE(BigInt(v))),
      (v: number) => le(4, (b) => b.writeFloatLE(v)),
      (v: number) => le(8, (b) => b.writeDoubleLE(v)),
      (v: number) => le(4, (b) => b.writeUInt32LE(v / 1000)),
    ];
    const expected = Buffer.concat([
      Buffer.from([13, 2]),
      ...columns.flatMap((c, i) => {
        const head = [str(c.name), str(c.type)];
        if (i < cell.length) return [...head, cell[i]!(values[i]!), cell[i]!(values[i]!)];
        if (i === 11) return [...head, Buffer.from([1, 0])];
        // Under a null the value is still written (ClickHouse reads and ignores it).
        return [...head, Buffer.from([0, 1]), str('gardu-ü'), str('0')];
      }),
    ]);
    expect(encodeNative(columns, rows).toString('hex')).toBe(expected.toString('hex'));
  });

  it('writes TSV with DateTime as epoch seconds', () => {
    expect(encodeTsv(cols, [read(1, 1_000_000) as unknown as Record<string, unknown>])).toBe(
      'M00000001\t1000\tCLOSED\t221.5\t1001\n',
    );
  });
});
