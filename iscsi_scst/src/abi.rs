// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2007 - 2016 Vladislav Bolkhovitin
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! The ABI between iscsi-scstd and the iSCSI target driver: the port of
//! `iscsi-scst/include/iscsi_scst.h` (plus `ISCSI_VERSION_STRING` from `iscsi_scst_ver.h`).
//!
//! The daemon drives the driver with ioctls on the control device `iscsi-scst-ctl` (see
//! [`kemu::chrdev`]) and receives [`iscsi_kern_event`]s over the netlink channel. Both sides of
//! the port live in one process, but the byte layouts and command numbers are the ones of the
//! C build for x86_64, so the in-process transport could be swapped for a real one.
//!
//! This is the **procfs build** (`CONFIG_SCST_PROC`): [`iscsi_kern_session_info`] carries
//! `user_name` (976 bytes), [`iscsi_kern_event`] carries `target_name` (296 bytes, r7105), and the
//! only event code is [`E_CONN_CLOSE`] = 0. The sysfs-only ioctls ([`ISCSI_ATTR_ADD`],
//! [`ISCSI_ATTR_DEL`], [`MGMT_CMD_CALLBACK`]) are defined for completeness; a procfs driver
//! rejects them like any unknown command.
//!
//! Naming: as `docs/PORTING.md` decides for the ABI shared with the daemon, the structs keep
//! their C names verbatim (`iscsi_kern_target_info`, with `non_camel_case_types` allowed), and
//! so do fields and constants, including the lowercase key indices (`key_initial_r2t`, …), so
//! that `info.session_params[key_max_recv_data_length]` reads as in C.
//! `aligned_u64` is a `u64` in a struct aligned to 8, and the padding C inserts implicitly is an
//! explicit public field (`_pad`, `_pad_end`; zero in a [`Default`] value, which is what C's
//! `memset` gives), so every struct is `FromBytes + IntoBytes` without hidden bytes and can be
//! built with `..Default::default()`. Fixed-size C strings are `[u8; N]`; use [`set_cstr`] and
//! [`cstr`] to fill and read them.
//!
//! [`iscsi_kern_event`]: crate::abi::iscsi_kern_event
//! [`iscsi_kern_session_info`]: crate::abi::iscsi_kern_session_info
//! [`E_CONN_CLOSE`]: crate::abi::E_CONN_CLOSE
//! [`ISCSI_ATTR_ADD`]: crate::abi::ISCSI_ATTR_ADD
//! [`ISCSI_ATTR_DEL`]: crate::abi::ISCSI_ATTR_DEL
//! [`MGMT_CMD_CALLBACK`]: crate::abi::MGMT_CMD_CALLBACK
//! [`set_cstr`]: crate::abi::set_cstr
//! [`cstr`]: crate::abi::cstr
#![doc(alias = "iscsi_scst.h")]
// The key indices keep the lowercase names of the C enums.
#![allow(non_upper_case_globals)]

use core::mem::{align_of, offset_of, size_of};

use kemu::chrdev::{_IOW, _IOWR};
use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout};

// ---------------------------------------------------------------------------------------------
// Versions
// ---------------------------------------------------------------------------------------------

/// C `ISCSI_VERSION_STRING` (`iscsi_scst_ver.h`) of the procfs build of r7105.
pub const ISCSI_VERSION_STRING: &str = "3.3.0-pre1-procfs";

/// C `ISCSI_SCST_INTERFACE_VERSION` (generated `iscsi_scst_itf_ver.h`): the string the daemon
/// passes with `REGISTER_USERD`, which the driver compares with its own (`-EINVAL` on mismatch).
///
/// Upstream generates it at build time as `ISCSI_VERSION_STRING "_"` followed by the SHA-1 of
/// `iscsi_scst.h`. The port builds both sides from this one constant, so only equality matters;
/// the hash used here is that of the r7105 header file, a placeholder whose equality with a real
/// upstream build is **unverified**.
pub const ISCSI_SCST_INTERFACE_VERSION: &str =
    "3.3.0-pre1-procfs_f6e6f0111c78715d100473843c8cb4905e6cb186";

// ---------------------------------------------------------------------------------------------
// Sizes and well-known numbers
// ---------------------------------------------------------------------------------------------

/// C `ISCSI_NAME_LEN`: room for an iSCSI name (RFC 3720 allows 223 bytes) with its NUL.
pub const ISCSI_NAME_LEN: usize = 256;
/// C `ISCSI_PORTAL_LEN`: room for a portal address.
pub const ISCSI_PORTAL_LEN: usize = 64;
/// C `ISCSI_FULL_NAME_LEN`: an initiator name followed by `#` and the portal it connected to.
pub const ISCSI_FULL_NAME_LEN: usize = ISCSI_NAME_LEN + ISCSI_PORTAL_LEN;
/// C `ISCSI_LISTEN_PORT`: the IANA iSCSI port.
pub const ISCSI_LISTEN_PORT: u16 = 3260;
/// C `SCSI_ID_LEN`.
pub const SCSI_ID_LEN: usize = 24;
/// C `ISCSI_MAX_ATTR_NAME_LEN`: size of [`iscsi_kern_attr::name`].
pub const ISCSI_MAX_ATTR_NAME_LEN: usize = 50;
/// C `ISCSI_MAX_ATTR_VALUE_LEN`: size of [`iscsi_kern_mgmt_cmd_res_info::value`].
pub const ISCSI_MAX_ATTR_VALUE_LEN: usize = 512;
/// C `NETLINK_ISCSI_SCST`: the netlink protocol number of the event channel.
pub const NETLINK_ISCSI_SCST: i32 = 25;

// ---------------------------------------------------------------------------------------------
// Session keys (indices into `session_params[]`), in the order of the C enum
// ---------------------------------------------------------------------------------------------

/// C `key_initial_r2t` (InitialR2T).
pub const key_initial_r2t: usize = 0;
/// C `key_immediate_data` (ImmediateData).
pub const key_immediate_data: usize = 1;
/// C `key_max_connections` (MaxConnections).
pub const key_max_connections: usize = 2;
/// C `key_max_recv_data_length` (MaxRecvDataSegmentLength).
pub const key_max_recv_data_length: usize = 3;
/// C `key_max_xmit_data_length` (MaxXmitDataSegmentLength, internal: see
/// [`iscsi_is_key_internal`]).
pub const key_max_xmit_data_length: usize = 4;
/// C `key_max_burst_length` (MaxBurstLength).
pub const key_max_burst_length: usize = 5;
/// C `key_first_burst_length` (FirstBurstLength).
pub const key_first_burst_length: usize = 6;
/// C `key_default_wait_time` (DefaultTime2Wait).
pub const key_default_wait_time: usize = 7;
/// C `key_default_retain_time` (DefaultTime2Retain).
pub const key_default_retain_time: usize = 8;
/// C `key_max_outstanding_r2t` (MaxOutstandingR2T).
pub const key_max_outstanding_r2t: usize = 9;
/// C `key_data_pdu_inorder` (DataPDUInOrder).
pub const key_data_pdu_inorder: usize = 10;
/// C `key_data_sequence_inorder` (DataSequenceInOrder).
pub const key_data_sequence_inorder: usize = 11;
/// C `key_error_recovery_level` (ErrorRecoveryLevel).
pub const key_error_recovery_level: usize = 12;
/// C `key_header_digest` (HeaderDigest; a `DIGEST_*` mask).
pub const key_header_digest: usize = 13;
/// C `key_data_digest` (DataDigest; a `DIGEST_*` mask).
pub const key_data_digest: usize = 14;
/// C `key_ofmarker` (OFMarker).
pub const key_ofmarker: usize = 15;
/// C `key_ifmarker` (IFMarker).
pub const key_ifmarker: usize = 16;
/// C `key_ofmarkint` (OFMarkInt).
pub const key_ofmarkint: usize = 17;
/// C `key_ifmarkint` (IFMarkInt).
pub const key_ifmarkint: usize = 18;
/// C `key_rdma_extensions` (RDMAExtensions, iSER).
pub const key_rdma_extensions: usize = 19;
/// C `key_target_recv_data_length` (TargetRecvDataSegmentLength, iSER).
pub const key_target_recv_data_length: usize = 20;
/// C `key_initiator_recv_data_length` (InitiatorRecvDataSegmentLength, iSER).
pub const key_initiator_recv_data_length: usize = 21;
/// C `key_max_ahs_length` (MaxAHSLength, iSER).
pub const key_max_ahs_length: usize = 22;
/// C `key_tagged_buffer_for_solicited_data_only` (TaggedBufferForSolicitedDataOnly, iSER).
pub const key_tagged_buffer_for_solicited_data_only: usize = 23;
/// C `key_iser_hello_required` (iSERHelloRequired).
pub const key_iser_hello_required: usize = 24;
/// C `key_max_outstanding_unexpected_pdus` (MaxOutstandingUnexpectedPDUs, iSER).
pub const key_max_outstanding_unexpected_pdus: usize = 25;
/// C `session_key_last`: the number of session keys, the length of `session_params[]`.
pub const session_key_last: usize = 26;

// ---------------------------------------------------------------------------------------------
// Target keys (indices into `target_params[]`), in the order of the C enum
// ---------------------------------------------------------------------------------------------

/// C `key_queued_cmnds` (QueuedCommands).
pub const key_queued_cmnds: usize = 0;
/// C `key_rsp_timeout` (RspTimeout).
pub const key_rsp_timeout: usize = 1;
/// C `key_nop_in_interval` (NopInInterval).
pub const key_nop_in_interval: usize = 2;
/// C `key_nop_in_timeout` (NopInTimeout).
pub const key_nop_in_timeout: usize = 3;
/// C `key_max_sessions` (MaxSessions; its limits 0..65535 live in the daemon's `param.c`).
pub const key_max_sessions: usize = 4;
/// C `target_key_last`: the number of target keys, the length of `target_params[]`.
pub const target_key_last: usize = 5;

// ---------------------------------------------------------------------------------------------
// params_type values of iscsi_kern_params_info
// ---------------------------------------------------------------------------------------------

/// C `key_session`: [`iscsi_kern_params_info::params_type`] for session parameters.
pub const key_session: u32 = 0;
/// C `key_target`: [`iscsi_kern_params_info::params_type`] for target parameters.
pub const key_target: u32 = 1;

// ---------------------------------------------------------------------------------------------
// Digests and target key limits
// ---------------------------------------------------------------------------------------------

/// C `DIGEST_NONE`: the "None" digest bit (bit 0).
pub const DIGEST_NONE: i32 = 0b01;
/// C `DIGEST_CRC32C`: the "CRC32C" digest bit (bit 1).
pub const DIGEST_CRC32C: i32 = 0b10;
/// C `DIGEST_ALL`: both digest bits (`DIGEST_NONE | DIGEST_CRC32C`).
pub const DIGEST_ALL: i32 = 0b11;

/// C `DEFAULT_NR_QUEUED_CMNDS`: QueuedCommands default.
pub const DEFAULT_NR_QUEUED_CMNDS: i32 = 32;
/// C `MIN_NR_QUEUED_CMNDS`: QueuedCommands minimum.
pub const MIN_NR_QUEUED_CMNDS: i32 = 1;
/// C `MAX_NR_QUEUED_CMNDS`: QueuedCommands maximum, also the `max_queued_cmds` the driver
/// reports on `REGISTER_USERD`.
pub const MAX_NR_QUEUED_CMNDS: i32 = 2048;

/// C `DEFAULT_RSP_TIMEOUT`: RspTimeout default, seconds.
pub const DEFAULT_RSP_TIMEOUT: i32 = 90;
/// C `MIN_RSP_TIMEOUT`: RspTimeout minimum.
pub const MIN_RSP_TIMEOUT: i32 = 2;
/// C `MAX_RSP_TIMEOUT`: RspTimeout maximum.
pub const MAX_RSP_TIMEOUT: i32 = 65535;

/// C `DEFAULT_NOP_IN_INTERVAL`: NopInInterval default, seconds (0 disables NOP-In).
pub const DEFAULT_NOP_IN_INTERVAL: i32 = 30;
/// C `MIN_NOP_IN_INTERVAL`: NopInInterval minimum.
pub const MIN_NOP_IN_INTERVAL: i32 = 0;
/// C `MAX_NOP_IN_INTERVAL`: NopInInterval maximum.
pub const MAX_NOP_IN_INTERVAL: i32 = 65535;

/// C `DEFAULT_NOP_IN_TIMEOUT`: NopInTimeout default, seconds.
pub const DEFAULT_NOP_IN_TIMEOUT: i32 = 30;
/// C `MIN_NOP_IN_TIMEOUT`: NopInTimeout minimum.
pub const MIN_NOP_IN_TIMEOUT: i32 = 2;
/// C `MAX_NOP_IN_TIMEOUT`: NopInTimeout maximum.
pub const MAX_NOP_IN_TIMEOUT: i32 = 65535;

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

/// C `E_CONN_CLOSE` of `enum iscsi_kern_event_code`: the driver closed a connection. In the
/// procfs build it is the only code, hence 0 (it is 7 in the sysfs build).
pub const E_CONN_CLOSE: u32 = 0;

/// C `iscsi_is_key_internal()`: whether a session key is used by the target only and never
/// negotiated as such (only `key_max_xmit_data_length`).
pub const fn iscsi_is_key_internal(key: usize) -> bool {
    key == key_max_xmit_data_length
}

// ---------------------------------------------------------------------------------------------
// Structs
// ---------------------------------------------------------------------------------------------

/// C `struct iscsi_kern_target_info`: argument of `ADD_TARGET` and `DEL_TARGET`.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C, align(8))]
pub struct iscsi_kern_target_info {
    /// Target id; 0 on `ADD_TARGET` lets the driver choose (the ioctl returns the tid).
    pub tid: u32,
    /// Pending sysfs request to complete (sysfs build; 0 in procfs).
    pub cookie: u32,
    /// Target name, NUL-terminated.
    pub name: [u8; ISCSI_NAME_LEN],
    /// Number of [`iscsi_kern_attr`] at `attrs_ptr` (sysfs build).
    pub attrs_num: u32,
    /// Padding that C inserts implicitly before the 8-aligned field; keep it zero.
    pub _pad: u32,
    /// User address of `attrs_num` [`iscsi_kern_attr`] (C `aligned_u64`).
    pub attrs_ptr: u64,
}

/// C `struct iscsi_kern_session_info`, procfs layout (with `user_name`): argument of
/// `ADD_SESSION` and `DEL_SESSION`.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C, align(8))]
pub struct iscsi_kern_session_info {
    /// Target id.
    pub tid: u32,
    /// Padding that C inserts implicitly before the 8-aligned field; keep it zero.
    pub _pad: u32,
    /// Session id (ISID and TSIH; C `aligned_u64`).
    pub sid: u64,
    /// Initiator name, NUL-terminated.
    pub initiator_name: [u8; ISCSI_NAME_LEN],
    /// CHAP user name of the session (procfs build only), NUL-terminated.
    pub user_name: [u8; ISCSI_NAME_LEN],
    /// `"<initiator>#<portal>"` with per-portal ACLs, else the initiator name.
    pub full_initiator_name: [u8; ISCSI_FULL_NAME_LEN],
    /// Expected CmdSN at session start.
    pub exp_cmd_sn: u32,
    /// Negotiated values, indexed by `key_initial_r2t` … `key_max_outstanding_unexpected_pdus`.
    pub session_params: [i32; session_key_last],
    /// Target values, indexed by `key_queued_cmnds` … `key_max_sessions`.
    pub target_params: [i32; target_key_last],
}

/// C `struct iscsi_kern_conn_info`: argument of `ADD_CONN` and `DEL_CONN`.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C, align(8))]
pub struct iscsi_kern_conn_info {
    /// Target id.
    pub tid: u32,
    /// Padding that C inserts implicitly before the 8-aligned field; keep it zero.
    pub _pad: u32,
    /// Session id (C `aligned_u64`).
    pub sid: u64,
    /// Connection id.
    pub cid: u32,
    /// StatSN to continue from.
    pub stat_sn: u32,
    /// ExpStatSN from the login.
    pub exp_stat_sn: u32,
    /// The daemon's TCP socket descriptor, taken over by the driver on `ADD_CONN`.
    pub fd: i32,
}

/// C `struct iscsi_kern_attr`: one target attribute (sysfs build), element of the array at
/// [`iscsi_kern_target_info::attrs_ptr`].
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct iscsi_kern_attr {
    /// Permission bits; the driver keeps only `0444 | 0222`.
    pub mode: u32,
    /// Attribute name, NUL-terminated.
    pub name: [u8; ISCSI_MAX_ATTR_NAME_LEN],
    /// Tail padding that C inserts implicitly (size rounded to 4); keep it zero.
    pub _pad: [u8; 2],
}

/// C `struct iscsi_kern_mgmt_cmd_res_info`: argument of `MGMT_CMD_CALLBACK` (sysfs build).
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct iscsi_kern_mgmt_cmd_res_info {
    /// Target id.
    pub tid: u32,
    /// Cookie of the event being answered.
    pub cookie: u32,
    /// Event code being answered.
    pub req_cmd: u32,
    /// 0 or a negative errno, stored as in C in an unsigned field.
    pub result: u32,
    /// Attribute value for `E_GET_ATTR_VALUE`, NUL-terminated.
    pub value: [u8; ISCSI_MAX_ATTR_VALUE_LEN],
}

/// C `struct iscsi_kern_params_info`: argument of `ISCSI_PARAM_SET` and `ISCSI_PARAM_GET`.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C, align(8))]
pub struct iscsi_kern_params_info {
    /// Target id.
    pub tid: u32,
    /// Padding that C inserts implicitly before the 8-aligned field; keep it zero.
    pub _pad: u32,
    /// Session id (C `aligned_u64`; unused for target parameters).
    pub sid: u64,
    /// [`key_session`] or [`key_target`].
    pub params_type: u32,
    /// Non-zero: set only some parameters (the driver's `partial` handling).
    pub partial: u32,
    /// Session values, indexed by the session keys.
    pub session_params: [i32; session_key_last],
    /// Target values, indexed by the target keys.
    pub target_params: [i32; target_key_last],
    /// Tail padding that C inserts implicitly (size rounded to 8); keep it zero.
    pub _pad_end: u32,
}

/// C `struct iscsi_kern_event` of r7105 (with `target_name`): the payload of one event message
/// on the netlink channel; `param1_size` and `param2_size` bytes follow as separate messages.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C, align(8))]
pub struct iscsi_kern_event {
    /// Target id.
    pub tid: u32,
    /// Padding that C inserts implicitly before the 8-aligned field; keep it zero.
    pub _pad: u32,
    /// Session id (C `aligned_u64`).
    pub sid: u64,
    /// Connection id.
    pub cid: u32,
    /// Event code ([`E_CONN_CLOSE`] in the procfs build).
    pub code: u32,
    /// Cookie the daemon must answer (sysfs build; 0 for `E_CONN_CLOSE`).
    pub cookie: u32,
    /// Target name, NUL-terminated.
    pub target_name: [u8; ISCSI_NAME_LEN],
    /// Length of the first parameter string (not NUL-terminated).
    pub param1_size: u32,
    /// Length of the second parameter string (not NUL-terminated).
    pub param2_size: u32,
    /// Tail padding that C inserts implicitly (size rounded to 8); keep it zero.
    pub _pad_end: u32,
}

/// C `struct iscsi_kern_register_info`: argument of `REGISTER_USERD`, an 8-byte union.
///
/// In: [`version`](Self::version), the user address of the NUL-terminated
/// [`ISCSI_SCST_INTERFACE_VERSION`] string. Out (overwriting the same bytes):
/// [`max_data_seg_len`](Self::max_data_seg_len) at offset 0 and
/// [`max_queued_cmds`](Self::max_queued_cmds) at offset 4.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C, align(8))]
pub struct iscsi_kern_register_info {
    u: [u8; 8],
}

impl iscsi_kern_register_info {
    /// C `reg.version`: the union read as the `aligned_u64` user pointer.
    pub fn version(&self) -> u64 {
        u64::from_ne_bytes(self.u)
    }

    /// C `reg.version = (uintptr_t)str`.
    pub fn set_version(&mut self, addr: u64) {
        self.u = addr.to_ne_bytes();
    }

    /// C `reg.max_data_seg_len`: the first `int` of the union.
    pub fn max_data_seg_len(&self) -> i32 {
        let [a, b, c, d, ..] = self.u;
        i32::from_ne_bytes([a, b, c, d])
    }

    /// C `reg.max_data_seg_len = v`.
    pub fn set_max_data_seg_len(&mut self, v: i32) {
        let [a, b, c, d] = v.to_ne_bytes();
        let [_, _, _, _, e, f, g, h] = self.u;
        self.u = [a, b, c, d, e, f, g, h];
    }

    /// C `reg.max_queued_cmds`: the second `int` of the union.
    pub fn max_queued_cmds(&self) -> i32 {
        let [.., e, f, g, h] = self.u;
        i32::from_ne_bytes([e, f, g, h])
    }

    /// C `reg.max_queued_cmds = v`.
    pub fn set_max_queued_cmds(&mut self, v: i32) {
        let [e, f, g, h] = v.to_ne_bytes();
        let [a, b, c, d, ..] = self.u;
        self.u = [a, b, c, d, e, f, g, h];
    }
}

/// C `struct iscsi_kern_attr_info`: argument of `ISCSI_ATTR_ADD` and `ISCSI_ATTR_DEL` (sysfs
/// build).
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct iscsi_kern_attr_info {
    /// Target id; 0 (or unknown) for a global attribute.
    pub tid: u32,
    /// Cookie of the event being answered.
    pub cookie: u32,
    /// The attribute.
    pub attr: iscsi_kern_attr,
}

/// C `struct iscsi_kern_initiator_info`: argument of `ISCSI_INITIATOR_ALLOWED`.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct iscsi_kern_initiator_info {
    /// Target id.
    pub tid: u32,
    /// Initiator name, with `#<portal>` when the target has per-portal ACLs.
    pub full_initiator_name: [u8; ISCSI_FULL_NAME_LEN],
}

/// All-zero values, as C gets them from `memset(&info, 0, sizeof(info))`.
macro_rules! zeroed_default {
    ($($t:ty),* $(,)?) => {$(
        impl Default for $t {
            /// The all-zero struct (C `memset(&info, 0, sizeof(info))`).
            fn default() -> Self {
                Self::new_zeroed()
            }
        }
    )*};
}

zeroed_default!(
    iscsi_kern_target_info,
    iscsi_kern_session_info,
    iscsi_kern_conn_info,
    iscsi_kern_attr,
    iscsi_kern_mgmt_cmd_res_info,
    iscsi_kern_params_info,
    iscsi_kern_event,
    iscsi_kern_register_info,
    iscsi_kern_attr_info,
    iscsi_kern_initiator_info,
);

// Sizes and offsets of the procfs build on x86_64 (scst-reference.md §5.3).
const _: () = {
    assert!(size_of::<iscsi_kern_register_info>() == 8);
    assert!(align_of::<iscsi_kern_register_info>() == 8);

    assert!(size_of::<iscsi_kern_target_info>() == 280);
    assert!(align_of::<iscsi_kern_target_info>() == 8);
    assert!(offset_of!(iscsi_kern_target_info, tid) == 0);
    assert!(offset_of!(iscsi_kern_target_info, cookie) == 4);
    assert!(offset_of!(iscsi_kern_target_info, name) == 8);
    assert!(offset_of!(iscsi_kern_target_info, attrs_num) == 264);
    assert!(offset_of!(iscsi_kern_target_info, attrs_ptr) == 272);

    assert!(size_of::<iscsi_kern_session_info>() == 976);
    assert!(align_of::<iscsi_kern_session_info>() == 8);
    assert!(offset_of!(iscsi_kern_session_info, tid) == 0);
    assert!(offset_of!(iscsi_kern_session_info, sid) == 8);
    assert!(offset_of!(iscsi_kern_session_info, initiator_name) == 16);
    assert!(offset_of!(iscsi_kern_session_info, user_name) == 272);
    assert!(offset_of!(iscsi_kern_session_info, full_initiator_name) == 528);
    assert!(offset_of!(iscsi_kern_session_info, exp_cmd_sn) == 848);
    assert!(offset_of!(iscsi_kern_session_info, session_params) == 852);
    assert!(offset_of!(iscsi_kern_session_info, target_params) == 956);

    assert!(size_of::<iscsi_kern_conn_info>() == 32);
    assert!(align_of::<iscsi_kern_conn_info>() == 8);
    assert!(offset_of!(iscsi_kern_conn_info, tid) == 0);
    assert!(offset_of!(iscsi_kern_conn_info, sid) == 8);
    assert!(offset_of!(iscsi_kern_conn_info, cid) == 16);
    assert!(offset_of!(iscsi_kern_conn_info, stat_sn) == 20);
    assert!(offset_of!(iscsi_kern_conn_info, exp_stat_sn) == 24);
    assert!(offset_of!(iscsi_kern_conn_info, fd) == 28);

    assert!(size_of::<iscsi_kern_params_info>() == 152);
    assert!(align_of::<iscsi_kern_params_info>() == 8);
    assert!(offset_of!(iscsi_kern_params_info, tid) == 0);
    assert!(offset_of!(iscsi_kern_params_info, sid) == 8);
    assert!(offset_of!(iscsi_kern_params_info, params_type) == 16);
    assert!(offset_of!(iscsi_kern_params_info, partial) == 20);
    assert!(offset_of!(iscsi_kern_params_info, session_params) == 24);
    assert!(offset_of!(iscsi_kern_params_info, target_params) == 128);

    assert!(size_of::<iscsi_kern_attr>() == 56);
    assert!(align_of::<iscsi_kern_attr>() == 4);
    assert!(offset_of!(iscsi_kern_attr, mode) == 0);
    assert!(offset_of!(iscsi_kern_attr, name) == 4);

    assert!(size_of::<iscsi_kern_attr_info>() == 64);
    assert!(offset_of!(iscsi_kern_attr_info, tid) == 0);
    assert!(offset_of!(iscsi_kern_attr_info, cookie) == 4);
    assert!(offset_of!(iscsi_kern_attr_info, attr) == 8);

    assert!(size_of::<iscsi_kern_mgmt_cmd_res_info>() == 528);
    assert!(offset_of!(iscsi_kern_mgmt_cmd_res_info, tid) == 0);
    assert!(offset_of!(iscsi_kern_mgmt_cmd_res_info, cookie) == 4);
    assert!(offset_of!(iscsi_kern_mgmt_cmd_res_info, req_cmd) == 8);
    assert!(offset_of!(iscsi_kern_mgmt_cmd_res_info, result) == 12);
    assert!(offset_of!(iscsi_kern_mgmt_cmd_res_info, value) == 16);

    assert!(size_of::<iscsi_kern_initiator_info>() == 324);
    assert!(offset_of!(iscsi_kern_initiator_info, tid) == 0);
    assert!(offset_of!(iscsi_kern_initiator_info, full_initiator_name) == 4);

    assert!(size_of::<iscsi_kern_event>() == 296);
    assert!(align_of::<iscsi_kern_event>() == 8);
    assert!(offset_of!(iscsi_kern_event, tid) == 0);
    assert!(offset_of!(iscsi_kern_event, sid) == 8);
    assert!(offset_of!(iscsi_kern_event, cid) == 16);
    assert!(offset_of!(iscsi_kern_event, code) == 20);
    assert!(offset_of!(iscsi_kern_event, cookie) == 24);
    assert!(offset_of!(iscsi_kern_event, target_name) == 28);
    assert!(offset_of!(iscsi_kern_event, param1_size) == 284);
    assert!(offset_of!(iscsi_kern_event, param2_size) == 288);
};

// ---------------------------------------------------------------------------------------------
// ioctl commands (magic 's')
// ---------------------------------------------------------------------------------------------

/// The ioctl type ("magic") of the control device.
const ISCSI_IOCTL_MAGIC: u8 = b's';

/// C `REGISTER_USERD`: `_IOWR('s', 0, struct iscsi_kern_register_info)`.
pub const REGISTER_USERD: u32 = _IOWR(ISCSI_IOCTL_MAGIC, 0, size_of::<iscsi_kern_register_info>());
/// C `ADD_TARGET`: `_IOW('s', 1, struct iscsi_kern_target_info)`; returns the tid.
pub const ADD_TARGET: u32 = _IOW(ISCSI_IOCTL_MAGIC, 1, size_of::<iscsi_kern_target_info>());
/// C `DEL_TARGET`: `_IOW('s', 2, struct iscsi_kern_target_info)`.
pub const DEL_TARGET: u32 = _IOW(ISCSI_IOCTL_MAGIC, 2, size_of::<iscsi_kern_target_info>());
/// C `ADD_SESSION`: `_IOW('s', 3, struct iscsi_kern_session_info)` (procfs size).
pub const ADD_SESSION: u32 = _IOW(ISCSI_IOCTL_MAGIC, 3, size_of::<iscsi_kern_session_info>());
/// C `DEL_SESSION`: `_IOW('s', 4, struct iscsi_kern_session_info)` (procfs size).
pub const DEL_SESSION: u32 = _IOW(ISCSI_IOCTL_MAGIC, 4, size_of::<iscsi_kern_session_info>());
/// C `ADD_CONN`: `_IOW('s', 5, struct iscsi_kern_conn_info)`.
pub const ADD_CONN: u32 = _IOW(ISCSI_IOCTL_MAGIC, 5, size_of::<iscsi_kern_conn_info>());
/// C `DEL_CONN`: `_IOW('s', 6, struct iscsi_kern_conn_info)`.
pub const DEL_CONN: u32 = _IOW(ISCSI_IOCTL_MAGIC, 6, size_of::<iscsi_kern_conn_info>());
/// C `ISCSI_PARAM_SET`: `_IOW('s', 7, struct iscsi_kern_params_info)`.
pub const ISCSI_PARAM_SET: u32 = _IOW(ISCSI_IOCTL_MAGIC, 7, size_of::<iscsi_kern_params_info>());
/// C `ISCSI_PARAM_GET`: `_IOWR('s', 8, struct iscsi_kern_params_info)`.
pub const ISCSI_PARAM_GET: u32 = _IOWR(ISCSI_IOCTL_MAGIC, 8, size_of::<iscsi_kern_params_info>());
/// C `ISCSI_ATTR_ADD`: `_IOW('s', 9, struct iscsi_kern_attr_info)` (sysfs build only).
pub const ISCSI_ATTR_ADD: u32 = _IOW(ISCSI_IOCTL_MAGIC, 9, size_of::<iscsi_kern_attr_info>());
/// C `ISCSI_ATTR_DEL`: `_IOW('s', 10, struct iscsi_kern_attr_info)` (sysfs build only).
pub const ISCSI_ATTR_DEL: u32 = _IOW(ISCSI_IOCTL_MAGIC, 10, size_of::<iscsi_kern_attr_info>());
/// C `MGMT_CMD_CALLBACK`: `_IOW('s', 11, struct iscsi_kern_mgmt_cmd_res_info)` (sysfs build
/// only).
pub const MGMT_CMD_CALLBACK: u32 = _IOW(
    ISCSI_IOCTL_MAGIC,
    11,
    size_of::<iscsi_kern_mgmt_cmd_res_info>(),
);
/// C `ISCSI_INITIATOR_ALLOWED`: `_IOW('s', 12, struct iscsi_kern_initiator_info)`; returns 0 or 1.
pub const ISCSI_INITIATOR_ALLOWED: u32 = _IOW(
    ISCSI_IOCTL_MAGIC,
    12,
    size_of::<iscsi_kern_initiator_info>(),
);

// ---------------------------------------------------------------------------------------------
// Fixed-size C strings
// ---------------------------------------------------------------------------------------------

/// Fills a fixed-size C `char` array from `src` as C `memset` + `strlcpy(dst, src, sizeof(dst))`
/// do: copies `src` up to its first NUL, truncated to `dst.len() - 1` bytes, and zero-fills the
/// rest, so the result is always NUL-terminated. Returns the number of bytes copied.
pub fn set_cstr(dst: &mut [u8], src: &[u8]) -> usize {
    let src = cstr(src);
    let n = src.len().min(dst.len().saturating_sub(1));
    let (head, tail) = dst.split_at_mut(n);
    head.copy_from_slice(&src[..n]);
    tail.fill(0);
    n
}

/// The string in a fixed-size C `char` array: the bytes before the first NUL, or the whole
/// array if it has none (C `strnlen(field, sizeof(field))`).
pub fn cstr(field: &[u8]) -> &[u8] {
    let len = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..len]
}

#[cfg(test)]
mod tests {
    use super::*;
    use kemu::chrdev::{
        chrdev_open, proc_devices, register_chrdev, unregister_chrdev, CharDevFile, FileOperations,
        IoctlArg, UserMemory, _IOC_NR, _IOC_SIZE,
    };
    use kemu::Errno;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A test control device whose `unlocked_ioctl` is a closure.
    struct Ctl<F> {
        handler: F,
        calls: AtomicUsize,
    }

    impl<F> FileOperations for Ctl<F>
    where
        F: Fn(u32, &mut IoctlArg<'_>) -> Result<i32, Errno> + Send + Sync,
    {
        fn unlocked_ioctl(&self, cmd: u32, arg: &mut IoctlArg<'_>) -> Result<i32, Errno> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            (self.handler)(cmd, arg)
        }
    }

    /// The daemon's `driver_major()`: the major of `dev` from the `/proc/devices` text.
    fn driver_major(dev: &str) -> Option<u32> {
        proc_devices().lines().find_map(|line| {
            let mut it = line.split_whitespace();
            let major = it.next()?.parse::<u32>().ok()?;
            (major > 0 && it.next()? == dev).then_some(major)
        })
    }

    /// Registers a device named `name` with `handler`, opens it as the daemon does (major from
    /// `/proc/devices`), runs `body`, and tears everything down. Returns the handler call count.
    fn with_ctl<F>(name: &str, handler: F, body: impl FnOnce(&CharDevFile)) -> usize
    where
        F: Fn(u32, &mut IoctlArg<'_>) -> Result<i32, Errno> + Send + Sync + 'static,
    {
        let ctl = Arc::new(Ctl {
            handler,
            calls: AtomicUsize::new(0),
        });
        let major = register_chrdev(0, name, ctl.clone()).unwrap();
        assert_eq!(driver_major(name), Some(major));
        let file = chrdev_open(major).unwrap();
        body(&file);
        file.close();
        assert!(unregister_chrdev(major, name));
        assert_eq!(driver_major(name), None);
        ctl.calls.load(Ordering::SeqCst)
    }

    fn name_bytes<const N: usize>(s: &str) -> [u8; N] {
        let mut a = [0u8; N];
        set_cstr(&mut a, s.as_bytes());
        a
    }

    /// Distinct non-zero values so that a misplaced field cannot go unnoticed.
    fn params<const N: usize>(base: i32) -> [i32; N] {
        core::array::from_fn(|i| base + i32::try_from(i).unwrap())
    }

    #[test]
    fn sizes_and_alignments_match_spec() {
        assert_eq!(size_of::<iscsi_kern_register_info>(), 8);
        assert_eq!(size_of::<iscsi_kern_target_info>(), 280);
        assert_eq!(size_of::<iscsi_kern_session_info>(), 976);
        assert_eq!(size_of::<iscsi_kern_conn_info>(), 32);
        assert_eq!(size_of::<iscsi_kern_params_info>(), 152);
        assert_eq!(size_of::<iscsi_kern_attr>(), 56);
        assert_eq!(size_of::<iscsi_kern_attr_info>(), 64);
        assert_eq!(size_of::<iscsi_kern_mgmt_cmd_res_info>(), 528);
        assert_eq!(size_of::<iscsi_kern_initiator_info>(), 324);
        assert_eq!(size_of::<iscsi_kern_event>(), 296);
        for a in [
            align_of::<iscsi_kern_register_info>(),
            align_of::<iscsi_kern_target_info>(),
            align_of::<iscsi_kern_session_info>(),
            align_of::<iscsi_kern_conn_info>(),
            align_of::<iscsi_kern_params_info>(),
            align_of::<iscsi_kern_event>(),
        ] {
            assert_eq!(a, 8);
        }
    }

    #[test]
    fn offsets_match_spec() {
        assert_eq!(offset_of!(iscsi_kern_target_info, name), 8);
        assert_eq!(offset_of!(iscsi_kern_target_info, attrs_num), 264);
        assert_eq!(offset_of!(iscsi_kern_target_info, attrs_ptr), 272);
        assert_eq!(offset_of!(iscsi_kern_session_info, sid), 8);
        assert_eq!(offset_of!(iscsi_kern_session_info, initiator_name), 16);
        assert_eq!(offset_of!(iscsi_kern_session_info, user_name), 272);
        assert_eq!(
            offset_of!(iscsi_kern_session_info, full_initiator_name),
            528
        );
        assert_eq!(offset_of!(iscsi_kern_session_info, exp_cmd_sn), 848);
        assert_eq!(offset_of!(iscsi_kern_session_info, session_params), 852);
        assert_eq!(offset_of!(iscsi_kern_session_info, target_params), 956);
        assert_eq!(offset_of!(iscsi_kern_conn_info, sid), 8);
        assert_eq!(offset_of!(iscsi_kern_conn_info, cid), 16);
        assert_eq!(offset_of!(iscsi_kern_conn_info, stat_sn), 20);
        assert_eq!(offset_of!(iscsi_kern_conn_info, exp_stat_sn), 24);
        assert_eq!(offset_of!(iscsi_kern_conn_info, fd), 28);
        assert_eq!(offset_of!(iscsi_kern_params_info, sid), 8);
        assert_eq!(offset_of!(iscsi_kern_params_info, params_type), 16);
        assert_eq!(offset_of!(iscsi_kern_params_info, partial), 20);
        assert_eq!(offset_of!(iscsi_kern_params_info, session_params), 24);
        assert_eq!(offset_of!(iscsi_kern_params_info, target_params), 128);
        assert_eq!(offset_of!(iscsi_kern_event, sid), 8);
        assert_eq!(offset_of!(iscsi_kern_event, cid), 16);
        assert_eq!(offset_of!(iscsi_kern_event, code), 20);
        assert_eq!(offset_of!(iscsi_kern_event, cookie), 24);
        assert_eq!(offset_of!(iscsi_kern_event, target_name), 28);
        assert_eq!(offset_of!(iscsi_kern_event, param1_size), 284);
        assert_eq!(offset_of!(iscsi_kern_event, param2_size), 288);
        assert_eq!(offset_of!(iscsi_kern_attr_info, attr), 8);
        assert_eq!(offset_of!(iscsi_kern_mgmt_cmd_res_info, value), 16);
        assert_eq!(
            offset_of!(iscsi_kern_initiator_info, full_initiator_name),
            4
        );
    }

    #[test]
    fn ioctl_numbers_match_spec() {
        assert_eq!(REGISTER_USERD, 0xc008_7300);
        assert_eq!(ADD_TARGET, 0x4118_7301);
        assert_eq!(DEL_TARGET, 0x4118_7302);
        assert_eq!(ADD_SESSION, 0x43d0_7303);
        assert_eq!(DEL_SESSION, 0x43d0_7304);
        assert_eq!(ADD_CONN, 0x4020_7305);
        assert_eq!(DEL_CONN, 0x4020_7306);
        assert_eq!(ISCSI_PARAM_SET, 0x4098_7307);
        assert_eq!(ISCSI_PARAM_GET, 0xc098_7308);
        assert_eq!(ISCSI_ATTR_ADD, 0x4040_7309);
        assert_eq!(ISCSI_ATTR_DEL, 0x4040_730a);
        assert_eq!(MGMT_CMD_CALLBACK, 0x4210_730b);
        assert_eq!(ISCSI_INITIATOR_ALLOWED, 0x4144_730c);
    }

    #[test]
    fn constants_match_spec() {
        assert_eq!(ISCSI_NAME_LEN, 256);
        assert_eq!(ISCSI_PORTAL_LEN, 64);
        assert_eq!(ISCSI_FULL_NAME_LEN, 320);
        assert_eq!(ISCSI_LISTEN_PORT, 3260);
        assert_eq!(SCSI_ID_LEN, 24);
        assert_eq!(ISCSI_MAX_ATTR_NAME_LEN, 50);
        assert_eq!(ISCSI_MAX_ATTR_VALUE_LEN, 512);
        assert_eq!(NETLINK_ISCSI_SCST, 25);
        assert_eq!((DIGEST_NONE, DIGEST_CRC32C, DIGEST_ALL), (1, 2, 3));
        assert_eq!((key_session, key_target), (0, 1));
        assert_eq!(E_CONN_CLOSE, 0);
        assert_eq!(
            [
                DEFAULT_NR_QUEUED_CMNDS,
                MIN_NR_QUEUED_CMNDS,
                MAX_NR_QUEUED_CMNDS
            ],
            [32, 1, 2048]
        );
        assert_eq!(
            [DEFAULT_RSP_TIMEOUT, MIN_RSP_TIMEOUT, MAX_RSP_TIMEOUT],
            [90, 2, 65535]
        );
        assert_eq!(
            [
                DEFAULT_NOP_IN_INTERVAL,
                MIN_NOP_IN_INTERVAL,
                MAX_NOP_IN_INTERVAL
            ],
            [30, 0, 65535]
        );
        assert_eq!(
            [
                DEFAULT_NOP_IN_TIMEOUT,
                MIN_NOP_IN_TIMEOUT,
                MAX_NOP_IN_TIMEOUT
            ],
            [30, 2, 65535]
        );
        assert_eq!(ISCSI_VERSION_STRING, "3.3.0-pre1-procfs");
        assert!(ISCSI_SCST_INTERFACE_VERSION.starts_with("3.3.0-pre1-procfs_"));
        assert_eq!(
            ISCSI_SCST_INTERFACE_VERSION.len(),
            ISCSI_VERSION_STRING.len() + 1 + 40
        );
    }

    #[test]
    fn key_indices_in_spec_order() {
        let session = [
            key_initial_r2t,
            key_immediate_data,
            key_max_connections,
            key_max_recv_data_length,
            key_max_xmit_data_length,
            key_max_burst_length,
            key_first_burst_length,
            key_default_wait_time,
            key_default_retain_time,
            key_max_outstanding_r2t,
            key_data_pdu_inorder,
            key_data_sequence_inorder,
            key_error_recovery_level,
            key_header_digest,
            key_data_digest,
            key_ofmarker,
            key_ifmarker,
            key_ofmarkint,
            key_ifmarkint,
            key_rdma_extensions,
            key_target_recv_data_length,
            key_initiator_recv_data_length,
            key_max_ahs_length,
            key_tagged_buffer_for_solicited_data_only,
            key_iser_hello_required,
            key_max_outstanding_unexpected_pdus,
            session_key_last,
        ];
        assert_eq!(session, core::array::from_fn::<usize, 27, _>(|i| i));
        let target = [
            key_queued_cmnds,
            key_rsp_timeout,
            key_nop_in_interval,
            key_nop_in_timeout,
            key_max_sessions,
            target_key_last,
        ];
        assert_eq!(target, [0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn only_max_xmit_data_length_is_internal() {
        let internal: Vec<usize> = (0..session_key_last + 2)
            .filter(|&k| iscsi_is_key_internal(k))
            .collect();
        assert_eq!(internal, vec![key_max_xmit_data_length]);
    }

    #[test]
    fn ioctl_sizes_decode_to_struct_sizes() {
        assert_eq!(_IOC_SIZE(ADD_SESSION), 976);
        assert_eq!(_IOC_NR(ISCSI_INITIATOR_ALLOWED), 12);
    }

    #[test]
    fn register_info_union_accessors() {
        let mut reg = iscsi_kern_register_info::default();
        assert_eq!(reg.as_bytes(), &[0u8; 8]);
        reg.set_version(0x1122_3344_5566_7788);
        assert_eq!(reg.version(), 0x1122_3344_5566_7788);
        assert_eq!(reg.as_bytes(), &0x1122_3344_5566_7788u64.to_ne_bytes());
        reg = iscsi_kern_register_info::default();
        reg.set_max_data_seg_len(0x0102_0304);
        assert_eq!(reg.max_data_seg_len(), 0x0102_0304);
        assert_eq!(reg.max_queued_cmds(), 0);
        reg.set_max_queued_cmds(-5);
        assert_eq!(reg.max_queued_cmds(), -5);
        assert_eq!(reg.max_data_seg_len(), 0x0102_0304);
        // max_data_seg_len at offset 0, max_queued_cmds at offset 4, as in C.
        assert_eq!(&reg.as_bytes()[..4], &0x0102_0304i32.to_ne_bytes());
        assert_eq!(&reg.as_bytes()[4..], &(-5i32).to_ne_bytes());
        reg.set_max_data_seg_len(7);
        assert_eq!(reg.max_queued_cmds(), -5);
        assert_eq!(reg.max_data_seg_len(), 7);
    }

    #[test]
    fn cstr_helpers() {
        let mut a = [0xffu8; 8];
        assert_eq!(set_cstr(&mut a, b"abc"), 3);
        assert_eq!(a, *b"abc\0\0\0\0\0");
        assert_eq!(cstr(&a), b"abc");
        // Truncated to leave room for the NUL.
        assert_eq!(set_cstr(&mut a, b"0123456789"), 7);
        assert_eq!(a, *b"0123456\0");
        assert_eq!(cstr(&a), b"0123456");
        // Exactly fitting.
        assert_eq!(set_cstr(&mut a, b"1234567"), 7);
        assert_eq!(a, *b"1234567\0");
        // The source ends at its own NUL.
        assert_eq!(set_cstr(&mut a, b"xy\0zz"), 2);
        assert_eq!(a, *b"xy\0\0\0\0\0\0");
        assert_eq!(set_cstr(&mut [], b"abc"), 0);
        let mut one = [9u8];
        assert_eq!(set_cstr(&mut one, b"abc"), 0);
        assert_eq!(one, [0]);
        // A field without a NUL reads whole.
        assert_eq!(cstr(b"full"), b"full");
        assert_eq!(cstr(b""), b"");
        assert_eq!(cstr(b"\0x"), b"");
    }

    #[test]
    fn defaults_are_zero() {
        assert!(iscsi_kern_session_info::default()
            .as_bytes()
            .iter()
            .all(|&b| b == 0));
        assert!(iscsi_kern_event::default()
            .as_bytes()
            .iter()
            .all(|&b| b == 0));
        assert!(iscsi_kern_target_info::default()
            .as_bytes()
            .iter()
            .all(|&b| b == 0));
        assert!(iscsi_kern_conn_info::default()
            .as_bytes()
            .iter()
            .all(|&b| b == 0));
        assert!(iscsi_kern_params_info::default()
            .as_bytes()
            .iter()
            .all(|&b| b == 0));
        assert!(iscsi_kern_attr::default()
            .as_bytes()
            .iter()
            .all(|&b| b == 0));
        assert!(iscsi_kern_attr_info::default()
            .as_bytes()
            .iter()
            .all(|&b| b == 0));
        assert!(iscsi_kern_mgmt_cmd_res_info::default()
            .as_bytes()
            .iter()
            .all(|&b| b == 0));
        assert!(iscsi_kern_initiator_info::default()
            .as_bytes()
            .iter()
            .all(|&b| b == 0));
        assert!(iscsi_kern_register_info::default()
            .as_bytes()
            .iter()
            .all(|&b| b == 0));
    }

    // --- Round trips through kemu's ioctl path -----------------------------------------------

    /// The driver side of `REGISTER_USERD` as `config.c` does it: read the version string
    /// through the user pointer, compare, answer with the limits in the same bytes.
    fn register_handler(cmd: u32, arg: &mut IoctlArg<'_>) -> Result<i32, Errno> {
        assert_eq!(cmd, REGISTER_USERD);
        let reg: iscsi_kern_register_info = arg.copy_from_user()?;
        let ver = arg.strncpy_from_user(reg.version(), ISCSI_SCST_INTERFACE_VERSION.len() + 1)?;
        if ver != ISCSI_SCST_INTERFACE_VERSION.as_bytes() {
            return Err(Errno::EINVAL);
        }
        let mut reg = iscsi_kern_register_info::default();
        reg.set_max_data_seg_len(1 << 20);
        reg.set_max_queued_cmds(MAX_NR_QUEUED_CMNDS);
        arg.copy_to_user(&reg)?;
        Ok(0)
    }

    #[test]
    fn round_trip_register_userd() {
        let calls = with_ctl("abi-test-register-userd", register_handler, |f| {
            let version = format!("{ISCSI_SCST_INTERFACE_VERSION}\0");
            let mut mem = UserMemory::new();
            let mut reg = iscsi_kern_register_info::default();
            reg.set_version(mem.map(version.as_bytes()));
            assert_ne!(reg.version(), 0);
            assert_eq!(
                f.ioctl_struct_with_mem(REGISTER_USERD, &mut reg, &mem),
                Ok(0)
            );
            assert_eq!(reg.max_data_seg_len(), 1_048_576);
            assert_eq!(reg.max_queued_cmds(), 2048);

            // A different version is refused and the struct is left alone.
            let mut mem = UserMemory::new();
            let mut reg = iscsi_kern_register_info::default();
            reg.set_version(mem.map(b"3.3.0-pre1_0000\0"));
            let before = reg;
            assert_eq!(
                f.ioctl_struct_with_mem(REGISTER_USERD, &mut reg, &mem),
                Err(Errno::EINVAL)
            );
            assert_eq!(reg, before);
            // Without the mapping the pointer faults.
            assert_eq!(f.ioctl_struct(REGISTER_USERD, &mut reg), Err(Errno::EFAULT));
        });
        assert_eq!(calls, 3);
    }

    fn sample_attrs() -> [iscsi_kern_attr; 2] {
        let mut a = [iscsi_kern_attr::default(); 2];
        a[0].mode = 0o644;
        set_cstr(&mut a[0].name, b"IncomingUser");
        a[1].mode = 0o444;
        set_cstr(&mut a[1].name, b"OutgoingUser");
        a
    }

    #[test]
    fn round_trip_target_info() {
        let handler = |cmd: u32, arg: &mut IoctlArg<'_>| -> Result<i32, Errno> {
            let mut info: iscsi_kern_target_info = arg.copy_from_user()?;
            assert_eq!(cstr(&info.name), b"iqn.2026-01.rs.scst:disk1");
            match cmd {
                ADD_TARGET => {
                    assert_eq!((info.tid, info.cookie, info.attrs_num), (0, 0x0a0b_0c0d, 2));
                    let expected = sample_attrs();
                    for (i, want) in expected.iter().enumerate() {
                        let addr = info.attrs_ptr + (i * size_of::<iscsi_kern_attr>()) as u64;
                        let got: iscsi_kern_attr = arg.copy_from_user_ptr(addr)?;
                        assert_eq!(&got, want);
                    }
                    info.tid = 5;
                    info.attrs_num = 0;
                    info.attrs_ptr = 0;
                    set_cstr(&mut info.name, b"renamed");
                    arg.copy_to_user(&info)?;
                    Ok(5)
                }
                DEL_TARGET => {
                    assert_eq!(
                        (info.tid, info.cookie, info.attrs_num, info.attrs_ptr),
                        (5, 0, 0, 0)
                    );
                    info.cookie = 0xdead_beef;
                    arg.copy_to_user(&info)?;
                    Ok(0)
                }
                _ => Err(Errno::EINVAL),
            }
        };
        let calls = with_ctl("abi-test-target-info", handler, |f| {
            let attrs = sample_attrs();
            let mut mem = UserMemory::new();
            let mut info = iscsi_kern_target_info {
                cookie: 0x0a0b_0c0d,
                attrs_num: 2,
                attrs_ptr: mem.map(attrs.as_bytes()),
                ..Default::default()
            };
            set_cstr(&mut info.name, b"iqn.2026-01.rs.scst:disk1");
            assert_eq!(f.ioctl_struct_with_mem(ADD_TARGET, &mut info, &mem), Ok(5));
            assert_eq!((info.tid, info.attrs_num, info.attrs_ptr), (5, 0, 0));
            assert_eq!(cstr(&info.name), b"renamed");

            let mut del = iscsi_kern_target_info {
                tid: 5,
                ..Default::default()
            };
            set_cstr(&mut del.name, b"iqn.2026-01.rs.scst:disk1");
            assert_eq!(f.ioctl_struct(DEL_TARGET, &mut del), Ok(0));
            assert_eq!(del.cookie, 0xdead_beef);
            assert_eq!(del.tid, 5);
        });
        assert_eq!(calls, 2);
    }

    fn sample_session() -> iscsi_kern_session_info {
        iscsi_kern_session_info {
            tid: 3,
            sid: 0x0123_4567_89ab_cdef,
            initiator_name: name_bytes("iqn.1993-08.org.debian:01:abc"),
            user_name: name_bytes("joe"),
            full_initiator_name: name_bytes("iqn.1993-08.org.debian:01:abc#10.0.0.1"),
            exp_cmd_sn: 0xfeed_f00d,
            session_params: params(100),
            target_params: params(-50),
            ..Default::default()
        }
    }

    #[test]
    fn round_trip_session_info() {
        let handler = |cmd: u32, arg: &mut IoctlArg<'_>| -> Result<i32, Errno> {
            let raw: [u8; 976] = arg.copy_from_user()?;
            // The C layout: sid at 8, exp_cmd_sn at 848, target_params[4] at 972.
            assert_eq!(raw[8..16], 0x0123_4567_89ab_cdefu64.to_ne_bytes());
            assert_eq!(raw[848..852], 0xfeed_f00du32.to_ne_bytes());
            assert_eq!(raw[972..976], (-46i32).to_ne_bytes());
            assert_eq!(&raw[272..276], b"joe\0");
            let mut info: iscsi_kern_session_info = arg.copy_from_user()?;
            assert_eq!(info, sample_session());
            info.sid += 1;
            info.exp_cmd_sn = 1;
            info.session_params[key_max_recv_data_length] = 8192;
            info.target_params[key_max_sessions] = 7;
            set_cstr(&mut info.user_name, b"bob");
            set_cstr(&mut info.full_initiator_name, b"x");
            set_cstr(&mut info.initiator_name, b"y");
            info.tid = if cmd == ADD_SESSION { 30 } else { 40 };
            arg.copy_to_user(&info)?;
            Ok(0)
        };
        let calls = with_ctl("abi-test-session-info", handler, |f| {
            for (cmd, tid) in [(ADD_SESSION, 30), (DEL_SESSION, 40)] {
                let mut info = sample_session();
                assert_eq!(f.ioctl_struct(cmd, &mut info), Ok(0));
                let mut want = sample_session();
                want.tid = tid;
                want.sid = 0x0123_4567_89ab_cdf0;
                want.exp_cmd_sn = 1;
                want.session_params[3] = 8192;
                want.target_params[4] = 7;
                want.user_name = name_bytes("bob");
                want.full_initiator_name = name_bytes("x");
                want.initiator_name = name_bytes("y");
                assert_eq!(info, want);
            }
        });
        assert_eq!(calls, 2);
    }

    #[test]
    fn round_trip_conn_info() {
        let handler = |cmd: u32, arg: &mut IoctlArg<'_>| -> Result<i32, Errno> {
            let mut info: iscsi_kern_conn_info = arg.copy_from_user()?;
            let want = iscsi_kern_conn_info {
                tid: 1,
                sid: u64::MAX - 1,
                cid: 2,
                stat_sn: 3,
                exp_stat_sn: 4,
                fd: -9,
                ..Default::default()
            };
            assert_eq!(info, want);
            info.stat_sn = 0x1000;
            info.exp_stat_sn = 0x2000;
            info.fd = if cmd == ADD_CONN { 33 } else { 66 };
            arg.copy_to_user(&info)?;
            Ok(0)
        };
        let calls = with_ctl("abi-test-conn-info", handler, |f| {
            for (cmd, fd) in [(ADD_CONN, 33), (DEL_CONN, 66)] {
                let mut info = iscsi_kern_conn_info {
                    tid: 1,
                    sid: u64::MAX - 1,
                    cid: 2,
                    stat_sn: 3,
                    exp_stat_sn: 4,
                    fd: -9,
                    ..Default::default()
                };
                assert_eq!(f.ioctl_struct(cmd, &mut info), Ok(0));
                assert_eq!(
                    (
                        info.tid,
                        info.sid,
                        info.cid,
                        info.stat_sn,
                        info.exp_stat_sn,
                        info.fd
                    ),
                    (1, u64::MAX - 1, 2, 0x1000, 0x2000, fd)
                );
            }
        });
        assert_eq!(calls, 2);
    }

    #[test]
    fn round_trip_params_info() {
        let handler = |cmd: u32, arg: &mut IoctlArg<'_>| -> Result<i32, Errno> {
            let mut info: iscsi_kern_params_info = arg.copy_from_user()?;
            assert_eq!((info.tid, info.sid, info.partial), (9, 0x55, 1));
            assert_eq!(info.session_params, params::<26>(1));
            assert_eq!(info.target_params, params::<5>(1000));
            match cmd {
                ISCSI_PARAM_SET => assert_eq!(info.params_type, key_session),
                ISCSI_PARAM_GET => assert_eq!(info.params_type, key_target),
                _ => return Err(Errno::EINVAL),
            }
            info.session_params[key_header_digest] = DIGEST_CRC32C;
            info.target_params[key_queued_cmnds] = DEFAULT_NR_QUEUED_CMNDS;
            info.partial = 0;
            arg.copy_to_user(&info)?;
            Ok(0)
        };
        let calls = with_ctl("abi-test-params-info", handler, |f| {
            for (cmd, ty) in [
                (ISCSI_PARAM_SET, key_session),
                (ISCSI_PARAM_GET, key_target),
            ] {
                let mut info = iscsi_kern_params_info {
                    tid: 9,
                    sid: 0x55,
                    params_type: ty,
                    partial: 1,
                    session_params: params(1),
                    target_params: params(1000),
                    ..Default::default()
                };
                assert_eq!(f.ioctl_struct(cmd, &mut info), Ok(0));
                let mut want_sess = params::<26>(1);
                want_sess[13] = 2;
                let mut want_tgt = params::<5>(1000);
                want_tgt[0] = 32;
                assert_eq!(
                    (info.tid, info.sid, info.params_type, info.partial),
                    (9, 0x55, ty, 0)
                );
                assert_eq!(info.session_params, want_sess);
                assert_eq!(info.target_params, want_tgt);
            }
        });
        assert_eq!(calls, 2);
    }

    #[test]
    fn round_trip_attr_info() {
        let handler = |cmd: u32, arg: &mut IoctlArg<'_>| -> Result<i32, Errno> {
            let mut info: iscsi_kern_attr_info = arg.copy_from_user()?;
            assert_eq!((info.tid, info.cookie, info.attr.mode), (4, 77, 0o600));
            assert_eq!(cstr(&info.attr.name), b"allowed_portal[0]");
            info.attr.mode &= 0o444 | 0o222;
            info.cookie = if cmd == ISCSI_ATTR_ADD { 1 } else { 2 };
            set_cstr(&mut info.attr.name, b"IncomingUser1");
            arg.copy_to_user(&info)?;
            Ok(0)
        };
        let calls = with_ctl("abi-test-attr-info", handler, |f| {
            for (cmd, cookie) in [(ISCSI_ATTR_ADD, 1), (ISCSI_ATTR_DEL, 2)] {
                let mut info = iscsi_kern_attr_info {
                    tid: 4,
                    cookie: 77,
                    ..Default::default()
                };
                info.attr.mode = 0o600;
                set_cstr(&mut info.attr.name, b"allowed_portal[0]");
                assert_eq!(f.ioctl_struct(cmd, &mut info), Ok(0));
                assert_eq!(
                    (info.tid, info.cookie, info.attr.mode),
                    (4, cookie, 0o600 & 0o666)
                );
                assert_eq!(info.attr.name, name_bytes::<50>("IncomingUser1"));
            }
        });
        assert_eq!(calls, 2);
    }

    #[test]
    fn round_trip_mgmt_cmd_res_info() {
        let handler = |cmd: u32, arg: &mut IoctlArg<'_>| -> Result<i32, Errno> {
            assert_eq!(cmd, MGMT_CMD_CALLBACK);
            let mut info: iscsi_kern_mgmt_cmd_res_info = arg.copy_from_user()?;
            assert_eq!((info.tid, info.cookie, info.req_cmd), (8, 0x1234, 5));
            assert_eq!(info.result, (-2i32) as u32);
            assert_eq!(cstr(&info.value), b"CRC32C\n[key]\n");
            info.result = 0;
            set_cstr(&mut info.value, b"done");
            arg.copy_to_user(&info)?;
            Ok(0)
        };
        let calls = with_ctl("abi-test-mgmt-cmd-res", handler, |f| {
            let mut info = iscsi_kern_mgmt_cmd_res_info {
                tid: 8,
                cookie: 0x1234,
                req_cmd: 5,
                result: (-2i32) as u32,
                value: name_bytes("CRC32C\n[key]\n"),
            };
            assert_eq!(f.ioctl_struct(MGMT_CMD_CALLBACK, &mut info), Ok(0));
            assert_eq!(
                (info.tid, info.cookie, info.req_cmd, info.result),
                (8, 0x1234, 5, 0)
            );
            assert_eq!(info.value, name_bytes::<512>("done"));
        });
        assert_eq!(calls, 1);
    }

    #[test]
    fn round_trip_initiator_info() {
        let handler = |cmd: u32, arg: &mut IoctlArg<'_>| -> Result<i32, Errno> {
            assert_eq!(cmd, ISCSI_INITIATOR_ALLOWED);
            let mut info: iscsi_kern_initiator_info = arg.copy_from_user()?;
            assert_eq!(info.tid, 11);
            let allowed = cstr(&info.full_initiator_name) == b"iqn.x#10.1.1.1";
            info.tid = 12;
            arg.copy_to_user(&info)?;
            Ok(i32::from(allowed))
        };
        let calls = with_ctl("abi-test-initiator-info", handler, |f| {
            let mut info = iscsi_kern_initiator_info {
                tid: 11,
                full_initiator_name: name_bytes("iqn.x#10.1.1.1"),
            };
            assert_eq!(f.ioctl_struct(ISCSI_INITIATOR_ALLOWED, &mut info), Ok(1));
            assert_eq!(info.tid, 12);
            let mut info = iscsi_kern_initiator_info {
                tid: 11,
                full_initiator_name: name_bytes("iqn.y"),
            };
            assert_eq!(f.ioctl_struct(ISCSI_INITIATOR_ALLOWED, &mut info), Ok(0));
        });
        assert_eq!(calls, 2);
    }

    /// A test-only command: the event struct travels over netlink, not an ioctl, but its bytes
    /// must survive the same copy path.
    const TEST_EVENT: u32 = _IOWR(b'S', 0, size_of::<iscsi_kern_event>());

    #[test]
    fn round_trip_event() {
        let handler = |cmd: u32, arg: &mut IoctlArg<'_>| -> Result<i32, Errno> {
            assert_eq!(cmd, TEST_EVENT);
            let raw: [u8; 296] = arg.copy_from_user()?;
            assert_eq!(raw[20..24], E_CONN_CLOSE.to_ne_bytes());
            assert_eq!(raw[284..288], 17u32.to_ne_bytes());
            let mut ev: iscsi_kern_event = arg.copy_from_user()?;
            assert_eq!(
                (ev.tid, ev.sid, ev.cid, ev.code, ev.cookie),
                (1, 2, 3, E_CONN_CLOSE, 4)
            );
            assert_eq!(cstr(&ev.target_name), b"iqn.t");
            assert_eq!((ev.param1_size, ev.param2_size), (17, 18));
            ev.code = 7;
            ev.param1_size = 0;
            ev.param2_size = 0;
            ev.sid = u64::MAX;
            arg.copy_to_user(&ev)?;
            Ok(0)
        };
        let calls = with_ctl("abi-test-event", handler, |f| {
            let mut ev = iscsi_kern_event {
                tid: 1,
                sid: 2,
                cid: 3,
                code: E_CONN_CLOSE,
                cookie: 4,
                target_name: name_bytes("iqn.t"),
                param1_size: 17,
                param2_size: 18,
                ..Default::default()
            };
            assert_eq!(f.ioctl_struct(TEST_EVENT, &mut ev), Ok(0));
            assert_eq!(
                (
                    ev.tid,
                    ev.sid,
                    ev.cid,
                    ev.code,
                    ev.cookie,
                    ev.param1_size,
                    ev.param2_size
                ),
                (1, u64::MAX, 3, 7, 4, 0, 0)
            );
            assert_eq!(cstr(&ev.target_name), b"iqn.t");
        });
        assert_eq!(calls, 1);
    }

    #[test]
    fn short_argument_is_efault() {
        let handler = |_cmd: u32, arg: &mut IoctlArg<'_>| -> Result<i32, Errno> {
            let _: iscsi_kern_session_info = arg.copy_from_user()?;
            Ok(0)
        };
        let calls = with_ctl("abi-test-short-arg", handler, |f| {
            let mut conn = iscsi_kern_conn_info::default();
            assert_eq!(f.ioctl_struct(ADD_SESSION, &mut conn), Err(Errno::EFAULT));
        });
        assert_eq!(calls, 1);
    }
}
