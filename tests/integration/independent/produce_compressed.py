#!/usr/bin/env python3
"""Produce records with a compression codec through a client nobody here wrote:
Debian's python3-confluent-kafka (librdkafka), which writes gzip, raw snappy
blocks (no xerial framing), LZ4 frames and zstd.

Usage: produce_compressed.py BROKERS TOPIC CODEC [PARTITION]
stdin: one JSON object a line, {"k": hex or null, "v": hex or null, "h": {name: hex}}.
All records are queued before the first send (linger.ms), so they travel in as
few batches as the size limits allow. Prints the number of records delivered;
exits 1 if any delivery failed."""
import json
import sys

from confluent_kafka import Producer

brokers, topic, codec = sys.argv[1], sys.argv[2], sys.argv[3]
partition = int(sys.argv[4]) if len(sys.argv) > 4 else None
producer = Producer({
    "bootstrap.servers": brokers,
    "compression.type": codec,
    # Java's partitioner for keyed records, so reads land with their gardu's events.
    "partitioner": "murmur2_random",
    "linger.ms": 500,
    "enable.idempotence": True,
    "acks": "all",
})
failed = []
delivered = 0


def report(err, _msg):
    global delivered
    if err is not None:
        failed.append(str(err))
    else:
        delivered += 1


def unhex(v):
    return None if v is None else bytes.fromhex(v)


for line in sys.stdin:
    if not line.strip():
        continue
    r = json.loads(line)
    headers = [(name, unhex(v)) for name, v in (r.get("h") or {}).items()]
    kwargs = {"key": unhex(r.get("k")), "value": unhex(r.get("v")), "headers": headers, "on_delivery": report}
    if partition is not None:
        kwargs["partition"] = partition
    while True:
        try:
            producer.produce(topic, **kwargs)
            break
        except BufferError:
            producer.poll(0.1)
    producer.poll(0)
producer.flush(60)
print(delivered)
if failed:
    print("failed: " + "; ".join(failed[:5]), file=sys.stderr)
    sys.exit(1)
