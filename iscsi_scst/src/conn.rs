// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2002 - 2003 Ardis Technolgies <roman@ardistech.com>
// Copyright (C) 2007 - 2016 Vladislav Bolkhovitin
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! Connections: the port of `iscsi-scst/kernel/conn.c` (procfs build): `ADD_CONN` takes the
//! daemon's socket over (`fget`, `TCP_NODELAY`, our `sk_data_ready` / `sk_write_space` /
//! `sk_state_change`), the read/write activation of a connection on its thread pool, marking
//! it closed, the response and NOP-In timers, and freeing it.
//!
//! Not ported yet: `conn_info_show` (the procfs `sessions` listing) and
//! `iscsi_check_tm_data_wait_timeouts` (task management, datapath issues).
#![doc(alias = "conn.c")]

use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use kemu::atomic::{test_bit, AtomicT, BitWord};
use kemu::completion::Completion;
use kemu::list::List;
use kemu::net::{Sock, SockCallbacks, TCP_ESTABLISHED};
use kemu::sync::{LockedBy, Mutex, MutexGuard, SpinLock};
use kemu::timer::{
    del_timer_sync, jiffies, mod_timer, time_after, time_after_eq, timer_pending, TimerList, HZ,
};
use kemu::wait::{wake_up, WaitQueueHead};
use kemu::workqueue::{schedule_delayed_work, DelayedWork};
use kemu::{Errno, PRINT_ERROR, PRINT_INFO, PRINT_WARNING, TRACE_DBG, TRACE_MGMT, TRACE_MGMT_DBG};

use crate::abi::{iscsi_kern_conn_info, DIGEST_NONE};
use crate::digest::digest_init;
use crate::iscsi::*;
use crate::session::session_free;
use crate::target::TargetMutex;

/// C: conn.c conn_lookup(): the latest connection with this CID; `target_mutex` held.
pub fn conn_lookup(
    session: &IscsiSession,
    g: &MutexGuard<'_, TargetMutex>,
    cid: u16,
) -> Option<Arc<IscsiConn>> {
    session
        .tm
        .access(g)
        .conn_list
        .iter()
        .rev()
        .find(|c| c.cid == cid)
        .cloned()
}

/// C: conn.c iscsi_make_conn_rd_active(): queues the connection for its read thread.
///
/// Adapted: `wake_up(&p->rd_waitQ)` raises the connection's read thread unless this already
/// is one of the pool's read threads (which process `rd_list` after their current batch).
pub fn iscsi_make_conn_rd_active(conn: &Arc<IscsiConn>) {
    let p = &conn.conn_thr_pool;
    let mut rd_list = p.rd_lock.lock_bh();

    TRACE_DBG!(
        "conn {:?}, rd_state {:x}, rd_data_ready {}",
        conn,
        conn.rd_state.load(Ordering::Relaxed),
        conn.rd_data_ready.load(Ordering::Relaxed)
    );

    // Start processing as soon as possible, even if not all the awaited data are there yet.
    conn.rd_data_ready.store(true, Ordering::Release);

    if conn.rd_state.load(Ordering::Acquire) == ISCSI_CONN_RD_STATE_IDLE {
        rd_list.add_tail(Arc::clone(conn));
        conn.rd_state
            .store(ISCSI_CONN_RD_STATE_IN_LIST, Ordering::Release);
        drop(rd_list);
        if !p.in_rd_thread() {
            conn.rd_loop.raise();
        }
    }
}

/// C: conn.c iscsi_make_conn_wr_active(): queues the connection for a write thread.
pub fn iscsi_make_conn_wr_active(conn: &Arc<IscsiConn>) {
    let p = &conn.conn_thr_pool;
    let mut wr_list = p.wr_lock.lock_bh();

    TRACE_DBG!(
        "conn {:?}, wr_state {:x}, wr_space_ready {}",
        conn,
        conn.wr_state.load(Ordering::Relaxed),
        conn.wr_space_ready.load(Ordering::Relaxed)
    );

    if conn.wr_state.load(Ordering::Acquire) == ISCSI_CONN_WR_STATE_IDLE {
        wr_list.add_tail(Arc::clone(conn));
        conn.wr_state
            .store(ISCSI_CONN_WR_STATE_IN_LIST, Ordering::Release);
        wake_up(&p.wr_waitQ);
    }
}

/// C: conn.c iscsi_tcp_mark_conn_closed().
fn iscsi_tcp_mark_conn_closed(conn: &Arc<IscsiConn>, flags: i32) {
    {
        let _rd = conn.conn_thr_pool.rd_lock.lock_bh();
        conn.closing.store(true, Ordering::Release);
        if flags & ISCSI_CONN_ACTIVE_CLOSE != 0 {
            conn.active_close.store(true, Ordering::Release);
        }
        if flags & ISCSI_CONN_DELETING != 0 {
            conn.deleting.store(true, Ordering::Release);
        }
    }
    iscsi_make_conn_rd_active(conn);
}

/// C: conn.c __mark_conn_closed(): the read thread will close the connection.
pub fn __mark_conn_closed(conn: &Arc<IscsiConn>, flags: i32) {
    iscsi_tcp_mark_conn_closed(conn, flags);
}

/// C: conn.c mark_conn_closed(): an active close.
pub fn mark_conn_closed(conn: &Arc<IscsiConn>) {
    __mark_conn_closed(conn, ISCSI_CONN_ACTIVE_CLOSE);
}

/// C: conn.c __iscsi_state_change().
fn __iscsi_state_change(conn: &Arc<IscsiConn>) {
    if conn.sock.sk_state() != TCP_ESTABLISHED {
        if !conn.closing.load(Ordering::Acquire) {
            PRINT_ERROR!(
                "Connection {:?} with initiator {} unexpectedly closed!",
                conn,
                conn.session.initiator_name
            );
            TRACE_MGMT_DBG!("conn {:?}, sk state {}", conn, conn.sock.sk_state());
            __mark_conn_closed(conn, 0);
        }
    } else {
        iscsi_make_conn_rd_active(conn);
    }
}

/// C: conn.c iscsi_state_change(): our `sk_state_change`.
fn iscsi_state_change(w: &Weak<IscsiConn>, sk: &Arc<Sock>) {
    let Some(conn) = w.upgrade() else {
        return;
    };
    __iscsi_state_change(&conn);
    let old = conn
        .old_callbacks
        .lock()
        .as_ref()
        .and_then(|o| o.sk_state_change.clone());
    if let Some(old) = old {
        old(sk);
    }
}

/// C: conn.c iscsi_data_ready(): our `sk_data_ready`.
fn iscsi_data_ready(w: &Weak<IscsiConn>, sk: &Arc<Sock>) {
    let Some(conn) = w.upgrade() else {
        return;
    };
    iscsi_make_conn_rd_active(&conn);
    let old = conn
        .old_callbacks
        .lock()
        .as_ref()
        .and_then(|o| o.sk_data_ready.clone());
    if let Some(old) = old {
        old(sk);
    }
}

/// C: conn.c __iscsi_write_space_ready().
pub fn __iscsi_write_space_ready(conn: &Arc<IscsiConn>) {
    let p = &conn.conn_thr_pool;
    let mut wr_list = p.wr_lock.lock_bh();
    conn.wr_space_ready.store(true, Ordering::Release);
    if conn.wr_state.load(Ordering::Acquire) == ISCSI_CONN_WR_STATE_SPACE_WAIT {
        TRACE_DBG!("wr space ready (conn {:?})", conn);
        wr_list.add_tail(Arc::clone(conn));
        conn.wr_state
            .store(ISCSI_CONN_WR_STATE_IN_LIST, Ordering::Release);
        wake_up(&p.wr_waitQ);
    }
}

/// C: conn.c iscsi_write_space_ready(): our `sk_write_space`.
fn iscsi_write_space_ready(w: &Weak<IscsiConn>, sk: &Arc<Sock>) {
    let Some(conn) = w.upgrade() else {
        return;
    };
    TRACE_DBG!("Write space ready for conn {:?}", conn);
    __iscsi_write_space_ready(&conn);
    let old = conn
        .old_callbacks
        .lock()
        .as_ref()
        .and_then(|o| o.sk_write_space.clone());
    if let Some(old) = old {
        old(sk);
    }
}

/// C `iscsi_get_timeout()`: the response timeout of a request (the NOP-In timeout for our
/// NOP-In pings).
pub fn iscsi_get_timeout(req: &IscsiCmnd) -> u64 {
    let conn = &req.conn;
    let mut res = if opcode_of(req) == crate::iscsi_hdr::ISCSI_OP_NOP_OUT {
        conn.nop_in_timeout.load(Ordering::Acquire)
    } else {
        conn.data_rsp_timeout.load(Ordering::Acquire)
    };
    if test_bit(ISCSI_CMD_ABORTED, &req.prelim_compl_flags) {
        res = res.min(ISCSI_TM_DATA_WAIT_TIMEOUT);
    }
    res
}

/// C `iscsi_get_timeout_time()`.
pub fn iscsi_get_timeout_time(req: &IscsiCmnd) -> u64 {
    req.write_start
        .load(Ordering::Acquire)
        .wrapping_add(iscsi_get_timeout(req))
}

/// C: conn.c conn_rsp_timer_fn(): a response (or the NOP-Out answering our NOP-In) took too
/// long: close the connection; otherwise re-arm for the oldest request.
fn conn_rsp_timer_fn(w: &Weak<IscsiConn>) {
    let Some(conn) = w.upgrade() else {
        return;
    };
    let j = jiffies();
    TRACE_DBG!("Timer (conn {:?})", conn);

    let wl = conn.write_list_lock.lock_bh();
    if let Some((_, cmnd)) = wl.write_timeout_list.first() {
        let cmnd = Arc::clone(cmnd);
        let timeout_time = iscsi_get_timeout_time(&cmnd).wrapping_add(ISCSI_ADD_SCHED_TIME);
        if time_after_eq(j, iscsi_get_timeout_time(&cmnd)) {
            if !conn.closing.load(Ordering::Acquire) {
                PRINT_ERROR!(
                    "Timeout {} sec sending data/waiting for reply to/from initiator {} (SID {:x}), closing connection {:?}",
                    iscsi_get_timeout(&cmnd) / HZ,
                    conn.session.initiator_name,
                    conn.session.sid,
                    conn
                );
                // mark_conn_closed() outside write_list_lock: it takes rd_lock, which is the
                // outer lock.
                drop(wl);
                mark_conn_closed(&conn);
                return;
            }
        } else if !timer_pending(&conn.rsp_timer)
            || time_after(conn.rsp_timer.expires(), timeout_time)
        {
            TRACE_DBG!("Restarting timer on {} (conn {:?})", timeout_time, conn);
            // The timer may have been restarted meanwhile; with the list not empty there is
            // no race with del_timer_sync() in conn_free().
            mod_timer(&conn.rsp_timer, timeout_time);
        }
    }
    drop(wl);

    if conn.conn_tm_active.load(Ordering::Acquire) {
        TRACE_MGMT_DBG!("TM active: making conn {:?} RD active", conn);
        iscsi_make_conn_rd_active(&conn);
    }
}

/// C: conn.c iscsi_check_tm_data_wait_timeouts(): aborted requests still waiting for Data-Out
/// fail once they waited `ISCSI_TM_DATA_WAIT_TIMEOUT` (at once with `force`, on close), so
/// that the task management functions waiting for them finish; `conn_tm_active` goes when
/// none is left. A request whose data are arriving right now cannot be failed without losing
/// the stream's sync: the response timer closes the connection if it takes too long. Called
/// from the read side only.
pub fn iscsi_check_tm_data_wait_timeouts(conn: &Arc<IscsiConn>, force: bool) {
    let j = jiffies();
    let timeout_time = j + ISCSI_TM_DATA_WAIT_TIMEOUT + ISCSI_ADD_SCHED_TIME;
    TRACE_MGMT_DBG!(
        "conn {:?}, j {} (TIMEOUT {}, force {})",
        conn,
        j,
        ISCSI_TM_DATA_WAIT_TIMEOUT + ISCSI_ADD_SCHED_TIME,
        force
    );
    let read_cmnd = conn.rd.lock().read_cmnd.clone();
    'again: loop {
        let _rd = conn.conn_thr_pool.rd_lock.lock_bh();
        let wl = conn.write_list_lock.lock();
        let mut aborted_cmds_pending = false;
        let cmnds: Vec<_> = wl
            .write_timeout_list
            .iter()
            .map(|(_, c)| Arc::clone(c))
            .collect();
        for cmnd in cmnds {
            if !test_bit(ISCSI_CMD_ABORTED, &cmnd.prelim_compl_flags) {
                continue;
            }
            let (receiving, to_receive) = {
                let d = cmnd.d.lock();
                (d.data_out_in_data_receiving, d.r2t_len_to_receive)
            };
            let is_read_cmnd = read_cmnd.as_ref().is_some_and(|r| Arc::ptr_eq(r, &cmnd));
            if is_read_cmnd || receiving {
                TRACE_MGMT_DBG!(
                    "Aborted cmnd {:?} is {}, keep waiting",
                    cmnd,
                    if is_read_cmnd {
                        "RX cmnd"
                    } else {
                        "waiting for DATA OUT data"
                    }
                );
            } else if to_receive != 0
                && (force
                    || time_after_eq(
                        j,
                        cmnd.write_start.load(Ordering::Acquire) + ISCSI_TM_DATA_WAIT_TIMEOUT,
                    ))
            {
                drop(wl);
                drop(_rd);
                iscsi_fail_data_waiting_cmnd(&cmnd);
                continue 'again;
            }
            aborted_cmds_pending = true;
        }
        if aborted_cmds_pending {
            if !force
                && (!timer_pending(&conn.rsp_timer)
                    || time_after(conn.rsp_timer.expires(), timeout_time))
            {
                TRACE_MGMT_DBG!("Mod timer on {} (conn {:?})", timeout_time, conn);
                mod_timer(&conn.rsp_timer, timeout_time);
            }
        } else {
            TRACE_MGMT_DBG!("Clearing conn_tm_active for conn {:?}", conn);
            conn.conn_tm_active.store(false, Ordering::Release);
        }
        return;
    }
}

/// C: conn.c conn_nop_in_delayed_work_fn(): sends a NOP-In when the initiator was silent for
/// NopInInterval, and re-schedules itself.
fn conn_nop_in_delayed_work_fn(w: &Weak<IscsiConn>) {
    let Some(conn) = w.upgrade() else {
        return;
    };
    let interval = conn.nop_in_interval.load(Ordering::Acquire);
    let last = conn.last_rcv_time.load(Ordering::Acquire);
    let mut next_timeout = 0;

    if time_after_eq(jiffies(), last.wrapping_add(interval)) {
        if conn.nop_req_list_lock.lock_bh().is_empty() {
            iscsi_send_nop_in(&conn);
        }
        next_timeout = interval;
    }

    if interval > 0 && !test_bit(ISCSI_CONN_SHUTTINGDOWN, &conn.conn_aflags) {
        if next_timeout == 0 {
            next_timeout = interval.wrapping_sub(jiffies().wrapping_sub(last));
        }
        TRACE_DBG!(
            "Reschedule Nop-In work for conn {:?} in {}",
            conn,
            next_timeout + ISCSI_ADD_SCHED_TIME
        );
        schedule_delayed_work(
            &conn.nop_in_delayed_work,
            next_timeout.wrapping_add(ISCSI_ADD_SCHED_TIME),
        );
    }
}

/// C: conn.c conn_reinst_finished(); `target_mutex` held. Commands waiting for the
/// reinstatement are restarted with the datapath (none exist before it).
pub fn conn_reinst_finished(conn: &IscsiConn, g: &mut MutexGuard<'_, TargetMutex>) {
    kemu::atomic::clear_bit(ISCSI_CONN_REINSTATING, &conn.conn_aflags);
    let pending = std::mem::take(&mut conn.tm.access_mut(g).reinst_pending_cmd_list);
    for cmnd in pending {
        TRACE_MGMT_DBG!("Restarting reinst pending cmnd {:?}", cmnd);
        cmnd.d.lock().scst_state = ISCSI_CMD_STATE_AFTER_PREPROC;
        req_cmnd_release(&cmnd);
    }
}

/// C: conn.c conn_activate(): installs our socket callbacks and starts receiving.
///
/// Adapted: the socket is attached to the connection's read thread (an [`kemu::net::EventLoop`]).
pub fn conn_activate(conn: &Arc<IscsiConn>) -> Result<(), Errno> {
    TRACE_MGMT_DBG!("Enabling conn {:?}", conn);

    let w1 = Arc::downgrade(conn);
    let w2 = Arc::downgrade(conn);
    let w3 = Arc::downgrade(conn);
    let old = conn.sock.set_sk_callbacks(SockCallbacks {
        sk_data_ready: Some(Arc::new(move |sk: &Arc<Sock>| iscsi_data_ready(&w1, sk))),
        sk_write_space: Some(Arc::new(move |sk: &Arc<Sock>| {
            iscsi_write_space_ready(&w2, sk)
        })),
        sk_state_change: Some(Arc::new(move |sk: &Arc<Sock>| iscsi_state_change(&w3, sk))),
    });
    *conn.old_callbacks.lock() = Some(old);

    conn.rd_loop.attach(&conn.sock)?;

    // The connection may have been closed while it was set up; this makes it read-active if
    // needed.
    __iscsi_state_change(conn);
    Ok(())
}

/// C: conn.c conn_free(): the last step of closing; frees the session too when this was its
/// last connection. `target_mutex` held.
pub fn conn_free(conn: &Arc<IscsiConn>, g: &mut MutexGuard<'_, TargetMutex>) {
    let session = &conn.session;

    TRACE_MGMT!(
        "Freeing conn {:?} (sess={:?}, {:#x} {}, initiator {})",
        conn,
        session,
        session.sid,
        conn.cid,
        session.initiator_name
    );

    del_timer_sync(&conn.rsp_timer);

    if kemu::atomic::atomic_read(&conn.conn_ref_cnt) != 0 {
        PRINT_ERROR!(
            "conn {:?} freed with conn_ref_cnt {}",
            conn,
            kemu::atomic::atomic_read(&conn.conn_ref_cnt)
        );
    }

    // Just in case the new connection is freed before the old one.
    if test_bit(ISCSI_CONN_REINSTATING, &conn.conn_aflags) {
        TRACE_MGMT_DBG!("Freeing being reinstated conn {:?}", conn);
        for c in session.tm.access(g).conn_list.clone() {
            let t = c.tm.access_mut(g);
            if t.conn_reinst_successor
                .as_ref()
                .is_some_and(|x| Arc::ptr_eq(x, conn))
            {
                t.conn_reinst_successor = None;
                break;
            }
        }
    }

    session
        .tm
        .access_mut(g)
        .conn_list
        .retain(|c| !Arc::ptr_eq(c, conn));

    // C iscsi_tcp_conn_free(): fput() of the socket file. The socket is dropped with the last
    // reference of the connection.

    if session.tm.access(g).conn_list.is_empty() {
        session_free(session, g, true);
    }
}

/// C: conn.c iscsi_conn_alloc() + iscsi_init_conn() + conn_setup_sock(): a connection on the
/// daemon's socket `info.fd`, added to the session; `target_mutex` held.
fn iscsi_conn_alloc(
    session: &Arc<IscsiSession>,
    g: &mut MutexGuard<'_, TargetMutex>,
    info: &iscsi_kern_conn_info,
) -> Result<Arc<IscsiConn>, Errno> {
    TRACE_MGMT!(
        "Creating connection for sid {:#x}, cid {} (initiator {})",
        session.sid,
        info.cid,
        session.initiator_name
    );

    let sess_params = *session.sess_params.read();
    let tgt_params = *session.tgt_params.read();
    let mut hdigest_type = sess_params.header_digest;
    let mut ddigest_type = sess_params.data_digest;
    digest_init(&mut hdigest_type, &mut ddigest_type)?;

    let pool = session.sess_thr_pool.lock().clone().ok_or(Errno::ENOENT)?;
    let rd_loop = pool.next_rd_loop().ok_or(Errno::ENOENT)?;

    // C fget(info->fd) + conn_setup_sock().
    let sock = Sock::fget_raw(info.fd)?;
    if let Err(e) = sock.sock_setsockopt_tcp_nodelay(true) {
        PRINT_WARNING!(
            "Setting TCP_NODELAY for sid {:x} failed: {}",
            session.sid,
            e
        );
    }

    let reinstating = session.tm.access(g).sess_reinstating;
    let cid = u16::try_from(info.cid).unwrap_or(u16::MAX);

    let conn = Arc::new_cyclic(|w: &Weak<IscsiConn>| {
        let wt = w.clone();
        let wn = w.clone();
        IscsiConn {
            session: Arc::clone(session),
            target: Arc::clone(&session.target),
            cid,
            stat_sn: AtomicU32::new(info.stat_sn),
            exp_stat_sn: AtomicU32::new(info.exp_stat_sn),
            conn_aflags: BitWord::new(if reinstating {
                1 << ISCSI_CONN_REINSTATING
            } else {
                0
            }),
            cmd_list_lock: SpinLock::new(List::new()),
            conn_ref_cnt: AtomicT::new(0),
            write_list_lock: SpinLock::new(WriteLists::default()),
            rsp_timer: TimerList::new(move || conn_rsp_timer_fn(&wt)),
            data_rsp_timeout: AtomicU64::new(u64::from(tgt_params.rsp_timeout) * HZ),
            wr_state: AtomicU16::new(ISCSI_CONN_WR_STATE_IDLE),
            wr_space_ready: AtomicBool::new(false),
            wr: Mutex::new(WriteState::default()),
            sock,
            old_callbacks: parking_lot::Mutex::new(None),
            hdigest_type,
            ddigest_type,
            conn_thr_pool: Arc::clone(&pool),
            rd_loop,
            rd_state: AtomicU16::new(ISCSI_CONN_RD_STATE_IDLE),
            rd_data_ready: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            active_close: AtomicBool::new(false),
            deleting: AtomicBool::new(false),
            conn_tm_active: AtomicBool::new(false),
            last_rcv_time: AtomicU64::new(jiffies()),
            rd: Mutex::new(ReadState::default()),
            tm: LockedBy::new(&session.target.target_mutex, ConnTm::default()),
            read_state_waitQ: WaitQueueHead::new(),
            conn_ref_waitQ: WaitQueueHead::new(),
            ready_to_free: Completion::new(),
            nop_in_delayed_work: DelayedWork::new(move || conn_nop_in_delayed_work_fn(&wn)),
            nop_in_interval: AtomicU64::new(u64::from(tgt_params.nop_in_interval) * HZ),
            nop_in_timeout: AtomicU64::new(u64::from(tgt_params.nop_in_timeout) * HZ),
            nop_req_list_lock: SpinLock::new(Vec::new()),
            nop_in_ttt: AtomicU32::new(0),
            rx_task: parking_lot::Mutex::new(None),
        }
    });

    let interval = conn.nop_in_interval.load(Ordering::Acquire);
    if interval > 0 {
        TRACE_DBG!("Schedule Nop-In work for conn {:?}", conn);
        schedule_delayed_work(&conn.nop_in_delayed_work, interval + ISCSI_ADD_SCHED_TIME);
    }

    session.tm.access_mut(g).conn_list.push(Arc::clone(&conn));

    if hdigest_type & DIGEST_NONE == 0 || ddigest_type & DIGEST_NONE == 0 {
        TRACE_DBG!(
            "conn {:?}: header digest {:x}, data digest {:x}",
            conn,
            hdigest_type,
            ddigest_type
        );
    }
    Ok(conn)
}

/// C: conn.c __add_conn(): `ADD_CONN`: takes over the socket and starts the full-feature
/// phase. A connection with a CID in use and not shutting down is reinstated. `EEXIST` for a
/// second connection (MaxConnections is 1).
pub fn __add_conn(
    session: &Arc<IscsiSession>,
    g: &mut MutexGuard<'_, TargetMutex>,
    info: &iscsi_kern_conn_info,
) -> Result<(), Errno> {
    let cid = u16::try_from(info.cid).unwrap_or(u16::MAX);
    let conn = conn_lookup(session, g, cid);
    let reinstatement = match &conn {
        Some(c) if !test_bit(ISCSI_CONN_SHUTTINGDOWN, &c.conn_aflags) => true,
        _ => {
            if !session.tm.access(g).conn_list.is_empty() {
                return Err(Errno::EEXIST);
            }
            false
        }
    };

    let new_conn = iscsi_conn_alloc(session, g, info)?;

    if let (true, Some(old)) = (reinstatement, conn) {
        TRACE_MGMT!("Reinstating conn (old {:?}, new {:?})", old, new_conn);
        old.tm.access_mut(g).conn_reinst_successor = Some(Arc::clone(&new_conn));
        kemu::atomic::set_bit(ISCSI_CONN_REINSTATING, &new_conn.conn_aflags);
        __mark_conn_closed(&old, 0);
    }

    if let Err(e) = conn_activate(&new_conn) {
        PRINT_ERROR!("Activating conn {:?} failed: {}", new_conn, e);
        session
            .tm
            .access_mut(g)
            .conn_list
            .retain(|c| !Arc::ptr_eq(c, &new_conn));
        return Err(e);
    }
    Ok(())
}

/// C: conn.c __del_conn(): `DEL_CONN`: closes the connection. `EEXIST` (as C) for an unknown
/// CID.
pub fn __del_conn(
    session: &Arc<IscsiSession>,
    g: &mut MutexGuard<'_, TargetMutex>,
    info: &iscsi_kern_conn_info,
) -> Result<(), Errno> {
    let cid = u16::try_from(info.cid).unwrap_or(u16::MAX);
    let Some(conn) = conn_lookup(session, g, cid) else {
        PRINT_WARNING!("Connection {} not found", info.cid);
        return Err(Errno::EEXIST);
    };

    PRINT_INFO!(
        "Deleting connection with initiator {} ({:?})",
        conn.session.initiator_name,
        conn
    );
    __mark_conn_closed(&conn, ISCSI_CONN_ACTIVE_CLOSE | ISCSI_CONN_DELETING);
    Ok(())
}
