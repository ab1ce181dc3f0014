#!/usr/bin/env python3
"""Decode Confluent-wire-format Avro messages with a client nobody here wrote:
Debian's python3-confluent-kafka (librdkafka) and its Avro deserializer backed by
python3-avro. Prints one JSON object per message: key, value, schema id."""
import datetime
import json
import sys
import time

from confluent_kafka import Consumer
from confluent_kafka.avro.cached_schema_registry_client import CachedSchemaRegistryClient
from confluent_kafka.avro.serializer.message_serializer import MessageSerializer

brokers, registry, topic, group, expected = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
# Keys are plain UTF-8 strings (contract); only values are Avro.
serializer = MessageSerializer(CachedSchemaRegistryClient({"url": registry}))
consumer = Consumer({
    "bootstrap.servers": brokers,
    "group.id": group,
    "auto.offset.reset": "earliest",
    "enable.auto.commit": False,
})
consumer.subscribe([topic])


def plain(v):
    # python3-avro turns timestamp-millis into aware datetimes; the contract's value is epoch ms.
    if isinstance(v, datetime.datetime):
        return round(v.timestamp() * 1000)
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


seen = 0
deadline = time.time() + 60
while seen < expected and time.time() < deadline:
    msg = consumer.poll(1.0)
    if msg is None:
        continue
    if msg.error():
        print(json.dumps({"error": str(msg.error())}), file=sys.stderr)
        continue
    key = msg.key()
    print(json.dumps({"key": key.decode() if isinstance(key, bytes) else key, "value": plain(serializer.decode_message(msg.value()))}), flush=True)
    seen += 1
consumer.close()
sys.exit(0 if seen == expected else 3)
