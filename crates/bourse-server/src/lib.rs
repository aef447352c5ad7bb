//! `bourse-server`: the `bourse` binary's parts — settings, recovery, the durability
//! pipeline (journal writer and publisher), leadership (the lease, a hot standby's
//! following and takeover) and the wiring of `serve` and `replay`.
//!
//! Owns: the order in which things start and stop (recover → engine → writer → publisher →
//! API; on shutdown the reverse, ending with a commit and a snapshot).
//!
//! Must never: show anything before it is durable; start on a journal it cannot fully
//! replay; leave a snapshot covering commands the journal does not hold.

pub mod admin;
pub mod bench;
pub mod clock;
pub mod config;
pub mod demo;
pub mod edgecmd;
pub mod leadership;
pub mod listener;
pub mod metrics;
pub mod natsrelease;
pub mod notifyrelease;
pub mod pipeline;
pub mod recovery;
pub mod replaybench;
pub mod serve;
pub mod standby;
pub mod tls;

pub use config::Config;
