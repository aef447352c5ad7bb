//! The FIX 4.4 acceptor against QuickFIX, an engine we did not write (Debian's C++ library,
//! validating everything we send against the FIX 4.4 data dictionary): every order type,
//! fills, replace and cancel, reports of orders entered over REST, status and mass cancel,
//! a sequence gap each way recovered by ResendRequest, and a server killed mid-session whose
//! session continues with the right sequence numbers — on the file journal and on
//! PostgreSQL. Then the edges QuickFIX will not produce (garbled input, a bad checksum, a
//! too-low sequence number, silence) over a raw socket, a wrong password, one session per
//! key, and cancel-on-disconnect.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::fix::{
    Fix, PASSWORD, QuickFix, Raw, Session, broker, er, fix_env, frame, rest_order, start,
};
use support::{Client, Http, Server, Store, database_url, fresh_schema};

async fn session_end_to_end(store: Store) {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&store, &fix_env(dir.path(), "127.0.0.1:0"));
    let port = server.fix_port();
    let op = Client::new(&server.base);
    let maker = op.setup_accounts(1, &["AAPL"]).await.remove(0);
    let b = broker(&server, &op, "fixbroker").await;
    for (side, price) in [("sell", "190.10"), ("sell", "190.20"), ("buy", "189.90")] {
        rest_order(&op, &maker, side, price, 500).await;
    }
    let mut qf = QuickFix::start(&Session {
        dir: dir.path(),
        port,
        sender: "BROKER1",
        username: &b.key_id,
        password: &b.secret,
        cancel_on_disconnect: None,
        heartbeat: 5,
    });
    qf.wait_line("LOGON", |l| l == "LOGON");

    // A day limit order that rests.
    qf.send("35=D|11=L1|55=AAPL|54=1|38=10|40=2|44=189.50|59=0|60=now");
    let m = qf.expect("L1 accepted", er("L1", "0"));
    assert!(m.is(39, "0") && m.is(151, "10") && m.is(14, "0"), "{m:?}");
    assert!(m.is(1, &b.account), "{m:?}");
    let l1_id = m.get(37).unwrap().to_owned();

    // A market order that fills against the maker's best ask.
    qf.send("35=D|11=M1|55=AAPL|54=1|38=10|40=1|59=0|60=now");
    qf.expect("M1 accepted", er("M1", "0"));
    let m = qf.expect("M1 filled", er("M1", "F"));
    assert!(
        m.is(31, "190.10") && m.is(32, "10") && m.is(39, "2") && m.is(14, "10"),
        "{m:?}"
    );
    assert!(m.is(151, "0") && m.is(6, "190.10"), "{m:?}");

    // A stop (held) and a stop limit.
    qf.send("35=D|11=S1|55=AAPL|54=1|38=5|40=3|99=195.00|59=1|60=now");
    let m = qf.expect("S1 accepted", er("S1", "0"));
    assert!(
        m.is(99, "195.00") && m.is(40, "3") && m.is(59, "1"),
        "{m:?}"
    );
    qf.send("35=D|11=SL1|55=AAPL|54=2|38=5|40=4|99=185.00|44=184.00|59=1|60=now");
    let m = qf.expect("SL1 accepted", er("SL1", "0"));
    assert!(m.is(44, "184.00") && m.is(40, "4"), "{m:?}");

    // IOC: fills what the best level has, the rest is cancelled.
    qf.send("35=D|11=I1|55=AAPL|54=1|38=1000|40=2|44=190.10|59=3|60=now");
    let m = qf.expect("I1 fill", er("I1", "F"));
    assert!(m.is(32, "490") && m.is(39, "1"), "{m:?}");
    let m = qf.expect("I1 remainder", er("I1", "4"));
    assert!(
        m.is(58, "IOC_REMAINDER") && m.is(14, "490") && m.is(151, "0"),
        "{m:?}"
    );

    // FOK that cannot fill completely: nothing trades.
    qf.send("35=D|11=F1|55=AAPL|54=1|38=2000|40=2|44=190.20|59=4|60=now");
    let m = qf.expect("F1 killed", er("F1", "4"));
    assert!(m.is(58, "FOK_UNFILLED") && m.is(14, "0"), "{m:?}");

    // Post-only that would take: rejected with the engine's code.
    qf.send("35=D|11=P1|55=AAPL|54=1|38=10|40=2|44=190.20|59=1|18=6|60=now");
    let m = qf.expect("P1 rejected", er("P1", "8"));
    assert!(
        m.is(39, "8") && m.get(58).unwrap().starts_with("POST_ONLY_WOULD_TAKE"),
        "{m:?}"
    );
    // Checked before the engine, with the REST code: off the tick.
    qf.send("35=D|11=P2|55=AAPL|54=1|38=10|40=2|44=189.001|59=1|60=now");
    let m = qf.expect("P2 rejected", er("P2", "8"));
    assert!(m.get(58).unwrap().starts_with("PRICE_OFF_TICK"), "{m:?}");

    // Replace L1 (new quantity and price), then cancel it by the replace's ClOrdID.
    qf.send("35=G|11=L1R|41=L1|55=AAPL|54=1|38=20|40=2|44=189.60|60=now");
    let m = qf.expect("L1 replaced", er("L1R", "5"));
    assert!(
        m.is(41, "L1") && m.is(38, "20") && m.is(44, "189.60") && m.is(151, "20"),
        "{m:?}"
    );
    assert!(m.is(37, &l1_id), "{m:?}");
    qf.send("35=F|11=L1C|41=L1R|55=AAPL|54=1|60=now");
    let m = qf.expect("L1 canceled", er("L1C", "4"));
    assert!(
        m.is(41, "L1R") && m.is(39, "4") && m.is(58, "REQUESTED"),
        "{m:?}"
    );
    qf.send("35=F|11=X1|41=NOPE|55=AAPL|54=1|60=now");
    let m = qf.expect("cancel reject", |m| m.msg_type() == "9" && m.is(11, "X1"));
    assert!(m.is(102, "1") && m.is(434, "1"), "{m:?}");

    // An order the same account enters over REST is reported here too.
    let h = Http::new(&server.base);
    let (s, v) = h
        .call(
            reqwest::Method::POST,
            "/v1/orders",
            Some(&b.token),
            Some(
                json!({"symbol": "AAPL", "side": "buy", "type": "limit", "qty": "7",
                        "limit_price": "189.00", "time_in_force": "gtc",
                        "client_order_id": "REST1"}),
            ),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let m = qf.expect("REST1 on FIX", er("REST1", "0"));
    assert!(m.is(38, "7"), "{m:?}");
    qf.send("35=H|11=REST1|55=AAPL|54=1");
    let m = qf.expect("REST1 status", er("REST1", "I"));
    assert!(m.is(39, "0") && m.is(151, "7"), "{m:?}");

    // The same order again under its ClOrdID: answered with where it stands, not placed twice.
    qf.send("35=D|11=M1|55=AAPL|54=1|38=10|40=1|59=0|60=now");
    let m = qf.expect("M1 resent", er("M1", "I"));
    assert!(m.is(39, "2") && m.is(14, "10"), "{m:?}");

    // Unsupported message type.
    qf.send("35=V|262=md1|263=0|264=1|146=1|55=AAPL|267=1|269=0");
    let m = qf.expect("business reject", |m| m.msg_type() == "j");
    assert!(m.is(372, "V") && m.is(380, "3"), "{m:?}");

    // A gap in what we receive: QuickFIX skips three numbers; we ask for a resend, it
    // gap-fills, and the order it sent is processed once.
    qf.cmd("bump_sender 3");
    qf.wait_line("OK", |l| l == "OK");
    qf.send("35=D|11=G1|55=AAPL|54=1|38=3|40=2|44=189.10|59=1|60=now");
    let m = qf.expect("our ResendRequest", |m| m.msg_type() == "2");
    assert!(m.is(16, "0"), "{m:?}");
    let m = qf.expect("G1 accepted", er("G1", "0"));
    let g1_id = m.get(37).unwrap().to_owned();

    // A gap in what we send: QuickFIX forgets our last two messages and asks again; we
    // resend them from the store, marked as possible duplicates.
    qf.cmd("lower_target 2");
    qf.wait_line("OK", |l| l == "OK");
    qf.send("35=H|11=G1|55=AAPL|54=1");
    let m = qf.expect("a resent message", |m| m.is(43, "Y"));
    assert!(m.get(122).is_some(), "{m:?}");
    qf.expect("G1 status after the resend", er("G1", "I"));
    assert!(
        qf.sent().iter().any(|m| m.msg_type() == "2"),
        "QuickFIX sent no ResendRequest"
    );

    // Mass cancel: the held stop, the stop limit, REST1 and G1.
    qf.send("35=q|11=MC1|530=7|60=now");
    // The orders' reports come first (released events), then the request's own report.
    let m = qf.expect("S1 canceled", er("S1", "4"));
    assert!(m.is(58, "MASS_CANCEL"), "{m:?}");
    let m = qf.expect("mass cancel report", |m| m.msg_type() == "r");
    assert!(m.is(531, "7") && m.is(533, "4"), "{m:?}");

    // The server dies mid-session. Restarted on the same journal and store, the session
    // continues: its Logon carries the next number QuickFIX expects, and QuickFIX's own
    // numbers are accepted without a reset.
    qf.send("35=D|11=K1|55=AAPL|54=1|38=2|40=2|44=189.20|59=1|60=now");
    qf.expect("K1 accepted", er("K1", "0"));
    let addr = format!("127.0.0.1:{port}");
    server.kill();
    qf.wait_line("LOGOUT", |l| l == "LOGOUT");
    // Read after the connection dropped: a heartbeat may have gone out just before the kill.
    let (_, next_target) = qf.seqs();
    let server = start(&store, &fix_env(dir.path(), &addr));
    assert_eq!(server.fix_port(), port);
    let logon = qf.expect("Logon after the restart", |m| m.msg_type() == "A");
    // The number QuickFIX expects, or — if the server stored a message the kill kept from
    // the socket — above it, which QuickFIX then asks to be resent.
    assert!(
        logon.seq() >= next_target,
        "{logon:?}, expected {next_target}"
    );
    assert!(logon.get(141).is_none(), "{logon:?}");
    qf.wait_line("LOGON", |l| l == "LOGON");
    qf.send("35=H|11=K1|55=AAPL|54=1");
    let m = qf.expect("K1 after the restart", er("K1", "I"));
    assert!(m.is(39, "0") && m.is(151, "2"), "{m:?}");
    qf.send("35=F|11=K1C|41=K1|55=AAPL|54=1|60=now");
    qf.expect("K1 canceled", er("K1C", "4"));
    assert_ne!(g1_id, "");

    // QuickFIX checked every message against FIX 4.4 and rejected none.
    let rejects: Vec<Fix> = qf
        .sent()
        .into_iter()
        .filter(|m| m.msg_type() == "3")
        .collect();
    assert!(rejects.is_empty(), "QuickFIX rejected: {rejects:?}");
    qf.quit();
    drop(server);
    store.cleanup();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickfix_trades_recovers_gaps_and_survives_a_restart_file_journal() {
    let dir = tempfile::tempdir().unwrap();
    session_end_to_end(Store::File(dir.path().join("journal"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickfix_trades_recovers_gaps_and_survives_a_restart_postgres_journal() {
    session_end_to_end(Store::Postgres {
        url: database_url(),
        schema: fresh_schema("fix"),
    })
    .await;
}

fn logon(raw: &mut Raw, key: &str, secret: &str, hb: u32) -> Option<Fix> {
    raw.send(
        1,
        &format!("35=A|98=0|108={hb}|141=Y|553={key}|554={secret}"),
    );
    raw.recv(Duration::from_secs(5))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_logons_garbled_input_low_sequence_numbers_and_silence() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::File(dir.path().join("journal"));
    let server = start(&store, &fix_env(dir.path(), "127.0.0.1:0"));
    let port = server.fix_port();
    let op = Client::new(&server.base);
    let b = broker(&server, &op, "rawbroker").await;

    // QuickFIX with a wrong password: a Logout that says why, never a session.
    let mut qf = QuickFix::start(&Session {
        dir: dir.path(),
        port,
        sender: "WRONGPW",
        username: &b.key_id,
        password: "not-the-secret",
        cancel_on_disconnect: None,
        heartbeat: 5,
    });
    let m = qf.expect("Logout", |m| m.msg_type() == "5");
    assert_eq!(m.get(58), Some("invalid API key or secret"));
    qf.kill();
    // Refused before any session state exists: no store was made for it.
    assert!(
        !dir.path()
            .join("fix-store")
            .join(format!("{}-WRONGPW", b.key_id))
            .exists()
    );

    // A raw session: logon (with a reset), then garbage it must drop without counting.
    let mut raw = Raw::connect(port, "RAW1");
    let m = logon(&mut raw, &b.key_id, &b.secret, 30).unwrap();
    assert!(
        m.msg_type() == "A" && m.is(141, "Y") && m.seq() == 1,
        "{m:?}"
    );
    // One live session per key.
    let mut second = Raw::connect(port, "RAW2");
    let m = logon(&mut second, &b.key_id, &b.secret, 30).unwrap();
    assert!(m.msg_type() == "5", "{m:?}");
    assert!(
        m.get(58)
            .unwrap()
            .contains("already has a live FIX session"),
        "{m:?}"
    );
    assert!(second.closed_within(Duration::from_secs(5)));

    // A bad checksum, then a wrong BodyLength: dropped, no answer, no sequence number used.
    let mut bad = frame("RAW1", 2, "35=1|112=BAD");
    let n = bad.len();
    bad[n - 2] = if bad[n - 2] == b'0' { b'1' } else { b'0' };
    raw.write(&bad);
    let wrong_len = String::from_utf8(frame("RAW1", 2, "35=1|112=LEN"))
        .unwrap()
        .replacen("\x019=", "\x019=9", 1);
    raw.write(wrong_len.as_bytes());
    assert!(raw.recv(Duration::from_millis(800)).is_none());
    // The next good message with number 2 is answered.
    raw.send(2, "35=1|112=GOOD");
    let m = raw.recv(Duration::from_secs(5)).unwrap();
    assert!(m.msg_type() == "0" && m.is(112, "GOOD"), "{m:?}");
    // A field that cannot be read is counted and rejected (SessionRejectReason 6).
    raw.send(3, "35=1|abc|112=X");
    let m = raw.recv(Duration::from_secs(5)).unwrap();
    assert!(
        m.msg_type() == "3" && m.is(45, "3") && m.is(373, "6"),
        "{m:?}"
    );
    // A required tag missing from an application message: Reject, reason 1, naming it.
    raw.send(4, "35=D|11=R1|55=AAPL|54=1|40=2|44=189.00");
    let m = raw.recv(Duration::from_secs(5)).unwrap();
    assert!(
        m.msg_type() == "3" && m.is(371, "38") && m.is(373, "1"),
        "{m:?}"
    );
    // Number 4 again without PossDupFlag: too low, logged out and closed.
    raw.send(4, "35=0");
    let m = raw.recv(Duration::from_secs(5)).unwrap();
    assert!(m.msg_type() == "5", "{m:?}");
    assert!(
        m.get(58)
            .unwrap()
            .contains("MsgSeqNum too low, expecting 5 but received 4"),
        "{m:?}"
    );
    assert!(raw.closed_within(Duration::from_secs(5)));

    // A silent counterparty: a heartbeat, a TestRequest, then the connection is closed.
    let mut quiet = Raw::connect(port, "RAW3");
    let m = logon(&mut quiet, &b.key_id, &b.secret, 1).unwrap();
    assert_eq!(m.msg_type(), "A");
    let mut got = Vec::new();
    while let Some(m) = quiet.recv(Duration::from_secs(5)) {
        got.push(m.msg_type().to_owned());
        if m.msg_type() == "1" {
            break;
        }
    }
    assert!(got.contains(&"1".to_owned()), "{got:?}");
    assert!(quiet.closed_within(Duration::from_secs(5)));
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_on_disconnect_cancels_the_sessions_orders_only_file_journal() {
    let dir = tempfile::tempdir().unwrap();
    cancel_on_disconnect(Store::File(dir.path().join("journal"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_on_disconnect_cancels_the_sessions_orders_only_postgres_journal() {
    cancel_on_disconnect(Store::Postgres {
        url: database_url(),
        schema: fresh_schema("fix_cod"),
    })
    .await;
}

/// The session's two orders are cancelled when its connection drops; the REST order stays;
/// after a kill and a restart the cancellations are still there.
async fn cancel_on_disconnect(store: Store) {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&store, &fix_env(dir.path(), "127.0.0.1:0"));
    let port = server.fix_port();
    let op = Client::new(&server.base);
    let b = broker(&server, &op, "codbroker").await;
    let elsewhere = rest_order(&op, &b.account, "buy", "185.00", 1).await;
    let mut qf = QuickFix::start(&Session {
        dir: dir.path(),
        port,
        sender: "CODBROKER",
        username: &b.key_id,
        password: &b.secret,
        cancel_on_disconnect: Some("Y"),
        heartbeat: 5,
    });
    qf.wait_line("LOGON", |l| l == "LOGON");
    qf.send("35=D|11=C1|55=AAPL|54=1|38=3|40=2|44=186.00|59=1|60=now");
    let c1 = qf.expect("C1", er("C1", "0")).get(37).unwrap().to_owned();
    qf.send("35=D|11=C2|55=AAPL|54=2|38=3|40=2|44=199.00|59=1|60=now");
    let c2 = qf.expect("C2", er("C2", "0")).get(37).unwrap().to_owned();
    // The connection drops without a Logout.
    qf.kill();
    let h = Http::new(&server.base);
    for id in [&c1, &c2] {
        let v = support::order_settled(&h, &b.token, id).await;
        assert_eq!(v["status"], "canceled", "{v}");
        assert_eq!(v["cancel_reason"], "CANCEL_ON_DISCONNECT", "{v}");
    }
    // The order entered over REST is not the session's: it still works.
    let id = elsewhere["id"].as_str().unwrap();
    let (s, v) = h
        .call(
            reqwest::Method::GET,
            &format!("/v1/orders/{id}"),
            Some(&b.token),
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "new", "{v}");
    // Journaled: a kill and a replay keep the cancellations.
    server.kill();
    let server = start(&store, &fix_env(dir.path(), "127.0.0.1:0"));
    let h = Http::new(&server.base);
    for id in [&c1, &c2] {
        let (s, v) = h
            .call(
                reqwest::Method::GET,
                &format!("/v1/orders/{id}"),
                Some(&b.token),
                None,
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["cancel_reason"], "CANCEL_ON_DISCONNECT", "{v}");
    }
    drop(server);
    store.cleanup();
}

/// With a certificate the FIX port speaks TLS: Python's `ssl` (trusting only the test's
/// certificate) logs on and gets the Logon back; a plain connection gets no FIX answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fix_port_speaks_tls_when_the_server_has_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = support::certificate(dir.path(), "fix");
    let store = Store::File(dir.path().join("journal"));
    let mut env = fix_env(dir.path(), "127.0.0.1:0");
    env.push((
        "BOURSE__SERVER__TLS_CERT".into(),
        cert.display().to_string(),
    ));
    env.push(("BOURSE__SERVER__TLS_KEY".into(), key.display().to_string()));
    let server = start(&store, &env);
    let port = server.fix_port();
    let b = broker_tls(&server, &cert);
    let logon = frame(
        "TLS1",
        1,
        &format!("35=A|98=0|108=30|141=Y|553={}|554={}", b.0, b.1),
    );
    let script = r"
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
with socket.create_connection(('127.0.0.1', int(sys.argv[2])), timeout=10) as raw:
    with ctx.wrap_socket(raw, server_hostname='localhost') as s:
        s.sendall(bytes.fromhex(sys.argv[3]))
        data = b''
        while b'\x0110=' not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        print(data.replace(b'\x01', b'|').decode())
";
    let hex: String = logon.iter().map(|b| format!("{b:02x}")).collect();
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            script,
            cert.to_str().unwrap(),
            &port.to_string(),
            &hex,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = Fix::parse(text.trim(), '|');
    assert!(m.msg_type() == "A" && m.is(141, "Y"), "{text}");
    // Plain FIX to the TLS port: the handshake fails, no FIX message comes back.
    let mut plain = Raw::connect(port, "PLAIN");
    plain.write(&logon);
    assert!(plain.recv(Duration::from_secs(2)).is_none());
    drop(server);
}

/// A user with a trading API key on a TLS server, made with curl trusting only `cert`:
/// (key id, secret).
fn broker_tls(server: &Server, cert: &std::path::Path) -> (String, String) {
    let port = server.base.rsplit(':').next().unwrap();
    let base = format!("https://localhost:{port}");
    let resolve = format!("localhost:{port}:127.0.0.1");
    let curl = |path: &str, token: Option<&str>, body: &Value| -> Value {
        let mut cmd = std::process::Command::new("curl");
        cmd.args(["-sS", "--max-time", "10", "--cacert"])
            .arg(cert)
            .args([
                "--resolve",
                &resolve,
                "-H",
                "content-type: application/json",
            ])
            .args(["-d", &body.to_string()]);
        if let Some(t) = token {
            cmd.args(["-H", &format!("authorization: Bearer {t}")]);
        }
        let out = cmd
            .arg(format!("{base}{path}"))
            .output()
            .expect("curl is installed");
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)))
    };
    let creds = json!({"username": "tlsbroker", "password": PASSWORD});
    curl("/v1/users", None, &creds);
    let v = curl("/v1/sessions", None, &creds);
    let token = v["token"].as_str().unwrap().to_owned();
    let v = curl(
        "/v1/api-keys",
        Some(&token),
        &json!({"label": "fix", "scopes": ["read", "trade"]}),
    );
    (
        v["id"].as_str().unwrap().to_owned(),
        v["secret"].as_str().unwrap().to_owned(),
    )
}
