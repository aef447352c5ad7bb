import type { ComponentChildren } from 'preact';
import { navigate } from '../lib/router';

interface Props {
  href: string;
  class?: string;
  children: ComponentChildren;
  'aria-label'?: string;
  'aria-current'?: 'page' | undefined;
}

/** An ordinary link that navigates inside the page (modifier clicks open a new tab as usual). */
export function Link(p: Props) {
  return (
    <a
      href={p.href}
      class={p.class}
      aria-label={p['aria-label']}
      aria-current={p['aria-current']}
      onClick={(e) => {
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(p.href);
      }}
    >
      {p.children}
    </a>
  );
}
