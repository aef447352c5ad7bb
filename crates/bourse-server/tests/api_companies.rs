//! Company profiles and financials over real HTTP: the embedded sample data file read at
//! start, the market cap following the last trade, unknown stocks and a bad data file
//! refused.
#![allow(clippy::unwrap_used)]

mod support;

use reqwest::Method as M;
use serde_json::json;
use support::{Client, Http, Server, Store};

#[test]
fn profiles_and_financials_come_from_the_data_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::File(dir.path().join("journal"));
    let server = Server::start(&store, &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let h = Http::new(&server.base);
        let (s, v) = h.call(M::GET, "/v1/stocks/ko", None, None).await;
        assert_eq!(s, 200, "{v}");
        let p = &v["profile"];
        // config/companies.toml: 4,310 million shares; before any trade the market cap is at
        // the previous close (the listing's reference price, 62.00).
        assert_eq!(
            (
                p["sector"].as_str(),
                p["industry"].as_str(),
                p["shares_outstanding"].as_str(),
                p["market_cap"].as_str()
            ),
            (
                Some("Consumer Staples"),
                Some("Beverages—Non-Alcoholic"),
                Some("4310000000"),
                Some("267220000000.00")
            ),
            "{v}"
        );
        assert!(p["note"].as_str().unwrap().contains("Sample data"), "{v}");
        assert!(p["description"].as_str().unwrap().len() > 10, "{v}");
        // A trade at 62.50 moves it: 4,310,000,000 × 62.50.
        let op = Client::new(&server.base);
        let (a, at) = h.session("seller").await;
        let (b, bt) = h.session("buyer").await;
        op.post(
            &format!("/v1/admin/accounts/{a}/shares"),
            json!({"symbol": "KO", "qty": 10}),
        )
        .await
        .unwrap();
        op.post(
            &format!("/v1/admin/accounts/{b}/deposits"),
            json!({"amount": "10000"}),
        )
        .await
        .unwrap();
        let order = |side: &str, tif: &str| {
            json!({"symbol": "KO", "side": side, "type": "limit", "qty": "10",
                   "limit_price": "62.50", "time_in_force": tif})
        };
        h.call(M::POST, "/v1/orders", Some(&at), Some(order("sell", "gtc")))
            .await;
        let (s, v) = h
            .call(M::POST, "/v1/orders", Some(&bt), Some(order("buy", "ioc")))
            .await;
        assert_eq!((s, v["status"].as_str()), (200, Some("filled")), "{v}");
        // The feed applies the trade just after the order's answer: wait for it.
        let mut cap = String::new();
        for _ in 0..100 {
            let (_, v) = h.call(M::GET, "/v1/stocks/KO", None, None).await;
            cap = v["profile"]["market_cap"].as_str().unwrap().to_owned();
            if cap != "267220000000.00" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(cap, "269375000000.00");
        // The search list carries profiles too.
        let (_, v) = h.call(M::GET, "/v1/stocks?q=coca", None, None).await;
        assert_eq!(
            v["items"][0]["profile"]["industry"],
            "Beverages—Non-Alcoholic"
        );

        let (s, v) = h.call(M::GET, "/v1/stocks/KO/financials", None, None).await;
        assert_eq!(s, 200, "{v}");
        let q = v["quarters"].as_array().unwrap();
        assert_eq!(v["currency"], "USD");
        assert_eq!(q.len(), 4, "{v}");
        assert_eq!(q[0]["period"], "2026-Q3");
        let periods: Vec<&str> = q.iter().map(|x| x["period"].as_str().unwrap()).collect();
        let mut sorted = periods.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(periods, sorted, "newest first");
        for x in q {
            for k in ["revenue", "net_income", "eps"] {
                assert!(
                    x[k].as_str().unwrap().contains('.'),
                    "{k} is an exact decimal string: {x}"
                );
            }
        }
        let (s, v) = h
            .call(M::GET, "/v1/stocks/NOPE/financials", None, None)
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (404, Some("UNKNOWN_SYMBOL")),
            "{v}"
        );
    });
    server.stop();

    // A data file naming a stock that is not listed stops the start, saying why.
    let bad = dir.path().join("companies.toml");
    std::fs::write(
        &bad,
        "note = \"x\"\n[[company]]\nsymbol = \"ZZZZ\"\ndescription = \"d\"\nindustry = \"i\"\n\
         employees = 1\nwebsite = \"w\"\nshares_outstanding = 1\n",
    )
    .unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_bourse"));
    cmd.arg("serve")
        .env("BOURSE__SERVER__LISTEN", "127.0.0.1:0")
        .env("BOURSE__SERVER__COMPANIES", &bad);
    for (k, v) in store.env() {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("company data") && err.contains("ZZZZ"),
        "{err}"
    );
    store.cleanup();
}
