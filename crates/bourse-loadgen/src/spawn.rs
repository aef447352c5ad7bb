//! `--spawn`: `bourse serve` as a child process, on a throwaway journal (a temporary
//! directory, or a fresh PostgreSQL schema) with the rate limits lifted, stopped cleanly
//! afterwards.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use clap::Args;
use serde_json::{Value, json};

/// What `--spawn` needs from the `bourse` binary, so this crate never sees the server's
/// internals: the program that serves, and how a PostgreSQL journal schema is dropped.
/// `--spawn` and the settings that go with it, shared by the load generators.
#[derive(Debug, Clone, Args)]
pub struct SpawnArgs {
    /// Start `bourse serve` as a child (file journal in a temporary directory, or PostgreSQL
    /// with --database-url) and stop it afterwards.
    #[arg(long)]
    pub spawn: bool,
    /// With --spawn: journal in PostgreSQL, in a fresh schema dropped afterwards.
    #[arg(long, requires = "spawn")]
    pub database_url: Option<String>,
    /// With --spawn: extra settings for the server, e.g. BOURSE__ENGINE__CORE=1 (repeatable).
    #[arg(long = "server-env", value_name = "KEY=VALUE", requires = "spawn")]
    pub server_env: Vec<String>,
}

impl SpawnArgs {
    /// The server `--spawn` asks for, if it does. `defaults` are settings the bench needs,
    /// placed before the user's `--server-env` so that those still win.
    pub(crate) fn start(
        &self,
        defaults: &[String],
        run: &str,
        hooks: &Hooks,
    ) -> Result<Option<Spawned>> {
        if !self.spawn {
            return Ok(None);
        }
        let env: Vec<String> = defaults.iter().chain(&self.server_env).cloned().collect();
        Spawned::start(self.database_url.as_deref(), &env, run, hooks).map(Some)
    }
}

#[derive(Debug, Clone)]
pub struct Hooks {
    /// The `bourse` binary; `bourse serve` is started from it.
    pub exe: PathBuf,
    /// Drops the journal schema `schema` of the database at `url` (the server has stopped).
    pub drop_pg_schema: fn(url: &str, schema: &str) -> Result<()>,
}

/// `bourse serve` as a child process.
pub(crate) struct Spawned {
    child: Child,
    addr: String,
    /// The FIX acceptor's address, when the server was asked to listen for FIX.
    fix_addr: Option<String>,
    token: String,
    journal: String,
    pg: Option<(String, String)>,
    drop_pg_schema: fn(&str, &str) -> Result<()>,
    _dir: Option<tempfile::TempDir>,
    out: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Spawned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spawned")
            .field("addr", &self.addr)
            .field("journal", &self.journal)
            .finish_non_exhaustive()
    }
}

impl Spawned {
    pub(crate) fn start(
        database_url: Option<&str>,
        server_env: &[String],
        run: &str,
        hooks: &Hooks,
    ) -> Result<Spawned> {
        let token = blake3::hash(format!("{run}-{:?}", Instant::now()).as_bytes())
            .to_hex()
            .to_string();
        let mut cmd = std::process::Command::new(&hooks.exe);
        cmd.arg("serve")
            .env("BOURSE__SERVER__LISTEN", "127.0.0.1:0")
            .env("BOURSE__SERVER__OPERATOR_TOKEN", &token)
            // The bench measures the exchange, not its rate limits.
            .env("BOURSE__SERVER__RATE_PER_CREDENTIAL", "1000000000")
            .env("BOURSE__SERVER__RATE_PER_IP", "1000000")
            .env("BOURSE__LOG__LEVEL", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let (dir, pg, journal) = match database_url {
            Some(url) => {
                let schema = format!("bench_{run}");
                cmd.env("BOURSE__JOURNAL__BACKEND", "postgres")
                    .env("BOURSE__JOURNAL__DATABASE_URL", url)
                    .env("BOURSE__JOURNAL__SCHEMA", &schema);
                let journal = format!("postgres (schema {schema})");
                (None, Some((url.to_owned(), schema)), journal)
            }
            None => {
                let dir = tempfile::tempdir().context("creating a temporary journal directory")?;
                let path = dir.path().join("journal");
                cmd.env("BOURSE__JOURNAL__BACKEND", "file")
                    .env("BOURSE__JOURNAL__DIR", &path);
                (Some(dir), None, format!("file ({})", path.display()))
            }
        };
        for kv in server_env {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| anyhow!("--server-env {kv:?}: use KEY=VALUE"))?;
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {} serve", hooks.exe.display()))?;
        let stdout = child.stdout.take().context("the server's stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        let out = std::thread::spawn(move || {
            let mut first = true;
            for l in BufReader::new(stdout).lines().map_while(Result::ok) {
                // The listening lines (HTTP, then FIX when it listens) go to the start-up.
                if first || l.starts_with("bourse fix listening on ") {
                    first = false;
                    let _ = tx.send(l);
                } else {
                    eprintln!("[server] {l}");
                }
            }
        });
        let mut s = Spawned {
            child,
            addr: String::new(),
            fix_addr: None,
            token,
            journal,
            pg,
            drop_pg_schema: hooks.drop_pg_schema,
            _dir: dir,
            out: Some(out),
        };
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .map_err(|_| anyhow!("the spawned server printed no listening line"))?;
        // "bourse listening on http://ADDR (journal …)"
        s.addr = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .ok_or_else(|| anyhow!("unexpected first line from the server: {line:?}"))?
            .to_owned();
        eprintln!("bench: spawned {line}");
        if server_env
            .iter()
            .any(|kv| kv.starts_with("BOURSE__FIX__LISTEN="))
        {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .map_err(|_| anyhow!("the spawned server printed no FIX listening line"))?;
            s.fix_addr = line.split_whitespace().nth(4).map(str::to_owned);
        }
        Ok(s)
    }

    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    pub(crate) fn fix_addr(&self) -> Option<&str> {
        self.fix_addr.as_deref()
    }

    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    /// Which journal it writes, for the report.
    pub(crate) fn journal(&self) -> &str {
        &self.journal
    }

    /// SIGTERM, a clean shutdown (it prints its final seq), then the schema goes.
    pub(crate) fn stop(mut self) -> Result<Value> {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(st) = self.child.try_wait()? {
                break Some(st);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if let Some(out) = self.out.take() {
            let _ = out.join();
        }
        let mut dropped = Value::Null;
        if let Some((url, schema)) = self.pg.take() {
            (self.drop_pg_schema)(&url, &schema)
                .with_context(|| format!("dropping the bench schema {schema}"))?;
            dropped = json!(schema);
        }
        Ok(json!({
            "journal": self.journal,
            "clean_exit": status.is_some_and(|s| s.success()),
            "schema_dropped": dropped,
        }))
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
