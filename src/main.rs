//! `tunedesk`: the command-line face of the engine. Everything the desktop app does can be
//! done here too, with `--json` output for scripts.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when the reader of our output goes away
    // (`tunedesk dataset quality x | head`).
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    tunedesk::model::configure_cpu_threads();
    cli::run()
}
