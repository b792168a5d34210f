//! Mail, the pure part: quoted-printable encoding
//! ([`qp`]), the shapes a digest run renders once for many subscribers
//! ([`shape`]) and the guard against Gmail's clipping ([`clip`]). Building and sending messages (lettre, SMTP, the outbox)
//! is the daemon's `bantin::mail`.

pub mod clip;
pub mod qp;
pub mod shape;
