//! Mail, the pure part: quoted-printable encoding
//! ([`qp`]) and the shapes a digest run renders once for many subscribers
//! ([`shape`]). Building and sending messages (lettre, SMTP, the outbox)
//! is the daemon's `bantin::mail`.

pub mod qp;
pub mod shape;
