import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Consumer } from 'kafkajs';
import {
  auditDatabases,
  AvroCodec,
  createKafka,
  createRegistry,
  sqlIdent,
  type MeterCommand,
  type MeterProfile,
} from '@ami/lib';
import { eventually, testLogger, uniqueName } from '../support/fixtures.js';
import { startWeb, type WebHarness } from '../support/webHarness.js';

const profile = (n: number, over: Partial<MeterProfile> = {}): MeterProfile => ({
  meter_id: `MTR-${n}`,
  idpel: `5100000000${String(n).padStart(2, '0')}`,
  kdpm: 'L',
  phases: 1,
  tariff: 'R-1',
  daya_va: 1300,
  gardu_id: 'GD-1',
  feeder_id: 'PNY-1',
  ulp: 'SIDOARJO',
  region: 'JATIM',
  timezone: 'Asia/Jakarta',
  installed_at: Date.UTC(2025, 0, 1),
  ...over,
});

describe('web command API against Kafka and ClickHouse', () => {
  let h: WebHarness;
  let consumer: Consumer;
  const commands: MeterCommand[] = [];

  beforeAll(async () => {
    h = await startWeb();
    await h.produce('MeterProfile', h.topics.meters, 'MTR-1', profile(1));
    await h.produce('MeterProfile', h.topics.meters, 'MTR-2', profile(2, { daya_va: 5500 }));
    await h.produce('MeterProfile', h.topics.meters, 'MTR-3', profile(3, { kdpm: 'A' }));
    await eventually(() => (h.service.profiles.size === 3 ? true : undefined), { what: 'profiles loaded' });
    const k = createKafka(h.cfg, testLogger, 'web-test-consumer');
    const codec = new AvroCodec(createRegistry(h.cfg));
    consumer = k.consumer({ groupId: uniqueName('web-cmds') });
    await consumer.connect();
    await consumer.subscribe({ topic: h.topics.commands, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) =>
        void commands.push(await codec.decode('MeterCommand', message.value!)),
    });
  });
  afterAll(async () => {
    await consumer?.disconnect();
    await h?.stop();
  });

  const post = async (token: string | null, body: unknown) => {
    const res = await fetch(`${h.base}/api/commands`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return {
      status: res.status,
      json: (await res.json()) as Record<string, unknown> & { request_id: string },
    };
  };

  it('refuses no token (401) and a viewer (403)', async () => {
    expect((await post(null, { type: 'READ_NOW', meter_ids: ['MTR-1'] })).status).toBe(401);
    expect((await post(h.viewerToken, { type: 'DISCONNECT', meter_ids: ['MTR-1'] })).status).toBe(403);
  });

  it('a tusbung campaign publishes MeterCommands for valid meters and audits every meter in ClickHouse', async () => {
    const r = await post(h.operatorToken, {
      type: 'DISCONNECT',
      idpels: ['510000000001', '510000000002', '510000000003', '510000000099'],
      reason: 'tusbung November',
    });
    expect(r.status).toBe(207);
    expect(r.json).toMatchObject({ sent: 2, refused: 2 });
    const got = await eventually(() => (commands.length >= 2 ? commands : undefined), {
      what: 'commands on the topic',
    });
    expect(got.map((c) => [c.meter_id, c.type, c.issued_by, c.reason]).sort()).toEqual([
      ['MTR-1', 'DISCONNECT', 'ani', 'tusbung November'],
      ['MTR-2', 'DISCONNECT', 'ani', 'tusbung November'],
    ]);
    const rs = await h.ch.query({
      query: `SELECT target, toString(result) AS result, detail FROM ${sqlIdent(auditDatabases(h.db).trail)}.command_audit WHERE request_id = '${r.json.request_id.replace(/[^0-9a-f-]/g, '')}' ORDER BY target`,
      format: 'JSONEachRow',
    });
    const rows = await rs.json<{ target: string; result: string; detail: string }>();
    expect(rows.map((x) => [x.target, x.result, x.detail.split(':')[0]])).toEqual([
      ['idpel:510000000001', 'SENT', ''],
      ['idpel:510000000002', 'SENT', ''],
      ['idpel:510000000003', 'REFUSED', 'AMR_METER'],
      ['idpel:510000000099', 'REFUSED', 'UNKNOWN_IDPEL'],
    ]);
  });

  it('refuses a power limit outside 450 VA .. daya for that meter', async () => {
    const r = await post(h.operatorToken, {
      type: 'SET_POWER_LIMIT',
      meter_ids: ['MTR-1', 'MTR-2'],
      power_limit_va: 2200,
    });
    expect(r.status).toBe(207);
    expect(JSON.stringify(r.json)).toMatch(/POWER_LIMIT_OUT_OF_RANGE.*450\.\.1300 VA/);
    await eventually(
      () =>
        commands.some(
          (c) => c.type === 'SET_POWER_LIMIT' && c.meter_id === 'MTR-2' && c.power_limit_va === 2200,
        )
          ? true
          : undefined,
      {
        what: 'power-limit command',
      },
    );
  });
});

describe('web command input: what passes the edge reaches the audit and Kafka as it is', () => {
  let h: WebHarness;
  beforeAll(async () => {
    h = await startWeb();
    await h.produce('MeterProfile', h.topics.meters, 'MTR-1', profile(1));
    await eventually(() => (h.service.profiles.size === 1 ? true : undefined), { what: 'profile loaded' });
  });
  afterAll(async () => h?.stop());

  const post = async (body: string) => {
    const res = await fetch(`${h.base}/api/commands`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${h.operatorToken}` },
      body,
    });
    return { status: res.status, text: await res.text() };
  };
  const auditCount = async () => {
    const rs = await h.ch.query({
      query: `SELECT count() AS n FROM ${sqlIdent(auditDatabases(h.db).trail)}.command_audit`,
      format: 'JSONEachRow',
    });
    return Number((await rs.json<{ n: string }>())[0]!.n);
  };

  it('odd but valid text and the largest power limit are audited exactly; what ClickHouse or Kafka could not take is a 400', async () => {
    const reason = `tusbung 🙂 Ünïcödé ‮rtl‬ ${'é'.repeat(400)}`.slice(0, 499);
    const ok = await post(
      JSON.stringify({
        type: 'SET_POWER_LIMIT',
        meter_ids: ['MTR-1', 'ÿ'.repeat(64), '١٢٣'],
        idpels: ['٥١٠٠٠٠٠٠٠٠٠١'],
        power_limit_va: 2_147_483_647,
        reason,
      }),
    );
    expect(ok.status).toBe(422);
    const { request_id } = JSON.parse(ok.text) as { request_id: string };
    const rs = await h.ch.query({
      query: `SELECT target, reason, power_limit_va FROM ${sqlIdent(auditDatabases(h.db).trail)}.command_audit WHERE request_id = '${request_id.replace(/[^0-9a-f-]/g, '')}' ORDER BY target`,
      format: 'JSONEachRow',
    });
    const rows = await rs.json<{ target: string; reason: string; power_limit_va: number }>();
    expect(rows).toHaveLength(4);
    for (const r of rows) expect([r.reason, r.power_limit_va]).toEqual([reason, 2_147_483_647]);

    const before = await auditCount();
    for (const body of [
      '{"type":"SET_POWER_LIMIT","meter_ids":["MTR-1"],"power_limit_va":2147483648}',
      '{"type":"READ_NOW","meter_ids":["MTR-1"],"reason":"\\ud800 half an emoji"}',
      '{"type":"READ_NOW","meter_ids":["MTR-1\\u0000"]}',
    ]) {
      const r = await post(body);
      expect({ body, status: r.status }).toEqual({ body, status: 400 });
    }
    expect(await auditCount()).toBe(before);
  });

  it('a backend failure is a 503 with an error id, never the backend text, and nothing is sent', async () => {
    // The audit inbox (the table the web service inserts into) goes away for the length of one request.
    const db = sqlIdent(auditDatabases(h.db).inbox);
    await h.ch.command({ query: `RENAME TABLE ${db}.command_audit TO ${db}.command_audit_away` });
    try {
      const r = await post('{"type":"READ_NOW","meter_ids":["MTR-1"]}');
      expect(r.status).toBe(503);
      expect(r.text).not.toMatch(/command_audit|DB::Exception|Code: \d+|it_web|inbox/);
      expect(JSON.parse(r.text)).toMatchObject({ error_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    } finally {
      await h.ch.command({ query: `RENAME TABLE ${db}.command_audit_away TO ${db}.command_audit` });
    }
  });
});

describe('web history and billing from ClickHouse', () => {
  let h: WebHarness;
  beforeAll(async () => {
    h = await startWeb({ WEB_HISTORY_REFRESH_S: '1' });
  });
  afterAll(async () => h?.stop());

  it('answers consumption this billing period and shows outages known only to ClickHouse', async () => {
    const now = Date.now();
    const p = profile(7, { timezone: 'Asia/Makassar', region: 'BALI' });
    await h.produce('MeterProfile', h.topics.meters, p.meter_id, p);
    const period = new Intl.DateTimeFormat('en-CA', {
      timeZone: p.timezone,
      year: 'numeric',
      month: '2-digit',
    }).format(now);
    const db = sqlIdent(h.db);
    await h.ch.insert({
      table: `${db}.billing_usage`,
      format: 'JSONEachRow',
      values: [
        {
          meter_id: p.meter_id,
          idpel: p.idpel,
          region: 'BALI',
          ulp: 'SIDOARJO',
          tariff: 'R-1',
          daya_va: 1300,
          billing_period: `${period}-01`,
          period_start: '2026-01-01 00:00:00',
          period_end: '2026-01-02 00:00:00',
          energy_start_wh: 1000,
          energy_end_wh: 124_456,
          kwh: 123.456,
          reads_received: 10,
          reads_expected: 12,
          estimated: 1,
          start_estimated: 1,
          end_estimated: 0,
          period_complete: 0,
          max_demand_w: 900,
          tariff_version: '2025',
          rate_sen_per_kwh: 144470,
          energy_charge_sen: 17835508,
          minimum_charge_sen: 0,
          minimum_applied: 0,
          amount_sen: 17835508,
          amount_rp: 178355.08,
          computed_at: '2026-01-02 00:00:00',
        },
      ],
    });
    const restoredAt = Math.floor((now - 3_600_000) / 1000);
    await h.ch.insert({
      table: `${db}.outages`,
      format: 'JSONEachRow',
      values: [
        {
          outage_id: 'OUT-HIST',
          scope: 'FEEDER',
          status: 'RESTORED',
          region: 'BALI',
          ulp: 'GIANYAR',
          feeder_id: 'PNY-G',
          gardu_id: null,
          meter_ids: [],
          parent_outage_id: null,
          started_at: restoredAt - 5400,
          confirmed_at: restoredAt - 5000,
          restored_at: restoredAt,
          customers_affected: 640,
          customers_total: 700,
          last_gasps: 500,
          tusbung_excluded: 12,
          emitted_at: restoredAt,
          version: restoredAt * 1000,
        },
      ],
    });
    const a = await eventually(
      async () => {
        const res = await fetch(`${h.base}/api/customers/${p.idpel}`);
        const body = (await res.json()) as {
          consumption: { kwh: number; amount_rp: number; estimated: boolean } | null;
          consumption_text: string;
        };
        return body.consumption ? body : undefined;
      },
      { what: 'consumption' },
    );
    expect(a.consumption).toMatchObject({ kwh: 123.456, amount_rp: 178355.08, estimated: true });
    expect(a.consumption_text).toMatch(
      /123,5 kWh, Rp 178\.355 \(perkiraan: pembacaan batas periode diinterpolasi\)/,
    );

    // History comes from ClickHouse (refreshed every second in this test), merged with the live topic.
    await eventually(
      async () => {
        const view = (await (await fetch(`${h.base}/api/outages?region=BALI`)).json()) as {
          restored: { outage_id: string }[];
          series: { customers: number }[];
        };
        return view.restored.some((o) => o.outage_id === 'OUT-HIST') &&
          Math.max(...view.series.map((x) => x.customers)) === 640
          ? true
          : undefined;
      },
      { what: 'history outage in the view' },
    );
  });
});
