// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2005 FUJITA Tomonori <tomof@acm.org>
// Copyright (C) 2007 - 2016 Vladislav Bolkhovitin
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! The driver's end of the netlink event channel to the daemon: the port of
//! `iscsi-scst/kernel/event.c` for the procfs build.
//!
//! [`event_init`] creates the kernel netlink socket of unit
//! [`NETLINK_ISCSI_SCST`](crate::abi::NETLINK_ISCSI_SCST); the daemon registers by sending it one
//! empty message, whose sender port id `event_recv_skb()` records as `iscsid_pid`; from then on
//! [`event_send`] unicasts each [`iscsi_kern_event`] to that port id as a netlink message of type
//! `NLMSG_DONE` with an increasing `nlmsg_seq`, followed by the non-empty parameter strings, each
//! its own message (scst-reference.md §5.5, docs/ARCHITECTURE.md §3). [`event_exit`] releases the
//! socket; the daemon then reads end-of-file and exits.
//!
//! State: the C file's statics (`nl`, `iscsid_pid`, `event_mutex` and the `seq` counter it
//! protects) form one process-wide [`EventModule`] instance, as in the kernel, so that
//! [`event_send`] keeps C's signature and the connection code can call it without a handle.
//! [`event_init_unit`] is [`event_init`] on any netlink unit, for tests (the netlink registry is
//! process-wide, so only one unit is served at a time).
//!
//! Adapted for the port:
//! - [`event_send`] returns `Ok(())` where C returns the (positive) byte count of the last
//!   message sent, and also where C returns 0 because the control device is not open and nothing
//!   was sent; errors are C's (negated) error numbers.
//! - When no daemon has registered yet (`iscsid_pid` still 0) sending fails with `ECONNREFUSED`:
//!   no daemon socket has port id 0. The kernel would instead loop the message back into its own
//!   input callback (port id 0 is the kernel socket), warn and report success.
//! - The event is zero-filled; C leaves `target_name` and the padding of its on-stack
//!   `struct iscsi_kern_event` uninitialised.
//! - `ctr_open_state` and `ISCSI_CTR_OPEN_STATE_*` live here until `config.c` and `iscsi.h`
//!   are ported.
//! - `netlink_ack()` is a private helper here because `kemu::netlink` has none; the daemon never
//!   asks for an acknowledgement.
//! - The code for kernels before 2.6.24 (`event_recv()`) and the `#ifndef CONFIG_SCST_PROC`
//!   parts are not needed.
//!
//! [`event_init`]: crate::event::event_init
//! [`event_init_unit`]: crate::event::event_init_unit
//! [`event_send`]: crate::event::event_send
//! [`event_exit`]: crate::event::event_exit
//! [`EventModule`]: crate::event::EventModule
//! [`iscsi_kern_event`]: crate::abi::iscsi_kern_event
#![doc(alias = "event.c")]

use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::sync::Arc;

use kemu::netlink::{
    netlink_kernel_create, netlink_kernel_release, netlink_unicast, nlmsg_align, nlmsg_build,
    nlmsg_parse, nlmsg_space, NetlinkKernelSock, NetlinkSkb, NlMsgHdr, NLMSG_DONE, NLMSG_ERROR,
    NLMSG_HDRLEN, NLM_F_ACK,
};
use kemu::sync::Mutex;
use kemu::{Errno, PRINT_ERROR};
use zerocopy::IntoBytes;

use crate::abi::{iscsi_kern_event, NETLINK_ISCSI_SCST};

// ---------------------------------------------------------------------------------------------
// Control-device state (C: `iscsi.h` / `config.c`; here until those are ported)
// ---------------------------------------------------------------------------------------------

/// C `ISCSI_CTR_OPEN_STATE_CLOSED` (`iscsi.h`): no daemon holds the control device.
pub const ISCSI_CTR_OPEN_STATE_CLOSED: i32 = 0;
/// C `ISCSI_CTR_OPEN_STATE_OPEN` (`iscsi.h`): the daemon holds the control device.
pub const ISCSI_CTR_OPEN_STATE_OPEN: i32 = 1;
/// C `ISCSI_CTR_OPEN_STATE_CLOSING` (`iscsi.h`): the control device is being released.
pub const ISCSI_CTR_OPEN_STATE_CLOSING: i32 = 2;

/// C `ctr_open_state` (`config.c`): one of `ISCSI_CTR_OPEN_STATE_*`; events are sent only while
/// it is [`ISCSI_CTR_OPEN_STATE_OPEN`]. Set by the control device's open and release.
#[allow(non_upper_case_globals)]
pub static ctr_open_state: AtomicI32 = AtomicI32::new(ISCSI_CTR_OPEN_STATE_CLOSED);

// ---------------------------------------------------------------------------------------------
// Module state
// ---------------------------------------------------------------------------------------------

/// C: the statics of `event.c` — the netlink socket, the daemon's port id, and the mutex that
/// serialises [`event_send`] together with the sequence counter it protects. One process-wide
/// instance, like the kernel module's.
#[derive(Debug)]
pub struct EventModule {
    /// C `nl`: the kernel netlink socket; `None` before [`event_init`] and after
    /// [`event_exit`].
    nl: Mutex<Option<Arc<NetlinkKernelSock>>>,
    /// C `iscsid_pid`: the port id of the daemon's socket (0: none registered yet). Written by
    /// the input callback without a lock, as in C.
    iscsid_pid: AtomicU32,
    /// C `event_mutex` (a static of `event_send()`) with the `seq` static of `__event_send()`,
    /// which it protects.
    event_mutex: Mutex<u32>,
}

/// The one instance of [`EventModule`] (C: the module's statics).
static EVENT: EventModule = EventModule {
    nl: Mutex::new(None),
    iscsid_pid: AtomicU32::new(0),
    event_mutex: Mutex::new(0),
};

/// C: the value of `iscsid_pid` — the port id of the registered daemon socket, 0 if none has
/// registered since [`event_init`].
pub fn iscsid_pid() -> u32 {
    EVENT.iscsid_pid.load(Ordering::Acquire)
}

// ---------------------------------------------------------------------------------------------
// Receive side
// ---------------------------------------------------------------------------------------------

/// C: event.c event_recv_msg(): records the sender's port id as `iscsid_pid` (a zero port id,
/// which a daemon socket never has, is warned about and recorded anyway, as in C).
fn event_recv_msg(skb: &NetlinkSkb, _nlh: &NlMsgHdr) -> Result<(), Errno> {
    let pid = skb.portid();
    if pid == 0 {
        log::warn!("WARN_ON(pid == 0): event message from port id 0");
    }
    EVENT.iscsid_pid.store(pid, Ordering::Release);
    Ok(())
}

/// C `NLM_F_CAPPED`: the acknowledgement carries only the request's header.
const NLM_F_CAPPED: u16 = 0x100;

/// C `netlink_ack(skb, nlh, err)` (kernel, `af_netlink.c`): answers the request `msg` (header and
/// payload as sent) with an `NLMSG_ERROR` message carrying `err` and the request's header (the
/// whole request when `err` is non-zero), sent to the requester without waiting. Failures are
/// ignored, as in the kernel.
fn netlink_ack(skb: &NetlinkSkb, nlh: &NlMsgHdr, msg: &[u8], err: i32) {
    let Some(nl) = EVENT.nl.lock().clone() else {
        return;
    };
    let (echo, flags) = if err == 0 {
        (&msg[..NLMSG_HDRLEN.min(msg.len())], NLM_F_CAPPED)
    } else {
        (msg, 0)
    };
    let mut payload = Vec::with_capacity(4 + echo.len());
    payload.extend_from_slice(&err.to_ne_bytes());
    payload.extend_from_slice(echo);
    let ack = nlmsg_build(NLMSG_ERROR, flags, nlh.nlmsg_seq, skb.portid(), &payload);
    if let Err(e) = netlink_unicast(&nl, &ack, skb.portid(), true) {
        log::debug!("netlink_ack() to port id {} failed: {e}", skb.portid());
    }
}

/// C: event.c event_recv_skb() — the kernel socket's `input` callback, run in the daemon's
/// sending thread: walks the netlink messages in `skb`, stopping at the first malformed one,
/// hands each to `event_recv_msg()` and acknowledges it when that fails or the sender asked
/// for it (`NLM_F_ACK`).
fn event_recv_skb(skb: &NetlinkSkb) {
    let mut data = skb.data();
    while data.len() >= nlmsg_space(0) {
        // `nlmsg_parse` rejects `nlmsg_len` below a header or beyond the remaining bytes.
        let Ok((nlh, _payload)) = nlmsg_parse(data) else {
            return;
        };
        let len = nlh.nlmsg_len as usize;
        let rlen = nlmsg_align(len).min(data.len());
        match event_recv_msg(skb, &nlh) {
            // C passes `-err` of a negative error, i.e. the positive errno (unreachable:
            // event_recv_msg() never fails).
            Err(e) => netlink_ack(skb, &nlh, &data[..len], e as i32),
            Ok(()) if nlh.nlmsg_flags & NLM_F_ACK != 0 => netlink_ack(skb, &nlh, &data[..len], 0),
            Ok(()) => {}
        }
        data = &data[rlen..];
    }
}

// ---------------------------------------------------------------------------------------------
// Send side
// ---------------------------------------------------------------------------------------------

/// C: event.c __event_send() — sends `buf` to the daemon as one `NLMSG_DONE` message with the
/// next sequence number. The caller holds `event_mutex`, whose guarded counter is `seq`
/// (incremented even when the send fails, as in C). Returns the bytes queued, or 0 without
/// sending anything when the control device is not open. `ECONNREFUSED` when no daemon socket
/// has port id `iscsid_pid` (none registered, closed, or the socket released).
fn __event_send(seq: &mut u32, buf: &[u8]) -> Result<usize, Errno> {
    if ctr_open_state.load(Ordering::Acquire) != ISCSI_CTR_OPEN_STATE_OPEN {
        return Ok(0);
    }
    let Some(nl) = EVENT.nl.lock().clone() else {
        log::debug!("__event_send(): no netlink socket (event_init() not called)");
        return Err(Errno::ECONNREFUSED);
    };
    let pid = EVENT.iscsid_pid.load(Ordering::Acquire);
    let msg = nlmsg_build(NLMSG_DONE, 0, *seq, pid, buf);
    *seq = seq.wrapping_add(1);
    match netlink_unicast(&nl, &msg, pid, false) {
        Ok(n) => Ok(n),
        Err(Errno::ECONNREFUSED) => {
            log::debug!(
                "netlink_unicast() failed: Connection refused. Not functioning user space?"
            );
            Err(Errno::ECONNREFUSED)
        }
        Err(e) => {
            PRINT_ERROR!("netlink_unicast() failed: {}", -(e as i32));
            Err(e)
        }
    }
}

/// C `strlen()` of a parameter: the bytes before the first NUL.
fn param_bytes(param: Option<&str>) -> &[u8] {
    let b = param.map_or(&[][..], str::as_bytes);
    b.iter().position(|&c| c == 0).map_or(b, |n| &b[..n])
}

/// C: event.c event_send() — tells the daemon about an event: the [`iscsi_kern_event`] `{tid,
/// sid, cid, code, cookie, param1_size, param2_size}` (`target_name` zero), then `param1` and
/// `param2` (without their NULs; a string is cut at an embedded NUL, C's `strlen`) each as its
/// own message when non-empty. Serialised by `event_mutex`. Stops at the first message that
/// fails or is not sent.
///
/// `Ok(())` also when nothing was sent because the control device is not open (C returns 0);
/// `ECONNREFUSED` when the daemon is not connected; `EINVAL` for a parameter of 4 GiB or more.
pub fn event_send(
    tid: u32,
    sid: u64,
    cid: u32,
    cookie: u32,
    code: u32,
    param1: Option<&str>,
    param2: Option<&str>,
) -> Result<(), Errno> {
    let param1 = param_bytes(param1);
    let param2 = param_bytes(param2);
    let event = iscsi_kern_event {
        tid,
        sid,
        cid,
        code,
        cookie,
        param1_size: u32::try_from(param1.len()).map_err(|_| Errno::EINVAL)?,
        param2_size: u32::try_from(param2.len()).map_err(|_| Errno::EINVAL)?,
        ..iscsi_kern_event::default()
    };

    let mut seq = EVENT.event_mutex.lock();
    if __event_send(&mut seq, event.as_bytes())? == 0 {
        return Ok(());
    }
    if !param1.is_empty() && __event_send(&mut seq, param1)? == 0 {
        return Ok(());
    }
    if !param2.is_empty() {
        __event_send(&mut seq, param2)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Init / exit
// ---------------------------------------------------------------------------------------------

/// C: event.c event_init() — creates the kernel netlink socket of unit `NETLINK_ISCSI_SCST`
/// (25) with `event_recv_skb()` as its input; see [`event_init_unit`].
pub fn event_init() -> Result<(), Errno> {
    event_init_unit(NETLINK_ISCSI_SCST)
}

/// C: event.c event_init() on netlink unit `unit` (tests serve their own units). Starts like a
/// freshly loaded module: `iscsid_pid` and the sequence counter are 0. `ENOMEM` (C's error) if
/// the socket cannot be created (the unit is taken or out of range); `EBUSY` if the module
/// state already holds a socket (C would overwrite it).
pub fn event_init_unit(unit: i32) -> Result<(), Errno> {
    let mut nl = EVENT.nl.lock();
    if nl.is_some() {
        PRINT_ERROR!("event_init(): netlink socket already created");
        return Err(Errno::EBUSY);
    }
    let sock = netlink_kernel_create(unit, event_recv_skb).map_err(|e| {
        PRINT_ERROR!("netlink_kernel_create() failed ({e})");
        Errno::ENOMEM
    })?;
    EVENT.iscsid_pid.store(0, Ordering::Release);
    *EVENT.event_mutex.lock() = 0;
    *nl = Some(sock);
    Ok(())
}

/// C: event.c event_exit() — releases the netlink socket: the daemon reads what was queued,
/// then end-of-file; later [`event_send`] calls fail with `ECONNREFUSED`. Does nothing if there
/// is no socket.
pub fn event_exit() {
    let nl = EVENT.nl.lock().take();
    if let Some(nl) = nl {
        netlink_kernel_release(&nl);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::{E_CONN_CLOSE, ISCSI_NAME_LEN};
    use core::mem::{offset_of, size_of};
    use kemu::netlink::{NetlinkUserSock, NLM_F_REQUEST};
    use std::io::IoSliceMut;

    /// Tests share the process-wide state; they run one at a time on units 30–31.
    static SERIAL: Mutex<()> = Mutex::new(());

    const UNIT: i32 = 30;
    const UNIT2: i32 = 31;

    /// Holds the test lock; on drop (also after a failed assertion) releases the socket and
    /// closes the control device.
    struct Fixture {
        _g: kemu::sync::MutexGuard<'static, ()>,
    }

    impl Fixture {
        fn new(unit: i32, open: bool) -> Fixture {
            let g = SERIAL.lock();
            event_exit();
            event_init_unit(unit).unwrap();
            ctr_open_state.store(
                if open {
                    ISCSI_CTR_OPEN_STATE_OPEN
                } else {
                    ISCSI_CTR_OPEN_STATE_CLOSED
                },
                Ordering::Release,
            );
            Fixture { _g: g }
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            event_exit();
            ctr_open_state.store(ISCSI_CTR_OPEN_STATE_CLOSED, Ordering::Release);
        }
    }

    /// The daemon: opens its socket and registers (iscsi-scstd's `nl_open()`).
    fn daemon(unit: i32) -> NetlinkUserSock {
        let u = NetlinkUserSock::open(unit).unwrap();
        let reg = nlmsg_build(0, 0, 0, std::process::id(), &[]);
        assert_eq!(u.sendmsg(&reg), Ok(16));
        u.set_nonblocking(true).unwrap();
        u
    }

    fn recv(u: &NetlinkUserSock) -> Vec<u8> {
        let mut buf = vec![0u8; 4096];
        let n = u.recvmsg(&mut buf).unwrap();
        buf.truncate(n);
        buf
    }

    fn header(len: usize, seq: u32, pid: u32) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(&u32::try_from(len).unwrap().to_ne_bytes());
        h.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
        h.extend_from_slice(&0u16.to_ne_bytes());
        h.extend_from_slice(&seq.to_ne_bytes());
        h.extend_from_slice(&pid.to_ne_bytes());
        h
    }

    /// The event bytes as C lays them out, written field by field.
    #[allow(clippy::too_many_arguments)]
    fn event_bytes(
        tid: u32,
        sid: u64,
        cid: u32,
        code: u32,
        cookie: u32,
        p1: u32,
        p2: u32,
    ) -> Vec<u8> {
        let mut b = vec![0u8; size_of::<iscsi_kern_event>()];
        let mut put = |off: usize, v: &[u8]| b[off..off + v.len()].copy_from_slice(v);
        put(offset_of!(iscsi_kern_event, tid), &tid.to_ne_bytes());
        put(offset_of!(iscsi_kern_event, sid), &sid.to_ne_bytes());
        put(offset_of!(iscsi_kern_event, cid), &cid.to_ne_bytes());
        put(offset_of!(iscsi_kern_event, code), &code.to_ne_bytes());
        put(offset_of!(iscsi_kern_event, cookie), &cookie.to_ne_bytes());
        put(offset_of!(iscsi_kern_event, param1_size), &p1.to_ne_bytes());
        put(offset_of!(iscsi_kern_event, param2_size), &p2.to_ne_bytes());
        b
    }

    #[test]
    fn registration_records_portid() {
        let _f = Fixture::new(UNIT, true);
        assert_eq!(iscsid_pid(), 0);
        // A malformed message (nlmsg_len below a header) is ignored.
        let mut bad = nlmsg_build(0, 0, 0, 0, &[]);
        bad[..4].copy_from_slice(&8u32.to_ne_bytes());
        let u = NetlinkUserSock::open(UNIT).unwrap();
        assert_eq!(u.sendmsg(&bad), Ok(16));
        assert_eq!(u.sendmsg(&[0u8; 15]), Ok(15));
        assert_eq!(iscsid_pid(), 0);
        // The empty registration message records the sender's port id.
        let reg = nlmsg_build(0, 0, 0, std::process::id(), &[]);
        assert_eq!(u.sendmsg(&reg), Ok(16));
        assert_eq!(iscsid_pid(), u.portid());
        // A second daemon socket takes over.
        let u2 = daemon(UNIT);
        assert_ne!(u2.portid(), u.portid());
        assert_eq!(iscsid_pid(), u2.portid());
        // No acknowledgement unless asked for.
        u.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(u.recvmsg(&mut buf), Err(Errno::EAGAIN));
    }

    #[test]
    fn ack_requested_is_nlmsg_error_zero_with_the_request_header() {
        let _f = Fixture::new(UNIT, true);
        let u = NetlinkUserSock::open(UNIT).unwrap();
        u.set_nonblocking(true).unwrap();
        // Two messages in one send: both are handled, each acknowledged.
        let mut req = nlmsg_build(0, NLM_F_REQUEST | NLM_F_ACK, 7, 1, b"abc");
        req.extend(nlmsg_build(0, NLM_F_ACK, 8, 1, &[]));
        assert_eq!(u.sendmsg(&req), Ok(36));
        assert_eq!(iscsid_pid(), u.portid());
        for (seq, hdr) in [(7u32, &req[..16]), (8, &req[20..36])] {
            let ack = recv(&u);
            let (h, payload) = nlmsg_parse(&ack).unwrap();
            assert_eq!(h.nlmsg_type, NLMSG_ERROR);
            assert_eq!(h.nlmsg_flags, NLM_F_CAPPED);
            assert_eq!(h.nlmsg_seq, seq);
            assert_eq!(h.nlmsg_pid, u.portid());
            assert_eq!(&payload[..4], &0i32.to_ne_bytes());
            assert_eq!(&payload[4..], hdr);
        }
        let mut buf = [0u8; 64];
        assert_eq!(u.recvmsg(&mut buf), Err(Errno::EAGAIN));
    }

    #[test]
    fn conn_close_event_exact_bytes_and_increasing_seq() {
        let _f = Fixture::new(UNIT, true);
        let u = daemon(UNIT);
        let pid = u.portid();
        let size = size_of::<iscsi_kern_event>();
        assert_eq!(size % 4, 0);
        event_send(3, 0x0123_4567_89ab_cdef, 9, 0, E_CONN_CLOSE, None, None).unwrap();
        event_send(4, 2, 10, 5, E_CONN_CLOSE, None, None).unwrap();
        for (seq, ev) in [
            (
                0,
                event_bytes(3, 0x0123_4567_89ab_cdef, 9, E_CONN_CLOSE, 0, 0, 0),
            ),
            (1, event_bytes(4, 2, 10, E_CONN_CLOSE, 5, 0, 0)),
        ] {
            let m = recv(&u);
            let mut want = header(16 + size, seq, pid);
            want.extend_from_slice(&ev);
            assert_eq!(m, want, "seq {seq}");
            let name = offset_of!(iscsi_kern_event, target_name);
            assert!(m[16 + name..16 + name + ISCSI_NAME_LEN]
                .iter()
                .all(|&b| b == 0));
        }
        let mut buf = [0u8; 64];
        assert_eq!(u.recvmsg(&mut buf), Err(Errno::EAGAIN));
    }

    #[test]
    fn params_arrive_as_separate_padded_messages() {
        let _f = Fixture::new(UNIT, true);
        let u = daemon(UNIT);
        let pid = u.portid();
        event_send(
            1,
            2,
            3,
            77,
            E_CONN_CLOSE,
            Some("abcde"),
            Some("xy\0ignored"),
        )
        .unwrap();
        // Read as iscsi-scstd's nl_read() does: a header iovec, then NLMSG_ALIGN(len) bytes.
        let read = |len: usize| {
            let mut hdr = [0u8; NLMSG_HDRLEN];
            let mut data = vec![0u8; nlmsg_align(len)];
            let n = {
                let mut iov = [IoSliceMut::new(&mut hdr), IoSliceMut::new(&mut data)];
                u.recvmsg_iov(&mut iov, true).unwrap()
            };
            assert_eq!(n, NLMSG_HDRLEN + nlmsg_align(len));
            (hdr, data)
        };
        let (h, ev) = read(size_of::<iscsi_kern_event>());
        assert_eq!(&h[..], &header(16 + ev.len(), 0, pid)[..]);
        assert_eq!(ev, event_bytes(1, 2, 3, E_CONN_CLOSE, 77, 5, 2));
        let (h, p1) = read(5);
        assert_eq!(&h[..], &header(21, 1, pid)[..]);
        assert_eq!(p1, b"abcde\0\0\0");
        let (h, p2) = read(2);
        assert_eq!(&h[..], &header(18, 2, pid)[..]);
        assert_eq!(p2, b"xy\0\0");
        // Empty parameters send nothing after the event.
        event_send(1, 2, 3, 0, E_CONN_CLOSE, Some(""), Some("z")).unwrap();
        let (h, ev) = read(size_of::<iscsi_kern_event>());
        assert_eq!(&h[..], &header(16 + ev.len(), 3, pid)[..]);
        assert_eq!(ev, event_bytes(1, 2, 3, E_CONN_CLOSE, 0, 0, 1));
        let (h, p2) = read(1);
        assert_eq!(&h[..], &header(17, 4, pid)[..]);
        assert_eq!(p2, b"z\0\0\0");
        let mut buf = [0u8; 64];
        assert_eq!(u.recvmsg(&mut buf), Err(Errno::EAGAIN));
    }

    #[test]
    fn send_without_daemon_is_econnrefused_and_still_counts_seq() {
        let _f = Fixture::new(UNIT, true);
        assert_eq!(
            event_send(1, 1, 1, 0, E_CONN_CLOSE, Some("p"), None),
            Err(Errno::ECONNREFUSED)
        );
        let u = daemon(UNIT);
        event_send(1, 1, 1, 0, E_CONN_CLOSE, None, None).unwrap();
        let (h, _) = nlmsg_parse(&recv(&u)).map(|(h, p)| (h, p.len())).unwrap();
        assert_eq!(h.nlmsg_seq, 1, "the failed send used seq 0");
        // A daemon that went away: refused again.
        drop(u);
        assert_eq!(
            event_send(1, 1, 1, 0, E_CONN_CLOSE, None, None),
            Err(Errno::ECONNREFUSED)
        );
    }

    #[test]
    fn control_device_not_open_sends_nothing() {
        let _f = Fixture::new(UNIT, false);
        let u = daemon(UNIT);
        assert_eq!(
            event_send(1, 1, 1, 0, E_CONN_CLOSE, Some("a"), Some("b")),
            Ok(())
        );
        ctr_open_state.store(ISCSI_CTR_OPEN_STATE_CLOSING, Ordering::Release);
        assert_eq!(event_send(1, 1, 1, 0, E_CONN_CLOSE, None, None), Ok(()));
        let mut buf = [0u8; 64];
        assert_eq!(u.recvmsg(&mut buf), Err(Errno::EAGAIN));
        // Nothing was sent, so no sequence number was used.
        ctr_open_state.store(ISCSI_CTR_OPEN_STATE_OPEN, Ordering::Release);
        event_send(1, 1, 1, 0, E_CONN_CLOSE, None, None).unwrap();
        assert_eq!(nlmsg_parse(&recv(&u)).unwrap().0.nlmsg_seq, 0);
    }

    #[test]
    fn event_exit_gives_daemon_eof() {
        let _f = Fixture::new(UNIT2, true);
        let u = daemon(UNIT2);
        event_send(5, 6, 7, 0, E_CONN_CLOSE, None, None).unwrap();
        event_exit();
        assert_eq!(recv(&u).len(), 16 + size_of::<iscsi_kern_event>());
        assert_eq!(recv(&u).len(), 0, "end-of-file after the queued event");
        assert_eq!(
            event_send(5, 6, 7, 0, E_CONN_CLOSE, None, None),
            Err(Errno::ECONNREFUSED)
        );
        assert_eq!(
            u.sendmsg(&nlmsg_build(0, 0, 0, 1, &[])),
            Err(Errno::ECONNREFUSED)
        );
        event_exit();
        // The unit is free again, and a new module starts from scratch.
        event_init_unit(UNIT2).unwrap();
        assert_eq!(iscsid_pid(), 0);
        let u2 = daemon(UNIT2);
        event_send(5, 6, 7, 0, E_CONN_CLOSE, None, None).unwrap();
        assert_eq!(nlmsg_parse(&recv(&u2)).unwrap().0.nlmsg_seq, 0);
    }

    #[test]
    fn init_errors() {
        let _f = Fixture::new(UNIT, true);
        assert_eq!(event_init_unit(UNIT2), Err(Errno::EBUSY));
        event_exit();
        // The unit is taken by another kernel socket: C's -ENOMEM.
        let other = netlink_kernel_create(UNIT2, |_skb: &NetlinkSkb| {}).unwrap();
        assert_eq!(event_init_unit(UNIT2), Err(Errno::ENOMEM));
        netlink_kernel_release(&other);
        assert_eq!(event_init_unit(-1), Err(Errno::ENOMEM));
        event_init_unit(UNIT2).unwrap();
    }
}
