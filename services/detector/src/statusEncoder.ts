import { avroType, type MeterStatus } from '@ami/lib';

/**
 * MeterStatus in the Confluent framing (magic 0, schema id, Avro body), written
 * into one reused buffer: a storm emits two statuses per meter, and the
 * codec's encoder allocates and copies twice per record. The result is a VIEW,
 * valid only until the next call: the caller copies it (the wire transaction
 * does as it adds the record) before encoding the next one.
 */
export function statusEncoder(schemaId: number): (s: MeterStatus) => Buffer {
  const type = avroType('MeterStatus');
  let buf = framed(schemaId, 512);
  return (s) => {
    let end = type.encode(s, buf, 5);
    if (end < 0) {
      // avsc returns minus the missing bytes when the record does not fit.
      buf = framed(schemaId, 2 * (buf.length - end));
      end = type.encode(s, buf, 5);
    }
    return buf.subarray(0, end);
  };
}

function framed(schemaId: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  b.writeUInt8(0, 0);
  b.writeInt32BE(schemaId, 1);
  return b;
}
