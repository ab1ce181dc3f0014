import { describe, expect, it } from 'vitest';
import type { CommandResult, Kdpm } from '@ami/lib';
import { defaultDetectorConfig, loadDetectorConfig } from '../src/config.js';
import {
  chooseTargets,
  pingCommandId,
  PingVerifier,
  whyNoPings,
  type PingCommand,
  type PingConfig,
  type PingDirectory,
  type PingSubject,
} from '../src/pings.js';

const T = Date.UTC(2026, 11, 7, 2, 42, 0);
const cfg: PingConfig = defaultDetectorConfig;

/** Gardu `g` with `n` AMI meters `g-M000`...; all of one medium. */
function directory(gardus: Record<string, { n: number; kdpm: Kdpm }>): PingDirectory {
  const meters = new Map<string, string[]>();
  const kdpm = new Map<string, Kdpm>();
  for (const [g, { n, kdpm: k }] of Object.entries(gardus)) {
    const ids = Array.from({ length: n }, (_, i) => `${g}-M${String(i).padStart(3, '0')}`);
    meters.set(g, ids);
    for (const id of ids) kdpm.set(id, k);
  }
  return { garduAmiMeters: (g) => meters.get(g) ?? [], kdpm: (m) => kdpm.get(m) };
}

function meterSuspicion(gardu: string, meters: string[], startedAt = T): PingSubject {
  return {
    outageId: `METER-${gardu}-${startedAt}-${meters[0]}`,
    scope: 'METER',
    garduId: gardu,
    gasping: meters,
    startedAt,
  };
}

function garduSuspicion(gardu: string, meters: string[], startedAt = T): PingSubject {
  return {
    outageId: `GARDU-${gardu}-${startedAt}`,
    scope: 'GARDU',
    garduId: gardu,
    gasping: meters,
    startedAt,
  };
}

function result(
  p: PingCommand,
  status: CommandResult['status'],
  reason: string | null,
  voltage = 221,
): CommandResult {
  const answered = status === 'ACCEPTED';
  return {
    command_id: p.command.command_id,
    meter_id: p.command.meter_id,
    type: 'READ_NOW',
    status,
    reason,
    decided_at: T,
    event_id: null,
    answered_in_ms: answered ? 4_200 : null,
    read_at: answered ? T : null,
    energy_import_wh: answered ? 1_234_000 : null,
    voltage_v: answered ? voltage : null,
    relay: answered ? 'CLOSED' : null,
  };
}
const answered = (p: PingCommand, voltage = 221) => result(p, 'ACCEPTED', null, voltage);
const silent = (p: PingCommand) =>
  result(p, 'REFUSED', 'NO_ANSWER: no answer within the PLC time-out (45 s)');
const busy = (p: PingCommand) => result(p, 'REFUSED', 'CONCENTRATOR_BUSY: 4 pings queued at gardu G1');

describe('which suspicions get pings', () => {
  it('a gardu already above the gasp share, a feeder and stale evidence get none', () => {
    expect(whyNoPings(cfg, garduSuspicion('G1', ['a', 'b', 'c']), 10, T)).toBe('GASP_SHARE');
    expect(whyNoPings(cfg, garduSuspicion('G1', ['a', 'b', 'c']), 20, T)).toBeNull(); // 15 % < 30 %
    expect(whyNoPings(cfg, meterSuspicion('G1', ['a']), 10, T)).toBeNull();
    expect(whyNoPings(cfg, { ...garduSuspicion('G1', ['a']), scope: 'FEEDER', garduId: null }, 10, T)).toBe(
      'FEEDER_SCOPE',
    );
    // A replay of yesterday: a ping now says nothing about that gasp.
    expect(whyNoPings(cfg, meterSuspicion('G1', ['a'], T - 86_400_000), 10, T)).toBe('STALE_EVIDENCE');
    expect(whyNoPings(cfg, meterSuspicion('G1', ['a'], T - 60_000), 10, T)).toBeNull();
  });

  it('pings the gasping meters first, then the same sample of neighbours every time, within the budget', () => {
    const dir = directory({ G1: { n: 40, kdpm: 'R' } });
    const s = meterSuspicion('G1', ['G1-M007']);
    const first = chooseTargets(cfg, s, dir.garduAmiMeters('G1'));
    expect(first[0]).toEqual({ meterId: 'G1-M007', role: 'GASPING' });
    expect(first.filter((t) => t.role === 'NEIGHBOUR')).toHaveLength(cfg.PING_NEIGHBOURS);
    expect(chooseTargets(cfg, s, [...dir.garduAmiMeters('G1')].reverse())).toEqual(first);

    const many = garduSuspicion(
      'G1',
      Array.from({ length: 11 }, (_, i) => `G1-M0${10 + i}`),
    );
    const targets = chooseTargets(cfg, many, dir.garduAmiMeters('G1'));
    expect(targets).toHaveLength(cfg.PING_MAX_PER_INCIDENT);
    expect(targets.filter((t) => t.role === 'NEIGHBOUR')).toHaveLength(cfg.PING_NEIGHBOURS);
    expect(targets.filter((t) => t.role === 'GASPING').map((t) => t.meterId)).toEqual(
      [...many.gasping].sort().slice(0, cfg.PING_MAX_PER_INCIDENT - cfg.PING_NEIGHBOURS),
    );
  });

  it('validates the budget and reads the switch as a boolean', () => {
    expect(loadDetectorConfig({}).DETECTOR_PINGS).toBe(true);
    expect(loadDetectorConfig({ DETECTOR_PINGS: 'false' }).DETECTOR_PINGS).toBe(false);
    expect(() => loadDetectorConfig({ DETECTOR_PINGS: 'maybe' })).toThrow();
    expect(() => loadDetectorConfig({ PING_MAX_PER_INCIDENT: '0' })).toThrow();
    expect(() => loadDetectorConfig({ PING_RATE_PER_S: '-1' })).toThrow();
  });
});

describe('the answers decide a suspicion sooner', () => {
  it('a single meter that answers powered is CANCELLED by its answer', () => {
    const v = new PingVerifier(cfg, directory({ G1: { n: 12, kdpm: 'R' } }), T);
    const s = meterSuspicion('G1', ['G1-M003']);
    v.suspect(s, T);
    const sent = v.due(T);
    expect(sent.map((p) => p.command.command_id)).toContain(pingCommandId(s.outageId, 'G1-M003', 1));
    expect(sent.every((p) => p.command.type === 'READ_NOW' && p.command.issued_by === 'detector')).toBe(true);
    expect(sent[0]!.command.reason).toContain(s.outageId);
    const own = sent.find((p) => p.command.meter_id === 'G1-M003')!;
    const progress = v.onResult(answered(own), T + 5_000);
    expect(progress).toMatchObject({ outageId: s.outageId, pingsSent: 3, pingsAnswered: 1, pingsSilent: 0 });
    expect(progress?.verdict?.status).toBe('CANCELLED');
    expect(progress?.verdict?.reason).toMatch(
      /^ANSWERED: meter G1-M003 answered powered \(221 V in 4\.2 s\)/,
    );
  });

  it('a single meter that does not answer is VERIFIED, whatever its neighbours say', () => {
    const v = new PingVerifier(cfg, directory({ G1: { n: 12, kdpm: 'R' } }), T);
    const s = meterSuspicion('G1', ['G1-M003']);
    v.suspect(s, T);
    const sent = v.due(T);
    const neighbours = sent.filter((p) => p.command.meter_id !== 'G1-M003');
    expect(v.onResult(answered(neighbours[0]!), T + 3_000)?.verdict).toBeNull();
    const p = v.onResult(silent(sent.find((x) => x.command.meter_id === 'G1-M003')!), T + 45_000);
    expect(p?.verdict?.status).toBe('VERIFIED');
    expect(p?.verdict?.reason).toMatch(/^NO_ANSWER: 1 of 1 pinged gasping meters silent/);
    expect(p).toMatchObject({ pingsAnswered: 1, pingsSilent: 1 });
    // Later results still count, the verdict stays.
    expect(v.onResult(answered(neighbours[1]!), T + 46_000)).toMatchObject({
      pingsAnswered: 2,
      verdict: { status: 'VERIFIED' },
    });
  });

  it('an answer without supply voltage is silent evidence, not an answer', () => {
    const v = new PingVerifier(cfg, directory({ G1: { n: 3, kdpm: 'S' } }), T);
    v.suspect(meterSuspicion('G1', ['G1-M000']), T);
    const own = v.due(T).find((p) => p.command.meter_id === 'G1-M000')!;
    expect(v.onResult(answered(own, 12), T + 1_000)?.verdict?.status).toBe('VERIFIED');
  });

  it('a gardu below the gasp share is VERIFIED when its gasping meters and most neighbours are silent', () => {
    const v = new PingVerifier(
      { ...cfg, PING_MAX_PER_INCIDENT: 8, PING_NEIGHBOURS: 4 },
      directory({ G1: { n: 30, kdpm: 'F' } }),
      T,
    );
    v.suspect(garduSuspicion('G1', ['G1-M001', 'G1-M002', 'G1-M003', 'G1-M004', 'G1-M005']), T);
    const sent = v.due(T);
    expect(sent).toHaveLength(8); // 4 of the 5 gasping meters, 4 neighbours
    const gasping = sent.filter((p) => p.command.reason!.includes('gasping'));
    const neighbours = sent.filter((p) => p.command.reason!.includes('neighbour'));
    // One gasping meter answers: they are not all silent.
    v.onResult(silent(gasping[0]!), T + 1_000);
    expect(v.onResult(answered(gasping[1]!), T + 1_000)?.verdict).toBeNull();
    v.onResult(answered(neighbours[0]!), T + 1_000);
    for (const p of neighbours.slice(1)) v.onResult(silent(p), T + 2_000);
    // 3 of 4 neighbours silent, but a gasping meter answered: no verdict from the neighbours.
    expect(v.progressOf(garduSuspicion('G1', []).outageId)?.verdict).toBeNull();

    const w = new PingVerifier({ ...cfg, PING_NEIGHBOURS: 4 }, directory({ G2: { n: 30, kdpm: 'F' } }), T);
    const s2 = garduSuspicion('G2', ['G2-M001', 'G2-M002', 'G2-M003', 'G2-M004', 'G2-M005']);
    w.suspect(s2, T);
    const sent2 = w.due(T);
    const [g0] = sent2.filter((p) => p.command.reason!.includes('gasping'));
    const n2 = sent2.filter((p) => p.command.reason!.includes('neighbour'));
    w.onResult(silent(g0!), T + 1_000);
    w.onResult(answered(n2[0]!), T + 1_000);
    w.onResult(silent(n2[1]!), T + 1_000);
    w.onResult(silent(n2[2]!), T + 1_000);
    const p = w.onResult(answered(n2[3]!), T + 1_000);
    expect(p?.verdict).toEqual({
      status: 'VERIFIED',
      reason: 'NO_ANSWER: 1 pinged gasping meters and 2 of 4 neighbours silent',
    });
    // The gasping meters still queued are not pinged any more.
    expect(w.due(T + 10_000)).toEqual([]);
  });

  it('ignores results of commands it did not send', () => {
    const v = new PingVerifier(cfg, directory({ G1: { n: 3, kdpm: 'R' } }), T);
    v.suspect(meterSuspicion('G1', ['G1-M000']), T);
    const [p] = v.due(T);
    const foreign = { ...answered(p!), command_id: 'web-ping-123' };
    expect(v.onResult(foreign, T + 1_000)).toBeUndefined();
    expect(v.pingsInFlight).toBe(3);
  });
});

describe('the ping budget', () => {
  it('CONCENTRATOR_BUSY is retried later within the budget and never counted as silent', () => {
    const v = new PingVerifier(
      { ...cfg, PING_MAX_PER_INCIDENT: 3, PING_NEIGHBOURS: 0 },
      directory({ G1: { n: 10, kdpm: 'L' } }),
      T,
    );
    const s = meterSuspicion('G1', ['G1-M004']);
    v.suspect(s, T);
    const [first] = v.due(T);
    expect(v.onResult(busy(first!), T + 100)).toBeUndefined();
    expect(v.progressOf(s.outageId)).toMatchObject({ pingsSent: 1, pingsSilent: 0, verdict: null });
    expect(v.due(T + 1_000)).toEqual([]); // not before PING_BUSY_RETRY_MS
    const [second] = v.due(T + 100 + cfg.PING_BUSY_RETRY_MS);
    expect(second!.command.command_id).toBe(`${pingCommandId(s.outageId, 'G1-M004', 1)}:retry2`);
    v.onResult(busy(second!), T + 6_000);
    const [third] = v.due(T + 6_000 + 2 * cfg.PING_BUSY_RETRY_MS);
    expect(third).toBeDefined();
    v.onResult(busy(third!), T + 20_000);
    // Three commands: the incident's budget is spent.
    expect(v.due(T + 60_000)).toEqual([]);
    expect(v.progressOf(s.outageId)).toMatchObject({ pingsSent: 3, pingsSilent: 0, verdict: null });
  });

  it('at most PING_MAX_IN_FLIGHT_PER_CONCENTRATOR unanswered pings through one PLC concentrator', () => {
    const v = new PingVerifier(
      { ...cfg, PING_MAX_IN_FLIGHT_PER_CONCENTRATOR: 2, PING_NEIGHBOURS: 2 },
      directory({ G1: { n: 40, kdpm: 'L' }, G2: { n: 40, kdpm: 'R' } }),
      T,
    );
    v.suspect(garduSuspicion('G1', ['G1-M001', 'G1-M002', 'G1-M003', 'G1-M004']), T);
    v.suspect(garduSuspicion('G2', ['G2-M001', 'G2-M002', 'G2-M003', 'G2-M004']), T);
    const sent = v.due(T);
    expect(sent.filter((p) => p.command.meter_id.startsWith('G1'))).toHaveLength(2);
    expect(sent.filter((p) => p.command.meter_id.startsWith('G2'))).toHaveLength(6); // RF: no concentrator
    v.onResult(silent(sent[0]!), T + 30_000);
    const next = v.due(T + 30_000);
    expect(next.map((p) => p.command.meter_id)).toEqual(['G1-M003']);
  });

  it('a storm of 1,500 gardu stays within the rate and the budget per incident', () => {
    const gardus: Record<string, { n: number; kdpm: Kdpm }> = {};
    for (let g = 0; g < 1_500; g++) gardus[`S${g}`] = { n: 100, kdpm: g % 2 ? 'L' : 'R' };
    const v = new PingVerifier(cfg, directory(gardus), T);
    for (let g = 0; g < 1_500; g++) {
      const meters = Array.from(
        { length: g % 3 === 0 ? 60 : 5 },
        (_, i) => `S${g}-M${String(i).padStart(3, '0')}`,
      );
      v.suspect(garduSuspicion(`S${g}`, meters), T);
    }
    expect(v.size).toBe(1_000); // the 500 above the gasp share need no pings
    const perIncident = new Map<string, number>();
    const perSecond: number[] = [];
    const order: string[] = [];
    for (let s = 0; s <= 900; s++) {
      const now = T + s * 1_000;
      const sent = v.due(now);
      perSecond.push(sent.length);
      order.push(...sent.map((p) => p.outageId));
      for (const p of sent) perIncident.set(p.outageId, (perIncident.get(p.outageId) ?? 0) + 1);
      // Every ping answered NO_ANSWER 30 s later would free the concentrator; here half stay open.
      if (s % 30 === 0) v.expire(now);
    }
    expect(Math.max(...perSecond)).toBeLessThanOrEqual(cfg.PING_RATE_PER_S);
    expect(Math.max(...perIncident.values())).toBeLessThanOrEqual(cfg.PING_MAX_PER_INCIDENT);
    // Turns: the first ping of every incident goes before the second of any.
    expect(new Set(order.slice(0, 1_000)).size).toBe(1_000);
    expect(perIncident.size).toBe(1_000);
  });

  it('with no head-end every ping ends with no result: no evidence, the concentrator is freed', () => {
    const v = new PingVerifier(
      { ...cfg, PING_MAX_IN_FLIGHT_PER_CONCENTRATOR: 1 },
      directory({ G1: { n: 10, kdpm: 'L' } }),
      T,
    );
    const s = meterSuspicion('G1', ['G1-M002']);
    v.suspect(s, T);
    expect(v.due(T)).toHaveLength(1);
    expect(v.due(T + 1_000)).toEqual([]);
    v.expire(T + cfg.PING_RESULT_TIMEOUT_MS);
    expect(v.pingsInFlight).toBe(0);
    expect(v.progressOf(s.outageId)).toMatchObject({
      pingsSent: 1,
      pingsAnswered: 0,
      pingsSilent: 0,
      verdict: null,
    });
    expect(v.due(T + cfg.PING_RESULT_TIMEOUT_MS)).toHaveLength(1); // a neighbour's turn
    v.close(s.outageId);
    expect(v.size).toBe(0);
    expect(v.pingsInFlight).toBe(0);
  });

  it('stops pinging once the gasps alone settle the gardu, and pings meters that gasp later', () => {
    const v = new PingVerifier(
      { ...cfg, PING_RATE_PER_S: 1 },
      directory({ G1: { n: 10, kdpm: 'R' }, G2: { n: 10, kdpm: 'R' } }),
      T,
    );
    v.suspect(meterSuspicion('G1', ['G1-M001']), T);
    expect(v.due(T)).toHaveLength(1);
    const grown = { ...meterSuspicion('G1', ['G1-M001']), gasping: ['G1-M001', 'G1-M002', 'G1-M003'] };
    v.suspect(grown, T + 500);
    expect(v.due(T + 10_000)).toEqual([]);

    v.suspect(meterSuspicion('G2', ['G2-M001']), T + 10_000);
    v.suspect({ ...meterSuspicion('G2', ['G2-M001']), gasping: ['G2-M001', 'G2-M009'] }, T + 10_001);
    const sent = [11, 12, 13, 14].flatMap((s) => v.due(T + s * 1_000));
    expect(sent.map((p) => p.command.meter_id)).toContain('G2-M009');
  });
});

describe('a suspicion cancelled on arrival', () => {
  it('sends nothing more but still counts the answers in flight, then forgets it', () => {
    const v = new PingVerifier({ ...cfg, PING_RATE_PER_S: 1 }, directory({ G1: { n: 10, kdpm: 'R' } }), T);
    const s = meterSuspicion('G1', ['G1-M001']);
    v.suspect(s, T);
    const [own] = v.due(T);
    v.stop(s.outageId); // supply back on arrival: the on-demand read of the answer came first
    expect(v.due(T + 5_000)).toEqual([]);
    expect(v.onResult(answered(own!), T + 5_000)).toMatchObject({ pingsAnswered: 1, verdict: null });
    v.expire(T + 6_000);
    expect(v.size).toBe(0);
  });
});
