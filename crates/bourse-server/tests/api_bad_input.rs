//! Bad input over real HTTP against the real server: malformed JSON, wrong types, zero and
//! negative quantities, off-tick prices, unknown symbols, oversized bodies, overlong strings,
//! missing and unknown fields, wrong content types, malformed query strings and paths. Each
//! is answered 4xx with its stable code, none reaches the engine (its seq does not move),
//! and the server stays healthy and keeps trading.
#![allow(clippy::unwrap_used)]

mod support;

use reqwest::Method as M;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use support::{Http, Server, Store, TOKEN};

/// The body limit the server runs with here.
const BODY_LIMIT: usize = 4096;

/// One bad request: method, path, bearer token, content type, body; and the expected
/// status and code.
type Case<'a> = (
    M,
    String,
    Option<&'a str>,
    Option<&'a str>,
    String,
    u16,
    &'a str,
);

/// A request with any body and content type.
struct Raw {
    http: reqwest::Client,
    base: String,
}

impl Raw {
    async fn send(
        &self,
        method: M,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> (u16, Value) {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .body(body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(c) = content_type {
            r = r.header(CONTENT_TYPE, c);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let text = resp.text().await.unwrap();
        assert!(
            ct.starts_with("application/json"),
            "{path}: {status} answered {ct:?}: {text}"
        );
        (status, serde_json::from_str(&text).unwrap())
    }

    async fn json(&self, method: M, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
        self.send(
            method,
            path,
            token,
            Some("application/json"),
            body.to_owned(),
        )
        .await
    }
}

async fn engine_seq(h: &Http) -> u64 {
    let (s, v) = h.call(M::GET, "/healthz", None, None).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("ok")), "{v}");
    v["engine"]["seq"].as_u64().unwrap()
}

fn order(overrides: Value) -> String {
    let mut o = json!({"symbol": "AAPL", "side": "buy", "type": "limit", "qty": "10",
                       "limit_price": "189.00", "time_in_force": "gtc"});
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            o.as_object_mut().unwrap().remove(k);
        } else {
            o[k] = v.clone();
        }
    }
    o.to_string()
}

#[test]
fn bad_input_is_refused_at_the_door_with_stable_codes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::File(dir.path().join("journal"));
    let limit = BODY_LIMIT.to_string();
    let server = Server::start(
        &store,
        &[
            ("BOURSE__SERVER__BODY_LIMIT_BYTES", limit.as_str()),
            ("BOURSE__SERVER__RATE_PER_IP", "100000"),
        ],
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let h = Http::new(&server.base);
        let raw = Raw {
            http: support::http().build().unwrap(),
            base: server.base.clone(),
        };
        let account = h.register("trader").await;
        let (s, v) = h.log_in("trader", "quiet-otter-lantern").await;
        assert_eq!(s, 201, "{v}");
        let tok = v["token"].as_str().unwrap().to_owned();
        let tok = tok.as_str();
        let (s, v) = h
            .call(
                M::POST,
                &format!("/v1/admin/accounts/{account}/deposits"),
                Some(TOKEN),
                Some(json!({"amount": "100000"})),
            )
            .await;
        assert_eq!(s, 200, "{v}");

        let before = engine_seq(&h).await;
        let long_cid = "x".repeat(49);
        let oversized = format!(
            r#"{{"symbol":"AAPL","side":"buy","type":"limit","qty":"10","client_order_id":"{}"}}"#,
            "y".repeat(BODY_LIMIT)
        );
        // (method, path, token, content type, body, status, code)
        #[rustfmt::skip]
        let cases: Vec<Case<'_>> = vec![
            // Malformed JSON.
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             r#"{"symbol": "AAPL", "#.into(), 400, "MALFORMED_JSON"),
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             "not json at all".into(), 400, "MALFORMED_JSON"),
            (M::POST, "/v1/users".into(), None, Some("application/json"),
             "{\"username\": \"bob\", \"password\": \"pass\u{0}word".into(), 400,
             "MALFORMED_JSON"),
            (M::POST, "/v1/transfers".into(), Some(tok), Some("application/json"),
             String::new(), 400, "MALFORMED_JSON"),
            // Wrong types.
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"qty": true})), 422, "INVALID_FIELD"),
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"side": 1})), 422, "INVALID_FIELD"),
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             "[1, 2, 3]".into(), 422, "INVALID_FIELD"),
            (M::POST, "/v1/transfers".into(), Some(tok), Some("application/json"),
             r#"{"type": "deposit", "amount": 100}"#.into(), 422, "INVALID_FIELD"),
            (M::POST, "/v1/api-keys".into(), Some(tok), Some("application/json"),
             r#"{"label": 7}"#.into(), 422, "INVALID_FIELD"),
            (M::POST, format!("/v1/admin/accounts/{account}/shares"), Some(TOKEN),
             Some("application/json"), r#"{"symbol": "AAPL", "qty": "10"}"#.into(), 422,
             "INVALID_FIELD"),
            // Zero and negative quantities, in every spelling.
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"qty": "0"})), 422, "INVALID_QUANTITY"),
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"qty": 0})), 422, "INVALID_QUANTITY"),
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"qty": "-5"})), 422, "INVALID_QUANTITY"),
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"qty": -5})), 422, "INVALID_QUANTITY"),
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"qty": "1.0000001"})), 422, "INVALID_QUANTITY"),
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"symbol": "KO", "qty": "1.5", "limit_price": "62.00"})), 422,
             "FRACTIONAL_NOT_ALLOWED"),
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"qty": null})), 422, "INVALID_QUANTITY"),
            (M::POST, format!("/v1/admin/accounts/{account}/shares"), Some(TOKEN),
             Some("application/json"), r#"{"symbol": "AAPL", "qty": 0}"#.into(), 422,
             "INVALID_QUANTITY"),
            (M::POST, format!("/v1/admin/accounts/{account}/shares"), Some(TOKEN),
             Some("application/json"), r#"{"symbol": "AAPL", "qty": -3}"#.into(), 422,
             "INVALID_FIELD"),
            (M::PATCH, "/v1/orders/1".into(), Some(tok), Some("application/json"),
             r#"{"qty": "0"}"#.into(), 422, "INVALID_QUANTITY"),
            (M::PATCH, "/v1/orders/1".into(), Some(tok), Some("application/json"),
             r#"{"limit_price": "190.00"}"#.into(), 422, "INVALID_QUANTITY"),
            // Prices: off tick, zero, negative, too precise; amounts likewise.
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"limit_price": "189.005"})), 422, "PRICE_OFF_TICK"),
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"limit_price": 189.001})), 422, "PRICE_OFF_TICK"),
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"limit_price": "0"})), 422, "INVALID_PRICE"),
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"limit_price": "-189.00"})), 422, "INVALID_PRICE"),
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"limit_price": "189.00001"})), 422, "INVALID_PRICE"),
            (M::POST, "/v1/alerts".into(), Some(tok), Some("application/json"),
             r#"{"symbol": "AAPL", "condition": "above", "price": "0"}"#.into(), 422,
             "INVALID_PRICE"),
            (M::POST, "/v1/transfers".into(), Some(tok), Some("application/json"),
             r#"{"type": "deposit", "amount": "-5"}"#.into(), 422, "INVALID_AMOUNT"),
            (M::POST, "/v1/transfers".into(), Some(tok), Some("application/json"),
             r#"{"type": "withdraw", "amount": "1.00001"}"#.into(), 422, "INVALID_AMOUNT"),
            (M::POST, "/v1/transfers".into(), Some(tok), Some("application/json"),
             r#"{"type": "steal", "amount": "5"}"#.into(), 422, "INVALID_TRANSFER_TYPE"),
            // Unknown symbols.
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"symbol": "NOPE"})), 422, "UNKNOWN_SYMBOL"),
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"symbol": "aapl"})), 422, "UNKNOWN_SYMBOL"),
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"symbol": "WAYTOOLONGSYMBOL"})), 422, "UNKNOWN_SYMBOL"),
            (M::POST, "/v1/alerts".into(), Some(tok), Some("application/json"),
             r#"{"symbol": "NOPE", "condition": "above", "price": "1.00"}"#.into(), 422,
             "UNKNOWN_SYMBOL"),
            (M::DELETE, "/v1/orders?symbol=NOPE".into(), Some(tok), None, String::new(), 404,
             "UNKNOWN_SYMBOL"),
            (M::POST, format!("/v1/admin/accounts/{account}/shares"), Some(TOKEN),
             Some("application/json"), r#"{"symbol": "NOPE", "qty": 1}"#.into(), 422,
             "UNKNOWN_SYMBOL"),
            (M::POST, "/v1/admin/symbols/NOPE/halt".into(), Some(TOKEN), None, String::new(),
             404, "UNKNOWN_SYMBOL"),
            // Other vocabulary.
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"side": "short"})), 422, "INVALID_SIDE"),
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"type": "iceberg"})), 422, "INVALID_ORDER_TYPE"),
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"time_in_force": "forever"})), 422, "INVALID_TIME_IN_FORCE"),
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"type": "market"})), 422, "INVALID_ORDER"),
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"qty": "2000000"})), 422, "MAX_QTY_EXCEEDED"),
            // Oversized body (over server.body_limit_bytes).
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"), oversized,
             413, "BODY_TOO_LARGE"),
            (M::POST, "/v1/users".into(), None, Some("application/json"),
             format!(r#"{{"username": "bob", "password": "{}"}}"#, "p".repeat(2 * BODY_LIMIT)),
             413, "BODY_TOO_LARGE"),
            // Overlong strings.
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"client_order_id": long_cid})), 422, "INVALID_CLIENT_ORDER_ID"),
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"client_order_id": "has space"})), 422, "INVALID_CLIENT_ORDER_ID"),
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"client_order_id": ""})), 422, "INVALID_CLIENT_ORDER_ID"),
            (M::POST, "/v1/users".into(), None, Some("application/json"),
             json!({"username": "u".repeat(33), "password": "quiet-otter-lantern"}).to_string(),
             422, "INVALID_USERNAME"),
            (M::POST, "/v1/users".into(), None, Some("application/json"),
             json!({"username": "ab", "password": "quiet-otter-lantern"}).to_string(), 422,
             "INVALID_USERNAME"),
            (M::POST, "/v1/users".into(), None, Some("application/json"),
             json!({"username": "bob", "password": "p".repeat(129)}).to_string(), 422,
             "INVALID_PASSWORD"),
            (M::POST, "/v1/api-keys".into(), Some(tok), Some("application/json"),
             json!({"label": "l".repeat(65)}).to_string(), 422, "INVALID_LABEL"),
            (M::POST, "/v1/api-keys".into(), Some(tok), Some("application/json"),
             json!({"label": "bell\u{7}"}).to_string(), 422, "INVALID_LABEL"),
            (M::GET, format!("/v1/stocks?q={}", "q".repeat(65)), None, None, String::new(),
             422, "INVALID_QUERY"),
            // Missing and unknown fields (an order without qty may have notional instead:
            // missing both is the quantity's code).
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"notional": "100"})), 422, "INVALID_ORDER"),
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"symbol": null})), 422, "INVALID_FIELD"),
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"limit_price": null})), 422, "INVALID_ORDER"),
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"leverage": 100})), 422, "INVALID_FIELD"),
            (M::POST, "/v1/users".into(), None, Some("application/json"),
             r#"{"username": "bob"}"#.into(), 422, "INVALID_FIELD"),
            (M::POST, "/v1/transfers".into(), Some(tok), Some("application/json"),
             r#"{"type": "deposit"}"#.into(), 422, "INVALID_FIELD"),
            (M::POST, "/v1/alerts".into(), Some(tok), Some("application/json"),
             r#"{"symbol": "AAPL", "price": "1.00"}"#.into(), 422, "INVALID_FIELD"),
            // Wrong or missing content type.
            (M::POST, "/v1/orders".into(), Some(tok), Some("text/plain"), order(json!({})),
             415, "UNSUPPORTED_MEDIA_TYPE"),
            (M::POST, "/v1/orders".into(), Some(tok), None, order(json!({})), 415,
             "UNSUPPORTED_MEDIA_TYPE"),
            (M::POST, "/v1/users".into(), None, Some("application/x-www-form-urlencoded"),
             "username=bob&password=hunter2hunter2".into(), 415, "UNSUPPORTED_MEDIA_TYPE"),
            (M::PATCH, "/v1/orders/1".into(), Some(tok), Some("application/xml"),
             "<qty>5</qty>".into(), 415, "UNSUPPORTED_MEDIA_TYPE"),
            // Malformed query strings and paths.
            (M::GET, "/v1/orders?limit=abc".into(), Some(tok), None, String::new(), 400,
             "MALFORMED_QUERY"),
            (M::GET, "/v1/orders?limit=-1".into(), Some(tok), None, String::new(), 400,
             "MALFORMED_QUERY"),
            (M::GET, "/v1/account?account_id=1&account_id=1".into(), Some(tok), None,
             String::new(), 400, "MALFORMED_QUERY"),
            (M::GET, "/v1/orders:by_client_order_id".into(), Some(tok), None, String::new(),
             400, "MALFORMED_QUERY"),
            (M::DELETE, "/v1/orders/7?account_id=1&account_id=2".into(), Some(tok), None,
             String::new(), 400, "MALFORMED_QUERY"),
            (M::GET, "/v1/orders?after=garbage".into(), Some(tok), None, String::new(), 400,
             "INVALID_CURSOR"),
            (M::GET, "/v1/orders?status=pending".into(), Some(tok), None, String::new(), 422,
             "INVALID_STATUS"),
            (M::GET, "/v1/stocks?size=0".into(), None, None, String::new(), 422,
             "INVALID_PAGE_SIZE"),
            (M::GET, "/v1/stocks/%FF".into(), None, None, String::new(), 400, "MALFORMED_PATH"),
            (M::DELETE, "/v1/orders/%C3%28".into(), Some(tok), None, String::new(), 400,
             "MALFORMED_PATH"),
            (M::DELETE, "/v1/orders/abc".into(), Some(tok), None, String::new(), 404,
             "UNKNOWN_ORDER"),
            (M::DELETE, "/v1/orders/0".into(), Some(tok), None, String::new(), 404,
             "UNKNOWN_ORDER"),
            (M::GET, "/v1/no/such/route".into(), Some(tok), None, String::new(), 404,
             "NOT_FOUND"),
            // Acting for another account, or the operator forgetting which.
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"account_id": "999"})), 404, "UNKNOWN_ACCOUNT"),
            (M::POST, "/v1/orders".into(), Some(tok), Some("application/json"),
             order(json!({"account_id": "-1"})), 422, "INVALID_ACCOUNT_ID"),
            (M::POST, "/v1/orders".into(), Some(TOKEN), Some("application/json"),
             order(json!({})), 422, "MISSING_ACCOUNT_ID"),
            (M::POST, "/v1/admin/accounts/abc/deposits".into(), Some(TOKEN),
             Some("application/json"), r#"{"amount": "1.00"}"#.into(), 422,
             "INVALID_ACCOUNT_ID"),
            // No or bad credentials.
            (M::POST, "/v1/orders".into(), None, Some("application/json"), order(json!({})),
             401, "UNAUTHORIZED"),
            (M::POST, "/v1/orders".into(), Some("not-a-token"), Some("application/json"),
             order(json!({})), 401, "UNAUTHORIZED"),
            (M::POST, "/v1/admin/end-of-day".into(), Some(tok), None, String::new(), 403,
             "FORBIDDEN"),
        ];
        let n = cases.len();
        for (method, path, token, ct, body, status, code) in cases {
            let what = format!(
                "{method} {path} {}",
                body.chars().take(120).collect::<String>()
            );
            let (s, v) = raw.send(method, &path, token, ct, body).await;
            assert_eq!((s, v["code"].as_str()), (status, Some(code)), "{what}: {v}");
            assert!(v["message"].is_string(), "{what}: {v}");
        }
        // A body that is not UTF-8.
        let (s, v) = raw
            .send(
                M::POST,
                "/v1/orders",
                Some(tok),
                Some("application/json"),
                vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'],
            )
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (400, Some("MALFORMED_JSON")),
            "{v}"
        );
        // Nothing reached the engine.
        assert_eq!(
            engine_seq(&h).await,
            before,
            "one of the {n} bad requests reached the engine"
        );

        // Still healthy, and a good order goes through.
        let (s, v) = raw
            .json(M::POST, "/v1/orders", Some(tok), &order(json!({})))
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["status"], json!("new"), "{v}");
        assert_eq!(engine_seq(&h).await, before + 1);
    });
    server.stop();
}
