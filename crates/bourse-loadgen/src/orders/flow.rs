//! The order flow: what each connection sends next, and the JSON it writes for it.

use std::fmt::Write as _;
use std::sync::Arc;

use anyhow::{Result, anyhow, bail};

use crate::market::Stock;
use crate::rng::Rng;

/// What a request was; the low two bits of a WebSocket request id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A limit behind the reference price: rests.
    Passive = 0,
    /// A DAY limit at or through the reference: trades with what rests, rests the rest.
    Cross = 1,
    /// An IOC limit through the reference: trades or is canceled.
    Ioc = 2,
    /// A cancel of one of the connection's resting orders.
    Cancel = 3,
}

impl Kind {
    pub(crate) const ALL: [Kind; 4] = [Kind::Passive, Kind::Cross, Kind::Ioc, Kind::Cancel];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Passive => "passive",
            Kind::Cross => "cross",
            Kind::Ioc => "ioc",
            Kind::Cancel => "cancel",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// `k * 4 + kind`.
#[must_use]
pub fn request_id(k: u64, kind: Kind) -> u64 {
    (k << 2) | kind as u64
}

/// Inverse of [`request_id`].
#[must_use]
pub fn parse_request_id(id: u64) -> (u64, Kind) {
    (
        id >> 2,
        Kind::ALL[usize::from(u8::try_from(id & 3).unwrap_or(0))],
    )
}

/// One symbol's limit prices, pre-rendered: `prices[center]` is the reference price,
/// `prices[center ± i]` is `i` ticks above or below it.
#[derive(Debug, Clone)]
pub(crate) struct Ladder {
    pub(crate) symbol: String,
    pub(crate) prices: Vec<String>,
    pub(crate) center: usize,
    pub(crate) lot: u64,
}

/// Ticks the passive orders spread over (fewer when the price band is narrower).
const SPREAD_TICKS: i64 = 30;

/// The ladders of `stocks`, centred on their last price, inside a band of `band_pct`.
pub(crate) fn ladders(stocks: &[Stock], band_pct: u32) -> Result<Vec<Ladder>> {
    if !(1..=100).contains(&band_pct) {
        bail!("--band-pct {band_pct}: use 1 to 100");
    }
    let mut out = Vec::new();
    for st in stocks {
        let s = st.symbol.as_str();
        let tick = st.tick.raw();
        if tick <= 0 {
            return Err(anyhow!("{s}: the exchange gave a tick of {}", st.tick));
        }
        let reference = st.reference.raw() / tick * tick;
        // Half the band either side, so every price stays inside it wherever trades move
        // the last price within the ladder.
        let band = reference / 100 * i64::from(band_pct) / tick;
        let center = SPREAD_TICKS.min(band / 2);
        if center < 6 {
            bail!("{s}: its price band is too narrow for the bench's price ladder");
        }
        let prices = (-center..=center)
            .map(|j| bourse_core::Price::from_raw(reference + j * tick).to_string())
            .collect();
        out.push(Ladder {
            symbol: s.to_owned(),
            prices,
            center: usize::try_from(center).unwrap_or(0),
            lot: st.lot,
        });
    }
    if out.is_empty() {
        bail!("--symbols: name at least one symbol");
    }
    Ok(out)
}

/// One order of the flow, before it is written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OrderSpec {
    pub(crate) kind: Kind,
    pub(crate) ladder: usize,
    pub(crate) buy: bool,
    pub(crate) tif: &'static str,
    pub(crate) qty: u64,
    /// Index into the ladder's prices.
    pub(crate) px: usize,
}

/// The next request of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Order(OrderSpec),
    /// Cancel this order id.
    Cancel(u64),
}

impl Action {
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Action::Order(o) => o.kind,
            Action::Cancel(_) => Kind::Cancel,
        }
    }
}

/// The flow mix, in percent of decisions (see the module docs).
const CANCEL_PCT: u64 = 30;
const PASSIVE_PCT: u64 = 45;
const CROSS_PCT: u64 = 10;

/// One connection's order flow.
#[derive(Debug, Clone)]
pub(crate) struct Flow {
    rng: Rng,
    ladders: Arc<[Ladder]>,
    /// Prefix of the client order ids, unique per run.
    run: Arc<str>,
    max_resting: usize,
}

impl Flow {
    pub(crate) fn new(
        seed: u64,
        ladders: Arc<[Ladder]>,
        run: Arc<str>,
        max_resting: usize,
    ) -> Flow {
        Flow {
            rng: Rng(seed),
            ladders,
            run,
            max_resting: max_resting.max(1),
        }
    }

    /// The next request; a cancel takes its order out of `live` (the connection's resting
    /// orders, as its reports told it).
    pub(crate) fn next(&mut self, live: &mut Vec<u64>) -> Action {
        let roll = self.rng.below(100);
        if !live.is_empty() && (roll < CANCEL_PCT || live.len() >= self.max_resting) {
            let i = self.rng.index(live.len());
            return Action::Cancel(live.swap_remove(i));
        }
        let kind = if roll < CANCEL_PCT + PASSIVE_PCT {
            Kind::Passive
        } else if roll < CANCEL_PCT + PASSIVE_PCT + CROSS_PCT {
            Kind::Cross
        } else {
            Kind::Ioc
        };
        let ladder = self.rng.index(self.ladders.len());
        let l = &self.ladders[ladder];
        let c = l.center;
        let buy = self.rng.below(2) == 0;
        // Ticks away from the reference: behind it for passive orders (nearer the touch
        // more often), through it for the aggressive ones.
        let (through, ticks, tif) = match kind {
            Kind::Passive => {
                let m = c - 1;
                let t = 1 + self.rng.index(m).min(self.rng.index(m));
                let tif = if self.rng.below(2) == 0 { "day" } else { "gtc" };
                (false, t, tif)
            }
            Kind::Cross => (true, self.rng.index(6), "day"),
            _ => (true, self.rng.index(11.min(c + 1)), "ioc"),
        };
        let px = if buy == through { c + ticks } else { c - ticks };
        Action::Order(OrderSpec {
            kind,
            ladder,
            buy,
            tif,
            qty: l.lot * (1 + self.rng.below(100)),
            px,
        })
    }

    fn side(o: &OrderSpec) -> &'static str {
        if o.buy { "buy" } else { "sell" }
    }

    /// The order's JSON fields after `{` (shared by both transports).
    fn order_fields(&self, o: &OrderSpec, k: u64, out: &mut String) {
        let l = &self.ladders[o.ladder];
        let _ = write!(
            out,
            r#""symbol":"{}","side":"{}","type":"limit","time_in_force":"{}","qty":"{}","limit_price":"{}","client_order_id":"{}-{k}"}}"#,
            l.symbol,
            Flow::side(o),
            o.tif,
            o.qty,
            l.prices[o.px],
            self.run,
        );
    }

    /// The WebSocket frame for `a`, the `k`-th request of the run.
    pub(crate) fn ws_frame(&self, a: &Action, k: u64, out: &mut String) {
        let id = request_id(k, a.kind());
        match a {
            Action::Order(o) => {
                let _ = write!(out, r#"{{"op":"order","id":{id},"#);
                self.order_fields(o, k, out);
            }
            Action::Cancel(order) => {
                let _ = write!(out, r#"{{"op":"cancel","id":{id},"order_id":"{order}"}}"#);
            }
        }
    }

    /// The FIX message for `a`, the `k`-th request of the run: its type and body fields.
    /// ClOrdID is `<run>.<request id>`, so the answer alone says which request it was.
    pub(crate) fn fix_message(&self, a: &Action, k: u64) -> (&'static str, Vec<(u32, String)>) {
        let id = request_id(k, a.kind());
        let cl = format!("{}.{id}", self.run);
        match a {
            Action::Order(o) => {
                let l = &self.ladders[o.ladder];
                let tif = match o.tif {
                    "gtc" => "1",
                    "ioc" => "3",
                    _ => "0",
                };
                (
                    "D",
                    vec![
                        (11, cl),
                        (55, l.symbol.clone()),
                        (54, if o.buy { "1" } else { "2" }.to_owned()),
                        (38, o.qty.to_string()),
                        (40, "2".to_owned()),
                        (44, l.prices[o.px].clone()),
                        (59, tif.to_owned()),
                    ],
                )
            }
            Action::Cancel(order) => (
                "F",
                vec![
                    (11, cl),
                    (37, order.to_string()),
                    (41, "-".to_owned()),
                    (55, "-".to_owned()),
                    (54, "1".to_owned()),
                ],
            ),
        }
    }

    /// The `POST /v1/orders` body.
    pub(crate) fn rest_body(&self, o: &OrderSpec, k: u64, out: &mut String) {
        out.push('{');
        self.order_fields(o, k, out);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn request_ids_carry_the_schedule_slot_and_the_kind() {
        for k in [0u64, 1, 99, 1 << 40] {
            for kind in Kind::ALL {
                assert_eq!(parse_request_id(request_id(k, kind)), (k, kind));
            }
        }
    }

    /// AAPL and MSFT as the default listing describes them.
    fn test_stocks() -> Vec<Stock> {
        [("AAPL", "190.00"), ("MSFT", "420.00")]
            .into_iter()
            .map(|(symbol, px)| Stock {
                symbol: symbol.to_owned(),
                tick: "0.01".parse().unwrap(),
                lot: 1,
                reference: px.parse().unwrap(),
            })
            .collect()
    }

    fn test_ladders() -> Arc<[Ladder]> {
        ladders(&test_stocks(), 10).unwrap().into()
    }

    #[test]
    fn ladders_stay_inside_half_the_band() {
        let l = test_ladders();
        assert_eq!((l[0].center, l[0].prices.len()), (30, 61));
        assert_eq!(l[0].prices[0], "189.70");
        assert_eq!(l[1].prices[60], "420.30");
        // A narrow band narrows the ladder, then refuses it.
        let mut cheap = test_stocks();
        cheap[0].reference = "20.00".parse().unwrap();
        assert_eq!(ladders(&cheap, 2).unwrap()[0].center, 20);
        cheap[0].reference = "10.00".parse().unwrap();
        assert!(ladders(&cheap, 1).is_err());
        assert!(ladders(&cheap, 0).is_err());
        assert!(ladders(&[], 10).is_err());
    }

    #[test]
    fn the_flow_mixes_orders_and_cancels_on_the_price_grid() {
        let l = test_ladders();
        assert_eq!(l[0].prices[l[0].center], "190.00");
        assert_eq!(l[0].prices[l[0].center + 1], "190.01");
        let mut f = Flow::new(7, l.clone(), "run".into(), 50);
        let mut live = Vec::new();
        let mut kinds = [0u32; 4];
        let mut next_id = 1u64;
        for _ in 0..100_000 {
            let before = live.len();
            match f.next(&mut live) {
                Action::Cancel(id) => {
                    kinds[3] += 1;
                    assert_eq!(live.len(), before - 1);
                    assert!(!live.contains(&id));
                }
                Action::Order(o) => {
                    kinds[o.kind.index()] += 1;
                    let c = l[o.ladder].center;
                    assert!((1..=100).contains(&o.qty));
                    assert!(o.px < l[o.ladder].prices.len());
                    let above = o.px > c;
                    match o.kind {
                        Kind::Passive => assert_eq!(above, !o.buy, "{o:?}"),
                        Kind::Cross => {
                            assert!(o.px.abs_diff(c) <= 5 && (o.px == c || above == o.buy))
                        }
                        Kind::Ioc => assert!(o.tif == "ioc" && (o.px == c || above == o.buy)),
                        Kind::Cancel => unreachable!(),
                    }
                    // Half the orders rest in this model.
                    if next_id.is_multiple_of(2) {
                        live.push(next_id);
                    }
                    next_id += 1;
                }
            }
            assert!(live.len() <= 50);
        }
        // Roughly the configured mix (the resting cap forces some extra cancels).
        let pct = |n: u32| f64::from(n) / 1_000.0;
        assert!((25.0..40.0).contains(&pct(kinds[3])), "{kinds:?}");
        assert!((38.0..50.0).contains(&pct(kinds[0])), "{kinds:?}");
        assert!((7.0..12.0).contains(&pct(kinds[1])), "{kinds:?}");
        assert!((11.0..17.0).contains(&pct(kinds[2])), "{kinds:?}");
        // No resting orders: no cancels.
        let mut empty = Vec::new();
        for _ in 0..1_000 {
            assert!(matches!(f.next(&mut empty), Action::Order(_)));
        }
    }

    #[test]
    fn frames_are_orders_the_api_accepts() {
        let l = test_ladders();
        let mut f = Flow::new(3, l, "r1".into(), 10);
        let listings = bourse_api::Listings::new(
            test_stocks()
                .iter()
                .map(|s| bourse_api::Listing {
                    symbol: bourse_core::Symbol::new(&s.symbol).unwrap(),
                    name: s.symbol.clone(),
                    sector: String::new(),
                    tick: s.tick,
                    lot: bourse_core::Qty::shares(s.lot),
                    max_qty: bourse_core::Qty::shares(1_000_000),
                    fractional: false,
                })
                .collect(),
        );
        let mut live = vec![42];
        let mut cancels = 0;
        for k in 0..500u64 {
            let a = f.next(&mut live);
            let mut s = String::new();
            f.ws_frame(&a, k, &mut s);
            let mut v: serde_json::Map<String, Value> = serde_json::from_str(&s).unwrap();
            let id = v.remove("id").unwrap().as_u64().unwrap();
            assert_eq!(parse_request_id(id), (k, a.kind()));
            match (v.remove("op").unwrap().as_str().unwrap(), a) {
                ("order", Action::Order(o)) => {
                    let order: bourse_api::orders::NewOrder =
                        serde_json::from_value(Value::Object(v)).unwrap();
                    let req = order
                        .validate(bourse_core::AccountId::new(1), &listings)
                        .unwrap();
                    assert_eq!(req.qty, bourse_core::Qty::shares(o.qty));
                    assert_eq!(
                        order.client_order_id.as_deref(),
                        Some(format!("r1-{k}").as_str())
                    );
                    let mut body = String::new();
                    f.rest_body(&o, k, &mut body);
                    let rest: bourse_api::orders::NewOrder = serde_json::from_str(&body).unwrap();
                    rest.validate(bourse_core::AccountId::new(1), &listings)
                        .unwrap();
                }
                ("cancel", Action::Cancel(id)) => {
                    cancels += 1;
                    assert_eq!(v["order_id"], json!(id.to_string()));
                }
                other => panic!("{other:?}"),
            }
            live.push(1_000 + k);
        }
        assert!(cancels > 0);
    }
}
