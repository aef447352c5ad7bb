//! What reaches a session besides its socket: released events of its account, the
//! outcomes of its own requests that need an answer, and history lookups.

use bourse_api::{GatewayError, Reply};
use bourse_core::{OrderId, Tagged};

#[derive(Debug)]
pub(crate) enum Input {
    /// Released events of the session's account, in seq order.
    Events(Vec<Tagged>),
    /// The durable outcome of a request the session made, when it needs an answer of its
    /// own (a rejection, a mass cancel, no outcome); accepted orders, cancels and replaces
    /// are answered from their events.
    Outcome(Request, Result<Reply, GatewayError>),
    /// An order looked up in the history for an OrderStatusRequest (or a resent order).
    Status {
        cl_ord_id: String,
        symbol: String,
        side: String,
        order: Option<Box<bourse_api::OrderView>>,
    },
}

/// What a session remembers of a request until its outcome.
#[derive(Debug)]
pub(crate) enum Request {
    New {
        cl_ord_id: String,
        symbol: String,
        side: String,
    },
    /// A cancel (`replace` false) or cancel/replace.
    Amend {
        order_id: OrderId,
        cl_ord_id: String,
        orig: String,
        replace: bool,
    },
    Mass {
        cl_ord_id: String,
        request_type: String,
    },
}
