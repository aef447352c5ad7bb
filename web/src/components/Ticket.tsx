import { useEffect, useState } from 'preact/hooks';
import { ApiError, api } from '../lib/api';
import { toText } from '../lib/decimal';
import * as fmt from '../lib/format';
import { useStore } from '../lib/hooks';
import { heldNote, trailingLine, waterLabel } from '../lib/orders';
import { cancelReason, cancelReasonHelp, refusalHint } from '../lib/session';
import {
  CLASS_HELP,
  CLASS_NAMES,
  NOTIONAL_HELP,
  ORDER_CLASSES,
  ORDER_TYPES,
  QTY_DECIMALS,
  TIF_HELP,
  TIME_IN_FORCE,
  TRAILING_HELP,
  TRAIL_PERCENT_DECIMALS,
  type AmountIn,
  type TicketField,
  type TicketInput,
  allowsExtendedHours,
  allowsNotional,
  allowsPostOnly,
  check,
  classRefusalHint,
  describe,
  estimate,
  exitsHelp,
  fractionalRefusalHint,
  fundsWarning,
  needsLimit,
  needsStop,
  needsTrail,
  newClientOrderId,
  normalize,
  tifsFor,
  trailError,
  trailRefusalHint,
  trailText,
  trailingStop,
  typesFor,
} from '../lib/ticket';
import type { NewOrder, Order, OrderClass, OrderType, Quote, Stock, TimeInForce } from '../lib/types';
import { account, marketClock, orderBook, orders, positions, refreshAccountSoon, session } from '../state';
import { pickedPrice } from '../ticket-bus';
import { ErrorNote } from './common';
import { Link } from './Link';

type Step = { kind: 'edit' } | { kind: 'review'; order: NewOrder } | { kind: 'sending'; order: NewOrder } | { kind: 'done'; order: NewOrder; result: Order } | { kind: 'failed'; order: NewOrder; error: unknown };

/** A class's orders (its first, then its legs): role, id, what each does and its status. */
function ClassLegs({ first, legs }: { first: Order; legs: Order[] }) {
  const cls = first.order_class ?? 'simple';
  const all = [first, ...legs];
  const entry = first.leg === 'entry' ? first : undefined;
  return (
    <table class="legs" aria-label={`Orders of the ${CLASS_NAMES[cls]}`}>
      <thead>
        <tr>
          <th scope="col">Leg</th>
          <th scope="col" class="num">
            Order id
          </th>
          <th scope="col">Order</th>
          <th scope="col">Status</th>
        </tr>
      </thead>
      <tbody>
        {all.map((l) => {
          const why = l.cancel_reason ? cancelReason(l.cancel_reason) : heldNote(l, entry);
          const price = l.type === 'market' ? 'at market' : [l.stop_price && `stop ${fmt.price(l.stop_price)}`, l.limit_price && `limit ${fmt.price(l.limit_price)}`].filter(Boolean).join(' ');
          return (
            <tr key={l.id}>
              <th scope="row">{l.leg ? fmt.label(l.leg) : fmt.DASH}</th>
              <td class="num">{l.id}</td>
              <td>
                {l.side === 'buy' ? 'Buy' : 'Sell'} {fmt.qty(l.qty)} {price}
              </td>
              <td title={cancelReasonHelp(l.cancel_reason) ?? undefined}>
                {fmt.label(l.status)}
                {why && <span class="muted"> ({why})</span>}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** The outcome as answered, then as the orders channel reports later fills (and a class's legs). */
function Result({ answer }: { answer: Order }) {
  useStore(orders);
  const o = orderBook.get(answer.id) ?? answer;
  const legs = (answer.legs ?? []).map((l) => orderBook.get(l.id) ?? l);
  const filled = fmt.nonZero(o.filled_qty);
  return (
    <div class="result" role="status">
      <p>
        <strong>{fmt.label(o.status)}</strong>
        {o.cancel_reason && <span class="muted"> ({cancelReason(o.cancel_reason)})</span>}
      </p>
      <dl class="kv">
        {o.notional != null && (
          <div>
            <dt>Amount</dt>
            <dd>{fmt.notional(o.notional)}</dd>
          </div>
        )}
        {trailingLine(o) && (
          <div>
            <dt>Trailing stop</dt>
            <dd>
              {trailingLine(o)}
              {waterLabel(o) && <span class="muted"> ({waterLabel(o)})</span>}
            </dd>
          </div>
        )}
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
      {o.order_class && o.order_class !== 'simple' && <ClassLegs first={o} legs={legs} />}
      {o.cancel_reason && cancelReasonHelp(o.cancel_reason) && <p class="help">{cancelReasonHelp(o.cancel_reason)}</p>}
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
  const [raw, setInput] = useState<TicketInput>({
    side: 'buy',
    type: 'market',
    tif: 'day',
    amountIn: 'shares',
    qty: '',
    notional: '',
    limit: '',
    stop: '',
    postOnly: false,
    extendedHours: false,
    orderClass: 'simple',
    takeProfit: '',
    stopLoss: '',
    stopLossLimit: '',
    trailIn: 'price',
    trail: '',
  });
  const [step, setStep] = useState<Step>({ kind: 'edit' });
  const [showErrors, setShowErrors] = useState(false);
  const [clientId, setClientId] = useState(newClientOrderId);
  // Dollars only where the stock takes them (the same ticket may move to another stock).
  const input = normalize(raw, stock);
  const fractionable = allowsNotional(stock);
  const dollars = input.amountIn === 'dollars';

  useEffect(() => {
    if (!picked || picked.symbol !== stock.symbol) return;
    // An OCO's limit price is its take profit.
    // A price is for an order in shares (an order in dollars is a market order).
    setInput((i) => (i.orderClass === 'oco' ? { ...i, takeProfit: picked.price } : { ...i, amountIn: 'shares', limit: picked.price, type: needsLimit(i.type) ? i.type : 'limit' }));
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
    setInput((i) => normalize({ ...i, ...patch }, stock));
    if (step.kind !== 'edit') setStep({ kind: 'edit' });
  };
  const checked = check(input, stock, clientId, clock?.session);
  const est = estimate(input, { bid: quote?.bid ?? null, ask: quote?.ask ?? null, last: quote?.last ?? null }, stock.tick);
  const last = quote?.last ?? null;
  const trailing = needsTrail(input.type) && !dollars;
  const held = pos?.find((p) => p.symbol === stock.symbol);
  const funds = fundsWarning(input, est, acct?.buying_power, held?.qty_available ?? '0');
  const warnings = [...checked.warnings, ...(funds ? [funds] : [])];
  const err = (f: TicketField) => (showErrors ? checked.errors[f] : undefined);
  const oco = input.orderClass === 'oco';
  const hasClass = input.orderClass !== 'simple';
  const exitsHint = exitsHelp(input.orderClass, input.side);
  /** A price input of the ticket, with its error (or help) below. */
  const priceInput = (id: string, label: string, field: TicketField, value: string, onValue: (v: string) => void, help?: string | null) => (
    <>
      <label for={id}>{label}</label>
      <input
        id={id}
        inputMode="decimal"
        autoComplete="off"
        value={value}
        aria-invalid={err(field) ? true : undefined}
        aria-describedby={err(field) ? `${id}-error` : help ? `${id}-help` : undefined}
        onInput={(e) => onValue(e.currentTarget.value)}
      />
      {err(field) ? (
        <p class="error" id={`${id}-error`}>
          {err(field)}
        </p>
      ) : (
        help && (
          <p class="help" id={`${id}-help`}>
            {help}
          </p>
        )
      )}
    </>
  );
  const notes = checked.notes.map((n) => (
    <p key={n} class="help">
      {n}
    </p>
  ));

  const place = async (order: NewOrder) => {
    setStep({ kind: 'sending', order });
    try {
      const result = await api.placeOrder(order);
      // A class's first order brings its legs: each is kept (and followed) as an order.
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

  const costLabel = dollars ? (input.side === 'buy' ? 'Amount to spend' : 'Amount to sell') : input.side === 'buy' ? 'Estimated cost' : 'Estimated credit';
  const estimateRow = (
    <>
      <div class="estimate">
        <span>{costLabel}</span>
        <span class="num" data-testid="estimated-cost">
          {est ? fmt.money(toText(est.total)) : fmt.DASH}
        </span>
      </div>
      {dollars && (
        <div class="estimate">
          <span>Estimated shares</span>
          <span class="num" data-testid="estimated-shares">
            {est?.shares ? `≈ ${fmt.qty(toText(est.shares))}` : fmt.DASH}
          </span>
        </div>
      )}
    </>
  );
  const estimateHelp = est && (
    <p class="help">
      {dollars
        ? `An estimate at the ${est.basis}, ${fmt.price(toText(est.price))}: the exchange fills what the amount pays for at the order book’s prices when the order arrives; fees not included.`
        : `Based on the ${est.basis}; fees not included.`}
    </p>
  );
  const hintFor = (code: string, o: NewOrder) => refusalHint(code) ?? fractionalRefusalHint(code, o) ?? trailRefusalHint(code, o) ?? classRefusalHint(code, o);
  /** Where a trailing stop's stop would sit at the last price, in words. */
  const stopAt = (side: NewOrder['side'], trail: { price?: string | null; percent?: string | null }) => {
    const now = trailingStop(side, last, trail, stock.tick);
    return now ? `${fmt.price(toText(now))} at the last price, ${fmt.price(last)}; it follows the price` : 'set from the last trade when the order arrives';
  };
  /** The trail input's help: its unit and rule, and where the stop would sit now (once the trail is good). */
  const trailHelp = () => {
    const from = input.side === 'sell' ? 'below the highest' : 'above the lowest';
    const rule =
      input.trailIn === 'price'
        ? `Dollars ${from} trade since the order is placed, on the tick (${fmt.price(stock.tick)}).`
        : `Percent ${from} trade since the order is placed: above 0, below 100, at most ${TRAIL_PERCENT_DECIMALS} decimals.`;
    if (trailError(input.trail, input.trailIn, stock.tick) !== null) return rule;
    return `${rule} Stop now: ${stopAt(input.side, input.trailIn === 'price' ? { price: input.trail.trim() } : { percent: input.trail.trim() })}.`;
  };
  const amountIn = (a: AmountIn) => set(a === 'dollars' ? { amountIn: a, orderClass: 'simple', type: 'market', tif: 'day' } : { amountIn: a });

  if (step.kind !== 'edit') {
    const order = step.order;
    return (
      <section class="card ticket" aria-labelledby="ticket-title">
        <h2 id="ticket-title">{step.kind === 'review' || step.kind === 'sending' ? 'Review order' : 'Order result'}</h2>
        <p>{describe(order, { last, tick: stock.tick })}</p>
        <dl class="summary">
          {order.order_class && order.order_class !== 'simple' && (
            <div>
              <dt>Order class</dt>
              <dd>{ORDER_CLASSES.find((c) => c.value === order.order_class)?.label}</dd>
            </div>
          )}
          <div>
            <dt>Side</dt>
            <dd>{order.side === 'buy' ? 'Buy' : 'Sell'}</dd>
          </div>
          <div>
            <dt>Order type</dt>
            <dd>{ORDER_TYPES.find((t) => t.value === order.type)?.label}</dd>
          </div>
          {order.notional !== undefined ? (
            <div>
              <dt>Amount</dt>
              <dd>{fmt.notional(order.notional)}</dd>
            </div>
          ) : (
            <div>
              <dt>Shares</dt>
              <dd>{fmt.qty(order.qty)}</dd>
            </div>
          )}
          {order.stop_price && (
            <div>
              <dt>Stop price</dt>
              <dd>{fmt.price(order.stop_price)}</dd>
            </div>
          )}
          {order.type === 'trailing_stop' && (
            <>
              <div>
                <dt>Trail</dt>
                <dd>
                  {trailText({ price: order.trail_price, percent: order.trail_percent })} {order.side === 'sell' ? 'below the highest trade' : 'above the lowest trade'}
                </dd>
              </div>
              <div>
                <dt>Stop now</dt>
                <dd>{stopAt(order.side, { price: order.trail_price, percent: order.trail_percent })}</dd>
              </div>
            </>
          )}
          {order.limit_price && order.order_class !== 'oco' && (
            <div>
              <dt>Limit price</dt>
              <dd>{fmt.price(order.limit_price)}</dd>
            </div>
          )}
          {order.take_profit && (
            <div>
              <dt>Take profit</dt>
              <dd>limit {fmt.price(order.take_profit.limit_price)}</dd>
            </div>
          )}
          {order.stop_loss && (
            <div>
              <dt>Stop loss</dt>
              <dd>
                stop {fmt.price(order.stop_loss.stop_price)}
                {order.stop_loss.limit_price !== undefined && <> limit {fmt.price(order.stop_loss.limit_price)}</>}
              </dd>
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
        {estimateHelp}
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
            {step.error instanceof ApiError && hintFor(step.error.code, order) && <p class="help">{hintFor(step.error.code, order)}</p>}
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
                setInput((i) => ({ ...i, qty: '', notional: '' }));
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
        {fractionable && (
          <>
            <div
              class="amount-in"
              role="group"
              aria-label={input.side === 'buy' ? 'Buy in' : 'Sell in'}
              aria-describedby={err('amountIn') ? 'ticket-amount-in-error' : dollars ? 'ticket-amount-in-help' : undefined}
            >
              <span class="amount-in-label" aria-hidden="true">
                {input.side === 'buy' ? 'Buy in' : 'Sell in'}
              </span>
              <button type="button" aria-pressed={!dollars} onClick={() => amountIn('shares')}>
                Shares
              </button>
              <button type="button" aria-pressed={dollars} onClick={() => amountIn('dollars')}>
                Dollars
              </button>
            </div>
            {err('amountIn') ? (
              <p class="error" id="ticket-amount-in-error">
                {err('amountIn')}
              </p>
            ) : (
              dollars && (
                <p class="help" id="ticket-amount-in-help">
                  {NOTIONAL_HELP}
                </p>
              )
            )}
          </>
        )}
        <label for="ticket-class">Order class</label>
        <select
          id="ticket-class"
          value={input.orderClass}
          disabled={dollars}
          aria-invalid={err('orderClass') ? true : undefined}
          aria-describedby={err('orderClass') ? 'ticket-class-error' : dollars ? 'ticket-amount-in-help' : CLASS_HELP[input.orderClass] ? 'ticket-class-help' : undefined}
          onChange={(e) => set({ orderClass: e.currentTarget.value as OrderClass })}
        >
          {ORDER_CLASSES.map((c) => (
            <option key={c.value} value={c.value}>
              {c.label}
            </option>
          ))}
        </select>
        {err('orderClass') ? (
          <p class="error" id="ticket-class-error">
            {err('orderClass')}
          </p>
        ) : (
          CLASS_HELP[input.orderClass] && (
            <p class="help" id="ticket-class-help">
              {CLASS_HELP[input.orderClass]} Day or good till canceled; not post only or extended hours.
            </p>
          )
        )}
        <label for="ticket-type">Order type</label>
        <select
          id="ticket-type"
          value={input.type}
          disabled={dollars}
          aria-describedby={oco || trailing ? 'ticket-type-help' : dollars ? 'ticket-amount-in-help' : undefined}
          onChange={(e) => set({ type: e.currentTarget.value as OrderType })}
        >
          {typesFor(input.orderClass).map((t) => (
            <option key={t.value} value={t.value}>
              {t.label}
            </option>
          ))}
        </select>
        {oco && (
          <p class="help" id="ticket-type-help">
            An OCO order is a limit order at its take profit.
          </p>
        )}
        {trailing && (
          <p class="help" id="ticket-type-help">
            {TRAILING_HELP}
          </p>
        )}
        {dollars ? (
          <>
            <label for="ticket-notional">Amount in dollars</label>
            <input
              id="ticket-notional"
              inputMode="decimal"
              autoComplete="off"
              value={input.notional}
              aria-invalid={err('notional') ? true : undefined}
              aria-describedby={err('notional') ? 'ticket-notional-error' : undefined}
              onInput={(e) => set({ notional: e.currentTarget.value })}
            />
            {err('notional') && (
              <p class="error" id="ticket-notional-error">
                {err('notional')}
              </p>
            )}
          </>
        ) : (
          <>
            <label for="ticket-qty">Shares</label>
            <input
              id="ticket-qty"
              inputMode={fractionable ? 'decimal' : 'numeric'}
              autoComplete="off"
              value={input.qty}
              aria-invalid={err('qty') ? true : undefined}
              aria-describedby={err('qty') ? 'ticket-qty-error' : fractionable ? 'ticket-qty-help' : undefined}
              onInput={(e) => set({ qty: e.currentTarget.value })}
            />
            {err('qty') ? (
              <p class="error" id="ticket-qty-error">
                {err('qty')}
              </p>
            ) : (
              fractionable && (
                <p class="help" id="ticket-qty-help">
                  Fractional shares: up to {QTY_DECIMALS} decimals.
                </p>
              )
            )}
          </>
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
        {trailing && (
          <>
            <div class="amount-in" role="group" aria-label="Trail in">
              <span class="amount-in-label" aria-hidden="true">
                Trail in
              </span>
              <button type="button" aria-pressed={input.trailIn === 'price'} aria-label="Dollars" onClick={() => set({ trailIn: 'price' })}>
                $
              </button>
              <button type="button" aria-pressed={input.trailIn === 'percent'} aria-label="Percent" onClick={() => set({ trailIn: 'percent' })}>
                %
              </button>
            </div>
            {priceInput(
              'ticket-trail',
              input.trailIn === 'price' ? 'Trail ($)' : 'Trail (%)',
              'trail',
              input.trail,
              (v) => set({ trail: v }),
              trailHelp(),
            )}
          </>
        )}
        {needsLimit(input.type) && !oco && (
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
        {hasClass && (
          <fieldset class="exits" aria-describedby={err('exits') ? 'ticket-exits-error' : exitsHint ? 'ticket-exits-help' : undefined}>
            <legend>{oco ? 'Take profit and stop loss' : input.orderClass === 'oto' ? 'Exit (one of the two)' : 'Exits'}</legend>
            {exitsHint && (
              <p class="help" id="ticket-exits-help">
                {exitsHint}
              </p>
            )}
            {priceInput('ticket-take-profit', 'Take profit limit price', 'takeProfit', input.takeProfit, (v) => set({ takeProfit: v }), oco ? `Tick ${fmt.price(stock.tick)}. The order’s own limit price.` : null)}
            {priceInput('ticket-stop-loss', 'Stop loss stop price', 'stopLoss', input.stopLoss, (v) => set({ stopLoss: v }))}
            {priceInput(
              'ticket-stop-loss-limit',
              'Stop loss limit price (optional)',
              'stopLossLimit',
              input.stopLossLimit,
              (v) => set({ stopLossLimit: v }),
              'Leave empty for a stop (market) exit; set, the stop loss is a stop-limit.',
            )}
            {err('exits') && (
              <p class="error" id="ticket-exits-error">
                {err('exits')}
              </p>
            )}
          </fieldset>
        )}
        <label for="ticket-tif">Time in force</label>
        <select
          id="ticket-tif"
          value={input.tif}
          disabled={dollars}
          aria-invalid={err('tif') ? true : undefined}
          aria-describedby={err('tif') ? 'ticket-tif-error' : dollars ? 'ticket-amount-in-help' : TIF_HELP[input.tif] ? 'ticket-tif-help' : undefined}
          onChange={(e) => set({ tif: e.currentTarget.value as TimeInForce })}
        >
          {tifsFor(input.type, input.orderClass).map((t) => (
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
        {allowsPostOnly(input.type, input.tif, input.orderClass) && (
          <label class="inline" for="ticket-post-only">
            <input id="ticket-post-only" type="checkbox" checked={input.postOnly} onChange={(e) => set({ postOnly: e.currentTarget.checked })} />
            Post only (never take liquidity)
          </label>
        )}
        {allowsExtendedHours(input.type, input.tif, input.orderClass) && (
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
        {estimateHelp}
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
