//! Sending one delivery: webhooks (signed JSON POST), email (SMTP through lettre), SMS (a
//! Twilio-shaped HTTP API). Each call answers sent, failed (retry), or ended.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use hmac::{KeyInit, Mac};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use rustls_platform_verifier::BuilderVerifierExt;

use crate::{NotifyConfig, NotifyError};

/// Longest webhook URL accepted.
const URL_MAX: usize = 2048;
/// What a receiver's answer body is read up to (then dropped), so the connection is reused.
const BODY_READ_MAX: usize = 64 * 1024;

/// `Bourse-Signature`'s value without the `v1=`: lowercase hex HMAC-SHA256 of
/// `"<timestamp>.<body>"`, keyed by the secret string's bytes (Stripe's scheme).
pub fn sign(secret: &str, timestamp: u64, body: &[u8]) -> String {
    // HMAC takes a key of any length: this cannot fail.
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `url` may receive webhooks: `https` (or `http` to a loopback host —
/// 127.0.0.0/8, ::1, `localhost` — when `allow_loopback_http`), no user info, at most
/// 2048 characters.
pub fn check_url(url: &str, allow_loopback_http: bool) -> Result<(), &'static str> {
    if url.len() > URL_MAX {
        return Err("the URL is longer than 2048 characters");
    }
    let u = Url::parse(url).map_err(|_| "not a valid absolute URL")?;
    if !u.username().is_empty() || u.password().is_some() {
        return Err("the URL must not carry a user name or password");
    }
    let host = u
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("the URL has no host")?;
    match u.scheme() {
        "https" => Ok(()),
        "http" => {
            let h = host.trim_start_matches('[').trim_end_matches(']');
            let loopback = h.eq_ignore_ascii_case("localhost")
                || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if !loopback {
                Err("http is allowed only to a loopback address; use https")
            } else if !allow_loopback_http {
                Err("http to a loopback address is not enabled (allow_loopback_http)")
            } else {
                Ok(())
            }
        }
        _ => Err("the URL must use https"),
    }
}

/// How an attempt ended, when not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Worth another attempt (timeouts, connection errors, any non-2xx status).
    Retry(String),
    /// Will not get better by retrying (bad address or URL, a code that does not open):
    /// dead at once.
    Dead(String),
    /// Not attempted: the destination is gone or the channel is off. Canceled.
    Cancel(String),
}

struct Sms {
    messages_url: String,
    sid: String,
    token: String,
    from: String,
}

/// The channels' clients, built once.
pub(crate) struct Senders {
    http: reqwest::Client,
    timeout: Duration,
    allow_loopback_http: bool,
    smtp: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
    sms: Option<Sms>,
    /// The runtime the SMTP pool was made in: dropping the pool spawns onto it, wherever the
    /// last reference goes.
    rt: tokio::runtime::Handle,
}

impl Drop for Senders {
    fn drop(&mut self) {
        let _in_rt = self.rt.enter();
        self.smtp.take();
    }
}

impl std::fmt::Debug for Senders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Senders")
            .field("email", &self.smtp.is_some())
            .field("sms", &self.sms.is_some())
            .finish_non_exhaustive()
    }
}

impl Senders {
    pub(crate) fn new(cfg: &NotifyConfig) -> Result<Arc<Senders>, NotifyError> {
        let timeout = Duration::from_millis(cfg.http_timeout_ms);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_platform_verifier())
            .map_err(|e| NotifyError::Config(format!("TLS for webhooks: {e}")))?
            .with_no_client_auth();
        let per_host = usize::try_from(cfg.endpoint_concurrency).unwrap_or(8);
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            // A receiver's redirect is not followed: the registered URL is the destination.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(per_host)
            .user_agent("bourse-webhooks/1")
            .build()
            .map_err(|e| NotifyError::Config(format!("HTTP client: {e}")))?;
        let smtp = if cfg.smtp_url.is_empty() {
            None
        } else {
            let mut b = AsyncSmtpTransport::<Tokio1Executor>::from_url(&cfg.smtp_url)
                .map_err(|e| NotifyError::Config(format!("smtp_url: {e}")))?
                .timeout(Some(timeout));
            if !cfg.smtp_user.is_empty() {
                b = b.credentials(Credentials::new(
                    cfg.smtp_user.clone(),
                    cfg.smtp_password.clone(),
                ));
            }
            let from: Mailbox = cfg
                .email_from
                .parse()
                .map_err(|e| NotifyError::Config(format!("email_from: {e}")))?;
            Some((b.build(), from))
        };
        let sms = (!cfg.sms_url.is_empty()).then(|| Sms {
            messages_url: format!(
                "{}/2010-04-01/Accounts/{}/Messages.json",
                cfg.sms_url.trim_end_matches('/'),
                cfg.sms_account_sid
            ),
            sid: cfg.sms_account_sid.clone(),
            token: cfg.sms_auth_token.clone(),
            from: cfg.sms_from.clone(),
        });
        Ok(Arc::new(Senders {
            http,
            timeout,
            allow_loopback_http: cfg.allow_loopback_http,
            smtp,
            sms,
            rt: tokio::runtime::Handle::current(),
        }))
    }

    pub(crate) fn email_on(&self) -> bool {
        self.smtp.is_some()
    }

    pub(crate) fn sms_on(&self) -> bool {
        self.sms.is_some()
    }

    /// POSTs `body` to the webhook, signed.
    pub(crate) async fn webhook(
        &self,
        url: &str,
        secret: &str,
        key: &str,
        id: i64,
        body: &str,
    ) -> Result<(), Failure> {
        check_url(url, self.allow_loopback_http)
            .map_err(|e| Failure::Dead(format!("webhook URL refused: {e}")))?;
        let ts = crate::now_ns() / 1_000_000_000;
        let sig = sign(secret, ts, body.as_bytes());
        let req = self
            .http
            .post(url)
            .timeout(self.timeout)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header("Bourse-Timestamp", ts.to_string())
            .header("Bourse-Signature", format!("v1={sig}"))
            .header("Idempotency-Key", key)
            .header("Bourse-Delivery", id.to_string())
            .body(body.to_owned());
        self.answer(req).await
    }

    /// Sends one email.
    pub(crate) async fn email(
        &self,
        to: &str,
        key: &str,
        subject: String,
        text: String,
    ) -> Result<(), Failure> {
        let Some((transport, from)) = &self.smtp else {
            return Err(Failure::Cancel("email is not configured".to_owned()));
        };
        let to: Mailbox = to
            .parse()
            .map_err(|_| Failure::Dead("the email address does not parse".to_owned()))?;
        let msg = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(subject)
            // Receivers (and people) dedupe a re-sent notice by it.
            .message_id(Some(format!("<{key}@bourse.invalid>")))
            .header(ContentType::TEXT_PLAIN)
            .body(text)
            .map_err(|e| Failure::Dead(format!("the email does not build: {e}")))?;
        match tokio::time::timeout(self.timeout, transport.send(msg)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(Failure::Retry(format!("SMTP: {e}"))),
            Err(_) => Err(Failure::Retry("SMTP: timed out".to_owned())),
        }
    }

    /// Sends one SMS through the provider.
    pub(crate) async fn sms(&self, to: &str, key: &str, body: &str) -> Result<(), Failure> {
        let Some(sms) = &self.sms else {
            return Err(Failure::Cancel("SMS is not configured".to_owned()));
        };
        let req = self
            .http
            .post(&sms.messages_url)
            .timeout(self.timeout)
            .basic_auth(&sms.sid, Some(&sms.token))
            // Twilio's own idempotency header: a retried request is not sent twice.
            .header("I-Twilio-Idempotency-Token", key)
            .form(&[("To", to), ("From", sms.from.as_str()), ("Body", body)]);
        self.answer(req).await
    }

    /// Any 2xx within the timeout is success; the answer's body is read (bounded) so the
    /// connection goes back to the pool.
    async fn answer(&self, req: reqwest::RequestBuilder) -> Result<(), Failure> {
        let mut resp = req.send().await.map_err(|e| Failure::Retry(describe(&e)))?;
        let status = resp.status();
        let mut read = 0;
        while read < BODY_READ_MAX {
            match resp.chunk().await {
                Ok(Some(c)) => read += c.len(),
                Ok(None) | Err(_) => break,
            }
        }
        if status.is_success() {
            Ok(())
        } else {
            Err(Failure::Retry(format!("HTTP {}", status.as_u16())))
        }
    }
}

/// A client error without the URL (it may hold a token in its query).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_request() {
        "request failed"
    } else {
        "failed"
    };
    let mut detail = String::new();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        detail = s.to_string();
        src = s.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {detail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_reference_hmac() {
        // python3 -c 'import hmac,hashlib;print(hmac.new(b"whsec_test",
        //   b"1700000000.{\"id\":\"n-1\"}", hashlib.sha256).hexdigest())'
        assert_eq!(
            sign("whsec_test", 1_700_000_000, br#"{"id":"n-1"}"#),
            "2ad863fe8c1f786b16143d2d66e8a91950eea3c3b46bfc117045cf9e84f9b8af"
        );
    }

    #[test]
    fn urls() {
        let long = format!("https://example.com/{}", "a".repeat(2040));
        let table: &[(&str, bool, Result<(), ()>)] = &[
            ("https://example.com/hook", false, Ok(())),
            ("https://example.com:8443/a?b=c", false, Ok(())),
            ("https://127.0.0.1/hook", false, Ok(())),
            ("http://example.com/hook", true, Err(())),
            ("http://127.0.0.1:8080/hook", false, Err(())),
            ("http://127.0.0.1:8080/hook", true, Ok(())),
            ("http://127.9.9.9/hook", true, Ok(())),
            ("http://localhost:1/x", true, Ok(())),
            ("http://LOCALHOST/x", true, Ok(())),
            ("http://[::1]:9/x", true, Ok(())),
            ("http://10.0.0.1/x", true, Err(())),
            ("http://[::2]/x", true, Err(())),
            ("http://localhost.evil.com/x", true, Err(())),
            ("https://user:pw@example.com/", false, Err(())),
            ("https://user@example.com/", false, Err(())),
            ("ftp://example.com/", true, Err(())),
            ("example.com/hook", true, Err(())),
            ("", true, Err(())),
            (long.as_str(), false, Err(())),
        ];
        for (url, allow, want) in table {
            assert_eq!(
                check_url(url, *allow).map_err(|_| ()),
                *want,
                "{url} allow_loopback_http={allow}"
            );
        }
        let ok = format!("https://example.com/{}", "a".repeat(2048 - 20));
        assert_eq!(ok.len(), 2048);
        assert!(check_url(&ok, false).is_ok());
    }
}
