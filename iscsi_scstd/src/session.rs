// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2002 - 2003 Ardis Technolgies <roman@ardistech.com>
// Copyright (C) 2007 - 2016 Vladislav Bolkhovitin
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! The daemon's sessions: the port of `iscsi-scst/usr/session.c` — creation with TSIH
//! allocation and `ADD_SESSION`, lookup, and freeing.
//!
//! A session lives in its target's [`Target::sessions_list`](crate::iscsid::Target) and is
//! identified there by its sid (`id64`, ISID + TSIH); the functions that C gives a
//! `struct session *` take the target id and the sid (see the ownership notes of
//! [`crate::iscsid`]).
//!
//! TSIHs come from one counter for the whole daemon ([`Daemon::tsih`], a function-level
//! static in C), starting at 1. A new session takes the counter's value, moves on past any
//! value that would give it the sid of another session of the same target, and the counter
//! continues after the value taken. As in C the counter is a 16-bit value that wraps, and 0 is
//! not skipped when it does.
#![doc(alias = "session.c")]

use kemu::Errno;

use crate::ctldev::{kernel_session_create, kernel_session_destroy};
use crate::iscsi_hdr::IscsiSid;
use crate::iscsid::{ConnHandle, Daemon, Session};
use crate::target::{target_find_by_id, target_find_by_id_mut};

/// C: session.c session_alloc(): appends an empty session of target `tid` to its session list
/// and returns its position there; `ENOENT` for an unknown target.
fn session_alloc(d: &mut Daemon, tid: u32) -> Result<usize, Errno> {
    let Some(target) = target_find_by_id_mut(d, tid) else {
        log::error!("tid {tid:x} not found");
        return Err(Errno::ENOENT);
    };

    target.sessions_list.push(Session {
        target: tid,
        ..Session::default()
    });

    Ok(target.sessions_list.len() - 1)
}

/// C: session.c session_find_name(): the session of target `tid` with the ISID of `sid` and
/// initiator `iname` (the TSIH is not compared): the session a login would reinstate.
pub fn session_find_name<'a>(
    d: &'a Daemon,
    tid: u32,
    iname: &str,
    sid: IscsiSid,
) -> Option<&'a Session> {
    let Some(target) = target_find_by_id(d, tid) else {
        log::error!("Target tid {tid} not found");
        return None;
    };

    log::debug!("Finding session {iname}, sid {:#x}", sid.id64());

    target
        .sessions_list
        .iter()
        .find(|s| s.sid.isid == sid.isid && s.initiator == iname)
}

/// C: session.c session_find_id(): the session of target `tid` whose sid is `sid`.
pub fn session_find_id(d: &Daemon, tid: u32, sid: u64) -> Option<&Session> {
    let target = target_find_by_id(d, tid)?;

    log::debug!("Searching for sid {sid:#x}");

    target.sessions_list.iter().find(|s| s.sid.id64() == sid)
}

/// C: session.c session_id_exists(): whether a session of target `tid` other than the one at
/// position `exclude` of its list has the sid `sid`.
fn session_id_exists(d: &Daemon, tid: u32, sid: u64, exclude: Option<usize>) -> bool {
    let Some(target) = target_find_by_id(d, tid) else {
        return false;
    };

    log::debug!("Searching for sid {sid:#x}");

    target
        .sessions_list
        .iter()
        .enumerate()
        .any(|(i, s)| s.sid.id64() == sid && Some(i) != exclude)
}

/// C: session.c session_create(): creates the session of connection `conn` at the end of its
/// login: a new session of target `conn.tid` with the connection's ISID and a fresh TSIH (see
/// the module doc), the connection as its first member (`conn.sess`), then `ADD_SESSION`.
///
/// If the driver refuses the session, the connection leaves it and it is freed with
/// [`session_free`] — which, as in C, also sends `DEL_SESSION` and decrements the target's
/// `sessions_count`. A connection without an initiator name (C would crash on the NULL) is
/// `EINVAL`, freed the same way.
pub fn session_create(d: &mut Daemon, conn: ConnHandle) -> Result<(), Errno> {
    let (tid, conn_sid, initiator) = {
        let c = d.conn(conn).ok_or(Errno::EINVAL)?;
        (c.tid, c.sid, c.initiator.clone())
    };

    let idx = match session_alloc(d, tid) {
        Ok(idx) => idx,
        Err(e) => {
            log::error!("session_alloc() failed: {}", kemu::errno_neg(e));
            return Err(e);
        }
    };

    let mut sid = conn_sid;
    sid.tsih = d.tsih.into();
    if let Some(target) = target_find_by_id_mut(d, tid) {
        let s = &mut target.sessions_list[idx];
        s.sid = sid;
        s.conn_list.push(conn);
    }

    let res = 'create: {
        let Some(initiator) = initiator else {
            log::error!("strdup() failed: {}", kemu::errno_neg(Errno::EINVAL));
            break 'create Err(Errno::EINVAL);
        };

        while session_id_exists(d, tid, sid.id64(), Some(idx)) {
            log::debug!("tsih {:x} already exists", sid.tsih.get());
            sid.tsih = sid.tsih.get().wrapping_add(1).into();
        }
        d.tsih = sid.tsih.get().wrapping_add(1);

        log::debug!("sid {:#x}", sid.id64());

        if let Some(target) = target_find_by_id_mut(d, tid) {
            let s = &mut target.sessions_list[idx];
            s.sid = sid;
            s.initiator = initiator;
        }
        if let Some(c) = d.conn_mut(conn) {
            c.sess = Some(sid.id64());
        }

        kernel_session_create(d, conn)
    };

    if res.is_err() {
        if let Some(target) = target_find_by_id_mut(d, tid) {
            target.sessions_list[idx].conn_list.retain(|&h| h != conn);
            debug_assert!(target.sessions_list[idx].conn_list.is_empty());
        }
        __session_free(d, tid, idx);
        if let Some(c) = d.conn_mut(conn) {
            c.sess = None;
        }
    }

    res
}

/// C: session.c session_free(): removes session `sid` from target `tid`: `DEL_SESSION` (its
/// result ignored), one less in the target's `sessions_count` (an unsigned count that wraps, as
/// in C), then out of the list. Its connections must already be gone.
pub fn session_free(d: &mut Daemon, tid: u32, sid: u64) {
    let pos = target_find_by_id(d, tid)
        .and_then(|t| t.sessions_list.iter().position(|s| s.sid.id64() == sid));
    if let Some(idx) = pos {
        __session_free(d, tid, idx);
    }
}

/// [`session_free`] of the session at position `idx` of target `tid`'s list (the session
/// `session_create()` is undoing may share its sid with another until its TSIH is settled).
fn __session_free(d: &mut Daemon, tid: u32, idx: usize) {
    let Some(sid) = target_find_by_id(d, tid)
        .and_then(|t| t.sessions_list.get(idx))
        .map(|s| s.sid.id64())
    else {
        return;
    };

    log::debug!("Freeing session sid {sid:#x}");

    let _ = kernel_session_destroy(d, tid, sid);

    if let Some(target) = target_find_by_id_mut(d, tid) {
        target.sessions_count = target.sessions_count.wrapping_sub(1);
        log::debug!(
            "target {}, sessions_count {}",
            target.name,
            target.sessions_count
        );
        target.sessions_list.remove(idx);
    }
}

/// C: session.c conn_find(): the connection of `session` with connection id `cid`.
pub fn conn_find(d: &Daemon, session: &Session, cid: u16) -> Option<ConnHandle> {
    session
        .conn_list
        .iter()
        .copied()
        .find(|&h| d.conn(h).is_some_and(|c| c.cid == cid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::conn_alloc;
    use crate::ctldev::fake::{daemon_with_fake, Call};
    use crate::target::{target_add, target_create};

    const ISID: [u8; 6] = [0x80, 0, 0, 0, 0, 1];

    fn login(d: &mut Daemon, tid: u32, initiator: &str, isid: [u8; 6], cid: u16) -> ConnHandle {
        let h = conn_alloc(d);
        let c = d.conn_mut(h).unwrap();
        c.tid = tid;
        c.initiator = Some(initiator.to_owned());
        c.sid.isid = isid;
        c.cid = cid;
        h
    }

    fn setup(name: &str) -> (Daemon, std::sync::Arc<crate::ctldev::fake::FakeCtl>, u32) {
        let (mut d, fake) = daemon_with_fake(name);
        let t = target_create(&d, "iqn.t");
        let tid = target_add(&mut d, t, 0, 0).unwrap();
        fake.take();
        (d, fake, tid)
    }

    #[test]
    fn tsih_allocation_is_unique() {
        let (mut d, fake, tid) = setup("sess-tsih");
        let mut tsihs = Vec::new();
        for i in 0..4 {
            let h = login(&mut d, tid, "iqn.ini", ISID, i);
            session_create(&mut d, h).unwrap();
            let sid = d.conn(h).unwrap().sess.unwrap();
            tsihs.push(IscsiSid::from_id64(sid).tsih.get());
        }
        assert_eq!(tsihs, [1, 2, 3, 4]);
        assert_eq!(d.tsih, 5);
        assert_eq!(fake.take().len(), 4);

        // A session already holding the next sid is skipped over.
        let mut taken = IscsiSid {
            isid: ISID,
            tsih: 5.into(),
        };
        d.targets_list[0].sessions_list.push(Session {
            initiator: "iqn.other".into(),
            target: tid,
            sid: taken,
            conn_list: Vec::new(),
        });
        taken.tsih = 6.into();
        d.targets_list[0].sessions_list.push(Session {
            sid: taken,
            target: tid,
            ..Session::default()
        });
        let h = login(&mut d, tid, "iqn.ini", ISID, 9);
        session_create(&mut d, h).unwrap();
        let sid = IscsiSid::from_id64(d.conn(h).unwrap().sess.unwrap());
        assert_eq!(sid.tsih.get(), 7);
        assert_eq!(d.tsih, 8);

        // Another ISID does not collide: it takes the counter as it is.
        let h = login(&mut d, tid, "iqn.ini", [0x80, 0, 0, 0, 0, 2], 1);
        session_create(&mut d, h).unwrap();
        assert_eq!(
            IscsiSid::from_id64(d.conn(h).unwrap().sess.unwrap())
                .tsih
                .get(),
            8
        );

        let sids: Vec<u64> = d.targets_list[0]
            .sessions_list
            .iter()
            .map(|s| s.sid.id64())
            .collect();
        let mut dedup = sids.clone();
        dedup.sort_unstable();
        dedup.dedup();
        assert_eq!(dedup.len(), sids.len());
    }

    #[test]
    fn tsih_counter_wraps_through_zero() {
        let (mut d, _fake, tid) = setup("sess-tsih-wrap");
        d.tsih = u16::MAX;
        let a = login(&mut d, tid, "iqn.ini", ISID, 1);
        session_create(&mut d, a).unwrap();
        let b = login(&mut d, tid, "iqn.ini", ISID, 2);
        session_create(&mut d, b).unwrap();
        let tsih = |h| {
            IscsiSid::from_id64(d.conn(h).unwrap().sess.unwrap())
                .tsih
                .get()
        };
        assert_eq!((tsih(a), tsih(b)), (u16::MAX, 0));
        assert_eq!(d.tsih, 1);
    }

    #[test]
    fn session_create_sends_add_session_and_links_conn() {
        let (mut d, fake, tid) = setup("sess-create");
        let h = login(&mut d, tid, "iqn.ini", ISID, 3);
        session_create(&mut d, h).unwrap();
        let sid = d.conn(h).unwrap().sess.unwrap();
        let s = session_find_id(&d, tid, sid).unwrap();
        assert_eq!(s.initiator, "iqn.ini");
        assert_eq!(s.target, tid);
        assert_eq!(s.conn_list, [h]);
        assert_eq!(conn_find(&d, s, 3), Some(h));
        assert_eq!(conn_find(&d, s, 4), None);
        let calls = fake.take();
        assert!(matches!(&calls[..], [Call::AddSession(i)] if i.sid == sid && i.tid == tid));

        // Found by ISID and initiator, whatever the TSIH asked for.
        let probe = IscsiSid {
            isid: ISID,
            tsih: 0.into(),
        };
        assert!(session_find_name(&d, tid, "iqn.ini", probe).is_some());
        assert!(session_find_name(&d, tid, "iqn.other", probe).is_none());
        assert!(session_find_name(&d, tid + 1, "iqn.ini", probe).is_none());
        assert!(session_find_id(&d, tid, sid + 1).is_none());
    }

    #[test]
    fn session_create_failure_frees_session() {
        let (mut d, fake, tid) = setup("sess-refused");
        d.targets_list[0].sessions_count = 1;
        let h = login(&mut d, tid, "iqn.refuse", ISID, 1);
        assert_eq!(session_create(&mut d, h), Err(Errno::EEXIST));
        assert!(d.targets_list[0].sessions_list.is_empty());
        assert_eq!(d.conn(h).unwrap().sess, None);
        // As in C: DEL_SESSION for the refused session, and the count goes down.
        assert_eq!(d.targets_list[0].sessions_count, 0);
        let calls = fake.take();
        assert!(matches!(
            &calls[..],
            [Call::AddSession(_), Call::DelSession(_)]
        ));
        // The TSIH stays used.
        assert_eq!(d.tsih, 2);

        // Unknown target and missing initiator.
        let h = login(&mut d, tid + 1, "iqn.ini", ISID, 1);
        assert_eq!(session_create(&mut d, h), Err(Errno::ENOENT));
        let h = conn_alloc(&mut d);
        d.conn_mut(h).unwrap().tid = tid;
        assert_eq!(session_create(&mut d, h), Err(Errno::EINVAL));
        assert!(d.targets_list[0].sessions_list.is_empty());
        // C's unsigned count goes below zero here, as it does upstream.
        assert_eq!(d.targets_list[0].sessions_count, u32::MAX);
    }

    #[test]
    fn session_free_removes_and_counts() {
        let (mut d, fake, tid) = setup("sess-free");
        let h = login(&mut d, tid, "iqn.ini", ISID, 1);
        session_create(&mut d, h).unwrap();
        d.targets_list[0].sessions_count = 1;
        let sid = d.conn(h).unwrap().sess.unwrap();
        fake.take();
        d.targets_list[0].sessions_list[0].conn_list.clear();
        session_free(&mut d, tid, sid);
        assert!(d.targets_list[0].sessions_list.is_empty());
        assert_eq!(d.targets_list[0].sessions_count, 0);
        assert!(matches!(&fake.take()[..], [Call::DelSession(i)] if i.sid == sid));
    }
}
