import { describe, expect, it } from 'vitest';
import { ClickHouseError as ClientError } from '@clickhouse/client';
import { ClickHouseError, UnavailableError } from '../src/errors.js';
import { clickhouseErrorCode, toClickHouseError } from '../src/clickhouse.js';

/** 18.16's exception text (no `(TYPE)` suffix, so @clickhouse/client leaves a plain Error). */
const old = (code: number, text: string) =>
  new Error(`Code: ${code}, e.displayText() = DB::Exception: ${text}, e.what() = DB::Exception`);
/** A current server's error as @clickhouse/client parses it. */
const current = (code: number, type: string) =>
  new ClientError({ message: `${type.toLowerCase()} happened`, code: String(code), type });

describe('ClickHouse failures typed by their error code', () => {
  it.each([
    // [what failed, error, code, name, retriable]
    [
      'no such column (18.16)',
      old(16, 'No such column gardu_id in table ami.events'),
      16,
      'NO_SUCH_COLUMN_IN_TABLE',
      false,
    ],
    ['unknown table (18.16)', old(60, "Table ami.readz doesn't exist."), 60, 'UNKNOWN_TABLE', false],
    ['unknown identifier', current(47, 'UNKNOWN_IDENTIFIER'), 47, 'UNKNOWN_IDENTIFIER', false],
    ['type mismatch', current(53, 'TYPE_MISMATCH'), 53, 'TYPE_MISMATCH', false],
    ['unknown database', old(81, "Database ami_x doesn't exist"), 81, 'UNKNOWN_DATABASE', false],
    ['wrong password', old(193, 'Wrong password for user default'), 193, 'WRONG_PASSWORD', false],
    [
      'too many parts',
      old(252, 'Too many parts (300). Merges are processing significantly slower than inserts.'),
      252,
      'TOO_MANY_PARTS',
      true,
    ],
    ['memory limit', current(241, 'MEMORY_LIMIT_EXCEEDED'), 241, 'MEMORY_LIMIT_EXCEEDED', true],
    ['timeout', old(159, 'Timeout exceeded: elapsed 600 seconds'), 159, 'TIMEOUT_EXCEEDED', true],
    ['a code not listed', old(999, 'Keeper'), 999, 'CLICKHOUSE_ERROR_999', true],
  ])('%s', (_what, err, code, name, retriable) => {
    const typed = toClickHouseError('insert into events', err);
    expect(typed).toBeInstanceOf(ClickHouseError);
    expect(typed).toMatchObject({ clickhouseCode: code, errorCode: name, retriable, cause: err });
    expect(typed.message).toContain(`insert into events failed with ${name} (code ${code})`);
  });

  it('an error in the body of a streamed response is typed by its code too', () => {
    const body = { message: 'Code: 16, e.displayText() = DB::Exception: No such column x in table t' };
    expect(clickhouseErrorCode(body)).toBe(16);
    expect(toClickHouseError('reads_days insert', body).retriable).toBe(false);
  });

  it.each([
    [
      'connection refused',
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' }),
    ],
    ['socket hang up', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
    ['client timeout', new Error('Timeout error.')],
  ])('no answer from the server (%s) is retriable: unavailable', (_what, err) => {
    const typed = toClickHouseError('insert into reads', err);
    expect(typed).toBeInstanceOf(UnavailableError);
    expect(typed).toMatchObject({ retriable: true, errorCode: 'clickhouse-unavailable' });
  });

  it('a number elsewhere in the text is not a code', () => {
    expect(
      clickhouseErrorCode(new Error('inserted 16 rows, then Code 60 is only mentioned')),
    ).toBeUndefined();
  });
});
