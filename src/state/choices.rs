//! A subscriber's own changes to their subscription, each from a link
//! mailed to them: confirming (double opt-in), unsubscribing, coming back
//! from the preferences page, new choices, and signing up again after
//! leaving. None weakens a complaint or a hard bounce.

use super::{never_mailed_statuses, q, to_ms, Frequency, Result, StateStore, Status, Subscriber};
use chrono::{DateTime, Utc};

impl StateStore {
    /// Double opt-in: the subscriber becomes active if a confirmation link
    /// made at `issued` may confirm them ([`Subscriber::confirmable_by`]);
    /// the update holds only if nobody changed them since they were read.
    /// Returns the subscriber as it is afterwards.
    pub async fn confirm(&self, id: i64, issued: DateTime<Utc>, now: DateTime<Utc>) -> Result<Option<Subscriber>> {
        let Some(sub) = self.subscriber_by_id(id).await? else { return Ok(None) };
        if !sub.confirmable_by(issued) {
            return Ok(Some(sub));
        }
        sqlx::query(
            "UPDATE subscribers SET status = 'active', confirmed_at = $2
             WHERE id = $1 AND status = 'pending' AND COALESCE(confirmed_at, -1) = $3",
        )
        .bind(id)
        .bind(to_ms(now))
        .bind(sub.confirmed_at.map_or(-1, to_ms))
        .execute(&self.pool)
        .await
        .map_err(q("confirming a subscriber"))?;
        self.subscriber_by_id(id).await
    }

    /// Ends a subscription. A suppressed or complained subscriber is left
    /// so ([`Unsubscribe::Kept`]): those are never mailed, while an
    /// unsubscribed address may sign up again and be sent a confirmation.
    pub async fn unsubscribe(&self, id: i64) -> Result<Unsubscribe> {
        let n = sqlx::query(concat!(
            "UPDATE subscribers SET status = 'unsubscribed' WHERE id = $1 AND status <> 'unsubscribed' AND status NOT IN ",
            never_mailed_statuses!()
        ))
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(q("unsubscribing"))?
        .rows_affected();
        if n > 0 {
            return Ok(Unsubscribe::Done);
        }
        let now = self.subscriber_by_id(id).await?.map(|sub| sub.status);
        Ok(if now == Some(Status::Unsubscribed) { Unsubscribe::Already } else { Unsubscribe::Kept })
    }

    pub async fn set_preferences(&self, id: i64, topics: &[String], frequency: Frequency) -> Result<bool> {
        let n = sqlx::query("UPDATE subscribers SET topics = $2, frequency = $3 WHERE id = $1")
            .bind(id)
            .bind(topics.join(","))
            .bind(frequency.as_str())
            .execute(&self.pool)
            .await
            .map_err(q("changing preferences"))?
            .rows_affected();
        Ok(n > 0)
    }

    /// One who unsubscribed saves their preferences from a mailed link
    /// (so the mailbox is theirs: no confirmation is needed): active again,
    /// confirmed now if they never were. Whether they came back; nobody
    /// else changes (a complaint or a hard bounce stays).
    pub async fn rejoin(&self, id: i64, now: DateTime<Utc>) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE subscribers SET status = 'active', confirmed_at = COALESCE(confirmed_at, $2)
             WHERE id = $1 AND status = 'unsubscribed'",
        )
        .bind(id)
        .bind(to_ms(now))
        .execute(&self.pool)
        .await
        .map_err(q("subscribing again"))?
        .rows_affected();
        Ok(n > 0)
    }

    /// A former subscriber asks again: back to pending with new choices.
    /// Only one who left: a pending subscriber keeps the choices of the
    /// sign-up they have yet to confirm (anyone may type their address).
    pub async fn resubscribe(&self, id: i64, topics: &[String], frequency: Frequency) -> Result<()> {
        sqlx::query(
            "UPDATE subscribers SET status = 'pending', topics = $2, frequency = $3, bounce_count = 0
             WHERE id = $1 AND status = 'unsubscribed'",
        )
        .bind(id)
        .bind(topics.join(","))
        .bind(frequency.as_str())
        .execute(&self.pool)
        .await
        .map_err(q("re-subscribing"))?;
        Ok(())
    }
}

/// What [`StateStore::unsubscribe`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsubscribe {
    /// The subscriber was getting mail (or about to), and is unsubscribed now.
    Done,
    /// They had unsubscribed already.
    Already,
    /// Suppressed, complained or unknown: left as they are.
    Kept,
}

impl Unsubscribe {
    /// Whether the subscriber is unsubscribed now (by this or before).
    pub fn left(self) -> bool {
        self != Unsubscribe::Kept
    }
}
