//! The web page's credential: a session token in an HttpOnly cookie, with a CSRF token for
//! every state change and a same-origin rule for log-in and the WebSocket.
//!
//! Programs keep `Authorization: Bearer`; a request that sends both is judged by the bearer.
//! The CSRF token is derived from the session token (a keyed BLAKE3 derivation), so the
//! server keeps no state for it, it survives restarts, and only a page that could read the
//! session's log-in answer (or `GET /v1/sessions/current`, same origin) knows it.

use axum::http::{HeaderMap, HeaderValue, Method, header};

/// The cookie's name.
pub const SESSION_COOKIE: &str = "bourse_session";
/// The header a cookie-authenticated state change must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";
const CSRF_CONTEXT: &str = "bourse 2026-12 csrf token from session token";

/// How a request presented its credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Bearer,
    Cookie,
}

/// The request's credential: the bearer token if there is one, else the session cookie.
#[must_use]
pub fn credential(headers: &HeaderMap) -> Option<(&str, Via)> {
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        // A malformed Authorization header is not silently replaced by the cookie.
        return auth
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| (t.trim(), Via::Bearer));
    }
    session_cookie(headers).map(|t| (t, Via::Cookie))
}

/// The value of the `bourse_session` cookie, if the request carries one.
#[must_use]
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k.trim() == SESSION_COOKIE)
                .then(|| v.trim())
                .filter(|v| !v.is_empty())
        })
}

fn csrf_digest(session_token: &str) -> blake3::Hash {
    blake3::Hash::from(blake3::derive_key(CSRF_CONTEXT, session_token.as_bytes()))
}

/// The CSRF token of a session token (64 lowercase hex characters).
#[must_use]
pub fn csrf_token(session_token: &str) -> String {
    csrf_digest(session_token).to_hex().to_string()
}

/// Whether a cookie-authenticated request may go on: safe methods always; others only with
/// the session's CSRF token (compared in constant time).
#[must_use]
pub fn csrf_ok(method: &Method, headers: &HeaderMap, session_token: &str) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    let Some(sent) = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| blake3::Hash::from_hex(v.trim()).ok())
    else {
        return false;
    };
    // `Hash`'s equality is constant-time.
    sent == csrf_digest(session_token)
}

/// Whether the request comes from the server's own origin: no `Origin` header (not a
/// browser's cross-origin request), or one whose host and port are the `Host` it was sent to.
#[must_use]
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let (Ok(origin), Some(host)) = (
        origin.to_str(),
        headers.get(header::HOST).and_then(|h| h.to_str().ok()),
    ) else {
        return false;
    };
    origin.split_once("://").is_some_and(|(scheme, rest)| {
        matches!(scheme, "http" | "https") && rest.eq_ignore_ascii_case(host)
    })
}

/// `Set-Cookie` for a new session.
#[must_use]
pub fn set_session(token: &str, max_age_secs: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    // The token is hex: always a valid header value.
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_secs}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Set-Cookie` that removes the session cookie.
#[must_use]
pub fn clear_session(secure: bool) -> HeaderValue {
    if secure {
        HeaderValue::from_static(
            "bourse_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0; Secure",
        )
    } else {
        HeaderValue::from_static("bourse_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn the_bearer_wins_over_the_cookie() {
        let h = headers(&[
            ("authorization", "Bearer abc"),
            ("cookie", "bourse_session=def"),
        ]);
        assert_eq!(credential(&h), Some(("abc", Via::Bearer)));
        let h = headers(&[("cookie", "theme=dark; bourse_session=def; x=1")]);
        assert_eq!(credential(&h), Some(("def", Via::Cookie)));
        let h = headers(&[("cookie", "bourse_session=")]);
        assert_eq!(credential(&h), None);
        let h = headers(&[
            ("authorization", "Basic xyz"),
            ("cookie", "bourse_session=d"),
        ]);
        assert_eq!(credential(&h), None);
    }

    #[test]
    fn csrf_needs_the_sessions_own_token_on_state_changes() {
        let token = "a".repeat(64);
        let good = csrf_token(&token);
        assert_eq!(good.len(), 64);
        assert_ne!(good, csrf_token(&"b".repeat(64)));
        assert!(csrf_ok(&Method::GET, &HeaderMap::new(), &token));
        assert!(!csrf_ok(&Method::POST, &HeaderMap::new(), &token));
        assert!(!csrf_ok(
            &Method::DELETE,
            &headers(&[("x-csrf-token", &csrf_token(&"b".repeat(64)))]),
            &token
        ));
        assert!(!csrf_ok(
            &Method::POST,
            &headers(&[("x-csrf-token", "zz")]),
            &token
        ));
        assert!(csrf_ok(
            &Method::PATCH,
            &headers(&[("x-csrf-token", &good)]),
            &token
        ));
    }

    #[test]
    fn origin_must_be_the_host_it_was_sent_to() {
        assert!(same_origin(&headers(&[("host", "127.0.0.1:8080")])));
        assert!(same_origin(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8081")
        ])));
        assert!(!same_origin(&headers(&[("host", "a"), ("origin", "null")])));
        assert!(!same_origin(&headers(&[("origin", "http://a")])));
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_under_tls() {
        let c = set_session("abc", 60, true);
        let c = c.to_str().unwrap();
        for part in [
            "HttpOnly",
            "SameSite=Strict",
            "Path=/",
            "Max-Age=60",
            "Secure",
        ] {
            assert!(c.contains(part), "{c}");
        }
        assert!(
            !set_session("abc", 60, false)
                .to_str()
                .unwrap()
                .contains("Secure")
        );
        assert!(clear_session(false).to_str().unwrap().contains("Max-Age=0"));
    }
}
