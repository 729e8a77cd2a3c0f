/**
 * A small gateway for the client-side tests: the protocol of docs/protocol.md on loopback,
 * with just enough venue to answer orders (acks, fills and cancels on command), a per-
 * strategy persistent event log (`eventSeq`, `resume`, idempotent client ids), `sync`, a
 * book per instrument with snapshots, commands, and knobs to misbehave: cut a connection,
 * go silent, drop requests on the floor, send malformed frames.
 */
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { WebSocketServer, type WebSocket } from 'ws';
import { Decimal } from 'decimal.js';
import { CancelCode, RejectCode } from '../../src/api/codes.js';
import { GatewayStatus, OrderStatus, Side } from '../../src/api/enums.js';
import type { Instrument } from '../../src/api/instrument.js';
import { L3Book } from '../../src/book/l3-book.js';
import { MdStatus, MdType, type MdEvent } from '../../src/data/events.js';
import { encodeMd, instrumentToSpec } from '../../src/gateway/codec.js';
import {
  ProtocolErrorCode,
  errorBody,
  parseClientFrame,
  serializeFrame,
  type ClientMessage,
  type FrameBody,
  type GatewayMessage,
  type NewOrderMsg,
  type WireEventMap,
  type WireOrderStatus,
} from '../../src/gateway/protocol.js';

/** A recorded event of one strategy. */
export interface FakeEvent {
  eventSeq: number;
  cb: keyof WireEventMap;
  ev: Record<string, unknown>;
  clientId?: string;
}

/** An order as the fake gateway records it. */
export interface FakeOrder {
  msg: NewOrderMsg;
  exchangeId: string;
  status: OrderStatus;
  price: string;
  qty: Decimal;
  filled: Decimal;
}

interface Conn {
  ws: WebSocket;
  seq: number;
  strategy?: string;
  subs: Set<string>;
  hb?: NodeJS.Timeout;
}

/** Options of `FakeGateway`. */
export interface FakeGatewayOptions {
  /** Strategy name → token. */
  strategies: Record<string, string>;
  instruments: Instrument[];
  heartbeatMs?: number;
  heartbeatTimeoutMs?: number;
  /** Serve `wss://` with this certificate and key (PEM). */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

const key = (ex: string, id: number) => `${ex}|${id}`;

export class FakeGateway {
  readonly opts: FakeGatewayOptions;
  private wss: WebSocketServer | undefined;
  private https: HttpsServer | undefined;
  private readonly conns = new Set<Conn>();
  /** Every valid client frame, in arrival order, with the strategy of its connection. */
  readonly received: Array<{ strategy?: string; msg: ClientMessage }> = [];
  readonly events = new Map<string, FakeEvent[]>();
  readonly orders = new Map<string, Map<string, FakeOrder>>();
  readonly positions = new Map<string, Map<string, Decimal>>();
  readonly books = new Map<string, L3Book>();
  /** Request types answered with nothing at all (lost on the floor). */
  readonly blackhole = new Set<string>();
  /** Cancels are recorded (PendingCancel) but answered only by `answerCancels()`. */
  holdCancels = false;
  /** Send nothing at all, heartbeats included. */
  mute = false;
  /** Logins seen (with their resume). */
  readonly logins: Array<{ strategy: string; resume?: number }> = [];
  /** Oldest event seq still held per strategy (for ResumeUnavailable). */
  readonly oldest = new Map<string, number>();
  private nextExch = 1;
  private nextSession = 1;
  private nextCmd = 1;
  private readonly cmdWaiters = new Map<string, (r: { ok: boolean; text: string }) => void>();
  private readonly heldCancels: Array<{ strategy: string; clientId: string }> = [];
  venueStatus: GatewayStatus = GatewayStatus.ReadyToTrade;
  port = 0;

  constructor(opts: FakeGatewayOptions) {
    this.opts = opts;
    for (const i of opts.instruments) this.books.set(key(i.exchange, i.instrumentId), new L3Book());
  }

  get url(): string {
    return `${this.opts.tls ? 'wss' : 'ws'}://127.0.0.1:${this.port}/v1`;
  }

  async start(port = 0): Promise<void> {
    const tls = this.opts.tls;
    this.https = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }) : undefined;
    this.wss = new WebSocketServer(this.https ? { server: this.https } : { host: '127.0.0.1', port });
    await new Promise<void>((resolve) => {
      this.wss!.once('listening', () => resolve());
      this.https?.listen(port, '127.0.0.1');
    });
    this.port = (this.wss.address() as { port: number }).port;
    this.wss.on('connection', (ws) => this.onConnection(ws));
  }

  async close(): Promise<void> {
    for (const c of this.conns) {
      if (c.hb) clearInterval(c.hb);
      c.ws.terminate();
    }
    this.conns.clear();
    await new Promise<void>((resolve) => (this.wss ? this.wss.close(() => resolve()) : resolve()));
    if (this.https) {
      const closed = new Promise<void>((resolve) => this.https!.close(() => resolve()));
      this.https.closeAllConnections();
      await closed;
    }
  }

  /** The live connection of a strategy. */
  conn(strategy: string): Conn | undefined {
    for (const c of this.conns) if (c.strategy === strategy) return c;
    return undefined;
  }

  /** Drops a strategy's connection without a close frame (a network cut). */
  cut(strategy: string): void {
    const c = this.conn(strategy);
    if (!c) return;
    this.conns.delete(c);
    if (c.hb) clearInterval(c.hb);
    c.ws.terminate();
  }

  /** Closes a strategy's connection with a code (after an error frame when given). */
  kick(strategy: string, code: number, reason: string): void {
    const c = this.conn(strategy);
    if (!c) return;
    this.send(c, errorBody({ code, reason, fatal: true }));
    c.ws.close(code, reason);
  }

  /** Sends a raw text frame to a strategy's connection (malformed frames). */
  sendRaw(strategy: string, text: string): void {
    this.conn(strategy)?.ws.send(text);
  }

  private onConnection(ws: WebSocket): void {
    const c: Conn = { ws, seq: 0, subs: new Set() };
    this.conns.add(c);
    ws.on('message', (data) => this.onFrame(c, data as Buffer));
    ws.on('close', () => {
      if (c.hb) clearInterval(c.hb);
      this.conns.delete(c);
    });
    ws.on('error', () => {});
  }

  private send(c: Conn, body: FrameBody<GatewayMessage>): void {
    if (this.mute || c.ws.readyState !== c.ws.OPEN) return;
    c.ws.send(serializeFrame(body, ++c.seq));
  }

  private onFrame(c: Conn, data: Buffer): void {
    const r = parseClientFrame(data);
    if (!r.ok) {
      this.send(c, errorBody({ code: r.code, reason: r.reason, reqId: r.reqId, refSeq: r.refSeq }));
      return;
    }
    const msg = r.msg;
    this.received.push({ strategy: c.strategy, msg });
    if (msg.type !== 'login' && msg.type !== 'heartbeat' && c.strategy === undefined) {
      this.send(c, errorBody({ code: ProtocolErrorCode.NotLoggedIn, reason: 'not logged in', reqId: msg.reqId, refSeq: msg.seq }));
      return;
    }
    if (this.blackhole.has(msg.type)) return;
    const s = c.strategy!;
    switch (msg.type) {
      case 'login':
        return this.onLogin(c, msg);
      case 'heartbeat':
        return;
      case 'logout':
        c.ws.close(1000, 'logout');
        return;
      case 'subscribe':
        return this.onSubscribe(c, msg);
      case 'new_order':
        return this.onNewOrder(s, msg);
      case 'modify_order': {
        const o = this.orders.get(s)?.get(msg.clientId);
        if (!o || isClosed(o.status)) {
          this.record(s, 'onModifyOrderReject', { exchange: msg.exchange, clientId: msg.clientId, rejectCode: RejectCode.VenueUnknownOrder, rejectReason: 'no such open order' }, msg.clientId);
          return;
        }
        o.price = msg.newPrice ?? o.price;
        o.qty = new Decimal(msg.newQty ?? o.qty);
        this.record(s, 'onModifyOrderAck', { exchange: msg.exchange, clientId: msg.clientId, newPrice: o.price, newQty: o.qty.toFixed(), leavesQty: o.qty.sub(o.filled).toFixed() }, msg.clientId);
        return;
      }
      case 'cancel_order': {
        const o = this.orders.get(s)?.get(msg.clientId);
        if (!o || isClosed(o.status)) {
          this.record(s, 'onCancelOrderReject', { exchange: msg.exchange, clientId: msg.clientId, rejectCode: RejectCode.VenueOrderClosed, rejectReason: 'not open' }, msg.clientId);
          return;
        }
        if (this.holdCancels) {
          o.status = OrderStatus.PendingCancel;
          this.heldCancels.push({ strategy: s, clientId: msg.clientId });
          return;
        }
        this.cancel(s, msg.clientId, CancelCode.Requested, false);
        return;
      }
      case 'cancel_all': {
        for (const [cid, o] of this.orders.get(s) ?? []) if (!isClosed(o.status) && o.msg.instrumentId === msg.instrumentId) this.cancel(s, cid, CancelCode.CancelAll, false, false);
        this.record(s, 'onCancelAllAck', { exchange: msg.exchange, instrumentId: msg.instrumentId });
        return;
      }
      case 'fetch': {
        if (msg.what === 'PositionInfo') {
          const p = this.positions.get(s)?.get(key(msg.exchange, msg.instrumentId ?? 0)) ?? new Decimal(0);
          this.record(s, 'onPositionInfo', { exchange: msg.exchange, instrumentId: msg.instrumentId ?? 0, position: p.toFixed() });
        } else this.record(s, 'onUnsupportedOp', { exchange: msg.exchange, unsupportedMsgType: msg.what });
        return;
      }
      case 'sync':
        this.send(c, { type: 'sync_result', reqId: msg.reqId, orders: this.openOrders(s), positions: this.positionList(s), lastEventSeq: this.lastSeq(s) });
        return;
      case 'cmd_result': {
        const w = this.cmdWaiters.get(msg.reqId);
        this.cmdWaiters.delete(msg.reqId);
        w?.({ ok: msg.ok, text: msg.text });
        return;
      }
    }
  }

  private onLogin(c: Conn, msg: Extract<ClientMessage, { type: 'login' }>): void {
    if (c.strategy !== undefined) {
      this.send(c, errorBody({ code: ProtocolErrorCode.UnexpectedMessage, reason: 'already logged in', reqId: msg.reqId }));
      return;
    }
    if (this.opts.strategies[msg.strategy] !== msg.token) {
      this.send(c, errorBody({ code: ProtocolErrorCode.BadCredentials, reason: 'bad credentials', reqId: msg.reqId, fatal: true }));
      c.ws.close(ProtocolErrorCode.BadCredentials, 'bad credentials');
      return;
    }
    if (this.conn(msg.strategy)) {
      this.send(c, errorBody({ code: ProtocolErrorCode.AlreadyLoggedIn, reason: 'already logged in elsewhere', reqId: msg.reqId, fatal: true }));
      c.ws.close(ProtocolErrorCode.AlreadyLoggedIn, 'already logged in');
      return;
    }
    c.strategy = msg.strategy;
    this.logins.push({ strategy: msg.strategy, resume: msg.resume?.lastEventSeq });
    const last = this.lastSeq(msg.strategy);
    const hb = this.opts.heartbeatMs ?? 5_000;
    this.send(c, {
      type: 'login_ack',
      reqId: msg.reqId,
      sessionId: `fake-${this.nextSession++}`,
      heartbeatMs: hb,
      heartbeatTimeoutMs: this.opts.heartbeatTimeoutMs ?? 3 * hb,
      limits: { maxFrameBytes: 65536, maxMsgsPerSec: 100, burstMsgs: 200 },
      venues: this.venues(),
      lastEventSeq: last,
    });
    c.hb = setInterval(() => this.send(c, { type: 'heartbeat', ts: 1 }), hb);
    if (msg.resume) {
      const n = msg.resume.lastEventSeq;
      const oldest = this.oldest.get(msg.strategy) ?? 1;
      if (n > last || n + 1 < oldest) {
        this.send(c, errorBody({ code: ProtocolErrorCode.ResumeUnavailable, reason: `cannot resume from ${n}` }));
        return;
      }
      for (const e of this.events.get(msg.strategy) ?? []) if (e.eventSeq > n) this.send(c, { type: 'event', eventSeq: e.eventSeq, cb: e.cb, ev: e.ev } as FrameBody<GatewayMessage>);
    }
  }

  private venues() {
    const byEx = new Map<string, Instrument[]>();
    for (const i of this.opts.instruments) {
      if (!byEx.has(i.exchange)) byEx.set(i.exchange, []);
      byEx.get(i.exchange)!.push(i);
    }
    return [...byEx].map(([exchange, insts]) => ({ exchange, status: this.venueStatus, instruments: insts.map(instrumentToSpec) }));
  }

  private onSubscribe(c: Conn, msg: Extract<ClientMessage, { type: 'subscribe' }>): void {
    for (const id of msg.instrumentIds) {
      if (!this.books.has(key(msg.exchange, id))) {
        this.send(c, errorBody({ code: ProtocolErrorCode.UnknownInstrument, reason: `unknown instrument ${id}`, reqId: msg.reqId, refSeq: msg.seq }));
        return;
      }
    }
    this.send(c, { type: 'subscribe_ack', reqId: msg.reqId });
    for (const id of msg.instrumentIds) {
      c.subs.add(key(msg.exchange, id));
      const rows = encodeMd(this.snapshot(msg.exchange, id));
      // Split the snapshot over frames, as a real gateway may.
      for (let i = 0; i < rows.length; i += 3) this.send(c, { type: 'md', exchange: msg.exchange, events: rows.slice(i, i + 3) });
    }
  }

  /** Snapshot rows of one instrument: SnapshotStart, Clear, the orders FIFO per level, SnapshotEnd. */
  snapshot(exchange: string, instrumentId: number): MdEvent[] {
    const book = this.books.get(key(exchange, instrumentId))!;
    const ts = 1_718_000_000_000_000;
    const st = (status: number): MdEvent => ({ type: MdType.Status, instrumentId, exchTs: ts, localTs: ts, side: 0, orderId: 0, priceTick: 0, qty: 0, status });
    const out: MdEvent[] = [st(MdStatus.SnapshotStart), { ...st(0), type: MdType.Clear }];
    for (const side of [1, -1] as const) {
      for (let i = 0; i < book.l2.depth(side); i++) {
        const tick = book.l2.levelTick(side, i);
        book.forEachOrderAt(side, tick, (o) => {
          out.push({ type: MdType.OrderAdd, instrumentId, exchTs: ts, localTs: ts, side, orderId: o.id, priceTick: tick, qty: o.qty, status: 0 });
        });
      }
    }
    out.push(st(MdStatus.SnapshotEnd));
    return out;
  }

  /** Applies market events to the gateway's books and sends them to subscribers. */
  publish(exchange: string, events: MdEvent[]): void {
    for (const e of events) this.books.get(key(exchange, e.instrumentId))?.apply(e);
    for (const c of this.conns) {
      const mine = events.filter((e) => c.subs.has(key(exchange, e.instrumentId)));
      if (mine.length) this.send(c, { type: 'md', exchange, events: encodeMd(mine) });
    }
  }

  /** Sends a `gateway_status` to every logged-in connection. */
  status(exchange: string, status: GatewayStatus, detail: string): void {
    this.venueStatus = status;
    for (const c of this.conns) if (c.strategy) this.send(c, { type: 'gateway_status', exchange, status, detail });
  }

  lastSeq(strategy: string): number {
    const ev = this.events.get(strategy);
    return ev && ev.length ? ev[ev.length - 1]!.eventSeq : 0;
  }

  /** Records an event of a strategy and sends it to its live connection. */
  record(strategy: string, cb: keyof WireEventMap, ev: Record<string, unknown>, clientId?: string): number {
    let list = this.events.get(strategy);
    if (!list) this.events.set(strategy, (list = []));
    const e: FakeEvent = { eventSeq: this.lastSeq(strategy) + 1, cb, ev, clientId };
    list.push(e);
    const c = this.conn(strategy);
    if (c) this.send(c, { type: 'event', eventSeq: e.eventSeq, cb, ev } as FrameBody<GatewayMessage>);
    return e.eventSeq;
  }

  /** Forgets the event history (a gateway whose store was reset): resume then fails with 4014. */
  resetHistory(strategy: string): void {
    this.oldest.set(strategy, this.lastSeq(strategy) + 1);
  }

  private onNewOrder(s: string, msg: NewOrderMsg): void {
    let book = this.orders.get(s);
    if (!book) this.orders.set(s, (book = new Map()));
    const known = book.get(msg.clientId);
    if (known) {
      const same = JSON.stringify({ ...known.msg, seq: 0, reqId: '' }) === JSON.stringify({ ...msg, seq: 0, reqId: '' });
      if (!same) {
        this.record(s, 'onNewOrderReject', { exchange: msg.exchange, clientId: msg.clientId, rejectCode: RejectCode.DuplicateClientId, rejectReason: 'duplicate client id' });
        return;
      }
      // Idempotent: the recorded events of that order again, with their original eventSeq.
      const c = this.conn(s)!;
      for (const e of this.events.get(s) ?? []) if (e.clientId === msg.clientId) this.send(c, { type: 'event', eventSeq: e.eventSeq, cb: e.cb, ev: e.ev } as FrameBody<GatewayMessage>);
      return;
    }
    const o: FakeOrder = { msg, exchangeId: `SIM-${this.nextExch++}`, status: OrderStatus.Open, price: msg.price ?? '0', qty: new Decimal(msg.qty), filled: new Decimal(0) };
    book.set(msg.clientId, o);
    this.record(
      s,
      'onNewOrderAck',
      {
        exchange: msg.exchange,
        clientId: msg.clientId,
        exchangeId: o.exchangeId,
        instrumentId: msg.instrumentId,
        side: msg.side,
        price: o.price,
        qty: msg.qty,
        leavesQty: msg.qty,
        orderType: msg.orderType,
        tif: msg.tif,
        execInstr: msg.execInstr,
      },
      msg.clientId,
    );
  }

  /** Fills (part of) an order: an execution event, position updated. */
  fill(strategy: string, clientId: string, qty: string, ts = 1_718_000_000_500_000): void {
    const o = this.orders.get(strategy)!.get(clientId)!;
    o.filled = o.filled.add(qty);
    const leaves = o.qty.sub(o.filled);
    o.status = leaves.isZero() ? OrderStatus.Filled : OrderStatus.PartiallyFilled;
    let pos = this.positions.get(strategy);
    if (!pos) this.positions.set(strategy, (pos = new Map()));
    const k = key(o.msg.exchange, o.msg.instrumentId);
    pos.set(k, (pos.get(k) ?? new Decimal(0)).add(o.msg.side === Side.Buy ? qty : new Decimal(qty).neg()));
    this.record(
      strategy,
      'onOrderExecution',
      { exchange: o.msg.exchange, clientId, side: o.msg.side, price: o.price, fillQty: qty, leavesQty: leaves.toFixed(), execTs: ts, recvTs: ts, instrumentId: o.msg.instrumentId, fee: '0', liquidity: 'Maker' },
      clientId,
    );
  }

  private cancel(s: string, clientId: string, code: CancelCode, unsolicited: boolean, ack = true): void {
    const o = this.orders.get(s)!.get(clientId)!;
    o.status = OrderStatus.Cancelled;
    if (ack) this.record(s, 'onCancelOrderAck', { exchange: o.msg.exchange, clientId }, clientId);
    this.record(s, 'onOrderCancelled', { exchange: o.msg.exchange, clientId, unsolicited, engineTs: 1, recvTs: 1, cancelCode: code, cancelReason: 'cancelled' }, clientId);
  }

  /** Answers the cancels held by `holdCancels`. */
  answerCancels(): void {
    for (const h of this.heldCancels.splice(0)) this.cancel(h.strategy, h.clientId, CancelCode.Requested, false);
  }

  private openOrders(s: string): WireOrderStatus[] {
    const out: WireOrderStatus[] = [];
    for (const [cid, o] of this.orders.get(s) ?? []) {
      if (isClosed(o.status)) continue;
      out.push({
        exchange: o.msg.exchange,
        instrumentId: o.msg.instrumentId,
        clientOrdId: cid,
        exchOrdId: o.exchangeId,
        side: o.msg.side,
        price: o.price,
        leavesQty: o.qty.sub(o.filled).toFixed(),
        status: o.status,
        orderType: o.msg.orderType,
        tif: o.msg.tif,
        execInstr: o.msg.execInstr,
      });
    }
    return out;
  }

  private positionList(s: string) {
    const out: Array<{ exchange: string; instrumentId: number; position: string }> = [];
    for (const [k, p] of this.positions.get(s) ?? []) {
      if (p.isZero()) continue;
      const [exchange, id] = k.split('|');
      out.push({ exchange: exchange!, instrumentId: Number(id), position: p.toFixed() });
    }
    return out;
  }

  /** Runs a command hook of a strategy; resolves with its `cmd_result`. */
  cmd(strategy: string, name: string, params: string[]): Promise<{ ok: boolean; text: string }> {
    const c = this.conn(strategy)!;
    const reqId = `g${this.nextCmd++}`;
    return new Promise((resolve) => {
      this.cmdWaiters.set(reqId, resolve);
      this.send(c, { type: 'cmd', reqId, name, params });
    });
  }

  /** Frames of one type a strategy sent. */
  sent<T extends ClientMessage['type']>(strategy: string, type: T): Array<Extract<ClientMessage, { type: T }>> {
    return this.received.filter((r) => r.strategy === strategy && r.msg.type === type).map((r) => r.msg as Extract<ClientMessage, { type: T }>);
  }
}

function isClosed(s: OrderStatus): boolean {
  return s === OrderStatus.Filled || s === OrderStatus.Cancelled || s === OrderStatus.Rejected;
}

/** Waits until `cond` holds (polling), or fails after `ms`. */
export async function until(cond: () => boolean, ms = 5_000, what = 'condition'): Promise<void> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
