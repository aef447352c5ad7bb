//! FIX counterparties for the tests: QuickFIX (an engine we did not write, driven through
//! `tests/fix/initiator.cpp`) and a raw socket for what no well-behaved engine sends.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Client, Http, Server, Store, workspace_root};

pub const PASSWORD: &str = "quiet-otter-lantern";

/// One FIX message as `(tag, value)` pairs.
#[derive(Debug, Clone)]
pub struct Fix(pub Vec<(u32, String)>);

impl Fix {
    pub fn parse(text: &str, sep: char) -> Fix {
        Fix(text
            .split(sep)
            .filter_map(|f| {
                let (t, v) = f.split_once('=')?;
                Some((t.parse().ok()?, v.to_owned()))
            })
            .collect())
    }

    pub fn get(&self, tag: u32) -> Option<&str> {
        self.0
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, v)| v.as_str())
    }

    pub fn is(&self, tag: u32, value: &str) -> bool {
        self.get(tag) == Some(value)
    }

    pub fn msg_type(&self) -> &str {
        self.get(35).unwrap_or("")
    }

    pub fn seq(&self) -> u64 {
        self.get(34).and_then(|v| v.parse().ok()).unwrap_or(0)
    }
}

/// The FIX 4.4 dictionary QuickFIX checks our messages against, and the initiator built
/// from `tests/fix/initiator.cpp` (once per test binary).
fn toolchain() -> &'static (PathBuf, PathBuf) {
    static BUILT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = workspace_root();
        let out = Command::new(root.join("scripts/ensure-quickfix.sh"))
            .output()
            .expect("scripts/ensure-quickfix.sh runs");
        assert!(
            out.status.success(),
            "scripts/ensure-quickfix.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dict = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let src = root.join("crates/bourse-server/tests/fix/initiator.cpp");
        let bin = root.join("target/quickfix/initiator");
        let part = root.join(format!("target/quickfix/initiator.{}", std::process::id()));
        let flags = Command::new("pkg-config")
            .args(["--cflags", "--libs", "quickfix"])
            .output()
            .unwrap();
        let flags = String::from_utf8_lossy(&flags.stdout).to_string();
        let built = Command::new("g++")
            .args(["-std=c++14", "-O1", "-w", "-o"])
            .arg(&part)
            .arg(&src)
            .args(flags.split_whitespace())
            .arg("-lpthread")
            .output()
            .expect("g++ is installed");
        assert!(
            built.status.success(),
            "building the QuickFIX initiator: {}",
            String::from_utf8_lossy(&built.stderr)
        );
        // Renamed into place: another test binary may be using the last one.
        std::fs::rename(&part, &bin).unwrap();
        (dict, bin)
    })
}

/// A QuickFIX initiator session.
pub struct QuickFix {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    /// Every line it printed so far.
    pub seen: Vec<String>,
}

pub struct Session<'a> {
    pub dir: &'a Path,
    pub port: u16,
    pub sender: &'a str,
    pub username: &'a str,
    pub password: &'a str,
    pub cancel_on_disconnect: Option<&'a str>,
    pub heartbeat: u32,
}

impl QuickFix {
    pub fn start(s: &Session<'_>) -> QuickFix {
        let (dict, bin) = toolchain();
        let settings = s.dir.join(format!("{}.cfg", s.sender));
        std::fs::write(
            &settings,
            format!(
                "[DEFAULT]\nConnectionType=initiator\nReconnectInterval=1\n\
                 FileStorePath={dir}/qf-store\nFileLogPath={dir}/qf-log\n\
                 StartTime=00:00:00\nEndTime=00:00:00\nUseDataDictionary=Y\n\
                 DataDictionary={dict}\nValidateUserDefinedFields=N\n\
                 [SESSION]\nBeginString=FIX.4.4\nSenderCompID={sender}\nTargetCompID=BOURSE\n\
                 SocketConnectHost=127.0.0.1\nSocketConnectPort={port}\n\
                 HeartBtInt={hb}\nResetOnLogon=N\n",
                dir = s.dir.display(),
                dict = dict.display(),
                sender = s.sender,
                port = s.port,
                hb = s.heartbeat,
            ),
        )
        .unwrap();
        let mut cmd = Command::new(bin);
        cmd.env("FIX_SETTINGS", &settings)
            .env("FIX_USERNAME", s.username)
            .env("FIX_PASSWORD", s.password)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(c) = s.cancel_on_disconnect {
            cmd.env("FIX_COD", c);
        }
        let mut child = cmd.spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        let lines = super::lines_of(child.stdout.take().unwrap());
        QuickFix {
            child,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    pub fn cmd(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Sends an application message (`35=D|11=...`).
    pub fn send(&mut self, fields: &str) {
        self.cmd(&format!("send {fields}"));
    }

    /// Waits for a printed line that satisfies `pred`; fails after 20 s.
    pub fn wait_line(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    assert!(!l.starts_with("ERROR"), "initiator: {l}");
                    if pred(&l) {
                        return l;
                    }
                }
                Err(_) => panic!(
                    "waited 20 s for {what}; the initiator printed:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Waits for a received message that satisfies `pred`.
    pub fn expect(&mut self, what: &str, pred: impl Fn(&Fix) -> bool) -> Fix {
        let l = self.wait_line(what, |l| {
            l.strip_prefix("IN ")
                .is_some_and(|m| pred(&Fix::parse(m, '|')))
        });
        Fix::parse(&l[3..], '|')
    }

    /// Messages QuickFIX sent (admin included) among the lines seen so far.
    pub fn sent(&self) -> Vec<Fix> {
        self.seen
            .iter()
            .filter_map(|l| l.strip_prefix("OUT "))
            .map(|m| Fix::parse(m, '|'))
            .collect()
    }

    /// (next sender seq, next target seq).
    pub fn seqs(&mut self) -> (u64, u64) {
        self.cmd("seqs");
        let l = self.wait_line("SEQS", |l| l.starts_with("SEQS "));
        let mut it = l[5..].split(' ').map(|n| n.parse::<u64>().unwrap());
        (it.next().unwrap(), it.next().unwrap())
    }

    /// Stops it (a Logout first).
    pub fn quit(mut self) {
        self.cmd("quit");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
    }

    /// Kills it: the connection drops without a Logout.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for QuickFix {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A hand-driven FIX connection, for garbled input.
pub struct Raw {
    pub sock: TcpStream,
    buf: Vec<u8>,
    pub sender: String,
}

pub fn checksum(b: &[u8]) -> u8 {
    b.iter().fold(0u8, |a, &x| a.wrapping_add(x))
}

/// A whole message with a correct BodyLength and CheckSum from `35=...|...` body text.
pub fn frame(sender: &str, seq: u64, body: &str) -> Vec<u8> {
    let mut fields: Vec<String> = body.split('|').map(str::to_owned).collect();
    let t = fields.remove(0);
    let mut b =
        format!("{t}\x0149={sender}\x0156=BOURSE\x0134={seq}\x0152=20261205-10:00:00.000\x01");
    for f in fields {
        b.push_str(&f);
        b.push('\x01');
    }
    let mut out = format!("8=FIX.4.4\x019={}\x01{b}", b.len()).into_bytes();
    let sum = checksum(&out);
    out.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
    out
}

impl Raw {
    pub fn connect(port: u16, sender: &str) -> Raw {
        let sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Raw {
            sock,
            buf: Vec::new(),
            sender: sender.to_owned(),
        }
    }

    pub fn write(&mut self, bytes: &[u8]) {
        self.sock.write_all(bytes).unwrap();
    }

    pub fn send(&mut self, seq: u64, body: &str) {
        let f = frame(&self.sender, seq, body);
        self.write(&f);
    }

    /// The next message within `within`, or `None` (also when the server closed).
    pub fn recv(&mut self, within: Duration) -> Option<Fix> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(end) = self
                .buf
                .windows(4)
                .position(|w| w == b"\x0110=")
                .map(|i| i + 8)
                && self.buf.len() >= end
            {
                let m: Vec<u8> = self.buf.drain(..end).collect();
                return Some(Fix::parse(&String::from_utf8_lossy(&m), '\x01'));
            }
            if Instant::now() >= deadline {
                return None;
            }
            let mut chunk = [0u8; 4096];
            match self.sock.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => {}
            }
        }
    }

    /// True once the server has closed the connection.
    pub fn closed_within(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let mut chunk = [0u8; 4096];
            match self.sock.read(&mut chunk) {
                Ok(0) => return true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => {}
            }
        }
        false
    }
}

pub struct Broker {
    pub account: String,
    pub token: String,
    pub key_id: String,
    pub secret: String,
}

/// A user with a trading API key, cash and 1,000 AAPL.
pub async fn broker(server: &Server, op: &Client, name: &str) -> Broker {
    let h = Http::new(&server.base);
    let account = h.register(name).await;
    let (s, v) = h.log_in(name, PASSWORD).await;
    assert_eq!(s, 201, "{v}");
    let token = v["token"].as_str().unwrap().to_owned();
    let (s, v) = h
        .call(
            reqwest::Method::POST,
            "/v1/api-keys",
            Some(&token),
            Some(json!({"label": "fix", "scopes": ["read", "trade"]})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (key_id, secret) = (
        v["id"].as_str().unwrap().to_owned(),
        v["secret"].as_str().unwrap().to_owned(),
    );
    op.fund(&account, "1000000", &[("AAPL", 1000)]).await;
    Broker {
        account,
        token,
        key_id,
        secret,
    }
}

/// A GTC limit order for `account`, entered by the operator over REST.
pub async fn rest_order(op: &Client, account: &str, side: &str, price: &str, qty: u64) -> Value {
    let (s, v) = op
        .post(
            "/v1/orders",
            json!({"symbol": "AAPL", "side": side, "type": "limit", "qty": qty.to_string(),
                   "limit_price": price, "time_in_force": "gtc", "account_id": account}),
        )
        .await
        .unwrap();
    assert_eq!(s, 200, "{v}");
    v
}

pub fn er<'a>(cl: &'a str, exec_type: &'a str) -> impl Fn(&Fix) -> bool + 'a {
    move |m| m.msg_type() == "8" && m.is(11, cl) && m.is(150, exec_type)
}

pub fn fix_env(dir: &std::path::Path, listen: &str) -> Vec<(String, String)> {
    vec![
        ("BOURSE__FIX__LISTEN".into(), listen.into()),
        (
            "BOURSE__FIX__STORE_DIR".into(),
            dir.join("fix-store").display().to_string(),
        ),
    ]
}

pub fn start(store: &Store, env: &[(String, String)]) -> Server {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Server::start(store, &env)
}
