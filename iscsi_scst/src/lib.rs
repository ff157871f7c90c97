// SPDX-License-Identifier: GPL-2.0-only
//! **iscsi_scst** — the port of the iscsi-scst target driver (`iscsi-scst/kernel`, SCST r7105):
//! PDU processing and the SCST template (`iscsi.c`), the read and write threads and socket
//! callbacks (`nthread.c`), connections, sessions and targets (`conn.c`, `session.c`,
//! `target.c`), parameters (`param.c`), the netlink events to the daemon (`event.c`), the
//! control device and its ioctls (`config.c`) and CRC32C digests (`digest.c`).
//!
//! [`abi`] is the interface shared with the daemon (`iscsi-scst/include/iscsi_scst.h`); the
//! daemon imports only that. docs/PORTING.md tracks the rest.

#![forbid(unsafe_code)]

/// The daemon ↔ driver ABI: the port of `iscsi-scst/include/iscsi_scst.h` (ioctl structs and
/// numbers, parameter indices, the netlink event struct).
pub mod abi;

/// The control device and its ioctls: the port of `iscsi-scst/kernel/config.c`.
pub mod config;
/// Connections: the port of `iscsi-scst/kernel/conn.c`.
pub mod conn;
/// CRC32C header and data digests: the port of `iscsi-scst/kernel/digest.c` + `digest.h`.
pub mod digest;
/// The netlink event channel to the daemon: the port of `iscsi-scst/kernel/event.c`.
pub mod event;
/// The driver's objects and PDU processing: the port of `iscsi-scst/kernel/iscsi.h` and
/// `iscsi.c`.
pub mod iscsi;
/// iSCSI PDU header layouts and codes: the port of `iscsi-scst/kernel/iscsi_hdr.h`.
pub mod iscsi_hdr;
/// The read and write threads: the port of `iscsi-scst/kernel/nthread.c`.
pub mod nthread;
/// Session and target parameters: the port of `iscsi-scst/kernel/param.c`.
pub mod param;
/// Sessions: the port of `iscsi-scst/kernel/session.c`.
pub mod session;
/// Targets: the port of `iscsi-scst/kernel/target.c`.
pub mod target;
