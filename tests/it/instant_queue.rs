//! `Digests::queue_instant`, what `serve`'s scheduler calls at each
//! instant window's close, against a real state database: without
//! instant subscribers it does nothing at all (not even noting articles);
//! with news it plans everything due; a window with nothing new after
//! their watermark plans nothing, not even what a full run would (its
//! cheapness is the point: it runs every `digest.instant_window`).

use crate::support::mailtest;

use bantin::digest::plan::Mode;
use bantin::state::Frequency;
use chrono::Duration;
use mailtest::fixed_now;

#[tokio::test]
async fn an_instant_window_plans_only_when_something_was_first_seen_after_an_instant_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = mailtest::write_config(dir.path(), &mailtest::examples(), "smtp://127.0.0.1:9", "https://bantin.example.org/", "");
    let digests = mailtest::digests(&cfg).await;
    let state = &digests.state;
    // 07:00 in Hồ Chí Minh City on a Monday: the daily period just ended.
    let t0 = fixed_now();
    let daily = mailtest::active_subscriber(state, "daily@example.org", t0 - Duration::days(2)).await;

    // No instant subscriber: nothing noted, nothing planned (a full run
    // would have planned the daily subscriber's digest).
    let r = digests.queue_instant(t0 + Duration::minutes(5)).await.unwrap();
    assert_eq!((r.due, r.queued, r.busy), (0, 0, false));
    assert_eq!(state.newest_seen().await.unwrap(), None, "the articles were not even noted");
    assert_eq!(state.subscriber_by_id(daily.id).await.unwrap().unwrap().last_period, None);

    // An instant subscriber: the store's articles are news to them, and
    // the run plans everything due, the daily digest too.
    let instant = mailtest::active_subscriber(state, "instant@example.org", t0 - Duration::days(2)).await;
    assert!(state.set_preferences(instant.id, &[], Frequency::Instant).await.unwrap());
    let r = digests.queue_instant(t0 + Duration::minutes(10)).await.unwrap();
    assert_eq!((r.due, r.queued), (2, 2), "{r:?}");
    let got = state.subscriber_by_id(instant.id).await.unwrap().unwrap();
    assert_eq!(got.last_period.as_deref(), Some("instant:2026-08-31T00:00:00Z"));

    // The next window: nothing first seen since. A daily subscriber who
    // joined meanwhile is left to the daily schedule (a full run now
    // would plan them).
    let late = mailtest::active_subscriber(state, "late@example.org", t0 - Duration::days(1)).await;
    let r = digests.queue_instant(t0 + Duration::minutes(20)).await.unwrap();
    assert_eq!((r.due, r.queued), (0, 0), "{r:?}");
    assert_eq!(state.subscriber_by_id(late.id).await.unwrap().unwrap().last_period, None);
    let full = digests.queue(t0 + Duration::minutes(20), Mode::Scheduled).await.unwrap();
    assert_eq!((full.due, full.queued), (1, 1), "the full run does plan them: {full:?}");
}
