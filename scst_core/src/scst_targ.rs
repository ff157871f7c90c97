// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2004 - 2016 Vladislav Bolkhovitin <vst@vlnb.net>
// Copyright (C) 2004 - 2005 Leonid Stoljar
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! The port of `scst/src/scst_targ.c`: registration and unregistration of sessions, the
//! management thread `scst_mgmtd` that initialises and frees them, the procfs group lookup
//! (`__scst_find_acg()` with `wildcmp()`), the command datapath — `scst_rx_cmd()`,
//! `scst_cmd_init_done()`, the `SCST_CMD_STATE_*` state machine driven by
//! `scst_process_active_cmd()`, SN ordering, local execution (REPORT LUNS, REQUEST SENSE),
//! `scst_tgt_cmd_done()` — and the command threads (`scstd<n>`, the devices' and nexuses'
//! pools, `scst_initd`) that run it; task management (`scst_rx_mgmt_fn()`, run by `scsi_tm`).
//!
//! Execution contexts: `SCST_CONTEXT_DIRECT(_ATOMIC)` continue on the caller's thread,
//! `SCST_CONTEXT_THREAD` queues the command on its pool (`cmd_threads`: the global pool
//! before LUN translation, then the nexus's `active_cmd_threads`), `SCST_CONTEXT_SAME` is
//! the caller's context, and `SCST_CONTEXT_TASKLET` is a thread too (no tasklets in
//! usermode, as in the C usermode adaptation).
#![doc(alias = "scst_targ.c")]

use crate::scst::*;
use crate::scst_const::*;
use crate::scst_lib::{
    cdb_byte, scst_adjust_resp_data_len_locked, scst_alloc_cmd, scst_alloc_session,
    scst_alloc_space_locked, scst_cdrom_generic_parse, scst_cmd_set_write_no_data_received_locked,
    scst_free_session, scst_free_session_callback, scst_get_acg, scst_get_cdb_info_locked,
    scst_pack_lun, scst_sbc_generic_parse, scst_sense_response_code, scst_set_busy_locked,
    scst_set_cmd_abnormal_done_state, scst_set_cmd_abnormal_done_state_locked,
    scst_set_cmd_error_locked, scst_set_cmd_error_status_locked,
    scst_set_invalid_field_in_cdb_locked, scst_set_resp_data_len_locked, scst_set_sense,
    scst_unpack_lun, scst_with_buf_full_sense_locked, scst_with_buf_locked,
};
use crate::scst_lib::{
    scst_analyze_sense, scst_dev_check_set_UA, scst_dev_check_set_local_UA, scst_is_ua_sense,
    scst_requeue_ua, scst_requeue_ua_locked, scst_set_pending_UA, scst_set_pending_UA_locked,
    scst_tgt_dev_del_free_UA,
};
use crate::scst_main::{
    scst_init_cmd_list_waitQ, scst_init_lock, scst_mcmd_lock, scst_mgmt_cmd_list_waitQ,
    scst_mgmt_lock, scst_mgmt_waitQ, scst_mutex, scst_null_devtype, scst_trace_flag as TRACE_FLAG,
    ScstInitLists, ScstMcmdLists, ScstMgmtLists, ScstMutexGuard,
};
use crate::scst_priv::{
    __scst_cmd_get, __scst_cmd_put, scst_clear_dev_reservation, scst_dev_reserved, scst_get,
    scst_is_not_reservation_holder, scst_is_not_reservation_holder_locked, scst_put,
    scst_reserve_dev, scst_sess_get, scst_sess_put, scst_sn_before, SCST_MAX_TGT_DEV_COMMANDS,
};
use kemu::atomic::{
    atomic_dec, atomic_dec_and_test, atomic_inc, atomic_inc_return, atomic_read, atomic_set,
    set_bit, smp_mb, test_and_set_bit, test_bit,
};
use kemu::completion::{complete_all, wait_for_completion, Completion};
use kemu::kthread::{current, kthread_should_stop, set_user_nice};
use kemu::printk::{TRACE_FLOW_CONTROL, TRACE_MEMORY, TRACE_MINOR, TRACE_OUT_OF_MEM, TRACE_SCSI};
use kemu::wait::{wait_event_locked, wake_up, wake_up_all};
use kemu::{
    Errno, PRINT_CRIT_ERROR, PRINT_ERROR, PRINT_INFO, PRINT_WARNING, TRACE, TRACE_DBG, TRACE_MEM,
    TRACE_MGMT_DBG,
};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;

/// C `test_cmd_threads()`: whether a command thread has something to do: commands on its own
/// or its pool's queue, or a stop request. Called with the pool's `cmd_list_lock` held (the
/// thread's own list lock is taken inside, in C's order: pool lock, then thread lock).
fn test_cmd_threads(thr: &ScstCmdThreadT, p: &ScstCmdThreadsLists) -> bool {
    !thr.thr_cmd_list_lock.lock().is_empty()
        || !p.active_cmd_list.is_empty()
        || kthread_should_stop()
}

/// C `scst_cmd_thread()`: the loop of a pool thread (`scstd<n>`, `<dev>N_M` …). It sleeps
/// on the pool's `cmd_list_waitQ` (exclusive, at the head of the queue, so the most recently
/// idle thread is woken first) until there is work or it is stopped, then processes
/// commands: its own queue (commands that already ran on it) is preferred 2:1 over the
/// pool's, since two is the average number of intermediate states reaching this point.
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
        loop {
            let mut someth_done = false;
            if let Some(cmd) = p.active_cmd_list.pop_front() {
                cmd.cmd_list_entry.take();
                kemu::sync::SpinLockGuard::unlocked(&mut p, || {
                    {
                        let mut d = cmd.d.lock();
                        if d.cmd_thr.is_none() {
                            TRACE_DBG!("Assigning thread to cmd");
                            d.cmd_thr = Some(thr.clone());
                        }
                    }
                    scst_process_active_cmd(&cmd, false);
                });
                someth_done = true;
            }
            let mut thr_cnt = 0;
            while thr_cnt < 2 {
                let next = thr.thr_cmd_list_lock.lock_irq().pop_front();
                let Some(cmd) = next else { break };
                cmd.cmd_list_entry.take();
                kemu::sync::SpinLockGuard::unlocked(&mut p, || {
                    scst_process_active_cmd(&cmd, false)
                });
                someth_done = true;
                thr_cnt += 1;
            }
            if !someth_done {
                break;
            }
        }
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
/// `scst_init_lock` for new commands to route to their device (`scst_do_job_init()`).
pub fn scst_init_thread() -> i32 {
    PRINT_INFO!("Init thread started");
    set_user_nice(&current(), -10);

    let mut l = scst_init_lock.lock_irq();
    while !kthread_should_stop() {
        wait_event_locked(&scst_init_cmd_list_waitQ, &mut l, |l| test_init_cmd_list(l));
        scst_do_job_init(&mut l);
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
/// `scst_mcmd_lock` for task management commands and runs them
/// (`scst_process_mgmt_cmd()`), the lock dropped around each.
pub fn scst_tm_thread() -> i32 {
    PRINT_INFO!("Task management thread started");
    set_user_nice(&current(), -10);

    let mut l = scst_mcmd_lock.lock_irq();
    while !kthread_should_stop() {
        wait_event_locked(&scst_mgmt_cmd_list_waitQ, &mut l, |l| test_mgmt_cmd_list(l));
        while let Some(mcmd) = l.scst_active_mgmt_cmd_list.pop_front() {
            TRACE_MGMT_DBG!("Deleting mgmt cmd {:?} from active cmd list", mcmd);
            mcmd.mgmt_cmd_list_entry.take();
            let rc = kemu::sync::SpinLockGuard::unlocked(&mut l, || scst_process_mgmt_cmd(&mcmd));
            if rc > 0 {
                // Activity suspension (the delayed list) is not ported: back to the head.
                TRACE_MGMT_DBG!("Adding mgmt cmd {:?} to head of active mgmt cmd list", mcmd);
                let h = l.scst_active_mgmt_cmd_list.add(mcmd.clone());
                mcmd.mgmt_cmd_list_entry.set(h);
            }
        }
    }
    // Stopped only on module unload, when the list must be empty.
    let empty = l.scst_active_mgmt_cmd_list.is_empty();
    drop(l);
    if !empty {
        PRINT_CRIT_ERROR!("scst_active_mgmt_cmd_list is not empty on stop");
    }

    PRINT_INFO!("Task management thread finished");
    0
}

/// C scst_priv.h `TRACE_SN()`: SN tracing (C's `TRACE_SCSI_SERIALIZING` flag; here debug).
macro_rules! TRACE_SN {
    ($($arg:tt)*) => {
        TRACE_DBG!($($arg)*)
    };
}

// ---------------------------------------------------------------------------------------------
// The command path: from scst_rx_cmd() through the SCST_CMD_STATE_* state machine to
// scst_finish_cmd()
// ---------------------------------------------------------------------------------------------
//
// The state machine is C's: scst_process_active_cmd() calls the function of the current state
// until one answers "continue with the next command" (the command went passive: waiting for
// the driver, the handler, the SN order or a thread) or "needs a thread" (requeued to its
// pool). The command's data (`cmd.d`) is locked only inside one step and never across a
// callback into the target driver or the handler, so they may use the accessors freely, and
// may continue the command from inside their callback (SCST_CONTEXT_SAME / DIRECT), as in C.

/// C `scst_schedule_tasklet()`: C runs the command in a per-CPU tasklet. There are no tasklets
/// in usermode, so (as the C usermode adaptation does) the command goes to a thread of its
/// pool, which is `SCST_CONTEXT_THREAD`.
fn scst_schedule_tasklet(cmd: &Arc<ScstCmd>) {
    scst_add_to_active_cmd_list(cmd);
}

/// The `SCST_CONTEXT_THREAD` branch shared by several C functions: queue the command on its
/// pool's `active_cmd_list` (HEAD OF QUEUE commands at the head) and wake one thread.
fn scst_add_to_active_cmd_list(cmd: &Arc<ScstCmd>) {
    let (p, hq) = {
        let d = cmd.d.lock();
        (
            d.cmd_threads.clone(),
            d.queue_type == SCST_CMD_QUEUE_HEAD_OF_QUEUE,
        )
    };
    let mut l = p.cmd_list_lock.lock_irqsave();
    TRACE_DBG!("Adding cmd to active cmd list");
    let h = if hq {
        l.active_cmd_list.add(cmd.clone())
    } else {
        l.active_cmd_list.add_tail(cmd.clone())
    };
    cmd.cmd_list_entry.set(h);
    wake_up(&p.cmd_list_waitQ);
    drop(l);
}

/// C `__scst_rx_cmd()`: binds the new command to its session (a session reference per
/// command) and decodes the LUN; an invalid LUN field is LOGICAL UNIT NOT SUPPORTED.
fn __scst_rx_cmd(cmd: &Arc<ScstCmd>, sess: &Arc<ScstSession>, lun: &[u8]) {
    scst_sess_get(sess);
    let mut d = cmd.d.lock();
    d.lun = scst_unpack_lun(lun);
    if d.lun == NO_SUCH_LUN {
        let (k, a, q) = SCST_LOAD_SENSE(scst_sense_lun_not_supported);
        scst_set_cmd_error_locked(&mut d, k, a, q);
    }
    TRACE_DBG!("cmd for sess {}", sess.initiator_name);
}

/// C `scst_rx_cmd()`: a new command of `sess` for the SAM LUN field `lun` with `cdb`; None if
/// it cannot be allocated (a CDB of length 0 or longer than `SCST_MAX_LONG_CDB_SIZE`). The
/// driver then sets tag, expected values, queue type … and calls [`scst_cmd_init_done`].
/// Must not race with `scst_unregister_session()` of the same session.
pub fn scst_rx_cmd(
    sess: &Arc<ScstSession>,
    lun: &[u8],
    cdb: &[u8],
    atomic: bool,
) -> Option<Arc<ScstCmd>> {
    if atomic_read(&sess.shut_phase) != SCST_SESS_SPH_READY {
        PRINT_CRIT_ERROR!("New cmd while shutting down the session");
    }
    let cmd = match scst_alloc_cmd(sess, cdb) {
        Ok(c) => c,
        Err(_) => {
            TRACE_DBG!("Allocation of scst_cmd failed");
            return None;
        }
    };
    cmd.d.lock().atomic = atomic;
    __scst_rx_cmd(&cmd, sess, lun);
    Some(cmd)
}

/// C `scst_init_cmd()`: LUN translation in the caller's context, unless earlier commands
/// still wait on `scst_init_cmd_list` (then, to keep the order, this one queues behind them
/// for `scst_initd`). Returns < 0 if the caller must stop (queued), >= 0 to go on; may change
/// the context to a thread one (the "small context optimization").
fn scst_init_cmd(cmd: &Arc<ScstCmd>, context: &mut ScstExecContext) -> i32 {
    let busy = !scst_init_lock.lock_irqsave().scst_init_cmd_list.is_empty();
    let redirect = if busy {
        TRACE_DBG!("init cmd list busy");
        true
    } else {
        let rc = __scst_init_cmd(cmd);
        if rc > 0 {
            true
        } else if rc != 0 {
            return 1;
        } else {
            false
        }
    };
    if !redirect {
        if *context == SCST_CONTEXT_TASKLET || *context == SCST_CONTEXT_DIRECT_ATOMIC {
            let d = cmd.d.lock();
            if (d.data_direction | d.expected_data_direction) & SCST_DATA_WRITE != 0 {
                if !d
                    .tgt_dev
                    .as_ref()
                    .is_some_and(|t| t.tgt_dev_after_init_wr_atomic)
                {
                    *context = SCST_CONTEXT_THREAD;
                }
            } else {
                *context = SCST_CONTEXT_THREAD;
            }
        }
        return 0;
    }

    let preprocessing_only = cmd.d.lock().preprocessing_only;
    if preprocessing_only {
        // For single-threaded targets, where blocking the receiver blocks everything (an
        // iSCSI target could not receive Data-Out any more): answer BUSY instead of waiting.
        {
            let mut d = cmd.d.lock();
            scst_set_busy_locked(&mut d, &cmd.sess);
            scst_set_cmd_abnormal_done_state_locked(cmd, &mut d);
        }
        // Keep the initiator away from too many BUSY commands.
        kemu::timer::msleep(50);
        1
    } else {
        let mut l = scst_init_lock.lock_irqsave();
        TRACE_DBG!("Adding cmd to init cmd list");
        let h = l.scst_init_cmd_list.add_tail(cmd.clone());
        cmd.cmd_list_entry.set(h);
        drop(l);
        wake_up(&scst_init_cmd_list_waitQ);
        -1
    }
}

/// C `scst_cmd_init_done()`: the driver finished its part of the command's initialisation;
/// the command enters the state machine in the context `pref_context` (`SCST_CONTEXT_SAME` is
/// not allowed here).
///
/// Unless `set_sn_on_restart_cmd` is set, calls for one session and LUN must not run in
/// parallel (the lock-free SN fast path relies on it); a target with several command sources
/// per session sets `multithreaded_init_done` instead.
pub fn scst_cmd_init_done(cmd: &Arc<ScstCmd>, pref_context: ScstExecContext) {
    let mut pref_context = pref_context;
    let sess = &cmd.sess;
    TRACE_DBG!("Preferred context: {:?}", pref_context);
    {
        let d = cmd.d.lock();
        TRACE!(
            TRACE_SCSI,
            "NEW CDB: len {}, lun {}, initiator {}, target {}, queue_type {:x}, tag {}",
            d.cdb_len,
            d.lun,
            sess.initiator_name,
            cmd.tgt.tgt_name,
            d.queue_type,
            d.tag
        );
    }

    atomic_inc(&sess.sess_cmd_count);

    let mut l = sess.sess_list_lock.lock_irqsave();
    let init_phase = atomic_read(&sess.init_phase);
    let mut failed = false;
    if init_phase != SCST_SESS_IPH_READY {
        // Commands are on the session's list from the very beginning, or task management
        // could miss them; deferred ones are already there.
        if cmd.sess_cmd_list_entry.get().is_none() {
            let h = l.sess_cmd_list.add_tail(cmd.clone());
            cmd.sess_cmd_list_entry.set(h);
        }
        match init_phase {
            SCST_SESS_IPH_SUCCESS => {}
            SCST_SESS_IPH_INITING => {
                TRACE_DBG!("Adding cmd to init deferred cmd list");
                let h = l.init_deferred_cmd_list.add_tail(cmd.clone());
                cmd.cmd_list_entry.set(h);
                return;
            }
            SCST_SESS_IPH_FAILED => failed = true,
            p => {
                PRINT_CRIT_ERROR!("Unknown session init phase {}", p);
                panic!("scst_cmd_init_done: unknown session init phase");
            }
        }
    } else {
        let h = l.sess_cmd_list.add_tail(cmd.clone());
        cmd.sess_cmd_list_entry.set(h);
    }
    drop(l);

    let mut d = cmd.d.lock();
    if failed {
        scst_set_busy_locked(&mut d, sess);
    } else if d.queue_type > SCST_CMD_QUEUE_ACA {
        PRINT_ERROR!("Unsupported queue type {}", d.queue_type);
        let (k, a, q) = SCST_LOAD_SENSE(scst_sense_invalid_message);
        scst_set_cmd_error_locked(&mut d, k, a, q);
    }

    if d.status != SAM_STAT_GOOD {
        scst_set_cmd_abnormal_done_state_locked(cmd, &mut d);
        drop(d);
    } else {
        drop(d);
        // The command must be initialised here to keep the order; a command the driver
        // already completed is initialised too, to learn the sense format to use.
        scst_set_cmd_state(cmd, SCST_CMD_STATE_INIT);
        let rc = scst_init_cmd(cmd, &mut pref_context);
        if rc < 0 {
            return;
        }
    }

    // Here the command is on no command list and no lock is held.
    match pref_context {
        SCST_CONTEXT_TASKLET => scst_schedule_tasklet(cmd),
        SCST_CONTEXT_DIRECT => scst_process_active_cmd(cmd, false),
        SCST_CONTEXT_DIRECT_ATOMIC => scst_process_active_cmd(cmd, true),
        SCST_CONTEXT_THREAD => scst_add_to_active_cmd_list(cmd),
        c => {
            PRINT_ERROR!("Context {:?} is undefined, using the thread one", c);
            scst_add_to_active_cmd_list(cmd);
        }
    }
}

/// C scst.h `scst_cmd_init_stage1_done()`: [`scst_cmd_init_done`] for a command that stops
/// after PREPARE_SPACE for the driver's `preprocessing_done()`; with `set_sn` false its SN is
/// assigned only at [`scst_restart_cmd`].
pub fn scst_cmd_init_stage1_done(cmd: &Arc<ScstCmd>, pref_context: ScstExecContext, set_sn: bool) {
    {
        let mut d = cmd.d.lock();
        d.preprocessing_only = true;
        d.set_sn_on_restart_cmd = !set_sn;
    }
    scst_cmd_init_done(cmd, pref_context);
}

/// C scst.h `scst_get_active_cmd_count()` (also reachable here, where the iSCSI driver
/// looks for it).
pub use crate::scst::scst_get_active_cmd_count;

/// C `scst_pre_parse()`: decodes the CDB with the table (the expected values the transport
/// supplies are not trusted) and decides whether the expected SN advances only when the
/// command is done (synchronous handlers, NACA, restricted reordering, ORDERED).
pub fn scst_pre_parse(cmd: &Arc<ScstCmd>) -> i32 {
    let mut d = cmd.d.lock();
    let rc = scst_get_cdb_info_locked(&mut d);
    if rc != 0 {
        if rc > 0 {
            TRACE!(
                TRACE_MINOR,
                "Failed CDB {:02x?}",
                &d.cdb[..d.cdb_len.min(d.cdb.len())]
            );
            let (k, a, q) = SCST_LOAD_SENSE(scst_sense_invalid_field_in_cdb);
            scst_set_cmd_error_locked(&mut d, k, a, q);
            scst_set_cmd_abnormal_done_state_locked(cmd, &mut d);
            return -1;
        }
        TRACE!(
            TRACE_MINOR,
            "Unknown opcode 0x{:02x} for {}. Should you update scst_scsi_op_table?",
            cdb_byte(&d, 0),
            d.devt.as_ref().map_or("?", |t| t.name)
        );
    }
    let exec_sync = d.devt.as_ref().is_some_and(|t| t.exec_sync);
    let (own_order, queue_alg) = d.dev.as_ref().map_or((false, 1), |dev| {
        (
            dev.has_own_order_mgmt.load(SeqCst),
            atomic_read(&dev.queue_alg),
        )
    });
    d.inc_expected_sn_on_done = exec_sync
        || d.cmd_naca
        || (!own_order
            && (queue_alg == i32::from(SCST_QUEUE_ALG_0_RESTRICTED_REORDER)
                || d.queue_type == SCST_CMD_QUEUE_ORDERED));
    TRACE_DBG!(
        "op_name <{}>, direction={} (expected {}, set {}), lba {}, bufflen={}, data_len {}, flags=0x{:x}",
        d.op_name,
        d.data_direction,
        d.expected_data_direction,
        d.expected_values_set,
        d.lba,
        d.bufflen,
        d.data_len,
        d.op_flags
    );
    0
}

/// C `scst_is_allowed_to_mismatch_cmd()`: TEST UNIT READY may come with READ direction (some
/// initiators send it so).
fn scst_is_allowed_to_mismatch_cmd(d: &ScstCmdData) -> bool {
    cdb_byte(d, 0) == TEST_UNIT_READY
        && (d.expected_data_direction == SCST_DATA_READ
            || d.expected_data_direction == SCST_DATA_NONE)
}

/// C `scst_bufflen_eq_expecten_len()` (no T10-PI in the port).
fn scst_bufflen_eq_expecten_len(d: &ScstCmdData) -> bool {
    d.bufflen == d.expected_transfer_len_full
}

/// C `scst_do_internal_parsing()`: the generic parse of the device's type, for commands the
/// core executes itself (`SCST_FULLY_LOCAL_CMD`).
fn scst_do_internal_parsing(cmd: &Arc<ScstCmd>) -> CmdState {
    let type_ = cmd.d.lock().dev.as_ref().map_or(-1, |d| d.type_);
    let rc = match type_ {
        TYPE_DISK => scst_sbc_generic_parse(cmd),
        TYPE_ROM => scst_cdrom_generic_parse(cmd),
        _ => {
            PRINT_ERROR!("Internal parse for type {} not supported", type_);
            let mut d = cmd.d.lock();
            let (k, a, q) = SCST_LOAD_SENSE(scst_sense_hardw_error);
            scst_set_cmd_error_locked(&mut d, k, a, q);
            return SCST_CMD_STATE_DEFAULT;
        }
    };
    let _ = rc;
    SCST_CMD_STATE_DEFAULT
}

/// C `scst_parse_cmd()` (state PARSE): the handler's `parse()`, then the checks of what it
/// decided against the CDB table and the transport's expected values.
fn scst_parse_cmd(cmd: &Arc<ScstCmd>) -> i32 {
    let (devt, orig_bufflen, fully_local, atomic) = {
        let d = cmd.d.lock();
        (
            d.devt.clone(),
            d.bufflen,
            d.op_flags & SCST_FULLY_LOCAL_CMD != 0,
            d.atomic,
        )
    };
    let Some(devt) = devt else {
        PRINT_CRIT_ERROR!("PARSE without a device handler");
        return SCST_CMD_STATE_RES_CONT_NEXT;
    };

    let mut state;
    if !fully_local {
        if !devt.parse_atomic && atomic {
            // Should not happen because of the SCST_TGT_DEV_AFTER_* optimization.
            TRACE!(
                TRACE_MINOR,
                "Dev handler {} parse() needs thread context, rescheduling",
                devt.name
            );
            return SCST_CMD_STATE_RES_NEED_THREAD;
        }
        TRACE_DBG!("Calling dev handler {} parse()", devt.name);
        state = devt.ops.parse(cmd);
        TRACE_DBG!("Dev handler {} parse() returned {:?}", devt.name, state);
        match state {
            SCST_CMD_STATE_NEED_THREAD_CTX => {
                TRACE_DBG!(
                    "Dev handler {} parse() requested thread context, rescheduling",
                    devt.name
                );
                return SCST_CMD_STATE_RES_NEED_THREAD;
            }
            // The command may be gone: the handler continues it itself.
            SCST_CMD_STATE_STOP => return SCST_CMD_STATE_RES_CONT_NEXT,
            _ => {}
        }
    } else {
        state = scst_do_internal_parsing(cmd);
    }

    if state == SCST_CMD_STATE_DEFAULT {
        state = SCST_CMD_STATE_PREPARE_SPACE;
    }

    let mut d = cmd.d.lock();
    let mut res = SCST_CMD_STATE_RES_CONT_SAME;
    // `out_done` of C: finish the command with the sense set.
    let done = 'checks: {
        if d.status != 0 {
            break 'checks false;
        }
        if d.op_flags & SCST_INFO_VALID == 0 {
            PRINT_WARNING!("Refusing unknown opcode {:x}", cdb_byte(&d, 0));
            let (k, a, q) = SCST_LOAD_SENSE(scst_sense_invalid_opcode);
            scst_set_cmd_error_locked(&mut d, k, a, q);
            break 'checks true;
        }
        if d.cdb_len == 0 {
            PRINT_ERROR!(
                "Unable to get CDB length for opcode {}. Returning INVALID OPCODE",
                d.op_name
            );
            let (k, a, q) = SCST_LOAD_SENSE(scst_sense_invalid_opcode);
            scst_set_cmd_error_locked(&mut d, k, a, q);
            break 'checks true;
        }
        if d.op_flags & SCST_UNKNOWN_LENGTH != 0 {
            if d.expected_values_set {
                // The length cannot be decoded from the CDB: use the expected value, limited
                // to something reasonable (15 MB).
                d.bufflen = d.expected_transfer_len_full.min(15 * 1024 * 1024);
                d.data_len = i64::from(d.bufflen);
                if d.data_direction == SCST_DATA_BIDI {
                    d.out_bufflen = d.expected_out_transfer_len.min(15 * 1024 * 1024);
                }
            } else if d.bufflen == 0 {
                PRINT_ERROR!(
                    "Unknown data transfer length for opcode {} (handler {}, target {})",
                    d.op_name,
                    devt.name,
                    cmd.tgtt.name
                );
                let (k, a, q) = SCST_LOAD_SENSE(scst_sense_invalid_message);
                scst_set_cmd_error_locked(&mut d, k, a, q);
                break 'checks true;
            }
            d.op_flags &= !SCST_UNKNOWN_LENGTH;
        }
        if d.cmd_linked {
            PRINT_ERROR!("Linked commands are not supported (opcode {})", d.op_name);
            let off = d.cdb_len - 1;
            scst_set_invalid_field_in_cdb_locked(&mut d, off, SCST_INVAL_FIELD_BIT_OFFS_VALID);
            break 'checks true;
        }
        let hw_error = 'hw: {
            if d.dh_data_buf_alloced && orig_bufflen > d.bufflen {
                PRINT_ERROR!(
                    "Dev handler supplied data buffer (size {}), is less, than required (size {})",
                    d.bufflen,
                    orig_bufflen
                );
                break 'hw true;
            }
            if d.expected_values_set {
                if d.data_direction != d.expected_data_direction
                    && (d.expected_data_direction != SCST_DATA_NONE || d.bufflen != 0)
                    && !scst_is_allowed_to_mismatch_cmd(&d)
                {
                    PRINT_ERROR!(
                        "Expected data direction {} for opcode {} (handler {}, target {}) doesn't match decoded value {}",
                        d.expected_data_direction,
                        d.op_name,
                        devt.name,
                        cmd.tgtt.name,
                        d.data_direction
                    );
                    let (k, a, q) = SCST_LOAD_SENSE(scst_sense_invalid_message);
                    scst_set_cmd_error_locked(&mut d, k, a, q);
                    break 'checks true;
                }
                if !scst_bufflen_eq_expecten_len(&d) {
                    TRACE!(
                        TRACE_MINOR,
                        "Warning: expected transfer length {} for opcode {} doesn't match decoded value {}",
                        d.expected_transfer_len_full,
                        d.op_name,
                        d.bufflen
                    );
                    if d.expected_data_direction & (SCST_DATA_READ | SCST_DATA_WRITE) != 0 {
                        d.resid_possible = true;
                    }
                }
                if d.out_bufflen != d.expected_out_transfer_len {
                    d.resid_possible = true;
                }
            }
            if d.data_direction == SCST_DATA_UNKNOWN {
                PRINT_ERROR!(
                    "Unknown data direction (opcode {}, handler {})",
                    d.op_name,
                    devt.name
                );
                break 'hw true;
            }
            if d.op_flags & SCST_UNKNOWN_LBA != 0 {
                PRINT_ERROR!("Unknown LBA (opcode {}, handler {})", d.op_name, devt.name);
                break 'hw true;
            }
            false
        };
        if hw_error {
            // dev_done() is still called as part of the regular finish.
            let (k, a, q) = SCST_LOAD_SENSE(scst_sense_hardw_error);
            scst_set_cmd_error_locked(&mut d, k, a, q);
            break 'checks true;
        }
        false
    };

    if done {
        scst_set_cmd_abnormal_done_state_locked(cmd, &mut d);
        return SCST_CMD_STATE_RES_CONT_SAME;
    }

    // set_res: by SPC a zero length for a data transfer command is no error; fix the
    // direction.
    if d.bufflen == 0 {
        d.data_direction = SCST_DATA_NONE;
    }
    scst_set_cmd_state(cmd, state);
    if d.resp_data_len == -1 {
        d.resp_data_len = if d.data_direction & SCST_DATA_READ != 0 {
            d.bufflen
        } else {
            0
        };
    }
    // No atomic command on the execution stages; parse() may have changed the direction.
    if d.atomic && d.data_direction & SCST_DATA_WRITE == 0 {
        TRACE_DBG!("Atomic context and non-WRITE data direction, rescheduling");
        res = SCST_CMD_STATE_RES_NEED_THREAD;
    }
    let black_hole = d
        .tgt_dev
        .as_ref()
        .is_some_and(|t| kemu::atomic::test_bit(SCST_TGT_DEV_BLACK_HOLE, &t.tgt_dev_flags));
    drop(d);
    if black_hole {
        let t = {
            let g = scst_mutex.lock();
            cmd.sess
                .acg
                .access(&g)
                .as_ref()
                .map_or(SCST_ACG_BLACK_HOLE_NONE, |a| {
                    atomic_read(&a.acg_black_hole_type)
                })
        };
        let dir = cmd.d.lock().data_direction;
        let abort = match t {
            SCST_ACG_BLACK_HOLE_CMD | SCST_ACG_BLACK_HOLE_ALL => true,
            SCST_ACG_BLACK_HOLE_DATA_CMD | SCST_ACG_BLACK_HOLE_DATA_MCMD => dir != SCST_DATA_NONE,
            _ => false,
        };
        if abort {
            TRACE_MGMT_DBG!(
                "Black hole: aborting cmd (initiator {})",
                cmd.sess.initiator_name
            );
            scst_abort_cmd(cmd, None, false, false);
        }
    }
    res
}

/// C `scst_set_write_len()`: how much write data the driver must receive.
fn scst_set_write_len(d: &mut ScstCmdData) {
    if d.data_direction & SCST_DATA_READ != 0 {
        d.write_len = d.out_bufflen;
    } else {
        d.write_len = d.bufflen;
    }
    if d.resid_possible {
        if d.data_direction & SCST_DATA_READ != 0 {
            d.write_len = d.out_bufflen.min(d.expected_out_transfer_len);
        } else {
            d.write_len = d.bufflen.min(d.expected_transfer_len_full);
        }
    }
}

/// C `scst_prepare_space()` (state PREPARE_SPACE): the data buffer, from the handler's
/// `dev_alloc_data_buf()`, the driver's `tgt_alloc_data_buf()` or the core; then
/// PREPROCESSING_DONE (if the driver asked), RDY_TO_XFER (writes) or TGT_PRE_EXEC.
fn scst_prepare_space(cmd: &Arc<ScstCmd>) -> i32 {
    let (dir, fully_local, devt, atomic, tgt_need) = {
        let d = cmd.d.lock();
        (
            d.data_direction,
            d.op_flags & SCST_FULLY_LOCAL_CMD != 0,
            d.devt.clone(),
            d.atomic,
            d.tgt_need_alloc_data_buf,
        )
    };
    'alloc: {
        if dir == SCST_DATA_NONE {
            break 'alloc;
        }
        if let (false, Some(devt)) = (fully_local, devt.as_ref()) {
            if !devt.dev_alloc_data_buf_atomic && atomic {
                TRACE!(
                    TRACE_MINOR,
                    "Dev handler {} dev_alloc_data_buf() needs thread context, rescheduling",
                    devt.name
                );
                return SCST_CMD_STATE_RES_NEED_THREAD;
            }
            if let Some(state) = devt.ops.dev_alloc_data_buf(cmd) {
                match state {
                    SCST_CMD_STATE_NEED_THREAD_CTX => return SCST_CMD_STATE_RES_NEED_THREAD,
                    SCST_CMD_STATE_STOP => return SCST_CMD_STATE_RES_CONT_NEXT,
                    SCST_CMD_STATE_DEFAULT => {}
                    s => {
                        scst_set_cmd_state(cmd, s);
                        return SCST_CMD_STATE_RES_CONT_SAME;
                    }
                }
            }
        }

        let mut r = 0;
        let mut skip_alloc = false;
        if tgt_need {
            let orig_bufflen = cmd.d.lock().bufflen;
            TRACE_MEM!("Calling tgt {} tgt_alloc_data_buf()", cmd.tgt.tgt_name);
            match cmd.tgtt.ops.tgt_alloc_data_buf(cmd) {
                Some(rr) if rr > 0 => {}
                Some(0) => {
                    let mut d = cmd.d.lock();
                    if !(d.bufflen == 0 && d.tgt_i_sg.is_empty()) {
                        d.tgt_i_data_buf_alloced = true;
                        if orig_bufflen < d.bufflen {
                            PRINT_ERROR!(
                                "Target driver allocated data buffer (size {}), is less, than required (size {})",
                                orig_bufflen,
                                d.bufflen
                            );
                            let e = if d.data_direction & SCST_DATA_WRITE != 0 {
                                scst_sense_write_error
                            } else {
                                scst_sense_read_error
                            };
                            scst_set_cmd_error_locked(&mut d, e.0, e.1, e.2);
                            scst_set_cmd_abnormal_done_state_locked(cmd, &mut d);
                            return SCST_CMD_STATE_RES_CONT_SAME;
                        }
                    }
                }
                Some(rr) => {
                    r = rr;
                    skip_alloc = true;
                }
                None => {}
            }
        }
        if !skip_alloc {
            let mut d = cmd.d.lock();
            if !d.tgt_i_data_buf_alloced && !d.dh_data_buf_alloced {
                r = if scst_alloc_space_locked(&mut d).is_ok() {
                    0
                } else {
                    -1
                };
            } else if d.tgt_i_data_buf_alloced && !d.dh_data_buf_alloced {
                d.sg = std::mem::take(&mut d.tgt_i_sg);
                d.sg_cnt = d.tgt_i_sg_cnt;
                r = 0;
            } else {
                r = 0;
            }
        }
        if r != 0 {
            if atomic {
                TRACE!(
                    TRACE_MEMORY,
                    "Atomic memory allocation failed, rescheduling to the thread"
                );
                return SCST_CMD_STATE_RES_NEED_THREAD;
            }
            let mut d = cmd.d.lock();
            TRACE!(TRACE_OUT_OF_MEM, "Unable to allocate or build requested buffer (size {}), sending BUSY or QUEUE FULL status", d.bufflen);
            scst_set_busy_locked(&mut d, &cmd.sess);
            scst_set_cmd_abnormal_done_state_locked(cmd, &mut d);
            return SCST_CMD_STATE_RES_CONT_SAME;
        }
    }

    // done:
    let mut d = cmd.d.lock();
    if d.preprocessing_only {
        scst_set_cmd_state(cmd, SCST_CMD_STATE_PREPROCESSING_DONE);
        if d.data_direction & SCST_DATA_WRITE != 0 {
            scst_set_write_len(&mut d);
        }
    } else if d.data_direction & SCST_DATA_WRITE != 0 {
        scst_set_cmd_state(cmd, SCST_CMD_STATE_RDY_TO_XFER);
        scst_set_write_len(&mut d);
    } else {
        scst_set_cmd_state(cmd, SCST_CMD_STATE_TGT_PRE_EXEC);
    }
    SCST_CMD_STATE_RES_CONT_SAME
}

/// C `scst_preprocessing_done()` (state PREPROCESSING_DONE): hands the command to the
/// driver's `preprocessing_done()`; it comes back with [`scst_restart_cmd`].
fn scst_preprocessing_done(cmd: &Arc<ScstCmd>) -> i32 {
    cmd.d.lock().preprocessing_only = false;
    scst_set_cmd_state(cmd, SCST_CMD_STATE_PREPROCESSING_DONE_CALLED);
    TRACE_DBG!("Calling preprocessing_done()");
    cmd.tgtt.ops.preprocessing_done(cmd);
    TRACE_DBG!("preprocessing_done() returned");
    SCST_CMD_STATE_RES_CONT_NEXT
}

/// C `scst_restart_cmd()`: the driver finished the preprocessing it asked for
/// (`SCST_PREPROCESS_STATUS_*`); the command continues in `pref_context`. See
/// [`scst_cmd_init_done`] for the serialisation rule.
pub fn scst_restart_cmd(cmd: &Arc<ScstCmd>, status: i32, pref_context: ScstExecContext) {
    let mut pref_context = pref_context;
    TRACE_DBG!("Preferred context: {:?} (status {})", pref_context, status);
    let mut d = cmd.d.lock();
    match status {
        SCST_PREPROCESS_STATUS_SUCCESS => {
            if d.tgt_dev.is_none() {
                scst_set_cmd_state(cmd, SCST_CMD_STATE_PRE_XMIT_RESP);
                pref_context = SCST_CONTEXT_THREAD;
            } else {
                if d.data_direction & SCST_DATA_WRITE != 0 {
                    scst_set_cmd_state(cmd, SCST_CMD_STATE_RDY_TO_XFER);
                } else {
                    scst_set_cmd_state(cmd, SCST_CMD_STATE_TGT_PRE_EXEC);
                }
                if d.set_sn_on_restart_cmd {
                    drop(d);
                    scst_cmd_set_sn(cmd);
                    d = cmd.d.lock();
                }
                // Small context optimization.
                if pref_context == SCST_CONTEXT_TASKLET
                    || pref_context == SCST_CONTEXT_DIRECT_ATOMIC
                    || (pref_context == SCST_CONTEXT_SAME && d.atomic)
                {
                    pref_context = SCST_CONTEXT_THREAD;
                }
            }
        }
        SCST_PREPROCESS_STATUS_ERROR_SENSE_SET => {
            scst_set_cmd_abnormal_done_state_locked(cmd, &mut d);
            pref_context = SCST_CONTEXT_THREAD;
        }
        SCST_PREPROCESS_STATUS_ERROR_FATAL | SCST_PREPROCESS_STATUS_ERROR => {
            if status == SCST_PREPROCESS_STATUS_ERROR_FATAL {
                set_bit(SCST_CMD_ABORTED, &cmd.cmd_flags);
                set_bit(SCST_CMD_NO_RESP, &cmd.cmd_flags);
                d.delivery_status = SCST_CMD_DELIVERY_FAILED;
            }
            if d.sense.is_some() {
                let (k, a, q) = SCST_LOAD_SENSE(scst_sense_hardw_error);
                scst_set_cmd_error_locked(&mut d, k, a, q);
            }
            scst_set_cmd_abnormal_done_state_locked(cmd, &mut d);
            pref_context = SCST_CONTEXT_THREAD;
        }
        _ => {
            PRINT_ERROR!("scst_restart_cmd() received unknown status {:x}", status);
            scst_set_cmd_abnormal_done_state_locked(cmd, &mut d);
            pref_context = SCST_CONTEXT_THREAD;
        }
    }
    drop(d);
    scst_process_redirect_cmd(cmd, pref_context, true);
}

/// C `scst_rdy_to_xfer()` (state RDY_TO_XFER): asks the driver for the write data
/// (`rdy_to_xfer()`), the command waits in DATA_WAIT for [`scst_rx_data`]; a driver without
/// the callback has the data already: TGT_PRE_EXEC.
fn scst_rdy_to_xfer(cmd: &Arc<ScstCmd>) -> i32 {
    if test_bit(SCST_CMD_ABORTED, &cmd.cmd_flags) {
        TRACE_MGMT_DBG!("ABORTED set, aborting cmd");
        scst_set_cmd_abnormal_done_state(cmd);
        return SCST_CMD_STATE_RES_CONT_SAME;
    }
    let (atomic, internal) = {
        let d = cmd.d.lock();
        (d.atomic, d.internal)
    };
    let tgtt = &cmd.tgtt;
    if !tgtt.ops.has_rdy_to_xfer() || internal {
        scst_set_cmd_state(cmd, SCST_CMD_STATE_TGT_PRE_EXEC);
        // No atomic command on the execution stages.
        return if atomic {
            TRACE_DBG!("Atomic context and no rdy_to_xfer(), rescheduling");
            SCST_CMD_STATE_RES_NEED_THREAD
        } else {
            SCST_CMD_STATE_RES_CONT_SAME
        };
    }
    if !tgtt.rdy_to_xfer_atomic && atomic {
        // Should not happen because of the SCST_TGT_DEV_AFTER_* optimization.
        TRACE_DBG!(
            "Target driver {} rdy_to_xfer() needs thread context, rescheduling",
            tgtt.name
        );
        return SCST_CMD_STATE_RES_NEED_THREAD;
    }
    scst_set_cmd_state(cmd, SCST_CMD_STATE_DATA_WAIT);
    let rc = tgtt.ops.rdy_to_xfer(cmd).unwrap_or_else(|| {
        PRINT_ERROR!(
            "Target driver {} has_rdy_to_xfer() but no rdy_to_xfer()",
            tgtt.name
        );
        SCST_TGT_RES_FATAL_ERROR
    });
    if rc == SCST_TGT_RES_SUCCESS {
        return SCST_CMD_STATE_RES_CONT_NEXT;
    }
    // Restore the previous state.
    scst_set_cmd_state(cmd, SCST_CMD_STATE_RDY_TO_XFER);
    match rc {
        SCST_TGT_RES_QUEUE_FULL => {
            crate::scst_lib::scst_queue_retry_cmd(cmd);
            SCST_CMD_STATE_RES_CONT_NEXT
        }
        SCST_TGT_RES_NEED_THREAD_CTX => SCST_CMD_STATE_RES_NEED_THREAD,
        _ => {
            if rc == SCST_TGT_RES_FATAL_ERROR {
                PRINT_ERROR!(
                    "Target driver {} rdy_to_xfer() returned fatal error",
                    tgtt.name
                );
            } else {
                PRINT_ERROR!(
                    "Target driver {} rdy_to_xfer() returned invalid value {}",
                    tgtt.name,
                    rc
                );
            }
            let mut d = cmd.d.lock();
            let (k, a, q) = SCST_LOAD_SENSE(scst_sense_write_error);
            scst_set_cmd_error_locked(&mut d, k, a, q);
            scst_set_cmd_abnormal_done_state_locked(cmd, &mut d);
            SCST_CMD_STATE_RES_CONT_SAME
        }
    }
}

/// C `scst_process_redirect_cmd()`: continues the command in `context` (SAME resolves to
/// DIRECT or DIRECT_ATOMIC by the command's atomicity); with `check_retries` the target's
/// QUEUE FULL retry list gets a chance first.
fn scst_process_redirect_cmd(cmd: &Arc<ScstCmd>, context: ScstExecContext, check_retries: bool) {
    if check_retries {
        crate::scst_lib::scst_check_retries(&cmd.tgt);
    }
    let mut context = context;
    if context == SCST_CONTEXT_SAME {
        context = if scst_cmd_atomic(cmd) {
            SCST_CONTEXT_DIRECT_ATOMIC
        } else {
            SCST_CONTEXT_DIRECT
        };
    }
    match context {
        SCST_CONTEXT_DIRECT_ATOMIC => scst_process_active_cmd(cmd, true),
        SCST_CONTEXT_DIRECT => scst_process_active_cmd(cmd, false),
        SCST_CONTEXT_TASKLET => scst_schedule_tasklet(cmd),
        c => {
            if c != SCST_CONTEXT_THREAD {
                PRINT_ERROR!("Context {:?} is unknown, using the thread one", c);
            }
            let (thr, p, hq) = {
                let d = cmd.d.lock();
                (
                    d.cmd_thr.clone(),
                    d.cmd_threads.clone(),
                    d.queue_type == SCST_CMD_QUEUE_HEAD_OF_QUEUE,
                )
            };
            match thr {
                Some(thr) => {
                    TRACE_DBG!("Adding cmd to active cmd list of thread");
                    let mut l = thr.thr_cmd_list_lock.lock_irqsave();
                    let h = if hq {
                        l.add(cmd.clone())
                    } else {
                        l.add_tail(cmd.clone())
                    };
                    cmd.cmd_list_entry.set(h);
                    drop(l);
                    // C wakes the thread itself (wake_up_process); it sleeps on the pool's
                    // queue, which is what wakes it here.
                    wake_up_all(&p.cmd_list_waitQ);
                }
                None => scst_add_to_active_cmd_list(cmd),
            }
        }
    }
}

/// C `scst_rx_data()`: the driver received the write data (`SCST_RX_STATUS_*`); the command
/// continues in `pref_context` (never in atomic context: execution follows).
pub fn scst_rx_data(cmd: &Arc<ScstCmd>, status: i32, pref_context: ScstExecContext) {
    let mut pref_context = pref_context;
    TRACE_DBG!("Preferred context: {:?} (status {})", pref_context, status);
    let mut d = cmd.d.lock();
    match status {
        SCST_RX_STATUS_SUCCESS => {
            scst_set_cmd_state(cmd, SCST_CMD_STATE_TGT_PRE_EXEC);
            // The execution phase must run in thread context: I/O may not be started from
            // atomic context.
            if pref_context == SCST_CONTEXT_TASKLET
                || pref_context == SCST_CONTEXT_DIRECT_ATOMIC
                || (pref_context == SCST_CONTEXT_SAME && d.atomic)
            {
                pref_context = SCST_CONTEXT_THREAD;
            }
        }
        SCST_RX_STATUS_ERROR_SENSE_SET => {
            if !d.write_not_received_set {
                scst_cmd_set_write_no_data_received_locked(&mut d);
            }
            scst_set_cmd_abnormal_done_state_locked(cmd, &mut d);
            pref_context = SCST_CONTEXT_THREAD;
        }
        SCST_RX_STATUS_ERROR_FATAL | SCST_RX_STATUS_ERROR => {
            if status == SCST_RX_STATUS_ERROR_FATAL {
                set_bit(SCST_CMD_ABORTED, &cmd.cmd_flags);
                set_bit(SCST_CMD_NO_RESP, &cmd.cmd_flags);
                d.delivery_status = SCST_CMD_DELIVERY_FAILED;
            }
            if !d.write_not_received_set {
                scst_cmd_set_write_no_data_received_locked(&mut d);
            }
            let (k, a, q) = SCST_LOAD_SENSE(scst_sense_hardw_error);
            scst_set_cmd_error_locked(&mut d, k, a, q);
            scst_set_cmd_abnormal_done_state_locked(cmd, &mut d);
            pref_context = SCST_CONTEXT_THREAD;
        }
        _ => {
            PRINT_ERROR!("scst_rx_data() received unknown status {:x}", status);
            if !d.write_not_received_set {
                scst_cmd_set_write_no_data_received_locked(&mut d);
            }
            scst_set_cmd_abnormal_done_state_locked(cmd, &mut d);
            pref_context = SCST_CONTEXT_THREAD;
        }
    }
    drop(d);
    scst_process_redirect_cmd(cmd, pref_context, true);
}

/// C `scst_tgt_pre_exec()` (state TGT_PRE_EXEC): refuses a partial write on a block
/// boundary mismatch, then the driver's `pre_exec()`; next EXEC_CHECK_SN.
fn scst_tgt_pre_exec(cmd: &Arc<ScstCmd>) -> i32 {
    let internal = {
        let mut d = cmd.d.lock();
        if d.resid_possible && d.data_direction & SCST_DATA_WRITE != 0 {
            let remainder = if d.data_direction & SCST_DATA_READ != 0 {
                d.write_len != d.out_bufflen
            } else {
                d.write_len != d.bufflen
            };
            if remainder {
                let block_shift = d.dev.as_ref().map_or(9, |x| atomic_read(&x.block_shift));
                let mask = (1i32 << block_shift) - 1;
                if d.op_flags & SCST_TRANSFER_LEN_TYPE_FIXED != 0 && d.write_len & mask != 0 {
                    // Safer than zeroing the rest: an initiator that thinks the device has
                    // 512-byte blocks while it has 4K ones must not corrupt data.
                    let (k, a, q) =
                        SCST_LOAD_SENSE(scst_sense_invalid_field_in_command_information_unit);
                    scst_set_cmd_error_locked(&mut d, k, a, q);
                    scst_set_cmd_abnormal_done_state_locked(cmd, &mut d);
                    return SCST_CMD_STATE_RES_CONT_SAME;
                }
            }
        }
        scst_set_cmd_state(cmd, SCST_CMD_STATE_EXEC_CHECK_SN);
        d.internal
    };
    if internal {
        return SCST_CMD_STATE_RES_CONT_SAME;
    }
    let Some(rc) = cmd.tgtt.ops.pre_exec(cmd) else {
        return SCST_CMD_STATE_RES_CONT_SAME;
    };
    if rc != SCST_PREPROCESS_STATUS_SUCCESS {
        let mut d = cmd.d.lock();
        match rc {
            SCST_PREPROCESS_STATUS_ERROR_SENSE_SET => {}
            SCST_PREPROCESS_STATUS_ERROR_FATAL | SCST_PREPROCESS_STATUS_ERROR => {
                if rc == SCST_PREPROCESS_STATUS_ERROR_FATAL {
                    set_bit(SCST_CMD_ABORTED, &cmd.cmd_flags);
                    set_bit(SCST_CMD_NO_RESP, &cmd.cmd_flags);
                    d.delivery_status = SCST_CMD_DELIVERY_FAILED;
                }
                let (k, a, q) = SCST_LOAD_SENSE(scst_sense_hardw_error);
                scst_set_cmd_error_locked(&mut d, k, a, q);
            }
            _ => {
                PRINT_CRIT_ERROR!("pre_exec() returned invalid value {}", rc);
                let (k, a, q) = SCST_LOAD_SENSE(scst_sense_hardw_error);
                scst_set_cmd_error_locked(&mut d, k, a, q);
            }
        }
        scst_set_cmd_abnormal_done_state_locked(cmd, &mut d);
    }
    SCST_CMD_STATE_RES_CONT_SAME
}

/// C `scst_optimize_post_exec_context()`: atomic contexts become the thread one unless the
/// rest of the path may run atomically.
fn scst_optimize_post_exec_context(cmd: &ScstCmd, context: ScstExecContext) -> ScstExecContext {
    let d = cmd.d.lock();
    if ((context == SCST_CONTEXT_SAME && d.atomic)
        || context == SCST_CONTEXT_TASKLET
        || context == SCST_CONTEXT_DIRECT_ATOMIC)
        && !d
            .tgt_dev
            .as_ref()
            .is_some_and(|t| t.tgt_dev_after_exec_atomic)
    {
        return SCST_CONTEXT_THREAD;
    }
    context
}

/// C `scst_cmd_done_local()`: what `cmd->scst_cmd_done` points to once the command is sent
/// for execution: execution finished; `next_state` (DEFAULT: PRE_DEV_DONE) is next, in
/// `pref_context`.
fn scst_cmd_done_local(cmd: &Arc<ScstCmd>, next_state: CmdState, pref_context: ScstExecContext) {
    let next_state = if next_state == SCST_CMD_STATE_DEFAULT {
        SCST_CMD_STATE_PRE_DEV_DONE
    } else {
        next_state
    };
    scst_set_cmd_state(cmd, next_state);
    let pref_context = scst_optimize_post_exec_context(cmd, pref_context);
    scst_process_redirect_cmd(cmd, pref_context, false);
}

/// C `cmd->scst_cmd_done(cmd, next_state, pref_context)`: how a handler reports the end of
/// `exec()` (synchronous handlers with `SCST_CONTEXT_SAME`, which continues the command on
/// the handler's thread, inside `exec()`).
pub fn scst_cmd_done(cmd: &Arc<ScstCmd>, next_state: CmdState, pref_context: ScstExecContext) {
    let f = cmd.d.lock().scst_cmd_done;
    match f {
        Some(f) => f(cmd, next_state, pref_context),
        None => {
            PRINT_CRIT_ERROR!("scst_cmd_done() for a command not sent for execution");
        }
    }
}

/// C `scst_report_luns_local()`: REPORT LUNS built by the core from the session's LUNs
/// (SELECT REPORT 0 or 2 only), 8 bytes per LUN in the group's addressing method.
fn scst_report_luns_local(cmd: &Arc<ScstCmd>) -> i32 {
    // C reads `sess->acg->addr_method` without a lock (the group of a live session does not
    // change in procfs builds); the port reaches the group through the command's nexus,
    // which needs no lock either.
    let addr_method = cmd
        .d
        .lock()
        .tgt_dev
        .as_ref()
        .and_then(|t| t.acg_dev.acg.upgrade())
        .map_or(SCST_LUN_ADDR_METHOD_PERIPHERAL, |a| a.addr_method);
    {
        let mut d = cmd.d.lock();
        d.status = 0;
        d.msg_status = 0;
        d.host_status = DID_OK;
        d.driver_status = 0;

        let select = cdb_byte(&d, 2);
        if select != 0 && select != 2 {
            TRACE!(
                TRACE_MINOR,
                "Unsupported SELECT REPORT value {:x} in REPORT LUNS command",
                select
            );
            scst_set_invalid_field_in_cdb_locked(&mut d, 2, 0);
        } else {
            // The command holds activity, so the session's LUN list cannot change under it.
            let luns: Vec<u64> = cmd
                .sess
                .sess_tgt_dev_list
                .read()
                .iter()
                .flat_map(|l| l.iter().map(|(_, t)| t.lun).collect::<Vec<_>>())
                .collect();
            let r = scst_with_buf_full_sense_locked(&mut d, |buffer| {
                if buffer.len() < 16 {
                    return None;
                }
                buffer.fill(0);
                let mut offs = 8;
                for &lun in &luns {
                    if buffer.len() - offs < 8 {
                        break;
                    }
                    buffer[offs..offs + 8].copy_from_slice(&scst_pack_lun(lun, addr_method));
                    offs += 8;
                }
                let dev_cnt = u32::try_from(luns.len() * 8).unwrap_or(u32::MAX);
                buffer[..4].copy_from_slice(&dev_cnt.to_be_bytes());
                Some(dev_cnt)
            });
            match r {
                Some(Some(dev_cnt)) => {
                    let len = i32::try_from(dev_cnt).unwrap_or(i32::MAX).saturating_add(8);
                    if len < d.resp_data_len {
                        scst_set_resp_data_len_locked(&mut d, len);
                    }
                }
                Some(None) => {
                    scst_set_invalid_field_in_cdb_locked(&mut d, 6, 0);
                }
                None => {
                    // No buffer (allocation length below 16 gives none): as C's
                    // scst_get_buf_full_sense() failing, the command completes as it is.
                    if d.bufflen != 0 {
                        let (k, a, q) = SCST_LOAD_SENSE(scst_sense_hardw_error);
                        scst_set_cmd_error_locked(&mut d, k, a, q);
                    } else {
                        scst_set_invalid_field_in_cdb_locked(&mut d, 6, 0);
                    }
                }
            }
        }
        d.completed = true;
    }
    // Clear a left REPORTED LUNS DATA HAS CHANGED unit attention, if any: this answer is the
    // new data. The command keeps activity from being suspended, so the session's nexus list
    // may be read without more protection.
    let tgt_devs: Vec<_> = cmd
        .sess
        .sess_tgt_dev_list
        .read()
        .iter()
        .flat_map(|l| l.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>())
        .collect();
    for tgt_dev in &tgt_devs {
        let mut l = tgt_dev.tgt_dev_lock.lock_bh();
        let (k, a, q) = SCST_LOAD_SENSE(scst_sense_reported_luns_data_changed);
        let found = l
            .UA_list
            .iter()
            .find(|(_, ua)| {
                scst_analyze_sense(
                    &ua.UA_sense_buffer[..ua.UA_valid_sense_len],
                    SCST_SENSE_ALL_VALID,
                    k,
                    a,
                    q,
                )
            })
            .map(|(h, _)| h);
        if let Some(h) = found {
            TRACE_DBG!("Freeing not needed REPORTED LUNS DATA CHANGED UA");
            scst_tgt_dev_del_free_UA(tgt_dev, &mut l, h);
        }
    }
    scst_cmd_done(cmd, SCST_CMD_STATE_DEFAULT, SCST_CONTEXT_SAME);
    SCST_EXEC_COMPLETED
}

/// C `scst_request_sense_local()`: REQUEST SENSE answered from the sense the nexus saved, or
/// else from its first pending unit attention (converted to the format the CDB asks for);
/// without either the handler answers.
fn scst_request_sense_local(cmd: &Arc<ScstCmd>) -> i32 {
    let Some(tgt_dev) = cmd.d.lock().tgt_dev.clone() else {
        return SCST_EXEC_NOT_COMPLETED;
    };
    {
        let mut d = cmd.d.lock();
        d.status = 0;
        d.msg_status = 0;
        d.host_status = DID_OK;
        d.driver_status = 0;
        let mut l = tgt_dev.tgt_dev_lock.lock_bh();
        if l.tgt_dev_valid_sense_len == 0 {
            if test_bit(SCST_TGT_DEV_UA_PENDING, &tgt_dev.tgt_dev_flags) {
                // Without saved sense, a pending unit attention is the answer.
                drop(l);
                let mut buf = [0u8; SCST_SENSE_BUFFERSIZE];
                let mut size = 0usize;
                let rc = scst_set_pending_UA_locked(cmd, &mut d, Some((&mut buf, &mut size)));
                l = tgt_dev.tgt_dev_lock.lock_bh();
                if rc == 0 {
                    if l.tgt_dev_valid_sense_len == 0 {
                        l.tgt_dev_valid_sense_len = size;
                        l.tgt_dev_sense[..size].copy_from_slice(&buf[..size]);
                    } else {
                        // Some UA data may be lost here if the UA is bigger than the saved
                        // sense buffer.
                        drop(l);
                        scst_requeue_ua_locked(&cmd.sess, &d, &buf[..size]);
                        l = tgt_dev.tgt_dev_lock.lock_bh();
                    }
                }
            }
            if l.tgt_dev_valid_sense_len == 0 {
                // Nothing saved: the handler answers (NO SENSE).
                return SCST_EXEC_NOT_COMPLETED;
            }
        }
        TRACE!(TRACE_SCSI, "{}: Returning stored/UA sense", d.op_name);
        let desc = cdb_byte(&d, 1) & 1 != 0;
        let saved = l.tgt_dev_sense;
        let saved_len = l.tgt_dev_valid_sense_len;
        l.tgt_dev_valid_sense_len = 0;
        drop(l);
        let rc = scst_sense_response_code(&saved);
        let sl = scst_with_buf_full_sense_locked(&mut d, |buffer| {
            buffer.fill(0);
            if (rc == 0x70 || rc == 0x71) && desc {
                PRINT_WARNING!("Fixed format of the saved sense, but descriptor format requested. Conversion will truncate data");
                let n = buffer.len().min(SCST_STANDARD_SENSE_LEN);
                scst_set_sense(&mut buffer[..n], true, saved[2], saved[12], saved[13])
            } else if (rc == 0x72 || rc == 0x73) && !desc {
                PRINT_WARNING!("Descriptor format of the saved sense, but fixed format requested. Conversion will truncate data");
                let n = buffer.len().min(SCST_STANDARD_SENSE_LEN);
                scst_set_sense(&mut buffer[..n], false, saved[1], saved[2], saved[3])
            } else {
                let n = buffer.len().min(saved_len);
                buffer[..n].copy_from_slice(&saved[..n]);
                n
            }
        });
        if let Some(sl) = sl {
            scst_set_resp_data_len_locked(&mut d, i32::try_from(sl).unwrap_or(0));
        }
        d.completed = true;
    }
    scst_cmd_done(cmd, SCST_CMD_STATE_DEFAULT, SCST_CONTEXT_SAME);
    SCST_EXEC_COMPLETED
}

/// C: `scst_get_buf_full_sense()`, the copy of `buf[..min(length, resp_len)]` into the data
/// buffer, `scst_put_buf_full()` and the `scst_set_resp_data_len()` that follows it, as the
/// MAINTENANCE IN answers do them. A command without buffer is left as it is (C: length 0),
/// or gets HARDWARE ERROR when it has a length but no buffer (C: the allocation failed).
fn scst_copy_local_resp_locked(d: &mut ScstCmdData, buf: &[u8]) {
    let copied = scst_with_buf_full_sense_locked(d, |address| {
        let length = address.len().min(buf.len());
        address[..length].copy_from_slice(&buf[..length]);
        length
    });
    match copied {
        Some(length) => {
            let length = i32::try_from(length).unwrap_or(i32::MAX);
            if length < d.resp_data_len {
                scst_set_resp_data_len_locked(d, length);
            }
        }
        None if d.bufflen != 0 => {
            let (k, a, q) = SCST_LOAD_SENSE(scst_sense_hardw_error);
            scst_set_cmd_error_locked(d, k, a, q);
        }
        None => {}
    }
}

/// C `scst_report_supported_tm_fns()`: REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS. ATS,
/// ATSS, CACAS, CTSS, LURS; with REPTD (byte 2 bit 7) the 16-byte extended format: TMFTMOV,
/// ATTS and CACATS with a long timeout of 30 s and a short one of 15 s (in 100 ms units).
fn scst_report_supported_tm_fns(cmd: &Arc<ScstCmd>) -> i32 {
    {
        let mut d = cmd.d.lock();
        let mut buf = [0u8; 16];
        buf[0] = 0xF8; // ATS, ATSS, CACAS, CTSS, LURS
        buf[1] = 0;
        let resp_len = if cdb_byte(&d, 2) & 0x80 == 0 {
            4
        } else {
            buf[3] = 0x0C;
            buf[4] = 1; // TMFTMOV
            buf[6] = 0xA0; // ATTS, CACATS
            buf[8..12].copy_from_slice(&300u32.to_be_bytes()); // long timeout - 30 sec.
            buf[12..16].copy_from_slice(&150u32.to_be_bytes()); // short timeout - 15 sec.
            16
        };
        TRACE_DBG!("bufflen {}, resp_len {}", d.bufflen, resp_len);
        scst_copy_local_resp_locked(&mut d, &buf[..resp_len]);
        d.completed = true;
    }
    // Report the result.
    scst_cmd_done(cmd, SCST_CMD_STATE_DEFAULT, SCST_CONTEXT_SAME);
    SCST_EXEC_COMPLETED
}

/// The REPORT SUPPORTED OPERATION CODES parameter data of C `scst_report_supported_opcodes()`
/// for the reporting options `options` (0: all commands; 1: one opcode without service
/// action; 2: one opcode with service action `req_sa`), with the command timeouts
/// descriptors when `rctd`. `None` means INVALID FIELD IN CDB (byte 2, bit 0): an
/// unsupported reporting option, or a requested opcode whose service action validity does
/// not match the option. An opcode (with service action) that is not supported gives the
/// 4-byte answer with SUPPORT 0.
pub fn scst_build_supported_opcodes(
    supp_opcodes: &[&ScstOpcodeDescriptor],
    options: u8,
    req_opcode: u8,
    req_sa: u16,
    rctd: bool,
) -> Option<Vec<u8>> {
    let mut op: Option<&ScstOpcodeDescriptor> = None;
    let buf_len = match options {
        0 => {
            // All.
            4 + supp_opcodes.len() * if rctd { 20 } else { 8 }
        }
        1 | 2 => {
            let mut buf_len = 0;
            for &o in supp_opcodes {
                if req_opcode != o.od_opcode {
                    continue;
                }
                if options == 1 && o.od_serv_action_valid {
                    TRACE!(
                        TRACE_MINOR,
                        "Requested opcode {:x} with unexpected service action",
                        req_opcode
                    );
                    return None;
                }
                if options == 2 {
                    if !o.od_serv_action_valid {
                        TRACE!(
                            TRACE_MINOR,
                            "Requested opcode {:x} without expected service action",
                            req_opcode
                        );
                        return None;
                    }
                    if req_sa != o.od_serv_action {
                        continue;
                    }
                }
                op = Some(o);
                buf_len = 4 + usize::from(o.od_cdb_size) + if rctd { 12 } else { 0 };
                break;
            }
            if op.is_none() {
                TRACE!(
                    TRACE_MINOR,
                    "Requested opcode {:x}/{:x} not found",
                    req_opcode,
                    req_sa
                );
                buf_len = 4;
            }
            buf_len
        }
        _ => {
            PRINT_ERROR!(
                "REPORT SUPPORTED OPERATION CODES: REPORTING OPTIONS {:x} not supported",
                options
            );
            return None;
        }
    };

    let mut buf = vec![0u8; buf_len];
    let put_be32 = |b: &mut [u8], v: u32| b[..4].copy_from_slice(&v.to_be_bytes());
    if options == 0 {
        put_be32(
            &mut buf[0..],
            u32::try_from(buf_len - 4).unwrap_or(u32::MAX),
        );
        let mut offs = 4;
        for o in supp_opcodes {
            buf[offs] = o.od_opcode;
            if o.od_serv_action_valid {
                buf[offs + 2..offs + 4].copy_from_slice(&o.od_serv_action.to_be_bytes());
                buf[offs + 5] |= 1; // SERVACTV
            }
            buf[offs + 6..offs + 8].copy_from_slice(&o.od_cdb_size.to_be_bytes());
            offs += 8;
            if rctd {
                buf[offs - 8 + 5] |= 2; // CTDP
                buf[offs + 1] = 0xA;
                buf[offs + 3] = o.od_comm_specific_timeout;
                put_be32(&mut buf[offs + 4..], o.od_nominal_timeout);
                put_be32(&mut buf[offs + 8..], o.od_recommended_timeout);
                offs += 12;
            }
        }
    } else if let Some(o) = op {
        let n = usize::from(o.od_cdb_size);
        buf[1] |= o.od_support;
        buf[2..4].copy_from_slice(&o.od_cdb_size.to_be_bytes());
        // C copies od_cdb_size bytes of the usage data; a shorter slice leaves zeros.
        let bits = &o.od_cdb_usage_bits[..o.od_cdb_usage_bits.len().min(n)];
        buf[4..4 + bits.len()].copy_from_slice(bits);
        if rctd {
            buf[1] |= 0x80; // CTDP
            let offs = 4 + n;
            buf[offs + 1] = 0xA;
            buf[offs + 3] = o.od_comm_specific_timeout;
            put_be32(&mut buf[offs + 4..], o.od_nominal_timeout);
            put_be32(&mut buf[offs + 8..], o.od_recommended_timeout);
        }
    }
    Some(buf)
}

/// C `scst_report_supported_opcodes()`: REPORT SUPPORTED OPERATION CODES from the
/// handler's `get_supported_opcodes()` list (the parse made the command local only when the
/// handler has one): RCTD is byte 2 bit 7, REPORTING OPTIONS byte 2 bits 0–2, the requested
/// opcode byte 3 and service action bytes 4–5. The answer is cut to the allocation length.
fn scst_report_supported_opcodes(cmd: &Arc<ScstCmd>) -> i32 {
    let devt = cmd.d.lock().devt.clone();
    // get_cdb_info_min() ensures that get_supported_opcodes is not NULL here.
    let get = devt.as_ref().and_then(|t| t.ops.get_supported_opcodes());
    let supp_opcodes = match get {
        Some(f) => f(cmd).ok(),
        None => None,
    };
    {
        let mut d = cmd.d.lock();
        if let Some(supp_opcodes) = supp_opcodes {
            let rctd = cdb_byte(&d, 2) >> 7 != 0;
            let options = cdb_byte(&d, 2) & 7;
            let req_opcode = cdb_byte(&d, 3);
            let req_sa = u16::from_be_bytes([cdb_byte(&d, 4), cdb_byte(&d, 5)]);
            TRACE_DBG!(
                "options {}, req_opcode {:x}, req_sa {:x}, rctd {} (dev {}, initiator {})",
                options,
                req_opcode,
                req_sa,
                rctd,
                d.dev.as_ref().map_or("?", |x| x.virt_name.as_str()),
                cmd.sess.initiator_name
            );
            match scst_build_supported_opcodes(supp_opcodes, options, req_opcode, req_sa, rctd) {
                Some(buf) => scst_copy_local_resp_locked(&mut d, &buf),
                None => {
                    scst_set_invalid_field_in_cdb_locked(
                        &mut d,
                        2,
                        SCST_INVAL_FIELD_BIT_OFFS_VALID,
                    );
                }
            }
        }
        d.completed = true;
    }
    // Report the result.
    scst_cmd_done(cmd, SCST_CMD_STATE_DEFAULT, SCST_CONTEXT_SAME);
    SCST_EXEC_COMPLETED
}

/// C `scst_maintenance_in()`: the MAINTENANCE IN service actions the core answers; the
/// others go to the handler.
fn scst_maintenance_in(cmd: &Arc<ScstCmd>) -> i32 {
    let sa = cdb_byte(&cmd.d.lock(), 1) & 0x1f;
    match sa {
        MI_REPORT_SUPPORTED_TASK_MANAGEMENT_FUNCTIONS => scst_report_supported_tm_fns(cmd),
        MI_REPORT_SUPPORTED_OPERATION_CODES => scst_report_supported_opcodes(cmd),
        _ => SCST_EXEC_NOT_COMPLETED,
    }
}

/// The part of C `scst_reserve_local()` / `scst_release_local()` for a device with
/// persistent-reservation registrants: the SPC-2 command completes GOOD without effect in the
/// Compatible Reservation Handling cases (`scst_pr_crh_case()`), else with RESERVATION
/// CONFLICT; true when that happened (the caller then reports the result).
fn scst_spc2_cmd_under_pr(cmd: &Arc<ScstCmd>, tgt_dev: &Arc<ScstTgtDev>) -> bool {
    let pr = tgt_dev.dev.dev_pr_mutex.lock();
    if pr.dev_registrants_list.is_empty() {
        return false;
    }
    let crh = crate::scst_pres::scst_pr_crh_case(tgt_dev, &pr);
    drop(pr);
    if crh {
        cmd.d.lock().completed = true;
    } else {
        scst_set_cmd_error_status_locked(&mut cmd.d.lock(), SAM_STAT_RESERVATION_CONFLICT);
    }
    true
}

/// C `scst_reserve_local()`: SPC-2 RESERVE(6)/(10): the session becomes the holder (the
/// handler then executes the command); another holder, or a persistent reservation outside
/// the Compatible Reservation Handling cases, is a RESERVATION CONFLICT.
fn scst_reserve_local(cmd: &Arc<ScstCmd>) -> i32 {
    let (op, b2, lun, tgt_dev) = {
        let d = cmd.d.lock();
        (cdb_byte(&d, 0), cdb_byte(&d, 2), d.lun, d.tgt_dev.clone())
    };
    let Some(tgt_dev) = tgt_dev else {
        return SCST_EXEC_NOT_COMPLETED;
    };
    'done: {
        if op == RESERVE_10 && (b2 & SCST_RES_3RDPTY) != 0 {
            PRINT_ERROR!("RESERVE_10: 3rdPty RESERVE not implemented (lun={})", lun);
            scst_set_invalid_field_in_cdb_locked(
                &mut cmd.d.lock(),
                2,
                SCST_INVAL_FIELD_BIT_OFFS_VALID | 4,
            );
            break 'done;
        }
        let dev = &tgt_dev.dev;
        // There's no need to block the device, even for SCST_TST_0_SINGLE_TASK_SET, or
        // otherwise protect reservation changes: (1) SPC-2 reservation changes are atomic,
        // without the invalid intermediate states persistent reservations have; (2) ordering
        // regular commands around RESERVE is the initiators' duty (ORDERED attribute, queue
        // draining, …), and with a single task set no target driver can guarantee even the
        // delivery order of ORDERED commands, which initiators know.
        if scst_spc2_cmd_under_pr(cmd, &tgt_dev) {
            break 'done;
        }
        let mut r = dev.reserved_by.lock_bh();
        if scst_is_not_reservation_holder_locked(&r, &cmd.sess) {
            drop(r);
            scst_set_cmd_error_status_locked(&mut cmd.d.lock(), SAM_STAT_RESERVATION_CONFLICT);
            break 'done;
        }
        scst_reserve_dev(&mut r, &cmd.sess);
        return SCST_EXEC_NOT_COMPLETED;
    }
    // Report the result.
    scst_cmd_done(cmd, SCST_CMD_STATE_DEFAULT, SCST_CONTEXT_SAME);
    SCST_EXEC_COMPLETED
}

/// C `scst_release_local()`: SPC-2 RELEASE(6)/(10): the holder's reservation goes (the
/// handler then executes the command); RELEASE from another session is GOOD and changes
/// nothing.
fn scst_release_local(cmd: &Arc<ScstCmd>) -> i32 {
    let Some(tgt_dev) = cmd.d.lock().tgt_dev.clone() else {
        return SCST_EXEC_NOT_COMPLETED;
    };
    let dev = &tgt_dev.dev;
    // See scst_reserve_local() for why no device blocking or other protection is needed.
    if scst_spc2_cmd_under_pr(cmd, &tgt_dev) {
        scst_cmd_done(cmd, SCST_CMD_STATE_DEFAULT, SCST_CONTEXT_SAME);
        return SCST_EXEC_COMPLETED;
    }
    let mut r = dev.reserved_by.lock_bh();
    // The device could be released behind us if the reserving session is closed (see
    // scst_free_tgt_dev()); that does not matter, so the bits are not tested again.
    if scst_is_not_reservation_holder_locked(&r, &cmd.sess) {
        drop(r);
        // SPC-2 requires status GOOD for a RELEASE that fails because another session holds
        // the reservation.
        {
            let mut d = cmd.d.lock();
            d.status = 0;
            d.msg_status = 0;
            d.host_status = DID_OK;
            d.driver_status = 0;
            d.completed = true;
        }
        scst_cmd_done(cmd, SCST_CMD_STATE_DEFAULT, SCST_CONTEXT_SAME);
        return SCST_EXEC_COMPLETED;
    }
    scst_clear_dev_reservation(&mut r);
    SCST_EXEC_NOT_COMPLETED
}

/// The parameter data of a PR command as one buffer (C `scst_get_buf_full_sense()`): None
/// when there is none (then a command with a data length gets HARDWARE ERROR).
fn scst_pr_get_buf(cmd: &ScstCmd) -> Option<Vec<u8>> {
    let mut d = cmd.d.lock();
    let b = scst_with_buf_full_sense_locked(&mut d, |b| b.to_vec());
    if b.is_none() && d.bufflen != 0 {
        let (k, a, q) = SCST_LOAD_SENSE(scst_sense_hardw_error);
        scst_set_cmd_error_locked(&mut d, k, a, q);
    }
    b.filter(|b| !b.is_empty())
}

/// C `scst_persistent_reserve_in_local()`: PERSISTENT RESERVE IN (READ KEYS, READ
/// RESERVATION, REPORT CAPABILITIES, READ FULL STATUS) under the device's PR lock.
fn scst_persistent_reserve_in_local(cmd: &Arc<ScstCmd>) -> i32 {
    let Some(tgt_dev) = cmd.d.lock().tgt_dev.clone() else {
        return SCST_EXEC_NOT_COMPLETED;
    };
    let dev = &tgt_dev.dev;
    'done: {
        if atomic_read(&dev.not_pr_supporting_tgt_devs_num) != 0 {
            let op_name = cmd.d.lock().op_name;
            PRINT_WARNING!("Persistent Reservation command {} refused for device {}, because the device has not supporting PR transports connected", op_name, dev.virt_name);
            let (k, a, q) = SCST_LOAD_SENSE(scst_sense_invalid_opcode);
            scst_set_cmd_error_locked(&mut cmd.d.lock(), k, a, q);
            break 'done;
        }
        if scst_dev_reserved(dev) {
            TRACE_DBG!(
                "PR command rejected, because device {} holds regular reservation",
                dev.virt_name
            );
            scst_set_cmd_error_status_locked(&mut cmd.d.lock(), SAM_STAT_RESERVATION_CONFLICT);
            break 'done;
        }
        let Some(mut buffer) = scst_pr_get_buf(cmd) else {
            break 'done;
        };
        let pr = dev.dev_pr_mutex.lock();
        // We can be aborted by another PR command while waiting for the lock.
        if test_bit(SCST_CMD_ABORTED, &cmd.cmd_flags) {
            TRACE_MGMT_DBG!("ABORTED set, aborting cmd");
            break 'done;
        }
        let action = cdb_byte(&cmd.d.lock(), 1) & 0x1f;
        TRACE!(
            TRACE_SCSI,
            "PR IN action {:x} for '{}' (LUN {:x}) from '{}'",
            action,
            dev.virt_name,
            tgt_dev.lun,
            cmd.sess.initiator_name
        );
        match action {
            PR_READ_KEYS => crate::scst_pres::scst_pr_read_keys(cmd, &pr, &mut buffer),
            PR_READ_RESERVATION => {
                crate::scst_pres::scst_pr_read_reservation(cmd, &pr, &mut buffer)
            }
            PR_REPORT_CAPS => crate::scst_pres::scst_pr_report_caps(cmd, &pr, &mut buffer),
            PR_READ_FULL_STATUS => {
                crate::scst_pres::scst_pr_read_full_status(cmd, &pr, &mut buffer)
            }
            _ => {
                PRINT_ERROR!("Unsupported action {:x}", action);
                scst_set_invalid_field_in_cdb_locked(
                    &mut cmd.d.lock(),
                    1,
                    SCST_INVAL_FIELD_BIT_OFFS_VALID,
                );
            }
        }
        drop(pr);
        let mut d = cmd.d.lock();
        d.completed = true;
        scst_with_buf_locked(&mut d, |b| {
            let n = b.len().min(buffer.len());
            b[..n].copy_from_slice(&buffer[..n]);
        });
    }
    scst_cmd_done(cmd, SCST_CMD_STATE_DEFAULT, SCST_CONTEXT_SAME);
    SCST_EXEC_COMPLETED
}

/// C `scst_persistent_reserve_out_local()`: PERSISTENT RESERVE OUT under the device's PR lock
/// (`scst_pres::scst_pr_out_locked()`); with APTPL the state is saved after a successful
/// service action. A handler with `pr_cmds_notifications` then sees the command too.
fn scst_persistent_reserve_out_local(cmd: &Arc<ScstCmd>) -> i32 {
    let Some(tgt_dev) = cmd.d.lock().tgt_dev.clone() else {
        return SCST_EXEC_NOT_COMPLETED;
    };
    let dev = &tgt_dev.dev;
    let mut res = SCST_EXEC_COMPLETED;
    let mut aborted = false;
    'done: {
        if atomic_read(&dev.not_pr_supporting_tgt_devs_num) != 0 {
            let op_name = cmd.d.lock().op_name;
            PRINT_WARNING!("Persistent Reservation command {} refused for device {}, because the device has not supporting PR transports connected", op_name, dev.virt_name);
            let (k, a, q) = SCST_LOAD_SENSE(scst_sense_invalid_opcode);
            scst_set_cmd_error_locked(&mut cmd.d.lock(), k, a, q);
            break 'done;
        }
        let action = cdb_byte(&cmd.d.lock(), 1) & 0x1f;
        TRACE!(
            TRACE_SCSI,
            "PR OUT action {:x} for '{}' (LUN {:x}) from '{}'",
            action,
            dev.virt_name,
            tgt_dev.lun,
            cmd.sess.initiator_name
        );
        if scst_dev_reserved(dev) {
            TRACE_DBG!(
                "PR command rejected, because device {} holds regular reservation",
                dev.virt_name
            );
            scst_set_cmd_error_status_locked(&mut cmd.d.lock(), SAM_STAT_RESERVATION_CONFLICT);
            break 'done;
        }
        let Some(mut buffer) = scst_pr_get_buf(cmd) else {
            break 'done;
        };
        // The handlers read fixed offsets of the parameter list before checking its length
        // (C reads past a short buffer); the copy is zero-padded, the length kept.
        let buffer_size = buffer.len();
        if buffer.len() < 28 {
            buffer.resize(28, 0);
        }
        let mut c = crate::scst_pres::ScstPrCmd::new(cmd, &tgt_dev);
        if (action == PR_REGISTER || action == PR_REGISTER_AND_IGNORE)
            && (buffer[20] >> 2) & 0x01 != 0
        {
            c.ports = crate::scst_pres::scst_pr_snapshot_ports();
        }
        let mut pr = dev.dev_pr_mutex.lock();
        let r = crate::scst_pres::scst_pr_out_locked(&c, &mut pr, action, &mut buffer, buffer_size);
        drop(pr);
        // PREEMPT AND ABORT: wait until the preempted nexuses' commands are marked aborted
        // (C waits in scst_pr_preempt_and_abort() with the PR lock held; the port waits
        // after the unlock: scsi_tm takes scst_mutex on its way there, in
        // scst_mgmt_cmd_init(), and a session registering under scst_mutex takes the PR
        // lock in scst_pr_init_tgt_dev()).
        crate::scst_pres::scst_pr_preempt_and_abort_wait(cmd);
        match r {
            Ok(()) => {
                let (notify, status) = {
                    let d = cmd.d.lock();
                    (
                        d.devt.as_ref().is_some_and(|t| t.pr_cmds_notifications),
                        d.status,
                    )
                };
                // The status is read after the sync, which may change it.
                if notify && status == SAM_STAT_GOOD {
                    res = SCST_EXEC_NOT_COMPLETED;
                }
            }
            Err(a) => aborted = a,
        }
    }
    if res == SCST_EXEC_COMPLETED {
        if !aborted {
            cmd.d.lock().completed = true;
        }
        scst_cmd_done(cmd, SCST_CMD_STATE_DEFAULT, SCST_CONTEXT_SAME);
    }
    res
}

/// C `scst_local_fns[]` lookup: the core's own implementation of an opcode, if it has one.
fn scst_local_fn(op: u8) -> Option<fn(&Arc<ScstCmd>) -> i32> {
    match op {
        RESERVE | RESERVE_10 => Some(scst_reserve_local),
        RELEASE | RELEASE_10 => Some(scst_release_local),
        PERSISTENT_RESERVE_IN => Some(scst_persistent_reserve_in_local),
        PERSISTENT_RESERVE_OUT => Some(scst_persistent_reserve_out_local),
        REPORT_LUNS => Some(scst_report_luns_local),
        REQUEST_SENSE => Some(scst_request_sense_local),
        MAINTENANCE_IN => Some(scst_maintenance_in),
        // COMPARE AND WRITE, EXTENDED COPY and RECEIVE COPY RESULTS come with their
        // subsystems; the handler sees them meanwhile.
        _ => None,
    }
}

/// C `scst_do_local_exec()`: refuses writes to a read-only LUN (DATA PROTECT), then runs the
/// core's own implementation of local commands.
fn scst_do_local_exec(cmd: &Arc<ScstCmd>) -> i32 {
    let (write_protected, local, op) = {
        let d = cmd.d.lock();
        let ro = d.op_flags & SCST_WRITE_MEDIUM != 0
            && (d.tgt_dev.as_ref().is_some_and(|t| t.tgt_dev_rd_only)
                || d.dev.as_ref().is_some_and(|x| x.swp.load(SeqCst)));
        (ro, d.op_flags & SCST_LOCAL_CMD != 0, cdb_byte(&d, 0))
    };
    if write_protected {
        {
            let mut d = cmd.d.lock();
            PRINT_WARNING!(
                "Attempt of write access to read-only device: initiator {}, LUN {}, op {}",
                cmd.sess.initiator_name,
                d.lun,
                d.op_name
            );
            let (k, a, q) = SCST_LOAD_SENSE(scst_sense_data_protect);
            scst_set_cmd_error_locked(&mut d, k, a, q);
        }
        scst_cmd_done(cmd, SCST_CMD_STATE_DEFAULT, SCST_CONTEXT_SAME);
        return SCST_EXEC_COMPLETED;
    }
    if !local {
        return SCST_EXEC_NOT_COMPLETED;
    }
    match scst_local_fn(op) {
        Some(f) => f(cmd),
        None => SCST_EXEC_NOT_COMPLETED,
    }
}

/// C `scst_local_exec()` (state LOCAL_EXEC, entered by a restarted command).
fn scst_local_exec(cmd: &Arc<ScstCmd>) -> i32 {
    if scst_check_local_events(cmd) != 0 {
        scst_cmd_done(cmd, SCST_CMD_STATE_DEFAULT, SCST_CONTEXT_SAME);
        return SCST_CMD_STATE_RES_CONT_NEXT;
    }
    __scst_cmd_get(cmd);
    let res = scst_do_local_exec(cmd);
    if res == SCST_EXEC_NOT_COMPLETED {
        scst_set_cmd_state(cmd, SCST_CMD_STATE_REAL_EXEC);
    } else {
        scst_post_exec_sn(cmd, true);
    }
    __scst_cmd_put(cmd);
    // SCST_EXEC_* equal SCST_CMD_STATE_RES_*.
    res
}

/// C `scst_do_real_exec()`: the handler's `exec()`. A virtual device whose handler has none
/// gets HARDWARE ERROR (C would pass the command through to a SCSI device).
fn scst_do_real_exec(cmd: &Arc<ScstCmd>) -> i32 {
    scst_set_cmd_state(cmd, SCST_CMD_STATE_EXEC_WAIT);
    let devt = cmd.d.lock().devt.clone();
    if let Some(devt) = devt {
        TRACE_DBG!("Calling dev handler {} exec()", devt.name);
        if let Some(res) = devt.ops.exec(cmd) {
            TRACE_DBG!("Dev handler {} exec() returned {}", devt.name, res);
            if res == SCST_EXEC_COMPLETED {
                return SCST_EXEC_COMPLETED;
            }
            if res != SCST_EXEC_NOT_COMPLETED {
                PRINT_CRIT_ERROR!(
                    "Dev handler {} exec() returned invalid value {}",
                    devt.name,
                    res
                );
            }
        }
    }
    {
        let mut d = cmd.d.lock();
        PRINT_ERROR!(
            "Command for virtual device must be processed by device handler (LUN {})!",
            d.lun
        );
        let (k, a, q) = SCST_LOAD_SENSE(scst_sense_hardw_error);
        scst_set_cmd_error_locked(&mut d, k, a, q);
    }
    scst_cmd_done(cmd, SCST_CMD_STATE_DEFAULT, SCST_CONTEXT_SAME);
    SCST_EXEC_COMPLETED
}

/// C `scst_real_exec()` (state REAL_EXEC, entered by a restarted command).
fn scst_real_exec(cmd: &Arc<ScstCmd>) -> i32 {
    if scst_check_local_events(cmd) != 0 {
        scst_cmd_done(cmd, SCST_CMD_STATE_DEFAULT, SCST_CONTEXT_SAME);
        return SCST_CMD_STATE_RES_CONT_NEXT;
    }
    __scst_cmd_get(cmd);
    let res = scst_do_real_exec(cmd);
    scst_post_exec_sn(cmd, true);
    __scst_cmd_put(cmd);
    res
}

/// C `__scst_check_local_events()`: the checks just before execution: an aborted command
/// stops (-1); a reservation conflict completes it with RESERVATION CONFLICT and a pending
/// unit attention of the nexus with CHECK CONDITION (1; not for commands with `SCST_SKIP_UA`:
/// INQUIRY, REPORT LUNS, REQUEST SENSE …); 0 lets it execute.
pub fn __scst_check_local_events(cmd: &Arc<ScstCmd>, preempt_tests_only: bool) -> i32 {
    {
        let mut d = cmd.d.lock();
        if d.internal {
            return if test_bit(SCST_CMD_ABORTED, &cmd.cmd_flags) {
                -1
            } else {
                0
            };
        }
        // Commands sent after the device raised the double-UA flag are traced by it.
        if d.dev
            .as_ref()
            .is_some_and(|x| x.dev_double_ua_possible.load(SeqCst))
        {
            d.double_ua_possible = true;
        }
    }
    // Reserve check before Unit Attention (a forwarding nexus skips the reservation checks:
    // the forwarding requester's side did them).
    let (tgt_dev, op_flags, op_name) = {
        let d = cmd.d.lock();
        (d.tgt_dev.clone(), d.op_flags, d.op_name)
    };
    if let Some(tgt_dev) = tgt_dev
        .as_ref()
        .filter(|t| !test_bit(SCST_TGT_DEV_FORWARDING, &t.tgt_dev_flags))
    {
        if scst_is_not_reservation_holder(&tgt_dev.dev, &tgt_dev.sess)
            && (op_flags & SCST_REG_RESERVE_ALLOWED) == 0
        {
            scst_set_cmd_error_status_locked(&mut cmd.d.lock(), SAM_STAT_RESERVATION_CONFLICT);
            return 1;
        }
        // C tests dev->pr_is_set without the lock first; scst_pr_is_cmd_allowed() takes it
        // and answers true when no persistent reservation is set.
        if !preempt_tests_only
            && !crate::scst_pres::scst_pr_is_cmd_allowed(tgt_dev, op_flags, op_name)
        {
            scst_set_cmd_error_status_locked(&mut cmd.d.lock(), SAM_STAT_RESERVATION_CONFLICT);
            return 1;
        }
    }
    // ABORTED is checked after scst_pr_is_cmd_allowed(), which may sleep for a while.
    if test_bit(SCST_CMD_ABORTED, &cmd.cmd_flags) {
        TRACE_MGMT_DBG!("ABORTED set, aborting cmd");
        return -1;
    }
    let (ua_pending, skip_ua) = {
        let d = cmd.d.lock();
        (
            d.tgt_dev
                .as_ref()
                .is_some_and(|t| test_bit(SCST_TGT_DEV_UA_PENDING, &t.tgt_dev_flags)),
            d.op_flags & SCST_SKIP_UA != 0,
        )
    };
    if ua_pending && !skip_ua && scst_set_pending_UA(cmd, None) == 0 {
        // out_complete
        if !cmd.d.lock().completed {
            PRINT_CRIT_ERROR!("A command with a unit attention is not completed");
        }
        return 1;
    }
    0
}

/// C `scst_check_local_events()`.
pub fn scst_check_local_events(cmd: &Arc<ScstCmd>) -> i32 {
    __scst_check_local_events(cmd, false)
}

/// C `scst_inc_expected_sn()`: the command no longer holds back its SN; true if the
/// expected SN advanced (then deferred commands may go). Lock-free for runs of SIMPLE
/// commands: only the last command of a slot takes `sn_lock`.
pub fn scst_inc_expected_sn(cmd: &ScstCmd) -> bool {
    let Some(order_data) = cmd.d.lock().cur_order_data.clone() else {
        return false;
    };
    if test_and_set_bit(SCST_CMD_INC_EXPECTED_SN_PASSED, &cmd.cmd_flags) {
        PRINT_CRIT_ERROR!("scst_inc_expected_sn() called twice for a command");
    }
    let slot = cmd.sn_slot.load(SeqCst);
    let mut l = order_data.sn_lock.lock_irq();
    if slot >= 0 {
        // Optimised for the lock-free fast path of a run of SIMPLE commands (C checks the
        // slot before taking sn_lock; the port takes it first, the result is the same).
        let Some(s) = order_data.sn_slots.get(slot.unsigned_abs()) else {
            return false;
        };
        if !atomic_dec_and_test(s) {
            return false;
        }
        if l.pending_simple_inc_expected_sn == 0 {
            return false;
        }
        l.pending_simple_inc_expected_sn -= 1;
        TRACE_SN!(
            "New dec pending_simple_inc_expected_sn: {}",
            l.pending_simple_inc_expected_sn
        );
    }
    // inc_expected_sn_locked (a SIMPLE command without a free slot comes here directly):
    order_data.expected_sn.fetch_add(1, SeqCst);
    // The write must be visible before def_cmd_count is read (see scst_exec_check_sn()).
    smp_mb();
    drop(l);
    true
}

/// C `scst_post_exec_sn()`: after execution, the SN moves on (unless that waits for the
/// command to be done); deferred commands become active, or with `make_active` false the
/// first of them is returned for the caller to run.
fn scst_post_exec_sn(cmd: &Arc<ScstCmd>, make_active: bool) -> Option<Arc<ScstCmd>> {
    let (inc, order_data) = {
        let d = cmd.d.lock();
        (
            !d.inc_expected_sn_on_done && cmd.sn_set.load(SeqCst) && !d.retry,
            d.cur_order_data.clone(),
        )
    };
    // HEAD OF QUEUE commands have no SN.
    if !inc {
        return None;
    }
    let order_data = order_data?;
    if !scst_inc_expected_sn(cmd) {
        return None;
    }
    if make_active {
        scst_make_deferred_commands_active(&order_data);
        None
    } else {
        scst_check_deferred_commands(&order_data, true)
    }
}

/// C `scst_check_deferred_commands()`: the fast path of
/// [`__scst_check_deferred_commands`] when nothing is deferred.
pub fn scst_check_deferred_commands(
    order_data: &ScstOrderData,
    return_first: bool,
) -> Option<Arc<ScstCmd>> {
    if atomic_read(&order_data.def_cmd_count) == 0 {
        None
    } else {
        __scst_check_deferred_commands(order_data, return_first)
    }
}

/// C `scst_make_deferred_commands_active()`.
pub fn scst_make_deferred_commands_active(order_data: &ScstOrderData) {
    let _ = scst_check_deferred_commands(order_data, false);
}

/// C `__scst_check_deferred_commands()`: takes `sn_lock` and runs
/// [`__scst_check_deferred_commands_locked`].
pub fn __scst_check_deferred_commands(
    order_data: &ScstOrderData,
    return_first: bool,
) -> Option<Arc<ScstCmd>> {
    let mut l = order_data.sn_lock.lock_irq();
    __scst_check_deferred_commands_locked(order_data, &mut l, return_first)
}

/// C `__scst_check_deferred_commands_locked()`: deferred commands whose SN came (or that are
/// done, or have no SN) leave `deferred_cmd_list`: queued to their threads, or the first
/// returned to the caller if `return_first`. Skipped SNs of finished out-of-order commands
/// are consumed. Called with `sn_lock` held (it may be dropped and retaken inside).
pub fn __scst_check_deferred_commands_locked(
    order_data: &ScstOrderData,
    l: &mut kemu::sync::SpinLockGuard<'_, ScstSnLocked>,
    return_first: bool,
) -> Option<Arc<ScstCmd>> {
    let mut res = None;
    let mut activate = !return_first;
    let mut first = true;
    if l.hq_cmd_count != 0 {
        return None;
    }
    'restart: loop {
        let expected_sn = order_data.expected_sn.load(SeqCst);
        let mut found = false;
        let entries: Vec<_> = l
            .deferred_cmd_list
            .iter()
            .map(|(h, c)| (h, c.clone()))
            .collect();
        for (h, cmd) in entries {
            if order_data.aca_tgt_dev.load(SeqCst) != 0
                && !test_bit(SCST_CMD_ABORTED, &cmd.cmd_flags)
            {
                // During ACA only aborted commands leave, not to defer and release the
                // same commands over and over.
                continue;
            }
            if cmd.done.load(SeqCst) {
                atomic_dec(&order_data.def_cmd_count);
                l.deferred_cmd_list.del(h);
                scst_add_to_active_cmd_list(&cmd);
            } else if cmd.sn.load(SeqCst) == expected_sn || !cmd.sn_set.load(SeqCst) {
                let stop = cmd.sn_slot.load(SeqCst) < 0;
                TRACE_SN!("Deferred command found (sn {})", cmd.sn.load(SeqCst));
                atomic_dec(&order_data.def_cmd_count);
                l.deferred_cmd_list.del(h);
                if activate {
                    scst_add_to_active_cmd_list(&cmd);
                }
                if first {
                    if !activate {
                        res = Some(cmd.clone());
                    }
                    if stop {
                        // Then only one command can have this SN.
                        return res;
                    }
                    first = false;
                    activate = true;
                }
                found = true;
            }
        }
        if found {
            return res;
        }
        let skipped: Vec<_> = l
            .skipped_sn_list
            .iter()
            .map(|(h, c)| (h, c.clone()))
            .collect();
        for (h, cmd) in skipped {
            if cmd.sn.load(SeqCst) == expected_sn {
                TRACE_SN!("cmd with sn {} skipped", expected_sn);
                atomic_dec(&order_data.def_cmd_count);
                l.skipped_sn_list.del(h);
                kemu::sync::SpinLockGuard::unlocked(l, || {
                    scst_inc_expected_sn(&cmd);
                    if test_and_set_bit(SCST_CMD_CAN_BE_DESTROYED, &cmd.cmd_flags) {
                        crate::scst_lib::scst_destroy_cmd(&cmd);
                    }
                });
                continue 'restart;
            }
        }
        return res;
    }
}

/// C `scst_unblock_deferred()`: a command that will not execute (finished before) gives up
/// its SN: at once if it is the expected one, otherwise when the SN comes
/// (`skipped_sn_list`).
pub fn scst_unblock_deferred(order_data: &ScstOrderData, out_of_sn_cmd: &Arc<ScstCmd>) {
    if !out_of_sn_cmd.sn_set.load(SeqCst) {
        TRACE_SN!("cmd without sn");
        return;
    }
    if out_of_sn_cmd.sn.load(SeqCst) == order_data.expected_sn.load(SeqCst) {
        TRACE_SN!(
            "out of sn cmd (expected_sn {})",
            order_data.expected_sn.load(SeqCst)
        );
        scst_inc_expected_sn(out_of_sn_cmd);
    } else {
        out_of_sn_cmd.out_of_sn.store(true, SeqCst);
        let mut l = order_data.sn_lock.lock_irq();
        atomic_inc(&order_data.def_cmd_count);
        let h = l.skipped_sn_list.add_tail(out_of_sn_cmd.clone());
        out_of_sn_cmd.cmd_list_entry.set(h);
        drop(l);
        // The expected SN may have moved meanwhile: recheck.
    }
    scst_make_deferred_commands_active(order_data);
}

/// C `scst_pre_exec_checks()`: [`__scst_check_local_events`]; a command that must not
/// execute is done.
fn scst_pre_exec_checks(cmd: &Arc<ScstCmd>) -> i32 {
    if __scst_check_local_events(cmd, false) != 0 {
        scst_cmd_done(cmd, SCST_CMD_STATE_DEFAULT, SCST_CONTEXT_SAME);
        return SCST_CMD_STATE_RES_CONT_NEXT;
    }
    SCST_CMD_STATE_RES_CONT_SAME
}

/// C `scst_check_blocked_dev()`: whether the device is blocked or serialised for this
/// command (then it waits on the device's blocked list). Device blocking comes with task
/// management and SCSI atomicity; nothing blocks yet.
fn scst_check_blocked_dev(_cmd: &Arc<ScstCmd>) -> bool {
    false
}

/// C `scst_exec_check_blocking()` (state EXEC_CHECK_BLOCKING): executes the command (local
/// checks, local execution, the handler's `exec()`), then, if its SN released the next
/// deferred command, executes that one too in the same loop.
fn scst_exec_check_blocking(active_cmd: &mut Arc<ScstCmd>) -> i32 {
    let mut cmd = active_cmd.clone();
    scst_set_cmd_state(&cmd, SCST_CMD_STATE_EXEC_CHECK_BLOCKING);
    // ALUA filters (scst_check_alua()) come with scst_tg.
    if scst_check_blocked_dev(&cmd) {
        return SCST_CMD_STATE_RES_CONT_NEXT;
    }
    // To protect the tgt_dev.
    let mut ref_cmd = cmd.clone();
    __scst_cmd_get(&ref_cmd);
    loop {
        {
            let mut d = cmd.d.lock();
            // From here scst_post_exec_sn() must be called before leaving.
            d.sent_for_exec = true;
            d.scst_cmd_done = Some(scst_cmd_done_local);
        }
        // To sync with scst_abort_cmd(): sent_for_exec before the ABORTED test.
        smp_mb();

        'done: {
            if scst_pre_exec_checks(&cmd) != SCST_CMD_STATE_RES_CONT_SAME {
                break 'done;
            }
            scst_set_cmd_state(&cmd, SCST_CMD_STATE_LOCAL_EXEC);
            if scst_do_local_exec(&cmd) == SCST_EXEC_COMPLETED {
                break 'done;
            }
            scst_set_cmd_state(&cmd, SCST_CMD_STATE_REAL_EXEC);
            let rc = scst_do_real_exec(&cmd);
            if rc != SCST_EXEC_COMPLETED {
                PRINT_CRIT_ERROR!("scst_do_real_exec() returned {}", rc);
            }
        }

        match scst_post_exec_sn(&cmd, false) {
            None => break,
            Some(next) => {
                cmd = next;
                scst_set_cmd_state(&cmd, SCST_CMD_STATE_EXEC_CHECK_BLOCKING);
                if scst_check_blocked_dev(&cmd) {
                    break;
                }
                __scst_cmd_put(&ref_cmd);
                ref_cmd = cmd.clone();
                __scst_cmd_get(&ref_cmd);
            }
        }
    }
    *active_cmd = cmd;
    __scst_cmd_put(&ref_cmd);
    // From here the session, the device and the tgt_dev may be gone.
    SCST_CMD_STATE_RES_CONT_NEXT
}

/// The ACA part of C `scst_exec_check_sn()` for a command ACA does not allow: commands can
/// slip past the check in `__scst_init_cmd()` while ACA is being established (the locks are
/// separate), so they are caught here: deferred until the ACA is cleared or, when QErr says
/// so (1: all nexuses, 3: the faulted one only), aborted. An aborted command passes on.
/// `Some(state result)` if the command was dealt with here.
fn scst_exec_check_sn_aca(cmd: &Arc<ScstCmd>, od: &ScstOrderData) -> Option<i32> {
    let (tgt_dev_id, dev) = {
        let d = cmd.d.lock();
        (d.tgt_dev.as_ref().map(scst_tgt_dev_id), d.dev.clone())
    };
    let mut l = od.sn_lock.lock_irq();
    if test_bit(SCST_CMD_ABORTED, &cmd.cmd_flags) {
        // Aborted (and perhaps already unblocked) while coming here: it must not be
        // deferred any more, let it through.
        return None;
    }
    let aca_tgt_dev = od.aca_tgt_dev.load(SeqCst);
    if aca_tgt_dev == 0 {
        return None;
    }
    let this_nex = tgt_dev_id == Some(aca_tgt_dev);
    // QErr can change behind our back; one read decides.
    let qerr = dev.map_or_else(
        || i32::from(SCST_QERR_0_ALL_RESUME),
        |d| atomic_read(&d.qerr),
    );
    let abort = qerr == i32::from(SCST_QERR_1_ABORT_ALL)
        || (qerr == i32::from(SCST_QERR_3_ABORT_THIS_NEXUS_ONLY) && this_nex);
    if abort {
        TRACE_MGMT_DBG!("Aborting cmd due to ACA active");
        scst_abort_cmd(cmd, None, !this_nex, false);
        scst_set_cmd_abnormal_done_state(cmd);
        drop(l);
        return Some(SCST_CMD_STATE_RES_CONT_SAME);
    }
    TRACE_MGMT_DBG!("Deferring cmd due to ACA active");
    atomic_inc(&od.def_cmd_count);
    let h = l.deferred_cmd_list.add_tail(cmd.clone());
    cmd.cmd_list_entry.set(h);
    Some(SCST_CMD_STATE_RES_CONT_NEXT)
}

/// C `scst_exec_check_sn()` (state EXEC_CHECK_SN): a command whose SN has not come yet is
/// deferred on `deferred_cmd_list` (HEAD OF QUEUE commands never wait); otherwise it goes to
/// execution. While ACA is active, a command not allowed by it is deferred there too (or,
/// when QErr asks for it, aborted); an allowed one goes straight to execution.
fn scst_exec_check_sn(active_cmd: &mut Arc<ScstCmd>) -> i32 {
    let cmd = active_cmd.clone();
    let (internal, queue_type, order_data, cmd_aca_allowed) = {
        let d = cmd.d.lock();
        (
            d.internal,
            d.queue_type,
            d.cur_order_data.clone(),
            d.cmd_aca_allowed,
        )
    };
    'exec: {
        if internal {
            break 'exec;
        }
        if let Some(od) = order_data.as_ref() {
            if od.aca_tgt_dev.load(SeqCst) != 0 {
                if cmd_aca_allowed {
                    break 'exec;
                }
                if let Some(res) = scst_exec_check_sn_aca(&cmd, od) {
                    return res;
                }
            }
        }
        if queue_type == SCST_CMD_QUEUE_HEAD_OF_QUEUE {
            break 'exec;
        }
        // Checked here to catch ACA commands after a just cleared ACA.
        if test_bit(SCST_CMD_ABORTED, &cmd.cmd_flags) {
            scst_set_cmd_abnormal_done_state(&cmd);
            return SCST_CMD_STATE_RES_CONT_SAME;
        }
        let Some(order_data) = order_data else {
            break 'exec;
        };
        let sn = cmd.sn.load(SeqCst);
        // Lock-free fast path.
        let hq = || order_data.sn_lock.lock_irq().hq_cmd_count > 0;
        if sn != order_data.expected_sn.load(SeqCst) || hq() {
            let mut l = order_data.sn_lock.lock_irq();
            atomic_inc(&order_data.def_cmd_count);
            // def_cmd_count must be written before expected_sn is read again, or a change of
            // expected_sn to this SN while the command is being queued could be missed (and
            // the command stuck forever); with the barrier, __scst_check_deferred_commands()
            // then takes sn_lock and sees it.
            smp_mb();
            let expected_sn = order_data.expected_sn.load(SeqCst);
            if sn != expected_sn || l.hq_cmd_count > 0 {
                if test_bit(SCST_CMD_ABORTED, &cmd.cmd_flags) {
                    // Necessary to allow aborting out of SN commands.
                    TRACE_MGMT_DBG!("Aborting out of sn cmd (sn {})", sn);
                    atomic_dec(&order_data.def_cmd_count);
                    drop(l);
                    scst_set_cmd_abnormal_done_state(&cmd);
                    return SCST_CMD_STATE_RES_CONT_SAME;
                }
                TRACE_SN!("Deferring cmd (sn={}, expected_sn={})", sn, expected_sn);
                let h = l.deferred_cmd_list.add_tail(cmd.clone());
                cmd.cmd_list_entry.set(h);
                return SCST_CMD_STATE_RES_CONT_NEXT;
            }
            TRACE_SN!(
                "Somebody incremented expected_sn {}, continuing",
                expected_sn
            );
            atomic_dec(&order_data.def_cmd_count);
        }
    }
    scst_exec_check_blocking(active_cmd)
}

/// C `scst_check_sense()`: unit attention side effects of the sense a command got: a unit
/// attention from the device is passed on to the device's other nexuses (a reset one resets
/// the device first), and a reset unit attention that may be the second of a double reset is
/// retried (1: the command restarts at LOCAL_EXEC). A unit attention taken from the nexus's
/// own queue (`ua_ignore`) is not looked at again.
fn scst_check_sense(cmd: &Arc<ScstCmd>) -> i32 {
    let mut d = cmd.d.lock();
    if d.ua_ignore {
        TRACE!(TRACE_SCSI, "Local UA sense {:02x?}", d.sense.as_deref());
        return 0;
    }
    // C's DID_RESET handling concerns pass-through devices (scsi_dev) only.
    if d.status == SAM_STAT_CHECK_CONDITION && scst_sense_valid(d.sense.as_deref()) {
        let sense = d
            .sense
            .as_ref()
            .map(|s| s[..d.sense_valid_len.min(s.len())].to_vec())
            .unwrap_or_default();
        TRACE!(TRACE_SCSI, "cmd with valid sense received: {:02x?}", sense);
        // Check Unit Attention Sense Key.
        if scst_is_ua_sense(&sense) {
            if scst_analyze_sense(&sense, SCST_SENSE_ASC_VALID, 0, SCST_SENSE_ASC_UA_RESET, 0)
                && d.double_ua_possible
            {
                TRACE_DBG!("Double UA detected, retrying cmd (tag {})", d.tag);
                d.status = 0;
                d.msg_status = 0;
                d.host_status = DID_OK;
                d.driver_status = 0;
                d.completed = false;
                d.sense = None;
                d.sense_valid_len = 0;
                if d.data_direction & SCST_DATA_WRITE != 0 {
                    scst_set_write_len(&mut d);
                }
                d.data_direction = d.dbl_ua_orig_data_direction;
                d.resp_data_len = d.dbl_ua_orig_resp_data_len;
                scst_set_cmd_state(cmd, SCST_CMD_STATE_LOCAL_EXEC);
                d.retry = true;
                return 1;
            }
            let dev = d.dev.clone();
            drop(d);
            if let Some(dev) = dev {
                scst_dev_check_set_UA(&dev, Some(cmd), &sense);
            }
            d = cmd.d.lock();
        }
    }
    if d.double_ua_possible && d.op_flags & SCST_SKIP_UA == 0 {
        TRACE_DBG!("Clearing dbl_ua_possible flag");
        if let Some(dev) = &d.dev {
            dev.dev_double_ua_possible.store(false, SeqCst);
        }
    }
    0
}

/// C `scst_check_auto_sense()`: CHECK CONDITION without sense (true: REQUEST SENSE would be
/// needed), or a transport host status turned into a SCSI answer.
fn scst_check_auto_sense(cmd: &Arc<ScstCmd>) -> bool {
    let mut d = cmd.d.lock();
    if d.status == SAM_STAT_CHECK_CONDITION && !scst_sense_valid(d.sense.as_deref()) {
        if !test_bit(SCST_CMD_ABORTED, &cmd.cmd_flags) {
            TRACE!(
                TRACE_MINOR,
                "CHECK_CONDITION, but no sense: status={:x}",
                d.status
            );
        }
        return true;
    }
    let hs = d.host_status;
    if hs != 0 {
        match hs {
            DID_REQUEUE
            | DID_IMM_RETRY
            | DID_SOFT_ERROR
            | DID_BUS_BUSY
            | DID_TRANSPORT_DISRUPTED
            | DID_TRANSPORT_FAILFAST
            | DID_ALLOC_FAILURE => {
                scst_set_busy_locked(&mut d, &cmd.sess);
            }
            DID_RESET => {}
            DID_ABORT | DID_NO_CONNECT | DID_TIME_OUT | DID_NEXUS_FAILURE => {
                drop(d);
                scst_abort_cmd(cmd, None, false, false);
                return false;
            }
            DID_MEDIUM_ERROR => {
                let e = if d.data_direction & SCST_DATA_WRITE != 0 {
                    scst_sense_write_error
                } else {
                    scst_sense_read_error
                };
                scst_set_cmd_error_locked(&mut d, e.0, e.1, e.2);
            }
            DID_TARGET_FAILURE if d.status != 0 => {}
            _ => {
                TRACE!(
                    TRACE_MINOR,
                    "Unknown host status 0x{:x} received, returning HARDWARE ERROR instead",
                    hs
                );
                let (k, a, q) = SCST_LOAD_SENSE(scst_sense_internal_failure);
                scst_set_cmd_error_locked(&mut d, k, a, q);
            }
        }
    }
    false
}

/// C `scst_pre_dev_done()` (state PRE_DEV_DONE): sense checks after execution; a good MODE
/// SELECT or LOG SELECT goes through MODE_SELECT_CHECKS, everything else to DEV_DONE.
fn scst_pre_dev_done(cmd: &Arc<ScstCmd>) -> i32 {
    if scst_check_auto_sense(cmd) && !test_bit(SCST_CMD_ABORTED, &cmd.cmd_flags) {
        // C issues an internal REQUEST SENSE here (scst_prepare_request_sense()); there is
        // no pass-through device in the port that could need it.
        PRINT_INFO!("Command finished with CHECK CONDITION, but without sense data, returning HARDWARE ERROR");
        let mut d = cmd.d.lock();
        d.status = 0;
        let (k, a, q) = SCST_LOAD_SENSE(scst_sense_internal_failure);
        scst_set_cmd_error_locked(&mut d, k, a, q);
    }
    if scst_check_sense(cmd) != 0 {
        // No atomic command on the execution stages: restart in a thread.
        return SCST_CMD_STATE_RES_NEED_THREAD;
    }
    let mut d = cmd.d.lock();
    if d.completed && d.status == SAM_STAT_GOOD {
        let op = cdb_byte(&d, 0);
        let (rd_only, type_) = (
            d.tgt_dev.as_ref().is_some_and(|t| t.tgt_dev_rd_only)
                || d.dev.as_ref().is_some_and(|x| x.swp.load(SeqCst)),
            d.dev.as_ref().map_or(-1, |x| x.type_),
        );
        if (op == MODE_SENSE || op == MODE_SENSE_10)
            && rd_only
            && [TYPE_DISK, TYPE_WORM, TYPE_MOD, TYPE_TAPE].contains(&type_)
        {
            // Report the write protection in the mode parameter header.
            let ok = scst_with_buf_locked(&mut d, |buf| {
                if op == MODE_SENSE && buf.len() > 2 {
                    buf[2] |= 0x80;
                } else if op == MODE_SENSE_10 && buf.len() > 3 {
                    buf[3] |= 0x80;
                }
            });
            if ok.is_none() {
                PRINT_ERROR!("Unable to get MODE_SENSE buffer");
                let (k, a, q) = SCST_LOAD_SENSE(scst_sense_internal_failure);
                scst_set_cmd_error_locked(&mut d, k, a, q);
                return SCST_CMD_STATE_RES_CONT_SAME;
            }
        }
        if op == MODE_SELECT || op == MODE_SELECT_10 || op == LOG_SELECT {
            TRACE!(TRACE_SCSI, "MODE/LOG SELECT succeeded (LUN {})", d.lun);
            scst_set_cmd_state(cmd, SCST_CMD_STATE_MODE_SELECT_CHECKS);
            return SCST_CMD_STATE_RES_CONT_SAME;
        }
    }
    // C's check for MODE PARAMETERS CHANGED concerns pass-through devices only.
    scst_set_cmd_state(cmd, SCST_CMD_STATE_DEV_DONE);
    SCST_CMD_STATE_RES_CONT_SAME
}

/// C `scst_mode_select_checks()` (state MODE_SELECT_CHECKS): after a good MODE SELECT or LOG
/// SELECT, MODE (or LOG) PARAMETERS CHANGED is queued for the device's other nexuses
/// (`scst_dev_check_set_local_UA()`); then DEV_DONE.
fn scst_mode_select_checks(cmd: &Arc<ScstCmd>) -> i32 {
    {
        let d = cmd.d.lock();
        if d.status == SAM_STAT_GOOD {
            let op = cdb_byte(&d, 0);
            if op == MODE_SELECT || op == MODE_SELECT_10 || op == LOG_SELECT {
                TRACE!(
                    TRACE_SCSI,
                    "MODE/LOG SELECT succeeded, setting the SELECT UA (lun={})",
                    d.lun
                );
                let dev = d.dev.clone();
                drop(d);
                if let Some(dev) = dev {
                    let d_sense = dev.d_sense.load(SeqCst);
                    let mut sense = [0u8; SCST_STANDARD_SENSE_LEN];
                    let q = if op == LOG_SELECT { 0x02 } else { 0x01 };
                    let sl = scst_set_sense(&mut sense, d_sense, UNIT_ATTENTION, 0x2a, q);
                    let l = dev.dev_lock.lock_bh();
                    scst_dev_check_set_local_UA(&l.dev_tgt_dev_list, Some(cmd), &sense[..sl]);
                    drop(l);
                }
            }
        }
    }
    scst_set_cmd_state(cmd, SCST_CMD_STATE_DEV_DONE);
    SCST_CMD_STATE_RES_CONT_SAME
}

/// C `scst_dev_done()` (state DEV_DONE): the handler's `dev_done()`; the device is
/// unblocked and, for commands whose SN advances when done, the expected SN moves on.
fn scst_dev_done(cmd: &Arc<ScstCmd>) -> i32 {
    let mut state = SCST_CMD_STATE_PRE_XMIT_RESP1;
    let (fully_local, devt, atomic) = {
        let d = cmd.d.lock();
        (
            d.op_flags & SCST_FULLY_LOCAL_CMD != 0,
            d.devt.clone(),
            d.atomic,
        )
    };
    if let (false, Some(devt)) = (fully_local, devt.as_ref()) {
        if !devt.dev_done_atomic && atomic {
            TRACE!(
                TRACE_MINOR,
                "Dev handler {} dev_done() needs thread context, rescheduling",
                devt.name
            );
            return SCST_CMD_STATE_RES_NEED_THREAD;
        }
        if let Some(rc) = devt.ops.dev_done(cmd) {
            TRACE_DBG!("Dev handler {} dev_done() returned {:?}", devt.name, rc);
            if rc != SCST_CMD_STATE_DEFAULT {
                state = rc;
            }
        }
    }
    if state == SCST_CMD_STATE_NEED_THREAD_CTX {
        return SCST_CMD_STATE_RES_NEED_THREAD;
    }
    scst_set_cmd_state(cmd, state);

    // C: scst_check_unblock_dev() — device blocking is not ported.
    let (inc, order_data, internal) = {
        let d = cmd.d.lock();
        (
            d.inc_expected_sn_on_done && d.sent_for_exec && cmd.sn_set.load(SeqCst),
            d.cur_order_data.clone(),
            d.internal,
        )
    };
    if inc && scst_inc_expected_sn(cmd) {
        if let Some(od) = order_data {
            scst_make_deferred_commands_active(&od);
        }
    }
    if internal {
        scst_set_cmd_state(cmd, SCST_CMD_STATE_FINISHED_INTERNAL);
    }
    SCST_CMD_STATE_RES_CONT_SAME
}

/// C `scst_xmit_process_aborted_cmd()`: an aborted command is done (task management is
/// told); aborted by another initiator, a completed one returns its result, a TAS device
/// answers TASK ABORTED, otherwise it is dropped like one aborted by its own initiator. The
/// response still goes to `xmit_response()`, where the driver sees
/// `scst_cmd_aborted_on_xmit()` and sends nothing.
fn scst_xmit_process_aborted_cmd(cmd: &Arc<ScstCmd>) {
    TRACE_MGMT_DBG!("Aborted cmd done (cmd_ref {})", atomic_read(&cmd.cmd_ref));
    scst_done_cmd_mgmt(cmd);
    let mut d = cmd.d.lock();
    if test_bit(SCST_CMD_ABORTED_OTHER, &cmd.cmd_flags) {
        if d.completed {
            // Completed: returning its result is fine.
            return;
        }
        // For not yet initialised commands the device can be unknown here.
        if test_bit(SCST_CMD_DEVICE_TAS, &cmd.cmd_flags) {
            TRACE_MGMT_DBG!("Flag ABORTED OTHER set, returning TASK ABORTED");
            scst_set_cmd_error_status_locked(&mut d, SAM_STAT_TASK_ABORTED);
        } else {
            TRACE_MGMT_DBG!("Flag ABORTED OTHER set, aborting without delivery or notification");
            // A possible UA needs no requeue: it would have been delivered by the
            // "completed" branch above.
            kemu::atomic::clear_bit(SCST_CMD_ABORTED_OTHER, &cmd.cmd_flags);
        }
    }
}

/// C `scst_pre_xmit_response2()` (state PRE_XMIT_RESP2): aborted commands, the response
/// length adjusted to the expected one; next XMIT_RESP (or FINISHED without a response).
///
/// A CHECK CONDITION goes through `scst_process_check_condition()` (which establishes or
/// clears ACA); while ACA is active, the answers of commands ACA does not allow are held
/// back on `deferred_cmd_list` (at its head, being done) until it is cleared. An ACA command
/// that finishes stops being the task set's `aca_cmd`.
fn scst_pre_xmit_response2(cmd: &Arc<ScstCmd>) -> i32 {
    loop {
        if test_bit(SCST_CMD_ABORTED, &cmd.cmd_flags) {
            scst_xmit_process_aborted_cmd(cmd);
            break;
        }
        let (status, order_data, has_tgt_dev, cmd_aca_allowed) = {
            let d = cmd.d.lock();
            (
                d.status,
                d.cur_order_data.clone(),
                d.tgt_dev.is_some(),
                d.cmd_aca_allowed,
            )
        };
        let Some(od) = order_data.filter(|_| has_tgt_dev) else {
            break;
        };
        if status == SAM_STAT_CHECK_CONDITION {
            match crate::scst_lib::scst_process_check_condition(cmd) {
                // From here the command may be gone to another thread.
                -1 => return SCST_CMD_STATE_RES_CONT_NEXT,
                1 => continue,
                _ => break,
            }
        }
        if od.aca_tgt_dev.load(SeqCst) != 0 && !cmd_aca_allowed {
            let mut l = od.sn_lock.lock_irq();
            if test_bit(SCST_CMD_ABORTED, &cmd.cmd_flags) {
                // Aborted while coming here: it cannot be held back any more.
                continue;
            }
            if od.aca_tgt_dev.load(SeqCst) != 0 {
                TRACE_MGMT_DBG!("Deferring done cmd due to ACA active");
                atomic_inc(&od.def_cmd_count);
                // At the head: it is complete, so it should restart first.
                let h = l.deferred_cmd_list.add(cmd.clone());
                cmd.cmd_list_entry.set(h);
                return SCST_CMD_STATE_RES_CONT_NEXT;
            }
        }
        break;
    }
    let (queue_type, order_data, has_tgt_dev) = {
        let d = cmd.d.lock();
        (d.queue_type, d.cur_order_data.clone(), d.tgt_dev.is_some())
    };
    if queue_type == SCST_CMD_QUEUE_ACA && has_tgt_dev {
        if let Some(od) = order_data {
            let mut l = od.sn_lock.lock_irq();
            if l.aca_cmd.as_ref().is_some_and(|c| Arc::ptr_eq(c, cmd)) {
                TRACE_MGMT_DBG!("ACA cmd finished");
                l.aca_cmd = None;
            }
        }
    }
    if test_bit(SCST_CMD_NO_RESP, &cmd.cmd_flags) {
        TRACE_MGMT_DBG!("Flag NO_RESP set, skipping");
        scst_set_cmd_state(cmd, SCST_CMD_STATE_FINISHED);
        return SCST_CMD_STATE_RES_CONT_SAME;
    }
    let mut d = cmd.d.lock();
    if d.resid_possible {
        scst_adjust_resp_data_len_locked(&mut d);
    } else {
        d.adjusted_resp_data_len = d.resp_data_len;
    }
    scst_set_cmd_state(cmd, SCST_CMD_STATE_XMIT_RESP);
    SCST_CMD_STATE_RES_CONT_SAME
}

/// C `scst_pre_xmit_response1()` (state PRE_XMIT_RESP1): the execution side is over: the
/// nexus's command count drops, a command that never executed gives up its SN; `done` is
/// set; then PRE_XMIT_RESP2 at once.
fn scst_pre_xmit_response1(cmd: &Arc<ScstCmd>) -> i32 {
    let (tgt_dev, queue_type, sent, order_data, hq_inced) = {
        let d = cmd.d.lock();
        (
            d.tgt_dev.clone(),
            d.queue_type,
            d.sent_for_exec,
            d.cur_order_data.clone(),
            d.hq_cmd_inced,
        )
    };
    if let Some(tgt_dev) = tgt_dev {
        // These counters bound the processing latency, so they drop once the command is
        // complete.
        atomic_dec(&tgt_dev.tgt_dev_cmd_count);
        if queue_type == SCST_CMD_QUEUE_HEAD_OF_QUEUE {
            if let (Some(od), true) = (order_data, hq_inced) {
                scst_on_hq_cmd_response(&od);
            }
        } else if !sent {
            // scst_post_exec_sn() cannot run in parallel: the command was never sent.
            TRACE_SN!("cmd not sent to exec (sn {})", cmd.sn.load(SeqCst));
            if let Some(od) = order_data {
                scst_unblock_deferred(&od, cmd);
            }
        }
    }
    cmd.done.store(true, SeqCst);
    smp_mb(); // to sync with scst_abort_cmd()
    scst_set_cmd_state(cmd, SCST_CMD_STATE_PRE_XMIT_RESP2);
    scst_pre_xmit_response2(cmd)
}

/// C `scst_on_hq_cmd_response()`: a HEAD OF QUEUE command answered; ordered commands held
/// back by it may go.
fn scst_on_hq_cmd_response(order_data: &ScstOrderData) {
    let mut l = order_data.sn_lock.lock_irq();
    l.hq_cmd_count -= 1;
    let go = l.hq_cmd_count == 0;
    drop(l);
    if go {
        scst_make_deferred_commands_active(order_data);
    }
}

/// C `scst_xmit_response()` (state XMIT_RESP): the driver's `xmit_response()`; the command
/// waits in XMIT_WAIT for [`scst_tgt_cmd_done`]. QUEUE FULL retries, NEED_THREAD_CTX
/// reschedules, anything else finishes the command without a response.
fn scst_xmit_response(cmd: &Arc<ScstCmd>) -> i32 {
    let tgtt = &cmd.tgtt;
    if !tgtt.xmit_response_atomic && scst_cmd_atomic(cmd) {
        TRACE_DBG!(
            "Target driver {} xmit_response() needs thread context, rescheduling",
            tgtt.name
        );
        return SCST_CMD_STATE_RES_NEED_THREAD;
    }
    scst_set_cmd_state(cmd, SCST_CMD_STATE_XMIT_WAIT);
    TRACE_DBG!("Calling xmit_response()");
    let rc = tgtt.ops.xmit_response(cmd);
    TRACE_DBG!("xmit_response() returned {}", rc);
    // The command may be finished already (scst_tgt_cmd_done() from inside).
    if rc == SCST_TGT_RES_SUCCESS {
        return SCST_CMD_STATE_RES_CONT_NEXT;
    }
    // Restore the previous state.
    scst_set_cmd_state(cmd, SCST_CMD_STATE_XMIT_RESP);
    match rc {
        SCST_TGT_RES_QUEUE_FULL => {
            crate::scst_lib::scst_queue_retry_cmd(cmd);
            SCST_CMD_STATE_RES_CONT_NEXT
        }
        SCST_TGT_RES_NEED_THREAD_CTX => SCST_CMD_STATE_RES_NEED_THREAD,
        _ => {
            if rc == SCST_TGT_RES_FATAL_ERROR {
                PRINT_ERROR!(
                    "Target driver {} xmit_response() returned fatal error",
                    tgtt.name
                );
            } else {
                PRINT_ERROR!(
                    "Target driver {} xmit_response() returned invalid value {}",
                    tgtt.name,
                    rc
                );
            }
            let mut d = cmd.d.lock();
            d.status = 0;
            let (k, a, q) = SCST_LOAD_SENSE(scst_sense_hardw_error);
            scst_set_cmd_error_locked(&mut d, k, a, q);
            scst_set_cmd_state(cmd, SCST_CMD_STATE_FINISHED);
            SCST_CMD_STATE_RES_CONT_SAME
        }
    }
}

/// C `scst_tgt_cmd_done()`: the driver sent the response (set a failed delivery with
/// `scst_set_delivery_status()` first); the command finishes in `pref_context`.
pub fn scst_tgt_cmd_done(cmd: &Arc<ScstCmd>, pref_context: ScstExecContext) {
    let state = scst_cmd_get_state(cmd);
    if state != SCST_CMD_STATE_XMIT_WAIT {
        PRINT_CRIT_ERROR!("scst_tgt_cmd_done() for a command in state {:?}", state);
        panic!("scst_tgt_cmd_done: command not in XMIT_WAIT");
    }
    let mut pref_context = pref_context;
    if cmd.d.lock().tgt_dev.is_none() {
        pref_context = SCST_CONTEXT_THREAD;
    }
    scst_set_cmd_state(cmd, SCST_CMD_STATE_FINISHED);
    scst_process_redirect_cmd(cmd, pref_context, true);
}

/// C `scst_finish_cmd()` (state FINISHED): off the session's list and counters, then the
/// command's own reference goes (the last put frees it).
fn scst_finish_cmd(cmd: &Arc<ScstCmd>) -> i32 {
    let sess = &cmd.sess;
    let requeue = {
        let d = cmd.d.lock();
        d.delivery_status != SCST_CMD_DELIVERY_SUCCESS
            && d.tgt_dev.is_some()
            && d.status == SAM_STAT_CHECK_CONDITION
            && d.sense
                .as_ref()
                .is_some_and(|s| scst_is_ua_sense(&s[..d.sense_valid_len.min(s.len())]))
    };
    if requeue {
        // This UA delivery failed, so it must be requeued (C needs a thread for a global
        // one; here every context may take the locks).
        scst_requeue_ua(cmd, None);
    }
    atomic_dec(&sess.sess_cmd_count);
    let mut l = sess.sess_list_lock.lock_irq();
    if let Some(h) = cmd.sess_cmd_list_entry.take() {
        l.sess_cmd_list.del(h);
    }
    // Under sess_list_lock to sync with scst_abort_cmd() without a barrier.
    cmd.finished.store(true, SeqCst);
    drop(l);
    if test_bit(SCST_CMD_ABORTED, &cmd.cmd_flags) {
        scst_finish_cmd_mgmt(cmd);
    }
    __scst_cmd_put(cmd);
    SCST_CMD_STATE_RES_CONT_NEXT
}

/// C `scst_finish_internal_cmd()` (state FINISHED_INTERNAL): internal commands (REQUEST
/// SENSE for a pass-through device) do not exist in the port yet; the command is released.
fn scst_finish_internal_cmd(cmd: &Arc<ScstCmd>) -> i32 {
    __scst_cmd_put(cmd);
    SCST_CMD_STATE_RES_CONT_NEXT
}

/// C `scst_cmd_set_sn()`: the SN and slot of a command. Commands that may run in parallel
/// (SIMPLE) share a slot and an SN; an ORDERED command gets a new SN that the following
/// commands wait for; HEAD OF QUEUE commands have none (they are counted). No locks on the
/// fast path: calls for one `tgt_dev` are serialised by the target driver.
///
/// In full compliance with SAM this may reorder conflicting SIMPLE READs and WRITEs (with
/// overlapping data): an initiator must not send such commands without waiting, or must use
/// ORDERED ones.
fn scst_cmd_set_sn(cmd: &Arc<ScstCmd>) {
    let (order_data, mut queue_type, op_flags, queue_alg) = {
        let d = cmd.d.lock();
        (
            d.cur_order_data.clone(),
            d.queue_type,
            d.op_flags,
            d.dev.as_ref().map_or(1, |x| atomic_read(&x.queue_alg)),
        )
    };
    let Some(od) = order_data else { return };
    if op_flags & SCST_IMPLICIT_HQ != 0 && queue_type == SCST_CMD_QUEUE_SIMPLE {
        TRACE_SN!("Implicit HQ cmd");
        queue_type = SCST_CMD_QUEUE_HEAD_OF_QUEUE;
    }
    if queue_alg == i32::from(SCST_QUEUE_ALG_0_RESTRICTED_REORDER)
        && queue_type != SCST_CMD_QUEUE_HEAD_OF_QUEUE
    {
        // Good enough until the queue type can be given with pass-through commands.
        queue_type = SCST_CMD_QUEUE_ORDERED;
    }
    if queue_type == SCST_CMD_QUEUE_UNTAGGED {
        // Processed further as SIMPLE.
        queue_type = SCST_CMD_QUEUE_SIMPLE;
    }

    let mut ordered = queue_type == SCST_CMD_QUEUE_ORDERED;
    match queue_type {
        SCST_CMD_QUEUE_SIMPLE => {
            if od.prev_cmd_ordered.load(SeqCst) {
                let cur = od.cur_sn_slot.load(SeqCst);
                if atomic_read(&od.sn_slots[cur]) != 0 {
                    let next = (cur + 1) % SCST_SN_SLOTS;
                    od.cur_sn_slot.store(next, SeqCst);
                    if atomic_read(&od.sn_slots[next]) != 0 {
                        PRINT_WARNING!("Not enough SN slots");
                        ordered = true;
                    }
                }
                if !ordered {
                    od.curr_sn.fetch_add(1, SeqCst);
                    od.prev_cmd_ordered.store(false, SeqCst);
                    // expected_sn will be (or was) incremented by the previous ORDERED
                    // command.
                }
            }
            if !ordered {
                let slot = od.cur_sn_slot.load(SeqCst);
                atomic_inc(&od.sn_slots[slot]);
                cmd.sn_slot
                    .store(isize::try_from(slot).unwrap_or(-1), SeqCst);
                cmd.sn.store(od.curr_sn.load(SeqCst), SeqCst);
                cmd.sn_set.store(true, SeqCst);
            }
        }
        SCST_CMD_QUEUE_ORDERED => {}
        SCST_CMD_QUEUE_HEAD_OF_QUEUE => {
            od.sn_lock.lock_irqsave().hq_cmd_count += 1;
            let mut d = cmd.d.lock();
            d.hq_cmd_inced = true;
            d.queue_type = queue_type;
            return;
        }
        SCST_CMD_QUEUE_ACA => {
            // Nothing to do.
            cmd.d.lock().queue_type = queue_type;
            return;
        }
        q => {
            PRINT_CRIT_ERROR!("Unknown queue type {}", q);
            return;
        }
    }
    if ordered {
        od.curr_sn.fetch_add(1, SeqCst);
        if !od.prev_cmd_ordered.load(SeqCst) {
            od.prev_cmd_ordered.store(true, SeqCst);
            let mut l = od.sn_lock.lock_irqsave();
            let cur = od.cur_sn_slot.load(SeqCst);
            // If no command will reach scst_inc_expected_sn(), increment it here.
            if atomic_read(&od.sn_slots[cur]) == 0 {
                scst_inc_expected_sn_idle(&od, &mut l);
            } else {
                l.pending_simple_inc_expected_sn += 1;
                smp_mb(); // to sync with scst_inc_expected_sn()
                if atomic_read(&od.sn_slots[cur]) == 0 {
                    l.pending_simple_inc_expected_sn -= 1;
                    scst_inc_expected_sn_idle(&od, &mut l);
                }
            }
        }
        cmd.sn.store(od.curr_sn.load(SeqCst), SeqCst);
        cmd.sn_set.store(true, SeqCst);
    }
    cmd.d.lock().queue_type = queue_type;
    TRACE_SN!(
        "cmd sn {} (cur_sn_slot {})",
        cmd.sn.load(SeqCst),
        od.cur_sn_slot.load(SeqCst)
    );
}

/// C `scst_inc_expected_sn_idle()`: increments the expected SN with `sn_lock` held and
/// activates the deferred commands.
fn scst_inc_expected_sn_idle(
    order_data: &ScstOrderData,
    l: &mut kemu::sync::SpinLockGuard<'_, ScstSnLocked>,
) {
    order_data.expected_sn.fetch_add(1, SeqCst);
    // The write must come before def_cmd_count is read (see scst_exec_check_sn()).
    smp_mb();
    if atomic_read(&order_data.def_cmd_count) != 0 {
        let _ = __scst_check_deferred_commands_locked(order_data, l, false);
    }
}

/// C `scst_lookup_tgt_dev()`: the session's nexus for `lun`.
pub fn scst_lookup_tgt_dev(sess: &ScstSession, lun: u64) -> Option<Arc<ScstTgtDev>> {
    let l = sess.sess_tgt_dev_list.read();
    l[SESS_TGT_DEV_LIST_HASH_FN(lun)]
        .iter()
        .find(|(_, t)| t.lun == lun)
        .map(|(_, t)| t.clone())
}

/// C `scst_translate_lun()`: binds the command to its nexus, device, handler, threads and SN
/// state, holding activity (`scst_get()`); 0 on success, < 0 for no such LUN (or a device
/// without handler). (> 0, "wait for activity to resume", comes with activity suspension.)
fn scst_translate_lun(cmd: &Arc<ScstCmd>) -> i32 {
    scst_get();
    let lun = cmd.d.lock().lun;
    TRACE_DBG!("Finding tgt_dev for cmd (lun {})", lun);
    let mut res = -1;
    if let Some(tgt_dev) = scst_lookup_tgt_dev(&cmd.sess, lun) {
        let handler = tgt_dev.dev.handler_for_cmds.read().clone();
        if !Arc::ptr_eq(&handler, &scst_null_devtype()) {
            let mut d = cmd.d.lock();
            d.cmd_threads = tgt_dev.active_cmd_threads.clone();
            d.cur_order_data = Some(tgt_dev.curr_order_data.clone());
            d.dev = Some(tgt_dev.dev.clone());
            d.devt = Some(handler);
            d.tgt_dev = Some(tgt_dev);
            res = 0;
        } else {
            PRINT_INFO!(
                "Dev handler for device {} is NULL, the device will not be visible remotely",
                lun
            );
        }
    } else {
        TRACE!(
            TRACE_MINOR,
            "tgt_dev for LUN {} not found, command to unexisting LU (initiator {}, target {})?",
            lun,
            cmd.sess.initiator_name,
            cmd.tgt.tgt_name
        );
    }
    if res != 0 {
        scst_put();
    }
    res
}

/// What the ACA check of `__scst_init_cmd()` decided for a command.
enum ScstAcaVerdict {
    /// No ACA on the task set.
    NoAca,
    /// The command may go on (`cmd_aca_allowed`).
    Allow,
    /// ACA ACTIVE status.
    AcaActive,
    /// An ACA command from a nexus other than the faulted one: INVALID MESSAGE, then ACA
    /// ACTIVE (which, the status being already set, leaves the CHECK CONDITION).
    WrongNexusAca,
    /// A command without NACA from another nexus: BUSY.
    Busy,
}

/// The ACA part of C `__scst_init_cmd()`. While ACA is active on the task set, the faulted
/// nexus may send only one ACA-attribute command at a time (it becomes `aca_cmd`); anything
/// else from it ends with ACA ACTIVE. Other nexuses get BUSY (ACA ACTIVE if their command has
/// NACA set), and an ACA command from them is invalid; PERSISTENT RESERVE OUT with PREEMPT
/// AND ABORT from them passes, as it may clear the ACA. Without ACA an ACA-attribute command
/// is invalid. True if the command was finished here.
fn scst_init_cmd_check_aca(cmd: &Arc<ScstCmd>) -> bool {
    let (order_data, tgt_dev, queue_type, naca, pr_preempt_abort, status) = {
        let d = cmd.d.lock();
        (
            d.cur_order_data.clone(),
            d.tgt_dev.clone(),
            d.queue_type,
            d.cmd_naca,
            scst_is_pr_preempt_and_abort(&d.cdb),
            d.status,
        )
    };
    let verdict = match (&order_data, &tgt_dev) {
        (Some(od), Some(tgt_dev)) if od.aca_tgt_dev.load(SeqCst) != 0 => {
            let mut l = od.sn_lock.lock_irqsave();
            let aca_tgt_dev = od.aca_tgt_dev.load(SeqCst);
            let v = if aca_tgt_dev == 0 {
                // Cleared meanwhile.
                ScstAcaVerdict::NoAca
            } else if aca_tgt_dev == scst_tgt_dev_id(tgt_dev) {
                if queue_type != SCST_CMD_QUEUE_ACA
                    || l.aca_cmd.is_some()
                    || tgt_dev.dev.tmf_only.load(SeqCst)
                {
                    TRACE_DBG!("Refusing cmd, because ACA active");
                    ScstAcaVerdict::AcaActive
                } else {
                    TRACE_MGMT_DBG!("ACA cmd (lun {})", tgt_dev.lun);
                    l.aca_cmd = Some(cmd.clone());
                    ScstAcaVerdict::Allow
                }
            } else if queue_type == SCST_CMD_QUEUE_ACA {
                TRACE_MGMT_DBG!("Refusing ACA cmd from wrong I_T nexus");
                ScstAcaVerdict::WrongNexusAca
            } else if pr_preempt_abort {
                TRACE_MGMT_DBG!("Allow PR PREEMPT AND ABORT cmd during ACA");
                ScstAcaVerdict::Allow
            } else if naca {
                TRACE_DBG!("Refusing other IT-nexus cmd, because ACA active");
                ScstAcaVerdict::AcaActive
            } else {
                TRACE_DBG!("Refusing other IT-nexus cmd, because ACA active");
                ScstAcaVerdict::Busy
            };
            if matches!(v, ScstAcaVerdict::Allow) {
                // Set under sn_lock, as C does.
                cmd.d.lock().cmd_aca_allowed = true;
            }
            v
        }
        _ => ScstAcaVerdict::NoAca,
    };
    let mut d = cmd.d.lock();
    match verdict {
        ScstAcaVerdict::Allow => return false,
        ScstAcaVerdict::NoAca => {
            if queue_type != SCST_CMD_QUEUE_ACA || status != 0 {
                return false;
            }
            TRACE_MGMT_DBG!("Refusing ACA cmd, because there's no ACA");
            let (k, a, q) = SCST_LOAD_SENSE(scst_sense_invalid_message);
            scst_set_cmd_error_locked(&mut d, k, a, q);
            scst_set_cmd_abnormal_done_state_locked(cmd, &mut d);
            return true;
        }
        ScstAcaVerdict::WrongNexusAca => {
            let (k, a, q) = SCST_LOAD_SENSE(scst_sense_invalid_message);
            scst_set_cmd_error_locked(&mut d, k, a, q);
            scst_set_cmd_error_status_locked(&mut d, SAM_STAT_ACA_ACTIVE);
        }
        ScstAcaVerdict::AcaActive => {
            scst_set_cmd_error_status_locked(&mut d, SAM_STAT_ACA_ACTIVE);
        }
        ScstAcaVerdict::Busy => {
            scst_set_cmd_error_status_locked(&mut d, SAM_STAT_BUSY);
        }
    }
    // So that scst_pre_xmit_response2() does not hold the answer back for the ACA.
    d.cmd_aca_allowed = true;
    scst_set_cmd_abnormal_done_state_locked(cmd, &mut d);
    true
}

/// PERSISTENT RESERVE OUT with the PREEMPT AND ABORT service action.
pub(crate) fn scst_is_pr_preempt_and_abort(cdb: &[u8]) -> bool {
    cdb.first() == Some(&PERSISTENT_RESERVE_OUT)
        && cdb.get(1).is_some_and(|b| b & 0x1f == PR_PREEMPT_AND_ABORT)
}

/// C `__scst_init_cmd()`: LUN translation, the nexus's command limit (BUSY beyond it), CDB
/// decoding and the SN. 0 on success (state PARSE), > 0 to wait, < 0 for no LUN (the command
/// is finished with LOGICAL UNIT NOT SUPPORTED).
fn __scst_init_cmd(cmd: &Arc<ScstCmd>) -> i32 {
    let res = scst_translate_lun(cmd);
    if res == 0 {
        scst_set_cmd_state(cmd, SCST_CMD_STATE_PARSE);
        let (tgt_dev, dev) = {
            let d = cmd.d.lock();
            (d.tgt_dev.clone(), d.dev.clone())
        };
        if let (Some(tgt_dev), Some(dev)) = (tgt_dev, dev) {
            let cnt = atomic_inc_return(&tgt_dev.tgt_dev_cmd_count);
            let max = match atomic_read(&dev.max_tgt_dev_commands) {
                0 => SCST_MAX_TGT_DEV_COMMANDS,
                m => m,
            };
            if cnt > max {
                TRACE!(
                    TRACE_FLOW_CONTROL,
                    "Too many pending commands ({}) in session, returning BUSY to initiator \"{}\"",
                    cnt,
                    cmd.sess.initiator_name
                );
                // Better to deliver BUSY as soon as possible than to delay it by ACA.
                let mut d = cmd.d.lock();
                scst_set_busy_locked(&mut d, &cmd.sess);
                d.cmd_aca_allowed = true;
                scst_set_cmd_abnormal_done_state_locked(cmd, &mut d);
                return 0;
            }
        }
        scst_pre_parse(cmd);
        if scst_init_cmd_check_aca(cmd) {
            return 0;
        }
        if cmd.d.lock().set_sn_on_restart_cmd {
            return 0;
        }
        if !cmd.tgtt.multithreaded_init_done {
            scst_cmd_set_sn(cmd);
        } else {
            let od = cmd.d.lock().cur_order_data.clone();
            if let Some(od) = od {
                let _g = od.init_done_lock.lock_irqsave();
                scst_cmd_set_sn(cmd);
            }
        }
    } else if res < 0 {
        let mut d = cmd.d.lock();
        let (k, a, q) = SCST_LOAD_SENSE(scst_sense_lun_not_supported);
        scst_set_cmd_error_locked(&mut d, k, a, q);
        scst_set_cmd_abnormal_done_state_locked(cmd, &mut d);
    }
    res
}

/// C `scst_do_job_init()`: `scst_initd`'s work: initialise the queued commands in order and
/// move them to their pools. Called with `scst_init_lock` held (dropped around each
/// command).
fn scst_do_job_init(l: &mut kemu::sync::SpinLockGuard<'_, ScstInitLists>) {
    while let Some(cmd) = l.scst_init_cmd_list.first().map(|(_, c)| c.clone()) {
        if !test_bit(SCST_CMD_ABORTED, &cmd.cmd_flags) {
            let rc = kemu::sync::SpinLockGuard::unlocked(l, || __scst_init_cmd(&cmd));
            if rc > 0 {
                TRACE_MGMT_DBG!("FLAG SUSPENDED set, restarting");
                continue;
            }
        } else {
            TRACE_MGMT_DBG!("Aborting not inited cmd (tag {})", scst_cmd_get_tag(&cmd));
            scst_set_cmd_abnormal_done_state(&cmd);
        }
        // Deleted only after __scst_init_cmd(), so that scst_init_cmd()'s emptiness check
        // keeps the order. The race of an empty-looking list while one command is being
        // queued only concerns commands the target driver submits in parallel, whose order
        // scst_cmd_init_done() does not guarantee anyway.
        if let Some(h) = cmd.cmd_list_entry.take() {
            l.scst_init_cmd_list.del(h);
        }
        kemu::sync::SpinLockGuard::unlocked(l, || scst_add_to_active_cmd_list(&cmd));
    }
}

/// C `scst_process_active_cmd()`: the dispatcher of the state machine (see the section
/// comment). `atomic` is the caller's context.
pub fn scst_process_active_cmd(cmd: &Arc<ScstCmd>, atomic: bool) {
    let mut cmd = cmd.clone();
    cmd.d.lock().atomic = atomic;
    TRACE_DBG!(
        "cmd state {:?}, atomic {}",
        scst_cmd_get_state(&cmd),
        atomic
    );
    let res = loop {
        let state = scst_cmd_get_state(&cmd);
        let res = match state {
            SCST_CMD_STATE_PARSE => scst_parse_cmd(&cmd),
            SCST_CMD_STATE_PREPARE_SPACE => scst_prepare_space(&cmd),
            SCST_CMD_STATE_PREPROCESSING_DONE => scst_preprocessing_done(&cmd),
            SCST_CMD_STATE_RDY_TO_XFER => scst_rdy_to_xfer(&cmd),
            SCST_CMD_STATE_TGT_PRE_EXEC => scst_tgt_pre_exec(&cmd),
            // From here the command, its session and tgt_dev may be freed on return.
            SCST_CMD_STATE_EXEC_CHECK_SN => scst_exec_check_sn(&mut cmd),
            SCST_CMD_STATE_EXEC_CHECK_BLOCKING => scst_exec_check_blocking(&mut cmd),
            SCST_CMD_STATE_LOCAL_EXEC => scst_local_exec(&cmd),
            SCST_CMD_STATE_REAL_EXEC => scst_real_exec(&cmd),
            SCST_CMD_STATE_PRE_DEV_DONE => scst_pre_dev_done(&cmd),
            SCST_CMD_STATE_MODE_SELECT_CHECKS => scst_mode_select_checks(&cmd),
            SCST_CMD_STATE_DEV_DONE => scst_dev_done(&cmd),
            SCST_CMD_STATE_PRE_XMIT_RESP1 => scst_pre_xmit_response1(&cmd),
            SCST_CMD_STATE_PRE_XMIT_RESP2 => scst_pre_xmit_response2(&cmd),
            SCST_CMD_STATE_XMIT_RESP => scst_xmit_response(&cmd),
            SCST_CMD_STATE_FINISHED => scst_finish_cmd(&cmd),
            SCST_CMD_STATE_FINISHED_INTERNAL => scst_finish_internal_cmd(&cmd),
            // C's PRE_XMIT_RESP entry (a restarted command without tgt_dev) continues as
            // PRE_XMIT_RESP1, whose tgt_dev part it skips.
            SCST_CMD_STATE_PRE_XMIT_RESP => {
                scst_set_cmd_state(&cmd, SCST_CMD_STATE_PRE_XMIT_RESP1);
                SCST_CMD_STATE_RES_CONT_SAME
            }
            s => {
                PRINT_CRIT_ERROR!("cmd in state {:?}, but shouldn't be", s);
                panic!("scst_process_active_cmd: command in a wrong state");
            }
        };
        if res != SCST_CMD_STATE_RES_CONT_SAME {
            break res;
        }
    };
    if res == SCST_CMD_STATE_RES_NEED_THREAD {
        let p = cmd.d.lock().cmd_threads.clone();
        let mut l = p.cmd_list_lock.lock_irq();
        let h = l.active_cmd_list.add(cmd.clone());
        cmd.cmd_list_entry.set(h);
        wake_up(&p.cmd_list_waitQ);
        drop(l);
    } else if res != SCST_CMD_STATE_RES_CONT_NEXT {
        PRINT_CRIT_ERROR!("Unexpected state function result {}", res);
    }
}

/// C `scst_do_job_active()`: runs every command of `cmd_list` (used by the tasklet in C).
pub fn scst_do_job_active(p: &ScstCmdThreads, atomic: bool) {
    let mut l = p.cmd_list_lock.lock_irq();
    while let Some(cmd) = l.active_cmd_list.pop_front() {
        cmd.cmd_list_entry.take();
        kemu::sync::SpinLockGuard::unlocked(&mut l, || scst_process_active_cmd(&cmd, atomic));
    }
}

/// C `scst_init_session()`'s tail for commands that arrived while the session was
/// initialising: they restart with `scst_cmd_init_done()` in thread context.
fn scst_restart_init_deferred_cmds(sess: &Arc<ScstSession>) {
    // The management commands that arrived meanwhile go to scsi_tm.
    let mut mwake = false;
    {
        let mut sl = sess.sess_list_lock.lock_irq();
        let mut ml = scst_mcmd_lock.lock();
        while let Some(mcmd) = sl.init_deferred_mcmd_list.pop_front() {
            TRACE_DBG!(
                "Moving mgmt command {:?} from init deferred mcmd list",
                mcmd
            );
            let h = ml.scst_active_mgmt_cmd_list.add_tail(mcmd.clone());
            mcmd.mgmt_cmd_list_entry.set(h);
            mwake = true;
        }
    }
    if mwake {
        wake_up(&scst_mgmt_cmd_list_waitQ);
    }
    let mut l = sess.sess_list_lock.lock_irq();
    while let Some(cmd) = l.init_deferred_cmd_list.pop_front() {
        cmd.cmd_list_entry.take();
        TRACE_DBG!("Restarting deferred cmd");
        atomic_dec(&sess.sess_cmd_count);
        kemu::sync::SpinLockGuard::unlocked(&mut l, || {
            scst_cmd_init_done(&cmd, SCST_CONTEXT_THREAD)
        });
    }
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

/// C `scst_init_session()`'s TransportID step: the driver's
/// `get_initiator_port_transport_id()` (if it has one) gives `sess->transport_id`.
fn scst_sess_get_transport_id(sess: &Arc<ScstSession>) -> Result<(), Errno> {
    match sess
        .tgt
        .tgtt
        .ops
        .get_initiator_port_transport_id(&sess.tgt, Some(sess))
    {
        None => Ok(()),
        Some(Ok(tid)) => {
            *sess.transport_id.write() = Some(tid);
            Ok(())
        }
        Some(Err(e)) => {
            PRINT_ERROR!(
                "Unable to make initiator {} port transport id",
                sess.initiator_name
            );
            Err(e)
        }
    }
}

/// C `scst_init_session()`: binds the session to its access group and adds it to the group's
/// and the target's lists (under `scst_mutex`), then reports the result to `init_result_fn`
/// (only an atomic registration has one), creates the session's `tgt_dev`s
/// (`scst_sess_alloc_tgt_devs()`), restarts the commands that arrived meanwhile, marks the
/// session ready and drops the reference held during initialisation.
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

            let tid_res = scst_sess_get_transport_id(sess);
            let name = scst_get_unique_sess_name(&g, &sess.tgt, &sess.initiator_name);
            *sess.sess_name.access_mut(&mut g) = Some(name);
            let h = sess
                .tgt
                .sysfs_sess_list
                .access_mut(&mut g)
                .add_tail(sess.clone());
            sess.sysfs_sess_list_entry.set(h);
            tid_res.and_then(|()| crate::scst_lib::scst_sess_alloc_tgt_devs(&mut g, sess))
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
    // Commands that arrived meanwhile go now (a failed session answers them BUSY).
    scst_restart_init_deferred_cmds(sess);
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
/// `result_fn` ran. The session's commands are aborted first by the internal
/// `SCST_UNREG_SESS_TM` task management function, which holds the session until they are
/// finished.
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

    // Abort all outstanding commands (and clear the reservation: with reservations).
    if let Err(e) = scst_rx_mgmt_fn_lun(sess, SCST_UNREG_SESS_TM, None, true, None) {
        PRINT_ERROR!(
            "SCST_UNREG_SESS_TM failed {:?} (sess {})",
            e,
            sess.initiator_name
        );
    }

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

// ---------------------------------------------------------------------------------------------
// Task management: scst_rx_mgmt_fn() → scsi_tm (scst_process_mgmt_cmd()) → the target
// driver's task_mgmt_fn_done()
// ---------------------------------------------------------------------------------------------
//
// A management command goes through the `SCST_MCMD_STATE_*` states on the `scsi_tm` thread:
// INIT (find the command or the nexus), EXEC (mark the affected commands aborted), then it
// waits until the aborted commands that were executing are done (AFFECTED_CMDS_DONE) and those
// of its own initiator are finished (DONE), so that no response of an aborted task follows the
// TM response (SAM), and no command with the same tag can arrive while the old one still runs.
// Commands report through their `mgmt_cmd_list` stubs (`scst_done_cmd_mgmt()`,
// `scst_finish_cmd_mgmt()`), which requeue the management command to `scsi_tm`.
//
// Not ported: device blocking (`scst_block_dev()` around LUN and target resets; new commands
// may execute while the reset runs), activity suspension (management commands are never
// delayed), the async `scst_prepare_async_mcmd()`/`scst_async_mcmd_completed()` pair.

/// `mcmd->state = state`, under `scst_mcmd_lock` as C's readers expect.
fn scst_mcmd_set_state(mcmd: &ScstMgmtCmd, state: McmdState) {
    let mut l = scst_mcmd_lock.lock_irq();
    mcmd.mc.access_mut(&mut l).state = state;
}

/// C `scst_get_mgmt()`: holds activity for the management command (activity is never
/// suspended in the port, so it always succeeds: 0).
fn scst_get_mgmt(_mcmd: &ScstMgmtCmd) -> i32 {
    scst_get();
    0
}

/// C `scst_mgmt_translate_lun()`: the nexus of the management command's LUN; 0 on success,
/// < 0 if there is none.
fn scst_mgmt_translate_lun(mcmd: &ScstMgmtCmd) -> i32 {
    TRACE_DBG!("Finding tgt_dev for mgmt cmd (lun {})", mcmd.lun);
    let res = scst_get_mgmt(mcmd);
    if res != 0 {
        return res;
    }
    match scst_lookup_tgt_dev(&mcmd.sess, mcmd.lun) {
        Some(tgt_dev) => {
            TRACE_DBG!("tgt_dev {:?} found", tgt_dev);
            mcmd.d.lock().mcmd_tgt_dev = Some(tgt_dev);
            0
        }
        None => {
            scst_put();
            -1
        }
    }
}

/// Queues the management command for `scsi_tm` (the caller wakes it). `scst_mcmd_lock` held.
fn scst_add_active_mgmt_cmd(l: &mut ScstMcmdLists, mcmd: &Arc<ScstMgmtCmd>) {
    TRACE_MGMT_DBG!("Adding mgmt cmd {:?} to active mgmt cmd list", mcmd);
    let h = l.scst_active_mgmt_cmd_list.add_tail(mcmd.clone());
    mcmd.mgmt_cmd_list_entry.set(h);
}

/// C `scst_done_cmd_mgmt()`: an aborted command is done (its execution is over): the
/// management commands waiting for that go on. No locks held.
pub fn scst_done_cmd_mgmt(cmd: &ScstCmd) {
    let mut wake = false;
    TRACE_MGMT_DBG!("cmd done (tag {})", scst_cmd_get_tag(cmd));
    let mut l = scst_mcmd_lock.lock_irqsave();
    let stubs = std::mem::take(cmd.mgmt_cmd_list.access_mut(&mut l));
    let mut keep = Vec::with_capacity(stubs.len());
    for mstb in stubs {
        if !mstb.done_counted {
            keep.push(mstb);
            continue;
        }
        let mcmd = mstb.mcmd.clone();
        let activate = {
            let mc = mcmd.mc.access_mut(&mut l);
            TRACE_MGMT_DBG!(
                "mcmd {:?}, mcmd->cmd_done_wait_count {}",
                mcmd,
                mc.cmd_done_wait_count
            );
            mc.cmd_done_wait_count -= 1;
            if mc.cmd_done_wait_count < 0 {
                PRINT_CRIT_ERROR!("cmd_done_wait_count below 0 ({:?})", mcmd);
            }
            if mc.cmd_done_wait_count > 0 {
                TRACE_MGMT_DBG!(
                    "cmd_done_wait_count({}) not 0, skipping",
                    mc.cmd_done_wait_count
                );
                false
            } else if mc.state == SCST_MCMD_STATE_WAITING_AFFECTED_CMDS_DONE {
                mc.state = SCST_MCMD_STATE_AFFECTED_CMDS_DONE;
                true
            } else {
                false
            }
        };
        if activate {
            scst_add_active_mgmt_cmd(&mut l, &mcmd);
            wake = true;
        }
        // The stub stays while the command's finish is still awaited.
        if mstb.finish_counted {
            keep.push(mstb);
        } else {
            TRACE_DBG!("Releasing mstb");
        }
    }
    *cmd.mgmt_cmd_list.access_mut(&mut l) = keep;
    drop(l);
    if wake {
        wake_up(&scst_mgmt_cmd_list_waitQ);
    }
}

/// C `__scst_dec_finish_wait_count()`: one awaited command finished; the management command
/// goes on once nothing is awaited any more. `scst_mcmd_lock` held.
fn __scst_dec_finish_wait_count(
    l: &mut kemu::sync::SpinLockGuard<'_, ScstMcmdLists>,
    mcmd: &Arc<ScstMgmtCmd>,
    wake: &mut bool,
) {
    let activate = {
        let mc = mcmd.mc.access_mut(l);
        mc.cmd_finish_wait_count -= 1;
        if mc.cmd_finish_wait_count < 0 {
            PRINT_CRIT_ERROR!("cmd_finish_wait_count below 0 ({:?})", mcmd);
        }
        if mc.cmd_finish_wait_count > 0 {
            TRACE_MGMT_DBG!(
                "cmd_finish_wait_count({}) not 0, skipping",
                mc.cmd_finish_wait_count
            );
            false
        } else if mc.cmd_done_wait_count > 0 {
            TRACE_MGMT_DBG!(
                "cmd_done_wait_count({}) not 0, skipping",
                mc.cmd_done_wait_count
            );
            false
        } else if mc.state == SCST_MCMD_STATE_WAITING_AFFECTED_CMDS_FINISHED {
            mc.state = SCST_MCMD_STATE_DONE;
            true
        } else {
            false
        }
    };
    if activate {
        scst_add_active_mgmt_cmd(l, mcmd);
        *wake = true;
    }
}

/// C `scst_finish_cmd_mgmt()`: an aborted command finished (its response, if any, is out):
/// every management command waiting for it is told. No locks held.
pub fn scst_finish_cmd_mgmt(cmd: &ScstCmd) {
    let mut wake = false;
    let completed = cmd.d.lock().completed;
    TRACE!(
        kemu::printk::TRACE_MGMT,
        "Aborted cmd finished (tag {}, ref {})",
        scst_cmd_get_tag(cmd),
        atomic_read(&cmd.cmd_ref)
    );
    let mut l = scst_mcmd_lock.lock_irqsave();
    let stubs = std::mem::take(cmd.mgmt_cmd_list.access_mut(&mut l));
    for mstb in stubs {
        let mcmd = mstb.mcmd;
        if !mstb.finish_counted {
            PRINT_CRIT_ERROR!("A management command stub without finish_counted");
        }
        if completed {
            mcmd.mc.access_mut(&mut l).completed_cmd_count += 1;
        }
        __scst_dec_finish_wait_count(&mut l, &mcmd, &mut wake);
        TRACE_DBG!("Releasing mstb");
    }
    drop(l);
    if wake {
        wake_up(&scst_mgmt_cmd_list_waitQ);
    }
}

/// C `scst_call_dev_task_mgmt_fn_received()`: the handler's `task_mgmt_fn_received()`.
fn scst_call_dev_task_mgmt_fn_received(mcmd: &Arc<ScstMgmtCmd>, tgt_dev: &Arc<ScstTgtDev>) {
    mcmd.d.lock().task_mgmt_fn_received_called = true;
    let h = tgt_dev.dev.handler_for_cmds.read().clone();
    TRACE_MGMT_DBG!(
        "Calling dev handler {} task_mgmt_fn_received(fn={:?})",
        h.name,
        mcmd.fn_
    );
    h.ops.task_mgmt_fn_received(mcmd, tgt_dev);
}

/// C `scst_call_dev_task_mgmt_fn_done()`: the handler's `task_mgmt_fn_done()`.
fn scst_call_dev_task_mgmt_fn_done(mcmd: &Arc<ScstMgmtCmd>, tgt_dev: &Arc<ScstTgtDev>) {
    let h = tgt_dev.dev.handler_for_cmds.read().clone();
    TRACE_MGMT_DBG!(
        "Calling dev handler {} task_mgmt_fn_done(fn={:?})",
        h.name,
        mcmd.fn_
    );
    h.ops.task_mgmt_fn_done(mcmd, tgt_dev);
}

/// C `scst_is_strict_mgmt_fn()`: whether an aborted task that completed anyway makes the
/// function answer "task does not exist" (only with
/// `CONFIG_SCST_ABORT_CONSIDER_FINISHED_TASKS_AS_NOT_EXISTING`, not set: never).
fn scst_is_strict_mgmt_fn(_mgmt_fn: TmFn) -> bool {
    false
}

/// C's `other_ini_lock` of `scst_abort_cmd()`: serialises concurrent aborts of one command.
static OTHER_INI_LOCK: kemu::sync::SpinLock<()> = kemu::sync::SpinLock::new(());

/// C `scst_abort_cmd()`: marks `cmd` aborted (by another initiator's function if
/// `other_ini`: then a TAS device answers TASK ABORTED) and, for `mcmd`, records that the
/// function must wait for it: until it is done if it is executing, until it is finished if
/// it is the initiator's own. With `mcmd`, the caller holds the command's session's
/// `sess_list_lock`, to sync with the `finished` flag set in `scst_finish_cmd()`.
pub fn scst_abort_cmd(
    cmd: &Arc<ScstCmd>,
    mcmd: Option<&Arc<ScstMgmtCmd>>,
    other_ini: bool,
    call_dev_task_mgmt_fn_received: bool,
) {
    let (tag, op_name, cmd_dev, tgt_dev, internal) = {
        let d = cmd.d.lock();
        (
            d.tag,
            d.op_name,
            d.dev.clone(),
            d.tgt_dev.clone(),
            d.internal,
        )
    };
    TRACE_MGMT_DBG!("Aborting cmd (tag {}, op {})", tag, op_name);

    {
        // To protect from concurrent aborts.
        let _g = OTHER_INI_LOCK.lock_irqsave();
        if other_ini {
            // Might be necessary if the command is aborted several times.
            if !test_bit(SCST_CMD_ABORTED, &cmd.cmd_flags) {
                set_bit(SCST_CMD_ABORTED_OTHER, &cmd.cmd_flags);
            }
            // Necessary for scst_xmit_process_aborted_cmd().
            let dev = cmd_dev.or_else(|| {
                mcmd.and_then(|m| m.d.lock().mcmd_tgt_dev.as_ref().map(|t| t.dev.clone()))
            });
            match dev {
                Some(dev) => {
                    if dev.tas.load(SeqCst) {
                        set_bit(SCST_CMD_DEVICE_TAS, &cmd.cmd_flags);
                    }
                }
                None => PRINT_WARNING!(
                    "Abort cmd from other initiator, but neither cmd, nor mcmd have tgt_dev set, so TAS information can be lost"
                ),
            }
        } else {
            // Might be necessary if the command is aborted several times.
            kemu::atomic::clear_bit(SCST_CMD_ABORTED_OTHER, &cmd.cmd_flags);
        }
        set_bit(SCST_CMD_ABORTED, &cmd.cmd_flags);
    }

    // To sync with setting cmd->done in scst_pre_xmit_response1() (with scst_finish_cmd()
    // sess_list_lock syncs) and with setting a UA for an aborted command in
    // scst_set_pending_UA().
    smp_mb();

    if tgt_dev.is_none() {
        // It may wait on scst_init_cmd_list: let scst_initd look at it.
        wake_up(&scst_init_cmd_list_waitQ);
    }

    let finished = cmd.finished.load(SeqCst);
    if !finished && call_dev_task_mgmt_fn_received {
        if let (Some(m), Some(t)) = (mcmd, tgt_dev.as_ref()) {
            scst_call_dev_task_mgmt_fn_received(m, t);
        }
    }

    let mut l = scst_mcmd_lock.lock_irqsave();
    if let Some(mcmd) = mcmd {
        if !finished {
            let sent_for_exec = cmd.d.lock().sent_for_exec;
            let done = cmd.done.load(SeqCst);
            let mut mstb = ScstMgmtCmdStub {
                mcmd: mcmd.clone(),
                done_counted: false,
                finish_counted: false,
            };
            {
                let mc = mcmd.mc.access_mut(&mut l);
                // Delay the response until the command finishes, to guarantee that no
                // further responses from the task are sent to the initiator port after the
                // TM response (SAM); to be sure no second command with the same tag arrives
                // meanwhile; and so that an aborted command reported as done cannot execute
                // after newer commands, which could corrupt data.
                if sent_for_exec && !done {
                    TRACE_MGMT_DBG!("cmd (tag {}) is being executed", tag);
                    mstb.done_counted = true;
                    mc.cmd_done_wait_count += 1;
                }
                // The status delivery to other initiators is not waited for: it could
                // disturb MPIO failover.
                if !other_ini {
                    mstb.finish_counted = true;
                    mc.cmd_finish_wait_count += 1;
                }
                if mstb.done_counted || mstb.finish_counted {
                    // The aborts of PREEMPT AND ABORT are routine: traced at debug level.
                    let t = if mcmd.fn_ != SCST_PR_ABORT_ALL {
                        kemu::printk::TRACE_MGMT
                    } else {
                        kemu::printk::TRACE_MGMT_DEBUG
                    };
                    TRACE!(
                        t,
                        "cmd (tag {}, sn {}) being executed/xmitted (state {:?}, op {}), deferring ABORT (cmd_done_wait_count {}, cmd_finish_wait_count {}, mcmd fn {:?}, initiator {})",
                        tag,
                        cmd.sn.load(SeqCst),
                        scst_cmd_get_state(cmd),
                        op_name,
                        mc.cmd_done_wait_count,
                        mc.cmd_finish_wait_count,
                        mcmd.fn_,
                        mcmd.sess.initiator_name
                    );
                }
            }
            if mstb.done_counted || mstb.finish_counted {
                // The command cannot die here: the caller holds sess_list_lock and the
                // command is on the session's list.
                cmd.mgmt_cmd_list.access_mut(&mut l).push(mstb);
            }
            if !internal {
                cmd.tgtt.ops.on_abort_cmd(cmd);
            }
        }
    }
    drop(l);
}

/// C `scst_set_mcmd_next_state()`: the state after EXEC or AFFECTED_CMDS_DONE, or the wait
/// for the affected commands; 0 if the management command goes on now, -1 if it waits.
fn scst_set_mcmd_next_state(mcmd: &ScstMgmtCmd) -> i32 {
    let mut l = scst_mcmd_lock.lock_irq();
    let mc = mcmd.mc.access_mut(&mut l);
    match mc.state {
        SCST_MCMD_STATE_INIT | SCST_MCMD_STATE_EXEC => {
            if mc.cmd_done_wait_count == 0 {
                mc.state = SCST_MCMD_STATE_AFFECTED_CMDS_DONE;
                0
            } else {
                TRACE_MGMT_DBG!(
                    "cmd_done_wait_count({}) not 0, preparing to wait",
                    mc.cmd_done_wait_count
                );
                mc.state = SCST_MCMD_STATE_WAITING_AFFECTED_CMDS_DONE;
                -1
            }
        }
        SCST_MCMD_STATE_AFFECTED_CMDS_DONE => {
            if mc.cmd_finish_wait_count == 0 {
                mc.state = SCST_MCMD_STATE_DONE;
                0
            } else {
                TRACE_MGMT_DBG!(
                    "cmd_finish_wait_count({}) not 0, preparing to wait",
                    mc.cmd_finish_wait_count
                );
                mc.state = SCST_MCMD_STATE_WAITING_AFFECTED_CMDS_FINISHED;
                -1
            }
        }
        SCST_MCMD_STATE_DONE => {
            mc.state = SCST_MCMD_STATE_FINISHED;
            0
        }
        st => {
            PRINT_CRIT_ERROR!(
                "Wrong mcmd state {:?} (fn {:?}, cmd_finish_wait_count {}, cmd_done_wait_count {})",
                st,
                mcmd.fn_,
                mc.cmd_finish_wait_count,
                mc.cmd_done_wait_count
            );
            panic!("scst_set_mcmd_next_state: wrong management command state");
        }
    }
}

/// C `scst_unblock_aborted_cmds()`: aborted commands waiting for their SN (and, in C, on a
/// blocked device: not ported) are sent on, so that they finish. Limited to `tgt`, `sess`
/// and `device` where given. Without `device` all devices are looked at, under `scst_mutex`
/// (`g` when the caller holds it); a device's nexuses are read under its `dev_lock`, so a
/// command thread may call it for its device.
pub fn scst_unblock_aborted_cmds(
    tgt: Option<&ScstTgt>,
    sess: Option<&ScstSession>,
    device: Option<&ScstDevice>,
    g: Option<&ScstMutexGuard<'_>>,
) {
    let devs: Vec<Arc<ScstDevice>> = match device {
        Some(_) => Vec::new(),
        None => {
            let list = |g: &ScstMutexGuard<'_>| {
                g.scst_dev_list
                    .iter()
                    .map(|(_, d)| d.clone())
                    .collect::<Vec<_>>()
            };
            match g {
                Some(g) => list(g),
                None => list(&scst_mutex.lock()),
            }
        }
    };
    let unblock = |dev: &ScstDevice| {
        let tgt_devs = dev.dev_lock.lock_bh().dev_tgt_dev_list.clone();
        for tgt_dev in &tgt_devs {
            let order_data = &tgt_dev.curr_order_data;
            let mut aborted = Vec::new();
            {
                let mut l = order_data.sn_lock.lock_irq();
                let cands: Vec<_> = l
                    .deferred_cmd_list
                    .iter()
                    .map(|(h, c)| (h, c.clone()))
                    .collect();
                for (h, cmd) in cands {
                    if tgt.is_some_and(|t| !std::ptr::eq(t, &*cmd.tgt)) {
                        continue;
                    }
                    if sess.is_some_and(|s| !std::ptr::eq(s, &*cmd.sess)) {
                        continue;
                    }
                    if test_bit(SCST_CMD_ABORTED, &cmd.cmd_flags) {
                        l.deferred_cmd_list.del(h);
                        cmd.cmd_list_entry.take();
                        atomic_dec(&order_data.def_cmd_count);
                        TRACE_MGMT_DBG!("Unblocked aborted SN cmd (sn {})", cmd.sn.load(SeqCst));
                        aborted.push(cmd);
                    }
                }
            }
            // C moves them to their pool's active list under sn_lock; the port does it
            // right after, so that sn_lock is never held with a command's data locked.
            for cmd in aborted {
                scst_add_to_active_cmd_list(&cmd);
            }
        }
    };
    match device {
        Some(dev) => unblock(dev),
        None => {
            for dev in &devs {
                unblock(dev);
            }
        }
    }
}

/// Whether the SN of a command, set by the target driver, is not before the management
/// command's (C: the checks of `__scst_abort_task_set()` and `scst_abort_task()`).
fn scst_mcmd_sn_not_after(mcmd: &ScstMgmtCmd, tgt_sn: u32) -> bool {
    scst_sn_before(mcmd.cmd_sn, tgt_sn) || mcmd.cmd_sn == tgt_sn
}

/// C `__scst_abort_task_set()`: aborts the session's commands of `tgt_dev` (those sent
/// before the management command, if it has an SN). For `SCST_PR_ABORT_ALL` the PREEMPT AND
/// ABORT command itself is spared, and the commands of a session other than its own are
/// aborted as by another initiator.
fn __scst_abort_task_set(mcmd: &Arc<ScstMgmtCmd>, tgt_dev: &Arc<ScstTgtDev>) {
    let sess = &tgt_dev.sess;
    let origin_pr_cmd = if mcmd.fn_ == SCST_PR_ABORT_ALL {
        mcmd.origin_pr_cmd.as_ref()
    } else {
        None
    };
    let other_ini = origin_pr_cmd.is_some_and(|c| !Arc::ptr_eq(&c.sess, sess));
    let l = sess.sess_list_lock.lock_irq();
    TRACE_DBG!("Searching in sess cmd list (sess={})", sess.initiator_name);
    let cmds: Vec<_> = l.sess_cmd_list.iter().map(|(_, c)| c.clone()).collect();
    for cmd in cmds {
        if origin_pr_cmd.is_some_and(|c| Arc::ptr_eq(c, &cmd)) {
            continue;
        }
        let (matches, tgt_sn_set, tgt_sn) = {
            let d = cmd.d.lock();
            let m = match &d.tgt_dev {
                Some(t) => Arc::ptr_eq(t, tgt_dev),
                None => d.lun == tgt_dev.lun,
            };
            (m, d.tgt_sn_set, d.tgt_sn)
        };
        if !matches {
            continue;
        }
        if mcmd.cmd_sn_set {
            if !tgt_sn_set {
                PRINT_CRIT_ERROR!("A command without its SN in a task set with SNs");
            } else if scst_mcmd_sn_not_after(mcmd, tgt_sn) {
                continue;
            }
        }
        scst_abort_cmd(&cmd, Some(mcmd), other_ini, false);
    }
    drop(l);
}

/// The nexus of a management command (set by INIT for the functions that need one).
fn scst_mcmd_tgt_dev(mcmd: &ScstMgmtCmd) -> Option<Arc<ScstTgtDev>> {
    mcmd.d.lock().mcmd_tgt_dev.clone()
}

/// C `scst_abort_task_set()`: ABORT TASK SET. 0 if the management command goes on, < 0 if
/// it waits.
fn scst_abort_task_set(mcmd: &Arc<ScstMgmtCmd>) -> i32 {
    let Some(tgt_dev) = scst_mcmd_tgt_dev(mcmd) else {
        PRINT_CRIT_ERROR!("ABORT TASK SET without tgt_dev");
        return scst_set_mcmd_next_state(mcmd);
    };
    TRACE!(
        kemu::printk::TRACE_MGMT,
        "Aborting task set (lun={}, mcmd={:?})",
        tgt_dev.lun,
        mcmd
    );
    __scst_abort_task_set(mcmd, &tgt_dev);
    if mcmd.fn_ == SCST_PR_ABORT_ALL {
        // The PREEMPT AND ABORT may clear an ACA of the preempted nexus: when it was
        // itself received on a faulted nexus only as an ACA command, otherwise only when
        // it is not one.
        if let Some(orig_pr_cmd) = mcmd.origin_pr_cmd.as_ref() {
            let preempted = scst_mcmd_tgt_dev(mcmd).map(|t| scst_tgt_dev_id(&t));
            if tgt_dev.curr_order_data.aca_tgt_dev.load(SeqCst) != 0
                && preempted == Some(tgt_dev.curr_order_data.aca_tgt_dev.load(SeqCst))
            {
                let (pr_od, pr_tgt_dev, pr_queue_type) = {
                    let d = orig_pr_cmd.d.lock();
                    (d.cur_order_data.clone(), d.tgt_dev.clone(), d.queue_type)
                };
                let pr_on_faulted = match (&pr_od, &pr_tgt_dev) {
                    (Some(od), Some(t)) => od.aca_tgt_dev.load(SeqCst) == scst_tgt_dev_id(t),
                    _ => false,
                };
                let is_aca = pr_queue_type == SCST_CMD_QUEUE_ACA;
                if pr_on_faulted == is_aca {
                    let other = pr_tgt_dev
                        .as_ref()
                        .is_none_or(|t| !Arc::ptr_eq(t, &tgt_dev));
                    scst_clear_aca(&tgt_dev, other);
                }
            }
        }
        //
        // The commands are marked aborted: the PREEMPT AND ABORT command, waiting in
        // scst_pr_preempt_and_abort_wait() for all of its functions to get here, may go on.
        match mcmd
            .origin_pr_cmd
            .as_ref()
            .and_then(|c| c.d.lock().pr_abort_counter.clone())
        {
            Some(pr_cnt) => {
                if atomic_dec_and_test(&pr_cnt.pr_aborting_cnt) {
                    complete_all(&pr_cnt.pr_aborting_cmpl);
                }
            }
            None => PRINT_CRIT_ERROR!("SCST_PR_ABORT_ALL without its PR command's counter"),
        }
    }
    scst_unblock_aborted_cmds(
        Some(&tgt_dev.sess.tgt),
        Some(&tgt_dev.sess),
        Some(&tgt_dev.dev),
        None,
    );
    scst_call_dev_task_mgmt_fn_received(mcmd, &tgt_dev);
    scst_set_mcmd_next_state(mcmd)
}

/// C `scst_is_cmd_belongs_to_dev()`: a command not yet bound to a device is the device's if
/// its LUN maps to it in its session.
fn scst_is_cmd_belongs_to_dev(cmd: &ScstCmd, dev: &ScstDevice) -> bool {
    let lun = cmd.d.lock().lun;
    TRACE_DBG!(
        "Finding match for dev {} and cmd (lun {})",
        dev.virt_name,
        lun
    );
    scst_lookup_tgt_dev(&cmd.sess, lun).is_some_and(|t| std::ptr::eq(&*t.dev, dev))
}

/// C `scst_clear_task_set()`: CLEAR TASK SET with a task set shared by all initiators: the
/// device's commands of every session are aborted; the other initiators get COMMANDS
/// CLEARED BY ANOTHER INITIATOR unless the device has TAS.
fn scst_clear_task_set(mcmd: &Arc<ScstMgmtCmd>) -> i32 {
    let Some(mcmd_tgt_dev) = scst_mcmd_tgt_dev(mcmd) else {
        PRINT_CRIT_ERROR!("CLEAR TASK SET without tgt_dev");
        return scst_set_mcmd_next_state(mcmd);
    };
    let dev = mcmd_tgt_dev.dev.clone();
    TRACE!(
        kemu::printk::TRACE_MGMT,
        "Clearing task set (lun={}, mcmd={:?})",
        mcmd.lun,
        mcmd
    );
    // C (SAM-2) blocked the device here under `#if 0`; SCST follows SAM-3.
    __scst_abort_task_set(mcmd, &mcmd_tgt_dev);

    let g = scst_mutex.lock();
    let tgt_devs: Vec<_> = dev
        .dev_tgt_dev_list
        .access(&g)
        .iter()
        .map(|(_, t)| t.clone())
        .collect();
    let mut ua_tgt_devs = Vec::new();
    for tgt_dev in &tgt_devs {
        if Arc::ptr_eq(tgt_dev, &mcmd_tgt_dev) {
            continue;
        }
        let sess = &tgt_dev.sess;
        let mut aborted = false;
        let l = sess.sess_list_lock.lock_irq();
        let cmds: Vec<_> = l.sess_cmd_list.iter().map(|(_, c)| c.clone()).collect();
        for cmd in cmds {
            let cmd_dev = cmd.d.lock().dev.clone();
            let belongs = match cmd_dev {
                Some(d) => Arc::ptr_eq(&d, &dev),
                None => scst_is_cmd_belongs_to_dev(&cmd, &dev),
            };
            if belongs {
                scst_abort_cmd(&cmd, Some(mcmd), true, false);
                aborted = true;
            }
        }
        drop(l);
        if aborted {
            ua_tgt_devs.push(tgt_dev.clone());
        }
    }

    scst_unblock_aborted_cmds(None, None, Some(&dev), Some(&g));

    if !dev.tas.load(SeqCst) {
        let mut sense_buffer = [0u8; SCST_STANDARD_SENSE_LEN];
        let (k, a, q) = SCST_LOAD_SENSE(scst_sense_cleared_by_another_ini_UA);
        let sl = scst_set_sense(&mut sense_buffer, dev.d_sense.load(SeqCst), k, a, q);
        for tgt_dev in &ua_tgt_devs {
            // Setting the UA while the aborted commands still run may let one of them take
            // it; that is detected and the UA requeued, and the UA may arrive a few commands
            // late. With commands executing in parallel the order of UA delivery cannot be
            // controlled anyway.
            crate::scst_lib::scst_check_set_UA(tgt_dev, &sense_buffer[..sl], 0);
        }
    }
    drop(g);

    scst_call_dev_task_mgmt_fn_received(mcmd, &mcmd_tgt_dev);
    scst_set_mcmd_next_state(mcmd)
}

/// C `scst_mgmt_cmd_init()` (state INIT): finds what the function acts on. 0 if it goes on,
/// > 0 to requeue it (never in the port: activity is not suspended), < 0 if it waits.
fn scst_mgmt_cmd_init(mcmd: &Arc<ScstMgmtCmd>) -> i32 {
    let mut res = 0;
    let black_hole = {
        let g = scst_mutex.lock();
        mcmd.sess
            .acg
            .access(&g)
            .as_ref()
            .map_or(SCST_ACG_BLACK_HOLE_NONE, |a| {
                atomic_read(&a.acg_black_hole_type)
            })
    };
    if black_hole == SCST_ACG_BLACK_HOLE_ALL || black_hole == SCST_ACG_BLACK_HOLE_DATA_MCMD {
        TRACE_MGMT_DBG!(
            "Dropping mcmd (fn {:?}, initiator {})",
            mcmd.fn_,
            mcmd.sess.initiator_name
        );
        mcmd.mcmd_dropped.store(true, SeqCst);
    }

    match mcmd.fn_ {
        SCST_ABORT_TASK => {
            let sess = &mcmd.sess;
            let l = sess.sess_list_lock.lock_irq();
            let Some(cmd) = __scst_find_cmd_by_tag(&l, mcmd.tag, true) else {
                TRACE_MGMT_DBG!("ABORT TASK: command for tag {} not found", mcmd.tag);
                scst_mgmt_cmd_set_status(mcmd, SCST_MGMT_STATUS_TASK_NOT_EXIST);
                drop(l);
                return scst_set_mcmd_next_state(mcmd);
            };
            __scst_cmd_get(&cmd);
            let tgt_dev = cmd.d.lock().tgt_dev.clone();
            if tgt_dev.is_some() {
                scst_get();
            }
            drop(l);
            TRACE_DBG!(
                "Cmd to abort for tag {} found (tgt_dev {:?})",
                mcmd.tag,
                tgt_dev
            );
            {
                let mut d = mcmd.d.lock();
                d.cmd_to_abort = Some(cmd);
                d.mcmd_tgt_dev = tgt_dev;
            }
            scst_mcmd_set_state(mcmd, SCST_MCMD_STATE_EXEC);
        }
        SCST_TARGET_RESET => {
            // Protects against a device added after the blocking, whose unblocking would
            // make its block count negative.
            let rc = scst_get_mgmt(mcmd);
            if rc == 0 {
                mcmd.d.lock().scst_get_called = true;
                scst_mcmd_set_state(mcmd, SCST_MCMD_STATE_EXEC);
            } else {
                res = rc;
            }
        }
        SCST_NEXUS_LOSS_SESS
        | SCST_ABORT_ALL_TASKS_SESS
        | SCST_NEXUS_LOSS
        | SCST_ABORT_ALL_TASKS
        | SCST_UNREG_SESS_TM => {
            scst_mcmd_set_state(mcmd, SCST_MCMD_STATE_EXEC);
        }
        SCST_ABORT_TASK_SET | SCST_CLEAR_ACA | SCST_CLEAR_TASK_SET | SCST_LUN_RESET
        | SCST_PR_ABORT_ALL => {
            let rc = scst_mgmt_translate_lun(mcmd);
            if rc == 0 {
                scst_mcmd_set_state(mcmd, SCST_MCMD_STATE_EXEC);
            } else if rc < 0 {
                PRINT_ERROR!("Corresponding device for LUN {} not found", mcmd.lun);
                scst_mgmt_cmd_set_status(mcmd, SCST_MGMT_STATUS_LUN_NOT_EXIST);
                res = scst_set_mcmd_next_state(mcmd);
            } else {
                res = rc;
            }
        }
        f => {
            // C: sBUG(); scst_rx_mgmt_fn() refuses unknown functions before they get here.
            PRINT_CRIT_ERROR!("Unknown task management function {:?}", f);
            scst_mgmt_cmd_set_status(mcmd, SCST_MGMT_STATUS_REJECTED);
            res = scst_set_mcmd_next_state(mcmd);
        }
    }
    res
}

/// The devices of the session's access group (C walks `acg->acg_dev_list`). `scst_mutex`
/// held.
fn scst_acg_devs(g: &ScstMutexGuard<'_>, sess: &ScstSession) -> Vec<Arc<ScstDevice>> {
    sess.acg
        .access(g)
        .as_ref()
        .map(|acg| {
            acg.acg_dev_list
                .access(g)
                .iter()
                .map(|(_, a)| a.dev.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// C `scst_target_reset()`: TARGET RESET: every device of the session's group is reset
/// (`scst_process_reset()`: all its commands aborted, POWER ON / RESET for the other
/// nexuses). (C also blocks the devices and resets pass-through SCSI hosts.)
fn scst_target_reset(mcmd: &Arc<ScstMgmtCmd>) -> i32 {
    TRACE!(
        kemu::printk::TRACE_MGMT,
        "Target reset (mcmd {:?}, cmd count {})",
        mcmd,
        atomic_read(&mcmd.sess.sess_cmd_count)
    );
    mcmd.d.lock().needs_unblocking = true;
    let g = scst_mutex.lock();
    for dev in scst_acg_devs(&g, &mcmd.sess) {
        let tgt_devs = {
            let l = dev.dev_lock.lock_bh();
            // scst_block_dev() is not ported.
            crate::scst_lib::scst_process_reset(
                &dev,
                &l.dev_tgt_dev_list,
                Some(&mcmd.sess),
                None,
                Some(mcmd),
                true,
            );
            l.dev_tgt_dev_list.clone()
        };
        if let Some(t) = tgt_devs.iter().find(|t| Arc::ptr_eq(&t.sess, &mcmd.sess)) {
            scst_call_dev_task_mgmt_fn_received(mcmd, t);
        }
    }
    scst_unblock_aborted_cmds(None, None, None, Some(&g));
    drop(g);
    scst_set_mcmd_next_state(mcmd)
}

/// C `scst_lun_reset()`: LOGICAL UNIT RESET of the management command's device.
fn scst_lun_reset(mcmd: &Arc<ScstMgmtCmd>) -> i32 {
    let Some(tgt_dev) = scst_mcmd_tgt_dev(mcmd) else {
        PRINT_CRIT_ERROR!("LUN RESET without tgt_dev");
        return scst_set_mcmd_next_state(mcmd);
    };
    let dev = tgt_dev.dev.clone();
    TRACE!(
        kemu::printk::TRACE_MGMT,
        "Resetting LUN {} (mcmd {:?})",
        tgt_dev.lun,
        mcmd
    );
    mcmd.d.lock().needs_unblocking = true;
    {
        let l = dev.dev_lock.lock_bh();
        // scst_block_dev() is not ported.
        crate::scst_lib::scst_process_reset(
            &dev,
            &l.dev_tgt_dev_list,
            Some(&mcmd.sess),
            None,
            Some(mcmd),
            true,
        );
    }
    scst_call_dev_task_mgmt_fn_received(mcmd, &tgt_dev);
    // No pass-through SCSI device to reset.
    scst_unblock_aborted_cmds(None, None, Some(&dev), None);
    scst_set_mcmd_next_state(mcmd)
}

/// C `scst_do_nexus_loss_sess()`: I_T NEXUS LOSS OCCURRED on every nexus of the session
/// (not for the session's own unregistration). `scst_mutex` held.
fn scst_do_nexus_loss_sess(mcmd: &ScstMgmtCmd) {
    for tgt_dev in crate::scst_lib::scst_sess_tgt_devs(&mcmd.sess) {
        crate::scst_lib::scst_nexus_loss(&tgt_dev, mcmd.fn_ != SCST_UNREG_SESS_TM);
    }
}

/// C `scst_abort_all_nexus_loss_sess()`: aborts every command of the session (NEXUS LOSS
/// SESS, ABORT ALL TASKS SESS, the session's unregistration).
fn scst_abort_all_nexus_loss_sess(mcmd: &Arc<ScstMgmtCmd>, nexus_loss_unreg_sess: bool) -> i32 {
    let sess = &mcmd.sess;
    if nexus_loss_unreg_sess {
        TRACE_MGMT_DBG!(
            "Nexus loss or UNREG SESS for sess {} (mcmd {:?})",
            sess.initiator_name,
            mcmd
        );
    } else {
        TRACE_MGMT_DBG!(
            "Aborting all from sess {} (mcmd {:?})",
            sess.initiator_name,
            mcmd
        );
    }
    let g = scst_mutex.lock();
    let tgt_devs = crate::scst_lib::scst_sess_tgt_devs(sess);
    for tgt_dev in &tgt_devs {
        __scst_abort_task_set(mcmd, tgt_dev);
        scst_call_dev_task_mgmt_fn_received(mcmd, tgt_dev);
    }
    if nexus_loss_unreg_sess {
        // Only after all affected commands are aborted may the ACA clearing release them.
        scst_clear_aca_after_nexus_loss(mcmd, &tgt_devs);
    }
    scst_unblock_aborted_cmds(None, Some(sess), None, Some(&g));
    drop(g);
    scst_set_mcmd_next_state(mcmd)
}

/// The sessions of the management command's target. `scst_mutex` held.
fn scst_tgt_sessions(g: &ScstMutexGuard<'_>, tgt: &ScstTgt) -> Vec<Arc<ScstSession>> {
    tgt.sess_list
        .access(g)
        .iter()
        .map(|(_, s)| s.clone())
        .collect()
}

/// C `scst_do_nexus_loss_tgt()`: I_T NEXUS LOSS OCCURRED on every nexus of every session of
/// the target. `scst_mutex` held.
fn scst_do_nexus_loss_tgt(g: &ScstMutexGuard<'_>, mcmd: &ScstMgmtCmd) {
    for sess in scst_tgt_sessions(g, &mcmd.sess.tgt) {
        for tgt_dev in crate::scst_lib::scst_sess_tgt_devs(&sess) {
            crate::scst_lib::scst_nexus_loss(&tgt_dev, true);
        }
    }
}

/// The nexus loss paths' `scst_clear_aca()` on each of `tgt_devs` (for the pending ACA
/// command, from another initiator unless it is the management command's own nexus).
fn scst_clear_aca_after_nexus_loss(mcmd: &ScstMgmtCmd, tgt_devs: &[Arc<ScstTgtDev>]) {
    let mcmd_tgt_dev = scst_mcmd_tgt_dev(mcmd);
    for tgt_dev in tgt_devs {
        let other = mcmd_tgt_dev
            .as_ref()
            .is_none_or(|t| !Arc::ptr_eq(t, tgt_dev));
        scst_clear_aca(tgt_dev, other);
    }
}

/// C `scst_abort_all_nexus_loss_tgt()`: aborts every command of every session of the
/// target (NEXUS LOSS, ABORT ALL TASKS).
fn scst_abort_all_nexus_loss_tgt(mcmd: &Arc<ScstMgmtCmd>, nexus_loss: bool) -> i32 {
    let tgt = &mcmd.sess.tgt;
    if nexus_loss {
        TRACE_MGMT_DBG!("I_T Nexus loss (tgt {}, mcmd {:?})", tgt.tgt_name, mcmd);
    } else {
        TRACE_MGMT_DBG!("Aborting all from tgt {} (mcmd {:?})", tgt.tgt_name, mcmd);
    }
    let g = scst_mutex.lock();
    for sess in scst_tgt_sessions(&g, tgt) {
        let tgt_devs = crate::scst_lib::scst_sess_tgt_devs(&sess);
        for tgt_dev in &tgt_devs {
            __scst_abort_task_set(mcmd, tgt_dev);
            if Arc::ptr_eq(&mcmd.sess, &tgt_dev.sess) {
                scst_call_dev_task_mgmt_fn_received(mcmd, tgt_dev);
            }
        }
        if nexus_loss {
            // Only after all affected commands are aborted may the ACA clearing release them.
            scst_clear_aca_after_nexus_loss(mcmd, &tgt_devs);
        }
    }
    scst_unblock_aborted_cmds(Some(tgt), None, None, Some(&g));
    drop(g);
    scst_set_mcmd_next_state(mcmd)
}

/// C `scst_abort_task()`: ABORT TASK of the command INIT found; refused if its LUN or SN
/// does not fit the request.
fn scst_abort_task(mcmd: &Arc<ScstMgmtCmd>) -> i32 {
    let Some(cmd) = mcmd.d.lock().cmd_to_abort.take() else {
        PRINT_CRIT_ERROR!("ABORT TASK without its command");
        return scst_set_mcmd_next_state(mcmd);
    };
    let (lun, tgt_sn, dev) = {
        let d = cmd.d.lock();
        (d.lun, d.tgt_sn, d.dev.clone())
    };
    TRACE_MGMT_DBG!(
        "Aborting task (sn {}, set {}, tag {})",
        cmd.sn.load(SeqCst),
        cmd.sn_set.load(SeqCst),
        mcmd.tag
    );
    if mcmd.lun_set && mcmd.lun != lun {
        PRINT_ERROR!(
            "ABORT TASK: LUN mismatch: mcmd LUN {:x}, cmd LUN {:x}, cmd tag {}",
            mcmd.lun,
            lun,
            mcmd.tag
        );
        scst_mgmt_cmd_set_status(mcmd, SCST_MGMT_STATUS_REJECTED);
    } else if mcmd.cmd_sn_set && scst_mcmd_sn_not_after(mcmd, tgt_sn) {
        PRINT_ERROR!(
            "ABORT TASK: SN mismatch: mcmd SN {:x}, cmd SN {:x}, cmd tag {}",
            mcmd.cmd_sn,
            tgt_sn,
            mcmd.tag
        );
        scst_mgmt_cmd_set_status(mcmd, SCST_MGMT_STATUS_REJECTED);
    } else {
        let l = cmd.sess.sess_list_lock.lock_irq();
        scst_abort_cmd(&cmd, Some(mcmd), false, true);
        drop(l);
        scst_unblock_aborted_cmds(Some(&cmd.tgt), Some(&cmd.sess), dev.as_deref(), None);
    }
    let res = scst_set_mcmd_next_state(mcmd);
    __scst_cmd_put(&cmd);
    res
}

/// C `__scst_clear_aca()`: clears the ACA of the task set of `tgt_dev`; the pending ACA
/// command, if any, is aborted (for `mcmd`, which then waits for it). `sn_lock` held (`l`).
fn __scst_clear_aca(
    tgt_dev: &Arc<ScstTgtDev>,
    l: &mut kemu::sync::SpinLockGuard<'_, ScstSnLocked>,
    mcmd: Option<&Arc<ScstMgmtCmd>>,
    other_ini: bool,
) {
    let order_data = &tgt_dev.curr_order_data;
    TRACE_MGMT_DBG!("Clearing ACA (lun {})", tgt_dev.lun);
    if let Some(aca_cmd) = l.aca_cmd.clone() {
        TRACE_MGMT_DBG!("Aborting pending ACA cmd");
        let sl = aca_cmd.sess.sess_list_lock.lock_irqsave();
        scst_abort_cmd(&aca_cmd, mcmd, other_ini, mcmd.is_some());
        drop(sl);
    }
    order_data.aca_tgt_dev.store(0, SeqCst);
    l.aca_cmd = None;
}

/// C `scst_clear_aca()`: clears the ACA of the task set of `tgt_dev`, if there is one, and
/// lets the commands it held back go on. `other_ini`: for the pending ACA command, the clear
/// comes from another initiator.
pub fn scst_clear_aca(tgt_dev: &Arc<ScstTgtDev>, other_ini: bool) {
    let order_data = &tgt_dev.curr_order_data;
    {
        let mut l = order_data.sn_lock.lock_irq();
        if order_data.aca_tgt_dev.load(SeqCst) == 0 {
            TRACE_DBG!("No ACA (lun {})", tgt_dev.lun);
            debug_assert!(l.aca_cmd.is_none());
            return;
        }
        __scst_clear_aca(tgt_dev, &mut l, None, other_ini);
    }
    scst_make_deferred_commands_active(order_data);
}

/// C `scst_clear_aca_mcmd()`: CLEAR ACA. Only the faulted nexus may clear its ACA (another
/// one is REJECTED); without ACA it succeeds doing nothing.
fn scst_clear_aca_mcmd(mcmd: &Arc<ScstMgmtCmd>) -> i32 {
    if let Some(tgt_dev) = scst_mcmd_tgt_dev(mcmd) {
        TRACE!(
            kemu::printk::TRACE_MGMT,
            "CLEAR ACA (dev {}, lun={}, mcmd {:?})",
            tgt_dev.dev.virt_name,
            tgt_dev.lun,
            mcmd
        );
        let order_data = &tgt_dev.curr_order_data;
        let mut l = order_data.sn_lock.lock_irq();
        let aca_tgt_dev = order_data.aca_tgt_dev.load(SeqCst);
        if aca_tgt_dev == 0 {
            TRACE!(
                kemu::printk::TRACE_MGMT,
                "CLEAR ACA while there's no ACA (mcmd {:?})",
                mcmd
            );
        } else if aca_tgt_dev != scst_tgt_dev_id(&tgt_dev) {
            TRACE!(
                kemu::printk::TRACE_MGMT,
                "CLEAR ACA from not initiated ACA I_T nexus (mcmd {:?})",
                mcmd
            );
            scst_mgmt_cmd_set_status(mcmd, SCST_MGMT_STATUS_REJECTED);
        } else {
            __scst_clear_aca(&tgt_dev, &mut l, Some(mcmd), false);
            drop(l);
            scst_make_deferred_commands_active(order_data);
            scst_unblock_aborted_cmds(
                Some(&tgt_dev.sess.tgt),
                Some(&tgt_dev.sess),
                Some(&tgt_dev.dev),
                None,
            );
        }
    }
    scst_set_mcmd_next_state(mcmd)
}

/// C `scst_mgmt_cmd_exec()` (state EXEC): carries the function out. 0 if the management
/// command goes on, < 0 if it waits for the affected commands.
fn scst_mgmt_cmd_exec(mcmd: &Arc<ScstMgmtCmd>) -> i32 {
    match mcmd.fn_ {
        SCST_ABORT_TASK => scst_abort_task(mcmd),
        SCST_ABORT_TASK_SET | SCST_PR_ABORT_ALL => scst_abort_task_set(mcmd),
        SCST_CLEAR_TASK_SET => {
            let sep = scst_mcmd_tgt_dev(mcmd)
                .is_some_and(|t| atomic_read(&t.dev.tst) == i32::from(SCST_TST_1_SEP_TASK_SETS));
            if sep {
                scst_abort_task_set(mcmd)
            } else {
                scst_clear_task_set(mcmd)
            }
        }
        SCST_LUN_RESET => scst_lun_reset(mcmd),
        SCST_TARGET_RESET => scst_target_reset(mcmd),
        SCST_ABORT_ALL_TASKS_SESS => scst_abort_all_nexus_loss_sess(mcmd, false),
        SCST_NEXUS_LOSS_SESS | SCST_UNREG_SESS_TM => scst_abort_all_nexus_loss_sess(mcmd, true),
        SCST_ABORT_ALL_TASKS => scst_abort_all_nexus_loss_tgt(mcmd, false),
        SCST_NEXUS_LOSS => scst_abort_all_nexus_loss_tgt(mcmd, true),
        SCST_CLEAR_ACA => scst_clear_aca_mcmd(mcmd),
        f => {
            PRINT_ERROR!("Unknown task management function {:?}", f);
            scst_mgmt_cmd_set_status(mcmd, SCST_MGMT_STATUS_REJECTED);
            scst_set_mcmd_next_state(mcmd)
        }
    }
}

/// C `scst_call_task_mgmt_affected_cmds_done()`: the driver's
/// `task_mgmt_affected_cmds_done()` (not for the core's internal functions).
fn scst_call_task_mgmt_affected_cmds_done(mcmd: &Arc<ScstMgmtCmd>) {
    let tgtt = &mcmd.sess.tgt.tgtt;
    if mcmd.fn_ != SCST_UNREG_SESS_TM && mcmd.fn_ != SCST_PR_ABORT_ALL {
        TRACE_DBG!(
            "Calling target {} task_mgmt_affected_cmds_done()",
            tgtt.name
        );
        tgtt.ops.task_mgmt_affected_cmds_done(mcmd);
        TRACE_MGMT_DBG!(
            "Target's {} task_mgmt_affected_cmds_done() returned",
            tgtt.name
        );
    }
}

/// C `scst_mgmt_affected_cmds_done()` (state AFFECTED_CMDS_DONE): the aborted commands are
/// done: nexus loss unit attentions, the handlers' `task_mgmt_fn_done()`, the driver's
/// `task_mgmt_affected_cmds_done()`.
fn scst_mgmt_affected_cmds_done(mcmd: &Arc<ScstMgmtCmd>) -> i32 {
    let sess = &mcmd.sess;
    {
        let g = scst_mutex.lock();
        match mcmd.fn_ {
            SCST_NEXUS_LOSS_SESS | SCST_UNREG_SESS_TM => scst_do_nexus_loss_sess(mcmd),
            SCST_NEXUS_LOSS => scst_do_nexus_loss_tgt(&g, mcmd),
            _ => {}
        }
    }

    if mcmd.d.lock().task_mgmt_fn_received_called {
        match mcmd.fn_ {
            SCST_ABORT_TASK | SCST_ABORT_TASK_SET | SCST_CLEAR_TASK_SET | SCST_PR_ABORT_ALL
            | SCST_LUN_RESET => {
                if let Some(t) = scst_mcmd_tgt_dev(mcmd) {
                    scst_call_dev_task_mgmt_fn_done(mcmd, &t);
                }
            }
            SCST_TARGET_RESET => {
                let g = scst_mutex.lock();
                for dev in scst_acg_devs(&g, sess) {
                    let t = dev
                        .dev_tgt_dev_list
                        .access(&g)
                        .iter()
                        .find(|(_, t)| Arc::ptr_eq(&t.sess, sess))
                        .map(|(_, t)| t.clone());
                    if let Some(t) = t {
                        scst_call_dev_task_mgmt_fn_done(mcmd, &t);
                    }
                }
            }
            SCST_ABORT_ALL_TASKS_SESS | SCST_NEXUS_LOSS_SESS | SCST_UNREG_SESS_TM => {
                let _g = scst_mutex.lock();
                for t in crate::scst_lib::scst_sess_tgt_devs(sess) {
                    scst_call_dev_task_mgmt_fn_done(mcmd, &t);
                }
            }
            SCST_ABORT_ALL_TASKS | SCST_NEXUS_LOSS => {
                let g = scst_mutex.lock();
                for s in scst_tgt_sessions(&g, &sess.tgt) {
                    for t in crate::scst_lib::scst_sess_tgt_devs(&s) {
                        if Arc::ptr_eq(&t.sess, sess) {
                            scst_call_dev_task_mgmt_fn_done(mcmd, &t);
                        }
                    }
                }
            }
            f => {
                PRINT_ERROR!(
                    "Wrong task management function {:?} on task_mgmt_fn_done() stage",
                    f
                );
            }
        }
    }

    scst_call_task_mgmt_affected_cmds_done(mcmd);
    // C frees the pending EXTENDED COPY list ids of the session after resets and nexus
    // losses (scst_cm_free_pending_list_ids()); EXTENDED COPY is not ported.
    scst_set_mcmd_next_state(mcmd)
}

/// C `scst_mgmt_cmd_send_done()` (state DONE): the driver's `task_mgmt_fn_done()` (not for
/// the session's own unregistration).
fn scst_mgmt_cmd_send_done(mcmd: &Arc<ScstMgmtCmd>) {
    scst_mcmd_set_state(mcmd, SCST_MCMD_STATE_FINISHED);
    let completed = mcmd
        .mc
        .access(&scst_mcmd_lock.lock_irq())
        .completed_cmd_count;
    if scst_is_strict_mgmt_fn(mcmd.fn_) && completed > 0 {
        scst_mgmt_cmd_set_status(mcmd, SCST_MGMT_STATUS_TASK_NOT_EXIST);
    }
    if mcmd.fn_ < SCST_UNREG_SESS_TM {
        TRACE!(
            kemu::printk::TRACE_MGMT,
            "TM fn {:?} ({:?}) finished, status {:?}",
            mcmd.fn_,
            mcmd,
            scst_mgmt_cmd_get_status(mcmd)
        );
    } else {
        TRACE_MGMT_DBG!(
            "TM fn {:?} finished, status {:?}",
            mcmd.fn_,
            scst_mgmt_cmd_get_status(mcmd)
        );
    }
    let tgtt = &mcmd.sess.tgt.tgtt;
    if mcmd.fn_ == SCST_PR_ABORT_ALL {
        // No target driver answer: the PREEMPT AND ABORT command that sent the function is
        // told instead (scst_cmd_done_pr_preempt() completes it after the last one), in
        // thread context as this is scsi_tm.
        if let Some(c) = mcmd.origin_pr_cmd.as_ref() {
            scst_cmd_done(c, SCST_CMD_STATE_DEFAULT, SCST_CONTEXT_THREAD);
        }
    } else if mcmd.fn_ != SCST_UNREG_SESS_TM {
        TRACE_DBG!("Calling target {} task_mgmt_fn_done()", tgtt.name);
        tgtt.ops.task_mgmt_fn_done(mcmd);
        TRACE_MGMT_DBG!("Target's {} task_mgmt_fn_done() returned", tgtt.name);
    }
    // needs_unblocking: the devices are never blocked in the port (scst_unblock_dev()).
    *mcmd.tgt_priv.lock() = None;
}

/// C `scst_free_mgmt_cmd()`: the management command's session count and references go.
fn scst_free_mgmt_cmd(mcmd: &Arc<ScstMgmtCmd>) {
    {
        let _l = mcmd.sess.sess_list_lock.lock_irqsave();
        atomic_dec(&mcmd.sess.sess_cmd_count);
    }
    scst_sess_put(&mcmd.sess);
    let (has_tgt_dev, get_called) = {
        let mut d = mcmd.d.lock();
        (d.mcmd_tgt_dev.take().is_some(), d.scst_get_called)
    };
    if has_tgt_dev || get_called {
        scst_put();
    }
}

/// C `scst_process_mgmt_cmd()`: runs the management command's states until it waits or is
/// freed. > 0 if it must be requeued (never in the port).
fn scst_process_mgmt_cmd(mcmd: &Arc<ScstMgmtCmd>) -> i32 {
    // On scsi_tm, the state cannot change behind our back.
    loop {
        let state = mcmd.mc.access(&scst_mcmd_lock.lock_irq()).state;
        TRACE_DBG!("mcmd {:?}, state {:?}", mcmd, state);
        match state {
            SCST_MCMD_STATE_INIT => {
                let res = scst_mgmt_cmd_init(mcmd);
                if res != 0 {
                    return res;
                }
            }
            SCST_MCMD_STATE_EXEC => {
                if scst_mgmt_cmd_exec(mcmd) != 0 {
                    return 0;
                }
            }
            SCST_MCMD_STATE_AFFECTED_CMDS_DONE => {
                if scst_mgmt_affected_cmds_done(mcmd) != 0 {
                    return 0;
                }
            }
            SCST_MCMD_STATE_DONE => scst_mgmt_cmd_send_done(mcmd),
            SCST_MCMD_STATE_FINISHED => {
                scst_free_mgmt_cmd(mcmd);
                // The management command is dead.
                return 0;
            }
            st => {
                PRINT_CRIT_ERROR!("Wrong mcmd state {:?} (fn {:?})", st, mcmd.fn_);
                panic!("scst_process_mgmt_cmd: wrong management command state");
            }
        }
    }
}

/// C `scst_pre_rx_mgmt_cmd()`: a new management command of `sess`, counted as one of the
/// session's commands and holding a session reference. (C refuses it without the driver's
/// `task_mgmt_fn_done()`; a Rust template always has the method.)
fn scst_pre_rx_mgmt_cmd(
    sess: &Arc<ScstSession>,
    fn_: TmFn,
    _atomic: bool,
    tgt_priv: Option<TgtPriv>,
) -> ScstMgmtCmd {
    let mut mcmd = if fn_ == SCST_PR_ABORT_ALL {
        // C keeps the PR command in the tgt_priv union; the port downcasts it.
        let mut m = ScstMgmtCmd::new(sess, fn_, None);
        m.origin_pr_cmd = tgt_priv.and_then(|p| p.downcast::<ScstCmd>().ok());
        m
    } else {
        ScstMgmtCmd::new(sess, fn_, tgt_priv)
    };
    scst_sess_get(sess);
    atomic_inc(&sess.sess_cmd_count);
    if fn_ == SCST_PR_ABORT_ALL {
        // One more function for the PR command to wait for, until it has marked its
        // commands aborted and until it is finished.
        match mcmd
            .origin_pr_cmd
            .as_ref()
            .and_then(|c| c.d.lock().pr_abort_counter.clone())
        {
            Some(pr_cnt) => {
                atomic_inc(&pr_cnt.pr_abort_pending_cnt);
                atomic_inc(&pr_cnt.pr_aborting_cnt);
            }
            None => {
                PRINT_CRIT_ERROR!("SCST_PR_ABORT_ALL without its PR command's counter");
                mcmd.origin_pr_cmd = None;
            }
        }
    }
    mcmd
}

/// Gives back what [`scst_pre_rx_mgmt_cmd`] counted for the PR command of an
/// `SCST_PR_ABORT_ALL` that could not be queued. C leaves it counted, so the PREEMPT AND
/// ABORT command would never complete; neither count can reach zero here, as the PR command
/// holds one of each while it sends the functions.
fn scst_pr_abort_all_uncount(mcmd: &ScstMgmtCmd) {
    if let Some(pr_cnt) = mcmd
        .origin_pr_cmd
        .as_ref()
        .and_then(|c| c.d.lock().pr_abort_counter.clone())
    {
        atomic_dec(&pr_cnt.pr_abort_pending_cnt);
        atomic_dec(&pr_cnt.pr_aborting_cnt);
    }
}

/// C `scst_post_rx_mgmt_cmd()`: queues the management command for `scsi_tm`, or, while the
/// session is initialising, on its `init_deferred_mcmd_list`. < 0 if the session failed.
fn scst_post_rx_mgmt_cmd(sess: &Arc<ScstSession>, mcmd: &Arc<ScstMgmtCmd>) -> i32 {
    if atomic_read(&sess.shut_phase) != SCST_SESS_SPH_READY {
        PRINT_CRIT_ERROR!(
            "New mgmt cmd while shutting down the session {} shut_phase {}",
            sess.initiator_name,
            atomic_read(&sess.shut_phase)
        );
        return -1;
    }
    {
        let mut l = sess.sess_list_lock.lock_irqsave();
        let init_phase = atomic_read(&sess.init_phase);
        if init_phase != SCST_SESS_IPH_READY {
            match init_phase {
                SCST_SESS_IPH_INITING => {
                    TRACE_DBG!("Adding mcmd {:?} to init deferred mcmd list", mcmd);
                    let h = l.init_deferred_mcmd_list.add_tail(mcmd.clone());
                    mcmd.mgmt_cmd_list_entry.set(h);
                    return 0;
                }
                SCST_SESS_IPH_SUCCESS => {}
                SCST_SESS_IPH_FAILED => return -1,
                p => {
                    PRINT_CRIT_ERROR!("Unknown session init phase {}", p);
                    return -1;
                }
            }
        }
    }
    {
        let mut l = scst_mcmd_lock.lock_irqsave();
        scst_add_active_mgmt_cmd(&mut l, mcmd);
    }
    wake_up(&scst_mgmt_cmd_list_waitQ);
    0
}

/// C `scst_rx_mgmt_fn()`: a target driver's task management function for `sess`; it runs on
/// `scsi_tm`, and the driver's `task_mgmt_fn_done()` reports its end (with `tgt_priv`).
/// `EFAULT` if it could not be queued (the LUN field is invalid, or the session failed);
/// `EINVAL` for parameters C asserts (ABORT TASK without a tag, a LUN function without a
/// LUN). Must not run in parallel with `scst_unregister_session()` of the session.
pub fn scst_rx_mgmt_fn(sess: &Arc<ScstSession>, params: &ScstRxMgmtParams) -> Result<(), Errno> {
    match params.fn_ {
        SCST_ABORT_TASK => {
            if !params.tag_set {
                PRINT_ERROR!("ABORT TASK without a tag");
                return Err(Errno::EINVAL);
            }
        }
        SCST_TARGET_RESET | SCST_ABORT_ALL_TASKS | SCST_NEXUS_LOSS | SCST_UNREG_SESS_TM => {}
        SCST_PR_ABORT_ALL
            if params
                .tgt_priv
                .as_ref()
                .is_none_or(|p| !(**p).is::<ScstCmd>()) =>
        {
            // Internal: only the PR code sends it, with its PREEMPT AND ABORT command.
            PRINT_ERROR!("SCST_PR_ABORT_ALL without its PR command");
            return Err(Errno::EINVAL);
        }
        f if f.as_str().is_none() => {
            PRINT_ERROR!("Unknown task management function {:?}", f);
            return Err(Errno::EINVAL);
        }
        f => {
            if !params.lun_set {
                PRINT_ERROR!("TM fn {:?} without a LUN", f);
                return Err(Errno::EINVAL);
            }
        }
    }

    let mut mcmd = scst_pre_rx_mgmt_cmd(sess, params.fn_, params.atomic, params.tgt_priv.clone());
    let undo = |m: ScstMgmtCmd| {
        // C scst_free_mgmt_cmd() of a command that never ran.
        scst_pr_abort_all_uncount(&m);
        {
            let _l = sess.sess_list_lock.lock_irqsave();
            atomic_dec(&sess.sess_cmd_count);
        }
        scst_sess_put(sess);
    };
    if params.lun_set {
        mcmd.lun = scst_unpack_lun(&params.lun);
        if mcmd.lun == NO_SUCH_LUN {
            undo(mcmd);
            return Err(Errno::EFAULT);
        }
        mcmd.lun_set = true;
    }
    if params.tag_set {
        mcmd.tag = params.tag;
    }
    mcmd.cmd_sn_set = params.cmd_sn_set;
    mcmd.cmd_sn = params.cmd_sn;

    if params.fn_ < SCST_UNREG_SESS_TM {
        TRACE!(
            kemu::printk::TRACE_MGMT,
            "TM fn {:?} (initiator {}, target {})",
            params.fn_,
            sess.initiator_name,
            sess.tgt.tgt_name
        );
    } else {
        TRACE_MGMT_DBG!("TM fn {:?}", params.fn_);
    }
    TRACE_MGMT_DBG!(
        "sess={}, tag_set {}, tag {}, lun_set {}, lun={}, cmd_sn_set {}, cmd_sn {}",
        sess.initiator_name,
        params.tag_set,
        params.tag,
        params.lun_set,
        mcmd.lun,
        params.cmd_sn_set,
        params.cmd_sn
    );

    let mcmd = Arc::new(mcmd);
    if scst_post_rx_mgmt_cmd(sess, &mcmd) != 0 {
        scst_pr_abort_all_uncount(&mcmd);
        scst_free_mgmt_cmd(&mcmd);
        return Err(Errno::EFAULT);
    }
    Ok(())
}

/// C scst.h `scst_rx_mgmt_fn_tag()`: [`scst_rx_mgmt_fn`] for ABORT TASK by tag.
pub fn scst_rx_mgmt_fn_tag(
    sess: &Arc<ScstSession>,
    fn_: TmFn,
    tag: u64,
    atomic: bool,
    tgt_priv: Option<TgtPriv>,
) -> Result<(), Errno> {
    if fn_ != SCST_ABORT_TASK {
        PRINT_ERROR!("scst_rx_mgmt_fn_tag() for fn {:?}", fn_);
        return Err(Errno::EINVAL);
    }
    let params = ScstRxMgmtParams {
        fn_,
        tag,
        tag_set: true,
        atomic,
        tgt_priv,
        ..Default::default()
    };
    scst_rx_mgmt_fn(sess, &params)
}

/// C scst.h `scst_rx_mgmt_fn_lun()`: [`scst_rx_mgmt_fn`] for any function but ABORT TASK,
/// with a LUN field (`None`: no LUN).
pub fn scst_rx_mgmt_fn_lun(
    sess: &Arc<ScstSession>,
    fn_: TmFn,
    lun: Option<&[u8]>,
    atomic: bool,
    tgt_priv: Option<TgtPriv>,
) -> Result<(), Errno> {
    if fn_ == SCST_ABORT_TASK {
        PRINT_ERROR!("scst_rx_mgmt_fn_lun() for ABORT TASK");
        return Err(Errno::EINVAL);
    }
    let params = ScstRxMgmtParams {
        fn_,
        lun: lun.map(<[u8]>::to_vec).unwrap_or_default(),
        lun_set: lun.is_some(),
        atomic,
        tgt_priv,
        ..Default::default()
    };
    scst_rx_mgmt_fn(sess, &params)
}

/// C `__scst_find_cmd_by_tag()`: the session's command with `tag`. Done commands (their
/// response was submitted) are skipped, or a command with a reused tag could be confused
/// with one whose release is late; for an abort, the latest not aborted done one is taken
/// if there is no other. `sess_list_lock` held (`l`).
fn __scst_find_cmd_by_tag(l: &ScstSessLists, tag: u64, to_abort: bool) -> Option<Arc<ScstCmd>> {
    // ToDo (C): a hash list.
    let mut res: Option<Arc<ScstCmd>> = None;
    for (_, cmd) in l.sess_cmd_list.iter() {
        let (ctag, internal) = {
            let d = cmd.d.lock();
            (d.tag, d.internal)
        };
        if ctag != tag || internal {
            continue;
        }
        if cmd.done.load(SeqCst) {
            if to_abort {
                res = match res {
                    None => Some(cmd.clone()),
                    Some(r) => {
                        if test_bit(SCST_CMD_ABORTED, &r.cmd_flags)
                            || !test_bit(SCST_CMD_ABORTED, &cmd.cmd_flags)
                        {
                            Some(cmd.clone())
                        } else {
                            Some(r)
                        }
                    }
                };
            }
            continue;
        }
        return Some(cmd.clone());
    }
    res
}

/// C `scst_find_cmd_by_tag()`: the session's not yet done command with `tag`.
pub fn scst_find_cmd_by_tag(sess: &ScstSession, tag: u64) -> Option<Arc<ScstCmd>> {
    let l = sess.sess_list_lock.lock_irqsave();
    TRACE_DBG!(
        "Searching in sess cmd list (sess={}, tag={})",
        sess.initiator_name,
        tag
    );
    __scst_find_cmd_by_tag(&l, tag, false)
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
