import { describe, expect, it } from 'vitest';
import { ClickHouseError, createLogger, UnavailableError } from '@ami/lib';
import { Sink, type SinkOptions } from '../src/sink.js';
import { TABLES } from '../src/tables.js';

const logger = createLogger('test', 'silent');
const opts: SinkOptions = {
  batchRows: 100,
  flushMs: 20,
  earlyRows: 10,
  parallelInserts: 2,
  retryMinMs: 5,
  retryMaxMs: 20,
};

describe('Sink', () => {
  it('is not writable while one table is refused, even when another is accepted meanwhile, and says so once', async () => {
    const events: string[] = [];
    let refuseReads = true;
    let readsAttempts = 0;
    const sink = new Sink(
      async (spec) => {
        if (spec.table === 'reads' && refuseReads) {
          readsAttempts++;
          throw new Error('Connection refused');
        }
        events.push(`insert ${spec.table}`);
      },
      { ...opts, onUnavailable: () => events.push('pause'), onRecovered: () => events.push('resume') },
      logger,
    );
    sink.enter();
    const reads = sink.add(TABLES.reads, Buffer.from([1]), 1);
    sink.enter();
    const rest = sink.add(TABLES.events, Buffer.from([2]), 1);
    const seen: boolean[] = [];
    while (readsAttempts < 5) {
      seen.push(sink.writable);
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(seen.slice(seen.indexOf(false))).not.toContain(true);
    const changes = () => events.filter((e) => e === 'pause' || e === 'resume');
    expect(events).toContain('insert events');
    expect(changes()).toEqual(['pause']);
    refuseReads = false;
    await Promise.all([reads, rest]);
    expect(changes()).toEqual(['pause', 'resume']);
    expect(sink.writable).toBe(true);
    await sink.stop();
  });

  it('a failed health probe makes it not writable while idle; state changes are reported once', async () => {
    const events: string[] = [];
    const sink = new Sink(
      async () => undefined,
      { ...opts, onUnavailable: () => events.push('pause'), onRecovered: () => events.push('resume') },
      logger,
    );
    expect(sink.writable).toBe(true);
    sink.probe(false, new Error('ECONNREFUSED'));
    sink.probe(false, new Error('ECONNREFUSED'));
    expect(sink.writable).toBe(false);
    sink.probe(true);
    sink.probe(true);
    expect(events).toEqual(['pause', 'resume']);
    await sink.stop();
  });

  it('releases a batch only after ClickHouse accepted it, retrying with pause and resume', async () => {
    const events: string[] = [];
    let failures = 2;
    const sink = new Sink(
      async (spec, body, rows) => {
        if (failures-- > 0) throw new Error('ClickHouse down');
        events.push(`insert ${spec.table} ${rows} rows in ${body.length} chunk(s)`);
      },
      { ...opts, onUnavailable: () => events.push('pause'), onRecovered: () => events.push('resume') },
      logger,
    );
    sink.enter();
    const done = sink.add(TABLES.reads, Buffer.from([1, 2, 3]), 3).then(() => events.push('released'));
    await done;
    expect(events).toEqual(['pause', 'insert reads 3 rows in 1 chunk(s)', 'resume', 'released']);
    await sink.stop();
  });

  it('flushes by size, one insert per table, split for parallel inserts', async () => {
    const inserts: number[] = [];
    const sink = new Sink(
      async (_s, _b, rows) => void inserts.push(rows),
      { ...opts, flushMs: 60_000, earlyRows: 1_000_000 },
      logger,
    );
    sink.enter();
    sink.enter();
    const a = sink.add(TABLES.reads, Buffer.alloc(1), 60);
    const b = sink.add(TABLES.reads, Buffer.alloc(1), 60); // 120 >= batchRows
    await Promise.all([a, b]);
    expect(inserts).toEqual([60, 60]);
    await sink.stop();
  });

  it('flushes at once when every handler waits (one fetch, one insert)', async () => {
    const inserts: number[] = [];
    const sink = new Sink(
      async (_s, _b, rows) => void inserts.push(rows),
      { ...opts, flushMs: 60_000 },
      logger,
    );
    sink.enter();
    await sink.add(TABLES.events, Buffer.alloc(1), 50);
    expect(inserts).toEqual([50]);
    await sink.stop();
  });

  it('rejects waiters on stop so their offsets are never committed', async () => {
    const sink = new Sink(async () => Promise.reject(new Error('down')), opts, logger);
    sink.enter();
    const p = sink.add(TABLES.reads, Buffer.alloc(1), 1);
    await new Promise((r) => setTimeout(r, 30));
    await sink.stop();
    await expect(p).rejects.toThrow();
  });
});

describe('Sink after a flush', () => {
  it('flushes rows that arrived while the previous flush was running', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const inserts: number[] = [];
    const sink = new Sink(
      async (_s, _b, rows) => {
        inserts.push(rows);
        if (inserts.length === 1) await gate;
      },
      { ...opts, flushMs: 10, earlyRows: 1 },
      logger,
    );
    sink.enter();
    const first = sink.add(TABLES.reads, Buffer.alloc(1), 5); // flushes at once, then blocks in insert
    sink.enter();
    const second = sink.add(TABLES.reads, Buffer.alloc(1), 7); // arrives during the first flush
    await new Promise((r) => setTimeout(r, 50)); // the timer fires while the first flush still runs
    release();
    await Promise.all([first, second]);
    expect(inserts).toEqual([5, 7]);
    await sink.stop();
  });
});

describe('Sink.room (backpressure)', () => {
  it('lets the caller decode on while one insert runs, and waits only while more is queued', async () => {
    let release!: () => void;
    const inserted: number[] = [];
    const sink = new Sink(
      async (_s, _b, rows) => {
        await new Promise<void>((r) => (release = r));
        inserted.push(rows);
      },
      { ...opts, flushMs: 60_000, earlyRows: 1 },
      logger,
    );
    sink.enter();
    const first = sink.add(TABLES.reads, Buffer.alloc(1), 80); // flushed at once (idle), insert held
    await new Promise((r) => setTimeout(r, 5));
    sink.enter();
    const second = sink.add(TABLES.reads, Buffer.alloc(1), 80); // buffered behind the running insert
    expect(sink.backlogRows).toBe(160);
    let roomy = false;
    const room = sink.room(100).then(() => (roomy = true));
    await new Promise((r) => setTimeout(r, 5));
    expect(roomy).toBe(false);
    release(); // first insert accepted: 80 rows left, below the limit
    await room;
    expect(inserted).toEqual([80]);
    await first;
    await new Promise((r) => setTimeout(r, 5));
    release();
    await second;
    expect(inserted).toEqual([80, 80]);
    await sink.stop();
  });

  it('rejects waiting callers on stop', async () => {
    const sink = new Sink(async () => new Promise(() => undefined), { ...opts, earlyRows: 1 }, logger);
    sink.enter();
    void sink.add(TABLES.reads, Buffer.alloc(1), 500).catch(() => undefined);
    const room = sink.room(10);
    void sink.stop();
    await expect(room).rejects.toThrow(/stopped/);
  });

  it('stops on an insert no retry cures: rejects the rows, reports once, commits nothing, takes no more', async () => {
    const fatal: unknown[] = [];
    const commits: unknown[] = [];
    let attempts = 0;
    const sink = new Sink(
      async () => {
        attempts++;
        // One refusal for now, then the schema error.
        if (attempts === 1) throw new UnavailableError('clickhouse', 'socket hang up');
        throw new ClickHouseError('no column gardu_id', 16, 'NO_SUCH_COLUMN_IN_TABLE', false);
      },
      { ...opts, onFatal: (err) => fatal.push(err), commit: async (p) => void commits.push(p) },
      logger,
    );
    sink.enter();
    const rows = sink.add(TABLES.events, Buffer.from([1]), 1, { topic: 't', partition: 0, offset: '1' });
    await expect(rows).rejects.toMatchObject({ errorCode: 'NO_SUCH_COLUMN_IN_TABLE' });
    expect(attempts).toBe(2);
    expect(fatal).toHaveLength(1);
    expect(commits).toEqual([]);
    sink.enter();
    await expect(sink.add(TABLES.events, Buffer.from([2]), 1)).rejects.toThrow(/stopped/);
    await sink.stop();
  });

  it('keeps retrying an error that is not typed as final', async () => {
    let attempts = 0;
    const sink = new Sink(
      async () => {
        if (++attempts < 4) throw new Error('ECONNRESET');
      },
      { ...opts, onFatal: () => expect.unreachable() },
      logger,
    );
    sink.enter();
    await sink.add(TABLES.events, Buffer.from([1]), 1);
    expect(attempts).toBe(4);
    await sink.stop();
  });
});
