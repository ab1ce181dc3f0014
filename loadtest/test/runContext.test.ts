import { describe, expect, it } from 'vitest';
import { parsePace } from '../src/pace.js';
import { idleAdvanceRateFor } from '../src/runContext.js';

describe('detector idle advance', () => {
  it('sets the detector idle advance to the replay factor, at most 10x', () => {
    expect(idleAdvanceRateFor(parsePace('4x'))).toBe(4);
    expect(idleAdvanceRateFor(parsePace('360x'))).toBe(10);
    expect(idleAdvanceRateFor(parsePace('max'))).toBe(1);
    expect(idleAdvanceRateFor(parsePace('40k/s'))).toBe(1);
  });
});
