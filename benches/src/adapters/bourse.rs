//! bourse's own book behind the [`Venue`] interface.

use bourse_book::{BookEvent, EventSink, OrderBook};

use super::Venue;
use crate::flow::{self, Flow, Op, Tally};

/// An event sink that only counts: fills, traded quantity and rejections. What a benchmark
/// uses instead of a growing `Vec`.
#[derive(Clone, Copy, Debug, Default)]
pub struct CountingSink {
    pub events: u64,
    pub tally: Tally,
}

impl EventSink for CountingSink {
    #[inline]
    fn emit(&mut self, event: BookEvent) {
        self.events += 1;
        match event {
            BookEvent::Fill { qty, .. } => {
                self.tally.fills += 1;
                self.tally.qty += qty.whole_shares();
            }
            BookEvent::Rejected { .. } => self.tally.rejects += 1,
            _ => {}
        }
    }
}

/// [`OrderBook`], pre-sized for the flow.
#[derive(Debug)]
pub struct Bourse {
    pub book: OrderBook,
}

impl Venue for Bourse {
    const NAME: &'static str = "bourse";

    fn new(flow: &Flow) -> Self {
        Self {
            book: OrderBook::with_capacity(flow.config.book, flow.max_live * 2, 1024),
        }
    }

    #[inline]
    fn apply(&mut self, op: &Op) -> Tally {
        let mut sink = CountingSink::default();
        flow::apply(&mut self.book, op, &mut sink);
        sink.tally
    }

    fn touch(&self) -> (Option<i64>, Option<i64>) {
        (
            self.book.best_bid().map(|l| l.price.raw()),
            self.book.best_ask().map(|l| l.price.raw()),
        )
    }
}
