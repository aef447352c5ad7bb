import type { ComponentChildren } from 'preact';
import { describeError } from '../lib/api';
import { direction } from '../lib/format';

/** A server refusal as it was said: its code and its message (rendered as text, escaped). */
export function ErrorNote({ error, id }: { error: unknown; id?: string }) {
  if (error == null) return null;
  const { code, message } = describeError(error);
  return (
    <p class="error" role="alert" id={id}>
      <span class="error-code">{code}</span> {message}
    </p>
  );
}

/** Up/down colouring of a signed value. */
export function Change({ value, children }: { value: string | null | undefined; children: ComponentChildren }) {
  const d = direction(value);
  return <span class={d > 0 ? 'up' : d < 0 ? 'down' : 'flat'}>{children}</span>;
}

export function StaleBadge({ stale, what }: { stale: boolean; what?: string }) {
  if (!stale) return null;
  return (
    <span class="badge stale-badge" title={`${what ?? 'This data'} is being resynced with the exchange`}>
      stale
    </span>
  );
}

export function Section({ title, id, children, actions }: { title: string; id: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section class="card" aria-labelledby={id}>
      <div class="card-head">
        <h2 id={id}>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}
