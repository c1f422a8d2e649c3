//! The compact input of ABI version 2: the same fields as version 1's JSON,
//! as little-endian binary, so that a rule spends its fuel on its own logic
//! rather than on parsing.
//!
//! `ABI.md`, section 5b, specifies the layout byte for byte; this module is
//! the reference encoder (used by the host) and decoder (used by guests
//! built with this SDK). Decoding never panics: a truncated input, a string
//! that is not UTF-8, a length past the end or an amount out of range is a
//! [`DecodeError`] naming the field, which the guest answers as a rule error
//! (a failure, never a verdict).

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::abi::ABI_VERSION_COMPACT;
use crate::amount::Amount;
use crate::types::{ClaimFacts, ClaimRequest, Hook, PayoutFacts, PayoutRequest, RuleInput};

/// The length that stands for an absent optional string.
pub const ABSENT_STR: u32 = u32::MAX;

/// Why compact input bytes could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// The field being read.
    pub field: &'static str,
    /// The byte offset where it starts.
    pub offset: usize,
    /// What was wrong.
    pub problem: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at byte {}: {}",
            self.field, self.offset, self.problem
        )
    }
}

impl std::error::Error for DecodeError {}

/// A cursor over compact input bytes. Every read checks the bytes left.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, at: 0 }
    }

    fn error(&self, field: &'static str, problem: impl Into<String>) -> DecodeError {
        DecodeError {
            field,
            offset: self.at,
            problem: problem.into(),
        }
    }

    fn take(&mut self, field: &'static str, n: usize) -> Result<&'a [u8], DecodeError> {
        let left = self.bytes.len() - self.at;
        if n > left {
            return Err(self.error(field, format!("needs {n} bytes, {left} left")));
        }
        let out = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(field, N)?);
        Ok(out)
    }

    /// One byte.
    ///
    /// # Errors
    ///
    /// When no byte is left.
    pub fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(field)?[0])
    }

    /// A little-endian `u32`.
    ///
    /// # Errors
    ///
    /// When fewer than 4 bytes are left.
    pub fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    /// A little-endian `i32`.
    ///
    /// # Errors
    ///
    /// When fewer than 4 bytes are left.
    pub fn i32(&mut self, field: &'static str) -> Result<i32, DecodeError> {
        Ok(i32::from_le_bytes(self.array(field)?))
    }

    /// A little-endian `i64`.
    ///
    /// # Errors
    ///
    /// When fewer than 8 bytes are left.
    pub fn i64(&mut self, field: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array(field)?))
    }

    /// A flag byte (0 absent, 1 present) and an `i64`, which is read either way.
    ///
    /// # Errors
    ///
    /// When the bytes run out or the flag is neither 0 nor 1.
    pub fn opt_i64(&mut self, field: &'static str) -> Result<Option<i64>, DecodeError> {
        let flag_at = self.at;
        let flag = self.u8(field)?;
        let value = self.i64(field)?;
        match flag {
            0 => Ok(None),
            1 => Ok(Some(value)),
            other => Err(DecodeError {
                field,
                offset: flag_at,
                problem: format!("presence flag is {other}, not 0 or 1"),
            }),
        }
    }

    /// An amount: a little-endian `i64` of fen, 0 ..= [`crate::AMOUNT_FEN_MAX`].
    ///
    /// # Errors
    ///
    /// When the bytes run out or the amount is out of range.
    pub fn amount(&mut self, field: &'static str) -> Result<Amount, DecodeError> {
        let at = self.at;
        let fen = self.i64(field)?;
        Amount::from_fen(fen).ok_or(DecodeError {
            field,
            offset: at,
            problem: format!("{fen} fen is not a valid amount"),
        })
    }

    /// The bytes of a string whose `u32` length was read at `start`.
    fn str_body(
        &mut self,
        field: &'static str,
        start: usize,
        len: u32,
    ) -> Result<String, DecodeError> {
        let at_error = |problem: String| DecodeError {
            field,
            offset: start,
            problem,
        };
        let left = self.bytes.len() - self.at;
        if len as usize > left {
            return Err(at_error(format!(
                "length {len} runs past the end ({left} bytes left)"
            )));
        }
        let bytes = &self.bytes[self.at..self.at + len as usize];
        self.at += len as usize;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_string()),
            Err(e) => Err(at_error(format!("not UTF-8: {e}"))),
        }
    }

    /// A string: a `u32` byte length, then that many bytes of UTF-8.
    ///
    /// # Errors
    ///
    /// When the bytes run out, the length is [`ABSENT_STR`] or the bytes are not UTF-8.
    pub fn str(&mut self, field: &'static str) -> Result<String, DecodeError> {
        let start = self.at;
        match self.u32(field)? {
            ABSENT_STR => Err(DecodeError {
                field,
                offset: start,
                problem: "is required but absent".into(),
            }),
            len => self.str_body(field, start, len),
        }
    }

    /// An optional string: [`ABSENT_STR`] for none, else as [`Reader::str`].
    ///
    /// # Errors
    ///
    /// As [`Reader::str`], except that absence is allowed.
    pub fn opt_str(&mut self, field: &'static str) -> Result<Option<String>, DecodeError> {
        let start = self.at;
        match self.u32(field)? {
            ABSENT_STR => Ok(None),
            len => self.str_body(field, start, len).map(Some),
        }
    }

    /// A list of strings: a `u32` count, then that many strings.
    ///
    /// # Errors
    ///
    /// As [`Reader::str`], for the count and each item.
    pub fn str_list(&mut self, field: &'static str) -> Result<Vec<String>, DecodeError> {
        let count = self.u32(field)? as usize;
        // Each string takes at least its 4-byte length: a count that cannot
        // fit in what is left is refused before anything is allocated.
        let left = self.bytes.len() - self.at;
        if count > left / 4 {
            return Err(self.error(field, format!("{count} items cannot fit in {left} bytes")));
        }
        (0..count).map(|_| self.str(field)).collect()
    }

    /// A section: a `u32` byte length and a body that `read` decodes. Bytes
    /// of the body after the fields `read` knows are skipped, so a later
    /// host may append fields to a section without a new ABI version.
    ///
    /// # Errors
    ///
    /// When the length runs past the input, or `read` fails inside it.
    pub fn section<T>(
        &mut self,
        field: &'static str,
        read: impl FnOnce(&mut Reader<'a>) -> Result<T, DecodeError>,
    ) -> Result<T, DecodeError> {
        let len = self.u32(field)? as usize;
        let start = self.at;
        let body = self.take(field, len)?;
        let mut inner = Reader {
            bytes: &self.bytes[..start + body.len()],
            at: start,
        };
        read(&mut inner)
    }
}

/// Appends compact values to a buffer.
#[derive(Debug)]
pub struct Writer<'a>(pub &'a mut Vec<u8>);

impl Writer<'_> {
    /// One byte.
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }

    /// A little-endian `u32`.
    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    /// A little-endian `i32`.
    pub fn i32(&mut self, v: i32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    /// A little-endian `i64`.
    pub fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    /// A presence flag and an `i64` (0 when absent).
    pub fn opt_i64(&mut self, v: Option<i64>) {
        self.u8(u8::from(v.is_some()));
        self.i64(v.unwrap_or(0));
    }

    /// An amount in fen.
    pub fn amount(&mut self, v: Amount) {
        self.i64(v.fen());
    }

    /// A string. Strings longer than `u32::MAX - 1` bytes cannot occur
    /// here (the host's inputs are bounded far below); one would be cut.
    pub fn str(&mut self, v: &str) {
        let len = u32::try_from(v.len())
            .unwrap_or(ABSENT_STR - 1)
            .min(ABSENT_STR - 1);
        self.u32(len);
        self.0.extend_from_slice(&v.as_bytes()[..len as usize]);
    }

    /// An optional string.
    pub fn opt_str(&mut self, v: Option<&str>) {
        match v {
            Some(s) => self.str(s),
            None => self.u32(ABSENT_STR),
        }
    }

    /// A list of strings.
    pub fn str_list(&mut self, v: &[String]) {
        self.u32(u32::try_from(v.len()).unwrap_or(u32::MAX));
        for s in v {
            self.str(s);
        }
    }

    /// A section: its body written by `write`, preceded by its length.
    pub fn section(&mut self, write: impl FnOnce(&mut Writer<'_>)) {
        let len_at = self.0.len();
        self.u32(0);
        write(self);
        let len = u32::try_from(self.0.len() - len_at - 4).unwrap_or(u32::MAX);
        self.0[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
    }
}

/// A request or facts type with a compact encoding: the fields of its
/// section, in the order `ABI.md` lists them.
pub trait Section: Sized {
    /// Writes the section body (without its length).
    fn write(&self, w: &mut Writer<'_>);
    /// Reads the section body.
    ///
    /// # Errors
    ///
    /// Names the first field that cannot be read.
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
}

impl Section for ClaimRequest {
    fn write(&self, w: &mut Writer<'_>) {
        w.str(&self.claim_id);
        w.str(&self.packet_id);
        w.str(&self.merchant_id);
        w.opt_str(self.campaign_id.as_deref());
        w.str(&self.user_id);
        w.amount(self.amount);
        w.amount(self.packet_total);
        w.opt_str(self.device_id.as_deref());
        w.opt_str(self.ip.as_deref());
    }

    fn read(r: &mut Reader<'_>) -> Result<ClaimRequest, DecodeError> {
        Ok(ClaimRequest {
            claim_id: r.str("request.claim_id")?,
            packet_id: r.str("request.packet_id")?,
            merchant_id: r.str("request.merchant_id")?,
            campaign_id: r.opt_str("request.campaign_id")?,
            user_id: r.str("request.user_id")?,
            amount: r.amount("request.amount")?,
            packet_total: r.amount("request.packet_total")?,
            device_id: r.opt_str("request.device_id")?,
            ip: r.opt_str("request.ip")?,
        })
    }
}

impl Section for PayoutRequest {
    fn write(&self, w: &mut Writer<'_>) {
        w.str(&self.payout_id);
        w.str(&self.claim_id);
        w.str(&self.packet_id);
        w.str(&self.merchant_id);
        w.opt_str(self.campaign_id.as_deref());
        w.str(&self.user_id);
        w.amount(self.amount);
        w.opt_str(self.device_id.as_deref());
        w.opt_str(self.ip.as_deref());
    }

    fn read(r: &mut Reader<'_>) -> Result<PayoutRequest, DecodeError> {
        Ok(PayoutRequest {
            payout_id: r.str("request.payout_id")?,
            claim_id: r.str("request.claim_id")?,
            packet_id: r.str("request.packet_id")?,
            merchant_id: r.str("request.merchant_id")?,
            campaign_id: r.opt_str("request.campaign_id")?,
            user_id: r.str("request.user_id")?,
            amount: r.amount("request.amount")?,
            device_id: r.opt_str("request.device_id")?,
            ip: r.opt_str("request.ip")?,
        })
    }
}

impl Section for ClaimFacts {
    fn write(&self, w: &mut Writer<'_>) {
        w.opt_i64(self.account_age_seconds);
        w.i32(self.utc_offset_minutes);
        w.u32(self.user_claims_today);
        w.amount(self.user_claimed_today);
        w.u32(self.user_claims_last_hour);
        w.u32(self.user_campaign_claims);
        w.amount(self.user_campaign_claimed);
        w.u32(self.device_distinct_users_24h);
        w.u32(self.ip_claims_last_hour);
        w.str_list(&self.device_recent_users);
    }

    fn read(r: &mut Reader<'_>) -> Result<ClaimFacts, DecodeError> {
        Ok(ClaimFacts {
            account_age_seconds: r.opt_i64("facts.account_age_seconds")?,
            utc_offset_minutes: r.i32("facts.utc_offset_minutes")?,
            user_claims_today: r.u32("facts.user_claims_today")?,
            user_claimed_today: r.amount("facts.user_claimed_today")?,
            user_claims_last_hour: r.u32("facts.user_claims_last_hour")?,
            user_campaign_claims: r.u32("facts.user_campaign_claims")?,
            user_campaign_claimed: r.amount("facts.user_campaign_claimed")?,
            device_distinct_users_24h: r.u32("facts.device_distinct_users_24h")?,
            ip_claims_last_hour: r.u32("facts.ip_claims_last_hour")?,
            device_recent_users: r.str_list("facts.device_recent_users")?,
        })
    }
}

impl Section for PayoutFacts {
    fn write(&self, w: &mut Writer<'_>) {
        w.opt_i64(self.account_age_seconds);
        w.i32(self.utc_offset_minutes);
        w.i64(self.seconds_since_claim);
        w.u32(self.user_payouts_today);
        w.amount(self.user_paid_today);
        w.u32(self.user_payouts_last_hour);
        w.u32(self.user_distinct_packets_paid_24h);
        w.amount(self.merchant_paid_today);
    }

    fn read(r: &mut Reader<'_>) -> Result<PayoutFacts, DecodeError> {
        Ok(PayoutFacts {
            account_age_seconds: r.opt_i64("facts.account_age_seconds")?,
            utc_offset_minutes: r.i32("facts.utc_offset_minutes")?,
            seconds_since_claim: r.i64("facts.seconds_since_claim")?,
            user_payouts_today: r.u32("facts.user_payouts_today")?,
            user_paid_today: r.amount("facts.user_paid_today")?,
            user_payouts_last_hour: r.u32("facts.user_payouts_last_hour")?,
            user_distinct_packets_paid_24h: r.u32("facts.user_distinct_packets_paid_24h")?,
            merchant_paid_today: r.amount("facts.merchant_paid_today")?,
        })
    }
}

/// The hook's byte.
pub const fn hook_byte(hook: Hook) -> u8 {
    match hook {
        Hook::Claim => 0,
        Hook::Payout => 1,
    }
}

/// The part of an input that belongs to the rule: the version, its id and
/// its settings (compact JSON text). The host writes it once per rule.
pub fn encode_rule_part(rule_id: &str, settings_json: &str, out: &mut Vec<u8>) {
    let mut w = Writer(out);
    w.u32(ABI_VERSION_COMPACT);
    w.str(rule_id);
    w.str(settings_json);
}

/// The part of an input that belongs to the request: hook, time, request
/// and facts. The host writes it once per request, for every rule.
pub fn encode_request_part<R: Section, F: Section>(
    hook: Hook,
    now: i64,
    request: &R,
    facts: &F,
    out: &mut Vec<u8>,
) {
    let mut w = Writer(out);
    w.u8(hook_byte(hook));
    w.i64(now);
    w.section(|w| request.write(w));
    w.section(|w| facts.write(w));
}

/// A whole input in the compact encoding.
///
/// # Errors
///
/// When the settings do not encode as JSON.
pub fn encode<R: Section, F: Section, S: Serialize>(
    input: &RuleInput<R, F, S>,
) -> Result<Vec<u8>, serde_json::Error> {
    let settings = serde_json::to_string(&input.settings)?;
    let mut out = Vec::with_capacity(256 + settings.len());
    encode_rule_part(&input.rule_id, &settings, &mut out);
    encode_request_part(
        input.hook,
        input.now,
        &input.request,
        &input.facts,
        &mut out,
    );
    Ok(out)
}

/// Decodes a compact input; the settings are parsed from their JSON text
/// into the rule's own type. Bytes after the facts section are ignored.
///
/// # Errors
///
/// Names the first field that cannot be read, or says why the settings
/// do not parse.
pub fn decode<R: Section, F: Section, S: DeserializeOwned>(
    bytes: &[u8],
) -> Result<RuleInput<R, F, S>, DecodeError> {
    let mut r = Reader::new(bytes);
    let abi_version = r.u32("abi_version")?;
    if abi_version != ABI_VERSION_COMPACT {
        return Err(DecodeError {
            field: "abi_version",
            offset: 0,
            problem: format!("is {abi_version}, expected {ABI_VERSION_COMPACT}"),
        });
    }
    let rule_id = r.str("rule_id")?;
    let settings_at = r.at;
    let settings_text = r.str("settings")?;
    let settings = serde_json::from_str(&settings_text).map_err(|e| DecodeError {
        field: "settings",
        offset: settings_at,
        problem: e.to_string(),
    })?;
    let hook_at = r.at;
    let hook = match r.u8("hook")? {
        0 => Hook::Claim,
        1 => Hook::Payout,
        other => {
            return Err(DecodeError {
                field: "hook",
                offset: hook_at,
                problem: format!("is {other}, not 0 (claim) or 1 (payout)"),
            });
        }
    };
    let now = r.i64("now")?;
    let request = r.section("request", R::read)?;
    let facts = r.section("facts", F::read)?;
    Ok(RuleInput {
        abi_version,
        hook,
        rule_id,
        now,
        settings,
        request,
        facts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{claim_fixture, payout_fixture};
    use crate::{ClaimInput, PayoutInput};

    fn claim() -> ClaimInput {
        let mut i = claim_fixture();
        i.abi_version = ABI_VERSION_COMPACT;
        i.settings = serde_json::json!({"max": "1.00", "list": ["a", "b"]});
        i.request.campaign_id = None;
        i.facts.account_age_seconds = Some(-5);
        i.facts.device_recent_users = vec!["u-1".into(), "用户".into()];
        i
    }

    #[test]
    fn inputs_round_trip() {
        let c = claim();
        let bytes = encode(&c).expect("encodes");
        assert_eq!(decode::<_, _, serde_json::Value>(&bytes), Ok(c));
        let mut p: PayoutInput = payout_fixture();
        p.abi_version = ABI_VERSION_COMPACT;
        p.request.device_id = None;
        let bytes = encode(&p).expect("encodes");
        assert_eq!(decode::<_, _, serde_json::Value>(&bytes), Ok(p));
    }

    /// The layout of ABI.md, checked byte by byte on a small input.
    #[test]
    fn the_layout_is_the_documented_one() {
        let mut out = Vec::new();
        encode_rule_part("r", "{}", &mut out);
        assert_eq!(out, [2, 0, 0, 0, 1, 0, 0, 0, b'r', 2, 0, 0, 0, b'{', b'}']);
        let facts = PayoutFacts {
            account_age_seconds: Some(7),
            ..PayoutFacts::default()
        };
        let mut body = Vec::new();
        Writer(&mut body).section(|w| facts.write(w));
        // length 49: flag 1 + 8, offset 4, seconds 8, count 4, amount 8,
        // count 4, count 4, amount 8.
        assert_eq!(&body[..4], &49u32.to_le_bytes());
        assert_eq!(&body[4..13], &[1, 7, 0, 0, 0, 0, 0, 0, 0]);
        let mut absent = Vec::new();
        Writer(&mut absent).opt_str(None);
        assert_eq!(absent, [0xFF; 4]);
        // ABI.md's example: the start of a claim input for rule "r".
        let mut c = claim_fixture();
        c.rule_id = "r".into();
        c.settings = serde_json::json!({});
        let bytes = encode(&c).expect("encodes");
        let hex: String = bytes[..24].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            [
                "02000000",
                "0100000072",
                "020000007b7d",
                "00",
                "c059116b00000000"
            ]
            .concat()
        );
        // Claim facts: the fixed-width fields at the documented offsets.
        let mut body = Vec::new();
        c.facts.write(&mut Writer(&mut body));
        assert_eq!(&body[13..17], &c.facts.user_claims_today.to_le_bytes());
        assert_eq!(&body[45..49], &c.facts.ip_claims_last_hour.to_le_bytes());
        assert_eq!(
            &body[49..53],
            &(c.facts.device_recent_users.len() as u32).to_le_bytes()
        );
    }

    #[test]
    fn every_truncation_is_an_error_never_a_panic() {
        let bytes = encode(&claim()).expect("encodes");
        for n in 0..bytes.len() {
            let r = decode::<ClaimRequest, ClaimFacts, serde_json::Value>(&bytes[..n]);
            assert!(r.is_err(), "a prefix of {n} bytes decoded");
        }
    }

    #[test]
    fn hostile_values_are_named() {
        let bytes = encode(&claim()).expect("encodes");
        let err = |b: &[u8]| {
            decode::<ClaimRequest, ClaimFacts, serde_json::Value>(b)
                .expect_err("refused")
                .to_string()
        };
        let mut v = bytes.clone();
        v[0] = 1;
        assert!(err(&v).contains("abi_version"), "{}", err(&v));
        // The rule id's length claims 4 GiB - 2.
        let mut v = bytes.clone();
        v[4..8].copy_from_slice(&(u32::MAX - 1).to_le_bytes());
        assert!(err(&v).starts_with("rule_id at byte 4"), "{}", err(&v));
        // Not UTF-8 in the rule id.
        let mut v = bytes.clone();
        v[8] = 0xFF;
        assert!(err(&v).contains("not UTF-8"), "{}", err(&v));
        // A hook byte of 7.
        let rule_part = 4 + 4 + claim().rule_id.len();
        let settings = serde_json::to_string(&claim().settings).expect("json");
        let hook_at = rule_part + 4 + settings.len();
        let mut v = bytes.clone();
        v[hook_at] = 7;
        assert!(err(&v).starts_with("hook"), "{}", err(&v));
        // A request section that claims more bytes than there are.
        let mut v = bytes.clone();
        v[hook_at + 9..hook_at + 13].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(err(&v).starts_with("request"), "{}", err(&v));
        // A negative amount: request.amount follows the five ids.
        let c = claim();
        let mut ids = Vec::new();
        let mut w = Writer(&mut ids);
        w.str(&c.request.claim_id);
        w.str(&c.request.packet_id);
        w.str(&c.request.merchant_id);
        w.opt_str(c.request.campaign_id.as_deref());
        w.str(&c.request.user_id);
        let amount_at = hook_at + 13 + ids.len();
        let mut v = bytes.clone();
        v[amount_at..amount_at + 8].copy_from_slice(&(-1i64).to_le_bytes());
        assert!(err(&v).contains("request.amount"), "{}", err(&v));
        // A list count that cannot fit allocates nothing and is refused.
        let mut w = Vec::new();
        Writer(&mut w).u32(u32::MAX);
        assert!(
            Reader::new(&w)
                .str_list("facts.device_recent_users")
                .is_err()
        );
    }

    #[test]
    fn a_section_may_grow_without_a_new_version() {
        let c = claim();
        let mut out = Vec::new();
        encode_rule_part(
            &c.rule_id,
            &serde_json::to_string(&c.settings).expect("json"),
            &mut out,
        );
        let mut w = Writer(&mut out);
        w.u8(0);
        w.i64(c.now);
        w.section(|w| {
            c.request.write(w);
            w.u32(0xDEAD_BEEF);
        });
        w.section(|w| {
            c.facts.write(w);
            w.i64(42);
        });
        w.u32(99);
        assert_eq!(decode::<_, _, serde_json::Value>(&out), Ok(c));
    }
}
