import { describe, expect, it } from 'vitest';
import { MembershipWatch } from '../src/index.js';

describe('MembershipWatch: a member the coordinator forgot is noticed', () => {
  it('lapses once after nothing was heard for the lapse time, and again only after a new proof', () => {
    const watch = new MembershipWatch(90_000, 0);
    expect(watch.lapsed(90_000)).toBe(false); // exactly the lapse time: still a member
    watch.proven(60_000); // a heartbeat answered
    expect(watch.lapsed(140_000)).toBe(false);
    expect(watch.lapsed(150_001)).toBe(true);
    expect(watch.lapsed(200_000)).toBe(false); // said once: the partitions are already released
    watch.proven(210_000); // rejoined
    expect(watch.lapsed(250_000)).toBe(false);
    expect(watch.lapsed(300_001)).toBe(true);
  });
});
