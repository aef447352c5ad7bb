/**
 * Development only (`npm run dev` and `vite preview`, never in the build): a stand-in for the server routes
 * the page uses that a plain `bourse demo` may not have yet — cookie sessions with a CSRF
 * token (`POST /v1/sessions {"cookie":true}`, `GET /v1/sessions/current`, `DELETE
 * /v1/sessions`) and watchlists (`/v1/watchlists…`, kept in memory). Other `/v1` requests
 * that carry the stand-in's cookie get the session's bearer token added before Vite's proxy
 * forwards them. WebSocket `auth` by cookie is not emulated: private channels stay off.
 * If the server answers a route itself (not 404/405), its answer is used.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Plugin } from 'vite';

interface DevSession {
  token: string;
  csrf: string;
  username: string;
  accountId: string;
  expiresAt: string;
}

interface Watchlist {
  id: string;
  name: string;
  symbols: string[];
  created_at: string;
  updated_at: string;
}

const COOKIE = 'bourse_session';

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (s += c));
    req.on('end', () => resolve(s));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, v?: unknown, headers: Record<string, string> = {}): void {
  res.statusCode = status;
  for (const [k, val] of Object.entries(headers)) res.setHeader(k, val);
  if (v === undefined) {
    res.end();
    return;
  }
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(v));
}

const err = (res: ServerResponse, status: number, code: string, message: string): void =>
  send(res, status, { code, message });

export function devShim(upstream: string): Plugin {
  const sessions = new Map<string, DevSession>();
  const lists = new Map<string, Watchlist[]>();
  let nextId = 1;

  const cookieOf = (req: IncomingMessage): DevSession | undefined => {
    const m = /(?:^|;\s*)bourse_session=([^;]+)/.exec(req.headers.cookie ?? '');
    return m?.[1] ? sessions.get(m[1]) : undefined;
  };

  const symbolExists = async (sym: string): Promise<boolean> =>
    (await fetch(`${upstream}/v1/stocks/${encodeURIComponent(sym)}`)).ok;

  return {
    name: 'bourse-dev-shim',
    configureServer(server) {
      server.middlewares.use(middleware);
    },
    configurePreviewServer(server) {
      server.middlewares.use(middleware);
    },
  };

  function middleware(req: IncomingMessage, res: ServerResponse, next: () => void): void {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const path = url.pathname;
      if (!path.startsWith('/v1/') || req.headers.upgrade) return next();
      const s = cookieOf(req);
      const method = req.method ?? 'GET';
      if (s && method !== 'GET' && req.headers['x-csrf-token'] !== s.csrf) {
        return err(res, 403, 'CSRF_TOKEN_INVALID', 'missing or stale CSRF token');
      }
      if (path === '/v1/sessions' && method === 'POST') {
        const b = await body(req);
        const j = JSON.parse(b || '{}') as { username?: string; password?: string; cookie?: boolean };
        const r = await fetch(`${upstream}/v1/sessions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: j.username, password: j.password }),
        });
        const t = (await r.json()) as { token?: string; account_id?: string; expires_at?: string };
        if (!r.ok || !t.token || !j.cookie) return send(res, r.status, t);
        const id = randomBytes(16).toString('hex');
        const sess: DevSession = {
          token: t.token,
          csrf: randomBytes(16).toString('hex'),
          username: j.username ?? '',
          accountId: t.account_id ?? '',
          expiresAt: t.expires_at ?? '',
        };
        sessions.set(id, sess);
        return send(
          res,
          201,
          { account_id: sess.accountId, expires_at: sess.expiresAt, csrf_token: sess.csrf },
          { 'set-cookie': `${COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict` },
        );
      }
      if (path === '/v1/sessions/current' && method === 'GET') {
        if (!s) return err(res, 401, 'UNAUTHORIZED', 'not logged in');
        return send(res, 200, {
          account_id: s.accountId,
          username: s.username,
          expires_at: s.expiresAt,
          csrf_token: s.csrf,
        });
      }
      if (path === '/v1/sessions' && method === 'DELETE' && s) {
        await fetch(`${upstream}/v1/sessions`, { method: 'DELETE', headers: { authorization: `Bearer ${s.token}` } });
        for (const [k, v] of sessions) if (v === s) sessions.delete(k);
        return send(res, 204, undefined, { 'set-cookie': `${COOKIE}=; Path=/; Max-Age=0` });
      }
      if (path.startsWith('/v1/watchlists')) {
        if (!s) return err(res, 401, 'UNAUTHORIZED', 'not logged in');
        const mine = lists.get(s.accountId) ?? [];
        lists.set(s.accountId, mine);
        const parts = path.split('/').slice(3);
        const now = new Date().toISOString();
        const j = method === 'GET' || method === 'DELETE' ? {} : (JSON.parse((await body(req)) || '{}') as Record<string, unknown>);
        if (parts.length === 0) {
          if (method === 'GET') return send(res, 200, mine);
          const name = typeof j.name === 'string' ? j.name : '';
          if (mine.some((w) => w.name === name)) return err(res, 422, 'WATCHLIST_NAME_TAKEN', 'a watchlist has this name');
          const syms = Array.isArray(j.symbols) ? j.symbols.map(String) : [];
          for (const sym of syms) if (!(await symbolExists(sym))) return err(res, 422, 'UNKNOWN_SYMBOL', 'no such listed symbol');
          const w: Watchlist = { id: String(nextId++), name, symbols: syms, created_at: now, updated_at: now };
          mine.push(w);
          return send(res, 201, w);
        }
        const w = mine.find((x) => x.id === parts[0]);
        if (!w) return err(res, 404, 'UNKNOWN_WATCHLIST', 'no such watchlist');
        if (parts.length === 2 && method === 'DELETE') {
          w.symbols = w.symbols.filter((x) => x !== decodeURIComponent(parts[1] ?? ''));
          w.updated_at = now;
          return send(res, 200, w);
        }
        if (method === 'GET') return send(res, 200, w);
        if (method === 'DELETE') {
          mine.splice(mine.indexOf(w), 1);
          return send(res, 204);
        }
        if (method === 'POST') {
          const sym = (typeof j.symbol === 'string' ? j.symbol : '').toUpperCase();
          if (!(await symbolExists(sym))) return err(res, 422, 'UNKNOWN_SYMBOL', 'no such listed symbol');
          if (!w.symbols.includes(sym)) w.symbols.push(sym);
          w.updated_at = now;
          return send(res, 200, w);
        }
        if (method === 'PUT') {
          if (typeof j.name === 'string') w.name = j.name;
          if (Array.isArray(j.symbols)) w.symbols = j.symbols.map(String);
          w.updated_at = now;
          return send(res, 200, w);
        }
      }
      if (s) req.headers.authorization = `Bearer ${s.token}`;
      next();
    })().catch((e: unknown) => err(res, 502, 'DEV_SHIM', String(e)));
  }
}
