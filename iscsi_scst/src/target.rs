// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2002 - 2003 Ardis Technolgies <roman@ardistech.com>
// Copyright (C) 2007 - 2016 Vladislav Bolkhovitin
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! Targets: the port of `iscsi-scst/kernel/target.c` (procfs build): the global target list
//! under `target_mgmt_mutex`, `ADD_TARGET` / `DEL_TARGET`, and deleting sessions.
//!
//! Not ported: the procfs `seq_file` listing (`iscsi_seq_op`, issue 8 with the /proc tree) and
//! the sysfs-only functions (`iscsi_sysfs_*`, `iscsi_enable_target`, attributes).
#![doc(alias = "target.c")]
#![allow(non_upper_case_globals)]

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use kemu::sync::{Mutex, MutexGuard};
use kemu::timer::msleep;
use kemu::{Errno, PRINT_ERROR, TRACE_MGMT, TRACE_MGMT_DBG};
use scst_core::scst::ScstTgt;

use crate::abi::{cstr, iscsi_kern_target_info};
use crate::conn::__mark_conn_closed;
use crate::iscsi::{iscsi_template, IscsiSession, TRACE_FLAG};
use crate::iscsi::{ISCSI_CONN_ACTIVE_CLOSE, ISCSI_CONN_DELETING};
use crate::session::__del_session;

/// C `MAX_NR_TARGETS`.
pub const MAX_NR_TARGETS: u32 = 1 << 30;

/// What `target_mutex` protects in C: the target's `session_list` (and, through
/// [`kemu::sync::LockedBy`], fields of its sessions and connections).
#[derive(Debug, Default)]
pub struct TargetMutex {
    /// C `session_list`.
    pub session_list: Vec<Arc<IscsiSession>>,
}

/// C `struct iscsi_target`.
#[doc(alias = "iscsi_target")]
pub struct IscsiTarget {
    /// C `scst_tgt`.
    pub scst_tgt: Arc<ScstTgt>,
    /// C `target_mutex` and what it protects.
    pub target_mutex: Mutex<TargetMutex>,
    /// C `tid`.
    pub tid: u32,
    /// C `tgt_enabled` (sysfs build; always enabled in procfs mode).
    pub tgt_enabled: AtomicBool,
    /// C `name`.
    pub name: String,
}

impl std::fmt::Debug for IscsiTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IscsiTarget")
            .field("tid", &self.tid)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// What `target_mgmt_mutex` protects: the target list and its counters (C statics of
/// target.c).
#[derive(Debug, Default)]
pub struct TargetMgmt {
    /// C `target_list`.
    pub target_list: Vec<Arc<IscsiTarget>>,
    /// C `next_target_id`.
    pub next_target_id: u32,
    /// C `nr_targets`.
    pub nr_targets: u32,
}

/// C `target_mgmt_mutex` (serialises every ioctl but `REGISTER_USERD`).
pub static target_mgmt_mutex: Mutex<TargetMgmt> = Mutex::new(TargetMgmt {
    target_list: Vec::new(),
    next_target_id: 0,
    nr_targets: 0,
});

/// C: target.c target_lookup_by_id(); `target_mgmt_mutex` held.
pub fn target_lookup_by_id(mgmt: &TargetMgmt, id: u32) -> Option<Arc<IscsiTarget>> {
    mgmt.target_list.iter().find(|t| t.tid == id).cloned()
}

fn target_lookup_by_name(mgmt: &TargetMgmt, name: &str) -> Option<Arc<IscsiTarget>> {
    mgmt.target_list.iter().find(|t| t.name == name).cloned()
}

/// C: target.c iscsi_target_create(): registers the SCST target and adds the iSCSI target to
/// the list.
fn iscsi_target_create(
    mgmt: &mut TargetMgmt,
    info: &mut iscsi_kern_target_info,
    tid: u32,
) -> Result<Arc<IscsiTarget>, Errno> {
    let name = String::from_utf8_lossy(cstr(&info.name)).into_owned();
    TRACE_MGMT_DBG!("Creating target tid {}, name {}", tid, name);

    if name.is_empty() {
        PRINT_ERROR!("The length of the target name is zero {}", tid);
        return Err(Errno::EINVAL);
    }

    info.tid = tid;

    let scst_tgt = scst_core::scst_main::scst_register_target(&iscsi_template(), Some(&name))
        .map_err(|e| {
            PRINT_ERROR!("scst_register_target() failed: {}", e);
            Errno::EBUSY
        })?;

    let target = Arc::new(IscsiTarget {
        scst_tgt,
        target_mutex: Mutex::new(TargetMutex::default()),
        tid,
        tgt_enabled: AtomicBool::new(true),
        name,
    });
    // C scst_tgt_set_tgt_priv(): the SCST target points back (weakly here: the iSCSI target
    // owns the SCST one).
    let priv_: scst_core::scst::TgtPriv = Arc::new(Arc::downgrade(&target));
    scst_core::scst::scst_tgt_set_tgt_priv(&target.scst_tgt, Some(priv_));

    mgmt.target_list.push(Arc::clone(&target));
    Ok(target)
}

/// C: target.c __add_target(): `ADD_TARGET`. Returns the new target's id. `EEXIST` for a
/// name or id in use, `EBUSY` past `MAX_NR_TARGETS`.
pub fn __add_target(
    mgmt: &mut TargetMgmt,
    info: &mut iscsi_kern_target_info,
) -> Result<u32, Errno> {
    let mut tid = info.tid;

    if mgmt.nr_targets > MAX_NR_TARGETS {
        return Err(Errno::EBUSY);
    }

    let name = String::from_utf8_lossy(cstr(&info.name)).into_owned();
    if target_lookup_by_name(mgmt, &name).is_some() {
        PRINT_ERROR!("Target {} already exist!", name);
        return Err(Errno::EEXIST);
    }

    if tid != 0 && target_lookup_by_id(mgmt, tid).is_some() {
        PRINT_ERROR!("Target {} already exist!", tid);
        return Err(Errno::EEXIST);
    }

    if tid == 0 {
        loop {
            mgmt.next_target_id = mgmt.next_target_id.wrapping_add(1);
            if mgmt.next_target_id == 0 {
                mgmt.next_target_id = 1;
            }
            if target_lookup_by_id(mgmt, mgmt.next_target_id).is_none() {
                break;
            }
        }
        tid = mgmt.next_target_id;
    }

    iscsi_target_create(mgmt, info, tid)?;
    mgmt.nr_targets += 1;

    // The procfs build has no target attributes to copy in (attrs_ptr is ignored).
    Ok(tid)
}

/// C: target.c target_destroy().
fn target_destroy(target: &Arc<IscsiTarget>) {
    TRACE_MGMT_DBG!("Destroying target tid {}", target.tid);
    scst_core::scst::scst_tgt_set_tgt_priv(&target.scst_tgt, None);
    scst_core::scst_main::scst_unregister_target(&target.scst_tgt);
}

/// C: target.c __del_target(): `DEL_TARGET`. `ENOENT` for an unknown id, `EBUSY` while the
/// target has sessions.
pub fn __del_target(mgmt: &mut TargetMgmt, id: u32) -> Result<(), Errno> {
    let Some(target) = target_lookup_by_id(mgmt, id) else {
        return Err(Errno::ENOENT);
    };

    {
        let g = target.target_mutex.lock();
        if !g.session_list.is_empty() {
            return Err(Errno::EBUSY);
        }
        mgmt.target_list.retain(|t| !Arc::ptr_eq(t, &target));
        mgmt.nr_targets -= 1;
    }

    target_destroy(&target);
    Ok(())
}

/// C: target.c target_del_session(): closes the session's connections, or frees it at once
/// when it has none; `target_mutex` held (`g`).
pub fn target_del_session(
    target: &IscsiTarget,
    g: &mut MutexGuard<'_, TargetMutex>,
    session: &Arc<IscsiSession>,
    flags: i32,
) {
    TRACE_MGMT!(
        "Deleting session {:?} (initiator {})",
        session,
        session.initiator_name
    );

    let conns = session.tm.access(g).conn_list.clone();
    if !conns.is_empty() {
        for conn in conns {
            TRACE_MGMT_DBG!("Del session: closing conn {:?}", conn);
            __mark_conn_closed(&conn, flags);
        }
    } else {
        TRACE_MGMT_DBG!("Freeing session {:?} without connections", session);
        let _ = __del_session(target, g, session.sid);
    }
}

/// C: target.c target_del_all_sess(); `target_mutex` held.
pub fn target_del_all_sess(target: &IscsiTarget, g: &mut MutexGuard<'_, TargetMutex>, flags: i32) {
    let sessions = g.session_list.clone();
    if !sessions.is_empty() {
        TRACE_MGMT_DBG!("Deleting all sessions from target {:?}", target);
        for session in sessions {
            target_del_session(target, g, &session, flags);
        }
    }
}

/// C: target.c target_del_all(): on release of the control device, closes every connection
/// of every target, then deletes the targets (polling every 100 ms, as C).
pub fn target_del_all() {
    TRACE_MGMT_DBG!("Deleting all targets");
    let mut first = true;
    loop {
        let mut mgmt = target_mgmt_mutex.lock();
        if mgmt.target_list.is_empty() {
            break;
        }

        // In the first round targets are not deleted: all connections of all targets are
        // closed first, so no target waits for another one's connections.
        for target in mgmt.target_list.clone() {
            let mut g = target.target_mutex.lock();
            if !g.session_list.is_empty() {
                target_del_all_sess(
                    &target,
                    &mut g,
                    ISCSI_CONN_ACTIVE_CLOSE | ISCSI_CONN_DELETING,
                );
            } else if !first {
                TRACE_MGMT_DBG!("Deleting target {:?}", target);
                mgmt.target_list.retain(|t| !Arc::ptr_eq(t, &target));
                mgmt.nr_targets -= 1;
                drop(g);
                target_destroy(&target);
                continue;
            }
        }
        drop(mgmt);
        msleep(100);
        first = false;
    }
    TRACE_MGMT_DBG!("Deleting all targets finished");
}

/// The number of targets (for tests and the /proc listing).
pub fn nr_targets() -> u32 {
    target_mgmt_mutex.lock().nr_targets
}

/// Whether a target with this name exists (for tests).
pub fn target_exists(name: &str) -> bool {
    target_lookup_by_name(&target_mgmt_mutex.lock(), name).is_some()
}
