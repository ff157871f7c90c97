// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2004 - 2016 Vladislav Bolkhovitin <vst@vlnb.net>
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! SCST's shared constants: the port of `scst/include/scst_const.h`.
//!
//! Upstream this header is read by the kernel module and by user-space tools alike; here it is
//! the constants module of the core. Items keep their C names and values and follow the order
//! of the header. Their Rust types follow the C type of the place the value is stored in:
//!
//! - `u8` for bytes of the SCSI protocol: opcodes, service actions, status codes
//!   (`cmd->status` is `uint8_t`), sense keys and the `(key, ASC, ASCQ)` triples, bits of CDB
//!   and mode-page bytes, host bytes (`DID_*`, `cmd->host_status`);
//! - `u32` for the CDB flags (`cmd->op_flags` is `uint32_t`);
//! - `i32` for C `int` codes and C `enum` values (queue types, data directions, ALUA states …);
//! - `usize` for sizes and lengths, `u64` for LUNs and for timeouts in jiffies (`unsigned long`);
//! - open newtypes ([`TmFn`], [`MgmtStatus`]) where a value crosses the interface to target
//!   drivers and C has a `default:` branch for values outside the list: those keep working
//!   (see docs/PORTING.md, "Conventions", and the notes on open enums).
//!
//! The `(key, ASC, ASCQ)` triples keep their lowercase C names (`scst_sense_invalid_opcode`);
//! C spreads them over three function arguments with `SCST_LOAD_SENSE()`, Rust passes the
//! tuple (see [`SCST_LOAD_SENSE`]).
//!
//! Kernel version conditionals are resolved for a current kernel: an opcode the header defines
//! only when `<scsi/scsi.h>` lacks it is defined here once, with the same value.
//!
//! The header includes the kernel's `<scsi/scsi.h>`, from which SCST takes the sense keys, most
//! opcodes, the peripheral device types and the host bytes. Those that SCST r7105 uses (the
//! core, vdisk and iscsi-scst) are in the last section of this module, "Kernel SCSI
//! definitions", under their kernel names. Not carried over: the kernel's status bytes shifted
//! right by one (`CHECK_CONDITION` = 0x01 …) and the `DRIVER_*` codes, which only the
//! pass-through code for real SCSI devices reads; use the `SAM_STAT_*` values.
#![doc(alias = "scst_const.h")]
// The sense triples and a few constants keep the lowercase letters of their C names.
#![allow(non_upper_case_globals)]

use kemu::timer::HZ;
use kemu::Errno;

/// Defines an open enum, in the manner of rustls's `enum_builder!`: a `Copy` newtype over the C
/// integer type, module-level constants with the verbatim C names, `as_str()` giving the C name
/// of a known value, and a `Debug` that prints that name or, for any other value, the number.
///
/// Unknown values stay representable, so a value a handler returns outside the list reaches the
/// C `default:` path instead of being impossible to express. The listed values must be
/// distinct: a duplicate would make its `as_str()` arm unreachable.
macro_rules! open_enum {
    (
        $(#[$smeta:meta])*
        pub struct $name:ident($repr:ty);
        $(
            $(#[$cmeta:meta])*
            $cname:ident = $val:expr;
        )+
    ) => {
        $(#[$smeta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub $repr);

        $(
            $(#[$cmeta])*
            pub const $cname: $name = $name($val);
        )+

        impl $name {
            /// The C name of this value, or `None` for a value outside the C list.
            pub const fn as_str(self) -> Option<&'static str> {
                match self {
                    $( $cname => Some(stringify!($cname)), )+
                    _ => None,
                }
            }
        }

        impl ::core::fmt::Debug for $name {
            /// Prints the C name of a known value and the bare number of any other, as SCST's
            /// `scst_get_*_name()` helpers do.
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                match self.as_str() {
                    Some(name) => f.write_str(name),
                    None => write!(f, "{}", self.0),
                }
            }
        }
    };
}
pub(crate) use open_enum;

// ---------------------------------------------------------------------------------------------
// Versions
// ---------------------------------------------------------------------------------------------

/// C: scst_const.h `SCST_VERSION(a, b, c, d)`: packs a four-part version number into one word,
/// one byte per part, as the kernel's `KERNEL_VERSION()` does. C computes it in `int`; every
/// real version fits either way.
#[allow(non_snake_case)]
pub const fn SCST_VERSION(a: u32, b: u32, c: u32, d: u32) -> u32 {
    (a << 24) + (b << 16) + (c << 8) + d
}

/// C: scst_const.h `SCST_VERSION_CODE`: 3.1.0.0. It lags behind [`SCST_VERSION_NAME`] in r7105.
pub const SCST_VERSION_CODE: u32 = SCST_VERSION(3, 1, 0, 0);

/// C: scst_const.h `SCST_VERSION_STRING_SUFFIX`: `"-procfs"` in a `CONFIG_SCST_PROC` build
/// (this port), empty in a sysfs build.
pub const SCST_VERSION_STRING_SUFFIX: &str = "-procfs";

/// C: scst_const.h `SCST_VERSION_NAME`.
pub const SCST_VERSION_NAME: &str = "3.3.0-pre1";

/// C: scst_const.h `SCST_VERSION_STRING`: [`SCST_VERSION_NAME`] followed by
/// [`SCST_VERSION_STRING_SUFFIX`].
pub const SCST_VERSION_STRING: &str = "3.3.0-pre1-procfs";

/// C: `SCST_CONST_INTF_VER` of the generated `scst_itf_ver.h`: the SHA-1 of `scst_const.h`,
/// which `scst/src/Makefile` computes at build time. This is the SHA-1 of the r7105 header; the
/// port builds every user of it from this one constant, so only equality matters.
pub const SCST_CONST_INTF_VER: &str = "48bacf2cd998cf53880298389b808a349482a756";

/// C: scst_const.h `SCST_CONST_VERSION`: the interface version of this header
/// ([`SCST_CONST_INTF_VER`]); part of `scst::SCST_INTERFACE_VERSION`.
pub const SCST_CONST_VERSION: &str = SCST_CONST_INTF_VER;

// ---------------------------------------------------------------------------------------------
// Limits shared between user and kernel space
// ---------------------------------------------------------------------------------------------

/// C: scst_const.h `SCST_MAX_CDB_SIZE`: the CDB bytes kept inside a command; longer CDBs are
/// allocated separately.
pub const SCST_MAX_CDB_SIZE: usize = 16;

/// C: scst_const.h `SCST_MAX_LONG_CDB_SIZE`: the largest CDB accepted at all.
pub const SCST_MAX_LONG_CDB_SIZE: usize = 65536;

/// C: scst_const.h `SCST_MAX_NAME`: room for SCST's short names (handlers, groups, devices).
pub const SCST_MAX_NAME: usize = 50;

/// C: scst_const.h `SCST_MAX_EXTERNAL_NAME`: room for names that come from outside, such as
/// initiator names.
pub const SCST_MAX_EXTERNAL_NAME: usize = 256;

/// C: scst_const.h `SCST_MAX_LUN`: the highest LUN, 16383 — of the 16 bits of a single-level
/// LUN, the top two select the addressing method.
pub const SCST_MAX_LUN: u64 = (1 << (16 - 2)) - 1;

/// C: scst_const.h `SCST_STANDARD_SENSE_LEN`: enough for fixed-format sense data; C puts
/// buffers of this size on the stack.
pub const SCST_STANDARD_SENSE_LEN: usize = 18;

/// C: scst_const.h `SCST_SENSE_BUFFERSIZE`: the largest sense buffer.
pub const SCST_SENSE_BUFFERSIZE: usize = 252;

// ---------------------------------------------------------------------------------------------
// Delivery status of a command (`cmd->delivery_status`)
// ---------------------------------------------------------------------------------------------

/// C: scst_const.h `SCST_CMD_DELIVERY_SUCCESS`: the response reached the initiator.
pub const SCST_CMD_DELIVERY_SUCCESS: i32 = 0;
/// C: scst_const.h `SCST_CMD_DELIVERY_FAILED`: the response could not be delivered.
pub const SCST_CMD_DELIVERY_FAILED: i32 = -1;
/// C: scst_const.h `SCST_CMD_DELIVERY_ABORTED`: the command was aborted before delivery.
pub const SCST_CMD_DELIVERY_ABORTED: i32 = -2;

// ---------------------------------------------------------------------------------------------
// Task management functions (`scst_rx_mgmt_fn()`, `mcmd->fn`)
// ---------------------------------------------------------------------------------------------

open_enum! {
    /// C: scst_const.h `SCST_ABORT_TASK` … `SCST_PR_ABORT_ALL`: the task management function of
    /// a management command (C `int fn`). Values 0–5 are the SAM functions, 6–9 SCST
    /// extensions for target drivers, 10–11 internal to the core. Compare with `<`: C decides
    /// "internal or not" by `fn < SCST_UNREG_SESS_TM`.
    pub struct TmFn(i32);

    /// C `SCST_ABORT_TASK`: abort one task.
    SCST_ABORT_TASK = 0;
    /// C `SCST_ABORT_TASK_SET`: abort the initiator's tasks on a LUN.
    SCST_ABORT_TASK_SET = 1;
    /// C `SCST_CLEAR_ACA`: clear an ACA condition.
    SCST_CLEAR_ACA = 2;
    /// C `SCST_CLEAR_TASK_SET`: abort all tasks on a LUN, of every initiator.
    SCST_CLEAR_TASK_SET = 3;
    /// C `SCST_LUN_RESET`: logical unit reset.
    SCST_LUN_RESET = 4;
    /// C `SCST_TARGET_RESET`: target reset (iSCSI's warm and cold resets both map here).
    SCST_TARGET_RESET = 5;
    /// C `SCST_NEXUS_LOSS_SESS` (SCST extension): the session's I_T nexus was lost; aborts all
    /// its tasks and queues the I_T NEXUS LOSS unit attention.
    SCST_NEXUS_LOSS_SESS = 6;
    /// C `SCST_ABORT_ALL_TASKS_SESS` (SCST extension): aborts all tasks of the session.
    SCST_ABORT_ALL_TASKS_SESS = 7;
    /// C `SCST_NEXUS_LOSS` (SCST extension): nexus loss for every session of the target, with
    /// the I_T NEXUS LOSS unit attention in each.
    SCST_NEXUS_LOSS = 8;
    /// C `SCST_ABORT_ALL_TASKS` (SCST extension): aborts all tasks of every session of the
    /// target.
    SCST_ABORT_ALL_TASKS = 9;
    /// C `SCST_UNREG_SESS_TM` (internal, never from a target driver): issued by
    /// `scst_unregister_session()`; like [`SCST_NEXUS_LOSS_SESS`] but calls neither
    /// `task_mgmt_affected_cmds_done()` nor `task_mgmt_fn_done()` and queues no unit
    /// attention.
    SCST_UNREG_SESS_TM = 10;
    /// C `SCST_PR_ABORT_ALL` (internal, never from a target driver): issued by
    /// `scst_pr_abort_reg()` (PREEMPT AND ABORT); aborts every task of the originating
    /// command's `tgt_dev` except that command, signals `pr_aborting_cmpl` once all are marked
    /// aborted, skips both target-driver callbacks, and finishes the originating command once
    /// all are aborted.
    SCST_PR_ABORT_ALL = 11;
}

open_enum! {
    /// C: scst_const.h `SCST_MGMT_STATUS_*`: the result of a management command (C
    /// `int status`). The codes follow iSCSI's task management responses, negated.
    pub struct MgmtStatus(i32);

    /// C `SCST_MGMT_STATUS_SUCCESS`.
    SCST_MGMT_STATUS_SUCCESS = 0;
    /// C `SCST_MGMT_STATUS_TASK_NOT_EXIST`: the task to act on is unknown.
    SCST_MGMT_STATUS_TASK_NOT_EXIST = -1;
    /// C `SCST_MGMT_STATUS_LUN_NOT_EXIST`: the LUN does not exist.
    SCST_MGMT_STATUS_LUN_NOT_EXIST = -2;
    /// C `SCST_MGMT_STATUS_FN_NOT_SUPPORTED`: the function is not supported.
    SCST_MGMT_STATUS_FN_NOT_SUPPORTED = -5;
    /// C `SCST_MGMT_STATUS_REJECTED`: the function was rejected.
    SCST_MGMT_STATUS_REJECTED = -255;
    /// C `SCST_MGMT_STATUS_FAILED`: the function failed.
    SCST_MGMT_STATUS_FAILED = -129;
    /// C `SCST_MGMT_STATUS_RECEIVED_STAGE_COMPLETED`: not a final result; the receive stage is
    /// over, the function itself is not done yet.
    SCST_MGMT_STATUS_RECEIVED_STAGE_COMPLETED = 200;
}

// ---------------------------------------------------------------------------------------------
// LUN addressing methods (SAM-2, eight-byte LUNs) — C `enum scst_lun_addr_method`
// ---------------------------------------------------------------------------------------------

/// C: scst_const.h `SCST_LUN_ADDR_METHOD_PERIPHERAL`.
pub const SCST_LUN_ADDR_METHOD_PERIPHERAL: i32 = 0;
/// C: scst_const.h `SCST_LUN_ADDR_METHOD_FLAT`.
pub const SCST_LUN_ADDR_METHOD_FLAT: i32 = 1;
/// C: scst_const.h `SCST_LUN_ADDR_METHOD_LUN`: logical unit addressing.
pub const SCST_LUN_ADDR_METHOD_LUN: i32 = 2;
/// C: scst_const.h `SCST_LUN_ADDR_METHOD_EXTENDED_LUN`.
pub const SCST_LUN_ADDR_METHOD_EXTENDED_LUN: i32 = 3;

// ---------------------------------------------------------------------------------------------
// Task attributes — C `enum scst_cmd_queue_type` (`cmd->queue_type`)
// ---------------------------------------------------------------------------------------------

/// C: scst_const.h `SCST_CMD_QUEUE_UNTAGGED`.
pub const SCST_CMD_QUEUE_UNTAGGED: i32 = 0;
/// C: scst_const.h `SCST_CMD_QUEUE_SIMPLE`.
pub const SCST_CMD_QUEUE_SIMPLE: i32 = 1;
/// C: scst_const.h `SCST_CMD_QUEUE_ORDERED`.
pub const SCST_CMD_QUEUE_ORDERED: i32 = 2;
/// C: scst_const.h `SCST_CMD_QUEUE_HEAD_OF_QUEUE`.
pub const SCST_CMD_QUEUE_HEAD_OF_QUEUE: i32 = 3;
/// C: scst_const.h `SCST_CMD_QUEUE_ACA`.
pub const SCST_CMD_QUEUE_ACA: i32 = 4;

// ---------------------------------------------------------------------------------------------
// CDB flags — C `enum scst_cdb_flags` (`cmd->op_flags`, the CDB table's `info_op_flags`)
//
// Each is one bit of a 32-bit word (a flag word rather than C bit fields, so user space built
// with another compiler reads the same layout).
// ---------------------------------------------------------------------------------------------

/// C: scst_const.h `SCST_SMALL_TIMEOUT`: the command gets the handler's short timeout. Must stay
/// bit 0 (with [`SCST_LONG_TIMEOUT`] bit 1): `scst_generic_parse()` relies on it.
pub const SCST_SMALL_TIMEOUT: u32 = 0x0001;
/// C: scst_const.h `SCST_LONG_TIMEOUT`: the command gets the handler's long timeout.
pub const SCST_LONG_TIMEOUT: u32 = 0x0002;
/// C: scst_const.h `SCST_BOTH_TIMEOUTS`: mask of the two timeout bits.
pub const SCST_BOTH_TIMEOUTS: u32 = SCST_SMALL_TIMEOUT | SCST_LONG_TIMEOUT;
/// C: scst_const.h `SCST_TRANSFER_LEN_TYPE_FIXED`: the transfer length counts blocks when the
/// CDB's FIXED bit is set (tape).
pub const SCST_TRANSFER_LEN_TYPE_FIXED: u32 = 0x0004;
/// C: scst_const.h `SCST_UNKNOWN_LBA`: the LBA cannot be taken from the CDB.
pub const SCST_UNKNOWN_LBA: u32 = 0x0008;
/// C: scst_const.h `SCST_UNKNOWN_LENGTH`: the transfer length cannot be taken from the CDB.
pub const SCST_UNKNOWN_LENGTH: u32 = 0x0010;
/// C: scst_const.h `SCST_INFO_VALID`: the CDB table entry's data are valid for this command.
pub const SCST_INFO_VALID: u32 = 0x0020;
/// C: scst_const.h `SCST_LBA_NOT_VALID`: the CDB has no LBA. Negative on purpose: a handler
/// must either fill in `cmd->lba` or set this flag.
pub const SCST_LBA_NOT_VALID: u32 = 0x0040;
/// C: scst_const.h `SCST_IMPLICIT_HQ`: executed as HEAD OF QUEUE whatever the task attribute.
pub const SCST_IMPLICIT_HQ: u32 = 0x0080;
/// C: scst_const.h `SCST_SKIP_UA`: a pending unit attention does not stop this command.
pub const SCST_SKIP_UA: u32 = 0x0100;
/// C: scst_const.h `SCST_WRITE_MEDIUM`: the command writes to the medium.
pub const SCST_WRITE_MEDIUM: u32 = 0x0200;
/// C: scst_const.h `SCST_LOCAL_CMD`: the core executes the command itself (partly or wholly).
pub const SCST_LOCAL_CMD: u32 = 0x0400;
/// C: scst_const.h `SCST_FULLY_LOCAL_CMD`: the core handles the command completely; the
/// handler's `parse()` and `dev_done()` are not called for it.
pub const SCST_FULLY_LOCAL_CMD: u32 = 0x0800;
/// C: scst_const.h `SCST_REG_RESERVE_ALLOWED`: allowed for a registrant under a persistent
/// reservation.
pub const SCST_REG_RESERVE_ALLOWED: u32 = 0x1000;
/// C: scst_const.h `SCST_WRITE_EXCL_ALLOWED`: allowed under a WRITE EXCLUSIVE reservation.
pub const SCST_WRITE_EXCL_ALLOWED: u32 = 0x2000;
/// C: scst_const.h `SCST_EXCL_ACCESS_ALLOWED`: allowed under an EXCLUSIVE ACCESS reservation.
pub const SCST_EXCL_ACCESS_ALLOWED: u32 = 0x4000;
/// C: scst_const.h `SCST_TEST_IO_IN_SIRQ_ALLOWED`: only in builds with the debugging option
/// `CONFIG_SCST_TEST_IO_IN_SIRQ` (not this port's); the bit stays reserved.
pub const SCST_TEST_IO_IN_SIRQ_ALLOWED: u32 = 0x8000;
/// C: scst_const.h `SCST_SERIALIZED`: executed serialized with other commands of the device.
pub const SCST_SERIALIZED: u32 = 0x10000;
/// C: scst_const.h `SCST_STRICTLY_SERIALIZED`: executed alone on the device; includes
/// [`SCST_SERIALIZED`].
pub const SCST_STRICTLY_SERIALIZED: u32 = 0x20000 | SCST_SERIALIZED;
/// C: scst_const.h `SCST_CAN_GEN_3PARTY_COMMANDS`: may generate third-party commands (EXTENDED
/// COPY).
pub const SCST_CAN_GEN_3PARTY_COMMANDS: u32 = 0x40000;
/// C: scst_const.h `SCST_DESCRIPTORS_BASED`: the data are a list of descriptors (UNMAP, …).
pub const SCST_DESCRIPTORS_BASED: u32 = 0x80000;
/// C: scst_const.h `SCST_SCSI_ATOMIC`: an atomic SCSI command (COMPARE AND WRITE).
pub const SCST_SCSI_ATOMIC: u32 = 0x100000;

// ---------------------------------------------------------------------------------------------
// Data directions (`cmd->data_direction`, `cmd->expected_data_direction`)
//
// Bit values: BIDI is WRITE | READ, so `dir & SCST_DATA_WRITE` tests "has data out". These are
// not the kernel's `enum dma_data_direction` values even though `scst.h` types the fields that
// way (`typedef enum dma_data_direction scst_data_direction`): 0 is DMA_BIDIRECTIONAL there and
// "unknown" here. `scst_to_dma_dir()` translates.
// ---------------------------------------------------------------------------------------------

/// C: scst_const.h `SCST_DATA_UNKNOWN`: not known yet (before parsing).
pub const SCST_DATA_UNKNOWN: i32 = 0;
/// C: scst_const.h `SCST_DATA_WRITE`: data flow from the initiator.
pub const SCST_DATA_WRITE: i32 = 1;
/// C: scst_const.h `SCST_DATA_READ`: data flow to the initiator.
pub const SCST_DATA_READ: i32 = 2;
/// C: scst_const.h `SCST_DATA_BIDI`: both directions.
pub const SCST_DATA_BIDI: i32 = SCST_DATA_WRITE | SCST_DATA_READ;
/// C: scst_const.h `SCST_DATA_NONE`: no data.
pub const SCST_DATA_NONE: i32 = 4;
/// C: scst_const.h `SCST_DATA_DIR_MAX`: one past the largest direction, the length of tables
/// indexed by direction (`scst_to_tgt_dma_dir`).
pub const SCST_DATA_DIR_MAX: usize = SCST_DATA_NONE as usize + 1;

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

/// C: scst_const.h `SCST_DEFAULT_ACG_NAME` (procfs builds): the name of the default access
/// group, the one `/proc/scsi_tgt/groups/Default` shows.
pub const SCST_DEFAULT_ACG_NAME: &str = "Default";

/// C: scst_const.h `SCST_DEFAULT_TGT_NAME_SUFFIX`: appended to the template name to name a
/// target registered without a name.
pub const SCST_DEFAULT_TGT_NAME_SUFFIX: &str = "_target_";

// ---------------------------------------------------------------------------------------------
// Sense: loading and examining
// ---------------------------------------------------------------------------------------------

/// C: scst_const.h `SCST_LOAD_SENSE(key_asc_ascq)`. In C it spreads a `key, asc, ascq` triple
/// over three arguments of `scst_set_cmd_error()` and friends; here the triple is a tuple and
/// this is the identity, kept so that ported calls read as in C.
#[allow(non_snake_case)]
pub const fn SCST_LOAD_SENSE(key_asc_ascq: (u8, u8, u8)) -> (u8, u8, u8) {
    key_asc_ascq
}

/// C: scst_const.h `scst_sense_valid()`: whether there is a sense buffer with bits 4–6 of
/// byte 0 all set, as in the response codes 70h–7Fh (fixed or descriptor format, with or
/// without the VALID bit). `None` (C `NULL`) and an empty buffer are not valid.
pub fn scst_sense_valid(sense: Option<&[u8]>) -> bool {
    match sense.and_then(|s| s.first()) {
        Some(&b0) => (b0 & 0x70) == 0x70,
        None => false,
    }
}

/// C: scst_const.h `scst_no_sense()`: whether there is a sense buffer whose byte 2 (the sense
/// key with the FILEMARK/EOM/ILI bits in fixed format) is zero. `None` (C `NULL`) gives false;
/// so does a buffer shorter than three bytes, which C would read past.
pub fn scst_no_sense(sense: Option<&[u8]>) -> bool {
    matches!(sense.and_then(|s| s.get(2)), Some(0))
}

/// C: scst_const.h `scst_sense_response_code()`: the response code, the low seven bits of
/// byte 0 (0x70/0x71 fixed, 0x72/0x73 descriptor format). C does not check for an empty
/// buffer; here an empty buffer gives 0, which is no valid response code.
pub fn scst_sense_response_code(sense: &[u8]) -> u8 {
    sense.first().map_or(0, |b0| b0 & 0x7F)
}

// ---------------------------------------------------------------------------------------------
// Sense data `(key, ASC, ASCQ)` for the common errors (for `scst_set_cmd_error()`; the ASC/ASCQ
// names are those of T10's list, https://www.t10.org/lists/asc-num.htm)
// ---------------------------------------------------------------------------------------------

/// C: scst_const.h `scst_sense_no_sense`: NO SENSE, no additional information.
pub const scst_sense_no_sense: (u8, u8, u8) = (NO_SENSE, 0x00, 0);

/// C: scst_const.h `scst_sense_format_in_progress`: NOT READY, 04/04 FORMAT IN PROGRESS.
pub const scst_sense_format_in_progress: (u8, u8, u8) = (NOT_READY, 0x04, 0x04);
/// C: scst_const.h `scst_sense_alua_transitioning`: NOT READY, 04/0A ASYMMETRIC ACCESS STATE
/// TRANSITION.
pub const scst_sense_alua_transitioning: (u8, u8, u8) = (NOT_READY, 0x04, 0x0A);
/// C: scst_const.h `scst_sense_alua_standby`: NOT READY, 04/0B TARGET PORT IN STANDBY STATE.
pub const scst_sense_alua_standby: (u8, u8, u8) = (NOT_READY, 0x04, 0x0B);
/// C: scst_const.h `scst_sense_alua_unav`: NOT READY, 04/0C TARGET PORT IN UNAVAILABLE STATE.
pub const scst_sense_alua_unav: (u8, u8, u8) = (NOT_READY, 0x04, 0x0C);
/// C: scst_const.h `scst_sense_no_medium`: NOT READY, 3A/00 MEDIUM NOT PRESENT.
pub const scst_sense_no_medium: (u8, u8, u8) = (NOT_READY, 0x3a, 0);

/// C: scst_const.h `scst_sense_write_error`: MEDIUM ERROR, 03/00 (write fault).
pub const scst_sense_write_error: (u8, u8, u8) = (MEDIUM_ERROR, 0x03, 0);
/// C: scst_const.h `scst_sense_read_error`: MEDIUM ERROR, 11/00 UNRECOVERED READ ERROR.
pub const scst_sense_read_error: (u8, u8, u8) = (MEDIUM_ERROR, 0x11, 0);

/// C: scst_const.h `scst_sense_hardw_error`: HARDWARE ERROR, 44/00 INTERNAL TARGET FAILURE —
/// the initiator should not retry (compare [`scst_sense_internal_failure`]).
pub const scst_sense_hardw_error: (u8, u8, u8) = (HARDWARE_ERROR, 0x44, 0);
/// C: scst_const.h `scst_sense_set_target_pgs_failed`: HARDWARE ERROR, 67/0A SET TARGET PORT
/// GROUPS COMMAND FAILED.
pub const scst_sense_set_target_pgs_failed: (u8, u8, u8) = (HARDWARE_ERROR, 0x67, 0xA);

/// C: scst_const.h `scst_sense_operation_in_progress`: ILLEGAL REQUEST, 00/16 OPERATION IN
/// PROGRESS.
pub const scst_sense_operation_in_progress: (u8, u8, u8) = (ILLEGAL_REQUEST, 0x0, 0x16);
/// C: scst_const.h `scst_sense_parameter_list_length_invalid`: ILLEGAL REQUEST, 1A/00. C
/// defines it twice with the same value (the second time after
/// `scst_sense_invalid_message`); once is enough here.
pub const scst_sense_parameter_list_length_invalid: (u8, u8, u8) = (ILLEGAL_REQUEST, 0x1A, 0);
/// C: scst_const.h `scst_sense_invalid_opcode`: ILLEGAL REQUEST, 20/00 INVALID COMMAND
/// OPERATION CODE.
pub const scst_sense_invalid_opcode: (u8, u8, u8) = (ILLEGAL_REQUEST, 0x20, 0);
/// C: scst_const.h `scst_sense_block_out_range_error`: ILLEGAL REQUEST, 21/00 LOGICAL BLOCK
/// ADDRESS OUT OF RANGE.
pub const scst_sense_block_out_range_error: (u8, u8, u8) = (ILLEGAL_REQUEST, 0x21, 0);
/// C: scst_const.h `scst_sense_invalid_field_in_cdb`: ILLEGAL REQUEST, 24/00. Callers should
/// use `scst_set_invalid_field_in_cdb()`, which also fills in the field pointer.
pub const scst_sense_invalid_field_in_cdb: (u8, u8, u8) = (ILLEGAL_REQUEST, 0x24, 0);
/// C: scst_const.h `scst_sense_lun_not_supported`: ILLEGAL REQUEST, 25/00 LOGICAL UNIT NOT
/// SUPPORTED.
pub const scst_sense_lun_not_supported: (u8, u8, u8) = (ILLEGAL_REQUEST, 0x25, 0);
/// C: scst_const.h `scst_sense_invalid_field_in_parm_list`: ILLEGAL REQUEST, 26/00. Callers
/// should use `scst_set_invalid_field_in_parm_list()`, which also fills in the field pointer.
pub const scst_sense_invalid_field_in_parm_list: (u8, u8, u8) = (ILLEGAL_REQUEST, 0x26, 0);
/// C: scst_const.h `scst_sense_parameter_value_invalid`: ILLEGAL REQUEST, 26/02.
pub const scst_sense_parameter_value_invalid: (u8, u8, u8) = (ILLEGAL_REQUEST, 0x26, 2);
/// C: scst_const.h `scst_sense_invalid_release`: ILLEGAL REQUEST, 26/04 INVALID RELEASE OF
/// PERSISTENT RESERVATION.
pub const scst_sense_invalid_release: (u8, u8, u8) = (ILLEGAL_REQUEST, 0x26, 4);
/// C: scst_const.h `scst_sense_too_many_target_descriptors`: ILLEGAL REQUEST, 26/06.
pub const scst_sense_too_many_target_descriptors: (u8, u8, u8) = (ILLEGAL_REQUEST, 0x26, 6);
/// C: scst_const.h `scst_sense_unsupported_tgt_descr_type`: ILLEGAL REQUEST, 26/07.
pub const scst_sense_unsupported_tgt_descr_type: (u8, u8, u8) = (ILLEGAL_REQUEST, 0x26, 7);
/// C: scst_const.h `scst_sense_too_many_segment_descriptors`: ILLEGAL REQUEST, 26/08.
pub const scst_sense_too_many_segment_descriptors: (u8, u8, u8) = (ILLEGAL_REQUEST, 0x26, 8);
/// C: scst_const.h `scst_sense_unsupported_seg_descr_type`: ILLEGAL REQUEST, 26/09.
pub const scst_sense_unsupported_seg_descr_type: (u8, u8, u8) = (ILLEGAL_REQUEST, 0x26, 9);
/// C: scst_const.h `scst_sense_inline_data_length_exceeded`: ILLEGAL REQUEST, 26/0B.
pub const scst_sense_inline_data_length_exceeded: (u8, u8, u8) = (ILLEGAL_REQUEST, 0x26, 0xB);
/// C: scst_const.h `scst_sense_saving_params_unsup`: ILLEGAL REQUEST, 39/00 SAVING PARAMETERS
/// NOT SUPPORTED.
pub const scst_sense_saving_params_unsup: (u8, u8, u8) = (ILLEGAL_REQUEST, 0x39, 0);
/// C: scst_const.h `scst_sense_invalid_message`: ILLEGAL REQUEST, 49/00 INVALID MESSAGE ERROR.
pub const scst_sense_invalid_message: (u8, u8, u8) = (ILLEGAL_REQUEST, 0x49, 0);
/// C: scst_const.h `scst_sense_invalid_field_in_command_information_unit`: ILLEGAL REQUEST,
/// 0E/03.
pub const scst_sense_invalid_field_in_command_information_unit: (u8, u8, u8) =
    (ILLEGAL_REQUEST, 0xE, 0x3);

/// C: scst_const.h `scst_sense_medium_changed_UA`: UNIT ATTENTION, 28/00 NOT READY TO READY
/// CHANGE, MEDIUM MAY HAVE CHANGED.
pub const scst_sense_medium_changed_UA: (u8, u8, u8) = (UNIT_ATTENTION, 0x28, 0);
/// C: scst_const.h `scst_sense_reset_UA`: UNIT ATTENTION, 29/00 POWER ON, RESET, OR BUS DEVICE
/// RESET OCCURRED — the unit attention every new `tgt_dev` starts with.
pub const scst_sense_reset_UA: (u8, u8, u8) = (UNIT_ATTENTION, 0x29, 0);
/// C: scst_const.h `scst_sense_nexus_loss_UA`: UNIT ATTENTION, 29/07 I_T NEXUS LOSS OCCURRED.
pub const scst_sense_nexus_loss_UA: (u8, u8, u8) = (UNIT_ATTENTION, 0x29, 0x7);
/// C: scst_const.h `scst_sense_reservation_preempted`: UNIT ATTENTION, 2A/03.
pub const scst_sense_reservation_preempted: (u8, u8, u8) = (UNIT_ATTENTION, 0x2A, 0x03);
/// C: scst_const.h `scst_sense_reservation_released`: UNIT ATTENTION, 2A/04.
pub const scst_sense_reservation_released: (u8, u8, u8) = (UNIT_ATTENTION, 0x2A, 0x04);
/// C: scst_const.h `scst_sense_registrations_preempted`: UNIT ATTENTION, 2A/05.
pub const scst_sense_registrations_preempted: (u8, u8, u8) = (UNIT_ATTENTION, 0x2A, 0x05);
/// C: scst_const.h `scst_sense_asym_access_state_changed`: UNIT ATTENTION, 2A/06 ASYMMETRIC
/// ACCESS STATE CHANGED.
pub const scst_sense_asym_access_state_changed: (u8, u8, u8) = (UNIT_ATTENTION, 0x2A, 0x06);
/// C: scst_const.h `scst_sense_capacity_data_changed`: UNIT ATTENTION, 2A/09 CAPACITY DATA HAS
/// CHANGED.
pub const scst_sense_capacity_data_changed: (u8, u8, u8) = (UNIT_ATTENTION, 0x2A, 0x9);
/// C: scst_const.h `scst_sense_cleared_by_another_ini_UA`: UNIT ATTENTION, 2F/00 COMMANDS
/// CLEARED BY ANOTHER INITIATOR.
pub const scst_sense_cleared_by_another_ini_UA: (u8, u8, u8) = (UNIT_ATTENTION, 0x2F, 0);
/// C: scst_const.h `scst_sense_tp_soft_threshold_reached`: UNIT ATTENTION, 38/07 THIN
/// PROVISIONING SOFT THRESHOLD REACHED.
pub const scst_sense_tp_soft_threshold_reached: (u8, u8, u8) = (UNIT_ATTENTION, 0x38, 0x7);
/// C: scst_const.h `scst_sense_inquiry_data_changed`: UNIT ATTENTION, 3F/03 INQUIRY DATA HAS
/// CHANGED.
pub const scst_sense_inquiry_data_changed: (u8, u8, u8) = (UNIT_ATTENTION, 0x3F, 0x3);
/// C: scst_const.h `scst_sense_reported_luns_data_changed`: UNIT ATTENTION, 3F/0E REPORTED
/// LUNS DATA HAS CHANGED.
pub const scst_sense_reported_luns_data_changed: (u8, u8, u8) = (UNIT_ATTENTION, 0x3F, 0xE);

/// C: scst_const.h `scst_sense_data_protect`: DATA PROTECT, no additional information.
pub const scst_sense_data_protect: (u8, u8, u8) = (DATA_PROTECT, 0x00, 0);
/// C: scst_const.h `scst_space_allocation_failed_write_protect` (no `sense_` in the C name):
/// DATA PROTECT, 27/07 SPACE ALLOCATION FAILED WRITE PROTECT.
pub const scst_space_allocation_failed_write_protect: (u8, u8, u8) = (DATA_PROTECT, 0x27, 7);

/// C: scst_const.h `scst_sense_aborted_command`: ABORTED COMMAND, no additional information.
pub const scst_sense_aborted_command: (u8, u8, u8) = (ABORTED_COMMAND, 0x00, 0);
/// C: scst_const.h `scst_logical_block_guard_check_failed`: ABORTED COMMAND, 10/01 (T10-PI
/// guard tag).
pub const scst_logical_block_guard_check_failed: (u8, u8, u8) = (ABORTED_COMMAND, 0x10, 1);
/// C: scst_const.h `scst_logical_block_app_tag_check_failed`: ABORTED COMMAND, 10/02 (T10-PI
/// application tag).
pub const scst_logical_block_app_tag_check_failed: (u8, u8, u8) = (ABORTED_COMMAND, 0x10, 2);
/// C: scst_const.h `scst_logical_block_ref_tag_check_failed`: ABORTED COMMAND, 10/03 (T10-PI
/// reference tag).
pub const scst_logical_block_ref_tag_check_failed: (u8, u8, u8) = (ABORTED_COMMAND, 0x10, 3);
/// C: scst_const.h `scst_sense_internal_failure`: ABORTED COMMAND, 44/00 INTERNAL TARGET
/// FAILURE — the initiator may retry (compare [`scst_sense_hardw_error`]).
pub const scst_sense_internal_failure: (u8, u8, u8) = (ABORTED_COMMAND, 0x44, 0);

/// C: scst_const.h `scst_sense_miscompare_error`: MISCOMPARE, 1D/00 MISCOMPARE DURING VERIFY
/// OPERATION.
pub const scst_sense_miscompare_error: (u8, u8, u8) = (MISCOMPARE, 0x1D, 0);

// ---------------------------------------------------------------------------------------------
// SCSI opcodes the header adds to (or guards for) the kernel's list
// ---------------------------------------------------------------------------------------------

/// C: scst_const.h `INIT_ELEMENT_STATUS`: INITIALIZE ELEMENT STATUS (media changers).
pub const INIT_ELEMENT_STATUS: u8 = 0x07;
/// C: scst_const.h `INIT_ELEMENT_STATUS_RANGE`: INITIALIZE ELEMENT STATUS WITH RANGE.
pub const INIT_ELEMENT_STATUS_RANGE: u8 = 0x37;
/// C: scst_const.h `PREVENT_ALLOW_MEDIUM`: PREVENT ALLOW MEDIUM REMOVAL (the kernel's
/// [`ALLOW_MEDIUM_REMOVAL`]).
pub const PREVENT_ALLOW_MEDIUM: u8 = 0x1E;
/// C: scst_const.h `READ_ATTRIBUTE` (defined by the header only for kernels before 2.6.38,
/// by the kernel since).
pub const READ_ATTRIBUTE: u8 = 0x8C;
/// C: scst_const.h `REQUEST_VOLUME_ADDRESS`.
pub const REQUEST_VOLUME_ADDRESS: u8 = 0xB5;
/// C: scst_const.h `WRITE_ATTRIBUTE` (the header's copy is for kernels before 2.6.38).
pub const WRITE_ATTRIBUTE: u8 = 0x8D;
/// C: scst_const.h `WRITE_VERIFY_16`.
pub const WRITE_VERIFY_16: u8 = 0x8E;
/// C: scst_const.h `VERIFY_6`.
pub const VERIFY_6: u8 = 0x13;
/// C: scst_const.h `VERIFY_12` (when the kernel lacks it).
pub const VERIFY_12: u8 = 0xAF;
/// C: scst_const.h `GET_EVENT_STATUS_NOTIFICATION` (when the kernel lacks it).
pub const GET_EVENT_STATUS_NOTIFICATION: u8 = 0x4a;
/// C: scst_const.h `VARIABLE_LENGTH_CMD` (kernels before 2.6.26): the 32-byte CDBs, told apart
/// by their service action (`SUBCODE_*`).
pub const VARIABLE_LENGTH_CMD: u8 = 0x7f;
/// C: scst_const.h `READ_16` (when the kernel lacks it).
pub const READ_16: u8 = 0x88;
/// C: scst_const.h `WRITE_16` (when the kernel lacks it).
pub const WRITE_16: u8 = 0x8a;
/// C: scst_const.h `VERIFY_16` (when the kernel lacks it).
pub const VERIFY_16: u8 = 0x8f;
/// C: scst_const.h `MI_REPORT_IDENTIFYING_INFORMATION`: MAINTENANCE IN service action.
pub const MI_REPORT_IDENTIFYING_INFORMATION: u8 = 0x05;
/// C: scst_const.h `MI_REPORT_SUPPORTED_OPERATION_CODES`: MAINTENANCE IN service action.
pub const MI_REPORT_SUPPORTED_OPERATION_CODES: u8 = 0x0c;
/// C: scst_const.h `MI_REPORT_SUPPORTED_TASK_MANAGEMENT_FUNCTIONS`: MAINTENANCE IN service
/// action.
pub const MI_REPORT_SUPPORTED_TASK_MANAGEMENT_FUNCTIONS: u8 = 0x0d;
/// C: scst_const.h `SAI_READ_CAPACITY_16`: SERVICE ACTION IN(16) service action.
pub const SAI_READ_CAPACITY_16: u8 = 0x10;
/// C: scst_const.h `SAI_GET_LBA_STATUS`: SERVICE ACTION IN(16) service action.
pub const SAI_GET_LBA_STATUS: u8 = 0x12;
/// C: scst_const.h `REPORT_LUNS` (when the kernel lacks it).
pub const REPORT_LUNS: u8 = 0xa0;
/// C: scst_const.h `WRITE_SAME_16` (when the kernel lacks it).
pub const WRITE_SAME_16: u8 = 0x93;
/// C: scst_const.h `EXTENDED_COPY` (when the kernel lacks it).
pub const EXTENDED_COPY: u8 = 0x83;
/// C: scst_const.h `RECEIVE_COPY_RESULTS` (when the kernel lacks it).
pub const RECEIVE_COPY_RESULTS: u8 = 0x84;
/// C: scst_const.h `SYNCHRONIZE_CACHE_16` (when the kernel lacks it).
pub const SYNCHRONIZE_CACHE_16: u8 = 0x91;
/// C: scst_const.h `UNMAP` (kernels before 2.6.33).
pub const UNMAP: u8 = 0x42;

/// C: scst_const.h `SUBCODE_READ_32`: service action of a [`VARIABLE_LENGTH_CMD`] CDB.
pub const SUBCODE_READ_32: u8 = 0x09;
/// C: scst_const.h `SUBCODE_VERIFY_32`.
pub const SUBCODE_VERIFY_32: u8 = 0x0a;
/// C: scst_const.h `SUBCODE_WRITE_32`.
pub const SUBCODE_WRITE_32: u8 = 0x0b;
/// C: scst_const.h `SUBCODE_WRITE_VERIFY_32`.
pub const SUBCODE_WRITE_VERIFY_32: u8 = 0x0c;
/// C: scst_const.h `SUBCODE_WRITE_SAME_32`.
pub const SUBCODE_WRITE_SAME_32: u8 = 0x0d;

/// C: scst_const.h `COMPARE_AND_WRITE` (kernels before 3.12).
pub const COMPARE_AND_WRITE: u8 = 0x89;
/// C: scst_const.h `SERVICE_ACTION_IN_16` (user space and kernels before 3.19): READ
/// CAPACITY(16), GET LBA STATUS … by service action (`SAI_*`).
pub const SERVICE_ACTION_IN_16: u8 = 0x9e;
/// C: scst_const.h `BLKDISCARD` (from `<linux/fs.h>`, for kernels before 2.6.28): the block
/// device ioctl `_IO(0x12, 119)`.
pub const BLKDISCARD: u32 = kemu::chrdev::_IO(0x12, 119);

// ---------------------------------------------------------------------------------------------
// SAM status codes (`cmd->status`; SAM-3 draft T10/1561-D rev. 4)
// ---------------------------------------------------------------------------------------------

/// C: scst_const.h `SAM_STAT_GOOD`.
pub const SAM_STAT_GOOD: u8 = 0x00;
/// C: scst_const.h `SAM_STAT_CHECK_CONDITION`: sense data follow.
pub const SAM_STAT_CHECK_CONDITION: u8 = 0x02;
/// C: scst_const.h `SAM_STAT_CONDITION_MET`.
pub const SAM_STAT_CONDITION_MET: u8 = 0x04;
/// C: scst_const.h `SAM_STAT_BUSY`.
pub const SAM_STAT_BUSY: u8 = 0x08;
/// C: scst_const.h `SAM_STAT_INTERMEDIATE`.
pub const SAM_STAT_INTERMEDIATE: u8 = 0x10;
/// C: scst_const.h `SAM_STAT_INTERMEDIATE_CONDITION_MET`.
pub const SAM_STAT_INTERMEDIATE_CONDITION_MET: u8 = 0x14;
/// C: scst_const.h `SAM_STAT_RESERVATION_CONFLICT`.
pub const SAM_STAT_RESERVATION_CONFLICT: u8 = 0x18;
/// C: scst_const.h `SAM_STAT_COMMAND_TERMINATED` (obsolete since SAM-3).
pub const SAM_STAT_COMMAND_TERMINATED: u8 = 0x22;
/// C: scst_const.h `SAM_STAT_TASK_SET_FULL`.
pub const SAM_STAT_TASK_SET_FULL: u8 = 0x28;
/// C: scst_const.h `SAM_STAT_ACA_ACTIVE`.
pub const SAM_STAT_ACA_ACTIVE: u8 = 0x30;
/// C: scst_const.h `SAM_STAT_TASK_ABORTED`.
pub const SAM_STAT_TASK_ABORTED: u8 = 0x40;

// ---------------------------------------------------------------------------------------------
// CDB and INQUIRY bits
// ---------------------------------------------------------------------------------------------

/// C: scst_const.h `CONTROL_BYTE_LINK_BIT`: LINK bit of a CDB's control byte.
pub const CONTROL_BYTE_LINK_BIT: u8 = 0x01;
/// C: scst_const.h `CONTROL_BYTE_NACA_BIT`: NACA bit of a CDB's control byte.
pub const CONTROL_BYTE_NACA_BIT: u8 = 0x04;

/// C: scst_const.h `SCST_INQ_EVPD`: EVPD bit in byte 1 of an INQUIRY CDB.
pub const SCST_INQ_EVPD: u8 = 0x01;

/// C: scst_const.h `SCST_INQ_TPGS_MODE_IMPLICIT`: TPGS field (byte 5 of the standard INQUIRY
/// data, SPC-4), implicit ALUA.
pub const SCST_INQ_TPGS_MODE_IMPLICIT: u8 = 0x10;
/// C: scst_const.h `SCST_INQ_TPGS_MODE_EXPLICIT`: TPGS field, explicit ALUA.
pub const SCST_INQ_TPGS_MODE_EXPLICIT: u8 = 0x20;

/// C: scst_const.h `SCST_RES_3RDPTY`: 3RDPTY bit in byte 1 of a RESERVE(10) CDB.
pub const SCST_RES_3RDPTY: u8 = 0x10;
/// C: scst_const.h `SCST_RES_LONGID`: LONGID bit in byte 1 of a RESERVE(10) CDB.
pub const SCST_RES_LONGID: u8 = 0x02;

// ---------------------------------------------------------------------------------------------
// Control mode page field values (`dev->tst`, `queue_alg`, `d_sense`, `qerr`, `ato`, `dpicz`)
// ---------------------------------------------------------------------------------------------

/// C: scst_const.h `SCST_TST_0_SINGLE_TASK_SET`: TST 0, one task set for all initiators.
pub const SCST_TST_0_SINGLE_TASK_SET: u8 = 0;
/// C: scst_const.h `SCST_TST_1_SEP_TASK_SETS`: TST 1, a task set per I_T nexus.
pub const SCST_TST_1_SEP_TASK_SETS: u8 = 1;

/// C: scst_const.h `SCST_QUEUE_ALG_0_RESTRICTED_REORDER`: QUEUE ALGORITHM MODIFIER 0.
pub const SCST_QUEUE_ALG_0_RESTRICTED_REORDER: u8 = 0;
/// C: scst_const.h `SCST_QUEUE_ALG_1_UNRESTRICTED_REORDER`: QUEUE ALGORITHM MODIFIER 1.
pub const SCST_QUEUE_ALG_1_UNRESTRICTED_REORDER: u8 = 1;

/// C: scst_const.h `SCST_D_SENSE_0_FIXED_SENSE`: D_SENSE 0, fixed-format sense data.
pub const SCST_D_SENSE_0_FIXED_SENSE: u8 = 0;
/// C: scst_const.h `SCST_D_SENSE_1_DESCR_SENSE`: D_SENSE 1, descriptor-format sense data.
pub const SCST_D_SENSE_1_DESCR_SENSE: u8 = 1;

/// C: scst_const.h `SCST_QERR_0_ALL_RESUME`: QErr 0, other tasks go on after a CHECK
/// CONDITION.
pub const SCST_QERR_0_ALL_RESUME: u8 = 0;
/// C: scst_const.h `SCST_QERR_1_ABORT_ALL`: QErr 1, all tasks of the task set are aborted.
pub const SCST_QERR_1_ABORT_ALL: u8 = 1;
/// C: scst_const.h `SCST_QERR_2_RESERVED`: QErr 2, reserved.
pub const SCST_QERR_2_RESERVED: u8 = 2;
/// C: scst_const.h `SCST_QERR_3_ABORT_THIS_NEXUS_ONLY`: QErr 3, only the tasks of the failing
/// I_T nexus are aborted.
pub const SCST_QERR_3_ABORT_THIS_NEXUS_ONLY: u8 = 3;

/// C: scst_const.h `SCST_ATO_0_MODIFIED_BY_STORAGE`: ATO 0, the device owns (and may change)
/// the application tags.
pub const SCST_ATO_0_MODIFIED_BY_STORAGE: u8 = 0;
/// C: scst_const.h `SCST_ATO_1_NOT_MODIFIED_BY_STORAGE`: ATO 1, the application owns them.
pub const SCST_ATO_1_NOT_MODIFIED_BY_STORAGE: u8 = 1;

/// C: scst_const.h `SCST_DPICZ_CHECK_ON_xPROT_0`: DPICZ 0, protection information is checked
/// even when the CDB's xPROTECT field is 0.
pub const SCST_DPICZ_CHECK_ON_xPROT_0: u8 = 0;
/// C: scst_const.h `SCST_DPICZ_NO_CHECK_ON_xPROT_0`: DPICZ 1, no check when xPROTECT is 0.
pub const SCST_DPICZ_NO_CHECK_ON_xPROT_0: u8 = 1;

// ---------------------------------------------------------------------------------------------
// T10-PI (DIF) tags
// ---------------------------------------------------------------------------------------------

/// C: scst_const.h `SCST_DIF_NO_CHECK_ALL_APP_TAG`: an application tag of all ones (C writes it
/// `cpu_to_be16(0xFFFF)`, the same bytes in either order): no check of this block at all.
pub const SCST_DIF_NO_CHECK_ALL_APP_TAG: u16 = 0xFFFF;
/// C: scst_const.h `SCST_DIF_NO_CHECK_ALL_REF_TAG`: a reference tag of all ones
/// (`cpu_to_be32(0xFFFFFFFF)`): together with the app tag, no check of this block.
pub const SCST_DIF_NO_CHECK_ALL_REF_TAG: u32 = 0xFFFF_FFFF;
/// C: scst_const.h `SCST_DIF_NO_CHECK_APP_TAG`: do not check the application tag.
pub const SCST_DIF_NO_CHECK_APP_TAG: u16 = 0;

/// C: scst_const.h `SCST_DIF_TAG_SHIFT`: log2 of the 8-byte size of a DIF tuple.
pub const SCST_DIF_TAG_SHIFT: u32 = 3;

/// C: scst_const.h `SCST_DIF_GUARD_FORMAT_CRC`: guard tags are CRC16 (T10-DIF).
pub const SCST_DIF_GUARD_FORMAT_CRC: i32 = 0;
/// C: scst_const.h `SCST_DIF_GUARD_FORMAT_IP`: guard tags are IP checksums.
pub const SCST_DIF_GUARD_FORMAT_IP: i32 = 1;

// ---------------------------------------------------------------------------------------------
// TransportID protocol identifiers (SPC, PROTOCOL IDENTIFIER field)
// ---------------------------------------------------------------------------------------------

/// C: scst_const.h `SCSI_TRANSPORTID_PROTOCOLID_FCP2`: Fibre Channel.
pub const SCSI_TRANSPORTID_PROTOCOLID_FCP2: u8 = 0;
/// C: scst_const.h `SCSI_TRANSPORTID_PROTOCOLID_SPI5`: parallel SCSI.
pub const SCSI_TRANSPORTID_PROTOCOLID_SPI5: u8 = 1;
/// C: scst_const.h `SCSI_TRANSPORTID_PROTOCOLID_SRP`: SCSI RDMA Protocol.
pub const SCSI_TRANSPORTID_PROTOCOLID_SRP: u8 = 4;
/// C: scst_const.h `SCSI_TRANSPORTID_PROTOCOLID_ISCSI`: iSCSI.
pub const SCSI_TRANSPORTID_PROTOCOLID_ISCSI: u8 = 5;
/// C: scst_const.h `SCSI_TRANSPORTID_PROTOCOLID_SAS`: SAS.
pub const SCSI_TRANSPORTID_PROTOCOLID_SAS: u8 = 6;
/// C: scst_const.h `SCST_TRANSPORTID_PROTOCOLID_COPY_MGR`: SCST's own identifier for the copy
/// manager, which no SCSI standard gives a TransportID.
pub const SCST_TRANSPORTID_PROTOCOLID_COPY_MGR: u8 = 0xC;

// ---------------------------------------------------------------------------------------------
// ALUA: target port group asymmetric access states — C `enum scst_tg_state` (SPC-4, REPORT
// TARGET PORT GROUPS)
// ---------------------------------------------------------------------------------------------

/// C: scst_const.h `SCST_TG_STATE_UNDEFINED`: no state (SCST's own value).
pub const SCST_TG_STATE_UNDEFINED: i32 = -1;
/// C: scst_const.h `SCST_TG_STATE_OPTIMIZED`: active/optimized.
pub const SCST_TG_STATE_OPTIMIZED: i32 = 0x0;
/// C: scst_const.h `SCST_TG_STATE_NONOPTIMIZED`: active/non-optimized.
pub const SCST_TG_STATE_NONOPTIMIZED: i32 = 0x1;
/// C: scst_const.h `SCST_TG_STATE_STANDBY`.
pub const SCST_TG_STATE_STANDBY: i32 = 0x2;
/// C: scst_const.h `SCST_TG_STATE_UNAVAILABLE`.
pub const SCST_TG_STATE_UNAVAILABLE: i32 = 0x3;
/// C: scst_const.h `SCST_TG_STATE_LBA_DEPENDENT`.
pub const SCST_TG_STATE_LBA_DEPENDENT: i32 = 0x4;
/// C: scst_const.h `SCST_TG_STATE_OFFLINE`.
pub const SCST_TG_STATE_OFFLINE: i32 = 0xe;
/// C: scst_const.h `SCST_TG_STATE_TRANSITIONING`.
pub const SCST_TG_STATE_TRANSITIONING: i32 = 0xf;

/// C: scst_const.h `SCST_TG_PREFERRED`: the PREF bit of a target port group descriptor.
pub const SCST_TG_PREFERRED: u8 = 0x80;

/// C: scst_const.h `SCST_TG_SUP_OPTIMIZED` (C `enum scst_tg_sup`, the supported-states bits of
/// a target port group descriptor): AO_SUP.
pub const SCST_TG_SUP_OPTIMIZED: u8 = 0x01;
/// C: scst_const.h `SCST_TG_SUP_NONOPTIMIZED`: AN_SUP.
pub const SCST_TG_SUP_NONOPTIMIZED: u8 = 0x02;
/// C: scst_const.h `SCST_TG_SUP_STANDBY`: S_SUP.
pub const SCST_TG_SUP_STANDBY: u8 = 0x04;
/// C: scst_const.h `SCST_TG_SUP_UNAVAILABLE`: U_SUP.
pub const SCST_TG_SUP_UNAVAILABLE: u8 = 0x08;
/// C: scst_const.h `SCST_TG_SUP_LBA_DEPENDENT`: LBD_SUP.
pub const SCST_TG_SUP_LBA_DEPENDENT: u8 = 0x10;
/// C: scst_const.h `SCST_TG_SUP_OFFLINE`: O_SUP.
pub const SCST_TG_SUP_OFFLINE: u8 = 0x40;
/// C: scst_const.h `SCST_TG_SUP_TRANSITION`: T_SUP.
pub const SCST_TG_SUP_TRANSITION: u8 = 0x80;

// ---------------------------------------------------------------------------------------------
// Miscellaneous SCSI values
// ---------------------------------------------------------------------------------------------

/// C: scst_const.h `SCST_SENSE_ASC_UA_RESET`: ASC 29h, the POWER ON / RESET family of unit
/// attentions.
pub const SCST_SENSE_ASC_UA_RESET: u8 = 0x29;

/// C: scst_const.h `DID_TRANSPORT_DISRUPTED` (for kernels without it): host byte, the
/// transport was disrupted; the transport class retries or fails the I/O.
pub const DID_TRANSPORT_DISRUPTED: u8 = 0xe;
/// C: scst_const.h `DID_TRANSPORT_FAILFAST`: host byte, the transport class failed the I/O
/// fast.
pub const DID_TRANSPORT_FAILFAST: u8 = 0xf;
/// C: scst_const.h `DID_TARGET_FAILURE`: host byte, permanent target failure, other paths
/// will not help.
pub const DID_TARGET_FAILURE: u8 = 0x10;
/// C: scst_const.h `DID_NEXUS_FAILURE`: host byte, permanent nexus failure, another path might
/// work.
pub const DID_NEXUS_FAILURE: u8 = 0x11;
/// C: scst_const.h `DID_ALLOC_FAILURE`: host byte, space allocation on the device failed.
pub const DID_ALLOC_FAILURE: u8 = 0x12;
/// C: scst_const.h `DID_MEDIUM_ERROR`: host byte, medium error.
pub const DID_MEDIUM_ERROR: u8 = 0x13;

// ---------------------------------------------------------------------------------------------
// Timeouts, in jiffies (`HZ` per second), of the pass-through handlers
// ---------------------------------------------------------------------------------------------

/// C: scst_const.h `SCST_DEFAULT_TIMEOUT`: 30 s.
pub const SCST_DEFAULT_TIMEOUT: u64 = 30 * HZ;
/// C: scst_const.h `SCST_DEFAULT_NOMINAL_TIMEOUT_SEC`: nominal command timeout in seconds that
/// REPORT SUPPORTED OPERATION CODES reports (`od_nominal_timeout`).
pub const SCST_DEFAULT_NOMINAL_TIMEOUT_SEC: u32 = 1;

/// C: scst_const.h `SCST_GENERIC_CHANGER_TIMEOUT`.
pub const SCST_GENERIC_CHANGER_TIMEOUT: u64 = 3 * HZ;
/// C: scst_const.h `SCST_GENERIC_CHANGER_LONG_TIMEOUT`.
pub const SCST_GENERIC_CHANGER_LONG_TIMEOUT: u64 = 14000 * HZ;

/// C: scst_const.h `SCST_GENERIC_PROCESSOR_TIMEOUT`.
pub const SCST_GENERIC_PROCESSOR_TIMEOUT: u64 = 3 * HZ;
/// C: scst_const.h `SCST_GENERIC_PROCESSOR_LONG_TIMEOUT`.
pub const SCST_GENERIC_PROCESSOR_LONG_TIMEOUT: u64 = 14000 * HZ;

/// C: scst_const.h `SCST_GENERIC_TAPE_SMALL_TIMEOUT`.
pub const SCST_GENERIC_TAPE_SMALL_TIMEOUT: u64 = 3 * HZ;
/// C: scst_const.h `SCST_GENERIC_TAPE_REG_TIMEOUT`.
pub const SCST_GENERIC_TAPE_REG_TIMEOUT: u64 = 900 * HZ;
/// C: scst_const.h `SCST_GENERIC_TAPE_LONG_TIMEOUT`.
pub const SCST_GENERIC_TAPE_LONG_TIMEOUT: u64 = 14000 * HZ;

/// C: scst_const.h `SCST_GENERIC_MODISK_SMALL_TIMEOUT`.
pub const SCST_GENERIC_MODISK_SMALL_TIMEOUT: u64 = 3 * HZ;
/// C: scst_const.h `SCST_GENERIC_MODISK_REG_TIMEOUT`.
pub const SCST_GENERIC_MODISK_REG_TIMEOUT: u64 = 900 * HZ;
/// C: scst_const.h `SCST_GENERIC_MODISK_LONG_TIMEOUT`.
pub const SCST_GENERIC_MODISK_LONG_TIMEOUT: u64 = 14000 * HZ;

/// C: scst_const.h `SCST_GENERIC_DISK_SMALL_TIMEOUT`.
pub const SCST_GENERIC_DISK_SMALL_TIMEOUT: u64 = 10 * HZ;
/// C: scst_const.h `SCST_GENERIC_DISK_REG_TIMEOUT`.
pub const SCST_GENERIC_DISK_REG_TIMEOUT: u64 = 60 * HZ;
/// C: scst_const.h `SCST_GENERIC_DISK_LONG_TIMEOUT`.
pub const SCST_GENERIC_DISK_LONG_TIMEOUT: u64 = 3600 * HZ;

/// C: scst_const.h `SCST_GENERIC_RAID_TIMEOUT`.
pub const SCST_GENERIC_RAID_TIMEOUT: u64 = 3 * HZ;
/// C: scst_const.h `SCST_GENERIC_RAID_LONG_TIMEOUT`.
pub const SCST_GENERIC_RAID_LONG_TIMEOUT: u64 = 14000 * HZ;

/// C: scst_const.h `SCST_GENERIC_CDROM_SMALL_TIMEOUT`.
pub const SCST_GENERIC_CDROM_SMALL_TIMEOUT: u64 = 3 * HZ;
/// C: scst_const.h `SCST_GENERIC_CDROM_REG_TIMEOUT`.
pub const SCST_GENERIC_CDROM_REG_TIMEOUT: u64 = 900 * HZ;
/// C: scst_const.h `SCST_GENERIC_CDROM_LONG_TIMEOUT`.
pub const SCST_GENERIC_CDROM_LONG_TIMEOUT: u64 = 14000 * HZ;

/// C: scst_const.h `SCST_MAX_OTHER_TIMEOUT`.
pub const SCST_MAX_OTHER_TIMEOUT: u64 = 14000 * HZ;

// ---------------------------------------------------------------------------------------------
// Attribute strings (they spell the `scst.h` values of the same name without `_STR`)
// ---------------------------------------------------------------------------------------------

/// C: scst_const.h `SCST_IO_GROUPING_AUTO_STR` (`scst::SCST_IO_GROUPING_AUTO`).
pub const SCST_IO_GROUPING_AUTO_STR: &str = "auto";
/// C: scst_const.h `SCST_IO_GROUPING_THIS_GROUP_ONLY_STR`
/// (`scst::SCST_IO_GROUPING_THIS_GROUP_ONLY`).
pub const SCST_IO_GROUPING_THIS_GROUP_ONLY_STR: &str = "this_group_only";
/// C: scst_const.h `SCST_IO_GROUPING_NEVER_STR` (`scst::SCST_IO_GROUPING_NEVER`).
pub const SCST_IO_GROUPING_NEVER_STR: &str = "never";

/// C: scst_const.h `SCST_THREADS_POOL_PER_INITIATOR_STR`
/// (`scst::SCST_THREADS_POOL_PER_INITIATOR`).
pub const SCST_THREADS_POOL_PER_INITIATOR_STR: &str = "per_initiator";
/// C: scst_const.h `SCST_THREADS_POOL_SHARED_STR` (`scst::SCST_THREADS_POOL_SHARED`).
pub const SCST_THREADS_POOL_SHARED_STR: &str = "shared";

// ---------------------------------------------------------------------------------------------
// Miscellaneous
// ---------------------------------------------------------------------------------------------

/// C: scst_const.h `SCST_SYSFS_BLOCK_SIZE`: the most a sysfs attribute shows, one page.
pub const SCST_SYSFS_BLOCK_SIZE: usize = kemu::mm::PAGE_SIZE;

/// C: scst_const.h `SCST_VAR_DIR`: SCST's state directory.
pub const SCST_VAR_DIR: &str = "/var/lib/scst";
/// C: scst_const.h `SCST_PR_DIR`: where persistent reservations are saved
/// ([`SCST_VAR_DIR`]`/pr`).
pub const SCST_PR_DIR: &str = "/var/lib/scst/pr";

// ---------------------------------------------------------------------------------------------
// Persistent reservations (scst_pres.h, scst_pres.c)
// ---------------------------------------------------------------------------------------------

/// C: scst_pres.h `PR_REGISTER`: PERSISTENT RESERVE OUT service action REGISTER.
pub const PR_REGISTER: u8 = 0x00;
/// C: scst_pres.h `PR_RESERVE`.
pub const PR_RESERVE: u8 = 0x01;
/// C: scst_pres.h `PR_RELEASE`.
pub const PR_RELEASE: u8 = 0x02;
/// C: scst_pres.h `PR_CLEAR`.
pub const PR_CLEAR: u8 = 0x03;
/// C: scst_pres.h `PR_PREEMPT`.
pub const PR_PREEMPT: u8 = 0x04;
/// C: scst_pres.h `PR_PREEMPT_AND_ABORT`.
pub const PR_PREEMPT_AND_ABORT: u8 = 0x05;
/// C: scst_pres.h `PR_REGISTER_AND_IGNORE`: REGISTER AND IGNORE EXISTING KEY.
pub const PR_REGISTER_AND_IGNORE: u8 = 0x06;
/// C: scst_pres.h `PR_REGISTER_AND_MOVE`.
pub const PR_REGISTER_AND_MOVE: u8 = 0x07;

/// C: scst_pres.h `PR_READ_KEYS`: PERSISTENT RESERVE IN service action READ KEYS.
pub const PR_READ_KEYS: u8 = 0x00;
/// C: scst_pres.h `PR_READ_RESERVATION`.
pub const PR_READ_RESERVATION: u8 = 0x01;
/// C: scst_pres.h `PR_REPORT_CAPS`: REPORT CAPABILITIES.
pub const PR_REPORT_CAPS: u8 = 0x02;
/// C: scst_pres.h `PR_READ_FULL_STATUS`.
pub const PR_READ_FULL_STATUS: u8 = 0x03;

/// C: scst_pres.h `TYPE_UNSPECIFIED` (-1; C stores it in the `uint8_t pr_type`, i.e. 0xff).
pub const TYPE_UNSPECIFIED: u8 = 0xff;
/// C: scst_pres.h `TYPE_WRITE_EXCLUSIVE`.
pub const TYPE_WRITE_EXCLUSIVE: u8 = 0x01;
/// C: scst_pres.h `TYPE_EXCLUSIVE_ACCESS`.
pub const TYPE_EXCLUSIVE_ACCESS: u8 = 0x03;
/// C: scst_pres.h `TYPE_WRITE_EXCLUSIVE_REGONLY`.
pub const TYPE_WRITE_EXCLUSIVE_REGONLY: u8 = 0x05;
/// C: scst_pres.h `TYPE_EXCLUSIVE_ACCESS_REGONLY`.
pub const TYPE_EXCLUSIVE_ACCESS_REGONLY: u8 = 0x06;
/// C: scst_pres.h `TYPE_WRITE_EXCLUSIVE_ALL_REG`.
pub const TYPE_WRITE_EXCLUSIVE_ALL_REG: u8 = 0x07;
/// C: scst_pres.h `TYPE_EXCLUSIVE_ACCESS_ALL_REG`.
pub const TYPE_EXCLUSIVE_ACCESS_ALL_REG: u8 = 0x08;

/// C: scst_pres.h `SCOPE_LU`: the only reservation scope SPC-4 keeps.
pub const SCOPE_LU: u8 = 0x00;

/// C: scst_pres.c `SCST_PR_FILE_SIGN`: the signature that starts a complete PR file.
pub const SCST_PR_FILE_SIGN: u64 = 0xBBEE_EEAA_EEBB_DD77;
/// C: scst_pres.c `SCST_PR_FILE_VERSION`.
pub const SCST_PR_FILE_VERSION: u64 = 1;

/// C: scst_const.h `TID_COMMON_SIZE`: the size of the fixed-length TransportID formats.
pub const TID_COMMON_SIZE: usize = 24;

/// C: scst_const.h `SCST_SYSFS_KEY_MARK`: the line sysfs adds to an attribute that differs from
/// its default, so that scstadmin saves it.
pub const SCST_SYSFS_KEY_MARK: &str = "[key]";

/// C: scst_const.h `SCST_MIN_REL_TGT_ID`: the lowest relative target port identifier.
pub const SCST_MIN_REL_TGT_ID: u16 = 1;
/// C: scst_const.h `SCST_MAX_REL_TGT_ID`: the highest relative target port identifier.
pub const SCST_MAX_REL_TGT_ID: u16 = 65535;

/// C: scst_const.h `E_TGT_PRIV_NOT_YET_SET` (`EBUSY`): what a target's sysfs attribute method
/// returns when called after `scst_register_target()` but before `scst_tgt_set_tgt_priv()`.
pub const E_TGT_PRIV_NOT_YET_SET: Errno = Errno::EBUSY;

/// C: scst_const.h `PR_DLM_LVB_LEN`: the size of the lock value block of the DLM persistent
/// reservation lockspace (`scst_dlm.c`, not used by this port).
pub const PR_DLM_LVB_LEN: usize = 256;

// ---------------------------------------------------------------------------------------------
// Kernel SCSI definitions
//
// `scst_const.h` starts by including the kernel's `<scsi/scsi.h>` (today `<scsi/scsi_proto.h>`
// and `<scsi/scsi.h>`), and SCST takes the values below from there. They are here under their
// kernel names because there is no other home for them in this workspace; the set is what SCST
// r7105 (core, vdisk, iscsi-scst) refers to, plus the complete lists of sense keys, device types
// and host bytes.
// ---------------------------------------------------------------------------------------------

/// C: `<scsi/scsi_proto.h>` `TEST_UNIT_READY`.
pub const TEST_UNIT_READY: u8 = 0x00;
/// C: `<scsi/scsi_proto.h>` `REQUEST_SENSE`.
pub const REQUEST_SENSE: u8 = 0x03;
/// C: `<scsi/scsi_proto.h>` `FORMAT_UNIT`.
pub const FORMAT_UNIT: u8 = 0x04;
/// C: `<scsi/scsi_proto.h>` `READ_6`.
pub const READ_6: u8 = 0x08;
/// C: `<scsi/scsi_proto.h>` `WRITE_6`.
pub const WRITE_6: u8 = 0x0a;
/// C: `<scsi/scsi_proto.h>` `INQUIRY`.
pub const INQUIRY: u8 = 0x12;
/// C: `<scsi/scsi_proto.h>` `MODE_SELECT`: MODE SELECT(6).
pub const MODE_SELECT: u8 = 0x15;
/// C: `<scsi/scsi_proto.h>` `RESERVE`: RESERVE(6).
pub const RESERVE: u8 = 0x16;
/// C: `<scsi/scsi_proto.h>` `RELEASE`: RELEASE(6).
pub const RELEASE: u8 = 0x17;
/// C: `<scsi/scsi_proto.h>` `COPY`.
pub const COPY: u8 = 0x18;
/// C: `<scsi/scsi_proto.h>` `MODE_SENSE`: MODE SENSE(6).
pub const MODE_SENSE: u8 = 0x1a;
/// C: `<scsi/scsi_proto.h>` `START_STOP`: START STOP UNIT.
pub const START_STOP: u8 = 0x1b;
/// C: `<scsi/scsi_proto.h>` `RECEIVE_DIAGNOSTIC`: RECEIVE DIAGNOSTIC RESULTS.
pub const RECEIVE_DIAGNOSTIC: u8 = 0x1c;
/// C: `<scsi/scsi_proto.h>` `SEND_DIAGNOSTIC`.
pub const SEND_DIAGNOSTIC: u8 = 0x1d;
/// C: `<scsi/scsi_proto.h>` `ALLOW_MEDIUM_REMOVAL`: PREVENT ALLOW MEDIUM REMOVAL (SCST also
/// calls it [`PREVENT_ALLOW_MEDIUM`]).
pub const ALLOW_MEDIUM_REMOVAL: u8 = 0x1e;
/// C: `<scsi/scsi_proto.h>` `READ_CAPACITY`: READ CAPACITY(10).
pub const READ_CAPACITY: u8 = 0x25;
/// C: `<scsi/scsi_proto.h>` `READ_10`.
pub const READ_10: u8 = 0x28;
/// C: `<scsi/scsi_proto.h>` `WRITE_10`.
pub const WRITE_10: u8 = 0x2a;
/// C: `<scsi/scsi_proto.h>` `WRITE_VERIFY`: WRITE AND VERIFY(10).
pub const WRITE_VERIFY: u8 = 0x2e;
/// C: `<scsi/scsi_proto.h>` `VERIFY`: VERIFY(10).
pub const VERIFY: u8 = 0x2f;
/// C: `<scsi/scsi_proto.h>` `SYNCHRONIZE_CACHE`: SYNCHRONIZE CACHE(10).
pub const SYNCHRONIZE_CACHE: u8 = 0x35;
/// C: `<scsi/scsi_proto.h>` `WRITE_BUFFER`.
pub const WRITE_BUFFER: u8 = 0x3b;
/// C: `<scsi/scsi_proto.h>` `READ_BUFFER`.
pub const READ_BUFFER: u8 = 0x3c;
/// C: `<scsi/scsi_proto.h>` `WRITE_SAME`: WRITE SAME(10).
pub const WRITE_SAME: u8 = 0x41;
/// C: `<scsi/scsi_proto.h>` `READ_TOC`: READ TOC/PMA/ATIP.
pub const READ_TOC: u8 = 0x43;
/// C: `<scsi/scsi_proto.h>` `LOG_SELECT`.
pub const LOG_SELECT: u8 = 0x4c;
/// C: `<scsi/scsi_proto.h>` `LOG_SENSE`.
pub const LOG_SENSE: u8 = 0x4d;
/// C: `<scsi/scsi_proto.h>` `MODE_SELECT_10`.
pub const MODE_SELECT_10: u8 = 0x55;
/// C: `<scsi/scsi_proto.h>` `RESERVE_10`.
pub const RESERVE_10: u8 = 0x56;
/// C: `<scsi/scsi_proto.h>` `RELEASE_10`.
pub const RELEASE_10: u8 = 0x57;
/// C: `<scsi/scsi_proto.h>` `MODE_SENSE_10`.
pub const MODE_SENSE_10: u8 = 0x5a;
/// C: `<scsi/scsi_proto.h>` `PERSISTENT_RESERVE_IN`.
pub const PERSISTENT_RESERVE_IN: u8 = 0x5e;
/// C: `<scsi/scsi_proto.h>` `PERSISTENT_RESERVE_OUT`.
pub const PERSISTENT_RESERVE_OUT: u8 = 0x5f;
/// C: `<scsi/scsi_proto.h>` `ATA_16`: ATA PASS-THROUGH(16).
pub const ATA_16: u8 = 0x85;
/// C: `<scsi/scsi_proto.h>` `ATA_12`: ATA PASS-THROUGH(12).
pub const ATA_12: u8 = 0xa1;
/// C: `<scsi/scsi_proto.h>` `MAINTENANCE_IN`: the commands told apart by service action
/// (`MI_*`).
pub const MAINTENANCE_IN: u8 = 0xa3;
/// C: `<scsi/scsi_proto.h>` `MAINTENANCE_OUT`: by service action (`MO_*`).
pub const MAINTENANCE_OUT: u8 = 0xa4;
/// C: `<scsi/scsi_proto.h>` `READ_12`.
pub const READ_12: u8 = 0xa8;
/// C: `<scsi/scsi_proto.h>` `WRITE_12`.
pub const WRITE_12: u8 = 0xaa;
/// C: `<scsi/scsi_proto.h>` `WRITE_VERIFY_12`.
pub const WRITE_VERIFY_12: u8 = 0xae;

/// C: `<scsi/scsi_proto.h>` `MI_REPORT_TARGET_PGS`: MAINTENANCE IN service action REPORT
/// TARGET PORT GROUPS.
pub const MI_REPORT_TARGET_PGS: u8 = 0x0a;
/// C: `<scsi/scsi_proto.h>` `MO_SET_TARGET_PGS`: MAINTENANCE OUT service action SET TARGET
/// PORT GROUPS.
pub const MO_SET_TARGET_PGS: u8 = 0x0a;

/// C: `<scsi/scsi_proto.h>` `NO_SENSE`: sense key 0.
pub const NO_SENSE: u8 = 0x00;
/// C: `<scsi/scsi_proto.h>` `RECOVERED_ERROR`: sense key 1.
pub const RECOVERED_ERROR: u8 = 0x01;
/// C: `<scsi/scsi_proto.h>` `NOT_READY`: sense key 2.
pub const NOT_READY: u8 = 0x02;
/// C: `<scsi/scsi_proto.h>` `MEDIUM_ERROR`: sense key 3.
pub const MEDIUM_ERROR: u8 = 0x03;
/// C: `<scsi/scsi_proto.h>` `HARDWARE_ERROR`: sense key 4.
pub const HARDWARE_ERROR: u8 = 0x04;
/// C: `<scsi/scsi_proto.h>` `ILLEGAL_REQUEST`: sense key 5.
pub const ILLEGAL_REQUEST: u8 = 0x05;
/// C: `<scsi/scsi_proto.h>` `UNIT_ATTENTION`: sense key 6.
pub const UNIT_ATTENTION: u8 = 0x06;
/// C: `<scsi/scsi_proto.h>` `DATA_PROTECT`: sense key 7.
pub const DATA_PROTECT: u8 = 0x07;
/// C: `<scsi/scsi_proto.h>` `BLANK_CHECK`: sense key 8.
pub const BLANK_CHECK: u8 = 0x08;
/// C: `<scsi/scsi_proto.h>` `VENDOR_SPECIFIC`: sense key 9.
pub const VENDOR_SPECIFIC: u8 = 0x09;
/// C: `<scsi/scsi_proto.h>` `COPY_ABORTED`: sense key 0Ah.
pub const COPY_ABORTED: u8 = 0x0a;
/// C: `<scsi/scsi_proto.h>` `ABORTED_COMMAND`: sense key 0Bh.
pub const ABORTED_COMMAND: u8 = 0x0b;
/// C: `<scsi/scsi_proto.h>` `VOLUME_OVERFLOW`: sense key 0Dh.
pub const VOLUME_OVERFLOW: u8 = 0x0d;
/// C: `<scsi/scsi_proto.h>` `MISCOMPARE`: sense key 0Eh.
pub const MISCOMPARE: u8 = 0x0e;

/// C: `<scsi/scsi_proto.h>` `TYPE_DISK`: peripheral device type (`dev->type`, C `int`).
pub const TYPE_DISK: i32 = 0x00;
/// C: `<scsi/scsi_proto.h>` `TYPE_TAPE`.
pub const TYPE_TAPE: i32 = 0x01;
/// C: `<scsi/scsi_proto.h>` `TYPE_PRINTER`.
pub const TYPE_PRINTER: i32 = 0x02;
/// C: `<scsi/scsi_proto.h>` `TYPE_PROCESSOR`.
pub const TYPE_PROCESSOR: i32 = 0x03;
/// C: `<scsi/scsi_proto.h>` `TYPE_WORM`: write-once.
pub const TYPE_WORM: i32 = 0x04;
/// C: `<scsi/scsi_proto.h>` `TYPE_ROM`: CD/DVD.
pub const TYPE_ROM: i32 = 0x05;
/// C: `<scsi/scsi_proto.h>` `TYPE_SCANNER`.
pub const TYPE_SCANNER: i32 = 0x06;
/// C: `<scsi/scsi_proto.h>` `TYPE_MOD`: magneto-optical disk.
pub const TYPE_MOD: i32 = 0x07;
/// C: `<scsi/scsi_proto.h>` `TYPE_MEDIUM_CHANGER`.
pub const TYPE_MEDIUM_CHANGER: i32 = 0x08;
/// C: `<scsi/scsi_proto.h>` `TYPE_COMM`: communications device.
pub const TYPE_COMM: i32 = 0x09;
/// C: `<scsi/scsi_proto.h>` `TYPE_RAID`: storage array controller.
pub const TYPE_RAID: i32 = 0x0c;
/// C: `<scsi/scsi_proto.h>` `TYPE_ENCLOSURE`: enclosure services device.
pub const TYPE_ENCLOSURE: i32 = 0x0d;
/// C: `<scsi/scsi_proto.h>` `TYPE_RBC`: simplified direct-access device.
pub const TYPE_RBC: i32 = 0x0e;
/// C: `<scsi/scsi_proto.h>` `TYPE_OSD`: object-based storage.
pub const TYPE_OSD: i32 = 0x11;
/// C: `<scsi/scsi_proto.h>` `TYPE_ZBC`: host-managed zoned block device.
pub const TYPE_ZBC: i32 = 0x14;
/// C: `<scsi/scsi_proto.h>` `TYPE_WLUN`: well-known logical unit.
pub const TYPE_WLUN: i32 = 0x1e;
/// C: `<scsi/scsi_proto.h>` `TYPE_NO_LUN`: no logical unit here.
pub const TYPE_NO_LUN: i32 = 0x7f;

/// C: `<scsi/scsi.h>` `DID_OK`: host byte (`cmd->host_status`), no error.
pub const DID_OK: u8 = 0x00;
/// C: `<scsi/scsi.h>` `DID_NO_CONNECT`: could not connect before the timeout.
pub const DID_NO_CONNECT: u8 = 0x01;
/// C: `<scsi/scsi.h>` `DID_BUS_BUSY`: the bus stayed busy through the timeout.
pub const DID_BUS_BUSY: u8 = 0x02;
/// C: `<scsi/scsi.h>` `DID_TIME_OUT`: timed out for another reason.
pub const DID_TIME_OUT: u8 = 0x03;
/// C: `<scsi/scsi.h>` `DID_BAD_TARGET`: bad target.
pub const DID_BAD_TARGET: u8 = 0x04;
/// C: `<scsi/scsi.h>` `DID_ABORT`: aborted for another reason.
pub const DID_ABORT: u8 = 0x05;
/// C: `<scsi/scsi.h>` `DID_PARITY`: parity error.
pub const DID_PARITY: u8 = 0x06;
/// C: `<scsi/scsi.h>` `DID_ERROR`: internal error.
pub const DID_ERROR: u8 = 0x07;
/// C: `<scsi/scsi.h>` `DID_RESET`: reset by someone.
pub const DID_RESET: u8 = 0x08;
/// C: `<scsi/scsi.h>` `DID_BAD_INTR`: unexpected interrupt.
pub const DID_BAD_INTR: u8 = 0x09;
/// C: `<scsi/scsi.h>` `DID_PASSTHROUGH`: forced past the mid-layer.
pub const DID_PASSTHROUGH: u8 = 0x0a;
/// C: `<scsi/scsi.h>` `DID_SOFT_ERROR`: the low-level driver asks for a retry.
pub const DID_SOFT_ERROR: u8 = 0x0b;
/// C: `<scsi/scsi.h>` `DID_IMM_RETRY`: retry without counting it.
pub const DID_IMM_RETRY: u8 = 0x0c;
/// C: `<scsi/scsi.h>` `DID_REQUEUE`: requeue (no immediate retry), without counting it.
pub const DID_REQUEUE: u8 = 0x0d;

#[cfg(test)]
mod tests {
    use super::*;

    type Triple = (u8, u8, u8);

    /// scst-reference.md §6.5: the task management functions and statuses, values written out
    /// as literals.
    #[test]
    fn tm_fns_and_mgmt_statuses_match_reference() {
        let fns: [(TmFn, i32); 12] = [
            (SCST_ABORT_TASK, 0),
            (SCST_ABORT_TASK_SET, 1),
            (SCST_CLEAR_ACA, 2),
            (SCST_CLEAR_TASK_SET, 3),
            (SCST_LUN_RESET, 4),
            (SCST_TARGET_RESET, 5),
            (SCST_NEXUS_LOSS_SESS, 6),
            (SCST_ABORT_ALL_TASKS_SESS, 7),
            (SCST_NEXUS_LOSS, 8),
            (SCST_ABORT_ALL_TASKS, 9),
            (SCST_UNREG_SESS_TM, 10),
            (SCST_PR_ABORT_ALL, 11),
        ];
        for (f, v) in fns {
            assert_eq!(f.0, v, "{f:?}");
        }
        let statuses: [(MgmtStatus, i32); 7] = [
            (SCST_MGMT_STATUS_SUCCESS, 0),
            (SCST_MGMT_STATUS_TASK_NOT_EXIST, -1),
            (SCST_MGMT_STATUS_LUN_NOT_EXIST, -2),
            (SCST_MGMT_STATUS_FN_NOT_SUPPORTED, -5),
            (SCST_MGMT_STATUS_REJECTED, -255),
            (SCST_MGMT_STATUS_FAILED, -129),
            (SCST_MGMT_STATUS_RECEIVED_STAGE_COMPLETED, 200),
        ];
        for (s, v) in statuses {
            assert_eq!(s.0, v, "{s:?}");
        }
        // C tells the internal functions apart with `fn < SCST_UNREG_SESS_TM`.
        assert!(SCST_ABORT_ALL_TASKS < SCST_UNREG_SESS_TM);
        assert!(SCST_PR_ABORT_ALL >= SCST_UNREG_SESS_TM);
    }

    /// scst-reference.md §6.6: the unit attention triples the header defines (MODE/LOG
    /// PARAMETERS CHANGED, 6/2A/01 and 6/2A/02, are built inline in scst_targ.c, not here).
    #[test]
    fn unit_attention_triples_match_reference() {
        let uas: [(Triple, Triple); 11] = [
            (scst_sense_reset_UA, (6, 0x29, 0x00)),
            (scst_sense_nexus_loss_UA, (6, 0x29, 0x07)),
            (scst_sense_medium_changed_UA, (6, 0x28, 0x00)),
            (scst_sense_reservation_preempted, (6, 0x2A, 0x03)),
            (scst_sense_reservation_released, (6, 0x2A, 0x04)),
            (scst_sense_registrations_preempted, (6, 0x2A, 0x05)),
            (scst_sense_asym_access_state_changed, (6, 0x2A, 0x06)),
            (scst_sense_capacity_data_changed, (6, 0x2A, 0x09)),
            (scst_sense_cleared_by_another_ini_UA, (6, 0x2F, 0x00)),
            (scst_sense_tp_soft_threshold_reached, (6, 0x38, 0x07)),
            (scst_sense_inquiry_data_changed, (6, 0x3F, 0x03)),
        ];
        for (got, want) in uas {
            assert_eq!(got, want);
        }
        assert_eq!(scst_sense_reported_luns_data_changed, (6, 0x3F, 0x0E));
        // §6.8: ALUA NOT READY sense.
        assert_eq!(scst_sense_alua_transitioning, (2, 0x04, 0x0A));
        assert_eq!(scst_sense_alua_standby, (2, 0x04, 0x0B));
        assert_eq!(scst_sense_alua_unav, (2, 0x04, 0x0C));
    }

    /// Every triple of the header, as written in scst_const.h.
    #[test]
    fn all_sense_triples_have_header_values() {
        let all: [(Triple, Triple); 46] = [
            (scst_sense_no_sense, (0, 0, 0)),
            (scst_sense_format_in_progress, (2, 0x04, 0x04)),
            (scst_sense_alua_transitioning, (2, 0x04, 0x0A)),
            (scst_sense_alua_standby, (2, 0x04, 0x0B)),
            (scst_sense_alua_unav, (2, 0x04, 0x0C)),
            (scst_sense_no_medium, (2, 0x3A, 0)),
            (scst_sense_write_error, (3, 0x03, 0)),
            (scst_sense_read_error, (3, 0x11, 0)),
            (scst_sense_hardw_error, (4, 0x44, 0)),
            (scst_sense_set_target_pgs_failed, (4, 0x67, 0x0A)),
            (scst_sense_operation_in_progress, (5, 0x00, 0x16)),
            (scst_sense_parameter_list_length_invalid, (5, 0x1A, 0)),
            (scst_sense_invalid_opcode, (5, 0x20, 0)),
            (scst_sense_block_out_range_error, (5, 0x21, 0)),
            (scst_sense_invalid_field_in_cdb, (5, 0x24, 0)),
            (scst_sense_lun_not_supported, (5, 0x25, 0)),
            (scst_sense_invalid_field_in_parm_list, (5, 0x26, 0)),
            (scst_sense_parameter_value_invalid, (5, 0x26, 2)),
            (scst_sense_invalid_release, (5, 0x26, 4)),
            (scst_sense_too_many_target_descriptors, (5, 0x26, 6)),
            (scst_sense_unsupported_tgt_descr_type, (5, 0x26, 7)),
            (scst_sense_too_many_segment_descriptors, (5, 0x26, 8)),
            (scst_sense_unsupported_seg_descr_type, (5, 0x26, 9)),
            (scst_sense_inline_data_length_exceeded, (5, 0x26, 0x0B)),
            (scst_sense_saving_params_unsup, (5, 0x39, 0)),
            (scst_sense_invalid_message, (5, 0x49, 0)),
            (
                scst_sense_invalid_field_in_command_information_unit,
                (5, 0x0E, 3),
            ),
            (scst_sense_medium_changed_UA, (6, 0x28, 0)),
            (scst_sense_reset_UA, (6, 0x29, 0)),
            (scst_sense_nexus_loss_UA, (6, 0x29, 7)),
            (scst_sense_reservation_preempted, (6, 0x2A, 3)),
            (scst_sense_reservation_released, (6, 0x2A, 4)),
            (scst_sense_registrations_preempted, (6, 0x2A, 5)),
            (scst_sense_asym_access_state_changed, (6, 0x2A, 6)),
            (scst_sense_capacity_data_changed, (6, 0x2A, 9)),
            (scst_sense_cleared_by_another_ini_UA, (6, 0x2F, 0)),
            (scst_sense_tp_soft_threshold_reached, (6, 0x38, 7)),
            (scst_sense_inquiry_data_changed, (6, 0x3F, 3)),
            (scst_sense_reported_luns_data_changed, (6, 0x3F, 0x0E)),
            (scst_sense_data_protect, (7, 0, 0)),
            (scst_space_allocation_failed_write_protect, (7, 0x27, 7)),
            (scst_sense_aborted_command, (0x0B, 0, 0)),
            (scst_logical_block_guard_check_failed, (0x0B, 0x10, 1)),
            (scst_logical_block_app_tag_check_failed, (0x0B, 0x10, 2)),
            (scst_logical_block_ref_tag_check_failed, (0x0B, 0x10, 3)),
            (scst_sense_internal_failure, (0x0B, 0x44, 0)),
        ];
        for (got, want) in all {
            assert_eq!(got, want);
        }
        assert_eq!(scst_sense_miscompare_error, (0x0E, 0x1D, 0));
        assert_eq!(SCST_LOAD_SENSE(scst_sense_invalid_opcode), (5, 0x20, 0));
    }

    /// Opcodes, statuses and sense keys against the numbers of SPC/SBC.
    #[test]
    fn scsi_numbers_match_spc_and_sbc() {
        let opcodes: [(u8, u8); 24] = [
            (TEST_UNIT_READY, 0x00),
            (REQUEST_SENSE, 0x03),
            (READ_6, 0x08),
            (WRITE_6, 0x0A),
            (INQUIRY, 0x12),
            (MODE_SELECT, 0x15),
            (RESERVE, 0x16),
            (RELEASE, 0x17),
            (MODE_SENSE, 0x1A),
            (PREVENT_ALLOW_MEDIUM, 0x1E),
            (READ_CAPACITY, 0x25),
            (READ_10, 0x28),
            (WRITE_10, 0x2A),
            (SYNCHRONIZE_CACHE, 0x35),
            (UNMAP, 0x42),
            (PERSISTENT_RESERVE_IN, 0x5E),
            (PERSISTENT_RESERVE_OUT, 0x5F),
            (VARIABLE_LENGTH_CMD, 0x7F),
            (READ_16, 0x88),
            (COMPARE_AND_WRITE, 0x89),
            (WRITE_16, 0x8A),
            (SERVICE_ACTION_IN_16, 0x9E),
            (REPORT_LUNS, 0xA0),
            (MAINTENANCE_IN, 0xA3),
        ];
        for (got, want) in opcodes {
            assert_eq!(got, want);
        }
        assert_eq!(SAI_READ_CAPACITY_16, 0x10);
        assert_eq!(MI_REPORT_TARGET_PGS, 0x0A);
        assert_eq!(MI_REPORT_SUPPORTED_OPERATION_CODES, 0x0C);
        assert_eq!(SUBCODE_READ_32, 0x09);
        assert_eq!(SUBCODE_WRITE_32, 0x0B);

        assert_eq!(SAM_STAT_GOOD, 0x00);
        assert_eq!(SAM_STAT_CHECK_CONDITION, 0x02);
        assert_eq!(SAM_STAT_BUSY, 0x08);
        assert_eq!(SAM_STAT_RESERVATION_CONFLICT, 0x18);
        assert_eq!(SAM_STAT_TASK_SET_FULL, 0x28);
        assert_eq!(SAM_STAT_ACA_ACTIVE, 0x30);
        assert_eq!(SAM_STAT_TASK_ABORTED, 0x40);

        let keys = [
            NO_SENSE,
            RECOVERED_ERROR,
            NOT_READY,
            MEDIUM_ERROR,
            HARDWARE_ERROR,
            ILLEGAL_REQUEST,
            UNIT_ATTENTION,
            DATA_PROTECT,
            BLANK_CHECK,
            VENDOR_SPECIFIC,
            COPY_ABORTED,
            ABORTED_COMMAND,
        ];
        for (i, k) in keys.into_iter().enumerate() {
            assert_eq!(usize::from(k), i);
        }
        assert_eq!(VOLUME_OVERFLOW, 0x0D);
        assert_eq!(MISCOMPARE, 0x0E);
        assert_eq!(ILLEGAL_REQUEST, 0x05);
        assert_eq!(UNIT_ATTENTION, 0x06);

        assert_eq!(TYPE_DISK, 0);
        assert_eq!(TYPE_ROM, 5);
        assert_eq!(DID_OK, 0);
        assert_eq!(DID_RESET, 8);
        assert_eq!(DID_MEDIUM_ERROR, 0x13);
    }

    #[test]
    fn limits_flags_and_directions_have_header_values() {
        assert_eq!(SCST_MAX_CDB_SIZE, 16);
        assert_eq!(SCST_MAX_LONG_CDB_SIZE, 65536);
        assert_eq!(SCST_MAX_NAME, 50);
        assert_eq!(SCST_MAX_EXTERNAL_NAME, 256);
        assert_eq!(SCST_MAX_LUN, 16383);
        assert_eq!(SCST_STANDARD_SENSE_LEN, 18);
        assert_eq!(SCST_SENSE_BUFFERSIZE, 252);
        assert_eq!(
            [
                SCST_CMD_DELIVERY_SUCCESS,
                SCST_CMD_DELIVERY_FAILED,
                SCST_CMD_DELIVERY_ABORTED
            ],
            [0, -1, -2]
        );

        assert_eq!(SCST_BOTH_TIMEOUTS, 3);
        assert_eq!(SCST_STRICTLY_SERIALIZED, 0x30000);
        assert_eq!(SCST_SCSI_ATOMIC, 0x100000);
        let flags = [
            SCST_SMALL_TIMEOUT,
            SCST_LONG_TIMEOUT,
            SCST_TRANSFER_LEN_TYPE_FIXED,
            SCST_UNKNOWN_LBA,
            SCST_UNKNOWN_LENGTH,
            SCST_INFO_VALID,
            SCST_LBA_NOT_VALID,
            SCST_IMPLICIT_HQ,
            SCST_SKIP_UA,
            SCST_WRITE_MEDIUM,
            SCST_LOCAL_CMD,
            SCST_FULLY_LOCAL_CMD,
            SCST_REG_RESERVE_ALLOWED,
            SCST_WRITE_EXCL_ALLOWED,
            SCST_EXCL_ACCESS_ALLOWED,
            SCST_TEST_IO_IN_SIRQ_ALLOWED,
            SCST_SERIALIZED,
        ];
        for (bit, f) in flags.into_iter().enumerate() {
            assert_eq!(f, 1 << bit);
        }

        assert_eq!(
            [
                SCST_DATA_UNKNOWN,
                SCST_DATA_WRITE,
                SCST_DATA_READ,
                SCST_DATA_BIDI,
                SCST_DATA_NONE
            ],
            [0, 1, 2, 3, 4]
        );
        assert_eq!(SCST_DATA_DIR_MAX, 5);
        assert_eq!(
            [
                SCST_CMD_QUEUE_UNTAGGED,
                SCST_CMD_QUEUE_SIMPLE,
                SCST_CMD_QUEUE_ORDERED,
                SCST_CMD_QUEUE_HEAD_OF_QUEUE,
                SCST_CMD_QUEUE_ACA
            ],
            [0, 1, 2, 3, 4]
        );
        assert_eq!(SCST_LUN_ADDR_METHOD_EXTENDED_LUN, 3);
        assert_eq!(SCST_TG_STATE_UNDEFINED, -1);
        assert_eq!(SCST_TG_STATE_OFFLINE, 0x0E);
        assert_eq!(SCST_TG_STATE_TRANSITIONING, 0x0F);
        assert_eq!(SCST_TG_SUP_TRANSITION, 0x80);
        assert_eq!(SCST_QERR_3_ABORT_THIS_NEXUS_ONLY, 3);
        assert_eq!(SCST_TRANSPORTID_PROTOCOLID_COPY_MGR, 0x0C);
        assert_eq!(SCST_MAX_REL_TGT_ID, 65535);
        assert_eq!(BLKDISCARD, 0x1277);
        assert_eq!(E_TGT_PRIV_NOT_YET_SET, Errno::EBUSY);
        assert_eq!(SCST_SYSFS_BLOCK_SIZE, 4096);
    }

    #[test]
    fn timeouts_are_seconds_times_hz() {
        assert_eq!(HZ, 1000);
        assert_eq!(SCST_DEFAULT_TIMEOUT, 30_000);
        assert_eq!(SCST_GENERIC_DISK_SMALL_TIMEOUT, 10_000);
        assert_eq!(SCST_GENERIC_DISK_REG_TIMEOUT, 60_000);
        assert_eq!(SCST_GENERIC_DISK_LONG_TIMEOUT, 3_600_000);
        assert_eq!(SCST_GENERIC_TAPE_REG_TIMEOUT, 900_000);
        assert_eq!(SCST_MAX_OTHER_TIMEOUT, 14_000_000);
    }

    #[test]
    fn versions_and_strings() {
        assert_eq!(SCST_VERSION_CODE, 0x0301_0000);
        assert_eq!(SCST_VERSION(3, 3, 0, 1), 0x0303_0001);
        assert_eq!(
            SCST_VERSION_STRING,
            format!("{SCST_VERSION_NAME}{SCST_VERSION_STRING_SUFFIX}")
        );
        assert_eq!(SCST_VERSION_STRING, "3.3.0-pre1-procfs");
        assert_eq!(SCST_CONST_VERSION.len(), 40);
        assert!(SCST_CONST_VERSION.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(SCST_PR_DIR, format!("{SCST_VAR_DIR}/pr"));
        assert_eq!(SCST_DEFAULT_ACG_NAME, "Default");
    }

    #[test]
    fn sense_helpers() {
        let fixed = [0x70u8, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x20, 0];
        assert!(scst_sense_valid(Some(&fixed)));
        assert!(scst_sense_valid(Some(&[0xF0]))); // fixed format with the VALID bit
        assert!(scst_sense_valid(Some(&[0x72]))); // descriptor format
        assert!(!scst_sense_valid(Some(&[0x60])));
        assert!(!scst_sense_valid(Some(&[])));
        assert!(!scst_sense_valid(None));

        assert!(!scst_no_sense(Some(&fixed)));
        assert!(scst_no_sense(Some(&[0x70, 0, 0])));
        assert!(!scst_no_sense(Some(&[0x70, 0])));
        assert!(!scst_no_sense(None));

        assert_eq!(scst_sense_response_code(&[0xF0]), 0x70);
        assert_eq!(scst_sense_response_code(&[0x72]), 0x72);
        assert_eq!(scst_sense_response_code(&[]), 0);
    }

    #[test]
    fn open_enum_debug_prints_c_names() {
        assert_eq!(format!("{SCST_LUN_RESET:?}"), "SCST_LUN_RESET");
        assert_eq!(format!("{SCST_PR_ABORT_ALL:?}"), "SCST_PR_ABORT_ALL");
        assert_eq!(format!("{:?}", TmFn(12)), "12");
        assert_eq!(format!("{:?}", TmFn(-3)), "-3");
        assert_eq!(SCST_TARGET_RESET.as_str(), Some("SCST_TARGET_RESET"));
        assert_eq!(TmFn(99).as_str(), None);
        assert_eq!(
            format!("{SCST_MGMT_STATUS_FAILED:?}"),
            "SCST_MGMT_STATUS_FAILED"
        );
        assert_eq!(format!("{:?}", MgmtStatus(-3)), "-3");
    }
}
