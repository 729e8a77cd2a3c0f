/**
 * Loggers on pino whose timestamps come from the environment's clock, so a backtest's log
 * shows simulated time and no wall clock is read outside `LiveClock`.
 * @module
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import { PinoPretty } from 'pino-pretty';
import type { Clock } from './clock.js';

/** Options of `createLogger`. */
export interface LoggerOptions {
  /** Source of timestamps. */
  clock: Clock;
  /** pino level (default `'info'`). */
  level?: string;
  /** Human-readable lines instead of JSON (default true on a TTY). */
  pretty?: boolean;
  /** Where lines go (default stderr). */
  destination?: DestinationStream | NodeJS.WritableStream;
}

/** Creates a pino logger stamped with `clock.now()` in µs (field `time`) and ISO time when pretty. */
export function createLogger(opts: LoggerOptions): Logger {
  const pretty = opts.pretty ?? Boolean(process.stderr.isTTY);
  const dest = opts.destination ?? (pretty ? undefined : pino.destination({ fd: 2, sync: true }));
  const base = {
    level: opts.level ?? 'info',
    base: undefined,
    timestamp: pretty
      ? () => `,"time":"${new Date(Math.floor(opts.clock.now() / 1000)).toISOString()}"`
      : () => `,"time":${opts.clock.now()}`,
  };
  if (pretty) {
    const stream = PinoPretty({
      sync: true,
      colorize: Boolean(process.stderr.isTTY) && !opts.destination,
      destination: (opts.destination as NodeJS.WritableStream | undefined) ?? 2,
      translateTime: false,
      ignore: 'pid,hostname',
    });
    return pino(base, stream);
  }
  return pino(base, dest as DestinationStream);
}

/** A logger that writes nothing (tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
