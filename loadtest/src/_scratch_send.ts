import { Kafka, logLevel, Partitioners } from 'kafkajs';
const kafka = new Kafka({ brokers: ['127.0.0.1:9092'], logLevel: logLevel.ERROR });
const topic = `lt-scratch-send-${Date.now().toString(36)}`;
const admin = kafka.admin(); await admin.connect(); await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true }); await admin.disconnect();
const idem = process.argv[3] !== 'plain';
const p = kafka.producer({ idempotent: idem, maxInFlightRequests: idem ? 1 : 5, createPartitioner: Partitioners.DefaultPartitioner });
await p.connect();
const value = Buffer.alloc(55, 7);
for (const n of (process.argv[2] ?? '1000,5000,20000').split(',').map(Number)) {
  const total = 200_000; const t0 = Date.now(); const c0 = process.cpuUsage();
  for (let i = 0; i < total / n; i++) {
    const messages = Array.from({ length: n }, (_, j) => ({ key: `JATIM-SIDOAR-G${String(j % 500).padStart(4, '0')}`, value }));
    await p.sendBatch({ topicMessages: [{ topic, messages }], acks: -1 });
  }
  const ms = Date.now() - t0; const cpu = process.cpuUsage(c0);
  console.log(n, 'cpu us/msg', ((cpu.user + cpu.system) / total).toFixed(2), 'msgs/send:', Math.round(total / (ms / 1000)), 'msg/s', 'cpu share', ((cpu.user + cpu.system) / 1000 / ms).toFixed(2), 'ms/send', (ms / (total / n)).toFixed(1));
}
await p.disconnect();
