//! The JetStream stream the core publishes to: its name, subjects and retention.

use std::time::Duration;

use async_nats::jetstream::{self, stream};

/// Where the stream is and how much of it is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamSettings {
    /// `nats://host:port`.
    pub url: String,
    /// The JetStream stream's name (one per exchange; tests use their own).
    pub stream: String,
    /// Every subject starts with it (`<prefix>.md.<SYMBOL>`, …).
    pub prefix: String,
    /// Messages older than this are dropped (0: no age limit).
    pub max_age: Duration,
    /// The stream keeps at most this many bytes, oldest dropped first (-1: no limit).
    pub max_bytes: i64,
}

/// Why talking to NATS failed.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error("connecting to NATS at {url}: {source}")]
    Connect {
        url: String,
        source: async_nats::ConnectError,
    },
    #[error("JetStream stream {stream}: {message}")]
    Stream { stream: String, message: String },
}

impl StreamSettings {
    /// The stream's configuration: every subject under the prefix, file storage, the
    /// oldest messages dropped first once over a limit (an edge that finds its start gone
    /// waits for the next snapshot).
    #[must_use]
    pub fn config(&self) -> stream::Config {
        stream::Config {
            name: self.stream.clone(),
            subjects: vec![format!("{}.>", self.prefix)],
            max_age: self.max_age,
            max_bytes: self.max_bytes,
            storage: stream::StorageType::File,
            discard: stream::DiscardPolicy::Old,
            ..Default::default()
        }
    }

    /// Connects; the client reconnects by itself afterwards.
    pub async fn connect(&self) -> Result<async_nats::Client, NatsError> {
        async_nats::ConnectOptions::new()
            .name("bourse")
            .retry_on_initial_connect()
            .connect(self.url.as_str())
            .await
            .map_err(|source| NatsError::Connect {
                url: self.url.clone(),
                source,
            })
    }

    /// Creates the stream, or brings an existing one's limits to these settings.
    pub async fn ensure(&self, js: &jetstream::Context) -> Result<(), NatsError> {
        let err = |e: String| NatsError::Stream {
            stream: self.stream.clone(),
            message: e,
        };
        js.get_or_create_stream(self.config())
            .await
            .map_err(|e| err(e.to_string()))?;
        js.update_stream(self.config())
            .await
            .map_err(|e| err(e.to_string()))?;
        Ok(())
    }
}
