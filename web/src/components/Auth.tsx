import { useState } from 'preact/hooks';
import { api } from '../lib/api';
import { navigate } from '../lib/router';
import { beginSession } from '../state';
import { ErrorNote } from './common';
import { Link } from './Link';

function useAuthForm(kind: 'login' | 'signup') {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      if (kind === 'signup') await api.signUp(username.trim(), password);
      const s = await api.logIn(username.trim(), password);
      beginSession(s);
      if (location.pathname === '/login' || location.pathname === '/signup') navigate('/', true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return { username, setUsername, password, setPassword, error, busy, submit };
}

export function LoginForm() {
  const f = useAuthForm('login');
  return (
    <form class="card auth" onSubmit={(e) => void f.submit(e)} aria-labelledby="login-title" noValidate>
      <h2 id="login-title">Log in</h2>
      <label for="login-username">Username</label>
      <input id="login-username" name="username" autoComplete="username" required value={f.username} onInput={(e) => f.setUsername(e.currentTarget.value)} />
      <label for="login-password">Password</label>
      <input id="login-password" name="password" type="password" autoComplete="current-password" required value={f.password} onInput={(e) => f.setPassword(e.currentTarget.value)} />
      <ErrorNote error={f.error} />
      <button type="submit" class="primary" disabled={f.busy}>
        Log in
      </button>
      <p class="muted">
        New here? <Link href="/signup">Create an account</Link>
      </p>
    </form>
  );
}

export function SignupForm() {
  const f = useAuthForm('signup');
  return (
    <form class="card auth" onSubmit={(e) => void f.submit(e)} aria-labelledby="signup-title" noValidate>
      <h2 id="signup-title">Sign up</h2>
      <label for="signup-username">Username</label>
      <input
        id="signup-username"
        name="username"
        autoComplete="username"
        required
        aria-describedby="signup-username-help"
        value={f.username}
        onInput={(e) => f.setUsername(e.currentTarget.value)}
      />
      <p class="help" id="signup-username-help">
        3–32 characters: lower-case letters, digits, _ . -
      </p>
      <label for="signup-password">Password</label>
      <input
        id="signup-password"
        name="password"
        type="password"
        autoComplete="new-password"
        required
        aria-describedby="signup-password-help"
        value={f.password}
        onInput={(e) => f.setPassword(e.currentTarget.value)}
      />
      <p class="help" id="signup-password-help">
        8–128 characters, not a common or easily guessed password.
      </p>
      <ErrorNote error={f.error} />
      <button type="submit" class="primary" disabled={f.busy}>
        Sign up
      </button>
      <p class="muted">
        Have an account? <Link href="/login">Log in</Link>
      </p>
    </form>
  );
}
