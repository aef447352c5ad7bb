import { useEffect, useState } from 'preact/hooks';
import { api } from '../lib/api';
import * as fmt from '../lib/format';
import { useStore } from '../lib/hooks';
import { navigate, path } from '../lib/router';
import { clockView } from '../lib/session';
import { account, conn, endSession, feed, market, marketClock, session, toast } from '../state';
import { Link } from './Link';
import { Search } from './Search';

/** live / reconnecting / stale, from the socket's state and whether followed data is in step. */
function Connection() {
  const c = useStore(conn);
  const [stale, setStale] = useState(false);
  useEffect(() => market.subscribe(() => setStale(market.anyStale())), []);
  const state = c.state !== 'live' ? 'reconnecting' : stale ? 'stale' : 'live';
  const text = state === 'live' ? 'Live' : state === 'stale' ? 'Stale' : c.state === 'connecting' ? 'Connecting' : 'Reconnecting';
  return (
    <div class={`conn conn-${state}`} role="status" aria-label={`Market data: ${text}`} title={`Market data: ${text}`}>
      <span class="dot" aria-hidden="true" />
      <span class="conn-text">{text}</span>
      {c.state === 'reconnecting' && (
        <button type="button" class="link-button" onClick={() => feed.reconnectNow()}>
          Reconnect
        </button>
      )}
    </div>
  );
}

/** The market's session (Pre-market, Opening auction, Open, …) and when it next opens or closes. */
function MarketClock() {
  const c = useStore(marketClock);
  if (!c) return null;
  const v = clockView(c);
  return (
    <div class={`market-clock market-${v.tone}`} role="status" aria-label={v.name} title={v.name}>
      <span class="dot" aria-hidden="true" />
      <span class="market-label">{v.label}</span>
      {v.next && <span class="muted market-next">· {v.next}</span>}
    </div>
  );
}

export function Header() {
  const s = useStore(session);
  const a = useStore(account);
  const p = useStore(path);
  const logOut = async () => {
    try {
      await api.logOut();
    } catch (e) {
      toast('error', 'Log-out', e instanceof Error ? e.message : String(e));
    }
    endSession();
    navigate('/');
  };
  const nav = [
    { href: '/', text: 'Portfolio' },
    { href: '/activity', text: 'Activity' },
    { href: '/alerts', text: 'Alerts' },
  ];
  return (
    <header class="top">
      <div class="top-row">
        <Link href="/" class="brand" aria-label="bourse home">
          <span aria-hidden="true" class="brand-mark" />
          bourse
        </Link>
        <Search />
        <MarketClock />
        <Connection />
      </div>
      <div class="top-row second">
        <nav aria-label="Main">
          <ul>
            {nav.map((n) => (
              <li key={n.href}>
                <Link href={n.href} aria-current={p === n.href ? 'page' : undefined}>
                  {n.text}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          {s ? (
            <>
              <span class="bp">
                <span class="muted">Buying power</span> <strong class="num">{fmt.money(a?.buying_power)}</strong>
              </span>
              <span class="muted user">{s.username}</span>
              <button type="button" class="ghost" onClick={() => void logOut()}>
                Log out
              </button>
            </>
          ) : s === null ? (
            <>
              <Link href="/login" class="button ghost">
                Log in
              </Link>
              <Link href="/signup" class="button primary">
                Sign up
              </Link>
            </>
          ) : null}
        </div>
      </div>
    </header>
  );
}
