//! The headers a feed's answers carry besides the validators, made once
//! per render (the request path only copies them): `Vary`, which names
//! `Sec-Fetch-Dest` when a browser gets the feed's preview instead, and
//! with `feeds.websub_hub` the `Link` headers of WebSub's discovery (§4:
//! the hub, and the feed's own URL as `self`).

use crate::feeds::{FeedId, FeedSettings};
use http::HeaderValue;
use std::sync::Arc;

/// `Vary` of an answer that depends only on the encoding.
pub(super) const VARY_ENCODING: &str = "Accept-Encoding";

/// A feed's `Vary` and `Link` headers: `Sec-Fetch-Dest` too when a browser
/// gets its preview; with `feeds.websub_hub`, the hub (`hub`, made once
/// per refresh) and the feed's own URL, as WebSub's discovery asks (§4).
pub(super) fn feed_headers(feed: &FeedId, settings: &FeedSettings, hub: Option<&HeaderValue>) -> (HeaderValue, Arc<[HeaderValue]>) {
    let vary = HeaderValue::from_static(if settings.browser_view { "Accept-Encoding, Sec-Fetch-Dest" } else { VARY_ENCODING });
    let links = match hub {
        Some(hub) => {
            let own = settings.public_url.join(&feed.path()).ok().and_then(|u| link_value(u.as_str(), "self"));
            std::iter::once(hub.clone()).chain(own).collect()
        }
        None => Arc::new([]) as Arc<[HeaderValue]>,
    };
    (vary, links)
}

/// `<url>; rel="rel"`; `None` for a URL no header can carry (a parsed URL
/// is ASCII, so none in practice).
pub(super) fn link_value(url: &str, rel: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("<{url}>; rel=\"{rel}\"")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Scope;
    use crate::feeds::Format;

    #[test]
    fn vary_names_the_preview_and_links_name_hub_and_self() {
        let mut settings = crate::cache::tests::feed_settings();
        let feed = FeedId::new(Scope::Category("du-lich".into()), Format::Atom);
        let hub = link_value("https://hub.example.org/", "hub");
        let (vary, links) = feed_headers(&feed, &settings, hub.as_ref());
        assert_eq!(vary, "Accept-Encoding, Sec-Fetch-Dest");
        let links: Vec<_> = links.iter().map(|l| l.to_str().unwrap()).collect();
        assert_eq!(
            links,
            ["<https://hub.example.org/>; rel=\"hub\"", "<https://feeds.example.org/categories/du-lich/atom.xml>; rel=\"self\""]
        );
        settings.browser_view = false;
        let (vary, links) = feed_headers(&feed, &settings, None);
        assert_eq!((vary.to_str().unwrap(), links.len()), ("Accept-Encoding", 0));
    }
}
