//! `bourse admin …`: the operator's controls from the command line, through the running
//! server's admin API (so they are journaled and answered like any command).

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use serde_json::Value;

use crate::Config;
use bourse_loadgen::http::{Http1, parse_url};

/// `bourse admin`.
#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    /// The running exchange.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// The operator token (default: `server.operator_token` from the settings).
    #[arg(long, env = "BOURSE_OPERATOR_TOKEN")]
    pub operator_token: Option<String>,
    #[command(subcommand)]
    pub cmd: AdminCmd,
}

/// What to do.
#[derive(Debug, Clone, Subcommand)]
pub enum AdminCmd {
    /// Write a snapshot now.
    Snapshot,
    /// Halt trading in a symbol (new orders are refused; resting ones stay).
    Halt { symbol: String },
    /// Resume trading in a symbol.
    Resume { symbol: String },
    /// End the trading day: DAY orders expire, the day's statistics roll over.
    EndOfDay,
    /// The server's health.
    Health,
}

/// Runs `bourse admin`; prints the server's JSON answer.
pub fn run(cfg: &Config, a: &AdminArgs) -> Result<()> {
    let token = a.operator_token.clone().or_else(|| {
        (!cfg.server.operator_token.is_empty()).then(|| cfg.server.operator_token.clone())
    });
    let addr = parse_url(&a.url)?;
    let (method, path) = match &a.cmd {
        AdminCmd::Snapshot => ("POST", "/v1/admin/snapshot".to_owned()),
        AdminCmd::Halt { symbol } => ("POST", format!("/v1/admin/symbols/{symbol}/halt")),
        AdminCmd::Resume { symbol } => ("POST", format!("/v1/admin/symbols/{symbol}/resume")),
        AdminCmd::EndOfDay => ("POST", "/v1/admin/end-of-day".to_owned()),
        AdminCmd::Health => ("GET", "/healthz".to_owned()),
    };
    if method == "POST" && token.is_none() {
        bail!(
            "no operator token: pass --operator-token, set BOURSE_OPERATOR_TOKEN, or set server.operator_token"
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (status, body) = rt.block_on(async {
        let mut h = Http1::connect(&addr)
            .await
            .with_context(|| format!("connecting to {}", a.url))?;
        let body = (method == "POST").then_some("{}");
        let r = h.call(method, &path, token.as_deref(), body).await?;
        Ok::<_, anyhow::Error>((r.status, r.body))
    })?;
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    println!("{}", serde_json::to_string_pretty(&v)?);
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(anyhow!("{method} {path}: HTTP {status}"))
    }
}
