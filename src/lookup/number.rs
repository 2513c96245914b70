//! Phone numbers as callers and customers write them, read into the forms that
//! lookup compares: E.164, the national significant number, and the digits
//! reversed for suffix matches.
//!
//! Reading is syntactic. A number need not be assigned in a real range to be
//! read, only of a possible length for its country, because customer records
//! hold test numbers and ranges the metadata does not know yet.
//!
//! The only digits ever removed are an international access prefix (`00`,
//! `011`, whatever the region dials) or a national trunk prefix, each chosen by
//! the rules of the region the number is read in. A reading by the
//! `phonenumber` crate that would remove anything else, or rewrite digits, is
//! refused and the number keeps no E.164; it can still match by suffix.

use std::fmt;
use std::str::FromStr;

use phonenumber::country::{Id, Source};
use phonenumber::metadata::DATABASE;
use phonenumber::{Metadata, Mode, PhoneNumber, Type};
use serde::Serialize;

/// Separators people put between digits; they carry no meaning.
const SEPARATORS: &[char] = &[
    ' ', '-', '.', '/', '(', ')', '[', ']', '~', '\u{a0}', '\u{2010}', '\u{2011}', '\u{2012}',
    '\u{2013}', '\u{2014}', '\u{2212}', '\t',
];

/// Words that introduce an extension after the main number, longest first.
const EXTENSION_MARKS: &[&str] = &["extension", "ext.", "ext", "x", "#"];

/// More digits than this cannot be one phone number, even with an access prefix.
const MAX_DIGITS: usize = 20;

/// A region code (ISO 3166 alpha-2, e.g. `US`, `DE`) with its numbering rules.
#[derive(Clone, Copy)]
pub struct Region {
    id: Id,
    meta: &'static Metadata,
}

/// A region code the numbering metadata does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown region code {0:?}: expected two letters such as US, DE or IT")]
pub struct UnknownRegion(pub String);

impl FromStr for Region {
    type Err = UnknownRegion;

    fn from_str(code: &str) -> Result<Region, UnknownRegion> {
        let upper = code.trim().to_ascii_uppercase();
        let id = Id::from_str(&upper).map_err(|_| UnknownRegion(code.to_string()))?;
        let meta = DATABASE
            .by_id(id.as_ref())
            .ok_or_else(|| UnknownRegion(code.to_string()))?;
        Ok(Region { id, meta })
    }
}

impl Region {
    /// The two-letter code, e.g. `DE`.
    pub fn code(&self) -> &'static str {
        self.meta.id()
    }

    /// The country calling code, e.g. 49.
    pub fn country_code(&self) -> u16 {
        self.meta.country_code()
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One phone number in every form lookup uses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Number {
    /// As it was written or received.
    pub raw: String,
    /// `+` and digits; none when the number could not be read in full, or its
    /// length is not possible for its country.
    pub e164: Option<String>,
    /// The country calling code, when the number's country is known.
    pub country_code: Option<u16>,
    /// The national significant number (Italy's leading 0 included), when the
    /// number could be read, even at a length its country does not use.
    pub national: Option<String>,
    /// The digits without international access or trunk prefix, reversed.
    pub rev_digits: String,
    /// An extension written after the number (`ext. 7`, `x7`, `;ext=7`).
    pub extension: Option<String>,
}

impl Number {
    /// The digits compared by suffix, in reading order.
    pub fn digits(&self) -> String {
        self.rev_digits.chars().rev().collect()
    }
}

/// Why a customer's number cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("no digits in {0:?}")]
    NoDigits(String),
    #[error("unexpected text {text:?} in {raw:?}")]
    UnexpectedText { raw: String, text: String },
    #[error("too many digits in {0:?}")]
    TooLong(String),
}

/// Reads numbers with a home region: the region of numbers written without
/// a country code or an international access prefix.
#[derive(Clone, Debug)]
pub struct Normalizer {
    home: Region,
}

impl Normalizer {
    /// A normaliser for `home_region`, e.g. `"US"`, as `phone.home_region` says.
    pub fn new(home_region: &str) -> Result<Normalizer, UnknownRegion> {
        Ok(Normalizer {
            home: home_region.parse()?,
        })
    }

    pub fn home(&self) -> Region {
        self.home
    }

    /// Reads a number in the home region; never fails, a number that cannot be
    /// read keeps only its digits.
    pub fn normalize(&self, raw: &str) -> Number {
        self.normalize_in(raw, self.home)
    }

    /// Reads a number in `region`, the region its record says it is from.
    pub fn normalize_in(&self, raw: &str, region: Region) -> Number {
        let written = Written::parse(raw);
        let reading = read(&written, region);
        Number {
            raw: raw.to_string(),
            e164: reading.e164,
            country_code: reading.country_code,
            national: reading.national,
            rev_digits: reading.kept.chars().rev().collect(),
            extension: written.extension,
        }
    }

    /// Reads a customer's number strictly: text that is not part of a phone
    /// number is refused rather than dropped, because "1-800-FLOWERS" read as
    /// "1800" would be another number.
    pub fn check(&self, raw: &str, region: Region) -> Result<Number, NumberError> {
        let written = Written::parse(raw);
        if written.digits.is_empty() {
            return Err(NumberError::NoDigits(raw.to_string()));
        }
        if let Some(text) = written.unexpected {
            return Err(NumberError::UnexpectedText {
                raw: raw.to_string(),
                text,
            });
        }
        if written.digits.len() > MAX_DIGITS {
            return Err(NumberError::TooLong(raw.to_string()));
        }
        Ok(self.normalize_in(raw, region))
    }

    /// The number as people write it: national format for numbers of the
    /// home country, international otherwise, as received when unreadable.
    pub fn for_people(&self, number: &Number) -> String {
        let Some(parsed) = number
            .e164
            .as_deref()
            .and_then(|e| phonenumber::parse(None, e).ok())
        else {
            return number.raw.trim().to_string();
        };
        let mode = if parsed.code().value() == self.home.country_code() {
            Mode::National
        } else {
            Mode::International
        };
        let mut text = parsed.format().mode(mode).to_string();
        if let Some(ext) = &number.extension {
            text.push_str(" ext. ");
            text.push_str(ext);
        }
        text
    }
}

/// A number taken apart as written: the digits in order, whether a `+`
/// came first, and what else was around them.
#[derive(Debug, Default)]
struct Written {
    plus: bool,
    digits: String,
    /// Where a bracketed `(0)` stood inside an international number, as an
    /// index into `digits`; whether it is a trunk digit depends on the country.
    optional_zero: Option<usize>,
    extension: Option<String>,
    /// `phone-context=+49` of a tel: URI: the country of a local number.
    context: Option<String>,
    unexpected: Option<String>,
}

impl Written {
    fn parse(raw: &str) -> Written {
        let mut written = Written::default();
        let user = strip_uri(raw);

        // URI parameters follow the number: only the extension and the
        // phone context say anything about it.
        let mut parts = user.split(';');
        let main = parts.next().unwrap_or("");
        for param in parts {
            let (key, value) = param.split_once('=').unwrap_or((param, ""));
            match key.trim().to_ascii_lowercase().as_str() {
                "ext" => written.extension = Some(value.trim().to_string()),
                "phone-context" => written.context = Some(value.trim().to_string()),
                _ => {}
            }
        }

        let (number, extension) = split_extension(main);
        if extension.is_some() {
            written.extension = extension;
        }
        written.read_characters(number);
        written
    }

    fn read_characters(&mut self, number: &str) {
        let number = number.trim();
        let mut chars = number.char_indices();
        while let Some((at, c)) = chars.next() {
            match c {
                '0'..='9' => self.digits.push(c),
                '+' | '\u{ff0b}' if self.digits.is_empty() && !self.plus => self.plus = true,
                '(' if number[at..].starts_with("(0)") && !self.digits.is_empty() => {
                    self.optional_zero = Some(self.digits.len());
                    self.digits.push('0');
                    chars.nth(1);
                }
                c if SEPARATORS.contains(&c) => {}
                _ => {
                    let rest = number[at..].trim_end();
                    self.unexpected.get_or_insert_with(|| rest.to_string());
                }
            }
        }
    }
}

/// The user part of a `sip:` or `tel:` URI, or the text itself.
fn strip_uri(raw: &str) -> &str {
    let text = raw
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    let lower = text.to_ascii_lowercase();
    let text = ["sips:", "sip:", "tel:"]
        .iter()
        .find(|scheme| lower.starts_with(*scheme))
        .map_or(text, |scheme| &text[scheme.len()..]);
    text.split('@').next().unwrap_or(text)
}

/// Splits `"+1 555-010-1234 ext. 7"` into the number and `"7"`. Text after the
/// digits that is not an extension is left for the caller to judge.
fn split_extension(text: &str) -> (&str, Option<String>) {
    let Some(start) = text.find(|c: char| c.is_alphabetic() || c == '#') else {
        return (text, None);
    };
    let tail = text[start..].to_lowercase();
    for mark in EXTENSION_MARKS {
        let Some(rest) = tail.strip_prefix(mark) else {
            continue;
        };
        let digits = rest.trim_start_matches(['.', ':', ' ']).trim_end();
        if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
            return (&text[..start], Some(digits.to_string()));
        }
    }
    (text, None)
}

/// What could be read from a number's digits.
#[derive(Debug, Default)]
struct Reading {
    e164: Option<String>,
    country_code: Option<u16>,
    national: Option<String>,
    /// The digits left after removing an access or trunk prefix.
    kept: String,
}

fn read(written: &Written, region: Region) -> Reading {
    // A local number in a tel: URI says which country it belongs to.
    let region = written
        .context
        .as_deref()
        .and_then(region_for_context)
        .filter(|_| !written.plus)
        .unwrap_or(region);

    let digits = match written.optional_zero {
        Some(at) => resolve_optional_zero(written, at, region),
        None => written.digits.clone(),
    };
    if digits.is_empty() || digits.len() > MAX_DIGITS {
        return Reading {
            kept: digits,
            ..Reading::default()
        };
    }

    let reading = if written.plus {
        read_international(&digits, region)
    } else if let Some(rest) = after_access_prefix(&digits, region) {
        read_international(rest, region)
    } else {
        read_dialled(&digits, region)
    };
    reading.unwrap_or_else(|| Reading {
        kept: strip_by_rules(&digits, written.plus, region),
        ..Reading::default()
    })
}

/// The region of a `phone-context=+49` parameter.
fn region_for_context(context: &str) -> Option<Region> {
    let code: u16 = context.strip_prefix('+')?.parse().ok()?;
    main_metadata(code)?.id().parse().ok()
}

/// `+44 (0)20 ...` drops the bracketed 0 where the country dials 0 as trunk
/// prefix; Italy keeps it, because there it belongs to the number.
fn resolve_optional_zero(written: &Written, at: usize, region: Region) -> String {
    let mut without = written.digits.clone();
    without.remove(at);
    let text = if written.plus {
        format!("+{without}")
    } else {
        without.clone()
    };
    let trunk_zero = phonenumber::parse(Some(region.id), text)
        .ok()
        .and_then(|parsed| metadata_of(&parsed))
        .is_some_and(|meta| meta.national_prefix() == Some("0"));
    if trunk_zero {
        without
    } else {
        written.digits.clone()
    }
}

/// A number written with `+`: country code and national number follow. Some
/// people also type the access prefix (`+00 49 ...`) or the trunk prefix
/// (`+49 030 ...`); those come off by the rules of the country.
fn read_international(digits: &str, region: Region) -> Option<Reading> {
    let body = if digits.starts_with('0') {
        strip_access_prefix(digits, region)?
    } else {
        digits
    };
    // Read without a region: the crate strips the given region's trunk
    // prefix even from another country's number (+33 1... in the US).
    let parsed = phonenumber::parse(None, format!("+{body}")).ok()?;
    let cc = parsed.code().value().to_string();
    let nsn = parsed.national().to_string();

    let written = body.strip_prefix(cc.as_str())?;
    let trunk = metadata_of(&parsed).and_then(|m| m.national_prefix());
    let with_trunk = trunk.is_some_and(|t| written.strip_prefix(t) == Some(nsn.as_str()));
    if written != nsn && !with_trunk {
        return None;
    }
    Some(reading_of(&parsed, &format!("{cc}{nsn}"), true))
}

/// A number as dialled or delivered without `+` or access prefix: maybe a
/// trunk prefix and the national number, maybe the country code.
fn read_dialled(digits: &str, region: Region) -> Option<Reading> {
    let parsed = phonenumber::parse(Some(region.id), digits).ok()?;
    let cc = parsed.code().value().to_string();
    let nsn = parsed.national().to_string();
    let removed = digits.strip_suffix(nsn.as_str())?;

    match parsed.code().source() {
        Source::Default => {
            is_trunk_prefix(removed, digits, region).then(|| reading_of(&parsed, &nsn, true))
        }
        // The crate found the country code written without `+`; trusted only
        // when the result is a possible number, else it was a guess.
        Source::Number => (removed == cc)
            .then(|| reading_of(&parsed, digits, false))?
            .possible(),
        Source::Idd | Source::Plus => None,
    }
}

/// The reading of a parsed number whose digits were checked; `keep_partial`
/// says whether a reading at an impossible length still names the country.
fn reading_of(parsed: &PhoneNumber, kept: &str, keep_partial: bool) -> Reading {
    let code = parsed.code().value();
    let nsn = parsed.national().to_string();
    if is_possible(parsed, &nsn) {
        return Reading {
            e164: Some(format!("+{code}{nsn}")),
            country_code: Some(code),
            national: Some(nsn),
            kept: kept.to_string(),
        };
    }
    if !keep_partial {
        return Reading {
            kept: kept.to_string(),
            ..Reading::default()
        };
    }
    Reading {
        country_code: Some(code),
        national: Some(nsn),
        kept: kept.to_string(),
        e164: None,
    }
}

impl Reading {
    fn possible(self) -> Option<Reading> {
        self.e164.is_some().then_some(self)
    }
}

/// Whether a national number has a length its country uses for some kind of
/// number (fixed, mobile, toll-free...); lengths used only locally, without
/// an area code, do not count.
fn is_possible(parsed: &PhoneNumber, nsn: &str) -> bool {
    let Some(meta) = metadata_of(parsed) else {
        return false;
    };
    let length = nsn.len() as u16;
    const KINDS: &[Type] = &[
        Type::FixedLine,
        Type::Mobile,
        Type::TollFree,
        Type::PremiumRate,
        Type::SharedCost,
        Type::PersonalNumber,
        Type::Voip,
        Type::Pager,
        Type::Uan,
        Type::Voicemail,
    ];
    KINDS
        .iter()
        .filter_map(|kind| meta.descriptors().get(*kind))
        .any(|desc| desc.possible_length().contains(&length))
}

/// The numbering rules of a parsed number's country; for a code several
/// countries share, the main one when the number's own cannot be told.
fn metadata_of(parsed: &PhoneNumber) -> Option<&'static Metadata> {
    parsed
        .metadata(&DATABASE)
        .or_else(|| main_metadata(parsed.code().value()))
}

fn main_metadata(code: u16) -> Option<&'static Metadata> {
    let metas = DATABASE.by_code(&code)?;
    metas
        .iter()
        .find(|m| m.is_main_country_for_code())
        .or(metas.first())
        .copied()
}

/// `removed` is nothing, the region's trunk prefix, or what the region's
/// rules for national prefixes (trunk plus carrier selection) take off.
fn is_trunk_prefix(removed: &str, digits: &str, region: Region) -> bool {
    if removed.is_empty() || region.meta.national_prefix() == Some(removed) {
        return true;
    }
    let Some(np) = region.meta.national_prefix() else {
        return false;
    };
    let by_rule = region.meta.national_prefix_for_parsing();
    removed.starts_with(np)
        && by_rule.is_some_and(|re| re.find(digits).is_some_and(|m| m.start() == 0))
}

/// The digits after the region's international access prefix, when a
/// country code can follow (none starts with 0).
fn after_access_prefix(digits: &str, region: Region) -> Option<&str> {
    let idd = region
        .meta
        .international_prefix()?
        .find(digits)
        .filter(|m| m.start() == 0)?;
    let rest = &digits[idd.end()..];
    (!rest.is_empty() && !rest.starts_with('0')).then_some(rest)
}

/// The digits after the region's access prefix, or `00` / `011`: after a
/// `+` a 0 cannot start a country code, so only an access prefix fits.
fn strip_access_prefix(digits: &str, region: Region) -> Option<&str> {
    let by_region = region
        .meta
        .international_prefix()
        .and_then(|idd| idd.find(digits))
        .filter(|m| m.start() == 0)
        .map(|m| m.end());
    let end = by_region.or_else(|| {
        ["011", "00"]
            .iter()
            .find(|p| digits.starts_with(*p))
            .map(|p| p.len())
    })?;
    let rest = &digits[end..];
    (!rest.is_empty() && !rest.starts_with('0')).then_some(rest)
}

/// The digits to compare by suffix when the number could not be read: an
/// access prefix or the trunk prefix comes off by the region's rules,
/// nothing else.
fn strip_by_rules(digits: &str, plus: bool, region: Region) -> String {
    if plus {
        let body = if digits.starts_with('0') {
            strip_access_prefix(digits, region)
        } else {
            None
        };
        return body.unwrap_or(digits).to_string();
    }
    if let Some(rest) = after_access_prefix(digits, region) {
        return rest.to_string();
    }
    match region.meta.national_prefix() {
        Some(np) if digits.len() > np.len() && digits.starts_with(np) => {
            digits[np.len()..].to_string()
        }
        _ => digits.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `raw` in `region` (the home region too) and checks its E.164
    /// and the digits kept for suffix matches, in reading order.
    fn check(region: &str, raw: &str, e164: Option<&str>, digits: &str) {
        let normalizer = Normalizer::new(region).unwrap();
        let number = normalizer.normalize(raw);
        assert_eq!(number.e164.as_deref(), e164, "e164 of {raw:?} in {region}");
        assert_eq!(number.digits(), digits, "digits of {raw:?} in {region}");

        // Only a prefix ever comes off, or a trunk 0 written after the
        // country code: what is kept ends the written digits.
        let mut written: String = raw.chars().filter(char::is_ascii_digit).collect();
        if let Some(cc) = number
            .country_code
            .filter(|_| !written.ends_with(&number.digits()))
        {
            written = written.replacen(&format!("{cc}0"), &cc.to_string(), 1);
        }
        if number.extension.is_none() && !raw.contains('=') {
            assert!(
                written.ends_with(&number.digits()),
                "{raw:?} lost digits: {number:?}"
            );
        }
    }

    fn check_in(home: &str, raw: &str, region: &str, e164: &str) {
        let normalizer = Normalizer::new(home).unwrap();
        let number = normalizer.normalize_in(raw, region.parse().unwrap());
        assert_eq!(
            number.e164.as_deref(),
            Some(e164),
            "{raw:?} in {region}, home {home}"
        );
    }

    #[test]
    fn plus_and_access_prefix_keep_every_digit_of_the_country_code() {
        // A German caller stays German: nothing assumes a one-digit code.
        check("DE", "+49301234567", Some("+49301234567"), "49301234567");
        check("DE", "0049 30 1234567", Some("+49301234567"), "49301234567");
        check_in("DE", "(930) 123-4567", "US", "+19301234567");
        check_in("DE", "+44 20 7946 0018", "US", "+442079460018");
        check(
            "US",
            "011 49 30 1234567",
            Some("+49301234567"),
            "49301234567",
        );
        check(
            "US",
            "+0049 30 1234567",
            Some("+49301234567"),
            "49301234567",
        );
        // France's numbers start with the US trunk digit; it stays.
        check(
            "US",
            "+33 1 99 00 12 34",
            Some("+33199001234"),
            "33199001234",
        );
        check(
            "US",
            "011 33 1 99 00 12 34",
            Some("+33199001234"),
            "33199001234",
        );
        // 00 is no access prefix in the US, and 011 none in Germany, where it
        // is the trunk 0 and a national number.
        check("US", "0044 20 7946 0018", None, "00442079460018");
        check(
            "DE",
            "011 49 30 1234567",
            Some("+491149301234567"),
            "1149301234567",
        );
    }

    #[test]
    fn trunk_prefix_comes_off_by_country_and_italy_keeps_its_zero() {
        check("GB", "02079460018", Some("+442079460018"), "2079460018");
        check(
            "GB",
            "+44 (0)20 7946 0018",
            Some("+442079460018"),
            "442079460018",
        );
        check("GB", "+442079460018", Some("+442079460018"), "442079460018");
        check("GB", "020 7946 0018", Some("+442079460018"), "2079460018");
        check(
            "GB",
            "0044 20 7946 0018",
            Some("+442079460018"),
            "442079460018",
        );
        check(
            "GB",
            "0044 (0)20 7946 0018",
            Some("+442079460018"),
            "442079460018",
        );
        check("DE", "+49 030 1234567", Some("+49301234567"), "49301234567");

        check("IT", "+390612345678", Some("+390612345678"), "390612345678");
        check("IT", "06 1234 5678", Some("+390612345678"), "0612345678");
        check("IT", "0612345678", Some("+390612345678"), "0612345678");
        check("IT", "+39612345678", Some("+39612345678"), "39612345678");
        check(
            "IT",
            "+39 (0)6 1234 5678",
            Some("+390612345678"),
            "390612345678",
        );
        check_in("US", "+39 (0)6 1234 5678", "US", "+390612345678");
    }

    #[test]
    fn nanp_variants_read_alike_without_being_valid() {
        for raw in [
            "+15550101234",
            "15550101234",
            "5550101234",
            "555.010.1234",
            "tel:+1-555-010-1234",
            "+15550101234;cpc=ordinary",
            "sip:+15550101234@pbx.example;user=phone",
            "+1 (555) 010-1234",
            "(555) 010-1234",
        ] {
            let number = Normalizer::new("US").unwrap().normalize(raw);
            assert_eq!(number.e164.as_deref(), Some("+15550101234"), "{raw:?}");
            assert_eq!(number.country_code, Some(1), "{raw:?}");
            assert_eq!(number.national.as_deref(), Some("5550101234"), "{raw:?}");
        }
    }

    #[test]
    fn extension_is_split_off_and_kept() {
        let us = Normalizer::new("US").unwrap();
        for raw in [
            "+1 555-010-1234 ext. 7",
            "+1 555-010-1234 x7",
            "+15550101234;ext=7",
        ] {
            let number = us.normalize(raw);
            assert_eq!(number.e164.as_deref(), Some("+15550101234"), "{raw:?}");
            assert_eq!(number.extension.as_deref(), Some("7"), "{raw:?}");
            assert_eq!(number.digits(), "15550101234", "{raw:?}");
        }
    }

    #[test]
    fn numbers_that_cannot_be_read_keep_their_digits() {
        // No such country code: digits after the + stay, nothing else known.
        check("US", "+999 1234567", None, "9991234567");
        // An internal extension has no country of its own.
        check("US", "201", None, "201");
        // A local-only length: no E.164 is claimed, the national number is.
        let number = Normalizer::new("US").unwrap().normalize("555-0123");
        assert_eq!(
            (number.e164, number.national),
            (None, Some("5550123".to_string()))
        );
        // Argentina rewrites mobile numbers; refused rather than guessed.
        check("AR", "0343 15 555 1212", None, "343155551212");
        check("US", "anonymous", None, "");
    }

    #[test]
    fn local_number_in_a_tel_uri_takes_its_phone_context() {
        check(
            "US",
            "tel:030-1234567;phone-context=+49",
            Some("+49301234567"),
            "301234567",
        );
    }

    #[test]
    fn carrier_selection_code_is_a_national_prefix() {
        check(
            "BR",
            "0 21 85 2222 2222",
            Some("+558522222222"),
            "8522222222",
        );
    }

    #[test]
    fn for_people_uses_the_home_country_format() {
        let de = Normalizer::new("DE").unwrap();
        assert_eq!(de.for_people(&de.normalize("+49301234567")), "030 1234567");
        assert_eq!(
            de.for_people(&de.normalize("+442079460018")),
            "+44 20 7946 0018"
        );
        let us = Normalizer::new("US").unwrap();
        assert_eq!(
            us.for_people(&us.normalize("+1 555 010 1234 x7")),
            "(555) 010-1234 ext. 7"
        );
        assert_eq!(us.for_people(&us.normalize(" +999 12 ")), "+999 12");
    }

    #[test]
    fn unknown_region_is_named() {
        let err = Normalizer::new("XX").unwrap_err();
        assert!(err.to_string().contains("\"XX\""), "{err}");
        assert_eq!(Normalizer::new("de").unwrap().home().code(), "DE");
    }

    #[test]
    fn check_refuses_what_is_not_a_phone_number() {
        let us = Normalizer::new("US").unwrap();
        let region = us.home();
        assert!(matches!(
            us.check("n/a", region),
            Err(NumberError::NoDigits(_))
        ));
        assert!(matches!(
            us.check("", region),
            Err(NumberError::NoDigits(_))
        ));
        let err = us.check("1-800-FLOWERS", region).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"unexpected text "FLOWERS" in "1-800-FLOWERS""#
        );
        assert!(matches!(
            us.check("1234567890123456789012", region),
            Err(NumberError::TooLong(_))
        ));
        assert!(us.check("+1 555 010 1234 ext. 7", region).is_ok());
    }
}
