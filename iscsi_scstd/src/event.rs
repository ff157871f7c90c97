// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2007 - 2016 Vladislav Bolkhovitin
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! The daemon's end of the netlink event channel: the port of `iscsi-scst/usr/event.c` for the
//! procfs build — opening the channel ([`nl_open`]), reading one message ([`nl_read`]) and
//! handling the kernel's events ([`handle_iscsi_events`]). In the procfs build the only event
//! is `E_CONN_CLOSE`: the driver closed a connection it had been handed, and the daemon frees
//! its record of it (and the session, when that was its last connection).
//!
//! Adapted for the port:
//! - The socket is [`kemu::netlink::NetlinkUserSock`] (scst-reference.md §5.5,
//!   docs/ARCHITECTURE.md §3); `nl_open_unit` takes the netlink unit so that tests can serve
//!   their own fake kernel socket.
//! - End-of-file on the socket (the kernel socket was released: "module" shutdown) is
//!   [`EventsResult::Shutdown`], on which the event loop ends and the daemon exits, as the C
//!   usermode adaptation does. Upstream C would go on to handle an uninitialised event.
//! - C calls `exit()` on a read error or an unknown event code; here they are `Err` for the
//!   caller (the event loop) to end on.
//! - The sysfs-build events (`E_ADD_TARGET` … `E_SET_ATTR_VALUE`) and their helpers are not
//!   needed: they are compiled out of the procfs build.
#![doc(alias = "event.c")]

use std::io::IoSliceMut;

use iscsi_scst::abi::{iscsi_kern_event, E_CONN_CLOSE, NETLINK_ISCSI_SCST};
use kemu::netlink::{nlmsg_align, nlmsg_build, nlmsg_space, NetlinkUserSock, NLMSG_HDRLEN};
use kemu::Errno;
use zerocopy::FromBytes;

use crate::conn::conn_free;
use crate::iscsid::Daemon;
use crate::session::{conn_find, session_find_id, session_free};

/// C: event.c nl_write(): sends `data` to the kernel (port id 0) as one netlink message of
/// type 0 whose `nlmsg_pid` is the process id, padded to a multiple of 4.
fn nl_write(sock: &NetlinkUserSock, data: &[u8]) -> Result<usize, Errno> {
    let msg = nlmsg_build(0, 0, 0, std::process::id(), data);
    debug_assert_eq!(msg.len(), nlmsg_space(data.len()));
    sock.sendmsg(&msg)
}

/// C: event.c nl_read(): receives one message into a 16-byte header and `data` (whose length
/// should be a multiple of 4, `NLMSG_ALIGN(len)` in C). Returns the payload length, or `None` at
/// end-of-file (the kernel side is gone). A message shorter than a header is `EPIPE`; a payload
/// shorter than `data` is only logged, as in C. `EAGAIN` when `!wait` and nothing is queued.
pub fn nl_read(
    sock: &NetlinkUserSock,
    data: &mut [u8],
    wait: bool,
) -> Result<Option<usize>, Errno> {
    let mut hdr = [0u8; NLMSG_HDRLEN];
    let expected = data.len();
    let res = {
        let mut iov = [IoSliceMut::new(&mut hdr), IoSliceMut::new(data)];
        sock.recvmsg_iov(&mut iov, !wait)?
    };
    if res == 0 {
        return Ok(None);
    }
    let Some(payload) = res.checked_sub(NLMSG_HDRLEN) else {
        return Err(Errno::EPIPE);
    };
    if payload < expected {
        log::error!(
            "read netlink fd ({}) error: received {payload} bytes but expected {expected} bytes",
            sock.unit()
        );
    }
    Ok(Some(payload))
}

/// What one call of [`handle_iscsi_events`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventsResult {
    /// An event was handled (C returns 0).
    Handled,
    /// Nothing was queued (C returns `EAGAIN`).
    Again,
    /// End-of-file: the kernel part released its socket — "kernel module shutdown, daemon
    /// exits" (the usermode adaptation's stop signal).
    Shutdown,
}

/// C: event.c handle_iscsi_events(): reads and handles the kernel's events until one is
/// handled. `E_CONN_CLOSE` frees the daemon's connection ([`conn_free`]) and, if it was the
/// session's last one, the session ([`session_free`], which also gives back the target's
/// `sessions_count`). An event for a session or connection the daemon does not know is logged
/// and the next message read, as in C.
///
/// Errors (C exits): a failed read, a truncated header (`EPIPE`), an unknown event code
/// (`EBADMSG`: the channel is out of step).
pub fn handle_iscsi_events(d: &mut Daemon, wait: bool) -> Result<EventsResult, Errno> {
    const _: () = assert!(size_of::<iscsi_kern_event>().is_multiple_of(4));

    loop {
        let mut buf = vec![0u8; nlmsg_align(size_of::<iscsi_kern_event>())];
        let Some(sock) = d.nl_fd.as_ref() else {
            return Err(Errno::EBADF);
        };
        match nl_read(sock, &mut buf, wait) {
            Ok(None) => {
                log::info!("kernel module shutdown -- daemon exits");
                return Ok(EventsResult::Shutdown);
            }
            Ok(Some(_)) => {}
            Err(Errno::EAGAIN) => return Ok(EventsResult::Again),
            Err(e) => {
                log::error!("read netlink fd failed: {}", e.desc());
                return Err(e);
            }
        }
        let event = iscsi_kern_event::read_from_prefix(&buf)
            .map(|(e, _)| e)
            .map_err(|_| Errno::EPIPE)?;

        log::debug!(
            "target {}, session {:#x}, conn {}, code {}, cookie {}",
            event.tid,
            event.sid,
            event.cid,
            event.code,
            event.cookie
        );

        match event.code {
            E_CONN_CLOSE => {
                let Some(session) = session_find_id(d, event.tid, event.sid) else {
                    log::error!("Session {:#x} not found", event.sid);
                    continue;
                };
                let Some(conn) = u16::try_from(event.cid)
                    .ok()
                    .and_then(|cid| conn_find(d, session, cid))
                else {
                    log::error!(
                        "Connection {:x} for session {:#x} not found",
                        event.cid,
                        event.sid
                    );
                    continue;
                };

                conn_free(d, conn);

                if session_find_id(d, event.tid, event.sid).is_some_and(|s| s.conn_list.is_empty())
                {
                    session_free(d, event.tid, event.sid);
                }
                return Ok(EventsResult::Handled);
            }
            code => {
                log::error!("Unknown event {code}");
                return Err(Errno::EBADMSG);
            }
        }
    }
}

/// C: event.c nl_open(): opens the netlink channel `NETLINK_ISCSI_SCST` and sends the empty
/// registration message, by which the driver learns the daemon's port id.
pub fn nl_open() -> Result<NetlinkUserSock, Errno> {
    nl_open_unit(NETLINK_ISCSI_SCST)
}

/// [`nl_open`] on netlink unit `unit` (tests serve a fake kernel socket on a unit of their
/// own).
pub(crate) fn nl_open_unit(unit: i32) -> Result<NetlinkUserSock, Errno> {
    let sock = NetlinkUserSock::open(unit).inspect_err(|e| log::error!("nl_open {}", e.desc()))?;
    if let Err(e) = nl_write(&sock, &[]) {
        log::error!("nl_open {}", kemu::errno_neg(e));
        return Err(e);
    }
    Ok(sock)
}

/// A kernel-side `E_CONN_CLOSE` message as the driver frames it (for tests of this crate).
#[cfg(test)]
pub(crate) fn conn_close_msg(seq: u32, tid: u32, sid: u64, cid: u32) -> Vec<u8> {
    use zerocopy::{FromZeros, IntoBytes};
    let mut ev = iscsi_kern_event::new_zeroed();
    ev.tid = tid;
    ev.sid = sid;
    ev.cid = cid;
    ev.code = E_CONN_CLOSE;
    nlmsg_build(kemu::netlink::NLMSG_DONE, 0, seq, 0, ev.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::conn_alloc;
    use crate::ctldev::fake::{daemon_with_fake, Call};
    use crate::session::session_create;
    use crate::target::{target_add, target_create};
    use kemu::netlink::{
        netlink_kernel_create, netlink_kernel_release, netlink_unicast, nlmsg_parse, NetlinkSkb,
    };
    use std::sync::{Arc, Mutex};
    use zerocopy::{FromZeros, IntoBytes};

    // Netlink units are process-wide: each test uses its own.
    const UNIT_OPEN: i32 = 20;
    const UNIT_CLOSE: i32 = 21;
    const UNIT_EOF: i32 = 22;

    #[test]
    fn nl_open_sends_empty_registration() {
        let seen: Arc<Mutex<Vec<NetlinkSkb>>> = Arc::default();
        let s2 = Arc::clone(&seen);
        let k = netlink_kernel_create(UNIT_OPEN, move |skb: &NetlinkSkb| {
            s2.lock().unwrap().push(skb.clone())
        })
        .unwrap();
        let sock = nl_open_unit(UNIT_OPEN).unwrap();
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].portid(), sock.portid());
        let (hdr, payload) = nlmsg_parse(seen[0].data()).unwrap();
        assert_eq!(hdr.nlmsg_len, 16);
        assert_eq!(hdr.nlmsg_pid, std::process::id());
        assert!(payload.is_empty());
        netlink_kernel_release(&k);
        assert_eq!(nl_open_unit(UNIT_OPEN).unwrap_err(), Errno::EPROTONOSUPPORT);
    }

    #[test]
    fn conn_close_frees_conn_then_session() {
        let (mut d, fake) = daemon_with_fake("event-conn-close");
        let portid = Arc::new(Mutex::new(0u32));
        let p2 = Arc::clone(&portid);
        let k = netlink_kernel_create(UNIT_CLOSE, move |skb: &NetlinkSkb| {
            *p2.lock().unwrap() = skb.portid()
        })
        .unwrap();
        let sock = nl_open_unit(UNIT_CLOSE).unwrap();
        sock.set_nonblocking(true).unwrap();
        d.nl_fd = Some(sock);
        let portid = *portid.lock().unwrap();

        let t = target_create(&d, "iqn.t");
        let tid = target_add(&mut d, t, 0, 0).unwrap();
        let mut hs = Vec::new();
        for cid in [1u16, 2] {
            let h = conn_alloc(&mut d);
            let c = d.conn_mut(h).unwrap();
            c.tid = tid;
            c.initiator = Some("iqn.i".into());
            c.cid = cid;
            hs.push(h);
        }
        d.targets_list[0].sessions_count = 1;
        session_create(&mut d, hs[0]).unwrap();
        let sid = d.conn(hs[0]).unwrap().sess.unwrap();
        // The second connection joins the session.
        d.conn_mut(hs[1]).unwrap().sess = Some(sid);
        d.targets_list[0].sessions_list[0].conn_list.push(hs[1]);
        fake.take();

        assert_eq!(handle_iscsi_events(&mut d, false), Ok(EventsResult::Again));

        // Unknown session, then unknown cid: skipped; the next message is handled.
        for (seq, (t, s, c)) in [(tid, sid + 1, 1), (tid, sid, 9), (tid, sid, 1)]
            .into_iter()
            .enumerate()
        {
            let msg = conn_close_msg(u32::try_from(seq).unwrap(), t, s, c);
            netlink_unicast(&k, &msg, portid, false).unwrap();
        }
        assert_eq!(
            handle_iscsi_events(&mut d, false),
            Ok(EventsResult::Handled)
        );
        assert!(d.conn(hs[0]).is_none());
        assert!(d.conn(hs[1]).is_some());
        assert_eq!(d.targets_list[0].sessions_list.len(), 1);
        assert!(fake.take().is_empty());

        netlink_unicast(&k, &conn_close_msg(3, tid, sid, 2), portid, false).unwrap();
        assert_eq!(handle_iscsi_events(&mut d, true), Ok(EventsResult::Handled));
        assert!(d.connections.is_empty());
        assert!(d.targets_list[0].sessions_list.is_empty());
        assert_eq!(d.targets_list[0].sessions_count, 0);
        assert!(matches!(fake.take()[..], [Call::DelSession(_)]));

        // An unknown code puts the channel out of step.
        let mut ev = iscsi_kern_event::new_zeroed();
        ev.code = 7;
        let msg = nlmsg_build(kemu::netlink::NLMSG_DONE, 0, 4, 0, ev.as_bytes());
        netlink_unicast(&k, &msg, portid, false).unwrap();
        assert_eq!(handle_iscsi_events(&mut d, false), Err(Errno::EBADMSG));
        netlink_kernel_release(&k);
    }

    #[test]
    fn eof_is_shutdown() {
        let mut d = Daemon::new();
        assert_eq!(handle_iscsi_events(&mut d, false), Err(Errno::EBADF));
        let k = netlink_kernel_create(UNIT_EOF, |_: &NetlinkSkb| {}).unwrap();
        d.nl_fd = Some(nl_open_unit(UNIT_EOF).unwrap());
        netlink_kernel_release(&k);
        assert_eq!(
            handle_iscsi_events(&mut d, true),
            Ok(EventsResult::Shutdown)
        );
    }
}
