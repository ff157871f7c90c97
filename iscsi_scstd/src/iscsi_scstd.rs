// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2002 - 2003 Ardis Technolgies <roman@ardistech.com>
// Copyright (C) 2007 - 2016 Vladislav Bolkhovitin
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! The daemon's main loop: the port of `iscsi-scst/usr/iscsi_scstd.c` — the command line
//! ([`Args`]), the listen sockets ([`create_listen_socket`]), accepting connections
//! ([`accept_connection`]), the per-connection PDU read/write state machine
//! (`event_conn`), the `poll()` loop ([`event_loop`]), the driver limits
//! ([`init_max_params`]) and the start-up order of `main()` ([`iscsi_scstd_main`],
//! scst-reference.md §8.3).
//!
//! # Ownership
//!
//! C keeps `poll_array[]`, `incoming[]` and `incoming_cnt` as file statics; here they are the
//! fields of [`EventLoop`], which owns the listen sockets and the accepted sockets of the
//! connections in the login phase. A connection's slot owns its socket; the socket is closed
//! when the slot is emptied — after a normal-session login that is right after `ADD_CONN`
//! handed the driver its own copy (C: `close(pollfd->fd)`).
//!
//! # Adapted for the port
//!
//! - **Stopping.** C loops forever; the usermode build ends it by releasing the kernel's
//!   netlink socket (EOF, [`LoopExit::Shutdown`]). The port adds a [`StopHandle`] (an eventfd in
//!   the poll set) and, optionally, a `signalfd` for SIGINT/SIGTERM ([`block_stop_signals`]),
//!   both ending the loop with [`LoopExit::Stopped`].
//! - **TCP_CORK.** The connection's `cork_transmit` hooks take a raw descriptor, and nix has no
//!   safe TCP_CORK option, so the accepted sockets are kept as [`kemu::net::Sock`]s (the
//!   workspace's safe `setsockopt(TCP_CORK)`) in a registry of the loop's thread, keyed by
//!   descriptor, which the hooks look up.
//! - **Errors.** Where C calls `exit()` (a fatal `accept()` error, a bad iostate, a failed
//!   `poll()`), the functions return `Err` and [`iscsi_scstd_main`] turns that into the exit
//!   status ([`MainError::exit_code`]).
//! - **No fork.** The "kernel" threads live in this process, so `-f` is the only mode: without
//!   it the pid file is still written (to `--state-dir`, default `/var/run`), but the process
//!   neither forks nor detaches.
//! - Left out: iSER (`create_iser_listen_socket()`, `iser_accept()` and the iSER hooks), iSNS
//!   (`isns_set_fd()`, the iSNS poll slots and timeout) and the `iscsi-scst-adm` IPC socket,
//!   none of which is ported yet.
#![doc(alias = "iscsi_scstd.c")]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::Arc;

use clap::{ArgAction, Parser};
use iscsi_scst::abi::{
    key_first_burst_length, key_max_burst_length, key_max_recv_data_length,
    key_max_xmit_data_length, key_queued_cmnds, ISCSI_LISTEN_PORT, ISCSI_VERSION_STRING,
};
use kemu::net::Sock;
use kemu::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{
    bind, getpeername, getsockname, listen, send, setsockopt, socket, sockopt, AddressFamily,
    Backlog, MsgFlags, SockFlag, SockType, SockaddrStorage,
};
use zerocopy::IntoBytes;

use crate::config::{config_load, ConfigError};
use crate::conn::conn_write_pdu;
use crate::conn::{conn_alloc, conn_free, conn_free_pdu, conn_pass_to_kern, conn_read_pdu};
use crate::ctldev::{kernel_conn_destroy, CTL_DEVICE};
use crate::event::{handle_iscsi_events, nl_open_unit, EventsResult};
use crate::iscsi_hdr::{IscsiLoginRspHdr, ISCSI_OPCODE_MASK, ISCSI_OP_LOGIN_RSP};
use crate::iscsi_hdr::{ISCSI_STATUS_NO_RESOURCES, ISCSI_STATUS_TARGET_ERR};
use crate::iscsid::{
    cmnd_execute, cmnd_finish, ConnHandle, Daemon, INCOMING_BUFSIZE, INCOMING_MAX,
    IOSTATE_READ_AHS_DATA, IOSTATE_READ_BHS, IOSTATE_WRITE_AHS, IOSTATE_WRITE_BHS,
    IOSTATE_WRITE_DATA, LISTEN_MAX, STATE_CLOSE, STATE_DROP, STATE_EXIT, STATE_KERNEL,
};
use crate::session::{session_find_id, session_free};
use crate::target::target_find_by_id_mut;

/// C `program_name`.
pub const PROGRAM_NAME: &str = "iscsi-scstd";

/// The keep-alive idle time of the listen sockets, in seconds (C: `sock_set_keepalive(sock,
/// 50)`).
const LISTEN_KEEPALIVE: u32 = 50;

// ---------------------------------------------------------------------------------------------
// The command line
// ---------------------------------------------------------------------------------------------

/// C: a number as `strtoul(optarg, NULL, 0)` reads it (`0x` hex, leading `0` octal, else
/// decimal). Adapted: junk or an out-of-range value is an error, where C takes 0 or wraps.
fn parse_c_number(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (digits, radix) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (h, 16)
    } else if t.len() > 1 && t.starts_with('0') {
        (&t[1..], 8)
    } else {
        (t, 10)
    };
    u64::from_str_radix(digits, radix).map_err(|e| format!("invalid number {s:?}: {e}"))
}

fn parse_u16(s: &str) -> Result<u16, String> {
    let v = parse_c_number(s)?;
    u16::try_from(v).map_err(|_| format!("{s} is out of range"))
}

fn parse_u32(s: &str) -> Result<u32, String> {
    let v = parse_c_number(s)?;
    u32::try_from(v).map_err(|_| format!("{s} is out of range"))
}

fn parse_level(s: &str) -> Result<i32, String> {
    let (neg, rest) = match s.trim().strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.trim()),
    };
    let v = i64::try_from(parse_c_number(rest)?).map_err(|_| format!("{s} is out of range"))?;
    i32::try_from(if neg { -v } else { v }).map_err(|_| format!("{s} is out of range"))
}

/// C: iscsi_scstd.c `long_options[]` and the `getopt_long(…, "c:fd:s:u:g:a:p:vh", …)` loop of
/// `main()`: the daemon's command line. `--state-dir` is a port addition (where the pid file
/// goes). C's getopt string also accepts `-s ARG`, which then falls to `usage(1)`; here `-s`
/// is simply unknown.
#[derive(Clone, Debug, Parser, PartialEq, Eq)]
#[command(
    name = PROGRAM_NAME,
    version = ISCSI_VERSION_STRING,
    disable_version_flag = true,
    about = "iSCSI target daemon."
)]
pub struct Args {
    /// Execute in the config file (C: -c; default /etc/iscsi-scstd.conf, which may be missing).
    #[arg(short = 'c', long = "config", value_name = "PATH")]
    pub config: Option<String>,
    /// Make the program run in the foreground (C: -f).
    #[arg(short = 'f', long = "foreground")]
    pub foreground: bool,
    /// Print debugging information (C: -d, `log_level`).
    #[arg(short = 'd', long = "debug", value_name = "LEVEL", value_parser = parse_level)]
    pub debug: Option<i32>,
    /// Run as uid, default is current user (C: -u; applied after the config is loaded).
    #[arg(short = 'u', long = "uid", value_parser = parse_u32)]
    pub uid: Option<u32>,
    /// Run as gid, default is current user group (C: -g).
    #[arg(short = 'g', long = "gid", value_parser = parse_u32)]
    pub gid: Option<u32>,
    /// Listen on specified local address instead of all (C: -a).
    #[arg(short = 'a', long = "address")]
    pub address: Option<String>,
    /// Listen on specified port instead of 3260 (C: -p; 0 lets the kernel pick).
    #[arg(short = 'p', long = "port", default_value_t = ISCSI_LISTEN_PORT, value_parser = parse_u16)]
    pub port: u16,
    /// Print the version and exit (C: -v).
    #[arg(short = 'v', long = "version", action = ArgAction::Version)]
    version: Option<bool>,
    /// Directory for the process's state: pid file, default configuration, default backing
    /// files (port addition; default: `$XDG_DATA_HOME/scst-rs`, else `~/.local/share/scst-rs`;
    /// `/var/lib/scst-rs` for root).
    #[arg(long = "state-dir", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

impl Args {
    /// The state directory: `--state-dir`, or the default under the user's data directory
    /// (never a system path unless running as root).
    pub fn state_dir(&self) -> PathBuf {
        if let Some(d) = &self.state_dir {
            return d.clone();
        }
        default_state_dir(
            nix::unistd::geteuid().is_root(),
            std::env::var_os("XDG_DATA_HOME").map(PathBuf::from),
            std::env::var_os("HOME").map(PathBuf::from),
        )
    }
}

/// The default state directory for a root or non-root user with these environment values.
pub fn default_state_dir(
    root: bool,
    xdg_data_home: Option<PathBuf>,
    home: Option<PathBuf>,
) -> PathBuf {
    if root {
        return PathBuf::from("/var/lib/scst-rs");
    }
    if let Some(x) = xdg_data_home.filter(|p| p.is_absolute()) {
        return x.join("scst-rs");
    }
    if let Some(h) = home.filter(|p| p.is_absolute()) {
        return h.join(".local/share/scst-rs");
    }
    // No usable home: a per-user directory under the temporary directory.
    std::env::temp_dir().join(format!("scst-rs-{}", nix::unistd::geteuid()))
}

// ---------------------------------------------------------------------------------------------
// Listen sockets
// ---------------------------------------------------------------------------------------------

/// C: misc.c sock_set_keepalive(): keep-alive probes after `timeout` idle seconds (two
/// probes, three seconds apart). Failures are only logged.
fn sock_set_keepalive(sock: &OwnedFd, timeout: u32) {
    if timeout == 0 {
        return;
    }
    if let Err(e) = setsockopt(sock, sockopt::TcpKeepCount, &2) {
        log::warn!("unable to set TCP_KEEPCNT on server socket ({})!", e.desc());
    }
    if let Err(e) = setsockopt(sock, sockopt::TcpKeepIdle, &timeout) {
        log::warn!(
            "unable to set TCP_KEEPIDLE on server socket ({})!",
            e.desc()
        );
    }
    if let Err(e) = setsockopt(sock, sockopt::TcpKeepInterval, &3) {
        log::warn!("unable to set KEEPINTVL on server socket ({})!", e.desc());
    }
    if let Err(e) = setsockopt(sock, sockopt::KeepAlive, &true) {
        log::warn!(
            "unable to set SO_KEEPALIVE on server socket ({})!",
            e.desc()
        );
    }
}

/// The addresses `getaddrinfo(address, port, {SOCK_STREAM, AI_PASSIVE})` gives: both
/// wildcards without an address.
fn listen_addresses(address: Option<&str>, port: u16) -> Result<Vec<SocketAddr>, Errno> {
    match address {
        None => Ok(vec![
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
            SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)),
        ]),
        Some(a) => (a, port)
            .to_socket_addrs()
            .map(Iterator::collect)
            .map_err(|e| {
                log::error!("Unable to get address info ({e})!");
                Errno::EINVAL
            }),
    }
}

/// One listen socket on `addr`, or why not.
fn listen_socket(addr: SocketAddr) -> Result<TcpListener, Errno> {
    let family = if addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let sock = socket(
        family,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )
    .inspect_err(|e| log::error!("Unable to create server socket ({}) {addr}!", e.desc()))?;

    sock_set_keepalive(&sock, LISTEN_KEEPALIVE);

    if let Err(e) = setsockopt(&sock, sockopt::ReuseAddr, &true) {
        log::warn!(
            "Unable to set SO_REUSEADDR on server socket ({})!",
            e.desc()
        );
    }
    if addr.is_ipv6() {
        setsockopt(&sock, sockopt::Ipv6V6Only, &true)
            .inspect_err(|e| log::error!("Unable to restrict IPv6 socket ({})", e.desc()))?;
    }

    bind(sock.as_raw_fd(), &SockaddrStorage::from(addr))
        .inspect_err(|e| log::error!("Unable to bind server socket ({})!", e.desc()))?;

    let backlog = Backlog::new(i32::try_from(INCOMING_MAX).unwrap_or(i32::MAX))?;
    listen(&sock, backlog)
        .inspect_err(|e| log::error!("Unable to listen to server socket ({})!", e.desc()))?;

    Ok(TcpListener::from(sock))
}

/// C: iscsi_scstd.c create_listen_socket(): up to [`LISTEN_MAX`] non-blocking listen sockets
/// (`SO_REUSEADDR`, keep-alive, IPv6 ones `IPV6_V6ONLY`) on `address` (all addresses when
/// `None`) and `port` (0: the kernel picks one per socket). A socket that cannot be set up is
/// logged and skipped; none at all is an error (C exits). The bound addresses are
/// `local_addr()` of the returned listeners.
pub fn create_listen_socket(address: Option<&str>, port: u16) -> Result<Vec<TcpListener>, Errno> {
    let mut out = Vec::new();
    for addr in listen_addresses(address, port)? {
        if out.len() >= LISTEN_MAX {
            break;
        }
        if let Ok(l) = listen_socket(addr) {
            out.push(l);
        }
    }
    if out.is_empty() {
        return Err(Errno::EADDRNOTAVAIL);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Accepted sockets and their hooks
// ---------------------------------------------------------------------------------------------

thread_local! {
    /// The sockets of the connections this thread's event loop has accepted, by descriptor:
    /// what the `cork_transmit` / `uncork_transmit` hooks act on.
    static SOCKS: RefCell<BTreeMap<RawFd, Arc<Sock>>> = const { RefCell::new(BTreeMap::new()) };
}

/// C: iscsi_scstd.c transmit_sock(): `TCP_CORK` on or off for the accepted socket `fd`.
fn transmit_sock(fd: RawFd, start: bool) -> Result<(), Errno> {
    let sock = SOCKS.with(|s| s.borrow().get(&fd).cloned());
    sock.ok_or(Errno::EBADF)?.tcp_cork(start)
}

/// C: iscsi_scstd.c cork_transmit_sock().
fn cork_transmit_sock(fd: RawFd) -> Result<(), Errno> {
    transmit_sock(fd, true)
}

/// C: iscsi_scstd.c uncork_transmit_sock().
fn uncork_transmit_sock(fd: RawFd) -> Result<(), Errno> {
    transmit_sock(fd, false)
}

/// C: iscsi_scstd.c tcp_is_discovery(): a TCP connection says nothing about its session type.
fn tcp_is_discovery(_fd: RawFd) -> bool {
    false
}

/// C: `getsockname()` as the connection's `getsockname` hook.
fn sock_getsockname(fd: RawFd) -> Result<SocketAddr, Errno> {
    kemu::net::to_socket_addr(&getsockname::<SockaddrStorage>(fd)?)
}

/// C: `getpeername()` as the connection's `getpeername` hook (port addition; see
/// [`Connection::getpeername`](crate::iscsid::Connection::getpeername)).
fn sock_getpeername(fd: RawFd) -> Result<SocketAddr, Errno> {
    kemu::net::to_socket_addr(&getpeername::<SockaddrStorage>(fd)?)
}

// ---------------------------------------------------------------------------------------------
// The loop's state
// ---------------------------------------------------------------------------------------------

/// One `incoming[]` slot: a connection in the login phase, its socket and the events its
/// `poll_array[POLL_INCOMING + i]` entry waits for.
#[derive(Debug)]
struct Incoming {
    conn: ConnHandle,
    sock: Arc<Sock>,
    events: PollFlags,
}

impl Incoming {
    fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl Drop for Incoming {
    /// C: `close(pollfd->fd)`: forget the socket; the last reference closes it.
    fn drop(&mut self) {
        let fd = self.fd();
        let _ = SOCKS.try_with(|s| s.borrow_mut().remove(&fd));
    }
}

/// Ends a running [`event_loop`] from any thread (port addition): the write side of an
/// eventfd in the loop's poll set.
#[derive(Clone, Debug)]
pub struct StopHandle(Arc<EventFd>);

impl StopHandle {
    /// A new handle; give it to [`EventLoop::new`].
    pub fn new() -> Result<StopHandle, Errno> {
        let efd = EventFd::from_value_and_flags(0, EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?;
        Ok(StopHandle(Arc::new(efd)))
    }

    /// Makes the loop return [`LoopExit::Stopped`] at its next wake-up (promptly: the eventfd
    /// wakes its `poll()`).
    pub fn stop(&self) {
        if let Err(e) = self.0.write(1) {
            log::error!("cannot stop the event loop: {}", e.desc());
        }
    }
}

/// Blocks SIGINT and SIGTERM in the calling thread — and so in every thread it starts later —
/// and returns a `signalfd` that reports them, for [`EventLoop::with_signals`] (port
/// addition; the C usermode adaptation also routes SIGINT through a signalfd). Call it before
/// the kernel part starts its threads.
pub fn block_stop_signals() -> Result<SignalFd, Errno> {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGINT);
    mask.add(Signal::SIGTERM);
    mask.thread_block()?;
    SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
}

/// Why [`event_loop`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoopExit {
    /// [`StopHandle::stop`], SIGINT or SIGTERM.
    Stopped,
    /// End-of-file on the netlink socket: the kernel part shut down.
    Shutdown,
}

/// The main loop's state: C's `poll_array[]` (listen, netlink and incoming slots),
/// `incoming[]` and `incoming_cnt` (file statics of iscsi_scstd.c), plus the stop sources.
#[derive(Debug)]
pub struct EventLoop {
    listen: Vec<TcpListener>,
    incoming: Vec<Option<Incoming>>,
    incoming_cnt: usize,
    stop: StopHandle,
    signals: Option<SignalFd>,
}

impl EventLoop {
    /// A loop over `listen` (from [`create_listen_socket`]; at most [`LISTEN_MAX`] are used)
    /// that `stop` ends.
    pub fn new(mut listen: Vec<TcpListener>, stop: StopHandle) -> EventLoop {
        listen.truncate(LISTEN_MAX);
        EventLoop {
            listen,
            incoming: (0..INCOMING_MAX).map(|_| None).collect(),
            incoming_cnt: 0,
            stop,
            signals: None,
        }
    }

    /// Also ends the loop on the signals of `sfd` (see [`block_stop_signals`]).
    pub fn with_signals(mut self, sfd: SignalFd) -> EventLoop {
        self.signals = Some(sfd);
        self
    }

    /// The local addresses of the listen sockets.
    pub fn listen_addrs(&self) -> Vec<SocketAddr> {
        self.listen
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// The number of connections in the login phase (C `incoming_cnt`).
    pub fn incoming_cnt(&self) -> usize {
        self.incoming_cnt
    }
}

// ---------------------------------------------------------------------------------------------
// iscsi_scstd.c, in C order
// ---------------------------------------------------------------------------------------------

/// C: iscsi_scstd.c alloc_and_init_conn(): a free `incoming[]` slot for the accepted socket
/// `sock`, a new connection ([`conn_alloc`]) reading its first BHS, the slot polled for input.
/// `None` if all [`INCOMING_MAX`] slots are taken (logged).
fn alloc_and_init_conn(d: &mut Daemon, lp: &mut EventLoop, sock: Arc<Sock>) -> Option<usize> {
    let Some(i) = lp.incoming.iter().position(Option::is_none) else {
        log::error!("Unable to find incoming slot? {INCOMING_MAX}");
        return None;
    };

    let fd = sock.as_raw_fd();
    let h = conn_alloc(d);
    if let Some(conn) = d.conn_mut(h) {
        conn.fd = fd;
        conn_read_pdu(conn);
    }
    SOCKS.with(|s| s.borrow_mut().insert(fd, Arc::clone(&sock)));
    lp.incoming[i] = Some(Incoming {
        conn: h,
        sock,
        events: PollFlags::POLLIN,
    });
    Some(i)
}

/// C: iscsi_scstd.c accept_connection(): accepts a connection on `listen`, logs its
/// addresses, and — unless `conn_blocked` — gives it a slot and a connection whose portal is
/// the local address and whose hooks act on the socket (TCP_CORK, `getsockname`,
/// `getpeername`). Transient `accept()` errors are ignored; any other is returned (C exits).
pub fn accept_connection(d: &mut Daemon, lp: &mut EventLoop, listen: usize) -> Result<(), Errno> {
    let Some(l) = lp.listen.get(listen) else {
        return Err(Errno::EBADF);
    };
    let (stream, from) = match l.accept() {
        Ok(a) => a,
        Err(e) => {
            let errno = Errno::from_raw(e.raw_os_error().unwrap_or(0));
            return match errno {
                Errno::EINTR
                | Errno::EAGAIN
                | Errno::ENETDOWN
                | Errno::EPROTO
                | Errno::ENOPROTOOPT
                | Errno::EHOSTDOWN
                | Errno::ENONET
                | Errno::EHOSTUNREACH
                | Errno::EOPNOTSUPP
                | Errno::ENETUNREACH => Ok(()),
                _ => {
                    log::error!("accept(incoming_socket) failed: {e}");
                    Err(errno)
                }
            };
        }
    };

    let to = match stream.local_addr() {
        Ok(a) => a,
        Err(e) => {
            log::error!("getsockname() failed: {e}");
            return Ok(());
        }
    };
    let target_portal = to.ip().to_string();

    log::info!(
        "Connect from {}:{} to {target_portal}:{}",
        from.ip(),
        from.port(),
        to.port()
    );

    if d.conn_blocked {
        log::warn!("Connection refused due to blocking");
        return Ok(());
    }

    // Sock::from_fd makes the socket non-blocking (C: set_non_blocking()).
    let sock = match Sock::from_fd(OwnedFd::from(stream)) {
        Ok(s) => s,
        Err(e) => {
            log::error!("cannot set up the connection's socket: {}", e.desc());
            return Ok(());
        }
    };
    let Some(i) = alloc_and_init_conn(d, lp, sock) else {
        return Ok(());
    };
    let Some(h) = lp.incoming[i].as_ref().map(|s| s.conn) else {
        return Ok(());
    };
    if let Some(conn) = d.conn_mut(h) {
        conn.target_portal = Some(target_portal);
        conn.cork_transmit = Some(cork_transmit_sock);
        conn.uncork_transmit = Some(uncork_transmit_sock);
        conn.getsockname = Some(sock_getsockname);
        conn.getpeername = Some(sock_getpeername);
        conn.is_discovery = Some(tcp_is_discovery);
        conn_read_pdu(conn);
    }

    lp.incoming_cnt += 1;
    Ok(())
}

/// What a read or write on a connection's socket did.
enum Io {
    /// `n` bytes moved.
    Done(usize),
    /// Nothing now (`EAGAIN`): wait for the next poll.
    Wait,
    /// End-of-file or an error: drop the connection.
    Drop,
}

/// A `read()` of the next bytes of the region the connection's `iostate` names, retried on
/// `EINTR`.
fn conn_read(d: &mut Daemon, h: ConnHandle, sock: &Sock) -> Io {
    let Some(conn) = d.conn_mut(h) else {
        return Io::Drop;
    };
    let (start, len) = (conn.buffer, conn.rwsize);
    let region: &mut [u8] = if conn.iostate == IOSTATE_READ_BHS {
        conn.req.bhs.as_mut_bytes()
    } else {
        &mut conn.req_buffer[..]
    };
    let Some(buf) = start
        .checked_add(len)
        .and_then(|end| region.get_mut(start..end))
    else {
        return Io::Drop;
    };
    loop {
        match nix::unistd::read(sock.as_fd(), buf) {
            Ok(0) => return Io::Drop,
            Ok(n) => return Io::Done(n),
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => return Io::Wait,
            Err(_) => return Io::Drop,
        }
    }
}

/// A `write()` (a `send()` without SIGPIPE) of the next bytes of the region the connection's
/// `iostate` names, corked first as C does before each write; retried on `EINTR`.
fn conn_write(d: &mut Daemon, h: ConnHandle, fd: RawFd) -> Io {
    let Some(conn) = d.conn_mut(h) else {
        return Io::Drop;
    };
    if let Some(cork) = conn.cork_transmit {
        let _ = cork(fd);
    }
    let (start, len) = (conn.buffer, conn.rwsize);
    let region: &[u8] = match conn.iostate {
        IOSTATE_WRITE_BHS => conn.rsp.bhs.as_bytes(),
        IOSTATE_WRITE_AHS => &conn.rsp.ahs,
        _ => &conn.rsp.data,
    };
    let Some(buf) = start
        .checked_add(len)
        .and_then(|end| region.get(start..end))
    else {
        return Io::Drop;
    };
    loop {
        match send(fd, buf, MsgFlags::MSG_NOSIGNAL) {
            Ok(n) => return Io::Done(n),
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => return Io::Wait,
            Err(_) => return Io::Drop,
        }
    }
}

/// Sets the connection's state (C: `conn->state = …`).
fn set_state(d: &mut Daemon, h: ConnHandle, state: i32) {
    if let Some(conn) = d.conn_mut(h) {
        conn.state = state;
    }
}

/// The fix of C's double decrement of `sessions_count` (iscsi_scstd.c:765 + session.c:180):
/// when `session_create()` fails inside `login_finish()`, its `session_free()` already gives
/// the target's count back, yet the connection keeps `sessions_count_incremented`, and the
/// close path of `event_loop()` decrements again (an unsigned count: it wraps). That failure
/// is the only way a login ends with "out of resources" after the count was taken
/// (`login_start()`'s own "out of resources" refusal never takes it), so the flag is cleared
/// here and the close path's decrement only gives back counts still held.
fn fix_failed_session_count(d: &mut Daemon, h: ConnHandle) {
    let Some(conn) = d.conn_mut(h) else {
        return;
    };
    if !conn.sessions_count_incremented || conn.sess.is_some() {
        return;
    }
    if conn.rsp.bhs.opcode & ISCSI_OPCODE_MASK != ISCSI_OP_LOGIN_RSP {
        return;
    }
    let rsp = IscsiLoginRspHdr::from_hdr(&conn.rsp.bhs);
    if rsp.status_class == ISCSI_STATUS_TARGET_ERR && rsp.status_detail == ISCSI_STATUS_NO_RESOURCES
    {
        conn.sessions_count_incremented = false;
    }
}

/// C: iscsi_scstd.c event_conn(): moves the PDU transfer of the connection in `slot` on after
/// its socket became ready: reads the request's BHS, then its AHS and data into the receive
/// buffer (a request with more than [`INCOMING_BUFSIZE`] bytes of AHS and data drops the
/// connection), runs it ([`cmnd_execute`]) and writes the response's BHS, AHS and data
/// (padded to 4) with TCP_CORK around them. After the response [`cmnd_finish`] moves the
/// login on; a normal session's finished login hands the socket to the driver
/// ([`conn_pass_to_kern`]) and the connection goes to `STATE_CLOSE` (`STATE_EXIT` if the
/// driver refused it). End-of-file or a socket error puts the connection in `STATE_DROP`.
/// An iostate C does not know is `EINVAL` (C exits).
fn event_conn(d: &mut Daemon, slot: &mut Incoming) -> Result<(), Errno> {
    let h = slot.conn;
    let fd = slot.fd();

    'again: loop {
        let Some(iostate) = d.conn(h).map(|c| c.iostate) else {
            return Ok(());
        };
        match iostate {
            IOSTATE_READ_BHS | IOSTATE_READ_AHS_DATA => loop {
                // read_again
                let n = match conn_read(d, h, &slot.sock) {
                    Io::Done(n) => n,
                    Io::Wait => return Ok(()),
                    Io::Drop => {
                        set_state(d, h, STATE_DROP);
                        return Ok(());
                    }
                };
                let Some(conn) = d.conn_mut(h) else {
                    return Ok(());
                };
                conn.rwsize -= n;
                conn.buffer += n;
                if conn.rwsize != 0 {
                    return Ok(());
                }

                if conn.iostate == IOSTATE_READ_BHS {
                    conn.iostate = IOSTATE_READ_AHS_DATA;
                    conn.req.ahssize = u32::from(conn.req.bhs.ahslength) * 4;
                    conn.req.datasize = conn.req.bhs.datasize();
                    let total = conn.req.ahssize as usize + conn.req.datasize as usize;
                    conn.rwsize = (total + 3) & !3;
                    if conn.rwsize > INCOMING_BUFSIZE {
                        log::warn!(
                            "Recv PDU with invalid size {} (max: {INCOMING_BUFSIZE})",
                            conn.rwsize
                        );
                        conn.state = STATE_DROP;
                        return Ok(());
                    }
                    if conn.rwsize != 0 {
                        if conn.req_buffer.is_empty() {
                            conn.req_buffer = vec![0; INCOMING_BUFSIZE];
                        }
                        conn.buffer = 0;
                        continue;
                    }
                    // No AHS and no data: the request is complete.
                }

                // The request is complete: C points req.ahs and req.data into the buffer.
                let ahssize = conn.req.ahssize as usize;
                let datasize = conn.req.datasize as usize;
                conn.req.ahs = conn.req_buffer.get(..ahssize).unwrap_or_default().to_vec();
                conn.req.data = conn
                    .req_buffer
                    .get(ahssize..ahssize + datasize)
                    .unwrap_or_default()
                    .to_vec();

                conn_write_pdu(conn);
                slot.events = PollFlags::POLLOUT;

                log::trace!("{:?}", conn.req.bhs);
                if !cmnd_execute(d, h) {
                    set_state(d, h, STATE_EXIT);
                }
                fix_failed_session_count(d, h);

                if d.conn(h).is_some_and(|c| c.state == STATE_EXIT) {
                    // The response still goes out.
                    continue 'again;
                }
                return Ok(());
            },

            IOSTATE_WRITE_BHS | IOSTATE_WRITE_AHS | IOSTATE_WRITE_DATA => loop {
                // write_again
                let n = match conn_write(d, h, fd) {
                    Io::Done(n) => n,
                    Io::Wait => return Ok(()),
                    Io::Drop => {
                        set_state(d, h, STATE_DROP);
                        return Ok(());
                    }
                };
                let Some(conn) = d.conn_mut(h) else {
                    return Ok(());
                };
                conn.rwsize -= n;
                conn.buffer += n;
                if conn.rwsize != 0 {
                    continue;
                }

                if conn.iostate == IOSTATE_WRITE_BHS && conn.rsp.ahssize != 0 {
                    conn.iostate = IOSTATE_WRITE_AHS;
                    conn.buffer = 0;
                    conn.rwsize = conn.rsp.ahssize as usize;
                    conn.rsp.ahs.resize(conn.rwsize, 0);
                    continue;
                }
                if conn.iostate != IOSTATE_WRITE_DATA && conn.rsp.datasize != 0 {
                    conn.iostate = IOSTATE_WRITE_DATA;
                    conn.buffer = 0;
                    let datasize = conn.rsp.datasize as usize;
                    // C pads in place with zero bytes up to a multiple of 4.
                    conn.rwsize = (datasize + 3) & !3;
                    conn.rsp.data.resize(datasize, 0);
                    conn.rsp.data.resize(conn.rwsize, 0);
                    continue;
                }

                if let Some(uncork) = conn.uncork_transmit {
                    let _ = uncork(fd);
                }
                cmnd_finish(conn);

                match conn.state {
                    STATE_KERNEL => {
                        conn_pass_to_kern(d, h, fd);
                        let passed = d.conn(h).is_some_and(|c| c.passed_to_kern);
                        set_state(d, h, if passed { STATE_CLOSE } else { STATE_EXIT });
                    }
                    STATE_EXIT | STATE_CLOSE | STATE_DROP => {}
                    _ => {
                        conn_read_pdu(conn);
                        slot.events = PollFlags::POLLIN;
                    }
                }
                return Ok(());
            },

            other => {
                log::error!("illegal iostate {other} for port {fd}!");
                return Err(Errno::EINVAL);
            }
        }
    }
}

/// The close path of C `event_loop()` for the connection in slot `i`, once it is in
/// `STATE_CLOSE`, `STATE_EXIT` or `STATE_DROP`: frees its PDU buffers and closes the socket;
/// unless it was handed to the driver (`STATE_CLOSE`, freed later by `E_CONN_CLOSE`), it is
/// freed — with its session if that is now empty, or giving back the session count its login
/// took when no session was made. A connection the driver has but which ended otherwise is
/// deleted from the driver (`DEL_CONN`).
fn close_incoming(d: &mut Daemon, lp: &mut EventLoop, i: usize) {
    let Some(slot) = lp.incoming[i].take() else {
        return;
    };
    let h = slot.conn;
    log::debug!("closing conn {h:?}");
    let Some(conn) = d.conn_mut(h) else {
        lp.incoming_cnt -= 1;
        return;
    };
    conn_free_pdu(conn);
    let (state, sess, tid, cid, passed, incremented) = (
        conn.state,
        conn.sess,
        conn.tid,
        conn.cid,
        conn.passed_to_kern,
        conn.sessions_count_incremented,
    );
    let target = conn.target;
    drop(slot);
    lp.incoming_cnt -= 1;

    if state == STATE_CLOSE {
        return;
    }
    if passed {
        if let Some(sid) = sess {
            let _ = kernel_conn_destroy(d, tid, sid, u32::from(cid));
        }
        return;
    }

    // The session could not be established, but the login had counted it.
    if sess.is_none() && incremented {
        if let Some(t) = target.and_then(|tid| target_find_by_id_mut(d, tid)) {
            t.sessions_count = t.sessions_count.saturating_sub(1);
        }
    }
    log::debug!("conn {h:?} freed (sess {sess:?})");
    conn_free(d, h);
    if let Some(sid) = sess {
        if session_find_id(d, tid, sid).is_some_and(|s| s.conn_list.is_empty()) {
            session_free(d, tid, sid);
        }
    }
}

/// What an entry of the poll set stands for.
#[derive(Clone, Copy, Debug)]
enum Slot {
    Listen(usize),
    Nl,
    Stop,
    Signal,
    Incoming(usize),
}

/// C: iscsi_scstd.c event_loop(): `poll()` over the listen sockets, the netlink socket and the
/// connections in the login phase (plus the stop sources), and after each wake-up: new
/// connections accepted (while fewer than [`INCOMING_MAX`] are open), a kernel event handled,
/// each ready connection moved on (`event_conn`) and closed once it is done. While
/// `iscsi_enabled` is off only the netlink socket (and the stop sources) are watched.
///
/// Returns when stopped or at netlink end-of-file; errors are what C exits on (a failed
/// `poll()`, a fatal `accept()` error, a bad kernel event).
pub fn event_loop(d: &mut Daemon, lp: &mut EventLoop) -> Result<LoopExit, Errno> {
    loop {
        let mut kinds = Vec::new();
        let ready: Vec<(Slot, PollFlags)> = {
            let mut fds = Vec::new();
            if d.iscsi_enabled {
                for (i, l) in lp.listen.iter().enumerate() {
                    fds.push(PollFd::new(l.as_fd(), PollFlags::POLLIN));
                    kinds.push(Slot::Listen(i));
                }
            }
            if let Some(nl) = d.nl_fd.as_ref() {
                fds.push(PollFd::new(nl.as_fd(), PollFlags::POLLIN));
                kinds.push(Slot::Nl);
            }
            fds.push(PollFd::new(lp.stop.0.as_fd(), PollFlags::POLLIN));
            kinds.push(Slot::Stop);
            if let Some(sfd) = lp.signals.as_ref() {
                fds.push(PollFd::new(sfd.as_fd(), PollFlags::POLLIN));
                kinds.push(Slot::Signal);
            }
            if d.iscsi_enabled {
                for (i, s) in lp.incoming.iter().enumerate() {
                    if let Some(s) = s {
                        fds.push(PollFd::new(s.sock.as_fd(), s.events));
                        kinds.push(Slot::Incoming(i));
                    }
                }
            }

            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    log::error!("event_loop: poll() failed: {}", e.desc());
                    return Err(e);
                }
            }
            kinds
                .iter()
                .zip(fds.iter())
                .filter_map(|(k, f)| f.revents().filter(|r| !r.is_empty()).map(|r| (*k, r)))
                .collect()
        };

        let mut stop = false;
        for &(kind, _) in &ready {
            match kind {
                Slot::Listen(i) => {
                    if lp.incoming_cnt < INCOMING_MAX {
                        accept_connection(d, lp, i)?;
                    }
                }
                Slot::Nl => match handle_iscsi_events(d, false)? {
                    EventsResult::Shutdown => return Ok(LoopExit::Shutdown),
                    EventsResult::Handled | EventsResult::Again => {}
                },
                Slot::Stop => {
                    let _ = lp.stop.0.read();
                    stop = true;
                }
                Slot::Signal => {
                    if let Some(sfd) = lp.signals.as_ref() {
                        if let Ok(Some(si)) = sfd.read_signal() {
                            log::info!("signal {} received, stopping", si.ssi_signo);
                        }
                    }
                    stop = true;
                }
                Slot::Incoming(i) => {
                    let Some(mut slot) = lp.incoming[i].take() else {
                        continue;
                    };
                    let res = event_conn(d, &mut slot);
                    let done = d
                        .conn(slot.conn)
                        .is_none_or(|c| matches!(c.state, STATE_CLOSE | STATE_EXIT | STATE_DROP));
                    lp.incoming[i] = Some(slot);
                    res?;
                    if done {
                        close_incoming(d, lp, i);
                    }
                }
            }
        }
        if stop {
            return Ok(LoopExit::Stopped);
        }
    }
}

/// C: iscsi_scstd.c init_max_params(): fits the key tables to the driver's limits from
/// `REGISTER_USERD`: QueuedCommands to `max_queued_cmds`; MaxRecvDataSegmentLength,
/// MaxXmitDataSegmentLength and MaxBurstLength become `max_data_seg_len` (default and
/// maximum); FirstBurstLength's maximum too, and its default no more than that. The four
/// length keys must still have their "set at start-up" values (all ones), else `EINVAL` (C:
/// "Wrong session_keys initialization", exit).
pub fn init_max_params(d: &mut Daemon) -> Result<(), Errno> {
    const UNSET: u32 = u32::MAX;
    let sk = &d.session_keys;
    if sk[key_max_recv_data_length].local_def != UNSET
        || sk[key_max_recv_data_length].max != UNSET
        || sk[key_max_xmit_data_length].local_def != UNSET
        || sk[key_max_xmit_data_length].max != UNSET
        || sk[key_max_burst_length].local_def != UNSET
        || sk[key_max_burst_length].max != UNSET
        || sk[key_first_burst_length].max != UNSET
    {
        log::error!("Wrong session_keys initialization");
        return Err(Errno::EINVAL);
    }

    // C compares as int: a limit is taken whatever its sign, and stored back as unsigned.
    let min_int = |v: u32, lim: i32| v.cast_signed().min(lim).cast_unsigned();
    let qc = d.iscsi_init_params.max_queued_cmds;
    let msl = d.iscsi_init_params.max_data_seg_len;

    let q = &mut d.target_keys[key_queued_cmnds];
    q.local_def = min_int(q.local_def, qc);
    q.max = min_int(q.max, qc);
    q.min = min_int(q.min, qc);

    for k in [
        key_max_recv_data_length,
        key_max_xmit_data_length,
        key_max_burst_length,
    ] {
        d.session_keys[k].local_def = msl.cast_unsigned();
        d.session_keys[k].max = msl.cast_unsigned();
    }

    let fb = &mut d.session_keys[key_first_burst_length];
    fb.local_def = min_int(fb.local_def, msl);
    fb.max = msl.cast_unsigned();
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// main()
// ---------------------------------------------------------------------------------------------

/// Why [`iscsi_scstd_main`] ended before or instead of its loop (C: the `exit()` calls of
/// `main()` and of the functions it runs).
#[derive(Debug)]
pub enum MainError {
    /// `kernel_open()` failed (C: exit(-1)).
    KernelOpen(Errno),
    /// `init_max_params()` found the key tables already changed (C: exit(-1)).
    InitMaxParams(Errno),
    /// `nl_open()` failed (C: "netlink open failed", exit(-1)).
    NlOpen(Errno),
    /// The pid file could not be written (C: exit(1)).
    PidFile(std::io::Error),
    /// `config_load()` failed (C: exit(1); a strict `FILE:LINE` error: 2).
    Config(ConfigError),
    /// No listen socket could be opened (C: exit(1)).
    Listen(Errno),
    /// The event loop failed (C: exit(1)).
    Loop(Errno),
}

impl MainError {
    /// The process exit status C would give.
    pub fn exit_code(&self) -> u8 {
        match self {
            MainError::KernelOpen(_) | MainError::InitMaxParams(_) | MainError::NlOpen(_) => 255,
            MainError::Config(ConfigError::Line { .. }) => 2,
            MainError::PidFile(_)
            | MainError::Config(_)
            | MainError::Listen(_)
            | MainError::Loop(_) => 1,
        }
    }
}

impl fmt::Display for MainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MainError::KernelOpen(e) => write!(f, "cannot open the control device: {}", e.desc()),
            MainError::InitMaxParams(_) => write!(f, "Wrong session_keys initialization"),
            MainError::NlOpen(e) => write!(f, "netlink open failed: {}", e.desc()),
            MainError::PidFile(e) => write!(f, "unable to create pid file: {e}"),
            MainError::Config(e) => write!(f, "{e}"),
            MainError::Listen(e) => write!(f, "no listen socket: {}", e.desc()),
            MainError::Loop(e) => write!(f, "event loop failed: {}", e.desc()),
        }
    }
}

impl std::error::Error for MainError {}

/// The listen-address callback of [`MainCtl`].
pub type OnListenFn<'a> = Box<dyn FnMut(&[SocketAddr]) + 'a>;

/// What [`iscsi_scstd_main`] needs besides the options: how it is stopped, and whom to tell the
/// listen addresses (e.g. to print them when `-p 0` let the kernel pick the port).
pub struct MainCtl<'a> {
    /// Ends the event loop.
    pub stop: StopHandle,
    /// SIGINT/SIGTERM as a signalfd ([`block_stop_signals`]), if the loop should watch it.
    pub signals: Option<SignalFd>,
    /// Called once the listen sockets are bound, with their addresses.
    pub on_listen: OnListenFn<'a>,
}

impl fmt::Debug for MainCtl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MainCtl")
            .field("stop", &self.stop)
            .field("signals", &self.signals.is_some())
            .finish_non_exhaustive()
    }
}

/// C: iscsi_scstd.c main() after the option parsing, procfs build, in C's order
/// (scst-reference.md §8.3): iSCSI enabled; `kernel_open()`; [`init_max_params`];
/// `nl_open()`; the pid file (without `-f`; no fork, see the module doc); `config_load()`;
/// `setgid()`/`setuid()` (failures logged); [`create_listen_socket`] and [`event_loop`] —
/// C opens the listen sockets at the start of `event_loop()`. Returns why the loop ended.
pub fn iscsi_scstd_main(args: &Args, ctl: MainCtl<'_>) -> Result<LoopExit, MainError> {
    let mut d = Daemon::new();
    main_with(
        &mut d,
        args,
        ctl,
        CTL_DEVICE,
        iscsi_scst::abi::NETLINK_ISCSI_SCST,
    )
}

/// [`iscsi_scstd_main`] on daemon `d`, with control device `dev` and netlink unit `unit`
/// (tests serve fakes under names of their own).
pub(crate) fn main_with(
    d: &mut Daemon,
    args: &Args,
    mut ctl: MainCtl<'_>,
    dev: &str,
    unit: i32,
) -> Result<LoopExit, MainError> {
    d.iscsi_enabled = true;
    d.server_port = args.port;

    let file = crate::ctldev::kernel_open_dev(d, dev).map_err(MainError::KernelOpen)?;
    d.ctrl_fd = Some(file);

    init_max_params(d).map_err(MainError::InitMaxParams)?;

    let nl = nl_open_unit(unit).map_err(|e| {
        log::error!("netlink open failed: {}", e.desc());
        MainError::NlOpen(e)
    })?;
    if let Err(e) = nl.set_nonblocking(true) {
        log::warn!("netlink socket stays blocking: {}", e.desc());
    }
    d.nl_fd = Some(nl);

    if !args.foreground {
        let path = args.state_dir().join("iscsi-scstd.pid");
        std::fs::write(&path, format!("{}\n", std::process::id())).map_err(|e| {
            log::error!("unable to create pid file {}", path.display());
            MainError::PidFile(e)
        })?;
    }

    config_load(d, args.config.as_deref(), false).map_err(MainError::Config)?;

    if let Some(gid) = args.gid.filter(|&g| g != 0) {
        if let Err(e) = nix::unistd::setgid(nix::unistd::Gid::from_raw(gid)) {
            log::error!("setgid failed: {}", e.desc());
        }
    }
    if let Some(uid) = args.uid.filter(|&u| u != 0) {
        if let Err(e) = nix::unistd::setuid(nix::unistd::Uid::from_raw(uid)) {
            log::error!("setuid failed: {}", e.desc());
        }
    }

    let listen =
        create_listen_socket(args.address.as_deref(), args.port).map_err(MainError::Listen)?;
    let mut lp = EventLoop::new(listen, ctl.stop.clone());
    if let Some(sfd) = ctl.signals.take() {
        lp = lp.with_signals(sfd);
    }
    d.listen_addrs = lp.listen_addrs();
    if args.port == 0 {
        if let Some(a) = d.listen_addrs.first() {
            d.server_port = a.port();
        }
    }
    (ctl.on_listen)(&d.listen_addrs);

    event_loop(d, &mut lp).map_err(MainError::Loop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctldev::fake::{register, Call, FakeCtl};
    use crate::event::conn_close_msg;
    use iscsi_scst::abi::{cstr, NETLINK_ISCSI_SCST};
    use kemu::netlink::{
        netlink_kernel_create, netlink_kernel_release, netlink_unicast, NetlinkKernelSock,
        NetlinkSkb,
    };
    use scst_tests::initiator::{self, LoginParams};
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::mpsc;
    use std::thread;
    use std::time::{Duration, Instant};

    const T1: &str = "iqn.2026-01.test:disk1";
    const T2: &str = "iqn.2026-01.test:disk2";
    const TIMEOUT: Duration = Duration::from_secs(10);

    /// A daemon started by `main_with` on a thread, against a fake control device and a fake
    /// netlink kernel socket, listening on 127.0.0.1 with a port the kernel picked.
    struct Running {
        addr: SocketAddr,
        stop: StopHandle,
        fake: Arc<FakeCtl>,
        calls: Vec<Call>,
        kernel: Arc<NetlinkKernelSock>,
        portid: Arc<AtomicU32>,
        done: mpsc::Receiver<(Result<LoopExit, String>, Daemon)>,
        _config: PathBuf,
    }

    fn start(name: &str, unit: i32) -> Running {
        let config =
            std::env::temp_dir().join(format!("iscsi-scstd-{name}-{}.conf", std::process::id()));
        std::fs::write(&config, format!("Target {T1}\nTarget {T2}\n")).unwrap();
        let fake = Arc::new(FakeCtl::default());
        let reg = register(name, Arc::clone(&fake));
        let portid = Arc::new(AtomicU32::new(0));
        let p2 = Arc::clone(&portid);
        let kernel = netlink_kernel_create(unit, move |skb: &NetlinkSkb| {
            p2.store(skb.portid(), Ordering::SeqCst)
        })
        .unwrap();

        let args = Args::try_parse_from([
            PROGRAM_NAME,
            "-f",
            "-a",
            "127.0.0.1",
            "-p",
            "0",
            "-c",
            config.to_str().unwrap(),
        ])
        .unwrap();
        let stop = StopHandle::new().unwrap();
        let stop2 = stop.clone();
        let (addr_tx, addr_rx) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        let dev = name.to_owned();
        thread::spawn(move || {
            let ctl = MainCtl {
                stop: stop2,
                signals: None,
                on_listen: Box::new(move |a: &[SocketAddr]| {
                    addr_tx.send(a.to_vec()).unwrap();
                }),
            };
            let mut d = Daemon::new();
            let r = main_with(&mut d, &args, ctl, &dev, unit).map_err(|e| e.to_string());
            let _ = done_tx.send((r, d));
        });
        let addrs = addr_rx.recv_timeout(TIMEOUT).unwrap();
        drop(reg);
        assert_eq!(addrs.len(), 1);
        assert_eq!(addrs[0].ip(), Ipv4Addr::LOCALHOST);
        assert_ne!(addrs[0].port(), 0);
        assert_ne!(addrs[0].port(), 3260);
        Running {
            addr: addrs[0],
            stop,
            fake,
            calls: Vec::new(),
            kernel,
            portid,
            done,
            _config: config,
        }
    }

    impl Running {
        /// Waits until the fake driver has received a call matching `f`.
        fn wait_call(&mut self, f: impl Fn(&Call) -> bool) -> Call {
            let deadline = Instant::now() + TIMEOUT;
            loop {
                self.calls.extend(self.fake.take());
                if let Some(c) = self.calls.iter().find(|c| f(c)) {
                    return c.clone();
                }
                assert!(Instant::now() < deadline, "no such call: {:?}", self.calls);
                thread::sleep(Duration::from_millis(5));
            }
        }

        /// Stops the loop and returns what it returned, and the daemon.
        fn stop(self) -> (Result<LoopExit, String>, Daemon) {
            let t0 = Instant::now();
            self.stop.stop();
            let r = self.done.recv_timeout(TIMEOUT).unwrap();
            assert!(t0.elapsed() < Duration::from_secs(2));
            netlink_kernel_release(&self.kernel);
            r
        }
    }

    impl Drop for Running {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self._config);
        }
    }

    fn connect(addr: SocketAddr) -> initiator::Connection {
        initiator::Connection::connect(addr, TIMEOUT).unwrap()
    }

    #[test]
    fn args_mirror_getopt() {
        let a = Args::try_parse_from([
            PROGRAM_NAME,
            "-c",
            "/x.conf",
            "-f",
            "-d",
            "3",
            "-u",
            "0x10",
            "-g",
            "010",
            "-a",
            "::1",
            "-p",
            "0",
            "--state-dir",
            "/tmp/s",
        ])
        .unwrap();
        assert_eq!(a.config.as_deref(), Some("/x.conf"));
        assert!(a.foreground);
        assert_eq!((a.debug, a.uid, a.gid), (Some(3), Some(16), Some(8)));
        assert_eq!((a.address.as_deref(), a.port), (Some("::1"), 0));
        assert_eq!(a.state_dir(), PathBuf::from("/tmp/s"));

        let d = Args::try_parse_from([PROGRAM_NAME]).unwrap();
        assert_eq!(d.port, 3260);
        assert_eq!(d.state_dir, None);
        assert_eq!(
            default_state_dir(true, None, Some("/home/u".into())),
            PathBuf::from("/var/lib/scst-rs")
        );
        assert_eq!(
            default_state_dir(false, Some("/x/data".into()), Some("/home/u".into())),
            PathBuf::from("/x/data/scst-rs")
        );
        assert_eq!(
            default_state_dir(false, Some("rel".into()), Some("/home/u".into())),
            PathBuf::from("/home/u/.local/share/scst-rs")
        );
        assert!(default_state_dir(false, None, None).starts_with(std::env::temp_dir()));
        assert!(!d.foreground && d.config.is_none());

        let v = Args::try_parse_from([PROGRAM_NAME, "-v"]).unwrap_err();
        assert_eq!(v.kind(), clap::error::ErrorKind::DisplayVersion);
        assert!(v.to_string().contains(ISCSI_VERSION_STRING));
        let h = Args::try_parse_from([PROGRAM_NAME, "-h"]).unwrap_err();
        assert_eq!(h.kind(), clap::error::ErrorKind::DisplayHelp);
        for bad in [&["-s", "x"][..], &["-p", "70000"], &["-p", "abc"]] {
            let mut argv = vec![PROGRAM_NAME];
            argv.extend_from_slice(bad);
            assert!(Args::try_parse_from(argv).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn init_max_params_clamps_to_driver_limits() {
        let mut d = Daemon::new();
        d.iscsi_init_params.max_data_seg_len = 1 << 20;
        d.iscsi_init_params.max_queued_cmds = 16;
        init_max_params(&mut d).unwrap();
        for k in [
            key_max_recv_data_length,
            key_max_xmit_data_length,
            key_max_burst_length,
        ] {
            assert_eq!(
                (d.session_keys[k].local_def, d.session_keys[k].max),
                (1 << 20, 1 << 20)
            );
        }
        let fb = d.session_keys[key_first_burst_length];
        assert_eq!((fb.local_def, fb.max), (65536, 1 << 20));
        let q = d.target_keys[key_queued_cmnds];
        assert_eq!((q.local_def, q.max), (16, 16));
        assert!(q.min <= 16);
        // A second run finds the tables already set.
        assert_eq!(init_max_params(&mut d), Err(Errno::EINVAL));

        let mut d = Daemon::new();
        d.iscsi_init_params.max_data_seg_len = 4096;
        d.iscsi_init_params.max_queued_cmds = 2048;
        init_max_params(&mut d).unwrap();
        assert_eq!(d.session_keys[key_first_burst_length].local_def, 4096);
        assert_eq!(d.target_keys[key_queued_cmnds].max, 2048);
    }

    #[test]
    fn listen_socket_on_kernel_port() {
        let l = create_listen_socket(Some("127.0.0.1"), 0).unwrap();
        assert_eq!(l.len(), 1);
        let a = l[0].local_addr().unwrap();
        assert!(a.ip().is_loopback() && a.port() != 0);
        assert_eq!(
            nix::sys::socket::getsockopt(&l[0], sockopt::ReuseAddr),
            Ok(true)
        );
        assert_eq!(
            nix::sys::socket::getsockopt(&l[0], sockopt::KeepAlive),
            Ok(true)
        );
        // The same address again is refused; no address at all is an error.
        let port = a.port();
        create_listen_socket(Some("127.0.0.1"), port).unwrap_err();
        create_listen_socket(Some("no-such-host.invalid"), 0).unwrap_err();
    }

    #[test]
    fn discovery_send_targets_over_tcp() {
        let mut r = start("main-discovery", 23);
        let mut c = connect(r.addr);
        let out = c
            .login(&LoginParams::discovery("iqn.1993-08.test:ini"))
            .unwrap();
        assert!(out.succeeded(), "{out:?}");
        let (_, targets) = c.send_targets().unwrap();
        let names: Vec<_> = targets.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, [T1, T2]);
        let portal = format!("{},1", r.addr);
        assert!(
            targets.iter().all(|t| t.addresses == [portal.clone()]),
            "{targets:?}"
        );
        c.logout().unwrap();
        drop(c);
        // Both targets were added; no session was made.
        r.wait_call(|c| matches!(c, Call::AddTarget { .. }));
        let (res, d) = r.stop();
        assert_eq!(res, Ok(LoopExit::Stopped));
        assert!(d.targets_list.iter().all(|t| t.sessions_count == 0));
    }

    #[test]
    fn normal_login_passes_conn_to_kernel_and_conn_close_frees_it() {
        let mut r = start("main-normal", 24);
        let ini = "iqn.1993-08.test:normal";
        let mut c = connect(r.addr);
        let out = c.login(&LoginParams::normal(ini, T2)).unwrap();
        assert!(out.succeeded() && out.full_feature, "{out:?}");
        assert_ne!(out.tsih, 0);

        let Call::AddSession(s) = r.wait_call(|c| matches!(c, Call::AddSession(_))) else {
            unreachable!()
        };
        assert_eq!(cstr(&s.initiator_name), ini.as_bytes());
        let Call::AddConn(conn) = r.wait_call(|c| matches!(c, Call::AddConn(_))) else {
            unreachable!()
        };
        assert_eq!((conn.tid, conn.sid, conn.cid), (s.tid, s.sid, 0));
        assert!(conn.fd >= 0);
        // The daemon closed its copy of the socket: the initiator sees the end.
        c.recv_pdu().unwrap_err();

        // The kernel closes the connection.
        let portid = r.portid.load(Ordering::SeqCst);
        netlink_unicast(
            &r.kernel,
            &conn_close_msg(1, conn.tid, conn.sid, 0),
            portid,
            false,
        )
        .unwrap();
        let Call::DelSession(del) = r.wait_call(|c| matches!(c, Call::DelSession(_))) else {
            unreachable!()
        };
        assert_eq!((del.tid, del.sid), (s.tid, s.sid));
        let (res, d) = r.stop();
        assert_eq!(res, Ok(LoopExit::Stopped));
        assert!(d.connections.is_empty());
        assert!(d.targets_list.iter().all(|t| t.sessions_list.is_empty()));
        assert!(d.targets_list.iter().all(|t| t.sessions_count == 0));
    }

    #[test]
    fn failed_add_session_counts_once() {
        let mut r = start("main-refuse", 26);
        let mut ok = connect(r.addr);
        let out = ok
            .login(&LoginParams::normal("iqn.1993-08.test:ok", T1))
            .unwrap();
        assert!(out.succeeded());
        r.wait_call(|c| matches!(c, Call::AddConn(_)));

        // The fake driver refuses ADD_SESSION for this initiator.
        let mut bad = connect(r.addr);
        let out = bad
            .login(&LoginParams::normal("iqn.1993-08.test:refuse", T1))
            .unwrap();
        assert_eq!((out.status_class, out.status_detail), (3, 2));
        drop(bad);
        r.wait_call(|c| matches!(c, Call::DelSession(_)));
        // Let the loop see the initiator's close.
        let mut probe = connect(r.addr);
        assert!(probe
            .login(&LoginParams::discovery("iqn.1993-08.test:probe"))
            .unwrap()
            .succeeded());
        drop(probe);
        let (_, d) = r.stop();
        // C: 0 (decremented twice). The one established session still counts.
        assert_eq!(d.targets_list[0].sessions_count, 1);
        assert_eq!(d.targets_list[0].sessions_list.len(), 1);
    }

    #[test]
    fn oversized_pdu_drops_only_its_connection() {
        let r = start("main-oversized", 27);
        let mut big = TcpStream::connect(r.addr).unwrap();
        big.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut bhs = [0u8; 48];
        bhs[0] = 0x43;
        bhs[1] = 0x81;
        let len = INCOMING_BUFSIZE + 4;
        bhs[5..8].copy_from_slice(&u32::try_from(len).unwrap().to_be_bytes()[1..]);
        big.write_all(&bhs).unwrap();

        let mut c = connect(r.addr);
        let out = c
            .login(&LoginParams::discovery("iqn.1993-08.test:ini"))
            .unwrap();
        assert!(out.succeeded());
        let (_, targets) = c.send_targets().unwrap();
        assert_eq!(targets.len(), 2);

        let mut buf = [0u8; 48];
        assert!(matches!(big.read(&mut buf), Ok(0) | Err(_)));
        let (res, d) = r.stop();
        assert_eq!(res, Ok(LoopExit::Stopped));
        // The discovery connection is still open; the oversized one is gone.
        assert_eq!(d.connections.len(), 1);
    }

    #[test]
    fn netlink_eof_ends_the_loop() {
        let r = start("main-eof", 28);
        let t0 = Instant::now();
        netlink_kernel_release(&r.kernel);
        let (res, _) = r.done.recv_timeout(TIMEOUT).unwrap();
        assert_eq!(res, Ok(LoopExit::Shutdown));
        assert!(t0.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn start_up_failures() {
        let mut d = Daemon::new();
        let args = Args::try_parse_from([PROGRAM_NAME, "-f", "-p", "0"]).unwrap();
        let ctl = || MainCtl {
            stop: StopHandle::new().unwrap(),
            signals: None,
            on_listen: Box::new(|_: &[SocketAddr]| {}),
        };
        let e = main_with(&mut d, &args, ctl(), "main-no-dev", 29).unwrap_err();
        assert!(matches!(e, MainError::KernelOpen(Errno::ENOENT)));
        assert_eq!(e.exit_code(), 255);

        // No netlink kernel socket on the unit.
        let fake = Arc::new(FakeCtl::default());
        let _reg = register("main-no-nl", fake);
        let mut d = Daemon::new();
        let e = main_with(&mut d, &args, ctl(), "main-no-nl", 29).unwrap_err();
        assert!(matches!(e, MainError::NlOpen(Errno::EPROTONOSUPPORT)));
        assert_eq!(e.exit_code(), 255);
        assert_ne!(NETLINK_ISCSI_SCST, 29);
    }

    #[test]
    fn sigterm_stops_the_loop_through_signalfd() {
        use nix::sys::pthread::{pthread_kill, pthread_self};
        // The mask is per thread: the loop's thread blocks SIGTERM and the signal is sent to
        // that thread only.
        let (tx, rx) = mpsc::channel();
        let t = thread::spawn(move || {
            let sfd = block_stop_signals().unwrap();
            let l = create_listen_socket(Some("127.0.0.1"), 0).unwrap();
            let mut lp = EventLoop::new(l, StopHandle::new().unwrap()).with_signals(sfd);
            let mut d = Daemon::new();
            d.iscsi_enabled = true;
            tx.send(pthread_self()).unwrap();
            event_loop(&mut d, &mut lp)
        });
        let tid = rx.recv_timeout(TIMEOUT).unwrap();
        pthread_kill(tid, Signal::SIGTERM).unwrap();
        assert_eq!(t.join().unwrap(), Ok(LoopExit::Stopped));
    }
}
