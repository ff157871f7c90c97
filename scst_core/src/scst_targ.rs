// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2004 - 2016 Vladislav Bolkhovitin <vst@vlnb.net>
// Copyright (C) 2004 - 2005 Leonid Stoljar
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! The port of `scst/src/scst_targ.c`, so far the session side of it: registration and
//! unregistration of sessions, the management thread `scst_mgmtd` that initialises and frees
//! them, the procfs group lookup (`__scst_find_acg()` with `wildcmp()`), and the loops of the
//! command threads (`scstd<n>`, `scst_initd`, `scsi_tm`), which wait on their queues as in C
//! but have no commands to process yet.
#![doc(alias = "scst_targ.c")]

use crate::scst::{
    scst_sess_set_tgt_priv, ScstAcg, ScstCmdThreadT, ScstCmdThreadsLists, ScstInitResultFn,
    ScstSession, ScstTgt, ScstUnregDoneFn, TgtPriv, SCST_SESS_IPH_FAILED, SCST_SESS_IPH_INITING,
    SCST_SESS_IPH_READY, SCST_SESS_IPH_SUCCESS, SCST_SESS_SPH_SHUTDOWN,
};
use crate::scst_lib::{
    scst_alloc_session, scst_free_session, scst_free_session_callback, scst_get_acg,
};
use crate::scst_main::{
    scst_init_cmd_list_waitQ, scst_init_lock, scst_mcmd_lock, scst_mgmt_cmd_list_waitQ,
    scst_mgmt_lock, scst_mgmt_waitQ, scst_mutex, scst_trace_flag as TRACE_FLAG, ScstInitLists,
    ScstMcmdLists, ScstMgmtLists, ScstMutexGuard,
};
use crate::scst_priv::{scst_sess_get, scst_sess_put};
use kemu::atomic::{atomic_read, atomic_set};
use kemu::completion::{wait_for_completion, Completion};
use kemu::kthread::{current, kthread_should_stop, set_user_nice};
use kemu::printk::TRACE_MINOR;
use kemu::wait::{wait_event_locked, wake_up};
use kemu::{Errno, PRINT_CRIT_ERROR, PRINT_INFO, TRACE, TRACE_DBG, TRACE_MGMT_DBG};
use std::sync::Arc;

/// C `test_cmd_threads()`: whether a command thread has something to do: commands on its own
/// or its pool's queue, or a stop request. Called with the pool's `cmd_list_lock` held (the
/// thread's own list lock is taken inside, in C's order: pool lock, then thread lock).
fn test_cmd_threads(thr: &ScstCmdThreadT, p: &ScstCmdThreadsLists) -> bool {
    !thr.thr_cmd_list_lock.lock().is_empty()
        || !p.active_cmd_list.is_empty()
        || kthread_should_stop()
}

/// C `scst_cmd_thread()`: the loop of a pool thread (`scstd<n>` for the global pool). It
/// sleeps on the pool's `cmd_list_waitQ` with `wait_event_locked()` (exclusive, at the head
/// of the queue, so the most recently idle thread is woken first) until there is work or it
/// is stopped. Commands do not exist yet, so there is never work; the processing part of the
/// loop (local queue preferred 2:1 over the pool's) comes with `scst_process_active_cmd()`.
pub fn scst_cmd_thread(thr: Arc<ScstCmdThreadT>) -> i32 {
    TRACE!(
        TRACE_MINOR,
        "Processing thread {} started",
        current().comm()
    );
    let p_cmd_threads = thr.thr_cmd_threads.clone();

    let mut p = p_cmd_threads.cmd_list_lock.lock_irq();
    while !kthread_should_stop() {
        wait_event_locked(&p_cmd_threads.cmd_list_waitQ, &mut p, |l| {
            test_cmd_threads(&thr, l)
        });
        // No command can be queued before ScstCmd is ported: nothing to process.
    }
    drop(p);

    TRACE!(
        TRACE_MINOR,
        "Processing thread {} finished",
        current().comm()
    );
    0
}

/// C `test_init_cmd_list()`: whether `scst_initd` has something to do. (C also wakes for
/// polling and holds new commands while activity is suspended; both come with commands.)
fn test_init_cmd_list(l: &ScstInitLists) -> bool {
    !l.scst_init_cmd_list.is_empty() || kthread_should_stop()
}

/// C `scst_init_thread()` (`scst_initd`): waits on `scst_init_cmd_list_waitQ` under
/// `scst_init_lock` for new commands to route to their device (`scst_do_job_init()`, later).
pub fn scst_init_thread() -> i32 {
    PRINT_INFO!("Init thread started");
    set_user_nice(&current(), -10);

    let mut l = scst_init_lock.lock_irq();
    while !kthread_should_stop() {
        wait_event_locked(&scst_init_cmd_list_waitQ, &mut l, |l| test_init_cmd_list(l));
        // scst_do_job_init() comes with the command path.
    }
    // On stop (module unload) the list must be empty.
    let empty = l.scst_init_cmd_list.is_empty();
    drop(l);
    if !empty {
        PRINT_CRIT_ERROR!("scst_init_cmd_list is not empty on stop");
    }

    PRINT_INFO!("Init thread finished");
    0
}

/// C `test_mgmt_cmd_list()`: whether `scsi_tm` has something to do.
fn test_mgmt_cmd_list(l: &ScstMcmdLists) -> bool {
    !l.scst_active_mgmt_cmd_list.is_empty() || kthread_should_stop()
}

/// C `scst_tm_thread()` (`scsi_tm`): waits on `scst_mgmt_cmd_list_waitQ` under
/// `scst_mcmd_lock` for task management commands (`scst_process_mgmt_cmd()`, later).
pub fn scst_tm_thread() -> i32 {
    PRINT_INFO!("Task management thread started");
    set_user_nice(&current(), -10);

    let mut l = scst_mcmd_lock.lock_irq();
    while !kthread_should_stop() {
        wait_event_locked(&scst_mgmt_cmd_list_waitQ, &mut l, |l| test_mgmt_cmd_list(l));
        // scst_process_mgmt_cmd() comes with task management.
    }
    drop(l);

    PRINT_INFO!("Task management thread finished");
    0
}

/// C `__wildcmp()`: DOS-style pattern match of `string` against `wild` (`*` any run, `?` any
/// one character, case-insensitive); a `!` at the outermost level inverts the match of the
/// rest of the pattern. (C's algorithm, by Jack Handy, with SCST's `!` extension.)
fn __wildcmp(wild: &[u8], string: &[u8], recursion_level: i32) -> bool {
    // C walks NUL-terminated strings; past the end reads as 0 here.
    let w = |i: usize| wild.get(i).copied().unwrap_or(0);
    let (mut wi, mut si) = (0usize, 0usize);
    let (mut mp, mut cp) = (0usize, 0usize);

    while si < string.len() && w(wi) != b'*' {
        if w(wi) == b'!' && recursion_level == 0 {
            return !__wildcmp(&wild[wi + 1..], &string[si..], recursion_level + 1);
        }
        if !w(wi).eq_ignore_ascii_case(&string[si]) && w(wi) != b'?' {
            return false;
        }
        wi += 1;
        si += 1;
    }

    while si < string.len() {
        if w(wi) == b'!' && recursion_level == 0 {
            return !__wildcmp(&wild[wi + 1..], &string[si..], recursion_level + 1);
        }
        if w(wi) == b'*' {
            wi += 1;
            if w(wi) == 0 {
                return true;
            }
            mp = wi;
            cp = si + 1;
        } else if w(wi).eq_ignore_ascii_case(&string[si]) || w(wi) == b'?' {
            wi += 1;
            si += 1;
        } else {
            wi = mp;
            si = cp;
            cp += 1;
        }
    }

    while w(wi) == b'*' {
        wi += 1;
    }
    w(wi) == 0
}

/// C `wildcmp()`: true if `string` matches the pattern `wild` (see `__wildcmp()`): `*` and
/// `?` as in DOS, and one `!` that inverts the match of what follows it. The iSCSI daemon has
/// its own copy of this function.
pub fn wildcmp(wild: &str, string: &str) -> bool {
    __wildcmp(wild.as_bytes(), string.as_bytes(), 0)
}

/// C `scst_find_acg_by_name_wild()` (procfs builds): the first group, in creation order,
/// with a name pattern matching `initiator_name`. Called with `scst_mutex` held.
fn scst_find_acg_by_name_wild(
    g: &ScstMutexGuard<'_>,
    initiator_name: &str,
) -> Option<Arc<ScstAcg>> {
    for (_, acg) in g.scst_acg_list.iter() {
        if acg
            .acn_list
            .access(g)
            .iter()
            .any(|(_, n)| wildcmp(&n.name, initiator_name))
        {
            TRACE_DBG!("Access control group {} found", acg.acg_name);
            return Some(acg.clone());
        }
    }
    None
}

/// C `scst_find_acg_by_name()` (procfs builds): the group named `acg_name`. Called with
/// `scst_mutex` held.
pub fn scst_find_acg_by_name(g: &ScstMutexGuard<'_>, acg_name: &str) -> Option<Arc<ScstAcg>> {
    let res = g
        .scst_acg_list
        .iter()
        .find(|(_, a)| a.acg_name == acg_name)
        .map(|(_, a)| a.clone());
    if let Some(a) = &res {
        TRACE_DBG!("Access control group {} found", a.acg_name);
    }
    res
}

/// C `__scst_find_acg()` (procfs builds): the group a session of `tgt` from `initiator_name`
/// uses: the first group whose names match the initiator, else the group
/// `Default_<target>` if it exists, else `Default`. None only while SCST is not initialised
/// (C's default group always exists). Called with `scst_mutex` held.
pub fn __scst_find_acg(
    g: &ScstMutexGuard<'_>,
    tgt: &ScstTgt,
    initiator_name: Option<&str>,
) -> Option<Arc<ScstAcg>> {
    let mut acg = initiator_name.and_then(|n| scst_find_acg_by_name_wild(g, n));
    if acg.is_none() {
        if let Some(dgn) = &tgt.default_group_name {
            acg = scst_find_acg_by_name(g, dgn);
        }
    }
    acg.or_else(|| g.scst_default_acg.clone())
}

/// C `scst_find_acg()`: [`__scst_find_acg`] for a session. Called with `scst_mutex` held.
pub fn scst_find_acg(g: &ScstMutexGuard<'_>, sess: &ScstSession) -> Option<Arc<ScstAcg>> {
    __scst_find_acg(g, &sess.tgt, Some(&sess.initiator_name))
}

/// C `scst_initiator_has_luns()`: whether `initiator_name` will see any LUN when it logs in
/// to `tgt` (its group has at least one). C then queues a "negative LUNs inquiry" event for
/// user space; SCST events are not ported, so that is a trace message.
pub fn scst_initiator_has_luns(tgt: &ScstTgt, initiator_name: &str) -> bool {
    let g = scst_mutex.lock();
    let res = __scst_find_acg(&g, tgt, Some(initiator_name))
        .is_some_and(|acg| !acg.acg_dev_list.access(&g).is_empty());
    if !res {
        TRACE_MGMT_DBG!(
            "Negative LUNs inquiry for initiator {} on target {} (no event yet)",
            initiator_name,
            tgt.tgt_name
        );
    }
    res
}

/// C `scst_get_unique_sess_name()`: `initiator_name`, or `<initiator_name>_<n>` with the
/// smallest `n` not yet used by a session of the target. Called with `scst_mutex` held.
fn scst_get_unique_sess_name(
    g: &ScstMutexGuard<'_>,
    tgt: &ScstTgt,
    initiator_name: &str,
) -> String {
    let mut name = initiator_name.to_owned();
    let mut n = 1;
    while tgt
        .sysfs_sess_list
        .access(g)
        .iter()
        .any(|(_, s)| s.sess_name.access(g).as_deref() == Some(name.as_str()))
    {
        TRACE_DBG!("Duplicated session from the same initiator {} found", name);
        name = format!("{initiator_name}_{n}");
        n += 1;
    }
    name
}

/// C `scst_init_session()`: binds the session to its access group and adds it to the group's
/// and the target's lists (under `scst_mutex`), then reports the result to `init_result_fn`
/// (only an atomic registration has one), marks the session ready and drops the reference
/// held during initialisation. (C also creates the session's `tgt_dev`s and restarts the
/// commands that arrived meanwhile; both come with the command path.)
fn scst_init_session(sess: &Arc<ScstSession>) -> Result<(), Errno> {
    let mut g = scst_mutex.lock();
    let res = match scst_find_acg(&g, sess) {
        None => {
            kemu::PRINT_ERROR!(
                "SCST is not initialised: no group for {}",
                sess.initiator_name
            );
            Err(Errno::ENODEV)
        }
        Some(acg) => {
            PRINT_INFO!(
                "Using security group \"{}\" for initiator \"{}\" (target {})",
                acg.acg_name,
                sess.initiator_name,
                sess.tgt.tgt_name
            );
            scst_get_acg(&acg);
            let h = acg.acg_sess_list.access_mut(&mut g).add_tail(sess.clone());
            sess.acg_sess_list_entry.set(h);
            *sess.acg.access_mut(&mut g) = Some(acg);

            TRACE_DBG!("Adding sess {} to tgt->sess_list", sess.initiator_name);
            let h = sess.tgt.sess_list.access_mut(&mut g).add_tail(sess.clone());
            sess.sess_list_entry.set(h);

            let name = scst_get_unique_sess_name(&g, &sess.tgt, &sess.initiator_name);
            *sess.sess_name.access_mut(&mut g) = Some(name);
            let h = sess
                .tgt
                .sysfs_sess_list
                .access_mut(&mut g)
                .add_tail(sess.clone());
            sess.sysfs_sess_list_entry.set(h);
            Ok(())
        }
    };
    drop(g);

    let result_fn = sess
        .init_result_fn
        .access_mut(&mut scst_mgmt_lock.lock_irq())
        .take();
    if let Some(f) = result_fn {
        TRACE_DBG!("Calling init_result_fn({})", sess.initiator_name);
        f(sess, res.err().map_or(0, kemu::errno_neg));
        TRACE_DBG!("init_result_fn() returned");
    }

    atomic_set(
        &sess.init_phase,
        if res.is_ok() {
            SCST_SESS_IPH_SUCCESS
        } else {
            SCST_SESS_IPH_FAILED
        },
    );
    // If initialisation failed, the target driver is expected to unregister the session.
    atomic_set(&sess.init_phase, SCST_SESS_IPH_READY);

    scst_sess_put(sess);
    res
}

/// C `scst_register_session()`: registers a session of `tgt` for `initiator_name` (the key of
/// the group lookup) with the driver's data `tgt_priv`.
///
/// Not `atomic`: the session is initialised in the caller (`scst_init_session()`) and is
/// ready on return; C ignores `result_fn` in this case and so does the port. `atomic`: the
/// session is queued on `scst_sess_init_list` and `scst_mgmtd` initialises it and then calls
/// `result_fn` with the result (0 or `-errno`); the driver may already use the returned
/// session, and if the result is an error it must unregister the session (nothing does it
/// automatically).
pub fn scst_register_session(
    tgt: &Arc<ScstTgt>,
    atomic: bool,
    initiator_name: &str,
    tgt_priv: Option<TgtPriv>,
    result_fn: Option<ScstInitResultFn>,
) -> Result<Arc<ScstSession>, Errno> {
    let sess = scst_alloc_session(tgt, initiator_name);
    scst_sess_set_tgt_priv(&sess, tgt_priv);

    scst_sess_get(&sess); // the registered session's reference
    scst_sess_get(&sess); // held until the session is initialised

    if atomic {
        let mut l = scst_mgmt_lock.lock_irqsave();
        *sess.init_result_fn.access_mut(&mut l) = result_fn;
        TRACE_DBG!("Adding sess {} to scst_sess_init_list", sess.initiator_name);
        l.scst_sess_init_list.add_tail(sess.clone());
        drop(l);
        wake_up(&scst_mgmt_waitQ);
    } else if let Err(e) = scst_init_session(&sess) {
        scst_free_session(&sess);
        return Err(e);
    }
    Ok(sess)
}

/// C `scst_register_session_non_gpl()`: a non-atomic registration without `result_fn`.
pub fn scst_register_session_non_gpl(
    tgt: &Arc<ScstTgt>,
    initiator_name: &str,
    tgt_priv: Option<TgtPriv>,
) -> Result<Arc<ScstSession>, Errno> {
    scst_register_session(tgt, false, initiator_name, tgt_priv, None)
}

/// C `scst_unregister_session()`: starts the shutdown of `sess` and drops the registered
/// session's reference. When the last reference goes, `scst_mgmtd` frees the session and
/// calls `unreg_done_fn` first. With `wait`, returns only after that (it must then not be
/// called on `scst_mgmtd` itself). May be called before an atomic registration's
/// `result_fn` ran. (C first aborts the session's commands with an internal
/// `SCST_UNREG_SESS_TM` task management function; that comes with task management.)
pub fn scst_unregister_session(
    sess: &Arc<ScstSession>,
    wait: bool,
    unreg_done_fn: Option<ScstUnregDoneFn>,
) {
    TRACE_MGMT_DBG!(
        "Unregistering session {} (wait {})",
        sess.initiator_name,
        wait
    );

    let c = wait.then(|| Arc::new(Completion::new()));
    {
        let mut l = scst_mgmt_lock.lock_irqsave();
        // C stores unreg_done_fn before the lock; storing it under the lock that protects it
        // here changes no ordering (scst_mgmtd reads it only after the last put below).
        *sess.unreg_done_fn.access_mut(&mut l) = unreg_done_fn;
        atomic_set(&sess.shut_phase, SCST_SESS_SPH_SHUTDOWN);
        if let Some(c) = &c {
            *sess.shutdown_compl.access_mut(&mut l) = Some(c.clone());
        }
    }

    scst_sess_put(sess);

    if let Some(c) = c {
        TRACE_DBG!("Waiting for session {} to complete", sess.initiator_name);
        wait_for_completion(&c);
    }
}

/// C `scst_unregister_session_non_gpl()`: unregisters and waits, without `unreg_done_fn`.
pub fn scst_unregister_session_non_gpl(sess: &Arc<ScstSession>) {
    scst_unregister_session(sess, true, None);
}

/// C `test_mgmt_list()`: whether `scst_mgmtd` has something to do.
fn test_mgmt_list(l: &ScstMgmtLists) -> bool {
    !l.scst_sess_init_list.is_empty() || !l.scst_sess_shut_list.is_empty() || kthread_should_stop()
}

/// C `scst_global_mgmt_thread()` (`scst_mgmtd`): initialises the sessions registered in
/// atomic context and frees the sessions whose last reference went, each with
/// `scst_mgmt_lock` dropped around the work.
pub fn scst_global_mgmt_thread() -> i32 {
    PRINT_INFO!("Management thread started");
    set_user_nice(&current(), -10);

    let mut l = scst_mgmt_lock.lock_irq();
    while !kthread_should_stop() {
        wait_event_locked(&scst_mgmt_waitQ, &mut l, |l| test_mgmt_list(l));

        while let Some(sess) = l.scst_sess_init_list.pop_front() {
            TRACE_DBG!(
                "Removing sess {} from scst_sess_init_list",
                sess.initiator_name
            );
            drop(l);
            let init_phase = atomic_read(&sess.init_phase);
            if init_phase == SCST_SESS_IPH_INITING {
                // A failed initialisation is not freed here: the driver unregisters the
                // session (see scst_register_session()).
                let _ = scst_init_session(&sess);
            } else {
                PRINT_CRIT_ERROR!(
                    "session {} is in scst_sess_init_list, but in unknown init phase {:x}",
                    sess.initiator_name,
                    init_phase
                );
                panic!("scst_global_mgmt_thread: session in an unknown init phase");
            }
            l = scst_mgmt_lock.lock_irq();
        }

        while let Some(sess) = l.scst_sess_shut_list.pop_front() {
            TRACE_DBG!(
                "Removing sess {} from scst_sess_shut_list",
                sess.initiator_name
            );
            drop(l);
            let shut_phase = atomic_read(&sess.shut_phase);
            if shut_phase == SCST_SESS_SPH_SHUTDOWN && atomic_read(&sess.refcnt) == 0 {
                scst_free_session_callback(&sess);
            } else {
                PRINT_CRIT_ERROR!(
                    "session {} is in scst_sess_shut_list, but in unknown shut phase {:x}",
                    sess.initiator_name,
                    shut_phase
                );
                panic!("scst_global_mgmt_thread: session in an unknown shut phase");
            }
            l = scst_mgmt_lock.lock_irq();
        }
    }
    // Stopped only on module unload, when both lists must be empty.
    let empty = l.scst_sess_init_list.is_empty() && l.scst_sess_shut_list.is_empty();
    drop(l);
    if !empty {
        PRINT_CRIT_ERROR!("scst_mgmtd stopped with sessions still queued");
    }

    PRINT_INFO!("Management thread finished");
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scst::{scst_sess_get_tgt_priv, SCST_SESS_SPH_UNREG_DONE_CALLING};
    use crate::scst_lib::{scst_acg_add_acn, scst_acg_add_lun, scst_alloc_add_acg};
    use crate::scst_main::{
        scst_register_target, scst_register_target_template, scst_register_virtual_dev_driver,
        scst_register_virtual_device, scst_unregister_target, scst_unregister_target_template,
        scst_unregister_virtual_dev_driver, scst_unregister_virtual_device,
    };
    use crate::testutil::{
        dev_type, serialise, template, wait_until, Loaded, TestDevOps, TestTgtOps,
    };
    use kemu::completion::{complete, wait_for_completion_timeout};
    use kemu::sync::Mutex;
    use kemu::timer::HZ;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    fn thread_name() -> String {
        std::thread::current().name().unwrap_or("").to_owned()
    }

    fn setup(
        name: &'static str,
        ops: Arc<TestTgtOps>,
    ) -> (Arc<crate::scst::ScstTgtTemplate>, Arc<ScstTgt>) {
        let vtt = template(name, ops);
        scst_register_target_template(&vtt).unwrap();
        let tgt = scst_register_target(&vtt, Some(name)).unwrap();
        (vtt, tgt)
    }

    #[test]
    fn wildcmp_matches_like_c() {
        assert!(wildcmp("bl?h.*", "blah.jpg"));
        assert!(!wildcmp("bl!?h.*", "blah.jpg"));
        assert!(!wildcmp("bl!?h.*", "blxh.jpg"));
        assert!(wildcmp(
            "iqn.1994-05.com.redhat:*",
            "IQN.1994-05.com.redhat:abc"
        ));
        assert!(wildcmp("*", ""));
        assert!(wildcmp("*", "anything"));
        assert!(!wildcmp("", "a"));
        assert!(wildcmp("", ""));
        assert!(wildcmp("a*b*c", "aXXbYYc"));
        assert!(!wildcmp("a*b*c", "aXXbYY"));
        assert!(wildcmp("!iqn.*", "eui.123"));
        assert!(!wildcmp("!iqn.*", "iqn.123"));
        // Only an outermost `!` inverts; the rest "b" does not match "!b", so this matches.
        assert!(wildcmp("a!b", "a!b"));
        assert!(!wildcmp("*x?", "abxyz"));
        assert!(wildcmp("*x?", "abxz"));
    }

    #[test]
    fn register_session_without_scst_loaded_fails() {
        let _g = serialise();
        let vtt = template("tt_noload", Arc::new(TestTgtOps::default()));
        let tgt = Arc::new(ScstTgt::new(vtt, "t".into(), None, 1));
        assert_eq!(
            scst_register_session(&tgt, false, "ini", None, None).unwrap_err(),
            Errno::ENODEV
        );
        assert!(tgt.sess_list.access(&scst_mutex.lock()).is_empty());
        assert!(!scst_initiator_has_luns(&tgt, "ini"));
    }

    #[test]
    fn non_atomic_session_register_and_unregister_with_wait() {
        let _l = Loaded::new();
        let ops = Arc::new(TestTgtOps::default());
        let (vtt, tgt) = setup("tt_sess_na", ops);

        let called = Arc::new(AtomicUsize::new(0));
        let c2 = called.clone();
        let priv_: crate::scst::TgtPriv = Arc::new(String::from("conn"));
        let sess = scst_register_session(
            &tgt,
            false,
            "iqn.ini:1",
            Some(priv_),
            Some(Box::new(move |_, _| {
                c2.fetch_add(1, SeqCst);
            })),
        )
        .unwrap();
        // C stores result_fn only for an atomic registration.
        assert_eq!(called.load(SeqCst), 0);
        assert_eq!(atomic_read(&sess.refcnt), 1);
        assert_eq!(atomic_read(&sess.init_phase), SCST_SESS_IPH_READY);
        assert_eq!(
            scst_sess_get_tgt_priv(&sess)
                .unwrap()
                .downcast_ref::<String>()
                .unwrap(),
            "conn"
        );
        {
            let g = scst_mutex.lock();
            assert_eq!(sess.acg.access(&g).as_ref().unwrap().acg_name, "Default");
            assert_eq!(tgt.sess_list.access(&g).len(), 1);
            assert_eq!(sess.sess_name.access(&g).as_deref(), Some("iqn.ini:1"));
            let acg = g.scst_default_acg.clone().unwrap();
            assert_eq!(acg.acg_sess_list.access(&g).len(), 1);
        }

        let done = Arc::new(Mutex::new(Vec::new()));
        let d2 = done.clone();
        scst_unregister_session(
            &sess,
            true,
            Some(Box::new(move |s| {
                d2.lock().push((thread_name(), s.initiator_name.clone()))
            })),
        );
        // With wait, unreg_done_fn has run (on scst_mgmtd) when the call returns.
        assert_eq!(
            *done.lock(),
            vec![("scst_mgmtd".to_owned(), "iqn.ini:1".to_owned())]
        );
        assert_eq!(atomic_read(&sess.refcnt), 0);
        assert_eq!(
            atomic_read(&sess.shut_phase),
            SCST_SESS_SPH_UNREG_DONE_CALLING
        );
        {
            let g = scst_mutex.lock();
            assert!(tgt.sess_list.access(&g).is_empty());
            assert!(tgt.sysfs_sess_list.access(&g).is_empty());
            let acg = g.scst_default_acg.clone().unwrap();
            assert!(acg.acg_sess_list.access(&g).is_empty());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(done.lock().len(), 1);
        scst_unregister_target_template(&vtt);
    }

    #[test]
    fn atomic_session_is_initialised_on_mgmtd() {
        let _l = Loaded::new();
        let ops = Arc::new(TestTgtOps::default());
        let (vtt, tgt) = setup("tt_sess_at", ops);

        let inited = Arc::new(Completion::new());
        let results = Arc::new(Mutex::new(Vec::new()));
        let (i2, r2) = (inited.clone(), results.clone());
        let sess = scst_register_session(
            &tgt,
            true,
            "iqn.ini:at",
            None,
            Some(Box::new(move |s, res| {
                r2.lock()
                    .push((thread_name(), res, s.initiator_name.clone()));
                complete(&i2);
            })),
        )
        .unwrap();
        assert!(wait_for_completion_timeout(&inited, 5 * HZ) > 0);
        assert_eq!(
            *results.lock(),
            vec![("scst_mgmtd".to_owned(), 0, "iqn.ini:at".to_owned())]
        );
        assert!(wait_until(
            || atomic_read(&sess.init_phase) == SCST_SESS_IPH_READY
        ));
        assert!(wait_until(|| atomic_read(&sess.refcnt) == 1));

        // A second session of the same initiator gets a unique name.
        let sess2 = scst_register_session(&tgt, false, "iqn.ini:at", None, None).unwrap();
        assert_eq!(
            sess2.sess_name.access(&scst_mutex.lock()).as_deref(),
            Some("iqn.ini:at_1")
        );
        scst_unregister_session(&sess2, true, None);

        // Unregistration without wait: unreg_done_fn runs exactly once, on scst_mgmtd.
        let freed = Arc::new(Completion::new());
        let calls = Arc::new(Mutex::new(Vec::new()));
        let (f2, c2) = (freed.clone(), calls.clone());
        scst_unregister_session(
            &sess,
            false,
            Some(Box::new(move |_| {
                c2.lock().push(thread_name());
                complete(&f2);
            })),
        );
        assert!(wait_for_completion_timeout(&freed, 5 * HZ) > 0);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(*calls.lock(), vec!["scst_mgmtd".to_owned()]);
        assert!(wait_until(|| tgt
            .sysfs_sess_list
            .access(&scst_mutex.lock())
            .is_empty()));
        scst_unregister_target_template(&vtt);
    }

    #[test]
    fn unregister_session_before_atomic_init_ran() {
        let _l = Loaded::new();
        let (vtt, tgt) = setup("tt_sess_early", Arc::new(TestTgtOps::default()));
        // Hold scst_mgmtd's work back by holding scst_mutex, which scst_init_session() needs.
        let g = scst_mutex.lock();
        let sess = scst_register_session(&tgt, true, "ini_early", None, None).unwrap();
        let s2 = sess.clone();
        let h = std::thread::spawn(move || scst_unregister_session(&s2, true, None));
        std::thread::sleep(std::time::Duration::from_millis(20));
        drop(g);
        h.join().unwrap();
        assert_eq!(atomic_read(&sess.refcnt), 0);
        assert!(tgt.sess_list.access(&scst_mutex.lock()).is_empty());
        scst_unregister_target_template(&vtt);
    }

    #[test]
    fn unregister_target_with_live_sessions() {
        let _l = Loaded::new();
        let ops = Arc::new(TestTgtOps {
            unregister_on_release: true,
            ..Default::default()
        });
        let (vtt, tgt) = setup("tt_live_sess", ops.clone());
        for i in 0..3 {
            let s = scst_register_session(&tgt, i == 1, &format!("ini{i}"), None, None).unwrap();
            ops.sessions.lock().push(s);
        }
        assert!(wait_until(|| tgt
            .sess_list
            .access(&scst_mutex.lock())
            .len()
            == 3));
        scst_unregister_target(&tgt);
        assert_eq!(ops.released.load(SeqCst), 1);
        {
            let g = scst_mutex.lock();
            assert!(tgt.sess_list.access(&g).is_empty());
            assert!(vtt.tgt_list.access(&g).is_empty());
        }

        // A driver whose release() leaves a session: the unregistration waits for it.
        let ops2 = Arc::new(TestTgtOps::default());
        let (vtt2, tgt2) = setup("tt_live_sess2", ops2.clone());
        let s = scst_register_session(&tgt2, false, "late", None, None).unwrap();
        let h = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            scst_unregister_session(&s, false, None);
        });
        let t0 = std::time::Instant::now();
        scst_unregister_target(&tgt2);
        assert!(t0.elapsed() >= std::time::Duration::from_millis(40));
        h.join().unwrap();
        assert!(tgt2.sysfs_sess_list.access(&scst_mutex.lock()).is_empty());
        scst_unregister_target_template(&vtt2);
        scst_unregister_target_template(&vtt);
    }

    #[test]
    fn initiator_has_luns_follows_the_procfs_group_lookup() {
        let _l = Loaded::new();
        let (vtt, tgt) = setup("tt_luns", Arc::new(TestTgtOps::default()));
        let dt = dev_type("test_luns", Arc::new(TestDevOps::default()));
        scst_register_virtual_dev_driver(&dt).unwrap();
        let id = scst_register_virtual_device(&dt, "lunsdisk").unwrap();

        assert!(!scst_initiator_has_luns(&tgt, "iqn.a"));
        let (default, dev) = {
            let g = scst_mutex.lock();
            let dev = g
                .scst_dev_list
                .iter()
                .find(|(_, d)| d.virt_id == id)
                .map(|(_, d)| d.clone());
            (g.scst_default_acg.clone().unwrap(), dev.unwrap())
        };
        {
            let mut g = scst_mutex.lock();
            scst_acg_add_lun(&mut g, &default, &dev, 0, false).unwrap();
            assert_eq!(
                scst_acg_add_lun(&mut g, &default, &dev, 0, true),
                Err(Errno::EEXIST)
            );
        }
        assert!(scst_initiator_has_luns(&tgt, "iqn.a"));

        // A group naming the initiator takes precedence, even without LUNs.
        let g1 = {
            let mut g = scst_mutex.lock();
            let g1 = scst_alloc_add_acg(&mut g, "G1").unwrap();
            scst_acg_add_acn(&mut g, &g1, "iqn.b*").unwrap();
            g1
        };
        assert!(!scst_initiator_has_luns(&tgt, "IQN.b-host"));
        assert!(scst_initiator_has_luns(&tgt, "iqn.a"));
        {
            let mut g = scst_mutex.lock();
            scst_acg_add_lun(&mut g, &g1, &dev, 5, true).unwrap();
            let (_, a) = g1
                .acg_dev_list
                .access(&g)
                .first()
                .map(|(h, a)| (h, a.clone()))
                .unwrap();
            assert!(a.acg_dev_rd_only);
            assert_eq!(a.lun, 5);
        }
        assert!(scst_initiator_has_luns(&tgt, "iqn.b-host"));

        // Default_<target> is used before Default.
        {
            let mut g = scst_mutex.lock();
            scst_alloc_add_acg(&mut g, "Default_tt_luns").unwrap();
        }
        assert!(!scst_initiator_has_luns(&tgt, "iqn.a"));
        let s = scst_register_session(&tgt, false, "iqn.a", None, None).unwrap();
        assert_eq!(
            s.acg.access(&scst_mutex.lock()).as_ref().unwrap().acg_name,
            "Default_tt_luns"
        );
        let s2 = scst_register_session(&tgt, false, "iqn.b1", None, None).unwrap();
        assert_eq!(
            s2.acg.access(&scst_mutex.lock()).as_ref().unwrap().acg_name,
            "G1"
        );
        scst_unregister_session(&s, true, None);
        scst_unregister_session(&s2, true, None);

        scst_unregister_virtual_device(id);
        assert!(!scst_initiator_has_luns(&tgt, "iqn.b-host"));
        scst_unregister_target_template(&vtt);
        scst_unregister_virtual_dev_driver(&dt);
    }
}
