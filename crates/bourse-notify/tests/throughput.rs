//! Throughput on this machine (ignored by default; `cargo test -p bourse-notify --release
//! --test throughput -- --ignored --nocapture`): deliveries enqueued per second, and
//! delivered (2xx recorded) per second to one local receiver.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use bourse_core::profile::Channel;
use bourse_notify::{Notifier, NotifyConfig};
use support::*;

#[test]
#[ignore = "a measurement, not a check"]
fn enqueue_and_delivery_rates() {
    const N: u64 = 100_000;
    for place in Place::both("rate") {
        let rt = runtime();
        let rx = Receiver::start(&rt, Behaviour::Ok);
        let dir = TestDir::with(vec![
            ((Channel::Webhook, 1), webhook(&rx.url)),
            ((Channel::Webhook, 2), webhook(&rx.url)),
        ]);
        let cfg = NotifyConfig {
            endpoint_concurrency: 32,
            endpoint_queue: 8192,
            ..fast_config()
        };
        let n = Notifier::start(cfg, place.store(), dir, rt.handle().clone()).unwrap();
        let start = Instant::now();
        for b in 0..N / 100 {
            let batch = (0..100)
                .map(|i| delivery(&format!("k-{b}-{i}"), b + 1, Channel::Webhook, 1 + i % 2))
                .collect();
            n.submit(batch, b + 1);
        }
        n.flush();
        let enq = start.elapsed();
        wait_for(Duration::from_secs(300), "all delivered", || {
            n.stats().sent(Channel::Webhook) == N
        });
        let all = start.elapsed();
        #[allow(clippy::cast_precision_loss)]
        let rate = |d: Duration| N as f64 / d.as_secs_f64();
        println!(
            "{}: enqueued {N} in {enq:?} ({:.0}/s); delivered all in {all:?} ({:.0}/s)",
            place.name(),
            rate(enq),
            rate(all)
        );
        n.shutdown();
    }
}
