// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2004 - 2016 Vladislav Bolkhovitin <vst@vlnb.net>
// Copyright (C) 2004 - 2005 Leonid Stoljar
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! The port of `scst/src/scst_lib.c`, so far: allocation and freeing of targets, devices,
//! sessions, nexuses (`scst_tgt_dev`, with their command threads) and commands; access
//! control groups (ACGs) with their LUNs (`scst_acg_dev`) and initiator names (`scst_acn`);
//! sense and error helpers; response length and residuals; data buffers (`scst_alloc_sg()`
//! over kemu pages — the SGV cache of `scst_mem.c` comes later); the generic `parse()`
//! helpers; LUN packing; the QUEUE FULL retry list; and, in the submodule
//! `scst_scsi_op_table`, the CDB table with `scst_get_cdb_info()`.
//!
//! Functions that C documents as "scst_mutex supposed to be held" take the guard of
//! `scst_mutex` ([`ScstMutexGuard`]), which is also what lets them reach the lists
//! `LockedBy` that mutex. C also requires suspended activity for the LUN and group changes;
//! activity suspension is not ported yet, so callers must not change LUNs under commands
//! in flight.
//!
//! What the memory side of C's `kfree()`/`kmem_cache_free()` did is the `Arc`s' job; the
//! `scst_free_*` functions keep the C names and do the non-memory part. Functions with a
//! `_locked` suffix take the command's data ([`ScstCmdData`]) locked by the caller.
#![doc(alias = "scst_lib.c")]

// scst_lib.c: the opcode descriptors (scst_op_descr_*)
pub mod scst_op_descr;
mod scst_scsi_op_table; // scst_lib.c: the CDB table and its decoders
pub use scst_scsi_op_table::{
    cdb_byte, get_unaligned_be16, get_unaligned_be24, get_unaligned_be32, get_unaligned_be64,
    scst_get_cdb_info_locked, scst_scsi_op_table, ScstSdbops, SCST_CDB_NOTSUPP, SCST_GET_CDB_LEN,
};

use crate::scst::*;
use crate::scst::{
    scst_cmd_get_state, scst_cmd_get_tag, scst_set_cmd_state, CmdState, ScstAcg, ScstAcgDev,
    ScstAcn, ScstCmd, ScstCmdData, ScstCmdThreads, ScstDevice, ScstOrderData, ScstSession, ScstTgt,
    ScstTgtDev, ScstTgtDevLocked, ScstTgtTemplate, NO_SUCH_LUN, SCST_INVAL_FIELD_BIT_OFFS_VALID,
    SCST_SENSE_ASCQ_VALID, SCST_SENSE_ASC_VALID, SCST_SENSE_KEY_VALID, SCST_SESS_SPH_SHUTDOWN,
    SCST_SESS_SPH_UNREG_DONE_CALLING, SCST_THREADS_POOL_PER_INITIATOR, SCST_THREADS_POOL_SHARED,
    SESS_TGT_DEV_LIST_HASH_FN,
};
use crate::scst_const::*;
use crate::scst_main::{
    scst_mgmt_lock, scst_mgmt_waitQ, scst_mutex, scst_null_devtype, scst_trace_flag as TRACE_FLAG,
    ScstMutexGuard,
};
use crate::scst_mem::{
    scst_sgv_pool_use_dma, scst_sgv_pool_use_norm, scst_sgv_pool_use_norm_clust,
    sgv_check_allowed_mem, sgv_pool_alloc, sgv_pool_free, sgv_uncheck_allowed_mem,
    SGV_POOL_ALLOC_NO_CACHED, SGV_POOL_NO_ALLOC_ON_CACHE_MISS,
};
use crate::scst_priv::{SCST_SET_UA_FLAG_AT_HEAD, SCST_SET_UA_FLAG_GLOBAL};
use kemu::atomic::{atomic_read, atomic_set, set_bit};
use kemu::atomic::{test_and_set_bit, AtomicT, BitWord};
use kemu::completion::complete_all;
use kemu::kref::{kref_get, kref_put};
use kemu::list::AtomicListHandle;
use kemu::mm::{GFP_ATOMIC, GFP_KERNEL, PAGE_SIZE};
use kemu::printk::{TRACE_FLOW_CONTROL, TRACE_MINOR};
use kemu::scatterlist::{sg_copy_from_buffer, sg_copy_to_buffer, sg_total_len};
use kemu::sync::SpinLock;
use kemu::wait::wake_up_all;
use kemu::PRINT_WARNING;
use kemu::{
    Errno, PRINT_CRIT_ERROR, PRINT_ERROR, PRINT_INFO, TRACE, TRACE_DBG, TRACE_MEM, TRACE_MGMT_DBG,
};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
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
/// here so that every caller gets it. Every session of the group gets its `tgt_dev` for the
/// new LUN. (C requires suspended activity around this; suspension, the sysfs entries, the
/// DIF checks and the REPORTED LUNS DATA HAS CHANGED unit attention come later.)
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

    // The group's sessions see the new LUN at once: one nexus per session.
    let sessions: Vec<_> = acg
        .acg_sess_list
        .access(g)
        .iter()
        .map(|(_, s)| s.clone())
        .collect();
    let mut tmp_tgt_dev_list = Vec::new();
    for sess in &sessions {
        match scst_alloc_add_tgt_dev(g, sess, &acg_dev) {
            Ok(t) => tmp_tgt_dev_list.push(t),
            Err(Errno::EPERM) => {}
            Err(e) => {
                for t in &tmp_tgt_dev_list {
                    scst_free_tgt_dev(g, t);
                }
                scst_del_free_acg_dev(g, acg, &acg_dev);
                return Err(e);
            }
        }
    }

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
    // The sessions' nexuses of this LUN go with it.
    let tgt_devs: Vec<_> = acg_dev
        .dev
        .dev_tgt_dev_list
        .access(g)
        .iter()
        .filter(|(_, t)| Arc::ptr_eq(&t.acg_dev, &acg_dev))
        .map(|(_, t)| t.clone())
        .collect();
    for t in &tgt_devs {
        scst_free_tgt_dev(g, t);
    }
    PRINT_INFO!("Removed LUN {} from group {} (target ?)", lun, acg.acg_name);
    Some(acg_dev)
}

/// C `scst_acg_del_lun()`: removes LUN `lun` from `acg`; `EINVAL` if the group has no such
/// LUN; with `gen_report_luns_changed` the group's sessions get REPORTED LUNS DATA HAS
/// CHANGED. Called with `scst_mutex` held.
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
        scst_report_luns_changed(g, acg);
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
    scst_sess_free_tgt_devs(&mut g, sess);
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

// ---------------------------------------------------------------------------------------------
// The command datapath: sense, errors, buffers, commands, tgt_devs
// ---------------------------------------------------------------------------------------------
//
// Functions with a `_locked` suffix work on the command's data ([`ScstCmdData`]) whose mutex
// the caller holds; the public function of the C name takes the command and locks it. Every
// C caller on the state machine path already holds the data, so the pair keeps C's call
// structure without re-locking.

/// C `scst_get_cmd_dev_d_sense()`: whether the command's device wants descriptor sense.
fn scst_get_cmd_dev_d_sense(d: &ScstCmdData) -> bool {
    d.dev.as_ref().is_some_and(|dev| dev.d_sense.load(SeqCst))
}

/// C `scst_alloc_sense()`: allocates (or clears) the command's sense buffer
/// (`SCST_SENSE_BUFFERSIZE` bytes) and sets its valid length to 0.
pub fn scst_alloc_sense_locked(d: &mut ScstCmdData) -> i32 {
    match &mut d.sense {
        Some(s) => s.fill(0),
        None => d.sense = Some(vec![0; SCST_SENSE_BUFFERSIZE]),
    }
    d.sense_valid_len = 0;
    0
}

/// C `scst_alloc_sense()`.
pub fn scst_alloc_sense(cmd: &ScstCmd, _atomic: bool) -> i32 {
    scst_alloc_sense_locked(&mut cmd.d.lock())
}

/// C `scst_alloc_set_sense()`: copies `sense` into the command's sense buffer (truncated to
/// the buffer).
pub fn scst_alloc_set_sense_locked(d: &mut ScstCmdData, sense: &[u8]) -> i32 {
    let res = scst_alloc_sense_locked(d);
    let mut len = sense.len();
    if len > SCST_SENSE_BUFFERSIZE {
        PRINT_WARNING!(
            "Sense truncated (needed {}), shall you increase SCST_SENSE_BUFFERSIZE? Op: {}",
            len,
            d.op_name
        );
        len = SCST_SENSE_BUFFERSIZE;
    }
    if let Some(s) = &mut d.sense {
        s[..len].copy_from_slice(&sense[..len]);
    }
    d.sense_valid_len = len;
    res
}

/// C `scst_alloc_set_sense()`.
pub fn scst_alloc_set_sense(cmd: &ScstCmd, _atomic: bool, sense: &[u8]) -> i32 {
    scst_alloc_set_sense_locked(&mut cmd.d.lock(), sense)
}

/// C `scst_set_cmd_error_status()`: sets an error status (no data is returned, residuals are
/// possible, the status is sent); `-EEXIST` if a status is already set.
pub fn scst_set_cmd_error_status_locked(d: &mut ScstCmdData, status: u8) -> i32 {
    if status == SAM_STAT_RESERVATION_CONFLICT {
        TRACE_DBG!(
            "Reservation conflict (dev {:?})",
            d.dev.as_ref().map(|x| &x.virt_name)
        );
    }
    if d.status != 0 {
        TRACE_DBG!("cmd already has status {:x} set", d.status);
        return kemu::errno_neg(Errno::EEXIST);
    }
    d.status = status;
    d.host_status = DID_OK;
    d.dbl_ua_orig_resp_data_len = d.resp_data_len;
    d.dbl_ua_orig_data_direction = d.data_direction;
    d.data_direction = SCST_DATA_NONE;
    d.resp_data_len = 0;
    d.resid_possible = true;
    d.is_send_status = true;
    d.completed = true;
    0
}

/// C `scst_set_cmd_error_status()`.
pub fn scst_set_cmd_error_status(cmd: &ScstCmd, status: u8) -> i32 {
    scst_set_cmd_error_status_locked(&mut cmd.d.lock(), status)
}

/// C `scst_set_cmd_error()`: CHECK CONDITION with sense `key`/`asc`/`ascq` in the device's
/// format. LOGICAL UNIT NOT SUPPORTED to INQUIRY is answered as C does, with peripheral
/// qualifier 3 data instead of an error.
pub fn scst_set_cmd_error_locked(d: &mut ScstCmdData, key: u8, asc: u8, ascq: u8) -> i32 {
    // LOGICAL UNIT NOT SUPPORTED needs special handling for REQUEST SENSE and INQUIRY.
    if key == ILLEGAL_REQUEST && asc == 0x25 && ascq == 0 {
        let res = match d.cdb.first() {
            Some(&REQUEST_SENSE) => scst_set_lun_not_supported_request_sense(d, key, asc, ascq),
            Some(&INQUIRY) => scst_set_lun_not_supported_inquiry(d),
            _ => 1,
        };
        if res <= 0 {
            return res;
        }
    }
    let res = scst_set_cmd_error_status_locked(d, SAM_STAT_CHECK_CONDITION);
    if res != 0 {
        return res;
    }
    let res = scst_alloc_sense_locked(d);
    if res != 0 {
        PRINT_ERROR!(
            "Lost sense data (key {:x}, asc {:x}, ascq {:x})",
            key,
            asc,
            ascq
        );
        return res;
    }
    let d_sense = scst_get_cmd_dev_d_sense(d);
    if let Some(s) = &mut d.sense {
        d.sense_valid_len = scst_set_sense(s, d_sense, key, asc, ascq);
    }
    0
}

/// C `scst_set_cmd_error()`.
pub fn scst_set_cmd_error(cmd: &ScstCmd, key: u8, asc: u8, ascq: u8) -> i32 {
    scst_set_cmd_error_locked(&mut cmd.d.lock(), key, asc, ascq)
}

/// C `scst_set_lun_not_supported_request_sense()`: REQUEST SENSE to a LUN that does not
/// exist returns LOGICAL UNIT NOT SUPPORTED as its data, with GOOD status (in the format the
/// CDB's DESC bit asks for).
fn scst_set_lun_not_supported_request_sense(
    d: &mut ScstCmdData,
    key: u8,
    asc: u8,
    ascq: u8,
) -> i32 {
    if d.status != 0 {
        return kemu::errno_neg(Errno::EEXIST);
    }
    if d.sg.is_empty() {
        if d.bufflen == 0 {
            d.bufflen = i32::from(cdb_byte(d, 4));
        }
        match scst_alloc_sg(usize::try_from(d.bufflen).unwrap_or(0)) {
            Some(sg) => {
                d.sg_cnt = i32::try_from(sg.len()).unwrap_or(0);
                d.sg = sg;
            }
            None => {
                PRINT_ERROR!(
                    "Unable to alloc sg for REQUEST SENSE (sense {:x}/{:x}/{:x})",
                    key,
                    asc,
                    ascq
                );
                return 1;
            }
        }
    } else if d
        .sg
        .first()
        .is_some_and(|s| scst_sense_valid(Some(kemu::scatterlist::sg_virt(s))))
    {
        return kemu::errno_neg(Errno::EEXIST);
    }
    let len = d.sg.first().map_or(0, |s| s.length as usize);
    let mut buf = vec![0u8; len];
    let desc = cdb_byte(d, 1) & 1 != 0;
    let sense_len = scst_set_sense(&mut buf, desc, key, asc, ascq).min(len);
    sg_copy_from_buffer(&mut d.sg, &buf);
    d.data_direction = SCST_DATA_READ;
    scst_set_resp_data_len_locked(d, i32::try_from(sense_len).unwrap_or(0));
    d.completed = true;
    d.resid_possible = true;
    0
}

/// C `scst_set_lun_not_supported_inquiry()`: standard INQUIRY data for a LUN that does not
/// exist: peripheral qualifier 011b, type 1Fh, SPC-4.
fn scst_set_lun_not_supported_inquiry(d: &mut ScstCmdData) -> i32 {
    if d.status != 0 {
        return kemu::errno_neg(Errno::EEXIST);
    }
    if d.sg.is_empty() {
        if d.bufflen == 0 {
            d.bufflen = i32::try_from(get_unaligned_be16(d, 3).min(36)).unwrap_or(36);
        }
        match scst_alloc_sg(usize::try_from(d.bufflen).unwrap_or(0)) {
            Some(sg) => {
                d.sg_cnt = i32::try_from(sg.len()).unwrap_or(0);
                d.sg = sg;
            }
            None => return 1,
        }
    }
    let mut buf = [0u8; 36];
    buf[0] = 0x7F;
    buf[2] = 6;
    let len = d.sg.first().map_or(0, |s| (s.length as usize).min(36));
    buf[4] = u8::try_from(len.saturating_sub(4)).unwrap_or(0);
    sg_copy_from_buffer(&mut d.sg, &buf[..len]);
    d.data_direction = SCST_DATA_READ;
    scst_set_resp_data_len_locked(d, i32::try_from(len).unwrap_or(0));
    d.completed = true;
    d.resid_possible = true;
    0
}

/// C `scst_set_sense()`: writes fixed (70h) or descriptor (72h) sense into `buffer`; returns
/// its length (18 or 8). Unit attentions with ASC 29h or MODE PARAMETERS CHANGED are always
/// fixed format, as SPC requires.
pub fn scst_set_sense(buffer: &mut [u8], d_sense: bool, key: u8, asc: u8, ascq: u8) -> usize {
    let len = buffer.len();
    buffer.fill(0);
    let d_sense =
        d_sense && !(key == UNIT_ATTENTION && (asc == 0x29 || (asc == 0x2A && ascq == 1)));
    let mut put = |i: usize, v: u8| {
        if let Some(b) = buffer.get_mut(i) {
            *b = v;
        }
    };
    if d_sense {
        if len < 8 {
            PRINT_ERROR!("Length {} of sense buffer too small to fit sense", len);
        }
        put(0, 0x72);
        put(1, key);
        put(2, asc);
        put(3, ascq);
        8
    } else {
        if len < 18 {
            PRINT_ERROR!("Length {} of sense buffer too small to fit sense", len);
        }
        put(0, 0x70);
        put(2, key);
        put(7, 0x0a);
        put(12, asc);
        put(13, ascq);
        18
    }
}

/// C `scst_sense_response_code()`: the response code (byte 0, low 7 bits).
pub fn scst_sense_response_code(sense: &[u8]) -> u8 {
    sense.first().map_or(0, |b| b & 0x7F)
}

/// C `scst_analyze_sense()`: whether `sense` (either format) matches `key`/`asc`/`ascq` in the
/// parts `valid_mask` selects (`SCST_SENSE_*_VALID`).
pub fn scst_analyze_sense(sense: &[u8], valid_mask: i32, key: u8, asc: u8, ascq: u8) -> bool {
    let rc = scst_sense_response_code(sense);
    let (k, a, q) = match rc {
        0x70 | 0x71 => (2, 12, 13),
        0x72 | 0x73 => (1, 2, 3),
        _ => {
            PRINT_ERROR!("Unknown sense response code 0x{:x}", rc);
            return false;
        }
    };
    let ok = |mask: i32, idx: usize, v: u8| valid_mask & mask == 0 || sense.get(idx) == Some(&v);
    ok(SCST_SENSE_KEY_VALID, k, key)
        && ok(SCST_SENSE_ASC_VALID, a, asc)
        && ok(SCST_SENSE_ASCQ_VALID, q, ascq)
}

/// C `scst_is_ua_sense()`: valid sense carrying UNIT ATTENTION.
pub fn scst_is_ua_sense(sense: &[u8]) -> bool {
    scst_sense_valid(Some(sense))
        && scst_analyze_sense(sense, SCST_SENSE_KEY_VALID, UNIT_ATTENTION, 0, 0)
}

/// C `scst_check_convert_sense()`: converts the command's sense to the device's format
/// (only response code, key, ASC and ASCQ survive, as in C).
pub fn scst_check_convert_sense_locked(d: &mut ScstCmdData) {
    if d.status != SAM_STAT_CHECK_CONDITION {
        return;
    }
    let d_sense = scst_get_cmd_dev_d_sense(d);
    let valid = d.sense_valid_len;
    let Some(s) = &mut d.sense else { return };
    let rc = scst_sense_response_code(s);
    if d_sense
        && (rc == 0x70 || rc == 0x71)
        && !(s[2] == UNIT_ATTENTION && (s[12] == 0x29 || (s[12] == 0x2A && s[13] == 1)))
    {
        if valid < 18 {
            PRINT_ERROR!("Sense too small to convert ({}, type: fixed)", valid);
            return;
        }
        let (k, a, q) = (s[2], s[12], s[13]);
        d.sense_valid_len = scst_set_sense(s, true, k, a, q);
    } else if !d_sense && (rc == 0x72 || rc == 0x73) {
        if valid < 4 {
            PRINT_ERROR!("Sense too small to convert ({}, type: descriptor)", valid);
            return;
        }
        let (k, a, q) = (s[1], s[2], s[3]);
        d.sense_valid_len = scst_set_sense(s, false, k, a, q);
    }
}

/// C `scst_check_convert_sense()`.
pub fn scst_check_convert_sense(cmd: &ScstCmd) {
    scst_check_convert_sense_locked(&mut cmd.d.lock());
}

/// C `scst_set_invalid_field_in()` for the CDB: ILLEGAL REQUEST, INVALID FIELD IN CDB with the
/// field pointer (byte `field_offs`, bit `bit_offs & 7` if `SCST_INVAL_FIELD_BIT_OFFS_VALID`).
pub fn scst_set_invalid_field_in_cdb_locked(
    d: &mut ScstCmdData,
    field_offs: usize,
    bit_offs: i32,
) -> i32 {
    scst_set_invalid_field_in(d, field_offs, bit_offs, true)
}

/// C `scst_set_invalid_field_in_cdb()`.
pub fn scst_set_invalid_field_in_cdb(cmd: &ScstCmd, field_offs: usize, bit_offs: i32) -> i32 {
    scst_set_invalid_field_in_cdb_locked(&mut cmd.d.lock(), field_offs, bit_offs)
}

/// C `scst_set_invalid_field_in_parm_list()`.
pub fn scst_set_invalid_field_in_parm_list(cmd: &ScstCmd, field_offs: usize, bit_offs: i32) -> i32 {
    scst_set_invalid_field_in(&mut cmd.d.lock(), field_offs, bit_offs, false)
}

/// C `scst_set_invalid_field_in()`: the sense of INVALID FIELD IN CDB (24h) or IN PARAMETER
/// LIST (26h) with the sense-key-specific field pointer (C `scst_fill_field_pointer_sense()`).
fn scst_set_invalid_field_in(
    d: &mut ScstCmdData,
    field_offs: usize,
    bit_offs: i32,
    cdb: bool,
) -> i32 {
    let asc = if cdb { 0x24 } else { 0x26 };
    let d_sense = scst_get_cmd_dev_d_sense(d);
    let res = scst_set_cmd_error_status_locked(d, SAM_STAT_CHECK_CONDITION);
    if res != 0 {
        return res;
    }
    scst_alloc_sense_locked(d);
    let mut fp = [0u8; 3];
    fp[0] = 0x80 | if cdb { 0x40 } else { 0 };
    if bit_offs & SCST_INVAL_FIELD_BIT_OFFS_VALID != 0 {
        fp[0] |= 8 | (bit_offs & 7) as u8;
    }
    let fo = u16::try_from(field_offs).unwrap_or(u16::MAX).to_be_bytes();
    fp[1] = fo[0];
    fp[2] = fo[1];
    let Some(s) = &mut d.sense else { return 0 };
    if d_sense {
        s[0] = 0x72;
        s[1] = ILLEGAL_REQUEST;
        s[2] = asc;
        s[7] = 8;
        s[8] = 2;
        s[9] = 6;
        s[12..15].copy_from_slice(&fp);
        d.sense_valid_len = 16;
    } else {
        s[0] = 0x70;
        s[2] = ILLEGAL_REQUEST;
        s[7] = 0x0a;
        s[12] = asc;
        s[15..18].copy_from_slice(&fp);
        d.sense_valid_len = 18;
    }
    0
}

/// C `scst_set_busy()`: BUSY if this is the session's only command (or it is not ready),
/// TASK SET FULL otherwise.
pub fn scst_set_busy_locked(d: &mut ScstCmdData, sess: &ScstSession) {
    let c = atomic_read(&sess.sess_cmd_count);
    if c <= 1 || atomic_read(&sess.init_phase) != crate::scst::SCST_SESS_IPH_READY {
        scst_set_cmd_error_status_locked(d, SAM_STAT_BUSY);
        TRACE_DBG!(
            "Sending BUSY status to initiator {} (cmds count {})",
            sess.initiator_name,
            c
        );
    } else {
        scst_set_cmd_error_status_locked(d, SAM_STAT_TASK_SET_FULL);
        TRACE_DBG!(
            "Sending QUEUE_FULL status to initiator {} (cmds count {})",
            sess.initiator_name,
            c
        );
    }
}

/// C `scst_set_busy()`.
pub fn scst_set_busy(cmd: &ScstCmd) {
    scst_set_busy_locked(&mut cmd.d.lock(), &cmd.sess);
}

/// C `scst_get_cmd_abnormal_done_state()`: the state that finishes the command quickly from
/// its current state.
pub fn scst_get_cmd_abnormal_done_state(cmd: &ScstCmd, d: &ScstCmdData) -> CmdState {
    let st = scst_cmd_get_state(cmd);
    match st {
        SCST_CMD_STATE_INIT_WAIT | SCST_CMD_STATE_INIT | SCST_CMD_STATE_PARSE
            if d.preprocessing_only =>
        {
            SCST_CMD_STATE_PREPROCESSING_DONE
        }
        SCST_CMD_STATE_INIT_WAIT
        | SCST_CMD_STATE_INIT
        | SCST_CMD_STATE_PARSE
        | SCST_CMD_STATE_DEV_DONE => {
            if d.internal {
                SCST_CMD_STATE_FINISHED_INTERNAL
            } else {
                SCST_CMD_STATE_PRE_XMIT_RESP1
            }
        }
        SCST_CMD_STATE_PRE_DEV_DONE | SCST_CMD_STATE_MODE_SELECT_CHECKS => SCST_CMD_STATE_DEV_DONE,
        SCST_CMD_STATE_PRE_XMIT_RESP1 => SCST_CMD_STATE_PRE_XMIT_RESP2,
        SCST_CMD_STATE_PRE_XMIT_RESP2 => SCST_CMD_STATE_XMIT_RESP,
        SCST_CMD_STATE_PREPROCESSING_DONE | SCST_CMD_STATE_PREPROCESSING_DONE_CALLED => {
            if d.tgt_dev.is_none() {
                SCST_CMD_STATE_PRE_XMIT_RESP1
            } else {
                SCST_CMD_STATE_PRE_DEV_DONE
            }
        }
        SCST_CMD_STATE_PREPARE_SPACE if d.preprocessing_only => SCST_CMD_STATE_PREPROCESSING_DONE,
        SCST_CMD_STATE_PREPARE_SPACE
        | SCST_CMD_STATE_RDY_TO_XFER
        | SCST_CMD_STATE_DATA_WAIT
        | SCST_CMD_STATE_TGT_PRE_EXEC
        | SCST_CMD_STATE_EXEC_CHECK_BLOCKING
        | SCST_CMD_STATE_EXEC_CHECK_SN
        | SCST_CMD_STATE_LOCAL_EXEC
        | SCST_CMD_STATE_REAL_EXEC
        | SCST_CMD_STATE_EXEC_WAIT => SCST_CMD_STATE_PRE_DEV_DONE,
        _ => {
            PRINT_CRIT_ERROR!("Wrong cmd state {:?} (op {})", st, d.op_name);
            panic!("scst_get_cmd_abnormal_done_state: wrong command state");
        }
    }
}

/// C `scst_set_cmd_abnormal_done_state()`: moves the command to the state that finishes it
/// quickly; before execution no data will be written.
pub fn scst_set_cmd_abnormal_done_state_locked(cmd: &ScstCmd, d: &mut ScstCmdData) {
    let st = scst_get_cmd_abnormal_done_state(cmd, d);
    scst_set_cmd_state(cmd, st);
    match st {
        SCST_CMD_STATE_PREPROCESSING_DONE
        | SCST_CMD_STATE_PREPROCESSING_DONE_CALLED
        | SCST_CMD_STATE_PREPARE_SPACE
        | SCST_CMD_STATE_RDY_TO_XFER
        | SCST_CMD_STATE_DATA_WAIT => {
            d.write_len = 0;
            d.resid_possible = true;
        }
        _ => {}
    }
}

/// C `scst_process_check_condition()`: a command of a nexus ended in CHECK CONDITION.
/// With NACA set in its CDB's control byte, ACA is established on its nexus. While ACA is
/// active, the CHECK CONDITION of the faulted nexus's ACA command, or of a PERSISTENT
/// RESERVE OUT PREEMPT AND ABORT, without NACA clears it instead; the answer of a command ACA
/// does not allow is held back on `deferred_cmd_list` (at its head, being complete) until
/// the ACA is cleared. Returns -1 if the command was held back (processing goes on with
/// another command), 1 if it was aborted meanwhile, 0 to go on. No locks held.
/// (QErr's aborts and the stored sense that follow in C, `scst_process_qerr()` and
/// `scst_store_sense()`, are not ported.)
pub fn scst_process_check_condition(cmd: &Arc<ScstCmd>) -> i32 {
    let (order_data, tgt_dev, queue_type, naca, cmd_aca_allowed, pr_preempt_abort) = {
        let d = cmd.d.lock();
        (
            d.cur_order_data.clone(),
            d.tgt_dev.clone(),
            d.queue_type,
            d.cmd_naca,
            d.cmd_aca_allowed,
            crate::scst_targ::scst_is_pr_preempt_and_abort(&d.cdb),
        )
    };
    let (Some(order_data), Some(tgt_dev)) = (order_data, tgt_dev) else {
        return 0;
    };
    let this_id = scst_tgt_dev_id(&tgt_dev);
    TRACE_DBG!(
        "CHECK CONDITION (naca {}, cmd_aca_allowed {}, ACA cmd {}, aca_tgt_dev {:#x})",
        naca,
        cmd_aca_allowed,
        queue_type == SCST_CMD_QUEUE_ACA,
        order_data.aca_tgt_dev.load(SeqCst)
    );
    let mut l = order_data.sn_lock.lock_irq();
    let aca_tgt_dev = order_data.aca_tgt_dev.load(SeqCst);
    if aca_tgt_dev != 0 {
        if ((queue_type == SCST_CMD_QUEUE_ACA && aca_tgt_dev == this_id) || pr_preempt_abort)
            && !naca
        {
            if l.aca_cmd.as_ref().is_some_and(|c| Arc::ptr_eq(c, cmd)) {
                // No longer the pending ACA command, so that clearing the ACA does not
                // abort it.
                TRACE_MGMT_DBG!("Check condition of ACA cmd");
                l.aca_cmd = None;
            }
            drop(l);
            // Straight on, without taking sn_lock again: the ACA could be re-established
            // meanwhile.
            crate::scst_targ::scst_clear_aca(&tgt_dev, aca_tgt_dev != this_id);
            return 0;
        }
        if kemu::atomic::test_bit(SCST_CMD_ABORTED, &cmd.cmd_flags) {
            // Aborted (and perhaps already unblocked) while coming here: it must not be
            // held back any more.
            return 1;
        } else if !cmd_aca_allowed {
            TRACE_MGMT_DBG!("Deferring CHECK CONDITION cmd due to ACA active");
            kemu::atomic::atomic_inc(&order_data.def_cmd_count);
            // At the head: it is complete (with CHECK CONDITION), so it restarts first.
            let h = l.deferred_cmd_list.add(cmd.clone());
            cmd.cmd_list_entry.set(h);
            return -1;
        }
    }
    if naca {
        TRACE_MGMT_DBG!(
            "Establishing ACA for dev {} (lun {})",
            tgt_dev.dev.virt_name,
            tgt_dev.lun
        );
        order_data.aca_tgt_dev.store(this_id, SeqCst);
    }
    0
}

/// C `scst_set_cmd_abnormal_done_state()`.
pub fn scst_set_cmd_abnormal_done_state(cmd: &ScstCmd) {
    let mut d = cmd.d.lock();
    scst_set_cmd_abnormal_done_state_locked(cmd, &mut d);
}

/// C `scst_set_resp_data_len()`: the response carries `resp_data_len` bytes (at most
/// `bufflen`); a shorter response makes residuals possible. (C also trims the scatterlist,
/// `scst_adjust_sg()`; the port keeps the list and lets the driver send
/// `adjusted_resp_data_len` bytes.)
pub fn scst_set_resp_data_len_locked(d: &mut ScstCmdData, resp_data_len: i32) {
    d.resp_data_len = resp_data_len;
    if resp_data_len == d.bufflen {
        return;
    }
    if resp_data_len > d.bufflen {
        PRINT_ERROR!(
            "Too big response data len {} (max {}), limiting it to the max (dev {:?})",
            resp_data_len,
            d.bufflen,
            d.dev.as_ref().map(|x| &x.virt_name)
        );
        d.resp_data_len = d.bufflen;
        return;
    }
    d.resid_possible = true;
}

/// C `scst_set_resp_data_len()`.
pub fn scst_set_resp_data_len(cmd: &ScstCmd, resp_data_len: i32) {
    scst_set_resp_data_len_locked(&mut cmd.d.lock(), resp_data_len);
}

/// C `scst_adjust_resp_data_len()`: the response cut to the expected transfer length.
pub fn scst_adjust_resp_data_len_locked(d: &mut ScstCmdData) {
    if !d.expected_values_set {
        d.adjusted_resp_data_len = d.resp_data_len;
        return;
    }
    d.adjusted_resp_data_len = d.resp_data_len.min(d.expected_transfer_len_full);
}

/// C `scst_cmd_set_write_not_received_data_len()`: `not_received` bytes of the write data did
/// not arrive; residuals become possible.
pub fn scst_cmd_set_write_not_received_data_len_locked(d: &mut ScstCmdData, not_received: i32) {
    d.write_not_received_set = true;
    if !d.expected_values_set {
        // Completed before the driver set the expected values: no residuals processing.
        return;
    }
    d.resid_possible = true;
    if d.expected_data_direction & SCST_DATA_READ != 0
        && d.expected_data_direction & SCST_DATA_WRITE != 0
    {
        d.write_len = d.expected_out_transfer_len - not_received;
    } else if d.expected_data_direction & SCST_DATA_WRITE != 0 {
        d.write_len = d.expected_transfer_len_full - not_received;
    }
}

/// C `scst_cmd_set_write_not_received_data_len()`.
pub fn scst_cmd_set_write_not_received_data_len(cmd: &ScstCmd, not_received: i32) {
    scst_cmd_set_write_not_received_data_len_locked(&mut cmd.d.lock(), not_received);
}

/// C `scst_cmd_set_write_no_data_received()`: none of the write data arrived.
pub fn scst_cmd_set_write_no_data_received_locked(d: &mut ScstCmdData) {
    let w = if d.expected_data_direction & SCST_DATA_READ != 0
        && d.expected_data_direction & SCST_DATA_WRITE != 0
    {
        d.expected_out_transfer_len
    } else {
        d.expected_transfer_len_full
    };
    scst_cmd_set_write_not_received_data_len_locked(d, w);
}

/// C `__scst_get_resid()`: the residual (and the bidirectional out residual) against the
/// expected values; None without expected values.
pub fn __scst_get_resid(d: &ScstCmdData) -> Option<(i32, i32)> {
    if !d.expected_values_set {
        TRACE_DBG!("No expected values set, ignoring");
        return None;
    }
    let mut resid = 0;
    let mut bidi_out_resid = 0;
    if d.expected_data_direction & SCST_DATA_READ != 0 {
        resid = d.expected_transfer_len_full - d.resp_data_len;
        if d.expected_data_direction & SCST_DATA_WRITE != 0 {
            bidi_out_resid = if d.write_len < d.expected_out_transfer_len {
                d.expected_out_transfer_len - d.write_len
            } else {
                d.write_len - d.out_bufflen
            };
        }
    } else if d.expected_data_direction & SCST_DATA_WRITE != 0 {
        resid = if d.write_len < d.expected_transfer_len_full {
            d.expected_transfer_len_full - d.write_len
        } else {
            d.write_len - d.bufflen
        };
    }
    Some((resid, bidi_out_resid))
}

/// C scst.h `scst_get_resid()`: `(resid, bidi_out_resid)` if residuals are possible for the
/// command and it has expected values; None otherwise (C returns false).
pub fn scst_get_resid(cmd: &ScstCmd) -> Option<(i32, i32)> {
    let d = cmd.d.lock();
    if !d.resid_possible {
        return None;
    }
    __scst_get_resid(&d)
}

pub use crate::scst_mem::{scst_alloc_sg, scst_free_sg};

/// C scst_priv.h `SCST_TGT_RETRY_TIMEOUT`: one jiffy.
pub const SCST_TGT_RETRY_TIMEOUT: u64 = 1;

/// C `scst_queue_retry_cmd()`: the driver answered QUEUE FULL; the command waits on the
/// target's retry list until another command of the target completes or the retry timer
/// fires (`scst_check_retries()`).
pub fn scst_queue_retry_cmd(cmd: &Arc<ScstCmd>) {
    let tgt = &cmd.tgt;
    let weak = Arc::downgrade(tgt);
    let timer = tgt.retry_timer.get_or_init(|| {
        kemu::timer::TimerList::new(move || {
            if let Some(tgt) = weak.upgrade() {
                scst_tgt_retry_timer_fn(&tgt);
            }
        })
    });
    let mut l = tgt.tgt_lock.lock_irqsave();
    l.retry_cmds += 1;
    let h = l.retry_cmd_list.add_tail(cmd.clone());
    cmd.cmd_list_entry.set(h);
    TRACE!(
        TRACE_FLOW_CONTROL,
        "TGT QUEUE FULL: adding cmd to retry cmd list (retry_cmds {})",
        l.retry_cmds
    );
    if !l.retry_timer_active {
        kemu::timer::mod_timer(timer, kemu::timer::jiffies() + SCST_TGT_RETRY_TIMEOUT);
        l.retry_timer_active = true;
    }
}

/// C `scst_check_retries()`: moves up to 20 commands ("slow start") of the target's retry
/// list back to their pools.
pub fn scst_check_retries(tgt: &ScstTgt) {
    let mut l = tgt.tgt_lock.lock_irqsave();
    if l.retry_cmds == 0 {
        return;
    }
    TRACE!(
        TRACE_FLOW_CONTROL,
        "Checking retry cmd list (retry_cmds {})",
        l.retry_cmds
    );
    let mut need_wake_up = 0;
    while let Some(c) = l.retry_cmd_list.pop_front() {
        l.retry_cmds -= 1;
        c.cmd_list_entry.take();
        let p = c.d.lock().cmd_threads.clone();
        let mut pl = p.cmd_list_lock.lock();
        let h = pl.active_cmd_list.add_tail(c.clone());
        c.cmd_list_entry.set(h);
        kemu::wait::wake_up(&p.cmd_list_waitQ);
        drop(pl);
        need_wake_up += 1;
        if need_wake_up >= 20 {
            break;
        }
    }
}

/// C `scst_tgt_retry_timer_fn()`: retries, and re-arms itself while commands wait.
fn scst_tgt_retry_timer_fn(tgt: &Arc<ScstTgt>) {
    tgt.tgt_lock.lock_irqsave().retry_timer_active = false;
    scst_check_retries(tgt);
    let mut l = tgt.tgt_lock.lock_irqsave();
    if l.retry_cmds > 0 && !l.retry_timer_active {
        if let Some(t) = tgt.retry_timer.get() {
            kemu::timer::mod_timer(t, kemu::timer::jiffies() + SCST_TGT_RETRY_TIMEOUT);
            l.retry_timer_active = true;
        }
    }
}

/// C `scst_alloc_space()`: the data buffer (and the out buffer of bidirectional commands)
/// from the nexus's SGV pool (`tgt_dev->pools`), charged to the device's `dev_mem_lim`. In
/// atomic context a cache miss fails (`SGV_POOL_NO_ALLOC_ON_CACHE_MISS`; the caller retries
/// from a thread); `cmd->no_sgv` takes a buffer that is not cached
/// (`SGV_POOL_ALLOC_NO_CACHED`). A nexus without a pool (SCST's pools not created) gets a
/// plain [`scst_alloc_sg`] buffer. (C also checks `max_sg_cnt` with
/// `scst_on_sg_tablesize_low()` and allocates the DIF buffer; neither is ported.)
pub fn scst_alloc_space_locked(d: &mut ScstCmdData) -> Result<(), Errno> {
    let pool = d.tgt_dev.as_ref().and_then(|t| t.pools.clone());
    let (Some(pool), Some(dev)) = (pool, d.dev.clone()) else {
        return scst_alloc_space_no_pool(d);
    };
    let atomic = d.atomic;
    let gfp_mask = d
        .tgt_dev
        .as_ref()
        .map_or(GFP_KERNEL, |t| t.tgt_dev_gfp_mask)
        | if atomic { GFP_ATOMIC } else { GFP_KERNEL };
    let mut flags = if atomic {
        SGV_POOL_NO_ALLOC_ON_CACHE_MISS
    } else {
        0
    };
    if d.no_sgv {
        flags |= SGV_POOL_ALLOC_NO_CACHED;
    }
    let mut cnt = 0;
    let size = u32::try_from(d.bufflen).unwrap_or(0);
    let Some(sg) = sgv_pool_alloc(
        &pool,
        size,
        gfp_mask,
        flags,
        &mut cnt,
        &mut d.sgv,
        &dev.dev_mem_lim,
    ) else {
        // An empty object is returned only with SGV_POOL_RETURN_OBJ_ON_ALLOC_FAIL, which
        // is not asked for here.
        d.sgv = None;
        return Err(Errno::ENOMEM);
    };
    d.sg = sg;
    d.sg_cnt = cnt;

    if d.data_direction != SCST_DATA_BIDI {
        return Ok(());
    }
    let size = u32::try_from(d.out_bufflen).unwrap_or(0);
    let mut out_cnt = 0;
    match sgv_pool_alloc(
        &pool,
        size,
        gfp_mask,
        flags,
        &mut out_cnt,
        &mut d.out_sgv,
        &dev.dev_mem_lim,
    ) {
        Some(sg) => {
            d.out_sg = sg;
            d.out_sg_cnt = out_cnt;
            Ok(())
        }
        None => {
            // C out_sg_free:
            d.out_sgv = None;
            if let Some(obj) = d.sgv.take() {
                sgv_pool_free(obj, std::mem::take(&mut d.sg), &dev.dev_mem_lim);
            }
            d.sg_cnt = 0;
            Err(Errno::ENOMEM)
        }
    }
}

/// [`scst_alloc_space_locked`] for a command whose nexus has no SGV pool: plain
/// [`scst_alloc_sg`] buffers, charged to the device's budget here.
fn scst_alloc_space_no_pool(d: &mut ScstCmdData) -> Result<(), Errno> {
    let bufflen = usize::try_from(d.bufflen).unwrap_or(0);
    let out = if d.data_direction == SCST_DATA_BIDI {
        usize::try_from(d.out_bufflen).unwrap_or(0)
    } else {
        0
    };
    let pages = bufflen.div_ceil(PAGE_SIZE) + out.div_ceil(PAGE_SIZE);
    let pages_i = i32::try_from(pages).unwrap_or(i32::MAX);
    if let Some(dev) = &d.dev {
        if !sgv_check_allowed_mem(&dev.dev_mem_lim, pages_i) {
            return Err(Errno::ENOMEM);
        }
    }
    d.mem_lim_pages = pages;
    let sg = scst_alloc_sg(bufflen).ok_or(Errno::ENOMEM)?;
    d.sg_cnt = i32::try_from(sg.len()).unwrap_or(i32::MAX);
    d.sg = sg;
    if out > 0 {
        let sg = scst_alloc_sg(out).ok_or(Errno::ENOMEM)?;
        d.out_sg_cnt = i32::try_from(sg.len()).unwrap_or(i32::MAX);
        d.out_sg = sg;
    }
    Ok(())
}

/// C `scst_release_space()`: gives the buffers the core allocated back to their SGV pool
/// (or frees them). Buffers of the target driver or the handler are left alone.
fn scst_release_space(d: &mut ScstCmdData) {
    if d.sgv.is_none() {
        if d.mem_lim_pages != 0 {
            if let Some(dev) = &d.dev {
                sgv_uncheck_allowed_mem(
                    &dev.dev_mem_lim,
                    i32::try_from(d.mem_lim_pages).unwrap_or(i32::MAX),
                );
            }
            d.mem_lim_pages = 0;
        }
        if !(d.sg.is_empty() || d.tgt_i_data_buf_alloced || d.dh_data_buf_alloced) {
            TRACE_MEM!("Freeing sg for cmd (cnt {})", d.sg_cnt);
            scst_free_sg(std::mem::take(&mut d.sg));
            if !d.out_sg.is_empty() {
                scst_free_sg(std::mem::take(&mut d.out_sg));
            }
            d.sg_cnt = 0;
            d.out_sg_cnt = 0;
        }
        return;
    }
    if d.tgt_i_data_buf_alloced || d.dh_data_buf_alloced {
        TRACE_MEM!("*data_buf_alloced set, returning");
        return;
    }
    let Some(dev) = d.dev.clone() else {
        return;
    };
    if let Some(obj) = d.out_sgv.take() {
        sgv_pool_free(obj, std::mem::take(&mut d.out_sg), &dev.dev_mem_lim);
        d.out_sg_cnt = 0;
    }
    if let Some(obj) = d.sgv.take() {
        sgv_pool_free(obj, std::mem::take(&mut d.sg), &dev.dev_mem_lim);
    }
    // C also zeroes bufflen and data_len here; the port keeps them, since the residual
    // helpers may still be called on a finished command.
    d.sg_cnt = 0;
}

/// C `scst_get_buf_full()` + `scst_put_buf_full()` as one safe call: runs `f` on the whole
/// data buffer as one contiguous slice (`bufflen` bytes) and writes it back. Like C when the
/// buffer has more than one entry, this copies. Returns None without a buffer. The command's
/// data lock is held while `f` runs, so `f` must not call the command's accessors.
pub fn scst_cmd_with_buf_mut<R>(cmd: &ScstCmd, f: impl FnOnce(&mut [u8]) -> R) -> Option<R> {
    let mut d = cmd.d.lock();
    scst_with_buf_locked(&mut d, f)
}

/// [`scst_cmd_with_buf_mut`] on locked data.
pub fn scst_with_buf_locked<R>(d: &mut ScstCmdData, f: impl FnOnce(&mut [u8]) -> R) -> Option<R> {
    if d.sg.is_empty() {
        return None;
    }
    let len = sg_total_len(&d.sg).min(usize::try_from(d.bufflen).unwrap_or(0));
    let mut buf = vec![0u8; len];
    sg_copy_to_buffer(&d.sg, &mut buf);
    let r = f(&mut buf);
    sg_copy_from_buffer(&mut d.sg, &buf);
    Some(r)
}

/// C `scst_get_buf_full_sense()` + put: as [`scst_with_buf_locked`], but a command without a
/// buffer gets sense (C: HARDWARE ERROR when the buffer cannot be had).
pub fn scst_with_buf_full_sense_locked<R>(
    d: &mut ScstCmdData,
    f: impl FnOnce(&mut [u8]) -> R,
) -> Option<R> {
    if d.bufflen == 0 || d.sg.is_empty() {
        return None;
    }
    scst_with_buf_locked(d, f)
}

/// C `scst_pre_init_cmd()` + `scst_alloc_cmd()`: a new command in `SCST_CMD_STATE_INIT_WAIT`
/// with reference count 1, on the global pool, SIMPLE, no response length yet. A CDB of
/// length 0 or longer than `SCST_MAX_LONG_CDB_SIZE` is refused (`EINVAL`).
pub fn scst_alloc_cmd(sess: &Arc<ScstSession>, cdb: &[u8]) -> Result<Arc<ScstCmd>, Errno> {
    if cdb.is_empty() {
        PRINT_ERROR!("Wrong CDB len 0, finishing cmd");
        return Err(Errno::EINVAL);
    }
    if cdb.len() > SCST_MAX_LONG_CDB_SIZE {
        PRINT_ERROR!("Too big CDB ({}), finishing cmd", cdb.len());
        return Err(Errno::EINVAL);
    }
    let mut cdb_buf = cdb.to_vec();
    if cdb_buf.len() < SCST_MAX_CDB_SIZE {
        cdb_buf.resize(SCST_MAX_CDB_SIZE, 0);
    }
    let d = ScstCmdData {
        tgt_dev: None,
        dev: None,
        devt: None,
        cmd_threads: crate::scst_main::scst_main_cmd_threads.clone(),
        cmd_thr: None,
        cur_order_data: None,
        lun: NO_SUCH_LUN,
        cdb: cdb_buf,
        cdb_len: cdb.len(),
        tag: 0,
        queue_type: SCST_CMD_QUEUE_SIMPLE,
        tgt_sn: 0,
        tgt_i_priv: None,
        dh_priv: None,
        atomic: false,
        preprocessing_only: false,
        set_sn_on_restart_cmd: false,
        internal: false,
        sent_for_exec: false,
        completed: false,
        inc_expected_sn_on_done: false,
        hq_cmd_inced: false,
        resid_possible: false,
        is_send_status: true,
        tgt_need_alloc_data_buf: false,
        tgt_i_data_buf_alloced: false,
        dh_data_buf_alloced: false,
        no_sgv: false,
        expected_values_set: false,
        write_not_received_set: false,
        cmd_naca: false,
        cmd_linked: false,
        cmd_aca_allowed: false,
        retry: false,
        double_ua_possible: false,
        ua_ignore: false,
        tgt_sn_set: false,
        data_direction: SCST_DATA_UNKNOWN,
        expected_data_direction: SCST_DATA_UNKNOWN,
        expected_transfer_len_full: 0,
        expected_out_transfer_len: 0,
        bufflen: 0,
        out_bufflen: 0,
        // C sets SCST_DEF_LBA_DATA_LEN here only in CONFIG_SCST_EXTRACHECKS builds (to catch
        // handlers that forget them); a release build starts from the zeroed command.
        data_len: 0,
        lba: 0,
        write_len: 0,
        resp_data_len: -1,
        adjusted_resp_data_len: 0,
        op_flags: 0,
        op_name: "",
        lba_off: 0,
        lba_len: 0,
        len_off: 0,
        len_len: 0,
        timeout: SCST_DEFAULT_TIMEOUT,
        retries: 0,
        sg: Vec::new(),
        sg_cnt: 0,
        out_sg: Vec::new(),
        out_sg_cnt: 0,
        tgt_i_sg: Vec::new(),
        tgt_i_sg_cnt: 0,
        status: 0,
        msg_status: 0,
        host_status: 0,
        driver_status: 0,
        sense: None,
        sense_valid_len: 0,
        delivery_status: SCST_CMD_DELIVERY_SUCCESS,
        dbl_ua_orig_resp_data_len: -1,
        dbl_ua_orig_data_direction: SCST_DATA_UNKNOWN,
        scst_cmd_done: None,
        pr_abort_counter: None,
        mem_lim_pages: 0,
        sgv: None,
        out_sgv: None,
    };
    let cmd = Arc::new(ScstCmd {
        sess: sess.clone(),
        tgt: sess.tgt.clone(),
        tgtt: sess.tgt.tgtt.clone(),
        cmd_flags: BitWord::new(0),
        cmd_ref: AtomicT::new(1),
        state: std::sync::atomic::AtomicI32::new(SCST_CMD_STATE_INIT_WAIT.0),
        sn: std::sync::atomic::AtomicU32::new(0),
        sn_set: AtomicBool::new(false),
        sn_slot: std::sync::atomic::AtomicIsize::new(-1),
        done: AtomicBool::new(false),
        finished: AtomicBool::new(false),
        out_of_sn: AtomicBool::new(false),
        d: kemu::sync::Mutex::new(d),
        cmd_list_entry: AtomicListHandle::new(),
        sess_cmd_list_entry: AtomicListHandle::new(),
        mgmt_cmd_list: kemu::sync::LockedBy::new_spinlock(
            &crate::scst_main::scst_mcmd_lock,
            Vec::new(),
        ),
    });
    // C scst_pre_init_cmd(): `cmd->state = SCST_CMD_STATE_INIT_WAIT` (reported to the trace
    // hook like every other assignment).
    scst_set_cmd_state(&cmd, SCST_CMD_STATE_INIT_WAIT);
    Ok(cmd)
}

/// C `scst_destroy_cmd()`: drops the session reference and the activity count and calls the
/// driver's `on_free_cmd()`; the memory goes with the last `Arc`.
pub(crate) fn scst_destroy_cmd(cmd: &Arc<ScstCmd>) {
    TRACE_DBG!("Destroying cmd {:?}", cmd);
    let (has_tgt_dev, internal) = {
        let d = cmd.d.lock();
        (d.tgt_dev.is_some(), d.internal)
    };
    crate::scst_priv::scst_sess_put(&cmd.sess);
    if has_tgt_dev {
        crate::scst_priv::scst_put();
    }
    if !internal {
        cmd.tgtt.ops.on_free_cmd(cmd);
    }
}

/// C `scst_free_cmd()`: the last `__scst_cmd_put()`: the handler's `on_free_cmd()`, the
/// buffers, the sense, then `scst_destroy_cmd()` (unless the SN code still holds it, C's
/// `SCST_CMD_CAN_BE_DESTROYED`).
pub fn scst_free_cmd(cmd: &Arc<ScstCmd>) {
    TRACE_DBG!("Freeing cmd {:?} (tag {})", cmd, scst_cmd_get_tag(cmd));
    let devt = {
        let d = cmd.d.lock();
        if d.dev.is_some() {
            d.devt.clone()
        } else {
            None
        }
    };
    if let Some(devt) = devt {
        TRACE_DBG!("Calling dev handler {} on_free_cmd()", devt.name);
        devt.ops.on_free_cmd(cmd);
    }
    {
        let mut d = cmd.d.lock();
        scst_release_space(&mut d);
        d.sense = None;
    }
    // An out-of-SN command may still sit on skipped_sn_list; whoever comes second destroys.
    let destroy = if cmd.out_of_sn.load(SeqCst) {
        test_and_set_bit(crate::scst::SCST_CMD_CAN_BE_DESTROYED, &cmd.cmd_flags)
    } else {
        true
    };
    if destroy {
        scst_destroy_cmd(cmd);
    }
}

/// C `scst_generic_parse()`: scales block counts to bytes for fixed-length commands and checks
/// that LBA and lengths fit; sets the timeout.
fn scst_generic_parse(cmd: &ScstCmd, timeout: [u64; 4]) -> i32 {
    let mut d = cmd.d.lock();
    let block_shift = d.dev.as_ref().map_or(9, |x| atomic_read(&x.block_shift));
    let bs = u32::try_from(block_shift).unwrap_or(0);
    let overflows32 = |v: i32| v < 0 || (i64::from(v) << bs) > i64::from(i32::MAX);
    let overflows64 = |v: i64| v < 0 || v.checked_shl(bs).is_none_or(|x| x >> bs != v);
    if d.op_flags & SCST_TRANSFER_LEN_TYPE_FIXED != 0 {
        if overflows32(d.bufflen) || overflows64(d.data_len) || overflows32(d.out_bufflen) {
            PRINT_WARNING!(
                "bufflen {}, data_len {} or out_bufflen {} too large for device (block shift {})",
                d.bufflen,
                d.data_len,
                d.out_bufflen,
                bs
            );
            let (k, a, q) = SCST_LOAD_SENSE(scst_sense_block_out_range_error);
            scst_set_cmd_error_locked(&mut d, k, a, q);
            return kemu::errno_neg(Errno::EINVAL);
        }
        d.bufflen <<= bs;
        d.data_len <<= bs;
        d.out_bufflen <<= bs;
    }
    if d.op_flags & SCST_LBA_NOT_VALID == 0 && overflows64(d.lba) {
        PRINT_WARNING!("offset {} * {} >= 2**63", d.lba, 1u64 << bs);
        let (k, a, q) = scst_sense_block_out_range_error;
        scst_set_cmd_error_locked(&mut d, k, a, q);
        return kemu::errno_neg(Errno::EINVAL);
    }
    d.timeout = timeout[(d.op_flags & SCST_BOTH_TIMEOUTS) as usize];
    0
}

/// C `scst_sbc_generic_parse()`: generic `parse()` for SBC (disk) devices.
pub fn scst_sbc_generic_parse(cmd: &ScstCmd) -> i32 {
    scst_generic_parse(
        cmd,
        [
            SCST_GENERIC_DISK_REG_TIMEOUT,
            SCST_GENERIC_DISK_SMALL_TIMEOUT,
            SCST_GENERIC_DISK_LONG_TIMEOUT,
            SCST_GENERIC_DISK_LONG_TIMEOUT,
        ],
    )
}

/// C `scst_cdrom_generic_parse()`: generic `parse()` for MMC (CD-ROM) devices.
pub fn scst_cdrom_generic_parse(cmd: &ScstCmd) -> i32 {
    if let Some(b) = cmd.d.lock().cdb.get_mut(1) {
        *b &= 0x1f;
    }
    scst_generic_parse(
        cmd,
        [
            SCST_GENERIC_CDROM_REG_TIMEOUT,
            SCST_GENERIC_CDROM_SMALL_TIMEOUT,
            SCST_GENERIC_CDROM_LONG_TIMEOUT,
            SCST_GENERIC_CDROM_LONG_TIMEOUT,
        ],
    )
}

/// C `scst_calc_block_shift()`: log2 of a sector size (0 means 512); -1 for a size that is
/// not a power of two.
pub fn scst_calc_block_shift(sector_size: i32) -> i32 {
    let sector_size = if sector_size == 0 { 512 } else { sector_size };
    if sector_size <= 0 || sector_size & (sector_size - 1) != 0 {
        PRINT_ERROR!("Sector size {} is not a power of 2", sector_size);
        return -1;
    }
    i32::try_from(sector_size.trailing_zeros()).unwrap_or(-1)
}

/// C `scst_get_cdb_info()`: decodes the command's CDB with the table (see
/// `scst_scsi_op_table`): 0 decoded, < 0 unknown opcode, > 0 invalid (sense set).
pub fn scst_get_cdb_info(cmd: &ScstCmd) -> i32 {
    scst_get_cdb_info_locked(&mut cmd.d.lock())
}

/// C `scst_unpack_lun()`: the LUN number of an 8-byte (or shorter) SAM LUN field, for the
/// peripheral, flat and logical unit addressing methods; [`NO_SUCH_LUN`] for anything else.
pub fn scst_unpack_lun(lun: &[u8]) -> u64 {
    let len = lun.len();
    match len {
        2 | 4 | 8 => {}
        _ => {
            PRINT_ERROR!("Illegal lun length {}, expected 2, 4 or 8", len);
            return NO_SUCH_LUN;
        }
    }
    // The second level and beyond must be zero.
    if len > 2 && lun[2..].iter().any(|&b| b != 0) {
        TRACE_DBG!("Multi-level LUN unimplemented");
        return NO_SUCH_LUN;
    }
    let address_method = (lun[0] >> 6) & 3;
    match u32::from(address_method) {
        0 => {
            // Peripheral device addressing: a bus number is not supported.
            if lun[0] & 0x3f != 0 {
                TRACE_DBG!("Peripheral LUN with bus {} unsupported", lun[0] & 0x3f);
                NO_SUCH_LUN
            } else {
                u64::from(lun[1])
            }
        }
        1 => (u64::from(lun[0] & 0x3f) << 8) | u64::from(lun[1]),
        2 => {
            // Logical unit addressing.
            (u64::from(lun[0] & 0x3f) << 8) | u64::from(lun[1])
        }
        _ => {
            TRACE_DBG!("Unimplemented LUN addressing method {}", address_method);
            NO_SUCH_LUN
        }
    }
}

/// C `scst_pack_lun()`: the 8-byte SAM form of LUN `lun` in `addr_method`.
pub fn scst_pack_lun(lun: u64, addr_method: i32) -> [u8; 8] {
    let mut res: u64 = 0;
    if lun != 0 {
        res = ((u64::try_from(addr_method).unwrap_or(0) << 14) | (lun & 0x3fff)) << 48;
    }
    res.to_be_bytes()
}

/// C `scst_tgt_dev_setup_threads()`: the command threads of a new nexus. `threads_num` < 0:
/// none; 0: the global pool (`scstd`) plus the driver's own; per-initiator pool:
/// `threads_num` (+ the driver's) threads named `<dev %.10s><tgt_dev#>_<n>`; shared pool:
/// the device's pool (its threads were started with the device) plus the driver's.
pub fn scst_tgt_dev_setup_threads(
    tgt_dev: &Arc<ScstTgtDev>,
    tgt_dev_num: i32,
) -> Result<(), Errno> {
    let dev = &tgt_dev.dev;
    let tgtt_threads = tgt_dev.sess.tgt.tgtt.threads_num;
    atomic_set(&tgt_dev.thread_index, -1);
    let threads_num = atomic_read(&dev.threads_num);
    if threads_num < 0 {
        return Ok(());
    }
    if threads_num == 0 {
        // C also keeps an async I/O context here (aic_keeper); no block layer, no need.
        return crate::scst_main::scst_add_threads(&tgt_dev.active_cmd_threads, None, tgtt_threads);
    }
    match atomic_read(&dev.threads_pool_type) {
        SCST_THREADS_POOL_PER_INITIATOR => {
            atomic_set(&tgt_dev.thread_index, tgt_dev_num);
            crate::scst_main::__scst_add_threads(
                &tgt_dev.active_cmd_threads,
                None,
                Some((dev.virt_name.as_str(), tgt_dev_num)),
                threads_num + tgtt_threads,
            )
        }
        SCST_THREADS_POOL_SHARED => {
            crate::scst_main::scst_add_threads(&tgt_dev.active_cmd_threads, Some(dev), tgtt_threads)
        }
        t => {
            PRINT_CRIT_ERROR!("Unknown threads pool type {} (dev {})", t, dev.virt_name);
            Err(Errno::EINVAL)
        }
    }
}

/// C `scst_tgt_dev_stop_threads()`: stops what `scst_tgt_dev_setup_threads()` started.
pub fn scst_tgt_dev_stop_threads(tgt_dev: &Arc<ScstTgtDev>) {
    let dev = &tgt_dev.dev;
    let tgtt_threads = tgt_dev.sess.tgt.tgtt.threads_num;
    let threads_num = atomic_read(&dev.threads_num);
    if threads_num < 0 {
        return;
    }
    if threads_num == 0 || atomic_read(&dev.threads_pool_type) == SCST_THREADS_POOL_SHARED {
        if tgtt_threads > 0 {
            crate::scst_main::scst_del_threads(&tgt_dev.active_cmd_threads, tgtt_threads);
        }
        return;
    }
    crate::scst_main::scst_del_threads(&tgt_dev.active_cmd_threads, -1);
}

/// C `scst_alloc_add_tgt_dev()`: the nexus of `sess` with the LUN `acg_dev`: its SN state,
/// its threads, the handler's `attach_tgt()`, and its place in the device's list and the
/// session's hash, its persistent-reservation registration (`scst_pr_init_tgt_dev()`) and
/// the POWER ON / RESET unit attention it starts with. Called with `scst_mutex` held. (C
/// also sets up ALUA state; that comes with its subsystem.)
pub fn scst_alloc_add_tgt_dev(
    g: &mut ScstMutexGuard<'_>,
    sess: &Arc<ScstSession>,
    acg_dev: &Arc<ScstAcgDev>,
) -> Result<Arc<ScstTgtDev>, Errno> {
    let dev = acg_dev.dev.clone();
    let handler = dev.handler.access(g).clone();
    let tgtt = &sess.tgt.tgtt;
    let threads_num = atomic_read(&dev.threads_num);
    let pool_type = atomic_read(&dev.threads_pool_type);
    let tgt_dev_cmd_threads = Arc::new(ScstCmdThreads::new());
    let active_cmd_threads = if threads_num <= 0 {
        crate::scst_main::scst_main_cmd_threads.clone()
    } else if pool_type == SCST_THREADS_POOL_SHARED {
        dev.dev_cmd_threads.clone()
    } else {
        tgt_dev_cmd_threads.clone()
    };
    let tgt_dev_order_data = Arc::new(ScstOrderData::new());
    let curr_order_data = if atomic_read(&dev.tst) == i32::from(SCST_TST_1_SEP_TASK_SETS) {
        tgt_dev_order_data.clone()
    } else {
        dev.dev_order_data.clone()
    };
    let acg_black_hole = acg_dev.acg.upgrade().is_some_and(|a| {
        atomic_read(&a.acg_black_hole_type) != crate::scst::SCST_ACG_BLACK_HOLE_NONE
    });
    let mut tgt_dev = ScstTgtDev {
        lun: acg_dev.lun,
        sess: sess.clone(),
        dev: dev.clone(),
        acg_dev: acg_dev.clone(),
        tgt_dev_rd_only: acg_dev.acg_dev_rd_only || dev.dev_rd_only.load(SeqCst),
        tgt_dev_flags: BitWord::new(0),
        tgt_dev_cmd_count: AtomicT::new(0),
        active_cmd_threads,
        tgt_dev_cmd_threads,
        thread_index: AtomicT::new(-1),
        tgt_dev_order_data,
        curr_order_data,
        tgt_dev_after_init_wr_atomic: handler.parse_atomic
            && handler.dev_alloc_data_buf_atomic
            && tgtt.rdy_to_xfer_atomic,
        tgt_dev_after_exec_atomic: handler.dev_done_atomic && tgtt.xmit_response_atomic,
        tgt_dev_lock: SpinLock::new(ScstTgtDevLocked {
            tgt_dev_sense: [0; SCST_SENSE_BUFFERSIZE],
            tgt_dev_valid_sense_len: 0,
            UA_list: kemu::list::List::new(),
        }),
        dh_priv: kemu::sync::RwLock::new(None),
        pools: None,
        tgt_dev_gfp_mask: kemu::mm::Gfp::default(),
        tgt_dev_clust_pool: false,
        sess_tgt_dev_list_entry: AtomicListHandle::new(),
        dev_tgt_dev_list_entry: AtomicListHandle::new(),
        registrant: std::sync::atomic::AtomicU64::new(0),
    };
    // C: the SGV pool of the nexus (no SCSI host behind virtual devices: no clustering or
    // ISA DMA from the initiator side).
    scst_sgv_pool_use_norm(&mut tgt_dev);
    if tgtt.use_clustering && !tgtt.no_clustering {
        scst_sgv_pool_use_norm_clust(&mut tgt_dev);
    }
    if tgtt.unchecked_isa_dma {
        scst_sgv_pool_use_dma(&mut tgt_dev);
    }
    let tgt_dev = Arc::new(tgt_dev);
    // Every new nexus starts with POWER ON, RESET OR BUS DEVICE RESET OCCURRED (the only
    // user of the nexus yet, so its lock is taken only for form).
    {
        let mut sense_buffer = [0u8; SCST_STANDARD_SENSE_LEN];
        let (k, a, q) = SCST_LOAD_SENSE(scst_sense_reset_UA);
        let sl = scst_set_sense(&mut sense_buffer, dev.d_sense.load(SeqCst), k, a, q);
        let mut l = tgt_dev.tgt_dev_lock.lock_bh();
        scst_alloc_set_UA(&tgt_dev, &mut l, &sense_buffer[..sl], 0);
    }
    if acg_black_hole {
        kemu::atomic::set_bit(crate::scst::SCST_TGT_DEV_BLACK_HOLE, &tgt_dev.tgt_dev_flags);
    }

    // Persistent reservations: a driver without TransportIDs cannot join a device that has
    // registrants, and while it is connected the device refuses PR commands.
    let pr_supported = tgtt
        .ops
        .get_initiator_port_transport_id(&sess.tgt, None)
        .is_some();
    if !pr_supported {
        if !dev.dev_pr_mutex.lock().dev_registrants_list.is_empty() {
            PRINT_WARNING!(
                "Initiators from target {} can't connect to device {}, because the device has PR registrants and the target doesn't support Persistent Reservations",
                tgtt.name,
                dev.virt_name
            );
            return Err(Errno::EPERM);
        }
        kemu::atomic::atomic_inc(&dev.not_pr_supporting_tgt_devs_num);
    }
    let pr_undo = |tgt_dev: &Arc<ScstTgtDev>| {
        crate::scst_pres::scst_pr_clear_tgt_dev(tgt_dev);
        if !pr_supported {
            kemu::atomic::atomic_dec(&dev.not_pr_supporting_tgt_devs_num);
        }
    };
    if let Err(e) = crate::scst_pres::scst_pr_init_tgt_dev(&tgt_dev) {
        pr_undo(&tgt_dev);
        return Err(e);
    }

    let tgt_dev_num = i32::try_from(dev.dev_tgt_dev_list.access(g).len()).unwrap_or(0);
    if let Err(e) = scst_tgt_dev_setup_threads(&tgt_dev, tgt_dev_num) {
        pr_undo(&tgt_dev);
        return Err(e);
    }

    TRACE_DBG!("Calling dev handler's attach_tgt({:?})", tgt_dev);
    let res = handler.ops.attach_tgt(&tgt_dev);
    if res != 0 {
        PRINT_ERROR!(
            "Device handler's {} attach_tgt() failed: {}",
            handler.name,
            res
        );
        scst_tgt_dev_stop_threads(&tgt_dev);
        pr_undo(&tgt_dev);
        scst_free_all_UA(&tgt_dev, &mut tgt_dev.tgt_dev_lock.lock_bh());
        return Err(crate::scst_main::errno_from_neg(res));
    }

    let mut dl = dev.dev_lock.lock_bh();
    let h = dev.dev_tgt_dev_list.access_mut(g).add_tail(tgt_dev.clone());
    tgt_dev.dev_tgt_dev_list_entry.set(h);
    dl.dev_tgt_dev_list.push(tgt_dev.clone());
    drop(dl);
    let mut l = sess.sess_tgt_dev_list.write();
    let h = l[SESS_TGT_DEV_LIST_HASH_FN(tgt_dev.lun)].add_tail(tgt_dev.clone());
    tgt_dev.sess_tgt_dev_list_entry.set(h);
    drop(l);
    Ok(tgt_dev)
}

/// C `scst_free_tgt_dev()`: takes the nexus off its device and session, drops its SPC-2
/// reservation and PR binding, calls the handler's `detach_tgt()` and stops its threads. Called with `scst_mutex` held.
pub fn scst_free_tgt_dev(g: &mut ScstMutexGuard<'_>, tgt_dev: &Arc<ScstTgtDev>) {
    let dev = &tgt_dev.dev;
    let mut dl = dev.dev_lock.lock_bh();
    if let Some(h) = tgt_dev.dev_tgt_dev_list_entry.take() {
        dev.dev_tgt_dev_list.access_mut(g).del(h);
    }
    dl.dev_tgt_dev_list.retain(|t| !Arc::ptr_eq(t, tgt_dev));
    drop(dl);
    if let Some(h) = tgt_dev.sess_tgt_dev_list_entry.take() {
        tgt_dev.sess.sess_tgt_dev_list.write()[SESS_TGT_DEV_LIST_HASH_FN(tgt_dev.lun)].del(h);
    }
    if tgt_dev
        .sess
        .tgt
        .tgtt
        .ops
        .get_initiator_port_transport_id(&tgt_dev.sess.tgt, None)
        .is_none()
    {
        kemu::atomic::atomic_dec(&dev.not_pr_supporting_tgt_devs_num);
    }
    scst_clear_reservation(tgt_dev);
    crate::scst_pres::scst_pr_clear_tgt_dev(tgt_dev);
    scst_free_all_UA(tgt_dev, &mut tgt_dev.tgt_dev_lock.lock_bh());
    let handler = dev.handler.access(g).clone();
    TRACE_DBG!("Calling dev handler's detach_tgt({:?})", tgt_dev);
    handler.ops.detach_tgt(tgt_dev);
    scst_tgt_dev_stop_threads(tgt_dev);
}

/// C `scst_clear_reservation()`: the nexus goes; if its session holds the SPC-2 reservation,
/// the reservation goes too. (C then sends RELEASE to a pass-through device,
/// `scst_send_release()`; virtual devices need nothing.) Called with `scst_mutex` held.
fn scst_clear_reservation(tgt_dev: &ScstTgtDev) {
    let mut r = tgt_dev.dev.reserved_by.lock_bh();
    if crate::scst_priv::scst_is_reservation_holder_locked(&r, &tgt_dev.sess) {
        // This is the one who holds the reservation.
        crate::scst_priv::scst_clear_dev_reservation(&mut r);
    }
}

/// C `scst_sess_alloc_tgt_devs()`: a nexus for every LUN of the session's group; on failure
/// the ones made are freed. Called with `scst_mutex` held.
pub fn scst_sess_alloc_tgt_devs(
    g: &mut ScstMutexGuard<'_>,
    sess: &Arc<ScstSession>,
) -> Result<(), Errno> {
    let Some(acg) = sess.acg.access(g).clone() else {
        return Ok(());
    };
    let acg_devs: Vec<_> = acg
        .acg_dev_list
        .access(g)
        .iter()
        .map(|(_, a)| a.clone())
        .collect();
    for acg_dev in &acg_devs {
        match scst_alloc_add_tgt_dev(g, sess, acg_dev) {
            Ok(_) | Err(Errno::EPERM) => {}
            Err(e) => {
                scst_sess_free_tgt_devs(g, sess);
                return Err(e);
            }
        }
    }
    Ok(())
}

/// C `scst_sess_free_tgt_devs()`: frees every nexus of the session (going down: no users).
/// Called with `scst_mutex` held.
pub fn scst_sess_free_tgt_devs(g: &mut ScstMutexGuard<'_>, sess: &Arc<ScstSession>) {
    let all: Vec<_> = sess
        .sess_tgt_dev_list
        .read()
        .iter()
        .flat_map(|l| l.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>())
        .collect();
    for tgt_dev in &all {
        scst_free_tgt_dev(g, tgt_dev);
    }
}

// ---------------------------------------------------------------------------------------------
// Unit attentions: the per-nexus queue (`tgt_dev->UA_list` under `tgt_dev_lock`)
// ---------------------------------------------------------------------------------------------

/// C `scst_set_cmd_error_sense()`: CHECK CONDITION with the given sense.
pub fn scst_set_cmd_error_sense_locked(d: &mut ScstCmdData, sense: &[u8]) -> i32 {
    let res = scst_set_cmd_error_status_locked(d, SAM_STAT_CHECK_CONDITION);
    if res != 0 {
        return res;
    }
    scst_alloc_set_sense_locked(d, sense)
}

/// C `scst_set_cmd_error_sense()`.
pub fn scst_set_cmd_error_sense(cmd: &ScstCmd, sense: &[u8]) -> i32 {
    scst_set_cmd_error_sense_locked(&mut cmd.d.lock(), sense)
}

/// C `scst_is_ua_global()`: whether the unit attention concerns the whole session (only
/// REPORTED LUNS DATA HAS CHANGED; [`scst_requeue_ua`] must agree).
pub fn scst_is_ua_global(sense: &[u8]) -> bool {
    let (k, a, q) = SCST_LOAD_SENSE(scst_sense_reported_luns_data_changed);
    scst_analyze_sense(sense, SCST_SENSE_ALL_VALID, k, a, q)
}

/// C `scst_alloc_set_UA()`: queues a new unit attention for the nexus (at the head with
/// `SCST_SET_UA_FLAG_AT_HEAD`). Called under `tgt_dev_lock` (`l`), except when the nexus
/// has only one user.
#[allow(non_snake_case)]
pub fn scst_alloc_set_UA(tgt_dev: &ScstTgtDev, l: &mut ScstTgtDevLocked, sense: &[u8], flags: i32) {
    let global_UA = flags & SCST_SET_UA_FLAG_GLOBAL != 0;
    TRACE_MGMT_DBG!(
        "Queuing new {}UA ({:x}:{:x}:{:x}, d_sense {}) to tgt_dev (dev {}, initiator {})",
        if global_UA { "global " } else { "" },
        sense.get(2).copied().unwrap_or(0),
        sense.get(12).copied().unwrap_or(0),
        sense.get(13).copied().unwrap_or(0),
        tgt_dev.dev.d_sense.load(SeqCst),
        tgt_dev.dev.virt_name,
        tgt_dev.sess.initiator_name
    );
    let mut sense_len = sense.len();
    if sense_len > SCST_SENSE_BUFFERSIZE {
        PRINT_WARNING!(
            "Sense truncated (needed {}), shall you increase SCST_SENSE_BUFFERSIZE?",
            sense_len
        );
        sense_len = SCST_SENSE_BUFFERSIZE;
    }
    let mut ua = ScstTgtDevUA {
        global_UA,
        UA_valid_sense_len: sense_len,
        UA_sense_buffer: [0; SCST_SENSE_BUFFERSIZE],
    };
    ua.UA_sense_buffer[..sense_len].copy_from_slice(&sense[..sense_len]);

    set_bit(SCST_TGT_DEV_UA_PENDING, &tgt_dev.tgt_dev_flags);

    if flags & SCST_SET_UA_FLAG_AT_HEAD != 0 {
        l.UA_list.add(ua);
    } else {
        l.UA_list.add_tail(ua);
    }
}

/// C `__scst_check_set_UA()`: queues the unit attention unless the nexus already has the
/// same one queued. `tgt_dev_lock` (`l`) held.
#[allow(non_snake_case)]
pub fn __scst_check_set_UA(
    tgt_dev: &ScstTgtDev,
    l: &mut ScstTgtDevLocked,
    sense: &[u8],
    flags: i32,
) {
    let len = sense.len().min(SCST_SENSE_BUFFERSIZE);
    let sense = &sense[..len];
    if l.UA_list
        .iter()
        .any(|(_, ua)| ua.UA_sense_buffer[..len] == *sense)
    {
        TRACE_DBG!(
            "UA already exists (dev {}, initiator {})",
            tgt_dev.dev.virt_name,
            tgt_dev.sess.initiator_name
        );
        return;
    }
    scst_alloc_set_UA(tgt_dev, l, sense, flags);
}

/// C `scst_check_set_UA()`: [`__scst_check_set_UA`] under the nexus's `tgt_dev_lock`.
#[allow(non_snake_case)]
pub fn scst_check_set_UA(tgt_dev: &ScstTgtDev, sense: &[u8], flags: i32) {
    let mut l = tgt_dev.tgt_dev_lock.lock_bh();
    __scst_check_set_UA(tgt_dev, &mut l, sense, flags);
}

/// C `scst_dev_check_set_local_UA()`: queues the unit attention for every nexus of the
/// device except the one of `exclude` (the command that caused it). C calls it under
/// `dev_lock`; `tgt_devs` is the list read under it.
#[allow(non_snake_case)]
pub fn scst_dev_check_set_local_UA(
    tgt_devs: &[Arc<ScstTgtDev>],
    exclude: Option<&ScstCmd>,
    sense: &[u8],
) {
    let exclude_tgt_dev = exclude.and_then(|c| c.d.lock().tgt_dev.clone());
    for tgt_dev in tgt_devs {
        if exclude_tgt_dev
            .as_ref()
            .is_some_and(|e| Arc::ptr_eq(e, tgt_dev))
        {
            continue;
        }
        scst_check_set_UA(tgt_dev, sense, 0);
    }
}

/// C `__scst_dev_check_set_UA()`: a unit attention for the device's other nexuses; a reset
/// one (ASC 29h) first resets the device (`scst_process_reset()`: aborts its commands).
/// Returns true if `scst_unblock_aborted_cmds()` must then be called. C calls it under
/// `dev_lock`; `tgt_devs` is the list read under it.
#[allow(non_snake_case)]
pub fn __scst_dev_check_set_UA(
    dev: &Arc<ScstDevice>,
    tgt_devs: &[Arc<ScstTgtDev>],
    exclude: Option<&Arc<ScstCmd>>,
    sense: &[u8],
) -> bool {
    let mut res = false;
    TRACE_MGMT_DBG!("Processing UA dev {}", dev.virt_name);
    // Check for reset UA.
    if scst_analyze_sense(sense, SCST_SENSE_ASC_VALID, 0, SCST_SENSE_ASC_UA_RESET, 0) {
        scst_process_reset(
            dev,
            tgt_devs,
            exclude.map(|c| c.sess.clone()).as_ref(),
            exclude,
            None,
            false,
        );
        res = true;
    }
    scst_dev_check_set_local_UA(tgt_devs, exclude.map(|c| &**c), sense);
    res
}

/// C `scst_dev_check_set_UA()`: [`__scst_dev_check_set_UA`] under the device's lock, then
/// the aborted commands are released.
#[allow(non_snake_case)]
pub fn scst_dev_check_set_UA(dev: &Arc<ScstDevice>, exclude: Option<&Arc<ScstCmd>>, sense: &[u8]) {
    let l = dev.dev_lock.lock_bh();
    let rc = __scst_dev_check_set_UA(dev, &l.dev_tgt_dev_list, exclude, sense);
    drop(l);
    if rc {
        crate::scst_targ::scst_unblock_aborted_cmds(None, None, Some(dev), None);
    }
}

/// C `scst_process_reset()`: a reset of `dev`: the SPC-2 reservation goes, every command
/// of the device (but `exclude_cmd`) is aborted for `mcmd` (commands of other sessions than
/// `originator` as "aborted by another initiator"), and with `set_ua` the other nexuses get
/// POWER ON, RESET OR BUS DEVICE RESET OCCURRED. C calls it under `dev_lock`; `tgt_devs`
/// is the list read under it. `scst_unblock_aborted_cmds()` must be called afterwards.
pub fn scst_process_reset(
    dev: &Arc<ScstDevice>,
    tgt_devs: &[Arc<ScstTgtDev>],
    originator: Option<&Arc<ScstSession>>,
    exclude_cmd: Option<&Arc<ScstCmd>>,
    mcmd: Option<&Arc<ScstMgmtCmd>>,
    set_ua: bool,
) {
    // Clear the RESERVE'ation, if any. There is no need to send RELEASE, since the device is
    // going to be reset (and that might be dangerous from a RESET function).
    crate::scst_priv::scst_clear_dev_reservation(&mut dev.reserved_by.lock_bh());

    dev.dev_double_ua_possible.store(true, SeqCst);

    for tgt_dev in tgt_devs {
        let sess = &tgt_dev.sess;
        // C deliberately keeps the queued unit attentions and the saved sense here: SAM does
        // not require clearing them, and important events would be lost.
        let l = sess.sess_list_lock.lock_irq();
        TRACE_DBG!("Searching in sess cmd list (sess={})", sess.initiator_name);
        let cmds: Vec<Arc<ScstCmd>> = l.sess_cmd_list.iter().map(|(_, c)| c.clone()).collect();
        for cmd in cmds {
            if exclude_cmd.is_some_and(|e| Arc::ptr_eq(e, &cmd)) {
                continue;
            }
            let matches = {
                let d = cmd.d.lock();
                match &d.tgt_dev {
                    Some(t) => Arc::ptr_eq(t, tgt_dev),
                    None => d.lun == tgt_dev.lun,
                }
            };
            if matches {
                let other = originator.is_none_or(|o| !Arc::ptr_eq(o, sess));
                crate::scst_targ::scst_abort_cmd(&cmd, mcmd, other, false);
            }
        }
        drop(l);
    }

    // Only after all affected commands are aborted may the ACA clearing release them.
    for tgt_dev in tgt_devs {
        let other = originator.is_none_or(|o| !Arc::ptr_eq(o, &tgt_dev.sess));
        crate::scst_targ::scst_clear_aca(tgt_dev, other);
    }

    if set_ua {
        let mut sense_buffer = [0u8; SCST_STANDARD_SENSE_LEN];
        let (k, a, q) = SCST_LOAD_SENSE(scst_sense_reset_UA);
        let sl = scst_set_sense(&mut sense_buffer, dev.d_sense.load(SeqCst), k, a, q);
        // Setting the UA while aborted commands still run may let one of them take it; that
        // is detected and the UA requeued, but meanwhile later, not aborted commands may
        // "leak" through, so the UA arrives a few commands late. With commands executing in
        // parallel the order of UA delivery cannot be controlled anyway.
        scst_dev_check_set_local_UA(tgt_devs, exclude_cmd.map(|c| &**c), &sense_buffer[..sl]);
    }
}

/// C `scst_tgt_dev_del_free_UA()`: removes one unit attention; the pending bit goes with
/// the last. `tgt_dev_lock` (`l`) held.
#[allow(non_snake_case)]
pub fn scst_tgt_dev_del_free_UA(
    tgt_dev: &ScstTgtDev,
    l: &mut ScstTgtDevLocked,
    ua: kemu::list::ListHandle,
) {
    l.UA_list.del(ua);
    if l.UA_list.is_empty() {
        kemu::atomic::clear_bit(SCST_TGT_DEV_UA_PENDING, &tgt_dev.tgt_dev_flags);
    }
}

/// C `scst_free_all_UA()`: drops every queued unit attention. Under `tgt_dev_lock` (`l`) or
/// when the nexus is unused.
#[allow(non_snake_case)]
pub fn scst_free_all_UA(tgt_dev: &ScstTgtDev, l: &mut ScstTgtDevLocked) {
    while l.UA_list.pop_front().is_some() {
        TRACE_MGMT_DBG!("Clearing UA for tgt_dev LUN {}", tgt_dev.lun);
    }
    kemu::atomic::clear_bit(SCST_TGT_DEV_UA_PENDING, &tgt_dev.tgt_dev_flags);
}

/// C `scst_nexus_loss()`: with `queue_ua`, I_T NEXUS LOSS OCCURRED goes to the head of the
/// nexus's unit attentions. C expects `scst_mutex` held.
pub fn scst_nexus_loss(tgt_dev: &ScstTgtDev, queue_ua: bool) {
    if queue_ua {
        let mut sense_buffer = [0u8; SCST_STANDARD_SENSE_LEN];
        let (k, a, q) = SCST_LOAD_SENSE(scst_sense_nexus_loss_UA);
        let sl = scst_set_sense(&mut sense_buffer, tgt_dev.dev.d_sense.load(SeqCst), k, a, q);
        scst_check_set_UA(tgt_dev, &sense_buffer[..sl], SCST_SET_UA_FLAG_AT_HEAD);
    }
}

/// The nexuses of a session in the order of its hash, which is the fixed order in which
/// C takes all their `tgt_dev_lock`s for a global unit attention.
pub(crate) fn scst_sess_tgt_devs(sess: &ScstSession) -> Vec<Arc<ScstTgtDev>> {
    sess.sess_tgt_dev_list
        .read()
        .iter()
        .flat_map(|l| l.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>())
        .collect()
}

/// C `scst_set_pending_UA()` with the command's data (`d`) locked: delivers the first queued
/// unit attention of the command's nexus, either as the command's CHECK CONDITION (`buf`
/// None) or into `buf` (REQUEST SENSE; the length goes to the `usize`). 0 if one was
/// delivered, -1 if none (or the command is being aborted). Delivering a global unit
/// attention frees its copies on the session's other nexuses, so it takes every
/// `tgt_dev_lock` of the session, in the fixed order of the session's hash.
#[allow(non_snake_case)]
pub fn scst_set_pending_UA_locked(
    cmd: &ScstCmd,
    d: &mut ScstCmdData,
    buf: Option<(&mut [u8], &mut usize)>,
) -> i32 {
    // Recheck to sync with setting SCST_CMD_ABORTED in scst_abort_cmd(): no UA for a command
    // being aborted, or it could be missed by a legitimate command while being requeued.
    kemu::atomic::smp_mb();
    if kemu::atomic::test_bit(SCST_CMD_ABORTED, &cmd.cmd_flags) {
        TRACE_MGMT_DBG!("Not set pending UA for aborted cmd");
        return -1;
    }
    let Some(tgt_dev) = d.tgt_dev.clone() else {
        return -1;
    };
    let sess = &cmd.sess;

    // The command keeps activity from being suspended, so the session's nexus list may be
    // read without more protection; it is read up front, the locks below borrow from it.
    let all_tgt_devs = scst_sess_tgt_devs(sess);
    let mut own = Some(tgt_dev.tgt_dev_lock.lock_bh());
    let mut all: Vec<(
        &Arc<ScstTgtDev>,
        kemu::sync::SpinLockGuard<'_, ScstTgtDevLocked>,
    )> = Vec::new();
    let mut own_idx = 0;
    let mut first = true;
    loop {
        let l: &mut ScstTgtDevLocked = match own.as_mut() {
            Some(g) => g,
            None => &mut all[own_idx].1,
        };
        // The UA list could be cleared behind us, so retest.
        let Some((_, ua)) = l.UA_list.first() else {
            TRACE_DBG!("SCST_TGT_DEV_UA_PENDING set, but UA_list empty");
            return -1;
        };
        TRACE_MGMT_DBG!(
            "Setting pending UA (dev {}, initiator {})",
            tgt_dev.dev.virt_name,
            sess.initiator_name
        );
        if ua.global_UA && first {
            TRACE_MGMT_DBG!("Global UA detected");
            own = None;
            own_idx = match all_tgt_devs.iter().position(|t| Arc::ptr_eq(t, &tgt_dev)) {
                Some(i) => i,
                None => {
                    // The nexus is not in the session's list any more: deliver it alone.
                    own = Some(tgt_dev.tgt_dev_lock.lock_bh());
                    first = false;
                    continue;
                }
            };
            for t in &all_tgt_devs {
                all.push((t, t.tgt_dev_lock.lock_bh()));
            }
            first = false;
            continue;
        }
        break;
    }

    let l: &mut ScstTgtDevLocked = match own.as_mut() {
        Some(g) => g,
        None => &mut all[own_idx].1,
    };
    let Some((h, ua)) = l.UA_list.first().map(|(h, u)| (h, u.clone())) else {
        return -1;
    };
    let sense = &ua.UA_sense_buffer[..ua.UA_valid_sense_len];
    match buf {
        None => {
            if scst_set_cmd_error_sense_locked(d, sense) != 0 {
                return 0;
            }
        }
        Some((buf, size)) => {
            if ua.UA_valid_sense_len > buf.len() {
                TRACE!(
                    TRACE_MINOR,
                    "{}: Being returned UA truncated to size {} (needed {})",
                    d.op_name,
                    buf.len(),
                    ua.UA_valid_sense_len
                );
            }
            let n = buf.len().min(ua.UA_valid_sense_len);
            buf[..n].copy_from_slice(&sense[..n]);
            *size = n;
        }
    }
    d.ua_ignore = true;
    l.UA_list.del(h);

    if ua.global_UA {
        for (t, g) in all.iter_mut() {
            let found = g
                .UA_list
                .iter()
                .find(|(_, u)| u.global_UA && u.UA_sense_buffer == ua.UA_sense_buffer)
                .map(|(h, _)| h);
            if let Some(h) = found {
                TRACE_MGMT_DBG!("Freeing not needed global UA");
                scst_tgt_dev_del_free_UA(t, g, h);
            }
        }
    }

    let l: &mut ScstTgtDevLocked = match own.as_mut() {
        Some(g) => g,
        None => &mut all[own_idx].1,
    };
    if l.UA_list.is_empty() {
        kemu::atomic::clear_bit(SCST_TGT_DEV_UA_PENDING, &tgt_dev.tgt_dev_flags);
    }
    // Released in the reverse order.
    while all.pop().is_some() {}
    0
}

/// C `scst_set_pending_UA()`: [`scst_set_pending_UA_locked`] for a command whose data is
/// not locked by the caller.
#[allow(non_snake_case)]
pub fn scst_set_pending_UA(cmd: &ScstCmd, buf: Option<(&mut [u8], &mut usize)>) -> i32 {
    let mut d = cmd.d.lock();
    scst_set_pending_UA_locked(cmd, &mut d, buf)
}

/// C `scst_set_initial_UA()`: replaces the POWER ON / RESET unit attention every new nexus
/// of the session starts with by `key`/`asc`/`ascq` (for drivers that report a different
/// initial event).
#[allow(non_snake_case)]
pub fn scst_set_initial_UA(sess: &ScstSession, key: u8, asc: u8, ascq: u8) {
    TRACE_MGMT_DBG!(
        "Setting for sess {} initial UA {:x}/{:x}/{:x}",
        sess.initiator_name,
        key,
        asc,
        ascq
    );
    // To protect sess_tgt_dev_list.
    let _g = scst_mutex.lock();
    for tgt_dev in scst_sess_tgt_devs(sess) {
        let mut l = tgt_dev.tgt_dev_lock.lock_bh();
        let d_sense = tgt_dev.dev.d_sense.load(SeqCst);
        match l.UA_list.first().map(|(h, _)| h) {
            Some(h) => {
                let Some(ua) = l.UA_list.get_mut(h) else {
                    continue;
                };
                let (k, a, q) = SCST_LOAD_SENSE(scst_sense_reset_UA);
                if scst_analyze_sense(
                    &ua.UA_sense_buffer[..ua.UA_valid_sense_len],
                    SCST_SENSE_ALL_VALID,
                    k,
                    a,
                    q,
                ) {
                    ua.UA_valid_sense_len =
                        scst_set_sense(&mut ua.UA_sense_buffer, d_sense, key, asc, ascq);
                } else {
                    PRINT_ERROR!("The first UA isn't RESET UA");
                }
            }
            None => PRINT_ERROR!("There's no RESET UA to replace"),
        }
    }
}

/// C `scst_gen_aen_or_ua()`: reports an event to the nexus's initiator as an AEN if the
/// target driver can deliver one, otherwise queues it as a unit attention.
pub fn scst_gen_aen_or_ua(tgt_dev: &ScstTgtDev, key: u8, asc: u8, ascq: u8) {
    let sess = &tgt_dev.sess;
    let tgtt = &sess.tgt.tgtt;
    if atomic_read(&sess.init_phase) != SCST_SESS_IPH_READY
        || atomic_read(&sess.shut_phase) != SCST_SESS_SPH_READY
    {
        return;
    }
    let d_sense = tgt_dev.dev.d_sense.load(SeqCst);
    let mut sense_buffer = [0u8; SCST_STANDARD_SENSE_LEN];
    let sl = scst_set_sense(&mut sense_buffer, d_sense, key, asc, ascq);
    let aen = ScstAen {
        event_fn: SCST_AEN_SCSI,
        lun: tgt_dev.lun,
        aen_sense: sense_buffer[..sl].to_vec(),
    };
    TRACE_DBG!("Calling target's {} report_aen()", tgtt.name);
    let rc = tgtt.ops.report_aen(&aen);
    TRACE_DBG!("Target's {} report_aen() returned {}", tgtt.name, rc);
    if rc == SCST_AEN_RES_SUCCESS {
        return;
    }
    TRACE_MGMT_DBG!("AEN not supported, queueing plain UA");
    scst_check_set_UA(tgt_dev, &sense_buffer[..sl], 0);
}

/// C `scst_capacity_data_changed()`: the device's capacity changed: CAPACITY DATA HAS
/// CHANGED for every nexus of a disk. Called under no locks.
pub fn scst_capacity_data_changed(dev: &ScstDevice) {
    if dev.type_ != TYPE_DISK {
        TRACE_MGMT_DBG!(
            "Device type {} isn't for CAPACITY DATA CHANGED UA",
            dev.type_
        );
        return;
    }
    TRACE_MGMT_DBG!("CAPACITY DATA CHANGED (dev {})", dev.virt_name);
    let g = scst_mutex.lock();
    let tgt_devs: Vec<_> = dev
        .dev_tgt_dev_list
        .access(&g)
        .iter()
        .map(|(_, t)| t.clone())
        .collect();
    for tgt_dev in &tgt_devs {
        let (k, a, q) = SCST_LOAD_SENSE(scst_sense_capacity_data_changed);
        scst_gen_aen_or_ua(tgt_dev, k, a, q);
    }
    drop(g);
}

/// C `scst_is_report_luns_changed_type()`: the peripheral types that get REPORTED LUNS
/// DATA HAS CHANGED.
fn scst_is_report_luns_changed_type(type_: i32) -> bool {
    matches!(
        type_,
        TYPE_DISK
            | TYPE_TAPE
            | TYPE_PRINTER
            | TYPE_PROCESSOR
            | TYPE_WORM
            | TYPE_ROM
            | TYPE_SCANNER
            | TYPE_MOD
            | TYPE_MEDIUM_CHANGER
            | TYPE_RAID
            | TYPE_ENCLOSURE
    )
}

/// C `scst_queue_report_luns_changed_UA()`: queues REPORTED LUNS DATA HAS CHANGED as a global
/// unit attention on every nexus of the session, with all their `tgt_dev_lock`s held (in the
/// session's hash order). C expects `scst_mutex` held; the session's nexus list has its own
/// lock here.
#[allow(non_snake_case)]
pub fn scst_queue_report_luns_changed_UA(sess: &ScstSession, flags: i32) {
    TRACE_MGMT_DBG!(
        "Queueing REPORTED LUNS DATA CHANGED UA (sess {})",
        sess.initiator_name
    );
    let tgt_devs = scst_sess_tgt_devs(sess);
    let mut guards: Vec<_> = tgt_devs.iter().map(|t| t.tgt_dev_lock.lock_bh()).collect();
    for (tgt_dev, l) in tgt_devs.iter().zip(guards.iter_mut()) {
        if !scst_is_report_luns_changed_type(tgt_dev.dev.type_) {
            continue;
        }
        let mut sense_buffer = [0u8; SCST_STANDARD_SENSE_LEN];
        let (k, a, q) = SCST_LOAD_SENSE(scst_sense_reported_luns_data_changed);
        let sl = scst_set_sense(&mut sense_buffer, tgt_dev.dev.d_sense.load(SeqCst), k, a, q);
        __scst_check_set_UA(
            tgt_dev,
            l,
            &sense_buffer[..sl],
            flags | SCST_SET_UA_FLAG_GLOBAL,
        );
    }
    while guards.pop().is_some() {}
}

/// C `scst_report_luns_changed_sess()`: REPORTED LUNS DATA HAS CHANGED for one ready
/// session, as an AEN if the driver delivers one, else as a unit attention.
fn scst_report_luns_changed_sess(sess: &ScstSession) {
    if atomic_read(&sess.init_phase) != SCST_SESS_IPH_READY
        || atomic_read(&sess.shut_phase) != SCST_SESS_SPH_READY
    {
        return;
    }
    TRACE_DBG!("REPORTED LUNS DATA CHANGED (sess {})", sess.initiator_name);
    let (lun, d_sense) = scst_sess_tgt_devs(sess)
        .iter()
        .find(|t| scst_is_report_luns_changed_type(t.dev.type_))
        .map_or((0, false), |t| (t.lun, t.dev.d_sense.load(SeqCst)));
    let mut sense_buffer = [0u8; SCST_STANDARD_SENSE_LEN];
    let (k, a, q) = SCST_LOAD_SENSE(scst_sense_reported_luns_data_changed);
    let sl = scst_set_sense(&mut sense_buffer, d_sense, k, a, q);
    let aen = ScstAen {
        event_fn: SCST_AEN_SCSI,
        lun,
        aen_sense: sense_buffer[..sl].to_vec(),
    };
    let tgtt = &sess.tgt.tgtt;
    TRACE_DBG!("Calling target's {} report_aen()", tgtt.name);
    let rc = tgtt.ops.report_aen(&aen);
    TRACE_DBG!("Target's {} report_aen() returned {}", tgtt.name, rc);
    if rc == SCST_AEN_RES_SUCCESS {
        return;
    }
    scst_queue_report_luns_changed_UA(sess, 0);
}

/// C `scst_report_luns_changed()`: REPORTED LUNS DATA HAS CHANGED for every session of the
/// group. Called with `scst_mutex` held (C: and activity suspended).
pub fn scst_report_luns_changed(g: &ScstMutexGuard<'_>, acg: &ScstAcg) {
    TRACE_DBG!("REPORTED LUNS DATA CHANGED (acg {})", acg.acg_name);
    for (_, sess) in acg.acg_sess_list.access(g).iter() {
        scst_report_luns_changed_sess(sess);
    }
}

/// C `scst_requeue_ua()`: a command carrying a unit attention failed to deliver it; the unit
/// attention goes back to the head of the queue (`buf` None: the command's own sense).
pub fn scst_requeue_ua(cmd: &ScstCmd, buf: Option<&[u8]>) {
    let d = cmd.d.lock();
    match buf {
        Some(b) => scst_requeue_ua_locked(&cmd.sess, &d, b),
        None => {
            let sense = d
                .sense
                .as_ref()
                .map(|s| s[..d.sense_valid_len.min(s.len())].to_vec())
                .unwrap_or_default();
            scst_requeue_ua_locked(&cmd.sess, &d, &sense);
        }
    }
}

/// C `scst_requeue_ua()` with the command's data (`d`) locked and the sense given. C takes
/// `scst_mutex` around the global case to protect the session's nexus list, which has its
/// own lock here (and a command thread must not take `scst_mutex`).
pub fn scst_requeue_ua_locked(sess: &ScstSession, d: &ScstCmdData, sense: &[u8]) {
    let (k, a, q) = SCST_LOAD_SENSE(scst_sense_reported_luns_data_changed);
    if scst_analyze_sense(sense, SCST_SENSE_ALL_VALID, k, a, q) {
        TRACE_MGMT_DBG!("Requeuing REPORTED LUNS DATA CHANGED UA for delivery failed cmd");
        scst_queue_report_luns_changed_UA(sess, SCST_SET_UA_FLAG_AT_HEAD);
    } else if let Some(tgt_dev) = &d.tgt_dev {
        TRACE_MGMT_DBG!("Requeuing UA for delivery failed cmd");
        scst_check_set_UA(tgt_dev, sense, SCST_SET_UA_FLAG_AT_HEAD);
    }
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
