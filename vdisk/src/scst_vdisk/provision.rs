// SPDX-License-Identifier: GPL-2.0-only
//! The commands of `scst_vdisk.c` that write or deallocate whole ranges: WRITE SAME(10/16)
//! (`vdisk_exec_write_same()`, `vdisk_exec_write_same_unmap()`, and the core's
//! `scst_write_same()` that writes the block), UNMAP (`vdisk_exec_unmap()` with the core's
//! `scst_parse_unmap_descriptors()`), the deallocation itself (`vdisk_unmap_range()`,
//! `vdisk_unmap_file_range()`), FORMAT UNIT (`vdisk_exec_format_unit()`) and the thin
//! provisioning check at attach (`vdisk_check_tp_support()`).
//!
//! Thin provisioning as r7105: UNMAP and WRITE SAME with the UNMAP bit need
//! `thin_provisioned`, which a FILEIO device gets only when it is set explicitly (sysfs
//! `thin_provisioned=1`, which the procfs `open` command of r7105 cannot do) and a BLOCKIO
//! device when its queue supports discard ([`vdisk_check_tp_support`], from sysfs). Without
//! it both answer INVALID COMMAND OPERATION CODE, as r7105.
//! Deallocation is `fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)` (C for files; for
//! block devices C issues a discard, which user space gets from the same `fallocate()` on
//! the device node).

use super::exec::{vdisk_op, ComplStatus, VdiskCmdParams, VdiskOps};
use super::ScstVdiskDev;
use super::TRACE_FLAG;
use kemu::mm::{alloc_page, GFP_KERNEL, PAGE_SIZE};
use kemu::scatterlist::{sg_copy_from_buffer, sg_copy_to_buffer, sg_init_table, sg_set_page};
use kemu::{Errno, PRINT_ERROR, PRINT_WARNING, TRACE, TRACE_DBG};
use nix::fcntl::{fallocate, FallocateFlags};
use scst_core::scst::SCST_INVAL_FIELD_BIT_OFFS_VALID;
use scst_core::scst_const::*;
use std::sync::atomic::Ordering::Relaxed;

/// C `SCST_MAX_EACH_INTERNAL_IO_SIZE` (scst_priv.h): the most bytes one internal WRITE of
/// `scst_write_same()` writes.
pub const SCST_MAX_EACH_INTERNAL_IO_SIZE: usize = 128 * 1024;

/// C `struct scst_data_descriptor`: one LBA range of an UNMAP parameter list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScstDataDescriptor {
    /// C `sdd_lba`.
    pub sdd_lba: u64,
    /// C `sdd_blocks`.
    pub sdd_blocks: u64,
}

/// C: `cmd->len_off` of the WRITE SAME CDBs (the core's CDB table: 7, 10, 28 for 32 bytes).
fn write_same_len_off(cdb0: u8, cdb_len: usize) -> u16 {
    match (cdb0, cdb_len) {
        (WRITE_SAME, _) => 7,
        (_, 32) => 28,
        _ => 10,
    }
}

/// C `vdisk_unmap_file_range()` / the discard of `vdisk_unmap_range()`: punches a hole of
/// `len` bytes at `off` into the backing file (or block device), keeping its size. A failure
/// is MEDIUM ERROR, WRITE FAULT (`EIO`).
fn vdisk_unmap_file_range(p: &mut VdiskCmdParams<'_>, off: i64, len: i64) -> Result<(), Errno> {
    let Some(fd) = p.virt_dev.fd.read().clone() else {
        PRINT_ERROR!("Closed FD on exec (dev {})", p.virt_dev.name);
        p.scst_set_cmd_error(scst_sense_no_medium);
        return Err(Errno::EIO);
    };
    TRACE_DBG!("Fallocating range {}, len {}", off, len);
    let flags = FallocateFlags::FALLOC_FL_PUNCH_HOLE | FallocateFlags::FALLOC_FL_KEEP_SIZE;
    if let Err(e) = fallocate(&*fd, flags, off, len) {
        PRINT_ERROR!("fallocate() for {}, len {} failed: {}", off, len, e);
        p.scst_set_cmd_error(scst_sense_write_error);
        return Err(Errno::EIO);
    }
    Ok(())
}

/// C `vdisk_unmap_range()`: deallocates `blocks` blocks from `start_lba`. A range beyond
/// the end is LOGICAL BLOCK ADDRESS OUT OF RANGE (`EINVAL`). The error is set on the
/// command. A NULLIO device has nothing to
/// deallocate (C: its `fd` is NULL and it is never thin provisioned).
pub fn vdisk_unmap_range(
    p: &mut VdiskCmdParams<'_>,
    start_lba: u64,
    blocks: u64,
) -> Result<(), Errno> {
    let virt_dev: &ScstVdiskDev = p.virt_dev;
    if blocks == 0 {
        return Ok(());
    }
    let nblocks = virt_dev.nblocks.load(Relaxed);
    if start_lba > nblocks || start_lba.checked_add(blocks).is_none_or(|e| e > nblocks) {
        PRINT_ERROR!("Device {}: attempt to write beyond max size", virt_dev.name);
        p.scst_set_cmd_error(scst_sense_block_out_range_error);
        return Err(Errno::EINVAL);
    }
    TRACE_DBG!("Unmapping lba {} (blocks {})", start_lba, blocks);
    if virt_dev.nullio {
        return Ok(());
    }
    let shift = u32::try_from(virt_dev.blk_shift).unwrap_or(9);
    // Both fit: the range is within nblocks = file_size >> shift.
    let off = i64::try_from(start_lba << shift).unwrap_or(i64::MAX);
    let len = i64::try_from(blocks << shift).unwrap_or(i64::MAX);
    vdisk_unmap_file_range(p, off, len)
}

/// C `vdisk_exec_write_same_unmap()`: WRITE SAME with the UNMAP bit deallocates the range
/// (thin devices only; otherwise INVALID COMMAND OPERATION CODE). A data length above
/// `max_write_same_len` is INVALID FIELD IN CDB (the length field).
fn vdisk_exec_write_same_unmap(p: &mut VdiskCmdParams<'_>) {
    if !p.virt_dev.thin_provisioned.load(Relaxed) {
        TRACE_DBG!("Device not thin provisioned");
        p.scst_set_cmd_error(scst_sense_invalid_opcode);
        return;
    }
    let len_off = write_same_len_off(p.cdb_byte(0), p.cdb.len());
    let data_len = u64::try_from(p.data_len).unwrap_or(0);
    if data_len > p.ctx.max_write_same_len {
        PRINT_WARNING!(
            "Invalid WRITE SAME data len {} (max allowed {})",
            data_len,
            p.ctx.max_write_same_len
        );
        p.scst_set_invalid_field_in_cdb(len_off, 0);
        return;
    }
    let shift = u32::try_from(p.virt_dev.blk_shift).unwrap_or(9);
    let lba = u64::try_from(p.loff).unwrap_or(0) >> shift;
    let _ = vdisk_unmap_range(p, lba, data_len >> shift);
}

/// C `scst_write_same()` (scst_lib.c) with a NULL descriptor, as vdisk uses it: writes the
/// command's one block of data to every block of the range. C checks the CDB (LBDATA and
/// PBDATA are not supported: INVALID FIELD IN CDB, byte 1 bit 1; a length above
/// `max_write_same_len`: INVALID FIELD IN CDB, the length field) and then sends internal
/// WRITE(16) commands of at most [`SCST_MAX_EACH_INTERNAL_IO_SIZE`] bytes, each with the
/// block repeated, through the device; their errors become the command's. The port runs the
/// device's WRITE op on such buffers directly. (C also requires the block in a single SG
/// entry, a kernel-side limit; the port copies the block out of the buffer instead.)
fn scst_write_same(p: &mut VdiskCmdParams<'_>) {
    let ctrl_offs: u16 = if p.cdb.len() < 32 { 1 } else { 10 };
    let len_off = write_same_len_off(p.cdb_byte(0), p.cdb.len());
    if p.data_len <= 0 {
        p.scst_set_invalid_field_in_cdb(len_off, 0);
        return;
    }
    let ctrl = p.cdb_byte(usize::from(ctrl_offs));
    if ctrl & 0x6 != 0 {
        TRACE!(
            kemu::printk::TRACE_MINOR,
            "LBDATA and/or PBDATA (ctrl {:x}) are not supported",
            ctrl
        );
        p.scst_set_invalid_field_in_cdb(ctrl_offs, SCST_INVAL_FIELD_BIT_OFFS_VALID | 1);
        return;
    }
    let data_len = u64::try_from(p.data_len).unwrap_or(0);
    if data_len > p.ctx.max_write_same_len {
        PRINT_WARNING!(
            "Invalid WRITE SAME data len {} (max allowed {})",
            data_len,
            p.ctx.max_write_same_len
        );
        p.scst_set_invalid_field_in_cdb(len_off, 0);
        return;
    }
    let block_size = p.virt_dev.block_size() as usize;
    let shift = u32::try_from(p.virt_dev.blk_shift).unwrap_or(9);
    let blocks = data_len >> shift;
    if blocks == 0 || block_size == 0 {
        return;
    }
    // The block the initiator sent (bufflen = one block).
    let mut block = vec![0u8; block_size];
    sg_copy_to_buffer(p.sg, &mut block);

    // One internal write's worth of repeated blocks, in pages.
    let max_each = (SCST_MAX_EACH_INTERNAL_IO_SIZE / block_size).max(1);
    let each = usize::try_from(blocks).unwrap_or(usize::MAX).min(max_each);
    let buf_len = each * block_size;
    let mut sg = sg_init_table(buf_len.div_ceil(PAGE_SIZE));
    let mut left = buf_len;
    for e in sg.iter_mut() {
        let n = left.min(PAGE_SIZE);
        let Some(page) = alloc_page(GFP_KERNEL) else {
            PRINT_ERROR!("Unable to allocate WRITE SAME buffer (size {})", buf_len);
            p.scst_set_busy();
            return;
        };
        sg_set_page(e, page, n as u32, 0);
        left -= n;
    }
    let pattern: Vec<u8> = block.iter().copied().cycle().take(buf_len).collect();
    sg_copy_from_buffer(&mut sg, &pattern);

    let write = vdisk_op(VdiskOps::of(p.virt_dev), WRITE_16);
    let mut loff = p.loff;
    let mut left_blocks = blocks;
    while left_blocks > 0 {
        let n = left_blocks.min(each as u64);
        let len = usize::try_from(n).unwrap_or(each) * block_size;
        let (ctx, virt_dev, cdb) = (p.ctx, p.virt_dev, p.cdb);
        let mut w = VdiskCmdParams::new(cdb, ctx, virt_dev, &mut sg, loff);
        w.bufflen = len;
        w.resp_data_len = len;
        w.data_len = i64::try_from(len).unwrap_or(i64::MAX);
        w.data_direction = SCST_DATA_WRITE;
        let st = write(&mut w);
        let err = w.error;
        if st == ComplStatus::CmdFailed {
            p.scst_set_cmd_error(scst_sense_hardw_error);
            return;
        }
        if let Some(e) = err {
            p.set_error_from(e);
            return;
        }
        loff += i64::try_from(len).unwrap_or(i64::MAX);
        left_blocks -= n;
    }
}

/// C `vdisk_exec_write_same()`: WRITE SAME(10)/(16) (and 32 when routed here). ANCHOR is not
/// supported (INVALID FIELD IN CDB, bit 4); a zero length is INVALID FIELD IN CDB (the
/// length field); with the UNMAP bit the range is deallocated, otherwise the block is
/// written to every block of the range. C completes the write path asynchronously after its
/// internal writes; the port writes synchronously and completes normally.
pub fn vdisk_exec_write_same(p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    let ctrl_offs: u16 = if p.cdb.len() < 32 { 1 } else { 10 };
    let ctrl = p.cdb_byte(usize::from(ctrl_offs));
    if ctrl & 0x10 != 0 {
        TRACE_DBG!("ANCHOR not supported");
        p.scst_set_invalid_field_in_cdb(ctrl_offs, SCST_INVAL_FIELD_BIT_OFFS_VALID | 4);
        return ComplStatus::CmdSucceeded;
    }
    if p.data_len <= 0 {
        PRINT_ERROR!("WRITE SAME: refused data_len = {:#x}", p.data_len);
        let len_off = write_same_len_off(p.cdb_byte(0), p.cdb.len());
        p.scst_set_invalid_field_in_cdb(len_off, 0);
        return ComplStatus::CmdSucceeded;
    }
    if ctrl & 0x8 != 0 {
        vdisk_exec_write_same_unmap(p);
    } else {
        scst_write_same(p);
    }
    ComplStatus::CmdSucceeded
}

/// C `scst_parse_unmap_descriptors()` (scst_lib.c, run by the core before exec for
/// `SCST_DESCRIPTORS_BASED` commands): the block descriptors of the UNMAP parameter list in
/// the data buffer. The UNMAP BLOCK DESCRIPTOR DATA LENGTH (bytes 2–3) must be a multiple of
/// 16 and at most the PARAMETER LIST LENGTH (CDB bytes 7–8) minus 8: otherwise INVALID FIELD
/// IN PARAMETER LIST (byte 2). An empty buffer or descriptor length gives no descriptors.
/// Descriptors beyond the received data read as zeros (C would read past the buffer).
/// `None` when the list is refused (the error is set on the command).
pub fn scst_parse_unmap_descriptors(p: &mut VdiskCmdParams<'_>) -> Option<Vec<ScstDataDescriptor>> {
    let length = p.bufflen();
    if length == 0 {
        return Some(Vec::new());
    }
    let mut address = vec![0u8; length];
    sg_copy_to_buffer(p.sg, &mut address);
    let b = |i: usize| address.get(i).copied().unwrap_or(0);
    let total_len = usize::from(u16::from_be_bytes([p.cdb_byte(7), p.cdb_byte(8)]));
    let descriptor_len = usize::from(u16::from_be_bytes([b(2), b(3)]));
    TRACE_DBG!("total_len {}, descriptor_len {}", total_len, descriptor_len);
    if descriptor_len == 0 {
        return Some(Vec::new());
    }
    if total_len < 8 || descriptor_len > total_len - 8 || descriptor_len % 16 != 0 {
        PRINT_ERROR!(
            "Bad descriptor length: {} < {} - 8",
            descriptor_len,
            total_len
        );
        p.scst_set_invalid_field_in_parm_list(2, 0);
        return None;
    }
    let be = |o: usize, n: usize| (o..o + n).fold(0u64, |v, i| (v << 8) | u64::from(b(i)));
    let pd: Vec<ScstDataDescriptor> = (0..descriptor_len / 16)
        .map(|i| {
            let offset = 8 + 16 * i;
            let d = ScstDataDescriptor {
                sdd_lba: be(offset, 8),
                sdd_blocks: be(offset + 8, 4),
            };
            TRACE_DBG!("i {}, lba {}, blocks {}", i, d.sdd_lba, d.sdd_blocks);
            d
        })
        .collect();
    Some(pd)
}

/// C `vdisk_exec_unmap()`, after the core's [`scst_parse_unmap_descriptors`]: deallocates
/// each descriptor's range. A device that is not thin provisioned answers INVALID COMMAND
/// OPERATION CODE; ANCHOR (byte 1 bit 0) is INVALID FIELD IN CDB; more blocks in total than
/// `unmap_max_lba_cnt` ("to avoid too long latencies") is INVALID FIELD IN PARAMETER LIST
/// (byte 0). The first failing range ends the command with its error.
pub fn vdisk_exec_unmap(p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    let Some(pd) = scst_parse_unmap_descriptors(p) else {
        return ComplStatus::CmdSucceeded;
    };
    let virt_dev = p.virt_dev;
    if !virt_dev.thin_provisioned.load(Relaxed) {
        TRACE_DBG!("Device not thin provisioned");
        p.scst_set_cmd_error(scst_sense_invalid_opcode);
        return ComplStatus::CmdSucceeded;
    }
    if p.cdb_byte(1) & 1 != 0 {
        TRACE_DBG!("ANCHOR not supported");
        p.scst_set_invalid_field_in_cdb(1, SCST_INVAL_FIELD_BIT_OFFS_VALID);
        return ComplStatus::CmdSucceeded;
    }
    // Sanity check to avoid too long latencies. (C sums in 32 bits and could wrap.)
    let max = u64::from(virt_dev.unmap_max_lba_cnt.load(Relaxed));
    let mut blocks_to_unmap: u64 = 0;
    for d in &pd {
        blocks_to_unmap = blocks_to_unmap.saturating_add(d.sdd_blocks);
        if blocks_to_unmap > max {
            PRINT_WARNING!(
                "Too many UNMAP LBAs {} (max allowed {}, dev {})",
                blocks_to_unmap,
                max,
                virt_dev.name
            );
            p.scst_set_invalid_field_in_parm_list(0, 0);
            return ComplStatus::CmdSucceeded;
        }
    }
    for d in &pd {
        if vdisk_unmap_range(p, d.sdd_lba, d.sdd_blocks).is_err() {
            break;
        }
    }
    ComplStatus::CmdSucceeded
}

/// C `vdisk_exec_format_unit()`: FORMAT UNIT without protection information (a procfs build
/// has no DIF). FMTDATA 0 with FMTPINFO ≠ 0 is INVALID FIELD IN CDB (byte 1 bit 6). With
/// FMTDATA the parameter list header is checked: shorter than 4 bytes → PARAMETER LIST
/// LENGTH ERROR; an initialization pattern (IP) → INVALID FIELD IN PARAMETER LIST (byte 1
/// bit 3); LONGLIST with fewer than 8 bytes → INVALID FIELD IN CDB (byte 1 bit 5), with
/// P_I_INFORMATION or a PROTECTION INTERVAL EXPONENT → INVALID FIELD IN PARAMETER LIST
/// (byte 3 bit 4); a protection type other than 0 (from FMTPINFO and PROTECTION FIELD
/// USAGE) → INVALID FIELD IN PARAMETER LIST (byte 0) or, for a valid but different type,
/// INVALID FIELD IN CDB (byte 1 bit 6). Then, with `format_active` set (other commands get
/// FORMAT IN PROGRESS), a thin device is deallocated entirely.
///
/// IMMED: C completes the command first and formats afterwards; the port formats, then
/// completes (there is nothing to do for a device that is not thin provisioned).
pub fn vdisk_exec_format_unit(p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    let virt_dev = p.virt_dev;
    // C: dev->dev_dif_type; no DIF in procfs builds.
    let dev_dif_type = 0;
    let mut prot_type = dev_dif_type;
    let b1 = p.cdb_byte(1);
    let pinfo = (b1 & 0xC0) >> 6;
    if b1 & 0x10 == 0 && pinfo != 0 {
        // FMTDATA zero and FMTPINFO not zero are illegal.
        p.scst_set_invalid_field_in_cdb(1, SCST_INVAL_FIELD_BIT_OFFS_VALID | 6);
        return ComplStatus::CmdSucceeded;
    }
    let mut immed = false;
    if b1 & 0x10 != 0 {
        // FMTDATA
        let length = p.bufflen();
        TRACE_DBG!("length {}", length);
        if length == 0 {
            return ComplStatus::CmdSucceeded;
        }
        let mut buf = vec![0u8; length];
        sg_copy_to_buffer(p.sg, &mut buf);
        if length < 4 {
            PRINT_ERROR!(
                "FORMAT UNIT: too small parameters list header {} (dev {})",
                length,
                virt_dev.name
            );
            p.scst_set_cmd_error(scst_sense_parameter_list_length_invalid);
            return ComplStatus::CmdSucceeded;
        }
        let prot_usage = buf[0] & 7;
        immed = buf[1] & 2 != 0;
        if buf[1] & 8 != 0 {
            PRINT_ERROR!("FORMAT UNIT: initialization pattern not supported");
            p.scst_set_invalid_field_in_parm_list(1, SCST_INVAL_FIELD_BIT_OFFS_VALID | 3);
            return ComplStatus::CmdSucceeded;
        }
        if b1 & 0x20 != 0 {
            // LONGLIST
            if length < 8 {
                PRINT_ERROR!(
                    "FORMAT UNIT: too small long parameters list header {} (dev {})",
                    length,
                    virt_dev.name
                );
                p.scst_set_invalid_field_in_cdb(1, SCST_INVAL_FIELD_BIT_OFFS_VALID | 5);
                return ComplStatus::CmdSucceeded;
            }
            if buf[3] & 0xF0 != 0 {
                PRINT_ERROR!(
                    "FORMAT UNIT: P_I_INFORMATION must be 0 (dev {})",
                    virt_dev.name
                );
                p.scst_set_invalid_field_in_parm_list(3, SCST_INVAL_FIELD_BIT_OFFS_VALID | 4);
                return ComplStatus::CmdSucceeded;
            }
            if buf[3] & 0xF != 0 {
                PRINT_ERROR!(
                    "FORMAT UNIT: PROTECTION INTERVAL EXPONENT {} not supported (dev {})",
                    buf[3] & 0xF,
                    virt_dev.name
                );
                p.scst_set_invalid_field_in_parm_list(3, SCST_INVAL_FIELD_BIT_OFFS_VALID | 4);
                return ComplStatus::CmdSucceeded;
            }
        }
        prot_type = match (pinfo, prot_usage) {
            (0, 0) => 0,
            (2, 0) => 1,
            (3, 0) => 2,
            (3, 1) => 3,
            _ => {
                p.scst_set_invalid_field_in_parm_list(0, SCST_INVAL_FIELD_BIT_OFFS_VALID);
                return ComplStatus::CmdSucceeded;
            }
        };
    }
    TRACE_DBG!("prot_type {}, pinfo {}, immed {}", prot_type, pinfo, immed);
    if prot_type != dev_dif_type {
        PRINT_ERROR!(
            "FORMAT UNIT: DIF type {} not supported (dev {})",
            prot_type,
            virt_dev.name
        );
        p.scst_set_invalid_field_in_cdb(1, SCST_INVAL_FIELD_BIT_OFFS_VALID | 6);
        return ComplStatus::CmdSucceeded;
    }

    virt_dev.format_active.store(true, Relaxed);
    virt_dev.format_progress_done.store(0, Relaxed);
    let nblocks = virt_dev.nblocks.load(Relaxed);
    // C: nblocks << SCST_DIF_TAG_SHIFT (3).
    virt_dev
        .format_progress_to_do
        .store(nblocks.wrapping_shl(3), Relaxed);
    if virt_dev.thin_provisioned.load(Relaxed) {
        let _ = vdisk_unmap_range(p, 0, nblocks);
    }
    // (C formats the DIF tags here when pinfo != 0: no DIF.)
    virt_dev.format_active.store(false, Relaxed);
    ComplStatus::CmdSucceeded
}

/// The discard limits of a block device's request queue, as C reads them from
/// `bdev_get_queue()` (user space: `/sys/dev/block/MAJ:MIN/queue/*` and the device's
/// `discard_alignment`), in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VdiskDiscardLimits {
    /// `queue/discard_max_bytes` (C `max_discard_sectors` × 512); 0: no discard support.
    pub max_discard_bytes: u64,
    /// `queue/discard_granularity`.
    pub discard_granularity: u64,
    /// `discard_alignment`.
    pub discard_alignment: u64,
    /// `queue/discard_zeroes_data` (0 on kernels that dropped it).
    pub discard_zeroes_data: bool,
}

/// Reads [`VdiskDiscardLimits`] from the sysfs directory `dev_dir` of a block device (for a
/// partition, the queue is its disk's, one level up). `None` when there is no queue.
pub fn vdisk_read_discard_limits(dev_dir: &std::path::Path) -> Option<VdiskDiscardLimits> {
    let num = |p: std::path::PathBuf| -> Option<u64> {
        std::fs::read_to_string(p).ok()?.trim().parse().ok()
    };
    let queue = [dev_dir.join("queue"), dev_dir.join("../queue")]
        .into_iter()
        .find(|q| q.is_dir())?;
    Some(VdiskDiscardLimits {
        max_discard_bytes: num(queue.join("discard_max_bytes")).unwrap_or(0),
        discard_granularity: num(queue.join("discard_granularity")).unwrap_or(0),
        discard_alignment: num(dev_dir.join("discard_alignment")).unwrap_or(0),
        discard_zeroes_data: num(queue.join("discard_zeroes_data")).unwrap_or(0) != 0,
    })
}

/// C `vdisk_check_tp_support()`, called by `vdisk_reexamine()`: whether the backing store
/// can deallocate (C `dev_thin_provisioned`: a FILEIO file system with `fallocate()`, which
/// user space assumes, as nearly all have it; a BLOCKIO queue with discard support) and
/// what follows. As r7105 without a manual `thin_provisioned` setting (which only sysfs
/// offers): a BLOCKIO device becomes thin provisioned exactly when its queue supports
/// discard, a FILEIO device keeps its setting (off). A thin device then gets its UNMAP
/// limits: BLOCKIO from the queue (granularity and alignment in blocks, alignment 0 when
/// equal to the granularity, the maximum discard in blocks, DISCARD ZEROES DATA); FILEIO
/// granularity 1, no alignment, 256 MiB per command, no LBPRZ. A read-only device or one
/// without file is never thin.
pub fn vdisk_check_tp_support(virt_dev: &ScstVdiskDev) {
    let mut limits = None;
    let mut dev_thin_provisioned = false;
    if !virt_dev.rd_only.load(Relaxed) {
        if let Some(filename) = virt_dev.filename.as_deref() {
            match std::fs::metadata(filename) {
                Err(e) => PRINT_ERROR!("filp_open({}) failed: {}", filename, e),
                Ok(md) if virt_dev.blockio => {
                    use std::os::unix::fs::{FileTypeExt, MetadataExt};
                    if md.file_type().is_block_device() {
                        let (maj, min) = (libc::major(md.rdev()), libc::minor(md.rdev()));
                        let dir = format!("/sys/dev/block/{maj}:{min}");
                        limits = vdisk_read_discard_limits(std::path::Path::new(&dir));
                        dev_thin_provisioned = limits.is_some_and(|l| l.max_discard_bytes > 0);
                    } else {
                        PRINT_ERROR!("{} is NOT a block device", filename);
                    }
                }
                Ok(_) => dev_thin_provisioned = true,
            }
        }
    }
    if virt_dev.blockio {
        virt_dev
            .thin_provisioned
            .store(dev_thin_provisioned, Relaxed);
        if dev_thin_provisioned {
            kemu::PRINT_INFO!(
                "Auto enable thin provisioning for device {}",
                virt_dev.vdev_get_filename()
            );
        }
    }
    if !virt_dev.thin_provisioned.load(Relaxed) {
        return;
    }
    let shift = u32::try_from(virt_dev.blk_shift).unwrap_or(9);
    let blocks = |b: u64| u32::try_from(b >> shift).unwrap_or(u32::MAX);
    if virt_dev.blockio {
        let l = limits.unwrap_or(VdiskDiscardLimits {
            max_discard_bytes: 0,
            discard_granularity: 0,
            discard_alignment: 0,
            discard_zeroes_data: false,
        });
        let gran = blocks(l.discard_granularity);
        let mut align = blocks(l.discard_alignment);
        if gran == align {
            align = 0;
        }
        virt_dev.unmap_opt_gran.store(gran, Relaxed);
        virt_dev.unmap_align.store(align, Relaxed);
        virt_dev
            .unmap_max_lba_cnt
            .store(blocks(l.max_discard_bytes), Relaxed);
        virt_dev
            .discard_zeroes_data
            .store(l.discard_zeroes_data, Relaxed);
    } else {
        virt_dev.unmap_opt_gran.store(1, Relaxed);
        virt_dev.unmap_align.store(0, Relaxed);
        // 256 MB
        virt_dev
            .unmap_max_lba_cnt
            .store(blocks(256 * 1024 * 1024), Relaxed);
        // C: "Might be a big performance and functionality win, but might be dangerous as
        // well": discard_zeroes_data stays off for files.
        virt_dev.discard_zeroes_data.store(false, Relaxed);
    }
    TRACE_DBG!(
        "unmap_gran {}, unmap_alignment {}, max_unmap_lba {}, discard_zeroes_data {}",
        virt_dev.unmap_opt_gran.load(Relaxed),
        virt_dev.unmap_align.load(Relaxed),
        virt_dev.unmap_max_lba_cnt.load(Relaxed),
        virt_dev.discard_zeroes_data.load(Relaxed)
    );
}
