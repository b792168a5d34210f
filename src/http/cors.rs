//! What other sites' scripts may read (CORS). The feeds, the OPML list and
//! the news sitemap are public and sent to anyone without credentials, so a
//! web reader's `fetch()` from its own origin gets them, with the `ETag` it
//! needs to ask again cheaply; a page (the index, a feed's preview, the
//! subscription pages) is not shared.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Any origin, without credentials: what a shared document allows.
const ANY_ORIGIN: &str = "*";

/// Whether a cached document of `content_type` is shared with any origin.
pub(crate) fn shared_with_any_origin(content_type: &[u8]) -> bool {
    !super::is_page(content_type)
}

/// The headers a shared document's every answer (200 and 304) carries:
/// any origin (`*`, which never carries cookies) may read it, and its
/// script may see the `ETag` (not a header scripts see unless named) for
/// its next `If-None-Match`, and the `Link`s (the WebSub hub, `self`).
pub(crate) fn shared_headers(mut header: impl FnMut(header::HeaderName, &HeaderValue)) {
    static ANY: HeaderValue = HeaderValue::from_static(ANY_ORIGIN);
    static EXPOSED: HeaderValue = HeaderValue::from_static("ETag, Link");
    header(header::ACCESS_CONTROL_ALLOW_ORIGIN, &ANY);
    header(header::ACCESS_CONTROL_EXPOSE_HEADERS, &EXPOSED);
}

/// `OPTIONS` of a shared document's path: a browser's preflight, which
/// it sends before a `fetch()` that sets a header of its own (a reader
/// keeping its own `If-None-Match`, or `Cache-Control`). GET and HEAD with
/// any header, remembered for a day. It says nothing of whether the
/// document exists: the GET that follows does.
pub(crate) async fn preflight() -> Response {
    (
        StatusCode::NO_CONTENT,
        [
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, ANY_ORIGIN),
            (header::ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD"),
            (header::ACCESS_CONTROL_ALLOW_HEADERS, "*"),
            (header::ACCESS_CONTROL_MAX_AGE, "86400"),
        ],
    )
        .into_response()
}
