import { useStore } from '../lib/hooks';
import { dismissToast, toasts } from '../state';

/** Notifications (fills, triggered alerts, errors), announced by an aria-live region. */
export function Toasts() {
  const list = useStore(toasts);
  return (
    <div class="toasts" role="status" aria-live="polite" aria-relevant="additions text">
      {list.map((t) => (
        <div key={t.id} class={`toast toast-${t.kind}`}>
          <div class="toast-body">
            <strong>{t.title}</strong>
            <span>{t.text}</span>
          </div>
          <button type="button" class="icon" aria-label={`Dismiss notification: ${t.title}`} onClick={() => dismissToast(t.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
