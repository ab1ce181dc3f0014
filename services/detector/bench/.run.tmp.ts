import { createLogger } from '@ami/lib';
import { loadDetectorConfig } from '../src/config.js';
import { startDetector } from '../src/processor.js';
const cfg = loadDetectorConfig({ ...process.env, AMI_TOPIC_PREFIX: process.argv[2], DETECTOR_GROUP_ID: `ami-detector.dbg.${Date.now()}`, LOG_LEVEL: 'debug' });
const d = await startDetector(cfg, createLogger('dbg', 'info'));
console.log('topology', d.topology.size);
for (let i = 0; i < 6; i++) { await new Promise((r) => setTimeout(r, 3000)); console.log(new Date(d.watermark()).toISOString(), JSON.stringify(d.stats)); }
await d.stop();
process.exit(0);
