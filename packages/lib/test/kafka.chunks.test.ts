import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { chunkByPartition, produceRequests, PRODUCE_CHUNK } from '../src/kafka.js';

describe('chunkByPartition / produceRequests', () => {
  const meta = Array.from({ length: 6 }, (_, i) => ({
    partitionErrorCode: 0,
    partitionId: i,
    leader: 0,
    replicas: [0],
    isr: [0],
  }));

  it('places keyed messages as kafkajs would, keeps explicit partitions and per-partition order', () => {
    const partitioner = Partitioners.DefaultPartitioner();
    const msgs = Array.from({ length: 5000 }, (_, i) => ({
      topic: i % 2 ? 'a' : 'b',
      key: `k${i % 37}`,
      value: String(i),
    }));
    msgs.push({ topic: 'state', key: 'g:x', value: 'snap', partition: 4 } as never);
    const chunks = chunkByPartition(msgs, () => 6);
    for (const c of chunks) {
      expect(c.messages.length).toBeLessThanOrEqual(PRODUCE_CHUNK);
      for (const m of c.messages) {
        expect(m.partition).toBe(c.partition);
        if (c.topic !== 'state')
          expect(
            partitioner({ topic: c.topic, partitionMetadata: meta, message: { key: m.key, value: m.value } }),
          ).toBe(c.partition);
      }
    }
    expect(chunks.find((c) => c.topic === 'state')!.partition).toBe(4);
    const requests = produceRequests(chunks);
    const sent = requests.flat().flatMap((t) => t.messages.map((m) => ({ topic: t.topic, ...m })));
    expect(sent).toHaveLength(msgs.length);
    // Order within each topic-partition is the input order.
    const last = new Map<string, number>();
    for (const m of sent) {
      if (m.topic === 'state') continue;
      const k = `${m.topic}:${m.partition}`;
      expect(Number(m.value)).toBeGreaterThan(last.get(k) ?? -1);
      last.set(k, Number(m.value));
    }
    // At most one chunk of a topic-partition per request.
    for (const r of requests) {
      const keys = r.map((t) => `${t.topic}:${t.messages[0]!.partition}`);
      expect(new Set(keys).size).toBe(keys.length);
    }
  });

  it('caps chunk and request bytes', () => {
    const big = 'x'.repeat(300 * 1024);
    const msgs = Array.from({ length: 20 }, (_, i) => ({
      topic: 'state',
      key: `g:${i}`,
      value: big,
      partition: 0,
    }));
    const chunks = chunkByPartition(msgs, () => 1);
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) expect(c.bytes).toBeLessThanOrEqual(1024 * 1024);
    for (const r of produceRequests(chunks)) expect(r).toHaveLength(1);
  });
});
