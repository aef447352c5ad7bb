/**
 * The page's state: the session, the account (balances, positions, portfolio, orders,
 * alerts, watchlist), the market's clock, live market data and toasts — and the wiring of
 * the one WebSocket.
 */
import { api, describeError } from './lib/api';
import { Feed, type ConnState, type Message } from './lib/feed';
import { Store, frame } from './lib/frame';
import { Market } from './lib/market';
import { LEG_LABELS, OrderBook, type ExecutionReport } from './lib/orders';
import * as fmt from './lib/format';
import { auctionPhase, cancelReason } from './lib/session';
import { directionLabel, returnReason } from './lib/funding';
import type { Account, Alert, Bank, BankTransfer, Clock, Portfolio, Position, Session, Watchlist } from './lib/types';

/** `undefined` while the page asks the server whether it is logged in. */
export const session = new Store<Session | null | undefined>(undefined);
export const account = new Store<Account | null>(null);
export const positions = new Store<Position[] | null>(null);
export const portfolio = new Store<Portfolio | null>(null);
export const orderBook = new OrderBook();
/** Bumped when `orderBook` changes. */
export const orders = new Store(0);
export const alerts = new Store<Alert[] | null>(null);
/** The first of the user's watchlists (created on the first add). */
export const watchlist = new Store<Watchlist | null>(null);
export const conn = new Store<{ state: ConnState; privateLive: boolean }>({ state: 'connecting', privateLive: false });
/** The linked banks (`GET /v1/banks`); null until the Activity page loads them. */
export const banks = new Store<Bank[] | null>(null);
/** Bank transfers, newest first (`GET /v1/transfers`); null until the Activity page loads them. */
export const bankTransfers = new Store<BankTransfer[] | null>(null);
/** The market's session from `GET /v1/clock`; null until the first answer. */
export const marketClock = new Store<Clock | null>(null);

export type ToastKind = 'fill' | 'alert' | 'error' | 'info';
export interface Toast {
  id: number;
  kind: ToastKind;
  title: string;
  text: string;
}
export const toasts = new Store<Toast[]>([]);
let toastId = 1;

export function toast(kind: ToastKind, title: string, text: string, ms = 7000): void {
  const id = toastId++;
  toasts.update((l) => [...l.slice(-4), { id, kind, title, text }]);
  setTimeout(() => dismissToast(id), ms);
}

export function dismissToast(id: number): void {
  toasts.update((l) => l.filter((t) => t.id !== id));
}

// --- live data ---

export const feed: Feed = new Feed({
  message: (m) => onMessage(m),
  open: () => {
    market.onOpen();
    // News is not in the seq stream: what was published while the socket was down is asked again.
    for (const l of newsListeners) l.reopened();
  },
  close: () => {
    market.onClose();
    conn.update((c) => ({ ...c, privateLive: false }));
  },
  authenticated: () => {
    conn.update((c) => ({ ...c, privateLive: true }));
    // Catch up on whatever happened while the socket was down.
    void refreshOrders();
    refreshAccountSoon(0);
    if (bankTransfers.get() !== null) refreshBankTransfersSoon(0);
  },
  authFailed: (code, message) => {
    conn.update((c) => ({ ...c, privateLive: false }));
    if (code === 'SESSION_ENDED' || code === 'SESSION_EXPIRED') {
      toast('error', 'Logged out', message);
      void api.refreshSession().then((s) => {
        if (!s) endSession();
      });
    }
  },
  state: (s) => conn.update((c) => ({ ...c, state: s })),
});

export const market = new Market({
  fetchBook: (s) => api.book(s, 1000),
  fetchTrades: (s) => api.trades(s, 60),
  resubscribeBook: (s) => feed.resubscribe('book', s),
  follows: (c, s) => feed.follows(c, s),
});

function onMessage(m: Message): void {
  switch (m.type) {
    case 'execution_report': {
      if (m.request_id !== undefined) return;
      const r = m as unknown as ExecutionReport;
      const o = orderBook.apply(r);
      orders.update((v) => v + 1);
      if (r.event === 'fill') {
        const sym = r.symbol ?? o?.symbol ?? '';
        const side = (r.side ?? o?.side) === 'sell' ? 'Sold' : 'Bought';
        const done = r.status === 'filled' ? 'Order filled' : 'Order partially filled';
        toast('fill', done, `${side} ${fmt.qty(r.last_qty)} ${sym} at ${fmt.price(r.last_price)}`);
        refreshAccountSoon();
      } else if (r.event === 'rejected') {
        toast('error', 'Order rejected', `${r.code ?? ''}: ${r.message ?? ''}`);
      } else if (r.event === 'canceled' && r.reason && r.reason !== 'REQUESTED') {
        toast('info', 'Order canceled', `${o?.symbol ?? r.symbol ?? ''} ${cancelReason(r.reason)}: ${fmt.qty(r.canceled_qty)} shares`);
      } else if (r.event === 'activated' && o?.leg && o.leg !== 'entry') {
        // A held exit started, for what its entry filled.
        const what = `${o.symbol} ${LEG_LABELS[o.leg]} (#${o.id})`;
        const text = o.status === 'held' ? `${what} is armed for ${fmt.qty(r.qty)} shares: it waits for its stop price.` : `${what} is working for ${fmt.qty(r.qty)} shares.`;
        toast('info', 'Exit order started', text);
      } else if (r.event === 'parked') {
        const side = (r.side ?? o?.side) === 'sell' ? 'Sell' : 'Buy';
        toast('info', 'Order waiting for the open', `${side} ${fmt.qty(r.qty)} ${r.symbol ?? o?.symbol ?? ''} left the book at the close; it joins the next opening auction.`);
      }
      return;
    }
    case 'account': {
      if (m.event === 'balance') {
        const a = account.get();
        if (a) {
          account.set({
            ...a,
            cash: String(m.cash),
            reserved_cash: String(m.reserved),
            buying_power: typeof m.available === 'string' ? m.available : a.buying_power,
          });
        }
      } else if (m.event === 'transfer') {
        onBankTransfer(m);
      }
      refreshAccountSoon();
      return;
    }
    case 'alert': {
      if (m.event === 'triggered') {
        toast('alert', `Price alert: ${String(m.symbol)}`, `Traded at ${fmt.price(m.trade_price as string)} (${String(m.condition)} ${fmt.price(m.price as string)})`);
        alerts.update((l) =>
          l?.map((a) => (a.id === m.alert_id ? { ...a, status: 'triggered', trade_price: m.trade_price as string, triggered_at: (m.ts as string | undefined) ?? null } : a)) ?? l,
        );
      }
      return;
    }
    case 'auction': {
      // A call began or ended: the session moved on (sooner than the clock's next poll).
      const sym = typeof m.symbol === 'string' ? m.symbol : '';
      const before = auctionPhase(market.peek(sym)?.auction);
      market.onMessage(m);
      if (auctionPhase(market.peek(sym)?.auction) !== before) refreshClockSoon();
      return;
    }
    case 'news': {
      for (const l of newsListeners) l.item(m);
      return;
    }
    default:
      market.onMessage(m);
  }
}

// --- news ---

/** Who shows news (the stock page's News): told each `news` message and each (re)opened socket. */
export interface NewsListener {
  item(m: Message): void;
  reopened(): void;
}
const newsListeners = new Set<NewsListener>();

/** Follows the `news` channel of `symbol` and tells `l` until the returned function is called. */
export function followNews(symbol: string, l: NewsListener): () => void {
  newsListeners.add(l);
  const release = feed.want(['news'], symbol);
  return () => {
    release();
    newsListeners.delete(l);
  };
}

// --- bank funding ---

/**
 * A bank transfer asked for, settled or returned (`{"type":"account","event":"transfer",
 * "transfer_id","direction","status","amount","moved","cash"}`): the list is fetched again
 * (the account follows the `balance` that comes with it), and a settlement or a return is told.
 */
function onBankTransfer(m: Message): void {
  const direction = m.direction === 'withdrawal' ? 'withdrawal' : 'deposit';
  const what = directionLabel({ direction });
  const amount = typeof m.amount === 'string' ? m.amount : null;
  if (m.status === 'settled') {
    toast('info', `Bank ${what.toLowerCase()} settled`, direction === 'deposit' ? `${fmt.money(amount)} is settled: yours to trade and withdraw.` : `${fmt.money(amount)} reached the bank.`);
  } else if (m.status === 'returned') {
    const code = typeof m.return_code === 'string' ? ` (${returnReason(m.return_code)})` : '';
    toast('error', `Bank ${what.toLowerCase()} returned`, `The bank sent ${fmt.money(amount)} back${code}: cash moved ${fmt.signedMoney(typeof m.moved === 'string' ? m.moved : null)}.`);
  }
  if (bankTransfers.get() !== null) refreshBankTransfersSoon();
}

let transfersTimer: ReturnType<typeof setTimeout> | null = null;

/** Fetches the bank transfers shortly (a settlement run of many → one request). */
export function refreshBankTransfersSoon(ms = 200): void {
  if (!session.get()) return;
  if (transfersTimer) clearTimeout(transfersTimer);
  transfersTimer = setTimeout(() => {
    transfersTimer = null;
    void refreshBankTransfers();
  }, ms);
}

export async function refreshBankTransfers(): Promise<void> {
  try {
    bankTransfers.set((await api.bankTransfers()).transfers);
  } catch {
    /* the last list stays shown */
  }
}

export async function refreshBanks(): Promise<void> {
  try {
    banks.set((await api.banks()).banks);
  } catch {
    /* the last list stays shown */
  }
}

/** Puts a bank as the server answered it into the list (a new one last, as `GET /v1/banks` has them). */
export function upsertBank(b: Bank): void {
  banks.update((l) => {
    const list = l ?? [];
    return list.some((x) => x.id === b.id) ? list.map((x) => (x.id === b.id ? b : x)) : [...list, b];
  });
}

// --- the market's clock ---

/** How often the clock is asked while the page is seen (and again when it comes back). */
const CLOCK_POLL_MS = 15_000;
let clockTimer: ReturnType<typeof setTimeout> | null = null;
let clockAsked = 0;

export async function refreshClock(): Promise<void> {
  clockAsked = Date.now();
  try {
    marketClock.set(await api.clock());
  } catch {
    /* the last answer stays shown */
  }
}

/** Asks the clock shortly (many auction messages at a session change → one request). */
export function refreshClockSoon(ms = 300): void {
  if (clockTimer) clearTimeout(clockTimer);
  clockTimer = setTimeout(() => {
    clockTimer = null;
    void refreshClock();
  }, ms);
}

function startClock(): void {
  void refreshClock();
  setInterval(() => {
    if (document.visibilityState === 'visible') void refreshClock();
  }, CLOCK_POLL_MS);
  const back = () => {
    if (document.visibilityState === 'visible' && Date.now() - clockAsked > 2_000) void refreshClock();
  };
  document.addEventListener('visibilitychange', back);
  window.addEventListener('focus', back);
}

// --- account data ---

let accountTimer: ReturnType<typeof setTimeout> | null = null;

/** Refreshes balances, positions and the portfolio shortly (many fills → one refresh). */
export function refreshAccountSoon(ms = 300): void {
  if (!session.get()) return;
  if (accountTimer) clearTimeout(accountTimer);
  accountTimer = setTimeout(() => {
    accountTimer = null;
    void refreshAccount();
  }, ms);
}

export async function refreshAccount(): Promise<void> {
  const [a, p, f] = await Promise.allSettled([api.account(), api.positions(), api.portfolio()]);
  if (a.status === 'fulfilled') account.set(a.value);
  if (p.status === 'fulfilled') positions.set(p.value);
  if (f.status === 'fulfilled') portfolio.set(f.value);
}

export async function refreshOrders(): Promise<void> {
  try {
    const page = await api.orders('open', 500);
    orderBook.resetOpen(page.items);
    orders.update((v) => v + 1);
  } catch (e) {
    const { code, message } = describeError(e);
    if (code !== 'UNAUTHORIZED') toast('error', 'Could not load orders', `${code}: ${message}`);
  }
  // The latest ended orders, for the recent orders (a newer copy the page has is kept).
  try {
    const closed = await api.orders('closed', RECENT_CLOSED);
    for (const o of closed.items) orderBook.upsert(o);
    orders.update((v) => v + 1);
  } catch {
    // Only the recent orders miss them; the open orders above are what matters.
  }
}

/** How many ended orders are fetched with the open ones. */
const RECENT_CLOSED = 50;

export async function refreshAlerts(): Promise<void> {
  try {
    alerts.set((await api.alerts()).items);
  } catch {
    /* shown as not loaded */
  }
}

export async function refreshWatchlist(): Promise<void> {
  try {
    const lists = await api.watchlists();
    watchlist.set(lists[0] ?? null);
  } catch {
    watchlist.set(null);
  }
}

/** Adds a symbol to the watchlist, creating "My watchlist" on the first add. */
export async function watch(symbol: string): Promise<void> {
  const w = watchlist.get();
  watchlist.set(w ? await api.addToWatchlist(w.id, symbol) : await api.createWatchlist('My watchlist', [symbol]));
}

export async function unwatch(symbol: string): Promise<void> {
  const w = watchlist.get();
  if (w) watchlist.set(await api.removeFromWatchlist(w.id, symbol));
}

// --- session ---

let valuationTimer: ReturnType<typeof setInterval> | null = null;

export function beginSession(s: Session): void {
  // The portfolio's value moves with prices: refresh it now and then while the page is seen.
  valuationTimer ??= setInterval(() => {
    if (session.get() && document.visibilityState === 'visible') void refreshAccount();
  }, 15_000);
  session.set(s);
  feed.setPrivate(true);
  void refreshAccount();
  void refreshOrders();
  void refreshAlerts();
  void refreshWatchlist();
}

export function endSession(): void {
  api.clear();
  feed.setPrivate(false);
  session.set(null);
  account.set(null);
  positions.set(null);
  portfolio.set(null);
  orderBook.clear();
  orders.update((v) => v + 1);
  alerts.set(null);
  watchlist.set(null);
  banks.set(null);
  bankTransfers.set(null);
}

export async function start(): Promise<void> {
  api.onUnauthorized = () => {
    if (session.get()) {
      toast('error', 'Logged out', 'Your session ended. Log in again.');
      endSession();
    }
  };
  // Ask first, so the one socket opens already knowing whether to authenticate.
  let s: Session | null;
  try {
    s = await api.refreshSession();
  } catch {
    s = null;
  }
  if (s) beginSession(s);
  else session.set(null);
  startClock();
  feed.start();
  frame.dirty();
}
