//! `bourse`: the exchange server binary.
//!
//! Today it carries only the matching core; the server (`serve`, `demo`, `replay`, `bench`)
//! is wired here as the engine, journal, API and feed crates land.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cmd = std::env::args().nth(1).unwrap_or_else(|| "demo".to_owned());
    match cmd.as_str() {
        "--version" | "-V" | "version" => {
            println!("bourse {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        "demo" | "serve" => {
            println!(
                "bourse {}: the matching core is built and tested; the server ('{cmd}') is not \
                 yet. Try `make test` (scenario, property and NASDAQ-replay tests) or `make bench`.",
                env!("CARGO_PKG_VERSION")
            );
            ExitCode::SUCCESS
        }
        other => {
            eprintln!("bourse: unknown command '{other}' (known: demo, serve, version)");
            ExitCode::from(2)
        }
    }
}
