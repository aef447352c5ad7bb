/**
 * Bank funding on the Activity page (docs/FUNDING.md): linked banks (link, verify with the two
 * micro-deposits, the sandbox's bank statement, remove), transfers with a verified bank, and
 * the list of bank transfers, which follows the account's `transfer` events live.
 */
import { useRef, useState } from 'preact/hooks';
import { api, ApiError } from '../lib/api';
import * as fmt from '../lib/format';
import {
  bankName,
  bankNext,
  bankStatusLabel,
  checkAmount,
  checkBank,
  checkMicroDeposits,
  describeTransfer,
  directionLabel,
  MAX_BANKS,
  returnReason,
  shortTime,
  transferStatusLabel,
  triesLeft,
  type BankField,
} from '../lib/funding';
import { useStore } from '../lib/hooks';
import type { Bank, BankStatement, Transfer } from '../lib/types';
import { account, bankTransfers, banks, refreshAccount, refreshBanks, toast, upsertBank } from '../state';
import { ErrorNote, Section } from './common';

/** A text field with its label, and its error (or help) below, tied to it for assistive tech. */
function Field(props: {
  id: string;
  label: string;
  value: string;
  onValue: (v: string) => void;
  error?: string | undefined;
  help?: string;
  inputMode?: 'numeric' | 'decimal' | 'text';
  autoComplete?: string;
  inputRef?: { current: HTMLInputElement | null };
}) {
  const { id, error, help } = props;
  return (
    <>
      <label for={id}>{props.label}</label>
      <input
        id={id}
        ref={props.inputRef}
        inputMode={props.inputMode ?? 'text'}
        autoComplete={props.autoComplete ?? 'off'}
        spellcheck={false}
        value={props.value}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : help ? `${id}-help` : undefined}
        onInput={(e) => props.onValue(e.currentTarget.value)}
      />
      {error ? (
        <p class="error" id={`${id}-error`}>
          {error}
        </p>
      ) : (
        help && (
          <p class="help" id={`${id}-help`}>
            {help}
          </p>
        )
      )}
    </>
  );
}

// --- linking ---

function LinkBankForm() {
  const [holder, setHolder] = useState('');
  const [number, setNumber] = useState('');
  const [routing, setRouting] = useState('');
  const [showErrors, setShowErrors] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const refs: Record<BankField, { current: HTMLInputElement | null }> = {
    holder: useRef<HTMLInputElement>(null),
    account: useRef<HTMLInputElement>(null),
    routing: useRef<HTMLInputElement>(null),
  };
  const checked = checkBank({ holder, account: number, routing });
  const err = (f: BankField) => (showErrors ? checked.errors[f] : undefined);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!checked.body) {
      setShowErrors(true);
      // Where the first thing to fix is.
      const first = (['holder', 'account', 'routing'] as const).find((f) => checked.errors[f]);
      if (first) refs[first].current?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const b = await api.linkBank(checked.body.holder_name, checked.body.account_number, checked.body.routing_number);
      upsertBank(b);
      toast('info', 'Bank linked', `${bankName(b)}: enter the two small deposits from its statement to verify it.`);
      setHolder('');
      setNumber('');
      setRouting('');
      setShowErrors(false);
    } catch (x) {
      setError(x);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="link-bank" onSubmit={(e) => void submit(e)} noValidate aria-labelledby="link-bank-title">
      <h3 id="link-bank-title">Link a bank account</h3>
      <Field id="bank-holder" label="Account holder's name" value={holder} onValue={setHolder} error={err('holder')} autoComplete="name" inputRef={refs.holder} />
      <Field id="bank-account-number" label="Account number" value={number} onValue={setNumber} error={err('account')} help="4 to 17 digits." inputMode="numeric" inputRef={refs.account} />
      <Field
        id="bank-routing-number"
        label="Routing number"
        value={routing}
        onValue={setRouting}
        error={err('routing')}
        help="The bank's nine-digit ABA number, at the bottom left of a check."
        inputMode="numeric"
        inputRef={refs.routing}
      />
      <ErrorNote error={error} />
      <button type="submit" class="primary" disabled={busy}>
        Link bank
      </button>
      <p class="help">The bank then gets two small deposits (under $1): enter them to prove the account is yours.</p>
    </form>
  );
}

// --- verifying ---

/** The sandbox's stand-in for the person's bank statement: the two micro-deposits. */
function Statement({ b }: { b: Bank }) {
  const [open, setOpen] = useState(false);
  const [statement, setStatement] = useState<BankStatement | null>(null);
  const [error, setError] = useState<unknown>(null);
  const id = `bank-${b.id}-statement`;
  const toggle = async () => {
    if (open) return setOpen(false);
    setOpen(true);
    if (statement) return;
    setError(null);
    try {
      setStatement(await api.bankStatement(b.id));
    } catch (x) {
      setError(x);
    }
  };
  return (
    <div class="statement">
      <button type="button" class="small ghost" aria-expanded={open} aria-controls={id} onClick={() => void toggle()}>
        Sandbox: show the bank statement
      </button>
      <div id={id} hidden={!open}>
        {statement ? (
          <table class="statement-lines">
            <caption>Bank statement of {b.account_number_masked} (sandbox: no real bank is connected)</caption>
            <thead>
              <tr>
                <th scope="col">Description</th>
                <th scope="col" class="num">
                  Amount
                </th>
              </tr>
            </thead>
            <tbody>
              {statement.lines.map((l, i) => (
                <tr key={i}>
                  <td>{l.description}</td>
                  <td class="num">{fmt.money(l.amount)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          open && error == null && <p class="muted">Loading…</p>
        )}
        <ErrorNote error={error} />
      </div>
    </div>
  );
}

function VerifyForm({ b }: { b: Bank }) {
  const [first, setFirst] = useState('');
  const [second, setSecond] = useState('');
  const [showErrors, setShowErrors] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const firstRef = useRef<HTMLInputElement>(null);
  const secondRef = useRef<HTMLInputElement>(null);
  const checked = checkMicroDeposits(first, second);
  const id = `bank-${b.id}`;
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!checked.amounts) {
      setShowErrors(true);
      (checked.errors.first ? firstRef : secondRef).current?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const nb = await api.verifyBank(b.id, checked.amounts);
      upsertBank(nb);
      toast('info', 'Bank verified', `${bankName(nb)} can now fund the account.`);
    } catch (x) {
      setError(x);
      // A wrong guess used a try (or the last one): show what is left.
      if (x instanceof ApiError && (x.code === 'WRONG_AMOUNTS' || x.code === 'BANK_VERIFICATION_FAILED' || x.code === 'BANK_NOT_PENDING')) void refreshBanks();
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="verify-bank" onSubmit={(e) => void submit(e)} noValidate>
      <fieldset>
        <legend>Verify {b.account_number_masked}: the two small deposits</legend>
        <div class="two">
          <div>
            <Field id={`${id}-first`} label="First amount ($)" value={first} onValue={setFirst} error={showErrors ? checked.errors.first : undefined} inputMode="decimal" inputRef={firstRef} />
          </div>
          <div>
            <Field id={`${id}-second`} label="Second amount ($)" value={second} onValue={setSecond} error={showErrors ? checked.errors.second : undefined} inputMode="decimal" inputRef={secondRef} />
          </div>
        </div>
        <ErrorNote error={error} />
        <button type="submit" class="primary" disabled={busy}>
          Verify bank
        </button>
      </fieldset>
    </form>
  );
}

// --- the list ---

function BankItem({ b }: { b: Bank }) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const remove = async () => {
    setBusy(true);
    setError(null);
    try {
      await api.removeBank(b.id);
      banks.update((l) => l?.filter((x) => x.id !== b.id) ?? l);
    } catch (x) {
      setError(x);
    } finally {
      setBusy(false);
    }
  };
  const next = bankNext(b);
  return (
    <li class="bank">
      <div class="bank-head">
        <strong class="num">{b.account_number_masked}</strong>
        <span>{b.holder_name}</span>
        <span class={`badge bank-${b.status}`}>{bankStatusLabel(b)}</span>
      </div>
      <p class="muted bank-detail">
        Routing {b.routing_number} · linked {fmt.dateTime(b.linked_at)}
        {b.status === 'pending' && ` · ${triesLeft(b.attempts_left)}`}
      </p>
      {next && <p class="help">{next}</p>}
      {b.status === 'pending' && (
        <>
          <Statement b={b} />
          <VerifyForm b={b} />
        </>
      )}
      <button type="button" class="small danger" disabled={busy} aria-label={`Remove bank ${bankName(b)}`} onClick={() => void remove()}>
        Remove
      </button>
      <ErrorNote error={error} />
    </li>
  );
}

/** The linked banks, and the form to link another. */
export function BankAccounts() {
  const list = useStore(banks);
  return (
    <Section title="Bank accounts" id="banks-title">
      {list === null ? (
        <p class="empty">Loading…</p>
      ) : list.length === 0 ? (
        <p class="empty">No bank linked yet. Link one to move money between it and your account.</p>
      ) : (
        <ul class="banks" aria-label="Linked banks">
          {list.map((b) => (
            <BankItem key={b.id} b={b} />
          ))}
        </ul>
      )}
      {list && list.length >= MAX_BANKS ? <p class="help">{MAX_BANKS} banks are linked, the most there may be: remove one to link another.</p> : <LinkBankForm />}
    </Section>
  );
}

// --- transfers ---

/** A deposit from, or a withdrawal to, a verified bank. */
export function BankTransferForm({ onDone }: { onDone: () => void }) {
  const list = useStore(banks);
  const a = useStore(account);
  const transfers = useStore(bankTransfers);
  const verified = (list ?? []).filter((b) => b.status === 'verified');
  const [bankId, setBankId] = useState('');
  const [direction, setDirection] = useState<'deposit' | 'withdraw'>('deposit');
  const [amount, setAmount] = useState('');
  const [invalid, setInvalid] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<Transfer | null>(null);
  const chosen = verified.find((b) => b.id === bankId) ?? verified[0];
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!chosen) return;
    const checked = checkAmount(amount);
    if (checked.error != null) {
      setInvalid(checked.error);
      return;
    }
    setInvalid(null);
    setBusy(true);
    setError(null);
    try {
      const r = await api.transfer(direction, checked.amount, chosen.id);
      setResult(r);
      const t = r.transfer;
      if (t) bankTransfers.update((l) => [t, ...(l ?? []).filter((x) => x.id !== t.id)]);
      setAmount('');
      void refreshAccount();
      onDone();
    } catch (x) {
      setError(x);
    } finally {
      setBusy(false);
    }
  };
  // The transfer as it is now (it settles or comes back while shown).
  const shown = result?.transfer ? (transfers?.find((t) => t.id === result.transfer?.id) ?? result.transfer) : null;
  const withdrawable = a?.withdrawable_cash ?? a?.buying_power;
  return (
    <Section title="Bank transfer" id="bank-transfer-title">
      {verified.length === 0 ? (
        <p class="empty">{list === null ? 'Loading…' : 'Link a bank and verify it to move money between it and your account.'}</p>
      ) : (
        <form class="bank-transfer" onSubmit={(e) => void submit(e)} noValidate>
          <label for="bank-transfer-bank">Bank</label>
          <select id="bank-transfer-bank" value={chosen?.id ?? ''} onChange={(e) => setBankId(e.currentTarget.value)}>
            {verified.map((b) => (
              <option key={b.id} value={b.id}>
                {bankName(b)}
              </option>
            ))}
          </select>
          <fieldset class="choice">
            <legend>Direction</legend>
            <label class="inline">
              <input type="radio" name="bank-transfer-direction" value="deposit" checked={direction === 'deposit'} onChange={() => setDirection('deposit')} />
              Deposit from the bank
            </label>
            <label class="inline">
              <input type="radio" name="bank-transfer-direction" value="withdraw" checked={direction === 'withdraw'} onChange={() => setDirection('withdraw')} />
              Withdraw to the bank
            </label>
          </fieldset>
          <label for="bank-transfer-amount">Bank transfer amount (dollars)</label>
          <input
            id="bank-transfer-amount"
            inputMode="decimal"
            autoComplete="off"
            value={amount}
            aria-invalid={invalid ? true : undefined}
            aria-describedby="bank-transfer-help"
            onInput={(e) => setAmount(e.currentTarget.value)}
          />
          <p class={invalid ? 'error' : 'help'} id="bank-transfer-help">
            {invalid ??
              (direction === 'deposit'
                ? 'Pending until it settles; part of it may be usable for trading at once.'
                : `Settled cash only: available to withdraw ${fmt.money(withdrawable)}.`)}
          </p>
          <ErrorNote error={error} />
          <button type="submit" class="primary" disabled={busy}>
            Start transfer
          </button>
        </form>
      )}
      {result && (
        <div class="result" role="status">
          <p>
            <strong>{shown ? describeTransfer(shown, (iso) => shortTime(iso)) : `${fmt.label(result.type)} of ${fmt.money(result.amount)}`}</strong>
          </p>
          <p class="muted">Cash after the transfer: {fmt.money(result.cash)}</p>
        </div>
      )}
    </Section>
  );
}

/** The bank transfers, newest first, as they settle or come back. */
export function BankTransfers() {
  const list = useStore(bankTransfers);
  const all = useStore(banks);
  const bankOf = (id: string) => all?.find((b) => b.id === id)?.account_number_masked ?? `#${id}`;
  return (
    <Section title="Bank transfers" id="bank-transfers-title">
      {list === null ? (
        <p class="empty">Loading…</p>
      ) : list.length === 0 ? (
        <p class="empty">No bank transfers yet.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Date</th>
                <th scope="col">Transfer</th>
                <th scope="col" class="num">
                  Amount
                </th>
                <th scope="col" class="num">
                  Instant
                </th>
                <th scope="col">Status</th>
                <th scope="col">Settles / ended</th>
                <th scope="col" class="hide-phone">
                  Return
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((t) => (
                <tr key={t.id}>
                  <td class="muted">{fmt.dateTime(t.created_at)}</td>
                  <td>
                    {directionLabel(t)} <span class="muted">{t.direction === 'deposit' ? 'from' : 'to'} {bankOf(t.bank_id)}</span>
                  </td>
                  <td class="num">{fmt.money(t.amount)}</td>
                  <td class="num">{t.direction === 'deposit' ? fmt.money(t.instant) : fmt.DASH}</td>
                  <td>
                    <span class={`badge transfer-${t.status}`}>{transferStatusLabel(t)}</span>
                  </td>
                  <td class="muted">{shortTime(t.status === 'pending' ? t.settle_at : (t.ended_at ?? t.settle_at))}</td>
                  <td class="hide-phone">{t.return_code ? returnReason(t.return_code) : fmt.DASH}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Section>
  );
}
