import { useState } from 'preact/hooks';
import { describeError } from '../lib/api';
import * as fmt from '../lib/format';
import { useStore } from '../lib/hooks';
import { useLive } from '../lib/live';
import { market, toast, unwatch, watchlist } from '../state';
import { Change, Section, StaleBadge } from './common';
import { Link } from './Link';

const TICKER = ['ticker'] as const;

function Item({ symbol }: { symbol: string }) {
  const d = useLive(symbol, TICKER);
  const [busy, setBusy] = useState(false);
  const t = d.ticker;
  const stale = market.isStale(symbol, 'ticker');
  const remove = async () => {
    setBusy(true);
    try {
      await unwatch(symbol);
    } catch (e) {
      const { code, message } = describeError(e);
      toast('error', 'Watchlist', `${code}: ${message}`);
      setBusy(false);
    }
  };
  return (
    <li class={stale && t ? 'stale' : undefined}>
      <span>
        <Link href={`/stocks/${symbol}`}>{symbol}</Link> <StaleBadge stale={stale} what="This price" />
      </span>
      <span class="num">
        {fmt.price(t?.last ?? t?.prev_close)}{' '}
        <Change value={t?.change}>
          {fmt.signedPrice(t?.change)} ({fmt.pct(t?.change_pct)})
        </Change>
      </span>
      <button type="button" class="icon" disabled={busy} aria-label={`Remove ${symbol} from watchlist`} onClick={() => void remove()}>
        ×
      </button>
    </li>
  );
}

export function Watchlist() {
  const w = useStore(watchlist);
  const symbols = w?.symbols ?? [];
  return (
    <Section title={w?.name ?? 'Watchlist'} id="watchlist-title">
      <div class="watch">
        {symbols.length === 0 ? (
          <p class="empty">Nothing yet. Open a stock and choose “Add to watchlist”.</p>
        ) : (
          <ul>
            {symbols.map((s) => (
              <Item key={s} symbol={s} />
            ))}
          </ul>
        )}
      </div>
    </Section>
  );
}
