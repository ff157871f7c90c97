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

/// CRC32C header and data digests: the port of `iscsi-scst/kernel/digest.c` + `digest.h`.
pub mod digest;
/// The netlink event channel to the daemon: the port of `iscsi-scst/kernel/event.c`.
pub mod event;
/// iSCSI PDU header layouts and codes: the port of `iscsi-scst/kernel/iscsi_hdr.h`.
pub mod iscsi_hdr;
