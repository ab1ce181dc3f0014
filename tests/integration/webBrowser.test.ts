import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { MeterProfile, MeterState, MeterStatus, Outage } from '@ami/lib';
import { eventually } from '../support/fixtures.js';
import { startWeb, type WebHarness } from '../support/webHarness.js';

/** Debian's Chromium, headless, driven by playwright-core: no browser download. */
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

const METERS: { n: number; state: MeterState | null; kdpm?: MeterProfile['kdpm'] }[] = [
  { n: 1, state: 'ENERGIZED' },
  { n: 2, state: 'OUTAGE' },
  { n: 3, state: 'DISCONNECTED' },
  { n: 4, state: 'RECONNECT_ENABLED' },
  { n: 5, state: null, kdpm: 'A' },
];

const profile = (n: number, kdpm: MeterProfile['kdpm'] = 'R'): MeterProfile => ({
  meter_id: `MTR-B${n}`,
  idpel: `52000000000${n}`,
  kdpm,
  phases: 1,
  tariff: 'R-1',
  daya_va: 2200,
  gardu_id: 'GD-DPS-07',
  feeder_id: 'PNY-SANUR',
  ulp: 'DENPASAR',
  region: 'BALI',
  timezone: 'Asia/Makassar',
  installed_at: Date.UTC(2025, 0, 1),
});

function outage(id: string, over: Partial<Outage> = {}): Outage {
  const now = Date.now();
  return {
    outage_id: id,
    scope: 'GARDU',
    status: 'OPEN',
    region: 'BALI',
    ulp: 'DENPASAR',
    feeder_id: 'PNY-SANUR',
    gardu_id: 'GD-DPS-07',
    meter_ids: [],
    parent_outage_id: null,
    started_at: now - 25 * 60_000,
    confirmed_at: now - 20 * 60_000,
    restored_at: null,
    customers_affected: 87,
    customers_total: 95,
    last_gasps: 60,
    tusbung_excluded: 8,
    customers_interrupted: 0,
    customer_interruption_s: 0,
    emitted_at: now,
    ...over,
  };
}

describe('web pages in headless Chromium', () => {
  let h: WebHarness;
  let context: BrowserContext;
  let page: Page;
  let profileDir: string;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    h = await startWeb();
    profileDir = mkdtempSync(join(tmpdir(), 'ami-chromium-'));
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 900 },
    });
    page = await context.newPage();
  });
  afterAll(async () => {
    await context?.close();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
    await h?.stop();
  });

  it('the dashboard shows a new outage pushed live, without reload', async () => {
    await h.produce(
      'Outage',
      h.topics.outages,
      'OUT-JKT-1',
      outage('OUT-JKT-1', {
        region: 'JAKARTA',
        ulp: 'MENTENG',
        feeder_id: 'PNY-M1',
        gardu_id: 'GD-M1',
        customers_affected: 12,
      }),
    );
    await page.goto(`${h.base}/`);
    await page.locator('tr[data-outage-id="OUT-JKT-1"]').waitFor();
    // A marker that a reload would wipe out.
    await page.evaluate(() => ((globalThis as Record<string, unknown>).amiMarker = 'same page'));

    // Produced while the page is open: it must appear by push.
    await h.produce('Outage', h.topics.outages, 'OUT-BALI-1', outage('OUT-BALI-1'));
    const row = page.locator('#active tr[data-outage-id="OUT-BALI-1"]');
    await row.waitFor({ timeout: 30_000 });
    await expect.poll(() => row.textContent()).toContain('87');
    expect(await row.textContent()).toContain('GD-DPS-07');
    expect(await page.locator('#t-customers').textContent()).toBe('99');
    expect(await page.locator('#t-tusbung').textContent()).toBe('16');
    expect(await page.locator('#chart svg path').count()).toBe(1);
    // Duration ticks on its own.
    const d1 = await row.locator('td.dur').textContent();
    await expect.poll(() => row.locator('td.dur').textContent(), { timeout: 5000 }).not.toBe(d1);
    await page.screenshot({ path: join(ARTIFACTS, 'web-dashboard-live.png'), fullPage: true });

    // Restoration moves it to "recently restored", still without reload.
    await h.produce(
      'Outage',
      h.topics.outages,
      'OUT-BALI-1',
      outage('OUT-BALI-1', { status: 'RESTORED', restored_at: Date.now() }),
    );
    await page.locator('#restored tr[data-outage-id="OUT-BALI-1"]').waitFor();
    expect(await page.locator('#active tr[data-outage-id="OUT-BALI-1"]').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as Record<string, unknown>).amiMarker)).toBe('same page');

    // Region filter.
    await page.selectOption('#region', 'JAKARTA');
    // Polled: the unfiltered view already totals 12 (only OUT-JKT-1 is active), so the totals alone do
    // not show that the filtered view has arrived; BALI's restored row leaving does.
    await expect.poll(() => page.locator('#restored tr[data-outage-id="OUT-BALI-1"]').count()).toBe(0);
    expect(await page.locator('#t-customers').textContent()).toBe('12');
    expect(await page.locator('#active tr[data-outage-id="OUT-JKT-1"]').count()).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, 'web-dashboard-region-filter.png'), fullPage: true });
  });

  it('the call-centre page answers for energized, outage, disconnected, reconnect-enabled and AMR meters', async () => {
    await h.produce('Outage', h.topics.outages, 'OUT-CC-1', outage('OUT-CC-1'));
    for (const m of METERS) {
      await h.produce('MeterProfile', h.topics.meters, `MTR-B${m.n}`, profile(m.n, m.kdpm));
      if (m.state && m.state !== 'ENERGIZED') {
        const s: MeterStatus = {
          meter_id: `MTR-B${m.n}`,
          gardu_id: 'GD-DPS-07',
          state: m.state,
          relay: m.state === 'OUTAGE' ? 'CLOSED' : 'OPEN',
          since: Date.now() - 3_600_000,
          // A disconnected meter inside the same gardu outage: still never called an outage.
          outage_id: m.state === 'OUTAGE' || m.state === 'DISCONNECTED' ? 'OUT-CC-1' : null,
        };
        await h.produce('MeterStatus', h.topics.meterStatus, s.meter_id, s);
      }
    }
    await eventually(
      () => (h.service.statuses.size === 3 && h.service.profiles.size === METERS.length ? true : undefined),
      { what: 'statuses loaded' },
    );

    const ask = async (q: string) => {
      await page.goto(`${h.base}/callcentre`);
      await page.fill('#q', q);
      await page.click('button[type=submit]');
      await page.locator('#answer:not([hidden])').waitFor();
      // What the agent reads out: headline, detail and advice (the FAQ links below may name other states).
      const words = await Promise.all(
        ['#headline', '#detail', '#advice'].map((s) => page.locator(s).innerText()),
      );
      return {
        state: await page.locator('#answer').getAttribute('data-state'),
        text: words.join(' ').replace(/\s+/g, ' '),
      };
    };

    const energized = await ask('520000000001');
    expect(energized.state).toBe('ENERGIZED');
    expect(energized.text).toMatch(/Bertegangan: suplai di meter normal/);
    await page.screenshot({ path: join(ARTIFACTS, 'web-callcentre-energized.png') });

    const out = await ask('MTR-B2');
    expect(out.state).toBe('OUTAGE');
    expect(out.text).toMatch(
      /Gangguan OUT-CC-1 di gardu GD-DPS-07 sejak \d{2} [A-Za-z]{3} \d{4}, \d{2}\.\d{2} WITA; 87 pelanggan terdampak/,
    );
    expect(out.text).not.toMatch(/disconnect|tusbung|pemutusan/i);
    await page.screenshot({ path: join(ARTIFACTS, 'web-callcentre-outage.png') });

    const disc = await ask('520000000003');
    expect(disc.state).toBe('DISCONNECTED');
    expect(disc.text).toMatch(/Pemutusan sementara karena tunggakan \(tusbung\)/);
    expect(disc.text).not.toMatch(/outage|padam|gangguan/i);
    await page.screenshot({ path: join(ARTIFACTS, 'web-callcentre-disconnected.png') });

    const rec = await ask('520000000004');
    expect(rec.state).toBe('RECONNECT_ENABLED');
    expect(rec.text).toMatch(/menekan tombol atas dan bawah bersamaan selama 3-5 detik/);
    expect(rec.text).not.toMatch(/outage|padam|gangguan/i);
    await page.screenshot({ path: join(ARTIFACTS, 'web-callcentre-reconnect-enabled.png') });

    const amr = await ask('520000000005');
    expect(amr.state).toBe('AMR');
    expect(amr.text).toMatch(/Meter AMR \(KDPM A\): bukan meter AMI/);
    await page.screenshot({ path: join(ARTIFACTS, 'web-callcentre-amr.png') });

    await page.goto(`${h.base}/callcentre?q=999999999999`);
    await expect
      .poll(() => page.locator('#error').textContent())
      .toBe('Tidak ada pelanggan dengan IDPEL atau nomor meter "999999999999".');
  });
});
