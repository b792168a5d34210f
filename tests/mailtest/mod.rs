//! Helpers shared by the digest tests: a real SMTP server (`smtp`), a
//! config file in a temporary folder pointing the state database there.

#![allow(dead_code)]

pub mod smtp;

use std::path::{Path, PathBuf};

pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/articles")
}

/// Writes a config into `dir` (state database and secret inside it) and
/// returns its path. `extra_mail` is appended to the [mail] section.
pub fn write_config(dir: &Path, store: &Path, smtp_url: &str, public_url: &str, extra_mail: &str) -> PathBuf {
    let text = format!(
        r#"[site]
title = "Cổng thông tin điện tử tỉnh Yên Bái"
base_url = "https://yenbai.gov.vn"
timezone = "Asia/Ho_Chi_Minh"
article_url = "tin-tuc/{{slug}}"

[store]
kind = "dir"
path = "{store}"

[http]
public_url = "{public_url}"

[state]
url = "sqlite://{dir}/state/bantin.db"

[mail]
smtp_url = "{smtp_url}"
from = "Bản tin Yên Bái <bantin@example.org>"
retry_base = "1s"
retry_max = "4s"
{extra_mail}

[digest]
daily_at = "07:00"
weekly_on = "mon"
max_items = 30
first_backlog = "400d"
"#,
        store = store.display(),
        dir = dir.display(),
    );
    let path = dir.join("bantin.toml");
    std::fs::write(&path, text).expect("write the test config");
    path
}

pub fn load(path: &Path) -> bantin::Settings {
    bantin::config::load(path).expect("the test config is valid")
}
