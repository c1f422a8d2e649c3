//! Lines that look like traffic but are not valid events, mixed in so that
//! readers prove they refuse them line by line and go on.

use std::io::{self, Write};

/// How many kinds of malformed line [`write_malformed`] knows.
pub(super) const MALFORMED_KINDS: u64 = 5;

/// Writes malformed line number `n` of kind `kind % MALFORMED_KINDS`, with
/// logical time `at`, and its newline. Ids are `x-{n:06}`, a prefix no valid
/// event uses, so a malformed line never shadows a real request id.
///
/// The kinds: truncated JSON; a JSON-number amount (`12.5`); an unknown
/// `type`; a payout without its `claim`; an amount with three decimals.
pub(super) fn write_malformed(buf: &mut Vec<u8>, kind: u64, n: u64, at: i64) -> io::Result<()> {
    match kind % MALFORMED_KINDS {
        0 => writeln!(
            buf,
            r#"{{"type":"claim","id":"x-{n:06}","at":{at},"packet":"m1-bill-0"#
        ),
        1 => writeln!(
            buf,
            r#"{{"type":"deposit","id":"x-{n:06}","at":{at},"merchant":"m1","amount":12.5}}"#
        ),
        2 => writeln!(
            buf,
            r#"{{"type":"refund","id":"x-{n:06}","at":{at},"claim":"c-0000001"}}"#
        ),
        3 => writeln!(buf, r#"{{"type":"payout","id":"x-{n:06}","at":{at}}}"#),
        _ => writeln!(
            buf,
            r#"{{"type":"create_packet","id":"x-{n:06}","at":{at},"merchant":"m1","total":"12.345","shares":3,"split":"fixed"}}"#
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;

    #[test]
    fn traffic_every_malformed_kind_is_refused() {
        for kind in 0..MALFORMED_KINDS {
            let mut buf = Vec::new();
            write_malformed(&mut buf, kind, 7, 1_796_256_000).expect("write to a vec");
            let line = String::from_utf8(buf).expect("ascii");
            assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
            assert!(
                serde_json::from_str::<Event>(line.trim_end()).is_err(),
                "kind {kind} must not parse: {line}"
            );
        }
    }
}
