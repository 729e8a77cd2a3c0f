/**
 * What a control channel (Telegram, the console, `tradeloop ctl`, the gateway) can ask of
 * one strategy, independent of the transport: `ControlTarget`.
 *
 * - `envControlTarget(env)` implements it over a `StratEnv` in the same process (the
 *   runner).
 * - `remoteControlTarget(name, call)` implements it over any request/reply link (the
 *   gateway's `cmd` frames to a strategy process, a `tradeloop ctl` client's frames to the
 *   gateway); `serveControlOp(target, op, args)` is the other end of such a link.
 *
 * Trading controls that `StratEnv` may not have yet (`pause`, `resume`, `paused`,
 * `flatten`, `cancelAllOpen`, `gracefulStop`, a validated `updateParams`,
 * `resetKillSwitch`) are detected at run time, so this module works with environments
 * with and without them: a missing one answers "not supported", never throws.
 * @module
 */
import { OrderStatus } from '../api/enums.js';
import type { StratParams } from '../api/events.js';
import type { OrderView, PositionView } from '../api/strategy.js';
import type { StratEnv } from '../core/env.js';
import type { Role } from './commands.js';

/** Outcome of an action: whether it was done, and a line for the person who asked. */
export interface ControlResult {
  ok: boolean;
  /** Human-readable outcome (one or a few lines, plain text). */
  text: string;
}

/** Outcome of a parameter change. */
export interface SetParamResult {
  ok: boolean;
  /** Why it was refused (when `ok` is false). */
  reason?: string;
}

/**
 * One strategy as a control channel sees it. Every method is asynchronous, so the same
 * interface covers a strategy in this process and one behind a gateway; none throws for a
 * refused action (it answers `ok: false`), but a broken link may reject.
 */
export interface ControlTarget {
  /** The strategy's login name (the selector in multi-strategy commands). */
  readonly name: string;
  /** One-paragraph state: lifecycle, paused, open orders, positions, PnL, errors. */
  status(): Promise<string>;
  /** Open orders, one per line. */
  orders(): Promise<string>;
  /** Non-flat positions, one per line. */
  positions(): Promise<string>;
  /** Realised, unrealised, fees and net PnL per quote currency. */
  pnl(): Promise<string>;
  /** Account balances, when the environment can report them. */
  balance(): Promise<string>;
  /** Stops sending new orders (the strategy keeps running); `reason` is logged and shown in status. */
  pause(reason: string): Promise<ControlResult>;
  /** Undoes `pause`. */
  resume(): Promise<ControlResult>;
  /** Cancels every open order of the strategy. */
  cancelAll(): Promise<ControlResult>;
  /** Cancels every open order and closes every position. */
  flatten(): Promise<ControlResult>;
  /**
   * Stops the strategy: open orders cancelled, with `flatten` positions closed first, then
   * `onStop` and the strategy's stop ack (which is not waited for).
   */
  stop(opts?: { flatten?: boolean }): Promise<ControlResult>;
  /** Resets a tripped kill switch, when the environment has one. */
  resetKillSwitch(): Promise<ControlResult>;
  /** Current strategy parameters. */
  params(): Promise<StratParams>;
  /**
   * Sets one parameter from its text form (`/set key value`) and calls
   * `onStratParamsUpdate`. The value is converted to the current value's type; a value that
   * does not convert, or an unknown key, is refused with a reason.
   */
  setParam(key: string, value: string): Promise<SetParamResult>;
  /** Runs an `addCmdHook` hook; resolves with its reply (or an error text). */
  runHook(name: string, args: string[]): Promise<string>;
  /** Names of the registered hooks, sorted. */
  hooks(): Promise<string[]>;
}

// ------------------------------------------------------------------ formatting

/** Most orders listed in one reply; the rest are counted ("… and 12 more"), so that a reply fits a Telegram message. */
export const MAX_LISTED = 30;

/** A number with 2 decimals, sign kept: PnL in quote currency units. */
function money(n: number): string {
  const s = (Math.round(n * 100) / 100).toFixed(2);
  return s === '-0.00' ? '0.00' : s;
}

/** A position with its sign: `+100`, `-5`, `0`. */
function signedQty(q: { isZero(): boolean; toString(): string }): string {
  const s = q.toString();
  return s.startsWith('-') || q.isZero() ? s : `+${s}`;
}

/** An instant as ISO 8601 UTC (ms precision), from µs since the epoch (the env's time, never the wall clock). */
function isoUs(us: number): string {
  const ms = Math.floor(us / 1000);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : String(us);
}

/** Lines of a list, cut at `MAX_LISTED` with a count of the rest. */
function listed(lines: string[], empty: string): string {
  if (lines.length === 0) return empty;
  if (lines.length <= MAX_LISTED) return lines.join('\n');
  return [...lines.slice(0, MAX_LISTED), `… and ${lines.length - MAX_LISTED} more`].join('\n');
}

/** Net PnL per quote currency from position views. */
function pnlByCurrency(positions: readonly PositionView[], quote: (p: PositionView) => string): Map<string, { realized: number; unrealized: number; fees: number }> {
  const by = new Map<string, { realized: number; unrealized: number; fees: number }>();
  for (const p of positions) {
    const ccy = quote(p);
    const t = by.get(ccy) ?? { realized: 0, unrealized: 0, fees: 0 };
    t.realized += p.realizedPnl;
    t.unrealized += p.unrealizedPnl;
    t.fees += p.fees;
    by.set(ccy, t);
  }
  return by;
}

// ------------------------------------------------------------------ parameter values

/**
 * Converts the text of `/set key value` to the type of the parameter's current value:
 * a string stays a string (so `"100"` quantities keep their decimal-string form), a number
 * must be a finite number, a boolean one of `true/false/on/off/yes/no/1/0`, an object or
 * array valid JSON of the same kind. For a key without a current value the text is read as
 * JSON when it parses, else kept as a string.
 * @returns the value, or a reason when the text does not convert.
 */
export function coerceParamValue(current: unknown, text: string): { ok: true; value: unknown } | { ok: false; reason: string } {
  const t = text.trim();
  if (typeof current === 'string') return { ok: true, value: text };
  if (typeof current === 'number') {
    const n = t === '' ? Number.NaN : Number(t);
    return Number.isFinite(n) ? { ok: true, value: n } : { ok: false, reason: `expected a number, got '${text}'` };
  }
  if (typeof current === 'boolean') {
    const v = t.toLowerCase();
    if (['true', 'on', 'yes', '1'].includes(v)) return { ok: true, value: true };
    if (['false', 'off', 'no', '0'].includes(v)) return { ok: true, value: false };
    return { ok: false, reason: `expected true or false, got '${text}'` };
  }
  let parsed: unknown;
  let json = true;
  try {
    parsed = JSON.parse(t);
  } catch {
    json = false;
  }
  if (current !== undefined && current !== null && typeof current === 'object') {
    const wantArray = Array.isArray(current);
    if (!json || parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) !== wantArray) return { ok: false, reason: `expected a JSON ${wantArray ? 'array' : 'object'}` };
    return { ok: true, value: parsed };
  }
  return { ok: true, value: json ? parsed : text };
}

// ------------------------------------------------------------------ StratEnv

/** Optional trading controls a `StratEnv` may have (added by the risk work); detected at run time. */
interface OptionalControls {
  pause?: (reason: string) => unknown;
  resume?: () => unknown;
  paused?: unknown;
  pausedReason?: unknown;
  flatten?: () => unknown;
  cancelAllOpen?: () => unknown;
  gracefulStop?: (opts: { flatten: boolean }) => unknown;
  killSwitch?: { state?: unknown; reason?: unknown };
  resetKillSwitch?: () => unknown;
  balances?: () => unknown;
}

/** Reads what an optional control returned: `{ok, reason|text|message}`, a boolean, a count, or nothing (done). */
async function outcome(r: unknown, done: string): Promise<ControlResult> {
  const v = await r;
  if (v === false) return { ok: false, text: `${done}: refused` };
  if (v && typeof v === 'object' && typeof (v as { ok?: unknown }).ok === 'boolean') {
    const o = v as { ok: boolean; reason?: unknown; text?: unknown; message?: unknown };
    const why = [o.reason, o.text, o.message].find((x) => typeof x === 'string') as string | undefined;
    return { ok: o.ok, text: o.ok ? (why ? `${done}: ${why}` : done) : `refused: ${why ?? 'no reason given'}` };
  }
  if (typeof v === 'number') return { ok: true, text: `${done} (${v})` };
  return { ok: true, text: done };
}

/** Options of `envControlTarget`. */
export interface EnvControlTargetOptions {
  /**
   * Account balances to show for `/balance` (the runner can pass its venue's account);
   * default: the env's `balances()` when it has one, else "not available".
   */
  balances?: () => Record<string, string | number> | string;
}

/**
 * A `ControlTarget` over a `StratEnv` in this process.
 *
 * Controls the env does not have yet answer "not supported"; `cancelAll` falls back to
 * sending a cancel for every open order, `stop` to `env.stop()` (the strategy's `onStop`,
 * without flattening). That fallback cancel is sent from outside the dispatcher, so a
 * replay does not reproduce it; `env.cancelAllOpen()` (when present) is preferred.
 */
export function envControlTarget(env: StratEnv, opts: EnvControlTargetOptions = {}): ControlTarget {
  const x = env as unknown as OptionalControls;
  const has = (k: keyof OptionalControls): boolean => typeof x[k] === 'function';
  const name = (): string => env.strategyName ?? '(not logged in)';
  const instName = (exchange: string, id: number): string => env.getInstrument(exchange, id)?.name ?? `${exchange}:${id}`;
  const quote = (p: PositionView): string => env.getInstrument(p.exchange, p.instrumentId)?.quoteCurrency ?? '?';
  const notSupported = (what: string): ControlResult => ({ ok: false, text: `${what} is not supported by this environment` });
  const orderLine = (o: OrderView): string =>
    `${o.clientId} ${o.side} ${o.leavesQty.toString()}/${o.qty.toString()} ${instName(o.exchange, o.instrumentId)} @ ${o.price.toString()} ${o.status}`;
  const tripped = (): string | undefined => {
    const k = x.killSwitch;
    if (!k || k.state !== 'tripped') return undefined;
    return typeof k.reason === 'string' ? k.reason : 'tripped';
  };
  const pausedText = (): string | undefined => {
    const p = x.paused;
    if (!p) return undefined;
    const why = typeof x.pausedReason === 'string' ? x.pausedReason : typeof p === 'string' ? p : undefined;
    return why ? `PAUSED (${why})` : 'PAUSED';
  };

  return {
    get name() {
      return name();
    },
    async status() {
      const open = env.tracker.openOrders().length;
      const pos = env.tracker.positions().filter((p) => !p.position.isZero());
      const pnl = pnlByCurrency(env.tracker.positions(), quote);
      const money_ = [...pnl].map(([c, t]) => `${c} net ${money(t.realized + t.unrealized - t.fees)}`).join(', ');
      const lines = [
        `${name()}: ${env.state}${pausedText() ? `, ${pausedText()}` : ''} at ${isoUs(env.now())}`,
        `open orders ${open}, positions ${pos.length}${pos.length ? ` (${pos.map((p) => `${instName(p.exchange, p.instrumentId)} ${signedQty(p.position)}`).join(', ')})` : ''}`,
        `orders sent ${env.tracker.orderCount}, fills ${env.tracker.fillCount}${money_ ? `, ${money_}` : ''}`,
      ];
      if (env.errorCount > 0) lines.push(`callback errors ${env.errorCount}`);
      return lines.join('\n');
    },
    async orders() {
      return listed(env.tracker.openOrders().map(orderLine), 'no open orders');
    },
    async positions() {
      const lines = env.tracker
        .positions()
        .filter((p) => !p.position.isZero())
        .map((p) => `${instName(p.exchange, p.instrumentId)} ${signedQty(p.position)} @ ${p.avgEntryPrice.toString()} (unrealised ${money(p.unrealizedPnl)}, realised ${money(p.realizedPnl)})`);
      return listed(lines, 'flat: no open positions');
    },
    async pnl() {
      const by = pnlByCurrency(env.tracker.positions(), quote);
      if (by.size === 0) return 'no fills yet: PnL 0';
      return [...by]
        .map(([c, t]) => `${c}: realised ${money(t.realized)}, unrealised ${money(t.unrealized)}, fees ${money(t.fees)}, net ${money(t.realized + t.unrealized - t.fees)}`)
        .join('\n');
    },
    async balance() {
      const src = opts.balances ?? (has('balances') ? () => x.balances!() as Record<string, string | number> | string : undefined);
      if (!src) return 'balances are not available in this environment (see /pnl)';
      const b = await src();
      if (typeof b === 'string') return b;
      const lines = Object.entries(b).map(([coin, v]) => `${coin} ${String(v)}`);
      return lines.length ? lines.join('\n') : 'no balances';
    },
    async pause(reason) {
      if (!has('pause')) return notSupported('pause');
      return outcome(x.pause!(reason), `paused${reason ? ` (${reason})` : ''}`);
    },
    async resume() {
      if (!has('resume')) return notSupported('resume');
      // The env's resume() also re-arms a tripped kill switch; that reset is an admin's
      // decision (/reset), so a trader's /resume stops here.
      const k = tripped();
      if (k) return { ok: false, text: `the kill switch is tripped (${k}): an admin must /reset it` };
      return outcome(x.resume!(), 'resumed');
    },
    async cancelAll() {
      if (has('cancelAllOpen')) {
        const n = await x.cancelAllOpen!();
        if (typeof n !== 'number') return outcome(n, 'cancel sent for every open order');
        return { ok: true, text: n ? `cancel sent for ${n} open order${n === 1 ? '' : 's'}` : 'no open orders to cancel' };
      }
      if (env.state !== 'running' && env.state !== 'stopping') return { ok: false, text: `the strategy is ${env.state}` };
      // Fallback for an env without cancelAllOpen: one cancel per order not already being cancelled.
      const open = env.tracker.openOrders().filter((o) => o.status !== OrderStatus.PendingCancel);
      for (const o of open) env.sendCancelOrder(o.exchange, o.instrumentId, o.clientId);
      return { ok: true, text: open.length ? `cancel sent for ${open.length} open order${open.length === 1 ? '' : 's'}` : 'no open orders' };
    },
    async flatten() {
      if (!has('flatten')) return notSupported('flatten');
      return outcome(x.flatten!(), 'flattening: open orders cancelled, positions being closed');
    },
    async stop(o = {}) {
      if (env.state !== 'running') return { ok: false, text: `the strategy is ${env.state}` };
      const flatten = o.flatten === true;
      // gracefulStop/stop resolve on the strategy's ack; waiting for it would hold the channel.
      if (has('gracefulStop')) {
        void Promise.resolve(x.gracefulStop!({ flatten })).catch(() => undefined);
        return { ok: true, text: `stopping: open orders cancelled${flatten ? ', positions being closed' : ''}, then onStop` };
      }
      if (flatten) return notSupported('stop with flatten');
      void env.stop();
      return { ok: true, text: 'stopping: onStop sent, waiting for the strategy to acknowledge' };
    },
    async resetKillSwitch() {
      if (has('resetKillSwitch')) return outcome(x.resetKillSwitch!(), 'kill switch reset');
      // StratEnv re-arms its kill switch in resume().
      if (!x.killSwitch || !has('resume')) return notSupported('kill switch reset');
      if (!tripped()) return { ok: true, text: 'the kill switch is not tripped: nothing to reset' };
      return outcome(x.resume!(), 'kill switch reset, trading resumed');
    },
    async params() {
      return { ...env.currentParams };
    },
    async setParam(key, value) {
      const cur = env.currentParams;
      // The current keys are the only ones known to be read: a typo must not add a parameter
      // the strategy ignores (a non-strict schema would even strip it and report success).
      if (!Object.prototype.hasOwnProperty.call(cur, key)) return { ok: false, reason: `unknown parameter '${key}' (known: ${Object.keys(cur).sort().join(', ') || 'none'})` };
      const c = coerceParamValue(cur[key], value);
      if (!c.ok) return { ok: false, reason: `${key}: ${c.reason}` };
      // A validating updateParams answers { ok, reason }; an older one returns nothing.
      const v = await (env.updateParams as (p: StratParams) => unknown)({ ...cur, [key]: c.value });
      if (v && typeof v === 'object' && (v as { ok?: unknown }).ok === false) {
        const why = (v as { reason?: unknown }).reason;
        return { ok: false, reason: typeof why === 'string' ? why : 'refused by the parameter schema' };
      }
      return { ok: true };
    },
    runHook(hook, args) {
      return env.runCommand(hook, args);
    },
    async hooks() {
      return env.commandNames();
    },
  };
}

// ------------------------------------------------------------------ over a link

/** Reserved hook name the gateway uses to carry control operations to a strategy process in `cmd` frames. */
export const CONTROL_HOOK = 'tradeloop.ctl';

/** The operations of `ControlTarget`, as they travel over a link. */
export const CONTROL_OPS = [
  'status',
  'orders',
  'positions',
  'pnl',
  'balance',
  'pause',
  'resume',
  'cancelAll',
  'flatten',
  'stop',
  'resetKillSwitch',
  'params',
  'setParam',
  'runHook',
  'hooks',
] as const;
/** One `ControlTarget` method by name. */
export type ControlOp = (typeof CONTROL_OPS)[number];

/**
 * Lowest role that may run each operation over a link: the roles of the built-in commands
 * that use it (`/status` … `/params` viewer; `/pause`, `/resume`, `/cancelall`, `/cmd`
 * trader; `/flatten`, `/stop`, `/reset`, `/set` admin). The gateway checks it for control
 * clients (`tradeloop ctl`), whose role is their control token's.
 */
export const CONTROL_OP_ROLES: Readonly<Record<ControlOp, Role>> = Object.freeze({
  status: 'viewer',
  orders: 'viewer',
  positions: 'viewer',
  pnl: 'viewer',
  balance: 'viewer',
  params: 'viewer',
  hooks: 'viewer',
  pause: 'trader',
  resume: 'trader',
  cancelAll: 'trader',
  runHook: 'trader',
  flatten: 'admin',
  stop: 'admin',
  resetKillSwitch: 'admin',
  setParam: 'admin',
});

/** A request/reply link to a strategy: sends `op` with text arguments, resolves with the answer. */
export type ControlCall = (op: ControlOp, args: string[]) => Promise<ControlResult>;

/**
 * Runs one operation on a target and encodes the answer as text (the other end of
 * `remoteControlTarget`): queries and actions as their text, `params` and `hooks` as JSON,
 * `setParam` as `ok: false` with the reason. Never rejects.
 */
export async function serveControlOp(target: ControlTarget, op: string, args: readonly string[]): Promise<ControlResult> {
  try {
    switch (op as ControlOp) {
      case 'status':
      case 'orders':
      case 'positions':
      case 'pnl':
      case 'balance':
        return { ok: true, text: await target[op as 'status']() };
      case 'pause':
        return await target.pause(args.join(' '));
      case 'stop':
        return await target.stop({ flatten: args[0] === 'flatten' });
      case 'resume':
      case 'cancelAll':
      case 'flatten':
      case 'resetKillSwitch':
        return await target[op as 'resume']();
      case 'params':
        return { ok: true, text: JSON.stringify(await target.params()) };
      case 'setParam': {
        if (args.length !== 2) return { ok: false, text: 'setParam needs a key and a value' };
        const r = await target.setParam(args[0]!, args[1]!);
        return { ok: r.ok, text: r.ok ? 'ok' : (r.reason ?? 'refused') };
      }
      case 'runHook':
        if (args.length < 1) return { ok: false, text: 'runHook needs a hook name' };
        return { ok: true, text: await target.runHook(args[0]!, args.slice(1)) };
      case 'hooks':
        return { ok: true, text: JSON.stringify(await target.hooks()) };
      default:
        return { ok: false, text: `unknown control operation '${op}'` };
    }
  } catch (err) {
    return { ok: false, text: `${op} failed: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/**
 * A `ControlTarget` whose every method is one `call` over a link (encoded as
 * `serveControlOp` answers). A link failure rejects the method's promise; the command
 * layer turns it into a reply.
 */
export function remoteControlTarget(name: string, call: ControlCall): ControlTarget {
  // A query that failed over the link rejects, so the command layer reports it as an error.
  const text = async (op: ControlOp, args: string[] = []): Promise<string> => {
    const r = await call(op, args);
    if (!r.ok) throw new Error(r.text);
    return r.text;
  };
  return {
    name,
    status: () => text('status'),
    orders: () => text('orders'),
    positions: () => text('positions'),
    pnl: () => text('pnl'),
    balance: () => text('balance'),
    pause: (reason) => call('pause', reason ? [reason] : []),
    resume: () => call('resume', []),
    cancelAll: () => call('cancelAll', []),
    flatten: () => call('flatten', []),
    stop: (o) => call('stop', o?.flatten ? ['flatten'] : []),
    resetKillSwitch: () => call('resetKillSwitch', []),
    async params() {
      const r = await call('params', []);
      if (!r.ok) throw new Error(r.text);
      return JSON.parse(r.text) as StratParams;
    },
    async setParam(key, value) {
      const r = await call('setParam', [key, value]);
      return r.ok ? { ok: true } : { ok: false, reason: r.text };
    },
    // A hook's failure is its reply text (as `env.runCommand` gives it), not a link error.
    runHook: async (hook, args) => (await call('runHook', [hook, ...args])).text,
    async hooks() {
      const r = await call('hooks', []);
      if (!r.ok) throw new Error(r.text);
      return JSON.parse(r.text) as string[];
    },
  };
}

/** What `gatewayControlTargets` needs from a `GatewayServer`. */
export interface CommandServer {
  /** Strategies with a live session now. */
  connectedStrategies(): string[];
  /** Runs a hook of a connected strategy; rejects when it fails or the strategy does not answer. */
  sendCommand(strategy: string, name: string, params?: readonly string[]): Promise<string>;
}

/**
 * One `ControlTarget` per strategy connected to a gateway, each a `remoteControlTarget`
 * that sends `cmd` frames for the reserved hook `CONTROL_HOOK` with `[op, ...args]`. The
 * strategy process must answer them with `serveControlOp(envControlTarget(env), op, args)`
 * (see `RemoteEnv`). Call it per command: strategies come and go.
 */
export function gatewayControlTargets(server: CommandServer): ControlTarget[] {
  return server.connectedStrategies().map((s) =>
    remoteControlTarget(s, (op, args) =>
      server.sendCommand(s, CONTROL_HOOK, [op, ...args]).then(
        (text) => ({ ok: true, text }),
        (err: unknown) => ({ ok: false, text: err instanceof Error ? err.message : String(err) }),
      ),
    ),
  );
}
