/**
 * The HTML report in a real browser: a small AAPL backtest that trades, its report opened
 * in headless Chromium (the Debian `chromium` package; CI installs it in `.ci/run`).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BaseStrategy, ExecInstr, MDSub, OrderStatus, OrderType, Side, TimeInForce, type BestLevelUpdate, type IStratEnv, type Instrument, type Price } from '../../src/api/index.js';
import { runBacktest } from '../../src/backtest/backtest.js';
import { REPORT_CHARTS, renderReport, writeReport } from '../../src/backtest/report.js';
import { silentLogger } from '../../src/core/logger.js';
import { openMarketData } from '../../src/data/open.js';
import { AAPL, ROOT } from '../helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const EX = 'NASDAQ';

/**
 * Every 25th BBO update: a post-only buy at the ask (the venue rejects it), then a round
 * trip — an IOC buy at the ask (taker), a resting sell at the ask (maker), and after a
 * while a cancel and an IOC sell at the bid.
 */
class RoundTripper extends BaseStrategy {
  inst!: Instrument;
  bid?: Price;
  ask?: Price;
  n = 0;
  resting?: string;
  age = 0;
  postOnlySent = 0;
  override onFrameworkConnected(env: IStratEnv) {
    this.env = env;
    env.login('round-tripper');
    env.subscribeToMarketData(EX, ['nasdaq:equity:aapl'], [MDSub.BBO]);
  }
  override onInstruments(i: Instrument[]) {
    this.inst = i[0]!;
  }
  override onBestBidLevelUpdate(ev: BestLevelUpdate) {
    this.bid = ev.qty.isZero() ? undefined : ev.price;
    this.step();
  }
  override onBestAskLevelUpdate(ev: BestLevelUpdate) {
    this.ask = ev.qty.isZero() ? undefined : ev.price;
    this.step();
  }
  private order(side: Side, price: Price, tif: TimeInForce, execInstr?: ExecInstr): string {
    return this.env.sendNewOrder({ exchange: EX, instrumentId: this.inst.instrumentId, side, price, qty: '10', ordType: OrderType.Limit, timeInForce: tif, execInstr });
  }
  private step() {
    if (!this.bid || !this.ask || ++this.n % 25 !== 0) return;
    if (this.postOnlySent < 3) {
      this.postOnlySent++;
      this.order(Side.Buy, this.ask, TimeInForce.GTC, ExecInstr.PostOnly);
    }
    const r = this.resting ? this.env.getOrder(this.resting) : undefined;
    if (r && (r.status === OrderStatus.Filled || r.status === OrderStatus.Cancelled || r.status === OrderStatus.Rejected)) this.resting = undefined;
    const pos = this.env.getPosition(EX, this.inst.instrumentId).position;
    if (this.resting) {
      if (++this.age > 4 && r?.status !== OrderStatus.PendingCancel) {
        this.env.sendCancelOrder(EX, this.inst.instrumentId, this.resting);
        this.order(Side.Sell, this.bid, TimeInForce.IOC);
      }
    } else if (pos.isZero()) {
      this.order(Side.Buy, this.ask, TimeInForce.IOC);
    } else if (pos.isPositive()) {
      this.resting = this.order(Side.Sell, this.ask, TimeInForce.GTC);
      this.age = 0;
    }
  }
}

/** Runs in the page: per chart, its canvases' sizes and whether anything but the white background is drawn. */
const CANVAS_CHECK = `['chart-price', 'chart-equity', 'chart-position', 'chart-latency'].map((id) => {
  const list = [...document.getElementById(id).querySelectorAll('canvas')];
  const inked = list.some((c) => {
    const ctx = c.getContext('2d');
    if (!ctx || c.width === 0 || c.height === 0) return false;
    const px = ctx.getImageData(0, 0, c.width, c.height).data;
    for (let i = 0; i < px.length; i += 4) if (px[i + 3] > 0 && (px[i] < 200 || px[i + 1] < 200 || px[i + 2] < 200)) return true;
    return false;
  });
  return { id, count: list.length, sizes: list.map((c) => [c.width, c.height]), inked };
})`;

describe('HTML report in headless Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tl-report-'));
  let context: BrowserContext | undefined;

  beforeAll(() => {
    // Not a skip: CI installs Chromium (.ci/run), and a report nobody opened is untested.
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium not found at ${CHROMIUM}: the report test needs it. Install it with \`apt-get update && apt-get install -y --no-install-recommends chromium\` (.ci/run does this in CI).`);
    }
  });
  afterAll(async () => {
    await context?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('draws the four charts from a real run, offline, without console errors', async () => {
    const r = await runBacktest({ strategy: new RoundTripper(), source: await openMarketData(AAPL), logger: silentLogger() });
    expect(r.ok).toBe(true);
    const s = r.summary;
    expect(s.fills).toBeGreaterThanOrEqual(2);
    expect(s.liquidity.taker.fills).toBeGreaterThan(0);
    expect(s.liquidity.maker.fills + s.liquidity.taker.fills).toBe(s.fills);
    expect(s.latency.ack.count).toBeGreaterThan(0);
    expect(s.latency.reject.count).toBe(3);
    const data = r.recorder.data();
    expect(data.instruments[0]!.mid.t.length).toBeGreaterThan(10);
    expect(data.instruments[0]!.fills.t.length).toBe(s.fills);

    const file = join(dir, 'report.html');
    writeReport(file, data, s, { timeZone: 'America/New_York' });
    const html = readFileSync(file, 'utf8');
    expect(html).toBe(renderReport(data, s, { timeZone: 'America/New_York' }));
    // Self-contained: no external scripts, styles or fonts.
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=/i);
    expect(html).toContain('LightweightCharts');

    const userDataDir = join(dir, 'profile');
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1400, height: 1100 },
    });
    // Viewing the report must need nothing but the file: refuse (and record) any other request.
    const network: string[] = [];
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('file:') || url.startsWith('data:')) return route.continue();
      network.push(url);
      return route.abort();
    });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));

    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    // Browser-side code is given as text: the project's TypeScript has no DOM types.
    await page.waitForFunction('window.__tradeloopReport && window.__tradeloopReport.drawn === true', undefined, { timeout: 20_000 });
    const state = (await page.evaluate('window.__tradeloopReport')) as { charts: number; drawn: boolean };
    expect(state).toEqual({ charts: REPORT_CHARTS, drawn: true });
    expect(REPORT_CHARTS).toBe(4);

    // Let the charts paint, then look at their canvases.
    await page.evaluate('new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))');
    const canvases = (await page.evaluate(CANVAS_CHECK)) as Array<{ id: string; count: number; sizes: number[][]; inked: boolean }>;
    for (const c of canvases) {
      expect(c.count, c.id).toBeGreaterThan(0);
      expect(c.sizes.some(([w, h]) => w! > 0 && h! > 0), `${c.id} has a canvas of non-zero size`).toBe(true);
      expect(c.inked, `${c.id} has something drawn`).toBe(true);
    }
    // The summary table is there.
    expect(await page.locator('table.summary th', { hasText: 'order→ack latency' }).count()).toBe(1);

    mkdirSync(join(ROOT, 'out'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'out', 'report-test.png'), fullPage: true });

    expect(errors).toEqual([]);
    expect(network).toEqual([]);
  });
});
