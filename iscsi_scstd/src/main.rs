// SPDX-License-Identifier: GPL-2.0-only
//! **iscsi-scstd** — the port of SCST's iSCSI daemon (`iscsi-scst/usr`, r7105) together with the
//! "kernel" it drives, in one process: the daemon's `main()` runs on the main thread; the SCST
//! core, iscsi-scst and vdisk run on their own threads and are reached only through the
//! emulated `/dev/iscsi-scst-ctl` ioctls and the netlink channel (docs/ARCHITECTURE.md).
//!
//! The daemon is not ported yet (docs/PORTING.md); this binary only reports that.

#![forbid(unsafe_code)]

use clap::Parser;

/// The daemon's command line (getopt letters of `iscsi_scstd.c` kept).
#[derive(Debug, Parser)]
#[command(
    name = "iscsi-scstd",
    version,
    about = "iSCSI target daemon (usermode SCST port)"
)]
struct Args {
    /// Stay in the foreground (C: -f).
    #[arg(short = 'f', long = "foreground")]
    foreground: bool,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    eprintln!(
        "iscsi-scstd {}: the daemon is not ported yet (foreground={}); see docs/PORTING.md",
        env!("CARGO_PKG_VERSION"),
        args.foreground
    );
    std::process::ExitCode::from(2)
}
