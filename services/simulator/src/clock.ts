import { setTimeout as sleep } from 'node:timers/promises';
import { ValidationError } from '@ami/lib';

/**
 * Pacing of simulated time against the wall clock. Records always carry event
 * time; the pacer only decides when they are handed to Kafka.
 */
export type Speed = { mode: 'realtime' } | { mode: 'factor'; factor: number } | { mode: 'max' };

/** "realtime", "60x" (N times faster) or "max" (as fast as possible). */
export function parseSpeed(s: string): Speed {
  if (s === 'realtime' || s === '1x') return { mode: 'realtime' };
  if (s === 'max') return { mode: 'max' };
  const m = /^(\d+(?:\.\d+)?)x$/.exec(s);
  if (m && Number(m[1]) > 0) return { mode: 'factor', factor: Number(m[1]) };
  throw new ValidationError(`speed must be realtime, Nx (e.g. 60x) or max, got ${JSON.stringify(s)}`);
}

export function speedFactor(speed: Speed): number {
  return speed.mode === 'max' ? Number.POSITIVE_INFINITY : speed.mode === 'realtime' ? 1 : speed.factor;
}

/** Wall-clock ms at which sim time `simT` is due (pure). */
export function dueAt(speed: Speed, simStart: number, wallStart: number, simT: number): number {
  const f = speedFactor(speed);
  return f === Number.POSITIVE_INFINITY ? wallStart : wallStart + (simT - simStart) / f;
}

export class Pacer {
  private readonly wallStart: number;
  constructor(
    private readonly speed: Speed,
    private readonly simStart: number,
    private readonly now: () => number = Date.now,
    private readonly wait: (ms: number) => Promise<unknown> = sleep,
  ) {
    this.wallStart = now();
  }

  /** Resolves when sim time `simT` is due on the wall clock. */
  async until(simT: number): Promise<void> {
    const ms = dueAt(this.speed, this.simStart, this.wallStart, simT) - this.now();
    if (ms > 0) await this.wait(ms);
  }
}
