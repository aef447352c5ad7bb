//! A minimal HTTP/1.1 client (keep-alive, one request at a time), the set-up calls that
//! must succeed, and the exchange's address.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;

/// An HTTP answer.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// `Retry-After`, in seconds.
    pub retry_after: Option<u64>,
    close: bool,
    pub body: Vec<u8>,
}

/// One keep-alive HTTP/1.1 connection.
pub struct Http1 {
    addr: String,
    io: BufStream<TcpStream>,
    req: String,
    line: String,
    broken: bool,
}

impl std::fmt::Debug for Http1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http1")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Http1 {
    /// Connects to `addr` (`HOST:PORT`).
    pub async fn connect(addr: &str) -> Result<Http1> {
        let s = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        s.set_nodelay(true)?;
        Ok(Http1 {
            addr: addr.to_owned(),
            io: BufStream::new(s),
            req: String::with_capacity(512),
            line: String::with_capacity(128),
            broken: false,
        })
    }

    /// Sends one request and reads its answer; reconnects first if the last one broke.
    pub async fn call(
        &mut self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<&str>,
    ) -> Result<HttpResponse> {
        if self.broken {
            *self = Http1::connect(&self.addr).await?;
        }
        self.req.clear();
        let _ = write!(
            self.req,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n",
            self.addr
        );
        if let Some(t) = bearer {
            let _ = write!(self.req, "Authorization: Bearer {t}\r\n");
        }
        match body {
            Some(b) => {
                let _ = write!(
                    self.req,
                    "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
                    b.len()
                );
            }
            None => self.req.push_str("Content-Length: 0\r\n\r\n"),
        }
        let r = async {
            self.io.write_all(self.req.as_bytes()).await?;
            self.io.flush().await?;
            read_response(&mut self.io, &mut self.line).await
        }
        .await;
        match r {
            Ok(resp) => {
                self.broken = resp.close;
                Ok(resp)
            }
            Err(e) => {
                self.broken = true;
                Err(e)
            }
        }
    }
}

/// Reads one response: status line, headers, and a body framed by Content-Length or
/// chunked transfer coding.
async fn read_response<R: AsyncBufRead + AsyncRead + Unpin>(
    r: &mut R,
    line: &mut String,
) -> Result<HttpResponse> {
    line.clear();
    if r.read_line(line).await? == 0 {
        bail!("the server closed the connection");
    }
    let status: u16 = line
        .split_ascii_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("not an HTTP status line: {:?}", line.trim_end()))?;
    let (mut length, mut chunked, mut retry_after, mut close) = (None, false, None, false);
    loop {
        line.clear();
        if r.read_line(line).await? == 0 {
            bail!("the server closed the connection in the headers");
        }
        let h = line.trim_end();
        if h.is_empty() {
            break;
        }
        let Some((name, value)) = h.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().context("Content-Length")?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("retry-after") {
            retry_after = value.parse().ok();
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            r.read_line(line).await?;
            let size = line.trim_end().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(size.trim(), 16)
                .with_context(|| format!("chunk size {size:?}"))?;
            if size == 0 {
                // Trailers, then the blank line.
                loop {
                    line.clear();
                    if r.read_line(line).await? == 0 || line.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            let at = body.len();
            body.resize(at + size, 0);
            r.read_exact(&mut body[at..]).await?;
            line.clear();
            r.read_line(line).await?;
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        r.read_exact(&mut body).await?;
    } else if !(status < 200 || status == 204 || status == 304) {
        r.read_to_end(&mut body).await?;
        close = true;
    }
    Ok(HttpResponse {
        status,
        retry_after,
        close,
        body,
    })
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

    #[tokio::test]
    async fn http_responses_are_read_by_length_or_chunks() {
        let mut line = String::new();
        let raw = b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"a\":\"xyz\"}HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\ntransfer-encoding: chunked\r\n\r\n4\r\n{\"co\r\n6\r\nde\":1}\r\n0\r\n\r\n";
        let mut r: &[u8] = raw;
        let a = read_response(&mut r, &mut line).await.unwrap();
        assert_eq!(
            (a.status, a.body.as_slice(), a.close),
            (201, &b"{\"a\":\"xyz\"}"[..], false)
        );
        let b = read_response(&mut r, &mut line).await.unwrap();
        assert_eq!((b.status, b.retry_after), (429, Some(3)));
        assert_eq!(b.body, b"{\"code\":1}");
        assert!(r.is_empty());
        assert!(read_response(&mut r, &mut line).await.is_err());
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
