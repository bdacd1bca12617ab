//! The strict validator: RFC 8259 JSON, one object, checked in one pass
//! before anything else reads a block.
//!
//! Written by hand (serde-json-core recurses into nested values without a
//! bound and compares keys without unescaping them): nesting is counted in a
//! fixed integer, never by recursion, and every top-level key is decoded
//! before it is compared, so that this crate reads a block exactly as Python's
//! `json.loads`, `jq` or serde_json would, or refuses it.

use super::unescape::{decode_escape, decoded_eq};
use super::{JsonFault, JsonFaultKind, KNOWN_KEYS, MAX_DEPTH, MAX_KEYS};
use crate::scan::find_string_special;

/// What kind of value a top-level key holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    String,
    /// A number with no fraction and no exponent.
    Integer,
    /// A number with a fraction or an exponent.
    Number,
    Bool,
    Null,
    Container,
}

/// A top-level key: where its body stands, whether it holds escapes, and
/// the kind of its value.
#[derive(Clone, Copy, Debug)]
struct Key {
    start: u32,
    end: u32,
    escaped: bool,
    kind: Kind,
    /// Where a scalar value stands (not set for containers).
    value: (u32, u32),
}

const NO_KEY: Key = Key {
    start: 0,
    end: 0,
    escaped: false,
    kind: Kind::Null,
    value: (0, 0),
};

/// What validation found that the readers after it need.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Validated {
    /// Where the `timestamp` number stands.
    pub(crate) timestamp: (usize, usize),
}

/// What the parser expects next.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A value (after `:` or `,` in an array).
    Value,
    /// A value or `]` (after `[`).
    ValueOrEnd,
    /// A key (after `,` in an object).
    Key,
    /// A key or `}` (after `{`).
    KeyOrEnd,
    Colon,
    /// `,` or the end of the open container.
    CommaOrEnd,
}

/// Checks that `json` is one JSON object in RFC 8259's grammar, nested at
/// most [`MAX_DEPTH`] deep, with at most [`MAX_KEYS`] top-level keys, none
/// twice (compared after unescaping), the keys this format defines written
/// without escapes, present when required and holding values of their type.
pub(crate) fn validate(json: &[u8]) -> Result<Validated, JsonFault> {
    if let Err(e) = core::str::from_utf8(json) {
        return Err(JsonFault::new(e.valid_up_to(), JsonFaultKind::InvalidUtf8));
    }
    if u32::try_from(json.len()).is_err() {
        return Err(JsonFault::new(0, JsonFaultKind::TooLong));
    }
    let mut keys = [NO_KEY; MAX_KEYS];
    let mut nkeys = 0usize;
    // One bit per open container, 1 for an object; `depth` of them.
    let mut objects: u32 = 0;
    let mut depth = 0usize;
    let mut expect = Expect::Value;
    let mut at = skip_space(json, 0);
    if json.get(at) != Some(&b'{') {
        let kind = match json.get(at) {
            None => JsonFaultKind::UnexpectedEnd,
            Some(_) => JsonFaultKind::NotAnObject,
        };
        return Err(JsonFault::new(at, kind));
    }
    loop {
        at = skip_space(json, at);
        let Some(&c) = json.get(at) else {
            return Err(JsonFault::new(at, JsonFaultKind::UnexpectedEnd));
        };
        let unexpected = JsonFault::new(at, JsonFaultKind::UnexpectedByte(c));
        let in_object = depth > 0 && objects & 1 == 1;
        match expect {
            Expect::Value | Expect::ValueOrEnd => {
                if c == b']' && expect == Expect::ValueOrEnd {
                    at += 1;
                    depth -= 1;
                    objects >>= 1;
                    expect = Expect::CommaOrEnd;
                    continue;
                }
                let (end, kind) = match c {
                    b'{' | b'[' => {
                        if depth == MAX_DEPTH {
                            return Err(JsonFault::new(at, JsonFaultKind::TooDeep));
                        }
                        depth += 1;
                        objects = (objects << 1) | u32::from(c == b'{');
                        expect = if c == b'{' {
                            Expect::KeyOrEnd
                        } else {
                            Expect::ValueOrEnd
                        };
                        (at + 1, Kind::Container)
                    }
                    b'"' => {
                        expect = Expect::CommaOrEnd;
                        (string(json, at)?.0, Kind::String)
                    }
                    b'-' | b'0'..=b'9' => {
                        expect = Expect::CommaOrEnd;
                        number(json, at)?
                    }
                    b't' | b'f' | b'n' => {
                        expect = Expect::CommaOrEnd;
                        literal(json, at)?
                    }
                    _ => return Err(unexpected),
                };
                // The value of a top-level key: the object itself is depth 1,
                // so a nested container has just made it 2.
                let top_level = match kind {
                    Kind::Container => depth == 2,
                    _ => depth == 1,
                };
                if top_level && nkeys > 0 {
                    if let Some(key) = keys.get_mut(nkeys - 1) {
                        key.kind = kind;
                        // Both fit in u32: the length was checked above.
                        key.value = (at as u32, end as u32);
                    }
                }
                at = end;
            }
            Expect::Key | Expect::KeyOrEnd => {
                if c == b'}' && expect == Expect::KeyOrEnd {
                    at += 1;
                    depth -= 1;
                    objects >>= 1;
                    expect = Expect::CommaOrEnd;
                    if depth == 0 {
                        break;
                    }
                    continue;
                }
                if c != b'"' {
                    return Err(unexpected);
                }
                let (end, escaped) = string(json, at)?;
                if depth == 1 {
                    let Some(slot) = keys.get_mut(nkeys) else {
                        return Err(JsonFault::new(at, JsonFaultKind::TooManyKeys));
                    };
                    // Both fit in u32: the length was checked above.
                    *slot = Key {
                        start: (at + 1) as u32,
                        end: (end - 1) as u32,
                        escaped,
                        kind: Kind::Null,
                        value: (0, 0),
                    };
                    nkeys += 1;
                }
                at = end;
                expect = Expect::Colon;
            }
            Expect::Colon => {
                if c != b':' {
                    return Err(unexpected);
                }
                at += 1;
                expect = Expect::Value;
            }
            Expect::CommaOrEnd => {
                at += 1;
                match c {
                    b',' if in_object => expect = Expect::Key,
                    b',' => expect = Expect::Value,
                    b'}' if in_object => {
                        depth -= 1;
                        objects >>= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b']' if !in_object => {
                        depth -= 1;
                        objects >>= 1;
                    }
                    _ => return Err(unexpected),
                }
            }
        }
    }
    let rest = skip_space(json, at);
    if rest != json.len() {
        return Err(JsonFault::new(rest, JsonFaultKind::TrailingBytes));
    }
    check_keys(json, keys.get(..nkeys).unwrap_or_default())
}

/// The rules on top-level keys: none twice, the known ones unescaped, present
/// when required, and of their kind.
fn check_keys(json: &[u8], keys: &[Key]) -> Result<Validated, JsonFault> {
    let body = |k: &Key| {
        json.get(k.start as usize..k.end as usize)
            .unwrap_or_default()
    };
    for (i, key) in keys.iter().enumerate() {
        let name = body(key);
        let at = key.start as usize - 1;
        for earlier in keys.get(..i).unwrap_or_default() {
            if decoded_eq(body(earlier), name) {
                return Err(JsonFault::new(at, JsonFaultKind::DuplicateKey));
            }
        }
        if key.escaped {
            if let Some(known) = KNOWN_KEYS
                .iter()
                .find(|k| decoded_eq(k.name.as_bytes(), name))
            {
                return Err(JsonFault::new(at, JsonFaultKind::EscapedKey(known.name)));
            }
        }
    }
    for known in KNOWN_KEYS {
        match keys.iter().find(|k| body(k) == known.name.as_bytes()) {
            Some(key) if !known.kinds.contains(&key.kind) => {
                let at = key.start as usize - 1;
                return Err(JsonFault::new(at, JsonFaultKind::WrongType(known.name)));
            }
            None if known.required => {
                return Err(JsonFault::new(0, JsonFaultKind::MissingKey(known.name)));
            }
            _ => {}
        }
    }
    let timestamp = keys
        .iter()
        .find(|k| body(k) == b"timestamp")
        .map_or((0, 0), |k| (k.value.0 as usize, k.value.1 as usize));
    Ok(Validated { timestamp })
}

/// The index of the first byte at or after `at` that is not JSON whitespace.
fn skip_space(json: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = json.get(at) {
        at += 1;
    }
    at
}

/// A string starting at its opening quote `at`: the index after its closing
/// quote, and whether it holds escapes. Raw control characters and bad
/// escapes are refused.
pub(crate) fn string(json: &[u8], at: usize) -> Result<(usize, bool), JsonFault> {
    let mut i = at + 1;
    let mut escaped = false;
    loop {
        let rest = json.get(i..).unwrap_or_default();
        let Some(p) = find_string_special(rest) else {
            return Err(JsonFault::new(json.len(), JsonFaultKind::UnexpectedEnd));
        };
        i += p;
        match json.get(i) {
            Some(b'"') => return Ok((i + 1, escaped)),
            Some(b'\\') => {
                let (_, used) = decode_escape(json.get(i..).unwrap_or_default())
                    .map_err(|kind| JsonFault::new(i, kind))?;
                escaped = true;
                i += used;
            }
            _ => return Err(JsonFault::new(i, JsonFaultKind::ControlCharacter)),
        }
    }
}

/// A number starting at `at`, in RFC 8259's grammar
/// (`-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`) and finite as a
/// double (serde_json refuses `1e400`): the index after it, and its kind.
pub(crate) fn number(json: &[u8], at: usize) -> Result<(usize, Kind), JsonFault> {
    let bad = JsonFault::new(at, JsonFaultKind::BadNumber);
    let digits = |from: usize| {
        json.get(from..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let mut i = at;
    if json.get(i) == Some(&b'-') {
        i += 1;
    }
    let int = digits(i);
    match (int, json.get(i)) {
        (0, _) => return Err(bad),
        (1.., Some(b'0')) if int > 1 => return Err(bad),
        _ => {}
    }
    // `-0` is an integer to Python, a float to serde_json: neither, here.
    let negative_zero = json.get(at..i + int) == Some(b"-0");
    i += int;
    let mut kind = if negative_zero {
        Kind::Number
    } else {
        Kind::Integer
    };
    if json.get(i) == Some(&b'.') {
        let frac = digits(i + 1);
        if frac == 0 {
            return Err(bad);
        }
        i += 1 + frac;
        kind = Kind::Number;
    }
    let exponent = matches!(json.get(i), Some(b'e' | b'E'));
    if exponent {
        i += 1;
        if let Some(b'+' | b'-') = json.get(i) {
            i += 1;
        }
        let exp = digits(i);
        if exp == 0 {
            return Err(bad);
        }
        i += exp;
        kind = Kind::Number;
    }
    // With an exponent, or past 300 integer digits, a double may be
    // infinite: serde_json refuses those, so this does too.
    if exponent || int > 300 {
        let text = json
            .get(at..i)
            .and_then(|t| core::str::from_utf8(t).ok())
            .unwrap_or_default();
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => {}
            _ => return Err(JsonFault::new(at, JsonFaultKind::NumberOutOfRange)),
        }
    }
    Ok((i, kind))
}

/// `true`, `false` or `null` at `at`.
fn literal(json: &[u8], at: usize) -> Result<(usize, Kind), JsonFault> {
    let rest = json.get(at..).unwrap_or_default();
    for (word, kind) in [
        (&b"true"[..], Kind::Bool),
        (b"false", Kind::Bool),
        (b"null", Kind::Null),
    ] {
        if rest.starts_with(word) {
            return Ok((at + word.len(), kind));
        }
    }
    Err(JsonFault::new(
        at,
        JsonFaultKind::UnexpectedByte(rest.first().copied().unwrap_or(0)),
    ))
}
