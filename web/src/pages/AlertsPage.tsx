import { useEffect, useState } from 'preact/hooks';
import { AlertForm } from '../components/AlertForm';
import { LoginForm } from '../components/Auth';
import { ErrorNote, Section } from '../components/common';
import { Link } from '../components/Link';
import { api } from '../lib/api';
import * as fmt from '../lib/format';
import { useStore } from '../lib/hooks';
import type { Alert } from '../lib/types';
import { alerts, refreshAlerts, session } from '../state';

function AlertRow({ a }: { a: Alert }) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const remove = async () => {
    setBusy(true);
    try {
      await api.deleteAlert(a.id);
      alerts.update((l) => l?.filter((x) => x.id !== a.id) ?? l);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <tr>
      <th scope="row">
        <Link href={`/stocks/${a.symbol}`}>{a.symbol}</Link>
      </th>
      <td>
        {a.condition === 'above' ? 'At or above' : 'At or below'} {fmt.price(a.price)}
      </td>
      <td>
        {a.status === 'triggered' ? (
          <span class="badge">triggered{a.trade_price ? ` at ${fmt.price(a.trade_price)}` : ''}</span>
        ) : (
          <span class="badge">active</span>
        )}
        {a.triggered_at && <span class="muted hide-phone"> {fmt.dateTime(a.triggered_at)}</span>}
      </td>
      <td>
        <button type="button" class="small danger" disabled={busy} aria-label={`Delete alert ${a.symbol} ${a.condition} ${a.price}`} onClick={() => void remove()}>
          Delete
        </button>
        {error != null && <ErrorNote error={error} />}
      </td>
    </tr>
  );
}

export function AlertsList() {
  const list = useStore(alerts);
  return (
    <Section title="Your alerts" id="alerts-list-title">
      {list === null ? (
        <p class="empty">Loading…</p>
      ) : list.length === 0 ? (
        <p class="empty">No alerts. Create one to hear when a stock reaches a price.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Symbol</th>
                <th scope="col">Condition</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((a) => (
                <AlertRow key={a.id} a={a} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Section>
  );
}

export function AlertsPage() {
  const s = useStore(session);
  useEffect(() => {
    if (s) void refreshAlerts();
  }, [s]);
  if (s === undefined) return <p class="page muted">Loading…</p>;
  if (!s)
    return (
      <div class="page narrow">
        <LoginForm />
      </div>
    );
  return (
    <div class="page">
      <h1>Alerts</h1>
      <div class="grid">
        <div class="stack">
          <AlertsList />
        </div>
        <div class="stack">
          <AlertForm />
        </div>
      </div>
    </div>
  );
}
