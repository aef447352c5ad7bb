//! Who is calling: passwords (argon2, hashed off the async threads), session tokens and API
//! keys (random 256-bit secrets, stored only as BLAKE3 digests), and the directory the
//! gateway checks them against.
//!
//! The engine's identity state (journaled) is the source of truth; the directory mirrors it.
//! It is seeded from the recovered engine at start and updated by this process's own
//! identity commands once they are durable, which are the only way identity changes.
//!
//! Must never: keep or log a password or a secret in clear; tell an unknown user from a
//! wrong password; accept an expired session.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use bourse_core::{AccountId, Role, Scopes, SecretHash, UnixNanos};
use parking_lot::RwLock;
use tokio::sync::{oneshot, watch};
use zeroize::Zeroize;

use crate::error::ApiError;

/// The wall clock as the API reads it (session expiry).
#[must_use]
pub fn now() -> UnixNanos {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    UnixNanos::new(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// A fresh random 256-bit secret as 64 hex characters, and its digest.
pub fn new_secret() -> Result<(String, SecretHash), ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "no randomness available",
        )
    })?;
    let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let digest = digest(&text);
    Ok((text, digest))
}

/// What the directory stores of a secret.
#[must_use]
pub fn digest(secret: &str) -> SecretHash {
    SecretHash(*blake3::hash(secret.as_bytes()).as_bytes())
}

/// Usernames: 3–32 of `a-z`, `0-9`, `_`, `-`, `.` (the engine checks the same rule).
#[must_use]
pub fn valid_username(name: &str) -> bool {
    (3..=32).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.')
        })
}

/// Why a password is refused at sign-up: `None` when it is acceptable. Length 8–128
/// characters, no control characters (NUL included), not blank, and not guessable: zxcvbn
/// (Dropbox's estimator, with its lists of common passwords, names and keyboard walks)
/// must rate it at least [`MIN_PASSWORD_SCORE`] (of 0–4), with the username as a known word.
#[must_use]
pub fn password_problem(password: &str, username: &str) -> Option<&'static str> {
    password_shape_problem(password).or_else(|| guessable(password, username))
}

/// The cheap part of [`password_problem`] (length, characters), checked before queueing.
#[must_use]
pub fn password_shape_problem(password: &str) -> Option<&'static str> {
    let n = password.chars().count();
    if !(8..=128).contains(&n) {
        return Some("passwords are 8-128 characters");
    }
    if password.chars().any(char::is_control) {
        return Some("passwords may not contain control characters");
    }
    if password.trim().is_empty() {
        return Some("passwords may not be blank");
    }
    None
}

/// The estimator's part of [`password_problem`]: milliseconds for a long password, so it
/// runs on the password threads, never on the async ones.
fn guessable(password: &str, username: &str) -> Option<&'static str> {
    let weak = zxcvbn::zxcvbn(password, &[username, "bourse"]).score() < MIN_PASSWORD_SCORE;
    weak.then_some(
        "this password is too common or too easy to guess; choose a longer or less usual one",
    )
}

/// The least zxcvbn score (0–4) a new password needs: 2, "somewhat guarded" (more than
/// 10^6 guesses), which with argon2 and the per-IP log-in limit puts online guessing out of
/// reach while refusing the common and trivial (`password`, `12345678`, `qwertyuiop`).
pub const MIN_PASSWORD_SCORE: zxcvbn::Score = zxcvbn::Score::Two;

/// Password work (argon2id, 19 MiB and two passes per hash) on a fixed set of threads, each
/// hashing in one memory area it keeps for its whole life, fed by a bounded FIFO queue.
/// So however many people log in at once, argon2 holds `workers` × 19 MiB and uses at
/// most `workers` cores; a full queue answers `503 OVERLOADED` at once instead of growing,
/// and everyone waits their turn in arrival order.
///
/// (With `spawn_blocking` each concurrent hash had a thread and a fresh 19 MiB allocation,
/// which the allocator kept: 64 parallel log-ins grew the server by 2 GB for good.)
pub struct Passwords {
    jobs: crossbeam_channel::Sender<Job>,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords")
            .field("queued", &self.jobs.len())
            .finish_non_exhaustive()
    }
}

enum Job {
    /// A new password and its user's name: judged, then hashed.
    Hash(
        String,
        String,
        oneshot::Sender<Result<String, Option<&'static str>>>,
    ),
    /// `None`: an unknown user, checked against a hash no password matches, just as slowly.
    Verify(String, Option<String>, oneshot::Sender<bool>),
}

fn busy() -> ApiError {
    ApiError {
        retry_after: Some(1),
        ..ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "OVERLOADED",
            "too many password checks at once; retry shortly",
        )
    }
}

fn internal(what: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL",
        what.to_owned(),
    )
}

impl Passwords {
    /// `workers` threads (at least one) and room for `queue` waiting requests.
    pub fn new(workers: usize, queue: usize) -> Result<Self, std::io::Error> {
        let (tx, rx) = crossbeam_channel::bounded::<Job>(queue.max(1));
        for i in 0..workers.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("bourse-argon2-{i}"))
                .spawn(move || PasswordWorker::new().run(&rx))?;
        }
        Ok(Self { jobs: tx })
    }

    /// Judges a new password (`422 INVALID_PASSWORD` if it is guessable, see
    /// [`password_problem`]) and hashes it (argon2id, a random 16-byte salt) to a PHC string.
    pub async fn hash(&self, password: String, username: &str) -> Result<String, ApiError> {
        if let Some(problem) = password_shape_problem(&password) {
            return Err(ApiError::unprocessable("INVALID_PASSWORD", problem));
        }
        let (tx, rx) = oneshot::channel();
        self.jobs
            .try_send(Job::Hash(password, username.to_owned(), tx))
            .map_err(|_| busy())?;
        match rx.await {
            Ok(Ok(phc)) => Ok(phc),
            Ok(Err(Some(problem))) => Err(ApiError::unprocessable("INVALID_PASSWORD", problem)),
            _ => Err(internal("could not hash the password")),
        }
    }

    /// Checks a password against a PHC string (`None`: an unknown user, always false).
    pub async fn verify(&self, password: String, phc: Option<String>) -> Result<bool, ApiError> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .try_send(Job::Verify(password, phc, tx))
            .map_err(|_| busy())?;
        rx.await.map_err(|_| internal("the password check stopped"))
    }

    /// Requests waiting for a worker now.
    #[must_use]
    pub fn queued(&self) -> usize {
        self.jobs.len()
    }
}

/// One password thread: its argon2 memory, allocated once.
struct PasswordWorker {
    blocks: Vec<argon2::Block>,
    /// The PHC string unknown users are checked against.
    dummy: Option<String>,
}

impl PasswordWorker {
    fn new() -> Self {
        let mut w = Self {
            blocks: vec![argon2::Block::default(); argon2::Params::default().block_count()],
            dummy: None,
        };
        w.dummy = w.hash(b"no user has this password");
        w
    }

    fn run(mut self, jobs: &crossbeam_channel::Receiver<Job>) {
        while let Ok(job) = jobs.recv() {
            // A panic in a job (the estimator on some odd input, say) drops that job's
            // answer (the caller gets 500 INTERNAL) and leaves the thread serving.
            // The worker's memory is plain blocks, rewritten by every hash, and the job is
            // gone either way: nothing is left half-updated.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.serve(job)));
        }
    }

    fn serve(&mut self, job: Job) {
        {
            match job {
                Job::Hash(mut password, username, reply) => {
                    let r = match guessable(&password, &username) {
                        Some(problem) => Err(Some(problem)),
                        None => self.hash(password.as_bytes()).ok_or(None),
                    };
                    let _ = reply.send(r);
                    password.zeroize();
                }
                Job::Verify(mut password, phc, reply) => {
                    let known = phc.is_some();
                    let ok = match phc.or_else(|| self.dummy.clone()) {
                        Some(phc) => self.verify(password.as_bytes(), &phc),
                        None => false,
                    };
                    let _ = reply.send(ok && known);
                    password.zeroize();
                }
            }
        }
    }

    fn hash(&mut self, password: &[u8]) -> Option<String> {
        use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
        let params = argon2::Params::default();
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).ok()?;
        let mut out = [0u8; 32];
        argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            params.clone(),
        )
        .hash_password_into_with_memory(password, &salt, &mut out, &mut self.blocks)
        .ok()?;
        let phc = PasswordHash {
            algorithm: argon2::Algorithm::Argon2id.ident(),
            version: Some(argon2::Version::V0x13.into()),
            params: ParamsString::try_from(&params).ok()?,
            salt: Some(Salt::new(&salt).ok()?),
            hash: Some(Output::new(&out).ok()?),
        };
        Some(phc.to_string())
    }

    fn verify(&mut self, password: &[u8], phc: &str) -> bool {
        use argon2::password_hash::phc::{Output, PasswordHash};
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (parsed.salt.as_ref(), parsed.hash.as_ref()) else {
            return false;
        };
        let Ok(algorithm) = argon2::Algorithm::try_from(parsed.algorithm.as_str()) else {
            return false;
        };
        let version = match parsed.version.map(argon2::Version::try_from) {
            Some(Ok(v)) => v,
            Some(Err(_)) => return false,
            None => argon2::Version::default(),
        };
        let Ok(params) = argon2::Params::try_from(&parsed) else {
            return false;
        };
        let mut out = vec![0u8; expected.len()];
        let argon = argon2::Argon2::new(algorithm, version, params.clone());
        let need = params.block_count();
        // Hashes made with more memory than ours (another configuration) get their own.
        let done = if need <= self.blocks.len() {
            argon.hash_password_into_with_memory(password, salt, &mut out, &mut self.blocks[..need])
        } else {
            argon.hash_password_into(password, salt, &mut out)
        };
        // Output's equality is constant-time.
        done.is_ok() && Output::new(&out).is_ok_and(|o| &o == expected)
    }
}

/// A user as the directory knows them.
#[derive(Debug, Clone)]
pub struct UserEntry {
    pub account: AccountId,
    pub role: Role,
    pub password_hash: String,
}

/// The state to start from (the recovered engine's identity).
#[derive(Debug, Clone, Default)]
pub struct DirectorySeed {
    pub users: Vec<(String, UserEntry)>,
    /// Token digest, account, expiry.
    pub sessions: Vec<(SecretHash, AccountId, UnixNanos)>,
    /// Key id, account, secret digest, scopes.
    pub keys: Vec<(u64, AccountId, SecretHash, Scopes)>,
    /// Customer account, its broker.
    pub customers: Vec<(AccountId, AccountId)>,
}

#[derive(Debug)]
struct Inner {
    users: HashMap<String, UserEntry>,
    roles: HashMap<AccountId, Role>,
    /// Each account's username (the web page shows who is logged in).
    names: HashMap<AccountId, String>,
    sessions: HashMap<SecretHash, (AccountId, UnixNanos)>,
    keys: HashMap<SecretHash, (u64, AccountId, Scopes)>,
    /// Live key ids, so a connection authenticated by a key can ask if it still is.
    key_ids: HashMap<u64, SecretHash>,
    /// Customer account → its broker; and each broker's customers, oldest first (at most
    /// the engine's `MAX_CUSTOMERS_PER_BROKER` each).
    brokers: HashMap<AccountId, AccountId>,
    customers: HashMap<AccountId, Vec<AccountId>>,
    /// Expired sessions are swept when the table grows past this (then it is set to twice
    /// what is left, at least [`SESSION_SWEEP_MIN`]): the table holds live sessions and at
    /// most as many dead ones.
    sweep_at: usize,
}

const SESSION_SWEEP_MIN: usize = 1_024;

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Credential {
    Session(SecretHash),
    ApiKey(u64),
    /// The configured operator token.
    Operator,
}

/// The authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    /// `None` for the operator token, which acts for no account of its own.
    pub account: Option<AccountId>,
    pub role: Role,
    pub credential: Credential,
    /// What the credential may do: everything for a session or the operator token, what it
    /// was made for for an API key.
    pub scopes: Scopes,
}

/// Why a credential that once authenticated no longer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Logged out (`DELETE /v1/sessions`).
    SessionEnded,
    SessionExpired,
    ApiKeyRevoked,
}

impl Ended {
    /// The stable code a connection is told.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Ended::SessionEnded => "SESSION_ENDED",
            Ended::SessionExpired => "SESSION_EXPIRED",
            Ended::ApiKeyRevoked => "API_KEY_REVOKED",
        }
    }

    #[must_use]
    pub fn message(self) -> &'static str {
        match self {
            Ended::SessionEnded => "the session was logged out",
            Ended::SessionExpired => "the session expired",
            Ended::ApiKeyRevoked => "the API key was revoked",
        }
    }
}

/// Users, sessions and API keys, for checking credentials without the engine.
#[derive(Debug)]
pub struct Directory {
    inner: RwLock<Inner>,
    operator: Option<SecretHash>,
    /// Bumped whenever a session ends or a key is revoked, so that open connections check
    /// at once whether they lost their authority.
    ended: watch::Sender<u64>,
}

impl Default for Directory {
    fn default() -> Self {
        Self::new(DirectorySeed::default(), None)
    }
}

impl Directory {
    #[must_use]
    pub fn new(seed: DirectorySeed, operator_token: Option<&str>) -> Self {
        let mut inner = Inner {
            users: HashMap::new(),
            roles: HashMap::new(),
            names: HashMap::new(),
            sessions: HashMap::new(),
            keys: HashMap::new(),
            key_ids: HashMap::new(),
            brokers: HashMap::new(),
            customers: HashMap::new(),
            sweep_at: SESSION_SWEEP_MIN,
        };
        for (c, b) in seed.customers {
            inner.brokers.insert(c, b);
            inner.customers.entry(b).or_default().push(c);
        }
        for (name, u) in seed.users {
            inner.roles.insert(u.account, u.role);
            inner.names.insert(u.account, name.clone());
            inner.users.insert(name, u);
        }
        for (t, a, e) in seed.sessions {
            inner.sessions.insert(t, (a, e));
        }
        inner.sweep_at = (inner.sessions.len() * 2).max(SESSION_SWEEP_MIN);
        for (id, a, s, scopes) in seed.keys {
            inner.keys.insert(s, (id, a, scopes));
            inner.key_ids.insert(id, s);
        }
        Self {
            inner: RwLock::new(inner),
            operator: operator_token.map(digest),
            ended: watch::Sender::new(0),
        }
    }

    #[must_use]
    pub fn user(&self, name: &str) -> Option<UserEntry> {
        self.inner.read().users.get(name).cloned()
    }

    pub fn add_user(&self, name: &str, entry: UserEntry) {
        let mut g = self.inner.write();
        g.roles.insert(entry.account, entry.role);
        g.names.insert(entry.account, name.to_owned());
        g.users.insert(name.to_owned(), entry);
    }

    /// Forgets the account's user (an erased person): its name no longer logs in.
    pub fn remove_user(&self, account: AccountId) {
        let mut g = self.inner.write();
        if let Some(name) = g.names.remove(&account) {
            g.users.remove(&name);
        }
    }

    /// A new password for the account's user (after a reset).
    pub fn set_password(&self, account: AccountId, password_hash: String) {
        let mut g = self.inner.write();
        if let Some(name) = g.names.get(&account).cloned()
            && let Some(u) = g.users.get_mut(&name)
        {
            u.password_hash = password_hash;
        }
    }

    /// Records a broker's new customer account (from its released event).
    pub fn add_customer(&self, customer: AccountId, broker: AccountId) {
        let mut g = self.inner.write();
        if g.brokers.insert(customer, broker).is_none() {
            g.customers.entry(broker).or_default().push(customer);
        }
    }

    /// The broker whose customer `account` is.
    #[must_use]
    pub fn broker_of(&self, account: AccountId) -> Option<AccountId> {
        self.inner.read().brokers.get(&account).copied()
    }

    /// A broker's customer accounts, oldest first.
    #[must_use]
    pub fn customers_of(&self, broker: AccountId) -> Vec<AccountId> {
        self.inner
            .read()
            .customers
            .get(&broker)
            .cloned()
            .unwrap_or_default()
    }

    /// The username of an account's user.
    #[must_use]
    pub fn username_of(&self, account: AccountId) -> Option<String> {
        self.inner.read().names.get(&account).cloned()
    }

    pub fn add_session(&self, token: SecretHash, account: AccountId, expires_at: UnixNanos) {
        let mut g = self.inner.write();
        if g.sessions.len() >= g.sweep_at {
            let t = now();
            g.sessions.retain(|_, (_, e)| *e > t);
            g.sweep_at = (g.sessions.len() * 2).max(SESSION_SWEEP_MIN);
        }
        g.sessions.insert(token, (account, expires_at));
    }

    /// Forgets a session; returns what it was (to restore it if the log-out is refused).
    pub fn end_session(&self, token: &SecretHash) -> Option<(AccountId, UnixNanos)> {
        let was = self.inner.write().sessions.remove(token);
        if was.is_some() {
            self.ended.send_modify(|n| *n += 1);
        }
        was
    }

    pub fn add_key(&self, secret: SecretHash, key_id: u64, account: AccountId, scopes: Scopes) {
        let mut g = self.inner.write();
        g.keys.insert(secret, (key_id, account, scopes));
        g.key_ids.insert(key_id, secret);
    }

    /// Forgets an account's key; returns its secret digest and scopes (to restore it if the
    /// revocation is refused), `None` when the account has no such key.
    pub fn revoke_key(&self, account: AccountId, key_id: u64) -> Option<(SecretHash, Scopes)> {
        let removed = {
            let mut g = self.inner.write();
            let secret = g.key_ids.get(&key_id).copied()?;
            let (_, owner, scopes) = *g.keys.get(&secret)?;
            if owner != account {
                return None;
            }
            g.keys.remove(&secret);
            g.key_ids.remove(&key_id);
            (secret, scopes)
        };
        self.ended.send_modify(|n| *n += 1);
        Some(removed)
    }

    /// The caller a bearer token stands for at `now`, if any.
    #[must_use]
    pub fn authenticate(&self, token: &str, now: UnixNanos) -> Option<Principal> {
        let d = digest(token);
        if self.operator == Some(d) {
            return Some(Principal {
                account: None,
                role: Role::Operator,
                credential: Credential::Operator,
                scopes: Scopes::ALL,
            });
        }
        let g = self.inner.read();
        let role = |a: AccountId| g.roles.get(&a).copied().unwrap_or(Role::Trader);
        if let Some(&(account, expires)) = g.sessions.get(&d) {
            return (expires > now).then(|| Principal {
                account: Some(account),
                role: role(account),
                credential: Credential::Session(d),
                scopes: Scopes::ALL,
            });
        }
        g.keys.get(&d).map(|&(id, account, scopes)| Principal {
            account: Some(account),
            role: role(account),
            credential: Credential::ApiKey(id),
            scopes,
        })
    }

    /// Whether a credential that authenticated once still does at `now`.
    pub fn still_valid(&self, credential: &Credential, now: UnixNanos) -> Result<(), Ended> {
        let g = self.inner.read();
        match credential {
            Credential::Operator => Ok(()),
            Credential::Session(d) => match g.sessions.get(d) {
                Some(&(_, expires)) if expires > now => Ok(()),
                Some(_) => Err(Ended::SessionExpired),
                None => Err(Ended::SessionEnded),
            },
            Credential::ApiKey(id) => {
                if g.key_ids.contains_key(id) {
                    Ok(())
                } else {
                    Err(Ended::ApiKeyRevoked)
                }
            }
        }
    }

    /// When a session credential expires (`None` for keys and the operator token).
    #[must_use]
    pub fn expires_at(&self, credential: &Credential) -> Option<UnixNanos> {
        match credential {
            Credential::Session(d) => self.inner.read().sessions.get(d).map(|s| s.1),
            _ => None,
        }
    }

    /// Changes whenever a session ends or a key is revoked.
    #[must_use]
    pub fn endings(&self) -> watch::Receiver<u64> {
        self.ended.subscribe()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_hash_and_verify() {
        let pw = Passwords::new(1, 4).unwrap();
        let weak = pw.hash("password1".into(), "alice").await.unwrap_err();
        assert_eq!(weak.code, "INVALID_PASSWORD");
        let h = pw.hash("correct horse".into(), "alice").await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(!h.contains("correct horse"));
        assert!(
            pw.verify("correct horse".into(), Some(h.clone()))
                .await
                .unwrap()
        );
        assert!(
            !pw.verify("wrong horse!".into(), Some(h.clone()))
                .await
                .unwrap()
        );
        assert!(
            !pw.verify("correct horse".into(), Some("not a hash".into()))
                .await
                .unwrap()
        );
        assert!(
            !pw.verify("no user has this password".into(), None)
                .await
                .unwrap()
        );
        // Hashes made elsewhere (the argon2 crate's own PHC strings) check the same way.
        use argon2::PasswordHasher;
        let other = argon2::Argon2::default()
            .hash_password(b"made elsewhere")
            .unwrap()
            .to_string();
        assert!(
            pw.verify("made elsewhere".into(), Some(other.clone()))
                .await
                .unwrap()
        );
        assert!(
            !pw.verify("made elsewhera".into(), Some(other))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_full_password_queue_answers_overloaded_at_once() {
        let pw = std::sync::Arc::new(Passwords::new(1, 2).unwrap());
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let pw = pw.clone();
            tasks.push(tokio::spawn(async move {
                pw.verify("guess".into(), None).await.map_err(|e| e.code)
            }));
        }
        let mut busy = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(ok) => assert!(!ok),
                Err(code) => {
                    assert_eq!(code, "OVERLOADED");
                    busy += 1;
                }
            }
        }
        // One in a worker and two queued at most at any moment: most of a burst of 12 is
        // turned away rather than held.
        assert!(busy >= 6, "{busy} of 12 refused");
    }

    #[test]
    fn weak_passwords_are_refused() {
        for p in [
            "password",
            "12345678",
            "        ",
            "\0\0\0\0\0\0\0\0",
            "qwertyuiop",
            "alice1234",
            "hunter2hunter2",
            "short",
        ] {
            assert!(password_problem(p, "alice").is_some(), "{p:?} accepted");
        }
        for p in ["correct horse battery", "vQ7#rT!e9pLm", "demo-password"] {
            assert_eq!(password_problem(p, "alice"), None, "{p:?} refused");
        }
    }

    #[test]
    fn secrets_are_random_and_only_digests_are_kept() {
        let (a, da) = new_secret().unwrap();
        let (b, db) = new_secret().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_ne!(da, db);
        assert_eq!(digest(&a), da);
    }

    #[test]
    fn tokens_resolve_to_their_principal_until_they_expire_or_are_revoked() {
        let dir = Directory::new(DirectorySeed::default(), Some("op-token"));
        let acct = AccountId::new(7);
        dir.add_user(
            "alice",
            UserEntry {
                account: acct,
                role: Role::Trader,
                password_hash: String::new(),
            },
        );
        let (session, sd) = new_secret().unwrap();
        dir.add_session(sd, acct, UnixNanos::new(1_000));
        let (key, kd) = new_secret().unwrap();
        dir.add_key(kd, 3, acct, Scopes::READ);
        let at = |t| UnixNanos::new(t);
        let p = dir.authenticate(&session, at(999)).unwrap();
        assert_eq!((p.account, p.role), (Some(acct), Role::Trader));
        assert_eq!(dir.authenticate(&session, at(1_000)), None, "expired");
        let k = dir.authenticate(&key, at(5_000)).unwrap();
        assert_eq!(
            (k.credential, k.scopes),
            (Credential::ApiKey(3), Scopes::READ)
        );
        assert_eq!(dir.still_valid(&k.credential, at(0)), Ok(()));
        let endings = dir.endings();
        assert_eq!(
            dir.still_valid(&p.credential, at(1_000)),
            Err(Ended::SessionExpired)
        );
        assert_eq!(
            dir.authenticate("op-token", at(0)).unwrap().role,
            Role::Operator
        );
        assert_eq!(dir.authenticate("guess", at(0)), None);
        dir.revoke_key(AccountId::new(8), 3);
        assert!(dir.authenticate(&key, at(0)).is_some(), "not the owner");
        assert!(
            !endings.has_changed().unwrap(),
            "not the owner: nothing ended"
        );
        dir.revoke_key(acct, 3);
        assert!(endings.has_changed().unwrap());
        assert_eq!(dir.authenticate(&key, at(0)), None);
        assert_eq!(
            dir.still_valid(&k.credential, at(0)),
            Err(Ended::ApiKeyRevoked)
        );
        dir.end_session(&sd);
        assert_eq!(dir.authenticate(&session, at(0)), None);
        assert_eq!(
            dir.still_valid(&p.credential, at(0)),
            Err(Ended::SessionEnded)
        );
    }
}
