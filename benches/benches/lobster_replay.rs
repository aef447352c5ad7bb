//! Replays the full AMZN 2012-06-21 LOBSTER day (57,515 NASDAQ messages) through the order
//! book, with every check of the replay on: aggressive replay of each execution, the
//! orderbook-row comparison after every message, and the fill-in of levels from unseen
//! depth. Parsing and book seeding stay outside the timed loop.

use std::hint::black_box;
use std::path::Path;

use bourse_benches::lobster::{
    self, AMZN_2012_06_21_TYPE4_EXCEPTIONS, Day, ReplayOptions, Replayer,
};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

fn amzn_day(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = lobster::data_dir(&root);
    let day = Day::find(&dir, "AMZN").unwrap_or_else(|e| {
        panic!(
            "LOBSTER data (set BOURSE_LOBSTER_DIR; looked in {}): {e}",
            dir.display()
        )
    });
    let options = ReplayOptions {
        type4_exceptions: AMZN_2012_06_21_TYPE4_EXCEPTIONS.to_vec(),
        ..ReplayOptions::default()
    };
    // A replay that fails would time an early exit: prove it clean once, untimed.
    let messages = Replayer::new(&day, options.clone())
        .and_then(|mut r| r.run().map(|s| s.messages))
        .unwrap_or_else(|e| panic!("AMZN replay fails: {e}"));

    let mut group = c.benchmark_group("lobster_replay");
    group.throughput(Throughput::Elements(messages));
    group.bench_function("AMZN_2012-06-21", |b| {
        b.iter_batched(
            || Replayer::new(&day, options.clone()).unwrap_or_else(|e| panic!("seed: {e}")),
            |mut r| match r.run() {
                Ok(stats) => black_box(stats.messages),
                Err(e) => panic!("AMZN replay fails: {e}"),
            },
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

criterion_group!(benches, amzn_day);
criterion_main!(benches);
