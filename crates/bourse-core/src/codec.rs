//! The project's one binary codec: every journal record and snapshot goes through here.
//!
//! Layout: one format-version byte, then the value in bincode's standard configuration
//! (bincode 2.0.1, pinned). Decoding refuses an unknown version instead of misreading it, so
//! a future codec can be introduced as a new version beside this one.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The format written today.
pub const FORMAT_VERSION: u8 = 1;

/// Why bytes could not be turned into a value (or back).
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("empty record")]
    Empty,
    #[error("record format version {0} is not supported (this build reads {FORMAT_VERSION})")]
    UnsupportedVersion(u8),
    #[error("record does not decode: {0}")]
    Decode(String),
    #[error("value does not encode: {0}")]
    Encode(String),
    #[error("{0} trailing bytes after the record")]
    TrailingBytes(usize),
}

/// Encodes `value` with its version byte.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    encode_into(value, &mut out)?;
    Ok(out)
}

/// Appends `value`, with its version byte, to `out`: lets a caller reuse one buffer for
/// large values (snapshots) instead of allocating, growing and copying a new one each time.
pub fn encode_into<T: Serialize>(value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
    out.push(FORMAT_VERSION);
    bincode::serde::encode_into_std_write(value, out, bincode::config::standard())
        .map_err(|e| CodecError::Encode(e.to_string()))?;
    Ok(())
}

/// Decodes a value written by [`encode`]; the whole input must be one record.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (&version, body) = bytes.split_first().ok_or(CodecError::Empty)?;
    if version != FORMAT_VERSION {
        return Err(CodecError::UnsupportedVersion(version));
    }
    let (value, used) = bincode::serde::decode_from_slice(body, bincode::config::standard())
        .map_err(|e| CodecError::Decode(e.to_string()))?;
    if used != body.len() {
        return Err(CodecError::TrailingBytes(body.len() - used));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        AccountId, Command, OrderRequest, OrderType, Price, Qty, SelfTradePrevention, Seq,
        Sequenced, Side, Symbol, TimeInForce, UnixNanos,
    };

    fn sample() -> Sequenced {
        Sequenced {
            seq: Seq(42),
            ts: UnixNanos::new(1_700_000_000_000_000_000),
            cmd: Command::SubmitOrder(OrderRequest {
                account: AccountId::new(7),
                symbol: Symbol::new("BRK.B").unwrap(),
                client_order_id: Some("abc".parse().unwrap()),
                side: Side::Sell,
                order_type: OrderType::StopLimit,
                tif: TimeInForce::Day,
                qty: Qty::shares(300),
                limit_price: Some(Price::from_raw(4_100_000)),
                stop_price: Some(Price::from_raw(4_050_000)),
                post_only: false,
                stp: SelfTradePrevention::CancelBoth,
                opts: Default::default(),
            }),
        }
    }

    #[test]
    fn roundtrip() {
        let bytes = encode(&sample()).unwrap();
        assert_eq!(bytes[0], FORMAT_VERSION);
        assert_eq!(decode::<Sequenced>(&bytes).unwrap(), sample());
    }

    #[test]
    fn refuses_bad_input_with_a_reason() {
        let mut bytes = encode(&sample()).unwrap();
        assert!(matches!(decode::<Sequenced>(&[]), Err(CodecError::Empty)));
        bytes[0] = 9;
        assert!(matches!(
            decode::<Sequenced>(&bytes),
            Err(CodecError::UnsupportedVersion(9))
        ));
        bytes[0] = FORMAT_VERSION;
        assert!(matches!(
            decode::<Sequenced>(&bytes[..bytes.len() - 3]),
            Err(CodecError::Decode(_))
        ));
        bytes.push(0);
        assert!(matches!(
            decode::<Sequenced>(&bytes),
            Err(CodecError::TrailingBytes(1))
        ));
    }
}
