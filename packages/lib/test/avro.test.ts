import { describe, expect, it } from 'vitest';
import { BadRecordError, avroType, frame, schemaIdOf, type MeterRead } from '../src/index.js';

const read: MeterRead = {
  meter_id: 'M1',
  gardu_id: 'G1',
  read_at: Date.UTC(2025, 5, 1),
  interval_s: 900,
  energy_import_wh: 123_456_789,
  demand_w: 450,
  voltage_v: 221.5,
  relay: 'CLOSED',
  power_limit_va: 1300,
  kind: 'INTERVAL',
};

describe('Confluent wire framing', () => {
  it('puts magic byte 0 and the big-endian schema id before the Avro body', () => {
    const body = avroType('MeterRead').toBuffer(read);
    const framed = frame(258, body);
    expect([...framed.subarray(0, 5)]).toEqual([0, 0, 0, 1, 2]);
    expect(schemaIdOf(framed)).toBe(258);
    expect(avroType('MeterRead').fromBuffer(framed.subarray(5))).toEqual(read);
  });

  it('names what is wrong with a message that is not in the wire format', () => {
    const reasonOf = (buf: Buffer) => {
      try {
        schemaIdOf(buf);
        return 'ok';
      } catch (err) {
        expect(err).toBeInstanceOf(BadRecordError);
        return (err as BadRecordError).reason;
      }
    };
    expect(reasonOf(Buffer.from([0, 0]))).toBe('too-short');
    expect(reasonOf(Buffer.from('{"meter_id":"M1"}'))).toBe('bad-magic-byte');
  });
});
