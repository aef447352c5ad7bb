import { useEffect, useState } from 'preact/hooks';
import { ApiError, api } from '../lib/api';
import { toText } from '../lib/decimal';
import * as fmt from '../lib/format';
import { useStore } from '../lib/hooks';
import { cancelReason, refusalHint } from '../lib/session';
import {
  ORDER_TYPES,
  TIF_HELP,
  TIME_IN_FORCE,
  type TicketInput,
  allowsExtendedHours,
  allowsPostOnly,
  check,
  describe,
  estimate,
  fundsWarning,
  needsLimit,
  needsStop,
  newClientOrderId,
  normalize,
  tifsFor,
} from '../lib/ticket';
import type { NewOrder, Order, OrderType, Quote, Stock, TimeInForce } from '../lib/types';
import { account, marketClock, orderBook, orders, positions, refreshAccountSoon, session } from '../state';
import { pickedPrice } from '../ticket-bus';
import { ErrorNote } from './common';
import { Link } from './Link';

type Step = { kind: 'edit' } | { kind: 'review'; order: NewOrder } | { kind: 'sending'; order: NewOrder } | { kind: 'done'; order: NewOrder; result: Order } | { kind: 'failed'; order: NewOrder; error: unknown };

/** The outcome as answered, then as the orders channel reports later fills. */
function Result({ answer }: { answer: Order }) {
  useStore(orders);
  const o = orderBook.get(answer.id) ?? answer;
  const filled = o.filled_qty !== '0';
  return (
    <div class="result" role="status">
      <p>
        <strong>{fmt.label(o.status)}</strong>
        {o.cancel_reason && <span class="muted"> ({cancelReason(o.cancel_reason)})</span>}
      </p>
      <dl class="kv">
        <div>
          <dt>Filled</dt>
          <dd>
            {fmt.qty(o.filled_qty)} of {fmt.qty(o.qty)} shares
          </dd>
        </div>
        <div>
          <dt>Average price</dt>
          <dd>{filled ? fmt.price(o.filled_avg_price) : fmt.DASH}</dd>
        </div>
        <div>
          <dt>Open</dt>
          <dd>{fmt.qty(o.leaves_qty)} shares</dd>
        </div>
        <div>
          <dt>Order id</dt>
          <dd>{o.id}</dd>
        </div>
      </dl>
    </div>
  );
}

/** Buy or sell: fields for every order type and time in force, a review step, then the outcome. */
export function Ticket({ stock, quote }: { stock: Stock; quote: Quote | null }) {
  const s = useStore(session);
  const acct = useStore(account);
  const pos = useStore(positions);
  const picked = useStore(pickedPrice);
  const clock = useStore(marketClock);
  const [input, setInput] = useState<TicketInput>({ side: 'buy', type: 'market', tif: 'day', qty: '', limit: '', stop: '', postOnly: false, extendedHours: false });
  const [step, setStep] = useState<Step>({ kind: 'edit' });
  const [showErrors, setShowErrors] = useState(false);
  const [clientId, setClientId] = useState(newClientOrderId);

  useEffect(() => {
    if (!picked || picked.symbol !== stock.symbol) return;
    setInput((i) => ({ ...i, limit: picked.price, type: needsLimit(i.type) ? i.type : 'limit' }));
    setStep({ kind: 'edit' });
  }, [picked, stock.symbol]);

  if (!s) {
    return (
      <section class="card ticket" aria-labelledby="ticket-title">
        <h2 id="ticket-title">Trade {stock.symbol}</h2>
        <p class="muted">
          <Link href="/login">Log in</Link> or <Link href="/signup">sign up</Link> to trade.
        </p>
      </section>
    );
  }

  const set = (patch: Partial<TicketInput>) => {
    setInput((i) => normalize({ ...i, ...patch }));
    if (step.kind !== 'edit') setStep({ kind: 'edit' });
  };
  const checked = check(input, stock, clientId, clock?.session);
  const est = estimate(input, { bid: quote?.bid ?? null, ask: quote?.ask ?? null, last: quote?.last ?? null });
  const held = pos?.find((p) => p.symbol === stock.symbol);
  const funds = fundsWarning(input, est, acct?.buying_power, held?.qty_available ?? '0');
  const warnings = [...checked.warnings, ...(funds ? [funds] : [])];
  const err = (f: 'qty' | 'limit' | 'stop' | 'tif') => (showErrors ? checked.errors[f] : undefined);
  const notes = checked.notes.map((n) => (
    <p key={n} class="help">
      {n}
    </p>
  ));

  const place = async (order: NewOrder) => {
    setStep({ kind: 'sending', order });
    try {
      const result = await api.placeOrder(order);
      orderBook.upsert(result);
      orders.update((v) => v + 1);
      refreshAccountSoon();
      setStep({ kind: 'done', order, result });
      setClientId(newClientOrderId());
    } catch (e) {
      setStep({ kind: 'failed', order, error: e });
      // A refusal means nothing was done: the next try is a new order. An unknown outcome
      // (no answer, or 504) is retried under the same client order id.
      const unknown = e instanceof ApiError && (e.status === 0 || e.code === 'OUTCOME_UNKNOWN');
      if (!unknown) setClientId(newClientOrderId());
    }
  };

  const costLabel = input.side === 'buy' ? 'Estimated cost' : 'Estimated credit';
  const estimateRow = (
    <div class="estimate">
      <span>{costLabel}</span>
      <span class="num" data-testid="estimated-cost">
        {est ? fmt.money(toText(est.total)) : fmt.DASH}
      </span>
    </div>
  );

  if (step.kind !== 'edit') {
    const order = step.order;
    return (
      <section class="card ticket" aria-labelledby="ticket-title">
        <h2 id="ticket-title">{step.kind === 'review' || step.kind === 'sending' ? 'Review order' : 'Order result'}</h2>
        <p>{describe(order)}</p>
        <dl class="summary">
          <div>
            <dt>Side</dt>
            <dd>{order.side === 'buy' ? 'Buy' : 'Sell'}</dd>
          </div>
          <div>
            <dt>Order type</dt>
            <dd>{ORDER_TYPES.find((t) => t.value === order.type)?.label}</dd>
          </div>
          <div>
            <dt>Shares</dt>
            <dd>{fmt.qty(order.qty)}</dd>
          </div>
          {order.stop_price && (
            <div>
              <dt>Stop price</dt>
              <dd>{fmt.price(order.stop_price)}</dd>
            </div>
          )}
          {order.limit_price && (
            <div>
              <dt>Limit price</dt>
              <dd>{fmt.price(order.limit_price)}</dd>
            </div>
          )}
          <div>
            <dt>Time in force</dt>
            <dd>{TIME_IN_FORCE.find((t) => t.value === order.time_in_force)?.label}</dd>
          </div>
          {order.post_only && (
            <div>
              <dt>Post only</dt>
              <dd>Yes</dd>
            </div>
          )}
          {order.extended_hours && (
            <div>
              <dt>Extended hours</dt>
              <dd>Yes</dd>
            </div>
          )}
        </dl>
        {estimateRow}
        {est && <p class="help">Based on the {est.basis}; fees not included.</p>}
        {(step.kind === 'review' || step.kind === 'sending') && (
          <>
            {notes}
            {warnings.map((w) => (
              <p key={w} class="warn">
                {w}
              </p>
            ))}
            <div class="actions">
              <button type="button" class="ghost" onClick={() => setStep({ kind: 'edit' })} disabled={step.kind === 'sending'}>
                Edit
              </button>
              <button type="button" class={order.side === 'sell' ? 'primary sell' : 'primary'} disabled={step.kind === 'sending'} onClick={() => void place(order)}>
                {step.kind === 'sending' ? 'Placing…' : 'Place order'}
              </button>
            </div>
          </>
        )}
        {step.kind === 'done' && <Result answer={step.result} />}
        {step.kind === 'failed' && (
          <>
            <p>The order was not placed:</p>
            <ErrorNote error={step.error} />
            {step.error instanceof ApiError && refusalHint(step.error.code) && <p class="help">{refusalHint(step.error.code)}</p>}
          </>
        )}
        {(step.kind === 'done' || step.kind === 'failed') && (
          <div class="actions">
            {step.kind === 'failed' && step.error instanceof ApiError && (step.error.status === 0 || step.error.code === 'OUTCOME_UNKNOWN') && (
              <button type="button" onClick={() => void place(order)}>
                Retry
              </button>
            )}
            <button type="button" class="ghost" onClick={() => setStep({ kind: 'edit' })}>
              Edit
            </button>
            <button
              type="button"
              onClick={() => {
                setInput((i) => ({ ...i, qty: '' }));
                setShowErrors(false);
                setStep({ kind: 'edit' });
              }}
            >
              New order
            </button>
          </div>
        )}
      </section>
    );
  }

  return (
    <section class="card ticket" aria-labelledby="ticket-title">
      <h2 id="ticket-title">Trade {stock.symbol}</h2>
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          setShowErrors(true);
          if (checked.order) setStep({ kind: 'review', order: checked.order });
        }}
      >
        <div class="sides" role="group" aria-label="Side">
          <button type="button" class="buy" aria-pressed={input.side === 'buy'} onClick={() => set({ side: 'buy' })}>
            Buy
          </button>
          <button type="button" class="sell" aria-pressed={input.side === 'sell'} onClick={() => set({ side: 'sell' })}>
            Sell
          </button>
        </div>
        <label for="ticket-type">Order type</label>
        <select id="ticket-type" value={input.type} onChange={(e) => set({ type: e.currentTarget.value as OrderType })}>
          {ORDER_TYPES.map((t) => (
            <option key={t.value} value={t.value}>
              {t.label}
            </option>
          ))}
        </select>
        <label for="ticket-qty">Shares</label>
        <input
          id="ticket-qty"
          inputMode="numeric"
          autoComplete="off"
          value={input.qty}
          aria-invalid={err('qty') ? true : undefined}
          aria-describedby={err('qty') ? 'ticket-qty-error' : undefined}
          onInput={(e) => set({ qty: e.currentTarget.value })}
        />
        {err('qty') && (
          <p class="error" id="ticket-qty-error">
            {err('qty')}
          </p>
        )}
        {needsStop(input.type) && (
          <>
            <label for="ticket-stop">Stop price</label>
            <input
              id="ticket-stop"
              inputMode="decimal"
              autoComplete="off"
              value={input.stop}
              aria-invalid={err('stop') ? true : undefined}
              aria-describedby={err('stop') ? 'ticket-stop-error' : undefined}
              onInput={(e) => set({ stop: e.currentTarget.value })}
            />
            {err('stop') && (
              <p class="error" id="ticket-stop-error">
                {err('stop')}
              </p>
            )}
          </>
        )}
        {needsLimit(input.type) && (
          <>
            <label for="ticket-limit">Limit price</label>
            <input
              id="ticket-limit"
              inputMode="decimal"
              autoComplete="off"
              value={input.limit}
              aria-invalid={err('limit') ? true : undefined}
              aria-describedby={err('limit') ? 'ticket-limit-error' : 'ticket-limit-help'}
              onInput={(e) => set({ limit: e.currentTarget.value })}
            />
            {err('limit') ? (
              <p class="error" id="ticket-limit-error">
                {err('limit')}
              </p>
            ) : (
              <p class="help" id="ticket-limit-help">
                Tick {fmt.price(stock.tick)}. Pick a price on the order book to fill it in.
              </p>
            )}
          </>
        )}
        <label for="ticket-tif">Time in force</label>
        <select
          id="ticket-tif"
          value={input.tif}
          aria-invalid={err('tif') ? true : undefined}
          aria-describedby={err('tif') ? 'ticket-tif-error' : TIF_HELP[input.tif] ? 'ticket-tif-help' : undefined}
          onChange={(e) => set({ tif: e.currentTarget.value as TimeInForce })}
        >
          {tifsFor(input.type).map((t) => (
            <option key={t.value} value={t.value}>
              {t.label}
            </option>
          ))}
        </select>
        {err('tif') ? (
          <p class="error" id="ticket-tif-error">
            {err('tif')}
          </p>
        ) : (
          TIF_HELP[input.tif] && (
            <p class="help" id="ticket-tif-help">
              {TIF_HELP[input.tif]}
            </p>
          )
        )}
        {allowsPostOnly(input.type, input.tif) && (
          <label class="inline" for="ticket-post-only">
            <input id="ticket-post-only" type="checkbox" checked={input.postOnly} onChange={(e) => set({ postOnly: e.currentTarget.checked })} />
            Post only (never take liquidity)
          </label>
        )}
        {allowsExtendedHours(input.type, input.tif) && (
          <label class="inline" for="ticket-extended-hours">
            <input
              id="ticket-extended-hours"
              type="checkbox"
              checked={input.extendedHours}
              onChange={(e) => set({ extendedHours: e.currentTarget.checked })}
            />
            Extended hours (also trade in pre-market and after hours)
          </label>
        )}
        {notes}
        {estimateRow}
        {est && <p class="help">Based on the {est.basis}; fees not included.</p>}
        <p class="help">
          Buying power <span class="num">{fmt.money(acct?.buying_power)}</span>
          {held && (
            <>
              {' '}
              · {fmt.qty(held.qty_available)} shares available to sell
            </>
          )}
        </p>
        {warnings.map((w) => (
          <p key={w} class="warn">
            {w}
          </p>
        ))}
        <div class="actions">
          <button type="submit" class={input.side === 'sell' ? 'primary sell' : 'primary'}>
            Review order
          </button>
        </div>
      </form>
    </section>
  );
}
