//! Company reference data shown with a stock: a profile and a few quarters of key
//! financials, read once at start from a data file (`config/companies.toml`, sample data).
//! Not engine state: nothing trades on it, and a restart reads the file again.

use std::collections::BTreeMap;

use bourse_core::{Cash, Price, Symbol};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::orders::Listings;
use crate::wire;

/// The data file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompaniesFile {
    /// Shown with every profile and statement (e.g. that the figures are sample data).
    pub note: String,
    #[serde(default, rename = "company")]
    pub companies: Vec<CompanyEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompanyEntry {
    pub symbol: String,
    pub description: String,
    pub industry: String,
    pub employees: u64,
    pub website: String,
    pub shares_outstanding: u64,
    /// Newest first.
    #[serde(default, rename = "quarter")]
    pub quarters: Vec<QuarterEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuarterEntry {
    pub period: String,
    pub revenue: String,
    pub net_income: String,
    pub eps: String,
}

/// One quarter's key figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = Quarter)]
pub struct QuarterView {
    /// `YYYY-Qn`.
    #[schema(pattern = "^[0-9]{4}-Q[1-4]$", example = "2026-Q3")]
    pub period: String,
    #[schema(value_type = wire::Cash)]
    pub revenue: Cash,
    #[schema(value_type = wire::Cash)]
    pub net_income: Cash,
    /// Earnings per share, in dollars.
    #[schema(value_type = wire::Cash)]
    pub eps: Cash,
}

/// One company, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Company {
    pub description: String,
    pub industry: String,
    pub employees: u64,
    pub website: String,
    pub shares_outstanding: u64,
    pub quarters: Vec<QuarterView>,
}

/// Every listed company's data, by symbol.
#[derive(Debug, Clone, Default)]
pub struct Companies {
    note: String,
    by_symbol: BTreeMap<Symbol, Company>,
}

fn money(field: &str, symbol: &str, text: &str) -> Result<Cash, String> {
    text.parse::<Cash>()
        .map_err(|e| format!("{symbol}: {field} {text:?}: {e}"))
}

fn period_ok(p: &str) -> bool {
    let b = p.as_bytes();
    b.len() == 7
        && b[..4].iter().all(u8::is_ascii_digit)
        && &b[4..6] == b"-Q"
        && (b'1'..=b'4').contains(&b[6])
}

impl Companies {
    /// Checks the file against the listed stocks: each company listed once, its numbers
    /// exact decimals, its quarters named `YYYY-Qn`, newest first, without repeats.
    pub fn from_file(file: CompaniesFile, listed: &Listings) -> Result<Companies, String> {
        let mut by_symbol = BTreeMap::new();
        for c in file.companies {
            let symbol: Symbol = c
                .symbol
                .parse()
                .ok()
                .filter(|s| listed.get(*s).is_some())
                .ok_or_else(|| format!("{:?} is not a listed symbol", c.symbol))?;
            if c.shares_outstanding == 0 {
                return Err(format!("{symbol}: shares_outstanding is 0"));
            }
            let mut quarters = Vec::with_capacity(c.quarters.len());
            for q in &c.quarters {
                if !period_ok(&q.period) {
                    return Err(format!("{symbol}: period {:?} is not YYYY-Qn", q.period));
                }
                if quarters
                    .last()
                    .is_some_and(|prev: &QuarterView| prev.period <= q.period)
                {
                    return Err(format!(
                        "{symbol}: quarters must be newest first, without repeats ({})",
                        q.period
                    ));
                }
                quarters.push(QuarterView {
                    period: q.period.clone(),
                    revenue: money("revenue", symbol.as_str(), &q.revenue)?,
                    net_income: money("net_income", symbol.as_str(), &q.net_income)?,
                    eps: money("eps", symbol.as_str(), &q.eps)?,
                });
            }
            let company = Company {
                description: c.description,
                industry: c.industry,
                employees: c.employees,
                website: c.website,
                shares_outstanding: c.shares_outstanding,
                quarters,
            };
            if by_symbol.insert(symbol, company).is_some() {
                return Err(format!("{symbol} is listed twice"));
            }
        }
        Ok(Companies {
            note: file.note,
            by_symbol,
        })
    }

    #[must_use]
    pub fn get(&self, symbol: Symbol) -> Option<&Company> {
        self.by_symbol.get(&symbol)
    }

    #[must_use]
    pub fn note(&self) -> &str {
        &self.note
    }
}

/// Shares outstanding × a price, in dollars; `None` past what `Cash` holds.
#[must_use]
pub fn market_cap(shares: u64, price: Price) -> Option<Cash> {
    price.notional(bourse_core::Qty::shares(shares))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::orders::Listing;
    use bourse_core::Qty;

    fn listed(symbols: &[&str]) -> Listings {
        Listings::new(
            symbols
                .iter()
                .map(|s| Listing {
                    symbol: s.parse().unwrap(),
                    name: (*s).to_owned(),
                    sector: "Consumer Staples".to_owned(),
                    tick: "0.01".parse().unwrap(),
                    lot: Qty::ONE,
                    max_qty: Qty::shares(1_000),
                    fractional: false,
                })
                .collect(),
        )
    }

    /// The file's structure, built directly (this crate reads no TOML itself; the server's
    /// tests read the real file).
    fn file() -> CompaniesFile {
        CompaniesFile {
            note: "sample".into(),
            companies: vec![CompanyEntry {
                symbol: "KO".into(),
                description: "Drinks.".into(),
                industry: "Beverages".into(),
                employees: 10,
                website: "https://example.com".into(),
                shares_outstanding: 4_000,
                quarters: vec![
                    QuarterEntry {
                        period: "2026-Q3".into(),
                        revenue: "1000.50".into(),
                        net_income: "-20".into(),
                        eps: "-0.005".into(),
                    },
                    QuarterEntry {
                        period: "2026-Q2".into(),
                        revenue: "900".into(),
                        net_income: "30".into(),
                        eps: "0.0075".into(),
                    },
                ],
            }],
        }
    }

    #[test]
    fn a_good_file_reads_exactly() {
        let c = Companies::from_file(file(), &listed(&["KO"])).unwrap();
        let ko = c.get("KO".parse().unwrap()).unwrap();
        assert_eq!(ko.quarters[0].revenue.to_string(), "1000.50");
        assert_eq!(ko.quarters[0].eps.to_string(), "-0.005");
        assert_eq!(
            market_cap(ko.shares_outstanding, "62.15".parse().unwrap())
                .unwrap()
                .to_string(),
            "248600.00"
        );
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        let bad = |f: &dyn Fn(&mut CompaniesFile), want: &str| {
            let mut x = file();
            f(&mut x);
            let e = Companies::from_file(x, &listed(&["KO"])).unwrap_err();
            assert!(e.contains(want), "{e}");
        };
        bad(
            &|x| x.companies[0].symbol = "ZZZ".into(),
            "not a listed symbol",
        );
        bad(
            &|x| x.companies[0].quarters[1].period = "2026-Q5".into(),
            "YYYY-Qn",
        );
        bad(
            &|x| x.companies[0].quarters[1].period = "2026-Q3".into(),
            "newest first",
        );
        bad(
            &|x| x.companies[0].quarters[0].revenue = "1e9".into(),
            "revenue",
        );
        bad(
            &|x| x.companies[0].shares_outstanding = 0,
            "shares_outstanding",
        );
        bad(&|x| x.companies.push(x.companies[0].clone()), "twice");
    }
}
