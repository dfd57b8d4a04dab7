//! RFC 8785 JSON Canonicalization Scheme, for the JSON this protocol signs.
//!
//! Our payloads hold strings, booleans, nulls, integers, arrays and objects. Integers must lie
//! within ±(2^53 − 1) so that every implementation (JavaScript included) reads them exactly;
//! fractions are refused rather than approximated, because amounts are integers in the minor
//! unit of their currency.

use serde::Serialize;
use serde_json::Value;

use crate::ProtocolError;

/// The largest integer that an IEEE-754 double holds exactly (JavaScript's MAX_SAFE_INTEGER).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Canonical JSON text of any serialisable value.
pub fn to_canonical_string<T: Serialize>(value: &T) -> Result<String, ProtocolError> {
    let value = serde_json::to_value(value).map_err(|e| ProtocolError::Canonical(e.to_string()))?;
    let mut out = String::new();
    write_value(&value, &mut out)?;
    Ok(out)
}

fn write_value(value: &Value, out: &mut String) -> Result<(), ProtocolError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                if u > MAX_SAFE_INTEGER {
                    return Err(ProtocolError::Canonical(format!("integer {u} is beyond 2^53-1")));
                }
                out.push_str(&u.to_string());
            } else if let Some(i) = n.as_i64() {
                if i.unsigned_abs() > MAX_SAFE_INTEGER {
                    return Err(ProtocolError::Canonical(format!("integer {i} is beyond 2^53-1")));
                }
                out.push_str(&i.to_string());
            } else {
                return Err(ProtocolError::Canonical(format!(
                    "number {n} is not an integer; signed payloads carry integers only"
                )));
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            // RFC 8785 §3.2.3: sort by the UTF-16 code units of the names.
            entries.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_value(v, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// ECMAScript JSON.stringify string escaping (RFC 8785 §3.2.2.2).
fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_by_utf16_code_units() {
        // From RFC 8785 §3.2.3: "\u20ac" (€) sorts after "\r" and before "\ud83d\ude00" (😀)
        // in UTF-16 order, while U+FB33 sorts after 😀 in UTF-8 order but before it in UTF-16.
        let v = json!({"\u{20ac}": "Euro Sign", "\r": "Carriage Return", "\u{fb33}": "Hebrew Letter Dalet With Dagesh", "1": "One", "\u{1f600}": "Emoji: Grinning Face", "\u{80}": "Control", "\u{f6}": "Latin Small Letter O With Diaeresis"});
        let s = to_canonical_string(&v).unwrap();
        let want = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}";
        assert_eq!(s, want);
    }

    #[test]
    fn escapes_like_json_stringify() {
        let v = json!({"s": "\u{1}\u{1f}\"\\/\n\u{7f}\u{2028}é"});
        assert_eq!(to_canonical_string(&v).unwrap(), "{\"s\":\"\\u0001\\u001f\\\"\\\\/\\n\u{7f}\u{2028}é\"}");
    }

    #[test]
    fn rfc8785_example_without_fractions() {
        let v = json!({"literals": [null, true, false], "numbers": [333333333, 4, 2e3 as i64, 0], "string": "€$\u{f}\nA'B\"\\\\\"/"});
        assert_eq!(
            to_canonical_string(&v).unwrap(),
            r#"{"literals":[null,true,false],"numbers":[333333333,4,2000,0],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        );
    }

    #[test]
    fn refuses_fractions_and_unsafe_integers() {
        assert!(to_canonical_string(&json!({"a": 1.5})).is_err());
        assert!(to_canonical_string(&json!({"a": MAX_SAFE_INTEGER + 1})).is_err());
        assert!(to_canonical_string(&json!({"a": -(MAX_SAFE_INTEGER as i64) - 1})).is_err());
        assert_eq!(to_canonical_string(&json!({"a": MAX_SAFE_INTEGER})).unwrap(), "{\"a\":9007199254740991}");
    }
}
