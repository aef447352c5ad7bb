//! Pre-trade order checks: the instrument rules (shape, lot, maximum quantity, tick, band).

use bourse_core::{OrderRequest, OrderType, Price, Qty, RejectReason, TimeInForce, Trail};

use super::Engine;

impl Engine {
    /// Instrument rules a new order must meet.
    pub(super) fn check_order(&self, i: usize, req: &OrderRequest) -> Result<(), RejectReason> {
        match req.opts.notional {
            // Alpaca's rule: notional orders are market DAY orders, on fractionable stocks.
            Some(cap) => {
                if !self.instruments[i].fractional {
                    return Err(RejectReason::FractionalNotAllowed);
                }
                if !req.qty.is_zero()
                    || req.order_type != OrderType::Market
                    || req.tif != TimeInForce::Day
                {
                    return Err(RejectReason::InvalidOrder);
                }
                if !cap.is_positive() {
                    return Err(RejectReason::InvalidQuantity);
                }
                if cap > self.instruments[i].max_notional {
                    return Err(RejectReason::MaxNotionalExceeded);
                }
            }
            None => self.check_qty(i, req.qty)?,
        }
        let needs_limit = matches!(req.order_type, OrderType::Limit | OrderType::StopLimit);
        let needs_stop = matches!(req.order_type, OrderType::Stop | OrderType::StopLimit);
        if needs_limit != req.limit_price.is_some() || needs_stop != req.stop_price.is_some() {
            return Err(RejectReason::InvalidOrder);
        }
        if req.post_only && req.order_type != OrderType::Limit {
            return Err(RejectReason::InvalidOrder);
        }
        // Alpaca's rules: extended hours for limit DAY orders only; on-open and on-close
        // orders are market or limit, never post-only or extended.
        let o = &req.opts;
        if o.extended_hours && (req.order_type != OrderType::Limit || req.tif != TimeInForce::Day) {
            return Err(RejectReason::InvalidOrder);
        }
        if req.tif.is_auction()
            && (!matches!(req.order_type, OrderType::Limit | OrderType::Market) || req.post_only)
        {
            return Err(RejectReason::InvalidOrder);
        }
        if (req.order_type == OrderType::TrailingStop) != o.trail.is_some() {
            return Err(RejectReason::InvalidTrail);
        }
        if let Some(t) = o.trail {
            let ok = match t {
                Trail::Price(p) => {
                    p.is_positive() && self.steps[i].0.divides(p.raw().unsigned_abs())
                }
                Trail::Bps(b) => (1..10_000).contains(&b),
            };
            if !ok {
                return Err(RejectReason::InvalidTrail);
            }
        }

        for p in [req.limit_price, req.stop_price].into_iter().flatten() {
            self.check_price(i, p, true)?;
        }
        Ok(())
    }

    /// Quantity rules: positive, whole unless the instrument is fractional, on the lot,
    /// within the maximum.
    pub(super) fn check_qty(&self, i: usize, qty: Qty) -> Result<(), RejectReason> {
        let ins = &self.instruments[i];
        if qty.is_zero() {
            return Err(RejectReason::InvalidQuantity);
        }
        if !ins.fractional && !qty.is_whole() {
            return Err(RejectReason::FractionalNotAllowed);
        }
        if !self.steps[i].1.divides(qty.raw()) {
            return Err(RejectReason::QtyOffLot);
        }
        if qty > ins.max_qty {
            return Err(RejectReason::MaxQtyExceeded);
        }
        Ok(())
    }

    /// An order's value at `px` within the instrument's maximum notional (and computable).
    pub(super) fn check_notional(&self, i: usize, px: Price, qty: Qty) -> Result<(), RejectReason> {
        match px.notional(qty) {
            Some(v) if v <= self.instruments[i].max_notional => Ok(()),
            Some(_) => Err(RejectReason::MaxNotionalExceeded),
            None => Err(RejectReason::ArithmeticOverflow),
        }
    }

    /// Price rules: positive, on the tick and, when `banded`, inside the price band.
    pub(super) fn check_price(&self, i: usize, p: Price, banded: bool) -> Result<(), RejectReason> {
        if !p.is_positive() {
            return Err(RejectReason::InvalidPrice);
        }
        // Positive here, so the conversion is exact.
        if !self.steps[i].0.divides(p.raw().unsigned_abs()) {
            return Err(RejectReason::PriceOffTick);
        }
        if banded && !self.in_band(i, p) {
            return Err(RejectReason::PriceOutOfBand);
        }
        Ok(())
    }

    /// The price band around the last trade (or the reference price before any trade).
    fn in_band(&self, i: usize, price: Price) -> bool {
        let ins = &self.instruments[i];
        let anchor = self.books[i]
            .last_trade_price()
            .unwrap_or(ins.reference_price);
        let diff = i128::from(price.raw()) - i128::from(anchor.raw());
        diff.abs() * 100 <= i128::from(anchor.raw()) * i128::from(ins.band_pct)
    }
}
