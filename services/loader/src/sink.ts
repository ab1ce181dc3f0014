import { setTimeout as sleep } from 'node:timers/promises';
import { AmiError, type Logger } from '@ami/lib';
import type { TableName, TableSpec } from './tables.js';

/** Inserts one table's RowBinary body (in chunks); throws when ClickHouse did not accept it. */
export type InsertFn = (spec: TableSpec, body: Buffer[], rows: number) => Promise<void>;

export interface SinkOptions {
  /** Flush as soon as a table holds this many rows. */
  batchRows: number;
  /** Flush when the oldest buffered row waited this long. */
  flushMs: number;
  /** Flush early when every handler is waiting and at least this many rows are buffered. */
  earlyRows: number;
  /** A table's flush is split into up to this many concurrent inserts (ClickHouse parses one insert on one core). */
  parallelInserts: number;
  retryMinMs: number;
  retryMaxMs: number;
  /** Called when ClickHouse starts refusing (pause consumption) and when it accepts again (resume). */
  onUnavailable?: () => void;
  onRecovered?: () => void;
  /**
   * Called once when an insert fails in a way no retry cures (a schema error: a table or column
   * missing): the flush is not retried, its waiters are rejected and nothing is committed.
   */
  onFatal?: (err: unknown) => void;
  /** Called after a flush was accepted, before its offsets are committed (fault injection in tests). */
  afterFlush?: (rows: number) => void;
  /** Commits the Kafka positions of the rows of an accepted flush. */
  commit?: (positions: Position[]) => Promise<void>;
}

/** Next offset to consume of a topic-partition once a batch's rows are in ClickHouse. */
export interface Position {
  topic: string;
  partition: number;
  offset: string;
}

/** The sink was stopped (by its owner, or by an insert no retry cures); the rows were not committed. */
export class SinkStoppedError extends AmiError {
  constructor() {
    super('sink stopped', { retriable: true, code: 'sink-stopped' });
  }
}

interface Buffered {
  spec: TableSpec;
  chunks: { body: Buffer; rows: number }[];
  rows: number;
}

/** Splits chunks into at most `parts` groups of similar row counts (each group one INSERT). */
export function splitChunks<C extends { rows: number }>(chunks: readonly C[], parts: number): C[][] {
  const total = chunks.reduce((n, c) => n + c.rows, 0);
  const target = Math.ceil(total / Math.max(1, parts));
  const groups: C[][] = [[]];
  let inGroup = 0;
  for (const c of chunks) {
    if (inGroup >= target && groups.length < parts) {
      groups.push([]);
      inGroup = 0;
    }
    groups[groups.length - 1]!.push(c);
    inGroup += c.rows;
  }
  return groups.filter((g) => g.length > 0);
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
  position?: Position;
}

/** The highest position per topic-partition. */
export function latestPositions(positions: readonly Position[]): Position[] {
  const best = new Map<string, Position>();
  for (const p of positions) {
    const key = `${p.topic}\u0000${p.partition}`;
    const seen = best.get(key);
    if (!seen || Number(p.offset) > Number(seen.offset)) best.set(key, p);
  }
  return [...best.values()];
}

/**
 * Buffers rows per table and inserts them in batches: by size, by time, or as
 * soon as every Kafka handler is waiting (one fetch, one insert). `add`
 * resolves only after ClickHouse accepted the rows, so the caller commits
 * offsets after the insert, never before. While ClickHouse refuses, the sink
 * retries with exponential backoff and the handlers stay blocked: Kafka
 * keeps the backlog.
 */
export class Sink {
  private readonly buffers = new Map<TableName, Buffered>();
  private waiters: Waiter[] = [];
  private firstRowAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  /** Commits run in flush order, after their inserts, without holding up the next insert. */
  private committing: Promise<void> = Promise.resolve();
  /** Callers waiting for the backlog to shrink (backpressure), released after each insert. */
  private roomWaiters: { limit: number; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private active = 0;
  private stopped = false;
  /** Inserts in retry now (any table): while one is, ClickHouse does not take writes. */
  private failingInserts = 0;
  /** The last health probe (`probe`) failed and no insert has succeeded since. */
  private probeFailed = false;
  /** The state last reported (logged, onUnavailable/onRecovered): changes only on a state change. */
  private reportedDown = false;
  private inFlightRows = 0;
  rowsInserted = 0;
  inserts = 0;

  constructor(
    private readonly insert: InsertFn,
    private readonly opts: SinkOptions,
    private readonly logger: Logger,
  ) {}

  /** A Kafka handler started working on a batch. */
  enter(): void {
    this.active++;
  }

  /** A handler finished (with or without rows); when it was the last one working, maybe flush. */
  leave(): void {
    this.active--;
    this.maybeFlush();
  }

  /**
   * Buffers `rows` rows already encoded as RowBinary in `body`; resolves once
   * they are in ClickHouse. Call after enter(); it counts as leave().
   */
  add(spec: TableSpec, body: Buffer, rows: number, position?: Position): Promise<void> {
    if (this.stopped) {
      this.active--;
      return Promise.reject(new SinkStoppedError());
    }
    if (rows > 0) {
      const buf = this.bufferOf(spec);
      buf.chunks.push({ body, rows });
      buf.rows += rows;
      if (this.firstRowAt === 0) this.firstRowAt = Date.now();
    }
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject, position }));
    this.leave();
    this.armTimer();
    return done;
  }

  /** Rows not yet in ClickHouse (buffered or being inserted): the loader's backpressure signal. */
  get backlogRows(): number {
    return this.bufferedRows().total + this.inFlightRows;
  }

  /**
   * Resolves once at most `limit` rows wait for ClickHouse: the caller may
   * fetch and decode the next batch while the current insert runs (its own
   * rows are committed later, by `add`'s promise). Rejects on stop.
   */
  room(limit: number): Promise<void> {
    if (this.stopped) return Promise.reject(new SinkStoppedError());
    if (this.backlogRows <= limit) return Promise.resolve();
    return new Promise((resolve, reject) => this.roomWaiters.push({ limit, resolve, reject }));
  }

  private releaseRoom(): void {
    if (this.roomWaiters.length === 0) return;
    const backlog = this.backlogRows;
    const still: typeof this.roomWaiters = [];
    for (const w of this.roomWaiters) {
      if (backlog <= w.limit) w.resolve();
      else still.push(w);
    }
    this.roomWaiters = still;
  }

  private bufferOf(spec: TableSpec): Buffered {
    let buf = this.buffers.get(spec.table);
    if (!buf) {
      buf = { spec, chunks: [], rows: 0 };
      this.buffers.set(spec.table, buf);
    }
    return buf;
  }

  private bufferedRows(): { total: number; max: number } {
    let total = 0;
    let max = 0;
    for (const b of this.buffers.values()) {
      total += b.rows;
      max = Math.max(max, b.rows);
    }
    return { total, max };
  }

  private maybeFlush(): void {
    if (this.flushing || this.waiters.length === 0) return;
    const { total, max } = this.bufferedRows();
    const due = this.firstRowAt > 0 && Date.now() - this.firstRowAt >= this.opts.flushMs;
    const idle = this.active === 0 && (total >= this.opts.earlyRows || total === 0);
    if (max >= this.opts.batchRows || due || idle) void this.flush();
  }

  private armTimer(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.maybeFlush();
      if (this.waiters.length > 0 && !this.flushing) this.armTimer();
    }, this.opts.flushMs);
    this.timer.unref();
  }

  /** Inserts everything buffered now (retrying until accepted or stopped), then releases its waiters. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => this.flush());
    const bodies = [...this.buffers.values()].flatMap((b) =>
      splitChunks(b.chunks, this.opts.parallelInserts).map((group) => ({
        spec: b.spec,
        rows: group.reduce((n, c) => n + c.rows, 0),
        body: group.map((c) => c.body),
      })),
    );
    for (const b of this.buffers.values()) {
      b.chunks = [];
      b.rows = 0;
    }
    const waiters = this.waiters;
    this.waiters = [];
    this.firstRowAt = 0;
    const rows = bodies.reduce((n, b) => n + b.rows, 0);
    this.inFlightRows = rows;
    this.flushing = (async () => {
      try {
        await Promise.all(bodies.map((b) => this.insertWithRetry(b.spec, b.body, b.rows)));
        this.rowsInserted += rows;
        this.inserts += bodies.length;
        if (rows > 0) this.opts.afterFlush?.(rows);
        // The next insert need not wait for this commit; later commits wait for it (offsets in order).
        this.committing = this.committing.then(async () => {
          await this.commit(waiters);
          for (const w of waiters) w.resolve();
        });
      } catch (err) {
        for (const w of waiters) w.reject(err);
      } finally {
        this.flushing = undefined;
        this.inFlightRows = 0;
        this.releaseRoom();
        // Rows that arrived during this flush may have no handler left to trigger the next one.
        if (this.waiters.length > 0) {
          this.maybeFlush();
          this.armTimer();
        }
      }
    })();
    return this.flushing;
  }

  /** Commits after the insert; a failed commit only means redelivery, which the tables absorb. */
  private async commit(waiters: readonly Waiter[]): Promise<void> {
    const positions = latestPositions(waiters.flatMap((w) => (w.position ? [w.position] : [])));
    if (positions.length === 0 || !this.opts.commit) return;
    try {
      await this.opts.commit(positions);
    } catch (err) {
      this.logger.warn(
        { err, positions: positions.length },
        'offset commit failed; those records will be loaded again (harmless)',
      );
    }
  }

  /**
   * Whether ClickHouse takes writes as far as the sink knows: no insert of any table is in retry
   * and the last probe answered. The loader's readiness: it never says ready while one table's
   * inserts fail, even if another table's succeed meanwhile.
   */
  get writable(): boolean {
    return this.failingInserts === 0 && !this.probeFailed;
  }

  /** The result of a health probe (the loader pings ClickHouse): a refusing server is seen while idle too. */
  probe(ok: boolean, err?: unknown): void {
    this.probeFailed = !ok;
    this.report(err);
  }

  /** Logs and signals (pause, resume) once per change of `writable`, never per retry. */
  private report(err?: unknown): void {
    const down = !this.writable;
    if (down === this.reportedDown) return;
    this.reportedDown = down;
    if (down) {
      this.logger.warn({ err }, 'ClickHouse refuses writes; consumption paused until it accepts them again');
      this.opts.onUnavailable?.();
    } else {
      this.logger.info('ClickHouse accepts writes again; resuming');
      this.opts.onRecovered?.();
    }
  }

  private async insertWithRetry(spec: TableSpec, body: Buffer[], rows: number): Promise<void> {
    let delay = this.opts.retryMinMs;
    let failing = false;
    try {
      for (;;) {
        try {
          await this.insert(spec, body, rows);
          this.probeFailed = false;
          if (failing) {
            failing = false;
            this.failingInserts--;
          }
          this.report();
          return;
        } catch (err) {
          if (this.stopped) throw err;
          // Only a typed refusal stops (insert.ts types ClickHouse's by code); anything else is retried.
          if (err instanceof AmiError && !err.retriable) {
            this.fatal(err);
            throw err;
          }
          if (!failing) {
            failing = true;
            this.failingInserts++;
          }
          this.report(err);
          this.logger.debug({ err, table: spec.table, rows, retryInMs: delay }, 'insert refused; retrying');
          await sleep(delay);
          delay = Math.min(delay * 2, this.opts.retryMaxMs);
        }
      }
    } finally {
      if (failing) this.failingInserts--;
    }
  }

  /** An insert no retry cures: stop taking rows and tell the owner (once). */
  private fatal(err: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    this.opts.onFatal?.(err);
  }

  /** Stops retrying; waiters of a flush in progress are rejected, so their offsets are never committed. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    // Callers blocked by backpressure stop now; the insert in progress is finished first.
    for (const w of this.roomWaiters) w.reject(new SinkStoppedError());
    this.roomWaiters = [];
    await this.flushing?.catch(() => undefined);
    await this.committing;
    for (const w of this.waiters) w.reject(new SinkStoppedError());
    this.waiters = [];
  }
}
