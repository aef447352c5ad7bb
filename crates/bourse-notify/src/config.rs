//! The `[notify]` section of the server's configuration.

use std::fmt;

use serde::Deserialize;

use crate::NotifyError;

/// Delivery settings. `Default` holds the documented defaults; every field may be omitted.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// `smtp://host:port` (plain, for development), `smtps://host:465`, or
    /// `smtp://host:587?tls=required` (STARTTLS). Empty: the email channel is off.
    pub smtp_url: String,
    pub smtp_user: String,
    /// Never logged.
    pub smtp_password: String,
    pub email_from: String,
    /// The SMS provider's base URL (Twilio's Messages API shape). Empty: SMS is off.
    pub sms_url: String,
    pub sms_account_sid: String,
    /// Never logged.
    pub sms_auth_token: String,
    pub sms_from: String,
    /// Lets webhooks (and the SMS provider) reach loopback addresses, also by plain
    /// `http://`: development only.
    pub allow_loopback_http: bool,
    /// Lets webhooks reach private, shared and link-local networks (see [`crate::Reach`]).
    /// Off by default: a webhook URL is a user's input.
    pub allow_private_networks: bool,
    pub max_attempts: u32,
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    pub http_timeout_ms: u64,
    pub endpoint_concurrency: u32,
    pub endpoint_queue: u32,
    pub breaker_failures: u32,
    pub breaker_open_ms: u64,
    pub poll_ms: u64,
    /// Submitted batches the writer's queue holds before `submit` waits.
    pub submit_queue: u32,
    /// Deliveries per store transaction (enqueue, claim, outcomes).
    pub batch_max: u32,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            smtp_url: String::new(),
            smtp_user: String::new(),
            smtp_password: String::new(),
            email_from: "bourse <no-reply@bourse.invalid>".to_owned(),
            sms_url: String::new(),
            sms_account_sid: String::new(),
            sms_auth_token: String::new(),
            sms_from: String::new(),
            allow_loopback_http: false,
            allow_private_networks: false,
            max_attempts: 8,
            retry_base_ms: 1000,
            retry_max_ms: 3_600_000,
            http_timeout_ms: 10_000,
            endpoint_concurrency: 8,
            endpoint_queue: 1024,
            breaker_failures: 5,
            breaker_open_ms: 30_000,
            poll_ms: 500,
            submit_queue: 65_536,
            batch_max: 4096,
        }
    }
}

impl fmt::Debug for NotifyConfig {
    /// Passwords and tokens are not shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifyConfig")
            .field("smtp_url", &self.smtp_url)
            .field("smtp_user", &self.smtp_user)
            .field("email_from", &self.email_from)
            .field("sms_url", &self.sms_url)
            .field("sms_account_sid", &self.sms_account_sid)
            .field("sms_from", &self.sms_from)
            .field("allow_loopback_http", &self.allow_loopback_http)
            .field("allow_private_networks", &self.allow_private_networks)
            .field("max_attempts", &self.max_attempts)
            .field("retry_base_ms", &self.retry_base_ms)
            .field("retry_max_ms", &self.retry_max_ms)
            .field("http_timeout_ms", &self.http_timeout_ms)
            .field("endpoint_concurrency", &self.endpoint_concurrency)
            .field("endpoint_queue", &self.endpoint_queue)
            .field("breaker_failures", &self.breaker_failures)
            .field("breaker_open_ms", &self.breaker_open_ms)
            .field("poll_ms", &self.poll_ms)
            .field("submit_queue", &self.submit_queue)
            .field("batch_max", &self.batch_max)
            .finish_non_exhaustive()
    }
}

impl NotifyConfig {
    pub(crate) fn validate(&self) -> Result<(), NotifyError> {
        let positive = [
            ("max_attempts", u64::from(self.max_attempts)),
            ("retry_base_ms", self.retry_base_ms),
            ("retry_max_ms", self.retry_max_ms),
            ("http_timeout_ms", self.http_timeout_ms),
            ("endpoint_concurrency", u64::from(self.endpoint_concurrency)),
            ("endpoint_queue", u64::from(self.endpoint_queue)),
            ("breaker_failures", u64::from(self.breaker_failures)),
            ("poll_ms", self.poll_ms),
            ("submit_queue", u64::from(self.submit_queue)),
            ("batch_max", u64::from(self.batch_max)),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(NotifyError::Config(format!("{name} must be at least 1")));
            }
        }
        if self.retry_max_ms < self.retry_base_ms {
            return Err(NotifyError::Config(
                "retry_max_ms must be at least retry_base_ms".to_owned(),
            ));
        }
        if !self.sms_url.is_empty() {
            // The operator's provider may sit on a private network.
            let reach = crate::Reach {
                private: true,
                ..self.reach()
            };
            crate::check_url(&self.sms_url, reach)
                .map_err(|e| NotifyError::Config(format!("sms_url: {e}")))?;
        }
        Ok(())
    }

    /// Which addresses webhooks may reach besides public ones.
    pub fn reach(&self) -> crate::Reach {
        crate::Reach {
            loopback: self.allow_loopback_http,
            private: self.allow_private_networks,
        }
    }

    /// The delay before retry number `attempts` (1 = after the first failure): uniform in
    /// `[0, min(retry_max_ms, retry_base_ms * 2^(attempts-1))]`, in ms (full jitter).
    pub(crate) fn backoff_ms(&self, attempts: u32, random: u64) -> u64 {
        let exp = attempts.saturating_sub(1).min(63);
        let ceiling = self
            .retry_base_ms
            .saturating_mul(1u64.checked_shl(exp).unwrap_or(u64::MAX))
            .min(self.retry_max_ms);
        random % (ceiling.saturating_add(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_and_jittered() {
        let c = NotifyConfig::default();
        for a in 1..100 {
            for r in [0, 1, 12345, u64::MAX] {
                let d = c.backoff_ms(a, r);
                let cap = (1000u64 << (a - 1).min(40)).min(3_600_000);
                assert!(d <= cap, "attempt {a}: {d} > {cap}");
            }
        }
        assert_eq!(c.backoff_ms(1, 1000), 1000);
        assert_eq!(c.backoff_ms(1, 1001), 0);
    }

    #[test]
    fn empty_section_is_the_default() {
        let c: NotifyConfig = serde_json::from_str("{}").unwrap_or_default();
        assert_eq!(c, NotifyConfig::default());
        assert!(c.validate().is_ok());
    }
}
