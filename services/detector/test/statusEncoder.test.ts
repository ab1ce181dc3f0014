import { describe, expect, it } from 'vitest';
import { avroType, frame, type MeterStatus } from '@ami/lib';
import { statusEncoder } from '../src/statusEncoder.js';

describe('statusEncoder', () => {
  it("writes the same bytes as the codec's encoder (Confluent framing), growing for long records", () => {
    const encode = statusEncoder(4242);
    const type = avroType('MeterStatus');
    const records: MeterStatus[] = [
      {
        meter_id: 'MTR00000001',
        gardu_id: 'GD00001',
        state: 'OUTAGE',
        relay: 'CLOSED',
        since: 1_795_000_000_000,
        outage_id: null,
      },
      {
        meter_id: 'M2',
        gardu_id: 'G',
        state: 'OUTAGE',
        relay: 'CLOSED',
        since: 1,
        outage_id: `GARDU-G-${'9'.repeat(2000)}`,
      },
      {
        meter_id: 'M3',
        gardu_id: 'G',
        state: 'DISCONNECTED',
        relay: 'OPEN',
        since: 2,
        outage_id: 'GARDU-G-1',
      },
    ];
    for (const r of records) {
      const view = encode(r);
      expect(Buffer.from(view)).toEqual(frame(4242, type.toBuffer(r)));
      expect(type.fromBuffer(view.subarray(5))).toEqual(r);
    }
  });
});
