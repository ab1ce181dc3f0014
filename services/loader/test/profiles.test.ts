import { describe, expect, it } from 'vitest';
import type { KafkaMessage } from 'kafkajs';
import { AvroCodec, DEFAULT_LIMITS, type MeterEvent, type MeterProfile, type MeterRead } from '@ami/lib';
import { sampleEvent, sampleRead } from '@ami/lib/testing/samples';
import { ProfileTable } from '../src/profiles.js';
import { decodeBatch } from '../src/decode.js';
import { TABLES, type InputChecks, type TableSpec } from '../src/tables.js';

const NOW = Date.now();
const INSTALLED = Date.UTC(2025, 0, 1);

function profile(id: string, gardu: string, daya = 1300, installed = INSTALLED): MeterProfile {
  return {
    meter_id: id,
    idpel: '520000000001',
    kdpm: 'L',
    phases: 1,
    tariff: 'R-1',
    daya_va: daya,
    gardu_id: gardu,
    feeder_id: 'F1',
    ulp: 'ULP-A',
    region: 'BALI',
    timezone: 'Asia/Makassar',
    installed_at: installed,
  };
}

function read(meterId: string, gardu: string, patch: Partial<MeterRead> = {}): MeterRead {
  return sampleRead({
    meter_id: meterId,
    gardu_id: gardu,
    read_at: Math.floor((NOW - 3_600_000) / 900_000) * 900_000,
    energy_import_wh: 1_000_000,
    ...patch,
  });
}

const checksOf = (t: ProfileTable, demandRatingFactor = 1.5): InputChecks => ({
  lookup: t.lookup,
  garduKnown: t.garduKnown,
  limits: { ...DEFAULT_LIMITS, demandRatingFactor },
});

type SchemaRegistry = ConstructorParameters<typeof AvroCodec>[0];

/** A codec whose registry hands out fixed ids: no services needed. */
async function localCodec() {
  const registry = { register: async () => ({ id: 41 }) } as unknown as SchemaRegistry;
  const codec = new AvroCodec(registry);
  const readId = await codec.register('MeterRead', 'r-value');
  const readEnc = codec.encoder('MeterRead', readId);
  const eventCodec = new AvroCodec({ register: async () => ({ id: 42 }) } as unknown as SchemaRegistry);
  const eventId = await eventCodec.register('MeterEvent', 'e-value');
  return { codec, readEnc, eventCodec, eventEnc: eventCodec.encoder('MeterEvent', eventId) };
}

const msg = (value: Buffer, offset: number): KafkaMessage =>
  ({ key: Buffer.from('k'), value, offset: String(offset), timestamp: '0', attributes: 0 }) as KafkaMessage;

describe('ProfileTable', () => {
  it('keeps gardu, installation and daya per meter; a tombstone removes the meter', () => {
    const t = new ProfileTable(1);
    t.apply('M1', profile('M1', 'G1', 2200));
    t.apply('M2', profile('M2', 'G1'));
    expect(t.lookup('M1')).toEqual({ gardu_id: 'G1', installed_at: INSTALLED, daya_va: 2200 });
    expect(t.lookup('M3')).toBeUndefined();
    expect(t.size).toBe(2);
    expect(t.garduKnown('G1')).toBe(true);
    expect(t.garduKnown('G2')).toBe(false);
    // A move to another gardu is an update; the old gardu is known while a meter stays on it.
    t.apply('M1', profile('M1', 'G2', 3500));
    expect(t.lookup('M1')).toEqual({ gardu_id: 'G2', installed_at: INSTALLED, daya_va: 3500 });
    expect(t.size).toBe(2);
    expect(t.gardus).toBe(2);
    t.apply('M2', null);
    expect(t.lookup('M2')).toBeUndefined();
    expect(t.garduKnown('G1')).toBe(false);
    expect(t.gardus).toBe(1);
    t.apply('M2', null); // tombstone of an unknown meter: nothing
    expect(t.size).toBe(1);
  });

  it('grows past its initial capacity and reuses freed slots', () => {
    const t = new ProfileTable(16);
    for (let i = 0; i < 5000; i++) t.apply(`M${i}`, profile(`M${i}`, `G${i % 50}`, 900 + i));
    for (let i = 0; i < 5000; i += 2) t.apply(`M${i}`, null);
    for (let i = 5000; i < 7500; i++) t.apply(`M${i}`, profile(`M${i}`, `G${i % 50}`, 900 + i));
    expect(t.size).toBe(5000);
    for (let i = 1; i < 7500; i += 2)
      expect(t.lookup(`M${i}`)).toEqual({
        gardu_id: `G${i % 50}`,
        installed_at: INSTALLED,
        daya_va: 900 + i,
      });
    expect(t.lookup('M4')).toBeUndefined();
    expect(t.lookup('M5002')?.daya_va).toBe(5902);
  });
});

describe('reads and events checked against the meters table', () => {
  const table = new ProfileTable();
  table.apply('M1', profile('M1', 'G1', 1300));
  table.apply('M2', profile('M2', 'G2', 900, Date.UTC(2026, 0, 1)));
  const checks = checksOf(table);
  const at = { key: null, offset: 0 };
  const reasonOf = (r: MeterRead) => {
    try {
      TABLES.reads.toRow({ ...r }, at, checks);
      return undefined;
    } catch (err) {
      return (err as { reason?: string }).reason;
    }
  };

  it.each<[string, MeterRead, string | undefined]>([
    ['good', read('M1', 'G1'), undefined],
    ['demand at 1.5 x daya', read('M1', 'G1', { demand_w: 1950 }), undefined],
    ['demand above 1.5 x daya', read('M1', 'G1', { demand_w: 1951 }), 'demand-above-rating'],
    ['unknown meter', read('NOBODY', 'G1'), 'unknown-meter'],
    ['unknown gardu', read('M1', 'G-NONE'), 'unknown-gardu'],
    ['another known gardu', read('M1', 'G2'), 'gardu-mismatch'],
    ['before installation', read('M2', 'G2', { read_at: Date.UTC(2025, 11, 31, 23) }), 'before-installation'],
    ['at installation', read('M2', 'G2', { read_at: Date.UTC(2026, 0, 1) }), undefined],
  ])('%s', (_what, r, reason) => {
    expect(reasonOf(r)).toBe(reason);
  });

  it('the factor comes from the config', () => {
    const strict = checksOf(table, 1);
    expect(() => TABLES.reads.toRow(read('M1', 'G1', { demand_w: 1301 }), at, strict)).toThrow(/1 x/);
  });

  it('without the table only the ranges are checked (billing and reliability tests insert that way)', () => {
    expect(TABLES.reads.toRow(read('NOBODY', 'G9', { demand_w: 99_999 }), at)).not.toBeNull();
  });

  it('events: unknown meter, unknown gardu, before installation', () => {
    const e = sampleEvent({ occurred_at: NOW - 60_000 });
    const reason = (patch: Partial<MeterEvent>) => {
      try {
        TABLES.events.toRow({ ...e, ...patch }, at, checks);
        return undefined;
      } catch (err) {
        return (err as { reason?: string }).reason;
      }
    };
    expect(reason({})).toBeUndefined();
    expect(reason({ meter_id: 'NOBODY' })).toBe('unknown-meter');
    expect(reason({ gardu_id: 'G-NONE' })).toBe('unknown-gardu');
    expect(reason({ meter_id: 'M2', gardu_id: 'G2', occurred_at: Date.UTC(2025, 5, 1) })).toBe(
      'before-installation',
    );
  });
});

describe('decodeBatch with the meters table', () => {
  it('fast path and full decoder agree; rejects name the reason', async () => {
    const { codec, readEnc } = await localCodec();
    const table = new ProfileTable();
    table.apply('M1', profile('M1', 'G1', 1300));
    table.apply('M2', profile('M2', 'G1', 900, Date.UTC(2026, 0, 1)));
    const messages = [
      read('M1', 'G1'),
      read('NOBODY', 'G1'),
      read('M2', 'G1', { read_at: Date.UTC(2025, 6, 1) }),
      read('M1', 'G1', { demand_w: 5000 }),
      read('M2', 'G1'),
    ].map((r, i) => msg(readEnc(r), i));
    const out = await decodeBatch(codec, TABLES.reads as TableSpec, messages, { checks: checksOf(table) });
    expect(out.rows).toBe(2);
    expect(out.rejected.map((r) => [r.message.offset, r.reason])).toEqual([
      ['1', 'unknown-meter'],
      ['2', 'before-installation'],
      ['3', 'demand-above-rating'],
    ]);
    // The body holds exactly the good rows: the same bytes as a batch of only those.
    const good = await decodeBatch(codec, TABLES.reads as TableSpec, [messages[0]!, messages[4]!], {
      checks: checksOf(table),
    });
    expect(out.body.equals(good.body)).toBe(true);
  });

  it('compares non-ASCII ids exactly on the fast path', async () => {
    const { codec, readEnc } = await localCodec();
    const table = new ProfileTable();
    table.apply('Mü', profile('Mü', 'Gärdü'));
    table.apply('M2', profile('M2', 'Gü'));
    const messages = [
      read('Mü', 'Gärdü'),
      read('Mü', 'Gärdx'),
      read('Mü', 'Gärdü2'),
      read('M2', 'Gü'),
      read('M2', 'Gü'.normalize('NFD')),
    ].map((r, i) => msg(readEnc(r), i));
    const out = await decodeBatch(codec, TABLES.reads as TableSpec, messages, { checks: checksOf(table) });
    expect(out.rejected.map((r) => [r.message.offset, r.reason])).toEqual([
      ['1', 'unknown-gardu'],
      ['2', 'unknown-gardu'],
      ['4', 'unknown-gardu'],
    ]);
    expect(out.rows).toBe(2);
  });

  it('catches up with the meters topic before dead-lettering for the meters table', async () => {
    const { codec, readEnc } = await localCodec();
    const table = new ProfileTable();
    table.apply('M1', profile('M1', 'G1'));
    const messages = [read('M1', 'G1'), read('NEW', 'G1'), read('GHOST', 'G1')].map((r, i) =>
      msg(readEnc(r), i),
    );
    let catchUps = 0;
    const out = await decodeBatch(codec, TABLES.reads as TableSpec, messages, {
      checks: checksOf(table),
      // The profile of NEW was published before its read; the loader had not read it yet.
      catchUp: async () => {
        catchUps++;
        table.apply('NEW', profile('NEW', 'G1'));
      },
    });
    expect(catchUps).toBe(1);
    expect(out.rows).toBe(2);
    expect(out.rejected.map((r) => r.reason)).toEqual(['unknown-meter']);
    expect(out.rejected[0]!.message.offset).toBe('2');
  });

  it('no catch-up for a batch without meters-table failures', async () => {
    const { codec, readEnc } = await localCodec();
    const table = new ProfileTable();
    table.apply('M1', profile('M1', 'G1'));
    let catchUps = 0;
    const out = await decodeBatch(
      codec,
      TABLES.reads as TableSpec,
      [msg(readEnc(read('M1', 'G1')), 0), msg(readEnc(read('M1', 'G1', { energy_import_wh: -1 })), 1)],
      { checks: checksOf(table), catchUp: async () => void catchUps++ },
    );
    expect(catchUps).toBe(0);
    expect(out.rejected.map((r) => r.reason)).toEqual(['negative-register']);
  });

  it('events of unknown meters are rejected', async () => {
    const { eventCodec, eventEnc } = await localCodec();
    const table = new ProfileTable();
    table.apply('M1', profile('M1', 'G1'));
    const e = sampleEvent({ meter_id: 'NOBODY', occurred_at: NOW - 60_000 });
    const out = await decodeBatch(
      eventCodec,
      TABLES.events as TableSpec,
      [msg(eventEnc(e), 0), msg(eventEnc({ ...e, event_id: 'e2', meter_id: 'M1' }), 1)],
      { checks: checksOf(table) },
    );
    expect(out.rows).toBe(1);
    expect(out.rejected.map((r) => r.reason)).toEqual(['unknown-meter']);
  });
});
