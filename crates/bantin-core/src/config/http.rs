//! `[http]`: where `serve` listens and where readers reach bantin's own
//! routes.

use super::{ConfigError, Origin, absolute_url};
use serde::Deserialize;
use std::net::SocketAddr;
use url::Url;

#[derive(Debug, Clone)]
pub struct Http {
    pub listen: SocketAddr,
    /// Where readers reach bantin's own routes (feeds, subscription pages);
    /// defaults to `site.base_url`. Ends with `/`.
    pub public_url: Url,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawHttp {
    listen: String,
    public_url: Option<String>,
}
impl Default for RawHttp {
    fn default() -> Self {
        RawHttp { listen: "127.0.0.1:8080".into(), public_url: None }
    }
}

impl RawHttp {
    /// `base_url`: the site's, which `public_url` defaults to.
    pub(super) fn validate(self, origin: &Origin, base_url: &Url) -> Result<Http, ConfigError> {
        let listen: SocketAddr = self.listen.parse().map_err(|_| {
            origin.bad("http.listen", format!("{:?} is not an address:port such as \"127.0.0.1:8080\"", self.listen))
        })?;
        let public_url = match self.public_url.as_deref().map(str::trim) {
            None | Some("") => base_url.clone(),
            Some(u) => absolute_url(u).map_err(|m| origin.bad("http.public_url", m))?,
        };
        Ok(Http { listen, public_url })
    }
}
