import { describe, expect, it } from 'vitest';
import { ConsumedLiquidity } from '../../src/sim/index.js';

describe('ConsumedLiquidity', () => {
  it('subtracts own takes, fades them as the level shrinks, drops them when it empties', () => {
    const c = new ConsumedLiquidity();
    expect(c.available(100, 10)).toBe(10);
    c.consume(100, 4, 10);
    expect(c.available(100, 10)).toBe(6);
    expect(c.available(100, 13)).toBe(9); // 3 fresh lots behind
    expect(c.available(100, 11)).toBe(9); // 2 left from the front: 2 of ours gone
    c.refresh(100, 0);
    expect(c.size).toBe(0);
    expect(c.available(100, 5)).toBe(5);
  });
});
