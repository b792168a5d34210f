//! A private, real postfix (Debian's package, started by `postfix -c DIR
//! start`) in a temporary directory, for the tests where the relay's own
//! behaviour is the point: it writes its DSNs, retries, expires.
//!
//! It listens on one loopback port only and knows four kinds of domain:
//! - [`LOCAL_DOMAIN`], virtual mailboxes (Maildir under the temp
//!   directory) with the listed users; an unknown user is accepted at RCPT
//!   (`smtpd_reject_unlisted_recipient = no`, as a relay that cannot know
//!   its backends' users) and then bounced by `virtual(8)` with `5.1.1`;
//! - [`IDN_DOMAIN`] (`thư.test`), the same mailboxes under an
//!   internationalised domain, known by its ASCII form only: this postfix
//!   does not offer SMTPUTF8 (`smtputf8_enable = no`, as many relays);
//! - the return-path domain, routed by `transport_maps` to
//!   `smtp:[127.0.0.1]:<port>`, where bantin's `bounces.listen` (or a test
//!   catcher) takes the DSNs;
//! - [`DEFERRED_DOMAIN`], routed to a loopback port nobody listens on: every
//!   attempt is deferred (`4.4.1`) until `maximal_queue_lifetime` expires
//!   and postfix returns the message with `Action: failed`, `Status: 4.4.1`.
//!
//! Postfix runs as root here (its daemons drop to the Debian package's
//! `postfix` user, `setgid_group` `postdrop`), so the test must run as
//! root: without root or without postfix, [`Postfix::start`] prints
//! SKIPPED and returns `None` (and panics when `CI=true`). No chroot, no
//! DNS, no syslog (`maillog_file` in the temp directory: [`Postfix::log`]).
//! Dropping it stops postfix (`postfix stop`, then SIGKILL to the master).

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub const LOCAL_DOMAIN: &str = "mail.test";
pub const DEFERRED_DOMAIN: &str = "deferred.test";
/// An internationalised domain of local mailboxes, and its ASCII form.
pub const IDN_DOMAIN: (&str, &str) = ("thư.test", "xn--th-e0a.test");

/// What the instance is told.
pub struct Setup {
    /// Users with a mailbox in [`LOCAL_DOMAIN`] and in [`IDN_DOMAIN`].
    pub mailboxes: Vec<String>,
    /// The return-path domain and where its mail goes.
    pub return_path_domain: String,
    pub bounces_to: SocketAddr,
    /// How long a deferred message is retried before it is returned
    /// (postfix's `maximal_queue_lifetime`).
    pub queue_lifetime: Duration,
    /// `delay_warning_time`: zero for none.
    pub delay_warning: Duration,
}

pub struct Postfix {
    dir: tempfile::TempDir,
    /// Where postfix's smtpd listens (127.0.0.1 only).
    pub smtp: SocketAddr,
}

/// A loopback port free now (bound, then let go).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("its address").port()
}

fn usable() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let installed = Path::new("/usr/sbin/postfix").is_file();
    let user = Command::new("id").arg("postfix").output().is_ok_and(|o| o.status.success());
    if root && installed && user {
        return true;
    }
    let why = format!("a private postfix needs root ({root}), /usr/sbin/postfix ({installed}) and its user ({user})");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why}, and CI=true: run as root with the Debian package `postfix` installed");
    }
    println!("SKIPPED: {why}");
    false
}

fn id_of(flag: &str) -> String {
    let out = Command::new("id").args([flag, "postfix"]).output().expect("id postfix");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The services of Debian's master.cf that a relay uses, none chrooted
/// (a chroot would need copies of /etc files in the queue directory).
const MASTER_CF: &str = "\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
";

impl Postfix {
    /// Starts the instance and waits until its smtpd answers; `None` when
    /// this machine cannot run it (see the module doc).
    pub fn start(setup: &Setup) -> Option<Postfix> {
        if !usable() {
            return None;
        }
        let dir = tempfile::Builder::new().prefix("bantin-postfix").tempdir().expect("temp dir");
        let d = dir.path();
        // The daemons (user postfix) must reach the queue and the mailboxes.
        chmod(d, 0o755);
        for sub in ["etc", "queue", "data", "mail"] {
            std::fs::create_dir(d.join(sub)).expect("mkdir");
        }
        let (uid, gid) = (id_of("-u"), id_of("-g"));
        for sub in ["data", "mail"] {
            let status = Command::new("chown").arg("postfix:postfix").arg(d.join(sub)).status();
            assert!(status.is_ok_and(|s| s.success()), "chown {sub}");
        }
        let smtp = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let closed = free_port();
        let mut master = format!("{smtp} inet n - n - - smtpd\n");
        master.push_str(MASTER_CF);
        write(&d.join("etc/master.cf"), &master);
        let boxes: String = [LOCAL_DOMAIN, IDN_DOMAIN.1]
            .iter()
            .flat_map(|domain| setup.mailboxes.iter().map(move |u| format!("{u}@{domain} {domain}/{u}/\n")))
            .collect();
        write(&d.join("etc/vmailbox"), &boxes);
        let transport = format!(
            "{} smtp:[127.0.0.1]:{}\n{DEFERRED_DOMAIN} smtp:[127.0.0.1]:{closed}\n",
            setup.return_path_domain,
            setup.bounces_to.port()
        );
        write(&d.join("etc/transport"), &transport);
        write(&d.join("etc/main.cf"), &main_cf(d, setup, &uid, &gid));
        let pf = Postfix { dir, smtp };
        let out = pf.postfix("start");
        assert!(out.status.success(), "postfix start failed: {}{}", String::from_utf8_lossy(&out.stderr), pf.log());
        pf.wait_for_smtpd();
        Some(pf)
    }

    /// Asks postfix to try every queued message now (`postfix flush`), as
    /// an operator would, instead of waiting for its queue manager's next
    /// scan of the deferred queue.
    pub fn flush(&self) {
        let out = self.postfix("flush");
        assert!(out.status.success(), "postfix flush failed: {}{}", String::from_utf8_lossy(&out.stderr), self.log());
    }

    fn postfix(&self, what: &str) -> std::process::Output {
        Command::new("/usr/sbin/postfix").arg("-c").arg(self.dir.path().join("etc")).arg(what).output().expect("run postfix")
    }

    fn wait_for_smtpd(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(self.smtp).is_err() {
            assert!(Instant::now() < deadline, "postfix's smtpd does not answer on {}:\n{}", self.smtp, self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Postfix's log so far (its `maillog_file`).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    /// The messages delivered to `user`'s mailbox of [`LOCAL_DOMAIN`].
    pub fn mailbox(&self, user: &str) -> Vec<Vec<u8>> {
        self.mailbox_at(LOCAL_DOMAIN, user)
    }

    /// The messages delivered to `user`'s mailbox of `domain` (one of the
    /// local domains, [`IDN_DOMAIN`] by its ASCII form).
    pub fn mailbox_at(&self, domain: &str, user: &str) -> Vec<Vec<u8>> {
        let new = self.dir.path().join("mail").join(domain).join(user).join("new");
        let Ok(entries) = std::fs::read_dir(new) else { return Vec::new() };
        entries.filter_map(|e| std::fs::read(e.ok()?.path()).ok()).collect()
    }

    /// Polls `done` on the log until it is true or `limit` passes.
    pub fn wait_log(&self, limit: Duration, done: impl Fn(&str) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if done(&self.log()) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn master_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.dir.path().join("queue/pid/master.pid")).ok()?;
        text.trim().parse().ok()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let pid = self.master_pid();
        let _ = self.postfix("stop");
        // `postfix stop` returns before the master is gone; make sure.
        if let Some(pid) = pid {
            let deadline = Instant::now() + Duration::from_secs(5);
            // SAFETY: kill with signal 0 only asks whether `pid` lives.
            while unsafe { libc::kill(pid, 0) } == 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            // SAFETY: `pid` is this instance's master, read from its pid file.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

fn main_cf(d: &Path, setup: &Setup, uid: &str, gid: &str) -> String {
    let d = d.display();
    let lifetime = setup.queue_lifetime.as_secs().max(1);
    let warning = setup.delay_warning.as_secs();
    let idn = IDN_DOMAIN.1;
    // postfix caps bounce_queue_lifetime at maximal_queue_lifetime (qmgr
    // warns and adjusts): a DSN that bantin answers 451 is retried for
    // `queue_lifetime` too, then dropped.
    format!(
        "compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
maillog_file_prefixes = {d}
maillog_file = {d}/maillog
myhostname = relay.test
mydomain = relay.test
myorigin = relay.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
virtual_mailbox_domains = {LOCAL_DOMAIN} {idn}
virtual_mailbox_base = {d}/mail
virtual_mailbox_maps = texthash:{d}/etc/vmailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
smtpd_reject_unlisted_recipient = no
transport_maps = texthash:{d}/etc/transport
smtp_dns_support_level = disabled
smtp_host_lookup = native
maximal_queue_lifetime = {lifetime}s
bounce_queue_lifetime = {lifetime}s
delay_warning_time = {warning}s
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
smtputf8_enable = no
biff = no
"
    )
}

fn write(path: &PathBuf, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}
