/**
 * The market's sessions in words: the header's indicator (`GET /v1/clock`), the stock page's
 * call-auction panel (the WebSocket `auction` channel) and readable refusals and cancel
 * reasons of the session rules.
 */
import * as fmt from './format';
import type { Auction, Clock, MarketSession } from './types';

export const SESSION_LABELS: Readonly<Record<MarketSession, string>> = {
  closed: 'Closed',
  pre_market: 'Pre-market',
  opening_call: 'Opening auction',
  continuous: 'Open',
  closing_call: 'Closing auction',
  after_hours: 'After hours',
};

/** `"pre_market"` → `"Pre-market"`; a session this page does not know yet as its code in words. */
export function sessionLabel(s: string | null | undefined): string {
  if (!s) return fmt.DASH;
  return (SESSION_LABELS as Record<string, string | undefined>)[s] ?? fmt.label(s);
}

/** Regular hours (continuous trading or the closing call), as the clock's `is_open`. */
export const isRegular = (s: MarketSession | null | undefined): boolean => s === 'continuous' || s === 'closing_call';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * The wall time an RFC 3339 timestamp was written in (the exchange's time zone), without
 * converting it to the viewer's: the demo's calendar runs fast, so only its own reading makes
 * sense. `"2026-12-07T09:30:00-05:00"` → `{ date: "2026-12-07", day: "Dec 7", time: "09:30" }`.
 */
export function wallTime(iso: string | null | undefined): { date: string; day: string; time: string } | null {
  const m = iso ? /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)/.exec(iso) : null;
  if (!m) return null;
  const [, y = '', mo = '', d = '', h = '', mi = ''] = m;
  const month = MONTHS[Number(mo) - 1];
  if (!month) return null;
  return { date: `${y}-${mo}-${d}`, day: `${month} ${Number(d)}`, time: `${h}:${mi}` };
}

/**
 * When the market next opens or closes, in the exchange's time: `"closes 16:00"` during
 * regular hours, `"opens 09:30"` (`"opens Dec 7, 09:30"` on another day) otherwise; null
 * without a calendar (always open).
 */
export function nextChange(c: Clock): string | null {
  const now = wallTime(c.timestamp);
  const regular = c.is_open || isRegular(c.session);
  const at = wallTime(regular ? c.next_close : c.next_open);
  if (!at) return null;
  const when = now && now.date === at.date ? at.time : `${at.day}, ${at.time}`;
  return `${regular ? 'closes' : 'opens'} ${when}`;
}

/** The header's indicator: its label, the next change, and the accessible name of both. */
export function clockView(c: Clock): { label: string; next: string | null; name: string; tone: 'open' | 'call' | 'extended' | 'closed' } {
  const label = sessionLabel(c.session);
  const next = nextChange(c);
  const tone = c.session === 'continuous' ? 'open' : c.session === 'opening_call' || c.session === 'closing_call' ? 'call' : c.session === 'closed' ? 'closed' : 'extended';
  return { label, next, name: `Market: ${label}${next ? `, ${next} (exchange time)` : ''}`, tone };
}

/** The phase of a call auction that matters to the clock: a call began or ended. */
export function auctionPhase(a: Auction | null | undefined): string {
  return a?.session ? `${a.session}:${a.state ?? 'none'}` : '';
}

export interface AuctionView {
  /** `"Opening auction"` while it runs, `"Last opening auction"` after. */
  title: string;
  /** The call is running: the figures are indicative and move with the book. */
  live: boolean;
  rows: Array<[string, string]>;
}

/** `"1 share"`, `"0.5 shares"`, `"1,200 shares"`. */
export const shares = (q: string): string => fmt.shares(q);

/** "400 shares to buy"; "None" without an imbalance. */
export function imbalance(a: Auction): string {
  const q = a.imbalance_qty ?? '0';
  if (!a.imbalance_side || fmt.direction(q) === 0) return 'None';
  return `${shares(q)} to ${a.imbalance_side}`;
}

/** The auction panel's figures, or null when there is nothing to show (no call yet). */
export function auctionView(a: Auction | null | undefined): AuctionView | null {
  if (!a?.session || !a.state || a.state === 'none') return null;
  const live = a.state === 'indicative';
  const name = a.session === 'opening_call' ? 'opening auction' : 'closing auction';
  const price = a.price ? fmt.price(a.price) : live ? 'No match yet' : 'Nothing traded';
  return {
    title: live ? name.charAt(0).toUpperCase() + name.slice(1) : `Last ${name}`,
    live,
    rows: [
      [live ? 'Indicative price' : 'Uncross price', price],
      [live ? 'Matched volume' : 'Traded volume', shares(a.matched_qty ?? '0')],
      [live ? 'Imbalance' : 'Unmatched', imbalance(a)],
      ['Reference price', fmt.price(a.reference_price)],
    ],
  };
}

/** Cancel reasons that need more than their code in words (an order class's exits). */
const CANCEL_REASONS: Readonly<Record<string, string>> = {
  PARENT_UNFILLED: 'Entry not filled',
  SIBLING_EXECUTED: 'Other exit executed',
};

/** What those reasons mean, where there is room to say it. */
export const CANCEL_REASON_HELP: Readonly<Record<string, string>> = {
  PARENT_UNFILLED: 'Its entry ended without filling anything, so there was nothing for this exit to cover.',
  SIBLING_EXECUTED: 'The other exit of its class traded, so this one was canceled: the two never trade the same shares.',
};

/**
 * Cancel reasons in words: `AUCTION_UNFILLED` → `Auction unfilled`, `IOC_REMAINDER` → `IOC
 * remainder`, `SIBLING_EXECUTED` → `Other exit executed`.
 */
export function cancelReason(code: string): string {
  return CANCEL_REASONS[code] ?? fmt.label(code).replace(/^(Ioc|Fok)\b/, (w) => w.toUpperCase());
}

export const cancelReasonHelp = (code: string | null | undefined): string | null => (code ? (CANCEL_REASON_HELP[code] ?? null) : null);

/**
 * What to do about a refusal (shown under the server's code and message): the session rules,
 * and fractional shares and notional orders on a stock that trades whole shares only.
 */
export const REFUSAL_HINTS: Readonly<Record<string, string>> = {
  FRACTIONAL_NOT_ALLOWED:
    'This stock trades whole shares only: fractional quantities and orders in dollars (notional) are not taken. Buy in shares and enter a whole number of shares.',
  AUCTION_CLOSED:
    'On-open orders join the opening auction only, and today’s has already taken place. Use Day or Good till canceled, or send it on open after the close for the next opening auction.',
  MARKET_CLOSED:
    'Immediate-or-cancel and fill-or-kill orders trade only while the market is open (continuous trading). A Day or Good till canceled order waits for the open.',
};

export const refusalHint = (code: string | null | undefined): string | null => (code ? (REFUSAL_HINTS[code] ?? null) : null);
