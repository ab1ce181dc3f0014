import { setTimeout as sleep } from 'node:timers/promises';
import { ValidationError } from '@ami/lib';

/**
 * How fast a replay goes: `max` (as fast as Kafka takes it), `realtime`,
 * `Nx` (N times real time, by the recording's delivery clock) or `N/s`
 * (records per second, reads and events together).
 */
export type Pace = { mode: 'max' } | { mode: 'factor'; factor: number } | { mode: 'rate'; perSecond: number };

export function parsePace(s: string): Pace {
  const v = s.trim().toLowerCase();
  if (v === 'max') return { mode: 'max' };
  if (v === 'realtime' || v === '1x') return { mode: 'factor', factor: 1 };
  const x = /^(\d+(?:\.\d+)?)x$/.exec(v);
  if (x && Number(x[1]) > 0) return { mode: 'factor', factor: Number(x[1]) };
  const r = /^(\d+(?:\.\d+)?)(k)?\/s$/.exec(v);
  if (r && Number(r[1]) > 0) return { mode: 'rate', perSecond: Number(r[1]) * (r[2] ? 1000 : 1) };
  throw new ValidationError(
    `speed must be max, realtime, Nx (e.g. 60x) or N/s (e.g. 40000/s, 40k/s), got ${JSON.stringify(s)}`,
  );
}

export function describePace(p: Pace): string {
  if (p.mode === 'max') return 'max';
  if (p.mode === 'factor') return p.factor === 1 ? 'realtime' : `${p.factor}x real time`;
  return `${p.perSecond} records/s`;
}

/** Decides when the next chunk may go; never waits for a time already past. */
export class Pacer {
  private wallStart = 0;
  private atStart = Number.NaN;
  private sent = 0;

  constructor(
    private readonly pace: Pace,
    private readonly now: () => number = Date.now,
    private readonly wait: (ms: number) => Promise<unknown> = sleep,
  ) {}

  /**
   * The schedule's origin: the first chunk's delivery time and the wall time it was due. A
   * recording's first delivery may come well after its start (its first reads end the first
   * interval), so a clock that maps delivery times to wall times starts here.
   */
  get origin(): { at: number; wall: number } | undefined {
    return Number.isNaN(this.atStart) ? undefined : { at: this.atStart, wall: this.wallStart };
  }

  /** Wall ms at which a chunk of `records` delivered at `at` is due (pure given the state). */
  dueAt(at: number, records: number): number {
    if (Number.isNaN(this.atStart)) {
      this.atStart = at;
      this.wallStart = this.now();
    }
    const before = this.sent;
    this.sent += records;
    switch (this.pace.mode) {
      case 'max':
        return 0;
      case 'factor':
        return this.wallStart + (at - this.atStart) / this.pace.factor;
      case 'rate':
        return this.wallStart + (before / this.pace.perSecond) * 1000;
    }
  }

  async until(at: number, records: number): Promise<void> {
    const ms = this.dueAt(at, records) - this.now();
    if (ms > 0) await this.wait(ms);
  }
}
