// SPDX-License-Identifier: GPL-2.0-only
//! The test initiator (`scst_tests::initiator`) against an independent target: tgt (Debian
//! `tgt`), started per test by `$SHARED_DIR/tools/peer-tgt.sh` on a free loopback port with its
//! own control port and state directory, and always stopped again. Without root or without tgt
//! the tests print `SKIP: …` and pass.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use scst_tests::initiator::{
    self, parse_read_capacity16, parse_report_luns, Connection, Error, LoginParams, LoginRequest,
    ScsiResult, STAGE_OPERATIONAL, STAGE_SECURITY,
};
use scst_tests::workspace_root;
use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const INITIATOR: &str = "iqn.2024-01.local.scst-tests:initiator";
const IQN_FILE: &str = "iqn.2024-01.local.peer-tgt:file";
const IQN_NULL: &str = "iqn.2024-01.local.peer-tgt:null";
/// Per socket operation (connect, one send, one PDU received).
const TIMEOUT: Duration = Duration::from_secs(5);
/// For peer-tgt.sh start/stop and tgtadm.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(40);
const BLOCK: u32 = 512;
/// LUN 1 of the file target: 1 GiB.
const FILE_LUN_BYTES: u64 = 1 << 30;

// ---------------------------------------------------------------------------------------------
// tgtd per test

fn shared_dir() -> PathBuf {
    std::env::var_os("SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("..").join("shared"))
}

fn is_root() -> bool {
    // The effective UID is the second field of "Uid:" in /proc/self/status.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// PATH with the sbin directories, where tgtd and tgtadm live.
fn sbin_path() -> String {
    let p = std::env::var("PATH").unwrap_or_default();
    format!("{p}:/usr/local/sbin:/usr/sbin:/sbin")
}

fn find_tool(name: &str) -> Option<PathBuf> {
    sbin_path()
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// Runs a command with a deadline; returns (success, stdout + stderr).
fn run(cmd: &mut Command, limit: Duration) -> (bool, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning a helper command");
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    match status {
        Some(st) => (st.success(), text),
        None => (false, format!("{text}\n(timed out after {limit:?})")),
    }
}

/// tgtadm control numbers of the tgtds this process runs (tests run in parallel threads).
static CTL_IN_USE: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

fn ctl_in_use() -> std::sync::MutexGuard<'static, BTreeSet<u16>> {
    // Never held across a panic, but Drop must not panic while unwinding.
    CTL_IN_USE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A tgtd of this test: stopped (only its recorded PID) and its state removed on drop.
struct PeerTgt {
    script: PathBuf,
    port: u16,
    /// tgtadm's control number (`-C`): tgtd accepts at most 32767, so it is not the port.
    ctl: u16,
    /// Whether peer-tgt.sh start succeeded (then the control socket files are ours).
    started: bool,
    state_dir: PathBuf,
    extra_tids: Vec<u32>,
}

impl PeerTgt {
    /// Starts tgtd on a free port, or prints `SKIP: …` and returns `None` when it cannot run
    /// here (not root, tgt or the script missing, tgtd failing to start).
    fn start(test: &str) -> Option<PeerTgt> {
        let script = shared_dir().join("tools").join("peer-tgt.sh");
        if !script.is_file() {
            println!(
                "SKIP: {test}: {} not found (set SHARED_DIR)",
                script.display()
            );
            return None;
        }
        if !is_root() {
            println!("SKIP: {test}: tgtd needs root");
            return None;
        }
        for tool in ["tgtd", "tgtadm"] {
            if find_tool(tool).is_none() {
                println!("SKIP: {test}: {tool} is not installed (Debian package tgt)");
                return None;
            }
        }
        let mut last = String::new();
        for _ in 0..5 {
            // A port from the kernel: free now, and neither 3260 nor 3270 (outside the
            // ephemeral range). A race with another binder is retried.
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .unwrap();
            if port == 3260 || port == 3270 {
                continue;
            }
            let ctl = 20000 + port % 12000;
            if !ctl_in_use().insert(ctl) {
                continue; // another test of this process has that control number
            }
            // Per process and port, so that no other test's peer-tgt.sh sees our pid file.
            let state_dir = std::env::temp_dir()
                .join(format!("scst-tests-peer-tgt-{}-{port}", std::process::id()));
            let mut tgt = PeerTgt {
                script: script.clone(),
                port,
                ctl,
                started: false,
                state_dir,
                extra_tids: Vec::new(),
            };
            let (ok, out) = run(
                tgt.script_cmd().arg("start").env("RESET", "1"),
                SCRIPT_TIMEOUT,
            );
            if ok {
                tgt.started = true;
                println!("{test}: tgtd on 127.0.0.1:{port} (control {ctl})");
                return Some(tgt);
            }
            last = out;
            drop(tgt);
            if !last.contains("already in use") && !last.contains("belongs to another tgtd") {
                break;
            }
        }
        // Root and tgt present, yet no tgtd (a container without what it needs …): the peer
        // is missing, not the code under test broken.
        println!("SKIP: {test}: tgtd could not be started:\n{last}");
        None
    }

    fn script_cmd(&self) -> Command {
        let mut c = Command::new("bash");
        c.arg(&self.script)
            .env("PATH", sbin_path())
            .env("TGT_PORT", self.port.to_string())
            .env("TGT_CTL_PORT", self.ctl.to_string())
            .env("TGT_STATE_DIR", &self.state_dir);
        c
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn tgtadm(&self, args: &[&str]) {
        let (ok, out) = run(
            Command::new("tgtadm")
                .env("PATH", sbin_path())
                .arg("-C")
                .arg(self.ctl.to_string())
                .args(args),
            SCRIPT_TIMEOUT,
        );
        assert!(ok, "tgtadm {args:?} failed: {out}");
    }

    /// Adds a target without LUNs (besides tgt's controller LUN 0), open to all initiators.
    fn add_target(&mut self, tid: u32, iqn: &str) {
        let t = tid.to_string();
        self.tgtadm(&[
            "--lld", "iscsi", "--op", "new", "--mode", "target", "--tid", &t, "-T", iqn,
        ]);
        self.extra_tids.push(tid);
        self.tgtadm(&[
            "--lld", "iscsi", "--op", "bind", "--mode", "target", "--tid", &t, "-I", "ALL",
        ]);
    }

    /// Changes a session parameter of target `tid` (what tgt offers or accepts at login).
    fn set_target_param(&self, tid: u32, name: &str, value: &str) {
        let t = tid.to_string();
        self.tgtadm(&[
            "--lld", "iscsi", "--op", "update", "--mode", "target", "--tid", &t, "-n", name, "-v",
            value,
        ]);
    }

    fn connect(&self) -> Connection {
        Connection::connect(self.addr(), TIMEOUT).unwrap()
    }
}

impl Drop for PeerTgt {
    fn drop(&mut self) {
        if !self.started {
            // peer-tgt.sh stops what it started itself when start fails.
            let _ = std::fs::remove_dir_all(&self.state_dir);
            ctl_in_use().remove(&self.ctl);
            return;
        }
        for tid in std::mem::take(&mut self.extra_tids) {
            let _ = run(
                Command::new("tgtadm").env("PATH", sbin_path()).args([
                    "-C",
                    &self.ctl.to_string(),
                    "--lld",
                    "iscsi",
                    "--op",
                    "delete",
                    "--force",
                    "--mode",
                    "target",
                    "--tid",
                    &tid.to_string(),
                ]),
                SCRIPT_TIMEOUT,
            );
        }
        let (ok, out) = run(
            self.script_cmd().arg("stop").env("CLEAN", "1"),
            SCRIPT_TIMEOUT,
        );
        if !ok {
            eprintln!("peer-tgt.sh stop failed: {out}");
        }
        let _ = std::fs::remove_dir_all(&self.state_dir);
        if ok {
            // tgtd leaves its control socket behind; ours only, once it has exited.
            for suffix in ["", ".lock"] {
                let _ = std::fs::remove_file(format!("/var/run/tgtd/socket.{}{suffix}", self.ctl));
            }
        }
        ctl_in_use().remove(&self.ctl);
    }
}

macro_rules! tgt_or_skip {
    ($name:expr) => {
        match PeerTgt::start($name) {
            Some(t) => t,
            None => return,
        }
    };
}

// ---------------------------------------------------------------------------------------------
// helpers

fn login(tgt: &PeerTgt, params: &LoginParams) -> (Connection, initiator::LoginOutcome) {
    let mut c = tgt.connect();
    let outcome = c.login(params).unwrap();
    assert!(
        outcome.succeeded(),
        "login failed: class {:#x} detail {:#x}, keys {:?}",
        outcome.status_class,
        outcome.status_detail,
        outcome.keys
    );
    (c, outcome)
}

fn print_keys(what: &str, outcome: &initiator::LoginOutcome) {
    println!("{what}: tgt answered (TSIH {:#x}):", outcome.tsih);
    for (k, v) in &outcome.keys {
        println!("    {k}={v}");
    }
    println!("{what}: in force: {:?}", outcome.negotiated);
}

/// TEST UNIT READY until GOOD, passing the UNIT ATTENTIONs of a new nexus.
fn wait_ready(c: &mut Connection, lun: u16) {
    for _ in 0..5 {
        let r = c.test_unit_ready(lun).unwrap();
        if r.is_good() {
            return;
        }
        assert_eq!(
            r.sense_key(),
            Some(initiator::SENSE_KEY_UNIT_ATTENTION),
            "TEST UNIT READY: {r:?}"
        );
        println!("TEST UNIT READY: unit attention {:02x?}", r.asc_ascq());
    }
    panic!("LUN {lun} never became ready");
}

fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// WRITE(10) then READ(10) of `len` bytes at `lba` on LUN 1; returns the write's result.
fn write_read_back(c: &mut Connection, lba: u32, len: usize, seed: u64) -> ScsiResult {
    let data = pattern(len, seed);
    let w = c.write10(1, lba, &data, BLOCK).unwrap();
    assert!(w.is_good(), "WRITE(10): {w:?}");
    assert_eq!(
        w.immediate_bytes + w.unsolicited_bytes + w.solicited_bytes,
        len,
        "every byte sent exactly once"
    );
    let blocks = u16::try_from(len / BLOCK as usize).unwrap();
    let r = c.read10(1, lba, blocks, BLOCK).unwrap();
    assert!(
        r.is_good(),
        "READ(10): status {:#x} sense {:02x?}",
        r.status,
        r.sense
    );
    assert_eq!(r.data.len(), len);
    assert!(r.data == data, "data read back differs from data written");
    let mrdsl = c.negotiated().initiator_max_recv_data_segment_length as usize;
    assert!(r.data_in_pdus >= len.div_ceil(mrdsl));
    println!(
        "write {len} B at LBA {lba}: immediate {} unsolicited {} solicited {} in {} R2Ts \
         (largest {}), {} Data-Out PDUs; read back in {} Data-In PDUs, status in Data-In: {}",
        w.immediate_bytes,
        w.unsolicited_bytes,
        w.solicited_bytes,
        w.r2ts,
        w.largest_r2t,
        w.data_out_pdus,
        r.data_in_pdus,
        r.status_in_data_in
    );
    w
}

// ---------------------------------------------------------------------------------------------
// tests

#[test]
fn tgt_discovery_send_targets_lists_both_targets() {
    let tgt = tgt_or_skip!("tgt_discovery_send_targets_lists_both_targets");
    let (mut c, outcome) = login(&tgt, &LoginParams::discovery(INITIATOR));
    print_keys("discovery login", &outcome);
    let (reply, targets) = c.send_targets().unwrap();
    println!("SendTargets ({} PDUs): {targets:?}", reply.pdus);
    for iqn in [IQN_FILE, IQN_NULL] {
        let t = targets
            .iter()
            .find(|t| t.name == iqn)
            .unwrap_or_else(|| panic!("{iqn} not in SendTargets: {targets:?}"));
        assert!(
            t.addresses.iter().any(|a| a.starts_with(&tgt.addr())),
            "{iqn} addresses {:?}",
            t.addresses
        );
    }
    let lo = c.logout().unwrap();
    assert_eq!(lo.response, 0);
}

#[test]
fn tgt_send_targets_continues_over_several_text_pdus() {
    let mut tgt = tgt_or_skip!("tgt_send_targets_continues_over_several_text_pdus");
    let extra: Vec<String> = (0..24)
        .map(|i| format!("iqn.2024-01.local.scst-tests:extra-target-with-a-long-name-{i:02}"))
        .collect();
    for (i, iqn) in extra.iter().enumerate() {
        tgt.add_target(10 + u32::try_from(i).unwrap(), iqn);
    }
    let params = LoginParams::discovery(INITIATOR).with_key("MaxRecvDataSegmentLength", "512");
    let (mut c, outcome) = login(&tgt, &params);
    print_keys("discovery login, MaxRecvDataSegmentLength=512", &outcome);
    let (reply, targets) = c.send_targets().unwrap();
    let text_len: usize = reply.keys.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    println!(
        "SendTargets: {} targets, {text_len} bytes of text in {} Text Responses",
        targets.len(),
        reply.pdus
    );
    for iqn in extra.iter().map(String::as_str).chain([IQN_FILE, IQN_NULL]) {
        assert!(targets.iter().any(|t| t.name == iqn), "{iqn} missing");
    }
    assert!(text_len > 512);
    assert!(reply.pdus >= text_len.div_ceil(512), "{} PDUs", reply.pdus);
    assert_eq!(c.logout().unwrap().response, 0);
}

#[test]
fn tgt_login_nop_inquiry_read_capacity_report_luns_logout() {
    let tgt = tgt_or_skip!("tgt_login_nop_inquiry_read_capacity_report_luns_logout");
    let (mut c, outcome) = login(&tgt, &LoginParams::normal(INITIATOR, IQN_FILE));
    print_keys("normal login", &outcome);
    let n = outcome.negotiated;
    assert_ne!(outcome.tsih, 0);
    assert!(outcome.key("TargetPortalGroupTag").is_some());
    assert!(n.target_max_recv_data_segment_length >= 512);
    assert!(n.first_burst_length <= n.max_burst_length);
    assert!(n.max_outstanding_r2t >= 1);
    assert_eq!(n.error_recovery_level, 0);
    assert!(
        !n.header_digest && !n.data_digest,
        "no digest was asked for"
    );

    c.nop_out(&[]).unwrap();
    c.nop_out(&pattern(300, 7)).unwrap();

    wait_ready(&mut c, 1);
    let inq = c.inquiry(1, 96).unwrap().into_good().unwrap();
    assert!(
        inq.data.len() >= 36,
        "{} bytes of INQUIRY data",
        inq.data.len()
    );
    assert_eq!(inq.data[0] & 0x1f, 0, "LUN 1 is a disk");
    let vendor = String::from_utf8_lossy(&inq.data[8..16]).to_string();
    let product = String::from_utf8_lossy(&inq.data[16..32]).to_string();
    println!("INQUIRY LUN 1: vendor {vendor:?} product {product:?}");

    let rc = c.read_capacity16(1).unwrap().into_good().unwrap();
    let (last_lba, block) = parse_read_capacity16(&rc.data).unwrap();
    println!("READ CAPACITY(16) LUN 1: last LBA {last_lba}, block {block}");
    assert_eq!(block, BLOCK);
    assert_eq!((last_lba + 1) * u64::from(block), FILE_LUN_BYTES);

    let rl = c.report_luns(256).unwrap().into_good().unwrap();
    let luns: Vec<_> = parse_report_luns(&rl.data)
        .into_iter()
        .map(initiator::decode_lun)
        .collect();
    println!("REPORT LUNS: {luns:?}");
    assert!(luns.contains(&Some(0)) && luns.contains(&Some(1)));

    // INQUIRY with a larger allocation length than the data: an underflow, not an error.
    let inq = c.inquiry(1, 255).unwrap().into_good().unwrap();
    println!(
        "INQUIRY 255: {} bytes, residual underflow {:?}",
        inq.data.len(),
        inq.residual_underflow
    );
    if let Some(u) = inq.residual_underflow {
        assert_eq!(inq.data.len() + u as usize, 255);
    }

    c.nop_out(b"still alive").unwrap();
    let lo = c.logout().unwrap();
    println!("logout: {lo:?}");
    assert_eq!(lo.response, 0);
}

#[test]
fn tgt_write_read_256k_with_r2ts_only() {
    let tgt = tgt_or_skip!("tgt_write_read_256k_with_r2ts_only");
    let params = LoginParams::normal(INITIATOR, IQN_FILE)
        .with_key("InitialR2T", "Yes")
        .with_key("ImmediateData", "No")
        .with_key("MaxRecvDataSegmentLength", "8192")
        .with_key("FirstBurstLength", "8192")
        .with_key("MaxBurstLength", "16384")
        .with_key("MaxOutstandingR2T", "1");
    let (mut c, outcome) = login(&tgt, &params);
    print_keys("login, R2T only", &outcome);
    let n = outcome.negotiated;
    assert!(n.initial_r2t && !n.immediate_data);
    assert!(
        n.max_burst_length <= 16384,
        "MaxBurstLength {}",
        n.max_burst_length
    );
    wait_ready(&mut c, 1);
    let len = 256 * 1024;
    let w = write_read_back(&mut c, 2048, len, 1);
    assert_eq!((w.immediate_bytes, w.unsolicited_bytes), (0, 0));
    assert_eq!(w.solicited_bytes, len);
    assert!(
        w.r2ts >= len / n.max_burst_length as usize,
        "{} R2Ts",
        w.r2ts
    );
    assert!(w.largest_r2t <= n.max_burst_length);
    assert!(
        w.data_out_pdus >= len / n.target_max_recv_data_segment_length as usize,
        "{} Data-Out PDUs",
        w.data_out_pdus
    );
    // An unaligned tail: 3 blocks.
    write_read_back(&mut c, 9000, 3 * BLOCK as usize, 2);
    assert_eq!(c.logout().unwrap().response, 0);
}

#[test]
fn tgt_write_read_256k_with_immediate_and_unsolicited_data() {
    let tgt = tgt_or_skip!("tgt_write_read_256k_with_immediate_and_unsolicited_data");
    let offer = LoginParams::normal(INITIATOR, IQN_FILE)
        .with_key("InitialR2T", "No")
        .with_key("ImmediateData", "Yes")
        .with_key("MaxRecvDataSegmentLength", "4096")
        .with_key("FirstBurstLength", "16384")
        .with_key("MaxBurstLength", "32768");
    // tgt's own InitialR2T is Yes, which wins (the result is the OR of both sides).
    let (mut c, outcome) = login(&tgt, &offer);
    print_keys("login, InitialR2T=No offered to tgt's defaults", &outcome);
    assert!(outcome.negotiated.initial_r2t && outcome.negotiated.immediate_data);
    wait_ready(&mut c, 1);
    let w = write_read_back(&mut c, 4096, 256 * 1024, 3);
    assert_eq!(w.immediate_bytes, 8192, "min(FirstBurstLength, tgt's 8192)");
    assert_eq!(w.unsolicited_bytes, 0);
    assert_eq!(c.logout().unwrap().response, 0);

    // With tgt set to InitialR2T=No: immediate data, then unsolicited Data-Out up to
    // FirstBurstLength (the command's F bit clear, which is what tgt goes by), then R2Ts for
    // the rest.
    tgt.set_target_param(2, "InitialR2T", "No");
    tgt.set_target_param(2, "MaxRecvDataSegmentLength", "4096");
    let (mut c, outcome) = login(&tgt, &offer);
    print_keys(
        "login, tgt set to InitialR2T=No, MaxRecvDataSegmentLength=4096",
        &outcome,
    );
    let n = outcome.negotiated;
    assert!(!n.initial_r2t && n.immediate_data);
    assert_eq!((n.first_burst_length, n.max_burst_length), (16384, 32768));
    assert_eq!(
        n.target_max_recv_data_segment_length, 4096,
        "declared by tgt"
    );
    wait_ready(&mut c, 1);
    let len = 256 * 1024;
    let fb = n.first_burst_length as usize;
    let imm = fb.min(n.target_max_recv_data_segment_length as usize);
    let w = write_read_back(&mut c, 4096, len, 4);
    assert_eq!((w.immediate_bytes, w.unsolicited_bytes), (imm, fb - imm));
    assert_eq!(w.r2ts, (len - fb).div_ceil(n.max_burst_length as usize));
    assert!(w.largest_r2t <= n.max_burst_length);
    // Writes that fit the first burst need no R2T at all.
    for (lba, len, seed) in [(8192, fb, 5), (12288, imm, 6), (16384, fb - 3 * 512, 7)] {
        let w = write_read_back(&mut c, lba, len, seed);
        assert_eq!(w.r2ts, 0);
        assert_eq!(w.immediate_bytes, imm.min(len));
        assert_eq!(w.unsolicited_bytes, len - imm.min(len));
        assert_eq!(w.data_out_pdus, (len - imm.min(len)).div_ceil(imm));
    }
    c.nop_out(&pattern(1000, 5)).unwrap();
    assert_eq!(c.logout().unwrap().response, 0);
}

#[test]
fn tgt_crc32c_header_and_data_digests() {
    let tgt = tgt_or_skip!("tgt_crc32c_header_and_data_digests");
    let offer = LoginParams::normal(INITIATOR, IQN_FILE)
        .with_key("HeaderDigest", "CRC32C,None")
        .with_key("DataDigest", "CRC32C,None")
        .with_key("MaxBurstLength", "65536")
        .with_key("FirstBurstLength", "16384");
    // tgt's targets allow only None until told otherwise.
    let (mut c, outcome) = login(&tgt, &offer);
    print_keys("login with digests offered to tgt's defaults", &outcome);
    assert!(!outcome.negotiated.header_digest && !outcome.negotiated.data_digest);
    assert_eq!(c.logout().unwrap().response, 0);

    tgt.set_target_param(2, "HeaderDigest", "CRC32C");
    tgt.set_target_param(2, "DataDigest", "CRC32C");
    let (mut c, outcome) = login(&tgt, &offer);
    print_keys("login with digests, tgt set to CRC32C", &outcome);
    let n = outcome.negotiated;
    assert!(n.header_digest && n.data_digest);
    assert_eq!(
        c.digests(),
        initiator::Digests {
            header: true,
            data: true
        }
    );
    c.nop_out(&[]).unwrap();
    c.nop_out(&pattern(333, 9)).unwrap();
    wait_ready(&mut c, 1);
    let inq = c.inquiry(1, 96).unwrap().into_good().unwrap();
    assert_eq!(inq.data[0] & 0x1f, 0);
    let w = write_read_back(&mut c, 16384, 256 * 1024, 6);
    assert!(w.r2ts >= 1);
    assert_eq!(c.logout().unwrap().response, 0);
}

#[test]
fn tgt_refuses_unknown_target_and_bad_logins() {
    let tgt = tgt_or_skip!("tgt_refuses_unknown_target_and_bad_logins");

    // Unknown TargetName: status class 2 (initiator error), detail 3 (not found).
    let mut c = tgt.connect();
    let o = c
        .login(&LoginParams::normal(
            INITIATOR,
            "iqn.2024-01.local.peer-tgt:nonexistent",
        ))
        .unwrap();
    println!(
        "unknown target: class {:#x} detail {:#x} keys {:?}",
        o.status_class, o.status_detail, o.keys
    );
    assert!(!o.succeeded());
    assert_eq!((o.status_class, o.status_detail), (2, 3));

    // A hand-made login PDU with an unsupported version (Version-min 5).
    let mut c = tgt.connect();
    let text =
        initiator::encode_text(&LoginParams::normal(INITIATOR, IQN_FILE).security_keys).unwrap();
    let req = LoginRequest {
        transit: true,
        cont: false,
        csg: STAGE_SECURITY,
        nsg: STAGE_OPERATIONAL,
        version_max: 5,
        version_min: 5,
        isid: initiator::fresh_isid(),
        tsih: 0,
        itt: 1,
        cid: 0,
        cmdsn: 1,
        exp_statsn: 0,
        data: text.clone(),
    };
    let bytes = req.to_pdu().encode(Default::default()).unwrap();
    let answer = c.raw_exchange(&bytes);
    println!("version 5: {answer:?}");
    let rsp = answer.unwrap();
    assert_eq!(rsp.opcode(), initiator::op::LOGIN_RSP);
    assert_eq!(
        (rsp.status_class(), rsp.status_detail()),
        (2, 5),
        "unsupported version"
    );

    // Garbage text (no '=') in the security stage.
    let mut c = tgt.connect();
    let req = LoginRequest {
        version_max: 0,
        version_min: 0,
        data: b"InitiatorName=iqn.2024-01.local.scst-tests:x\0garbage-without-equals\0".to_vec(),
        ..req
    };
    let answer = c.raw_exchange(&req.to_pdu().encode(Default::default()).unwrap());
    println!("garbage key: {answer:?}");
    match answer {
        Ok(rsp) => {
            assert_eq!(rsp.opcode(), initiator::op::LOGIN_RSP);
            assert_ne!(rsp.status_class(), 0, "garbage accepted");
        }
        Err(Error::Closed { .. }) => {}
        Err(e) => panic!("garbage key: {e}"),
    }

    // An over-long login PDU: 64 KiB of data where 8 KiB is the limit during login.
    let mut c = tgt.connect();
    let mut data = text;
    data.resize(65536, b'x');
    let req = LoginRequest {
        data,
        csg: STAGE_SECURITY,
        nsg: STAGE_OPERATIONAL,
        ..req
    };
    let answer = c.raw_exchange(&req.to_pdu().encode(Default::default()).unwrap());
    println!("64 KiB login PDU: {answer:?}");
    match answer {
        Ok(rsp) => {
            assert_eq!(rsp.opcode(), initiator::op::LOGIN_RSP);
            assert_ne!(rsp.status_class(), 0, "over-long login PDU accepted");
        }
        Err(Error::Closed { .. }) => {}
        Err(e) => panic!("over-long login PDU: {e}"),
    }

    // The target still serves a proper login afterwards.
    let mut c = tgt.connect();
    let o = c.login(&LoginParams::normal(INITIATOR, IQN_FILE)).unwrap();
    assert!(o.succeeded());
    assert_eq!(c.logout().unwrap().response, 0);
}
