import { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import { sqlIdent, toClickHouseError } from '@ami/lib';
import { RowBinaryWriter, rowEncoder } from './rowbinary.js';
import type { TableSpec } from './tables.js';

/** Encodes rows of one table to RowBinary, the body of one INSERT. */
export function encodeRows(spec: TableSpec, rows: readonly Record<string, unknown>[]): Buffer {
  const encode = rowEncoder<Record<string, unknown>>(spec.columns);
  const w = new RowBinaryWriter(Math.max(1024, rows.length * 96));
  for (const row of rows) encode(w, row);
  return w.take();
}

/**
 * One INSERT of a RowBinary body (streamed chunk by chunk). A failure is typed by ClickHouse's
 * error code (toClickHouseError): a schema error is not retriable, load and network errors are.
 */
export async function insertRowBinary(
  ch: ClickHouseClient,
  db: string,
  spec: TableSpec,
  body: Buffer | Buffer[],
): Promise<void> {
  const columns = spec.columns.map((c) => sqlIdent(c.name)).join(', ');
  try {
    const res = await ch.exec({
      query: `INSERT INTO ${sqlIdent(db)}.${sqlIdent(spec.table)} (${columns}) FORMAT RowBinary`,
      values: Readable.from(Array.isArray(body) ? body : [body]),
    });
    // Drain the (empty) response so the socket goes back to the pool.
    res.stream.resume();
  } catch (err) {
    throw toClickHouseError(`insert into ${spec.table}`, err);
  }
}

export async function insertRows(
  ch: ClickHouseClient,
  db: string,
  spec: TableSpec,
  rows: readonly Record<string, unknown>[],
): Promise<void> {
  if (rows.length > 0) await insertRowBinary(ch, db, spec, encodeRows(spec, rows));
}

/**
 * One INSERT of a RowBinary body streamed as it is made (`query` ends in FORMAT RowBinary).
 * The response is read to its end: with progress headers the status comes before the INSERT
 * is done, and an error then only shows in the body (its `Code: NNN` types it, as above).
 */
export async function streamInsert(
  ch: ClickHouseClient,
  query: string,
  body: Readable,
  what: string,
): Promise<void> {
  try {
    const res = await ch.exec({ query, values: body, clickhouse_settings: { max_execution_time: 600 } });
    let text = '';
    for await (const chunk of res.stream) text += String(chunk);
    if (text.includes('Exception')) throw toClickHouseError(what, { message: text.slice(0, 500) });
  } catch (err) {
    throw toClickHouseError(what, err);
  }
}
