//! Order classes as clients write them (Alpaca's `order_class`, `take_profit`, `stop_loss`),
//! checked for their shape before the engine checks prices, reservations and the rest.

use bourse_core::{
    AccountId, ClassRequest, Command, OrderClass, OrderRequest, OrderType, Price, RejectReason,
    StopLoss, TimeInForce,
};
use serde::Deserialize;

use super::{DecimalText, Listings, NewOrder, invalid, on_tick, parse_price};
use crate::error::ApiError;

/// `take_profit` of a new order.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TakeProfit {
    /// A multiple of the stock's tick: above the entry for sell exits, below for buy exits.
    #[schema(value_type = crate::wire::PriceInput)]
    pub limit_price: DecimalText,
}

/// `stop_loss` of a new order.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = StopLoss)]
pub struct StopLossInput {
    /// A multiple of the stock's tick: below the entry for sell exits, above for buy exits.
    #[schema(value_type = crate::wire::PriceInput)]
    pub stop_price: DecimalText,
    /// Makes it a stop-limit: the exit enters the book at this price once triggered.
    #[serde(default)]
    #[schema(value_type = Option<crate::wire::PriceInput>)]
    pub limit_price: Option<DecimalText>,
}

fn legs_error(message: impl Into<String>) -> ApiError {
    invalid(RejectReason::InvalidLegs.code(), message)
}

impl NewOrder {
    /// The order's command (a plain order or a class) and its request (a class's entry, or
    /// an OCO's take profit, which carries the client order id).
    pub fn command(
        &self,
        account: AccountId,
        listings: &Listings,
    ) -> Result<(OrderRequest, Command), ApiError> {
        let class = match self.order_class.as_deref() {
            None | Some("simple") => None,
            Some(c) => Some(OrderClass::parse(c).ok_or_else(|| {
                invalid(
                    "INVALID_ORDER_CLASS",
                    format!("order_class {c:?} is not one of simple, bracket, oco, oto"),
                )
            })?),
        };
        let Some(class) = class else {
            if self.take_profit.is_some() || self.stop_loss.is_some() {
                return Err(legs_error(
                    "take_profit and stop_loss need an order_class: bracket, oco or oto",
                ));
            }
            let req = self.validate(account, listings)?;
            return Ok((req, Command::SubmitOrder(req)));
        };
        let take_profit = self
            .take_profit
            .as_ref()
            .map(|t| parse_price("take_profit.limit_price", &t.limit_price))
            .transpose()?;
        let stop_loss = self
            .stop_loss
            .as_ref()
            .map(|s| -> Result<StopLoss, ApiError> {
                Ok(StopLoss {
                    stop_price: parse_price("stop_loss.stop_price", &s.stop_price)?,
                    limit_price: s
                        .limit_price
                        .as_ref()
                        .map(|l| parse_price("stop_loss.limit_price", l))
                        .transpose()?,
                })
            })
            .transpose()?;
        match (class, take_profit.is_some(), stop_loss.is_some()) {
            (OrderClass::Bracket | OrderClass::Oco, true, true)
            | (OrderClass::Oto, true, false)
            | (OrderClass::Oto, false, true) => {}
            (OrderClass::Oto, _, _) => {
                return Err(legs_error(
                    "an oto order needs exactly one of take_profit and stop_loss",
                ));
            }
            (c, _, _) => {
                return Err(legs_error(format!(
                    "a {} order needs take_profit and stop_loss",
                    c.as_str()
                )));
            }
        }
        // An OCO is its take profit: a limit at that price (Alpaca's shape leaves the
        // order's own limit_price out, or repeats it).
        let req = if class == OrderClass::Oco {
            let tp = self.take_profit.as_ref().map(|t| t.limit_price.clone());
            let mut body = self.clone();
            if body.limit_price.is_none() {
                body.limit_price = tp;
            }
            let req = body.validate(account, listings)?;
            if req.order_type != OrderType::Limit || req.limit_price != take_profit {
                return Err(legs_error(
                    "an oco order is a limit order at its take_profit's limit_price",
                ));
            }
            req
        } else {
            self.validate(account, listings)?
        };
        if !matches!(req.tif, TimeInForce::Day | TimeInForce::Gtc)
            || req.opts.extended_hours
            || req.order_type == OrderType::TrailingStop
            || req.post_only
        {
            return Err(legs_error(
                "an order with exits is a limit, market, stop or stop_limit order, day or gtc, \
                 not post-only or extended-hours",
            ));
        }
        let tick = listings
            .get(req.symbol)
            .map_or(Price::from_raw(1), |l| l.tick);
        let exits: Vec<Price> = take_profit
            .into_iter()
            .chain(
                stop_loss
                    .iter()
                    .flat_map(|s| [Some(s.stop_price), s.limit_price])
                    .flatten(),
            )
            .collect();
        on_tick(req.symbol, tick, &exits)?;
        let cmd = Command::SubmitClass(Box::new(ClassRequest {
            class,
            order: req,
            take_profit,
            stop_loss,
        }));
        Ok((req, cmd))
    }
}
