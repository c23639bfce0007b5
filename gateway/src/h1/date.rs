//! The `Date` header, formatted at most once a second per worker.
//!
//! Every response carries `Date` (RFC 9110 §6.6.1). Formatting an IMF-fixdate per response
//! would be wasted work; the connection refreshes this thread-local cache once per batch of
//! requests (one clock read, a `SystemTime` from the vDSO) and re-formats only when the second
//! changed. Responses copy the 29 cached bytes.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

thread_local! {
    static CACHE: Cell<(u64, [u8; 29])> = const { Cell::new((u64::MAX, [0; 29])) };
}

/// Re-formats the cached date if the second changed. Call once per batch, not per response.
pub(crate) fn refresh() {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    CACHE.with(|c| {
        if c.get().0 != secs {
            c.set((secs, format_imf_fixdate(secs)));
        }
    });
}

/// The cached date (as of the last [`refresh`]).
pub(crate) fn current() -> [u8; 29] {
    CACHE.with(|c| {
        let (secs, bytes) = c.get();
        if secs == u64::MAX {
            refresh();
            c.get().1
        } else {
            bytes
        }
    })
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`
pub(crate) fn format_imf_fixdate(secs: u64) -> [u8; 29] {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (hh, mm, ss) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let weekday = DAYS[(days % 7) as usize];
    // Civil-from-days (Howard Hinnant's algorithm), valid for any date after 1970.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u64;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as usize;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as u64;

    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(weekday);
    two(&mut out[5..7], day);
    out[8..11].copy_from_slice(MONTHS[month - 1]);
    let y = year % 10_000;
    out[12] = b'0' + (y / 1000) as u8;
    out[13] = b'0' + (y / 100 % 10) as u8;
    out[14] = b'0' + (y / 10 % 10) as u8;
    out[15] = b'0' + (y % 10) as u8;
    two(&mut out[17..19], hh);
    two(&mut out[20..22], mm);
    two(&mut out[23..25], ss);
    out
}

fn two(dst: &mut [u8], v: u64) {
    dst[0] = b'0' + (v / 10) as u8;
    dst[1] = b'0' + (v % 10) as u8;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(&format_imf_fixdate(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            &format_imf_fixdate(784_111_777),
            b"Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            &format_imf_fixdate(951_782_400),
            b"Tue, 29 Feb 2000 00:00:00 GMT"
        );
        assert_eq!(
            &format_imf_fixdate(1_795_000_000),
            b"Wed, 18 Nov 2026 11:06:40 GMT"
        );
    }
}
