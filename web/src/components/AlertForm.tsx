import { useState } from 'preact/hooks';
import { api } from '../lib/api';
import * as fmt from '../lib/format';
import { useStore } from '../lib/hooks';
import { alerts, session, toast } from '../state';
import { ErrorNote, Section } from './common';

const PRICE = /^\d+(\.\d{1,4})?$/;

/** Create a price alert: for one stock (on its page) or any (symbol field). */
export function AlertForm({ symbol, last }: { symbol?: string; last?: string | null }) {
  const s = useStore(session);
  const [sym, setSym] = useState(symbol ?? '');
  const [condition, setCondition] = useState<'above' | 'below'>('above');
  const [price, setPrice] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [invalid, setInvalid] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (!s) return null;
  const submit = async (e: Event) => {
    e.preventDefault();
    const target = (symbol ?? sym).trim().toUpperCase();
    if (!target) return setInvalid('Enter a symbol.');
    if (!PRICE.test(price.trim())) return setInvalid('Enter a price like 190.50 (at most 4 decimals).');
    setInvalid(null);
    setBusy(true);
    setError(null);
    try {
      const a = await api.createAlert(target, condition, price.trim());
      alerts.update((l) => [a, ...(l ?? []).filter((x) => x.id !== a.id)]);
      toast('info', 'Alert created', `${a.symbol} ${a.condition} ${fmt.price(a.price)}`);
      setPrice('');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Section title={symbol ? `Price alert for ${symbol}` : 'New price alert'} id={symbol ? 'stock-alert-title' : 'alert-title'}>
      <form onSubmit={(e) => void submit(e)} noValidate>
        {!symbol && (
          <>
            <label for="alert-symbol">Symbol</label>
            <input id="alert-symbol" autoComplete="off" value={sym} onInput={(e) => setSym(e.currentTarget.value)} />
          </>
        )}
        <label for="alert-condition">Condition</label>
        <select id="alert-condition" value={condition} onChange={(e) => setCondition(e.currentTarget.value === 'below' ? 'below' : 'above')}>
          <option value="above">Trades at or above</option>
          <option value="below">Trades at or below</option>
        </select>
        <label for="alert-price">Alert price</label>
        <input id="alert-price" inputMode="decimal" autoComplete="off" value={price} aria-describedby="alert-help" onInput={(e) => setPrice(e.currentTarget.value)} />
        <p class="help" id="alert-help">
          {invalid ?? (last ? `Last ${fmt.price(last)}` : 'Fires once, on the first trade that meets it.')}
        </p>
        <ErrorNote error={error} />
        <button type="submit" class="primary" disabled={busy}>
          Create alert
        </button>
      </form>
    </Section>
  );
}
