//! Real-data replays: NASDAQ order flow (LOBSTER sample files, see the README next to them)
//! through the order book, checked against NASDAQ's own book after every message.
//!
//! The data lives outside the repository: `$BOURSE_LOBSTER_DIR`, else
//! `<workspace>/../shared/data/lobster`. Missing data is a failure, not a skip.

use std::path::Path;
use std::sync::OnceLock;

use bourse_benches::lobster::{
    self, Applied, Day, MessageKind, Quote, ReplayError, ReplayOptions, Replayer, Type4Exception,
    is_synthetic,
};
use bourse_book::{BookEvent, OrderBook};
use bourse_core::{OrderId, Price, Qty, Side};

/// The AMZN type-4 rows (message numbers = data rows, header excluded) that break price-time
/// priority in the data itself, so they are applied as plain reductions of the named order.
const AMZN_EXCEPTIONS: [usize; 8] = [
    // A level holds [older, newer]; in one timestamp the file executes the NEWER order in full,
    // then the older one in full (the next row). The whole level goes in that timestamp, so
    // the fills agree with FIFO as a set; only their order within the sweep is swapped.
    1947, 3173, 25611, 38826,
    // Order 284135299 (added at row 56083, ask 2208100) is executed 100, 20, 20, 20 while 124
    // shares that rested at that price before it stay in front; one of them (283668256) is
    // executed only at row 56159. This really is out of time priority in the data; the cause
    // (some NASDAQ order attribute) cannot be read from the file.
    56084, 56085, 56086, 56087,
];

fn day(ticker: &str) -> &'static Day {
    static AAPL: OnceLock<Day> = OnceLock::new();
    static AMZN: OnceLock<Day> = OnceLock::new();
    let cell = match ticker {
        "AAPL" => &AAPL,
        "AMZN" => &AMZN,
        _ => unreachable!("no such sample: {ticker}"),
    };
    cell.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let dir = lobster::data_dir(&root);
        assert!(
            dir.is_dir(),
            "LOBSTER sample data not found at {} (set BOURSE_LOBSTER_DIR to the directory \
             holding the AAPL/AMZN *_message_*.csv and *_orderbook_*.csv files)",
            dir.display()
        );
        Day::find(&dir, ticker).unwrap_or_else(|e| panic!("cannot load {ticker}: {e}"))
    })
}

/// Unwraps with the error's own message (it names the message number and the orders).
fn ok<T>(r: Result<T, ReplayError>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn options(exceptions: &[usize]) -> ReplayOptions {
    ReplayOptions {
        type4_exceptions: exceptions.to_vec(),
        ..ReplayOptions::default()
    }
}

fn better_or_equal(side: Side, a: Price, b: Price) -> bool {
    match side {
        Side::Buy => a >= b,
        Side::Sell => a <= b,
    }
}

/// Counts of the independent known-part check.
#[derive(Default, Debug, PartialEq, Eq)]
struct KnownPart {
    compared: u64,
    /// Levels of a row that rose from depth the file never showed.
    unknown: u64,
}

/// Checks, independently of the replayer's own check, that the book right after message k
/// (before anything is taken from row k) equals row k on the part that can be known: on each
/// side, the levels of row k at or better than the worst level of row k-1 when row k-1 showed
/// all `N` levels of that side, else all of row k. (Row 1 plays row 0 for message 1: the book
/// was seeded from it.)
fn check_known_part(r: &Replayer<'_>, counts: &mut KnownPart) {
    let snaps = r.day().snapshots();
    let n = snaps.levels();
    let k = r.position();
    for side in [Side::Buy, Side::Sell] {
        let row = snaps.side(k - 1, side);
        let prev = snaps.side(k.saturating_sub(2), side);
        let boundary = (prev.len() == n).then(|| prev[n - 1].price);
        let in_view = |p: Price| boundary.is_none_or(|b| better_or_equal(side, p, b));
        let known_row: Vec<Quote> = row.iter().copied().filter(|q| in_view(q.price)).collect();
        let known_book: Vec<Quote> = r
            .book()
            .depth(side, n)
            .filter(|l| in_view(l.price))
            .map(|l| Quote {
                price: l.price,
                qty: l.qty,
            })
            .collect();
        assert_eq!(known_row, known_book, "after message {k}, {side} side");
        counts.compared += known_row.len() as u64;
        counts.unknown += (row.len() - known_row.len()) as u64;
    }
}

fn top(book: &OrderBook, side: Side) -> Option<Quote> {
    let l = match side {
        Side::Buy => book.best_bid(),
        Side::Sell => book.best_ask(),
    }?;
    Some(Quote {
        price: l.price,
        qty: l.qty,
    })
}

#[test]
fn aapl_known_part_of_top_10_levels_matches_after_every_message() {
    let day = day("AAPL");
    assert_eq!((day.messages().len(), day.snapshots().levels()), (999, 10));
    let mut r = ok(Replayer::new(day, options(&[])));
    let mut counts = KnownPart::default();
    while ok(r.step_with(|r| check_known_part(r, &mut counts))).is_some() {}

    // 999 rows x 2 sides x 10 levels = 19,980: each of the 318 rows where a message emptied a
    // level shows one level that rose from level 11, which the file never showed before.
    assert_eq!(
        counts,
        KnownPart {
            compared: 19_662,
            unknown: 318
        }
    );
    let s = r.stats();
    assert_eq!(s.messages, 999);
    assert_eq!(s.by_type, [0, 471, 0, 369, 98, 61, 0, 0]);
    assert_eq!(
        (s.seeded_levels, s.levels_compared, s.levels_injected),
        (19, 19_662, 318)
    );
    // 8 deletes and 8 executions name orders older than the file; levels pushed below 10 go.
    assert_eq!((s.stand_in_targets, s.levels_dropped), (16, 328));
}

#[test]
fn amzn_best_bid_and_ask_match_after_every_message() {
    let day = day("AMZN");
    let rows = day.snapshots();
    assert_eq!((day.messages().len(), rows.levels()), (57_515, 1));
    let mut r = ok(Replayer::new(day, options(&AMZN_EXCEPTIONS)));
    let mut counts = KnownPart::default();
    let mut touches = 0_u64;
    while let Some(step) = ok(r.step_with(|r| check_known_part(r, &mut counts))) {
        // After the step the level that rose from depth 2 (when a message emptied the best
        // level) is filled in from the row; everything else came from the messages.
        for side in [Side::Buy, Side::Sell] {
            let expected = rows.side(step.number - 1, side).first().copied();
            assert_eq!(
                top(r.book(), side),
                expected,
                "after message {}, {side}",
                step.number
            );
            touches += 1;
        }
    }
    assert_eq!(touches, 2 * 57_515);
    // The 13,953 side-rows where a message emptied the best level show a best level that was
    // at depth 2, never visible in a 1-level file: only those come from the row itself.
    assert_eq!(
        counts,
        KnownPart {
            compared: 101_077,
            unknown: 13_953
        }
    );
    let s = r.stats();
    assert_eq!(s.by_type, [0, 27_845, 16, 18_235, 8_974, 2_445, 0, 0]);
    assert_eq!((s.levels_compared, s.levels_injected), (101_077, 13_953));
    // Types 2/3/4 naming an order the file never added (or one that sat at unseen depth).
    assert_eq!(
        (s.stand_in_targets, s.levels_dropped),
        (4 + 5_950 + 4_492, 13_604)
    );
}

/// Per-file type-4 tallies from the book's own fill events.
#[derive(Default, Debug, PartialEq, Eq)]
struct Executions {
    /// One fill, of exactly the named order (added in the file).
    hit_named: u64,
    /// One fill, of the synthetic stand-in for a named order that predates the file.
    hit_stand_in: u64,
    reduced: Vec<Type4Exception>,
}

fn replay_executions(ticker: &str, exceptions: &[usize]) -> Executions {
    let day = day(ticker);
    let mut r = ok(Replayer::new(day, options(exceptions)));
    let mut x = Executions::default();
    let mut named_was_resting = false;
    loop {
        // Whether the named order rests just before its execution, seen from outside.
        let next = day.messages().get(r.position()).copied();
        if let Some(m) = next {
            named_was_resting = r.book().order(m.order_id).is_some();
        }
        let Some(step) = ok(r.step()) else { break };
        if step.message.kind != MessageKind::ExecuteVisible {
            continue;
        }
        let m = step.message;
        if let Applied::Reduced(e) = step.applied {
            assert!(
                r.events()
                    .iter()
                    .all(|e| !matches!(e, BookEvent::Fill { .. }))
            );
            x.reduced.push(e);
            continue;
        }
        let fills: Vec<_> = r
            .events()
            .iter()
            .filter_map(|e| match *e {
                BookEvent::Fill {
                    maker,
                    price,
                    qty,
                    taker_side,
                    taker_leaves,
                    ..
                } => Some((maker, price, qty, taker_side, taker_leaves)),
                _ => None,
            })
            .collect();
        let [(maker, price, qty, taker_side, leaves)] = fills[..] else {
            panic!(
                "message {}: expected exactly one fill, got {:?}",
                step.number,
                r.events()
            );
        };
        assert_eq!(
            (price, qty, taker_side, leaves),
            (m.price, m.size, m.side.opposite(), Qty::ZERO),
            "message {}",
            step.number
        );
        if named_was_resting {
            assert_eq!(maker, m.order_id, "message {}", step.number);
            x.hit_named += 1;
        } else {
            assert!(is_synthetic(maker), "message {}: hit {maker}", step.number);
            x.hit_stand_in += 1;
        }
    }
    x
}

#[test]
fn aapl_every_execution_replayed_aggressively_hits_the_named_order() {
    let x = replay_executions("AAPL", &[]);
    assert_eq!(
        x,
        Executions {
            hit_named: 90,
            hit_stand_in: 8,
            reduced: vec![]
        }
    );
}

#[test]
fn amzn_executions_replayed_aggressively_hit_the_named_order_but_8_known_rows() {
    // The bench replays with the library's copy of this list.
    assert_eq!(AMZN_EXCEPTIONS, lobster::AMZN_2012_06_21_TYPE4_EXCEPTIONS);
    let x = replay_executions("AMZN", &AMZN_EXCEPTIONS);
    assert_eq!((x.hit_named, x.hit_stand_in), (4_474, 4_492));
    assert_eq!(x.hit_named + x.hit_stand_in + x.reduced.len() as u64, 8_974);

    // Each exception: who an aggressive order would have met instead.
    let got: Vec<(usize, u64, Option<u64>, u64)> = x
        .reduced
        .iter()
        .map(|e| {
            let front = (!is_synthetic(e.front)).then(|| e.front.get());
            (e.number, e.named.get(), front, e.front_qty.whole_shares())
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (1947, 31_486_478, Some(31_486_027), 4),
            (3173, 38_960_266, Some(38_960_264), 400),
            (25611, 149_832_597, Some(149_832_596), 100),
            (38826, 202_650_720, Some(202_650_719), 30),
            // The 124 shares ahead stand in for orders resting before 284135299 arrived.
            (56084, 284_135_299, None, 124),
            (56085, 284_135_299, None, 124),
            (56086, 284_135_299, None, 124),
            (56087, 284_135_299, None, 124),
        ]
    );
    // The swapped sweeps: the very next row, same timestamp, executes the order in front.
    let msgs = day("AMZN").messages();
    for e in &x.reduced[..4] {
        let (this, next) = (msgs[e.number - 1], msgs[e.number]);
        assert_eq!(next.kind, MessageKind::ExecuteVisible);
        assert_eq!(
            (next.time_ns, next.order_id),
            (this.time_ns, e.front),
            "row {}",
            e.number
        );
    }
}

#[test]
fn amzn_replay_without_the_exceptions_fails_at_the_first_swapped_sweep() {
    let mut r = ok(Replayer::new(day("AMZN"), options(&[])));
    let err = r.run().unwrap_err();
    let ReplayError::Type4Missed {
        number: 1947,
        named,
        events,
    } = &err
    else {
        panic!("expected a missed execution at message 1947, got {err}");
    };
    assert_eq!(*named, OrderId::new(31_486_478));
    assert!(
        events.iter().any(|e| matches!(e,
            BookEvent::Fill { maker, qty, .. } if *maker == OrderId::new(31_486_027) && qty.whole_shares() == 4)),
        "{err}"
    );
}

#[test]
fn listing_a_row_that_follows_priority_as_an_exception_is_refused() {
    // Row 1948 is the second half of the first swapped sweep: a plain FIFO execution.
    let mut r = ok(Replayer::new(day("AMZN"), options(&[1947, 1948])));
    let err = r.run().unwrap_err();
    assert!(
        matches!(err, ReplayError::NotAnException { number: 1948, .. }),
        "{err}"
    );
}
