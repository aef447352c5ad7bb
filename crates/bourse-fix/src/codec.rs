//! FIX tag=value framing: finding one whole message in a byte stream, checking its
//! BeginString, BodyLength and CheckSum, reading its fields, and writing messages with a
//! correct header and trailer.
//!
//! Hand-written rather than taken from a crate: a message is a flat list of `tag=value`
//! pairs and we need no repeating groups, so the reader is short, allocation-light (one
//! `Vec` of field ranges per message) and exact about what it refuses.

use std::fmt::Write as _;

pub const SOH: u8 = 0x01;
pub const BEGIN_STRING: &str = "FIX.4.4";
/// A message longer than this is garbled (or hostile): the connection is dropped.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// What the framer found at the front of the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// Not enough bytes yet.
    Incomplete,
    /// A whole message of this many bytes that passed the length and checksum checks.
    Message(usize),
    /// This many bytes are garbage (bad BodyLength or CheckSum, no BeginString): the FIX
    /// session rules say to drop them without counting a sequence number.
    Garbled(usize, &'static str),
    /// The stream cannot be framed any more (an absurd length): disconnect.
    Broken(&'static str),
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Frames the message at the front of `buf`.
#[must_use]
pub fn frame(buf: &[u8]) -> Frame {
    let prefix = b"8=FIX.4.4\x019=";
    if buf.len() < prefix.len() {
        return if prefix.starts_with(buf) {
            Frame::Incomplete
        } else {
            skip_to_next(buf)
        };
    }
    if !buf.starts_with(prefix) {
        return skip_to_next(buf);
    }
    let rest = &buf[prefix.len()..];
    let Some(end) = rest.iter().position(|&b| b == SOH) else {
        return if rest.len() > 8 {
            Frame::Broken("BodyLength is not a number")
        } else {
            Frame::Incomplete
        };
    };
    let Some(body_len) = std::str::from_utf8(&rest[..end])
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse::<usize>().ok())
    else {
        return Frame::Garbled(prefix.len() + end + 1, "BodyLength is not a number");
    };
    if body_len > MAX_MESSAGE {
        return Frame::Broken("BodyLength too large");
    }
    let body_start = prefix.len() + end + 1;
    // The message ends at its CheckSum field, wherever BodyLength says: a wrong length
    // (longer or shorter) then costs this one message, never the ones behind it. SOH never
    // occurs inside a value here (no data fields are accepted).
    let Some(trailer_at) = find(&buf[body_start.saturating_sub(1)..], b"\x0110=")
        .map(|i| body_start.saturating_sub(1) + i + 1)
    else {
        return if buf.len() - body_start > MAX_MESSAGE {
            Frame::Broken("no CheckSum field")
        } else {
            Frame::Incomplete
        };
    };
    let total = trailer_at + 7; // "10=nnn\x01"
    if buf.len() < total {
        return Frame::Incomplete;
    }
    if buf[total - 1] != SOH
        || !buf[trailer_at + 3..total - 1]
            .iter()
            .all(u8::is_ascii_digit)
    {
        return Frame::Garbled(total, "CheckSum is not three digits");
    }
    if trailer_at != body_start + body_len {
        return Frame::Garbled(total, "BodyLength does not match the message");
    }
    let trailer = &buf[trailer_at..total];
    let sum = checksum(&buf[..body_start + body_len]);
    let given = std::str::from_utf8(&trailer[3..6])
        .ok()
        .and_then(|s| s.parse::<u32>().ok());
    if given != Some(u32::from(sum)) {
        return Frame::Garbled(total, "CheckSum does not match");
    }
    Frame::Message(total)
}

fn skip_to_next(buf: &[u8]) -> Frame {
    match find(&buf[1..], b"8=FIX") {
        Some(i) => Frame::Garbled(i + 1, "no BeginString"),
        None => {
            // Keep a tail that may be the start of the next message.
            let keep = buf.len().min(8);
            let drop = buf.len() - keep;
            if drop == 0 {
                Frame::Incomplete
            } else {
                Frame::Garbled(drop, "no BeginString")
            }
        }
    }
}

/// The sum of the bytes modulo 256.
#[must_use]
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |a, &b| a.wrapping_add(b))
}

/// One parsed message: its fields in order, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    fields: Vec<(u32, String)>,
}

/// Why a framed message's fields cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub tag: u32,
    pub reason: &'static str,
}

impl Message {
    /// Reads a framed message (as returned by [`frame`]).
    pub fn parse(bytes: &[u8]) -> Result<Message, FieldError> {
        let mut fields = Vec::with_capacity(24);
        for part in bytes.split(|&b| b == SOH).filter(|p| !p.is_empty()) {
            let eq = part.iter().position(|&b| b == b'=').ok_or(FieldError {
                tag: 0,
                reason: "a field without '='",
            })?;
            let tag = std::str::from_utf8(&part[..eq])
                .ok()
                .and_then(|t| t.parse::<u32>().ok())
                .filter(|&t| t > 0)
                .ok_or(FieldError {
                    tag: 0,
                    reason: "a tag that is not a number",
                })?;
            let value = std::str::from_utf8(&part[eq + 1..]).map_err(|_| FieldError {
                tag,
                reason: "a value that is not UTF-8",
            })?;
            if value.is_empty() {
                return Err(FieldError {
                    tag,
                    reason: "a tag without a value",
                });
            }
            fields.push((tag, value.to_owned()));
        }
        Ok(Message { fields })
    }

    /// The first value of `tag`.
    #[must_use]
    pub fn get(&self, tag: u32) -> Option<&str> {
        self.fields
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, v)| v.as_str())
    }

    /// The message type (35).
    #[must_use]
    pub fn msg_type(&self) -> &str {
        self.get(35).unwrap_or("")
    }

    /// MsgSeqNum (34).
    #[must_use]
    pub fn seq(&self) -> Option<u64> {
        self.get(34).and_then(|s| s.parse().ok())
    }

    #[must_use]
    pub fn flag(&self, tag: u32) -> bool {
        self.get(tag) == Some("Y")
    }

    /// Every field, in order.
    #[must_use]
    pub fn fields(&self) -> &[(u32, String)] {
        &self.fields
    }

    /// A tag that appears twice (FIX forbids it outside repeating groups, which none of the
    /// messages we accept has).
    #[must_use]
    pub fn repeated_tag(&self) -> Option<u32> {
        let mut seen: Vec<u32> = self.fields.iter().map(|f| f.0).collect();
        seen.sort_unstable();
        seen.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
    }
}

/// A message being written: its type and body fields. The session stamps the header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outgoing {
    pub msg_type: &'static str,
    pub body: Vec<(u32, String)>,
}

impl Outgoing {
    #[must_use]
    pub fn new(msg_type: &'static str) -> Self {
        Outgoing {
            msg_type,
            body: Vec::with_capacity(16),
        }
    }

    #[must_use]
    pub fn with(mut self, tag: u32, value: impl std::fmt::Display) -> Self {
        self.body.push((tag, value.to_string()));
        self
    }

    pub fn set(&mut self, tag: u32, value: impl std::fmt::Display) {
        self.body.push((tag, value.to_string()));
    }

    /// Session-level messages are never resent: a resend gap-fills over them.
    #[must_use]
    pub fn is_admin(&self) -> bool {
        is_admin(self.msg_type)
    }
}

/// Heartbeat, TestRequest, ResendRequest, Reject, SequenceReset, Logout, Logon.
#[must_use]
pub fn is_admin(msg_type: &str) -> bool {
    matches!(msg_type, "0" | "1" | "2" | "3" | "4" | "5" | "A")
}

/// The header fields the session stamps on every message it sends.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    pub sender: &'a str,
    pub target: &'a str,
    pub seq: u64,
    pub sending_time: &'a str,
    /// A resend: PossDupFlag=Y and the first sending's time.
    pub orig_sending_time: Option<&'a str>,
}

/// Writes a whole message: BeginString, BodyLength, header, body and CheckSum.
#[must_use]
pub fn encode(h: &Header<'_>, msg_type: &str, body: &[(u32, String)]) -> Vec<u8> {
    let mut b = String::with_capacity(256);
    let _ = write!(
        b,
        "35={msg_type}\x0149={}\x0156={}\x0134={}\x0152={}\x01",
        h.sender, h.target, h.seq, h.sending_time
    );
    if let Some(orig) = h.orig_sending_time {
        let _ = write!(b, "43=Y\x01122={orig}\x01");
    }
    for (t, v) in body {
        let _ = write!(b, "{t}={v}\x01");
    }
    let mut out = format!("8={BEGIN_STRING}\x019={}\x01", b.len()).into_bytes();
    out.extend_from_slice(b.as_bytes());
    let sum = checksum(&out);
    out.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
    out
}

/// The body of a stored message: everything but BeginString, BodyLength, the header fields
/// the session stamps (35, 49, 56, 34, 52, 43, 122, 97) and the CheckSum.
#[must_use]
pub fn body_of(m: &Message) -> Vec<(u32, String)> {
    m.fields
        .iter()
        .filter(|(t, _)| !matches!(t, 8 | 9 | 10 | 35 | 49 | 56 | 34 | 52 | 43 | 122 | 97))
        .cloned()
        .collect()
}

/// FIX UTCTimestamp with milliseconds (`YYYYMMDD-HH:MM:SS.sss`) of Unix nanoseconds.
#[must_use]
pub fn utc_timestamp(nanos: u64) -> String {
    let secs = nanos / 1_000_000_000;
    let millis = (nanos / 1_000_000) % 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}-{:02}:{:02}:{:02}.{millis:03}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn msg(seq: u64, body: &[(u32, &str)]) -> Vec<u8> {
        let body: Vec<(u32, String)> = body.iter().map(|(t, v)| (*t, (*v).to_owned())).collect();
        encode(
            &Header {
                sender: "CLIENT",
                target: "BOURSE",
                seq,
                sending_time: "20261205-10:00:00.000",
                orig_sending_time: None,
            },
            "D",
            &body,
        )
    }

    #[test]
    fn a_written_message_frames_and_parses_back() {
        let m = msg(7, &[(11, "abc"), (55, "AAPL")]);
        assert_eq!(frame(&m), Frame::Message(m.len()));
        let p = Message::parse(&m).unwrap();
        assert_eq!(p.msg_type(), "D");
        assert_eq!(p.seq(), Some(7));
        assert_eq!(p.get(55), Some("AAPL"));
        assert_eq!(body_of(&p), vec![(11, "abc".into()), (55, "AAPL".into())]);
    }

    #[test]
    fn partial_messages_wait_and_two_messages_frame_one_at_a_time() {
        let m = msg(1, &[(11, "a")]);
        for cut in 0..m.len() {
            assert_eq!(frame(&m[..cut]), Frame::Incomplete, "cut at {cut}");
        }
        let mut two = m.clone();
        two.extend_from_slice(&msg(2, &[(11, "b")]));
        assert_eq!(frame(&two), Frame::Message(m.len()));
    }

    #[test]
    fn a_bad_checksum_or_length_is_garbled_and_skipped() {
        let mut m = msg(1, &[(11, "a")]);
        let n = m.len();
        m[n - 2] = if m[n - 2] == b'0' { b'1' } else { b'0' };
        assert!(matches!(frame(&m), Frame::Garbled(k, _) if k == n));

        let good = msg(2, &[(11, "b")]);
        let mut bad_len = String::from_utf8(msg(1, &[(11, "a")])).unwrap();
        // Longer than the message: it must not swallow the next one.
        bad_len = bad_len.replacen("9=", "9=9", 1);
        let mut buf = bad_len.into_bytes();
        let skip = buf.len();
        buf.extend_from_slice(&good);
        match frame(&buf) {
            Frame::Garbled(k, _) => {
                assert_eq!(k, skip);
                assert_eq!(frame(&buf[k..]), Frame::Message(good.len()));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(frame(b"garbage!garbage!"), Frame::Garbled(..)));
        assert!(matches!(
            frame(b"8=FIX.4.4\x019=99999999\x01"),
            Frame::Broken(_)
        ));
    }

    #[test]
    fn timestamps_are_utc() {
        // 2026-12-05 10:28:27.123 UTC
        assert_eq!(
            utc_timestamp(1_796_466_507_123_000_000),
            "20261205-10:28:27.123"
        );
        assert_eq!(utc_timestamp(0), "19700101-00:00:00.000");
        assert_eq!(
            utc_timestamp(951_782_400_000_000_000),
            "20000229-00:00:00.000"
        );
    }
}
