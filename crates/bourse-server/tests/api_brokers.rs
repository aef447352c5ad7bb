//! Brokers and their customers: the operator registers two brokers; each opens customer
//! accounts, funds them, trades for them (REST, WebSocket, FIX Account (1)) and reads their
//! orders, positions, activities and stream; gives one a login of its own. Every access to
//! another broker's customer — or by a trader, or by the customer to another account — is
//! `404 UNKNOWN_ACCOUNT` on every route, as if the account did not exist. Then the server
//! is killed and restarted and all of it still holds. On the file journal and PostgreSQL.
#![allow(clippy::unwrap_used)]

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::fix::{QuickFix, Session, er, fix_env, start};
use support::ws::{connect, recv, send};
use support::{Client, Http, Store, database_url, fresh_schema};

const PASSWORD: &str = "quiet-otter-lantern";

async fn call(h: &Http, m: Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    h.call(m, path, Some(token), body).await
}

async fn ok(h: &Http, m: Method, path: &str, token: &str, body: Option<Value>) -> Value {
    let (s, v) = call(h, m, path, token, body).await;
    assert!((200..300).contains(&s), "{path}: {s} {v}");
    v
}

async fn token(h: &Http, user: &str) -> String {
    let (s, v) = h.log_in(user, PASSWORD).await;
    assert_eq!(s, 201, "{v}");
    v["token"].as_str().unwrap().to_owned()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// Every route that names an account, naming `account` as `token`: all `404
/// UNKNOWN_ACCOUNT` (the broker routes `403 NOT_A_BROKER` to a caller that is no broker).
async fn all_refused(h: &Http, token: &str, account: &str, order: &str, broker: bool) {
    let q = format!("account_id={account}");
    let order_body = json!({"symbol": "AAPL", "side": "buy", "type": "limit", "qty": "1",
                            "limit_price": "180.00", "time_in_force": "gtc", "account_id": account});
    let tries: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/v1/accounts/{account}"), None),
        (
            Method::POST,
            format!("/v1/accounts/{account}/login"),
            Some(json!({"username": "sneaky-login", "password": PASSWORD})),
        ),
        (Method::GET, format!("/v1/account?{q}"), None),
        (Method::GET, format!("/v1/positions?{q}"), None),
        (Method::GET, format!("/v1/positions/AAPL?{q}"), None),
        (Method::GET, format!("/v1/portfolio?{q}"), None),
        (Method::GET, format!("/v1/activities?{q}"), None),
        (Method::GET, format!("/v1/events?{q}"), None),
        (Method::GET, format!("/v1/orders?{q}"), None),
        (Method::GET, format!("/v1/orders/{order}?{q}"), None),
        (
            Method::GET,
            format!("/v1/orders:by_client_order_id?client_order_id=c1&{q}"),
            None,
        ),
        (Method::POST, "/v1/orders".into(), Some(order_body)),
        (
            Method::PATCH,
            format!("/v1/orders/{order}"),
            Some(json!({"qty": "2", "account_id": account})),
        ),
        (Method::DELETE, format!("/v1/orders/{order}?{q}"), None),
        (Method::DELETE, format!("/v1/orders?{q}"), None),
        (
            Method::POST,
            "/v1/transfers".into(),
            Some(json!({"type": "withdraw", "amount": "1", "account_id": account})),
        ),
    ];
    for (m, path, body) in tries {
        let (s, v) = call(h, m.clone(), &path, token, body).await;
        let want = if path.starts_with("/v1/accounts/") && !broker {
            (403, Some("NOT_A_BROKER"))
        } else {
            (404, Some("UNKNOWN_ACCOUNT"))
        };
        assert_eq!((s, v["code"].as_str()), want, "{m} {path}: {v}");
    }
}

async fn scenario(store: Store) {
    let dir = tempfile::tempdir().unwrap();
    let env = fix_env(dir.path(), "127.0.0.1:0");
    let server = start(&store, &env);
    let fix_port = server.fix_port();
    let h = Http::new(&server.base);
    let op = Client::new(&server.base);
    let mut brokers = Vec::new();
    for name in ["acme", "globex"] {
        let (s, v) = op
            .post(
                "/v1/admin/brokers",
                json!({"username": name, "password": PASSWORD}),
            )
            .await
            .unwrap();
        assert_eq!(s, 201, "{v}");
        brokers.push((
            v["account_id"].as_str().unwrap().to_owned(),
            token(&h, name).await,
        ));
    }
    let [(acme, ta), (globex, tg)] = [brokers[0].clone(), brokers[1].clone()];
    let trader = h.register("plain-trader").await;
    let tt = token(&h, "plain-trader").await;
    // A trader opens no customer accounts, and nobody but the operator makes brokers.
    let (s, v) = call(&h, Method::POST, "/v1/accounts", &tt, None).await;
    assert_eq!((s, v["code"].as_str()), (403, Some("NOT_A_BROKER")), "{v}");
    let (s, _) = call(
        &h,
        Method::POST,
        "/v1/admin/brokers",
        &tt,
        Some(json!({"username": "wannabe", "password": PASSWORD})),
    )
    .await;
    assert_eq!(s, 403);

    let c1 = id(&ok(&h, Method::POST, "/v1/accounts", &ta, None).await);
    let c2 = id(&ok(&h, Method::POST, "/v1/accounts", &ta, None).await);
    let c3 = ok(&h, Method::POST, "/v1/accounts", &tg, None).await;
    assert_eq!(c3["broker_id"], json!(globex));
    let c3 = id(&c3);
    let list = ok(&h, Method::GET, "/v1/accounts?limit=1", &ta, None).await;
    assert_eq!(list["items"][0]["id"], json!(c1));
    let rest = ok(
        &h,
        Method::GET,
        &format!(
            "/v1/accounts?limit=1&after={}",
            list["next"].as_str().unwrap()
        ),
        &ta,
        None,
    )
    .await;
    assert_eq!(
        (rest["items"][0]["id"].as_str(), &rest["next"]),
        (Some(c2.as_str()), &Value::Null)
    );
    let theirs = ok(&h, Method::GET, "/v1/accounts", &tg, None).await;
    assert_eq!(theirs["items"].as_array().unwrap().len(), 1, "{theirs}");

    // Funding, and trading for them: C1 buys, C2 (given shares by the operator) sells.
    ok(
        &h,
        Method::POST,
        "/v1/transfers",
        &ta,
        Some(json!({"type": "deposit", "amount": "100000", "account_id": c1})),
    )
    .await;
    op.post(
        &format!("/v1/admin/accounts/{c2}/shares"),
        json!({"symbol": "AAPL", "qty": 50}),
    )
    .await
    .unwrap();
    let buy = ok(
        &h,
        Method::POST,
        "/v1/orders",
        &ta,
        Some(
            json!({"symbol": "AAPL", "side": "buy", "type": "limit", "qty": "10",
                             "limit_price": "190.00", "time_in_force": "gtc",
                             "client_order_id": "c1", "account_id": c1}),
        ),
    )
    .await;
    let buy_id = id(&buy);
    ok(
        &h,
        Method::POST,
        "/v1/orders",
        &ta,
        Some(
            json!({"symbol": "AAPL", "side": "sell", "type": "limit", "qty": "4",
                   "limit_price": "190.00", "time_in_force": "gtc", "account_id": c2}),
        ),
    )
    .await;
    let q = format!("account_id={c1}");
    let o = ok(
        &h,
        Method::GET,
        &format!("/v1/orders/{buy_id}?{q}"),
        &ta,
        None,
    )
    .await;
    assert_eq!(
        (o["status"].as_str(), o["filled_qty"].as_str()),
        (Some("partially_filled"), Some("4"))
    );
    let pos = ok(&h, Method::GET, &format!("/v1/positions?{q}"), &ta, None).await;
    assert!(pos.to_string().contains("\"qty\":\"4\""), "{pos}");
    let acts = ok(&h, Method::GET, &format!("/v1/activities?{q}"), &ta, None).await;
    assert!(
        acts.to_string().contains("FILL") && acts.to_string().contains("DEPOSIT"),
        "{acts}"
    );
    let evs = ok(&h, Method::GET, &format!("/v1/events?{q}"), &ta, None).await;
    assert!(evs["last_account_seq"].as_u64().unwrap() >= 4, "{evs}");
    let one = ok(&h, Method::GET, &format!("/v1/accounts/{c1}"), &ta, None).await;
    assert_eq!(one["account"]["account_id"], json!(c1), "{one}");

    // Over the WebSocket, naming the customer.
    let mut ws = connect(&server.base).await;
    send(&mut ws, json!({"op": "auth", "token": ta})).await;
    assert_eq!(recv(&mut ws).await["type"], "authenticated");
    send(
        &mut ws,
        json!({"op": "order", "id": 1, "symbol": "AAPL", "side": "buy", "type": "limit",
                         "qty": "1", "limit_price": "185.00", "time_in_force": "gtc",
                         "account_id": c1}),
    )
    .await;
    let v = recv(&mut ws).await;
    assert_eq!(
        (v["type"].as_str(), &v["report"]["account_id"]),
        (Some("execution_report"), &json!(c1)),
        "{v}"
    );
    send(
        &mut ws,
        json!({"op": "order", "id": 2, "symbol": "AAPL", "side": "buy", "type": "limit",
                         "qty": "1", "limit_price": "185.00", "time_in_force": "gtc",
                         "account_id": c3}),
    )
    .await;
    let v = recv(&mut ws).await;
    assert_eq!(
        (v["type"].as_str(), v["code"].as_str()),
        (Some("error"), Some("UNKNOWN_ACCOUNT")),
        "{v}"
    );
    drop(ws);

    // The broker follows its customer's private channels; not another broker's customer's.
    let mut follow = connect(&server.base).await;
    send(&mut follow, json!({"op": "auth", "token": ta})).await;
    recv(&mut follow).await;
    send(
        &mut follow,
        json!({"op": "subscribe", "id": 1, "channels": ["orders"], "account_id": c3}),
    )
    .await;
    let v = recv(&mut follow).await;
    assert_eq!(v["code"], "UNKNOWN_ACCOUNT", "{v}");
    send(
        &mut follow,
        json!({"op": "subscribe", "id": 2, "channels": ["orders"], "account_id": c1}),
    )
    .await;
    assert_eq!(recv(&mut follow).await["type"], "subscribed");

    // Over FIX: the broker's session trades for its customer with Account (1), and gets the
    // reports; another broker's customer is refused.
    let key = ok(
        &h,
        Method::POST,
        "/v1/api-keys",
        &ta,
        Some(json!({"label": "fix", "scopes": ["read", "trade"]})),
    )
    .await;
    let (kid, secret) = (id(&key), key["secret"].as_str().unwrap().to_owned());
    let mut qf = QuickFix::start(&Session {
        dir: dir.path(),
        port: fix_port,
        sender: "ACME",
        username: &kid,
        password: &secret,
        cancel_on_disconnect: None,
        heartbeat: 5,
    });
    qf.wait_line("LOGON", |l| l == "LOGON");
    qf.send(&format!(
        "35=D|11=F1|1={c1}|55=AAPL|54=1|38=2|40=2|44=186.00|59=1|60=now"
    ));
    let m = qf.expect("F1 accepted", er("F1", "0"));
    assert!(m.is(1, &c1), "{m:?}");
    let f1 = m.get(37).unwrap().to_owned();
    // A fill of that order caused by C2's sell reaches the broker's session too.
    ok(
        &h,
        Method::POST,
        "/v1/orders",
        &ta,
        Some(
            json!({"symbol": "AAPL", "side": "sell", "type": "limit", "qty": "8",
                   "limit_price": "186.00", "time_in_force": "ioc", "account_id": c2}),
        ),
    )
    .await;
    qf.expect("F1 filled", |m| er("F1", "F")(m) && m.is(39, "2"));
    loop {
        let v = recv(&mut follow).await;
        if v["order_id"] == json!(f1) && v["event"] == "fill" {
            assert_eq!(v["status"], "filled", "{v}");
            break;
        }
    }
    drop(follow);
    qf.send(&format!(
        "35=D|11=F2|1={c3}|55=AAPL|54=1|38=2|40=2|44=186.00|59=1|60=now"
    ));
    let m = qf.expect("F2 rejected", er("F2", "8"));
    assert!(m.get(58).unwrap().starts_with("UNKNOWN_ACCOUNT"), "{m:?}");
    qf.quit();

    // The customer's own login.
    let (s, v) = call(
        &h,
        Method::POST,
        &format!("/v1/accounts/{c1}/login"),
        &ta,
        Some(json!({"username": "cust-one", "password": PASSWORD})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = call(
        &h,
        Method::POST,
        &format!("/v1/accounts/{c1}/login"),
        &ta,
        Some(json!({"username": "cust-two", "password": PASSWORD})),
    )
    .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (409, Some("ACCOUNT_HAS_LOGIN")),
        "{v}"
    );
    let tc = token(&h, "cust-one").await;

    let check = |server_base: String, tc: String| {
        let (ta, tg, tt) = (ta.clone(), tg.clone(), tt.clone());
        let (c1, c2, c3, acme, globex, trader, buy_id) = (
            c1.clone(),
            c2.clone(),
            c3.clone(),
            acme.clone(),
            globex.clone(),
            trader.clone(),
            buy_id.clone(),
        );
        async move {
            let h = Http::new(&server_base);
            // Another broker, a trader, the customer itself: nothing of anyone else's.
            all_refused(&h, &tg, &c1, &buy_id, true).await;
            all_refused(&h, &ta, &c3, &buy_id, true).await;
            all_refused(&h, &ta, &globex, &buy_id, true).await;
            all_refused(&h, &ta, &trader, &buy_id, true).await;
            all_refused(&h, &tt, &c1, &buy_id, false).await;
            all_refused(&h, &tc, &c2, &buy_id, false).await;
            all_refused(&h, &tc, &acme, &buy_id, false).await;
            // The customer sees its own account, and is no broker.
            let mine = ok(&h, Method::GET, "/v1/orders?status=all", &tc, None).await;
            assert!(mine.to_string().contains(&buy_id), "{mine}");
            let me = ok(&h, Method::GET, "/v1/account", &tc, None).await;
            assert_eq!(me["account_id"], json!(c1));
            let (s, _) = call(&h, Method::GET, "/v1/accounts", &tc, None).await;
            assert_eq!(s, 403);
            // The broker still has its two customers.
            let list = ok(&h, Method::GET, "/v1/accounts", &ta, None).await;
            let ids: Vec<&str> = list["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["id"].as_str().unwrap())
                .collect();
            assert_eq!(ids, [c1.as_str(), c2.as_str()]);
            assert_eq!(list["items"][0]["username"], json!("cust-one"));
        }
    };
    check(server.base.clone(), tc.clone()).await;
    server.kill();
    let server = start(&store, &env);
    check(server.base.clone(), tc).await;
    drop(server);
    store.cleanup();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brokers_see_only_their_own_customers_file_journal() {
    let dir = tempfile::tempdir().unwrap();
    scenario(Store::File(dir.path().join("journal"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brokers_see_only_their_own_customers_postgres_journal() {
    scenario(Store::Postgres {
        url: database_url(),
        schema: fresh_schema("brokers"),
    })
    .await;
}
