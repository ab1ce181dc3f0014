import { describe, expect, it } from 'vitest';
import { KDPM_CODES } from '@ami/simulator/fleet';
import { scenarioSchema } from '@ami/simulator/scenario';
import { resolveComms } from '@ami/simulator/simulation';
import { runScenario } from '@ami/simulator/testing/helpers';
import { delivered, kdpmOf } from '../bench/delivery.js';

/**
 * The blackout of `bench:detector` delivers last gasps and restores as the simulator does: the
 * simulator's own whole-region blackout is the reference, per KDPM.
 */
const METERS = 20_000;
const blackout = runScenario(
  scenarioSchema.parse({
    name: 'whole-region-blackout',
    fleet: { meters: METERS, seed: 5, regions: ['BALI'] },
    start: '2026-11-18T00:00:00Z',
    duration: '3h',
    actions: [{ type: 'outage', scope: 'REGION', target: { region: 'BALI' }, at: '1h', duration: '1h' }],
  }),
);

type Kind = 'LAST_GASP' | 'POWER_RESTORE';

/** Per KDPM: the share of its meters whose message of `kind` got through, in the simulator's run. */
function simulatorShares(kind: Kind): Record<string, number> {
  const { fleet, events } = blackout;
  const sent = new Set(events.filter((e) => e.type === kind).map((e) => fleet.meterIndex(e.meter_id)!));
  return shares(
    fleet.size,
    (m) => fleet.kdpmOf(m),
    (m) => sent.has(m),
  );
}

/** The same in the bench's fleet of the same size (its own meter numbering and KDPM draw). */
function benchShares(kind: Kind): Record<string, number> {
  const sent = new Set(delivered(23, METERS, kind, Date.UTC(2026, 10, 28, 3)).map((d) => d.i));
  return shares(
    METERS,
    (i) => kdpmOf(23, i),
    (i) => sent.has(i),
  );
}

function shares(
  meters: number,
  kdpm: (m: number) => string,
  sent: (m: number) => boolean,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of KDPM_CODES) {
    let all = 0;
    let got = 0;
    for (let m = 0; m < meters; m++) {
      if (kdpm(m) !== k) continue;
      all++;
      if (sent(m)) got++;
    }
    out[k] = got / all;
  }
  return out;
}

describe("the bench's blackout delivery", () => {
  it.each(['LAST_GASP', 'POWER_RESTORE'] as const)(
    '%s: the same share of each KDPM gets through as in the simulator (none from AMR; no PLC gasp)',
    (kind) => {
      const sim = simulatorShares(kind);
      const bench = benchShares(kind);
      for (const k of KDPM_CODES) expect(bench[k], `${kind} ${k}`).toBeCloseTo(sim[k]!, 1);
      expect(bench.A).toBe(0);
      if (kind === 'LAST_GASP') expect(bench.L).toBe(0);
      else expect(bench.L).toBeGreaterThan(0.5);
    },
  );

  it('each message within 1 s of the change and within its KDPM delay, in delivery order', () => {
    const t = Date.UTC(2026, 10, 28, 3);
    const comms = resolveComms(scenarioSchema.parse({ name: 'defaults' }).comms);
    const gasps = delivered(23, METERS, 'LAST_GASP', t);
    expect(gasps.length).toBeGreaterThan(METERS * 0.4);
    // One assertion over all messages (an expect per message is slow on a busy machine).
    const wrong = gasps.filter((d, n) => {
      const [min, max] = comms[KDPM_CODES.indexOf(kdpmOf(23, d.i))]!.delay;
      const late = d.deliverAt - d.at;
      return (
        d.at < t ||
        d.at >= t + 1000 ||
        late < min ||
        late > max ||
        (n > 0 && d.deliverAt < gasps[n - 1]!.deliverAt)
      );
    });
    expect(wrong).toEqual([]);
  });
});
