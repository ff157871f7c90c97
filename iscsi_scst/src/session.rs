// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2002 - 2003 Ardis Technolgies <roman@ardistech.com>
// Copyright (C) 2007 - 2016 Vladislav Bolkhovitin
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! Sessions: the port of `iscsi-scst/kernel/session.c` (procfs build): `ADD_SESSION` /
//! `DEL_SESSION`, the SCST session behind each iSCSI session, reinstatement bookkeeping.
//!
//! A reinstated session starts with I_T NEXUS LOSS OCCURRED instead of POWER ON / RESET
//! (`scst_set_initial_UA`). Not ported yet: the procfs `sessions` listing
//! (`session_seq_fops`, with the /proc tree).
#![doc(alias = "session.c")]

use std::sync::atomic::AtomicU32;
use std::sync::Arc;

use kemu::atomic::AtomicT;
use kemu::sync::{LockedBy, MutexGuard, SpinLock};
use kemu::{Errno, PRINT_CRIT_ERROR, PRINT_ERROR, PRINT_INFO, TRACE_MGMT, TRACE_MGMT_DBG};

use crate::abi::{
    cstr, iscsi_kern_params_info, iscsi_kern_session_info, key_session, key_target,
    session_key_last, target_key_last,
};
use crate::conn::__mark_conn_closed;
use crate::iscsi::{
    iscsi_threads_pool_put, session_thread_pool, IscsiSessParams, IscsiSession, IscsiTgtParams,
    SessTm, SnData, TRACE_FLAG,
};
use crate::param::iscsi_params_set;
use crate::target::{target_del_session, IscsiTarget, TargetMutex};

/// C: session.c session_lookup(); `target_mutex` held.
pub fn session_lookup(
    target: &IscsiTarget,
    g: &MutexGuard<'_, TargetMutex>,
    sid: u64,
) -> Option<Arc<IscsiSession>> {
    let _ = target;
    g.session_list.iter().find(|s| s.sid == sid).cloned()
}

/// C: session.c iscsi_session_alloc(): the session object with its SCST session (registered
/// as `user@initiator` when a CHAP user name is set, as the procfs build does) and its thread
/// pool; `target_mgmt_mutex` held.
fn iscsi_session_alloc(
    target: &Arc<IscsiTarget>,
    info: &iscsi_kern_session_info,
) -> Result<Arc<IscsiSession>, Errno> {
    let initiator_name = String::from_utf8_lossy(cstr(&info.initiator_name)).into_owned();
    let user_name = String::from_utf8_lossy(cstr(&info.user_name)).into_owned();
    let name = if user_name.is_empty() {
        initiator_name.clone()
    } else {
        format!("{user_name}@{initiator_name}")
    };

    let session = Arc::new(IscsiSession {
        target: Arc::clone(target),
        scst_sess: parking_lot::Mutex::new(None),
        sn_lock: SpinLock::new(SnData {
            exp_cmd_sn: info.exp_cmd_sn,
            ..SnData::default()
        }),
        next_ttt: AtomicU32::new(1),
        tgt_params: parking_lot::RwLock::new(IscsiTgtParams::default()),
        active_cmds: AtomicT::new(0),
        sess_params: parking_lot::RwLock::new(IscsiSessParams::default()),
        tm: LockedBy::new(&target.target_mutex, SessTm::default()),
        cmnd_data_wait_hash_lock: SpinLock::new(vec![
            Vec::new();
            1 << crate::iscsi::ISCSI_HASH_ORDER
        ]),
        sess_thr_pool: parking_lot::Mutex::new(None),
        initiator_name,
        sid: info.sid,
    });

    let priv_: scst_core::scst::TgtPriv = Arc::new(Arc::downgrade(&session));
    let scst_sess = scst_core::scst_targ::scst_register_session(
        &target.scst_tgt,
        false,
        &name,
        Some(priv_),
        None,
    )
    .map_err(|e| {
        PRINT_ERROR!("scst_register_session() failed: {}", e);
        Errno::ENOMEM
    })?;
    *session.scst_sess.lock() = Some(Arc::clone(&scst_sess));

    match session_thread_pool() {
        Ok(p) => *session.sess_thr_pool.lock() = Some(p),
        Err(e) => {
            scst_core::scst_targ::scst_unregister_session(&scst_sess, true, None);
            *session.scst_sess.lock() = None;
            return Err(e);
        }
    }

    TRACE_MGMT!(
        "Session {:?} created: target {:?}, tid {}, sid {:#x}, initiator {}",
        session,
        target,
        target.tid,
        info.sid,
        name
    );
    Ok(session)
}

/// C: session.c sess_reinst_finished(); `target_mutex` held.
pub fn sess_reinst_finished(sess: &IscsiSession, g: &mut MutexGuard<'_, TargetMutex>) {
    TRACE_MGMT_DBG!("Enabling reinstate successor sess {:?}", sess);
    let conns = sess.tm.access(g).conn_list.clone();
    for c in conns {
        crate::conn::conn_reinst_finished(&c, g);
    }
    sess.tm.access_mut(g).sess_reinstating = false;
}

/// C: session.c __add_session(): `ADD_SESSION`: creates the session, sets its negotiated
/// parameters and, when an older session of the same initiator and ISID exists, starts its
/// reinstatement. `EEXIST` for a SID in use.
pub fn __add_session(
    target: &Arc<IscsiTarget>,
    info: &iscsi_kern_session_info,
) -> Result<(), Errno> {
    TRACE_MGMT_DBG!("Adding session SID {:x}", info.sid);

    let new_sess = iscsi_session_alloc(target, info)?;

    let mut g = target.target_mutex.lock();

    let mut reinstatement = false;
    let err = (|| {
        if session_lookup(target, &g, info.sid).is_some() {
            PRINT_ERROR!("Attempt to add session with existing SID {:x}", info.sid);
            return Err(Errno::EEXIST);
        }

        // The ISID part of the SID: the TSIH (lowest 16 bits of the big-endian-read id) is
        // cleared. The latest matching session is found, for multi-reinstatements.
        let isid = |sid: u64| {
            // C union iscsi_sid: bytes 0..6 are the ISID, 6..8 the TSIH.
            let mut b = sid.to_ne_bytes();
            b[6] = 0;
            b[7] = 0;
            u64::from_ne_bytes(b)
        };
        let name = String::from_utf8_lossy(cstr(&info.initiator_name)).into_owned();
        let old_sess = g
            .session_list
            .iter()
            .rev()
            .find(|s| isid(s.sid) == isid(info.sid) && s.initiator_name == name)
            .cloned()
            .filter(|s| !s.tm.access(&g).sess_shutting_down);

        g.session_list.push(Arc::clone(&new_sess));

        let mut params_info = iscsi_kern_params_info {
            tid: target.tid,
            sid: info.sid,
            params_type: key_session,
            ..Default::default()
        };
        params_info.session_params[..session_key_last]
            .copy_from_slice(&info.session_params[..session_key_last]);
        let r = iscsi_params_set(target, &mut g, &mut params_info, true);
        let r = r.and_then(|()| {
            let mut params_info = iscsi_kern_params_info {
                tid: target.tid,
                sid: info.sid,
                params_type: key_target,
                ..Default::default()
            };
            params_info.target_params[..target_key_last]
                .copy_from_slice(&info.target_params[..target_key_last]);
            iscsi_params_set(target, &mut g, &mut params_info, true)
        });
        if let Err(e) = r {
            g.session_list.retain(|s| !Arc::ptr_eq(s, &new_sess));
            return Err(e);
        }

        if let Some(old) = old_sess {
            reinstatement = true;
            TRACE_MGMT_DBG!(
                "Reinstating sess {:?} with SID {:x} (old {:?}, SID {:x})",
                new_sess,
                new_sess.sid,
                old,
                old.sid
            );
            new_sess.tm.access_mut(&mut g).sess_reinstating = true;
            old.tm.access_mut(&mut g).sess_reinst_successor = Some(Arc::clone(&new_sess));
            target_del_session(target, &mut g, &old, 0);
        }
        Ok(())
    })();

    if let Err(e) = err {
        drop(g);
        let scst = new_sess.scst_sess.lock().take();
        if let Some(s) = scst {
            scst_core::scst_targ::scst_unregister_session(&s, true, None);
        }
        let mut g = target.target_mutex.lock();
        session_free(&new_sess, &mut g, false);
        return Err(e);
    }
    drop(g);

    if reinstatement {
        // target_mgmt_mutex keeps connections from being added to the new session after
        // target_mutex was dropped, so the initial UA can be replaced without it. Not under
        // target_mutex: that would make a circular dependency with scst_mutex, which the
        // core holds when it calls back into the driver.
        let scst = new_sess.scst_sess.lock().clone();
        if let Some(s) = scst {
            let (k, a, q) = scst_core::scst_const::SCST_LOAD_SENSE(
                scst_core::scst_const::scst_sense_nexus_loss_UA,
            );
            scst_core::scst_lib::scst_set_initial_UA(&s, k, a, q);
        }
    }
    Ok(())
}

/// C: session.c __session_free().
fn __session_free(session: &IscsiSession) {
    let pool = session.sess_thr_pool.lock().take();
    if let Some(p) = pool {
        iscsi_threads_pool_put(&p);
    }
}

/// C: session.c session_free(): frees a session without connections, unlinking it from the
/// target when `del`; the SCST session is unregistered without waiting (C: waiting under
/// `target_mutex` could deadlock with `scst_mutex`), and the rest is freed when SCST is done.
/// `target_mutex` held.
pub fn session_free(session: &Arc<IscsiSession>, g: &mut MutexGuard<'_, TargetMutex>, del: bool) {
    TRACE_MGMT!("Freeing session {:?} (SID {:x})", session, session.sid);

    if !session.tm.access(g).conn_list.is_empty() {
        PRINT_CRIT_ERROR!("session {:?} freed with connections", session);
    }
    if kemu::atomic::atomic_read(&session.active_cmds) != 0 {
        PRINT_CRIT_ERROR!(
            "active_cmds not 0 ({})!!",
            kemu::atomic::atomic_read(&session.active_cmds)
        );
    }

    let successor = session.tm.access_mut(g).sess_reinst_successor.take();
    if let Some(s) = successor {
        sess_reinst_finished(&s, g);
    }

    if session.tm.access(g).sess_reinstating {
        TRACE_MGMT_DBG!("Freeing being reinstated sess {:?}", session);
        let list = g.session_list.clone();
        for s in list {
            let t = s.tm.access_mut(g);
            if t.sess_reinst_successor
                .as_ref()
                .is_some_and(|x| Arc::ptr_eq(x, session))
            {
                t.sess_reinst_successor = None;
                break;
            }
        }
    }

    if del {
        g.session_list.retain(|s| !Arc::ptr_eq(s, session));
    }

    let scst = session.scst_sess.lock().clone();
    match scst {
        Some(scst_sess) => {
            let s2 = Arc::clone(session);
            scst_core::scst_targ::scst_unregister_session(
                &scst_sess,
                false,
                Some(Box::new(move |_scst| {
                    // C iscsi_unreg_sess_done().
                    *s2.scst_sess.lock() = None;
                    __session_free(&s2);
                })),
            );
        }
        None => __session_free(session),
    }
}

/// C: session.c __del_session(): `DEL_SESSION`; `target_mutex` held. `ENOENT` for an unknown
/// SID, `EBUSY` while it has connections.
pub fn __del_session(
    target: &IscsiTarget,
    g: &mut MutexGuard<'_, TargetMutex>,
    sid: u64,
) -> Result<(), Errno> {
    let Some(session) = session_lookup(target, g, sid) else {
        return Err(Errno::ENOENT);
    };

    if !session.tm.access(g).conn_list.is_empty() {
        PRINT_ERROR!("{:x} still have connections", session.sid);
        return Err(Errno::EBUSY);
    }

    session_free(&session, g, true);
    Ok(())
}

/// C: session.c iscsi_sess_force_close(); `target_mutex` held.
pub fn iscsi_sess_force_close(sess: &IscsiSession, g: &mut MutexGuard<'_, TargetMutex>) {
    PRINT_INFO!(
        "Force closing session {:x} with initiator {} ({:?})",
        sess.sid,
        sess.initiator_name,
        sess
    );
    let conns = sess.tm.access(g).conn_list.clone();
    for conn in conns {
        TRACE_MGMT_DBG!("Force closing conn {:?}", conn);
        __mark_conn_closed(&conn, crate::iscsi::ISCSI_CONN_ACTIVE_CLOSE);
    }
}
