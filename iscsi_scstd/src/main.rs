// SPDX-License-Identifier: GPL-2.0-only
//! **iscsi-scstd** — the port of SCST's iSCSI daemon (`iscsi-scst/usr`, r7105) together with the
//! "kernel" it drives, in one process (docs/ARCHITECTURE.md):
//!
//! 1. SIGINT/SIGTERM are blocked before any thread starts (every thread inherits the mask; the
//!    daemon's loop reads them from a signalfd).
//! 2. The "modules" load, in `modprobe` order: `scst` ([`scst_core::scst_main::init_scst`]:
//!    `scst_initd`, `scsi_tm`, `scst_mgmtd`, `scstdN` threads), then `iscsi-scst`
//!    ([`iscsi_scst::iscsi::iscsi_init`]: the control device `iscsi-scst-ctl`, the netlink unit,
//!    the `iscsirdP_N` / `iscsiwrP_N` thread pool).
//! 3. The daemon's `main()` runs on this, the main thread
//!    ([`iscsi_scstd::iscsi_scstd::iscsi_scstd_main`]); it reaches the kernel part only through
//!    the control device and netlink.
//! 4. When it returns (signal, or the kernel side went away), closing the control device has
//!    deleted every target and session; the modules unload in reverse order.
//!
//! Without `-c`, an embedded default configuration is served: the target
//! [`DEFAULT_TARGET`] on 127.0.0.1 (or `-a`), port 3260 (or `-p`; `-p 0` lets the kernel pick).
//! With `--scst-conf FILE` (a procfs-era `/etc/scst.conf`, [`iscsi_scstd::scst_conf`]) the
//! file is parsed completely before the modules load (any error: `FILE:LINE: reason`, exit
//! status 2, nothing applied) and applied once they are loaded (a failure: the same message,
//! the modules unload, exit status 2). Without it the `Default` group holds LUN 0 `disk0`
//! (fileio on `<state dir>/disk0`, 1 GiB sparse) and LUN 1 `null0` (NULLIO), so every target
//! shows them. The bound addresses, the LUNs and the target's URL are printed on
//! standard output once listening.

#![forbid(unsafe_code)]

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use iscsi_scstd::iscsi_scstd::{
    block_stop_signals, iscsi_scstd_main, Args, MainCtl, MainError, StopHandle,
};
use iscsi_scstd::scst_conf::{read_scst_conf, ScstConf};
use kemu::printk::{init_logging, LogSink};

/// The command line: the daemon's own options ([`Args`]) and the port's `--scst-conf`.
#[derive(Debug, Parser)]
#[command(
    name = iscsi_scstd::iscsi_scstd::PROGRAM_NAME,
    version = iscsi_scst::abi::ISCSI_VERSION_STRING,
    disable_version_flag = true,
    about = "iSCSI target daemon."
)]
struct Cli {
    #[command(flatten)]
    args: Args,
    /// SCST devices, groups and LUNs to set up at start (a procfs-era /etc/scst.conf:
    /// `[HANDLER vdisk]`, `[GROUP]`, `[ASSIGNMENT]`); replaces the default devices (port
    /// addition).
    #[arg(long = "scst-conf", value_name = "FILE")]
    scst_conf: Option<PathBuf>,
}

/// The exit status of an scst.conf that cannot be parsed or applied.
const EXIT_SCST_CONF: u8 = 2;

/// The IQN of the embedded default target.
pub const DEFAULT_TARGET: &str = "iqn.2026-11.org.scst-rs:default";

/// The address the default configuration listens on when `-a` is not given.
const DEFAULT_ADDRESS: &str = "127.0.0.1";

/// The embedded default configuration (iscsi-scstd.conf syntax).
fn default_config() -> String {
    format!(
        "# Written by iscsi-scstd: the embedded default configuration.\nTarget {DEFAULT_TARGET}\n"
    )
}

fn log_level(debug: Option<i32>) -> log::LevelFilter {
    match debug {
        None | Some(0) => log::LevelFilter::Info,
        Some(1..=3) => log::LevelFilter::Debug,
        Some(_) => log::LevelFilter::Trace,
    }
}

/// The "modules": SCST core, vdisk, then iscsi-scst (C: `modprobe scst_vdisk iscsi-scst`).
fn load_modules() -> Result<(), String> {
    scst_core::scst_main::init_scst().map_err(|e| format!("scst: init failed: {e}"))?;
    if let Err(e) = vdisk::scst_vdisk::init_scst_vdisk_driver() {
        scst_core::scst_main::exit_scst();
        return Err(format!("scst_vdisk: init failed: {e}"));
    }
    if let Err(e) = iscsi_scst::iscsi::iscsi_init() {
        vdisk::scst_vdisk::exit_scst_vdisk_driver();
        scst_core::scst_main::exit_scst();
        return Err(format!("iscsi-scst: init failed: {e}"));
    }
    Ok(())
}

/// `rmmod iscsi-scst scst_vdisk scst`.
fn unload_modules() {
    iscsi_scst::iscsi::iscsi_exit();
    vdisk::scst_vdisk::exit_scst_vdisk_driver();
    scst_core::scst_main::exit_scst();
}

/// The size of the default fileio LUN's backing file (sparse).
const DEFAULT_DISK_SIZE: u64 = 1 << 30;

/// The default devices, with no device configuration: LUN 0 = `disk0`, a fileio device on a
/// 1 GiB sparse file `disk0` in the state directory (created if missing, never truncated),
/// LUN 1 = `null0`, a NULLIO device; both in the `Default` group. They are created through
/// vdisk's `open` and the group's `add`, the functions the `/proc/scsi_tgt` writes use.
fn create_default_devices(state_dir: &Path) -> Result<Vec<(u64, String)>, String> {
    let file = state_dir.join("disk0");
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&file)
        .map_err(|e| format!("cannot open {}: {e}", file.display()))?;
    let len = f
        .metadata()
        .map_err(|e| format!("cannot stat {}: {e}", file.display()))?
        .len();
    if len == 0 {
        f.set_len(DEFAULT_DISK_SIZE)
            .map_err(|e| format!("cannot size {}: {e}", file.display()))?;
    }
    drop(f);
    let filename = file.to_string_lossy().into_owned();
    vdisk::scst_vdisk::vdisk_add_fileio(
        "disk0",
        &filename,
        &vdisk::scst_vdisk::VdiskOpenParams::default(),
    )
    .map_err(|e| format!("vdisk: open disk0 {filename}: {e}"))?;
    vdisk::scst_vdisk::vdisk_add_nullio("null0").map_err(|e| format!("vdisk: open null0: {e}"))?;

    let mut g = scst_core::scst_main::scst_mutex.lock();
    let acg = g
        .scst_default_acg
        .clone()
        .ok_or_else(|| "scst: no Default group".to_owned())?;
    let mut luns = Vec::new();
    for (lun, name) in [(0u64, "disk0"), (1, "null0")] {
        let dev = g
            .scst_dev_list
            .iter()
            .map(|(_, d)| std::sync::Arc::clone(d))
            .find(|d| d.virt_name == name)
            .ok_or_else(|| format!("scst: device {name} not registered"))?;
        scst_core::scst_lib::scst_acg_add_lun(&mut g, &acg, &dev, lun, false)
            .map_err(|e| format!("scst: add {name} {lun} to Default: {e}"))?;
        luns.push((lun, name.to_owned()));
    }
    Ok(luns)
}

/// Writes the default configuration into the state directory and returns its path.
fn write_default_config(state_dir: &Path) -> std::io::Result<String> {
    let path = state_dir.join("iscsi-scstd.default.conf");
    std::fs::write(&path, default_config())?;
    Ok(path.to_string_lossy().into_owned())
}

fn print_listening(addrs: &[SocketAddr], targets: &[String], luns: &[(u64, String)]) {
    let mut out = std::io::stdout().lock();
    for a in addrs {
        let _ = writeln!(out, "iscsi-scstd: listening on {a}");
    }
    if let Some(a) = addrs.first() {
        for t in targets {
            let _ = writeln!(out, "iscsi-scstd: target iscsi://{a}/{t}");
            for (lun, name) in luns {
                let _ = writeln!(
                    out,
                    "iscsi-scstd: LUN {lun} ({name}): iscsi://{a}/{t}/{lun}"
                );
            }
        }
    }
    let _ = out.flush();
}

fn main() -> ExitCode {
    let Cli {
        mut args,
        scst_conf,
    } = Cli::parse();

    if let Err(e) = init_logging(log_level(args.debug), LogSink::Stderr) {
        eprintln!("iscsi-scstd: cannot set up logging: {e}");
    }

    // Before any other thread exists, so that all of them inherit the blocked signals.
    let signals = match block_stop_signals() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("iscsi-scstd: cannot block SIGINT/SIGTERM: {}", e.desc());
            return ExitCode::from(1);
        }
    };

    // Parsed completely before anything is set up: a bad line changes nothing.
    let scst_conf: Option<ScstConf> = match scst_conf.as_deref().map(read_scst_conf) {
        None => None,
        Some(Ok(c)) => Some(c),
        Some(Err(e)) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_SCST_CONF);
        }
    };

    let state_dir = args.state_dir();
    if let Err(e) = std::fs::create_dir_all(&state_dir) {
        eprintln!(
            "iscsi-scstd: cannot create the state directory {}: {e}",
            state_dir.display()
        );
        return ExitCode::from(1);
    }
    // Persistent reservations with APTPL are saved under <state dir>/pr (C: SCST_PR_DIR,
    // /var/lib/scst/pr); before any device exists, as devices load their saved state when
    // they are registered. If it cannot be created, APTPL saving fails with C's error
    // messages and everything else works.
    let pr_dir = state_dir.join("pr");
    if let Err(e) = std::fs::create_dir_all(&pr_dir) {
        eprintln!(
            "iscsi-scstd: cannot create the persistent reservation directory {}: {e}",
            pr_dir.display()
        );
    }
    scst_core::scst_pres::scst_pr_set_dir(pr_dir);

    let mut targets = Vec::new();
    if args.config.is_none() {
        match write_default_config(&state_dir) {
            Ok(p) => args.config = Some(p),
            Err(e) => {
                eprintln!(
                    "iscsi-scstd: cannot write the default configuration in {}: {e}",
                    state_dir.display()
                );
                return ExitCode::from(1);
            }
        }
        if args.address.is_none() {
            args.address = Some(DEFAULT_ADDRESS.to_owned());
        }
        targets.push(DEFAULT_TARGET.to_owned());
    }

    if let Err(e) = load_modules() {
        eprintln!("iscsi-scstd: {e}");
        return ExitCode::from(1);
    }
    let luns = match &scst_conf {
        Some(conf) => match conf.apply() {
            Ok(()) => conf.default_luns(),
            Err(e) => {
                eprintln!("{e}");
                unload_modules();
                return ExitCode::from(EXIT_SCST_CONF);
            }
        },
        None => match create_default_devices(&state_dir) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("iscsi-scstd: {e}");
                unload_modules();
                return ExitCode::from(1);
            }
        },
    };

    let stop = match StopHandle::new() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("iscsi-scstd: {}", e.desc());
            unload_modules();
            return ExitCode::from(1);
        }
    };
    let ctl = MainCtl {
        stop,
        signals: Some(signals),
        on_listen: Box::new(|addrs: &[SocketAddr]| print_listening(addrs, &targets, &luns)),
    };

    let res = iscsi_scstd_main(&args, ctl);
    unload_modules();

    match res {
        Ok(exit) => {
            log::info!("iscsi-scstd: exiting ({exit:?})");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("iscsi-scstd: {e}");
            if let MainError::Config(_) = e {
                // The configuration error is the message; nothing else to add.
            }
            ExitCode::from(e.exit_code())
        }
    }
}
