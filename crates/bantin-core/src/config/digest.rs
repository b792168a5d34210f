//! `[digest]`: when the daily and weekly digests go out, how long they are,
//! and how far a new subscriber's first one reaches back.

use super::{ConfigError, Origin, parse_duration};
use chrono::{NaiveTime, Weekday};
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Digest {
    pub daily_at: NaiveTime,
    pub weekly_on: Weekday,
    pub max_items: usize,
    pub first_backlog: Duration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawDigest {
    daily_at: String,
    weekly_on: String,
    max_items: i64,
    first_backlog: String,
}
impl Default for RawDigest {
    fn default() -> Self {
        RawDigest {
            daily_at: "07:00".into(),
            weekly_on: "mon".into(),
            max_items: 30,
            first_backlog: "7d".into(),
        }
    }
}

impl RawDigest {
    pub(super) fn validate(self, origin: &Origin) -> Result<Digest, ConfigError> {
        let daily_at = NaiveTime::parse_from_str(self.daily_at.trim(), "%H:%M").map_err(|_| {
            origin.bad("digest.daily_at", format!("{:?} is not a time such as \"07:00\"", self.daily_at))
        })?;
        let weekly_on: Weekday = self.weekly_on.trim().parse().map_err(|_| {
            origin.bad("digest.weekly_on", format!("{:?} is not a weekday such as \"mon\"", self.weekly_on))
        })?;
        if !(1..=1000).contains(&self.max_items) {
            return Err(origin.bad("digest.max_items", format!("{} is out of range; use 1 to 1000", self.max_items)));
        }
        let first_backlog = parse_duration(&self.first_backlog).map_err(|m| origin.bad("digest.first_backlog", m))?;
        Ok(Digest { daily_at, weekly_on, max_items: self.max_items as usize, first_backlog })
    }
}
