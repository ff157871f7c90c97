// SPDX-License-Identifier: GPL-2.0-only
//! The real `iscsi-scstd` binary against the independent test initiator
//! (`scst_tests::initiator`): discovery, login and negotiation (expected values from
//! scst-reference.md §8.5/§8.6 and RFC 3720), NOP-Out, Logout and the session's end, the
//! configuration file, bad input during login, and the thread names of docs/ARCHITECTURE.md §2.
//!
//! Every test starts its own server (`-f -p 0 --state-dir <fresh dir>`, see
//! `scst_tests::server`) and stops it by PID with SIGTERM, expecting exit status 0. Each step
//! on the wire has a timeout of at most [`STEP`]; every retry loop has a deadline.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use scst_tests::initiator::{
    op, Connection, DiscoveredTarget, Error, LoginOutcome, LoginParams, LoginRequest, Negotiated,
    Pdu, FLAG_FINAL, FLAG_IMMEDIATE, RESERVED_TAG, STAGE_FULL_FEATURE, STAGE_OPERATIONAL,
    STAGE_SECURITY,
};
use scst_tests::server::{run_expecting_exit, Server};
use std::collections::BTreeSet;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

/// The embedded default target of `iscsi-scstd` (main.rs `DEFAULT_TARGET`).
const DEFAULT_TARGET: &str = "iqn.2026-11.org.scst-rs:default";
const TARGET_A: &str = "iqn.2026-11.org.scst-rs.test:a";
const TARGET_B: &str = "iqn.2026-11.org.scst-rs.test:b";
const INITIATOR: &str = "iqn.2026-11.org.scst-rs.test:initiator";
/// Per socket operation (connect, one send, one PDU received).
const STEP: Duration = Duration::from_secs(5);
/// For iscsi-ls.
const TOOL_TIMEOUT: Duration = Duration::from_secs(10);

/// RFC 3720 §10.13.5 Status-Class/Status-Detail, as one number (class << 8 | detail).
mod status {
    /// 0x0000 success.
    pub const SUCCESS: u16 = 0x0000;
    /// 0x0201 authentication failure.
    pub const AUTH_FAILURE: u16 = 0x0201;
    /// 0x0203 not found (the target).
    pub const NOT_FOUND: u16 = 0x0203;
    /// 0x0205 unsupported version.
    pub const UNSUPPORTED_VERSION: u16 = 0x0205;
    /// 0x0207 missing parameter.
    pub const MISSING_PARAMETER: u16 = 0x0207;
    /// 0x020a session does not exist.
    pub const SESSION_DOES_NOT_EXIST: u16 = 0x020a;
}

/// RFC 3720 §10.17.1 Reject reasons.
const REJECT_COMMAND_NOT_SUPPORTED: u8 = 0x05;
const REJECT_PROTOCOL_ERROR: u8 = 0x04;

// ---------------------------------------------------------------------------------------------
// Helpers

fn start(test: &str, args: &[&str]) -> Server {
    Server::start(test, args).unwrap_or_else(|e| panic!("{test}: {e}"))
}

/// SIGTERM by PID; the process must exit with status 0.
fn stop(server: Server) {
    let pid = server.pid;
    let (st, stderr) = server
        .stop()
        .unwrap_or_else(|e| panic!("stopping pid {pid}: {e}"));
    assert_eq!(
        st.code(),
        Some(0),
        "iscsi-scstd exited with {st} after SIGTERM\nstderr:\n{stderr}"
    );
}

fn connect(server: &Server) -> Connection {
    Connection::connect(server.addr, STEP)
        .unwrap_or_else(|e| panic!("connecting to {}: {e}", server.addr))
}

fn status_of(o: &LoginOutcome) -> u16 {
    (u16::from(o.status_class) << 8) | u16::from(o.status_detail)
}

fn pdu_status(p: &Pdu) -> u16 {
    (u16::from(p.status_class()) << 8) | u16::from(p.status_detail())
}

/// A normal session into `target` with the RFC defaults; panics unless it reaches the full
/// feature phase.
fn login_normal(server: &Server, target: &str) -> (Connection, LoginOutcome) {
    let mut c = connect(server);
    let out = c
        .login(&LoginParams::normal(INITIATOR, target))
        .unwrap_or_else(|e| panic!("login into {target}: {e}"));
    assert_eq!(
        status_of(&out),
        status::SUCCESS,
        "login into {target}: {out:?}"
    );
    assert!(out.full_feature, "{out:?}");
    (c, out)
}

/// The server is still up and serves a new connection: a normal login, a NOP-Out, a Logout.
fn assert_still_serving(server: &mut Server, after: &str) {
    assert!(
        server.is_running(),
        "iscsi-scstd is gone after {after}\nstderr:\n{}",
        server.stderr()
    );
    let mut c = connect(server);
    let out = c
        .login(&LoginParams::normal(INITIATOR, DEFAULT_TARGET))
        .unwrap_or_else(|e| panic!("login after {after}: {e}"));
    assert_eq!(
        status_of(&out),
        status::SUCCESS,
        "login after {after}: {out:?}"
    );
    c.nop_out(b"still alive")
        .unwrap_or_else(|e| panic!("NOP-Out after {after}: {e}"));
    let rsp = c
        .logout()
        .unwrap_or_else(|e| panic!("logout after {after}: {e}"));
    assert_eq!(rsp.response, 0, "after {after}: {rsp:?}");
}

/// The target closes the connection: the next read ends with [`Error::Closed`] within the
/// step timeout, with no PDU before it.
fn assert_closed_by_target(c: &mut Connection, what: &str) {
    match c.recv_pdu() {
        Err(Error::Closed { .. }) => {}
        Ok(p) => panic!("{what}: expected the target to close the connection, got {p:?}"),
        Err(e) => panic!("{what}: expected the target to close the connection, got {e}"),
    }
}

/// `key=value\0` pairs as raw bytes (no checks: for hand-made, possibly bad, text).
fn text(pairs: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in pairs {
        out.extend_from_slice(p.as_bytes());
        out.push(0);
    }
    out
}

/// A hand-made Login Request of a new session (TSIH 0, CID 0, ITT 1, CmdSN 1).
fn login_request(isid: [u8; 6], csg: u8, nsg: u8, data: Vec<u8>) -> LoginRequest {
    LoginRequest {
        transit: true,
        cont: false,
        csg,
        nsg,
        version_max: 0,
        version_min: 0,
        isid,
        tsih: 0,
        itt: 1,
        cid: 0,
        cmdsn: 1,
        exp_statsn: 0,
        data,
    }
}

fn security_keys_normal() -> Vec<u8> {
    text(&[
        &format!("InitiatorName={INITIATOR}"),
        "SessionType=Normal",
        &format!("TargetName={DEFAULT_TARGET}"),
        "AuthMethod=None",
    ])
}

fn security_keys_discovery() -> Vec<u8> {
    text(&[
        &format!("InitiatorName={INITIATOR}"),
        "SessionType=Discovery",
        "AuthMethod=None",
    ])
}

/// Sends `req` on `c` and returns the answer, which must be a Login Response.
fn exchange_login(c: &mut Connection, req: &LoginRequest, what: &str) -> Pdu {
    c.send_pdu(&req.to_pdu())
        .unwrap_or_else(|e| panic!("{what}: sending: {e}"));
    let p = c
        .recv_pdu()
        .unwrap_or_else(|e| panic!("{what}: receiving: {e}"));
    assert_eq!(p.opcode(), op::LOGIN_RSP, "{what}: {p:?}");
    assert_eq!(p.itt(), req.itt, "{what}: {p:?}");
    p
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// [`scst_tests::server::run_tool`] with the exit reduced to success.
fn run_tool(cmd: &mut Command, limit: Duration) -> (bool, String, String) {
    let (code, out, err) = scst_tests::server::run_tool(cmd, limit);
    (code == Some(0), out, err)
}

/// `iscsi-ls iscsi://ADDR` (libiscsi) lists exactly `targets` (one `Target:NAME Portal:…`
/// line each), or prints `SKIP` when iscsi-ls is not installed.
fn check_iscsi_ls(test: &str, server: &Server, targets: &[&str]) {
    let Some(tool) = find_on_path("iscsi-ls") else {
        println!("SKIP: {test}: iscsi-ls not found (Debian package libiscsi-bin)");
        return;
    };
    let url = format!("iscsi://{}", server.addr);
    let (ok, out, err) = run_tool(
        Command::new(tool).args(["-i", INITIATOR, &url]),
        TOOL_TIMEOUT,
    );
    println!("{test}: iscsi-ls {url}:\n{out}{err}");
    assert!(ok, "iscsi-ls {url} failed:\n{out}\n{err}");
    let listed: BTreeSet<&str> = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Target:"))
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    let want: BTreeSet<&str> = targets.iter().copied().collect();
    assert_eq!(listed, want, "iscsi-ls output:\n{out}");
    for l in out.lines().filter(|l| l.contains("Target:")) {
        assert!(
            l.contains(&format!("Portal:{},1", server.addr)),
            "iscsi-ls line without the portal {},1: {l}",
            server.addr
        );
    }
}

/// A discovery session's SendTargets=All, then Logout.
fn discover(server: &Server) -> Vec<DiscoveredTarget> {
    let mut c = connect(server);
    let out = c.login(&LoginParams::discovery(INITIATOR)).unwrap();
    assert_eq!(status_of(&out), status::SUCCESS, "discovery login: {out:?}");
    assert!(out.full_feature, "{out:?}");
    // §8.5: a discovery session gets the dummy TSIH 1 — which goes out in host byte order,
    // as iscsid.c stores it in `sid.id.tsih` (0x0100 on the wire on little-endian hosts).
    assert_eq!(out.tsih, u16::from_be_bytes(1u16.to_ne_bytes()), "{out:?}");
    // §8.5: TargetPortalGroupTag=1 added by login_start(); AuthMethod None (no accounts); no
    // operational keys offered, none answered.
    let got: Vec<(&str, &str)> = out
        .keys
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        got,
        [("TargetPortalGroupTag", "1"), ("AuthMethod", "None")],
        "{out:?}"
    );
    let (_, targets) = c.send_targets().unwrap();
    let rsp = c.logout().unwrap();
    assert_eq!(rsp.response, 0, "{rsp:?}");
    targets
}

/// What SendTargets must answer for `names` on this server (§8.8: `TargetAddress` is the
/// arrival portal `ADDR:PORT,1`, TPGT always 1; the server listens on 127.0.0.1 only).
fn expected_targets(server: &Server, names: &[&str]) -> Vec<DiscoveredTarget> {
    names
        .iter()
        .map(|n| DiscoveredTarget {
            name: (*n).to_owned(),
            addresses: vec![format!("127.0.0.1:{},1", server.port())],
        })
        .collect()
}

fn write_file(dir: &Path, name: &str, contents: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p
}

fn scratch_dir(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("scst-tests-conf-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

// ---------------------------------------------------------------------------------------------
// 1. The default target

#[test]
fn default_target_is_discovered_and_logged_into() {
    const TEST: &str = "default_target_is_discovered_and_logged_into";
    let mut server = start(TEST, &[]);
    assert_eq!(
        server.addr.ip().to_string(),
        "127.0.0.1",
        "{}",
        server.stdout
    );
    assert!(
        server.stdout.contains(&format!(
            "iscsi-scstd: target iscsi://{}/{DEFAULT_TARGET}",
            server.addr
        )),
        "stdout:\n{}",
        server.stdout
    );

    // Discovery lists exactly the default target at the server's portal, TPGT 1.
    let targets = discover(&server);
    assert_eq!(targets, expected_targets(&server, &[DEFAULT_TARGET]));

    check_iscsi_ls(TEST, &server, &[DEFAULT_TARGET]);

    // A normal session offering RFC defaults and values that exercise each negotiation op.
    let params = LoginParams::normal(INITIATOR, DEFAULT_TARGET)
        .with_key("HeaderDigest", "None")
        .with_key("DataDigest", "None")
        .with_key("MaxRecvDataSegmentLength", "65536")
        .with_key("InitialR2T", "No")
        .with_key("ImmediateData", "Yes")
        .with_key("MaxBurstLength", "16776192")
        .with_key("FirstBurstLength", "262144")
        .with_key("MaxOutstandingR2T", "8")
        .with_key("DefaultTime2Wait", "2")
        .with_key("DefaultTime2Retain", "20")
        .with_key("DataPDUInOrder", "Yes")
        .with_key("DataSequenceInOrder", "Yes")
        .with_key("ErrorRecoveryLevel", "0")
        .with_key("X-org.scst-rs.Probe", "1");
    let mut c = connect(&server);
    let out = c.login(&params).unwrap();
    assert_eq!(status_of(&out), status::SUCCESS, "{out:?}");
    assert!(out.full_feature, "{out:?}");
    assert_ne!(out.tsih, 0, "{out:?}");
    assert_eq!((out.version_max, out.version_active), (0, 0), "{out:?}");
    // One response per stage: every key was settled in the stage's first round.
    assert_eq!(out.responses, 2, "{out:?}");

    // max_data_seg_len = ISCSI_CONN_IOV_MAX << PAGE_SHIFT = 256 pages × 4096 bytes.
    const MAX_DATA_SEG_LEN: &str = "1048576";
    let mut want: Vec<(&str, &str)> = vec![
        // §8.5: login_start() adds TargetPortalGroupTag=1.
        ("TargetPortalGroupTag", "1"),
        // §8.5: AuthMethod None while the target has no IncomingUser.
        ("AuthMethod", "None"),
        // §8.6 HeaderDigest/DataDigest, op digest: CRC32C only if both offer it → None.
        ("HeaderDigest", "None"),
        ("DataDigest", "None"),
        // §8.6 InitialR2T, op or: offer No (0) | local_def 0 → No.
        ("InitialR2T", "No"),
        // §8.6 ImmediateData, op and: offer Yes (1) & local_def 1 → Yes.
        ("ImmediateData", "Yes"),
        // §8.6 MaxBurstLength, op minimum, max = max_data_seg_len: 16776192 is clamped to
        // 1048576, min(1048576, local_def max_data_seg_len) → 1048576.
        ("MaxBurstLength", MAX_DATA_SEG_LEN),
        // §8.6 FirstBurstLength, op minimum: min(262144, local_def 65536) → 65536.
        ("FirstBurstLength", "65536"),
        // §8.6 MaxOutstandingR2T, op minimum: min(8, local_def 32) → 8.
        ("MaxOutstandingR2T", "8"),
        // §8.6 DefaultTime2Wait, op maximum, range min 0 max 0: the offer 2 is clamped into
        // [0, 0] first, max(0, local_def 0) → 0.
        ("DefaultTime2Wait", "0"),
        // §8.6 DefaultTime2Retain, op minimum, range [0, 0]: min(20 → 0, 0) → 0.
        ("DefaultTime2Retain", "0"),
        // §8.6 DataPDUInOrder / DataSequenceInOrder, op or: Yes (1) | local_def 0 → Yes.
        ("DataPDUInOrder", "Yes"),
        ("DataSequenceInOrder", "Yes"),
        // §8.6 ErrorRecoveryLevel, op minimum, range [0, 0] → 0.
        ("ErrorRecoveryLevel", "0"),
        // §8.5: unknown keys are answered NotUnderstood.
        ("X-org.scst-rs.Probe", "NotUnderstood"),
        // §8.6 MaxRecvDataSegmentLength: the initiator's value is a declaration (taken as
        // the target's MaxXmitDataSegmentLength, not echoed); the target declares its own,
        // local_def max = max_data_seg_len.
        ("MaxRecvDataSegmentLength", MAX_DATA_SEG_LEN),
    ];
    let mut got: Vec<(&str, &str)> = out
        .keys
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    want.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, want, "target's answers: {:?}", out.keys);
    assert_eq!(
        out.negotiated,
        Negotiated {
            header_digest: false,
            data_digest: false,
            target_max_recv_data_segment_length: 1_048_576,
            initiator_max_recv_data_segment_length: 65536,
            initial_r2t: false,
            immediate_data: true,
            first_burst_length: 65536,
            max_burst_length: 1_048_576,
            max_outstanding_r2t: 8,
            data_pdu_in_order: true,
            data_sequence_in_order: true,
            error_recovery_level: 0,
        }
    );

    // NOP-Out with and without ping data: the NOP-In echoes it (nop_out checks the echo).
    c.nop_out(b"ping 0123456789").unwrap();
    c.nop_out(&[]).unwrap();
    c.nop_out(&vec![0x5a; 4999]).unwrap();

    // Logout: response 0 (closed successfully), then the target closes the connection.
    let (isid, tsih) = (c.isid(), c.tsih());
    let rsp = c.logout().unwrap();
    assert_eq!(rsp.response, 0, "{rsp:?}");
    assert_closed_by_target(&mut c, "after Logout");
    drop(c);

    // The session is gone: adding a connection to it (same ISID, the old TSIH) fails with
    // "session does not exist". That needs the daemon to have received E_CONN_CLOSE from the
    // kernel part and deleted the session, which happens asynchronously: bounded retries.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut tries = Vec::new();
    loop {
        let mut c = connect(&server);
        let p = LoginParams {
            isid,
            tsih,
            cid: 0,
            ..LoginParams::normal(INITIATOR, DEFAULT_TARGET)
        };
        let out = c.login(&p).unwrap();
        let st = status_of(&out);
        if st == status::SESSION_DOES_NOT_EXIST {
            assert!(out.keys.is_empty(), "no text with a failure: {out:?}");
            assert_closed_by_target(&mut c, "after status 0x020a");
            break;
        }
        tries.push(format!("{st:#06x}"));
        if out.succeeded() {
            // The connection joined the old session: end it again before retrying.
            let _ = c.logout();
        }
        assert!(
            Instant::now() < deadline,
            "a login with ISID {isid:02x?} and the logged-out TSIH {tsih} still got \
             {tries:?} after 5 s (expected 0x020a session does not exist)"
        );
        drop(c);
        thread::sleep(Duration::from_millis(100));
    }

    assert_still_serving(&mut server, "the logout");
    stop(server);
}

// ---------------------------------------------------------------------------------------------
// 2. Targets from a configuration file

#[test]
fn two_targets_from_a_config_file_are_listed() {
    const TEST: &str = "two_targets_from_a_config_file_are_listed";
    let dir = scratch_dir(TEST);
    let conf = write_file(
        &dir,
        "iscsi-scstd.conf",
        &format!("# two targets\nTarget {TARGET_A}\nTarget {TARGET_B}\n"),
    );
    let mut server = start(TEST, &["-a", "127.0.0.1", "-c", conf.to_str().unwrap()]);

    let mut targets = discover(&server);
    targets.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(targets, expected_targets(&server, &[TARGET_A, TARGET_B]));

    for t in [TARGET_A, TARGET_B] {
        let (mut c, out) = login_normal(&server, t);
        assert_eq!(out.key("TargetPortalGroupTag"), Some("1"), "{out:?}");
        c.nop_out(t.as_bytes()).unwrap();
        let rsp = c.logout().unwrap();
        assert_eq!(rsp.response, 0, "{t}: {rsp:?}");
    }
    // The default target is not served with -c.
    let mut c = connect(&server);
    let out = c
        .login(&LoginParams::normal(INITIATOR, DEFAULT_TARGET))
        .unwrap();
    assert_eq!(status_of(&out), status::NOT_FOUND, "{out:?}");

    check_iscsi_ls(TEST, &server, &[TARGET_A, TARGET_B]);

    assert!(server.is_running());
    stop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// 3. A bad configuration line

/// Runs the binary with a configuration file whose line 3 is bad (an unknown keyword), on a
/// port that is free now. Returns the file, the port and how the process ended.
fn run_bad_config(test: &str) -> (String, u16, scst_tests::server::Exited) {
    let dir = scratch_dir(test);
    let conf = write_file(
        &dir,
        "bad.conf",
        &format!("# line 1\nTarget {TARGET_A}\nNoSuchKeyword 1\nTarget {TARGET_B}\n"),
    );
    let conf_s = conf.to_str().unwrap().to_owned();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let exited = run_expecting_exit(test, port, &["-a", "127.0.0.1", "-c", &conf_s])
        .unwrap_or_else(|e| panic!("{e}"));
    println!(
        "{test}: exit {:?}\nstderr:\n{}",
        exited.status, exited.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
    (conf_s, port, exited)
}

/// A bad line in the file given with -c: exit status 2 (config.rs, strict mode), and nothing
/// listens: no `listening on` line, the port refuses connections.
#[test]
fn bad_config_line_exits_with_status_2_and_listens_nowhere() {
    let (_, port, exited) = run_bad_config("bad_config_line_exits_with_status_2");
    assert_eq!(exited.status.code(), Some(2), "{exited:?}");
    assert!(!exited.stdout.contains("listening on"), "{exited:?}");
    assert!(
        TcpStream::connect_timeout(&format!("127.0.0.1:{port}").parse().unwrap(), STEP).is_err(),
        "something listens on port {port} after the exit"
    );
}

/// The error names the file and the line: `FILE:3: reason` (config.rs `ConfigError::Line`,
/// "displayed `FILE:LINE: reason`").
#[test]
fn bad_config_line_is_rejected_with_file_and_line() {
    let (conf, _, exited) = run_bad_config("bad_config_line_is_rejected_with_file_and_line");
    assert_eq!(exited.status.code(), Some(2), "{exited:?}");
    let line = exited
        .stderr
        .lines()
        .find(|l| l.contains(&format!("{conf}:3: ")))
        .unwrap_or_else(|| panic!("stderr does not name {conf}:3:\n{}", exited.stderr));
    assert!(line.contains("NoSuchKeyword"), "{line}");
    assert!(!exited.stdout.contains("listening on"), "{exited:?}");
}

// ---------------------------------------------------------------------------------------------
// 4. Bad input during login; after each, the server serves a new login

/// 4a. Malformed key=value text is answered as iscsid.c does: unknown (also non-UTF-8 and
/// over-long) keys `NotUnderstood`, an unparsable value `Reject`, text after the last `=` that
/// has no `=` ignored, text without `=` in the middle glued to the next key (C's `next_key()`
/// cuts at the NUL), and a first PDU without InitiatorName fails with 0x0207.
#[test]
fn login_with_garbage_keys() {
    const TEST: &str = "login_with_garbage_keys";
    let mut server = start(TEST, &[]);

    // Security stage of a discovery session with garbage after the login keys.
    let mut c = connect(&server);
    let isid = c.isid();
    let long_key = "K".repeat(200);
    let mut data = security_keys_discovery();
    data.extend_from_slice(b"Bad\xff\xfeKey=1\0");
    data.extend_from_slice(format!("{long_key}=1\0").as_bytes());
    data.extend_from_slice(b"X-Value=\xff\xfe\0");
    data.extend_from_slice(b"trailing text without an equals sign\0");
    let req = login_request(isid, STAGE_SECURITY, STAGE_OPERATIONAL, data);
    let rsp = exchange_login(&mut c, &req, "security stage with garbage");
    assert_eq!(pdu_status(&rsp), status::SUCCESS, "{rsp:?}");
    // T, CSG security, NSG operational.
    assert_eq!(rsp.flags(), 0x81, "{rsp:?}");
    let mut want = text(&["TargetPortalGroupTag=1", "AuthMethod=None"]);
    want.extend_from_slice(b"Bad\xff\xfeKey=NotUnderstood\0");
    want.extend_from_slice(format!("{long_key}=NotUnderstood\0").as_bytes());
    want.extend_from_slice(b"X-Value=NotUnderstood\0");
    assert_eq!(
        rsp.data,
        want,
        "answer {:?}",
        String::from_utf8_lossy(&rsp.data)
    );

    // Operational stage: an unparsable value, then text without '=' before a key.
    let mut req = login_request(
        isid,
        STAGE_OPERATIONAL,
        STAGE_FULL_FEATURE,
        text(&["InitialR2T=Maybe", "Junk", "ImmediateData=Yes"]),
    );
    req.exp_statsn = rsp.sn24().wrapping_add(1);
    let rsp = exchange_login(&mut c, &req, "operational stage with garbage");
    assert_eq!(pdu_status(&rsp), status::SUCCESS, "{rsp:?}");
    // T, CSG operational, NSG full feature; a discovery session's dummy TSIH 1.
    assert_eq!(rsp.flags(), 0x87, "{rsp:?}");
    assert_eq!(rsp.bhs[14..16], 1u16.to_ne_bytes(), "{rsp:?}");
    assert_eq!(
        rsp.data,
        text(&["InitialR2T=Reject", "Junk=NotUnderstood"]),
        "answer {:?}",
        String::from_utf8_lossy(&rsp.data)
    );
    drop(c);
    assert_still_serving(&mut server, "garbage keys in a discovery login");

    // A first PDU with no key=value text at all: InitiatorName is missing.
    let mut c = connect(&server);
    let req = login_request(
        c.isid(),
        STAGE_SECURITY,
        STAGE_OPERATIONAL,
        vec![0x01, 0x02, 0xfe, b'x', 0],
    );
    let rsp = exchange_login(&mut c, &req, "no key=value text");
    assert_eq!(pdu_status(&rsp), status::MISSING_PARAMETER, "{rsp:?}");
    assert!(rsp.data.is_empty(), "{rsp:?}");
    assert_closed_by_target(&mut c, "after 0x0207");
    drop(c);

    // Normal session, no usable AuthMethod value (not UTF-8): authentication failure.
    let mut c = connect(&server);
    let mut data = text(&[
        &format!("InitiatorName={INITIATOR}"),
        &format!("TargetName={DEFAULT_TARGET}"),
    ]);
    data.extend_from_slice(b"AuthMethod=\xff\xfe\0");
    let req = login_request(c.isid(), STAGE_SECURITY, STAGE_OPERATIONAL, data);
    let rsp = exchange_login(&mut c, &req, "AuthMethod not UTF-8");
    assert_eq!(pdu_status(&rsp), status::AUTH_FAILURE, "{rsp:?}");
    assert_closed_by_target(&mut c, "after 0x0201");
    drop(c);

    assert_still_serving(&mut server, "garbage keys");
    stop(server);
}

/// 4b. An unknown TargetName: 0x0203, then the target closes the connection.
#[test]
fn login_to_an_unknown_target_is_not_found() {
    const TEST: &str = "login_to_an_unknown_target_is_not_found";
    let mut server = start(TEST, &[]);
    let mut c = connect(&server);
    let out = c
        .login(&LoginParams::normal(
            INITIATOR,
            "iqn.2026-11.org.scst-rs:no-such-target",
        ))
        .unwrap();
    assert_eq!(status_of(&out), status::NOT_FOUND, "{out:?}");
    assert!(out.keys.is_empty(), "{out:?}");
    assert!(!out.full_feature);
    assert_closed_by_target(&mut c, "after 0x0203");
    drop(c);
    assert_still_serving(&mut server, "an unknown TargetName");
    stop(server);
}

/// 4c. Version-min/Version-max 1 (we speak 0): 0x0205 unsupported version.
#[test]
fn login_with_an_unsupported_version_is_refused() {
    const TEST: &str = "login_with_an_unsupported_version_is_refused";
    let mut server = start(TEST, &[]);
    let mut c = connect(&server);
    let req = LoginRequest {
        version_min: 1,
        version_max: 1,
        ..login_request(
            c.isid(),
            STAGE_SECURITY,
            STAGE_OPERATIONAL,
            security_keys_normal(),
        )
    };
    let rsp = exchange_login(&mut c, &req, "version 1");
    assert_eq!(pdu_status(&rsp), status::UNSUPPORTED_VERSION, "{rsp:?}");
    // Version-max and Version-active of the answer: 0, the version the target speaks.
    assert_eq!((rsp.bhs[2], rsp.bhs[3]), (0, 0), "{rsp:?}");
    assert!(rsp.data.is_empty(), "{rsp:?}");
    assert_closed_by_target(&mut c, "after 0x0205");
    drop(c);
    assert_still_serving(&mut server, "an unsupported version");
    stop(server);
}

/// The BHS of a security-stage Login Request declaring `len` bytes of data.
fn login_bhs_declaring(isid: [u8; 6], len: usize) -> Vec<u8> {
    let pdu = login_request(isid, STAGE_SECURITY, STAGE_OPERATIONAL, Vec::new()).to_pdu();
    let mut bytes = pdu.encode(Default::default()).unwrap();
    scst_tests::initiator::put_u24(&mut bytes, 5, len).unwrap();
    bytes
}

/// 4d. A login PDU whose data segment exceeds the daemon's 8192-byte receive buffer
/// (§8.4: `IOSTATE_READ_AHS_DATA`, PDU ≤ INCOMING_BUFSIZE 8192) is dropped: the target closes
/// the connection without an answer. Exactly 8192 bytes are still accepted.
#[test]
fn login_with_an_oversized_data_segment_is_dropped() {
    const TEST: &str = "login_with_an_oversized_data_segment_is_dropped";
    let mut server = start(TEST, &[]);

    for declared in [0x00ff_ffff, 8193] {
        let mut c = connect(&server);
        c.send_bytes(&login_bhs_declaring(c.isid(), declared))
            .unwrap();
        // Some data, not all of it; the target may already have closed.
        let _ = c.send_bytes(&vec![b'x'; 4096]);
        assert_closed_by_target(&mut c, &format!("DataSegmentLength {declared:#x}"));
        drop(c);
        assert_still_serving(
            &mut server,
            &format!("a login PDU declaring {declared} bytes"),
        );
    }

    // The boundary: 8192 bytes of text (padding key included) get a Login Response.
    let mut c = connect(&server);
    let mut data = security_keys_discovery();
    let pad = 8192 - data.len() - "X-Pad=".len() - 1;
    data.extend_from_slice(format!("X-Pad={}\0", "p".repeat(pad)).as_bytes());
    assert_eq!(data.len(), 8192);
    let req = login_request(c.isid(), STAGE_SECURITY, STAGE_OPERATIONAL, data);
    let rsp = exchange_login(&mut c, &req, "8192 bytes of text");
    assert_eq!(pdu_status(&rsp), status::SUCCESS, "{rsp:?}");
    assert_eq!(
        rsp.data,
        text(&[
            "TargetPortalGroupTag=1",
            "AuthMethod=None",
            "X-Pad=NotUnderstood"
        ])
    );
    drop(c);

    assert_still_serving(&mut server, "oversized login PDUs");
    stop(server);
}

/// 4e. Connections that end in the middle of a login: in the BHS, in the data segment, after
/// the security stage of a normal session. Nothing crashes; new logins work.
#[test]
fn connection_closed_mid_login_is_cleaned_up() {
    const TEST: &str = "connection_closed_mid_login_is_cleaned_up";
    let mut server = start(TEST, &[]);

    // Half a BHS.
    let mut c = connect(&server);
    let bhs = login_bhs_declaring(c.isid(), 0);
    c.send_bytes(&bhs[..24]).unwrap();
    drop(c);
    assert_still_serving(&mut server, "half a BHS");

    // The BHS and half the data it declares.
    let mut c = connect(&server);
    let data = security_keys_normal();
    c.send_bytes(&login_bhs_declaring(c.isid(), data.len()))
        .unwrap();
    c.send_bytes(&data[..data.len() / 2]).unwrap();
    drop(c);
    assert_still_serving(&mut server, "half a data segment");

    // The security stage of a normal session, then the connection goes.
    for _ in 0..3 {
        let mut c = connect(&server);
        let req = login_request(
            c.isid(),
            STAGE_SECURITY,
            STAGE_OPERATIONAL,
            security_keys_normal(),
        );
        let rsp = exchange_login(&mut c, &req, "security stage");
        assert_eq!(pdu_status(&rsp), status::SUCCESS, "{rsp:?}");
        assert_eq!(rsp.flags(), 0x81, "{rsp:?}");
        assert_eq!(
            rsp.data,
            text(&["TargetPortalGroupTag=1", "AuthMethod=None"])
        );
        drop(c);
    }
    assert_still_serving(&mut server, "a login closed after the security stage");

    // Operational stage sent, answer not read: the connection goes before the final answer.
    let mut c = connect(&server);
    let isid = c.isid();
    let req = login_request(
        isid,
        STAGE_SECURITY,
        STAGE_OPERATIONAL,
        security_keys_normal(),
    );
    let rsp = exchange_login(&mut c, &req, "security stage");
    assert_eq!(pdu_status(&rsp), status::SUCCESS, "{rsp:?}");
    let mut req = login_request(isid, STAGE_OPERATIONAL, STAGE_FULL_FEATURE, Vec::new());
    req.exp_statsn = rsp.sn24().wrapping_add(1);
    c.send_pdu(&req.to_pdu()).unwrap();
    drop(c);
    assert_still_serving(&mut server, "a login closed during the final stage");

    stop(server);
}

/// 4f. A first PDU other than a Login Request. A NOP-Out is not supported before the full
/// feature phase: Reject "command not supported" (0x05) and the connection is closed; as in
/// iscsid.c the Reject carries no data segment. A Text Request is a protocol error (Reject
/// 0x04 with the rejected header); the connection stays in the login phase and a login on it
/// succeeds. So does a non-immediate Login Request.
#[test]
fn first_pdu_other_than_login_is_rejected() {
    const TEST: &str = "first_pdu_other_than_login_is_rejected";
    let mut server = start(TEST, &[]);

    // NOP-Out.
    let mut c = connect(&server);
    let mut nop = Pdu::new(op::NOP_OUT);
    nop.bhs[0] |= FLAG_IMMEDIATE;
    nop.bhs[1] = FLAG_FINAL;
    nop.bhs[16..20].copy_from_slice(&7u32.to_be_bytes());
    nop.bhs[20..24].copy_from_slice(&RESERVED_TAG.to_be_bytes());
    nop.bhs[24..28].copy_from_slice(&1u32.to_be_bytes());
    c.send_pdu(&nop).unwrap();
    let rsp = c.recv_pdu().unwrap();
    assert_eq!(rsp.opcode(), op::REJECT, "{rsp:?}");
    assert_eq!(rsp.bhs[2], REJECT_COMMAND_NOT_SUPPORTED, "{rsp:?}");
    assert_eq!(rsp.itt(), RESERVED_TAG, "{rsp:?}");
    assert!(rsp.data.is_empty(), "{rsp:?}");
    assert_closed_by_target(&mut c, "after the Reject of a NOP-Out");
    drop(c);
    assert_still_serving(&mut server, "a NOP-Out as the first PDU");

    // Text Request, then a non-immediate Login Request, then a real login on the same
    // connection.
    let mut c = connect(&server);
    let mut txt = Pdu::new(op::TEXT_REQ);
    txt.bhs[0] |= FLAG_IMMEDIATE;
    txt.bhs[1] = FLAG_FINAL;
    txt.bhs[16..20].copy_from_slice(&9u32.to_be_bytes());
    txt.bhs[20..24].copy_from_slice(&RESERVED_TAG.to_be_bytes());
    txt.bhs[24..28].copy_from_slice(&1u32.to_be_bytes());
    txt.data = text(&["SendTargets=All"]);
    let sent = txt.encode(Default::default()).unwrap();
    c.send_pdu(&txt).unwrap();
    let rsp = c.recv_pdu().unwrap();
    assert_eq!(rsp.opcode(), op::REJECT, "{rsp:?}");
    assert_eq!(rsp.bhs[2], REJECT_PROTOCOL_ERROR, "{rsp:?}");
    assert_eq!(rsp.data, sent[..48].to_vec(), "the rejected header");

    let mut login = login_request(
        c.isid(),
        STAGE_SECURITY,
        STAGE_OPERATIONAL,
        security_keys_discovery(),
    )
    .to_pdu();
    login.bhs[0] &= !FLAG_IMMEDIATE;
    let sent = login.encode(Default::default()).unwrap();
    c.send_pdu(&login).unwrap();
    let rsp = c.recv_pdu().unwrap();
    assert_eq!(rsp.opcode(), op::REJECT, "{rsp:?}");
    assert_eq!(rsp.bhs[2], REJECT_PROTOCOL_ERROR, "{rsp:?}");
    assert_eq!(rsp.data, sent[..48].to_vec(), "the rejected header");

    let out = c.login(&LoginParams::discovery(INITIATOR)).unwrap();
    assert_eq!(status_of(&out), status::SUCCESS, "{out:?}");
    let (_, targets) = c.send_targets().unwrap();
    assert_eq!(targets, expected_targets(&server, &[DEFAULT_TARGET]));
    assert_eq!(c.logout().unwrap().response, 0);
    drop(c);

    assert_still_serving(&mut server, "a Text Request as the first PDU");
    stop(server);
}

// ---------------------------------------------------------------------------------------------
// 5. Threads

/// docs/ARCHITECTURE.md §2: the threads carry SCST's kernel thread names.
#[test]
fn threads_are_named_as_documented() {
    const TEST: &str = "threads_are_named_as_documented";
    let server = start(TEST, &[]);
    let (mut c, _) = login_normal(&server, DEFAULT_TARGET);
    c.nop_out(b"x").unwrap();

    let task_dir = PathBuf::from(format!("/proc/{}/task", server.pid));
    let read_names = || {
        let mut names: Vec<(u32, String)> = std::fs::read_dir(&task_dir)
            .unwrap()
            .filter_map(|e| {
                let e = e.ok()?;
                let tid: u32 = e.file_name().to_str()?.parse().ok()?;
                let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
                Some((tid, comm.trim_end().to_owned()))
            })
            .collect();
        names.sort_unstable();
        names
    };
    let expected = [
        "scst_initd",
        "scsi_tm",
        "scst_mgmtd",
        "scstd0",
        "iscsird0_0",
        "iscsiwr0_0",
        "ktimersoftd",
    ];
    // A thread names itself when it starts running (std's Builder::name → prctl in the new
    // thread), so a thread created a moment ago may still show its parent's name: look again
    // for up to 5 s.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut names = read_names();
    while std::time::Instant::now() < deadline
        && !expected
            .iter()
            .all(|n| names.iter().any(|(_, have)| have == n))
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
        names = read_names();
    }
    println!("{TEST}: threads of pid {}: {names:?}", server.pid);

    let main = names.iter().find(|(tid, _)| *tid == server.pid);
    assert_eq!(
        main.map(|(_, n)| n.as_str()),
        Some("iscsi-scstd"),
        "{names:?}"
    );
    let present: BTreeSet<&str> = names.iter().map(|(_, n)| n.as_str()).collect();
    let missing: Vec<&str> = expected
        .into_iter()
        .filter(|n| !present.contains(n))
        .collect();
    assert!(
        missing.is_empty(),
        "missing threads {missing:?}; all: {names:?}"
    );

    assert_eq!(c.logout().unwrap().response, 0);
    drop(c);
    stop(server);
}

/// SIGTERM (and SIGINT) while sessions are logged in: the process closes them (the initiator
/// reads end of stream), joins its threads and exits with status 0.
#[test]
fn stop_signals_close_live_sessions_and_exit_0() {
    for (test, sig) in [
        ("stop_with_sigterm_and_live_sessions", "TERM"),
        ("stop_with_sigint_and_live_sessions", "INT"),
    ] {
        let server = start(test, &[]);
        let (mut a, _) = login_normal(&server, DEFAULT_TARGET);
        let (mut b, _) = login_normal(&server, DEFAULT_TARGET);
        a.nop_out(b"a").unwrap();
        b.nop_out(b"b").unwrap();
        if sig == "TERM" {
            stop(server);
        } else {
            let mut server = server;
            let pid = server.pid.to_string();
            let st = std::process::Command::new("kill")
                .args(["-INT", &pid])
                .status()
                .unwrap();
            assert!(st.success());
            // SIGINT alone must end it (bounded wait); stop() then only collects the status.
            let end = Instant::now() + Duration::from_secs(10);
            while server.is_running() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(20));
            }
            assert!(
                !server.is_running(),
                "{test}: still running 10 s after SIGINT"
            );
            stop(server);
        }
        for c in [&mut a, &mut b] {
            let r = c.recv_pdu();
            assert!(
                r.is_err(),
                "{test}: the connection must be closed, got {r:?}"
            );
        }
    }
}
