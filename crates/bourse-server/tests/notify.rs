//! Notifications and identity end to end, checked by clients we did not write:
//! `scripts/notify_check.py` runs `bourse serve` itself (and kills and restarts it) with the
//! notifier pointed at a real SMTP server (`aiosmtpd`), a stand-in for the SMS provider's API
//! and webhook receivers of its own, and shows that
//! - sign-up by email or phone sends a six-digit code (read out of the mail or the SMS) that
//!   verifies the address; until then orders are refused `CONTACT_NOT_VERIFIED`; wrong codes
//!   are refused and then backed off; a password reset by emailed code ends old sessions; a
//!   change of email is verified at the new address;
//! - TOTP (codes from `pyotp`) is required once on, each code and recovery code works once;
//! - a log-in from a new device is mailed;
//! - every webhook delivery is signed (checked with Python's `hmac`); a receiver that fails
//!   at first gets each notification exactly once; a dead one's deliveries end `dead` and a
//!   replay delivers each once; a slow receiver does not hold up another user's;
//! - notifications pending when the server is killed (or stopped) arrive exactly once after
//!   it restarts.
//!
//! Once with the file journal, once with PostgreSQL. Needs `python3` with `venv` and access
//! to PyPI the first time (`aiosmtpd` and `pyotp`, pinned, go into `target/py-venv`).
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;

use support::{Store, TOKEN, database_url, fresh_schema, require_python, workspace_root};

fn notify_check(store: &Store) {
    require_python("the notification check runs Python clients (aiosmtpd, pyotp)");
    let dir = tempfile::tempdir().unwrap();
    let mut env: serde_json::Map<String, serde_json::Value> = store
        .env()
        .into_iter()
        .map(|(k, v)| (k, v.into()))
        .collect();
    env.insert("BOURSE__SERVER__OPERATOR_TOKEN".into(), TOKEN.into());
    let root = workspace_root();
    let out = Command::new(root.join("scripts/py-venv.sh"))
        .env("BOURSE_PY_PACKAGE", "aiosmtpd==1.4.6 pyotp==2.9.0")
        .arg(root.join("scripts/notify_check.py"))
        .arg(env!("CARGO_BIN_EXE_bourse"))
        .arg(serde_json::Value::Object(env).to_string())
        .arg(dir.path().join("data.key"))
        .current_dir(dir.path())
        .output()
        .expect("could not run scripts/py-venv.sh");
    store.cleanup();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "scripts/notify_check.py failed ({}):\n{stdout}\n--- stderr ---\n{stderr}",
        out.status
    );
    println!("{stdout}");
}

#[test]
fn notifications_and_identity_with_the_file_journal() {
    let dir = tempfile::tempdir().unwrap();
    notify_check(&Store::File(dir.path().join("journal")));
}

#[test]
fn notifications_and_identity_with_postgres() {
    notify_check(&Store::Postgres {
        url: database_url(),
        schema: fresh_schema("notify"),
    });
}
