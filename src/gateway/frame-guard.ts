/**
 * Per-connection enforcement of `ProtocolLimits`: frame size, a token bucket for frames per
 * second, a count of refused frames per minute, the peer's sequence numbers, and the login
 * and heartbeat timers. It only gives verdicts; the server sends the `error` frame and
 * closes. Time comes in as `nowMs` on every call (no clock of its own), so tests and
 * replays are deterministic. Both ends can use it: the gateway for client frames, a client
 * for gateway frames (with `DEFAULT_CLIENT_LIMITS`).
 * @module
 */
import { ProtocolErrorCode, type ProtocolLimits } from './protocol.js';

/** The connection must end: send an `error` frame with `code` and `reason` (fatal), then close with `closeCode`. */
export interface GuardClose {
  ok: false;
  code: ProtocolErrorCode;
  reason: string;
  /** WebSocket close code: the same number as `code`. */
  closeCode: number;
}
/** Go on, or close. */
export type GuardVerdict = { ok: true } | GuardClose;
/** Result of the sequence check: in order, or a gap (report it with a non-fatal `SequenceGap` error and go on). */
export type SeqVerdict = { ok: true } | { ok: false; expected: number; got: number; reason: string };
/** What the timers ask for: nothing, a heartbeat to send, or a close. */
export type TimerAction = { action: 'none' } | { action: 'heartbeat' } | ({ action: 'close' } & GuardClose);

/** Window of the bad-frame count, in ms. */
const BAD_FRAME_WINDOW_MS = 60_000;

/**
 * Applies the limits to one connection. Call, per received frame: `onFrame` (before
 * parsing), then `onBadFrame` if the frame was refused, and `onSeq` with the frame's `seq`
 * whenever it could be read; per sent frame `onSent`; `onLogin` once logged in; `poll`
 * from a timer (at `nextDeadlineMs`, or every second). Once a close verdict is given,
 * every later call returns it again.
 */
export class FrameGuard {
  private readonly limits: Readonly<ProtocolLimits>;
  private tokens: number;
  private refilledMs: number;
  /** Times of refused frames within the last window, oldest first; at most maxBadFramesPerMin + 1 long. */
  private readonly badTimes: number[] = [];
  private expected = 1;
  private readonly openedMs: number;
  private lastRecvMs: number;
  private lastSentMs: number;
  private loggedIn = false;
  private closed: GuardClose | undefined;

  /** @param nowMs time the connection opened, in ms (any monotonic or wall clock, used consistently). */
  constructor(limits: Readonly<ProtocolLimits>, nowMs: number) {
    this.limits = limits;
    this.tokens = limits.burstMsgs;
    this.refilledMs = nowMs;
    this.openedMs = nowMs;
    this.lastRecvMs = nowMs;
    this.lastSentMs = nowMs;
  }

  private close(code: ProtocolErrorCode, reason: string): GuardClose {
    this.closed = { ok: false, code, reason, closeCode: code };
    return this.closed;
  }

  /**
   * A frame of `bytes` bytes arrived. Refuses frames above `maxFrameBytes`
   * (`FrameTooLarge`) and frames beyond the token bucket (`RateLimited`: `burstMsgs`
   * capacity, refilled at `maxMsgsPerSec`). Every frame counts, heartbeats and refused
   * frames included: a flood is a flood whatever it contains.
   */
  onFrame(bytes: number, nowMs: number): GuardVerdict {
    if (this.closed) return this.closed;
    this.lastRecvMs = Math.max(this.lastRecvMs, nowMs);
    if (bytes > this.limits.maxFrameBytes) {
      return this.close(ProtocolErrorCode.FrameTooLarge, `frame of ${bytes} bytes exceeds maxFrameBytes ${this.limits.maxFrameBytes}`);
    }
    // A clock that steps back refills nothing rather than draining the bucket.
    const elapsed = Math.max(0, nowMs - this.refilledMs);
    if (elapsed > 0) {
      this.tokens = Math.min(this.limits.burstMsgs, this.tokens + (elapsed * this.limits.maxMsgsPerSec) / 1000);
      this.refilledMs = nowMs;
    }
    if (this.tokens < 1) {
      return this.close(ProtocolErrorCode.RateLimited, `more than ${this.limits.maxMsgsPerSec} frames/s (burst ${this.limits.burstMsgs})`);
    }
    this.tokens -= 1;
    return { ok: true };
  }

  /** The last frame was refused (parse error, unknown type, invalid fields...). More than `maxBadFramesPerMin` within 60 s closes with `TooManyBadFrames`. */
  onBadFrame(nowMs: number): GuardVerdict {
    if (this.closed) return this.closed;
    const t = this.badTimes;
    while (t.length > 0 && t[0] <= nowMs - BAD_FRAME_WINDOW_MS) t.shift();
    t.push(nowMs);
    if (t.length > this.limits.maxBadFramesPerMin) {
      return this.close(ProtocolErrorCode.TooManyBadFrames, `more than ${this.limits.maxBadFramesPerMin} refused frames within 60 s`);
    }
    return { ok: true };
  }

  /**
   * The peer's `seq` of the last frame. In order when it is the previous one + 1 (the
   * first is 1). On a gap or a step back the guard resynchronises to `seq`, so one lost or
   * repeated frame gives one report, not one per following frame.
   */
  onSeq(seq: number): SeqVerdict {
    const expected = this.expected;
    this.expected = seq + 1;
    if (seq === expected) return { ok: true };
    return { ok: false, expected, got: seq, reason: `seq ${seq} where ${expected} was expected` };
  }

  /** The `seq` the next frame should carry. */
  get expectedSeq(): number {
    return this.expected;
  }

  /** A frame was sent (resets the heartbeat-send timer). */
  onSent(nowMs: number): void {
    this.lastSentMs = Math.max(this.lastSentMs, nowMs);
  }

  /** The login succeeded: the login timer stops. */
  onLogin(): void {
    this.loggedIn = true;
  }

  /**
   * Timers, in order of precedence: no login within `loginTimeoutMs` of opening
   * (`LoginTimeout`), nothing received for `heartbeatTimeoutMs` (`HeartbeatTimeout`),
   * nothing sent for `heartbeatMs` (send a heartbeat, then call `onSent`).
   */
  poll(nowMs: number): TimerAction {
    if (this.closed) return { action: 'close', ...this.closed };
    if (!this.loggedIn && nowMs - this.openedMs >= this.limits.loginTimeoutMs) {
      return { action: 'close', ...this.close(ProtocolErrorCode.LoginTimeout, `no login within ${this.limits.loginTimeoutMs} ms`) };
    }
    if (nowMs - this.lastRecvMs >= this.limits.heartbeatTimeoutMs) {
      return { action: 'close', ...this.close(ProtocolErrorCode.HeartbeatTimeout, `nothing received for ${nowMs - this.lastRecvMs} ms (timeout ${this.limits.heartbeatTimeoutMs} ms)`) };
    }
    if (nowMs - this.lastSentMs >= this.limits.heartbeatMs) return { action: 'heartbeat' };
    return { action: 'none' };
  }

  /** Earliest time at which `poll` may return something other than `none`, in ms: when to schedule the next poll. */
  nextDeadlineMs(): number {
    let t = Math.min(this.lastSentMs + this.limits.heartbeatMs, this.lastRecvMs + this.limits.heartbeatTimeoutMs);
    if (!this.loggedIn) t = Math.min(t, this.openedMs + this.limits.loginTimeoutMs);
    return t;
  }

  /** The close verdict given so far, if any. */
  get closeVerdict(): GuardClose | undefined {
    return this.closed;
  }
}
