import { useEffect, useState } from 'preact/hooks';
import { api, describeError } from '../lib/api';
import * as fmt from '../lib/format';
import { NEWS_PAGE, NewsList, type NewsState, safeUrl } from '../lib/news';
import type { NewsItem } from '../lib/types';
import { followNews, toast } from '../state';

/** A failure said calmly, with a way to try again (not an alert: the rest of the page works). */
function Trouble({ what, error, retry }: { what: string; error: unknown; retry: () => void }) {
  const { message } = describeError(error);
  return (
    <div class="news-trouble" role="status">
      <p class="help">
        {what} {message}
      </p>
      <button type="button" class="small" onClick={retry}>
        Try again
      </button>
    </div>
  );
}

function Headline({ item }: { item: NewsItem }) {
  const href = safeUrl(item.url);
  if (!href) return <h3>{item.headline}</h3>;
  return (
    <h3>
      <a href={href} target="_blank" rel="noopener noreferrer">
        {item.headline}
        <span class="visually-hidden"> (opens in a new tab)</span>
      </a>
    </h3>
  );
}

function Item({ item }: { item: NewsItem }) {
  return (
    <li>
      <article class="news-item" aria-label={item.headline}>
        <Headline item={item} />
        <p class="news-meta muted">
          {item.source && <span>{item.source}</span>}
          {item.source && item.published_at && ' · '}
          {item.published_at && (
            <time dateTime={item.published_at} title={item.published_at}>
              {fmt.dateTime(item.published_at)}
            </time>
          )}
        </p>
        {item.summary && <p class="news-summary">{item.summary}</p>}
      </article>
    </li>
  );
}

/**
 * The stock's news, newest first: the REST pages with "Show older", and items published
 * while the page is open on top as they come (`news` channel), each once, with a toast.
 */
export function News({ symbol }: { symbol: string }) {
  const [s, setS] = useState<NewsState | null>(null);
  const [list, setList] = useState<NewsList | null>(null);

  useEffect(() => {
    const l = new NewsList(symbol, (sym, after) => api.news(sym, NEWS_PAGE, after), setS);
    setList(l);
    setS(l.state);
    const stop = followNews(symbol, {
      item: (m) => {
        if (l.receive(m)) toast('info', `News: ${String(m.headline)}`, typeof m.source === 'string' ? m.source : '');
      },
      reopened: () => void l.refresh(),
    });
    void l.load();
    return () => {
      stop();
      l.close();
    };
  }, [symbol]);

  const st = s ?? list?.state;
  return (
    <section class="card news" aria-labelledby="news-title">
      <div class="card-head">
        <h2 id="news-title">News</h2>
      </div>
      {!st || (!st.loaded && st.loading && st.items.length === 0) ? (
        <p class="empty">Loading news…</p>
      ) : (
        <>
          {st.error != null && (
            <Trouble what={st.loaded ? 'The latest news could not be checked.' : 'The news could not be loaded.'} error={st.error} retry={() => void list?.load()} />
          )}
          {st.items.length > 0 ? (
            <ol class="news-list" aria-label={`News about ${symbol}`} aria-busy={st.loadingOlder}>
              {st.items.map((i) => (
                <Item key={i.id} item={i} />
              ))}
            </ol>
          ) : (
            st.loaded && <p class="empty">No news for {symbol} yet.</p>
          )}
          {st.olderError != null && <Trouble what="Older news could not be loaded." error={st.olderError} retry={() => void list?.older()} />}
          {st.loaded && st.next !== null && st.olderError == null && (
            <div class="news-more">
              <button type="button" class="small" aria-describedby={st.loadingOlder ? 'news-older-status' : undefined} onClick={() => void list?.older()}>
                Show older news
              </button>
              {st.loadingOlder && (
                <span class="help" id="news-older-status">
                  Loading…
                </span>
              )}
            </div>
          )}
        </>
      )}
    </section>
  );
}
