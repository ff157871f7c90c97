// SPDX-License-Identifier: GPL-2.0-only
//! MODE SELECT(6)/(10) of `scst_vdisk.c`: `vdisk_exec_mode_select()` with the two pages
//! r7105 accepts, the caching page (`vdisk_caching_m_pg_select()`: WCE, which reopens the
//! backing file with or without `O_DSYNC`, `vdisk_set_wt()`) and the control page
//! (`vdisk_ctrl_m_pg_select()`: D_SENSE, DPICZ, TMF_ONLY, QUEUE ALGORITHM MODIFIER, QErr,
//! SWP, TAS; TST cannot be changed).
//!
//! The new values are the device's current ones, so MODE SENSE reports them and the core
//! acts on them (SWP write-protects, D_SENSE switches the sense format).
//!
//! Saving (SP = 1): r7105 writes the saved pages to `VDEV_MODE_PAGES_DIR` with
//! `vdev_save_mode_pages()`, which is not ported (nor is loading them back at attach); the
//! port answers SP = 1 as r7105 does when saved mode pages are disabled (the directory is
//! missing): INVALID FIELD IN CDB.

use super::exec::{ComplStatus, VdiskCmdParams};
use super::TRACE_FLAG;
use super::{vdev_open_fd, ScstVdiskDev};
use kemu::atomic::{atomic_read, atomic_set};
use kemu::printk::{TRACE_MINOR, TRACE_SCSI};
use kemu::scatterlist::sg_copy_to_buffer;
use kemu::{Errno, PRINT_ERROR, PRINT_INFO, PRINT_WARNING, TRACE};
use scst_core::scst::{ScstDevice, SCST_INVAL_FIELD_BIT_OFFS_VALID};
use scst_core::scst_const::*;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// C `PF`: MODE SELECT byte 1, page format.
pub const PF: u8 = 0x10;
/// C `SP`: MODE SELECT byte 1, save pages.
pub const SP: u8 = 0x01;
/// C `PS`: mode page byte 0, parameters saveable.
pub const PS: u8 = 0x80;
/// C `WCE`: caching page byte 2, write cache enable.
const WCE: u8 = super::exec::WCE;

/// Whether `vdev_save_mode_pages()` is ported (it is not: see the module documentation).
const VDEV_SAVE_MODE_PAGES_PORTED: bool = false;

/// C `vdisk_set_wt()`: switches write-through on or off; an open backing file is reopened
/// so that its `O_DSYNC` follows (C: "MODE SELECT is strictly serialized command, so it's
/// safe here to reopen fd"). Nothing to do for NULLIO or NV_CACHE devices, or when the
/// value does not change. On a reopen failure the old value is restored and the error
/// returned.
pub fn vdisk_set_wt(virt_dev: &ScstVdiskDev, wt: bool, read_only: bool) -> Result<(), Errno> {
    let old_wt = virt_dev.wt_flag.load(Relaxed);
    if old_wt == wt || virt_dev.nullio || virt_dev.nv_cache.load(Relaxed) {
        return Ok(());
    }
    virt_dev.wt_flag.store(wt, Relaxed);
    if virt_dev.fd.read().is_none() {
        return Ok(());
    }
    let Some(filename) = virt_dev.filename.as_deref() else {
        return Ok(());
    };
    match vdev_open_fd(virt_dev, filename, read_only) {
        Ok(f) => {
            // C closes the old file here; in-flight commands keep their Arc until done.
            *virt_dev.fd.write() = Some(Arc::new(f));
            Ok(())
        }
        Err(e) => {
            virt_dev.wt_flag.store(old_wt, Relaxed);
            Err(e)
        }
    }
}

/// C `vdisk_ctrl_m_pg_select()`: the control mode page `pg` at `param_offset` of the
/// parameter list. Each field must hold a value the device supports, or INVALID FIELD IN
/// PARAMETER LIST points at it: TST different from the current one (changing it is not
/// implemented in r7105), a QUEUE ALGORITHM MODIFIER other than 0/1, QErr 2 (reserved).
/// Saving is refused with INVALID FIELD IN CDB (byte 2 bit 1).
fn vdisk_ctrl_m_pg_select(
    pg: &[u8],
    p: &mut VdiskCmdParams<'_>,
    dev: &ScstDevice,
    save: bool,
    param_offset: usize,
) {
    let virt_dev = p.virt_dev;
    let b = |i: usize| pg.get(i).copied().unwrap_or(0);
    let field = |i: usize| u16::try_from(param_offset + i).unwrap_or(u16::MAX);
    let byte = |v: i32| u8::try_from(v).unwrap_or(0);
    let old_swp = u8::from(dev.swp.load(Relaxed));
    let old_tas = u8::from(dev.tas.load(Relaxed));
    let old_dsense = u8::from(dev.d_sense.load(Relaxed));
    let old_queue_alg = byte(atomic_read(&dev.queue_alg));
    let old_dpicz = u8::from(virt_dev.dpicz.load(Relaxed));
    let old_tmf_only = u8::from(dev.tmf_only.load(Relaxed));
    let old_qerr = byte(atomic_read(&dev.qerr));

    if save && !(p.ctx.saved_mode_pages_enabled && VDEV_SAVE_MODE_PAGES_PORTED) {
        TRACE!(
            TRACE_MINOR | TRACE_SCSI,
            "MODE SELECT: saved control page not supported"
        );
        p.scst_set_invalid_field_in_cdb(2, SCST_INVAL_FIELD_BIT_OFFS_VALID | 1);
        return;
    }

    // MODE SELECT is a strictly serialized command, so the values can be assigned directly.
    // Changing TST is not implemented (see struct scst_device in C).
    if atomic_read(&dev.tst) != i32::from((b(2) >> 5) & 7) {
        TRACE!(
            TRACE_MINOR | TRACE_SCSI,
            "MODE SELECT: Changing of TST not supported"
        );
        p.scst_set_invalid_field_in_parm_list(field(2), SCST_INVAL_FIELD_BIT_OFFS_VALID | 5);
        return;
    }
    let queue_alg = b(3) >> 4;
    if queue_alg != SCST_QUEUE_ALG_0_RESTRICTED_REORDER
        && queue_alg != SCST_QUEUE_ALG_1_UNRESTRICTED_REORDER
    {
        PRINT_WARNING!(
            "Attempt to set invalid Control mode page QUEUE ALGORITHM MODIFIER value {} (dev {})",
            queue_alg,
            dev.virt_name
        );
        p.scst_set_invalid_field_in_parm_list(field(3), SCST_INVAL_FIELD_BIT_OFFS_VALID | 4);
        return;
    }
    // One-bit fields: C checks them for > 1 too, which cannot happen.
    let swp = (b(4) & 0x8) >> 3;
    let tas = (b(5) & 0x40) >> 6;
    let tmf_only = (b(2) & 0x10) >> 4;
    let dpicz = (b(2) & 0x8) >> 3;
    let qerr = (b(3) & 0x6) >> 1;
    if qerr == SCST_QERR_2_RESERVED || qerr > SCST_QERR_3_ABORT_THIS_NEXUS_ONLY {
        PRINT_WARNING!(
            "Attempt to set invalid Control mode page QErr value {} (dev {})",
            qerr,
            dev.virt_name
        );
        p.scst_set_invalid_field_in_parm_list(field(3), SCST_INVAL_FIELD_BIT_OFFS_VALID | 1);
        return;
    }
    let d_sense = (b(2) & 0x4) >> 2;

    atomic_set(&dev.queue_alg, i32::from(queue_alg));
    dev.swp.store(swp != 0, Relaxed);
    dev.tas.store(tas != 0, Relaxed);
    dev.tmf_only.store(tmf_only != 0, Relaxed);
    virt_dev.dpicz.store(dpicz != 0, Relaxed);
    atomic_set(&dev.qerr, i32::from(qerr));
    dev.d_sense.store(d_sense != 0, Relaxed);

    if swp == old_swp
        && tas == old_tas
        && d_sense == old_dsense
        && queue_alg == old_queue_alg
        && qerr == old_qerr
        && tmf_only == old_tmf_only
        && dpicz == old_dpicz
    {
        return;
    }
    // (Saving, which would follow here, is refused above.)
    PRINT_INFO!(
        "Device {}: new control mode page parameters: SWP {:x} (was {:x}), TAS {:x} (was {:x}), TMF_ONLY {} (was {:x}), QErr {:x} (was {:x}), D_SENSE {} (was {}), QUEUE ALG {} (was {}), DPICZ {} (was {})",
        virt_dev.name,
        swp,
        old_swp,
        tas,
        old_tas,
        tmf_only,
        old_tmf_only,
        qerr,
        old_qerr,
        d_sense,
        old_dsense,
        queue_alg,
        old_queue_alg,
        dpicz,
        old_dpicz
    );
    // The MODE PARAMETERS CHANGED unit attention for the other nexuses is queued by the
    // core after a successful MODE SELECT (scst_mode_select_checks()), as C.
}

/// C `vdisk_caching_m_pg_select()`: the caching page: WCE 0 turns write-through on, 1 off
/// ([`vdisk_set_wt`]; a reopen failure is BUSY). Saving is refused with INVALID FIELD IN
/// CDB (byte 1 bit 0), as C does for NV_CACHE devices or without saved pages.
fn vdisk_caching_m_pg_select(pg: &[u8], p: &mut VdiskCmdParams<'_>, save: bool, read_only: bool) {
    let virt_dev = p.virt_dev;
    let old_wt = virt_dev.wt_flag.load(Relaxed);
    if save
        && (!(p.ctx.saved_mode_pages_enabled && VDEV_SAVE_MODE_PAGES_PORTED)
            || virt_dev.nv_cache.load(Relaxed))
    {
        TRACE!(
            TRACE_MINOR | TRACE_SCSI,
            "MODE SELECT: saved cache page not supported"
        );
        p.scst_set_invalid_field_in_cdb(1, SCST_INVAL_FIELD_BIT_OFFS_VALID);
        return;
    }
    let new_wt = pg.get(2).copied().unwrap_or(0) & WCE == 0;
    if new_wt == old_wt {
        return;
    }
    if vdisk_set_wt(virt_dev, new_wt, read_only).is_err() {
        p.scst_set_busy();
        return;
    }
    PRINT_INFO!(
        "Device {}: new wt_flag: {:x} (was {:x})",
        virt_dev.name,
        u8::from(virt_dev.wt_flag.load(Relaxed)),
        u8::from(old_wt)
    );
}

/// C `vdisk_exec_mode_select()`: MODE SELECT(6)/(10). Refused in cluster mode (INVALID
/// FIELD IN CDB) and without PF (INVALID FIELD IN CDB, byte 1). The block descriptor length
/// must be 0 or 8 (else INVALID FIELD IN PARAMETER LIST at the length's last byte); then
/// each page: PS set → INVALID FIELD IN PARAMETER LIST (bit 7); the caching page (not on a
/// CD-ROM) must have length 18 and ends the list; the control page must have length 10;
/// any other page → INVALID FIELD IN PARAMETER LIST (its first byte).
///
/// As C, the loop advances by the page length without the 2-byte page header (so a second
/// page after a control page is looked for 2 bytes early), and stops when fewer than 3 bytes
/// are left; bytes of a truncated page beyond the data read as 0 (C reads past them).
pub fn vdisk_exec_mode_select(p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    let virt_dev = p.virt_dev;
    if p.ctx.mode.cluster_mode {
        PRINT_ERROR!("MODE SELECT: not supported in cluster mode");
        p.scst_set_cmd_error(scst_sense_invalid_field_in_cdb);
        return ComplStatus::CmdSucceeded;
    }
    let Some(dev) = virt_dev.dev.lock().upgrade() else {
        PRINT_ERROR!("MODE SELECT: device {} is not attached", virt_dev.name);
        return ComplStatus::CmdFailed;
    };
    let mselect_6 = p.cdb_byte(0) == MODE_SELECT;
    let type_ = p.ctx.dev_type;

    let length = p.bufflen();
    if length == 0 {
        return ComplStatus::CmdSucceeded;
    }
    let mut address = vec![0u8; length];
    sg_copy_to_buffer(p.sg, &mut address);
    let a = |i: usize| address.get(i).copied().unwrap_or(0);

    if p.cdb_byte(1) & PF == 0 {
        TRACE!(
            TRACE_MINOR | TRACE_SCSI,
            "MODE SELECT: Unsupported PF bit zero (cdb[1]={:x})",
            p.cdb_byte(1)
        );
        p.scst_set_invalid_field_in_cdb(1, 0);
        return ComplStatus::CmdSucceeded;
    }

    let (bdl, mut offset) = if mselect_6 {
        (usize::from(a(3)), 4usize)
    } else {
        (usize::from(u16::from_be_bytes([a(6), a(7)])), 8usize)
    };
    if bdl == 8 {
        offset += 8;
    } else if bdl != 0 {
        PRINT_ERROR!("MODE SELECT: Wrong parameters list length");
        p.scst_set_invalid_field_in_parm_list(u16::try_from(offset - 1).unwrap_or(0), 0);
        return ComplStatus::CmdSucceeded;
    }

    let save = p.cdb_byte(1) & SP != 0;
    let read_only = p.ctx.tgt_dev_rd_only;
    let field = |o: usize| u16::try_from(o).unwrap_or(u16::MAX);
    while length > offset + 2 {
        if a(offset) & PS != 0 {
            PRINT_ERROR!("MODE SELECT: Illegal PS bit");
            p.scst_set_invalid_field_in_parm_list(
                field(offset),
                SCST_INVAL_FIELD_BIT_OFFS_VALID | 7,
            );
            return ComplStatus::CmdSucceeded;
        }
        let page = a(offset) & 0x3f;
        let pg = &address[offset..];
        if page == 0x8 && type_ != TYPE_ROM {
            // Caching page.
            if a(offset + 1) != 18 {
                PRINT_ERROR!("MODE SELECT: Invalid caching page request");
                p.scst_set_invalid_field_in_parm_list(field(offset + 1), 0);
                return ComplStatus::CmdSucceeded;
            }
            vdisk_caching_m_pg_select(pg, p, save, read_only);
            break;
        } else if page == 0xA {
            // Control page.
            if a(offset + 1) != 0xA {
                PRINT_ERROR!("MODE SELECT: Invalid control page request");
                p.scst_set_invalid_field_in_parm_list(field(offset + 1), 0);
                return ComplStatus::CmdSucceeded;
            }
            vdisk_ctrl_m_pg_select(pg, p, &dev, save, offset);
        } else {
            TRACE!(TRACE_MINOR, "MODE SELECT: Invalid request {:x}", page);
            p.scst_set_invalid_field_in_parm_list(field(offset), SCST_INVAL_FIELD_BIT_OFFS_VALID);
            return ComplStatus::CmdSucceeded;
        }
        offset += usize::from(a(offset + 1));
    }
    ComplStatus::CmdSucceeded
}
