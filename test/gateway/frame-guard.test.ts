import { describe, expect, it } from 'vitest';
import { FrameGuard } from '../../src/gateway/frame-guard.js';
import { DEFAULT_LIMITS, ProtocolErrorCode, type ProtocolLimits } from '../../src/gateway/protocol.js';

const T0 = 1_000_000;
const limits = (over: Partial<ProtocolLimits> = {}): ProtocolLimits => ({ ...DEFAULT_LIMITS, ...over });

describe('FrameGuard', () => {
  describe('frame size', () => {
    it('accepts up to maxFrameBytes and closes above', () => {
      const g = new FrameGuard(limits({ maxFrameBytes: 100 }), T0);
      expect(g.onFrame(100, T0)).toEqual({ ok: true });
      expect(g.onFrame(101, T0)).toMatchObject({ ok: false, code: ProtocolErrorCode.FrameTooLarge, closeCode: 4020 });
      // Sticky: nothing is accepted afterwards.
      expect(g.onFrame(1, T0 + 10_000)).toMatchObject({ ok: false, code: ProtocolErrorCode.FrameTooLarge });
      expect(g.poll(T0)).toMatchObject({ action: 'close', code: ProtocolErrorCode.FrameTooLarge });
    });
  });

  describe('rate', () => {
    it('allows the burst at once, then the sustained rate', () => {
      const g = new FrameGuard(limits({ maxMsgsPerSec: 10, burstMsgs: 20 }), T0);
      for (let i = 0; i < 20; i++) expect(g.onFrame(10, T0).ok).toBe(true);
      expect(g.onFrame(10, T0)).toMatchObject({ ok: false, code: ProtocolErrorCode.RateLimited, closeCode: 4021 });
    });

    it('refills at maxMsgsPerSec, never above the burst', () => {
      const g = new FrameGuard(limits({ maxMsgsPerSec: 10, burstMsgs: 20 }), T0);
      for (let i = 0; i < 20; i++) g.onFrame(10, T0);
      // 10 frames/s = one per 100 ms: a client at exactly the rate is never cut off.
      for (let i = 1; i <= 1000; i++) expect(g.onFrame(10, T0 + i * 100).ok).toBe(true);
      // A long pause refills only up to the burst.
      const t = T0 + 1000 * 100 + 3_600_000;
      for (let i = 0; i < 20; i++) expect(g.onFrame(10, t).ok).toBe(true);
      expect(g.onFrame(10, t).ok).toBe(false);
    });

    it('is not fooled by a clock stepping back', () => {
      const g = new FrameGuard(limits({ maxMsgsPerSec: 10, burstMsgs: 2 }), T0);
      expect(g.onFrame(1, T0).ok).toBe(true);
      expect(g.onFrame(1, T0 - 50_000).ok).toBe(true);
      expect(g.onFrame(1, T0 - 50_000).ok).toBe(false);
    });

    it('counts fractional refills', () => {
      const g = new FrameGuard(limits({ maxMsgsPerSec: 3, burstMsgs: 1 }), T0);
      expect(g.onFrame(1, T0).ok).toBe(true);
      expect(g.onFrame(1, T0 + 200).ok).toBe(false); // 0.6 of a token
    });
  });

  describe('bad frames', () => {
    it('tolerates maxBadFramesPerMin within 60 s and closes on one more', () => {
      const g = new FrameGuard(limits({ maxBadFramesPerMin: 3 }), T0);
      expect(g.onBadFrame(T0).ok).toBe(true);
      expect(g.onBadFrame(T0 + 1000).ok).toBe(true);
      expect(g.onBadFrame(T0 + 2000).ok).toBe(true);
      expect(g.onBadFrame(T0 + 59_999)).toMatchObject({ ok: false, code: ProtocolErrorCode.TooManyBadFrames, closeCode: 4022 });
    });

    it('forgets bad frames older than 60 s', () => {
      const g = new FrameGuard(limits({ maxBadFramesPerMin: 3 }), T0);
      for (let i = 0; i < 100; i++) expect(g.onBadFrame(T0 + i * 20_001).ok).toBe(true);
    });
  });

  describe('sequence', () => {
    it('expects 1, 2, 3... and reports a gap once, resynchronising', () => {
      const g = new FrameGuard(DEFAULT_LIMITS, T0);
      expect(g.onSeq(1)).toEqual({ ok: true });
      expect(g.onSeq(2)).toEqual({ ok: true });
      expect(g.onSeq(5)).toEqual({ ok: false, expected: 3, got: 5, reason: 'seq 5 where 3 was expected' });
      expect(g.onSeq(6)).toEqual({ ok: true });
      expect(g.onSeq(6)).toMatchObject({ ok: false, expected: 7, got: 6 });
      expect(g.expectedSeq).toBe(7);
    });

    it('reports a first frame that is not 1', () => {
      expect(new FrameGuard(DEFAULT_LIMITS, T0).onSeq(2)).toMatchObject({ ok: false, expected: 1, got: 2 });
    });
  });

  describe('timers', () => {
    const lim = limits({ heartbeatMs: 1000, heartbeatTimeoutMs: 3000, loginTimeoutMs: 2000 });

    it('closes when no login comes in time', () => {
      const g = new FrameGuard(lim, T0);
      g.onFrame(10, T0 + 1500);
      g.onSent(T0 + 1500);
      expect(g.poll(T0 + 1999)).toEqual({ action: 'none' });
      expect(g.poll(T0 + 2000)).toMatchObject({ action: 'close', code: ProtocolErrorCode.LoginTimeout, closeCode: 4013 });
    });

    it('asks for heartbeats when idle and closes when the peer is silent', () => {
      const g = new FrameGuard(lim, T0);
      g.onLogin();
      expect(g.nextDeadlineMs()).toBe(T0 + 1000);
      expect(g.poll(T0 + 999)).toEqual({ action: 'none' });
      expect(g.poll(T0 + 1000)).toEqual({ action: 'heartbeat' });
      g.onSent(T0 + 1000);
      expect(g.poll(T0 + 1500)).toEqual({ action: 'none' });
      g.onFrame(20, T0 + 1800);
      g.onSent(T0 + 2000);
      expect(g.nextDeadlineMs()).toBe(T0 + 3000);
      g.onSent(T0 + 4700);
      expect(g.poll(T0 + 4799)).toEqual({ action: 'none' });
      expect(g.nextDeadlineMs()).toBe(T0 + 4800);
      expect(g.poll(T0 + 4800)).toMatchObject({ action: 'close', code: ProtocolErrorCode.HeartbeatTimeout, closeCode: 4023 });
    });

    it('includes the login deadline before login only', () => {
      const g = new FrameGuard(limits({ heartbeatMs: 5000, heartbeatTimeoutMs: 15000, loginTimeoutMs: 2000 }), T0);
      expect(g.nextDeadlineMs()).toBe(T0 + 2000);
      g.onLogin();
      expect(g.nextDeadlineMs()).toBe(T0 + 5000);
      expect(g.closeVerdict).toBeUndefined();
    });
  });
});
