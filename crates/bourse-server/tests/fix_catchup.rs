//! A FIX session that was away gets, at its next logon, the ExecutionReports of everything
//! that happened to its account's orders meanwhile — fills, a full fill, a cancel, a
//! replace, an order entered over REST — in order and with the figures a live session got.
//! Two QuickFIX sessions of one account: STEADY stays logged on, AWAY logs out, misses a
//! flow, and logs on again; the server is killed and restarted while AWAY is away the
//! second time (STEADY's QuickFIX reconnects by itself and catches up too). At the end both
//! sessions' ExecutionReports are the same, message by message (order, exec and status
//! fields, quantities and prices, ExecIDs). On the file journal and on PostgreSQL.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::{Value, json};
use support::fix::{Fix, QuickFix, Session, broker, er, fix_env, rest_order, start};
use support::{Client, Http, Store, database_url, fresh_schema};

/// The fields compared between the two sessions' reports.
const COMPARED: [u32; 15] = [37, 11, 150, 39, 14, 151, 6, 32, 31, 17, 38, 44, 54, 55, 1];

/// The ExecutionReports among what the sessions printed, as the compared fields.
fn reports(seen: &[String]) -> Vec<Vec<(u32, String)>> {
    seen.iter()
        .filter_map(|l| l.strip_prefix("IN "))
        .map(|m| Fix::parse(m, '|'))
        .filter(|m| m.msg_type() == "8")
        .map(|m| {
            COMPARED
                .iter()
                .filter_map(|&t| m.get(t).map(|v| (t, v.to_owned())))
                .collect()
        })
        .collect()
}

async fn call(
    h: &Http,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Value {
    let (s, v) = h.call(method, path, Some(token), body).await;
    assert!((200..300).contains(&s), "{path}: {s} {v}");
    v
}

/// An order of the account over REST, with a client order id.
async fn own_order(h: &Http, token: &str, cl: &str, side: &str, price: &str, qty: u64) -> Value {
    call(
        h,
        reqwest::Method::POST,
        "/v1/orders",
        token,
        Some(
            json!({"symbol": "AAPL", "side": side, "type": "limit", "qty": qty.to_string(),
                    "limit_price": price, "time_in_force": "gtc", "client_order_id": cl}),
        ),
    )
    .await
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn missed_reports_arrive_at_logon(store: Store) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let env = fix_env(dir.path(), &format!("127.0.0.1:{port}"));
    let server = start(&store, &env);
    let op = Client::new(&server.base);
    let maker = op.setup_accounts(1, &["AAPL"]).await.remove(0);
    let b = broker(&server, &op, "awaybroker").await;
    let h = Http::new(&server.base);
    let second = call(
        &h,
        reqwest::Method::POST,
        "/v1/api-keys",
        &b.token,
        Some(json!({"label": "steady", "scopes": ["read", "trade"]})),
    )
    .await;
    let (key2, secret2) = (
        second["id"].as_str().unwrap().to_owned(),
        second["secret"].as_str().unwrap().to_owned(),
    );
    let session = |sender, username, password| Session {
        dir: dir.path(),
        port,
        sender,
        username,
        password,
        cancel_on_disconnect: None,
        heartbeat: 1,
    };
    let steady_session = session("STEADY", &key2, &secret2);
    let away_session = session("AWAY", &b.key_id, &b.secret);
    let mut steady = QuickFix::start(&steady_session);
    steady.wait_line("LOGON", |l| l == "LOGON");
    let mut away = QuickFix::start(&away_session);
    away.wait_line("LOGON", |l| l == "LOGON");
    away.send("35=D|11=A1|55=AAPL|54=1|38=10|40=2|44=189.50|59=1|60=now");
    away.send("35=D|11=A2|55=AAPL|54=1|38=5|40=2|44=189.40|59=1|60=now");
    away.send("35=D|11=A3|55=AAPL|54=2|38=4|40=2|44=195.00|59=1|60=now");
    let mut ids = std::collections::HashMap::new();
    for cl in ["A1", "A2", "A3"] {
        let m = away.expect(cl, er(cl, "0"));
        ids.insert(cl, m.get(37).unwrap().to_owned());
        steady.expect(cl, er(cl, "0"));
    }
    let mut away_seen: Vec<String> = away.seen.drain(..).collect();
    away.quit();

    // While AWAY is away: A1 filled in two parts (and so ended), A2 canceled, A3 replaced,
    // a REST order R1 accepted and partly filled.
    rest_order(&op, &maker, "sell", "189.50", 6).await;
    rest_order(&op, &maker, "sell", "189.50", 4).await;
    call(
        &h,
        reqwest::Method::DELETE,
        &format!("/v1/orders/{}", ids["A2"]),
        &b.token,
        None,
    )
    .await;
    call(
        &h,
        reqwest::Method::PATCH,
        &format!("/v1/orders/{}", ids["A3"]),
        &b.token,
        Some(json!({"qty": "2", "limit_price": "194.00"})),
    )
    .await;
    own_order(&h, &b.token, "R1", "buy", "189.45", 3).await;
    rest_order(&op, &maker, "sell", "189.45", 1).await;
    steady.expect("R1 partly filled", er("R1", "F"));

    let mut away = QuickFix::start(&away_session);
    away.wait_line("LOGON", |l| l == "LOGON");
    let m = away.expect("R1 partly filled", er("R1", "F"));
    assert!(m.is(39, "1") && m.is(14, "1") && m.is(151, "2"), "{m:?}");
    away_seen.append(&mut away.seen);
    let a1 = reports(&away_seen)
        .into_iter()
        .filter(|r| r.contains(&(11, "A1".to_owned())))
        .collect::<Vec<_>>();
    assert_eq!(a1.len(), 3, "accepted, then two fills: {a1:?}");
    assert!(a1[1].contains(&(14, "6".into())) && a1[1].contains(&(151, "4".into())));
    assert!(a1[2].contains(&(39, "2".into())) && a1[2].contains(&(6, "189.50".into())));
    assert_eq!(
        reports(&away_seen),
        reports(&steady.seen),
        "after one absence"
    );
    away.quit();

    // Away again, and the server is killed meanwhile.
    rest_order(&op, &maker, "buy", "194.00", 2).await;
    steady.expect("A3 filled", er("A3", "F"));
    drop(server);
    let server = start(&store, &env);
    steady.wait_line("LOGON again", |l| l == "LOGON");
    let op = Client::new(&server.base);
    rest_order(&op, &maker, "sell", "189.45", 2).await;
    steady.expect("R1 filled", |m| er("R1", "F")(m) && m.is(39, "2"));
    let mut away = QuickFix::start(&away_session);
    away.wait_line("LOGON", |l| l == "LOGON");
    away.expect("R1 filled", |m| er("R1", "F")(m) && m.is(39, "2"));
    away_seen.append(&mut away.seen);
    let theirs = reports(&steady.seen);
    assert!(theirs.len() >= 11, "{theirs:?}");
    assert_eq!(
        reports(&away_seen),
        theirs,
        "after an absence across a restart"
    );
    away.quit();
    steady.quit();
    drop(server);
    store.cleanup();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fix_reports_missed_while_away_arrive_at_logon_file_journal() {
    let dir = tempfile::tempdir().unwrap();
    missed_reports_arrive_at_logon(Store::File(dir.path().join("journal"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fix_reports_missed_while_away_arrive_at_logon_postgres_journal() {
    missed_reports_arrive_at_logon(Store::Postgres {
        url: database_url(),
        schema: fresh_schema("fix_catchup"),
    })
    .await;
}
