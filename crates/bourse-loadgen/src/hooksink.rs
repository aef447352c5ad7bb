//! The bench's webhook receiver (`bourse bench orders --notify-webhooks`): every trader
//! registers a webhook for every kind of notice pointing here, and this records each
//! delivery's lag, from the event's time (`created_at` in the body) to its arrival.
//! A plain HTTP/1.1 keep-alive server on hyper: the cheapest receiver, so that what is
//! measured is the exchange's delivery, not the receiver.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Result;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use serde_json::{Value, json};

/// What the receiver saw.
#[derive(Debug)]
pub struct HookStats {
    pub received: AtomicU64,
    /// Lag in microseconds.
    pub lag_us: Mutex<Histogram<u64>>,
}

/// Starts the receiver on the current runtime; returns its address.
pub async fn start() -> Result<(SocketAddr, Arc<HookStats>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let stats = Arc::new(HookStats {
        received: AtomicU64::new(0),
        lag_us: Mutex::new(Histogram::new_with_bounds(1, 3_600_000_000, 3)?),
    });
    let s = stats.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let s = s.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let s = s.clone();
                    async move {
                        if let Ok(body) = req.into_body().collect().await {
                            record(&s, &body.to_bytes());
                        }
                        Ok::<_, hyper::Error>(Response::new(Empty::<Bytes>::new()))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((addr, stats))
}

fn record(s: &HookStats, body: &[u8]) {
    s.received.fetch_add(1, Ordering::Relaxed);
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let Some(created) = v["created_at"].as_str().and_then(parse_rfc3339_ns) else {
        return;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let lag = now.saturating_sub(created) / 1_000;
    let _ = s.lag_us.lock().record(lag.max(1));
}

/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (as the exchange writes it) to ns since the epoch.
fn parse_rfc3339_ns(t: &str) -> Option<u64> {
    let n = |a: usize, b: usize| t.get(a..b)?.parse::<u64>().ok();
    let (y, m, d) = (n(0, 4)?, n(5, 7)?, n(8, 10)?);
    let (hh, mm, ss) = (n(11, 13)?, n(14, 16)?, n(17, 19)?);
    let frac = t.get(20..t.len().checked_sub(1)?)?;
    let nanos: u64 = format!("{frac:0<9}").get(..9)?.parse().ok()?;
    // Days from civil (H. Hinnant), years after 1970.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1_000_000_000) + nanos)
}

/// The receiver's summary for the report.
#[must_use]
pub fn summary(s: &HookStats) -> Value {
    let h = s.lag_us.lock();
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1_000.0;
    json!({
        "received": s.received.load(Ordering::Relaxed),
        "lag_ms": {
            "p50": ms(0.5), "p99": ms(0.99), "p99_9": ms(0.999),
            "max": h.max() as f64 / 1_000.0, "count": h.len(),
        },
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_what_the_exchange_writes() {
        let t = bourse_core::UnixNanos::new(1_796_000_000_123_456_789);
        assert_eq!(
            super::parse_rfc3339_ns(&t.to_rfc3339()),
            Some(1_796_000_000_123_456_789)
        );
    }
}
