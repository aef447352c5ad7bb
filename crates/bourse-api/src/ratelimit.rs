//! Request rate limits (GCRA, from `governor`): one bucket per verified credential (session
//! token or API key) and one per client IP for every request that has none — no header,
//! or a bearer that does not authenticate. A made-up `Authorization` header therefore buys
//! nothing. Sign-up and log-in, where guessing happens, always draw from the IP's bucket,
//! whatever credential comes with them. IPv6
//! clients are keyed by their /64, which one host can otherwise rotate through.
//! Over the limit: `429 RATE_LIMITED` with `Retry-After`. The operator token is not limited.
//!
//! Retention: keys whose bucket is full again (idle long enough to be indistinguishable from
//! a new one) are dropped every [`SWEEP_EVERY`], so the tables hold only recently active
//! callers.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::auth::{Credential, Directory, now};
use crate::error::ApiError;

/// Rate and burst of one kind of bucket.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub per_sec: f64,
    pub burst: f64,
}

impl Rate {
    fn quota(self) -> Quota {
        // Rates are validated positive by the config; a degenerate one still gets a bucket.
        let period = Duration::from_secs_f64(1.0 / self.per_sec.max(1e-6));
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let burst = NonZeroU32::new(self.burst.clamp(1.0, f64::from(u32::MAX)) as u32)
            .unwrap_or(NonZeroU32::MIN);
        Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
            .allow_burst(burst)
    }
}

/// How often idle keys are dropped.
pub const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// The limiter shared by every request.
pub struct Limiter {
    credential: DefaultKeyedRateLimiter<Credential>,
    ip: DefaultKeyedRateLimiter<IpAddr>,
    directory: Arc<Directory>,
    clock: DefaultClock,
    started: Instant,
    /// Milliseconds after `started` of the last sweep.
    swept_ms: AtomicU64,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("credentials", &self.credential.len())
            .field("ips", &self.ip.len())
            .finish_non_exhaustive()
    }
}

/// The bucket a request draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Credential(Credential),
    Ip(IpAddr),
    /// The operator: not limited.
    Exempt,
}

/// An IPv6 address by its /64 (one host's usual allocation); IPv4 as it is.
fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut s = a.segments();
                s[4..].fill(0);
                IpAddr::from(s)
            }
        },
    }
}

impl Limiter {
    #[must_use]
    pub fn new(credential: Rate, ip: Rate, directory: Arc<Directory>) -> Self {
        Self {
            credential: RateLimiter::keyed(credential.quota()),
            ip: RateLimiter::keyed(ip.quota()),
            directory,
            clock: DefaultClock::default(),
            started: Instant::now(),
            swept_ms: AtomicU64::new(0),
        }
    }

    /// The bucket of a request: its credential's once verified, else its IP's. Sign-up and
    /// log-in always draw from the IP's: a credential of one's own must not buy password
    /// guesses at another user's expense.
    fn key_of(&self, req: &Request, peer: Option<IpAddr>) -> Key {
        let ip = Key::Ip(ip_key(peer.unwrap_or(IpAddr::from([0, 0, 0, 0]))));
        if req.method() == axum::http::Method::POST
            && matches!(req.uri().path(), "/v1/sessions" | "/v1/users")
        {
            return ip;
        }
        let principal = crate::cookie::credential(req.headers())
            .and_then(|(t, _)| self.directory.authenticate(t, now()));
        match principal.map(|p| p.credential) {
            Some(Credential::Operator) => Key::Exempt,
            Some(c) => Key::Credential(c),
            None => ip,
        }
    }

    /// Takes one token for `key`; `Err(seconds)` until one is available.
    fn take(&self, key: Key) -> Result<(), u32> {
        self.sweep();
        let r = match key {
            Key::Exempt => return Ok(()),
            Key::Credential(c) => self.credential.check_key(&c),
            Key::Ip(ip) => self.ip.check_key(&ip),
        };
        r.map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            // At least one second (Retry-After is whole seconds), at most an hour.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            u32::try_from(secs.clamp(1, 3_600)).unwrap_or(3_600)
        })
    }

    /// Drops idle keys at most once per [`SWEEP_EVERY`].
    fn sweep(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.swept_ms.load(Ordering::Relaxed);
        let every = u64::try_from(SWEEP_EVERY.as_millis()).unwrap_or(u64::MAX);
        if ms.saturating_sub(last) < every
            || self
                .swept_ms
                .compare_exchange(last, ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        self.credential.retain_recent();
        self.credential.shrink_to_fit();
        self.ip.retain_recent();
        self.ip.shrink_to_fit();
    }

    /// Keys held now (credentials, IPs).
    #[must_use]
    pub fn keys(&self) -> (usize, usize) {
        (self.credential.len(), self.ip.len())
    }
}

/// The middleware.
pub async fn limit(State(limiter): State<Arc<Limiter>>, req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let Err(secs) = limiter.take(limiter.key_of(&req, peer)) {
        return ApiError {
            retry_after: Some(secs),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                "too many requests; retry after the time in Retry-After",
            )
        }
        .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::auth::{DirectorySeed, new_secret};
    use axum::http::header;
    use bourse_core::{AccountId, Scopes, UnixNanos};

    fn request(bearer: Option<&str>) -> Request {
        let mut b = axum::http::Request::builder().uri("/v1/orders");
        if let Some(t) = bearer {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        b.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn a_bucket_allows_its_burst_then_refuses_with_a_wait() {
        let dir = Arc::new(Directory::new(DirectorySeed::default(), None));
        let l = Limiter::new(
            Rate {
                per_sec: 10.0,
                burst: 5.0,
            },
            Rate {
                per_sec: 1.0,
                burst: 2.0,
            },
            dir,
        );
        let k = Key::Credential(Credential::ApiKey(1));
        for _ in 0..5 {
            assert_eq!(l.take(k), Ok(()));
        }
        assert_eq!(l.take(k), Err(1));
        // Another key is not affected.
        assert_eq!(l.take(Key::Credential(Credential::ApiKey(2))), Ok(()));
        let ip = Key::Ip(IpAddr::from([10, 0, 0, 1]));
        assert_eq!(l.take(ip), Ok(()));
        assert_eq!(l.take(ip), Ok(()));
        assert_eq!(l.take(ip), Err(1));
        assert_eq!(l.take(Key::Exempt), Ok(()));
    }

    #[test]
    fn only_a_verified_credential_escapes_the_ip_bucket() {
        let dir = Arc::new(Directory::new(DirectorySeed::default(), Some("op")));
        let (key, kd) = new_secret().unwrap();
        dir.add_key(kd, 9, AccountId::new(3), Scopes::READ);
        let (session, sd) = new_secret().unwrap();
        dir.add_session(sd, AccountId::new(3), UnixNanos::new(u64::MAX));
        let l = Limiter::new(
            Rate {
                per_sec: 1.0,
                burst: 1.0,
            },
            Rate {
                per_sec: 1.0,
                burst: 1.0,
            },
            dir,
        );
        let peer = Some(IpAddr::from([192, 0, 2, 7]));
        let ip = Key::Ip(IpAddr::from([192, 0, 2, 7]));
        assert_eq!(l.key_of(&request(None), peer), ip);
        assert_eq!(l.key_of(&request(Some("garbage")), peer), ip);
        assert_eq!(l.key_of(&request(Some(&"f".repeat(64))), peer), ip);
        assert_eq!(
            l.key_of(&request(Some(&key)), peer),
            Key::Credential(Credential::ApiKey(9))
        );
        assert_eq!(
            l.key_of(&request(Some(&session)), peer),
            Key::Credential(Credential::Session(sd))
        );
        assert_eq!(l.key_of(&request(Some("op")), peer), Key::Exempt);
        // Log-in and sign-up are limited by IP whatever the bearer.
        for path in ["/v1/sessions", "/v1/users"] {
            let req = axum::http::Request::builder()
                .method("POST")
                .uri(path)
                .header(header::AUTHORIZATION, format!("Bearer {session}"))
                .body(axum::body::Body::empty())
                .unwrap();
            assert_eq!(l.key_of(&req, peer), ip, "{path}");
        }
    }

    #[test]
    fn ipv6_is_keyed_by_its_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ip_key(a), ip_key(b));
        assert_ne!(ip_key(a), ip_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(ip_key(mapped), IpAddr::from([192, 0, 2, 1]));
    }
}
