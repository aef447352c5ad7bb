//! HTTP/1.1 to the exchange: one keep-alive connection per client, one request in flight
//! at a time (hyper's connection-level client: no pool, so `--connections N` is exactly N
//! connections), the set-up calls that must succeed, and the exchange's address.
//!
//! hyper replaced a hand-written request writer and response parser. Measured before the
//! switch (`bourse bench orders --spawn --transport rest --connections 4`, release, 2 vCPUs
//! shared with other builds, two or four runs each): at 5,000/s the whole client used 40–47
//! µs of CPU per request with the hand-written one and 51–54 µs with hyper; at 15,000/s
//! offered both saturate at the same 7.2–7.8 k answers/s (one request in flight per
//! connection: the server's round trip sets the pace, not the client) with 28–31 against
//! 32–37 µs per request. A few µs per request, a few percent of one core at these rates, do
//! not pay for keeping an HTTP parser of our own.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue, RETRY_AFTER};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

/// An HTTP answer.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// `Retry-After`, in seconds.
    pub retry_after: Option<u64>,
    pub body: Bytes,
}

/// One keep-alive HTTP/1.1 connection.
#[derive(Debug)]
pub struct Http1 {
    addr: String,
    host: HeaderValue,
    sender: SendRequest<Full<Bytes>>,
}

impl Http1 {
    /// Connects to `addr` (`HOST:PORT`); the connection runs as a task on the runtime.
    pub async fn connect(addr: &str) -> Result<Http1> {
        let s = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        s.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s))
            .await
            .with_context(|| format!("HTTP/1.1 to {addr}"))?;
        // Ends when the sender is dropped or the server closes the connection.
        tokio::spawn(conn);
        Ok(Http1 {
            addr: addr.to_owned(),
            host: HeaderValue::from_str(addr).with_context(|| format!("host {addr:?}"))?,
            sender,
        })
    }

    /// Sends one request and reads its answer; reconnects first if the server closed the
    /// connection after the last one.
    pub async fn call(
        &mut self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<&str>,
    ) -> Result<HttpResponse> {
        // A connection the server closed after the last answer (or that failed) is
        // replaced; the request is then sent on the new one.
        if self.sender.is_closed() || self.sender.ready().await.is_err() {
            *self = Http1::connect(&self.addr).await?;
        }
        let mut req = Request::builder()
            .method(Method::from_bytes(method.as_bytes())?)
            .uri(path)
            .header(HOST, self.host.clone());
        if let Some(t) = bearer {
            req = req.header(AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header(CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::copy_from_slice(b.as_bytes()))),
            None => req.body(Full::new(Bytes::new())),
        }
        .with_context(|| format!("{method} {path}"))?;
        self.sender.ready().await?;
        let resp = self.sender.send_request(req).await?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.trim().parse().ok());
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(HttpResponse {
            status,
            retry_after,
            body,
        })
    }
}

/// A setup call that must succeed: waits out 429/503 (as `Retry-After` says) for up to two
/// minutes, and returns the JSON body of an expected status.
pub async fn call_ok(
    http: &mut Http1,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: &Value,
) -> Result<Value> {
    let text = body.to_string();
    let give_up = Instant::now() + Duration::from_secs(120);
    loop {
        let r = http
            .call(method, path, bearer, Some(&text))
            .await
            .with_context(|| format!("{method} {path}"))?;
        if matches!(r.status, 429 | 503) && Instant::now() < give_up {
            let secs = r.retry_after.unwrap_or(1).clamp(1, 10);
            tokio::time::sleep(Duration::from_secs(secs)).await;
            continue;
        }
        let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        if (200..300).contains(&r.status) {
            return Ok(v);
        }
        bail!("{method} {path}: HTTP {} {v}", r.status);
    }
}

/// `GET /healthz` (its JSON whatever the status).
pub async fn health(addr: &str) -> Result<Value> {
    let mut h = Http1::connect(addr).await?;
    let r = h.call("GET", "/healthz", None, None).await?;
    Ok(serde_json::from_slice(&r.body)?)
}

/// One unlabelled or labelled sample of `GET /metrics` (Prometheus text), e.g.
/// `bourse_notify_sent_total{channel="webhook"}`; `None` when absent.
pub async fn metric(addr: &str, sample: &str) -> Result<Option<f64>> {
    let mut h = Http1::connect(addr).await?;
    let r = h.call("GET", "/metrics", None, None).await?;
    let text = String::from_utf8_lossy(&r.body);
    Ok(text.lines().find_map(|l| {
        let (name, value) = l.rsplit_once(' ')?;
        (name == sample).then(|| value.parse().ok()).flatten()
    }))
}

/// `http://HOST:PORT` → `HOST:PORT`.
pub fn parse_url(url: &str) -> Result<String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("--url {url:?}: use http://HOST:PORT"))?;
    let addr = rest.trim_end_matches('/');
    if addr.is_empty() || addr.contains('/') {
        bail!("--url {url:?}: use http://HOST:PORT");
    }
    Ok(addr.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A server that answers each request with the next canned response, closing the
    /// connection after those that say so; returns its address and the requests it read.
    async fn canned(
        answers: &'static [&'static str],
    ) -> (String, tokio::task::JoinHandle<Vec<String>>) {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let task = tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut next = answers.iter();
            'conns: loop {
                let (s, _) = l.accept().await.unwrap();
                let mut r = BufReader::new(s);
                loop {
                    let mut head = String::new();
                    loop {
                        let mut line = String::new();
                        if r.read_line(&mut line).await.unwrap() == 0 {
                            continue 'conns;
                        }
                        head.push_str(&line);
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let len = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    let mut body = vec![0; len];
                    r.read_exact(&mut body).await.unwrap();
                    seen.push(head + &String::from_utf8(body).unwrap());
                    let answer = next.next().unwrap();
                    r.get_mut().write_all(answer.as_bytes()).await.unwrap();
                    if next.len() == 0 {
                        return seen;
                    }
                    if answer.contains("Connection: close") {
                        continue 'conns;
                    }
                }
            }
        });
        (addr, task)
    }

    #[tokio::test]
    async fn answers_are_read_by_length_or_chunks_and_a_closed_connection_is_replaced() {
        let (addr, server) = canned(&[
            "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"a\":\"xyz\"}",
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\ntransfer-encoding: chunked\r\nConnection: close\r\n\r\n4\r\n{\"co\r\n6\r\nde\":1}\r\n0\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}",
        ])
        .await;
        let mut h = Http1::connect(&addr).await.unwrap();
        let a = h
            .call("POST", "/v1/orders", Some("k1"), Some("{\"x\":1}"))
            .await
            .unwrap();
        assert_eq!((a.status, &a.body[..]), (201, &b"{\"a\":\"xyz\"}"[..]));
        let b = h
            .call("DELETE", "/v1/orders/7", Some("k1"), None)
            .await
            .unwrap();
        assert_eq!((b.status, b.retry_after), (429, Some(3)));
        assert_eq!(&b.body[..], b"{\"code\":1}");
        // The server closed that connection: the next call opens another.
        let c = h.call("GET", "/healthz", None, None).await.unwrap();
        assert_eq!((c.status, &c.body[..]), (200, &b"{}"[..]));
        let seen = server.await.unwrap();
        assert!(
            seen[0].starts_with("POST /v1/orders HTTP/1.1\r\n"),
            "{seen:?}"
        );
        assert!(seen[0].contains("authorization: Bearer k1\r\n"), "{seen:?}");
        assert!(
            seen[0].contains("content-type: application/json\r\n"),
            "{seen:?}"
        );
        assert!(seen[0].ends_with("\r\n\r\n{\"x\":1}"), "{seen:?}");
        assert!(
            seen[1].starts_with("DELETE /v1/orders/7 HTTP/1.1\r\n"),
            "{seen:?}"
        );
        assert!(seen[2].starts_with("GET /healthz HTTP/1.1\r\n"), "{seen:?}");
    }

    #[test]
    fn urls_name_a_host_and_port() {
        assert_eq!(
            parse_url("http://127.0.0.1:8080/").unwrap(),
            "127.0.0.1:8080"
        );
        assert!(parse_url("https://x:1").is_err());
        assert!(parse_url("http://x:1/v1").is_err());
    }
}
