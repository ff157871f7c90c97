// SPDX-License-Identifier: GPL-2.0-only
//! The opcode descriptors of `scst_vdisk.c` (`scst_op_descr_*`, the `SHARED_OPCODE_DESCRIPTORS`,
//! `VDISK_OPCODE_DESCRIPTORS` lists) and the handlers' `get_supported_opcodes()` callbacks
//! (`vdisk_get_supported_opcodes()`, `vcdrom_get_supported_opcodes()`), from which the
//! core answers REPORT SUPPORTED OPERATION CODES.
//!
//! The CDB usage bit masks are r7105's: for READ/WRITE(10/12/16) they carry DPO (bit 4) and
//! FUA (bit 3) in byte 1 (initiators such as libiscsi look there to see whether the device
//! honours them), and the protection fields (`VDEV_DEF_RDPROTECT` …).
//!
//! Only what the port answers is listed: r7105's lists also name REPORT/SET TARGET PORT
//! GROUPS (ALUA, `scst_tg.c`), EXTENDED COPY (`scst_copy_mgr.c`), COMPARE AND WRITE
//! and, for DIF type 2 devices, the 32-byte
//! READ/WRITE/VERIFY/WRITE AND VERIFY/WRITE SAME; the port answers none of them yet, so they
//! are left out (a list that claims an opcode the device rejects would mislead initiators).
//! They go back in, at C's place, when they are ported.
#![allow(non_upper_case_globals)]

use scst_core::scst::{ScstCmd, ScstOpcodeDescriptor, SCST_OD_DEFAULT_CONTROL_BYTE as CTL};
use scst_core::scst_const::*;
use scst_core::scst_lib::scst_op_descr::*;
use std::sync::Arc;

/// C `VDEV_DEF_RDPROTECT`: the RDPROTECT bits of the usage masks.
pub const VDEV_DEF_RDPROTECT: u8 = 0xE0;
/// C `VDEV_DEF_WRPROTECT`.
pub const VDEV_DEF_WRPROTECT: u8 = 0xE0;
/// C `VDEV_DEF_VRPROTECT`.
pub const VDEV_DEF_VRPROTECT: u8 = 0xE0;
/// C `VDEF_DEF_GROUP_NUM`: no GROUP NUMBER bits.
pub const VDEF_DEF_GROUP_NUM: u8 = 0;

type D = ScstOpcodeDescriptor;
const SMALL: u32 = SCST_OD_SMALL_TIMEOUT_SEC;
const REG: u32 = SCST_OD_REG_TIMEOUT_SEC;
const LONG: u32 = SCST_OD_LONG_TIMEOUT_SEC;
const G: u8 = VDEF_DEF_GROUP_NUM;
const RDP: u8 = VDEV_DEF_RDPROTECT;
const WRP: u8 = VDEV_DEF_WRPROTECT;
const VRP: u8 = VDEV_DEF_VRPROTECT;
const FF: u8 = 0xFF;

/// C `scst_op_descr_format_unit`.
pub static scst_op_descr_format_unit: D = D::new(
    FORMAT_UNIT,
    None,
    6,
    LONG,
    &[FORMAT_UNIT, 0xF0, 0, 0, 0, CTL],
);

/// C `scst_op_descr_allow_medium_removal`.
pub static scst_op_descr_allow_medium_removal: D = D::new(
    ALLOW_MEDIUM_REMOVAL,
    None,
    6,
    SMALL,
    &[ALLOW_MEDIUM_REMOVAL, 0, 0, 0, 3, CTL],
);

/// C `scst_op_descr_read6`.
pub static scst_op_descr_read6: D = D::new(READ_6, None, 6, REG, &[READ_6, 0x1F, FF, FF, FF, CTL]);

/// C `scst_op_descr_read10`: DPO and FUA (0x18) in byte 1.
pub static scst_op_descr_read10: D = D::new(
    READ_10,
    None,
    10,
    REG,
    &[READ_10, RDP | 0x18, FF, FF, FF, FF, G, FF, FF, CTL],
);

/// C `scst_op_descr_read12`.
pub static scst_op_descr_read12: D = D::new(
    READ_12,
    None,
    12,
    REG,
    &[READ_12, RDP | 0x18, FF, FF, FF, FF, FF, FF, FF, FF, G, CTL],
);

/// C `scst_op_descr_read16`.
pub static scst_op_descr_read16: D = D::new(
    READ_16,
    None,
    16,
    REG,
    &[
        READ_16,
        RDP | 0x18,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        G,
        CTL,
    ],
);

/// C `scst_op_descr_read_capacity`.
pub static scst_op_descr_read_capacity: D = D::new(
    READ_CAPACITY,
    None,
    10,
    SMALL,
    &[READ_CAPACITY, 0, 0, 0, 0, 0, 0, 0, 0, CTL],
);

/// C `scst_op_descr_read_capacity16`: SERVICE ACTION IN(16) / READ CAPACITY(16).
pub static scst_op_descr_read_capacity16: D = D::new(
    SERVICE_ACTION_IN_16,
    Some(SAI_READ_CAPACITY_16 as u16),
    16,
    SMALL,
    &[
        SERVICE_ACTION_IN_16,
        SAI_READ_CAPACITY_16,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        FF,
        FF,
        FF,
        FF,
        0,
        CTL,
    ],
);

/// C `scst_op_descr_start_stop_unit`.
pub static scst_op_descr_start_stop_unit: D = D::new(
    START_STOP,
    None,
    6,
    SMALL,
    &[START_STOP, 1, 0, 0xF, 0xF7, CTL],
);

/// C `scst_op_descr_sync_cache10`.
pub static scst_op_descr_sync_cache10: D = D::new(
    SYNCHRONIZE_CACHE,
    None,
    10,
    REG,
    &[SYNCHRONIZE_CACHE, 2, FF, FF, FF, FF, G, FF, FF, CTL],
);

/// C `scst_op_descr_sync_cache16`.
pub static scst_op_descr_sync_cache16: D = D::new(
    SYNCHRONIZE_CACHE_16,
    None,
    16,
    REG,
    &[
        SYNCHRONIZE_CACHE_16,
        2,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        G,
        CTL,
    ],
);

/// C `scst_op_descr_unmap`.
pub static scst_op_descr_unmap: D = D::new(
    UNMAP,
    None,
    10,
    REG,
    &[UNMAP, 0, 0, 0, 0, 0, G, FF, FF, CTL],
);

/// C `scst_op_descr_verify10`.
pub static scst_op_descr_verify10: D = D::new(
    VERIFY,
    None,
    10,
    REG,
    &[VERIFY, VRP | 0x16, FF, FF, FF, FF, G, FF, FF, CTL],
);

/// C `scst_op_descr_verify12`.
pub static scst_op_descr_verify12: D = D::new(
    VERIFY_12,
    None,
    12,
    REG,
    &[
        VERIFY_12,
        VRP | 0x16,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        G,
        CTL,
    ],
);

/// C `scst_op_descr_verify16`.
pub static scst_op_descr_verify16: D = D::new(
    VERIFY_16,
    None,
    16,
    REG,
    &[
        VERIFY_16,
        VRP | 0x16,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        G,
        CTL,
    ],
);

/// C `scst_op_descr_write6`.
pub static scst_op_descr_write6: D =
    D::new(WRITE_6, None, 6, REG, &[WRITE_6, 0x1F, FF, FF, FF, CTL]);

/// C `scst_op_descr_write10`: DPO, FUA (0x18) and FUA_NV (0x02) in byte 1.
pub static scst_op_descr_write10: D = D::new(
    WRITE_10,
    None,
    10,
    REG,
    &[WRITE_10, WRP | 0x1A, FF, FF, FF, FF, G, FF, FF, CTL],
);

/// C `scst_op_descr_write12`.
pub static scst_op_descr_write12: D = D::new(
    WRITE_12,
    None,
    12,
    REG,
    &[WRITE_12, WRP | 0x1A, FF, FF, FF, FF, FF, FF, FF, FF, G, CTL],
);

/// C `scst_op_descr_write16`.
pub static scst_op_descr_write16: D = D::new(
    WRITE_16,
    None,
    16,
    REG,
    &[
        WRITE_16,
        WRP | 0x1A,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        G,
        CTL,
    ],
);

/// C `scst_op_descr_write_verify10`.
pub static scst_op_descr_write_verify10: D = D::new(
    WRITE_VERIFY,
    None,
    10,
    REG,
    &[WRITE_VERIFY, WRP | 0x16, FF, FF, FF, FF, G, FF, FF, CTL],
);

/// C `scst_op_descr_write_verify12`.
pub static scst_op_descr_write_verify12: D = D::new(
    WRITE_VERIFY_12,
    None,
    12,
    REG,
    &[
        WRITE_VERIFY_12,
        WRP | 0x16,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        G,
        CTL,
    ],
);

/// C `scst_op_descr_write_verify16`.
pub static scst_op_descr_write_verify16: D = D::new(
    WRITE_VERIFY_16,
    None,
    16,
    REG,
    &[
        WRITE_VERIFY_16,
        WRP | 0x16,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        G,
        CTL,
    ],
);

/// C `scst_op_descr_write_same10`: UNMAP (0x08) in byte 1.
pub static scst_op_descr_write_same10: D = D::new(
    WRITE_SAME,
    None,
    10,
    REG,
    &[WRITE_SAME, WRP | 0x8, FF, FF, FF, FF, G, FF, FF, CTL],
);

/// C `scst_op_descr_write_same16`.
pub static scst_op_descr_write_same16: D = D::new(
    WRITE_SAME_16,
    None,
    16,
    REG,
    &[
        WRITE_SAME_16,
        WRP | 0x8,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        FF,
        G,
        CTL,
    ],
);

/// C `scst_op_descr_read_toc`.
pub static scst_op_descr_read_toc: D = D::new(
    READ_TOC,
    None,
    10,
    REG,
    &[READ_TOC, 0, 0xF, 0, 0, 0, FF, FF, FF, CTL],
);

/// C `vdisk_opcode_descriptors[]` (`SHARED_OPCODE_DESCRIPTORS`,
/// `VDISK_OPCODE_DESCRIPTORS`, `SCST_OPCODE_DESCRIPTORS`, `scst_op_descr_stpg`) in C's order,
/// without what the port does not answer (see the module documentation): REPORT TARGET
/// PORT GROUPS (after SEND DIAGNOSTIC in C), EXTENDED COPY and COMPARE AND WRITE (after
/// FORMAT UNIT) and SET TARGET PORT GROUPS (last; C drops it without explicit ALUA).
pub static vdisk_opcode_descriptors: [&D; 42] = [
    // SHARED_OPCODE_DESCRIPTORS
    &scst_op_descr_sync_cache10,
    &scst_op_descr_sync_cache16,
    &scst_op_descr_mode_sense6,
    &scst_op_descr_mode_sense10,
    &scst_op_descr_mode_select6,
    &scst_op_descr_mode_select10,
    &scst_op_descr_log_select,
    &scst_op_descr_log_sense,
    &scst_op_descr_start_stop_unit,
    &scst_op_descr_read_capacity,
    &scst_op_descr_send_diagnostic,
    &scst_op_descr_read6,
    &scst_op_descr_read10,
    &scst_op_descr_read12,
    &scst_op_descr_read16,
    &scst_op_descr_write6,
    &scst_op_descr_write10,
    &scst_op_descr_write12,
    &scst_op_descr_write16,
    &scst_op_descr_write_verify10,
    &scst_op_descr_write_verify12,
    &scst_op_descr_write_verify16,
    &scst_op_descr_verify10,
    &scst_op_descr_verify12,
    &scst_op_descr_verify16,
    // VDISK_OPCODE_DESCRIPTORS (GET LBA STATUS is commented out in r7105 too)
    &scst_op_descr_read_capacity16,
    &scst_op_descr_write_same10,
    &scst_op_descr_write_same16,
    &scst_op_descr_unmap,
    &scst_op_descr_format_unit,
    // SCST_OPCODE_DESCRIPTORS
    &scst_op_descr_inquiry,
    &scst_op_descr_tur,
    &scst_op_descr_reserve6,
    &scst_op_descr_release6,
    &scst_op_descr_reserve10,
    &scst_op_descr_release10,
    &scst_op_descr_pr_in,
    &scst_op_descr_pr_out,
    &scst_op_descr_report_luns,
    &scst_op_descr_request_sense,
    &scst_op_descr_report_supp_opcodes,
    &scst_op_descr_report_supp_tm_fns,
];

/// C `vcdrom_opcode_descriptors[]`: `SHARED_OPCODE_DESCRIPTORS`, PREVENT ALLOW MEDIUM
/// REMOVAL, READ TOC and `SCST_OPCODE_DESCRIPTORS`, without REPORT TARGET PORT GROUPS (see
/// the module documentation).
pub static vcdrom_opcode_descriptors: [&D; 39] = [
    &scst_op_descr_sync_cache10,
    &scst_op_descr_sync_cache16,
    &scst_op_descr_mode_sense6,
    &scst_op_descr_mode_sense10,
    &scst_op_descr_mode_select6,
    &scst_op_descr_mode_select10,
    &scst_op_descr_log_select,
    &scst_op_descr_log_sense,
    &scst_op_descr_start_stop_unit,
    &scst_op_descr_read_capacity,
    &scst_op_descr_send_diagnostic,
    &scst_op_descr_read6,
    &scst_op_descr_read10,
    &scst_op_descr_read12,
    &scst_op_descr_read16,
    &scst_op_descr_write6,
    &scst_op_descr_write10,
    &scst_op_descr_write12,
    &scst_op_descr_write16,
    &scst_op_descr_write_verify10,
    &scst_op_descr_write_verify12,
    &scst_op_descr_write_verify16,
    &scst_op_descr_verify10,
    &scst_op_descr_verify12,
    &scst_op_descr_verify16,
    &scst_op_descr_allow_medium_removal,
    &scst_op_descr_read_toc,
    &scst_op_descr_inquiry,
    &scst_op_descr_tur,
    &scst_op_descr_reserve6,
    &scst_op_descr_release6,
    &scst_op_descr_reserve10,
    &scst_op_descr_release10,
    &scst_op_descr_pr_in,
    &scst_op_descr_pr_out,
    &scst_op_descr_report_luns,
    &scst_op_descr_request_sense,
    &scst_op_descr_report_supp_opcodes,
    &scst_op_descr_report_supp_tm_fns,
];

/// C `vdisk_get_supported_opcodes()`: the disk list. C picks the DIF type 2 list for
/// type 2 devices (none in a procfs build) and drops SET TARGET PORT GROUPS without
/// explicit ALUA (the port does not list it at all).
pub fn vdisk_get_supported_opcodes(_cmd: &Arc<ScstCmd>) -> Result<&'static [&'static D], i32> {
    Ok(&vdisk_opcode_descriptors)
}

/// C `vcdrom_get_supported_opcodes()`.
pub fn vcdrom_get_supported_opcodes(_cmd: &Arc<ScstCmd>) -> Result<&'static [&'static D], i32> {
    Ok(&vcdrom_opcode_descriptors)
}
