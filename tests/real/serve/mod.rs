//! `bantin serve` end to end: the real binary on a random port with a
//! temporary store, driven over real HTTP and real signals. This file has
//! the suite's server and requests; the tests are in its rooms: `follow`
//! (the store followed, WebSub told), `http` (conditional requests,
//! encodings, limits, the index page, health), `process` (signals,
//! systemd's notify and socket, logs).

mod follow;
mod http;
mod process;

use crate::support::serve::{self, Serve};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const BASE_CONFIG: &str = r#"
[site]
title = "Cổng thông tin thử nghiệm"
base_url = "https://portal.example.org"
timezone = "Asia/Ho_Chi_Minh"

[http]
listen = "127.0.0.1:0"
public_url = "http://feeds.example.org/"
"#;

/// A [`Serve`] on a store of its own in a temp folder.
struct Server {
    serve: Serve,
    base: String,
    dir: tempfile::TempDir,
}

impl Server {
    /// Starts `bantin serve` on a store in a temp folder with `articles`
    /// already in it; `extra` is appended to the config.
    fn start(articles: &[(&str, String)], extra: &str) -> Server {
        Server::launch(articles, extra, &[], None)
    }

    /// Like [`Server::start`], with extra environment variables, and
    /// optionally started through a wrapper command (such as
    /// systemd-socket-activate) that is given the bantin command line;
    /// `poke` is called once the process runs (a wrapper may wait for it).
    fn launch(articles: &[(&str, String)], extra: &str, env: &[(&str, &str)], wrapper: Option<(&[&str], &dyn Fn())>) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        std::fs::create_dir(&store).unwrap();
        for (name, text) in articles {
            write(&store.join(name), text);
        }
        std::fs::write(dir.path().join("bantin.toml"), config(&store, extra)).unwrap();
        let mut cmd = match wrapper {
            Some((w, _)) => {
                let mut c = Command::new(w[0]);
                c.args(&w[1..]).arg(env!("CARGO_BIN_EXE_bantin"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_bantin")),
        };
        serve::serve_args(&mut cmd, &dir.path().join("bantin.toml"));
        cmd.envs(env.iter().copied());
        let serve = Serve::launch(cmd, || {
            if let Some((_, poke)) = wrapper {
                poke();
            }
        });
        Server { base: serve.url(""), serve, dir }
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    fn config_file(&self) -> PathBuf {
        self.dir.path().join("bantin.toml")
    }

    fn url(&self, path: &str) -> String {
        self.serve.url(path)
    }

    fn log(&self) -> String {
        self.serve.log()
    }

    fn signal(&self, name: &str) {
        let signal = match name {
            "HUP" => libc::SIGHUP,
            "TERM" => libc::SIGTERM,
            "INT" => libc::SIGINT,
            other => panic!("no signal {other} in these tests"),
        };
        self.serve.signal(signal);
    }

    /// Waits for the process to exit, at most `limit`.
    fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        self.serve.wait_exit(limit)
    }
}

/// The state database goes beside the store, in the test's temp folder.
fn config(store: &Path, extra: &str) -> String {
    let state = store.with_file_name("state").join("bantin.db");
    format!(
        "{BASE_CONFIG}\n[store]\npath = {:?}\ndebounce_ms = 50\nrescan = \"1h\"\n\n[state]\nurl = \"sqlite://{}\"\n{extra}",
        store.display().to_string(),
        state.display()
    )
}

/// Writes through a temporary name and a rename, as editors and rsync do.
fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let tmp = path.with_file_name(format!(".{}.tmp", path.file_name().unwrap().to_string_lossy()));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn article(title: &str, date: &str, category: &str) -> String {
    format!(
        "+++\ntitle = \"{title}\"\ndate = \"{date}\"\ncategories = [\"{category}\"]\nsummary = \"Tóm tắt: {title}\"\n+++\n\nNội dung bài viết {title}.\n"
    )
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
    }
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn request(method: reqwest::Method, url: &str, headers: &[(&str, &str)]) -> Reply {
    let mut req = client().request(method, url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.unwrap().to_vec();
    Reply { status, headers, body }
}

async fn get(url: &str) -> Reply {
    request(reqwest::Method::GET, url, &[]).await
}

/// Polls `url` until `pred` holds for its body (the store change has been
/// served), failing with the last body and the log after `limit`.
async fn until(server: &Server, path: &str, limit: Duration, pred: impl Fn(&Reply) -> bool) -> Reply {
    let deadline = Instant::now() + limit;
    loop {
        let reply = get(&server.url(path)).await;
        if pred(&reply) {
            return reply;
        }
        if Instant::now() > deadline {
            panic!("{path} never reached the expected state; last body:\n{}\nlog:\n{}", reply.text(), server.log());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const WAIT: Duration = Duration::from_secs(20);

fn health(reply: &Reply) -> serde_json::Value {
    serde_json::from_slice(&reply.body).unwrap()
}
