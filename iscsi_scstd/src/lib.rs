// SPDX-License-Identifier: GPL-2.0-only
//! **iscsi_scstd** — the library half of the port of SCST's iSCSI daemon (`iscsi-scst/usr`,
//! r7105): the modules the `iscsi-scstd` binary (and later `iscsi-scst-adm`) are built from,
//! one per C file as docs/PORTING.md lists them.
//!
//! - [`iscsi_hdr`]: the daemon's PDU layouts and constants (`iscsi_hdr.h`, `types.h`).
//! - [`param`]: the negotiation key tables and their operations (`param.c`, `param.h`).
//!
//! The daemon talks to the driver only through the ABI of [`iscsi_scst::abi`].

#![forbid(unsafe_code)]

pub mod iscsi_hdr;
pub mod param;
