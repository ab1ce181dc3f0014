import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Consumer, Kafka, Producer } from 'kafkajs';
import {
  createClickHouse,
  createKafka,
  ServiceMetrics,
  sqlIdent,
  type MeterEvent,
  type MeterProfile,
  type MeterRead,
} from '@ami/lib';
import { eventually, testConfig, testLogger, uniqueName } from '../support/fixtures.js';
import { migrate } from '@ami/loader/migrate';
import { startLoader, type RunningLoader } from '@ami/loader/loader';
import { loadLoaderConfig, type LoaderConfig } from '@ami/loader/config';
import { kafkaFixtures } from '@ami/loader/testing/kafkaFixtures';
import { meter, ms, read } from '@ami/loader/testing/fixtures';

/**
 * Issue #8 in the running loader: reads and events checked against the
 * meters table it follows. An unknown meter, a read before the meter's
 * installation, demand above the contracted power (× the configured factor),
 * an unknown gardu: each in <prefix>.dlq with source topic, partition, offset
 * and reason, counted in ami_dlq_messages_total; the good reads around them
 * loaded; the loader keeps going. A meter whose profile is published after
 * the loader started is known to it before its reads are checked.
 */

interface Letter {
  headers: Record<string, string>;
  key: string;
}

const G = 'G-M1';
const M1 = meter('M1', '511000000001', 'R-1', 1300, 'Asia/Makassar'); // 1300 VA x 1.5 = 1950 W
const M4 = meter('M4', '511000000004', 'B-2', 6600, 'Asia/Makassar', '2025-03-10T02:00:00Z');
const onGardu = (p: MeterProfile): MeterProfile => ({ ...p, gardu_id: G });

describe('loader: reads and events checked against the meters table', () => {
  const common = testConfig();
  const db = uniqueName('ami_checks');
  const metrics = new ServiceMetrics('loader');
  let cfg: LoaderConfig;
  let ch: ClickHouseClient;
  let kafka: Kafka;
  let producer: Producer;
  let dlqReader: Consumer;
  let loader: RunningLoader | undefined;
  let enc: {
    meter: (p: MeterProfile) => Buffer;
    read: (r: MeterRead) => Buffer;
    event: (e: MeterEvent) => Buffer;
  };
  let names: Awaited<ReturnType<typeof kafkaFixtures>>['names'];
  const letters: Letter[] = [];

  /** One message per request, so each one's partition and offset come back. */
  async function sendOne(
    topic: string,
    key: string,
    value: Buffer,
  ): Promise<{ partition: number; offset: string }> {
    const [meta] = await producer.send({ topic, messages: [{ key, value }] });
    return { partition: meta!.partition, offset: meta!.baseOffset! };
  }

  const readsIn = async (): Promise<string[]> => {
    const rs = await ch.query({
      query: `SELECT meter_id, toString(read_at) AS at FROM ${sqlIdent(db)}.reads FINAL ORDER BY meter_id, read_at`,
      format: 'JSONEachRow',
    });
    return (await rs.json<{ meter_id: string; at: string }>()).map((r) => `${r.meter_id}@${r.at}`);
  };

  beforeAll(async () => {
    cfg = loadLoaderConfig({
      ...process.env,
      AMI_TOPIC_PREFIX: common.AMI_TOPIC_PREFIX,
      CLICKHOUSE_DB: db,
      LOADER_GROUP_ID: uniqueName('loader'),
      LOADER_BILLING_REFRESH_S: '0',
      LOADER_FLUSH_MS: '300',
      LOG_LEVEL: 'warn',
    });
    ch = createClickHouse(cfg);
    await migrate(ch, db, testLogger);
    kafka = createKafka(cfg, testLogger);
    const k = await kafkaFixtures(cfg, kafka);
    names = k.names;
    enc = {
      meter: await k.encoder('MeterProfile', names.meters),
      read: await k.encoder('MeterRead', names.reads),
      event: await k.encoder('MeterEvent', names.events),
    };
    producer = k.producer;
    // The topology before the loader starts: two meters on one gardu.
    await k.send(
      names.meters,
      [onGardu(M1), onGardu(M4)].map((p) => ({ key: p.meter_id, value: enc.meter(p) })),
    );
    dlqReader = kafka.consumer({ groupId: uniqueName('dlq-reader') });
    await dlqReader.connect();
    await dlqReader.subscribe({ topic: names.dlq, fromBeginning: true });
    await dlqReader.run({
      eachMessage: async ({ message }) => {
        letters.push({
          key: message.key?.toString() ?? '',
          headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([h, v]) => [h, String(v)])),
        });
      },
    });
    loader = await startLoader(cfg, testLogger, metrics);
  });

  afterAll(async () => {
    await loader?.stop();
    await dlqReader?.disconnect();
    await producer?.disconnect();
    await ch.command({ query: `DROP DATABASE IF EXISTS ${sqlIdent(db)}` });
    await ch.close();
  });

  it('loaded the meters topic before consuming reads', () => {
    expect(loader!.profiles.size).toBe(2);
    expect(loader!.profiles.lookup('M4')).toEqual({
      gardu_id: G,
      installed_at: M4.installed_at,
      daya_va: 6600,
    });
  });

  it('dead-letters unknown meter, before installation, demand above rating, unknown gardu; loads the good reads around them', async () => {
    const r = (id: string, iso: string, wh: number, patch: Partial<MeterRead> = {}): MeterRead => ({
      ...read(id, iso, wh),
      gardu_id: G,
      ...patch,
    });
    // One gardu key: one partition, in this order.
    const cases: Array<{ rec: MeterRead; reason?: string }> = [
      { rec: r('M1', '2025-03-01T00:00:00Z', 1_000) },
      { rec: r('NOBODY', '2025-03-01T00:00:00Z', 5), reason: 'unknown-meter' },
      { rec: r('M4', '2025-03-11T00:00:00Z', 10) },
      { rec: r('M4', '2025-03-01T00:00:00Z', 0), reason: 'before-installation' },
      { rec: r('M1', '2025-03-01T01:00:00Z', 1_400, { demand_w: 1950 }) }, // exactly 1.5 x 1300 VA: loaded
      { rec: r('M1', '2025-03-01T02:00:00Z', 3_000, { demand_w: 5000 }), reason: 'demand-above-rating' },
      { rec: r('M1', '2025-03-01T03:00:00Z', 3_100, { gardu_id: 'G-NOWHERE' }), reason: 'unknown-gardu' },
      { rec: r('M1', '2025-03-01T04:00:00Z', 3_200) },
    ];
    const sent: Array<{ partition: number; offset: string; reason?: string; rec: MeterRead }> = [];
    for (const c of cases) sent.push({ ...(await sendOne(names.reads, G, enc.read(c.rec))), ...c });
    const event: MeterEvent = {
      event_id: 'E-NOBODY',
      meter_id: 'NOBODY',
      gardu_id: G,
      occurred_at: ms('2025-03-05T02:00:00Z'),
      type: 'LAST_GASP',
      relay: 'CLOSED',
      cause: 'NONE',
      power_limit_va: null,
    };
    const ev = await sendOne(names.events, G, enc.event(event));
    await sendOne(names.events, G, enc.event({ ...event, event_id: 'E-M1', meter_id: 'M1' }));

    const bad = sent.filter((s) => s.reason);
    const got = await eventually(() => (letters.length >= bad.length + 1 ? letters : undefined), {
      timeoutMs: 90_000,
      what: `${bad.length + 1} DLQ records`,
    });
    const fromReads = got.filter((l) => l.headers['ami.source.topic'] === names.reads);
    for (const b of bad) {
      const l = fromReads.find((x) => x.headers['ami.source.offset'] === b.offset);
      expect(l, `read ${b.rec.meter_id} (${b.reason}) at offset ${b.offset}`).toBeDefined();
      expect(l!.headers).toMatchObject({
        'ami.source.topic': names.reads,
        'ami.source.partition': String(b.partition),
        'ami.source.offset': b.offset,
        'ami.reason': b.reason,
        'ami.service': 'loader',
        // the loader's earlier header names
        topic: names.reads,
        partition: String(b.partition),
        offset: b.offset,
        reason: b.reason,
      });
      expect(l!.key).toBe(G);
    }
    expect(fromReads).toHaveLength(bad.length);
    const evLetter = got.find((l) => l.headers['ami.source.topic'] === names.events);
    expect(evLetter?.headers).toMatchObject({
      'ami.source.partition': String(ev.partition),
      'ami.source.offset': ev.offset,
      'ami.reason': 'unknown-meter',
    });

    // The good reads around them are in ClickHouse, the bad ones are not.
    const good = sent
      .filter((s) => !s.reason)
      .map((s) => `${s.rec.meter_id}@${new Date(s.rec.read_at).toISOString().slice(0, 19).replace('T', ' ')}`)
      .sort();
    await eventually(async () => ((await readsIn()).length >= good.length ? true : undefined), {
      timeoutMs: 90_000,
      what: 'good reads loaded',
    });
    expect(await readsIn()).toEqual(good);
    const eventIds = await eventually(
      async () => {
        const rs = await ch.query({
          query: `SELECT event_id FROM ${sqlIdent(db)}.events FINAL`,
          format: 'JSONEachRow',
        });
        const ids = (await rs.json<{ event_id: string }>()).map((e) => e.event_id);
        return ids.length > 0 ? ids : undefined;
      },
      { timeoutMs: 90_000, what: 'the good event loaded' },
    );
    expect(eventIds).toEqual(['E-M1']);

    // Counted by reason.
    const counts = Object.fromEntries(
      (await metrics.dlq.get()).values.map((v) => [`${v.labels.topic}/${v.labels.reason}`, v.value]),
    );
    expect(counts).toMatchObject({
      [`${names.reads}/unknown-meter`]: 1,
      [`${names.reads}/before-installation`]: 1,
      [`${names.reads}/demand-above-rating`]: 1,
      [`${names.reads}/unknown-gardu`]: 1,
      [`${names.events}/unknown-meter`]: 1,
    });
  });

  it('knows a meter whose profile is published after start-up before checking its reads, and keeps going', async () => {
    const late = { ...meter('LATE1', '511000000009', 'R-1', 900, 'Asia/Jakarta'), gardu_id: 'G-LATE' };
    const before = letters.length;
    // Profile, then at once its reads: the loader reads both topics concurrently.
    await sendOne(names.meters, late.meter_id, enc.meter(late));
    for (let h = 0; h < 3; h++)
      await sendOne(
        names.reads,
        'G-LATE',
        enc.read({ ...read('LATE1', `2025-03-02T0${h}:00:00Z`, 100 * h), gardu_id: 'G-LATE' }),
      );
    await eventually(
      async () => ((await readsIn()).filter((x) => x.startsWith('LATE1@')).length === 3 ? true : undefined),
      { timeoutMs: 90_000, what: 'reads of the late meter loaded' },
    );
    expect(letters.slice(before)).toEqual([]);
    expect(loader!.profiles.lookup('LATE1')?.gardu_id).toBe('G-LATE');
  });
});
