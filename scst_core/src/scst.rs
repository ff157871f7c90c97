// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2004 - 2016 Vladislav Bolkhovitin <vst@vlnb.net>
// Copyright (C) 2004 - 2005 Leonid Stoljar
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2010 - 2011 Bart Van Assche <bvanassche@acm.org>
// Copyright (C) 2026 The scst-rs authors
//! The public SCST interface: the port of `scst/include/scst.h`.
//!
//! First the constants of the header — command and management states, execution contexts,
//! the result codes of target-driver and handler callbacks, session phases, flag bit numbers
//! and the other pure values — in the order of the header. Then the structures
//! (`scst_tgt_template`, `scst_tgt`, `scst_session`, `scst_acg`, `scst_acg_dev`, `scst_acn`,
//! the callbacks of target drivers and handlers, `scst_order_data`, `scst_tgt_dev`,
//! `scst_cmd`, `scst_dev_type`, `scst_device`, `scst_cmd_threads`) with their inline
//! accessors, and `scst_mgmt_cmd` (task management) with its accessors.
//!
//! A command's fields that only the thread processing it changes live in one mutex,
//! [`ScstCmd::d`]; the accessors (`scst_cmd_get_*`/`scst_cmd_set_*`, named as in C) lock it
//! briefly, so the core never holds it across a callback and drivers and handlers may call
//! them from anywhere. Fields other commands or threads read (`state`, the SN fields,
//! `done`, `finished`, `cmd_flags`) are atomics.
//!
//! Types follow the C: `int` codes are `i32`; bit numbers for `set_bit()`/`test_bit()` on the
//! `unsigned long` flag words are `u32` (the bit index of [`kemu::atomic::set_bit`]); timeouts
//! are jiffies (`u64`). The codes that handlers and target drivers hand back to the core and
//! that C dispatches with a `switch` ending in `default:` are open newtypes: [`CmdState`],
//! [`McmdState`] and [`ScstExecContext`]. Their constants have the verbatim C names, their
//! `Debug` prints that name, and a value outside the list prints as its number and stays
//! representable.
//!
//! The three `SCST_CMD_STATE_RES_*` codes are defined in C in `scst_priv.h`, not here; they are
//! kept next to the `SCST_EXEC_*` codes they alias until `scst_priv.h` is ported.
//!
//! Configuration: the port is a `CONFIG_SCST_PROC` build without `CONFIG_SCST_MEASURE_LATENCY`,
//! so the latency-statistics constants (`SCST_IO_SIZE_THRESHOLD_*`,
//! `SCST_LATENCY_STAT_INDEX_*`) are not here; neither are the two extended-copy segment types
//! that C leaves under `#if 0`.
#![doc(alias = "scst.h")]

use crate::scst_const::{open_enum, SCST_CONST_VERSION};
use crate::scst_main::{scst_mgmt_lock, scst_mutex};
use kemu::atomic::{AtomicT, BitWord};
use kemu::completion::Completion;
use kemu::kref::Kref;
use kemu::kthread::TaskStruct;
use kemu::list::{AtomicListHandle, List};
use kemu::sync::{LockedBy, RwLock, SpinLock};
use kemu::timer::HZ;
use kemu::wait::WaitQueueHead;
use kemu::Errno;
use std::any::Any;
use std::fmt;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock, Weak};

// ---------------------------------------------------------------------------------------------
// Interface version and names
// ---------------------------------------------------------------------------------------------

/// C: `SCST_INTF_VER` of the generated `scst_itf_ver.h`: the SHA-1 of `scst.h` as the build
/// sees it. A procfs build runs `make enable_proc` first, which uncomments
/// `#define CONFIG_SCST_PROC` in `scst.h`; this is the SHA-1 of the r7105 header after that
/// edit. All users of it are built from this constant, so only equality matters.
pub const SCST_INTF_VER: &str = "99c8bf0d9600e4ad06c1e0ee420ccf466cd23457";

/// C: scst.h `SCST_INTERFACE_VERSION`: `SCST_VERSION_STRING`, [`SCST_INTF_VER`] and
/// `SCST_CONST_VERSION`, concatenated. Target drivers and handlers pass it when they register
/// and the core refuses a mismatch.
pub const SCST_INTERFACE_VERSION: &str = "3.3.0-pre1-procfs\
     99c8bf0d9600e4ad06c1e0ee420ccf466cd23457\
     48bacf2cd998cf53880298389b808a349482a756";

/// C: scst.h `SCST_LOCAL_NAME`: the name of the `scst_local` target driver.
pub const SCST_LOCAL_NAME: &str = "scst_local";

// ---------------------------------------------------------------------------------------------
// Command state machine (`cmd->state`)
// ---------------------------------------------------------------------------------------------

open_enum! {
    /// C: scst.h `SCST_CMD_STATE_*`: the state of a command (C `int state`), also the value a
    /// handler's `parse()`/`dev_done()` may return to choose the next state.
    ///
    /// Active states come first (0–14: the core runs them from `scst_process_active_cmd()`),
    /// then [`SCST_CMD_STATE_LAST_ACTIVE`] (114), then the passive states (115–123: the command
    /// waits for someone, or is dispatched elsewhere). C orders them so that its `switch`
    /// statements compile to dense jump tables, and compares against them (`state <
    /// SCST_CMD_STATE_LAST_ACTIVE`), so the values and their order are part of the behaviour.
    /// The last three constants are not states but special values a handler may return.
    pub struct CmdState(i32);

    /// C `SCST_CMD_STATE_PARSE`: the handler's `parse()` is next (`scst_parse_cmd()`).
    SCST_CMD_STATE_PARSE = 0;
    /// C `SCST_CMD_STATE_PREPARE_SPACE`: the data buffer is allocated next
    /// (`scst_prepare_space()`).
    SCST_CMD_STATE_PREPARE_SPACE = 1;
    /// C `SCST_CMD_STATE_PREPROCESSING_DONE`: the target driver's `preprocessing_done()` is
    /// next.
    SCST_CMD_STATE_PREPROCESSING_DONE = 2;
    /// C `SCST_CMD_STATE_RDY_TO_XFER`: the target driver's `rdy_to_xfer()` is next.
    SCST_CMD_STATE_RDY_TO_XFER = 3;
    /// C `SCST_CMD_STATE_TGT_PRE_EXEC`: the target driver's `pre_exec()` is next.
    SCST_CMD_STATE_TGT_PRE_EXEC = 4;
    /// C `SCST_CMD_STATE_EXEC_CHECK_SN`: first step of execution, the SN order check.
    SCST_CMD_STATE_EXEC_CHECK_SN = 5;
    /// C `SCST_CMD_STATE_PRE_DEV_DONE`: the core's own checks after execution.
    SCST_CMD_STATE_PRE_DEV_DONE = 6;
    /// C `SCST_CMD_STATE_MODE_SELECT_CHECKS`: the core's follow-up of MODE SELECT and LOG
    /// SELECT (unit attentions to the other nexuses).
    SCST_CMD_STATE_MODE_SELECT_CHECKS = 7;
    /// C `SCST_CMD_STATE_DEV_DONE`: the handler's `dev_done()` is next.
    SCST_CMD_STATE_DEV_DONE = 8;
    /// C `SCST_CMD_STATE_PRE_XMIT_RESP`: checks before the response is sent; the entry point
    /// for commands without a `tgt_dev`.
    SCST_CMD_STATE_PRE_XMIT_RESP = 9;
    /// C `SCST_CMD_STATE_PRE_XMIT_RESP1`: first part of those checks (the execution side).
    SCST_CMD_STATE_PRE_XMIT_RESP1 = 10;
    /// C `SCST_CMD_STATE_PRE_XMIT_RESP2`: second part of those checks (the response side).
    SCST_CMD_STATE_PRE_XMIT_RESP2 = 11;
    /// C `SCST_CMD_STATE_XMIT_RESP`: the target driver's `xmit_response()` is next.
    SCST_CMD_STATE_XMIT_RESP = 12;
    /// C `SCST_CMD_STATE_FINISHED`: the command is done (`scst_finish_cmd()`).
    SCST_CMD_STATE_FINISHED = 13;
    /// C `SCST_CMD_STATE_FINISHED_INTERNAL`: an internal command is done
    /// (`scst_finish_internal_cmd()`).
    SCST_CMD_STATE_FINISHED_INTERNAL = 14;
    /// C `SCST_CMD_STATE_LAST_ACTIVE`: [`SCST_CMD_STATE_FINISHED_INTERNAL`] + 100; every
    /// active state is below it, every passive state above.
    SCST_CMD_STATE_LAST_ACTIVE = SCST_CMD_STATE_FINISHED_INTERNAL.0 + 100;
    /// C `SCST_CMD_STATE_INIT_WAIT` (passive): created, `scst_cmd_init_done()` not called yet.
    SCST_CMD_STATE_INIT_WAIT = 115;
    /// C `SCST_CMD_STATE_INIT` (passive): LUN translation, the `tgt_dev` is looked up.
    SCST_CMD_STATE_INIT = 116;
    /// C `SCST_CMD_STATE_PREPROCESSING_DONE_CALLED` (passive): waiting for
    /// `scst_restart_cmd()`.
    SCST_CMD_STATE_PREPROCESSING_DONE_CALLED = 117;
    /// C `SCST_CMD_STATE_DATA_WAIT` (passive): waiting for the initiator's data
    /// (`scst_rx_data()`).
    SCST_CMD_STATE_DATA_WAIT = 118;
    /// C `SCST_CMD_STATE_EXEC_CHECK_BLOCKING` (passive): ready to execute once the device is
    /// found not blocked (or blocked for this command).
    SCST_CMD_STATE_EXEC_CHECK_BLOCKING = 119;
    /// C `SCST_CMD_STATE_LOCAL_EXEC` (passive): checked for local execution by the core.
    SCST_CMD_STATE_LOCAL_EXEC = 120;
    /// C `SCST_CMD_STATE_REAL_EXEC` (passive): ready for the handler's `exec()`.
    SCST_CMD_STATE_REAL_EXEC = 121;
    /// C `SCST_CMD_STATE_EXEC_WAIT` (passive): waiting for the execution to finish.
    SCST_CMD_STATE_EXEC_WAIT = 122;
    /// C `SCST_CMD_STATE_XMIT_WAIT` (passive): waiting for the response to be sent.
    SCST_CMD_STATE_XMIT_WAIT = 123;
    /// C `SCST_CMD_STATE_DEFAULT`: a handler's answer meaning "the state that would come by
    /// default".
    SCST_CMD_STATE_DEFAULT = 500;
    /// C `SCST_CMD_STATE_NEED_THREAD_CTX`: a handler's answer meaning "cannot do this in
    /// atomic context"; the command is restarted in a thread.
    SCST_CMD_STATE_NEED_THREAD_CTX = 1000;
    /// C `SCST_CMD_STATE_STOP`: a `parse()` answer meaning "stop processing for now"; the
    /// handler restarts the command itself later.
    SCST_CMD_STATE_STOP = 1001;
}

// ---------------------------------------------------------------------------------------------
// Management command state machine (`mcmd->state`)
// ---------------------------------------------------------------------------------------------

open_enum! {
    /// C: scst.h `SCST_MCMD_STATE_*`: the state of a task management command (C `int state`),
    /// driven by `scst_process_mgmt_cmd()`.
    pub struct McmdState(i32);

    /// C `SCST_MCMD_STATE_INIT`: LUN translation, the `tgt_dev` is looked up.
    SCST_MCMD_STATE_INIT = 0;
    /// C `SCST_MCMD_STATE_EXEC`: the function is being carried out.
    SCST_MCMD_STATE_EXEC = 1;
    /// C `SCST_MCMD_STATE_WAITING_AFFECTED_CMDS_DONE`: waiting for the affected commands to be
    /// done.
    SCST_MCMD_STATE_WAITING_AFFECTED_CMDS_DONE = 2;
    /// C `SCST_MCMD_STATE_AFFECTED_CMDS_DONE`: follow-up once they are.
    SCST_MCMD_STATE_AFFECTED_CMDS_DONE = 3;
    /// C `SCST_MCMD_STATE_WAITING_AFFECTED_CMDS_FINISHED`: waiting for affected local commands
    /// to finish.
    SCST_MCMD_STATE_WAITING_AFFECTED_CMDS_FINISHED = 4;
    /// C `SCST_MCMD_STATE_DONE`: the target driver's `task_mgmt_fn_done()` is next.
    SCST_MCMD_STATE_DONE = 5;
    /// C `SCST_MCMD_STATE_FINISHED`: the management command is finished.
    SCST_MCMD_STATE_FINISHED = 6;
}

// ---------------------------------------------------------------------------------------------
// The `atomic` argument of SCST functions
// ---------------------------------------------------------------------------------------------

/// C: scst.h `SCST_NON_ATOMIC`: the caller may sleep.
pub const SCST_NON_ATOMIC: i32 = 0;
/// C: scst.h `SCST_ATOMIC`: the caller must not sleep.
pub const SCST_ATOMIC: i32 = 1;

// ---------------------------------------------------------------------------------------------
// Execution contexts (`pref_context` of scst_cmd_init_done(), scst_rx_data(),
// scst_restart_cmd(), scst_tgt_cmd_done(), scst_cmd_done())
// ---------------------------------------------------------------------------------------------

open_enum! {
    /// C: scst.h `enum scst_exec_context`: where the caller wants the command to go on.
    #[doc(alias = "scst_exec_context")]
    pub struct ScstExecContext(i32);

    /// C `SCST_CONTEXT_DIRECT_ATOMIC`: directly, in the caller's context, without sleeping.
    SCST_CONTEXT_DIRECT_ATOMIC = 0;
    /// C `SCST_CONTEXT_DIRECT`: directly, in the caller's context; sleeping allowed.
    SCST_CONTEXT_DIRECT = 1;
    /// C `SCST_CONTEXT_TASKLET`: in a tasklet or a thread.
    SCST_CONTEXT_TASKLET = 2;
    /// C `SCST_CONTEXT_THREAD`: in a thread.
    SCST_CONTEXT_THREAD = 3;
    /// C `SCST_CONTEXT_SAME`: the context of the previous callback, e.g. `scst_cmd_done()`
    /// from a synchronous `exec()` or `scst_tgt_cmd_done()` from inside `xmit_response()`.
    /// Not allowed for `scst_cmd_init_done()` and `scst_cmd_init_stage1_done()`.
    SCST_CONTEXT_SAME = 4;
}

// ---------------------------------------------------------------------------------------------
// Status argument of scst_rx_data()
// ---------------------------------------------------------------------------------------------

/// C: scst.h `SCST_RX_STATUS_SUCCESS`: the data arrived.
pub const SCST_RX_STATUS_SUCCESS: i32 = 0;
/// C: scst.h `SCST_RX_STATUS_ERROR`: receiving failed; the core sets sense and finishes the
/// command with a response.
pub const SCST_RX_STATUS_ERROR: i32 = 1;
/// C: scst.h `SCST_RX_STATUS_ERROR_SENSE_SET`: receiving failed and the sense is already set;
/// finished with a response.
pub const SCST_RX_STATUS_ERROR_SENSE_SET: i32 = 2;
/// C: scst.h `SCST_RX_STATUS_ERROR_FATAL`: fatal failure; finished without calling
/// `xmit_response()`.
pub const SCST_RX_STATUS_ERROR_FATAL: i32 = 3;

// ---------------------------------------------------------------------------------------------
// Status argument of scst_restart_cmd()
// ---------------------------------------------------------------------------------------------

/// C: scst.h `SCST_PREPROCESS_STATUS_SUCCESS`: preprocessing succeeded.
pub const SCST_PREPROCESS_STATUS_SUCCESS: i32 = 0;
/// C: scst.h `SCST_PREPROCESS_STATUS_ERROR`: it failed; the core sets sense and finishes the
/// command with a response.
pub const SCST_PREPROCESS_STATUS_ERROR: i32 = 1;
/// C: scst.h `SCST_PREPROCESS_STATUS_ERROR_SENSE_SET`: it failed and the sense is already set;
/// finished with a response.
pub const SCST_PREPROCESS_STATUS_ERROR_SENSE_SET: i32 = 2;
/// C: scst.h `SCST_PREPROCESS_STATUS_ERROR_FATAL`: fatal failure; finished without calling
/// `xmit_response()`.
pub const SCST_PREPROCESS_STATUS_ERROR_FATAL: i32 = 3;

// ---------------------------------------------------------------------------------------------
// Asynchronous event notifications (AEN)
// ---------------------------------------------------------------------------------------------

/// C: scst.h `SCST_AEN_SCSI`: a SCSI AEN carrying unit-attention sense. Only CAPACITY DATA HAS
/// CHANGED and REPORTED LUNS DATA HAS CHANGED go this way; other unit attentions are reported
/// with CHECK CONDITION, because delivering them as AENs would race even with untagged
/// commands.
pub const SCST_AEN_SCSI: i32 = 0;
/// C: scst.h `SCST_AEN_CPU_MASK_CHANGED`: the CPU affinity mask of the session changed.
pub const SCST_AEN_CPU_MASK_CHANGED: i32 = 1;

/// C: scst.h `SCST_AEN_RES_SUCCESS`: result of `report_aen()` /
/// `scst_set_aen_delivery_status()`: delivered.
pub const SCST_AEN_RES_SUCCESS: i32 = 0;
/// C: scst.h `SCST_AEN_RES_NOT_SUPPORTED`: the target driver does not support it.
pub const SCST_AEN_RES_NOT_SUPPORTED: i32 = -1;
/// C: scst.h `SCST_AEN_RES_FAILED`: delivery failed.
pub const SCST_AEN_RES_FAILED: i32 = -2;

// ---------------------------------------------------------------------------------------------
// Return codes of xmit_response() and rdy_to_xfer()
// ---------------------------------------------------------------------------------------------

/// C: scst.h `SCST_TGT_RES_SUCCESS`.
pub const SCST_TGT_RES_SUCCESS: i32 = 0;
/// C: scst.h `SCST_TGT_RES_QUEUE_FULL`: the driver's queue is full; the core retries later.
pub const SCST_TGT_RES_QUEUE_FULL: i32 = -1;
/// C: scst.h `SCST_TGT_RES_NEED_THREAD_CTX`: cannot be done in atomic context; the core
/// restarts the command in a thread.
pub const SCST_TGT_RES_NEED_THREAD_CTX: i32 = -2;
/// C: scst.h `SCST_TGT_RES_FATAL_ERROR`: from `xmit_response()` the command is destroyed; from
/// any other callback `xmit_response()` follows with READ or WRITE FAILED sense.
pub const SCST_TGT_RES_FATAL_ERROR: i32 = -3;

// ---------------------------------------------------------------------------------------------
// Return codes of a handler's exec()
// ---------------------------------------------------------------------------------------------

/// C: scst.h `SCST_EXEC_COMPLETED`: the core may start the post-execution work (advance the SN,
/// wake deferred commands) and go on with other commands. The command itself may still be
/// running.
pub const SCST_EXEC_COMPLETED: i32 = 0;
/// C: scst.h `SCST_EXEC_NOT_COMPLETED`: the command stays in the execution phase.
pub const SCST_EXEC_NOT_COMPLETED: i32 = 1;

/// C: scst_priv.h `SCST_CMD_STATE_RES_CONT_NEXT`: result of a state function, go on with the
/// next command. Equal to [`SCST_EXEC_COMPLETED`] on purpose, so no translation is needed.
pub const SCST_CMD_STATE_RES_CONT_NEXT: i32 = SCST_EXEC_COMPLETED;
/// C: scst_priv.h `SCST_CMD_STATE_RES_CONT_SAME`: go on with this command. Equal to
/// [`SCST_EXEC_NOT_COMPLETED`].
pub const SCST_CMD_STATE_RES_CONT_SAME: i32 = SCST_EXEC_NOT_COMPLETED;
/// C: scst_priv.h `SCST_CMD_STATE_RES_NEED_THREAD`: requeue this command to a thread.
pub const SCST_CMD_STATE_RES_NEED_THREAD: i32 = SCST_EXEC_NOT_COMPLETED + 1;

// ---------------------------------------------------------------------------------------------
// Session phases (`sess->init_phase`, `sess->shut_phase`)
// ---------------------------------------------------------------------------------------------

/// C: scst.h `SCST_SESS_IPH_INITING`: the session is being initialized.
pub const SCST_SESS_IPH_INITING: i32 = 0;
/// C: scst.h `SCST_SESS_IPH_SUCCESS`: initialization succeeded.
pub const SCST_SESS_IPH_SUCCESS: i32 = 1;
/// C: scst.h `SCST_SESS_IPH_FAILED`: initialization failed.
pub const SCST_SESS_IPH_FAILED: i32 = 2;
/// C: scst.h `SCST_SESS_IPH_READY`: initialized and ready.
pub const SCST_SESS_IPH_READY: i32 = 3;

/// C: scst.h `SCST_SESS_SPH_READY`: not shutting down.
pub const SCST_SESS_SPH_READY: i32 = 0;
/// C: scst.h `SCST_SESS_SPH_SHUTDOWN`: shutting down.
pub const SCST_SESS_SPH_SHUTDOWN: i32 = 1;
/// C: scst.h `SCST_SESS_SPH_UNREG_DONE_CALLING`: shutting down, `unreg_done_fn` being called.
pub const SCST_SESS_SPH_UNREG_DONE_CALLING: i32 = 2;

// ---------------------------------------------------------------------------------------------
// Bit numbers in the atomic flag words (`sess->sess_aflags`, `cmd->cmd_flags`,
// `tgt_dev->tgt_dev_flags`)
// ---------------------------------------------------------------------------------------------

/// C: scst.h `SCST_SESS_HW_PENDING_WORK_SCHEDULED`: the session's hw-pending work is queued.
pub const SCST_SESS_HW_PENDING_WORK_SCHEDULED: u32 = 0;

/// C: scst.h `SCST_CMD_ABORTED`: the command is aborted and must finish as soon as possible.
/// Only the core tests this bit directly; everybody else uses the helper functions.
pub const SCST_CMD_ABORTED: u32 = 0;
/// C: scst.h `SCST_CMD_ABORTED_OTHER`: aborted on behalf of another initiator.
pub const SCST_CMD_ABORTED_OTHER: u32 = 1;
/// C: scst.h `SCST_CMD_NO_RESP`: send no response to the target driver for it. Set together
/// with [`SCST_CMD_ABORTED`], which the ACA handling in `scst_pre_xmit_response2()` relies on.
pub const SCST_CMD_NO_RESP: u32 = 2;
/// C: scst.h `SCST_CMD_CAN_BE_DESTROYED`: the command is dead and may be freed at any time.
pub const SCST_CMD_CAN_BE_DESTROYED: u32 = 3;
/// C: scst.h `SCST_CMD_DEVICE_TAS`: the device has TAS set; only looked at when another
/// initiator aborted the command.
pub const SCST_CMD_DEVICE_TAS: u32 = 4;
/// C: scst.h `SCST_CMD_INC_EXPECTED_SN_PASSED` (`CONFIG_SCST_EXTRACHECKS` builds):
/// `scst_inc_expected_sn()` has run for the command.
pub const SCST_CMD_INC_EXPECTED_SN_PASSED: u32 = 10;

/// C: scst.h `SCST_TGT_DEV_UA_PENDING`: the `tgt_dev` has a unit attention queued.
pub const SCST_TGT_DEV_UA_PENDING: u32 = 0;
/// C: scst.h `SCST_TGT_DEV_BLACK_HOLE`: cached `acg->acg_black_hole_type` is set.
pub const SCST_TGT_DEV_BLACK_HOLE: u32 = 1;
/// C: scst.h `SCST_TGT_DEV_FORWARDING`: cached `tgt->tgt_forwarding`.
pub const SCST_TGT_DEV_FORWARDING: u32 = 5;

// ---------------------------------------------------------------------------------------------
// I/O grouping types (`acg->acg_io_grouping_type`; the strings are
// `scst_const::SCST_IO_GROUPING_*_STR`)
// ---------------------------------------------------------------------------------------------

/// C: scst.h `SCST_IO_GROUPING_AUTO`: initiators of the group with the same name share an I/O
/// context, one per name.
pub const SCST_IO_GROUPING_AUTO: i32 = 0;
/// C: scst.h `SCST_IO_GROUPING_THIS_GROUP_ONLY`: all initiators of the group share one I/O
/// context.
pub const SCST_IO_GROUPING_THIS_GROUP_ONLY: i32 = -1;
/// C: scst.h `SCST_IO_GROUPING_NEVER`: every initiator has its own I/O context.
pub const SCST_IO_GROUPING_NEVER: i32 = -2;

/// C: scst.h `SCST_PROC_ENTRY_NAME` (procfs builds): the name of SCST's directory in `/proc`,
/// hence `/proc/scsi_tgt`.
pub const SCST_PROC_ENTRY_NAME: &str = "scsi_tgt";

// ---------------------------------------------------------------------------------------------
// `valid_mask` bits of scst_analyze_sense()
// ---------------------------------------------------------------------------------------------

/// C: scst.h `SCST_SENSE_KEY_VALID`: compare the sense key.
pub const SCST_SENSE_KEY_VALID: i32 = 1;
/// C: scst.h `SCST_SENSE_ASC_VALID`: compare the ASC.
pub const SCST_SENSE_ASC_VALID: i32 = 2;
/// C: scst.h `SCST_SENSE_ASCQ_VALID`: compare the ASCQ.
pub const SCST_SENSE_ASCQ_VALID: i32 = 4;
/// C: scst.h `SCST_SENSE_ASCx_VALID`: compare ASC and ASCQ.
#[allow(non_upper_case_globals)]
pub const SCST_SENSE_ASCx_VALID: i32 = SCST_SENSE_ASC_VALID | SCST_SENSE_ASCQ_VALID;
/// C: scst.h `SCST_SENSE_ALL_VALID`: compare key, ASC and ASCQ.
pub const SCST_SENSE_ALL_VALID: i32 =
    SCST_SENSE_KEY_VALID | SCST_SENSE_ASC_VALID | SCST_SENSE_ASCQ_VALID;

// ---------------------------------------------------------------------------------------------
// T10-PI (DIF): where tags are handled — C `enum scst_dif_mode`, values OR'able
// ---------------------------------------------------------------------------------------------

/// C: scst.h `SCST_DIF_MODE_NONE`.
pub const SCST_DIF_MODE_NONE: i32 = 0;
/// C: scst.h `SCST_DIF_MODE_TGT`: the target hardware strips, inserts or checks.
pub const SCST_DIF_MODE_TGT: i32 = 1;
/// C: scst.h `SCST_DIF_MODE_SCST`: SCST checks or generates tags on the fly.
pub const SCST_DIF_MODE_SCST: i32 = 2;
/// C: scst.h `SCST_DIF_MODE_DEV_CHECK`: the backend device checks tags.
pub const SCST_DIF_MODE_DEV_CHECK: i32 = 4;
/// C: scst.h `SCST_DIF_MODE_DEV_STORE`: the backend device stores tags (generating them on
/// writes when needed).
pub const SCST_DIF_MODE_DEV_STORE: i32 = 8;
/// C: scst.h `SCST_DIF_MODE_DEV`: both device modes.
pub const SCST_DIF_MODE_DEV: i32 = SCST_DIF_MODE_DEV_CHECK | SCST_DIF_MODE_DEV_STORE;

/// C: scst.h `SCST_DIF_MODE_TGT_STR`: attribute spelling of [`SCST_DIF_MODE_TGT`].
pub const SCST_DIF_MODE_TGT_STR: &str = "tgt";
/// C: scst.h `SCST_DIF_MODE_SCST_STR`.
pub const SCST_DIF_MODE_SCST_STR: &str = "scst";
/// C: scst.h `SCST_DIF_MODE_DEV_CHECK_STR`.
pub const SCST_DIF_MODE_DEV_CHECK_STR: &str = "dev_check";
/// C: scst.h `SCST_DIF_MODE_DEV_STORE_STR`.
pub const SCST_DIF_MODE_DEV_STORE_STR: &str = "dev_store";

// ---------------------------------------------------------------------------------------------
// T10-PI actions — C `enum scst_dif_actions`: the checks in the low bits, the action above;
// one action field each for the target driver, SCST and the device handler
// ---------------------------------------------------------------------------------------------

/// C: scst.h `SCST_DIF_ACTION_NONE`.
pub const SCST_DIF_ACTION_NONE: i32 = 0;
/// C: scst.h `SCST_DIF_CHECKS_SHIFT`: where the check bits start.
pub const SCST_DIF_CHECKS_SHIFT: u32 = 0;
/// C: scst.h `SCST_DIF_CHECK_GUARD_TAG`: check the guard tag.
pub const SCST_DIF_CHECK_GUARD_TAG: i32 = 1;
/// C: scst.h `SCST_DIF_CHECK_APP_TAG`: check the application tag.
pub const SCST_DIF_CHECK_APP_TAG: i32 = 2;
/// C: scst.h `SCST_DIF_CHECK_REF_TAG`: check the reference tag.
pub const SCST_DIF_CHECK_REF_TAG: i32 = 4;
/// C: scst.h `SCST_DIF_CHECKS_MASK`: the three check bits.
pub const SCST_DIF_CHECKS_MASK: i32 =
    SCST_DIF_CHECK_GUARD_TAG | SCST_DIF_CHECK_APP_TAG | SCST_DIF_CHECK_REF_TAG;
/// C: scst.h `SCST_DIF_ACTION_SHIFT`: where the action field starts.
pub const SCST_DIF_ACTION_SHIFT: u32 = 4;
/// C: scst.h `SCST_DIF_ACTION_STRIP`: check, then strip the PI if it is good.
pub const SCST_DIF_ACTION_STRIP: i32 = 1 << SCST_DIF_ACTION_SHIFT;
/// C: scst.h `SCST_DIF_ACTION_INSERT`: insert PI.
pub const SCST_DIF_ACTION_INSERT: i32 = 2 << SCST_DIF_ACTION_SHIFT;
/// C: scst.h `SCST_DIF_ACTION_PASS_CHECK`: check, then pass the PI on if it is good.
pub const SCST_DIF_ACTION_PASS_CHECK: i32 = 3 << SCST_DIF_ACTION_SHIFT;
/// C: scst.h `SCST_DIF_ACTION_PASS`: pass the PI on unchecked.
pub const SCST_DIF_ACTION_PASS: i32 = 4 << SCST_DIF_ACTION_SHIFT;
/// C: scst.h `SCST_DIF_ACTION_MASK`: the OR of the four actions (0x70).
pub const SCST_DIF_ACTION_MASK: i32 = SCST_DIF_ACTION_STRIP
    | SCST_DIF_ACTION_INSERT
    | SCST_DIF_ACTION_PASS_CHECK
    | SCST_DIF_ACTION_PASS;

/// C: scst.h `SCST_DIF_TGT_ACTION_SHIFT`: position of the target driver's action.
pub const SCST_DIF_TGT_ACTION_SHIFT: u32 = 0;
/// C: scst.h `SCST_DIF_SCST_ACTION_SHIFT`: position of SCST's action.
pub const SCST_DIF_SCST_ACTION_SHIFT: u32 = SCST_DIF_TGT_ACTION_SHIFT + 4;
/// C: scst.h `SCST_DIF_DEV_ACTION_SHIFT`: position of the device handler's action.
pub const SCST_DIF_DEV_ACTION_SHIFT: u32 = SCST_DIF_SCST_ACTION_SHIFT + 4;

// ---------------------------------------------------------------------------------------------
// LUNs
// ---------------------------------------------------------------------------------------------

/// C: scst.h `NO_SUCH_LUN`: `(uint64_t)-1`, different from every valid LUN (SCST keeps LUNs in
/// 64 bits).
pub const NO_SUCH_LUN: u64 = u64::MAX;

// ---------------------------------------------------------------------------------------------
// Thread pool types — C `enum scst_dev_type_threads_pool_type` (strings:
// `scst_const::SCST_THREADS_POOL_*_STR`)
// ---------------------------------------------------------------------------------------------

/// C: scst.h `SCST_THREADS_POOL_PER_INITIATOR`: a thread pool per initiator.
pub const SCST_THREADS_POOL_PER_INITIATOR: i32 = 0;
/// C: scst.h `SCST_THREADS_POOL_SHARED`: one pool shared by all initiators.
pub const SCST_THREADS_POOL_SHARED: i32 = 1;
/// C: scst.h `SCST_THREADS_POOL_TYPE_INVALID`: what `scst_parse_threads_pool_type()` returns
/// for an unknown string.
pub const SCST_THREADS_POOL_TYPE_INVALID: i32 = 2;

// ---------------------------------------------------------------------------------------------
// Session LUN hash (`sess->sess_tgt_dev_list[]`)
// ---------------------------------------------------------------------------------------------

/// C: scst.h `SESS_TGT_DEV_LIST_HASH_SIZE`: buckets of a session's LUN → `tgt_dev` hash.
pub const SESS_TGT_DEV_LIST_HASH_SIZE: usize = 1 << 5;

/// C: scst.h `SESS_TGT_DEV_LIST_HASH_FN(val)`: the bucket of LUN `val`, its low five bits.
#[allow(non_snake_case)]
pub const fn SESS_TGT_DEV_LIST_HASH_FN(val: u64) -> usize {
    (val & (SESS_TGT_DEV_LIST_HASH_SIZE as u64 - 1)) as usize
}

// ---------------------------------------------------------------------------------------------
// ALUA, access groups, opcode descriptors
// ---------------------------------------------------------------------------------------------

/// C: scst.h `SCST_ALUA_CHECK_OK`: result of an ALUA state check, the command may go on.
pub const SCST_ALUA_CHECK_OK: i32 = 0;
/// C: scst.h `SCST_ALUA_CHECK_DELAYED`: the command was delayed (state transition).
pub const SCST_ALUA_CHECK_DELAYED: i32 = 1;
/// C: scst.h `SCST_ALUA_CHECK_ERROR`: the command was failed (sense set).
pub const SCST_ALUA_CHECK_ERROR: i32 = -1;

/// C: scst.h `SCST_ACG_BLACK_HOLE_NONE`: the access group serves commands normally.
pub const SCST_ACG_BLACK_HOLE_NONE: i32 = 0;
/// C: scst.h `SCST_ACG_BLACK_HOLE_CMD`: SCSI commands of the group are dropped silently.
pub const SCST_ACG_BLACK_HOLE_CMD: i32 = 1;
/// C: scst.h `SCST_ACG_BLACK_HOLE_ALL`: SCSI and management commands are dropped.
pub const SCST_ACG_BLACK_HOLE_ALL: i32 = 2;
/// C: scst.h `SCST_ACG_BLACK_HOLE_DATA_CMD`: only commands that transfer data are dropped.
pub const SCST_ACG_BLACK_HOLE_DATA_CMD: i32 = 3;
/// C: scst.h `SCST_ACG_BLACK_HOLE_DATA_MCMD`: data commands and management commands are
/// dropped.
pub const SCST_ACG_BLACK_HOLE_DATA_MCMD: i32 = 4;

/// C: scst.h `SCST_OD_DEFAULT_CONTROL_BYTE`: the CDB usage bits of the control byte that REPORT
/// SUPPORTED OPERATION CODES reports by default: NACA.
pub const SCST_OD_DEFAULT_CONTROL_BYTE: u8 = 4;

// ---------------------------------------------------------------------------------------------
// scst_copy_sg() directions — C `enum scst_sg_copy_dir`
// ---------------------------------------------------------------------------------------------

/// C: scst.h `SCST_SG_COPY_FROM_TARGET`: copy from the target driver's buffer.
pub const SCST_SG_COPY_FROM_TARGET: i32 = 0;
/// C: scst.h `SCST_SG_COPY_TO_TARGET`: copy to the target driver's buffer.
pub const SCST_SG_COPY_TO_TARGET: i32 = 1;

// ---------------------------------------------------------------------------------------------
// Activity suspension, sense field pointers, extended copy
// ---------------------------------------------------------------------------------------------

/// C: scst.h `SCST_SUSPEND_TIMEOUT_USER`: how long `scst_suspend_activity()` waits when a user
/// interface action suspends activity (90 s, in jiffies).
pub const SCST_SUSPEND_TIMEOUT_USER: u64 = 90 * HZ;
/// C: scst.h `SCST_SUSPEND_TIMEOUT_UNLIMITED`: `scst_suspend_activity()` without a timeout.
pub const SCST_SUSPEND_TIMEOUT_UNLIMITED: u64 = 0;

/// C: scst.h `SCST_INVAL_FIELD_BIT_OFFS_VALID`: OR'ed into the `bit_offs` argument of
/// `scst_set_invalid_field_in_cdb()` / `_in_parm_list()` when the bit offset is meaningful.
pub const SCST_INVAL_FIELD_BIT_OFFS_VALID: i32 = 0x8000;

/// C: scst.h `SCST_EXT_COPY_SEG_DATA`: an EXTENDED COPY segment that copies data (the only
/// implemented type).
pub const SCST_EXT_COPY_SEG_DATA: i32 = 0;

// Compile-time check: SCST_INTERFACE_VERSION is the concatenation its C definition names.
const _: () = {
    let v = SCST_INTERFACE_VERSION.as_bytes();
    let parts = [
        crate::scst_const::SCST_VERSION_STRING.as_bytes(),
        SCST_INTF_VER.as_bytes(),
        SCST_CONST_VERSION.as_bytes(),
    ];
    let mut pos = 0;
    let mut p = 0;
    while p < parts.len() {
        let part = parts[p];
        let mut i = 0;
        while i < part.len() {
            assert!(pos < v.len() && v[pos] == part[i]);
            pos += 1;
            i += 1;
        }
        p += 1;
    }
    assert!(pos == v.len());
};

// ---------------------------------------------------------------------------------------------
// Structures: target templates, targets, sessions, access groups, devices, dev handlers
// ---------------------------------------------------------------------------------------------
//
// Locking follows the C comments of scst.h: the lists C documents as "protected by
// scst_mutex" (`tgt_list` of a template, `sess_list` of a target, the lists of an ACG and of a
// device) are [`LockedBy`] the global `scst_mutex` of `scst_main`, so one global mutex guards
// them, as in C. Back-pointers (session → target, target → template) are `Arc`s; links from
// an LUN mapping or an initiator name back to its group are `Weak`, so that a group is freed
// without first emptying its lists (C frees them in `scst_free_acg()`).

/// C: `void *tgt_priv` of `scst_tgt`/`scst_session` and `acg_tgt_priv` of `scst_acg`: the
/// target driver's private data. C stores an untyped pointer; here any shareable value, which
/// the driver gets back with `downcast`.
pub type TgtPriv = Arc<dyn Any + Send + Sync>;

/// C: the `result_fn` of `scst_register_session()`: called with the session and the result of
/// its initialisation (0 or `-errno`). C's `result_fn_data` is whatever the closure captures.
pub type ScstInitResultFn = Box<dyn FnOnce(&Arc<ScstSession>, i32) + Send>;

/// C: the `unreg_done_fn` of `scst_unregister_session()`: called when the session is about to
/// be freed.
pub type ScstUnregDoneFn = Box<dyn FnOnce(&Arc<ScstSession>) + Send>;

/// C `struct scst_tgt_template`: a target driver. The data fields are public and set before
/// registration (C: a static initialiser); `tgt_list` is the core's.
#[doc(alias = "scst_tgt_template")]
pub struct ScstTgtTemplate {
    /// C `name`: the driver's unique name (`SCST_MAX_NAME` bytes at most).
    pub name: &'static str,
    /// C `sg_tablesize`: the maximum number of scatter-gather entries (0: unlimited).
    pub sg_tablesize: i32,
    /// C `threads_num`: the number of per-target-driver threads wanted (0: none).
    pub threads_num: i32,
    /// C `preferred_addr_method`: the LUN addressing method (`SCST_LUN_ADDR_METHOD_*`).
    pub preferred_addr_method: i32,
    /// C `max_hw_pending_time`: seconds a command may stay in the driver (0: no limit).
    pub max_hw_pending_time: i32,
    /// C `unchecked_isa_dma`.
    pub unchecked_isa_dma: bool,
    /// C `use_clustering`.
    pub use_clustering: bool,
    /// C `no_clustering`.
    pub no_clustering: bool,
    /// C `xmit_response_atomic`: `xmit_response()` may be called in atomic context.
    pub xmit_response_atomic: bool,
    /// C `rdy_to_xfer_atomic`: `rdy_to_xfer()` may be called in atomic context.
    pub rdy_to_xfer_atomic: bool,
    /// C `no_proc_entry`: no `/proc/scsi_tgt/<name>` directory for this driver.
    pub no_proc_entry: bool,
    /// C `enabled_attr_not_needed` (sysfs builds only; kept for the struct's shape).
    pub enabled_attr_not_needed: bool,
    /// C `multithreaded_init_done`.
    pub multithreaded_init_done: bool,
    /// C `dif_supported`: the driver supports T10-PI.
    pub dif_supported: bool,
    /// C `hw_dif_type1_supported`.
    pub hw_dif_type1_supported: bool,
    /// C `hw_dif_type2_supported`.
    pub hw_dif_type2_supported: bool,
    /// C `hw_dif_type3_supported`.
    pub hw_dif_type3_supported: bool,
    /// C `hw_dif_ip_supported`.
    pub hw_dif_ip_supported: bool,
    /// C `hw_dif_same_sg_layout_required`.
    pub hw_dif_same_sg_layout_required: bool,
    /// C `supported_dif_block_sizes`: the block sizes usable with DIF (None: all).
    pub supported_dif_block_sizes: Option<&'static [i32]>,
    /// C `default_trace_flags`.
    pub default_trace_flags: u32,
    /// The callbacks (C: the function pointers of the template).
    pub ops: Arc<dyn ScstTgtTemplateOps>,
    /// C `tgt_list`: the targets of this driver; protected by `scst_mutex`.
    pub tgt_list: LockedBy<List<Arc<ScstTgt>>>,
    /// C `scst_template_list_entry`: the place in `scst_template_list` (under `scst_mutex`).
    pub(crate) scst_template_list_entry: AtomicListHandle,
}

impl ScstTgtTemplate {
    /// A template named `name` with the given callbacks and every other field zero, as a C
    /// static initialiser that names only these two would give.
    pub fn new(name: &'static str, ops: Arc<dyn ScstTgtTemplateOps>) -> Self {
        Self {
            name,
            sg_tablesize: 0,
            threads_num: 0,
            preferred_addr_method: crate::scst_const::SCST_LUN_ADDR_METHOD_PERIPHERAL,
            max_hw_pending_time: 0,
            unchecked_isa_dma: false,
            use_clustering: false,
            no_clustering: false,
            xmit_response_atomic: false,
            rdy_to_xfer_atomic: false,
            no_proc_entry: false,
            enabled_attr_not_needed: false,
            multithreaded_init_done: false,
            dif_supported: false,
            hw_dif_type1_supported: false,
            hw_dif_type2_supported: false,
            hw_dif_type3_supported: false,
            hw_dif_ip_supported: false,
            hw_dif_same_sg_layout_required: false,
            supported_dif_block_sizes: None,
            default_trace_flags: 0,
            ops,
            tgt_list: LockedBy::new(&scst_mutex, List::new()),
            scst_template_list_entry: AtomicListHandle::new(),
        }
    }
}

impl fmt::Debug for ScstTgtTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScstTgtTemplate")
            .field("name", &self.name)
            .field("threads_num", &self.threads_num)
            .finish_non_exhaustive()
    }
}

/// C `struct scst_tgt`: one target of a target driver.
#[doc(alias = "scst_tgt")]
#[allow(non_snake_case)] // unreg_waitQ keeps its C name
pub struct ScstTgt {
    /// C `tgtt`: the target driver.
    pub tgtt: Arc<ScstTgtTemplate>,
    /// C `tgt_name`.
    pub tgt_name: String,
    /// C `default_group_name` (procfs builds): `Default_<tgt_name>`, the group a session
    /// of this target uses when no group names its initiator; None for an autogenerated name.
    pub default_group_name: Option<String>,
    /// C `rel_tgt_id`: the relative target port identifier (procfs builds assign it at
    /// allocation, `gen_relative_target_port_id()`).
    pub rel_tgt_id: u16,
    /// C `sg_tablesize`, copied from the template.
    pub sg_tablesize: i32,
    /// C `tgt_dif_supported`, copied from the template.
    pub tgt_dif_supported: bool,
    /// C `tgt_priv`. C keeps a plain pointer that only the driver reads and writes; a private
    /// lock makes the replaceable `Arc` shareable (no C lock exists for it).
    tgt_priv: RwLock<Option<TgtPriv>>,
    /// C `sess_list`: the sessions of this target; protected by `scst_mutex`.
    pub sess_list: LockedBy<List<Arc<ScstSession>>>,
    /// C `sysfs_sess_list`: the sessions with a name (also kept in procfs builds, where
    /// `scst_unregister_target()` waits for it to empty); protected by `scst_mutex`.
    pub sysfs_sess_list: LockedBy<List<Arc<ScstSession>>>,
    /// C `unreg_waitQ`: woken when a session of this target is freed.
    pub unreg_waitQ: WaitQueueHead,
    /// C `tgt_list_entry`: the place in the template's `tgt_list` (under `scst_mutex`).
    pub(crate) tgt_list_entry: AtomicListHandle,
    /// C `tgt_lock` with the QUEUE FULL retry state.
    pub tgt_lock: SpinLock<ScstTgtRetry>,
    /// C `retry_timer`: retries the commands of `retry_cmd_list` (set up on first use).
    pub(crate) retry_timer: OnceLock<kemu::timer::TimerList>,
}

/// What C's `tgt_lock` protects: the commands the target driver answered with QUEUE FULL.
#[derive(Debug, Default)]
pub struct ScstTgtRetry {
    /// C `retry_cmd_list`.
    pub retry_cmd_list: List<Arc<ScstCmd>>,
    /// C `retry_cmds`.
    pub retry_cmds: i32,
    /// C `retry_timer_active`.
    pub retry_timer_active: bool,
}

impl ScstTgt {
    /// C `scst_alloc_tgt()`'s initialisation of a target.
    pub(crate) fn new(
        tgtt: Arc<ScstTgtTemplate>,
        tgt_name: String,
        default_group_name: Option<String>,
        rel_tgt_id: u16,
    ) -> Self {
        Self {
            sg_tablesize: tgtt.sg_tablesize,
            tgt_dif_supported: tgtt.dif_supported,
            tgtt,
            tgt_name,
            default_group_name,
            rel_tgt_id,
            tgt_priv: RwLock::new(None),
            sess_list: LockedBy::new(&scst_mutex, List::new()),
            sysfs_sess_list: LockedBy::new(&scst_mutex, List::new()),
            unreg_waitQ: WaitQueueHead::new(),
            tgt_list_entry: AtomicListHandle::new(),
            tgt_lock: SpinLock::new(ScstTgtRetry::default()),
            retry_timer: OnceLock::new(),
        }
    }
}

impl fmt::Debug for ScstTgt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScstTgt")
            .field("tgt_name", &self.tgt_name)
            .field("tgtt", &self.tgtt.name)
            .field("rel_tgt_id", &self.rel_tgt_id)
            .finish_non_exhaustive()
    }
}

/// C scst.h `scst_tgt_set_tgt_priv()`: stores the target driver's data in the target.
pub fn scst_tgt_set_tgt_priv(tgt: &ScstTgt, val: Option<TgtPriv>) {
    *tgt.tgt_priv.write() = val;
}

/// C scst.h `scst_tgt_get_tgt_priv()`: the target driver's data of the target.
pub fn scst_tgt_get_tgt_priv(tgt: &ScstTgt) -> Option<TgtPriv> {
    tgt.tgt_priv.read().clone()
}

/// C `struct scst_session`: an I_T nexus, the initiator's login to a target.
#[doc(alias = "scst_session")]
pub struct ScstSession {
    /// C `tgt`: the target.
    pub tgt: Arc<ScstTgt>,
    /// C `initiator_name`: the key of the access-group lookup.
    pub initiator_name: String,
    /// C `sess_name`: the initiator name made unique among the target's sessions (`_1`, `_2`
    /// … appended); set by `scst_init_session()`; protected by `scst_mutex`.
    pub sess_name: LockedBy<Option<String>>,
    /// C `acg`: the access group the session uses; set by `scst_init_session()`; protected
    /// by `scst_mutex`.
    pub acg: LockedBy<Option<Arc<ScstAcg>>>,
    /// C `tgt_priv` (see [`ScstTgt`] for why a private lock).
    tgt_priv: RwLock<Option<TgtPriv>>,
    /// C `refcnt`: the count whose last put queues the session for freeing
    /// (`scst_sess_get()`/`scst_sess_put()`).
    pub refcnt: AtomicT,
    /// C `init_phase`: `SCST_SESS_IPH_*`.
    pub init_phase: AtomicT,
    /// C `shut_phase`: `SCST_SESS_SPH_*`.
    pub shut_phase: AtomicT,
    /// C `init_result_fn`: only for an atomic registration; taken under `scst_mgmt_lock`.
    pub(crate) init_result_fn: LockedBy<Option<ScstInitResultFn>>,
    /// C `unreg_done_fn`; taken under `scst_mgmt_lock`.
    pub(crate) unreg_done_fn: LockedBy<Option<ScstUnregDoneFn>>,
    /// C `shutdown_compl`: what a waiting `scst_unregister_session()` sleeps on; protected by
    /// `scst_mgmt_lock`.
    pub(crate) shutdown_compl: LockedBy<Option<Arc<Completion>>>,
    /// C `sess_list_entry` (in `tgt->sess_list`, under `scst_mutex`).
    pub(crate) sess_list_entry: AtomicListHandle,
    /// C `acg_sess_list_entry` (in `acg->acg_sess_list`, under `scst_mutex`).
    pub(crate) acg_sess_list_entry: AtomicListHandle,
    /// C `sysfs_sess_list_entry` (in `tgt->sysfs_sess_list`, under `scst_mutex`).
    pub(crate) sysfs_sess_list_entry: AtomicListHandle,
    /// C `sess_tgt_dev_list[SESS_TGT_DEV_LIST_HASH_SIZE]`: LUN → `tgt_dev`. C changes it
    /// under `scst_mutex` with activity suspended and lets commands read it without a lock;
    /// here a private read-write lock stands for that rule.
    pub sess_tgt_dev_list: RwLock<Vec<List<Arc<ScstTgtDev>>>>,
    /// C `sess_list_lock` with `sess_cmd_list` and `init_deferred_cmd_list`.
    pub sess_list_lock: SpinLock<ScstSessLists>,
    /// C `sess_cmd_count`: commands of the session in flight.
    pub sess_cmd_count: AtomicT,
    /// C `transport_id`: the TransportID of the initiator port (persistent reservations), from
    /// the driver's `get_initiator_port_transport_id()` in `scst_init_session()`; None if the
    /// driver does not support PR. Set once before the session has nexuses (C: no lock).
    pub transport_id: RwLock<Option<Vec<u8>>>,
}

/// What C's `sess_list_lock` of a session protects.
#[derive(Debug, Default)]
pub struct ScstSessLists {
    /// C `sess_cmd_list`: every command of the session from `scst_cmd_init_done()` to
    /// `scst_finish_cmd()`.
    pub sess_cmd_list: List<Arc<ScstCmd>>,
    /// C `init_deferred_cmd_list`: commands that arrived while the session was initialising.
    pub init_deferred_cmd_list: List<Arc<ScstCmd>>,
    /// C `init_deferred_mcmd_list`: management commands that arrived meanwhile.
    pub init_deferred_mcmd_list: List<Arc<ScstMgmtCmd>>,
}

impl ScstSession {
    /// C `scst_alloc_session()`'s initialisation: phases `INITING` and `READY`, count 0.
    pub(crate) fn new(tgt: Arc<ScstTgt>, initiator_name: &str) -> Self {
        Self {
            tgt,
            initiator_name: initiator_name.to_owned(),
            sess_name: LockedBy::new(&scst_mutex, None),
            acg: LockedBy::new(&scst_mutex, None),
            tgt_priv: RwLock::new(None),
            refcnt: AtomicT::new(0),
            init_phase: AtomicT::new(SCST_SESS_IPH_INITING),
            shut_phase: AtomicT::new(SCST_SESS_SPH_READY),
            init_result_fn: LockedBy::new_spinlock(&scst_mgmt_lock, None),
            unreg_done_fn: LockedBy::new_spinlock(&scst_mgmt_lock, None),
            shutdown_compl: LockedBy::new_spinlock(&scst_mgmt_lock, None),
            sess_list_entry: AtomicListHandle::new(),
            acg_sess_list_entry: AtomicListHandle::new(),
            sysfs_sess_list_entry: AtomicListHandle::new(),
            sess_tgt_dev_list: RwLock::new(
                (0..SESS_TGT_DEV_LIST_HASH_SIZE)
                    .map(|_| List::new())
                    .collect(),
            ),
            sess_list_lock: SpinLock::new(ScstSessLists::default()),
            sess_cmd_count: AtomicT::new(0),
            transport_id: RwLock::new(None),
        }
    }
}

impl fmt::Debug for ScstSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScstSession")
            .field("initiator_name", &self.initiator_name)
            .field("tgt", &self.tgt.tgt_name)
            .field("refcnt", &kemu::atomic::atomic_read(&self.refcnt))
            .finish_non_exhaustive()
    }
}

/// C scst.h `scst_sess_set_tgt_priv()`.
pub fn scst_sess_set_tgt_priv(sess: &ScstSession, val: Option<TgtPriv>) {
    *sess.tgt_priv.write() = val;
}

/// C scst.h `scst_sess_get_tgt_priv()`.
pub fn scst_sess_get_tgt_priv(sess: &ScstSession) -> Option<TgtPriv> {
    sess.tgt_priv.read().clone()
}

/// C `cpumask_t` as `acg_cpu_mask` uses it: one flag per CPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuMask(pub Vec<bool>);

impl CpuMask {
    /// C `cpumask_setall()` over the online CPUs ([`kemu::kthread::num_online_cpus`]).
    pub fn setall() -> Self {
        Self(vec![true; kemu::kthread::num_online_cpus()])
    }

    /// C `cpumask_test_cpu()`.
    pub fn test_cpu(&self, cpu: usize) -> bool {
        self.0.get(cpu).copied().unwrap_or(false)
    }
}

/// C `struct scst_acg`: an access control group (procfs: `/proc/scsi_tgt/groups/<name>`).
#[doc(alias = "scst_acg")]
pub struct ScstAcg {
    /// C `acg_name`.
    pub acg_name: String,
    /// C `acg_dev_list`: the LUNs of the group; protected by `scst_mutex`.
    pub acg_dev_list: LockedBy<List<Arc<ScstAcgDev>>>,
    /// C `acg_sess_list`: the sessions using the group; protected by `scst_mutex`.
    pub acg_sess_list: LockedBy<List<Arc<ScstSession>>>,
    /// C `acn_list`: the initiator-name patterns of the group; protected by `scst_mutex`.
    pub acn_list: LockedBy<List<Arc<ScstAcn>>>,
    /// C `addr_method`: the LUN addressing method of the group.
    pub addr_method: i32,
    /// C `acg_io_grouping_type` (`SCST_IO_GROUPING_*` or a group number).
    pub acg_io_grouping_type: AtomicT,
    /// C `acg_black_hole_type` (`SCST_ACG_BLACK_HOLE_*`).
    pub acg_black_hole_type: AtomicT,
    /// C `acg_cpu_mask`: the CPUs the group's command threads may use; protected by
    /// `scst_mutex`.
    pub acg_cpu_mask: LockedBy<CpuMask>,
    /// C `acg_tgt_priv` (see [`ScstTgt`] for why a private lock).
    acg_tgt_priv: RwLock<Option<TgtPriv>>,
    /// C `acg_kref`: `scst_get_acg()`/`scst_put_acg()`; the last put is `scst_release_acg()`.
    pub(crate) acg_kref: Kref,
    /// C `acg_list_entry` (in `scst_acg_list`, under `scst_mutex`).
    pub(crate) acg_list_entry: AtomicListHandle,
}

impl ScstAcg {
    /// C `scst_alloc_add_acg()`'s initialisation of a group.
    pub(crate) fn new(acg_name: &str, addr_method: i32) -> Self {
        Self {
            acg_name: acg_name.to_owned(),
            acg_dev_list: LockedBy::new(&scst_mutex, List::new()),
            acg_sess_list: LockedBy::new(&scst_mutex, List::new()),
            acn_list: LockedBy::new(&scst_mutex, List::new()),
            addr_method,
            acg_io_grouping_type: AtomicT::new(SCST_IO_GROUPING_AUTO),
            acg_black_hole_type: AtomicT::new(0),
            acg_cpu_mask: LockedBy::new(&scst_mutex, CpuMask::setall()),
            acg_tgt_priv: RwLock::new(None),
            acg_kref: Kref::new(),
            acg_list_entry: AtomicListHandle::new(),
        }
    }
}

impl fmt::Debug for ScstAcg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScstAcg")
            .field("acg_name", &self.acg_name)
            .finish_non_exhaustive()
    }
}

/// C scst.h `scst_get_acg_tgt_priv()`.
pub fn scst_get_acg_tgt_priv(acg: &ScstAcg) -> Option<TgtPriv> {
    acg.acg_tgt_priv.read().clone()
}

/// C scst.h `scst_set_acg_tgt_priv()`.
pub fn scst_set_acg_tgt_priv(acg: &ScstAcg, val: Option<TgtPriv>) {
    *acg.acg_tgt_priv.write() = val;
}

/// C `struct scst_acg_dev`: one LUN of an access group.
#[doc(alias = "scst_acg_dev")]
#[derive(Debug)]
pub struct ScstAcgDev {
    /// C `dev`: the device behind the LUN.
    pub dev: Arc<ScstDevice>,
    /// C `lun`.
    pub lun: u64,
    /// C `acg_dev_rd_only`: the LUN is read-only for this group.
    pub acg_dev_rd_only: bool,
    /// C `acg`: the group (weak: the group owns its LUNs).
    pub acg: Weak<ScstAcg>,
    /// C `acg_dev_list_entry` (in `acg->acg_dev_list`, under `scst_mutex`).
    pub(crate) acg_dev_list_entry: AtomicListHandle,
    /// C `dev_acg_dev_list_entry` (in `dev->dev_acg_dev_list`, under `scst_mutex`).
    pub(crate) dev_acg_dev_list_entry: AtomicListHandle,
}

/// C `struct scst_acn`: an initiator-name pattern of an access group.
#[doc(alias = "scst_acn")]
#[derive(Debug)]
pub struct ScstAcn {
    /// C `acg`: the group (weak: the group owns its names).
    pub acg: Weak<ScstAcg>,
    /// C `name`: a `wildcmp()` pattern (`*`, `?`, one leading `!`).
    pub name: String,
    /// C `acn_list_entry` (in `acg->acn_list`, under `scst_mutex`).
    pub(crate) acn_list_entry: AtomicListHandle,
}

// ---------------------------------------------------------------------------------------------
// Callbacks of target drivers and device handlers
// ---------------------------------------------------------------------------------------------

/// C: the callbacks of `struct scst_tgt_template`. C's NULL pointers are default methods here.
/// Where the core behaves differently for a NULL pointer (`rdy_to_xfer`, `pre_exec`,
/// `tgt_alloc_data_buf`), the default returns `None`, meaning "the driver has no such
/// callback".
pub trait ScstTgtTemplateOps: Send + Sync {
    /// C `release()`: the target is being unregistered; the driver closes its sessions
    /// (`scst_unregister_session()`) and frees its per-target data. Mandatory in C
    /// (`__scst_register_target_template()` refuses a template without it), so no default.
    /// The return value is ignored by the core, as in C.
    fn release(&self, tgt: &Arc<ScstTgt>) -> i32;

    /// C `xmit_response()`: send the response (data, status, sense) of `cmd`; when it is out,
    /// the driver calls `scst_tgt_cmd_done()`. Returns `SCST_TGT_RES_*`. Mandatory in C; the
    /// default exists only so that drivers written before the command path still compile and
    /// answers [`SCST_TGT_RES_FATAL_ERROR`] (the command is then finished without a
    /// response). A real driver must implement it.
    fn xmit_response(&self, _cmd: &Arc<ScstCmd>) -> i32 {
        SCST_TGT_RES_FATAL_ERROR
    }

    /// Whether the driver has `rdy_to_xfer()` (C: the pointer is not NULL). The core must know
    /// before it moves the command to DATA_WAIT and calls it, since the driver may continue
    /// the command from another thread at once; a driver implementing
    /// [`rdy_to_xfer`](Self::rdy_to_xfer) returns true here.
    fn has_rdy_to_xfer(&self) -> bool {
        false
    }

    /// C `rdy_to_xfer()`: ask the initiator for the write data of `cmd`; the driver calls
    /// `scst_rx_data()` once it has arrived; returns `SCST_TGT_RES_*`. Called only if
    /// [`has_rdy_to_xfer`](Self::has_rdy_to_xfer); without it (C's NULL, the default) the core
    /// goes straight to `TGT_PRE_EXEC` (iSCSI collects its data itself before restarting the
    /// command). `None` is treated as C's NULL too.
    fn rdy_to_xfer(&self, _cmd: &Arc<ScstCmd>) -> Option<i32> {
        None
    }

    /// C `preprocessing_done()`: called when a command the driver marked with
    /// `scst_cmd_set_preprocessing_only()` is parsed and has its buffer; the driver continues
    /// it with `scst_restart_cmd()`. C has no default (the driver must have it if it sets the
    /// flag); this one does nothing.
    fn preprocessing_done(&self, _cmd: &Arc<ScstCmd>) {}

    /// C `pre_exec()`: last call before execution; returns `SCST_PREPROCESS_STATUS_*`. `None`
    /// is C's NULL.
    fn pre_exec(&self, _cmd: &Arc<ScstCmd>) -> Option<i32> {
        None
    }

    /// C `on_free_cmd()`: the command is about to be freed.
    fn on_free_cmd(&self, _cmd: &Arc<ScstCmd>) {}

    /// C `on_abort_cmd()`: the command is being aborted.
    fn on_abort_cmd(&self, _cmd: &Arc<ScstCmd>) {}

    /// C `tgt_alloc_data_buf()`: the driver allocates the data buffer itself (only for
    /// commands with `scst_cmd_set_tgt_need_alloc_data_buf()`): 0 done, > 0 let the core
    /// allocate, < 0 error. `None` is C's NULL.
    fn tgt_alloc_data_buf(&self, _cmd: &Arc<ScstCmd>) -> Option<i32> {
        None
    }

    /// C `task_mgmt_fn_done()`: a task management function finished.
    fn task_mgmt_fn_done(&self, _mcmd: &Arc<ScstMgmtCmd>) {}

    /// C `task_mgmt_affected_cmds_done()`: the commands affected by a task management
    /// function are done.
    fn task_mgmt_affected_cmds_done(&self, _mcmd: &Arc<ScstMgmtCmd>) {}

    /// C `report_aen()`: deliver an asynchronous event; `SCST_AEN_RES_*`. The default is C's
    /// NULL: not supported.
    fn report_aen(&self, _aen: &ScstAen) -> i32 {
        SCST_AEN_RES_NOT_SUPPORTED
    }

    /// C `get_initiator_port_transport_id()`: the TransportID of the session's initiator
    /// port (persistent reservations). `None` is C's NULL (the driver does not support PR).
    /// Without a session (C: `scst_sess == NULL`, which returns the protocol id) the answer
    /// holds the driver's protocol id in byte 0 (`SCSI_TRANSPORTID_PROTOCOLID_*`).
    fn get_initiator_port_transport_id(
        &self,
        _tgt: &Arc<ScstTgt>,
        _sess: Option<&Arc<ScstSession>>,
    ) -> Option<Result<Vec<u8>, Errno>> {
        None
    }
}

/// C `struct scst_aen`: an asynchronous event for `report_aen()`. Only the data the port has
/// so far.
#[doc(alias = "scst_aen")]
#[derive(Debug)]
pub struct ScstAen {
    /// C `event_fn`: `SCST_AEN_*`.
    pub event_fn: i32,
    /// C `lun`.
    pub lun: u64,
    /// C `aen_sense` with its valid length.
    pub aen_sense: Vec<u8>,
}

/// C `struct scst_opcode_descriptor`: one command a device handler supports, as REPORT
/// SUPPORTED OPERATION CODES reports it. C ends the struct with a flexible array of
/// `od_cdb_size` usage bytes; here it is a slice of that length.
#[doc(alias = "scst_opcode_descriptor")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScstOpcodeDescriptor {
    /// C `od_serv_action`.
    pub od_serv_action: u16,
    /// C `od_opcode`.
    pub od_opcode: u8,
    /// C `od_serv_action_valid`.
    pub od_serv_action_valid: bool,
    /// C `od_support`: the SUPPORT field of the one-command format (3: as in the standard).
    pub od_support: u8,
    /// C `od_cdb_size`.
    pub od_cdb_size: u16,
    /// C `od_comm_specific_timeout`.
    pub od_comm_specific_timeout: u8,
    /// C `od_nominal_timeout`, seconds.
    pub od_nominal_timeout: u32,
    /// C `od_recommended_timeout`, seconds.
    pub od_recommended_timeout: u32,
    /// C `od_cdb_usage_bits[]`: the CDB USAGE DATA, `od_cdb_size` bytes.
    pub od_cdb_usage_bits: &'static [u8],
}

/// C: the type of `struct scst_dev_type`'s `get_supported_opcodes()`: the descriptors of the
/// commands the handler supports for the command's device (C: `*out_supp_opcodes`,
/// `*out_supp_opcodes_cnt`), or a negative errno. The port's lists are static, so C's
/// `put_supported_opcodes()` (NULL in vdisk) has no twin.
pub type ScstGetSupportedOpcodesFn =
    fn(cmd: &Arc<ScstCmd>) -> Result<&'static [&'static ScstOpcodeDescriptor], i32>;

/// C: the callbacks of `struct scst_dev_type`. C's NULL pointers are default methods that do
/// what the core does when the pointer is NULL.
pub trait ScstDevTypeOps: Send + Sync {
    /// C `attach()`: a device is being given to this handler; non-zero refuses it.
    fn attach(&self, _dev: &Arc<ScstDevice>) -> i32 {
        0
    }
    /// C `detach()`: the device is leaving this handler.
    fn detach(&self, _dev: &Arc<ScstDevice>) {}
    /// C `attach_tgt()`: a session got access to the device; non-zero refuses it.
    fn attach_tgt(&self, _tgt_dev: &Arc<ScstTgtDev>) -> i32 {
        0
    }
    /// C `detach_tgt()`: a session lost access to the device.
    fn detach_tgt(&self, _tgt_dev: &Arc<ScstTgtDev>) {}

    /// C `parse()`: checks the CDB and sets data direction and buffer length (the core has
    /// already filled them from its CDB table); returns the next state,
    /// [`SCST_CMD_STATE_DEFAULT`], [`SCST_CMD_STATE_NEED_THREAD_CTX`] or
    /// [`SCST_CMD_STATE_STOP`]. Mandatory in C for real handlers; the default keeps the table's
    /// values (what `scst_sbc_generic_parse()` without block size scaling would do).
    fn parse(&self, _cmd: &Arc<ScstCmd>) -> CmdState {
        SCST_CMD_STATE_DEFAULT
    }

    /// C `dev_alloc_data_buf()`: the handler supplies the data buffer; returns a state or
    /// [`SCST_CMD_STATE_DEFAULT`]. `None` is C's NULL.
    fn dev_alloc_data_buf(&self, _cmd: &Arc<ScstCmd>) -> Option<CmdState> {
        None
    }

    /// C `exec()`: executes the command: `SCST_EXEC_COMPLETED` (the handler called or will
    /// call `cmd->scst_cmd_done()`, i.e. [`scst_cmd_done`](crate::scst_targ::scst_cmd_done))
    /// or `SCST_EXEC_NOT_COMPLETED`. `None` is C's NULL: a virtual device without `exec()`
    /// gets HARDWARE ERROR, as in C.
    fn exec(&self, _cmd: &Arc<ScstCmd>) -> Option<i32> {
        None
    }

    /// C `dev_done()`: post-processing after execution; returns the next state or
    /// [`SCST_CMD_STATE_DEFAULT`]. `None` is C's NULL.
    fn dev_done(&self, _cmd: &Arc<ScstCmd>) -> Option<CmdState> {
        None
    }

    /// C `on_free_cmd()`: the command is about to be freed.
    fn on_free_cmd(&self, _cmd: &Arc<ScstCmd>) {}

    /// C `task_mgmt_fn_received()`: a task management function for the device arrived.
    fn task_mgmt_fn_received(&self, _mcmd: &Arc<ScstMgmtCmd>, _tgt_dev: &Arc<ScstTgtDev>) {}

    /// C `task_mgmt_fn_done()`: a task management function for the device finished.
    fn task_mgmt_fn_done(&self, _mcmd: &Arc<ScstMgmtCmd>, _tgt_dev: &Arc<ScstTgtDev>) {}

    /// C `get_supported_opcodes`: the pointer itself, `None` being C's NULL (the core tests
    /// it when it decodes MAINTENANCE IN: with NULL, REPORT SUPPORTED OPERATION CODES goes
    /// to the handler's `exec()`).
    fn get_supported_opcodes(&self) -> Option<ScstGetSupportedOpcodesFn> {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Commands: `struct scst_order_data`, `struct scst_tgt_dev`, `struct scst_cmd`
// ---------------------------------------------------------------------------------------------

/// C: `ARRAY_SIZE(order_data->sn_slots)`.
pub const SCST_SN_SLOTS: usize = 15;

/// What C's `sn_lock` of a `scst_order_data` protects.
#[derive(Debug, Default)]
pub struct ScstSnLocked {
    /// C `deferred_cmd_list`: commands waiting for their SN.
    pub deferred_cmd_list: List<Arc<ScstCmd>>,
    /// C `skipped_sn_list`: finished commands whose SN must still be "consumed".
    pub skipped_sn_list: List<Arc<ScstCmd>>,
    /// C `hq_cmd_count`: HEAD OF QUEUE commands in flight.
    pub hq_cmd_count: i32,
    /// C `pending_simple_inc_expected_sn`.
    pub pending_simple_inc_expected_sn: i32,
    /// C `aca_cmd`: the one ACA-attribute command of the faulted nexus that is allowed to run
    /// while ACA is active.
    pub aca_cmd: Option<Arc<ScstCmd>>,
}

/// The identity C keeps of a `tgt_dev` in `aca_tgt_dev` (its address; never 0).
pub fn scst_tgt_dev_id(tgt_dev: &Arc<ScstTgtDev>) -> usize {
    Arc::as_ptr(tgt_dev) as usize
}

/// C `struct scst_order_data`: the SN (command order) state of a task set.
///
/// The fields C reads without `sn_lock` on its fast paths (`expected_sn`, `def_cmd_count`)
/// and those only `scst_cmd_set_sn()` changes (serialised by the target driver, as C
/// requires: `curr_sn`, `prev_cmd_ordered`, `cur_sn_slot`) are atomics.
#[doc(alias = "scst_order_data")]
#[derive(Debug)]
pub struct ScstOrderData {
    /// C `sn_lock` with the lists and counters it protects.
    pub sn_lock: SpinLock<ScstSnLocked>,
    /// C `expected_sn`: written under `sn_lock`, read lockless.
    pub expected_sn: std::sync::atomic::AtomicU32,
    /// C `curr_sn`.
    pub curr_sn: std::sync::atomic::AtomicU32,
    /// C `aca_tgt_dev`: the nexus (its `tgt_dev`, as [`scst_tgt_dev_id`]) on which ACA is
    /// established (0: none). Written under `sn_lock`; C's fast paths read it lockless.
    pub aca_tgt_dev: std::sync::atomic::AtomicUsize,
    /// C `def_cmd_count`: written under `sn_lock`, read lockless.
    pub def_cmd_count: AtomicT,
    /// C `prev_cmd_ordered`.
    pub prev_cmd_ordered: AtomicBool,
    /// C `cur_sn_slot`, as an index into `sn_slots`.
    pub cur_sn_slot: std::sync::atomic::AtomicUsize,
    /// C `sn_slots`.
    pub sn_slots: [AtomicT; SCST_SN_SLOTS],
    /// C `init_done_lock`: serialises `scst_cmd_set_sn()` for `multithreaded_init_done`
    /// targets.
    pub init_done_lock: SpinLock<()>,
}

impl ScstOrderData {
    /// C `scst_init_order_data()`: SNs start 20 below the wrap so that the wrap is exercised
    /// early.
    pub fn new() -> Self {
        let start = 0u32.wrapping_sub(20);
        Self {
            sn_lock: SpinLock::new(ScstSnLocked::default()),
            expected_sn: std::sync::atomic::AtomicU32::new(start),
            curr_sn: std::sync::atomic::AtomicU32::new(start),
            aca_tgt_dev: std::sync::atomic::AtomicUsize::new(0),
            def_cmd_count: AtomicT::new(0),
            prev_cmd_ordered: AtomicBool::new(false),
            cur_sn_slot: std::sync::atomic::AtomicUsize::new(0),
            sn_slots: std::array::from_fn(|_| AtomicT::new(0)),
            init_done_lock: SpinLock::new(()),
        }
    }
}

impl Default for ScstOrderData {
    fn default() -> Self {
        Self::new()
    }
}

/// C `struct scst_tgt_dev_UA`: one unit attention queued for a nexus.
#[doc(alias = "scst_tgt_dev_UA")]
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(non_snake_case)] // the fields keep their C names
pub struct ScstTgtDevUA {
    /// C `global_UA`: queued to every nexus of the session (REPORTED LUNS DATA HAS
    /// CHANGED); delivering it on one nexus frees the copies on the others.
    pub global_UA: bool,
    /// C `UA_valid_sense_len`.
    pub UA_valid_sense_len: usize,
    /// C `UA_sense_buffer`.
    pub UA_sense_buffer: [u8; crate::scst_const::SCST_SENSE_BUFFERSIZE],
}

/// What C's `tgt_dev_lock` protects.
#[derive(Debug)]
#[allow(non_snake_case)] // UA_list keeps its C name
pub struct ScstTgtDevLocked {
    /// C `tgt_dev_sense`: the sense saved for REQUEST SENSE.
    pub tgt_dev_sense: [u8; crate::scst_const::SCST_SENSE_BUFFERSIZE],
    /// C `tgt_dev_valid_sense_len`.
    pub tgt_dev_valid_sense_len: usize,
    /// C `UA_list`: the unit attentions queued for the nexus, delivered first to last.
    /// `SCST_TGT_DEV_UA_PENDING` in `tgt_dev_flags` is set while it is not empty.
    pub UA_list: List<ScstTgtDevUA>,
}

/// What C's `dev_lock` of a device protects, as far as the port needs it: the device's
/// nexuses for the readers on the command and task management paths (unit attentions,
/// resets). C lets those readers walk `dev_tgt_dev_list` under `dev_lock`; the port's
/// `dev_tgt_dev_list` belongs to `scst_mutex`, which a command thread must not take (a
/// LUN removal holds it while it stops the nexus's threads), so the list is mirrored here,
/// changed together with it.
#[derive(Debug, Default)]
pub struct ScstDevLocked {
    /// C `dev_tgt_dev_list` (read side).
    pub dev_tgt_dev_list: Vec<Arc<ScstTgtDev>>,
}

/// C `struct scst_tgt_dev`: one LUN as one session sees it (session × device).
#[doc(alias = "scst_tgt_dev")]
pub struct ScstTgtDev {
    /// C `lun`.
    pub lun: u64,
    /// C `sess`: the session (child → parent).
    pub sess: Arc<ScstSession>,
    /// C `dev`.
    pub dev: Arc<ScstDevice>,
    /// C `acg_dev`: the LUN mapping it was made from.
    pub acg_dev: Arc<ScstAcgDev>,
    /// C `tgt_dev_rd_only`: the LUN or the device is read-only.
    pub tgt_dev_rd_only: bool,
    /// C `tgt_dev_flags` (`SCST_TGT_DEV_*` bits).
    pub tgt_dev_flags: BitWord,
    /// C `tgt_dev_cmd_count`: commands of this nexus in flight.
    pub tgt_dev_cmd_count: AtomicT,
    /// C `active_cmd_threads`: the pool its commands run on (the global pool, the device's
    /// shared pool, or `tgt_dev_cmd_threads`).
    pub active_cmd_threads: Arc<ScstCmdThreads>,
    /// C `tgt_dev_cmd_threads`: the per-initiator pool (`SCST_THREADS_POOL_PER_INITIATOR`).
    pub tgt_dev_cmd_threads: Arc<ScstCmdThreads>,
    /// C `thread_index`: the number of this nexus among the device's (-1: no own threads).
    pub thread_index: AtomicT,
    /// C `tgt_dev_order_data`: the SN state of this nexus.
    pub tgt_dev_order_data: Arc<ScstOrderData>,
    /// C `curr_order_data`: `tgt_dev_order_data`, or the device's with a single task set.
    pub curr_order_data: Arc<ScstOrderData>,
    /// C `tgt_dev_after_init_wr_atomic`.
    pub tgt_dev_after_init_wr_atomic: bool,
    /// C `tgt_dev_after_exec_atomic`.
    pub tgt_dev_after_exec_atomic: bool,
    /// C `tgt_dev_lock` with the saved sense.
    pub tgt_dev_lock: SpinLock<ScstTgtDevLocked>,
    /// C `dh_priv`: the device handler's data.
    pub dh_priv: RwLock<Option<Arc<dyn Any + Send + Sync>>>,
    /// C `pools[]`: the SGV pool the nexus's buffers come from (one, not one per CPU: see
    /// `scst_mem`; None when SCST's pools do not exist, then buffers are not cached).
    pub pools: Option<Arc<crate::scst_mem::SgvPool>>,
    /// C `tgt_dev_gfp_mask`.
    pub tgt_dev_gfp_mask: kemu::mm::Gfp,
    /// C `tgt_dev_clust_pool`: the pool is the clustered one.
    pub tgt_dev_clust_pool: bool,
    /// C `sess_tgt_dev_list_entry` (in the session's hash).
    pub(crate) sess_tgt_dev_list_entry: AtomicListHandle,
    /// C `dev_tgt_dev_list_entry` (in `dev->dev_tgt_dev_list`, under `scst_mutex`).
    pub(crate) dev_tgt_dev_list_entry: AtomicListHandle,
    /// C `registrant`: the PR registration of this I_T nexus, as its
    /// [`ScstDevRegistrant::reg_id`] (0 is C's NULL). Written only under the device's
    /// `dev_pr_mutex`.
    pub registrant: std::sync::atomic::AtomicU64,
}

impl fmt::Debug for ScstTgtDev {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScstTgtDev")
            .field("lun", &self.lun)
            .field("dev", &self.dev.virt_name)
            .field("sess", &self.sess.initiator_name)
            .finish_non_exhaustive()
    }
}

/// C `struct scst_rx_mgmt_params`: what a target driver passes to `scst_rx_mgmt_fn()`.
#[doc(alias = "scst_rx_mgmt_params")]
#[derive(Clone)]
pub struct ScstRxMgmtParams {
    /// C `fn`: the function (`SCST_ABORT_TASK` …).
    pub fn_: crate::scst_const::TmFn,
    /// C `tag`: for ABORT TASK, the tag of the command to abort.
    pub tag: u64,
    /// C `lun` with `lun_len`: the SAM LUN field.
    pub lun: Vec<u8>,
    /// C `cmd_sn`: the highest transport SN of the affected commands.
    pub cmd_sn: u32,
    /// C `atomic`.
    pub atomic: bool,
    /// C `tgt_priv`: the driver's data, handed back in `task_mgmt_fn_done()`.
    pub tgt_priv: Option<TgtPriv>,
    /// C `tag_set`.
    pub tag_set: bool,
    /// C `lun_set`.
    pub lun_set: bool,
    /// C `cmd_sn_set`.
    pub cmd_sn_set: bool,
}

impl Default for ScstRxMgmtParams {
    /// C `scst_rx_mgmt_params_init()`: everything zero (`fn` 0 is ABORT TASK).
    fn default() -> Self {
        Self {
            fn_: crate::scst_const::SCST_ABORT_TASK,
            tag: 0,
            lun: Vec::new(),
            cmd_sn: 0,
            atomic: false,
            tgt_priv: None,
            tag_set: false,
            lun_set: false,
            cmd_sn_set: false,
        }
    }
}

impl fmt::Debug for ScstRxMgmtParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScstRxMgmtParams")
            .field("fn_", &self.fn_)
            .field("tag", &self.tag)
            .field("lun", &self.lun)
            .field("cmd_sn", &self.cmd_sn)
            .finish_non_exhaustive()
    }
}

/// The fields of `struct scst_mgmt_cmd` that C protects with `scst_mcmd_lock`: the state
/// (changed there by the commands that finish) and the counters of affected commands.
#[derive(Debug)]
pub struct ScstMgmtCmdCounts {
    /// C `state`: `SCST_MCMD_STATE_*`.
    pub state: McmdState,
    /// C `cmd_finish_wait_count`: commands to finish before the response is sent.
    pub cmd_finish_wait_count: i32,
    /// C `cmd_done_wait_count`: commands to be done (executed) first.
    pub cmd_done_wait_count: i32,
    /// C `completed_cmd_count`: aborted commands that had completed anyway.
    pub completed_cmd_count: i32,
}

/// The fields of `struct scst_mgmt_cmd` only the task management thread changes.
#[derive(Debug, Default)]
pub struct ScstMgmtCmdData {
    /// C `needs_unblocking`: devices to unblock at the end (device blocking is not ported;
    /// kept for the structure).
    pub needs_unblocking: bool,
    /// C `scst_get_called`: `scst_get()` was called for the command.
    pub scst_get_called: bool,
    /// C `task_mgmt_fn_received_called`: the handler's `task_mgmt_fn_received()` was called.
    pub task_mgmt_fn_received_called: bool,
    /// C `cmd_to_abort`: ABORT TASK's command, found by tag (holds a command reference).
    pub cmd_to_abort: Option<Arc<ScstCmd>>,
    /// C `mcmd_tgt_dev`: the nexus, found by LUN or by tag.
    pub mcmd_tgt_dev: Option<Arc<ScstTgtDev>>,
}

/// C `struct scst_mgmt_cmd_stub`: links a management command to a command it waits for
/// (`cmd->mgmt_cmd_list`, under `scst_mcmd_lock`).
#[doc(alias = "scst_mgmt_cmd_stub")]
#[derive(Debug)]
pub struct ScstMgmtCmdStub {
    /// C `mcmd`.
    pub mcmd: Arc<ScstMgmtCmd>,
    /// C `done_counted`: counted in `cmd_done_wait_count`.
    pub done_counted: bool,
    /// C `finish_counted`: counted in `cmd_finish_wait_count`.
    pub finish_counted: bool,
}

/// C `struct scst_pr_abort_all_pending_mgmt_cmds_counter`: how a PREEMPT AND ABORT command
/// follows the `SCST_PR_ABORT_ALL` functions it sent for the preempted nexuses.
#[doc(alias = "scst_pr_abort_all_pending_mgmt_cmds_counter")]
#[derive(Debug)]
pub struct ScstPrAbortAllPendingMgmtCmdsCounter {
    /// C `pr_abort_pending_cnt`: the functions not finished yet, plus one for the PR command
    /// itself; the last to drop it completes the command.
    pub pr_abort_pending_cnt: AtomicT,
    /// C `saved_cmd_done`: the command's completion routine before
    /// `scst_cmd_done_pr_preempt()` took its place.
    pub saved_cmd_done: Option<ScstCmdDoneFn>,
    /// C `pr_aborting_cnt`: the functions that have not yet marked their commands aborted,
    /// plus one for the PR command; `pr_aborting_cmpl` is completed when it reaches zero.
    pub pr_aborting_cnt: AtomicT,
    /// C `pr_aborting_cmpl`.
    pub pr_aborting_cmpl: Completion,
}

/// C `struct scst_mgmt_cmd`: a task management function on its way through `scsi_tm`.
#[doc(alias = "scst_mgmt_cmd")]
pub struct ScstMgmtCmd {
    /// C `sess`.
    pub sess: Arc<ScstSession>,
    /// C `fn`.
    pub fn_: crate::scst_const::TmFn,
    /// C `lun_set`.
    pub lun_set: bool,
    /// C `cmd_sn_set`.
    pub cmd_sn_set: bool,
    /// C `lun`.
    pub lun: u64,
    /// C `tag`.
    pub tag: u64,
    /// C `cmd_sn`: the affected commands' highest SN.
    pub cmd_sn: u32,
    /// C `status`: `SCST_MGMT_STATUS_*` (see [`scst_mgmt_cmd_set_status`]).
    pub status: AtomicT,
    /// C `mcmd_dropped`: the response is not to be sent (black hole).
    pub mcmd_dropped: AtomicBool,
    /// C `tgt_priv` (cleared when the function is done, as C).
    pub tgt_priv: kemu::sync::Mutex<Option<TgtPriv>>,
    /// C `origin_pr_cmd` (a union with `tgt_priv` in C): for `SCST_PR_ABORT_ALL`, the
    /// PREEMPT AND ABORT command that sent the function.
    pub origin_pr_cmd: Option<Arc<ScstCmd>>,
    /// C's `scst_mcmd_lock` fields.
    pub mc: LockedBy<ScstMgmtCmdCounts>,
    /// The task management thread's fields.
    pub d: kemu::sync::Mutex<ScstMgmtCmdData>,
    /// C `mgmt_cmd_list_entry` (an active, delayed or init deferred list).
    pub(crate) mgmt_cmd_list_entry: AtomicListHandle,
}

impl ScstMgmtCmd {
    /// C `scst_alloc_mgmt_cmd()` + `scst_pre_rx_mgmt_cmd()`'s initialisation: state INIT,
    /// status SUCCESS.
    pub(crate) fn new(
        sess: &Arc<ScstSession>,
        fn_: crate::scst_const::TmFn,
        tgt_priv: Option<TgtPriv>,
    ) -> Self {
        Self {
            sess: sess.clone(),
            fn_,
            lun_set: false,
            cmd_sn_set: false,
            lun: 0,
            tag: 0,
            cmd_sn: 0,
            status: AtomicT::new(crate::scst_const::SCST_MGMT_STATUS_SUCCESS.0),
            mcmd_dropped: AtomicBool::new(false),
            tgt_priv: kemu::sync::Mutex::new(tgt_priv),
            origin_pr_cmd: None,
            mc: LockedBy::new_spinlock(
                &crate::scst_main::scst_mcmd_lock,
                ScstMgmtCmdCounts {
                    state: SCST_MCMD_STATE_INIT,
                    cmd_finish_wait_count: 0,
                    cmd_done_wait_count: 0,
                    completed_cmd_count: 0,
                },
            ),
            d: kemu::sync::Mutex::new(ScstMgmtCmdData::default()),
            mgmt_cmd_list_entry: AtomicListHandle::new(),
        }
    }
}

impl fmt::Debug for ScstMgmtCmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScstMgmtCmd")
            .field("fn_", &self.fn_)
            .field("sess", &self.sess.initiator_name)
            .field("lun", &self.lun)
            .field("tag", &self.tag)
            .finish_non_exhaustive()
    }
}

/// C scst.h `scst_mgmt_cmd_get_tgt_priv()`.
pub fn scst_mgmt_cmd_get_tgt_priv(mcmd: &ScstMgmtCmd) -> Option<TgtPriv> {
    mcmd.tgt_priv.lock().clone()
}

/// C scst.h `scst_mgmt_cmd_set_tgt_priv()`.
pub fn scst_mgmt_cmd_set_tgt_priv(mcmd: &ScstMgmtCmd, val: Option<TgtPriv>) {
    *mcmd.tgt_priv.lock() = val;
}

/// C scst.h `scst_mgmt_cmd_get_status()`: `SCST_MGMT_STATUS_*`.
pub fn scst_mgmt_cmd_get_status(mcmd: &ScstMgmtCmd) -> crate::scst_const::MgmtStatus {
    crate::scst_const::MgmtStatus(kemu::atomic::atomic_read(&mcmd.status))
}

/// C scst.h `scst_mgmt_cmd_set_status()`: the first status other than SUCCESS stays (and
/// RECEIVED_STAGE_COMPLETED is no final status).
pub fn scst_mgmt_cmd_set_status(mcmd: &ScstMgmtCmd, status: crate::scst_const::MgmtStatus) {
    if status != crate::scst_const::SCST_MGMT_STATUS_RECEIVED_STAGE_COMPLETED {
        kemu::atomic::atomic_cmpxchg(
            &mcmd.status,
            crate::scst_const::SCST_MGMT_STATUS_SUCCESS.0,
            status.0,
        );
    }
}

/// C scst.h `scst_mgmt_cmd_get_fn()`.
pub fn scst_mgmt_cmd_get_fn(mcmd: &ScstMgmtCmd) -> crate::scst_const::TmFn {
    mcmd.fn_
}

/// C scst.h `scst_mgmt_cmd_dropped()`: the response must not be sent.
pub fn scst_mgmt_cmd_dropped(mcmd: &ScstMgmtCmd) -> bool {
    mcmd.mcmd_dropped.load(std::sync::atomic::Ordering::SeqCst)
}

/// C: the type of `cmd->scst_cmd_done`: how the executing handler reports completion.
pub type ScstCmdDoneFn = fn(&Arc<ScstCmd>, CmdState, ScstExecContext);

/// The fields of `struct scst_cmd` that only the thread currently processing the command
/// changes (the state machine, the handler inside `exec()`, the target driver inside its
/// callbacks). They live under one mutex, [`ScstCmd::d`], which is never held across a
/// callback. Names are C's.
#[derive(Debug)]
pub struct ScstCmdData {
    /// C `tgt_dev` (None until LUN translation, or for an unknown LUN).
    pub tgt_dev: Option<Arc<ScstTgtDev>>,
    /// C `dev`.
    pub dev: Option<Arc<ScstDevice>>,
    /// C `devt`: the device handler.
    pub devt: Option<Arc<ScstDevType>>,
    /// C `cmd_threads`: the pool the command is queued to.
    pub cmd_threads: Arc<ScstCmdThreads>,
    /// C `cmd_thr`: the thread of that pool that took it first.
    pub cmd_thr: Option<Arc<ScstCmdThreadT>>,
    /// C `cur_order_data`.
    pub cur_order_data: Option<Arc<ScstOrderData>>,
    /// C `lun`.
    pub lun: u64,
    /// C `cdb`/`cdb_buf`: at least `SCST_MAX_CDB_SIZE` bytes, zero padded, so that the
    /// decoders may read any field of a short CDB as C does.
    pub cdb: Vec<u8>,
    /// C `cdb_len`.
    pub cdb_len: usize,
    /// C `tag`.
    pub tag: u64,
    /// C `queue_type` (`SCST_CMD_QUEUE_*`).
    pub queue_type: i32,
    /// C `tgt_sn`: the transport's command number.
    pub tgt_sn: u32,
    /// C `tgt_i_priv`: the target driver's data.
    pub tgt_i_priv: Option<TgtPriv>,
    /// C `dh_priv`: the device handler's data.
    pub dh_priv: Option<Arc<dyn Any + Send + Sync>>,
    /// C `atomic`: processed in atomic context.
    pub atomic: bool,
    /// C `preprocessing_only`.
    pub preprocessing_only: bool,
    /// C `set_sn_on_restart_cmd`.
    pub set_sn_on_restart_cmd: bool,
    /// C `internal`.
    pub internal: bool,
    /// C `sent_for_exec`.
    pub sent_for_exec: bool,
    /// C `completed`.
    pub completed: bool,
    /// C `inc_expected_sn_on_done`.
    pub inc_expected_sn_on_done: bool,
    /// C `hq_cmd_inced`.
    pub hq_cmd_inced: bool,
    /// C `resid_possible`.
    pub resid_possible: bool,
    /// C `is_send_status`.
    pub is_send_status: bool,
    /// C `tgt_need_alloc_data_buf`.
    pub tgt_need_alloc_data_buf: bool,
    /// C `tgt_i_data_buf_alloced`.
    pub tgt_i_data_buf_alloced: bool,
    /// C `dh_data_buf_alloced`.
    pub dh_data_buf_alloced: bool,
    /// C `no_sgv`.
    pub no_sgv: bool,
    /// C `expected_values_set`.
    pub expected_values_set: bool,
    /// C `write_not_received_set`.
    pub write_not_received_set: bool,
    /// C `cmd_naca`.
    pub cmd_naca: bool,
    /// C `cmd_linked`.
    pub cmd_linked: bool,
    /// C `cmd_aca_allowed`.
    pub cmd_aca_allowed: bool,
    /// C `retry`.
    pub retry: bool,
    /// C `double_ua_possible`.
    pub double_ua_possible: bool,
    /// C `tgt_sn_set`: `tgt_sn` was set by the driver.
    pub tgt_sn_set: bool,
    /// C `ua_ignore`: the command carries a unit attention taken from the nexus's queue
    /// (`scst_set_pending_UA()`); its sense is not checked again.
    pub ua_ignore: bool,
    /// C `data_direction` (`SCST_DATA_*`).
    pub data_direction: i32,
    /// C `expected_data_direction`.
    pub expected_data_direction: i32,
    /// C `expected_transfer_len_full`.
    pub expected_transfer_len_full: i32,
    /// C `expected_out_transfer_len`.
    pub expected_out_transfer_len: i32,
    /// C `bufflen`.
    pub bufflen: i32,
    /// C `out_bufflen` (bidirectional commands).
    pub out_bufflen: i32,
    /// C `data_len`: the length in blocks or bytes the command works on.
    pub data_len: i64,
    /// C `lba`.
    pub lba: i64,
    /// C `write_len`.
    pub write_len: i32,
    /// C `resp_data_len` (-1: not set yet).
    pub resp_data_len: i32,
    /// C `adjusted_resp_data_len`.
    pub adjusted_resp_data_len: i32,
    /// C `op_flags` (`SCST_*` op flags of scst_const).
    pub op_flags: u32,
    /// C `op_name`.
    pub op_name: &'static str,
    /// C `lba_off`, `lba_len`, `len_off`, `len_len`.
    pub lba_off: u8,
    /// C `lba_len`.
    pub lba_len: u8,
    /// C `len_off`.
    pub len_off: u8,
    /// C `len_len`.
    pub len_len: u8,
    /// C `timeout` (jiffies).
    pub timeout: u64,
    /// C `retries`.
    pub retries: i32,
    /// C `sg`: the data buffer.
    pub sg: Vec<kemu::scatterlist::Scatterlist>,
    /// C `sg_cnt`.
    pub sg_cnt: i32,
    /// C `out_sg` (bidirectional commands).
    pub out_sg: Vec<kemu::scatterlist::Scatterlist>,
    /// C `out_sg_cnt`.
    pub out_sg_cnt: i32,
    /// C `tgt_i_sg`: a buffer the target driver supplied.
    pub tgt_i_sg: Vec<kemu::scatterlist::Scatterlist>,
    /// C `tgt_i_sg_cnt`.
    pub tgt_i_sg_cnt: i32,
    /// C `status`: the SCSI status.
    pub status: u8,
    /// C `msg_status`.
    pub msg_status: u8,
    /// C `host_status`.
    pub host_status: u8,
    /// C `driver_status`.
    pub driver_status: u8,
    /// C `sense`: allocated on first use (`scst_alloc_sense()`), `sense_buflen` bytes.
    pub sense: Option<Vec<u8>>,
    /// C `sense_valid_len`.
    pub sense_valid_len: usize,
    /// C `delivery_status` (`SCST_CMD_DELIVERY_*`).
    pub delivery_status: i32,
    /// C `dbl_ua_orig_resp_data_len`.
    pub dbl_ua_orig_resp_data_len: i32,
    /// C `dbl_ua_orig_data_direction`.
    pub dbl_ua_orig_data_direction: i32,
    /// C `scst_cmd_done`: set to `scst_cmd_done_local()` when the command is sent for
    /// execution.
    pub scst_cmd_done: Option<ScstCmdDoneFn>,
    /// The pages charged to the device's `dev_mem_lim` for a buffer allocated without an
    /// SGV pool (a nexus without `pools`); C keeps this in the SGV object.
    pub mem_lim_pages: usize,
    /// C `pr_abort_counter` (a per-opcode union member in C): for PREEMPT AND ABORT, the
    /// `SCST_PR_ABORT_ALL` functions it sent and waits for (`scst_pr_preempt_and_abort()`).
    pub pr_abort_counter: Option<Arc<ScstPrAbortAllPendingMgmtCmdsCounter>>,
    /// C `sgv`: the SGV object `sg` was lent from (None: not from a pool).
    pub sgv: Option<Box<crate::scst_mem::SgvPoolObj>>,
    /// C `out_sgv`: the SGV object of `out_sg`.
    pub out_sgv: Option<Box<crate::scst_mem::SgvPoolObj>>,
}

/// C `struct scst_cmd`: one SCSI command.
///
/// Shared as `Arc<ScstCmd>`; the memory goes with the last `Arc`, but the command's end of
/// life in SCST's sense is the explicit `cmd_ref` counter (`__scst_cmd_get()` /
/// `__scst_cmd_put()`), whose last put calls `scst_free_cmd()` (the handler's and the
/// driver's `on_free_cmd()`, the session reference).
#[doc(alias = "scst_cmd")]
pub struct ScstCmd {
    /// C `sess`.
    pub sess: Arc<ScstSession>,
    /// C `tgt`.
    pub tgt: Arc<ScstTgt>,
    /// C `tgtt`.
    pub tgtt: Arc<ScstTgtTemplate>,
    /// C `cmd_flags` (`SCST_CMD_ABORTED` … bits).
    pub cmd_flags: BitWord,
    /// C `cmd_ref`: the explicit reference count; the last put frees the command.
    pub cmd_ref: AtomicT,
    /// C `state` (read by other threads for checks; the trace hook sees every change).
    pub(crate) state: std::sync::atomic::AtomicI32,
    /// C `sn`: set once by `scst_cmd_set_sn()`, read by the SN code under `sn_lock`.
    pub sn: std::sync::atomic::AtomicU32,
    /// C `sn_set`.
    pub sn_set: AtomicBool,
    /// C `sn_slot`, as an index into `cur_order_data->sn_slots` (-1: none).
    pub sn_slot: std::sync::atomic::AtomicIsize,
    /// C `done`: read by the SN code of other commands.
    pub done: AtomicBool,
    /// C `finished`: set under `sess_list_lock`.
    pub finished: AtomicBool,
    /// C `out_of_sn`.
    pub out_of_sn: AtomicBool,
    /// The fields only the processing thread changes (see [`ScstCmdData`]).
    pub d: kemu::sync::Mutex<ScstCmdData>,
    /// C `cmd_list_entry` (an active, init or deferred list; under that list's lock).
    pub(crate) cmd_list_entry: AtomicListHandle,
    /// C `sess_cmd_list_entry` (in `sess->sess_cmd_list`, under `sess_list_lock`).
    pub(crate) sess_cmd_list_entry: AtomicListHandle,
    /// C `mgmt_cmd_list`: the management commands waiting for this command; protected by
    /// `scst_mcmd_lock`.
    pub mgmt_cmd_list: LockedBy<Vec<ScstMgmtCmdStub>>,
}

impl fmt::Debug for ScstCmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScstCmd")
            .field("state", &scst_cmd_get_state(self))
            .field("sess", &self.sess.initiator_name)
            .finish_non_exhaustive()
    }
}

/// A test hook: called with the command and its new state at every state assignment.
pub type ScstCmdStateTraceFn = Arc<dyn Fn(&ScstCmd, CmdState) + Send + Sync>;

static SCST_CMD_STATE_TRACE: RwLock<Option<ScstCmdStateTraceFn>> = RwLock::new(None);
static SCST_CMD_STATE_TRACE_ON: AtomicBool = AtomicBool::new(false);

/// Test hook (no C counterpart): installs (or with `None` removes) a function that sees every
/// state assignment of every command (`cmd->state = …` in C), in order, on the thread that
/// makes it.
#[doc(hidden)]
pub fn scst_set_cmd_state_trace(f: Option<ScstCmdStateTraceFn>) {
    let on = f.is_some();
    *SCST_CMD_STATE_TRACE.write() = f;
    SCST_CMD_STATE_TRACE_ON.store(on, std::sync::atomic::Ordering::SeqCst);
}

/// C: the assignment `cmd->state = state`, reported to the test hook.
pub fn scst_set_cmd_state(cmd: &ScstCmd, state: CmdState) {
    cmd.state
        .store(state.0, std::sync::atomic::Ordering::SeqCst);
    if SCST_CMD_STATE_TRACE_ON.load(std::sync::atomic::Ordering::Relaxed) {
        let f = SCST_CMD_STATE_TRACE.read().clone();
        if let Some(f) = f {
            f(cmd, state);
        }
    }
}

/// C: `cmd->state`.
pub fn scst_cmd_get_state(cmd: &ScstCmd) -> CmdState {
    CmdState(cmd.state.load(std::sync::atomic::Ordering::SeqCst))
}

// ---------------------------------------------------------------------------------------------
// The inline accessors of scst.h for commands
// ---------------------------------------------------------------------------------------------

/// C scst.h `scst_cmd_atomic()`: whether the command is processed in atomic context.
pub fn scst_cmd_atomic(cmd: &ScstCmd) -> bool {
    cmd.d.lock().atomic
}

/// C scst.h `scst_cmd_get_session()`.
pub fn scst_cmd_get_session(cmd: &ScstCmd) -> Arc<ScstSession> {
    cmd.sess.clone()
}

/// C scst.h `scst_cmd_get_tgt_dev()`.
pub fn scst_cmd_get_tgt_dev(cmd: &ScstCmd) -> Option<Arc<ScstTgtDev>> {
    cmd.d.lock().tgt_dev.clone()
}

/// C scst.h `scst_cmd_get_dev()`: the device (None before LUN translation).
pub fn scst_cmd_get_dev(cmd: &ScstCmd) -> Option<Arc<ScstDevice>> {
    cmd.d.lock().dev.clone()
}

/// C scst.h `scst_cmd_get_cdb()`: the CDB (its `cdb_len` bytes).
pub fn scst_cmd_get_cdb(cmd: &ScstCmd) -> Vec<u8> {
    let d = cmd.d.lock();
    d.cdb[..d.cdb_len.min(d.cdb.len())].to_vec()
}

/// C scst.h `scst_cmd_get_cdb_len()`.
pub fn scst_cmd_get_cdb_len(cmd: &ScstCmd) -> usize {
    cmd.d.lock().cdb_len
}

/// C scst.h `scst_cmd_set_ext_cdb()`: appends the additional CDB bytes (iSCSI's extended
/// CDB AHS) to the command's CDB. The total is limited to `SCST_MAX_LONG_CDB_SIZE`; more is
/// refused with INVALID FIELD IN CDB semantics left to the caller (C checks in the driver).
pub fn scst_cmd_set_ext_cdb(cmd: &ScstCmd, ext_cdb: &[u8]) {
    let mut d = cmd.d.lock();
    let len = d.cdb_len;
    let total = (len + ext_cdb.len()).min(crate::scst_const::SCST_MAX_LONG_CDB_SIZE);
    if d.cdb.len() < total {
        d.cdb.resize(total, 0);
    }
    let n = total - len;
    d.cdb[len..total].copy_from_slice(&ext_cdb[..n]);
    d.cdb_len = total;
}

/// C scst.h `scst_cmd_get_lun()`.
pub fn scst_cmd_get_lun(cmd: &ScstCmd) -> u64 {
    cmd.d.lock().lun
}

/// C scst.h `scst_cmd_get_tag()`.
pub fn scst_cmd_get_tag(cmd: &ScstCmd) -> u64 {
    cmd.d.lock().tag
}

/// C scst.h `scst_cmd_set_tag()`.
pub fn scst_cmd_set_tag(cmd: &ScstCmd, tag: u64) {
    cmd.d.lock().tag = tag;
}

/// C scst.h `scst_cmd_get_tgt_priv()`: the target driver's data of the command.
pub fn scst_cmd_get_tgt_priv(cmd: &ScstCmd) -> Option<TgtPriv> {
    cmd.d.lock().tgt_i_priv.clone()
}

/// C scst.h `scst_cmd_set_tgt_priv()`.
pub fn scst_cmd_set_tgt_priv(cmd: &ScstCmd, val: Option<TgtPriv>) {
    cmd.d.lock().tgt_i_priv = val;
}

/// C scst.h `scst_cmd_get_dh_priv()`: the device handler's data of the command.
pub fn scst_cmd_get_dh_priv(cmd: &ScstCmd) -> Option<Arc<dyn Any + Send + Sync>> {
    cmd.d.lock().dh_priv.clone()
}

/// C scst.h `scst_cmd_set_dh_priv()`.
pub fn scst_cmd_set_dh_priv(cmd: &ScstCmd, val: Option<Arc<dyn Any + Send + Sync>>) {
    cmd.d.lock().dh_priv = val;
}

/// C scst.h `scst_cmd_set_expected()`: the data direction and total transfer length the
/// transport announced.
pub fn scst_cmd_set_expected(cmd: &ScstCmd, expected_data_direction: i32, len: i32) {
    let mut d = cmd.d.lock();
    d.expected_data_direction = expected_data_direction;
    d.expected_transfer_len_full = len;
    d.expected_values_set = true;
}

/// C scst.h `scst_cmd_set_expected_out_transfer_len()` (bidirectional commands).
pub fn scst_cmd_set_expected_out_transfer_len(cmd: &ScstCmd, len: i32) {
    let mut d = cmd.d.lock();
    if !d.expected_values_set {
        kemu::PRINT_WARNING!("expected out transfer length set before the expected values");
    }
    d.expected_out_transfer_len = len;
}

/// C scst.h `scst_cmd_is_expected_set()`.
pub fn scst_cmd_is_expected_set(cmd: &ScstCmd) -> bool {
    cmd.d.lock().expected_values_set
}

/// C scst.h `scst_cmd_get_expected_data_direction()`.
pub fn scst_cmd_get_expected_data_direction(cmd: &ScstCmd) -> i32 {
    cmd.d.lock().expected_data_direction
}

/// C scst.h `scst_cmd_get_expected_transfer_len_full()`.
pub fn scst_cmd_get_expected_transfer_len_full(cmd: &ScstCmd) -> i32 {
    cmd.d.lock().expected_transfer_len_full
}

/// C scst.h `scst_cmd_get_expected_out_transfer_len()`.
pub fn scst_cmd_get_expected_out_transfer_len(cmd: &ScstCmd) -> i32 {
    cmd.d.lock().expected_out_transfer_len
}

/// C scst.h `scst_cmd_get_queue_type()`.
pub fn scst_cmd_get_queue_type(cmd: &ScstCmd) -> i32 {
    cmd.d.lock().queue_type
}

/// C scst.h `scst_cmd_set_queue_type()` (`SCST_CMD_QUEUE_*`).
pub fn scst_cmd_set_queue_type(cmd: &ScstCmd, queue_type: i32) {
    cmd.d.lock().queue_type = queue_type;
}

/// C scst.h `scst_cmd_get_tgt_sn()`.
pub fn scst_cmd_get_tgt_sn(cmd: &ScstCmd) -> u32 {
    cmd.d.lock().tgt_sn
}

/// C scst.h `scst_cmd_set_tgt_sn()`.
pub fn scst_cmd_set_tgt_sn(cmd: &ScstCmd, tgt_sn: u32) {
    let mut d = cmd.d.lock();
    d.tgt_sn = tgt_sn;
    d.tgt_sn_set = true;
}

/// C scst.h `scst_cmd_set_tgt_need_alloc_data_buf()`: the driver's `tgt_alloc_data_buf()`
/// supplies the buffer.
pub fn scst_cmd_set_tgt_need_alloc_data_buf(cmd: &ScstCmd) {
    cmd.d.lock().tgt_need_alloc_data_buf = true;
}

/// C scst.h `scst_cmd_get_tgt_need_alloc_data_buf()`.
pub fn scst_cmd_get_tgt_need_alloc_data_buf(cmd: &ScstCmd) -> bool {
    cmd.d.lock().tgt_need_alloc_data_buf
}

/// C scst.h `scst_cmd_set_preprocessing_only()`: stop after PREPARE_SPACE and call the
/// driver's `preprocessing_done()`.
pub fn scst_cmd_set_preprocessing_only(cmd: &ScstCmd) {
    cmd.d.lock().preprocessing_only = true;
}

/// C scst.h `scst_cmd_set_set_sn_on_restart_cmd()`.
pub fn scst_cmd_set_set_sn_on_restart_cmd(cmd: &ScstCmd) {
    cmd.d.lock().set_sn_on_restart_cmd = true;
}

/// C scst.h `scst_cmd_set_no_sgv()`: do not use the SGV cache for this command.
pub fn scst_cmd_set_no_sgv(cmd: &ScstCmd) {
    cmd.d.lock().no_sgv = true;
}

/// C scst.h `scst_cmd_get_no_sgv()`.
pub fn scst_cmd_get_no_sgv(cmd: &ScstCmd) -> bool {
    cmd.d.lock().no_sgv
}

/// C scst.h `scst_cmd_get_data_direction()`.
pub fn scst_cmd_get_data_direction(cmd: &ScstCmd) -> i32 {
    cmd.d.lock().data_direction
}

/// C scst.h `scst_cmd_set_data_direction()` (for handlers' `parse()`).
pub fn scst_cmd_set_data_direction(cmd: &ScstCmd, dir: i32) {
    cmd.d.lock().data_direction = dir;
}

/// C scst.h `scst_cmd_get_bufflen()`.
pub fn scst_cmd_get_bufflen(cmd: &ScstCmd) -> i32 {
    cmd.d.lock().bufflen
}

/// C scst.h `scst_cmd_get_out_bufflen()`.
pub fn scst_cmd_get_out_bufflen(cmd: &ScstCmd) -> i32 {
    cmd.d.lock().out_bufflen
}

/// C scst.h `scst_cmd_get_sg_cnt()`.
pub fn scst_cmd_get_sg_cnt(cmd: &ScstCmd) -> i32 {
    cmd.d.lock().sg_cnt
}

/// C scst.h `scst_cmd_get_lba()`.
pub fn scst_cmd_get_lba(cmd: &ScstCmd) -> i64 {
    cmd.d.lock().lba
}

/// C scst.h `scst_cmd_get_data_len()`.
pub fn scst_cmd_get_data_len(cmd: &ScstCmd) -> i64 {
    cmd.d.lock().data_len
}

/// C scst.h `scst_cmd_get_op_flags()`.
pub fn scst_cmd_get_op_flags(cmd: &ScstCmd) -> u32 {
    cmd.d.lock().op_flags
}

/// C scst.h `scst_cmd_get_status()`: the SCSI status byte.
pub fn scst_cmd_get_status(cmd: &ScstCmd) -> u8 {
    cmd.d.lock().status
}

/// C scst.h `scst_cmd_get_msg_status()`.
pub fn scst_cmd_get_msg_status(cmd: &ScstCmd) -> u8 {
    cmd.d.lock().msg_status
}

/// C scst.h `scst_cmd_get_host_status()`.
pub fn scst_cmd_get_host_status(cmd: &ScstCmd) -> u8 {
    cmd.d.lock().host_status
}

/// C scst.h `scst_cmd_get_driver_status()`.
pub fn scst_cmd_get_driver_status(cmd: &ScstCmd) -> u8 {
    cmd.d.lock().driver_status
}

/// C scst.h `scst_cmd_get_sense_buffer()` with `scst_cmd_get_sense_buffer_len()`: the valid
/// part of the sense (empty without sense).
pub fn scst_cmd_get_sense_buffer(cmd: &ScstCmd) -> Vec<u8> {
    let d = cmd.d.lock();
    match &d.sense {
        Some(s) => s[..d.sense_valid_len.min(s.len())].to_vec(),
        None => Vec::new(),
    }
}

/// C scst.h `scst_cmd_get_sense_buffer_len()`: the valid sense length.
pub fn scst_cmd_get_sense_buffer_len(cmd: &ScstCmd) -> usize {
    cmd.d.lock().sense_valid_len
}

/// C scst.h `scst_cmd_get_resp_data_len()`.
pub fn scst_cmd_get_resp_data_len(cmd: &ScstCmd) -> i32 {
    cmd.d.lock().resp_data_len
}

/// C scst.h `scst_cmd_get_adjusted_resp_data_len()`: the response length cut to what the
/// initiator expects.
pub fn scst_cmd_get_adjusted_resp_data_len(cmd: &ScstCmd) -> i32 {
    cmd.d.lock().adjusted_resp_data_len
}

/// C scst.h `scst_cmd_get_is_send_status()`: whether the response carries status.
pub fn scst_cmd_get_is_send_status(cmd: &ScstCmd) -> bool {
    cmd.d.lock().is_send_status
}

/// C scst.h `scst_cmd_aborted_on_xmit()`: the command was aborted by its initiator, or by
/// another one without having completed: its status is invalid and no response must be sent.
/// `xmit_response()` must use it instead of [`scst_cmd_aborted`], so that a command aborted
/// by another initiator delivers its status.
pub fn scst_cmd_aborted_on_xmit(cmd: &ScstCmd) -> bool {
    kemu::atomic::test_bit(SCST_CMD_ABORTED, &cmd.cmd_flags)
        && !kemu::atomic::test_bit(SCST_CMD_ABORTED_OTHER, &cmd.cmd_flags)
}

/// C scst.h `scst_cmd_aborted()`.
pub fn scst_cmd_aborted(cmd: &ScstCmd) -> bool {
    kemu::atomic::test_bit(SCST_CMD_ABORTED, &cmd.cmd_flags)
}

/// C scst.h `scst_set_delivery_status()`: `SCST_CMD_DELIVERY_*`.
pub fn scst_set_delivery_status(cmd: &ScstCmd, delivery_status: i32) {
    cmd.d.lock().delivery_status = delivery_status;
}

/// C scst.h `scst_get_delivery_status()`.
pub fn scst_get_delivery_status(cmd: &ScstCmd) -> i32 {
    cmd.d.lock().delivery_status
}

/// C scst.h `scst_cmd_get_write_fields()` / `scst_cmd_get_write_len()`: the write length
/// the driver must receive.
pub fn scst_cmd_get_write_len(cmd: &ScstCmd) -> i32 {
    cmd.d.lock().write_len
}

/// C scst.h `scst_cmd_get_dh_data_buff_alloced()`.
pub fn scst_cmd_get_dh_data_buff_alloced(cmd: &ScstCmd) -> bool {
    cmd.d.lock().dh_data_buf_alloced
}

/// C scst.h `scst_cmd_set_dh_data_buff_alloced()`.
pub fn scst_cmd_set_dh_data_buff_alloced(cmd: &ScstCmd) {
    cmd.d.lock().dh_data_buf_alloced = true;
}

/// C scst.h `scst_cmd_get_tgt_data_buff_alloced()`.
pub fn scst_cmd_get_tgt_data_buff_alloced(cmd: &ScstCmd) -> bool {
    cmd.d.lock().tgt_i_data_buf_alloced
}

/// C scst.h `scst_cmd_set_tgt_data_buff_alloced()`.
pub fn scst_cmd_set_tgt_data_buff_alloced(cmd: &ScstCmd) {
    cmd.d.lock().tgt_i_data_buf_alloced = true;
}

/// C scst.h `scst_cmd_set_tgt_sg()`: the buffer the driver allocated in
/// `tgt_alloc_data_buf()`.
pub fn scst_cmd_set_tgt_sg(cmd: &ScstCmd, sg: Vec<kemu::scatterlist::Scatterlist>) {
    let mut d = cmd.d.lock();
    d.tgt_i_sg_cnt = i32::try_from(sg.len()).unwrap_or(i32::MAX);
    d.tgt_i_sg = sg;
}

/// C scst.h `scst_cmd_get_sg()` for reading, safe: runs `f` on the command's scatterlist (the
/// data pages, no copy). The driver sends Data-In from it; `sg_total_len()` of the slice is
/// `bufflen` rounded to the entries. The command's data lock is held while `f` runs: `f`
/// must not call the command's other accessors.
pub fn scst_cmd_with_sg<R>(
    cmd: &ScstCmd,
    f: impl FnOnce(&[kemu::scatterlist::Scatterlist]) -> R,
) -> R {
    let d = cmd.d.lock();
    f(&d.sg)
}

/// C scst.h `scst_cmd_get_sg()` for writing (the driver receives Data-Out into it). Same
/// rules as [`scst_cmd_with_sg`].
pub fn scst_cmd_with_sg_mut<R>(
    cmd: &ScstCmd,
    f: impl FnOnce(&mut [kemu::scatterlist::Scatterlist]) -> R,
) -> R {
    let mut d = cmd.d.lock();
    f(&mut d.sg)
}

/// C scst.h `scst_cmd_get_write_fields()` for writing: runs `f` on the buffer the write data
/// goes to (`out_sg` of a bidirectional command, `sg` otherwise) and the write length. Same
/// rules as [`scst_cmd_with_sg`].
pub fn scst_cmd_with_write_sg_mut<R>(
    cmd: &ScstCmd,
    f: impl FnOnce(&mut [kemu::scatterlist::Scatterlist], i32) -> R,
) -> R {
    let mut d = cmd.d.lock();
    let write_len = d.write_len;
    if d.data_direction & crate::scst_const::SCST_DATA_READ != 0 && !d.out_sg.is_empty() {
        f(&mut d.out_sg, write_len)
    } else {
        f(&mut d.sg, write_len)
    }
}

/// C scst.h `scst_cmd_set_write_not_received_data_len()` / `scst_cmd_get_...`: see
/// `scst_lib::scst_cmd_set_write_not_received_data_len`.
pub fn scst_cmd_get_write_not_received(cmd: &ScstCmd) -> bool {
    cmd.d.lock().write_not_received_set
}

/// C scst.h `scst_sess_get_tgt_dev()`-style lookup is `scst_targ::scst_lookup_tgt_dev`; this
/// is C scst.h `scst_tgt_dev_get_dh_priv()`.
pub fn scst_tgt_dev_get_dh_priv(tgt_dev: &ScstTgtDev) -> Option<Arc<dyn Any + Send + Sync>> {
    tgt_dev.dh_priv.read().clone()
}

/// C scst.h `scst_tgt_dev_set_dh_priv()`.
pub fn scst_tgt_dev_set_dh_priv(tgt_dev: &ScstTgtDev, val: Option<Arc<dyn Any + Send + Sync>>) {
    *tgt_dev.dh_priv.write() = val;
}

/// C scst.h `scst_dev_get_dh_priv()`.
pub fn scst_dev_get_dh_priv(dev: &ScstDevice) -> Option<Arc<dyn Any + Send + Sync>> {
    dev.dh_priv.read().clone()
}

/// C scst.h `scst_dev_set_dh_priv()`.
pub fn scst_dev_set_dh_priv(dev: &ScstDevice, val: Option<Arc<dyn Any + Send + Sync>>) {
    *dev.dh_priv.write() = val;
}

/// The handler that implements no callback (C: a `scst_dev_type` whose pointers are NULL).
#[derive(Debug)]
pub struct ScstNoDevTypeOps;
impl ScstDevTypeOps for ScstNoDevTypeOps {}

/// C `struct scst_dev_type`: a device handler.
#[doc(alias = "scst_dev_type")]
pub struct ScstDevType {
    /// C `name`.
    pub name: &'static str,
    /// C `type`: the SCSI peripheral device type it handles (-1: any, for virtual handlers).
    pub type_: i32,
    /// C `parse_atomic`.
    pub parse_atomic: bool,
    /// C `dev_alloc_data_buf_atomic`.
    pub dev_alloc_data_buf_atomic: bool,
    /// C `dev_done_atomic`.
    pub dev_done_atomic: bool,
    /// C `no_proc`: no `/proc/scsi_tgt/<name>` directory.
    pub no_proc: bool,
    /// C `exec_sync`: `exec()` completes synchronously.
    pub exec_sync: bool,
    /// C `pr_cmds_notifications`.
    pub pr_cmds_notifications: bool,
    /// C `auto_cm_assignment_possible`.
    pub auto_cm_assignment_possible: bool,
    /// C `threads_num`: threads per pool (0: the global `scstd` pool; -1: none).
    pub threads_num: i32,
    /// C `threads_pool_type`: `SCST_THREADS_POOL_*`.
    pub threads_pool_type: i32,
    /// C `max_tgt_dev_commands` (0 means `SCST_MAX_TGT_DEV_COMMANDS`).
    pub max_tgt_dev_commands: i32,
    /// The callbacks.
    pub ops: Arc<dyn ScstDevTypeOps>,
    /// C `dev_type_list_entry` (in `scst_virtual_dev_type_list`, under `scst_mutex`).
    pub(crate) dev_type_list_entry: AtomicListHandle,
}

impl ScstDevType {
    /// A handler with the given name, peripheral type and callbacks; every other field zero.
    pub fn new(name: &'static str, type_: i32, ops: Arc<dyn ScstDevTypeOps>) -> Self {
        Self {
            name,
            type_,
            parse_atomic: false,
            dev_alloc_data_buf_atomic: false,
            dev_done_atomic: false,
            no_proc: false,
            exec_sync: false,
            pr_cmds_notifications: false,
            auto_cm_assignment_possible: false,
            threads_num: 0,
            threads_pool_type: SCST_THREADS_POOL_PER_INITIATOR,
            max_tgt_dev_commands: 0,
            ops,
            dev_type_list_entry: AtomicListHandle::new(),
        }
    }
}

impl fmt::Debug for ScstDevType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScstDevType")
            .field("name", &self.name)
            .field("type_", &self.type_)
            .finish_non_exhaustive()
    }
}

/// C `struct scst_device`: a SCSI device (here always virtual).
#[doc(alias = "scst_device")]
pub struct ScstDevice {
    /// C `type`: the SCSI peripheral device type.
    pub type_: i32,
    /// C `virt_name`.
    pub virt_name: String,
    /// C `virt_id`: the id `scst_register_virtual_device()` returned.
    pub virt_id: i32,
    /// C `handler`: changed by `scst_assign_dev_handler()` under `scst_mutex`.
    pub handler: LockedBy<Arc<ScstDevType>>,
    /// C `threads_num`, copied from the handler.
    pub threads_num: AtomicT,
    /// C `threads_pool_type`, copied from the handler.
    pub threads_pool_type: AtomicT,
    /// C `max_tgt_dev_commands`, copied from the handler.
    pub max_tgt_dev_commands: AtomicT,
    /// C `dev_unregistering`.
    pub dev_unregistering: AtomicBool,
    /// C `dev_acg_dev_list`: the LUNs that map this device; protected by `scst_mutex`.
    pub dev_acg_dev_list: LockedBy<List<Arc<ScstAcgDev>>>,
    /// C `dev_cmd_threads`: the device's own pool (`SCST_THREADS_POOL_SHARED`).
    pub dev_cmd_threads: Arc<ScstCmdThreads>,
    /// C `dev_list_entry` (in `scst_dev_list`, under `scst_mutex`).
    pub(crate) dev_list_entry: AtomicListHandle,
    /// C `dev_tgt_dev_list`: the nexuses of the device; protected by `scst_mutex` (C: also
    /// `dev_lock` for readers on the command path).
    pub dev_tgt_dev_list: LockedBy<List<Arc<ScstTgtDev>>>,
    /// C `dev_order_data`: the SN state shared by all nexuses with a single task set.
    pub dev_order_data: Arc<ScstOrderData>,
    /// C `dh_priv`: the handler's data (set in `attach()`).
    pub dh_priv: RwLock<Option<Arc<dyn Any + Send + Sync>>>,
    /// C `block_size`: set by the handler; 512 until then (C: `scst_alloc_device()` leaves
    /// it to the handler, which always sets it).
    pub block_size: AtomicT,
    /// C `block_shift`: log2 of `block_size`.
    pub block_shift: AtomicT,
    /// C `dev_rd_only`.
    pub dev_rd_only: AtomicBool,
    /// C `tst` (`SCST_TST_*`, default `SCST_TST_1_SEP_TASK_SETS` as the handlers set).
    pub tst: AtomicT,
    /// C `queue_alg` (default `SCST_QUEUE_ALG_1_UNRESTRICTED_REORDER`).
    pub queue_alg: AtomicT,
    /// C `qerr`.
    pub qerr: AtomicT,
    /// C `swp`: software write protect.
    pub swp: AtomicBool,
    /// C `tas`.
    pub tas: AtomicBool,
    /// C `d_sense`: descriptor-format sense.
    pub d_sense: AtomicBool,
    /// C `tmf_only`.
    pub tmf_only: AtomicBool,
    /// C `has_own_order_mgmt`: the handler orders commands itself.
    pub has_own_order_mgmt: AtomicBool,
    /// C `dev_double_ua_possible` (set at allocation, as C).
    pub dev_double_ua_possible: AtomicBool,
    /// C `dev_mem_lim`: the memory of the device's commands in flight.
    pub dev_mem_lim: ScstMemLim,
    /// C reads `dev->handler` on the command path without a lock (changes happen with
    /// activity suspended); this copy of `handler`, written together with it by
    /// `scst_assign_dev_handler()`, is what the command path reads.
    pub handler_for_cmds: RwLock<Arc<ScstDevType>>,
    /// C `dev_lock` (see [`ScstDevLocked`]).
    pub dev_lock: SpinLock<ScstDevLocked>,
    /// C `reserved_by`: the session holding the SPC-2 reservation (RESERVE(6)/(10)); C
    /// protects it with `dev_lock` (`scst_res_lock()`), here this lock.
    pub reserved_by: SpinLock<Option<Weak<ScstSession>>>,
    /// C `dev_pr_mutex` with the persistent-reservation fields it protects.
    pub dev_pr_mutex: kemu::sync::Mutex<ScstDevPr>,
    /// C `pr_is_set` as the command path reads it, without `dev_pr_mutex` (the same flag as
    /// [`ScstDevPr::pr_is_set_unlocked`]).
    pub pr_is_set_unlocked: Arc<AtomicBool>,
    /// C `not_pr_supporting_tgt_devs_num`: nexuses from target drivers without
    /// `get_initiator_port_transport_id()` (C: under `scst_mutex`).
    pub not_pr_supporting_tgt_devs_num: AtomicT,
}

/// C `struct scst_dev_registrant`: one persistent-reservation registration (an I_T nexus
/// given as TransportID + relative target port id, which may have no session now).
#[doc(alias = "scst_dev_registrant")]
#[derive(Debug, Clone)]
pub struct ScstDevRegistrant {
    /// The identity C gets from the registrant's address (what `tgt_dev->registrant` and
    /// `dev->pr_holder` point to); never 0.
    pub reg_id: u64,
    /// C `transport_id`.
    pub transport_id: Vec<u8>,
    /// C `rel_tgt_id`.
    pub rel_tgt_id: u16,
    /// C `key` (C keeps it big-endian; here the value).
    pub key: u64,
    /// C `tgt_dev`: the nexus of this registrant, if it has a session.
    pub tgt_dev: Option<Weak<ScstTgtDev>>,
    /// C `rollback_key` (with C's `aux_list_entry`: undoing a failed registration).
    pub rollback_key: u64,
}

/// The persistent-reservation fields of C `struct scst_device`, protected by
/// `dev_pr_mutex` (C: "Persistent reservation fields").
#[derive(Debug)]
pub struct ScstDevPr {
    /// C `pr_is_set`: a registrant holds a persistent reservation. Change it with
    /// [`ScstDevPr::set_pr_is_set`], which keeps [`ScstDevPr::pr_is_set_unlocked`] equal.
    pub pr_is_set: bool,
    /// C reads `dev->pr_is_set` without `dev_pr_mutex` on the command path
    /// (`__scst_check_local_events`) and takes the lock only when it is set; this copy,
    /// shared with [`ScstDevice::pr_is_set_unlocked`] and written under the mutex, is that
    /// unlocked read.
    pub pr_is_set_unlocked: Arc<AtomicBool>,
    /// C `pr_aptpl`: persist through power loss is active.
    pub pr_aptpl: bool,
    /// C `pr_type` (`TYPE_*`, `TYPE_UNSPECIFIED` when not reserved).
    pub pr_type: u8,
    /// C `pr_scope`.
    pub pr_scope: u8,
    /// C `pr_generation`.
    pub pr_generation: u32,
    /// C `pr_holder`: the holder's `reg_id` (None for the all-registrants types).
    pub pr_holder: Option<u64>,
    /// C `dev_registrants_list`.
    pub dev_registrants_list: Vec<ScstDevRegistrant>,
    /// C `pr_file_name`: where the PR state is saved.
    pub pr_file_name: Option<std::path::PathBuf>,
    /// C `pr_file_name1`: the backup of the previous state (`<pr_file_name>.1`).
    pub pr_file_name1: Option<std::path::PathBuf>,
    /// The nexuses of the device as PR sees them. C walks `dev->dev_tgt_dev_list` under
    /// `dev_lock` from inside `dev_pr_mutex`; the port's list is under `scst_mutex`, which
    /// cannot be taken there, so `scst_pr_init_tgt_dev()`/`scst_pr_clear_tgt_dev()` keep this
    /// copy under `dev_pr_mutex`.
    pub pr_tgt_devs: Vec<Weak<ScstTgtDev>>,
}

impl ScstDevPr {
    /// C `scst_pr_init()`: not reserved, no registrants, generation 0.
    pub fn new() -> Self {
        Self {
            pr_is_set: false,
            pr_is_set_unlocked: Arc::new(AtomicBool::new(false)),
            pr_aptpl: false,
            pr_type: crate::scst_const::TYPE_UNSPECIFIED,
            pr_scope: crate::scst_const::SCOPE_LU,
            pr_generation: 0,
            pr_holder: None,
            dev_registrants_list: Vec::new(),
            pr_file_name: None,
            pr_file_name1: None,
            pr_tgt_devs: Vec::new(),
        }
    }
}

impl ScstDevPr {
    /// Sets C `pr_is_set` (with `dev_pr_mutex` held) and its unlocked copy.
    pub fn set_pr_is_set(&mut self, v: bool) {
        self.pr_is_set = v;
        self.pr_is_set_unlocked
            .store(v, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Default for ScstDevPr {
    fn default() -> Self {
        Self::new()
    }
}

impl ScstDevice {
    /// C `scst_alloc_device()`'s initialisation, with the null handler.
    pub(crate) fn new(type_: i32, virt_name: &str, virt_id: i32, null: Arc<ScstDevType>) -> Self {
        let pr = ScstDevPr::new();
        Self {
            type_,
            virt_name: virt_name.to_owned(),
            virt_id,
            threads_num: AtomicT::new(null.threads_num),
            threads_pool_type: AtomicT::new(null.threads_pool_type),
            max_tgt_dev_commands: AtomicT::new(null.max_tgt_dev_commands),
            handler_for_cmds: RwLock::new(null.clone()),
            dev_mem_lim: ScstMemLim::new(),
            handler: LockedBy::new(&scst_mutex, null),
            dev_unregistering: AtomicBool::new(false),
            dev_acg_dev_list: LockedBy::new(&scst_mutex, List::new()),
            dev_cmd_threads: Arc::new(ScstCmdThreads::new()),
            dev_list_entry: AtomicListHandle::new(),
            dev_tgt_dev_list: LockedBy::new(&scst_mutex, List::new()),
            dev_order_data: Arc::new(ScstOrderData::new()),
            dh_priv: RwLock::new(None),
            block_size: AtomicT::new(512),
            block_shift: AtomicT::new(9),
            dev_rd_only: AtomicBool::new(false),
            tst: AtomicT::new(i32::from(crate::scst_const::SCST_TST_1_SEP_TASK_SETS)),
            queue_alg: AtomicT::new(i32::from(
                crate::scst_const::SCST_QUEUE_ALG_1_UNRESTRICTED_REORDER,
            )),
            qerr: AtomicT::new(i32::from(crate::scst_const::SCST_QERR_0_ALL_RESUME)),
            swp: AtomicBool::new(false),
            tas: AtomicBool::new(false),
            d_sense: AtomicBool::new(false),
            tmf_only: AtomicBool::new(false),
            has_own_order_mgmt: AtomicBool::new(false),
            dev_double_ua_possible: AtomicBool::new(true),
            reserved_by: SpinLock::new(None),
            pr_is_set_unlocked: pr.pr_is_set_unlocked.clone(),
            dev_pr_mutex: kemu::sync::Mutex::new(pr),
            not_pr_supporting_tgt_devs_num: AtomicT::new(0),
            dev_lock: SpinLock::new(ScstDevLocked::default()),
        }
    }
}

impl fmt::Debug for ScstDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScstDevice")
            .field("virt_name", &self.virt_name)
            .field("virt_id", &self.virt_id)
            .field("type_", &self.type_)
            .finish_non_exhaustive()
    }
}

/// C `struct scst_mem_lim` (scst_sgv.h): a memory budget in pages.
#[doc(alias = "scst_mem_lim")]
#[derive(Debug)]
pub struct ScstMemLim {
    /// C `alloced_pages`: pages in use.
    pub alloced_pages: AtomicT,
    /// C `max_allowed_pages`: the limit.
    pub max_allowed_pages: AtomicT,
}

impl ScstMemLim {
    /// C `scst_init_mem_lim()`: the limit of `scst_max_dev_cmd_mem` (MB).
    pub fn new() -> Self {
        let mb = kemu::atomic::atomic_read(&crate::scst_main::scst_max_dev_cmd_mem);
        let mb = if mb > 0 { mb } else { 1024 };
        let pages = (i64::from(mb) << 20) / i64::try_from(kemu::mm::PAGE_SIZE).unwrap_or(4096);
        Self {
            alloced_pages: AtomicT::new(0),
            max_allowed_pages: AtomicT::new(i32::try_from(pages).unwrap_or(i32::MAX)),
        }
    }
}

impl Default for ScstMemLim {
    fn default() -> Self {
        Self::new()
    }
}

/// What C's `cmd_list_lock` of a `scst_cmd_threads` protects.
#[derive(Debug, Default)]
pub struct ScstCmdThreadsLists {
    /// C `active_cmd_list`: commands waiting for a thread of the pool.
    pub active_cmd_list: List<Arc<ScstCmd>>,
}

/// What C's `thr_lock` of a `scst_cmd_threads` protects.
#[derive(Debug, Default)]
pub struct ScstThrList {
    /// C `threads_list`.
    pub threads_list: List<Arc<ScstCmdThreadT>>,
    /// C `nr_threads`.
    pub nr_threads: i32,
}

/// C `struct scst_cmd_threads`: a pool of command threads and its queue.
#[doc(alias = "scst_cmd_threads")]
#[derive(Debug, Default)]
#[allow(non_snake_case)] // cmd_list_waitQ keeps its C name
pub struct ScstCmdThreads {
    /// C `cmd_list_lock` with `active_cmd_list`.
    pub cmd_list_lock: SpinLock<ScstCmdThreadsLists>,
    /// C `cmd_list_waitQ`: the pool's threads sleep here.
    pub cmd_list_waitQ: WaitQueueHead,
    /// C `thr_lock` with `threads_list` and `nr_threads`.
    pub thr_lock: SpinLock<ScstThrList>,
}

impl ScstCmdThreads {
    /// C `scst_init_threads()`'s initialisation (the io_context fields are not needed: there
    /// is no block layer to share an I/O context with).
    pub const fn new() -> Self {
        Self {
            cmd_list_lock: SpinLock::new(ScstCmdThreadsLists {
                active_cmd_list: List::new(),
            }),
            cmd_list_waitQ: WaitQueueHead::new(),
            thr_lock: SpinLock::new(ScstThrList {
                threads_list: List::new(),
                nr_threads: 0,
            }),
        }
    }
}

/// C `struct scst_cmd_thread_t`: one thread of a pool.
#[doc(alias = "scst_cmd_thread_t")]
#[derive(Debug)]
pub struct ScstCmdThreadT {
    /// C `cmd_thread`: the kernel thread (set once it is created).
    pub cmd_thread: OnceLock<Arc<TaskStruct>>,
    /// C `thr_cmd_list_lock` with `thr_active_cmd_list`: commands for this thread only.
    pub thr_cmd_list_lock: SpinLock<List<Arc<ScstCmd>>>,
    /// C `thr_cmd_threads`: the pool.
    pub thr_cmd_threads: Arc<ScstCmdThreads>,
    /// C `being_stopped`: protected by the pool's `thr_lock`.
    pub being_stopped: LockedBy<bool>,
    /// C `thread_list_entry` (in the pool's `threads_list`, under `thr_lock`).
    pub(crate) thread_list_entry: AtomicListHandle,
}

/// C scst.h `scst_cmd_prelim_completed()`: the command is already completed (with an error
/// status) or aborted.
pub fn scst_cmd_prelim_completed(cmd: &ScstCmd) -> bool {
    cmd.d.lock().completed || kemu::atomic::test_bit(SCST_CMD_ABORTED, &cmd.cmd_flags)
}

/// C scst.h `scst_get_active_cmd_count()`: the commands in flight on the command's nexus.
/// C returns `unsigned int` and `(unsigned int)-1` before LUN translation; here `i32` (the
/// type of the counter) and `i32::MAX` for that case, so that "larger than any real count"
/// comparisons of callers keep their C result.
pub fn scst_get_active_cmd_count(cmd: &ScstCmd) -> i32 {
    match &cmd.d.lock().tgt_dev {
        Some(t) => kemu::atomic::atomic_read(&t.tgt_dev_cmd_count),
        None => i32::MAX,
    }
}

/// C scst.h `scst_cmd_set_completed()`-style access for handlers: C handlers set
/// `cmd->completed = 1` when they finish a command successfully.
pub fn scst_cmd_set_completed(cmd: &ScstCmd) {
    cmd.d.lock().completed = true;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// scst-reference.md §6.3: every state, special value, result code and context, with the
    /// values written out as literals.
    #[test]
    fn states_results_and_contexts_match_reference() {
        let states: [(CmdState, i32); 28] = [
            (SCST_CMD_STATE_PARSE, 0),
            (SCST_CMD_STATE_PREPARE_SPACE, 1),
            (SCST_CMD_STATE_PREPROCESSING_DONE, 2),
            (SCST_CMD_STATE_RDY_TO_XFER, 3),
            (SCST_CMD_STATE_TGT_PRE_EXEC, 4),
            (SCST_CMD_STATE_EXEC_CHECK_SN, 5),
            (SCST_CMD_STATE_PRE_DEV_DONE, 6),
            (SCST_CMD_STATE_MODE_SELECT_CHECKS, 7),
            (SCST_CMD_STATE_DEV_DONE, 8),
            (SCST_CMD_STATE_PRE_XMIT_RESP, 9),
            (SCST_CMD_STATE_PRE_XMIT_RESP1, 10),
            (SCST_CMD_STATE_PRE_XMIT_RESP2, 11),
            (SCST_CMD_STATE_XMIT_RESP, 12),
            (SCST_CMD_STATE_FINISHED, 13),
            (SCST_CMD_STATE_FINISHED_INTERNAL, 14),
            (SCST_CMD_STATE_LAST_ACTIVE, 114),
            (SCST_CMD_STATE_INIT_WAIT, 115),
            (SCST_CMD_STATE_INIT, 116),
            (SCST_CMD_STATE_PREPROCESSING_DONE_CALLED, 117),
            (SCST_CMD_STATE_DATA_WAIT, 118),
            (SCST_CMD_STATE_EXEC_CHECK_BLOCKING, 119),
            (SCST_CMD_STATE_LOCAL_EXEC, 120),
            (SCST_CMD_STATE_REAL_EXEC, 121),
            (SCST_CMD_STATE_EXEC_WAIT, 122),
            (SCST_CMD_STATE_XMIT_WAIT, 123),
            (SCST_CMD_STATE_DEFAULT, 500),
            (SCST_CMD_STATE_NEED_THREAD_CTX, 1000),
            (SCST_CMD_STATE_STOP, 1001),
        ];
        for (s, v) in states {
            assert_eq!(s.0, v, "{s:?}");
        }
        let ints: [(i32, i32); 9] = [
            (SCST_CMD_STATE_RES_CONT_NEXT, 0),
            (SCST_CMD_STATE_RES_CONT_SAME, 1),
            (SCST_CMD_STATE_RES_NEED_THREAD, 2),
            (SCST_EXEC_COMPLETED, 0),
            (SCST_EXEC_NOT_COMPLETED, 1),
            (SCST_TGT_RES_SUCCESS, 0),
            (SCST_TGT_RES_QUEUE_FULL, -1),
            (SCST_TGT_RES_NEED_THREAD_CTX, -2),
            (SCST_TGT_RES_FATAL_ERROR, -3),
        ];
        for (got, want) in ints {
            assert_eq!(got, want);
        }
        let contexts: [(ScstExecContext, i32); 5] = [
            (SCST_CONTEXT_DIRECT_ATOMIC, 0),
            (SCST_CONTEXT_DIRECT, 1),
            (SCST_CONTEXT_TASKLET, 2),
            (SCST_CONTEXT_THREAD, 3),
            (SCST_CONTEXT_SAME, 4),
        ];
        for (c, v) in contexts {
            assert_eq!(c.0, v, "{c:?}");
        }
        // TM state machine: INIT 0, then the order the reference lists.
        let mcmd = [
            SCST_MCMD_STATE_INIT,
            SCST_MCMD_STATE_EXEC,
            SCST_MCMD_STATE_WAITING_AFFECTED_CMDS_DONE,
            SCST_MCMD_STATE_AFFECTED_CMDS_DONE,
            SCST_MCMD_STATE_WAITING_AFFECTED_CMDS_FINISHED,
            SCST_MCMD_STATE_DONE,
            SCST_MCMD_STATE_FINISHED,
        ];
        for (i, s) in mcmd.into_iter().enumerate() {
            assert_eq!(s, McmdState(i32::try_from(i).unwrap_or(-1)));
        }
    }

    /// Active states lie below LAST_ACTIVE, passive ones above, as C's range tests assume.
    #[test]
    fn active_states_first_then_passive() {
        for v in 0..=14 {
            assert!(CmdState(v) < SCST_CMD_STATE_LAST_ACTIVE);
            assert!(CmdState(v).as_str().is_some());
        }
        for v in 115..=123 {
            assert!(CmdState(v) > SCST_CMD_STATE_LAST_ACTIVE);
            assert!(CmdState(v).as_str().is_some());
        }
        // `state >= PRE_XMIT_RESP && state < LAST_ACTIVE` (scst_targ.c) covers 9..=14.
        let in_xmit_range =
            |s: CmdState| s >= SCST_CMD_STATE_PRE_XMIT_RESP && s < SCST_CMD_STATE_LAST_ACTIVE;
        assert!(in_xmit_range(SCST_CMD_STATE_FINISHED_INTERNAL));
        assert!(!in_xmit_range(SCST_CMD_STATE_DEV_DONE));
        assert!(!in_xmit_range(SCST_CMD_STATE_XMIT_WAIT));
    }

    #[test]
    fn debug_prints_c_names_and_numbers() {
        assert_eq!(format!("{SCST_CMD_STATE_PARSE:?}"), "SCST_CMD_STATE_PARSE");
        assert_eq!(
            format!("{SCST_CMD_STATE_PRE_XMIT_RESP1:?}"),
            "SCST_CMD_STATE_PRE_XMIT_RESP1"
        );
        assert_eq!(
            format!("{SCST_CMD_STATE_XMIT_WAIT:?}"),
            "SCST_CMD_STATE_XMIT_WAIT"
        );
        assert_eq!(format!("{SCST_CMD_STATE_STOP:?}"), "SCST_CMD_STATE_STOP");
        assert_eq!(format!("{:?}", CmdState(15)), "15");
        assert_eq!(format!("{:?}", CmdState(124)), "124");
        assert_eq!(format!("{:?}", CmdState(-1)), "-1");
        assert_eq!(CmdState(42).as_str(), None);
        assert_eq!(format!("{SCST_MCMD_STATE_DONE:?}"), "SCST_MCMD_STATE_DONE");
        assert_eq!(format!("{:?}", McmdState(7)), "7");
        assert_eq!(format!("{SCST_CONTEXT_SAME:?}"), "SCST_CONTEXT_SAME");
        assert_eq!(format!("{:?}", ScstExecContext(5)), "5");
        // A value a handler returns outside the list round-trips.
        let odd = CmdState(777);
        assert_eq!(odd.0, 777);
        assert_ne!(odd, SCST_CMD_STATE_DEFAULT);
    }

    #[test]
    fn other_header_values() {
        assert_eq!(
            [
                SCST_RX_STATUS_SUCCESS,
                SCST_RX_STATUS_ERROR,
                SCST_RX_STATUS_ERROR_SENSE_SET
            ],
            [0, 1, 2]
        );
        assert_eq!(SCST_RX_STATUS_ERROR_FATAL, 3);
        assert_eq!(SCST_PREPROCESS_STATUS_SUCCESS, 0);
        assert_eq!(SCST_PREPROCESS_STATUS_ERROR, 1);
        assert_eq!(SCST_PREPROCESS_STATUS_ERROR_SENSE_SET, 2);
        assert_eq!(SCST_PREPROCESS_STATUS_ERROR_FATAL, 3);
        assert_eq!(
            [
                SCST_AEN_RES_SUCCESS,
                SCST_AEN_RES_NOT_SUPPORTED,
                SCST_AEN_RES_FAILED
            ],
            [0, -1, -2]
        );
        assert_eq!(
            [
                SCST_SESS_IPH_INITING,
                SCST_SESS_IPH_SUCCESS,
                SCST_SESS_IPH_FAILED,
                SCST_SESS_IPH_READY
            ],
            [0, 1, 2, 3]
        );
        assert_eq!(SCST_SESS_SPH_UNREG_DONE_CALLING, 2);
        assert_eq!(SCST_CMD_DEVICE_TAS, 4);
        assert_eq!(SCST_TGT_DEV_FORWARDING, 5);
        assert_eq!(SCST_IO_GROUPING_NEVER, -2);
        assert_eq!(SCST_SENSE_ASCx_VALID, 6);
        assert_eq!(SCST_SENSE_ALL_VALID, 7);
        assert_eq!(SCST_DIF_MODE_DEV, 12);
        assert_eq!(SCST_DIF_CHECKS_MASK, 7);
        assert_eq!(SCST_DIF_ACTION_MASK, 0x70);
        assert_eq!(SCST_DIF_ACTION_PASS, 0x40);
        assert_eq!(SCST_DIF_DEV_ACTION_SHIFT, 8);
        assert_eq!(NO_SUCH_LUN, 0xFFFF_FFFF_FFFF_FFFF);
        assert_eq!(SESS_TGT_DEV_LIST_HASH_SIZE, 32);
        assert_eq!(SESS_TGT_DEV_LIST_HASH_FN(0x1234_5678_9ABC_DEF7), 0x17);
        assert_eq!(SCST_THREADS_POOL_TYPE_INVALID, 2);
        assert_eq!(SCST_ACG_BLACK_HOLE_DATA_MCMD, 4);
        assert_eq!(SCST_SUSPEND_TIMEOUT_USER, 90_000);
        assert_eq!(SCST_INVAL_FIELD_BIT_OFFS_VALID, 0x8000);
        assert!(SCST_INTERFACE_VERSION.starts_with("3.3.0-pre1-procfs"));
        assert_eq!(SCST_INTERFACE_VERSION.len(), "3.3.0-pre1-procfs".len() + 80);
        assert_eq!(SCST_PROC_ENTRY_NAME, "scsi_tgt");
    }

    struct NoRelease;
    impl ScstTgtTemplateOps for NoRelease {
        fn release(&self, _tgt: &Arc<ScstTgt>) -> i32 {
            0
        }
    }

    /// The per-object lists are `LockedBy` the global `scst_mutex`: a guard of any other lock
    /// is refused (C: the "protected by scst_mutex" rule, checked at run time).
    #[test]
    #[should_panic(expected = "does not belong")]
    fn object_lists_refuse_a_guard_of_another_lock() {
        let other = kemu::sync::Mutex::new(());
        let vtt = ScstTgtTemplate::new("x", Arc::new(NoRelease));
        assert!(format!("{vtt:?}").contains("\"x\""));
        let _ = vtt.tgt_list.access(&other.lock());
    }

    #[test]
    fn cpu_mask_covers_the_online_cpus() {
        let m = CpuMask::setall();
        assert!(m.test_cpu(0));
        assert!(!m.test_cpu(kemu::kthread::num_online_cpus()));
    }
}
