import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { LoginForm } from '../components/Auth';
import { BankAccounts, BankTransferForm, BankTransfers } from '../components/Banks';
import { Change, ErrorNote, Section } from '../components/common';
import { api } from '../lib/api';
import * as fmt from '../lib/format';
import { checkAmount } from '../lib/funding';
import { useStore } from '../lib/hooks';
import { Pager, type PagerState } from '../lib/pager';
import type { Activity } from '../lib/types';
import { account, bankTransfers, refreshAccount, refreshBankTransfers, refreshBanks, session, toast } from '../state';

function TransferForm({ onDone }: { onDone: () => void }) {
  const a = useStore(account);
  const [amount, setAmount] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [invalid, setInvalid] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const send = async (type: 'deposit' | 'withdraw') => {
    const { amount: t, error: wrong } = checkAmount(amount);
    if (t == null) {
      setInvalid(wrong);
      return;
    }
    setInvalid(null);
    setBusy(true);
    setError(null);
    try {
      const r = await api.transfer(type, t);
      toast('info', type === 'deposit' ? 'Deposited' : 'Withdrawn', `${fmt.money(r.amount)}: cash is now ${fmt.money(r.cash)}`);
      setAmount('');
      void refreshAccount();
      onDone();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Section title="Transfer" id="transfer-title">
      <form onSubmit={(e) => e.preventDefault()} noValidate>
        <label for="transfer-amount">Amount (USD)</label>
        <input
          id="transfer-amount"
          inputMode="decimal"
          autoComplete="off"
          value={amount}
          aria-invalid={invalid ? true : undefined}
          aria-describedby="transfer-help"
          onInput={(e) => setAmount(e.currentTarget.value)}
        />
        <p class="help" id="transfer-help">
          {invalid ?? (
            <>
              Cash {fmt.money(a?.cash)} · available to withdraw {fmt.money(a?.withdrawable_cash ?? a?.buying_power)}
              {fmt.nonZero(a?.unsettled_cash) && <> · unsettled {fmt.money(a?.unsettled_cash)}</>}
            </>
          )}
        </p>
        <ErrorNote error={error} />
        <div class="row">
          <button type="button" class="primary" disabled={busy} onClick={() => void send('deposit')}>
            Deposit
          </button>
          <button type="button" disabled={busy} onClick={() => void send('withdraw')}>
            Withdraw
          </button>
        </div>
      </form>
    </Section>
  );
}

function describeActivity(a: Activity): string {
  switch (a.activity_type) {
    case 'FILL':
      return `${a.side === 'sell' ? 'Sold' : 'Bought'} ${fmt.qty(a.qty)} ${a.symbol ?? ''} at ${fmt.price(a.price)}`;
    case 'DEPOSIT':
      return 'Deposit';
    case 'WITHDRAWAL':
      return 'Withdrawal';
    case 'SHARE_DEPOSIT':
      return `${fmt.qty(a.qty)} ${a.symbol ?? ''} shares deposited`;
    case 'DEPOSIT_RETURNED':
      return 'Deposit returned by the bank';
    case 'WITHDRAWAL_RETURNED':
      return 'Withdrawal returned by the bank';
    default:
      return fmt.label(String(a.activity_type));
  }
}

function Activities({ pager, state }: { pager: Pager<Activity>; state: PagerState<Activity> }) {
  const sentinel = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = sentinel.current;
    if (!el || typeof IntersectionObserver === 'undefined') return;
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) void pager.more();
    }, { rootMargin: '300px' });
    io.observe(el);
    return () => io.disconnect();
  }, [pager]);
  return (
    <Section title="History" id="history-title">
      <div class="table-wrap">
        <table aria-busy={state.loading}>
          <thead>
            <tr>
              <th scope="col">Date</th>
              <th scope="col">Activity</th>
              <th scope="col" class="num">
                Amount
              </th>
              <th scope="col" class="num hide-phone">
                Fee
              </th>
            </tr>
          </thead>
          <tbody>
            {state.items.map((a) => (
              <tr key={a.id}>
                <td class="muted">{fmt.dateTime(a.transaction_time)}</td>
                <td>{describeActivity(a)}</td>
                <td class="num">
                  <Change value={a.net_amount}>{a.net_amount ? fmt.signedMoney(a.net_amount) : fmt.DASH}</Change>
                </td>
                <td class="num hide-phone">{a.fee ? fmt.money(a.fee) : fmt.DASH}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {state.items.length === 0 && !state.loading && state.done && <p class="empty">No activity yet.</p>}
      <ErrorNote error={state.error} />
      <div ref={sentinel} class="sentinel" />
      {state.loading && <p class="muted">Loading…</p>}
      {!state.done && !state.loading && (
        <button type="button" class="ghost" onClick={() => void pager.more()}>
          Load more activity
        </button>
      )}
    </Section>
  );
}

export function ActivityPage() {
  const s = useStore(session);
  const [state, setState] = useState<PagerState<Activity> | null>(null);
  const pager = useMemo(() => new Pager<Activity>((after) => api.activities(after, 50), setState), []);
  useEffect(() => {
    if (s) {
      void pager.reset();
      void refreshBanks();
      void refreshBankTransfers();
    }
  }, [s, pager]);
  // A bank transfer that settles or comes back moves cash: the history shows it.
  const transfers = useStore(bankTransfers);
  const ended = transfers?.filter((t) => t.status !== 'pending').length ?? null;
  const seenEnded = useRef<number | null>(null);
  useEffect(() => {
    if (ended === null) return;
    const before = seenEnded.current;
    seenEnded.current = ended;
    if (before !== null && before !== ended) void pager.reset();
  }, [ended, pager]);
  if (s === undefined) return <p class="page muted">Loading…</p>;
  if (!s)
    return (
      <div class="page narrow">
        <LoginForm />
      </div>
    );
  return (
    <div class="page">
      <h1>Activity</h1>
      <div class="grid">
        <div class="stack">
          <BankTransfers />
          <Activities pager={pager} state={state ?? pager.state} />
        </div>
        <div class="stack">
          <TransferForm onDone={() => void pager.reset()} />
          <BankTransferForm onDone={() => void pager.reset()} />
          <BankAccounts />
        </div>
      </div>
    </div>
  );
}
