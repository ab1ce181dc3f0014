/**
 * ClickHouse RowBinary encoding, the fast insert path: no text to format on
 * our side or to parse on the server's (JSONEachRow reached a quarter of the
 * native rate). Values are trusted here: rows.ts validated them.
 */
import { writeUvarint } from '@ami/lib';

export type ColumnType =
  | 'String'
  | 'UInt8'
  | 'UInt32'
  | 'UInt64'
  | 'Int32'
  | 'Int64'
  | 'Float32'
  | 'DateTime'
  | 'Nullable(String)'
  | 'Nullable(Int32)'
  | 'Nullable(DateTime)'
  | 'Array(String)'
  | { enum8: Readonly<Record<string, number>> };

export interface Column {
  name: string;
  type: ColumnType;
}

const TWO_32 = 4294967296;

/** A growable buffer with the RowBinary primitives (also those of the Native format: loadtest/src/native.ts). */
export class RowBinaryWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialBytes = 1 << 20) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  get length(): number {
    return this.pos;
  }

  /** The bytes written so far (a copy-free view); the writer starts over empty. */
  take(): Buffer {
    const out = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(0);
    this.pos = 0;
    return out;
  }

  /** Copies `src[start, end)` as is. */
  bytes(src: Buffer, start: number, end: number): void {
    const n = end - start;
    this.ensure(n);
    // A plain loop beats Buffer#copy's call overhead for ids and floats (profile: 1 µs a read).
    if (n <= 64) {
      const b = this.buf;
      let p = this.pos;
      for (let i = start; i < end; i++) b[p++] = src[i]!;
      this.pos = p;
      return;
    }
    this.pos += src.copy(this.buf, this.pos, start, end);
  }

  /** Drops everything written after `length` (undo a partial row). */
  truncate(length: number): void {
    this.pos = length;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n, 4096));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  varUInt(n: number): void {
    this.ensure(10);
    this.pos = writeUvarint(this.buf, this.pos, n);
  }

  string(s: string): void {
    // Short strings (ids, codes) fit a one-byte length whatever their UTF-8 size: write in place.
    if (s.length * 3 < 128) {
      this.ensure(1 + s.length * 3);
      const n = this.buf.write(s, this.pos + 1, 'utf8');
      this.buf[this.pos] = n;
      this.pos += 1 + n;
      return;
    }
    const n = Buffer.byteLength(s, 'utf8');
    this.varUInt(n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  u16(v: number): void {
    this.ensure(2);
    this.pos = this.buf.writeUInt16LE(v, this.pos);
  }

  i8(v: number): void {
    this.ensure(1);
    this.buf.writeInt8(v, this.pos++);
  }

  i16(v: number): void {
    this.ensure(2);
    this.pos = this.buf.writeInt16LE(v, this.pos);
  }

  u32(v: number): void {
    this.ensure(4);
    this.pos = this.buf.writeUInt32LE(v, this.pos);
  }

  i32(v: number): void {
    this.ensure(4);
    this.pos = this.buf.writeInt32LE(v, this.pos);
  }

  /** A 64-bit integer from a JS number (exact below 2^53), two's complement for negatives. */
  i64(v: number): void {
    const hi = Math.floor(v / TWO_32);
    this.ensure(8);
    this.pos = this.buf.writeUInt32LE(v - hi * TWO_32, this.pos);
    this.pos = this.buf.writeInt32LE(hi, this.pos);
  }

  f32(v: number): void {
    this.ensure(4);
    this.pos = this.buf.writeFloatLE(v, this.pos);
  }

  f64(v: number): void {
    this.ensure(8);
    this.pos = this.buf.writeDoubleLE(v, this.pos);
  }
}

type Writer = (w: RowBinaryWriter, v: unknown) => void;

function writerFor(type: ColumnType): Writer {
  if (typeof type === 'object') {
    const codes = type.enum8;
    return (w, v) => w.i8(codes[v as string]!);
  }
  switch (type) {
    case 'String':
      return (w, v) => w.string(v as string);
    case 'UInt8':
      return (w, v) => w.u8(v as number);
    case 'UInt32':
    case 'DateTime':
      return (w, v) => w.u32(v as number);
    case 'UInt64':
    case 'Int64':
      return (w, v) => w.i64(v as number);
    case 'Int32':
      return (w, v) => w.i32(v as number);
    case 'Float32':
      return (w, v) => w.f32(v as number);
    case 'Nullable(String)':
      return nullable(writerFor('String'));
    case 'Nullable(Int32)':
      return nullable(writerFor('Int32'));
    case 'Nullable(DateTime)':
      return nullable(writerFor('DateTime'));
    case 'Array(String)':
      return (w, v) => {
        const a = v as string[];
        w.varUInt(a.length);
        for (const s of a) w.string(s);
      };
  }
}

function nullable(inner: Writer): Writer {
  return (w, v) => {
    if (v === null || v === undefined) return w.u8(1);
    w.u8(0);
    inner(w, v);
  };
}

/** An encoder for rows shaped as objects keyed by column name, in `columns` order. */
export function rowEncoder<R>(columns: readonly Column[]): (w: RowBinaryWriter, row: R) => void {
  const writers = columns.map((c) => [c.name, writerFor(c.type)] as const);
  return (w, row) => {
    for (const [name, write] of writers) write(w, (row as Record<string, unknown>)[name]);
  };
}

/** Reads RowBinary values in order from one whole result (a small one: profiles). */
export class RowBinaryReader {
  private pos = 0;

  constructor(private readonly buf: Buffer) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  string(): string {
    let len = 0;
    for (let shift = 1; ; shift *= 128) {
      const b = this.byte();
      len += (b & 0x7f) * shift;
      if (b < 0x80) break;
    }
    if (this.pos + len > this.buf.length) throw new RangeError('RowBinary: a string runs past the end');
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }

  u32(): number {
    if (this.pos + 4 > this.buf.length) throw new RangeError('RowBinary: a UInt32 runs past the end');
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  private byte(): number {
    if (this.pos >= this.buf.length) throw new RangeError('RowBinary: a value runs past the end');
    return this.buf[this.pos++]!;
  }
}
