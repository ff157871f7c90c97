// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2004 - 2005 FUJITA Tomonori <tomof@acm.org>
// Copyright (C) 2007 - 2016 Vladislav Bolkhovitin
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! The control device `iscsi-scst-ctl`: the port of `iscsi-scst/kernel/config.c` (procfs
//! build): the ioctls the daemon drives the driver with, one opener at a time, and deleting
//! every target when the daemon closes it.
//!
//! Not ported yet: the `/proc/scsi_tgt/iscsi/*` entries (`iscsi_procfs_init`, with the /proc
//! tree of issue 8), `iscsi_dump_pdu` (debug builds only). Not needed: the sysfs-only ioctls
//! (`ISCSI_ATTR_ADD`, `ISCSI_ATTR_DEL`, `MGMT_CMD_CALLBACK` answer `EINVAL` as an unknown
//! command does in the procfs build).
#![doc(alias = "config.c")]
#![allow(non_upper_case_globals)]

use std::sync::atomic::Ordering;
use std::sync::Arc;

use kemu::chrdev::{register_chrdev, unregister_chrdev, FileOperations, IoctlArg};
use kemu::sync::{Mutex, MutexGuard};
use kemu::{Errno, PRINT_ERROR, PRINT_WARNING, TRACE, TRACE_DBG};

use crate::abi::*;
use crate::conn::{__add_conn, __del_conn};
use crate::event::{
    ctr_open_state, ISCSI_CTR_OPEN_STATE_CLOSED, ISCSI_CTR_OPEN_STATE_CLOSING,
    ISCSI_CTR_OPEN_STATE_OPEN,
};
use crate::iscsi::{IscsiSession, ISCSI_CONN_IOV_MAX, TRACE_FLAG};
use crate::param::iscsi_params_set;
use crate::session::{__add_session, __del_session, session_lookup};
use crate::target::{
    __add_target, __del_target, target_del_all, target_lookup_by_id, target_mgmt_mutex, TargetMgmt,
    TargetMutex,
};

/// C `ctr_name`: the name the control device is registered under.
pub const ctr_name: &str = "iscsi-scst-ctl";

/// C `ctr_major`: the registered major (0: none).
static CTR_MAJOR: Mutex<u32> = Mutex::new(0);

/// The per-connection handler of `ADD_CONN` / `DEL_CONN`.
type ConnFn = fn(
    &Arc<IscsiSession>,
    &mut MutexGuard<'_, TargetMutex>,
    &iscsi_kern_conn_info,
) -> Result<(), Errno>;

/// The common part of config.c add_conn() and del_conn(): copies the argument in and finds
/// the target (`ENOENT`) and, under its `target_mutex`, the session (`ENOENT`), then runs `f`.
fn conn_ioctl(mgmt: &mut TargetMgmt, arg: &IoctlArg<'_>, f: ConnFn) -> Result<i32, Errno> {
    let info: iscsi_kern_conn_info = arg.copy_from_user().inspect_err(|_| {
        PRINT_ERROR!("Failed to copy user's bytes");
    })?;
    let Some(target) = target_lookup_by_id(mgmt, info.tid) else {
        PRINT_ERROR!("Target {} not found", info.tid);
        return Err(Errno::ENOENT);
    };
    let mut g = target.target_mutex.lock();
    let Some(session) = session_lookup(&target, &g, info.sid) else {
        PRINT_ERROR!("Session {:x} not found", info.sid);
        return Err(Errno::ENOENT);
    };
    f(&session, &mut g, &info).map(|()| 0)
}

/// C: config.c add_conn().
fn add_conn(mgmt: &mut TargetMgmt, arg: &IoctlArg<'_>) -> Result<i32, Errno> {
    conn_ioctl(mgmt, arg, __add_conn)
}

/// C: config.c del_conn().
fn del_conn(mgmt: &mut TargetMgmt, arg: &IoctlArg<'_>) -> Result<i32, Errno> {
    conn_ioctl(mgmt, arg, __del_conn)
}

/// The NUL the kernel writes into the last byte of every name it copied in.
fn terminate(name: &mut [u8]) {
    if let Some(last) = name.last_mut() {
        *last = 0;
    }
}

/// C: config.c add_session().
fn add_session(mgmt: &mut TargetMgmt, arg: &IoctlArg<'_>) -> Result<i32, Errno> {
    let mut info: Box<iscsi_kern_session_info> =
        Box::new(arg.copy_from_user().inspect_err(|_| {
            PRINT_ERROR!("Failed to copy user's bytes");
        })?);
    terminate(&mut info.initiator_name);
    terminate(&mut info.user_name);
    terminate(&mut info.full_initiator_name);

    let Some(target) = target_lookup_by_id(mgmt, info.tid) else {
        PRINT_ERROR!("Target {} not found", info.tid);
        return Err(Errno::ENOENT);
    };
    __add_session(&target, &info).map(|()| 0)
}

/// C: config.c del_session().
fn del_session(mgmt: &mut TargetMgmt, arg: &IoctlArg<'_>) -> Result<i32, Errno> {
    let mut info: Box<iscsi_kern_session_info> =
        Box::new(arg.copy_from_user().inspect_err(|_| {
            PRINT_ERROR!("Failed to copy user's bytes");
        })?);
    terminate(&mut info.initiator_name);
    terminate(&mut info.user_name);

    let Some(target) = target_lookup_by_id(mgmt, info.tid) else {
        PRINT_ERROR!("Target {} not found", info.tid);
        return Err(Errno::ENOENT);
    };
    let mut g = target.target_mutex.lock();
    __del_session(&target, &mut g, info.sid).map(|()| 0)
}

/// C: config.c iscsi_params_config(): `ISCSI_PARAM_SET` (`set`) / `ISCSI_PARAM_GET`.
fn iscsi_params_config(
    mgmt: &mut TargetMgmt,
    arg: &mut IoctlArg<'_>,
    set: bool,
) -> Result<i32, Errno> {
    let mut info: iscsi_kern_params_info = arg.copy_from_user().inspect_err(|_| {
        PRINT_ERROR!("Failed to copy user's bytes");
    })?;
    let Some(target) = target_lookup_by_id(mgmt, info.tid) else {
        PRINT_ERROR!("Target {} not found", info.tid);
        return Err(Errno::ENOENT);
    };
    {
        let mut g = target.target_mutex.lock();
        iscsi_params_set(&target, &mut g, &mut info, set)?;
    }
    if !set {
        arg.copy_to_user(&info).inspect_err(|_| {
            PRINT_ERROR!("Failed to copy to user");
        })?;
    }
    Ok(0)
}

/// C: config.c iscsi_initiator_allowed(): 1 if the initiator would see LUNs of the target.
fn iscsi_initiator_allowed(mgmt: &mut TargetMgmt, arg: &IoctlArg<'_>) -> Result<i32, Errno> {
    let mut cinfo: iscsi_kern_initiator_info = arg.copy_from_user().inspect_err(|_| {
        PRINT_ERROR!("Failed to copy user's bytes");
    })?;
    terminate(&mut cinfo.full_initiator_name);
    let Some(target) = target_lookup_by_id(mgmt, cinfo.tid) else {
        PRINT_ERROR!("Target {} not found", cinfo.tid);
        return Err(Errno::ENOENT);
    };
    let name = String::from_utf8_lossy(cstr(&cinfo.full_initiator_name)).into_owned();
    Ok(i32::from(scst_core::scst_targ::scst_initiator_has_luns(
        &target.scst_tgt,
        &name,
    )))
}

/// C: config.c add_target().
fn add_target(mgmt: &mut TargetMgmt, arg: &IoctlArg<'_>) -> Result<i32, Errno> {
    let mut info: iscsi_kern_target_info = arg.copy_from_user().inspect_err(|_| {
        PRINT_ERROR!("Failed to copy user's bytes");
    })?;
    if target_lookup_by_id(mgmt, info.tid).is_some() {
        PRINT_ERROR!("Target {} already exist!", info.tid);
        return Err(Errno::EEXIST);
    }
    terminate(&mut info.name);
    let tid = __add_target(mgmt, &mut info)?;
    i32::try_from(tid).map_err(|_| Errno::EINVAL)
}

/// C: config.c del_target().
fn del_target(mgmt: &mut TargetMgmt, arg: &IoctlArg<'_>) -> Result<i32, Errno> {
    let mut info: iscsi_kern_target_info = arg.copy_from_user().inspect_err(|_| {
        PRINT_ERROR!("Failed to copy user's bytes");
    })?;
    terminate(&mut info.name);
    __del_target(mgmt, info.tid).map(|()| 0)
}

/// C: config.c iscsi_register(): `REGISTER_USERD`: checks the daemon's interface version and
/// answers the driver's limits.
fn iscsi_register(arg: &mut IoctlArg<'_>) -> Result<i32, Errno> {
    let reg: iscsi_kern_register_info = arg.copy_from_user().inspect_err(|_| {
        PRINT_ERROR!("Unable to get register info");
    })?;

    // C copies sizeof(ISCSI_SCST_INTERFACE_VERSION)+1 bytes and terminates them.
    let max = ISCSI_SCST_INTERFACE_VERSION.len() + 2;
    let ver = arg.strncpy_from_user(reg.version(), max).inspect_err(|_| {
        PRINT_ERROR!("Unable to get version string");
    })?;
    let ver = &ver[..ver.len().min(max - 1)];

    if ver != ISCSI_SCST_INTERFACE_VERSION.as_bytes() {
        PRINT_ERROR!(
            "Incorrect version of user space {} (expected {})",
            String::from_utf8_lossy(ver),
            ISCSI_SCST_INTERFACE_VERSION
        );
        return Err(Errno::EINVAL);
    }

    let mut out = iscsi_kern_register_info::default();
    out.set_max_data_seg_len(
        i32::try_from(ISCSI_CONN_IOV_MAX << kemu::mm::PAGE_SHIFT).unwrap_or(i32::MAX),
    );
    // In iSCSI all LUs of a session share the queue depth, so it is not limited further.
    out.set_max_queued_cmds(MAX_NR_QUEUED_CMNDS);

    arg.copy_to_user(&out).inspect_err(|_| {
        PRINT_ERROR!("Failed to copy to user");
    })?;
    Ok(0)
}

/// The control device's file operations (C `ctr_fops`).
#[derive(Debug)]
pub struct CtrFops;

impl FileOperations for CtrFops {
    /// C: config.c open(): one opener at a time (`EBUSY`).
    fn open(&self) -> Result<(), Errno> {
        let _mgmt = target_mgmt_mutex.lock();
        let already = ctr_open_state.load(Ordering::Acquire) != ISCSI_CTR_OPEN_STATE_CLOSED;
        if already {
            PRINT_WARNING!("Attempt to second open the control device!");
            return Err(Errno::EBUSY);
        }
        ctr_open_state.store(ISCSI_CTR_OPEN_STATE_OPEN, Ordering::Release);
        Ok(())
    }

    /// C: config.c release(): the daemon went away: delete every target.
    fn release(&self) {
        TRACE!(kemu::printk::TRACE_MGMT, "Releasing allocated resources");
        {
            let _mgmt = target_mgmt_mutex.lock();
            ctr_open_state.store(ISCSI_CTR_OPEN_STATE_CLOSING, Ordering::Release);
        }
        target_del_all();
        let _mgmt = target_mgmt_mutex.lock();
        ctr_open_state.store(ISCSI_CTR_OPEN_STATE_CLOSED, Ordering::Release);
    }

    /// C: config.c ioctl(): every command but `REGISTER_USERD` runs under
    /// `target_mgmt_mutex`.
    fn unlocked_ioctl(&self, cmd: u32, arg: &mut IoctlArg<'_>) -> Result<i32, Errno> {
        if cmd == REGISTER_USERD {
            return iscsi_register(arg);
        }

        let mut mgmt = target_mgmt_mutex.lock();
        let m = &mut *mgmt;
        let res = match cmd {
            ADD_TARGET => add_target(m, arg),
            DEL_TARGET => del_target(m, arg),
            ISCSI_INITIATOR_ALLOWED => iscsi_initiator_allowed(m, arg),
            ADD_SESSION => add_session(m, arg),
            DEL_SESSION => del_session(m, arg),
            ISCSI_PARAM_SET => iscsi_params_config(m, arg, true),
            ISCSI_PARAM_GET => iscsi_params_config(m, arg, false),
            ADD_CONN => add_conn(m, arg),
            DEL_CONN => del_conn(m, arg),
            _ => {
                PRINT_ERROR!("Invalid ioctl cmd {:x}", cmd);
                Err(Errno::EINVAL)
            }
        };
        TRACE_DBG!("ioctl {:x}: {:?}", cmd, res);
        res
    }
}

/// Registers the control device (C: `register_chrdev(0, ctr_name, &ctr_fops)` in
/// `iscsi_init`).
pub fn ctr_register() -> Result<(), Errno> {
    let major = register_chrdev(0, ctr_name, Arc::new(CtrFops)).inspect_err(|e| {
        PRINT_ERROR!("failed to register the control device {}", e);
    })?;
    *CTR_MAJOR.lock() = major;
    Ok(())
}

/// Unregisters the control device (C: `unregister_chrdev(ctr_major, ctr_name)`).
pub fn ctr_unregister() {
    let mut major = CTR_MAJOR.lock();
    if *major != 0 {
        unregister_chrdev(*major, ctr_name);
        *major = 0;
    }
}
