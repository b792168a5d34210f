//! Starting a real `bantin serve` for a test, the one way every suite does
//! it: the test environment (info logs, and none of systemd's variables
//! that the shell running the tests may carry), stderr collected line by
//! line, the address from its "listening on" line, and the process killed
//! when the [`Serve`] is dropped (also when the test fails halfway). The
//! suites' own server types wrap a [`Serve`] with what they need (a store
//! in a temp folder, async requests).

use std::net::SocketAddr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a `bantin serve` may take to log its address.
const START_LIMIT: Duration = Duration::from_secs(120);

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

/// The running `bantin serve`, killed when dropped.
pub struct Serve {
    pub child: Child,
    pub addr: SocketAddr,
    log: Log,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// Starts `bantin serve --config <config>`.
    pub fn start(config: &Path) -> Serve {
        Serve::start_with(config, &[])
    }

    /// Starts it with extra environment variables (the test knobs).
    pub fn start_with(config: &Path, env: &[(&str, &str)]) -> Serve {
        let mut cmd = serve_command(config);
        cmd.envs(env.iter().copied());
        Serve::launch(cmd, || {})
    }

    /// Starts it as uid and gid `user` when given (root ignores file
    /// modes, so unreadable files need another user).
    pub fn start_as(config: &Path, user: Option<u32>) -> Serve {
        let mut cmd = serve_command(config);
        if let Some(uid) = user {
            std::os::unix::process::CommandExt::uid(&mut cmd, uid);
            std::os::unix::process::CommandExt::gid(&mut cmd, uid);
        }
        Serve::launch(cmd, || {})
    }

    /// Spawns `cmd` (made by [`serve_command`] or [`serve_args`]), calls
    /// `started` once it runs (a wrapper may wait for something), and waits
    /// for the address; panics with the log when none comes.
    pub fn launch(mut cmd: Command, started: impl FnOnce()) -> Serve {
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
        match rx.recv_timeout(START_LIMIT) {
            Ok(addr) => {
                let addr = addr.parse().unwrap_or_else(|e| panic!("{addr:?} is not a socket address: {e}"));
                Serve { child, addr, log }
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("bantin serve did not log its address within {START_LIMIT:?}; log:\n{}", log.text());
            }
        }
    }

    /// The log so far.
    pub fn log(&self) -> String {
        self.log.text()
    }

    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Waits until the log has `text`, at most `limit`.
    pub fn wait_log(&self, text: &str, limit: Duration) -> bool {
        self.log.wait_for(text, limit)
    }

    /// Resident memory now and at its peak, in KiB.
    pub fn memory_kib(&self) -> (u64, u64) {
        super::harness::memory_kib(self.child.id())
    }

    /// Whether the process still runs.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().map(|s| s.is_none()).unwrap_or(false)
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) on our own child's pid with a valid signal number.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill({signal}) failed: {}", std::io::Error::last_os_error());
    }

    /// Waits for the process to exit, at most `limit`.
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
