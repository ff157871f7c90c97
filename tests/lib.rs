// SPDX-License-Identifier: GPL-2.0-only
//! Shared helpers of the workspace-level tests (`tests/*.rs`): where the workspace is, and
//! (later) starting the real `iscsi-scstd` on a free loopback port.

#![forbid(unsafe_code)]

use std::path::PathBuf;

/// A small raw iSCSI initiator (RFC 3720, std + crc32c only) that the integration tests use as
/// an independent oracle; proven against tgt in `initiator_vs_tgt.rs`.
pub mod initiator;

/// Starting and stopping the real `iscsi-scstd` binary per test.
pub mod server;

/// The workspace root (the directory holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// The crates of the port, in build order.
pub const CRATES: [&str; 6] = [
    "kemu",
    "scst_core",
    "iscsi_scst",
    "vdisk",
    "procfs_shim",
    "iscsi_scstd",
];
