import { describe, expect, it } from 'vitest';
import { inputPartition, partitionForKey } from '../src/index.js';

describe('inputPartition (placement of reads and events by feeder)', () => {
  it('places every gardu of a feeder on the feeder key partition, whatever the gardu key would give', () => {
    const feeder = 'BALI-DPS-F07';
    const gardus = Array.from({ length: 40 }, (_, i) => `GD-${feeder}-${i}`);
    const want = partitionForKey(Buffer.from(feeder), 6);
    for (const garduId of gardus) expect(inputPartition({ garduId, feederId: feeder }, 6)).toBe(want);
    // The test means something: by their own keys these gardu would spread over the partitions.
    expect(new Set(gardus.map((g) => partitionForKey(Buffer.from(g), 6))).size).toBeGreaterThan(1);
  });

  it("places a gardu whose feeder is unknown as Kafka's default partitioner places its key", () => {
    for (const garduId of ['GD-1', 'GD-2', 'GD-X-99', 'gardu tanpa penyulang'])
      for (const n of [1, 3, 6, 12]) {
        expect(inputPartition({ garduId }, n)).toBe(partitionForKey(Buffer.from(garduId), n));
        expect(inputPartition({ garduId, feederId: '' }, n)).toBe(partitionForKey(Buffer.from(garduId), n));
      }
  });

  it('spreads feeders over the partitions (murmur2 of the feeder id)', () => {
    const used = new Set(
      Array.from({ length: 60 }, (_, i) => inputPartition({ garduId: 'g', feederId: `F${i}` }, 6)),
    );
    expect(used.size).toBe(6);
  });
});
