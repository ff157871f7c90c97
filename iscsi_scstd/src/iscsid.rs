// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2002 - 2003 Ardis Technolgies <roman@ardistech.com>
// Copyright (C) 2007 - 2016 Vladislav Bolkhovitin
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! The daemon's objects and state: the data structures and globals of
//! `iscsi-scst/usr/iscsid.h` (targets, sessions, connections, accounts, the start-up limits).
//! The login state machine of `iscsid.c` (`cmnd_execute()`, `text_key_add()` …) is not ported
//! yet; it will live in this module, next to the structures it works on.
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
use std::net::SocketAddr;
use std::os::fd::RawFd;

use iscsi_scst::abi::{session_key_last, target_key_last, ISCSI_LISTEN_PORT};
use kemu::chrdev::CharDevFile;
use kemu::netlink::NetlinkUserSock;
use kemu::Errno;

use crate::iscsi_hdr::{IscsiHdr, IscsiSid};
use crate::param::{self, IscsiKey, IscsiParam};

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
