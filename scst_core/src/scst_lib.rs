// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2004 - 2016 Vladislav Bolkhovitin <vst@vlnb.net>
// Copyright (C) 2004 - 2005 Leonid Stoljar
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! The port of `scst/src/scst_lib.c`, so far the object management the registration layer
//! needs: allocation and freeing of targets, devices and sessions, access control groups
//! (ACGs) with their LUNs (`scst_acg_dev`) and initiator names (`scst_acn`).
//!
//! Functions that C documents as "scst_mutex supposed to be held" take the guard of
//! `scst_mutex` ([`ScstMutexGuard`]), which is also what lets them reach the lists
//! `LockedBy` that mutex. C also requires suspended activity for the LUN and group changes;
//! there are no commands yet, so there is nothing to suspend.
//!
//! What the memory side of C's `kfree()`/`kmem_cache_free()` did is the `Arc`s' job; the
//! `scst_free_*` functions keep the C names and do the non-memory part.
#![doc(alias = "scst_lib.c")]

use crate::scst::{
    ScstAcg, ScstAcgDev, ScstAcn, ScstDevice, ScstSession, ScstTgt, ScstTgtTemplate,
    SCST_SESS_SPH_SHUTDOWN, SCST_SESS_SPH_UNREG_DONE_CALLING,
};
use crate::scst_const::{
    SCST_LUN_ADDR_METHOD_PERIPHERAL, SCST_MAX_REL_TGT_ID, SCST_MIN_REL_TGT_ID,
};
use crate::scst_main::{
    scst_mgmt_lock, scst_mgmt_waitQ, scst_mutex, scst_null_devtype, scst_trace_flag as TRACE_FLAG,
    ScstMutexGuard,
};
use kemu::atomic::{atomic_read, atomic_set};
use kemu::completion::complete_all;
use kemu::kref::{kref_get, kref_put};
use kemu::list::AtomicListHandle;
use kemu::wait::wake_up_all;
use kemu::{Errno, PRINT_CRIT_ERROR, PRINT_ERROR, PRINT_INFO, TRACE_DBG};
use std::sync::{Arc, Weak};

/// C `__scst_is_relative_target_port_id_unique()`: true if no target other than `t` has the
/// relative target port id `id`. Called with `scst_mutex` held.
pub fn __scst_is_relative_target_port_id_unique(
    g: &ScstMutexGuard<'_>,
    id: u16,
    t: Option<&ScstTgt>,
) -> bool {
    for (_, tgtt) in g.scst_template_list.iter() {
        for (_, tgt) in tgtt.tgt_list.access(g).iter() {
            if t.is_some_and(|t| std::ptr::eq(t, &**tgt)) {
                continue;
            }
            if tgt.rel_tgt_id == id {
                return false;
            }
        }
    }
    true
}

/// C `gen_relative_target_port_id()`: the next free relative target port id, searched
/// round-robin from where the last search stopped; `EOVERFLOW` if all 65535 are used.
/// (C lets its cursor step past the maximum after a hit; the port wraps it there.)
pub fn gen_relative_target_port_id() -> Result<u16, Errno> {
    let mut g = scst_mutex.lock_interruptible()?;
    let rti_prev = g.rti;
    loop {
        let rti = g.rti;
        let mut next = rti + 1;
        if next > u32::from(SCST_MAX_REL_TGT_ID) {
            next = u32::from(SCST_MIN_REL_TGT_ID);
        }
        g.rti = next;
        let id = u16::try_from(rti).unwrap_or(SCST_MIN_REL_TGT_ID);
        if __scst_is_relative_target_port_id_unique(&g, id, None) {
            return Ok(id);
        }
        if g.rti == rti_prev {
            break;
        }
    }
    PRINT_ERROR!("Unable to create unique relative target port id");
    Err(Errno::EOVERFLOW)
}

/// C `scst_alloc_tgt()`: a new target of `tgtt` (not yet in any list), with a relative target
/// port id (procfs builds assign it here).
pub fn scst_alloc_tgt(
    tgtt: &Arc<ScstTgtTemplate>,
    tgt_name: String,
    default_group_name: Option<String>,
) -> Result<Arc<ScstTgt>, Errno> {
    let rel_tgt_id = gen_relative_target_port_id()?;
    Ok(Arc::new(ScstTgt::new(
        tgtt.clone(),
        tgt_name,
        default_group_name,
        rel_tgt_id,
    )))
}

/// C `scst_free_tgt()`: releases the target (its names and memory go with the last `Arc`).
pub fn scst_free_tgt(tgt: Arc<ScstTgt>) {
    TRACE_DBG!("Freeing tgt {}", tgt.tgt_name);
    drop(tgt);
}

/// C `scst_alloc_device()`: a new device (not yet in any list) with the null handler.
pub fn scst_alloc_device(type_: i32, virt_name: &str, virt_id: i32) -> Arc<ScstDevice> {
    Arc::new(ScstDevice::new(
        type_,
        virt_name,
        virt_id,
        scst_null_devtype(),
    ))
}

/// C `scst_free_device()`: releases the device. C checks (with extra checks on) that no LUN
/// maps it any more; so does the port, with a critical error as C prints.
pub fn scst_free_device(dev: Arc<ScstDevice>) {
    {
        let g = scst_mutex.lock();
        if !dev.dev_acg_dev_list.access(&g).is_empty() {
            PRINT_CRIT_ERROR!("scst_free_device: dev_acg_dev_list is not empty!");
        }
    }
    drop(dev);
}

/// C `scst_alloc_acg_dev()`: a LUN `lun` of `acg` for `dev`.
fn scst_alloc_acg_dev(acg: &Arc<ScstAcg>, dev: &Arc<ScstDevice>, lun: u64) -> Arc<ScstAcgDev> {
    Arc::new(ScstAcgDev {
        dev: dev.clone(),
        lun,
        acg_dev_rd_only: false,
        acg: Arc::downgrade(acg),
        acg_dev_list_entry: AtomicListHandle::new(),
        dev_acg_dev_list_entry: AtomicListHandle::new(),
    })
}

/// C `scst_del_acg_dev()`: takes the LUN off its device's `dev_acg_dev_list`.
fn scst_del_acg_dev(g: &mut ScstMutexGuard<'_>, acg_dev: &ScstAcgDev) {
    TRACE_DBG!(
        "Removing acg_dev (LUN {}) from dev_acg_dev_list",
        acg_dev.lun
    );
    if let Some(h) = acg_dev.dev_acg_dev_list_entry.take() {
        acg_dev.dev.dev_acg_dev_list.access_mut(g).del(h);
    }
}

/// C `scst_del_free_acg_dev()`: takes the LUN off both its group and its device.
fn scst_del_free_acg_dev(g: &mut ScstMutexGuard<'_>, acg: &ScstAcg, acg_dev: &ScstAcgDev) {
    TRACE_DBG!("Removing acg_dev (LUN {}) from acg_dev_list", acg_dev.lun);
    if let Some(h) = acg_dev.acg_dev_list_entry.take() {
        acg.acg_dev_list.access_mut(g).del(h);
    }
    scst_del_acg_dev(g, acg_dev);
}

/// C `scst_acg_add_lun()`: maps `dev` as LUN `lun` of `acg`, read-only if `read_only` (C flag
/// `SCST_ADD_LUN_READ_ONLY`). Called with `scst_mutex` held.
///
/// A LUN already present in the group is `EEXIST`: in C the procfs caller
/// (`scst_proc_groups_devices_write()`, "add") makes that check just before calling; it is
/// here so that every caller gets it. (The `tgt_dev`s of the group's sessions, the sysfs
/// entries, the DIF checks and the REPORTED LUNS DATA HAS CHANGED unit attention come later.)
pub fn scst_acg_add_lun(
    g: &mut ScstMutexGuard<'_>,
    acg: &Arc<ScstAcg>,
    dev: &Arc<ScstDevice>,
    lun: u64,
    read_only: bool,
) -> Result<(), Errno> {
    if acg.acg_dev_list.access(g).iter().any(|(_, a)| a.lun == lun) {
        PRINT_ERROR!("virt lun {} already exists in group {}", lun, acg.acg_name);
        return Err(Errno::EEXIST);
    }
    let mut acg_dev = scst_alloc_acg_dev(acg, dev, lun);
    if let Some(a) = Arc::get_mut(&mut acg_dev) {
        a.acg_dev_rd_only = read_only;
    }

    TRACE_DBG!("Adding acg_dev to acg_dev_list and dev_acg_dev_list");
    let h = acg.acg_dev_list.access_mut(g).add_tail(acg_dev.clone());
    acg_dev.acg_dev_list_entry.set(h);
    let h = dev.dev_acg_dev_list.access_mut(g).add_tail(acg_dev.clone());
    acg_dev.dev_acg_dev_list_entry.set(h);

    PRINT_INFO!(
        "Added device {} to group {} (LUN {}, flags 0x{:x}) to target ?",
        dev.virt_name,
        acg.acg_name,
        lun,
        u32::from(read_only)
    );
    Ok(())
}

/// C `__scst_acg_del_lun()`: removes LUN `lun` from `acg` without a unit attention; the
/// removed LUN, or None.
fn __scst_acg_del_lun(
    g: &mut ScstMutexGuard<'_>,
    acg: &Arc<ScstAcg>,
    lun: u64,
) -> Option<Arc<ScstAcgDev>> {
    let acg_dev = acg
        .acg_dev_list
        .access(g)
        .iter()
        .find(|(_, a)| a.lun == lun)
        .map(|(_, a)| a.clone())?;
    scst_del_free_acg_dev(g, acg, &acg_dev);
    PRINT_INFO!("Removed LUN {} from group {} (target ?)", lun, acg.acg_name);
    Some(acg_dev)
}

/// C `scst_acg_del_lun()`: removes LUN `lun` from `acg`; `EINVAL` if the group has no such
/// LUN. Called with `scst_mutex` held. (The unit attention that
/// `gen_report_luns_changed` asks for comes with unit attentions.)
pub fn scst_acg_del_lun(
    g: &mut ScstMutexGuard<'_>,
    acg: &Arc<ScstAcg>,
    lun: u64,
    gen_report_luns_changed: bool,
) -> Result<(), Errno> {
    if __scst_acg_del_lun(g, acg, lun).is_none() {
        PRINT_ERROR!("Device is not found in group {}", acg.acg_name);
        return Err(Errno::EINVAL);
    }
    if gen_report_luns_changed {
        TRACE_DBG!(
            "REPORTED LUNS DATA HAS CHANGED for group {} (not yet)",
            acg.acg_name
        );
    }
    Ok(())
}

/// C `scst_alloc_add_acg()` (procfs build: no target): a new group `acg_name`, appended to
/// `scst_acg_list`. Called with `scst_mutex` held. (C then calls
/// `scst_check_reassign_sessions()`, which comes with `tgt_dev`s.)
pub fn scst_alloc_add_acg(
    g: &mut ScstMutexGuard<'_>,
    acg_name: &str,
) -> Result<Arc<ScstAcg>, Errno> {
    let acg = Arc::new(ScstAcg::new(acg_name, SCST_LUN_ADDR_METHOD_PERIPHERAL));
    TRACE_DBG!("Adding acg {} to scst_acg_list", acg_name);
    let h = g.scst_acg_list.add_tail(acg.clone());
    acg.acg_list_entry.set(h);
    Ok(acg)
}

/// C `scst_del_acg()`: takes the group's LUNs off their devices and the group off
/// `scst_acg_list`.
fn scst_del_acg(g: &mut ScstMutexGuard<'_>, acg: &ScstAcg) {
    let acg_devs: Vec<_> = acg
        .acg_dev_list
        .access(g)
        .iter()
        .map(|(_, a)| a.clone())
        .collect();
    for acg_dev in &acg_devs {
        scst_del_acg_dev(g, acg_dev);
    }
    if let Some(h) = acg.acg_list_entry.take() {
        g.scst_acg_list.del(h);
    }
}

/// C `scst_free_acg()`: the last reference to the group went. C frees the group's LUNs (and
/// their `tgt_dev`s) and names here; the `Arc`s do that when the group's memory goes.
fn scst_free_acg(acg: &ScstAcg) {
    TRACE_DBG!("Freeing acg {}", acg.acg_name);
}

/// C `scst_release_acg()`: the release function of `acg_kref`.
fn scst_release_acg(acg: &ScstAcg) {
    scst_free_acg(acg);
}

/// C `scst_put_acg()`: drops a reference of the group; the last one frees it. C defers the
/// put to a work queue to bound the stack depth; the release does no locking and no
/// recursion here, so the port puts directly.
pub fn scst_put_acg(acg: &Arc<ScstAcg>) {
    kref_put(&acg.acg_kref, || scst_release_acg(acg));
}

/// C `scst_get_acg()`: takes a reference of the group (each session holds one).
pub fn scst_get_acg(acg: &Arc<ScstAcg>) {
    kref_get(&acg.acg_kref);
}

/// C `scst_del_free_acg()`: deletes the group and drops the list's reference. `EBUSY` if
/// sessions still use it. Closing them (`close_sessions`) needs the driver's
/// `close_session()`, which is not ported yet, so it is `EBUSY` too when sessions remain.
/// Called with `scst_mutex` held.
pub fn scst_del_free_acg(
    g: &mut ScstMutexGuard<'_>,
    acg: &Arc<ScstAcg>,
    close_sessions: bool,
) -> Result<(), Errno> {
    if !acg.acg_sess_list.access(g).is_empty() {
        if close_sessions {
            PRINT_ERROR!(
                "Closing the sessions of group {} is not supported yet",
                acg.acg_name
            );
        }
        return Err(Errno::EBUSY);
    }
    scst_del_acg(g, acg);
    scst_put_acg(acg);
    Ok(())
}

/// C `scst_acg_add_acn()`: adds the initiator-name pattern `name` to `acg`; `EEXIST` if the
/// group has it already. Called with `scst_mutex` held.
pub fn scst_acg_add_acn(
    g: &mut ScstMutexGuard<'_>,
    acg: &Arc<ScstAcg>,
    name: &str,
) -> Result<(), Errno> {
    if acg.acn_list.access(g).iter().any(|(_, a)| a.name == name) {
        PRINT_ERROR!("Name {} already exists in group {}", name, acg.acg_name);
        return Err(Errno::EEXIST);
    }
    let acn = Arc::new(ScstAcn {
        acg: Arc::downgrade(acg),
        name: name.to_owned(),
        acn_list_entry: AtomicListHandle::new(),
    });
    let h = acg.acn_list.access_mut(g).add_tail(acn.clone());
    acn.acn_list_entry.set(h);
    PRINT_INFO!("Added name {} to group {} (target ?)", name, acg.acg_name);
    Ok(())
}

/// C `scst_free_acn()`: the name is gone (C then re-checks the sessions' groups if
/// `reassign`, which comes with `tgt_dev`s).
fn scst_free_acn(acn: &ScstAcn, reassign: bool) {
    TRACE_DBG!("Freeing acn {} (reassign {})", acn.name, reassign);
}

/// C `scst_del_free_acn()`: removes `acn` from its group. Called with `scst_mutex` held.
pub fn scst_del_free_acn(g: &mut ScstMutexGuard<'_>, acn: &Arc<ScstAcn>, reassign: bool) {
    if let (Some(h), Some(acg)) = (acn.acn_list_entry.take(), Weak::upgrade(&acn.acg)) {
        acg.acn_list.access_mut(g).del(h);
    }
    scst_free_acn(acn, reassign);
}

/// C `scst_find_acn()`: the name `name` of `acg`, if any. Called with `scst_mutex` held.
pub fn scst_find_acn(g: &ScstMutexGuard<'_>, acg: &ScstAcg, name: &str) -> Option<Arc<ScstAcn>> {
    TRACE_DBG!("Trying to find name '{}'", name);
    acg.acn_list
        .access(g)
        .iter()
        .find(|(_, a)| a.name == name)
        .map(|(_, a)| a.clone())
}

/// C `scst_acg_remove_name()` (procfs builds): removes the name `name` from `acg`; `EINVAL`
/// if the group has no such name. Called with `scst_mutex` held.
pub fn scst_acg_remove_name(
    g: &mut ScstMutexGuard<'_>,
    acg: &Arc<ScstAcg>,
    name: &str,
    reassign: bool,
) -> Result<(), Errno> {
    let Some(acn) = scst_find_acn(g, acg, name) else {
        PRINT_ERROR!("Unable to find name '{}' in group '{}'", name, acg.acg_name);
        return Err(Errno::EINVAL);
    };
    scst_del_free_acn(g, &acn, false);
    PRINT_INFO!(
        "Removed name {} from group {} (target ?)",
        name,
        acg.acg_name
    );
    if reassign {
        TRACE_DBG!("scst_check_reassign_sessions() comes with tgt_devs");
    }
    Ok(())
}

/// C `scst_alloc_session()`: a new session of `tgt` for `initiator_name`, not yet in any list,
/// reference count 0.
pub fn scst_alloc_session(tgt: &Arc<ScstTgt>, initiator_name: &str) -> Arc<ScstSession> {
    Arc::new(ScstSession::new(tgt.clone(), initiator_name))
}

/// C `scst_free_session()`: takes the session off its target and group (dropping the group
/// reference), calls the driver's `unreg_done_fn`, then takes it off `sysfs_sess_list` and
/// wakes `scst_unregister_target()`, with `scst_mutex` held so that the target stays alive
/// until the waiter has seen the wake-up.
pub fn scst_free_session(sess: &Arc<ScstSession>) {
    let mut g = scst_mutex.lock();
    TRACE_DBG!("Removing sess {} from the list", sess.initiator_name);
    if let Some(h) = sess.sess_list_entry.take() {
        sess.tgt.sess_list.access_mut(&mut g).del(h);
    }
    let acg = sess.acg.access(&g).clone();
    if let Some(acg) = acg {
        TRACE_DBG!(
            "Removing session {} from acg {}",
            sess.initiator_name,
            acg.acg_name
        );
        if let Some(h) = sess.acg_sess_list_entry.take() {
            acg.acg_sess_list.access_mut(&mut g).del(h);
        }
        scst_put_acg(&acg);
    }
    drop(g);

    let unreg_done_fn = sess
        .unreg_done_fn
        .access_mut(&mut scst_mgmt_lock.lock_irq())
        .take();
    if let Some(f) = unreg_done_fn {
        TRACE_DBG!("Calling unreg_done_fn({})", sess.initiator_name);
        f(sess);
        TRACE_DBG!("unreg_done_fn() returned");
    }

    let mut g = scst_mutex.lock();
    if let Some(h) = sess.sysfs_sess_list_entry.take() {
        sess.tgt.sysfs_sess_list.access_mut(&mut g).del(h);
    }
    // Woken under the mutex so that the target cannot be released too early.
    wake_up_all(&sess.tgt.unreg_waitQ);
    drop(g);
}

/// C `scst_free_session_callback()`: run by `scst_mgmtd` for a session whose last reference
/// went: marks it `SCST_SESS_SPH_UNREG_DONE_CALLING` under `scst_mutex` (so that nothing
/// queues work the driver could no longer serve), frees it and completes a waiting
/// `scst_unregister_session()`.
pub fn scst_free_session_callback(sess: &Arc<ScstSession>) {
    TRACE_DBG!("Freeing session {}", sess.initiator_name);
    let c = sess
        .shutdown_compl
        .access_mut(&mut scst_mgmt_lock.lock_irq())
        .take();

    {
        let _g = scst_mutex.lock();
        atomic_set(&sess.shut_phase, SCST_SESS_SPH_UNREG_DONE_CALLING);
    }

    scst_free_session(sess);

    if let Some(c) = c {
        complete_all(&c);
    }
}

/// C `scst_sched_session_free()`: queues the session on `scst_sess_shut_list` for
/// `scst_mgmtd`. A session that is not shutting down here is a bug (C `sBUG()`).
pub fn scst_sched_session_free(sess: &Arc<ScstSession>) {
    let shut_phase = atomic_read(&sess.shut_phase);
    if shut_phase != SCST_SESS_SPH_SHUTDOWN {
        PRINT_CRIT_ERROR!(
            "session {} is going to shutdown with unknown shut phase {:x}",
            sess.initiator_name,
            shut_phase
        );
        panic!("scst_sched_session_free: session not in SCST_SESS_SPH_SHUTDOWN");
    }
    let mut l = scst_mgmt_lock.lock_irqsave();
    TRACE_DBG!("Adding sess {} to scst_sess_shut_list", sess.initiator_name);
    l.scst_sess_shut_list.add_tail(sess.clone());
    drop(l);
    kemu::wait::wake_up(&scst_mgmt_waitQ);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scst::{scst_get_acg_tgt_priv, scst_set_acg_tgt_priv, TgtPriv};
    use crate::scst_main::{scst_register_target, scst_register_target_template};
    use crate::scst_targ::{scst_find_acg_by_name, scst_register_session, scst_unregister_session};
    use crate::testutil::{template, Loaded, TestTgtOps};
    use kemu::kref::kref_read;

    #[test]
    fn groups_names_and_luns() {
        let _l = Loaded::new();
        let mut g = scst_mutex.lock();
        let acg = scst_alloc_add_acg(&mut g, "G").unwrap();
        assert!(Arc::ptr_eq(&scst_find_acg_by_name(&g, "G").unwrap(), &acg));
        assert!(scst_find_acg_by_name(&g, "H").is_none());

        scst_acg_add_acn(&mut g, &acg, "ini1").unwrap();
        scst_acg_add_acn(&mut g, &acg, "ini2").unwrap();
        assert_eq!(scst_acg_add_acn(&mut g, &acg, "ini1"), Err(Errno::EEXIST));
        assert_eq!(scst_find_acn(&g, &acg, "ini2").unwrap().name, "ini2");
        scst_acg_remove_name(&mut g, &acg, "ini1", true).unwrap();
        assert_eq!(
            scst_acg_remove_name(&mut g, &acg, "ini1", false),
            Err(Errno::EINVAL)
        );
        assert!(scst_find_acn(&g, &acg, "ini1").is_none());
        let acn = scst_find_acn(&g, &acg, "ini2").unwrap();
        scst_del_free_acn(&mut g, &acn, false);
        assert!(acg.acn_list.access(&g).is_empty());

        let dev = scst_alloc_device(0, "libdisk", 1000);
        scst_acg_add_lun(&mut g, &acg, &dev, 3, false).unwrap();
        assert_eq!(scst_acg_del_lun(&mut g, &acg, 4, false), Err(Errno::EINVAL));
        scst_acg_add_lun(&mut g, &acg, &dev, 4, false).unwrap();
        assert_eq!(dev.dev_acg_dev_list.access(&g).len(), 2);
        scst_acg_del_lun(&mut g, &acg, 3, true).unwrap();
        assert_eq!(dev.dev_acg_dev_list.access(&g).len(), 1);

        let p: TgtPriv = Arc::new(1u8);
        scst_set_acg_tgt_priv(&acg, Some(p));
        assert!(scst_get_acg_tgt_priv(&acg).is_some());

        // Deleting the group takes its LUNs off the device and it off scst_acg_list.
        assert_eq!(kref_read(&acg.acg_kref), 1);
        scst_del_free_acg(&mut g, &acg, false).unwrap();
        assert!(dev.dev_acg_dev_list.access(&g).is_empty());
        assert!(scst_find_acg_by_name(&g, "G").is_none());
        assert_eq!(kref_read(&acg.acg_kref), 0);
        drop(g);
        scst_free_device(dev);
    }

    #[test]
    fn a_group_in_use_is_busy_and_sessions_hold_a_reference() {
        let _l = Loaded::new();
        let vtt = template("tt_busy", Arc::new(TestTgtOps::default()));
        scst_register_target_template(&vtt).unwrap();
        let tgt = scst_register_target(&vtt, Some("busy")).unwrap();
        let acg = {
            let mut g = scst_mutex.lock();
            let acg = scst_alloc_add_acg(&mut g, "Busy").unwrap();
            scst_acg_add_acn(&mut g, &acg, "*").unwrap();
            acg
        };
        let s = scst_register_session(&tgt, false, "x", None, None).unwrap();
        assert_eq!(kref_read(&acg.acg_kref), 2);
        {
            let mut g = scst_mutex.lock();
            assert_eq!(scst_del_free_acg(&mut g, &acg, false), Err(Errno::EBUSY));
            assert_eq!(scst_del_free_acg(&mut g, &acg, true), Err(Errno::EBUSY));
        }
        scst_unregister_session(&s, true, None);
        assert_eq!(kref_read(&acg.acg_kref), 1);
        scst_del_free_acg(&mut scst_mutex.lock(), &acg, false).unwrap();
        crate::scst_main::scst_unregister_target_template(&vtt);
    }

    #[test]
    fn relative_target_ids_are_unique() {
        let _l = Loaded::new();
        let vtt = template("tt_rti", Arc::new(TestTgtOps::default()));
        scst_register_target_template(&vtt).unwrap();
        let t: Vec<_> = (0..4)
            .map(|i| scst_register_target(&vtt, Some(&format!("rti{i}"))).unwrap())
            .collect();
        let mut ids: Vec<_> = t.iter().map(|t| t.rel_tgt_id).collect();
        assert!(ids.iter().all(|&i| i >= SCST_MIN_REL_TGT_ID));
        ids.dedup();
        assert_eq!(ids.len(), 4);
        {
            let g = scst_mutex.lock();
            assert!(!__scst_is_relative_target_port_id_unique(
                &g,
                t[0].rel_tgt_id,
                None
            ));
            assert!(__scst_is_relative_target_port_id_unique(
                &g,
                t[0].rel_tgt_id,
                Some(&t[0])
            ));
        }
        // Wrap-around: the cursor at the maximum gives the maximum, then starts again low.
        scst_mutex.lock().rti = u32::from(SCST_MAX_REL_TGT_ID);
        assert_eq!(gen_relative_target_port_id(), Ok(SCST_MAX_REL_TGT_ID));
        let next = gen_relative_target_port_id().unwrap();
        assert!(!t.iter().any(|t| t.rel_tgt_id == next));
        crate::scst_main::scst_unregister_target_template(&vtt);
    }
}
