/**
 * The built-in control commands, independent of the channel they arrive on (Telegram, the
 * console, `tradeloop ctl`): parsing, roles, strategy selection, confirmations of
 * dangerous commands, and the reply text. `docs/control.md` is the user's description.
 *
 * Grammar: `[/]command[@bot] [strategy|all] [args…]`. Words are split on spaces; double
 * quotes group words (`/set note "two words"`). The strategy selector is the first
 * argument when it names a connected strategy (or is `all`); with one strategy it may be
 * left out, with several a query without it answers for every strategy and an action
 * without it is refused with the list of names.
 * @module
 */
import type { Logger } from 'pino';
import type { ControlResult, ControlTarget } from './target.js';

/** Splits a command line into words; double quotes group words (`"two words"`). */
export function parseCommandLine(line: string): string[] {
  const words: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) words.push(m[1] ?? m[2]!);
  return words;
}

/** What a user may do: `viewer` < `trader` < `admin`, each role including the ones below. */
export type Role = 'viewer' | 'trader' | 'admin';

/** Every role, lowest first. */
export const ROLES: readonly Role[] = ['viewer', 'trader', 'admin'];

const RANK: Readonly<Record<Role, number>> = { viewer: 0, trader: 1, admin: 2 };

/** True when `role` includes `needed`. */
export function roleAllows(role: Role, needed: Role): boolean {
  return RANK[role] >= RANK[needed];
}

/** Who sent a command: an id for the audit log and for binding confirmations, and a role. */
export interface Caller {
  /** Telegram user id, `'console'`, `'ctl'`… Confirmations are bound to it. */
  id: string | number;
  role: Role;
}

/** How a command picks its strategies. */
type Scope =
  /** reads; without a selector: every strategy. */
  | 'query'
  /** acts; without a selector: the only strategy, else refused. `all` allowed. */
  | 'action'
  /** acts on exactly one strategy (`set`, `cmd`). */
  | 'one'
  /** no strategy (help, confirm). */
  | 'none';

/** One built-in command. */
export interface CommandSpec {
  /** Name without the slash. */
  readonly name: string;
  /** Lowest role that may run it. */
  readonly role: Role;
  /** Asks for a confirmation first (when confirmations are on). */
  readonly dangerous: boolean;
  /** Arguments after the optional strategy selector, for help. */
  readonly usage: string;
  /** One line for help. */
  readonly summary: string;
  /** @internal */
  readonly scope: Scope;
}

const spec = (name: string, role: Role, scope: Scope, dangerous: boolean, usage: string, summary: string): CommandSpec => ({ name, role, scope, dangerous, usage, summary });

/**
 * The built-in commands by name. Roles follow issue 5: `viewer` status queries, `trader`
 * hooks, pause/resume and cancel, `admin` stop, flatten, parameter changes and the kill
 * switch reset. Dangerous: stop, flatten, cancel all, parameter changes, kill switch reset.
 */
export const BUILTIN_COMMANDS: Readonly<Record<string, CommandSpec>> = Object.freeze({
  help: spec('help', 'viewer', 'none', false, '', 'this list, and the strategies\' command hooks'),
  status: spec('status', 'viewer', 'query', false, '', 'state, open orders, positions, PnL'),
  orders: spec('orders', 'viewer', 'query', false, '', 'open orders'),
  positions: spec('positions', 'viewer', 'query', false, '', 'open positions'),
  pnl: spec('pnl', 'viewer', 'query', false, '', 'realised, unrealised, fees, net'),
  balance: spec('balance', 'viewer', 'query', false, '', 'account balances'),
  params: spec('params', 'viewer', 'query', false, '', 'strategy parameters'),
  pause: spec('pause', 'trader', 'action', false, '[reason…]', 'stop sending new orders'),
  resume: spec('resume', 'trader', 'action', false, '', 'undo pause'),
  cancelall: spec('cancelall', 'trader', 'action', true, '', 'cancel every open order'),
  cmd: spec('cmd', 'trader', 'one', false, '<hook> [args…]', 'run a strategy command hook'),
  flatten: spec('flatten', 'admin', 'action', true, '', 'cancel every order and close every position'),
  stop: spec('stop', 'admin', 'action', true, '[flatten]', 'cancel open orders (and with flatten close positions), then stop the strategy'),
  set: spec('set', 'admin', 'one', true, '<key> <value>', 'change one strategy parameter'),
  reset: spec('reset', 'admin', 'action', true, '', 'reset a tripped kill switch'),
  confirm: spec('confirm', 'viewer', 'none', false, '[code]', 'confirm a dangerous command'),
});

/** Other spellings accepted for built-in commands. */
const ALIASES: Readonly<Record<string, string>> = { start: 'help', cancel_all: 'cancelall', 'cancel-all': 'cancelall', killreset: 'reset', position: 'positions', order: 'orders', balances: 'balance' };

/**
 * The built-in command a word names, or undefined: leading `/` and a Telegram `@botname`
 * suffix are dropped, case is ignored, aliases resolved (`/Status@my_bot` → `status`).
 */
export function builtinCommand(word: string | undefined): CommandSpec | undefined {
  if (word === undefined) return undefined;
  let w = word.startsWith('/') ? word.slice(1) : word;
  const at = w.indexOf('@');
  if (at > 0) w = w.slice(0, at);
  w = w.toLowerCase();
  const name = ALIASES[w] ?? w;
  return Object.prototype.hasOwnProperty.call(BUILTIN_COMMANDS, name) ? BUILTIN_COMMANDS[name] : undefined;
}

/** True when the command line starts with a dangerous built-in command (`ctl` asks for `--yes`). */
export function isDangerousCommand(line: string): boolean {
  return builtinCommand(parseCommandLine(line.trim())[0])?.dangerous === true;
}

/** A reply to one command line. */
export interface ControlReply {
  /** False for a refusal, a usage error, a failed action or one waiting for confirmation. */
  ok: boolean;
  /** The text to show (plain text, may span lines). */
  text: string;
  /** Set when the command now waits for `/confirm <code>`. */
  confirmCode?: string;
}

/** Options of `ControlCommands`. */
export interface ControlCommandsOptions {
  /** The strategies; a function when they come and go (a gateway). */
  targets: readonly ControlTarget[] | (() => readonly ControlTarget[]);
  /** Time in ms (any epoch): confirmations expire on it. The runner passes its clock, tests a fake. */
  now: () => number;
  /** How long a dangerous command waits for its confirmation, ms. Default 60 000. */
  confirmTtlMs?: number;
  /**
   * Ask for confirmations. Default true. The console and `ctl` turn it off: the operator
   * at the terminal confirmed by typing (ctl asks for `--yes`).
   */
  confirmations?: boolean;
  /** Audit log: actions run, refusals. Default: none. */
  logger?: Logger;
}

/** A dangerous command waiting for `/confirm`. */
interface Pending {
  code: string;
  caller: Caller;
  spec: CommandSpec;
  /** Strategy names resolved when it was asked (re-resolved at confirmation). */
  names: string[];
  args: string[];
  /** ms on `now()`. */
  expiresAt: number;
  line: string;
}

/** Default confirmation lifetime: 60 s. */
export const DEFAULT_CONFIRM_TTL_MS = 60_000;

function describeErr(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Parses and runs control command lines for one or several strategies. One instance per
 * channel: pending confirmations live in it.
 */
export class ControlCommands {
  private readonly opts: ControlCommandsOptions;
  private readonly ttlMs: number;
  private readonly pending = new Map<string, Pending>();
  private nextCode = 0;

  constructor(opts: ControlCommandsOptions) {
    this.opts = opts;
    this.ttlMs = opts.confirmTtlMs ?? DEFAULT_CONFIRM_TTL_MS;
    if (!(this.ttlMs > 0)) throw new RangeError(`confirmTtlMs must be positive, got ${String(opts.confirmTtlMs)}`);
  }

  /** The strategies now. */
  targets(): readonly ControlTarget[] {
    const t = this.opts.targets;
    return typeof t === 'function' ? t() : t;
  }

  /** Confirmations not yet confirmed nor expired. */
  get pendingCount(): number {
    this.prune();
    return this.pending.size;
  }

  /** Runs one line and resolves with the reply text. Never rejects. */
  async handle(line: string, caller: Caller): Promise<string> {
    return (await this.execute(line, caller)).text;
  }

  /** Runs one line; resolves with the reply and whether it succeeded. Never rejects. */
  async execute(line: string, caller: Caller): Promise<ControlReply> {
    this.prune();
    const words = parseCommandLine(line.trim());
    if (words.length === 0) return { ok: false, text: 'empty command; send /help' };
    const [first, ...args] = words;
    const s = builtinCommand(first);
    if (!s) return { ok: false, text: `unknown command '${first}'; send /help (hooks run with /cmd <hook>)` };
    if (!roleAllows(caller.role, s.role)) {
      this.opts.logger?.warn({ user: caller.id, role: caller.role, command: s.name }, 'control command refused: role too low');
      return { ok: false, text: `/${s.name} needs the ${s.role} role (yours: ${caller.role})` };
    }
    try {
      if (s.name === 'help') return { ok: true, text: await this.help(caller) };
      if (s.name === 'confirm') return await this.confirm(args, caller);
      const sel = this.select(s, args);
      if ('error' in sel) return { ok: false, text: sel.error };
      const usage = this.checkArgs(s, sel.args);
      if (usage) return { ok: false, text: usage };
      if (s.dangerous && this.opts.confirmations !== false) return this.ask(s, sel.targets, sel.args, caller, line);
      return await this.run(s, sel.targets, sel.args, caller);
    } catch (err) {
      return { ok: false, text: `/${s.name} failed: ${describeErr(err)}` };
    }
  }

  // ---------------------------------------------------------------- selection

  private select(s: CommandSpec, args: string[]): { targets: ControlTarget[]; args: string[] } | { error: string } {
    const all = [...this.targets()];
    if (s.scope === 'none') return { targets: [], args };
    if (all.length === 0) return { error: 'no strategy is running' };
    const names = all.map((t) => t.name);
    const first = args[0];
    if (first === 'all' && s.scope !== 'one') return { targets: all, args: args.slice(1) };
    const named = first === undefined ? undefined : all.find((t) => t.name === first);
    if (named) return { targets: [named], args: args.slice(1) };
    if (all.length === 1 || s.scope === 'query') return { targets: all, args };
    return { error: `which strategy? /${s.name} <strategy>${s.scope === 'action' ? '|all' : ''}${s.usage ? ` ${s.usage}` : ''} — one of: ${names.join(', ')}` };
  }

  private checkArgs(s: CommandSpec, args: string[]): string | undefined {
    if (s.name === 'set' && args.length < 2) return 'usage: /set [strategy] <key> <value>';
    if (s.name === 'cmd' && args.length < 1) return 'usage: /cmd [strategy] <hook> [args…]';
    if (s.name === 'stop' && (args.length > 1 || (args[0] !== undefined && args[0] !== 'flatten'))) return 'usage: /stop [strategy|all] [flatten]';
    return undefined;
  }

  // ---------------------------------------------------------------- confirmations

  private prune(): void {
    const now = this.opts.now();
    // Expired entries stay until their code is used once (to say "expired" rather than
    // "unknown"), but no longer than a second lifetime.
    for (const [code, p] of this.pending) if (now > p.expiresAt + this.ttlMs) this.pending.delete(code);
  }

  private ask(s: CommandSpec, targets: ControlTarget[], args: string[], caller: Caller, line: string): ControlReply {
    const code = String(++this.nextCode);
    this.pending.set(code, { code, caller, spec: s, names: targets.map((t) => t.name), args, expiresAt: this.opts.now() + this.ttlMs, line: line.trim() });
    const what = `/${s.name}${args.length ? ` ${args.join(' ')}` : ''} on ${targets.map((t) => t.name).join(', ')}`;
    this.opts.logger?.info({ user: caller.id, role: caller.role, command: s.name, strategies: targets.map((t) => t.name), code }, 'control command awaiting confirmation');
    return { ok: false, confirmCode: code, text: `Confirm ${what}: send /confirm ${code} within ${Math.round(this.ttlMs / 1000)} s.` };
  }

  private async confirm(args: string[], caller: Caller): Promise<ControlReply> {
    const mine = [...this.pending.values()].filter((p) => p.caller.id === caller.id);
    let p: Pending | undefined;
    if (args[0] === undefined) {
      const live = mine.filter((x) => this.opts.now() <= x.expiresAt);
      if (live.length === 1) p = live[0];
      else if (live.length === 0) return { ok: false, text: 'nothing to confirm' };
      else return { ok: false, text: `several commands wait: /confirm ${live.map((x) => x.code).join(' or /confirm ')}` };
    } else {
      // Someone else's code is "unknown": confirmations are bound to the user who asked.
      p = mine.find((x) => x.code === args[0]);
      if (!p) return { ok: false, text: `no pending confirmation ${args[0]}` };
    }
    this.pending.delete(p.code);
    if (this.opts.now() > p.expiresAt) return { ok: false, text: `confirmation ${p.code} expired; send ${p.line} again` };
    // The role is checked again: the caller object carries the role of this message.
    if (!roleAllows(caller.role, p.spec.role)) return { ok: false, text: `/${p.spec.name} needs the ${p.spec.role} role (yours: ${caller.role})` };
    const all = this.targets();
    const targets: ControlTarget[] = [];
    const gone: string[] = [];
    for (const n of p.names) {
      const t = all.find((x) => x.name === n);
      if (t) targets.push(t);
      else gone.push(n);
    }
    if (targets.length === 0) return { ok: false, text: `${gone.join(', ')} no longer running` };
    const r = await this.run(p.spec, targets, p.args, caller);
    return gone.length ? { ok: false, text: `${r.text}\n${gone.join(', ')} no longer running` } : r;
  }

  // ---------------------------------------------------------------- running

  private async run(s: CommandSpec, targets: ControlTarget[], args: string[], caller: Caller): Promise<ControlReply> {
    if (s.scope !== 'query') this.opts.logger?.info({ user: caller.id, role: caller.role, command: s.name, strategies: targets.map((t) => t.name), args: s.name === 'cmd' ? args : undefined }, 'control command');
    const several = targets.length > 1;
    const each = async (fn: (t: ControlTarget) => Promise<ControlResult>): Promise<ControlReply> => {
      const parts = await Promise.all(
        targets.map(async (t) => {
          try {
            return { name: t.name, ...(await fn(t)) };
          } catch (err) {
            return { name: t.name, ok: false, text: `error: ${describeErr(err)}` };
          }
        }),
      );
      // One line per strategy when every answer is one line; blocks under a [name] header otherwise.
      const multiline = parts.some((p) => p.text.includes('\n'));
      const text = several ? parts.map((p) => (multiline ? `[${p.name}]\n${p.text}` : `${p.name}: ${p.text}`)).join(multiline ? '\n\n' : '\n') : parts.map((p) => p.text).join('\n');
      return { ok: parts.every((p) => p.ok), text };
    };
    const query = (fn: (t: ControlTarget) => Promise<string>) => each(async (t) => ({ ok: true, text: await fn(t) }));
    switch (s.name) {
      case 'status':
        return query((t) => t.status());
      case 'orders':
        return query((t) => t.orders());
      case 'positions':
        return query((t) => t.positions());
      case 'pnl':
        return query((t) => t.pnl());
      case 'balance':
        return query((t) => t.balance());
      case 'params':
        return query(async (t) => {
          const p = await t.params();
          const keys = Object.keys(p).sort();
          return keys.length ? keys.map((k) => `${k} = ${JSON.stringify(p[k])}`).join('\n') : 'no parameters';
        });
      case 'pause':
        return each((t) => t.pause(args.join(' ')));
      case 'resume':
        return each((t) => t.resume());
      case 'cancelall':
        return each((t) => t.cancelAll());
      case 'flatten':
        return each((t) => t.flatten());
      case 'stop':
        return each((t) => t.stop({ flatten: args[0] === 'flatten' }));
      case 'reset':
        return each((t) => t.resetKillSwitch());
      case 'set': {
        const [key, ...rest] = args;
        const value = rest.join(' ');
        return each(async (t) => {
          const r = await t.setParam(key!, value);
          if (!r.ok) return { ok: false, text: `refused: ${r.reason ?? 'invalid value'}` };
          // What is in force: a schema may have converted the value.
          const now = (await t.params())[key!];
          return { ok: true, text: `${key} = ${JSON.stringify(now)} (onStratParamsUpdate sent)` };
        });
      }
      case 'cmd': {
        const [hook, ...rest] = args;
        return each(async (t) => {
          const known = (await t.hooks()).includes(hook!);
          const text = await t.runHook(hook!, rest);
          return { ok: known && !text.startsWith(`command '${hook}' failed:`), text };
        });
      }
      default:
        return { ok: false, text: `/${s.name} cannot run here` };
    }
  }

  private async help(caller: Caller): Promise<string> {
    const lines = [`commands for ${caller.role}:`];
    for (const s of Object.values(BUILTIN_COMMANDS)) {
      if (!roleAllows(caller.role, s.role) || s.name === 'confirm') continue;
      lines.push(`/${s.name}${s.usage ? ` ${s.usage}` : ''} — ${s.summary}${s.dangerous && this.opts.confirmations !== false ? ' (asks to confirm)' : ''}`);
    }
    const targets = this.targets();
    if (targets.length > 1) lines.push(`strategies: ${targets.map((t) => t.name).join(', ')} (name one first: /status <strategy>, /pause all)`);
    if (roleAllows(caller.role, 'trader')) {
      for (const t of targets) {
        try {
          const hooks = await t.hooks();
          lines.push(`hooks${targets.length > 1 ? ` of ${t.name}` : ''}: ${hooks.join(', ') || 'none'}`);
        } catch (err) {
          lines.push(`hooks of ${t.name}: unavailable (${describeErr(err)})`);
        }
      }
    }
    return lines.join('\n');
  }
}
