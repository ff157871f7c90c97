// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2002 - 2003 Ardis Technolgies <roman@ardistech.com>
// Copyright (C) 2007 - 2016 Vladislav Bolkhovitin
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! iSCSI PDU headers as the target driver sees them: the port of
//! `iscsi-scst/kernel/iscsi_hdr.h` (RFC 3720 §10).
//!
//! Every Basic Header Segment (BHS) is 48 bytes; [`IscsiHdr`] is the generic view the driver
//! keeps in each PDU (`cmnd->pdu.bhs`), and the opcode-specific views ([`IscsiScsiCmdHdr`],
//! [`IscsiDataOutHdr`], …) are the same 48 bytes seen differently. Where C casts
//! `(struct iscsi_data_out_hdr *)&cmnd->pdu.bhs`, Rust calls
//! [`IscsiDataOutHdr::from_bhs`] / [`from_bhs_mut`](crate::iscsi_hdr::IscsiDataOutHdr::from_bhs_mut), which are
//! zero-copy and cannot fail.
//!
//! Layout rules, all following the C declarations:
//!
//! - Every struct is `#[repr(C, packed)]`, as C declares them `__packed`: alignment 1, no
//!   padding, so a header can be read from (or written into) any byte buffer.
//! - `__be16`/`__be32`/`__be64` fields are [`U16`]/[`U32`]/[`U64`]`<BigEndian>`; `u8` arrays
//!   stay arrays (`datalength[3]`, `scb[16]`, `isid[6]`).
//! - Fields C declares as plain `u16`/`u32` stay native `u16`/`u32`. For the sequence numbers
//!   (`sn`, `exp_sn`, `max_sn`, `cmd_sn`, `exp_stat_sn`, `stat_sn`, `r2t_sn`, …) this is on
//!   purpose in the driver: they arrive big-endian, `cmnd_rx_start()` and friends convert them
//!   in place to CPU order, and the transmit side stores them back as big-endian
//!   (`u32::to_be`) just before sending. Whoever reads such a field must know which form it
//!   holds at that point, exactly as in C. Reserved words declared `u16`/`u32` are the same
//!   type for the same reason: they are only ever zero.
//! - Being packed, fields wider than a byte cannot be borrowed: read them by value
//!   (`let sn = hdr.cmd_sn;`, or `{ hdr.cmd_sn }` inside `format!`-style macros).
//! - C's `union iscsi_sid` becomes [`IscsiSid`] (ISID + TSIH) with [`IscsiSid::id64`] for the
//!   64-bit view; zero-length trailing arrays (`cdb[0]`, `data[0]`) become unsized slice
//!   tails ([`IscsiCdbAhdr`], [`IscsiSenseData`]).
//! - The first word of the BHS, `length`, is declared in C as a big-endian bitfield pair
//!   (`ahslength:8`, `datalength:24`) or, on little-endian CPUs, as a `__be32`; here it is a
//!   `U32<BigEndian>` with the accessors [`IscsiHdr::ahslength`], [`IscsiHdr::datalength`] and
//!   [`IscsiHdr::set_length`]. The per-opcode views spell the same bytes as `ahslength` and
//!   `datalength[3]`; [`ntoh24`]/[`hton24`] read and write the latter.
//!
//! Constants keep their C names and values (`u8` unless the C type is wider). The
//! logout-reason and logout-response codes of RFC 3720 are not in this header in C (the driver
//! only ever answers a logout with response 0), so they are not here either.
//!
//! [`IscsiHdr`]: crate::iscsi_hdr::IscsiHdr
//! [`IscsiScsiCmdHdr`]: crate::iscsi_hdr::IscsiScsiCmdHdr
//! [`IscsiDataOutHdr`]: crate::iscsi_hdr::IscsiDataOutHdr
//! [`IscsiDataOutHdr::from_bhs`]: crate::iscsi_hdr::IscsiDataOutHdr::from_bhs
//! [`IscsiSid`]: crate::iscsi_hdr::IscsiSid
//! [`IscsiSid::id64`]: crate::iscsi_hdr::IscsiSid::id64
//! [`IscsiCdbAhdr`]: crate::iscsi_hdr::IscsiCdbAhdr
//! [`IscsiSenseData`]: crate::iscsi_hdr::IscsiSenseData
//! [`IscsiHdr::ahslength`]: crate::iscsi_hdr::IscsiHdr::ahslength
//! [`IscsiHdr::datalength`]: crate::iscsi_hdr::IscsiHdr::datalength
//! [`IscsiHdr::set_length`]: crate::iscsi_hdr::IscsiHdr::set_length
//! [`ntoh24`]: crate::iscsi_hdr::ntoh24
//! [`hton24`]: crate::iscsi_hdr::hton24
//! [`U16`]: zerocopy::byteorder::U16
//! [`U32`]: zerocopy::byteorder::U32
//! [`U64`]: zerocopy::byteorder::U64

use zerocopy::byteorder::{BigEndian, U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// C `ISCSI_VERSION`: the iSCSI protocol version the driver speaks (draft 20 / RFC 3720 = 0).
pub const ISCSI_VERSION: u8 = 0;

/// C `struct iscsi_hdr`: the generic 48-byte Basic Header Segment (RFC 3720 §10.2.1). The
/// driver keeps one in every PDU and reinterprets it per opcode (see the module doc).
#[doc(alias = "iscsi_hdr")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, packed)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
pub struct IscsiHdr {
    /// C `opcode` (byte 0): the immediate bit, the opcode ([`ISCSI_OPCODE_MASK`]).
    pub opcode: u8,
    /// C `flags` (byte 1).
    pub flags: u8,
    /// C `spec1[2]` (bytes 2–3): opcode-specific.
    pub spec1: [u8; 2],
    /// C `length` (bytes 4–7): TotalAHSLength (top byte) and DataSegmentLength (low 24 bits);
    /// use [`IscsiHdr::ahslength`], [`IscsiHdr::datalength`], [`IscsiHdr::set_length`].
    pub length: U32<BigEndian>,
    /// C `lun` (bytes 8–15).
    pub lun: U64<BigEndian>,
    /// C `itt` (bytes 16–19): Initiator Task Tag.
    pub itt: U32<BigEndian>,
    /// C `ttt` (bytes 20–23): Target Transfer Tag (or opcode-specific).
    pub ttt: U32<BigEndian>,
    /// C `sn` (bytes 24–27): CmdSN or StatSN; big-endian on the wire, CPU order once the
    /// driver has converted it (see the module doc).
    pub sn: u32,
    /// C `exp_sn` (bytes 28–31): ExpStatSN or ExpCmdSN; same convention as `sn`.
    pub exp_sn: u32,
    /// C `max_sn` (bytes 32–35): MaxCmdSN; same convention as `sn`.
    pub max_sn: u32,
    /// C `spec3[3]` (bytes 36–47): opcode-specific.
    pub spec3: [U32<BigEndian>; 3],
}
const _: () = assert!(core::mem::size_of::<IscsiHdr>() == 48);

impl IscsiHdr {
    /// C `length.ahslength` (the big-endian bitfield view of `length`): TotalAHSLength, in
    /// 4-byte words. The driver's `iscsi_cmnd_get_length()` multiplies it by 4.
    pub fn ahslength(&self) -> u8 {
        self.length.get().to_be_bytes()[0]
    }

    /// C `length.datalength` (the big-endian bitfield view of `length`): DataSegmentLength in
    /// bytes, without padding (24 bits).
    pub fn datalength(&self) -> u32 {
        self.length.get() & 0x00ff_ffff
    }

    /// Sets both parts of `length`, as the driver's `iscsi_cmnd_set_length()` does on a
    /// little-endian CPU. `datalength` is cut to its 24 bits; the C instead lets a larger value
    /// spill into the TotalAHSLength byte, which never happens with negotiated segment sizes.
    pub fn set_length(&mut self, ahslength: u8, datalength: u32) {
        let d = datalength.to_be_bytes();
        self.length
            .set(u32::from_be_bytes([ahslength, d[1], d[2], d[3]]));
    }
}

/// C `ntoh24()`-style read of a `datalength[3]` field: the 24-bit big-endian
/// DataSegmentLength. No twin in `iscsi_hdr.h` (the driver reads the length through
/// [`IscsiHdr::datalength`]); named after the kernel's `include/scsi/iscsi_proto.h` helper.
pub fn ntoh24(p: &[u8; 3]) -> u32 {
    u32::from_be_bytes([0, p[0], p[1], p[2]])
}

/// C `hton24()`-style write of a `datalength[3]` field (the low 24 bits of `v`, big-endian).
/// No twin in `iscsi_hdr.h`; named after the kernel's `include/scsi/iscsi_proto.h` helper.
pub fn hton24(p: &mut [u8; 3], v: u32) {
    let b = v.to_be_bytes();
    *p = [b[1], b[2], b[3]];
}

/// C `ISCSI_OP_RETRY`: the retry bit of the opcode byte (draft-era; RFC 3720 reserves it).
pub const ISCSI_OP_RETRY: u8 = 0x80;
/// C `ISCSI_OP_IMMEDIATE`: the immediate-delivery bit of the opcode byte.
pub const ISCSI_OP_IMMEDIATE: u8 = 0x40;
/// C `ISCSI_OPCODE_MASK`: the opcode proper, without the immediate and retry bits.
pub const ISCSI_OPCODE_MASK: u8 = 0x3F;

/// C `ISCSI_OP_NOP_OUT` (initiator → target).
pub const ISCSI_OP_NOP_OUT: u8 = 0x00;
/// C `ISCSI_OP_SCSI_CMD` (initiator → target).
pub const ISCSI_OP_SCSI_CMD: u8 = 0x01;
/// C `ISCSI_OP_SCSI_TASK_MGT_MSG` (initiator → target).
pub const ISCSI_OP_SCSI_TASK_MGT_MSG: u8 = 0x02;
/// C `ISCSI_OP_LOGIN_CMD` (initiator → target).
pub const ISCSI_OP_LOGIN_CMD: u8 = 0x03;
/// C `ISCSI_OP_TEXT_CMD` (initiator → target).
pub const ISCSI_OP_TEXT_CMD: u8 = 0x04;
/// C `ISCSI_OP_SCSI_DATA_OUT` (initiator → target).
pub const ISCSI_OP_SCSI_DATA_OUT: u8 = 0x05;
/// C `ISCSI_OP_LOGOUT_CMD` (initiator → target).
pub const ISCSI_OP_LOGOUT_CMD: u8 = 0x06;
/// C `ISCSI_OP_SNACK_CMD` (initiator → target).
pub const ISCSI_OP_SNACK_CMD: u8 = 0x10;

/// C `ISCSI_OP_NOP_IN` (target → initiator).
pub const ISCSI_OP_NOP_IN: u8 = 0x20;
/// C `ISCSI_OP_SCSI_RSP` (target → initiator).
pub const ISCSI_OP_SCSI_RSP: u8 = 0x21;
/// C `ISCSI_OP_SCSI_TASK_MGT_RSP` (target → initiator).
pub const ISCSI_OP_SCSI_TASK_MGT_RSP: u8 = 0x22;
/// C `ISCSI_OP_LOGIN_RSP` (target → initiator).
pub const ISCSI_OP_LOGIN_RSP: u8 = 0x23;
/// C `ISCSI_OP_TEXT_RSP` (target → initiator).
pub const ISCSI_OP_TEXT_RSP: u8 = 0x24;
/// C `ISCSI_OP_SCSI_DATA_IN` (target → initiator).
pub const ISCSI_OP_SCSI_DATA_IN: u8 = 0x25;
/// C `ISCSI_OP_LOGOUT_RSP` (target → initiator).
pub const ISCSI_OP_LOGOUT_RSP: u8 = 0x26;
/// C `ISCSI_OP_R2T` (target → initiator).
pub const ISCSI_OP_R2T: u8 = 0x31;
/// C `ISCSI_OP_ASYNC_MSG` (target → initiator).
pub const ISCSI_OP_ASYNC_MSG: u8 = 0x32;
/// C `ISCSI_OP_REJECT` (target → initiator).
pub const ISCSI_OP_REJECT: u8 = 0x3f;

/// C `struct iscsi_ahs_hdr`: the first three bytes of every Additional Header Segment
/// (RFC 3720 §10.2.2): AHSLength (bytes after the type byte's successor, big-endian) and type.
#[doc(alias = "iscsi_ahs_hdr")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, packed)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
pub struct IscsiAhsHdr {
    /// C `ahslength`.
    pub ahslength: U16<BigEndian>,
    /// C `ahstype`: [`ISCSI_AHSTYPE_CDB`] or [`ISCSI_AHSTYPE_RLENGTH`].
    pub ahstype: u8,
}
const _: () = assert!(core::mem::size_of::<IscsiAhsHdr>() == 3);

/// C `ISCSI_AHSTYPE_CDB`: extended CDB AHS ([`IscsiCdbAhdr`]).
pub const ISCSI_AHSTYPE_CDB: u8 = 1;
/// C `ISCSI_AHSTYPE_RLENGTH`: bidirectional expected read-data length AHS
/// ([`IscsiRlengthAhdr`]).
pub const ISCSI_AHSTYPE_RLENGTH: u8 = 2;

/// C `union iscsi_sid`: the session identifier of a login PDU, ISID (6 bytes) then TSIH
/// (big-endian). The union's other member, the whole 8 bytes as one `__be64`, is
/// [`IscsiSid::id64`] / [`IscsiSid::set_id64`].
#[doc(alias = "iscsi_sid")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, packed)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
pub struct IscsiSid {
    /// C `id.isid`: Initiator Session ID.
    pub isid: [u8; 6],
    /// C `id.tsih`: Target Session Identifying Handle.
    pub tsih: U16<BigEndian>,
}
const _: () = assert!(core::mem::size_of::<IscsiSid>() == 8);

impl IscsiSid {
    /// C `sid.id64`: the 8 bytes as one big-endian 64-bit value.
    pub fn id64(&self) -> U64<BigEndian> {
        zerocopy::transmute!(*self)
    }

    /// Writes C `sid.id64`: replaces ISID and TSIH with the 8 bytes of `id64`.
    pub fn set_id64(&mut self, id64: U64<BigEndian>) {
        *self = zerocopy::transmute!(id64);
    }
}

/// C `struct iscsi_scsi_cmd_hdr`: SCSI Command (RFC 3720 §10.3).
#[doc(alias = "iscsi_scsi_cmd_hdr")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, packed)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
pub struct IscsiScsiCmdHdr {
    /// C `opcode`.
    pub opcode: u8,
    /// C `flags`: [`ISCSI_CMD_FINAL`], [`ISCSI_CMD_READ`], [`ISCSI_CMD_WRITE`] and the task
    /// attribute ([`ISCSI_CMD_ATTR_MASK`]).
    pub flags: u8,
    /// C `rsvd1`.
    pub rsvd1: U16<BigEndian>,
    /// C `ahslength`: TotalAHSLength in 4-byte words.
    pub ahslength: u8,
    /// C `datalength[3]`: DataSegmentLength (see [`ntoh24`]).
    pub datalength: [u8; 3],
    /// C `lun`.
    pub lun: U64<BigEndian>,
    /// C `itt`: Initiator Task Tag.
    pub itt: U32<BigEndian>,
    /// C `data_length`: Expected Data Transfer Length.
    pub data_length: U32<BigEndian>,
    /// C `cmd_sn`: CmdSN (wire or CPU order, see the module doc).
    pub cmd_sn: u32,
    /// C `exp_stat_sn`: ExpStatSN (wire or CPU order).
    pub exp_stat_sn: u32,
    /// C `scb[16]`: the SCSI Command Descriptor Block.
    pub scb: [u8; 16],
}
const _: () = assert!(core::mem::size_of::<IscsiScsiCmdHdr>() == 48);

/// C `ISCSI_CMD_FINAL`: F bit of a SCSI Command (no unsolicited Data-Out follows).
pub const ISCSI_CMD_FINAL: u8 = 0x80;
/// C `ISCSI_CMD_READ`: R bit (data will be read from the target).
pub const ISCSI_CMD_READ: u8 = 0x40;
/// C `ISCSI_CMD_WRITE`: W bit (data will be written to the target).
pub const ISCSI_CMD_WRITE: u8 = 0x20;
/// C `ISCSI_CMD_ATTR_MASK`: the task-attribute bits of a SCSI Command's flags.
pub const ISCSI_CMD_ATTR_MASK: u8 = 0x07;
/// C `ISCSI_CMD_UNTAGGED`: task attribute Untagged.
pub const ISCSI_CMD_UNTAGGED: u8 = 0x00;
/// C `ISCSI_CMD_SIMPLE`: task attribute Simple.
pub const ISCSI_CMD_SIMPLE: u8 = 0x01;
/// C `ISCSI_CMD_ORDERED`: task attribute Ordered.
pub const ISCSI_CMD_ORDERED: u8 = 0x02;
/// C `ISCSI_CMD_HEAD_OF_QUEUE`: task attribute Head of Queue.
pub const ISCSI_CMD_HEAD_OF_QUEUE: u8 = 0x03;
/// C `ISCSI_CMD_ACA`: task attribute ACA.
pub const ISCSI_CMD_ACA: u8 = 0x04;

/// C `struct iscsi_cdb_ahdr`: extended-CDB AHS (RFC 3720 §10.2.2.3). `ahslength` counts the
/// reserved byte plus the CDB bytes beyond the first 16; `cdb` is everything that follows
/// the 4-byte head (C's zero-length array).
#[doc(alias = "iscsi_cdb_ahdr")]
#[repr(C)]
#[derive(Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
pub struct IscsiCdbAhdr {
    /// C `ahslength`.
    pub ahslength: U16<BigEndian>,
    /// C `ahstype`: [`ISCSI_AHSTYPE_CDB`].
    pub ahstype: u8,
    /// C `reserved`.
    pub reserved: u8,
    /// C `cdb[0]`: the CDB bytes after the 16 in the BHS.
    pub cdb: [u8],
}

/// C `struct iscsi_rlength_ahdr`: bidirectional read-data-length AHS (RFC 3720 §10.2.2.4).
#[doc(alias = "iscsi_rlength_ahdr")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, packed)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
pub struct IscsiRlengthAhdr {
    /// C `ahslength` (5 for this AHS).
    pub ahslength: U16<BigEndian>,
    /// C `ahstype`: [`ISCSI_AHSTYPE_RLENGTH`].
    pub ahstype: u8,
    /// C `reserved`.
    pub reserved: u8,
    /// C `read_length`: Bidirectional Read Expected Data Transfer Length.
    pub read_length: U32<BigEndian>,
}
const _: () = assert!(core::mem::size_of::<IscsiRlengthAhdr>() == 8);

/// C `struct iscsi_scsi_rsp_hdr`: SCSI Response (RFC 3720 §10.4).
#[doc(alias = "iscsi_scsi_rsp_hdr")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, packed)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
pub struct IscsiScsiRspHdr {
    /// C `opcode`.
    pub opcode: u8,
    /// C `flags`: F plus the residual bits ([`ISCSI_FLG_RESIDUAL_UNDERFLOW`] …).
    pub flags: u8,
    /// C `response`: [`ISCSI_RESPONSE_COMMAND_COMPLETED`] or [`ISCSI_RESPONSE_TARGET_FAILURE`].
    pub response: u8,
    /// C `cmd_status`: the SCSI status byte.
    pub cmd_status: u8,
    /// C `ahslength`.
    pub ahslength: u8,
    /// C `datalength[3]`.
    pub datalength: [u8; 3],
    /// C `rsvd1[2]`.
    pub rsvd1: [u32; 2],
    /// C `itt`.
    pub itt: U32<BigEndian>,
    /// C `snack`: SNACK Tag.
    pub snack: U32<BigEndian>,
    /// C `stat_sn`: StatSN (wire or CPU order, see the module doc).
    pub stat_sn: u32,
    /// C `exp_cmd_sn`: ExpCmdSN.
    pub exp_cmd_sn: u32,
    /// C `max_cmd_sn`: MaxCmdSN.
    pub max_cmd_sn: u32,
    /// C `exp_data_sn`: ExpDataSN.
    pub exp_data_sn: u32,
    /// C `bi_residual_count`: Bidirectional Read Residual Count.
    pub bi_residual_count: U32<BigEndian>,
    /// C `residual_count`.
    pub residual_count: U32<BigEndian>,
}
const _: () = assert!(core::mem::size_of::<IscsiScsiRspHdr>() == 48);

/// C `ISCSI_FLG_RESIDUAL_UNDERFLOW`: U bit of a SCSI Response or Data-In.
pub const ISCSI_FLG_RESIDUAL_UNDERFLOW: u8 = 0x02;
/// C `ISCSI_FLG_RESIDUAL_OVERFLOW`: O bit.
pub const ISCSI_FLG_RESIDUAL_OVERFLOW: u8 = 0x04;
/// C `ISCSI_FLG_BIRESIDUAL_UNDERFLOW`: u bit (bidirectional read residual underflow).
pub const ISCSI_FLG_BIRESIDUAL_UNDERFLOW: u8 = 0x08;
/// C `ISCSI_FLG_BIRESIDUAL_OVERFLOW`: o bit (bidirectional read residual overflow).
pub const ISCSI_FLG_BIRESIDUAL_OVERFLOW: u8 = 0x10;

/// C `ISCSI_RESPONSE_COMMAND_COMPLETED`: SCSI Response code "command completed at target".
pub const ISCSI_RESPONSE_COMMAND_COMPLETED: u8 = 0x00;
/// C `ISCSI_RESPONSE_TARGET_FAILURE`: SCSI Response code "target failure".
pub const ISCSI_RESPONSE_TARGET_FAILURE: u8 = 0x01;

/// C `struct iscsi_sense_data`: the data segment of a SCSI Response carrying sense, a
/// big-endian SenseLength followed by the sense bytes (C's zero-length array).
#[doc(alias = "iscsi_sense_data")]
#[repr(C)]
#[derive(Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
pub struct IscsiSenseData {
    /// C `length`: SenseLength.
    pub length: U16<BigEndian>,
    /// C `data[0]`: the sense bytes (and whatever follows in the segment).
    pub data: [u8],
}

/// C `struct iscsi_task_mgt_hdr`: Task Management Function Request (RFC 3720 §10.5).
#[doc(alias = "iscsi_task_mgt_hdr")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, packed)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
pub struct IscsiTaskMgtHdr {
    /// C `opcode`.
    pub opcode: u8,
    /// C `function`: the F bit plus the function code ([`ISCSI_FUNCTION_MASK`]).
    pub function: u8,
    /// C `rsvd1`.
    pub rsvd1: U16<BigEndian>,
    /// C `ahslength`.
    pub ahslength: u8,
    /// C `datalength[3]`.
    pub datalength: [u8; 3],
    /// C `lun`.
    pub lun: U64<BigEndian>,
    /// C `itt`.
    pub itt: U32<BigEndian>,
    /// C `rtt`: Referenced Task Tag.
    pub rtt: U32<BigEndian>,
    /// C `cmd_sn` (wire or CPU order, see the module doc).
    pub cmd_sn: u32,
    /// C `exp_stat_sn`.
    pub exp_stat_sn: u32,
    /// C `ref_cmd_sn`: RefCmdSN.
    pub ref_cmd_sn: u32,
    /// C `exp_data_sn`: ExpDataSN.
    pub exp_data_sn: u32,
    /// C `rsvd2[2]`.
    pub rsvd2: [u32; 2],
}
const _: () = assert!(core::mem::size_of::<IscsiTaskMgtHdr>() == 48);

/// C `ISCSI_FUNCTION_MASK`: the function code in a Task Management Request's `function` byte.
pub const ISCSI_FUNCTION_MASK: u8 = 0x7f;

/// C `ISCSI_FUNCTION_ABORT_TASK`.
pub const ISCSI_FUNCTION_ABORT_TASK: u8 = 1;
/// C `ISCSI_FUNCTION_ABORT_TASK_SET`.
pub const ISCSI_FUNCTION_ABORT_TASK_SET: u8 = 2;
/// C `ISCSI_FUNCTION_CLEAR_ACA`.
pub const ISCSI_FUNCTION_CLEAR_ACA: u8 = 3;
/// C `ISCSI_FUNCTION_CLEAR_TASK_SET`.
pub const ISCSI_FUNCTION_CLEAR_TASK_SET: u8 = 4;
/// C `ISCSI_FUNCTION_LOGICAL_UNIT_RESET`.
pub const ISCSI_FUNCTION_LOGICAL_UNIT_RESET: u8 = 5;
/// C `ISCSI_FUNCTION_TARGET_WARM_RESET`.
pub const ISCSI_FUNCTION_TARGET_WARM_RESET: u8 = 6;
/// C `ISCSI_FUNCTION_TARGET_COLD_RESET`.
pub const ISCSI_FUNCTION_TARGET_COLD_RESET: u8 = 7;
/// C `ISCSI_FUNCTION_TASK_REASSIGN`.
pub const ISCSI_FUNCTION_TASK_REASSIGN: u8 = 8;

/// C `struct iscsi_task_rsp_hdr`: Task Management Function Response (RFC 3720 §10.6).
#[doc(alias = "iscsi_task_rsp_hdr")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, packed)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
pub struct IscsiTaskRspHdr {
    /// C `opcode`.
    pub opcode: u8,
    /// C `flags`.
    pub flags: u8,
    /// C `response`: an `ISCSI_RESPONSE_FUNCTION_*`-style code ([`ISCSI_RESPONSE_FUNCTION_COMPLETE`] …).
    pub response: u8,
    /// C `rsvd1`.
    pub rsvd1: u8,
    /// C `ahslength`.
    pub ahslength: u8,
    /// C `datalength[3]`.
    pub datalength: [u8; 3],
    /// C `rsvd2[2]`.
    pub rsvd2: [u32; 2],
    /// C `itt`.
    pub itt: U32<BigEndian>,
    /// C `rsvd3`.
    pub rsvd3: u32,
    /// C `stat_sn` (wire or CPU order, see the module doc).
    pub stat_sn: u32,
    /// C `exp_cmd_sn`.
    pub exp_cmd_sn: u32,
    /// C `max_cmd_sn`.
    pub max_cmd_sn: u32,
    /// C `rsvd4[3]`.
    pub rsvd4: [u32; 3],
}
const _: () = assert!(core::mem::size_of::<IscsiTaskRspHdr>() == 48);

/// C `ISCSI_RESPONSE_FUNCTION_COMPLETE`: TM response "function complete".
pub const ISCSI_RESPONSE_FUNCTION_COMPLETE: u8 = 0;
/// C `ISCSI_RESPONSE_UNKNOWN_TASK`: TM response "task does not exist".
pub const ISCSI_RESPONSE_UNKNOWN_TASK: u8 = 1;
/// C `ISCSI_RESPONSE_UNKNOWN_LUN`: TM response "LUN does not exist".
pub const ISCSI_RESPONSE_UNKNOWN_LUN: u8 = 2;
/// C `ISCSI_RESPONSE_TASK_ALLEGIANT`: TM response "task still allegiant".
pub const ISCSI_RESPONSE_TASK_ALLEGIANT: u8 = 3;
/// C `ISCSI_RESPONSE_ALLEGIANCE_REASSIGNMENT_UNSUPPORTED`: TM response "task allegiance
/// reassignment not supported".
pub const ISCSI_RESPONSE_ALLEGIANCE_REASSIGNMENT_UNSUPPORTED: u8 = 4;
/// C `ISCSI_RESPONSE_FUNCTION_UNSUPPORTED`: TM response "function not supported".
pub const ISCSI_RESPONSE_FUNCTION_UNSUPPORTED: u8 = 5;
/// C `ISCSI_RESPONSE_NO_AUTHORIZATION`: TM response "function authorization failed".
pub const ISCSI_RESPONSE_NO_AUTHORIZATION: u8 = 6;
/// C `ISCSI_RESPONSE_FUNCTION_REJECTED`: TM response "function rejected".
pub const ISCSI_RESPONSE_FUNCTION_REJECTED: u8 = 255;

/// C `struct iscsi_data_out_hdr`: SCSI Data-Out (RFC 3720 §10.7).
#[doc(alias = "iscsi_data_out_hdr")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, packed)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
pub struct IscsiDataOutHdr {
    /// C `opcode`.
    pub opcode: u8,
    /// C `flags`: [`ISCSI_FLG_FINAL`] on the last PDU of a sequence.
    pub flags: u8,
    /// C `rsvd1`.
    pub rsvd1: u16,
    /// C `ahslength`.
    pub ahslength: u8,
    /// C `datalength[3]`.
    pub datalength: [u8; 3],
    /// C `lun`.
    pub lun: U64<BigEndian>,
    /// C `itt`.
    pub itt: U32<BigEndian>,
    /// C `ttt`: Target Transfer Tag (of the R2T, or [`ISCSI_RESERVED_TAG`] when unsolicited).
    pub ttt: U32<BigEndian>,
    /// C `rsvd2`.
    pub rsvd2: u32,
    /// C `exp_stat_sn` (wire or CPU order, see the module doc).
    pub exp_stat_sn: u32,
    /// C `rsvd3`.
    pub rsvd3: u32,
    /// C `data_sn`: DataSN.
    pub data_sn: U32<BigEndian>,
    /// C `buffer_offset`.
    pub buffer_offset: U32<BigEndian>,
    /// C `rsvd4`.
    pub rsvd4: u32,
}
const _: () = assert!(core::mem::size_of::<IscsiDataOutHdr>() == 48);

/// C `struct iscsi_data_in_hdr`: SCSI Data-In (RFC 3720 §10.7).
#[doc(alias = "iscsi_data_in_hdr")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, packed)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
pub struct IscsiDataInHdr {
    /// C `opcode`.
    pub opcode: u8,
    /// C `flags`: F, [`ISCSI_FLG_STATUS`] and the residual bits.
    pub flags: u8,
    /// C `rsvd1`.
    pub rsvd1: u8,
    /// C `cmd_status`: the SCSI status, valid with [`ISCSI_FLG_STATUS`].
    pub cmd_status: u8,
    /// C `ahslength`.
    pub ahslength: u8,
    /// C `datalength[3]`.
    pub datalength: [u8; 3],
    /// C `rsvd2[2]` (the LUN field, unused by the driver).
    pub rsvd2: [u32; 2],
    /// C `itt`.
    pub itt: U32<BigEndian>,
    /// C `ttt`.
    pub ttt: U32<BigEndian>,
    /// C `stat_sn` (wire or CPU order, see the module doc).
    pub stat_sn: u32,
    /// C `exp_cmd_sn`.
    pub exp_cmd_sn: u32,
    /// C `max_cmd_sn`.
    pub max_cmd_sn: u32,
    /// C `data_sn`: DataSN.
    pub data_sn: U32<BigEndian>,
    /// C `buffer_offset`.
    pub buffer_offset: U32<BigEndian>,
    /// C `residual_count`.
    pub residual_count: U32<BigEndian>,
}
const _: () = assert!(core::mem::size_of::<IscsiDataInHdr>() == 48);

/// C `ISCSI_FLG_STATUS`: S bit of a Data-In (the status is in this PDU).
pub const ISCSI_FLG_STATUS: u8 = 0x01;

/// C `struct iscsi_r2t_hdr`: Ready To Transfer (RFC 3720 §10.8).
#[doc(alias = "iscsi_r2t_hdr")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, packed)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
pub struct IscsiR2tHdr {
    /// C `opcode`.
    pub opcode: u8,
    /// C `flags`.
    pub flags: u8,
    /// C `rsvd1`.
    pub rsvd1: u16,
    /// C `ahslength`.
    pub ahslength: u8,
    /// C `datalength[3]`.
    pub datalength: [u8; 3],
    /// C `lun`.
    pub lun: U64<BigEndian>,
    /// C `itt`.
    pub itt: U32<BigEndian>,
    /// C `ttt`.
    pub ttt: U32<BigEndian>,
    /// C `stat_sn` (wire or CPU order, see the module doc).
    pub stat_sn: u32,
    /// C `exp_cmd_sn`.
    pub exp_cmd_sn: u32,
    /// C `max_cmd_sn`.
    pub max_cmd_sn: u32,
    /// C `r2t_sn`: R2TSN (stored big-endian by `send_r2t()`).
    pub r2t_sn: u32,
    /// C `buffer_offset`.
    pub buffer_offset: U32<BigEndian>,
    /// C `data_length`: Desired Data Transfer Length.
    pub data_length: U32<BigEndian>,
}
const _: () = assert!(core::mem::size_of::<IscsiR2tHdr>() == 48);

/// C `struct iscsi_async_msg_hdr`: Asynchronous Message (RFC 3720 §10.9).
#[doc(alias = "iscsi_async_msg_hdr")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, packed)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
pub struct IscsiAsyncMsgHdr {
    /// C `opcode`.
    pub opcode: u8,
    /// C `flags`.
    pub flags: u8,
    /// C `rsvd1`.
    pub rsvd1: u16,
    /// C `ahslength`.
    pub ahslength: u8,
    /// C `datalength[3]`.
    pub datalength: [u8; 3],
    /// C `lun`.
    pub lun: U64<BigEndian>,
    /// C `ffffffff`: the ITT slot, always [`ISCSI_RESERVED_TAG`].
    pub ffffffff: U32<BigEndian>,
    /// C `rsvd2`.
    pub rsvd2: u32,
    /// C `stat_sn` (wire or CPU order, see the module doc).
    pub stat_sn: u32,
    /// C `exp_cmd_sn`.
    pub exp_cmd_sn: u32,
    /// C `max_cmd_sn`.
    pub max_cmd_sn: u32,
    /// C `async_event`: an `ISCSI_ASYNC_*` code.
    pub async_event: u8,
    /// C `async_vcode`: AsyncVCode.
    pub async_vcode: u8,
    /// C `param1`.
    pub param1: U16<BigEndian>,
    /// C `param2`.
    pub param2: U16<BigEndian>,
    /// C `param3`.
    pub param3: U16<BigEndian>,
    /// C `rsvd3`.
    pub rsvd3: u32,
}
const _: () = assert!(core::mem::size_of::<IscsiAsyncMsgHdr>() == 48);

/// C `ISCSI_ASYNC_SCSI`: async event "SCSI asynchronous event" (sense in the data segment).
pub const ISCSI_ASYNC_SCSI: u8 = 0;
/// C `ISCSI_ASYNC_LOGOUT`: async event "target requests logout".
pub const ISCSI_ASYNC_LOGOUT: u8 = 1;
/// C `ISCSI_ASYNC_DROP_CONNECTION`: async event "target will drop the connection".
pub const ISCSI_ASYNC_DROP_CONNECTION: u8 = 2;
/// C `ISCSI_ASYNC_DROP_SESSION`: async event "target will drop all connections".
pub const ISCSI_ASYNC_DROP_SESSION: u8 = 3;
/// C `ISCSI_ASYNC_PARAM_REQUEST`: async event "target requests parameter negotiation".
pub const ISCSI_ASYNC_PARAM_REQUEST: u8 = 4;
/// C `ISCSI_ASYNC_VENDOR`: vendor-specific async event.
pub const ISCSI_ASYNC_VENDOR: u8 = 255;

/// C `struct iscsi_text_req_hdr`: Text Request (RFC 3720 §10.10).
#[doc(alias = "iscsi_text_req_hdr")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, packed)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
pub struct IscsiTextReqHdr {
    /// C `opcode`.
    pub opcode: u8,
    /// C `flags`.
    pub flags: u8,
    /// C `rsvd1`.
    pub rsvd1: u16,
    /// C `ahslength`.
    pub ahslength: u8,
    /// C `datalength[3]`.
    pub datalength: [u8; 3],
    /// C `rsvd2[2]`.
    pub rsvd2: [u32; 2],
    /// C `itt`.
    pub itt: U32<BigEndian>,
    /// C `ttt`.
    pub ttt: U32<BigEndian>,
    /// C `cmd_sn` (wire or CPU order, see the module doc).
    pub cmd_sn: u32,
    /// C `exp_stat_sn`.
    pub exp_stat_sn: u32,
    /// C `rsvd3[4]`.
    pub rsvd3: [u32; 4],
}
const _: () = assert!(core::mem::size_of::<IscsiTextReqHdr>() == 48);

/// C `struct iscsi_text_rsp_hdr`: Text Response (RFC 3720 §10.11).
#[doc(alias = "iscsi_text_rsp_hdr")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, packed)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
pub struct IscsiTextRspHdr {
    /// C `opcode`.
    pub opcode: u8,
    /// C `flags`.
    pub flags: u8,
    /// C `rsvd1`.
    pub rsvd1: u16,
    /// C `ahslength`.
    pub ahslength: u8,
    /// C `datalength[3]`.
    pub datalength: [u8; 3],
    /// C `rsvd2[2]`.
    pub rsvd2: [u32; 2],
    /// C `itt`.
    pub itt: U32<BigEndian>,
    /// C `ttt`.
    pub ttt: U32<BigEndian>,
    /// C `stat_sn` (wire or CPU order, see the module doc).
    pub stat_sn: u32,
    /// C `exp_cmd_sn`.
    pub exp_cmd_sn: u32,
    /// C `max_cmd_sn`.
    pub max_cmd_sn: u32,
    /// C `rsvd3[3]`.
    pub rsvd3: [u32; 3],
}
const _: () = assert!(core::mem::size_of::<IscsiTextRspHdr>() == 48);

/// C `struct iscsi_login_req_hdr`: Login Request (RFC 3720 §10.12). Logins are handled by
/// the daemon; the driver has the layout for completeness.
#[doc(alias = "iscsi_login_req_hdr")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, packed)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
pub struct IscsiLoginReqHdr {
    /// C `opcode`.
    pub opcode: u8,
    /// C `flags`: T, C, CSG and NSG ([`ISCSI_FLG_TRANSIT`], [`ISCSI_FLG_CSG_MASK`] …).
    pub flags: u8,
    /// C `max_version`: Version-max.
    pub max_version: u8,
    /// C `min_version`: Version-min.
    pub min_version: u8,
    /// C `ahslength`.
    pub ahslength: u8,
    /// C `datalength[3]`.
    pub datalength: [u8; 3],
    /// C `sid`: ISID and TSIH.
    pub sid: IscsiSid,
    /// C `itt`.
    pub itt: U32<BigEndian>,
    /// C `cid`: Connection ID.
    pub cid: U16<BigEndian>,
    /// C `rsvd1`.
    pub rsvd1: u16,
    /// C `cmd_sn` (wire or CPU order, see the module doc).
    pub cmd_sn: u32,
    /// C `exp_stat_sn`.
    pub exp_stat_sn: u32,
    /// C `rsvd2[4]`.
    pub rsvd2: [u32; 4],
}
const _: () = assert!(core::mem::size_of::<IscsiLoginReqHdr>() == 48);

/// C `struct iscsi_login_rsp_hdr`: Login Response (RFC 3720 §10.13).
#[doc(alias = "iscsi_login_rsp_hdr")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, packed)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
pub struct IscsiLoginRspHdr {
    /// C `opcode`.
    pub opcode: u8,
    /// C `flags`.
    pub flags: u8,
    /// C `max_version`: Version-max.
    pub max_version: u8,
    /// C `active_version`: Version-active.
    pub active_version: u8,
    /// C `ahslength`.
    pub ahslength: u8,
    /// C `datalength[3]`.
    pub datalength: [u8; 3],
    /// C `sid`: ISID and TSIH.
    pub sid: IscsiSid,
    /// C `itt`.
    pub itt: U32<BigEndian>,
    /// C `rsvd1`.
    pub rsvd1: u32,
    /// C `stat_sn` (wire or CPU order, see the module doc).
    pub stat_sn: u32,
    /// C `exp_cmd_sn`.
    pub exp_cmd_sn: u32,
    /// C `max_cmd_sn`.
    pub max_cmd_sn: u32,
    /// C `status_class`: an `ISCSI_STATUS_*` class.
    pub status_class: u8,
    /// C `status_detail`: an `ISCSI_STATUS_*` detail of that class.
    pub status_detail: u8,
    /// C `rsvd2[10]`.
    pub rsvd2: [u8; 10],
}
const _: () = assert!(core::mem::size_of::<IscsiLoginRspHdr>() == 48);

/// C `ISCSI_FLG_FINAL`: F bit (final PDU of a sequence / of a command's data).
pub const ISCSI_FLG_FINAL: u8 = 0x80;
/// C `ISCSI_FLG_TRANSIT`: T bit of a Login PDU (same bit as F).
pub const ISCSI_FLG_TRANSIT: u8 = 0x80;
/// C `ISCSI_FLG_CSG_SECURITY`: current stage "security negotiation".
pub const ISCSI_FLG_CSG_SECURITY: u8 = 0x00;
/// C `ISCSI_FLG_CSG_LOGIN`: current stage "login operational negotiation".
pub const ISCSI_FLG_CSG_LOGIN: u8 = 0x04;
/// C `ISCSI_FLG_CSG_FULL_FEATURE`: current stage "full feature phase".
pub const ISCSI_FLG_CSG_FULL_FEATURE: u8 = 0x0c;
/// C `ISCSI_FLG_CSG_MASK`: the CSG bits.
pub const ISCSI_FLG_CSG_MASK: u8 = 0x0c;
/// C `ISCSI_FLG_NSG_SECURITY`: next stage "security negotiation".
pub const ISCSI_FLG_NSG_SECURITY: u8 = 0x00;
/// C `ISCSI_FLG_NSG_LOGIN`: next stage "login operational negotiation".
pub const ISCSI_FLG_NSG_LOGIN: u8 = 0x01;
/// C `ISCSI_FLG_NSG_FULL_FEATURE`: next stage "full feature phase".
pub const ISCSI_FLG_NSG_FULL_FEATURE: u8 = 0x03;
/// C `ISCSI_FLG_NSG_MASK`: the NSG bits.
pub const ISCSI_FLG_NSG_MASK: u8 = 0x03;

/// C `ISCSI_STATUS_SUCCESS`: login status class 0.
pub const ISCSI_STATUS_SUCCESS: u8 = 0x00;
/// C `ISCSI_STATUS_REDIRECT`: login status class 1.
pub const ISCSI_STATUS_REDIRECT: u8 = 0x01;
/// C `ISCSI_STATUS_INITIATOR_ERR`: login status class 2.
pub const ISCSI_STATUS_INITIATOR_ERR: u8 = 0x02;
/// C `ISCSI_STATUS_TARGET_ERR`: login status class 3.
pub const ISCSI_STATUS_TARGET_ERR: u8 = 0x03;

/// C `ISCSI_STATUS_ACCEPT`: class 0 detail "login is proceeding OK".
pub const ISCSI_STATUS_ACCEPT: u8 = 0x00;

/// C `ISCSI_STATUS_TGT_MOVED_TEMP`: class 1 detail "target moved temporarily".
pub const ISCSI_STATUS_TGT_MOVED_TEMP: u8 = 0x01;
/// C `ISCSI_STATUS_TGT_MOVED_PERM`: class 1 detail "target moved permanently".
pub const ISCSI_STATUS_TGT_MOVED_PERM: u8 = 0x02;

/// C `ISCSI_STATUS_INIT_ERR`: class 2 detail "initiator error".
pub const ISCSI_STATUS_INIT_ERR: u8 = 0x00;
/// C `ISCSI_STATUS_AUTH_FAILED`: class 2 detail "authentication failure".
pub const ISCSI_STATUS_AUTH_FAILED: u8 = 0x01;
/// C `ISCSI_STATUS_TGT_FORBIDDEN`: class 2 detail "authorization failure".
pub const ISCSI_STATUS_TGT_FORBIDDEN: u8 = 0x02;
/// C `ISCSI_STATUS_TGT_NOT_FOUND`: class 2 detail "not found".
pub const ISCSI_STATUS_TGT_NOT_FOUND: u8 = 0x03;
/// C `ISCSI_STATUS_TGT_REMOVED`: class 2 detail "target removed".
pub const ISCSI_STATUS_TGT_REMOVED: u8 = 0x04;
/// C `ISCSI_STATUS_NO_VERSION`: class 2 detail "unsupported version".
pub const ISCSI_STATUS_NO_VERSION: u8 = 0x05;
/// C `ISCSI_STATUS_TOO_MANY_CONN`: class 2 detail "too many connections".
pub const ISCSI_STATUS_TOO_MANY_CONN: u8 = 0x06;
/// C `ISCSI_STATUS_MISSING_FIELDS`: class 2 detail "missing parameter".
pub const ISCSI_STATUS_MISSING_FIELDS: u8 = 0x07;
/// C `ISCSI_STATUS_CONN_ADD_FAILED`: class 2 detail "can't include in session".
pub const ISCSI_STATUS_CONN_ADD_FAILED: u8 = 0x08;
/// C `ISCSI_STATUS_INV_SESSION_TYPE`: class 2 detail "session type not supported".
pub const ISCSI_STATUS_INV_SESSION_TYPE: u8 = 0x09;
/// C `ISCSI_STATUS_SESSION_NOT_FOUND`: class 2 detail "session does not exist".
pub const ISCSI_STATUS_SESSION_NOT_FOUND: u8 = 0x0a;
/// C `ISCSI_STATUS_INV_REQ_TYPE`: class 2 detail "invalid request during login".
pub const ISCSI_STATUS_INV_REQ_TYPE: u8 = 0x0b;

/// C `ISCSI_STATUS_TARGET_ERROR`: class 3 detail "target error".
pub const ISCSI_STATUS_TARGET_ERROR: u8 = 0x00;
/// C `ISCSI_STATUS_SVC_UNAVAILABLE`: class 3 detail "service unavailable".
pub const ISCSI_STATUS_SVC_UNAVAILABLE: u8 = 0x01;
/// C `ISCSI_STATUS_NO_RESOURCES`: class 3 detail "out of resources".
pub const ISCSI_STATUS_NO_RESOURCES: u8 = 0x02;

/// C `struct iscsi_logout_req_hdr`: Logout Request (RFC 3720 §10.14).
#[doc(alias = "iscsi_logout_req_hdr")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, packed)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
pub struct IscsiLogoutReqHdr {
    /// C `opcode`.
    pub opcode: u8,
    /// C `flags`: F plus the reason code (low 7 bits).
    pub flags: u8,
    /// C `rsvd1`.
    pub rsvd1: u16,
    /// C `ahslength`.
    pub ahslength: u8,
    /// C `datalength[3]`.
    pub datalength: [u8; 3],
    /// C `rsvd2[2]`.
    pub rsvd2: [u32; 2],
    /// C `itt`.
    pub itt: U32<BigEndian>,
    /// C `cid`: the connection to close.
    pub cid: U16<BigEndian>,
    /// C `rsvd3`.
    pub rsvd3: u16,
    /// C `cmd_sn` (wire or CPU order, see the module doc).
    pub cmd_sn: u32,
    /// C `exp_stat_sn`.
    pub exp_stat_sn: u32,
    /// C `rsvd4[4]`.
    pub rsvd4: [u32; 4],
}
const _: () = assert!(core::mem::size_of::<IscsiLogoutReqHdr>() == 48);

/// C `struct iscsi_logout_rsp_hdr`: Logout Response (RFC 3720 §10.15).
#[doc(alias = "iscsi_logout_rsp_hdr")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, packed)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
pub struct IscsiLogoutRspHdr {
    /// C `opcode`.
    pub opcode: u8,
    /// C `flags`.
    pub flags: u8,
    /// C `response`: 0 "closed successfully" is the only value the driver sends.
    pub response: u8,
    /// C `rsvd1`.
    pub rsvd1: u8,
    /// C `ahslength`.
    pub ahslength: u8,
    /// C `datalength[3]`.
    pub datalength: [u8; 3],
    /// C `rsvd2[2]`.
    pub rsvd2: [u32; 2],
    /// C `itt`.
    pub itt: U32<BigEndian>,
    /// C `rsvd3`.
    pub rsvd3: u32,
    /// C `stat_sn` (wire or CPU order, see the module doc).
    pub stat_sn: u32,
    /// C `exp_cmd_sn`.
    pub exp_cmd_sn: u32,
    /// C `max_cmd_sn`.
    pub max_cmd_sn: u32,
    /// C `rsvd4`.
    pub rsvd4: u32,
    /// C `time2wait`: Time2Wait.
    pub time2wait: U16<BigEndian>,
    /// C `time2retain`: Time2Retain.
    pub time2retain: U16<BigEndian>,
    /// C `rsvd5`.
    pub rsvd5: u32,
}
const _: () = assert!(core::mem::size_of::<IscsiLogoutRspHdr>() == 48);

/// C `struct iscsi_snack_req_hdr`: SNACK Request (RFC 3720 §10.16). The driver rejects
/// SNACKs (ErrorRecoveryLevel 0); the layout is here for completeness.
#[doc(alias = "iscsi_snack_req_hdr")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, packed)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
pub struct IscsiSnackReqHdr {
    /// C `opcode`.
    pub opcode: u8,
    /// C `flags`.
    pub flags: u8,
    /// C `rsvd1`.
    pub rsvd1: u16,
    /// C `ahslength`.
    pub ahslength: u8,
    /// C `datalength[3]`.
    pub datalength: [u8; 3],
    /// C `rsvd2[2]` (the LUN field, unused by the driver).
    pub rsvd2: [u32; 2],
    /// C `itt`.
    pub itt: U32<BigEndian>,
    /// C `ttt`.
    pub ttt: U32<BigEndian>,
    /// C `rsvd3`.
    pub rsvd3: u32,
    /// C `exp_stat_sn` (wire or CPU order, see the module doc).
    pub exp_stat_sn: u32,
    /// C `rsvd4[2]`.
    pub rsvd4: [u32; 2],
    /// C `beg_run`: BegRun.
    pub beg_run: U32<BigEndian>,
    /// C `run_length`: RunLength.
    pub run_length: U32<BigEndian>,
}
const _: () = assert!(core::mem::size_of::<IscsiSnackReqHdr>() == 48);

/// C `struct iscsi_reject_hdr`: Reject (RFC 3720 §10.17); the rejected PDU's header follows
/// as the data segment.
#[doc(alias = "iscsi_reject_hdr")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, packed)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
pub struct IscsiRejectHdr {
    /// C `opcode`.
    pub opcode: u8,
    /// C `flags`.
    pub flags: u8,
    /// C `reason`: an `ISCSI_REASON_*` code.
    pub reason: u8,
    /// C `rsvd1`.
    pub rsvd1: u8,
    /// C `ahslength`.
    pub ahslength: u8,
    /// C `datalength[3]`.
    pub datalength: [u8; 3],
    /// C `rsvd2[2]`.
    pub rsvd2: [u32; 2],
    /// C `ffffffff`: the ITT slot, always [`ISCSI_RESERVED_TAG`].
    pub ffffffff: U32<BigEndian>,
    /// C `rsvd3`.
    pub rsvd3: U32<BigEndian>,
    /// C `stat_sn` (wire or CPU order, see the module doc).
    pub stat_sn: u32,
    /// C `exp_cmd_sn`.
    pub exp_cmd_sn: u32,
    /// C `max_cmd_sn`.
    pub max_cmd_sn: u32,
    /// C `data_sn`: DataSN/R2TSN (when rejecting a SNACK).
    pub data_sn: U32<BigEndian>,
    /// C `rsvd4[2]`.
    pub rsvd4: [u32; 2],
}
const _: () = assert!(core::mem::size_of::<IscsiRejectHdr>() == 48);

/// C `ISCSI_REASON_RESERVED`: reject reason 0x01 (RFC 3720 reserves it; the daemon's copy of
/// this header calls it `ISCSI_REASON_NO_FULL_FEATURE_PHASE`).
pub const ISCSI_REASON_RESERVED: u8 = 0x01;
/// C `ISCSI_REASON_DATA_DIGEST_ERROR`: reject reason "data (payload) digest error".
pub const ISCSI_REASON_DATA_DIGEST_ERROR: u8 = 0x02;
/// C `ISCSI_REASON_DATA_SNACK_REJECT`: reject reason "SNACK reject".
pub const ISCSI_REASON_DATA_SNACK_REJECT: u8 = 0x03;
/// C `ISCSI_REASON_PROTOCOL_ERROR`: reject reason "protocol error".
pub const ISCSI_REASON_PROTOCOL_ERROR: u8 = 0x04;
/// C `ISCSI_REASON_UNSUPPORTED_COMMAND`: reject reason "command not supported".
pub const ISCSI_REASON_UNSUPPORTED_COMMAND: u8 = 0x05;
/// C `ISCSI_REASON_IMMEDIATE_COMMAND_REJECT`: reject reason "immediate command rejected, too
/// many immediate commands".
pub const ISCSI_REASON_IMMEDIATE_COMMAND_REJECT: u8 = 0x06;
/// C `ISCSI_REASON_TASK_IN_PROGRESS`: reject reason "task in progress".
pub const ISCSI_REASON_TASK_IN_PROGRESS: u8 = 0x07;
/// C `ISCSI_REASON_INVALID_DATA_ACK`: reject reason "invalid data ACK".
pub const ISCSI_REASON_INVALID_DATA_ACK: u8 = 0x08;
/// C `ISCSI_REASON_INVALID_PDU_FIELD`: reject reason "invalid PDU field".
pub const ISCSI_REASON_INVALID_PDU_FIELD: u8 = 0x09;
/// C `ISCSI_REASON_OUT_OF_RESOURCES`: reject reason "long operation reject, out of
/// resources".
pub const ISCSI_REASON_OUT_OF_RESOURCES: u8 = 0x0a;
/// C `ISCSI_REASON_NEGOTIATION_RESET`: reject reason "negotiation reset".
pub const ISCSI_REASON_NEGOTIATION_RESET: u8 = 0x0b;
/// C `ISCSI_REASON_WAITING_LOGOUT`: reject reason "waiting for logout".
pub const ISCSI_REASON_WAITING_LOGOUT: u8 = 0x0c;

/// C `struct iscsi_nop_out_hdr`: NOP-Out (RFC 3720 §10.18).
#[doc(alias = "iscsi_nop_out_hdr")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, packed)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
pub struct IscsiNopOutHdr {
    /// C `opcode`.
    pub opcode: u8,
    /// C `flags`.
    pub flags: u8,
    /// C `rsvd1`.
    pub rsvd1: u16,
    /// C `ahslength`.
    pub ahslength: u8,
    /// C `datalength[3]`: the ping data length.
    pub datalength: [u8; 3],
    /// C `lun`.
    pub lun: U64<BigEndian>,
    /// C `itt`: [`ISCSI_RESERVED_TAG`] when this answers a NOP-In.
    pub itt: U32<BigEndian>,
    /// C `ttt`: the NOP-In's TTT, or [`ISCSI_RESERVED_TAG`] for an initiator ping.
    pub ttt: U32<BigEndian>,
    /// C `cmd_sn` (wire or CPU order, see the module doc).
    pub cmd_sn: u32,
    /// C `exp_stat_sn`.
    pub exp_stat_sn: u32,
    /// C `rsvd2[4]`.
    pub rsvd2: [u32; 4],
}
const _: () = assert!(core::mem::size_of::<IscsiNopOutHdr>() == 48);

/// C `struct iscsi_nop_in_hdr`: NOP-In (RFC 3720 §10.19).
#[doc(alias = "iscsi_nop_in_hdr")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, packed)]
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
pub struct IscsiNopInHdr {
    /// C `opcode`.
    pub opcode: u8,
    /// C `flags`.
    pub flags: u8,
    /// C `rsvd1`.
    pub rsvd1: u16,
    /// C `ahslength`.
    pub ahslength: u8,
    /// C `datalength[3]`.
    pub datalength: [u8; 3],
    /// C `lun`.
    pub lun: U64<BigEndian>,
    /// C `itt`.
    pub itt: U32<BigEndian>,
    /// C `ttt`.
    pub ttt: U32<BigEndian>,
    /// C `stat_sn` (wire or CPU order, see the module doc).
    pub stat_sn: u32,
    /// C `exp_cmd_sn`.
    pub exp_cmd_sn: u32,
    /// C `max_cmd_sn`.
    pub max_cmd_sn: u32,
    /// C `rsvd2[3]`.
    pub rsvd2: [u32; 3],
}
const _: () = assert!(core::mem::size_of::<IscsiNopInHdr>() == 48);

/// C `ISCSI_RESERVED_TAG_CPU32`: the reserved tag value 0xffffffff in CPU order.
pub const ISCSI_RESERVED_TAG_CPU32: u32 = 0xffff_ffff;
/// C `ISCSI_RESERVED_TAG`: the reserved tag as a big-endian field value (ITT of unsolicited
/// target PDUs, TTT "no transfer").
pub const ISCSI_RESERVED_TAG: U32<BigEndian> = U32::new(ISCSI_RESERVED_TAG_CPU32);

/// The zero-copy views of the generic BHS as one opcode's header (C: the pointer casts of
/// `&cmnd->pdu.bhs`), for every 48-byte header struct.
macro_rules! bhs_views {
    ($($t:ident => $c:literal;)+) => {$(
        impl $t {
            #[doc = concat!("C `(struct ", $c, " *)&cmnd->pdu.bhs`: the BHS seen as this header.")]
            pub fn from_bhs(bhs: &IscsiHdr) -> &Self {
                zerocopy::transmute_ref!(bhs)
            }

            #[doc = concat!("C `(struct ", $c, " *)&cmnd->pdu.bhs`, for writing.")]
            pub fn from_bhs_mut(bhs: &mut IscsiHdr) -> &mut Self {
                zerocopy::transmute_mut!(bhs)
            }

            /// C `(struct iscsi_hdr *)hdr`: this header seen as the generic BHS.
            pub fn as_bhs(&self) -> &IscsiHdr {
                zerocopy::transmute_ref!(self)
            }

            /// C `(struct iscsi_hdr *)hdr`, for writing.
            pub fn as_bhs_mut(&mut self) -> &mut IscsiHdr {
                zerocopy::transmute_mut!(self)
            }
        }
    )+};
}

bhs_views! {
    IscsiScsiCmdHdr => "iscsi_scsi_cmd_hdr";
    IscsiScsiRspHdr => "iscsi_scsi_rsp_hdr";
    IscsiTaskMgtHdr => "iscsi_task_mgt_hdr";
    IscsiTaskRspHdr => "iscsi_task_rsp_hdr";
    IscsiDataOutHdr => "iscsi_data_out_hdr";
    IscsiDataInHdr => "iscsi_data_in_hdr";
    IscsiR2tHdr => "iscsi_r2t_hdr";
    IscsiAsyncMsgHdr => "iscsi_async_msg_hdr";
    IscsiTextReqHdr => "iscsi_text_req_hdr";
    IscsiTextRspHdr => "iscsi_text_rsp_hdr";
    IscsiLoginReqHdr => "iscsi_login_req_hdr";
    IscsiLoginRspHdr => "iscsi_login_rsp_hdr";
    IscsiLogoutReqHdr => "iscsi_logout_req_hdr";
    IscsiLogoutRspHdr => "iscsi_logout_rsp_hdr";
    IscsiSnackReqHdr => "iscsi_snack_req_hdr";
    IscsiRejectHdr => "iscsi_reject_hdr";
    IscsiNopOutHdr => "iscsi_nop_out_hdr";
    IscsiNopInHdr => "iscsi_nop_in_hdr";
}

/// C `cmnd_hdr(cmnd)`: a command's BHS seen as a SCSI Command header. Until `iscsi_cmnd` is
/// ported (`iscsi.rs`) this takes the BHS itself, `&cmnd->pdu.bhs`.
pub fn cmnd_hdr(bhs: &IscsiHdr) -> &IscsiScsiCmdHdr {
    IscsiScsiCmdHdr::from_bhs(bhs)
}

/// C `cmnd_hdr(cmnd)` for writing; takes `&mut cmnd->pdu.bhs` until `iscsi_cmnd` exists.
pub fn cmnd_hdr_mut(bhs: &mut IscsiHdr) -> &mut IscsiScsiCmdHdr {
    IscsiScsiCmdHdr::from_bhs_mut(bhs)
}

/// C `cmnd_opcode(cmnd)`: the opcode without the immediate and retry bits. Takes
/// `&cmnd->pdu.bhs` until `iscsi_cmnd` exists.
pub fn cmnd_opcode(bhs: &IscsiHdr) -> u8 {
    bhs.opcode & ISCSI_OPCODE_MASK
}

/// C `cmnd_scsicode(cmnd)`: the SCSI opcode, byte 0 of the CDB. Takes `&cmnd->pdu.bhs` until
/// `iscsi_cmnd` exists.
pub fn cmnd_scsicode(bhs: &IscsiHdr) -> u8 {
    cmnd_hdr(bhs).scb[0]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use core::mem::{offset_of, size_of};
    use proptest::prelude::*;

    #[test]
    fn sizes_match_c() {
        assert_eq!(size_of::<IscsiHdr>(), 48);
        assert_eq!(size_of::<IscsiAhsHdr>(), 3);
        assert_eq!(size_of::<IscsiSid>(), 8);
        assert_eq!(size_of::<IscsiScsiCmdHdr>(), 48);
        assert_eq!(size_of::<IscsiRlengthAhdr>(), 8);
        assert_eq!(size_of::<IscsiScsiRspHdr>(), 48);
        assert_eq!(size_of::<IscsiTaskMgtHdr>(), 48);
        assert_eq!(size_of::<IscsiTaskRspHdr>(), 48);
        assert_eq!(size_of::<IscsiDataOutHdr>(), 48);
        assert_eq!(size_of::<IscsiDataInHdr>(), 48);
        assert_eq!(size_of::<IscsiR2tHdr>(), 48);
        assert_eq!(size_of::<IscsiAsyncMsgHdr>(), 48);
        assert_eq!(size_of::<IscsiTextReqHdr>(), 48);
        assert_eq!(size_of::<IscsiTextRspHdr>(), 48);
        assert_eq!(size_of::<IscsiLoginReqHdr>(), 48);
        assert_eq!(size_of::<IscsiLoginRspHdr>(), 48);
        assert_eq!(size_of::<IscsiLogoutReqHdr>(), 48);
        assert_eq!(size_of::<IscsiLogoutRspHdr>(), 48);
        assert_eq!(size_of::<IscsiSnackReqHdr>(), 48);
        assert_eq!(size_of::<IscsiRejectHdr>(), 48);
        assert_eq!(size_of::<IscsiNopOutHdr>(), 48);
        assert_eq!(size_of::<IscsiNopInHdr>(), 48);
        // The unsized AHS and sense heads: 4 and 2 bytes before their tails.
        let ahs = [0u8, 17, ISCSI_AHSTYPE_CDB, 0, 0x11, 0x22];
        let cdb = IscsiCdbAhdr::ref_from_bytes(&ahs[..]).unwrap();
        assert_eq!(cdb.ahslength.get(), 17);
        assert_eq!(cdb.ahstype, ISCSI_AHSTYPE_CDB);
        assert_eq!(&cdb.cdb, &[0x11, 0x22]);
        let sense = [0u8, 3, 0x70, 0, 5];
        let s = IscsiSenseData::ref_from_bytes(&sense[..]).unwrap();
        assert_eq!(s.length.get(), 3);
        assert_eq!(&s.data, &[0x70, 0, 5]);
    }

    #[test]
    fn offsets_match_rfc3720() {
        assert_eq!(offset_of!(IscsiHdr, length), 4);
        assert_eq!(offset_of!(IscsiHdr, lun), 8);
        assert_eq!(offset_of!(IscsiHdr, itt), 16);
        assert_eq!(offset_of!(IscsiHdr, ttt), 20);
        assert_eq!(offset_of!(IscsiHdr, sn), 24);
        assert_eq!(offset_of!(IscsiHdr, exp_sn), 28);
        assert_eq!(offset_of!(IscsiHdr, max_sn), 32);
        assert_eq!(offset_of!(IscsiHdr, spec3), 36);
        assert_eq!(offset_of!(IscsiScsiCmdHdr, data_length), 20);
        assert_eq!(offset_of!(IscsiScsiCmdHdr, scb), 32);
        assert_eq!(offset_of!(IscsiScsiRspHdr, exp_data_sn), 36);
        assert_eq!(offset_of!(IscsiScsiRspHdr, residual_count), 44);
        assert_eq!(offset_of!(IscsiTaskMgtHdr, rtt), 20);
        assert_eq!(offset_of!(IscsiTaskMgtHdr, ref_cmd_sn), 32);
        assert_eq!(offset_of!(IscsiDataOutHdr, data_sn), 36);
        assert_eq!(offset_of!(IscsiDataOutHdr, buffer_offset), 40);
        assert_eq!(offset_of!(IscsiDataInHdr, cmd_status), 3);
        assert_eq!(offset_of!(IscsiDataInHdr, residual_count), 44);
        assert_eq!(offset_of!(IscsiR2tHdr, r2t_sn), 36);
        assert_eq!(offset_of!(IscsiR2tHdr, data_length), 44);
        assert_eq!(offset_of!(IscsiAsyncMsgHdr, async_event), 36);
        assert_eq!(offset_of!(IscsiAsyncMsgHdr, param3), 42);
        assert_eq!(offset_of!(IscsiLoginReqHdr, sid), 8);
        assert_eq!(offset_of!(IscsiLoginReqHdr, cid), 20);
        assert_eq!(offset_of!(IscsiLoginRspHdr, status_class), 36);
        assert_eq!(offset_of!(IscsiLogoutReqHdr, cid), 20);
        assert_eq!(offset_of!(IscsiLogoutRspHdr, time2wait), 40);
        assert_eq!(offset_of!(IscsiSnackReqHdr, beg_run), 40);
        assert_eq!(offset_of!(IscsiRejectHdr, ffffffff), 16);
        assert_eq!(offset_of!(IscsiRejectHdr, data_sn), 36);
        assert_eq!(offset_of!(IscsiRlengthAhdr, read_length), 4);
    }

    #[test]
    fn opcode_and_flag_values() {
        assert_eq!(
            [
                ISCSI_OP_NOP_OUT,
                ISCSI_OP_SCSI_CMD,
                ISCSI_OP_SCSI_TASK_MGT_MSG,
                ISCSI_OP_LOGIN_CMD
            ],
            [0x00, 0x01, 0x02, 0x03]
        );
        assert_eq!(
            [
                ISCSI_OP_TEXT_CMD,
                ISCSI_OP_SCSI_DATA_OUT,
                ISCSI_OP_LOGOUT_CMD,
                ISCSI_OP_SNACK_CMD
            ],
            [0x04, 0x05, 0x06, 0x10]
        );
        assert_eq!(
            [
                ISCSI_OP_NOP_IN,
                ISCSI_OP_SCSI_RSP,
                ISCSI_OP_SCSI_TASK_MGT_RSP,
                ISCSI_OP_LOGIN_RSP
            ],
            [0x20, 0x21, 0x22, 0x23]
        );
        assert_eq!(
            [
                ISCSI_OP_TEXT_RSP,
                ISCSI_OP_SCSI_DATA_IN,
                ISCSI_OP_LOGOUT_RSP,
                ISCSI_OP_R2T
            ],
            [0x24, 0x25, 0x26, 0x31]
        );
        assert_eq!([ISCSI_OP_ASYNC_MSG, ISCSI_OP_REJECT], [0x32, 0x3f]);
        assert_eq!(
            [ISCSI_OP_RETRY, ISCSI_OP_IMMEDIATE, ISCSI_OPCODE_MASK],
            [0x80, 0x40, 0x3f]
        );
        assert_eq!(ISCSI_RESERVED_TAG.get(), 0xffff_ffff);
        assert_eq!(ISCSI_RESERVED_TAG.as_bytes(), &[0xff; 4]);
    }

    /// RFC 3720 §10.3 offsets, one field at a time, with distinct values everywhere.
    #[test]
    fn scsi_command_pdu_parses_by_rfc_offsets() {
        let mut b = [0u8; 48];
        b[0] = ISCSI_OP_IMMEDIATE | ISCSI_OP_SCSI_CMD; // I bit + opcode 0x01
        b[1] = ISCSI_CMD_FINAL | ISCSI_CMD_WRITE | ISCSI_CMD_ORDERED; // F, W, ATTR = 2
        b[4] = 1; // TotalAHSLength: one word
        b[5..8].copy_from_slice(&[0x01, 0x02, 0x03]); // DataSegmentLength 0x010203
        b[8..16].copy_from_slice(&[0x00, 0x05, 0, 0, 0, 0, 0, 0]); // LUN 5, flat addressing
        b[16..20].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]); // ITT
        b[20..24].copy_from_slice(&[0x00, 0x01, 0x00, 0x00]); // Expected Data Transfer Length
        b[24..28].copy_from_slice(&[0x11, 0x22, 0x33, 0x44]); // CmdSN
        b[28..32].copy_from_slice(&[0x55, 0x66, 0x77, 0x88]); // ExpStatSN
        b[32..42].copy_from_slice(&[0x2a, 0, 0, 0, 0x10, 0, 0, 0, 0x80, 0]); // WRITE(10)

        let bhs = IscsiHdr::read_from_bytes(&b).unwrap();
        assert_eq!(bhs.opcode, 0x41);
        assert_eq!(cmnd_opcode(&bhs), ISCSI_OP_SCSI_CMD);
        assert_eq!(cmnd_scsicode(&bhs), 0x2a);
        assert_eq!(bhs.ahslength(), 1);
        assert_eq!(bhs.datalength(), 0x0001_0203);
        assert_eq!(bhs.lun.get(), 0x0005_0000_0000_0000);
        assert_eq!(bhs.itt.get(), 0xdead_beef);
        // The SN fields hold the wire (big-endian) form until the driver converts them.
        assert_eq!(u32::from_be(bhs.sn), 0x1122_3344);
        assert_eq!(u32::from_be(bhs.exp_sn), 0x5566_7788);

        let h = cmnd_hdr(&bhs);
        assert_eq!(h.opcode, 0x41);
        assert_eq!(h.flags & ISCSI_CMD_FINAL, ISCSI_CMD_FINAL);
        assert_eq!(h.flags & ISCSI_CMD_READ, 0);
        assert_eq!(h.flags & ISCSI_CMD_WRITE, ISCSI_CMD_WRITE);
        assert_eq!(h.flags & ISCSI_CMD_ATTR_MASK, ISCSI_CMD_ORDERED);
        assert_eq!({ h.rsvd1 }.get(), 0);
        assert_eq!(h.ahslength, 1);
        assert_eq!(ntoh24(&{ h.datalength }), 0x0001_0203);
        assert_eq!({ h.lun }.get(), 0x0005_0000_0000_0000);
        assert_eq!({ h.itt }.get(), 0xdead_beef);
        assert_eq!({ h.data_length }.get(), 0x0001_0000);
        assert_eq!(u32::from_be(h.cmd_sn), 0x1122_3344);
        assert_eq!(u32::from_be(h.exp_stat_sn), 0x5566_7788);
        assert_eq!(
            h.scb,
            [0x2a, 0, 0, 0, 0x10, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0]
        );

        // The same bytes read directly as the SCSI Command struct, and back.
        let direct = IscsiScsiCmdHdr::read_from_bytes(&b).unwrap();
        assert_eq!(&direct, h);
        assert_eq!(direct.as_bytes(), &b);
        assert_eq!(direct.as_bhs(), &bhs);
    }

    /// RFC 3720 §10.18 offsets for a NOP-Out answering a NOP-In.
    #[test]
    fn nop_out_pdu_parses_by_rfc_offsets() {
        let mut b = [0u8; 48];
        b[0] = ISCSI_OP_IMMEDIATE | ISCSI_OP_NOP_OUT;
        b[1] = 0x80; // F, always set
        b[5..8].copy_from_slice(&[0x00, 0x00, 0x20]); // 32 bytes of ping data
        b[8..16].copy_from_slice(&[0, 1, 2, 3, 4, 5, 6, 7]); // LUN
        b[16..20].copy_from_slice(&[0xff; 4]); // ITT: reserved (answer to a NOP-In)
        b[20..24].copy_from_slice(&[0x00, 0x00, 0x12, 0x34]); // TTT of the NOP-In
        b[24..28].copy_from_slice(&[0, 0, 0, 9]); // CmdSN
        b[28..32].copy_from_slice(&[0, 0, 1, 0]); // ExpStatSN

        let bhs = IscsiHdr::read_from_bytes(&b).unwrap();
        assert_eq!(cmnd_opcode(&bhs), ISCSI_OP_NOP_OUT);
        assert_eq!(bhs.opcode & ISCSI_OP_IMMEDIATE, ISCSI_OP_IMMEDIATE);
        let h = IscsiNopOutHdr::from_bhs(&bhs);
        assert_eq!(h.flags, ISCSI_FLG_FINAL);
        assert_eq!({ h.rsvd1 }, 0);
        assert_eq!(h.ahslength, 0);
        assert_eq!(ntoh24(&h.datalength), 32);
        assert_eq!({ h.lun }.get(), 0x0001_0203_0405_0607);
        assert_eq!({ h.itt }, ISCSI_RESERVED_TAG);
        assert_eq!({ h.ttt }.get(), 0x1234);
        assert_eq!(u32::from_be(h.cmd_sn), 9);
        assert_eq!(u32::from_be(h.exp_stat_sn), 0x100);
        assert_eq!({ h.rsvd2 }, [0; 4]);
        assert_eq!(bhs.datalength(), 32);
        assert_eq!(bhs.ahslength(), 0);
    }

    #[test]
    fn views_share_the_bhs_bytes() {
        let mut bhs = IscsiHdr::default();
        let d = IscsiDataOutHdr::from_bhs_mut(&mut bhs);
        d.opcode = ISCSI_OP_SCSI_DATA_OUT;
        d.buffer_offset.set(0x0102_0304);
        d.data_sn.set(7);
        assert_eq!(bhs.opcode, ISCSI_OP_SCSI_DATA_OUT);
        assert_eq!(bhs.spec3[0].get(), 7);
        assert_eq!(bhs.spec3[1].get(), 0x0102_0304);
        assert_eq!(&bhs.as_bytes()[40..44], &[1, 2, 3, 4]);

        let mut r2t = IscsiR2tHdr::default();
        r2t.as_bhs_mut().itt.set(0xabcd);
        r2t.as_bhs_mut().set_length(0, 5);
        assert_eq!({ r2t.itt }.get(), 0xabcd);
        assert_eq!(r2t.datalength, [0, 0, 5]);
        assert_eq!(r2t.as_bhs().itt.get(), 0xabcd);

        let mut bhs2 = IscsiHdr::default();
        cmnd_hdr_mut(&mut bhs2).scb[0] = 0x28;
        assert_eq!(cmnd_scsicode(&bhs2), 0x28);
        assert_eq!(bhs2.as_bytes()[32], 0x28);
    }

    #[test]
    fn cmnd_opcode_strips_immediate_and_retry_bits() {
        let mut bhs = IscsiHdr {
            opcode: ISCSI_OP_RETRY | ISCSI_OP_IMMEDIATE | ISCSI_OP_SCSI_TASK_MGT_MSG,
            ..Default::default()
        };
        assert_eq!(cmnd_opcode(&bhs), 0x02);
        bhs.opcode = 0xff;
        assert_eq!(cmnd_opcode(&bhs), 0x3f);
        bhs.opcode = ISCSI_OP_SCSI_DATA_IN;
        assert_eq!(cmnd_opcode(&bhs), 0x25);
    }

    #[test]
    fn length_accessors_at_the_edges() {
        let mut bhs = IscsiHdr::default();
        for (ahs, data, wire) in [
            (0u8, 0u32, [0u8, 0, 0, 0]),
            (0, 1, [0, 0, 0, 1]),
            (1, 0, [1, 0, 0, 0]),
            (0, 0x00ff_ffff, [0, 0xff, 0xff, 0xff]),
            (0xff, 0x00ff_ffff, [0xff, 0xff, 0xff, 0xff]),
            (0x12, 0x0034_5678, [0x12, 0x34, 0x56, 0x78]),
        ] {
            bhs.set_length(ahs, data);
            assert_eq!(&bhs.as_bytes()[4..8], &wire);
            assert_eq!(bhs.ahslength(), ahs);
            assert_eq!(bhs.datalength(), data);
        }
        // A length beyond 24 bits is cut; the AHS byte is left alone.
        bhs.set_length(3, 0x0100_0002);
        assert_eq!(&bhs.as_bytes()[4..8], &[3, 0, 0, 2]);
    }

    #[test]
    fn hton24_ntoh24_at_the_edges() {
        for (v, wire) in [
            (0u32, [0u8, 0, 0]),
            (1, [0, 0, 1]),
            (0x00ff_ffff, [0xff, 0xff, 0xff]),
            (0x0001_0203, [1, 2, 3]),
        ] {
            let mut p = [0xaa; 3];
            hton24(&mut p, v);
            assert_eq!(p, wire);
            assert_eq!(ntoh24(&wire), v);
        }
        let mut p = [0u8; 3];
        hton24(&mut p, 0xab00_0001);
        assert_eq!(p, [0, 0, 1]);
        assert_eq!(ntoh24(&[0x80, 0, 0]), 0x0080_0000);
    }

    #[test]
    fn sid_id64_is_the_union_view() {
        let mut sid = IscsiSid {
            isid: [0x80, 1, 2, 3, 4, 5],
            tsih: U16::new(0x0607),
        };
        assert_eq!(sid.id64().get(), 0x8001_0203_0405_0607);
        sid.set_id64(U64::new(0x1122_3344_5566_7788));
        assert_eq!(sid.isid, [0x11, 0x22, 0x33, 0x44, 0x55, 0x66]);
        assert_eq!({ sid.tsih }.get(), 0x7788);

        let mut b = [0u8; 48];
        b[8..16].copy_from_slice(&[0x40, 0, 0, 0x23, 0, 1, 0, 0x2a]);
        b[20..22].copy_from_slice(&[0, 3]);
        let login = IscsiLoginReqHdr::read_from_bytes(&b).unwrap();
        assert_eq!({ login.sid }.id64().get(), 0x4000_0023_0001_002a);
        assert_eq!({ login.sid.tsih }.get(), 0x2a);
        assert_eq!({ login.cid }.get(), 3);
    }

    fn arb_bhs() -> impl Strategy<Value = IscsiHdr> {
        (
            any::<(u8, u8, [u8; 2], u8, u32)>(),
            any::<(u64, u32, u32, u32, u32, u32)>(),
            any::<[u32; 3]>(),
        )
            .prop_map(
                |((op, fl, s1, ahs, dl), (lun, itt, ttt, sn, esn, msn), s3)| {
                    let mut h = IscsiHdr {
                        opcode: op,
                        flags: fl,
                        spec1: s1,
                        length: U32::ZERO,
                        lun: U64::new(lun),
                        itt: U32::new(itt),
                        ttt: U32::new(ttt),
                        sn,
                        exp_sn: esn,
                        max_sn: msn,
                        spec3: s3.map(U32::new),
                    };
                    h.set_length(ahs, dl);
                    h
                },
            )
    }

    proptest! {
        #[test]
        fn bhs_encode_decode_round_trip(h in arb_bhs()) {
            let bytes = h.as_bytes().to_vec();
            prop_assert_eq!(bytes.len(), 48);
            let back = IscsiHdr::read_from_bytes(&bytes).unwrap();
            prop_assert_eq!(back, h);
            // The wire carries big-endian tags and lengths.
            prop_assert_eq!(&bytes[16..20], &h.itt.get().to_be_bytes()[..]);
            prop_assert_eq!(bytes[4], h.ahslength());
            prop_assert_eq!(ntoh24(&[bytes[5], bytes[6], bytes[7]]), h.datalength());
            prop_assert_eq!(&bytes[24..28], &{ h.sn }.to_ne_bytes()[..]);
        }

        #[test]
        fn bhs_bytes_round_trip_through_every_view(b in any::<[u8; 48]>()) {
            let bhs = IscsiHdr::read_from_bytes(&b).unwrap();
            prop_assert_eq!(bhs.as_bytes(), &b[..]);
            prop_assert_eq!(IscsiScsiCmdHdr::from_bhs(&bhs).as_bytes(), &b[..]);
            prop_assert_eq!(IscsiDataOutHdr::from_bhs(&bhs).as_bytes(), &b[..]);
            prop_assert_eq!(IscsiNopInHdr::from_bhs(&bhs).as_bhs(), &bhs);
            prop_assert_eq!(bhs.datalength(), ntoh24(&[b[5], b[6], b[7]]));
            prop_assert_eq!(bhs.ahslength(), b[4]);
        }

        #[test]
        fn set_length_round_trips(ahs in any::<u8>(), dl in 0u32..=0x00ff_ffff) {
            let mut h = IscsiHdr::default();
            h.set_length(ahs, dl);
            prop_assert_eq!(h.ahslength(), ahs);
            prop_assert_eq!(h.datalength(), dl);
            let mut p = [0u8; 3];
            hton24(&mut p, dl);
            prop_assert_eq!(ntoh24(&p), dl);
            prop_assert_eq!(&h.as_bytes()[5..8], &p[..]);
        }
    }
}
