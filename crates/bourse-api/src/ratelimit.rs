//! Request rate limits: a token bucket per credential (session token or API key) and one per
//! client IP for requests without credentials (sign-up and log-in, where guessing happens).
//! Over the limit: `429 RATE_LIMITED` with `Retry-After`. The operator token is not limited.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;

use crate::error::ApiError;

/// Rate and burst of one kind of bucket.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub per_sec: f64,
    pub burst: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Credential([u8; 32]),
    Ip(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

const SHARDS: usize = 16;
/// Buckets kept per shard before idle (full) ones are dropped.
const PRUNE_AT: usize = 4_096;

/// The limiter shared by every request.
#[derive(Debug)]
pub struct Limiter {
    credential: Rate,
    ip: Rate,
    operator: Option<[u8; 32]>,
    shards: Vec<Mutex<HashMap<Key, Bucket>>>,
}

impl Limiter {
    #[must_use]
    pub fn new(credential: Rate, ip: Rate, operator_token: Option<&str>) -> Self {
        Self {
            credential,
            ip,
            operator: operator_token.map(|t| *blake3::hash(t.as_bytes()).as_bytes()),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    /// Takes one token for `key`; `Err(seconds)` until one is available.
    fn take(&self, key: Key, rate: Rate, now: Instant) -> Result<(), u32> {
        let h = match key {
            Key::Credential(d) => usize::from(d[0]),
            Key::Ip(IpAddr::V4(a)) => usize::from(a.octets()[3]),
            Key::Ip(IpAddr::V6(a)) => usize::from(a.octets()[15]),
        };
        let mut shard = self.shards[h % SHARDS].lock();
        if shard.len() >= PRUNE_AT {
            shard.retain(|_, b| {
                b.tokens + now.duration_since(b.at).as_secs_f64() * rate.per_sec < rate.burst
            });
        }
        let b = shard.entry(key).or_insert(Bucket {
            tokens: rate.burst,
            at: now,
        });
        let refill = now.duration_since(b.at).as_secs_f64() * rate.per_sec;
        b.tokens = (b.tokens + refill).min(rate.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - b.tokens) / rate.per_sec).ceil();
            // At most an hour: a saturating conversion of a small positive number.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Err(wait.clamp(1.0, 3_600.0) as u32)
        }
    }

    /// The bucket a request draws from, or `None` for the unlimited operator.
    fn key_of(&self, req: &Request, peer: Option<IpAddr>) -> Option<(Key, Rate)> {
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match token {
            Some(t) => {
                let d = *blake3::hash(t.trim().as_bytes()).as_bytes();
                (self.operator != Some(d)).then_some((Key::Credential(d), self.credential))
            }
            None => Some((Key::Ip(peer.unwrap_or(IpAddr::from([0, 0, 0, 0]))), self.ip)),
        }
    }
}

/// The middleware.
pub async fn limit(State(limiter): State<Arc<Limiter>>, req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some((key, rate)) = limiter.key_of(&req, peer)
        && let Err(secs) = limiter.take(key, rate, Instant::now())
    {
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
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let l = Limiter::new(
            Rate {
                per_sec: 10.0,
                burst: 5.0,
            },
            Rate {
                per_sec: 1.0,
                burst: 2.0,
            },
            None,
        );
        let t0 = Instant::now();
        let k = Key::Credential([1; 32]);
        let r = l.credential;
        for _ in 0..5 {
            assert_eq!(l.take(k, r, t0), Ok(()));
        }
        assert_eq!(l.take(k, r, t0), Err(1));
        // Another key is not affected.
        assert_eq!(l.take(Key::Credential([2; 32]), r, t0), Ok(()));
        // 100 ms later, one token has come back.
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!(l.take(k, r, t1), Ok(()));
        assert!(l.take(k, r, t1).is_err());
        let ip = Key::Ip(IpAddr::from([10, 0, 0, 1]));
        assert_eq!(l.take(ip, l.ip, t0), Ok(()));
        assert_eq!(l.take(ip, l.ip, t0), Ok(()));
        assert_eq!(l.take(ip, l.ip, t0), Err(1));
    }
}
