import { describe, expect, it } from 'vitest';
import { RiskAverseQueueModel, type QueuedOrder } from '../../src/sim/index.js';

const order = (leavesLots = 5): QueuedOrder => ({ sideCode: 1, priceTick: 100, leavesLots, queueAheadLots: -1 });

describe('RiskAverseQueueModel', () => {
  const m = new RiskAverseQueueModel();
  it('joins behind the whole visible level', () => {
    const o = order();
    m.onPlace(o, 12);
    expect(o.queueAheadLots).toBe(12);
  });
  it('advances only by trades and fills what exceeds the queue ahead', () => {
    const o = order();
    m.onPlace(o, 10);
    expect(m.onTrade(o, 4)).toBe(0);
    expect(o.queueAheadLots).toBe(6);
    expect(m.onTrade(o, 9)).toBe(3);
    expect(o.queueAheadLots).toBe(0);
    expect(m.onTrade(o, 2)).toBe(2);
  });
  it('ignores growth and cancels above the queue, clamps to a smaller level', () => {
    const o = order();
    m.onPlace(o, 10);
    m.onDepth(o, 25, 10);
    expect(o.queueAheadLots).toBe(10);
    m.onDepth(o, 11, 25);
    expect(o.queueAheadLots).toBe(10);
    m.onDepth(o, 3, 11);
    expect(o.queueAheadLots).toBe(3);
    m.onDepth(o, 8, 3);
    expect(o.queueAheadLots).toBe(3);
  });
});
