#![allow(clippy::unwrap_used)]
mod support;
use bourse_core::profile::Channel;
use bourse_notify::{Notifier, NotifyConfig};
use std::time::{Duration, Instant};
use support::*;

#[test]
#[ignore = "measure"]
fn store_only() {
    const N: u64 = 100_000;
    for place in Place::both("storeonly") {
        let rt = runtime();
        let dir = TestDir::with(vec![]);
        let n = Notifier::start(fast_config(), place.store(), dir, rt.handle().clone()).unwrap();
        let start = Instant::now();
        for b in 0..N / 100 {
            let batch = (0..100)
                .map(|i| delivery(&format!("k-{b}-{i}"), b + 1, Channel::Webhook, 1 + i % 2))
                .collect();
            n.submit(batch, b + 1);
        }
        n.flush();
        wait_for(Duration::from_secs(300), "all done", || {
            n.stats()
                .canceled
                .load(std::sync::atomic::Ordering::Relaxed)
                == N
        });
        println!("{}: {:?}", place.name(), start.elapsed());
        n.shutdown();
    }
}
