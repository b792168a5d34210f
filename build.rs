//! Link-time choices for the `bantin` binary that depend on the machine.
//!
//! The binary is position-independent (ASLR), so the loader patches ~70,000
//! pointers at start-up. As classic `RELA` entries those are 1.6 MB of
//! relocation records that every bantin process reads and keeps resident;
//! packed as `DT_RELR` they are 27 KB (issue 6: peak RSS of `bantin build`
//! 22.8 → 21.3 MiB, of `bantin --version` 7.7 → 5.9 MiB). A binary linked
//! so needs glibc 2.36 or later to start, so it is done only when building
//! for this machine and its glibc has it; cross builds and older systems
//! keep the classic records. `BANTIN_RELR=0` turns it off. The .deb's
//! Depends then asks glibc 2.36 (`packaging/build-deb`).

fn main() {
    println!("cargo:rerun-if-env-changed=BANTIN_RELR");
    if std::env::var("BANTIN_RELR").is_ok_and(|v| v == "0") {
        return;
    }
    let target = std::env::var("TARGET").unwrap_or_default();
    let host = std::env::var("HOST").unwrap_or_default();
    if target == host && target.ends_with("-linux-gnu") && host_glibc_has_relr() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether the glibc this build script runs on is 2.36 or later.
fn host_glibc_has_relr() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: gnu_get_libc_version returns a pointer to a static,
        // NUL-terminated string owned by glibc.
        let version = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) };
        let mut parts = version.to_str().unwrap_or("0.0").split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        (major, minor) >= (2, 36)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
