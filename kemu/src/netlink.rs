// SPDX-License-Identifier: GPL-2.0-only
//! The netlink channel from the kernel part to the daemon (`NETLINK_ISCSI_SCST`).
//!
//! In the kernel, iscsi-scst creates a kernel netlink socket with `netlink_kernel_create()`; the
//! daemon opens `socket(PF_NETLINK, SOCK_RAW, unit)` and sends one empty message so that the
//! kernel's `input` callback learns the daemon's port id; from then on the kernel sends each
//! event with `netlink_unicast()` as a message of type `NLMSG_DONE` with an increasing
//! `nlmsg_seq`, and the daemon reads one message per `recvmsg()`.
//!
//! In this usermode build both sides live in one process. Each daemon socket
//! ([`NetlinkUserSock`]) is one end of a `socketpair(AF_UNIX, SOCK_SEQPACKET)`, whose other end
//! the kernel socket ([`NetlinkKernelSock`]) keeps under the daemon socket's port id. The
//! transport preserves message boundaries, so one netlink message is one datagram, framed
//! exactly as netlink frames it: a 16-byte `struct nlmsghdr` in native byte order followed by the
//! payload padded to a multiple of 4 ([`nlmsg_build`], [`nlmsg_parse`]). What the daemon sends
//! goes straight to the kernel socket's `input` callback, run synchronously in the sender's
//! thread, as the kernel does. [`netlink_kernel_release`] closes the kernel ends, so the daemon
//! reads end-of-file — the usermode build's signal for the daemon to exit.

use std::collections::BTreeMap;
use std::fmt;
use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use netlink_packet_core::NetlinkBuffer;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::socket::{recvmsg, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use parking_lot::Mutex;

use crate::Errno;

// ---------------------------------------------------------------------------------------------
// Message framing
// ---------------------------------------------------------------------------------------------

/// C: `NLMSG_NOOP` — message type "nothing".
pub const NLMSG_NOOP: u16 = 1;
/// C: `NLMSG_ERROR` — message type of an error/acknowledgement.
pub const NLMSG_ERROR: u16 = 2;
/// C: `NLMSG_DONE` — the message type iscsi-scst gives every event.
pub const NLMSG_DONE: u16 = netlink_packet_core::NLMSG_DONE;
/// C: `NLM_F_REQUEST` — header flag "request".
pub const NLM_F_REQUEST: u16 = netlink_packet_core::NLM_F_REQUEST;
/// C: `NLM_F_ACK` — header flag "acknowledge this request".
pub const NLM_F_ACK: u16 = netlink_packet_core::NLM_F_ACK;
/// C: `NLMSG_ALIGNTO` — messages and payloads are padded to multiples of this.
pub const NLMSG_ALIGNTO: usize = 4;
/// C: `NLMSG_HDRLEN` — size of `struct nlmsghdr` (16).
pub const NLMSG_HDRLEN: usize = 16;
/// C: `MAX_LINKS` — netlink units (protocols) are `0..MAX_LINKS`.
pub const MAX_LINKS: i32 = 32;

/// C: `NLMSG_ALIGN(len)` — `len` rounded up to a multiple of 4.
pub const fn nlmsg_align(len: usize) -> usize {
    (len + NLMSG_ALIGNTO - 1) & !(NLMSG_ALIGNTO - 1)
}

/// C: `NLMSG_LENGTH(len)` — the `nlmsg_len` of a message with a `len`-byte payload.
pub const fn nlmsg_length(len: usize) -> usize {
    len + NLMSG_HDRLEN
}

/// C: `NLMSG_SPACE(len)` — the bytes a message with a `len`-byte payload occupies, padding
/// included.
pub const fn nlmsg_space(len: usize) -> usize {
    nlmsg_align(nlmsg_length(len))
}

/// C: `struct nlmsghdr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NlMsgHdr {
    /// C: `nlmsg_len` — header plus payload, without the trailing padding.
    pub nlmsg_len: u32,
    /// C: `nlmsg_type` ([`NLMSG_DONE`] for iscsi-scst events).
    pub nlmsg_type: u16,
    /// C: `nlmsg_flags`.
    pub nlmsg_flags: u16,
    /// C: `nlmsg_seq`.
    pub nlmsg_seq: u32,
    /// C: `nlmsg_pid` — the port id.
    pub nlmsg_pid: u32,
}

/// C: `__nlmsg_put()` + `memcpy(NLMSG_DATA(nlh), payload, len)` — one complete message:
/// header (with `nlmsg_len = NLMSG_LENGTH(payload.len())`), payload, zero padding up to
/// `NLMSG_SPACE(payload.len())` bytes. Payloads must be shorter than 4 GiB − 16 bytes (the
/// length field saturates otherwise).
pub fn nlmsg_build(nlmsg_type: u16, flags: u16, seq: u32, portid: u32, payload: &[u8]) -> Vec<u8> {
    debug_assert!(nlmsg_length(payload.len()) <= u32::MAX as usize);
    let mut buf = vec![0u8; nlmsg_space(payload.len())];
    {
        let mut nb = NetlinkBuffer::new(&mut buf[..]);
        nb.set_length(u32::try_from(nlmsg_length(payload.len())).unwrap_or(u32::MAX));
        nb.set_message_type(nlmsg_type);
        nb.set_flags(flags);
        nb.set_sequence_number(seq);
        nb.set_port_number(portid);
    }
    buf[NLMSG_HDRLEN..NLMSG_HDRLEN + payload.len()].copy_from_slice(payload);
    buf
}

/// C: `NLMSG_OK(nlh, len)` + `NLMSG_DATA(nlh)` — the header and payload (without padding) of the
/// message at the start of `buf`. `EINVAL` if `buf` is shorter than a header, or `nlmsg_len` is
/// below 16 or beyond the end of `buf`.
pub fn nlmsg_parse(buf: &[u8]) -> Result<(NlMsgHdr, &[u8]), Errno> {
    let nb = NetlinkBuffer::new_checked(buf).map_err(|_| Errno::EINVAL)?;
    let hdr = NlMsgHdr {
        nlmsg_len: nb.length(),
        nlmsg_type: nb.message_type(),
        nlmsg_flags: nb.flags(),
        nlmsg_seq: nb.sequence_number(),
        nlmsg_pid: nb.port_number(),
    };
    Ok((hdr, nb.payload()))
}

/// C: the `while (NLMSG_OK(nlh, len)) { …; nlh = NLMSG_NEXT(nlh, len); }` loop (e.g.
/// iscsi-scst's `event_recv_skb()`): iterates over the messages packed in `buf`, stopping at the
/// end or at the first malformed header.
pub fn nlmsg_iter(buf: &[u8]) -> NlMsgIter<'_> {
    NlMsgIter { rest: buf }
}

/// Iterator returned by [`nlmsg_iter`] (C: `NLMSG_NEXT()`).
#[derive(Debug, Clone)]
pub struct NlMsgIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for NlMsgIter<'a> {
    type Item = (NlMsgHdr, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (hdr, payload) = match nlmsg_parse(self.rest) {
            Ok(m) => m,
            Err(_) => {
                self.rest = &[];
                return None;
            }
        };
        let step = nlmsg_align(hdr.nlmsg_len as usize).min(self.rest.len());
        self.rest = &self.rest[step..];
        Some((hdr, payload))
    }
}

// ---------------------------------------------------------------------------------------------
// Kernel side
// ---------------------------------------------------------------------------------------------

/// C: a `struct sk_buff` delivered to a kernel netlink socket's `input` callback: the bytes the
/// daemon sent and the sender's port id (`NETLINK_CB(skb).portid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetlinkSkb {
    portid: u32,
    data: Vec<u8>,
}

impl NetlinkSkb {
    /// C: `NETLINK_CB(skb).portid` — the sending socket's port id.
    pub fn portid(&self) -> u32 {
        self.portid
    }

    /// C: `skb->data` — the bytes as sent (normally one or more netlink messages, see
    /// [`nlmsg_iter`]).
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// C: `skb->len`.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// C: `skb->len == 0`.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

type InputFn = Box<dyn Fn(&NetlinkSkb) + Send + Sync>;

/// The daemon sockets bound to a kernel socket, by port id (C: the protocol's `nl_table` hash).
struct PortTable {
    socks: BTreeMap<u32, Arc<OwnedFd>>,
    /// C: `rover` in `netlink_autobind()` — next port id to try once the pid is taken.
    rover: u32,
    /// Set by `netlink_kernel_release()`; no socket may bind any more.
    released: bool,
}

/// First port id handed out once the process id is taken (C: `-4096` as `u32`).
const ROVER_START: u32 = 0xFFFF_F000;

impl PortTable {
    /// C: `netlink_autobind()` — the process id if free, otherwise unique values counting down
    /// from `-4096`.
    fn autobind(&mut self) -> u32 {
        let pid = std::process::id();
        if pid != 0 && !self.socks.contains_key(&pid) {
            return pid;
        }
        loop {
            let p = self.rover;
            self.rover = if p <= 0x8000_0000 { ROVER_START } else { p - 1 };
            if p != pid && !self.socks.contains_key(&p) {
                return p;
            }
        }
    }
}

/// C: the kernel's `struct sock *nl` returned by `netlink_kernel_create()` — the kernel end of a
/// netlink unit.
pub struct NetlinkKernelSock {
    unit: i32,
    input: InputFn,
    table: Mutex<PortTable>,
    released: AtomicBool,
}

impl fmt::Debug for NetlinkKernelSock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.table.lock();
        f.debug_struct("NetlinkKernelSock")
            .field("unit", &self.unit)
            .field("portids", &t.socks.keys().collect::<Vec<_>>())
            .field("released", &t.released)
            .finish_non_exhaustive()
    }
}

impl NetlinkKernelSock {
    /// C: `nl->sk_protocol` — the netlink unit this socket serves.
    pub fn unit(&self) -> i32 {
        self.unit
    }
}

/// C: the per-protocol `nl_table[unit]` registry: the kernel socket of each unit.
static REGISTRY: Mutex<BTreeMap<i32, Arc<NetlinkKernelSock>>> = Mutex::new(BTreeMap::new());

/// C: `netlink_kernel_create(&init_net, unit, &cfg)` with `cfg.input = input`. Registers the
/// kernel socket of `unit` for the whole process. `input` is called synchronously, in the
/// sender's thread, for every message a daemon socket sends ([`NetlinkUserSock::sendmsg`]).
/// `EINVAL` if `unit` is outside `0..MAX_LINKS`; `EBUSY` if the unit already has a kernel socket
/// (the kernel returns `NULL`).
pub fn netlink_kernel_create(
    unit: i32,
    input: impl Fn(&NetlinkSkb) + Send + Sync + 'static,
) -> Result<Arc<NetlinkKernelSock>, Errno> {
    if !(0..MAX_LINKS).contains(&unit) {
        return Err(Errno::EINVAL);
    }
    let mut reg = REGISTRY.lock();
    if reg.contains_key(&unit) {
        return Err(Errno::EBUSY);
    }
    let sock = Arc::new(NetlinkKernelSock {
        unit,
        input: Box::new(input),
        table: Mutex::new(PortTable {
            socks: BTreeMap::new(),
            rover: ROVER_START,
            released: false,
        }),
        released: AtomicBool::new(false),
    });
    reg.insert(unit, Arc::clone(&sock));
    Ok(sock)
}

/// C: `netlink_kernel_release(nl)`. Unregisters the unit and closes the kernel ends of all daemon
/// sockets: each reads its queued messages, then end-of-file (`0`). Later
/// [`netlink_unicast`] calls fail with `ECONNREFUSED`.
pub fn netlink_kernel_release(sock: &NetlinkKernelSock) {
    let removed = {
        let mut reg = REGISTRY.lock();
        match reg.get(&sock.unit) {
            Some(s) if std::ptr::eq(Arc::as_ptr(s), sock) => reg.remove(&sock.unit),
            _ => None,
        }
    };
    let ends = {
        let mut t = sock.table.lock();
        t.released = true;
        sock.released.store(true, Ordering::Release);
        std::mem::take(&mut t.socks)
    };
    drop(ends);
    drop(removed);
}

/// C: `netlink_unicast(nl, skb, portid, nonblock)` — queues one message (normally built with
/// [`nlmsg_build`]) for the daemon socket bound to `portid`, as one datagram. Returns the number
/// of bytes queued. `ECONNREFUSED` if no daemon socket has that port id (or it was closed, or the
/// kernel socket released); `EAGAIN` if `nonblock` and the daemon's queue is full (otherwise it
/// waits for room); `EINVAL` for an empty message.
pub fn netlink_unicast(
    nl: &NetlinkKernelSock,
    msg: &[u8],
    portid: u32,
    nonblock: bool,
) -> Result<usize, Errno> {
    if msg.is_empty() {
        return Err(Errno::EINVAL);
    }
    let end = nl
        .table
        .lock()
        .socks
        .get(&portid)
        .cloned()
        .ok_or(Errno::ECONNREFUSED)?;
    let mut flags = MsgFlags::MSG_NOSIGNAL;
    if nonblock {
        flags |= MsgFlags::MSG_DONTWAIT;
    }
    loop {
        match send(end.as_raw_fd(), msg, flags) {
            Err(Errno::EINTR) => continue,
            Err(Errno::EPIPE | Errno::ECONNRESET | Errno::ENOTCONN) => {
                return Err(Errno::ECONNREFUSED)
            }
            r => return r,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Daemon side
// ---------------------------------------------------------------------------------------------

/// C (daemon): the socket from `socket(PF_NETLINK, SOCK_RAW, unit)`, bound to an automatically
/// chosen port id. Its descriptor ([`AsFd`]) goes into the daemon's `poll()` set and becomes
/// readable when the kernel has queued a message. Dropping it unbinds the port id (C: `close()`).
pub struct NetlinkUserSock {
    fd: OwnedFd,
    portid: u32,
    unit: i32,
    kernel: Weak<NetlinkKernelSock>,
}

impl fmt::Debug for NetlinkUserSock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetlinkUserSock")
            .field("fd", &self.fd.as_raw_fd())
            .field("unit", &self.unit)
            .field("portid", &self.portid)
            .finish_non_exhaustive()
    }
}

impl AsFd for NetlinkUserSock {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for NetlinkUserSock {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl NetlinkUserSock {
    /// C: `socket(PF_NETLINK, SOCK_RAW, unit)` + autobind. The first socket of the process on a
    /// unit gets the process id as port id, later ones unique other values. Blocking until
    /// [`NetlinkUserSock::set_nonblocking`]. `EPROTONOSUPPORT` if no kernel socket serves `unit`
    /// (not created, or released).
    pub fn open(unit: i32) -> Result<NetlinkUserSock, Errno> {
        let kernel = REGISTRY
            .lock()
            .get(&unit)
            .cloned()
            .ok_or(Errno::EPROTONOSUPPORT)?;
        let (user_end, kernel_end) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        let kernel_end = Arc::new(kernel_end);
        let portid = {
            let mut t = kernel.table.lock();
            if t.released {
                return Err(Errno::EPROTONOSUPPORT);
            }
            let portid = t.autobind();
            t.socks.insert(portid, Arc::clone(&kernel_end));
            portid
        };
        Ok(NetlinkUserSock {
            fd: user_end,
            portid,
            unit,
            kernel: Arc::downgrade(&kernel),
        })
    }

    /// C: `getsockname()` → `sockaddr_nl.nl_pid` — the port id the kernel addresses this socket
    /// by (what the kernel's `input` sees as `NETLINK_CB(skb).portid`).
    pub fn portid(&self) -> u32 {
        self.portid
    }

    /// C: the `protocol` argument of `socket(PF_NETLINK, SOCK_RAW, protocol)`.
    pub fn unit(&self) -> i32 {
        self.unit
    }

    /// C: `fcntl(fd, F_SETFL, O_NONBLOCK)` — makes [`NetlinkUserSock::recvmsg`] return `EAGAIN`
    /// instead of waiting.
    pub fn set_nonblocking(&self, on: bool) -> Result<(), Errno> {
        let fl = OFlag::from_bits_retain(fcntl(self.fd.as_fd(), FcntlArg::F_GETFL)?);
        let new = if on {
            fl | OFlag::O_NONBLOCK
        } else {
            fl & !OFlag::O_NONBLOCK
        };
        fcntl(self.fd.as_fd(), FcntlArg::F_SETFL(new))?;
        Ok(())
    }

    /// C (daemon): `sendmsg(fd, &msg, 0)` to the kernel (`nl_pid` 0). Delivers `msg` to the kernel
    /// socket's `input` callback, which runs synchronously in this thread with this socket's port
    /// id (C: `netlink_unicast_kernel()`). Returns `msg.len()`. `ECONNREFUSED` if the kernel
    /// socket was released.
    pub fn sendmsg(&self, msg: &[u8]) -> Result<usize, Errno> {
        let kernel = self
            .kernel
            .upgrade()
            .filter(|k| !k.released.load(Ordering::Acquire))
            .ok_or(Errno::ECONNREFUSED)?;
        let skb = NetlinkSkb {
            portid: self.portid,
            data: msg.to_vec(),
        };
        (kernel.input)(&skb);
        Ok(msg.len())
    }

    /// C (daemon): `recvmsg(fd, &msg, 0)` into one buffer — one whole message (header, payload and
    /// padding as the kernel sent them; a longer message is truncated to `buf`). Returns its
    /// length, `0` at end-of-file (the kernel socket was released), `EAGAIN` if non-blocking and
    /// nothing is queued.
    pub fn recvmsg(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        self.recvmsg_iov(&mut [IoSliceMut::new(buf)], false)
    }

    /// C (daemon): `recvmsg(fd, &msg, wait ? 0 : MSG_DONTWAIT)` with an iovec array, as
    /// iscsi-scstd's `nl_read()` does (16-byte header iovec + `NLMSG_ALIGN(len)` payload iovec).
    /// One message per call; see [`NetlinkUserSock::recvmsg`].
    pub fn recvmsg_iov(&self, iov: &mut [IoSliceMut<'_>], dontwait: bool) -> Result<usize, Errno> {
        let flags = if dontwait {
            MsgFlags::MSG_DONTWAIT
        } else {
            MsgFlags::empty()
        };
        loop {
            match recvmsg::<()>(self.fd.as_raw_fd(), iov, None, flags) {
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e),
                Ok(m) => return Ok(m.bytes),
            }
        }
    }
}

impl Drop for NetlinkUserSock {
    fn drop(&mut self) {
        let Some(kernel) = self.kernel.upgrade() else {
            return;
        };
        // While this socket exists its port id cannot be given to another one, and after
        // `netlink_kernel_release()` the table stays empty: the entry, if any, is ours.
        let removed = kernel.table.lock().socks.remove(&self.portid);
        drop(removed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use proptest::prelude::*;
    use std::thread;
    use std::time::{Duration, Instant};

    type Seen = Arc<Mutex<Vec<NetlinkSkb>>>;

    fn recording_kernel(unit: i32) -> (Arc<NetlinkKernelSock>, Seen) {
        let seen: Seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = Arc::clone(&seen);
        let k = netlink_kernel_create(unit, move |skb: &NetlinkSkb| s2.lock().push(skb.clone()))
            .unwrap();
        (k, seen)
    }

    fn is_nonblocking(u: &NetlinkUserSock) -> bool {
        OFlag::from_bits_retain(fcntl(u.as_fd(), FcntlArg::F_GETFL).unwrap())
            .contains(OFlag::O_NONBLOCK)
    }

    fn readable(u: &NetlinkUserSock, ms: u16) -> bool {
        let mut p = [PollFd::new(u.as_fd(), PollFlags::POLLIN)];
        poll(&mut p, PollTimeout::from(ms)).unwrap() == 1
    }

    #[test]
    fn align_length_space() {
        let got: Vec<usize> = (0..=9).map(nlmsg_align).collect();
        assert_eq!(got, vec![0, 4, 4, 4, 4, 8, 8, 8, 8, 12]);
        assert_eq!(nlmsg_length(5), 21);
        assert_eq!(nlmsg_space(5), 24);
        assert_eq!(nlmsg_space(0), 16);
        assert_eq!(NLMSG_HDRLEN, 16);
        assert_eq!(NLMSG_DONE, 3);
        assert_eq!(MAX_LINKS, 32);
    }

    #[test]
    fn build_exact_bytes_done_with_odd_payload() {
        let m = nlmsg_build(NLMSG_DONE, 0x0102, 0x0a0b_0c0d, 4321, b"abcde");
        let mut want = Vec::new();
        want.extend_from_slice(&21u32.to_ne_bytes());
        want.extend_from_slice(&3u16.to_ne_bytes());
        want.extend_from_slice(&0x0102u16.to_ne_bytes());
        want.extend_from_slice(&0x0a0b_0c0du32.to_ne_bytes());
        want.extend_from_slice(&4321u32.to_ne_bytes());
        want.extend_from_slice(b"abcde\0\0\0");
        assert_eq!(m, want);
        let (h, p) = nlmsg_parse(&m).unwrap();
        assert_eq!(
            h,
            NlMsgHdr {
                nlmsg_len: 21,
                nlmsg_type: NLMSG_DONE,
                nlmsg_flags: 0x0102,
                nlmsg_seq: 0x0a0b_0c0d,
                nlmsg_pid: 4321,
            }
        );
        assert_eq!(p, b"abcde");
    }

    #[test]
    fn build_pads_every_length_to_4() {
        for n in 0..=13usize {
            let payload: Vec<u8> = (0..n).map(|i| 0x80 | i as u8).collect();
            let m = nlmsg_build(NLMSG_DONE, 0, n as u32, 1, &payload);
            assert_eq!(m.len(), 16 + n.div_ceil(4) * 4, "n = {n}");
            assert_eq!(m.len() % 4, 0);
            assert!(m[16 + n..].iter().all(|&b| b == 0));
            let (h, p) = nlmsg_parse(&m).unwrap();
            assert_eq!(h.nlmsg_len as usize, 16 + n);
            assert_eq!(h.nlmsg_seq as usize, n);
            assert_eq!(p, &payload[..]);
        }
        // The empty registration message of the daemon.
        let m = nlmsg_build(0, 0, 0, 77, &[]);
        assert_eq!(m.len(), 16);
        assert_eq!(nlmsg_parse(&m).unwrap().1, b"");
    }

    #[test]
    fn parse_rejects_short_and_inconsistent() {
        let good = nlmsg_build(NLMSG_DONE, 0, 1, 2, b"xyz");
        for n in 0..16 {
            assert_eq!(nlmsg_parse(&good[..n]), Err(Errno::EINVAL), "len {n}");
        }
        // nlmsg_len beyond the buffer (19 > 18).
        assert_eq!(nlmsg_parse(&good[..18]), Err(Errno::EINVAL));
        // Exactly nlmsg_len bytes are enough.
        assert_eq!(nlmsg_parse(&good[..19]).unwrap().1, b"xyz");
        for bad in [0u32, 1, 15] {
            let mut m = good.clone();
            m[..4].copy_from_slice(&bad.to_ne_bytes());
            assert_eq!(nlmsg_parse(&m), Err(Errno::EINVAL), "nlmsg_len {bad}");
        }
        let mut m = good.clone();
        m[..4].copy_from_slice(&16u32.to_ne_bytes());
        assert_eq!(nlmsg_parse(&m).unwrap().1, b"");
        let mut m = good.clone();
        m[..4].copy_from_slice(&21u32.to_ne_bytes());
        assert_eq!(nlmsg_parse(&m), Err(Errno::EINVAL));
    }

    #[test]
    fn iter_walks_packed_messages_and_stops_at_garbage() {
        let mut buf = nlmsg_build(NLMSG_DONE, 0, 1, 9, b"a");
        buf.extend(nlmsg_build(NLMSG_DONE, 0, 2, 9, b"bcdef"));
        buf.extend(nlmsg_build(NLMSG_DONE, 0, 3, 9, b""));
        buf.extend([1u8, 0, 0, 0, 0, 0]); // truncated header
        let got: Vec<(u32, Vec<u8>)> = nlmsg_iter(&buf)
            .map(|(h, p)| (h.nlmsg_seq, p.to_vec()))
            .collect();
        assert_eq!(
            got,
            vec![(1, b"a".to_vec()), (2, b"bcdef".to_vec()), (3, vec![])]
        );
        // A message whose unpadded end is the end of the buffer.
        let m = nlmsg_build(NLMSG_DONE, 0, 4, 9, b"xy");
        assert_eq!(nlmsg_iter(&m[..18]).count(), 1);
        assert_eq!(nlmsg_iter(&[]).count(), 0);
    }

    proptest! {
        #[test]
        fn build_parse_roundtrip(
            ty in any::<u16>(), flags in any::<u16>(), seq in any::<u32>(), pid in any::<u32>(),
            payload in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let m = nlmsg_build(ty, flags, seq, pid, &payload);
            prop_assert_eq!(m.len(), nlmsg_space(payload.len()));
            prop_assert_eq!(m.len() % 4, 0);
            let (h, p) = nlmsg_parse(&m).unwrap();
            prop_assert_eq!(h, NlMsgHdr {
                nlmsg_len: (16 + payload.len()) as u32,
                nlmsg_type: ty, nlmsg_flags: flags, nlmsg_seq: seq, nlmsg_pid: pid,
            });
            prop_assert_eq!(p, &payload[..]);
            prop_assert!(m[16 + payload.len()..].iter().all(|&b| b == 0));
        }
    }

    #[test]
    fn registration_handshake_records_daemon_portid() {
        let (k, seen) = recording_kernel(25);
        assert_eq!(k.unit(), 25);
        let u = NetlinkUserSock::open(25).unwrap();
        assert_eq!(u.unit(), 25);
        assert_eq!(u.portid(), std::process::id());
        let hello = nlmsg_build(0, 0, 0, u.portid(), &[]);
        assert_eq!(u.sendmsg(&hello), Ok(16));
        {
            let seen = seen.lock();
            assert_eq!(seen.len(), 1);
            assert_eq!(seen[0].portid(), u.portid());
            assert_eq!(seen[0].len(), 16);
            assert!(!seen[0].is_empty());
            assert_eq!(seen[0].data(), &hello[..]);
            let (h, p) = nlmsg_parse(seen[0].data()).unwrap();
            assert_eq!(h.nlmsg_len, 16);
            assert!(p.is_empty());
        }
        // Nothing travels back on the daemon's fd.
        assert!(!readable(&u, 0));
        netlink_kernel_release(&k);
    }

    #[test]
    fn input_runs_in_sender_thread_and_may_unicast_back() {
        let me = Arc::new(Mutex::new(None));
        let me2 = Arc::clone(&me);
        let slot: Arc<Mutex<Weak<NetlinkKernelSock>>> = Arc::new(Mutex::new(Weak::new()));
        let slot2 = Arc::clone(&slot);
        let k = netlink_kernel_create(16, move |skb: &NetlinkSkb| {
            *me2.lock() = Some(thread::current().id());
            if let Some(k) = slot2.lock().upgrade() {
                let ack = nlmsg_build(NLMSG_ERROR, 0, 0, skb.portid(), &0i32.to_ne_bytes());
                assert_eq!(netlink_unicast(&k, &ack, skb.portid(), true), Ok(20));
            }
        })
        .unwrap();
        *slot.lock() = Arc::downgrade(&k);
        let u = NetlinkUserSock::open(16).unwrap();
        u.sendmsg(&nlmsg_build(0, NLM_F_ACK, 5, u.portid(), &[]))
            .unwrap();
        assert_eq!(*me.lock(), Some(thread::current().id()));
        let mut buf = [0u8; 64];
        assert!(readable(&u, 0), "the ack is queued before sendmsg returns");
        assert_eq!(u.recvmsg(&mut buf), Ok(20));
        let (h, p) = nlmsg_parse(&buf[..20]).unwrap();
        assert_eq!(h.nlmsg_type, NLMSG_ERROR);
        assert_eq!(p, &0i32.to_ne_bytes());
        netlink_kernel_release(&k);
    }

    #[test]
    fn three_events_arrive_as_three_datagrams_in_order() {
        let (k, _seen) = recording_kernel(20);
        let u = NetlinkUserSock::open(20).unwrap();
        let pid = u.portid();
        let msgs: Vec<Vec<u8>> = (1u32..=3)
            .map(|seq| nlmsg_build(NLMSG_DONE, 0, seq, pid, &seq.to_ne_bytes()[..seq as usize]))
            .collect();
        for m in &msgs {
            assert_eq!(netlink_unicast(&k, m, pid, false), Ok(m.len()));
        }
        assert!(readable(&u, 1000));
        u.set_nonblocking(true).unwrap();
        assert!(is_nonblocking(&u));
        let mut buf = [0u8; 256];
        for (i, m) in msgs.iter().enumerate() {
            let n = u.recvmsg(&mut buf).unwrap();
            assert_eq!(n, 20, "message {i}");
            assert_eq!(&buf[..n], &m[..]);
            let (h, _) = nlmsg_parse(&buf[..n]).unwrap();
            assert_eq!(h.nlmsg_seq, i as u32 + 1);
            assert_eq!(h.nlmsg_type, NLMSG_DONE);
        }
        assert_eq!(u.recvmsg(&mut buf), Err(Errno::EAGAIN));
        assert!(!readable(&u, 0));
        netlink_kernel_release(&k);
    }

    #[test]
    fn event_with_two_param_messages_read_like_nl_read() {
        let (k, _seen) = recording_kernel(21);
        let u = NetlinkUserSock::open(21).unwrap();
        let pid = u.portid();
        // An event struct (24 bytes) then param1 and param2, not NUL-terminated, each its own
        // message.
        let event: Vec<u8> = (0u8..24).collect();
        let p1 = b"iqn.2024-01.test:t1"; // 19 bytes -> padded to 20
        let p2 = b"QueuedCommands=32"; // 17 bytes -> padded to 20
        for (seq, payload) in [(7u32, &event[..]), (8, &p1[..]), (9, &p2[..])] {
            let m = nlmsg_build(NLMSG_DONE, 0, seq, pid, payload);
            netlink_unicast(&k, &m, pid, false).unwrap();
        }
        for (seq, payload) in [(7u32, &event[..]), (8, &p1[..]), (9, &p2[..])] {
            let mut hdr = [0u8; NLMSG_HDRLEN];
            let mut data = vec![0xeeu8; nlmsg_align(payload.len())];
            assert!(readable(&u, 1000));
            let n = u
                .recvmsg_iov(
                    &mut [IoSliceMut::new(&mut hdr), IoSliceMut::new(&mut data)],
                    false,
                )
                .unwrap();
            assert_eq!(n, NLMSG_HDRLEN + nlmsg_align(payload.len()));
            let mut whole = hdr.to_vec();
            whole.extend_from_slice(&data);
            let (h, p) = nlmsg_parse(&whole).unwrap();
            assert_eq!(h.nlmsg_seq, seq);
            assert_eq!(h.nlmsg_len as usize, 16 + payload.len());
            assert_eq!(p, payload);
            assert!(data[payload.len()..].iter().all(|&b| b == 0));
        }
        let mut buf = [0u8; 64];
        assert_eq!(
            u.recvmsg_iov(&mut [IoSliceMut::new(&mut buf)], true),
            Err(Errno::EAGAIN)
        );
        netlink_kernel_release(&k);
    }

    #[test]
    fn unicast_to_unknown_or_closed_portid_is_refused() {
        let (k, _seen) = recording_kernel(22);
        let m = nlmsg_build(NLMSG_DONE, 0, 1, 0, b"x");
        assert_eq!(
            netlink_unicast(&k, &m, 12345, false),
            Err(Errno::ECONNREFUSED)
        );
        let u = NetlinkUserSock::open(22).unwrap();
        let pid = u.portid();
        assert_eq!(
            netlink_unicast(&k, &m, pid.wrapping_add(1), true),
            Err(Errno::ECONNREFUSED)
        );
        assert_eq!(netlink_unicast(&k, &m, pid, true), Ok(20));
        assert_eq!(netlink_unicast(&k, &[], pid, true), Err(Errno::EINVAL));
        drop(u);
        assert_eq!(netlink_unicast(&k, &m, pid, true), Err(Errno::ECONNREFUSED));
        assert_eq!(
            netlink_unicast(&k, &m, pid, false),
            Err(Errno::ECONNREFUSED)
        );
        netlink_kernel_release(&k);
    }

    #[test]
    fn portids_pid_first_then_unique_values() {
        let (k, seen) = recording_kernel(17);
        let a = NetlinkUserSock::open(17).unwrap();
        let b = NetlinkUserSock::open(17).unwrap();
        let c = NetlinkUserSock::open(17).unwrap();
        assert_eq!(a.portid(), std::process::id());
        assert_eq!(b.portid(), 0xFFFF_F000);
        assert_eq!(c.portid(), 0xFFFF_EFFF);
        b.sendmsg(b"").unwrap();
        c.sendmsg(b"z").unwrap();
        let got: Vec<(u32, Vec<u8>)> = seen
            .lock()
            .iter()
            .map(|s| (s.portid(), s.data().to_vec()))
            .collect();
        assert_eq!(
            got,
            vec![(0xFFFF_F000, vec![]), (0xFFFF_EFFF, b"z".to_vec())]
        );
        assert!(seen.lock()[0].is_empty());
        assert_eq!(seen.lock()[0].len(), 0);
        assert!(!seen.lock()[1].is_empty());
        // Each gets only its own messages.
        let m = nlmsg_build(NLMSG_DONE, 0, 1, c.portid(), b"for-c");
        netlink_unicast(&k, &m, c.portid(), false).unwrap();
        assert!(readable(&c, 1000));
        assert!(!readable(&a, 0));
        assert!(!readable(&b, 0));
        drop(a);
        let d = NetlinkUserSock::open(17).unwrap();
        assert_eq!(d.portid(), std::process::id());
        netlink_kernel_release(&k);
    }

    #[test]
    fn autobind_skips_taken_ids_and_wraps_like_the_kernel_rover() {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let mut t = PortTable {
            socks: BTreeMap::new(),
            rover: 0x8000_0001,
            released: false,
        };
        let pid = std::process::id();
        assert_eq!(t.autobind(), pid);
        t.socks.insert(pid, Arc::new(a));
        t.socks.insert(0x8000_0001, Arc::new(b));
        assert_eq!(t.autobind(), 0x8000_0000);
        assert_eq!(t.autobind(), 0xFFFF_F000);
        assert_eq!(t.autobind(), 0xFFFF_EFFF);
        assert_eq!(t.rover, 0xFFFF_EFFE);
    }

    #[test]
    fn nonblocking_unicast_to_full_queue_is_eagain() {
        let (k, _seen) = recording_kernel(23);
        let u = NetlinkUserSock::open(23).unwrap();
        let pid = u.portid();
        let m = nlmsg_build(NLMSG_DONE, 0, 0, pid, &[0x11; 100]);
        let mut sent = 0usize;
        let mut full = false;
        for _ in 0..1_000_000 {
            match netlink_unicast(&k, &m, pid, true) {
                Ok(n) => {
                    assert_eq!(n, m.len());
                    sent += 1;
                }
                Err(e) => {
                    assert_eq!(e, Errno::EAGAIN);
                    full = true;
                    break;
                }
            }
        }
        assert!(full && sent > 0);
        // A blocking unicast waits for room.
        let k2 = Arc::clone(&k);
        let m2 = m.clone();
        let t = thread::spawn(move || netlink_unicast(&k2, &m2, pid, false));
        thread::sleep(Duration::from_millis(50));
        assert!(
            !t.is_finished(),
            "blocking unicast returned while the queue was full"
        );
        u.set_nonblocking(true).unwrap();
        assert!(is_nonblocking(&u));
        let mut buf = [0u8; 256];
        let mut got = 0usize;
        let end = Instant::now() + Duration::from_millis(1500);
        while got < sent + 1 && Instant::now() < end {
            match u.recvmsg(&mut buf) {
                Ok(n) => {
                    assert_eq!(&buf[..n], &m[..]);
                    got += 1;
                }
                Err(Errno::EAGAIN) => thread::sleep(Duration::from_millis(1)),
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(t.join().unwrap(), Ok(m.len()));
        assert_eq!(got, sent + 1, "every queued message arrives exactly once");
        assert_eq!(u.recvmsg(&mut buf), Err(Errno::EAGAIN));
        assert_eq!(netlink_unicast(&k, &m, pid, true), Ok(m.len()));
        netlink_kernel_release(&k);
    }

    #[test]
    fn release_gives_daemon_eof_after_queued_messages() {
        let (k, seen) = recording_kernel(24);
        let u = NetlinkUserSock::open(24).unwrap();
        let pid = u.portid();
        let m = nlmsg_build(NLMSG_DONE, 0, 1, pid, b"last");
        netlink_unicast(&k, &m, pid, false).unwrap();
        netlink_kernel_release(&k);
        let mut buf = [0u8; 64];
        assert!(readable(&u, 1000));
        assert_eq!(u.recvmsg(&mut buf), Ok(20));
        assert_eq!(&buf[..20], &m[..]);
        assert!(readable(&u, 1000));
        assert_eq!(u.recvmsg(&mut buf), Ok(0));
        assert_eq!(netlink_unicast(&k, &m, pid, true), Err(Errno::ECONNREFUSED));
        assert_eq!(u.sendmsg(b"late"), Err(Errno::ECONNREFUSED));
        assert!(seen.lock().is_empty());
        assert_eq!(
            NetlinkUserSock::open(24).unwrap_err(),
            Errno::EPROTONOSUPPORT
        );
        // The unit is free again.
        let k2 = netlink_kernel_create(24, |_skb: &NetlinkSkb| {}).unwrap();
        let u2 = NetlinkUserSock::open(24).unwrap();
        // The old daemon socket stays bound to the released one.
        assert_eq!(u.sendmsg(b"x"), Err(Errno::ECONNREFUSED));
        assert_eq!(u2.sendmsg(b"x"), Ok(1));
        netlink_kernel_release(&k2);
        // Releasing an old handle does not unregister the new socket of the unit.
        let k3 = netlink_kernel_create(24, |_skb: &NetlinkSkb| {}).unwrap();
        netlink_kernel_release(&k);
        let u3 = NetlinkUserSock::open(24).unwrap();
        assert_eq!(u3.sendmsg(b"y"), Ok(1));
        netlink_kernel_release(&k3);
    }

    #[test]
    fn debug_output_names_the_fields() {
        let k = netlink_kernel_create(14, |_skb: &NetlinkSkb| {}).unwrap();
        let u = NetlinkUserSock::open(14).unwrap();
        let pid = std::process::id();
        assert_eq!(
            format!("{k:?}"),
            format!("NetlinkKernelSock {{ unit: 14, portids: [{pid}], released: false, .. }}")
        );
        assert_eq!(
            format!("{u:?}"),
            format!(
                "NetlinkUserSock {{ fd: {}, unit: 14, portid: {pid}, .. }}",
                u.as_raw_fd()
            )
        );
        assert_eq!(u.as_raw_fd(), u.as_fd().as_raw_fd());
        netlink_kernel_release(&k);
        assert_eq!(
            format!("{k:?}"),
            "NetlinkKernelSock { unit: 14, portids: [], released: true, .. }"
        );
    }

    #[test]
    fn kernel_create_twice_or_out_of_range_fails() {
        let k = netlink_kernel_create(19, |_skb: &NetlinkSkb| {}).unwrap();
        assert_eq!(
            netlink_kernel_create(19, |_skb: &NetlinkSkb| {}).unwrap_err(),
            Errno::EBUSY
        );
        assert_eq!(
            netlink_kernel_create(-1, |_skb: &NetlinkSkb| {}).unwrap_err(),
            Errno::EINVAL
        );
        assert_eq!(
            netlink_kernel_create(32, |_skb: &NetlinkSkb| {}).unwrap_err(),
            Errno::EINVAL
        );
        netlink_kernel_release(&k);
        let k = netlink_kernel_create(19, |_skb: &NetlinkSkb| {}).unwrap();
        netlink_kernel_release(&k);
    }

    #[test]
    fn open_without_kernel_socket_is_eprotonosupport() {
        assert_eq!(
            NetlinkUserSock::open(18).unwrap_err(),
            Errno::EPROTONOSUPPORT
        );
        assert_eq!(
            NetlinkUserSock::open(-3).unwrap_err(),
            Errno::EPROTONOSUPPORT
        );
        assert_eq!(
            NetlinkUserSock::open(99).unwrap_err(),
            Errno::EPROTONOSUPPORT
        );
    }

    #[test]
    fn blocking_recvmsg_wakes_on_unicast_from_other_thread() {
        let (k, _seen) = recording_kernel(15);
        let u = NetlinkUserSock::open(15).unwrap();
        let pid = u.portid();
        let m = nlmsg_build(NLMSG_DONE, 0, 42, pid, b"wake");
        let k2 = Arc::clone(&k);
        let m2 = m.clone();
        let t = thread::spawn(move || {
            thread::sleep(Duration::from_millis(30));
            netlink_unicast(&k2, &m2, pid, false)
        });
        assert!(readable(&u, 1500));
        let mut buf = [0u8; 64];
        assert_eq!(u.recvmsg(&mut buf), Ok(20));
        assert_eq!(&buf[..20], &m[..]);
        assert_eq!(t.join().unwrap(), Ok(20));
        u.set_nonblocking(true).unwrap();
        u.set_nonblocking(true).unwrap();
        assert!(is_nonblocking(&u), "setting it twice keeps it");
        assert_eq!(u.recvmsg(&mut buf), Err(Errno::EAGAIN));
        u.set_nonblocking(false).unwrap();
        let fl = OFlag::from_bits_retain(fcntl(u.as_fd(), FcntlArg::F_GETFL).unwrap());
        assert!(!fl.contains(OFlag::O_NONBLOCK));
        let fdfl = fcntl(u.as_fd(), FcntlArg::F_GETFD).unwrap();
        assert_ne!(fdfl & libc::FD_CLOEXEC, 0);
        netlink_kernel_release(&k);
    }
}
