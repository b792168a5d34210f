//! `[admin]`: the admin API (`/admin/api/`): the file of its bearer tokens
//! (unset: the API is off) and, optionally, an address of its own so it is
//! never served on the public listener.

use super::{ConfigError, Origin};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    /// The token file; `None`: every `/admin/` request is answered 404 as
    /// any unknown path is.
    pub token_file: Option<PathBuf>,
    /// Where the admin API listens; `None`: on `http.listen`, beside the
    /// public routes.
    pub listen: Option<SocketAddr>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(test, derive(serde::Serialize, schemars::JsonSchema))]
pub(super) struct RawAdmin {
    /// Bearer tokens of the admin API, one a line: `name:secret` (the name is written to the audit table) or just the secret (named `admin`). Unset: the API is off. Keep it mode 0600.
    token_file: Option<String>,
    /// An address of the admin API's own (e.g. `127.0.0.1:8081`); then it is never served on `http.listen`. Unset: on `http.listen`.
    listen: Option<String>,
}

impl RawAdmin {
    pub(super) fn validate(self, origin: &Origin) -> Result<Admin, ConfigError> {
        let token_file = match self.token_file.as_deref().map(str::trim) {
            None => None,
            Some("") => return Err(origin.bad("admin.token_file", "is empty; name a file such as \"/etc/bantin/admin.token\" or remove the key".into())),
            Some(path) => Some(PathBuf::from(path)),
        };
        let listen = match self.listen.as_deref().map(str::trim) {
            None => None,
            Some(s) => Some(s.parse::<SocketAddr>().map_err(|_| {
                origin.bad("admin.listen", format!("{s:?} is not an address and port such as \"127.0.0.1:8081\""))
            })?),
        };
        if listen.is_some() && token_file.is_none() {
            return Err(origin.bad("admin.listen", "is set but admin.token_file is not, so the admin API is off: set admin.token_file too, or remove admin.listen".into()));
        }
        Ok(Admin { token_file, listen })
    }
}

#[cfg(test)]
mod tests {
    fn load(admin: &str) -> Result<crate::config::Settings, crate::config::ConfigError> {
        let text = format!("[site]\ntitle = \"T\"\nbase_url = \"https://x.org\"\n[admin]\n{admin}");
        crate::config::Settings::from_sources(std::path::Path::new("bantin.toml"), &text, [])
    }

    #[test]
    fn the_admin_api_is_off_unless_a_token_file_is_named() {
        assert_eq!(load("").unwrap().admin, super::Admin { token_file: None, listen: None });
        let on = load("token_file = \"/etc/bantin/admin.token\"\nlisten = \"127.0.0.1:8081\"").unwrap().admin;
        assert_eq!(on.token_file.as_deref(), Some(std::path::Path::new("/etc/bantin/admin.token")));
        assert_eq!(on.listen.map(|a| a.port()), Some(8081));
    }

    #[test]
    fn bad_admin_keys_are_named_with_what_to_write() {
        let e = load("token_file = \"t\"\nlisten = \"localhost\"").unwrap_err().to_string();
        assert!(e.contains("admin.listen") && e.contains("127.0.0.1:8081"), "{e}");
        let e = load("listen = \"127.0.0.1:8081\"").unwrap_err().to_string();
        assert!(e.contains("admin.listen") && e.contains("admin.token_file"), "{e}");
        let e = load("token_file = \" \"").unwrap_err().to_string();
        assert!(e.contains("admin.token_file"), "{e}");
        assert!(load("token = \"x\"").is_err(), "unknown keys are refused");
    }
}
