// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2004 - 2016 Vladislav Bolkhovitin <vst@vlnb.net>
// Copyright (C) 2004 - 2005 Leonid Stoljar
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! The port of `scst/src/scst_priv.h`, so far the parts the registration layer needs: the
//! session reference count (`scst_sess_get()`/`scst_sess_put()`, whose last put queues the
//! session for freeing) and the core's private limits.
#![doc(alias = "scst_priv.h")]

use crate::scst::{ScstCmd, ScstSession};
use crate::scst_lib::scst_sched_session_free;
use crate::scst_main::scst_trace_flag as TRACE_FLAG;
use kemu::atomic::{atomic_dec_and_test, atomic_inc_return, atomic_read};
use kemu::TRACE_DBG;
use std::sync::Arc;

/// C scst_priv.h `SCST_MAX_TGT_DEV_COMMANDS`: the default `max_tgt_dev_commands` of a
/// handler that leaves it 0.
pub const SCST_MAX_TGT_DEV_COMMANDS: i32 = 64;

/// C scst_priv.h `SCST_DEF_LBA_DATA_LEN`: `lba` and `data_len` before the CDB is decoded.
pub const SCST_DEF_LBA_DATA_LEN: i64 = -1;

/// C scst_priv.h `__scst_cmd_get()`: takes a reference of the command.
pub fn __scst_cmd_get(cmd: &ScstCmd) {
    let n = atomic_inc_return(&cmd.cmd_ref);
    TRACE_DBG!("Incrementing cmd refcnt (new value {})", n);
}

/// C scst_priv.h `__scst_cmd_put()`: drops a reference of the command; the last one frees it
/// (`scst_free_cmd()`).
pub fn __scst_cmd_put(cmd: &Arc<ScstCmd>) {
    TRACE_DBG!(
        "Decrementing cmd refcnt (new value {})",
        atomic_read(&cmd.cmd_ref) - 1
    );
    if atomic_dec_and_test(&cmd.cmd_ref) {
        crate::scst_lib::scst_free_cmd(cmd);
    }
}

/// C scst_priv.h `scst_get()`: counts one more command holding activity (taken at LUN
/// translation); returns C's per-CPU counter index, always 0 here.
pub fn scst_get() -> i32 {
    atomic_inc_return(&crate::scst_main::scst_cmd_count);
    0
}

/// C scst_priv.h `scst_put()`: the command no longer holds activity; the last one wakes a
/// waiting activity suspension.
pub fn scst_put() {
    if atomic_dec_and_test(&crate::scst_main::scst_cmd_count) {
        kemu::wait::wake_up_all(&crate::scst_main::scst_dev_cmd_waitQ);
    }
}

/// C scst_priv.h `scst_get_cmd_counter()`: the commands holding activity.
pub fn scst_get_cmd_counter() -> i32 {
    atomic_read(&crate::scst_main::scst_cmd_count)
}

/// C `scst_sess_get()`: takes a reference of the session.
pub fn scst_sess_get(sess: &ScstSession) {
    let n = atomic_inc_return(&sess.refcnt);
    TRACE_DBG!(
        "Incrementing sess {} refcnt (new value {})",
        sess.initiator_name,
        n
    );
}

/// C `scst_sess_put()`: drops a reference of the session; the last one queues it for
/// `scst_mgmtd` to free (`scst_sched_session_free()`).
pub fn scst_sess_put(sess: &Arc<ScstSession>) {
    TRACE_DBG!(
        "Decrementing sess {} refcnt (new value {})",
        sess.initiator_name,
        atomic_read(&sess.refcnt) - 1
    );
    if atomic_dec_and_test(&sess.refcnt) {
        scst_sched_session_free(sess);
    }
}

/// C `scst_dev_reserved()`: whether an initiator holds an SPC-2 reservation of `dev`.
pub fn scst_dev_reserved(dev: &crate::scst::ScstDevice) -> bool {
    dev.reserved_by.lock_bh().is_some()
}

/// Whether the SPC-2 reservation state `reserved_by` (C `dev->reserved_by`, locked) names
/// `sess`.
fn scst_reserved_by_is(
    reserved_by: &Option<std::sync::Weak<ScstSession>>,
    sess: &ScstSession,
) -> Option<bool> {
    reserved_by
        .as_ref()
        .map(|w| std::ptr::eq(w.as_ptr(), sess as *const ScstSession))
}

/// C `scst_is_reservation_holder()` with `dev_lock` (`scst_res_lock()`) held: `sess` holds
/// the SPC-2 reservation.
pub fn scst_is_reservation_holder_locked(
    reserved_by: &Option<std::sync::Weak<ScstSession>>,
    sess: &ScstSession,
) -> bool {
    scst_reserved_by_is(reserved_by, sess) == Some(true)
}

/// C `scst_is_not_reservation_holder()` with `dev_lock` held: another session than `sess`
/// holds the SPC-2 reservation.
pub fn scst_is_not_reservation_holder_locked(
    reserved_by: &Option<std::sync::Weak<ScstSession>>,
    sess: &ScstSession,
) -> bool {
    scst_reserved_by_is(reserved_by, sess) == Some(false)
}

/// C `scst_is_reservation_holder()`.
pub fn scst_is_reservation_holder(dev: &crate::scst::ScstDevice, sess: &ScstSession) -> bool {
    scst_is_reservation_holder_locked(&dev.reserved_by.lock_bh(), sess)
}

/// C `scst_is_not_reservation_holder()`.
pub fn scst_is_not_reservation_holder(dev: &crate::scst::ScstDevice, sess: &ScstSession) -> bool {
    scst_is_not_reservation_holder_locked(&dev.reserved_by.lock_bh(), sess)
}

/// C `scst_reserve_dev()` (with `dev_lock` held): `sess` holds the SPC-2 reservation.
pub fn scst_reserve_dev(
    reserved_by: &mut Option<std::sync::Weak<ScstSession>>,
    sess: &Arc<ScstSession>,
) {
    *reserved_by = Some(Arc::downgrade(sess));
}

/// C `scst_clear_dev_reservation()` (with `dev_lock` held).
pub fn scst_clear_dev_reservation(reserved_by: &mut Option<std::sync::Weak<ScstSession>>) {
    *reserved_by = None;
}

/// C scst_priv.h `SCST_SET_UA_FLAG_AT_HEAD`: queue the unit attention before the others
/// (a requeued one whose delivery failed).
pub const SCST_SET_UA_FLAG_AT_HEAD: i32 = 1;
/// C scst_priv.h `SCST_SET_UA_FLAG_GLOBAL`: the unit attention concerns the whole session
/// (see `ScstTgtDevUA::global_UA`).
pub const SCST_SET_UA_FLAG_GLOBAL: i32 = 2;

/// C scst_priv.h `scst_sn_before()`: whether SN `seq1` comes before `seq2` (serial number
/// arithmetic).
pub fn scst_sn_before(seq1: u32, seq2: u32) -> bool {
    seq1.wrapping_sub(seq2) & 0x8000_0000 != 0
}
