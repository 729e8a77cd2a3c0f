/**
 * Steering strategies from Telegram (telegraf, long polling): the built-in control commands
 * of `ControlCommands` for an allowlist of users with roles, and `publishTelegram` messages
 * sent to configured chats through a rate-limited queue.
 *
 * - The bot token comes from `token`, a file (`tokenFile`) or an environment variable
 *   (`tokenEnv`, default `TRADELOOP_TELEGRAM_TOKEN`). It is never logged: every error text
 *   that reaches the log or a thrown error goes through `redactSecret` first (telegraf's
 *   own errors can carry the request URL, which contains the token).
 * - Messages from users not on the allowlist are refused and logged with the user id; by
 *   default they get no answer, so the bot does not reveal itself.
 * - Commands are handled off telegraf's update loop (which waits for handlers before the
 *   next `getUpdates`), so a slow command — a hook behind a busy dispatcher, a stop — does
 *   not stall polling.
 * - Replies and publishes share one queue drained within Telegram's limits (1 message per
 *   second per chat, 20 per minute per group, 30 per second overall), replies first;
 *   `publish` only enqueues and never blocks the strategy. A 429 answer pauses sending for
 *   its `retry_after`. The queue's timers run on the injected `Scheduler` (a `LiveClock` in
 *   production, a fake in tests); telegraf keeps its own HTTP and retry timers.
 * @module
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import type { Logger } from 'pino';
import { Telegraf } from 'telegraf';
import { z } from 'zod';
import { LiveClock, type Scheduler } from '../core/clock.js';
import { ControlCommands, ROLES, parseCommandLine, type Role } from './commands.js';
import type { ControlTarget } from './target.js';

// ------------------------------------------------------------------ secrets

/** Environment variable read for the bot token when no other source is given. */
export const DEFAULT_TOKEN_ENV = 'TRADELOOP_TELEGRAM_TOKEN';

/** A configuration problem; the message never contains the token. */
export class TelegramConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TelegramConfigError';
  }
}

/**
 * Replaces every occurrence of `secret` (and its URL-encoded form) in `text` with
 * `<redacted>`, and any `/bot<…>/` URL segment as well, in case a token we were not given
 * (a default from elsewhere) shows up in a telegraf error.
 */
export function redactSecret(text: string, secret: string | undefined): string {
  let out = text;
  if (secret) {
    for (const form of new Set([secret, encodeURIComponent(secret)])) out = out.split(form).join('<redacted>');
  }
  return out.replace(/\/bot[^/\s]+\//g, '/bot<redacted>/');
}

/** Where the bot token comes from; the first one given wins: `token`, `tokenFile`, `tokenEnv`. */
export interface TokenSource {
  /** The token itself (tests; a config file should not hold it). */
  token?: string;
  /** A file whose content (trimmed) is the token. Relative paths resolve against `baseDir`. */
  tokenFile?: string;
  /** Environment variable holding the token. Default `TRADELOOP_TELEGRAM_TOKEN`. */
  tokenEnv?: string;
}

/**
 * Reads the bot token.
 * @param env environment for `tokenEnv` (default `process.env`).
 * @param baseDir directory `tokenFile` is relative to (default the working directory).
 * @throws TelegramConfigError naming the source (never the token) when it is missing or empty.
 */
export function resolveTelegramToken(src: TokenSource, env: Readonly<Record<string, string | undefined>> = process.env, baseDir?: string): string {
  if (src.token !== undefined) {
    if (!src.token.trim()) throw new TelegramConfigError('telegram: the bot token is empty');
    return src.token.trim();
  }
  if (src.tokenFile !== undefined) {
    const path = isAbsolute(src.tokenFile) || !baseDir ? src.tokenFile : resolvePath(baseDir, src.tokenFile);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new TelegramConfigError(`telegram: cannot read the token file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    const t = text.trim();
    if (!t) throw new TelegramConfigError(`telegram: the token file ${path} is empty`);
    return t;
  }
  const name = src.tokenEnv ?? DEFAULT_TOKEN_ENV;
  const v = env[name]?.trim();
  if (!v) throw new TelegramConfigError(`telegram: no bot token: set the environment variable ${name} or telegram.tokenFile`);
  return v;
}

// ------------------------------------------------------------------ rate-limited sending

/** Telegram's sending limits, as the queue applies them. */
export interface PublishLimits {
  /** Messages per second to one private chat. Default 1 (Telegram: "avoid more than one message per second" per chat). */
  perChatPerSecond: number;
  /** Messages per minute to one group or channel (negative chat id). Default 20 (Telegram's group limit). */
  groupPerMinute: number;
  /** Messages per second over every chat. Default 30 (Telegram's bulk limit). */
  totalPerSecond: number;
  /** Most messages waiting; beyond it the oldest publish (not a reply) is dropped and counted. Default 1 000. */
  queueMax: number;
}

/** The defaults of `PublishLimits` (Telegram's documented limits). */
export const DEFAULT_PUBLISH_LIMITS: Readonly<PublishLimits> = Object.freeze({ perChatPerSecond: 1, groupPerMinute: 20, totalPerSecond: 30, queueMax: 1_000 });

/** Longest Telegram text message, characters; longer texts are cut with an ellipsis. */
export const MAX_MESSAGE_CHARS = 4096;

/** Attempts per message for a 429 or a transient failure (network, 5xx) before it is dropped. */
const MAX_ATTEMPTS = 5;
/** Wait before retrying a transient failure, µs: 2 s, doubled per attempt. */
const RETRY_BASE_US = 2_000_000;

interface QueuedMessage {
  chatId: number;
  text: string;
  /** Replies go before publishes. */
  priority: boolean;
  attempts: number;
}

/** What a send failure looks like (telegraf's `TelegramError`, or a network error). */
interface SendFailure {
  code?: unknown;
  name?: unknown;
  message?: unknown;
  parameters?: { retry_after?: unknown };
  response?: { parameters?: { retry_after?: unknown } };
}

/** Options of `RateLimitedSender`. */
export interface RateLimitedSenderOptions {
  /** Timers and time (µs). */
  clock: Scheduler;
  /** Sends one message; rejects with telegraf's error on failure. */
  send: (chatId: number, text: string) => Promise<unknown>;
  limits?: Partial<PublishLimits>;
  logger: Logger;
  /** Cleans error texts before they are logged (token redaction). */
  redact?: (text: string) => string;
}

/**
 * A queue of outgoing messages drained within per-chat and overall rate limits. One message
 * per chat is in flight at a time, so each chat gets its messages in order; different chats
 * are sent in parallel up to the overall rate.
 */
export class RateLimitedSender {
  /** Messages dropped because the queue was full. */
  dropped = 0;
  private readonly clock: Scheduler;
  private readonly limits: PublishLimits;
  private readonly opts: RateLimitedSenderOptions;
  private readonly queue: QueuedMessage[] = [];
  private readonly inFlight = new Map<number, Promise<void>>();
  /** Start time (µs) of the last send per chat. */
  private readonly lastSend = new Map<number, number>();
  /** Start times (µs) of sends within the last second, oldest first. */
  private readonly recent: number[] = [];
  /** No send before this time (µs): a 429's retry_after, or a transient failure's backoff per chat. */
  private blockedUntil = 0;
  private readonly chatBlockedUntil = new Map<number, number>();
  private timer: { handle: number; ts: number } | undefined;
  private running = false;
  private closed = false;

  constructor(opts: RateLimitedSenderOptions) {
    this.opts = opts;
    this.clock = opts.clock;
    this.limits = { ...DEFAULT_PUBLISH_LIMITS, ...definedOnly(opts.limits ?? {}) };
    for (const k of Object.keys(DEFAULT_PUBLISH_LIMITS) as (keyof PublishLimits)[]) {
      if (!(this.limits[k] > 0) || !Number.isFinite(this.limits[k])) throw new RangeError(`publish.${k} must be a positive number, got ${String(this.limits[k])}`);
    }
  }

  /** Messages waiting (not in flight). */
  get queued(): number {
    return this.queue.length;
  }

  /** Starts draining (messages enqueued before wait for this). */
  start(): void {
    if (this.closed) return;
    this.running = true;
    this.pump();
  }

  /**
   * Queues a message; returns at once. `priority` (command replies) goes before publishes.
   * @returns false when the sender is closed.
   */
  enqueue(chatId: number, text: string, priority = false): boolean {
    if (this.closed) return false;
    const t = text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS - 1)}…` : text;
    const m: QueuedMessage = { chatId, text: t, priority, attempts: 0 };
    if (priority) {
      const i = this.queue.findIndex((q) => !q.priority);
      if (i < 0) this.queue.push(m);
      else this.queue.splice(i, 0, m);
    } else {
      this.queue.push(m);
    }
    if (this.queue.length > this.limits.queueMax) {
      // Drop the oldest publish: under a flood the newest state matters most; replies stay.
      let i = this.queue.findIndex((q) => !q.priority);
      if (i < 0) i = 0;
      this.queue.splice(i, 1);
      if (this.dropped++ % 100 === 0) this.opts.logger.warn({ dropped: this.dropped, queueMax: this.limits.queueMax }, 'telegram: publish queue full, oldest messages dropped');
    }
    this.pump();
    return true;
  }

  /** Resolves when no send is in flight (messages waiting for their time may remain). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight.values()]);
  }

  /** Stops sending: cancels the timer and drops what waits (the count is logged). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.running = false;
    if (this.timer) this.clock.cancel(this.timer.handle);
    this.timer = undefined;
    if (this.queue.length) this.opts.logger.warn({ unsent: this.queue.length }, 'telegram: stopped with messages unsent');
    this.queue.length = 0;
  }

  /** Minimum spacing between two messages to one chat, µs. Groups and channels have negative ids. */
  private intervalUs(chatId: number): number {
    const perChat = 1e6 / this.limits.perChatPerSecond;
    return chatId < 0 ? Math.max(perChat, 60e6 / this.limits.groupPerMinute) : perChat;
  }

  private pump(): void {
    if (!this.running || this.closed) return;
    const now = this.clock.now();
    while (this.recent.length && this.recent[0]! <= now - 1e6) this.recent.shift();
    let wake = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.queue.length; i++) {
      const m = this.queue[i]!;
      if (this.inFlight.has(m.chatId)) continue; // its completion pumps again
      const last = this.lastSend.get(m.chatId);
      const readyAt = Math.max(this.blockedUntil, this.chatBlockedUntil.get(m.chatId) ?? 0, last === undefined ? 0 : last + this.intervalUs(m.chatId));
      if (readyAt > now) {
        wake = Math.min(wake, readyAt);
        continue;
      }
      if (this.recent.length >= this.limits.totalPerSecond) {
        wake = Math.min(wake, this.recent[0]! + 1e6);
        break;
      }
      this.queue.splice(i--, 1);
      this.begin(m, now);
    }
    if (wake !== Number.POSITIVE_INFINITY) this.wakeAt(wake);
  }

  private wakeAt(ts: number): void {
    if (this.timer && this.timer.ts <= ts) return;
    if (this.timer) this.clock.cancel(this.timer.handle);
    const handle = this.clock.at(ts, () => {
      this.timer = undefined;
      this.pump();
    });
    this.timer = { handle, ts };
  }

  private begin(m: QueuedMessage, now: number): void {
    m.attempts++;
    this.lastSend.set(m.chatId, now);
    this.recent.push(now);
    const p = this.opts
      .send(m.chatId, m.text)
      .then(
        () => undefined,
        (err: unknown) => this.failed(m, err),
      )
      .finally(() => {
        this.inFlight.delete(m.chatId);
        this.pump();
      });
    this.inFlight.set(m.chatId, p);
  }

  private failed(m: QueuedMessage, err: unknown): void {
    const e = (err ?? {}) as SendFailure;
    const redact = this.opts.redact ?? ((s: string) => s);
    const text = redact(typeof e.message === 'string' ? e.message : String(err));
    const code = typeof e.code === 'number' ? e.code : undefined;
    const now = this.clock.now();
    const retryAfter = Number(e.parameters?.retry_after ?? e.response?.parameters?.retry_after);
    if (code === 429) {
      const waitS = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : 1;
      // A 429 is about the bot, not one chat: everything waits.
      this.blockedUntil = Math.max(this.blockedUntil, now + waitS * 1e6);
      this.opts.logger.warn({ chatId: m.chatId, retryAfterS: waitS }, 'telegram: rate limited (429), pausing sends');
      return this.retry(m, 'rate limited');
    }
    const transient = code === undefined || code >= 500;
    if (transient) {
      this.chatBlockedUntil.set(m.chatId, now + RETRY_BASE_US * 2 ** (m.attempts - 1));
      this.opts.logger.warn({ chatId: m.chatId, attempt: m.attempts, err: text }, 'telegram: send failed, will retry');
      return this.retry(m, text);
    }
    // 400 chat not found, 403 the user blocked the bot…: retrying cannot help.
    this.opts.logger.error({ chatId: m.chatId, code, err: text }, 'telegram: message refused, dropped');
  }

  private retry(m: QueuedMessage, why: string): void {
    if (m.attempts >= MAX_ATTEMPTS) {
      this.opts.logger.error({ chatId: m.chatId, attempts: m.attempts, err: why }, 'telegram: message dropped after retries');
      return;
    }
    if (this.closed) return;
    // Back at the head of its chat's messages, so the chat's order holds.
    const i = this.queue.findIndex((q) => q.chatId === m.chatId);
    this.queue.splice(i < 0 ? (m.priority ? 0 : this.queue.length) : i, 0, m);
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

// ------------------------------------------------------------------ the bot

/** One allowed Telegram user. */
export interface TelegramUser {
  /** Numeric Telegram user id (not the @username, which users can change). */
  id: number;
  role: Role;
  /** A label for logs. */
  name?: string;
}

/** Options of `TelegramControl`. */
export interface TelegramControlOptions extends TokenSource {
  /** Environment for `tokenEnv` (default `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Directory a relative `tokenFile` is resolved against. */
  baseDir?: string;
  /** Bot API root URL. Default `https://api.telegram.org`; a self-hosted Bot API server or a test server otherwise. */
  apiRoot?: string;
  /** The allowlist. */
  users: readonly TelegramUser[];
  /** Chats `publish` sends to. Default: the admins' private chats (a private chat's id is the user's id). */
  chats?: readonly number[];
  /** Answer users not on the allowlist with "not authorized". Default false: no answer at all. */
  answerStrangers?: boolean;
  /** Lifetime of a confirmation, ms. Default 60 000. */
  confirmTtlMs?: number;
  /**
   * Messages older than this (by their Telegram `date`, seconds) are ignored, so a command
   * typed while the bot was down does not run hours later. Default 300.
   */
  maxMessageAgeS?: number;
  /** Drop updates that arrived while the bot was not polling. Default true (same reason). */
  dropPendingUpdates?: boolean;
  /** Sending limits; defaults `DEFAULT_PUBLISH_LIMITS`. */
  publish?: Partial<PublishLimits>;
  /** The strategies; a function when they come and go (the gateway). */
  targets: readonly ControlTarget[] | (() => readonly ControlTarget[]);
  /** Time and the send queue's timers (µs). */
  clock: Scheduler;
  logger: Logger;
}

/** Lifecycle of a `TelegramControl`. */
export type TelegramState = 'created' | 'starting' | 'running' | 'stopped' | 'failed';

/** Minimal view of a Telegram message, as the handler reads it. */
interface IncomingMessage {
  date: number;
  chat: { id: number };
  from?: { id: number; username?: string };
  text?: string;
}

/** The Telegram control channel of a runner (one strategy) or a gateway (every strategy). */
export class TelegramControl {
  /** The chats `publish` sends to. */
  readonly chats: readonly number[];
  private readonly opts: TelegramControlOptions;
  private readonly token: string;
  private readonly users: ReadonlyMap<number, TelegramUser>;
  private readonly commands: ControlCommands;
  private readonly sender: RateLimitedSender;
  private readonly logger: Logger;
  private bot: Telegraf | undefined;
  private polling: Promise<void> | undefined;
  private botName = '';
  private _state: TelegramState = 'created';
  private handling = new Set<Promise<void>>();

  /** @throws TelegramConfigError when no token can be read or the users are invalid. */
  constructor(opts: TelegramControlOptions) {
    this.opts = opts;
    this.logger = opts.logger.child({ component: 'telegram' });
    this.token = resolveTelegramToken(opts, opts.env, opts.baseDir);
    const users = new Map<number, TelegramUser>();
    for (const u of opts.users) {
      if (!Number.isSafeInteger(u.id) || u.id <= 0) throw new TelegramConfigError(`telegram: user id ${String(u.id)} is not a positive integer`);
      if (!ROLES.includes(u.role)) throw new TelegramConfigError(`telegram: user ${u.id} has unknown role '${String(u.role)}' (viewer, trader, admin)`);
      if (users.has(u.id)) throw new TelegramConfigError(`telegram: user ${u.id} is listed twice`);
      users.set(u.id, u);
    }
    this.users = users;
    this.chats = opts.chats ?? opts.users.filter((u) => u.role === 'admin').map((u) => u.id);
    const ms = () => opts.clock.now() / 1000;
    this.commands = new ControlCommands({ targets: opts.targets, now: ms, confirmTtlMs: opts.confirmTtlMs, logger: this.logger });
    this.sender = new RateLimitedSender({
      clock: opts.clock,
      limits: opts.publish,
      logger: this.logger,
      redact: (s) => this.redact(s),
      send: (chatId, text) => {
        if (!this.bot) return Promise.reject(new Error('bot not started'));
        return this.bot.telegram.sendMessage(chatId, text);
      },
    });
  }

  /** Lifecycle state. */
  get state(): TelegramState {
    return this._state;
  }

  /** Messages waiting to be sent. */
  get queued(): number {
    return this.sender.queued;
  }

  /** Redacts the bot token from a text. */
  redact(text: string): string {
    return redactSecret(text, this.token);
  }

  /**
   * Checks the token (`getMe`), then polls for updates in the background.
   * @throws Error (token redacted) when the Bot API cannot be reached or refuses the token.
   */
  async start(): Promise<void> {
    if (this._state !== 'created') throw new Error(`telegram: start() in state ${this._state}`);
    this._state = 'starting';
    const bot = new Telegraf(this.token, { telegram: this.opts.apiRoot ? { apiRoot: this.opts.apiRoot } : {} });
    this.bot = bot;
    bot.use((ctx) => {
      const m = ctx.message as IncomingMessage | undefined;
      // Off the update loop: telegraf awaits handlers before polling again.
      if (m) this.track(this.onMessage(m));
    });
    bot.catch((err) => this.logger.error({ err: this.redact(errorText(err)) }, 'telegram: update handler failed'));
    try {
      bot.botInfo = await bot.telegram.getMe();
      // Here rather than by launch(), which runs it after start() has returned: an update
      // arriving in between would be dropped. launch() repeats it without dropping.
      await bot.telegram.deleteWebhook({ drop_pending_updates: this.opts.dropPendingUpdates ?? true });
    } catch (err) {
      this._state = 'failed';
      const msg = this.redact(errorText(err));
      this.logger.error({ err: msg }, 'telegram: cannot reach the Bot API or the token was refused');
      throw new Error(`telegram: getMe failed: ${msg}`);
    }
    this.botName = bot.botInfo.username ?? '';
    this.polling = bot.launch().then(
      () => undefined,
      (err: unknown) => {
        this._state = 'failed';
        this.logger.error({ err: this.redact(errorText(err)) }, 'telegram: polling stopped on an error');
      },
    );
    this._state = 'running';
    this.sender.start();
    this.logger.info({ bot: this.botName, users: this.users.size, chats: this.chats.length }, 'telegram: bot started');
  }

  /**
   * Queues `msg` for every configured chat as `[strategy] msg`; returns at once.
   * This is what `StratEnvOptions.telegram` should call.
   */
  publish(strategy: string, msg: string): void {
    const text = strategy ? `[${strategy}] ${msg}` : msg;
    for (const chat of this.chats) this.sender.enqueue(chat, text);
  }

  /** Runs one command as a Telegram user would (tests, other channels); the reply is returned, not sent. */
  handleCommand(userId: number, text: string): Promise<string> {
    const u = this.users.get(userId);
    if (!u) return Promise.resolve('not authorized');
    return this.commands.handle(text, { id: u.id, role: u.role });
  }

  /** Resolves when every command being handled has replied and no send is in flight. */
  async settled(): Promise<void> {
    while (this.handling.size > 0) await Promise.all([...this.handling]);
    await this.sender.settled();
    if (this.handling.size > 0) await this.settled();
  }

  /** Stops polling and sending; unsent messages are dropped (and counted in the log). Idempotent. */
  async stop(): Promise<void> {
    if (this._state === 'stopped') return;
    const wasPolling = this.polling !== undefined;
    this._state = 'stopped';
    await this.sender.settled();
    this.sender.close();
    if (this.bot && wasPolling) {
      try {
        this.bot.stop('tradeloop stop');
      } catch {
        /* not running: nothing to stop */
      }
      await this.polling;
    }
    this.polling = undefined;
    this.logger.info('telegram: bot stopped');
  }

  private track(p: Promise<void>): void {
    this.handling.add(p);
    void p.finally(() => this.handling.delete(p));
  }

  private async onMessage(m: IncomingMessage): Promise<void> {
    const from = m.from;
    if (!from) return;
    const chatId = m.chat.id;
    const user = this.users.get(from.id);
    const first = m.text === undefined ? undefined : parseCommandLine(m.text.trim())[0]?.slice(0, 64);
    if (!user) {
      this.logger.warn({ userId: from.id, username: from.username, chatId, command: first }, 'telegram: refused a message from a user not on the allowlist');
      if (this.opts.answerStrangers) this.sender.enqueue(chatId, 'not authorized', true);
      return;
    }
    if (m.text === undefined || first === undefined) return;
    // In a group, `/status@other_bot` is for another bot.
    const at = first.indexOf('@');
    if (first.startsWith('/') && at > 0 && this.botName && first.slice(at + 1).toLowerCase() !== this.botName.toLowerCase()) return;
    const ageS = this.opts.clock.now() / 1e6 - m.date;
    if (ageS > (this.opts.maxMessageAgeS ?? 300)) {
      this.logger.info({ userId: from.id, chatId, ageS: Math.round(ageS), command: first }, 'telegram: ignored a stale command');
      return;
    }
    const reply = await this.commands.execute(m.text, { id: from.id, role: user.role });
    if (this._state !== 'running') return;
    this.sender.enqueue(chatId, reply.text, true);
  }
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : JSON.stringify(err) ?? String(err);
}

// ------------------------------------------------------------------ configuration

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The `telegram` section of a runner's or the gateway's configuration. The token itself is
 * not accepted here (config files get shared and committed): `tokenFile` or `tokenEnv`.
 */
export const TelegramConfigSchema = z
  .strictObject({
    /** Default true; false keeps the section but starts no bot. */
    enabled: z.boolean().optional(),
    token: z.never({ error: 'put the bot token in a file (tokenFile) or an environment variable (tokenEnv), not in the config' }).optional(),
    tokenFile: z.string().min(1).optional(),
    tokenEnv: z.string().regex(ENV_NAME, 'expected an environment variable name').optional(),
    apiRoot: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional(),
    users: z
      .array(
        z.strictObject({
          id: z.int().min(1),
          role: z.enum(['viewer', 'trader', 'admin']),
          name: z.string().max(64).optional(),
        }),
      )
      .min(1, 'list at least one user (an admin)'),
    chats: z.array(z.int().refine((n) => n !== 0, 'a chat id is not 0')).optional(),
    answerStrangers: z.boolean().optional(),
    confirmTtlMs: z.number().positive().finite().optional(),
    maxMessageAgeS: z.number().positive().finite().optional(),
    dropPendingUpdates: z.boolean().optional(),
    publish: z
      .strictObject({
        perChatPerSecond: z.number().positive().finite().optional(),
        groupPerMinute: z.number().positive().finite().optional(),
        totalPerSecond: z.number().positive().finite().optional(),
        queueMax: z.int().min(1).optional(),
      })
      .optional(),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<number>();
    c.users.forEach((u, i) => {
      if (seen.has(u.id)) ctx.addIssue({ code: 'custom', message: `user ${u.id} is listed twice`, path: ['users', i, 'id'] });
      seen.add(u.id);
    });
  });

/** A validated `telegram` section. */
export type TelegramConfig = z.output<typeof TelegramConfigSchema>;

/**
 * Validates a `telegram` section.
 * @throws TelegramConfigError with one line naming the field (`telegram.users[0].role: …`).
 */
export function parseTelegramConfig(value: unknown): TelegramConfig {
  const r = TelegramConfigSchema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = issue.path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : `${s}.${String(p)}`), 'telegram');
  throw new TelegramConfigError(`${path}: ${issue.message}`);
}

/** Options of `startTelegramFromConfig`. */
export interface StartTelegramOptions {
  /** Default a new `LiveClock`. */
  clock?: Scheduler;
  /** Environment for `tokenEnv` (default `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Directory of the configuration file (a relative `tokenFile` is relative to it). */
  baseDir?: string;
}

/**
 * Starts the Telegram channel from a configuration's `telegram` section, or does nothing
 * (resolves undefined) when the section is absent or `enabled: false`.
 * Wire its `publish` into `StratEnvOptions.telegram` and `stop()` it at shutdown.
 * @param config the raw `telegram` section (validated here).
 * @param targets the strategies (a function for the gateway, where they come and go).
 * @throws TelegramConfigError for a bad section or a missing token; Error when the Bot API refuses the token.
 */
export async function startTelegramFromConfig(
  config: unknown,
  targets: readonly ControlTarget[] | (() => readonly ControlTarget[]),
  logger: Logger,
  opts: StartTelegramOptions = {},
): Promise<TelegramControl | undefined> {
  if (config === undefined || config === null) return undefined;
  const c = parseTelegramConfig(config);
  if (c.enabled === false) return undefined;
  const tg = createTelegramFromConfig(c, targets, logger, opts);
  await tg.start();
  return tg;
}

/**
 * The `TelegramControl` of a validated `telegram` section, not started (`start()` it).
 * @throws TelegramConfigError when no token can be read or the users are invalid.
 */
export function createTelegramFromConfig(
  c: TelegramConfig,
  targets: readonly ControlTarget[] | (() => readonly ControlTarget[]),
  logger: Logger,
  opts: StartTelegramOptions = {},
): TelegramControl {
  return new TelegramControl({
    tokenFile: c.tokenFile,
    tokenEnv: c.tokenEnv,
    env: opts.env,
    baseDir: opts.baseDir,
    apiRoot: c.apiRoot,
    users: c.users,
    chats: c.chats,
    answerStrangers: c.answerStrangers,
    confirmTtlMs: c.confirmTtlMs,
    maxMessageAgeS: c.maxMessageAgeS,
    dropPendingUpdates: c.dropPendingUpdates,
    publish: c.publish,
    targets,
    clock: opts.clock ?? new LiveClock(),
    logger,
  });
}

/** A Telegram channel started in the background (`launchTelegram`): what a runner wires. */
export interface TelegramLaunch {
  /**
   * What `StratEnvOptions.telegram` should call: queued for the configured chats (also
   * while the bot is still starting; sent once it runs). When Telegram could not start, the
   * message is logged at `warn` instead. Returns at once.
   */
  publish(strategy: string, msg: string): void;
  /** Resolves with the running channel, or undefined when it could not start (already logged) or was stopped first. Never rejects. */
  readonly ready: Promise<TelegramControl | undefined>;
  /**
   * Stops the bot: messages still queued get up to `drainMs` (default 3 000, wall time) to
   * go out — a bot still starting gets that time to finish its start first — then polling
   * and sending stop. A start that takes longer is stopped as soon as it ends. Idempotent;
   * never rejects.
   */
  stop(opts?: { drainMs?: number }): Promise<void>;
}

/**
 * Starts the Telegram channel of a configuration's `telegram` section without waiting for
 * it: for runners, whose strategy must not wait for (or die with) the Bot API. Returns
 * undefined when the section is absent or `enabled: false`.
 *
 * Failures never throw: a missing token (or another `TelegramConfigError` of the
 * channel) is logged as one error line here, a token the Bot API refuses or an
 * unreachable API as one error line by `TelegramControl.start` (redacted); the run goes on
 * without Telegram and `publish` logs instead.
 * @param config the raw `telegram` section (validated here).
 * @throws TelegramConfigError for an invalid section (a runner validates it with its config first).
 */
export function launchTelegram(
  config: unknown,
  targets: readonly ControlTarget[] | (() => readonly ControlTarget[]),
  logger: Logger,
  opts: StartTelegramOptions = {},
): TelegramLaunch | undefined {
  if (config === undefined || config === null) return undefined;
  const c = parseTelegramConfig(config);
  if (c.enabled === false) return undefined;
  // The queue's timers and the message-age check need the wall clock: a LiveClock of our own unless given.
  const own = opts.clock === undefined ? new LiveClock() : undefined;
  const clock = opts.clock ?? own!;
  let tg: TelegramControl | undefined;
  try {
    tg = createTelegramFromConfig(c, targets, logger, { ...opts, clock });
  } catch (err) {
    logger.error(`${errorText(err)}; running without Telegram`);
    own?.cancelAll();
    return {
      ready: Promise.resolve(undefined),
      publish: (strategy, msg) => logger.warn({ strategy, telegram: msg }, 'telegram unavailable: message not sent'),
      stop: () => Promise.resolve(),
    };
  }
  const bot = tg;
  let outcome: 'pending' | 'running' | 'failed' = 'pending';
  let stopRequested = false;
  /** stop() stopped waiting for a slow start: the start's end stops the bot. */
  let abandoned = false;
  let stopping: Promise<void> | undefined;
  /** Gives queued messages until `deadlineUs` (wall µs) to go out, then stops the bot. */
  const shutdown = async (deadlineUs: number): Promise<void> => {
    try {
      // The last messages (a kill switch trip at the end of a run) get a moment to go out.
      while (bot.state === 'running' && bot.queued > 0 && clock.now() < deadlineUs) {
        await new Promise<void>((resolve) => clock.at(Math.min(deadlineUs, clock.now() + 50_000), resolve));
      }
      await bot.stop();
    } catch (err) {
      logger.warn({ err: bot.redact(errorText(err)) }, 'telegram: stop failed');
    } finally {
      own?.cancelAll();
    }
  };
  const started = bot.start().then(
    () => {
      outcome = 'running';
    },
    () => {
      // TelegramControl.start logged why (one line, token redacted).
      outcome = 'failed';
      if (bot.queued > 0) logger.warn({ unsent: bot.queued }, 'telegram unavailable: messages queued before the failure not sent');
      own?.cancelAll();
    },
  );
  const ready = started.then(() => {
    if (outcome !== 'running') return undefined;
    if (abandoned) void shutdown(0);
    return stopRequested ? undefined : bot;
  });
  return {
    ready,
    publish(strategy, msg) {
      // While starting, messages wait in the bot's queue; they go out once it runs.
      if (outcome !== 'failed' && !stopRequested) bot.publish(strategy, msg);
      else logger.warn({ strategy, telegram: msg }, 'telegram unavailable: message not sent');
    },
    stop(o = {}) {
      stopRequested = true;
      return (stopping ??= (async () => {
        const deadline = clock.now() + (o.drainMs ?? 3_000) * 1000;
        if (outcome === 'pending') {
          // A run shorter than the bot's start (a quick backtest): wait for it, within the drain time.
          let timer: number | undefined;
          await Promise.race([started, new Promise<void>((resolve) => (timer = clock.at(deadline, resolve)))]);
          if (timer !== undefined) clock.cancel(timer);
          if (outcome === 'pending') {
            abandoned = true;
            return;
          }
        }
        if (outcome === 'running') await shutdown(deadline);
      })());
    },
  };
}
