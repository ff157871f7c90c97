// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2005 FUJITA Tomonori <tomof@acm.org>
// Copyright (C) 2007 - 2016 Vladislav Bolkhovitin
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! The driver's side of `ISCSI_PARAM_SET` / `ISCSI_PARAM_GET`: the port of
//! `iscsi-scst/kernel/param.c`. The daemon negotiates; the driver only clamps each value to what
//! it can do (`CHECK_PARAM`, with a warning), stores it in the session and hands it back.
#![doc(alias = "param.c")]

use std::sync::atomic::Ordering;

use kemu::mm::PAGE_SIZE;
use kemu::sync::MutexGuard;
use kemu::timer::HZ;
use kemu::workqueue::schedule_delayed_work;
use kemu::{Errno, PRINT_ERROR, PRINT_INFO, PRINT_WARNING, TRACE_DBG};

use crate::abi::*;
use crate::digest::digest_alg_available;
use crate::iscsi::{
    IscsiSessParams, IscsiSession, IscsiTgtParams, ISCSI_ADD_SCHED_TIME, ISCSI_CONN_IOV_MAX,
    TRACE_FLAG,
};
use crate::session::session_lookup;
use crate::target::{IscsiTarget, TargetMutex};

/// C `iscsi_get_bool_value()`.
pub fn iscsi_get_bool_value(val: i32) -> &'static str {
    if val != 0 {
        "Yes"
    } else {
        "No"
    }
}

/// C `iscsi_get_digest_name()`: "None", "CRC32C", "None, CRC32C" or "Unknown".
pub fn iscsi_get_digest_name(val: i32) -> String {
    let mut res = String::new();
    if val & DIGEST_NONE != 0 {
        res.push_str("None");
    }
    if val & DIGEST_CRC32C != 0 {
        if !res.is_empty() {
            res.push_str(", ");
        }
        res.push_str("CRC32C");
    }
    if res.is_empty() {
        res.push_str("Unknown");
    }
    res
}

fn log_params(p: &IscsiSessParams) {
    PRINT_INFO!(
        "Negotiated parameters: InitialR2T {}, ImmediateData {}, MaxConnections {}, MaxRecvDataSegmentLength {}, MaxXmitDataSegmentLength {}, ",
        iscsi_get_bool_value(p.initial_r2t),
        iscsi_get_bool_value(p.immediate_data),
        p.max_connections,
        p.max_recv_data_length,
        p.max_xmit_data_length
    );
    PRINT_INFO!(
        "    MaxBurstLength {}, FirstBurstLength {}, DefaultTime2Wait {}, DefaultTime2Retain {}, ",
        p.max_burst_length,
        p.first_burst_length,
        p.default_wait_time,
        p.default_retain_time
    );
    PRINT_INFO!(
        "    MaxOutstandingR2T {}, DataPDUInOrder {}, DataSequenceInOrder {}, ErrorRecoveryLevel {}, ",
        p.max_outstanding_r2t,
        iscsi_get_bool_value(p.data_pdu_inorder),
        iscsi_get_bool_value(p.data_sequence_inorder),
        p.error_recovery_level
    );
    PRINT_INFO!(
        "    HeaderDigest {}, DataDigest {}, OFMarker {}, IFMarker {}, OFMarkInt {}, IFMarkInt {}, RDMAExtensions {}",
        iscsi_get_digest_name(p.header_digest),
        iscsi_get_digest_name(p.data_digest),
        iscsi_get_bool_value(p.ofmarker),
        iscsi_get_bool_value(p.ifmarker),
        p.ofmarkint,
        p.ifmarkint,
        iscsi_get_bool_value(p.rdma_extensions)
    );
}

/// True when key `key` is part of this set (C: `!info->partial || info->partial & 1 << key`).
fn in_set(info: &iscsi_kern_params_info, key: usize) -> bool {
    info.partial == 0 || (key < 32 && info.partial & (1 << key) != 0)
}

/// C `CHECK_PARAM`: clamps `iparams[key]` into `[min, max]` with a warning.
fn check_param(
    info_partial: &iscsi_kern_params_info,
    iparams: &mut [i32],
    key: usize,
    word: &str,
    min: i64,
    max: i64,
) {
    if !in_set(info_partial, key) {
        return;
    }
    let Some(v) = iparams.get_mut(key) else {
        return;
    };
    TRACE_DBG!("{}: {}", word, *v);
    // C compares the int with unsigned limits for most keys; the values here are all small
    // and non-negative, so a signed comparison gives the same answers for sane input, and a
    // negative value is too small rather than too big.
    let val = i64::from(*v);
    if val < min {
        PRINT_WARNING!(
            "{}: {} is too small, resetting it to allowed min {}",
            word,
            *v,
            min
        );
        *v = i32::try_from(min).unwrap_or(i32::MAX);
    } else if val > max {
        PRINT_WARNING!(
            "{}: {} is too big, resetting it to allowed max {}",
            word,
            *v,
            max
        );
        *v = i32::try_from(max).unwrap_or(i32::MAX);
    }
}

/// C: param.c sess_params_check(): the driver's sanity limits of the session keys.
pub fn sess_params_check(info: &mut iscsi_kern_params_info) {
    let max_len = i64::try_from(ISCSI_CONN_IOV_MAX * PAGE_SIZE).unwrap_or(i64::MAX);
    let hdr = *info;
    let ip = &mut info.session_params;
    check_param(&hdr, ip, key_initial_r2t, "initial_r2t", 0, 1);
    check_param(&hdr, ip, key_immediate_data, "immediate_data", 0, 1);
    check_param(&hdr, ip, key_max_connections, "max_connections", 1, 1);
    check_param(
        &hdr,
        ip,
        key_max_recv_data_length,
        "max_recv_data_length",
        512,
        max_len,
    );
    check_param(
        &hdr,
        ip,
        key_max_xmit_data_length,
        "max_xmit_data_length",
        512,
        max_len,
    );
    check_param(
        &hdr,
        ip,
        key_max_burst_length,
        "max_burst_length",
        512,
        max_len,
    );
    check_param(
        &hdr,
        ip,
        key_first_burst_length,
        "first_burst_length",
        512,
        max_len,
    );
    check_param(
        &hdr,
        ip,
        key_max_outstanding_r2t,
        "max_outstanding_r2t",
        1,
        65535,
    );
    check_param(
        &hdr,
        ip,
        key_error_recovery_level,
        "error_recovery_level",
        0,
        0,
    );
    check_param(&hdr, ip, key_data_pdu_inorder, "data_pdu_inorder", 0, 1);
    check_param(
        &hdr,
        ip,
        key_data_sequence_inorder,
        "data_sequence_inorder",
        0,
        1,
    );

    digest_alg_available(&mut ip[key_header_digest]);
    digest_alg_available(&mut ip[key_data_digest]);

    check_param(&hdr, ip, key_ofmarker, "ofmarker", 0, 0);
    check_param(&hdr, ip, key_ifmarker, "ifmarker", 0, 0);

    // iSER related parameters.
    check_param(&hdr, ip, key_rdma_extensions, "rdma_extensions", 0, 1);
    check_param(
        &hdr,
        ip,
        key_target_recv_data_length,
        "target_recv_data_length",
        512,
        max_len,
    );
    check_param(
        &hdr,
        ip,
        key_initiator_recv_data_length,
        "initiator_recv_data_length",
        512,
        max_len,
    );
}

/// The session parameters in key order, as (`key`, field) pairs, for `SET_PARAM` /
/// `GET_PARAM`.
macro_rules! sess_fields {
    ($m:ident, $p:expr, $info:expr) => {
        $m!($p, $info, key_initial_r2t, initial_r2t, i32);
        $m!($p, $info, key_immediate_data, immediate_data, i32);
        $m!($p, $info, key_max_connections, max_connections, i32);
        $m!(
            $p,
            $info,
            key_max_recv_data_length,
            max_recv_data_length,
            u32
        );
        $m!(
            $p,
            $info,
            key_max_xmit_data_length,
            max_xmit_data_length,
            u32
        );
        $m!($p, $info, key_max_burst_length, max_burst_length, u32);
        $m!($p, $info, key_first_burst_length, first_burst_length, u32);
        $m!($p, $info, key_default_wait_time, default_wait_time, i32);
        $m!($p, $info, key_default_retain_time, default_retain_time, i32);
        $m!($p, $info, key_max_outstanding_r2t, max_outstanding_r2t, u32);
        $m!($p, $info, key_data_pdu_inorder, data_pdu_inorder, i32);
        $m!(
            $p,
            $info,
            key_data_sequence_inorder,
            data_sequence_inorder,
            i32
        );
        $m!(
            $p,
            $info,
            key_error_recovery_level,
            error_recovery_level,
            i32
        );
        $m!($p, $info, key_header_digest, header_digest, i32);
        $m!($p, $info, key_data_digest, data_digest, i32);
        $m!($p, $info, key_ofmarker, ofmarker, i32);
        $m!($p, $info, key_ifmarker, ifmarker, i32);
        $m!($p, $info, key_ofmarkint, ofmarkint, i32);
        $m!($p, $info, key_ifmarkint, ifmarkint, i32);
        $m!($p, $info, key_rdma_extensions, rdma_extensions, i32);
        $m!(
            $p,
            $info,
            key_target_recv_data_length,
            target_recv_data_length,
            i32
        );
        $m!(
            $p,
            $info,
            key_initiator_recv_data_length,
            initiator_recv_data_length,
            i32
        );
    };
}

macro_rules! set_sess {
    ($p:expr, $info:expr, $key:ident, $field:ident, $ty:ty) => {
        if in_set($info, $key) {
            // The driver's field has the C type; the bits are kept (C assignment).
            $p.$field = <$ty>::from_ne_bytes($info.session_params[$key].to_ne_bytes());
            TRACE_DBG!("{} set to {}", stringify!($field), $p.$field);
        }
    };
}

macro_rules! get_sess {
    ($p:expr, $info:expr, $key:ident, $field:ident, $ty:ty) => {
        $info.session_params[$key] = i32::from_ne_bytes($p.$field.to_ne_bytes());
    };
}

/// C: param.c sess_params_set().
pub fn sess_params_set(params: &mut IscsiSessParams, info: &iscsi_kern_params_info) {
    sess_fields!(set_sess, params, info);
}

/// C: param.c sess_params_get().
pub fn sess_params_get(params: &IscsiSessParams, info: &mut iscsi_kern_params_info) {
    sess_fields!(get_sess, params, info);
}

/// C: param.c tgt_params_check(): the driver's limits of the target keys; warns when
/// RspTimeout is shorter than NopInTimeout.
pub fn tgt_params_check(current: &IscsiTgtParams, info: &mut iscsi_kern_params_info) {
    let hdr = *info;
    let ip = &mut info.target_params;
    check_param(
        &hdr,
        ip,
        key_queued_cmnds,
        "queued_cmnds",
        i64::from(MIN_NR_QUEUED_CMNDS),
        i64::from(MAX_NR_QUEUED_CMNDS),
    );
    check_param(
        &hdr,
        ip,
        key_rsp_timeout,
        "rsp_timeout",
        i64::from(MIN_RSP_TIMEOUT),
        i64::from(MAX_RSP_TIMEOUT),
    );
    check_param(
        &hdr,
        ip,
        key_nop_in_interval,
        "nop_in_interval",
        i64::from(MIN_NOP_IN_INTERVAL),
        i64::from(MAX_NOP_IN_INTERVAL),
    );
    check_param(
        &hdr,
        ip,
        key_nop_in_timeout,
        "nop_in_timeout",
        i64::from(MIN_NOP_IN_TIMEOUT),
        i64::from(MAX_NOP_IN_TIMEOUT),
    );

    // The too long timeout is adjusted in req_add_to_write_timeout_list() only for NOPs, so
    // warn if that assumption does not hold.
    let rsp_timeout = if in_set(&hdr, key_rsp_timeout) {
        ip[key_rsp_timeout].cast_unsigned()
    } else {
        current.rsp_timeout
    };
    let nop_in_timeout = if in_set(&hdr, key_nop_in_timeout) {
        ip[key_nop_in_timeout].cast_unsigned()
    } else {
        current.nop_in_timeout
    };
    if nop_in_timeout > rsp_timeout {
        PRINT_WARNING!(
            "RspTimeout should be >= NopInTimeout, otherwise data transfer failure could take up to NopInTimeout long to detect"
        );
    }
}

/// C: param.c iscsi_tgt_params_set(); `target_mutex` held (`g`).
fn iscsi_tgt_params_set(
    session: &IscsiSession,
    g: &mut MutexGuard<'_, TargetMutex>,
    info: &mut iscsi_kern_params_info,
    set: bool,
) -> Result<(), Errno> {
    if set {
        let current = *session.tgt_params.read();
        tgt_params_check(&current, info);
        let mut p = session.tgt_params.write();
        if in_set(info, key_queued_cmnds) {
            p.queued_cmnds = info.target_params[key_queued_cmnds];
        }
        if in_set(info, key_rsp_timeout) {
            p.rsp_timeout = info.target_params[key_rsp_timeout].cast_unsigned();
        }
        if in_set(info, key_nop_in_interval) {
            p.nop_in_interval = info.target_params[key_nop_in_interval].cast_unsigned();
        }
        if in_set(info, key_nop_in_timeout) {
            p.nop_in_timeout = info.target_params[key_nop_in_timeout].cast_unsigned();
        }
        let p = *p;

        PRINT_INFO!(
            "Target parameters set for session {:x}: QueuedCommands {}, Response timeout {}, Nop-In interval {}, Nop-In timeout {}",
            session.sid,
            p.queued_cmnds,
            p.rsp_timeout,
            p.nop_in_interval,
            p.nop_in_timeout
        );

        for conn in &session.tm.access(g).conn_list {
            conn.data_rsp_timeout
                .store(u64::from(p.rsp_timeout) * HZ, Ordering::Release);
            conn.nop_in_interval
                .store(u64::from(p.nop_in_interval) * HZ, Ordering::Release);
            conn.nop_in_timeout
                .store(u64::from(p.nop_in_timeout) * HZ, Ordering::Release);
            let _rd = conn.conn_thr_pool.rd_lock.lock_bh();
            let interval = conn.nop_in_interval.load(Ordering::Acquire);
            if !conn.closing.load(Ordering::Acquire) && interval > 0 {
                TRACE_DBG!("Schedule Nop-In work for conn {:?}", conn);
                schedule_delayed_work(&conn.nop_in_delayed_work, interval + ISCSI_ADD_SCHED_TIME);
            }
        }
    } else {
        let p = *session.tgt_params.read();
        info.target_params[key_queued_cmnds] = p.queued_cmnds;
        info.target_params[key_rsp_timeout] = p.rsp_timeout.cast_signed();
        info.target_params[key_nop_in_interval] = p.nop_in_interval.cast_signed();
        info.target_params[key_nop_in_timeout] = p.nop_in_timeout.cast_signed();
    }
    Ok(())
}

/// C: param.c iscsi_sess_params_set(); `target_mutex` held.
fn iscsi_sess_params_set(
    session: &IscsiSession,
    info: &mut iscsi_kern_params_info,
    set: bool,
) -> Result<(), Errno> {
    if set {
        sess_params_check(info);
        let mut p = session.sess_params.write();
        sess_params_set(&mut p, info);
        log_params(&p);
    } else {
        sess_params_get(&session.sess_params.read(), info);
    }
    Ok(())
}

/// C: param.c iscsi_params_set(): sets (`set`) or reads the session or target parameters of
/// session `info.sid`; `target_mutex` held (`g`). `EINVAL` for sid 0 or an unknown type,
/// `ENOENT` for an unknown session, `EBUSY` to change session keys of a session with
/// connections.
pub fn iscsi_params_set(
    target: &IscsiTarget,
    g: &mut MutexGuard<'_, TargetMutex>,
    info: &mut iscsi_kern_params_info,
    set: bool,
) -> Result<(), Errno> {
    if info.sid == 0 {
        PRINT_ERROR!("sid must not be {}", 0);
        return Err(Errno::EINVAL);
    }

    let Some(session) = session_lookup(target, g, info.sid) else {
        PRINT_ERROR!("Session for sid {:x} not found", info.sid);
        return Err(Errno::ENOENT);
    };

    if set && !session.tm.access(g).conn_list.is_empty() && info.params_type != key_target {
        return Err(Errno::EBUSY);
    }

    if info.params_type == key_session {
        iscsi_sess_params_set(&session, info, set)
    } else if info.params_type == key_target {
        iscsi_tgt_params_set(&session, g, info, set)
    } else {
        Err(Errno::EINVAL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info_with(partial: u32) -> iscsi_kern_params_info {
        iscsi_kern_params_info {
            partial,
            ..Default::default()
        }
    }

    #[test]
    fn digest_and_bool_names() {
        assert_eq!(iscsi_get_digest_name(DIGEST_NONE), "None");
        assert_eq!(iscsi_get_digest_name(DIGEST_CRC32C), "CRC32C");
        assert_eq!(iscsi_get_digest_name(DIGEST_ALL), "None, CRC32C");
        assert_eq!(iscsi_get_digest_name(0), "Unknown");
        assert_eq!(iscsi_get_bool_value(1), "Yes");
        assert_eq!(iscsi_get_bool_value(0), "No");
    }

    #[test]
    fn session_keys_are_clamped_to_the_driver_limits() {
        let mut info = info_with(0);
        let ip = &mut info.session_params;
        ip[key_initial_r2t] = 5;
        ip[key_max_connections] = 4;
        ip[key_max_recv_data_length] = 100;
        ip[key_max_xmit_data_length] = 1 << 30;
        ip[key_max_burst_length] = 262_144;
        ip[key_first_burst_length] = 65_536;
        ip[key_max_outstanding_r2t] = 0;
        ip[key_error_recovery_level] = 2;
        ip[key_header_digest] = DIGEST_ALL;
        ip[key_data_digest] = DIGEST_NONE;
        ip[key_target_recv_data_length] = 512;
        ip[key_initiator_recv_data_length] = 512;
        sess_params_check(&mut info);
        let ip = &info.session_params;
        assert_eq!(ip[key_initial_r2t], 1);
        assert_eq!(ip[key_max_connections], 1);
        assert_eq!(ip[key_max_recv_data_length], 512);
        assert_eq!(ip[key_max_xmit_data_length], 1 << 20);
        assert_eq!(ip[key_max_burst_length], 262_144);
        assert_eq!(ip[key_max_outstanding_r2t], 1);
        assert_eq!(ip[key_error_recovery_level], 0);
        assert_eq!(ip[key_header_digest], DIGEST_ALL);
    }

    #[test]
    fn partial_sets_only_the_flagged_keys() {
        let mut info = info_with(1 << key_max_recv_data_length);
        info.session_params[key_max_recv_data_length] = 8192;
        info.session_params[key_initial_r2t] = 7; // not in the set: neither checked nor set
        sess_params_check(&mut info);
        assert_eq!(info.session_params[key_initial_r2t], 7);
        let mut p = IscsiSessParams {
            initial_r2t: 1,
            ..Default::default()
        };
        sess_params_set(&mut p, &info);
        assert_eq!(p.max_recv_data_length, 8192);
        assert_eq!(p.initial_r2t, 1);
        let mut out = info_with(0);
        sess_params_get(&p, &mut out);
        assert_eq!(out.session_params[key_max_recv_data_length], 8192);
        assert_eq!(out.session_params[key_initial_r2t], 1);
    }

    #[test]
    fn target_keys_are_clamped() {
        let mut info = info_with(0);
        info.target_params[key_queued_cmnds] = 0;
        info.target_params[key_rsp_timeout] = 1;
        info.target_params[key_nop_in_interval] = 70_000;
        info.target_params[key_nop_in_timeout] = 30;
        tgt_params_check(&IscsiTgtParams::default(), &mut info);
        assert_eq!(info.target_params[key_queued_cmnds], MIN_NR_QUEUED_CMNDS);
        assert_eq!(info.target_params[key_rsp_timeout], MIN_RSP_TIMEOUT);
        assert_eq!(info.target_params[key_nop_in_interval], MAX_NOP_IN_INTERVAL);
        assert_eq!(info.target_params[key_nop_in_timeout], 30);
    }
}
