import { ValidationError } from '@ami/lib';
import { RowBinaryWriter } from '@ami/loader/rowbinary';

/**
 * A minimal ClickHouse Native-format block writer for flat tables (String,
 * (U)Int8-64, Float32/64, DateTime, Enum8, Nullable of those), used by the
 * baseline to insert rows with `clickhouse-client --query "... FORMAT Native"`
 * without any text parsing on the server. Columns and types come from
 * `system.columns`, so the block always matches the table. Its values are
 * written as RowBinary writes them (the loader's RowBinaryWriter: the same
 * little-endian numbers and varint-prefixed strings).
 */

export interface Column {
  name: string;
  type: string;
}

type Writer = (w: RowBinaryWriter, v: unknown) => void;

function enumMap(type: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const [, name, code] of type.matchAll(/'((?:[^'\\]|\\.)*)'\s*=\s*(-?\d+)/g))
    m.set(name!, Number(code));
  return m;
}

function writerFor(type: string): Writer {
  const nullable = /^Nullable\((.*)\)$/.exec(type);
  if (nullable) {
    const inner = writerFor(nullable[1]!);
    // Nullable columns are written as a null map then the values; handled in encodeNative.
    return inner;
  }
  if (type === 'String') return (w, v) => w.string(String(v ?? ''));
  if (/^DateTime(\(.*\))?$/.test(type)) return (w, v) => w.u32(Math.floor(Number(v ?? 0) / 1000));
  if (type.startsWith('Enum8(')) {
    const map = enumMap(type);
    return (w, v) => {
      const code = map.get(String(v));
      if (code === undefined) throw new ValidationError(`${String(v)} is not a value of ${type}`);
      w.i8(code);
    };
  }
  // (U)Int64 from a JS number: exact below 2^53, as the rows' values are.
  const num: Record<string, (w: RowBinaryWriter, v: number) => void> = {
    UInt8: (w, v) => w.u8(v),
    UInt16: (w, v) => w.u16(v),
    UInt32: (w, v) => w.u32(v),
    UInt64: (w, v) => w.i64(v),
    Int8: (w, v) => w.i8(v),
    Int16: (w, v) => w.i16(v),
    Int32: (w, v) => w.i32(v),
    Int64: (w, v) => w.i64(v),
    Float32: (w, v) => w.f32(v),
    Float64: (w, v) => w.f64(v),
  };
  const write = num[type];
  if (!write) throw new ValidationError(`the Native baseline writer does not handle type ${type}`);
  return (w, v) => write(w, Number(v ?? 0));
}

/** One Native block of `rows` (objects keyed by column name; DateTime values in epoch ms). */
export function encodeNative(columns: readonly Column[], rows: readonly Record<string, unknown>[]): Buffer {
  const w = new RowBinaryWriter();
  w.varUInt(columns.length);
  w.varUInt(rows.length);
  for (const c of columns) {
    w.string(c.name);
    w.string(c.type);
    const write = writerFor(c.type);
    if (c.type.startsWith('Nullable(')) {
      for (const r of rows) w.u8(r[c.name] === null || r[c.name] === undefined ? 1 : 0);
      for (const r of rows) write(w, r[c.name] ?? 0);
    } else for (const r of rows) write(w, r[c.name]);
  }
  return w.take();
}

/** Tab-separated text of the same rows (escaping per ClickHouse TSV). */
export function encodeTsv(columns: readonly Column[], rows: readonly Record<string, unknown>[]): string {
  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n');
  const cells = columns.map((c) => {
    if (/^(Nullable\()?DateTime/.test(c.type))
      return (v: unknown) => (v === null || v === undefined ? '\\N' : String(Math.floor(Number(v) / 1000)));
    return (v: unknown) => (v === null || v === undefined ? '\\N' : esc(String(v)));
  });
  let out = '';
  for (const r of rows) out += `${columns.map((c, i) => cells[i]!(r[c.name])).join('\t')}\n`;
  return out;
}
