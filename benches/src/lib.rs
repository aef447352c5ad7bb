//! `bourse-benches`: workloads shared by the criterion benches, the load tools and the
//! real-data tests — a seeded PRNG, the synthetic mixed order flow, and the LOBSTER
//! (real NASDAQ) message-file reader and replayer.

pub mod adapters;
pub mod flow;
pub mod latency;
pub mod lobster;
pub mod rng;
