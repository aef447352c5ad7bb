/** What the page is made of, and the licences it must show. */
export function About() {
  return (
    <div class="page narrow">
      <h1>About bourse</h1>
      <section class="card" aria-labelledby="licences-title">
        <h2 id="licences-title">Licences</h2>
        <p>
          Charts by{' '}
          <a href="https://www.tradingview.com/" rel="noopener noreferrer" target="_blank">
            TradingView
          </a>
          : TradingView Lightweight Charts™, Copyright (с) 2025 TradingView, Inc.,{' '}
          <a href="https://www.tradingview.com/" rel="noopener noreferrer" target="_blank">
            https://www.tradingview.com/
          </a>
          , under the Apache License 2.0 (<a href="/licenses/lightweight-charts/LICENSE">licence</a>,{' '}
          <a href="/licenses/lightweight-charts/NOTICE">notice</a>). It includes fancy-canvas (MIT).
        </p>
        <p>User interface built with Preact (MIT).</p>
        <p>
          The full texts: <a href="/THIRD-PARTY-NOTICES.txt">third-party notices</a>.
        </p>
      </section>
    </div>
  );
}
