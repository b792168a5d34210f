//! The mail and page templates (the subscription pages and the index page
//! too, which the feed cache renders with [`FeedSettings::templates`]): minijinja, HTML auto-escaped by file
//! extension (`.html`), text not. The built-in templates are compiled into
//! the binary, so bantin works from any folder; a file of the same name in
//! `mail.templates_dir` replaces one of them (the daemon reads that folder
//! and hands each override to [`Templates::build`]).
//!
//! [`FeedSettings::templates`]: crate::feeds::FeedSettings::templates
//! [`FeedSettings::from_settings`]: crate::feeds::FeedSettings::from_settings
//!
//! Invariant: every template is loaded and compiled in [`Templates::build`],
//! so a broken override stops bantin at start (exit 78), not at 07:00.

use minijinja::Environment;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// The templates bantin uses, with their built-in text.
pub const BUILTIN: &[(&str, &str)] = &[
    ("digest.txt", include_str!("../../../templates/digest.txt")),
    ("digest.html", include_str!("../../../templates/digest.html")),
    ("confirm.txt", include_str!("../../../templates/confirm.txt")),
    ("confirm.html", include_str!("../../../templates/confirm.html")),
    ("welcome.txt", include_str!("../../../templates/welcome.txt")),
    ("welcome.html", include_str!("../../../templates/welcome.html")),
    ("manage.txt", include_str!("../../../templates/manage.txt")),
    ("manage.html", include_str!("../../../templates/manage.html")),
    ("layout.html", include_str!("../../../templates/layout.html")),
    ("page.html", include_str!("../../../templates/page.html")),
    ("index.html", include_str!("../../../templates/index.html")),
    ("feed.html", include_str!("../../../templates/feed.html")),
    ("admin.html", include_str!("../../../templates/admin.html")),
    ("archive.html", include_str!("../../../templates/archive.html")),
    ("archive_index.html", include_str!("../../../templates/archive_index.html")),
    // The pages' one stylesheet, included inline by layout.html, the frame of every page
    // (the pages' CSP allows inline style, not a second request).
    ("style.css", include_str!("../../../templates/style.css")),
];

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template {name}: {detail}")]
    Broken { name: String, detail: String },
    #[error("{path}: cannot read the template override: {source}")]
    Read { path: PathBuf, source: std::io::Error },
}

#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
    /// Whether the digest templates use a subscriber's own values only as
    /// `{{ email }}`, `{{ unsubscribe_url }}`, `{{ preferences_url }}`
    /// (see [`only_output`]): then digests may be rendered once per shape
    /// (`mail::shape`).
    digests_shareable: bool,
}

/// The variables of a digest that are the subscriber's own.
pub const PERSONAL: [&str; 3] = ["email", "unsubscribe_url", "preferences_url"];

/// Whether every use of `names` in the template `source` is a plain
/// `{{ name }}` (whitespace control allowed): no filter, no test, no
/// condition, no assignment, no expression. Text outside tags may say
/// the words freely; comments are ignored.
pub fn only_output(source: &str, names: &[&str]) -> bool {
    let mut rest = source;
    while let Some(open) = rest.find('{') {
        let tag = &rest[open..];
        let close = match tag.get(..2) {
            Some("{{") => "}}",
            Some("{%") => "%}",
            Some("{#") => "#}",
            _ => {
                rest = &rest[open + 1..];
                continue;
            }
        };
        let Some(end) = tag[2..].find(close) else { return !names.iter().any(|n| mentions(&tag[2..], n)) };
        let inside = &tag[2..2 + end];
        rest = &tag[2 + end + 2..];
        if close == "#}" {
            continue;
        }
        let plain = inside.trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
        for name in names {
            if mentions(inside, name) && !(close == "}}" && plain == *name) {
                return false;
            }
        }
    }
    true
}

/// Whether `text` has `name` as a whole identifier.
fn mentions(text: &str, name: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(name).any(|(at, _)| {
        !text[..at].chars().next_back().is_some_and(word) && !text[at + name.len()..].chars().next().is_some_and(word)
    })
}

impl Templates {
    /// The built-in templates alone.
    pub fn builtin() -> Result<Templates, TemplateError> {
        Templates::build(|_| Ok(None))
    }

    /// The built-in templates, compiled once per process and shared: what
    /// [`FeedSettings::from_settings`] renders the index page with until
    /// the daemon hands it the templates with overrides. (They compile, as
    /// the tests here hold; if they did not, this is an empty set whose
    /// every render is an error the caller reports.)
    pub fn shared_builtin() -> Arc<Templates> {
        static BUILT: OnceLock<Arc<Templates>> = OnceLock::new();
        Arc::clone(BUILT.get_or_init(|| {
            Arc::new(Templates::builtin().unwrap_or_else(|e| {
                tracing::error!("the built-in templates do not compile: {e}");
                Templates { env: environment(), digests_shareable: false }
            }))
        }))
    }

    /// Compiles every template: the override `override_of(name)` gives
    /// where it gives one, else the built-in text.
    pub fn build(
        mut override_of: impl FnMut(&str) -> Result<Option<String>, TemplateError>,
    ) -> Result<Templates, TemplateError> {
        let mut env = environment();
        let mut digests_shareable = true;
        for (name, builtin) in BUILTIN {
            let source = override_of(name)?.unwrap_or_else(|| (*builtin).to_string());
            // Any template may be included by a digest template, so all
            // of them are held to it.
            digests_shareable &= only_output(&source, &PERSONAL);
            env.add_template_owned(*name, source)
                .map_err(|e| TemplateError::Broken { name: (*name).to_string(), detail: describe(&e) })?;
        }
        Ok(Templates { env, digests_shareable })
    }

    /// A value every template sees as `name` (a site-wide setting the
    /// frame shows, such as whether the archive exists).
    pub fn set_global(&mut self, name: &'static str, value: impl Into<minijinja::Value>) {
        self.env.add_global(name, value.into());
    }

    /// The text a template was compiled from (built in or the override).
    pub fn source(&self, name: &str) -> Option<String> {
        self.env.get_template(name).ok().map(|t| t.source().to_string())
    }

    /// See `digests_shareable`.
    pub fn digests_shareable(&self) -> bool {
        self.digests_shareable
    }

    pub fn render<S: Serialize>(&self, name: &str, ctx: S) -> Result<String, TemplateError> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|e| TemplateError::Broken { name: name.to_string(), detail: describe(&e) })
    }
}

/// The environment every template renders in (also `mail::shape`'s tests).
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    // Unknown variables are template mistakes; say so instead of
    // mailing blanks to thousands of people.
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    // minijinja's HTML escaping also escapes `/` (as `&#x2f;`), which is
    // valid but turns every link in a mail's source into noise and
    // trips simple link checkers; escape the five characters that
    // matter in text and attributes instead.
    env.set_formatter(|out, state, value| {
        if state.auto_escape() == minijinja::AutoEscape::Html
            && !value.is_safe()
            && let Some(s) = value.as_str()
        {
            return out.write_str(&escape_html(s)).map_err(minijinja::Error::from);
        }
        minijinja::escape_formatter(out, state, value)
    });
    env
}

/// How a value is written into an HTML template (the formatter of
/// [`environment`]).
pub(crate) fn escape_html(s: &str) -> String {
    crate::text::escape_html(s)
}

fn describe(e: &minijinja::Error) -> String {
    match e.line() {
        Some(line) => format!("line {line}: {e}"),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped_and_text_is_not() {
        let t = Templates::builtin().unwrap();
        let ctx = minijinja::context! {
            lang => "vi", title => "<b>", message => "a & b", site_title => "S", site_url => "https://x.vn/",
            form => "", t => minijinja::context!{}, action => "", categories => Vec::<String>::new(), frequency => "daily", again => "",
        };
        let html = t.render("page.html", ctx).unwrap();
        assert!(html.contains("<h1>&lt;b&gt;</h1>"), "{html}");
        assert!(html.contains("a &amp; b"));
    }

    #[test]
    fn an_override_folder_replaces_one_template() {
        let t = Templates::build(|name| Ok((name == "confirm.txt").then(|| "Xác nhận: {{ confirm_url }}\n".to_string()))).unwrap();
        let out = t.render("confirm.txt", minijinja::context! { confirm_url => "https://x.vn/c/1" }).unwrap();
        assert_eq!(out, "Xác nhận: https://x.vn/c/1\n");
        // The others stay built in.
        assert!(t.env.get_template("digest.html").unwrap().source().contains("<table"));
    }

    #[test]
    fn personal_values_count_as_plain_output_only_in_double_braces_alone() {
        for ok in ["{{ email }}", "{{- email -}} and {{unsubscribe_url}}", "Your email: {{ email }}", "{# email|upper #}", "{{ emails }}", "{% if x %}{{ email }}{% endif %}"] {
            assert!(only_output(ok, &PERSONAL), "{ok}");
        }
        for no in ["{{ email|upper }}", "{% if email %}x{% endif %}", "{{ email[:3] }}", "{% set e = email %}", "{{ email ~ '!' }}", "{{ unsubscribe_url | e }}", "{{ email"] {
            assert!(!only_output(no, &PERSONAL), "{no}");
        }
        for (name, source) in BUILTIN {
            assert!(only_output(source, &PERSONAL), "the built-in {name} must be shareable");
        }
    }

    #[test]
    fn a_broken_override_is_reported_at_load() {
        let err = Templates::build(|name| Ok((name == "digest.txt").then(|| "{% for %}\n".to_string()))).unwrap_err().to_string();
        assert!(err.contains("digest.txt"), "{err}");
    }
}
