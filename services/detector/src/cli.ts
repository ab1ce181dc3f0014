import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import {
  AvroCodec,
  createKafka,
  createLogger,
  createRegistry,
  exitOnCrash,
  formatZoned,
  serviceGroupId,
  topicNames,
  zoneOfRegion,
  type Outage,
} from '@ami/lib';
import { loadDetectorConfig } from './config.js';
import { startDetector } from './processor.js';

export function registerDetectorCommands(program: Command): void {
  const detector = program.command('detector').description('the outage detector');

  detector
    .command('run')
    .description('consume reads and events, publish outages and meter status (until SIGINT/SIGTERM)')
    .action(async () => {
      const cfg = loadDetectorConfig();
      const logger = createLogger('detector', cfg.LOG_LEVEL);
      const detector = await startDetector(cfg, logger);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await detector.stop();
      logger.info({ stats: detector.stats }, 'detector stopped');
    });

  detector
    .command('outages')
    .description('print outages (and momentary interruptions) as they open, change and close')
    .option('-f, --follow', 'keep printing new records')
    .action(async (opts: { follow?: boolean }) => {
      const cfg = loadDetectorConfig();
      const logger = createLogger('outages', cfg.LOG_LEVEL === 'info' ? 'warn' : cfg.LOG_LEVEL);
      const topics = topicNames(cfg.AMI_TOPIC_PREFIX);
      const codec = new AvroCodec(createRegistry(cfg));
      const kafka = createKafka(cfg, logger);
      const consumer = kafka.consumer({
        groupId: `${serviceGroupId(cfg.AMI_TOPIC_PREFIX, 'outages-cli')}.${randomUUID()}`,
      });
      exitOnCrash(consumer, logger);
      await consumer.connect();
      await consumer.subscribe({ topics: [topics.outages, topics.momentary], fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ topic, message }) => {
          if (!message.value) return;
          const o = await codec.decode('Outage', message.value);
          console.log(formatOutage(o, topic === topics.momentary));
        },
      });
      if (!opts.follow) {
        await new Promise((r) => setTimeout(r, 5000));
        await consumer.disconnect();
      }
    });
}

/** One line per record; tusbung customers shown apart from the affected ones. */
export function formatOutage(o: Outage, momentary: boolean): string {
  // The region's local time with its zone label (WIB/WITA/WIT): what the control room and the customers read.
  const zone = zoneOfRegion(o.region);
  const when = (t: number | null) => (t === null ? '-' : formatZoned(t, zone, 'en-GB'));
  const where =
    o.scope === 'FEEDER'
      ? `feeder ${o.feeder_id}`
      : o.scope === 'GARDU'
        ? `gardu ${o.gardu_id}`
        : `meters ${o.meter_ids.join(',')} (gardu ${o.gardu_id})`;
  const status = momentary ? 'MOMENTARY' : o.status;
  const parent = o.parent_outage_id ? ` parent ${o.parent_outage_id}` : '';
  return [
    `${status.padEnd(9)} ${o.scope.padEnd(6)} ${where} ${o.region}/${o.ulp}`,
    `  since ${when(o.started_at)} restored ${when(o.restored_at)}`,
    `  affected ${o.customers_affected}/${o.customers_total}  tusbung (not counted) ${o.tusbung_excluded}  last gasps ${o.last_gasps}${parent}`,
  ].join('');
}
