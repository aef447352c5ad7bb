import { describe, expect, it } from 'vitest';
import { auctionPhase, auctionView, cancelReason, cancelReasonHelp, clockView, imbalance, nextChange, refusalHint, sessionLabel, wallTime } from '../src/lib/session';
import type { Auction, Clock } from '../src/lib/types';

const clock = (c: Partial<Clock>): Clock => ({
  timestamp: '2026-12-07T04:30:25.82008368-05:00',
  is_open: false,
  session: 'pre_market',
  next_open: '2026-12-07T09:30:00-05:00',
  next_close: '2026-12-07T16:00:00-05:00',
  ...c,
});

const auction = (a: Partial<Auction>): Auction => ({
  symbol: 'AAPL',
  seq: 814,
  session: 'opening_call',
  state: 'indicative',
  price: '189.98',
  matched_qty: '500',
  imbalance_qty: '400',
  imbalance_side: 'buy',
  reference_price: '189.9',
  ...a,
});

describe('session labels', () => {
  it('names every session', () => {
    expect(sessionLabel('closed')).toBe('Closed');
    expect(sessionLabel('pre_market')).toBe('Pre-market');
    expect(sessionLabel('opening_call')).toBe('Opening auction');
    expect(sessionLabel('continuous')).toBe('Open');
    expect(sessionLabel('closing_call')).toBe('Closing auction');
    expect(sessionLabel('after_hours')).toBe('After hours');
    // One this page does not know yet is still words; none is a dash.
    expect(sessionLabel('lunch_break')).toBe('Lunch break');
    expect(sessionLabel(null)).toBe('—');
  });

  it('reads times as the exchange wrote them (no conversion to the viewer’s zone)', () => {
    expect(wallTime('2026-12-07T09:30:00-05:00')).toEqual({ date: '2026-12-07', day: 'Dec 7', time: '09:30' });
    expect(wallTime('2026-01-31T16:00:00.123456789+01:00')).toEqual({ date: '2026-01-31', day: 'Jan 31', time: '16:00' });
    expect(wallTime('2026-13-01T09:30:00Z')).toBeNull();
    expect(wallTime('soon')).toBeNull();
    expect(wallTime(null)).toBeNull();
  });

  it('says when the market next opens or closes', () => {
    expect(nextChange(clock({}))).toBe('opens 09:30');
    expect(nextChange(clock({ session: 'opening_call' }))).toBe('opens 09:30');
    expect(nextChange(clock({ session: 'continuous', is_open: true }))).toBe('closes 16:00');
    expect(nextChange(clock({ session: 'closing_call', is_open: true }))).toBe('closes 16:00');
    // After the close the next open is another day's.
    expect(nextChange(clock({ timestamp: '2026-12-07T17:02:00-05:00', session: 'after_hours', next_open: '2026-12-08T09:30:00-05:00', next_close: '2026-12-08T16:00:00-05:00' }))).toBe(
      'opens Dec 8, 09:30',
    );
    // Without a calendar the market is always open: nothing to say.
    expect(nextChange(clock({ session: 'continuous', is_open: true, next_open: null, next_close: null }))).toBeNull();
  });

  it('builds the header’s indicator', () => {
    expect(clockView(clock({ session: 'continuous', is_open: true, next_open: null, next_close: null }))).toEqual({ label: 'Open', next: null, name: 'Market: Open', tone: 'open' });
    expect(clockView(clock({}))).toEqual({ label: 'Pre-market', next: 'opens 09:30', name: 'Market: Pre-market, opens 09:30 (exchange time)', tone: 'extended' });
    expect(clockView(clock({ session: 'closing_call', is_open: true })).tone).toBe('call');
    expect(clockView(clock({ session: 'closed' })).tone).toBe('closed');
  });
});

describe('auction panel', () => {
  it('shows a running call’s indicative figures', () => {
    expect(auctionView(auction({}))).toEqual({
      title: 'Opening auction',
      live: true,
      rows: [
        ['Indicative price', '189.98'],
        ['Matched volume', '500 shares'],
        ['Imbalance', '400 shares to buy'],
        ['Reference price', '189.90'],
      ],
    });
    const empty = auctionView(auction({ session: 'closing_call', price: null, matched_qty: '0', imbalance_qty: '1200', imbalance_side: 'sell' }));
    expect(empty?.title).toBe('Closing auction');
    expect(empty?.rows).toEqual([
      ['Indicative price', 'No match yet'],
      ['Matched volume', '0 shares'],
      ['Imbalance', '1,200 shares to sell'],
      ['Reference price', '189.90'],
    ]);
  });

  it('shows the last uncross after the call', () => {
    const v = auctionView(auction({ session: 'closing_call', state: 'uncrossed', imbalance_qty: '0', imbalance_side: null }));
    expect(v?.title).toBe('Last closing auction');
    expect(v?.live).toBe(false);
    expect(v?.rows).toEqual([
      ['Uncross price', '189.98'],
      ['Traded volume', '500 shares'],
      ['Unmatched', 'None'],
      ['Reference price', '189.90'],
    ]);
    expect(auctionView(auction({ state: 'uncrossed', price: null }))?.rows[0]).toEqual(['Uncross price', 'Nothing traded']);
  });

  it('shows nothing before the first call', () => {
    expect(auctionView(null)).toBeNull();
    expect(auctionView({ symbol: 'AAPL', seq: 1, session: null })).toBeNull();
    expect(auctionView(auction({ state: 'none' }))).toBeNull();
  });

  it('counts one share as one', () => {
    expect(auctionView(auction({ matched_qty: '1', imbalance_qty: '1' }))?.rows.slice(1, 3)).toEqual([
      ['Matched volume', '1 share'],
      ['Imbalance', '1 share to buy'],
    ]);
  });

  it('shows fractional auction figures exactly', () => {
    expect(auctionView(auction({ matched_qty: '1200.5', imbalance_qty: '0.25', imbalance_side: 'sell' }))?.rows.slice(1, 3)).toEqual([
      ['Matched volume', '1,200.5 shares'],
      ['Imbalance', '0.25 shares to sell'],
    ]);
  });

  it('has no imbalance without a side or shares', () => {
    expect(imbalance(auction({ imbalance_qty: '0.000000', imbalance_side: 'buy' }))).toBe('None');
    expect(imbalance(auction({ imbalance_qty: '0', imbalance_side: 'buy' }))).toBe('None');
    expect(imbalance(auction({ imbalance_qty: '5', imbalance_side: null }))).toBe('None');
  });

  it('tells a call beginning or ending apart from its figures moving', () => {
    expect(auctionPhase(null)).toBe('');
    expect(auctionPhase(auction({}))).toBe(auctionPhase(auction({ price: '190.00', matched_qty: '900' })));
    expect(auctionPhase(auction({}))).not.toBe(auctionPhase(auction({ state: 'uncrossed' })));
    expect(auctionPhase(auction({ session: 'closing_call' }))).not.toBe(auctionPhase(auction({})));
  });
});

describe('readable codes', () => {
  it('says cancel reasons in words', () => {
    expect(cancelReason('AUCTION_UNFILLED')).toBe('Auction unfilled');
    expect(cancelReason('IOC_REMAINDER')).toBe('IOC remainder');
    expect(cancelReason('FOK_UNFILLED')).toBe('FOK unfilled');
    expect(cancelReason('REQUESTED')).toBe('Requested');
    // An order class's exits.
    expect(cancelReason('PARENT_UNFILLED')).toBe('Entry not filled');
    expect(cancelReason('SIBLING_EXECUTED')).toBe('Other exit executed');
    expect(cancelReasonHelp('PARENT_UNFILLED')).toMatch(/entry ended without filling anything/);
    expect(cancelReasonHelp('SIBLING_EXECUTED')).toMatch(/other exit of its class traded/);
    expect(cancelReasonHelp('REQUESTED')).toBeNull();
    expect(cancelReasonHelp(null)).toBeNull();
  });

  it('explains the session rules’ refusals', () => {
    expect(refusalHint('AUCTION_CLOSED')).toMatch(/opening auction/);
    expect(refusalHint('MARKET_CLOSED')).toMatch(/continuous trading/);
    expect(refusalHint('PRICE_OFF_TICK')).toBeNull();
    expect(refusalHint(undefined)).toBeNull();
  });

  it('explains a refusal of fractional shares or an order in dollars', () => {
    expect(refusalHint('FRACTIONAL_NOT_ALLOWED')).toMatch(/^This stock trades whole shares only: fractional quantities and orders in dollars \(notional\) are not taken/);
  });
});
