//! An admin lifting what the bounce policy did (`bantin subscribers lift`,
//! and the admin API's `PATCH` later): a suppressed, complained or bouncing
//! subscriber made active again with nothing counted. A complaint is the
//! person's own report about the mail, so it is lifted only when the
//! caller says it knows (the person asked to be mailed again).

use super::{Result, StateStore, Status, Subscriber, q};
use chrono::{DateTime, Utc};

/// What [`StateStore::lift`] found, and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lift {
    /// Was `was`; now active with `bounce_count` 0. `reason` and `at`: the
    /// last bounce or complaint, as it was recorded.
    Lifted { was: Status, reason: Option<String>, at: Option<DateTime<Utc>> },
    /// Complained, and the caller did not say the complaint may be lifted;
    /// nothing changed.
    Complaint { reason: Option<String>, at: Option<DateTime<Utc>> },
    /// Nothing to lift in this status (active, pending, unsubscribed).
    NotLifted(Status),
    /// No subscriber has this address.
    Unknown,
}

impl StateStore {
    /// Lifts the subscriber at `email` (already normalised): suppressed,
    /// bouncing, or complained when `complaint` is true. The update holds
    /// only if the status is still the one read, so a report applied in
    /// between is not overwritten unseen: it is read again.
    pub async fn lift(&self, email: &str, complaint: bool) -> Result<Lift> {
        // A status that changes under us twice in a row is improbable;
        // after the third read the answer is what that read says.
        for _ in 0..3 {
            let Some(sub) = self.subscriber_by_email(email).await? else { return Ok(Lift::Unknown) };
            match decide(&sub, complaint) {
                Some(answer) => return Ok(answer),
                None if self.lift_from(sub.id, sub.status).await? => {
                    return Ok(Lift::Lifted { was: sub.status, reason: sub.last_bounce_reason, at: sub.last_bounce_at });
                }
                None => continue,
            }
        }
        let sub = self.subscriber_by_email(email).await?;
        Ok(sub.map_or(Lift::Unknown, |s| decide(&s, complaint).unwrap_or(Lift::NotLifted(s.status))))
    }

    /// Subscriber `id` from `status` to active, nothing counted; false if
    /// their status is no longer `status`.
    async fn lift_from(&self, id: i64, status: Status) -> Result<bool> {
        let n = sqlx::query("UPDATE subscribers SET status = 'active', bounce_count = 0 WHERE id = $1 AND status = $2")
            .bind(id)
            .bind(status.as_str())
            .execute(&self.pool)
            .await
            .map_err(q("lifting a suppression"))?
            .rows_affected();
        Ok(n == 1)
    }
}

/// The answer without a change, or None when `sub` is to be lifted.
fn decide(sub: &Subscriber, complaint: bool) -> Option<Lift> {
    match sub.status {
        Status::Suppressed | Status::Bouncing => None,
        Status::Complained if complaint => None,
        Status::Complained => Some(Lift::Complaint { reason: sub.last_bounce_reason.clone(), at: sub.last_bounce_at }),
        other @ (Status::Active | Status::Pending | Status::Unsubscribed) => Some(Lift::NotLifted(other)),
    }
}
