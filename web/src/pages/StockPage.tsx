import { useEffect, useLayoutEffect, useState } from 'preact/hooks';
import { AlertForm } from '../components/AlertForm';
import { Chart } from '../components/Chart';
import { RecentOrders, StockOrders, StockPosition } from '../components/Holdings';
import { News } from '../components/News';
import { Ticket } from '../components/Ticket';
import { Change, ErrorNote, StaleBadge } from '../components/common';
import { api, describeError } from '../lib/api';
import { type Dec, ZERO, divDown, max, mul, sign, toText } from '../lib/decimal';
import * as fmt from '../lib/format';
import { useStore } from '../lib/hooks';
import { useLive } from '../lib/live';
import type { SymbolData } from '../lib/market';
import { auctionView } from '../lib/session';
import type { Quote, Stock } from '../lib/types';
import { market, session, toast, unwatch, watch, watchlist } from '../state';
import { pickPrice } from '../ticket-bus';

const CHANNELS = ['book', 'trades', 'ticker', 'candles', 'auction'] as const;
const DEPTH = 20;

let firstLiveQuoteMarked = false;

function QuoteHead({ stock, d }: { stock: Stock; d: SymbolData }) {
  const live = d.ticker;
  const q: Quote | null = live ?? stock.quote;
  const stale = market.isStale(stock.symbol, 'ticker');
  useLayoutEffect(() => {
    if (live && !firstLiveQuoteMarked) {
      firstLiveQuoteMarked = true;
      performance.mark('bourse:first-live-quote');
    }
  }, [live]);
  const last = q?.last ?? q?.prev_close ?? null;
  return (
    <div class={stale && live ? 'quote stale' : 'quote'}>
      <p class="last" aria-label={`Last price ${fmt.price(last)}`}>
        <span data-testid="last-price">{fmt.price(last)}</span>
      </p>
      <p class="change">
        <Change value={q?.change}>
          {fmt.signedPrice(q?.change)} ({fmt.pct(q?.change_pct)})
        </Change>{' '}
        <span class="muted">today</span> {q?.status === 'halted' && <span class="badge">halted</span>}{' '}
        <StaleBadge stale={stale} what="The quote" />
      </p>
    </div>
  );
}

function Stats({ q }: { q: Quote | null }) {
  const rows: Array<[string, string]> = [
    ['Open', fmt.price(q?.open)],
    ['High', fmt.price(q?.high)],
    ['Low', fmt.price(q?.low)],
    ['Prev close', fmt.price(q?.prev_close)],
    ['Volume', fmt.qty(q?.volume)],
    ['Trades', q ? fmt.qty(String(q.trades)) : fmt.DASH],
    ['Bid', q?.bid ? `${fmt.price(q.bid)} × ${fmt.qty(q.bid_size)}` : fmt.DASH],
    ['Ask', q?.ask ? `${fmt.price(q.ask)} × ${fmt.qty(q.ask_size)}` : fmt.DASH],
  ];
  return (
    <dl class="stats">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

/** Width of a depth bar: the cumulative size, in percent of the deeper side's total shown. */
function share(cum: Dec, maxCum: Dec): string {
  const tenths = divDown(mul(cum, { units: 1000n, scale: 0 }), maxCum, 0);
  if (!tenths) return '0%';
  return `${(Number(tenths.units) / 10).toFixed(1)}%`;
}

function Ladder({ symbol, d }: { symbol: string; d: SymbolData }) {
  const stale = market.isStale(symbol, 'book');
  const { bids, asks } = d.sync.book.ladder(DEPTH);
  const spread = d.sync.book.spread();
  const bidTotal = bids[bids.length - 1]?.cum ?? ZERO;
  const askTotal = asks[asks.length - 1]?.cum ?? ZERO;
  const maxCum = max(bidTotal, askTotal);
  const row = (side: 'bid' | 'ask') => (r: (typeof bids)[number]) => (
    <tr key={`${side}${r.price}`} class={side}>
      <td>
        <button
          type="button"
          class="px"
          aria-label={`Use ${side === 'bid' ? 'bid' : 'ask'} price ${fmt.price(r.price)}`}
          onClick={() => pickPrice(symbol, r.price)}
        >
          {fmt.price(r.price)}
        </button>
      </td>
      <td class="num">{fmt.qty(r.qty)}</td>
      <td class="num depth" style={{ '--w': share(r.cum, maxCum) }}>
        {fmt.qty(r.cum)}
      </td>
    </tr>
  );
  return (
    <section class="card ladder" aria-labelledby="ladder-title">
      <div class="card-head">
        <h2 id="ladder-title">Order book</h2>
        <span>
          {d.sync.book.status === 'halted' && <span class="badge">halted</span>} <StaleBadge stale={stale} what="The order book" />
        </span>
      </div>
      <div class={stale ? 'table-wrap stale' : 'table-wrap'}>
        <table aria-describedby="ladder-help">
          <thead>
            <tr>
              <th scope="col">Price</th>
              <th scope="col" class="num">
                Size
              </th>
              <th scope="col" class="num">
                Total
              </th>
            </tr>
          </thead>
          <tbody>
            {[...asks].reverse().map(row('ask'))}
            <tr class="spread">
              <td colSpan={3}>
                {spread && sign(spread) < 0 ? 'Crossed: the call auction uncrosses it' : <>Spread {spread ? fmt.price(toText(spread)) : fmt.DASH}</>}
              </td>
            </tr>
            {bids.map(row('bid'))}
            {bids.length === 0 && asks.length === 0 && (
              <tr>
                <td colSpan={3} class="empty">
                  {d.sync.status === 'live' ? 'No orders in the book' : 'Loading the book…'}
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <p class="help" id="ladder-help">
        Asks above, bids below, {DEPTH} levels a side. Pick a price to use it as the ticket's limit price.
      </p>
    </section>
  );
}

function Tape({ symbol, d }: { symbol: string; d: SymbolData }) {
  const stale = market.isStale(symbol, 'trades');
  return (
    <section class="card" aria-labelledby="tape-title">
      <div class="card-head">
        <h2 id="tape-title">Trades</h2>
        <StaleBadge stale={stale} what="The trade tape" />
      </div>
      <div class={stale ? 'tape stale' : 'tape'}>
        <table>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col" class="num">
                Price
              </th>
              <th scope="col" class="num">
                Shares
              </th>
            </tr>
          </thead>
          <tbody>
            {d.trades.map((t) => (
              <tr key={t.trade_id}>
                <td class="muted">{fmt.clock(t.ts)}</td>
                <td class={`num ${t.side === 'buy' ? 'up' : 'down'}`}>
                  {fmt.price(t.price)} <span class="visually-hidden">{t.side === 'buy' ? 'buyer initiated' : 'seller initiated'}</span>
                </td>
                <td class="num">{fmt.qty(t.qty)}</td>
              </tr>
            ))}
            {d.trades.length === 0 && (
              <tr>
                <td colSpan={3} class="empty">
                  No trades yet
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** A call auction: live indicative figures while it runs, then its uncross (none before the first call). */
function AuctionPanel({ symbol, d }: { symbol: string; d: SymbolData }) {
  const v = auctionView(d.auction);
  if (!v) return null;
  const stale = market.isStale(symbol, 'ticker');
  return (
    <section class="card auction" aria-labelledby="auction-title">
      <div class="card-head">
        <h2 id="auction-title">{v.title}</h2>
        <span>
          <span class="badge">{v.live ? 'indicative' : 'uncrossed'}</span> <StaleBadge stale={stale} what="The auction" />
        </span>
      </div>
      <dl class={stale ? 'stats stale' : 'stats'}>
        {v.rows.map(([k, val]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{val}</dd>
          </div>
        ))}
      </dl>
      <p class="help">
        {v.live
          ? 'Orders are collected without trading; at the uncross they trade at one price, the one that matches the most shares.'
          : 'The auction’s result: its trades are on the tape.'}
      </p>
    </section>
  );
}

function Profile({ stock }: { stock: Stock }) {
  const known = new Set(['symbol', 'name', 'tick', 'lot', 'max_qty', 'quote', 'fractionable']);
  const extra = Object.entries(stock).filter(([k, v]) => !known.has(k) && (typeof v === 'string' || typeof v === 'number'));
  return (
    <section class="card profile" aria-labelledby="profile-title">
      <h2 id="profile-title">About {stock.symbol}</h2>
      <dl class="kv">
        <div>
          <dt>Name</dt>
          <dd>{stock.name}</dd>
        </div>
        <div>
          <dt>Symbol</dt>
          <dd>{stock.symbol}</dd>
        </div>
        <div>
          <dt>Price increment</dt>
          <dd>{fmt.price(stock.tick)}</dd>
        </div>
        <div>
          <dt>Lot size</dt>
          <dd>{fmt.qty(stock.lot)} shares</dd>
        </div>
        <div>
          <dt>Largest order</dt>
          <dd>{fmt.qty(stock.max_qty)} shares</dd>
        </div>
        {stock.fractionable !== undefined && (
          <div>
            <dt>Fractional shares</dt>
            <dd>{stock.fractionable ? 'Yes: to a millionth of a share, and orders in dollars' : 'No: whole shares only'}</dd>
          </div>
        )}
        {extra.map(([k, v]) => (
          <div key={k}>
            <dt>{fmt.label(k)}</dt>
            <dd>{String(v)}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

function Star({ symbol }: { symbol: string }) {
  const s = useStore(session);
  const w = useStore(watchlist);
  const [busy, setBusy] = useState(false);
  if (!s) return null;
  const on = w?.symbols.includes(symbol) ?? false;
  const toggle = async () => {
    setBusy(true);
    try {
      if (on) await unwatch(symbol);
      else await watch(symbol);
    } catch (e) {
      const { code, message } = describeError(e);
      toast('error', 'Watchlist', `${code}: ${message}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <button type="button" class="star ghost" disabled={busy} onClick={() => void toggle()}>
      <span aria-hidden="true">{on ? '★' : '☆'}</span> {on ? 'Remove from watchlist' : 'Add to watchlist'}
    </button>
  );
}

export function StockPage({ symbol }: { symbol: string }) {
  const [stock, setStock] = useState<Stock | null>(null);
  const [error, setError] = useState<unknown>(null);
  const d = useLive(symbol, CHANNELS);

  useEffect(() => {
    let dead = false;
    setStock(null);
    setError(null);
    api.stock(symbol).then(
      (s) => !dead && setStock(s),
      (e: unknown) => !dead && setError(e),
    );
    return () => {
      dead = true;
    };
  }, [symbol]);

  if (error) {
    return (
      <div class="page narrow">
        <h1>{symbol}</h1>
        <ErrorNote error={error} />
      </div>
    );
  }
  if (!stock) return <p class="page muted">Loading {symbol}…</p>;
  const q = d.ticker ?? stock.quote;
  return (
    <div class="page">
      <div class="quote-head">
        <div>
          <h1>{stock.symbol}</h1>
          <p class="quote-name">{stock.name}</p>
          <QuoteHead stock={stock} d={d} />
        </div>
        <div class="row quote-actions">
          <button
            type="button"
            class="primary show-narrow"
            onClick={() => {
              const first = document.querySelector<HTMLElement>('#ticket-type, .ticket a, .ticket button');
              first?.scrollIntoView({ block: 'center' });
              first?.focus();
            }}
          >
            Trade {symbol}
          </button>
          <Star symbol={symbol} />
        </div>
      </div>
      <div class="grid">
        <div class="stack">
          <Chart symbol={symbol} stale={market.isStale(symbol, 'ticker')} />
          <section class="card" aria-labelledby="stats-title">
            <h2 id="stats-title">Today</h2>
            <Stats q={q} />
          </section>
          <div class="two">
            <Ladder symbol={symbol} d={d} />
            <Tape symbol={symbol} d={d} />
          </div>
          <StockPosition symbol={symbol} />
          <StockOrders symbol={symbol} />
          <RecentOrders symbol={symbol} />
          <Profile stock={stock} />
          <News symbol={stock.symbol} />
        </div>
        <div class="stack">
          <AuctionPanel symbol={symbol} d={d} />
          <Ticket stock={stock} quote={q} />
          <AlertForm symbol={symbol} last={q?.last ?? q?.prev_close ?? null} />
        </div>
      </div>
    </div>
  );
}
