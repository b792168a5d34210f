//! Which settings take effect only when bantin restarts, in one place: the
//! listening address and the HTTP limits and trusted proxies (the server
//! is built with them once), the store (kind, folder, database, table, mapping,
//! and how it is followed) and the digest side (state database, SMTP pool,
//! composer and token key, built once at start from `[state]`, `[mail]`,
//! `[digest]` and `[retention]`, the sign-up limits of `[subscription]`, and
//! `[bounces]`: the listener and the policy of the bounce reports, and
//! `[admin]`: the token file and the admin listener).
//! A reload logs each such change and keeps running with the old values.

use crate::config::{Settings, StoreKind};

/// The settings a reload may apply: `new` with every restart-only value
/// set back to `running`'s, each change logged once per reload.
pub fn applicable(running: &Settings, mut new: Settings) -> Settings {
    if new.http.listen != running.http.listen {
        tracing::warn!(old = %running.http.listen, new = %new.http.listen, "http.listen changed; restart bantin to listen on the new address");
        new.http.listen = running.http.listen;
    }
    let server = |h: &crate::config::Http| {
        let t = (h.header_timeout, h.request_timeout, h.write_timeout, h.max_connections, h.max_connections_per_ip);
        format!("{t:?}{:?}{:?}", h.trusted_proxies, h.forwarded_header)
    };
    if server(&new.http) != server(&running.http) {
        tracing::warn!("http timeouts, connection limits or trusted proxies changed; restart bantin to apply them");
        let (h, keep) = (&mut new.http, &running.http);
        (h.header_timeout, h.request_timeout, h.write_timeout) = (keep.header_timeout, keep.request_timeout, keep.write_timeout);
        (h.max_connections, h.max_connections_per_ip) = (keep.max_connections, keep.max_connections_per_ip);
        (h.trusted_proxies, h.forwarded_header) = (keep.trusted_proxies.clone(), keep.forwarded_header);
    }
    let digest_side = |s: &Settings| format!("{:?}{:?}{:?}", s.state, s.mail, s.digest);
    if digest_side(&new) != digest_side(running) {
        tracing::warn!("[state]/[mail]/[digest] changed; restart bantin to apply them to subscriptions and digests");
    }
    if new.retention.mail_bodies != running.retention.mail_bodies {
        tracing::warn!("retention.mail_bodies changed; restart bantin to apply it");
    }
    if new.subscription != running.subscription {
        tracing::warn!("[subscription] changed; restart bantin to apply the sign-up limits and origins");
    }
    if new.bounces != running.bounces {
        tracing::warn!("[bounces] changed; restart bantin to apply the bounce listener and limits");
        new.bounces = running.bounces.clone();
    }
    if new.admin != running.admin {
        tracing::warn!("[admin] changed; restart bantin to read the new token file or listen on the new address");
        new.admin = running.admin.clone();
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The server is built once with these: a reload must not pretend to
    /// apply them.
    #[test]
    fn http_limits_and_trusted_proxies_wait_for_a_restart() {
        let load = |http: &str| {
            let text = format!("[site]\ntitle = \"T\"\nbase_url = \"https://x.org\"\n[http]\n{http}");
            Settings::from_sources(std::path::Path::new("bantin.toml"), &text, []).unwrap()
        };
        let running = load("");
        let new = applicable(&running, load("write_timeout = \"5s\"\nmax_connections_per_ip = 2\ntrusted_proxies = [\"10.0.0.0/8\"]"));
        assert_eq!(new.http.write_timeout, running.http.write_timeout);
        assert_eq!(new.http.max_connections_per_ip, 64);
        assert!(new.http.trusted_proxies.is_empty());
    }

    /// `docs/configuration.md` says which keys wait for a restart
    /// (`config::reference::RESTART_ONLY`); a reload must do what it says:
    /// each key of the server and store (the keys `applicable` keeps) is
    /// kept exactly when the list calls it restart-only, and the feeds'
    /// and site's keys are applied.
    #[test]
    fn a_reload_keeps_exactly_the_keys_the_reference_calls_restart_only() {
        use bantin_core::config::reference::restart_only;
        let load = |section: &str, line: &str| {
            let site = "[site]\ntitle = \"T\"\nbase_url = \"https://x.org\"\n";
            let text = if section == "site" { format!("[site]\n{line}") } else { format!("{site}[{section}]\n{line}") };
            Settings::from_sources(std::path::Path::new("bantin.toml"), &text, []).unwrap()
        };
        let running = load("feeds", "");
        let cases = [
            ("http.listen", "listen = \"127.0.0.1:9\""),
            ("http.header_timeout", "header_timeout = \"3s\""),
            ("http.request_timeout", "request_timeout = \"3s\""),
            ("http.write_timeout", "write_timeout = \"3s\""),
            ("http.max_connections", "max_connections = 7"),
            ("http.max_connections_per_ip", "max_connections_per_ip = 7"),
            ("http.trusted_proxies", "trusted_proxies = [\"10.0.0.0/8\"]"),
            ("http.forwarded_header", "forwarded_header = \"Forwarded\""),
            ("store.path", "path = \"elsewhere\""),
            ("store.poll", "poll = \"3s\""),
            ("store.rescan", "rescan = \"3m\""),
            ("store.debounce_ms", "debounce_ms = 70"),
            ("bounces.soft_limit", "soft_limit = 7"),
            ("admin.token_file", "token_file = \"/etc/bantin/admin.token\""),
            ("feeds.items", "items = 7"),
            ("feeds.content", "content = \"summary\""),
            ("feeds.tags", "tags = true"),
            ("site.title", "title = \"U\"\nbase_url = \"https://x.org\""),
            ("site.description", "title = \"T\"\nbase_url = \"https://x.org\"\ndescription = \"d\""),
        ];
        for (key, line) in cases {
            let (section, _) = key.split_once('.').unwrap();
            let new = load(section, line);
            assert_ne!(format!("{new:?}"), format!("{running:?}"), "{key}: the case changes nothing");
            let kept = format!("{:?}", applicable(&running, new)) == format!("{running:?}");
            assert_eq!(kept, restart_only(key), "{key}: a reload {} it", if kept { "kept the old value of" } else { "applied" });
        }
    }
}
