//! Just enough JSON to write `verify --json`'s one object.

use std::fmt::{self, Write as _};

/// A JSON object being written, one member at a time.
#[derive(Debug)]
pub(super) struct Object {
    out: String,
}

impl Object {
    pub(super) fn new() -> Self {
        Object {
            out: String::from("{"),
        }
    }

    /// A member whose value is already JSON: a number, `null`, an object.
    pub(super) fn raw(mut self, key: &str, value: impl fmt::Display) -> Self {
        self.key(key);
        let _ = write!(self.out, "{value}");
        self
    }

    /// A string member.
    pub(super) fn string(mut self, key: &str, value: &str) -> Self {
        self.key(key);
        push_string(&mut self.out, value);
        self
    }

    /// A member that is `null` when absent.
    pub(super) fn nullable<T>(
        self,
        key: &str,
        value: Option<T>,
        to_json: impl Fn(T) -> String,
    ) -> Self {
        match value {
            Some(value) => self.raw(key, to_json(value)),
            None => self.raw(key, "null"),
        }
    }

    pub(super) fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }

    fn key(&mut self, key: &str) {
        if self.out.len() > 1 {
            self.out.push(',');
        }
        push_string(&mut self.out, key);
        self.out.push(':');
    }
}

/// A JSON string (quoted, escaped) for `text`.
pub(super) fn string(text: &str) -> String {
    let mut out = String::new();
    push_string(&mut out, text);
    out
}

fn push_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_escaped_members() {
        let inner = Object::new().raw("n", 1).finish();
        let json = Object::new()
            .string("s", "a\"b\\c\n\u{1}é")
            .raw("o", inner)
            .nullable("x", None::<u8>, |v| v.to_string())
            .nullable("y", Some(2), |v| v.to_string())
            .finish();
        assert_eq!(
            json,
            r#"{"s":"a\"b\\c\n\u0001é","o":{"n":1},"x":null,"y":2}"#
        );
        assert_eq!(string("q"), "\"q\"");
    }
}
