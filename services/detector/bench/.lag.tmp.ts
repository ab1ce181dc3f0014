import { Kafka, logLevel } from 'kafkajs';
const prefix = process.argv[2]!;
const kafka = new Kafka({ brokers: ['127.0.0.1:9092'], logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
for (const topic of [`${prefix}.reads`, `${prefix}.events`, `${prefix}.outages`]) {
  const ends = await admin.fetchTopicOffsets(topic);
  const [c] = await admin.fetchOffsets({ groupId: `ami-detector.${prefix}`, topics: [topic] });
  console.log(topic, ends.map((e) => e.high).join(','), '| committed', c?.partitions.map((p) => p.offset).join(','));
}
await admin.disconnect();
