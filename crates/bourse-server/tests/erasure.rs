//! Erasure over real HTTP against the real server, on both journals: a person signs up by
//! email (verified with the code a real SMTP exchange delivers), links a bank, opens a
//! support ticket, trades, then empties the account and erases their personal data
//! (`DELETE /v1/me`). Refused while the account holds anything; then the person cannot log
//! in, their address is free again, their ticket's texts no longer open, their key is gone
//! from the key store while the journal still holds what it sealed, and their orders,
//! fills and activities are still there for the operator — also after a restart.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method as M;
use serde_json::{Value, json};
use support::{Client, Http, Server, Store};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const EMAIL: &str = "carol.erasure@example.com";
const PASSWORD: &str = "quiet-otter-lantern";
const NUMBER: &str = "564738291056";

/// A minimal SMTP server keeping every message's data: enough for the notifier's plain
/// `smtp://` client (no TLS, no authentication).
async fn smtp_sink() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mail = Arc::new(Mutex::new(Vec::new()));
    let kept = mail.clone();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let kept = kept.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                w.write_all(b"220 sink ESMTP\r\n").await.ok();
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let answer: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 sink\r\n",
                        "DATA" => {
                            w.write_all(b"354 end with .\r\n").await.ok();
                            let mut data = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                data.push_str(&l);
                                data.push('\n');
                            }
                            kept.lock().unwrap().push(data);
                            b"250 queued\r\n"
                        }
                        "QUIT" => {
                            w.write_all(b"221 bye\r\n").await.ok();
                            return;
                        }
                        _ => b"250 ok\r\n",
                    };
                    w.write_all(answer).await.ok();
                }
            });
        }
    });
    (port, mail)
}

/// The six digits after "code" in the first message to `to`.
async fn code_for(mail: &Mutex<Vec<String>>, to: &str) -> String {
    let start = Instant::now();
    loop {
        let found = mail.lock().unwrap().iter().find_map(|m| {
            if !m.contains(to) {
                return None;
            }
            // Quoted-printable soft breaks joined; the code follows the word "code".
            let text = m.replace("=\n", "");
            let at = text.find(" is ")?;
            let digits: String = text[at + 4..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            (digits.len() == 6).then_some(digits)
        });
        if let Some(c) = found {
            return c;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no code mailed to {to}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn limit(h: &Http, tok: &str, side: &str) -> Value {
    let (s, v) = h
        .call(
            M::POST,
            "/v1/orders",
            Some(tok),
            Some(
                json!({"symbol": "AAPL", "side": side, "type": "limit", "qty": "1",
                "limit_price": "190.00", "time_in_force": "gtc"}),
            ),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    v
}

/// The person keys the store holds now (hex ids).
fn stored_keys(store: &Store) -> Vec<String> {
    match store {
        Store::Postgres { url, schema } => {
            let out = std::process::Command::new("psql")
                .args([
                    url.as_str(),
                    "-At",
                    "-c",
                    &format!("SELECT encode(key_id, 'hex') FROM {schema}.person_keys ORDER BY 1"),
                ])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect()
        }
        Store::File(dir) => {
            let text = std::fs::read_to_string(dir.join("person_keys.json")).unwrap();
            let v: Value = serde_json::from_str(&text).unwrap();
            v.as_array()
                .unwrap()
                .iter()
                .map(|k| k["id"].as_str().unwrap().to_owned())
                .collect()
        }
    }
}

/// Whether the journal's store still holds bytes sealed with key `id` (its id follows the
/// sealed-value marker).
fn journal_holds_key(store: &Store, id: &str) -> bool {
    let marker = format!("b501{id}");
    match store {
        Store::Postgres { url, schema } => {
            let out = std::process::Command::new("pg_dump")
                .args([
                    "--data-only",
                    "--schema",
                    schema,
                    "--table",
                    &format!("{schema}.journal"),
                    url,
                ])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).contains(&marker)
        }
        Store::File(dir) => {
            let mut bytes = Vec::new();
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "seg" || x == "log") {
                    bytes.extend(std::fs::read(&p).unwrap());
                }
            }
            let raw: Vec<u8> = (0..marker.len() / 2)
                .map(|i| u8::from_str_radix(&marker[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            bytes.windows(raw.len()).any(|w| w == raw.as_slice())
        }
    }
}

fn flow(store: &Store) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (port, mail) = rt.block_on(smtp_sink());
    let smtp = format!("smtp://127.0.0.1:{port}");
    let extra = [("BOURSE__NOTIFY__SMTP_URL", smtp.as_str())];
    let server = Server::start(store, &extra);
    let carol = rt.block_on(async {
        let h = Http::new(&server.base);
        let op = Client::new(&server.base);
        let carol = h.sign_up_by("email", EMAIL, PASSWORD).await;
        let code = code_for(&mail, EMAIL).await;
        let (s, v) = h
            .call(
                M::POST,
                "/v1/users/verify",
                None,
                Some(json!({"email": EMAIL, "code": code})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let tok = h.log_in_by("email", EMAIL, PASSWORD).await;
        // A bank, a ticket, a trade each way.
        let (s, v) = h
            .call(
                M::POST,
                "/v1/banks",
                Some(&tok),
                Some(
                    json!({"holder_name": "Carol Erasure", "account_number": NUMBER,
                    "routing_number": "021000021"}),
                ),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let (s, v) = h
            .call(
                M::POST,
                "/v1/support/tickets",
                Some(&tok),
                Some(json!({"subject": "My account", "body": "Please call me at home."})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let ticket = v["id"].as_str().unwrap().to_owned();
        let (bob, bob_tok) = h.session("bob").await;
        op.fund(&bob, "1000", &[("AAPL", 10)]).await;
        op.fund(&carol, "1000", &[]).await;
        limit(&h, &bob_tok, "sell").await;
        let bought = limit(&h, &tok, "buy").await;
        let bought = support::order_settled(&h, &tok, bought["id"].as_str().unwrap()).await;
        assert_eq!(bought["status"], "filled", "{bought}");
        // Not while the account holds anything.
        let (s, v) = h.call(M::DELETE, "/v1/me", Some(&tok), None).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (422, Some("ACCOUNT_NOT_EMPTY")),
            "{v}"
        );
        limit(&h, &bob_tok, "buy").await;
        let sold = limit(&h, &tok, "sell").await;
        let sold = support::order_settled(&h, &tok, sold["id"].as_str().unwrap()).await;
        assert_eq!(sold["status"], "filled", "{sold}");
        let (s, v) = h
            .call(
                M::POST,
                "/v1/transfers",
                Some(&tok),
                Some(json!({"type": "withdraw", "amount": "1000"})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        // An API key cannot erase; the person's session can.
        let (s, v) = h
            .call(
                M::POST,
                "/v1/api-keys",
                Some(&tok),
                Some(json!({"label": "bot"})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let key = v["secret"].as_str().unwrap().to_owned();
        let (s, _) = h.call(M::DELETE, "/v1/me", Some(&key), None).await;
        assert_eq!(s, 403);
        let keys_before = stored_keys(store);
        let (s, v) = h.call(M::DELETE, "/v1/me", Some(&tok), None).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["keys_deleted"], 1, "{v}");
        let gone: Vec<String> = keys_before
            .iter()
            .filter(|k| !stored_keys(store).contains(k))
            .cloned()
            .collect();
        assert_eq!(gone.len(), 1, "{keys_before:?}");
        // The journal still holds what the key sealed; nobody can read it now.
        assert!(
            journal_holds_key(store, &gone[0]),
            "nothing was sealed with the person's key"
        );
        // The session and the key are dead; the address and password log in no more.
        let (s, _) = h.call(M::GET, "/v1/account", Some(&tok), None).await;
        assert_eq!(s, 401);
        let (s, _) = h.call(M::GET, "/v1/account", Some(&key), None).await;
        assert_eq!(s, 401);
        let (s, _) = h
            .call(
                M::POST,
                "/v1/sessions",
                None,
                Some(json!({"email": EMAIL, "password": PASSWORD})),
            )
            .await;
        assert_eq!(s, 401);
        // The operator still sees the orders and fills, by account number; the ticket's
        // texts no longer open.
        let (s, v) = op
            .get(&format!("/v1/orders?status=all&account_id={carol}"))
            .await
            .unwrap();
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["items"].as_array().map(Vec::len), Some(2), "{v}");
        let (_, v) = op
            .get(&format!("/v1/admin/support/tickets/{ticket}"))
            .await
            .unwrap();
        assert!(!v.to_string().contains("call me at home"), "{v}");
        let (_, v) = op
            .get(&format!(
                "/v1/admin/audit?kind=personal_data_erased&account={carol}"
            ))
            .await
            .unwrap();
        assert_eq!(v["entries"].as_array().map(Vec::len), Some(1), "{v}");
        // The address is free for someone new.
        h.sign_up_by("email", EMAIL, PASSWORD).await;
        carol
    });
    server.stop();
    let server = Server::start(store, &extra);
    rt.block_on(async {
        let op = Client::new(&server.base);
        let (_, v) = op
            .get(&format!("/v1/activities?account_id={carol}"))
            .await
            .unwrap();
        let kinds: Vec<&str> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["activity_type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["WITHDRAWAL", "FILL", "FILL", "DEPOSIT"], "{v}");
        let (_, v) = op
            .get(&format!("/v1/admin/support/tickets/{}", 1))
            .await
            .unwrap();
        assert!(!v.to_string().contains("call me at home"), "{v}");
    });
    server.stop();
    store.cleanup();
}

#[test]
fn erasure_file_journal() {
    let dir = tempfile::tempdir().unwrap();
    flow(&Store::File(dir.path().join("journal")));
}

#[test]
fn erasure_postgres_journal() {
    flow(&Store::Postgres {
        url: support::database_url(),
        schema: support::fresh_schema("erasure"),
    });
}
