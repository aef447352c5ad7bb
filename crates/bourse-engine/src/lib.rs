//! `bourse-engine`: the exchange as one deterministic state machine.
//!
//! Owns every instrument's book, every cash account with its positions and reservations,
//! the pre-trade risk checks and the instrument rules (price band, tick, lot, maximum
//! quantity and notional, halts). [`Engine::apply`] takes one sequenced command and appends
//! the events it causes; the same commands always give the same events and the same state.
//!
//! Must never: do I/O, read a clock (time comes in the command), use randomness, or iterate
//! a hash map on a decision path. It never sees tokio, sqlx or JSON.
//!
//! The [`runner`] module puts the engine on its own pinned thread behind bounded queues and
//! is the one place that starts a thread and stamps commands with a seq and a time (from an
//! injected [`Clock`]); the state machine itself still reads only what each command carries.

pub mod alerts;
mod engine;
pub mod histogram;
pub mod identity;
pub mod instrument;
pub mod profiles;
pub mod runner;
pub mod watchlists;

pub use engine::{Engine, EngineConfig, EngineError, Snapshot, StateHash};
pub use histogram::{AtomicHistogram, HistogramSnapshot};
pub use instrument::{
    Instrument, InstrumentDefaults, InstrumentEntry, InstrumentError, InstrumentsFile,
};
pub use runner::{
    APPLY_NS_BOUNDS, Clock, EventBatch, EventReceiver, JournalBatch, JournalReceiver, Outcome,
    Output, Outputs, Runner, RunnerConfig, RunnerError, RunnerHandle, RunnerStatus, Stopped,
    SubmitError, Ticket, WaitStrategy,
};
