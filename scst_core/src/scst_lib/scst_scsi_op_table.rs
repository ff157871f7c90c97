// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2004 - 2016 Vladislav Bolkhovitin <vst@vlnb.net>
// Copyright (C) 2004 - 2005 Leonid Stoljar
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! The CDB table of `scst_lib.c` (`scst_scsi_op_table[]`, 173 rows at r7105, in C's order)
//! with its decoder functions (`get_cdb_info_*()`), `scst_get_cdb_info()` and the variable
//! length (0x7F) sub-table.
//!
//! Each row names an opcode, the device types it applies to (`devkey`, one character per
//! SCSI peripheral type: `M`andatory, `O`ptional, `V`endor, `R`eserved, or blank/NUL for not
//! used — C compares against blank only, so a 15-character key leaves type 15 "used"), the
//! data direction, the op flags, the offsets of LBA and transfer length in the CDB, the name,
//! and the function that decodes the CDB into `lba`, `bufflen`, `data_len`. Rows of one
//! opcode are adjacent; the first whose key is not blank for the device's type wins.
//!
//! Decoders return 0 (decoded), < 0 (unknown) or > 0 (invalid CDB; sense is set). They read
//! the CDB through [`cdb_byte`] and the `get_unaligned_be*` helpers, which give 0 beyond the
//! end, so a short or bad CDB never panics.
#![allow(clippy::unreadable_literal, non_upper_case_globals, non_snake_case)]

use crate::scst::ScstCmdData;
use crate::scst_const::*;
use crate::scst_lib::scst_set_invalid_field_in_cdb_locked;
use crate::scst_main::scst_trace_flag as TRACE_FLAG;
use std::sync::LazyLock;

/// C `struct scst_sdbops`: one row of the CDB table.
#[derive(Clone, Copy)]
pub struct ScstSdbops {
    /// C `ops`: the opcode.
    pub ops: u8,
    /// C `devkey`: per device type `M`, `O`, `V`, `R`, or blank (not used).
    pub devkey: [u8; 16],
    /// C `info_lba_off`: LBA offset in the CDB.
    pub info_lba_off: u8,
    /// C `info_lba_len`: LBA length in the CDB.
    pub info_lba_len: u8,
    /// C `info_len_off`: transfer length offset in the CDB.
    pub info_len_off: u8,
    /// C `info_len_len`: transfer length length in the CDB.
    pub info_len_len: u8,
    /// C `info_data_direction` (`SCST_DATA_*`).
    pub info_data_direction: i32,
    /// C `info_op_flags`.
    pub info_op_flags: u32,
    /// C `info_op_name`.
    pub info_op_name: &'static str,
    /// C `get_cdb_info`: the decoder.
    pub get_cdb_info: fn(&mut ScstCmdData, &ScstSdbops) -> i32,
}

impl std::fmt::Debug for ScstSdbops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScstSdbops")
            .field("ops", &self.ops)
            .field("info_op_name", &self.info_op_name)
            .finish_non_exhaustive()
    }
}

/// C `SCST_CDB_NOTSUPP`: the `devkey` character for "do not use for this type".
pub const SCST_CDB_NOTSUPP: u8 = b' ';

/// C `scst_scsi_op_table[]` (see the module documentation; see also
/// <http://www.t10.org/lists/op-num.htm>).
pub static scst_scsi_op_table: [ScstSdbops; 173] = [
    ScstSdbops {
        ops: 0x00,
        devkey: *b"MMMMMMMMMMMMMMMM",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_SMALL_TIMEOUT
            | SCST_IMPLICIT_HQ
            | SCST_REG_RESERVE_ALLOWED
            | SCST_WRITE_EXCL_ALLOWED
            | SCST_EXCL_ACCESS_ALLOWED,
        info_op_name: "TEST UNIT READY",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x01,
        devkey: *b" M              ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_LONG_TIMEOUT | SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "REWIND",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x03,
        devkey: *b"MMMMMMMMMMMMMMMM",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 4,
        info_len_len: 1,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_SMALL_TIMEOUT
            | SCST_SKIP_UA
            | SCST_LOCAL_CMD
            | SCST_REG_RESERVE_ALLOWED
            | SCST_WRITE_EXCL_ALLOWED
            | SCST_EXCL_ACCESS_ALLOWED,
        info_op_name: "REQUEST SENSE",
        get_cdb_info: get_cdb_info_len_1,
    },
    ScstSdbops {
        ops: 0x04,
        devkey: *b"M    O O        ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_LONG_TIMEOUT | SCST_WRITE_MEDIUM | SCST_STRICTLY_SERIALIZED,
        info_op_name: "FORMAT UNIT",
        get_cdb_info: get_cdb_info_fmt,
    },
    ScstSdbops {
        ops: 0x04,
        devkey: *b" O              ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 3,
        info_len_len: 0,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_LONG_TIMEOUT | SCST_WRITE_MEDIUM | SCST_STRICTLY_SERIALIZED,
        info_op_name: "FORMAT MEDIUM",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0x04,
        devkey: *b"  O             ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_WRITE_MEDIUM | SCST_STRICTLY_SERIALIZED,
        info_op_name: "FORMAT",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x05,
        devkey: *b"VMVVVV  V       ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_SMALL_TIMEOUT
            | SCST_REG_RESERVE_ALLOWED
            | SCST_WRITE_EXCL_ALLOWED
            | SCST_EXCL_ACCESS_ALLOWED,
        info_op_name: "READ BLOCK LIMITS",
        get_cdb_info: get_cdb_info_block_limit,
    },
    ScstSdbops {
        ops: 0x07,
        devkey: *b"        O       ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_LONG_TIMEOUT,
        info_op_name: "INITIALIZE ELEMENT STATUS",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x07,
        devkey: *b"OVV O  OV       ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_WRITE_MEDIUM,
        info_op_name: "REASSIGN BLOCKS",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x08,
        devkey: *b"O               ",
        info_lba_off: 1,
        info_lba_len: 3,
        info_len_off: 4,
        info_len_len: 1,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED | SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "READ(6)",
        get_cdb_info: get_cdb_info_lba_3_len_1_256_read,
    },
    ScstSdbops {
        ops: 0x08,
        devkey: *b" MV  O OV       ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 2,
        info_len_len: 3,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED | SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "READ(6)",
        get_cdb_info: get_cdb_info_len_3,
    },
    ScstSdbops {
        ops: 0x08,
        devkey: *b"         M      ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 2,
        info_len_len: 3,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: 0,
        info_op_name: "GET MESSAGE(6)",
        get_cdb_info: get_cdb_info_len_3,
    },
    ScstSdbops {
        ops: 0x08,
        devkey: *b"    O           ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 2,
        info_len_len: 3,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: 0,
        info_op_name: "RECEIVE",
        get_cdb_info: get_cdb_info_len_3,
    },
    ScstSdbops {
        ops: 0x0A,
        devkey: *b"O               ",
        info_lba_off: 1,
        info_lba_len: 3,
        info_len_off: 4,
        info_len_len: 1,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED | SCST_WRITE_MEDIUM,
        info_op_name: "WRITE(6)",
        get_cdb_info: get_cdb_info_lba_3_len_1_256_write,
    },
    ScstSdbops {
        ops: 0x0A,
        devkey: *b" M  O  OV       ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 2,
        info_len_len: 3,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED | SCST_WRITE_MEDIUM,
        info_op_name: "WRITE(6)",
        get_cdb_info: get_cdb_info_len_3,
    },
    ScstSdbops {
        ops: 0x0A,
        devkey: *b"  M             ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: 0,
        info_op_name: "PRINT",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x0A,
        devkey: *b"         M      ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 2,
        info_len_len: 3,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: 0,
        info_op_name: "SEND MESSAGE(6)",
        get_cdb_info: get_cdb_info_len_3,
    },
    ScstSdbops {
        ops: 0x0A,
        devkey: *b"    M           ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 2,
        info_len_len: 3,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: 0,
        info_op_name: "SEND(6)",
        get_cdb_info: get_cdb_info_len_3,
    },
    ScstSdbops {
        ops: 0x0B,
        devkey: *b"O   OO OV       ",
        info_lba_off: 2,
        info_lba_len: 2,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: 0,
        info_op_name: "SEEK(6)",
        get_cdb_info: get_cdb_info_lba_2_none,
    },
    ScstSdbops {
        ops: 0x0B,
        devkey: *b"  O             ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: 0,
        info_op_name: "SLEW AND PRINT",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x0C,
        devkey: *b" VVVVV  V       ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_LONG_TIMEOUT,
        info_op_name: "SEEK BLOCK",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x0D,
        devkey: *b" VVVVV  V       ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_LONG_TIMEOUT | SCST_WRITE_MEDIUM,
        info_op_name: "PARTITION",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x0F,
        devkey: *b" OVVVV  V       ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 12,
        info_len_len: 3,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED | SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "READ REVERSE",
        get_cdb_info: get_cdb_info_len_3,
    },
    ScstSdbops {
        ops: 0x10,
        devkey: *b" M V V          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_WRITE_MEDIUM,
        info_op_name: "WRITE FILEMARKS(6)",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x10,
        devkey: *b"  O O           ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: 0,
        info_op_name: "SYNCHRONIZE BUFFER",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x11,
        devkey: *b"VMVVVV          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_LONG_TIMEOUT | SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "SPACE",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x12,
        devkey: *b"MMMMMMMMMMMMMMMM",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 3,
        info_len_len: 2,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_SMALL_TIMEOUT
            | SCST_IMPLICIT_HQ
            | SCST_SKIP_UA
            | SCST_REG_RESERVE_ALLOWED
            | SCST_WRITE_EXCL_ALLOWED
            | SCST_EXCL_ACCESS_ALLOWED,
        info_op_name: "INQUIRY",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0x13,
        devkey: *b" O              ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 2,
        info_len_len: 3,
        info_data_direction: SCST_DATA_UNKNOWN,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED | SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "VERIFY(6)",
        get_cdb_info: get_cdb_info_verify6,
    },
    ScstSdbops {
        ops: 0x14,
        devkey: *b" OOVVV          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 2,
        info_len_len: 3,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED | SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "RECOVER BUFFERED DATA",
        get_cdb_info: get_cdb_info_len_3,
    },
    ScstSdbops {
        ops: 0x15,
        devkey: *b"OMOOOOOOOOOOOOOO",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 4,
        info_len_len: 1,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_STRICTLY_SERIALIZED,
        info_op_name: "MODE SELECT(6)",
        get_cdb_info: get_cdb_info_len_1,
    },
    ScstSdbops {
        ops: 0x16,
        devkey: *b"MMMMMMMMMMMMMMMM",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_SMALL_TIMEOUT
            | SCST_LOCAL_CMD
            | SCST_SERIALIZED
            | SCST_WRITE_EXCL_ALLOWED
            | SCST_EXCL_ACCESS_ALLOWED
            | SCST_SCSI_ATOMIC,
        info_op_name: "RESERVE",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x17,
        devkey: *b"MMMMMMMMMMMMMMMM",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_SMALL_TIMEOUT
            | SCST_LOCAL_CMD
            | SCST_SERIALIZED
            | SCST_REG_RESERVE_ALLOWED
            | SCST_WRITE_EXCL_ALLOWED
            | SCST_EXCL_ACCESS_ALLOWED,
        info_op_name: "RELEASE",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x19,
        devkey: *b" MVVVV          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_LONG_TIMEOUT | SCST_WRITE_MEDIUM,
        info_op_name: "ERASE",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x1A,
        devkey: *b"OMOOOOOOOOOOOOOO",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 4,
        info_len_len: 1,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_SMALL_TIMEOUT | SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "MODE SENSE(6)",
        get_cdb_info: get_cdb_info_len_1,
    },
    ScstSdbops {
        ops: 0x1B,
        devkey: *b"      O         ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: 0,
        info_op_name: "SCAN",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x1B,
        devkey: *b" O              ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_LONG_TIMEOUT,
        info_op_name: "LOAD UNLOAD",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x1B,
        devkey: *b"  O             ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: 0,
        info_op_name: "STOP PRINT",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x1B,
        devkey: *b"O   OO O    O   ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_LONG_TIMEOUT,
        info_op_name: "START STOP UNIT",
        get_cdb_info: get_cdb_info_start_stop,
    },
    ScstSdbops {
        ops: 0x1C,
        devkey: *b"OOOOOOOOOOOOOOOO",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 3,
        info_len_len: 2,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "RECEIVE DIAGNOSTIC RESULTS",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0x1D,
        devkey: *b"MMMMMMMMMMMMMMMM",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 3,
        info_len_len: 2,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: 0,
        info_op_name: "SEND DIAGNOSTIC",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0x1E,
        devkey: *b"OOOOOOOOOOOOOOOO",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_LONG_TIMEOUT,
        info_op_name: "PREVENT ALLOW MEDIUM REMOVAL",
        get_cdb_info: get_cdb_info_prevent_allow_medium_removal,
    },
    ScstSdbops {
        ops: 0x1F,
        devkey: *b"            O   ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: 0,
        info_op_name: "PORT STATUS",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x23,
        devkey: *b"V   VV V        ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: 0,
        info_op_name: "READ FORMAT CAPACITY",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0x24,
        devkey: *b"    VVM         ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 6,
        info_len_len: 3,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: 0,
        info_op_name: "SET WINDOW",
        get_cdb_info: get_cdb_info_len_3,
    },
    ScstSdbops {
        ops: 0x25,
        devkey: *b"M   MM M        ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_IMPLICIT_HQ
            | SCST_REG_RESERVE_ALLOWED
            | SCST_WRITE_EXCL_ALLOWED
            | SCST_EXCL_ACCESS_ALLOWED,
        info_op_name: "READ CAPACITY",
        get_cdb_info: get_cdb_info_read_capacity,
    },
    ScstSdbops {
        ops: 0x25,
        devkey: *b"      O         ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 6,
        info_len_len: 3,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: 0,
        info_op_name: "GET WINDOW",
        get_cdb_info: get_cdb_info_len_3,
    },
    ScstSdbops {
        ops: 0x28,
        devkey: *b"M   MMMM        ",
        info_lba_off: 2,
        info_lba_len: 4,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED | SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "READ(10)",
        get_cdb_info: get_cdb_info_read_10,
    },
    ScstSdbops {
        ops: 0x28,
        devkey: *b"         O      ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: 0,
        info_op_name: "GET MESSAGE(10)",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0x29,
        devkey: *b"V   VV O        ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 8,
        info_len_len: 1,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: 0,
        info_op_name: "READ GENERATION",
        get_cdb_info: get_cdb_info_len_1,
    },
    ScstSdbops {
        ops: 0x2A,
        devkey: *b"O   MO M        ",
        info_lba_off: 2,
        info_lba_len: 4,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED | SCST_WRITE_MEDIUM,
        info_op_name: "WRITE(10)",
        get_cdb_info: get_cdb_info_lba_4_len_2_wrprotect,
    },
    ScstSdbops {
        ops: 0x2A,
        devkey: *b"         O      ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: 0,
        info_op_name: "SEND MESSAGE(10)",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0x2A,
        devkey: *b"      O         ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: 0,
        info_op_name: "SEND(10)",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0x2B,
        devkey: *b" O              ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_LONG_TIMEOUT | SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "LOCATE",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x2B,
        devkey: *b"        O       ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_LONG_TIMEOUT,
        info_op_name: "POSITION TO ELEMENT",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x2B,
        devkey: *b"O   OO O        ",
        info_lba_off: 2,
        info_lba_len: 4,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: 0,
        info_op_name: "SEEK(10)",
        get_cdb_info: get_cdb_info_lba_4_none,
    },
    ScstSdbops {
        ops: 0x2C,
        devkey: *b"V    O O        ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_LONG_TIMEOUT | SCST_WRITE_MEDIUM,
        info_op_name: "ERASE(10)",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x2D,
        devkey: *b"V   O  O        ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED,
        info_op_name: "READ UPDATED BLOCK",
        get_cdb_info: get_cdb_info_single,
    },
    ScstSdbops {
        ops: 0x2E,
        devkey: *b"O   OO O        ",
        info_lba_off: 2,
        info_lba_len: 4,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED | SCST_WRITE_MEDIUM,
        info_op_name: "WRITE AND VERIFY(10)",
        get_cdb_info: get_cdb_info_lba_4_len_2_wrprotect,
    },
    ScstSdbops {
        ops: 0x2F,
        devkey: *b"O   OO O        ",
        info_lba_off: 2,
        info_lba_len: 4,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_UNKNOWN,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED | SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "VERIFY(10)",
        get_cdb_info: get_cdb_info_verify10,
    },
    ScstSdbops {
        ops: 0x33,
        devkey: *b"    OO O        ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: 0,
        info_op_name: "SET LIMITS(10)",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x34,
        devkey: *b" O              ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_SMALL_TIMEOUT | SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "READ POSITION",
        get_cdb_info: get_cdb_info_read_pos,
    },
    ScstSdbops {
        ops: 0x34,
        devkey: *b"      O         ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: 0,
        info_op_name: "GET DATA BUFFER STATUS",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0x34,
        devkey: *b"O   OO O        ",
        info_lba_off: 2,
        info_lba_len: 4,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "PRE-FETCH",
        get_cdb_info: get_cdb_info_lba_4_none,
    },
    ScstSdbops {
        ops: 0x35,
        devkey: *b"O   OO O        ",
        info_lba_off: 2,
        info_lba_len: 4,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: 0,
        info_op_name: "SYNCHRONIZE CACHE(10)",
        get_cdb_info: get_cdb_info_lba_4_none,
    },
    ScstSdbops {
        ops: 0x36,
        devkey: *b"O   OO O        ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "LOCK UNLOCK CACHE",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x37,
        devkey: *b"O      O        ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "READ DEFECT DATA(10)",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0x37,
        devkey: *b"        O       ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_LONG_TIMEOUT,
        info_op_name: "INIT ELEMENT STATUS WRANGE",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x38,
        devkey: *b"    O  O        ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 8,
        info_len_len: 1,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: 0,
        info_op_name: "MEDIUM SCAN",
        get_cdb_info: get_cdb_info_len_1,
    },
    ScstSdbops {
        ops: 0x3B,
        devkey: *b"OOOOOOOOOOOOOOOO",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 6,
        info_len_len: 3,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_SMALL_TIMEOUT,
        info_op_name: "WRITE BUFFER",
        get_cdb_info: get_cdb_info_len_3,
    },
    ScstSdbops {
        ops: 0x3C,
        devkey: *b"OOOOOOOOOOOOOOOO",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 6,
        info_len_len: 3,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_SMALL_TIMEOUT | SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "READ BUFFER",
        get_cdb_info: get_cdb_info_len_3,
    },
    ScstSdbops {
        ops: 0x3D,
        devkey: *b"    O  O        ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED,
        info_op_name: "UPDATE BLOCK",
        get_cdb_info: get_cdb_info_single,
    },
    ScstSdbops {
        ops: 0x3E,
        devkey: *b"O   OO O        ",
        info_lba_off: 2,
        info_lba_len: 4,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: 0,
        info_op_name: "READ LONG",
        get_cdb_info: get_cdb_info_lba_4_len_2,
    },
    ScstSdbops {
        ops: 0x3F,
        devkey: *b"O   O  O        ",
        info_lba_off: 2,
        info_lba_len: 4,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_WRITE_MEDIUM,
        info_op_name: "WRITE LONG",
        get_cdb_info: get_cdb_info_lba_4_len_2,
    },
    ScstSdbops {
        ops: 0x40,
        devkey: *b"OOOOOOOOOO      ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 8,
        info_len_len: 1,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_SMALL_TIMEOUT,
        info_op_name: "CHANGE DEFINITION",
        get_cdb_info: get_cdb_info_len_1,
    },
    ScstSdbops {
        ops: 0x41,
        devkey: *b"O               ",
        info_lba_off: 2,
        info_lba_len: 4,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED | SCST_WRITE_MEDIUM,
        info_op_name: "WRITE SAME(10)",
        get_cdb_info: get_cdb_info_write_same10,
    },
    ScstSdbops {
        ops: 0x42,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: 0,
        info_op_name: "READ SUB-CHANNEL",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0x42,
        devkey: *b"O               ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_WRITE_MEDIUM | SCST_DESCRIPTORS_BASED,
        info_op_name: "UNMAP",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0x43,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: 0,
        info_op_name: "READ TOC/PMA/ATIP",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0x44,
        devkey: *b" M              ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_REG_RESERVE_ALLOWED
            | SCST_WRITE_EXCL_ALLOWED
            | SCST_EXCL_ACCESS_ALLOWED,
        info_op_name: "REPORT DENSITY SUPPORT",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0x44,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: 0,
        info_op_name: "READ HEADER",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0x45,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: 0,
        info_op_name: "PLAY AUDIO(10)",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x46,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: 0,
        info_op_name: "GET CONFIGURATION",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0x47,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: 0,
        info_op_name: "PLAY AUDIO MSF",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x48,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: 0,
        info_op_name: "PLAY AUDIO TRACK INDEX",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x49,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: 0,
        info_op_name: "PLAY TRACK RELATIVE(10)",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x4A,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: 0,
        info_op_name: "GET EVENT STATUS NOTIFICATION",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0x4B,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: 0,
        info_op_name: "PAUSE/RESUME",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x4C,
        devkey: *b"OOOOOOOOOOOOOOOO",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_STRICTLY_SERIALIZED,
        info_op_name: "LOG SELECT",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0x4D,
        devkey: *b"OOOOOOOOOOOOOOOO",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_SMALL_TIMEOUT
            | SCST_REG_RESERVE_ALLOWED
            | SCST_WRITE_EXCL_ALLOWED
            | SCST_EXCL_ACCESS_ALLOWED,
        info_op_name: "LOG SENSE",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0x4E,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: 0,
        info_op_name: "STOP PLAY/SCAN",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x50,
        devkey: *b"O               ",
        info_lba_off: 2,
        info_lba_len: 4,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_WRITE_MEDIUM,
        info_op_name: "XDWRITE(10)",
        get_cdb_info: get_cdb_info_lba_4_len_2_wrprotect,
    },
    ScstSdbops {
        ops: 0x51,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: 0,
        info_op_name: "READ DISC INFORMATION",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0x51,
        devkey: *b"O               ",
        info_lba_off: 2,
        info_lba_len: 4,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_WRITE_MEDIUM,
        info_op_name: "XPWRITE",
        get_cdb_info: get_cdb_info_lba_4_len_2,
    },
    ScstSdbops {
        ops: 0x52,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: 0,
        info_op_name: "READ TRACK INFORMATION",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0x53,
        devkey: *b"O               ",
        info_lba_off: 2,
        info_lba_len: 4,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_BIDI,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED | SCST_WRITE_MEDIUM,
        info_op_name: "XDWRITEREAD(10)",
        get_cdb_info: get_cdb_info_bidi_lba_4_len_2,
    },
    ScstSdbops {
        ops: 0x53,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: 0,
        info_op_name: "RESERVE TRACK",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x54,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: 0,
        info_op_name: "SEND OPC INFORMATION",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0x55,
        devkey: *b"OOOOOOOOOOOOOOOO",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_STRICTLY_SERIALIZED,
        info_op_name: "MODE SELECT(10)",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0x56,
        devkey: *b"OOOOOOOOOOOOOOOO",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_SMALL_TIMEOUT
            | SCST_LOCAL_CMD
            | SCST_SERIALIZED
            | SCST_WRITE_EXCL_ALLOWED
            | SCST_EXCL_ACCESS_ALLOWED
            | SCST_SCSI_ATOMIC,
        info_op_name: "RESERVE(10)",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x57,
        devkey: *b"OOOOOOOOOOOOOOOO",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_SMALL_TIMEOUT
            | SCST_LOCAL_CMD
            | SCST_SERIALIZED
            | SCST_REG_RESERVE_ALLOWED
            | SCST_WRITE_EXCL_ALLOWED
            | SCST_EXCL_ACCESS_ALLOWED,
        info_op_name: "RELEASE(10)",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x58,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_WRITE_MEDIUM,
        info_op_name: "REPAIR TRACK",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x5A,
        devkey: *b"OOOOOOOOOOOOOOOO",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_SMALL_TIMEOUT | SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "MODE SENSE(10)",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0x5B,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: 0,
        info_op_name: "CLOSE TRACK/SESSION",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x5C,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 7,
        info_len_len: 2,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: 0,
        info_op_name: "READ BUFFER CAPACITY",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0x5D,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 6,
        info_len_len: 3,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: 0,
        info_op_name: "SEND CUE SHEET",
        get_cdb_info: get_cdb_info_len_3,
    },
    ScstSdbops {
        ops: 0x5E,
        devkey: *b"OOOOO OOOO      ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 5,
        info_len_len: 4,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_SMALL_TIMEOUT
            | SCST_LOCAL_CMD
            | SCST_SERIALIZED
            | SCST_WRITE_EXCL_ALLOWED
            | SCST_EXCL_ACCESS_ALLOWED,
        info_op_name: "PERSISTENT RESERVE IN",
        get_cdb_info: get_cdb_info_len_4,
    },
    ScstSdbops {
        ops: 0x5F,
        devkey: *b"OOOOO OOOO      ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 5,
        info_len_len: 4,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_SMALL_TIMEOUT
            | SCST_LOCAL_CMD
            | SCST_SERIALIZED
            | SCST_WRITE_EXCL_ALLOWED
            | SCST_EXCL_ACCESS_ALLOWED,
        info_op_name: "PERSISTENT RESERVE OUT",
        get_cdb_info: get_cdb_info_len_4,
    },
    ScstSdbops {
        ops: 0x7F,
        devkey: *b"O               ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_UNKNOWN,
        info_op_flags: 0,
        info_op_name: "VAR LEN CDB",
        get_cdb_info: get_cdb_info_var_len,
    },
    ScstSdbops {
        ops: 0x80,
        devkey: *b" O              ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_WRITE_MEDIUM,
        info_op_name: "WRITE FILEMARKS(16)",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x81,
        devkey: *b"O   OO O        ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 10,
        info_len_len: 4,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_WRITE_MEDIUM,
        info_op_name: "REBUILD",
        get_cdb_info: get_cdb_info_len_4,
    },
    ScstSdbops {
        ops: 0x82,
        devkey: *b"O   OO O        ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 10,
        info_len_len: 4,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_WRITE_MEDIUM,
        info_op_name: "REGENERATE",
        get_cdb_info: get_cdb_info_len_4,
    },
    ScstSdbops {
        ops: 0x83,
        devkey: *b"O               ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 10,
        info_len_len: 4,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_WRITE_MEDIUM
            | SCST_CAN_GEN_3PARTY_COMMANDS
            | SCST_LOCAL_CMD
            | SCST_DESCRIPTORS_BASED,
        info_op_name: "EXTENDED COPY",
        get_cdb_info: get_cdb_info_ext_copy,
    },
    ScstSdbops {
        ops: 0x84,
        devkey: *b"O               ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 10,
        info_len_len: 4,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_LOCAL_CMD | SCST_WRITE_EXCL_ALLOWED | SCST_EXCL_ACCESS_ALLOWED,
        info_op_name: "RECEIVE COPY RESULT",
        get_cdb_info: get_cdb_info_len_4,
    },
    ScstSdbops {
        ops: 0x85,
        devkey: *b"O    O        O ",
        info_lba_off: 7,
        info_lba_len: 6,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: 0,
        info_op_name: "ATA PASS-THROUGH(16)",
        get_cdb_info: get_cdb_info_apt,
    },
    ScstSdbops {
        ops: 0x86,
        devkey: *b"OOOOOOOOOO      ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_REG_RESERVE_ALLOWED
            | SCST_WRITE_EXCL_ALLOWED
            | SCST_EXCL_ACCESS_ALLOWED,
        info_op_name: "ACCESS CONTROL IN",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x87,
        devkey: *b"OOOOOOOOOO      ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_REG_RESERVE_ALLOWED
            | SCST_WRITE_EXCL_ALLOWED
            | SCST_EXCL_ACCESS_ALLOWED,
        info_op_name: "ACCESS CONTROL OUT",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x88,
        devkey: *b"M   MMMM        ",
        info_lba_off: 2,
        info_lba_len: 8,
        info_len_off: 10,
        info_len_len: 4,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED | SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "READ(16)",
        get_cdb_info: get_cdb_info_read_16,
    },
    ScstSdbops {
        ops: 0x89,
        devkey: *b"O               ",
        info_lba_off: 2,
        info_lba_len: 8,
        info_len_off: 13,
        info_len_len: 1,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED
            | SCST_LOCAL_CMD
            | SCST_WRITE_MEDIUM
            | SCST_SCSI_ATOMIC,
        info_op_name: "COMPARE AND WRITE",
        get_cdb_info: get_cdb_info_compare_and_write,
    },
    ScstSdbops {
        ops: 0x8A,
        devkey: *b"O   OO O        ",
        info_lba_off: 2,
        info_lba_len: 8,
        info_len_off: 10,
        info_len_len: 4,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED | SCST_WRITE_MEDIUM,
        info_op_name: "WRITE(16)",
        get_cdb_info: get_cdb_info_lba_8_len_4_wrprotect,
    },
    ScstSdbops {
        ops: 0x8C,
        devkey: *b" OOOOOOOOO      ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 10,
        info_len_len: 4,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "READ ATTRIBUTE",
        get_cdb_info: get_cdb_info_len_4,
    },
    ScstSdbops {
        ops: 0x8D,
        devkey: *b" OOOOOOOOO      ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 10,
        info_len_len: 4,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_WRITE_MEDIUM,
        info_op_name: "WRITE ATTRIBUTE",
        get_cdb_info: get_cdb_info_len_4,
    },
    ScstSdbops {
        ops: 0x8E,
        devkey: *b"O   OO O        ",
        info_lba_off: 2,
        info_lba_len: 8,
        info_len_off: 10,
        info_len_len: 4,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED | SCST_WRITE_MEDIUM,
        info_op_name: "WRITE AND VERIFY(16)",
        get_cdb_info: get_cdb_info_lba_8_len_4_wrprotect,
    },
    ScstSdbops {
        ops: 0x8F,
        devkey: *b"O   OO O        ",
        info_lba_off: 2,
        info_lba_len: 8,
        info_len_off: 10,
        info_len_len: 4,
        info_data_direction: SCST_DATA_UNKNOWN,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED | SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "VERIFY(16)",
        get_cdb_info: get_cdb_info_verify16,
    },
    ScstSdbops {
        ops: 0x90,
        devkey: *b"O   OO O        ",
        info_lba_off: 2,
        info_lba_len: 8,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "PRE-FETCH(16)",
        get_cdb_info: get_cdb_info_lba_8_none,
    },
    ScstSdbops {
        ops: 0x91,
        devkey: *b"O   OO O        ",
        info_lba_off: 2,
        info_lba_len: 8,
        info_len_off: 10,
        info_len_len: 4,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: 0,
        info_op_name: "SYNCHRONIZE CACHE(16)",
        get_cdb_info: get_cdb_info_lba_8_none,
    },
    ScstSdbops {
        ops: 0x91,
        devkey: *b" M              ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_LONG_TIMEOUT | SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "SPACE(16)",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x92,
        devkey: *b"O   OO O        ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: 0,
        info_op_name: "LOCK UNLOCK CACHE(16)",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x92,
        devkey: *b" O              ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_LONG_TIMEOUT | SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "LOCATE(16)",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x93,
        devkey: *b"O               ",
        info_lba_off: 2,
        info_lba_len: 8,
        info_len_off: 10,
        info_len_len: 4,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED | SCST_WRITE_MEDIUM,
        info_op_name: "WRITE SAME(16)",
        get_cdb_info: get_cdb_info_write_same16,
    },
    ScstSdbops {
        ops: 0x93,
        devkey: *b" M              ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_LONG_TIMEOUT | SCST_WRITE_MEDIUM,
        info_op_name: "ERASE(16)",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0x9E,
        devkey: *b"O               ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: 0,
        info_op_name: "SERVICE ACTION IN",
        get_cdb_info: get_cdb_info_serv_act_in,
    },
    ScstSdbops {
        ops: 0xA0,
        devkey: *b"VVVVVVVVVV  M   ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 6,
        info_len_len: 4,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_SMALL_TIMEOUT
            | SCST_IMPLICIT_HQ
            | SCST_SKIP_UA
            | SCST_FULLY_LOCAL_CMD
            | SCST_LOCAL_CMD
            | SCST_REG_RESERVE_ALLOWED
            | SCST_WRITE_EXCL_ALLOWED
            | SCST_EXCL_ACCESS_ALLOWED,
        info_op_name: "REPORT LUNS",
        get_cdb_info: get_cdb_info_len_4,
    },
    ScstSdbops {
        ops: 0xA1,
        devkey: *b"O    O        O ",
        info_lba_off: 5,
        info_lba_len: 3,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: 0,
        info_op_name: "ATA PASS-THROUGH(12)",
        get_cdb_info: get_cdb_info_apt,
    },
    ScstSdbops {
        ops: 0xA1,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_LONG_TIMEOUT,
        info_op_name: "BLANK",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0xA2,
        devkey: *b"OO   O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 6,
        info_len_len: 4,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_REG_RESERVE_ALLOWED | SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "SECURITY PROTOCOL IN",
        get_cdb_info: get_cdb_info_len_4,
    },
    ScstSdbops {
        ops: 0xA3,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 8,
        info_len_len: 2,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: 0,
        info_op_name: "SEND KEY",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0xA3,
        devkey: *b"OOO O OOOO  MO O",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 6,
        info_len_len: 4,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: 0,
        info_op_name: "MAINTENANCE(IN)",
        get_cdb_info: get_cdb_info_min,
    },
    ScstSdbops {
        ops: 0xA4,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 8,
        info_len_len: 2,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: 0,
        info_op_name: "REPORT KEY",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0xA4,
        devkey: *b"OOO O OOOO  MO O",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 6,
        info_len_len: 4,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: 0,
        info_op_name: "MAINTENANCE(OUT)",
        get_cdb_info: get_cdb_info_mo,
    },
    ScstSdbops {
        ops: 0xA5,
        devkey: *b"        M       ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_LONG_TIMEOUT,
        info_op_name: "MOVE MEDIUM",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0xA5,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: 0,
        info_op_name: "PLAY AUDIO(12)",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0xA6,
        devkey: *b"     O  O       ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_LONG_TIMEOUT,
        info_op_name: "EXCHANGE/LOAD/UNLOAD MEDIUM",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0xA7,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: 0,
        info_op_name: "SET READ AHEAD",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0xA8,
        devkey: *b"         O      ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 6,
        info_len_len: 4,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: 0,
        info_op_name: "GET MESSAGE(12)",
        get_cdb_info: get_cdb_info_len_4,
    },
    ScstSdbops {
        ops: 0xA8,
        devkey: *b"O   OO O        ",
        info_lba_off: 2,
        info_lba_len: 4,
        info_len_off: 6,
        info_len_len: 4,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED | SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "READ(12)",
        get_cdb_info: get_cdb_info_lba_4_len_4_rdprotect,
    },
    ScstSdbops {
        ops: 0xA9,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: 0,
        info_op_name: "PLAY TRACK RELATIVE(12)",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0xAA,
        devkey: *b"O   OO O        ",
        info_lba_off: 2,
        info_lba_len: 4,
        info_len_off: 6,
        info_len_len: 4,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED | SCST_WRITE_MEDIUM,
        info_op_name: "WRITE(12)",
        get_cdb_info: get_cdb_info_lba_4_len_4_wrprotect,
    },
    ScstSdbops {
        ops: 0xAA,
        devkey: *b"         O      ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 6,
        info_len_len: 4,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: 0,
        info_op_name: "SEND MESSAGE(12)",
        get_cdb_info: get_cdb_info_len_4,
    },
    ScstSdbops {
        ops: 0xAC,
        devkey: *b"       O        ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_WRITE_MEDIUM,
        info_op_name: "ERASE(12)",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0xAC,
        devkey: *b"     M          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_UNKNOWN_LENGTH,
        info_op_name: "GET PERFORMANCE",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0xAD,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 8,
        info_len_len: 2,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: 0,
        info_op_name: "READ DVD STRUCTURE",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0xAE,
        devkey: *b"O   OO O        ",
        info_lba_off: 2,
        info_lba_len: 4,
        info_len_off: 6,
        info_len_len: 4,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED | SCST_WRITE_MEDIUM,
        info_op_name: "WRITE AND VERIFY(12)",
        get_cdb_info: get_cdb_info_lba_4_len_4_wrprotect,
    },
    ScstSdbops {
        ops: 0xAF,
        devkey: *b"O   OO O        ",
        info_lba_off: 2,
        info_lba_len: 4,
        info_len_off: 6,
        info_len_len: 4,
        info_data_direction: SCST_DATA_UNKNOWN,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED | SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "VERIFY(12)",
        get_cdb_info: get_cdb_info_verify12,
    },
    ScstSdbops {
        ops: 0xB3,
        devkey: *b"    OO O        ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: 0,
        info_op_name: "SET LIMITS(12)",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0xB5,
        devkey: *b"OO   O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 6,
        info_len_len: 4,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: 0,
        info_op_name: "SECURITY PROTOCOL OUT",
        get_cdb_info: get_cdb_info_len_4,
    },
    ScstSdbops {
        ops: 0xB5,
        devkey: *b"        O       ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 7,
        info_len_len: 3,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: 0,
        info_op_name: "REQUEST VOLUME ELEMENT ADDRESS",
        get_cdb_info: get_cdb_info_len_3,
    },
    ScstSdbops {
        ops: 0xB6,
        devkey: *b"        O       ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 9,
        info_len_len: 1,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: 0,
        info_op_name: "SEND VOLUME TAG",
        get_cdb_info: get_cdb_info_len_1,
    },
    ScstSdbops {
        ops: 0xB6,
        devkey: *b"     M         \0",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 9,
        info_len_len: 2,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: 0,
        info_op_name: "SET STREAMING",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0xB7,
        devkey: *b"O      O        ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 9,
        info_len_len: 1,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "READ DEFECT DATA(12)",
        get_cdb_info: get_cdb_info_len_1,
    },
    ScstSdbops {
        ops: 0xB8,
        devkey: *b"        O       ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 7,
        info_len_len: 3,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: 0,
        info_op_name: "READ ELEMENT STATUS",
        get_cdb_info: get_cdb_info_len_3_read_elem_stat,
    },
    ScstSdbops {
        ops: 0xB9,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_UNKNOWN_LENGTH,
        info_op_name: "READ CD MSF",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0xBA,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_LONG_TIMEOUT,
        info_op_name: "SCAN",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0xBA,
        devkey: *b"            O   ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 6,
        info_len_len: 4,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: 0,
        info_op_name: "REDUNDANCY GROUP(IN)",
        get_cdb_info: get_cdb_info_len_4,
    },
    ScstSdbops {
        ops: 0xBB,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: 0,
        info_op_name: "SET SPEED",
        get_cdb_info: get_cdb_info_none,
    },
    ScstSdbops {
        ops: 0xBB,
        devkey: *b"            O   ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 6,
        info_len_len: 4,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: 0,
        info_op_name: "REDUNDANCY GROUP(OUT)",
        get_cdb_info: get_cdb_info_len_4,
    },
    ScstSdbops {
        ops: 0xBC,
        devkey: *b"            O   ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 6,
        info_len_len: 4,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: 0,
        info_op_name: "SPARE(IN)",
        get_cdb_info: get_cdb_info_len_4,
    },
    ScstSdbops {
        ops: 0xBD,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 8,
        info_len_len: 2,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: 0,
        info_op_name: "MECHANISM STATUS",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0xBD,
        devkey: *b"            O   ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 6,
        info_len_len: 4,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: 0,
        info_op_name: "SPARE(OUT)",
        get_cdb_info: get_cdb_info_len_4,
    },
    ScstSdbops {
        ops: 0xBE,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 6,
        info_len_len: 3,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED,
        info_op_name: "READ CD",
        get_cdb_info: get_cdb_info_len_3,
    },
    ScstSdbops {
        ops: 0xBE,
        devkey: *b"            O   ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 6,
        info_len_len: 4,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: 0,
        info_op_name: "VOLUME SET(IN)",
        get_cdb_info: get_cdb_info_len_4,
    },
    ScstSdbops {
        ops: 0xBF,
        devkey: *b"     O          ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 8,
        info_len_len: 4,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: 0,
        info_op_name: "SEND DVD STRUCTUE",
        get_cdb_info: get_cdb_info_len_2,
    },
    ScstSdbops {
        ops: 0xBF,
        devkey: *b"            O   ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 6,
        info_len_len: 4,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: 0,
        info_op_name: "VOLUME SET(OUT)",
        get_cdb_info: get_cdb_info_len_4,
    },
    ScstSdbops {
        ops: 0xE7,
        devkey: *b"        V       ",
        info_lba_off: 0,
        info_lba_len: 0,
        info_len_off: 0,
        info_len_len: 0,
        info_data_direction: SCST_DATA_NONE,
        info_op_flags: SCST_LONG_TIMEOUT,
        info_op_name: "INIT ELEMENT STATUS WRANGE",
        get_cdb_info: get_cdb_info_len_10,
    },
];

/// C `scst_scsi_op_list[256]`: for each opcode, the index of its first row (the table length
/// for an opcode without rows). C fills it at module init (`scst_lib_init()`).
static scst_scsi_op_list: LazyLock<[usize; 256]> = LazyLock::new(|| {
    let mut l = [scst_scsi_op_table.len(); 256];
    for (i, op) in scst_scsi_op_table.iter().enumerate().rev() {
        l[usize::from(op.ops)] = i;
    }
    l
});

/// C `scst_cdb_length[]`: the CDB length of each opcode group (0: vendor specific).
const scst_cdb_length: [usize; 8] = [6, 10, 10, 32, 16, 12, 0, 0];

/// C `SCST_GET_CDB_LEN(opcode)`: the CDB length of `opcode` by its group.
pub fn SCST_GET_CDB_LEN(opcode: u8) -> usize {
    scst_cdb_length[usize::from(opcode >> 5)]
}

/// The CDB byte at `off` (0 past the end: C's CDB buffer is zero filled).
pub fn cdb_byte(d: &ScstCmdData, off: usize) -> u8 {
    d.cdb.get(off).copied().unwrap_or(0)
}

/// C `get_unaligned_be16()` on the CDB.
pub fn get_unaligned_be16(d: &ScstCmdData, off: usize) -> u32 {
    (u32::from(cdb_byte(d, off)) << 8) | u32::from(cdb_byte(d, off + 1))
}

/// C `get_unaligned_be24()` on the CDB.
pub fn get_unaligned_be24(d: &ScstCmdData, off: usize) -> u32 {
    (u32::from(cdb_byte(d, off)) << 16) | get_unaligned_be16(d, off + 1)
}

/// C `get_unaligned_be32()` on the CDB.
pub fn get_unaligned_be32(d: &ScstCmdData, off: usize) -> u32 {
    (u32::from(cdb_byte(d, off)) << 24) | get_unaligned_be24(d, off + 1)
}

/// C `get_unaligned_be64()` on the CDB.
pub fn get_unaligned_be64(d: &ScstCmdData, off: usize) -> u64 {
    (u64::from(get_unaligned_be32(d, off)) << 32) | u64::from(get_unaligned_be32(d, off + 4))
}

/// A CDB length field as C's `int bufflen` (C assigns the unsigned value to an int).
#[allow(clippy::cast_possible_wrap)]
fn len_i32(v: u32) -> i32 {
    v as i32
}

/// A 64-bit CDB LBA as C's `int64_t lba` (C assigns the unsigned value to it).
#[allow(clippy::cast_possible_wrap)]
fn c_i64(v: u64) -> i64 {
    v as i64
}

fn lba_off(s: &ScstSdbops) -> usize {
    usize::from(s.info_lba_off)
}

fn len_off(s: &ScstSdbops) -> usize {
    usize::from(s.info_len_off)
}

/// C `scst_parse_rdprotect()` (and the WR/VR variants, which are the same check here): the
/// port has no T10-PI, so a non-zero protect field is INVALID FIELD IN CDB (byte `offs`, bit
/// 5), as C answers for a device in `SCST_DIF_MODE_NONE`. Returns C's positive `EINVAL`.
fn scst_parse_protect(d: &mut ScstCmdData, offs: usize) -> i32 {
    let protect = (cdb_byte(d, offs) & 0xE0) >> 5;
    if protect == 0 {
        return 0;
    }
    kemu::PRINT_WARNING!(
        "protect {} not supported on a device without DIF (op {})",
        protect,
        d.op_name
    );
    scst_set_invalid_field_in_cdb_locked(d, offs, 5 | crate::scst::SCST_INVAL_FIELD_BIT_OFFS_VALID);
    nix_einval()
}

fn nix_einval() -> i32 {
    kemu::Errno::EINVAL as i32
}

/// C `scst_parse_rdprotect()`.
fn scst_parse_rdprotect(d: &mut ScstCmdData) -> i32 {
    scst_parse_protect(d, 1)
}

/// C `scst_parse_wrprotect()`.
fn scst_parse_wrprotect(d: &mut ScstCmdData) -> i32 {
    scst_parse_protect(d, 1)
}

/// C `scst_parse_vrprotect()`.
fn scst_parse_vrprotect(d: &mut ScstCmdData) -> i32 {
    scst_parse_protect(d, 1)
}

/// C `scst_parse_rdprotect32()` / `scst_parse_wrprotect32()`: the field is in byte 10.
fn scst_parse_protect32(d: &mut ScstCmdData) -> i32 {
    scst_parse_protect(d, 10)
}

fn get_cdb_info_len_10(d: &mut ScstCmdData, _s: &ScstSdbops) -> i32 {
    d.cdb_len = 10;
    d.op_flags |= SCST_LBA_NOT_VALID;
    d.lba = 0;
    d.data_len = i64::from(d.bufflen);
    0
}

fn get_cdb_info_block_limit(d: &mut ScstCmdData, _s: &ScstSdbops) -> i32 {
    d.op_flags |= SCST_LBA_NOT_VALID;
    d.lba = 0;
    d.bufflen = 6;
    d.data_len = i64::from(d.bufflen);
    0
}

fn get_cdb_info_read_capacity(d: &mut ScstCmdData, _s: &ScstSdbops) -> i32 {
    d.op_flags |= SCST_LBA_NOT_VALID;
    d.lba = 0;
    d.bufflen = 8;
    d.data_len = i64::from(d.bufflen);
    0
}

fn get_cdb_info_serv_act_in(d: &mut ScstCmdData, _s: &ScstSdbops) -> i32 {
    d.lba = 0;
    match cdb_byte(d, 1) & 0x1f {
        SAI_READ_CAPACITY_16 => {
            d.op_name = "READ CAPACITY(16)";
            d.bufflen = len_i32(get_unaligned_be32(d, 10));
            d.op_flags |= SCST_IMPLICIT_HQ
                | SCST_LBA_NOT_VALID
                | SCST_REG_RESERVE_ALLOWED
                | SCST_WRITE_EXCL_ALLOWED
                | SCST_EXCL_ACCESS_ALLOWED;
        }
        SAI_GET_LBA_STATUS => {
            d.op_name = "GET LBA STATUS";
            d.lba = c_i64(get_unaligned_be64(d, 2));
            d.bufflen = len_i32(get_unaligned_be32(d, 10));
            d.op_flags |= SCST_WRITE_EXCL_ALLOWED;
        }
        _ => d.op_flags |= SCST_UNKNOWN_LENGTH | SCST_LBA_NOT_VALID,
    }
    d.data_len = i64::from(d.bufflen);
    0
}

fn get_cdb_info_single(d: &mut ScstCmdData, _s: &ScstSdbops) -> i32 {
    d.op_flags |= SCST_LBA_NOT_VALID;
    d.lba = 0;
    d.bufflen = 1;
    d.data_len = i64::from(d.bufflen);
    0
}

fn get_cdb_info_read_pos(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    d.op_flags |= SCST_LBA_NOT_VALID;
    d.lba = 0;
    d.bufflen = len_i32(get_unaligned_be16(d, len_off(s)));
    match cdb_byte(d, 1) & 0x1f {
        0 | 1 => d.bufflen = 20,
        6 => d.bufflen = 32,
        8 => d.bufflen = d.bufflen.max(32),
        sa => {
            kemu::PRINT_ERROR!("READ POSITION: Invalid service action {:x}", sa);
            scst_set_invalid_field_in_cdb_locked(d, 1, 0);
            return 1;
        }
    }
    d.data_len = i64::from(d.bufflen);
    0
}

fn get_cdb_info_prevent_allow_medium_removal(d: &mut ScstCmdData, _s: &ScstSdbops) -> i32 {
    d.op_flags |= SCST_LBA_NOT_VALID;
    d.lba = 0;
    d.data_len = 0;
    if cdb_byte(d, 4) & 3 == 0 {
        d.op_flags |= SCST_REG_RESERVE_ALLOWED | SCST_WRITE_EXCL_ALLOWED | SCST_EXCL_ACCESS_ALLOWED;
    }
    0
}

fn get_cdb_info_start_stop(d: &mut ScstCmdData, _s: &ScstSdbops) -> i32 {
    d.op_flags |= SCST_LBA_NOT_VALID;
    d.lba = 0;
    d.data_len = 0;
    if cdb_byte(d, 4) & 0xF1 == 0x1 {
        d.op_flags |= SCST_REG_RESERVE_ALLOWED | SCST_WRITE_EXCL_ALLOWED | SCST_EXCL_ACCESS_ALLOWED;
    }
    0
}

fn get_cdb_info_len_3_read_elem_stat(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    d.op_flags |= SCST_LBA_NOT_VALID;
    d.lba = 0;
    d.bufflen = len_i32(get_unaligned_be24(d, len_off(s)));
    d.data_len = i64::from(d.bufflen);
    if cdb_byte(d, 6) & 0x2 == 0x2 {
        d.op_flags |= SCST_REG_RESERVE_ALLOWED | SCST_WRITE_EXCL_ALLOWED | SCST_EXCL_ACCESS_ALLOWED;
    }
    0
}

fn get_cdb_info_bidi_lba_4_len_2(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    d.lba = i64::from(get_unaligned_be32(d, lba_off(s)));
    d.bufflen = len_i32(get_unaligned_be16(d, len_off(s)));
    d.data_len = i64::from(d.bufflen);
    d.out_bufflen = d.bufflen;
    0
}

fn get_cdb_info_fmt(d: &mut ScstCmdData, _s: &ScstSdbops) -> i32 {
    d.op_flags |= SCST_LBA_NOT_VALID;
    d.lba = 0;
    if cdb_byte(d, 1) & 0x10 != 0 {
        // FMTDATA: a parameter list follows, of a length the CDB does not give; guess.
        d.data_direction = SCST_DATA_WRITE;
        d.op_flags |= SCST_UNKNOWN_LENGTH;
        d.bufflen = 4096;
    } else {
        d.bufflen = 0;
    }
    d.data_len = i64::from(d.bufflen);
    0
}

/// The common part of the VERIFY decoders: BYTCHK 1x is refused; with BYTCHK 01 the data to
/// compare is sent by the initiator, otherwise no data moves. `ctrl` is the byte with BYTCHK,
/// `len` the decoded length.
fn verify_common(d: &mut ScstCmdData, ctrl: usize, len: u32, name: &str) -> i32 {
    if cdb_byte(d, ctrl) & 4 != 0 {
        kemu::PRINT_ERROR!(
            "{}: BYTCHK 1x not supported (dev {})",
            name,
            d.dev.as_ref().map_or("NULL", |x| x.virt_name.as_str())
        );
        scst_set_invalid_field_in_cdb_locked(
            d,
            1,
            2 | crate::scst::SCST_INVAL_FIELD_BIT_OFFS_VALID,
        );
        return 1;
    }
    if cdb_byte(d, ctrl) & 2 != 0 {
        d.bufflen = len_i32(len);
        d.data_len = i64::from(d.bufflen);
        d.data_direction = SCST_DATA_WRITE;
    } else {
        d.bufflen = 0;
        d.data_len = i64::from(len);
        d.data_direction = SCST_DATA_NONE;
    }
    0
}

fn get_cdb_info_verify10(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    if cdb_byte(d, 1) & 4 == 0 {
        d.lba = i64::from(get_unaligned_be32(d, lba_off(s)));
    }
    let len = get_unaligned_be16(d, len_off(s));
    match verify_common(d, 1, len, "VERIFY(10)") {
        0 => scst_parse_vrprotect(d),
        r => r,
    }
}

fn get_cdb_info_verify6(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    d.op_flags |= SCST_LBA_NOT_VALID;
    d.lba = 0;
    let len = get_unaligned_be24(d, len_off(s));
    verify_common(d, 1, len, "VERIFY(6)")
}

fn get_cdb_info_verify12(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    if cdb_byte(d, 1) & 4 == 0 {
        d.lba = i64::from(get_unaligned_be32(d, lba_off(s)));
    }
    let len = get_unaligned_be32(d, len_off(s));
    match verify_common(d, 1, len, "VERIFY(12)") {
        0 => scst_parse_vrprotect(d),
        r => r,
    }
}

fn get_cdb_info_verify16(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    if cdb_byte(d, 1) & 4 == 0 {
        d.lba = c_i64(get_unaligned_be64(d, lba_off(s)));
    }
    let len = get_unaligned_be32(d, len_off(s));
    match verify_common(d, 1, len, "VERIFY(16)") {
        0 => scst_parse_vrprotect(d),
        r => r,
    }
}

fn get_cdb_info_verify32(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    if cdb_byte(d, 10) & 4 == 0 {
        d.lba = c_i64(get_unaligned_be64(d, lba_off(s)));
    }
    let len = get_unaligned_be32(d, len_off(s));
    match verify_common(d, 10, len, "VERIFY(32)") {
        0 => scst_parse_protect32(d),
        r => r,
    }
}

fn get_cdb_info_len_1(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    d.op_flags |= SCST_LBA_NOT_VALID;
    d.lba = 0;
    d.bufflen = i32::from(cdb_byte(d, len_off(s)));
    d.data_len = i64::from(d.bufflen);
    0
}

/// C `get_cdb_info_lba_3_len_1_256()`: READ(6)/WRITE(6): a 21-bit LBA and a transfer length
/// where 0 means 256 blocks.
fn get_cdb_info_lba_3_len_1_256(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    d.lba = (i64::from(cdb_byte(d, lba_off(s)) & 0x1F) << 16)
        | i64::from(get_unaligned_be16(d, lba_off(s) + 1));
    d.bufflen = i32::from(cdb_byte(d, len_off(s)).wrapping_sub(1)) + 1;
    d.data_len = i64::from(d.bufflen);
    0
}

fn get_cdb_info_lba_3_len_1_256_read(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    // The DIF actions C sets here need a device with DIF; the port has none.
    get_cdb_info_lba_3_len_1_256(d, s)
}

fn get_cdb_info_lba_3_len_1_256_write(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    get_cdb_info_lba_3_len_1_256(d, s)
}

fn get_cdb_info_len_2(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    d.op_flags |= SCST_LBA_NOT_VALID;
    d.lba = 0;
    d.bufflen = len_i32(get_unaligned_be16(d, len_off(s)));
    d.data_len = i64::from(d.bufflen);
    0
}

fn get_cdb_info_len_3(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    d.op_flags |= SCST_LBA_NOT_VALID;
    d.lba = 0;
    d.bufflen = len_i32(get_unaligned_be24(d, len_off(s)));
    d.data_len = i64::from(d.bufflen);
    0
}

fn get_cdb_info_len_4(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    d.op_flags |= SCST_LBA_NOT_VALID;
    d.lba = 0;
    d.bufflen = len_i32(get_unaligned_be32(d, len_off(s)));
    d.data_len = i64::from(d.bufflen);
    0
}

fn get_cdb_info_none(d: &mut ScstCmdData, _s: &ScstSdbops) -> i32 {
    d.op_flags |= SCST_LBA_NOT_VALID;
    d.lba = 0;
    d.data_len = i64::from(d.bufflen);
    0
}

fn get_cdb_info_lba_2_none(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    d.lba = i64::from(get_unaligned_be16(d, lba_off(s)));
    d.data_len = i64::from(d.bufflen);
    0
}

fn get_cdb_info_lba_4_none(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    d.lba = i64::from(get_unaligned_be32(d, lba_off(s)));
    d.data_len = i64::from(d.bufflen);
    0
}

fn get_cdb_info_lba_8_none(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    d.lba = c_i64(get_unaligned_be64(d, lba_off(s)));
    d.data_len = i64::from(d.bufflen);
    0
}

fn get_cdb_info_lba_4_len_2(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    d.lba = i64::from(get_unaligned_be32(d, lba_off(s)));
    d.bufflen = len_i32(get_unaligned_be16(d, len_off(s)));
    d.data_len = i64::from(d.bufflen);
    0
}

fn get_cdb_info_read_10(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    match get_cdb_info_lba_4_len_2(d, s) {
        0 => scst_parse_rdprotect(d),
        r => r,
    }
}

fn get_cdb_info_lba_4_len_2_wrprotect(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    match get_cdb_info_lba_4_len_2(d, s) {
        0 => scst_parse_wrprotect(d),
        r => r,
    }
}

fn get_cdb_info_lba_4_len_4(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    d.lba = i64::from(get_unaligned_be32(d, lba_off(s)));
    d.bufflen = len_i32(get_unaligned_be32(d, len_off(s)));
    d.data_len = i64::from(d.bufflen);
    0
}

fn get_cdb_info_lba_4_len_4_rdprotect(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    match get_cdb_info_lba_4_len_4(d, s) {
        0 => scst_parse_rdprotect(d),
        r => r,
    }
}

fn get_cdb_info_lba_4_len_4_wrprotect(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    match get_cdb_info_lba_4_len_4(d, s) {
        0 => scst_parse_wrprotect(d),
        r => r,
    }
}

fn get_cdb_info_lba_8_len_4(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    d.lba = c_i64(get_unaligned_be64(d, lba_off(s)));
    d.bufflen = len_i32(get_unaligned_be32(d, len_off(s)));
    d.data_len = i64::from(d.bufflen);
    0
}

fn get_cdb_info_read_16(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    match get_cdb_info_lba_8_len_4(d, s) {
        0 => scst_parse_rdprotect(d),
        r => r,
    }
}

fn get_cdb_info_lba_8_len_4_wrprotect(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    match get_cdb_info_lba_8_len_4(d, s) {
        0 => scst_parse_wrprotect(d),
        r => r,
    }
}

fn get_cdb_info_lba_8_len_4_wrprotect32(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    match get_cdb_info_lba_8_len_4(d, s) {
        0 => scst_parse_protect32(d),
        r => r,
    }
}

fn get_cdb_info_lba_8_len_4_rdprotect32(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    match get_cdb_info_lba_8_len_4(d, s) {
        0 => scst_parse_protect32(d),
        r => r,
    }
}

/// C `get_cdb_info_write_same()`: ANCHOR or NDOB need UNMAP; with NDOB no data block is
/// sent, otherwise one block.
fn get_cdb_info_write_same(d: &mut ScstCmdData, _s: &ScstSdbops, ndob: bool) -> i32 {
    let ctrl_offs = if d.cdb_len < 32 { 1 } else { 10 };
    let anchor = (cdb_byte(d, ctrl_offs) >> 4) & 1 != 0;
    let unmap = (cdb_byte(d, ctrl_offs) >> 3) & 1 != 0;
    if !unmap && (anchor || ndob) {
        kemu::PRINT_ERROR!(
            "Received invalid {} command (UNMAP = {}; ANCHOR = {}; NDOB = {})",
            d.op_name,
            unmap,
            anchor,
            ndob
        );
        let bit = if ndob { 0 } else { 4 };
        scst_set_invalid_field_in_cdb_locked(
            d,
            ctrl_offs,
            crate::scst::SCST_INVAL_FIELD_BIT_OFFS_VALID | bit,
        );
        return 1;
    }
    if ndob {
        d.bufflen = 0;
        d.data_direction = SCST_DATA_NONE;
    } else {
        d.bufflen = 1;
        d.data_direction = SCST_DATA_WRITE;
    }
    if d.cdb_len < 32 {
        scst_parse_wrprotect(d)
    } else {
        scst_parse_protect32(d)
    }
}

fn get_cdb_info_write_same10(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    d.lba = i64::from(get_unaligned_be32(d, lba_off(s)));
    d.data_len = i64::from(get_unaligned_be16(d, len_off(s)));
    get_cdb_info_write_same(d, s, false)
}

fn get_cdb_info_write_same16(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    d.lba = c_i64(get_unaligned_be64(d, lba_off(s)));
    d.data_len = i64::from(get_unaligned_be32(d, len_off(s)));
    let ndob = cdb_byte(d, 1) & 1 != 0;
    get_cdb_info_write_same(d, s, ndob)
}

fn get_cdb_info_write_same32(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    d.lba = c_i64(get_unaligned_be64(d, lba_off(s)));
    d.data_len = i64::from(get_unaligned_be32(d, len_off(s)));
    let ndob = cdb_byte(d, 10) & 1 != 0;
    get_cdb_info_write_same(d, s, ndob)
}

/// C `scst_set_cmd_from_cdb_info()`: copies the row into the command and runs its decoder.
fn scst_set_cmd_from_cdb_info(d: &mut ScstCmdData, ptr: &ScstSdbops) -> i32 {
    d.cdb_len = SCST_GET_CDB_LEN(cdb_byte(d, 0));
    let ctrl = cdb_byte(d, d.cdb_len.saturating_sub(1));
    d.cmd_naca = ctrl & CONTROL_BYTE_NACA_BIT != 0;
    d.cmd_linked = ctrl & CONTROL_BYTE_LINK_BIT != 0;
    d.op_name = ptr.info_op_name;
    d.data_direction = ptr.info_data_direction;
    d.op_flags = ptr.info_op_flags | SCST_INFO_VALID;
    d.lba_off = ptr.info_lba_off;
    d.lba_len = ptr.info_lba_len;
    d.len_off = ptr.info_len_off;
    d.len_len = ptr.info_len_len;
    (ptr.get_cdb_info)(d, ptr)
}

/// C `scst_scsi_op32_table[]` of `get_cdb_info_var_len()`: the 32-byte CDBs (opcode 0x7F),
/// indexed by service action minus `SUBCODE_READ_32`; sorted and without holes.
static scst_scsi_op32_table: [ScstSdbops; 5] = [
    ScstSdbops {
        ops: 0x7F,
        devkey: *b"O               ",
        info_lba_off: 12,
        info_lba_len: 8,
        info_len_off: 28,
        info_len_len: 4,
        info_data_direction: SCST_DATA_READ,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED | SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "READ(32)",
        get_cdb_info: get_cdb_info_lba_8_len_4_rdprotect32,
    },
    ScstSdbops {
        ops: 0x7F,
        devkey: *b"O               ",
        info_lba_off: 12,
        info_lba_len: 8,
        info_len_off: 28,
        info_len_len: 4,
        info_data_direction: SCST_DATA_UNKNOWN,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED | SCST_WRITE_EXCL_ALLOWED,
        info_op_name: "VERIFY(32)",
        get_cdb_info: get_cdb_info_verify32,
    },
    ScstSdbops {
        ops: 0x7F,
        devkey: *b"O               ",
        info_lba_off: 12,
        info_lba_len: 8,
        info_len_off: 28,
        info_len_len: 4,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED | SCST_WRITE_MEDIUM,
        info_op_name: "WRITE(32)",
        get_cdb_info: get_cdb_info_lba_8_len_4_wrprotect32,
    },
    ScstSdbops {
        ops: 0x7F,
        devkey: *b"O               ",
        info_lba_off: 12,
        info_lba_len: 8,
        info_len_off: 28,
        info_len_len: 4,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED | SCST_WRITE_MEDIUM,
        info_op_name: "WRITE AND VERIFY(32)",
        get_cdb_info: get_cdb_info_lba_8_len_4_wrprotect32,
    },
    ScstSdbops {
        ops: 0x7F,
        devkey: *b"O               ",
        info_lba_off: 12,
        info_lba_len: 8,
        info_len_off: 28,
        info_len_len: 4,
        info_data_direction: SCST_DATA_WRITE,
        info_op_flags: SCST_TRANSFER_LEN_TYPE_FIXED | SCST_WRITE_MEDIUM,
        info_op_name: "WRITE SAME(32)",
        get_cdb_info: get_cdb_info_write_same32,
    },
];

/// C `get_cdb_info_var_len()`: a variable length CDB; the service action picks the row of
/// [`scst_scsi_op32_table`]. An unknown service action is "unknown command" (< 0); an
/// additional CDB length other than 0x18 is INVALID FIELD IN CDB.
fn get_cdb_info_var_len(d: &mut ScstCmdData, _s: &ScstSdbops) -> i32 {
    let subcode = get_unaligned_be16(d, 8);
    let i = subcode.wrapping_sub(u32::from(SUBCODE_READ_32)) as usize;
    let Some(ptr) = scst_scsi_op32_table.get(i) else {
        kemu::TRACE_DBG!("Unknown subcode {:x} of 0x7F", subcode);
        d.op_flags &= !SCST_INFO_VALID;
        return -1;
    };
    if cdb_byte(d, 7) != 0x18 {
        d.op_flags |= SCST_LBA_NOT_VALID;
        scst_set_invalid_field_in_cdb_locked(d, 7, 0);
        return 1;
    }
    let res = scst_set_cmd_from_cdb_info(d, ptr);
    d.cmd_naca = cdb_byte(d, 1) & CONTROL_BYTE_NACA_BIT != 0;
    d.cmd_linked = cdb_byte(d, 1) & CONTROL_BYTE_LINK_BIT != 0;
    res
}

fn get_cdb_info_compare_and_write(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    d.lba = c_i64(get_unaligned_be64(d, lba_off(s)));
    d.data_len = i64::from(cdb_byte(d, len_off(s)));
    d.bufflen = i32::from(cdb_byte(d, len_off(s))) * 2;
    scst_parse_wrprotect(d)
}

fn get_cdb_info_ext_copy(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    if cdb_byte(d, 1) != 0 {
        kemu::PRINT_WARNING!(
            "Not supported {} service action 0x{:x}",
            d.op_name,
            cdb_byte(d, 1)
        );
        scst_set_invalid_field_in_cdb_locked(d, 1, crate::scst::SCST_INVAL_FIELD_BIT_OFFS_VALID);
        return 1;
    }
    get_cdb_info_len_4(d, s)
}

/// C `get_cdb_info_apt()`: ATA PASS-THROUGH(12/16) (SAT-3): length and direction from the
/// T_LENGTH, T_DIR, BYTE_BLOCK, T_TYPE and MULTIPLE fields.
fn get_cdb_info_apt(d: &mut ScstCmdData, _s: &ScstSdbops) -> i32 {
    let op = cdb_byte(d, 0);
    let extend = cdb_byte(d, 1) & 1 != 0;
    let multiple = cdb_byte(d, 1) >> 5;
    let protocol = (cdb_byte(d, 1) >> 1) & 0xf;
    let t_type = (cdb_byte(d, 2) >> 4) & 1 != 0;
    let t_dir = (cdb_byte(d, 2) >> 3) & 1 != 0;
    let byte_block = (cdb_byte(d, 2) >> 2) & 1 != 0;
    let t_length = cdb_byte(d, 2) & 3;
    // Protocol Fh (return response information): every other field is ignored.
    if protocol != 0xf {
        let mut bufflen: i32 = 0;
        match (op, t_length) {
            (ATA_12, 1) => bufflen = i32::from(cdb_byte(d, 3)),
            (ATA_12, 2) => bufflen = i32::from(cdb_byte(d, 4)),
            (ATA_16, 1) => {
                bufflen = if extend {
                    len_i32(get_unaligned_be16(d, 3))
                } else {
                    i32::from(cdb_byte(d, 4))
                }
            }
            (ATA_16, 2) => {
                bufflen = if extend {
                    len_i32(get_unaligned_be16(d, 5))
                } else {
                    i32::from(cdb_byte(d, 6))
                }
            }
            // t_length 3 (length in the TPSIU) is not implemented, as in C.
            _ => {}
        }
        d.cdb_len = SCST_GET_CDB_LEN(op);
        if t_length != 0 && byte_block {
            let bs = if t_type {
                d.dev
                    .as_ref()
                    .map_or(512, |x| kemu::atomic::atomic_read(&x.block_size))
            } else {
                512
            };
            bufflen = bufflen.wrapping_mul(bs);
        }
        d.data_direction = if t_length == 0 {
            SCST_DATA_NONE
        } else if t_dir {
            SCST_DATA_READ
        } else {
            SCST_DATA_WRITE
        };
        d.lba = 0;
        d.bufflen = bufflen.wrapping_shl(u32::from(multiple));
        d.data_len = i64::from(d.bufflen);
    }
    d.op_flags = SCST_INFO_VALID;
    0
}

/// C `get_cdb_info_min()`: MAINTENANCE IN, named by its service action. REPORT SUPPORTED
/// OPERATION CODES is local (answered by the core) only for handlers with
/// `get_supported_opcodes()`; REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS always is.
fn get_cdb_info_min(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    match cdb_byte(d, 1) & 0x1f {
        MI_REPORT_IDENTIFYING_INFORMATION => {
            d.op_name = "REPORT IDENTIFYING INFORMATION";
            d.op_flags |=
                SCST_REG_RESERVE_ALLOWED | SCST_WRITE_EXCL_ALLOWED | SCST_EXCL_ACCESS_ALLOWED;
        }
        MI_REPORT_TARGET_PGS => {
            d.op_name = "REPORT TARGET PORT GROUPS";
            d.op_flags |=
                SCST_REG_RESERVE_ALLOWED | SCST_WRITE_EXCL_ALLOWED | SCST_EXCL_ACCESS_ALLOWED;
        }
        MI_REPORT_SUPPORTED_OPERATION_CODES => {
            d.op_name = "REPORT SUPPORTED OPERATION CODES";
            d.op_flags |= SCST_WRITE_EXCL_ALLOWED;
            // C: cmd->devt->get_supported_opcodes != NULL.
            if d.devt
                .as_ref()
                .is_some_and(|t| t.ops.get_supported_opcodes().is_some())
            {
                d.op_flags |= SCST_LOCAL_CMD | SCST_FULLY_LOCAL_CMD;
            }
        }
        MI_REPORT_SUPPORTED_TASK_MANAGEMENT_FUNCTIONS => {
            d.op_name = "REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS";
            d.op_flags |= SCST_WRITE_EXCL_ALLOWED | SCST_LOCAL_CMD | SCST_FULLY_LOCAL_CMD;
        }
        _ => {}
    }
    get_cdb_info_len_4(d, s)
}

/// C `get_cdb_info_mo()`: MAINTENANCE OUT. (C also queues SET TARGET PORT GROUPS on the
/// global STPG list; that comes with ALUA.)
fn get_cdb_info_mo(d: &mut ScstCmdData, s: &ScstSdbops) -> i32 {
    if cdb_byte(d, 1) & 0x1f == MO_SET_TARGET_PGS {
        d.op_name = "SET TARGET PORT GROUPS";
        d.op_flags |= SCST_STRICTLY_SERIALIZED;
    }
    get_cdb_info_len_4(d, s)
}

/// C `scst_get_cdb_info()` on the command's data: finds the row for the CDB's opcode and the
/// device's type and decodes the CDB. 0 decoded, < 0 unknown opcode (`SCST_LBA_NOT_VALID`
/// set), > 0 invalid CDB (sense set).
pub fn scst_get_cdb_info_locked(d: &mut ScstCmdData) -> i32 {
    let dev_type = d
        .dev
        .as_ref()
        .map_or(0, |x| usize::try_from(x.type_).unwrap_or(0) & 0xF);
    let op = cdb_byte(d, 0);
    let mut i = scst_scsi_op_list[usize::from(op)];
    let mut ptr = None;
    while i < scst_scsi_op_table.len() && scst_scsi_op_table[i].ops == op {
        if scst_scsi_op_table[i].devkey[dev_type] != SCST_CDB_NOTSUPP {
            ptr = Some(&scst_scsi_op_table[i]);
            break;
        }
        i += 1;
    }
    let Some(ptr) = ptr else {
        kemu::TRACE_DBG!("Unknown opcode 0x{:02x} for type {}", op, dev_type);
        d.op_flags |= SCST_LBA_NOT_VALID;
        return -1;
    };
    scst_set_cmd_from_cdb_info(d, ptr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_complete() {
        assert_eq!(scst_scsi_op_table.len(), 173);
        for w in scst_scsi_op_table.windows(2) {
            assert!(w[0].ops <= w[1].ops, "{:?} before {:?}", w[0], w[1]);
        }
        assert_eq!(scst_scsi_op_list[0x28], {
            scst_scsi_op_table
                .iter()
                .position(|o| o.ops == 0x28)
                .unwrap_or(999)
        });
        assert_eq!(SCST_GET_CDB_LEN(0x28), 10);
        assert_eq!(SCST_GET_CDB_LEN(0x88), 16);
        assert_eq!(SCST_GET_CDB_LEN(0xA8), 12);
        assert_eq!(SCST_GET_CDB_LEN(0xC0), 0);
        // The disk READ/WRITE rows carry LBA and length positions and a fixed length.
        for op in [
            READ_6, WRITE_6, READ_10, WRITE_10, READ_12, WRITE_12, READ_16, WRITE_16,
        ] {
            let o = scst_scsi_op_table
                .iter()
                .find(|o| o.ops == op && o.devkey[0] != SCST_CDB_NOTSUPP)
                .unwrap();
            assert!(o.info_lba_len > 0 && o.info_len_len > 0, "{o:?}");
            assert!(o.info_op_flags & SCST_TRANSFER_LEN_TYPE_FIXED != 0, "{o:?}");
        }
        // 26 rows have a fixed transfer length, 19 of them for disks (counted in the C table).
        let fixed = scst_scsi_op_table
            .iter()
            .filter(|o| o.info_op_flags & SCST_TRANSFER_LEN_TYPE_FIXED != 0);
        assert_eq!(fixed.clone().count(), 26);
        assert_eq!(
            fixed.filter(|o| o.devkey[0] != SCST_CDB_NOTSUPP).count(),
            19
        );
    }
}
