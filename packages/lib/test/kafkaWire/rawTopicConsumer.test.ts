import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import {
  OFFSET_OUT_OF_RANGE,
  READ_COMMITTED,
  RawTopicConsumer,
  RecordBatchBuilder,
  startOffset,
  type FetchPartition,
  type FetchedPartition,
  type RawTopicOptions,
} from '../../src/kafkaWire/index.js';

/**
 * The raw consumer of a topic against an in-memory log: each partition a list of record values
 * from its earliest offset on, served as magic-2 batches (what RecordBatchBuilder, the wire
 * producer, writes) with the broker's answers for an offset outside the log.
 */
class FixtureLog {
  /** Values by partition, the first at offset `earliest[p]`. */
  constructor(
    readonly values: string[][],
    readonly earliest: number[],
    readonly committed: Map<number, number>,
  ) {}

  end(p: number): number {
    return this.earliest[p]! + this.values[p]!.length;
  }

  /** Up to 3 records a partition per fetch, so a test sees several rounds. */
  async fetch(parts: readonly FetchPartition[]): Promise<FetchedPartition[]> {
    await sleep(2);
    return parts.map(({ topic, partition: p, offset }) => {
      const answer = {
        topic,
        partition: p,
        fetchOffset: offset,
        highWatermark: this.end(p),
        lastStableOffset: this.end(p),
        aborted: [],
      };
      if (offset < this.earliest[p]! || offset > this.end(p))
        return { ...answer, errorCode: OFFSET_OUT_OF_RANGE, records: null };
      const from = offset - this.earliest[p]!;
      const values = this.values[p]!.slice(from, from + 3);
      if (values.length === 0) return { ...answer, errorCode: 0, records: Buffer.alloc(0) };
      const b = new RecordBatchBuilder(256);
      for (const v of values) b.add(Buffer.from(`k${p}`), Buffer.from(v), v.length);
      const batch = Buffer.from(b.seal(-1n, -1, -1, 1_700_000_000_000));
      batch.writeBigInt64BE(BigInt(offset), 0); // base offset (outside the CRC)
      return { ...answer, errorCode: 0, records: batch };
    });
  }

  close(): void {}

  /** kafkajs' admin answers: offset -1 when the group committed nothing. */
  async fetchOffsets(): Promise<
    Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>
  > {
    return [
      {
        topic: 'reads',
        partitions: this.values.map((_, p) => ({
          partition: p,
          offset: String(this.committed.get(p) ?? -1),
        })),
      },
    ];
  }

  async fetchTopicOffsets(): Promise<
    Array<{ partition: number; offset: string; low: string; high: string }>
  > {
    return this.values.map((_, p) => ({
      partition: p,
      offset: String(this.end(p)),
      low: String(this.earliest[p]),
      high: String(this.end(p)),
    }));
  }
}

/** Records processed, as `partition@offset=value`. */
type Seen = string[];

function consumer(log: FixtureLog, seen: Seen, extra: Partial<RawTopicOptions> = {}): RawTopicConsumer {
  const c = new RawTopicConsumer({
    topic: 'reads',
    groupId: 'g',
    fetcher: log,
    admin: log as unknown as RawTopicOptions['admin'],
    isolation: READ_COMMITTED,
    process: async (p, ix) => {
      for (let i = 0; i < ix.count; i++)
        seen.push(`${p}@${ix.offset[i]}=${ix.buf.toString('utf8', ix.valueStart[i]!, ix.valueEnd[i]!)}`);
    },
    onFatal: (err) => {
      throw err;
    },
    logger: createLogger('raw-consumer-test', 'silent'),
    ...extra,
  });
  running.push(c);
  return c;
}

/**
 * A `process` for a caller that keeps its own positions (`at`): each fetch starts where the caller
 * is, its records are seen as `partition@offset`, and the caller's position moves past them.
 */
function processAt(seen: Seen, at: Map<number, number>): RawTopicOptions['process'] {
  return async (p, ix, _hw, fetchOffset) => {
    expect(fetchOffset).toBe(at.get(p));
    for (let i = 0; i < ix.count; i++) seen.push(`${p}@${ix.offset[i]}`);
    at.set(p, ix.nextOffset);
  };
}

const running: RawTopicConsumer[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop()));
});

async function until(what: string, ok: () => boolean, timeoutMs = 4000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('where the raw consumer starts a partition', () => {
  it('at the committed offset; with none, or one whose records were deleted, at the earliest', () => {
    expect(startOffset(undefined, 0)).toBe(0);
    expect(startOffset(-1, 40)).toBe(40); // kafkajs' "nothing committed"
    expect(startOffset(12, 40)).toBe(40); // retention deleted 12..39
    expect(startOffset(40, 40)).toBe(40);
    expect(startOffset(57, 40)).toBe(57);
  });

  it('at a committed offset beyond the end a just-elected leader reports, not at the earliest', async () => {
    // The new leader's high watermark (5) lags the commit (7): the fetch waits there for the
    // records instead of reading the partition again from the start.
    const log = new FixtureLog([['a', 'b', 'c', 'd', 'e']], [0], new Map([[0, 7]]));
    const seen: Seen = [];
    const c = consumer(log, seen);
    c.assign([0]);
    c.start();
    await sleep(50);
    expect(seen).toEqual([]);
    log.values[0]!.push('f', 'g', 'h');
    await until('the record at the committed offset', () => seen.length > 0);
    expect(seen).toEqual(['0@7=h']);
  });

  it('without the caller positions: at the committed offsets after every assignment (the loader)', async () => {
    const log = new FixtureLog(
      [
        ['a', 'b', 'c', 'd'],
        ['x', 'y'],
      ],
      [0, 3],
      new Map([[0, 2]]),
    );
    const seen: Seen = [];
    const c = consumer(log, seen);
    c.assign([0, 1]);
    c.start();
    await until('both partitions read to the end', () => seen.length === 4);
    expect(seen.sort()).toEqual(['0@2=c', '0@3=d', '1@3=x', '1@4=y']);
    c.assign([0]); // a rejoin: nothing was committed meanwhile, so the same records again
    await until('partition 0 again', () => seen.length === 6);
    expect(seen.slice(4)).toEqual(['0@2=c', '0@3=d']);
  });

  it("with the caller's positions: a rejoin continues where the caller's state is, a partition without one waits", async () => {
    const log = new FixtureLog(
      [
        ['a', 'b', 'c', 'd'],
        ['x', 'y', 'z'],
      ],
      [0, 0],
      new Map([
        [0, 1],
        [1, 0],
      ]),
    );
    const seen: Seen = [];
    // The caller's state: the committed offset when loaded, then past each record processed.
    const at = new Map<number, number>([[0, 1]]);
    let asked = 0;
    const c = consumer(log, seen, {
      positions: async (partitions) => {
        asked++;
        return new Map([...at].filter(([p]) => partitions.includes(p)));
      },
      process: processAt(seen, at),
    });
    c.assign([0, 1]);
    c.start();
    await until('partition 0 read to the end', () => seen.length === 3);
    expect(seen).toEqual(['0@1', '0@2', '0@3']);
    at.set(1, 1); // partition 1's state is loaded now
    await until('partition 1 read', () => seen.length === 5);
    const before = asked;
    c.assign([0, 1]); // a rejoin (a group coordinator moved): nothing is read twice
    log.values[0]!.push('e');
    await until('the new record', () => seen.length === 6);
    expect(asked).toBeGreaterThan(before);
    expect(seen.slice(3)).toEqual(['1@1', '1@2', '0@4']);
  });

  it('a position out of range on the broker restarts at the committed offset, else the earliest, and tells the caller first', async () => {
    // Retention deleted partition 0 up to offset 3 under the caller's position 1; partition 1's
    // log ends before the caller's position 9 (an unclean leader election truncated it).
    const log = new FixtureLog(
      [
        ['d', 'e'],
        ['x', 'y'],
      ],
      [3, 0],
      new Map([
        [0, 1],
        [1, 1],
      ]),
    );
    const seen: Seen = [];
    const at = new Map<number, number>([
      [0, 1],
      [1, 9],
    ]);
    const restarts: string[] = [];
    const c = consumer(log, seen, {
      positions: async (partitions) => new Map([...at].filter(([p]) => partitions.includes(p))),
      restartAt: async (p, offset) => {
        restarts.push(`${p}@${offset}`);
        at.set(p, offset);
      },
      process: processAt(seen, at),
    });
    c.assign([0, 1]);
    c.start();
    await until('both partitions read again', () => seen.length === 3);
    expect(restarts.sort()).toEqual(['0@3', '1@1']);
    expect(seen.sort()).toEqual(['0@3', '0@4', '1@1']);
  });
});
