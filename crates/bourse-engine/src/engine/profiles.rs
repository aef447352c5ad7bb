//! Profile commands: sign-up by address, one-time codes, TOTP and recovery codes, log-ins
//! with a second factor and a device, notification preferences and webhooks. The gateway
//! checks what needs a secret (a code's digest, a TOTP code against its secret) before
//! sending the command; the engine decides what must be decided once and in order: a code
//! is used once, a TOTP step is taken once, a recovery code once, an address by one account.

use bourse_core::profile::{
    CODE_INTERVAL_NANOS, CODES_PER_HOUR, CodePurpose, Contact, ContactKind, Factor, KindSet,
    MAX_DEVICES, MAX_WEBHOOK_URL, MAX_WEBHOOKS, NewCode, PendingCode, Prefs, Profile, Sealed,
    SecurityChange, Webhook,
};
use bourse_core::{AccountId, Event, RejectReason, Role, SecretHash, UnixNanos};

use super::{Engine, refuse, reject};
use crate::identity::User;
use crate::profiles::Profiles;

const HOUR_NANOS: u64 = 3_600_000_000_000;

impl Engine {
    /// Every person's contacts, second factor and notification settings.
    #[must_use]
    pub fn profiles(&self) -> &Profiles {
        &self.profiles
    }

    pub(super) fn register_with_contact(
        &mut self,
        ts: UnixNanos,
        username: &str,
        password_hash: &str,
        contact: &Contact,
        code: &NewCode,
        out: &mut Vec<Event>,
    ) {
        if let Err(reason) = self.identity.check_new_user(username) {
            return out.push(reject(None, None, None, reason));
        }
        if !self.profiles.lookup_free(&contact.lookup, None) {
            return out.push(reject(None, None, None, RejectReason::ContactTaken));
        }
        let account = self.open_account(out);
        self.identity.add_user(
            username,
            User {
                account,
                password_hash: password_hash.to_owned(),
                role: Role::Trader,
            },
        );
        out.push(Event::UserRegistered {
            account,
            role: Role::Trader,
        });
        let contact = Contact {
            verified: false,
            ..contact.clone()
        };
        let kind = contact.kind;
        self.profiles.edit(account, |p| {
            *p.contact_mut(kind) = Some(contact);
            put_code(p, ts, code);
        });
        out.push(Event::ProfileChanged { account });
        out.push(Event::CodeIssued {
            account,
            purpose: code.purpose,
            kind: code.kind,
        });
    }

    pub(super) fn issue_code(
        &mut self,
        ts: UnixNanos,
        account: AccountId,
        code: &NewCode,
        new_contact: Option<&Contact>,
        out: &mut Vec<Event>,
    ) {
        if self.identity.role(account).is_none() {
            return out.push(refuse(account, RejectReason::UnknownAccount));
        }
        let profile = self.profiles.get(account);
        match (code.purpose, new_contact) {
            (CodePurpose::Change, Some(c)) if c.kind == code.kind => {
                if !self.profiles.lookup_free(&c.lookup, Some(account))
                    || profile
                        .and_then(|p| p.contact(c.kind))
                        .is_some_and(|old| old.lookup == c.lookup)
                {
                    return out.push(refuse(account, RejectReason::ContactTaken));
                }
            }
            (CodePurpose::Change, _) => {
                return out.push(refuse(account, RejectReason::NoSuchContact));
            }
            (_, _) => {
                if profile.and_then(|p| p.contact(code.kind)).is_none() {
                    return out.push(refuse(account, RejectReason::NoSuchContact));
                }
            }
        }
        if let Some(p) = profile
            && rate_limited(p, ts)
        {
            return out.push(refuse(account, RejectReason::CodeRateLimited));
        }
        self.profiles.edit(account, |p| {
            if let Some(c) = new_contact {
                p.pending = Some(Contact {
                    verified: false,
                    ..c.clone()
                });
            }
            put_code(p, ts, code);
        });
        out.push(Event::ProfileChanged { account });
        out.push(Event::CodeIssued {
            account,
            purpose: code.purpose,
            kind: code.kind,
        });
    }

    pub(super) fn confirm_code(
        &mut self,
        ts: UnixNanos,
        account: AccountId,
        purpose: CodePurpose,
        digest: &SecretHash,
        password_hash: Option<&str>,
        out: &mut Vec<Event>,
    ) {
        let Some(p) = self.profiles.get(account) else {
            return out.push(refuse(account, RejectReason::CodeInvalid));
        };
        let Some(code) = p
            .code(purpose)
            .filter(|c| c.digest == *digest && ts < c.expires_at)
        else {
            return out.push(refuse(account, RejectReason::CodeInvalid));
        };
        let kind = code.kind;
        let change = match purpose {
            CodePurpose::Verify => {
                if p.contact(kind).is_none() {
                    return out.push(refuse(account, RejectReason::NoSuchContact));
                }
                SecurityChange::ContactVerified
            }
            CodePurpose::Change => {
                if p.pending.as_ref().is_none_or(|c| c.kind != kind) {
                    return out.push(refuse(account, RejectReason::NoSuchContact));
                }
                match kind {
                    ContactKind::Email => SecurityChange::EmailChanged,
                    ContactKind::Phone => SecurityChange::PhoneChanged,
                }
            }
            CodePurpose::Reset => {
                let Some(hash) = password_hash else {
                    return out.push(refuse(account, RejectReason::CodeInvalid));
                };
                if !self.identity.set_password(account, hash) {
                    return out.push(refuse(account, RejectReason::UnknownAccount));
                }
                for token in self.identity.end_sessions_of(account) {
                    out.push(Event::SessionEnded { account, token });
                }
                SecurityChange::PasswordReset
            }
        };
        self.profiles.edit(account, |p| {
            p.codes.retain(|c| c.purpose != purpose);
            match purpose {
                CodePurpose::Verify => {
                    if let Some(c) = p.contact_mut(kind).as_mut() {
                        c.verified = true;
                    }
                }
                CodePurpose::Change => {
                    if let Some(mut c) = p.pending.take() {
                        c.verified = true;
                        *p.contact_mut(kind) = Some(c);
                    }
                }
                CodePurpose::Reset => {}
            }
        });
        out.push(Event::ProfileChanged { account });
        out.push(Event::SecurityChanged { account, change });
    }

    pub(super) fn enrol_totp(&mut self, account: AccountId, sealed: &Sealed, out: &mut Vec<Event>) {
        if self.identity.role(account).is_none() {
            return out.push(refuse(account, RejectReason::UnknownAccount));
        }
        if self.profiles.get(account).is_some_and(Profile::two_factor) {
            return out.push(refuse(account, RejectReason::TwoFactorEnabled));
        }
        self.profiles.edit(account, |p| {
            p.totp = Some(bourse_core::profile::Totp {
                sealed_secret: sealed.clone(),
                enabled: false,
                last_step: 0,
            });
        });
        out.push(Event::ProfileChanged { account });
    }

    pub(super) fn enable_totp(
        &mut self,
        account: AccountId,
        step: u64,
        recovery: &[SecretHash],
        out: &mut Vec<Event>,
    ) {
        match self.profiles.get(account).and_then(|p| p.totp.as_ref()) {
            None => return out.push(refuse(account, RejectReason::TwoFactorNotEnrolled)),
            Some(t) if t.enabled => {
                return out.push(refuse(account, RejectReason::TwoFactorEnabled));
            }
            Some(_) => {}
        }
        self.profiles.edit(account, |p| {
            if let Some(t) = p.totp.as_mut() {
                t.enabled = true;
                t.last_step = step;
            }
            p.recovery = recovery.to_vec();
        });
        out.push(Event::ProfileChanged { account });
        out.push(Event::SecurityChanged {
            account,
            change: SecurityChange::TwoFactorEnabled,
        });
    }

    pub(super) fn disable_totp(
        &mut self,
        account: AccountId,
        factor: Factor,
        out: &mut Vec<Event>,
    ) {
        if !self.profiles.get(account).is_some_and(Profile::two_factor) {
            return out.push(refuse(account, RejectReason::TwoFactorDisabled));
        }
        if let Err(r) = self.take_factor(account, factor, out) {
            return out.push(refuse(account, r));
        }
        self.profiles.edit(account, |p| {
            p.totp = None;
            p.recovery.clear();
        });
        out.push(Event::ProfileChanged { account });
        out.push(Event::SecurityChanged {
            account,
            change: SecurityChange::TwoFactorDisabled,
        });
    }

    pub(super) fn renew_recovery(
        &mut self,
        account: AccountId,
        factor: Factor,
        recovery: &[SecretHash],
        out: &mut Vec<Event>,
    ) {
        if !self.profiles.get(account).is_some_and(Profile::two_factor) {
            return out.push(refuse(account, RejectReason::TwoFactorDisabled));
        }
        if let Err(r) = self.take_factor(account, factor, out) {
            return out.push(refuse(account, r));
        }
        self.profiles
            .edit(account, |p| p.recovery = recovery.to_vec());
        out.push(Event::ProfileChanged { account });
        out.push(Event::SecurityChanged {
            account,
            change: SecurityChange::RecoveryCodesRenewed,
        });
    }

    /// Takes the second factor once (a TOTP step after the last one taken, or an unused
    /// recovery code); nothing to take when two-factor is off. Emits nothing on failure.
    fn take_factor(
        &mut self,
        account: AccountId,
        factor: Factor,
        out: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        let Some(p) = self.profiles.get(account) else {
            return Ok(());
        };
        let Some(t) = p.totp.as_ref().filter(|t| t.enabled) else {
            return Ok(());
        };
        match factor {
            Factor::None => Err(RejectReason::SecondFactorInvalid),
            Factor::Totp { step } if step > t.last_step => {
                self.profiles.edit(account, |p| {
                    if let Some(t) = p.totp.as_mut() {
                        t.last_step = step;
                    }
                });
                Ok(())
            }
            Factor::Totp { .. } => Err(RejectReason::SecondFactorInvalid),
            Factor::Recovery { digest } if p.recovery.contains(&digest) => {
                self.profiles
                    .edit(account, |p| p.recovery.retain(|d| *d != digest));
                out.push(Event::SecurityChanged {
                    account,
                    change: SecurityChange::RecoveryCodeUsed,
                });
                Ok(())
            }
            Factor::Recovery { .. } => Err(RejectReason::SecondFactorInvalid),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn log_in(
        &mut self,
        account: AccountId,
        token: SecretHash,
        expires_at: UnixNanos,
        factor: Factor,
        device: SecretHash,
        device_label: &str,
        out: &mut Vec<Event>,
    ) {
        if self.identity.role(account).is_none() {
            return out.push(refuse(account, RejectReason::UnknownAccount));
        }
        let start = out.len();
        if let Err(r) = self.take_factor(account, factor, out) {
            out.truncate(start);
            return out.push(refuse(account, r));
        }
        let factor_used = !matches!(factor, Factor::None)
            && self.profiles.get(account).is_some_and(Profile::two_factor);
        let known = self
            .profiles
            .get(account)
            .is_some_and(|p| p.devices.contains(&device));
        let first = self
            .profiles
            .get(account)
            .is_none_or(|p| p.devices.is_empty());
        if !known {
            let label: String = device_label.chars().take(128).collect();
            self.profiles.edit(account, |p| {
                if p.devices.len() >= MAX_DEVICES {
                    p.devices.remove(0);
                }
                p.devices.push(device);
                p.last_device_label = label;
            });
        } else {
            // Most recent last: a device in use is not the one forgotten.
            self.profiles.edit(account, |p| {
                p.devices.retain(|d| *d != device);
                p.devices.push(device);
            });
        }
        if !known || factor_used {
            out.push(Event::ProfileChanged { account });
        }
        if !known && !first {
            out.push(Event::NewDeviceLogIn { account });
        }
        self.identity.add_session(token, account, expires_at);
        out.push(Event::SessionCreated {
            account,
            expires_at,
        });
    }

    pub(super) fn set_prefs(&mut self, account: AccountId, prefs: &Prefs, out: &mut Vec<Event>) {
        if self.identity.role(account).is_none() {
            return out.push(refuse(account, RejectReason::UnknownAccount));
        }
        self.profiles.edit(account, |p| p.prefs = prefs.clone());
        out.push(Event::ProfileChanged { account });
    }

    pub(super) fn create_webhook(
        &mut self,
        ts: UnixNanos,
        account: AccountId,
        url: &str,
        events: KindSet,
        sealed: &Sealed,
        out: &mut Vec<Event>,
    ) {
        if self.identity.role(account).is_none() {
            return out.push(refuse(account, RejectReason::UnknownAccount));
        }
        if self
            .profiles
            .get(account)
            .is_some_and(|p| p.webhooks.len() >= MAX_WEBHOOKS)
        {
            return out.push(refuse(account, RejectReason::TooManyWebhooks));
        }
        let events = KindSet(events.0 & KindSet::ALL.0);
        if url.is_empty() || url.len() > MAX_WEBHOOK_URL || events.0 == 0 {
            return out.push(refuse(account, RejectReason::InvalidWebhook));
        }
        let id = self.profiles.take_webhook_id();
        self.profiles.edit(account, |p| {
            p.webhooks.push(Webhook {
                id,
                url: url.to_owned(),
                events,
                sealed_secret: sealed.clone(),
                created_at: ts,
            });
        });
        out.push(Event::ProfileChanged { account });
        out.push(Event::SecurityChanged {
            account,
            change: SecurityChange::WebhookCreated,
        });
    }

    pub(super) fn delete_webhook(&mut self, account: AccountId, id: u64, out: &mut Vec<Event>) {
        if !self
            .profiles
            .get(account)
            .is_some_and(|p| p.webhooks.iter().any(|w| w.id == id))
        {
            return out.push(refuse(account, RejectReason::UnknownWebhook));
        }
        self.profiles
            .edit(account, |p| p.webhooks.retain(|w| w.id != id));
        out.push(Event::ProfileChanged { account });
        out.push(Event::SecurityChanged {
            account,
            change: SecurityChange::WebhookDeleted,
        });
    }
}

/// At most [`CODES_PER_HOUR`] codes in the last hour, and [`CODE_INTERVAL_NANOS`] between two.
fn rate_limited(p: &Profile, ts: UnixNanos) -> bool {
    let recent = p
        .code_times
        .iter()
        .filter(|t| ts.get().saturating_sub(t.get()) < HOUR_NANOS)
        .count();
    let last_too_close = p
        .code_times
        .last()
        .is_some_and(|t| ts.get().saturating_sub(t.get()) < CODE_INTERVAL_NANOS);
    recent >= CODES_PER_HOUR || last_too_close
}

/// Records a new code (replacing one of the same purpose) and when it was sent.
fn put_code(p: &mut Profile, ts: UnixNanos, code: &NewCode) {
    p.codes.retain(|c| c.purpose != code.purpose);
    p.codes.push(PendingCode {
        purpose: code.purpose,
        kind: code.kind,
        digest: code.digest,
        sealed_code: code.sealed_code.clone(),
        expires_at: code.expires_at,
    });
    p.code_times
        .retain(|t| ts.get().saturating_sub(t.get()) < HOUR_NANOS);
    p.code_times.push(ts);
}
