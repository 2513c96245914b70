//! The lexical pieces every part of the parser shares: SIP whitespace, tokens,
//! decimal numbers, and separators found outside quoted strings and `<...>`.

/// SP and HTAB, the only whitespace SIP's LWS allows.
pub(super) const WSP: [char; 2] = [' ', '\t'];

/// The trimmed value of the parameter `name` in `a=1;b;c=2`; "" when it has no value.
pub(super) fn param_value<'a>(params: &'a str, name: &str) -> Option<&'a str> {
    SplitOutside {
        rest: Some(params),
        separator: Some(b';'),
    }
    .find_map(|param| {
        let (n, v) = param.split_once('=').unwrap_or((param, ""));
        n.trim_matches(WSP)
            .eq_ignore_ascii_case(name)
            .then(|| v.trim_matches(WSP))
    })
}

/// Splits at the first `separator` outside quotes and `<...>`.
pub(super) fn split_first_outside(s: &str, separator: u8) -> (&str, Option<&str>) {
    match find_outside(s, separator) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}

/// Pieces of a string between separators outside quotes and `<...>`; no separator means
/// the whole string is one piece.
pub(super) struct SplitOutside<'a> {
    pub(super) rest: Option<&'a str>,
    pub(super) separator: Option<u8>,
}

impl<'a> Iterator for SplitOutside<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        let (piece, rest) = match self.separator {
            Some(separator) => split_first_outside(s, separator),
            None => (s, None),
        };
        self.rest = rest;
        Some(piece)
    }
}

/// The index of the first `byte` outside quoted strings and outside `<...>`.
pub(super) fn find_outside(s: &str, byte: u8) -> Option<usize> {
    let (mut quoted, mut escaped, mut depth) = (false, false, 0usize);
    for (i, b) in s.bytes().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match b {
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            _ if quoted => {}
            b if b == byte && depth == 0 => return Some(i),
            b'<' => depth += 1,
            b'>' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

pub(super) fn quotes_balanced(s: &str) -> bool {
    let (mut quoted, mut escaped) = (false, false);
    for b in s.bytes() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            _ => {}
        }
    }
    !quoted
}

pub(super) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_byte)
}

pub(super) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

pub(super) fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// Digits only, no sign, no overflow.
pub(super) fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}
