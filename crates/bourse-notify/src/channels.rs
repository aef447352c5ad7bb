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

/// Which addresses outbound requests may reach besides public ones. A webhook URL is a
/// user's input: without this, anyone could make the exchange POST into its own network
/// (an admin port on loopback, a database, a cloud metadata service at 169.254.169.254).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reach {
    /// Loopback (127.0.0.0/8, ::1), also by plain `http://`: development only.
    pub loopback: bool,
    /// Private, shared and link-local networks (10/8, 172.16/12, 192.168/16, 100.64/10,
    /// 169.254/16, fc00::/7, fe80::/10).
    pub private: bool,
}

impl Reach {
    /// Whether a request may go to `ip`. Never: unspecified, multicast, broadcast,
    /// 0.0.0.0/8, and IPv6 forms of refused IPv4 addresses.
    pub fn allows(self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        if ip.is_loopback() {
            return self.loopback;
        }
        if ip.is_unspecified() || ip.is_multicast() {
            return false;
        }
        match ip {
            IpAddr::V4(v4) => {
                let [a, b, ..] = v4.octets();
                if a == 0 || v4.is_broadcast() {
                    return false;
                }
                let private = v4.is_private() || v4.is_link_local() || (a == 100 && b & 0xC0 == 64);
                !private || self.private
            }
            IpAddr::V6(v6) => {
                let first = v6.segments()[0];
                let private = first & 0xFE00 == 0xFC00 || first & 0xFFC0 == 0xFE80;
                !private || self.private
            }
        }
    }
}

/// Whether `url` may receive webhooks: `https` (or `http` to a loopback host —
/// 127.0.0.0/8, ::1, `localhost` — when `reach.loopback`), no user info, at most 2048
/// characters, and an IP-literal host that `reach` allows. A host name is checked when it
/// is resolved, at each delivery (so a name that later points inside is refused then).
pub fn check_url(url: &str, reach: Reach) -> Result<(), &'static str> {
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
    let h = host.trim_start_matches('[').trim_end_matches(']');
    let ip = h.parse::<IpAddr>().ok();
    let loopback = h.eq_ignore_ascii_case("localhost") || ip.is_some_and(|ip| ip.is_loopback());
    if loopback && !reach.loopback {
        return Err("loopback addresses are not enabled (allow_loopback_http)");
    }
    if ip.is_some_and(|ip| !reach.allows(ip)) {
        return Err("the address is in a private or reserved network");
    }
    match u.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err("http is allowed only to a loopback address; use https"),
        _ => Err("the URL must use https"),
    }
}

/// Resolves webhook hosts, keeping only the addresses [`Reach`] allows: checked where the
/// connection is made, so a name cannot point inside after its URL was accepted.
struct Guarded(Reach);

impl reqwest::dns::Resolve for Guarded {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let reach = self.0;
        Box::pin(async move {
            let all = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let kept: Vec<std::net::SocketAddr> = all.filter(|a| reach.allows(a.ip())).collect();
            if kept.is_empty() {
                return Err("the host resolves only to private or reserved addresses".into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
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
    /// Webhooks: user-given URLs, resolved through [`Guarded`].
    hooks: reqwest::Client,
    /// The operator's SMS provider.
    http: reqwest::Client,
    timeout: Duration,
    reach: Reach,
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
        let client = |tls: rustls::ClientConfig| {
            reqwest::Client::builder()
                .tls_backend_preconfigured(tls)
                // A receiver's redirect is not followed: the registered URL is the destination.
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(timeout.min(Duration::from_secs(10)))
                .pool_idle_timeout(Duration::from_secs(60))
                .pool_max_idle_per_host(per_host)
                .user_agent("bourse-webhooks/1")
        };
        let hooks = client(tls.clone())
            .dns_resolver(Arc::new(Guarded(cfg.reach())))
            .build()
            .map_err(|e| NotifyError::Config(format!("HTTP client: {e}")))?;
        let http = client(tls)
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
            hooks,
            http,
            timeout,
            reach: cfg.reach(),
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
        check_url(url, self.reach)
            .map_err(|e| Failure::Dead(format!("webhook URL refused: {e}")))?;
        let ts = crate::now_ns() / 1_000_000_000;
        let sig = sign(secret, ts, body.as_bytes());
        let req = self
            .hooks
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
        let dev = Reach {
            loopback: true,
            private: false,
        };
        let none = Reach::default();
        let inside = Reach {
            loopback: false,
            private: true,
        };
        let table: &[(&str, Reach, Result<(), ()>)] = &[
            ("https://example.com/hook", none, Ok(())),
            ("https://example.com:8443/a?b=c", none, Ok(())),
            ("https://8.8.8.8/hook", none, Ok(())),
            ("https://[2001:4860::8888]/hook", none, Ok(())),
            ("https://127.0.0.1/hook", none, Err(())),
            ("https://localhost/hook", none, Err(())),
            ("https://127.0.0.1/hook", dev, Ok(())),
            ("http://example.com/hook", dev, Err(())),
            ("http://127.0.0.1:8080/hook", none, Err(())),
            ("http://127.0.0.1:8080/hook", dev, Ok(())),
            ("http://127.9.9.9/hook", dev, Ok(())),
            ("http://localhost:1/x", dev, Ok(())),
            ("http://LOCALHOST/x", dev, Ok(())),
            ("http://[::1]:9/x", dev, Ok(())),
            ("http://10.0.0.1/x", dev, Err(())),
            ("https://10.0.0.1/x", dev, Err(())),
            ("https://10.0.0.1/x", inside, Ok(())),
            ("http://10.0.0.1/x", inside, Err(())),
            ("https://172.16.5.4/x", none, Err(())),
            ("https://172.32.0.1/x", none, Ok(())),
            ("https://192.168.1.1/x", none, Err(())),
            ("https://100.64.0.1/x", none, Err(())),
            ("https://169.254.169.254/latest/meta-data", none, Err(())),
            ("https://169.254.169.254/latest/meta-data", inside, Ok(())),
            ("https://0.0.0.0/x", inside, Err(())),
            ("https://255.255.255.255/x", inside, Err(())),
            ("https://224.0.0.1/x", inside, Err(())),
            ("https://[fd00::1]/x", none, Err(())),
            ("https://[fe80::1]/x", none, Err(())),
            ("https://[::ffff:10.0.0.1]/x", none, Err(())),
            ("https://[::ffff:127.0.0.1]/x", none, Err(())),
            ("https://[::]/x", inside, Err(())),
            ("http://[::2]/x", dev, Err(())),
            ("http://localhost.evil.com/x", dev, Err(())),
            ("https://user:pw@example.com/", none, Err(())),
            ("https://user@example.com/", none, Err(())),
            ("ftp://example.com/", dev, Err(())),
            ("example.com/hook", dev, Err(())),
            ("", dev, Err(())),
            (long.as_str(), none, Err(())),
        ];
        for (url, reach, want) in table {
            assert_eq!(
                check_url(url, *reach).map_err(|_| ()),
                *want,
                "{url} {reach:?}"
            );
        }
        let ok = format!("https://example.com/{}", "a".repeat(2048 - 20));
        assert_eq!(ok.len(), 2048);
        assert!(check_url(&ok, none).is_ok());
    }

    #[test]
    fn names_resolving_inside_are_refused_where_the_connection_is_made() {
        use reqwest::dns::Resolve;
        use std::str::FromStr;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        let name = || reqwest::dns::Name::from_str("localhost").unwrap_or_else(|_| panic!());
        let refused = rt.block_on(Guarded(Reach::default()).resolve(name()));
        let err = refused.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("private or reserved"), "{err}");
        let dev = Reach {
            loopback: true,
            private: false,
        };
        let kept: Vec<_> = rt
            .block_on(Guarded(dev).resolve(name()))
            .unwrap_or_else(|e| panic!("{e}"))
            .collect();
        assert!(!kept.is_empty());
        assert!(kept.iter().all(|a| a.ip().is_loopback()), "{kept:?}");
    }
}
