// SPDX-License-Identifier: GPL-2.0-only
//! **procfs_shim** — serves `/proc/scsi_tgt` over FUSE from the proc-entry tree that the ported
//! `scst_proc.c` registers in kemu (the role of the usermode adaptation's `UMC_fuse.c`), and the
//! helper that runs an unmodified `scstadmin` in a private mount namespace where
//! `/proc/scsi_tgt` is this tree.
//!
//! Not written yet; docs/PORTING.md tracks it.

#![forbid(unsafe_code)]
