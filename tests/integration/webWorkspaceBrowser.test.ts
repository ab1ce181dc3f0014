import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import {
  AvroCodec,
  createKafka,
  createRegistry,
  sqlIdent,
  type MeterProfile,
  type MeterStatus,
  type Outage,
  type SuspectedOutage,
} from '@ami/lib';
import { startLoader, type RunningLoader } from '@ami/loader/loader';
import { loadLoaderConfig } from '@ami/loader/config';
import { loadSimulatorConfig } from '@ami/simulator/config';
import { HeadEnd } from '@ami/simulator/headendService';
import { encodeSupplyChange, supplyTopic, type SupplyChange } from '@ami/simulator/supply';
import { eventually, testLogger, uniqueName } from '../support/fixtures.js';
import { startWeb, type WebHarness } from '../support/webHarness.js';

/**
 * The CC 123 agent's path in headless Chromium (Debian's, via playwright-core) on a Bali
 * gardu outage: look up the customer, read the story, see a suspected outage on another
 * gardu (dashboard and answer) as the detector would publish it, ping meters through the
 * real head-end (one powered, one dark in the outage), log one call closed at CC 123 and
 * one forwarded to the ULP; the ULP's staff work and close it; an operator disconnects
 * another meter and sees the head-end's answer; the control room's silent meters by gardu
 * and concentrator. Then the loader puts the calls and command results in ClickHouse.
 * Screenshots go to test-artifacts/. Assertions read what a person reads: Indonesian text,
 * WITA times.
 */
const ARTIFACTS = join(process.cwd(), 'test-artifacts');
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const WITA = /\d{2} [A-Za-z]{3} \d{4}, \d{2}\.\d{2} WITA/;
const H = 3_600_000;
/** Polls wait up to 15 s: the build machine's 2 cores are shared. */
const POLL = { timeout: 15_000 };

const profile = (n: number, over: Partial<MeterProfile> = {}): MeterProfile => ({
  meter_id: `MTR-W${n}`,
  idpel: `52000000010${n}`,
  kdpm: 'R',
  phases: 1,
  tariff: 'R-1',
  daya_va: 2200,
  gardu_id: 'GD-DPS-07',
  feeder_id: 'PNY-SANUR',
  ulp: 'DENPASAR',
  region: 'BALI',
  timezone: 'Asia/Makassar',
  installed_at: Date.UTC(2025, 0, 1),
  ...over,
});

describe('the CC 123 workspace in headless Chromium', () => {
  let h: WebHarness;
  let head: HeadEnd;
  let loader: RunningLoader | undefined;
  let context: BrowserContext;
  let page: Page;
  let profileDir: string;
  const now = Date.now();
  const outageStart = now - 40 * 60_000;
  const outage: Outage = {
    outage_id: 'OUT-DPS-07',
    scope: 'GARDU',
    status: 'OPEN',
    region: 'BALI',
    ulp: 'DENPASAR',
    feeder_id: 'PNY-SANUR',
    gardu_id: 'GD-DPS-07',
    meter_ids: [],
    parent_outage_id: null,
    started_at: outageStart,
    confirmed_at: outageStart + 5 * 60_000,
    restored_at: null,
    customers_affected: 87,
    customers_total: 95,
    last_gasps: 60,
    tusbung_excluded: 8,
    customers_interrupted: 87,
    customer_interruption_s: 0,
    emitted_at: now,
  };

  async function seedClickHouse(): Promise<void> {
    const t = (name: string) => `${sqlIdent(h.db)}.${sqlIdent(name)}`;
    const s = (ms: number) => Math.floor(ms / 1000);
    await h.ch.insert({
      table: t('events'),
      format: 'JSONEachRow',
      values: [
        {
          event_id: 'ev-1',
          meter_id: 'MTR-W1',
          gardu_id: 'GD-DPS-07',
          occurred_at: s(now - 3 * 24 * H),
          type: 'RELAY_CLOSED',
          relay: 'CLOSED',
          cause: 'BUTTON',
          power_limit_va: null,
        },
      ],
    });
    await h.ch.insert({
      table: t('outages'),
      format: 'JSONEachRow',
      values: [
        {
          ...outage,
          started_at: s(outage.started_at),
          confirmed_at: s(outage.confirmed_at),
          restored_at: null,
          emitted_at: s(now),
          version: 1,
        },
      ],
    });
    // The meters table as the loader would fill it: MTR-W2 has no read at all, a silent meter.
    // GD-DPS-15: its PLC meter (through the gardu's concentrator) is silent, its RF meter reports.
    await h.ch.insert({
      table: t('meters'),
      format: 'JSONEachRow',
      values: [
        profile(1),
        profile(2, { gardu_id: 'GD-DPS-09' }),
        profile(3, { gardu_id: 'GD-DPS-11', kdpm: 'L' }),
        profile(4, { gardu_id: 'GD-DPS-15', kdpm: 'L' }),
        profile(5, { gardu_id: 'GD-DPS-15' }),
      ].map((p) => ({
        ...p,
        installed_at: s(p.installed_at),
        deleted: 0,
        version: 1,
      })),
    });
    await h.ch.insert({
      table: t('reads'),
      format: 'JSONEachRow',
      values: [
        {
          meter_id: 'MTR-W1',
          gardu_id: 'GD-DPS-07',
          read_at: s(outageStart - 15 * 60_000),
          interval_s: 900,
          energy_import_wh: 4_321_500,
          demand_w: 400,
          voltage_v: 221,
          relay: 'CLOSED',
          power_limit_va: 2200,
          kind: 'INTERVAL',
        },
        {
          meter_id: 'MTR-W5',
          gardu_id: 'GD-DPS-15',
          read_at: s(now - 10 * 60_000),
          interval_s: 900,
          energy_import_wh: 1_000_000,
          demand_w: 100,
          voltage_v: 222,
          relay: 'CLOSED',
          power_limit_va: 2200,
          kind: 'INTERVAL',
        },
      ],
    });
  }

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    h = await startWeb({ WEB_PING_TIMEOUT_S: '20' });
    await h.produce('MeterProfile', h.topics.meters, 'MTR-W1', profile(1));
    // A customer of another gardu, supplied: the one the operator disconnects.
    await h.produce('MeterProfile', h.topics.meters, 'MTR-W2', profile(2, { gardu_id: 'GD-DPS-09' }));
    // A PLC customer of a gardu the detector only suspects so far.
    await h.produce(
      'MeterProfile',
      h.topics.meters,
      'MTR-W3',
      profile(3, { gardu_id: 'GD-DPS-11', kdpm: 'L' }),
    );
    await h.produce('Outage', h.topics.outages, outage.outage_id, outage);
    const status: MeterStatus = {
      meter_id: 'MTR-W1',
      gardu_id: 'GD-DPS-07',
      state: 'OUTAGE',
      relay: 'CLOSED',
      since: outageStart,
      outage_id: outage.outage_id,
    };
    await h.produce('MeterStatus', h.topics.meterStatus, 'MTR-W1', status);
    await seedClickHouse();
    const simCfg = loadSimulatorConfig({
      ...process.env,
      AMI_TOPIC_PREFIX: h.cfg.AMI_TOPIC_PREFIX,
      HEADEND_GROUP_ID: uniqueName('headend'),
      HEADEND_BUTTON_DELAY_MS: 'never',
      // The web created reads and events with its default of 6 partitions.
      SIM_PARTITIONS: '6',
      // The media ten times faster: an RF ping answers within a second, times out after 2 s.
      HEADEND_LATENCY_SCALE: '0.1',
      LOG_LEVEL: 'warn',
    });
    head = new HeadEnd(
      createKafka(simCfg, testLogger),
      simCfg,
      new AvroCodec(createRegistry(simCfg)),
      testLogger,
    );
    await head.start();
    // The simulated world: GD-DPS-07 is dark (its meters cannot answer a ping).
    const dark: SupplyChange = {
      interruption_id: 'sim-dps-07',
      scope: 'GARDU',
      unit_id: 'GD-DPS-07',
      dark_from: outageStart,
      back_at: now + 24 * H,
    };
    const raw = createKafka(simCfg, testLogger).producer();
    await raw.connect();
    await raw.send({
      topic: supplyTopic(h.cfg.AMI_TOPIC_PREFIX),
      messages: [{ key: 'sim-dps-07', value: encodeSupplyChange(dark) }],
    });
    await raw.disconnect();
    await eventually(() => (head.supply.size === 1 ? true : undefined), {
      what: 'the head-end sees the dark gardu',
    });
    await eventually(
      () => (h.service.profiles.size === 3 && h.service.statuses.size === 1 ? true : undefined),
      {
        what: 'profiles and status loaded',
      },
    );
    profileDir = mkdtempSync(join(tmpdir(), 'ami-chromium-'));
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1400, height: 1000 },
    });
    page = await context.newPage();
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
    await loader?.stop();
    await head?.stop();
    await h?.stop();
  });

  async function signIn(token: string, next: string): Promise<void> {
    await context.clearCookies();
    await page.goto(`${h.base}/login?next=${encodeURIComponent(next)}`);
    await page.getByLabel('Token').fill(token);
    await page.getByRole('button', { name: 'Masuk' }).click();
    await page.waitForURL((u) => u.pathname === next.split('?')[0]);
  }

  const said = async (selector: string) => (await page.locator(selector).innerText()).replace(/\s+/g, ' ');

  it('an agent looks up a customer in a gardu outage and reads the story, in Indonesian with WITA times', async () => {
    await signIn(h.agentToken, '/callcentre');
    // Keyboard only: the lookup field has the focus, Enter submits.
    await page.keyboard.type('520000000101');
    await page.keyboard.press('Enter');
    await page.locator('#answer:not([hidden])').waitFor();
    const answer = await said('#answer');
    expect(answer).toMatch(/Padam: tidak ada suplai dari jaringan PLN/);
    expect(answer).toMatch(/Gangguan OUT-DPS-07 di gardu GD-DPS-07 sejak .*WITA; 87 pelanggan terdampak/);
    expect(answer).toMatch(WITA);
    // The answer itself never calls an outage a disconnection (the FAQ link below may name both).
    const words = [await said('#headline'), await said('#detail'), await said('#advice')].join(' ');
    expect(words).not.toMatch(/tusbung|pemutusan/i);
    expect(answer).toMatch(/Lihat jawaban: Apa beda padam dari PLN dan pemutusan \(tusbung\)/);

    await page.locator('#timeline tbody tr[data-kind="outage"]').waitFor();
    const story = await said('#story');
    expect(story).toMatch(/Padam gardu OUT-DPS-07: 87 pelanggan terdampak, belum menyala/);
    expect(story).toMatch(/Relay tertutup \(tombol meter ditekan\)/);
    expect(story).toMatch(/stand 4\.321,5 kWh, 221 V, relay tertutup/);
    expect(story).toMatch(/belum ada pembacaan pada periode ini/);
    expect(story).not.toMatch(/Rp 0/);
    for (const row of await page.locator('#timeline tbody tr td:first-child').allInnerTexts())
      expect(row).toMatch(WITA);
    await page.screenshot({ path: join(ARTIFACTS, 'web-workspace-agent-lookup.png'), fullPage: true });

    // The advice links to the SOP answer beside it.
    await page.getByRole('link', { name: /Lihat jawaban: Apa beda padam/ }).click();
    expect(await page.locator('#faq-padam-vs-tusbung').getAttribute('open')).not.toBeNull();
    await page.getByLabel('Cari jawaban').fill('gratis');
    await expect.poll(() => page.locator('#faq-penormalan').isVisible(), POLL).toBe(false);
    expect(await page.locator('#faq-biaya').isVisible()).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, 'web-workspace-faq-search.png'), fullPage: true });
  });

  it('sees a suspected gardu outage apart from confirmed ones, and says so to the customer of that gardu', async () => {
    const started = now - 3 * 60_000;
    const suspicion = (over: Partial<SuspectedOutage>): SuspectedOutage => ({
      outage_id: 'OUT-DPS-11',
      scope: 'GARDU',
      status: 'SUSPECTED',
      region: 'BALI',
      ulp: 'DENPASAR',
      feeder_id: 'PNY-SANUR',
      gardu_id: 'GD-DPS-11',
      meter_ids: [],
      started_at: started,
      last_gasps: 9,
      customers_total: 40,
      evidence_logged_at: started + 2_000,
      pings_sent: 0,
      pings_answered: 0,
      pings_silent: 0,
      reason: null,
      confirmed_outage_id: null,
      emitted_at: Date.now(),
      ...over,
    });
    const publish = (x: SuspectedOutage) =>
      h.produce('SuspectedOutage', h.topics.suspectedOutages, x.outage_id, x);
    await publish(suspicion({}));
    await publish(suspicion({ outage_id: 'OUT-DPS-13', gardu_id: 'GD-DPS-13', customers_total: 25 }));
    await eventually(() => (h.service.suspected.size === 2 ? true : undefined), { what: 'suspicions read' });

    // The agent's answer for a customer of GD-DPS-11: a possible outage, since a WITA time, being verified.
    await page.goto(`${h.base}/callcentre?q=520000000103`);
    await page.locator('#answer:not([hidden])').waitFor();
    expect(await said('#headline')).toBe('Kemungkinan padam di gardu GD-DPS-11: sedang diverifikasi');
    expect(await said('#detail')).toMatch(
      /^Kemungkinan padam di gardu GD-DPS-11 sejak \d{2} [A-Za-z]{3} \d{4}, \d{2}\.\d{2} WITA, sedang diverifikasi: 9 last gasp dari 40 pelanggan; belum ada ping/,
    );
    expect(await page.locator('#answer').getAttribute('data-suspected')).toBe('SUSPECTED');
    // The advice links to the SOP's answer on the last gasp.
    await page.getByRole('link', { name: /Lihat jawaban: Apa itu fitur Last Gasp\?/ }).click();
    expect(await page.locator('#faq-last-gasp').getAttribute('open')).not.toBeNull();
    await page.screenshot({ path: join(ARTIFACTS, 'web-workspace-suspected-answer.png'), fullPage: true });

    // The dashboard lists them apart from the confirmed outage, which alone counts customers without supply.
    await page.goto(`${h.base}/`);
    const row = '#suspected tr[data-outage-id="OUT-DPS-11"]';
    await page.locator(row).waitFor();
    expect(await said(row)).toMatch(
      /^BALI DENPASAR gardu GD-DPS-11 Diduga \d{2} [A-Za-z]{3} \d{4}, \d{2}\.\d{2} WITA \d{2}:\d{2} 9 40 belum ada ping \(bukti last gasp\) OUT-DPS-11$/,
    );
    expect(await said('#active')).not.toMatch(/OUT-DPS-11/);
    expect(await said('#t-suspected')).toBe('2');
    expect(await said('#t-customers')).toBe('87');

    // Pings verify it: the row updates in place (Server-Sent Events), with how it is being verified.
    await publish(suspicion({ status: 'VERIFIED', pings_sent: 6, pings_silent: 5, emitted_at: Date.now() }));
    await expect
      .poll(() => said(row), POLL)
      .toMatch(/Terverifikasi ping .* 6 ping: 0 menjawab, 5 tidak menjawab, 1 menunggu OUT-DPS-11$/);
    await page.screenshot({ path: join(ARTIFACTS, 'web-workspace-suspected-dashboard.png'), fullPage: true });
    // Accessible: the table is named by its heading.
    expect(await page.locator('main').ariaSnapshot()).toContain(
      'table "Dugaan padam (belum terkonfirmasi, sedang diverifikasi)"',
    );

    // Cancelled (supply back) and confirmed ones drop out of the suspected list.
    await publish(
      suspicion({
        outage_id: 'OUT-DPS-13',
        gardu_id: 'GD-DPS-13',
        status: 'CANCELLED',
        reason: 'SUPPLY_BACK: 40 s',
      }),
    );
    await expect.poll(() => page.locator('#suspected tr[data-outage-id]').count(), POLL).toBe(1);
    await publish(
      suspicion({ status: 'CONFIRMED', confirmed_outage_id: 'OUT-DPS-11', emitted_at: Date.now() }),
    );
    await expect.poll(() => said('#suspected tbody'), POLL).toBe('Tidak ada dugaan padam.');
    expect(await said('#t-suspected')).toBe('0');
  });

  it('pings the meter now: the head-end’s answer appears within seconds; a dark meter does not answer', async () => {
    // A powered customer first: the head-end's READ_NOW result carries the meter's answer.
    await page.goto(`${h.base}/callcentre?q=520000000102`);
    await page.locator('#ping-box:not([hidden])').waitFor();
    const ping = page.getByRole('button', { name: 'Ping meter sekarang' });
    // RF loses a few pings in a hundred (src/media.ts): the agent pings again, as on a real network.
    for (let attempt = 1; attempt <= 3; attempt++) {
      // From the keyboard: focus the button, Enter.
      await ping.focus();
      await page.keyboard.press('Enter');
      // The button is off while the ping is out, on again once the answer (or no answer) is in.
      await expect.poll(() => ping.isEnabled(), POLL).toBe(true);
      if ((await page.locator('#ping-result').getAttribute('data-state')) === 'ANSWERED') break;
      expect(await said('#ping-result')).toMatch(/^Meter tidak menjawab dalam batas waktu RF/);
    }
    expect(await page.locator('#ping-result').getAttribute('data-state')).toBe('ANSWERED');
    expect(await said('#ping-result')).toMatch(
      /^Meter menjawab \d{2} [A-Za-z]{3} \d{4}, \d{2}\.\d{2} WITA \(dalam [\d,]+ detik\): bertegangan, relay tertutup, stand [\d.,]+ kWh, [\d,]+ V\.$/,
    );
    await page.screenshot({ path: join(ARTIFACTS, 'web-workspace-ping.png'), fullPage: true });

    // The customer in the gardu outage: its meter is dark and never answers within the RF time-out.
    await page.goto(`${h.base}/callcentre?q=520000000101`);
    await page.locator('#ping-box:not([hidden])').waitFor();
    await ping.click();
    await expect.poll(() => page.locator('#ping-result').getAttribute('data-state'), POLL).toBe('NO_ANSWER');
    expect(await said('#ping-result')).toMatch(
      /^Meter tidak menjawab dalam batas waktu RF \(\d{2} [A-Za-z]{3} \d{4}, \d{2}\.\d{2} WITA\): meter mungkin tanpa suplai atau di luar jangkauan komunikasi\.$/,
    );
    // The story shows the ping and the head-end's answer in words.
    await expect
      .poll(() => said('#timeline'), POLL)
      .toMatch(
        /Perintah READ_NOW oleh sri \(agent\): ditolak head-end: tidak menjawab \(meter mungkin tanpa suplai/,
      );
    await page.screenshot({ path: join(ARTIFACTS, 'web-workspace-ping-no-answer.png'), fullPage: true });
  });

  it('logs the call closed at CC 123, then another forwarded to the ULP', async () => {
    await page.getByLabel('Tipe Keluhan', { exact: true }).selectOption('INFORMASI');
    await page.getByLabel('Sub Tipe Keluhan').selectOption('BIAYA');
    await page
      .getByLabel('Catatan', { exact: true })
      .fill('Pelanggan menanyakan biaya; dijelaskan program gratis.');
    await page.getByRole('button', { name: 'Simpan catatan' }).click();
    await expect
      .poll(() => said('#call-result'), POLL)
      .toMatch(/^Panggilan .* tercatat: Issue Closed di CC PLN123 \(.*WITA\)\.$/);

    await page.getByLabel('Tipe Keluhan', { exact: true }).selectOption('KELUHAN_METER');
    await page.getByLabel('Sub Tipe Keluhan').selectOption('PENORMALAN');
    await page
      .getByLabel('Catatan', { exact: true })
      .fill('Tidak bisa menekan tombol, minta petugas datang.');
    // Keyboard: the forwarded outcome chosen with the arrow key, saved with Enter on the button.
    await page.getByRole('radio', { name: /Issue Closed/ }).focus();
    await page.keyboard.press('ArrowDown');
    expect(await page.getByRole('radio', { name: /PTL menyala/ }).isChecked()).toBe(true);
    await page.getByRole('button', { name: 'Simpan catatan' }).focus();
    await page.keyboard.press('Enter');
    await expect
      .poll(() => said('#call-result'), POLL)
      .toMatch(/diteruskan ke ULP DENPASAR \(PTL menyala, .*WITA\)/);
    await expect.poll(() => page.locator('#calls li').count(), POLL).toBe(2);
    const calls = await said('#calls');
    expect(calls).toMatch(
      /"KWH METER AMI" dicatat sri: Permintaan informasi \/ Biaya \(program gratis\); Issue Closed di CC PLN123/,
    );
    expect(calls).toMatch(
      /Keluhan kWh meter AMI \/ Penormalan setelah tusbung \(tombol\); Terbuka di ULP \(PTL menyala\)/,
    );
    await expect.poll(() => page.locator('#timeline tbody tr[data-kind="call"]').count(), POLL).toBe(2);
    await page.screenshot({ path: join(ARTIFACTS, 'web-workspace-calls-logged.png'), fullPage: true });

    // Every control of the page has an accessible name (the browser's accessibility tree).
    const tree = await page.locator('main').ariaSnapshot();
    for (const name of [
      'IDPEL atau nomor meter',
      'Tipe Keluhan',
      'Sub Tipe Keluhan',
      'Catatan',
      'Cari jawaban',
      'Kata kunci',
    ])
      expect(tree).toContain(name);
    expect(tree).not.toMatch(/- (textbox|combobox|button)\s*(\[|$)/m);
  });

  it('unit staff of another ULP do not see it; the DENPASAR unit works and closes it', async () => {
    await signIn(h.otherUnitToken, '/complaints');
    await expect.poll(() => said('#complaints'), POLL).toMatch(/Tidak ada keluhan terbuka/);

    await signIn(h.unitToken, '/complaints');
    expect(await said('h2#complaints-h')).toBe('Keluhan terbuka ULP DENPASAR');
    const row = page.locator('#complaints tbody tr[data-call-id]');
    await row.waitFor();
    expect(await row.count()).toBe(1);
    const text = (await row.innerText()).replace(/\s+/g, ' ');
    expect(text).toMatch(WITA);
    expect(text).toMatch(/520000000101 · MTR-W1 · gardu GD-DPS-07/);
    expect(text).toMatch(/Tidak bisa menekan tombol, minta petugas datang\./);
    expect(text).toMatch(/Terbuka di ULP \(PTL menyala\)/);
    await page.getByRole('button', { name: 'Tangani' }).click();
    await expect.poll(() => said('#complaints tbody'), POLL).toMatch(/Sedang ditangani ULP \(PTL menyala\)/);
    await page.getByLabel(/Penyelesaian untuk/).fill('Petugas datang dan menekan tombol; listrik menyala.');
    await page.screenshot({ path: join(ARTIFACTS, 'web-workspace-unit-complaint.png'), fullPage: true });
    await page.getByRole('button', { name: 'Tutup keluhan' }).click();
    await expect.poll(() => said('#unit-result'), POLL).toMatch(/^Keluhan .* ditutup \(.*WITA\)\.$/);
    await expect.poll(() => said('#complaints'), POLL).toMatch(/Tidak ada keluhan terbuka/);
    const tree = await page.locator('main').ariaSnapshot();
    expect(tree).toContain('table "Keluhan terbuka ULP DENPASAR"');
  });

  it('an operator disconnects a meter and sees the head-end’s answer; English on request', async () => {
    await signIn(h.operatorToken, '/callcentre');
    await page.goto(`${h.base}/callcentre?q=520000000102`);
    await page.locator('#cmd:not([hidden])').waitFor();
    await page.getByLabel('Perintah', { exact: true }).selectOption('DISCONNECT');
    await page.getByLabel('Alasan').fill('TUL VI-01 tunggakan November');
    await page.getByRole('button', { name: 'Kirim perintah' }).click();
    await expect
      .poll(() => page.locator('#cmd-result').getAttribute('data-status'), { timeout: 20_000 })
      .toBe('ACCEPTED');
    expect(await said('#cmd-result')).toMatch(/^Head-end: DISCONNECT diterima .*WITA\.$/);
    // The page looks the customer up again: the timeline shows the command and the head-end's answer.
    await expect
      .poll(() => said('#timeline'), { timeout: 10_000 })
      .toMatch(/Perintah DISCONNECT oleh ani \(operator\): diterima head-end .*WITA/);
    await page.screenshot({ path: join(ARTIFACTS, 'web-workspace-operator-disconnect.png'), fullPage: true });

    // The same page in English, remembered for the next page.
    await page.getByRole('link', { name: 'English' }).click();
    await page.locator('#answer:not([hidden])').waitFor();
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    await expect.poll(() => said('#timeline'), POLL).toMatch(/Command DISCONNECT by ani \(operator\)/);
    await page.goto(`${h.base}/`);
    expect(await said('header')).toMatch(/Grid operations/);
    await page.locator('#active tr[data-outage-id="OUT-DPS-07"]').waitFor();
    expect(await said('#active tr[data-outage-id="OUT-DPS-07"]')).toMatch(/\d{2}:\d{2} WITA/);
    await expect.poll(() => said('#conn'), POLL).toMatch(/^live · updated \d{2}:\d{2}:\d{2} WIB$/);
    // The control room: this month's indices per ULP beside the customers out now, silent meters
    // by gardu (PLC through the concentrator apart from direct media) and by concentrator.
    await expect.poll(() => said('#reliability'), POLL).toMatch(/BALI DENPASAR 87 — — — — —/);
    await expect
      .poll(() => said('#silent tr[data-gardu="GD-DPS-09"]'), POLL)
      .toBe(
        'BALI DENPASAR GD-DPS-09 1 / 1 0 / 0 1 / 1 every AMI meter of gardu GD-DPS-09 is silent and no outage is known: check the supply and the gardu MTR-W2',
      );
    expect(await said('#silent tr[data-gardu="GD-DPS-15"]')).toBe(
      'BALI DENPASAR GD-DPS-15 1 / 2 1 / 1 0 / 1 the concentrator of gardu GD-DPS-15 is silent: no data from any PLC meter while RF/cellular/fibre meters report (communication fault) MTR-W4',
    );
    expect(await said('#silent')).not.toMatch(/MTR-W1|MTR-W5/);
    expect(await said('#silent-dcu tr[data-gardu="GD-DPS-15"]')).toBe(
      'BALI DENPASAR DCU of gardu GD-DPS-15 1 / 1 no PLC meter behind it reports',
    );
    expect(await page.locator('#silent-dcu tr[data-down="true"]').count()).toBe(2);
    expect(await said('#ctl-as-of')).toMatch(/^From ClickHouse, \d{2}:\d{2}:\d{2} WIB$/);
    await page.screenshot({ path: join(ARTIFACTS, 'web-workspace-dashboard-en.png'), fullPage: true });
  });

  it('the loader puts the calls and the head-end’s answers in ClickHouse', async () => {
    loader = await startLoader(
      loadLoaderConfig({
        ...process.env,
        AMI_TOPIC_PREFIX: h.cfg.AMI_TOPIC_PREFIX,
        CLICKHOUSE_DB: h.db,
        LOADER_GROUP_ID: uniqueName('loader'),
        LOADER_BILLING_REFRESH_S: '0',
        LOADER_FLUSH_MS: '300',
        LOG_LEVEL: 'warn',
      }),
      testLogger,
    );
    const query = async <T>(sql: string) =>
      await (await h.ch.query({ query: sql, format: 'JSONEachRow' })).json<T>();
    const db = sqlIdent(h.db);
    const calls = await eventually(
      async () => {
        const rows = await query<{
          status: string;
          complaint_subtype: string;
          last_actor: string;
          resolution: string | null;
        }>(
          `SELECT toString(status) AS status, complaint_subtype, last_actor, resolution FROM ${db}.calls_latest ORDER BY complaint_subtype`,
        );
        return rows.length === 2 && rows.some((r) => r.status === 'CLOSED') ? rows : undefined;
      },
      { what: 'calls in ClickHouse', timeoutMs: 30_000 },
    );
    expect(calls).toEqual([
      { status: 'ISSUE_CLOSED', complaint_subtype: 'BIAYA', last_actor: 'sri', resolution: null },
      {
        status: 'CLOSED',
        complaint_subtype: 'PENORMALAN',
        last_actor: 'wayan',
        resolution: 'Petugas datang dan menekan tombol; listrik menyala.',
      },
    ]);
    // Every change is kept: logged, work started, closed.
    const history = await query<{ a: string }>(
      `SELECT toString(action) AS a FROM ${db}.calls FINAL WHERE complaint_subtype = 'PENORMALAN' ORDER BY version`,
    );
    expect(history.map((r) => r.a)).toEqual(['LOGGED', 'WORK_STARTED', 'CLOSED']);
    // The operator's DISCONNECT, the powered meter's answered ping (after any lost ones) and the
    // dark meter's NO_ANSWER.
    const results = await eventually(
      async () => {
        const rows = await query<{ meter_id: string; type_s: string; status_s: string; code: string }>(
          `SELECT meter_id, toString(type) AS type_s, toString(status) AS status_s,
             splitByChar(':', ifNull(reason, ''))[1] AS code
           FROM ${db}.command_results
           WHERE NOT (meter_id = 'MTR-W2' AND code = 'NO_ANSWER')
           ORDER BY meter_id, type_s`,
        );
        return rows.length >= 3 ? rows : undefined;
      },
      { what: 'command results in ClickHouse', timeoutMs: 30_000 },
    );
    expect(results).toEqual([
      { meter_id: 'MTR-W1', type_s: 'READ_NOW', status_s: 'REFUSED', code: 'NO_ANSWER' },
      { meter_id: 'MTR-W2', type_s: 'DISCONNECT', status_s: 'ACCEPTED', code: '' },
      { meter_id: 'MTR-W2', type_s: 'READ_NOW', status_s: 'ACCEPTED', code: '' },
    ]);
  });
});
