// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2004 - 2016 Vladislav Bolkhovitin <vst@vlnb.net>
// Copyright (C) 2004 - 2005 Leonid Stoljar
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2010 - 2011 Bart Van Assche <bvanassche@acm.org>
// Copyright (C) 2026 The scst-rs authors
//! The public SCST interface: the port of `scst/include/scst.h`.
//!
//! **So far this module holds only the constants of the header** — command and management
//! states, execution contexts, the result codes of target-driver and handler callbacks,
//! session phases, flag bit numbers and the other pure values — in the order of the header.
//! The structures (`scst_tgt_template`, `scst_cmd`, `scst_session`, …), the templates and the
//! inline accessors of `scst.h` come later, below this section.
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
use kemu::timer::HZ;

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
}
