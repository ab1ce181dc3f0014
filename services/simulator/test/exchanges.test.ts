import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Kdpm, MeterCommand, MeterProfile } from '@ami/lib';
import { Exchanges } from '../src/exchanges.js';
import { route, type Decision, type MeterState } from '../src/headend.js';
import { drawPing, MEDIA } from '../src/media.js';
import { Rng } from '../src/prng.js';

const T0 = Date.UTC(2026, 11, 7, 2);
const SEED = 5;

const meter = (id: string, gardu: string, kdpm: Kdpm): MeterProfile => ({
  meter_id: id,
  idpel: '560100000001',
  kdpm,
  phases: 1,
  tariff: 'R-1',
  daya_va: 2200,
  gardu_id: gardu,
  feeder_id: 'F1',
  ulp: 'DENPASAR',
  region: 'BALI',
  timezone: 'Asia/Makassar',
  installed_at: Date.UTC(2024, 0, 1),
});

const command = (id: string, meterId: string, type: MeterCommand['type'] = 'READ_NOW'): MeterCommand => ({
  command_id: id,
  meter_id: meterId,
  issued_at: T0,
  type,
  power_limit_va: null,
  issued_by: 'detector',
  reason: null,
});

/** The head-end's command path (as HeadEnd.apply) over a fake clock: every result is recorded with its time. */
function headEnd(opts: { inFlight?: number; queue?: number; scale?: number } = {}) {
  const dark = new Set<string>();
  const states = new Map<string, MeterState>();
  const profiles = new Map<string, MeterProfile>();
  const results: Array<{ at: number; d: Decision }> = [];
  const ex = new Exchanges({
    seed: SEED,
    scale: opts.scale ?? 1,
    limits: { inFlight: opts.inFlight ?? 8, queue: opts.queue ?? 64 },
    isDark: (p) => dark.has(p.meter_id) || dark.has(p.gardu_id),
    stateOf: (id) => states.get(id),
    onResult: (_cmd, d) => results.push({ at: Date.now(), d }),
  });
  const send = (cmd: MeterCommand): void => {
    const p = profiles.get(cmd.meter_id);
    const now = Date.now();
    const isDark = p !== undefined && (dark.has(p.meter_id) || dark.has(p.gardu_id));
    const r = route(cmd, p, states.get(cmd.meter_id), now, isDark);
    if (r.kind === 'decided') {
      if (r.decision.state) states.set(cmd.meter_id, r.decision.state);
      results.push({ at: now, d: r.decision });
      return;
    }
    const refused = ex.begin(cmd, p!, r, now);
    if (refused) results.push({ at: now, d: refused });
  };
  const add = (...ps: MeterProfile[]) => ps.forEach((p) => profiles.set(p.meter_id, p));
  const of = (id: string) => results.filter((r) => r.d.result.command_id === id);
  return { ex, send, add, dark, states, results, of };
}

/** A command id whose draw on `kdpm` is (not) lost, found deterministically. */
function commandId(prefix: string, kdpm: 'L' | 'R' | 'S' | 'F', lost: boolean): string {
  for (let i = 0; ; i++)
    if (drawPing(MEDIA[kdpm], SEED, `${prefix}-${i}`, 1).lost === lost) return `${prefix}-${i}`;
}

describe('the head-end exchanges with meters (fake clock)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => vi.useRealTimers());

  it('a powered PLC meter answers READ_NOW after its drawn latency, with the read in the result', () => {
    const h = headEnd();
    h.add(meter('M1', 'G1', 'L'));
    const id = commandId('ping', 'L', false);
    const draw = drawPing(MEDIA.L, SEED, id, 1);
    h.send(command(id, 'M1'));
    vi.advanceTimersByTime(draw.latencyMs - 1);
    expect(h.of(id)).toEqual([]);
    vi.advanceTimersByTime(1);
    const [r] = h.of(id);
    expect(r!.d.result).toMatchObject({
      status: 'ACCEPTED',
      answered_in_ms: draw.latencyMs,
      relay: 'CLOSED',
    });
    expect(r!.d.result.read_at).toBe(T0 + draw.latencyMs);
    expect(r!.d.read).toMatchObject({ kind: 'ON_DEMAND', read_at: T0 + draw.latencyMs, meter_id: 'M1' });
    expect(h.ex.waiting).toBe(0);
  });

  it('a meter of a dark gardu never answers: NO_ANSWER after the time-out, no read', () => {
    const h = headEnd();
    h.add(meter('M1', 'G1', 'L'), meter('M2', 'G1', 'S'));
    h.dark.add('G1');
    h.send(command('p1', 'M1'));
    h.send(command('p2', 'M2'));
    vi.advanceTimersByTime(MEDIA.S.timeoutMs - 1);
    expect(h.results).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(h.of('p2')[0]!.d.result.reason).toMatch(
      /^NO_ANSWER: meter M2 did not answer within 10 s over cellular$/,
    );
    vi.advanceTimersByTime(MEDIA.L.timeoutMs - MEDIA.S.timeoutMs);
    const p1 = h.of('p1')[0]!;
    expect(p1.at).toBe(T0 + MEDIA.L.timeoutMs);
    expect(p1.d.result).toMatchObject({ status: 'REFUSED', read_at: null, answered_in_ms: null });
    expect(p1.d.result.reason).toMatch(
      /^NO_ANSWER: .*within 40 s over PLC through the data concentrator DCU-G1/,
    );
    expect(h.results.every((r) => r.d.read === undefined)).toBe(true);
  });

  it('a lost exchange ends in NO_ANSWER though the meter is powered', () => {
    const h = headEnd();
    h.add(meter('M1', 'G1', 'R'));
    const id = commandId('lost', 'R', true);
    h.send(command(id, 'M1'));
    vi.advanceTimersByTime(MEDIA.R.timeoutMs);
    expect(h.of(id).map((r) => r.d.result.reason?.split(':')[0])).toEqual(['NO_ANSWER']);
  });

  it('a meter that goes dark before its answer is due says nothing', () => {
    const h = headEnd();
    h.add(meter('M1', 'G1', 'L'));
    const id = commandId('late', 'L', false);
    const draw = drawPing(MEDIA.L, SEED, id, 1);
    h.send(command(id, 'M1'));
    vi.advanceTimersByTime(draw.latencyMs - 1);
    h.dark.add('G1');
    vi.advanceTimersByTime(1);
    expect(h.results).toEqual([]);
    vi.advanceTimersByTime(draw.timeoutMs - draw.latencyMs);
    expect(h.of(id).map((r) => [r.at - T0, r.d.result.reason?.split(':')[0]])).toEqual([
      [draw.timeoutMs, 'NO_ANSWER'],
    ]);
  });

  it('a DISCONNECT to a dark meter: NO_ANSWER after the time-out, and the relay state does not change', () => {
    const h = headEnd();
    h.add(meter('M1', 'G1', 'R'));
    h.dark.add('M1');
    h.send(command('d1', 'M1', 'DISCONNECT'));
    vi.advanceTimersByTime(MEDIA.R.timeoutMs);
    expect(h.of('d1')[0]!.d.result.reason).toMatch(/^NO_ANSWER: meter M1 did not answer the DISCONNECT/);
    expect(h.states.get('M1')).toBeUndefined();
    // Supply back: the same command opens the relay at once.
    h.dark.delete('M1');
    h.send(command('d2', 'M1', 'DISCONNECT'));
    expect(h.of('d2')[0]!.d.result.status).toBe('ACCEPTED');
    expect(h.states.get('M1')?.relay).toBe('OPEN');
  });

  it('a concentrator refuses the (in flight + queue + 1)th concurrent ping; queued pings count their wait', () => {
    const h = headEnd({ inFlight: 2, queue: 3 });
    h.add(meter('M1', 'G1', 'L'), meter('M2', 'G1', 'L'), meter('M3', 'G2', 'L'));
    const ids = Array.from({ length: 6 }, (_, i) => commandId(`c${i}`, 'L', false));
    ids.forEach((id, i) => h.send(command(id, i % 2 ? 'M2' : 'M1')));
    h.send(command(commandId('other', 'L', false), 'M3')); // another gardu's concentrator is free
    expect(h.results.map((r) => r.d.result.command_id)).toEqual([ids[5]]);
    expect(h.results[0]!.d.result.reason).toMatch(
      /^CONCENTRATOR_BUSY: concentrator DCU-G1 has 2 pings in flight and 3 queued/,
    );
    expect(h.ex.loadOf('DCU-G1')).toMatchObject({ inFlight: 2 });
    expect(h.ex.loadOf('DCU-G1').queue).toHaveLength(3);
    vi.advanceTimersByTime(10 * MEDIA.L.timeoutMs);
    expect(h.ex.waiting).toBe(0);
    expect(h.ex.loadOf('DCU-G1')).toEqual({ inFlight: 0, queue: [] });
    for (const id of ids.slice(0, 5)) expect(h.of(id).map((r) => r.d.result.status)).toEqual(['ACCEPTED']);
    // A queued ping waited for a slot: its answer took longer than its own latency.
    const queued = h.of(ids[2]!)[0]!.d.result;
    expect(queued.answered_in_ms!).toBeGreaterThan(drawPing(MEDIA.L, SEED, ids[2]!, 1).latencyMs);
  });

  it('stop: every waiting command gets HEADEND_STOPPED, and nothing happens afterwards', () => {
    const h = headEnd({ inFlight: 1, queue: 5 });
    h.add(meter('M1', 'G1', 'L'), meter('M2', 'G2', 'R'));
    h.dark.add('M2');
    ['s1', 's2', 's3'].forEach((id) => h.send(command(id, 'M1')));
    h.send(command('s4', 'M2', 'SET_POWER_LIMIT'));
    const stopped = h.ex.stop(Date.now());
    expect(stopped.map((d) => [d.result.command_id, d.result.reason?.split(':')[0]]).sort()).toEqual([
      ['s1', 'HEADEND_STOPPED'],
      ['s2', 'HEADEND_STOPPED'],
      ['s3', 'HEADEND_STOPPED'],
      ['s4', 'HEADEND_STOPPED'],
    ]);
    vi.advanceTimersByTime(10 * MEDIA.L.timeoutMs);
    expect(h.results).toEqual([]);
    expect(stopped.every((d) => d.read === undefined && d.state === undefined)).toBe(true);
  });

  it('every command gets exactly one result, whatever the mix, darkness, load and stop', () => {
    const rng = new Rng(11);
    const h = headEnd({ inFlight: 3, queue: 4, scale: 0.1 });
    const kdpms: Kdpm[] = ['L', 'L', 'L', 'R', 'S', 'F', 'A'];
    for (let i = 0; i < 60; i++) h.add(meter(`M${i}`, `G${i % 4}`, kdpms[i % kdpms.length]!));
    const types: MeterCommand['type'][] = [
      'READ_NOW',
      'READ_NOW',
      'READ_NOW',
      'DISCONNECT',
      'SET_POWER_LIMIT',
    ];
    const sent: string[] = [];
    let stopped: Decision[] = [];
    for (let i = 0; i < 2000; i++) {
      if (rng.next() < 0.02) h.dark.add(`G${rng.int(0, 3)}`);
      if (rng.next() < 0.02) h.dark.clear();
      const id = `x${i}`;
      const meterId = rng.next() < 0.02 ? 'UNKNOWN' : `M${rng.int(0, 59)}`;
      h.send(command(id, meterId, types[rng.int(0, types.length - 1)]));
      sent.push(id);
      vi.advanceTimersByTime(rng.int(0, 20));
      if (i === 1500) {
        stopped = h.ex.stop(Date.now());
        break;
      }
    }
    const counts = new Map<string, number>();
    for (const d of [...h.results.map((r) => r.d), ...stopped])
      counts.set(d.result.command_id, (counts.get(d.result.command_id) ?? 0) + 1);
    expect(sent.filter((id) => counts.get(id) !== 1)).toEqual([]);
    expect(counts.size).toBe(sent.length);
    const codes = new Set(
      [...h.results.map((r) => r.d), ...stopped].map((d) => d.result.reason?.split(':')[0]),
    );
    // The mix did exercise every way a command ends.
    for (const c of [
      undefined,
      'NO_ANSWER',
      'CONCENTRATOR_BUSY',
      'HEADEND_STOPPED',
      'AMR_METER',
      'UNKNOWN_METER',
    ])
      expect(codes).toContain(c);
  });
});
