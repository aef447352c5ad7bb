//! Listed instruments and their trading rules, as read from `config/instruments.toml`.

use bourse_core::{Cash, Price, Qty, Symbol};
use serde::{Deserialize, Serialize};

/// Defaults applied to every instrument that does not say otherwise.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct InstrumentDefaults {
    pub tick: Price,
    pub lot: Qty,
    /// Orders priced further than this percentage from the reference are refused.
    pub band_pct: u32,
    pub max_qty: Qty,
    pub max_notional: Cash,
    /// Trades fractions of a share (to 0.000001) and notional orders; Alpaca's
    /// `fractionable`.
    #[serde(default)]
    pub fractional: bool,
}

impl Default for InstrumentDefaults {
    fn default() -> Self {
        Self {
            tick: Price::from_raw(100),
            lot: Qty::ONE,
            band_pct: 10,
            max_qty: Qty::shares(1_000_000),
            max_notional: Cash::from_raw(50_000_000 * 10_000),
            fractional: false,
        }
    }
}

/// One instrument as written in the file; unset rules come from the defaults.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct InstrumentEntry {
    pub symbol: Symbol,
    pub name: String,
    pub sector: String,
    pub reference_price: Price,
    pub tick: Option<Price>,
    pub lot: Option<Qty>,
    pub band_pct: Option<u32>,
    pub max_qty: Option<Qty>,
    pub max_notional: Option<Cash>,
    pub fractional: Option<bool>,
}

/// The whole `instruments.toml`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct InstrumentsFile {
    #[serde(default)]
    pub defaults: InstrumentDefaults,
    #[serde(rename = "instrument")]
    pub instruments: Vec<InstrumentEntry>,
}

/// An instrument with every rule resolved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instrument {
    pub symbol: Symbol,
    pub name: String,
    pub sector: String,
    pub reference_price: Price,
    pub tick: Price,
    pub lot: Qty,
    pub band_pct: u32,
    pub max_qty: Qty,
    pub max_notional: Cash,
    /// Fractions of a share (and notional orders) are accepted; its lot is then one share,
    /// and any multiple of 0.000001 share trades.
    pub fractional: bool,
}

impl Instrument {
    /// The quantity step the book and the order checks enforce: a millionth of a share
    /// when fractional, the lot otherwise.
    #[must_use]
    pub fn qty_step(&self) -> Qty {
        if self.fractional {
            Qty::from_raw(1)
        } else {
            self.lot
        }
    }
}

/// Why an instrument list cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstrumentError {
    #[error("instrument {0} is listed twice")]
    Duplicate(Symbol),
    #[error("instrument {symbol}: {what}")]
    Invalid { symbol: Symbol, what: &'static str },
    #[error("no instruments listed")]
    Empty,
}

impl InstrumentsFile {
    /// Resolves defaults and checks every rule is usable.
    pub fn resolve(&self) -> Result<Vec<Instrument>, InstrumentError> {
        if self.instruments.is_empty() {
            return Err(InstrumentError::Empty);
        }
        let d = &self.defaults;
        let mut out: Vec<Instrument> = Vec::with_capacity(self.instruments.len());
        for e in &self.instruments {
            if out.iter().any(|i| i.symbol == e.symbol) {
                return Err(InstrumentError::Duplicate(e.symbol));
            }
            let i = Instrument {
                symbol: e.symbol,
                name: e.name.clone(),
                sector: e.sector.clone(),
                reference_price: e.reference_price,
                tick: e.tick.unwrap_or(d.tick),
                lot: e.lot.unwrap_or(d.lot),
                band_pct: e.band_pct.unwrap_or(d.band_pct),
                max_qty: e.max_qty.unwrap_or(d.max_qty),
                max_notional: e.max_notional.unwrap_or(d.max_notional),
                fractional: e.fractional.unwrap_or(d.fractional),
            };
            let bad = |what| InstrumentError::Invalid {
                symbol: e.symbol,
                what,
            };
            if !i.tick.is_positive() {
                return Err(bad("tick must be positive"));
            }
            if i.lot.is_zero() || !i.lot.is_whole() {
                return Err(bad("lot must be a positive whole number of shares"));
            }
            if i.fractional && i.lot != Qty::ONE {
                return Err(bad("a fractional instrument's lot must be 1"));
            }
            if !i.reference_price.is_positive() || !i.reference_price.is_multiple_of(i.tick) {
                return Err(bad("reference price must be positive and on the tick"));
            }
            if i.band_pct == 0 || i.band_pct > 100 {
                return Err(bad("band_pct must be between 1 and 100"));
            }
            if i.max_qty.is_zero() || !i.max_notional.is_positive() {
                return Err(bad("max_qty and max_notional must be positive"));
            }
            out.push(i);
        }
        Ok(out)
    }
}
