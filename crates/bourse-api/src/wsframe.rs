//! Reading and writing `/v1/ws` frames without an intermediate JSON tree: the order-entry
//! path parses each request straight into its typed body and writes each answer straight
//! into the frame's text.
//!
//! A request is one flat object: the envelope (`op`, `id`, and for cancel and replace
//! `order_id`) beside the op's own fields. [`Envelope::parse`] reads the envelope and passes
//! over the rest; [`fields`] reads the op's body and passes over the envelope keys, so the
//! body types keep `deny_unknown_fields` and are the same ones the REST routes use.

use std::borrow::Cow;

use axum::extract::ws::Utf8Bytes;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::error::ApiError;

/// The keys every request may carry besides its op's fields.
pub(crate) const ENVELOPE: &[&str] = &["op", "id"];
/// ... and those of cancel and replace, which name the order.
pub(crate) const ENVELOPE_WITH_ORDER: &[&str] = &["op", "id", "order_id"];

/// What every request says about itself.
#[derive(Deserialize)]
pub(crate) struct Envelope<'a> {
    #[serde(borrow, default)]
    op: Option<&'a RawValue>,
    /// The client's request id, echoed verbatim as `request_id`.
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    order_id: Option<&'a RawValue>,
}

impl<'a> Envelope<'a> {
    /// Reads the envelope of `text`. Errors are `MALFORMED_JSON` (not JSON) or
    /// `INVALID_MESSAGE` (JSON, but not an object with an envelope).
    pub(crate) fn parse(text: &'a str) -> Result<Envelope<'a>, ApiError> {
        let not_object =
            || ApiError::bad_request("INVALID_MESSAGE", "send a JSON object with \"op\"");
        let malformed =
            |e: serde_json::Error| ApiError::bad_request("MALFORMED_JSON", e.to_string());
        // (A derived struct would also take an array, by position.)
        if !text.trim_start().starts_with('{') {
            return Err(match serde_json::from_str::<IgnoredAny>(text) {
                Ok(_) => not_object(),
                Err(e) => malformed(e),
            });
        }
        serde_json::from_str(text).map_err(|e| {
            if e.is_data() {
                not_object()
            } else {
                malformed(e)
            }
        })
    }

    /// The request id as JSON text (`null` when the client sent none).
    pub(crate) fn id(&self) -> &'a str {
        self.id.map_or("null", RawValue::get)
    }

    /// The op, or `None` when it is missing or not a string.
    pub(crate) fn op(&self) -> Option<Cow<'a, str>> {
        serde_json::from_str::<Cow<'a, str>>(self.op?.get()).ok()
    }

    /// `order_id`, given as a string or a number.
    pub(crate) fn order_id(&self) -> Result<Cow<'a, str>, ApiError> {
        let missing =
            || ApiError::unprocessable("INVALID_FIELD", "order_id (a string) is required");
        let raw = self.order_id.ok_or_else(missing)?.get();
        if raw.starts_with('"') {
            serde_json::from_str::<Cow<'a, str>>(raw).map_err(|_| missing())
        } else if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Cow::Borrowed(raw))
        } else {
            Err(missing())
        }
    }
}

/// Reads the op's body `T` from the request `text`, passing over the keys in `skip` (the
/// envelope). An unknown key is refused when `T` says so.
pub(crate) fn fields<'a, T: Deserialize<'a>>(
    text: &'a str,
    skip: &'static [&'static str],
) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let read = T::deserialize(Skipping {
        inner: &mut de,
        skip,
    })
    .and_then(|v| de.end().map(|()| v));
    read.map_err(|e| ApiError::unprocessable("INVALID_FIELD", e.to_string()))
}

/// A deserializer of an object that hides some of its keys from the visitor.
struct Skipping<D> {
    inner: D,
    skip: &'static [&'static str],
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Skipping<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.inner.deserialize_map(SkipVisitor {
            inner: visitor,
            skip: self.skip,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.deserialize_any(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

struct SkipVisitor<V> {
    inner: V,
    skip: &'static [&'static str],
}

impl<'de, V: Visitor<'de>> Visitor<'de> for SkipVisitor<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.expecting(f)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(SkipMap {
            inner: map,
            skip: self.skip,
        })
    }
}

struct SkipMap<A> {
    inner: A,
    skip: &'static [&'static str],
}

/// A key, borrowed from the text when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct K;
        impl<'de> Visitor<'de> for K {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(K)
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for SkipMap<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        loop {
            let Some(Key(key)) = self.inner.next_key::<Key<'de>>()? else {
                return Ok(None);
            };
            if self.skip.contains(&key.as_ref()) {
                self.inner.next_value::<IgnoredAny>()?;
                continue;
            }
            return match key {
                Cow::Borrowed(k) => seed
                    .deserialize(de::value::BorrowedStrDeserializer::<A::Error>::new(k))
                    .map(Some),
                Cow::Owned(k) => seed
                    .deserialize(de::value::StringDeserializer::<A::Error>::new(k))
                    .map(Some),
            };
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.inner.next_value_seed(seed)
    }
}

/// `{"type":"execution_report","request_id":…,"report":…}`.
pub(crate) fn report<T: Serialize>(request_id: &str, report: &T) -> Utf8Bytes {
    let mut out = Vec::with_capacity(640);
    out.extend_from_slice(br#"{"type":"execution_report","request_id":"#);
    out.extend_from_slice(request_id.as_bytes());
    out.extend_from_slice(br#","report":"#);
    if serde_json::to_writer(&mut out, report).is_err() {
        // The report types serialize infallibly; should one ever fail, say so in place.
        return error(
            request_id,
            &ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "the report could not be written",
            ),
        );
    }
    out.push(b'}');
    utf8(out)
}

/// `{"type":"error","request_id":…,"code":…,"message":…}`.
pub(crate) fn error(request_id: &str, e: &ApiError) -> Utf8Bytes {
    let mut out = Vec::with_capacity(128 + e.message.len());
    out.extend_from_slice(br#"{"type":"error","request_id":"#);
    out.extend_from_slice(request_id.as_bytes());
    out.extend_from_slice(br#","code":"#);
    // Strings serialize infallibly into a Vec.
    let _ = serde_json::to_writer(&mut out, e.code);
    out.extend_from_slice(br#","message":"#);
    let _ = serde_json::to_writer(&mut out, &e.message);
    if let Some(id) = &e.order_id {
        out.extend_from_slice(br#","order_id":"#);
        let _ = serde_json::to_writer(&mut out, id);
    }
    out.push(b'}');
    utf8(out)
}

fn utf8(bytes: Vec<u8>) -> Utf8Bytes {
    // Only JSON text and the client's own (valid UTF-8) id went in.
    String::from_utf8(bytes).map_or_else(|_| Utf8Bytes::from_static("{}"), Utf8Bytes::from)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::orders::NewOrder;

    #[test]
    fn the_envelope_is_read_and_the_body_parsed_without_it() {
        let text = r#"{"op":"order","id":{"k":[1,2]},"symbol":"AAPL","side":"buy","type":"limit",
            "qty":"10","limit_price":189.5}"#;
        let env = Envelope::parse(text).unwrap();
        assert_eq!(env.op().as_deref(), Some("order"));
        assert_eq!(env.id(), r#"{"k":[1,2]}"#);
        let o: NewOrder = fields(text, ENVELOPE).unwrap();
        assert_eq!((o.symbol.as_str(), o.side.as_str()), ("AAPL", "buy"));
        assert_eq!(o.qty.map(|q| q.text().into_owned()).as_deref(), Some("10"));
        assert_eq!(o.limit_price.unwrap().text(), "189.5");
    }

    #[test]
    fn unknown_keys_are_still_refused_and_escaped_keys_still_read() {
        let text = r#"{"op":"order","id":1,"symbol":"AAPL","side":"buy","type":"market",
            "qty":1,"colour":"red"}"#;
        let e = fields::<NewOrder>(text, ENVELOPE).err().unwrap();
        assert_eq!(e.code, "INVALID_FIELD");
        assert!(e.message.contains("colour"), "{}", e.message);
        let text =
            r#"{"\u006fp":"order","s\u0079mbol":"MSFT","side":"sell","type":"market","qty":2}"#;
        let o: NewOrder = fields(text, ENVELOPE).unwrap();
        assert_eq!(o.symbol, "MSFT");
        // Without the skip list, the envelope is an unknown field of the body.
        assert!(fields::<NewOrder>(text, &[]).is_err());
    }

    #[test]
    fn bad_envelopes_get_their_codes() {
        assert_eq!(
            Envelope::parse("{\"op\":").err().unwrap().code,
            "MALFORMED_JSON"
        );
        assert_eq!(
            Envelope::parse("[1]").err().unwrap().code,
            "INVALID_MESSAGE"
        );
        let env = Envelope::parse(r#"{"op":7}"#).unwrap();
        assert_eq!((env.op(), env.id()), (None, "null"));
        for (text, want) in [
            (r#"{"order_id":"42"}"#, Some("42")),
            (r#"{"order_id":42}"#, Some("42")),
            (r#"{"order_id":-4}"#, None),
            (r#"{"order_id":true}"#, None),
            (r#"{}"#, None),
        ] {
            let got = Envelope::parse(text).unwrap().order_id().ok();
            assert_eq!(got.as_deref(), want, "{text}");
        }
    }

    #[test]
    fn answers_are_valid_json_with_the_id_verbatim() {
        let e = ApiError::bad_request("X", "a \"quoted\"\nmessage");
        let f = error(r#""r-1""#, &e);
        let v: serde_json::Value = serde_json::from_str(f.as_str()).unwrap();
        assert_eq!(v["request_id"], "r-1");
        assert_eq!(v["message"], "a \"quoted\"\nmessage");
        let f = report("7", &serde_json::json!({"id": "1"}));
        let v: serde_json::Value = serde_json::from_str(f.as_str()).unwrap();
        assert_eq!(
            (v["request_id"].as_u64(), v["report"]["id"].as_str()),
            (Some(7), Some("1"))
        );
    }
}
