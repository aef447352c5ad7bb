//! TLS on the API's port, with a certificate made here (rcgen) and clients we did not write:
//! curl trusting only that certificate for HTTPS, Python's `websockets` with an
//! `ssl.SSLContext` for WSS. Plus the edges: plain HTTP to the TLS port is told so and
//! closed, and a server whose key is missing or does not match refuses to start.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::process::Command;

use support::{Server, Store, certificate, workspace_root};

fn tls_server(dir: &Path, cert: &Path, key: &Path) -> Server {
    Server::start(
        &Store::File(dir.join("journal")),
        &[
            ("BOURSE__SERVER__TLS_CERT", cert.to_str().unwrap()),
            ("BOURSE__SERVER__TLS_KEY", key.to_str().unwrap()),
        ],
    )
}

fn port(base: &str) -> &str {
    base.rsplit(':').next().unwrap()
}

/// curl against the server: `-i` output (status line, headers, body) and its exit code.
fn curl(args: &[&str]) -> (i32, String) {
    let out = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl is installed");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn https_and_wss_on_the_api_port_with_curl_and_python_websockets() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path(), "server");
    let server = tls_server(dir.path(), &cert, &key);
    assert!(server.base.starts_with("https://"), "{}", server.base);
    let port = port(&server.base);
    let resolve = format!("localhost:{port}:127.0.0.1");
    let url = |path: &str| format!("https://localhost:{port}{path}");

    // HTTPS with the certificate as the only trusted authority: the API answers, with HSTS.
    let (code, out) = curl(&[
        "--cacert",
        cert.to_str().unwrap(),
        "--resolve",
        &resolve,
        &url("/v1/stocks/AAPL"),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(
        out.to_ascii_lowercase()
            .contains("strict-transport-security: max-age=31536000"),
        "{out}"
    );
    assert!(out.contains("\"symbol\":\"AAPL\""), "{out}");
    // A write over HTTPS too (sign-up: the rate limit keys on the peer's address).
    let (code, out) = curl(&[
        "--cacert",
        cert.to_str().unwrap(),
        "--resolve",
        &resolve,
        "-H",
        "content-type: application/json",
        "-d",
        r#"{"username":"tls-user","password":"tls-Ferret-92-Quasar-lamp"}"#,
        &url("/v1/users"),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("HTTP/1.1 201"), "{out}");

    // Without the certificate trusted, curl refuses the server: it is real TLS.
    let (code, out) = curl(&["--resolve", &resolve, &url("/v1/stocks/AAPL")]);
    assert_eq!(
        code, 60,
        "curl must not trust an unknown certificate: {out}"
    );

    // Plain HTTP to the TLS port: a clean 400 that says why, and the connection closed.
    let (code, out) = curl(&[&format!("http://127.0.0.1:{port}/v1/stocks/AAPL")]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    assert!(out.contains("speaks HTTPS"), "{out}");
    assert!(
        out.to_ascii_lowercase().contains("connection: close"),
        "{out}"
    );

    // WSS with Python's websockets and an SSL context trusting the certificate.
    support::require_python("the WSS check runs Python's websockets");
    let root = workspace_root();
    let out = Command::new(root.join("scripts/py-venv.sh"))
        .arg(root.join("scripts/wss_client.py"))
        .arg(format!("wss://localhost:{port}/v1/ws"))
        .arg(&cert)
        .arg("AAPL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "wss client failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["book_snapshot"], true, "{v}");
    assert_eq!(v["tls_version"], "TLSv1.3", "{v}");

    // The server still stops cleanly.
    server.stop();
}

#[test]
fn a_server_with_a_bad_certificate_or_key_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, _) = certificate(dir.path(), "one");
    let (_, other_key) = certificate(dir.path(), "two");
    let start = |extra: &[(&str, &str)]| {
        let out = Command::new(env!("CARGO_BIN_EXE_bourse"))
            .arg("serve")
            .env("BOURSE__SERVER__LISTEN", "127.0.0.1:0")
            .env("BOURSE__JOURNAL__DIR", dir.path().join("journal"))
            .envs(extra.iter().copied())
            .output()
            .unwrap();
        assert!(!out.status.success(), "the server started: {extra:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let cert = cert.to_str().unwrap();
    let missing = dir.path().join("missing.key");
    let err = start(&[
        ("BOURSE__SERVER__TLS_CERT", cert),
        ("BOURSE__SERVER__TLS_KEY", missing.to_str().unwrap()),
    ]);
    assert!(err.contains("reading the TLS private key"), "{err}");
    let err = start(&[
        ("BOURSE__SERVER__TLS_CERT", cert),
        ("BOURSE__SERVER__TLS_KEY", other_key.to_str().unwrap()),
    ]);
    assert!(err.contains("does not match the certificate"), "{err}");
    let err = start(&[("BOURSE__SERVER__TLS_CERT", cert)]);
    assert!(err.contains("go together"), "{err}");
}
