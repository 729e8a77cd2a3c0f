import { describe, expect, it } from 'vitest';
import { OrderStatus, OrderType, Side, TimeInForce } from '../../src/api/index.js';
import { SideOrderIndex, type SimOrder } from '../../src/sim/index.js';
import { EQ } from './harness.js';

const mk = (clientId: string, priceTick: number, sideCode: 1 | -1): SimOrder => ({
  strategy: 's',
  clientId,
  exchangeId: clientId,
  inst: EQ,
  side: sideCode > 0 ? Side.Buy : Side.Sell,
  sideCode,
  orderType: OrderType.Limit,
  tif: TimeInForce.GTC,
  execInstr: [],
  priceTick,
  qtyLots: 1,
  filledLots: 0,
  leavesLots: 1,
  queueAheadLots: 0,
  lastLevelLots: 0,
  status: OrderStatus.Open,
});

describe('SideOrderIndex', () => {
  it('keeps bid levels best (highest) first and orders in time priority', () => {
    const idx = new SideOrderIndex(1);
    const [a, b, c, d] = [mk('a', 100, 1), mk('b', 102, 1), mk('c', 100, 1), mk('d', 101, 1)];
    for (const o of [a, b, c, d]) idx.add(o);
    expect(idx.ticks).toEqual([102, 101, 100]);
    expect(idx.bestTick()).toBe(102);
    expect(idx.at(100)!.map((o) => o.clientId)).toEqual(['a', 'c']);
    expect(idx.remove(b)).toBe(true);
    expect(idx.remove(b)).toBe(false);
    expect(idx.ticks).toEqual([101, 100]);
    expect(idx.size).toBe(3);
  });
  it('keeps ask levels best (lowest) first', () => {
    const idx = new SideOrderIndex(-1);
    for (const t of [105, 103, 104]) idx.add(mk(String(t), t, -1));
    expect(idx.ticks).toEqual([103, 104, 105]);
    expect(idx.better(103, 104)).toBe(true);
  });
});
