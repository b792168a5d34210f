//! Leases of outbox rows whose sender is gone: who this process is as a
//! lease owner, whether an owner still runs (PostgreSQL: a session on the
//! database; SQLite: a live local process), and putting back the rows of
//! those that do not, at start-up and in a sweep while running.

use super::{Mailer, SendError};

/// This process's lease-owner name (`host:pid:random`).
pub fn owner_name() -> String {
    crate::state::instance_id().to_string()
}

/// Whether the process named by a lease owner may still run, seen from
/// this host alone (the SQLite case): owners on other hosts are assumed
/// alive (their lease will run out), local ones are looked up in /proc.
pub fn owner_alive(owner: &str) -> bool {
    let mut mine = crate::state::instance_id().splitn(3, ':');
    let my_host = mine.next().unwrap_or_default();
    let mut theirs = owner.splitn(3, ':');
    match (theirs.next(), theirs.next()) {
        (Some(host), Some(pid)) if host == my_host => {
            owner == crate::state::instance_id() || std::path::Path::new(&format!("/proc/{pid}")).exists()
        }
        _ => true,
    }
}

impl Mailer {
    /// Puts back rows leased by senders that are gone: on PostgreSQL the
    /// owners without a session on the database (any host), on SQLite dead
    /// local processes (see [`owner_alive`]). For start-up, when a
    /// predecessor's rows should go out at once.
    pub async fn release_dead_leases(&self) -> Result<usize, SendError> {
        let alive = self.liveness().await?;
        Ok(self.state.release_dead_leases(alive).await?)
    }

    /// Whether a lease owner still runs: on PostgreSQL, whether it has a
    /// session on the database (any host); on SQLite, [`owner_alive`].
    async fn liveness(&self) -> Result<impl Fn(&str) -> bool, SendError> {
        let connected = self.state.connected_instances().await?;
        Ok(move |owner: &str| match &connected {
            Some(sessions) => sessions.contains(owner),
            None => owner_alive(owner),
        })
    }

    /// The same while running, with a second look: an owner is released
    /// only when it was already missing at the previous sweep (kept in
    /// `suspects`), so an instance that is reconnecting after a database
    /// restart is not taken for dead at its first absence.
    pub async fn sweep_dead_leases(&self, suspects: &mut std::collections::HashSet<String>) -> Result<usize, SendError> {
        let alive = self.liveness().await?;
        let mut released = 0;
        let mut missing = std::collections::HashSet::new();
        for owner in self.state.lease_owners().await? {
            if alive(&owner) {
                continue;
            }
            if suspects.contains(&owner) {
                released += self.state.release_leases_of(&owner).await?;
            } else {
                missing.insert(owner);
            }
        }
        *suspects = missing;
        Ok(released)
    }
}
