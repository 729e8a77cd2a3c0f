/**
 * The console control channel: command lines from a stream (the runner's stdin).
 * `cmd <hook> [args…]` or `<hook> [args…]` runs a command hook; `help` lists them.
 * @module
 */
import { createInterface, type Interface } from 'node:readline';
import type { StratEnv } from '../core/env.js';

/** Splits a command line into words; double quotes group words. */
export function parseCommandLine(line: string): string[] {
  const words: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) words.push(m[1] ?? m[2]!);
  return words;
}

/** Reads command lines and runs them on an environment once it is running. */
export class ConsoleChannel {
  private rl: Interface | undefined;
  private pending: string[] = [];
  private env: StratEnv | undefined;

  constructor(
    input: NodeJS.ReadableStream,
    private readonly output: (text: string) => void,
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

  /** Runs one command line; resolves with the reply text (also written to the output). */
  async handle(env: StratEnv, line: string): Promise<string> {
    const words = parseCommandLine(line.trim());
    if (words.length === 0) return '';
    if (words[0] === 'cmd') words.shift();
    const [name, ...params] = words;
    let reply: string;
    if (name === undefined) reply = 'usage: cmd <hook> [args…]';
    else if (name === 'help') reply = `commands: ${env.commandNames().join(', ') || 'none'} (type: cmd <name> [args…])`;
    else reply = await env.runCommand(name, params);
    this.output(`[${name ?? ''}] ${reply}`);
    return reply;
  }

  /** Stops reading. */
  close(): void {
    this.rl?.close();
    this.rl = undefined;
  }
}
