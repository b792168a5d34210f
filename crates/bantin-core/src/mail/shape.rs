//! Digests rendered once per shape: the subscribers of one run who get the
//! same articles for the same period, topics and frequency get the same
//! text but for three values of their own (their address and their two
//! links). A shape is that text rendered and quoted-printable encoded once
//! (`mail::qp`), with the places of the three values; each subscriber's
//! message is the shape's pieces with their values between them. At 10,000
//! digests, rendering the templates and encoding the parts for every
//! subscriber was about a quarter of a digest run (issue 6, scenario 4).
//!
//! A template may do anything with the values, so a shape is made only
//! when that does not matter, and the message is rendered per subscriber
//! otherwise:
//! - every template must use the values only as plain `{{ value }}`
//!   (`templates::only_output`, checked once at load): a condition on an
//!   address (`{% if email… %}`) could differ between subscribers of one
//!   shape, which no render of a few of them can show;
//! - rendered with two sets of stand-in values (of other lengths and
//!   characters), the text around them must be the same, and they must
//!   appear as `{{ value }}` puts them (as is in the text part, escaped as
//!   `templates::escape_html` does in the HTML part): a filter or a test on a value changes
//!   or moves them;
//! - the first subscriber of the shape, rendered as usual, must get exactly
//!   the shape's text with their values;
//! - lettre must choose quoted-printable for both parts, as it does for
//!   Vietnamese text (other texts keep lettre's own choice).

use crate::delta::Common;
use super::qp::Encoder;
use crate::digest::plan::PlannedDigest;
use crate::subscriber::Frequency;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The values of one subscriber that a digest's templates get.
#[derive(Debug, Clone)]
pub struct Personal {
    pub email: String,
    pub unsubscribe_url: String,
    pub preferences_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Email,
    Unsubscribe,
    Preferences,
}

impl Personal {
    fn get(&self, slot: Slot) -> &str {
        match slot {
            Slot::Email => &self.email,
            Slot::Unsubscribe => &self.unsubscribe_url,
            Slot::Preferences => &self.preferences_url,
        }
    }
}

/// Stand-ins: address- and URL-like (with `@`, `.`, `:`, `/`, `-`, `_`, upper and lower case, digits),
/// so that filters that would change a real value change them too.
pub fn stand_ins(set: usize) -> Personal {
    match set {
        0 => Personal {
            email: "Bantin.Slot-E_0@slot-a.invalid".into(),
            unsubscribe_url: "https://slot-a.invalid/Bantin-Slot/U_0".into(),
            preferences_url: "https://slot-a.invalid/Bantin-Slot/P_0".into(),
        },
        _ => Personal {
            email: "other.Stand-In_Address.1@second-slot.example.invalid".into(),
            unsubscribe_url: "https://second-slot.invalid/x/Other_Unsubscribe-Link/1?a=b".into(),
            preferences_url: "https://second-slot.invalid/y/Other_Preferences-Link/1?c=d".into(),
        },
    }
}

/// A value as `{{ value }}` writes it into a part: as is in text, escaped
/// as the templates' formatter does in HTML.
fn shown(value: &str, html: bool) -> std::borrow::Cow<'_, str> {
    if html { crate::templates::escape_html(value).into() } else { value.into() }
}

/// One rendered part cut at its values: `pieces[0] slots[0] pieces[1] … pieces[n]`.
#[derive(Debug, PartialEq, Eq)]
struct Cut {
    pieces: Vec<String>,
    slots: Vec<Slot>,
}

/// Cuts `text` at the stand-ins of `set` as they appear in it (escaped
/// for HTML when `html`).
fn cut(text: &str, set: &Personal, html: bool) -> Cut {
    let marks = [
        (Slot::Email, shown(&set.email, html)),
        (Slot::Unsubscribe, shown(&set.unsubscribe_url, html)),
        (Slot::Preferences, shown(&set.preferences_url, html)),
    ];
    let mut pieces = Vec::new();
    let mut slots = Vec::new();
    let mut rest = text;
    loop {
        let next = marks.iter().filter_map(|(slot, m)| rest.find(m.as_ref()).map(|at| (at, *slot, m.len()))).min_by_key(|(at, _, _)| *at);
        match next {
            Some((at, slot, len)) => {
                pieces.push(rest[..at].to_string());
                slots.push(slot);
                rest = &rest[at + len..];
            }
            None => {
                pieces.push(rest.to_string());
                return Cut { pieces, slots };
            }
        }
    }
}

impl Cut {
    fn join(&self, values: &Personal, html: bool) -> String {
        let mut out = String::new();
        for (i, piece) in self.pieces.iter().enumerate() {
            out.push_str(piece);
            if let Some(slot) = self.slots.get(i) {
                out.push_str(&shown(values.get(*slot), html));
            }
        }
        out
    }

    fn encode(&self, html: bool) -> Part {
        let pieces = self
            .pieces
            .iter()
            .map(|p| {
                let mut e = Encoder::with_capacity(p.len() * 2);
                e.text(p);
                let col = e.column();
                (e.into_bytes(), col)
            })
            .collect();
        Part { pieces, slots: self.slots.clone(), html }
    }
}

/// A part quoted-printable encoded, each piece from column 0 (and the
/// column it ends at).
#[derive(Debug)]
struct Part {
    pieces: Vec<(Vec<u8>, usize)>,
    slots: Vec<Slot>,
    html: bool,
}

impl Part {
    /// The encoded part with `values` in their places.
    fn fill(&self, values: &Personal, capacity: usize) -> Vec<u8> {
        let mut e = Encoder::with_capacity(capacity);
        for (i, (piece, col)) in self.pieces.iter().enumerate() {
            e.append_encoded(piece, *col);
            if let Some(slot) = self.slots.get(i) {
                e.text(&shown(values.get(*slot), self.html));
                // What follows was encoded from column 0. (Not at the end:
                // a part must not end in a soft break, whose `=` would be
                // the body's last byte once the boundary takes its CRLF.)
                if self.pieces.get(i + 1).is_some_and(|(p, _)| !p.is_empty()) {
                    e.soft_break();
                }
            }
        }
        e.into_bytes()
    }

    fn len(&self) -> usize {
        self.pieces.iter().map(|(p, _)| p.len()).sum::<usize>() + self.slots.len() * 128
    }
}

/// A digest's subject and its two parts, shared by the subscribers of one
/// shape.
#[derive(Debug)]
pub struct Shape {
    pub subject: String,
    text: Part,
    html: Part,
    /// The encoded pieces of both parts, as the outbox stores them once.
    common: Arc<Common>,
}

impl Shape {
    /// Checks the renders of a shape (see the module doc) and encodes it;
    /// `None` when the templates do something with the values that a
    /// shape cannot carry.
    pub fn make(stand_in: [(&str, &str, &str); 2], first: (&str, &str, &str), first_values: &Personal) -> Option<Shape> {
        let sets = [stand_ins(0), stand_ins(1)];
        let text = cut(stand_in[0].1, &sets[0], false);
        let html = cut(stand_in[0].2, &sets[0], true);
        if stand_in[0].0 != stand_in[1].0
            || stand_in[0].0 != first.0
            || text != cut(stand_in[1].1, &sets[1], false)
            || html != cut(stand_in[1].2, &sets[1], true)
            || text.join(first_values, false) != first.1
            || html.join(first_values, true) != first.2
        {
            return None;
        }
        let (text, html) = (text.encode(false), html.encode(true));
        let pieces = text.pieces.iter().chain(&html.pieces).map(|(p, _)| p.as_slice());
        let common = Arc::new(Common::new(pieces));
        Some(Shape { subject: first.0.to_string(), text, html, common })
    }

    /// What every message of this shape has in common (`delta`).
    pub fn common(&self) -> &Arc<Common> {
        &self.common
    }

    /// The quoted-printable text and HTML parts for one subscriber.
    pub fn parts(&self, values: &Personal) -> (Vec<u8>, Vec<u8>) {
        (self.text.fill(values, self.text.len()), self.html.fill(values, self.html.len()))
    }
}

/// What makes two digests of one run the same but for their personal
/// values: the articles listed (the same `Arc`s of the run's catalog), the
/// "more" count, the period, the frequency and the topics.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    period: String,
    frequency: Frequency,
    topics: Vec<String>,
    articles: Vec<usize>,
    more: usize,
}

impl Key {
    fn of(plan: &PlannedDigest) -> Key {
        Key {
            period: plan.period.key.clone(),
            frequency: plan.subscriber.frequency,
            topics: plan.subscriber.topics.clone(),
            articles: plan.articles.iter().map(|a| Arc::as_ptr(a) as usize).collect(),
            more: plan.more,
        }
    }
}

/// The shapes of one queueing run (shared by its rendering threads).
/// `None` for a shape is "render these per subscriber".
#[derive(Default)]
pub struct Shapes {
    known: Mutex<HashMap<Key, Option<Arc<Shape>>>>,
}

impl Shapes {
    /// Shapes kept at most; digests of further shapes are rendered per
    /// subscriber (a run with that many distinct shapes gains little).
    const MAX: usize = 4096;

    /// The shape of `plan`, made by `make` the first time it is seen.
    pub fn get_or_make<E>(&self, plan: &PlannedDigest, make: impl FnOnce() -> Result<Option<Shape>, E>) -> Result<Option<Arc<Shape>>, E> {
        let key = Key::of(plan);
        match self.known.lock() {
            Ok(known) => match known.get(&key) {
                Some(shape) => return Ok(shape.clone()),
                // Making a shape costs three renders: not for a digest
                // whose shape could not be kept for the others.
                None if known.len() >= Self::MAX => return Ok(None),
                None => {}
            },
            Err(_) => return Ok(None),
        }
        // Made outside the lock: two threads may make the same shape once
        // each at the start; the first one stored is kept.
        let made = make()?.map(Arc::new);
        match self.known.lock() {
            Ok(mut known) => Ok(known.entry(key).or_insert(made).clone()),
            Err(_) => Ok(made),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Personal {
        Personal {
            email: "bạn.đọc@example.org".into(),
            unsubscribe_url: "https://bantin.example.org/unsubscribe/AbC-_9".into(),
            preferences_url: "https://bantin.example.org/preferences/XyZ".into(),
        }
    }

    /// Renders as the mail templates do (`templates::environment`).
    fn render(tpl: &str, html: bool, v: &Personal) -> String {
        let mut env = crate::templates::environment();
        let name = if html { "t.html" } else { "t.txt" };
        env.add_template_owned(name, tpl.to_string()).unwrap();
        env.get_template(name)
            .unwrap()
            .render(minijinja::context! { email => &v.email, unsubscribe_url => &v.unsubscribe_url, preferences_url => &v.preferences_url })
            .unwrap()
    }

    fn shape_of(text_tpl: &str, html_tpl: &str) -> Option<Shape> {
        let r = |v: &Personal| (render(text_tpl, false, v), render(html_tpl, true, v));
        let (a, b, real) = (r(&stand_ins(0)), r(&stand_ins(1)), r(&values()));
        Shape::make([("s", &a.0, &a.1), ("s", &b.0, &b.1)], ("s", &real.0, &real.1), &values())
    }

    #[test]
    fn plain_uses_of_the_values_make_a_shape_that_decodes_to_the_direct_render() {
        let text = "Xin chào {{ email }},\nHủy: {{ unsubscribe_url }}\nTùy chọn: {{ preferences_url }} {{ email }}\n";
        let html = "<p>{{ email }}</p><a href=\"{{ unsubscribe_url }}\">Hủy đăng ký</a> <a href=\"{{ preferences_url }}\">x</a>";
        let shape = shape_of(text, html).expect("a shape");
        let other = Personal { email: "khac@example.org".into(), ..values() };
        let (t, h) = shape.parts(&other);
        let decode = |b: &[u8]| String::from_utf8(quoted_printable::decode(b, quoted_printable::ParseMode::Strict).unwrap()).unwrap();
        assert_eq!(decode(&t), render(text, false, &other).replace('\n', "\r\n"));
        assert_eq!(decode(&h), render(html, true, &other));
    }

    #[test]
    fn a_template_that_changes_or_tests_a_value_is_rendered_per_subscriber() {
        for text in [
            "{{ email|upper }}",
            "{{ email|length }}",
            "{{ unsubscribe_url|replace('/', '%2F') }}",
            "{% if 'example.org' in email %}x{% endif %}{{ email }}",
            "{{ email[:5] }}",
            "{% if email|length > 30 %}long{% endif %}",
        ] {
            assert!(shape_of(text, "").is_none(), "{text}");
        }
    }
}
