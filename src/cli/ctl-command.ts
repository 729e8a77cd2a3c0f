/**
 * `tradeloop ctl --gateway ws://host:port/path --name <strategy> [--token-file f] [--yes] <command…>`:
 * one control command (the built-in commands of `docs/control.md`: `status`, `pause`,
 * `stop`, `set key value`, `cmd hook args`…) for one strategy connected to a gateway.
 *
 * The command runs through `ControlCommands` with the role of the control token (the
 * gateway says which in `control_ack`, and checks it again for every operation) against a
 * `ControlTarget`; confirmations are replaced by `--yes` (a dangerous command without it
 * is refused, exit 2). The target is a `remoteControlTarget` over a small WebSocket link
 * (`connectControl`) speaking the protocol's control frames — `control_login`, `control`
 * and their answers `control_ack`, `control_result` (docs/protocol.md, "Control clients");
 * a gateway that predates them answers `UnknownType` and this command says so.
 *
 * Exit codes: 0 the command succeeded, 1 it was refused or failed, 2 bad usage (including
 * a dangerous command without `--yes`, a missing token, an unreachable gateway).
 * @module
 */
import WebSocket from 'ws';
import { LiveClock, type Scheduler } from '../core/clock.js';
import { ControlCommands, isDangerousCommand, type Caller, type Role } from '../control/commands.js';
import { remoteControlTarget, type ControlOp, type ControlResult, type ControlTarget } from '../control/target.js';
import { ControlAckMsgSchema, ControlResultMsgSchema, ErrorMsgSchema, ProtocolErrorCode, serializeFrame } from '../gateway/protocol.js';
import { resolveTelegramToken } from '../control/telegram.js';
import { readPemFile, readTlsIdentity, type TlsIdentity } from '../gateway/tls.js';
import { DataUsageError } from './data-commands.js';

/** A bad argument, a missing token, an unreachable gateway: one line, exit code 2. */
export class CtlUsageError extends DataUsageError {}

/** Environment variable read for the control token when `--token-file` is not given. */
export const CTL_TOKEN_ENV = 'TRADELOOP_CTL_TOKEN';

/** `ctl`'s identity in the gateway's audit log: an admin (it holds the control token). */
export const CTL_CALLER: Readonly<Caller> = Object.freeze({ id: 'ctl', role: 'admin' });

/** Options of `tradeloop ctl`, as commander parses them. */
export interface CtlCliOptions {
  /** Gateway URL, `ws://` or `wss://`. */
  gateway: string;
  /** The strategy's login name. */
  name: string;
  /** File holding the gateway's control token; default the `TRADELOOP_CTL_TOKEN` variable. */
  tokenFile?: string;
  /** Run a dangerous command (stop, flatten, cancelall, set, reset) without asking. */
  yes?: boolean;
  /** How long to wait for the gateway, ms. Default 10 000. */
  timeoutMs?: number;
  /** PEM file of the certificate(s) to trust for a `wss://` gateway (its own, self-signed). */
  ca?: string;
  /** PEM files of a client certificate and its key, for a `wss://` gateway that asks for one. Both or neither. */
  cert?: string;
  key?: string;
}

/** An open control link to one strategy. */
export interface CtlLink {
  readonly target: ControlTarget;
  /** The control token's role, as the gateway gave it (default `admin`: the gateway checks each operation anyway). */
  readonly role?: Role;
  close(): Promise<void>;
}

/** What `connectControl` needs. */
export interface ConnectControlOptions {
  url: string;
  token: string;
  /** The strategy to control. */
  name: string;
  /** Timers (µs). */
  clock: Scheduler;
  /** Connection and per-request timeout, ms. */
  timeoutMs: number;
  /** Certificates to trust for `wss://`, PEM (replace the system's for this connection). Default the system's. */
  ca?: string | Buffer;
  /** A client certificate and its key, PEM, for a gateway that asks for one. Default none. */
  identity?: { cert: string | Buffer; key: string | Buffer };
}

/** What the command needs from the process; tests pass their own. */
export interface CtlIo {
  /** Standard output: the reply. */
  out: (text: string) => void;
  /** Environment for the token; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Opens the link; default `connectControl` (tests pass a fake or a local target). */
  connect?: (o: ConnectControlOptions) => Promise<CtlLink>;
  /** Default a `LiveClock` (its timers are cancelled at the end). */
  clock?: Scheduler;
}

/** Quotes words that contain spaces, so that `parseCommandLine` gives them back. */
function joinWords(words: readonly string[]): string {
  return words.map((w) => (/\s/.test(w) || w === '' ? `"${w}"` : w)).join(' ');
}

/**
 * Runs one command on a target with the `admin` role and no confirmation.
 * @returns the exit code (0 done, 1 refused or failed, 2 dangerous without `yes`) and the reply text.
 */
export async function runCtlCommand(target: ControlTarget, words: readonly string[], opts: { yes?: boolean; role?: Role } = {}): Promise<{ code: number; text: string }> {
  const line = joinWords(words);
  if (!line.trim()) return { code: 2, text: 'no command given (try: status, orders, pause, stop, set <key> <value>, cmd <hook>)' };
  if (isDangerousCommand(line) && !opts.yes) return { code: 2, text: `'${words[0]}' is a dangerous command: add --yes to run it` };
  const commands = new ControlCommands({ targets: [target], now: () => 0, confirmations: false });
  const r = await commands.execute(line, opts.role ? { ...CTL_CALLER, role: opts.role } : CTL_CALLER);
  return { code: r.ok ? 0 : 1, text: r.text };
}

/**
 * The action of `tradeloop ctl`: reads the token, connects, runs the command, prints the
 * reply. Resolves with the exit code.
 * @throws CtlUsageError for a bad URL, a missing token, or a gateway that cannot be reached or refuses the token.
 */
export async function ctlCommand(words: readonly string[], o: CtlCliOptions, io: CtlIo): Promise<number> {
  if (!/^wss?:\/\//.test(o.gateway)) throw new CtlUsageError(`--gateway must be a ws:// or wss:// URL, got '${o.gateway}'`);
  if (!o.name) throw new CtlUsageError('--name <strategy> is required');
  let token: string;
  try {
    token = resolveTelegramToken({ tokenFile: o.tokenFile, tokenEnv: CTL_TOKEN_ENV }, io.env ?? process.env);
  } catch {
    throw new CtlUsageError(o.tokenFile ? `cannot read a control token from ${o.tokenFile}` : `no control token: pass --token-file or set ${CTL_TOKEN_ENV}`);
  }
  let ca: string | undefined;
  if (o.ca !== undefined) {
    if (!o.gateway.startsWith('wss://')) throw new CtlUsageError('--ca is for a wss:// gateway');
    try {
      ca = readPemFile(o.ca, 'certificate');
    } catch (err) {
      throw new CtlUsageError(`--ca: ${(err as Error).message}`);
    }
  }
  let identity: TlsIdentity | undefined;
  if ((o.cert === undefined) !== (o.key === undefined)) throw new CtlUsageError('give --cert and --key together');
  if (o.cert !== undefined && o.key !== undefined) {
    if (!o.gateway.startsWith('wss://')) throw new CtlUsageError('--cert and --key are for a wss:// gateway');
    try {
      identity = readTlsIdentity(o.cert, o.key, '--cert/--key');
    } catch (err) {
      throw new CtlUsageError((err as Error).message);
    }
  }
  const clock = io.clock ?? new LiveClock();
  const timeoutMs = o.timeoutMs ?? 10_000;
  try {
    let link: CtlLink;
    try {
      link = await (io.connect ?? connectControl)({ url: o.gateway, token, name: o.name, clock, timeoutMs, ca, identity });
    } catch (err) {
      throw new CtlUsageError((err as Error).message);
    }
    try {
      const r = await runCtlCommand(link.target, words, { yes: o.yes, role: link.role });
      io.out(r.text.endsWith('\n') ? r.text : `${r.text}\n`);
      return r.code;
    } finally {
      await link.close();
    }
  } finally {
    if (!io.clock && clock instanceof LiveClock) clock.cancelAll();
  }
}

// ------------------------------------------------------------------ the WebSocket link


/**
 * Opens a control link to a gateway: `control_login {reqId, token}` → `control_ack`, then
 * one `control {reqId, strategy, op, args}` → `control_result {reqId, ok, text}` per
 * `ControlTarget` call. The token is sent in the login frame only and never put in an error.
 * @throws Error when the gateway cannot be reached, times out, refuses the token, or does not know control frames.
 */
export async function connectControl(o: ConnectControlOptions): Promise<CtlLink> {
  const ws = new WebSocket(o.url, { ...(o.ca !== undefined ? { ca: o.ca } : {}), ...(o.identity !== undefined ? { cert: o.identity.cert, key: o.identity.key } : {}) });
  let seq = 0;
  let nextReq = 0;
  const waiting = new Map<string, { resolve: (f: Record<string, unknown>) => void; reject: (e: Error) => void; timer: number }>();
  let closedWith: Error | undefined;
  const failAll = (e: Error): void => {
    closedWith ??= e;
    for (const [id, w] of waiting) {
      o.clock.cancel(w.timer);
      waiting.delete(id);
      w.reject(e);
    }
  };
  ws.on('message', (data) => {
    let f: Record<string, unknown>;
    try {
      f = JSON.parse(String(data)) as Record<string, unknown>;
    } catch {
      return;
    }
    const reqId = typeof f.reqId === 'string' ? f.reqId : undefined;
    const w = reqId === undefined ? undefined : waiting.get(reqId);
    if (f.type === 'error') {
      const e = ErrorMsgSchema.safeParse(f);
      const code = e.success ? e.data.code : undefined;
      const reason = e.success ? e.data.reason : 'error';
      const msg =
        code === ProtocolErrorCode.UnknownType
          ? `the gateway at ${o.url} does not accept control clients yet (it refused the control frames: ${reason})`
          : code === ProtocolErrorCode.BadCredentials
            ? `the gateway at ${o.url} refused the control token`
            : `the gateway refused the request: ${reason}${code === undefined ? '' : ` (${code})`}`;
      if (w) {
        waiting.delete(reqId!);
        o.clock.cancel(w.timer);
        w.reject(new Error(msg));
      } else if (e.success && e.data.fatal) failAll(new Error(msg));
      return;
    }
    if (w) {
      waiting.delete(reqId!);
      o.clock.cancel(w.timer);
      w.resolve(f);
    }
  });
  ws.on('close', () => failAll(new Error(`the gateway at ${o.url} closed the connection`)));
  ws.on('error', (err) => failAll(new Error(`cannot reach the gateway at ${o.url}: ${err.message}`)));

  await new Promise<void>((resolve, reject) => {
    const timer = o.clock.at(o.clock.now() + o.timeoutMs * 1000, () => {
      reject(new Error(`no answer from the gateway at ${o.url} within ${o.timeoutMs} ms`));
      ws.terminate();
    });
    ws.once('open', () => {
      o.clock.cancel(timer);
      resolve();
    });
    ws.once('error', (err) => {
      o.clock.cancel(timer);
      reject(new Error(`cannot reach the gateway at ${o.url}: ${err.message}`));
    });
  });

  const request = (body: { type: string } & Record<string, unknown>): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      if (closedWith) return reject(closedWith);
      const reqId = `ctl-${++nextReq}`;
      const timer = o.clock.at(o.clock.now() + o.timeoutMs * 1000, () => {
        waiting.delete(reqId);
        reject(new Error(`no answer from the gateway within ${o.timeoutMs} ms`));
      });
      waiting.set(reqId, { resolve, reject, timer });
      ws.send(serializeFrame({ ...body, reqId }, ++seq));
    });

  let role: Role;
  try {
    const ack = ControlAckMsgSchema.safeParse(await request({ type: 'control_login', token: o.token }));
    if (!ack.success) throw new Error('unexpected answer to control_login');
    if (!ack.data.strategies.includes(o.name)) {
      throw new Error(`strategy ${o.name} is not connected to the gateway (connected: ${ack.data.strategies.join(', ') || 'none'})`);
    }
    role = ack.data.role ?? 'admin';
  } catch (err) {
    ws.terminate();
    throw err;
  }

  const call = async (op: ControlOp, args: string[]): Promise<ControlResult> => {
    const r = ControlResultMsgSchema.safeParse(await request({ type: 'control', strategy: o.name, op, args }));
    if (!r.success) return { ok: false, text: 'unexpected answer from the gateway' };
    return { ok: r.data.ok, text: r.data.text };
  };
  return {
    target: remoteControlTarget(o.name, call),
    role,
    close: async () => {
      if (ws.readyState === WebSocket.OPEN) {
        ws.send(serializeFrame({ type: 'logout' }, ++seq));
        ws.close(1000);
      }
      failAll(new Error('closed'));
    },
  };
}
