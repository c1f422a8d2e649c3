//! Exact CNY amounts for rules: integer fen inside, a decimal string on the wire.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The largest amount the ABI carries, in fen (10^15 fen = 10^13 CNY).
///
/// Far above any real balance, and far below `i64::MAX`, so that sums of a
/// few thousand amounts can never overflow.
pub const AMOUNT_FEN_MAX: i64 = 1_000_000_000_000_000;

/// A non-negative amount of CNY, held exactly as integer fen (0.01 CNY).
///
/// On the wire an amount is always a JSON string with at most two decimals
/// ("12.30", "0.5", "7"). Parsing is strict: a sign, an exponent, a third
/// decimal, white space or a JSON number is an error, never rounded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(i64);

const _: () = assert!((u32::MAX as i64) * 100 <= AMOUNT_FEN_MAX);

/// Why a string is not an [`Amount`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AmountError {
    /// The text that was refused.
    pub text: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl fmt::Display for AmountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid amount {:?}: {}", self.text, self.why)
    }
}

impl std::error::Error for AmountError {}

impl Amount {
    /// Zero fen.
    pub const ZERO: Amount = Amount(0);

    /// An amount of `fen` hundredths of a yuan, or `None` when negative or
    /// above [`AMOUNT_FEN_MAX`].
    pub const fn from_fen(fen: i64) -> Option<Amount> {
        if fen < 0 || fen > AMOUNT_FEN_MAX {
            None
        } else {
            Some(Amount(fen))
        }
    }

    /// A whole number of yuan; always valid, so usable in a `const`.
    pub const fn from_yuan(yuan: u32) -> Amount {
        // u32::MAX yuan is about 4.3e11 fen, far below AMOUNT_FEN_MAX.
        Amount(yuan as i64 * 100)
    }

    /// The amount in fen.
    pub const fn fen(self) -> i64 {
        self.0
    }

    /// Sum of two amounts, or `None` past [`AMOUNT_FEN_MAX`].
    pub const fn checked_add(self, other: Amount) -> Option<Amount> {
        Amount::from_fen(self.0 + other.0)
    }

    /// Strict parse of a decimal string of yuan with at most two decimals.
    ///
    /// # Errors
    ///
    /// Returns an [`AmountError`] for an empty string, any character other than
    /// ASCII digits and one dot, more than two decimals, or a value above
    /// [`AMOUNT_FEN_MAX`].
    pub fn parse(text: &str) -> Result<Amount, AmountError> {
        let err = |why| AmountError {
            text: text.chars().take(40).collect(),
            why,
        };
        // Name the first thing that is wrong, in the order a reader sees it.
        if text.is_empty() {
            return Err(err("is empty"));
        }
        if text.starts_with(['-', '+']) {
            return Err(err("has a sign; amounts are written without one"));
        }
        if let Some(c) = text.chars().find(|c| !c.is_ascii_digit() && *c != '.') {
            return Err(err(match c {
                c if c.is_whitespace() => "contains white space",
                ',' | '_' => "contains a digit separator; write 1000.00, not 1,000.00",
                'e' | 'E' => "uses an exponent; write the digits out",
                c if c.is_numeric() => "contains a digit that is not ASCII 0-9",
                _ => "contains a character other than the digits 0-9 and one '.'",
            }));
        }
        let (whole, frac) = match text.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (text, None),
        };
        if whole.is_empty() {
            return Err(err("expected digits before the decimal point"));
        }
        if whole.len() > 16 {
            return Err(err("too large"));
        }
        let mut fen: i64 = 0;
        for b in whole.bytes() {
            fen = fen * 10 + i64::from(b - b'0');
        }
        fen *= 100;
        if let Some(frac) = frac {
            if frac.is_empty() {
                return Err(err("expected digits after the decimal point"));
            }
            if frac.contains('.') {
                return Err(err("has more than one '.'"));
            }
            if frac.len() > 2 {
                return Err(err("more than two decimal places"));
            }
            let mut cents = 0;
            for b in frac.bytes() {
                cents = cents * 10 + i64::from(b - b'0');
            }
            if frac.len() == 1 {
                cents *= 10;
            }
            fen += cents;
        }
        Amount::from_fen(fen).ok_or_else(|| err("too large"))
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl FromStr for Amount {
    type Err = AmountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Amount::parse(s)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text: std::borrow::Cow<'de, str> = Deserialize::deserialize(d)?;
        Amount::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_strings() {
        assert_eq!(Amount::parse("4.81").map(Amount::fen), Ok(481));
        assert_eq!(Amount::parse("10.10").map(Amount::fen), Ok(1010));
        assert_eq!(Amount::parse("0.30").map(Amount::fen), Ok(30));
        assert_eq!(Amount::parse("0.5").map(Amount::fen), Ok(50));
        assert_eq!(Amount::parse("7").map(Amount::fen), Ok(700));
        assert_eq!(Amount::parse("0").map(Amount::fen), Ok(0));
    }

    #[test]
    fn refuses_anything_inexact_or_malformed_and_says_why() {
        for (bad, why) in [
            ("", "is empty"),
            (".5", "expected digits before the decimal point"),
            ("5.", "expected digits after the decimal point"),
            ("1.234", "more than two decimal places"),
            ("1.2.3", "more than one '.'"),
            ("-1.00", "has a sign"),
            ("+1", "has a sign"),
            ("1e3", "uses an exponent"),
            (" 1.00", "contains white space"),
            ("1.00 ", "contains white space"),
            ("1,000.00", "digit separator"),
            ("１.00", "a digit that is not ASCII"),
            ("1.0x", "other than the digits"),
            ("99999999999999999", "too large"),
        ] {
            match Amount::parse(bad) {
                Ok(a) => panic!("{bad:?} must be refused, parsed as {a}"),
                Err(e) => assert!(e.why.contains(why), "{bad:?}: {e}"),
            }
        }
    }

    #[test]
    fn whole_yuan_in_const() {
        const FIFTY: Amount = Amount::from_yuan(50);
        assert_eq!(FIFTY.to_string(), "50.00");
    }

    #[test]
    fn displays_two_decimals() {
        assert_eq!(
            Amount::parse("10.1").map(|a| a.to_string()),
            Ok("10.10".to_string())
        );
        assert_eq!(
            Amount::parse("0.03").map(|a| a.to_string()),
            Ok("0.03".to_string())
        );
    }

    #[test]
    fn serde_uses_strings_only() {
        let a: Amount = serde_json::from_str("\"4.81\"").expect("string amount");
        assert_eq!(a.fen(), 481);
        assert!(serde_json::from_str::<Amount>("4.81").is_err());
        assert_eq!(serde_json::to_string(&a).expect("serialize"), "\"4.81\"");
    }
}
