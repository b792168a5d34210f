//! Rendering the subscription pages: what a page shows ([`Page`]), the one
//! place that fills `page.html` and sets the page headers ([`render`]), and
//! the two answers every token route shares, the "invalid link" page and
//! the "service busy" page.

use super::Ctx;
use super::strings::{self, Lang};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Serialize)]
pub(super) struct CategoryChoice {
    pub(super) slug: String,
    pub(super) name: String,
    pub(super) checked: bool,
}

/// What a page shows; rendered with `page.html`.
pub(crate) struct Page {
    pub(super) status: StatusCode,
    pub(super) title: &'static str,
    pub(super) message: String,
    pub(super) form: &'static str,
    pub(super) action: String,
    pub(super) categories: Vec<CategoryChoice>,
    pub(super) frequency: &'static str,
    /// The preferences page's "unsubscribe from everything" form posts here.
    pub(super) unsubscribe_action: String,
    /// The unsubscribed page's way back: the subscriber's preferences page.
    pub(super) again: String,
}

impl Page {
    pub(crate) fn plain(status: StatusCode, title: &'static str, message: impl Into<String>) -> Page {
        Page {
            status,
            title,
            message: message.into(),
            form: "",
            action: String::new(),
            categories: Vec::new(),
            frequency: "daily",
            unsubscribe_action: String::new(),
            again: String::new(),
        }
    }
}

pub(super) fn render(ctx: &Ctx, lang: Lang, page: Page) -> Response {
    render_in(&ctx.digests.composer, lang, page)
}

/// The one place that fills `page.html`: also the archive's 404 and 503.
pub(crate) fn render_in(composer: &crate::mail::Composer, lang: Lang, page: Page) -> Response {
    let s = strings::get(lang);
    let html = composer.templates().render(
        "page.html",
        minijinja::context! {
            lang => lang.code(),
            title => page.title,
            message => page.message,
            form => page.form,
            action => page.action,
            categories => page.categories,
            frequency => page.frequency,
            unsubscribe_action => page.unsubscribe_action,
            again => page.again,
            site_title => composer.site_title(),
            site_url => composer.site_url().as_str(),
            site_icon => composer.site_icon().map(url::Url::as_str),
            t => s,
        },
    );
    match html {
        Ok(html) => (
            page.status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")],
            html,
        )
            .into_response(),
        Err(e) => {
            tracing::error!("rendering page.html: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// Where a page's form posts: `path`, with `?lang=en` on an English page
/// so that the answer stays in English whatever `Accept-Language` says.
pub(super) fn action(path: &str, lang: Lang) -> String {
    match lang {
        Lang::En => format!("{path}?lang=en"),
        Lang::Vi => path.to_string(),
    }
}

/// The answer to a forged, tampered, expired or wrong-purpose token, and to
/// a good token whose subscriber is gone: all the same page.
pub(super) fn invalid_link(ctx: &Ctx, lang: Lang) -> Response {
    let s = strings::get(lang);
    render(ctx, lang, Page::plain(StatusCode::BAD_REQUEST, s.invalid_link_title, s.invalid_link_message))
}

/// The state database failed: logged as `{route}: {e}`, answered 503.
pub(super) fn server_error(ctx: &Ctx, lang: Lang, route: &str, e: impl std::fmt::Display) -> Response {
    tracing::error!("{route}: {e}");
    let s = strings::get(lang);
    render(ctx, lang, Page::plain(StatusCode::SERVICE_UNAVAILABLE, s.error_title, s.error_message))
}
