//! Resuming a WebSocket's private channels `since` the last `account_seq` the client saw:
//! the messages it missed, then the live ones, none lost or repeated.
//!
//! The feed's window (`bourse-feed`) serves recent resumes atomically with the live
//! fan-out. One further back is served from history (the read model or PostgreSQL, always
//! at least as far as the feed) page by page, paced by the connection's writer, until the
//! window reaches back to what was sent; then the window takes over. History is ahead of
//! the feed, so a page may go past what the feed has fanned out: the subscription then skips
//! the live messages up to what was sent.

use std::sync::Arc;
use std::time::Duration;

use bourse_core::AccountId;
use bourse_feed::{Conn, Frame, PrivateChannel, Pushed};

use crate::error::ApiError;
use crate::state::AppState;

/// Events read from history per page.
const PAGE: usize = 256;
/// Rounds of history-then-window before giving up (a window that moves faster than
/// history pages can be read).
const ROUNDS: usize = 16;
/// How long one page may wait for the writer to drain the outbox.
const DRAIN_WAIT: Duration = Duration::from_secs(10);

/// Subscribes `conn` to `chans` of `account` from `since` on; answers how many missed
/// messages were queued.
pub(crate) async fn resume(
    s: &AppState,
    conn: &Arc<Conn>,
    account: AccountId,
    chans: &[PrivateChannel],
    mut since: u64,
) -> Result<usize, ApiError> {
    let feed = &s.0.feed;
    let bits = chans.iter().fold(0u8, |b, c| b | c.bit());
    let mut replayed = 0;
    for _ in 0..ROUNDS {
        let behind = match feed.resume_private(conn, account, chans, Some(since)) {
            Ok(r) => {
                // An edge may be a little behind the core: what it has not seen yet is
                // skipped when it comes (history is the core's, not here).
                if since > r.latest && s.0.edge.is_none() {
                    // Ahead of the feed: fine if history has it, else not a number this
                    // account handed out.
                    if let Err(e) = s.0.history.events(account, since, 1).await {
                        feed.unsubscribe_private(conn, chans);
                        return Err(e.into());
                    }
                }
                return Ok(replayed + r.replayed);
            }
            Err(b) => b,
        };
        if let Some(edge) = &s.0.edge {
            return Err(edge.resume_on_core());
        }
        // The missed messages before the window's reach come from history.
        while since + 1 < behind.oldest {
            let page = s.0.history.events(account, since, PAGE).await?;
            if page.events.is_empty() {
                break;
            }
            for t in &page.events {
                since = t.aseq;
                let wanted =
                    bourse_feed::private::channel_of(&t.event).is_some_and(|c| bits & c.bit() != 0);
                if !wanted {
                    continue;
                }
                let frame = Frame::from(bourse_feed::private::message(t).to_string());
                if conn.push(frame) == Pushed::Closed {
                    return Err(closed());
                }
                replayed += 1;
            }
            drained(conn, feed.config().soft_bytes / 2).await?;
        }
    }
    Err(ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "RESUME_UNAVAILABLE",
        "the account's stream moves faster than it can be replayed just now; page through \
         GET /v1/events and subscribe again with a later since",
    ))
}

/// Waits until the connection's writer has taken the outbox below `bytes`.
async fn drained(conn: &Conn, bytes: usize) -> Result<(), ApiError> {
    let deadline = tokio::time::Instant::now() + DRAIN_WAIT;
    while conn.queued_bytes() > bytes {
        if tokio::time::Instant::now() > deadline {
            return Err(closed());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(())
}

fn closed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "RESUME_UNAVAILABLE",
        "the connection stopped taking the replayed messages",
    )
}
