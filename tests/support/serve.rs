//! Starting a real `bantin serve` for a test, the one way every suite does
//! it: the test environment (info logs, and none of systemd's variables
//! that the shell running the tests may carry), stderr collected line by
//! line, and the address from its "listening on" line. The suites' own
//! `Serve`/`Server` types wrap what this returns with what they need
//! (requests, signals, figures).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A started `bantin serve`: the process, the address it logged, and its
/// log so far (still filled by the thread reading its stderr).
pub struct Launched {
    pub child: Child,
    pub addr: String,
    pub log: Log,
}

/// What a launched server has written to stderr so far, line by line.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<String>>);

impl Log {
    /// The log so far.
    pub fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }

    /// Waits until the log has `text`, at most `limit`; whether it came.
    pub fn wait_for(&self, text: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if self.0.lock().unwrap().contains(text) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn push_line(&self, line: &str) {
        let mut log = self.0.lock().unwrap();
        log.push_str(line);
        log.push('\n');
    }
}

/// Adds `serve --config <config>` and the test environment to `cmd`: the
/// bantin binary itself, or a wrapper given the binary as its argument.
/// Variables set on `cmd` afterwards win over these.
pub fn serve_args(cmd: &mut Command, config: &Path) {
    cmd.args(["serve", "--config"])
        .arg(config)
        .env("BANTIN_LOG", "info")
        .env_remove("BANTIN_LOG_FORMAT")
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
}

/// `bantin serve --config <config>` in the test environment.
pub fn serve_command(config: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bantin"));
    serve_args(&mut cmd, config);
    cmd
}

/// Spawns `cmd` (made by [`serve_command`] or [`serve_args`]), calls
/// `started` once it runs (a wrapper may wait for something), and waits
/// at most `limit` for the address; panics with the log when none comes.
pub fn launch(mut cmd: Command, limit: Duration, started: impl FnOnce()) -> Launched {
    let mut child = cmd.spawn().expect("start bantin serve");
    let log = Log::default();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().expect("serve_args pipes stderr");
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let addr = line.split("listening on ").nth(1).map(|rest| {
                rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':').collect::<String>()
            });
            // Logged first, so a test that reads the log once started
            // finds the line that started it.
            sink.push_line(&line);
            if let Some(addr) = addr {
                let _ = tx.send(addr);
            }
        }
    });
    started();
    match rx.recv_timeout(limit) {
        Ok(addr) => Launched { child, addr, log },
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("bantin serve did not log its address within {limit:?}; log:\n{}", log.text());
        }
    }
}
