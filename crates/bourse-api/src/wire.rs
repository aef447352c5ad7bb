//! How `bourse-core` types and the API's fixed vocabularies look on the wire. Schema-only
//! types: nothing is ever built from them.

use utoipa::openapi::schema::{
    KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::{RefOr, schema::SchemaType};
use utoipa::{PartialSchema, ToSchema};

/// A string schema with a pattern, a description and one example.
fn text(pattern: &str, description: &str, example: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::from(Type::String))
        .pattern(Some(pattern))
        .description(Some(description))
        .examples([serde_json::json!(example)])
        .into()
}

/// A string enum.
fn one_of_words(words: &[&str], description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::from(Type::String))
        .enum_values(Some(words.iter().copied()))
        .description(Some(description))
        .into()
}

macro_rules! wire_schema {
    ($(#[$doc:meta])* $name:ident => $schema:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub enum $name {}

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $schema
            }
        }

        impl ToSchema for $name {}
    };
}

/// Money and prices as the server writes them: at least two and at most four decimals.
pub const MONEY_PATTERN: &str = r"^-?[0-9]+\.[0-9]{2,4}$";

wire_schema!(
    /// `bourse_core::Price` in JSON.
    Price => text(
        MONEY_PATTERN,
        "A price in dollars: an exact decimal string with 2 to 4 decimals, never a JSON \
         number (1/10,000 $ is the finest step).",
        "190.25",
    )
);
wire_schema!(
    /// `bourse_core::Cash` in JSON.
    Cash => text(
        MONEY_PATTERN,
        "An amount of money in dollars: an exact decimal string with 2 to 4 decimals, \
         negative for debits and losses, never a JSON number.",
        "100000.00",
    )
);
wire_schema!(
    /// `bourse_core::Qty` as the API writes it in answers.
    Shares => text(
        r"^[0-9]+(\.[0-9]{1,6})?$",
        "A number of shares as a decimal string: whole (\"100\"), or a fraction with up \
         to six decimals (\"0.5\") on a fractionable stock. Answers always write share \
         counts as strings.",
        "100",
    )
);
wire_schema!(
    /// The API's percentages.
    Percent => text(
        r"^-?[0-9]+\.[0-9]{2}$",
        "A percentage with exactly two decimals (\"1.23\" is 1.23 %), computed in \
         integer math.",
        "1.23",
    )
);
wire_schema!(
    /// `bourse_core::Symbol`.
    Symbol => text(
        r"^[A-Z0-9.]{1,8}$",
        "A listed stock's ticker: 1-8 characters of A-Z, 0-9 and '.'.",
        "AAPL",
    )
);
wire_schema!(
    /// `bourse_core::ClientOrderId`.
    ClientOrderId => text(
        "^[!-~]{1,48}$",
        "The client's own id for an order: 1-48 printable ASCII characters, no spaces; \
         unique per account.",
        "my-order-1",
    )
);
wire_schema!(
    /// `bourse_core::AccountId` as a string.
    AccountId => text("^[0-9]+$", "An account id (a positive integer, as a string).", "3")
);
wire_schema!(
    /// `bourse_core::OrderId` as a string.
    OrderId => text("^[0-9]+$", "An order id (a positive integer, as a string).", "17")
);
wire_schema!(
    /// `bourse_core::TradeId` as a string.
    TradeId => text("^[0-9]+$", "A trade id (a positive integer, as a string).", "9")
);
wire_schema!(
    /// An activity id: the command's seq and the event's index in it.
    ActivityId => text(
        "^[0-9]+-[0-9]+$",
        "An activity id: `<seq>-<index>`, ordered like time; also the list cursor.",
        "42-3",
    )
);
wire_schema!(
    /// `bourse_core::UnixNanos` in JSON.
    Timestamp => ObjectBuilder::new()
        .schema_type(SchemaType::from(Type::String))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .pattern(Some(
            r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z$",
        ))
        .description(Some("RFC 3339, UTC, nanoseconds."))
        .examples([serde_json::json!("2026-11-21T14:30:05.123456789Z")])
        .into()
);
wire_schema!(
    /// `bourse_core::Side`.
    Side => one_of_words(&["buy", "sell"], "Buy or sell.")
);
wire_schema!(
    /// `bourse_core::OrderType`.
    OrderType => one_of_words(
        &["limit", "market", "stop", "stop_limit", "trailing_stop"],
        "The kind of order.",
    )
);
wire_schema!(
    /// `bourse_core::OrderClass`, and `simple` for an order of none.
    OrderClass => one_of_words(
        &["simple", "bracket", "oco", "oto"],
        "`simple`, or an order with exits: `bracket` (an entry, then a take profit and a \
         stop loss, one cancelling the other), `oco` (the two exits at once), `oto` (an \
         entry, then one exit).",
    )
);
wire_schema!(
    /// `bourse_core::LegRole`.
    LegRole => one_of_words(
        &["entry", "take_profit", "stop_loss"],
        "An order's part in its class.",
    )
);
wire_schema!(
    /// `bourse_core::TimeInForce`.
    TimeInForce => one_of_words(
        &["day", "gtc", "ioc", "fok", "opg", "cls"],
        "How long an order may stay working (an order without one is `day`); `opg` and `cls` \
         are for the opening and the closing auction only.",
    )
);
wire_schema!(
    /// `bourse_core::Session`.
    Session => one_of_words(
        &bourse_core::Session::DAY.map(bourse_core::Session::as_str),
        "The market's session: closed, pre_market, opening_call, continuous, closing_call, \
         after_hours.",
    )
);
wire_schema!(
    /// `bourse_core::CancelReason`.
    CancelReason => one_of_words(
        &bourse_core::CancelReason::ALL.map(bourse_core::CancelReason::code),
        "Why a working order stopped working without filling.",
    )
);
wire_schema!(
    /// `crate::orders::OrderStatus`.
    OrderStatus => one_of_words(
        &["held", "new", "partially_filled", "filled", "canceled", "expired"],
        "Where an order stands (`held`: a stop order waiting for its trigger, or an exit \
         waiting for its entry to end).",
    )
);
wire_schema!(
    /// `bourse_core::Liquidity`.
    Liquidity => one_of_words(&["maker", "taker"], "Which side of the trade the order was.")
);
wire_schema!(
    /// `bourse_core::AlertCondition`.
    AlertCondition => one_of_words(
        &["above", "below"],
        "Fires at a trade at or above / at or below the price.",
    )
);
wire_schema!(
    /// An alert's state.
    AlertStatus => one_of_words(&["active", "triggered"], "An alert's state.")
);
wire_schema!(
    /// `crate::readmodel::ActivityType`.
    ActivityType => one_of_words(
        &[
            "FILL",
            "DEPOSIT",
            "WITHDRAWAL",
            "SHARE_DEPOSIT",
            "DEPOSIT_RETURNED",
            "WITHDRAWAL_RETURNED",
        ],
        "What an account activity is.",
    )
);
wire_schema!(
    /// A cash transfer's direction.
    TransferType => one_of_words(&["deposit", "withdraw"], "Cash in or out.")
);

/// A number a client may send as a JSON string or a JSON number.
fn decimal_input(pattern: &str, description: &str, example: &str) -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(SchemaType::from(Type::String))
                .pattern(Some(pattern)),
        )
        .item(ObjectBuilder::new().schema_type(SchemaType::from(Type::Number)))
        .description(Some(description))
        .examples([serde_json::json!(example)])
        .into()
}

wire_schema!(
    /// A share count in a request (`crate::orders::DecimalText`).
    QtyInput => decimal_input(
        r"^[0-9]+(\.[0-9]{1,6})?$",
        "A positive number of shares: a decimal string (\"10\", \"0.5\") or a JSON number, \
         with at most six decimals. Zero, negative or off-lot counts are refused (422), and \
         fractions on a stock that is not fractionable (FRACTIONAL_NOT_ALLOWED).",
        "10",
    )
);
wire_schema!(
    /// A price in a request (`crate::orders::DecimalText`).
    PriceInput => decimal_input(
        r"^[0-9]+(\.[0-9]{1,4})?$",
        "A positive price in dollars with at most 4 decimals: a decimal string \
         (\"190.25\", exact) or a JSON number (read as written). Off-tick prices are \
         refused (422).",
        "190.00",
    )
);
wire_schema!(
    /// An amount of money in a request.
    AmountInput => text(
        r"^[0-9]+(\.[0-9]{1,4})?$",
        "A positive amount in dollars with at most 4 decimals, as a decimal string.",
        "1000.00",
    )
);
