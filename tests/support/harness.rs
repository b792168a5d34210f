//! The small harness of the fault and abuse suites (store_faults,
//! mail_faults, http_abuse, http_limits, injection, crash_safety): a config of our own
//! for `bantin serve` (started with [`super::serve::Serve`]), speak raw HTTP
//! over a socket (for requests no client library would send), read a
//! process's memory from /proc, and report each scenario's figures.
//!
//! Figures are printed and also appended to `target/tmp/figures.txt`, which
//! `.ci/run` shows after the test run (so CI prints them without running
//! the suites twice). The suites share one process now, so each line is
//! written whole under a lock (threads never interleave their lines).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// Prints one scenario's figures and keeps them for `.ci/run`.
pub fn figures(scenario: &str, line: &str) {
    let text = format!("{scenario:<34} {line}");
    println!("FIGURES {text}");
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("figures.txt");
    static WRITING: Mutex<()> = Mutex::new(());
    let _writing = WRITING.lock().unwrap_or_else(|e| e.into_inner());
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = f.write_all(format!("{text}\n").as_bytes());
    }
}

/// The bantin binary on the config `cfg`, logging errors only (the crash
/// suites run it many times and read its stderr).
pub fn bantin(cfg: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_bantin"));
    c.arg("--config").arg(cfg).env("BANTIN_LOG", "error");
    c
}

/// `bantin --config cfg ARGS` with `env`, run to its end without blocking
/// the runtime: its exit code (-1 if a signal ended it) and stdout then
/// stderr.
pub async fn cli(cfg: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let out = tokio::process::Command::from(bantin(cfg)).args(args).envs(env.iter().copied()).output().await.unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// Panics the process reported on stderr (Rust's panic message).
pub fn panics(log: &str) -> usize {
    log.matches("panicked at").count()
}

/// A config for `bantin serve` in `dir`: store at `store`, state database
/// and token secret in `dir/state`, a random port, mail to `smtp_url`.
pub fn write_config(dir: &Path, store: &Path, smtp_url: &str, extra: &str) -> PathBuf {
    let text = format!(
        r#"[site]
title = "Cổng thông tin thử nghiệm"
base_url = "https://portal.example.org"
timezone = "Asia/Ho_Chi_Minh"

[store]
path = {store:?}
debounce_ms = 50
rescan = "1h"

[http]
listen = "127.0.0.1:0"
public_url = "http://bantin.test/"

[state]
url = "sqlite://{dir}/state/bantin.db"

[mail]
smtp_url = "{smtp_url}"
from = "Bản tin <bantin@example.org>"
retry_base = "1s"
retry_max = "4s"
{extra}
"#,
        store = store.display().to_string(),
        dir = dir.display(),
    );
    let path = dir.join("bantin.toml");
    std::fs::write(&path, text).expect("write the test config");
    path
}

/// VmRSS and VmHWM of `pid`, in KiB.
pub fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Sends `request` as raw bytes and returns what came back (until the
/// server closes or `limit` passes).
pub fn raw(addr: SocketAddr, request: &[u8], limit: Duration) -> String {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, limit) else { return String::new() };
    let _ = s.set_read_timeout(Some(limit));
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The status code of a raw HTTP/1.1 answer (0 when there was none).
pub fn status_of(answer: &str) -> u16 {
    answer.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// A gauge or counter value from a Prometheus text page.
pub fn metric(page: &str, name_and_labels: &str) -> Option<f64> {
    page.lines().find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' ')).and_then(|v| v.trim().parse().ok())
}

/// `GET` over a fresh connection with `Connection: close`.
pub fn get(addr: SocketAddr, path: &str) -> String {
    raw(addr, format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(), Duration::from_secs(10))
}

/// Every value of header `name` in a raw answer, in order.
pub fn headers_of<'a>(answer: &'a str, name: &str) -> Vec<&'a str> {
    let head = answer.split_once("\r\n\r\n").map_or("", |(h, _)| h);
    head.lines().filter_map(|l| l.split_once(':')).filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim()).collect()
}

/// The body of a raw answer (after the blank line; not de-chunked).
pub fn body_of(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// The body of a sign-up's answer with the address it names made
/// `ADDRESS`: what must be the same whatever the address's state.
pub fn page_without_address(answer: &str, address: &str) -> String {
    body_of(answer).replace(address, "ADDRESS")
}

/// Raises this process's open-file limit to its hard limit (children, such
/// as `bantin serve`, inherit it): the many-connections tests hold more
/// sockets than the usual soft limit of 1,024. The limit is the whole
/// process's (every test thread's): raised once, only ever upwards.
pub fn raise_fd_limit() {
    static RAISED: std::sync::Once = std::sync::Once::new();
    RAISED.call_once(|| {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit/setrlimit with a valid resource and a pointer to a
        // live rlimit.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
                limit.rlim_cur = limit.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            }
        }
    });
}
