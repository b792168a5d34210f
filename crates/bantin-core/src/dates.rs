//! Reading the date forms that article stores use, into instants in the
//! site's time zone. A date without an offset is local time in
//! `site.timezone`; one with an offset is converted to it, so every date
//! bantin writes reads the way the portal's readers expect.

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

/// Parses `s` in any of the forms below, or says which forms it accepts.
///
/// - RFC 3339 / ISO 8601 with offset: `2020-02-21T08:56:00+07:00`, `…Z`,
///   also with a space instead of `T`
/// - Jekyll's (Ruby's `Time#to_s`): `2020-02-21 08:56:00 +0700`, also
///   without seconds or with `+07:00`
/// - local date and time: `2020-02-21T08:56:00`, `2020-02-21 08:56`
/// - local date: `2020-02-21` (midnight)
/// - the portal's `21/02/2020 08:56[:00]` and `21/02/2020`
/// - RFC 2822: `Fri, 21 Feb 2020 08:56:00 +0700`
pub fn parse(s: &str, tz: Tz) -> Result<DateTime<FixedOffset>, String> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Ok(in_zone(d, tz));
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M%:z",
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%d %H:%M:%S%.f %z",
        "%Y-%m-%d %H:%M %z",
    ] {
        if let Ok(d) = DateTime::parse_from_str(s, fmt) {
            return Ok(in_zone(d, tz));
        }
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return Ok(in_zone(d, tz));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%d/%m/%Y %H:%M:%S",
        "%d/%m/%Y %H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(local(n, tz));
        }
    }
    for fmt in ["%Y-%m-%d", "%d/%m/%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, fmt) {
            return Ok(local(d.and_time(NaiveTime::MIN), tz));
        }
    }
    Err(format!(
        "cannot read the date {s:?}; write it as RFC 3339 (2020-02-21T08:56:00+07:00), \
         as local time (2020-02-21 08:56) or as a date (2020-02-21)"
    ))
}

/// The instant `d`, shown in the site's zone.
pub fn in_zone(d: DateTime<FixedOffset>, tz: Tz) -> DateTime<FixedOffset> {
    d.with_timezone(&tz).fixed_offset()
}

/// Local wall-clock time in `tz`. A time skipped by a DST change moves
/// forward an hour; an ambiguous one takes the earlier instant.
pub fn local(n: NaiveDateTime, tz: Tz) -> DateTime<FixedOffset> {
    match tz.from_local_datetime(&n) {
        LocalResult::Single(d) => d.fixed_offset(),
        LocalResult::Ambiguous(a, _) => a.fixed_offset(),
        LocalResult::None => local(n + chrono::Duration::hours(1), tz),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const HCM: Tz = chrono_tz::Asia::Ho_Chi_Minh;

    #[test]
    fn every_form_reads_the_same_instant() {
        let want = "2020-02-21T08:56:00+07:00";
        for s in [
            "2020-02-21T08:56:00+07:00",
            "2020-02-21T01:56:00Z",
            "2020-02-21 08:56:00+07:00",
            "2020-02-21T08:56:00",
            "2020-02-21 08:56",
            "21/02/2020 08:56:00",
            "21/02/2020 08:56",
            "Fri, 21 Feb 2020 08:56:00 +0700",
            "2020-02-21 08:56:00 +0700",
            "2020-02-21 08:56 +0700",
            "2020-02-21 08:56:00 +07:00",
            "2020-02-20 17:56:00 -0800",
        ] {
            assert_eq!(parse(s, HCM).map(|d| d.to_rfc3339()), Ok(want.to_string()), "{s}");
        }
        assert_eq!(parse("2020-02-21", HCM).unwrap().to_rfc3339(), "2020-02-21T00:00:00+07:00");
    }

    #[test]
    fn a_bad_date_says_what_is_accepted() {
        let err = parse("hôm qua", HCM).unwrap_err();
        assert!(err.contains("hôm qua") && err.contains("RFC 3339"), "{err}");
        assert!(parse("31/02/2020 08:00", HCM).is_err());
    }

    #[test]
    fn dst_gaps_do_not_fail() {
        let paris = chrono_tz::Europe::Paris;
        let d = parse("2024-03-31 02:30", paris).unwrap();
        assert_eq!(d.to_rfc3339(), "2024-03-31T03:30:00+02:00");
    }
}
