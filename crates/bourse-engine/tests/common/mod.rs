//! Shared test fixtures: the real instrument list and a small driver.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use bourse_core::{
    AccountId, Cash, Command, Event, OrderRequest, OrderType, Price, Qty, SelfTradePrevention, Seq,
    Sequenced, Side, Symbol, TimeInForce, UnixNanos,
};
use bourse_engine::{Engine, EngineConfig, InstrumentsFile};

/// The instruments of `config/instruments.toml`.
pub fn instruments() -> Vec<bourse_engine::Instrument> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/instruments.toml");
    let text = std::fs::read_to_string(path).unwrap();
    toml::from_str::<InstrumentsFile>(&text)
        .unwrap()
        .resolve()
        .unwrap()
}

pub struct Driver {
    pub engine: Engine,
    pub seq: u64,
}

impl Driver {
    pub fn new(cfg: EngineConfig) -> Self {
        Self {
            engine: Engine::new(cfg, instruments()).unwrap(),
            seq: 0,
        }
    }

    /// A driver listing only `symbols` of the real instruments (in their listed order): a
    /// session change reports on every book, so fewer books keep its events short enough to
    /// assert whole.
    pub fn with_symbols(cfg: EngineConfig, symbols: &[&str]) -> Self {
        let listed: Vec<_> = instruments()
            .into_iter()
            .filter(|i| symbols.contains(&i.symbol.as_str()))
            .collect();
        assert_eq!(listed.len(), symbols.len(), "unknown symbol in {symbols:?}");
        Self {
            engine: Engine::new(cfg, listed).unwrap(),
            seq: 0,
        }
    }

    pub fn run(&mut self, cmd: Command) -> Vec<Event> {
        self.seq += 1;
        let mut out = Vec::new();
        let s = Sequenced {
            seq: Seq(self.seq),
            ts: UnixNanos::new(self.seq * 1_000),
            cmd,
        };
        self.engine.apply(&s, &mut out);
        self.engine.check_invariants().unwrap();
        out
    }

    /// Opens an account funded with `dollars`.
    pub fn funded(&mut self, dollars: i64) -> AccountId {
        let ev = self.run(Command::OpenAccount);
        let Event::AccountOpened { account } = ev[0] else {
            panic!("{ev:?}")
        };
        if dollars > 0 {
            self.run(Command::Deposit {
                account,
                amount: Cash::from_dollars(dollars).unwrap(),
            });
        }
        account
    }

    pub fn shares(&mut self, account: AccountId, symbol: &str, qty: u64) {
        let ev = self.run(Command::DepositShares {
            account,
            symbol: sym(symbol),
            qty: Qty::shares(qty),
        });
        assert!(matches!(ev[0], Event::SharesDeposited { .. }), "{ev:?}");
    }
}

pub fn sym(s: &str) -> Symbol {
    Symbol::new(s).unwrap()
}

pub fn px(s: &str) -> Price {
    s.parse().unwrap()
}

pub fn limit(account: AccountId, symbol: &str, side: Side, price: &str, qty: u64) -> OrderRequest {
    OrderRequest {
        account,
        symbol: sym(symbol),
        client_order_id: None,
        side,
        order_type: OrderType::Limit,
        tif: TimeInForce::Gtc,
        qty: Qty::shares(qty),
        limit_price: Some(px(price)),
        stop_price: None,
        post_only: false,
        stp: SelfTradePrevention::CancelIncoming,
        opts: Default::default(),
    }
}

pub fn market(account: AccountId, symbol: &str, side: Side, qty: u64) -> OrderRequest {
    OrderRequest {
        order_type: OrderType::Market,
        tif: TimeInForce::Ioc,
        limit_price: None,
        ..limit(account, symbol, side, "1", qty)
    }
}

/// SplitMix64: a seeded generator, so every randomized stream repeats from its seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }

    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[usize::try_from(self.below(xs.len() as u64)).unwrap_or(0)]
    }
}
