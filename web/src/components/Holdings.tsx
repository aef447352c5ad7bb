import { useState } from 'preact/hooks';
import { api } from '../lib/api';
import { add, dec, toText } from '../lib/decimal';
import * as fmt from '../lib/format';
import { useStore } from '../lib/hooks';
import { useLive } from '../lib/live';
import { canModify, classTag, heldNote, isOpen, orderPrice, trailingLine, waterLabel } from '../lib/orders';
import { revalue } from '../lib/pnl';
import { cancelReason } from '../lib/session';
import type { Order, Position } from '../lib/types';
import { orderBook, orders, portfolio, positions, refreshAccountSoon, session } from '../state';
import { Change, ErrorNote, Section } from './common';
import { Link } from './Link';

const TICKER = ['ticker'] as const;

export function PortfolioSummary() {
  const p = useStore(portfolio);
  return (
    <section class="card" aria-labelledby="portfolio-title">
      <h2 id="portfolio-title">Portfolio value</h2>
      <p class="value" data-testid="portfolio-value">
        {fmt.money(p?.equity)}
      </p>
      <p>
        <Change value={p?.day_change}>
          {fmt.signedMoney(p?.day_change)} ({fmt.pct(p?.day_change_pct)})
        </Change>{' '}
        <span class="muted">today</span>
      </p>
      <dl class="kv">
        <div>
          <dt>Cash</dt>
          <dd>{fmt.money(p?.cash)}</dd>
        </div>
        <div>
          <dt>Buying power</dt>
          <dd>{fmt.money(p?.buying_power)}</dd>
        </div>
        <div>
          <dt>Stocks</dt>
          <dd>{fmt.money(p?.market_value)}</dd>
        </div>
        <div>
          <dt>Unrealized P&amp;L</dt>
          <dd>
            <Change value={p?.unrealized_pl}>{fmt.signedMoney(p?.unrealized_pl)}</Change>
          </dd>
        </div>
        <div>
          <dt>Realized P&amp;L</dt>
          <dd>
            <Change value={p?.realized_pl}>{fmt.signedMoney(p?.realized_pl)}</Change>
          </dd>
        </div>
        <div>
          <dt>Total P&amp;L</dt>
          <dd>
            <Change value={p?.total_pl}>{fmt.signedMoney(p?.total_pl)}</Change>
          </dd>
        </div>
      </dl>
    </section>
  );
}

/** One holding, revalued at the live last price. */
function PositionRow({ p }: { p: Position }) {
  const d = useLive(p.symbol, TICKER);
  const v = revalue(p, d.ticker?.last ?? null);
  return (
    <tr>
      <th scope="row">
        <Link href={`/stocks/${p.symbol}`}>{p.symbol}</Link>
      </th>
      <td class="num">{fmt.qty(p.qty)}</td>
      <td class="num">{fmt.price(p.avg_entry_price)}</td>
      <td class="num">{fmt.price(v.current_price)}</td>
      <td class="num">{fmt.money(v.market_value)}</td>
      <td class="num">
        <Change value={v.unrealized_pl}>
          {fmt.signedMoney(v.unrealized_pl)} <span class="hide-phone">({fmt.pct(v.unrealized_pl_pct)})</span>
        </Change>
      </td>
      <td class="num">
        <Change value={v.day_change}>
          {fmt.signedMoney(v.day_change)} <span class="hide-phone">({fmt.pct(v.day_change_pct)})</span>
        </Change>
      </td>
    </tr>
  );
}

export function Positions() {
  const list = useStore(positions);
  const held = (list ?? []).filter((p) => fmt.nonZero(p.qty));
  return (
    <Section title="Positions" id="positions-title">
      {list === null ? (
        <p class="empty">Loading…</p>
      ) : held.length === 0 ? (
        <p class="empty">No positions yet. Search for a stock to buy.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Symbol</th>
                <th scope="col" class="num">
                  Shares
                </th>
                <th scope="col" class="num">
                  Avg cost
                </th>
                <th scope="col" class="num">
                  Price
                </th>
                <th scope="col" class="num">
                  Market value
                </th>
                <th scope="col" class="num">
                  Unrealized P&amp;L
                </th>
                <th scope="col" class="num">
                  Day P&amp;L
                </th>
              </tr>
            </thead>
            <tbody>
              {held.map((p) => (
                <PositionRow key={p.symbol} p={p} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Section>
  );
}

/** The position in one stock, for its page. */
export function StockPosition({ symbol }: { symbol: string }) {
  const list = useStore(positions);
  const s = useStore(session);
  const p = list?.find((x) => x.symbol === symbol && fmt.nonZero(x.qty));
  const d = useLive(symbol, TICKER);
  if (!s || !p) return null;
  const v = revalue(p, d.ticker?.last ?? null);
  return (
    <Section title="Your position" id="position-title">
      <dl class="kv">
        <div>
          <dt>Shares</dt>
          <dd>{fmt.qty(p.qty)}</dd>
        </div>
        <div>
          <dt>Average cost</dt>
          <dd>{fmt.price(p.avg_entry_price)}</dd>
        </div>
        <div>
          <dt>Market value</dt>
          <dd>{fmt.money(v.market_value)}</dd>
        </div>
        <div>
          <dt>Unrealized P&amp;L</dt>
          <dd>
            <Change value={v.unrealized_pl}>
              {fmt.signedMoney(v.unrealized_pl)} ({fmt.pct(v.unrealized_pl_pct)})
            </Change>
          </dd>
        </div>
        <div>
          <dt>Day P&amp;L</dt>
          <dd>
            <Change value={v.day_change}>
              {fmt.signedMoney(v.day_change)} ({fmt.pct(v.day_change_pct)})
            </Change>
          </dd>
        </div>
        <div>
          <dt>Realized P&amp;L</dt>
          <dd>
            <Change value={p.realized_pl}>{fmt.signedMoney(p.realized_pl)}</Change>
          </dd>
        </div>
      </dl>
    </Section>
  );
}

function orderName(o: Order): string {
  return `${o.symbol} ${o.side} ${o.leaves_qty}${o.limit_price ? ` at ${o.limit_price}` : ''} (#${o.id})`;
}

function Modify({ o, done }: { o: Order; done: () => void }) {
  const [qty, setQty] = useState(o.leaves_qty);
  const [price, setPrice] = useState(o.limit_price ?? '');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const hasLimit = o.type === 'limit' || o.type === 'stop_limit';
  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await api.replaceOrder(o.id, qty.trim(), hasLimit ? price.trim() : undefined);
      // Shown at once; the feed's report (with its seq) follows and lands on top.
      const have = orderBook.get(o.id);
      if (have) {
        orderBook.upsert({
          ...have,
          leaves_qty: r.leaves_qty,
          limit_price: r.limit_price,
          qty: toText(add(dec(have.filled_qty), dec(r.leaves_qty))),
        });
      }
      orders.update((v) => v + 1);
      refreshAccountSoon();
      done();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="inline-form" onSubmit={(e) => void save(e)} aria-label={`Modify order ${orderName(o)}`}>
      <div>
        <label for={`modify-qty-${o.id}`}>Open shares</label>
        <input id={`modify-qty-${o.id}`} inputMode="decimal" value={qty} onInput={(e) => setQty(e.currentTarget.value)} />
      </div>
      {hasLimit && (
        <div>
          <label for={`modify-price-${o.id}`}>Limit price</label>
          <input id={`modify-price-${o.id}`} inputMode="decimal" value={price} onInput={(e) => setPrice(e.currentTarget.value)} />
        </div>
      )}
      <button type="submit" class="primary small" disabled={busy}>
        Save changes
      </button>
      <button type="button" class="ghost small" onClick={done}>
        Discard
      </button>
      {error != null && <ErrorNote error={error} />}
    </form>
  );
}

function OrderRow({ o }: { o: Order }) {
  const held = heldNote(o, o.class_id ? orderBook.get(o.class_id) : undefined);
  const [editing, setEditing] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const cancel = async () => {
    setBusy(true);
    setError(null);
    try {
      await api.cancelOrder(o.id);
      const have = orderBook.get(o.id);
      if (have && isOpen(have)) {
        orderBook.upsert({ ...have, status: 'canceled', leaves_qty: '0', cancel_reason: 'REQUESTED' });
      }
      orders.update((v) => v + 1);
      refreshAccountSoon();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <tr>
        <th scope="row">
          <Link href={`/stocks/${o.symbol}`}>{o.symbol}</Link>
        </th>
        <td class={o.side === 'buy' ? 'up' : 'down'}>{o.side === 'buy' ? 'Buy' : 'Sell'}</td>
        <td>
          {fmt.label(o.type)}
          {classTag(o) && <span class="badge class-tag">{classTag(o)}</span>}
        </td>
        <td class="num">
          {fmt.qty(o.leaves_qty)}
          {fmt.nonZero(o.filled_qty) && <span class="muted"> ({fmt.qty(o.filled_qty)} filled)</span>}
        </td>
        {o.type === 'trailing_stop' ? (
          // The stop as it is now (it follows the price, live from `stop_moved`) and the trail.
          <td class="num" data-testid={`trailing-stop-${o.id}`} title={waterLabel(o) ? `The stop follows the ${waterLabel(o)} (since the order was placed)` : undefined}>
            {trailingLine(o)}
          </td>
        ) : (
          <td class="num">
            {o.stop_price && <span class="muted">stop {fmt.price(o.stop_price)} </span>}
            {o.limit_price ? fmt.price(o.limit_price) : o.type === 'market' ? 'Market' : fmt.DASH}
            {o.notional != null && <span class="muted"> · {fmt.notional(o.notional)}</span>}
          </td>
        )}
        <td>
          {o.time_in_force.toUpperCase()}
          {o.extended_hours && (
            <span class="muted" title="Also trades in pre-market and after-hours">
              {' '}
              · EXT
            </span>
          )}
        </td>
        <td>
          {fmt.label(o.status)}
          {held && <span class="muted"> ({held})</span>}
        </td>
        <td>
          <div class="row">
            {canModify(o) && (
              <button type="button" class="small" aria-expanded={editing} aria-label={`Modify order ${orderName(o)}`} onClick={() => setEditing((x) => !x)}>
                Modify
              </button>
            )}
            <button type="button" class="small danger" disabled={busy} aria-label={`Cancel order ${orderName(o)}`} onClick={() => void cancel()}>
              Cancel
            </button>
          </div>
        </td>
      </tr>
      {(editing || error != null) && (
        <tr>
          <td colSpan={8}>
            {editing && <Modify o={o} done={() => setEditing(false)} />}
            {error != null && <ErrorNote error={error} />}
          </td>
        </tr>
      )}
    </>
  );
}

export function OpenOrders({ symbol }: { symbol?: string }) {
  useStore(orders);
  const s = useStore(session);
  if (!s) return null;
  const list = orderBook.open().filter((o) => !symbol || o.symbol === symbol);
  if (symbol && list.length === 0) return null;
  return (
    <Section title={symbol ? `Open orders in ${symbol}` : 'Open orders'} id={symbol ? 'stock-orders-title' : 'orders-title'}>
      {list.length === 0 ? (
        <p class="empty">No open orders.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Symbol</th>
                <th scope="col">Side</th>
                <th scope="col">Type</th>
                <th scope="col" class="num">
                  Open shares
                </th>
                <th scope="col" class="num">
                  Price
                </th>
                <th scope="col">TIF</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((o) => (
                <OrderRow key={o.id} o={o} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Section>
  );
}

export const StockOrders = ({ symbol }: { symbol: string }) => <OpenOrders symbol={symbol} />;

/** How many ended orders the recent orders show. */
const RECENT = 20;

/**
 * Orders that have ended (filled, canceled, expired, rejected), newest first: what this page
 * placed or was told about, and the server's latest closed orders. A notional order shows its
 * amount beside the shares the engine bought or sold for it.
 */
export function RecentOrders({ symbol }: { symbol?: string }) {
  useStore(orders);
  const s = useStore(session);
  if (!s) return null;
  const list = orderBook
    .all()
    .filter((o) => !isOpen(o) && (!symbol || o.symbol === symbol))
    .slice(0, RECENT);
  if (symbol && list.length === 0) return null;
  return (
    <Section title={symbol ? `Recent orders in ${symbol}` : 'Recent orders'} id={symbol ? 'stock-recent-orders-title' : 'recent-orders-title'}>
      {list.length === 0 ? (
        <p class="empty">No orders have ended yet.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Symbol</th>
                <th scope="col">Side</th>
                <th scope="col">Order</th>
                <th scope="col" class="num">
                  Filled shares
                </th>
                <th scope="col" class="num">
                  Avg price
                </th>
                <th scope="col">Status</th>
                <th scope="col" class="hide-phone">
                  Time
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((o) => (
                <tr key={o.id}>
                  <th scope="row">
                    <Link href={`/stocks/${o.symbol}`}>{o.symbol}</Link>
                  </th>
                  <td class={o.side === 'buy' ? 'up' : 'down'}>{o.side === 'buy' ? 'Buy' : 'Sell'}</td>
                  <td>
                    {orderPrice(o)}
                    {o.notional != null && <span class="muted"> · {fmt.notional(o.notional)}</span>}
                    {classTag(o) && <span class="badge class-tag">{classTag(o)}</span>}
                  </td>
                  <td class="num">
                    {fmt.qty(o.filled_qty)} <span class="muted">of {fmt.qty(o.qty)}</span>
                  </td>
                  <td class="num">{fmt.nonZero(o.filled_qty) ? fmt.price(o.filled_avg_price) : fmt.DASH}</td>
                  <td>
                    {fmt.label(o.status)}
                    {o.cancel_reason && <span class="muted"> ({cancelReason(o.cancel_reason)})</span>}
                  </td>
                  <td class="muted hide-phone">{fmt.clock(o.updated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Section>
  );
}
