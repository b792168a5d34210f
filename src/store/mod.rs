//! Article stores as the daemon reads them: a folder of files ([`dir`]) or
//! an SQL table ([`sql`]). The formats themselves (detection, front matter,
//! the portal export, Markdown, normalisation) are the core's
//! (`bantin_core::store`), re-exported here.

pub use bantin_core::store::*;

pub mod dir;
pub mod sql;
