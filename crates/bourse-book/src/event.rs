//! What the book tells the world: typed events in the order they happen.

use bourse_core::{AccountId, CancelReason, OrderId, Price, Qty, RejectReason, Side};

/// Which request a rejection answers.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Request {
    Submit,
    Cancel,
    Replace,
}

/// Whether a replace kept the order's place in the queue.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Priority {
    /// Same price, same or smaller quantity: amended in place.
    Kept,
    /// New price or larger quantity: left the book and re-entered as a new arrival (same id).
    Lost,
}

/// One thing that happened in the book. A submit yields `Accepted` (or `Rejected`), then any
/// `Fill`s and self-trade `Canceled`s in matching order, then exactly one of `Rested` or a
/// remainder `Canceled` when quantity is left (none when fully filled).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum BookEvent {
    /// The order passed validation and is being processed. `price` is `None` for market.
    Accepted {
        id: OrderId,
        owner: AccountId,
        side: Side,
        price: Option<Price>,
        qty: Qty,
    },
    /// The request was refused; the book did not change.
    Rejected {
        id: OrderId,
        request: Request,
        reason: RejectReason,
    },
    /// A trade at the resting (maker) order's price.
    Fill {
        maker: OrderId,
        maker_owner: AccountId,
        taker: OrderId,
        taker_owner: AccountId,
        /// The aggressor's side; the maker is on the other.
        taker_side: Side,
        price: Price,
        qty: Qty,
        /// What the maker still has resting after this fill.
        maker_leaves: Qty,
        /// What the taker still has to match after this fill.
        taker_leaves: Qty,
    },
    /// The remainder of an order now rests on the book at `price`.
    Rested {
        id: OrderId,
        side: Side,
        price: Price,
        qty: Qty,
    },
    /// An order (resting or incoming) stopped working; `qty` is what was left.
    /// `resting_price` is the level it left, `None` if it never rested.
    Canceled {
        id: OrderId,
        owner: AccountId,
        side: Side,
        qty: Qty,
        resting_price: Option<Price>,
        reason: CancelReason,
    },
    /// A resting order was amended. With [`Priority::Lost`] the order left `old_price` and any
    /// `Fill`s and a `Rested`/`Canceled` follow as for a new arrival.
    Replaced {
        id: OrderId,
        side: Side,
        old_price: Price,
        old_qty: Qty,
        price: Price,
        qty: Qty,
        priority: Priority,
    },
}

/// Where the book writes its events. A `Vec` collects them; a benchmark may count them.
pub trait EventSink {
    fn emit(&mut self, event: BookEvent);
}

impl EventSink for Vec<BookEvent> {
    #[inline]
    fn emit(&mut self, event: BookEvent) {
        self.push(event);
    }
}
