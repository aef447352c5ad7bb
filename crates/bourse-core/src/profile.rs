//! A person's contact points, second factor and notification settings, as exchange state
//! (DESIGN §6 Notifications, §7). The engine holds these opaquely: addresses and secrets
//! arrive sealed (encrypted by the gateway under the data key) with a keyed digest to find
//! and compare them by, so neither the journal nor a snapshot holds one in the clear.

use serde::{Deserialize, Serialize};

use crate::funding::Funding;
use crate::{SecretHash, UnixNanos};

/// Ciphertext the engine only stores and hands on: XChaCha20-Poly1305 (nonce ‖ sealed
/// bytes) under the configured data key.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Sealed(pub Vec<u8>);

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealed({} bytes)", self.0.len())
    }
}

/// The two ways a person is reached and signs in.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactKind {
    Email,
    Phone,
}

impl ContactKind {
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            ContactKind::Email => "email",
            ContactKind::Phone => "phone",
        }
    }
}

/// An email address or phone number.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Contact {
    pub kind: ContactKind,
    /// Keyed digest of the normalized address: how it is found and kept unique.
    pub lookup: SecretHash,
    /// The address itself, sealed.
    pub sealed: Sealed,
    pub verified: bool,
}

/// What a one-time code proves.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodePurpose {
    /// That the person holds the address they signed up (or log in) with.
    Verify,
    /// A password reset.
    Reset,
    /// A new address (a change of email or phone) before it replaces the old one.
    Change,
}

impl CodePurpose {
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            CodePurpose::Verify => "verify",
            CodePurpose::Reset => "reset",
            CodePurpose::Change => "change",
        }
    }
}

/// A one-time code as issued: its digest for the engine, the code sealed for the notifier
/// that mails or texts it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct NewCode {
    pub purpose: CodePurpose,
    /// Which of the person's addresses it goes to (for `Change`: the new one).
    pub kind: ContactKind,
    pub digest: SecretHash,
    pub sealed_code: Sealed,
    pub expires_at: UnixNanos,
}

/// A code waiting to be used: single use, until `expires_at`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PendingCode {
    pub purpose: CodePurpose,
    pub kind: ContactKind,
    pub digest: SecretHash,
    /// For the notifier that sends it.
    pub sealed_code: Sealed,
    pub expires_at: UnixNanos,
}

/// Every kind of notification a person can choose channels for.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    PriceAlert,
    OrderFilled,
    OrderPartiallyFilled,
    OrderCanceled,
    OrderRejected,
    OrderExpired,
    Deposit,
    Withdrawal,
    LogIn,
    SecurityChange,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 10] = [
        NoticeKind::PriceAlert,
        NoticeKind::OrderFilled,
        NoticeKind::OrderPartiallyFilled,
        NoticeKind::OrderCanceled,
        NoticeKind::OrderRejected,
        NoticeKind::OrderExpired,
        NoticeKind::Deposit,
        NoticeKind::Withdrawal,
        NoticeKind::LogIn,
        NoticeKind::SecurityChange,
    ];

    /// The wire name, e.g. `order_filled`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            NoticeKind::PriceAlert => "price_alert",
            NoticeKind::OrderFilled => "order_filled",
            NoticeKind::OrderPartiallyFilled => "order_partially_filled",
            NoticeKind::OrderCanceled => "order_canceled",
            NoticeKind::OrderRejected => "order_rejected",
            NoticeKind::OrderExpired => "order_expired",
            NoticeKind::Deposit => "deposit",
            NoticeKind::Withdrawal => "withdrawal",
            NoticeKind::LogIn => "log_in",
            NoticeKind::SecurityChange => "security_change",
        }
    }

    #[must_use]
    pub fn parse(name: &str) -> Option<NoticeKind> {
        NoticeKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Its bit in a [`KindSet`].
    #[must_use]
    pub const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of notice kinds (a webhook's `events`).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default, Serialize, Deserialize,
)]
pub struct KindSet(pub u16);

impl KindSet {
    pub const ALL: KindSet = KindSet((1 << NoticeKind::ALL.len()) - 1);

    #[must_use]
    pub const fn contains(self, k: NoticeKind) -> bool {
        self.0 & k.bit() != 0
    }

    #[must_use]
    pub const fn with(self, k: NoticeKind) -> KindSet {
        KindSet(self.0 | k.bit())
    }

    pub fn kinds(self) -> impl Iterator<Item = NoticeKind> {
        NoticeKind::ALL
            .into_iter()
            .filter(move |k| self.contains(*k))
    }
}

/// Where one kind of notice goes.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default, Serialize, Deserialize,
)]
pub struct ChannelSet(pub u8);

/// The channels a notice can take.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The private WebSocket channels (and the page's toasts).
    InApp,
    Email,
    Sms,
    Webhook,
}

impl Channel {
    pub const ALL: [Channel; 4] = [
        Channel::InApp,
        Channel::Email,
        Channel::Sms,
        Channel::Webhook,
    ];

    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Channel::InApp => "in_app",
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Webhook => "webhook",
        }
    }

    #[must_use]
    pub fn parse(name: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl ChannelSet {
    #[must_use]
    pub const fn contains(self, c: Channel) -> bool {
        self.0 & (1 << c as u8) != 0
    }

    #[must_use]
    pub const fn with(self, c: Channel) -> ChannelSet {
        ChannelSet(self.0 | (1 << c as u8))
    }

    pub fn channels(self) -> impl Iterator<Item = Channel> {
        Channel::ALL.into_iter().filter(move |c| self.contains(*c))
    }
}

/// A person's notification preferences: channels per kind, and the quiet rules.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Prefs {
    /// Indexed by `NoticeKind as usize`.
    pub channels: [ChannelSet; 10],
    /// Partial fills of one order within a few seconds go out as one notice.
    pub batch_partial_fills: bool,
}

impl Default for Prefs {
    /// In-app and webhooks for everything; email for fills, money, log-ins and security;
    /// SMS for log-ins and security (what a broker sends unasked).
    fn default() -> Self {
        let base = ChannelSet::default()
            .with(Channel::InApp)
            .with(Channel::Webhook);
        let mut channels = [base; 10];
        for k in [
            NoticeKind::OrderFilled,
            NoticeKind::Deposit,
            NoticeKind::Withdrawal,
            NoticeKind::PriceAlert,
        ] {
            channels[k as usize] = base.with(Channel::Email);
        }
        for k in [NoticeKind::LogIn, NoticeKind::SecurityChange] {
            channels[k as usize] = base.with(Channel::Email).with(Channel::Sms);
        }
        Prefs {
            channels,
            batch_partial_fills: true,
        }
    }
}

impl Prefs {
    #[must_use]
    pub fn of(&self, kind: NoticeKind) -> ChannelSet {
        self.channels[kind as usize]
    }
}

/// An endpoint that receives a person's notices as signed HTTP POSTs.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Webhook {
    pub id: u64,
    pub url: String,
    pub events: KindSet,
    /// The signing secret, sealed (it must be read back to sign, so it cannot be hashed).
    pub sealed_secret: Sealed,
    pub created_at: UnixNanos,
}

/// A TOTP (RFC 6238) second factor.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Totp {
    pub sealed_secret: Sealed,
    /// Confirmed with a first code: from then on required at log-in.
    pub enabled: bool,
    /// The last time step a code was accepted for: a code is good once.
    pub last_step: u64,
}

/// Most webhooks one account may have.
pub const MAX_WEBHOOKS: usize = 10;
/// Devices remembered per person (most recent kept).
pub const MAX_DEVICES: usize = 20;
/// Recovery codes issued at a time.
pub const RECOVERY_CODES: usize = 10;
/// Codes one person may be sent per hour, and the least time between two.
pub const CODES_PER_HOUR: usize = 10;
pub const CODE_INTERVAL_NANOS: u64 = 30_000_000_000;
/// Longest URL a webhook may have.
pub const MAX_WEBHOOK_URL: usize = 2_048;

/// Everything about how a person is reached and proves who they are.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Profile {
    pub email: Option<Contact>,
    pub phone: Option<Contact>,
    /// A new address waiting for its `Change` code.
    pub pending: Option<Contact>,
    /// At most one per purpose.
    pub codes: Vec<PendingCode>,
    /// When codes were sent in the last hour, oldest first (the rate limit).
    pub code_times: Vec<UnixNanos>,
    pub totp: Option<Totp>,
    /// Digests of the unused recovery codes.
    pub recovery: Vec<SecretHash>,
    /// Digests of devices that logged in, most recent last.
    pub devices: Vec<SecretHash>,
    /// What the last new device called itself (its user agent), for the notice.
    pub last_device_label: String,
    pub prefs: Prefs,
    pub webhooks: Vec<Webhook>,
    pub next_webhook: u64,
    /// Linked banks and transfers.
    pub funding: Funding,
    /// The person asked for their personal data to be erased: only the records the law
    /// requires are left (the account's transfers; orders and fills live elsewhere).
    pub erased: bool,
}

impl Profile {
    #[must_use]
    pub fn contact(&self, kind: ContactKind) -> Option<&Contact> {
        match kind {
            ContactKind::Email => self.email.as_ref(),
            ContactKind::Phone => self.phone.as_ref(),
        }
    }

    pub fn contact_mut(&mut self, kind: ContactKind) -> &mut Option<Contact> {
        match kind {
            ContactKind::Email => &mut self.email,
            ContactKind::Phone => &mut self.phone,
        }
    }

    /// Signed up with an address and has verified none: may not trade or withdraw.
    #[must_use]
    pub fn unverified(&self) -> bool {
        let has = self.email.is_some() || self.phone.is_some();
        has && !self.email.as_ref().is_some_and(|c| c.verified)
            && !self.phone.as_ref().is_some_and(|c| c.verified)
    }

    #[must_use]
    pub fn two_factor(&self) -> bool {
        self.totp.as_ref().is_some_and(|t| t.enabled)
    }

    #[must_use]
    pub fn code(&self, purpose: CodePurpose) -> Option<&PendingCode> {
        self.codes.iter().find(|c| c.purpose == purpose)
    }
}

/// The device a log-in came from: a keyed digest of the id the client keeps (or of its
/// user agent), and what it calls itself.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Device {
    pub id: SecretHash,
    pub label: String,
}

/// The second factor presented at log-in.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Factor {
    None,
    /// A TOTP code the gateway checked; the step it matched (the engine takes it once).
    Totp {
        step: u64,
    },
    /// A recovery code's digest (the engine takes it once).
    Recovery {
        digest: SecretHash,
    },
}

/// What changed in a person's security settings (each is a `security_change` notice).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityChange {
    ContactVerified,
    EmailChanged,
    PhoneChanged,
    PasswordReset,
    TwoFactorEnabled,
    TwoFactorDisabled,
    RecoveryCodesRenewed,
    RecoveryCodeUsed,
    WebhookCreated,
    WebhookDeleted,
    BankLinked,
    BankVerified,
    BankRemoved,
}

impl SecurityChange {
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            SecurityChange::ContactVerified => "contact_verified",
            SecurityChange::EmailChanged => "email_changed",
            SecurityChange::PhoneChanged => "phone_changed",
            SecurityChange::PasswordReset => "password_reset",
            SecurityChange::TwoFactorEnabled => "two_factor_enabled",
            SecurityChange::TwoFactorDisabled => "two_factor_disabled",
            SecurityChange::RecoveryCodesRenewed => "recovery_codes_renewed",
            SecurityChange::RecoveryCodeUsed => "recovery_code_used",
            SecurityChange::WebhookCreated => "webhook_created",
            SecurityChange::WebhookDeleted => "webhook_deleted",
            SecurityChange::BankLinked => "bank_linked",
            SecurityChange::BankVerified => "bank_verified",
            SecurityChange::BankRemoved => "bank_removed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_round_trip_and_bits_are_distinct() {
        let mut all = KindSet::default();
        for k in NoticeKind::ALL {
            assert_eq!(NoticeKind::parse(k.name()), Some(k));
            assert!(!all.contains(k));
            all = all.with(k);
        }
        assert_eq!(all, KindSet::ALL);
        assert_eq!(KindSet::ALL.kinds().count(), 10);
    }

    #[test]
    fn default_prefs_send_security_everywhere_and_trading_in_app() {
        let p = Prefs::default();
        assert!(p.of(NoticeKind::SecurityChange).contains(Channel::Sms));
        assert!(p.of(NoticeKind::OrderFilled).contains(Channel::Email));
        assert!(!p.of(NoticeKind::OrderCanceled).contains(Channel::Email));
        for k in NoticeKind::ALL {
            assert!(p.of(k).contains(Channel::InApp));
        }
    }

    #[test]
    fn unverified_only_with_an_address_and_none_verified() {
        let mut p = Profile::default();
        assert!(!p.unverified());
        p.email = Some(Contact {
            kind: ContactKind::Email,
            lookup: SecretHash([1; 32]),
            sealed: Sealed(vec![1]),
            verified: false,
        });
        assert!(p.unverified());
        if let Some(c) = p.email.as_mut() {
            c.verified = true;
        }
        assert!(!p.unverified());
    }
}
