// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2026 The scst-rs authors
//! Port of `scst/src/scst_pres.c` + `scst_pres.h`: SPC-3/SPC-4 persistent reservations.
//!
//! The PR state of a device (registrants, holder, type, scope, generation, APTPL, the file
//! names) is [`ScstDevPr`] under the device's `dev_pr_mutex`, as C's `dev_pr_mutex` protects
//! it (r7105 has no reader/writer distinction: `scst_pr_read_lock()` and
//! `scst_pr_write_lock()` take the same mutex). C's registrant pointers become registrant ids
//! ([`ScstDevRegistrant::reg_id`]): `tgt_dev->registrant` and `dev->pr_holder` hold the id.
//!
//! Lock order: `scst_mutex` → `dev_pr_mutex` → a command's data lock (`cmd.d`). The PR
//! handlers below are called with `dev_pr_mutex` held and set the command's status through
//! the `scst_set_cmd_error*()` helpers, which take `cmd.d` briefly; nothing here takes
//! `scst_mutex` under `dev_pr_mutex` (C's `scst_mutex2` readers get a snapshot taken before,
//! see [`ScstPrPort`]).
//!
//! Adaptations (see docs/PORTING.md): the PR file directory is a settable global
//! ([`scst_pr_set_dir`]); APTPL is supported as in C's sysfs builds (C's procfs builds refuse
//! it), with the file format of C on x86 (little-endian signature, version and relative
//! target port id, big-endian key); there is no DLM cluster mode (`scst_no_dlm.c` behaviour
//! only); PREEMPT AND ABORT does not abort the preempted nexuses' commands until task
//! management is ported ([`scst_pr_abort_reg`]); unit attentions go through
//! [`scst_pr_queue_ua`].
#![doc(alias = "scst_pres.c")]
#![doc(alias = "scst_pres.h")]

use crate::scst::{
    scst_cmd_get_cdb, scst_cmd_get_status, CmdState, ScstCmd, ScstDevPr, ScstDevRegistrant,
    ScstDevice, ScstExecContext, ScstPrAbortAllPendingMgmtCmdsCounter, ScstTgtDev,
    SCST_INVAL_FIELD_BIT_OFFS_VALID,
};
use crate::scst_const::*;
use crate::scst_lib::{
    scst_set_busy, scst_set_cmd_error, scst_set_cmd_error_status, scst_set_invalid_field_in_cdb,
    scst_set_invalid_field_in_parm_list, scst_set_resp_data_len,
};
use crate::scst_main::scst_trace_flag as TRACE_FLAG;
use kemu::sync::RwLock;
use kemu::{Errno, PRINT_CRIT_ERROR, PRINT_ERROR, PRINT_INFO, TRACE_DBG};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Weak};

/// C `TRACE_PR()`: a trace line under `TRACE_PRES`.
macro_rules! TRACE_PR {
    ($($arg:tt)+) => {
        kemu::TRACE!(kemu::printk::TRACE_PRES, $($arg)+)
    };
}

/// C `FILE_BUFFER_SIZE` is not needed: files are read whole.
/// The largest PR file C accepts (`scst_pr_do_load_device_file()`: 15 MiB).
const SCST_PR_FILE_MAX_SIZE: u64 = 15 * 1024 * 1024;

/// What [`scst_tid_size`] answers for an iSCSI TransportID too short to hold its length: more
/// than any parameter list, so the callers' bounds checks refuse it.
const SCST_TID_SIZE_INVALID: usize = 0x1_0004;

/// C `SCST_PR_DIR`, settable: where `scst_pr_set_file_name()` puts the devices' PR files.
static SCST_PR_DIR_PATH: RwLock<Option<PathBuf>> = RwLock::new(None);

/// The source of [`ScstDevRegistrant::reg_id`] (C: the registrant's address).
static SCST_PR_REG_ID: AtomicU64 = AtomicU64::new(1);

/// Sets the directory of the PR files (C: the constant `SCST_PR_DIR`, default
/// `/var/lib/scst/pr`). Devices registered afterwards use it.
pub fn scst_pr_set_dir(path: PathBuf) {
    *SCST_PR_DIR_PATH.write() = Some(path);
}

/// The directory of the PR files ([`scst_pr_set_dir`], default [`SCST_PR_DIR`]).
pub fn scst_pr_get_dir() -> PathBuf {
    SCST_PR_DIR_PATH
        .read()
        .clone()
        .unwrap_or_else(|| PathBuf::from(SCST_PR_DIR))
}

/// Queues the unit attention `key`/`asc`/`ascq` for the nexus `tgt_dev` (C:
/// `scst_set_sense()` + `scst_check_set_UA(tgt_dev, ua, sizeof(ua), 0)`).
pub fn scst_pr_queue_ua(tgt_dev: &Arc<ScstTgtDev>, key: u8, asc: u8, ascq: u8) {
    TRACE_PR!(
        "Queueing UA [{:x} {:x} {:x}]: tgt_dev {:?}",
        key,
        asc,
        ascq,
        tgt_dev
    );
    let mut ua = [0u8; crate::scst_const::SCST_STANDARD_SENSE_LEN];
    let d_sense = tgt_dev
        .dev
        .d_sense
        .load(std::sync::atomic::Ordering::SeqCst);
    crate::scst_lib::scst_set_sense(&mut ua, d_sense, key, asc, ascq);
    // C passes sizeof(ua), the whole standard-length buffer.
    crate::scst_lib::scst_check_set_UA(tgt_dev, &ua, 0);
}

/// A target port as `__scst_pr_register()` with ALL_TG_PT sees it: C walks
/// `scst_template_list` under `scst_mutex2` from inside `dev_pr_mutex`; the port takes this
/// snapshot under `scst_mutex` before `dev_pr_mutex` ([`scst_pr_snapshot_ports`]).
#[derive(Debug, Clone)]
pub struct ScstPrPort {
    /// The target's `rel_tgt_id`.
    pub rel_tgt_id: u16,
    /// The protocol id of its driver (`get_initiator_port_transport_id(tgt, NULL)`).
    pub proto_id: u8,
    /// The target's name (traces).
    pub tgt_name: String,
}

/// The ports of every target whose driver supports PR (C: the loops of
/// `scst_pr_register_all_tg_pt()` and `scst_pr_unregister_all_tg_pt()`). Takes `scst_mutex`:
/// must not be called with `dev_pr_mutex` held.
pub fn scst_pr_snapshot_ports() -> Vec<ScstPrPort> {
    let g = crate::scst_main::scst_mutex.lock();
    let mut v = Vec::new();
    for (_, tgtt) in g.scst_template_list.iter() {
        for (_, tgt) in tgtt.tgt_list.access(&g).iter() {
            if let Some(Ok(id)) = tgtt.ops.get_initiator_port_transport_id(tgt, None) {
                v.push(ScstPrPort {
                    rel_tgt_id: tgt.rel_tgt_id,
                    proto_id: id.first().copied().unwrap_or(0) & 0x0f,
                    tgt_name: tgt.tgt_name.clone(),
                });
            }
        }
    }
    v
}

/// What the PR OUT handlers need of the command (C passes `cmd` and reaches `cmd->dev`,
/// `cmd->tgt_dev`, `cmd->sess` and `cmd->cdb` through it).
#[derive(Debug)]
pub struct ScstPrCmd<'a> {
    /// The command (status and sense are set on it).
    pub cmd: &'a Arc<ScstCmd>,
    /// C `cmd->dev`.
    pub dev: &'a Arc<ScstDevice>,
    /// C `cmd->tgt_dev`.
    pub tgt_dev: &'a Arc<ScstTgtDev>,
    /// C `cmd->cdb` (at least 16 bytes, zero-padded).
    pub cdb: Vec<u8>,
    /// C `cmd->sess->transport_id`.
    pub transport_id: Option<Vec<u8>>,
    /// C `cmd->sess->tgt->rel_tgt_id`.
    pub rel_tgt_id: u16,
    /// The target ports for ALL_TG_PT (empty unless the parameter list asks for it).
    pub ports: Vec<ScstPrPort>,
}

impl<'a> ScstPrCmd<'a> {
    /// The context of `cmd` on `tgt_dev`.
    pub fn new(cmd: &'a Arc<ScstCmd>, tgt_dev: &'a Arc<ScstTgtDev>) -> Self {
        let mut cdb = scst_cmd_get_cdb(cmd);
        if cdb.len() < 16 {
            cdb.resize(16, 0);
        }
        Self {
            cmd,
            dev: &tgt_dev.dev,
            tgt_dev,
            cdb,
            transport_id: tgt_dev.sess.transport_id.read().clone(),
            rel_tgt_id: tgt_dev.sess.tgt.rel_tgt_id,
            ports: Vec::new(),
        }
    }

    fn registrant(&self) -> Option<u64> {
        match self.tgt_dev.registrant.load(SeqCst) {
            0 => None,
            id => Some(id),
        }
    }
}

fn get_be64(b: &[u8], offs: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(offs..offs + 8) {
        a.copy_from_slice(s);
    }
    u64::from_be_bytes(a)
}

fn get_be32(b: &[u8], offs: usize) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(offs..offs + 4) {
        a.copy_from_slice(s);
    }
    u32::from_be_bytes(a)
}

fn get_be16(b: &[u8], offs: usize) -> u16 {
    let mut a = [0u8; 2];
    if let Some(s) = b.get(offs..offs + 2) {
        a.copy_from_slice(s);
    }
    u16::from_be_bytes(a)
}

fn byte(b: &[u8], offs: usize) -> u8 {
    b.get(offs).copied().unwrap_or(0)
}

/// C `scst_tid_size()`: the length of the TransportID at the start of `tid`: the iSCSI
/// format's additional length + 4, otherwise `TID_COMMON_SIZE`.
pub fn scst_tid_size(tid: &[u8]) -> usize {
    match tid {
        [b0, _, h, l, ..] if b0 & 0x0f == SCSI_TRANSPORTID_PROTOCOLID_ISCSI => {
            usize::from(u16::from_be_bytes([*h, *l])) + 4
        }
        [b0, ..] if b0 & 0x0f == SCSI_TRANSPORTID_PROTOCOLID_ISCSI => SCST_TID_SIZE_INVALID,
        _ => TID_COMMON_SIZE,
    }
}

/// C `tid_secure()`: NUL-terminates an iSCSI TransportID in its last byte, so that the name
/// in it can be read as a string.
fn tid_secure(tid: &mut [u8]) {
    if byte(tid, 0) & 0x0f == SCSI_TRANSPORTID_PROTOCOLID_ISCSI {
        let size = scst_tid_size(tid);
        if let Some(b) = tid.get_mut(size - 1) {
            *b = 0;
        }
    }
}

/// `strnlen()` of the name in an iSCSI TransportID.
fn tid_strnlen(name: &[u8], max: usize) -> usize {
    let name = &name[..max.min(name.len())];
    name.iter().position(|&c| c == 0).unwrap_or(name.len())
}

/// The length of the iSCSI name of a TransportID in format `fmt` as `tid_equal()` compares
/// it (None: invalid).
fn tid_name_len(tid: &[u8], fmt: u8, other_fmt: u8) -> Option<usize> {
    let max = scst_tid_size(tid).saturating_sub(4);
    let name = tid.get(4..).unwrap_or(&[]);
    match fmt {
        0x00 => Some(tid_strnlen(name, max)),
        0x40 => {
            if fmt != other_fmt {
                // Format 1 names are "<iSCSI name>,i,0x<ISID>": compare up to the comma.
                let n = tid_strnlen(name, max);
                name[..n].iter().position(|&c| c == b',')
            } else {
                Some(tid_strnlen(name, max))
            }
        }
        _ => None,
    }
}

/// C `tid_equal()`: whether two TransportIDs name the same initiator port. iSCSI names are
/// compared case-insensitively; a format-0 name (initiator device) matches a format-1 name
/// (initiator port) of the same device.
pub fn tid_equal(tid_a: Option<&[u8]>, tid_b: Option<&[u8]>) -> bool {
    let (Some(a), Some(b)) = (tid_a, tid_b) else {
        return false;
    };
    let (Some(&a0), Some(&b0)) = (a.first(), b.first()) else {
        return false;
    };
    if (a0 & 0x0f) != (b0 & 0x0f) {
        TRACE_DBG!("Different protocol IDs");
        return false;
    }
    if (a0 & 0x0f) == SCSI_TRANSPORTID_PROTOCOLID_ISCSI {
        let a_fmt = a0 & 0xc0;
        let b_fmt = b0 & 0xc0;
        let (Some(a_len), Some(b_len)) =
            (tid_name_len(a, a_fmt, b_fmt), tid_name_len(b, b_fmt, a_fmt))
        else {
            PRINT_ERROR!("Invalid initiator port transport id");
            return false;
        };
        if a_len != b_len {
            return false;
        }
        let (Some(an), Some(bn)) = (a.get(4..4 + a_len), b.get(4..4 + b_len)) else {
            return false;
        };
        return an.eq_ignore_ascii_case(bn);
    }
    match (a.get(..TID_COMMON_SIZE), b.get(..TID_COMMON_SIZE)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// C `debug_transport_id_to_initiator_name()`: the name in an iSCSI TransportID, for traces.
fn tid_name(tid: &[u8]) -> String {
    if byte(tid, 0) & 0x0f == SCSI_TRANSPORTID_PROTOCOLID_ISCSI {
        let name = tid.get(4..).unwrap_or(&[]);
        let n = tid_strnlen(name, scst_tid_size(tid).saturating_sub(4));
        String::from_utf8_lossy(&name[..n]).into_owned()
    } else {
        format!("{:02x?}", &tid[..tid.len().min(TID_COMMON_SIZE)])
    }
}

/// The iSCSI TransportID of an initiator port as C's iSCSI target driver builds it
/// (`iscsi_get_initiator_port_transport_id()`): format 1 (initiator port,
/// "`<initiator name>`,i,0x`<ISID>`"), NUL-terminated and padded to a multiple of 4 bytes.
/// `isid` is the session id with its TSIH part cleared, as C prints it (`%llx`).
pub fn scst_pr_iscsi_transport_id(initiator_name: &str, isid: u64) -> Vec<u8> {
    let s = format!("{},i,0x{:x}", initiator_name, isid);
    // C: 4 + strlen(name) + 5 + strlen("%llx") + 1, rounded up to 4.
    let size = (4 + s.len() + 1 + 3) & !3;
    let mut tid = vec![0u8; size];
    tid[0] = 0x40 | SCSI_TRANSPORTID_PROTOCOLID_ISCSI;
    let add_len = u16::try_from(size - 4).unwrap_or(u16::MAX);
    tid[2..4].copy_from_slice(&add_len.to_be_bytes());
    tid[4..4 + s.len()].copy_from_slice(s.as_bytes());
    tid
}

fn reg_idx(pr: &ScstDevPr, reg_id: u64) -> Option<usize> {
    pr.dev_registrants_list
        .iter()
        .position(|r| r.reg_id == reg_id)
}

fn reg_key(pr: &ScstDevPr, reg_id: u64) -> Option<u64> {
    reg_idx(pr, reg_id).map(|i| pr.dev_registrants_list[i].key)
}

/// C `scst_pr_set_holder()`: `holder` reserves with `scope`/`type_` (for the all-registrants
/// types every registrant holds it and `pr_holder` is not set).
pub fn scst_pr_set_holder(pr: &mut ScstDevPr, holder: Option<u64>, scope: u8, type_: u8) {
    pr.set_pr_is_set(true);
    pr.pr_scope = scope;
    pr.pr_type = type_;
    if pr.pr_type != TYPE_EXCLUSIVE_ACCESS_ALL_REG && pr.pr_type != TYPE_WRITE_EXCLUSIVE_ALL_REG {
        pr.pr_holder = holder;
    }
}

/// C `scst_pr_is_holder()`.
fn scst_pr_is_holder(pr: &ScstDevPr, reg: Option<u64>) -> bool {
    if !pr.pr_is_set {
        return false;
    }
    if pr.pr_type == TYPE_EXCLUSIVE_ACCESS_ALL_REG || pr.pr_type == TYPE_WRITE_EXCLUSIVE_ALL_REG {
        reg.is_some()
    } else {
        reg.is_some() && pr.pr_holder == reg
    }
}

/// C `scst_pr_dump_prs()`: logs the PR state (only with `TRACE_PRES` unless `force`).
pub fn scst_pr_dump_prs(dev: &ScstDevice, pr: &ScstDevPr, force: bool) {
    if !force && !TRACE_FLAG.enabled(kemu::printk::TRACE_PRES) {
        return;
    }
    PRINT_INFO!("Persistent reservations for device {}:", dev.virt_name);
    if pr.dev_registrants_list.is_empty() {
        PRINT_INFO!("  No registrants");
    } else {
        for (i, reg) in pr.dev_registrants_list.iter().enumerate() {
            PRINT_INFO!(
                "  [{}] registrant {}/{}, key {:016x} (reg {}, tgt_dev {})",
                i,
                tid_name(&reg.transport_id),
                reg.rel_tgt_id,
                reg.key,
                reg.reg_id,
                reg.tgt_dev.as_ref().is_some_and(|t| t.strong_count() > 0)
            );
        }
    }
    if pr.pr_is_set {
        match pr.pr_holder.and_then(|h| reg_idx(pr, h)) {
            Some(i) => {
                let h = &pr.dev_registrants_list[i];
                PRINT_INFO!(
                    "Reservation holder is {}/{} (key {:016x}, scope {:x}, type {:x}, reg {})",
                    tid_name(&h.transport_id),
                    h.rel_tgt_id,
                    h.key,
                    pr.pr_scope,
                    pr.pr_type,
                    h.reg_id
                );
            }
            None => PRINT_INFO!(
                "All registrants are reservation holders (scope {:x}, type {:x})",
                pr.pr_scope,
                pr.pr_type
            ),
        }
    } else {
        PRINT_INFO!("Not reserved");
    }
}

/// C `scst_pr_find_registrants_list_all()`: every registrant but `exclude_reg`.
fn scst_pr_find_registrants_list_all(pr: &ScstDevPr, exclude_reg: u64) -> Vec<u64> {
    pr.dev_registrants_list
        .iter()
        .filter(|r| r.reg_id != exclude_reg)
        .map(|r| r.reg_id)
        .collect()
}

/// C `scst_pr_find_registrants_list_key()`: the registrants with `key`.
fn scst_pr_find_registrants_list_key(pr: &ScstDevPr, key: u64) -> Vec<u64> {
    pr.dev_registrants_list
        .iter()
        .filter(|r| r.key == key)
        .map(|r| r.reg_id)
        .collect()
}

/// C `scst_pr_find_reg()`: the registrant of the I_T nexus `transport_id`/`rel_tgt_id`.
pub fn scst_pr_find_reg(pr: &ScstDevPr, transport_id: &[u8], rel_tgt_id: u16) -> Option<u64> {
    pr.dev_registrants_list
        .iter()
        .find(|r| {
            r.rel_tgt_id == rel_tgt_id && tid_equal(Some(&r.transport_id), Some(transport_id))
        })
        .map(|r| r.reg_id)
}

/// C `scst_pr_clear_reservation()`.
fn scst_pr_clear_reservation(pr: &mut ScstDevPr) {
    if !pr.pr_is_set {
        kemu::PRINT_WARNING!("scst_pr_clear_reservation() without a reservation");
    }
    pr.set_pr_is_set(false);
    pr.pr_scope = SCOPE_LU;
    pr.pr_type = TYPE_UNSPECIFIED;
    pr.pr_holder = None;
}

/// C `scst_pr_clear_holder()`: the holder goes; an all-registrants reservation stays while
/// there are registrants.
pub fn scst_pr_clear_holder(pr: &mut ScstDevPr) {
    if !pr.pr_is_set {
        kemu::PRINT_WARNING!("scst_pr_clear_holder() without a reservation");
    }
    if pr.pr_type == TYPE_WRITE_EXCLUSIVE_ALL_REG || pr.pr_type == TYPE_EXCLUSIVE_ACCESS_ALL_REG {
        if pr.dev_registrants_list.is_empty() {
            scst_pr_clear_reservation(pr);
        }
    } else {
        scst_pr_clear_reservation(pr);
    }
    pr.pr_holder = None;
}

/// C `scst_pr_add_registrant()`: a new registrant (None if the nexus is registered already),
/// bound to the device's nexus of that initiator port if it has one.
pub fn scst_pr_add_registrant(
    dev: &ScstDevice,
    pr: &mut ScstDevPr,
    transport_id: &[u8],
    rel_tgt_id: u16,
    key: u64,
) -> Option<u64> {
    TRACE_PR!(
        "Registering {}/{} (dev {})",
        tid_name(transport_id),
        rel_tgt_id,
        dev.virt_name
    );
    if let Some(r) = scst_pr_find_reg(pr, transport_id, rel_tgt_id) {
        // It might happen when a target driver would make >1 session from the same
        // initiator to the same target.
        PRINT_ERROR!(
            "Registrant {}/{} (dev {}) already exists!",
            r,
            rel_tgt_id,
            dev.virt_name
        );
        return None;
    }
    let size = scst_tid_size(transport_id).min(transport_id.len());
    let reg_id = SCST_PR_REG_ID.fetch_add(1, SeqCst);
    let mut reg = ScstDevRegistrant {
        reg_id,
        transport_id: transport_id[..size].to_vec(),
        rel_tgt_id,
        key,
        tgt_dev: None,
        rollback_key: 0,
    };
    for t in pr.pr_tgt_devs.iter().filter_map(Weak::upgrade) {
        if t.sess.tgt.rel_tgt_id == rel_tgt_id
            && t.registrant.load(SeqCst) == 0
            && tid_equal(t.sess.transport_id.read().as_deref(), Some(transport_id))
        {
            TRACE_PR!("Found tgt_dev {:?}", t);
            reg.tgt_dev = Some(Arc::downgrade(&t));
            t.registrant.store(reg_id, SeqCst);
            break;
        }
    }
    pr.dev_registrants_list.push(reg);
    TRACE_PR!("Reg {} registered (dev {})", reg_id, dev.virt_name);
    Some(reg_id)
}

/// C `scst_pr_remove_registrant()`: removes the registrant (and its reservation, if it held
/// one) and unbinds its nexus.
pub fn scst_pr_remove_registrant(pr: &mut ScstDevPr, reg_id: u64) {
    let Some(i) = reg_idx(pr, reg_id) else {
        return;
    };
    let reg = pr.dev_registrants_list.remove(i);
    TRACE_PR!(
        "Removing registrant {}/{} (reg {}, key {:016x})",
        tid_name(&reg.transport_id),
        reg.rel_tgt_id,
        reg.reg_id,
        reg.key
    );
    if scst_pr_is_holder(pr, Some(reg_id)) {
        scst_pr_clear_holder(pr);
    }
    if let Some(t) = reg.tgt_dev.as_ref().and_then(Weak::upgrade) {
        let _ = t.registrant.compare_exchange(reg_id, 0, SeqCst, SeqCst);
    }
}

/// C `scst_pr_remove_registrants()`.
fn scst_pr_remove_registrants(pr: &mut ScstDevPr) {
    let ids: Vec<u64> = pr.dev_registrants_list.iter().map(|r| r.reg_id).collect();
    for id in ids {
        scst_pr_remove_registrant(pr, id);
    }
}

/// C `scst_pr_send_ua_reg()`: the unit attention for the registrant's nexus, if it has one.
fn scst_pr_send_ua_reg(pr: &ScstDevPr, reg_id: u64, sense: (u8, u8, u8)) {
    let Some(i) = reg_idx(pr, reg_id) else {
        return;
    };
    let reg = &pr.dev_registrants_list[i];
    TRACE_PR!(
        "Queueing UA [{:x} {:x} {:x}]: registrant {}/{} ({}), key {:016x}",
        sense.0,
        sense.1,
        sense.2,
        tid_name(&reg.transport_id),
        reg.rel_tgt_id,
        reg.reg_id,
        reg.key
    );
    if let Some(t) = reg.tgt_dev.as_ref().and_then(Weak::upgrade) {
        scst_pr_queue_ua(&t, sense.0, sense.1, sense.2);
    }
}

/// C `scst_pr_send_ua_all()`: the unit attention for every registrant but `exclude_reg`.
fn scst_pr_send_ua_all(pr: &ScstDevPr, exclude_reg: Option<u64>, sense: (u8, u8, u8)) {
    for reg in &pr.dev_registrants_list {
        if Some(reg.reg_id) != exclude_reg {
            scst_pr_send_ua_reg(pr, reg.reg_id, sense);
        }
    }
}

/// C `scst_pr_abort_reg()` (PREEMPT AND ABORT): sends the task management function
/// `SCST_PR_ABORT_ALL` for the registrant's nexus (it is only queued for `scsi_tm`, so this
/// may run under the PR lock), counted in the PR command's `pr_abort_counter`, and, unless
/// the device has TAS, queues COMMANDS CLEARED BY ANOTHER INITIATOR for another nexus.
pub fn scst_pr_abort_reg(dev: &ScstDevice, pr: &ScstDevPr, pr_cmd: &ScstPrCmd<'_>, reg_id: u64) {
    let Some(i) = reg_idx(pr, reg_id) else {
        return;
    };
    let reg = &pr.dev_registrants_list[i];
    let Some(t) = reg.tgt_dev.as_ref().and_then(Weak::upgrade) else {
        TRACE_PR!(
            "Registrant {}/{} ({}, key {:016x}) has no session",
            tid_name(&reg.transport_id),
            reg.rel_tgt_id,
            reg.reg_id,
            reg.key
        );
        return;
    };
    let sess = &t.sess;
    TRACE_PR!(
        "Aborting {} commands for {}/{} (reg {}, key {:016x}, tgt_dev {:?}, sess {})",
        kemu::atomic::atomic_read(&t.tgt_dev_cmd_count),
        tid_name(&reg.transport_id),
        reg.rel_tgt_id,
        reg.reg_id,
        reg.key,
        t,
        sess.initiator_name
    );
    // C packs the LUN with sess->acg->addr_method; the port reaches the group through the
    // nexus, which needs no scst_mutex (not to be taken under the PR lock).
    let addr_method = t
        .acg_dev
        .acg
        .upgrade()
        .map_or(SCST_LUN_ADDR_METHOD_PERIPHERAL, |a| a.addr_method);
    let packed_lun = crate::scst_lib::scst_pack_lun(t.lun, addr_method);
    let origin: crate::scst::TgtPriv = pr_cmd.cmd.clone();
    if let Err(rc) = crate::scst_targ::scst_rx_mgmt_fn_lun(
        sess,
        SCST_PR_ABORT_ALL,
        Some(&packed_lun),
        crate::scst::SCST_NON_ATOMIC != 0,
        Some(origin),
    ) {
        // There is nothing more to do here; hopefully it never happens.
        PRINT_ERROR!(
            "SCST_PR_ABORT_ALL failed {:?} (sess {})",
            rc,
            sess.initiator_name
        );
        return;
    }
    if !Arc::ptr_eq(&t, pr_cmd.tgt_dev) && !dev.tas.load(SeqCst) {
        let s = SCST_LOAD_SENSE(scst_sense_cleared_by_another_ini_UA);
        scst_pr_queue_ua(&t, s.0, s.1, s.2);
    }
}

/// C `scst_pr_do_load_device_file()`: replaces the registrants by those of `file_name`.
fn scst_pr_do_load_device_file(
    dev: &ScstDevice,
    pr: &mut ScstDevPr,
    file_name: &Path,
) -> Result<(), Errno> {
    scst_pr_remove_registrants(pr);
    TRACE_PR!("Loading persistent file '{}'", file_name.display());
    let meta = match std::fs::metadata(file_name) {
        Ok(m) => m,
        Err(e) => {
            let res = errno_of(&e);
            TRACE_PR!(
                "Unable to open file '{}' - error {:?}",
                file_name.display(),
                res
            );
            return Err(res);
        }
    };
    if !meta.is_file() {
        // C also accepts a block device; a user-space file must be a regular file.
        PRINT_ERROR!("Invalid file mode of '{}'", file_name.display());
        return Ok(());
    }
    let file_size = meta.len();
    // Let's limit the file size by some reasonable number.
    if file_size == 0 || file_size >= SCST_PR_FILE_MAX_SIZE {
        PRINT_ERROR!("Invalid PR file size {}", file_size);
        return Err(Errno::EINVAL);
    }
    let buf = match std::fs::read(file_name) {
        Ok(b) => b,
        Err(e) => {
            PRINT_ERROR!(
                "Unable to read file '{}' - error {}",
                file_name.display(),
                e
            );
            return Err(errno_of(&e));
        }
    };
    let file_size = buf.len();
    // sign, version, aptpl, pr_is_set, pr_type, pr_scope
    let mut data_size = 8 + 8 + 1 + 1 + 1 + 1;
    if file_size < data_size {
        PRINT_ERROR!("Invalid file '{}' - size too small", file_name.display());
        return Err(Errno::EINVAL);
    }
    let rd64 = |o: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&buf[o..o + 8]);
        u64::from_le_bytes(a)
    };
    let sign = rd64(0);
    if sign != SCST_PR_FILE_SIGN {
        PRINT_ERROR!(
            "Invalid persistent file signature {:016x} (expected {:016x})",
            sign,
            SCST_PR_FILE_SIGN
        );
        return Err(Errno::EINVAL);
    }
    let version = rd64(8);
    if version != SCST_PR_FILE_VERSION {
        PRINT_ERROR!(
            "Invalid persistent file version {:016x} (expected {:016x})",
            version,
            SCST_PR_FILE_VERSION
        );
        return Err(Errno::EINVAL);
    }
    // Check the records fit before changing anything.
    while data_size < file_size {
        data_size += 1;
        data_size += scst_tid_size(&buf[data_size.min(file_size)..]);
        data_size += 8 + 2;
        if data_size > file_size {
            PRINT_ERROR!(
                "Invalid file '{}' - size mismatch have {} expected {}",
                file_name.display(),
                file_size,
                data_size
            );
            return Err(Errno::EINVAL);
        }
    }
    let mut pos = 16;
    pr.pr_aptpl = buf[pos] != 0;
    pos += 1;
    pr.set_pr_is_set(buf[pos] != 0);
    pos += 1;
    pr.pr_type = buf[pos];
    pos += 1;
    pr.pr_scope = buf[pos];
    pos += 1;
    while pos < file_size {
        let is_holder = buf[pos] != 0;
        pos += 1;
        let size = scst_tid_size(&buf[pos..]);
        let tid = buf[pos..pos + size].to_vec();
        pos += size;
        let key = get_be64(&buf, pos);
        pos += 8;
        let rel_tgt_id = u16::from_le_bytes([buf[pos], buf[pos + 1]]);
        pos += 2;
        let Some(reg) = scst_pr_add_registrant(dev, pr, &tid, rel_tgt_id, key) else {
            return Err(Errno::ENOMEM);
        };
        if is_holder {
            pr.pr_holder = Some(reg);
        }
    }
    Ok(())
}

fn errno_of(e: &std::io::Error) -> Errno {
    match e.kind() {
        std::io::ErrorKind::NotFound => Errno::ENOENT,
        std::io::ErrorKind::PermissionDenied => Errno::EACCES,
        _ => Errno::EIO,
    }
}

/// C `scst_pr_load_device_file()`: the PR file, or its backup if the file is unusable.
fn scst_pr_load_device_file(dev: &ScstDevice, pr: &mut ScstDevPr) -> Result<(), Errno> {
    let (Some(f), Some(f1)) = (pr.pr_file_name.clone(), pr.pr_file_name1.clone()) else {
        PRINT_ERROR!("Invalid file paths for '{}'", dev.virt_name);
        return Err(Errno::EINVAL);
    };
    match scst_pr_do_load_device_file(dev, pr, &f) {
        Ok(()) => {}
        Err(Errno::ENOMEM) => return Err(Errno::ENOMEM),
        Err(rc) => match scst_pr_do_load_device_file(dev, pr, &f1) {
            Ok(()) => {}
            Err(Errno::ENOENT) => return Err(rc),
            Err(e) => return Err(e),
        },
    }
    scst_pr_dump_prs(dev, pr, false);
    Ok(())
}

/// C `scst_pr_remove_device_files()`.
fn scst_pr_remove_device_files(pr: &ScstDevPr) {
    for f in [&pr.pr_file_name, &pr.pr_file_name1].into_iter().flatten() {
        let _ = std::fs::remove_file(f);
    }
}

/// C `scst_pr_sync_device_file()`: saves the PR state when APTPL is active (and removes the
/// files otherwise). The old file is kept as `<file>.1`; the signature is written last, so a
/// torn file is never taken for a good one. A failure is logged and not reported to the
/// initiator, as in C: it is safer to expect the operator to fix the directory than to fail
/// the initiator's PR commands.
pub fn scst_pr_sync_device_file(dev: &ScstDevice, pr: &ScstDevPr) {
    if !pr.pr_aptpl || pr.dev_registrants_list.is_empty() {
        scst_pr_remove_device_files(pr);
        return;
    }
    let (Some(f), Some(f1)) = (&pr.pr_file_name, &pr.pr_file_name1) else {
        PRINT_CRIT_ERROR!(
            "Unable to save persistent information (device {})",
            dev.virt_name
        );
        return;
    };
    // C scst_copy_file(): the previous state becomes the backup.
    if f.exists() {
        let _ = std::fs::copy(f, f1);
    }
    let mut data = Vec::new();
    data.extend_from_slice(&0u64.to_le_bytes()); // the signature comes last
    data.extend_from_slice(&SCST_PR_FILE_VERSION.to_le_bytes());
    data.push(u8::from(pr.pr_aptpl));
    data.push(u8::from(pr.pr_is_set));
    data.push(pr.pr_type);
    data.push(pr.pr_scope);
    for reg in &pr.dev_registrants_list {
        data.push(u8::from(pr.pr_holder == Some(reg.reg_id)));
        let size = scst_tid_size(&reg.transport_id);
        let mut tid = reg.transport_id.clone();
        tid.resize(size.min(SCST_TID_SIZE_INVALID), 0);
        data.extend_from_slice(&tid);
        data.extend_from_slice(&reg.key.to_be_bytes());
        data.extend_from_slice(&reg.rel_tgt_id.to_le_bytes());
    }
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(f)?;
        TRACE_PR!("Updating pr file '{}'", f.display());
        file.write_all(&data)?;
        file.sync_all()?;
        std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(0))?;
        file.write_all(&SCST_PR_FILE_SIGN.to_le_bytes())?;
        file.sync_all()
    };
    if let Err(e) = write() {
        PRINT_ERROR!(
            "Unable to (re)create PR file '{}' - error {}",
            f.display(),
            e
        );
        let _ = std::fs::remove_file(f);
        PRINT_CRIT_ERROR!(
            "Unable to save persistent information (device {})",
            dev.virt_name
        );
    }
}

/// C `scst_pr_set_file_name()`: where the device's PR state is saved (`path`, absolute) and
/// its backup (`path.1`); the previous name is returned through `prev`.
///
/// C fails with `ENOENT` if the parent directory does not exist; that would refuse every
/// device while the PR directory is missing, so the port warns instead and APTPL saving then
/// fails as C's does ("Unable to (re)create PR file").
pub fn scst_pr_set_file_name(
    pr: &mut ScstDevPr,
    prev: Option<&mut Option<PathBuf>>,
    path: PathBuf,
) -> Result<(), Errno> {
    if !path.is_absolute() {
        PRINT_ERROR!("PR file name {} must be absolute!", path.display());
        return Err(Errno::EINVAL);
    }
    if let Ok(m) = std::fs::metadata(&path) {
        if !m.is_file() {
            PRINT_ERROR!(
                "PR file name {} must be file or block device!",
                path.display()
            );
            return Err(Errno::EINVAL);
        }
    }
    if !path.parent().is_some_and(Path::is_dir) {
        kemu::PRINT_WARNING!(
            "PR file name {} parent directory doesn't exist",
            path.display()
        );
    }
    let mut bkp = path.clone().into_os_string();
    bkp.push(".1");
    let old = pr.pr_file_name.replace(path);
    if let Some(p) = prev {
        *p = old;
    }
    pr.pr_file_name1 = Some(PathBuf::from(bkp));
    Ok(())
}

/// C `scst_pr_init_dev()` with the `scst_pr_set_file_name(dev, NULL, "%s/%s", SCST_PR_DIR,
/// dev->virt_name)` C does just before it in `scst_register_virtual_device()`: names the
/// device's PR file and loads the saved state, if any. Called before the device is on the
/// device list.
pub fn scst_pr_init_dev(dev: &ScstDevice) -> Result<(), Errno> {
    let mut pr = dev.dev_pr_mutex.lock();
    scst_pr_set_file_name(&mut pr, None, scst_pr_get_dir().join(&dev.virt_name))?;
    match scst_pr_load_device_file(dev, &mut pr) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(e),
    }
}

/// C `scst_pr_clear_dev()`: drops the registrants (not the saved file) and the file names.
pub fn scst_pr_clear_dev(dev: &ScstDevice) {
    let mut pr = dev.dev_pr_mutex.lock();
    scst_pr_remove_registrants(&mut pr);
    pr.pr_file_name = None;
    pr.pr_file_name1 = None;
}

/// C `scst_pr_init_tgt_dev()`: a new nexus takes over the registration of its initiator port,
/// if one exists without a nexus. Called under `scst_mutex`.
pub fn scst_pr_init_tgt_dev(tgt_dev: &Arc<ScstTgtDev>) -> Result<(), Errno> {
    let dev = &tgt_dev.dev;
    let transport_id = tgt_dev.sess.transport_id.read().clone();
    let mut pr = dev.dev_pr_mutex.lock();
    pr.pr_tgt_devs.retain(|t| t.strong_count() > 0);
    pr.pr_tgt_devs.push(Arc::downgrade(tgt_dev));
    let Some(transport_id) = transport_id else {
        return Ok(());
    };
    let rel_tgt_id = tgt_dev.sess.tgt.rel_tgt_id;
    if let Some(reg_id) = scst_pr_find_reg(&pr, &transport_id, rel_tgt_id) {
        if let Some(i) = reg_idx(&pr, reg_id) {
            let reg = &mut pr.dev_registrants_list[i];
            if reg.tgt_dev.as_ref().and_then(Weak::upgrade).is_none() {
                TRACE_PR!(
                    "Assigning reg {}/{} ({}) to tgt_dev {:?} (dev {})",
                    tid_name(&transport_id),
                    rel_tgt_id,
                    reg_id,
                    tgt_dev,
                    dev.virt_name
                );
                reg.tgt_dev = Some(Arc::downgrade(tgt_dev));
                tgt_dev.registrant.store(reg_id, SeqCst);
            }
        }
    }
    Ok(())
}

/// C `scst_pr_clear_tgt_dev()`: the nexus goes; its registration stays, bound to another
/// nexus of the same initiator port if there is one. Called under `scst_mutex`.
pub fn scst_pr_clear_tgt_dev(tgt_dev: &Arc<ScstTgtDev>) {
    let dev = &tgt_dev.dev;
    let mut pr = dev.dev_pr_mutex.lock();
    let me = Arc::downgrade(tgt_dev);
    pr.pr_tgt_devs
        .retain(|t| t.strong_count() > 0 && !Weak::ptr_eq(t, &me));
    let reg_id = tgt_dev.registrant.swap(0, SeqCst);
    if reg_id == 0 {
        return;
    }
    let Some(i) = reg_idx(&pr, reg_id) else {
        return;
    };
    pr.dev_registrants_list[i].tgt_dev = None;
    // Just in case, actually. It should never happen.
    let (rel, tid) = {
        let r = &pr.dev_registrants_list[i];
        (r.rel_tgt_id, r.transport_id.clone())
    };
    let other = pr.pr_tgt_devs.iter().filter_map(Weak::upgrade).find(|t| {
        t.sess.tgt.rel_tgt_id == rel && tid_equal(t.sess.transport_id.read().as_deref(), Some(&tid))
    });
    if let Some(t) = other {
        TRACE_PR!(
            "Reassigning reg {}/{} ({}) to tgt_dev {:?}",
            tid_name(&tid),
            rel,
            reg_id,
            t
        );
        t.registrant.store(reg_id, SeqCst);
        pr.dev_registrants_list[i].tgt_dev = Some(Arc::downgrade(&t));
    }
}

/// C `scst_pr_register_with_spec_i_pt()`: registers the TransportIDs of the parameter list
/// (SPEC_I_PT) on `rel_tgt_id`; what it adds or changes goes on `rollback`.
fn scst_pr_register_with_spec_i_pt(
    c: &ScstPrCmd<'_>,
    pr: &mut ScstDevPr,
    rel_tgt_id: u16,
    buffer: &mut [u8],
    buffer_size: usize,
    rollback: &mut Vec<u64>,
) -> Result<(), Errno> {
    let action_key = get_be64(buffer, 8);
    let ext_size = usize::try_from(get_be32(buffer, 24)).unwrap_or(usize::MAX);
    if ext_size.saturating_add(28) > buffer_size {
        TRACE_PR!(
            "Invalid buffer size {} (max {})",
            buffer_size,
            ext_size.saturating_add(28)
        );
        let s = SCST_LOAD_SENSE(scst_sense_parameter_list_length_invalid);
        scst_set_cmd_error(c.cmd, s.0, s.1, s.2);
        return Err(Errno::EINVAL);
    }
    let mut offset = 0;
    while offset < ext_size {
        let tid = &mut buffer[28 + offset..28 + ext_size];
        let size = scst_tid_size(tid);
        if offset + size > ext_size {
            TRACE_PR!(
                "Invalid transport_id size {} (max {})",
                size,
                ext_size - offset
            );
            scst_set_invalid_field_in_parm_list(c.cmd, 24, 0);
            return Err(Errno::EINVAL);
        }
        tid_secure(tid);
        offset += size;
    }
    let mut offset = 0;
    while offset < ext_size {
        let tid = buffer[28 + offset..28 + ext_size].to_vec();
        let size = scst_tid_size(&tid);
        let tid = &tid[..size];
        TRACE_PR!("rel_tgt_id {}, transport_id {}", rel_tgt_id, tid_name(tid));
        if (tid[0] & 0x0f) == SCSI_TRANSPORTID_PROTOCOLID_ISCSI && (tid[0] & 0xc0) == 0 {
            TRACE_PR!("Wildcard iSCSI TransportID {}", tid_name(tid));
            // Every nexus of the device whose port matches is registered on rel_tgt_id.
            let nexuses: Vec<_> = pr.pr_tgt_devs.iter().filter_map(Weak::upgrade).collect();
            for t in nexuses {
                let Some(t_tid) = t.sess.transport_id.read().clone() else {
                    continue;
                };
                if !tid_equal(Some(&t_tid), Some(tid)) {
                    continue;
                }
                match scst_pr_find_reg(pr, &t_tid, rel_tgt_id) {
                    None => {
                        let Some(r) =
                            scst_pr_add_registrant(c.dev, pr, &t_tid, rel_tgt_id, action_key)
                        else {
                            scst_set_busy(c.cmd);
                            return Err(Errno::ENOMEM);
                        };
                        rollback.push(r);
                    }
                    Some(r) => {
                        let Some(i) = reg_idx(pr, r) else { continue };
                        let reg = &mut pr.dev_registrants_list[i];
                        if reg.key != action_key {
                            TRACE_PR!("Changing key of reg {} (tgt_dev {:?})", r, t);
                            reg.rollback_key = reg.key;
                            reg.key = action_key;
                            rollback.push(r);
                        }
                    }
                }
            }
        } else {
            match scst_pr_find_reg(pr, tid, rel_tgt_id) {
                Some(r) => {
                    if let Some(i) = reg_idx(pr, r) {
                        let reg = &mut pr.dev_registrants_list[i];
                        if reg.key != action_key {
                            TRACE_PR!("Changing key of reg {}", r);
                            reg.rollback_key = reg.key;
                            reg.key = action_key;
                            rollback.push(r);
                        }
                    }
                }
                None => {
                    let Some(r) = scst_pr_add_registrant(c.dev, pr, tid, rel_tgt_id, action_key)
                    else {
                        scst_set_busy(c.cmd);
                        return Err(Errno::ENOMEM);
                    };
                    rollback.push(r);
                }
            }
        }
        offset += size;
    }
    Ok(())
}

/// C `scst_pr_unregister()`: removes the registration; if that released a registrants-only
/// reservation, the other registrants get RESERVATIONS RELEASED.
fn scst_pr_unregister(pr: &mut ScstDevPr, reg_id: u64) {
    TRACE_PR!("Unregistering key {:x}", reg_key(pr, reg_id).unwrap_or(0));
    let is_holder = scst_pr_is_holder(pr, Some(reg_id));
    let pr_type = pr.pr_type;
    scst_pr_remove_registrant(pr, reg_id);
    if is_holder && !pr.pr_is_set {
        // A registration just released.
        if pr_type == TYPE_WRITE_EXCLUSIVE_REGONLY || pr_type == TYPE_EXCLUSIVE_ACCESS_REGONLY {
            scst_pr_send_ua_all(pr, None, SCST_LOAD_SENSE(scst_sense_reservation_released));
        }
    }
}

/// C `scst_pr_unregister_all_tg_pt()`: unregisters the initiator port on every target port of
/// its protocol.
fn scst_pr_unregister_all_tg_pt(c: &ScstPrCmd<'_>, pr: &mut ScstDevPr, transport_id: &[u8]) {
    let proto_id = byte(transport_id, 0) & 0x0f;
    for port in c.ports.iter().filter(|p| p.proto_id == proto_id) {
        if let Some(r) = scst_pr_find_reg(pr, transport_id, port.rel_tgt_id) {
            scst_pr_unregister(pr, r);
        }
    }
}

/// C `scst_pr_register_on_tgt_id()`: registers the command's initiator port (and with
/// SPEC_I_PT those of the parameter list) on `rel_tgt_id`.
fn scst_pr_register_on_tgt_id(
    c: &ScstPrCmd<'_>,
    pr: &mut ScstDevPr,
    rel_tgt_id: u16,
    buffer: &mut [u8],
    buffer_size: usize,
    spec_i_pt: bool,
    rollback: &mut Vec<u64>,
) -> Result<(), Errno> {
    TRACE_PR!("rel_tgt_id {}, spec_i_pt {}", rel_tgt_id, spec_i_pt);
    if spec_i_pt {
        scst_pr_register_with_spec_i_pt(c, pr, rel_tgt_id, buffer, buffer_size, rollback)?;
    }
    // The nexus can be among the TransportIDs of scst_pr_register_with_spec_i_pt().
    let tid = c.transport_id.as_deref().unwrap_or(&[]);
    if scst_pr_find_reg(pr, tid, rel_tgt_id).is_none() {
        let action_key = get_be64(buffer, 8);
        let Some(r) = scst_pr_add_registrant(c.dev, pr, tid, rel_tgt_id, action_key) else {
            scst_set_busy(c.cmd);
            return Err(Errno::ENOMEM);
        };
        rollback.push(r);
    }
    Ok(())
}

/// C `scst_pr_register_all_tg_pt()`: ALL_TG_PT: registration on every target port of the
/// initiator's protocol.
fn scst_pr_register_all_tg_pt(
    c: &ScstPrCmd<'_>,
    pr: &mut ScstDevPr,
    buffer: &mut [u8],
    buffer_size: usize,
    spec_i_pt: bool,
    rollback: &mut Vec<u64>,
) -> Result<(), Errno> {
    let proto_id = c.transport_id.as_deref().map_or(0, |t| byte(t, 0) & 0x0f);
    for port in c.ports.iter().filter(|p| p.proto_id == proto_id) {
        if port.rel_tgt_id == 0 {
            continue;
        }
        TRACE_PR!("tgt {}, rel_tgt_id {}", port.tgt_name, port.rel_tgt_id);
        scst_pr_register_on_tgt_id(
            c,
            pr,
            port.rel_tgt_id,
            buffer,
            buffer_size,
            spec_i_pt,
            rollback,
        )?;
    }
    Ok(())
}

/// C `__scst_pr_register()`: a new registration (all or nothing: on failure what was added is
/// removed and changed keys are restored).
fn __scst_pr_register(
    c: &ScstPrCmd<'_>,
    pr: &mut ScstDevPr,
    buffer: &mut [u8],
    buffer_size: usize,
    spec_i_pt: bool,
    all_tg_pt: bool,
) -> Result<(), Errno> {
    let mut rollback = Vec::new();
    let res = if all_tg_pt {
        scst_pr_register_all_tg_pt(c, pr, buffer, buffer_size, spec_i_pt, &mut rollback)
    } else {
        scst_pr_register_on_tgt_id(
            c,
            pr,
            c.rel_tgt_id,
            buffer,
            buffer_size,
            spec_i_pt,
            &mut rollback,
        )
    };
    for r in rollback {
        let Some(i) = reg_idx(pr, r) else { continue };
        if res.is_ok() {
            pr.dev_registrants_list[i].rollback_key = 0;
        } else if pr.dev_registrants_list[i].rollback_key == 0 {
            scst_pr_remove_registrant(pr, r);
        } else {
            let reg = &mut pr.dev_registrants_list[i];
            reg.key = reg.rollback_key;
            reg.rollback_key = 0;
        }
    }
    res
}

fn set_error(c: &ScstPrCmd<'_>, sense: (u8, u8, u8)) {
    let s = SCST_LOAD_SENSE(sense);
    scst_set_cmd_error(c.cmd, s.0, s.1, s.2);
}

fn set_conflict(c: &ScstPrCmd<'_>) {
    scst_set_cmd_error_status(c.cmd, SAM_STAT_RESERVATION_CONFLICT);
}

/// C `scst_pr_register()`: PERSISTENT RESERVE OUT REGISTER. `buffer` is the parameter list,
/// zero-padded to at least 24 bytes; `buffer_size` its real length.
pub fn scst_pr_register(
    c: &ScstPrCmd<'_>,
    pr: &mut ScstDevPr,
    buffer: &mut [u8],
    buffer_size: usize,
) {
    let aptpl = buffer[20] & 0x01 != 0;
    let spec_i_pt = (buffer[20] >> 3) & 0x01 != 0;
    let all_tg_pt = (buffer[20] >> 2) & 0x01 != 0;
    let key = get_be64(buffer, 0);
    let action_key = get_be64(buffer, 8);

    if !spec_i_pt && buffer_size != 24 {
        TRACE_PR!("Invalid buffer size {}", buffer_size);
        set_error(c, scst_sense_parameter_list_length_invalid);
        return;
    }
    let reg = c.registrant();
    TRACE_PR!(
        "Register: initiator {}/{} ({:?}), key {:x}, action_key {:x}",
        c.transport_id.as_deref().map(tid_name).unwrap_or_default(),
        c.rel_tgt_id,
        reg,
        key,
        action_key
    );
    match reg.and_then(|r| reg_idx(pr, r).map(|i| (r, i))) {
        None => {
            TRACE_PR!("tgt_dev is not registered yet - registering");
            if key != 0 {
                TRACE_PR!("Key must be zero on new registration");
                set_conflict(c);
                return;
            }
            if action_key != 0 {
                if __scst_pr_register(c, pr, buffer, buffer_size, spec_i_pt, all_tg_pt).is_err() {
                    return;
                }
            } else {
                TRACE_PR!("Doing nothing - action_key is zero");
            }
        }
        Some((r, i)) => {
            if pr.dev_registrants_list[i].key != key {
                TRACE_PR!(
                    "tgt_dev already registered - reservation key {:x} mismatch",
                    pr.dev_registrants_list[i].key
                );
                set_conflict(c);
                return;
            }
            if spec_i_pt {
                TRACE_PR!("spec_i_pt must be zero in this case");
                scst_set_invalid_field_in_parm_list(c.cmd, 20, SCST_INVAL_FIELD_BIT_OFFS_VALID | 3);
                return;
            }
            scst_pr_change_own_key(c, pr, r, i, all_tg_pt, action_key);
        }
    }
    scst_pr_registration_done(c, pr, aptpl);
}

/// The end of REGISTER and REGISTER AND IGNORE EXISTING KEY for a nexus already registered
/// (registrant `r` at index `i`): action key 0 unregisters it (with ALL_TG_PT, on every
/// target port), another key replaces its key. (C repeats this in both functions.)
fn scst_pr_change_own_key(
    c: &ScstPrCmd<'_>,
    pr: &mut ScstDevPr,
    r: u64,
    i: usize,
    all_tg_pt: bool,
    action_key: u64,
) {
    if action_key == 0 {
        if all_tg_pt {
            let tid = c.transport_id.clone().unwrap_or_default();
            scst_pr_unregister_all_tg_pt(c, pr, &tid);
        } else {
            scst_pr_unregister(pr, r);
        }
    } else {
        pr.dev_registrants_list[i].key = action_key;
    }
}

/// The common end of REGISTER and REGISTER AND IGNORE EXISTING KEY: a new generation, the
/// APTPL bit of the parameter list.
fn scst_pr_registration_done(c: &ScstPrCmd<'_>, pr: &mut ScstDevPr, aptpl: bool) {
    pr.pr_generation = pr.pr_generation.wrapping_add(1);
    pr.pr_aptpl = aptpl;
    scst_pr_dump_prs(c.dev, pr, false);
}

/// C `scst_pr_register_and_ignore()`: REGISTER AND IGNORE EXISTING KEY.
pub fn scst_pr_register_and_ignore(
    c: &ScstPrCmd<'_>,
    pr: &mut ScstDevPr,
    buffer: &mut [u8],
    buffer_size: usize,
) {
    let aptpl = buffer[20] & 0x01 != 0;
    let all_tg_pt = (buffer[20] >> 2) & 0x01 != 0;
    let action_key = get_be64(buffer, 8);

    if buffer_size != 24 {
        TRACE_PR!("Invalid buffer size {}", buffer_size);
        set_error(c, scst_sense_parameter_list_length_invalid);
        return;
    }
    let reg = c.registrant();
    TRACE_PR!(
        "Register and ignore: initiator {}/{} ({:?}), action_key {:016x}",
        c.transport_id.as_deref().map(tid_name).unwrap_or_default(),
        c.rel_tgt_id,
        reg,
        action_key
    );
    match reg.and_then(|r| reg_idx(pr, r).map(|i| (r, i))) {
        None => {
            TRACE_PR!("Tgt_dev is not registered yet - trying to register");
            if action_key != 0 {
                if __scst_pr_register(c, pr, buffer, buffer_size, false, all_tg_pt).is_err() {
                    return;
                }
            } else {
                TRACE_PR!("Doing nothing, action_key is zero");
            }
        }
        Some((r, i)) => {
            scst_pr_change_own_key(c, pr, r, i, all_tg_pt, action_key);
        }
    }
    scst_pr_registration_done(c, pr, aptpl);
}

/// C `scst_pr_register_and_move()`: REGISTER AND MOVE: the reservation moves to the I_T
/// nexus of the parameter list's TransportID, which is registered with the action key.
pub fn scst_pr_register_and_move(
    c: &ScstPrCmd<'_>,
    pr: &mut ScstDevPr,
    buffer: &mut [u8],
    buffer_size: usize,
) {
    let aptpl = buffer[17] & 0x01 != 0;
    let key = get_be64(buffer, 0);
    let action_key = get_be64(buffer, 8);
    let unreg = (buffer[17] >> 1) & 0x01 != 0;
    let tid_buffer_size = usize::try_from(get_be32(buffer, 20)).unwrap_or(usize::MAX);

    if tid_buffer_size.saturating_add(24) > buffer_size {
        TRACE_PR!(
            "Invalid buffer size {} ({})",
            buffer_size,
            tid_buffer_size.saturating_add(24)
        );
        set_error(c, scst_sense_invalid_field_in_parm_list);
        return;
    }
    if tid_buffer_size < 24 {
        TRACE_PR!("Transport id buffer too small");
        scst_set_invalid_field_in_parm_list(c.cmd, 20, 0);
        return;
    }
    // The caller already checked that the nexus is registered.
    let Some((reg, i)) = c.registrant().and_then(|r| reg_idx(pr, r).map(|i| (r, i))) else {
        set_conflict(c);
        return;
    };
    if pr.dev_registrants_list[i].key != key {
        TRACE_PR!(
            "Registrant's {} key {:016x} mismatch with {:016x}",
            reg,
            pr.dev_registrants_list[i].key,
            key
        );
        set_conflict(c);
        return;
    }
    if !pr.pr_is_set {
        TRACE_PR!("There must be a PR");
        set_error(c, scst_sense_invalid_field_in_cdb);
        return;
    }
    // This check is also required by table "PERSISTENT RESERVE OUT service actions that are
    // allowed in the presence of various reservations".
    if !scst_pr_is_holder(pr, Some(reg)) {
        TRACE_PR!("Registrant {} is not a holder", reg);
        set_conflict(c);
        return;
    }
    if action_key == 0 {
        TRACE_PR!("Action key must be non-zero");
        scst_set_invalid_field_in_cdb(c.cmd, 8, 0);
        return;
    }
    let rel_tgt_id_move = get_be16(buffer, 18);
    let size_move = scst_tid_size(&buffer[24..buffer_size]);
    if size_move.saturating_add(24) > buffer_size {
        TRACE_PR!(
            "Invalid buffer size {} ({})",
            buffer_size,
            size_move.saturating_add(24)
        );
        set_error(c, scst_sense_invalid_field_in_parm_list);
        return;
    }
    tid_secure(&mut buffer[24..24 + size_move]);
    let transport_id_move = buffer[24..24 + size_move].to_vec();

    if pr.pr_type == TYPE_WRITE_EXCLUSIVE_ALL_REG || pr.pr_type == TYPE_EXCLUSIVE_ACCESS_ALL_REG {
        TRACE_PR!(
            "Unable to finish operation due to wrong reservation type {:02x}",
            pr.pr_type
        );
        set_conflict(c);
        return;
    }
    if tid_equal(c.transport_id.as_deref(), Some(&transport_id_move)) {
        TRACE_PR!("Equal transport id's");
        scst_set_invalid_field_in_parm_list(c.cmd, 24, 0);
        return;
    }
    let reg_move = match scst_pr_find_reg(pr, &transport_id_move, rel_tgt_id_move) {
        None => {
            let Some(r) =
                scst_pr_add_registrant(c.dev, pr, &transport_id_move, rel_tgt_id_move, action_key)
            else {
                scst_set_busy(c.cmd);
                return;
            };
            r
        }
        Some(r) => {
            if let Some(j) = reg_idx(pr, r) {
                if pr.dev_registrants_list[j].key != action_key {
                    TRACE_PR!("Changing key for reg {}", r);
                    pr.dev_registrants_list[j].key = action_key;
                }
            }
            r
        }
    };
    TRACE_PR!(
        "Register and move: from reg {} to initiator {}/{} ({}), key {:016x} (unreg {})",
        reg,
        tid_name(&transport_id_move),
        rel_tgt_id_move,
        reg_move,
        action_key,
        unreg
    );
    // Move the holder.
    let (scope, type_) = (pr.pr_scope, pr.pr_type);
    scst_pr_set_holder(pr, Some(reg_move), scope, type_);
    if unreg {
        scst_pr_remove_registrant(pr, reg);
    }
    pr.pr_generation = pr.pr_generation.wrapping_add(1);
    pr.pr_aptpl = aptpl;
    scst_pr_dump_prs(c.dev, pr, false);
}

/// C `scst_pr_type_valid()`.
pub fn scst_pr_type_valid(type_: u8) -> bool {
    matches!(
        type_,
        TYPE_WRITE_EXCLUSIVE
            | TYPE_EXCLUSIVE_ACCESS
            | TYPE_WRITE_EXCLUSIVE_REGONLY
            | TYPE_EXCLUSIVE_ACCESS_REGONLY
            | TYPE_WRITE_EXCLUSIVE_ALL_REG
            | TYPE_EXCLUSIVE_ACCESS_ALL_REG
    )
}

/// C `scst_pr_reserve()`: RESERVE with the CDB's scope and type.
pub fn scst_pr_reserve(
    c: &ScstPrCmd<'_>,
    pr: &mut ScstDevPr,
    buffer: &mut [u8],
    buffer_size: usize,
) {
    let key = get_be64(buffer, 0);
    let scope = c.cdb[2] >> 4;
    let type_ = c.cdb[2] & 0x0f;

    if buffer_size != 24 {
        TRACE_PR!("Invalid buffer size {}", buffer_size);
        set_error(c, scst_sense_parameter_list_length_invalid);
        return;
    }
    if !scst_pr_type_valid(type_) {
        TRACE_PR!("Invalid reservation type {}", type_);
        scst_set_invalid_field_in_cdb(c.cmd, 2, SCST_INVAL_FIELD_BIT_OFFS_VALID);
        return;
    }
    if scope != SCOPE_LU {
        TRACE_PR!("Invalid reservation scope {}", scope);
        scst_set_invalid_field_in_cdb(c.cmd, 2, SCST_INVAL_FIELD_BIT_OFFS_VALID | 4);
        return;
    }
    // The caller already checked that the nexus is registered.
    let Some((reg, i)) = c.registrant().and_then(|r| reg_idx(pr, r).map(|i| (r, i))) else {
        set_conflict(c);
        return;
    };
    TRACE_PR!(
        "Reserve: initiator {}/{} ({}), key {:016x}, scope {}, type {}",
        c.transport_id.as_deref().map(tid_name).unwrap_or_default(),
        c.rel_tgt_id,
        reg,
        key,
        scope,
        type_
    );
    if pr.dev_registrants_list[i].key != key {
        TRACE_PR!(
            "Registrant's {} key {:016x} mismatch with {:016x}",
            reg,
            pr.dev_registrants_list[i].key,
            key
        );
        set_conflict(c);
        return;
    }
    if !pr.pr_is_set {
        scst_pr_set_holder(pr, Some(reg), scope, type_);
    } else if !scst_pr_is_holder(pr, Some(reg)) {
        // This check is also required by table "PERSISTENT RESERVE OUT service actions that
        // are allowed in the presence of various reservations".
        TRACE_PR!("Only holder can override - reg {} is not a holder", reg);
        set_conflict(c);
        return;
    } else if pr.pr_scope != scope || pr.pr_type != type_ {
        TRACE_PR!("Error overriding scope or type for reg {}", reg);
        set_conflict(c);
        return;
    } else {
        TRACE_PR!("Do nothing: reservation of reg {} is the same", reg);
    }
    scst_pr_dump_prs(c.dev, pr, false);
}

/// C `scst_pr_release()`: RELEASE; releasing a registrants-only or all-registrants
/// reservation tells the other registrants (RESERVATIONS RELEASED).
pub fn scst_pr_release(
    c: &ScstPrCmd<'_>,
    pr: &mut ScstDevPr,
    buffer: &mut [u8],
    buffer_size: usize,
) {
    let key = get_be64(buffer, 0);
    let scope = c.cdb[2] >> 4;
    let type_ = c.cdb[2] & 0x0f;

    if buffer_size != 24 {
        TRACE_PR!("Invalid buffer size {}", buffer_size);
        set_error(c, scst_sense_parameter_list_length_invalid);
        return;
    }
    if !pr.pr_is_set {
        TRACE_PR!("There is no PR - do nothing");
        return;
    }
    let Some((reg, i)) = c.registrant().and_then(|r| reg_idx(pr, r).map(|i| (r, i))) else {
        set_conflict(c);
        return;
    };
    TRACE_PR!(
        "Release: initiator {}/{} ({}), key {:016x}, scope {}, type {}",
        c.transport_id.as_deref().map(tid_name).unwrap_or_default(),
        c.rel_tgt_id,
        reg,
        key,
        scope,
        type_
    );
    if pr.dev_registrants_list[i].key != key {
        TRACE_PR!(
            "Registrant's {} key {:016x} mismatch with {:016x}",
            reg,
            pr.dev_registrants_list[i].key,
            key
        );
        set_conflict(c);
        return;
    }
    if !scst_pr_is_holder(pr, Some(reg)) {
        TRACE_PR!("Registrant {} is not a holder - do nothing", reg);
        return;
    }
    if pr.pr_scope != scope || pr.pr_type != type_ {
        TRACE_PR!("Released scope or type do not match with holder");
        set_error(c, scst_sense_invalid_release);
        return;
    }
    let cur_pr_type = pr.pr_type; // it will be cleared
    scst_pr_clear_reservation(pr);
    match cur_pr_type {
        TYPE_WRITE_EXCLUSIVE_REGONLY
        | TYPE_EXCLUSIVE_ACCESS_REGONLY
        | TYPE_WRITE_EXCLUSIVE_ALL_REG
        | TYPE_EXCLUSIVE_ACCESS_ALL_REG => {
            scst_pr_send_ua_all(
                pr,
                Some(reg),
                SCST_LOAD_SENSE(scst_sense_reservation_released),
            );
        }
        _ => {}
    }
    scst_pr_dump_prs(c.dev, pr, false);
}

/// C `scst_pr_clear()`: CLEAR: every registration and the reservation go; the others get
/// RESERVATIONS PREEMPTED.
pub fn scst_pr_clear(c: &ScstPrCmd<'_>, pr: &mut ScstDevPr, buffer: &mut [u8], buffer_size: usize) {
    let key = get_be64(buffer, 0);
    if buffer_size != 24 {
        TRACE_PR!("Invalid buffer size {}", buffer_size);
        set_error(c, scst_sense_parameter_list_length_invalid);
        return;
    }
    let Some((reg, i)) = c.registrant().and_then(|r| reg_idx(pr, r).map(|i| (r, i))) else {
        set_conflict(c);
        return;
    };
    TRACE_PR!(
        "Clear: initiator {}/{} ({}), key {:016x}",
        c.transport_id.as_deref().map(tid_name).unwrap_or_default(),
        c.rel_tgt_id,
        reg,
        key
    );
    if pr.dev_registrants_list[i].key != key {
        TRACE_PR!(
            "Registrant's {} key {:016x} mismatch with {:016x}",
            reg,
            pr.dev_registrants_list[i].key,
            key
        );
        set_conflict(c);
        return;
    }
    scst_pr_send_ua_all(
        pr,
        Some(reg),
        SCST_LOAD_SENSE(scst_sense_reservation_preempted),
    );
    scst_pr_remove_registrants(pr);
    pr.pr_generation = pr.pr_generation.wrapping_add(1);
    scst_pr_dump_prs(c.dev, pr, false);
}

/// Preempts the registrants `list` (C: the `list_for_each_entry_safe(r, rt, &preempt_list,
/// …)` loops of `scst_pr_do_preempt()`): aborts their commands if `abort`, tells them
/// REGISTRATIONS PREEMPTED and removes them, except the preempting registrant `reg` itself
/// (unless `remove_self`).
fn scst_pr_preempt_list(
    c: &ScstPrCmd<'_>,
    pr: &mut ScstDevPr,
    list: &[u64],
    reg: u64,
    abort: bool,
    remove_self: bool,
) {
    for &r in list {
        if abort {
            scst_pr_abort_reg(c.dev, pr, c, r);
        }
        if r != reg {
            scst_pr_send_ua_reg(pr, r, SCST_LOAD_SENSE(scst_sense_registrations_preempted));
            scst_pr_remove_registrant(pr, r);
        } else if remove_self {
            scst_pr_remove_registrant(pr, r);
        }
    }
}

/// C `scst_pr_do_preempt()`: PREEMPT (and PREEMPT AND ABORT with `abort`).
fn scst_pr_do_preempt(
    c: &ScstPrCmd<'_>,
    pr: &mut ScstDevPr,
    buffer: &mut [u8],
    buffer_size: usize,
    abort: bool,
) {
    let existing_pr_type = pr.pr_type;
    let existing_pr_scope = pr.pr_scope;

    if buffer_size != 24 {
        TRACE_PR!("Invalid buffer size {}", buffer_size);
        set_error(c, scst_sense_parameter_list_length_invalid);
        return;
    }
    let key = get_be64(buffer, 0);
    let action_key = get_be64(buffer, 8);
    let scope = c.cdb[2] >> 4;
    let type_ = c.cdb[2] & 0x0f;

    if !scst_pr_type_valid(type_) {
        TRACE_PR!("Invalid reservation type {}", type_);
        scst_set_invalid_field_in_cdb(c.cmd, 1, SCST_INVAL_FIELD_BIT_OFFS_VALID);
        return;
    }
    let Some((reg, i)) = c.registrant().and_then(|r| reg_idx(pr, r).map(|i| (r, i))) else {
        set_conflict(c);
        return;
    };
    TRACE_PR!(
        "Preempt{}: initiator {}/{} ({}), key {:016x}, action_key {:016x}, scope {:x} type {:x}",
        if abort { " and abort" } else { "" },
        c.transport_id.as_deref().map(tid_name).unwrap_or_default(),
        c.rel_tgt_id,
        reg,
        key,
        action_key,
        scope,
        type_
    );
    if pr.dev_registrants_list[i].key != key {
        TRACE_PR!(
            "Registrant's {} key {:016x} mismatch with {:016x}",
            reg,
            pr.dev_registrants_list[i].key,
            key
        );
        set_conflict(c);
        return;
    }

    let invalid_key = |c: &ScstPrCmd<'_>| {
        TRACE_PR!("Invalid key {:016x}", action_key);
        set_conflict(c);
    };

    if !pr.pr_is_set {
        let list = scst_pr_find_registrants_list_key(pr, action_key);
        if list.is_empty() {
            invalid_key(c);
            return;
        }
        scst_pr_preempt_list(c, pr, &list, reg, abort, false);
    } else if pr.pr_type == TYPE_WRITE_EXCLUSIVE_ALL_REG
        || pr.pr_type == TYPE_EXCLUSIVE_ACCESS_ALL_REG
    {
        if action_key == 0 {
            let list = scst_pr_find_registrants_list_all(pr, reg);
            scst_pr_preempt_list(c, pr, &list, reg, abort, false);
            scst_pr_set_holder(pr, Some(reg), scope, type_);
        } else {
            let list = scst_pr_find_registrants_list_key(pr, action_key);
            if list.is_empty() {
                invalid_key(c);
                return;
            }
            scst_pr_preempt_list(c, pr, &list, reg, abort, false);
        }
    } else {
        let holder_key = pr.pr_holder.and_then(|h| reg_key(pr, h));
        if holder_key != Some(action_key) {
            if action_key == 0 {
                scst_set_invalid_field_in_parm_list(c.cmd, 8, 0);
                return;
            }
            let list = scst_pr_find_registrants_list_key(pr, action_key);
            if list.is_empty() {
                invalid_key(c);
                return;
            }
            // C removes the preempting registrant too if it has the action key.
            scst_pr_preempt_list(c, pr, &list, reg, abort, true);
        } else {
            let list = scst_pr_find_registrants_list_key(pr, action_key);
            scst_pr_preempt_list(c, pr, &list, reg, abort, false);
            scst_pr_set_holder(pr, Some(reg), scope, type_);
            if existing_pr_type != type_ || existing_pr_scope != scope {
                let others: Vec<u64> = scst_pr_find_registrants_list_all(pr, reg);
                for r in others {
                    scst_pr_send_ua_reg(pr, r, SCST_LOAD_SENSE(scst_sense_reservation_released));
                }
            }
        }
    }
    pr.pr_generation = pr.pr_generation.wrapping_add(1);
    scst_pr_dump_prs(c.dev, pr, false);
}

/// C `scst_pr_preempt()`: PREEMPT.
pub fn scst_pr_preempt(
    c: &ScstPrCmd<'_>,
    pr: &mut ScstDevPr,
    buffer: &mut [u8],
    buffer_size: usize,
) {
    scst_pr_do_preempt(c, pr, buffer, buffer_size, false);
}

/// C `scst_cmd_done_pr_preempt()`: the completion routine of a PREEMPT AND ABORT command
/// while its `SCST_PR_ABORT_ALL` functions run. Called once by the command itself and once
/// by each function when it is finished (`scst_mgmt_cmd_send_done()`); the last call
/// completes the command through the saved routine.
fn scst_cmd_done_pr_preempt(
    cmd: &Arc<ScstCmd>,
    next_state: CmdState,
    pref_context: ScstExecContext,
) {
    let Some(pr_cnt) = cmd.d.lock().pr_abort_counter.clone() else {
        PRINT_CRIT_ERROR!("scst_cmd_done_pr_preempt() without a PR abort counter");
        return;
    };
    if !kemu::atomic::atomic_dec_and_test(&pr_cnt.pr_abort_pending_cnt) {
        return;
    }
    let saved_cmd_done = pr_cnt.saved_cmd_done;
    {
        let mut d = cmd.d.lock();
        d.pr_abort_counter = None;
        // C leaves its routine in place; restoring the saved one keeps a later call sane.
        d.scst_cmd_done = saved_cmd_done;
    }
    match saved_cmd_done {
        Some(f) => f(cmd, next_state, pref_context),
        None => PRINT_CRIT_ERROR!("PREEMPT AND ABORT without a saved completion routine"),
    }
}

/// C `scst_pr_preempt_and_abort()`: PREEMPT AND ABORT. The command counts the
/// `SCST_PR_ABORT_ALL` functions [`scst_pr_abort_reg`] sends for the preempted nexuses, and
/// its completion routine becomes `scst_cmd_done_pr_preempt()`, so that it completes only
/// when they all are finished. Both counts start at 1 so that `scsi_tm` cannot complete the
/// command, or wake its waiter, before the preemption has sent every function. The wait for
/// the functions to mark their commands aborted, which C does here, is in
/// [`scst_pr_preempt_and_abort_wait`], after the PR lock is released.
pub fn scst_pr_preempt_and_abort(
    c: &ScstPrCmd<'_>,
    pr: &mut ScstDevPr,
    buffer: &mut [u8],
    buffer_size: usize,
) {
    {
        let mut d = c.cmd.d.lock();
        d.pr_abort_counter = Some(Arc::new(ScstPrAbortAllPendingMgmtCmdsCounter {
            pr_abort_pending_cnt: kemu::atomic::AtomicT::new(1),
            saved_cmd_done: d.scst_cmd_done,
            pr_aborting_cnt: kemu::atomic::AtomicT::new(1),
            pr_aborting_cmpl: kemu::completion::Completion::new(),
        }));
        d.scst_cmd_done = Some(scst_cmd_done_pr_preempt);
    }
    scst_pr_do_preempt(c, pr, buffer, buffer_size, true);
}

/// The end of C `scst_pr_preempt_and_abort()`: drops the command's own `pr_aborting_cnt`
/// and, if an `SCST_PR_ABORT_ALL` function has not yet marked its commands aborted, waits
/// for the last one (`scst_abort_task_set()`). Nothing to do for other commands. Called
/// without the PR lock and without `scst_mutex`, never on `scsi_tm`: the functions need that
/// thread, and it takes `scst_mutex` before it gets to them.
pub fn scst_pr_preempt_and_abort_wait(cmd: &Arc<ScstCmd>) {
    let Some(pr_cnt) = cmd.d.lock().pr_abort_counter.clone() else {
        return;
    };
    if !kemu::atomic::atomic_dec_and_test(&pr_cnt.pr_aborting_cnt) {
        kemu::completion::wait_for_completion(&pr_cnt.pr_aborting_cmpl);
    }
}

/// C `scst_pr_crh_case()`: whether RESERVE/RELEASE(6/10) from this nexus is a Compatible
/// Reservation Handling case (completes with GOOD and does nothing) under a persistent
/// reservation.
pub fn scst_pr_crh_case(tgt_dev: &ScstTgtDev, pr: &ScstDevPr) -> bool {
    if !pr.pr_is_set {
        TRACE_PR!("PR not set");
        return false;
    }
    let reg = match tgt_dev.registrant.load(SeqCst) {
        0 => None,
        r => Some(r),
    };
    let allowed = match pr.pr_type {
        TYPE_WRITE_EXCLUSIVE | TYPE_EXCLUSIVE_ACCESS => {
            if pr.pr_holder.is_none() {
                kemu::PRINT_WARNING!("No PR holder for an exclusive reservation");
            }
            reg.is_some() && reg == pr.pr_holder
        }
        TYPE_WRITE_EXCLUSIVE_REGONLY
        | TYPE_EXCLUSIVE_ACCESS_REGONLY
        | TYPE_WRITE_EXCLUSIVE_ALL_REG
        | TYPE_EXCLUSIVE_ACCESS_ALL_REG => reg.is_some(),
        t => {
            PRINT_ERROR!("Invalid PR type {:x}", t);
            false
        }
    };
    if !allowed {
        TRACE_PR!(
            "Command from {} rejected due to not CRH reservation",
            tgt_dev.sess.initiator_name
        );
    }
    allowed
}

/// C `scst_pr_is_cmd_allowed()`: whether a command with `op_flags` from `tgt_dev` may run
/// under the device's persistent reservation (the holder — or any registrant for the
/// registrants-only and all-registrants types — may do anything; others only what the CDB
/// table marks `SCST_WRITE_EXCL_ALLOWED` / `SCST_EXCL_ACCESS_ALLOWED`).
pub fn scst_pr_is_cmd_allowed(tgt_dev: &ScstTgtDev, op_flags: u32, op_name: &str) -> bool {
    // C: `if (dev->pr_is_set)` is tested without the lock by the caller; most devices never
    // have a persistent reservation, and their commands do not take the mutex.
    if !tgt_dev.dev.pr_is_set_unlocked.load(SeqCst) {
        return true;
    }
    let pr = tgt_dev.dev.dev_pr_mutex.lock();
    // Recheck, because it can change while we were waiting for the lock.
    if !pr.pr_is_set {
        return true;
    }
    let reg = match tgt_dev.registrant.load(SeqCst) {
        0 => None,
        r => Some(r),
    };
    let is_holder = reg.is_some() && reg == pr.pr_holder;
    let allowed = match pr.pr_type {
        TYPE_WRITE_EXCLUSIVE => is_holder || op_flags & SCST_WRITE_EXCL_ALLOWED != 0,
        TYPE_EXCLUSIVE_ACCESS => is_holder || op_flags & SCST_EXCL_ACCESS_ALLOWED != 0,
        TYPE_WRITE_EXCLUSIVE_REGONLY | TYPE_WRITE_EXCLUSIVE_ALL_REG => {
            reg.is_some() || op_flags & SCST_WRITE_EXCL_ALLOWED != 0
        }
        TYPE_EXCLUSIVE_ACCESS_REGONLY | TYPE_EXCLUSIVE_ACCESS_ALL_REG => {
            reg.is_some() || op_flags & SCST_EXCL_ACCESS_ALLOWED != 0
        }
        t => {
            PRINT_ERROR!("Invalid PR type {:x}", t);
            false
        }
    };
    if !allowed {
        TRACE_PR!(
            "Command {} from {} rejected due to PR",
            op_name,
            tgt_dev.sess.initiator_name
        );
    }
    allowed
}

/// C `scst_pr_read_keys()`: READ KEYS: the generation and the registered keys (as many as fit;
/// the ADDITIONAL LENGTH counts all).
pub fn scst_pr_read_keys(cmd: &ScstCmd, pr: &ScstDevPr, buffer: &mut [u8]) {
    let buffer_size = buffer.len();
    let mut offset = 0;
    if buffer_size >= 8 {
        buffer[0..4].copy_from_slice(&pr.pr_generation.to_be_bytes());
        offset = 8;
        let mut size: usize = 0;
        let size_max = buffer_size - 8;
        for reg in &pr.dev_registrants_list {
            if size_max - size.min(size_max) >= 8 && offset + 8 <= buffer_size {
                if reg.key == 0 {
                    kemu::PRINT_WARNING!("Zero key of a registrant");
                }
                buffer[offset..offset + 8].copy_from_slice(&reg.key.to_be_bytes());
                offset += 8;
            }
            size += 8;
        }
        let size = u32::try_from(size).unwrap_or(u32::MAX);
        buffer[4..8].copy_from_slice(&size.to_be_bytes());
    } else {
        TRACE_PR!("buffer_size too small: {}. expected >= 8", buffer_size);
    }
    scst_set_resp_data_len(cmd, i32::try_from(offset).unwrap_or(0));
}

/// C `scst_pr_read_reservation()`: READ RESERVATION.
pub fn scst_pr_read_reservation(cmd: &ScstCmd, pr: &ScstDevPr, buffer: &mut [u8]) {
    let buffer_size = buffer.len();
    let mut b = [0u8; 24];
    let mut size = 0;
    if buffer_size >= 8 {
        b[0..4].copy_from_slice(&pr.pr_generation.to_be_bytes());
        if !pr.pr_is_set {
            TRACE_PR!("Read Reservation: no reservations");
            size = 8;
        } else {
            let key = pr.pr_holder.and_then(|h| reg_key(pr, h)).unwrap_or(0);
            b[7] = 0x10;
            b[8..16].copy_from_slice(&key.to_be_bytes());
            b[21] = (pr.pr_scope << 4) | pr.pr_type;
            size = 24;
        }
    } else {
        TRACE_PR!("buffer_size too small: {}. expected >= 8", buffer_size);
    }
    let size = size.min(buffer_size);
    buffer[..size].copy_from_slice(&b[..size]);
    buffer[size..].fill(0);
    scst_set_resp_data_len(cmd, i32::try_from(size).unwrap_or(0));
}

/// C `scst_pr_report_caps()`: REPORT CAPABILITIES: CRH, SIP_C, ATP_C and PTPL_C set, the
/// type mask valid with every type supported.
pub fn scst_pr_report_caps(cmd: &ScstCmd, pr: &ScstDevPr, buffer: &mut [u8]) {
    let crh = 1u8;
    let atp_c = 1u8;
    let sip_c = 1u8;
    let ptpl_c = 1u8;
    let mut offset = 0;
    if buffer.len() >= 8 {
        TRACE_PR!(
            "Reporting capabilities: crh {:x}, sip_c {:x}, atp_c {:x}, ptpl_c {:x}, pr_aptpl {:x}",
            crh,
            sip_c,
            atp_c,
            ptpl_c,
            u8::from(pr.pr_aptpl)
        );
        buffer[0] = 0;
        buffer[1] = 8;
        buffer[2] = (crh << 4) | (sip_c << 3) | (atp_c << 2) | ptpl_c;
        buffer[3] = (1 << 7) | (4 << 4) | u8::from(pr.pr_aptpl);
        // All commands supported.
        buffer[4] = 0xEA;
        buffer[5] = 0x1;
        offset += 8;
    } else {
        TRACE_PR!("buffer_size too small: {}. expected >= 8", buffer.len());
    }
    scst_set_resp_data_len(cmd, offset);
}

/// C `scst_pr_read_full_status()`: READ FULL STATUS: a descriptor per registrant with its
/// key, holder flag, scope/type, relative target port and TransportID.
pub fn scst_pr_read_full_status(cmd: &ScstCmd, pr: &ScstDevPr, buffer: &mut [u8]) {
    let buffer_size = buffer.len();
    let mut offset = 0;
    if buffer_size >= 8 {
        buffer[0..4].copy_from_slice(&pr.pr_generation.to_be_bytes());
        offset += 8;
        let mut size: usize = 0;
        let size_max = buffer_size - 8;
        for reg in &pr.dev_registrants_list {
            let ts = scst_tid_size(&reg.transport_id);
            let rec_len = 24 + ts;
            if size_max.saturating_sub(size) > rec_len && offset + rec_len <= buffer_size {
                let rec = &mut buffer[offset..offset + rec_len];
                rec.fill(0);
                rec[0..8].copy_from_slice(&reg.key.to_be_bytes());
                if pr.pr_is_set && scst_pr_is_holder(pr, Some(reg.reg_id)) {
                    rec[12] = 1;
                    rec[13] = (pr.pr_scope << 4) | pr.pr_type;
                }
                rec[18..20].copy_from_slice(&reg.rel_tgt_id.to_be_bytes());
                let ts32 = u32::try_from(ts).unwrap_or(u32::MAX);
                rec[20..24].copy_from_slice(&ts32.to_be_bytes());
                let n = ts.min(reg.transport_id.len());
                rec[24..24 + n].copy_from_slice(&reg.transport_id[..n]);
                offset += rec_len;
            }
            size += rec_len;
        }
        let size = u32::try_from(size).unwrap_or(u32::MAX);
        buffer[4..8].copy_from_slice(&size.to_be_bytes());
    }
    scst_set_resp_data_len(cmd, i32::try_from(offset).unwrap_or(0));
}

/// The PR OUT dispatch of C `scst_persistent_reserve_out_local()` from the lock on: checks
/// that the nexus is registered, the scope and the SPEC_I_PT / ALL_TG_PT bits as C does,
/// runs the service action and saves the state (APTPL) if it succeeded. `buffer` is the
/// parameter list zero-padded to at least 28 bytes; `buffer_size` its real length. Ok when
/// the service action ran (its own errors are in the command's status); `Err(true)` when the
/// command was aborted while it waited for the lock, `Err(false)` when it was refused before
/// the service action (C: `goto out_unlock`).
pub fn scst_pr_out_locked(
    c: &ScstPrCmd<'_>,
    pr: &mut ScstDevPr,
    action: u8,
    buffer: &mut [u8],
    buffer_size: usize,
) -> Result<(), bool> {
    // Check if the nexus is registered already. This check also makes sure that table
    // "PERSISTENT RESERVE OUT service actions that are allowed in the presence of various
    // reservations" is honored; REGISTER AND MOVE and RESERVE are checked for conflicts later.
    if action != PR_REGISTER && action != PR_REGISTER_AND_IGNORE && c.registrant().is_none() {
        TRACE_PR!("'{}' not registered", c.tgt_dev.sess.initiator_name);
        set_conflict(c);
        return Err(false);
    }
    // Check scope.
    if action != PR_REGISTER
        && action != PR_REGISTER_AND_IGNORE
        && action != PR_CLEAR
        && (c.cdb[2] >> 4) != SCOPE_LU
    {
        TRACE_PR!("Scope must be SCOPE_LU for action {:x}", action);
        scst_set_invalid_field_in_cdb(c.cmd, 2, SCST_INVAL_FIELD_BIT_OFFS_VALID | 4);
        return Err(false);
    }
    // Check SPEC_I_PT (REGISTER AND MOVE has another format).
    if action != PR_REGISTER && action != PR_REGISTER_AND_MOVE && (buffer[20] >> 3) & 0x01 != 0 {
        TRACE_PR!("SPEC_I_PT must be zero for action {:x}", action);
        scst_set_invalid_field_in_parm_list(c.cmd, 20, SCST_INVAL_FIELD_BIT_OFFS_VALID | 3);
        return Err(false);
    }
    // Check ALL_TG_PT (REGISTER AND MOVE has another format).
    if action != PR_REGISTER
        && action != PR_REGISTER_AND_IGNORE
        && action != PR_REGISTER_AND_MOVE
        && (buffer[20] >> 2) & 0x01 != 0
    {
        TRACE_PR!("ALL_TG_PT must be zero for action {:x}", action);
        scst_set_invalid_field_in_parm_list(c.cmd, 20, SCST_INVAL_FIELD_BIT_OFFS_VALID | 2);
        return Err(false);
    }
    // We can be aborted by another PR command while waiting for the lock.
    if kemu::atomic::test_bit(crate::scst::SCST_CMD_ABORTED, &c.cmd.cmd_flags) {
        kemu::TRACE_MGMT_DBG!("ABORTED set, aborting cmd");
        return Err(true);
    }
    match action {
        PR_REGISTER => scst_pr_register(c, pr, buffer, buffer_size),
        PR_RESERVE => scst_pr_reserve(c, pr, buffer, buffer_size),
        PR_RELEASE => scst_pr_release(c, pr, buffer, buffer_size),
        PR_CLEAR => scst_pr_clear(c, pr, buffer, buffer_size),
        PR_PREEMPT => scst_pr_preempt(c, pr, buffer, buffer_size),
        PR_PREEMPT_AND_ABORT => scst_pr_preempt_and_abort(c, pr, buffer, buffer_size),
        PR_REGISTER_AND_IGNORE => scst_pr_register_and_ignore(c, pr, buffer, buffer_size),
        PR_REGISTER_AND_MOVE => scst_pr_register_and_move(c, pr, buffer, buffer_size),
        _ => {
            scst_set_invalid_field_in_cdb(c.cmd, 1, SCST_INVAL_FIELD_BIT_OFFS_VALID);
            return Err(false);
        }
    }
    if scst_cmd_get_status(c.cmd) == SAM_STAT_GOOD {
        scst_pr_sync_device_file(c.dev, pr);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scst::*;
    use crate::scst_lib::{scst_acg_add_lun, scst_sbc_generic_parse};
    use crate::scst_main::{
        scst_mutex, scst_register_target, scst_register_target_template,
        scst_register_virtual_dev_driver, scst_register_virtual_device,
        scst_unregister_target_template, scst_unregister_virtual_dev_driver,
        scst_unregister_virtual_device,
    };
    use crate::scst_targ::{
        scst_cmd_done, scst_cmd_init_done, scst_register_session, scst_rx_cmd, scst_rx_data,
        scst_tgt_cmd_done, scst_unregister_session,
    };
    use crate::testutil::{wait_until, Loaded};
    use kemu::scatterlist::{sg_copy_from_buffer, sg_copy_to_buffer};
    use kemu::sync::Mutex;
    use std::collections::HashMap;

    #[derive(Debug, Clone, Default)]
    struct Resp {
        tag: u64,
        status: u8,
        sense: Vec<u8>,
        data: Vec<u8>,
    }

    /// An iSCSI-like target driver: TransportIDs from the initiator name, the data of WRITE
    /// direction commands delivered from `payloads` through `rdy_to_xfer()`.
    #[derive(Default)]
    struct PrTgtOps {
        resps: Mutex<Vec<Resp>>,
        payloads: Mutex<HashMap<u64, Vec<u8>>>,
    }

    impl ScstTgtTemplateOps for PrTgtOps {
        fn release(&self, _tgt: &Arc<ScstTgt>) -> i32 {
            0
        }
        fn has_rdy_to_xfer(&self) -> bool {
            true
        }
        fn rdy_to_xfer(&self, cmd: &Arc<ScstCmd>) -> Option<i32> {
            let data = self
                .payloads
                .lock()
                .remove(&scst_cmd_get_tag(cmd))
                .unwrap_or_default();
            let c = cmd.clone();
            std::thread::spawn(move || {
                scst_cmd_with_write_sg_mut(&c, |sg, _| sg_copy_from_buffer(sg, &data));
                scst_rx_data(&c, SCST_RX_STATUS_SUCCESS, SCST_CONTEXT_THREAD);
            });
            Some(SCST_TGT_RES_SUCCESS)
        }
        fn xmit_response(&self, cmd: &Arc<ScstCmd>) -> i32 {
            let len = usize::try_from(scst_cmd_get_adjusted_resp_data_len(cmd)).unwrap_or(0);
            let data = scst_cmd_with_sg(cmd, |sg| {
                let mut b = vec![0u8; len];
                let n = sg_copy_to_buffer(sg, &mut b);
                b.truncate(n);
                b
            });
            self.resps.lock().push(Resp {
                tag: scst_cmd_get_tag(cmd),
                status: scst_cmd_get_status(cmd),
                sense: scst_cmd_get_sense_buffer(cmd),
                data,
            });
            scst_tgt_cmd_done(cmd, SCST_CONTEXT_DIRECT);
            SCST_TGT_RES_SUCCESS
        }
        fn get_initiator_port_transport_id(
            &self,
            _tgt: &Arc<ScstTgt>,
            sess: Option<&Arc<ScstSession>>,
        ) -> Option<Result<Vec<u8>, Errno>> {
            Some(Ok(match sess {
                None => vec![SCSI_TRANSPORTID_PROTOCOLID_ISCSI],
                Some(s) => scst_pr_iscsi_transport_id(&s.initiator_name, 0x0023_d000_0001),
            }))
        }
    }

    /// A disk handler that completes every command it sees with GOOD; `hold` makes exec()
    /// wait.
    #[derive(Default)]
    struct PrDevOps {
        hold: std::sync::atomic::AtomicBool,
        in_exec: std::sync::atomic::AtomicUsize,
    }

    impl ScstDevTypeOps for PrDevOps {
        fn attach(&self, dev: &Arc<ScstDevice>) -> i32 {
            kemu::atomic::atomic_set(&dev.block_size, 512);
            kemu::atomic::atomic_set(&dev.block_shift, 9);
            0
        }
        fn parse(&self, cmd: &Arc<ScstCmd>) -> CmdState {
            scst_sbc_generic_parse(cmd);
            SCST_CMD_STATE_DEFAULT
        }
        fn exec(&self, cmd: &Arc<ScstCmd>) -> Option<i32> {
            self.in_exec.fetch_add(1, SeqCst);
            while self.hold.load(SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            scst_cmd_set_completed(cmd);
            scst_cmd_done(cmd, SCST_CMD_STATE_DEFAULT, SCST_CONTEXT_SAME);
            Some(SCST_EXEC_COMPLETED)
        }
    }

    struct Setup {
        _l: Loaded,
        vtt: Arc<ScstTgtTemplate>,
        tgt: Arc<ScstTgt>,
        tops: Arc<PrTgtOps>,
        dops: Arc<PrDevOps>,
        dt: Arc<ScstDevType>,
        ids: Vec<i32>,
        tag: AtomicU64,
    }

    impl Setup {
        fn new(name: &'static str) -> Self {
            Self::with_threads(name, 0)
        }

        /// [`Setup::new`] with the handler's `threads_num` (0: the global pool).
        fn with_threads(name: &'static str, threads_num: i32) -> Self {
            let l = Loaded::new();
            let tops = Arc::new(PrTgtOps::default());
            let vtt = Arc::new(ScstTgtTemplate::new(name, tops.clone()));
            scst_register_target_template(&vtt).unwrap();
            let tgt = scst_register_target(&vtt, Some(name)).unwrap();
            let dops = Arc::new(PrDevOps::default());
            let mut dt = ScstDevType::new("pr_disk", TYPE_DISK, dops.clone());
            dt.exec_sync = true;
            dt.threads_num = threads_num;
            let dt = Arc::new(dt);
            scst_register_virtual_dev_driver(&dt).unwrap();
            let mut s = Self {
                _l: l,
                vtt,
                tgt,
                tops,
                dops,
                dt,
                ids: Vec::new(),
                tag: AtomicU64::new(1),
            };
            s.add_disk("prdisk0");
            s
        }

        /// Registers the disk `name` as LUN 0 of the default group.
        fn add_disk(&mut self, name: &str) -> Arc<ScstDevice> {
            let id = scst_register_virtual_device(&self.dt, name).unwrap();
            self.ids.push(id);
            let mut g = scst_mutex.lock();
            let dev = g
                .scst_dev_list
                .iter()
                .find(|(_, d)| d.virt_id == id)
                .map(|(_, d)| d.clone())
                .unwrap();
            let acg = g.scst_default_acg.clone().unwrap();
            scst_acg_add_lun(&mut g, &acg, &dev, 0, false).unwrap();
            dev
        }

        fn remove_disk(&mut self) {
            let id = self.ids.remove(0);
            scst_unregister_virtual_device(id);
        }

        /// A session whose LUN 0 has delivered its POWER ON / RESET unit attention (the
        /// first command of a new nexus gets it, `scst_alloc_add_tgt_dev`).
        fn session(&self, ini: &str) -> Arc<ScstSession> {
            let sess = scst_register_session(&self.tgt, false, ini, None, None).unwrap();
            let r = self.cmd(&sess, &[TEST_UNIT_READY, 0, 0, 0, 0, 0], &[]);
            if r.status != SAM_STAT_GOOD {
                assert_eq!(r.status, SAM_STAT_CHECK_CONDITION);
                assert_eq!((r.sense[2] & 0x0f, r.sense[12]), (UNIT_ATTENTION, 0x29));
            }
            sess
        }

        /// Sends `cdb` (with `out` as its data if it is a PR OUT) and waits for the response.
        fn cmd(&self, sess: &Arc<ScstSession>, cdb: &[u8], out: &[u8]) -> Resp {
            let (tag, cmd) = self.send(sess, cdb, out);
            drop(cmd);
            self.wait_resp(tag)
        }

        /// Sends `cdb` (with `out` as its data if it is a PR OUT): its tag and the command.
        fn send(&self, sess: &Arc<ScstSession>, cdb: &[u8], out: &[u8]) -> (u64, Arc<ScstCmd>) {
            let tag = self.tag.fetch_add(1, SeqCst);
            let lun = crate::scst_lib::scst_pack_lun(0, SCST_LUN_ADDR_METHOD_PERIPHERAL);
            let cmd = scst_rx_cmd(sess, &lun, cdb, false).unwrap();
            scst_cmd_set_tag(&cmd, tag);
            scst_cmd_set_queue_type(&cmd, SCST_CMD_QUEUE_SIMPLE);
            let b = |i: usize| cdb.get(i).copied().unwrap_or(0);
            let (dir, len) = match cdb[0] {
                PERSISTENT_RESERVE_OUT => {
                    self.tops.payloads.lock().insert(tag, out.to_vec());
                    (SCST_DATA_WRITE, i32::try_from(out.len()).unwrap())
                }
                PERSISTENT_RESERVE_IN => {
                    (SCST_DATA_READ, i32::from(u16::from_be_bytes([b(7), b(8)])))
                }
                WRITE_10 => (SCST_DATA_WRITE, i32::from(b(8)) * 512),
                READ_10 => (SCST_DATA_READ, i32::from(b(8)) * 512),
                _ => (SCST_DATA_NONE, 0),
            };
            scst_cmd_set_expected(&cmd, dir, len);
            scst_cmd_init_done(&cmd, SCST_CONTEXT_THREAD);
            (tag, cmd)
        }

        /// The response to `tag`, once it comes.
        fn wait_resp(&self, tag: u64) -> Resp {
            let tops = self.tops.clone();
            assert!(wait_until(|| tops
                .resps
                .lock()
                .iter()
                .any(|r| r.tag == tag)));
            let r = self
                .tops
                .resps
                .lock()
                .iter()
                .find(|r| r.tag == tag)
                .cloned();
            r.unwrap()
        }

        /// The PR OUT parameter list with the reservation key, the service action key and
        /// the byte 20 flags.
        fn pr_params(key: u64, sa_key: u64, flags: u8) -> [u8; 24] {
            let mut p = [0u8; 24];
            p[0..8].copy_from_slice(&key.to_be_bytes());
            p[8..16].copy_from_slice(&sa_key.to_be_bytes());
            p[20] = flags;
            p
        }

        /// TEST UNIT READYs on `sess` until one is GOOD (at most 4): the (ASC, ASCQ) of the
        /// unit attentions they reported on the way, each a CHECK CONDITION / UNIT ATTENTION.
        fn drain_uas(&self, sess: &Arc<ScstSession>) -> Vec<(u8, u8)> {
            let mut uas = Vec::new();
            for _ in 0..4 {
                let r = self.cmd(sess, &[TEST_UNIT_READY, 0, 0, 0, 0, 0], &[]);
                if r.status == SAM_STAT_GOOD {
                    break;
                }
                assert_eq!(
                    (r.status, r.sense[2] & 0x0f),
                    (SAM_STAT_CHECK_CONDITION, UNIT_ATTENTION)
                );
                uas.push((r.sense[12], r.sense[13]));
            }
            uas
        }

        fn pr_out(
            &self,
            sess: &Arc<ScstSession>,
            action: u8,
            type_: u8,
            key: u64,
            sa_key: u64,
            flags: u8,
        ) -> Resp {
            let cdb = [PERSISTENT_RESERVE_OUT, action, type_, 0, 0, 0, 0, 0, 24, 0];
            self.cmd(sess, &cdb, &Self::pr_params(key, sa_key, flags))
        }

        fn pr_in(&self, sess: &Arc<ScstSession>, action: u8) -> Resp {
            self.cmd(
                sess,
                &[PERSISTENT_RESERVE_IN, action, 0, 0, 0, 0, 0, 1, 0, 0],
                &[],
            )
        }

        /// READ KEYS: (generation, keys).
        fn read_keys(&self, sess: &Arc<ScstSession>) -> (u32, Vec<u64>) {
            let r = self.pr_in(sess, PR_READ_KEYS);
            assert_eq!(r.status, SAM_STAT_GOOD);
            let gen = get_be32(&r.data, 0);
            let n = get_be32(&r.data, 4) as usize / 8;
            let keys = (0..n).map(|i| get_be64(&r.data, 8 + 8 * i)).collect();
            (gen, keys)
        }
    }

    impl Drop for Setup {
        fn drop(&mut self) {
            scst_pr_set_dir(PathBuf::from(SCST_PR_DIR));
            if std::thread::panicking() {
                return;
            }
            for &id in &self.ids {
                scst_unregister_virtual_device(id);
            }
            scst_unregister_target_template(&self.vtt);
            scst_unregister_virtual_dev_driver(&self.dt);
        }
    }

    const WRITE10: [u8; 10] = [WRITE_10, 0, 0, 0, 0, 0, 0, 0, 1, 0];
    const READ10: [u8; 10] = [READ_10, 0, 0, 0, 0, 0, 0, 0, 1, 0];
    const TUR: [u8; 6] = [TEST_UNIT_READY, 0, 0, 0, 0, 0];

    #[test]
    fn register_then_read_keys_shows_the_key() {
        let s = Setup::new("pr_reg");
        let a = s.session("iqn.a");
        assert_eq!(s.read_keys(&a), (0, vec![]));
        let r = s.pr_out(&a, PR_REGISTER, 0, 0, 0x1234, 0);
        assert_eq!(r.status, SAM_STAT_GOOD, "{:x?}", r.sense);
        assert_eq!(s.read_keys(&a), (1, vec![0x1234]));
        // A second REGISTER with a wrong reservation key is a conflict.
        let r = s.pr_out(&a, PR_REGISTER, 0, 0x9999, 0x5678, 0);
        assert_eq!(r.status, SAM_STAT_RESERVATION_CONFLICT);
        // A short parameter list: PARAMETER LIST LENGTH ERROR.
        let r = s.cmd(
            &a,
            &[PERSISTENT_RESERVE_OUT, PR_REGISTER, 0, 0, 0, 0, 0, 0, 8, 0],
            &[0; 8],
        );
        assert_eq!(r.status, SAM_STAT_CHECK_CONDITION);
        assert_eq!(
            (r.sense[2] & 0xf, r.sense[12], r.sense[13]),
            (ILLEGAL_REQUEST, 0x1a, 0)
        );
        // READ FULL STATUS: one descriptor with the key and the iSCSI TransportID.
        let r = s.pr_in(&a, PR_READ_FULL_STATUS);
        assert_eq!(r.status, SAM_STAT_GOOD);
        assert_eq!(get_be64(&r.data, 8), 0x1234);
        let tid = scst_pr_iscsi_transport_id("iqn.a", 0x0023_d000_0001);
        assert_eq!(get_be32(&r.data, 8 + 20) as usize, tid.len());
        assert_eq!(&r.data[8 + 24..8 + 24 + tid.len()], &tid[..]);
        // Unregister (action key 0).
        let r = s.pr_out(&a, PR_REGISTER, 0, 0x1234, 0, 0);
        assert_eq!(r.status, SAM_STAT_GOOD);
        assert_eq!(s.read_keys(&a), (2, vec![]));
        scst_unregister_session(&a, true, None);
    }

    #[test]
    fn write_exclusive_blocks_writes_of_other_nexus_until_release() {
        let s = Setup::new("pr_we");
        let a = s.session("iqn.a");
        let b = s.session("iqn.b");
        assert_eq!(
            s.pr_out(&a, PR_REGISTER, 0, 0, 0xa, 0).status,
            SAM_STAT_GOOD
        );
        assert_eq!(
            s.pr_out(&b, PR_REGISTER, 0, 0, 0xb, 0).status,
            SAM_STAT_GOOD
        );
        let r = s.pr_out(&a, PR_RESERVE, TYPE_WRITE_EXCLUSIVE, 0xa, 0, 0);
        assert_eq!(r.status, SAM_STAT_GOOD);
        let r = s.pr_in(&b, PR_READ_RESERVATION);
        assert_eq!(get_be32(&r.data, 4), 0x10);
        assert_eq!(get_be64(&r.data, 8), 0xa);
        assert_eq!(r.data[21], TYPE_WRITE_EXCLUSIVE);

        assert_eq!(
            s.cmd(&b, &WRITE10, &[]).status,
            SAM_STAT_RESERVATION_CONFLICT
        );
        assert_eq!(s.cmd(&b, &READ10, &[]).status, SAM_STAT_GOOD);
        assert_eq!(s.cmd(&a, &WRITE10, &[]).status, SAM_STAT_GOOD);
        // Only the holder can reserve; another type by the holder is a conflict.
        let r = s.pr_out(&b, PR_RESERVE, TYPE_WRITE_EXCLUSIVE, 0xb, 0, 0);
        assert_eq!(r.status, SAM_STAT_RESERVATION_CONFLICT);
        let r = s.pr_out(&a, PR_RESERVE, TYPE_EXCLUSIVE_ACCESS, 0xa, 0, 0);
        assert_eq!(r.status, SAM_STAT_RESERVATION_CONFLICT);
        // An unregistered nexus may not even reserve.
        let c = s.session("iqn.c");
        let r = s.pr_out(&c, PR_RESERVE, TYPE_WRITE_EXCLUSIVE, 0, 0, 0);
        assert_eq!(r.status, SAM_STAT_RESERVATION_CONFLICT);
        // RELEASE with the wrong type: INVALID RELEASE OF PERSISTENT RESERVATION.
        let r = s.pr_out(&a, PR_RELEASE, TYPE_EXCLUSIVE_ACCESS, 0xa, 0, 0);
        assert_eq!((r.sense[12], r.sense[13]), (0x26, 0x04));
        let r = s.pr_out(&a, PR_RELEASE, TYPE_WRITE_EXCLUSIVE, 0xa, 0, 0);
        assert_eq!(r.status, SAM_STAT_GOOD);
        assert_eq!(s.cmd(&b, &WRITE10, &[]).status, SAM_STAT_GOOD);
        assert_eq!(get_be32(&s.pr_in(&b, PR_READ_RESERVATION).data, 4), 0);

        // Exclusive access: the other nexus cannot even read; registrants-only lets every
        // registrant write but not the unregistered one.
        assert_eq!(
            s.pr_out(&a, PR_RESERVE, TYPE_EXCLUSIVE_ACCESS, 0xa, 0, 0)
                .status,
            0
        );
        assert_eq!(
            s.cmd(&b, &READ10, &[]).status,
            SAM_STAT_RESERVATION_CONFLICT
        );
        assert_eq!(
            s.pr_out(&a, PR_RELEASE, TYPE_EXCLUSIVE_ACCESS, 0xa, 0, 0)
                .status,
            0
        );
        let t = TYPE_WRITE_EXCLUSIVE_REGONLY;
        assert_eq!(s.pr_out(&a, PR_RESERVE, t, 0xa, 0, 0).status, 0);
        assert_eq!(s.cmd(&b, &WRITE10, &[]).status, SAM_STAT_GOOD);
        assert_eq!(
            s.cmd(&c, &WRITE10, &[]).status,
            SAM_STAT_RESERVATION_CONFLICT
        );
        assert_eq!(s.cmd(&c, &READ10, &[]).status, SAM_STAT_GOOD);
        for x in [a, b, c] {
            scst_unregister_session(&x, true, None);
        }
    }

    #[test]
    fn preempt_removes_the_other_registration() {
        let s = Setup::new("pr_preempt");
        let a = s.session("iqn.a");
        let b = s.session("iqn.b");
        assert_eq!(
            s.pr_out(&a, PR_REGISTER, 0, 0, 0xa, 0).status,
            SAM_STAT_GOOD
        );
        assert_eq!(
            s.pr_out(&b, PR_REGISTER, 0, 0, 0xb, 0).status,
            SAM_STAT_GOOD
        );
        let r = s.pr_out(&b, PR_RESERVE, TYPE_EXCLUSIVE_ACCESS, 0xb, 0, 0);
        assert_eq!(r.status, SAM_STAT_GOOD);
        assert_eq!(
            s.cmd(&a, &READ10, &[]).status,
            SAM_STAT_RESERVATION_CONFLICT
        );
        // A preempts B's key: B's registration and reservation go, A holds it.
        let r = s.pr_out(&a, PR_PREEMPT, TYPE_WRITE_EXCLUSIVE, 0xa, 0xb, 0);
        assert_eq!(r.status, SAM_STAT_GOOD, "{:x?}", r.sense);
        let (gen, keys) = s.read_keys(&a);
        assert_eq!(keys, vec![0xa]);
        assert_eq!(gen, 3);
        let r = s.pr_in(&a, PR_READ_RESERVATION);
        assert_eq!(get_be64(&r.data, 8), 0xa);
        assert_eq!(r.data[21], TYPE_WRITE_EXCLUSIVE);
        assert_eq!(
            s.cmd(&b, &WRITE10, &[]).status,
            SAM_STAT_RESERVATION_CONFLICT
        );
        assert_eq!(s.cmd(&a, &WRITE10, &[]).status, SAM_STAT_GOOD);
        // B's next command that passes the reservation check gets REGISTRATIONS PREEMPTED
        // (06/2A/05, scst_pr_send_ua_reg() from the preemption), once.
        let r = s.cmd(&b, &[TEST_UNIT_READY, 0, 0, 0, 0, 0], &[]);
        assert_eq!(r.status, SAM_STAT_CHECK_CONDITION);
        assert_eq!(
            (r.sense[2] & 0x0f, r.sense[12], r.sense[13]),
            (UNIT_ATTENTION, 0x2A, 0x05)
        );
        let r = s.cmd(&b, &[TEST_UNIT_READY, 0, 0, 0, 0, 0], &[]);
        assert_eq!(r.status, SAM_STAT_GOOD);
        // B is no longer registered.
        let r = s.pr_out(&b, PR_RELEASE, TYPE_WRITE_EXCLUSIVE, 0xb, 0, 0);
        assert_eq!(r.status, SAM_STAT_RESERVATION_CONFLICT);
        // PREEMPT of a key nobody has is a conflict; PREEMPT AND ABORT works as PREEMPT.
        assert_eq!(
            s.pr_out(&b, PR_REGISTER, 0, 0, 0xb, 0).status,
            SAM_STAT_GOOD
        );
        let r = s.pr_out(&a, PR_PREEMPT, TYPE_WRITE_EXCLUSIVE, 0xa, 0x77, 0);
        assert_eq!(r.status, SAM_STAT_RESERVATION_CONFLICT);
        let r = s.pr_out(&a, PR_PREEMPT_AND_ABORT, TYPE_WRITE_EXCLUSIVE, 0xa, 0xb, 0);
        assert_eq!(r.status, SAM_STAT_GOOD);
        assert_eq!(s.read_keys(&a).1, vec![0xa]);
        // CLEAR removes everything.
        assert_eq!(s.pr_out(&a, PR_CLEAR, 0, 0xa, 0, 0).status, SAM_STAT_GOOD);
        assert_eq!(s.read_keys(&a).1, Vec::<u64>::new());
        // B was preempted again (REGISTRATIONS PREEMPTED); its unit attentions are reported
        // one per command, then its commands run.
        let uas = s.drain_uas(&b);
        assert!(uas.contains(&(0x2A, 0x05)), "{uas:x?}");
        assert_eq!(s.cmd(&b, &WRITE10, &[]).status, SAM_STAT_GOOD);
        for x in [a, b] {
            scst_unregister_session(&x, true, None);
        }
    }

    /// PREEMPT AND ABORT of B's key while B has a command in the handler: SCST_PR_ABORT_ALL
    /// marks B's command aborted (by another initiator), A's command completes GOOD only
    /// after B's command is done, and B's next commands get REGISTRATIONS PREEMPTED and
    /// COMMANDS CLEARED BY ANOTHER INITIATOR.
    #[test]
    fn preempt_and_abort_aborts_the_preempted_nexus_commands() {
        // Two device threads: B's command holds one, A's PR command needs the other.
        let s = Setup::with_threads("pr_pa", 2);
        let a = s.session("iqn.a");
        let b = s.session("iqn.b");
        assert_eq!(
            s.pr_out(&a, PR_REGISTER, 0, 0, 0xa, 0).status,
            SAM_STAT_GOOD
        );
        assert_eq!(
            s.pr_out(&b, PR_REGISTER, 0, 0, 0xb, 0).status,
            SAM_STAT_GOOD
        );
        assert_eq!(
            s.pr_out(&a, PR_RESERVE, TYPE_WRITE_EXCLUSIVE, 0xa, 0, 0)
                .status,
            SAM_STAT_GOOD
        );
        s.dops.hold.store(true, SeqCst);
        let execs = s.dops.in_exec.load(SeqCst);
        let (b_tag, b_cmd) = s.send(&b, &READ10, &[]);
        let dops = s.dops.clone();
        assert!(wait_until(|| dops.in_exec.load(SeqCst) == execs + 1));
        let cdb = [
            PERSISTENT_RESERVE_OUT,
            PR_PREEMPT_AND_ABORT,
            TYPE_WRITE_EXCLUSIVE,
            0,
            0,
            0,
            0,
            0,
            24,
            0,
        ];
        let (a_tag, a_cmd) = s.send(&a, &cdb, &Setup::pr_params(0xa, 0xb, 0));
        drop(a_cmd);
        let bc = b_cmd.clone();
        assert!(wait_until(|| kemu::atomic::test_bit(
            SCST_CMD_ABORTED,
            &bc.cmd_flags
        )));
        assert!(kemu::atomic::test_bit(
            SCST_CMD_ABORTED_OTHER,
            &b_cmd.cmd_flags
        ));
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(
            !s.tops.resps.lock().iter().any(|r| r.tag == a_tag),
            "PREEMPT AND ABORT waits for the aborted command"
        );
        s.dops.hold.store(false, SeqCst);
        let r = s.wait_resp(a_tag);
        assert_eq!(r.status, SAM_STAT_GOOD, "{:x?}", r.sense);
        drop(b_cmd);
        // B's aborted command was done before; it completed, so as in C its status may
        // still be delivered, with GOOD.
        if let Some(r) = s.tops.resps.lock().iter().find(|r| r.tag == b_tag) {
            assert_eq!(r.status, SAM_STAT_GOOD);
        }
        assert!(wait_until(
            || kemu::atomic::atomic_read(&b.sess_cmd_count) == 0
        ));
        assert_eq!(s.read_keys(&a).1, vec![0xa]);
        let uas = s.drain_uas(&b);
        assert!(uas.contains(&(0x2A, 0x05)), "{uas:x?}");
        assert!(uas.contains(&(0x2F, 0x00)), "{uas:x?}");
        // A's nexus serves commands.
        assert_eq!(s.cmd(&a, &WRITE10, &[]).status, SAM_STAT_GOOD);
        for x in [a, b] {
            scst_unregister_session(&x, true, None);
        }
    }

    #[test]
    fn report_capabilities_bytes() {
        let s = Setup::new("pr_caps");
        let a = s.session("iqn.a");
        let r = s.pr_in(&a, PR_REPORT_CAPS);
        assert_eq!(r.status, SAM_STAT_GOOD);
        assert_eq!(r.data, vec![0, 8, 0x1d, 0xc0, 0xea, 0x01, 0, 0]);
        // An unknown service action: INVALID FIELD IN CDB.
        let r = s.pr_in(&a, 0x1f);
        assert_eq!(r.status, SAM_STAT_CHECK_CONDITION);
        assert_eq!(r.sense[12], 0x24);
        scst_unregister_session(&a, true, None);
    }

    #[test]
    fn aptpl_saves_the_state_and_a_reload_restores_it() {
        let dir = std::env::temp_dir().join(format!("scst_pr_test_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = Setup::new("pr_aptpl");
        scst_pr_set_dir(dir.clone());
        s.remove_disk();
        s.add_disk("prdisk1");
        let a = s.session("iqn.a");
        let r = s.pr_out(&a, PR_REGISTER, 0, 0, 0xabc, 0x01);
        assert_eq!(r.status, SAM_STAT_GOOD);
        let r = s.pr_out(&a, PR_RESERVE, TYPE_WRITE_EXCLUSIVE, 0xabc, 0, 0);
        assert_eq!(r.status, SAM_STAT_GOOD);
        let file = dir.join("prdisk1");
        let data = std::fs::read(&file).unwrap();
        assert_eq!(data[..8], SCST_PR_FILE_SIGN.to_le_bytes());
        assert_eq!(s.pr_in(&a, PR_REPORT_CAPS).data[3], 0xc1);
        scst_unregister_session(&a, true, None);

        // The device goes and comes back: the registration and the reservation are loaded.
        s.remove_disk();
        let dev = s.add_disk("prdisk1");
        {
            let pr = dev.dev_pr_mutex.lock();
            assert!(pr.pr_aptpl && pr.pr_is_set);
            assert_eq!(pr.pr_type, TYPE_WRITE_EXCLUSIVE);
            assert_eq!(pr.dev_registrants_list.len(), 1);
        }
        let b = s.session("iqn.b");
        assert_eq!(s.read_keys(&b).1, vec![0xabc]);
        assert_eq!(
            s.cmd(&b, &WRITE10, &[]).status,
            SAM_STAT_RESERVATION_CONFLICT
        );
        // The initiator logs in again and finds its registration.
        let a = s.session("iqn.a");
        assert_eq!(s.cmd(&a, &WRITE10, &[]).status, SAM_STAT_GOOD);
        // Unregistering the last registrant removes the files.
        assert_eq!(
            s.pr_out(&a, PR_REGISTER, 0, 0xabc, 0, 0x01).status,
            SAM_STAT_GOOD
        );
        assert!(!file.exists());
        for x in [a, b] {
            scst_unregister_session(&x, true, None);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn aptpl_to_an_unwritable_dir_completes_the_command() {
        let mut s = Setup::new("pr_aptpl_ro");
        scst_pr_set_dir(PathBuf::from("/nonexistent/scst/pr"));
        s.remove_disk();
        s.add_disk("prdisk2");
        let a = s.session("iqn.a");
        let r = s.pr_out(&a, PR_REGISTER, 0, 0, 0x5, 0x01);
        assert_eq!(r.status, SAM_STAT_GOOD);
        assert_eq!(s.read_keys(&a).1, vec![0x5]);
        scst_unregister_session(&a, true, None);
    }

    #[test]
    fn spc2_reserve_release_and_session_teardown() {
        let s = Setup::new("pr_spc2");
        let a = s.session("iqn.a");
        let b = s.session("iqn.b");
        assert_eq!(
            s.cmd(&a, &[RESERVE, 0, 0, 0, 0, 0], &[]).status,
            SAM_STAT_GOOD
        );
        assert_eq!(
            s.cmd(&b, &WRITE10, &[]).status,
            SAM_STAT_RESERVATION_CONFLICT
        );
        assert_eq!(
            s.cmd(&b, &READ10, &[]).status,
            SAM_STAT_RESERVATION_CONFLICT
        );
        // TEST UNIT READY is allowed under an SPC-2 reservation (SCST_REG_RESERVE_ALLOWED).
        assert_eq!(s.cmd(&b, &TUR, &[]).status, SAM_STAT_GOOD);
        assert_eq!(
            s.cmd(&b, &[RESERVE, 0, 0, 0, 0, 0], &[]).status,
            SAM_STAT_RESERVATION_CONFLICT
        );
        // PR commands while an SPC-2 reservation exists: conflict.
        assert_eq!(
            s.pr_in(&a, PR_READ_KEYS).status,
            SAM_STAT_RESERVATION_CONFLICT
        );
        assert_eq!(s.cmd(&a, &WRITE10, &[]).status, SAM_STAT_GOOD);
        // RELEASE by the holder frees it.
        assert_eq!(
            s.cmd(&a, &[RELEASE, 0, 0, 0, 0, 0], &[]).status,
            SAM_STAT_GOOD
        );
        assert_eq!(s.cmd(&b, &WRITE10, &[]).status, SAM_STAT_GOOD);
        // RESERVE(10) by A; RELEASE by B is GOOD and changes nothing.
        assert_eq!(
            s.cmd(&a, &[RESERVE_10, 0, 0, 0, 0, 0, 0, 0, 0, 0], &[])
                .status,
            0
        );
        assert_eq!(
            s.cmd(&b, &[RELEASE, 0, 0, 0, 0, 0], &[]).status,
            SAM_STAT_GOOD
        );
        assert_eq!(
            s.cmd(&b, &WRITE10, &[]).status,
            SAM_STAT_RESERVATION_CONFLICT
        );
        // The holder's session goes: the reservation goes with it.
        scst_unregister_session(&a, true, None);
        assert_eq!(s.cmd(&b, &WRITE10, &[]).status, SAM_STAT_GOOD);
        scst_unregister_session(&b, true, None);
    }

    #[test]
    fn transport_ids_compare_as_c_does() {
        let p1 = scst_pr_iscsi_transport_id("iqn.X", 0x1234);
        assert_eq!(p1.len() % 4, 0);
        assert_eq!(p1[0], 0x45);
        assert_eq!(scst_tid_size(&p1), p1.len());
        assert!(tid_equal(Some(&p1), Some(&p1)));
        // Format 0 (initiator device) matches format 1 (port) of the same name, any case.
        let mut p0 = vec![SCSI_TRANSPORTID_PROTOCOLID_ISCSI, 0, 0, 8];
        p0.extend_from_slice(b"IQN.x\0\0\0");
        assert!(tid_equal(Some(&p0), Some(&p1)));
        assert!(!tid_equal(
            Some(&p0),
            Some(&scst_pr_iscsi_transport_id("iqn.y", 1))
        ));
        // Truncated and foreign TransportIDs never match and never panic.
        assert!(!tid_equal(Some(&p1[..2]), Some(&p1)));
        assert!(!tid_equal(
            Some(&[0x40 | 5, 0, 0, 4, b'a', b'b', 0, 0][..]),
            Some(&p1)
        ));
        assert!(!tid_equal(None, Some(&p1)));
        assert_eq!(scst_tid_size(&[1, 2]), TID_COMMON_SIZE);
        assert!(scst_tid_size(&[5]) > 0xffff);
    }
}
