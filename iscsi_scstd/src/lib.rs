// SPDX-License-Identifier: GPL-2.0-only
//! **iscsi_scstd** — the library half of the port of SCST's iSCSI daemon (`iscsi-scst/usr`,
//! r7105): the modules the `iscsi-scstd` binary (and later `iscsi-scst-adm`) are built from,
//! one per C file as docs/PORTING.md lists them.
//!
//! - [`config`]: the configuration file, accounts and initiator access rules (`config.c`).
//! - [`conn`]: connections and handing them to the driver (`conn.c`).
//! - [`ctldev`]: the ioctl wrappers of the control device (`ctldev.c`).
//! - [`event`]: the netlink event channel, `E_CONN_CLOSE` (`event.c`).
//! - [`iscsi_hdr`]: the daemon's PDU layouts and constants (`iscsi_hdr.h`, `types.h`).
//! - [`iscsi_scstd`]: the command line, listen sockets and the main loop (`iscsi_scstd.c`).
//! - [`iscsid`]: the daemon's objects and state (`iscsid.h`).
//! - [`param`]: the negotiation key tables and their operations (`param.c`, `param.h`).
//! - [`scst_conf`]: the procfs-era `scst.conf` of `--scst-conf` (a port addition).
//! - [`session`]: sessions and TSIH allocation (`session.c`).
//! - [`target`]: the target list (`target.c`).
//!
//! The daemon talks to the driver only through the ABI of [`iscsi_scst::abi`].

#![forbid(unsafe_code)]

pub mod config;
pub mod conn;
pub mod ctldev;
pub mod event;
pub mod iscsi_hdr;
pub mod iscsi_scstd;
pub mod iscsid;
pub mod param;
pub mod scst_conf;
pub mod session;
pub mod target;
