//! What a generated flow turned out to be, printed next to every result.

use std::fmt;

/// The achieved mix of the measured stream, for the record next to the results.
#[derive(Clone, Debug, Default)]
pub struct Mix {
    pub messages: u64,
    pub submits: u64,
    pub ioc: u64,
    pub cancels: u64,
    pub replaces: u64,
    /// Replaces that kept priority (same price, smaller size).
    pub replaces_in_place: u64,
    pub fills: u64,
    pub filled_qty: u64,
    /// IOCs that traded at all.
    pub ioc_traded: u64,
    /// IOCs that traded at more than one price level.
    pub ioc_multi_level: u64,
    pub max_levels_swept: u32,
    /// Orders submitted in the measured stream that rested.
    pub rested: u64,
    /// Of `rested`, those gone by the end of the stream.
    pub rested_done: u64,
    pub cancelled_unfilled: u64,
    pub partially_filled_then_cancelled: u64,
    pub fully_filled: u64,
    /// Of `rested`, how many were replaced at least once.
    pub replaced_orders: u64,
    pub(super) live_sum: u64,
    pub(super) levels_sum: u64,
    pub min_live: usize,
    pub max_live: usize,
    pub max_levels: usize,
    /// Lowest and highest fair value over the measured stream, in ticks.
    pub fair_low: i64,
    pub fair_high: i64,
    /// Price levels created (a first order at a price nobody rested at) per 100 messages.
    pub levels_born: u64,
}

pub(super) fn pct(a: u64, b: u64) -> f64 {
    100.0 * ratio(a, b)
}

/// `a / b`, or 0 for an empty denominator.
fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

impl Mix {
    /// Mean resting orders on the book (both sides) after each message.
    #[must_use]
    pub fn avg_live(&self) -> f64 {
        ratio(self.live_sum, self.messages)
    }

    /// Mean price levels (bids + asks) after each message.
    #[must_use]
    pub fn avg_levels(&self) -> f64 {
        ratio(self.levels_sum, self.messages)
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.messages;
        writeln!(
            f,
            "  messages: submits {:.1}% (IOC {:.1}% of submits), cancels {:.1}%, replaces {:.1}% \
             ({:.0}% reduce-in-place, {:.0}% reprice)",
            pct(self.submits, m),
            pct(self.ioc, self.submits),
            pct(self.cancels, m),
            pct(self.replaces, m),
            pct(self.replaces_in_place, self.replaces),
            pct(self.replaces - self.replaces_in_place, self.replaces),
        )?;
        writeln!(
            f,
            "  fills: {} ({:.1} per 100 messages, {} shares); IOCs that traded {:.1}%, \
             across >1 level {:.1}%, at most {} levels",
            self.fills,
            pct(self.fills, m),
            self.filled_qty,
            pct(self.ioc_traded, self.ioc),
            pct(self.ioc_multi_level, self.ioc),
            self.max_levels_swept,
        )?;
        writeln!(
            f,
            "  resting orders: {:.1}% replaced at least once; of the {} gone by the end, {:.1}% \
             cancelled unfilled, {:.1}% partly filled then cancelled, {:.1}% fully filled",
            pct(self.replaced_orders, self.rested),
            self.rested_done,
            pct(self.cancelled_unfilled, self.rested_done),
            pct(self.partially_filled_then_cancelled, self.rested_done),
            pct(self.fully_filled, self.rested_done),
        )?;
        writeln!(
            f,
            "  book: {:.0} live orders on average ({}..{}), {:.1} price levels on average \
             (bids + asks, at most {})",
            self.avg_live(),
            self.min_live,
            self.max_live,
            self.avg_levels(),
            self.max_levels,
        )?;
        write!(
            f,
            "  price: fair value {}..{} ticks; {:.1} new price levels per 100 messages",
            self.fair_low,
            self.fair_high,
            pct(self.levels_born, m),
        )
    }
}
