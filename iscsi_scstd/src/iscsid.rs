// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2002 - 2003 Ardis Technolgies <roman@ardistech.com>
// Copyright (C) 2007 - 2016 Vladislav Bolkhovitin
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! The daemon's objects and state: the data structures and globals of
//! `iscsi-scst/usr/iscsid.h` (targets, sessions, connections, accounts, the start-up limits).
//! The login state machine of `iscsid.c` follows them (`text_key_add()` …, `login_start()`,
//! `cmnd_exec_login()`, SendTargets, logout, reject, [`cmnd_execute`], [`cmnd_finish`]).
//!
//! # Ownership
//!
//! C keeps the daemon's state in globals (`targets_list`, `ctrl_fd`, `iscsi_init_params`, the
//! static discovery account lists of `config.c`, the TSIH counter of `session.c` …) linked by
//! pointers (`session->target`, `conn->sess`) and intrusive `__qelem` lists. The daemon is
//! single-threaded — all of it runs on the main thread's poll loop — so the port gathers that
//! state into one owned context, [`Daemon`], which the ported functions take as `&mut Daemon`
//! (or `&Daemon`) instead of reaching for globals. No lock and no `static mut` is needed, and
//! tests can build as many independent daemons as they like.
//!
//! The pointer web becomes ownership plus handles:
//!
//! - [`Daemon::targets_list`] owns the [`Target`]s (C `targets_list`), in insertion order;
//!   others refer to a target by its `tid`, as C's ioctls and events do.
//! - A target owns its [`Session`]s (`sessions_list`); a session refers back to its target by
//!   tid ([`Session::target`]) and is identified within it by its `sid` (the ISID + TSIH
//!   `id64`), which `session_create()` keeps unique per target.
//! - [`Connection`]s live in [`Daemon::connections`], keyed by a [`ConnHandle`] that is never
//!   reused. A connection is reachable from the main loop's `incoming[]` slot (login phase) and
//!   from its session's `conn_list` (after `session_create()` or a reinstatement), and it
//!   outlives the slot once it is handed to the kernel — exactly as C's `struct connection`
//!   sits on both lists. `conn_list` therefore holds handles, and `conn->sess` is the session's
//!   sid ([`Connection::sess`]).
//!
//! Lists (`struct __qelem`) are `Vec`s; `list_add_tail()` is `push`, `list_del()` a removal
//! from the owning `Vec`. Freeing (`target_free()`, `conn_free()`, `session_free()`) is
//! dropping the owned value after the C side effects.
#![doc(alias = "iscsid.h")]

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::RawFd;

use iscsi_scst::abi::{session_key_last, target_key_last, ISCSI_LISTEN_PORT};
use kemu::chrdev::CharDevFile;
use kemu::netlink::NetlinkUserSock;
use kemu::Errno;

use iscsi_scst::abi::{
    iscsi_is_key_internal, key_immediate_data, key_initial_r2t, key_max_recv_data_length,
    key_max_sessions, key_max_xmit_data_length, key_rdma_extensions, key_target_recv_data_length,
};
use zerocopy::IntoBytes;

use crate::config::{accounts_empty, config_initiator_access_allowed};
use crate::conn::conn_free_rsp_buf_list;
use crate::iscsi_hdr::{
    IscsiHdr, IscsiLoginReqHdr, IscsiLoginRspHdr, IscsiLogoutReqHdr, IscsiLogoutRspHdr,
    IscsiRejectHdr, IscsiSid, IscsiTextReqHdr, IscsiTextRspHdr, ISCSI_FLG_CSG_LOGIN,
    ISCSI_FLG_CSG_MASK, ISCSI_FLG_CSG_SECURITY, ISCSI_FLG_FINAL, ISCSI_FLG_NSG_FULL_FEATURE,
    ISCSI_FLG_NSG_LOGIN, ISCSI_FLG_NSG_MASK, ISCSI_FLG_TRANSIT, ISCSI_OPCODE_MASK,
    ISCSI_OP_IMMEDIATE, ISCSI_OP_LOGIN_CMD, ISCSI_OP_LOGIN_RSP, ISCSI_OP_LOGOUT_CMD,
    ISCSI_OP_LOGOUT_RSP, ISCSI_OP_REJECT_MSG, ISCSI_OP_TEXT_CMD, ISCSI_OP_TEXT_RSP,
    ISCSI_REASON_INVALID_PDU_FIELD, ISCSI_REASON_PROTOCOL_ERROR, ISCSI_REASON_UNSUPPORTED_COMMAND,
    ISCSI_RESERVED_TAG, ISCSI_STATUS_AUTH_FAILED, ISCSI_STATUS_INITIATOR_ERR,
    ISCSI_STATUS_INIT_ERR, ISCSI_STATUS_INV_SESSION_TYPE, ISCSI_STATUS_MISSING_FIELDS,
    ISCSI_STATUS_NO_RESOURCES, ISCSI_STATUS_NO_VERSION, ISCSI_STATUS_REDIRECT,
    ISCSI_STATUS_SESSION_NOT_FOUND, ISCSI_STATUS_TARGET_ERR, ISCSI_STATUS_TARGET_ERROR,
    ISCSI_STATUS_TGT_NOT_FOUND, ISCSI_STATUS_TOO_MANY_CONN, ISCSI_VERSION,
};
use crate::param::{
    self, params_check_val, params_index_by_name, params_set_val, params_str_to_val,
    params_val_to_str, IscsiKey, IscsiParam, KEY_STATE_DONE, KEY_STATE_DONE_ADDED,
    KEY_STATE_REQUEST, KEY_STATE_START,
};
use crate::session::{conn_find, session_create, session_find_id, session_find_name};
use crate::target::{
    target_find_by_id, target_find_by_id_mut, target_find_by_name, target_list_build,
    target_portal_allowed, target_redirected,
};

// ---------------------------------------------------------------------------------------------
// Start-up limits
// ---------------------------------------------------------------------------------------------

/// C `struct iscsi_init_params`: the driver's limits, returned by `REGISTER_USERD` at start-up
/// (`kernel_open()`) and applied to the key tables by `init_max_params()`.
#[doc(alias = "iscsi_init_params")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IscsiInitParams {
    /// Largest data segment the driver handles (1 MiB with 4 KiB pages).
    pub max_data_seg_len: i32,
    /// Largest number of queued commands per session (`MAX_NR_QUEUED_CMNDS`, 2048).
    pub max_queued_cmds: i32,
}

// ---------------------------------------------------------------------------------------------
// PDUs
// ---------------------------------------------------------------------------------------------

/// C `struct buf_segment`: one piece of a long text response (`conn->rsp_buf_list`), at most
/// MaxXmitDataSegmentLength (full feature phase) or [`INCOMING_BUFSIZE`] bytes.
#[doc(alias = "buf_segment")]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BufSegment {
    /// Bytes of `data` in use.
    pub len: u32,
    /// The segment's buffer (C: a flexible array member allocated with the segment).
    pub data: Vec<u8>,
}

/// C `struct PDU`: a request or response of the login / text / logout phase.
///
/// In C, `ahs` and `data` of a request point into `conn->req_buffer`, and `data` of a
/// response points at the first segment of `conn->rsp_buf_list`; the port gives the PDU its
/// own bytes. The sizes keep their C meaning (the lengths announced in the BHS).
#[doc(alias = "PDU")]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pdu {
    /// The Basic Header Segment.
    pub bhs: IscsiHdr,
    /// Additional header segments (empty for none; C `NULL`).
    pub ahs: Vec<u8>,
    /// Length of the AHS in bytes.
    pub ahssize: u32,
    /// The data segment (empty for none; C `NULL`).
    pub data: Vec<u8>,
    /// Length of the data segment in bytes.
    pub datasize: u32,
}

// ---------------------------------------------------------------------------------------------
// Sessions and connections
// ---------------------------------------------------------------------------------------------

/// C `struct session`: a normal session the daemon created with `ADD_SESSION`; owned by its
/// target's [`Target::sessions_list`] (C `slist`).
#[doc(alias = "session")]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Session {
    /// The initiator's name (C `char *initiator`).
    pub initiator: String,
    /// The tid of the target the session belongs to (C `struct target *target`).
    pub target: u32,
    /// ISID and TSIH; `sid.id64()` is the session id the driver knows.
    pub sid: IscsiSid,
    /// The session's connections (C `conn_list` of `connection.clist` entries).
    pub conn_list: Vec<ConnHandle>,
}

/// A connection's key in [`Daemon::connections`]: the port's stand-in for a
/// `struct connection *`. Handles are never reused, so a stale one finds nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnHandle(u64);

/// C `cork_transmit` / `uncork_transmit` hooks of `struct connection` (TCP_CORK on or off).
pub type TransmitFn = fn(RawFd) -> Result<(), Errno>;
/// C `getsockname` hook of `struct connection`: the local address of the connection.
pub type GetSockNameFn = fn(RawFd) -> Result<SocketAddr, Errno>;
/// C `is_discovery` hook of `struct connection` (iSER: whether the connection is a discovery
/// one).
pub type IsDiscoveryFn = fn(RawFd) -> bool;
/// C `getifaddrs()` as `target.c` `target_list_build_ifaddrs()` uses it: the addresses of the
/// host's interfaces (only those that have one).
pub type GetIfAddrsFn = fn() -> Result<Vec<IpAddr>, Errno>;

/// The CHAP part of C `connection.auth` (a one-member union in C).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnChap {
    /// The CHAP_A algorithm chosen.
    pub digest_alg: i32,
    /// The CHAP_I identifier sent.
    pub id: i32,
    /// Length of the challenge sent.
    pub challenge_size: i32,
    /// The challenge sent (C `unsigned char *challenge`).
    pub challenge: Vec<u8>,
}

/// C `connection.auth`: per-method authentication state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnAuth {
    /// CHAP state.
    pub chap: ConnChap,
}

/// C `struct connection`: one TCP connection in the login, discovery or logout phase.
///
/// Once a normal session's login completes, [`conn_pass_to_kern`](crate::conn::conn_pass_to_kern)
/// hands the socket to the driver; the object then stays on its session's `conn_list` until
/// the driver reports the connection closed.
#[doc(alias = "connection")]
#[derive(Clone, Debug)]
pub struct Connection {
    /// [`STATE_FREE`] … [`STATE_DROP`].
    pub state: i32,
    /// [`IOSTATE_FREE`] … [`IOSTATE_WRITE_DATA`].
    pub iostate: i32,
    /// The connection's socket.
    pub fd: RawFd,

    /// Set once `ADD_CONN` succeeded (C bit field).
    pub passed_to_kern: bool,
    /// Set when the login counted this connection's new session in the target's
    /// `sessions_count` (C bit field).
    pub sessions_count_incremented: bool,

    /// The tid of the target the login is for (C `struct target *target`).
    pub target: Option<u32>,
    /// The sid (`id64`) of the session in target `tid` this connection belongs to (C
    /// `struct session *sess`).
    pub sess: Option<u64>,

    /// The target id.
    pub tid: u32,

    /// The session keys as negotiated on this connection (kept here because negotiation ends
    /// before the session exists).
    pub session_params: [IscsiParam; session_key_last],

    /// InitiatorName.
    pub initiator: Option<String>,
    /// The local portal address the connection arrived on.
    pub target_portal: Option<String>,
    /// The CHAP user name the initiator logged in with.
    pub user: Option<String>,
    /// ISID + TSIH from the login request.
    pub sid: IscsiSid,
    /// Connection id.
    pub cid: u16,

    /// [`SESSION_NORMAL`] or [`SESSION_DISCOVERY`].
    pub session_type: i32,
    /// [`AUTH_UNKNOWN`], [`AUTH_NONE`] or [`AUTH_CHAP`].
    pub auth_method: i32,

    /// StatSN.
    pub stat_sn: u32,
    /// ExpStatSN.
    pub exp_stat_sn: u32,

    /// CmdSN.
    pub cmd_sn: u32,
    /// ExpCmdSN.
    pub exp_cmd_sn: u32,
    /// The target transfer tag of a multi-PDU text response.
    pub ttt: u32,

    /// The request being received.
    pub req: Pdu,
    /// The receive buffer for the request's AHS and data ([`INCOMING_BUFSIZE`] bytes once
    /// allocated).
    pub req_buffer: Vec<u8>,
    /// The response being sent.
    pub rsp: Pdu,
    /// The segments of a text response (C `__qelem` list of [`BufSegment`]s).
    pub rsp_buf_list: Vec<BufSegment>,
    /// Where the next read or write goes: in C a pointer into the region that `iostate`
    /// names (`req.bhs`, `req_buffer`, `rsp.bhs`, `rsp.ahs`, `rsp.data`); here the offset into
    /// that region.
    pub buffer: usize,
    /// Bytes left to read or write.
    pub rwsize: usize,

    /// [`AUTH_STATE_START`] or [`AUTH_STATE_CHALLENGE`].
    pub auth_state: i32,
    /// Authentication method state.
    pub auth: ConnAuth,

    /// Whether this is an iSER connection (iSER is not ported; always false).
    pub is_iser: bool,

    /// Sets TCP_CORK (set by the main loop when the connection is accepted).
    pub cork_transmit: Option<TransmitFn>,
    /// Clears TCP_CORK.
    pub uncork_transmit: Option<TransmitFn>,
    /// The local address of the socket.
    pub getsockname: Option<GetSockNameFn>,
    /// Whether the connection is a discovery one (iSER).
    pub is_discovery: Option<IsDiscoveryFn>,
    /// The peer address of the socket. Port addition: C's `config.c` calls `getpeername()` on
    /// `conn->fd` itself to match `initiators.allow` / `initiators.deny`.
    pub getpeername: Option<GetSockNameFn>,
}

impl Default for Connection {
    /// The all-zero connection C's `memset()` gives (before `conn_alloc()` sets the defaults).
    fn default() -> Self {
        Connection {
            state: STATE_FREE,
            iostate: IOSTATE_FREE,
            fd: 0,
            passed_to_kern: false,
            sessions_count_incremented: false,
            target: None,
            sess: None,
            tid: 0,
            session_params: [IscsiParam::default(); session_key_last],
            initiator: None,
            target_portal: None,
            user: None,
            sid: IscsiSid::default(),
            cid: 0,
            session_type: SESSION_NORMAL,
            auth_method: AUTH_NONE,
            stat_sn: 0,
            exp_stat_sn: 0,
            cmd_sn: 0,
            exp_cmd_sn: 0,
            ttt: 0,
            req: Pdu::default(),
            req_buffer: Vec::new(),
            rsp: Pdu::default(),
            rsp_buf_list: Vec::new(),
            buffer: 0,
            rwsize: 0,
            auth_state: AUTH_STATE_START,
            auth: ConnAuth::default(),
            is_iser: false,
            cork_transmit: None,
            uncork_transmit: None,
            getsockname: None,
            is_discovery: None,
            getpeername: None,
        }
    }
}

/// C `IOSTATE_FREE`: no PDU in transfer.
pub const IOSTATE_FREE: i32 = 0;
/// C `IOSTATE_READ_BHS`: receiving the 48-byte BHS.
pub const IOSTATE_READ_BHS: i32 = 1;
/// C `IOSTATE_READ_AHS_DATA`: receiving AHS and data into `req_buffer`.
pub const IOSTATE_READ_AHS_DATA: i32 = 2;
/// C `IOSTATE_WRITE_BHS`: sending the response BHS.
pub const IOSTATE_WRITE_BHS: i32 = 3;
/// C `IOSTATE_WRITE_AHS`: sending the response AHS.
pub const IOSTATE_WRITE_AHS: i32 = 4;
/// C `IOSTATE_WRITE_DATA`: sending the response data.
pub const IOSTATE_WRITE_DATA: i32 = 5;

/// C `STATE_FREE`: just accepted.
pub const STATE_FREE: i32 = 0;
/// C `STATE_SECURITY`: security negotiation.
pub const STATE_SECURITY: i32 = 1;
/// C `STATE_SECURITY_AUTH`: CHAP exchange in progress.
pub const STATE_SECURITY_AUTH: i32 = 2;
/// C `STATE_SECURITY_DONE`: security negotiation complete.
pub const STATE_SECURITY_DONE: i32 = 3;
/// C `STATE_SECURITY_LOGIN`: security done, going to operational negotiation.
pub const STATE_SECURITY_LOGIN: i32 = 4;
/// C `STATE_SECURITY_FULL`: security done, going to full feature phase.
pub const STATE_SECURITY_FULL: i32 = 5;
/// C `STATE_LOGIN`: operational negotiation.
pub const STATE_LOGIN: i32 = 6;
/// C `STATE_LOGIN_FULL`: operational negotiation done, going to full feature phase.
pub const STATE_LOGIN_FULL: i32 = 7;
/// C `STATE_FULL`: full feature phase in the daemon (discovery sessions).
pub const STATE_FULL: i32 = 8;
/// C `STATE_KERNEL`: to be handed to the driver after the last login response.
pub const STATE_KERNEL: i32 = 9;
/// C `STATE_CLOSE`: handed to the driver; the daemon closes its descriptor.
pub const STATE_CLOSE: i32 = 10;
/// C `STATE_EXIT`: to be closed (logout or failure).
pub const STATE_EXIT: i32 = 11;
/// C `STATE_DROP`: to be dropped without a response.
pub const STATE_DROP: i32 = 12;

/// C `AUTH_STATE_START`.
pub const AUTH_STATE_START: i32 = 0;
/// C `AUTH_STATE_CHALLENGE`.
pub const AUTH_STATE_CHALLENGE: i32 = 1;

/// C `SESSION_NORMAL`.
pub const SESSION_NORMAL: i32 = 0;
/// C `SESSION_DISCOVERY`.
pub const SESSION_DISCOVERY: i32 = 1;
/// C `AUTH_UNKNOWN`.
pub const AUTH_UNKNOWN: i32 = -1;
/// C `AUTH_NONE`.
pub const AUTH_NONE: i32 = 0;
/// C `AUTH_CHAP`.
pub const AUTH_CHAP: i32 = 1;
/// C `DIGEST_UNKNOWN`.
pub const DIGEST_UNKNOWN: i32 = -1;

/// C `BHS_SIZE`: bytes of a Basic Header Segment.
pub const BHS_SIZE: usize = 48;

/// C `INCOMING_BUFSIZE`: the receive buffer of the login phase. It must be 8192, the
/// MaxRecvDataSegmentLength RFC 3720 prescribes while logging in.
pub const INCOMING_BUFSIZE: usize = 8192;

/// C `ISCSI_USER_DIR_INCOMING`: accounts initiators log in with (index into `user_keys`).
pub const ISCSI_USER_DIR_INCOMING: i32 = 0;
/// C `ISCSI_USER_DIR_OUTGOING`: the account the target answers mutual CHAP with; must stay
/// the last direction.
pub const ISCSI_USER_DIR_OUTGOING: i32 = 1;

// ---------------------------------------------------------------------------------------------
// Attributes and accounts
// ---------------------------------------------------------------------------------------------

/// C `struct iscsi_attr`: a key/value attribute of a list — an account (key = user name,
/// value = secret) or an allowed portal pattern.
#[doc(alias = "iscsi_attr")]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IscsiAttr {
    /// The key (C `const char *attr_key`).
    pub attr_key: String,
    /// The value; `None` when created with an empty value (C `NULL`).
    pub attr_value: Option<String>,
    /// The mode of the sysfs attribute (sysfs build; `0600` for accounts).
    pub sysfs_mode: u32,
    /// The sysfs attribute name (C `char sysfs_name[64]`: at most 63 bytes).
    pub sysfs_name: String,
}

/// C `ISCSI_USER_NAME(attr)`: an account's user name.
#[allow(non_snake_case)]
pub fn ISCSI_USER_NAME(attr: &IscsiAttr) -> &str {
    &attr.attr_key
}

/// C `ISCSI_USER_PASS(attr)`: an account's secret (empty for none; C `NULL`).
#[allow(non_snake_case)]
pub fn ISCSI_USER_PASS(attr: &IscsiAttr) -> &str {
    attr.attr_value.as_deref().unwrap_or("")
}

// ---------------------------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------------------------

/// C `struct redirect_addr` inside `struct target`: where logins are redirected to (set through
/// the sysfs `redirect` attribute only, so always empty in the procfs build).
#[doc(alias = "redirect_addr")]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RedirectAddr {
    /// Address to redirect to (`[v6]` or v4 or a host name); empty for no redirection.
    pub addr: String,
    /// Port to redirect to.
    pub port: i32,
    /// `ISCSI_STATUS_TGT_MOVED_TEMP` or `ISCSI_STATUS_TGT_MOVED_PERM`.
    pub r#type: u8,
}

/// C `struct target`: an iSCSI target the daemon serves; owned by
/// [`Daemon::targets_list`] (C `tlist`).
#[doc(alias = "target")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The target's sessions (C `sessions_list` of `session.slist` entries).
    pub sessions_list: Vec<Session>,

    /// Whether logins are accepted (procfs build: set when the target is added).
    pub tgt_enabled: bool,
    /// Whether the driver's ACL names are `initiator#portal` (sysfs attribute).
    pub per_portal_acl: bool,

    /// Target key values (QueuedCommands … MaxSessions).
    pub target_params: [u32; target_key_last],
    /// The target's session key values: the starting point of every negotiation.
    pub session_params: [u32; session_key_last],

    /// Target id, assigned by the driver at `ADD_TARGET`.
    pub tid: u32,
    /// The iSCSI name (C `char name[ISCSI_NAME_LEN]`: at most 255 bytes).
    pub name: String,
    /// Alias; C never sets it (the `Alias` config line is ignored).
    pub alias: Option<String>,
    /// Normal sessions counted against MaxSessions.
    pub sessions_count: u32,

    /// Login redirection.
    pub redirect: RedirectAddr,

    /// IncomingUser accounts.
    pub target_in_accounts: Vec<IscsiAttr>,
    /// OutgoingUser account (at most one).
    pub target_out_accounts: Vec<IscsiAttr>,

    /// Portal patterns logins must match (sysfs `allowed_portal`; always empty in the procfs
    /// build).
    pub allowed_portals: Vec<IscsiAttr>,
    // C `isns_head`: iSNS is not ported.
}

// ---------------------------------------------------------------------------------------------
// The daemon's globals
// ---------------------------------------------------------------------------------------------

/// C `LISTEN_MAX`: listening sockets at most.
pub const LISTEN_MAX: usize = 8;
/// C `INCOMING_MAX`: connections in the login phase at most.
pub const INCOMING_MAX: usize = 256;

/// C `POLL_LISTEN`: first `poll_array[]` slot of the listening sockets.
pub const POLL_LISTEN: usize = 0;
/// C `POLL_IPC`: the `iscsi-scst-adm` socket's slot.
pub const POLL_IPC: usize = POLL_LISTEN + LISTEN_MAX;
/// C `POLL_ISER_LISTEN`: the iSER listener's slot.
pub const POLL_ISER_LISTEN: usize = POLL_IPC + 1;
/// C `POLL_NL`: the netlink socket's slot.
pub const POLL_NL: usize = POLL_ISER_LISTEN + 1;
/// C `POLL_ISNS`: the iSNS connection's slot.
pub const POLL_ISNS: usize = POLL_NL + 1;
/// C `POLL_SCN_LISTEN`: the iSNS SCN listener's slot.
pub const POLL_SCN_LISTEN: usize = POLL_ISNS + 1;
/// C `POLL_SCN`: the iSNS SCN connection's slot.
pub const POLL_SCN: usize = POLL_SCN_LISTEN + 1;
/// C `POLL_INCOMING`: first slot of the login-phase connections.
pub const POLL_INCOMING: usize = POLL_SCN + 1;
/// C `POLL_MAX`: size of `poll_array[]`.
pub const POLL_MAX: usize = POLL_INCOMING + INCOMING_MAX;

/// The daemon's state: the globals of `iscsid.h` (and the file-level statics of the `.c`
/// files this crate ports) gathered into one owned context; see the module doc.
#[derive(Debug)]
pub struct Daemon {
    /// C `iscsi_init_params` (`iscsi_scstd.c`): the driver's limits.
    pub iscsi_init_params: IscsiInitParams,
    /// C `session_keys[]` as the daemon changes it (`init_max_params()`): a working copy of
    /// [`param::session_keys`].
    pub session_keys: [IscsiKey; session_key_last],
    /// C `target_keys[]` as the daemon changes it: a working copy of [`param::target_keys`].
    pub target_keys: [IscsiKey; target_key_last],
    /// C `targets_list` (`target.c`).
    pub targets_list: Vec<Target>,
    /// C `discovery_users_in` (`config.c`): the global IncomingUser accounts, used by
    /// discovery sessions.
    pub discovery_users_in: Vec<IscsiAttr>,
    /// C `discovery_users_out` (`config.c`): the global OutgoingUser account.
    pub discovery_users_out: Vec<IscsiAttr>,
    /// Every `struct connection` C has allocated and not yet freed.
    pub connections: BTreeMap<ConnHandle, Connection>,
    /// The next [`ConnHandle`].
    next_conn: u64,
    /// C `tsih` (a function-level static of `session.c` `session_create()`): the next TSIH to
    /// try; starts at 1.
    pub tsih: u16,
    /// C `ctrl_fd` (`iscsi_scstd.c`): the open control device, set from `kernel_open()`.
    pub ctrl_fd: Option<CharDevFile>,
    /// C `nl_fd` (`iscsi_scstd.c`): the netlink socket, set from `nl_open()` (`event.c`, not
    /// ported yet).
    pub nl_fd: Option<NetlinkUserSock>,
    /// C `conn_blocked` (`iscsi_scstd.c`): refuse new connections.
    pub conn_blocked: bool,
    /// C `iscsi_enabled` (`iscsid.c`): whether logins are served; `main()` of the procfs
    /// build sets it at start-up.
    pub iscsi_enabled: bool,
    /// C `server_port` (`iscsi_scstd.c`): the listen port.
    pub server_port: u16,
    /// C `isns_server` (`isns.c`): the `iSNSServer` of the config file (iSNS is not ported).
    pub isns_server: Option<String>,
    /// C `isns_access_control` (`isns.c`): the `iSNSAccessControl` of the config file.
    pub isns_access_control: bool,
    /// C `ttt` (a file-level static of `iscsid.c`): the last target transfer tag given to a
    /// multi-PDU text response.
    ttt: u32,
    /// The local addresses of the listening sockets (C: `getsockname()` on the
    /// `poll_array[POLL_LISTEN..]` descriptors of `iscsi_scstd.c`, which `target.c`
    /// `target_list_build()` walks); set by whoever opens the listen sockets.
    pub listen_addrs: Vec<SocketAddr>,
    /// The host's interface addresses (C `getifaddrs()`), for expanding a wildcard listen
    /// address in SendTargets answers; `None` lists no interface addresses.
    pub getifaddrs: Option<GetIfAddrsFn>,
}

impl Default for Daemon {
    fn default() -> Self {
        Self::new()
    }
}

impl Daemon {
    /// The state C has before `main()` runs: the static initialisers of the globals.
    pub fn new() -> Self {
        Daemon {
            iscsi_init_params: IscsiInitParams::default(),
            session_keys: param::session_keys,
            target_keys: param::target_keys,
            targets_list: Vec::new(),
            discovery_users_in: Vec::new(),
            discovery_users_out: Vec::new(),
            connections: BTreeMap::new(),
            next_conn: 1,
            tsih: 1,
            ctrl_fd: None,
            nl_fd: None,
            conn_blocked: false,
            iscsi_enabled: false,
            server_port: ISCSI_LISTEN_PORT,
            isns_server: None,
            isns_access_control: false,
            ttt: 0,
            listen_addrs: Vec::new(),
            getifaddrs: None,
        }
    }

    /// Stores `conn` and returns its new handle (the allocation half of C `conn_alloc()`).
    pub(crate) fn conn_insert(&mut self, conn: Connection) -> ConnHandle {
        let h = ConnHandle(self.next_conn);
        self.next_conn += 1;
        self.connections.insert(h, conn);
        h
    }

    /// The connection behind a handle (C: dereferencing a `struct connection *`).
    pub fn conn(&self, h: ConnHandle) -> Option<&Connection> {
        self.connections.get(&h)
    }

    /// The connection behind a handle, for changing it.
    pub fn conn_mut(&mut self, h: ConnHandle) -> Option<&mut Connection> {
        self.connections.get_mut(&h)
    }
}

/// The first `max` bytes of `s` or less, cut at a character boundary: what a C `strlcpy()` /
/// `snprintf()` into a `char[max + 1]` keeps of an ASCII string.
pub(crate) fn truncate_str(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

// =============================================================================================
// iscsid.c: text keys, the login state machine, text requests, logout and reject
// =============================================================================================
//
// The functions below take the connection as `&mut Connection` next to `&mut Daemon` (C: a
// `struct connection *` next to the globals). `cmnd_execute()` takes the connection out of
// `Daemon::connections` for the time it runs and puts it back afterwards; only
// `login_finish()` has to put it back for a moment, because `session_create()` finds the
// connection by its handle.

/// C: iscsid.c get_next_ttt(): the next target transfer tag of the daemon, never
/// [`ISCSI_RESERVED_TAG`].
fn get_next_ttt(d: &mut Daemon) -> u32 {
    d.ttt = d.ttt.wrapping_add(1);
    if d.ttt == ISCSI_RESERVED_TAG {
        d.ttt = d.ttt.wrapping_add(1);
    }
    d.ttt
}

/// A name-only key of [`login_keys`].
const fn login_key(name: &'static str) -> IscsiKey {
    IscsiKey {
        name,
        rfc_def: 0,
        local_def: 0,
        min: 0,
        max: 0,
        show_in_sysfs: false,
        ops: None,
    }
}

/// C: iscsid.c login_keys[]: the keys of a login request that are not negotiated by the
/// operational stage (they are read by `login_start()` or belong to iSER) and so are neither
/// answered nor called not understood.
#[allow(non_upper_case_globals)]
static login_keys: [IscsiKey; 8] = [
    login_key("InitiatorName"),
    login_key("InitiatorAlias"),
    login_key("SessionType"),
    login_key("TargetName"),
    login_key("InitiatorRecvDataSegmentLength"),
    login_key("MaxAHSLength"),
    login_key("TaggedBufferForSolicitedDataOnly"),
    login_key("iSERHelloRequired"),
];

/// The request's data segment: `datasize` bytes of `data` (C `req.data`, `req.datasize`),
/// never more than the buffer holds.
fn req_data(req: &Pdu) -> &[u8] {
    let n = usize::try_from(req.datasize)
        .unwrap_or(usize::MAX)
        .min(req.data.len());
    &req.data[..n]
}

/// What C sees of `bytes` as a string: the bytes before the first NUL.
fn c_str(bytes: &[u8]) -> &[u8] {
    bytes.split(|&b| b == 0).next().unwrap_or_default()
}

/// C `params_index_by_name()` for a key name taken from a request (bytes, compared without
/// regard to ASCII case).
fn key_index(key: &[u8], keys: &[IscsiKey]) -> Option<usize> {
    std::str::from_utf8(key)
        .ok()
        .and_then(|k| params_index_by_name(k, keys).ok())
}

/// C: iscsid.c text_key_find(): the value of key `search_key` (compared without regard to
/// ASCII case) in the request's `key=value\0` list.
///
/// Only complete pairs count: the scan stops at the first text without a `=` or a value
/// without its terminating NUL.
pub fn text_key_find<'a>(conn: &'a Connection, search_key: &str) -> Option<&'a [u8]> {
    let mut data = req_data(&conn.req);

    loop {
        let eq = data.iter().position(|&b| b == b'=')?;
        let key = &data[..eq];
        data = &data[eq + 1..];

        let nul = data.iter().position(|&b| b == 0)?;
        let value = &data[..nul];
        data = &data[nul + 1..];

        if key.eq_ignore_ascii_case(search_key.as_bytes()) {
            return Some(value);
        }
    }
}

/// C: iscsid.c next_key(): takes the next `key=value\0` pair off `data`; `None` when no
/// complete pair is left.
///
/// C cuts the pair in place by writing a NUL over the `=`, so a key that contains a NUL is
/// seen only up to it; the port returns the key the same way.
fn next_key<'a>(data: &mut &'a [u8]) -> Option<(&'a [u8], &'a [u8])> {
    let eq = data.iter().position(|&b| b == b'=')?;
    let rest = &data[eq + 1..];
    let nul = rest.iter().position(|&b| b == 0)?;

    let key = c_str(&data[..eq]);
    let value = &rest[..nul];
    *data = &rest[nul + 1..];

    Some((key, value))
}

/// C: iscsid.c conn_alloc_buf_segment(): appends an empty response segment of up to `sz`
/// bytes to the connection's `rsp_buf_list`. The port's segment grows as bytes are written
/// (C allocates and zeroes all `sz` bytes up front).
fn conn_alloc_buf_segment(conn: &mut Connection, sz: usize) {
    conn.rsp_buf_list.push(BufSegment {
        len: 0,
        data: Vec::with_capacity(sz.min(INCOMING_BUFSIZE)),
    });
    log::trace!("alloc'ed new buf_segment");
}

/// C: iscsid.c text_key_add(): appends `key=value\0` to the response text.
///
/// The text is kept in segments of at most MaxXmitDataSegmentLength bytes in the full
/// feature phase (discovery sessions) and [`INCOMING_BUFSIZE`] bytes while logging in; a pair
/// that does not fit is split across segments, even in the middle of the key or the value.
/// Keys and values are bytes, so a key taken from a request is echoed as it came.
pub fn text_key_add(conn: &mut Connection, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
    let key = key.as_ref();
    let value = value.as_ref();
    let keylen = key.len();
    let valuelen = value.len();
    let mut len = keylen + valuelen + 2;
    let mut off = 0usize;
    let mut stage = 0;

    let data_sz = if conn.state == STATE_FULL {
        usize::try_from(conn.session_params[key_max_xmit_data_length].val).unwrap_or(usize::MAX)
    } else {
        INCOMING_BUFSIZE
    };
    // C would loop for ever on a zero segment size; the negotiation never gives one.
    let data_sz = data_sz.max(1);

    while len > 0 {
        if conn
            .rsp_buf_list
            .last()
            .is_none_or(|seg| seg.len as usize == data_sz)
        {
            conn_alloc_buf_segment(conn, data_sz);
        }
        let Some(seg) = conn.rsp_buf_list.last_mut() else {
            break;
        };
        let seg_len = seg.len as usize;
        let room = data_sz - seg_len;

        let sz = match stage {
            0 => {
                let sz = room.min(keylen - off);
                seg.data.extend_from_slice(&key[off..off + sz]);
                if sz == room {
                    off += sz;
                    if keylen - off == 0 {
                        off = 0;
                        stage += 1;
                    }
                } else {
                    off = 0;
                    stage += 1;
                }
                sz
            }
            1 => {
                seg.data.push(b'=');
                off = 0;
                stage += 1;
                1
            }
            2 => {
                let sz = room.min(valuelen - off);
                seg.data.extend_from_slice(&value[off..off + sz]);
                off += sz;
                if valuelen - off == 0 {
                    off = 0;
                    stage += 1;
                }
                sz
            }
            _ => {
                seg.data.push(0);
                1
            }
        };

        log::trace!(
            "wrote: {}",
            String::from_utf8_lossy(&seg.data[seg_len..seg_len + sz])
        );

        seg.len += sz as u32;
        len -= sz;
    }
}

/// C: iscsid.c text_key_add_reject(): answers `key=Reject`.
fn text_key_add_reject(conn: &mut Connection, key: &[u8]) {
    text_key_add(conn, key, "Reject");
}

/// The response BHS seen as a Login Response (C: the cast of `&conn->rsp.bhs`).
fn login_rsp(conn: &mut Connection) -> &mut IscsiLoginRspHdr {
    IscsiLoginRspHdr::from_hdr_mut(&mut conn.rsp.bhs)
}

/// The Status-Class of the Login Response being built (C `rsp->status_class`).
fn login_status_class(conn: &Connection) -> u8 {
    IscsiLoginRspHdr::from_hdr(&conn.rsp.bhs).status_class
}

/// C: iscsid.c login_rsp_ini_err(): fails the login with an initiator error (class 2) and
/// closes the connection after the response.
fn login_rsp_ini_err(conn: &mut Connection, status_detail: u8) {
    let rsp = login_rsp(conn);
    rsp.status_class = ISCSI_STATUS_INITIATOR_ERR;
    rsp.status_detail = status_detail;
    conn.state = STATE_EXIT;
}

/// C: iscsid.c login_rsp_tgt_err(): fails the login with a target error (class 3) and closes
/// the connection after the response.
fn login_rsp_tgt_err(conn: &mut Connection, status_detail: u8) {
    let rsp = login_rsp(conn);
    rsp.status_class = ISCSI_STATUS_TARGET_ERR;
    rsp.status_detail = status_detail;
    conn.state = STATE_EXIT;
}

/// C: iscsid.c text_scan_security(): the keys of a security-stage request.
///
/// `AuthMethod`: the first offered method the target can use is answered — `None` only
/// while there are no IncomingUser accounts (the target's, or the discovery accounts for a
/// discovery session), `CHAP` only while there are; no usable method is answered `Reject` and
/// fails the login (authentication failure). The login keys are skipped, anything else is
/// `NotUnderstood`.
fn text_scan_security(d: &Daemon, conn: &mut Connection) {
    let req = req_data(&conn.req).to_vec();
    let mut data = &req[..];
    let incoming_empty = accounts_empty(d, conn.tid, ISCSI_USER_DIR_INCOMING);

    while let Some((key, value)) = next_key(&mut data) {
        if key_index(key, &login_keys).is_some() {
            // Read by login_start().
        } else if key == b"AuthMethod" {
            for value in value.split(|&b| b == b',') {
                if value == b"None" {
                    if !incoming_empty {
                        continue;
                    }
                    conn.auth_method = AUTH_NONE;
                    text_key_add(conn, key, "None");
                    break;
                } else if value == b"CHAP" {
                    if incoming_empty {
                        continue;
                    }
                    conn.auth_method = AUTH_CHAP;
                    text_key_add(conn, key, "CHAP");
                    break;
                }
            }

            if conn.auth_method == AUTH_UNKNOWN {
                text_key_add_reject(conn, key);
            }
        } else {
            text_key_add(conn, key, "NotUnderstood");
        }
    }

    if conn.auth_method == AUTH_UNKNOWN {
        login_rsp_ini_err(conn, ISCSI_STATUS_AUTH_FAILED);
    }
}

/// C `ISCSI_SESS_REINSTATEMENT` (iscsid.c): the login reinstates a session.
const ISCSI_SESS_REINSTATEMENT: i32 = 1;
/// C `ISCSI_CONN_REINSTATEMENT` (iscsid.c): the login reinstates a connection.
const ISCSI_CONN_REINSTATEMENT: i32 = 2;

/// C: iscsid.c login_check_reinstatement(): how a normal login relates to the sessions the
/// daemon knows: [`ISCSI_SESS_REINSTATEMENT`], [`ISCSI_CONN_REINSTATEMENT`], 0 for a new
/// session, or -1 after failing the login.
///
/// The checks only catch errors early; the driver does the actual reinstatement. A session of
/// the same initiator and ISID is reinstated when the request's TSIH is 0; a TSIH that is
/// neither 0 nor the session's fails with "session does not exist", and so does a TSIH for no
/// known session. With the session's TSIH, a known CID means a connection reinstatement (the
/// connection joins the session); a new CID fails with "too many connections", as only one
/// connection per session is supported.
fn login_check_reinstatement(d: &mut Daemon, conn: &mut Connection, h: ConnHandle) -> i32 {
    let req_sid = IscsiLoginReqHdr::from_hdr(&conn.req.bhs).sid;

    debug_assert!(conn.sess.is_none());

    let initiator = conn.initiator.clone().unwrap_or_default();
    let found = session_find_name(d, conn.tid, &initiator, req_sid)
        .map(|s| (s.sid, conn_find(d, s, conn.cid)));

    match found {
        Some((ssid, c)) => {
            if req_sid.tsih.get() == 0 {
                log::debug!(
                    "Session sid {:#x} reinstatement detected (tid {}, initiator {initiator})",
                    req_sid.id64(),
                    conn.tid
                );
                ISCSI_SESS_REINSTATEMENT
            } else if req_sid.tsih != ssid.tsih {
                log::error!(
                    "TSIH for existing session sid {:#x}) doesn't match (tid {}, initiator \
                     {initiator}, sid requested {:#x}",
                    ssid.id64(),
                    conn.tid,
                    req_sid.id64()
                );
                login_rsp_ini_err(conn, ISCSI_STATUS_SESSION_NOT_FOUND);
                -1
            } else if c.is_some() {
                log::debug!(
                    "Conn {:x} reinstatement detected (tid {}, sid {:#x}initiator {initiator})",
                    conn.cid,
                    conn.tid,
                    req_sid.id64()
                );
                conn.sess = Some(ssid.id64());
                if let Some(s) = target_find_by_id_mut(d, conn.tid).and_then(|t| {
                    t.sessions_list
                        .iter_mut()
                        .find(|s| s.sid.id64() == ssid.id64())
                }) {
                    s.conn_list.push(h);
                }
                ISCSI_CONN_REINSTATEMENT
            } else {
                log::error!("Only a single connection supported (initiator {initiator})");
                login_rsp_ini_err(conn, ISCSI_STATUS_TOO_MANY_CONN);
                -1
            }
        }
        None => {
            if req_sid.tsih.get() != 0 {
                log::error!(
                    "Requested TSIH not 0 (TSIH {}, tid {}, initiator {initiator}, sid \
                     requisted {:#x})",
                    req_sid.tsih.get(),
                    conn.tid,
                    req_sid.id64()
                );
                login_rsp_ini_err(conn, ISCSI_STATUS_SESSION_NOT_FOUND);
                -1
            } else {
                log::debug!(
                    "New session sid {:#x}(tid {}, initiator {initiator})",
                    req_sid.id64(),
                    conn.tid
                );
                0
            }
        }
    }
}

/// C: iscsid.c text_scan_login(): negotiates the keys of an operational-stage request.
///
/// Each session key is parsed, range-checked and negotiated with the key's rule (`param.c`);
/// a key offered by the initiator is answered with the result (internal keys are not). The
/// initiator's MaxRecvDataSegmentLength is what the target may send, so it is negotiated as
/// MaxXmitDataSegmentLength, and MaxRecvDataSegmentLength itself is marked done (the target
/// declares its own in `text_check_params()`); MaxXmitDataSegmentLength from the initiator
/// is not understood. An unparsable value is answered `Reject` the first time and fails the
/// login otherwise; so does RDMAExtensions other than No on TCP, and an answer to a key the
/// target offered that differs from the target's value. Unknown keys are `NotUnderstood`.
fn text_scan_login(d: &Daemon, conn: &mut Connection) {
    let keys = d.session_keys;
    let req = req_data(&conn.req).to_vec();
    let mut data = &req[..];

    while let Some((key, value)) = next_key(&mut data) {
        if key_index(key, &login_keys).is_some() || key == b"AuthMethod" {
            continue;
        }
        let Some(mut idx) = key_index(key, &keys) else {
            text_key_add(conn, key, "NotUnderstood");
            continue;
        };

        if idx == key_max_xmit_data_length {
            text_key_add(conn, key, "NotUnderstood");
            continue;
        }
        if idx == key_max_recv_data_length {
            conn.session_params[idx].key_state = KEY_STATE_DONE;
            idx = key_max_xmit_data_length;
        }

        // C leaves `val` uninitialised; only the marker intervals (no parser) reach the
        // negotiation without a parsed value, and their rule ignores it.
        let mut val: u32 = 0;
        let value = String::from_utf8_lossy(value);
        if params_str_to_val(&keys, idx, &value, &mut val).is_err() {
            if conn.session_params[idx].key_state == KEY_STATE_START {
                text_key_add_reject(conn, key);
                continue;
            } else {
                login_rsp_ini_err(conn, ISCSI_STATUS_INIT_ERR);
                return;
            }
        }

        if conn.is_iser {
            if idx == key_rdma_extensions {
                if val != 1 {
                    login_rsp_ini_err(conn, ISCSI_STATUS_INIT_ERR);
                    return;
                }
            } else if idx == key_initial_r2t {
                val = 1;
            } else if idx == key_immediate_data {
                val = 0;
            }
        } else if idx == key_rdma_extensions && val != 0 {
            login_rsp_ini_err(conn, ISCSI_STATUS_INIT_ERR);
            return;
        }

        // C ignores both results: a value out of range has been clamped into it.
        let _ = params_check_val(&keys, idx, &mut val);
        let _ = params_set_val(&keys, &mut conn.session_params, idx, &mut val);

        match conn.session_params[idx].key_state {
            KEY_STATE_START => {
                if iscsi_is_key_internal(idx) {
                    conn.session_params[idx].key_state = KEY_STATE_DONE;
                } else {
                    let buf = params_val_to_str(&keys, idx, val).unwrap_or_default();
                    text_key_add(conn, key, truncate_str(&buf, 31));
                    conn.session_params[idx].key_state = KEY_STATE_DONE_ADDED;
                }
            }
            KEY_STATE_REQUEST => {
                if val != conn.session_params[idx].val {
                    login_rsp_ini_err(conn, ISCSI_STATUS_INIT_ERR);
                    log::warn!(
                        "{} {} {}",
                        String::from_utf8_lossy(key),
                        val,
                        conn.session_params[idx].val
                    );
                    return;
                }
                conn.session_params[idx].key_state = KEY_STATE_DONE;
            }
            _ => {}
        }
    }
}

/// C: iscsid.c text_check_params(): settles the keys the initiator did not offer and returns
/// how many keys still wait for the initiator.
///
/// A key whose value differs from the RFC default is set back to the RFC default when it
/// was never negotiated (RFC 3720: an unnegotiated key has its default), and left alone when
/// it has been answered. Otherwise, during operational negotiation ([`STATE_LOGIN`]) the
/// target offers its value (MaxRecvDataSegmentLength is a declaration, done at once; the
/// others wait for the initiator's answer and are counted); on the way to the full feature
/// phase only the internal keys are marked done.
fn text_check_params(d: &Daemon, conn: &mut Connection) -> i32 {
    let keys = &d.session_keys;
    let mut cnt = 0;

    for (i, key) in keys.iter().enumerate() {
        if conn.session_params[i].val == key.rfc_def {
            continue;
        }
        match conn.session_params[i].key_state {
            KEY_STATE_START => {
                log::debug!(
                    "Key {} was not negotiated, use RFC defined default {}",
                    key.name,
                    key.rfc_def
                );
                conn.session_params[i].val = key.rfc_def;
                continue;
            }
            KEY_STATE_DONE_ADDED => {
                log::debug!(
                    "Key {} was already added, val {}",
                    key.name,
                    conn.session_params[i].val
                );
                continue;
            }
            _ => {}
        }
        match conn.state {
            STATE_LOGIN_FULL | STATE_SECURITY_FULL => {
                if iscsi_is_key_internal(i) {
                    conn.session_params[i].key_state = KEY_STATE_DONE;
                    continue;
                }
            }
            STATE_LOGIN => {
                if iscsi_is_key_internal(i) {
                    continue;
                }
                let buf =
                    params_val_to_str(keys, i, conn.session_params[i].val).unwrap_or_default();
                text_key_add(conn, key.name, truncate_str(&buf, 31));
                if i == key_max_recv_data_length {
                    conn.session_params[i].key_state = KEY_STATE_DONE;
                    continue;
                }
                conn.session_params[i].key_state = KEY_STATE_REQUEST;
            }
            _ => {
                if iscsi_is_key_internal(i) {
                    continue;
                }
            }
        }
        cnt += 1;
    }

    cnt
}

/// C: iscsid.c init_conn_session_params(): starts the connection's negotiation from the
/// session key values of its target; `ENOENT` when the target is gone.
fn init_conn_session_params(d: &Daemon, conn: &mut Connection) -> Result<(), Errno> {
    let Some(target) = target_find_by_id(d, conn.tid) else {
        log::error!("target {} not found", conn.tid);
        return Err(Errno::ENOENT);
    };

    for (p, v) in conn.session_params.iter_mut().zip(target.session_params) {
        p.val = v;
    }

    Ok(())
}

/// C `config_initiator_access_allowed(tid, conn->fd)`: `initiators.deny` / `initiators.allow`
/// for the connection's peer. The peer comes from the connection's `getpeername` hook; when it
/// is unknown no rule can match, so access is allowed, as in C (whose `__initiator_match()`
/// fails to match when `getpeername()` fails).
pub(crate) fn conn_initiator_access_allowed(d: &Daemon, conn: &Connection, tid: u32) -> bool {
    match conn.getpeername.map(|f| f(conn.fd)) {
        Some(Ok(peer)) => config_initiator_access_allowed(d, tid, &peer.ip()),
        _ => true,
    }
}

/// C: iscsid.c login_start(): the first request of a login.
///
/// Takes CID and ISID/TSIH from the header and requires `InitiatorName` (else "missing
/// parameter"). `SessionType` is `Normal` (the default) or `Discovery`, anything else an
/// invalid session type. A normal session needs `TargetName`, and then, in this order: the
/// target exists (else "not found"); iSCSI and the target are enabled (else a target error
/// with detail 0 and the connection is dropped without a response); `initiators.deny` /
/// `initiators.allow` and the target's portal and initiator checks allow it (else, again,
/// "not found"); a redirection answers class REDIRECT; the negotiation starts from the
/// target's key values; the reinstatement check; and MaxSessions (0: no limit) — a new
/// session beyond it fails with "out of resources", reinstatements are not limited (a session
/// reinstatement counts a session, as the driver will drop the old one). Every accepted first
/// request is answered `TargetPortalGroupTag=1`.
fn login_start(d: &mut Daemon, conn: &mut Connection, h: ConnHandle) {
    let req = *IscsiLoginReqHdr::from_hdr(&conn.req.bhs);

    conn.cid = req.cid.get();
    conn.sid = req.sid;

    let Some(name) = text_key_find(conn, "InitiatorName") else {
        login_rsp_ini_err(conn, ISCSI_STATUS_MISSING_FIELDS);
        return;
    };
    let name = String::from_utf8_lossy(name).into_owned();
    conn.initiator = Some(name.clone());

    let session_type = text_key_find(conn, "SessionType").map(<[u8]>::to_vec);
    let target_name = text_key_find(conn, "TargetName").map(<[u8]>::to_vec);

    conn.auth_method = AUTH_UNKNOWN;
    conn.session_type = SESSION_NORMAL;

    if let Some(session_type) = session_type {
        if session_type == b"Discovery" {
            if conn.is_discovery.is_some_and(|f| f(conn.fd)) {
                login_rsp_tgt_err(conn, ISCSI_STATUS_MISSING_FIELDS);
                return;
            }
            conn.session_type = SESSION_DISCOVERY;
        } else if session_type != b"Normal" {
            login_rsp_ini_err(conn, ISCSI_STATUS_INV_SESSION_TYPE);
            return;
        }
    }

    if conn.session_type == SESSION_NORMAL {
        let Some(target_name) = target_name else {
            login_rsp_ini_err(conn, ISCSI_STATUS_MISSING_FIELDS);
            return;
        };
        let target_name = String::from_utf8_lossy(&target_name).into_owned();

        let Some(target) = target_find_by_name(d, &target_name) else {
            login_rsp_ini_err(conn, ISCSI_STATUS_TGT_NOT_FOUND);
            return;
        };
        let tid = target.tid;

        conn.target = Some(tid);

        // An event arriving at the wrong moment could leave the connection unaccounted.
        if !d.iscsi_enabled {
            log::info!("Connect from {name} to disabled iSCSI-SCST refused");
            login_rsp_tgt_err(conn, 0);
            conn.state = STATE_DROP;
            return;
        }

        if !target.tgt_enabled {
            log::info!("Connect from {name} to disabled target {target_name} refused");
            login_rsp_tgt_err(conn, 0);
            conn.state = STATE_DROP;
            return;
        }

        conn.tid = tid;

        // iSNS is not ported: isns_scn_access_allowed() always allows.
        let portal = conn.target_portal.clone().unwrap_or_default();
        if !conn_initiator_access_allowed(d, conn, tid)
            || !target_portal_allowed(d, target, &portal, &name)
        {
            log::info!("Initiator {name} not allowed to connect to target {target_name}");
            login_rsp_ini_err(conn, ISCSI_STATUS_TGT_NOT_FOUND);
            return;
        }

        if !target.redirect.addr.is_empty() {
            let local = match conn.getsockname.map(|f| f(conn.fd)) {
                Some(Ok(local)) => Some(local),
                Some(Err(e)) => {
                    log::error!("getsockname() failed: {}", e.desc());
                    None
                }
                None => {
                    log::error!("getsockname() failed: no socket");
                    None
                }
            };
            if let Some(redirect) = local.and_then(|l| target_redirected(target, &l)) {
                log::debug!(
                    "Redirecting target {} login to {}:{}",
                    target.name,
                    target.redirect.addr,
                    target.redirect.port
                );
                let detail = target.redirect.r#type;
                text_key_add(conn, "TargetAddress", redirect);
                let rsp = login_rsp(conn);
                rsp.status_class = ISCSI_STATUS_REDIRECT;
                rsp.status_detail = detail;
                conn.state = STATE_EXIT;
                return;
            }
        }

        if let Err(err) = init_conn_session_params(d, conn) {
            log::error!(
                "Can't get session params for session {:#x} (err {}): {}",
                conn.sid.id64(),
                kemu::errno_neg(err),
                err.desc()
            );
            login_rsp_tgt_err(conn, ISCSI_STATUS_TARGET_ERROR);
            return;
        }

        let rc = login_check_reinstatement(d, conn, h);
        let Some(target) = target_find_by_id_mut(d, tid) else {
            return;
        };
        if rc < 0 {
            return;
        } else if rc == ISCSI_SESS_REINSTATEMENT {
            target.sessions_count += 1;
            conn.sessions_count_incremented = true;
        } else if rc != ISCSI_CONN_REINSTATEMENT {
            let max_sessions = target.target_params[key_max_sessions];
            if max_sessions == 0 || target.sessions_count < max_sessions {
                target.sessions_count += 1;
                conn.sessions_count_incremented = true;
            } else {
                log::warn!(
                    "Initiator {name} not allowed to connect to target {target_name} - max \
                     sessions limit reached ({max_sessions})"
                );
                login_rsp_tgt_err(conn, ISCSI_STATUS_NO_RESOURCES);
                conn.state = STATE_EXIT;
                return;
            }
        }
        log::debug!(
            "target {target_name}, sessions_count {}",
            target.sessions_count
        );
    }

    conn.exp_cmd_sn = req.cmd_sn.get();
    log::debug!(
        "exp_cmd_sn {}, cmd_sn {}",
        conn.exp_cmd_sn,
        req.cmd_sn.get()
    );
    text_key_add(conn, "TargetPortalGroupTag", "1");
}

/// C: iscsid.c login_finish(): the login goes to the full feature phase: a normal session is
/// created (`session_create()`: TSIH, `ADD_SESSION` with the negotiated values) unless the
/// connection joins an existing one, and its ISID/TSIH become the connection's; a discovery
/// session gets the dummy TSIH 1.
fn login_finish(d: &mut Daemon, conn: &mut Connection, h: ConnHandle) -> Result<(), Errno> {
    let mut res = Ok(());

    if conn.is_iser && conn.session_params[key_target_recv_data_length].key_state == KEY_STATE_START
    {
        let buf = params_val_to_str(
            &d.session_keys,
            key_target_recv_data_length,
            d.session_keys[key_target_recv_data_length].local_def,
        )
        .unwrap_or_default();
        text_key_add(conn, "TargetRecvDataSegmentLength", truncate_str(&buf, 31));
    }

    match conn.session_type {
        SESSION_NORMAL => {
            if conn.sess.is_none() {
                // session_create() finds the connection by its handle: put it back meanwhile.
                d.connections.insert(h, std::mem::take(conn));
                res = session_create(d, h);
                if let Some(c) = d.connections.remove(&h) {
                    *conn = c;
                }
            }
            if res.is_ok() {
                if let Some(sid) = conn.sess {
                    conn.sid = IscsiSid::from_id64(sid);
                }
            }
        }
        SESSION_DISCOVERY => {
            // A dummy TSIH.
            conn.sid.tsih = 1.into();
        }
        _ => {}
    }

    res
}

/// C: iscsid.c cmnd_reject(): answers the request with a Reject PDU for `reason`, carrying
/// the rejected header as its data; any response text is dropped.
fn cmnd_reject(conn: &mut Connection, reason: u8) {
    conn_free_rsp_buf_list(conn);
    conn_alloc_buf_segment(conn, BHS_SIZE);

    let stat_sn = conn.stat_sn;
    conn.stat_sn = conn.stat_sn.wrapping_add(1);
    let exp_cmd_sn = conn.exp_cmd_sn;

    conn.rsp.bhs = IscsiHdr::default();
    let rej = IscsiRejectHdr::from_hdr_mut(&mut conn.rsp.bhs);
    rej.opcode = ISCSI_OP_REJECT_MSG;
    rej.reason = reason;
    rej.ffffffff.set(ISCSI_RESERVED_TAG);
    rej.flags |= ISCSI_FLG_FINAL;

    rej.stat_sn.set(stat_sn);
    rej.exp_cmd_sn.set(exp_cmd_sn);
    rej.max_cmd_sn.set(exp_cmd_sn.wrapping_add(1));

    let bhs = conn.req.bhs;
    if let Some(seg) = conn.rsp_buf_list.last_mut() {
        seg.data.clear();
        seg.data.extend_from_slice(bhs.as_bytes());
        seg.len = BHS_SIZE as u32;
    }
}

// C `CHAP_INITIATOR_ERROR` (chap.c, -1: the initiator broke the CHAP exchange) comes with
// the port of chap.c; here it would only reach `cmnd_exec_login()`'s catch-all.
/// C `CHAP_AUTH_ERROR` (chap.c): the initiator could not be authenticated.
const CHAP_AUTH_ERROR: i32 = -2;
/// C `CHAP_TARGET_ERROR` (chap.c): the target could not run CHAP.
const CHAP_TARGET_ERROR: i32 = -3;

/// Stands in for C: chap.c cmnd_exec_auth_chap() until `chap.c` is ported: one step of the
/// CHAP exchange, 0 or a `CHAP_*` error.
///
/// For now CHAP is not supported: the exchange fails at its first step with
/// [`CHAP_AUTH_ERROR`], which `cmnd_exec_login()` answers with status 0x0201 (authentication
/// failure — RFC 3720 §10.13.5 covers "authentication not supported" with it).
fn cmnd_exec_auth_chap(_d: &Daemon, conn: &mut Connection) -> i32 {
    log::error!(
        "CHAP authentication of initiator {} is not supported yet",
        conn.initiator.as_deref().unwrap_or_default()
    );
    CHAP_AUTH_ERROR
}

/// C: iscsid.c cmnd_exec_auth(): one step of the chosen authentication method: 0 when done or
/// going on, a negative `CHAP_*` code on failure.
fn cmnd_exec_auth(d: &Daemon, conn: &mut Connection) -> i32 {
    match conn.auth_method {
        AUTH_CHAP => cmnd_exec_auth_chap(d, conn),
        AUTH_NONE => 0,
        m => {
            log::error!("Unknown auth. method {m}");
            CHAP_TARGET_ERROR
        }
    }
}

/// How `cmnd_exec_login()` fails a login (C: its `goto` labels).
enum LoginFail {
    /// C `init_err`: initiator error, 0x0200.
    Init,
    /// C `auth_err`: authentication failure, 0x0201.
    Auth,
    /// C `target_err`: target error, 0x0300.
    Target,
    /// C `tgt_no_mem`: out of resources, 0x0302.
    NoMem,
}

/// C: iscsid.c cmnd_exec_login(): answers a Login Request.
///
/// Only immediate Login PDUs are accepted (else a Reject, protocol error) and the version
/// range must include [`ISCSI_VERSION`] (else "unsupported version", 0x0205). The current
/// stage (CSG) runs — security: `login_start()` on the first request, the security keys,
/// then the CHAP steps; operational: `login_start()` on the first request (refused when the
/// target requires authentication), `text_scan_login()` and `text_check_params()`. With the
/// T bit the next stage (NSG) is entered: operational from security; full feature from
/// either, unless keys are still outstanding (the target then stays in, or moves to,
/// operational negotiation) — entering it runs `login_finish()`. A response text longer than
/// one PDU is not supported (target error). Every successful response carries the ISID/TSIH,
/// StatSN (then incremented), ExpCmdSN and MaxCmdSN = ExpCmdSN + 1; a failed one carries
/// only its status (and zero sequence numbers, as in C).
fn cmnd_exec_login(d: &mut Daemon, conn: &mut Connection, h: ConnHandle) {
    let req = *IscsiLoginReqHdr::from_hdr(&conn.req.bhs);
    let mut stay = 0;
    let mut nsg_disagree = 0;

    conn.rsp.bhs = IscsiHdr::default();
    if (req.opcode & ISCSI_OPCODE_MASK) != ISCSI_OP_LOGIN_CMD
        || (req.opcode & ISCSI_OP_IMMEDIATE) == 0
    {
        cmnd_reject(conn, ISCSI_REASON_PROTOCOL_ERROR);
        return;
    }

    {
        let rsp = login_rsp(conn);
        rsp.opcode = ISCSI_OP_LOGIN_RSP;
        rsp.max_version = ISCSI_VERSION;
        rsp.active_version = ISCSI_VERSION;
        rsp.itt = req.itt;
    }

    // C leaves the Version-max check out (commented out).
    if req.min_version > ISCSI_VERSION {
        login_rsp_ini_err(conn, ISCSI_STATUS_NO_VERSION);
        return;
    }

    let fail: LoginFail = 'fail: {
        match req.flags & ISCSI_FLG_CSG_MASK {
            ISCSI_FLG_CSG_SECURITY => {
                log::debug!("Login request (security negotiation): {}", conn.state);
                login_rsp(conn).flags = ISCSI_FLG_CSG_SECURITY;

                let mut state = conn.state;
                if state == STATE_FREE {
                    conn.state = STATE_SECURITY;
                    login_start(d, conn, h);
                    if login_status_class(conn) != 0 {
                        return;
                    }
                    // On to the security keys of the same request.
                    state = STATE_SECURITY;
                }
                match state {
                    STATE_SECURITY => {
                        text_scan_security(d, conn);
                        if login_status_class(conn) != 0 {
                            return;
                        }
                        if conn.auth_method != AUTH_NONE {
                            conn.state = STATE_SECURITY_AUTH;
                            conn.auth_state = AUTH_STATE_START;
                        }
                    }
                    STATE_SECURITY_AUTH => match cmnd_exec_auth(d, conn) {
                        0 => {}
                        CHAP_AUTH_ERROR => break 'fail LoginFail::Auth,
                        // CHAP_INITIATOR_ERROR (-1), and anything else as C's `default:`.
                        _ => break 'fail LoginFail::Init,
                    },
                    _ => break 'fail LoginFail::Init,
                }
            }
            ISCSI_FLG_CSG_LOGIN => {
                log::debug!("Login request (operational negotiation): {}", conn.state);
                login_rsp(conn).flags = ISCSI_FLG_CSG_LOGIN;

                match conn.state {
                    STATE_FREE => {
                        conn.state = STATE_LOGIN;

                        login_start(d, conn, h);
                        if login_status_class(conn) != 0 {
                            return;
                        }
                        if !accounts_empty(d, conn.tid, ISCSI_USER_DIR_INCOMING) {
                            break 'fail LoginFail::Auth;
                        }
                        text_scan_login(d, conn);
                        if login_status_class(conn) != 0 {
                            return;
                        }
                        stay = text_check_params(d, conn);
                    }
                    STATE_LOGIN => {
                        text_scan_login(d, conn);
                        if login_status_class(conn) != 0 {
                            return;
                        }
                        stay = text_check_params(d, conn);
                    }
                    _ => break 'fail LoginFail::Init,
                }
            }
            _ => break 'fail LoginFail::Init,
        }

        if login_status_class(conn) != 0 {
            return;
        }
        if conn.state != STATE_SECURITY_AUTH && (req.flags & ISCSI_FLG_TRANSIT) != 0 {
            let mut nsg = req.flags & ISCSI_FLG_NSG_MASK;

            match nsg {
                ISCSI_FLG_NSG_LOGIN => match conn.state {
                    STATE_SECURITY | STATE_SECURITY_DONE => conn.state = STATE_SECURITY_LOGIN,
                    _ => break 'fail LoginFail::Init,
                },
                ISCSI_FLG_NSG_FULL_FEATURE => {
                    match conn.state {
                        STATE_SECURITY | STATE_SECURITY_DONE => {
                            nsg_disagree = text_check_params(d, conn);
                            if nsg_disagree != 0 {
                                conn.state = STATE_LOGIN;
                                nsg = ISCSI_FLG_NSG_LOGIN;
                            } else {
                                conn.state = STATE_SECURITY_FULL;
                            }
                        }
                        STATE_LOGIN => {
                            if stay != 0 {
                                nsg = ISCSI_FLG_NSG_LOGIN;
                            } else {
                                conn.state = STATE_LOGIN_FULL;
                            }
                        }
                        _ => break 'fail LoginFail::Init,
                    }
                    if stay == 0 && nsg_disagree == 0 {
                        text_check_params(d, conn);
                        if let Err(err) = login_finish(d, conn, h) {
                            log::debug!("login_finish() failed: {}", kemu::errno_neg(err));
                            // The initiator is to retry later.
                            break 'fail LoginFail::NoMem;
                        }
                    }
                }
                _ => break 'fail LoginFail::Init,
            }
            login_rsp(conn).flags |= nsg | if stay != 0 { 0 } else { ISCSI_FLG_TRANSIT };
        }

        // Response text longer than one login PDU (key=value pairs continued in the next
        // PDU) is not supported yet.
        if conn.rsp_buf_list.len() > 1 {
            log::error!(
                "Target error: 'key=value' pairs spanning several Login PDUs are not \
                 implemented, yet"
            );
            break 'fail LoginFail::Target;
        }

        let stat_sn = conn.stat_sn;
        conn.stat_sn = conn.stat_sn.wrapping_add(1);
        let (sid, exp_cmd_sn) = (conn.sid, conn.exp_cmd_sn);
        let rsp = login_rsp(conn);
        rsp.sid = sid;
        rsp.stat_sn.set(stat_sn);
        rsp.exp_cmd_sn.set(exp_cmd_sn);
        rsp.max_cmd_sn.set(exp_cmd_sn.wrapping_add(1));
        return;
    };

    let initiator = conn.initiator.clone().unwrap_or_default();
    login_rsp(conn).flags = 0;
    match fail {
        LoginFail::Init => {
            log::error!("Initiator {initiator} error");
            login_rsp_ini_err(conn, ISCSI_STATUS_INIT_ERR);
        }
        LoginFail::Auth => {
            log::error!("Authentication of initiator {initiator} failed");
            login_rsp_ini_err(conn, ISCSI_STATUS_AUTH_FAILED);
        }
        LoginFail::Target => login_rsp_tgt_err(conn, ISCSI_STATUS_TARGET_ERROR),
        LoginFail::NoMem => login_rsp_tgt_err(conn, ISCSI_STATUS_NO_RESOURCES),
    }
}

/// C: iscsid.c text_scan_text(): the keys of a Text Request.
///
/// `SendTargets=All` (discovery sessions only; elsewhere the request is rejected with a
/// protocol error and `EINVAL` returned) lists every target the initiator may see;
/// `SendTargets=<name>` lists that target; an empty value means the session's own target.
/// Other keys are `NotUnderstood`. As in C, `All` is recognised without regard to case, but
/// only the exact spelling lists all targets (any other spelling is taken as a target name).
fn text_scan_text(d: &Daemon, conn: &mut Connection) -> Result<(), Errno> {
    let req = req_data(&conn.req).to_vec();
    let mut data = &req[..];

    while let Some((key, value)) = next_key(&mut data) {
        if key != b"SendTargets" {
            text_key_add(conn, key, "NotUnderstood");
            continue;
        }

        let mut value = value.to_vec();
        if value.is_empty() {
            // C takes the name of the session's target; a discovery session has none
            // (C dereferences a NULL session there), so nothing is listed.
            match conn
                .sess
                .and_then(|sid| session_find_id(d, conn.tid, sid))
                .and_then(|s| target_find_by_id(d, s.target))
            {
                Some(t) => value = t.name.clone().into_bytes(),
                None => {
                    log::error!(
                        "SendTargets without a value in a session without a target \
                         (initiator {})",
                        conn.initiator.as_deref().unwrap_or_default()
                    );
                    continue;
                }
            }
        } else if value.eq_ignore_ascii_case(b"All") && conn.session_type != SESSION_DISCOVERY {
            log::error!(
                "SendTargets=All allowed only in Discovery session, rejecting (initiator {})",
                conn.initiator.as_deref().unwrap_or_default()
            );
            cmnd_reject(conn, ISCSI_REASON_PROTOCOL_ERROR);
            return Err(Errno::EINVAL);
        }

        let target_name = (value != b"All").then_some(&value[..]);
        target_list_build(d, conn, target_name);
    }

    Ok(())
}

/// The target transfer tag as C puts it on the wire: `conn->ttt` is stored into the header
/// without a byte swap.
fn ttt_to_wire(ttt: u32) -> zerocopy::byteorder::U32<zerocopy::byteorder::BigEndian> {
    zerocopy::byteorder::U32::from_bytes(ttt.to_ne_bytes())
}

/// C: iscsid.c cmnd_exec_text(): answers a Text Request of a discovery session.
///
/// A request with the reserved TTT starts a new exchange: the keys are answered, and when the
/// answer needs several PDUs the first goes out with a new TTT and without the F bit; the
/// initiator then fetches each further part with a request carrying that TTT. A TTT that is
/// not the pending one (or with nothing pending) is rejected as an invalid PDU field. The last
/// part has the F bit and the reserved TTT. ExpCmdSN follows the request's CmdSN (+1 unless
/// immediate).
fn cmnd_exec_text(d: &mut Daemon, conn: &mut Connection) {
    let req = *IscsiTextReqHdr::from_hdr(&conn.req.bhs);

    conn.rsp.bhs = IscsiHdr::default();
    {
        let rsp = IscsiTextRspHdr::from_hdr_mut(&mut conn.rsp.bhs);
        rsp.opcode = ISCSI_OP_TEXT_RSP;
        rsp.itt = req.itt;
    }
    conn.exp_cmd_sn = req.cmd_sn.get();
    if (req.opcode & ISCSI_OP_IMMEDIATE) == 0 {
        conn.exp_cmd_sn = conn.exp_cmd_sn.wrapping_add(1);
    }

    log::debug!("Text request: {}", conn.state);

    let req_ttt = u32::from_ne_bytes(req.ttt.to_bytes());
    if req_ttt == ISCSI_RESERVED_TAG {
        conn_free_rsp_buf_list(conn);
        if text_scan_text(d, conn).is_err() {
            return;
        }
        conn.ttt = if conn.rsp_buf_list.len() > 1 {
            get_next_ttt(d)
        } else {
            ISCSI_RESERVED_TAG
        };
    } else if conn.rsp_buf_list.is_empty() || conn.ttt != req_ttt {
        log::error!(
            "Rejecting unexpected text request. TTT recv {req_ttt:#x}, expected {:#x}; \
             {}text segments queued",
            conn.ttt,
            if conn.rsp_buf_list.is_empty() {
                "no "
            } else {
                ""
            }
        );
        cmnd_reject(conn, ISCSI_REASON_INVALID_PDU_FIELD);
        return;
    }

    let rsp = IscsiTextRspHdr::from_hdr_mut(&mut conn.rsp.bhs);
    if conn.rsp_buf_list.len() <= 1 {
        rsp.flags = ISCSI_FLG_FINAL;
        conn.ttt = ISCSI_RESERVED_TAG;
    }

    rsp.ttt = ttt_to_wire(conn.ttt);

    rsp.stat_sn.set(conn.stat_sn);
    conn.stat_sn = conn.stat_sn.wrapping_add(1);
    rsp.exp_cmd_sn.set(conn.exp_cmd_sn);
    rsp.max_cmd_sn.set(conn.exp_cmd_sn.wrapping_add(1));
}

/// C: iscsid.c cmnd_exec_logout(): answers a Logout Request of a discovery session with
/// success (the initiator then closes the connection).
fn cmnd_exec_logout(conn: &mut Connection) {
    let req = *IscsiLogoutReqHdr::from_hdr(&conn.req.bhs);

    conn.rsp.bhs = IscsiHdr::default();
    conn.exp_cmd_sn = req.cmd_sn.get();
    if (req.opcode & ISCSI_OP_IMMEDIATE) == 0 {
        conn.exp_cmd_sn = conn.exp_cmd_sn.wrapping_add(1);
    }

    let rsp = IscsiLogoutRspHdr::from_hdr_mut(&mut conn.rsp.bhs);
    rsp.opcode = ISCSI_OP_LOGOUT_RSP;
    rsp.flags = ISCSI_FLG_FINAL;
    rsp.itt = req.itt;

    rsp.stat_sn.set(conn.stat_sn);
    conn.stat_sn = conn.stat_sn.wrapping_add(1);
    rsp.exp_cmd_sn.set(conn.exp_cmd_sn);
    rsp.max_cmd_sn.set(conn.exp_cmd_sn.wrapping_add(1));
}

/// C: iscsid.c cmnd_execute(): executes the request in `conn.req` and builds the response in
/// `conn.rsp` (header, and the first segment of the response text as data). Returns `false`
/// when the connection is to be closed after the response (an unsupported opcode), `true`
/// otherwise; the connection's `state` says the rest.
///
/// Login requests are refused (Reject) once a discovery session is in the full feature
/// phase, Text and Logout before it; any other opcode is rejected as not supported — and then,
/// as in C, the Reject goes out without its data segment. A failed login (other than a
/// redirection) sends no text.
///
/// `conn.req` holds what C's `event_conn()` (iscsi_scstd.c) read: the BHS, and `datasize`
/// bytes of data, which it has already limited to [`INCOMING_BUFSIZE`] (a longer request
/// drops the connection there, before this is called).
pub fn cmnd_execute(d: &mut Daemon, h: ConnHandle) -> bool {
    let Some(mut conn) = d.connections.remove(&h) else {
        log::error!("cmnd_execute: no connection {h:?}");
        return false;
    };

    let res = 'out: {
        match conn.req.bhs.opcode & ISCSI_OPCODE_MASK {
            ISCSI_OP_LOGIN_CMD => {
                if conn.state == STATE_FULL {
                    cmnd_reject(&mut conn, ISCSI_REASON_PROTOCOL_ERROR);
                } else {
                    cmnd_exec_login(d, &mut conn, h);
                    let status_class = login_status_class(&conn);
                    if status_class != 0 && status_class != ISCSI_STATUS_REDIRECT {
                        conn_free_rsp_buf_list(&mut conn);
                    }
                }
            }
            ISCSI_OP_TEXT_CMD => {
                if conn.state != STATE_FULL {
                    cmnd_reject(&mut conn, ISCSI_REASON_PROTOCOL_ERROR);
                } else {
                    cmnd_exec_text(d, &mut conn);
                }
            }
            ISCSI_OP_LOGOUT_CMD => {
                if conn.state != STATE_FULL {
                    cmnd_reject(&mut conn, ISCSI_REASON_PROTOCOL_ERROR);
                } else {
                    cmnd_exec_logout(&mut conn);
                }
            }
            _ => {
                cmnd_reject(&mut conn, ISCSI_REASON_UNSUPPORTED_COMMAND);
                break 'out false;
            }
        }

        if conn.rsp_buf_list.is_empty() {
            conn.rsp.datasize = 0;
            conn.rsp.data = Vec::new();
        } else {
            let mut seg = conn.rsp_buf_list.remove(0);
            seg.data.truncate(seg.len as usize);
            conn.rsp.datasize = seg.len;
            conn.rsp.data = seg.data;
        }

        conn.rsp.bhs.ahslength = (conn.rsp.ahssize / 4) as u8;
        let datasize = conn.rsp.datasize;
        conn.rsp.bhs.set_datasize(datasize);
        log::trace!("{:?}", conn.rsp.bhs);

        true
    };

    d.connections.insert(h, conn);
    res
}

/// C: iscsid.c cmnd_finish(): after the response went out: frees its text segment and moves
/// the login on — operational negotiation after the security stage, and after the final login
/// response [`STATE_KERNEL`] for a normal session (the main loop then hands the socket to the
/// driver with `conn_pass_to_kern()`) or [`STATE_FULL`] for a discovery session.
pub fn cmnd_finish(conn: &mut Connection) {
    if !conn.rsp.data.is_empty() {
        conn.rsp.data = Vec::new();
    }

    match conn.state {
        STATE_EXIT | STATE_DROP => {}
        STATE_SECURITY_LOGIN => conn.state = STATE_LOGIN,
        STATE_SECURITY_FULL | STATE_LOGIN_FULL => {
            conn.state = if conn.session_type == SESSION_NORMAL {
                STATE_KERNEL
            } else {
                STATE_FULL
            };
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_slots_follow_the_c_enum() {
        assert_eq!(POLL_IPC, 8);
        assert_eq!(POLL_NL, 10);
        assert_eq!(POLL_INCOMING, 14);
        assert_eq!(POLL_MAX, 270);
    }

    #[test]
    fn new_daemon_has_c_initial_state() {
        let d = Daemon::new();
        assert_eq!(d.tsih, 1);
        assert_eq!(d.server_port, 3260);
        assert!(d.targets_list.is_empty());
        assert_eq!(d.session_keys[0].name, "InitialR2T");
        assert_eq!(d.target_keys[0].name, "QueuedCommands");
    }

    #[test]
    fn handles_are_not_reused() {
        let mut d = Daemon::new();
        let a = d.conn_insert(Connection::default());
        d.connections.remove(&a);
        let b = d.conn_insert(Connection::default());
        assert_ne!(a, b);
        assert!(d.conn(a).is_none());
        assert!(d.conn(b).is_some());
    }

    #[test]
    fn truncate_str_keeps_char_boundaries() {
        assert_eq!(truncate_str("abc", 2), "ab");
        assert_eq!(truncate_str("abc", 5), "abc");
        assert_eq!(truncate_str("aé", 2), "a");
    }
}

/// Tests of the `iscsid.c` part: requests built with the `iscsi_hdr` layouts are fed to
/// [`cmnd_execute`] as `event_conn()` (iscsi_scstd.c) would, on a daemon whose control device
/// is the fake driver.
#[cfg(test)]
mod login_tests {
    use super::*;
    use crate::conn::{conn_alloc, conn_pass_to_kern, conn_read_pdu, conn_write_pdu};
    use crate::ctldev::fake::{daemon_with_fake, Call, FakeCtl};
    use crate::iscsi_hdr::{hton24, ISCSI_OP_NOP_OUT, ISCSI_STATUS_TGT_MOVED_TEMP};
    use crate::target::{target_add, target_create};
    use iscsi_scst::abi::{cstr, key_first_burst_length, key_max_burst_length};
    use std::sync::Arc;
    use zerocopy::byteorder::{BigEndian, U16, U32};

    const IQN1: &str = "iqn.2026-01.test:disk1";
    const IQN2: &str = "iqn.2026-01.test:disk2";
    const INI: &str = "iqn.1993-08.org.debian:01:abc";
    const ISID: [u8; 6] = [0x00, 0x02, 0x3d, 0x00, 0x00, 0x01];

    /// What `init_max_params()` (iscsi_scstd.c) does with the driver's limits.
    fn init_max_params(d: &mut Daemon) {
        let m = u32::try_from(d.iscsi_init_params.max_data_seg_len).unwrap();
        for k in [
            key_max_recv_data_length,
            key_max_xmit_data_length,
            key_max_burst_length,
        ] {
            d.session_keys[k].local_def = m;
            d.session_keys[k].max = m;
        }
        let fb = &mut d.session_keys[key_first_burst_length];
        fb.local_def = fb.local_def.min(m);
        fb.max = m;
    }

    /// A started daemon (procfs build: iSCSI enabled) with targets `IQN1` and `IQN2`.
    fn daemon(name: &str) -> (Daemon, Arc<FakeCtl>) {
        let (mut d, fake) = daemon_with_fake(name);
        d.iscsi_enabled = true;
        init_max_params(&mut d);
        for n in [IQN1, IQN2] {
            let t = target_create(&d, n);
            target_add(&mut d, t, 0, 0).unwrap();
        }
        fake.take();
        (d, fake)
    }

    fn sock_v4(_fd: RawFd) -> Result<SocketAddr, Errno> {
        Ok(SocketAddr::from(([10, 0, 0, 1], 3260)))
    }

    fn peer_v4(_fd: RawFd) -> Result<SocketAddr, Errno> {
        Ok(SocketAddr::from(([10, 0, 0, 2], 51000)))
    }

    /// A connection accepted on 10.0.0.1:3260 (C `accept_connection()`).
    fn new_conn(d: &mut Daemon) -> ConnHandle {
        let h = conn_alloc(d);
        let c = d.conn_mut(h).unwrap();
        c.fd = 9;
        c.target_portal = Some("10.0.0.1".into());
        c.getsockname = Some(sock_v4);
        c.getpeername = Some(peer_v4);
        conn_read_pdu(c);
        h
    }

    /// `key=value` pairs as a text data segment (each NUL-terminated).
    fn text(pairs: &[&str]) -> Vec<u8> {
        let mut v = Vec::new();
        for p in pairs {
            v.extend_from_slice(p.as_bytes());
            v.push(0);
        }
        v
    }

    fn pdu(bhs: IscsiHdr, data: Vec<u8>) -> Pdu {
        let mut bhs = bhs;
        bhs.datalength = hton24(u32::try_from(data.len()).unwrap());
        Pdu {
            bhs,
            datasize: bhs.datasize(),
            data,
            ..Pdu::default()
        }
    }

    fn login_req(flags: u8, tsih: u16, cmd_sn: u32, data: Vec<u8>) -> Pdu {
        let mut sid = IscsiSid {
            isid: ISID,
            ..IscsiSid::default()
        };
        sid.tsih = tsih.into();
        let r = IscsiLoginReqHdr {
            opcode: ISCSI_OP_LOGIN_CMD | ISCSI_OP_IMMEDIATE,
            flags,
            sid,
            itt: U32::new(0x1122_3344),
            cmd_sn: U32::new(cmd_sn),
            ..IscsiLoginReqHdr::default()
        };
        pdu(*r.as_hdr(), data)
    }

    fn text_req(opcode: u8, itt: u32, ttt: [u8; 4], cmd_sn: u32, data: Vec<u8>) -> Pdu {
        let r = IscsiTextReqHdr {
            opcode,
            flags: ISCSI_FLG_FINAL,
            itt: U32::new(itt),
            ttt: U32::from_bytes(ttt),
            cmd_sn: U32::new(cmd_sn),
            ..IscsiTextReqHdr::default()
        };
        pdu(*r.as_hdr(), data)
    }

    /// One response as it went out.
    #[derive(Debug)]
    struct Sent {
        bhs: [u8; 48],
        data: Vec<u8>,
        res: bool,
        state: i32,
    }

    /// C `event_conn()`: the request has been read; the response is prepared
    /// (`conn_write_pdu()`), executed, written, then finished.
    fn exec(d: &mut Daemon, h: ConnHandle, req: Pdu) -> Sent {
        {
            let c = d.conn_mut(h).unwrap();
            c.req = req;
            conn_write_pdu(c);
        }
        let res = cmnd_execute(d, h);
        let c = d.conn_mut(h).unwrap();
        if !res {
            c.state = STATE_EXIT;
        }
        assert_eq!(c.rsp.datasize as usize, c.rsp.data.len());
        let mut bhs = [0u8; 48];
        bhs.copy_from_slice(c.rsp.bhs.as_bytes());
        let sent = Sent {
            bhs,
            data: c.rsp.data.clone(),
            res,
            state: 0,
        };
        cmnd_finish(c);
        Sent {
            state: c.state,
            ..sent
        }
    }

    fn status(s: &Sent) -> u16 {
        u16::from_be_bytes([s.bhs[36], s.bhs[37]])
    }

    /// The expected BHS of a Login Response.
    #[allow(clippy::too_many_arguments)]
    fn login_rsp_bytes(
        flags: u8,
        datalen: usize,
        tsih: u16,
        stat_sn: u32,
        exp_cmd_sn: u32,
        status: u16,
    ) -> [u8; 48] {
        let mut b = [0u8; 48];
        b[0] = ISCSI_OP_LOGIN_RSP;
        b[1] = flags;
        b[5..8].copy_from_slice(&hton24(u32::try_from(datalen).unwrap()));
        b[8..14].copy_from_slice(&ISID);
        // The TSIH goes out in host byte order, as C stores it.
        b[14..16].copy_from_slice(&tsih.to_ne_bytes());
        b[16..20].copy_from_slice(&[0x11, 0x22, 0x33, 0x44]);
        b[24..28].copy_from_slice(&stat_sn.to_be_bytes());
        b[28..32].copy_from_slice(&exp_cmd_sn.to_be_bytes());
        b[32..36].copy_from_slice(&(exp_cmd_sn + 1).to_be_bytes());
        b[36..38].copy_from_slice(&status.to_be_bytes());
        b
    }

    /// Discovery login: security → operational → full feature.
    fn discovery_login(d: &mut Daemon, h: ConnHandle, mrdsl: &str) {
        let s = exec(
            d,
            h,
            login_req(
                0x81,
                0,
                5,
                text(&[
                    &format!("InitiatorName={INI}"),
                    "SessionType=Discovery",
                    "AuthMethod=None",
                ]),
            ),
        );
        assert_eq!(status(&s), 0);
        assert_eq!(s.data, text(&["TargetPortalGroupTag=1", "AuthMethod=None"]));
        assert_eq!(s.state, STATE_LOGIN);

        let s = exec(
            d,
            h,
            login_req(
                0x87,
                0,
                5,
                text(&[
                    "HeaderDigest=None",
                    "DataDigest=None",
                    &format!("MaxRecvDataSegmentLength={mrdsl}"),
                ]),
            ),
        );
        let want = text(&[
            "HeaderDigest=None",
            "DataDigest=None",
            "MaxRecvDataSegmentLength=1048576",
        ]);
        assert_eq!(s.bhs, login_rsp_bytes(0x87, want.len(), 1, 1, 5, 0));
        assert_eq!(s.data, want);
        assert_eq!(s.state, STATE_FULL);
    }

    #[test]
    fn discovery_login_then_send_targets_all() {
        let (mut d, fake) = daemon("iscsid-disc-st");
        d.listen_addrs = vec![
            SocketAddr::from(([10, 0, 0, 1], 3260)),
            SocketAddr::from(([10, 0, 1, 1], 3260)),
            SocketAddr::from(([127, 0, 0, 1], 3260)),
            "[::]:3260".parse().unwrap(),
        ];
        let h = new_conn(&mut d);
        discovery_login(&mut d, h, "262144");
        assert!(fake
            .take()
            .iter()
            .all(|c| matches!(c, Call::InitiatorAllowed(_))));

        // Non-immediate SendTargets=All.
        let s = exec(
            &mut d,
            h,
            text_req(
                ISCSI_OP_TEXT_CMD,
                0x22,
                [0xff; 4],
                5,
                text(&["SendTargets=All"]),
            ),
        );
        let want = text(&[
            "TargetName=iqn.2026-01.test:disk1",
            "TargetAddress=10.0.0.1:3260,1",
            "TargetAddress=10.0.1.1:3260,1",
            "TargetName=iqn.2026-01.test:disk2",
            "TargetAddress=10.0.0.1:3260,1",
            "TargetAddress=10.0.1.1:3260,1",
        ]);
        let mut bhs = [0u8; 48];
        bhs[0] = ISCSI_OP_TEXT_RSP;
        bhs[1] = ISCSI_FLG_FINAL;
        bhs[5..8].copy_from_slice(&hton24(u32::try_from(want.len()).unwrap()));
        bhs[16..20].copy_from_slice(&0x22u32.to_be_bytes());
        bhs[20..24].copy_from_slice(&[0xff; 4]);
        bhs[24..28].copy_from_slice(&2u32.to_be_bytes());
        bhs[28..32].copy_from_slice(&6u32.to_be_bytes());
        bhs[32..36].copy_from_slice(&7u32.to_be_bytes());
        assert_eq!(s.bhs, bhs);
        assert_eq!(s.data, want);
        assert!(s.res);
        assert_eq!(s.state, STATE_FULL);

        // SendTargets=<name> lists that target only; unknown keys are not understood.
        let s = exec(
            &mut d,
            h,
            text_req(
                ISCSI_OP_TEXT_CMD | ISCSI_OP_IMMEDIATE,
                0x23,
                [0xff; 4],
                6,
                text(&["SendTargets=iqn.2026-01.test:disk2", "X-Foo=1"]),
            ),
        );
        assert_eq!(
            s.data,
            text(&[
                "TargetName=iqn.2026-01.test:disk2",
                "TargetAddress=10.0.0.1:3260,1",
                "TargetAddress=10.0.1.1:3260,1",
                "X-Foo=NotUnderstood",
            ])
        );
        // Immediate: ExpCmdSN is the request's CmdSN.
        assert_eq!(&s.bhs[28..36], &[0, 0, 0, 6, 0, 0, 0, 7]);

        // "all" passes the discovery check, but only "All" lists everything (C's strcmp).
        let s = exec(
            &mut d,
            h,
            text_req(
                ISCSI_OP_TEXT_CMD,
                0x24,
                [0xff; 4],
                6,
                text(&["SendTargets=all"]),
            ),
        );
        assert_eq!(s.bhs[0], ISCSI_OP_TEXT_RSP);
        assert!(s.data.is_empty());

        // An empty value in a discovery session (C: NULL session) lists nothing.
        let s = exec(
            &mut d,
            h,
            text_req(
                ISCSI_OP_TEXT_CMD,
                0x25,
                [0xff; 4],
                7,
                text(&["SendTargets="]),
            ),
        );
        assert_eq!(s.bhs[0], ISCSI_OP_TEXT_RSP);
        assert!(s.data.is_empty());
    }

    #[test]
    fn send_targets_wildcard_listen_and_access_rules() {
        fn ifaddrs() -> Result<Vec<IpAddr>, Errno> {
            Ok(vec![
                "127.0.0.1".parse().unwrap(),
                "10.0.0.1".parse().unwrap(),
                "192.168.5.5".parse().unwrap(),
                "fe80::1".parse().unwrap(),
            ])
        }
        let (mut d, _fake) = daemon("iscsid-st-wild");
        d.listen_addrs = vec![SocketAddr::from(([0, 0, 0, 0], 3260))];
        d.getifaddrs = Some(ifaddrs);
        d.server_port = 3261;
        // Target 2 is disabled, target 1 refuses portal 192.168.*.
        d.targets_list[1].tgt_enabled = false;
        d.targets_list[0].allowed_portals = vec![IscsiAttr {
            attr_key: "!192.168.*".into(),
            ..IscsiAttr::default()
        }];
        let h = new_conn(&mut d);
        discovery_login(&mut d, h, "8192");
        let s = exec(
            &mut d,
            h,
            text_req(
                ISCSI_OP_TEXT_CMD,
                1,
                [0xff; 4],
                5,
                text(&["SendTargets=All"]),
            ),
        );
        assert_eq!(
            s.data,
            text(&[
                "TargetName=iqn.2026-01.test:disk1",
                "TargetAddress=10.0.0.1:3261,1"
            ])
        );

        d.targets_list[0].allowed_portals.clear();
        let s = exec(
            &mut d,
            h,
            text_req(
                ISCSI_OP_TEXT_CMD,
                2,
                [0xff; 4],
                6,
                text(&["SendTargets=All"]),
            ),
        );
        assert_eq!(
            s.data,
            text(&[
                "TargetName=iqn.2026-01.test:disk1",
                "TargetAddress=10.0.0.1:3261,1",
                "TargetAddress=192.168.5.5:3261,1",
            ])
        );

        // The driver refuses initiators without LUNs there ("deny" in the fake).
        d.conn_mut(h).unwrap().initiator = Some("iqn.deny".into());
        let s = exec(
            &mut d,
            h,
            text_req(
                ISCSI_OP_TEXT_CMD,
                3,
                [0xff; 4],
                7,
                text(&["SendTargets=All"]),
            ),
        );
        assert!(s.data.is_empty());
    }

    #[test]
    fn send_targets_continues_over_several_pdus_with_a_ttt() {
        let (mut d, _fake) = daemon("iscsid-st-multi");
        let long1 = format!("iqn.2026-01.test:{}", "a".repeat(222));
        let long2 = format!("iqn.2026-01.test:{}", "b".repeat(222));
        for n in [&long1, &long2] {
            let t = target_create(&d, n);
            target_add(&mut d, t, 0, 0).unwrap();
        }
        let h = new_conn(&mut d);
        // The initiator takes 512 bytes per PDU.
        discovery_login(&mut d, h, "512");
        assert_eq!(
            d.conn(h).unwrap().session_params[key_max_xmit_data_length].val,
            512
        );

        let want = text(&[
            "TargetName=iqn.2026-01.test:disk1",
            "TargetAddress=10.0.0.1:3260,1",
            "TargetName=iqn.2026-01.test:disk2",
            "TargetAddress=10.0.0.1:3260,1",
            &format!("TargetName={long1}"),
            "TargetAddress=10.0.0.1:3260,1",
            &format!("TargetName={long2}"),
            "TargetAddress=10.0.0.1:3260,1",
        ]);
        assert!(want.len() > 512 && want.len() <= 1024);

        let s = exec(
            &mut d,
            h,
            text_req(
                ISCSI_OP_TEXT_CMD,
                7,
                [0xff; 4],
                5,
                text(&["SendTargets=All"]),
            ),
        );
        // Not final, a new TTT (1, written in host byte order as C does), 512 bytes.
        assert_eq!(s.bhs[1], 0);
        let ttt = 1u32.to_ne_bytes();
        assert_eq!(&s.bhs[20..24], &ttt);
        assert_eq!(s.data.len(), 512);
        let mut got = s.data;

        // The initiator asks for the rest with that TTT and no keys.
        let s = exec(
            &mut d,
            h,
            text_req(ISCSI_OP_TEXT_CMD, 8, ttt, 6, Vec::new()),
        );
        assert_eq!(s.bhs[1], ISCSI_FLG_FINAL);
        assert_eq!(&s.bhs[20..24], &[0xff; 4]);
        assert_eq!(&s.bhs[24..28], &3u32.to_be_bytes());
        got.extend_from_slice(&s.data);
        assert_eq!(got, want);

        // Nothing is pending any more: the same TTT is an invalid PDU field.
        let req = text_req(ISCSI_OP_TEXT_CMD, 9, ttt, 7, Vec::new());
        let req_bhs = req.bhs;
        let s = exec(&mut d, h, req);
        assert_eq!(s.bhs[0], ISCSI_OP_REJECT_MSG);
        assert_eq!(s.bhs[2], ISCSI_REASON_INVALID_PDU_FIELD);
        assert_eq!(s.data, req_bhs.as_bytes());
        assert_eq!(s.state, STATE_FULL);

        // A wrong TTT while a sequence is pending is rejected too, and drops the sequence.
        exec(
            &mut d,
            h,
            text_req(
                ISCSI_OP_TEXT_CMD,
                10,
                [0xff; 4],
                8,
                text(&["SendTargets=All"]),
            ),
        );
        assert_eq!(d.conn(h).unwrap().rsp_buf_list.len(), 1);
        let s = exec(
            &mut d,
            h,
            text_req(ISCSI_OP_TEXT_CMD, 11, 99u32.to_ne_bytes(), 9, Vec::new()),
        );
        assert_eq!(s.bhs[2], ISCSI_REASON_INVALID_PDU_FIELD);
        assert!(d.conn(h).unwrap().rsp_buf_list.is_empty());
    }

    #[test]
    fn normal_login_security_then_operational_then_kernel() {
        let (mut d, fake) = daemon("iscsid-normal");
        let h = new_conn(&mut d);

        // Security stage, on to operational negotiation.
        let s = exec(
            &mut d,
            h,
            login_req(
                0x81,
                0,
                5,
                text(&[
                    &format!("InitiatorName={INI}"),
                    "InitiatorAlias=host1",
                    "SessionType=Normal",
                    &format!("TargetName={IQN2}"),
                    "AuthMethod=CHAP,None",
                ]),
            ),
        );
        let want = text(&["TargetPortalGroupTag=1", "AuthMethod=None"]);
        assert_eq!(want.len(), 39);
        assert_eq!(s.bhs, login_rsp_bytes(0x81, 39, 0, 0, 5, 0));
        assert_eq!(s.data, want);
        assert_eq!(s.state, STATE_LOGIN);
        assert_eq!(d.targets_list[1].sessions_count, 1);

        // Operational stage, on to the full feature phase.
        let s = exec(
            &mut d,
            h,
            login_req(
                0x87,
                0,
                5,
                text(&[
                    "HeaderDigest=None",
                    "DataDigest=None",
                    "InitialR2T=No",
                    "ImmediateData=Yes",
                    "MaxRecvDataSegmentLength=262144",
                    "MaxBurstLength=262144",
                    "FirstBurstLength=65536",
                    "DefaultTime2Wait=2",
                    "DefaultTime2Retain=20",
                    "MaxOutstandingR2T=1",
                    "DataPDUInOrder=Yes",
                    "DataSequenceInOrder=Yes",
                    "ErrorRecoveryLevel=0",
                    "IFMarker=No",
                    "OFMarker=No",
                    "MaxConnections=1",
                    "X-com.example.Unknown=1",
                ]),
            ),
        );
        // The answers by scst-reference.md §8.6: InitialR2T `or` with the target's No;
        // ImmediateData `and` with Yes; the lengths `minimum` with the target's limits;
        // DefaultTime2Wait/Retain clamped to the target's 0..0; MaxOutstandingR2T `minimum`
        // with 32; the orders `or` with No; the markers `and` with No; then the target declares
        // its own MaxRecvDataSegmentLength (max_data_seg_len, 1 MiB).
        let want = text(&[
            "HeaderDigest=None",
            "DataDigest=None",
            "InitialR2T=No",
            "ImmediateData=Yes",
            "MaxBurstLength=262144",
            "FirstBurstLength=65536",
            "DefaultTime2Wait=0",
            "DefaultTime2Retain=0",
            "MaxOutstandingR2T=1",
            "DataPDUInOrder=Yes",
            "DataSequenceInOrder=Yes",
            "ErrorRecoveryLevel=0",
            "IFMarker=No",
            "OFMarker=No",
            "MaxConnections=1",
            "X-com.example.Unknown=NotUnderstood",
            "MaxRecvDataSegmentLength=1048576",
        ]);
        // TSIH 1: the daemon's first session.
        assert_eq!(s.bhs, login_rsp_bytes(0x87, want.len(), 1, 1, 5, 0));
        assert_eq!(s.data, want);
        assert_eq!(s.state, STATE_KERNEL);

        // ADD_SESSION reached the driver with the negotiated values.
        let calls = fake.take();
        let adds: Vec<_> = calls
            .iter()
            .filter_map(|c| match c {
                Call::AddSession(i) => Some(i),
                _ => None,
            })
            .collect();
        let [info] = adds[..] else {
            panic!("{calls:?}")
        };
        let mut sid = IscsiSid {
            isid: ISID,
            ..IscsiSid::default()
        };
        sid.tsih = 1.into();
        assert_eq!(info.tid, 2);
        assert_eq!(info.sid, sid.id64());
        assert_eq!(cstr(&info.initiator_name), INI.as_bytes());
        assert_eq!(info.exp_cmd_sn, 5);
        assert_eq!(
            info.session_params,
            [
                0,       // InitialR2T
                1,       // ImmediateData
                1,       // MaxConnections
                1048576, // MaxRecvDataSegmentLength (the target's)
                262144,  // MaxXmitDataSegmentLength (the initiator's MaxRecv…)
                262144,  // MaxBurstLength
                65536,   // FirstBurstLength
                0,       // DefaultTime2Wait
                0,       // DefaultTime2Retain
                1,       // MaxOutstandingR2T
                1,       // DataPDUInOrder
                1,       // DataSequenceInOrder
                0,       // ErrorRecoveryLevel
                1,       // HeaderDigest (DIGEST_NONE)
                1,       // DataDigest
                0,       // OFMarker
                0,       // IFMarker
                2048,    // OFMarkInt
                2048,    // IFMarkInt
                0,       // RDMAExtensions
                8192,    // TargetRecvDataSegmentLength (RFC default)
                8192,    // InitiatorRecvDataSegmentLength (RFC default)
                256,     // MaxAHSLength (RFC default)
                0,       // TaggedBufferForSolicitedDataOnly
                0,       // iSERHelloRequired
                0,       // MaxOutstandingUnexpectedPDUs
            ]
        );
        assert_eq!(info.target_params, [32, 90, 30, 30, 0]);
        let c = d.conn(h).unwrap();
        assert_eq!(c.sess, Some(sid.id64()));
        assert_eq!(c.sid, sid);
        assert_eq!(d.targets_list[1].sessions_list.len(), 1);
        assert_eq!(d.targets_list[1].sessions_list[0].conn_list, vec![h]);

        // The main loop then hands the socket to the driver.
        conn_pass_to_kern(&mut d, h, 9);
        assert!(d.conn(h).unwrap().passed_to_kern);
        let calls = fake.take();
        let [Call::AddConn(ci)] = &calls[..] else {
            panic!("{calls:?}")
        };
        assert_eq!(
            (ci.tid, ci.sid, ci.cid, ci.stat_sn, ci.fd),
            (2, sid.id64(), 0, 2, 9)
        );
    }

    #[test]
    fn login_straight_to_full_feature_uses_rfc_defaults() {
        let (mut d, fake) = daemon("iscsid-sec-full");
        let h = new_conn(&mut d);
        // Security stage with T and NSG = full feature: no operational keys at all.
        let s = exec(
            &mut d,
            h,
            login_req(
                0x83,
                0,
                1,
                text(&[
                    &format!("InitiatorName={INI}"),
                    &format!("TargetName={IQN1}"),
                    "AuthMethod=None",
                ]),
            ),
        );
        assert_eq!(status(&s), 0);
        assert_eq!(s.bhs[1], 0x83);
        assert_eq!(s.state, STATE_KERNEL);
        let calls = fake.take();
        let Some(Call::AddSession(info)) = calls.iter().find(|c| matches!(c, Call::AddSession(_)))
        else {
            panic!("{calls:?}")
        };
        // Every key has its RFC 3720 default.
        assert_eq!(&info.session_params[..4], &[1, 1, 1, 8192]);
        assert_eq!(info.session_params[key_max_xmit_data_length], 8192);
        assert_eq!(info.session_params[key_max_burst_length], 262144);
    }

    #[test]
    fn login_rejections_carry_rfc_3720_status() {
        let (mut d, fake) = daemon("iscsid-reject");
        let ini = format!("InitiatorName={INI}");
        let cases: Vec<(&str, Pdu, u16)> = vec![
            (
                "unknown target",
                login_req(
                    0x81,
                    0,
                    1,
                    text(&[&ini, "TargetName=iqn.none", "AuthMethod=None"]),
                ),
                0x0203,
            ),
            (
                "no InitiatorName",
                login_req(0x81, 0, 1, text(&[&format!("TargetName={IQN1}")])),
                0x0207,
            ),
            (
                "normal session without TargetName",
                login_req(0x81, 0, 1, text(&[&ini, "AuthMethod=None"])),
                0x0207,
            ),
            (
                "bad session type",
                login_req(0x81, 0, 1, text(&[&ini, "SessionType=Other"])),
                0x0209,
            ),
            (
                "TSIH of no session",
                login_req(0x81, 5, 1, text(&[&ini, &format!("TargetName={IQN1}")])),
                0x020a,
            ),
            (
                "no AuthMethod",
                login_req(0x81, 0, 1, text(&[&ini, &format!("TargetName={IQN1}")])),
                0x0201,
            ),
            (
                "CSG full feature",
                login_req(0x8f, 0, 1, text(&[&ini, &format!("TargetName={IQN1}")])),
                0x0200,
            ),
            (
                "NSG security",
                login_req(
                    0x80,
                    0,
                    1,
                    text(&[&ini, &format!("TargetName={IQN1}"), "AuthMethod=None"]),
                ),
                0x0200,
            ),
        ];
        for (what, req, want) in cases {
            let h = new_conn(&mut d);
            let s = exec(&mut d, h, req);
            assert_eq!(s.bhs[0], ISCSI_OP_LOGIN_RSP, "{what}");
            assert_eq!(status(&s), want, "{what}");
            assert!(s.data.is_empty(), "{what}: no text with a failure");
            // The header's length says so too, and the sequence numbers stay 0 (as in C).
            assert_eq!(&s.bhs[4..8], &[0; 4], "{what}");
            assert_eq!(&s.bhs[24..36], &[0; 12], "{what}");
            assert_eq!(s.state, STATE_EXIT, "{what}");
            assert!(s.res, "{what}");
        }
        // None of them got a session. Those that failed after login_start() counted one (no
        // AuthMethod, NSG security): as in C, the count is given back when the connection is
        // closed (`sessions_count_incremented`, iscsi_scstd.c).
        assert!(d.targets_list.iter().all(|t| t.sessions_list.is_empty()));
        assert_eq!(d.targets_list[0].sessions_count, 2);
        assert_eq!(
            d.connections
                .values()
                .filter(|c| c.sessions_count_incremented)
                .count(),
            2
        );
        assert!(!fake.take().iter().any(|c| matches!(c, Call::AddSession(_))));

        // Version-min above ours.
        let h = new_conn(&mut d);
        let mut req = login_req(0x81, 0, 1, text(&[&ini, &format!("TargetName={IQN1}")]));
        IscsiLoginReqHdr::from_hdr_mut(&mut req.bhs).min_version = 1;
        let s = exec(&mut d, h, req);
        let mut want = [0u8; 48];
        want[0] = ISCSI_OP_LOGIN_RSP;
        want[16..20].copy_from_slice(&[0x11, 0x22, 0x33, 0x44]);
        want[36..38].copy_from_slice(&[0x02, 0x05]);
        assert_eq!(s.bhs, want);
        assert_eq!(s.state, STATE_EXIT);
    }

    #[test]
    fn non_immediate_login_and_unsupported_opcodes_are_rejected() {
        let (mut d, _fake) = daemon("iscsid-rej-pdu");
        let h = new_conn(&mut d);
        let mut req = login_req(0x81, 0, 1, text(&[&format!("InitiatorName={INI}")]));
        req.bhs.opcode = ISCSI_OP_LOGIN_CMD;
        let req_bhs = req.bhs;
        let s = exec(&mut d, h, req);
        let mut want = [0u8; 48];
        want[0] = ISCSI_OP_REJECT_MSG;
        want[1] = ISCSI_FLG_FINAL;
        want[2] = ISCSI_REASON_PROTOCOL_ERROR;
        want[7] = 48;
        want[16..20].copy_from_slice(&[0xff; 4]);
        want[32..36].copy_from_slice(&1u32.to_be_bytes());
        assert_eq!(s.bhs, want);
        assert_eq!(s.data, req_bhs.as_bytes());
        // The connection stays in the login phase.
        assert!(s.res);
        assert_eq!(s.state, STATE_FREE);

        // Text and Logout before the full feature phase: protocol error.
        let s = exec(
            &mut d,
            h,
            text_req(
                ISCSI_OP_TEXT_CMD,
                1,
                [0xff; 4],
                0,
                text(&["SendTargets=All"]),
            ),
        );
        assert_eq!(
            (s.bhs[0], s.bhs[2]),
            (ISCSI_OP_REJECT_MSG, ISCSI_REASON_PROTOCOL_ERROR)
        );
        assert_eq!(&s.bhs[24..28], &1u32.to_be_bytes(), "StatSN counts rejects");

        // Any other opcode: not supported, the connection is closed, and (C quirk) the
        // rejected header is not attached.
        let nop = IscsiHdr {
            opcode: ISCSI_OP_NOP_OUT | ISCSI_OP_IMMEDIATE,
            flags: ISCSI_FLG_FINAL,
            ..IscsiHdr::default()
        };
        let s = exec(&mut d, h, pdu(nop, Vec::new()));
        assert_eq!(s.bhs[0], ISCSI_OP_REJECT_MSG);
        assert_eq!(s.bhs[2], ISCSI_REASON_UNSUPPORTED_COMMAND);
        assert_eq!(&s.bhs[5..8], &[0, 0, 0]);
        assert!(s.data.is_empty());
        assert!(!s.res);
        assert_eq!(s.state, STATE_EXIT);
    }

    #[test]
    fn garbage_key_text_is_answered_like_c() {
        let (mut d, _fake) = daemon("iscsid-garbage");
        let h = new_conn(&mut d);
        let mut data = text(&[
            &format!("InitiatorName={INI}"),
            "SessionType=Discovery",
            "AuthMethod=None",
        ]);
        // A key with a NUL and a high byte in it, then an unterminated pair.
        data.extend_from_slice(b"junk\xff\0tail=\0a\0b=c");
        let s = exec(&mut d, h, login_req(0x81, 0, 1, data));
        assert_eq!(status(&s), 0);
        let mut want = text(&["TargetPortalGroupTag=1", "AuthMethod=None"]);
        want.extend_from_slice(b"junk\xff=NotUnderstood\0");
        assert_eq!(s.data, want);
        assert_eq!(s.state, STATE_LOGIN);

        // Operational stage: an unparsable value is answered Reject the first time.
        let s = exec(
            &mut d,
            h,
            login_req(
                0x05,
                0,
                1,
                text(&["InitialR2T=Maybe", "MaxXmitDataSegmentLength=512", "=x"]),
            ),
        );
        assert_eq!(status(&s), 0);
        assert_eq!(
            s.data,
            text(&[
                "InitialR2T=Reject",
                "MaxXmitDataSegmentLength=NotUnderstood",
                "=NotUnderstood",
            ])
        );
        // The second time, once the key has been negotiated, it fails the login.
        let s = exec(
            &mut d,
            h,
            login_req(
                0x05,
                0,
                1,
                text(&["ImmediateData=No", "ImmediateData=Perhaps"]),
            ),
        );
        assert_eq!(status(&s), 0x0200);
        assert!(s.data.is_empty());

        // Data with no key=value pair at all: nothing is answered but the portal group.
        let h = new_conn(&mut d);
        let mut data = text(&[&format!("InitiatorName={INI}"), "SessionType=Discovery"]);
        data.extend_from_slice(&[0x01, 0x02, 0xfe]);
        let s = exec(&mut d, h, login_req(0x01, 0, 1, data));
        // No AuthMethod: authentication failure.
        assert_eq!(status(&s), 0x0201);
    }

    #[test]
    fn logout_of_a_discovery_session() {
        let (mut d, _fake) = daemon("iscsid-logout");
        let h = new_conn(&mut d);
        discovery_login(&mut d, h, "8192");
        let r = IscsiLogoutReqHdr {
            opcode: ISCSI_OP_LOGOUT_CMD | ISCSI_OP_IMMEDIATE,
            flags: ISCSI_FLG_FINAL,
            itt: U32::new(0x33),
            cmd_sn: U32::new(6),
            ..IscsiLogoutReqHdr::default()
        };
        let s = exec(&mut d, h, pdu(*r.as_hdr(), Vec::new()));
        let mut want = [0u8; 48];
        want[0] = ISCSI_OP_LOGOUT_RSP;
        want[1] = ISCSI_FLG_FINAL;
        want[16..20].copy_from_slice(&0x33u32.to_be_bytes());
        want[24..28].copy_from_slice(&2u32.to_be_bytes());
        want[28..32].copy_from_slice(&6u32.to_be_bytes());
        want[32..36].copy_from_slice(&7u32.to_be_bytes());
        assert_eq!(s.bhs, want);
        assert!(s.data.is_empty());
        // As in C, the daemon waits for the initiator to close the connection.
        assert_eq!(s.state, STATE_FULL);

        // A login in the full feature phase is a protocol error.
        let s = exec(&mut d, h, login_req(0x81, 0, 1, text(&["InitiatorName=x"])));
        assert_eq!(
            (s.bhs[0], s.bhs[2]),
            (ISCSI_OP_REJECT_MSG, ISCSI_REASON_PROTOCOL_ERROR)
        );
    }

    #[test]
    fn max_sessions_reinstatement_and_too_many_connections() {
        let (mut d, _fake) = daemon("iscsid-maxsess");
        d.targets_list[0].target_params[key_max_sessions] = 1;
        let login = |d: &mut Daemon, isid_last: u8, tsih: u16, cid: u16| {
            let h = new_conn(d);
            let mut req = login_req(
                0x83,
                tsih,
                1,
                text(&[
                    &format!("InitiatorName={INI}"),
                    &format!("TargetName={IQN1}"),
                    "AuthMethod=None",
                ]),
            );
            let r = IscsiLoginReqHdr::from_hdr_mut(&mut req.bhs);
            r.sid.isid[5] = isid_last;
            r.cid = U16::<BigEndian>::new(cid);
            (h, exec(d, h, req))
        };

        let (h1, s) = login(&mut d, 1, 0, 0);
        assert_eq!((status(&s), s.state), (0, STATE_KERNEL));
        assert_eq!(d.targets_list[0].sessions_count, 1);

        // A second session: out of resources.
        let (_, s) = login(&mut d, 2, 0, 0);
        assert_eq!((status(&s), s.state), (0x0302, STATE_EXIT));

        // The same ISID with the session's TSIH and a known CID: connection reinstatement,
        // not counted.
        let tsih = d.conn(h1).unwrap().sid.tsih.get();
        let (h3, s) = login(&mut d, 1, tsih, 0);
        assert_eq!((status(&s), s.state), (0, STATE_KERNEL));
        assert_eq!(d.targets_list[0].sessions_count, 1);
        assert_eq!(d.targets_list[0].sessions_list[0].conn_list, vec![h1, h3]);

        // The same ISID with another CID: one connection per session only.
        let (_, s) = login(&mut d, 1, tsih, 1);
        assert_eq!(status(&s), 0x0206);
        // With another TSIH: no such session.
        let (_, s) = login(&mut d, 1, tsih.wrapping_add(7), 0);
        assert_eq!(status(&s), 0x020a);

        // TSIH 0: session reinstatement, counted although at the limit.
        let (_, s) = login(&mut d, 1, 0, 0);
        assert_eq!((status(&s), s.state), (0, STATE_KERNEL));
        assert_eq!(d.targets_list[0].sessions_count, 2);
    }

    #[test]
    fn disabled_target_redirect_and_chap_not_supported() {
        let (mut d, _fake) = daemon("iscsid-misc");
        let req = |t: &str, auth: &str| {
            login_req(
                0x81,
                0,
                1,
                text(&[
                    &format!("InitiatorName={INI}"),
                    &format!("TargetName={t}"),
                    auth,
                ]),
            )
        };

        // Disabled target: target error 0, dropped without a response.
        d.targets_list[0].tgt_enabled = false;
        let h = new_conn(&mut d);
        let s = exec(&mut d, h, req(IQN1, "AuthMethod=None"));
        assert_eq!((status(&s), s.state), (0x0300, STATE_DROP));
        d.targets_list[0].tgt_enabled = true;
        // So is a daemon with iSCSI disabled.
        d.iscsi_enabled = false;
        let h = new_conn(&mut d);
        let s = exec(&mut d, h, req(IQN1, "AuthMethod=None"));
        assert_eq!((status(&s), s.state), (0x0300, STATE_DROP));
        d.iscsi_enabled = true;

        // Redirection: class 1 with TargetAddress.
        d.targets_list[0].redirect = RedirectAddr {
            addr: "10.9.9.9".into(),
            port: 3261,
            r#type: ISCSI_STATUS_TGT_MOVED_TEMP,
        };
        let h = new_conn(&mut d);
        let s = exec(&mut d, h, req(IQN1, "AuthMethod=None"));
        assert_eq!((status(&s), s.state), (0x0101, STATE_EXIT));
        assert_eq!(s.data, text(&["TargetAddress=10.9.9.9:3261"]));
        d.targets_list[0].redirect = RedirectAddr::default();

        // An initiator without LUNs on the target: "not found".
        let h = new_conn(&mut d);
        let s = exec(
            &mut d,
            h,
            login_req(
                0x81,
                0,
                1,
                text(&["InitiatorName=iqn.deny", &format!("TargetName={IQN1}")]),
            ),
        );
        assert_eq!(status(&s), 0x0203);

        // With IncomingUser accounts, None is refused and CHAP is chosen...
        d.targets_list[1].target_in_accounts.push(IscsiAttr {
            attr_key: "joe".into(),
            attr_value: Some("secretsecret".into()),
            ..IscsiAttr::default()
        });
        let h = new_conn(&mut d);
        let s = exec(&mut d, h, req(IQN2, "AuthMethod=None"));
        assert_eq!(status(&s), 0x0201);
        let h = new_conn(&mut d);
        let s = exec(&mut d, h, req(IQN2, "AuthMethod=None,CHAP"));
        assert_eq!(status(&s), 0);
        // No transit while authenticating.
        assert_eq!(s.bhs[1], 0x00);
        assert_eq!(s.data, text(&["TargetPortalGroupTag=1", "AuthMethod=CHAP"]));
        assert_eq!(s.state, STATE_SECURITY_AUTH);
        // ...but CHAP itself is not supported yet: authentication failure.
        let s = exec(&mut d, h, login_req(0x01, 0, 1, text(&["CHAP_A=5"])));
        assert_eq!((status(&s), s.state), (0x0201, STATE_EXIT));
        assert_eq!(s.bhs[1], 0);

        // Skipping the security stage on such a target: authentication failure.
        let h = new_conn(&mut d);
        let s = exec(
            &mut d,
            h,
            login_req(
                0x87,
                0,
                1,
                text(&[
                    &format!("InitiatorName={INI}"),
                    &format!("TargetName={IQN2}"),
                ]),
            ),
        );
        assert_eq!(status(&s), 0x0201);
    }

    #[test]
    fn session_create_failure_is_out_of_resources() {
        let (mut d, fake) = daemon("iscsid-addsess-fail");
        let h = new_conn(&mut d);
        // The fake driver refuses ADD_SESSION for initiators named "refuse".
        let s = exec(
            &mut d,
            h,
            login_req(
                0x83,
                0,
                1,
                text(&[
                    "InitiatorName=iqn.refuse",
                    &format!("TargetName={IQN1}"),
                    "AuthMethod=None",
                ]),
            ),
        );
        assert_eq!((status(&s), s.state), (0x0302, STATE_EXIT));
        assert_eq!(s.bhs[1], 0);
        assert!(s.data.is_empty());
        let calls = fake.take();
        assert!(calls.iter().any(|c| matches!(c, Call::AddSession(_))));
        assert!(calls.iter().any(|c| matches!(c, Call::DelSession(_))));
        assert!(d.targets_list[0].sessions_list.is_empty());
        // session_free() already gave the count back, yet the connection still says it holds
        // one: C's close path (iscsi_scstd.c) then decrements a second time.
        assert_eq!(d.targets_list[0].sessions_count, 0);
        let c = d.conn(h).unwrap();
        assert!(c.sess.is_none() && c.sessions_count_incremented);
    }

    #[test]
    fn send_targets_over_ipv6() {
        fn sock_v6(_fd: RawFd) -> Result<SocketAddr, Errno> {
            Ok("[fe80::5]:3260".parse().unwrap())
        }
        fn ifaddrs() -> Result<Vec<IpAddr>, Errno> {
            Ok(["::1", "fe80::5", "2001:db8::1", "10.0.0.1"]
                .iter()
                .map(|a| a.parse().unwrap())
                .collect())
        }
        let (mut d, _fake) = daemon("iscsid-st-v6");
        d.listen_addrs = vec![
            SocketAddr::from(([10, 0, 1, 1], 3260)),
            "[::]:3260".parse().unwrap(),
        ];
        d.getifaddrs = Some(ifaddrs);
        let h = new_conn(&mut d);
        {
            let c = d.conn_mut(h).unwrap();
            c.getsockname = Some(sock_v6);
            c.target_portal = Some("fe80::5".into());
        }
        discovery_login(&mut d, h, "8192");
        let s = exec(
            &mut d,
            h,
            text_req(
                ISCSI_OP_TEXT_CMD,
                1,
                [0xff; 4],
                5,
                text(&["SendTargets=iqn.2026-01.test:disk1"]),
            ),
        );
        assert_eq!(
            s.data,
            text(&[
                "TargetName=iqn.2026-01.test:disk1",
                "TargetAddress=[fe80::5]:3260,1",
                "TargetAddress=[2001:db8::1]:3260,1",
            ])
        );
    }

    #[test]
    fn login_response_longer_than_one_pdu_is_a_target_error() {
        let (mut d, _fake) = daemon("iscsid-long-rsp");
        let h = new_conn(&mut d);
        let mut data = text(&[&format!("InitiatorName={INI}"), "SessionType=Discovery"]);
        let mut i = 0;
        while data.len() + 7 + 16 <= INCOMING_BUFSIZE {
            data.extend_from_slice(format!("k{i:04}=\0").as_bytes());
            i += 1;
        }
        data.extend_from_slice(b"AuthMethod=None\0");
        assert!(data.len() <= INCOMING_BUFSIZE);
        let s = exec(&mut d, h, login_req(0x01, 0, 1, data));
        assert_eq!((status(&s), s.state), (0x0300, STATE_EXIT));
        assert!(s.data.is_empty());
        assert!(d.conn(h).unwrap().rsp_buf_list.is_empty());
    }

    /// The receive side of C's `event_conn()` (iscsi_scstd.c, not ported here): after the BHS,
    /// a PDU whose AHS and data (padded to 4) exceed [`INCOMING_BUFSIZE`] drops the connection
    /// before `cmnd_execute()` sees it.
    fn event_conn_after_bhs(conn: &mut Connection) -> bool {
        conn.iostate = IOSTATE_READ_AHS_DATA;
        conn.req.ahssize = u32::from(conn.req.bhs.ahslength) * 4;
        conn.req.datasize = conn.req.bhs.datasize();
        conn.rwsize = ((conn.req.ahssize + conn.req.datasize + 3) & !3) as usize;
        if conn.rwsize > INCOMING_BUFSIZE {
            conn.state = STATE_DROP;
            return false;
        }
        true
    }

    #[test]
    fn login_data_longer_than_incoming_bufsize() {
        let (mut d, _fake) = daemon("iscsid-bufsize");
        let h = new_conn(&mut d);
        let mut data = text(&[&format!("InitiatorName={INI}"), "SessionType=Discovery"]);
        data.resize(INCOMING_BUFSIZE + 1, b'x');
        let req = login_req(0x01, 0, 1, data);

        // event_conn drops it: no response at all.
        let mut c = d.conn(h).unwrap().clone();
        c.req.bhs = req.bhs;
        assert!(!event_conn_after_bhs(&mut c));
        assert_eq!(c.state, STATE_DROP);
        // Exactly INCOMING_BUFSIZE (8189 + 3 bytes of padding) still passes.
        c.state = STATE_FREE;
        c.req.bhs.datalength = hton24(8189);
        assert!(event_conn_after_bhs(&mut c));

        // Handed to cmnd_execute anyway, the request is only read within its buffer.
        let mut short = req.clone();
        short.data.truncate(100);
        let s = exec(&mut d, h, short);
        assert_eq!(s.bhs[0], ISCSI_OP_LOGIN_RSP);
        let h2 = new_conn(&mut d);
        let s2 = exec(&mut d, h2, req);
        assert_eq!(s2.bhs[0], ISCSI_OP_LOGIN_RSP);
    }

    #[test]
    fn text_key_add_splits_into_segments() {
        let mut c = Connection {
            state: STATE_FULL,
            ..Connection::default()
        };
        c.session_params[key_max_xmit_data_length].val = 4;
        text_key_add(&mut c, "abcdef", "gh");
        let segs: Vec<&[u8]> = c.rsp_buf_list.iter().map(|s| &s.data[..]).collect();
        assert_eq!(segs, [&b"abcd"[..], b"ef=g", b"h\0"]);
        assert!(c
            .rsp_buf_list
            .iter()
            .all(|s| s.len as usize == s.data.len()));
        // The next pair continues the last segment.
        text_key_add(&mut c, "", "");
        let segs: Vec<&[u8]> = c.rsp_buf_list.iter().map(|s| &s.data[..]).collect();
        assert_eq!(segs, [&b"abcd"[..], b"ef=g", b"h\0=\0"]);

        // While logging in, segments hold INCOMING_BUFSIZE bytes.
        let mut c = Connection::default();
        text_key_add(&mut c, "k".repeat(8000), "v".repeat(300));
        assert_eq!(c.rsp_buf_list.len(), 2);
        assert_eq!(c.rsp_buf_list[0].len as usize, INCOMING_BUFSIZE);
        assert_eq!(c.rsp_buf_list[1].len, 8000 + 300 + 2 - 8192);
    }

    #[test]
    fn text_key_find_needs_complete_pairs() {
        let mut c = Connection::default();
        c.req.data = b"A=1\0InitiatorName=iqn.x\0TargetName=t".to_vec();
        c.req.datasize = u32::try_from(c.req.data.len()).unwrap();
        assert_eq!(text_key_find(&c, "initiatorname"), Some(&b"iqn.x"[..]));
        assert_eq!(text_key_find(&c, "TargetName"), None);
        assert_eq!(text_key_find(&c, "Initiator"), None);
        // datasize limits the search.
        c.req.datasize = 4;
        assert_eq!(text_key_find(&c, "A"), Some(&b"1"[..]));
        assert_eq!(text_key_find(&c, "InitiatorName"), None);
    }

    #[test]
    fn ttt_skips_the_reserved_tag() {
        let mut d = Daemon::new();
        assert_eq!(get_next_ttt(&mut d), 1);
        d.ttt = ISCSI_RESERVED_TAG - 1;
        assert_eq!(get_next_ttt(&mut d), 0);
    }
}
