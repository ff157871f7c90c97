// SPDX-License-Identifier: GPL-2.0-only
//! The SCSI data path of the real `iscsi-scstd` binary: the default target's two vdisk LUNs
//! (LUN 0 `disk0`, FILEIO on `<state dir>/disk0`, 1 GiB; LUN 1 `null0`, NULLIO, 2.5 TiB) seen
//! through the independent test initiator (`scst_tests::initiator`) and through libiscsi's
//! tools (`iscsi-ls`, `iscsi-inq`, `iscsi-readcapacity16`, `iscsi-perf`).
//!
//! Expected values come from scst-reference.md §9 (vdisk identity §9.4, standard INQUIRY §9.5,
//! VPD pages §9.6, opcodes §9.8) and from the r7105 sources they describe
//! (`scst/src/dev_handlers/scst_vdisk.c`, `scst/src/scst_lib.c`, `scst/src/scst_targ.c`,
//! `iscsi-scst/kernel/iscsi.c`); each is cited where it is used.
//!
//! Every test starts its own server with the default configuration (`-f -p 0 --state-dir
//! <fresh dir>`, see `scst_tests::server`) and stops it by PID with SIGTERM, expecting exit
//! status 0. Each step on the wire has a timeout of at most [`STEP`]; each external tool runs
//! under a deadline; a tool that is not installed prints a `SKIP` line and the rest of the test
//! still runs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use scst_tests::initiator::{
    Connection, LoginParams, ScsiResult, SENSE_KEY_UNIT_ATTENTION, STATUS_CHECK_CONDITION,
    STATUS_GOOD,
};
use scst_tests::server::Server;
use std::collections::BTreeSet;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::Duration;

/// The embedded default target of `iscsi-scstd` (main.rs `DEFAULT_TARGET`).
const DEFAULT_TARGET: &str = "iqn.2026-11.org.scst-rs:default";
const INITIATOR: &str = "iqn.2026-11.org.scst-rs.test:datapath";
/// Per socket operation (connect, one send, one PDU received); generous for debug builds.
const STEP: Duration = Duration::from_secs(10);
/// For iscsi-ls, iscsi-inq, iscsi-readcapacity16.
const TOOL_TIMEOUT: Duration = Duration::from_secs(20);
/// iscsi-perf runs 10 s; login, READ CAPACITY and logout on top.
const PERF_TIMEOUT: Duration = Duration::from_secs(60);

/// LUN 0 and LUN 1 of the default configuration (iscsi_scstd main.rs
/// `create_default_devices`).
const LUN_DISK: u16 = 0;
const LUN_NULL: u16 = 1;
/// `DEF_DISK_BLOCK_SHIFT` 9 (§9.3): 512-byte blocks for both devices.
const BLOCK: u32 = 512;
/// main.rs `DEFAULT_DISK_SIZE`: the 1 GiB backing file of `disk0`.
const DISK_BYTES: u64 = 1 << 30;
/// `VDISK_NULLIO_SIZE` = 5 TiB / 2 (§9.1): 2,748,779,069,440 bytes.
const NULL_BYTES: u64 = 5 * (1 << 40) / 2;

/// SCSI sense keys and additional sense codes (SPC-4 tables 27 and 28).
const SENSE_KEY_ILLEGAL_REQUEST: u8 = 0x05;
/// POWER ON, RESET, OR BUS DEVICE RESET OCCURRED.
const ASC_RESET: (u8, u8) = (0x29, 0x00);
/// LOGICAL BLOCK ADDRESS OUT OF RANGE.
const ASC_LBA_OUT_OF_RANGE: (u8, u8) = (0x21, 0x00);
/// INVALID COMMAND OPERATION CODE.
const ASC_INVALID_OPCODE: (u8, u8) = (0x20, 0x00);
/// LOGICAL UNIT NOT SUPPORTED.
const ASC_LUN_NOT_SUPPORTED: (u8, u8) = (0x25, 0x00);
/// INVALID FIELD IN CDB.
const ASC_INVALID_FIELD_IN_CDB: (u8, u8) = (0x24, 0x00);

// ---------------------------------------------------------------------------------------------
// Identity values (§9.4)

/// The kernel's `crc32c()` as `vdisk_gen_dev_id_num` uses it: CRC-32C register update with
/// seed 0 and no pre- or post-inversion (§9.4: raw(seed, data) = !crc32c_append(!seed, data)).
fn crc32c_raw(seed: u32, data: &[u8]) -> u32 {
    !crc32c::crc32c_append(!seed, data)
}

/// `usn` of a device (§9.4): `"%llx"` of `dev_id_num = (scst_vdisk_ID << 32) | crc32c_raw(0,
/// name + NUL)` with `scst_vdisk_ID` 0 (procfs default):
/// `disk0` → crc32c_raw(0, "disk0\0") = 0xab5f2545 → `"ab5f2545"` (the §9.4 example);
/// `null0` → crc32c_raw(0, "null0\0") = 0xc8054713 → `"c8054713"`.
fn usn_of(name: &str) -> String {
    let mut bytes = name.as_bytes().to_vec();
    bytes.push(0);
    let dev_id_num = u64::from(crc32c_raw(0, &bytes));
    format!("{dev_id_num:x}")
}

/// `t10_dev_id` (§9.4): `"%llx-%s"` of (dev_id_num, name), at most 25 characters.
fn t10_dev_id_of(name: &str) -> String {
    let mut s = format!("{}-{name}", usn_of(name));
    s.truncate(25);
    s
}

#[test]
fn identity_values_match_the_reference_examples() {
    // §9.4 computed examples (and §11: recomputed independently with a bitwise CRC-32C).
    assert_eq!(usn_of("disk0"), "ab5f2545");
    assert_eq!(usn_of("disk1"), "b8fdbd32");
    assert_eq!(t10_dev_id_of("null1"), "dba7df64-null1");
    assert_eq!(t10_dev_id_of("disk0"), "ab5f2545-disk0");
    assert_eq!(usn_of("null0"), "c8054713");
}

// ---------------------------------------------------------------------------------------------
// Helpers

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

/// Starts the server with `disk0` prepared by us (a 1 GiB sparse file holding [`REGIONS`]).
fn start_with_pattern(test: &str) -> Server {
    Server::start_prepared(test, 0, &[], write_pattern_disk)
        .unwrap_or_else(|e| panic!("{test}: {e}"))
}

/// A normal session into the default target with `MaxRecvDataSegmentLength` (ours) offered
/// when given; panics unless it reaches the full feature phase.
fn login(server: &Server, max_recv: Option<&str>) -> Connection {
    let mut c = Connection::connect(server.addr, STEP)
        .unwrap_or_else(|e| panic!("connecting to {}: {e}", server.addr));
    let mut params = LoginParams::normal(INITIATOR, DEFAULT_TARGET);
    if let Some(v) = max_recv {
        params = params.with_key("MaxRecvDataSegmentLength", v);
    }
    let out = c
        .login(&params)
        .unwrap_or_else(|e| panic!("login into {DEFAULT_TARGET}: {e}"));
    assert!(out.succeeded(), "login into {DEFAULT_TARGET}: {out:?}");
    c
}

fn cmd(c: &mut Connection, cdb: &[u8], lun: u16, expected_in: u32, what: &str) -> ScsiResult {
    c.scsi_command(cdb, lun, None, expected_in)
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn good(c: &mut Connection, cdb: &[u8], lun: u16, expected_in: u32, what: &str) -> ScsiResult {
    let r = cmd(c, cdb, lun, expected_in, what);
    assert!(
        r.is_good(),
        "{what}: status {:#04x} response {:#04x} sense {:02x?}",
        r.status,
        r.response,
        r.sense
    );
    r
}

/// CHECK CONDITION with fixed-format sense (D_SENSE 0, §9.3) of `key`/`asc`: response code
/// 0x70, 18 bytes with additional length 0x0a (`scst_set_sense`, `SCST_STANDARD_SENSE_LEN`).
fn assert_check_condition(r: &ScsiResult, key: u8, asc: (u8, u8), what: &str) {
    assert_eq!(r.response, 0, "{what}: iSCSI response {r:?}");
    assert_eq!(r.status, STATUS_CHECK_CONDITION, "{what}: {r:?}");
    assert_eq!(r.sense_key(), Some(key), "{what}: sense {:02x?}", r.sense);
    assert_eq!(r.asc_ascq(), Some(asc), "{what}: sense {:02x?}", r.sense);
    assert_eq!(r.sense.len(), 18, "{what}: sense {:02x?}", r.sense);
    assert_eq!(
        (r.sense[0], r.sense[7]),
        (0x70, 0x0a),
        "{what}: {:02x?}",
        r.sense
    );
}

/// A new session's LUN holds the reset unit attention that `scst_alloc_add_tgt_dev` queues on
/// every new tgt_dev (`scst_lib.c`: `scst_alloc_set_UA(tgt_dev, … scst_sense_reset_UA)`): the
/// first TEST UNIT READY gets UNIT ATTENTION 29/00, the next one GOOD. The port does not queue
/// unit attentions yet (see [`new_session_reports_reset_unit_attention`]), so a GOOD first
/// answer is accepted here; any other answer fails.
fn clear_unit_attention(c: &mut Connection, lun: u16, what: &str) {
    let tur = [0u8; 6];
    let r = cmd(c, &tur, lun, 0, what);
    if !r.is_good() {
        assert_check_condition(
            &r,
            SENSE_KEY_UNIT_ATTENTION,
            ASC_RESET,
            &format!("{what}: first TEST UNIT READY of LUN {lun}"),
        );
    }
    good(
        c,
        &tur,
        lun,
        0,
        &format!("{what}: second TEST UNIT READY of LUN {lun}"),
    );
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

use scst_tests::server::run_tool;

/// `iscsi://ADDR/IQN/LUN` (libiscsi URL).
fn lun_url(server: &Server, lun: u16) -> String {
    format!("iscsi://{}/{DEFAULT_TARGET}/{lun}", server.addr)
}

/// Runs a libiscsi tool expecting exit status 0; its stdout followed by its stderr. `None`
/// (after a SKIP line) when the tool is not installed.
fn libiscsi_tool(test: &str, tool: &str, args: &[&str], limit: Duration) -> Option<String> {
    let Some(path) = find_on_path(tool) else {
        println!("SKIP: {test}: {tool} not found (Debian package libiscsi-bin)");
        return None;
    };
    let (code, out, err) = run_tool(Command::new(path).args(["-i", INITIATOR]).args(args), limit);
    assert_eq!(
        code,
        Some(0),
        "{tool} {args:?} (None: killed after {limit:?}):\nstdout:\n{out}\nstderr:\n{err}"
    );
    Some(out + &err)
}

// ---------------------------------------------------------------------------------------------
// CDBs not in the initiator's helpers (SBC-3 layouts)

fn read6(lba: u32, blocks: u8) -> [u8; 6] {
    let [_, l2, l1, l0] = lba.to_be_bytes();
    [0x08, l2 & 0x1f, l1, l0, blocks, 0]
}

fn read10(lba: u32, blocks: u16) -> [u8; 10] {
    let mut c = [0u8; 10];
    c[0] = 0x28;
    c[2..6].copy_from_slice(&lba.to_be_bytes());
    c[7..9].copy_from_slice(&blocks.to_be_bytes());
    c
}

fn read12(lba: u32, blocks: u32) -> [u8; 12] {
    let mut c = [0u8; 12];
    c[0] = 0xa8;
    c[2..6].copy_from_slice(&lba.to_be_bytes());
    c[6..10].copy_from_slice(&blocks.to_be_bytes());
    c
}

fn read16(lba: u64, blocks: u32) -> [u8; 16] {
    let mut c = [0u8; 16];
    c[0] = 0x88;
    c[2..10].copy_from_slice(&lba.to_be_bytes());
    c[10..14].copy_from_slice(&blocks.to_be_bytes());
    c
}

fn read_capacity10() -> [u8; 10] {
    [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]
}

fn read_capacity16() -> [u8; 16] {
    let mut c = [0u8; 16];
    c[0] = 0x9e;
    c[1] = 0x10;
    c[10..14].copy_from_slice(&32u32.to_be_bytes());
    c
}

fn inquiry(evpd: bool, page: u8, alloc: u16) -> [u8; 6] {
    let [h, l] = alloc.to_be_bytes();
    [0x12, u8::from(evpd), page, h, l, 0]
}

// ---------------------------------------------------------------------------------------------
// The data pattern of disk0

/// (first LBA, blocks) of `disk0` that hold the pattern; everything else is a hole (zeros).
/// The 2048-block region is the 1 MiB transfer; the last one is the last block of the disk.
const REGIONS: [(u64, u64); 5] = [(0, 8), (1000, 3), (4096, 2048), (65_537, 5), (2_097_151, 1)];

/// Byte `i` of block `lba`: the block starts with its LBA (ASCII), then a sequence that
/// differs between blocks and between offsets.
fn pattern_block(lba: u64) -> Vec<u8> {
    let mut b: Vec<u8> = (0..BLOCK as usize)
        .map(|i| {
            let x = (lba as usize).wrapping_mul(131) ^ i.wrapping_mul(7) ^ (i >> 8);
            (x % 251) as u8 + 1
        })
        .collect();
    let tag = format!("LBA {lba:010} ");
    b[..tag.len()].copy_from_slice(tag.as_bytes());
    b
}

fn pattern(lba: u64, blocks: u64) -> Vec<u8> {
    (lba..lba + blocks).flat_map(pattern_block).collect()
}

/// The state-dir preparation: `disk0` as a 1 GiB sparse file holding [`REGIONS`]. The server
/// opens it without truncating (main.rs `create_default_devices`: `truncate(false)`, sized only
/// when empty).
fn write_pattern_disk(state_dir: &Path) -> std::io::Result<()> {
    let f = std::fs::File::create(state_dir.join("disk0"))?;
    f.set_len(DISK_BYTES)?;
    for (lba, blocks) in REGIONS {
        f.write_all_at(&pattern(lba, blocks), lba * u64::from(BLOCK))?;
    }
    f.sync_all()
}

// ---------------------------------------------------------------------------------------------
// 1. iscsi-ls

#[test]
fn iscsi_ls_lists_both_luns() {
    const TEST: &str = "iscsi_ls_lists_both_luns";
    let server = start(TEST);
    let portal = format!("iscsi://{}", server.addr);
    if let Some(out) = libiscsi_tool(TEST, "iscsi-ls", &["-s", &portal], TOOL_TIMEOUT) {
        println!("{TEST}: iscsi-ls -s {portal}:\n{out}");
        // iscsi-ls prints `Target:NAME Portal:ADDR,TPGT`, then per LUN
        // `Lun:N    Type:DIRECT_ACCESS (Size:…)` (both vdisk devices are type 0, §9.1).
        let targets: Vec<&str> = out
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Target:"))
            .collect();
        assert_eq!(
            targets,
            [format!("{DEFAULT_TARGET} Portal:{},1", server.addr)],
            "iscsi-ls output:\n{out}"
        );
        let luns: BTreeSet<(&str, &str)> = out
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Lun:"))
            .map(|l| {
                let mut w = l.split_whitespace();
                (w.next().unwrap_or(""), w.next().unwrap_or(""))
            })
            .collect();
        let want: BTreeSet<(&str, &str)> =
            [("0", "Type:DIRECT_ACCESS"), ("1", "Type:DIRECT_ACCESS")]
                .into_iter()
                .collect();
        assert_eq!(luns, want, "iscsi-ls output:\n{out}");
    }
    stop(server);
}

// ---------------------------------------------------------------------------------------------
// 2. INQUIRY and VPD pages

/// Standard INQUIRY data of a vdisk device `name` over iSCSI (§9.5; `vdisk_inq`): 64 bytes.
fn expected_standard_inquiry(name: &str) -> Vec<u8> {
    let mut d = vec![0u8; 64];
    d[0] = 0x00; // PQ 0 (connected) | type 0 (disk)
    d[1] = 0x00; // not removable (DEF_REMOVABLE 0)
    d[2] = 0x06; // SPC-4
    d[3] = 0x22; // NormACA | response data format 2
    d[4] = 59; // additional length 31 + 22 + 3 version descriptors × 2
    d[5] = 0x08; // 3PC; no ALUA, no DIF
    d[6] = 0x10; // MultiP
    d[7] = 0x02; // CmdQue
    d[8..16].copy_from_slice(b"SCST_FIO"); // t10_vend_id: SCST_FIO for FILEIO and NULLIO
    let mut prod = format!("{name:<16}").into_bytes(); // prod_id = name, space-padded
    prod.truncate(16);
    d[16..32].copy_from_slice(&prod);
    d[32..36].copy_from_slice(b" 330"); // SCST_FIO_REV at r7105: 20 33 33 30
                                        // 36..58: inq_vend_specific empty → zeros.
                                        // Version descriptors: SAM-4 0x008B, iSCSI 0x0960 (iscsi-scst's
                                        // get_scsi_transport_version), SPC-4 0x0463; no command set in procfs builds.
    d[58..64].copy_from_slice(&[0x00, 0x8b, 0x09, 0x60, 0x04, 0x63]);
    d
}

/// VPD 00h (§9.6, `vdisk_sup_vpd`): 00 80 83 86 B0 B1 (disk, not thin provisioned).
fn expected_vpd_00() -> Vec<u8> {
    vec![0x00, 0x00, 0x00, 0x06, 0x00, 0x80, 0x83, 0x86, 0xb0, 0xb1]
}

/// VPD 80h (§9.6, `vdisk_usn_vpd`): the usn, no padding.
fn expected_vpd_80(name: &str) -> Vec<u8> {
    let usn = usn_of(name);
    let mut d = vec![0x00, 0x80, 0x00, usn.len() as u8];
    d.extend_from_slice(usn.as_bytes());
    d
}

/// VPD 83h (§9.6, `vdisk_dev_id_vpd`), no scsi_device_name, no ALUA, no EUI-64/NAA set:
/// T10 vendor ID designator (ASCII, type 1: 8-byte t10_vend_id + vend_specific_id =
/// t10_dev_id), relative target port (binary, association port, type 4: rel_tgt_id 1, the
/// first id `gen_relative_target_port_id` hands out, `SCST_MIN_REL_TGT_ID`), then the
/// compatibility EUI-64 (binary, type 2) = the first 8 bytes of t10_dev_id.
fn expected_vpd_83(name: &str) -> Vec<u8> {
    let t10 = t10_dev_id_of(name);
    let mut d = vec![0x00, 0x83, 0x00, 0x00];
    d.extend_from_slice(&[0x02, 0x01, 0x00, (8 + t10.len()) as u8]);
    d.extend_from_slice(b"SCST_FIO");
    d.extend_from_slice(t10.as_bytes());
    d.extend_from_slice(&[0x01, 0x14, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01]);
    d.extend_from_slice(&[0x01, 0x02, 0x00, 0x08]);
    d.extend_from_slice(&t10.as_bytes()[..8]);
    let len = (d.len() - 4) as u16;
    d[2..4].copy_from_slice(&len.to_be_bytes());
    d
}

/// VPD 86h (§9.6, `vdisk_ext_inq`): length 0x3C; byte 5 = 7 (HEADSUP, ORDSUP, SIMPSUP);
/// byte 6 V_SUP = 1 (neither write-through nor nv_cache); byte 7 LUICLR = 1.
fn expected_vpd_86() -> Vec<u8> {
    let mut d = vec![0u8; 64];
    d[..8].copy_from_slice(&[0x00, 0x86, 0x00, 0x3c, 0x00, 0x07, 0x01, 0x01]);
    d
}

/// VPD B0h (§9.6, `vdisk_block_limits`), 512-byte blocks, not thin: WSNZ 1; MAXIMUM COMPARE
/// AND WRITE LENGTH 0xFF; OPTIMAL TRANSFER LENGTH GRANULARITY = 4096 / 512 = 8 (x86-64
/// PAGE_SIZE); MAXIMUM TRANSFER LENGTH = min(max_sg_cnt << PAGE_SHIFT, 8 MiB) / 512 = 16384
/// (max_sg_cnt = min(1 << 15, iscsi's sg_tablesize 0xFFFF), `scst_alloc_add_tgt_dev`);
/// OPTIMAL TRANSFER LENGTH = min(16384, 512 KiB / 512) = 1024; no UNMAP fields; MAXIMUM WRITE
/// SAME LENGTH = 256 MiB (`scst_main.c` `max_write_same_len`) / 512 = 524288.
fn expected_vpd_b0() -> Vec<u8> {
    let mut d = vec![0u8; 64];
    d[..4].copy_from_slice(&[0x00, 0xb0, 0x00, 0x3c]);
    d[4] = 0x01;
    d[5] = 0xff;
    d[6..8].copy_from_slice(&8u16.to_be_bytes());
    d[8..12].copy_from_slice(&16384u32.to_be_bytes());
    d[12..16].copy_from_slice(&1024u32.to_be_bytes());
    d[36..44].copy_from_slice(&524_288u64.to_be_bytes());
    d
}

/// VPD B1h (§9.6, `vdisk_bdev_char`): length 0x3C, rotation rate 15000 (0x3A98) since
/// `DEF_ROTATIONAL` is 1.
fn expected_vpd_b1() -> Vec<u8> {
    let mut d = vec![0u8; 64];
    d[..6].copy_from_slice(&[0x00, 0xb1, 0x00, 0x3c, 0x3a, 0x98]);
    d
}

#[test]
fn inquiry_and_vpd_pages_have_scst_values() {
    const TEST: &str = "inquiry_and_vpd_pages_have_scst_values";
    const ALLOC: u16 = 255;
    let server = start(TEST);
    let mut c = login(&server, None);
    for (lun, name) in [(LUN_DISK, "disk0"), (LUN_NULL, "null0")] {
        let what = format!("LUN {lun} ({name})");
        // INQUIRY does not report the pending unit attention (SCST_SKIP_UA).
        let r = good(
            &mut c,
            &inquiry(false, 0, ALLOC),
            lun,
            u32::from(ALLOC),
            &format!("{what}: standard INQUIRY"),
        );
        assert_eq!(
            r.data,
            expected_standard_inquiry(name),
            "{what}: standard INQUIRY"
        );
        // 64 of the 255 bytes asked for: `scst_set_resp_data_len` → residual underflow 191.
        assert_eq!(
            r.residual_underflow,
            Some(u32::from(ALLOC) - 64),
            "{what}: {r:?}"
        );

        let pages: [(u8, Vec<u8>); 6] = [
            (0x00, expected_vpd_00()),
            (0x80, expected_vpd_80(name)),
            (0x83, expected_vpd_83(name)),
            (0x86, expected_vpd_86()),
            (0xb0, expected_vpd_b0()),
            (0xb1, expected_vpd_b1()),
        ];
        for (page, want) in pages {
            let r = good(
                &mut c,
                &inquiry(true, page, ALLOC),
                lun,
                u32::from(ALLOC),
                &format!("{what}: VPD {page:#04x}"),
            );
            assert_eq!(r.data, want, "{what}: VPD page {page:#04x}");
        }
        // The supported-page list is the one the target serves: each listed page answered
        // above, and a page it does not list (B2h, thin provisioning off) is refused with
        // INVALID FIELD IN CDB (`vdisk_exec_inquiry`: `scst_set_invalid_field_in_cdb(cmd, 2,
        // 0)`), as is a page code without EVPD.
        let r = cmd(
            &mut c,
            &inquiry(true, 0xb2, ALLOC),
            lun,
            u32::from(ALLOC),
            &format!("{what}: VPD 0xb2"),
        );
        assert_check_condition(
            &r,
            SENSE_KEY_ILLEGAL_REQUEST,
            ASC_INVALID_FIELD_IN_CDB,
            &format!("{what}: VPD 0xb2"),
        );
        let r = cmd(
            &mut c,
            &inquiry(false, 0x80, ALLOC),
            lun,
            u32::from(ALLOC),
            &format!("{what}: page 0x80 without EVPD"),
        );
        assert_check_condition(
            &r,
            SENSE_KEY_ILLEGAL_REQUEST,
            ASC_INVALID_FIELD_IN_CDB,
            &format!("{what}: page 0x80 without EVPD"),
        );
    }
    let lo = c.logout().unwrap();
    assert_eq!(lo.response, 0, "{lo:?}");

    // The real libiscsi parser on the same pages. iscsi-inq takes the page code as a decimal
    // integer (popt; "0x80" is read as 0). Page 86h is left out: libiscsi 1.19's
    // scsi_inquiry_datain_unmarshall() has no case for it ("failed to unmarshall inquiry
    // datain blob", exit 10 whatever the target sends); it is checked byte for byte above.
    if find_on_path("iscsi-inq").is_none() {
        println!("SKIP: {TEST}: iscsi-inq not found (Debian package libiscsi-bin)");
    } else {
        for (lun, name) in [(LUN_DISK, "disk0"), (LUN_NULL, "null0")] {
            let url = lun_url(&server, lun);
            let out = libiscsi_tool(TEST, "iscsi-inq", &[&url], TOOL_TIMEOUT).unwrap();
            for want in [
                "Peripheral Device Type:DIRECT_ACCESS".to_owned(),
                "Vendor:SCST_FIO".to_owned(),
                format!("Product:{name:<16}"),
                "Revision: 330".to_owned(),
                "Version Descriptor:0960 iSCSI".to_owned(),
            ] {
                assert!(
                    out.lines().any(|l| l == want),
                    "iscsi-inq {url}: no line {want:?}:\n{out}"
                );
            }
            let expect: [(u8, Vec<String>); 5] = [
                (
                    0x00,
                    [
                        "Page:0x00",
                        "Page:0x80",
                        "Page:0x83",
                        "Page:0x86",
                        "Page:0xb0",
                        "Page:0xb1",
                    ]
                    .map(|p| p.to_owned())
                    .to_vec(),
                ),
                (0x80, vec![format!("Unit Serial Number:[{}]", usn_of(name))]),
                (
                    0x83,
                    vec![format!("Designator:[SCST_FIO{}]", t10_dev_id_of(name))],
                ),
                (
                    0xb0,
                    [
                        "wsnz:1",
                        "maximum compare and write length:255",
                        "optimal transfer length granularity:8",
                        "maximum transfer length:16384",
                        "optimal transfer length:1024",
                        "maximum write same length:524288",
                    ]
                    .map(|p| p.to_owned())
                    .to_vec(),
                ),
                (0xb1, vec!["Medium Rotation Rate:15000RPM".to_owned()]),
            ];
            for (page, lines) in expect {
                let page_arg = page.to_string();
                let out = libiscsi_tool(
                    TEST,
                    "iscsi-inq",
                    &["-e", "1", "-c", &page_arg, &url],
                    TOOL_TIMEOUT,
                )
                .unwrap();
                for want in lines {
                    assert!(
                        out.lines().any(|l| l.starts_with(&want)),
                        "iscsi-inq -e 1 -c {page} {url}: no line {want:?}:\n{out}"
                    );
                }
            }
        }
    }
    stop(server);
}

// ---------------------------------------------------------------------------------------------
// 2b. The reset unit attention of a new session

/// r7105 `scst_alloc_add_tgt_dev` (scst_lib.c) queues `scst_sense_reset_UA` on every tgt_dev
/// it creates, i.e. on each LUN when a session logs in; iscsi-scst replaces it only for a
/// reinstated session (`scst_set_initial_UA`). INQUIRY skips it (`SCST_SKIP_UA`); the first
/// other command gets CHECK CONDITION, UNIT ATTENTION 29/00 (POWER ON, RESET, OR BUS DEVICE
/// RESET OCCURRED), fixed sense; the next one runs.
#[test]
fn new_session_reports_reset_unit_attention() {
    const TEST: &str = "new_session_reports_reset_unit_attention";
    let server = start(TEST);
    let mut c = login(&server, None);
    for lun in [LUN_DISK, LUN_NULL] {
        let what = format!("LUN {lun}");
        good(
            &mut c,
            &inquiry(false, 0, 96),
            lun,
            96,
            &format!("{what}: INQUIRY"),
        );
        let r = cmd(&mut c, &[0u8; 6], lun, 0, &what);
        assert_check_condition(
            &r,
            SENSE_KEY_UNIT_ATTENTION,
            ASC_RESET,
            &format!("{what}: first TEST UNIT READY"),
        );
        good(
            &mut c,
            &[0u8; 6],
            lun,
            0,
            &format!("{what}: second TEST UNIT READY"),
        );
    }
    let lo = c.logout().unwrap();
    assert_eq!(lo.response, 0, "{lo:?}");
    stop(server);
}

// ---------------------------------------------------------------------------------------------
// 3. READ CAPACITY

#[test]
fn read_capacity_values() {
    const TEST: &str = "read_capacity_values";
    let server = start(TEST);
    let mut c = login(&server, None);
    for (lun, bytes) in [(LUN_DISK, DISK_BYTES), (LUN_NULL, NULL_BYTES)] {
        let what = format!("LUN {lun}");
        clear_unit_attention(&mut c, lun, &what);
        let last_lba = bytes / u64::from(BLOCK) - 1;
        // READ CAPACITY(16) (`vdisk_exec_read_capacity16`): last LBA, block length, no
        // protection, LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT = ilog2(4096) - ilog2(512)
        // = 3 (no block device: physical block size 4096), LBPME 0 (not thin), rest 0.
        let r = good(
            &mut c,
            &read_capacity16(),
            lun,
            32,
            &format!("{what}: RC16"),
        );
        let mut want = vec![0u8; 32];
        want[0..8].copy_from_slice(&last_lba.to_be_bytes());
        want[8..12].copy_from_slice(&BLOCK.to_be_bytes());
        want[13] = 3;
        assert_eq!(r.data, want, "{what}: READ CAPACITY(16)");
        // LUN 0: 2097151 (1 GiB / 512 - 1); LUN 1: 5368709119.
        assert_eq!(
            last_lba,
            if lun == LUN_DISK {
                2_097_151
            } else {
                5_368_709_119
            }
        );
        // READ CAPACITY(10) (`vdisk_exec_read_capacity`): 0xFFFFFFFF when nblocks >> 32 is
        // not 0 (LUN 1: 5368709120 blocks), else nblocks - 1.
        let r = good(&mut c, &read_capacity10(), lun, 8, &format!("{what}: RC10"));
        let lba10 = u32::try_from(last_lba).unwrap_or(u32::MAX);
        let mut want = lba10.to_be_bytes().to_vec();
        want.extend_from_slice(&BLOCK.to_be_bytes());
        assert_eq!(r.data, want, "{what}: READ CAPACITY(10)");
    }
    let lo = c.logout().unwrap();
    assert_eq!(lo.response, 0, "{lo:?}");

    for (lun, bytes, last_lba) in [
        (LUN_DISK, DISK_BYTES, 2_097_151u64),
        (LUN_NULL, NULL_BYTES, 5_368_709_119),
    ] {
        let url = lun_url(&server, lun);
        let Some(out) = libiscsi_tool(TEST, "iscsi-readcapacity16", &[&url], TOOL_TIMEOUT) else {
            break;
        };
        println!("{TEST}: iscsi-readcapacity16 {url}:\n{out}");
        for want in [
            format!("RETURNED LOGICAL BLOCK ADDRESS:{last_lba}"),
            format!("LOGICAL BLOCK LENGTH IN BYTES:{BLOCK}"),
            format!("Total size:{bytes}"),
        ] {
            assert!(
                out.lines().any(|l| l == want),
                "iscsi-readcapacity16 {url}: no line {want:?}:\n{out}"
            );
        }
    }
    stop(server);
}

// ---------------------------------------------------------------------------------------------
// 4. Reading the data

#[test]
fn read_data_round_trip() {
    const TEST: &str = "read_data_round_trip";
    let server = start_with_pattern(TEST);
    // MaxRecvDataSegmentLength=8192 (ours): the target may send at most 8 KiB per Data-In.
    let mut c = login(&server, Some("8192"));
    assert_eq!(c.recv_limit(), 8192);
    clear_unit_attention(&mut c, LUN_DISK, TEST);

    for (lba, blocks) in REGIONS {
        let want = pattern(lba, blocks);
        let len = (blocks * u64::from(BLOCK)) as u32;
        let lba32 = lba as u32;
        let what = format!("LBA {lba} × {blocks}");
        let r10 = good(&mut c, &read10(lba32, blocks as u16), LUN_DISK, len, &what);
        assert!(r10.data == want, "{what}: READ(10) data differs from disk0");
        assert_eq!(
            r10.residual_underflow, None,
            "{what}: {:?}",
            r10.residual_underflow
        );
        let r12 = good(&mut c, &read12(lba32, blocks as u32), LUN_DISK, len, &what);
        assert!(r12.data == want, "{what}: READ(12) data differs from disk0");
        let r16 = good(&mut c, &read16(lba, blocks as u32), LUN_DISK, len, &what);
        assert!(r16.data == want, "{what}: READ(16) data differs from disk0");
        // READ(6): 21-bit LBA, 8-bit length; 0 means 256 blocks (SBC-3 §5.8).
        for (start, n) in (lba..lba + blocks)
            .step_by(256)
            .map(|s| (s, (lba + blocks - s).min(256)))
        {
            let r6 = good(
                &mut c,
                &read6(start as u32, n as u8),
                LUN_DISK,
                (n * u64::from(BLOCK)) as u32,
                &format!("{what}: READ(6) at {start} × {n}"),
            );
            assert!(
                r6.data == pattern(start, n),
                "{what}: READ(6) at {start} × {n} data differs from disk0"
            );
        }
    }
    // A hole of the sparse file reads as zeros.
    let r = good(&mut c, &read10(2_000_000, 2), LUN_DISK, 1024, "hole");
    assert!(
        r.data.iter().all(|&b| b == 0),
        "hole at LBA 2000000 not zero"
    );

    // 1 MiB in one READ(10): `send_data_rsp` (iscsi-scst/kernel/iscsi.c) cuts it into
    // Data-In PDUs of max_xmit_data_length = our MaxRecvDataSegmentLength, 8192 bytes:
    // 1048576 / 8192 = 128 PDUs, the status (S|F, GOOD) in the last one.
    let r = good(
        &mut c,
        &read10(4096, 2048),
        LUN_DISK,
        1 << 20,
        "1 MiB READ(10)",
    );
    assert!(r.data == pattern(4096, 2048), "1 MiB READ(10) data differs");
    assert_eq!(r.data_in_pdus, 128, "{} Data-In PDUs", r.data_in_pdus);
    assert!(r.status_in_data_in, "status not in the last Data-In: {r:?}");
    assert_eq!(r.status, STATUS_GOOD);
    // The same with READ(16) through LUN 1's NULLIO (no data checked: NULLIO reads nothing).
    clear_unit_attention(&mut c, LUN_NULL, TEST);
    let r = good(
        &mut c,
        &read16(5_368_709_119 - 2047, 2048),
        LUN_NULL,
        1 << 20,
        "NULLIO",
    );
    assert_eq!(r.data.len(), 1 << 20);
    assert_eq!(
        r.data_in_pdus, 128,
        "NULLIO: {} Data-In PDUs",
        r.data_in_pdus
    );
    assert!(
        r.status_in_data_in,
        "NULLIO: status not in the last Data-In"
    );

    let lo = c.logout().unwrap();
    assert_eq!(lo.response, 0, "{lo:?}");
    stop(server);
}

// ---------------------------------------------------------------------------------------------
// 5. Errors, with a second session reading meanwhile

/// The reader's work: `reads` READ(10)s cycling over the small pattern regions of LUN 0, each
/// GOOD with the right data. Returns how many it did.
fn reader(server_addr: std::net::SocketAddr, reads: usize) -> Result<usize, String> {
    let mut c = Connection::connect(server_addr, STEP).map_err(|e| format!("connect: {e}"))?;
    let out = c
        .login(&LoginParams::normal(INITIATOR, DEFAULT_TARGET))
        .map_err(|e| format!("login: {e}"))?;
    if !out.succeeded() {
        return Err(format!("login: {out:?}"));
    }
    // Its own reset unit attention first (a new I_T nexus, see clear_unit_attention).
    let r = c
        .scsi_command(&[0u8; 6], LUN_DISK, None, 0)
        .map_err(|e| format!("TEST UNIT READY: {e}"))?;
    if !r.is_good()
        && (r.sense_key() != Some(SENSE_KEY_UNIT_ATTENTION) || r.asc_ascq() != Some(ASC_RESET))
    {
        return Err(format!("first TEST UNIT READY: {r:?}"));
    }
    let small: Vec<(u64, u64)> = REGIONS.iter().copied().filter(|r| r.1 <= 8).collect();
    for i in 0..reads {
        let (lba, blocks) = small[i % small.len()];
        let len = (blocks * u64::from(BLOCK)) as u32;
        let r = c
            .scsi_command(&read10(lba as u32, blocks as u16), LUN_DISK, None, len)
            .map_err(|e| format!("read {i} at LBA {lba}: {e}"))?;
        if !r.is_good() {
            return Err(format!(
                "read {i} at LBA {lba}: status {:#04x} sense {:02x?}",
                r.status, r.sense
            ));
        }
        if r.data != pattern(lba, blocks) {
            return Err(format!("read {i} at LBA {lba}: wrong data"));
        }
    }
    let lo = c.logout().map_err(|e| format!("logout: {e}"))?;
    if lo.response != 0 {
        return Err(format!("logout: {lo:?}"));
    }
    Ok(reads)
}

#[test]
fn errors_get_scst_sense() {
    const TEST: &str = "errors_get_scst_sense";
    const READS: usize = 200;
    /// Error rounds on the first session: at least this many, and more while the reader
    /// still runs, up to [`MAX_ROUNDS`], so that the two sessions overlap.
    const MIN_ROUNDS: usize = 20;
    const MAX_ROUNDS: usize = 2000;
    let server = start_with_pattern(TEST);
    let addr = server.addr;
    let mut c = login(&server, None);
    clear_unit_attention(&mut c, LUN_DISK, TEST);

    let done = thread::scope(|s| {
        let other = s.spawn(move || reader(addr, READS));
        let mut round = 0;
        while round < MIN_ROUNDS || (!other.is_finished() && round < MAX_ROUNDS) {
            round += 1;
            // READ(10) of the block after the last one, and one straddling the end
            // (`vdisk_parse_offset`: loff + data_len > file_size →
            // scst_sense_block_out_range_error): ILLEGAL REQUEST 21/00.
            for (lba, blocks) in [(2_097_152u32, 1u16), (2_097_151, 2), (u32::MAX, 1)] {
                let r = cmd(
                    &mut c,
                    &read10(lba, blocks),
                    LUN_DISK,
                    u32::from(blocks) * BLOCK,
                    &format!("round {round}: READ(10) at {lba} × {blocks}"),
                );
                assert_check_condition(
                    &r,
                    SENSE_KEY_ILLEGAL_REQUEST,
                    ASC_LBA_OUT_OF_RANGE,
                    &format!("round {round}: READ(10) at {lba} × {blocks}"),
                );
            }
            // Opcode 0xFF is in no row of scst_scsi_op_table (scst_core scst_lib table):
            // scst_get_cdb_info() fails, scst_pre_parse → "Refusing unknown opcode" →
            // scst_sense_invalid_opcode: ILLEGAL REQUEST 20/00 (§9.8).
            let r = cmd(
                &mut c,
                &[0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                LUN_DISK,
                0,
                "opcode 0xff",
            );
            assert_check_condition(
                &r,
                SENSE_KEY_ILLEGAL_REQUEST,
                ASC_INVALID_OPCODE,
                &format!("round {round}: opcode 0xff"),
            );
            // LUN 5 is not mapped: scst_translate_lun fails → scst_sense_lun_not_supported,
            // ILLEGAL REQUEST 25/00 (scst_targ.c `__scst_init_cmd`).
            let r = cmd(&mut c, &read10(0, 1), 5, BLOCK, "READ(10) on LUN 5");
            assert_check_condition(
                &r,
                SENSE_KEY_ILLEGAL_REQUEST,
                ASC_LUN_NOT_SUPPORTED,
                &format!("round {round}: READ(10) on LUN 5"),
            );
            let r = cmd(&mut c, &[0u8; 6], 5, 0, "TEST UNIT READY on LUN 5");
            assert_check_condition(
                &r,
                SENSE_KEY_ILLEGAL_REQUEST,
                ASC_LUN_NOT_SUPPORTED,
                &format!("round {round}: TEST UNIT READY on LUN 5"),
            );
            // The session still reads correctly between the errors.
            let r = good(&mut c, &read10(1000, 3), LUN_DISK, 3 * BLOCK, "READ(10)");
            assert!(r.data == pattern(1000, 3), "round {round}: wrong data");
        }
        println!("{TEST}: {round} error rounds while the second session read");
        other.join().expect("reader thread panicked")
    });
    assert_eq!(done, Ok(READS), "the second session's reads");

    let lo = c.logout().unwrap();
    assert_eq!(lo.response, 0, "{lo:?}");
    stop(server);
}

// ---------------------------------------------------------------------------------------------
// 6. iscsi-perf

#[test]
fn iscsi_perf_random_read_qd32_10s() {
    const TEST: &str = "iscsi_perf_random_read_qd32_10s";
    let server = start(TEST);
    let url = lun_url(&server, LUN_NULL);
    if let Some(out) = libiscsi_tool(
        TEST,
        "iscsi-perf",
        &["-t", "10", "-b", "1", "-m", "32", "-r", &url],
        PERF_TIMEOUT,
    ) {
        // Progress lines are separated by '\r'. iscsi-perf prints "Read10/16 failed …" or
        // "iscsi_service failed with …" (the latter still exits 0) on errors.
        let lines: Vec<&str> = out
            .split(['\r', '\n'])
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let bad: Vec<&&str> = lines
            .iter()
            .filter(|l| {
                let l = l.to_ascii_lowercase();
                l.contains("fail") || l.contains("error")
            })
            .collect();
        assert!(
            bad.is_empty(),
            "iscsi-perf {url} reported errors {bad:?}:\n{out}"
        );
        assert!(lines.contains(&"finished."), "iscsi-perf {url}:\n{out}");
        let last = lines
            .iter()
            .rev()
            .find(|l| l.contains("iops average"))
            .unwrap_or_else(|| panic!("iscsi-perf {url}: no iops line:\n{out}"));
        println!("{TEST}: iscsi-perf -t 10 -b 1 -m 32 -r {url}: {last}");
        let iops: u64 = last
            .split_whitespace()
            .skip_while(|w| *w != "average")
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("iscsi-perf {url}: cannot read {last:?}"));
        assert!(iops > 0, "iscsi-perf {url}: {last}");
    }
    stop(server);
}

/// A PERSISTENT RESERVE OUT with a 24-byte parameter list.
fn pr_out(
    c: &mut Connection,
    action: u8,
    type_: u8,
    key: u64,
    sa_key: u64,
    flags: u8,
) -> ScsiResult {
    let cdb = [0x5F, action, type_, 0, 0, 0, 0, 0, 24, 0];
    let mut p = [0u8; 24];
    p[0..8].copy_from_slice(&key.to_be_bytes());
    p[8..16].copy_from_slice(&sa_key.to_be_bytes());
    p[20] = flags;
    c.scsi_command(&cdb, LUN_DISK, Some(&p), 0)
        .unwrap_or_else(|e| panic!("PR OUT {action:#x}: {e}"))
}

/// Persistent reservations between two iSCSI initiators (scst_pres.c): the TransportID
/// iscsi-scst builds (format 1, "<initiator>,i,0x<ISID>"), a WRITE EXCLUSIVE reservation
/// refusing the other initiator's WRITE with RESERVATION CONFLICT, and APTPL saving the state
/// under `<state dir>/pr`.
#[test]
fn persistent_reservations_between_two_initiators() {
    const OTHER: &str = "iqn.2026-11.org.scst-rs.test:other";
    let server = start("pr");
    let mut a = login(&server, None);
    let mut b = Connection::connect(server.addr, STEP).unwrap();
    let out = b
        .login(&LoginParams::normal(OTHER, DEFAULT_TARGET))
        .unwrap();
    assert!(out.succeeded(), "{out:?}");
    clear_unit_attention(&mut a, LUN_DISK, "pr a");
    clear_unit_attention(&mut b, LUN_DISK, "pr b");

    // A registers with APTPL; B sees the key and A's TransportID in READ FULL STATUS.
    let r = pr_out(&mut a, 0x00, 0, 0, 0xa1, 0x01);
    assert_eq!(r.status, STATUS_GOOD, "REGISTER: {r:?}");
    let r = good(
        &mut b,
        &[0x5E, 0x03, 0, 0, 0, 0, 0, 1, 0, 0],
        LUN_DISK,
        256,
        "READ FULL STATUS",
    );
    assert_eq!(r.data[8..16], 0xa1u64.to_be_bytes());
    let tid_len = u32::from_be_bytes([r.data[28], r.data[29], r.data[30], r.data[31]]) as usize;
    let tid = &r.data[32..32 + tid_len];
    assert_eq!(tid[0], 0x45, "format 1, iSCSI: {tid:02x?}");
    let mut sid = [0u8; 8];
    sid[..6].copy_from_slice(&a.isid());
    let name = format!("{INITIATOR},i,0x{:x}", u64::from_ne_bytes(sid));
    assert_eq!(&tid[4..4 + name.len()], name.as_bytes());
    assert!(server.state_dir.join("pr/disk0").exists());

    // WRITE EXCLUSIVE by A: B may read, not write.
    let r = pr_out(&mut a, 0x01, 0x01, 0xa1, 0, 0);
    assert_eq!(r.status, STATUS_GOOD, "RESERVE: {r:?}");
    let data = vec![0x5a; BLOCK as usize];
    let r = b.write10(LUN_DISK, 10, &data, BLOCK).unwrap();
    assert_eq!(r.status, 0x18, "WRITE from B: {r:?}");
    good(&mut b, &read10(10, 1), LUN_DISK, BLOCK, "READ from B");
    let r = a.write10(LUN_DISK, 10, &data, BLOCK).unwrap();
    assert!(r.is_good(), "WRITE from A: {r:?}");

    // CLEAR: no registrations, the saved state goes.
    let r = pr_out(&mut a, 0x03, 0, 0xa1, 0, 0);
    assert_eq!(r.status, STATUS_GOOD, "CLEAR: {r:?}");
    assert!(!server.state_dir.join("pr/disk0").exists());
    let r = b.write10(LUN_DISK, 10, &data, BLOCK).unwrap();
    assert!(r.is_good(), "WRITE from B after CLEAR: {r:?}");
    drop(a);
    drop(b);
    stop(server);
}
