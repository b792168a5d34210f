//! When a subscriber's next mail comes, in the words of the page and the
//! mail that tell them (the confirmation page, the welcome mail): the end
//! of their current period on the schedule (`digest.daily_at`,
//! `digest.weekly_on`), or for `instant` within a window of the next
//! article. Always "about" and "if there is news": the digest is planned
//! at that moment and sent just after, and a period with nothing new
//! sends nothing.

use super::plan::{Mode, PlanSettings, period_at};
use crate::subscriber::Frequency;
use chrono::{DateTime, Datelike, Utc, Weekday};

/// The sentence saying when the next mail to a subscriber of `frequency`
/// comes, as of `now`, in English (`en`) or Vietnamese.
pub fn next_issue(frequency: Frequency, s: &PlanSettings, now: DateTime<Utc>, en: bool) -> String {
    if frequency == Frequency::Instant {
        let minutes = s.instant_window.as_secs().div_ceil(60).max(1);
        return if en {
            format!("Your next mail comes within {minutes} minutes of the next article.")
        } else {
            format!("Thư kế tiếp sẽ đến trong vòng {minutes} phút sau khi có bài mới.")
        };
    }
    let at = period_at(frequency, s, now, Mode::Now).end.with_timezone(&s.timezone);
    if en {
        format!("Your next issue comes at about {} on {}, if there is news.", at.format("%H:%M"), at.format("%A, %-d %B %Y"))
    } else {
        format!("Bản tin kế tiếp sẽ đến vào khoảng {} {}, {}, nếu có bài mới.", at.format("%H:%M"), weekday_vi(at.weekday()), at.format("%d/%m/%Y"))
    }
}

/// A weekday as Vietnamese writes it inside a sentence.
fn weekday_vi(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "thứ Hai",
        Weekday::Tue => "thứ Ba",
        Weekday::Wed => "thứ Tư",
        Weekday::Thu => "thứ Năm",
        Weekday::Fri => "thứ Sáu",
        Weekday::Sat => "thứ Bảy",
        Weekday::Sun => "Chủ nhật",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveTime;

    fn settings(weekly_on: Weekday) -> PlanSettings {
        PlanSettings {
            timezone: chrono_tz::Asia::Ho_Chi_Minh,
            daily_at: NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
            weekly_on,
            max_items: 30,
            first_backlog: std::time::Duration::from_secs(86_400),
            instant_window: std::time::Duration::from_secs(15 * 60),
        }
    }

    /// Saturday 5 December 2026, 10:00 in Hồ Chí Minh City (03:00 UTC),
    /// and 06:59 the same day (before the day's digest).
    #[test]
    fn the_next_issue_is_the_end_of_the_current_period_in_the_sites_zone() {
        let morning: DateTime<Utc> = "2026-12-05T03:00:00Z".parse().unwrap();
        let before: DateTime<Utc> = "2026-12-04T23:59:00Z".parse().unwrap();
        let s = settings(Weekday::Mon);
        assert_eq!(next_issue(Frequency::Daily, &s, morning, false), "Bản tin kế tiếp sẽ đến vào khoảng 07:00 Chủ nhật, 06/12/2026, nếu có bài mới.");
        assert_eq!(next_issue(Frequency::Daily, &s, before, true), "Your next issue comes at about 07:00 on Saturday, 5 December 2026, if there is news.");
        assert_eq!(next_issue(Frequency::Weekly, &s, morning, false), "Bản tin kế tiếp sẽ đến vào khoảng 07:00 thứ Hai, 07/12/2026, nếu có bài mới.");
        // A weekly digest on the day itself, after its hour: a week later.
        assert!(next_issue(Frequency::Weekly, &settings(Weekday::Sat), morning, false).contains("thứ Bảy, 12/12/2026"));
        assert_eq!(next_issue(Frequency::Instant, &s, morning, true), "Your next mail comes within 15 minutes of the next article.");
    }
}
