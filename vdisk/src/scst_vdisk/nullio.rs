// SPDX-License-Identifier: GPL-2.0-only
//! NULLIO command execution of `scst_vdisk.c`: READ, WRITE and VERIFY without any I/O.

use super::exec::{ComplStatus, VdiskCmdParams};
use kemu::scatterlist::sg_virt_mut;
use std::sync::atomic::Ordering::Relaxed;

/// C `nullio_exec_read()`: a NULLIO READ returns the buffer as it is (whatever the pages
/// held, as C), or zeroes when the device has `read_zero` set.
pub fn nullio_exec_read(p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    if p.virt_dev.read_zero.load(Relaxed) {
        for sge in p.sg.iter_mut() {
            sg_virt_mut(sge).fill(0);
        }
    }
    ComplStatus::CmdSucceeded
}

/// C `nullio_exec_write()`: the data is dropped (DIF checks: no DIF in procfs builds).
pub fn nullio_exec_write(_p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    ComplStatus::CmdSucceeded
}

/// C `nullio_exec_write_verify()`: as [`nullio_exec_write`].
pub fn nullio_exec_write_verify(_p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    ComplStatus::CmdSucceeded
}

/// C `nullio_exec_verify()`: success.
pub fn nullio_exec_verify(_p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    ComplStatus::CmdSucceeded
}
