//! Settings: the embedded `config/default.toml`, then an optional file, then
//! `BOURSE__SECTION__KEY` environment variables, each over the one before.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use toml::{Table, Value};

/// The embedded defaults.
pub const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");
/// The embedded instrument list.
pub const INSTRUMENTS_TOML: &str = include_str!("../../../config/instruments.toml");
/// The embedded company data (sample data).
pub const COMPANIES_TOML: &str = include_str!("../../../config/companies.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub engine: EngineSection,
    pub journal: JournalSection,
    pub feed: FeedSection,
    pub fix: FixSection,
    pub ha: HaSection,
    pub log: LogSection,
    pub nats: NatsSection,
    pub edge: EdgeSection,
    pub notify: bourse_notify::NotifyConfig,
    pub calendar: bourse_calendar::CalendarConfig,
    pub funding: FundingSection,
}

/// Bank transfers (docs/FUNDING.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FundingSection {
    pub settle_after_secs: u64,
    pub instant_limit: String,
    pub sandbox: bool,
    pub check_ms: u64,
}

impl FundingSection {
    /// The API's settings from these (checked by [`Config::load`]).
    #[must_use]
    pub fn api(&self) -> bourse_api::funding::FundingConfig {
        bourse_api::funding::FundingConfig {
            settle_after: Duration::from_secs(self.settle_after_secs),
            instant_limit: self
                .instant_limit
                .parse()
                .unwrap_or(bourse_core::Cash::ZERO),
            sandbox: self.sandbox,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: String,
    pub tls_cert: String,
    pub tls_key: String,
    pub request_timeout_ms: u64,
    pub body_limit_bytes: usize,
    pub operator_token: String,
    pub workers: usize,
    pub session_ttl_secs: u64,
    pub rate_per_credential: f64,
    pub rate_per_ip: f64,
    pub password_workers: usize,
    pub password_queue: usize,
    pub data_key: String,
    pub data_key_file: PathBuf,
    /// The data key before `data_key`, during a rotation (see OPERATIONS.md).
    pub data_key_previous: String,
    /// Company profiles and financials (TOML); empty: the embedded sample data.
    pub companies: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSection {
    pub core: i64,
    pub wait: String,
    pub spin_us: u64,
    pub inbound_capacity: usize,
    pub max_batch: usize,
    pub snapshot_every: u64,
    pub instruments: String,
    pub maker_fee_bps: u32,
    pub taker_fee_bps: u32,
    pub market_collar_bps: u32,
    pub client_id_retention: u32,
    pub expected_working_orders: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalSection {
    pub backend: String,
    pub dir: PathBuf,
    pub segment_mb: u64,
    pub database_url: String,
    pub schema: String,
    pub max_batch_commands: usize,
    pub keep_snapshots: usize,
    pub history_orders_kept: usize,
    pub history_activities_kept: usize,
    pub history_events_kept: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedSection {
    pub max_connections: usize,
    pub max_subscriptions: usize,
    pub soft_queue_bytes: usize,
    pub hard_queue_bytes: usize,
    pub max_behind_secs: u64,
    pub heartbeat_secs: u64,
    pub ping_secs: u64,
    pub idle_timeout_secs: u64,
    pub trades_kept: usize,
    pub candles_kept: usize,
    pub private_window: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixSection {
    pub listen: String,
    pub comp_id: String,
    pub store_dir: PathBuf,
    pub cancel_on_disconnect: bool,
    pub session_queue: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HaSection {
    pub lease_ttl_ms: u64,
    pub renew_ms: u64,
    pub poll_ms: u64,
    pub holder: String,
    pub acquire_wait_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    pub level: String,
    pub format: String,
}

/// The market-data edge tier's NATS JetStream (empty `url`: off).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsSection {
    pub url: String,
    pub stream: String,
    pub subject_prefix: String,
    pub max_age_secs: u64,
    pub max_bytes: i64,
    pub snapshot_every_secs: u64,
    pub queue: usize,
}

/// `bourse edge`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeSection {
    pub listen: String,
    pub core_url: String,
    pub auth_cache_secs: u64,
}

/// Which journal the settings choose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    File { dir: PathBuf, segment_bytes: u64 },
    Postgres { url: String, schema: Option<String> },
}

impl Config {
    /// Defaults, then `file` if given, then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Config> {
        let vars: Vec<(String, String)> = std::env::vars().collect();
        Self::load_with(file, &vars)
    }

    /// As [`load`](Self::load), with the environment given.
    pub fn load_with(file: Option<&Path>, env: &[(String, String)]) -> Result<Config> {
        let mut table: Table = DEFAULT_TOML
            .parse()
            .context("embedded config/default.toml")?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading config file {}", path.display()))?;
            let over: Table = text
                .parse()
                .with_context(|| format!("parsing config file {}", path.display()))?;
            merge(&mut table, over);
        }
        for (k, v) in env {
            let Some(rest) = k.strip_prefix("BOURSE__") else {
                continue;
            };
            let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            set(&mut table, &path, v).with_context(|| format!("environment variable {k}"))?;
        }
        let cfg: Config = table.try_into_config()?;
        cfg.check()?;
        Ok(cfg)
    }

    fn check(&self) -> Result<()> {
        if !matches!(
            self.engine.wait.as_str(),
            "busy-spin" | "spin-then-yield" | "spin-then-park"
        ) {
            bail!(
                "engine.wait = {:?}: use busy-spin, spin-then-yield or spin-then-park",
                self.engine.wait
            );
        }
        for (k, v) in [
            (
                "server.rate_per_credential",
                self.server.rate_per_credential,
            ),
            ("server.rate_per_ip", self.server.rate_per_ip),
        ] {
            if !(v.is_finite() && v > 0.0) {
                bail!("{k} = {v}: give a positive number of requests per second");
            }
        }
        let f = &self.feed;
        if f.soft_queue_bytes == 0 || f.hard_queue_bytes <= f.soft_queue_bytes {
            bail!(
                "feed.hard_queue_bytes ({}) must exceed feed.soft_queue_bytes ({}) > 0",
                f.hard_queue_bytes,
                f.soft_queue_bytes
            );
        }
        for (k, v) in [
            ("feed.heartbeat_secs", f.heartbeat_secs),
            ("feed.ping_secs", f.ping_secs),
            ("feed.idle_timeout_secs", f.idle_timeout_secs),
            ("feed.max_behind_secs", f.max_behind_secs),
        ] {
            if v == 0 {
                bail!("{k} = 0: give at least one second");
            }
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            bail!("log.format = {:?}: use text or json", self.log.format);
        }
        self.backend()?;
        let n = &self.nats;
        let token_ok = |t: &str| {
            !t.is_empty()
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        if !token_ok(&n.stream) || !n.subject_prefix.split('.').all(token_ok) {
            bail!(
                "nats.stream ({:?}) and nats.subject_prefix ({:?}): letters, digits, _ and - \
                 (the prefix may have dot-separated parts)",
                n.stream,
                n.subject_prefix
            );
        }
        if n.queue == 0 || n.snapshot_every_secs == 0 {
            bail!("nats.queue and nats.snapshot_every_secs must be at least 1");
        }
        let instant: Option<bourse_core::Cash> = self.funding.instant_limit.parse().ok();
        if instant.is_none_or(|c| c.is_negative()) {
            bail!(
                "funding.instant_limit = {:?}: give a sum of dollars, 0 or more",
                self.funding.instant_limit
            );
        }
        if self.funding.check_ms == 0 {
            bail!("funding.check_ms = 0: give at least one millisecond");
        }
        if self.server.tls_cert.is_empty() != self.server.tls_key.is_empty() {
            bail!("server.tls_cert and server.tls_key go together: set both, or neither");
        }
        Ok(())
    }

    /// The certificate chain and key files, when TLS is on.
    #[must_use]
    pub fn tls(&self) -> Option<(PathBuf, PathBuf)> {
        (!self.server.tls_cert.is_empty()).then(|| {
            (
                PathBuf::from(&self.server.tls_cert),
                PathBuf::from(&self.server.tls_key),
            )
        })
    }

    /// The data key: `server.data_key`, else the key in `server.data_key_file` (made there
    /// on first start, readable by the owner only).
    pub fn vault(&self) -> Result<bourse_api::vault::Vault> {
        use bourse_api::vault::Vault;
        let current = self.current_vault()?;
        if self.server.data_key_previous.is_empty() {
            return Ok(current);
        }
        // A rotation: the current key again, with the previous one beside it.
        let key = if self.server.data_key.is_empty() {
            std::fs::read_to_string(&self.server.data_key_file)
                .context("reading server.data_key_file")?
        } else {
            self.server.data_key.clone()
        };
        let key = Vault::key_from_hex(&key).context("server.data_key")?;
        let previous = Vault::key_from_hex(&self.server.data_key_previous)
            .context("server.data_key_previous")?;
        Ok(Vault::rotated(&key, &previous))
    }

    fn current_vault(&self) -> Result<bourse_api::vault::Vault> {
        use std::io::Write as _;
        if !self.server.data_key.is_empty() {
            return bourse_api::vault::Vault::from_hex(&self.server.data_key)
                .context("server.data_key");
        }
        let path = &self.server.data_key_file;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut open = std::fs::OpenOptions::new();
        open.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
        match open.open(path) {
            Ok(mut f) => {
                let hex = bourse_api::vault::Vault::generate_hex()
                    .map_err(|e| anyhow::anyhow!("no randomness for a data key: {e}"))?;
                f.write_all(hex.as_bytes())
                    .and_then(|()| f.sync_all())
                    .with_context(|| format!("writing {}", path.display()))?;
                tracing::warn!(
                    file = %path.display(),
                    "made a new data key; a standby needs the same one (server.data_key)"
                );
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
        }
        // Another process may have just made it: read what is there (retrying a moment if
        // it is still being written).
        for _ in 0..50 {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            if text.trim().len() == 64 {
                return bourse_api::vault::Vault::from_hex(&text)
                    .with_context(|| format!("the data key in {}", path.display()));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        bail!(
            "{} does not hold a data key (64 hex characters)",
            path.display()
        )
    }

    /// The journal backend the settings choose.
    pub fn backend(&self) -> Result<Backend> {
        let j = &self.journal;
        let pg = || Backend::Postgres {
            url: j.database_url.clone(),
            schema: (!j.schema.is_empty()).then(|| j.schema.clone()),
        };
        let file = || Backend::File {
            dir: j.dir.clone(),
            segment_bytes: j.segment_mb.max(1) * 1024 * 1024,
        };
        Ok(match j.backend.as_str() {
            "auto" if j.database_url.is_empty() => file(),
            "auto" | "postgres" => {
                if j.database_url.is_empty() {
                    bail!("journal.backend = \"postgres\" needs journal.database_url");
                }
                pg()
            }
            "file" => file(),
            other => bail!("journal.backend = {other:?}: use file, postgres or auto"),
        })
    }
}

trait IntoConfig {
    fn try_into_config(self) -> Result<Config>;
}

impl IntoConfig for Table {
    fn try_into_config(self) -> Result<Config> {
        Value::Table(self)
            .try_into()
            .context("invalid settings (see config/default.toml for every key)")
    }
}

/// `over` wins, key by key, tables merged recursively.
fn merge(base: &mut Table, over: Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(Value::Table(b)), Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// Sets `path` to `raw`, typed like the default it replaces (so `BOURSE__ENGINE__CORE=1`
/// is a number and `BOURSE__SERVER__LISTEN=…` a string).
fn set(table: &mut Table, path: &[String], raw: &str) -> Result<()> {
    let (last, parents) = path.split_last().context("empty key")?;
    let mut t = table;
    for p in parents {
        t = match t.get_mut(p) {
            Some(Value::Table(inner)) => inner,
            _ => bail!("no settings section {p:?}"),
        };
    }
    let Some(old) = t.get(last) else {
        bail!("no setting {last:?} (see config/default.toml for every key)");
    };
    let new = match old {
        Value::String(_) => Value::String(raw.to_owned()),
        Value::Integer(_) => Value::Integer(
            raw.trim()
                .parse()
                .with_context(|| format!("{raw:?} is not an integer"))?,
        ),
        Value::Boolean(_) => Value::Boolean(
            raw.trim()
                .parse()
                .with_context(|| format!("{raw:?} is not true or false"))?,
        ),
        Value::Float(_) => Value::Float(
            raw.trim()
                .parse()
                .with_context(|| format!("{raw:?} is not a number"))?,
        ),
        _ => bail!("setting {last:?} cannot be set from the environment"),
    };
    t.insert(last.clone(), new);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn embedded_defaults_load_and_choose_the_file_journal() {
        let c = Config::load_with(None, &[]).unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:8080");
        assert!(matches!(c.backend().unwrap(), Backend::File { .. }));
    }

    #[test]
    fn environment_overrides_are_typed_like_the_default() {
        let c = Config::load_with(
            None,
            &env(&[
                ("BOURSE__ENGINE__CORE", "1"),
                ("BOURSE__SERVER__LISTEN", "0.0.0.0:9000"),
                ("BOURSE__JOURNAL__DATABASE_URL", "postgres://x@h/db"),
                ("UNRELATED", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(c.engine.core, 1);
        assert_eq!(c.server.listen, "0.0.0.0:9000");
        assert_eq!(
            c.backend().unwrap(),
            Backend::Postgres {
                url: "postgres://x@h/db".into(),
                schema: None
            }
        );
    }

    #[test]
    fn bad_settings_are_refused_with_the_key_named() {
        for (k, v, want) in [
            ("BOURSE__ENGINE__CORE", "one", "BOURSE__ENGINE__CORE"),
            ("BOURSE__ENGINE__NOPE", "1", "nope"),
            ("BOURSE__NOPE__X", "1", "nope"),
            ("BOURSE__ENGINE__WAIT", "sleepy", "engine.wait"),
            ("BOURSE__JOURNAL__BACKEND", "postgres", "database_url"),
        ] {
            let e = Config::load_with(None, &env(&[(k, v)])).unwrap_err();
            assert!(format!("{e:#}").contains(want), "{k}: {e:#}");
        }
    }

    #[test]
    fn a_file_overrides_defaults_and_the_environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "[server]\nlisten = \"127.0.0.1:1\"\nworkers = 3\n").unwrap();
        let c = Config::load_with(Some(&p), &env(&[("BOURSE__SERVER__WORKERS", "5")])).unwrap();
        assert_eq!(
            (c.server.listen.as_str(), c.server.workers),
            ("127.0.0.1:1", 5)
        );
        std::fs::write(&p, "[server]\nlisten = 5\n").unwrap();
        assert!(Config::load_with(Some(&p), &[]).is_err());
    }
}
