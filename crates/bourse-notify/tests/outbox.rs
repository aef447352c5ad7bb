//! The outbox against both stores and real HTTP receivers on 127.0.0.1: idempotent enqueue,
//! `derived_through`, reopen, list and replay, retries, dead letters, per-endpoint isolation,
//! the breaker, and SMS.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use bourse_core::profile::Channel;
use bourse_notify::{Destination, Notifier, NotifyConfig, Status};
use support::*;

const LONG: Duration = Duration::from_secs(20);

fn start(
    place: &Place,
    cfg: NotifyConfig,
    dir: Arc<TestDir>,
    rt: &tokio::runtime::Runtime,
) -> Notifier {
    Notifier::start(cfg, place.store(), dir, rt.handle().clone())
        .unwrap_or_else(|e| panic!("{}: {e}", place.name()))
}

fn statuses(
    n: &Notifier,
    rt: &tokio::runtime::Runtime,
    status: Option<Status>,
) -> Vec<bourse_notify::DeliveryView> {
    rt.block_on(n.list(7, None, status, None, 1000)).unwrap()
}

#[test]
fn enqueue_is_idempotent_and_derived_through_survives_reopen() {
    for place in Place::both("idem") {
        let rt = runtime();
        let rx = Receiver::start(&rt, Behaviour::Ok);
        let dir = TestDir::with(vec![((Channel::Webhook, 1), webhook(&rx.url))]);
        let n = start(&place, fast_config(), dir.clone(), &rt);
        assert_eq!(n.derived_through(), 0);
        let d = |k: &str, s| delivery(k, s, Channel::Webhook, 1);
        n.submit(vec![d("a", 3), d("b", 4), d("a", 3)], 5);
        n.submit(vec![], 6);
        n.submit(vec![d("b", 4), d("c", 8)], 9);
        n.flush();
        assert_eq!(n.derived_through(), 9, "{}", place.name());
        wait_for(LONG, "three deliveries", || {
            statuses(&n, &rt, Some(Status::Delivered)).len() == 3
        });
        let all = statuses(&n, &rt, None);
        let keys: Vec<_> = all.iter().map(|v| v.key.as_str()).collect();
        assert_eq!(keys, ["c", "b", "a"], "newest first ({})", place.name());
        assert!(
            all.iter()
                .all(|v| v.attempts == 1 && v.delivered_at_ns.is_some())
        );
        n.shutdown();
        drop(n);

        // Reopened: the seq survives, re-submitting what is stored adds nothing.
        let n = start(&place, fast_config(), dir, &rt);
        assert_eq!(n.derived_through(), 9, "{}", place.name());
        n.submit(vec![d("a", 3), d("c", 8)], 9);
        n.flush();
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(statuses(&n, &rt, None).len(), 3);
        let got = rx.delivered();
        assert_eq!(got.len(), 3, "{}", place.name());
        assert!(got.iter().all(|g| g.signature_ok));
        let body: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
        assert_eq!(body["id"], got[0].key.as_str(), "the payload goes verbatim");
        assert_eq!(n.stats().sent(Channel::Webhook), 0, "counted per process");
        n.shutdown();
    }
}

#[test]
fn list_filters_pages_and_replays() {
    for place in Place::both("list") {
        let rt = runtime();
        let rx = Receiver::start(&rt, Behaviour::Ok);
        // Webhook 2 does not exist yet: its deliveries end canceled.
        let dir = TestDir::with(vec![((Channel::Webhook, 1), webhook(&rx.url))]);
        let n = start(&place, fast_config(), dir.clone(), &rt);
        n.submit(
            vec![
                delivery("w1-a", 1, Channel::Webhook, 1),
                delivery("w2-a", 1, Channel::Webhook, 2),
                delivery("w1-b", 2, Channel::Webhook, 1),
                delivery("mail", 2, Channel::Email, 0),
            ],
            2,
        );
        n.flush();
        wait_for(LONG, "all ended", || {
            statuses(&n, &rt, Some(Status::Pending)).is_empty()
        });
        let canceled = statuses(&n, &rt, Some(Status::Canceled));
        let keys: Vec<_> = canceled.iter().map(|v| v.key.as_str()).collect();
        assert_eq!(keys, ["mail", "w2-a"], "{}", place.name());
        assert!(
            canceled[0]
                .last_error
                .as_deref()
                .unwrap()
                .contains("email is not configured")
        );
        assert!(
            canceled[1]
                .last_error
                .as_deref()
                .unwrap()
                .contains("no longer exists")
        );
        let w1 = rt
            .block_on(n.list(7, Some((Channel::Webhook, 1)), None, None, 10))
            .unwrap();
        assert_eq!(
            w1.iter().map(|v| v.key.as_str()).collect::<Vec<_>>(),
            ["w1-b", "w1-a"]
        );
        let page = rt
            .block_on(n.list(7, None, None, Some(w1[0].id), 2))
            .unwrap();
        assert_eq!(
            page.iter().map(|v| v.key.as_str()).collect::<Vec<_>>(),
            ["w2-a", "w1-a"]
        );
        assert!(
            rt.block_on(n.list(8, None, None, None, 10))
                .unwrap()
                .is_empty()
        );

        let w2 = canceled[1].id;
        assert!(!rt.block_on(n.replay(8, w2)).unwrap(), "not the account's");
        assert!(
            !rt.block_on(n.replay(7, w1[0].id)).unwrap(),
            "delivered: not replayable"
        );
        dir.map
            .lock()
            .insert((Channel::Webhook, 2), webhook(&rx.url));
        assert!(rt.block_on(n.replay(7, w2)).unwrap());
        wait_for(LONG, "the replayed delivery", || {
            rx.delivered().iter().any(|g| g.key == "w2-a")
        });
        wait_for(LONG, "recorded", || {
            statuses(&n, &rt, Some(Status::Delivered)).len() == 3
        });
        n.shutdown();
    }
}

#[test]
fn in_flight_and_pending_deliveries_are_attempted_again_after_a_restart() {
    for place in Place::both("restart") {
        let rt = runtime();
        let hang = Receiver::start(&rt, Behaviour::Hang);
        let dir = TestDir::with(vec![((Channel::Webhook, 1), webhook(&hang.url))]);
        let cfg = NotifyConfig {
            endpoint_concurrency: 1,
            ..fast_config()
        };
        let n = start(&place, cfg.clone(), dir.clone(), &rt);
        n.submit(
            vec![
                delivery("x", 1, Channel::Webhook, 1),
                delivery("y", 1, Channel::Webhook, 1),
            ],
            1,
        );
        n.flush();
        wait_for(LONG, "the first attempt", || hang.attempts() == 1);
        n.shutdown();
        drop(n);
        assert!(hang.delivered().is_empty());

        let ok = Receiver::start(&rt, Behaviour::Ok);
        dir.map
            .lock()
            .insert((Channel::Webhook, 1), webhook(&ok.url));
        let n = start(&place, cfg, dir, &rt);
        wait_for(LONG, "both delivered after the restart", || {
            ok.delivered().len() == 2
        });
        let mut keys: Vec<_> = ok.delivered().into_iter().map(|g| g.key).collect();
        keys.sort();
        assert_eq!(keys, ["x", "y"], "{}", place.name());
        n.shutdown();
    }
}

#[test]
fn a_failing_receiver_gets_the_delivery_once_after_retries() {
    for place in Place::both("retry") {
        let rt = runtime();
        let rx = Receiver::start(&rt, Behaviour::FailFirst(3));
        let dir = TestDir::with(vec![((Channel::Webhook, 1), webhook(&rx.url))]);
        let n = start(&place, fast_config(), dir, &rt);
        n.submit(vec![delivery("r", 1, Channel::Webhook, 1)], 1);
        wait_for(LONG, "delivered", || {
            statuses(&n, &rt, Some(Status::Delivered)).len() == 1
        });
        let got = rx.delivered();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].key, "r");
        assert!(got[0].signature_ok);
        assert_eq!(rx.attempts(), 4);
        let v = &statuses(&n, &rt, None)[0];
        assert_eq!((v.attempts, v.status), (4, Status::Delivered));
        assert_eq!(got[0].delivery, v.id.to_string());
        assert_eq!(v.last_error.as_deref(), Some("HTTP 500"));
        let s = n.stats();
        assert_eq!(s.failed.load(std::sync::atomic::Ordering::Relaxed), 3);
        assert_eq!(s.retried.load(std::sync::atomic::Ordering::Relaxed), 3);
        assert_eq!(s.sent(Channel::Webhook), 1);
        assert_eq!(s.buckets().2, 1);
        n.shutdown();
    }
}

#[test]
fn dead_letters_are_replayed_when_the_receiver_is_back() {
    for place in Place::both("dead") {
        let rt = runtime();
        let rx = Receiver::start(&rt, Behaviour::AlwaysFail);
        let dir = TestDir::with(vec![((Channel::Webhook, 1), webhook(&rx.url))]);
        let cfg = NotifyConfig {
            max_attempts: 3,
            breaker_failures: 100,
            ..fast_config()
        };
        let n = start(&place, cfg, dir, &rt);
        n.submit(
            vec![
                delivery("d1", 1, Channel::Webhook, 1),
                delivery("d2", 2, Channel::Webhook, 1),
            ],
            2,
        );
        wait_for(LONG, "dead letters", || {
            statuses(&n, &rt, Some(Status::Dead)).len() == 2
        });
        assert_eq!(rx.attempts(), 6, "{}", place.name());
        assert!(statuses(&n, &rt, None).iter().all(|v| v.attempts == 3));
        rx.set(Behaviour::Ok);
        let replayed = rt.block_on(n.replay_dead(7, Channel::Webhook, 1)).unwrap();
        assert_eq!(replayed, 2);
        assert_eq!(
            rt.block_on(n.replay_dead(7, Channel::Webhook, 1)).unwrap(),
            0
        );
        wait_for(LONG, "delivered", || {
            statuses(&n, &rt, Some(Status::Delivered)).len() == 2
        });
        let mut keys: Vec<_> = rx.delivered().into_iter().map(|g| g.key).collect();
        keys.sort();
        assert_eq!(keys, ["d1", "d2"]);
        assert_eq!(
            n.stats()
                .dead_lettered
                .load(std::sync::atomic::Ordering::Relaxed),
            2
        );
        n.shutdown();
    }
}

#[test]
fn a_slow_endpoint_does_not_delay_a_fast_one() {
    let place = Place::embedded();
    let rt = runtime();
    let slow = Receiver::start(&rt, Behaviour::Slow(Duration::from_secs(2)));
    let fast = Receiver::start(&rt, Behaviour::Ok);
    let dir = TestDir::with(vec![
        ((Channel::Webhook, 1), webhook(&slow.url)),
        ((Channel::Webhook, 2), webhook(&fast.url)),
    ]);
    let cfg = NotifyConfig {
        endpoint_concurrency: 1,
        ..fast_config()
    };
    let n = start(&place, cfg, dir, &rt);
    // The slow endpoint's deliveries come first in the outbox.
    let mut batch: Vec<_> = (0..3)
        .map(|i| delivery(&format!("slow-{i}"), 1, Channel::Webhook, 1))
        .collect();
    batch.extend((0..50).map(|i| delivery(&format!("fast-{i}"), 1, Channel::Webhook, 2)));
    n.submit(batch, 1);
    wait_for(LONG, "the slow endpoint's second request", || {
        slow.attempts() >= 2
    });
    let fast_got = fast.delivered();
    assert_eq!(
        fast_got.len(),
        50,
        "every fast delivery arrived before the slow one's second"
    );
    n.shutdown();
}

#[test]
fn the_breaker_stops_attempts_while_open() {
    let place = Place::embedded();
    let rt = runtime();
    let rx = Receiver::start(&rt, Behaviour::AlwaysFail);
    let dir = TestDir::with(vec![((Channel::Webhook, 1), webhook(&rx.url))]);
    let cfg = NotifyConfig {
        endpoint_concurrency: 1,
        breaker_failures: 3,
        breaker_open_ms: 60_000,
        max_attempts: 100,
        ..fast_config()
    };
    let n = start(&place, cfg, dir, &rt);
    n.submit(
        (0..5)
            .map(|i| delivery(&format!("b{i}"), 1, Channel::Webhook, 1))
            .collect(),
        1,
    );
    wait_for(LONG, "three failures", || rx.attempts() >= 3);
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(rx.attempts(), 3, "no attempt while the breaker is open");
    let s = n.stats();
    assert_eq!(
        s.breaker_opens.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert!(s.deferred.load(std::sync::atomic::Ordering::Relaxed) > 0);
    let pending = statuses(&n, &rt, Some(Status::Pending));
    assert_eq!(pending.len(), 5, "rescheduled, not dead");
    n.shutdown();
}

#[test]
fn sms_goes_to_the_provider_with_basic_auth_and_form_fields() {
    use axum::extract::{Form, Path};
    use axum::http::{HeaderMap, StatusCode};
    use std::collections::HashMap;

    type Seen = Arc<parking_lot::Mutex<Vec<(String, String, HashMap<String, String>)>>>;
    let seen: Seen = Arc::default();
    let rt = runtime();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let s2 = seen.clone();
    let app = axum::Router::new().route(
        "/2010-04-01/Accounts/{sid}/Messages.json",
        axum::routing::post(
            move |Path(sid): Path<String>, h: HeaderMap, Form(f): Form<HashMap<String, String>>| {
                let seen = s2.clone();
                async move {
                    let auth = h
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    seen.lock().push((sid, auth, f));
                    StatusCode::CREATED
                }
            },
        ),
    );
    rt.spawn(async move { axum::serve(listener, app).await });
    let place = Place::embedded();
    let dir = TestDir::with(vec![(
        (Channel::Sms, 0),
        Destination::Sms {
            to: "+15550001111".to_owned(),
        },
    )]);
    let cfg = NotifyConfig {
        sms_url: format!("http://{addr}/"),
        sms_account_sid: "AC123".to_owned(),
        sms_auth_token: "tok".to_owned(),
        sms_from: "+15559990000".to_owned(),
        ..fast_config()
    };
    let n = start(&place, cfg, dir, &rt);
    let mut d = delivery("code-1", 1, Channel::Sms, 0);
    d.kind = "verification_code".to_owned();
    d.payload = serde_json::json!({"id": "code-1", "type": "verification_code",
        "data": {"purpose": "verify", "code_sealed": hex::encode("482913"), "contact": "phone"}});
    n.submit(vec![d, delivery("fill-1", 2, Channel::Sms, 0)], 2);
    wait_for(LONG, "two messages", || seen.lock().len() == 2);
    let seen = seen.lock().clone();
    for (sid, auth, form) in &seen {
        assert_eq!(sid, "AC123");
        // base64("AC123:tok")
        assert_eq!(auth, "Basic QUMxMjM6dG9r");
        assert_eq!(form.get("To").map(String::as_str), Some("+15550001111"));
        assert_eq!(form.get("From").map(String::as_str), Some("+15559990000"));
    }
    let bodies: Vec<_> = seen.iter().map(|s| s.2["Body"].clone()).collect();
    assert!(bodies.iter().any(|b| b.contains("482913")), "{bodies:?}");
    assert!(
        bodies.iter().any(|b| b.contains("BUY 1 AAPL @ 10")),
        "{bodies:?}"
    );
    wait_for(LONG, "recorded", || {
        statuses(&n, &rt, Some(Status::Delivered)).len() == 2
    });
    assert_eq!(n.stats().sent(Channel::Sms), 2);
    n.shutdown();
}
