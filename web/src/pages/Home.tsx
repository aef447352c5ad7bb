import { LoginForm } from '../components/Auth';
import { Watchlist } from '../components/Watchlist';
import { OpenOrders, PortfolioSummary, Positions, RecentOrders } from '../components/Holdings';
import { useStore } from '../lib/hooks';
import { session } from '../state';

export function Home() {
  const s = useStore(session);
  if (s === undefined) return <p class="page muted">Loading…</p>;
  if (!s)
    return (
      <div class="page narrow">
        <h1>Trade stocks, live</h1>
        <p class="muted">Search for a stock above, or log in to trade.</p>
        <LoginForm />
      </div>
    );
  return (
    <div class="page">
      <h1 class="visually-hidden">Portfolio</h1>
      <div class="grid">
        <div class="stack">
          <PortfolioSummary />
          <Positions />
          <OpenOrders />
          <RecentOrders />
        </div>
        <div class="stack">
          <Watchlist />
        </div>
      </div>
    </div>
  );
}
