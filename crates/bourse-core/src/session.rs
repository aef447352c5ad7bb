//! Market sessions: the phases of a trading day, in the order a day goes through them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The phase the whole market is in. The server's clock moves the engine from one to the
/// next with a journaled command; the engine itself never reads a clock.
///
/// Without a calendar the market is always [`Session::Continuous`] (the operator's
/// end-of-day and halts still apply), which is what every journal written before sessions
/// existed replays as.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Session {
    /// Nothing trades; orders for the open wait for it.
    Closed,
    /// Extended-hours limit DAY orders trade continuously; other orders wait for the open.
    PreMarket,
    /// The opening call: orders rest without matching until the uncross.
    OpeningCall,
    /// Regular trading: continuous matching.
    #[default]
    Continuous,
    /// The closing call: orders rest without matching until the closing uncross.
    ClosingCall,
    /// Extended-hours limit DAY orders trade continuously; nothing else does.
    AfterHours,
}

impl Session {
    /// Every session in the order a day goes through them (after `AfterHours` comes
    /// `Closed` again).
    pub const DAY: [Session; 6] = [
        Session::Closed,
        Session::PreMarket,
        Session::OpeningCall,
        Session::Continuous,
        Session::ClosingCall,
        Session::AfterHours,
    ];

    /// The session a day goes to after this one.
    #[must_use]
    pub const fn next(self) -> Session {
        match self {
            Session::Closed => Session::PreMarket,
            Session::PreMarket => Session::OpeningCall,
            Session::OpeningCall => Session::Continuous,
            Session::Continuous => Session::ClosingCall,
            Session::ClosingCall => Session::AfterHours,
            Session::AfterHours => Session::Closed,
        }
    }

    /// A call auction: orders rest without matching.
    #[must_use]
    pub const fn is_call(self) -> bool {
        matches!(self, Session::OpeningCall | Session::ClosingCall)
    }

    /// Pre-market or after-hours: only extended-hours orders trade.
    #[must_use]
    pub const fn is_extended(self) -> bool {
        matches!(self, Session::PreMarket | Session::AfterHours)
    }

    /// The stable wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Session::Closed => "closed",
            Session::PreMarket => "pre_market",
            Session::OpeningCall => "opening_call",
            Session::Continuous => "continuous",
            Session::ClosingCall => "closing_call",
            Session::AfterHours => "after_hours",
        }
    }

    /// Inverse of [`Session::as_str`].
    #[must_use]
    pub fn parse(s: &str) -> Option<Session> {
        Session::DAY.into_iter().find(|x| x.as_str() == s)
    }
}

impl fmt::Display for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_cycles_through_every_session_once() {
        let mut s = Session::Closed;
        for expected in Session::DAY {
            assert_eq!(s, expected);
            assert_eq!(Session::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
            s = s.next();
        }
        assert_eq!(s, Session::Closed);
        assert_eq!(Session::parse("lunch"), None);
    }
}
