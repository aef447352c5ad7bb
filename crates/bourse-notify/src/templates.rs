//! Email (subject and text) and SMS text per notice type, from the delivery's payload
//! (`{"id", "type", "created_at", "account_id", "data": {...}}`). Plain format strings: a
//! missing or unexpected field renders as something generic, never a panic.

use serde_json::Value;

/// One notice, rendered.
#[derive(Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    /// The email's plain-text body.
    pub text: String,
    /// The SMS body (short).
    pub sms: String,
}

impl std::fmt::Debug for Rendered {
    /// A verification code is in the text: not for logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rendered")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// `data.<name>` as text: strings as they are, other values as JSON, missing as `?`.
fn field(data: &Value, name: &str) -> String {
    match data.get(name) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "?".to_owned(),
        Some(v) => v.to_string(),
    }
}

fn has(data: &Value, name: &str) -> bool {
    data.get(name).is_some_and(|v| !v.is_null())
}

const FOOTER: &str = "\n\n-- \nbourse. You receive this because of your notification settings.";

/// Renders notice `kind` from `payload`. `code`: a verification code, opened by the caller
/// (only in memory); without it a `verification_code` notice renders without one.
pub fn render(kind: &str, payload: &Value, code: Option<&str>) -> Rendered {
    let empty = Value::Null;
    let d = payload.get("data").unwrap_or(&empty);
    let f = |n: &str| field(d, n);
    let order = || {
        if has(d, "client_order_id") {
            format!("{} ({})", f("order_id"), f("client_order_id"))
        } else {
            f("order_id")
        }
    };
    let (subject, body, sms) = match kind {
        "verification_code" => {
            let code = code.unwrap_or("(unavailable)");
            let what = match d.get("purpose").and_then(Value::as_str) {
                Some("reset") => "reset your password",
                Some("change") => "confirm the change to your account",
                _ => "verify your contact address",
            };
            (
                "Your bourse verification code".to_owned(),
                format!(
                    "Your code to {what} is {code}.\n\nIt expires soon. If you did not ask for it, ignore this message and consider changing your password."
                ),
                format!("bourse: your code to {what} is {code}. Do not share it."),
            )
        }
        "order_filled" | "order_partially_filled" => {
            let partial = kind == "order_partially_filled";
            let side = f("side").to_uppercase();
            let head = if partial {
                "Order partially filled"
            } else {
                "Order filled"
            };
            (
                format!("{head}: {side} {} {}", f("last_qty"), f("symbol")),
                format!(
                    "{head}.\n\nOrder: {}\nSymbol: {}\nSide: {side}\nThis fill: {} @ {}\nFilled so far: {} (average {})\nRemaining: {}",
                    order(),
                    f("symbol"),
                    f("last_qty"),
                    f("last_price"),
                    f("cum_qty"),
                    f("avg_price"),
                    f("leaves_qty"),
                ),
                format!(
                    "bourse: {side} {} {} @ {} {}. Filled {}, left {}.",
                    f("last_qty"),
                    f("symbol"),
                    f("last_price"),
                    if partial { "(partial)" } else { "filled" },
                    f("cum_qty"),
                    f("leaves_qty"),
                ),
            )
        }
        "order_canceled" | "order_expired" | "order_rejected" => {
            let verb = match kind {
                "order_canceled" => "canceled",
                "order_expired" => "expired",
                _ => "rejected",
            };
            let what = if has(d, "symbol") {
                format!("{} {}", f("side").to_uppercase(), f("symbol"))
                    .trim()
                    .to_owned()
            } else {
                "Your order".to_owned()
            };
            (
                format!("Order {verb}: {what}"),
                format!(
                    "Your order was {verb}.\n\nOrder: {}\nSymbol: {}\nReason: {}",
                    order(),
                    f("symbol"),
                    f("reason"),
                ),
                format!("bourse: order {} {verb} ({}).", order(), f("reason")),
            )
        }
        "price_alert" => (
            format!(
                "Price alert: {} {} {}",
                f("symbol"),
                f("condition"),
                f("price")
            ),
            format!(
                "Your price alert {} triggered.\n\nSymbol: {}\nCondition: {} {}\nTrade price: {}",
                f("alert_id"),
                f("symbol"),
                f("condition"),
                f("price"),
                f("trade_price"),
            ),
            format!(
                "bourse: {} traded at {} ({} {}).",
                f("symbol"),
                f("trade_price"),
                f("condition"),
                f("price")
            ),
        ),
        "deposit" | "withdrawal" => {
            // A bank transfer says where it stands; a book transfer is done at once.
            let status = d.get("status").and_then(Value::as_str).unwrap_or("");
            let (head, verb) = match (kind, status) {
                ("deposit", "pending") => ("Deposit on its way", "coming from your bank"),
                ("deposit", "settled") => ("Deposit settled", "settled"),
                ("deposit", "returned") => ("Deposit returned by your bank", "returned"),
                ("deposit", _) => ("Deposit received", "deposited"),
                (_, "pending") => ("Withdrawal started", "on its way to your bank"),
                (_, "settled") => ("Withdrawal completed", "arrived at your bank"),
                (_, "returned") => ("Withdrawal returned by your bank", "returned"),
                _ => ("Withdrawal sent", "withdrawn"),
            };
            let code = d
                .get("return_code")
                .and_then(Value::as_str)
                .map(|c| format!("\nReturn code: {c}"))
                .unwrap_or_default();
            (
                format!("{head}: {}", f("amount")),
                format!(
                    "{head}.\n\nAmount: {}\nCash balance now: {}{code}",
                    f("amount"),
                    f("balance")
                ),
                format!("bourse: {} {verb}. Balance {}.", f("amount"), f("balance")),
            )
        }
        "log_in" => (
            "New sign-in to your bourse account".to_owned(),
            format!(
                "Someone signed in to your account.\n\nDevice: {}\n\nIf this was not you, change your password now.",
                f("device")
            ),
            format!(
                "bourse: new sign-in ({}). Not you? Change your password.",
                f("device")
            ),
        ),
        "security_change" => (
            "Security change on your bourse account".to_owned(),
            format!(
                "A security setting of your account changed: {}.\n\nIf this was not you, contact support now.",
                f("change")
            ),
            format!(
                "bourse: security change ({}). Not you? Contact support.",
                f("change")
            ),
        ),
        other => {
            let fields = match d {
                Value::Object(m) => m
                    .iter()
                    .map(|(k, v)| {
                        let v = match v {
                            Value::String(s) => s.clone(),
                            v => v.to_string(),
                        };
                        format!("{k}: {v}")
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
                Value::Null => String::new(),
                v => v.to_string(),
            };
            let name = other.replace('_', " ");
            (
                format!("bourse notification: {name}"),
                format!("Notification: {name}\n\n{fields}"),
                format!("bourse: {name}."),
            )
        }
    };
    Rendered {
        subject,
        text: format!("{body}{FOOTER}"),
        sms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fills_render_their_numbers() {
        let p = json!({"id": "n-1", "type": "order_filled", "data": {
            "order_id": "42", "client_order_id": "abc", "symbol": "AAPL", "side": "buy",
            "last_qty": "10", "last_price": "187.25", "cum_qty": "10", "leaves_qty": "0",
            "avg_price": "187.25"}});
        let r = render("order_filled", &p, None);
        assert_eq!(r.subject, "Order filled: BUY 10 AAPL");
        assert!(r.text.contains("Order: 42 (abc)"));
        assert!(r.text.contains("This fill: 10 @ 187.25"));
        assert!(r.sms.starts_with("bourse: BUY 10 AAPL @ 187.25 filled"));
    }

    #[test]
    fn codes_render_only_what_is_given() {
        let p = json!({"type": "verification_code", "data": {"purpose": "reset", "code_sealed": "ab", "contact": "email"}});
        let r = render("verification_code", &p, Some("123456"));
        assert!(r.text.contains("reset your password is 123456"));
        assert!(r.sms.contains("123456"));
        assert!(!r.text.contains("ab\n"));
        assert!(!format!("{r:?}").contains("123456"));
        let r = render("verification_code", &p, None);
        assert!(r.text.contains("(unavailable)"));
    }

    #[test]
    fn odd_payloads_never_panic() {
        let odd = [
            json!(null),
            json!({}),
            json!({"data": 5}),
            json!({"data": {"order_id": 7, "reason": null, "x": [1, 2]}}),
            json!({"data": "text"}),
        ];
        let kinds = [
            "verification_code",
            "order_filled",
            "order_partially_filled",
            "order_canceled",
            "order_expired",
            "order_rejected",
            "price_alert",
            "deposit",
            "withdrawal",
            "log_in",
            "security_change",
            "something_new",
        ];
        for p in &odd {
            for k in kinds {
                let r = render(k, p, None);
                assert!(!r.subject.is_empty() && !r.text.is_empty() && !r.sms.is_empty());
            }
        }
        let r = render("order_rejected", &odd[3], None);
        assert!(r.text.contains("Order: 7") && r.text.contains("Reason: ?"));
        let r = render("something_new", &odd[3], None);
        assert!(r.text.contains("x: [1,2]"));
    }
}
