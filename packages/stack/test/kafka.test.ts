import { describe, expect, it } from 'vitest';
import { newKraftClusterId } from '../src/kafka.js';

describe('newKraftClusterId', () => {
  // One draw in 64 starts with '-', which kafka-storage's parser reads as an option (a CI run failed on it).
  it('never starts with a dash, in 5,000 draws', () => {
    const ids = Array.from({ length: 5000 }, newKraftClusterId);
    expect(ids.filter((id) => id.startsWith('-'))).toEqual([]);
  });

  it('is 16 bytes in base64url without padding, as the storage tool expects', () => {
    const id = newKraftClusterId();
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(Buffer.from(id, 'base64url')).toHaveLength(16);
  });
});
