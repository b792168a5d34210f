//! Which settings take effect only when bantin restarts, in one place: the
//! listening address, the store (kind, folder, database, table, mapping,
//! and how it is followed) and the digest side (state database, SMTP pool,
//! composer and token key, built once at start from `[state]`, `[mail]`
//! and `[digest]`, and the sign-up limits of `[subscription]`). A reload
//! logs each such change and keeps running with the old values.

use crate::config::{Settings, StoreKind};

/// The settings a reload may apply: `new` with every restart-only value
/// set back to `running`'s, each change logged once per reload.
pub fn applicable(running: &Settings, mut new: Settings) -> Settings {
    if new.http.listen != running.http.listen {
        tracing::warn!(old = %running.http.listen, new = %new.http.listen, "http.listen changed; restart bantin to listen on the new address");
        new.http.listen = running.http.listen;
    }
    let digest_side = |s: &Settings| format!("{:?}{:?}{:?}", s.state, s.mail, s.digest);
    if digest_side(&new) != digest_side(running) {
        tracing::warn!("[state]/[mail]/[digest] changed; restart bantin to apply them to subscriptions and digests");
    }
    if new.subscription != running.subscription {
        tracing::warn!("[subscription] changed; restart bantin to apply the sign-up limits and origins");
    }
    let (st, keep) = (&mut new.store, &running.store);
    if st.debounce != keep.debounce || st.rescan != keep.rescan || st.poll != keep.poll {
        tracing::warn!("store.debounce_ms/store.rescan/store.poll changed; restart bantin to apply them");
        (st.debounce, st.rescan, st.poll) = (keep.debounce, keep.rescan, keep.poll);
    }
    let which = |s: &crate::config::Store| format!("{:?}{:?}{}{:?}{:?}", s.kind, s.url, s.table, s.columns, s.body_format);
    if which(st) != which(keep) {
        tracing::warn!("store.kind/url/table/columns/body_format changed; restart bantin to read the new store (keeping the old one)");
        st.kind = keep.kind.clone();
        st.url = keep.url.clone();
        st.table = keep.table.clone();
        st.columns = keep.columns.clone();
        st.body_format = keep.body_format;
    }
    if st.path != keep.path && keep.kind == StoreKind::Dir {
        tracing::warn!(
            old = %keep.path.display(),
            new = %st.path.display(),
            "store.path changed; restart bantin to watch the new folder (keeping the old one)"
        );
        st.path = keep.path.clone();
    }
    new
}
