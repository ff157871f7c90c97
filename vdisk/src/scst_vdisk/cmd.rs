// SPDX-License-Identifier: GPL-2.0-only
//! The `parse()` and `exec()` callbacks of the vdisk device types over the SCST core's
//! command (C `vdisk_parse()`, `vcdrom_parse()`, `non_fileio_parse()`,
//! `fileio_alloc_and_parse()`, `fileio_exec()`, `blockio_exec()`, `nullio_exec()`,
//! `vcdrom_exec()`): they take what the command-independent code of [`super::exec`] needs
//! from the `ScstCmd`, run it, and apply its result with the core's functions
//! (`scst_set_cmd_error()`, `scst_set_resp_data_len()`, …) before completing the command
//! (`cmd->completed = 1; cmd->scst_cmd_done(cmd, SCST_CMD_STATE_DEFAULT, SCST_CONTEXT_SAME)`).
//!
//! Locking: `cmd.d` (the fields C's processing thread owns) is never held while an op runs
//! or while a core function that takes it is called; the data buffer is moved out of the
//! command for the op and back afterwards.

use super::exec::{
    vcdrom_exec_checks, vdev_do_job, vdisk_parse_offset, VdiskCmdCtx, VdiskCmdError,
    VdiskCmdParams, VdiskOps, VdiskParsedOffset,
};
use super::TRACE_FLAG;
use super::{vdev_of, ScstVdiskDev};
use kemu::{PRINT_ERROR, PRINT_WARNING, TRACE_DBG};
use scst_core::scst::{
    scst_cmd_get_dev, scst_cmd_get_tgt_dev, CmdState, ScstCmd, ScstDevice, SCST_CMD_STATE_DEFAULT,
    SCST_CONTEXT_SAME, SCST_EXEC_COMPLETED,
};
use scst_core::scst_const::*;
use scst_core::scst_lib::{
    scst_cdrom_generic_parse, scst_get_cmd_abnormal_done_state, scst_sbc_generic_parse,
    scst_set_busy, scst_set_cmd_error, scst_set_invalid_field_in_cdb,
    scst_set_invalid_field_in_parm_list, scst_set_resp_data_len,
};
use std::any::Any;
use std::sync::Arc;

/// C `scst_get_cmd_abnormal_done_state(cmd)`.
fn abnormal_state(cmd: &ScstCmd) -> CmdState {
    let d = cmd.d.lock();
    scst_get_cmd_abnormal_done_state(cmd, &d)
}

/// Applies an error recorded by the command-independent code with the core's setter.
fn vdisk_set_error(cmd: &ScstCmd, e: VdiskCmdError) {
    match e {
        VdiskCmdError::Sense((k, a, q)) => {
            scst_set_cmd_error(cmd, k, a, q);
        }
        VdiskCmdError::InvalidFieldInCdb {
            field_offs,
            bit_offs,
        } => {
            scst_set_invalid_field_in_cdb(cmd, usize::from(field_offs), bit_offs);
        }
        VdiskCmdError::InvalidFieldInParmList {
            field_offs,
            bit_offs,
        } => {
            scst_set_invalid_field_in_parm_list(cmd, usize::from(field_offs), bit_offs);
        }
        VdiskCmdError::Busy => scst_set_busy(cmd),
    }
}

/// C: `vdisk_parse_offset()` on the command's own LBA, data length and op flags.
fn vdisk_parse_offset_cmd(
    cmd: &ScstCmd,
    virt_dev: &ScstVdiskDev,
) -> Result<VdiskParsedOffset, VdiskCmdError> {
    let (cdb, op_flags, lba, data_len) = {
        let mut d = cmd.d.lock();
        // C: cmd->status = 0; msg_status = 0; host_status = DID_OK; driver_status = 0.
        d.status = 0;
        d.msg_status = 0;
        d.host_status = DID_OK;
        d.driver_status = 0;
        let n = d.cdb_len.min(d.cdb.len());
        (d.cdb[..n].to_vec(), d.op_flags, d.lba, d.data_len)
    };
    vdisk_parse_offset(
        virt_dev,
        &cdb,
        op_flags & SCST_INFO_VALID != 0,
        lba.cast_unsigned(),
        data_len,
        op_flags & SCST_LBA_NOT_VALID != 0,
    )
}

/// C `vdisk_parse()` (vdisk_fileio), `vcdrom_parse()` and `non_fileio_parse()` (blockio,
/// nullio): the core's generic SBC (MMC for a CD-ROM) parse, then for FILEIO and vcdrom
/// `fileio_alloc_and_parse()`: the offset check, whose result is kept in the command's
/// `dh_priv` (C: the `vdisk_cmd_params` from `vdisk_cmd_param_cachep`). Returns the next
/// state: `SCST_CMD_STATE_DEFAULT`, or the abnormal-done state after an error.
pub fn vdisk_parse(cmd: &Arc<ScstCmd>) -> CmdState {
    let Some(dev) = scst_cmd_get_dev(cmd) else {
        return abnormal_state(cmd);
    };
    let rom = dev.type_ == TYPE_ROM;
    let rc = if rom {
        scst_cdrom_generic_parse(cmd)
    } else {
        scst_sbc_generic_parse(cmd)
    };
    if rc != 0 {
        return abnormal_state(cmd);
    }
    let Some(virt_dev) = vdev_of(&dev) else {
        PRINT_ERROR!("Device {} has no vdisk data", dev.virt_name);
        scst_set_cmd_error(cmd, HARDWARE_ERROR, 0x44, 0);
        return abnormal_state(cmd);
    };
    if VdiskOps::of(&virt_dev) != VdiskOps::Fileio && !rom {
        return SCST_CMD_STATE_DEFAULT;
    }
    // C fileio_alloc_and_parse().
    match vdisk_parse_offset_cmd(cmd, &virt_dev) {
        Ok(off) => {
            cmd.d.lock().dh_priv = Some(Arc::new(off) as Arc<dyn Any + Send + Sync>);
            SCST_CMD_STATE_DEFAULT
        }
        Err(e) => {
            vdisk_set_error(cmd, e);
            abnormal_state(cmd)
        }
    }
}

/// C `vdisk_no_fd_allowed_commands()`: what a BLOCKIO device with a closed file still
/// answers (ALUA secondaries).
pub fn vdisk_no_fd_allowed_commands(cdb: &[u8]) -> bool {
    let b1 = cdb.get(1).copied().unwrap_or(0) & 0x1f;
    match cdb.first().copied().unwrap_or(0) {
        TEST_UNIT_READY
        | INQUIRY
        | MODE_SENSE
        | MODE_SENSE_10
        | READ_CAPACITY
        | REPORT_LUNS
        | REQUEST_SENSE
        | RELEASE
        | RELEASE_10
        | RESERVE
        | RESERVE_10
        | READ_BUFFER
        | WRITE_BUFFER
        | MODE_SELECT
        | MODE_SELECT_10
        | LOG_SELECT
        | LOG_SENSE
        | RECEIVE_DIAGNOSTIC
        | SEND_DIAGNOSTIC
        | PERSISTENT_RESERVE_IN
        | PERSISTENT_RESERVE_OUT => true,
        SERVICE_ACTION_IN_16 => b1 == SAI_READ_CAPACITY_16,
        MAINTENANCE_IN => b1 == MI_REPORT_TARGET_PGS,
        MAINTENANCE_OUT => b1 == MO_SET_TARGET_PGS,
        _ => false,
    }
}

/// The [`VdiskCmdCtx`] of a command: device type, relative target port, LUN read-only
/// flag and the device's control-page values from the SCST objects. The SCSI transport
/// version is iSCSI's 0x0960 for the `iscsi` driver (C: its
/// `get_scsi_transport_version()`, which the port's target template does not have yet).
pub fn vdisk_cmd_ctx(cmd: &ScstCmd, dev: &ScstDevice, virt_dev: &ScstVdiskDev) -> VdiskCmdCtx {
    let mut ctx = VdiskCmdCtx::new(virt_dev, dev.type_, cmd.tgt.rel_tgt_id);
    ctx.scsi_transport_version = (cmd.tgtt.name == "iscsi").then_some(0x0960);
    let tbl = u32::try_from(cmd.tgtt.sg_tablesize)
        .ok()
        .filter(|&n| n > 0)
        .unwrap_or(u32::MAX);
    ctx.max_sg_cnt = super::exec::SCST_VIRT_INI_SG.min(tbl);
    if let Some(tgt_dev) = scst_cmd_get_tgt_dev(cmd) {
        ctx.tgt_dev_rd_only = tgt_dev.tgt_dev_rd_only;
    }
    {
        let d = cmd.d.lock();
        ctx.skip_ua = d.op_flags & SCST_SKIP_UA != 0;
    }
    super::exec::vdisk_mode_current(&mut ctx.mode, dev, virt_dev);
    ctx
}

/// Completes the command as C's exec functions do: `cmd->completed = 1` and
/// `cmd->scst_cmd_done(cmd, SCST_CMD_STATE_DEFAULT, SCST_CONTEXT_SAME)`.
fn vdisk_cmd_done(cmd: &Arc<ScstCmd>) {
    let done = {
        let mut d = cmd.d.lock();
        d.completed = true;
        d.scst_cmd_done
    };
    match done {
        Some(f) => f(cmd, SCST_CMD_STATE_DEFAULT, SCST_CONTEXT_SAME),
        None => PRINT_WARNING!("vdisk: command without scst_cmd_done"),
    }
}

/// C `fileio_exec()`, `blockio_exec()`, `nullio_exec()` and `vcdrom_exec()`: executes the
/// command on its vdisk device and completes it. vcdrom first checks for a medium and a
/// medium change; BLOCKIO and NULLIO check the offset here (FILEIO and vcdrom did at
/// parse); BLOCKIO with a closed file answers only the commands of
/// [`vdisk_no_fd_allowed_commands`] (MEDIUM NOT PRESENT otherwise). Always
/// `SCST_EXEC_COMPLETED`.
pub fn vdisk_exec(cmd: &Arc<ScstCmd>) -> i32 {
    let Some(dev) = scst_cmd_get_dev(cmd) else {
        scst_set_cmd_error(cmd, HARDWARE_ERROR, 0x44, 0);
        vdisk_cmd_done(cmd);
        return SCST_EXEC_COMPLETED;
    };
    let Some(virt_dev) = vdev_of(&dev) else {
        PRINT_ERROR!("Device {} has no vdisk data", dev.virt_name);
        scst_set_cmd_error(cmd, HARDWARE_ERROR, 0x44, 0);
        vdisk_cmd_done(cmd);
        return SCST_EXEC_COMPLETED;
    };
    let ops = VdiskOps::of(&virt_dev);
    let rom = dev.type_ == TYPE_ROM;
    let ctx = vdisk_cmd_ctx(cmd, &dev, &virt_dev);
    let (cdb, parsed) = {
        let d = cmd.d.lock();
        let n = d.cdb_len.min(d.cdb.len());
        let parsed = d
            .dh_priv
            .clone()
            .and_then(|p| p.downcast::<VdiskParsedOffset>().ok());
        (d.cdb[..n].to_vec(), parsed)
    };
    let opcode = cdb.first().copied().unwrap_or(0);

    if rom {
        // C vcdrom_exec().
        {
            let mut d = cmd.d.lock();
            d.status = 0;
            d.msg_status = 0;
            d.host_status = DID_OK;
            d.driver_status = 0;
        }
        if let Err(e) = vcdrom_exec_checks(&virt_dev, opcode, ctx.skip_ua) {
            vdisk_set_error(cmd, e);
            vdisk_cmd_done(cmd);
            return SCST_EXEC_COMPLETED;
        }
    }

    let off = match parsed {
        Some(p) if ops == VdiskOps::Fileio || rom => Ok(*p),
        _ => vdisk_parse_offset_cmd(cmd, &virt_dev),
    };
    let off = match off {
        Ok(o) => o,
        Err(e) => {
            vdisk_set_error(cmd, e);
            vdisk_cmd_done(cmd);
            return SCST_EXEC_COMPLETED;
        }
    };
    if ops == VdiskOps::Blockio
        && virt_dev.fd.read().is_none()
        && !vdisk_no_fd_allowed_commands(&cdb)
    {
        PRINT_WARNING!(
            "Closed FD on exec. Not active ALUA state or not blocked dev before ALUA state change? (op 0x{:02x}, dev {})",
            opcode,
            dev.virt_name
        );
        scst_set_cmd_error(cmd, NOT_READY, 0x3a, 0);
        vdisk_cmd_done(cmd);
        return SCST_EXEC_COMPLETED;
    }

    let (mut sg, bufflen, data_len, data_direction) = {
        let mut d = cmd.d.lock();
        let mut bufflen = usize::try_from(d.bufflen).unwrap_or(0);
        // C scst_set_write_len() → scst_limit_sg_write_len() → scst_adjust_sg(): when the
        // initiator sent less write data than the CDB asks for (iSCSI EDTL < SCSI transfer
        // length), the write scatterlist is cut to `write_len`, so the handler writes only the
        // data that came and never the rest of the buffer. The port keeps the list whole and
        // gives the handler the shorter length instead.
        if d.data_direction == SCST_DATA_WRITE && d.resid_possible {
            bufflen = bufflen.min(usize::try_from(d.write_len).unwrap_or(0));
        }
        (
            std::mem::take(&mut d.sg),
            bufflen,
            d.data_len,
            d.data_direction,
        )
    };
    let (error, resp, initial, completed) = {
        let mut p = VdiskCmdParams::new(&cdb, &ctx, &virt_dev, &mut sg, off.loff);
        p.fua = off.fua;
        p.bufflen = bufflen;
        p.resp_data_len = bufflen;
        p.data_len = data_len;
        p.data_direction = data_direction;
        let completed = vdev_do_job(&mut p, ops);
        (p.error, p.resp_data_len, bufflen, completed)
    };
    cmd.d.lock().sg = sg;
    TRACE_DBG!(
        "vdisk exec op 0x{:02x}: error {:?}, resp_data_len {}",
        opcode,
        error,
        resp
    );
    if let Some(e) = error {
        vdisk_set_error(cmd, e);
    } else if resp != initial {
        scst_set_resp_data_len(cmd, i32::try_from(resp).unwrap_or(i32::MAX));
    }
    if completed {
        vdisk_cmd_done(cmd);
    }
    SCST_EXEC_COMPLETED
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scst_vdisk::fileio::vdisk_attach_tgt;
    use crate::scst_vdisk::{scst_vdisk_mutex, vdev_create, vdisk_file_devtype};
    use kemu::atomic::atomic_set;
    use kemu::mm::{alloc_page, __GFP_ZERO, GFP_KERNEL};
    use kemu::scatterlist::{sg_copy_to_buffer, sg_init_table, sg_set_page};
    use scst_core::scst::{ScstExecContext, ScstTgt, ScstTgtTemplate, ScstTgtTemplateOps};
    use scst_core::scst_lib::{
        scst_alloc_cmd, scst_alloc_device, scst_alloc_session, scst_alloc_tgt, scst_get_cdb_info,
    };
    use std::io::Write;
    use std::sync::atomic::AtomicUsize;
    use std::sync::atomic::Ordering::Relaxed;

    struct NoRelease;
    impl ScstTgtTemplateOps for NoRelease {
        fn release(&self, _tgt: &Arc<ScstTgt>) -> i32 {
            0
        }
    }

    static DONE: AtomicUsize = AtomicUsize::new(0);
    fn done(_cmd: &Arc<ScstCmd>, _st: CmdState, _ctx: ScstExecContext) {
        DONE.fetch_add(1, Relaxed);
    }

    /// A command for `cdb` on `dev`, decoded by the core's CDB table and parsed by vdisk,
    /// with a zeroed buffer of `bufflen` bytes when parse succeeds.
    fn cmd_for(dev: &Arc<ScstDevice>, cdb: &[u8]) -> (Arc<ScstCmd>, CmdState) {
        let tt = Arc::new(ScstTgtTemplate::new("iscsi", Arc::new(NoRelease)));
        let tgt = scst_alloc_tgt(&tt, "t".into(), None).unwrap();
        let sess = scst_alloc_session(&tgt, "ini");
        let cmd = scst_alloc_cmd(&sess, cdb).unwrap();
        cmd.d.lock().dev = Some(dev.clone());
        let _ = scst_get_cdb_info(&cmd);
        let st = vdisk_parse(&cmd);
        let mut d = cmd.d.lock();
        let len = u32::try_from(d.bufflen).unwrap_or(0);
        if st == SCST_CMD_STATE_DEFAULT && len > 0 {
            let mut sg = sg_init_table(len.div_ceil(4096) as usize);
            let mut left = len;
            for e in sg.iter_mut() {
                let n = left.min(4096);
                sg_set_page(e, alloc_page(GFP_KERNEL | __GFP_ZERO).unwrap(), n, 0);
                left -= n;
            }
            d.sg = sg;
        }
        d.scst_cmd_done = Some(done);
        drop(d);
        (cmd, st)
    }

    fn sense_kaq(cmd: &ScstCmd) -> (u8, u8, u8) {
        let d = cmd.d.lock();
        let s = d.sense.as_deref().unwrap_or(&[]);
        let b = |i: usize| s.get(i).copied().unwrap_or(0);
        if b(0) & 0x7f >= 0x72 {
            (b(1), b(2), b(3))
        } else {
            (b(2) & 0xf, b(12), b(13))
        }
    }

    #[test]
    fn fileio_commands_through_the_core_command() {
        let path = std::env::temp_dir().join(format!("vdisk-cmd-{}.img", std::process::id()));
        let data: Vec<u8> = (0..1usize << 20).map(|i| (i * 13 % 253) as u8).collect();
        std::fs::File::create(&path)
            .unwrap()
            .write_all(&data)
            .unwrap();
        let mut v = {
            let g = scst_vdisk_mutex.lock();
            vdev_create(&g, &vdisk_file_devtype, "cmd1").unwrap()
        };
        v.filename = Some(path.to_str().unwrap().to_owned());
        v.file_size.store(1 << 20, Relaxed);
        v.nblocks.store(2048, Relaxed);
        let v = Arc::new(v);
        let dev = scst_alloc_device(TYPE_DISK, "cmd1", 1);
        atomic_set(&dev.block_shift, 9);
        atomic_set(&dev.block_size, 512);
        *dev.dh_priv.write() = Some(v.clone() as Arc<dyn Any + Send + Sync>);
        vdisk_attach_tgt(&v, false).unwrap();

        // READ(10) of 2 blocks at LBA 1: parse scales to bytes, exec reads the file.
        let (cmd, st) = cmd_for(&dev, &[READ_10, 0, 0, 0, 0, 1, 0, 0, 2, 0]);
        assert_eq!(st, SCST_CMD_STATE_DEFAULT);
        assert_eq!(cmd.d.lock().bufflen, 1024);
        let before = DONE.load(Relaxed);
        assert_eq!(vdisk_exec(&cmd), SCST_EXEC_COMPLETED);
        assert!(DONE.load(Relaxed) > before);
        let d = cmd.d.lock();
        assert!(d.completed);
        assert_eq!(d.status, 0);
        let mut got = vec![0u8; 1024];
        sg_copy_to_buffer(&d.sg, &mut got);
        assert_eq!(got[..], data[512..1536]);
        drop(d);

        // INQUIRY, allocation length 36: the standard data cut to 36 bytes.
        let (cmd, _) = cmd_for(&dev, &[INQUIRY, 0, 0, 0, 36, 0]);
        vdisk_exec(&cmd);
        let d = cmd.d.lock();
        assert_eq!(d.status, 0);
        let mut got = vec![0u8; 36];
        sg_copy_to_buffer(&d.sg, &mut got);
        assert_eq!(&got[8..16], b"SCST_FIO");
        drop(d);

        // Beyond the end: refused at parse with 05/21/00.
        let (cmd, st) = cmd_for(&dev, &[READ_10, 0, 0, 0, 0x08, 0, 0, 0, 1, 0]);
        assert_ne!(st, SCST_CMD_STATE_DEFAULT);
        assert_eq!(sense_kaq(&cmd), (0x05, 0x21, 0x00));

        // MODE SENSE of an unknown page: 05/24/00 through scst_set_invalid_field_in_cdb().
        let (cmd, _) = cmd_for(&dev, &[MODE_SENSE, 0, 0x05, 0, 255, 0]);
        vdisk_exec(&cmd);
        assert_eq!(cmd.d.lock().status, SAM_STAT_CHECK_CONDITION);
        assert_eq!(sense_kaq(&cmd), (0x05, 0x24, 0x00));

        // VERIFY(10) BYTCHK=1 of 2 blocks at LBA 1: the core makes it a data-out command
        // of 1024 bytes; equal data → GOOD.
        let verify = [VERIFY, 0x02, 0, 0, 0, 1, 0, 0, 2, 0];
        let (cmd, st) = cmd_for(&dev, &verify);
        assert_eq!(st, SCST_CMD_STATE_DEFAULT);
        {
            let mut d = cmd.d.lock();
            assert_eq!((d.bufflen, d.data_len), (1024, 1024));
            assert_eq!(d.data_direction, SCST_DATA_WRITE);
            kemu::scatterlist::sg_copy_from_buffer(&mut d.sg, &data[512..1536]);
        }
        vdisk_exec(&cmd);
        assert_eq!(cmd.d.lock().status, 0);
        // One byte off (offset 700 of the data-out): MISCOMPARE 0E/1D/00, fixed format,
        // INFORMATION not valid (byte 0 = 0x70, bytes 3..7 zero) as r7105.
        let (cmd, _) = cmd_for(&dev, &verify);
        {
            let mut d = cmd.d.lock();
            let mut b = data[512..1536].to_vec();
            b[700] ^= 0x80;
            kemu::scatterlist::sg_copy_from_buffer(&mut d.sg, &b);
        }
        vdisk_exec(&cmd);
        assert_eq!(cmd.d.lock().status, SAM_STAT_CHECK_CONDITION);
        assert_eq!(sense_kaq(&cmd), (0x0E, 0x1D, 0x00));
        {
            let d = cmd.d.lock();
            let s = d.sense.as_deref().unwrap();
            assert_eq!(s[0], 0x70);
            assert_eq!(&s[3..7], &[0, 0, 0, 0]);
        }
        // VERIFY(10) BYTCHK=0 of 2048 blocks: no data moves, the whole medium is read.
        let (cmd, st) = cmd_for(&dev, &[VERIFY, 0, 0, 0, 0, 0, 0, 0x08, 0, 0]);
        assert_eq!(st, SCST_CMD_STATE_DEFAULT);
        {
            let d = cmd.d.lock();
            assert_eq!((d.bufflen, d.data_len), (0, 1 << 20));
        }
        vdisk_exec(&cmd);
        assert_eq!(cmd.d.lock().status, 0);

        // WRITE(10) with FUA of 1 block at LBA 3: written and flushed.
        let before = v.fsync_cnt.load(Relaxed);
        let (cmd, _) = cmd_for(&dev, &[WRITE_10, 0x08, 0, 0, 0, 3, 0, 0, 1, 0]);
        kemu::scatterlist::sg_copy_from_buffer(&mut cmd.d.lock().sg, &[0xEE; 512]);
        vdisk_exec(&cmd);
        assert_eq!(cmd.d.lock().status, 0);
        assert_eq!(v.fsync_cnt.load(Relaxed), before + 1);
        assert_eq!(std::fs::read(&path).unwrap()[1536..2048], [0xEE; 512]);
        // WRITE(10) beyond the end: 05/21/00 at parse.
        let (cmd, st) = cmd_for(&dev, &[WRITE_10, 0, 0, 0, 0x07, 0xff, 0, 0, 2, 0]);
        assert_ne!(st, SCST_CMD_STATE_DEFAULT);
        assert_eq!(sense_kaq(&cmd), (0x05, 0x21, 0x00));
        // SYNCHRONIZE CACHE(10): GOOD and flushed; at LBA nblocks + 1: 05/21/00.
        let (cmd, _) = cmd_for(&dev, &[SYNCHRONIZE_CACHE, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        vdisk_exec(&cmd);
        assert_eq!(cmd.d.lock().status, 0);
        assert_eq!(v.fsync_cnt.load(Relaxed), before + 2);
        let (cmd, st) = cmd_for(&dev, &[SYNCHRONIZE_CACHE, 0, 0, 0, 0x08, 1, 0, 0, 0, 0]);
        assert_ne!(st, SCST_CMD_STATE_DEFAULT);
        assert_eq!(sense_kaq(&cmd), (0x05, 0x21, 0x00));

        crate::scst_vdisk::fileio::vdisk_detach_tgt(&v);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn write_same_mode_select_and_rsoc_through_the_core_command() {
        let path = std::env::temp_dir().join(format!("vdisk-cmd-ws-{}.img", std::process::id()));
        std::fs::File::create(&path)
            .unwrap()
            .write_all(&vec![0x11u8; 64 * 512])
            .unwrap();
        let mut v = {
            let g = scst_vdisk_mutex.lock();
            vdev_create(&g, &vdisk_file_devtype, "cmdws").unwrap()
        };
        v.filename = Some(path.to_str().unwrap().to_owned());
        v.file_size.store(64 * 512, Relaxed);
        v.nblocks.store(64, Relaxed);
        let v = Arc::new(v);
        let dev = scst_alloc_device(TYPE_DISK, "cmdws", 1);
        atomic_set(&dev.block_shift, 9);
        atomic_set(&dev.block_size, 512);
        atomic_set(&dev.tst, 1);
        atomic_set(&dev.queue_alg, 1);
        *dev.dh_priv.write() = Some(v.clone() as Arc<dyn Any + Send + Sync>);
        *v.dev.lock() = Arc::downgrade(&dev);
        vdisk_attach_tgt(&v, false).unwrap();

        // WRITE SAME(10) of 4 blocks at LBA 8: one block of data, 2048 bytes written.
        let (cmd, st) = cmd_for(&dev, &[WRITE_SAME, 0, 0, 0, 0, 8, 0, 0, 4, 0]);
        assert_eq!(st, SCST_CMD_STATE_DEFAULT);
        {
            let mut d = cmd.d.lock();
            assert_eq!((d.bufflen, d.data_len), (512, 2048));
            kemu::scatterlist::sg_copy_from_buffer(&mut d.sg, &[0xC3; 512]);
        }
        vdisk_exec(&cmd);
        assert_eq!(cmd.d.lock().status, 0);
        let data = std::fs::read(&path).unwrap();
        assert!(data[8 * 512..12 * 512].iter().all(|&b| b == 0xC3));
        assert!(data[12 * 512..].iter().all(|&b| b == 0x11));
        assert!(data[..8 * 512].iter().all(|&b| b == 0x11));

        // MODE SELECT(6) of the control page with D_SENSE: the core then builds descriptor
        // format sense for the device.
        let list = [
            0, 0, 0, 0, 0x0A, 0x0A, 0x24, 0x10, 0, 0, 0, 0, 0, 0, 0x02, 0x4b,
        ];
        let (cmd, st) = cmd_for(&dev, &[MODE_SELECT, 0x10, 0, 0, 16, 0]);
        assert_eq!(st, SCST_CMD_STATE_DEFAULT);
        kemu::scatterlist::sg_copy_from_buffer(&mut cmd.d.lock().sg, &list);
        vdisk_exec(&cmd);
        assert_eq!(cmd.d.lock().status, 0);
        assert!(dev.d_sense.load(Relaxed));
        let (cmd, _) = cmd_for(&dev, &[MODE_SENSE, 0, 0x05, 0, 255, 0]);
        vdisk_exec(&cmd);
        assert_eq!(cmd.d.lock().sense.as_deref().unwrap()[0], 0x72);
        // A bad page in the parameter list: INVALID FIELD IN PARAMETER LIST (26/00).
        let mut bad = list;
        bad[4] = 0x1C;
        let (cmd, _) = cmd_for(&dev, &[MODE_SELECT, 0x10, 0, 0, 16, 0]);
        kemu::scatterlist::sg_copy_from_buffer(&mut cmd.d.lock().sg, &bad);
        vdisk_exec(&cmd);
        assert_eq!(sense_kaq(&cmd), (0x05, 0x26, 0x00));

        // REPORT SUPPORTED OPERATION CODES is local (answered by the core) for vdisk, which
        // has get_supported_opcodes(); REPORT TARGET PORT GROUPS is not.
        let tt = Arc::new(ScstTgtTemplate::new("iscsi", Arc::new(NoRelease)));
        let tgt = scst_alloc_tgt(&tt, "t".into(), None).unwrap();
        let sess = scst_alloc_session(&tgt, "ini");
        for (sa, local) in [(0x0Cu8, true), (0x0D, true), (0x0A, false)] {
            let cmd =
                scst_alloc_cmd(&sess, &[MAINTENANCE_IN, sa, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]).unwrap();
            {
                let mut d = cmd.d.lock();
                d.dev = Some(dev.clone());
                d.devt = Some(vdisk_file_devtype.clone());
            }
            assert_eq!(scst_get_cdb_info(&cmd), 0);
            assert_eq!(
                cmd.d.lock().op_flags & SCST_LOCAL_CMD != 0,
                local,
                "{sa:#x}"
            );
        }

        crate::scst_vdisk::fileio::vdisk_detach_tgt(&v);
        let _ = std::fs::remove_file(&path);
    }
}
