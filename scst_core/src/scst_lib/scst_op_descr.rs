// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2004 - 2016 Vladislav Bolkhovitin <vst@vlnb.net>
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! The opcode descriptors that `scst_lib.c` exports for the device handlers'
//! `get_supported_opcodes()` (`scst_op_descr_*`, REPORT SUPPORTED OPERATION CODES), and C's
//! `SCST_OPCODE_DESCRIPTORS` list of the commands the core itself answers (scst.h).
//!
//! The values are r7105's: SUPPORT 3 ("supported as in the standard"), a nominal timeout of
//! `SCST_DEFAULT_NOMINAL_TIMEOUT_SEC`, the recommended timeout in seconds, and the CDB usage
//! bit masks (the bits of each CDB byte the device looks at).
#![allow(non_upper_case_globals)]

use crate::scst::{ScstOpcodeDescriptor, SCST_OD_DEFAULT_CONTROL_BYTE as CTL};
use crate::scst_const::*;
use kemu::timer::HZ;

/// `SCST_GENERIC_DISK_SMALL_TIMEOUT/HZ`: the recommended timeout of short commands, seconds.
pub const SCST_OD_SMALL_TIMEOUT_SEC: u32 = (SCST_GENERIC_DISK_SMALL_TIMEOUT / HZ) as u32;
/// `SCST_GENERIC_DISK_REG_TIMEOUT/HZ`, seconds.
pub const SCST_OD_REG_TIMEOUT_SEC: u32 = (SCST_GENERIC_DISK_REG_TIMEOUT / HZ) as u32;
/// `SCST_GENERIC_DISK_LONG_TIMEOUT/HZ`, seconds.
pub const SCST_OD_LONG_TIMEOUT_SEC: u32 = (SCST_GENERIC_DISK_LONG_TIMEOUT / HZ) as u32;

impl ScstOpcodeDescriptor {
    /// A descriptor as r7105 writes them: `od_support` 3, no command-specific timeout, the
    /// default nominal timeout; `serv_action` `Some` sets `od_serv_action_valid`.
    pub const fn new(
        opcode: u8,
        serv_action: Option<u16>,
        cdb_size: u16,
        recommended_timeout: u32,
        cdb_usage_bits: &'static [u8],
    ) -> Self {
        let (od_serv_action, od_serv_action_valid) = match serv_action {
            Some(sa) => (sa, true),
            None => (0, false),
        };
        Self {
            od_serv_action,
            od_opcode: opcode,
            od_serv_action_valid,
            od_support: 3, // supported as in the standard
            od_cdb_size: cdb_size,
            od_comm_specific_timeout: 0,
            od_nominal_timeout: SCST_DEFAULT_NOMINAL_TIMEOUT_SEC,
            od_recommended_timeout: recommended_timeout,
            od_cdb_usage_bits: cdb_usage_bits,
        }
    }
}

type D = ScstOpcodeDescriptor;
const SMALL: u32 = SCST_OD_SMALL_TIMEOUT_SEC;
const REG: u32 = SCST_OD_REG_TIMEOUT_SEC;

/// C `scst_op_descr_inquiry`.
pub static scst_op_descr_inquiry: D = D::new(
    INQUIRY,
    None,
    6,
    SMALL,
    &[INQUIRY, 1, 0xFF, 0xFF, 0xFF, CTL],
);

/// C `scst_op_descr_extended_copy`.
pub static scst_op_descr_extended_copy: D = D::new(
    EXTENDED_COPY,
    None,
    16,
    REG,
    &[
        EXTENDED_COPY,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0xFF,
        0xFF,
        0xFF,
        0xFF,
        0,
        CTL,
    ],
);

/// C `scst_op_descr_tur`.
pub static scst_op_descr_tur: D = D::new(
    TEST_UNIT_READY,
    None,
    6,
    SMALL,
    &[TEST_UNIT_READY, 0, 0, 0, 0, CTL],
);

/// C `scst_op_descr_log_select`.
pub static scst_op_descr_log_select: D = D::new(
    LOG_SELECT,
    None,
    10,
    SMALL,
    &[LOG_SELECT, 3, 0xFF, 0xFF, 0, 0, 0, 0xFF, 0xFF, CTL],
);

/// C `scst_op_descr_log_sense`.
pub static scst_op_descr_log_sense: D = D::new(
    LOG_SENSE,
    None,
    10,
    SMALL,
    &[LOG_SENSE, 1, 0xFF, 0xFF, 0, 0xFF, 0xFF, 0xFF, 0xFF, CTL],
);

/// C `scst_op_descr_mode_select6`.
pub static scst_op_descr_mode_select6: D = D::new(
    MODE_SELECT,
    None,
    6,
    SMALL,
    &[MODE_SELECT, 0x11, 0, 0, 0xFF, CTL],
);

/// C `scst_op_descr_mode_sense6`.
pub static scst_op_descr_mode_sense6: D = D::new(
    MODE_SENSE,
    None,
    6,
    SMALL,
    &[MODE_SENSE, 8, 0xFF, 0xFF, 0xFF, CTL],
);

/// C `scst_op_descr_mode_select10`.
pub static scst_op_descr_mode_select10: D = D::new(
    MODE_SELECT_10,
    None,
    10,
    SMALL,
    &[MODE_SELECT_10, 0x11, 0, 0, 0, 0, 0, 0xFF, 0xFF, CTL],
);

/// C `scst_op_descr_mode_sense10`.
pub static scst_op_descr_mode_sense10: D = D::new(
    MODE_SENSE_10,
    None,
    10,
    SMALL,
    &[MODE_SENSE_10, 0x18, 0xFF, 0xFF, 0, 0, 0, 0xFF, 0xFF, CTL],
);

/// C `scst_op_descr_rtpg`: REPORT TARGET PORT GROUPS.
pub static scst_op_descr_rtpg: D = D::new(
    MAINTENANCE_IN,
    Some(MI_REPORT_TARGET_PGS as u16),
    12,
    SMALL,
    &[
        MAINTENANCE_IN,
        0xE0 | MI_REPORT_TARGET_PGS,
        0,
        0,
        0,
        0,
        0xFF,
        0xFF,
        0xFF,
        0xFF,
        0,
        CTL,
    ],
);

/// C `scst_op_descr_stpg`: SET TARGET PORT GROUPS.
pub static scst_op_descr_stpg: D = D::new(
    MAINTENANCE_OUT,
    Some(MO_SET_TARGET_PGS as u16),
    12,
    SMALL,
    &[
        MAINTENANCE_OUT,
        MO_SET_TARGET_PGS,
        0,
        0,
        0,
        0,
        0xFF,
        0xFF,
        0xFF,
        0xFF,
        0,
        CTL,
    ],
);

/// C `scst_op_descr_send_diagnostic`.
pub static scst_op_descr_send_diagnostic: D = D::new(
    SEND_DIAGNOSTIC,
    None,
    6,
    SMALL,
    &[SEND_DIAGNOSTIC, 0xF7, 0, 0xFF, 0xFF, CTL],
);

/// C `scst_op_descr_reserve6`.
pub static scst_op_descr_reserve6: D = D::new(RESERVE, None, 6, SMALL, &[RESERVE, 0, 0, 0, 0, CTL]);

/// C `scst_op_descr_release6`.
pub static scst_op_descr_release6: D = D::new(RELEASE, None, 6, SMALL, &[RELEASE, 0, 0, 0, 0, CTL]);

/// C `scst_op_descr_reserve10`.
pub static scst_op_descr_reserve10: D = D::new(
    RESERVE_10,
    None,
    10,
    SMALL,
    &[RESERVE_10, 0, 0, 0, 0, 0, 0, 0, 0, CTL],
);

/// C `scst_op_descr_release10`.
pub static scst_op_descr_release10: D = D::new(
    RELEASE_10,
    None,
    10,
    SMALL,
    &[RELEASE_10, 0, 0, 0, 0, 0, 0, 0, 0, CTL],
);

/// C `scst_op_descr_pr_in`.
pub static scst_op_descr_pr_in: D = D::new(
    PERSISTENT_RESERVE_IN,
    None,
    10,
    SMALL,
    &[PERSISTENT_RESERVE_IN, 0x1F, 0, 0, 0, 0, 0, 0xFF, 0xFF, CTL],
);

/// C `scst_op_descr_pr_out`.
pub static scst_op_descr_pr_out: D = D::new(
    PERSISTENT_RESERVE_OUT,
    None,
    10,
    SMALL,
    &[
        PERSISTENT_RESERVE_OUT,
        0x1F,
        0xFF,
        0,
        0,
        0xFF,
        0xFF,
        0xFF,
        0xFF,
        CTL,
    ],
);

/// C `scst_op_descr_report_luns`.
pub static scst_op_descr_report_luns: D = D::new(
    REPORT_LUNS,
    None,
    12,
    SMALL,
    &[
        REPORT_LUNS,
        0,
        0xFF,
        0,
        0,
        0,
        0xFF,
        0xFF,
        0xFF,
        0xFF,
        0,
        CTL,
    ],
);

/// C `scst_op_descr_request_sense`.
pub static scst_op_descr_request_sense: D = D::new(
    REQUEST_SENSE,
    None,
    6,
    SMALL,
    &[REQUEST_SENSE, 1, 0, 0, 0xFF, CTL],
);

/// C `scst_op_descr_report_supp_tm_fns`: REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS.
pub static scst_op_descr_report_supp_tm_fns: D = D::new(
    MAINTENANCE_IN,
    Some(MI_REPORT_SUPPORTED_TASK_MANAGEMENT_FUNCTIONS as u16),
    12,
    SMALL,
    &[
        MAINTENANCE_IN,
        MI_REPORT_SUPPORTED_TASK_MANAGEMENT_FUNCTIONS,
        0x80,
        0,
        0,
        0,
        0xFF,
        0xFF,
        0xFF,
        0xFF,
        0,
        CTL,
    ],
);

/// C `scst_op_descr_report_supp_opcodes`: REPORT SUPPORTED OPERATION CODES.
pub static scst_op_descr_report_supp_opcodes: D = D::new(
    MAINTENANCE_IN,
    Some(MI_REPORT_SUPPORTED_OPERATION_CODES as u16),
    12,
    SMALL,
    &[
        MAINTENANCE_IN,
        MI_REPORT_SUPPORTED_OPERATION_CODES,
        0x87,
        0xFF,
        0xFF,
        0xFF,
        0xFF,
        0xFF,
        0xFF,
        0xFF,
        0,
        CTL,
    ],
);

/// C scst.h `SCST_OPCODE_DESCRIPTORS`: the commands of every device that the core (or the
/// SPC part of a handler) answers, in C's order. A handler must list only what it really
/// answers: while persistent reservations are not ported, PR IN/OUT reach the handler, and
/// vdisk leaves them out of its list.
pub static SCST_OPCODE_DESCRIPTORS: [&D; 12] = [
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_match_their_cdb_size() {
        let all: [&D; 22] = [
            &scst_op_descr_inquiry,
            &scst_op_descr_extended_copy,
            &scst_op_descr_tur,
            &scst_op_descr_log_select,
            &scst_op_descr_log_sense,
            &scst_op_descr_mode_select6,
            &scst_op_descr_mode_sense6,
            &scst_op_descr_mode_select10,
            &scst_op_descr_mode_sense10,
            &scst_op_descr_rtpg,
            &scst_op_descr_stpg,
            &scst_op_descr_send_diagnostic,
            &scst_op_descr_reserve6,
            &scst_op_descr_release6,
            &scst_op_descr_reserve10,
            &scst_op_descr_release10,
            &scst_op_descr_pr_in,
            &scst_op_descr_pr_out,
            &scst_op_descr_report_luns,
            &scst_op_descr_request_sense,
            &scst_op_descr_report_supp_tm_fns,
            &scst_op_descr_report_supp_opcodes,
        ];
        for d in all {
            assert_eq!(usize::from(d.od_cdb_size), d.od_cdb_usage_bits.len());
            assert_eq!(d.od_cdb_usage_bits[0], d.od_opcode);
            assert_eq!(*d.od_cdb_usage_bits.last().unwrap(), CTL);
            assert_eq!(d.od_support, 3);
            assert_eq!(d.od_nominal_timeout, 1);
        }
        assert_eq!(scst_op_descr_inquiry.od_recommended_timeout, 10);
        assert_eq!(scst_op_descr_extended_copy.od_recommended_timeout, 60);
        assert_eq!(SCST_OD_LONG_TIMEOUT_SEC, 3600);
        assert!(scst_op_descr_report_supp_opcodes.od_serv_action_valid);
        assert_eq!(scst_op_descr_report_supp_opcodes.od_serv_action, 0x0c);
    }

    #[test]
    fn report_supported_opcodes_formats() {
        use crate::scst_targ::scst_build_supported_opcodes as build;
        let l = [&scst_op_descr_inquiry, &scst_op_descr_report_supp_tm_fns];
        // All commands with RCTD: 20 bytes each, CTDP set, timeouts descriptor.
        let b = build(&l, 0, 0, 0, true).unwrap();
        assert_eq!(b.len(), 44);
        assert_eq!(&b[..4], &[0, 0, 0, 40]);
        assert_eq!(&b[4..12], &[INQUIRY, 0, 0, 0, 0, 2, 0, 6]);
        assert_eq!(&b[12..24], &[0, 0xA, 0, 0, 0, 0, 0, 1, 0, 0, 0, 10]);
        assert_eq!(&b[24..32], &[MAINTENANCE_IN, 0, 0, 0x0D, 0, 3, 0, 12]);
        // One command with service action (option 2), RCTD: usage data + timeouts.
        let b = build(&l, 2, MAINTENANCE_IN, 0x0D, true).unwrap();
        assert_eq!(b.len(), 4 + 12 + 12);
        assert_eq!(&b[..4], &[0, 0x83, 0, 12]);
        assert_eq!(
            &b[4..16],
            scst_op_descr_report_supp_tm_fns.od_cdb_usage_bits
        );
        assert_eq!(&b[16..20], &[0, 0xA, 0, 0]);
        // Not supported: 4 bytes, SUPPORT 0.
        assert_eq!(build(&l, 2, MAINTENANCE_IN, 0x0C, false).unwrap(), [0; 4]);
        assert_eq!(build(&l, 1, READ_10, 0, false).unwrap(), [0; 4]);
        // Option 2 for an opcode without service actions, option 1 for one with, 3..7.
        assert!(build(&l, 2, INQUIRY, 0, false).is_none());
        assert!(build(&l, 1, MAINTENANCE_IN, 0, false).is_none());
        assert!(build(&l, 3, INQUIRY, 0, false).is_none());
    }
}
