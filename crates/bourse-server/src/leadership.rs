//! The primary's side of leadership (DESIGN §9, PostgreSQL journal only): take the lease
//! before writing, end the previous writer's sessions, renew the lease while serving, and
//! step down — exit at once with [`DEPOSED_EXIT`] — the moment a renewal finds another
//! token. Whatever this process had not made durable was never acknowledged, and the
//! journal refuses its appends anyway (the fencing token), so exiting loses nothing; its
//! supervisor restarts it with `--standby`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bourse_journal::{Lease, LeaseOptions};

use crate::config::{Backend, Config};

/// The exit status of a primary that found its lease taken over.
pub const DEPOSED_EXIT: i32 = 3;

/// The lease settings for this process, or `None` with the file journal (one machine, its
/// directory lock is the only writer check there is).
pub fn lease_options(cfg: &Config) -> Result<Option<LeaseOptions>> {
    let Backend::Postgres { url, schema } = cfg.backend()? else {
        return Ok(None);
    };
    let ha = &cfg.ha;
    if ha.renew_ms == 0 || ha.renew_ms * 2 > ha.lease_ttl_ms {
        bail!(
            "ha.renew_ms = {} must be more than 0 and at most half of ha.lease_ttl_ms = {}",
            ha.renew_ms,
            ha.lease_ttl_ms
        );
    }
    let holder = if ha.holder.is_empty() {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "localhost".to_owned());
        format!("{host}:{}", std::process::id())
    } else {
        ha.holder.clone()
    };
    Ok(Some(LeaseOptions {
        url,
        schema,
        holder,
        ttl: Duration::from_millis(ha.lease_ttl_ms),
        // A renewal slower than the lease's life is as good as lost.
        io_timeout: Duration::from_millis(ha.lease_ttl_ms.max(1_000)),
    }))
}

/// Takes the lease for a primary starting up: at once if it is free or lapsed, else after
/// waiting up to `ha.acquire_wait_ms` for it to lapse (a crashed predecessor's). Then ends
/// any session still holding the journal's writer lock (a paused predecessor's). Returns
/// the lease and the fencing token.
pub fn acquire(cfg: &Config, opts: LeaseOptions) -> Result<(Lease, i64)> {
    let mut lease = Lease::connect(opts).context("connecting to the lease")?;
    let wait = Duration::from_millis(cfg.ha.acquire_wait_ms);
    let start = Instant::now();
    loop {
        if let Some(token) = lease.try_acquire().context("taking the lease")? {
            let ended = lease
                .fence_out()
                .context("ending the previous writer's sessions")?;
            tracing::info!(
                token,
                holder = %lease.options().holder,
                ended_sessions = ended,
                "lease taken: this process writes the journal"
            );
            return Ok((lease, token));
        }
        if start.elapsed() >= wait {
            let held = lease.view().ok().flatten();
            bail!(
                "the journal's lease is held by {} (fencing token {}, {} ms left): another \
                 primary is running; stop it first, or start this one with --standby",
                held.as_ref().map_or("?", |v| v.holder.as_str()),
                held.as_ref().map_or(0, |v| v.token),
                held.as_ref().map_or(0, |v| v.expires_in_ms),
            );
        }
        std::thread::sleep(Duration::from_millis(cfg.ha.poll_ms.clamp(10, 1_000)));
    }
}

/// What the primary's health shows of its lease.
#[derive(Debug, Default)]
pub struct LeaseState {
    pub token: AtomicI64,
    /// Renewals that failed in a row (the database unreachable): past the lease's life a
    /// standby may take over, and this process learns it at the next renewal.
    pub failing: AtomicI64,
}

/// Renews the lease every `every` until `stop`; exits the process with [`DEPOSED_EXIT`] if
/// a renewal finds the lease taken over. Returns the lease on `stop` (to release it).
pub fn keep(
    mut lease: Lease,
    token: i64,
    every: Duration,
    stop: Arc<AtomicBool>,
    state: Arc<LeaseState>,
) -> Result<JoinHandle<Lease>> {
    state.token.store(token, Ordering::Relaxed);
    std::thread::Builder::new()
        .name("bourse-lease".into())
        .spawn(move || {
            let mut next = Instant::now() + every;
            while !stop.load(Ordering::Acquire) {
                let now = Instant::now();
                if now < next {
                    std::thread::sleep((next - now).min(Duration::from_millis(50)));
                    continue;
                }
                next = now + every;
                match lease.renew(token) {
                    Ok(true) => {
                        if state.failing.swap(0, Ordering::Relaxed) > 0 {
                            tracing::info!(token, "lease renewed again");
                        }
                    }
                    Ok(false) => step_down(&mut lease, token),
                    Err(e) => {
                        if state.failing.fetch_add(1, Ordering::Relaxed) == 0 {
                            tracing::warn!(token, "renewing the lease failed: {e}; retrying");
                        }
                    }
                }
            }
            lease
        })
        .context("starting the lease thread")
}

fn step_down(lease: &mut Lease, token: i64) -> ! {
    let now = lease.view().ok().flatten();
    let msg = format!(
        "deposed: the journal's lease now carries fencing token {} held by {} (ours was \
         {token}); another process leads, so this one stops at once (nothing it had not \
         made durable was acknowledged)",
        now.as_ref().map_or(0, |v| v.token),
        now.as_ref().map_or("?", |v| v.holder.as_str()),
    );
    tracing::error!("{msg}");
    eprintln!("bourse {msg}");
    std::process::exit(DEPOSED_EXIT);
}
