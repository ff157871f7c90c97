// SPDX-License-Identifier: GPL-2.0-only
//! Sockets with kernel-style callbacks (`struct socket`/`struct sock`), driven by an epoll loop.
//!
//! iscsi-scst takes over a connected TCP socket from the daemon (`ADD_CONN`: `fget()` of the
//! daemon's fd), replaces the socket's `sk_data_ready`, `sk_write_space` and `sk_state_change`
//! callbacks with its own, and reads and writes with `sock_recvmsg()`/`kernel_sendmsg()` without
//! ever blocking. In the kernel those callbacks run in softirq context when packets arrive or
//! send-buffer space is freed.
//!
//! Here a [`Sock`] owns a non-blocking file descriptor, and an [`EventLoop`] (one named OS thread
//! running `epoll_wait`) stands for softirq context: every socket attached to it is registered
//! edge-triggered, and the loop calls
//!
//! * `sk_data_ready` on `EPOLLIN` (new data arrived),
//! * `sk_write_space` on `EPOLLOUT`, but only after a send on that socket ran out of buffer space
//!   (returned `EAGAIN` or wrote short), as the kernel does with `SOCK_NOSPACE`,
//! * `sk_state_change` when `EPOLLRDHUP`, `EPOLLHUP` or `EPOLLERR` newly appears (peer FIN, reset,
//!   full close), after `sk_data_ready` if both are reported, so data that arrived before the FIN
//!   is read first.
//!
//! The callbacks are read from the socket at dispatch time, so replacing them takes effect at
//! once. [`EventLoop::detach`] guarantees that, once it returns, no callback for that socket is
//! running or will run — what iscsi-scst's close path needs before it frees the connection.

use std::any::Any;
use std::fmt;
use std::io::{IoSlice, IoSliceMut};
use std::mem;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::thread::{self, JoinHandle, ThreadId};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::socket::{
    getpeername, getsockname, getsockopt, recvmsg, sendmsg, setsockopt, shutdown, sockopt,
    MsgFlags, Shutdown, SockaddrStorage,
};
use parking_lot::{Condvar, Mutex, RwLock};

use crate::Errno;

// ---------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------

/// C: `MSG_DONTWAIT` — do not block (always added by [`sock_recvmsg`] and [`kernel_sendmsg`]).
pub const MSG_DONTWAIT: i32 = libc::MSG_DONTWAIT;
/// C: `MSG_MORE` — more data follows; the stack may hold back a partial segment.
pub const MSG_MORE: i32 = libc::MSG_MORE;
/// C: `MSG_NOSIGNAL` — no `SIGPIPE` on a broken connection (always added here).
pub const MSG_NOSIGNAL: i32 = libc::MSG_NOSIGNAL;

/// C: `SHUT_RD` (`enum sock_shutdown_cmd`) for [`kernel_sock_shutdown`].
pub const SHUT_RD: i32 = libc::SHUT_RD;
/// C: `SHUT_WR` (`enum sock_shutdown_cmd`) for [`kernel_sock_shutdown`].
pub const SHUT_WR: i32 = libc::SHUT_WR;
/// C: `SHUT_RDWR` (`enum sock_shutdown_cmd`) for [`kernel_sock_shutdown`].
pub const SHUT_RDWR: i32 = libc::SHUT_RDWR;

/// C: `TCP_ESTABLISHED` — value of [`Sock::sk_state`] (`sk->sk_state`).
pub const TCP_ESTABLISHED: u8 = 1;
/// C: `TCP_SYN_SENT`.
pub const TCP_SYN_SENT: u8 = 2;
/// C: `TCP_SYN_RECV`.
pub const TCP_SYN_RECV: u8 = 3;
/// C: `TCP_FIN_WAIT1`.
pub const TCP_FIN_WAIT1: u8 = 4;
/// C: `TCP_FIN_WAIT2`.
pub const TCP_FIN_WAIT2: u8 = 5;
/// C: `TCP_TIME_WAIT`.
pub const TCP_TIME_WAIT: u8 = 6;
/// C: `TCP_CLOSE` — also what [`Sock::sk_state`] reports for a socket it cannot query.
pub const TCP_CLOSE: u8 = 7;
/// C: `TCP_CLOSE_WAIT` — the peer sent FIN, we have not closed yet.
pub const TCP_CLOSE_WAIT: u8 = 8;
/// C: `TCP_LAST_ACK`.
pub const TCP_LAST_ACK: u8 = 9;
/// C: `TCP_LISTEN`.
pub const TCP_LISTEN: u8 = 10;
/// C: `TCP_CLOSING`.
pub const TCP_CLOSING: u8 = 11;
/// C: `TCP_NEW_SYN_RECV`.
pub const TCP_NEW_SYN_RECV: u8 = 12;

/// Events every attached socket is registered for.
const ATTACH_FLAGS: EpollFlags = EpollFlags::EPOLLIN
    .union(EpollFlags::EPOLLOUT)
    .union(EpollFlags::EPOLLRDHUP)
    .union(EpollFlags::EPOLLET);

/// The epoll bits that stand for a change of the connection state.
const HANGUP_FLAGS: EpollFlags = EpollFlags::EPOLLRDHUP
    .union(EpollFlags::EPOLLHUP)
    .union(EpollFlags::EPOLLERR);

/// Flags every `sock_recvmsg`/`kernel_sendmsg` call gets.
const ALWAYS_MSG_FLAGS: MsgFlags = MsgFlags::MSG_DONTWAIT.union(MsgFlags::MSG_NOSIGNAL);

fn io_errno(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

// ---------------------------------------------------------------------------------------------
// Sock
// ---------------------------------------------------------------------------------------------

/// C: the type of `sk->sk_data_ready`, `sk->sk_write_space` and `sk->sk_state_change`
/// (`void (*)(struct sock *sk)`).
pub type SockCallback = Arc<dyn Fn(&Arc<Sock>) + Send + Sync>;

/// C: `sk->sk_user_data` — an opaque pointer the socket's owner hangs on it (iscsi-scst: the
/// `struct iscsi_conn`).
pub type SockUserData = Arc<dyn Any + Send + Sync>;

/// C: the callback fields of `struct sock` (`sk_data_ready`, `sk_write_space`,
/// `sk_state_change`), read and replaced together under `sk->sk_callback_lock`.
#[derive(Clone, Default)]
pub struct SockCallbacks {
    /// C: `sk->sk_data_ready` — called on the event loop when new data arrived.
    pub sk_data_ready: Option<SockCallback>,
    /// C: `sk->sk_write_space` — called on the event loop when send-buffer space was freed after
    /// a send ran out of it.
    pub sk_write_space: Option<SockCallback>,
    /// C: `sk->sk_state_change` — called on the event loop when the TCP state changed (peer FIN,
    /// reset, close).
    pub sk_state_change: Option<SockCallback>,
}

impl fmt::Debug for SockCallbacks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SockCallbacks")
            .field("sk_data_ready", &self.sk_data_ready.is_some())
            .field("sk_write_space", &self.sk_write_space.is_some())
            .field("sk_state_change", &self.sk_state_change.is_some())
            .finish()
    }
}

/// Where a [`Sock`] is registered: the loop and the epoll token of the registration.
struct Attachment {
    shared: Weak<LoopShared>,
    token: u64,
}

/// C: `struct socket` + `struct sock` (+ the `struct file` that `fget()` returns) for a connected
/// TCP socket taken over from the daemon.
///
/// The file descriptor is always non-blocking. Dropping the last `Arc<Sock>` closes it (C:
/// `fput()`/`sock_release()`); while a socket is attached to an [`EventLoop`] the loop holds a
/// reference.
#[doc(alias = "sock")]
#[doc(alias = "socket")]
pub struct Sock {
    fd: OwnedFd,
    /// C: `sk->sk_callback_lock` and the callback fields it protects.
    callbacks: RwLock<SockCallbacks>,
    /// C: `sk->sk_user_data`.
    user_data: Mutex<Option<SockUserData>>,
    /// C: `SOCK_NOSPACE` — a send ran out of buffer space; the next `EPOLLOUT` edge calls
    /// `sk_write_space`.
    nospace: AtomicBool,
    attached: Mutex<Option<Attachment>>,
}

impl fmt::Debug for Sock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sock")
            .field("fd", &self.fd.as_raw_fd())
            .field("callbacks", &*self.callbacks.read())
            .field("nospace", &self.nospace.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl AsFd for Sock {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Sock {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

fn set_nonblocking(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    let fl = OFlag::from_bits_retain(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(fl | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// `setsockopt(fd, level, name, &int, sizeof(int))`.
fn setsockopt_int(fd: BorrowedFd<'_>, level: i32, name: i32, val: i32) -> Result<(), Errno> {
    let len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `fd` is a valid open descriptor for the duration of the borrow, and the option
    // value points to a live `c_int` whose size is passed as the option length.
    let rc = unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, (&raw const val).cast(), len) };
    Errno::result(rc).map(drop)
}

/// `getsockopt(fd, level, name, &int, &len)`.
fn getsockopt_int(fd: BorrowedFd<'_>, level: i32, name: i32) -> Result<i32, Errno> {
    let mut val: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `fd` is a valid open descriptor for the duration of the borrow; `val` and `len`
    // are live locals, and `len` holds the size of the buffer `val`.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&raw mut val).cast(),
            &raw mut len,
        )
    };
    Errno::result(rc).map(|_| val)
}

/// A socket address as `std`'s `SocketAddr` (C: reading `inet_sk(sk)`/`inet6_sk(sk)` address
/// fields); `EAFNOSUPPORT` for a non-IP address.
pub fn to_socket_addr(ss: &SockaddrStorage) -> Result<SocketAddr, Errno> {
    if let Some(v4) = ss.as_sockaddr_in() {
        Ok(SocketAddr::from(*v4))
    } else if let Some(v6) = ss.as_sockaddr_in6() {
        Ok(SocketAddr::from(*v6))
    } else {
        Err(Errno::EAFNOSUPPORT)
    }
}

impl Sock {
    /// C: `fget(fd)` + `SOCKET_I(file->f_path.dentry->d_inode)` as in iscsi-scst's `ADD_CONN`:
    /// duplicates the descriptor handed over by the daemon (which then closes its own copy) and
    /// makes it non-blocking.
    pub fn fget(fd: BorrowedFd<'_>) -> Result<Arc<Sock>, Errno> {
        let dup = fd.try_clone_to_owned().map_err(|e| io_errno(&e))?;
        Sock::from_fd(dup)
    }

    /// C: `fget(fd)` of a descriptor *number* as the `ADD_CONN` ioctl carries it
    /// (`struct iscsi_kern_conn_info.fd`): duplicates descriptor `fd` of this process, which
    /// must be a socket. `EBADF` for a number that is not an open descriptor, `ENOTSOCK` for one
    /// that is not a socket.
    pub fn fget_raw(fd: i32) -> Result<Arc<Sock>, Errno> {
        if fd < 0 {
            return Err(Errno::EBADF);
        }
        // SAFETY: F_DUPFD_CLOEXEC only reads the descriptor table; an fd number that is not open
        // makes it fail with EBADF, it never touches memory of ours.
        let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
        if dup < 0 {
            return Err(Errno::last());
        }
        // SAFETY: `dup` is a descriptor fcntl just created for us and nobody else owns it.
        let owned = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(dup) };
        if getsockopt(&owned, sockopt::SockType).is_err() {
            return Err(Errno::ENOTSOCK);
        }
        Sock::from_fd(owned)
    }

    /// C: `sock_alloc_file()` — wraps a descriptor this process already owns (made non-blocking).
    pub fn from_fd(fd: OwnedFd) -> Result<Arc<Sock>, Errno> {
        set_nonblocking(fd.as_fd())?;
        Ok(Arc::new(Sock {
            fd,
            callbacks: RwLock::new(SockCallbacks::default()),
            user_data: Mutex::new(None),
            nospace: AtomicBool::new(false),
            attached: Mutex::new(None),
        }))
    }

    /// C: `read_lock_bh(&sk->sk_callback_lock)` + reading `sk_data_ready`, `sk_write_space`,
    /// `sk_state_change`.
    pub fn sk_callbacks(&self) -> SockCallbacks {
        self.callbacks.read().clone()
    }

    /// C: `write_lock_bh(&sk->sk_callback_lock)`; save the old `sk_*` callbacks; install new ones;
    /// `write_unlock_bh()`. Returns the previous set (iscsi-scst keeps it as
    /// `conn->old_data_ready` & co. and restores it on close). The new callbacks take effect for
    /// the next event the loop dispatches; a callback already running may still be an old one
    /// (use [`EventLoop::detach`] to be sure none is running).
    pub fn set_sk_callbacks(&self, new: SockCallbacks) -> SockCallbacks {
        mem::replace(&mut *self.callbacks.write(), new)
    }

    /// C: reading `sk->sk_user_data`.
    pub fn sk_user_data(&self) -> Option<SockUserData> {
        self.user_data.lock().clone()
    }

    /// C: `sk->sk_user_data = data`. Returns the previous value.
    pub fn set_sk_user_data(&self, data: Option<SockUserData>) -> Option<SockUserData> {
        mem::replace(&mut *self.user_data.lock(), data)
    }

    /// C: `sk->sk_state` — the kernel's TCP state number ([`TCP_ESTABLISHED`], [`TCP_CLOSE_WAIT`],
    /// …), read from `getsockopt(TCP_INFO).tcpi_state`. A socket that cannot be queried (not TCP,
    /// error) reports [`TCP_CLOSE`].
    pub fn sk_state(&self) -> u8 {
        // `tcpi_state` is the first byte of `struct tcp_info`; the kernel copies at most the
        // length we pass, so a byte buffer of the struct's size is enough.
        let mut info = [0u8; mem::size_of::<libc::tcp_info>()];
        let mut len = info.len() as libc::socklen_t;
        // SAFETY: the descriptor is owned by `self` and open; `info` is a live buffer of `len`
        // bytes and `len` is a live local the kernel updates.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                info.as_mut_ptr().cast(),
                &raw mut len,
            )
        };
        if rc != 0 || len == 0 {
            return TCP_CLOSE;
        }
        info[0]
    }

    /// C: `sock->ops->setsockopt(sock, SOL_TCP, TCP_NODELAY, …)` (iscsi-scst sets it to 1 at
    /// `ADD_CONN`).
    pub fn sock_setsockopt_tcp_nodelay(&self, on: bool) -> Result<(), Errno> {
        setsockopt(&self.fd, sockopt::TcpNoDelay, &on)
    }

    /// C: `sock->ops->getsockopt(sock, SOL_TCP, TCP_NODELAY, …)`.
    pub fn tcp_nodelay(&self) -> Result<bool, Errno> {
        getsockopt(&self.fd, sockopt::TcpNoDelay)
    }

    /// C: `tcp_sock_set_cork(sk, on)` / `setsockopt(SOL_TCP, TCP_CORK)` — iscsi-scst corks
    /// before each PDU and uncorks after it; uncorking pushes out what was held back.
    pub fn tcp_cork(&self, on: bool) -> Result<(), Errno> {
        setsockopt_int(
            self.fd.as_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_CORK,
            i32::from(on),
        )
    }

    /// C: `getsockopt(SOL_TCP, TCP_CORK)`.
    pub fn tcp_corked(&self) -> Result<bool, Errno> {
        getsockopt_int(self.fd.as_fd(), libc::IPPROTO_TCP, libc::TCP_CORK).map(|v| v != 0)
    }

    /// C: `inet_sk(sk)->inet_daddr`/`inet_dport` (IPv4) or `sk->sk_v6_daddr` (IPv6) — the
    /// peer's address (`kernel_getpeername()`).
    pub fn peer_addr(&self) -> Result<SocketAddr, Errno> {
        let ss: SockaddrStorage = getpeername(self.fd.as_raw_fd())?;
        to_socket_addr(&ss)
    }

    /// C: `inet_sk(sk)->inet_saddr`/`inet_sport` (IPv4) or `sk->sk_v6_rcv_saddr` (IPv6) — the
    /// local address (`kernel_getsockname()`).
    pub fn local_addr(&self) -> Result<SocketAddr, Errno> {
        let ss: SockaddrStorage = getsockname(self.fd.as_raw_fd())?;
        to_socket_addr(&ss)
    }

    /// Sets `SOCK_NOSPACE` after a send ran out of buffer space, so the next `EPOLLOUT` edge calls
    /// `sk_write_space`. If space was freed between the send and now, the edge may already have
    /// been consumed; re-arming the registration (`EPOLL_CTL_MOD`) then reports it again.
    fn mark_nospace(&self) {
        self.nospace.store(true, Ordering::SeqCst);
        let mut pfd = [PollFd::new(self.fd.as_fd(), PollFlags::POLLOUT)];
        let writable = poll(&mut pfd, PollTimeout::ZERO)
            .ok()
            .and_then(|_| pfd[0].revents())
            .is_some_and(|r| r.contains(PollFlags::POLLOUT));
        if !writable {
            return;
        }
        let att = self.attached.lock();
        if let Some(a) = att.as_ref() {
            if let Some(shared) = a.shared.upgrade() {
                let mut ev = EpollEvent::new(ATTACH_FLAGS, a.token);
                // ENOENT (the loop already dropped the registration) is harmless.
                let _ = shared.epoll.modify(self.fd.as_fd(), &mut ev);
            }
        }
    }
}

/// C: `sock_recvmsg(sock, &msg, flags)` — receives into `iov` without blocking
/// (`MSG_DONTWAIT | MSG_NOSIGNAL` are always added). Returns the number of bytes read, `0` at
/// end of stream, `Err(EAGAIN)` when nothing is readable.
pub fn sock_recvmsg(sock: &Sock, iov: &mut [IoSliceMut<'_>], flags: i32) -> Result<usize, Errno> {
    let flags = MsgFlags::from_bits_retain(flags).union(ALWAYS_MSG_FLAGS);
    loop {
        match recvmsg::<()>(sock.fd.as_raw_fd(), iov, None, flags) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(msg) => return Ok(msg.bytes),
        }
    }
}

/// C: `kernel_sendmsg(sock, &msg, vec, num, size)` — sends `iov` without blocking
/// (`MSG_DONTWAIT | MSG_NOSIGNAL` are always added; `MSG_MORE` in `flags` is passed on). Returns
/// the number of bytes queued (possibly fewer than offered) or `Err(EAGAIN)` when the send buffer
/// is full; in both of those cases `sk_write_space` is called once space is freed.
pub fn kernel_sendmsg(sock: &Sock, iov: &[IoSlice<'_>], flags: i32) -> Result<usize, Errno> {
    let flags = MsgFlags::from_bits_retain(flags).union(ALWAYS_MSG_FLAGS);
    let total: usize = iov.iter().map(|s| s.len()).sum();
    let res = loop {
        match sendmsg::<()>(sock.fd.as_raw_fd(), iov, &[], flags, None) {
            Err(Errno::EINTR) => continue,
            r => break r,
        }
    };
    match res {
        Ok(n) if n < total => sock.mark_nospace(),
        Err(Errno::EAGAIN) => sock.mark_nospace(),
        _ => {}
    }
    res
}

/// C: `kernel_sock_shutdown(sock, how)` with [`SHUT_RD`], [`SHUT_WR`] or [`SHUT_RDWR`];
/// anything else is `EINVAL`.
pub fn kernel_sock_shutdown(sock: &Sock, how: i32) -> Result<(), Errno> {
    let how = match how {
        SHUT_RD => Shutdown::Read,
        SHUT_WR => Shutdown::Write,
        SHUT_RDWR => Shutdown::Both,
        _ => return Err(Errno::EINVAL),
    };
    shutdown(sock.fd.as_raw_fd(), how)
}

// ---------------------------------------------------------------------------------------------
// EventLoop
// ---------------------------------------------------------------------------------------------

/// Epoll token of the loop's own eventfd.
const WAKER_TOKEN: u64 = 0;

/// One attached socket.
struct Registration {
    sock: Arc<Sock>,
    /// Hang-up bits already reported through `sk_state_change`.
    hup_seen: EpollFlags,
}

#[derive(Default)]
struct LoopState {
    regs: std::collections::HashMap<u64, Registration>,
    /// Token of the socket whose callback is running on the loop thread right now.
    running: Option<u64>,
    /// The loop thread has exited; nothing may be attached any more.
    closed: bool,
}

struct LoopShared {
    name: String,
    epoll: Epoll,
    waker: EventFd,
    state: Mutex<LoopState>,
    /// Signalled whenever `running` goes back to `None`.
    idle: Condvar,
    next_token: AtomicU64,
    stopping: AtomicBool,
    thread_id: OnceLock<ThreadId>,
    /// Run on the loop thread after each batch of events (see [`EventLoop::set_batch_hook`]).
    batch_hook: RwLock<Option<BatchHook>>,
}

/// The function an [`EventLoop`] runs after each batch of socket callbacks.
pub type BatchHook = Arc<dyn Fn() + Send + Sync>;

#[derive(Clone, Copy)]
enum Which {
    DataReady,
    WriteSpace,
    StateChange,
}

impl LoopShared {
    fn in_loop_thread(&self) -> bool {
        self.thread_id.get() == Some(&thread::current().id())
    }

    fn run(self: Arc<Self>) {
        let mut events = [EpollEvent::empty(); 64];
        while !self.stopping.load(Ordering::Acquire) {
            let n = match self.epoll.wait(&mut events, EpollTimeout::NONE) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    log::error!("event loop {}: epoll_wait failed: {e}", self.name);
                    break;
                }
            };
            for ev in &events[..n] {
                if ev.data() == WAKER_TOKEN {
                    // Non-blocking eventfd: EAGAIN just means another wake-up consumed it.
                    let _ = self.waker.read();
                    continue;
                }
                self.dispatch(ev.data(), ev.events());
            }
            if self.stopping.load(Ordering::Acquire) {
                break;
            }
            let hook = self.batch_hook.read().clone();
            if let Some(hook) = hook {
                if catch_unwind(AssertUnwindSafe(|| hook())).is_err() {
                    log::error!("event loop {}: batch hook panicked", self.name);
                }
            }
        }
        self.shutdown_registrations();
    }

    /// Drops every registration once the loop thread ends.
    fn shutdown_registrations(&self) {
        let regs = {
            let mut st = self.state.lock();
            st.closed = true;
            mem::take(&mut st.regs)
        };
        for (token, reg) in regs {
            let _ = self.epoll.delete(reg.sock.fd.as_fd());
            let mut att = reg.sock.attached.lock();
            if att.as_ref().is_some_and(|a| a.token == token) {
                *att = None;
            }
        }
    }

    fn dispatch(&self, token: u64, events: EpollFlags) {
        if events.contains(EpollFlags::EPOLLIN) {
            self.invoke(token, Which::DataReady, events);
        }
        if events.contains(EpollFlags::EPOLLOUT) {
            self.invoke(token, Which::WriteSpace, events);
        }
        if events.intersects(HANGUP_FLAGS) {
            self.invoke(token, Which::StateChange, events);
        }
    }

    /// Calls one callback of the socket registered under `token`, unless it was detached (or
    /// the loop is stopping) in the meantime. Marks the socket as running so that `detach` can
    /// wait for the callback to finish.
    fn invoke(&self, token: u64, which: Which, events: EpollFlags) {
        let sock = {
            let mut st = self.state.lock();
            if self.stopping.load(Ordering::Acquire) {
                return;
            }
            let Some(reg) = st.regs.get_mut(&token) else {
                return;
            };
            match which {
                Which::DataReady => {}
                Which::WriteSpace => {
                    if !reg.sock.nospace.swap(false, Ordering::SeqCst) {
                        return;
                    }
                }
                Which::StateChange => {
                    let new = events & HANGUP_FLAGS & !reg.hup_seen;
                    if new.is_empty() {
                        return;
                    }
                    reg.hup_seen |= new;
                }
            }
            let sock = Arc::clone(&reg.sock);
            st.running = Some(token);
            sock
        };
        let cb = {
            let cbs = sock.callbacks.read();
            match which {
                Which::DataReady => cbs.sk_data_ready.clone(),
                Which::WriteSpace => cbs.sk_write_space.clone(),
                Which::StateChange => cbs.sk_state_change.clone(),
            }
        };
        if let Some(cb) = cb {
            if catch_unwind(AssertUnwindSafe(|| cb(&sock))).is_err() {
                log::error!("event loop {}: socket callback panicked", self.name);
            }
        }
        drop(sock);
        let mut st = self.state.lock();
        st.running = None;
        self.idle.notify_all();
    }
}

/// The context in which the kernel calls socket callbacks (softirq), emulated by one named OS
/// thread running `epoll_wait` over the attached sockets. See the module documentation for
/// which callback each event calls.
///
/// Dropping the last `Arc<EventLoop>` stops and joins the thread ([`EventLoop::stop`]).
#[doc(alias = "softirq")]
pub struct EventLoop {
    shared: Arc<LoopShared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLoop")
            .field("name", &self.shared.name)
            .field("attached", &self.shared.state.lock().regs.len())
            .field("stopping", &self.shared.stopping.load(Ordering::Relaxed))
            .finish()
    }
}

impl EventLoop {
    /// Sets the function the loop thread runs after each batch of socket callbacks and after
    /// each [`EventLoop::raise`] — the work a kernel thread does once the softirq woke it
    /// (iscsi-scst's `istrd` runs `scst_do_job_rd()` there). Replaces any previous hook.
    pub fn set_batch_hook(&self, hook: Option<BatchHook>) {
        *self.shared.batch_hook.write() = hook;
    }

    /// C: `wake_up()` of the thread behind this loop from another context: makes the loop
    /// thread run its batch hook soon, even if no socket event is pending. Cheap to call
    /// repeatedly (one eventfd write; wake-ups coalesce).
    pub fn raise(&self) {
        if let Err(e) = self.shared.waker.write(1) {
            log::error!("event loop {}: raise failed: {e}", self.shared.name);
        }
    }

    /// C: softirq context (`net_rx_action`). Starts the loop thread, named `name` (visible in
    /// `ps -L`; Linux shows the first 15 bytes). `EINVAL` if the name contains a NUL byte.
    pub fn new(name: &str) -> Result<Arc<EventLoop>, Errno> {
        if name.as_bytes().contains(&0) {
            return Err(Errno::EINVAL);
        }
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        let waker = EventFd::from_flags(EfdFlags::EFD_CLOEXEC.union(EfdFlags::EFD_NONBLOCK))?;
        epoll.add(&waker, EpollEvent::new(EpollFlags::EPOLLIN, WAKER_TOKEN))?;
        let shared = Arc::new(LoopShared {
            name: name.to_owned(),
            epoll,
            waker,
            state: Mutex::new(LoopState::default()),
            idle: Condvar::new(),
            next_token: AtomicU64::new(WAKER_TOKEN + 1),
            stopping: AtomicBool::new(false),
            thread_id: OnceLock::new(),
            batch_hook: RwLock::new(None),
        });
        let for_thread = Arc::clone(&shared);
        let handle = thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || for_thread.run())
            .map_err(|e| io_errno(&e))?;
        let _ = shared.thread_id.set(handle.thread().id());
        Ok(Arc::new(EventLoop {
            shared,
            thread: Mutex::new(Some(handle)),
        }))
    }

    /// The loop thread's name, as given to [`EventLoop::new`] (C: the softirq thread's `comm`).
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// C: `in_softirq()` — true on this loop's thread (inside a socket callback).
    pub fn in_loop_thread(&self) -> bool {
        self.shared.in_loop_thread()
    }

    /// C: hooking a socket into the network stack's softirq processing. Registers `sock` for
    /// `EPOLLIN | EPOLLOUT | EPOLLRDHUP`, edge-triggered. Data already queued when it is attached
    /// is reported at once (`sk_data_ready`). `EBUSY` if the socket is attached to a running
    /// loop already, `ESHUTDOWN` if this loop was stopped.
    pub fn attach(&self, sock: &Arc<Sock>) -> Result<(), Errno> {
        let shared = &self.shared;
        let mut att = sock.attached.lock();
        if let Some(a) = att.as_ref() {
            if let Some(other) = a.shared.upgrade() {
                if !other.state.lock().closed {
                    return Err(Errno::EBUSY);
                }
            }
        }
        let token = shared.next_token.fetch_add(1, Ordering::Relaxed);
        {
            let mut st = shared.state.lock();
            if st.closed {
                return Err(Errno::ESHUTDOWN);
            }
            st.regs.insert(
                token,
                Registration {
                    sock: Arc::clone(sock),
                    hup_seen: EpollFlags::empty(),
                },
            );
        }
        *att = Some(Attachment {
            shared: Arc::downgrade(shared),
            token,
        });
        if let Err(e) = shared
            .epoll
            .add(sock.fd.as_fd(), EpollEvent::new(ATTACH_FLAGS, token))
        {
            *att = None;
            let reg = shared.state.lock().regs.remove(&token);
            drop(att);
            drop(reg);
            return Err(e);
        }
        Ok(())
    }

    /// C: restoring the socket's callbacks under `write_lock_bh(&sk->sk_callback_lock)` in
    /// iscsi-scst's close path — the point after which no callback of ours runs. Unregisters
    /// `sock`; once this returns, no callback for it is running or will run. Called on the loop
    /// thread itself (from a callback), it only guarantees that no further callback starts.
    /// `ENOENT` if `sock` is not attached to this loop.
    pub fn detach(&self, sock: &Sock) -> Result<(), Errno> {
        let shared = &self.shared;
        let token = {
            let mut att = sock.attached.lock();
            match att.as_ref() {
                Some(a) if ptr_eq_weak(&a.shared, shared) => {
                    let token = a.token;
                    *att = None;
                    token
                }
                _ => return Err(Errno::ENOENT),
            }
        };
        let reg = {
            let mut st = shared.state.lock();
            let reg = st.regs.remove(&token);
            // ENOENT if the loop already dropped it while stopping.
            let _ = shared.epoll.delete(sock.fd.as_fd());
            if !shared.in_loop_thread() {
                while st.running == Some(token) {
                    shared.idle.wait(&mut st);
                }
            }
            reg
        };
        drop(reg);
        Ok(())
    }

    /// C: the end of softirq processing for this emulated CPU. Stops the loop and joins its
    /// thread; afterwards no callback runs and all sockets are detached. Called on the loop
    /// thread itself, it only makes the loop end after the current callback.
    pub fn stop(&self) {
        self.shared.stopping.store(true, Ordering::Release);
        if let Err(e) = self.shared.waker.write(1) {
            log::error!(
                "event loop {}: waking the loop failed: {e}",
                self.shared.name
            );
        }
        if self.shared.in_loop_thread() {
            return;
        }
        // Joined with the lock held, so a concurrent `stop()` returns only once the thread ended.
        let mut thread = self.thread.lock();
        if let Some(h) = thread.take() {
            if h.join().is_err() {
                log::error!("event loop {}: thread panicked", self.shared.name);
            }
        }
    }
}

fn ptr_eq_weak(w: &Weak<LoopShared>, a: &Arc<LoopShared>) -> bool {
    std::ptr::eq(w.as_ptr(), Arc::as_ptr(a))
}

impl Drop for EventLoop {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{ErrorKind, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::AtomicUsize;
    use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
    use std::time::{Duration, Instant};

    const WAIT: Duration = Duration::from_millis(1500);
    const SETTLE: Duration = Duration::from_millis(60);

    /// A connected pair: our `Sock` (accepted side) and the peer's `TcpStream`.
    fn tcp_pair() -> (Arc<Sock>, TcpStream, TcpListener) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        peer.set_read_timeout(Some(WAIT)).unwrap();
        peer.set_write_timeout(Some(WAIT)).unwrap();
        let (srv, _) = l.accept().unwrap();
        (Sock::from_fd(OwnedFd::from(srv)).unwrap(), peer, l)
    }

    type Ev = (&'static str, Option<String>);

    fn cb(tx: &mpsc::Sender<Ev>, what: &'static str) -> SockCallback {
        let tx = tx.clone();
        Arc::new(move |_s: &Arc<Sock>| {
            let _ = tx.send((what, thread::current().name().map(str::to_owned)));
        })
    }

    /// Callbacks that report every call (kind, thread name) on a channel.
    fn recording() -> (SockCallbacks, Receiver<Ev>) {
        let (tx, rx) = mpsc::channel();
        let cbs = SockCallbacks {
            sk_data_ready: Some(cb(&tx, "data_ready")),
            sk_write_space: Some(cb(&tx, "write_space")),
            sk_state_change: Some(cb(&tx, "state_change")),
        };
        (cbs, rx)
    }

    /// Everything reported within `SETTLE`.
    /// The kernel may wake the socket more than once for one close (a reset calls
    /// `sk_error_report` and then `sk_state_change`), so an epoll wake-up that carries only
    /// hang-up bits already seen may follow and call `sk_data_ready` again; never another
    /// `sk_state_change` nor `sk_write_space`.
    fn assert_only_data_ready_after_state_change(seen: &[&str]) {
        let Some(at) = seen.iter().position(|w| *w == "state_change") else {
            panic!("no state_change in {seen:?}");
        };
        assert!(
            seen[at + 1..].iter().all(|w| *w == "data_ready"),
            "{seen:?}"
        );
    }

    #[test]
    fn fget_raw_dups_sockets_and_refuses_other_numbers() {
        let (sock, mut peer, _l) = tcp_pair();
        let s2 = Sock::fget_raw(sock.fd.as_raw_fd()).unwrap();
        assert_ne!(s2.fd.as_raw_fd(), sock.fd.as_raw_fd());
        drop(sock);
        peer.write_all(b"ok").unwrap();
        let mut buf = [0u8; 2];
        let end = Instant::now() + WAIT;
        let n = loop {
            match recv_all(&s2, &mut buf) {
                Err(Errno::EAGAIN) if Instant::now() < end => thread::sleep(SETTLE / 10),
                r => break r,
            }
        };
        assert_eq!(n, Ok(2));
        assert_eq!(Sock::fget_raw(-1).err(), Some(Errno::EBADF));
        assert_eq!(Sock::fget_raw(1_000_000).err(), Some(Errno::EBADF));
        let f = std::fs::File::open("/dev/null").unwrap();
        assert_eq!(Sock::fget_raw(f.as_raw_fd()).err(), Some(Errno::ENOTSOCK));
    }

    #[test]
    fn batch_hook_runs_after_callbacks_and_on_raise() {
        let (sock, mut peer, _l) = tcp_pair();
        let lp = EventLoop::new("kemu-net-hook").unwrap();
        let (tx, rx) = mpsc::channel();
        let tx2 = tx.clone();
        sock.set_sk_callbacks(SockCallbacks {
            sk_data_ready: Some(cb(&tx, "data_ready")),
            sk_write_space: None,
            sk_state_change: None,
        });
        lp.set_batch_hook(Some(Arc::new(move || {
            let _ = tx2.send(("hook", thread::current().name().map(str::to_owned)));
        })));
        lp.attach(&sock).unwrap();
        peer.write_all(b"x").unwrap();
        let mut seen = Vec::new();
        while let Ok((w, name)) = rx.recv_timeout(WAIT) {
            assert_eq!(name.as_deref(), Some("kemu-net-hook"));
            seen.push(w);
            if w == "hook" && seen.contains(&"data_ready") {
                break;
            }
        }
        let first_data = seen.iter().position(|w| *w == "data_ready").unwrap();
        assert!(seen[first_data..].contains(&"hook"), "{seen:?}");
        drain(&rx);
        lp.raise();
        let (w, name) = rx.recv_timeout(WAIT).unwrap();
        assert_eq!((w, name.as_deref()), ("hook", Some("kemu-net-hook")));
        lp.set_batch_hook(None);
        lp.raise();
        assert_eq!(
            rx.recv_timeout(SETTLE).err(),
            Some(RecvTimeoutError::Timeout)
        );
    }

    fn drain(rx: &Receiver<Ev>) -> Vec<&'static str> {
        let mut v = Vec::new();
        let end = Instant::now() + SETTLE;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok((w, _)) => v.push(w),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return v,
            }
        }
    }

    fn counter() -> (Arc<AtomicUsize>, SockCallback) {
        let n = Arc::new(AtomicUsize::new(0));
        let n2 = Arc::clone(&n);
        (
            n,
            Arc::new(move |_s: &Arc<Sock>| {
                n2.fetch_add(1, Ordering::SeqCst);
            }),
        )
    }

    fn recv_all(sock: &Sock, buf: &mut [u8]) -> Result<usize, Errno> {
        sock_recvmsg(sock, &mut [IoSliceMut::new(buf)], 0)
    }

    fn thread_comms() -> Vec<String> {
        let mut v = Vec::new();
        for e in std::fs::read_dir("/proc/self/task").unwrap() {
            let p = e.unwrap().path().join("comm");
            if let Ok(s) = std::fs::read_to_string(p) {
                v.push(s.trim_end().to_owned());
            }
        }
        v
    }

    #[test]
    fn data_ready_runs_on_loop_thread_and_recvmsg_reads_bytes() {
        let (sock, mut peer, _l) = tcp_pair();
        let lp = EventLoop::new("kemu-net-dr").unwrap();
        assert_eq!(lp.name(), "kemu-net-dr");
        let (cbs, rx) = recording();
        sock.set_sk_callbacks(cbs);
        lp.attach(&sock).unwrap();
        assert_eq!(
            drain(&rx),
            Vec::<&str>::new(),
            "no callback before any event"
        );
        peer.write_all(b"hello").unwrap();
        let (what, name) = rx.recv_timeout(WAIT).unwrap();
        assert_eq!(what, "data_ready");
        assert_eq!(name.as_deref(), Some("kemu-net-dr"));
        assert_eq!(drain(&rx), Vec::<&str>::new(), "exactly one data_ready");
        let (mut a, mut b) = ([0u8; 3], [0u8; 10]);
        let n = sock_recvmsg(
            &sock,
            &mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)],
            0,
        );
        assert_eq!(n, Ok(5));
        assert_eq!(&a, b"hel");
        assert_eq!(&b[..2], b"lo");
        assert_eq!(recv_all(&sock, &mut b), Err(Errno::EAGAIN));
        assert!(!lp.in_loop_thread());
    }

    #[test]
    fn recvmsg_on_empty_socket_is_eagain_and_does_not_block() {
        let (sock, _peer, _l) = tcp_pair();
        let mut buf = [0u8; 16];
        let t = Instant::now();
        assert_eq!(recv_all(&sock, &mut buf), Err(Errno::EAGAIN));
        assert!(t.elapsed() < Duration::from_millis(500));
        let fl = OFlag::from_bits_retain(fcntl(sock.as_fd(), FcntlArg::F_GETFL).unwrap());
        assert!(fl.contains(OFlag::O_NONBLOCK));
    }

    #[test]
    fn write_space_after_send_buffer_full_and_peer_drains() {
        let (sock, mut peer, _l) = tcp_pair();
        setsockopt(&sock.as_fd(), sockopt::SndBuf, &16384).unwrap();
        let lp = EventLoop::new("kemu-net-ws").unwrap();
        let (cbs, rx) = recording();
        sock.set_sk_callbacks(cbs);
        lp.attach(&sock).unwrap();
        assert_eq!(
            drain(&rx),
            Vec::<&str>::new(),
            "no write_space without a full buffer"
        );
        let chunk = vec![0x5au8; 65536];
        let mut total = 0usize;
        // Fill until EAGAIN; while the peer's kernel still accepts data, acknowledged bytes free
        // send-buffer space (a genuine write_space). Refill until the peer's window is full and
        // no more space is freed.
        let mut quiet = false;
        for _ in 0..200 {
            let mut hit_eagain = false;
            for _ in 0..100_000 {
                match kernel_sendmsg(&sock, &[IoSlice::new(&chunk)], 0) {
                    Ok(n) => total += n,
                    Err(Errno::EAGAIN) => {
                        hit_eagain = true;
                        break;
                    }
                    Err(e) => panic!("send: {e}"),
                }
            }
            assert!(hit_eagain);
            match rx.recv_timeout(SETTLE) {
                Ok((what, name)) => {
                    assert_eq!(what, "write_space");
                    assert_eq!(name.as_deref(), Some("kemu-net-ws"));
                }
                Err(_) => {
                    quiet = true;
                    break;
                }
            }
        }
        assert!(quiet && total > 0, "send buffer never stayed full");
        let drainer = thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            let mut got = 0usize;
            while got < total {
                let n = peer.read(&mut buf).unwrap();
                assert!(n > 0);
                assert!(buf[..n].iter().all(|&b| b == 0x5a));
                got += n;
            }
            (got, peer)
        });
        let (what, name) = rx.recv_timeout(WAIT).unwrap();
        assert_eq!(what, "write_space");
        assert_eq!(name.as_deref(), Some("kemu-net-ws"));
        let (got, _peer) = drainer.join().unwrap();
        assert_eq!(got, total);
        assert_eq!(
            drain(&rx),
            Vec::<&str>::new(),
            "exactly one write_space per EAGAIN"
        );
        assert_eq!(kernel_sendmsg(&sock, &[IoSlice::new(b"more")], 0), Ok(4));
        assert_eq!(drain(&rx), Vec::<&str>::new());
    }

    #[test]
    fn nospace_marked_after_space_was_freed_still_reports_write_space() {
        // The race kernel_sendmsg closes: EAGAIN, then the buffer drains and the EPOLLOUT edge is
        // consumed before SOCK_NOSPACE is recorded. Marking must then re-arm the registration.
        let (sock, _peer, _l) = tcp_pair();
        let lp = EventLoop::new("kemu-net-ns").unwrap();
        let (cbs, rx) = recording();
        sock.set_sk_callbacks(cbs);
        lp.attach(&sock).unwrap();
        assert_eq!(drain(&rx), Vec::<&str>::new());
        sock.mark_nospace();
        let (what, name) = rx.recv_timeout(WAIT).unwrap();
        assert_eq!(what, "write_space");
        assert_eq!(name.as_deref(), Some("kemu-net-ns"));
        assert_eq!(drain(&rx), Vec::<&str>::new());
        assert!(!sock.nospace.load(Ordering::SeqCst));
        // Not attached: only the flag is set.
        lp.detach(&sock).unwrap();
        sock.mark_nospace();
        assert!(sock.nospace.load(Ordering::SeqCst));
        assert_eq!(drain(&rx), Vec::<&str>::new());
    }

    #[test]
    fn non_tcp_socket_reports_tcp_close_and_no_inet_address() {
        let (a, _b) = nix::sys::socket::socketpair(
            nix::sys::socket::AddressFamily::Unix,
            nix::sys::socket::SockType::Stream,
            None,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let sock = Sock::from_fd(a).unwrap();
        assert_eq!(sock.sk_state(), TCP_CLOSE);
        assert_eq!(sock.local_addr(), Err(Errno::EAFNOSUPPORT));
        assert_eq!(sock.peer_addr(), Err(Errno::EAFNOSUPPORT));
    }

    #[test]
    fn sendmsg_sets_nospace_on_eagain_and_short_write_only() {
        let (sock, _peer, _l) = tcp_pair();
        setsockopt(&sock.as_fd(), sockopt::SndBuf, &16384).unwrap();
        assert_eq!(kernel_sendmsg(&sock, &[IoSlice::new(b"abc")], 0), Ok(3));
        assert!(
            !sock.nospace.load(Ordering::SeqCst),
            "a complete send is not NOSPACE"
        );
        // Far more than send buffer + peer window: a short write.
        let big = vec![7u8; 16 << 20];
        let n = kernel_sendmsg(&sock, &[IoSlice::new(&big)], 0).unwrap();
        assert!(n > 0 && n < big.len());
        assert!(
            sock.nospace.load(Ordering::SeqCst),
            "a short write sets NOSPACE"
        );
        let chunk = [1u8; 4096];
        let mut eagain = false;
        for _ in 0..100_000 {
            sock.nospace.store(false, Ordering::SeqCst);
            match kernel_sendmsg(&sock, &[IoSlice::new(&chunk)], 0) {
                Ok(n) => assert_eq!(sock.nospace.load(Ordering::SeqCst), n < chunk.len()),
                Err(e) => {
                    assert_eq!(e, Errno::EAGAIN);
                    assert!(sock.nospace.load(Ordering::SeqCst), "EAGAIN sets NOSPACE");
                    eagain = true;
                    break;
                }
            }
        }
        assert!(eagain);
    }

    #[test]
    fn io_never_blocks_even_if_o_nonblock_was_cleared() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let _peer = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (srv, _) = l.accept().unwrap();
        // Should a call block after all, it ends after 300 ms with EAGAIN: timed below.
        srv.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        srv.set_write_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let sock = Sock::from_fd(OwnedFd::from(srv)).unwrap();
        let fl = OFlag::from_bits_retain(fcntl(sock.as_fd(), FcntlArg::F_GETFL).unwrap());
        fcntl(sock.as_fd(), FcntlArg::F_SETFL(fl & !OFlag::O_NONBLOCK)).unwrap();
        let mut buf = [0u8; 8];
        let t = Instant::now();
        assert_eq!(recv_all(&sock, &mut buf), Err(Errno::EAGAIN));
        assert!(
            t.elapsed() < Duration::from_millis(150),
            "sock_recvmsg blocked"
        );
        let chunk = vec![3u8; 65536];
        let mut res = Ok(0);
        for _ in 0..10_000 {
            let t = Instant::now();
            res = kernel_sendmsg(&sock, &[IoSlice::new(&chunk)], 0);
            assert!(
                t.elapsed() < Duration::from_millis(150),
                "kernel_sendmsg blocked"
            );
            if res.is_err() {
                break;
            }
        }
        assert_eq!(res, Err(Errno::EAGAIN));
    }

    #[test]
    fn from_fd_keeps_or_sets_o_nonblock() {
        let (_sock, peer, _l) = tcp_pair();
        peer.set_nonblocking(true).unwrap();
        let s2 = Sock::fget(peer.as_fd()).unwrap();
        let fl = OFlag::from_bits_retain(fcntl(s2.as_fd(), FcntlArg::F_GETFL).unwrap());
        assert!(fl.contains(OFlag::O_NONBLOCK));
        assert_eq!(s2.as_raw_fd(), s2.as_fd().as_raw_fd());
        assert_ne!(s2.as_raw_fd(), peer.as_raw_fd());
    }

    #[test]
    fn debug_output_names_the_fields() {
        let (sock, _peer, _l) = tcp_pair();
        let (cbs, _rx) = recording();
        sock.set_sk_callbacks(SockCallbacks {
            sk_write_space: None,
            ..cbs
        });
        let d = format!("{sock:?}");
        assert!(d.starts_with("Sock {"), "{d}");
        assert!(d.contains(&format!("fd: {}", sock.as_raw_fd())), "{d}");
        assert!(
            d.contains("sk_data_ready: true, sk_write_space: false, sk_state_change: true"),
            "{d}"
        );
        let lp = EventLoop::new("kemu-net-dbg").unwrap();
        lp.attach(&sock).unwrap();
        let d = format!("{lp:?}");
        assert_eq!(
            d,
            "EventLoop { name: \"kemu-net-dbg\", attached: 1, stopping: false }"
        );
    }

    #[test]
    fn state_change_after_data_ready_when_peer_closes() {
        let (sock, mut peer, _l) = tcp_pair();
        assert_eq!(sock.sk_state(), TCP_ESTABLISHED);
        let lp = EventLoop::new("kemu-net-sc").unwrap();
        let (tx, rx) = mpsc::channel::<Ev>();
        let got = Arc::new(Mutex::new(Vec::new()));
        let got2 = Arc::clone(&got);
        let tx2 = tx.clone();
        let data_ready: SockCallback = Arc::new(move |s: &Arc<Sock>| {
            let mut buf = [0u8; 64];
            for _ in 0..64 {
                match recv_all(s, &mut buf) {
                    Ok(n) if n > 0 => got2.lock().extend_from_slice(&buf[..n]),
                    _ => break,
                }
            }
            let _ = tx2.send(("data_ready", thread::current().name().map(str::to_owned)));
        });
        sock.set_sk_callbacks(SockCallbacks {
            sk_data_ready: Some(data_ready),
            sk_write_space: Some(cb(&tx, "write_space")),
            sk_state_change: Some(cb(&tx, "state_change")),
        });
        lp.attach(&sock).unwrap();
        peer.write_all(b"bye").unwrap();
        drop(peer);
        let mut seen = Vec::new();
        let end = Instant::now() + WAIT;
        while !seen.contains(&"state_change") && Instant::now() < end {
            if let Ok((w, name)) = rx.recv_timeout(WAIT) {
                assert_eq!(name.as_deref(), Some("kemu-net-sc"));
                seen.push(w);
            }
        }
        seen.extend(drain(&rx));
        assert_eq!(seen.first(), Some(&"data_ready"));
        assert_only_data_ready_after_state_change(&seen);
        assert_eq!(seen.iter().filter(|w| **w == "state_change").count(), 1);
        assert_eq!(seen.iter().filter(|w| **w == "write_space").count(), 0);
        assert_eq!(&got.lock()[..], b"bye");
        // A later event that still carries the old hang-up bit does not repeat state_change.
        sock.mark_nospace();
        let mut again = Vec::new();
        while let Ok((w, _)) = rx.recv_timeout(WAIT) {
            again.push(w);
            if w == "write_space" {
                break;
            }
        }
        again.extend(drain(&rx));
        assert_eq!(again, vec!["data_ready", "write_space"]);
        assert_eq!(sock.sk_state(), TCP_CLOSE_WAIT);
        assert_ne!(sock.sk_state(), TCP_ESTABLISHED);
        let mut buf = [0u8; 8];
        assert_eq!(recv_all(&sock, &mut buf), Ok(0));
        // Our own FIN completes the close: EPOLLHUP is new, so state_change runs once more.
        kernel_sock_shutdown(&sock, SHUT_WR).unwrap();
        let mut closing = Vec::new();
        while let Ok((w, _)) = rx.recv_timeout(WAIT) {
            closing.push(w);
            if w == "state_change" {
                break;
            }
        }
        closing.extend(drain(&rx));
        assert_eq!(
            closing.iter().filter(|w| **w == "state_change").count(),
            1,
            "{closing:?}"
        );
        assert_eq!(closing.iter().filter(|w| **w == "write_space").count(), 0);
        let end = Instant::now() + WAIT;
        while sock.sk_state() != TCP_CLOSE && Instant::now() < end {
            thread::sleep(Duration::from_millis(2));
        }
        assert_eq!(sock.sk_state(), TCP_CLOSE);
    }

    #[test]
    fn state_change_on_peer_reset() {
        let (sock, peer, _l) = tcp_pair();
        let lp = EventLoop::new("kemu-net-rst").unwrap();
        let (cbs, rx) = recording();
        sock.set_sk_callbacks(cbs);
        lp.attach(&sock).unwrap();
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        setsockopt(&peer, sockopt::Linger, &linger).unwrap();
        drop(peer); // RST
        let mut seen = Vec::new();
        while let Ok((w, name)) = rx.recv_timeout(WAIT) {
            assert_eq!(name.as_deref(), Some("kemu-net-rst"));
            seen.push(w);
            if w == "state_change" {
                break;
            }
        }
        seen.extend(drain(&rx));
        assert_eq!(
            seen.iter().filter(|w| **w == "state_change").count(),
            1,
            "{seen:?}"
        );
        assert_only_data_ready_after_state_change(&seen);
        assert_eq!(sock.sk_state(), TCP_CLOSE);
        let mut buf = [0u8; 8];
        assert_eq!(recv_all(&sock, &mut buf), Err(Errno::ECONNRESET));
        // Reading the error cleared EPOLLERR; a later event with the remaining hang-up bits
        // (all seen before) does not call state_change again.
        sock.mark_nospace();
        let mut again = Vec::new();
        while let Ok((w, _)) = rx.recv_timeout(WAIT) {
            again.push(w);
            if w == "write_space" {
                break;
            }
        }
        again.extend(drain(&rx));
        assert_eq!(again, vec!["data_ready", "write_space"]);
        assert_eq!(recv_all(&sock, &mut buf), Ok(0));
    }

    #[test]
    fn replacing_callbacks_returns_old_ones_and_new_one_is_called() {
        let (sock, mut peer, _l) = tcp_pair();
        let (na, a) = counter();
        let (nb, b) = counter();
        let old = sock.set_sk_callbacks(SockCallbacks {
            sk_data_ready: Some(Arc::clone(&a)),
            ..SockCallbacks::default()
        });
        assert!(old.sk_data_ready.is_none());
        assert!(old.sk_write_space.is_none());
        assert!(old.sk_state_change.is_none());
        let lp = EventLoop::new("kemu-net-rp").unwrap();
        lp.attach(&sock).unwrap();
        let mut cur = sock.sk_callbacks();
        assert!(Arc::ptr_eq(cur.sk_data_ready.as_ref().unwrap(), &a));
        cur.sk_data_ready = Some(Arc::clone(&b));
        let old = sock.set_sk_callbacks(cur);
        assert!(Arc::ptr_eq(old.sk_data_ready.as_ref().unwrap(), &a));
        assert!(Arc::ptr_eq(
            sock.sk_callbacks().sk_data_ready.as_ref().unwrap(),
            &b
        ));
        peer.write_all(b"x").unwrap();
        let end = Instant::now() + WAIT;
        while nb.load(Ordering::SeqCst) == 0 && Instant::now() < end {
            thread::sleep(Duration::from_millis(2));
        }
        thread::sleep(SETTLE);
        assert_eq!(nb.load(Ordering::SeqCst), 1);
        assert_eq!(na.load(Ordering::SeqCst), 0);
        // Restore the old set, as iscsi-scst does on close.
        let mine = sock.set_sk_callbacks(old);
        assert!(Arc::ptr_eq(mine.sk_data_ready.as_ref().unwrap(), &b));
        peer.write_all(b"y").unwrap();
        let end = Instant::now() + WAIT;
        while na.load(Ordering::SeqCst) == 0 && Instant::now() < end {
            thread::sleep(Duration::from_millis(2));
        }
        thread::sleep(SETTLE);
        assert_eq!(na.load(Ordering::SeqCst), 1);
        assert_eq!(nb.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn sk_user_data_set_returns_previous() {
        let (sock, _peer, _l) = tcp_pair();
        assert!(sock.sk_user_data().is_none());
        assert!(sock.set_sk_user_data(Some(Arc::new(7u32))).is_none());
        let d = sock.sk_user_data().unwrap();
        assert_eq!(d.downcast_ref::<u32>(), Some(&7));
        let prev = sock.set_sk_user_data(None).unwrap();
        assert_eq!(prev.downcast_ref::<u32>(), Some(&7));
        assert!(sock.sk_user_data().is_none());
    }

    #[test]
    fn detach_stops_further_callbacks() {
        let (sock, mut peer, _l) = tcp_pair();
        let lp = EventLoop::new("kemu-net-dt").unwrap();
        let (cbs, rx) = recording();
        sock.set_sk_callbacks(cbs);
        lp.attach(&sock).unwrap();
        assert_eq!(lp.attach(&sock), Err(Errno::EBUSY));
        let other = EventLoop::new("kemu-net-dt2").unwrap();
        assert_eq!(other.attach(&sock), Err(Errno::EBUSY));
        assert_eq!(other.detach(&sock), Err(Errno::ENOENT));
        peer.write_all(b"1").unwrap();
        assert_eq!(rx.recv_timeout(WAIT).unwrap().0, "data_ready");
        assert_eq!(drain(&rx), Vec::<&str>::new());
        lp.detach(&sock).unwrap();
        assert_eq!(lp.detach(&sock), Err(Errno::ENOENT));
        peer.write_all(b"2").unwrap();
        drop(peer);
        assert_eq!(drain(&rx), Vec::<&str>::new());
        assert_eq!(drain(&rx), Vec::<&str>::new());
        // Both bytes and the EOF are still there for a reader.
        let mut buf = [0u8; 4];
        assert_eq!(recv_all(&sock, &mut buf), Ok(2));
        assert_eq!(&buf[..2], b"12");
        // Attaching again reports the pending hang-up.
        lp.attach(&sock).unwrap();
        let (what, _) = rx.recv_timeout(WAIT).unwrap();
        assert_eq!(what, "data_ready");
        assert_eq!(rx.recv_timeout(WAIT).unwrap().0, "state_change");
    }

    #[test]
    fn detach_waits_for_running_callback() {
        let (sock, mut peer, _l) = tcp_pair();
        let lp = EventLoop::new("kemu-net-dw").unwrap();
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let finished = Arc::new(AtomicBool::new(false));
        let fin2 = Arc::clone(&finished);
        sock.set_sk_callbacks(SockCallbacks {
            sk_data_ready: Some(Arc::new(move |_s: &Arc<Sock>| {
                let _ = started_tx.send(());
                thread::sleep(Duration::from_millis(200));
                fin2.store(true, Ordering::SeqCst);
            })),
            ..SockCallbacks::default()
        });
        lp.attach(&sock).unwrap();
        peer.write_all(b"z").unwrap();
        started_rx.recv_timeout(WAIT).unwrap();
        assert!(!finished.load(Ordering::SeqCst));
        let t = Instant::now();
        lp.detach(&sock).unwrap();
        assert!(
            finished.load(Ordering::SeqCst),
            "detach returned while the callback ran"
        );
        assert!(t.elapsed() >= Duration::from_millis(100));
    }

    #[test]
    fn detach_from_callback_on_loop_thread() {
        let (sock, mut peer, _l) = tcp_pair();
        let lp = EventLoop::new("kemu-net-dl").unwrap();
        let weak = Arc::downgrade(&lp);
        let (tx, rx) = mpsc::channel::<Ev>();
        let tx2 = tx.clone();
        sock.set_sk_callbacks(SockCallbacks {
            sk_data_ready: Some(Arc::new(move |s: &Arc<Sock>| {
                let lp = weak.upgrade().unwrap();
                assert!(lp.in_loop_thread());
                let r = lp.detach(s);
                let _ = tx2.send(("data_ready", Some(format!("{r:?}"))));
            })),
            sk_state_change: Some(cb(&tx, "state_change")),
            sk_write_space: Some(cb(&tx, "write_space")),
        });
        lp.attach(&sock).unwrap();
        // Data and FIN in one go: state_change must not run after the detach in data_ready.
        peer.write_all(b"q").unwrap();
        drop(peer);
        let (what, res) = rx.recv_timeout(WAIT).unwrap();
        assert_eq!(what, "data_ready");
        assert_eq!(res.as_deref(), Some("Ok(())"));
        assert_eq!(drain(&rx), Vec::<&str>::new());
        assert_eq!(lp.detach(&sock), Err(Errno::ENOENT));
    }

    #[test]
    fn fget_dups_and_survives_close_of_original() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let daemon_copy = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut peer, _) = l.accept().unwrap();
        peer.set_read_timeout(Some(WAIT)).unwrap();
        let sock = Sock::fget(daemon_copy.as_fd()).unwrap();
        assert_ne!(sock.as_raw_fd(), daemon_copy.as_raw_fd());
        let local = daemon_copy.local_addr().unwrap();
        drop(daemon_copy); // the daemon closes its copy after ADD_CONN
        assert_eq!(sock.local_addr(), Ok(local));
        assert_eq!(sock.peer_addr(), Ok(l.local_addr().unwrap()));
        assert_eq!(
            kernel_sendmsg(&sock, &[IoSlice::new(b"ab"), IoSlice::new(b"c")], 0),
            Ok(3)
        );
        let mut buf = [0u8; 3];
        peer.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"abc");
        assert_eq!(sock.sk_state(), TCP_ESTABLISHED);
        let fd_flags = fcntl(sock.as_fd(), FcntlArg::F_GETFD).unwrap();
        assert_ne!(fd_flags & libc::FD_CLOEXEC, 0);
    }

    #[test]
    fn addresses_match_both_ends() {
        let (sock, peer, l) = tcp_pair();
        assert_eq!(sock.local_addr(), Ok(l.local_addr().unwrap()));
        assert_eq!(sock.peer_addr(), Ok(peer.local_addr().unwrap()));
    }

    #[test]
    fn msg_more_and_tcp_cork_hold_back_partial_segments() {
        let (sock, mut peer, _l) = tcp_pair();
        sock.sock_setsockopt_tcp_nodelay(true).unwrap();
        assert_eq!(sock.tcp_nodelay(), Ok(true));
        sock.sock_setsockopt_tcp_nodelay(false).unwrap();
        assert_eq!(sock.tcp_nodelay(), Ok(false));
        sock.sock_setsockopt_tcp_nodelay(true).unwrap();
        peer.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut buf = [0u8; 8];

        // MSG_MORE: held back until a send without it.
        assert_eq!(
            kernel_sendmsg(&sock, &[IoSlice::new(b"ab")], MSG_MORE),
            Ok(2)
        );
        let e = peer.read(&mut buf).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
            "{e:?}"
        );
        assert_eq!(kernel_sendmsg(&sock, &[IoSlice::new(b"cd")], 0), Ok(2));
        peer.set_read_timeout(Some(WAIT)).unwrap();
        peer.read_exact(&mut buf[..4]).unwrap();
        assert_eq!(&buf[..4], b"abcd");

        // TCP_CORK: held back until uncorked.
        assert_eq!(sock.tcp_corked(), Ok(false));
        sock.tcp_cork(true).unwrap();
        assert_eq!(sock.tcp_corked(), Ok(true));
        assert_eq!(kernel_sendmsg(&sock, &[IoSlice::new(b"ef")], 0), Ok(2));
        peer.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let e = peer.read(&mut buf).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
            "{e:?}"
        );
        sock.tcp_cork(false).unwrap();
        assert_eq!(sock.tcp_corked(), Ok(false));
        peer.set_read_timeout(Some(WAIT)).unwrap();
        peer.read_exact(&mut buf[..2]).unwrap();
        assert_eq!(&buf[..2], b"ef");
    }

    #[test]
    fn shutdown_makes_peer_read_eof() {
        let (sock, mut peer, _l) = tcp_pair();
        assert_eq!(kernel_sock_shutdown(&sock, 7), Err(Errno::EINVAL));
        kernel_sock_shutdown(&sock, SHUT_WR).unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(peer.read(&mut buf).unwrap(), 0);
        assert!(matches!(sock.sk_state(), TCP_FIN_WAIT1 | TCP_FIN_WAIT2));
        assert_eq!(
            kernel_sendmsg(&sock, &[IoSlice::new(b"x")], 0),
            Err(Errno::EPIPE)
        );
        // The other direction still works until SHUT_RD.
        peer.write_all(b"k").unwrap();
        let end = Instant::now() + WAIT;
        let mut r = recv_all(&sock, &mut buf);
        while r == Err(Errno::EAGAIN) && Instant::now() < end {
            thread::sleep(Duration::from_millis(2));
            r = recv_all(&sock, &mut buf);
        }
        assert_eq!(r, Ok(1));
        kernel_sock_shutdown(&sock, SHUT_RD).unwrap();
        assert_eq!(recv_all(&sock, &mut buf), Ok(0));
    }

    #[test]
    fn shutdown_rdwr_gives_eof_both_ways() {
        let (sock, mut peer, _l) = tcp_pair();
        kernel_sock_shutdown(&sock, SHUT_RDWR).unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(peer.read(&mut buf).unwrap(), 0);
        assert_eq!(recv_all(&sock, &mut buf), Ok(0));
    }

    #[test]
    fn long_thread_name_is_truncated_to_15_bytes_in_comm() {
        let (sock, mut peer, _l) = tcp_pair();
        let lp = EventLoop::new("kemu-net-longname-loop").unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        sock.set_sk_callbacks(SockCallbacks {
            sk_data_ready: Some(Arc::new(move |_s: &Arc<Sock>| {
                let comm = std::fs::read_to_string("/proc/thread-self/comm").unwrap();
                let _ = tx.send(comm);
            })),
            ..SockCallbacks::default()
        });
        lp.attach(&sock).unwrap();
        peer.write_all(b"n").unwrap();
        assert_eq!(rx.recv_timeout(WAIT).unwrap(), "kemu-net-longna\n");
        assert_eq!(EventLoop::new("bad\0name").unwrap_err(), Errno::EINVAL);
    }

    #[test]
    fn stop_joins_thread_and_no_callbacks_afterwards() {
        let (sock, mut peer, _l) = tcp_pair();
        let lp = EventLoop::new("kemu-net-stop").unwrap();
        let end = Instant::now() + WAIT;
        while !thread_comms().iter().any(|c| c == "kemu-net-stop") && Instant::now() < end {
            thread::sleep(Duration::from_millis(2));
        }
        assert!(thread_comms().iter().any(|c| c == "kemu-net-stop"));
        let (n, c) = counter();
        sock.set_sk_callbacks(SockCallbacks {
            sk_data_ready: Some(c),
            ..SockCallbacks::default()
        });
        lp.attach(&sock).unwrap();
        lp.stop();
        assert!(!thread_comms().iter().any(|c| c == "kemu-net-stop"));
        peer.write_all(b"s").unwrap();
        thread::sleep(SETTLE);
        assert_eq!(n.load(Ordering::SeqCst), 0);
        // The loop dropped its registration: the socket is free again.
        assert_eq!(lp.detach(&sock), Err(Errno::ENOENT));
        assert_eq!(lp.attach(&sock), Err(Errno::ESHUTDOWN));
        assert_eq!(Arc::strong_count(&sock), 1);
        // Another loop can take it over; pending data is reported at once.
        let lp2 = EventLoop::new("kemu-net-stop2").unwrap();
        lp2.attach(&sock).unwrap();
        let end = Instant::now() + WAIT;
        while n.load(Ordering::SeqCst) == 0 && Instant::now() < end {
            thread::sleep(Duration::from_millis(2));
        }
        assert_eq!(n.load(Ordering::SeqCst), 1);
        assert_eq!(Arc::strong_count(&sock), 2);
        drop(lp2);
        assert!(!thread_comms().iter().any(|c| c == "kemu-net-stop2"));
        assert_eq!(Arc::strong_count(&sock), 1);
    }

    #[test]
    fn panicking_callback_does_not_kill_the_loop() {
        let (sock, mut peer, _l) = tcp_pair();
        let lp = EventLoop::new("kemu-net-pn").unwrap();
        let (n, c) = counter();
        let calls = Arc::new(AtomicUsize::new(0));
        let calls2 = Arc::clone(&calls);
        sock.set_sk_callbacks(SockCallbacks {
            sk_data_ready: Some(Arc::new(move |_s: &Arc<Sock>| {
                if calls2.fetch_add(1, Ordering::SeqCst) == 0 {
                    panic!("first call panics");
                }
                c(_s);
            })),
            ..SockCallbacks::default()
        });
        lp.attach(&sock).unwrap();
        peer.write_all(b"1").unwrap();
        let end = Instant::now() + WAIT;
        while calls.load(Ordering::SeqCst) == 0 && Instant::now() < end {
            thread::sleep(Duration::from_millis(2));
        }
        peer.write_all(b"2").unwrap();
        let end = Instant::now() + WAIT;
        while n.load(Ordering::SeqCst) == 0 && Instant::now() < end {
            thread::sleep(Duration::from_millis(2));
        }
        assert_eq!(n.load(Ordering::SeqCst), 1);
        // detach does not hang on a callback that unwound.
        lp.detach(&sock).unwrap();
    }
}
