//! The systemd units in `systemd/` parse (`systemd-analyze verify`) and
//! their hardening keeps a good exposure score (`systemd-analyze security
//! --offline=true`), through the same script CI and sysadmins run.
//! Needs systemd-analyze: Debian package `systemd`.

use std::process::Command;

#[test]
fn units_verify_and_score_well() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("bash")
        .arg(format!("{root}/systemd/check-units.sh"))
        .args(["--max-exposure", "2.0"])
        .env("BANTIN_BIN", env!("CARGO_BIN_EXE_bantin"))
        .output()
        .expect("bash runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "systemd/check-units.sh failed (install the Debian package `systemd` if systemd-analyze is missing):\n{text}");
    assert!(text.contains("exposure score: "), "{text}");
    eprintln!("{text}");
}

#[test]
fn service_unit_has_the_lifecycle_the_binary_implements() {
    let unit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/bantin.service")).unwrap();
    for line in [
        "Type=notify",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "WatchdogSec=30s",
        "DynamicUser=yes",
        "StateDirectory=bantin",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
    ] {
        assert!(unit.lines().any(|l| l.trim() == line), "bantin.service lacks {line}");
    }
    let socket = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/bantin.socket")).unwrap();
    assert!(socket.lines().any(|l| l.starts_with("ListenStream=")));
}
