import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConsumerPerf, parseProducerPerf, runCommand } from '../src/baseline.js';

const dir = mkdtempSync(join(tmpdir(), 'loadtest-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('baseline tool runs', () => {
  it("feeds a file to the tool's input and returns its output, its failure and a deadline's stop", async () => {
    const file = join(dir, 'input.tsv');
    writeFileSync(file, 'a\t1\nb\t2\n');
    const cat = await runCommand('cat', [], { stdinFile: file, timeoutMs: 10_000 });
    expect(cat).toMatchObject({ code: 0, stdout: 'a\t1\nb\t2', timedOut: false });
    const failed = await runCommand('sh', ['-c', 'echo progress; echo "no such table" >&2; exit 60'], {
      timeoutMs: 10_000,
    });
    expect(failed).toMatchObject({ code: 60, stdout: 'progress', stderr: 'no such table' });
    const late = await runCommand('sleep', ['30'], { timeoutMs: 300 });
    expect(late.timedOut).toBe(true);
    expect(late.ms).toBeLessThan(10_000);
  });
});

describe('baseline output parsers', () => {
  it('reads ProducerPerformance and ConsumerPerformance summaries', () => {
    const p = parseProducerPerf(
      '118417 records sent, 23532.8 records/sec (1.64 MB/sec), 111.1 ms avg latency, 1594.0 ms max latency.\n' +
        '1000000 records sent, 81719.375664 records/sec (5.69 MB/sec), 105.23 ms avg latency, 1594.00 ms max latency, 86 ms 50th, 263 ms 95th, 320 ms 99th, 535 ms 99.9th.\n',
    );
    expect(p).toEqual({
      records: 1_000_000,
      recordsPerSec: 81719.375664,
      mbPerSec: 5.69,
      avgLatencyMs: 105.23,
      p99LatencyMs: 320,
    });
    const c = parseConsumerPerf(
      'start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n' +
        '2026-11-28 20:55:40:000, 2026-11-28 20:55:48:000, 34.8, 4.1, 500000, 60153.99, 3000, 5000, 6.96, 100000.0\n',
    );
    expect(c).toEqual({ records: 500_000, recordsPerSec: 100_000, mbPerSec: 6.96 });
    expect(parseProducerPerf('Exception in thread main')).toBeUndefined();
  });
});
