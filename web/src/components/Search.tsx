import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api } from '../lib/api';
import * as fmt from '../lib/format';
import { navigate } from '../lib/router';
import { SearchController, type SearchState } from '../lib/search';
import type { Stock } from '../lib/types';
import { Change } from './common';

/** The header's stock search: an ARIA combobox with a listbox of results. */
export function Search() {
  const [state, setState] = useState<SearchState<Stock> | null>(null);
  const abort = useRef<AbortController | null>(null);
  const ctl = useMemo(
    () =>
      new SearchController<Stock>(
        async (q) => {
          abort.current?.abort();
          abort.current = new AbortController();
          return (await api.searchStocks(q, 8, abort.current.signal)).items;
        },
        (s) => setState(s),
        200,
      ),
    [],
  );
  const s = state ?? ctl.state;
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const onDoc = (e: MouseEvent) => {
      if (box.current && !box.current.contains(e.target as Node)) ctl.close();
    };
    document.addEventListener('mousedown', onDoc);
    return () => document.removeEventListener('mousedown', onDoc);
  }, [ctl]);

  const go = (st: Stock) => {
    ctl.reset();
    navigate(`/stocks/${encodeURIComponent(st.symbol)}`);
  };
  const optionId = (i: number) => `search-option-${i}`;
  const expanded = s.open && (s.results.length > 0 || s.error !== null || s.query.trim() !== '');

  return (
    <div class="search" ref={box}>
      <label for="search-input" class="visually-hidden">
        Search stocks
      </label>
      <input
        id="search-input"
        type="search"
        role="combobox"
        list={undefined}
        placeholder="Search stocks"
        autoComplete="off"
        spellcheck={false}
        aria-autocomplete="list"
        aria-expanded={expanded}
        aria-controls="search-listbox"
        aria-activedescendant={s.open && s.active >= 0 ? optionId(s.active) : undefined}
        value={s.query}
        onInput={(e) => ctl.input(e.currentTarget.value)}
        onKeyDown={(e) => {
          const r = ctl.key(e.key);
          if (r.handled) e.preventDefault();
          if (r.chosen) go(r.chosen);
        }}
      />
      <ul id="search-listbox" role="listbox" aria-label="Search results" class={expanded ? 'listbox open' : 'listbox'} hidden={!expanded}>
        {s.error !== null && (
          <li class="listbox-note" role="presentation">
            Search failed: {s.error}
          </li>
        )}
        {s.error === null && s.results.length === 0 && !s.loading && (
          <li class="listbox-note" role="presentation">
            No stocks match
          </li>
        )}
        {s.results.map((st, i) => (
          <li
            key={st.symbol}
            id={optionId(i)}
            role="option"
            aria-selected={i === s.active}
            class={i === s.active ? 'option active' : 'option'}
            onMouseDown={(e) => {
              e.preventDefault();
              go(st);
            }}
            onMouseEnter={() => ctl.highlight(i)}
          >
            <span class="sym">{st.symbol}</span>
            <span class="name">{st.name}</span>
            <span class="num">{fmt.price(st.quote?.last ?? st.quote?.prev_close)}</span>
            <Change value={st.quote?.change}>{fmt.pct(st.quote?.change_pct)}</Change>
          </li>
        ))}
      </ul>
    </div>
  );
}
