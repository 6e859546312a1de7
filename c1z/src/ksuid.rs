//! Sync ids (segmentio KSUIDs) and the timestamp text baton's tables hold.

use std::time::{SystemTime, UNIX_EPOCH};

/// KSUID epoch: 2014-05-13 16:53:20 UTC.
const EPOCH: u64 = 1_400_000_000;
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A KSUID for `at` with `payload` as its random part: a big-endian u32 of seconds since the
/// KSUID epoch and the 16 payload bytes, as a 27-character base62 number. String order is time
/// order.
pub(crate) fn ksuid(at: SystemTime, payload: [u8; 16]) -> String {
    let seconds = at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .saturating_sub(EPOCH);
    let mut number = [0u8; 20];
    number[..4].copy_from_slice(&u32::try_from(seconds).unwrap_or(u32::MAX).to_be_bytes());
    number[4..].copy_from_slice(&payload);
    // Repeated division of the big-endian number by 62.
    let mut digits = Vec::with_capacity(27);
    let mut rest = number.to_vec();
    while rest.iter().any(|b| *b != 0) {
        let mut remainder = 0u32;
        for byte in &mut rest {
            let value = (remainder << 8) | u32::from(*byte);
            *byte = u8::try_from(value / 62).unwrap_or(0);
            remainder = value % 62;
        }
        digits.push(ALPHABET[remainder as usize]);
    }
    while digits.len() < 27 {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8_lossy(&digits).into_owned()
}

/// `at` in Go's `2006-01-02 15:04:05.999999999` layout, in UTC: trailing zeros of the fraction
/// dropped, and the dot too when the fraction is zero.
pub(crate) fn timestamp(at: SystemTime) -> String {
    let nanos = at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(0));
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(nanos) else {
        return "1970-01-01 00:00:00".to_owned();
    };
    let mut text = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let fraction = t.nanosecond();
    if fraction != 0 {
        let digits = format!("{fraction:09}");
        text.push('.');
        text.push_str(digits.trim_end_matches('0'));
    }
    text
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(seconds: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(seconds, nanos)
    }

    #[test]
    fn ksuids_are_27_base62_characters_in_time_order() {
        assert_eq!(ksuid(at(EPOCH, 0), [0; 16]), "0".repeat(27));
        assert_eq!(ksuid(at(EPOCH, 0), [255; 16]).len(), 27);
        // The largest KSUID: all 20 bytes 0xFF.
        assert_eq!(
            ksuid(at(EPOCH + u64::from(u32::MAX), 0), [255; 16]),
            "aWgEPTl1tmebfsQzFP4bxwgy80V"
        );
        let earlier = ksuid(at(1_800_000_000, 0), [255; 16]);
        let later = ksuid(at(1_800_000_001, 0), [0; 16]);
        assert!(earlier < later);
    }

    #[test]
    fn the_observed_sync_id_holds_its_time() {
        // 3MtIaoU6DrgcyvUdPVNSaQjLcsb was minted at 2026-12-01 22:18:22 UTC.
        let id = "3MtIaoU6DrgcyvUdPVNSaQjLcsb";
        let mut value = [0u8; 20];
        for c in id.bytes() {
            let mut carry = ALPHABET.iter().position(|a| *a == c).unwrap() as u32;
            for byte in value.iter_mut().rev() {
                let v = u32::from(*byte) * 62 + carry;
                *byte = (v & 0xFF) as u8;
                carry = v >> 8;
            }
        }
        let seconds = u32::from_be_bytes([value[0], value[1], value[2], value[3]]);
        assert_eq!(u64::from(seconds) + EPOCH, 1_796_163_502);
        let mut payload = [0u8; 16];
        payload.copy_from_slice(&value[4..]);
        assert_eq!(ksuid(at(1_796_163_502, 0), payload), id);
    }

    #[test]
    fn timestamps_use_go_layout() {
        assert_eq!(
            timestamp(at(1_796_163_502, 745_179_957)),
            "2026-12-01 22:18:22.745179957"
        );
        assert_eq!(
            timestamp(at(1_796_163_502, 756_600_000)),
            "2026-12-01 22:18:22.7566"
        );
        assert_eq!(timestamp(at(1_796_163_502, 0)), "2026-12-01 22:18:22");
    }
}
