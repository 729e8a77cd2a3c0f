import { describe, expect, it } from 'vitest';
import { LiveClock } from '../../src/core/clock.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { createGateway } from '../../src/gateway/gateway.js';

const config = (extra: Record<string, unknown> = {}) =>
  parseGatewayConfig({
    listen: { port: 0 },
    tokens: { alpha: 'alpha-secret' },
    store: { path: ':memory:' },
    venues: [{ kind: 'synthetic', exchange: 'SYN', events: 1000 }],
    ...extra,
  });

/** Median lateness of `n` waits of `waitUs` on the clock, µs. */
async function medianLatenessUs(clock: LiveClock, waitUs: number, n = 21): Promise<number> {
  const late: number[] = [];
  for (let i = 0; i < n; i++) {
    const ts = clock.now() + waitUs;
    await new Promise<void>((r) =>
      clock.at(ts, () => {
        late.push(clock.now() - ts);
        r();
      }),
    );
  }
  late.sort((a, b) => a - b);
  return late[n >> 1]!;
}

describe('createGateway', () => {
  it('builds its LiveClock from the config: sub-millisecond waits stay sub-millisecond with clock.spinBelowUs', async () => {
    const spin = await createGateway(config({ clock: { spinBelowUs: 1000 } }));
    const plain = await createGateway(config());
    try {
      expect(spin.clock).toBeInstanceOf(LiveClock);
      expect((spin.clock as LiveClock).spinBelowUs).toBe(1000);
      expect((plain.clock as LiveClock).spinBelowUs).toBe(0);
      // A 200 µs wait: on Node's timer at least 1 ms, so ≥ 800 µs late; polled, far less.
      expect(await medianLatenessUs(spin.clock as LiveClock, 200)).toBeLessThan(500);
      expect(await medianLatenessUs(plain.clock as LiveClock, 200)).toBeGreaterThan(500);
    } finally {
      await spin.close();
      await plain.close();
    }
  });
});
