//! A real `bantin serve` process for tests: started with a config (and
//! test knobs in its environment), its log collected, signalled, and
//! killed if the test fails halfway.

#[path = "../support/serve.rs"]
mod launch;

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

/// The running `bantin serve`, killed if the test fails halfway.
pub struct Serve {
    pub child: Child,
    log: launch::Log,
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
        let mut cmd = launch::serve_command(config);
        cmd.envs(env.iter().copied());
        let launched = launch::launch(cmd, Duration::from_secs(60), || {});
        Serve { child: launched.child, log: launched.log }
    }

    pub fn log(&self) -> String {
        self.log.text()
    }

    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) on our own child's pid with a valid signal number.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill({signal}) failed: {}", std::io::Error::last_os_error());
    }

    /// Waits until the log has `text`, at most `limit`.
    pub fn wait_log(&self, text: &str, limit: Duration) -> bool {
        self.log.wait_for(text, limit)
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

