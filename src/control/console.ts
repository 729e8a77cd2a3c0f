/**
 * The console control channel: command lines from a stream (the runner's stdin).
 *
 * - `cmd <hook> [args…]` runs a command hook (always: even when the hook's name is also a
 *   built-in command).
 * - A built-in command (`status`, `orders`, `positions`, `pnl`, `balance`, `params`,
 *   `pause [reason]`, `resume`, `cancelall`, `flatten`, `stop`, `set <key> <value>`,
 *   `reset`; a leading `/` is accepted) runs through `ControlCommands` with the `admin`
 *   role and without confirmations: whoever types on the runner's stdin owns the process.
 * - `help` lists the hooks and the built-in commands.
 * - Any other `<word> [args…]` runs the hook of that name.
 *
 * Each reply is written as `[word] reply`.
 * @module
 */
import { createInterface, type Interface } from 'node:readline';
import type { Logger } from 'pino';
import type { StratEnv } from '../core/env.js';
import { BUILTIN_COMMANDS, ControlCommands, builtinCommand, parseCommandLine, type Caller } from './commands.js';
import { envControlTarget, type EnvControlTargetOptions } from './target.js';

export { parseCommandLine };

/** The console's identity in the audit log: an admin. */
export const CONSOLE_CALLER: Readonly<Caller> = Object.freeze({ id: 'console', role: 'admin' });

/** Options of `ConsoleChannel`. */
export interface ConsoleChannelOptions {
  /** Audit log of control actions (pause, stop, set…). Default: none. */
  logger?: Logger;
  /** Passed to `envControlTarget` (e.g. the venue's balances for `balance`). */
  target?: EnvControlTargetOptions;
}

/** Reads command lines and runs them on an environment once it is running. */
export class ConsoleChannel {
  private rl: Interface | undefined;
  private pending: string[] = [];
  private env: StratEnv | undefined;
  private readonly commands = new WeakMap<StratEnv, ControlCommands>();

  constructor(
    input: NodeJS.ReadableStream,
    private readonly output: (text: string) => void,
    private readonly opts: ConsoleChannelOptions = {},
  ) {
    this.rl = createInterface({ input, crlfDelay: Infinity, terminal: false });
    this.rl.on('line', (line) => {
      this.pending.push(line);
      this.flush();
    });
  }

  /** Serves commands on `env` (lines that arrived earlier wait until it is running). */
  attach(env: StratEnv): void {
    this.env = env;
    this.flush();
  }

  /** Runs waiting lines if the environment is running. */
  flush(): void {
    const env = this.env;
    if (!env || (env.state !== 'running' && env.state !== 'stopping')) return;
    const lines = this.pending;
    this.pending = [];
    for (const line of lines) void this.handle(env, line);
  }

  private commandsOf(env: StratEnv): ControlCommands {
    let c = this.commands.get(env);
    if (!c) {
      // Confirmations off, so `now` is only a formality; env time keeps src/ off the wall clock.
      c = new ControlCommands({ targets: [envControlTarget(env, this.opts.target)], now: () => env.now() / 1000, confirmations: false, logger: this.opts.logger });
      this.commands.set(env, c);
    }
    return c;
  }

  /** Runs one command line; resolves with the reply text (also written to the output). */
  async handle(env: StratEnv, line: string): Promise<string> {
    const words = parseCommandLine(line.trim());
    if (words.length === 0) return '';
    let label: string;
    let reply: string;
    const builtin = words[0] === 'cmd' ? undefined : builtinCommand(words[0]);
    if (builtin?.name === 'help') {
      label = words[0]!;
      const builtins = Object.values(BUILTIN_COMMANDS)
        .filter((s) => s.name !== 'help' && s.name !== 'confirm')
        .map((s) => s.name);
      reply = `commands: ${env.commandNames().join(', ') || 'none'} (type: cmd <name> [args…]); built-in: ${builtins.join(', ')}`;
    } else if (builtin) {
      label = builtin.name;
      reply = await this.commandsOf(env).handle(line, CONSOLE_CALLER);
    } else {
      if (words[0] === 'cmd') words.shift();
      const [name, ...params] = words;
      label = name ?? '';
      reply = name === undefined ? 'usage: cmd <hook> [args…]' : await env.runCommand(name, params);
    }
    this.output(`[${label}] ${reply}`);
    return reply;
  }

  /** Stops reading. */
  close(): void {
    this.rl?.close();
    this.rl = undefined;
  }
}
