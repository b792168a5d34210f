//! Issue 19, finding 7: the passwords of the config's URLs never reach
//! stdout or stderr. Every key that holds a URL (`state.url`, `store.url`,
//! `mail.smtp_url`, `feeds.websub_hub`) gets a password made of `/`, `#`,
//! `?`, `"` and `@` (the characters that made `config::redact` fall
//! through, or the parser end the password early), on every path that
//! prints it: `bantin check`, `bantin serve`'s start-up (database out of
//! reach, wrong scheme, unparsable URL), `bantin digest run` (relay out of
//! reach), a config error, a TOML syntax error on that very line, and an
//! override from the environment.

use crate::support::harness;
use crate::support::mailtest;
use crate::support::serve::free_port;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Every piece of the password holds this (checked case-insensitively),
/// so a password printed in part, escaped or cut is still seen.
const MARK: &str = "sekr";
/// The password as written, raw, in a TOML literal string.
const RAW: &str = r#"Sekr1/Sekr2#Sekr3?Sekr4"Sekr5@Sekr6"#;
/// The same, percent-encoded: a URL that parses, to a server out of reach.
const ENCODED: &str = "Sekr1%2FSekr2%23Sekr3%3FSekr4%22Sekr5%40Sekr6";

/// The config of one case: `state`, `store` and `mail` lines and the
/// `[feeds]` hub, each a whole `key = value` line.
struct Case {
    name: &'static str,
    state: String,
    store: String,
    smtp: String,
    hub: String,
}

fn base(name: &'static str) -> Case {
    Case {
        name,
        state: String::new(),
        store: format!("path = {:?}", mailtest::examples().display().to_string()),
        smtp: "smtp_url = \"smtp://127.0.0.1:9\"".into(),
        hub: String::new(),
    }
}

fn cases() -> Vec<Case> {
    let pg = |pw: &str| format!("postgres://bantin:{pw}@127.0.0.1:1/bantin");
    let store_pg = |line: String| format!("kind = \"postgres\"\n{line}\ntable = \"articles\"");
    vec![
        Case { state: format!("url = '{}'", pg(RAW)), ..base("state.url unparsable") },
        Case { state: format!("url = '{}'", pg(ENCODED)), ..base("state.url out of reach") },
        Case { state: format!("url = 'mysql://bantin:{RAW}@127.0.0.1/bantin'"), ..base("state.url wrong scheme") },
        Case { state: format!("url = \"{}\"", pg(RAW)), ..base("state.url TOML error") },
        Case { store: store_pg(format!("url = '{}'", pg(RAW))), ..base("store.url unparsable") },
        Case { store: store_pg(format!("url = '{}'", pg(ENCODED))), ..base("store.url out of reach") },
        Case { store: store_pg(format!("url = 'sqlite://bantin:{RAW}@x/db'")), ..base("store.url wrong kind") },
        Case { store: store_pg(format!("url = \"{}\"", pg(RAW))), ..base("store.url TOML error") },
        Case { smtp: format!("smtp_url = 'smtp://bantin:{RAW}@127.0.0.1:9'"), ..base("mail.smtp_url unparsable") },
        Case { smtp: format!("smtp_url = 'smtp://bantin:{ENCODED}@127.0.0.1:9'"), ..base("mail.smtp_url out of reach") },
        Case { smtp: format!("smtp_url = 'smtp://bantin:{ENCODED}@127.0.0.1:9?tls=maybe'"), ..base("mail.smtp_url bad tls") },
        Case { smtp: format!("smtp_url = \"smtp://bantin:{RAW}@127.0.0.1:9\""), ..base("mail.smtp_url TOML error") },
        Case { hub: format!("websub_hub = 'https://bantin:{RAW}@hub.example.org/'"), ..base("feeds.websub_hub unparsable") },
        Case { hub: format!("websub_hub = 'https://bantin:{ENCODED}@hub.example.org/'"), ..base("feeds.websub_hub password") },
        Case { hub: format!("websub_hub = \"https://bantin:{RAW}@hub.example.org/\""), ..base("feeds.websub_hub TOML error") },
    ]
}

fn write(dir: &Path, case: &Case) -> std::path::PathBuf {
    let state = if case.state.is_empty() { format!("url = \"sqlite://{}/state/bantin.db\"", dir.display()) } else { case.state.clone() };
    let text = format!(
        "[site]\ntitle = \"T\"\nbase_url = \"https://x.org\"\n\n[store]\n{}\n\n[feeds]\n{}\n\n[http]\nlisten = \"127.0.0.1:{}\"\n\n\
         [state]\n{state}\n\n[mail]\n{}\nfrom = \"bantin <bantin@example.org>\"\n",
        case.store,
        case.hub,
        free_port(),
        case.smtp
    );
    let path = dir.join("bantin.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs bantin with `args` for at most 15 s (an SQL store out of reach is waited for 10 s) (a `serve` that started after
/// all is stopped); its exit code (None if stopped) and all it printed.
fn run(cfg: &Path, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bantin"))
        .arg("--config")
        .arg(cfg)
        .args(args)
        .envs(env.iter().copied())
        .env("BANTIN_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    (code, format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn no_password_of_a_config_url_is_printed_on_any_path() {
    let mut printed = 0;
    let mut runs = 0;
    for case in cases() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = write(dir.path(), &case);
        let mut failed = 0;
        for args in [&["check"][..], &["serve"], &["digest", "run"]] {
            let (code, out) = run(&cfg, args, &[]);
            runs += 1;
            printed += out.len();
            assert!(!out.to_lowercase().contains(MARK), "{} / bantin {args:?} printed the password:\n{out}", case.name);
            failed += usize::from(code.is_some_and(|c| c != 0));
        }
        // Each case is an error on one path at least: the one that prints
        // the URL (a relay out of reach stops only `digest run`).
        assert!(failed > 0, "{}: no path failed", case.name);
    }
    // The same values from the environment, which the errors then name.
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), &base("environment"));
    for (var, value) in [
        ("BANTIN__STATE__URL", format!("mysql://bantin:{RAW}@127.0.0.1/db")),
        ("BANTIN__STATE__URL", format!("postgres://bantin:{RAW}@127.0.0.1:1/db")),
        ("BANTIN__MAIL__SMTP_URL", format!("smtp://bantin:{RAW}@127.0.0.1:9")),
        ("BANTIN__FEEDS__WEBSUB_HUB", format!("https://bantin:{RAW}@hub.example.org/")),
    ] {
        for args in [&["check"][..], &["serve"]] {
            let (code, out) = run(&cfg, args, &[(var, &value)]);
            runs += 1;
            printed += out.len();
            assert!(!out.to_lowercase().contains(MARK), "{var} / bantin {args:?} printed the password:\n{out}");
            if args == ["serve"] {
                assert!(code.is_some_and(|c| c != 0), "{var} / serve: {code:?}\n{out}");
            }
        }
    }
    harness::figures("secrets in output", &format!("{runs} runs, {printed} bytes printed, password seen 0 times"));
}

/// The errors still say where to look: the key, and the URL with `***`.
#[test]
fn the_errors_name_the_key_and_show_the_url_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let mut case = base("state.url wrong scheme");
    case.state = format!("url = 'mysql://bantin:{RAW}@127.0.0.1/bantin'");
    let (code, out) = run(&write(dir.path(), &case), &["check"], &[]);
    assert_eq!(code, Some(78), "{out}");
    assert!(out.contains("state.url") && out.contains("mysql://bantin:***@127.0.0.1/bantin"), "{out}");
    let mut case = base("state.url TOML error");
    case.state = format!("url = \"postgres://bantin:{RAW}@127.0.0.1:1/bantin\"");
    let (code, out) = run(&write(dir.path(), &case), &["check"], &[]);
    assert_eq!(code, Some(78), "{out}");
    assert!(out.contains("TOML parse error") && out.contains("url = (value hidden"), "{out}");
    let mut case = base("state.url out of reach");
    case.state = format!("url = 'postgres://bantin:{ENCODED}@127.0.0.1:1/bantin'");
    let (code, out) = run(&write(dir.path(), &case), &["serve"], &[]);
    assert_eq!(code, Some(69), "{out}");
    assert!(out.contains("postgres://bantin:***@127.0.0.1:1/bantin"), "{out}");
}
