/**
 * Child processes of the gateway's integration and fault tests: the real CLI
 * (`node --import tsx src/cli/main.ts …`, as the other CLI tests run it, so no build step
 * is needed), its stdout split into lines as they arrive, the `@churn` lines of the test
 * strategy (`fixtures/churn.ts`) parsed, and condition-based waits whose timeout message
 * carries the process's output.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../helpers.js';

export const MAIN = join(ROOT, 'src/cli/main.ts');
export const CHURN = join(ROOT, 'test/gateway/fixtures/churn.ts');

/** One parsed `@churn` line. */
export type ChurnLine = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A running CLI process. */
export interface CliProc {
  readonly child: ChildProcessWithoutNullStreams;
  /** Everything written to stdout / stderr so far. */
  readonly out: { stdout: string; stderr: string };
  /** The `@churn` lines so far, in order. */
  readonly lines: ChurnLine[];
  /** Resolves with the exit code and signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Called synchronously for each `@churn` line as it is parsed. */
  onLine?: (line: ChurnLine) => void;
}

/** The environment of a spawned CLI: no token variable. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  if (!('TRADELOOP_TOKEN' in extra)) delete env.TRADELOOP_TOKEN;
  return env;
}

/** Spawns `tradeloop <args>` from source. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = childEnv()): CliProc {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  const lines: ChurnLine[] = [];
  let partial = '';
  const proc: CliProc = {
    child,
    out,
    lines,
    exited: new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal }))),
  };
  child.stdout.on('data', (d: Buffer) => {
    const text = String(d);
    out.stdout += text;
    partial += text;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      if (!line.startsWith('@churn ')) continue;
      const parsed = JSON.parse(line.slice(7)) as ChurnLine;
      lines.push(parsed);
      proc.onLine?.(parsed);
    }
  });
  child.stderr.on('data', (d: Buffer) => (out.stderr += String(d)));
  return proc;
}

/** Waits until `cond` holds (polling every 5 ms), else fails naming `what` with the tail of the processes' output. */
export async function waitFor(cond: () => boolean, ms: number, what: string, procs: readonly CliProc[] = []): Promise<void> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > ms) {
      const tails = procs.map((p) => `--- pid ${p.child.pid} stdout:\n${p.out.stdout.slice(-1500)}\n--- stderr:\n${p.out.stderr.slice(-1500)}`).join('\n');
      throw new Error(`timed out after ${ms} ms waiting for ${what}\n${tails}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Kills a process that is still running (cleanup). */
export function killIfRunning(p: CliProc): void {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
}
