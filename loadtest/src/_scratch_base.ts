import { createClickHouse, loadCommonConfig } from '@ami/lib';
import { clickhouseInserts, kafkaBaseline } from './baseline.js';
import { readRecording } from './recording.js';
import type { MeterRead } from '@ami/lib';
const db = process.argv[2]!;
const cfg = loadCommonConfig({ ...process.env, CLICKHOUSE_DB: db });
const reads: MeterRead[] = [];
for await (const d of readRecording('/tmp/lt/rec.avro')) { reads.push(...d.reads); if (reads.length >= 300000) break; }
const ch = createClickHouse(cfg);
console.log(await clickhouseInserts({ ch, cfg, db, tcpPort: 9000, reads, timeoutMs: 60000 }));
console.log(await kafkaBaseline({ brokers: '127.0.0.1:9092', topic: `lt-scratch-base-${Date.now().toString(36)}`, records: 500000, recordSize: 73, timeoutMs: 120000 }));
await ch.close();
