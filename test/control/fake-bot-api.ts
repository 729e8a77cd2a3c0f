/**
 * A small Telegram Bot API server for tests (node:http on loopback): `getMe`,
 * `deleteWebhook`, `getUpdates` (long polling over an update queue the test pushes
 * messages into) and `sendMessage` (recorded; can be told to answer 429 with
 * `retry_after`), at `/bot<token>/<method>` as telegraf calls them. Not a test file.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A message the bot sent. */
export interface SentMessage {
  chatId: number;
  text: string;
  /** `now()` of the server when the request arrived (the test's fake clock, µs). */
  at: number;
}

interface Update {
  update_id: number;
  message: {
    message_id: number;
    date: number;
    chat: { id: number; type: 'private' | 'group' };
    from: { id: number; is_bot: false; first_name: string; username?: string };
    text: string;
  };
}

interface Waiter {
  offset: number;
  res: ServerResponse;
  timer: NodeJS.Timeout;
}

/** Options of `FakeBotApi`. */
export interface FakeBotApiOptions {
  /** The token it accepts; others get 401. */
  token: string;
  /** Time in µs for message dates and `SentMessage.at` (the test's fake clock). */
  now: () => number;
  /** Bot username from getMe. Default `tradeloop_test_bot`. */
  username?: string;
}

export class FakeBotApi {
  /** Every sendMessage accepted, in arrival order. */
  readonly sent: SentMessage[] = [];
  /** Every method called (with a good token), in order. */
  readonly calls: string[] = [];
  /** Requests refused for a bad token. */
  unauthorized = 0;
  private readonly server: Server;
  private readonly updates: Update[] = [];
  private waiters: Waiter[] = [];
  private nextUpdateId = 1;
  private nextMessageId = 1;
  private fail429: Array<{ retryAfterS: number }> = [];
  private failWith: Array<{ code: number; description: string }> = [];
  private listeners: Array<() => void> = [];

  constructor(private readonly opts: FakeBotApiOptions) {
    this.server = createServer((req, res) => void this.route(req, res));
  }

  /** Listens on 127.0.0.1 (a free port); resolves with the API root URL for telegraf's `apiRoot`. */
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** Queues a text message from a user (in their private chat unless `chatId` is given). */
  push(fromId: number, text: string, opts: { chatId?: number; username?: string; dateS?: number } = {}): void {
    const chatId = opts.chatId ?? fromId;
    this.updates.push({
      update_id: this.nextUpdateId++,
      message: {
        message_id: this.nextMessageId++,
        date: opts.dateS ?? Math.floor(this.opts.now() / 1e6),
        chat: { id: chatId, type: chatId < 0 ? 'group' : 'private' },
        from: { id: fromId, is_bot: false, first_name: `user${fromId}`, username: opts.username },
        text,
      },
    });
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) {
      clearTimeout(w.timer);
      this.answerUpdates(w.res, w.offset);
    }
  }

  /** The next `n` sendMessage calls answer 429 with `retry_after`. */
  rateLimitNext(n: number, retryAfterS: number): void {
    for (let i = 0; i < n; i++) this.fail429.push({ retryAfterS });
  }

  /** The next sendMessage answers with this error. */
  failNext(code: number, description: string): void {
    this.failWith.push({ code, description });
  }

  /** Messages sent to one chat. */
  sentTo(chatId: number): SentMessage[] {
    return this.sent.filter((m) => m.chatId === chatId);
  }

  /** Resolves once `pred` holds (checked after every request), or rejects after `timeoutMs` of wall time. */
  waitFor(pred: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners = this.listeners.filter((l) => l !== check);
        reject(new Error(`FakeBotApi: timed out waiting for ${what}; sent: ${JSON.stringify(this.sent.map((m) => m.text))}`));
      }, timeoutMs);
      const check = (): void => {
        if (!pred()) return;
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== check);
        resolve();
      };
      this.listeners.push(check);
    });
  }

  /** Answers pending long polls and closes every connection. */
  async close(): Promise<void> {
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      this.json(w.res, 200, { ok: true, result: [] });
    }
    this.waiters = [];
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    if (res.writableEnded || res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private answerUpdates(res: ServerResponse, offset: number): void {
    // Updates below the offset are confirmed: Telegram forgets them.
    while (this.updates.length && this.updates[0]!.update_id < offset) this.updates.shift();
    this.json(res, 200, { ok: true, result: [...this.updates] });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: Record<string, unknown> = {};
    if (raw) {
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        this.json(res, 400, { ok: false, error_code: 400, description: 'Bad Request: body is not JSON' });
        return;
      }
    }
    const m = /^\/bot([^/]+)\/(\w+)$/.exec(req.url ?? '');
    if (!m) {
      this.json(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
      return;
    }
    const [, token, method] = m;
    if (decodeURIComponent(token!) !== this.opts.token) {
      this.unauthorized++;
      this.json(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
      this.notify();
      return;
    }
    this.calls.push(method!);
    switch (method) {
      case 'getMe':
        this.json(res, 200, { ok: true, result: { id: 4242, is_bot: true, first_name: 'tradeloop test', username: this.opts.username ?? 'tradeloop_test_bot' } });
        break;
      case 'deleteWebhook':
        if (body.drop_pending_updates === true) this.updates.length = 0;
        this.json(res, 200, { ok: true, result: true });
        break;
      case 'getUpdates': {
        const offset = Number(body.offset ?? 0);
        const timeoutS = Number(body.timeout ?? 0);
        while (this.updates.length && this.updates[0]!.update_id < offset) this.updates.shift();
        if (this.updates.length || !(timeoutS > 0)) {
          this.answerUpdates(res, offset);
          break;
        }
        // Long poll: held until a message is pushed or the poll's timeout (capped: tests are short).
        const w: Waiter = { offset, res, timer: setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          this.answerUpdates(res, offset);
        }, Math.min(timeoutS, 5) * 1000) };
        res.on('close', () => {
          clearTimeout(w.timer);
          this.waiters = this.waiters.filter((x) => x !== w);
        });
        this.waiters.push(w);
        break;
      }
      case 'sendMessage': {
        const chatId = Number(body.chat_id);
        const text = String(body.text ?? '');
        const f429 = this.fail429.shift();
        if (f429) {
          this.json(res, 429, { ok: false, error_code: 429, description: `Too Many Requests: retry after ${f429.retryAfterS}`, parameters: { retry_after: f429.retryAfterS } });
          break;
        }
        const fail = this.failWith.shift();
        if (fail) {
          this.json(res, fail.code, { ok: false, error_code: fail.code, description: fail.description });
          break;
        }
        this.sent.push({ chatId, text, at: this.opts.now() });
        this.json(res, 200, {
          ok: true,
          result: { message_id: this.nextMessageId++, date: Math.floor(this.opts.now() / 1e6), chat: { id: chatId, type: chatId < 0 ? 'group' : 'private' }, text },
        });
        break;
      }
      default:
        this.json(res, 404, { ok: false, error_code: 404, description: `Not Found: method ${method}` });
    }
    this.notify();
  }
}
