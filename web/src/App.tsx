import { useEffect, useRef } from 'preact/hooks';
import { Footer } from './components/Footer';
import { Header } from './components/Header';
import { LoginForm, SignupForm } from './components/Auth';
import { Toasts } from './components/Toasts';
import { useStore } from './lib/hooks';
import { match, path } from './lib/router';
import { About } from './pages/About';
import { ActivityPage } from './pages/ActivityPage';
import { AlertsPage } from './pages/AlertsPage';
import { Home } from './pages/Home';
import { StockPage } from './pages/StockPage';
import { session } from './state';

const TITLES: Record<string, string> = {
  home: 'Portfolio',
  activity: 'Activity',
  alerts: 'Alerts',
  login: 'Log in',
  signup: 'Sign up',
  about: 'About',
  missing: 'Not found',
};

function Routed() {
  const p = useStore(path);
  const s = useStore(session);
  const route = match(p);
  const first = useRef(true);
  useEffect(() => {
    document.title = route.name === 'stock' ? `${route.symbol} · bourse` : `${TITLES[route.name] ?? ''} · bourse`;
    // After a navigation inside the page, start reading (and tabbing) at the new content.
    if (first.current) first.current = false;
    else document.getElementById('main')?.focus({ preventScroll: true });
  }, [p]);
  switch (route.name) {
    case 'home':
      return <Home />;
    case 'stock':
      return <StockPage key={route.symbol} symbol={route.symbol} />;
    case 'activity':
      return <ActivityPage />;
    case 'alerts':
      return <AlertsPage />;
    case 'login':
      return <div class="page narrow">{s ? <p>You are logged in.</p> : <LoginForm />}</div>;
    case 'signup':
      return <div class="page narrow">{s ? <p>You are logged in.</p> : <SignupForm />}</div>;
    case 'about':
      return <About />;
    default:
      return (
        <div class="page narrow">
          <h1>Not found</h1>
          <p>There is no page here.</p>
        </div>
      );
  }
}

export function App() {
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <Header />
      <main id="main" tabIndex={-1}>
        <Routed />
      </main>
      <Footer />
      <Toasts />
    </>
  );
}
