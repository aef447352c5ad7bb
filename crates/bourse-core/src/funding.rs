//! A person's bank accounts and the transfers to and from them (DESIGN §6), as exchange
//! state: linked banks verified by two micro-deposits, and ACH-style transfers that go
//! pending → settled, or returned.
//!
//! Bank details arrive sealed under the data key with a keyed digest of the account number
//! (to refuse the same account twice), like every other personal datum the engine holds;
//! only the last four digits and the routing number (a bank's public number) are in the
//! clear. The micro-deposit amounts are compared by keyed digest.

use serde::{Deserialize, Serialize};

use crate::profile::Sealed;
use crate::{AccountId, Cash, SecretHash, UnixNanos};

/// Banks one person may link at a time.
pub const MAX_BANKS: usize = 5;
/// Guesses at the two micro-deposit amounts before the link fails.
pub const MICRO_ATTEMPTS: u8 = 3;
/// Transfers one person may have pending at a time.
pub const MAX_PENDING_TRANSFERS: usize = 20;
/// Ended (settled or returned) transfers kept per person, newest first dropped last; the
/// cash they moved stays in the account's activities.
pub const ENDED_TRANSFERS_KEPT: usize = 50;

/// Where a bank link stands.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BankStatus {
    /// Micro-deposits sent; waiting for the person to confirm the amounts.
    Pending,
    /// May fund and receive transfers.
    Verified,
    /// Every guess used: must be removed and linked again.
    Failed,
}

impl BankStatus {
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            BankStatus::Pending => "pending",
            BankStatus::Verified => "verified",
            BankStatus::Failed => "failed",
        }
    }
}

/// A bank account as the gateway hands it in: sealed details, their digests, and the
/// micro-deposits it sent.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct NewBank {
    pub account: AccountId,
    /// The account holder's name, sealed.
    pub holder: Sealed,
    /// The full account number, sealed.
    pub number: Sealed,
    /// Keyed digest of the account number with its routing number.
    pub number_lookup: SecretHash,
    /// The account number's last four digits (what statements and screens show).
    pub last4: String,
    /// The bank's ABA routing number (nine digits, public).
    pub routing: String,
    /// Keyed digest of the two micro-deposit amounts, in cents, as `"a,b"` (smaller first).
    pub micro_digest: SecretHash,
    /// The same amounts sealed, for the bank statement a sandbox shows.
    pub sealed_micro: Sealed,
}

/// A linked bank account.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct BankLink {
    pub id: u64,
    pub holder: Sealed,
    pub number: Sealed,
    pub number_lookup: SecretHash,
    pub last4: String,
    pub routing: String,
    pub micro_digest: SecretHash,
    pub sealed_micro: Sealed,
    pub status: BankStatus,
    pub attempts_left: u8,
    pub linked_at: UnixNanos,
}

/// Which way a transfer moves cash.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the bank into the account.
    Deposit,
    /// From the account to the bank.
    Withdrawal,
}

impl Direction {
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Direction::Deposit => "deposit",
            Direction::Withdrawal => "withdrawal",
        }
    }
}

/// Where a transfer stands.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferStatus {
    Pending,
    Settled,
    Returned,
}

impl TransferStatus {
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            TransferStatus::Pending => "pending",
            TransferStatus::Settled => "settled",
            TransferStatus::Returned => "returned",
        }
    }
}

/// Why the bank sent a transfer back: the NACHA return codes a retail broker meets most.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub enum ReturnCode {
    /// Insufficient funds.
    R01,
    /// Account closed.
    R02,
    /// No account, or unable to locate it.
    R03,
    /// Not authorized by the customer.
    R10,
}

impl ReturnCode {
    pub const ALL: [ReturnCode; 4] = [
        ReturnCode::R01,
        ReturnCode::R02,
        ReturnCode::R03,
        ReturnCode::R10,
    ];

    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            ReturnCode::R01 => "R01",
            ReturnCode::R02 => "R02",
            ReturnCode::R03 => "R03",
            ReturnCode::R10 => "R10",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<ReturnCode> {
        ReturnCode::ALL.into_iter().find(|c| c.code() == s)
    }
}

/// One transfer between an account and a linked bank.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Transfer {
    pub id: u64,
    pub bank: u64,
    pub direction: Direction,
    pub amount: Cash,
    /// The part of a deposit the account could use at once (its instant-deposit limit);
    /// the rest arrives at settlement. A withdrawal's whole amount leaves at once.
    pub instant: Cash,
    pub status: TransferStatus,
    pub created_at: UnixNanos,
    /// When it settles, if the bank does not return it first.
    pub settle_at: UnixNanos,
    /// When it settled or was returned.
    pub ended_at: Option<UnixNanos>,
    pub return_code: Option<ReturnCode>,
}

/// A person's banks and transfers.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Funding {
    pub banks: Vec<BankLink>,
    /// Pending transfers, then the newest ended ones ([`ENDED_TRANSFERS_KEPT`]), oldest first.
    pub transfers: Vec<Transfer>,
    /// A deposit of this person's was returned: no more instant deposits.
    pub instant_revoked: bool,
}

impl Funding {
    #[must_use]
    pub fn bank(&self, id: u64) -> Option<&BankLink> {
        self.banks.iter().find(|b| b.id == id)
    }

    /// Deposit cash credited before settlement: what may be traded but not withdrawn.
    #[must_use]
    pub fn unsettled(&self) -> Cash {
        self.pending()
            .filter(|t| t.direction == Direction::Deposit)
            .fold(Cash::ZERO, |s, t| s.checked_add(t.instant).unwrap_or(s))
    }

    pub fn pending(&self) -> impl Iterator<Item = &Transfer> + '_ {
        self.transfers
            .iter()
            .filter(|t| t.status == TransferStatus::Pending)
    }
}
