//! The bench's traders: users signed up, given an API key and funded through the public
//! and operator routes, and their authenticated WebSocket order-entry connections.

use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use crate::http::{Http1, call_ok};

/// Cash per bench account, dollars.
const CASH: &str = "1000000000";
/// Shares of each symbol per bench account.
const SHARES: u64 = 10_000_000;

async fn setup_account(
    addr: String,
    operator: String,
    run: Arc<str>,
    i: usize,
    symbols: Arc<[String]>,
    webhook: Option<Arc<str>>,
) -> Result<Trader> {
    let mut h = Http1::connect(&addr).await?;
    let username = format!("bench-{run}-{i}");
    let password = format!("bench-password-{run}");
    let creds = json!({"username": username, "password": password});
    let v = call_ok(&mut h, "POST", "/v1/users", None, &creds).await?;
    let id = v["account_id"]
        .as_str()
        .ok_or_else(|| anyhow!("sign-up answered without an account id: {v}"))?
        .to_owned();
    let v = call_ok(&mut h, "POST", "/v1/sessions", None, &creds).await?;
    let session = v["token"]
        .as_str()
        .ok_or_else(|| anyhow!("log-in answered without a token: {v}"))?
        .to_owned();
    if let Some(url) = &webhook {
        call_ok(
            &mut h,
            "POST",
            "/v1/webhooks",
            Some(&session),
            &json!({"url": &**url, "events": ["*"]}),
        )
        .await
        .context("registering the bench webhook (allow loopback http on the server)")?;
    }
    let v = call_ok(
        &mut h,
        "POST",
        "/v1/api-keys",
        Some(&session),
        &json!({"label": "bourse bench", "scopes": ["read", "trade"]}),
    )
    .await?;
    let key = Trader {
        secret: v["secret"]
            .as_str()
            .ok_or_else(|| anyhow!("the API key answer has no secret: {v}"))?
            .to_owned(),
        key_id: v["id"]
            .as_str()
            .ok_or_else(|| anyhow!("the API key answer has no id: {v}"))?
            .to_owned(),
    };
    let op = Some(operator.as_str());
    call_ok(
        &mut h,
        "POST",
        &format!("/v1/admin/accounts/{id}/deposits"),
        op,
        &json!({"amount": CASH}),
    )
    .await
    .context("funding a bench account (is --operator-token right?)")?;
    for s in symbols.iter() {
        call_ok(
            &mut h,
            "POST",
            &format!("/v1/admin/accounts/{id}/shares"),
            op,
            &json!({"symbol": s, "qty": SHARES}),
        )
        .await?;
    }
    Ok(key)
}

/// A bench trader's API key: its id (FIX Username) and secret (bearer token, FIX Password).
#[derive(Debug, Clone)]
pub struct Trader {
    pub key_id: String,
    pub secret: String,
}

/// Signs up and funds `n` traders with shares of `symbols`; returns their API keys.
pub async fn setup_accounts(
    addr: &str,
    operator: &str,
    run: &Arc<str>,
    n: usize,
    symbols: &[String],
    webhook: Option<&str>,
) -> Result<Vec<Trader>> {
    let webhook: Option<Arc<str>> = webhook.map(Into::into);
    let symbols: Arc<[String]> = symbols.to_vec().into();
    let tasks: Vec<JoinHandle<Result<Trader>>> = (0..n)
        .map(|i| {
            tokio::spawn(setup_account(
                addr.to_owned(),
                operator.to_owned(),
                run.clone(),
                i,
                symbols.clone(),
                webhook.clone(),
            ))
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.context("a setup task failed")??);
    }
    Ok(out)
}

/// A WebSocket to the exchange.
pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// An order-entry WebSocket (`/v1/ws`) authenticated with the API key `key`.
pub async fn ws_connect(addr: &str, key: &str) -> Result<Ws> {
    let url = format!("ws://{addr}/v1/ws");
    // tungstenite zero-fills its whole read buffer before every read (128 KiB by default):
    // a smaller one costs less per read and still holds dozens of reports.
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(32 * 1024);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(&url, Some(config), true)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    let auth = json!({"op": "auth", "token": key}).to_string();
    ws.send(Message::text(auth)).await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(t.as_str())?;
                match v["type"].as_str() {
                    Some("authenticated") => return Ok(ws),
                    Some("error") => bail!("WebSocket auth refused: {v}"),
                    _ => {}
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => bail!("the server closed the WebSocket during auth"),
        }
    }
}

/// A short id for this run's usernames, client order ids and schema.
pub fn run_id() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let h = blake3::hash(format!("{t}-{}", std::process::id()).as_bytes());
    h.to_hex()[..10].to_owned()
}
