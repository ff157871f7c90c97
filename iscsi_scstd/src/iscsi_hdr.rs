// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2002 - 2003 Ardis Technolgies <roman@ardistech.com>
// Copyright (C) 2007 - 2016 Vladislav Bolkhovitin
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! The daemon's view of iSCSI PDUs: the port of `iscsi-scst/usr/iscsi_hdr.h` (with the fixed
//! width integer types of `iscsi-scst/usr/types.h`).
//!
//! The daemon only handles the login phase and discovery sessions, so this header is a subset of
//! the driver's `iscsi-scst/kernel/iscsi_hdr.h`: the generic Basic Header Segment
//! ([`IscsiHdr`]), the Login, Text and Logout request and response layouts, Reject, and the
//! constants the daemon uses (opcodes, login flags and status codes, reject reasons). The C
//! header defines no NOP-Out/NOP-In layouts, no SCSI command layouts and no serial number
//! arithmetic, so neither does this module (those belong to the driver's `iscsi_hdr.h`).
//!
//! Layout rules:
//! - Every BHS struct is `#[repr(C)]`, 48 bytes (asserted), alignment 1, and
//!   `FromBytes + IntoBytes`, so any 48 bytes are a valid value of each layout and a value is
//!   sent as its bytes. C `u8 x[3]`/`u8 x[10]` stay byte arrays.
//! - The 16- and 32-bit fields are big-endian (`U16<BigEndian>`, `U32<BigEndian>`): reading one
//!   with `.get()` is C's `be32_to_cpu()`, writing one with `.set()` or `U32::new()` is
//!   `cpu_to_be32()`. The C daemon declares them as plain `u16`/`u32` and swaps where it uses the
//!   value as a number (`cid`, CmdSN, StatSN …); tags (ITT, TTT) it only copies and compares with
//!   [`ISCSI_RESERVED_TAG`], which reads the same in either byte order.
//! - The one exception is [`IscsiSid`]: C treats the 8 bytes of ISID + TSIH as a host-order
//!   `u64` (`id64`, the session id handed to the driver) and stores the TSIH in host order, so
//!   the port keeps `tsih` native-endian (see [`IscsiSid`]).
//! - Where iscsid.c casts the generic BHS of a request or response to a PDU layout, the port
//!   uses the `from_hdr` / `from_hdr_mut` / `as_hdr` methods each layout has.
#![doc(alias = "iscsi_hdr.h")]

use core::mem::{offset_of, size_of};

use zerocopy::byteorder::{BigEndian, NativeEndian, U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// C `ISCSI_VERSION`: the only protocol version (RFC 3720), the daemon's Version-max and
/// Version-active in login responses.
pub const ISCSI_VERSION: u8 = 0;

// ---------------------------------------------------------------------------------------------
// The generic BHS
// ---------------------------------------------------------------------------------------------

/// C `struct iscsi_hdr`: the 48-byte Basic Header Segment as every PDU starts, with the
/// opcode-specific parts left as `spec*` fields.
#[doc(alias = "iscsi_hdr")]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct IscsiHdr {
    /// Byte 0: opcode ([`ISCSI_OPCODE_MASK`]) with the [`ISCSI_OP_IMMEDIATE`] bit.
    pub opcode: u8,
    /// Byte 1: opcode-specific flags ([`ISCSI_FLG_FINAL`] …).
    pub flags: u8,
    /// Bytes 2–3: opcode-specific.
    pub spec1: [u8; 2],
    /// Byte 4: TotalAHSLength, in 4-byte words.
    pub ahslength: u8,
    /// Bytes 5–7: DataSegmentLength, 24-bit big-endian ([`ntoh24`], [`hton24`]).
    pub datalength: [u8; 3],
    /// Bytes 8–15: LUN or opcode-specific.
    pub lun: [U16<BigEndian>; 4],
    /// Bytes 16–19: Initiator Task Tag.
    pub itt: U32<BigEndian>,
    /// Bytes 20–23: Target Transfer Tag or opcode-specific.
    pub ttt: U32<BigEndian>,
    /// Bytes 24–27: CmdSN (requests) or StatSN (responses).
    pub sn: U32<BigEndian>,
    /// Bytes 28–31: ExpStatSN (requests) or ExpCmdSN (responses).
    pub exp_sn: U32<BigEndian>,
    /// Bytes 32–35: MaxCmdSN (responses).
    pub max_sn: U32<BigEndian>,
    /// Bytes 36–47: opcode-specific.
    pub spec3: [U32<BigEndian>; 3],
}
const _: () = assert!(size_of::<IscsiHdr>() == 48);
const _: () = assert!(offset_of!(IscsiHdr, ahslength) == 4);
const _: () = assert!(offset_of!(IscsiHdr, lun) == 8);
const _: () = assert!(offset_of!(IscsiHdr, itt) == 16);
const _: () = assert!(offset_of!(IscsiHdr, sn) == 24);
const _: () = assert!(offset_of!(IscsiHdr, max_sn) == 32);
const _: () = assert!(offset_of!(IscsiHdr, spec3) == 36);

impl IscsiHdr {
    /// Length of the AHS in bytes: TotalAHSLength × 4 (C: `bhs.ahslength * 4` in
    /// iscsi_scstd.c and iscsid.c `cmnd_execute()`).
    pub fn ahssize(&self) -> usize {
        usize::from(self.ahslength) * 4
    }

    /// DataSegmentLength as a number (C: iscsi_scstd.c `event_conn()`, from
    /// the three `datalength` bytes).
    pub fn datasize(&self) -> u32 {
        ntoh24(self.datalength)
    }

    /// Stores DataSegmentLength (C: the three byte stores at the end of iscsid.c
    /// `cmnd_execute()`); only the low 24 bits of `size` are kept, as the C `u8` stores do.
    pub fn set_datasize(&mut self, size: u32) {
        self.datalength = hton24(size);
    }
}

/// The 24-bit big-endian DataSegmentLength as a number (C: computed inline from the three
/// bytes in iscsi_scstd.c `event_conn()` after reading a BHS).
pub fn ntoh24(b: [u8; 3]) -> u32 {
    (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2])
}

/// A number as the 24-bit big-endian DataSegmentLength (C: the inline byte stores in iscsid.c
/// `cmnd_execute()`). Bits above 23 are dropped, exactly as C's stores into `u8` drop them.
pub fn hton24(v: u32) -> [u8; 3] {
    let [_, b0, b1, b2] = v.to_be_bytes();
    [b0, b1, b2]
}

// ---------------------------------------------------------------------------------------------
// Opcodes
// ---------------------------------------------------------------------------------------------

/// C `ISCSI_OP_RETRY`: bit 7 of the opcode byte (obsolete; reserved in RFC 3720).
pub const ISCSI_OP_RETRY: u8 = 0x80;
/// C `ISCSI_OP_IMMEDIATE`: the I bit, immediate delivery.
pub const ISCSI_OP_IMMEDIATE: u8 = 0x40;
/// C `ISCSI_OPCODE_MASK`: the six opcode bits.
pub const ISCSI_OPCODE_MASK: u8 = 0x3F;

/// C `ISCSI_OP_NOP_OUT`: initiator opcode NOP-Out.
pub const ISCSI_OP_NOP_OUT: u8 = 0x00;
/// C `ISCSI_OP_SCSI_CMD`: initiator opcode SCSI Command.
pub const ISCSI_OP_SCSI_CMD: u8 = 0x01;
/// C `ISCSI_OP_SCSI_TASK_MGT_MSG`: initiator opcode Task Management Function Request.
pub const ISCSI_OP_SCSI_TASK_MGT_MSG: u8 = 0x02;
/// C `ISCSI_OP_LOGIN_CMD`: initiator opcode Login Request.
pub const ISCSI_OP_LOGIN_CMD: u8 = 0x03;
/// C `ISCSI_OP_TEXT_CMD`: initiator opcode Text Request.
pub const ISCSI_OP_TEXT_CMD: u8 = 0x04;
/// C `ISCSI_OP_SCSI_DATA`: initiator opcode SCSI Data-Out.
pub const ISCSI_OP_SCSI_DATA: u8 = 0x05;
/// C `ISCSI_OP_LOGOUT_CMD`: initiator opcode Logout Request.
pub const ISCSI_OP_LOGOUT_CMD: u8 = 0x06;
/// C `ISCSI_OP_SNACK_CMD`: initiator opcode SNACK Request.
pub const ISCSI_OP_SNACK_CMD: u8 = 0x10;

/// C `ISCSI_OP_NOP_IN`: target opcode NOP-In.
pub const ISCSI_OP_NOP_IN: u8 = 0x20;
/// C `ISCSI_OP_SCSI_RSP`: target opcode SCSI Response.
pub const ISCSI_OP_SCSI_RSP: u8 = 0x21;
/// C `ISCSI_OP_SCSI_TASK_MGT_RSP`: target opcode Task Management Function Response.
pub const ISCSI_OP_SCSI_TASK_MGT_RSP: u8 = 0x22;
/// C `ISCSI_OP_LOGIN_RSP`: target opcode Login Response.
pub const ISCSI_OP_LOGIN_RSP: u8 = 0x23;
/// C `ISCSI_OP_TEXT_RSP`: target opcode Text Response.
pub const ISCSI_OP_TEXT_RSP: u8 = 0x24;
/// C `ISCSI_OP_SCSI_DATA_RSP`: target opcode SCSI Data-In.
pub const ISCSI_OP_SCSI_DATA_RSP: u8 = 0x25;
/// C `ISCSI_OP_LOGOUT_RSP`: target opcode Logout Response.
pub const ISCSI_OP_LOGOUT_RSP: u8 = 0x26;
/// C `ISCSI_OP_R2T_RSP`: target opcode Ready To Transfer.
pub const ISCSI_OP_R2T_RSP: u8 = 0x31;
/// C `ISCSI_OP_ASYNC_EVENT`: target opcode Asynchronous Message.
pub const ISCSI_OP_ASYNC_EVENT: u8 = 0x32;
/// C `ISCSI_OP_REJECT_MSG`: target opcode Reject.
pub const ISCSI_OP_REJECT_MSG: u8 = 0x3f;

// ---------------------------------------------------------------------------------------------
// Additional Header Segments
// ---------------------------------------------------------------------------------------------

/// C `struct iscsi_ahs_hdr`: the first three bytes of an Additional Header Segment.
#[doc(alias = "iscsi_ahs_hdr")]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct IscsiAhsHdr {
    /// AHSLength: length of the AHS-specific part in bytes.
    pub ahslength: U16<BigEndian>,
    /// AHSType ([`ISCSI_AHSTYPE_CDB`], [`ISCSI_AHSTYPE_RLENGTH`]).
    pub ahstype: u8,
}
const _: () = assert!(size_of::<IscsiAhsHdr>() == 3);

/// C `ISCSI_AHSTYPE_CDB`: AHS type Extended CDB.
pub const ISCSI_AHSTYPE_CDB: u8 = 1;
/// C `ISCSI_AHSTYPE_RLENGTH`: AHS type Expected Bidirectional Read Data Length.
pub const ISCSI_AHSTYPE_RLENGTH: u8 = 2;

// ---------------------------------------------------------------------------------------------
// Session id
// ---------------------------------------------------------------------------------------------

/// C `union iscsi_sid`: the ISID and TSIH of a login PDU, which the daemon also uses as one
/// host-order `u64`, the session id (`sid`) of the driver ABI.
///
/// C reaches the parts as `sid.id.isid` / `sid.id.tsih` and the whole as `sid.id64`; here the
/// parts are the fields and the whole is [`id64`](Self::id64) / [`set_id64`](Self::set_id64).
/// Because the daemon assigns its TSIH counter to `id.tsih` without a byte swap
/// (`session.c` `session_create()`, and the dummy TSIH 1 of discovery sessions in `iscsid.c`
/// `login_finish()`), `tsih` is native-endian: on x86 the TSIH 1 goes out as the bytes `01 00`.
/// Initiators only echo the TSIH back, so this is harmless, and it keeps the `sid` values the
/// daemon hands to the driver identical to C.
#[doc(alias = "iscsi_sid")]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct IscsiSid {
    /// Initiator Session ID (C `id.isid`), six bytes as on the wire.
    pub isid: [u8; 6],
    /// Target Session Identifying Handle (C `id.tsih`), host byte order as C stores it.
    pub tsih: U16<NativeEndian>,
}
const _: () = assert!(size_of::<IscsiSid>() == 8);

impl IscsiSid {
    /// The eight bytes as a host-order `u64` (C `sid.id64`).
    pub fn id64(&self) -> u64 {
        u64::from_ne_bytes(self.to_bytes())
    }

    /// Overwrites ISID and TSIH with the bytes of a host-order `u64` (C `sid.id64 = v`).
    pub fn set_id64(&mut self, id64: u64) {
        *self = Self::from_id64(id64);
    }

    /// The sid whose [`id64`](Self::id64) is `id64` (C: a union value written through `id64`).
    pub fn from_id64(id64: u64) -> Self {
        zerocopy::transmute!(id64.to_ne_bytes())
    }

    fn to_bytes(self) -> [u8; 8] {
        zerocopy::transmute!(self)
    }
}

// ---------------------------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------------------------

/// C `struct iscsi_text_req_hdr`: Text Request (RFC 3720 §10.10).
#[doc(alias = "iscsi_text_req_hdr")]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct IscsiTextReqHdr {
    /// [`ISCSI_OP_TEXT_CMD`], possibly with [`ISCSI_OP_IMMEDIATE`].
    pub opcode: u8,
    /// F ([`ISCSI_FLG_FINAL`]) and C ([`ISCSI_FLG_CONTINUE`]) bits.
    pub flags: u8,
    /// Reserved.
    pub rsvd1: U16<BigEndian>,
    /// TotalAHSLength.
    pub ahslength: u8,
    /// DataSegmentLength.
    pub datalength: [u8; 3],
    /// LUN or reserved.
    pub rsvd2: [U32<BigEndian>; 2],
    /// Initiator Task Tag.
    pub itt: U32<BigEndian>,
    /// Target Transfer Tag: [`ISCSI_RESERVED_TAG`] to start, else the one the target gave.
    pub ttt: U32<BigEndian>,
    /// CmdSN.
    pub cmd_sn: U32<BigEndian>,
    /// ExpStatSN.
    pub exp_stat_sn: U32<BigEndian>,
    /// Reserved.
    pub rsvd3: [U32<BigEndian>; 4],
}
const _: () = assert!(size_of::<IscsiTextReqHdr>() == 48);
const _: () = assert!(offset_of!(IscsiTextReqHdr, itt) == 16);
const _: () = assert!(offset_of!(IscsiTextReqHdr, ttt) == 20);
const _: () = assert!(offset_of!(IscsiTextReqHdr, cmd_sn) == 24);
const _: () = assert!(offset_of!(IscsiTextReqHdr, exp_stat_sn) == 28);

/// C `struct iscsi_text_rsp_hdr`: Text Response (RFC 3720 §10.11).
#[doc(alias = "iscsi_text_rsp_hdr")]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct IscsiTextRspHdr {
    /// [`ISCSI_OP_TEXT_RSP`].
    pub opcode: u8,
    /// F and C bits.
    pub flags: u8,
    /// Reserved.
    pub rsvd1: U16<BigEndian>,
    /// TotalAHSLength.
    pub ahslength: u8,
    /// DataSegmentLength.
    pub datalength: [u8; 3],
    /// LUN or reserved.
    pub rsvd2: [U32<BigEndian>; 2],
    /// Initiator Task Tag (copied from the request).
    pub itt: U32<BigEndian>,
    /// Target Transfer Tag; [`ISCSI_RESERVED_TAG`] on the last response of a sequence.
    pub ttt: U32<BigEndian>,
    /// StatSN.
    pub stat_sn: U32<BigEndian>,
    /// ExpCmdSN.
    pub exp_cmd_sn: U32<BigEndian>,
    /// MaxCmdSN.
    pub max_cmd_sn: U32<BigEndian>,
    /// Reserved.
    pub rsvd3: [U32<BigEndian>; 3],
}
const _: () = assert!(size_of::<IscsiTextRspHdr>() == 48);
const _: () = assert!(offset_of!(IscsiTextRspHdr, ttt) == 20);
const _: () = assert!(offset_of!(IscsiTextRspHdr, stat_sn) == 24);
const _: () = assert!(offset_of!(IscsiTextRspHdr, max_cmd_sn) == 32);

// ---------------------------------------------------------------------------------------------
// Login
// ---------------------------------------------------------------------------------------------

/// C `struct iscsi_login_req_hdr`: Login Request (RFC 3720 §10.12).
#[doc(alias = "iscsi_login_req_hdr")]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct IscsiLoginReqHdr {
    /// [`ISCSI_OP_LOGIN_CMD`] | [`ISCSI_OP_IMMEDIATE`].
    pub opcode: u8,
    /// T ([`ISCSI_FLG_TRANSIT`]), C ([`ISCSI_FLG_CONTINUE`]), CSG and NSG.
    pub flags: u8,
    /// Version-max: highest version the initiator supports.
    pub max_version: u8,
    /// Version-min: lowest version the initiator supports.
    pub min_version: u8,
    /// TotalAHSLength.
    pub ahslength: u8,
    /// DataSegmentLength.
    pub datalength: [u8; 3],
    /// ISID and TSIH.
    pub sid: IscsiSid,
    /// Initiator Task Tag.
    pub itt: U32<BigEndian>,
    /// Connection ID.
    pub cid: U16<BigEndian>,
    /// Reserved.
    pub rsvd1: U16<BigEndian>,
    /// CmdSN.
    pub cmd_sn: U32<BigEndian>,
    /// ExpStatSN.
    pub exp_stat_sn: U32<BigEndian>,
    /// Reserved.
    pub rsvd2: [U32<BigEndian>; 4],
}
const _: () = assert!(size_of::<IscsiLoginReqHdr>() == 48);
const _: () = assert!(offset_of!(IscsiLoginReqHdr, sid) == 8);
const _: () = assert!(offset_of!(IscsiLoginReqHdr, itt) == 16);
const _: () = assert!(offset_of!(IscsiLoginReqHdr, cid) == 20);
const _: () = assert!(offset_of!(IscsiLoginReqHdr, cmd_sn) == 24);
const _: () = assert!(offset_of!(IscsiLoginReqHdr, exp_stat_sn) == 28);

/// C `struct iscsi_login_rsp_hdr`: Login Response (RFC 3720 §10.13).
#[doc(alias = "iscsi_login_rsp_hdr")]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct IscsiLoginRspHdr {
    /// [`ISCSI_OP_LOGIN_RSP`].
    pub opcode: u8,
    /// T, C, CSG and NSG.
    pub flags: u8,
    /// Version-max ([`ISCSI_VERSION`]).
    pub max_version: u8,
    /// Version-active ([`ISCSI_VERSION`]).
    pub active_version: u8,
    /// TotalAHSLength.
    pub ahslength: u8,
    /// DataSegmentLength.
    pub datalength: [u8; 3],
    /// ISID and TSIH.
    pub sid: IscsiSid,
    /// Initiator Task Tag (copied from the request).
    pub itt: U32<BigEndian>,
    /// Reserved.
    pub rsvd1: U32<BigEndian>,
    /// StatSN.
    pub stat_sn: U32<BigEndian>,
    /// ExpCmdSN.
    pub exp_cmd_sn: U32<BigEndian>,
    /// MaxCmdSN.
    pub max_cmd_sn: U32<BigEndian>,
    /// Status-Class ([`ISCSI_STATUS_SUCCESS`] …).
    pub status_class: u8,
    /// Status-Detail, meaning per class ([`ISCSI_STATUS_ACCEPT`] …).
    pub status_detail: u8,
    /// Reserved.
    pub rsvd2: [u8; 10],
}
const _: () = assert!(size_of::<IscsiLoginRspHdr>() == 48);
const _: () = assert!(offset_of!(IscsiLoginRspHdr, sid) == 8);
const _: () = assert!(offset_of!(IscsiLoginRspHdr, stat_sn) == 24);
const _: () = assert!(offset_of!(IscsiLoginRspHdr, max_cmd_sn) == 32);
const _: () = assert!(offset_of!(IscsiLoginRspHdr, status_class) == 36);
const _: () = assert!(offset_of!(IscsiLoginRspHdr, status_detail) == 37);

/// C `ISCSI_FLG_CONTINUE`: the C bit (text continues in the next PDU).
pub const ISCSI_FLG_CONTINUE: u8 = 0x40;
/// C `ISCSI_FLG_FINAL`: the F bit.
pub const ISCSI_FLG_FINAL: u8 = 0x80;
/// C `ISCSI_FLG_TRANSIT`: the T bit of login PDUs (same bit as F).
pub const ISCSI_FLG_TRANSIT: u8 = 0x80;
/// C `ISCSI_FLG_CSG_SECURITY`: CSG = 0, SecurityNegotiation.
pub const ISCSI_FLG_CSG_SECURITY: u8 = 0x00;
/// C `ISCSI_FLG_CSG_LOGIN`: CSG = 1, LoginOperationalNegotiation.
pub const ISCSI_FLG_CSG_LOGIN: u8 = 0x04;
/// C `ISCSI_FLG_CSG_FULL_FEATURE`: CSG = 3, FullFeaturePhase.
pub const ISCSI_FLG_CSG_FULL_FEATURE: u8 = 0x0c;
/// C `ISCSI_FLG_CSG_MASK`: the CSG bits (3–2).
pub const ISCSI_FLG_CSG_MASK: u8 = 0x0c;
/// C `ISCSI_FLG_NSG_SECURITY`: NSG = 0, SecurityNegotiation.
pub const ISCSI_FLG_NSG_SECURITY: u8 = 0x00;
/// C `ISCSI_FLG_NSG_LOGIN`: NSG = 1, LoginOperationalNegotiation.
pub const ISCSI_FLG_NSG_LOGIN: u8 = 0x01;
/// C `ISCSI_FLG_NSG_FULL_FEATURE`: NSG = 3, FullFeaturePhase.
pub const ISCSI_FLG_NSG_FULL_FEATURE: u8 = 0x03;
/// C `ISCSI_FLG_NSG_MASK`: the NSG bits (1–0).
pub const ISCSI_FLG_NSG_MASK: u8 = 0x03;

/// C `ISCSI_STATUS_SUCCESS`: login Status-Class 0, Success.
pub const ISCSI_STATUS_SUCCESS: u8 = 0x00;
/// C `ISCSI_STATUS_REDIRECT`: login Status-Class 1, Redirection.
pub const ISCSI_STATUS_REDIRECT: u8 = 0x01;
/// C `ISCSI_STATUS_INITIATOR_ERR`: login Status-Class 2, Initiator Error.
pub const ISCSI_STATUS_INITIATOR_ERR: u8 = 0x02;
/// C `ISCSI_STATUS_TARGET_ERR`: login Status-Class 3, Target Error.
pub const ISCSI_STATUS_TARGET_ERR: u8 = 0x03;

/// C `ISCSI_STATUS_ACCEPT`: Success 0x0000, login is proceeding OK.
pub const ISCSI_STATUS_ACCEPT: u8 = 0x00;

/// C `ISCSI_STATUS_TGT_MOVED_TEMP`: Redirection 0x0101, target moved temporarily.
pub const ISCSI_STATUS_TGT_MOVED_TEMP: u8 = 0x01;
/// C `ISCSI_STATUS_TGT_MOVED_PERM`: Redirection 0x0102, target moved permanently.
pub const ISCSI_STATUS_TGT_MOVED_PERM: u8 = 0x02;

/// C `ISCSI_STATUS_INIT_ERR`: Initiator Error 0x0200, miscellaneous.
pub const ISCSI_STATUS_INIT_ERR: u8 = 0x00;
/// C `ISCSI_STATUS_AUTH_FAILED`: Initiator Error 0x0201, authentication failure.
pub const ISCSI_STATUS_AUTH_FAILED: u8 = 0x01;
/// C `ISCSI_STATUS_TGT_FORBIDDEN`: Initiator Error 0x0202, authorization failure.
pub const ISCSI_STATUS_TGT_FORBIDDEN: u8 = 0x02;
/// C `ISCSI_STATUS_TGT_NOT_FOUND`: Initiator Error 0x0203, not found.
pub const ISCSI_STATUS_TGT_NOT_FOUND: u8 = 0x03;
/// C `ISCSI_STATUS_TGT_REMOVED`: Initiator Error 0x0204, target removed.
pub const ISCSI_STATUS_TGT_REMOVED: u8 = 0x04;
/// C `ISCSI_STATUS_NO_VERSION`: Initiator Error 0x0205, unsupported version.
pub const ISCSI_STATUS_NO_VERSION: u8 = 0x05;
/// C `ISCSI_STATUS_TOO_MANY_CONN`: Initiator Error 0x0206, too many connections.
pub const ISCSI_STATUS_TOO_MANY_CONN: u8 = 0x06;
/// C `ISCSI_STATUS_MISSING_FIELDS`: Initiator Error 0x0207, missing parameter.
pub const ISCSI_STATUS_MISSING_FIELDS: u8 = 0x07;
/// C `ISCSI_STATUS_CONN_ADD_FAILED`: Initiator Error 0x0208, can't include in session.
pub const ISCSI_STATUS_CONN_ADD_FAILED: u8 = 0x08;
/// C `ISCSI_STATUS_INV_SESSION_TYPE`: Initiator Error 0x0209, session type not supported.
pub const ISCSI_STATUS_INV_SESSION_TYPE: u8 = 0x09;
/// C `ISCSI_STATUS_SESSION_NOT_FOUND`: Initiator Error 0x020a, session does not exist.
pub const ISCSI_STATUS_SESSION_NOT_FOUND: u8 = 0x0a;
/// C `ISCSI_STATUS_INV_REQ_TYPE`: Initiator Error 0x020b, invalid during login.
pub const ISCSI_STATUS_INV_REQ_TYPE: u8 = 0x0b;

/// C `ISCSI_STATUS_TARGET_ERROR`: Target Error 0x0300, target error (miscellaneous).
pub const ISCSI_STATUS_TARGET_ERROR: u8 = 0x00;
/// C `ISCSI_STATUS_SVC_UNAVAILABLE`: Target Error 0x0301, service unavailable.
pub const ISCSI_STATUS_SVC_UNAVAILABLE: u8 = 0x01;
/// C `ISCSI_STATUS_NO_RESOURCES`: Target Error 0x0302, out of resources.
pub const ISCSI_STATUS_NO_RESOURCES: u8 = 0x02;

/// C `ISCSI_RESERVED_TAG`: the tag value 0xffffffff ("no tag"; the TTT of a new Text request,
/// the ITT field of a Reject).
pub const ISCSI_RESERVED_TAG: u32 = 0xffff_ffff;

// ---------------------------------------------------------------------------------------------
// Logout
// ---------------------------------------------------------------------------------------------

/// C `struct iscsi_logout_req_hdr`: Logout Request (RFC 3720 §10.14).
#[doc(alias = "iscsi_logout_req_hdr")]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct IscsiLogoutReqHdr {
    /// [`ISCSI_OP_LOGOUT_CMD`], possibly with [`ISCSI_OP_IMMEDIATE`].
    pub opcode: u8,
    /// F bit and the reason code (low 7 bits).
    pub flags: u8,
    /// Reserved.
    pub rsvd1: U16<BigEndian>,
    /// TotalAHSLength.
    pub ahslength: u8,
    /// DataSegmentLength.
    pub datalength: [u8; 3],
    /// Reserved.
    pub rsvd2: [U32<BigEndian>; 2],
    /// Initiator Task Tag.
    pub itt: U32<BigEndian>,
    /// CID of the connection to close.
    pub cid: U16<BigEndian>,
    /// Reserved.
    pub rsvd3: U16<BigEndian>,
    /// CmdSN.
    pub cmd_sn: U32<BigEndian>,
    /// ExpStatSN.
    pub exp_stat_sn: U32<BigEndian>,
    /// Reserved.
    pub rsvd4: [U32<BigEndian>; 4],
}
const _: () = assert!(size_of::<IscsiLogoutReqHdr>() == 48);
const _: () = assert!(offset_of!(IscsiLogoutReqHdr, itt) == 16);
const _: () = assert!(offset_of!(IscsiLogoutReqHdr, cid) == 20);
const _: () = assert!(offset_of!(IscsiLogoutReqHdr, cmd_sn) == 24);
const _: () = assert!(offset_of!(IscsiLogoutReqHdr, exp_stat_sn) == 28);

/// C `struct iscsi_logout_rsp_hdr`: Logout Response (RFC 3720 §10.15).
#[doc(alias = "iscsi_logout_rsp_hdr")]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct IscsiLogoutRspHdr {
    /// [`ISCSI_OP_LOGOUT_RSP`].
    pub opcode: u8,
    /// F bit.
    pub flags: u8,
    /// Response (0: connection or session closed successfully).
    pub response: u8,
    /// Reserved.
    pub rsvd1: u8,
    /// TotalAHSLength.
    pub ahslength: u8,
    /// DataSegmentLength.
    pub datalength: [u8; 3],
    /// Reserved.
    pub rsvd2: [U32<BigEndian>; 2],
    /// Initiator Task Tag (copied from the request).
    pub itt: U32<BigEndian>,
    /// Reserved.
    pub rsvd3: U32<BigEndian>,
    /// StatSN.
    pub stat_sn: U32<BigEndian>,
    /// ExpCmdSN.
    pub exp_cmd_sn: U32<BigEndian>,
    /// MaxCmdSN.
    pub max_cmd_sn: U32<BigEndian>,
    /// Reserved.
    pub rsvd4: U32<BigEndian>,
    /// Time2Wait.
    pub time2wait: U16<BigEndian>,
    /// Time2Retain.
    pub time2retain: U16<BigEndian>,
    /// Reserved.
    pub rsvd5: U32<BigEndian>,
}
const _: () = assert!(size_of::<IscsiLogoutRspHdr>() == 48);
const _: () = assert!(offset_of!(IscsiLogoutRspHdr, response) == 2);
const _: () = assert!(offset_of!(IscsiLogoutRspHdr, stat_sn) == 24);
const _: () = assert!(offset_of!(IscsiLogoutRspHdr, max_cmd_sn) == 32);
const _: () = assert!(offset_of!(IscsiLogoutRspHdr, time2wait) == 40);
const _: () = assert!(offset_of!(IscsiLogoutRspHdr, time2retain) == 42);

// ---------------------------------------------------------------------------------------------
// Reject
// ---------------------------------------------------------------------------------------------

/// C `ISCSI_REASON_NO_FULL_FEATURE_PHASE`: reject reason 0x01 (a pre-RFC name; RFC 3720 lists
/// 0x01 as reserved).
pub const ISCSI_REASON_NO_FULL_FEATURE_PHASE: u8 = 0x01;
/// C `ISCSI_REASON_DATA_DIGEST_ERROR`: reject reason 0x02, data (payload) digest error.
pub const ISCSI_REASON_DATA_DIGEST_ERROR: u8 = 0x02;
/// C `ISCSI_REASON_DATA_SNACK_REJECT`: reject reason 0x03, SNACK reject.
pub const ISCSI_REASON_DATA_SNACK_REJECT: u8 = 0x03;
/// C `ISCSI_REASON_PROTOCOL_ERROR`: reject reason 0x04, protocol error.
pub const ISCSI_REASON_PROTOCOL_ERROR: u8 = 0x04;
/// C `ISCSI_REASON_UNSUPPORTED_COMMAND`: reject reason 0x05, command not supported.
pub const ISCSI_REASON_UNSUPPORTED_COMMAND: u8 = 0x05;
/// C `ISCSI_REASON_IMMEDIATE_COMMAND_REJECT`: reject reason 0x06, too many immediate commands.
pub const ISCSI_REASON_IMMEDIATE_COMMAND_REJECT: u8 = 0x06;
/// C `ISCSI_REASON_TASK_IN_PROGRESS`: reject reason 0x07, task in progress.
pub const ISCSI_REASON_TASK_IN_PROGRESS: u8 = 0x07;
/// C `ISCSI_REASON_INVALID_SNACK`: reject reason 0x08 (RFC 3720: invalid data ack).
pub const ISCSI_REASON_INVALID_SNACK: u8 = 0x08;
/// C `ISCSI_REASON_INVALID_PDU_FIELD`: reject reason 0x09, invalid PDU field.
pub const ISCSI_REASON_INVALID_PDU_FIELD: u8 = 0x09;
/// C `ISCSI_REASON_BOOKMARK_REJECT`: reject reason 0x0a (RFC 3720: long operation reject,
/// can't generate a Target Transfer Tag).
pub const ISCSI_REASON_BOOKMARK_REJECT: u8 = 0x0a;
/// C `ISCSI_REASON_NEGOTIATION_RESET`: reject reason 0x0b, negotiation reset.
pub const ISCSI_REASON_NEGOTIATION_RESET: u8 = 0x0b;
/// C `ISCSI_REASON_WAITING_LOGOUT`: reject reason 0x0c, waiting for logout.
pub const ISCSI_REASON_WAITING_LOGOUT: u8 = 0x0c;

/// C `struct iscsi_reject_hdr`: Reject (RFC 3720 §10.17); the rejected BHS follows as data.
#[doc(alias = "iscsi_reject_hdr")]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct IscsiRejectHdr {
    /// [`ISCSI_OP_REJECT_MSG`].
    pub opcode: u8,
    /// F bit (always set).
    pub flags: u8,
    /// Reason ([`ISCSI_REASON_PROTOCOL_ERROR`] …).
    pub reason: u8,
    /// Reserved.
    pub rsvd1: u8,
    /// TotalAHSLength.
    pub ahslength: u8,
    /// DataSegmentLength (48: the rejected header).
    pub datalength: [u8; 3],
    /// Reserved.
    pub rsvd2: [U32<BigEndian>; 2],
    /// The ITT position, always [`ISCSI_RESERVED_TAG`].
    pub ffffffff: U32<BigEndian>,
    /// Reserved.
    pub rsvd3: U32<BigEndian>,
    /// StatSN.
    pub stat_sn: U32<BigEndian>,
    /// ExpCmdSN.
    pub exp_cmd_sn: U32<BigEndian>,
    /// MaxCmdSN.
    pub max_cmd_sn: U32<BigEndian>,
    /// DataSN/R2TSN (only for data SNACK rejects).
    pub data_sn: U32<BigEndian>,
    /// Reserved.
    pub rsvd4: [U32<BigEndian>; 2],
}
const _: () = assert!(size_of::<IscsiRejectHdr>() == 48);
const _: () = assert!(offset_of!(IscsiRejectHdr, reason) == 2);
const _: () = assert!(offset_of!(IscsiRejectHdr, ffffffff) == 16);
const _: () = assert!(offset_of!(IscsiRejectHdr, stat_sn) == 24);
const _: () = assert!(offset_of!(IscsiRejectHdr, data_sn) == 36);

// ---------------------------------------------------------------------------------------------
// Casts between the generic BHS and the PDU layouts
// ---------------------------------------------------------------------------------------------

macro_rules! bhs_views {
    ($($ty:ident => $cname:literal),* $(,)?) => {$(
        impl $ty {
            #[doc = concat!("The BHS seen as a `", $cname, "` (C: iscsid.c casts the request's ",
                "or the response's BHS to this layout).")]
            pub fn from_hdr(hdr: &IscsiHdr) -> &Self {
                zerocopy::transmute_ref!(hdr)
            }

            #[doc = concat!("The BHS seen as a mutable `", $cname, "` (C: iscsid.c casts the ",
                "response's BHS to this layout to fill it in).")]
            pub fn from_hdr_mut(hdr: &mut IscsiHdr) -> &mut Self {
                zerocopy::transmute_mut!(hdr)
            }

            #[doc = concat!("This `", $cname, "` seen as the generic `struct iscsi_hdr` ",
                "(for [`IscsiHdr::ahssize`], [`IscsiHdr::datasize`] …).")]
            pub fn as_hdr(&self) -> &IscsiHdr {
                zerocopy::transmute_ref!(self)
            }

            #[doc = concat!("This `", $cname, "` seen as a mutable generic `struct iscsi_hdr`.")]
            pub fn as_hdr_mut(&mut self) -> &mut IscsiHdr {
                zerocopy::transmute_mut!(self)
            }
        }
    )*};
}

bhs_views!(
    IscsiTextReqHdr => "struct iscsi_text_req_hdr",
    IscsiTextRspHdr => "struct iscsi_text_rsp_hdr",
    IscsiLoginReqHdr => "struct iscsi_login_req_hdr",
    IscsiLoginRspHdr => "struct iscsi_login_rsp_hdr",
    IscsiLogoutReqHdr => "struct iscsi_logout_req_hdr",
    IscsiLogoutRspHdr => "struct iscsi_logout_rsp_hdr",
    IscsiRejectHdr => "struct iscsi_reject_hdr",
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A Login Request written out by RFC 3720 §10.12 field positions, as an initiator sends
    /// it to move from LoginOperationalNegotiation straight to FullFeaturePhase.
    const LOGIN_REQ: [u8; 48] = [
        0x43, // 0: I bit | opcode 0x03 (Login Request)
        0x87, // 1: T=1, C=0, CSG=01 (operational), NSG=11 (full feature)
        0x00, // 2: Version-max
        0x00, // 3: Version-min
        0x00, // 4: TotalAHSLength
        0x00, 0x01, 0x2c, // 5..8: DataSegmentLength = 300
        0x00, 0x02, 0x3d, 0x01, 0x02, 0x03, // 8..14: ISID (OUI format)
        0x00, 0x00, // 14..16: TSIH = 0 (new session)
        0x12, 0x34, 0x56, 0x78, // 16..20: ITT
        0x00, 0x05, // 20..22: CID = 5
        0x00, 0x00, // 22..24: reserved
        0x00, 0x00, 0x00, 0x2a, // 24..28: CmdSN = 42
        0xde, 0xad, 0xbe, 0xef, // 28..32: ExpStatSN
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // 32..48: reserved
    ];

    #[test]
    fn sizes() {
        assert_eq!(size_of::<IscsiHdr>(), 48);
        assert_eq!(size_of::<IscsiTextReqHdr>(), 48);
        assert_eq!(size_of::<IscsiTextRspHdr>(), 48);
        assert_eq!(size_of::<IscsiLoginReqHdr>(), 48);
        assert_eq!(size_of::<IscsiLoginRspHdr>(), 48);
        assert_eq!(size_of::<IscsiLogoutReqHdr>(), 48);
        assert_eq!(size_of::<IscsiLogoutRspHdr>(), 48);
        assert_eq!(size_of::<IscsiRejectHdr>(), 48);
        assert_eq!(size_of::<IscsiSid>(), 8);
        assert_eq!(size_of::<IscsiAhsHdr>(), 3);
        assert_eq!(core::mem::align_of::<IscsiHdr>(), 1);
        assert_eq!(core::mem::align_of::<IscsiLoginRspHdr>(), 1);
    }

    #[test]
    fn constants_have_rfc3720_values() {
        assert_eq!(ISCSI_VERSION, 0);
        let ops = [
            (ISCSI_OP_NOP_OUT, 0x00),
            (ISCSI_OP_SCSI_CMD, 0x01),
            (ISCSI_OP_SCSI_TASK_MGT_MSG, 0x02),
            (ISCSI_OP_LOGIN_CMD, 0x03),
            (ISCSI_OP_TEXT_CMD, 0x04),
            (ISCSI_OP_SCSI_DATA, 0x05),
            (ISCSI_OP_LOGOUT_CMD, 0x06),
            (ISCSI_OP_SNACK_CMD, 0x10),
            (ISCSI_OP_NOP_IN, 0x20),
            (ISCSI_OP_SCSI_RSP, 0x21),
            (ISCSI_OP_SCSI_TASK_MGT_RSP, 0x22),
            (ISCSI_OP_LOGIN_RSP, 0x23),
            (ISCSI_OP_TEXT_RSP, 0x24),
            (ISCSI_OP_SCSI_DATA_RSP, 0x25),
            (ISCSI_OP_LOGOUT_RSP, 0x26),
            (ISCSI_OP_R2T_RSP, 0x31),
            (ISCSI_OP_ASYNC_EVENT, 0x32),
            (ISCSI_OP_REJECT_MSG, 0x3f),
            (ISCSI_OP_RETRY, 0x80),
            (ISCSI_OP_IMMEDIATE, 0x40),
            (ISCSI_OPCODE_MASK, 0x3f),
        ];
        for (got, want) in ops {
            assert_eq!(got, want);
        }
        let flags = [
            (ISCSI_FLG_CONTINUE, 0x40),
            (ISCSI_FLG_FINAL, 0x80),
            (ISCSI_FLG_TRANSIT, 0x80),
            (ISCSI_FLG_CSG_SECURITY, 0x00),
            (ISCSI_FLG_CSG_LOGIN, 0x04),
            (ISCSI_FLG_CSG_FULL_FEATURE, 0x0c),
            (ISCSI_FLG_CSG_MASK, 0x0c),
            (ISCSI_FLG_NSG_SECURITY, 0x00),
            (ISCSI_FLG_NSG_LOGIN, 0x01),
            (ISCSI_FLG_NSG_FULL_FEATURE, 0x03),
            (ISCSI_FLG_NSG_MASK, 0x03),
        ];
        for (got, want) in flags {
            assert_eq!(got, want);
        }
        // Status-Class << 8 | Status-Detail, as RFC 3720 §10.13.5 tabulates them.
        let status = [
            (ISCSI_STATUS_SUCCESS, ISCSI_STATUS_ACCEPT, 0x0000),
            (ISCSI_STATUS_REDIRECT, ISCSI_STATUS_TGT_MOVED_TEMP, 0x0101),
            (ISCSI_STATUS_REDIRECT, ISCSI_STATUS_TGT_MOVED_PERM, 0x0102),
            (ISCSI_STATUS_INITIATOR_ERR, ISCSI_STATUS_INIT_ERR, 0x0200),
            (ISCSI_STATUS_INITIATOR_ERR, ISCSI_STATUS_AUTH_FAILED, 0x0201),
            (
                ISCSI_STATUS_INITIATOR_ERR,
                ISCSI_STATUS_TGT_FORBIDDEN,
                0x0202,
            ),
            (
                ISCSI_STATUS_INITIATOR_ERR,
                ISCSI_STATUS_TGT_NOT_FOUND,
                0x0203,
            ),
            (ISCSI_STATUS_INITIATOR_ERR, ISCSI_STATUS_TGT_REMOVED, 0x0204),
            (ISCSI_STATUS_INITIATOR_ERR, ISCSI_STATUS_NO_VERSION, 0x0205),
            (
                ISCSI_STATUS_INITIATOR_ERR,
                ISCSI_STATUS_TOO_MANY_CONN,
                0x0206,
            ),
            (
                ISCSI_STATUS_INITIATOR_ERR,
                ISCSI_STATUS_MISSING_FIELDS,
                0x0207,
            ),
            (
                ISCSI_STATUS_INITIATOR_ERR,
                ISCSI_STATUS_CONN_ADD_FAILED,
                0x0208,
            ),
            (
                ISCSI_STATUS_INITIATOR_ERR,
                ISCSI_STATUS_INV_SESSION_TYPE,
                0x0209,
            ),
            (
                ISCSI_STATUS_INITIATOR_ERR,
                ISCSI_STATUS_SESSION_NOT_FOUND,
                0x020a,
            ),
            (
                ISCSI_STATUS_INITIATOR_ERR,
                ISCSI_STATUS_INV_REQ_TYPE,
                0x020b,
            ),
            (ISCSI_STATUS_TARGET_ERR, ISCSI_STATUS_TARGET_ERROR, 0x0300),
            (
                ISCSI_STATUS_TARGET_ERR,
                ISCSI_STATUS_SVC_UNAVAILABLE,
                0x0301,
            ),
            (ISCSI_STATUS_TARGET_ERR, ISCSI_STATUS_NO_RESOURCES, 0x0302),
        ];
        for (class, detail, want) in status {
            assert_eq!(u16::from_be_bytes([class, detail]), want);
        }
        let reasons = [
            ISCSI_REASON_NO_FULL_FEATURE_PHASE,
            ISCSI_REASON_DATA_DIGEST_ERROR,
            ISCSI_REASON_DATA_SNACK_REJECT,
            ISCSI_REASON_PROTOCOL_ERROR,
            ISCSI_REASON_UNSUPPORTED_COMMAND,
            ISCSI_REASON_IMMEDIATE_COMMAND_REJECT,
            ISCSI_REASON_TASK_IN_PROGRESS,
            ISCSI_REASON_INVALID_SNACK,
            ISCSI_REASON_INVALID_PDU_FIELD,
            ISCSI_REASON_BOOKMARK_REJECT,
            ISCSI_REASON_NEGOTIATION_RESET,
            ISCSI_REASON_WAITING_LOGOUT,
        ];
        assert_eq!(reasons, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        assert_eq!(ISCSI_RESERVED_TAG, 0xffff_ffff);
        assert_eq!((ISCSI_AHSTYPE_CDB, ISCSI_AHSTYPE_RLENGTH), (1, 2));
    }

    #[test]
    fn login_request_from_known_bytes() {
        let hdr = IscsiHdr::read_from_bytes(&LOGIN_REQ[..]).unwrap();
        assert_eq!(hdr.opcode & ISCSI_OPCODE_MASK, ISCSI_OP_LOGIN_CMD);
        assert_eq!(hdr.opcode & ISCSI_OP_IMMEDIATE, ISCSI_OP_IMMEDIATE);
        assert_eq!(hdr.ahssize(), 0);
        assert_eq!(hdr.datasize(), 300);
        assert_eq!(hdr.itt.get(), 0x1234_5678);
        assert_eq!(hdr.sn.get(), 42);
        assert_eq!(hdr.exp_sn.get(), 0xdead_beef);

        let req = IscsiLoginReqHdr::from_hdr(&hdr);
        assert_eq!(req.flags & ISCSI_FLG_TRANSIT, ISCSI_FLG_TRANSIT);
        assert_eq!(req.flags & ISCSI_FLG_CONTINUE, 0);
        assert_eq!(req.flags & ISCSI_FLG_CSG_MASK, ISCSI_FLG_CSG_LOGIN);
        assert_eq!(req.flags & ISCSI_FLG_NSG_MASK, ISCSI_FLG_NSG_FULL_FEATURE);
        assert_eq!(req.max_version, 0);
        assert_eq!(req.min_version, 0);
        assert_eq!(req.datalength, [0x00, 0x01, 0x2c]);
        assert_eq!(req.sid.isid, [0x00, 0x02, 0x3d, 0x01, 0x02, 0x03]);
        assert_eq!(req.sid.tsih.get(), 0);
        assert_eq!(
            req.sid.id64(),
            u64::from_ne_bytes([0x00, 0x02, 0x3d, 0x01, 0x02, 0x03, 0x00, 0x00])
        );
        assert_eq!(req.itt.get(), 0x1234_5678);
        assert_eq!(req.cid.get(), 5);
        assert_eq!(req.rsvd1.get(), 0);
        assert_eq!(req.cmd_sn.get(), 42);
        assert_eq!(req.exp_stat_sn.get(), 0xdead_beef);
        assert_eq!(req.rsvd2, [U32::ZERO; 4]);
        assert_eq!(req.as_bytes(), &LOGIN_REQ[..]);

        // The same bytes read directly as the login layout.
        let direct = IscsiLoginReqHdr::read_from_bytes(&LOGIN_REQ[..]).unwrap();
        assert_eq!(&direct, req);
        assert_eq!(direct.as_hdr(), &hdr);
    }

    #[test]
    fn login_response_encodes_to_known_bytes() {
        let mut hdr = IscsiHdr::default();
        {
            let rsp = IscsiLoginRspHdr::from_hdr_mut(&mut hdr);
            rsp.opcode = ISCSI_OP_LOGIN_RSP;
            rsp.flags = ISCSI_FLG_TRANSIT | ISCSI_FLG_CSG_LOGIN | ISCSI_FLG_NSG_FULL_FEATURE;
            rsp.max_version = ISCSI_VERSION;
            rsp.active_version = ISCSI_VERSION;
            rsp.sid.isid = [0x00, 0x02, 0x3d, 0x01, 0x02, 0x03];
            rsp.sid.tsih.set(0x0102);
            rsp.itt = U32::new(0x1234_5678);
            rsp.stat_sn.set(7);
            rsp.exp_cmd_sn.set(42);
            rsp.max_cmd_sn.set(43);
            rsp.status_class = ISCSI_STATUS_INITIATOR_ERR;
            rsp.status_detail = ISCSI_STATUS_TGT_NOT_FOUND;
            rsp.as_hdr_mut().set_datasize(0x0001_0203);
        }
        let tsih = 0x0102u16.to_ne_bytes();
        let want: [u8; 48] = [
            0x23, 0x87, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, // opcode … DataSegmentLength
            0x00, 0x02, 0x3d, 0x01, 0x02, 0x03, tsih[0], tsih[1], // ISID, TSIH (host order)
            0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0, // ITT, reserved
            0, 0, 0, 7, 0, 0, 0, 42, // StatSN, ExpCmdSN
            0, 0, 0, 43, 0x02, 0x03, 0, 0, // MaxCmdSN, Status-Class, Status-Detail
            0, 0, 0, 0, 0, 0, 0, 0, // reserved
        ];
        assert_eq!(hdr.as_bytes(), &want[..]);
        assert_eq!(hdr.datasize(), 0x0001_0203);
    }

    #[test]
    fn text_logout_reject_field_positions() {
        let bytes: [u8; 48] = core::array::from_fn(|i| u8::try_from(i).unwrap());
        let hdr = IscsiHdr::read_from_bytes(&bytes[..]).unwrap();

        let t = IscsiTextReqHdr::from_hdr(&hdr);
        assert_eq!(t.rsvd1.get(), 0x0203);
        assert_eq!(t.itt.get(), 0x1011_1213);
        assert_eq!(t.ttt.get(), 0x1415_1617);
        assert_eq!(t.cmd_sn.get(), 0x1819_1a1b);
        assert_eq!(t.exp_stat_sn.get(), 0x1c1d_1e1f);
        let t = IscsiTextRspHdr::from_hdr(&hdr);
        assert_eq!(t.stat_sn.get(), 0x1819_1a1b);
        assert_eq!(t.exp_cmd_sn.get(), 0x1c1d_1e1f);
        assert_eq!(t.max_cmd_sn.get(), 0x2021_2223);
        assert_eq!(t.rsvd3[2].get(), 0x2c2d_2e2f);

        let l = IscsiLogoutReqHdr::from_hdr(&hdr);
        assert_eq!(l.cid.get(), 0x1415);
        assert_eq!(l.rsvd3.get(), 0x1617);
        assert_eq!(l.cmd_sn.get(), 0x1819_1a1b);
        let l = IscsiLogoutRspHdr::from_hdr(&hdr);
        assert_eq!(l.response, 0x02);
        assert_eq!(l.rsvd1, 0x03);
        assert_eq!(l.stat_sn.get(), 0x1819_1a1b);
        assert_eq!(l.rsvd4.get(), 0x2425_2627);
        assert_eq!(l.time2wait.get(), 0x2829);
        assert_eq!(l.time2retain.get(), 0x2a2b);
        assert_eq!(l.rsvd5.get(), 0x2c2d_2e2f);

        let r = IscsiRejectHdr::from_hdr(&hdr);
        assert_eq!(r.reason, 0x02);
        assert_eq!(r.ffffffff.get(), 0x1011_1213);
        assert_eq!(r.stat_sn.get(), 0x1819_1a1b);
        assert_eq!(r.data_sn.get(), 0x2425_2627);
        assert_eq!(r.rsvd4[1].get(), 0x2c2d_2e2f);

        let rsp = IscsiLoginRspHdr::from_hdr(&hdr);
        assert_eq!(rsp.active_version, 0x03);
        assert_eq!(rsp.status_class, 0x24);
        assert_eq!(rsp.status_detail, 0x25);
        assert_eq!(rsp.rsvd2[9], 0x2f);

        assert_eq!(hdr.lun[3].get(), 0x0e0f);
        assert_eq!(hdr.ttt.get(), 0x1415_1617);
        assert_eq!(hdr.max_sn.get(), 0x2021_2223);
        assert_eq!(hdr.spec3[0].get(), 0x2425_2627);
        assert_eq!(hdr.spec1, [2, 3]);
        assert_eq!(hdr.ahssize(), 16);

        let ahs = IscsiAhsHdr::read_from_bytes(&[0x01, 0x02, ISCSI_AHSTYPE_CDB][..]).unwrap();
        assert_eq!(ahs.ahslength.get(), 0x0102);
        assert_eq!(ahs.ahstype, ISCSI_AHSTYPE_CDB);
    }

    #[test]
    fn datalength_24_bit() {
        assert_eq!(hton24(0x12_3456), [0x12, 0x34, 0x56]);
        assert_eq!(ntoh24([0x12, 0x34, 0x56]), 0x12_3456);
        assert_eq!(ntoh24([0xff, 0xff, 0xff]), 0xff_ffff);
        // C's `u8` stores keep only the low 24 bits.
        assert_eq!(hton24(0x0123_4567), [0x23, 0x45, 0x67]);
        let mut hdr = IscsiHdr::default();
        hdr.set_datasize(8192);
        assert_eq!(hdr.datalength, [0x00, 0x20, 0x00]);
        assert_eq!(hdr.datasize(), 8192);
        hdr.ahslength = 3;
        assert_eq!(hdr.ahssize(), 12);
    }

    #[test]
    fn sid_is_host_order_u64() {
        let mut sid = IscsiSid {
            isid: [1, 2, 3, 4, 5, 6],
            tsih: U16::new(0x0708),
        };
        let mut want = [1, 2, 3, 4, 5, 6, 0, 0];
        want[6..].copy_from_slice(&0x0708u16.to_ne_bytes());
        assert_eq!(sid.id64(), u64::from_ne_bytes(want));
        assert_eq!(sid.as_bytes(), &want[..]);
        sid.set_id64(0x1122_3344_5566_7788);
        assert_eq!(sid.as_bytes(), &0x1122_3344_5566_7788u64.to_ne_bytes()[..]);
        assert_eq!(IscsiSid::from_id64(sid.id64()), sid);
    }

    fn bhs() -> impl Strategy<Value = [u8; 48]> {
        proptest::collection::vec(any::<u8>(), 48).prop_map(|v| {
            let mut a = [0u8; 48];
            a.copy_from_slice(&v);
            a
        })
    }

    proptest! {
        #[test]
        fn any_bhs_round_trips_through_every_layout(b in bhs()) {
            let hdr = IscsiHdr::read_from_bytes(&b[..]).unwrap();
            prop_assert_eq!(hdr.as_bytes(), &b[..]);
            prop_assert_eq!(IscsiTextReqHdr::from_hdr(&hdr).as_bytes(), &b[..]);
            prop_assert_eq!(IscsiTextRspHdr::from_hdr(&hdr).as_bytes(), &b[..]);
            prop_assert_eq!(IscsiLoginReqHdr::from_hdr(&hdr).as_bytes(), &b[..]);
            prop_assert_eq!(IscsiLoginRspHdr::from_hdr(&hdr).as_bytes(), &b[..]);
            prop_assert_eq!(IscsiLogoutReqHdr::from_hdr(&hdr).as_bytes(), &b[..]);
            prop_assert_eq!(IscsiLogoutRspHdr::from_hdr(&hdr).as_bytes(), &b[..]);
            prop_assert_eq!(IscsiRejectHdr::from_hdr(&hdr).as_bytes(), &b[..]);
            prop_assert_eq!(hdr.datasize(), ntoh24([b[5], b[6], b[7]]));
            prop_assert_eq!(
                IscsiLoginReqHdr::from_hdr(&hdr).sid.id64(),
                u64::from_ne_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]])
            );
        }

        #[test]
        fn login_rsp_encode_decode(
            flags: u8, isid: [u8; 6], tsih: u16, itt: u32, stat_sn: u32, exp_cmd_sn: u32,
            class: u8, detail: u8, datasize in 0u32..0x100_0000,
        ) {
            let mut rsp = IscsiLoginRspHdr {
                opcode: ISCSI_OP_LOGIN_RSP,
                flags,
                sid: IscsiSid { isid, tsih: U16::new(tsih) },
                itt: U32::new(itt),
                stat_sn: U32::new(stat_sn),
                exp_cmd_sn: U32::new(exp_cmd_sn),
                max_cmd_sn: U32::new(exp_cmd_sn.wrapping_add(1)),
                status_class: class,
                status_detail: detail,
                ..Default::default()
            };
            rsp.as_hdr_mut().set_datasize(datasize);
            let bytes = rsp.as_bytes().to_vec();
            prop_assert_eq!(&bytes[16..20], &itt.to_be_bytes()[..]);
            prop_assert_eq!(&bytes[24..28], &stat_sn.to_be_bytes()[..]);
            prop_assert_eq!(&bytes[28..32], &exp_cmd_sn.to_be_bytes()[..]);
            prop_assert_eq!(&bytes[14..16], &tsih.to_ne_bytes()[..]);
            prop_assert_eq!(bytes[36], class);
            prop_assert_eq!(bytes[37], detail);
            let back = IscsiLoginRspHdr::read_from_bytes(&bytes).unwrap();
            prop_assert_eq!(back, rsp);
            prop_assert_eq!(back.as_hdr().datasize(), datasize);
            prop_assert_eq!(back.max_cmd_sn.get(), exp_cmd_sn.wrapping_add(1));
        }

        #[test]
        fn text_and_logout_encode_decode(itt: u32, ttt: u32, cmd_sn: u32, cid: u16, t2w: u16) {
            let req = IscsiTextReqHdr {
                opcode: ISCSI_OP_TEXT_CMD | ISCSI_OP_IMMEDIATE,
                flags: ISCSI_FLG_FINAL,
                itt: U32::new(itt),
                ttt: U32::new(ttt),
                cmd_sn: U32::new(cmd_sn),
                ..Default::default()
            };
            let back = IscsiTextReqHdr::read_from_bytes(req.as_bytes()).unwrap();
            prop_assert_eq!(back, req);
            prop_assert_eq!(back.as_hdr().sn.get(), cmd_sn);
            prop_assert_eq!(back.as_hdr().ttt.get(), ttt);

            let lo = IscsiLogoutReqHdr { cid: U16::new(cid), ..Default::default() };
            prop_assert_eq!(&lo.as_bytes()[20..22], &cid.to_be_bytes()[..]);
            let lr = IscsiLogoutRspHdr { time2wait: U16::new(t2w), ..Default::default() };
            prop_assert_eq!(&lr.as_bytes()[40..42], &t2w.to_be_bytes()[..]);
            prop_assert_eq!(IscsiLogoutRspHdr::read_from_bytes(lr.as_bytes()).unwrap(), lr);
        }

        #[test]
        fn hton24_ntoh24(v in 0u32..0x100_0000, hi in 0u32..0x100) {
            prop_assert_eq!(ntoh24(hton24(v)), v);
            prop_assert_eq!(hton24(v | (hi << 24)), hton24(v));
        }
    }
}
