// SPDX-License-Identifier: GPL-2.0-only
//! Task management of the real `iscsi-scstd` binary through the independent test initiator
//! (`scst_tests::initiator`), and libiscsi's `iscsi-test-cu -t ALL.iSCSITMF` when installed.
//!
//! Expected responses follow r7105 `iscsi-scst/kernel/iscsi.c` (`execute_task_management`,
//! `cmnd_abort_pre_checks`, `iscsi_get_mgmt_response`) and `scst/src/scst_targ.c` /
//! `scst_lib.c` (`scst_lun_reset`, `scst_target_reset`, `scst_process_reset`, which queues
//! `scst_sense_reset_UA`, 06/29/00, to every nexus of the reset device).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use scst_tests::initiator::{Connection, LoginParams, STATUS_CHECK_CONDITION};
use scst_tests::server::Server;
use std::process::Command;
use std::time::Duration;

const DEFAULT_TARGET: &str = "iqn.2026-11.org.scst-rs:default";
const STEP: Duration = Duration::from_secs(10);

/// RFC 3720 §10.5.1 function codes.
const ABORT_TASK: u8 = 1;
const ABORT_TASK_SET: u8 = 2;
const CLEAR_ACA: u8 = 3;
const CLEAR_TASK_SET: u8 = 4;
const LOGICAL_UNIT_RESET: u8 = 5;
const TARGET_WARM_RESET: u8 = 6;
const TASK_REASSIGN: u8 = 8;
/// RFC 3720 §10.6.1 responses.
const FUNCTION_COMPLETE: u8 = 0;
const TASK_DOES_NOT_EXIST: u8 = 1;
const LUN_DOES_NOT_EXIST: u8 = 2;
const REASSIGNMENT_NOT_SUPPORTED: u8 = 4;
const FUNCTION_REJECTED: u8 = 255;
const RESERVED_TAG: u32 = 0xffff_ffff;

fn start(test: &str) -> Server {
    Server::start(test, &[]).unwrap_or_else(|e| panic!("{test}: {e}"))
}

fn stop(server: Server) {
    let pid = server.pid;
    let (st, stderr) = server
        .stop()
        .unwrap_or_else(|e| panic!("stopping pid {pid}: {e}"));
    assert_eq!(st.code(), Some(0), "exit {st}\nstderr:\n{stderr}");
}

fn login(server: &Server, initiator: &str) -> Connection {
    let mut c = Connection::connect(server.addr, STEP).unwrap();
    let out = c
        .login(&LoginParams::normal(initiator, DEFAULT_TARGET))
        .unwrap();
    assert!(out.succeeded(), "{out:?}");
    c
}

/// TEST UNIT READY until it answers GOOD, returning the (key, ASC, ASCQ) of the unit
/// attentions seen on the way (as an initiator retries on UNIT ATTENTION).
fn unit_attentions(c: &mut Connection, lun: u16) -> Vec<(u8, u8, u8)> {
    let mut seen = Vec::new();
    for _ in 0..8 {
        let r = c.test_unit_ready(lun).unwrap();
        if r.is_good() {
            return seen;
        }
        assert_eq!(r.status, STATUS_CHECK_CONDITION, "{r:?}");
        let (asc, ascq) = r.asc_ascq().unwrap();
        seen.push((r.sense_key().unwrap(), asc, ascq));
    }
    panic!("LUN {lun} keeps answering CHECK CONDITION: {seen:02x?}");
}

const POWER_ON_RESET: (u8, u8, u8) = (0x06, 0x29, 0x00);

/// ABORT TASK of a task tag nobody uses: RefCmdSN in the window before the request's CmdSN
/// means it completed already (RFC 3720 §10.5.1 b): FUNCTION COMPLETE; a RefCmdSN not before
/// the CmdSN: TASK DOES NOT EXIST. Invalid requests are refused and the server goes on.
#[test]
fn abort_task_of_an_unknown_task() {
    let server = start("tmf_abort_unknown");
    let mut c = login(&server, "iqn.2026-11.org.scst-rs.test:tmf-abort");
    assert_eq!(unit_attentions(&mut c, 0), vec![POWER_ON_RESET]);
    let sn = c.cmdsn();
    assert_eq!(
        c.task_management(ABORT_TASK, 0, 0x1234, sn.wrapping_sub(1))
            .unwrap(),
        FUNCTION_COMPLETE
    );
    assert_eq!(
        c.task_management(ABORT_TASK, 0, 0x1234, sn).unwrap(),
        TASK_DOES_NOT_EXIST
    );
    // A RTT with a function that has none is rejected (r7105 checks that first); TASK
    // REASSIGN is not supported.
    assert_eq!(
        c.task_management(ABORT_TASK_SET, 0, 7, sn).unwrap(),
        FUNCTION_REJECTED
    );
    assert_eq!(
        c.task_management(TASK_REASSIGN, 0, RESERVED_TAG, sn)
            .unwrap(),
        REASSIGNMENT_NOT_SUPPORTED
    );
    // ABORT TASK SET, CLEAR TASK SET and CLEAR ACA (no ACA: nothing to clear) succeed;
    // a LUN without a device does not exist.
    for f in [ABORT_TASK_SET, CLEAR_TASK_SET, CLEAR_ACA] {
        assert_eq!(
            c.task_management(f, 0, RESERVED_TAG, sn).unwrap(),
            FUNCTION_COMPLETE,
            "function {f}"
        );
    }
    assert_eq!(
        c.task_management(LOGICAL_UNIT_RESET, 9, RESERVED_TAG, sn)
            .unwrap(),
        LUN_DOES_NOT_EXIST
    );
    let r = c.inquiry(0, 96).unwrap().into_good().unwrap();
    assert_eq!(r.data[0] & 0x1f, 0);
    assert_eq!(c.logout().unwrap().response, 0);
    stop(server);
}

/// ABORT TASK of a WRITE that waits for its Data-Out (InitialR2T=Yes, no immediate data:
/// the target asked with an R2T that is never answered). The function waits for the aborted
/// command to finish, which takes ISCSI_TM_DATA_WAIT_TIMEOUT (10 s): as in r7105 the response
/// timer then finds the aborted request's data overdue (`iscsi_get_timeout()` is at most
/// that timeout for an aborted request) and closes the connection, whose
/// SCST_NEXUS_LOSS_SESS finishes the command; the ABORT TASK answers FUNCTION COMPLETE
/// first, the WRITE gets no response, and the target serves a new session.
#[test]
fn abort_task_of_a_write_waiting_for_data() {
    let server = start("tmf_abort_write");
    let mut c = Connection::connect(server.addr, Duration::from_secs(30)).unwrap();
    let params = LoginParams::normal("iqn.2026-11.org.scst-rs.test:tmf-write", DEFAULT_TARGET)
        .with_key("InitialR2T", "Yes")
        .with_key("ImmediateData", "No");
    assert!(c.login(&params).unwrap().succeeded());
    assert_eq!(unit_attentions(&mut c, 0), vec![POWER_ON_RESET]);

    let write10 = [0x2a, 0, 0, 0, 0, 0x10, 0, 0, 8, 0];
    let (itt, write_sn) = c
        .send_scsi_command_only(&write10, 0, true, 8 * 512)
        .unwrap();
    let r2t = c.recv_pdu().unwrap();
    assert_eq!((r2t.opcode(), r2t.itt()), (0x31, itt), "{r2t:?}");

    let t0 = std::time::Instant::now();
    assert_eq!(
        c.task_management(ABORT_TASK, 0, itt, write_sn).unwrap(),
        FUNCTION_COMPLETE
    );
    assert!(t0.elapsed() >= Duration::from_secs(9), "{:?}", t0.elapsed());
    // Nothing for the WRITE: the connection is closed (or, had the read side failed the
    // request first, the next answer would be the TEST UNIT READY's).
    if let Ok(r) = c.test_unit_ready(0) {
        assert!(r.is_good(), "{r:?}");
    }
    drop(c);
    let mut d = login(&server, "iqn.2026-11.org.scst-rs.test:tmf-write2");
    let r = d.inquiry(0, 96).unwrap().into_good().unwrap();
    assert_eq!(r.data[0] & 0x1f, 0);
    assert_eq!(d.logout().unwrap().response, 0);
    stop(server);
}

/// LOGICAL UNIT RESET answers FUNCTION COMPLETE; every session then sees POWER ON, RESET
/// OCCURRED on the reset LUN only (scst_process_reset() queues it to every nexus of the
/// device, the requester's included).
#[test]
fn lun_reset_reaches_every_session() {
    let server = start("tmf_lun_reset");
    let mut a = login(&server, "iqn.2026-11.org.scst-rs.test:tmf-a");
    let mut b = login(&server, "iqn.2026-11.org.scst-rs.test:tmf-b");
    for c in [&mut a, &mut b] {
        for lun in [0, 1] {
            assert_eq!(unit_attentions(c, lun), vec![POWER_ON_RESET]);
        }
    }
    let sn = a.cmdsn();
    assert_eq!(
        a.task_management(LOGICAL_UNIT_RESET, 0, RESERVED_TAG, sn)
            .unwrap(),
        FUNCTION_COMPLETE
    );
    assert_eq!(unit_attentions(&mut b, 0), vec![POWER_ON_RESET]);
    assert_eq!(unit_attentions(&mut b, 1), vec![]);
    assert_eq!(unit_attentions(&mut a, 0), vec![POWER_ON_RESET]);
    assert_eq!(unit_attentions(&mut a, 1), vec![]);
    // A READ works after the reset.
    let r = b.read10(0, 0, 8, 512).unwrap().into_good().unwrap();
    assert_eq!(r.data.len(), 8 * 512);
    assert_eq!(a.logout().unwrap().response, 0);
    assert_eq!(b.logout().unwrap().response, 0);
    stop(server);
}

/// TARGET WARM RESET answers FUNCTION COMPLETE and resets every LUN; the server stays up:
/// a new session logs in and INQUIRY works.
#[test]
fn target_warm_reset() {
    let server = start("tmf_warm_reset");
    let mut c = login(&server, "iqn.2026-11.org.scst-rs.test:tmf-warm");
    for lun in [0, 1] {
        assert_eq!(unit_attentions(&mut c, lun), vec![POWER_ON_RESET]);
    }
    let sn = c.cmdsn();
    assert_eq!(
        c.task_management(TARGET_WARM_RESET, 0, RESERVED_TAG, sn)
            .unwrap(),
        FUNCTION_COMPLETE
    );
    for lun in [0, 1] {
        assert_eq!(unit_attentions(&mut c, lun), vec![POWER_ON_RESET]);
    }
    assert_eq!(c.logout().unwrap().response, 0);
    let mut d = login(&server, "iqn.2026-11.org.scst-rs.test:tmf-after");
    let r = d.inquiry(1, 96).unwrap().into_good().unwrap();
    assert_eq!(r.data[0] & 0x1f, 0);
    assert_eq!(d.logout().unwrap().response, 0);
    stop(server);
}

/// libiscsi's task management tests (`-t ALL.iSCSITMF`) against the binary, when
/// `iscsi-test-cu` is installed. LUNResetSimpleAsync must pass (run as part of the suite: run
/// alone, the installed libiscsi fails its own `reconnect_succeeded` check).
/// AbortTaskSimpleAsync races a WRITE with its ABORT TASK: when the ABORT arrives in time the
/// WRITE is aborted and the test passes; when the WRITE already completed, r7105
/// (`cmnd_abort_pre_checks`: a RefCmdSN within 2048 before the request's CmdSN counts as
/// received, RFC 3720 §10.5.1 b) answers FUNCTION COMPLETE where libiscsi expects TASK DOES
/// NOT EXIST, so that one assertion may fail; nothing else may.
#[test]
fn libiscsi_tmf_tests() {
    if Command::new("iscsi-test-cu").arg("-l").output().is_err() {
        println!("SKIP: iscsi-test-cu is not installed");
        return;
    }
    let server = start("tmf_libiscsi");
    let url = format!("iscsi://{}/{DEFAULT_TARGET}/0", server.addr);
    let out = Command::new("timeout")
        .args([
            "100",
            "iscsi-test-cu",
            "--dataloss",
            "-t",
            "ALL.iSCSITMF",
            &url,
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let failed_asserts: Vec<&str> = stdout.lines().filter(|l| l.contains("CU_ASSERT")).collect();
    assert!(
        stdout.contains("Test: LUNResetSimpleAsync ...passed")
            && stdout.contains("Test: AbortTaskSimpleAsync ...")
            && failed_asserts.iter().all(|l| {
                l.contains("test_async_abort_simple.c") && l.contains("state.wr_good,0")
            }),
        "iscsi-test-cu ({})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    println!(
        "AbortTaskSimpleAsync: {}",
        if failed_asserts.is_empty() {
            "passed"
        } else {
            "the WRITE completed before the ABORT (FUNCTION COMPLETE, as r7105)"
        }
    );

    // The server is still up.
    let mut c = login(&server, "iqn.2026-11.org.scst-rs.test:tmf-libiscsi");
    let r = c.inquiry(0, 96).unwrap().into_good().unwrap();
    assert_eq!(r.data[0] & 0x1f, 0);
    assert_eq!(c.logout().unwrap().response, 0);
    stop(server);
}
