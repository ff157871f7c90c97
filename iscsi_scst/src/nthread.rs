// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2002 - 2003 Ardis Technolgies <roman@ardistech.com>
// Copyright (C) 2007 - 2016 Vladislav Bolkhovitin
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! The network threads: the port of `iscsi-scst/kernel/nthread.c`: the receive state machine
//! (`process_read_io` over `do_recv`), the read threads' job (`scst_do_job_rd`), the transmit
//! state machine (`iscsi_send` over `write_data`) and the write threads (`istwr`), the response
//! timeout list, and closing a connection (`close_conn` on an `iscsi_conn_cleanup` thread,
//! which ends with `E_CONN_CLOSE` to the daemon).
//!
//! Adapted for the port:
//! - `istrd` is an event loop (docs/ARCHITECTURE.md §2): [`istrd_job`](crate::nthread::istrd_job) is its `scst_do_job_rd`
//!   run after each batch of socket callbacks.
//! - `conn->read_msg` / `read_iov` (pointers into the command) become [`RxTarget`](crate::iscsi::RxTarget) + offsets;
//!   `do_recv` builds the `iovec`s at each call.
//! - `write_data` sends the header from a byte copy made by `cmnd_tx_start` and the data from
//!   the command's (or its request's) pages with `kernel_sendmsg` and `MSG_MORE`, as C does
//!   with `sendpage`; there is no zero-copy completion notification to track.
//! - `close_conn` aborts the session's commands with `SCST_NEXUS_LOSS_SESS`, as C;
//!   `iscsi_task_mgmt_affected_cmds_done()` then releases the connection
//!   (`scst_reassign_retained_sess_states()` is not ported).
//! - A data digest is always checked inline (C defers digests of SCSI data above 16 KiB to the
//!   SCST thread; SCSI data come with the datapath).
#![doc(alias = "nthread.c")]

use std::io::{IoSlice, IoSliceMut};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use scst_core::scst::{scst_mgmt_cmd_get_fn, scst_mgmt_cmd_get_tgt_priv, ScstMgmtCmd};
use scst_core::scst_const::{
    SCST_ABORT_ALL_TASKS, SCST_ABORT_ALL_TASKS_SESS, SCST_NEXUS_LOSS, SCST_NEXUS_LOSS_SESS,
};

use kemu::atomic::{set_bit, test_bit};
use kemu::completion::{complete_all, wait_for_completion};
use kemu::kthread::{kthread_run, kthread_should_stop};
use kemu::mm::PAGE_SIZE;
use kemu::net::{
    kernel_sendmsg, kernel_sock_shutdown, sock_recvmsg, MSG_MORE, SHUT_RD, SHUT_RDWR, SHUT_WR,
};
use kemu::scatterlist::{sg_virt, sg_virt_mut, Scatterlist};
use kemu::timer::{add_timer, jiffies, mod_timer, time_after, timer_pending};
use kemu::wait::wait_event_locked;
use kemu::{Errno, PRINT_CRIT_ERROR, PRINT_ERROR, PRINT_INFO, TRACE, TRACE_DBG, TRACE_MGMT_DBG};
use zerocopy::IntoBytes;

use crate::abi::{DIGEST_NONE, E_CONN_CLOSE};
use crate::conn::{
    __iscsi_write_space_ready, conn_free, iscsi_get_timeout_time, iscsi_make_conn_wr_active,
    mark_conn_closed,
};
use crate::digest::{digest_rx_data, digest_rx_header, digest_tx_header, DigestReq};
use crate::event::event_send;
use crate::iscsi::*;
use crate::iscsi_hdr::{cmnd_opcode, ISCSI_OP_NOP_OUT, ISCSI_OP_SCSI_CMD, ISCSI_OP_SCSI_DATA_OUT};

/// C `enum rx_state`.
pub const RX_INIT_BHS: i32 = 0;
/// C `RX_BHS`.
pub const RX_BHS: i32 = 1;
/// C `RX_CMD_START`.
pub const RX_CMD_START: i32 = 2;
/// C `RX_DATA`.
pub const RX_DATA: i32 = 3;
/// C `RX_END`.
pub const RX_END: i32 = 4;
/// C `RX_CMD_CONTINUE`.
pub const RX_CMD_CONTINUE: i32 = 5;
/// C `RX_INIT_HDIGEST`.
pub const RX_INIT_HDIGEST: i32 = 6;
/// C `RX_CHECK_HDIGEST`.
pub const RX_CHECK_HDIGEST: i32 = 7;
/// C `RX_INIT_DDIGEST`.
pub const RX_INIT_DDIGEST: i32 = 8;
/// C `RX_CHECK_DDIGEST`.
pub const RX_CHECK_DDIGEST: i32 = 9;
/// C `RX_AHS`.
pub const RX_AHS: i32 = 10;
/// C `RX_PADDING`.
pub const RX_PADDING: i32 = 11;

/// C `enum tx_state`: `TX_INIT`.
pub const TX_INIT: i32 = 0;
/// C `TX_BHS_DATA`.
pub const TX_BHS_DATA: i32 = 1;
/// C `TX_INIT_PADDING`.
pub const TX_INIT_PADDING: i32 = 2;
/// C `TX_PADDING`.
pub const TX_PADDING: i32 = 3;
/// C `TX_INIT_DDIGEST`.
pub const TX_INIT_DDIGEST: i32 = 4;
/// C `TX_DDIGEST`.
pub const TX_DDIGEST: i32 = 5;
/// C `TX_END`.
pub const TX_END: i32 = 6;

const CONN_PENDING_TIMEOUT: u64 = 10 * kemu::timer::HZ;
const CONN_WAIT_TIMEOUT: u64 = 10 * kemu::timer::HZ;
const CONN_REG_SHUT_TIMEOUT: u64 = 125 * kemu::timer::HZ;
const CONN_DEL_SHUT_TIMEOUT: u64 = 10 * kemu::timer::HZ;

fn neg(e: Errno) -> i32 {
    -(e as i32)
}

// ---------------------------------------------------------------------------------------------
// Closing
// ---------------------------------------------------------------------------------------------

/// C: nthread.c free_pending_commands(): drops this connection's commands that wait for their
/// CmdSN when their turn has come.
fn free_pending_commands(conn: &Arc<IscsiConn>) {
    let session = &conn.session;
    loop {
        let mut sn = session.sn_lock.lock();
        let exp = sn.exp_cmd_sn;
        let pos = sn
            .pending_list
            .iter()
            .position(|c| Arc::ptr_eq(&c.conn, conn) && c.d.lock().pdu.bhs.sn == exp);
        let Some(pos) = pos else {
            return;
        };
        let cmnd = sn.pending_list.remove(pos);
        cmnd.d.lock().pending = false;
        sn.exp_cmd_sn = sn.exp_cmd_sn.wrapping_add(1);
        drop(sn);
        TRACE_MGMT_DBG!("Freeing pending cmd {:?}", cmnd);
        req_cmnd_release_force(&cmnd);
    }
}

/// C: nthread.c free_orphaned_pending_commands(): after `CONN_PENDING_TIMEOUT`, drops all of
/// this connection's pending commands.
fn free_orphaned_pending_commands(conn: &Arc<IscsiConn>) {
    let session = &conn.session;
    loop {
        let mut sn = session.sn_lock.lock();
        let pos = sn
            .pending_list
            .iter()
            .position(|c| Arc::ptr_eq(&c.conn, conn));
        let Some(pos) = pos else {
            return;
        };
        let cmnd = sn.pending_list.remove(pos);
        cmnd.d.lock().pending = false;
        if sn.exp_cmd_sn == cmnd.d.lock().pdu.bhs.sn {
            sn.exp_cmd_sn = sn.exp_cmd_sn.wrapping_add(1);
        }
        drop(sn);
        TRACE_MGMT_DBG!("Freeing orphaned pending cmnd {:?}", cmnd);
        req_cmnd_release_force(&cmnd);
    }
}

/// C: nthread.c iscsi_task_mgmt_affected_cmds_done(): after the `SCST_NEXUS_LOSS_SESS` of a
/// closing connection (its `tgt_priv`), the session is shutting down once all its connections
/// are, reinstatement successors are released and the connection may be freed. Nothing to do
/// for other functions.
pub fn iscsi_task_mgmt_affected_cmds_done(scst_mcmd: &Arc<ScstMgmtCmd>) {
    let fn_ = scst_mgmt_cmd_get_fn(scst_mcmd);
    TRACE_MGMT_DBG!("scst_mcmd {:?}, fn {:?}", scst_mcmd, fn_);
    match fn_ {
        SCST_NEXUS_LOSS_SESS => {
            let conn =
                scst_mgmt_cmd_get_tgt_priv(scst_mcmd).and_then(|p| p.downcast::<IscsiConn>().ok());
            match conn {
                Some(conn) => iscsi_nexus_loss_sess_done(&conn),
                None => PRINT_CRIT_ERROR!("SCST_NEXUS_LOSS_SESS without its connection"),
            }
        }
        SCST_ABORT_ALL_TASKS_SESS | SCST_ABORT_ALL_TASKS | SCST_NEXUS_LOSS => {
            PRINT_CRIT_ERROR!("Unexpected TM fn {:?}", fn_);
        }
        // Nothing to do.
        _ => {}
    }
}

/// C: nthread.c iscsi_task_mgmt_affected_cmds_done(), case `SCST_NEXUS_LOSS_SESS` (the part
/// after the retained states' reassignment, which is not ported).
fn iscsi_nexus_loss_sess_done(conn: &Arc<IscsiConn>) {
    let sess = &conn.session;
    {
        let mut g = sess.target.target_mutex.lock();

        // The session is marked as shutting down only now: until here it may have had
        // pending commands, and a reinstating session must not run its commands before them.
        let all_down = sess
            .tm
            .access(&g)
            .conn_list
            .iter()
            .all(|c| test_bit(ISCSI_CONN_SHUTTINGDOWN, &c.conn_aflags));
        sess.tm.access_mut(&mut g).sess_shutting_down = all_down;

        let conn_succ = conn.tm.access_mut(&mut g).conn_reinst_successor.take();
        if let Some(succ) = conn_succ {
            crate::conn::conn_reinst_finished(&succ, &mut g);
        } else {
            let sess_succ = sess.tm.access_mut(&mut g).sess_reinst_successor.take();
            if let Some(succ) = sess_succ {
                crate::session::sess_reinst_finished(&succ, &mut g);
            }
        }
    }
    complete_all(&conn.ready_to_free);
}

/// C: nthread.c close_conn(): shuts the socket, waits until nothing uses the connection, gives
/// the socket its callbacks back, frees the connection (and the session with its last
/// connection) and tells the daemon (`E_CONN_CLOSE`).
fn close_conn(conn: &Arc<IscsiConn>) {
    let session = Arc::clone(&conn.session);
    let target = Arc::clone(&conn.target);
    let start_waiting = jiffies();
    let mut shut_start_waiting = start_waiting;
    let mut pending_reported = false;
    let mut wait_expired = false;
    let mut shut_expired = false;

    TRACE_MGMT_DBG!(
        "Closing connection {:?} (conn_ref_cnt={})",
        conn,
        kemu::atomic::atomic_read(&conn.conn_ref_cnt)
    );

    // C iscsit_conn_close(): with an active close our queued responses still go out.
    let how = if conn.active_close.load(Ordering::Acquire) {
        SHUT_RD
    } else {
        SHUT_RDWR
    };
    let _ = kernel_sock_shutdown(&conn.sock, how);

    {
        let _g = target.target_mutex.lock();
        set_bit(ISCSI_CONN_SHUTTINGDOWN, &conn.conn_aflags);
    }

    // The session's commands are aborted; iscsi_task_mgmt_affected_cmds_done() then lets
    // the connection be freed (ready_to_free).
    let scst_sess = session.scst_sess.lock().clone();
    let rc = match scst_sess {
        Some(s) => scst_core::scst_targ::scst_rx_mgmt_fn_lun(
            &s,
            SCST_NEXUS_LOSS_SESS,
            Some(&[0u8; 8]),
            false,
            Some(Arc::clone(conn) as scst_core::scst::TgtPriv),
        ),
        None => Err(kemu::Errno::EINVAL),
    };
    if let Err(e) = rc {
        PRINT_ERROR!("SCST_NEXUS_LOSS_SESS failed {:?}", e);
        // Nothing will call iscsi_task_mgmt_affected_cmds_done(): do its part here.
        iscsi_nexus_loss_sess_done(conn);
    }

    let read_cmnd = {
        let mut rd = conn.rd.lock();
        if rd.read_state != RX_INIT_BHS {
            rd.read_state = RX_INIT_BHS;
            rd.target = RxTarget::None;
            rd.read_cmnd.take()
        } else {
            None
        }
    };
    if let Some(cmnd) = read_cmnd {
        if cmnd.d.lock().scst_state == ISCSI_CMD_STATE_RX_CMD {
            TRACE!(
                TRACE_CONN_OC_DBG,
                "Going to wait for cmnd {:?} to change state from RX_CMD",
                cmnd
            );
        }
        kemu::wait::wait_event(&conn.read_state_waitQ, || {
            cmnd.d.lock().scst_state != ISCSI_CMD_STATE_RX_CMD
        });
        TRACE_DBG!("Releasing conn->read_cmnd {:?} (conn {:?})", cmnd, conn);
        req_cmnd_release_force(&cmnd);
    }

    conn_abort(conn);

    while kemu::atomic::atomic_read(&conn.conn_ref_cnt) != 0 {
        if conn.conn_tm_active.load(Ordering::Acquire) {
            crate::conn::iscsi_check_tm_data_wait_timeouts(conn, true);
        }

        let tm_rsp = {
            let _g = target.target_mutex.lock();
            let mut sn = session.sn_lock.lock();
            if sn
                .tm_rsp
                .as_ref()
                .is_some_and(|r| Arc::ptr_eq(&r.conn, conn))
            {
                crate::iscsi::iscsi_drop_delayed_tm_rsp(&mut sn)
            } else {
                None
            }
        };
        if let Some(tm_rsp) = tm_rsp {
            crate::iscsi::rsp_cmnd_release(&tm_rsp);
        }

        if !session.sn_lock.lock().pending_list.is_empty() {
            TRACE!(
                TRACE_CONN_OC_DBG,
                "Disposing pending commands on connection {:?} (conn_ref_cnt={})",
                conn,
                kemu::atomic::atomic_read(&conn.conn_ref_cnt)
            );
            free_pending_commands(conn);
            if time_after(jiffies(), start_waiting + CONN_PENDING_TIMEOUT) {
                if !pending_reported {
                    TRACE!(TRACE_CONN_OC, "Pending wait time expired");
                    pending_reported = true;
                }
                free_orphaned_pending_commands(conn);
            }
        }

        iscsi_make_conn_wr_active(conn);

        // For an active close, actually.
        if time_after(jiffies(), start_waiting + CONN_WAIT_TIMEOUT) && !wait_expired {
            TRACE!(TRACE_CONN_OC, "Wait time expired (conn {:?})", conn);
            let _ = kernel_sock_shutdown(&conn.sock, SHUT_WR);
            wait_expired = true;
            shut_start_waiting = jiffies();
        }

        let shut_timeout = if conn.deleting.load(Ordering::Acquire) {
            CONN_DEL_SHUT_TIMEOUT
        } else {
            CONN_REG_SHUT_TIMEOUT
        };
        if wait_expired && !shut_expired && time_after(jiffies(), shut_start_waiting + shut_timeout)
        {
            TRACE!(
                TRACE_CONN_OC,
                "Wait time after shutdown expired (conn {:?})",
                conn
            );
            let _ = kernel_sock_shutdown(&conn.sock, SHUT_RDWR);
            shut_expired = true;
        }

        // C msleep()s 200 ms (deleting) or 1 s here and looks again; the port waits as long
        // at most, but wakes as soon as the last reference goes (conn_put()), so a closing
        // connection is freed — and its session's reservations released — without a
        // 1-second pause.
        let ms = if conn.deleting.load(Ordering::Acquire) {
            200
        } else {
            1000
        };
        kemu::wait::wait_event_timeout(
            &conn.conn_ref_waitQ,
            || kemu::atomic::atomic_read(&conn.conn_ref_cnt) == 0,
            kemu::timer::msecs_to_jiffies(ms),
        );

        TRACE!(
            TRACE_CONN_OC_DBG,
            "conn {:?}, conn_ref_cnt {} left, wr_state {}",
            conn,
            kemu::atomic::atomic_read(&conn.conn_ref_cnt),
            conn.wr_state.load(Ordering::Relaxed)
        );

        // It might never be called for a connection being closed.
        __iscsi_write_space_ready(conn);
    }

    // C: restore the socket's callbacks under sk_callback_lock. Detaching also guarantees
    // that no callback of ours runs any more.
    let _ = conn.rd_loop.detach(&conn.sock);
    if let Some(old) = conn.old_callbacks.lock().take() {
        conn.sock.set_sk_callbacks(old);
    }

    loop {
        let idle = {
            let _wr = conn.conn_thr_pool.wr_lock.lock_bh();
            conn.wr_state.load(Ordering::Acquire) == ISCSI_CONN_WR_STATE_IDLE
        };
        if idle && kemu::atomic::atomic_read(&conn.conn_ref_cnt) == 0 {
            break;
        }
        TRACE!(
            TRACE_CONN_OC_DBG,
            "Waiting for wr thread (conn {:?}), wr_state {:x}",
            conn,
            conn.wr_state.load(Ordering::Relaxed)
        );
        // C msleep(50)s; the port wakes early when the write thread lets go of the
        // connection (scst_do_job_wr()) or the last reference goes (conn_put()).
        kemu::wait::wait_event_timeout(
            &conn.conn_ref_waitQ,
            || {
                conn.wr_state.load(Ordering::Acquire) == ISCSI_CONN_WR_STATE_IDLE
                    && kemu::atomic::atomic_read(&conn.conn_ref_cnt) == 0
            },
            kemu::timer::msecs_to_jiffies(50),
        );
    }

    wait_for_completion(&conn.ready_to_free);

    let tid = target.tid;
    let sid = session.sid;
    let cid = u32::from(conn.cid);

    {
        let mut g = target.target_mutex.lock();
        conn_free(conn, &mut g);
    }

    // E_CONN_CLOSE only now: earlier, the daemon could try to destroy a session that still
    // has connections.
    TRACE!(
        TRACE_CONN_OC,
        "Notifying user space about closing connection {:?}",
        conn
    );
    if let Err(e) = event_send(tid, sid, cid, 0, E_CONN_CLOSE, None, None) {
        PRINT_ERROR!("Sending E_CONN_CLOSE failed: {}", e);
    }
}

/// C: nthread.c start_close_conn(): closes the connection on its own `iscsi_conn_cleanup`
/// thread (directly if no thread can be started).
pub fn start_close_conn(conn: &Arc<IscsiConn>) {
    let c = Arc::clone(conn);
    if let Err(e) = kthread_run(
        move || {
            close_conn(&c);
            0
        },
        "iscsi_conn_cleanup",
    ) {
        PRINT_ERROR!(
            "kthread_run() failed ({}), closing conn {:?} directly",
            e,
            conn
        );
        close_conn(conn);
    }
}

// ---------------------------------------------------------------------------------------------
// Receive
// ---------------------------------------------------------------------------------------------

/// C `iscsi_conn_init_read()`: the next bytes go to `target`.
fn iscsi_conn_init_read(rd: &mut ReadState, target: RxTarget, len: usize) {
    rd.target = target;
    rd.sg_offset = 0;
    rd.size = len;
    rd.done = 0;
}

/// The `iovec`s of `len` bytes of `sg` from byte `offset`.
fn sg_iov_mut(sg: &mut [Scatterlist], mut offset: usize, mut len: usize) -> Vec<IoSliceMut<'_>> {
    let mut iov = Vec::new();
    for e in sg.iter_mut() {
        if len == 0 {
            break;
        }
        let buf = sg_virt_mut(e);
        if offset >= buf.len() {
            offset -= buf.len();
            continue;
        }
        let n = (buf.len() - offset).min(len);
        iov.push(IoSliceMut::new(&mut buf[offset..offset + n]));
        len -= n;
        offset = 0;
    }
    iov
}

/// C: nthread.c do_recv(): receives what the socket has for the current target. Returns the
/// bytes still missing (0: done), or a negative errno when the connection is closing.
fn do_recv(conn: &Arc<IscsiConn>, rd: &mut ReadState) -> i32 {
    if conn.closing.load(Ordering::Acquire) {
        return neg(Errno::EIO);
    }
    let Some(cmnd) = rd.read_cmnd.clone() else {
        return neg(Errno::EIO);
    };

    let left = rd.size - rd.done;
    let (start, end) = (rd.done, rd.size);
    // How many bytes this call asks for: the whole rest, except for the dummy page and a
    // buffer that ends before the message does, which are read piecewise.
    let mut req_len = left;
    let res = loop {
        let r = match rd.target {
            RxTarget::None => Ok(0),
            RxTarget::Bhs => {
                let mut d = cmnd.d.lock();
                let b = d.pdu.bhs.as_mut_bytes();
                sock_recvmsg(&conn.sock, &mut [IoSliceMut::new(&mut b[start..end])], 0)
            }
            RxTarget::Ahs => {
                let mut d = cmnd.d.lock();
                let b = &mut d.pdu.ahs;
                sock_recvmsg(&conn.sock, &mut [IoSliceMut::new(&mut b[start..end])], 0)
            }
            RxTarget::HDigest => {
                let mut d = cmnd.d.lock();
                sock_recvmsg(
                    &conn.sock,
                    &mut [IoSliceMut::new(&mut d.hdigest[start..end])],
                    0,
                )
            }
            RxTarget::DDigest => {
                let mut d = cmnd.d.lock();
                sock_recvmsg(
                    &conn.sock,
                    &mut [IoSliceMut::new(&mut d.ddigest[start..end])],
                    0,
                )
            }
            RxTarget::Padding => sock_recvmsg(
                &conn.sock,
                &mut [IoSliceMut::new(&mut rd.rpadding[start..end])],
                0,
            ),
            RxTarget::Dummy => {
                if rd.dummy.len() < PAGE_SIZE {
                    rd.dummy.resize(PAGE_SIZE, 0);
                }
                let n = left.min(PAGE_SIZE);
                req_len = n;
                sock_recvmsg(&conn.sock, &mut [IoSliceMut::new(&mut rd.dummy[..n])], 0)
            }
            RxTarget::Sg => {
                // C cmnd_prepare_recv_pdu(): into the buffer of `sg_cmnd` at its offset;
                // what lies beyond the buffer (a residual overflow) goes to the dummy page.
                let target = rd.sg_cmnd.clone().unwrap_or_else(|| Arc::clone(&cmnd));
                let pos = rd.sg_offset + start;
                let sock = &conn.sock;
                let r = cmnd_with_sg_mut(&target, |sg| {
                    let total = kemu::scatterlist::sg_total_len(sg);
                    if pos >= total {
                        return None;
                    }
                    let want = left.min(total - pos);
                    let mut iov = sg_iov_mut(sg, pos, want);
                    Some((want, sock_recvmsg(sock, &mut iov, 0)))
                })
                .flatten();
                match r {
                    Some((want, r)) => {
                        req_len = want;
                        r
                    }
                    None => {
                        if rd.dummy.len() < PAGE_SIZE {
                            rd.dummy.resize(PAGE_SIZE, 0);
                        }
                        let n = left.min(PAGE_SIZE);
                        req_len = n;
                        sock_recvmsg(&conn.sock, &mut [IoSliceMut::new(&mut rd.dummy[..n])], 0)
                    }
                }
            }
        };
        match r {
            Err(Errno::EINTR) => continue,
            r => break r,
        }
    };

    match res {
        Ok(0) if left > 0 => {
            if !conn.closing.load(Ordering::Acquire) {
                PRINT_ERROR!("sock_recvmsg() failed: 0 (conn {:?})", conn);
                mark_conn_closed(conn);
            }
            neg(Errno::EIO)
        }
        Ok(n) => {
            rd.done += n;
            if n > 0 && n == req_len && rd.done < rd.size {
                // C reads the whole message with one iovec array and takes a short read as
                // "the socket is empty". A piecewise read that was filled completely must go
                // on: the socket may hold the rest, and an edge-triggered loop would not
                // report it again.
                return do_recv(conn, rd);
            }
            i32::try_from(rd.size - rd.done).unwrap_or(i32::MAX)
        }
        Err(Errno::EAGAIN) => {
            TRACE_DBG!("EAGAIN received for conn {:?}", conn);
            i32::try_from(left).unwrap_or(i32::MAX)
        }
        Err(e) => {
            if !conn.closing.load(Ordering::Acquire) {
                PRINT_ERROR!("sock_recvmsg() failed: {} (conn {:?})", neg(e), conn);
                mark_conn_closed(conn);
            }
            neg(e)
        }
    }
}

/// C: nthread.c iscsi_rx_check_ddigest().
fn iscsi_rx_check_ddigest(conn: &Arc<IscsiConn>, rd: &mut ReadState) -> i32 {
    let res = do_recv(conn, rd);
    if res != 0 {
        return res;
    }
    rd.read_state = RX_END;
    let Some(cmnd) = rd.read_cmnd.clone() else {
        return 0;
    };

    // The request whose buffer the data went to: a Data-Out's request, else the command.
    let (is_data_out, cmd_req, bhs, datasize, ddigest) = {
        let mut d = cmnd.d.lock();
        d.ddigest_checked = true;
        (
            cmnd_opcode(&d.pdu.bhs) == ISCSI_OP_SCSI_DATA_OUT,
            d.cmd_req.clone(),
            d.pdu.bhs,
            d.pdu.datasize,
            u32::from_le_bytes(d.ddigest),
        )
    };
    let orig_req = if is_data_out {
        cmd_req
    } else {
        Some(Arc::clone(&cmnd))
    };
    let rpadding = u32::from_ne_bytes(rd.rpadding);
    let ok = match &orig_req {
        None => true,
        Some(req) => {
            let (req_bhs, bufflen) = {
                let d = req.d.lock();
                (d.pdu.bhs, d.bufflen)
            };
            let prelim = req.prelim_compl_flags.bits();
            cmnd_with_sg(req, |sg| {
                let r = DigestReq {
                    bhs: &req_bhs,
                    sg,
                    bufflen,
                    prelim_compl_flags: prelim,
                };
                digest_rx_data(&bhs, datasize, Some(r), rpadding, ddigest).is_ok()
            })
            .unwrap_or_else(|| {
                let r = DigestReq {
                    bhs: &req_bhs,
                    sg: &[],
                    bufflen: 0,
                    prelim_compl_flags: prelim,
                };
                digest_rx_data(&bhs, datasize, Some(r), rpadding, ddigest).is_ok()
            })
        }
    };
    if !ok {
        let orig_req = orig_req.unwrap_or_else(|| Arc::clone(&cmnd));
        let has_scst = orig_req.d.lock().scst_cmd.is_some();
        if opcode_of(&orig_req) == ISCSI_OP_SCSI_CMD && has_scst {
            let (k, a, q) = ISCSI_SENSE_CRC_ERROR;
            set_scst_preliminary_status_rsp(&orig_req, false, k, a, q, rd);
        }
        // Prelim complete the command too, for the Data-Out case. RFC 3720 does not say what
        // to do with a digest error on a NOP-Out: it is dropped, as C does.
        TRACE_DBG!("cmnd {:?}: RX ddigest failed", cmnd);
        iscsi_preliminary_complete(&cmnd, &orig_req, false, rd);
    }
    0
}

/// C: nthread.c process_read_io(): the receive state machine of one connection, run until the
/// socket has no more data (> 0), one PDU was completed (0) or the connection closes (then
/// `closed` is set and it is being closed on its own thread).
fn process_read_io(conn: &Arc<IscsiConn>, closed: &mut bool) -> i32 {
    let mut rd = conn.rd.lock();
    let mut res;

    loop {
        match rd.read_state {
            RX_INIT_BHS | RX_BHS => {
                if rd.read_state == RX_INIT_BHS {
                    let cmnd = cmnd_alloc(conn, None);
                    rd.read_cmnd = Some(cmnd);
                    iscsi_conn_init_read(&mut rd, RxTarget::Bhs, 48);
                    rd.read_state = RX_BHS;
                }
                res = do_recv(conn, &mut rd);
                if res == 0 {
                    let Some(cmnd) = rd.read_cmnd.clone() else {
                        res = neg(Errno::EIO);
                        break;
                    };
                    let ahssize = {
                        let mut d = cmnd.d.lock();
                        iscsi_cmnd_get_length(&mut d.pdu);
                        d.pdu.ahssize
                    };
                    if ahssize == 0 {
                        rd.read_state = if conn.hdigest_type & DIGEST_NONE == 0 {
                            RX_INIT_HDIGEST
                        } else {
                            RX_CMD_START
                        };
                    } else {
                        // C iscsi_conn_prepare_read_ahs().
                        let asize = (ahssize as usize + 3) & !3;
                        cmnd.d.lock().pdu.ahs = vec![0; asize];
                        iscsi_conn_init_read(&mut rd, RxTarget::Ahs, asize);
                        rd.read_state = RX_AHS;
                    }
                }
            }

            RX_CMD_START => {
                let Some(cmnd) = rd.read_cmnd.clone() else {
                    res = neg(Errno::EIO);
                    break;
                };
                iscsi_conn_init_read(&mut rd, RxTarget::None, 0);
                rd.sg_cmnd = None;
                res = cmnd_rx_start(&cmnd, &mut rd);
                if res == 0 {
                    rd.read_state = if cmnd.d.lock().pdu.datasize == 0 {
                        RX_END
                    } else {
                        RX_DATA
                    };
                } else if res > 0 {
                    rd.read_state = RX_CMD_CONTINUE;
                } else if !conn.closing.load(Ordering::Acquire) {
                    PRINT_CRIT_ERROR!("cmnd_rx_start() failed without closing {:?}", conn);
                    mark_conn_closed(conn);
                }
            }

            RX_CMD_CONTINUE => {
                let Some(cmnd) = rd.read_cmnd.clone() else {
                    res = neg(Errno::EIO);
                    break;
                };
                if cmnd.d.lock().scst_state == ISCSI_CMD_STATE_RX_CMD {
                    TRACE_DBG!("cmnd {:?} is still in RX_CMD state", cmnd);
                    res = 1;
                    break;
                }
                res = cmnd_rx_continue(&cmnd, &mut rd);
                if res != 0 {
                    if !conn.closing.load(Ordering::Acquire) {
                        mark_conn_closed(conn);
                    }
                } else {
                    rd.read_state = if cmnd.d.lock().pdu.datasize == 0 {
                        RX_END
                    } else {
                        RX_DATA
                    };
                }
            }

            RX_DATA => {
                if rd.target == RxTarget::None {
                    // A data segment nobody prepared a buffer for (C reads it into an empty
                    // message, sees "0 bytes" and closes the connection).
                    PRINT_ERROR!("Unexpected data segment (conn {:?})", conn);
                    mark_conn_closed(conn);
                    res = neg(Errno::EIO);
                } else {
                    res = do_recv(conn, &mut rd);
                }
                if res == 0 {
                    let datasize = rd.read_cmnd.as_ref().map_or(0, |c| c.d.lock().pdu.datasize);
                    let psz = ((datasize + 3) & !3) - datasize;
                    if psz != 0 {
                        TRACE_DBG!("padding {} bytes", psz);
                        iscsi_conn_init_read(&mut rd, RxTarget::Padding, psz as usize);
                        rd.read_state = RX_PADDING;
                    } else if conn.ddigest_type & DIGEST_NONE != 0 {
                        rd.read_state = RX_END;
                    } else {
                        rd.read_state = RX_INIT_DDIGEST;
                    }
                }
            }

            RX_END => {
                let bytes_left = rd.size - rd.done;
                if bytes_left != 0 {
                    PRINT_CRIT_ERROR!(
                        "conn read_size !=0 on RX_END (conn {:?}, read_size {})",
                        conn,
                        bytes_left
                    );
                }
                let cmnd = rd.read_cmnd.take();
                rd.read_state = RX_INIT_BHS;
                iscsi_conn_init_read(&mut rd, RxTarget::None, 0);
                drop(rd);
                if let Some(cmnd) = cmnd {
                    cmnd_rx_end(&cmnd);
                }
                // One PDU per round, for fairness between connections.
                return 0;
            }

            RX_INIT_HDIGEST | RX_CHECK_HDIGEST => {
                if rd.read_state == RX_INIT_HDIGEST {
                    iscsi_conn_init_read(&mut rd, RxTarget::HDigest, 4);
                    rd.read_state = RX_CHECK_HDIGEST;
                }
                res = do_recv(conn, &mut rd);
                if res == 0 {
                    let ok = rd.read_cmnd.as_ref().is_some_and(|c| {
                        let d = c.d.lock();
                        digest_rx_header(&d.pdu.bhs, &d.pdu.ahs, u32::from_le_bytes(d.hdigest))
                            .is_ok()
                    });
                    if !ok {
                        PRINT_ERROR!(
                            "rx header digest for initiator {} (conn {:?}) failed",
                            conn.session.initiator_name,
                            conn
                        );
                        mark_conn_closed(conn);
                        res = neg(Errno::EIO);
                    } else {
                        rd.read_state = RX_CMD_START;
                    }
                }
            }

            RX_INIT_DDIGEST | RX_CHECK_DDIGEST => {
                if rd.read_state == RX_INIT_DDIGEST {
                    iscsi_conn_init_read(&mut rd, RxTarget::DDigest, 4);
                    rd.read_state = RX_CHECK_DDIGEST;
                }
                res = iscsi_rx_check_ddigest(conn, &mut rd);
            }

            RX_AHS => {
                res = do_recv(conn, &mut rd);
                if res == 0 {
                    rd.read_state = if conn.hdigest_type & DIGEST_NONE == 0 {
                        RX_INIT_HDIGEST
                    } else {
                        RX_CMD_START
                    };
                }
            }

            RX_PADDING => {
                res = do_recv(conn, &mut rd);
                if res == 0 {
                    rd.read_state = if conn.ddigest_type & DIGEST_NONE == 0 {
                        RX_INIT_DDIGEST
                    } else {
                        RX_END
                    };
                }
            }

            state => {
                PRINT_CRIT_ERROR!("{} (unknown read state)", state);
                mark_conn_closed(conn);
                res = neg(Errno::EIO);
            }
        }
        if res != 0 {
            break;
        }
    }
    drop(rd);

    if conn.closing.load(Ordering::Acquire) {
        start_close_conn(conn);
        *closed = true;
    }
    res
}

/// C: nthread.c scst_do_job_rd(): processes the pool's `rd_list`, one PDU per connection per
/// round; called by the pool's read threads after each batch of socket callbacks (the
/// `istrd` body, adapted).
pub fn istrd_job(p: &Arc<IscsiThreadPool>) {
    let mut rd_list = p.rd_lock.lock_bh();
    while let Some(conn) = rd_list.pop_front() {
        conn.rd_data_ready.store(false, Ordering::Release);
        conn.rd_state
            .store(ISCSI_CONN_RD_STATE_PROCESSING, Ordering::Release);
        drop(rd_list);

        let mut closed = false;
        let rc = process_read_io(&conn, &mut closed);

        if !closed && conn.conn_tm_active.load(Ordering::Acquire) {
            crate::conn::iscsi_check_tm_data_wait_timeouts(&conn, false);
        }

        rd_list = p.rd_lock.lock_bh();
        if closed {
            continue;
        }
        if rc == 0 || conn.rd_data_ready.load(Ordering::Acquire) {
            rd_list.add_tail(Arc::clone(&conn));
            conn.rd_state
                .store(ISCSI_CONN_RD_STATE_IN_LIST, Ordering::Release);
        } else {
            conn.rd_state
                .store(ISCSI_CONN_RD_STATE_IDLE, Ordering::Release);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Transmit
// ---------------------------------------------------------------------------------------------

/// C: nthread.c iscsi_get_send_cmnd(): the next PDU of the write list.
fn iscsi_get_send_cmnd(conn: &Arc<IscsiConn>) -> Option<Arc<IscsiCmnd>> {
    let mut wl = conn.write_list_lock.lock_bh();
    let cmnd = wl.write_list.first().map(|(_, c)| Arc::clone(c))?;
    cmd_del_from_write_list(&mut wl, &cmnd);
    cmnd.write_processing_started.store(true, Ordering::Release);
    Some(cmnd)
}

/// C: nthread.c req_add_to_write_timeout_list(): the request's responses are being sent;
/// start (or adjust) the response timer.
pub fn req_add_to_write_timeout_list(req: &Arc<IscsiCmnd>) {
    if req.on_write_timeout_list.load(Ordering::Acquire) {
        return;
    }
    let conn = &req.conn;
    let mut wl = conn.write_list_lock.lock_bh();
    if req.on_write_timeout_list.load(Ordering::Acquire) {
        return;
    }
    req.on_write_timeout_list.store(true, Ordering::Release);
    req.write_start.store(jiffies(), Ordering::Release);

    if opcode_of(req) == ISCSI_OP_NOP_OUT {
        // Our NOP-In pings: ordered by their timeout, which is usually the shortest.
        let req_tt = iscsi_get_timeout_time(req);
        let mut pos = None;
        let mut cur = wl
            .write_timeout_list
            .first()
            .map(|(h, c)| (h, Arc::clone(c)));
        while let Some((h, r)) = cur {
            if time_after(iscsi_get_timeout_time(&r), req_tt) {
                pos = Some(h);
                break;
            }
            cur = wl
                .write_timeout_list
                .next(h)
                .map(|(h, c)| (h, Arc::clone(c)));
        }
        let h = match pos {
            Some(before) => wl
                .write_timeout_list
                .add_before(before, Arc::clone(req))
                .unwrap_or_else(|| wl.write_timeout_list.add_tail(Arc::clone(req))),
            None => wl.write_timeout_list.add_tail(Arc::clone(req)),
        };
        req.write_timeout_list_entry.set(h);

        let req_tt = req_tt + ISCSI_ADD_SCHED_TIME;
        if timer_pending(&conn.rsp_timer) && time_after(conn.rsp_timer.expires(), req_tt) {
            TRACE_DBG!("Timer adjusted for sooner expired NOP IN req {:?}", req);
            mod_timer(&conn.rsp_timer, req_tt);
        }
    } else {
        let h = wl.write_timeout_list.add_tail(Arc::clone(req));
        req.write_timeout_list_entry.set(h);
    }

    if !timer_pending(&conn.rsp_timer) {
        let timeout_time = iscsi_get_timeout_time(req) + ISCSI_ADD_SCHED_TIME;
        TRACE_DBG!("Starting timer on {} (conn {:?})", timeout_time, conn);
        conn.rsp_timer.set_expires(timeout_time);
        add_timer(&conn.rsp_timer);
    }
}

/// C: nthread.c exit_tx(): a send error other than "would block" closes the connection.
fn exit_tx(conn: &Arc<IscsiConn>, ws: &mut WriteState, res: i32) -> i32 {
    if res == neg(Errno::EAGAIN) || res == neg(Errno::EINTR) {
        return res;
    }
    if !conn.closing.load(Ordering::Acquire) {
        PRINT_ERROR!(
            "Sending data failed: initiator {} (conn {:?}), write_size {}, write_state {}, res {}",
            conn.session.initiator_name,
            conn,
            ws.write_size,
            ws.write_state,
            res
        );
    }
    ws.write_state = TX_END;
    ws.write_size = 0;
    mark_conn_closed(conn);
    res
}

fn send_result(r: Result<usize, Errno>) -> i32 {
    match r {
        Ok(n) => i32::try_from(n).unwrap_or(i32::MAX),
        Err(e) => neg(e),
    }
}

/// C: nthread.c write_data(): sends the rest of the header and the data segment from the
/// command's pages (or its request's). Returns the bytes sent, or a negative errno.
///
/// Usermode: the header and the data go out in one gathered `sendmsg` (C sends the header
/// with `writev` and the pages with `sendpage`, which cost nothing extra in the kernel but
/// are a system call each here), and `MSG_MORE` is set only when the PDU's padding or data
/// digest follows; the per-PDU `TCP_CORK` of C is left out, as in the 2017 usermode
/// adaptation (usermode-design.md §3, §5.5). With `TCP_NODELAY` (set at ADD_CONN) each PDU is
/// pushed when its last byte is handed over.
fn write_data(conn: &Arc<IscsiConn>, ws: &mut WriteState) -> i32 {
    let Some(cmnd) = ws.write_cmnd.clone() else {
        return 0;
    };
    if let Some(parent) = &cmnd.parent_req {
        req_add_to_write_timeout_list(parent);
    }
    let datasize = cmnd.d.lock().pdu.datasize;
    // Padding or a data digest follows this PDU's data: tell TCP more is coming.
    let more = if datasize & 3 != 0 || conn.ddigest_type & DIGEST_NONE == 0 {
        MSG_MORE
    } else {
        0
    };
    let sock = Arc::clone(&conn.sock);
    let saved_size = ws.write_size;

    // Sends `iov` (the header rest, then data from `write_offset`) and accounts for what went
    // out: first the header, the rest is data. Ok(false): the socket took less than offered.
    let account = |ws: &mut WriteState, n: usize, offered: usize| {
        let h = n.min(ws.hdr.len() - ws.hdr_sent);
        ws.hdr_sent += h;
        ws.write_offset += u32::try_from(n - h).unwrap_or(u32::MAX);
        ws.write_size -= u32::try_from(n).unwrap_or(u32::MAX);
        n == offered
    };

    let res: Option<Result<(), Errno>> = if ws.write_size as usize <= ws.hdr.len() - ws.hdr_sent {
        // No data left (or none at all): the header rest alone.
        let mut r = Ok(());
        while ws.write_size > 0 {
            let hdr_rest = ws.hdr.len() - ws.hdr_sent;
            let flags = if datasize != 0 { MSG_MORE } else { 0 };
            match kernel_sendmsg(&sock, &[IoSlice::new(&ws.hdr[ws.hdr_sent..])], flags) {
                Ok(n) => {
                    let _ = account(ws, n, hdr_rest);
                }
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    r = Err(e);
                    break;
                }
            }
        }
        Some(r)
    } else {
        let hdr = std::mem::take(&mut ws.hdr);
        let r = cmnd_with_sg(&cmnd, |sg| loop {
            let size = ws.write_size as usize;
            if size == 0 {
                return Ok(());
            }
            let mut iov = Vec::with_capacity(sg.len() + 1);
            let hdr_rest = &hdr[ws.hdr_sent..];
            if !hdr_rest.is_empty() {
                iov.push(IoSlice::new(hdr_rest));
            }
            // The iovecs of the data bytes still to send, from write_offset.
            let mut want = size - hdr_rest.len();
            let mut off = ws.write_offset as usize;
            for e in sg {
                if want == 0 {
                    break;
                }
                let b = sg_virt(e);
                if off >= b.len() {
                    off -= b.len();
                    continue;
                }
                let n = (b.len() - off).min(want);
                iov.push(IoSlice::new(&b[off..off + n]));
                want -= n;
                off = 0;
            }
            if want != 0 {
                return Err(Errno::EIO);
            }
            match kernel_sendmsg(&sock, &iov, more) {
                Ok(n) => {
                    let h = n.min(hdr.len() - ws.hdr_sent);
                    ws.hdr_sent += h;
                    ws.write_offset += u32::try_from(n - h).unwrap_or(u32::MAX);
                    ws.write_size -= u32::try_from(n).unwrap_or(u32::MAX);
                    if n < size {
                        // The socket is full; the write thread waits for space.
                        return Ok(());
                    }
                }
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e),
            }
        });
        ws.hdr = hdr;
        r
    };
    let sent = saved_size - ws.write_size;
    match res {
        None => {
            PRINT_INFO!("WARNING: Data missed (cmd {:?})!", cmnd);
            0
        }
        Some(Ok(())) => i32::try_from(sent).unwrap_or(i32::MAX),
        // Nothing more went out: not an error, the write thread waits for space.
        Some(Err(Errno::EAGAIN)) if sent > 0 => sent.cast_signed(),
        Some(Err(Errno::EAGAIN)) => neg(Errno::EAGAIN),
        Some(Err(e)) => {
            if e == Errno::EIO {
                PRINT_ERROR!("write_data: buffer shorter than the PDU ({:?})", cmnd);
            } else if !conn.closing.load(Ordering::Acquire) {
                PRINT_ERROR!(
                    "error {} at sid:cid {:#x}:{}",
                    neg(e),
                    conn.session.sid,
                    conn.cid
                );
            }
            neg(e)
        }
    }
}

/// C: nthread.c tx_padding() / tx_ddigest(): sends the rest of a small trailer.
fn tx_small(conn: &Arc<IscsiConn>, ws: &mut WriteState, bytes: [u8; 4], next_state: i32) -> i32 {
    let rest = ws.write_size as usize;
    // The padding is followed by the data digest when there is one.
    let more = if next_state == TX_INIT_DDIGEST {
        MSG_MORE
    } else {
        0
    };
    let r = kernel_sendmsg(&conn.sock, &[IoSlice::new(&bytes[4 - rest..])], more);
    let res = send_result(r);
    if res > 0 {
        ws.write_size -= res as u32;
        if ws.write_size == 0 {
            ws.write_state = next_state;
        }
        res
    } else {
        exit_tx(conn, ws, res)
    }
}

/// C: nthread.c iscsi_do_send().
fn iscsi_do_send(conn: &Arc<IscsiConn>, ws: &mut WriteState, state: i32) -> i32 {
    let res = write_data(conn, ws);
    if res > 0 {
        if ws.write_size == 0 {
            ws.write_state = state;
        }
        res
    } else {
        exit_tx(conn, ws, res)
    }
}

/// C: nthread.c iscsi_send(): the transmit state machine: one PDU (header, data, padding,
/// data digest), as far as the socket takes it. The caller holds a connection reference.
pub fn iscsi_send(conn: &Arc<IscsiConn>) -> i32 {
    let mut ws = conn.wr.lock();
    let ddigest = conn.ddigest_type != DIGEST_NONE;
    let mut res = 0;

    if ws.write_state == TX_INIT {
        let Some(cmnd) = iscsi_get_send_cmnd(conn) else {
            return 0;
        };
        ws.write_cmnd = Some(Arc::clone(&cmnd));
        cmnd_tx_start(&cmnd, &mut ws);
        if conn.hdigest_type & DIGEST_NONE == 0 {
            // C init_tx_hdigest().
            let crc = {
                let d = cmnd.d.lock();
                digest_tx_header(&d.pdu.bhs, &d.pdu.ahs)
            };
            ws.hdr.extend_from_slice(&crc.to_le_bytes());
            ws.write_size += 4;
        }
        ws.write_state = TX_BHS_DATA;
    }
    let Some(cmnd) = ws.write_cmnd.clone() else {
        return 0;
    };
    let datasize = cmnd.d.lock().pdu.datasize;

    loop {
        match ws.write_state {
            TX_BHS_DATA => {
                let next = if datasize != 0 {
                    TX_INIT_PADDING
                } else {
                    TX_END
                };
                res = iscsi_do_send(conn, &mut ws, next);
                if res <= 0 || ws.write_state != TX_INIT_PADDING {
                    break;
                }
            }
            TX_INIT_PADDING => {
                ws.write_size = ((datasize + 3) & !3) - datasize;
                ws.write_state = if ws.write_size != 0 {
                    TX_PADDING
                } else if ddigest {
                    TX_INIT_DDIGEST
                } else {
                    TX_END
                };
                res = 1;
                if ws.write_state == TX_END {
                    break;
                }
            }
            TX_PADDING => {
                let next = if ddigest { TX_INIT_DDIGEST } else { TX_END };
                res = tx_small(conn, &mut ws, [0; 4], next);
                if res <= 0 || ws.write_state != TX_INIT_DDIGEST {
                    break;
                }
            }
            TX_INIT_DDIGEST => {
                ws.write_size = 4;
                ws.write_state = TX_DDIGEST;
            }
            TX_DDIGEST => {
                let dd = cmnd.d.lock().ddigest;
                res = tx_small(conn, &mut ws, dd, TX_END);
                break;
            }
            TX_END => break,
            state => {
                PRINT_CRIT_ERROR!("{} {} (unknown write state)", res, state);
                ws.write_state = TX_END;
                mark_conn_closed(conn);
                break;
            }
        }
    }

    if res == 0 || ws.write_state != TX_END {
        return res;
    }
    if ws.write_size != 0 {
        PRINT_CRIT_ERROR!("{} {:x} {}", res, opcode_of(&cmnd), ws.write_size);
    }

    ws.write_cmnd = None;
    ws.write_state = TX_INIT;
    drop(ws);

    cmnd_tx_end(&cmnd);
    rsp_cmnd_release(&cmnd);
    res
}

/// C: nthread.c scst_do_job_wr(): sends for the connections on the pool's `wr_list`; called
/// with `wr_lock` held (`wr_list`), drops it while sending.
fn scst_do_job_wr(
    p: &Arc<IscsiThreadPool>,
    wr_list: &mut kemu::sync::SpinLockGuard<'_, kemu::list::List<Arc<IscsiConn>>>,
) {
    while let Some(conn) = wr_list.pop_front() {
        conn.wr_state
            .store(ISCSI_CONN_WR_STATE_PROCESSING, Ordering::Release);
        conn.wr_space_ready.store(false, Ordering::Release);

        conn_get(&conn);
        let rc = kemu::sync::SpinLockGuard::unlocked(wr_list, || iscsi_send(&conn));

        if rc == neg(Errno::EAGAIN) && !conn.wr_space_ready.load(Ordering::Acquire) {
            TRACE_DBG!("EAGAIN, setting WR_STATE_SPACE_WAIT (conn {:?})", conn);
            conn.wr_state
                .store(ISCSI_CONN_WR_STATE_SPACE_WAIT, Ordering::Release);
        } else if test_write_ready(&conn) {
            wr_list.add_tail(Arc::clone(&conn));
            conn.wr_state
                .store(ISCSI_CONN_WR_STATE_IN_LIST, Ordering::Release);
        } else {
            conn.wr_state
                .store(ISCSI_CONN_WR_STATE_IDLE, Ordering::Release);
            if conn.closing.load(Ordering::Acquire) {
                // close_conn() may be waiting for the write thread to let go.
                kemu::wait::wake_up(&conn.conn_ref_waitQ);
            }
        }
        conn_put(&conn);
    }
    let _ = p;
}

/// C `test_write_ready()`: something to send.
pub(crate) fn test_write_ready(conn: &IscsiConn) -> bool {
    !conn.write_list_lock.lock_bh().write_list.is_empty() || conn.wr.lock().write_cmnd.is_some()
}

/// C: nthread.c istwr(): a write thread of a pool.
pub fn istwr(w: &Weak<IscsiThreadPool>) -> i32 {
    let Some(p) = w.upgrade() else {
        return 0;
    };
    PRINT_INFO!("Write thread for pool {} started", p.major);

    let mut wr_list = p.wr_lock.lock_bh();
    while !kthread_should_stop() {
        wait_event_locked(&p.wr_waitQ, &mut wr_list, |l| {
            !l.is_empty() || kthread_should_stop()
        });
        scst_do_job_wr(&p, &mut wr_list);
    }
    drop(wr_list);

    PRINT_INFO!("Write thread for pool {} finished", p.major);
    0
}
