// SPDX-License-Identifier: GPL-2.0-only
//! **vdisk** — the port of SCST's virtual disk handler `scst/src/dev_handlers/scst_vdisk.c`
//! (r7105): the `vdisk_fileio`, `vdisk_blockio`, `vdisk_nullio` and `vcdrom` device types, their
//! `/proc/scsi_tgt/vdisk` commands, and the SCSI commands they execute (INQUIRY and VPD pages,
//! READ CAPACITY, READ/WRITE, VERIFY, MODE SENSE/SELECT, SYNCHRONIZE CACHE, UNMAP …).
//!
//! docs/PORTING.md tracks what is ported. So far: device management in [`scst_vdisk`] — the
//! device types, creation and deletion of devices (the procfs `open`/`close` commands and a
//! Rust API for start-up), and the module init/exit; and command execution: the
//! command-independent SCSI logic in [`scst_vdisk::exec`] (INQUIRY and VPD pages, MODE
//! SENSE, READ CAPACITY, REQUEST SENSE, READ TOC, the opcode tables), FILEIO and NULLIO I/O
//! in [`scst_vdisk::fileio`] and [`scst_vdisk::nullio`], and the `parse()`/`exec()`
//! callbacks over the core's command in [`scst_vdisk::cmd`]; the write path (FUA,
//! WRITE_THROUGH, NV_CACHE, SYNCHRONIZE CACHE, VERIFY, WRITE AND VERIFY) in
//! [`scst_vdisk::fileio`]. MODE SELECT, UNMAP, WRITE SAME, FORMAT UNIT and the ALUA
//! commands are not ported yet (INVALID OPCODE).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod scst_vdisk; // scst_vdisk.c: the virtual disk / CD-ROM handler
