/** A small History API router: the path is a store; links navigate without reloading. */
import { Store } from './frame';

export const path = new Store<string>(typeof location === 'undefined' ? '/' : location.pathname);

export function navigate(to: string, replace = false): void {
  if (to === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  path.set(location.pathname);
  window.scrollTo(0, 0);
}

if (typeof window !== 'undefined') {
  window.addEventListener('popstate', () => path.set(location.pathname));
}

export type Route =
  | { name: 'home' }
  | { name: 'stock'; symbol: string }
  | { name: 'activity' }
  | { name: 'alerts' }
  | { name: 'login' }
  | { name: 'signup' }
  | { name: 'about' }
  | { name: 'missing' };

export function match(p: string): Route {
  const clean = p.replace(/\/+$/, '') || '/';
  if (clean === '/') return { name: 'home' };
  const stock = /^\/stocks\/([A-Za-z0-9.\-_]{1,16})$/.exec(clean);
  if (stock?.[1]) return { name: 'stock', symbol: stock[1].toUpperCase() };
  switch (clean) {
    case '/activity':
      return { name: 'activity' };
    case '/alerts':
      return { name: 'alerts' };
    case '/login':
      return { name: 'login' };
    case '/signup':
      return { name: 'signup' };
    case '/about':
      return { name: 'about' };
    default:
      return { name: 'missing' };
  }
}
