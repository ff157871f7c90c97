// SPDX-License-Identifier: GPL-2.0-only
//! Command execution of `scst_vdisk.c` shared by the four handlers: the per-command
//! parameters (C `struct vdisk_cmd_params`), the offset check done at parse time
//! (`vdisk_parse_offset()`), the opcode tables (`fileio_ops`, `blockio_ops`, `nullio_ops` and
//! their `SHARED_OPS`), the dispatcher `vdev_do_job()`, vcdrom's medium checks, and the
//! commands answered from the device's own data: INQUIRY with its VPD pages, REQUEST SENSE,
//! MODE SENSE, READ CAPACITY(10)/(16), READ TOC, LOG SENSE/SELECT and the no-ops.
//!
//! The functions work on plain inputs so that they can be tested without the SCST core's
//! command object: what C reads from `cmd`, `cmd->dev`, `cmd->tgt_dev`, `cmd->tgt` and
//! `cmd->tgtt` comes in a [`VdiskCmdCtx`]; what C sets on the command (`scst_set_cmd_error()`,
//! `scst_set_invalid_field_in_cdb()`, `scst_set_busy()`, `scst_set_resp_data_len()`) is
//! recorded in [`VdiskCmdParams`] for the caller to apply.

use super::TRACE_FLAG;
use super::{ScstVdiskDev, DEF_WRITE_THROUGH};
use crate::scst_vdisk::{fileio, mode_select, nullio, provision, vdev_saved_mode_pages_enabled};
use kemu::atomic::atomic_read;
use kemu::mm::{PAGE_SHIFT, PAGE_SIZE};
use kemu::scatterlist::{sg_copy_from_buffer, sg_total_len, Scatterlist};
use kemu::{PRINT_ERROR, PRINT_INFO, TRACE, TRACE_DBG};
use scst_core::scst::{ScstDevice, SCST_INVAL_FIELD_BIT_OFFS_VALID};
use scst_core::scst_const::*;
use std::sync::atomic::Ordering::Relaxed;

/// C `TRACE_ORDER`: vdisk's own trace flag for ORDERED/HQ commands and FUA.
pub const TRACE_ORDER: u32 = 0x8000_0000;

/// C `INQ_BUF_SZ`: the INQUIRY work buffer.
pub const INQ_BUF_SZ: usize = 256;
/// C `MSENSE_BUF_SZ`: the MODE SENSE work buffer.
pub const MSENSE_BUF_SZ: usize = 256;
/// C `EVPD`: INQUIRY byte 1, vital product data.
pub const EVPD: u8 = 0x01;
/// C `CMDDT`: INQUIRY byte 1, command support data (obsolete, refused).
pub const CMDDT: u8 = 0x02;
/// C `DBD`: MODE SENSE byte 1, disable block descriptors.
pub const DBD: u8 = 0x08;
/// C `WP`: device-specific parameter, write protect.
pub const WP: u8 = 0x80;
/// C `DPOFUA`: device-specific parameter, DPO and FUA supported.
pub const DPOFUA: u8 = 0x10;
/// C `WCE`: caching mode page byte 2, write cache enable.
pub const WCE: u8 = 0x04;
/// C `DEF_SECTORS`: sectors per track of the reported geometry.
pub const DEF_SECTORS: u16 = 56;
/// C `DEF_HEADS`: heads of the reported geometry.
pub const DEF_HEADS: u8 = 255;
/// C `SCSI_INQ_PQ_CON`: peripheral qualifier "connected".
pub const SCSI_INQ_PQ_CON: u8 = 0;
/// C `SCSI_INQ_PQ_NOT_CON`: peripheral qualifier "not connected".
pub const SCSI_INQ_PQ_NOT_CON: u8 = 1;
/// C `UIO_MAXIOV`: the most iovecs one `readv`/`writev` takes.
pub const UIO_MAXIOV: usize = 1024;
/// C `LEN_MEM`: VERIFY reads the medium in pieces of at most this many bytes.
pub const LEN_MEM: usize = 32 * 1024;
/// C `scst_main.c`: the default `dev->max_write_same_len` (256 MiB).
pub const SCST_DEF_MAX_WRITE_SAME_LEN: u64 = 256 * 1024 * 1024;
/// C `scst_alloc_tgt_dev()`: `ini_sg` of a virtual device ("infinite", 1 << 15).
pub const SCST_VIRT_INI_SG: u32 = 1 << 15;

/// C `enum compl_status_e`: what a vdisk op tells `vdev_do_job()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComplStatus {
    /// C `CMD_SUCCEEDED`: done (any error is already set on the command).
    CmdSucceeded,
    /// C `CMD_FAILED`: done; `vdev_do_job()` sets HARDWARE ERROR.
    CmdFailed,
    /// C `RUNNING_ASYNC`: the op completes the command itself later.
    RunningAsync,
    /// C `INVALID_OPCODE`: `vdev_do_job()` sets INVALID COMMAND OPERATION CODE.
    InvalidOpcode,
}

/// What an op sets on the command in C instead of data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VdiskCmdError {
    /// C `scst_set_cmd_error(cmd, SCST_LOAD_SENSE(key, asc, ascq))`: CHECK CONDITION with that
    /// sense (the triples of `scst_core::scst_const`, e.g. `scst_sense_invalid_opcode`).
    Sense((u8, u8, u8)),
    /// C `scst_set_invalid_field_in_cdb(cmd, field_offs, bit_offs)`: ILLEGAL REQUEST,
    /// INVALID FIELD IN CDB (24/00) with the sense-key specific field pointer to byte
    /// `field_offs`; `bit_offs` carries `SCST_INVAL_FIELD_BIT_OFFS_VALID` when the bit
    /// position (low 3 bits) is meaningful.
    InvalidFieldInCdb {
        /// The CDB byte.
        field_offs: u16,
        /// The bit, OR'ed with `SCST_INVAL_FIELD_BIT_OFFS_VALID` when valid.
        bit_offs: i32,
    },
    /// C `scst_set_invalid_field_in_parm_list(cmd, field_offs, bit_offs)`: ILLEGAL
    /// REQUEST, INVALID FIELD IN PARAMETER LIST (26/00) with the field pointer to byte
    /// `field_offs` of the parameter list.
    InvalidFieldInParmList {
        /// The parameter list byte.
        field_offs: u16,
        /// The bit, OR'ed with `SCST_INVAL_FIELD_BIT_OFFS_VALID` when valid.
        bit_offs: i32,
    },
    /// C `scst_set_busy(cmd)`: status BUSY (or TASK SET FULL), no sense.
    Busy,
}

impl VdiskCmdError {
    /// The `(key, ASC, ASCQ)` the error reports; `None` for [`VdiskCmdError::Busy`].
    pub fn sense(&self) -> Option<(u8, u8, u8)> {
        match *self {
            VdiskCmdError::Sense(s) => Some(s),
            VdiskCmdError::InvalidFieldInCdb { .. } => Some(scst_sense_invalid_field_in_cdb),
            VdiskCmdError::InvalidFieldInParmList { .. } => {
                Some(scst_sense_invalid_field_in_parm_list)
            }
            VdiskCmdError::Busy => None,
        }
    }
}

/// The `struct scst_device` fields that the control mode page reports, each with its
/// `_saved` and `_default` twin, as C's `vdisk_attach()` sets them. (The SCST core does not
/// have them yet; MODE SELECT, which changes them, is not ported yet.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VdiskDevModeParams {
    /// C `dev->tst` (from `virt_dev->tst`).
    pub tst: u8,
    /// C `dev->tmf_only`, `_saved`, `_default` (`DEF_TMF_ONLY` 0).
    pub tmf_only: [u8; 3],
    /// C `dev->d_sense`, `_saved`, `_default` (`DEF_DSENSE`: fixed format).
    pub d_sense: [u8; 3],
    /// C `dev->dpicz`, `_saved`, `_default` (`DEF_DPICZ`).
    pub dpicz: [u8; 3],
    /// C `dev->queue_alg`, `_saved`, `_default` (`DEF_QUEUE_ALG`: unrestricted reordering).
    pub queue_alg: [u8; 3],
    /// C `dev->qerr`, `_saved`, `_default` (`DEF_QERR`: all resume).
    pub qerr: [u8; 3],
    /// C `dev->swp`, `_saved`, `_default` (`DEF_SWP` 0).
    pub swp: [u8; 3],
    /// C `dev->tas`, `_saved`, `_default` (`DEF_TAS` 0).
    pub tas: [u8; 3],
    /// C `dev->ato`: 0 (modified by storage) without DIF.
    pub ato: u8,
    /// C `dev->cluster_mode`: no control page field is changeable in cluster mode.
    pub cluster_mode: bool,
}

impl VdiskDevModeParams {
    /// The values C's `vdisk_attach()` gives a device (current = saved = default), before
    /// saved mode pages are loaded.
    pub fn from_attach(virt_dev: &ScstVdiskDev) -> Self {
        // C: DEF_QUEUE_ALG_WT and DEF_QUEUE_ALG are both "unrestricted reordering".
        let qa = SCST_QUEUE_ALG_1_UNRESTRICTED_REORDER;
        Self {
            tst: virt_dev.tst,
            tmf_only: [0; 3],
            d_sense: [SCST_D_SENSE_0_FIXED_SENSE; 3],
            dpicz: [SCST_DPICZ_CHECK_ON_xPROT_0; 3],
            queue_alg: [qa; 3],
            qerr: [SCST_QERR_0_ALL_RESUME; 3],
            swp: [0; 3],
            tas: [0; 3],
            ato: SCST_ATO_0_MODIFIED_BY_STORAGE,
            cluster_mode: false,
        }
    }
}

/// What the vdisk command code reads from the command's device, session and target besides
/// the [`ScstVdiskDev`] (C: `cmd->dev`, `cmd->tgt_dev`, `cmd->tgt`, `cmd->tgtt`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VdiskCmdCtx {
    /// C `cmd->dev->type`: `TYPE_DISK` or `TYPE_ROM`.
    pub dev_type: i32,
    /// C `cmd->tgt->rel_tgt_id`: the relative target port identifier (VPD 83h).
    pub rel_tgt_id: u16,
    /// C `scst_lookup_tg_id(cmd->dev, cmd->tgt)`: the target port group (0: none).
    pub tg_id: u16,
    /// C `scst_alua_configured(cmd->dev)`: TPGS bits in the standard INQUIRY data.
    pub alua_configured: bool,
    /// C `scst_get_alua_state(cmd->dev, cmd->tgt)` (`SCST_TG_STATE_*`).
    pub alua_state: i32,
    /// C `cmd->tgtt->get_phys_transport_version(cmd->tgt)`, `None` without the callback.
    pub phys_transport_version: Option<u16>,
    /// C `cmd->tgtt->get_scsi_transport_version(cmd->tgt)`, `None` without the callback
    /// (iscsi-scst: `0x0960`).
    pub scsi_transport_version: Option<u16>,
    /// C `cmd->tgt_dev->tgt_dev_rd_only`: WP in MODE SENSE.
    pub tgt_dev_rd_only: bool,
    /// C `cmd->tgt_dev->max_sg_cnt` (VPD B0h).
    pub max_sg_cnt: u32,
    /// C `cmd->dev->max_write_same_len` in bytes (VPD B0h).
    pub max_write_same_len: u64,
    /// C `op_flags & SCST_SKIP_UA`: vcdrom does not report a medium change to it.
    pub skip_ua: bool,
    /// The control mode page values of `cmd->dev`.
    pub mode: VdiskDevModeParams,
    /// C `vdev_saved_mode_pages_enabled`, read once for the command (C reads the global,
    /// which changes only at module init).
    pub saved_mode_pages_enabled: bool,
}

/// The current control mode page values of `dev` (C reads them from `cmd->dev`; DPICZ is
/// kept in the vdisk device until the core's `ScstDevice` has it).
pub fn vdisk_mode_current(m: &mut VdiskDevModeParams, dev: &ScstDevice, virt_dev: &ScstVdiskDev) {
    let byte = |v: i32| u8::try_from(v).unwrap_or(0);
    m.tst = byte(atomic_read(&dev.tst));
    m.queue_alg[0] = byte(atomic_read(&dev.queue_alg));
    m.qerr[0] = byte(atomic_read(&dev.qerr));
    m.swp[0] = u8::from(dev.swp.load(Relaxed));
    m.tas[0] = u8::from(dev.tas.load(Relaxed));
    m.d_sense[0] = u8::from(dev.d_sense.load(Relaxed));
    m.tmf_only[0] = u8::from(dev.tmf_only.load(Relaxed));
    m.dpicz[0] = u8::from(virt_dev.dpicz.load(Relaxed));
}

impl VdiskCmdCtx {
    /// The context of a command on `virt_dev` (peripheral type `dev_type`) reaching it through
    /// an iSCSI target with relative port id `rel_tgt_id`, no ALUA, on a LUN that is
    /// read-only when the device is: iscsi-scst's SCSI transport version `0x0960`, no
    /// physical transport version, `max_sg_cnt` = min(1 << 15, iscsi-scst's
    /// `sg_tablesize` 0xFFFF). The control mode page values are the attached device's
    /// current ones (the attach defaults without a device).
    pub fn new(virt_dev: &ScstVdiskDev, dev_type: i32, rel_tgt_id: u16) -> Self {
        let mut mode = VdiskDevModeParams::from_attach(virt_dev);
        if let Some(dev) = virt_dev.dev.lock().upgrade() {
            vdisk_mode_current(&mut mode, &dev, virt_dev);
        }
        Self {
            dev_type,
            rel_tgt_id,
            tg_id: 0,
            alua_configured: false,
            alua_state: SCST_TG_STATE_OPTIMIZED,
            phys_transport_version: None,
            scsi_transport_version: Some(0x0960),
            tgt_dev_rd_only: virt_dev.rd_only.load(Relaxed),
            max_sg_cnt: SCST_VIRT_INI_SG.min(0xFFFF),
            max_write_same_len: SCST_DEF_MAX_WRITE_SAME_LEN,
            skip_ua: false,
            mode,
            saved_mode_pages_enabled: vdev_saved_mode_pages_enabled.load(Relaxed),
        }
    }
}

/// C `struct vdisk_cmd_params` together with the parts of `struct scst_cmd` the ops use:
/// the CDB, the data buffer (`cmd->sg`), and the results C stores in the command.
#[derive(Debug)]
pub struct VdiskCmdParams<'a> {
    /// C `cmd->cdb` (any length: bytes beyond it read as 0, so a short CDB never panics).
    pub cdb: &'a [u8],
    /// The command's device, session and target data.
    pub ctx: &'a VdiskCmdCtx,
    /// C `cmd->dev->dh_priv`.
    pub virt_dev: &'a ScstVdiskDev,
    /// C `cmd->sg`: the data buffer; its total length is C `cmd->bufflen`.
    pub sg: &'a mut [Scatterlist],
    /// C `p->loff`: the byte offset of the command's LBA (from [`vdisk_parse_offset`]).
    pub loff: i64,
    /// C `p->fua`: FUA of a WRITE.
    pub fua: bool,
    /// Out: the error C sets with `scst_set_cmd_error()` and its siblings (the first one
    /// wins, as in C).
    pub error: Option<VdiskCmdError>,
    /// In/out: C `cmd->resp_data_len`, initially the buffer length; ops lower it with
    /// `scst_set_resp_data_len()` when they return less data.
    pub resp_data_len: usize,
    /// C `cmd->bufflen`: the data length (the scatterlist may be longer, e.g. rounded up to
    /// whole pages by the SGV pool); initially the scatterlist's length.
    pub bufflen: usize,
    /// C `scst_cmd_get_data_len(cmd)`: the bytes the command works on, which differ from
    /// the buffer length for commands without data (VERIFY with BYTCHK 0, SYNCHRONIZE
    /// CACHE); initially the scatterlist's length.
    pub data_len: i64,
    /// C `scst_cmd_get_data_direction(cmd)` (`SCST_DATA_*`); initially `SCST_DATA_NONE`.
    /// VERIFY compares with the medium when it is `SCST_DATA_WRITE` (BYTCHK 1).
    pub data_direction: i32,
}

impl<'a> VdiskCmdParams<'a> {
    /// Parameters of a command with `cdb` whose data buffer is `sg`, at offset `loff`;
    /// `resp_data_len` starts at the buffer length.
    pub fn new(
        cdb: &'a [u8],
        ctx: &'a VdiskCmdCtx,
        virt_dev: &'a ScstVdiskDev,
        sg: &'a mut [Scatterlist],
        loff: i64,
    ) -> Self {
        let resp_data_len = sg_total_len(sg);
        Self {
            cdb,
            ctx,
            virt_dev,
            sg,
            loff,
            fua: false,
            error: None,
            resp_data_len,
            bufflen: resp_data_len,
            data_len: i64::try_from(resp_data_len).unwrap_or(i64::MAX),
            data_direction: SCST_DATA_NONE,
        }
    }

    /// CDB byte `i`, 0 beyond the CDB.
    pub fn cdb_byte(&self, i: usize) -> u8 {
        self.cdb.get(i).copied().unwrap_or(0)
    }

    /// C `scst_set_cmd_error()`: records `sense` unless an error is already set.
    pub fn scst_set_cmd_error(&mut self, sense: (u8, u8, u8)) {
        self.set_error(VdiskCmdError::Sense(sense));
    }

    /// C `scst_set_invalid_field_in_cdb()`.
    pub fn scst_set_invalid_field_in_cdb(&mut self, field_offs: u16, bit_offs: i32) {
        self.set_error(VdiskCmdError::InvalidFieldInCdb {
            field_offs,
            bit_offs,
        });
    }

    /// C `scst_set_invalid_field_in_parm_list()`.
    pub fn scst_set_invalid_field_in_parm_list(&mut self, field_offs: u16, bit_offs: i32) {
        self.set_error(VdiskCmdError::InvalidFieldInParmList {
            field_offs,
            bit_offs,
        });
    }

    /// C `scst_set_busy()`.
    pub fn scst_set_busy(&mut self) {
        self.set_error(VdiskCmdError::Busy);
    }

    /// Records `e` unless an error is already set (C: the first error of a command wins);
    /// used to pass on the error of an internal command.
    pub fn set_error_from(&mut self, e: VdiskCmdError) {
        self.set_error(e);
    }

    fn set_error(&mut self, e: VdiskCmdError) {
        if self.error.is_none() {
            self.error = Some(e);
        } else {
            TRACE_DBG!("Error already set, ignoring {:?}", e);
        }
    }

    /// C `scst_set_resp_data_len()`.
    pub fn scst_set_resp_data_len(&mut self, len: usize) {
        self.resp_data_len = len;
    }

    /// C `cmd->bufflen`: the data buffer length (what `scst_get_buf_full_sense()` returns).
    pub fn bufflen(&self) -> usize {
        sg_total_len(self.sg).min(self.bufflen)
    }

    /// C: `memcpy(address, buf, min(length, resp_len))`, `scst_put_buf_full()` and the
    /// `scst_set_resp_data_len()` that follows in every answering op: copies the first
    /// `resp_len` bytes of `buf` (at most the buffer length) into the data buffer and
    /// lowers `resp_data_len` to what was copied.
    fn put_resp(&mut self, buf: &[u8], resp_len: usize) {
        let length = self.bufflen().min(resp_len).min(buf.len());
        sg_copy_from_buffer(self.sg, &buf[..length]);
        if length < self.resp_data_len {
            self.scst_set_resp_data_len(length);
        }
    }
}

/// C `vdisk_op_fn`: one entry of an opcode table.
pub type VdiskOpFn = fn(&mut VdiskCmdParams<'_>) -> ComplStatus;

/// Which opcode table a device uses (C: `virt_dev->vdev_devt->devt_priv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VdiskOps {
    /// C `fileio_ops` (vdisk_fileio, and vcdrom on a file).
    Fileio,
    /// C `blockio_ops` (vdisk_blockio, and vcdrom opened BLOCKIO).
    Blockio,
    /// C `nullio_ops`.
    Nullio,
}

impl VdiskOps {
    /// The table of `virt_dev` (C: `nullio` → `nullio_ops`, `blockio` → `blockio_ops`,
    /// otherwise `fileio_ops`).
    pub fn of(virt_dev: &ScstVdiskDev) -> Self {
        if virt_dev.nullio {
            VdiskOps::Nullio
        } else if virt_dev.blockio {
            VdiskOps::Blockio
        } else {
            VdiskOps::Fileio
        }
    }
}

/// C `SHARED_OPS`: the entries all three tables share; `None` for an empty slot.
fn vdisk_shared_op(opcode: u8) -> Option<VdiskOpFn> {
    Some(match opcode {
        MODE_SENSE | MODE_SENSE_10 => vdisk_exec_mode_sense,
        LOG_SELECT | LOG_SENSE => vdisk_exec_log,
        ALLOW_MEDIUM_REMOVAL => vdisk_exec_prevent_allow_medium_removal,
        READ_TOC => vdisk_exec_read_toc,
        START_STOP => fileio::vdisk_exec_start_stop,
        SYNCHRONIZE_CACHE | SYNCHRONIZE_CACHE_16 => fileio::vdisk_synchronize_cache,
        RESERVE | RESERVE_10 | RELEASE | RELEASE_10 | TEST_UNIT_READY => vdisk_nop,
        INQUIRY => vdisk_exec_inquiry,
        REQUEST_SENSE => vdisk_exec_request_sense,
        READ_CAPACITY => vdisk_exec_read_capacity,
        SERVICE_ACTION_IN_16 => vdisk_exec_sai_16,
        SEND_DIAGNOSTIC => vdisk_exec_send_diagnostic,
        MODE_SELECT | MODE_SELECT_10 => mode_select::vdisk_exec_mode_select,
        UNMAP => provision::vdisk_exec_unmap,
        WRITE_SAME | WRITE_SAME_16 => provision::vdisk_exec_write_same,
        MAINTENANCE_IN => vdisk_exec_maintenance_in,
        MAINTENANCE_OUT => vdisk_exec_maintenance_out,
        FORMAT_UNIT => provision::vdisk_exec_format_unit,
        _ => return None,
    })
}

/// C `fileio_ops[opcode]` / `blockio_ops[opcode]` / `nullio_ops[opcode]`: the op for
/// `opcode`, [`vdisk_invalid_opcode`] for an empty slot (C: `vdev_do_job()` calls the NULL
/// slot's replacement, `vdisk_invalid_opcode`, filled in at init).
///
/// BLOCKIO reads and writes go through the FILEIO functions (`preadv`/`pwritev` on the
/// block device): user space has no bio layer. Ops not ported yet answer through
/// [`vdisk_not_ported`].
pub fn vdisk_op(ops: VdiskOps, opcode: u8) -> VdiskOpFn {
    let op: Option<VdiskOpFn> = match (ops, opcode) {
        (VdiskOps::Nullio, READ_6 | READ_10 | READ_12 | READ_16) => Some(nullio::nullio_exec_read),
        (VdiskOps::Nullio, WRITE_6 | WRITE_10 | WRITE_12 | WRITE_16) => {
            Some(nullio::nullio_exec_write)
        }
        (VdiskOps::Nullio, WRITE_VERIFY | WRITE_VERIFY_12 | WRITE_VERIFY_16) => {
            Some(nullio::nullio_exec_write_verify)
        }
        (VdiskOps::Nullio, VERIFY | VERIFY_12 | VERIFY_16) => Some(nullio::nullio_exec_verify),
        (VdiskOps::Blockio, WRITE_VERIFY | WRITE_VERIFY_12 | WRITE_VERIFY_16) => {
            Some(fileio::blockio_exec_write_verify)
        }
        (_, READ_6 | READ_10 | READ_12 | READ_16) => Some(fileio::fileio_exec_read),
        (_, WRITE_6 | WRITE_10 | WRITE_12 | WRITE_16) => Some(fileio::fileio_exec_write),
        (_, WRITE_VERIFY | WRITE_VERIFY_12 | WRITE_VERIFY_16) => {
            Some(fileio::fileio_exec_write_verify)
        }
        (_, VERIFY | VERIFY_12 | VERIFY_16) => Some(fileio::vdev_exec_verify),
        // C: *_exec_var_len_cmd; the core accepts 32-byte CDBs only for DIF type 2, which a
        // procfs build cannot configure.
        (_, VARIABLE_LENGTH_CMD) => Some(vdisk_not_ported),
        _ => vdisk_shared_op(opcode),
    };
    op.unwrap_or(vdisk_invalid_opcode)
}

/// C `vdisk_invalid_opcode()`.
pub fn vdisk_invalid_opcode(p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    TRACE_DBG!("Invalid opcode 0x{:02x}", p.cdb_byte(0));
    ComplStatus::InvalidOpcode
}

/// An op of r7105 the port does not have yet (REPORT/SET TARGET PORT GROUPS, which need
/// ALUA, and the 32-byte CDBs): answered as an unsupported opcode, with a log line.
/// Documented deviation until they are ported.
pub fn vdisk_not_ported(p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    PRINT_INFO!(
        "vdisk: opcode 0x{:02x} is not ported yet, answering INVALID OPCODE",
        p.cdb_byte(0)
    );
    ComplStatus::InvalidOpcode
}

/// C `vdisk_exec_maintenance_in()`: MAINTENANCE IN that reaches the handler: REPORT TARGET
/// PORT GROUPS (C `vdisk_exec_report_tpgs()`, not ported: ALUA) answers INVALID OPCODE
/// through [`vdisk_not_ported`]; another service action is INVALID FIELD IN CDB (byte 1,
/// bit 0). (REPORT SUPPORTED OPERATION CODES and TASK MANAGEMENT FUNCTIONS are answered by
/// the core.)
pub fn vdisk_exec_maintenance_in(p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    if p.cdb_byte(1) & 0x1f == MI_REPORT_TARGET_PGS {
        return vdisk_not_ported(p);
    }
    p.scst_set_invalid_field_in_cdb(1, SCST_INVAL_FIELD_BIT_OFFS_VALID);
    ComplStatus::CmdSucceeded
}

/// C `vdisk_exec_maintenance_out()`: SET TARGET PORT GROUPS (C `vdisk_exec_set_tpgs()`, not
/// ported: ALUA) answers INVALID OPCODE through [`vdisk_not_ported`]; another service
/// action is INVALID FIELD IN CDB (byte 1, bit 0).
pub fn vdisk_exec_maintenance_out(p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    if p.cdb_byte(1) & 0x1f == MO_SET_TARGET_PGS {
        return vdisk_not_ported(p);
    }
    p.scst_set_invalid_field_in_cdb(1, SCST_INVAL_FIELD_BIT_OFFS_VALID);
    ComplStatus::CmdSucceeded
}

/// C `vdisk_nop()`: TEST UNIT READY, RESERVE, RELEASE.
pub fn vdisk_nop(_p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    ComplStatus::CmdSucceeded
}

/// C `vdisk_exec_send_diagnostic()`: success.
pub fn vdisk_exec_send_diagnostic(_p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    ComplStatus::CmdSucceeded
}

/// C `vdisk_exec_log()`: no log pages, INVALID FIELD IN CDB (byte 2, bit 0).
pub fn vdisk_exec_log(p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    p.scst_set_invalid_field_in_cdb(2, SCST_INVAL_FIELD_BIT_OFFS_VALID);
    ComplStatus::CmdSucceeded
}

/// C `vdisk_exec_prevent_allow_medium_removal()`: remembers PREVENT (byte 4 bit 0). Nothing
/// reads it in r7105 but the sysfs dump and the vcdrom medium change, which refuses to
/// change a prevented medium.
pub fn vdisk_exec_prevent_allow_medium_removal(p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    TRACE_DBG!("PERSIST/PREVENT 0x{:02x}", p.cdb_byte(4));
    p.virt_dev
        .prevent_allow_medium_removal
        .store(p.cdb_byte(4) & 0x01 != 0, Relaxed);
    ComplStatus::CmdSucceeded
}

/// The result of [`vdisk_parse_offset`]: C `p->loff` and `p->fua`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VdiskParsedOffset {
    /// C `p->loff`: `lba << block_shift`.
    pub loff: i64,
    /// C `p->fua`: FUA of WRITE(10/12/16) and WRITE(32).
    pub fua: bool,
}

/// C `vdisk_parse_offset()`: checks the command the core parsed (`info_valid`: C
/// `op_flags & SCST_INFO_VALID`; `lba`, `data_len`: C `scst_cmd_get_lba()`,
/// `scst_cmd_get_data_len()`; `lba_not_valid`: C `op_flags & SCST_LBA_NOT_VALID`) and
/// computes the byte offset. Errors as C: an opcode the core does not know → INVALID
/// COMMAND OPERATION CODE; an access beyond the end of the device → LOGICAL BLOCK ADDRESS
/// OUT OF RANGE, or MEDIUM NOT PRESENT for an empty vcdrom.
///
/// C computes `lba << block_shift` in 64 bits and would wrap; here an offset that does not
/// fit is out of range too.
pub fn vdisk_parse_offset(
    virt_dev: &ScstVdiskDev,
    cdb: &[u8],
    info_valid: bool,
    lba: u64,
    data_len: i64,
    lba_not_valid: bool,
) -> Result<VdiskParsedOffset, VdiskCmdError> {
    let b = |i: usize| cdb.get(i).copied().unwrap_or(0);
    if !info_valid {
        TRACE!(kemu::printk::TRACE_MINOR, "Unknown opcode 0x{:02x}", b(0));
        return Err(VdiskCmdError::Sense(scst_sense_invalid_opcode));
    }

    let shift = u32::try_from(virt_dev.blk_shift).unwrap_or(0);
    let file_size = virt_dev.file_size.load(Relaxed);
    // None: the offset does not fit, which can only be beyond the end.
    let loff: Option<i64> = lba
        .checked_shl(shift)
        .filter(|l| l >> shift == lba)
        .and_then(|l| i64::try_from(l).ok());
    TRACE_DBG!("lba_start {}, loff {:?}, data_len {}", lba, loff, data_len);

    let end = loff.and_then(|l| l.checked_add(data_len.max(0)));
    let beyond = end.is_none_or(|e| e > file_size);
    if beyond && !lba_not_valid {
        if virt_dev.cdrom_empty.load(Relaxed) {
            TRACE_DBG!("CDROM empty");
            return Err(VdiskCmdError::Sense(scst_sense_no_medium));
        }
        PRINT_INFO!(
            "Access beyond the end of device {} ({:?} of {}, data len {})",
            virt_dev.name,
            loff,
            file_size,
            data_len
        );
        return Err(VdiskCmdError::Sense(scst_sense_block_out_range_error));
    }

    let fua = match b(0) {
        VARIABLE_LENGTH_CMD => b(9) == SUBCODE_WRITE_32 && b(10) & 0x8 != 0,
        WRITE_10 | WRITE_12 | WRITE_16 => b(1) & 0x8 != 0,
        _ => false,
    };
    if fua {
        TRACE!(TRACE_ORDER, "FUA: loff={:?}, data_len={}", loff, data_len);
    }
    Ok(VdiskParsedOffset {
        loff: loff.unwrap_or(0),
        fua,
    })
}

/// C `vdev_do_job()`: runs the op of `ops` for the command's opcode and turns its status
/// into the command's result (C: `CMD_FAILED` → HARDWARE ERROR, `INVALID_OPCODE` → INVALID
/// COMMAND OPERATION CODE). Returns `false` when the op runs asynchronously
/// (`RUNNING_ASYNC`), `true` when the caller must complete the command now (C: `completed
/// = 1` and `scst_cmd_done()`). While FORMAT UNIT runs, every command but INQUIRY, REPORT
/// LUNS and REQUEST SENSE gets NOT READY, FORMAT IN PROGRESS.
pub fn vdev_do_job(p: &mut VdiskCmdParams<'_>, ops: VdiskOps) -> bool {
    // C: "No need to make it volatile, because at worst we will have a couple of extra
    // commands refused after formatting actually finished, which is acceptable."
    if p.virt_dev.format_active.load(Relaxed)
        && !matches!(p.cdb_byte(0), INQUIRY | REPORT_LUNS | REQUEST_SENSE)
    {
        p.scst_set_cmd_error(scst_sense_format_in_progress);
        return true;
    }
    let op = vdisk_op(ops, p.cdb_byte(0));
    match op(p) {
        ComplStatus::CmdSucceeded => {}
        ComplStatus::RunningAsync => return false,
        ComplStatus::CmdFailed => p.scst_set_cmd_error(scst_sense_hardw_error),
        ComplStatus::InvalidOpcode => {
            TRACE_DBG!("Invalid opcode 0x{:02x}", p.cdb_byte(0));
            p.scst_set_cmd_error(scst_sense_invalid_opcode);
        }
    }
    true
}

/// C: the checks `vcdrom_exec()` makes before `vdev_do_job()`: an empty drive answers
/// everything but INQUIRY with MEDIUM NOT PRESENT; a changed medium is reported once as
/// UNIT ATTENTION 28/00 to a command that does not skip unit attentions.
pub fn vcdrom_exec_checks(
    virt_dev: &ScstVdiskDev,
    opcode: u8,
    skip_ua: bool,
) -> Result<(), VdiskCmdError> {
    if virt_dev.cdrom_empty.load(Relaxed) && opcode != INQUIRY {
        TRACE_DBG!("CDROM empty");
        return Err(VdiskCmdError::Sense(scst_sense_no_medium));
    }
    // C tests media_changed, then tests and clears it again under flags_lock.
    if !skip_ua && virt_dev.media_changed.swap(false, Relaxed) {
        TRACE_DBG!("Reporting media changed");
        return Err(VdiskCmdError::Sense(scst_sense_medium_changed_UA));
    }
    Ok(())
}

fn put_be16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_be_bytes());
}

fn put_be32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_be_bytes());
}

fn put_be64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_be_bytes());
}

/// C `scst_copy_and_fill()`: `src` into `dst`, the rest filled with spaces.
fn copy_and_fill(dst: &mut [u8], src: &[u8], fill: u8) {
    let n = src.len().min(dst.len());
    dst[..n].copy_from_slice(&src[..n]);
    dst[n..].fill(fill);
}

/// Grows the work buffer to `len` bytes (zero-filled) if it is shorter.
fn ensure(buf: &mut Vec<u8>, len: usize) {
    if buf.len() < len {
        buf.resize(len, 0);
    }
}

/// C `vdisk_sup_vpd()`: Supported VPD Pages (00h): 00, 80, 83, 86, and for disks B0, B1
/// and, when thin provisioned, B2. Returns the page length.
pub fn vdisk_sup_vpd(buf: &mut Vec<u8>, ctx: &VdiskCmdCtx, virt_dev: &ScstVdiskDev) -> usize {
    let mut pages = vec![0x00u8, 0x80, 0x83, 0x86];
    if ctx.dev_type == TYPE_DISK {
        pages.extend([0xB0, 0xB1]);
        if virt_dev.thin_provisioned.load(Relaxed) {
            pages.push(0xB2);
        }
    }
    ensure(buf, 4 + pages.len());
    buf[4..4 + pages.len()].copy_from_slice(&pages);
    buf[3] = pages.len() as u8;
    usize::from(buf[3]) + 4
}

/// C `vdisk_usn_vpd()`: Unit Serial Number (80h) = `usn`. (No target driver of the port has
/// C's `get_serial` callback.)
pub fn vdisk_usn_vpd(buf: &mut Vec<u8>, virt_dev: &ScstVdiskDev) -> usize {
    buf[1] = 0x80;
    let s = virt_dev.vdisk_serial.read();
    let usn = s.usn.as_bytes();
    let n = usn.len().min(super::MAX_USN_LEN - 1);
    ensure(buf, 4 + n);
    buf[3] = n as u8;
    buf[4..4 + n].copy_from_slice(&usn[..n]);
    usize::from(buf[3]) + 4
}

/// C `vdisk_dev_id_vpd()`: Device Identification (83h). Designators in C's order: SCSI name
/// string (if `scsi_device_name` is set; NUL-padded to a multiple of 4 with at least one
/// NUL), T10 vendor id (`t10_vend_id` space-padded to 8 + `vend_specific_id`), relative
/// target port (`rel_tgt_id`), target port group (if any), then EUI-64 and NAA from
/// `eui64_id`/`naa_id`; without either, the first 8 bytes of `t10_dev_id` as an EUI-64
/// (C's compatibility mode).
///
/// C's 256-byte buffer would overflow with a 253+ character `scsi_device_name` (settable
/// only through sysfs); here the name is cut to 248 characters (252 padded).
pub fn vdisk_dev_id_vpd(buf: &mut Vec<u8>, ctx: &VdiskCmdCtx, virt_dev: &ScstVdiskDev) -> usize {
    let s = virt_dev.vdisk_serial.read();
    let mut num = 4usize;
    buf[1] = 0x83;

    let name = s.scsi_device_name.as_bytes();
    if !name.is_empty() {
        let name = &name[..name.len().min(248)];
        let i = name.len() + 4 - name.len() % 4;
        ensure(buf, num + 4 + i);
        buf[num] = 0x3; // UTF-8 (C: "ASCII")
        buf[num + 1] = 0x20 | 0x8; // target device, SCSI name string
        copy_and_fill(&mut buf[num + 4..num + 4 + i], name, 0);
        buf[num + 3] = i as u8;
        num += i + 4;
    }

    // T10 vendor identifier (faked).
    let vs = s.vend_specific_id.as_bytes();
    let vs = &vs[..vs.len().min(128)];
    ensure(buf, num + 12 + vs.len());
    buf[num] = 0x2; // ASCII
    buf[num + 1] = 0x1; // T10 vendor ID
    copy_and_fill(&mut buf[num + 4..num + 12], s.t10_vend_id.as_bytes(), b' ');
    buf[num + 12..num + 12 + vs.len()].copy_from_slice(vs);
    buf[num + 3] = (8 + vs.len()) as u8;
    num += 8 + vs.len() + 4;

    // Relative target port identifier.
    ensure(buf, num + 8);
    buf[num] = 0x01; // binary
    buf[num + 1] = 0x10 | 0x04; // target port, relative target port
    put_be16(buf, num + 6, ctx.rel_tgt_id);
    buf[num + 3] = 4;
    num += 8;

    if ctx.tg_id != 0 {
        // Target port group.
        ensure(buf, num + 8);
        buf[num] = 0x01;
        buf[num + 1] = 0x10 | 0x05;
        put_be16(buf, num + 6, ctx.tg_id);
        buf[num + 3] = 4;
        num += 8;
    }

    let t10 = s.t10_dev_id.as_bytes();
    let (eui64, naa): (&[u8], &[u8]) = if s.eui64_id.is_empty() && s.naa_id.is_empty() {
        // C copies 8 bytes of the 26-byte t10_dev_id array: NULs past a short id.
        (t10, &[])
    } else {
        (&s.eui64_id, &s.naa_id)
    };
    let compat = s.eui64_id.is_empty() && s.naa_id.is_empty();
    if compat || !eui64.is_empty() {
        let len = if compat { 8 } else { eui64.len().min(255) };
        ensure(buf, num + 4 + len);
        buf[num] = 0x01;
        buf[num + 1] = 0x02; // EUI-64
        buf[num + 2] = 0;
        buf[num + 3] = len as u8;
        let n = eui64.len().min(len);
        buf[num + 4..num + 4 + n].copy_from_slice(&eui64[..n]);
        buf[num + 4 + n..num + 4 + len].fill(0);
        num += 4 + len;
    }
    if !naa.is_empty() {
        let len = naa.len().min(255);
        ensure(buf, num + 4 + len);
        buf[num] = 0x01;
        buf[num + 1] = 0x03; // NAA
        buf[num + 2] = 0;
        buf[num + 3] = len as u8;
        buf[num + 4..num + 4 + len].copy_from_slice(&naa[..len]);
        num += 4 + len;
    }

    let resp_len = num - 4;
    put_be16(buf, 2, u16::try_from(resp_len).unwrap_or(u16::MAX));
    resp_len + 4
}

/// C `vdisk_ext_inq()`: Extended INQUIRY Data (86h): HEADSUP/ORDSUP/SIMPSUP, V_SUP unless
/// write-through or NV cache, LUICLR. (DIF bits: no DIF in procfs builds.)
pub fn vdisk_ext_inq(buf: &mut Vec<u8>, virt_dev: &ScstVdiskDev) -> usize {
    ensure(buf, 0x3C + 4);
    buf[1] = 0x86;
    buf[3] = 0x3C;
    buf[5] = 7;
    buf[6] = u8::from(!(virt_dev.wt_flag.load(Relaxed) || virt_dev.nv_cache.load(Relaxed)));
    buf[7] = 1;
    usize::from(buf[3]) + 4
}

/// C `vdisk_block_limits()`: Block Limits (B0h).
pub fn vdisk_block_limits(buf: &mut Vec<u8>, ctx: &VdiskCmdCtx, virt_dev: &ScstVdiskDev) -> usize {
    ensure(buf, 0x3C + 4);
    let block_size = u64::from(virt_dev.block_size());
    let block_shift = u32::try_from(virt_dev.blk_shift).unwrap_or(9);
    buf[1] = 0xB0;
    buf[3] = 0x3C;
    buf[4] = 1; // WSNZ
    buf[5] = 0xFF; // no MAXIMUM COMPARE AND WRITE LENGTH limit
                   // Optimal transfer length granularity: a page.
    put_be16(buf, 6, (PAGE_SIZE as u64 / block_size).max(1) as u16);
    // Maximum transfer length: the smaller of the sg limit and 8 MiB.
    let max_transfer =
        ((u64::from(ctx.max_sg_cnt) << PAGE_SHIFT).min(8 * 1024 * 1024) / block_size) as u32;
    put_be32(buf, 8, max_transfer);
    // Optimal transfer length: 512 KiB (the SGV cache serves buffers below 4 MiB).
    put_be32(buf, 12, max_transfer.min((512 * 1024 / block_size) as u32));
    if virt_dev.thin_provisioned.load(Relaxed) {
        put_be32(buf, 24, 0xFFFF_FFFF); // MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT: unlimited
        put_be32(buf, 20, virt_dev.unmap_max_lba_cnt.load(Relaxed));
        put_be32(buf, 28, virt_dev.unmap_opt_gran.load(Relaxed));
        let align = virt_dev.unmap_align.load(Relaxed);
        if align != 0 {
            put_be32(buf, 32, align);
            buf[32] |= 0x80;
        }
    }
    put_be64(buf, 36, ctx.max_write_same_len >> block_shift);
    usize::from(buf[3]) + 4
}

/// C `vdisk_bdev_char()`: Block Device Characteristics (B1h): 15000 rpm if rotational,
/// else 1 (non-rotating medium).
pub fn vdisk_bdev_char(buf: &mut Vec<u8>, virt_dev: &ScstVdiskDev) -> usize {
    ensure(buf, 0x3C + 4);
    buf[1] = 0xB1;
    buf[3] = 0x3C;
    let rate = if virt_dev.rotational.load(Relaxed) {
        0x3A98
    } else {
        1
    };
    put_be16(buf, 4, rate);
    usize::from(buf[3]) + 4
}

/// C `vdisk_tp_vpd()`: Logical Block Provisioning (B2h): LBPU, LBPWS, LBPWS10, LBPRZ if
/// discard zeroes data, provisioning type thin.
pub fn vdisk_tp_vpd(buf: &mut Vec<u8>, virt_dev: &ScstVdiskDev) -> usize {
    ensure(buf, 8);
    buf[1] = 0xB2;
    buf[3] = 4;
    buf[5] = 0xE0;
    if virt_dev.discard_zeroes_data.load(Relaxed) {
        buf[5] |= 0x4;
    }
    buf[6] = 2;
    usize::from(buf[3]) + 4
}

/// C `vdisk_inq()`: the standard INQUIRY data (bytes 1–; byte 0 is set by the caller).
/// Returns its length: 64 bytes for an iSCSI device without vendor-specific data (version
/// descriptors SAM-4 0x008B, iSCSI 0x0960, SPC-4 0x0463).
///
/// C's 256-byte buffer would overflow with more than 160 bytes of `inq_vend_specific`
/// (settable only through sysfs); here longer data is cut to 160 bytes.
pub fn vdisk_inq(buf: &mut Vec<u8>, ctx: &VdiskCmdCtx, virt_dev: &ScstVdiskDev) -> usize {
    ensure(buf, INQ_BUF_SZ);
    if virt_dev.removable.load(Relaxed) {
        buf[1] = 0x80;
    }
    buf[2] = 6; // SPC-4
    buf[3] = 0x02 | 0x20; // response data format 2, NormACA
    buf[4] = 31;
    if ctx.alua_configured {
        buf[5] |= SCST_INQ_TPGS_MODE_IMPLICIT;
        if virt_dev.expl_alua.load(Relaxed) {
            buf[5] |= SCST_INQ_TPGS_MODE_EXPLICIT;
        }
    }
    buf[5] |= 8; // 3PC
    buf[6] = 0x10; // MultiP
    buf[7] = 2; // CmdQue

    let s = virt_dev.vdisk_serial.read();
    copy_and_fill(&mut buf[8..16], s.t10_vend_id.as_bytes(), b' ');
    copy_and_fill(&mut buf[16..32], s.prod_id.as_bytes(), b' ');
    copy_and_fill(&mut buf[32..36], s.prod_rev_lvl.as_bytes(), b' ');
    let vend = &s.inq_vend_specific[..s.inq_vend_specific.len().min(INQ_BUF_SZ - 96)];
    if vend.len() <= 20 {
        buf[36..36 + vend.len()].copy_from_slice(vend);
    }

    // Version descriptors.
    buf[4] += 58 - 36;
    let mut num = 0usize;
    put_be16(buf, 58 + num, 0x008B); // SAM-4
    num += 2;
    if let Some(v) = ctx.phys_transport_version {
        if v != 0 {
            put_be16(buf, 58 + num, v);
            num += 2;
        }
    }
    if let Some(v) = ctx.scsi_transport_version {
        put_be16(buf, 58 + num, v);
        num += 2;
    }
    put_be16(buf, 58 + num, 0x0463); // SPC-4
    num += 2;
    if virt_dev.command_set_version != 0 {
        put_be16(buf, 58 + num, virt_dev.command_set_version);
        num += 2;
    }
    if vend.len() > 20 {
        buf[96..96 + vend.len()].copy_from_slice(vend);
        num = 96 - 58 + vend.len();
    }
    buf[4] = buf[4].wrapping_add(num as u8);
    usize::from(buf[4]) + 5
}

/// C `vdisk_exec_inquiry()`: standard INQUIRY data or the VPD page of byte 2, cut to the
/// allocation length (the buffer). CMDDT → INVALID FIELD IN CDB (byte 1, bit 1); an
/// unsupported page, or a page code without EVPD → INVALID FIELD IN CDB (byte 2). Byte 0
/// is PQ 1 with the device type when the ALUA state is unavailable or offline, PQ 1 / type
/// 1Fh for a `dummy` device, else PQ 0 with the device type. With an empty buffer nothing is
/// checked (as C).
pub fn vdisk_exec_inquiry(p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    let length = p.bufflen();
    TRACE_DBG!("length {}", length);
    if length == 0 {
        return ComplStatus::CmdSucceeded;
    }
    if p.cdb_byte(1) & CMDDT != 0 {
        TRACE_DBG!("INQUIRY: CMDDT is unsupported");
        p.scst_set_invalid_field_in_cdb(1, SCST_INVAL_FIELD_BIT_OFFS_VALID | 1);
        return ComplStatus::CmdSucceeded;
    }
    let (ctx, virt_dev) = (p.ctx, p.virt_dev);
    let mut buf = vec![0u8; INQ_BUF_SZ];
    let dev_type = (ctx.dev_type & 0x1f) as u8;
    buf[0] =
        if ctx.alua_state == SCST_TG_STATE_UNAVAILABLE || ctx.alua_state == SCST_TG_STATE_OFFLINE {
            SCSI_INQ_PQ_NOT_CON << 5 | dev_type
        } else if virt_dev.dummy.load(Relaxed) {
            SCSI_INQ_PQ_NOT_CON << 5 | 0x1f
        } else {
            SCSI_INQ_PQ_CON << 5 | dev_type
        };
    let page = p.cdb_byte(2);
    let disk = ctx.dev_type == TYPE_DISK;
    let resp_len = if p.cdb_byte(1) & EVPD != 0 {
        match page {
            0x00 => vdisk_sup_vpd(&mut buf, ctx, virt_dev),
            0x80 => vdisk_usn_vpd(&mut buf, virt_dev),
            0x83 => vdisk_dev_id_vpd(&mut buf, ctx, virt_dev),
            0x86 => vdisk_ext_inq(&mut buf, virt_dev),
            0xB0 if disk => vdisk_block_limits(&mut buf, ctx, virt_dev),
            0xB1 if disk => vdisk_bdev_char(&mut buf, virt_dev),
            0xB2 if disk && virt_dev.thin_provisioned.load(Relaxed) => {
                vdisk_tp_vpd(&mut buf, virt_dev)
            }
            _ => {
                TRACE_DBG!("INQUIRY: Unsupported EVPD page {:x}", page);
                p.scst_set_invalid_field_in_cdb(2, 0);
                return ComplStatus::CmdSucceeded;
            }
        }
    } else {
        if page != 0 {
            TRACE_DBG!("INQUIRY: Unsupported page {:x}", page);
            p.scst_set_invalid_field_in_cdb(2, 0);
            return ComplStatus::CmdSucceeded;
        }
        vdisk_inq(&mut buf, ctx, virt_dev)
    };
    p.put_resp(&buf, resp_len);
    ComplStatus::CmdSucceeded
}

/// C `scst_set_sense()` for an 18-byte buffer: fixed format (70h, key in byte 2, additional
/// length 10, ASC/ASCQ in bytes 12–13; 18 bytes) or, with `d_sense`, descriptor format
/// (72h, key/ASC/ASCQ in bytes 1–3; 8 bytes). Returns the sense length.
pub fn vdisk_set_sense(
    b: &mut [u8; SCST_STANDARD_SENSE_LEN],
    d_sense: bool,
    s: (u8, u8, u8),
) -> usize {
    b.fill(0);
    let (key, asc, ascq) = s;
    if d_sense {
        b[0] = 0x72;
        b[1] = key;
        b[2] = asc;
        b[3] = ascq;
        8
    } else {
        b[0] = 0x70;
        b[2] = key;
        b[7] = 0x0a;
        b[12] = asc;
        b[13] = ascq;
        SCST_STANDARD_SENSE_LEN
    }
}

/// C `vdisk_exec_request_sense()`: what REQUEST SENSE returns when the core
/// (`scst_request_sense_local()`) has no pending sense to report: NO SENSE, in the
/// device's sense format, cut to the allocation length; while FORMAT UNIT runs, NOT READY,
/// FORMAT IN PROGRESS with the progress indication.
pub fn vdisk_exec_request_sense(p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    let mut b = [0u8; SCST_STANDARD_SENSE_LEN];
    let d_sense = p.ctx.mode.d_sense[0] != 0;
    let virt_dev = p.virt_dev;
    // C: "No need to make it volatile, because at worst we will have a couple of extra
    // commands refused after formatting actually finished, which is acceptable."
    let sl = if virt_dev.format_active.load(Relaxed) {
        let div = (virt_dev.format_progress_to_do.load(Relaxed) >> 16).max(1);
        let v = (virt_dev.format_progress_done.load(Relaxed) / div) as u16;
        TRACE_DBG!("Format progress {}", v);
        let sl = vdisk_set_sense(&mut b, d_sense, scst_sense_format_in_progress);
        if d_sense {
            // A sense key specific descriptor with the progress indication. (As r7105, the
            // returned length stays that of the 8-byte header: the descriptor is counted
            // in the additional length but not returned.)
            b[7] += 8;
            let o = 8;
            b[o] = 2;
            b[o + 1] = 6;
            b[o + 4] = 0x80;
            put_be16(&mut b, o + 5, v);
        } else {
            b[15] = 0x80;
            put_be16(&mut b, 16, v);
        }
        sl
    } else {
        vdisk_set_sense(&mut b, d_sense, scst_sense_no_sense)
    };
    let length = p.bufflen();
    TRACE_DBG!("length {}", length);
    if length == 0 {
        return ComplStatus::CmdSucceeded;
    }
    let length = sl.min(length);
    sg_copy_from_buffer(p.sg, &b[..length]);
    p.scst_set_resp_data_len(length);
    ComplStatus::CmdSucceeded
}

/// C `vdisk_err_recov_pg()`: Read-Write Error Recovery page (01h); `pcontrol` 1
/// (changeable) zeroes the parameters.
pub fn vdisk_err_recov_pg(p: &mut [u8], pcontrol: u8) -> usize {
    const PG: [u8; 12] = [0x1, 0xa, 0xc0, 1, 0, 0, 0, 0, 1, 0, 0xff, 0xff];
    p[..PG.len()].copy_from_slice(&PG);
    if pcontrol == 1 {
        p[2..PG.len()].fill(0);
    }
    PG.len()
}

/// C `vdisk_disconnect_pg()`: Disconnect-Reconnect page (02h).
pub fn vdisk_disconnect_pg(p: &mut [u8], pcontrol: u8) -> usize {
    const PG: [u8; 16] = [0x2, 0xe, 128, 128, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    p[..PG.len()].copy_from_slice(&PG);
    if pcontrol == 1 {
        p[2..PG.len()].fill(0);
    }
    PG.len()
}

/// C `vdisk_rigid_geo_pg()`: Rigid Disk Geometry page (04h): cylinders = nblocks /
/// (255 × 56) rounded up (bytes 2–4), 255 heads, 15000 rpm.
pub fn vdisk_rigid_geo_pg(p: &mut [u8], pcontrol: u8, virt_dev: &ScstVdiskDev) -> usize {
    let mut pg: [u8; 24] = [
        0x04, 0x16, 0, 0, 0, DEF_HEADS, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x3a, 0x98, 0, 0,
    ];
    let per_cyl = u64::from(DEF_HEADS) * u64::from(DEF_SECTORS);
    let nblocks = virt_dev.nblocks.load(Relaxed);
    // C keeps the quotient in an int32_t and stores its low 24 bits big-endian.
    let ncyl = (nblocks / per_cyl + u64::from(!nblocks.is_multiple_of(per_cyl))) as u32;
    pg[2..5].copy_from_slice(&ncyl.to_be_bytes()[1..4]);
    p[..pg.len()].copy_from_slice(&pg);
    if pcontrol == 1 {
        p[2..pg.len()].fill(0);
    }
    pg.len()
}

/// C `vdisk_format_pg()`: Format Device page (03h): 56 sectors per track, the block size,
/// byte 20 = 40h (HSEC).
pub fn vdisk_format_pg(p: &mut [u8], pcontrol: u8, virt_dev: &ScstVdiskDev) -> usize {
    let mut pg: [u8; 24] = [
        0x3, 0x16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0,
    ];
    put_be16(&mut pg, 10, DEF_SECTORS);
    put_be16(&mut pg, 12, virt_dev.block_size() as u16);
    p[..pg.len()].copy_from_slice(&pg);
    if pcontrol == 1 {
        p[2..pg.len()].fill(0);
    }
    pg.len()
}

/// C `vdisk_caching_pg()`: Caching page (08h). PS when saved pages are enabled and there is
/// no NV cache. WCE: current = not (write-through or NV cache); changeable unless NV
/// cache; default from `DEF_WRITE_THROUGH`; saved from `wt_flag_saved`.
pub fn vdisk_caching_pg(
    p: &mut [u8],
    pcontrol: u8,
    virt_dev: &ScstVdiskDev,
    saved_enabled: bool,
) -> usize {
    const PG: [u8; 20] = [
        0x8, 0x12, 0x0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x14, 0, 0, 0, 0, 0, 0,
    ];
    let nv_cache = virt_dev.nv_cache.load(Relaxed);
    p[..PG.len()].copy_from_slice(&PG);
    if !nv_cache && saved_enabled {
        p[0] |= 0x80;
    }
    let wce = |wt: bool| if wt || nv_cache { 0 } else { WCE };
    match pcontrol {
        0 => p[2] |= wce(virt_dev.wt_flag.load(Relaxed)),
        1 => {
            p[2..PG.len()].fill(0);
            if !nv_cache {
                p[2] |= WCE;
            }
        }
        2 => p[2] |= wce(DEF_WRITE_THROUGH),
        _ => p[2] |= wce(virt_dev.wt_flag_saved.load(Relaxed)),
    }
    PG.len()
}

/// C `vdisk_ctrl_m_pg()`: Control mode page (0Ah): TST, D_SENSE, DPICZ, TMF_ONLY, queue
/// algorithm, QErr, SWP, TAS, ATO from the device's current, default or saved values (C
/// reads `tst` from the vdisk device for the defaults and `tmf_only_default` for the saved
/// values; so does the port); changeable: all but TST and ATO unless in cluster mode. PS
/// when saved pages are enabled.
pub fn vdisk_ctrl_m_pg(
    p: &mut [u8],
    pcontrol: u8,
    virt_dev: &ScstVdiskDev,
    m: &VdiskDevModeParams,
    saved_enabled: bool,
) -> usize {
    let mut pg: [u8; 12] = [0xa, 0xa, 0, 0, 0, 0, 0, 0, 0, 0, 0x2, 0x4b];
    if saved_enabled {
        pg[0] |= 0x80;
    }
    p[..pg.len()].copy_from_slice(&pg);
    // Index into the [current, saved, default] triples.
    let fill = |p: &mut [u8], i: usize, tst: u8, tmf_only: u8| {
        p[2] |= tst << 5;
        p[2] |= m.d_sense[i] << 2;
        p[2] |= m.dpicz[i] << 3;
        p[2] |= tmf_only << 4;
        p[3] |= m.queue_alg[i] << 4;
        p[3] |= m.qerr[i] << 1;
        p[4] |= m.swp[i] << 3;
        p[5] |= m.tas[i] << 6;
        p[5] |= m.ato << 7;
    };
    match pcontrol {
        0 => fill(p, 0, m.tst, m.tmf_only[0]),
        1 => {
            p[2..pg.len()].fill(0);
            // TST is not changeable (C: see struct scst_device).
            if !m.cluster_mode {
                p[2] |= 1 << 2; // D_SENSE
                p[2] |= 1 << 3; // DPICZ
                p[2] |= 1 << 4; // TMF_ONLY
                p[3] |= 0xF << 4; // QUEUE ALGORITHM MODIFIER
                p[3] |= 3 << 1; // QErr
                p[4] |= 1 << 3; // SWP
                p[5] |= 1 << 6; // TAS
            }
        }
        2 => fill(p, 2, virt_dev.tst, m.tmf_only[2]),
        _ => fill(p, 1, m.tst, m.tmf_only[2]),
    }
    pg.len()
}

/// C `vdisk_iec_m_pg()`: Informational Exceptions Control page (1Ch): DEXCPT.
pub fn vdisk_iec_m_pg(p: &mut [u8], pcontrol: u8) -> usize {
    const PG: [u8; 12] = [0x1c, 0xa, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x0, 0x0];
    p[..PG.len()].copy_from_slice(&PG);
    if pcontrol == 1 {
        p[2..PG.len()].fill(0);
    }
    PG.len()
}

/// C `vdisk_exec_mode_sense()`: MODE SENSE(6)/(10). Header with medium type = the device
/// type (as C), WP when the LUN is read-only, DPOFUA for disks; an 8-byte block descriptor
/// unless DBD (block count 0xFFFFFFFF when it does not fit); then page 01h, 02h, 03h, 04h,
/// 08h, 0Ah, 1Ch, or 3Fh = all in C's order (01, 02, 03, 08, 0A, 1C, 04; CD-ROM: 01, 0A,
/// 1C). Errors as C: PC = 3 with saved pages disabled → SAVING PARAMETERS NOT SUPPORTED;
/// subpage ≠ 0 → INVALID FIELD IN CDB (byte 3); another page, or a disk page on a CD-ROM
/// → INVALID FIELD IN CDB (byte 2, bit 0).
pub fn vdisk_exec_mode_sense(p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    let (ctx, virt_dev) = (p.ctx, p.virt_dev);
    let blocksize = virt_dev.block_size();
    let nblocks = virt_dev.nblocks.load(Relaxed);
    let type_ = ctx.dev_type;
    let dbd = p.cdb_byte(1) & DBD != 0;
    let pcontrol = (p.cdb_byte(2) & 0xc0) >> 6;
    let pcode = p.cdb_byte(2) & 0x3f;
    let subpcode = p.cdb_byte(3);
    let msense_6 = p.cdb_byte(0) == MODE_SENSE;
    let mut dev_spec = if ctx.tgt_dev_rd_only { WP } else { 0 };
    if type_ != TYPE_ROM {
        dev_spec |= DPOFUA;
    }

    let length = p.bufflen();
    if length == 0 {
        return ComplStatus::CmdSucceeded;
    }

    let se = ctx.saved_mode_pages_enabled;
    if !se && pcontrol == 3 {
        TRACE_DBG!("MODE SENSE: Saving values not supported");
        p.scst_set_cmd_error(scst_sense_saving_params_unsup);
        return ComplStatus::CmdSucceeded;
    }

    let mut buf = vec![0u8; MSENSE_BUF_SZ];
    let mut offset;
    if msense_6 {
        buf[1] = type_ as u8;
        buf[2] = dev_spec;
        offset = 4;
    } else {
        buf[2] = type_ as u8;
        buf[3] = dev_spec;
        offset = 8;
    }

    if subpcode != 0 {
        TRACE_DBG!("MODE SENSE: Only subpage 0 is supported");
        p.scst_set_invalid_field_in_cdb(3, 0);
        return ComplStatus::CmdSucceeded;
    }

    if !dbd {
        buf[offset - 1] = 0x08; // block descriptor length
        let n = if nblocks >> 32 != 0 {
            0xffff_ffff
        } else {
            nblocks as u32
        };
        put_be32(&mut buf, offset, n);
        buf[offset + 4] = 0; // density code
        buf[offset + 5..offset + 8].copy_from_slice(&blocksize.to_be_bytes()[1..4]);
        offset += 8;
    }

    let rom = type_ == TYPE_ROM;
    let bp = &mut buf[offset..];
    let m = &ctx.mode;
    let len = match pcode {
        0x1 => vdisk_err_recov_pg(bp, pcontrol),
        0x2 if !rom => vdisk_disconnect_pg(bp, pcontrol),
        0x3 if !rom => vdisk_format_pg(bp, pcontrol, virt_dev),
        0x4 if !rom => vdisk_rigid_geo_pg(bp, pcontrol, virt_dev),
        0x8 if !rom => vdisk_caching_pg(bp, pcontrol, virt_dev, se),
        0xa => vdisk_ctrl_m_pg(bp, pcontrol, virt_dev, m, se),
        0x1c => vdisk_iec_m_pg(bp, pcontrol),
        0x3f if rom => {
            let mut len = vdisk_err_recov_pg(bp, pcontrol);
            len += vdisk_ctrl_m_pg(&mut bp[len..], pcontrol, virt_dev, m, se);
            len += vdisk_iec_m_pg(&mut bp[len..], pcontrol);
            len
        }
        0x3f => {
            let mut len = vdisk_err_recov_pg(bp, pcontrol);
            len += vdisk_disconnect_pg(&mut bp[len..], pcontrol);
            len += vdisk_format_pg(&mut bp[len..], pcontrol, virt_dev);
            len += vdisk_caching_pg(&mut bp[len..], pcontrol, virt_dev, se);
            len += vdisk_ctrl_m_pg(&mut bp[len..], pcontrol, virt_dev, m, se);
            len += vdisk_iec_m_pg(&mut bp[len..], pcontrol);
            len += vdisk_rigid_geo_pg(&mut bp[len..], pcontrol, virt_dev);
            len
        }
        _ => {
            TRACE!(
                kemu::printk::TRACE_MINOR,
                "MODE SENSE: Unsupported page {:x}",
                pcode
            );
            p.scst_set_invalid_field_in_cdb(2, SCST_INVAL_FIELD_BIT_OFFS_VALID);
            return ComplStatus::CmdSucceeded;
        }
    };
    offset += len;

    if msense_6 {
        buf[0] = (offset - 1) as u8;
    } else {
        put_be16(&mut buf, 0, (offset - 2) as u16);
    }
    p.put_resp(&buf, offset);
    ComplStatus::CmdSucceeded
}

/// C `vdisk_exec_read_capacity()`: READ CAPACITY(10): the last LBA (0xFFFFFFFF when it does
/// not fit in 32 bits) and the block size. PMI = 0 with a non-zero LBA → INVALID FIELD IN
/// CDB (byte 2).
///
/// As in C, a device of 0 blocks reports last LBA `nblocks - 1` = 0xFFFFFFFF.
pub fn vdisk_exec_read_capacity(p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    let blocksize = p.virt_dev.block_size();
    let nblocks = p.virt_dev.nblocks.load(Relaxed);
    if p.cdb_byte(8) & 1 == 0 {
        let lba = u32::from_be_bytes([p.cdb_byte(2), p.cdb_byte(3), p.cdb_byte(4), p.cdb_byte(5)]);
        if lba != 0 {
            TRACE_DBG!("PMI zero and LBA not zero");
            p.scst_set_invalid_field_in_cdb(2, 0);
            return ComplStatus::CmdSucceeded;
        }
    }
    let mut buffer = [0u8; 8];
    let last = if nblocks >> 32 != 0 {
        0xffff_ffff
    } else {
        (nblocks as u32).wrapping_sub(1)
    };
    put_be32(&mut buffer, 0, last);
    put_be32(&mut buffer, 4, blocksize);
    if p.bufflen() == 0 {
        return ComplStatus::CmdSucceeded;
    }
    p.put_resp(&buffer, buffer.len());
    ComplStatus::CmdSucceeded
}

/// C `vdisk_exec_read_capacity16()`: READ CAPACITY(16): last LBA (64 bits), block size,
/// LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT for 4 KiB physical blocks, LBPME (+ LBPRZ when
/// discard zeroes data) for thin devices. PMI = 0 with a non-zero LBA → INVALID FIELD IN
/// CDB (byte 2); C checks only bytes 2–5 of the 8-byte LBA, and so does the port.
pub fn vdisk_exec_read_capacity16(p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    let virt_dev = p.virt_dev;
    let blocksize = virt_dev.block_size();
    let nblocks = virt_dev.nblocks.load(Relaxed).wrapping_sub(1);
    if p.cdb_byte(14) & 1 == 0 {
        let lba = u32::from_be_bytes([p.cdb_byte(2), p.cdb_byte(3), p.cdb_byte(4), p.cdb_byte(5)]);
        if lba != 0 {
            TRACE_DBG!("PMI zero and LBA not zero");
            p.scst_set_invalid_field_in_cdb(2, 0);
            return ComplStatus::CmdSucceeded;
        }
    }
    let mut buffer = [0u8; 32];
    put_be64(&mut buffer, 0, nblocks);
    put_be32(&mut buffer, 8, blocksize);
    // No request queue in user space: C's 4096-byte physical block for files.
    let physical_blocksize: u32 = 4096;
    buffer[13] = physical_blocksize
        .ilog2()
        .saturating_sub(blocksize.max(1).ilog2()) as u8;
    if virt_dev.thin_provisioned.load(Relaxed) {
        buffer[14] |= 0x80; // LBPME
        if virt_dev.discard_zeroes_data.load(Relaxed) {
            buffer[14] |= 0x40; // LBPRZ
        }
    }
    if p.bufflen() == 0 {
        return ComplStatus::CmdSucceeded;
    }
    p.put_resp(&buffer, buffer.len());
    ComplStatus::CmdSucceeded
}

/// C `vdisk_exec_sai_16()`: SERVICE ACTION IN(16): READ CAPACITY(16); GET LBA STATUS (C
/// `vdisk_exec_get_lba_status()`) and anything else → INVALID FIELD IN CDB (byte 1, bit 0).
pub fn vdisk_exec_sai_16(p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    match p.cdb_byte(1) & 0x1f {
        SAI_READ_CAPACITY_16 => {
            vdisk_exec_read_capacity16(p);
        }
        _ => p.scst_set_invalid_field_in_cdb(1, SCST_INVAL_FIELD_BIT_OFFS_VALID),
    }
    ComplStatus::CmdSucceeded
}

/// C `vdisk_exec_read_toc()`: READ TOC of a vcdrom: one data track and the lead-out at
/// `nblocks`. A disk → INVALID COMMAND OPERATION CODE; a format other than TOC → INVALID
/// FIELD IN CDB (byte 2, bit 5); a bad track number → INVALID FIELD IN CDB (byte 6).
pub fn vdisk_exec_read_toc(p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    if p.ctx.dev_type != TYPE_ROM {
        PRINT_ERROR!("READ TOC for non-CDROM device");
        p.scst_set_cmd_error(scst_sense_invalid_opcode);
        return ComplStatus::CmdSucceeded;
    }
    let (b2, b6) = (p.cdb_byte(2), p.cdb_byte(6));
    if b2 & 0x0e != 0 {
        PRINT_ERROR!("READ TOC: invalid requested data format");
        p.scst_set_invalid_field_in_cdb(2, SCST_INVAL_FIELD_BIT_OFFS_VALID | 5);
        return ComplStatus::CmdSucceeded;
    }
    if (b6 != 0 && b2 & 0x01 != 0) || (b6 > 1 && b6 != 0xAA) {
        PRINT_ERROR!("READ TOC: invalid requested track number {:x}", b6);
        p.scst_set_invalid_field_in_cdb(6, 0);
        return ComplStatus::CmdSucceeded;
    }
    if p.bufflen() == 0 {
        return ComplStatus::CmdSucceeded;
    }
    // C: "ToDo when you have > 8TB ROM device".
    let nblocks = p.virt_dev.nblocks.load(Relaxed) as u32;
    let mut buffer = [0u8; 4 + 8 + 8];
    buffer[2] = 0x01; // first track/session
    buffer[3] = 0x01; // last track/session
    let mut off = 4;
    if b6 <= 1 {
        buffer[off + 1] = 0x14; // ADDR Q sub-channel, CONTROL data track
        buffer[off + 2] = 0x01; // track number
        off += 8;
    }
    if b2 & 0x01 == 0 {
        buffer[off + 1] = 0x14;
        buffer[off + 2] = 0xAA; // lead-out
        put_be32(&mut buffer, off + 4, nblocks);
        off += 8;
    }
    buffer[1] = (off - 2) as u8;
    p.put_resp(&buffer, off);
    ComplStatus::CmdSucceeded
}

#[cfg(test)]
mod tests;
