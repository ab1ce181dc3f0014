import { ValidationError } from '@ami/lib';

/**
 * A minimal ClickHouse Native-format block writer for flat tables (String,
 * (U)Int8-64, Float32/64, DateTime, Enum8, Nullable of those), used by the
 * baseline to insert rows with `clickhouse-client --query "... FORMAT Native"`
 * without any text parsing on the server. Columns and types come from
 * `system.columns`, so the block always matches the table.
 */

export interface Column {
  name: string;
  type: string;
}

class Out {
  buf = Buffer.allocUnsafe(1 << 20);
  pos = 0;
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  varint(v: number): void {
    this.ensure(10);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }
  string(s: string): void {
    const len = Buffer.byteLength(s);
    this.varint(len);
    this.ensure(len);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }
  done(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

type Writer = (o: Out, v: unknown) => void;

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
  if (type === 'String') return (o, v) => o.string(String(v ?? ''));
  if (/^DateTime(\(.*\))?$/.test(type))
    return (o, v) => {
      o.ensure(4);
      o.pos = o.buf.writeUInt32LE(Math.floor(Number(v ?? 0) / 1000), o.pos);
    };
  if (type.startsWith('Enum8(')) {
    const map = enumMap(type);
    return (o, v) => {
      const code = map.get(String(v));
      if (code === undefined) throw new ValidationError(`${String(v)} is not a value of ${type}`);
      o.ensure(1);
      o.pos = o.buf.writeInt8(code, o.pos);
    };
  }
  const num: Record<string, [number, (b: Buffer, v: number, p: number) => number]> = {
    UInt8: [1, (b, v, p) => b.writeUInt8(v, p)],
    UInt16: [2, (b, v, p) => b.writeUInt16LE(v, p)],
    UInt32: [4, (b, v, p) => b.writeUInt32LE(v, p)],
    UInt64: [8, (b, v, p) => b.writeBigUInt64LE(BigInt(v), p)],
    Int8: [1, (b, v, p) => b.writeInt8(v, p)],
    Int16: [2, (b, v, p) => b.writeInt16LE(v, p)],
    Int32: [4, (b, v, p) => b.writeInt32LE(v, p)],
    Int64: [8, (b, v, p) => b.writeBigInt64LE(BigInt(v), p)],
    Float32: [4, (b, v, p) => b.writeFloatLE(v, p)],
    Float64: [8, (b, v, p) => b.writeDoubleLE(v, p)],
  };
  const n = num[type];
  if (!n) throw new ValidationError(`the Native baseline writer does not handle type ${type}`);
  const [size, write] = n;
  return (o, v) => {
    o.ensure(size);
    o.pos = write(o.buf, Number(v ?? 0), o.pos);
  };
}

/** One Native block of `rows` (objects keyed by column name; DateTime values in epoch ms). */
export function encodeNative(columns: readonly Column[], rows: readonly Record<string, unknown>[]): Buffer {
  const o = new Out();
  o.varint(columns.length);
  o.varint(rows.length);
  for (const c of columns) {
    o.string(c.name);
    o.string(c.type);
    const w = writerFor(c.type);
    if (c.type.startsWith('Nullable(')) {
      o.ensure(rows.length);
      for (const r of rows) o.buf[o.pos++] = r[c.name] === null || r[c.name] === undefined ? 1 : 0;
      for (const r of rows) w(o, r[c.name] ?? 0);
    } else for (const r of rows) w(o, r[c.name]);
  }
  return o.done();
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
