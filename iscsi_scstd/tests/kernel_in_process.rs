// SPDX-License-Identifier: GPL-2.0-only
//! The daemon against the real "kernel" part in one test process: `scst_core` and `iscsi_scst`
//! loaded as the binary loads them, one LUN in the `Default` group (a device of a test handler,
//! so that the target is visible), the daemon's `main()` on a thread, and the test initiator of
//! `scst_tests` logging in over TCP. The binary-level tests (tests/ at the workspace root) check
//! the same path through the real executable.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use iscsi_scstd::iscsi_scstd::{iscsi_scstd_main, Args, LoopExit, MainCtl, StopHandle};
use scst_core::scst::{ScstDevType, ScstNoDevTypeOps};
use scst_core::scst_const::TYPE_DISK;
use scst_tests::initiator::{op, Connection, LoginParams, Pdu, FLAG_FINAL, RESERVED_TAG};

const TARGET: &str = "iqn.2026-11.org.scst-rs.test:inproc";
const INITIATOR: &str = "iqn.2026-11.org.scst-rs.test:initiator";
const TIMEOUT: Duration = Duration::from_secs(10);

struct Running {
    addr: SocketAddr,
    stop: StopHandle,
    done: mpsc::Receiver<Result<LoopExit, String>>,
    dev_type: Arc<ScstDevType>,
    dev_id: i32,
}

fn start(state: &std::path::Path) -> Running {
    scst_core::scst_main::init_scst().unwrap();
    let dev_type = Arc::new(ScstDevType::new(
        "test_disk",
        TYPE_DISK,
        Arc::new(ScstNoDevTypeOps),
    ));
    scst_core::scst_main::scst_register_virtual_dev_driver(&dev_type).unwrap();
    let dev_id = scst_core::scst_main::scst_register_virtual_device(&dev_type, "disk0").unwrap();
    {
        let mut g = scst_core::scst_main::scst_mutex.lock();
        let acg = g.scst_default_acg.clone().unwrap();
        let dev = g
            .scst_dev_list
            .iter()
            .map(|(_, d)| Arc::clone(d))
            .find(|d| d.virt_name == "disk0")
            .unwrap();
        scst_core::scst_lib::scst_acg_add_lun(&mut g, &acg, &dev, 0, false).unwrap();
    }
    iscsi_scst::iscsi::iscsi_init().unwrap();

    std::fs::create_dir_all(state).unwrap();
    let conf = state.join("iscsi-scstd.conf");
    std::fs::write(&conf, format!("Target {TARGET}\n")).unwrap();
    let args = <Args as clap::Parser>::try_parse_from([
        "iscsi-scstd",
        "-f",
        "-a",
        "127.0.0.1",
        "-p",
        "0",
        "-c",
        conf.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
    ])
    .unwrap();

    let stop = StopHandle::new().unwrap();
    let stop2 = stop.clone();
    let (atx, arx) = mpsc::channel();
    let (dtx, drx) = mpsc::channel();
    thread::spawn(move || {
        let ctl = MainCtl {
            stop: stop2,
            signals: None,
            on_listen: Box::new(move |a: &[SocketAddr]| {
                let _ = atx.send(a[0]);
            }),
        };
        let r = iscsi_scstd_main(&args, ctl).map_err(|e| e.to_string());
        let _ = dtx.send(r);
    });
    let addr = arx.recv_timeout(TIMEOUT).unwrap();
    Running {
        addr,
        stop,
        done: drx,
        dev_type,
        dev_id,
    }
}

fn stop(r: Running) {
    r.stop.stop();
    let res = r.done.recv_timeout(TIMEOUT).unwrap();
    assert!(res.is_ok(), "{res:?}");
    iscsi_scst::iscsi::iscsi_exit();
    scst_core::scst_main::scst_unregister_virtual_device(r.dev_id);
    scst_core::scst_main::scst_unregister_virtual_dev_driver(&r.dev_type);
    scst_core::scst_main::exit_scst();
}

fn sessions_of_target() -> usize {
    let mgmt = iscsi_scst::target::target_mgmt_mutex.lock();
    mgmt.target_list
        .iter()
        .map(|t| t.target_mutex.lock().session_list.len())
        .sum()
}

fn wait_for(mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + TIMEOUT;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    cond()
}

#[test]
fn discovery_login_nop_logout_against_the_kernel_part() {
    let state = std::env::temp_dir().join(format!("scst-rs-inproc-{}", std::process::id()));
    let r = start(&state);

    // Discovery lists the target.
    let mut c = Connection::connect(r.addr, TIMEOUT).unwrap();
    c.login(&LoginParams::discovery(INITIATOR))
        .unwrap()
        .into_success()
        .unwrap();
    let (_, targets) = c.send_targets().unwrap();
    assert!(targets.iter().any(|t| t.name == TARGET), "{targets:?}");
    c.logout().unwrap();
    drop(c);

    // A normal session reaches full feature phase; NOP-Out gets its NOP-In.
    let mut c = Connection::connect(r.addr, TIMEOUT).unwrap();
    let out = c
        .login(&LoginParams::normal(INITIATOR, TARGET))
        .unwrap()
        .into_success()
        .unwrap();
    assert!(c.is_full_feature(), "{out:?}");
    assert!(wait_for(|| sessions_of_target() == 1));
    c.nop_out(b"ping").unwrap();
    c.nop_out(&[]).unwrap();
    c.nop_out(&vec![0xa5; 5000]).unwrap();
    let rsp = c.logout().unwrap();
    assert_eq!(rsp.response, 0, "{rsp:?}");
    drop(c);
    assert!(
        wait_for(|| sessions_of_target() == 0),
        "the session is gone after logout"
    );

    // A SCSI command goes through SCST to the test handler, which has no `exec`: the core
    // answers CHECK CONDITION (HARDWARE ERROR / INTERNAL TARGET FAILURE) and the session
    // goes on. REPORT LUNS is answered by the core itself (scst_report_luns_local): LUN 0.
    let mut c = Connection::connect(r.addr, TIMEOUT).unwrap();
    c.login(&LoginParams::normal(INITIATOR, TARGET))
        .unwrap()
        .into_success()
        .unwrap();
    // The first command of the new session gets the POWER ON / RESET unit attention
    // (scst_alloc_add_tgt_dev()), as an initiator expects; the retry reaches the handler.
    let tur = c.test_unit_ready(0).unwrap();
    assert_eq!(tur.status, 2, "{tur:?}");
    assert_eq!(tur.sense_key(), Some(0x06), "{tur:?}");
    assert_eq!(tur.asc_ascq(), Some((0x29, 0)), "{tur:?}");
    let tur = c.test_unit_ready(0).unwrap();
    assert_eq!(tur.status, 2, "{tur:?}");
    assert_eq!(tur.sense_key(), Some(0x04), "{tur:?}");
    let luns = c.report_luns(4096).unwrap().into_good().unwrap();
    assert_eq!(
        scst_tests::initiator::parse_report_luns(&luns.data),
        vec![[0u8; 8]]
    );
    c.nop_out(b"still alive").unwrap();
    c.logout().unwrap();
    drop(c);

    // Non-immediate NOP-Outs run in CmdSN order (iscsi_push_cmnd): the one with CmdSN n+1 sent
    // first waits on the session's pending list until n arrives; one below ExpCmdSN is
    // dropped without an answer.
    let mut c = Connection::connect(r.addr, TIMEOUT).unwrap();
    c.login(&LoginParams::normal(INITIATOR, TARGET))
        .unwrap()
        .into_success()
        .unwrap();
    let n = c.cmdsn();
    let nop = |itt: u32, cmdsn: u32, exp_statsn: u32| {
        let mut p = Pdu::new(op::NOP_OUT);
        p.bhs[1] = FLAG_FINAL;
        p.bhs[16..20].copy_from_slice(&itt.to_be_bytes());
        p.bhs[20..24].copy_from_slice(&RESERVED_TAG.to_be_bytes());
        p.bhs[24..28].copy_from_slice(&cmdsn.to_be_bytes());
        p.bhs[28..32].copy_from_slice(&exp_statsn.to_be_bytes());
        p
    };
    let es = c.exp_statsn();
    c.send_pdu(&nop(0x101, n.wrapping_add(1), es)).unwrap();
    c.send_pdu(&nop(0x100, n, es)).unwrap();
    let a = c.recv_pdu().unwrap();
    let b = c.recv_pdu().unwrap();
    assert_eq!((a.opcode(), a.itt()), (op::NOP_IN, 0x100), "{a:?}");
    assert_eq!((b.opcode(), b.itt()), (op::NOP_IN, 0x101), "{b:?}");
    assert_eq!(a.sn24(), es, "StatSN of the first answer");
    assert_eq!(b.sn24(), es.wrapping_add(1));
    assert_eq!(b.sn28(), n.wrapping_add(2), "ExpCmdSN after both");
    // A stale CmdSN: no answer; the next immediate NOP-Out is answered.
    c.send_pdu(&nop(0x102, n, es.wrapping_add(2))).unwrap();
    let mut imm = nop(0x103, n.wrapping_add(2), es.wrapping_add(2));
    imm.bhs[0] |= 0x40;
    c.send_pdu(&imm).unwrap();
    let d = c.recv_pdu().unwrap();
    assert_eq!((d.opcode(), d.itt()), (op::NOP_IN, 0x103), "{d:?}");
    drop(c);
    assert!(
        wait_for(|| sessions_of_target() == 0),
        "a dropped connection ends the session"
    );

    stop(r);
    let _ = std::fs::remove_dir_all(&state);
}
