//! The extractors the subscription routes start from, so that each handler
//! names what it needs in its signature and holds only its own logic:
//! [`Lang`], the reader's language (from `?lang=` or `Accept-Language`),
//! and [`Verified`], the subscriber a link's `{token}` path segment names,
//! checked for the purpose the route's [`LinkPurpose`] marker says, and
//! [`VerifiedForm`], the same with the posted form. A bad token is rejected
//! with the "invalid link" page in the request's language.

use super::Ctx;
use super::pages::invalid_link;
use super::strings::Lang;
use super::{Form, parse_form};
use crate::tokens::{Claims, Purpose};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use std::convert::Infallible;
use std::marker::PhantomData;
use std::sync::Arc;

/// The reader's language, by the one rule of `negotiate::english`.
fn lang_of(parts: &Parts) -> Lang {
    let accept = parts.headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    if bantin_core::negotiate::english(parts.uri.query(), accept) { Lang::En } else { Lang::Vi }
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Lang, Infallible> {
        Ok(lang_of(parts))
    }
}

/// Which page a token must have been made for; a marker type per route.
pub(super) trait LinkPurpose {
    const PURPOSE: Purpose;
}

pub(super) struct ConfirmLink;
pub(super) struct UnsubscribeLink;
pub(super) struct PreferencesLink;

impl LinkPurpose for ConfirmLink {
    const PURPOSE: Purpose = Purpose::Confirm;
}

impl LinkPurpose for UnsubscribeLink {
    const PURPOSE: Purpose = Purpose::Unsubscribe;
}

impl LinkPurpose for PreferencesLink {
    const PURPOSE: Purpose = Purpose::Preferences;
}

/// The subscriber id of a `{token}` that verifies for `P::PURPOSE` now.
/// Rejected with the "invalid link" page (a forged, tampered, expired or
/// wrong-purpose token all answer the same); a path segment that is not
/// UTF-8 gets axum's `Path` rejection, as a `Path<String>` extractor gave.
pub(super) struct Verified<P> {
    pub(super) id: i64,
    /// When the link expires (confirmation links only).
    pub(super) expires: Option<DateTime<Utc>>,
    purpose: PhantomData<fn() -> P>,
}

impl<P: LinkPurpose> FromRequestParts<Arc<Ctx>> for Verified<P> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, ctx: &Arc<Ctx>) -> Result<Self, Response> {
        let token = token_of(parts, ctx).await?;
        let Claims { subscriber, expires } = verify::<P>(ctx, &token, lang_of(parts))?;
        Ok(Verified { id: subscriber, expires, purpose: PhantomData })
    }
}

/// [`Verified`] with the posted form, for a route that reads a body: the
/// `Path` rejection comes before the body is read and the token is checked
/// after, as when the handler took `Path`, `Bytes` and verified itself (so
/// a body over the limit answers 413 whatever the token).
pub(super) struct VerifiedForm<P> {
    pub(super) id: i64,
    pub(super) form: Form,
    purpose: PhantomData<fn() -> P>,
}

impl<P: LinkPurpose> FromRequest<Arc<Ctx>> for VerifiedForm<P> {
    type Rejection = Response;

    async fn from_request(req: Request, ctx: &Arc<Ctx>) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let token = token_of(&mut parts, ctx).await?;
        let lang = lang_of(&parts);
        let body = Bytes::from_request(Request::from_parts(parts, body), ctx).await.map_err(IntoResponse::into_response)?;
        Ok(VerifiedForm { id: verify::<P>(ctx, &token, lang)?.subscriber, form: parse_form(&body), purpose: PhantomData })
    }
}

/// The `{token}` path segment.
async fn token_of(parts: &mut Parts, ctx: &Arc<Ctx>) -> Result<String, Response> {
    Path::<String>::from_request_parts(parts, ctx).await.map(|Path(token)| token).map_err(IntoResponse::into_response)
}

/// What `token` says (the subscriber, the expiry), or the "invalid link" page. The error is
/// the response itself, handed straight back as the rejection; boxing it
/// would only add an allocation to a rejected request.
#[allow(clippy::result_large_err)]
fn verify<P: LinkPurpose>(ctx: &Ctx, token: &str, lang: Lang) -> Result<Claims, Response> {
    ctx.digests.composer.key().verify_claims(token, P::PURPOSE, Utc::now()).map_err(|_| invalid_link(ctx, lang))
}
