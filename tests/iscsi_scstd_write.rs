// SPDX-License-Identifier: GPL-2.0-only
//! The WRITE path of the real `iscsi-scstd` binary (LUN 0 `disk0`, FILEIO on
//! `<state dir>/disk0`): stock clients (`$SHARED_DIR/tools/clients.sh`), every way write data
//! can reach the target (immediate data, unsolicited Data-Out, Data-Out answering R2Ts, and all
//! three in one command) read back over iSCSI and from the backing file, and the target's
//! reactions to bad Data-Out PDUs while a second session keeps writing and verifying.
//!
//! Expected values come from scst-reference.md §7.3 (receive path) and from the r7105 sources
//! of the iSCSI driver (`iscsi-scst/kernel/iscsi.c`: `data_out_start`, `data_out_end`,
//! `check_segment_length`, `iscsi_restart_cmnd`, `send_r2t`; `iscsi.h`: the sense codes),
//! which `iscsi_scst/src/iscsi.rs` ports; each is cited where it is used.
//!
//! Every test starts its own server (`-f -p 0 --state-dir <fresh dir>`, see
//! `scst_tests::server`) and stops it by PID with SIGTERM, expecting exit status 0. Each step
//! on the wire has a timeout of at most [`STEP`]; the external script runs under a deadline; a
//! missing tool prints a `SKIP` line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use scst_tests::initiator::{
    cdb, op, Connection, Error, LoginParams, Pdu, ScsiResult, CMD_ATTR_SIMPLE, CMD_READ, CMD_WRITE,
    DATA_IN_STATUS, FLAG_FINAL, FLAG_IMMEDIATE, RESERVED_TAG, SENSE_KEY_UNIT_ATTENTION,
    STATUS_CHECK_CONDITION, STATUS_GOOD,
};
use scst_tests::server::Server;
use scst_tests::workspace_root;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// The embedded default target of `iscsi-scstd` (main.rs `DEFAULT_TARGET`).
const DEFAULT_TARGET: &str = "iqn.2026-11.org.scst-rs:default";
const INITIATOR: &str = "iqn.2026-11.org.scst-rs.test:write";
const WORKER_INITIATOR: &str = "iqn.2026-11.org.scst-rs.test:write-worker";
/// Per socket operation (connect, one send, one PDU received); generous for debug builds.
const STEP: Duration = Duration::from_secs(10);
/// clients.sh: 8 steps, each bounded by its CLIENT_TIMEOUT (60 s); 64 MiB each way.
const CLIENTS_TIMEOUT: Duration = Duration::from_secs(540);

/// LUN 0 of the default configuration (iscsi_scstd main.rs `create_default_devices`).
const LUN_DISK: u16 = 0;
/// `DEF_DISK_BLOCK_SHIFT` 9: 512-byte blocks.
const BLOCK: u32 = 512;

/// ABORTED COMMAND.
const SENSE_KEY_ABORTED_COMMAND: u8 = 0x0b;
/// iscsi.h `iscsi_sense_incorrect_amount_of_data`: ABORTED_COMMAND, 0x0C, 0x0D.
const ASC_INCORRECT_AMOUNT_OF_DATA: (u8, u8) = (0x0c, 0x0d);
/// POWER ON, RESET, OR BUS DEVICE RESET OCCURRED.
const ASC_RESET: (u8, u8) = (0x29, 0x00);

/// Our MaxRecvDataSegmentLength, declared so that the target declares its own in return
/// (1 MiB by default). Without it the target's stays the RFC default 8192: iscsid.c
/// `text_check_params` gives a key still in KEY_STATE_START its `rfc_def`, and only an
/// initiator's MaxRecvDataSegmentLength moves the target's to KEY_STATE_DONE
/// (`text_scan_login`) so that it is declared.
const DECLARE_MRDSL: (&str, &str) = ("MaxRecvDataSegmentLength", "8192");

/// The second session of the bad-input tests: at least this many write + read-verify rounds,
/// at most [`WORKER_MAX_ROUNDS`], within [`WORKER_DEADLINE`].
const WORKER_MIN_ROUNDS: usize = 8;
const WORKER_MAX_ROUNDS: usize = 400;
const WORKER_DEADLINE: Duration = Duration::from_secs(90);
/// The worker's LBA range: 8 slots of 32 blocks from here (no other test write lands there).
const WORKER_LBA: u32 = 400_000;
const WORKER_BLOCKS: u16 = 32;

// ---------------------------------------------------------------------------------------------
// Helpers

fn shared_dir() -> PathBuf {
    std::env::var_os("SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("..").join("shared"))
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
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

fn start(test: &str) -> Server {
    Server::start(test, &[]).unwrap_or_else(|e| panic!("{test}: {e}"))
}

/// `len` bytes that differ for every `seed` and every 8-byte word (splitmix64).
fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5851_f42d_4c95_7f2d;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        out.extend_from_slice(&z.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Index and values of the first differing byte, for failure messages.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    if a.len() != b.len() {
        return format!("lengths {} and {}", a.len(), b.len());
    }
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => format!(
            "first difference at byte {i}: {:#04x} vs {:#04x}",
            a[i], b[i]
        ),
        None => "equal".to_owned(),
    }
}

/// A normal session into the default target with these operational keys; panics unless it
/// reaches the full feature phase. The new session's reset unit attention is cleared.
fn login(server: &Server, initiator: &str, keys: &[(&str, &str)]) -> Connection {
    let mut c = Connection::connect(server.addr, STEP)
        .unwrap_or_else(|e| panic!("connecting to {}: {e}", server.addr));
    let mut params = LoginParams::normal(initiator, DEFAULT_TARGET);
    for (k, v) in keys {
        params = params.with_key(k, v);
    }
    let out = c
        .login(&params)
        .unwrap_or_else(|e| panic!("login into {DEFAULT_TARGET} with {keys:?}: {e}"));
    assert!(out.succeeded(), "login into {DEFAULT_TARGET}: {out:?}");
    clear_unit_attention(&mut c);
    c
}

/// A new session's LUN may hold the reset unit attention that `scst_alloc_add_tgt_dev` queues
/// on every new tgt_dev (`scst_lib.c`): the first TEST UNIT READY then gets UNIT ATTENTION
/// 29/00. GOOD (no unit attention queued) is accepted as well; the second must be GOOD.
fn clear_unit_attention(c: &mut Connection) {
    let r = c.test_unit_ready(LUN_DISK).expect("TEST UNIT READY");
    if !r.is_good() {
        assert_eq!(
            r.status, STATUS_CHECK_CONDITION,
            "first TEST UNIT READY: {r:?}"
        );
        assert_eq!(r.sense_key(), Some(SENSE_KEY_UNIT_ATTENTION), "{r:?}");
        assert_eq!(r.asc_ascq(), Some(ASC_RESET), "{r:?}");
    }
    let r = c.test_unit_ready(LUN_DISK).expect("TEST UNIT READY");
    assert!(r.is_good(), "second TEST UNIT READY: {r:?}");
}

fn assert_good(r: &ScsiResult, what: &str) {
    assert!(
        r.is_good(),
        "{what}: response {:#04x} status {:#04x} sense {:02x?}",
        r.response,
        r.status,
        r.sense
    );
}

/// READ(10) of `blocks` blocks at `lba` of LUN 0, GOOD, all bytes present.
fn read_blocks(c: &mut Connection, lba: u32, blocks: u16, what: &str) -> Vec<u8> {
    let r = c
        .read10(LUN_DISK, lba, blocks, BLOCK)
        .unwrap_or_else(|e| panic!("{what}: READ(10) of {blocks} blocks at {lba}: {e}"));
    assert_good(&r, what);
    assert_eq!(
        r.data.len(),
        usize::from(blocks) * BLOCK as usize,
        "{what}: READ(10) returned {} bytes",
        r.data.len()
    );
    r.data
}

/// SYNCHRONIZE CACHE(10) of the whole LUN (LBA 0, NUMBER OF BLOCKS 0 = to the end; SBC-3).
fn synchronize_cache(c: &mut Connection) {
    let cdb = [0x35u8, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let r = c
        .scsi_command(&cdb, LUN_DISK, None, 0)
        .expect("SYNCHRONIZE CACHE(10)");
    assert_good(&r, "SYNCHRONIZE CACHE(10)");
}

/// `len` bytes of the backing file `disk0` at block `lba`.
fn file_bytes(state_dir: &Path, lba: u32, len: usize) -> Vec<u8> {
    let path = state_dir.join("disk0");
    let f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut buf = vec![0u8; len];
    f.read_exact_at(&mut buf, u64::from(lba) * u64::from(BLOCK))
        .unwrap_or_else(|e| panic!("{} at block {lba}: {e}", path.display()));
    buf
}

fn blocks_of(data: &[u8]) -> u16 {
    u16::try_from(data.len() / BLOCK as usize).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Hand-made PDUs: a session driven by hand after login (its own CmdSN and ExpStatSN, since the
// Connection's bookkeeping only follows the commands it runs itself)

fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_be_bytes());
}

/// What a SCSI Response said.
#[derive(Debug)]
struct Response {
    response: u8,
    status: u8,
    sense: Vec<u8>,
    pdu: Pdu,
}

impl Response {
    fn of(pdu: Pdu) -> Self {
        let sense = if pdu.data.len() >= 2 {
            let sl = usize::from(u16::from_be_bytes([pdu.data[0], pdu.data[1]]));
            pdu.data.get(2..2 + sl).unwrap_or(&[]).to_vec()
        } else {
            Vec::new()
        };
        Response {
            response: pdu.bhs[2],
            status: pdu.bhs[3],
            sense,
            pdu,
        }
    }

    fn is_good(&self) -> bool {
        self.response == 0 && self.status == STATUS_GOOD
    }
}

struct Raw<'a> {
    c: &'a mut Connection,
    cmdsn: u32,
    exp_statsn: u32,
    lun: [u8; 8],
}

impl<'a> Raw<'a> {
    /// Takes over `c` (in the full feature phase, nothing outstanding) for LUN 0.
    fn new(c: &'a mut Connection) -> Self {
        let (cmdsn, exp_statsn) = (c.cmdsn(), c.exp_statsn());
        Raw {
            c,
            cmdsn,
            exp_statsn,
            lun: [0; 8],
        }
    }

    fn mrdsl(&self) -> usize {
        self.c.negotiated().target_max_recv_data_segment_length as usize
    }

    /// Sends a non-immediate SCSI Command PDU (simple task attribute) and returns its ITT.
    fn command(&mut self, cdb: &[u8], flags: u8, edtl: u32, immediate: &[u8]) -> u32 {
        let itt = self.c.alloc_itt();
        let mut p = Pdu::new(op::SCSI_CMD);
        p.bhs[1] = flags | CMD_ATTR_SIMPLE;
        p.bhs[8..16].copy_from_slice(&self.lun);
        put32(&mut p.bhs, 16, itt);
        put32(&mut p.bhs, 20, edtl);
        put32(&mut p.bhs, 24, self.cmdsn);
        put32(&mut p.bhs, 28, self.exp_statsn);
        p.bhs[32..32 + cdb.len()].copy_from_slice(cdb);
        p.data = immediate.to_vec();
        self.c.send_pdu(&p).expect("sending a SCSI Command");
        self.cmdsn = self.cmdsn.wrapping_add(1);
        itt
    }

    /// A Data-Out PDU (RFC 3720 §10.7) as bytes, not sent.
    fn data_out_pdu(
        &self,
        itt: u32,
        ttt: u32,
        datasn: u32,
        offset: u32,
        data: &[u8],
        last: bool,
    ) -> Pdu {
        let mut p = Pdu::new(op::DATA_OUT);
        p.bhs[1] = if last { FLAG_FINAL } else { 0 };
        p.bhs[8..16].copy_from_slice(&self.lun);
        put32(&mut p.bhs, 16, itt);
        put32(&mut p.bhs, 20, ttt);
        put32(&mut p.bhs, 28, self.exp_statsn);
        put32(&mut p.bhs, 36, datasn);
        put32(&mut p.bhs, 40, offset);
        p.data = data.to_vec();
        p
    }

    fn data_out(&mut self, itt: u32, ttt: u32, datasn: u32, offset: u32, data: &[u8], last: bool) {
        let p = self.data_out_pdu(itt, ttt, datasn, offset, data, last);
        self.c.send_pdu(&p).expect("sending a Data-Out");
    }

    /// The next PDU, answering NOP-In pings on the way and keeping ExpStatSN.
    fn recv(&mut self) -> Pdu {
        loop {
            let pdu = self.c.recv_pdu().expect("receiving a PDU");
            let status_bearing = match pdu.opcode() {
                op::SCSI_RSP | op::REJECT | op::LOGOUT_RSP | op::TASK_MGMT_RSP => true,
                op::DATA_IN => pdu.flags() & DATA_IN_STATUS != 0,
                op::NOP_IN => pdu.itt() != RESERVED_TAG,
                _ => false,
            };
            if status_bearing {
                self.exp_statsn = pdu.sn24().wrapping_add(1);
            }
            if pdu.opcode() == op::NOP_IN && pdu.itt() == RESERVED_TAG {
                if pdu.ttt() != RESERVED_TAG {
                    let mut out = Pdu::new(op::NOP_OUT);
                    out.bhs[0] |= FLAG_IMMEDIATE;
                    out.bhs[1] = FLAG_FINAL;
                    out.bhs[8..16].copy_from_slice(&pdu.bhs[8..16]);
                    put32(&mut out.bhs, 16, RESERVED_TAG);
                    put32(&mut out.bhs, 20, pdu.ttt());
                    put32(&mut out.bhs, 24, self.cmdsn);
                    put32(&mut out.bhs, 28, self.exp_statsn);
                    self.c.send_pdu(&out).expect("answering a NOP-In ping");
                }
                continue;
            }
            return pdu;
        }
    }

    /// The next PDU, which must be an R2T for `itt`: (TTT, BufferOffset, length).
    fn expect_r2t(&mut self, itt: u32) -> (u32, u32, u32) {
        let p = self.recv();
        assert_eq!(
            p.opcode(),
            op::R2T,
            "expected an R2T for ITT {itt:#x}: {p:?}"
        );
        assert_eq!(p.itt(), itt, "{p:?}");
        (p.ttt(), p.buffer_offset(), p.word44())
    }

    /// The next PDU, which must be the SCSI Response of `itt`.
    fn expect_response(&mut self, itt: u32) -> Response {
        let p = self.recv();
        assert_eq!(
            p.opcode(),
            op::SCSI_RSP,
            "expected the SCSI Response of {itt:#x}: {p:?}"
        );
        assert_eq!(p.itt(), itt, "{p:?}");
        Response::of(p)
    }

    /// WRITE(10) of `data` at `lba` in a session with ImmediateData=No and InitialR2T=Yes:
    /// every byte answers an R2T, in Data-Out PDUs of at most the target's
    /// MaxRecvDataSegmentLength.
    fn write(&mut self, lba: u32, data: &[u8]) -> Response {
        let edtl = u32::try_from(data.len()).unwrap();
        let itt = self.command(
            &cdb::write10(lba, blocks_of(data)),
            FLAG_FINAL | CMD_WRITE,
            edtl,
            &[],
        );
        loop {
            let p = self.recv();
            match p.opcode() {
                op::R2T => {
                    assert_eq!(p.itt(), itt, "{p:?}");
                    let (ttt, off, len) = (p.ttt(), p.buffer_offset() as usize, p.word44());
                    let end = off + len as usize;
                    assert!(end <= data.len(), "R2T for {off}..{end}: {p:?}");
                    let mut o = off;
                    let mut datasn = 0;
                    while o < end {
                        let n = self.mrdsl().min(end - o);
                        let o32 = u32::try_from(o).unwrap();
                        self.data_out(itt, ttt, datasn, o32, &data[o..o + n], o + n == end);
                        datasn += 1;
                        o += n;
                    }
                }
                op::SCSI_RSP => {
                    assert_eq!(p.itt(), itt, "{p:?}");
                    return Response::of(p);
                }
                _ => panic!("WRITE(10) at {lba}: unexpected {p:?}"),
            }
        }
    }

    /// READ(10) of `blocks` at `lba`: (status, data).
    fn read(&mut self, lba: u32, blocks: u16) -> (u8, Vec<u8>) {
        let len = u32::from(blocks) * BLOCK;
        let itt = self.command(&cdb::read10(lba, blocks), FLAG_FINAL | CMD_READ, len, &[]);
        let mut data = vec![0u8; len as usize];
        loop {
            let p = self.recv();
            assert_eq!(p.itt(), itt, "{p:?}");
            match p.opcode() {
                op::DATA_IN => {
                    let off = p.buffer_offset() as usize;
                    data[off..off + p.data.len()].copy_from_slice(&p.data);
                    if p.flags() & DATA_IN_STATUS != 0 {
                        return (p.bhs[3], data);
                    }
                }
                op::SCSI_RSP => return (p.bhs[3], data),
                _ => panic!("READ(10) at {lba}: unexpected {p:?}"),
            }
        }
    }

    /// WRITE then READ of the same blocks over this hand-driven session: both GOOD, equal.
    fn write_read_verify(&mut self, lba: u32, data: &[u8], what: &str) {
        let r = self.write(lba, data);
        assert!(r.is_good(), "{what}: WRITE(10) at {lba}: {r:?}");
        let (st, back) = self.read(lba, blocks_of(data));
        assert_eq!(st, STATUS_GOOD, "{what}: READ(10) at {lba}");
        assert!(
            back == data,
            "{what}: read back {}",
            first_difference(&back, data)
        );
    }
}

/// The R2T-only session of the bad-input tests: ImmediateData=No, InitialR2T=Yes, so every
/// write waits for an R2T (§7.3) and the test decides what the Data-Out PDUs carry.
fn login_r2t_only(server: &Server) -> Connection {
    let c = login(
        server,
        INITIATOR,
        &[
            DECLARE_MRDSL,
            ("ImmediateData", "No"),
            ("InitialR2T", "Yes"),
        ],
    );
    let n = c.negotiated();
    assert!(!n.immediate_data && n.initial_r2t, "{n:?}");
    c
}

// ---------------------------------------------------------------------------------------------
// The second session of the bad-input tests

struct Worker {
    handle: thread::JoinHandle<Result<usize, String>>,
    rounds: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

/// Starts a session on its own thread doing write + read-verify rounds of [`WORKER_BLOCKS`]
/// blocks in [`WORKER_LBA`].. (default keys: ImmediateData=Yes, InitialR2T=No, the target's
/// MaxRecvDataSegmentLength the RFC default 8192, so 8 KiB immediate data and 8 KiB in an
/// unsolicited Data-Out per 16 KiB write); returns once it has completed two rounds.
fn start_worker(server: &Server) -> Worker {
    let mut c = login(server, WORKER_INITIATOR, &[]);
    let rounds = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (r, s) = (Arc::clone(&rounds), Arc::clone(&stop));
    let handle = thread::spawn(move || -> Result<usize, String> {
        let deadline = Instant::now() + WORKER_DEADLINE;
        let len = usize::from(WORKER_BLOCKS) * BLOCK as usize;
        for round in 0..WORKER_MAX_ROUNDS {
            let done = r.load(Ordering::SeqCst);
            if (s.load(Ordering::SeqCst) && done >= WORKER_MIN_ROUNDS) || Instant::now() > deadline
            {
                break;
            }
            let slot = u32::try_from(round % 8).unwrap();
            let lba = WORKER_LBA + slot * u32::from(WORKER_BLOCKS);
            let data = pattern(0x1000 + round as u64, len);
            let w = c
                .write10(LUN_DISK, lba, &data, BLOCK)
                .map_err(|e| format!("round {round}: WRITE(10) at {lba}: {e}"))?;
            if !w.is_good() {
                return Err(format!("round {round}: WRITE(10) at {lba}: {w:?}"));
            }
            let rd = c
                .read10(LUN_DISK, lba, WORKER_BLOCKS, BLOCK)
                .map_err(|e| format!("round {round}: READ(10) at {lba}: {e}"))?;
            if !rd.is_good() || rd.data != data {
                return Err(format!(
                    "round {round}: READ(10) at {lba}: status {:#04x}, {}",
                    rd.status,
                    first_difference(&rd.data, &data)
                ));
            }
            r.fetch_add(1, Ordering::SeqCst);
        }
        let lo = c.logout().map_err(|e| format!("logout: {e}"))?;
        if lo.response != 0 {
            return Err(format!("logout response {}", lo.response));
        }
        Ok(r.load(Ordering::SeqCst))
    });
    let deadline = Instant::now() + STEP;
    while rounds.load(Ordering::SeqCst) < 2 && !handle.is_finished() {
        assert!(
            Instant::now() < deadline,
            "the worker session made no 2 rounds"
        );
        thread::sleep(Duration::from_millis(5));
    }
    Worker {
        handle,
        rounds,
        stop,
    }
}

impl Worker {
    /// Lets it finish its rounds; every one must have passed.
    fn finish(self, what: &str) {
        self.stop.store(true, Ordering::SeqCst);
        let res = self.handle.join().expect("the worker thread panicked");
        let n = res.unwrap_or_else(|e| panic!("{what}: the second session failed: {e}"));
        println!("{what}: the second session passed {n} write + read-verify rounds");
        assert!(
            n >= WORKER_MIN_ROUNDS,
            "{what}: the second session made only {n} rounds (seen {})",
            self.rounds.load(Ordering::SeqCst)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Stock clients

#[test]
fn clients_sh_passes_on_lun0() {
    let test = "clients_sh_passes_on_lun0";
    let script = shared_dir().join("tools").join("clients.sh");
    if !script.is_file() {
        println!(
            "SKIP: {test}: {} not found (set SHARED_DIR)",
            script.display()
        );
        return;
    }
    // clients.sh `need_cmd` list.
    for tool in [
        "iscsi-ls",
        "iscsi-inq",
        "iscsi-readcapacity16",
        "qemu-img",
        "md5sum",
        "timeout",
    ] {
        if find_on_path(tool).is_none() {
            println!(
                "SKIP: {test}: {tool} not found (run {}/tools/install-test-deps.sh)",
                shared_dir().display()
            );
            return;
        }
    }
    // qemu-img lists the iscsi block driver only when qemu-block-extra is installed.
    let help = Command::new("qemu-img")
        .arg("--help")
        .stdin(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if !help.split_whitespace().any(|w| w == "iscsi") {
        println!("SKIP: {test}: qemu-img has no iscsi driver (qemu-block-extra)");
        return;
    }

    let server = start(test);
    let results = server.state_dir.join("clients");
    let url = format!("iscsi://{}/{DEFAULT_TARGET}/{LUN_DISK}", server.addr);
    let (out_p, err_p) = (
        server.state_dir.join("clients.out"),
        server.state_dir.join("clients.err"),
    );
    let mut child = Command::new("bash")
        .arg(&script)
        .arg(&url)
        .env("RESULTS_DIR", &results)
        .env("CLIENTS_NAME", "iscsi-scstd")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_p).unwrap())
        .stderr(std::fs::File::create(&err_p).unwrap())
        .spawn()
        .expect("spawning clients.sh");
    let deadline = Instant::now() + CLIENTS_TIMEOUT;
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(100));
    };
    let out = std::fs::read_to_string(&out_p).unwrap_or_default();
    let err = std::fs::read_to_string(&err_p).unwrap_or_default();
    let log = std::fs::read_to_string(results.join("clients-iscsi-scstd.txt")).unwrap_or_default();
    let last = out
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    print!("{out}");
    // clients.sh: 8 verdicts (iscsi-ls -s, lists the target, iscsi-inq, iscsi-readcapacity16,
    // qemu-img info, convert write, convert read, md5 round trip) and the summary last.
    assert_eq!(
        (code, last),
        (Some(0), "clients: 8 passed, 0 failed"),
        "clients.sh {url} (None: killed after {CLIENTS_TIMEOUT:?})\nstdout:\n{out}\nstderr:\n{err}\
         \nlog:\n{log}"
    );
    stop(server);
}

// ---------------------------------------------------------------------------------------------
// 2. Every data mode

/// Writes `data` at `lba` (GOOD), reads it back over iSCSI and compares; returns the write's
/// result for the caller's counter checks.
fn write_and_read_back(c: &mut Connection, lba: u32, data: &[u8], what: &str) -> ScsiResult {
    let w = c
        .write10(LUN_DISK, lba, data, BLOCK)
        .unwrap_or_else(|e| panic!("{what}: WRITE(10) of {} bytes at {lba}: {e}", data.len()));
    assert_good(&w, what);
    println!(
        "{what}: {} bytes: immediate {}, unsolicited {}, solicited {}, R2Ts {} (largest {}), \
         Data-Out PDUs {}",
        data.len(),
        w.immediate_bytes,
        w.unsolicited_bytes,
        w.solicited_bytes,
        w.r2ts,
        w.largest_r2t,
        w.data_out_pdus
    );
    let back = read_blocks(c, lba, blocks_of(data), what);
    assert!(
        back == data,
        "{what}: read back {}",
        first_difference(&back, data)
    );
    w
}

/// The backing file holds `data` at `lba`. The default `disk0` is FILEIO with
/// `DEF_WRITE_THROUGH` 0 and `DEF_NV_CACHE` 0 (scst_vdisk.c; vdisk `VdiskOpenParams::default`),
/// so the file is opened without O_DSYNC: a completed WRITE is in the file (page cache) but
/// is durable only after SYNCHRONIZE CACHE. Checked both before and after the sync.
fn assert_in_file(state_dir: &Path, lba: u32, data: &[u8], what: &str) {
    let f = file_bytes(state_dir, lba, data.len());
    assert!(
        f == data,
        "{what}: disk0 at block {lba}: {}",
        first_difference(&f, data)
    );
}

#[test]
fn writes_in_every_data_mode_read_back_equal() {
    let test = "writes_in_every_data_mode_read_back_equal";
    let server = start(test);
    let mut written: Vec<(u32, Vec<u8>, &str)> = Vec::new();

    // (a) Immediate data only: ImmediateData=Yes, InitialR2T=Yes, 16 KiB ≤ FirstBurstLength
    // (65536) and ≤ the target's MaxRecvDataSegmentLength (1 MiB): all of it in the command.
    {
        let what = "(a) immediate data only";
        let mut c = login(
            &server,
            INITIATOR,
            &[
                DECLARE_MRDSL,
                ("ImmediateData", "Yes"),
                ("InitialR2T", "Yes"),
            ],
        );
        let n = c.negotiated();
        assert!(n.immediate_data && n.initial_r2t, "{what}: {n:?}");
        let data = pattern(0xa, 16 * 1024);
        assert!(data.len() <= n.first_burst_length as usize);
        assert!(data.len() <= n.target_max_recv_data_segment_length as usize);
        let w = write_and_read_back(&mut c, 2048, &data, what);
        assert_eq!(
            (w.immediate_bytes, w.unsolicited_bytes, w.solicited_bytes),
            (data.len(), 0, 0),
            "{what}: {w:?}"
        );
        assert_eq!((w.r2ts, w.data_out_pdus), (0, 0), "{what}: {w:?}");
        assert_in_file(&server.state_dir, 2048, &data, what);
        written.push((2048, data, what));
        c.logout().unwrap();
    }

    // (b) Unsolicited Data-Out only: ImmediateData=No, InitialR2T=No (the target's default
    // InitialR2T is No, so the OR gives No; §7.3): 32 KiB ≤ FirstBurstLength in Data-Out PDUs
    // with TTT 0xffffffff, no R2T.
    {
        let what = "(b) unsolicited Data-Out only";
        let mut c = login(
            &server,
            INITIATOR,
            &[DECLARE_MRDSL, ("ImmediateData", "No"), ("InitialR2T", "No")],
        );
        let n = c.negotiated();
        assert!(!n.immediate_data && !n.initial_r2t, "{what}: {n:?}");
        let data = pattern(0xb, 32 * 1024);
        assert!(data.len() <= n.first_burst_length as usize);
        let w = write_and_read_back(&mut c, 4096, &data, what);
        assert_eq!(
            (w.immediate_bytes, w.unsolicited_bytes, w.solicited_bytes),
            (0, data.len(), 0),
            "{what}: {w:?}"
        );
        let mrdsl = n.target_max_recv_data_segment_length as usize;
        assert_eq!(
            (w.r2ts, w.data_out_pdus),
            (0, data.len().div_ceil(mrdsl)),
            "{what}: {w:?}"
        );
        assert_in_file(&server.state_dir, 4096, &data, what);
        written.push((4096, data, what));
        c.logout().unwrap();
    }

    // (c) R2T only: ImmediateData=No, InitialR2T=Yes, MaxBurstLength=16384,
    // MaxOutstandingR2T=1: 64 KiB solicited by R2Ts of min(r2t_len_to_send, MaxBurstLength)
    // (iscsi.c `send_r2t`): exactly 4 of 16384 bytes.
    {
        let what = "(c) R2T only";
        let mut c = login(
            &server,
            INITIATOR,
            &[
                DECLARE_MRDSL,
                ("ImmediateData", "No"),
                ("InitialR2T", "Yes"),
                ("MaxBurstLength", "16384"),
                ("MaxOutstandingR2T", "1"),
            ],
        );
        let n = c.negotiated();
        assert!(!n.immediate_data && n.initial_r2t, "{what}: {n:?}");
        assert_eq!(
            (n.max_burst_length, n.max_outstanding_r2t),
            (16384, 1),
            "{n:?}"
        );
        let data = pattern(0xc, 64 * 1024);
        let w = write_and_read_back(&mut c, 8192, &data, what);
        assert_eq!(
            (w.immediate_bytes, w.unsolicited_bytes, w.solicited_bytes),
            (0, 0, data.len()),
            "{what}: {w:?}"
        );
        assert_eq!((w.r2ts, w.largest_r2t), (4, 16384), "{what}: {w:?}");
        assert_in_file(&server.state_dir, 8192, &data, what);
        written.push((8192, data, what));
        synchronize_cache(&mut c);
        c.logout().unwrap();
    }
    for (lba, data, what) in &written {
        assert_in_file(
            &server.state_dir,
            *lba,
            data,
            &format!("{what}, after SYNCHRONIZE CACHE"),
        );
    }
    stop(server);

    // (d) All three in one command. The initiator sends min(FirstBurstLength, the target's
    // MaxRecvDataSegmentLength) as immediate data, so the target must declare less than
    // FirstBurstLength: a server whose target has MaxRecvDataSegmentLength 2048 (config key;
    // param.rs minimum 512). FirstBurstLength=4096, MaxBurstLength=8192, MaxOutstandingR2T=2,
    // 64 KiB: 2048 immediate, 4096 − 2048 = 2048 unsolicited in one Data-Out, 61440 solicited
    // by ⌈61440 / 8192⌉ = 8 R2Ts (7 × 8192 + 4096), each answered in 2048-byte Data-Outs
    // (7 × 4 + 2 = 30), 31 Data-Out PDUs in all.
    let test = "writes_in_every_data_mode_read_back_equal_d";
    let config = format!("Target {DEFAULT_TARGET}\n\tMaxRecvDataSegmentLength 2048\n");
    let server = Server::start_with_config(test, &config).unwrap_or_else(|e| panic!("{test}: {e}"));
    {
        let what = "(d) immediate + unsolicited + solicited";
        let mut c = login(
            &server,
            INITIATOR,
            &[
                DECLARE_MRDSL,
                ("ImmediateData", "Yes"),
                ("InitialR2T", "No"),
                ("FirstBurstLength", "4096"),
                ("MaxBurstLength", "8192"),
                ("MaxOutstandingR2T", "2"),
            ],
        );
        let n = c.negotiated();
        assert!(n.immediate_data && !n.initial_r2t, "{what}: {n:?}");
        assert_eq!(
            (
                n.target_max_recv_data_segment_length,
                n.first_burst_length,
                n.max_burst_length,
                n.max_outstanding_r2t
            ),
            (2048, 4096, 8192, 2),
            "{what}: {n:?}"
        );
        let data = pattern(0xd, 64 * 1024);
        let w = write_and_read_back(&mut c, 16384, &data, what);
        assert_eq!(
            (w.immediate_bytes, w.unsolicited_bytes, w.solicited_bytes),
            (2048, 4096 - 2048, data.len() - 4096),
            "{what}: {w:?}"
        );
        assert_eq!(
            (w.r2ts, w.largest_r2t, w.data_out_pdus),
            (8, 8192, 31),
            "{what}: {w:?}"
        );
        assert_in_file(&server.state_dir, 16384, &data, what);
        synchronize_cache(&mut c);
        assert_in_file(
            &server.state_dir,
            16384,
            &data,
            &format!("{what}, after SYNCHRONIZE CACHE"),
        );
        c.logout().unwrap();
    }
    stop(server);
}

// ---------------------------------------------------------------------------------------------
// 3. Bad Data-Out, with a second session writing meanwhile

/// (a) A Data-Out whose ITT names no task waiting for data: iscsi.c `data_out_start` finds
/// nothing in the data-wait hash ("Unable to find scsi task ITT %x", TRACE_MGMT_DBG only) and
/// calls `iscsi_preliminary_complete(cmnd, cmnd, true)`, which reads the data segment into the
/// dummy buffer; `data_out_end` returns at once (no `cmd_req`). Nothing is sent back: the next
/// PDU is the answer to our NOP-Out, and the session goes on.
#[test]
fn data_out_for_unknown_itt_is_dropped_silently() {
    let test = "data_out_for_unknown_itt_is_dropped_silently";
    let server = start(test);
    let worker = start_worker(&server);
    let mut c = login_r2t_only(&server);

    let before = pattern(0x3a0, 4096);
    write_and_read_back(&mut c, 300_000, &before, "(a) before");
    // An ITT this session never used (the Connection allocates from 1 upwards).
    let unknown_itt: u32 = 0x7777_0001;
    for (datasn, last) in [(0u32, false), (1, true)] {
        let mut p = Pdu::new(op::DATA_OUT);
        p.bhs[1] = if last { FLAG_FINAL } else { 0 };
        p.bhs[16..20].copy_from_slice(&unknown_itt.to_be_bytes());
        p.bhs[20..24].copy_from_slice(&0x1234u32.to_be_bytes());
        p.bhs[28..32].copy_from_slice(&c.exp_statsn().to_be_bytes());
        p.bhs[36..40].copy_from_slice(&datasn.to_be_bytes());
        p.bhs[40..44].copy_from_slice(&(datasn * 512).to_be_bytes());
        p.data = pattern(0x3a1 + u64::from(datasn), 512);
        c.send_pdu(&p).expect("sending the stray Data-Out");
    }
    // NOP-Out ping: the NOP-In must be the very next PDU (a Reject or anything else for
    // another ITT fails `nop_out`).
    c.nop_out(b"after stray Data-Out")
        .expect("(a) NOP-Out after a Data-Out for an unknown ITT");
    // The data went nowhere, and the session still writes and reads.
    let back = read_blocks(&mut c, 300_000, blocks_of(&before), "(a) after");
    assert!(back == before, "(a) {}", first_difference(&back, &before));
    let after = pattern(0x3a2, 8192);
    write_and_read_back(&mut c, 300_016, &after, "(a) new write");
    c.logout().unwrap();

    worker.finish(test);
    stop(server);
}

/// (b) Data-Out PDUs with wrong DataSN (7 and 3 instead of 0 and 1). iscsi-scst never reads the
/// Data-Out `data_sn` field (iscsi_hdr.h `struct iscsi_data_out_hdr`): `data_out_start` uses
/// the ITT, BufferOffset, F bit and DataSegmentLength only, and places the data by
/// BufferOffset (`cmnd_prepare_recv_pdu`). So the data are accepted: GOOD, and they read back.
#[test]
fn data_out_with_wrong_datasn_is_accepted() {
    let test = "data_out_with_wrong_datasn_is_accepted";
    let server = start(test);
    let worker = start_worker(&server);
    let mut c = login_r2t_only(&server);
    let mut raw = Raw::new(&mut c);

    let data = pattern(0x3b0, 1024);
    let itt = raw.command(&cdb::write10(300_100, 2), FLAG_FINAL | CMD_WRITE, 1024, &[]);
    let (ttt, off, len) = raw.expect_r2t(itt);
    assert_eq!((off, len), (0, 1024), "(b) R2T");
    raw.data_out(itt, ttt, 7, 0, &data[..512], false);
    raw.data_out(itt, ttt, 3, 512, &data[512..], true);
    let r = raw.expect_response(itt);
    assert!(r.is_good(), "(b) WRITE with DataSN 7, 3: {r:?}");
    let (st, back) = raw.read(300_100, 2);
    assert_eq!(st, STATUS_GOOD, "(b) READ(10)");
    assert!(back == data, "(b) {}", first_difference(&back, &data));
    raw.write_read_verify(300_116, &pattern(0x3b1, 4096), "(b) next write");
    assert_in_file(&server.state_dir, 300_100, &data, "(b)");

    worker.finish(test);
    stop(server);
}

/// (c) A Data-Out carrying more than the R2T asked for (1536 bytes for an R2T of 1024, within
/// MaxRecvDataSegmentLength). iscsi.c `data_out_start`: `r2t_len_to_receive` (1024) <
/// `pdu.datasize` (1536) → "Data size (%d) > R2T length to receive (%d)",
/// `set_scst_preliminary_status_rsp(orig_req, false, iscsi_sense_incorrect_amount_of_data)`
/// = ABORTED COMMAND 0x0C/0x0D (iscsi.h), and the data segment is read into the dummy
/// buffer. `data_out_end` (F bit, no R2T outstanding) restarts the command, which
/// `iscsi_restart_cmnd` hands to SCST as `SCST_PREPROCESS_STATUS_ERROR_SENSE_SET`: it is not
/// executed, and its SCSI Response carries CHECK CONDITION with that sense (fixed format, 18
/// bytes). The blocks keep their old content; the session goes on.
#[test]
fn data_out_longer_than_r2t_gets_check_condition() {
    let test = "data_out_longer_than_r2t_gets_check_condition";
    let server = start(test);
    let worker = start_worker(&server);
    let mut c = login_r2t_only(&server);
    let mut raw = Raw::new(&mut c);

    let before = pattern(0x3c0, 1024);
    raw.write_read_verify(300_200, &before, "(c) before");
    let itt = raw.command(&cdb::write10(300_200, 2), FLAG_FINAL | CMD_WRITE, 1024, &[]);
    let (ttt, off, len) = raw.expect_r2t(itt);
    assert_eq!((off, len), (0, 1024), "(c) R2T");
    let too_much = pattern(0x3c1, 1536);
    assert!(too_much.len() <= raw.mrdsl());
    raw.data_out(itt, ttt, 0, 0, &too_much, true);
    let r = raw.expect_response(itt);
    assert_eq!(
        (r.response, r.status),
        (0, STATUS_CHECK_CONDITION),
        "(c) {r:?}"
    );
    assert_eq!(r.sense.len(), 18, "(c) sense {:02x?}", r.sense);
    assert_eq!(
        (
            r.sense[0],
            r.sense[2] & 0x0f,
            r.sense[7],
            r.sense[12],
            r.sense[13]
        ),
        (
            0x70,
            SENSE_KEY_ABORTED_COMMAND,
            0x0a,
            ASC_INCORRECT_AMOUNT_OF_DATA.0,
            ASC_INCORRECT_AMOUNT_OF_DATA.1
        ),
        "(c) sense {:02x?}; response BHS {:02x?}",
        r.sense,
        r.pdu.bhs
    );
    let (st, back) = raw.read(300_200, 2);
    assert_eq!(st, STATUS_GOOD, "(c) READ(10)");
    assert!(
        back == before,
        "(c) the failed WRITE changed the blocks: {}",
        first_difference(&back, &before)
    );
    raw.write_read_verify(300_216, &pattern(0x3c2, 4096), "(c) next write");

    worker.finish(test);
    stop(server);
}

/// (d) A Data-Out whose data segment exceeds the target's MaxRecvDataSegmentLength (declared
/// at login; 1 MiB by default). iscsi.c `cmnd_rx_start` → `check_segment_length`: "Initiator
/// %s (conn %p) violated negotiated parameters: data too long …", `mark_conn_closed`: the
/// connection is closed without any answer. The other session is unaffected, and a new
/// session can log in and write.
#[test]
fn data_segment_over_max_recv_closes_the_connection() {
    let test = "data_segment_over_max_recv_closes_the_connection";
    let server = start(test);
    let worker = start_worker(&server);
    let mut c = login_r2t_only(&server);
    let mut raw = Raw::new(&mut c);
    let mrdsl = raw.mrdsl();

    let itt = raw.command(&cdb::write10(300_300, 2), FLAG_FINAL | CMD_WRITE, 1024, &[]);
    let (ttt, off, len) = raw.expect_r2t(itt);
    assert_eq!((off, len), (0, 1024), "(d) R2T");
    let p = raw.data_out_pdu(itt, ttt, 0, 0, &pattern(0x3d0, mrdsl + 512), true);
    let bytes = p.encode(raw.c.digests()).unwrap();
    raw.c
        .send_bytes(&bytes[..48])
        .expect("sending the over-long Data-Out's BHS");
    // The target may close while the data segment is still on its way.
    let _ = raw.c.send_bytes(&bytes[48..]);
    let deadline = Instant::now() + STEP;
    loop {
        match c.recv_pdu() {
            Err(Error::Closed { .. } | Error::Io { .. }) => break,
            Ok(p) if p.opcode() == op::NOP_IN && p.itt() == RESERVED_TAG => {}
            other => panic!("(d) expected the connection to close, got {other:?}"),
        }
        assert!(Instant::now() < deadline, "(d) the connection stayed open");
    }

    // A new session works.
    let mut c2 = login(&server, INITIATOR, &[DECLARE_MRDSL]);
    write_and_read_back(&mut c2, 300_316, &pattern(0x3d1, 4096), "(d) new session");
    c2.logout().unwrap();

    worker.finish(test);
    stop(server);
}

/// A write past the end is completed early (LBA OUT OF RANGE at parse) while its immediate
/// and unsolicited data are still arriving: the target must read and drop them all
/// (`iscsi_preliminary_complete` → the dummy page) and answer at once — for every size,
/// including data longer than the one dummy page, in mixed mode too. (Regression: the data
/// were read one page at a time and the rest was never noticed with edge-triggered
/// readiness, so the command hung; libiscsi's Write10.BeyondEol found it.)
#[test]
fn write_beyond_the_end_with_immediate_data_is_answered() {
    let test = "write_beyond_the_end_with_immediate_data_is_answered";
    let server = start(test);
    for (keys, what) in [
        (
            [("ImmediateData", "Yes"), ("InitialR2T", "Yes")],
            "immediate only",
        ),
        (
            [("ImmediateData", "Yes"), ("InitialR2T", "No")],
            "immediate + unsolicited",
        ),
    ] {
        let mut c = login(&server, INITIATOR, &[DECLARE_MRDSL, keys[0], keys[1]]);
        // LUN 0 has 2097152 blocks of 512 bytes: 1..=40 blocks starting 1 block before
        // the end are all out of range as soon as they reach past it.
        for blocks in [2u32, 9, 13, 17, 40] {
            let data = pattern(0x5e, blocks as usize * 512);
            let r = c.write10(0, 2_097_151, &data, 512).unwrap();
            assert_eq!(r.status, 2, "{what}, {blocks} blocks: {r:?}");
            assert_eq!(r.sense_key(), Some(0x05), "{what}, {blocks} blocks: {r:?}");
            assert_eq!(
                r.asc_ascq(),
                Some((0x21, 0x00)),
                "{what}, {blocks} blocks: {r:?}"
            );
        }
        c.nop_out(b"still here").unwrap();
        c.logout().unwrap();
    }
    stop(server);
}

// ---------------------------------------------------------------------------------------------
// 5. CRC32C digests (nthread.c: `digest_rx_header`, `iscsi_rx_check_ddigest`; digest.c).
// libiscsi only offers DataDigest=None, so data digests are tested here with our own client,
// which computes and checks both digests on every PDU it sends and receives.

/// Both digests negotiated, the target's MaxRecvDataSegmentLength 8192 (so a 64 KiB write
/// travels as immediate data, an unsolicited Data-Out and R2T-solicited Data-Outs, and a
/// 64 KiB read as 8 Data-In PDUs), each PDU with its header and data digest.
const DIGEST_KEYS: [(&str, &str); 3] = [
    DECLARE_MRDSL,
    ("HeaderDigest", "CRC32C"),
    ("DataDigest", "CRC32C"),
];

/// iscsid.c offers only None unless the target's configuration allows CRC32C (param.c
/// `session_keys`: local default DIGEST_NONE), as SCST: the default target with both digests
/// enabled in an iscsi-scstd.conf.
fn start_with_digests(test: &str) -> Server {
    let config =
        format!("Target {DEFAULT_TARGET}\n\tHeaderDigest CRC32C,None\n\tDataDigest CRC32C,None\n");
    Server::start_with_config(test, &config).unwrap_or_else(|e| panic!("{test}: {e}"))
}

fn login_with_digests(server: &Server, initiator: &str) -> Connection {
    let c = login(server, initiator, &DIGEST_KEYS);
    let n = c.negotiated();
    assert!(
        n.header_digest && n.data_digest,
        "digests not in force: {n:?}"
    );
    assert!(c.digests().header && c.digests().data, "{:?}", c.digests());
    c
}

/// Writes and reads of several sizes with both digests in force: every PDU's digests are
/// right (the client checks each one it receives; a wrong one would be an error) and the data
/// read back over iSCSI and from the backing file are the data written.
#[test]
fn crc32c_digests_on_every_pdu_of_writes_and_reads() {
    let test = "crc32c_digests_on_every_pdu_of_writes_and_reads";
    let server = start_with_digests(test);
    let mut c = login_with_digests(&server, INITIATOR);
    let mut lba = 310_000u32;
    // 1 block (immediate only), 3 blocks + an odd NOP-Out (pad bytes in the digest),
    // 64 KiB (immediate + unsolicited + solicited), 256 KiB (several R2T sequences).
    for (i, len) in [512usize, 1536, 65536, 262_144].into_iter().enumerate() {
        let data = pattern(0xd16 + i as u64, len);
        write_and_read_back(&mut c, lba, &data, &format!("digests, {len} bytes"));
        assert_in_file(
            &server.state_dir,
            lba,
            &data,
            &format!("digests, {len} bytes"),
        );
        c.nop_out(b"odd length ping").expect("NOP-Out with digests");
        lba += blocks_of(&data) as u32;
    }
    synchronize_cache(&mut c);
    c.logout().unwrap();
    stop(server);
}

/// A SCSI Command whose immediate data arrive with a wrong data digest: iscsi-scst completes
/// it at once with CHECK CONDITION, ABORTED COMMAND / 47h 05h (`iscsi_sense_crc_error`,
/// iscsi_rx_check_ddigest → set_scst_preliminary_status_rsp), the blocks stay unchanged, and
/// the session goes on. A wrong header digest closes the connection (the PDU boundaries can
/// no longer be trusted), and a new session works. A second session writes and verifies
/// throughout.
#[test]
fn wrong_digests_get_crc_error_or_close_the_connection() {
    let test = "wrong_digests_get_crc_error_or_close_the_connection";
    let server = start_with_digests(test);
    let worker = start_worker(&server);
    let mut c = login_with_digests(&server, INITIATOR);
    let lba = 320_000u32;
    let before = pattern(0xd20, 1024);
    write_and_read_back(&mut c, lba, &before, "digest: the blocks before");

    // (a) Immediate data (the whole transfer) with its data digest's last byte flipped.
    {
        let mut raw = Raw::new(&mut c);
        let data = pattern(0xd21, 1024);
        let itt = raw.c.alloc_itt();
        let mut p = Pdu::new(op::SCSI_CMD);
        p.bhs[1] = FLAG_FINAL | CMD_WRITE | CMD_ATTR_SIMPLE;
        p.bhs[8..16].copy_from_slice(&raw.lun);
        put32(&mut p.bhs, 16, itt);
        put32(&mut p.bhs, 20, 1024);
        put32(&mut p.bhs, 24, raw.cmdsn);
        put32(&mut p.bhs, 28, raw.exp_statsn);
        let w = cdb::write10(lba, 2);
        p.bhs[32..32 + w.len()].copy_from_slice(&w);
        p.data = data;
        let mut bytes = p.encode(raw.c.digests()).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x5a;
        raw.c.send_bytes(&bytes).expect("sending the command");
        raw.cmdsn = raw.cmdsn.wrapping_add(1);
        let r = raw.expect_response(itt);
        assert_eq!(r.response, 0, "(a) {r:?}");
        assert_eq!(r.status, STATUS_CHECK_CONDITION, "(a) {r:?}");
        assert_eq!(
            r.sense.get(2).map(|k| k & 0x0f),
            Some(SENSE_KEY_ABORTED_COMMAND),
            "(a) {r:?}"
        );
        assert_eq!(
            (r.sense.get(12).copied(), r.sense.get(13).copied()),
            (Some(0x47), Some(0x05)),
            "(a) {r:?}"
        );
        // The same session goes on: its next commands are answered.
        let (st, back) = raw.read(lba, 2);
        assert_eq!(st, STATUS_GOOD, "(a) READ after the digest error");
        assert!(
            back == before,
            "(a) blocks changed: {}",
            first_difference(&back, &before)
        );
    }

    // (b) A NOP-Out with a wrong header digest: the connection is closed. (Its CmdSN and
    // ExpStatSN are stale after the hand-driven commands; the target never looks at them.)
    {
        let mut p = Pdu::new(op::NOP_OUT);
        p.bhs[0] |= FLAG_IMMEDIATE;
        p.bhs[1] = FLAG_FINAL;
        put32(&mut p.bhs, 16, 0x0bad_0001);
        put32(&mut p.bhs, 20, RESERVED_TAG);
        put32(&mut p.bhs, 24, c.cmdsn());
        put32(&mut p.bhs, 28, c.exp_statsn());
        let mut bytes = p.encode(c.digests()).unwrap();
        bytes[48] ^= 0x01;
        let _ = c.send_bytes(&bytes);
        let deadline = Instant::now() + STEP;
        loop {
            match c.recv_pdu() {
                Err(Error::Closed { .. } | Error::Io { .. }) => break,
                Ok(p) if p.opcode() == op::NOP_IN && p.itt() == RESERVED_TAG => {}
                other => panic!("(b) expected the connection to close, got {other:?}"),
            }
            assert!(Instant::now() < deadline, "(b) the connection stayed open");
        }
    }

    let mut c2 = login_with_digests(&server, INITIATOR);
    let (st, back) = {
        let r = c2.read10(LUN_DISK, lba, 2, BLOCK).unwrap();
        (r.status, r.data)
    };
    assert_eq!(st, STATUS_GOOD);
    assert!(
        back == before,
        "blocks changed: {}",
        first_difference(&back, &before)
    );
    c2.logout().unwrap();
    worker.finish(test);
    stop(server);
}

// ---------------------------------------------------------------------------------------------
// 6. Four initiators at once

/// qemu-io (libiscsi underneath, `initiator-name` of the iscsi block driver) as four
/// initiators with different names, started together, each writing its own region of LUN 0
/// with patterns of several sizes and reading every write back with qemu-io's own pattern
/// check (`read -P`); then the regions are compared in the backing file. Any error, any
/// failed pattern check, a missing session in the log or a difference in the file fails.
#[test]
fn four_initiators_write_and_verify_distinct_regions() {
    let test = "four_initiators_write_and_verify_distinct_regions";
    let Some(qemu_io) = find_on_path("qemu-io") else {
        println!("SKIP {test}: qemu-io not found (../shared/tools/install-test-deps.sh installs qemu-utils)");
        return;
    };
    let server = start(test);
    const REGION: u64 = 64 << 20; // 64 MiB per initiator, from 128 MiB on
    const BASE: u64 = 128 << 20;
    // (offset in the region, length) of each write: 4 KiB … 1 MiB, some unaligned to 64 KiB.
    const WRITES: [(u64, u64); 6] = [
        (0, 4096),
        (4096, 61_440),
        (1 << 20, 1 << 20),
        (3 << 20, 131_072),
        (5 << 20, 512),
        (8 << 20, 8 << 20),
    ];
    let pat = |ini: u64, w: usize| -> u8 { (0x10 * (ini as u8 + 1)) | (w as u8 + 1) };
    let mut children = Vec::new();
    for ini in 0..4u64 {
        let opts = format!(
            "driver=iscsi,transport=tcp,portal={},target={DEFAULT_TARGET},lun=0,\
             initiator-name=iqn.2026-11.org.scst-rs.test:four-{ini}",
            server.addr
        );
        let mut cmd = Command::new(&qemu_io);
        cmd.arg("--image-opts").arg(&opts);
        // Two passes: write everything, read everything back; then again with new patterns
        // reversed, so the regions are rewritten while the other initiators are busy.
        for pass in 0..2u64 {
            for (w, (off, len)) in WRITES.iter().enumerate() {
                let p = pat(ini, w) ^ (pass as u8 * 0x0f);
                cmd.arg("-c")
                    .arg(format!("write -P {p} {} {len}", BASE + ini * REGION + off));
            }
            for (w, (off, len)) in WRITES.iter().enumerate().rev() {
                let p = pat(ini, w) ^ (pass as u8 * 0x0f);
                cmd.arg("-c")
                    .arg(format!("read -P {p} {} {len}", BASE + ini * REGION + off));
            }
        }
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        children.push(
            cmd.spawn()
                .unwrap_or_else(|e| panic!("{test}: qemu-io: {e}")),
        );
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    for (ini, mut child) in children.into_iter().enumerate() {
        loop {
            if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        if child.try_wait().unwrap().is_none() {
            let _ = child.kill();
            panic!("{test}: initiator {ini}: qemu-io did not finish in 120 s");
        }
        let out = child.wait_with_output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "{test}: initiator {ini}: {}\n{text}",
            out.status
        );
        let reads = text.matches("read ").count();
        let wrote = text.matches("wrote ").count();
        assert!(
            !text.contains("failed") && !text.contains("rror") && reads == 12 && wrote == 12,
            "{test}: initiator {ini}: {wrote} writes, {reads} reads reported:\n{text}"
        );
    }
    // Every initiator had its own session, and the file holds the second pass's patterns.
    let log = server.stderr();
    for ini in 0..4 {
        let name = format!("iqn.2026-11.org.scst-rs.test:four-{ini}");
        assert!(
            log.contains(&format!("initiator {name}")),
            "no session of {name} in the log"
        );
        for (w, (off, len)) in WRITES.iter().enumerate() {
            let p = pat(ini, w) ^ 0x0f;
            let start = BASE + ini * REGION + off;
            let f = file_bytes(
                &server.state_dir,
                (start / u64::from(BLOCK)) as u32,
                *len as usize,
            );
            assert!(
                f.iter().all(|&b| b == p),
                "{test}: initiator {ini}, write {w}: disk0 at {start}: {}",
                first_difference(&f, &vec![p; *len as usize])
            );
        }
    }
    stop(server);
}

/// iSCSI EDTL shorter than the CDB's transfer length (a WRITE(10) of 2 blocks carrying 1
/// block): GOOD with a residual overflow of one block, and only the block that came is
/// written — the second keeps its old data whatever the reused buffer held (r7105
/// `scst_set_write_len` → `scst_limit_sg_write_len`). Regression: the whole buffer was
/// written, so the second block got the previous command's data (libiscsi
/// iSCSIResiduals.Write12Residuals, intermittently).
#[test]
fn write_with_edtl_shorter_than_the_cdb_writes_only_what_came() {
    let test = "write_with_edtl_shorter_than_the_cdb_writes_only_what_came";
    let server = start(test);
    let mut c = login(&server, INITIATOR, &[DECLARE_MRDSL]);
    for round in 0..4u32 {
        let lba = 330_000 + round * 16;
        write_and_read_back(&mut c, lba, &[b'a'; 1024], "two blocks of 'a'");
        // Leaves 'b' in the (cached, reused) buffer of a 2-block command.
        write_and_read_back(
            &mut c,
            lba + 8,
            &[b'b'; 1024],
            "two blocks of 'b' elsewhere",
        );
        let r = c
            .scsi_command(&cdb::write10(lba, 2), LUN_DISK, Some(&[b'c'; 512]), 0)
            .expect("WRITE(10) of 2 blocks with EDTL 512");
        assert_good(&r, "WRITE(10) of 2 blocks with EDTL 512");
        assert_eq!(r.residual_overflow, Some(512), "{r:?}");
        let back = read_blocks(&mut c, lba, 2, "read back");
        assert!(
            back[..512].iter().all(|&b| b == b'c'),
            "round {round}: first block"
        );
        assert!(
            back[512..].iter().all(|&b| b == b'a'),
            "round {round}: second block overwritten: {}",
            first_difference(&back[512..], &[b'a'; 512])
        );
    }
    c.logout().unwrap();
    stop(server);
}

/// The send path under back-pressure: a 24 MiB READ (more than the loopback socket buffers hold) whose Data-In PDUs (header and data in
/// one gathered `sendmsg`, nthread.rs `write_data`) the initiator takes slowly, so the
/// target's socket fills and sends resume in the middle of PDUs — with both digests, whose
/// padding and digest trailers follow the data. Every byte and every digest must arrive
/// right (the client checks each digest).
#[test]
fn slow_reader_gets_every_data_in_pdu_whole() {
    let test = "slow_reader_gets_every_data_in_pdu_whole";
    let server = start_with_digests(test);
    let mut c = login_with_digests(&server, INITIATOR);
    let lba = 340_000u32;
    let len = 24usize << 20;
    let data = pattern(0x51, len);
    for (i, chunk) in data.chunks(1 << 20).enumerate() {
        let w = c
            .write10(LUN_DISK, lba + (i as u32) * 2048, chunk, BLOCK)
            .expect("WRITE(10) of 1 MiB");
        assert_good(&w, "WRITE(10) of 1 MiB");
    }
    let mut raw = Raw::new(&mut c);
    let blocks = u16::try_from(len / BLOCK as usize).unwrap();
    let itt = raw.command(
        &cdb::read10(lba, blocks),
        FLAG_FINAL | CMD_READ,
        u32::try_from(len).unwrap(),
        &[],
    );
    // Let the target fill its socket before reading anything.
    thread::sleep(Duration::from_millis(300));
    let mut back = vec![0u8; len];
    let mut pdus = 0usize;
    loop {
        let p = raw.recv();
        assert_eq!(p.itt(), itt, "{p:?}");
        pdus += 1;
        if pdus.is_multiple_of(64) {
            thread::sleep(Duration::from_millis(5));
        }
        match p.opcode() {
            op::DATA_IN => {
                let off = p.buffer_offset() as usize;
                back[off..off + p.data.len()].copy_from_slice(&p.data);
                if p.flags() & DATA_IN_STATUS != 0 {
                    assert_eq!(p.bhs[3], STATUS_GOOD, "{p:?}");
                    break;
                }
            }
            op::SCSI_RSP => {
                assert_eq!(p.bhs[3], STATUS_GOOD, "{p:?}");
                break;
            }
            _ => panic!("unexpected {p:?}"),
        }
    }
    assert!(pdus >= len / 8192, "{pdus} PDUs");
    assert!(
        back == data,
        "24 MiB read back: {}",
        first_difference(&back, &data)
    );
    stop(server);
}
