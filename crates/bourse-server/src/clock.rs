//! The market's clock: reads the trading calendar and moves the engine into each session
//! as its time comes, with a journaled `SetSession` command (the engine reads no clock, so
//! a replay needs none).
//!
//! At start, before the listeners open, it sends the session the calendar says now; the
//! engine walks there through every session between (a restart after a missed close still
//! closes). Then it sleeps until
//! the calendar's next change, at most a minute at a time.

use std::sync::Arc;
use std::time::Duration;

use bourse_api::Gateway;
use bourse_api::gateway::GatewayError;
use bourse_calendar::Calendar;
use bourse_core::{Command, Session};

/// The longest sleep between two looks at the calendar.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// Moves the engine to the session the calendar says now, before any listener opens: a
/// fresh engine starts in continuous trading, and an order placed before the clock's first
/// command would trade in it at night. Tries for a few seconds (the journal may be slow to
/// answer); the session it set, if any, for [`run`].
pub async fn open(calendar: &Calendar, gateway: &Gateway) -> Option<Session> {
    for _ in 0..10 {
        let t = calendar.now(bourse_api::auth::now());
        let session = calendar.session_at(t);
        match gateway.execute(Command::SetSession { session }).await {
            Ok(_) => {
                tracing::info!(%session, at = %calendar.rfc3339(t), "market session at start");
                return Some(session);
            }
            Err(GatewayError::Closed) => return None,
            Err(e) => {
                tracing::warn!(%session, "could not set the session at start: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    None
}

/// Runs until the gateway closes (the server stops); `sent` is the session [`open`] set.
pub async fn run(calendar: Arc<Calendar>, gateway: Arc<Gateway>, mut sent: Option<Session>) {
    loop {
        let real = bourse_api::auth::now();
        let t = calendar.now(real);
        let session = calendar.session_at(t);
        if sent != Some(session) {
            match gateway.execute(Command::SetSession { session }).await {
                Ok(_) => {
                    tracing::info!(%session, at = %calendar.rfc3339(t), "market session");
                    sent = Some(session);
                }
                Err(GatewayError::Closed) => return,
                Err(e) => {
                    // Overloaded or a journal outage: try again shortly.
                    tracing::warn!(%session, "could not change the session: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
        }
        let wait = calendar.next_transition(t).map_or(MAX_SLEEP, |(at, _)| {
            let real_at = calendar.clock().to_real(at);
            Duration::from_nanos(real_at.get().saturating_sub(real.get()))
        });
        // A millisecond past the change, so the calendar reads the new session.
        tokio::time::sleep(wait.min(MAX_SLEEP) + Duration::from_millis(1)).await;
    }
}
