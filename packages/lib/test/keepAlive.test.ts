import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { whileBeating } from '../src/index.js';

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('whileBeating: the group hears from a consumer whose batch waits', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('heartbeats while the work runs, and stops when it is done', async () => {
    const heartbeat = vi.fn(async () => undefined);
    const work = deferred<string>();
    const result = whileBeating(heartbeat, work.promise, 1000);
    await vi.advanceTimersByTimeAsync(3500);
    expect(heartbeat).toHaveBeenCalledTimes(3);
    work.resolve('done');
    await expect(result).resolves.toBe('done');
    await vi.advanceTimersByTimeAsync(5000);
    expect(heartbeat).toHaveBeenCalledTimes(3);
  });

  it('rethrows a failed heartbeat (a rebalance) once the work is done, and stops beating', async () => {
    const rebalance = new Error('The group is rebalancing, so a rejoin is needed');
    const heartbeat = vi.fn(async () => {
      throw rebalance;
    });
    const work = deferred<number>();
    const result = whileBeating(heartbeat, work.promise, 1000);
    const settled = result.catch((err: unknown) => err);
    await vi.advanceTimersByTimeAsync(3500);
    expect(heartbeat).toHaveBeenCalledTimes(1);
    work.resolve(1);
    expect(await settled).toBe(rebalance);
  });

  it('a heartbeat slower than the period is not called again before it returns', async () => {
    const slow = deferred<void>();
    const heartbeat = vi.fn(() => slow.promise);
    const work = deferred<void>();
    const result = whileBeating(heartbeat, work.promise, 1000);
    await vi.advanceTimersByTimeAsync(4500);
    expect(heartbeat).toHaveBeenCalledTimes(1);
    slow.resolve();
    work.resolve();
    await result;
  });
});
