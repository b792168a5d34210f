//! Writes bantin's man pages and shell completions, made from the clap
//! definition the binary parses with (`src/args.rs`), so they cannot drift
//! from `bantin --help`. Run by `packaging/build-deb` before `cargo deb`:
//!
//!     cargo run --example gen-docs -- OUT_DIR
//!
//! OUT_DIR/man/bantin.1 (with EXIT STATUS, ENVIRONMENT, FILES and SIGNALS
//! sections), OUT_DIR/man/bantin-<subcommand>.1 for every subcommand, and
//! OUT_DIR/completions/{bantin.bash,_bantin,bantin.fish}.

#[allow(dead_code)]
#[path = "../src/args.rs"]
mod args;

use clap::CommandFactory as _;
use clap_complete::Shell;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What `bantin.1` adds to clap's sections: what an operator needs at 3 am.
const EXTRA_SECTIONS: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
Success.
.TP
\fB64\fR
Usage error: an unknown subcommand or flag (EX_USAGE).
.TP
\fB65\fR
\fBcheck \-\-strict\fR found articles that cannot be read (EX_DATAERR); each is listed as \fIpath\fR:\fIline\fR: \fIreason\fR.
.TP
\fB69\fR
A service bantin needs is unavailable (EX_UNAVAILABLE): the HTTP address cannot be bound, the state database cannot be opened, the token key or the DKIM key cannot be read.
.TP
\fB74\fR
Input/output error (EX_IOERR): an output folder or file cannot be written.
.TP
\fB78\fR
Bad configuration (EX_CONFIG); the message names the file, the key and the environment variable it came from. systemd does not restart the service on 78 or 64.
.SH ENVIRONMENT
.TP
\fBBANTIN_CONFIG\fR
The configuration file when \fB\-\-config\fR is not given.
.TP
\fBBANTIN__\fR\fISECTION\fR\fB__\fR\fIKEY\fR
Overrides one configuration key, e.g. \fBBANTIN__HTTP__LISTEN=0.0.0.0:8080\fR.
.TP
\fBBANTIN_LOG\fR
Log filter (tracing syntax): \fBinfo\fR (default), \fBdebug\fR, \fBbantin=debug\fR.
.TP
\fBBANTIN_LOG_FORMAT\fR
\fBjson\fR writes one JSON object per log line.
.SH FILES
.TP
\fI/etc/bantin/bantin.toml\fR
The configuration, used when neither \fB\-\-config\fR nor \fBBANTIN_CONFIG\fR is given.
.TP
\fI/var/lib/bantin/\fR
The state database (SQLite) and the token key (\fIbantin.secret\fR) of the packaged service.
.TP
\fI/usr/share/bantin/templates/\fR
The mail and page templates; copy one into \fBmail.templates_dir\fR to change it.
.SH SIGNALS
\fBbantin serve\fR reloads its configuration on \fBSIGHUP\fR (a bad file is refused and the running one kept) and stops gracefully on \fBSIGTERM\fR or \fBSIGINT\fR.
.SH "SEE ALSO"
\fBbantin\-serve\fR(1), \fBbantin\-check\fR(1), \fBbantin\-subscribers\fR(1), \fBbantin\-digest\fR(1), \fBsystemctl\fR(1); \fI/usr/share/doc/bantin/operations.md\fR
"#;

fn main() -> ExitCode {
    let out = std::env::args_os().nth(1).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target/assets"));
    match generate(&out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen-docs: writing into {}: {e}", out.display());
            ExitCode::from(74)
        }
    }
}

fn generate(out: &Path) -> std::io::Result<()> {
    let man = out.join("man");
    let completions = out.join("completions");
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;

    // `help` is a subcommand at every level of the parser; it gets no page.
    let mut cmd = without_help(args::Cli::command());
    cmd.build();
    // One page per subcommand (bantin-serve.1, bantin-subscribers-add.1, …);
    // bantin.1 is then written again with the operator's sections.
    clap_mangen::generate_to(cmd.clone(), &man)?;
    let page = clap_mangen::Man::new(cmd.clone());
    let mut w = std::fs::File::create(man.join("bantin.1"))?;
    page.render_title(&mut w)?;
    page.render_name_section(&mut w)?;
    page.render_synopsis_section(&mut w)?;
    page.render_description_section(&mut w)?;
    page.render_options_section(&mut w)?;
    page.render_subcommands_section(&mut w)?;
    w.write_all(EXTRA_SECTIONS.as_bytes())?;
    page.render_version_section(&mut w)?;
    w.flush()?;

    // Completions offer everything the binary takes, `help` included.
    let mut full = args::Cli::command();
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut full, "bantin", &completions)?;
    }
    println!("man pages in {}, completions in {}", man.display(), completions.display());
    Ok(())
}

fn without_help(cmd: clap::Command) -> clap::Command {
    cmd.disable_help_subcommand(true).mut_subcommands(without_help)
}
