// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2002 - 2003 Ardis Technolgies <roman@ardistech.com>
// Copyright (C) 2007 - 2016 Vladislav Bolkhovitin
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! The driver's objects and PDU processing: the port of `iscsi-scst/kernel/iscsi.h` (targets,
//! sessions, connections, commands, thread pools) and of `iscsi.c` as far as the control plane
//! and the full-feature PDUs of this stage need: command allocation and reference counting
//! (`cmnd_alloc`, `cmnd_done`, `req_cmnd_release*`, `rsp_cmnd_release`), responses
//! (`iscsi_alloc_rsp`, `iscsi_cmnds_init_write`), CmdSN ordering (`iscsi_push_cmnd`), NOP-Out →
//! NOP-In (both directions), Logout, Reject, the send-side header work (`cmnd_tx_start`,
//! `cmnd_tx_end`), `conn_abort`, the thread pools and the module init/exit (`iscsi_init`,
//! `iscsi_exit`).
//!
//! Not yet ported (the SCSI datapath, issues 6–8): SCSI Command / Data-Out / R2T / Data-In,
//! task management, AEN, the SCST template callbacks that carry commands. Until then a SCSI
//! Command, Data-Out, Task Management request, Text or SNACK is answered with a Reject
//! ("command not supported"), its data segment read and discarded, and its CmdSN consumed, so
//! the session goes on.
//!
//! Adapted for the port (docs/ARCHITECTURE.md §5):
//! - The build is the one C calls `CONFIG_TCP_ZERO_COPY_TRANSFER_COMPLETION_NOTIFICATION`: read
//!   buffers come from SCST's SGV cache (no `tgt_need_alloc_data_buf` / `iscsi_alloc_data_buf`
//!   with `no_sgv`). Without that kernel patch C must not reuse a buffer `sendpage()` may
//!   still reference; here `kernel_sendmsg()` has copied the iovecs into the socket when it
//!   returns, and a command's buffer goes back to the cache only after its last response.
//! - Objects are `Arc`s; a child points to its parent with an `Arc` (command → connection →
//!   session → target). The reference counts whose last put acts (`cmnd->ref_cnt` →
//!   [`cmnd_done`](crate::iscsi::cmnd_done), `conn->conn_ref_cnt` waited for by `close_conn`) stay explicit counters.
//! - The fields C documents as "accessed only from a single thread at a time" live in one
//!   uncontended `Mutex` per object (`IscsiCmnd::d`, `IscsiConn::rd`, `IscsiConn::wr`); they
//!   are never held across a call that may drop a reference.
//! - Flags C keeps in bitfields under `rd_lock`, `wr_lock` or `write_list_lock` and reads
//!   without a lock elsewhere are atomics, written only under their C lock.
//! - Fields protected by `target_mutex` inside sessions and connections are
//!   [`kemu::sync::LockedBy`] the target's mutex, so the lock stays the one C uses.
#![doc(alias = "iscsi.c")]
#![doc(alias = "iscsi.h")]
#![allow(non_upper_case_globals)]
#![allow(non_snake_case)] // wr_waitQ, read_state_waitQ keep their C names

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use kemu::atomic::{
    atomic_dec, atomic_dec_and_test, atomic_dec_return, atomic_inc, atomic_inc_return, atomic_read,
    set_bit, test_bit, AtomicT, BitWord,
};
use kemu::completion::Completion;
use kemu::kthread::{kthread_run, kthread_stop, num_online_cpus, TaskStruct};
use kemu::list::{AtomicListHandle, List};
use kemu::mm::{alloc_page, page_address_mut, GFP_KERNEL, PAGE_SIZE};
use kemu::net::{EventLoop, Sock, SockCallbacks};
use kemu::printk::{TraceFlag, TRACE_MGMT, TRACE_OUT_OF_MEM, TRACE_PID, TRACE_SPECIAL};
use kemu::scatterlist::{sg_init_table, sg_set_page, Scatterlist};
use kemu::sync::{LockedBy, Mutex, SpinLock};
use kemu::timer::{jiffies, TimerList, HZ};
use kemu::wait::WaitQueueHead;
use kemu::workqueue::DelayedWork;
use kemu::{
    Errno, PRINT_CRIT_ERROR, PRINT_ERROR, PRINT_INFO, PRINT_WARNING, TRACE_DBG, TRACE_MGMT_DBG,
};
use scst_core::scst::{
    scst_mgmt_cmd_dropped, scst_mgmt_cmd_get_fn, scst_mgmt_cmd_get_status,
    scst_mgmt_cmd_get_tgt_priv, scst_mgmt_cmd_set_tgt_priv, ScstCmd, ScstMgmtCmd, ScstRxMgmtParams,
    ScstSession, ScstTgt, ScstTgtTemplate, ScstTgtTemplateOps,
};
use scst_core::scst_const::{
    MgmtStatus, SCST_ABORT_ALL_TASKS, SCST_ABORT_ALL_TASKS_SESS, SCST_ABORT_TASK,
    SCST_ABORT_TASK_SET, SCST_CLEAR_ACA, SCST_CLEAR_TASK_SET, SCST_LUN_RESET,
    SCST_MGMT_STATUS_FN_NOT_SUPPORTED, SCST_MGMT_STATUS_LUN_NOT_EXIST, SCST_MGMT_STATUS_SUCCESS,
    SCST_MGMT_STATUS_TASK_NOT_EXIST, SCST_NEXUS_LOSS, SCST_NEXUS_LOSS_SESS, SCST_TARGET_RESET,
};
use scst_core::scst_targ::scst_rx_mgmt_fn;

use crate::abi::DIGEST_NONE;
use crate::conn::{iscsi_make_conn_wr_active, mark_conn_closed};
use crate::digest::digest_tx_data;
use crate::iscsi_hdr::*;
use crate::target::{target_del_all_sess, IscsiTarget};

/// C `trace_flag` of the iscsi-scst module (`ISCSI_DEFAULT_LOG_FLAGS` of a non-debug build).
pub static TRACE_FLAG: TraceFlag = TraceFlag::new(ISCSI_DEFAULT_LOG_FLAGS);

/// C `ISCSI_DEFAULT_LOG_FLAGS` (`iscsi_dbg.h`, non-debug build).
pub const ISCSI_DEFAULT_LOG_FLAGS: u32 = TRACE_OUT_OF_MEM | TRACE_MGMT | TRACE_PID | TRACE_SPECIAL;
/// C `TRACE_CONN_OC`: connection open/close tracing (`iscsi_dbg.h`).
pub const TRACE_CONN_OC: u32 = 0x4000_0000;
/// C `TRACE_CONN_OC_DBG`.
pub const TRACE_CONN_OC_DBG: u32 = 0x0400_0000;

/// C `ISCSI_VERSION_STRING` (`iscsi_scst_ver.h`): the driver's version.
pub const ISCSI_VERSION_STRING: &str = "3.3.0-pre1";

// ---------------------------------------------------------------------------------------------
// Parameters (iscsi.h)
// ---------------------------------------------------------------------------------------------

/// C `struct iscsi_sess_params`: the negotiated session parameters the driver uses.
#[doc(alias = "iscsi_sess_params")]
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IscsiSessParams {
    pub initial_r2t: i32,
    pub immediate_data: i32,
    pub max_connections: i32,
    pub max_recv_data_length: u32,
    pub max_xmit_data_length: u32,
    pub max_burst_length: u32,
    pub first_burst_length: u32,
    pub default_wait_time: i32,
    pub default_retain_time: i32,
    pub max_outstanding_r2t: u32,
    pub data_pdu_inorder: i32,
    pub data_sequence_inorder: i32,
    pub error_recovery_level: i32,
    pub header_digest: i32,
    pub data_digest: i32,
    pub ofmarker: i32,
    pub ifmarker: i32,
    pub ofmarkint: i32,
    pub ifmarkint: i32,
    pub rdma_extensions: i32,
    pub target_recv_data_length: i32,
    pub initiator_recv_data_length: i32,
}

/// C `struct iscsi_tgt_params`: the target parameters of a session.
#[doc(alias = "iscsi_tgt_params")]
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IscsiTgtParams {
    pub queued_cmnds: i32,
    pub rsp_timeout: u32,
    pub nop_in_interval: u32,
    pub nop_in_timeout: u32,
}

// ---------------------------------------------------------------------------------------------
// Thread pools (iscsi.h struct iscsi_thread_pool; iscsi.c iscsi_threads_pool_get/put)
// ---------------------------------------------------------------------------------------------

/// C `struct iscsi_thread_pool`: the read and write threads that serve a set of connections.
///
/// Adapted: the read threads (`iscsird<p>_<i>`) are [`EventLoop`]s — each waits in
/// `epoll_wait` for its connections' sockets (the softirq part: the socket callbacks run
/// there) and then runs `scst_do_job_rd()` on the pool's `rd_list` (the `istrd` part), see
/// docs/ARCHITECTURE.md §2. `wake_up(&p->rd_waitQ)` becomes [`EventLoop::raise`] of a reader.
#[doc(alias = "iscsi_thread_pool")]
pub struct IscsiThreadPool {
    /// C `rd_lock` + `rd_list`: connections with data to read.
    pub rd_lock: SpinLock<List<Arc<IscsiConn>>>,
    /// The read threads (C: the `istrd` threads, `rd_waitQ`).
    pub rd_loops: Vec<Arc<EventLoop>>,
    next_rd_loop: AtomicU32,
    /// C `wr_lock` + `wr_list`: connections with responses to send.
    pub wr_lock: SpinLock<List<Arc<IscsiConn>>>,
    /// C `wr_waitQ`: where the `istwr` threads sleep.
    pub wr_waitQ: WaitQueueHead,
    /// C `dedicated`.
    pub dedicated: bool,
    /// C `thread_pool_ref` (changed under `iscsi_threads_pool_mutex`).
    thread_pool_ref: AtomicI32,
    /// C `tp_mutex` + `threads_list`: the write threads.
    tp_mutex: Mutex<Vec<Arc<TaskStruct>>>,
    /// This pool's number in the thread names (C: the `major` counter).
    pub major: u32,
}

impl std::fmt::Debug for IscsiThreadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IscsiThreadPool")
            .field("major", &self.major)
            .field("readers", &self.rd_loops.len())
            .field("dedicated", &self.dedicated)
            .finish_non_exhaustive()
    }
}

impl IscsiThreadPool {
    /// The read thread a new connection is served by (round-robin; adapted: in C any `istrd`
    /// of the pool may pick any connection from `rd_list`).
    pub fn next_rd_loop(&self) -> Option<Arc<EventLoop>> {
        if self.rd_loops.is_empty() {
            return None;
        }
        let i = self.next_rd_loop.fetch_add(1, Ordering::Relaxed) as usize % self.rd_loops.len();
        self.rd_loops.get(i).cloned()
    }

    /// True on one of this pool's read threads.
    pub fn in_rd_thread(&self) -> bool {
        self.rd_loops.iter().any(|l| l.in_loop_thread())
    }
}

/// C `iscsi_threads_pool_mutex` + `iscsi_thread_pools_list` (+ the `major` counter).
struct ThreadPools {
    list: Vec<Arc<IscsiThreadPool>>,
    major: u32,
}

static iscsi_threads_pool_mutex: Mutex<ThreadPools> = Mutex::new(ThreadPools {
    list: Vec::new(),
    major: 0,
});

/// C `iscsi_main_thread_pool`.
static iscsi_main_thread_pool: Mutex<Option<Arc<IscsiThreadPool>>> = Mutex::new(None);

fn __iscsi_threads_pool_put(pools: &mut ThreadPools, p: &Arc<IscsiThreadPool>) {
    if p.thread_pool_ref.fetch_sub(1, Ordering::AcqRel) - 1 > 0 {
        TRACE_DBG!(
            "iSCSI thread pool {} still has {} references",
            p.major,
            p.thread_pool_ref.load(Ordering::Relaxed)
        );
        return;
    }

    TRACE_DBG!("Freeing iSCSI thread pool {}", p.major);

    let threads = std::mem::take(&mut *p.tp_mutex.lock());
    for t in threads {
        kthread_stop(&t);
    }
    for l in &p.rd_loops {
        l.set_batch_hook(None);
        l.stop();
    }
    pools.list.retain(|q| !Arc::ptr_eq(q, p));
}

/// C: iscsi.c iscsi_threads_pool_put(): drops a reference; the last one stops the pool's
/// threads.
pub fn iscsi_threads_pool_put(p: &Arc<IscsiThreadPool>) {
    let mut pools = iscsi_threads_pool_mutex.lock();
    __iscsi_threads_pool_put(&mut pools, p);
}

/// C: iscsi.c iscsi_threads_pool_get(): a shared pool (the first non-dedicated one), or a new
/// one with `max(CPUs, 2)` read and write threads (one each when `dedicated`) named
/// `iscsird<major>_<i>` / `iscsiwr<major>_<i>`. The CPU mask is not ported (usermode threads
/// float; C's default mask is all CPUs).
pub fn iscsi_threads_pool_get(dedicated: bool) -> Result<Arc<IscsiThreadPool>, Errno> {
    let mut pools = iscsi_threads_pool_mutex.lock();

    if !dedicated {
        if let Some(p) = pools.list.iter().find(|p| !p.dedicated) {
            p.thread_pool_ref.fetch_add(1, Ordering::AcqRel);
            TRACE_DBG!("iSCSI thread pool {} found", p.major);
            return Ok(Arc::clone(p));
        }
    }

    let count = if dedicated {
        1
    } else {
        num_online_cpus().max(2)
    };
    let major = pools.major;

    let mut rd_loops = Vec::with_capacity(count);
    for i in 0..count {
        match EventLoop::new(&format!("iscsird{major}_{i}")) {
            Ok(l) => rd_loops.push(l),
            Err(e) => {
                PRINT_ERROR!("kthread_run() failed: {}", e);
                for l in &rd_loops {
                    l.stop();
                }
                return Err(e);
            }
        }
    }

    let p = Arc::new(IscsiThreadPool {
        rd_lock: SpinLock::new(List::new()),
        rd_loops,
        next_rd_loop: AtomicU32::new(0),
        wr_lock: SpinLock::new(List::new()),
        wr_waitQ: WaitQueueHead::new(),
        dedicated,
        thread_pool_ref: AtomicI32::new(1),
        tp_mutex: Mutex::new(Vec::new()),
        major,
    });

    // The `istrd` half of each reader: after every batch of socket callbacks, and whenever
    // another thread queued a connection, process the pool's rd_list.
    for l in &p.rd_loops {
        let w = Arc::downgrade(&p);
        l.set_batch_hook(Some(Arc::new(move || {
            if let Some(p) = w.upgrade() {
                crate::nthread::istrd_job(&p);
            }
        })));
    }

    pools.list.push(Arc::clone(&p));

    for i in 0..count {
        let w = Arc::downgrade(&p);
        match kthread_run(
            move || crate::nthread::istwr(&w),
            &format!("iscsiwr{major}_{i}"),
        ) {
            Ok(t) => p.tp_mutex.lock().push(t),
            Err(e) => {
                PRINT_ERROR!("kthread_run() failed: {}", e);
                __iscsi_threads_pool_put(&mut pools, &p);
                return Err(e);
            }
        }
    }

    pools.major += 1;
    TRACE_DBG!("Created iSCSI thread pool {}", major);
    Ok(p)
}

// ---------------------------------------------------------------------------------------------
// Sessions and connections (iscsi.h)
// ---------------------------------------------------------------------------------------------

/// C `ISCSI_HASH_ORDER`: the data-wait hash has `1 << 8` buckets.
pub const ISCSI_HASH_ORDER: u32 = 8;

/// The fields of `struct iscsi_session` that C protects with `sn_lock`.
#[derive(Debug, Default)]
pub struct SnData {
    /// C `exp_cmd_sn`.
    pub exp_cmd_sn: u32,
    /// C `tm_active`.
    pub tm_active: i32,
    /// C `tm_sn`.
    pub tm_sn: u32,
    /// C `tm_rsp`.
    pub tm_rsp: Option<Arc<IscsiCmnd>>,
    /// C `pending_list`: out-of-order commands waiting for their CmdSN, ordered by CmdSN.
    pub pending_list: Vec<Arc<IscsiCmnd>>,
}

/// The fields of `struct iscsi_session` that C protects with `target->target_mutex`.
#[derive(Debug, Default)]
pub struct SessTm {
    /// C `conn_list`.
    pub conn_list: Vec<Arc<IscsiConn>>,
    /// C `sess_reinst_successor`.
    pub sess_reinst_successor: Option<Arc<IscsiSession>>,
    /// C `sess_reinstating`.
    pub sess_reinstating: bool,
    /// C `sess_shutting_down`.
    pub sess_shutting_down: bool,
}

/// C `struct iscsi_session`.
#[doc(alias = "iscsi_session")]
pub struct IscsiSession {
    /// C `target`.
    pub target: Arc<IscsiTarget>,
    /// C `scst_sess`: set at creation, cleared when SCST has unregistered it.
    pub scst_sess: parking_lot::Mutex<Option<Arc<ScstSession>>>,
    /// C `sn_lock` and what it protects.
    pub sn_lock: SpinLock<SnData>,
    /// C `next_ttt` (read thread only).
    pub next_ttt: AtomicU32,
    /// C `tgt_params` (read only while there are connections; set under `target_mutex`).
    pub tgt_params: parking_lot::RwLock<IscsiTgtParams>,
    /// C `active_cmds`.
    pub active_cmds: AtomicT,
    /// C `sess_params` (read only while there are connections; set under `target_mutex`).
    pub sess_params: parking_lot::RwLock<IscsiSessParams>,
    /// The fields protected by `target->target_mutex`.
    pub tm: LockedBy<SessTm>,
    /// C `cmnd_data_wait_hash_lock` + `cmnd_data_wait_hash[]`: requests waiting for Data-Out,
    /// hashed by ITT (`1 << ISCSI_HASH_ORDER` buckets).
    pub cmnd_data_wait_hash_lock: SpinLock<Vec<Vec<Arc<IscsiCmnd>>>>,
    /// C `sess_thr_pool`.
    pub sess_thr_pool: parking_lot::Mutex<Option<Arc<IscsiThreadPool>>>,
    /// C `initiator_name`.
    pub initiator_name: String,
    /// C `sid`.
    pub sid: u64,
}

impl std::fmt::Debug for IscsiSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IscsiSession")
            .field("sid", &format_args!("{:#x}", self.sid))
            .field("initiator_name", &self.initiator_name)
            .finish_non_exhaustive()
    }
}

/// C `ISCSI_CONN_RD_STATE_IDLE`.
pub const ISCSI_CONN_RD_STATE_IDLE: u16 = 0;
/// C `ISCSI_CONN_RD_STATE_IN_LIST`.
pub const ISCSI_CONN_RD_STATE_IN_LIST: u16 = 1;
/// C `ISCSI_CONN_RD_STATE_PROCESSING`.
pub const ISCSI_CONN_RD_STATE_PROCESSING: u16 = 2;

/// C `ISCSI_CONN_WR_STATE_IDLE`.
pub const ISCSI_CONN_WR_STATE_IDLE: u16 = 0;
/// C `ISCSI_CONN_WR_STATE_IN_LIST`.
pub const ISCSI_CONN_WR_STATE_IN_LIST: u16 = 1;
/// C `ISCSI_CONN_WR_STATE_SPACE_WAIT`.
pub const ISCSI_CONN_WR_STATE_SPACE_WAIT: u16 = 2;
/// C `ISCSI_CONN_WR_STATE_PROCESSING`.
pub const ISCSI_CONN_WR_STATE_PROCESSING: u16 = 3;

/// C `ISCSI_CONN_REINSTATING` (bit of `conn_aflags`).
pub const ISCSI_CONN_REINSTATING: u32 = 1;
/// C `ISCSI_CONN_SHUTTINGDOWN` (bit of `conn_aflags`).
pub const ISCSI_CONN_SHUTTINGDOWN: u32 = 2;

/// C `ISCSI_CONN_ACTIVE_CLOSE` (flag of `__mark_conn_closed`).
pub const ISCSI_CONN_ACTIVE_CLOSE: i32 = 1;
/// C `ISCSI_CONN_DELETING` (flag of `__mark_conn_closed`).
pub const ISCSI_CONN_DELETING: i32 = 2;

/// C `ISCSI_CONN_IOV_MAX`: `PAGE_SIZE / sizeof(struct iovec)` — the most pages one PDU's data
/// may span; with `PAGE_SIZE` this makes `max_data_seg_len` 1 MiB.
pub const ISCSI_CONN_IOV_MAX: usize = PAGE_SIZE / 16;

/// C `write_list` + `write_timeout_list` of a connection, under `write_list_lock`.
#[derive(Debug, Default)]
pub struct WriteLists {
    /// C `write_list`: PDUs to send.
    pub write_list: List<Arc<IscsiCmnd>>,
    /// C `write_timeout_list`: requests whose responses are being sent, for the response timer.
    pub write_timeout_list: List<Arc<IscsiCmnd>>,
}

/// The fields of `struct iscsi_conn` that C protects with `target->target_mutex`.
#[derive(Debug, Default)]
pub struct ConnTm {
    /// C `conn_reinst_successor`.
    pub conn_reinst_successor: Option<Arc<IscsiConn>>,
    /// C `reinst_pending_cmd_list`.
    pub reinst_pending_cmd_list: Vec<Arc<IscsiCmnd>>,
}

/// Where the bytes of the next `sock_recvmsg()` go: the port of `conn->read_msg` /
/// `conn->read_iov`, which in C point into the command being received.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RxTarget {
    /// Nothing to read.
    #[default]
    None,
    /// `cmnd->pdu.bhs`.
    Bhs,
    /// `cmnd->pdu.ahs`.
    Ahs,
    /// `cmnd->hdigest`.
    HDigest,
    /// `cmnd->sg` from byte `sg_offset`.
    Sg,
    /// The dummy page: read and discard (C `dummy_sg` / `dummy_page`).
    Dummy,
    /// `conn->rpadding`.
    Padding,
    /// `cmnd->ddigest`.
    DDigest,
}

/// The read thread's state of a connection (C: "unprotected, accessed only from a single read
/// thread").
#[derive(Debug, Default)]
pub struct ReadState {
    /// C `read_cmnd`.
    pub read_cmnd: Option<Arc<IscsiCmnd>>,
    /// C `read_state` (`enum rx_state` of nthread.c).
    pub read_state: i32,
    /// C `read_msg`: where the bytes go …
    pub target: RxTarget,
    /// … the command whose buffer [`RxTarget::Sg`] fills (C: `cmnd_prepare_recv_pdu(conn,
    /// cmd, …)`; a Data-Out fills its request's buffer) …
    pub sg_cmnd: Option<Arc<IscsiCmnd>>,
    /// … the byte offset into that target where the message started (for [`RxTarget::Sg`]) …
    pub sg_offset: usize,
    /// … how many bytes the message asks for …
    pub size: usize,
    /// … and how many of them have arrived.
    pub done: usize,
    /// C `rpadding`.
    pub rpadding: [u8; 4],
    /// C `rx_task` is not needed; this is the scratch page of `dummy_sg` for this connection.
    pub dummy: Vec<u8>,
}

/// The write thread's state of a connection (C: "unprotected, accessed only from a single
/// write thread").
#[derive(Debug, Default)]
pub struct WriteState {
    /// C `write_cmnd`.
    pub write_cmnd: Option<Arc<IscsiCmnd>>,
    /// C `write_state` (`enum tx_state` of nthread.c).
    pub write_state: i32,
    /// C `write_size`: bytes left of the current step.
    pub write_size: u32,
    /// C `write_offset`: position in the data buffer.
    pub write_offset: u32,
    /// C `write_iop` / `write_iop_used`: the header bytes (BHS + header digest) not yet sent.
    pub hdr: Vec<u8>,
    /// How many of `hdr` went out.
    pub hdr_sent: usize,
}

/// C `struct iscsi_conn`.
#[doc(alias = "iscsi_conn")]
pub struct IscsiConn {
    /// C `session`.
    pub session: Arc<IscsiSession>,
    /// C `target`.
    pub target: Arc<IscsiTarget>,
    /// C `cid`.
    pub cid: u16,
    /// C `stat_sn` (protected by `session->sn_lock`).
    pub stat_sn: AtomicU32,
    /// C `exp_stat_sn` (protected by `session->sn_lock`).
    pub exp_stat_sn: AtomicU32,
    /// C `conn_aflags`.
    pub conn_aflags: BitWord,
    /// C `cmd_list_lock` + `cmd_list`: the requests of this connection.
    pub cmd_list_lock: SpinLock<List<Arc<IscsiCmnd>>>,
    /// C `conn_ref_cnt`.
    pub conn_ref_cnt: AtomicT,
    /// C `write_list_lock` and its lists.
    pub write_list_lock: SpinLock<WriteLists>,
    /// C `rsp_timer`.
    pub rsp_timer: TimerList,
    /// C `data_rsp_timeout` (jiffies).
    pub data_rsp_timeout: AtomicU64,
    /// C `wr_state` (written under the pool's `wr_lock`).
    pub wr_state: AtomicU16,
    /// C `wr_space_ready` (written under the pool's `wr_lock`).
    pub wr_space_ready: AtomicBool,
    /// The write thread's fields.
    pub wr: Mutex<WriteState>,
    /// C `sock` (and `file`).
    pub sock: Arc<Sock>,
    /// C `old_state_change`, `old_data_ready`, `old_write_space`.
    pub old_callbacks: parking_lot::Mutex<Option<SockCallbacks>>,
    /// C `hdigest_type`.
    pub hdigest_type: i32,
    /// C `ddigest_type`.
    pub ddigest_type: i32,
    /// C `conn_thr_pool`.
    pub conn_thr_pool: Arc<IscsiThreadPool>,
    /// The read thread this connection's socket is attached to (adapted, see
    /// [`IscsiThreadPool`]).
    pub rd_loop: Arc<EventLoop>,
    /// C `rd_state` (written under the pool's `rd_lock`).
    pub rd_state: AtomicU16,
    /// C `rd_data_ready` (written under `rd_lock`).
    pub rd_data_ready: AtomicBool,
    /// C `closing` (written under `rd_lock`).
    pub closing: AtomicBool,
    /// C `active_close` (written under `rd_lock`).
    pub active_close: AtomicBool,
    /// C `deleting` (written under `rd_lock`).
    pub deleting: AtomicBool,
    /// C `conn_tm_active` (written under `rd_lock`).
    pub conn_tm_active: AtomicBool,
    /// C `last_rcv_time` (jiffies).
    pub last_rcv_time: AtomicU64,
    /// The read thread's fields.
    pub rd: Mutex<ReadState>,
    /// The fields protected by `target->target_mutex`.
    pub tm: LockedBy<ConnTm>,
    /// C `read_state_waitQ`.
    pub read_state_waitQ: WaitQueueHead,
    /// Port only: woken when `conn_ref_cnt` drops to 0 on a closing connection, so that
    /// `close_conn()` stops waiting then instead of after its whole `msleep()` (C polls).
    pub conn_ref_waitQ: WaitQueueHead,
    /// C `ready_to_free`.
    pub ready_to_free: Completion,
    /// C `nop_in_delayed_work`.
    pub nop_in_delayed_work: Arc<DelayedWork>,
    /// C `nop_in_interval` (jiffies).
    pub nop_in_interval: AtomicU64,
    /// C `nop_in_timeout` (jiffies).
    pub nop_in_timeout: AtomicU64,
    /// C `nop_req_list_lock` + `nop_req_list`: NOP-In requests waiting for their NOP-Out.
    pub nop_req_list_lock: SpinLock<Vec<Arc<IscsiCmnd>>>,
    /// C `nop_in_ttt`.
    pub nop_in_ttt: AtomicU32,
    /// C `rx_task`: the thread that started the current SCSI command (`scsi_cmnd_start`), so
    /// that `preprocessing_done` knows whether it runs inside it.
    pub rx_task: parking_lot::Mutex<Option<std::thread::ThreadId>>,
}

impl std::fmt::Debug for IscsiConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IscsiConn")
            .field("sid", &format_args!("{:#x}", self.session.sid))
            .field("cid", &self.cid)
            .finish_non_exhaustive()
    }
}

/// C `conn_get()`.
pub fn conn_get(conn: &IscsiConn) {
    atomic_inc(&conn.conn_ref_cnt);
}

/// C `conn_put()`: the count only tells `close_conn()` when the connection is unused.
pub fn conn_put(conn: &IscsiConn) {
    let left = atomic_dec_return(&conn.conn_ref_cnt);
    if left < 0 {
        PRINT_CRIT_ERROR!("conn {:?}: conn_ref_cnt below zero", conn);
    } else if left == 0 && conn.closing.load(Ordering::Acquire) {
        // close_conn() may be waiting for this (closing is set before it starts waiting).
        kemu::wait::wake_up(&conn.conn_ref_waitQ);
    }
}

// ---------------------------------------------------------------------------------------------
// Commands (iscsi.h struct iscsi_cmnd, struct iscsi_pdu)
// ---------------------------------------------------------------------------------------------

/// C `struct iscsi_pdu`.
#[doc(alias = "iscsi_pdu")]
#[derive(Clone, Debug, Default)]
pub struct IscsiPdu {
    /// C `bhs`.
    pub bhs: IscsiHdr,
    /// C `ahs` (`ahssize` rounded up to 4 bytes).
    pub ahs: Vec<u8>,
    /// C `ahssize`.
    pub ahssize: u32,
    /// C `datasize`.
    pub datasize: u32,
}

/// C `iscsi_cmnd_get_length()`: `ahssize` and `datasize` from the BHS.
pub fn iscsi_cmnd_get_length(pdu: &mut IscsiPdu) {
    pdu.ahssize = u32::from(pdu.bhs.ahslength()) * 4;
    pdu.datasize = pdu.bhs.datalength();
}

/// C `iscsi_cmnd_set_length()`: the BHS length field from `ahssize` and `datasize`.
pub fn iscsi_cmnd_set_length(pdu: &mut IscsiPdu) {
    let ahs = u8::try_from(pdu.ahssize / 4).unwrap_or(u8::MAX);
    pdu.bhs.set_length(ahs, pdu.datasize);
}

/// C `ISCSI_CMD_STATE_NEW`.
pub const ISCSI_CMD_STATE_NEW: i32 = 0;
/// C `ISCSI_CMD_STATE_RX_CMD`.
pub const ISCSI_CMD_STATE_RX_CMD: i32 = 1;
/// C `ISCSI_CMD_STATE_AFTER_PREPROC`.
pub const ISCSI_CMD_STATE_AFTER_PREPROC: i32 = 2;
/// C `ISCSI_CMD_STATE_REINST_PENDING`.
pub const ISCSI_CMD_STATE_REINST_PENDING: i32 = 3;
/// C `ISCSI_CMD_STATE_RESTARTED`.
pub const ISCSI_CMD_STATE_RESTARTED: i32 = 4;
/// C `ISCSI_CMD_STATE_PROCESSED`.
pub const ISCSI_CMD_STATE_PROCESSED: i32 = 5;
/// C `ISCSI_CMD_STATE_AEN`.
pub const ISCSI_CMD_STATE_AEN: i32 = 6;
/// C `ISCSI_CMD_STATE_OUT_OF_SCST_PRELIM_COMPL`.
pub const ISCSI_CMD_STATE_OUT_OF_SCST_PRELIM_COMPL: i32 = 7;

/// C `ISCSI_CMD_ABORTED` (bit of `prelim_compl_flags`).
pub const ISCSI_CMD_ABORTED: u32 = 0;
/// C `ISCSI_CMD_PRELIM_COMPLETED` (bit of `prelim_compl_flags`).
pub const ISCSI_CMD_PRELIM_COMPLETED: u32 = 1;

/// C `ISCSI_INIT_WRITE_WAKE`: `iscsi_cmnds_init_write()` wakes the write thread.
pub const ISCSI_INIT_WRITE_WAKE: i32 = 0x1;

/// C `ISCSI_TM_DATA_WAIT_TIMEOUT`.
pub const ISCSI_TM_DATA_WAIT_TIMEOUT: u64 = 10 * HZ;
/// C `ISCSI_ADD_SCHED_TIME`.
pub const ISCSI_ADD_SCHED_TIME: u64 = HZ;

/// The data buffer of a command (C `sg`, `sg_cnt`, `bufflen`, `own_sg`).
#[derive(Debug, Default)]
pub enum CmndSg {
    /// C `sg == NULL`.
    #[default]
    None,
    /// The command's own buffer (C `own_sg = 1`).
    Own(Vec<Scatterlist>),
    /// The parent request's buffer (C: a response sharing `req->sg`, `own_sg = 0`).
    Parent,
    /// The buffer of the request's SCST command (C: `req->sg = scst_cmd_get_sg()` /
    /// `scst_cmd_get_write_fields()`).
    Scst,
}

/// The fields of `struct iscsi_cmnd` that C accesses "from only a single thread at a time".
#[derive(Debug, Default)]
pub struct CmndData {
    /// C `pdu`.
    pub pdu: IscsiPdu,
    /// C `hashed`.
    pub hashed: bool,
    /// C `should_close_conn`.
    pub should_close_conn: bool,
    /// C `should_close_all_conn`.
    pub should_close_all_conn: bool,
    /// C `pending`.
    pub pending: bool,
    /// C `dec_active_cmds`.
    pub dec_active_cmds: bool,
    /// C `ddigest_checked`.
    pub ddigest_checked: bool,
    /// C `rsp_cmd_list` (requests only): all responses, alive until the request is freed.
    pub rsp_cmd_list: Vec<Arc<IscsiCmnd>>,
    /// C `scst_state`.
    pub scst_state: i32,
    /// C `main_rsp`.
    pub main_rsp: Option<Arc<IscsiCmnd>>,
    /// C `sg`, `sg_cnt`, `own_sg`.
    pub sg: CmndSg,
    /// C `bufflen`.
    pub bufflen: u32,
    /// C `r2t_len_to_receive`.
    pub r2t_len_to_receive: u32,
    /// C `r2t_len_to_send`.
    pub r2t_len_to_send: u32,
    /// C `target_task_tag`.
    pub target_task_tag: u32,
    /// C `scst_cmd`: the SCST command of a SCSI Command request.
    pub scst_cmd: Option<Arc<ScstCmd>>,
    /// C `outstanding_r2t`.
    pub outstanding_r2t: u32,
    /// C `r2t_sn`.
    pub r2t_sn: u32,
    /// C `not_received_data_len`.
    pub not_received_data_len: u32,
    /// C `data_out_in_data_receiving`.
    pub data_out_in_data_receiving: bool,
    /// C `cmd_req`: the request a Data-Out belongs to.
    pub cmd_req: Option<Arc<IscsiCmnd>>,
    /// C `hdigest` (wire bytes).
    pub hdigest: [u8; 4],
    /// C `ddigest` (wire bytes).
    pub ddigest: [u8; 4],
}

/// C `struct iscsi_cmnd`: a request received (`parent_req == None`) or a response to send.
#[doc(alias = "iscsi_cmnd")]
pub struct IscsiCmnd {
    /// C `conn`.
    pub conn: Arc<IscsiConn>,
    /// C `parent_req`.
    pub parent_req: Option<Arc<IscsiCmnd>>,
    /// C `ref_cnt`: the last [`cmnd_put`] calls [`cmnd_done`].
    pub ref_cnt: AtomicT,
    /// C `prelim_compl_flags`.
    pub prelim_compl_flags: BitWord,
    /// C `on_write_list` (under `write_list_lock`).
    pub on_write_list: AtomicBool,
    /// C `write_processing_started` (under `write_list_lock`).
    pub write_processing_started: AtomicBool,
    /// C `on_write_timeout_list` (under `write_list_lock`).
    pub on_write_timeout_list: AtomicBool,
    /// C `write_start` (jiffies; under `write_list_lock`).
    pub write_start: AtomicU64,
    /// C `force_cleanup_done`.
    pub force_cleanup_done: AtomicBool,
    /// C `force_release_done`.
    pub force_release_done: AtomicBool,
    /// C `not_processed_rsp_cnt` (requests; under `write_list_lock`).
    pub not_processed_rsp_cnt: AtomicI32,
    /// C `cmd_list_entry`.
    pub cmd_list_entry: AtomicListHandle,
    /// C `write_list_entry`.
    pub write_list_entry: AtomicListHandle,
    /// C `write_timeout_list_entry`.
    pub write_timeout_list_entry: AtomicListHandle,
    /// The single-thread fields.
    pub d: Mutex<CmndData>,
}

impl std::fmt::Debug for IscsiCmnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IscsiCmnd")
            .field("ref_cnt", &atomic_read(&self.ref_cnt))
            .field("is_rsp", &self.parent_req.is_some())
            .finish_non_exhaustive()
    }
}

/// C `cmnd_opcode(cmnd)` of a command.
pub fn opcode_of(cmnd: &IscsiCmnd) -> u8 {
    cmnd_opcode(&cmnd.d.lock().pdu.bhs)
}

/// C `cmnd_get_check()`: takes a reference unless the command is being destroyed (then
/// returns true: skip it).
pub fn cmnd_get_check(cmnd: &IscsiCmnd) -> bool {
    let r = atomic_inc_return(&cmnd.ref_cnt);
    if r == 1 {
        TRACE_DBG!("cmnd {:?} is being destroyed", cmnd);
        atomic_dec(&cmnd.ref_cnt);
        true
    } else {
        false
    }
}

/// C `cmnd_get()`.
pub fn cmnd_get(cmnd: &IscsiCmnd) {
    atomic_inc(&cmnd.ref_cnt);
}

/// C `cmnd_put()`: the last reference calls [`cmnd_done`].
pub fn cmnd_put(cmnd: &Arc<IscsiCmnd>) {
    if atomic_dec_and_test(&cmnd.ref_cnt) {
        cmnd_done(cmnd);
    }
}

/// C `cmd_add_on_write_list()`; `write_list_lock` held (`wl` is its data).
fn cmd_add_on_write_list(wl: &mut WriteLists, cmnd: &Arc<IscsiCmnd>) {
    let h = wl.write_list.add_tail(Arc::clone(cmnd));
    cmnd.write_list_entry.set(h);
    cmnd.on_write_list.store(true, Ordering::Release);
    if let Some(parent) = &cmnd.parent_req {
        parent.not_processed_rsp_cnt.fetch_add(1, Ordering::AcqRel);
    }
}

/// C `cmd_del_from_write_list()`; `write_list_lock` held.
pub fn cmd_del_from_write_list(wl: &mut WriteLists, cmnd: &IscsiCmnd) {
    if let Some(h) = cmnd.write_list_entry.take() {
        wl.write_list.del(h);
    }
    cmnd.on_write_list.store(false, Ordering::Release);
    if let Some(parent) = &cmnd.parent_req {
        parent.not_processed_rsp_cnt.fetch_sub(1, Ordering::AcqRel);
    }
}

// ---------------------------------------------------------------------------------------------
// iscsi.c: allocation and release
// ---------------------------------------------------------------------------------------------

/// C: iscsi.c cmnd_alloc() + iscsi_cmnd_init(): a new request (`parent == None`, added to the
/// connection's `cmd_list`, holding a connection reference) or response, with one reference.
pub fn cmnd_alloc(conn: &Arc<IscsiConn>, parent: Option<&Arc<IscsiCmnd>>) -> Arc<IscsiCmnd> {
    let cmnd = Arc::new(IscsiCmnd {
        conn: Arc::clone(conn),
        parent_req: parent.cloned(),
        ref_cnt: AtomicT::new(1),
        prelim_compl_flags: BitWord::new(0),
        on_write_list: AtomicBool::new(false),
        write_processing_started: AtomicBool::new(false),
        on_write_timeout_list: AtomicBool::new(false),
        write_start: AtomicU64::new(0),
        force_cleanup_done: AtomicBool::new(false),
        force_release_done: AtomicBool::new(false),
        not_processed_rsp_cnt: AtomicI32::new(0),
        cmd_list_entry: AtomicListHandle::new(),
        write_list_entry: AtomicListHandle::new(),
        write_timeout_list_entry: AtomicListHandle::new(),
        d: Mutex::new(CmndData {
            scst_state: ISCSI_CMD_STATE_NEW,
            target_task_tag: ISCSI_RESERVED_TAG_CPU32,
            ..CmndData::default()
        }),
    });

    if parent.is_none() {
        conn_get(conn);
        let mut l = conn.cmd_list_lock.lock_bh();
        let h = l.add_tail(Arc::clone(&cmnd));
        cmnd.cmd_list_entry.set(h);
    }

    TRACE_DBG!(
        "conn {:?}, parent {}, cmnd allocated",
        conn,
        parent.is_some()
    );
    cmnd
}

fn iscsi_dec_active_cmds(req: &IscsiCmnd, d: &mut CmndData) {
    let sess = &req.conn.session;
    atomic_dec(&sess.active_cmds);
    d.dec_active_cmds = false;
    if atomic_read(&sess.active_cmds) < 0 {
        PRINT_CRIT_ERROR!("active_cmds < 0 ({})!!", atomic_read(&sess.active_cmds));
    }
}

/// C: iscsi.c req_del_from_write_timeout_list().
fn req_del_from_write_timeout_list(req: &IscsiCmnd) {
    if !req.on_write_timeout_list.load(Ordering::Acquire) {
        return;
    }
    let conn = &req.conn;
    let mut wl = conn.write_list_lock.lock_bh();
    if let Some(h) = req.write_timeout_list_entry.take() {
        wl.write_timeout_list.del(h);
    }
    req.on_write_timeout_list.store(false, Ordering::Release);
}

/// C: iscsi.c cmnd_done(): the last reference of a command is gone. A request leaves its
/// connection's `cmd_list`, drops its connection reference and frees its responses; a response
/// drops its reference on its request.
pub fn cmnd_done(cmnd: &Arc<IscsiCmnd>) {
    TRACE_DBG!("cmnd {:?} done", cmnd);

    req_del_from_write_timeout_list(cmnd);

    match &cmnd.parent_req {
        None => {
            let conn = &cmnd.conn;
            {
                let mut l = conn.cmd_list_lock.lock_bh();
                if let Some(h) = cmnd.cmd_list_entry.take() {
                    l.del(h);
                }
            }
            conn_put(conn);

            // Order between the above and the below is important.
            let (scst_cmd, state) = {
                let d = cmnd.d.lock();
                (d.scst_cmd.clone(), d.scst_state)
            };
            if let Some(scst_cmd) = scst_cmd {
                match state {
                    ISCSI_CMD_STATE_PROCESSED => {
                        TRACE_DBG!("cmd {:?} PROCESSED", cmnd);
                        scst_core::scst_targ::scst_tgt_cmd_done(
                            &scst_cmd,
                            scst_core::scst::SCST_CONTEXT_DIRECT_ATOMIC,
                        );
                    }
                    ISCSI_CMD_STATE_AFTER_PREPROC => {
                        // It can be for some aborted commands.
                        TRACE_DBG!("cmd {:?} AFTER_PREPROC", cmnd);
                        {
                            let mut d = cmnd.d.lock();
                            d.scst_state = ISCSI_CMD_STATE_RESTARTED;
                            d.scst_cmd = None;
                        }
                        scst_core::scst_targ::scst_restart_cmd(
                            &scst_cmd,
                            scst_core::scst::SCST_PREPROCESS_STATUS_ERROR_FATAL,
                            scst_core::scst::SCST_CONTEXT_THREAD,
                        );
                    }
                    ISCSI_CMD_STATE_OUT_OF_SCST_PRELIM_COMPL => {}
                    other => {
                        PRINT_CRIT_ERROR!("Unexpected cmnd scst state {}", other);
                    }
                }
            }
            let rsps = {
                let mut d = cmnd.d.lock();
                d.sg = CmndSg::None;
                if d.dec_active_cmds {
                    iscsi_dec_active_cmds(cmnd, &mut d);
                }
                std::mem::take(&mut d.rsp_cmd_list)
            };
            // C iscsit_free_cmd(rsp) for every response: they die with their request.
            drop(rsps);
        }
        Some(parent) => {
            let is_main = {
                let mut d = cmnd.d.lock();
                d.sg = CmndSg::None;
                drop(d);
                let mut pd = parent.d.lock();
                let is_main = pd.main_rsp.as_ref().is_some_and(|m| Arc::ptr_eq(m, cmnd));
                if is_main {
                    pd.main_rsp = None;
                }
                is_main
            };
            if is_main {
                TRACE_DBG!("Finishing main rsp (req {:?})", parent);
            }
            cmnd_put(parent);
        }
    }
}

/// C: iscsi.c req_cmnd_release_force(): releases a request and all its responses not yet
/// sent, e.g. on connection close.
pub fn req_cmnd_release_force(req: &Arc<IscsiCmnd>) {
    if req.force_release_done.swap(true, Ordering::AcqRel) {
        TRACE_MGMT_DBG!("Double force release for req {:?}", req);
        cmnd_put(req);
        return;
    }
    TRACE_MGMT_DBG!("req {:?}", req);

    let conn = &req.conn;
    let mut cmds_list = Vec::new();
    {
        let mut wl = conn.write_list_lock.lock_bh();
        let mut on_list = Vec::new();
        let mut cur = wl.write_list.first().map(|(h, c)| (h, Arc::clone(c)));
        while let Some((h, rsp)) = cur {
            cur = wl.write_list.next(h).map(|(h, c)| (h, Arc::clone(c)));
            if rsp.parent_req.as_ref().is_some_and(|p| Arc::ptr_eq(p, req)) {
                on_list.push(rsp);
            }
        }
        for rsp in on_list {
            cmd_del_from_write_list(&mut wl, &rsp);
            cmds_list.push(rsp);
        }
    }
    for rsp in cmds_list {
        TRACE_MGMT_DBG!("Putting write rsp {:?}", rsp);
        cmnd_put(&rsp);
    }

    // Supposedly nobody can add responses to the list any more.
    let rsps: Vec<Arc<IscsiCmnd>> = req.d.lock().rsp_cmd_list.iter().rev().cloned().collect();
    for rsp in rsps {
        if rsp.force_cleanup_done.swap(true, Ordering::AcqRel) {
            continue;
        }
        if cmnd_get_check(&rsp) {
            continue;
        }
        let r = {
            let _wl = conn.write_list_lock.lock_bh();
            rsp.on_write_list.load(Ordering::Acquire)
                || rsp.write_processing_started.load(Ordering::Acquire)
        };
        cmnd_put(&rsp);
        if r {
            continue;
        }
        // Neither on the write list nor being sent: the response's own reference can go.
        TRACE_MGMT_DBG!("Putting rsp {:?}", rsp);
        cmnd_put(&rsp);
    }

    let main = req.d.lock().main_rsp.take();
    if let Some(main) = main {
        TRACE_MGMT_DBG!("Putting main rsp {:?}", main);
        cmnd_put(&main);
    }

    req_cmnd_release(req);
}

/// C: iscsi.c req_cmnd_pre_release(): queues the main response (if any) for sending.
pub fn req_cmnd_pre_release(req: &Arc<IscsiCmnd>) {
    TRACE_DBG!("req {:?}", req);

    let (hashed, cmd_req) = {
        let mut d = req.d.lock();
        (d.hashed, d.cmd_req.take())
    };
    if hashed {
        // It sometimes can happen during errors recovery.
        TRACE_MGMT_DBG!("Removing req {:?} from hash", req);
        cmnd_remove_data_wait_hash(req);
    }
    if let Some(c) = cmd_req {
        // It sometimes can happen during errors recovery.
        TRACE_MGMT_DBG!("Putting cmd_req {:?} (req {:?})", c, req);
        c.d.lock().data_out_in_data_receiving = false;
        cmnd_put(&c);
    }

    let (main, is_scsi, has_scst) = {
        let mut d = req.d.lock();
        (
            d.main_rsp.take(),
            cmnd_opcode(&d.pdu.bhs) == ISCSI_OP_SCSI_CMD,
            d.scst_cmd.is_some(),
        )
    };
    if let Some(main) = main {
        TRACE_DBG!("Sending main rsp {:?}", main);
        if is_scsi {
            if has_scst {
                iscsi_set_resid(&main);
            } else {
                iscsi_set_resid_no_scst_cmd(&main);
            }
        }
        iscsi_cmnd_init_write(&main, ISCSI_INIT_WRITE_WAKE);
    }

    let mut d = req.d.lock();
    if d.dec_active_cmds {
        iscsi_dec_active_cmds(req, &mut d);
    }
}

/// C: iscsi.c req_cmnd_release().
pub fn req_cmnd_release(req: &Arc<IscsiCmnd>) {
    req_cmnd_pre_release(req);
    cmnd_put(req);
}

/// C: iscsi.c rsp_cmnd_release().
pub fn rsp_cmnd_release(cmnd: &Arc<IscsiCmnd>) {
    TRACE_DBG!("{:?}", cmnd);
    cmnd_put(cmnd);
}

/// C: iscsi.c iscsi_alloc_rsp(): a response of `parent`, which keeps it on its
/// `rsp_cmd_list` and gets a reference from it.
pub fn iscsi_alloc_rsp(parent: &Arc<IscsiCmnd>) -> Arc<IscsiCmnd> {
    let rsp = cmnd_alloc(&parent.conn, Some(parent));
    parent.d.lock().rsp_cmd_list.push(Arc::clone(&rsp));
    cmnd_get(parent);
    rsp
}

/// C: iscsi.c iscsi_alloc_main_rsp().
pub fn iscsi_alloc_main_rsp(parent: &Arc<IscsiCmnd>) -> Arc<IscsiCmnd> {
    let rsp = iscsi_alloc_rsp(parent);
    parent.d.lock().main_rsp = Some(Arc::clone(&rsp));
    rsp
}

/// C: iscsi.c iscsi_cmnds_init_write(): computes the data digests and puts the responses on
/// the connection's write list; with [`ISCSI_INIT_WRITE_WAKE`] the write thread is woken.
pub fn iscsi_cmnds_init_write(send: Vec<Arc<IscsiCmnd>>, flags: i32) {
    let Some(first) = send.first() else {
        return;
    };
    let conn = Arc::clone(&first.conn);

    if conn.ddigest_type & DIGEST_NONE == 0 {
        for rsp in &send {
            digest_tx_rsp(rsp);
        }
    }

    {
        let mut wl = conn.write_list_lock.lock_bh();
        for rsp in &send {
            cmd_add_on_write_list(&mut wl, rsp);
        }
    }

    if flags & ISCSI_INIT_WRITE_WAKE != 0 {
        iscsi_make_conn_wr_active(&conn);
    }
}

/// Runs `f` on the data buffer of `cmnd` (C `cmnd->sg`): its own pages, its request's
/// (`CmndSg::Parent`), or the SCST command's (`CmndSg::Scst`). The owner's lock is held while
/// `f` runs. `None` if the command has no buffer.
pub fn cmnd_with_sg<R>(cmnd: &IscsiCmnd, f: impl FnOnce(&[Scatterlist]) -> R) -> Option<R> {
    let d = cmnd.d.lock();
    match &d.sg {
        CmndSg::Own(sg) => Some(f(sg)),
        CmndSg::None => None,
        CmndSg::Parent => {
            drop(d);
            let parent = cmnd.parent_req.as_ref()?;
            cmnd_with_sg(parent, f)
        }
        CmndSg::Scst => {
            let scst = d.scst_cmd.clone();
            drop(d);
            scst.map(|c| scst_core::scst::scst_cmd_with_sg(&c, f))
        }
    }
}

/// [`cmnd_with_sg`] for writing into the buffer (receiving data).
pub fn cmnd_with_sg_mut<R>(cmnd: &IscsiCmnd, f: impl FnOnce(&mut [Scatterlist]) -> R) -> Option<R> {
    let mut d = cmnd.d.lock();
    match &mut d.sg {
        CmndSg::Own(sg) => Some(f(sg)),
        CmndSg::None => None,
        CmndSg::Parent => {
            drop(d);
            let parent = cmnd.parent_req.as_ref()?;
            cmnd_with_sg_mut(parent, f)
        }
        CmndSg::Scst => {
            let scst = d.scst_cmd.clone();
            drop(d);
            scst.map(|c| scst_core::scst::scst_cmd_with_sg_mut(&c, f))
        }
    }
}

/// C `digest_tx_data(rsp)` for one response: the data come from its own buffer or its
/// request's.
fn digest_tx_rsp(rsp: &Arc<IscsiCmnd>) {
    let (bhs, datasize) = {
        let d = rsp.d.lock();
        (d.pdu.bhs, d.pdu.datasize)
    };
    if datasize == 0 {
        return;
    }
    if let Some(crc) = cmnd_with_sg(rsp, |sg| digest_tx_data(&bhs, datasize, sg)) {
        rsp.d.lock().ddigest = crc.to_le_bytes();
    }
}

/// C: iscsi.c iscsi_cmnd_init_write().
pub fn iscsi_cmnd_init_write(rsp: &Arc<IscsiCmnd>, flags: i32) {
    if rsp.on_write_list.load(Ordering::Acquire) {
        PRINT_CRIT_ERROR!("cmd already on write list ({:?})", rsp);
        return;
    }
    iscsi_cmnds_init_write(vec![Arc::clone(rsp)], flags);
}

/// A buffer of `size` bytes in whole pages (C `scst_alloc_sg()`, whose SGV-pool port comes
/// with the datapath).
pub fn iscsi_alloc_sg(size: u32) -> Option<Vec<Scatterlist>> {
    let size = size as usize;
    let n = size.div_ceil(PAGE_SIZE);
    let mut sg = sg_init_table(n);
    let mut left = size;
    for e in &mut sg {
        let page = alloc_page(GFP_KERNEL)?;
        let len = left.min(PAGE_SIZE);
        sg_set_page(e, page, u32::try_from(len).ok()?, 0);
        left -= len;
    }
    Some(sg)
}

// ---------------------------------------------------------------------------------------------
// iscsi.c: preliminary completion, reject, SN handling
// ---------------------------------------------------------------------------------------------

/// C: iscsi.c cmnd_prepare_get_rejected_immed_data(): the data segment of a command that will
/// not be executed is read into the dummy page and discarded.
fn cmnd_prepare_get_rejected_immed_data(cmnd: &Arc<IscsiCmnd>, rd: &mut ReadState) {
    let size = cmnd.d.lock().pdu.datasize;
    TRACE_DBG!("Skipping (cmnd {:?}, datasize {})", cmnd, size);
    if size == 0 {
        return;
    }
    rd.target = RxTarget::Dummy;
    rd.size = size as usize;
    rd.done = 0;
    rd.sg_offset = 0;
}

/// C: iscsi.c iscsi_preliminary_complete(): marks `req` (and `orig_req`) as completed before
/// execution; with `get_data` its data segment is read and dropped. R2T bookkeeping for SCSI
/// writes comes with the datapath.
pub fn iscsi_preliminary_complete(
    req: &Arc<IscsiCmnd>,
    orig_req: &Arc<IscsiCmnd>,
    mut get_data: bool,
    rd: &mut ReadState,
) -> i32 {
    if test_bit(ISCSI_CMD_PRELIM_COMPLETED, &req.prelim_compl_flags) {
        TRACE_MGMT_DBG!("req {:?} already prelim completed", req);
        // Not to try to get the data twice.
        get_data = false;
    }

    // All outstanding PDUs must still be received, even if the direction is not WRITE.
    // PRELIM_COMPLETED is tested because iscsi_set_prelim_r2t_len_to_receive() may have
    // failed before.
    let (hashed, op, flags) = {
        let d = orig_req.d.lock();
        (d.hashed, cmnd_opcode(&d.pdu.bhs), d.pdu.bhs.flags)
    };
    let set_r2t_len = !hashed
        && op == ISCSI_OP_SCSI_CMD
        && !test_bit(ISCSI_CMD_PRELIM_COMPLETED, &orig_req.prelim_compl_flags);

    if get_data {
        cmnd_prepare_get_rejected_immed_data(req, rd);
    }

    let mut res = 0;
    if !test_bit(ISCSI_CMD_PRELIM_COMPLETED, &orig_req.prelim_compl_flags) {
        if set_r2t_len {
            res = iscsi_set_prelim_r2t_len_to_receive(orig_req);
        } else if flags & ISCSI_CMD_WRITE != 0 {
            // Prelim completed in the middle of data receiving: no more R2Ts will be sent,
            // so r2t_len_to_send is final.
            let n = orig_req.d.lock().r2t_len_to_send;
            iscsi_set_not_received_data_len(orig_req, n);
        }
    }

    set_bit(ISCSI_CMD_PRELIM_COMPLETED, &orig_req.prelim_compl_flags);
    set_bit(ISCSI_CMD_PRELIM_COMPLETED, &req.prelim_compl_flags);
    res
}

/// C: iscsi.c create_reject_rsp(): a Reject PDU carrying the rejected header, as the request's
/// main response; a SCSI Command also gets CHECK CONDITION through its SCST command.
pub fn create_reject_rsp(
    req: &Arc<IscsiCmnd>,
    reason: u8,
    get_data: bool,
    rd: &mut ReadState,
) -> i32 {
    TRACE_MGMT_DBG!("Reject: req {:?}, reason {:x}", req, reason);

    if opcode_of(req) == ISCSI_OP_SCSI_CMD {
        let has_scst = req.d.lock().scst_cmd.is_some();
        if !has_scst {
            // BUSY status must be already set. No Reject: the initiator will retry, and
            // hopefully the next time an scst_cmd can be allocated and rejected properly.
            return 0;
        }
        // RFC 3720: a pre-instantiated SCSI task terminated by a reject gets a proper SCSI
        // Response with CHECK CONDITION.
        let (k, a, q) = scst_core::scst_const::scst_sense_invalid_message;
        set_scst_preliminary_status_rsp(req, get_data, k, a, q, rd);
    }

    let rsp = iscsi_alloc_main_rsp(req);
    let req_bhs = req.d.lock().pdu.bhs;
    {
        let mut d = rsp.d.lock();
        let hdr = IscsiRejectHdr::from_bhs_mut(&mut d.pdu.bhs);
        hdr.opcode = ISCSI_OP_REJECT;
        hdr.ffffffff = ISCSI_RESERVED_TAG;
        hdr.reason = reason;
        let mut sg = sg_init_table(1);
        if let Some(mut page) = alloc_page(GFP_KERNEL) {
            let bytes = zerocopy::IntoBytes::as_bytes(&req_bhs);
            page_address_mut(&mut page)[..bytes.len()].copy_from_slice(bytes);
            sg_set_page(&mut sg[0], page, bytes.len() as u32, 0);
            d.sg = CmndSg::Own(sg);
            d.bufflen = bytes.len() as u32;
            d.pdu.datasize = bytes.len() as u32;
        }
    }

    iscsi_preliminary_complete(req, req, get_data, rd)
}

/// C: iscsi.c iscsi_get_allowed_cmds(): how many more commands the session accepts.
fn iscsi_get_allowed_cmds(sess: &IscsiSession) -> i32 {
    let queued = sess.tgt_params.read().queued_cmnds;
    (queued - atomic_read(&sess.active_cmds) - 1).max(-1)
}

/// C: iscsi.c cmnd_set_sn(): StatSN (optionally taking the next one), ExpCmdSN and MaxCmdSN of
/// a PDU to send; returns the connection's StatSN (big-endian in C, CPU order here).
pub fn cmnd_set_sn(cmnd: &IscsiCmnd, bhs: &mut IscsiHdr, set_stat_sn: bool) -> u32 {
    let conn = &cmnd.conn;
    let sess = &conn.session;
    let sn = sess.sn_lock.lock();
    if set_stat_sn {
        let s = conn.stat_sn.fetch_add(1, Ordering::AcqRel);
        bhs.sn = s.to_be();
    }
    bhs.exp_sn = sn.exp_cmd_sn.to_be();
    let allowed = iscsi_get_allowed_cmds(sess);
    bhs.max_sn = sn.exp_cmd_sn.wrapping_add_signed(allowed).to_be();
    conn.stat_sn.load(Ordering::Acquire)
}

/// C: iscsi.c update_stat_sn(): the initiator's ExpStatSN acknowledges our responses. (C runs
/// it under `sn_lock` from its callers; here it takes the lock itself, after the command's own
/// fields are released, so that no command lock is ever held while waiting for `sn_lock`.)
fn update_stat_sn(cmnd: &IscsiCmnd) {
    let conn = &cmnd.conn;
    let exp_stat_sn = {
        let mut d = cmnd.d.lock();
        let v = u32::from_be(d.pdu.bhs.exp_sn);
        d.pdu.bhs.exp_sn = v;
        v
    };
    let _sn = conn.session.sn_lock.lock();
    if exp_stat_sn
        .wrapping_sub(conn.exp_stat_sn.load(Ordering::Acquire))
        .cast_signed()
        > 0
        && exp_stat_sn
            .wrapping_sub(conn.stat_sn.load(Ordering::Acquire))
            .cast_signed()
            <= 0
    {
        conn.exp_stat_sn.store(exp_stat_sn, Ordering::Release);
    }
}

/// C `before()`: serial-number comparison (RFC 1982).
pub fn before(seq1: u32, seq2: u32) -> bool {
    seq1.wrapping_sub(seq2).cast_signed() < 0
}

// ---------------------------------------------------------------------------------------------
// iscsi.c: receive side
// ---------------------------------------------------------------------------------------------

/// C: iscsi.c nop_out_start(): prepares the receive of a NOP-Out's ping data.
fn nop_out_start(cmnd: &Arc<IscsiCmnd>, rd: &mut ReadState) -> Result<(), u8> {
    let d = cmnd.d.lock();

    if d.pdu.bhs.flags & ISCSI_FLG_FINAL == 0 {
        PRINT_ERROR!("Initiator sent Nop-Out with not a single PDU");
        return Err(ISCSI_REASON_PROTOCOL_ERROR);
    }

    let itt = d.pdu.bhs.itt.get();
    if itt == ISCSI_RESERVED_TAG_CPU32 && d.pdu.bhs.opcode & ISCSI_OP_IMMEDIATE == 0 {
        PRINT_ERROR!("Initiator sent RESERVED tag for non-immediate Nop-Out command");
    }

    drop(d);
    update_stat_sn(cmnd);
    let mut d = cmnd.d.lock();

    let size = d.pdu.datasize;
    if size != 0 {
        if itt != ISCSI_RESERVED_TAG_CPU32 {
            let Some(sg) = iscsi_alloc_sg(size) else {
                kemu::TRACE!(
                    TRACE_OUT_OF_MEM,
                    "Allocation of buffer for {} Nop-Out payload failed",
                    size
                );
                return Err(ISCSI_REASON_OUT_OF_RESOURCES);
            };
            d.sg = CmndSg::Own(sg);
            d.bufflen = size;
            rd.target = RxTarget::Sg;
        } else {
            // For the reserved tag the data are only read and dropped.
            rd.target = RxTarget::Dummy;
        }
        rd.size = size as usize;
        rd.done = 0;
        rd.sg_offset = 0;
    }
    Ok(())
}

/// C: iscsi.c check_segment_length(): a data segment longer than MaxRecvDataSegmentLength
/// closes the connection.
fn check_segment_length(cmnd: &IscsiCmnd, datasize: u32) -> Result<(), Errno> {
    let conn = &cmnd.conn;
    let session = &conn.session;
    let max = session.sess_params.read().max_recv_data_length;
    if datasize > max {
        PRINT_ERROR!(
            "Initiator {} (conn {:?}) violated negotiated parameters: data too long (datasize {}, max_recv_data_length {})",
            session.initiator_name,
            conn,
            datasize,
            max
        );
        mark_conn_closed(conn);
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// C: iscsi.c cmnd_rx_start(): the BHS (and AHS, header digest) of a PDU has arrived; decide
/// what to do with it and where its data segment goes. Returns 0 to go on, < 0 when the
/// connection is being closed.
pub fn cmnd_rx_start(cmnd: &Arc<IscsiCmnd>, rd: &mut ReadState) -> i32 {
    let (op, datasize, itt) = {
        let mut d = cmnd.d.lock();
        d.pdu.bhs.sn = u32::from_be(d.pdu.bhs.sn);
        (cmnd_opcode(&d.pdu.bhs), d.pdu.datasize, d.pdu.bhs.itt.get())
    };

    if check_segment_length(cmnd, datasize).is_err() {
        return -(Errno::EINVAL as i32);
    }

    let rc = match op {
        ISCSI_OP_NOP_OUT => nop_out_start(cmnd, rd),
        ISCSI_OP_LOGOUT_CMD => {
            update_stat_sn(cmnd);
            Ok(())
        }
        ISCSI_OP_SCSI_CMD => {
            let res = scsi_cmnd_start(cmnd, rd);
            if res < 0 {
                return res;
            }
            update_stat_sn(cmnd);
            return res;
        }
        ISCSI_OP_SCSI_DATA_OUT => {
            return data_out_start(cmnd, rd);
        }
        ISCSI_OP_SCSI_TASK_MGT_MSG => {
            update_stat_sn(cmnd);
            Ok(())
        }
        // ISCSI_OP_TEXT_CMD, ISCSI_OP_SNACK_CMD and anything else.
        _ => Err(ISCSI_REASON_UNSUPPORTED_COMMAND),
    };

    if let Err(reason) = rc {
        PRINT_ERROR!(
            "Error {} (iSCSI opcode {:x}, ITT {:x})",
            -i32::from(reason),
            op,
            itt
        );
        return create_reject_rsp(cmnd, reason, true, rd);
    }
    0
}

/// C: iscsi.c nop_out_exec(): answers a NOP-Out with a NOP-In echoing its data, or matches a
/// NOP-Out that answers our NOP-In.
fn nop_out_exec(req: &Arc<IscsiCmnd>) {
    let (itt, ttt, datasize, bufflen) = {
        let d = req.d.lock();
        (d.pdu.bhs.itt, d.pdu.bhs.ttt, d.pdu.datasize, d.bufflen)
    };

    if itt.get() != ISCSI_RESERVED_TAG_CPU32 {
        let rsp = iscsi_alloc_main_rsp(req);
        let mut d = rsp.d.lock();
        let hdr = IscsiNopInHdr::from_bhs_mut(&mut d.pdu.bhs);
        hdr.opcode = ISCSI_OP_NOP_IN;
        hdr.flags = ISCSI_FLG_FINAL;
        hdr.itt = itt;
        hdr.ttt = ISCSI_RESERVED_TAG;
        if bufflen != 0 {
            // C iscsit_set_req_data(): the response sends the request's buffer.
            d.sg = CmndSg::Parent;
            d.bufflen = bufflen;
        }
        d.pdu.datasize = datasize;
    } else {
        let conn = &req.conn;
        TRACE_DBG!("Receive Nop-In response (ttt {:#010x})", ttt.get());
        let found = {
            let mut l = conn.nop_req_list_lock.lock_bh();
            l.iter()
                .position(|r| r.d.lock().pdu.bhs.ttt == ttt)
                .map(|i| l.remove(i))
        };
        match found {
            Some(r) => cmnd_put(&r),
            None => TRACE_MGMT_DBG!("Got Nop-out response without corresponding Nop-In request"),
        }
    }

    req_cmnd_release(req);
}

/// C: iscsi.c logout_exec(): a Logout Response that closes the connection once sent.
fn logout_exec(req: &Arc<IscsiCmnd>) {
    PRINT_INFO!(
        "Logout received from initiator {}",
        req.conn.session.initiator_name
    );
    let itt = req.d.lock().pdu.bhs.itt;
    let rsp = iscsi_alloc_main_rsp(req);
    {
        let mut d = rsp.d.lock();
        let hdr = IscsiLogoutRspHdr::from_bhs_mut(&mut d.pdu.bhs);
        hdr.opcode = ISCSI_OP_LOGOUT_RSP;
        hdr.flags = ISCSI_FLG_FINAL;
        hdr.itt = itt;
        d.should_close_conn = true;
    }
    req_cmnd_release(req);
}

/// C: iscsi.c iscsi_cmnd_exec(): executes a request in CmdSN order.
fn iscsi_cmnd_exec(cmnd: &Arc<IscsiCmnd>) {
    if opcode_of(cmnd) == ISCSI_OP_SCSI_CMD {
        let (to_receive, to_send) = {
            let d = cmnd.d.lock();
            (d.r2t_len_to_receive, d.r2t_len_to_send)
        };
        if to_receive == 0 {
            iscsi_restart_cmnd(cmnd);
        } else if to_send != 0 {
            send_r2t(cmnd);
        }
        return;
    }

    if cmnd.prelim_compl_flags.bits() != 0 {
        TRACE_MGMT_DBG!("Terminating prelim completed cmnd {:?}", cmnd);
        req_cmnd_release(cmnd);
        return;
    }

    match opcode_of(cmnd) {
        ISCSI_OP_NOP_OUT => nop_out_exec(cmnd),
        ISCSI_OP_SCSI_TASK_MGT_MSG => execute_task_management(cmnd),
        ISCSI_OP_LOGOUT_CMD => logout_exec(cmnd),
        op => {
            PRINT_CRIT_ERROR!("Unexpected cmnd op {:x}", op);
            req_cmnd_release(cmnd);
        }
    }
}

/// C: iscsi.c iscsi_push_cmnd(): executes immediate commands at once and the others in CmdSN
/// order, keeping out-of-order ones on the session's `pending_list`.
fn iscsi_push_cmnd(cmnd: &Arc<IscsiCmnd>) {
    let session = &cmnd.conn.session;
    let (opcode, cmd_sn) = {
        let d = cmnd.d.lock();
        (d.pdu.bhs.opcode, d.pdu.bhs.sn)
    };

    if opcode & ISCSI_OP_IMMEDIATE != 0 {
        TRACE_DBG!("Immediate cmd {:?} (cmd_sn {})", cmnd, cmd_sn);
        iscsi_cmnd_exec(cmnd);
        return;
    }

    let mut sn = session.sn_lock.lock();
    if cmd_sn == sn.exp_cmd_sn {
        let mut cmnd = Arc::clone(cmnd);
        let mut cmd_sn = cmd_sn;
        loop {
            cmd_sn = cmd_sn.wrapping_add(1);
            sn.exp_cmd_sn = cmd_sn;

            if sn.tm_active > 0 {
                // Commands sent before a task management function that is running are
                // aborted (they arrived late: it could not see them).
                if before(cmd_sn, sn.tm_sn) {
                    kemu::sync::SpinLockGuard::unlocked(&mut sn, || {
                        let _l = cmnd.conn.cmd_list_lock.lock_bh();
                        __cmnd_abort(&cmnd);
                    });
                }
                iscsi_check_send_delayed_tm_resp(&mut sn);
            }
            drop(sn);

            iscsi_cmnd_exec(&cmnd);

            sn = session.sn_lock.lock();
            let Some(next) = sn.pending_list.first().cloned() else {
                break;
            };
            if next.d.lock().pdu.bhs.sn != cmd_sn {
                break;
            }
            sn.pending_list.remove(0);
            next.d.lock().pending = false;
            TRACE_MGMT_DBG!("Processing pending cmd {:?} (cmd_sn {})", next, cmd_sn);
            cmnd = next;
        }
        return;
    }

    // RFC 3720: a non-immediate command outside [ExpCmdSN, MaxCmdSN] is silently ignored; as
    // SCST, only the lower bound is enforced.
    let drop_it = before(cmd_sn, sn.exp_cmd_sn);
    if drop_it {
        TRACE_MGMT_DBG!(
            "Ignoring out of expected range cmd_sn (sn {}, exp_sn {})",
            cmd_sn,
            sn.exp_cmd_sn
        );
        drop(sn);
        req_cmnd_release_force(cmnd);
        return;
    }

    let mut cmnd = Arc::clone(cmnd);
    if test_bit(ISCSI_CMD_ABORTED, &cmnd.prelim_compl_flags) {
        TRACE_MGMT_DBG!("Aborted pending cmnd {:?}, creating TM clone", cmnd);
        let tm_clone = iscsi_create_tm_clone(&cmnd);
        kemu::sync::SpinLockGuard::unlocked(&mut sn, || iscsi_cmnd_exec(&cmnd));
        cmnd = tm_clone;
    }

    TRACE_MGMT_DBG!(
        "Pending cmnd {:?} (sn {}, exp sn {})",
        cmnd,
        cmd_sn,
        sn.exp_cmd_sn
    );
    let pos = sn
        .pending_list
        .iter()
        .position(|t| before(cmd_sn, t.d.lock().pdu.bhs.sn))
        .unwrap_or(sn.pending_list.len());
    sn.pending_list.insert(pos, Arc::clone(&cmnd));
    cmnd.d.lock().pending = true;
}

/// C: iscsi.c cmnd_rx_end(): the whole PDU has arrived.
pub fn cmnd_rx_end(cmnd: &Arc<IscsiCmnd>) {
    cmnd.conn.last_rcv_time.store(jiffies(), Ordering::Release);

    match opcode_of(cmnd) {
        ISCSI_OP_SCSI_CMD | ISCSI_OP_NOP_OUT | ISCSI_OP_SCSI_TASK_MGT_MSG | ISCSI_OP_LOGOUT_CMD => {
            iscsi_push_cmnd(cmnd);
        }
        ISCSI_OP_SCSI_DATA_OUT => {
            data_out_end(cmnd);
            req_cmnd_release(cmnd);
        }
        _ => {
            // Rejected PDUs outside the CmdSN order (Text, SNACK, unknown): the Reject goes
            // out now.
            req_cmnd_release(cmnd);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// iscsi.c: send side
// ---------------------------------------------------------------------------------------------

/// C: iscsi.c cmnd_tx_start(): fills the SNs and length of a PDU about to be sent and sets up
/// the header write. Returns the header bytes.
pub fn cmnd_tx_start(cmnd: &Arc<IscsiCmnd>, ws: &mut WriteState) {
    let mut d = cmnd.d.lock();
    iscsi_cmnd_set_length(&mut d.pdu);

    // C corks the socket here (and uncorks in cmnd_tx_end()); usermode sends a PDU's header
    // and data in one sendmsg with MSG_MORE before a trailer instead (nthread.rs write_data(),
    // as the 2017 usermode adaptation), saving two setsockopt calls per PDU.

    ws.write_size = 48 + d.pdu.datasize;
    ws.write_offset = 0;

    let op = cmnd_opcode(&d.pdu.bhs);
    let mut bhs = d.pdu.bhs;
    match op {
        ISCSI_OP_NOP_IN => {
            if bhs.itt.get() == ISCSI_RESERVED_TAG_CPU32 {
                let s = cmnd_set_sn(cmnd, &mut bhs, false);
                bhs.sn = s.to_be();
            } else {
                cmnd_set_sn(cmnd, &mut bhs, true);
            }
        }
        ISCSI_OP_SCSI_RSP
        | ISCSI_OP_SCSI_TASK_MGT_RSP
        | ISCSI_OP_TEXT_RSP
        | ISCSI_OP_LOGOUT_RSP
        | ISCSI_OP_ASYNC_MSG
        | ISCSI_OP_REJECT => {
            cmnd_set_sn(cmnd, &mut bhs, true);
        }
        ISCSI_OP_R2T => {
            let s = cmnd_set_sn(cmnd, &mut bhs, false);
            bhs.sn = s.to_be();
        }
        ISCSI_OP_SCSI_DATA_IN => {
            let h = IscsiDataInHdr::from_bhs(&bhs);
            let offset = h.buffer_offset.get();
            let final_pdu = h.flags & ISCSI_FLG_FINAL != 0;
            if offset > d.bufflen || offset.saturating_add(d.pdu.datasize) > d.bufflen {
                PRINT_CRIT_ERROR!(
                    "Data-In beyond the buffer (offset {}, datasize {}, bufflen {})",
                    offset,
                    d.pdu.datasize,
                    d.bufflen
                );
            }
            ws.write_offset = offset;
            cmnd_set_sn(cmnd, &mut bhs, final_pdu);
        }
        _ => PRINT_ERROR!("Unexpected cmnd op {:x}", op),
    }
    d.pdu.bhs = bhs;

    ws.hdr.clear();
    ws.hdr
        .extend_from_slice(zerocopy::IntoBytes::as_bytes(&d.pdu.bhs));
    ws.hdr_sent = 0;
}

/// C: iscsi.c cmnd_tx_end(): the PDU went out; a Logout Response closes the connection.
pub fn cmnd_tx_end(cmnd: &Arc<IscsiCmnd>) {
    let conn = &cmnd.conn;
    let (close, close_all) = {
        let d = cmnd.d.lock();
        (d.should_close_conn, d.should_close_all_conn)
    };
    if close {
        if close_all {
            let target = &conn.session.target;
            PRINT_INFO!(
                "Closing all connections for target {:x} at initiator's {} request",
                target.tid,
                conn.session.initiator_name
            );
            let mut g = target.target_mutex.lock();
            target_del_all_sess(target, &mut g, 0);
        } else {
            PRINT_INFO!(
                "Closing connection at initiator's {} request",
                conn.session.initiator_name
            );
            mark_conn_closed(conn);
        }
    }
    // No uncork: see cmnd_tx_start().
}

/// C: iscsi.c iscsi_create_tm_clone(): an aborted stand-in with the command's PDU, which
/// keeps its place in the CmdSN order (when its turn comes it is just released).
fn iscsi_create_tm_clone(cmnd: &Arc<IscsiCmnd>) -> Arc<IscsiCmnd> {
    let tm_clone = cmnd_alloc(&cmnd.conn, None);
    set_bit(ISCSI_CMD_ABORTED, &tm_clone.prelim_compl_flags);
    let pdu = cmnd.d.lock().pdu.clone();
    tm_clone.d.lock().pdu = pdu;
    TRACE_MGMT_DBG!("TM clone {:?} for cmnd {:?} created", tm_clone, cmnd);
    tm_clone
}

/// C: iscsi.c iscsi_fail_data_waiting_cmnd(): a command still waiting for Data-Out dies
/// without a response. No race with `conn_abort()`: both run on the read side.
pub fn iscsi_fail_data_waiting_cmnd(cmnd: &Arc<IscsiCmnd>) {
    TRACE_MGMT_DBG!("Failing data waiting cmnd {:?}", cmnd);
    let pending = {
        let mut d = cmnd.d.lock();
        d.r2t_len_to_receive = 0;
        d.r2t_len_to_send = 0;
        d.pending
    };
    if pending {
        let session = &cmnd.conn.session;
        TRACE_MGMT_DBG!("Unpending cmnd {:?}", cmnd);
        // A pending command means the next one, if any, is pending too: a clone fills the
        // hole in the SNs instead of the command, which can then be released.
        let tm_clone = iscsi_create_tm_clone(cmnd);
        let mut sn = session.sn_lock.lock();
        if let Some(pos) = sn.pending_list.iter().position(|c| Arc::ptr_eq(c, cmnd)) {
            TRACE_MGMT_DBG!("Adding tm_clone {:?} after its cmnd", tm_clone);
            tm_clone.d.lock().pending = true;
            sn.pending_list[pos] = tm_clone;
        }
        cmnd.d.lock().pending = false;
    }
    req_cmnd_release_force(cmnd);
}

/// C: iscsi.c __cmnd_abort(): marks the command aborted and makes sure the response timer
/// fires within `ISCSI_TM_DATA_WAIT_TIMEOUT`.
fn __cmnd_abort(cmnd: &Arc<IscsiCmnd>) {
    let timeout_time = jiffies() + ISCSI_TM_DATA_WAIT_TIMEOUT + ISCSI_ADD_SCHED_TIME;
    let conn = &cmnd.conn;
    TRACE_MGMT_DBG!("Aborting cmd {:?}", cmnd);
    {
        // Synchronises with iscsi_check_tm_data_wait_timeouts(), the ABORTED bit included.
        let _rd = conn.conn_thr_pool.rd_lock.lock_bh();
        set_bit(ISCSI_CMD_ABORTED, &cmnd.prelim_compl_flags);
        conn.conn_tm_active.store(true, Ordering::Release);
    }
    let _wl = conn.write_list_lock.lock_bh();
    if !kemu::timer::timer_pending(&conn.rsp_timer)
        || kemu::timer::time_after(conn.rsp_timer.expires(), timeout_time)
    {
        kemu::timer::mod_timer(&conn.rsp_timer, timeout_time);
    }
}

/// C: iscsi.c conn_abort(): aborts everything a closing connection still has: its NOP-In
/// pings, its commands (those waiting for Data-Out fail at once).
pub fn conn_abort(conn: &Arc<IscsiConn>) {
    TRACE_MGMT_DBG!("Aborting conn {:?}", conn);

    kemu::workqueue::cancel_delayed_work_sync(&conn.nop_in_delayed_work);

    let reqs = std::mem::take(&mut *conn.nop_req_list_lock.lock_bh());
    for r in reqs {
        cmnd_put(&r);
    }

    'again: loop {
        let cmnds: Vec<Arc<IscsiCmnd>> = {
            let l = conn.cmd_list_lock.lock_bh();
            l.iter().map(|(_, c)| Arc::clone(c)).collect()
        };
        for cmnd in cmnds {
            __cmnd_abort(&cmnd);
            if cmnd.d.lock().r2t_len_to_receive != 0 && !cmnd_get_check(&cmnd) {
                // This is racy for MC/S, as in C.
                iscsi_fail_data_waiting_cmnd(&cmnd);
                cmnd_put(&cmnd);
                continue 'again;
            }
        }
        break;
    }
}

/// C: iscsi.c iscsi_send_nop_in(): a NOP-In ping from the target (NopInInterval).
pub fn iscsi_send_nop_in(conn: &Arc<IscsiConn>) {
    let req = cmnd_alloc(conn, None);
    let rsp = iscsi_alloc_main_rsp(&req);
    cmnd_get(&rsp);
    {
        let mut d = rsp.d.lock();
        let ttt = conn.nop_in_ttt.fetch_add(1, Ordering::AcqRel);
        if ttt.wrapping_add(1) == ISCSI_RESERVED_TAG_CPU32 {
            conn.nop_in_ttt.store(0, Ordering::Release);
        }
        let hdr = IscsiNopInHdr::from_bhs_mut(&mut d.pdu.bhs);
        hdr.opcode = ISCSI_OP_NOP_IN;
        hdr.flags = ISCSI_FLG_FINAL;
        hdr.itt = ISCSI_RESERVED_TAG;
        // C stores the CPU-order counter as the big-endian field: the raw bytes are the
        // little-endian counter.
        hdr.ttt.set(u32::from_be(ttt));
    }
    TRACE_DBG!("Sending Nop-In request");
    conn.nop_req_list_lock.lock_bh().push(Arc::clone(&rsp));
    {
        let mut d = req.d.lock();
        d.pdu.bhs.opcode = ISCSI_OP_NOP_OUT;
    }
    crate::nthread::req_add_to_write_timeout_list(&req);
    req_cmnd_release(&req);
}

// ---------------------------------------------------------------------------------------------
// iscsi.c: SCSI commands, Data-Out, R2T, responses
// ---------------------------------------------------------------------------------------------

/// The `Weak` back-pointer the SCST command keeps to its iSCSI request (C: the `tgt_priv`
/// pointer).
type ReqPriv = std::sync::Weak<IscsiCmnd>;

/// The iSCSI request of an SCST command (C `scst_cmd_get_tgt_priv()`).
fn req_of(scst_cmd: &ScstCmd) -> Option<Arc<IscsiCmnd>> {
    scst_core::scst::scst_cmd_get_tgt_priv(scst_cmd).and_then(|p| {
        p.downcast_ref::<ReqPriv>()
            .and_then(std::sync::Weak::upgrade)
    })
}

/// C iscsi.c `cmnd_read_size()`: the read length of a command (for a bidirectional one from
/// its Bidirectional Read Expected Data Transfer Length AHS; -1 if that is missing).
fn cmnd_read_size(d: &CmndData) -> i64 {
    let hdr = cmnd_hdr(&d.pdu.bhs);
    if hdr.flags & ISCSI_CMD_READ == 0 {
        return 0;
    }
    if hdr.flags & ISCSI_CMD_WRITE == 0 {
        return i64::from(hdr.data_length.get());
    }
    let ahs = &d.pdu.ahs;
    let mut off = 0usize;
    while off + 3 <= ahs.len() && off < d.pdu.ahssize as usize {
        let len = usize::from(u16::from_be_bytes([ahs[off], ahs[off + 1]]));
        let typ = ahs[off + 2];
        if typ == ISCSI_AHSTYPE_RLENGTH && off + 8 <= ahs.len() {
            return i64::from(u32::from_be_bytes([
                ahs[off + 4],
                ahs[off + 5],
                ahs[off + 6],
                ahs[off + 7],
            ]));
        }
        off += (3 + len + 3) & !3;
    }
    -1
}

/// C iscsi.c `iscsi_set_not_received_data_len()`.
fn iscsi_set_not_received_data_len(req: &IscsiCmnd, not_received: u32) {
    let scst = {
        let mut d = req.d.lock();
        d.not_received_data_len = not_received;
        d.scst_cmd.clone()
    };
    if let Some(c) = scst {
        scst_core::scst_lib::scst_cmd_set_write_not_received_data_len(
            &c,
            i32::try_from(not_received).unwrap_or(i32::MAX),
        );
    }
}

/// C iscsi.c `get_next_ttt()` (read thread only; not MC/S compatible, as C).
fn get_next_ttt(conn: &IscsiConn) -> u32 {
    let session = &conn.session;
    let mut ttt = session.next_ttt.fetch_add(1, Ordering::AcqRel);
    if ttt == ISCSI_RESERVED_TAG_CPU32 {
        ttt = session.next_ttt.fetch_add(1, Ordering::AcqRel);
    }
    ttt
}

fn hash_bucket(itt: u32) -> usize {
    // C cmnd_hashfn(): hash_32(itt, ISCSI_HASH_ORDER).
    (itt.wrapping_mul(0x61C8_8647) >> (32 - ISCSI_HASH_ORDER)) as usize
}

/// C iscsi.c `cmnd_insert_data_wait_hash()`: the request waits for Data-Out PDUs, found by
/// ITT. `Err(reason)` for the reserved ITT or an ITT already waiting.
fn cmnd_insert_data_wait_hash(cmnd: &Arc<IscsiCmnd>) -> Result<(), u8> {
    let (hashed, itt) = {
        let d = cmnd.d.lock();
        (d.hashed, d.pdu.bhs.itt.get())
    };
    if hashed {
        // It can be for preliminary completed commands, when this already failed.
        return Ok(());
    }

    // The TTT is not needed (ITT and buffer offset find the request and the buffer), but
    // the spec wants it in R2Ts and some initiators rely on it.
    let ttt = get_next_ttt(&cmnd.conn);
    cmnd.d.lock().target_task_tag = ttt;

    if itt == ISCSI_RESERVED_TAG_CPU32 {
        PRINT_ERROR!("ITT is RESERVED_TAG (conn {:?})", cmnd.conn);
        return Err(ISCSI_REASON_PROTOCOL_ERROR);
    }

    let session = &cmnd.conn.session;
    let mut hash = session.cmnd_data_wait_hash_lock.lock();
    let b = hash_bucket(itt);
    let Some(bucket) = hash.get_mut(b) else {
        return Err(ISCSI_REASON_PROTOCOL_ERROR);
    };
    if bucket.iter().any(|c| c.d.lock().pdu.bhs.itt.get() == itt) {
        PRINT_ERROR!(
            "Task {:x} in progress, cmnd {:?} (conn {:?})",
            itt,
            cmnd,
            cmnd.conn
        );
        return Err(ISCSI_REASON_TASK_IN_PROGRESS);
    }
    bucket.push(Arc::clone(cmnd));
    cmnd.d.lock().hashed = true;
    Ok(())
}

/// C iscsi.c `cmnd_remove_data_wait_hash()`.
fn cmnd_remove_data_wait_hash(cmnd: &Arc<IscsiCmnd>) {
    let itt = cmnd.d.lock().pdu.bhs.itt.get();
    let session = &cmnd.conn.session;
    let mut hash = session.cmnd_data_wait_hash_lock.lock();
    let removed = hash.get_mut(hash_bucket(itt)).and_then(|bucket| {
        bucket
            .iter()
            .position(|c| Arc::ptr_eq(c, cmnd))
            .map(|i| bucket.remove(i))
    });
    if removed.is_some() {
        cmnd.d.lock().hashed = false;
    } else {
        PRINT_ERROR!("{:?}:{:x} not found", cmnd, itt);
    }
}

/// C iscsi.c `cmnd_find_data_wait_hash()`.
fn cmnd_find_data_wait_hash(conn: &IscsiConn, itt: u32) -> Option<Arc<IscsiCmnd>> {
    let hash = conn.session.cmnd_data_wait_hash_lock.lock();
    hash.get(hash_bucket(itt))?
        .iter()
        .find(|c| c.d.lock().pdu.bhs.itt.get() == itt)
        .cloned()
}

/// C iscsi.c `iscsi_set_prelim_r2t_len_to_receive()`: a command completed before its data
/// arrived still has to receive the data the initiator will send.
fn iscsi_set_prelim_r2t_len_to_receive(req: &Arc<IscsiCmnd>) -> i32 {
    let (flags, data_length, datasize) = {
        let d = req.d.lock();
        let h = cmnd_hdr(&d.pdu.bhs);
        (h.flags, h.data_length.get(), d.pdu.datasize)
    };
    if flags & ISCSI_CMD_FINAL != 0 {
        if flags & ISCSI_CMD_WRITE != 0 {
            iscsi_set_not_received_data_len(req, data_length.saturating_sub(datasize));
        }
        return 0;
    }

    if cmnd_insert_data_wait_hash(req).is_err() {
        // A data corruption is possible if the data of this request could be received by
        // another one with the same ITT: close the connection.
        mark_conn_closed(&req.conn);
        return -(Errno::EINVAL as i32);
    }

    // One or more PDUs will arrive: pretend one byte is to be received; data_out_start()
    // corrects it.
    {
        let mut d = req.d.lock();
        d.outstanding_r2t = 1;
        d.r2t_len_to_receive = 1;
        d.r2t_len_to_send = 0;
    }
    crate::nthread::req_add_to_write_timeout_list(req);

    let first_burst = req.conn.session.sess_params.read().first_burst_length;
    let mut not_received = data_length.saturating_sub(datasize);
    not_received -= not_received.min(first_burst);
    iscsi_set_not_received_data_len(req, not_received);
    0
}

/// C iscsi.c `create_preliminary_no_scst_rsp()`: a response for a command that got no SCST
/// command (BUSY).
fn create_preliminary_no_scst_rsp(
    req: &Arc<IscsiCmnd>,
    status: u8,
    sense: &[u8],
    rd: &mut ReadState,
) -> i32 {
    if req.prelim_compl_flags.bits() != 0 {
        TRACE_MGMT_DBG!("req {:?} already prelim completed", req);
        return 0;
    }
    req.d.lock().scst_state = ISCSI_CMD_STATE_OUT_OF_SCST_PRELIM_COMPL;
    let res = iscsi_preliminary_complete(req, req, true, rd);
    let rsp = iscsi_alloc_main_rsp(req);
    iscsi_init_status_rsp(&rsp, status, sense);
    // The residual is set in req_cmnd_release().
    res
}

/// C iscsi.c `set_scst_preliminary_status_rsp()`: completes the command early with a CHECK
/// CONDITION of this sense.
pub fn set_scst_preliminary_status_rsp(
    req: &Arc<IscsiCmnd>,
    get_data: bool,
    key: u8,
    asc: u8,
    ascq: u8,
    rd: &mut ReadState,
) -> i32 {
    let scst = req.d.lock().scst_cmd.clone();
    if let Some(c) = scst {
        scst_core::scst_lib::scst_set_cmd_error(&c, key, asc, ascq);
    }
    // Without an SCST command the error is already set.
    iscsi_preliminary_complete(req, req, get_data, rd)
}

/// C iscsi.c `cmnd_prepare_recv_pdu()`: the next `size` bytes of the data segment go to the
/// buffer of `cmd` at `offset` (beyond the buffer, to the dummy page: a residual overflow).
fn cmnd_prepare_recv_pdu(cmd: &Arc<IscsiCmnd>, offset: u32, size: u32, rd: &mut ReadState) -> i32 {
    rd.target = RxTarget::Sg;
    rd.sg_cmnd = Some(Arc::clone(cmd));
    rd.sg_offset = offset as usize;
    rd.size = size as usize;
    rd.done = 0;
    0
}

/// C iscsi.c `send_r2t()`: asks for the next bursts of write data, up to MaxOutstandingR2T.
fn send_r2t(req: &Arc<IscsiCmnd>) {
    let p = *req.conn.session.sess_params.read();
    let mut send = Vec::new();
    {
        let (hdr_lun, itt, data_length) = {
            let d = req.d.lock();
            let h = cmnd_hdr(&d.pdu.bhs);
            (h.lun, h.itt, h.data_length.get())
        };
        loop {
            let (ttt, r2t_sn, offset, len) = {
                let mut d = req.d.lock();
                if d.outstanding_r2t >= p.max_outstanding_r2t || d.r2t_len_to_send == 0 {
                    break;
                }
                let offset = data_length.wrapping_sub(d.r2t_len_to_send);
                let len = d.r2t_len_to_send.min(p.max_burst_length);
                d.r2t_len_to_send -= len;
                let sn = d.r2t_sn;
                d.r2t_sn = d.r2t_sn.wrapping_add(1);
                d.outstanding_r2t += 1;
                (d.target_task_tag, sn, offset, len)
            };
            let rsp = iscsi_alloc_rsp(req);
            {
                let mut d = rsp.d.lock();
                let h = IscsiR2tHdr::from_bhs_mut(&mut d.pdu.bhs);
                h.opcode = ISCSI_OP_R2T;
                h.flags = ISCSI_FLG_FINAL;
                h.lun = hdr_lun;
                h.itt = itt;
                h.ttt.set(ttt);
                h.r2t_sn = r2t_sn.to_be();
                h.buffer_offset.set(offset);
                h.data_length.set(len);
            }
            send.push(rsp);
        }
    }
    if !send.is_empty() {
        iscsi_cmnds_init_write(send, ISCSI_INIT_WRITE_WAKE);
    }
}

/// C iscsi.c `iscsi_cmnd_set_write_buf()`: the write buffer of the SCST command receives the
/// data; checks the negotiated immediate/unsolicited data rules and computes what R2Ts must
/// ask for. `Err` closes the connection (the caller does).
fn iscsi_cmnd_set_write_buf(req: &Arc<IscsiCmnd>) -> Result<(), ()> {
    let session = &req.conn.session;
    let p = *session.sess_params.read();
    let (flags, itt, op, data_length, datasize, scst) = {
        let d = req.d.lock();
        let h = cmnd_hdr(&d.pdu.bhs);
        (
            h.flags,
            h.itt.get(),
            h.scb[0],
            h.data_length.get(),
            d.pdu.datasize,
            d.scst_cmd.clone(),
        )
    };
    let bufflen = scst
        .as_ref()
        .map_or(0, |c| scst_core::scst::scst_cmd_get_write_len(c));
    {
        let mut d = req.d.lock();
        d.sg = CmndSg::Scst;
        d.bufflen = u32::try_from(bufflen).unwrap_or(0);
    }
    let unsolicited_data_expected = flags & ISCSI_CMD_FINAL == 0;

    if p.initial_r2t != 0 && unsolicited_data_expected {
        PRINT_ERROR!(
            "Initiator {} violated negotiated parameters: initial R2T is required (ITT {:x}, op {:x}, conn {:?})",
            session.initiator_name, itt, op, req.conn
        );
        return Err(());
    }
    if p.immediate_data == 0 && datasize != 0 {
        PRINT_ERROR!(
            "Initiator {} violated negotiated parameters: forbidden immediate data sent (ITT {:x}, op {:x}, conn {:?})",
            session.initiator_name, itt, op, req.conn
        );
        return Err(());
    }
    if p.first_burst_length < datasize {
        PRINT_ERROR!(
            "Initiator {} violated negotiated parameters: immediate data len ({}) > first_burst_length ({}) (ITT {:x}, op {:x}, conn {:?})",
            session.initiator_name, datasize, p.first_burst_length, itt, op, req.conn
        );
        return Err(());
    }

    // With a residual overflow, r2t_len_to_receive and datasize may exceed bufflen.
    let to_receive = data_length.saturating_sub(datasize);
    req.d.lock().r2t_len_to_receive = to_receive;

    let res = cmnd_insert_data_wait_hash(req);

    {
        let mut d = req.d.lock();
        if unsolicited_data_expected {
            d.outstanding_r2t = 1;
            d.r2t_len_to_send = to_receive
                - p.first_burst_length
                    .saturating_sub(datasize)
                    .min(to_receive);
        } else {
            d.r2t_len_to_send = to_receive;
        }
    }

    match res {
        Ok(()) => {
            crate::nthread::req_add_to_write_timeout_list(req);
            Ok(())
        }
        Err(_) => Err(()),
    }
}

/// C iscsi.c `cmnd_rx_continue()`: the command came back from SCST preprocessing (it has its
/// buffer); prepare receiving its immediate data and send the first R2Ts.
pub fn cmnd_rx_continue(req: &Arc<IscsiCmnd>, rd: &mut ReadState) -> i32 {
    let Some(scst) = req.d.lock().scst_cmd.clone() else {
        return iscsi_preliminary_complete(req, req, true, rd);
    };
    let dir = scst_core::scst::scst_cmd_get_data_direction(&scst);

    // Preliminary completion is checked here to save R2Ts (TASK SET FULL and the like).
    if scst_core::scst::scst_cmd_prelim_completed(&scst) || req.prelim_compl_flags.bits() != 0 {
        // If necessary, ISCSI_CMD_ABORTED will be set by iscsi_xmit_response().
        return iscsi_preliminary_complete(req, req, true, rd);
    }

    if dir & scst_core::scst_const::SCST_DATA_WRITE != 0 {
        if iscsi_cmnd_set_write_buf(req).is_err() {
            // Otherwise data of this request could land in another one with a duplicate ITT.
            mark_conn_closed(&req.conn);
            return -(Errno::EINVAL as i32);
        }
        let datasize = req.d.lock().pdu.datasize;
        if datasize != 0 {
            let res = cmnd_prepare_recv_pdu(req, 0, datasize, rd);
            // Send the R2Ts as soon as possible.
            if res == 0 && req.d.lock().r2t_len_to_send != 0 {
                send_r2t(req);
            }
            return res;
        }
    } else {
        let (flags, datasize, itt, op) = {
            let mut d = req.d.lock();
            d.sg = CmndSg::Scst;
            d.bufflen = u32::try_from(scst_core::scst::scst_cmd_get_bufflen(&scst)).unwrap_or(0);
            let h = cmnd_hdr(&d.pdu.bhs);
            (h.flags, d.pdu.datasize, h.itt.get(), h.scb[0])
        };
        if flags & ISCSI_CMD_FINAL == 0 || datasize != 0 {
            PRINT_ERROR!("Unexpected unsolicited data (ITT {:x} CDB {:x})", itt, op);
            let (k, a, q) = ISCSI_SENSE_UNEXPECTED_UNSOLICITED_DATA;
            return set_scst_preliminary_status_rsp(req, true, k, a, q, rd);
        }
    }
    0
}

/// C `iscsi_sense_crc_error`.
pub const ISCSI_SENSE_CRC_ERROR: (u8, u8, u8) = (0x0b, 0x47, 0x05);
/// C `iscsi_sense_unexpected_unsolicited_data`.
pub const ISCSI_SENSE_UNEXPECTED_UNSOLICITED_DATA: (u8, u8, u8) = (0x0b, 0x0c, 0x0c);
/// C `iscsi_sense_incorrect_amount_of_data`.
pub const ISCSI_SENSE_INCORRECT_AMOUNT_OF_DATA: (u8, u8, u8) = (0x0b, 0x0c, 0x0d);

/// C iscsi.c `scsi_cmnd_start()`: a SCSI Command PDU arrived: create its SCST command and let
/// SCST preprocess it (parse, buffer) right here on the read thread. Returns 0 to go on
/// receiving, > 0 when SCST continues on another thread (`RX_CMD_CONTINUE`), < 0 on close.
fn scsi_cmnd_start(req: &Arc<IscsiCmnd>, rd: &mut ReadState) -> i32 {
    let conn = &req.conn;
    let session = &conn.session;

    atomic_inc(&session.active_cmds);
    let (hdr, ahs, ahssize) = {
        let mut d = req.d.lock();
        d.dec_active_cmds = true;
        (*cmnd_hdr(&d.pdu.bhs), d.pdu.ahs.clone(), d.pdu.ahssize)
    };

    let scst_sess = session.scst_sess.lock().clone();
    let lun = hdr.lun.get().to_be_bytes();
    let scst_cmd = scst_sess
        .as_ref()
        .and_then(|s| scst_core::scst_targ::scst_rx_cmd(s, &lun, &hdr.scb, false));
    let Some(scst_cmd) = scst_cmd else {
        return create_preliminary_no_scst_rsp(req, scst_core::scst_const::SAM_STAT_BUSY, &[], rd);
    };

    req.d.lock().scst_cmd = Some(Arc::clone(&scst_cmd));
    scst_core::scst::scst_cmd_set_tag(&scst_cmd, u64::from(hdr.itt.get()));
    let priv_: scst_core::scst::TgtPriv = Arc::new(Arc::downgrade(req));
    scst_core::scst::scst_cmd_set_tgt_priv(&scst_cmd, Some(priv_));

    use scst_core::scst_const::*;
    let flags = hdr.flags;
    if flags & ISCSI_CMD_READ != 0 && flags & ISCSI_CMD_WRITE != 0 {
        let sz = cmnd_read_size(&req.d.lock());
        if sz < 0 {
            PRINT_ERROR!(
                "BIDI data transfer, but initiator not supplied Bidirectional Read Expected Data Transfer Length AHS"
            );
            let (k, a, q) = scst_sense_parameter_value_invalid;
            set_scst_preliminary_status_rsp(req, true, k, a, q, rd);
        } else {
            scst_core::scst::scst_cmd_set_expected(
                &scst_cmd,
                SCST_DATA_BIDI,
                i32::try_from(sz).unwrap_or(i32::MAX),
            );
            scst_core::scst::scst_cmd_set_expected_out_transfer_len(
                &scst_cmd,
                i32::try_from(hdr.data_length.get()).unwrap_or(i32::MAX),
            );
        }
    } else if flags & ISCSI_CMD_READ != 0 {
        scst_core::scst::scst_cmd_set_expected(
            &scst_cmd,
            SCST_DATA_READ,
            i32::try_from(hdr.data_length.get()).unwrap_or(i32::MAX),
        );
    } else if flags & ISCSI_CMD_WRITE != 0 {
        scst_core::scst::scst_cmd_set_expected(
            &scst_cmd,
            SCST_DATA_WRITE,
            i32::try_from(hdr.data_length.get()).unwrap_or(i32::MAX),
        );
    } else {
        scst_core::scst::scst_cmd_set_expected(&scst_cmd, SCST_DATA_NONE, 0);
    }

    let qt = match flags & ISCSI_CMD_ATTR_MASK {
        ISCSI_CMD_SIMPLE => SCST_CMD_QUEUE_SIMPLE,
        ISCSI_CMD_HEAD_OF_QUEUE => SCST_CMD_QUEUE_HEAD_OF_QUEUE,
        ISCSI_CMD_ORDERED => SCST_CMD_QUEUE_ORDERED,
        ISCSI_CMD_ACA => SCST_CMD_QUEUE_ACA,
        ISCSI_CMD_UNTAGGED => SCST_CMD_QUEUE_UNTAGGED,
        other => {
            PRINT_WARNING!("Unknown task code {:x}, use ORDERED instead", other);
            SCST_CMD_QUEUE_ORDERED
        }
    };
    scst_core::scst::scst_cmd_set_queue_type(&scst_cmd, qt);
    // C passes the CmdSN as received (already in CPU order here).
    scst_core::scst::scst_cmd_set_tgt_sn(&scst_cmd, hdr.cmd_sn);

    // An extended CDB AHS.
    let mut off = 0usize;
    while off + 3 <= ahs.len() && off < ahssize as usize {
        let len = usize::from(u16::from_be_bytes([ahs[off], ahs[off + 1]]));
        if ahs[off + 2] == ISCSI_AHSTYPE_CDB {
            // ahslength counts the reserved byte before the CDB.
            let start = off + 4;
            let end = (off + 3 + len).min(ahs.len());
            if start <= end {
                scst_core::scst::scst_cmd_set_ext_cdb(&scst_cmd, &ahs[start..end]);
            }
            break;
        }
        off += (3 + len + 3) & !3;
    }

    TRACE_DBG!("START Command (itt {:x}, queue_type {})", hdr.itt.get(), qt);
    req.d.lock().scst_state = ISCSI_CMD_STATE_RX_CMD;
    *conn.rx_task.lock() = Some(std::thread::current().id());
    scst_core::scst_targ::scst_cmd_init_stage1_done(
        &scst_cmd,
        scst_core::scst::SCST_CONTEXT_DIRECT,
        false,
    );

    if req.d.lock().scst_state != ISCSI_CMD_STATE_RX_CMD {
        cmnd_rx_continue(req, rd)
    } else {
        TRACE_DBG!("Delaying req {:?} post processing", req);
        1
    }
}

/// C iscsi.c `data_out_start()`: a Data-Out PDU: find its request and receive the data into
/// its buffer at the PDU's offset.
fn data_out_start(cmnd: &Arc<IscsiCmnd>, rd: &mut ReadState) -> i32 {
    update_stat_sn(cmnd);
    let (itt, offset, flags, datasize) = {
        let d = cmnd.d.lock();
        let h = IscsiDataOutHdr::from_bhs(&d.pdu.bhs);
        (h.itt.get(), h.buffer_offset.get(), h.flags, d.pdu.datasize)
    };

    let Some(orig_req) = cmnd_find_data_wait_hash(&cmnd.conn, itt) else {
        // No request is aborted before all its PDUs arrived or timed out, so this should
        // not happen; quietly drop the PDU.
        TRACE_MGMT_DBG!("Unable to find scsi task ITT {:x}", itt);
        return iscsi_preliminary_complete(cmnd, cmnd, true, rd);
    };
    cmnd.d.lock().cmd_req = Some(Arc::clone(&orig_req));
    cmnd_get(&orig_req);

    let to_receive = orig_req.d.lock().r2t_len_to_receive;
    if to_receive < datasize && orig_req.prelim_compl_flags.bits() == 0 {
        PRINT_ERROR!(
            "Data size ({}) > R2T length to receive ({})",
            datasize,
            to_receive
        );
        let (k, a, q) = ISCSI_SENSE_INCORRECT_AMOUNT_OF_DATA;
        set_scst_preliminary_status_rsp(&orig_req, false, k, a, q, rd);
    }

    {
        let mut d = orig_req.d.lock();
        if flags & ISCSI_FLG_FINAL != 0 {
            d.outstanding_r2t = d.outstanding_r2t.saturating_sub(1);
        }
        d.data_out_in_data_receiving = true;
    }

    if orig_req.prelim_compl_flags.bits() != 0 {
        iscsi_preliminary_complete(cmnd, &orig_req, true, rd)
    } else {
        cmnd_prepare_recv_pdu(&orig_req, offset, datasize, rd)
    }
}

/// C iscsi.c `data_out_end()`: the Data-Out's data are in; restart the request when all its
/// data arrived, or ask for more.
fn data_out_end(cmnd: &Arc<IscsiCmnd>) {
    let (req, flags, datasize) = {
        let d = cmnd.d.lock();
        (
            d.cmd_req.clone(),
            IscsiDataOutHdr::from_bhs(&d.pdu.bhs).flags,
            d.pdu.datasize,
        )
    };
    let Some(req) = req else {
        return;
    };

    let prelim = req.prelim_compl_flags.bits() != 0;
    {
        let mut d = req.d.lock();
        d.data_out_in_data_receiving = false;
        // Only now r2t_len_to_receive may shrink: earlier would break the data receiving
        // error recovery.
        d.r2t_len_to_receive = d.r2t_len_to_receive.saturating_sub(datasize);
    }
    if prelim {
        // Again, in case it was just aborted; before zeroing r2t_len_to_send, for the
        // residual.
        let mut dummy = ReadState::default();
        iscsi_preliminary_complete(cmnd, &req, false, &mut dummy);
        let mut d = req.d.lock();
        // One or more PDUs may still come; no exact calculation needed.
        d.r2t_len_to_receive = d.outstanding_r2t;
        d.r2t_len_to_send = 0;
    }

    if flags & ISCSI_FLG_FINAL != 0 {
        let (to_receive, to_send, pending) = {
            let d = req.d.lock();
            (d.r2t_len_to_receive, d.r2t_len_to_send, d.pending)
        };
        if to_receive == 0 {
            if !pending {
                iscsi_restart_cmnd(&req);
            }
        } else if to_send != 0 {
            send_r2t(&req);
        }
    }

    cmnd_put(&req);
    cmnd.d.lock().cmd_req = None;
}

/// C iscsi.c `iscsi_restart_cmnd()`: all data of the command are here and it is its turn in
/// CmdSN order: let SCST execute it.
pub fn iscsi_restart_cmnd(cmnd: &Arc<IscsiCmnd>) {
    req_del_from_write_timeout_list(cmnd);

    // Out of the hash before the response goes out: otherwise a new command with the same
    // ITT could be rejected as a duplicate if this one's release is delayed.
    if cmnd.d.lock().hashed {
        cmnd_remove_data_wait_hash(cmnd);
    }

    if test_bit(ISCSI_CONN_REINSTATING, &cmnd.conn.conn_aflags) {
        let target = &cmnd.conn.session.target;
        let mut g = target.target_mutex.lock();
        let mut get_out = test_bit(ISCSI_CONN_REINSTATING, &cmnd.conn.conn_aflags);
        // Let's not look dead.
        if cmnd.d.lock().pdu.bhs.opcode & ISCSI_OPCODE_MASK == ISCSI_OP_SCSI_CMD
            && cmnd_hdr(&cmnd.d.lock().pdu.bhs).scb[0] == 0x00
        {
            get_out = false;
        }
        if get_out {
            TRACE_MGMT_DBG!(
                "Pending cmnd {:?}, because conn {:?} is reinstated",
                cmnd,
                cmnd.conn
            );
            cmnd.d.lock().scst_state = ISCSI_CMD_STATE_REINST_PENDING;
            cmnd.conn
                .tm
                .access_mut(&mut g)
                .reinst_pending_cmd_list
                .push(Arc::clone(cmnd));
            return;
        }
    }

    let status = if cmnd.prelim_compl_flags.bits() != 0 {
        if test_bit(ISCSI_CMD_ABORTED, &cmnd.prelim_compl_flags) {
            TRACE_MGMT_DBG!("cmnd {:?} aborted", cmnd);
            req_cmnd_release_force(cmnd);
            return;
        }
        if cmnd.d.lock().scst_cmd.is_none() {
            TRACE_MGMT_DBG!(
                "Finishing preliminary completed cmd {:?} with NULL scst_cmd",
                cmnd
            );
            req_cmnd_release(cmnd);
            return;
        }
        scst_core::scst::SCST_PREPROCESS_STATUS_ERROR_SENSE_SET
    } else {
        scst_core::scst::SCST_PREPROCESS_STATUS_SUCCESS
    };

    let scst = {
        let mut d = cmnd.d.lock();
        d.scst_state = ISCSI_CMD_STATE_RESTARTED;
        d.scst_cmd.clone()
    };
    if let Some(c) = scst {
        scst_core::scst_targ::scst_restart_cmd(&c, status, scst_core::scst::SCST_CONTEXT_THREAD);
    }
}

/// Sets the residual fields of a SCSI Response or final Data-In.
fn set_resid_fields(rsp: &IscsiCmnd, bidi: bool, resid: i64, out_resid: i64) {
    let mut d = rsp.d.lock();
    let h = IscsiScsiRspHdr::from_bhs_mut(&mut d.pdu.bhs);
    let put = |v: i64| u32::try_from(v.unsigned_abs()).unwrap_or(u32::MAX);
    if bidi {
        if out_resid > 0 {
            h.flags |= ISCSI_FLG_RESIDUAL_UNDERFLOW;
            h.residual_count.set(put(out_resid));
        } else if out_resid < 0 {
            h.flags |= ISCSI_FLG_RESIDUAL_OVERFLOW;
            h.residual_count.set(put(out_resid));
        }
        if resid > 0 {
            h.flags |= ISCSI_FLG_BIRESIDUAL_UNDERFLOW;
            h.bi_residual_count.set(put(resid));
        } else if resid < 0 {
            h.flags |= ISCSI_FLG_BIRESIDUAL_OVERFLOW;
            h.bi_residual_count.set(put(resid));
        }
    } else if resid > 0 {
        h.flags |= ISCSI_FLG_RESIDUAL_UNDERFLOW;
        h.residual_count.set(put(resid));
    } else if resid < 0 {
        h.flags |= ISCSI_FLG_RESIDUAL_OVERFLOW;
        h.residual_count.set(put(resid));
    }
}

/// C iscsi.c `iscsi_set_resid_no_scst_cmd()`: residuals of a response to a command that has
/// no SCST command (BUSY).
fn iscsi_set_resid_no_scst_cmd(rsp: &Arc<IscsiCmnd>) {
    let Some(req) = &rsp.parent_req else {
        return;
    };
    let (flags, data_length, not_received, read_size) = {
        let d = req.d.lock();
        let h = cmnd_hdr(&d.pdu.bhs);
        (
            h.flags,
            h.data_length.get(),
            d.not_received_data_len,
            cmnd_read_size(&d),
        )
    };
    if flags & ISCSI_CMD_READ != 0 && flags & ISCSI_CMD_WRITE != 0 {
        set_resid_fields(rsp, true, read_size, i64::from(not_received));
    } else if flags & ISCSI_CMD_READ != 0 {
        set_resid_fields(rsp, false, i64::from(data_length), 0);
    } else if flags & ISCSI_CMD_WRITE != 0 {
        set_resid_fields(rsp, false, i64::from(not_received), 0);
    }
}

/// C iscsi.c `iscsi_set_resid()`: the residuals SCST computed (`scst_get_resid()`).
pub fn iscsi_set_resid(rsp: &Arc<IscsiCmnd>) {
    let Some(req) = &rsp.parent_req else {
        return;
    };
    let (scst, flags) = {
        let d = req.d.lock();
        (d.scst_cmd.clone(), cmnd_hdr(&d.pdu.bhs).flags)
    };
    let Some(scst) = scst else {
        return;
    };
    let Some((resid, out_resid)) = scst_core::scst_lib::scst_get_resid(&scst) else {
        TRACE_DBG!("No residuals for req {:?}", req);
        return;
    };
    let bidi = flags & ISCSI_CMD_READ != 0 && flags & ISCSI_CMD_WRITE != 0;
    set_resid_fields(rsp, bidi, i64::from(resid), i64::from(out_resid));
}

/// C iscsi.c `send_data_rsp()`: the read data as Data-In PDUs of at most
/// MaxXmitDataSegmentLength each, the status collapsed into the last one when `send_status`.
fn send_data_rsp(req: &Arc<IscsiCmnd>, status: u8, send_status: bool) {
    let pdusize = req
        .conn
        .session
        .sess_params
        .read()
        .max_xmit_data_length
        .max(512);
    let (itt, bufflen) = {
        let d = req.d.lock();
        (cmnd_hdr(&d.pdu.bhs).itt, d.bufflen)
    };
    let mut size = bufflen;
    let mut offset = 0u32;
    let mut sn = 0u32;
    let mut send = Vec::new();
    loop {
        let rsp = iscsi_alloc_rsp(req);
        let last = size <= pdusize;
        {
            let mut d = rsp.d.lock();
            d.sg = CmndSg::Parent;
            d.bufflen = bufflen;
            let h = IscsiDataInHdr::from_bhs_mut(&mut d.pdu.bhs);
            h.opcode = ISCSI_OP_SCSI_DATA_IN;
            h.itt = itt;
            h.ttt = ISCSI_RESERVED_TAG;
            h.buffer_offset.set(offset);
            h.data_sn.set(sn);
            if last {
                if send_status {
                    h.flags = ISCSI_FLG_FINAL | ISCSI_FLG_STATUS;
                    h.cmd_status = status;
                }
                d.pdu.datasize = size;
            } else {
                d.pdu.datasize = pdusize;
            }
        }
        if last {
            if send_status {
                iscsi_set_resid(&rsp);
            }
            send.push(rsp);
            break;
        }
        size -= pdusize;
        offset += pdusize;
        sn += 1;
        send.push(rsp);
    }
    iscsi_cmnds_init_write(send, 0);
}

/// C iscsi.c `iscsi_init_status_rsp()`: a SCSI Response with this status and, if valid, the
/// sense data (2-byte length + sense) as its data segment.
fn iscsi_init_status_rsp(rsp: &Arc<IscsiCmnd>, status: u8, sense: &[u8]) {
    let itt = rsp
        .parent_req
        .as_ref()
        .map(|r| cmnd_hdr(&r.d.lock().pdu.bhs).itt)
        .unwrap_or(ISCSI_RESERVED_TAG);
    let mut d = rsp.d.lock();
    {
        let h = IscsiScsiRspHdr::from_bhs_mut(&mut d.pdu.bhs);
        h.opcode = ISCSI_OP_SCSI_RSP;
        h.flags = ISCSI_FLG_FINAL;
        h.response = ISCSI_RESPONSE_COMMAND_COMPLETED;
        h.cmd_status = status;
        h.itt = itt;
    }
    if scst_core::scst_const::scst_sense_valid(Some(sense)) {
        TRACE_DBG!("SENSE VALID");
        // C iscsi_tcp_set_sense_data(): sense_hdr (the length) and the sense bytes.
        let len = sense.len().min(kemu::mm::PAGE_SIZE - 2);
        let mut sg = sg_init_table(1);
        if let Some(mut page) = alloc_page(GFP_KERNEL) {
            let buf = page_address_mut(&mut page);
            buf[..2].copy_from_slice(&u16::try_from(len).unwrap_or(0).to_be_bytes());
            buf[2..2 + len].copy_from_slice(&sense[..len]);
            let total = u32::try_from(2 + len).unwrap_or(0);
            sg_set_page(&mut sg[0], page, total, 0);
            d.sg = CmndSg::Own(sg);
            d.pdu.datasize = total;
            d.bufflen = total;
            return;
        }
    }
    d.pdu.datasize = 0;
    d.bufflen = 0;
}

/// C iscsi.c `create_status_rsp()`.
pub fn create_status_rsp(req: &Arc<IscsiCmnd>, status: u8, sense: &[u8]) -> Arc<IscsiCmnd> {
    let rsp = iscsi_alloc_rsp(req);
    iscsi_init_status_rsp(&rsp, status, sense);
    iscsi_set_resid(&rsp);
    rsp
}

/// C iscsi.c `iscsi_tcp_send_data_rsp()`: Data-In with collapsed status, or Data-In and a
/// separate SCSI Response (CHECK CONDITION or bidirectional).
fn iscsi_tcp_send_data_rsp(req: &Arc<IscsiCmnd>, sense: &[u8], status: u8, is_send_status: bool) {
    let flags = cmnd_hdr(&req.d.lock().pdu.bhs).flags;
    if status != scst_core::scst_const::SAM_STAT_CHECK_CONDITION
        && flags & (ISCSI_CMD_WRITE | ISCSI_CMD_READ) != (ISCSI_CMD_WRITE | ISCSI_CMD_READ)
    {
        send_data_rsp(req, status, is_send_status);
    } else {
        send_data_rsp(req, 0, false);
        if is_send_status {
            let rsp = create_status_rsp(req, status, sense);
            iscsi_cmnd_init_write(&rsp, 0);
        }
    }
}

/// C iscsi.c `iscsi_try_local_processing()`: send the responses from this thread if no write
/// thread is on the connection.
fn iscsi_try_local_processing(req: &Arc<IscsiCmnd>) {
    let conn = &req.conn;
    let p = &conn.conn_thr_pool;
    let local = {
        let mut wr_list = p.wr_lock.lock_bh();
        match conn.wr_state.load(Ordering::Acquire) {
            ISCSI_CONN_WR_STATE_IN_LIST | ISCSI_CONN_WR_STATE_IDLE => {
                if conn.wr_state.load(Ordering::Acquire) == ISCSI_CONN_WR_STATE_IN_LIST {
                    wr_list.retain(|c| !Arc::ptr_eq(c, conn));
                }
                conn.wr_state
                    .store(ISCSI_CONN_WR_STATE_PROCESSING, Ordering::Release);
                conn.wr_space_ready.store(false, Ordering::Release);
                true
            }
            _ => false,
        }
    };
    if !local {
        return;
    }
    let mut rc;
    loop {
        rc = crate::nthread::iscsi_send(conn);
        if rc <= 0 || req.not_processed_rsp_cnt.load(Ordering::Acquire) == 0 {
            break;
        }
    }
    let mut wr_list = p.wr_lock.lock_bh();
    if rc == -(Errno::EAGAIN as i32) && !conn.wr_space_ready.load(Ordering::Acquire) {
        TRACE_DBG!("EAGAIN, setting WR_STATE_SPACE_WAIT (conn {:?})", conn);
        conn.wr_state
            .store(ISCSI_CONN_WR_STATE_SPACE_WAIT, Ordering::Release);
    } else if crate::nthread::test_write_ready(conn) {
        wr_list.add_tail(Arc::clone(conn));
        conn.wr_state
            .store(ISCSI_CONN_WR_STATE_IN_LIST, Ordering::Release);
        kemu::wait::wake_up(&p.wr_waitQ);
    } else {
        conn.wr_state
            .store(ISCSI_CONN_WR_STATE_IDLE, Ordering::Release);
    }
}

/// C iscsi.c `iscsi_tcp_send_locally()`: when our response is first on the write list and
/// the backend is not busy (≤ 2 active commands), send it from this thread to save a thread
/// switch. Returns true when the write thread should do it instead.
fn iscsi_tcp_send_locally(req: &Arc<IscsiCmnd>, cmd_count: i32) -> bool {
    let conn = &req.conn;
    let ours = {
        let wl = conn.write_list_lock.lock_bh();
        let first = wl.write_list.first().map(|(_, c)| Arc::clone(c));
        drop(wl);
        let d = req.d.lock();
        match (first, d.rsp_cmd_list.first()) {
            (Some(w), Some(o)) => Arc::ptr_eq(&w, o),
            _ => false,
        }
    };
    if !ours || cmd_count > 2 {
        return true;
    }
    // Pre-release before processing handles some error recovery cases.
    req_cmnd_pre_release(req);
    iscsi_try_local_processing(req);
    cmnd_put(req);
    false
}

/// C iscsi.c `iscsi_xmit_response()`: SCST's `xmit_response` callback: the command's data,
/// status and sense go out as Data-In / SCSI Response PDUs.
fn iscsi_xmit_response(scst_cmd: &Arc<ScstCmd>) -> i32 {
    use scst_core::scst as sc;
    let Some(req) = req_of(scst_cmd) else {
        PRINT_ERROR!("xmit_response for a command without its iSCSI request");
        return scst_core::scst::SCST_TGT_RES_FATAL_ERROR;
    };
    let conn = Arc::clone(&req.conn);
    let is_send_status = sc::scst_cmd_get_is_send_status(scst_cmd);
    let status = sc::scst_cmd_get_status(scst_cmd);

    sc::scst_cmd_set_tgt_priv(scst_cmd, None);

    if sc::scst_cmd_aborted_on_xmit(scst_cmd) {
        set_bit(ISCSI_CMD_ABORTED, &req.prelim_compl_flags);
    }

    if req.prelim_compl_flags.bits() != 0 {
        if test_bit(ISCSI_CMD_ABORTED, &req.prelim_compl_flags) {
            TRACE_MGMT_DBG!("req {:?} aborted", req);
            sc::scst_set_delivery_status(
                scst_cmd,
                scst_core::scst_const::SCST_CMD_DELIVERY_ABORTED,
            );
            req.d.lock().scst_state = ISCSI_CMD_STATE_PROCESSED;
            req_cmnd_release_force(&req);
            return scst_core::scst::SCST_TGT_RES_SUCCESS;
        }
        TRACE_DBG!("Prelim completed req {:?}", req);
        // It may have been completed before its device was known: fix the sense format.
        scst_core::scst_lib::scst_check_convert_sense(scst_cmd);
        let mut d = req.d.lock();
        if !matches!(d.sg, CmndSg::Own(_)) {
            d.sg = CmndSg::Scst;
        }
    } else {
        req.d.lock().sg = CmndSg::Scst;
    }

    let sense = sc::scst_cmd_get_sense_buffer(scst_cmd);
    let bufflen = u32::try_from(sc::scst_cmd_get_adjusted_resp_data_len(scst_cmd)).unwrap_or(0);
    {
        let mut d = req.d.lock();
        d.bufflen = bufflen;
        d.scst_state = ISCSI_CMD_STATE_PROCESSED;
    }

    if bufflen != 0 && !is_send_status {
        PRINT_CRIT_ERROR!("Sending DATA without STATUS is unsupported");
        let (k, a, q) = scst_core::scst_const::scst_sense_hardw_error;
        scst_core::scst_lib::scst_set_cmd_error(scst_cmd, k, a, q);
    }

    // active_cmds goes down before any response is queued, so that none carries a stale
    // MaxCmdSN.
    {
        let mut d = req.d.lock();
        if d.dec_active_cmds {
            iscsi_dec_active_cmds(&req, &mut d);
        }
    }

    if bufflen != 0 {
        iscsi_tcp_send_data_rsp(&req, &sense, status, is_send_status);
    } else if is_send_status {
        let rsp = create_status_rsp(&req, status, &sense);
        iscsi_cmnd_init_write(&rsp, 0);
    }

    if iscsi_tcp_send_locally(
        &req,
        scst_core::scst_targ::scst_get_active_cmd_count(scst_cmd),
    ) {
        TRACE_DBG!("Waking up write thread (conn {:?})", conn);
        req_cmnd_release(&req);
        iscsi_make_conn_wr_active(&conn);
    }
    scst_core::scst::SCST_TGT_RES_SUCCESS
}

/// C iscsi.c `iscsi_tcp_preprocessing_done()` / `iscsi_preprocessing_done()`: SCST parsed the
/// command and gave it a buffer; the read thread continues with it.
fn iscsi_preprocessing_done(scst_cmd: &Arc<ScstCmd>) {
    let Some(req) = req_of(scst_cmd) else {
        return;
    };
    let conn = Arc::clone(&req.conn);
    let on_rx_thread = *conn.rx_task.lock() == Some(std::thread::current().id());
    if on_rx_thread {
        req.d.lock().scst_state = ISCSI_CMD_STATE_AFTER_PREPROC;
    } else {
        // The state is awaited without protection: hold a reference so the request cannot
        // die between the assignment and iscsi_make_conn_rd_active().
        cmnd_get(&req);
        req.d.lock().scst_state = ISCSI_CMD_STATE_AFTER_PREPROC;
        crate::conn::iscsi_make_conn_rd_active(&conn);
        if conn.closing.load(Ordering::Acquire) {
            TRACE_DBG!("Waking up closing conn {:?}", conn);
            kemu::wait::wake_up(&conn.read_state_waitQ);
        }
        cmnd_put(&req);
    }
}

// ---------------------------------------------------------------------------------------------
// The SCST target template (iscsi.c iscsi_template) and module init/exit
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// iscsi.c: task management
// ---------------------------------------------------------------------------------------------

/// C iscsi.h `between()`: whether `seq1` lies in the SN window [`seq2`, `seq3`].
fn between(seq1: u32, seq2: u32, seq3: u32) -> bool {
    seq3.wrapping_sub(seq2) >= seq1.wrapping_sub(seq2)
}

/// C: iscsi.c cmnd_find_itt_get(): the connection's request with `itt`, with a reference.
fn cmnd_find_itt_get(
    conn: &IscsiConn,
    itt: zerocopy::byteorder::U32<zerocopy::byteorder::BigEndian>,
) -> Option<Arc<IscsiCmnd>> {
    let l = conn.cmd_list_lock.lock_bh();
    l.iter()
        .map(|(_, c)| c)
        .find(|c| c.d.lock().pdu.bhs.itt == itt && !cmnd_get_check(c))
        .cloned()
}

/// C: iscsi.c cmnd_abort_pre_checks(): the iSCSI checks of ABORT TASK before SCST sees it.
/// `Ok` to pass it on to SCST; `Err` with the response to send at once. An unknown task
/// whose RefCmdSN lies in the window before the request's CmdSN was already completed:
/// RFC 3720 wants "function complete" for it (`Ok` without a command is then answered so).
fn cmnd_abort_pre_checks(req: &Arc<IscsiCmnd>) -> Result<bool, u8> {
    let (ref_cmd_sn, cmd_sn, rtt, lun) = {
        let d = req.d.lock();
        let h = IscsiTaskMgtHdr::from_bhs(&d.pdu.bhs);
        (u32::from_be(h.ref_cmd_sn), h.cmd_sn, h.rtt, h.lun)
    };

    if !before(ref_cmd_sn, cmd_sn) {
        kemu::TRACE!(
            TRACE_MGMT,
            "ABORT TASK: RefCmdSN({}) > CmdSN({})",
            ref_cmd_sn,
            cmd_sn
        );
        return Err(ISCSI_RESPONSE_UNKNOWN_TASK);
    }

    match cmnd_find_itt_get(&req.conn, rtt) {
        Some(cmnd) => {
            let (opcode, hdr_lun, hdr_cmd_sn) = {
                let d = cmnd.d.lock();
                let h = cmnd_hdr(&d.pdu.bhs);
                (d.pdu.bhs.opcode, h.lun, h.cmd_sn)
            };
            let res = if lun != hdr_lun {
                PRINT_ERROR!(
                    "ABORT TASK: LUN mismatch: req LUN {:x}, cmd LUN {:x}, rtt {}",
                    lun.get(),
                    hdr_lun.get(),
                    rtt.get()
                );
                Err(ISCSI_RESPONSE_FUNCTION_REJECTED)
            } else if opcode & ISCSI_OP_IMMEDIATE != 0 && ref_cmd_sn != cmd_sn {
                PRINT_ERROR!(
                    "ABORT TASK: RefCmdSN({}) != TM cmd CmdSN({}) for immediate command {:?}",
                    ref_cmd_sn,
                    cmd_sn,
                    cmnd
                );
                Err(ISCSI_RESPONSE_FUNCTION_REJECTED)
            } else if opcode & ISCSI_OP_IMMEDIATE == 0 && ref_cmd_sn != hdr_cmd_sn {
                PRINT_ERROR!(
                    "ABORT TASK: RefCmdSN({}) != CmdSN({}) for command {:?}",
                    ref_cmd_sn,
                    hdr_cmd_sn,
                    cmnd
                );
                Err(ISCSI_RESPONSE_FUNCTION_REJECTED)
            } else if before(cmd_sn, hdr_cmd_sn) || cmd_sn == hdr_cmd_sn {
                PRINT_ERROR!(
                    "ABORT TASK: SN mismatch: req SN {:x}, cmd SN {:x}, rtt {}",
                    cmd_sn,
                    hdr_cmd_sn,
                    rtt.get()
                );
                Err(ISCSI_RESPONSE_FUNCTION_REJECTED)
            } else {
                Ok(true)
            };
            cmnd_put(&cmnd);
            res
        }
        None => {
            TRACE_MGMT_DBG!("cmd RTT {:x} not found", rtt.get());
            // RFC 3720: a Referenced Task Tag that identifies no task, with a RefCmdSN in
            // the valid CmdSN window and below the request's CmdSN, means the task was
            // received and completed: "Function complete". Outside the window: "Task does
            // not exist". 2048 is the window.
            if between(ref_cmd_sn, cmd_sn.wrapping_sub(2048), cmd_sn) {
                Ok(false)
            } else {
                Err(ISCSI_RESPONSE_UNKNOWN_TASK)
            }
        }
    }
}

/// C: iscsi.c execute_task_management(): hands a Task Management Function Request to SCST
/// (`scst_rx_mgmt_fn()`, answered in [`iscsi_task_mgmt_fn_done`]) or answers it at once.
fn execute_task_management(req: &Arc<IscsiCmnd>) {
    let conn = &req.conn;
    let sess = &conn.session;
    let (function, rtt, cmd_sn, lun, itt) = {
        let d = req.d.lock();
        let h = IscsiTaskMgtHdr::from_bhs(&d.pdu.bhs);
        (
            h.function & ISCSI_FUNCTION_MASK,
            h.rtt,
            h.cmd_sn,
            h.lun,
            h.itt,
        )
    };
    kemu::TRACE!(TRACE_MGMT, "iSCSI TM fn {}", function);
    TRACE_MGMT_DBG!(
        "TM req {:?}, ITT {:x}, RTT {:x}, sn {}, conn {:?}",
        req,
        itt.get(),
        rtt.get(),
        cmd_sn,
        conn
    );

    {
        let mut sn = sess.sn_lock.lock();
        sn.tm_active += 1;
        sn.tm_sn = cmd_sn;
    }

    let scst_sess = sess.scst_sess.lock().clone();
    let priv_: scst_core::scst::TgtPriv = Arc::clone(req) as scst_core::scst::TgtPriv;
    let lun_params = |fn_| ScstRxMgmtParams {
        fn_,
        lun: lun.get().to_be_bytes().to_vec(),
        lun_set: true,
        cmd_sn,
        cmd_sn_set: true,
        atomic: false,
        tgt_priv: Some(Arc::clone(&priv_)),
        ..Default::default()
    };
    let rx = |params: &ScstRxMgmtParams| -> bool {
        match &scst_sess {
            Some(s) => scst_rx_mgmt_fn(s, params).is_ok(),
            None => false,
        }
    };

    // `Ok` once SCST has it; `Err(status)` to answer now.
    let res: Result<(), u8> = if function != ISCSI_FUNCTION_ABORT_TASK
        && rtt.get() != ISCSI_RESERVED_TAG_CPU32
    {
        PRINT_ERROR!("Invalid RTT {:x} (TM fn {})", rtt.get(), function);
        Err(ISCSI_RESPONSE_FUNCTION_REJECTED)
    } else {
        // cmd_sn is already in CPU order (cmnd_rx_start()).
        match function {
            ISCSI_FUNCTION_ABORT_TASK => match cmnd_abort_pre_checks(req) {
                Ok(true) => {
                    let mut p = lun_params(SCST_ABORT_TASK);
                    p.tag = u64::from(rtt.get());
                    p.tag_set = true;
                    if rx(&p) {
                        Ok(())
                    } else {
                        Err(ISCSI_RESPONSE_FUNCTION_REJECTED)
                    }
                }
                Ok(false) => Err(ISCSI_RESPONSE_FUNCTION_COMPLETE),
                Err(status) => Err(status),
            },
            ISCSI_FUNCTION_ABORT_TASK_SET
            | ISCSI_FUNCTION_CLEAR_TASK_SET
            | ISCSI_FUNCTION_CLEAR_ACA
            | ISCSI_FUNCTION_LOGICAL_UNIT_RESET => {
                let fn_ = match function {
                    ISCSI_FUNCTION_ABORT_TASK_SET => SCST_ABORT_TASK_SET,
                    ISCSI_FUNCTION_CLEAR_TASK_SET => SCST_CLEAR_TASK_SET,
                    ISCSI_FUNCTION_CLEAR_ACA => SCST_CLEAR_ACA,
                    _ => SCST_LUN_RESET,
                };
                if rx(&lun_params(fn_)) {
                    Ok(())
                } else {
                    Err(ISCSI_RESPONSE_FUNCTION_REJECTED)
                }
            }
            ISCSI_FUNCTION_TARGET_COLD_RESET | ISCSI_FUNCTION_TARGET_WARM_RESET => {
                let p = ScstRxMgmtParams {
                    fn_: SCST_TARGET_RESET,
                    cmd_sn,
                    cmd_sn_set: true,
                    atomic: false,
                    tgt_priv: Some(Arc::clone(&priv_)),
                    ..Default::default()
                };
                if rx(&p) {
                    Ok(())
                } else {
                    Err(ISCSI_RESPONSE_FUNCTION_REJECTED)
                }
            }
            ISCSI_FUNCTION_TASK_REASSIGN => Err(ISCSI_RESPONSE_ALLEGIANCE_REASSIGNMENT_UNSUPPORTED),
            f => {
                PRINT_ERROR!("Unknown TM function {}", f);
                Err(ISCSI_RESPONSE_FUNCTION_REJECTED)
            }
        }
    };

    if let Err(status) = res {
        iscsi_send_task_mgmt_resp(req, status, false);
    }
}

/// C: iscsi.c iscsi_drop_delayed_tm_rsp(): forgets (without releasing) the delayed TM
/// response. `sn_lock` held (`sn`).
pub fn iscsi_drop_delayed_tm_rsp(sn: &mut SnData) -> Option<Arc<IscsiCmnd>> {
    let tm_rsp = sn.tm_rsp.take();
    TRACE_MGMT_DBG!("Dropping delayed TM rsp {:?}", tm_rsp);
    sn.tm_active -= 1;
    if sn.tm_active < 0 {
        PRINT_CRIT_ERROR!("tm_active below 0");
    }
    tm_rsp
}

/// C: iscsi.c iscsi_is_delay_tm_resp(): the TM response waits while commands sent before
/// the request (by CmdSN) have not all arrived. `sn_lock` held (`sn`).
fn iscsi_is_delay_tm_resp(rsp: &IscsiCmnd, sn: &SnData) -> bool {
    let Some(req) = &rsp.parent_req else {
        return false;
    };
    let cmd_sn = IscsiTaskMgtHdr::from_bhs(&req.d.lock().pdu.bhs).cmd_sn;
    // This should be checked for immediate TM commands as well.
    before(sn.exp_cmd_sn, cmd_sn)
}

/// C: iscsi.c iscsi_check_send_delayed_tm_resp(): sends the delayed TM response once the
/// commands it waits for arrived. Called with `sn_lock` held (`sn`), which is dropped around
/// the send.
fn iscsi_check_send_delayed_tm_resp(sn: &mut kemu::sync::SpinLockGuard<'_, SnData>) {
    let Some(tm_rsp) = sn.tm_rsp.clone() else {
        return;
    };
    if iscsi_is_delay_tm_resp(&tm_rsp, sn) {
        return;
    }
    TRACE_MGMT_DBG!("Sending delayed rsp {:?}", tm_rsp);
    sn.tm_rsp = None;
    sn.tm_active -= 1;
    if sn.tm_active < 0 {
        PRINT_CRIT_ERROR!("tm_active below 0");
    }
    kemu::sync::SpinLockGuard::unlocked(sn, || {
        iscsi_cmnd_init_write(&tm_rsp, ISCSI_INIT_WRITE_WAKE);
    });
}

/// C: iscsi.c iscsi_send_task_mgmt_resp(): the Task Management Function Response with
/// `status`, delayed while commands before the request are missing; with `drop_` none is
/// sent (a cold reset then closes every session of the target).
fn iscsi_send_task_mgmt_resp(req: &Arc<IscsiCmnd>, status: u8, drop_: bool) {
    let sess = &req.conn.session;
    let (fn_, itt) = {
        let d = req.d.lock();
        let h = IscsiTaskMgtHdr::from_bhs(&d.pdu.bhs);
        (h.function & ISCSI_FUNCTION_MASK, h.itt)
    };
    TRACE_MGMT_DBG!("TM req {:?} finished", req);
    kemu::TRACE!(
        TRACE_MGMT,
        "iSCSI TM fn {} finished, status {}, dropped {}",
        fn_,
        status,
        drop_
    );

    if drop_ {
        sess.sn_lock.lock().tm_active -= 1;
        if fn_ == ISCSI_FUNCTION_TARGET_COLD_RESET {
            let target = &sess.target;
            PRINT_INFO!(
                "Closing all connections for target {:x} at COLD RESET from initiator {}",
                target.tid,
                sess.initiator_name
            );
            let mut g = target.target_mutex.lock();
            target_del_all_sess(target, &mut g, 0);
        }
        req_cmnd_release(req);
        return;
    }

    let rsp = iscsi_alloc_rsp(req);
    {
        let mut d = rsp.d.lock();
        let h = IscsiTaskRspHdr::from_bhs_mut(&mut d.pdu.bhs);
        h.opcode = ISCSI_OP_SCSI_TASK_MGT_RSP;
        h.flags = ISCSI_FLG_FINAL;
        h.itt = itt;
        h.response = status;
        if fn_ == ISCSI_FUNCTION_TARGET_COLD_RESET {
            d.should_close_conn = true;
            d.should_close_all_conn = true;
        }
    }

    loop {
        let mut sn = sess.sn_lock.lock();
        if sn.tm_rsp.is_some() {
            // Another TM request means that the command the delayed response waits for is
            // not going to come: drop it.
            let old = iscsi_drop_delayed_tm_rsp(&mut sn);
            drop(sn);
            if let Some(old) = old {
                rsp_cmnd_release(&old);
            }
            continue;
        }
        if iscsi_is_delay_tm_resp(&rsp, &sn) {
            TRACE_MGMT_DBG!(
                "Delaying TM fn {} response {:?} (req {:?}), because not all affected commands received (exp sn {})",
                fn_,
                rsp,
                req,
                sn.exp_cmd_sn
            );
            sn.tm_rsp = Some(rsp);
            drop(sn);
            req_cmnd_release(req);
            return;
        }
        sn.tm_active -= 1;
        if sn.tm_active < 0 {
            PRINT_CRIT_ERROR!("tm_active below 0");
        }
        break;
    }
    iscsi_cmnd_init_write(&rsp, ISCSI_INIT_WRITE_WAKE);
    req_cmnd_release(req);
}

/// C: iscsi.c iscsi_get_mgmt_response(): the iSCSI response code of an SCST status.
fn iscsi_get_mgmt_response(status: MgmtStatus) -> u8 {
    match status {
        SCST_MGMT_STATUS_SUCCESS => ISCSI_RESPONSE_FUNCTION_COMPLETE,
        SCST_MGMT_STATUS_TASK_NOT_EXIST => ISCSI_RESPONSE_UNKNOWN_TASK,
        SCST_MGMT_STATUS_LUN_NOT_EXIST => ISCSI_RESPONSE_UNKNOWN_LUN,
        SCST_MGMT_STATUS_FN_NOT_SUPPORTED => ISCSI_RESPONSE_FUNCTION_UNSUPPORTED,
        _ => ISCSI_RESPONSE_FUNCTION_REJECTED,
    }
}

/// C: iscsi.c iscsi_task_mgmt_fn_done(): SCST finished a function: its response goes out.
fn iscsi_task_mgmt_fn_done(scst_mcmd: &Arc<ScstMgmtCmd>) {
    let fn_ = scst_mgmt_cmd_get_fn(scst_mcmd);
    let scst_status = scst_mgmt_cmd_get_status(scst_mcmd);
    let mut status = iscsi_get_mgmt_response(scst_status);
    if status == ISCSI_RESPONSE_UNKNOWN_TASK && fn_ == SCST_ABORT_TASK {
        // Here the task was found (iSCSI's checks passed), so the function succeeded.
        status = ISCSI_RESPONSE_FUNCTION_COMPLETE;
    }
    TRACE_MGMT_DBG!(
        "scst_mcmd {:?}, fn {:?}, scst status {:?}, status {}",
        scst_mcmd,
        fn_,
        scst_status,
        status
    );
    match fn_ {
        // Internal.
        SCST_NEXUS_LOSS_SESS => {}
        SCST_ABORT_ALL_TASKS_SESS | SCST_ABORT_ALL_TASKS | SCST_NEXUS_LOSS => {
            PRINT_CRIT_ERROR!("Unexpected TM fn {:?} done", fn_);
        }
        _ => {
            let req =
                scst_mgmt_cmd_get_tgt_priv(scst_mcmd).and_then(|p| p.downcast::<IscsiCmnd>().ok());
            match req {
                Some(req) => {
                    iscsi_send_task_mgmt_resp(&req, status, scst_mgmt_cmd_dropped(scst_mcmd))
                }
                None => PRINT_CRIT_ERROR!("TM fn {:?} done without its request", fn_),
            }
            scst_mgmt_cmd_set_tgt_priv(scst_mcmd, None);
        }
    }
}

/// C: iscsi.c iscsi_cmnd_abort_fn(): the work `iscsi_on_abort_cmd()` schedules: if the
/// request of the aborted SCST command is still on one of its session's connections, it is
/// aborted (`__cmnd_abort()`).
fn iscsi_cmnd_abort_fn(scst_cmd: &Arc<ScstCmd>) {
    let Some(cmnd) = req_of(scst_cmd) else {
        return;
    };
    TRACE_MGMT_DBG!("Checking aborted scst_cmd (cmnd {:?})", cmnd);
    let session = &cmnd.conn.session;
    let g = session.target.target_mutex.lock();
    // The request is valid only while on its connection's cmd_list: check every connection
    // of the session, under its lock.
    for conn in &session.tm.access(&g).conn_list {
        let l = conn.cmd_list_lock.lock_bh();
        let found = l.iter().any(|(_, c)| Arc::ptr_eq(c, &cmnd));
        if found {
            __cmnd_abort(&cmnd);
            drop(l);
            break;
        }
    }
    drop(g);
}

/// C: iscsi.c iscsi_on_abort_cmd(): SCST aborts a command (under its locks): the iSCSI side
/// is aborted from a work.
fn iscsi_on_abort_cmd(scst_cmd: &Arc<ScstCmd>) {
    TRACE_MGMT_DBG!("Scheduling abort check for scst_cmd {:?}", scst_cmd);
    let c = Arc::clone(scst_cmd);
    let work = kemu::workqueue::WorkStruct::new(move || iscsi_cmnd_abort_fn(&c));
    if !kemu::workqueue::schedule_work(&work) {
        PRINT_CRIT_ERROR!(
            "Unable to schedule the abort check, iSCSI cmnd for scst_cmd {:?} may not be aborted",
            scst_cmd
        );
    }
}

/// The callbacks of `iscsi_template` ported so far.
#[derive(Debug)]
pub struct IscsiTemplateOps;

impl ScstTgtTemplateOps for IscsiTemplateOps {
    /// C: iscsi.c iscsi_target_release(): nothing to do.
    fn release(&self, _tgt: &Arc<ScstTgt>) -> i32 {
        0
    }

    /// C: iscsi.c iscsi_xmit_response().
    fn xmit_response(&self, cmd: &Arc<ScstCmd>) -> i32 {
        iscsi_xmit_response(cmd)
    }

    /// C: iscsi.c iscsi_preprocessing_done().
    fn preprocessing_done(&self, cmd: &Arc<ScstCmd>) {
        iscsi_preprocessing_done(cmd);
    }

    /// C: iscsi.c iscsi_pre_exec(): the deferred data digests would be checked here; the port
    /// checks every data digest inline on receipt, so there is nothing left to check.
    fn pre_exec(&self, _cmd: &Arc<ScstCmd>) -> Option<i32> {
        Some(scst_core::scst::SCST_PREPROCESS_STATUS_SUCCESS)
    }

    /// C: iscsi.c iscsi_get_initiator_port_transport_id(): without a session the protocol
    /// id (as byte 0); with one, the format-1 iSCSI TransportID "`<initiator>`,i,0x`<ISID>`"
    /// (C prints the session id with its TSIH bytes cleared: `%llx` of the in-memory
    /// `union iscsi_sid` read as a host-order u64).
    fn get_initiator_port_transport_id(
        &self,
        _tgt: &Arc<ScstTgt>,
        scst_sess: Option<&Arc<ScstSession>>,
    ) -> Option<Result<Vec<u8>, Errno>> {
        let Some(scst_sess) = scst_sess else {
            return Some(Ok(vec![
                scst_core::scst_const::SCSI_TRANSPORTID_PROTOCOLID_ISCSI,
            ]));
        };
        let sess = scst_core::scst::scst_sess_get_tgt_priv(scst_sess).and_then(|p| {
            p.downcast_ref::<std::sync::Weak<IscsiSession>>()
                .and_then(std::sync::Weak::upgrade)
        });
        let Some(sess) = sess else {
            return Some(Err(Errno::EINVAL));
        };
        // C: sid.id.tsih = 0 on the union over the host-order u64.
        let mut sid = sess.sid.to_ne_bytes();
        sid[6] = 0;
        sid[7] = 0;
        let isid = u64::from_ne_bytes(sid);
        Some(Ok(scst_core::scst_pres::scst_pr_iscsi_transport_id(
            &sess.initiator_name,
            isid,
        )))
    }

    /// C: iscsi.c iscsi_on_abort_cmd().
    fn on_abort_cmd(&self, cmd: &Arc<ScstCmd>) {
        iscsi_on_abort_cmd(cmd);
    }

    /// C: iscsi.c iscsi_task_mgmt_fn_done().
    fn task_mgmt_fn_done(&self, mcmd: &Arc<ScstMgmtCmd>) {
        iscsi_task_mgmt_fn_done(mcmd);
    }

    /// C: nthread.c iscsi_task_mgmt_affected_cmds_done().
    fn task_mgmt_affected_cmds_done(&self, mcmd: &Arc<ScstMgmtCmd>) {
        crate::nthread::iscsi_task_mgmt_affected_cmds_done(mcmd);
    }
}

/// C `iscsi_template`: the SCST target template of iscsi-scst.
pub fn iscsi_template() -> Arc<ScstTgtTemplate> {
    static TEMPLATE: std::sync::OnceLock<Arc<ScstTgtTemplate>> = std::sync::OnceLock::new();
    Arc::clone(TEMPLATE.get_or_init(|| {
        let mut t = ScstTgtTemplate::new("iscsi", Arc::new(IscsiTemplateOps));
        t.sg_tablesize = 0xFFFF; // No limit for sg.
        t.threads_num = 0;
        t.no_clustering = true;
        t.xmit_response_atomic = false;
        t.default_trace_flags = ISCSI_DEFAULT_LOG_FLAGS;
        Arc::new(t)
    }))
}

/// True once [`iscsi_init`] succeeded and until [`iscsi_exit`].
static ISCSI_LOADED: AtomicBool = AtomicBool::new(false);

/// C: iscsi.c iscsi_init() (module init): registers the control device `iscsi-scst-ctl`, the
/// netlink unit, the SCST template and creates the main thread pool. `scst_core` must be
/// initialised first (C: the module depends on scst.ko).
pub fn iscsi_init() -> Result<(), Errno> {
    if ISCSI_LOADED.swap(true, Ordering::AcqRel) {
        return Err(Errno::EBUSY);
    }
    PRINT_INFO!("iSCSI SCST Target - version {}", ISCSI_VERSION_STRING);

    let res = (|| {
        crate::config::ctr_register()?;
        if let Err(e) = crate::event::event_init() {
            crate::config::ctr_unregister();
            return Err(e);
        }
        if let Err(e) = scst_core::scst_main::scst_register_target_template(&iscsi_template()) {
            crate::event::event_exit();
            crate::config::ctr_unregister();
            return Err(e);
        }
        match iscsi_threads_pool_get(false) {
            Ok(p) => {
                *iscsi_main_thread_pool.lock() = Some(p);
                Ok(())
            }
            Err(e) => {
                scst_core::scst_main::scst_unregister_target_template(&iscsi_template());
                crate::event::event_exit();
                crate::config::ctr_unregister();
                Err(e)
            }
        }
    })();
    if res.is_err() {
        ISCSI_LOADED.store(false, Ordering::Release);
    }
    res
}

/// C: iscsi.c iscsi_exit() (module exit): the reverse of [`iscsi_init`]. The daemon must have
/// closed the control device (which deletes all targets).
pub fn iscsi_exit() {
    if !ISCSI_LOADED.swap(false, Ordering::AcqRel) {
        return;
    }
    if let Some(p) = iscsi_main_thread_pool.lock().take() {
        iscsi_threads_pool_put(&p);
    }
    crate::config::ctr_unregister();
    crate::event::event_exit();
    scst_core::scst_main::scst_unregister_target_template(&iscsi_template());
}

/// The thread pool a new session uses (C: `iscsi_threads_pool_get(dedicated, mask)` in
/// `iscsi_session_alloc`; the main pool is shared).
pub fn session_thread_pool() -> Result<Arc<IscsiThreadPool>, Errno> {
    iscsi_threads_pool_get(false)
}
