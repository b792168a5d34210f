//! A real `bantin serve` process for tests: started with a config (and
//! test knobs in its environment), its log collected, signalled, and
//! killed if the test fails halfway.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The running `bantin serve`, killed if the test fails halfway.
pub struct Serve {
    pub child: Child,
    log: Arc<Mutex<String>>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    pub fn start(config: &Path) -> Serve {
        Serve::start_with(config, &[])
    }

    /// Starts it with extra environment variables (the test knobs).
    pub fn start_with(config: &Path, env: &[(&str, &str)]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bantin"))
            .args(["serve", "--config"])
            .arg(config)
            .envs(env.iter().copied())
            .env("BANTIN_LOG", "info")
            .env_remove("BANTIN_LOG_FORMAT")
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.contains("listening on ") {
                    let _ = tx.send(());
                }
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let serve = Serve { child, log };
        if rx.recv_timeout(Duration::from_secs(60)).is_err() {
            panic!("bantin serve did not start listening; log:\n{}", serve.log());
        }
        serve
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) on our own child's pid with a valid signal number.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill({signal}) failed: {}", std::io::Error::last_os_error());
    }

    /// Waits until the log has `text`, at most `limit`.
    pub fn wait_log(&self, text: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.log().contains(text) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// A port nobody listens on now: bound to learn it, then released, so the
/// config can name it in both `http.listen` and `http.public_url` (the
/// links in the mails then point at the server under test).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

