import { Link } from './Link';

export function Footer() {
  return (
    <footer class="foot">
      <span>
        Charts by{' '}
        <a href="https://www.tradingview.com/" rel="noopener noreferrer" target="_blank">
          TradingView
        </a>{' '}
        (Lightweight Charts™ © TradingView, Inc.)
      </span>
      <Link href="/about">About &amp; licences</Link>
    </footer>
  );
}
