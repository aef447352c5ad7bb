//! One interface over every order book the benches run the mixed flow through: bourse's own,
//! a naive textbook book (the baseline), and — in `benches/compare` — third-party crates.
//!
//! An adapter translates each [`Op`] into its book's API and reports what happened as a
//! [`Tally`]. Whatever an adapter must do for its book to be correct (id translation,
//! workarounds) happens inside [`Venue::apply`], so it is timed as part of that book.

mod bourse;
mod naive;

use std::hint::black_box;

pub use bourse::{Bourse, CountingSink};
pub use naive::Naive;

use crate::flow::{Flow, Op, Tally};

/// An order book driven by the flow.
pub trait Venue: Sized {
    /// Name in the result tables.
    const NAME: &'static str;

    /// A fresh, empty book, pre-sized for `flow` where the API allows it.
    fn new(flow: &Flow) -> Self;

    /// Applies one message.
    fn apply(&mut self, op: &Op) -> Tally;

    /// Best bid and ask, as raw prices.
    fn touch(&self) -> (Option<i64>, Option<i64>);
}

/// A fresh book with the flow's warm-up applied (the steady state a run starts from).
#[must_use]
pub fn prepared<V: Venue>(flow: &Flow) -> V {
    let mut v = V::new(flow);
    for op in &flow.warmup {
        black_box(v.apply(op));
    }
    v
}

/// Applies `ops` and sums what they did.
#[inline(never)]
pub fn run<V: Venue>(v: &mut V, ops: &[Op]) -> Tally {
    let mut t = Tally::default();
    for op in ops {
        t += v.apply(op);
    }
    t
}

/// Checks that `V` does to the flow, message by message, what a correct price-time book
/// does (the tallies recorded at generation), and ends with the same touch. A book that
/// fails must not be timed.
///
/// # Errors
/// The first message where `V` differs, with both tallies.
pub fn verify<V: Venue>(flow: &Flow) -> Result<Tally, String> {
    let mut v = V::new(flow);
    let mut total = Tally::default();
    let phases = [
        ("warm-up", &flow.warmup, &flow.warmup_expected),
        ("measured", &flow.ops, &flow.expected),
    ];
    for (phase, ops, expected) in phases {
        for (i, (op, want)) in ops.iter().zip(expected.iter()).enumerate() {
            let got = v.apply(op);
            if got != *want {
                return Err(format!(
                    "{}: {phase} message {i} {op:?}: got {got:?}, a price-time book gives {want:?}",
                    V::NAME
                ));
            }
            total += got;
        }
    }
    let touch = v.touch();
    if touch != flow.final_touch {
        return Err(format!(
            "{}: final touch {touch:?}, a price-time book ends at {:?}",
            V::NAME,
            flow.final_touch
        ));
    }
    Ok(total)
}
