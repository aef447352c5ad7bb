//! An image of the feed's state between two commands: every symbol's market data (book,
//! tape, candles, day, seq) and the private resume window. A market-data edge starts from
//! one the core published and applies the core's later events through its own
//! [`Publisher`](crate::Publisher), so its seqs and `account_seq`s are the core's.
//!
//! Never holds a connection: subscribers stay with the feed an image is restored into.

use std::sync::atomic::Ordering;

use bourse_core::Symbol;
use serde::{Deserialize, Serialize};

use crate::hub::{Feed, FeedConfig, SymbolFeed};
use crate::private::Log;
use crate::state::SymbolState;

/// The state of a [`Feed`] after some command.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FeedImage {
    pub symbols: Vec<SymbolState>,
    private: Log,
}

impl FeedImage {
    /// The symbols and their last seqs.
    pub fn seqs(&self) -> impl Iterator<Item = (Symbol, u64)> + '_ {
        self.symbols.iter().map(|s| (s.symbol, s.seq))
    }

    /// Trims what it keeps to `cfg`'s retention and private window, as a feed with `cfg`
    /// would have kept it (an edge may keep less than the core).
    pub fn fit(&mut self, cfg: &FeedConfig) {
        for s in &mut self.symbols {
            s.set_retention(cfg.retention);
        }
        self.private.set_cap(cfg.private_window);
    }

    /// Keeps no more history than `other` holds (trades, candles, private-window events):
    /// a feed that keeps more than the core compares equal to the core's image on what both
    /// hold.
    pub fn trim_like(&mut self, other: &FeedImage) {
        for (mine, theirs) in self.symbols.iter_mut().zip(&other.symbols) {
            while mine.tape.len() > theirs.tape.len() {
                mine.tape.pop_front();
            }
            while mine.candles.len() > theirs.candles.len() {
                mine.candles.pop_front();
            }
        }
        self.private.set_cap(other.private.len());
    }

    /// The same market data and private window as `other` (what an edge compares with the
    /// core's image to tell whether it missed anything).
    #[must_use]
    pub fn same_as(&self, other: &FeedImage) -> bool {
        self.symbols.len() == other.symbols.len()
            && self
                .symbols
                .iter()
                .zip(&other.symbols)
                .all(|(a, b)| a.same_data(b))
            && self.private.same(&other.private)
    }
}

/// Why an image does not fit a feed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// The image lists other symbols than the feed (the core's instruments changed).
    #[error("the image lists other symbols than this feed ({0})")]
    Symbols(String),
}

impl Feed {
    /// The state now (take it between commands: from the thread that publishes).
    #[must_use]
    pub fn image(&self) -> FeedImage {
        let symbols = self
            .symbols
            .iter()
            .map(|m| m.lock().state.clone())
            .collect();
        let private = self.private.lock().log.clone();
        FeedImage { symbols, private }
    }

    /// A feed holding `image`, with its own limits.
    #[must_use]
    pub fn from_image(image: FeedImage, cfg: FeedConfig) -> Feed {
        let feed = Feed::new(
            image.symbols.iter().map(|s| (s.symbol, s.day.prev_close)),
            cfg,
        );
        // Same symbols in the same order: cannot fail.
        let _ = feed.restore(image);
        feed
    }

    /// Replaces the state with `image`, keeping every connection and subscription; an
    /// image of other symbols is refused and changes nothing. Subscribers are not told:
    /// the caller closes them if the state jumped.
    pub fn restore(&self, image: FeedImage) -> Result<(), ImageError> {
        let fits = image.symbols.len() == self.symbols.len()
            && image
                .symbols
                .iter()
                .all(|s| self.index.contains_key(&s.symbol));
        if !fits {
            let names: Vec<&str> = image.symbols.iter().map(|s| s.symbol.as_str()).collect();
            return Err(ImageError::Symbols(names.join(",")));
        }
        for mut st in image.symbols {
            let Some(&i) = self.index.get(&st.symbol) else {
                continue;
            };
            st.set_retention(self.config().retention);
            let seq = st.seq;
            let mut g = self.symbols[i].lock();
            let sf: &mut SymbolFeed = &mut g;
            sf.state = st;
            drop(g);
            self.seqs[i].store(seq, Ordering::Release);
        }
        let mut log = image.private;
        log.set_cap(self.config().private_window);
        self.private.lock().log = log;
        Ok(())
    }

    /// Closes every subscribed connection with `reason` (its state jumped: the clients
    /// reconnect and start again from a snapshot, or resume `since`). Returns how many.
    pub fn close_subscribers(&self, reason: &str) -> usize {
        let mut n = 0;
        for m in &self.symbols {
            let g = m.lock();
            for c in g.subs.iter().flatten() {
                if !c.is_closed() {
                    c.close(reason);
                    n += 1;
                }
            }
        }
        let p = self.private.lock();
        for c in p.subs.values().flatten().map(|s| &s.conn) {
            if !c.is_closed() {
                c.close(reason);
                n += 1;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Publisher;
    use bourse_core::{Event, OrderId, Price, Qty, Seq, Side, Tagged, UnixNanos};
    use std::sync::Arc;

    fn sym() -> Symbol {
        Symbol::new("AAPL").expect("symbol")
    }

    fn rested(seq: u64, id: u64, price: i64) -> Tagged {
        Tagged {
            seq: Seq(seq),
            ts: UnixNanos::new(seq * 1_000),
            event: Event::OrderRested {
                order_id: OrderId::new(id),
                symbol: sym(),
                side: Side::Buy,
                price: Price::from_raw(price),
                qty: Qty::from_raw(10),
            },
            aseq: 0,
        }
    }

    fn trade(seq: u64) -> Tagged {
        Tagged {
            seq: Seq(seq),
            ts: UnixNanos::new(seq * 1_000),
            event: Event::Trade {
                symbol: sym(),
                trade_id: bourse_core::TradeId::new(seq),
                price: Price::from_raw(1_000_000),
                qty: Qty::from_raw(1),
                aggressor: Side::Buy,
                maker_order: OrderId::new(1),
                taker_order: OrderId::new(2),
            },
            aseq: 0,
        }
    }

    #[test]
    fn feeds_keeping_more_or_less_history_compare_on_what_both_hold() {
        let mut small = FeedConfig::default();
        small.retention.trades = 2;
        let mut large = FeedConfig::default();
        large.retention.trades = 10;
        let core = Arc::new(Feed::new([(sym(), Price::from_raw(1_000_000))], small));
        let edge = Arc::new(Feed::from_image(core.image(), large));
        let mut pc = Publisher::new(core.clone());
        let mut pe = Publisher::new(edge.clone());
        for seq in 1..=5 {
            pc.publish(&[trade(seq)]);
            pe.publish(&[trade(seq)]);
        }
        let theirs = core.image();
        let mut mine = edge.image();
        assert!(
            !mine.same_as(&theirs),
            "the edge holds five trades, the core two"
        );
        mine.trim_like(&theirs);
        assert!(mine.same_as(&theirs));
        // The other way: the core's image trimmed to a smaller edge's settings.
        let tiny_cfg = FeedConfig {
            retention: crate::Retention {
                trades: 1,
                ..small.retention
            },
            ..small
        };
        let tiny = Feed::from_image(core.image(), tiny_cfg);
        let mut fitted = core.image();
        assert!(!tiny.image().same_as(&fitted));
        fitted.fit(&tiny_cfg);
        assert!(tiny.image().same_as(&fitted));
    }

    #[test]
    fn a_restored_image_goes_on_with_the_same_seqs_as_the_original() {
        let cfg = FeedConfig::default();
        let a = Arc::new(Feed::new([(sym(), Price::from_raw(1_000_000))], cfg));
        let mut pa = Publisher::new(a.clone());
        pa.publish(&[rested(1, 1, 990_000)]);
        let bytes = bourse_core::codec::encode(&a.image()).expect("encode");
        let image: FeedImage = bourse_core::codec::decode(&bytes).expect("decode");
        let b = Arc::new(Feed::from_image(image, cfg));
        assert!(b.image().same_as(&a.image()));
        let mut pb = Publisher::new(b.clone());
        for p in [&mut pa, &mut pb] {
            p.publish(&[rested(2, 2, 980_000)]);
        }
        assert!(b.image().same_as(&a.image()));
        assert_eq!(b.with_symbol("AAPL", |s| s.seq), Some(2));
        let other = Feed::new([(Symbol::new("MSFT").expect("s"), Price::from_raw(1))], cfg);
        assert!(other.restore(a.image()).is_err());
    }
}
