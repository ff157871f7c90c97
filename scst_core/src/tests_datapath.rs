// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2026 The scst-rs authors
//! Tests of the command datapath (issue 6): one SCSI command from a test target driver through
//! the `SCST_CMD_STATE_*` state machine to a test device handler and back.

use crate::scst::*;
use crate::scst_const::*;
use crate::scst_lib::{
    scst_acg_add_lun, scst_cmd_with_buf_mut, scst_get_cdb_info, scst_get_resid,
    scst_sbc_generic_parse,
};
use crate::scst_main::{
    scst_mutex, scst_register_target, scst_register_target_template,
    scst_register_virtual_dev_driver, scst_register_virtual_device,
    scst_unregister_target_template, scst_unregister_virtual_dev_driver,
    scst_unregister_virtual_device,
};
use crate::scst_targ::{
    scst_cmd_done, scst_cmd_init_done, scst_cmd_init_stage1_done, scst_register_session,
    scst_restart_cmd, scst_rx_cmd, scst_rx_mgmt_fn, scst_rx_mgmt_fn_lun, scst_rx_mgmt_fn_tag,
    scst_tgt_cmd_done, scst_unregister_session,
};
use crate::testutil::{thread_names, wait_until, Loaded};
use kemu::atomic::{atomic_read, atomic_set};
use kemu::scatterlist::sg_copy_to_buffer;
use kemu::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

/// What the test target driver saw of one response.
#[derive(Debug, Clone, Default)]
struct Resp {
    tag: u64,
    status: u8,
    sense: Vec<u8>,
    data: Vec<u8>,
    resp_data_len: i32,
    thread: String,
    /// `scst_cmd_aborted_on_xmit()`: a real driver sends nothing for it.
    aborted: bool,
}

/// A target driver that records responses and finishes commands at once. With
/// `preprocessing` it restarts commands from `preprocessing_done()`, as iSCSI does.
#[derive(Default)]
struct TgtOps {
    resps: Mutex<Vec<Resp>>,
    preprocessed: AtomicUsize,
    /// Finished task management functions: function, status, and how many responses had
    /// been sent by then.
    tm_done: Mutex<Vec<(TmFn, MgmtStatus, usize)>>,
    tm_affected_done: AtomicUsize,
}

impl ScstTgtTemplateOps for TgtOps {
    fn release(&self, _tgt: &Arc<ScstTgt>) -> i32 {
        0
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
            resp_data_len: scst_cmd_get_resp_data_len(cmd),
            thread: std::thread::current().name().unwrap_or("").to_owned(),
            aborted: scst_cmd_aborted_on_xmit(cmd),
        });
        scst_tgt_cmd_done(cmd, SCST_CONTEXT_DIRECT);
        SCST_TGT_RES_SUCCESS
    }

    fn preprocessing_done(&self, cmd: &Arc<ScstCmd>) {
        self.preprocessed.fetch_add(1, SeqCst);
        scst_restart_cmd(cmd, SCST_PREPROCESS_STATUS_SUCCESS, SCST_CONTEXT_THREAD);
    }

    fn task_mgmt_fn_done(&self, mcmd: &Arc<ScstMgmtCmd>) {
        let n = self.resps.lock().len();
        self.tm_done.lock().push((
            scst_mgmt_cmd_get_fn(mcmd),
            scst_mgmt_cmd_get_status(mcmd),
            n,
        ));
    }

    fn task_mgmt_affected_cmds_done(&self, _mcmd: &Arc<ScstMgmtCmd>) {
        self.tm_affected_done.fetch_add(1, SeqCst);
    }
}

/// A synchronous disk handler answering READ(10)/(16) with a pattern derived from the LBA
/// (byte i of block b is `b ^ i`), TEST UNIT READY with GOOD; `hold` makes exec() wait.
#[derive(Default)]
struct DevOps {
    exec_threads: Mutex<Vec<String>>,
    attached_tgt: AtomicUsize,
    detached_tgt: AtomicUsize,
    hold: AtomicBool,
    in_exec: AtomicUsize,
    /// Whether the handler has `get_supported_opcodes()` (C: the pointer is not NULL).
    rsoc: AtomicBool,
    /// Makes exec() of TEST UNIT READY wait.
    hold_tur: AtomicBool,
}

/// The capacity of a [`DevOps`] disk in blocks: reads past it get LOGICAL BLOCK ADDRESS
/// OUT OF RANGE.
const DEV_OPS_BLOCKS: i64 = 0x4000_0000;

/// The commands [`DevOps`] answers, for REPORT SUPPORTED OPERATION CODES.
fn dev_ops_supported_opcodes(
    _cmd: &Arc<ScstCmd>,
) -> Result<&'static [&'static ScstOpcodeDescriptor], i32> {
    use crate::scst_lib::scst_op_descr::*;
    static L: [&ScstOpcodeDescriptor; 3] = [
        &scst_op_descr_tur,
        &scst_op_descr_report_luns,
        &scst_op_descr_report_supp_opcodes,
    ];
    Ok(&L)
}

impl ScstDevTypeOps for DevOps {
    fn attach(&self, dev: &Arc<ScstDevice>) -> i32 {
        atomic_set(&dev.block_size, 512);
        atomic_set(&dev.block_shift, 9);
        0
    }
    fn attach_tgt(&self, _tgt_dev: &Arc<ScstTgtDev>) -> i32 {
        self.attached_tgt.fetch_add(1, SeqCst);
        0
    }
    fn detach_tgt(&self, _tgt_dev: &Arc<ScstTgtDev>) {
        self.detached_tgt.fetch_add(1, SeqCst);
    }
    fn parse(&self, cmd: &Arc<ScstCmd>) -> CmdState {
        scst_sbc_generic_parse(cmd);
        SCST_CMD_STATE_DEFAULT
    }
    fn get_supported_opcodes(&self) -> Option<ScstGetSupportedOpcodesFn> {
        self.rsoc
            .load(SeqCst)
            .then_some(dev_ops_supported_opcodes as ScstGetSupportedOpcodesFn)
    }
    fn exec(&self, cmd: &Arc<ScstCmd>) -> Option<i32> {
        self.in_exec.fetch_add(1, SeqCst);
        self.exec_threads
            .lock()
            .push(std::thread::current().name().unwrap_or("").to_owned());
        let op = scst_cmd_get_cdb(cmd)[0];
        while self.hold.load(SeqCst) || (op == TEST_UNIT_READY && self.hold_tur.load(SeqCst)) {
            std::thread::sleep(Duration::from_millis(2));
        }
        if (op == READ_10 || op == READ_16) && scst_cmd_get_lba(cmd) >= DEV_OPS_BLOCKS {
            let (k, a, q) = scst_sense_block_out_range_error;
            crate::scst_lib::scst_set_cmd_error(cmd, k, a, q);
        } else if op == READ_10 || op == READ_16 {
            let lba = scst_cmd_get_lba(cmd);
            scst_cmd_with_buf_mut(cmd, |buf| {
                for (i, b) in buf.iter_mut().enumerate() {
                    let blk = lba + i64::try_from(i / 512).unwrap_or(0);
                    *b = (blk as u8) ^ (i % 512) as u8;
                }
            });
        }
        scst_cmd_set_completed(cmd);
        scst_cmd_done(cmd, SCST_CMD_STATE_DEFAULT, SCST_CONTEXT_SAME);
        Some(SCST_EXEC_COMPLETED)
    }
}

/// A loaded SCST with one target, a test handler and two disks as LUN 0 and 1 of the
/// default group.
struct Setup {
    _l: Loaded,
    vtt: Arc<ScstTgtTemplate>,
    tgt: Arc<ScstTgt>,
    tops: Arc<TgtOps>,
    dops: Arc<DevOps>,
    dt: Arc<ScstDevType>,
    ids: Vec<i32>,
}

impl Setup {
    fn new(name: &'static str) -> Self {
        let l = Loaded::new();
        let tops = Arc::new(TgtOps::default());
        let vtt = Arc::new(ScstTgtTemplate::new(name, tops.clone()));
        scst_register_target_template(&vtt).unwrap();
        let tgt = scst_register_target(&vtt, Some(name)).unwrap();
        let dops = Arc::new(DevOps::default());
        let mut dt = ScstDevType::new("dp_disk", TYPE_DISK, dops.clone());
        dt.exec_sync = true;
        dt.threads_num = 1;
        dt.threads_pool_type = SCST_THREADS_POOL_PER_INITIATOR;
        let dt = Arc::new(dt);
        scst_register_virtual_dev_driver(&dt).unwrap();
        let mut ids = Vec::new();
        for (lun, n) in [(0u64, "dpdisk0"), (1, "dpdisk1")] {
            let id = scst_register_virtual_device(&dt, n).unwrap();
            ids.push(id);
            let mut g = scst_mutex.lock();
            let dev = g
                .scst_dev_list
                .iter()
                .find(|(_, d)| d.virt_id == id)
                .map(|(_, d)| d.clone())
                .unwrap();
            let acg = g.scst_default_acg.clone().unwrap();
            scst_acg_add_lun(&mut g, &acg, &dev, lun, false).unwrap();
        }
        Self {
            _l: l,
            vtt,
            tgt,
            tops,
            dops,
            dt,
            ids,
        }
    }

    /// The device of LUN `lun` (0 or 1).
    fn dev(&self, lun: usize) -> Arc<ScstDevice> {
        let g = scst_mutex.lock();
        g.scst_dev_list
            .iter()
            .find(|(_, d)| d.virt_id == self.ids[lun])
            .map(|(_, d)| d.clone())
            .unwrap()
    }

    /// A new session whose initial unit attentions are already consumed, as an initiator
    /// does after login: one TEST UNIT READY per LUN gets POWER ON, RESET OCCURRED.
    fn session(&self, ini: &str) -> Arc<ScstSession> {
        let sess = scst_register_session(&self.tgt, false, ini, None, None).unwrap();
        self.consume_initial_ua(&sess);
        sess
    }

    /// Consumes the POWER ON / RESET unit attention of LUN 0 and 1 of `sess` with TEST UNIT
    /// READY (tags from `UA_TAG` up), and forgets those responses.
    fn consume_initial_ua(&self, sess: &Arc<ScstSession>) {
        for lun in 0..2u64 {
            let r = self.cmd(
                sess,
                lun,
                &[TEST_UNIT_READY, 0, 0, 0, 0, 0],
                UA_TAG + lun,
                SCST_CONTEXT_THREAD,
            );
            assert_eq!(r.status, SAM_STAT_CHECK_CONDITION);
            assert_eq!(
                (r.sense[2], r.sense[12], r.sense[13]),
                (UNIT_ATTENTION, 0x29, 0)
            );
            self.tops.resps.lock().retain(|r| r.tag != UA_TAG + lun);
        }
    }

    /// Waits for the response of the command with `tag` and returns it.
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

    /// Sends one command and waits for its response.
    fn cmd(
        &self,
        sess: &Arc<ScstSession>,
        lun: u64,
        cdb: &[u8],
        tag: u64,
        ctx: ScstExecContext,
    ) -> Resp {
        let cmd = send(sess, lun, cdb, tag, ctx);
        drop(cmd);
        self.wait_resp(tag)
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        // After a failed assertion sessions may still be registered, and unregistering the
        // target would wait for them forever: leave the objects to exit_scst().
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

/// Drops the queued unit attentions of every nexus of `sess` (for tests of other things
/// whose target driver does not go through [`Setup`]).
fn clear_ua(sess: &Arc<ScstSession>) {
    for l in sess.sess_tgt_dev_list.read().iter() {
        for (_, t) in l.iter() {
            crate::scst_lib::scst_free_all_UA(t, &mut t.tgt_dev_lock.lock_bh());
        }
    }
}

/// The tags of the commands that consume the initial unit attentions.
const UA_TAG: u64 = 1 << 60;

fn lun_field(lun: u64) -> [u8; 8] {
    crate::scst_lib::scst_pack_lun(lun, SCST_LUN_ADDR_METHOD_PERIPHERAL)
}

fn send(
    sess: &Arc<ScstSession>,
    lun: u64,
    cdb: &[u8],
    tag: u64,
    ctx: ScstExecContext,
) -> Arc<ScstCmd> {
    let cmd = scst_rx_cmd(sess, &lun_field(lun), cdb, false).unwrap();
    scst_cmd_set_tag(&cmd, tag);
    scst_cmd_set_queue_type(&cmd, SCST_CMD_QUEUE_SIMPLE);
    let dir = match cdb[0] {
        READ_10 | READ_16 | REPORT_LUNS | REQUEST_SENSE | INQUIRY | MAINTENANCE_IN => {
            SCST_DATA_READ
        }
        _ => SCST_DATA_NONE,
    };
    let b = |i: usize| cdb.get(i).copied().unwrap_or(0);
    let len = match cdb[0] {
        READ_10 => i32::from(u16::from_be_bytes([b(7), b(8)])) * 512,
        REPORT_LUNS | MAINTENANCE_IN => i32::from_be_bytes([b(6), b(7), b(8), b(9)]),
        REQUEST_SENSE => i32::from(b(4)),
        INQUIRY => i32::from(u16::from_be_bytes([b(3), b(4)])),
        _ => 0,
    };
    scst_cmd_set_expected(&cmd, dir, len);
    scst_cmd_init_done(&cmd, ctx);
    cmd
}

fn read10(lba: u32, blocks: u16) -> [u8; 10] {
    let l = lba.to_be_bytes();
    let b = blocks.to_be_bytes();
    [READ_10, 0, l[0], l[1], l[2], l[3], 0, b[0], b[1], 0]
}

fn pattern(lba: u32, blocks: usize) -> Vec<u8> {
    (0..blocks * 512)
        .map(|i| ((lba as usize + i / 512) as u8) ^ (i % 512) as u8)
        .collect()
}

/// Serialises the tests that install the global trace hook.
static TRACE_TEST: Mutex<()> = Mutex::new(());

/// The golden state sequence of one READ(10) through the state machine, from the trace hook.
/// Each state is listed with the C function that assigns it.
#[test]
fn golden_read10_state_sequence() {
    let _t = TRACE_TEST.lock();
    let s = Setup::new("tt_golden");
    let sess = s.session("iqn.golden");
    let states: Arc<Mutex<Vec<CmdState>>> = Arc::new(Mutex::new(Vec::new()));
    let st2 = states.clone();
    scst_set_cmd_state_trace(Some(Arc::new(move |c: &ScstCmd, st: CmdState| {
        // Only this test's session (the hook must not lock the command's data).
        if c.sess.initiator_name == "iqn.golden" {
            st2.lock().push(st)
        }
    })));
    let r = s.cmd(&sess, 0, &read10(0x10, 8), 7, SCST_CONTEXT_THREAD);
    assert!(wait_until(
        || states.lock().last() == Some(&SCST_CMD_STATE_FINISHED)
    ));
    scst_set_cmd_state_trace(None);

    let expected = [
        SCST_CMD_STATE_INIT_WAIT,           // scst_pre_init_cmd() (scst_alloc_cmd())
        SCST_CMD_STATE_INIT,                // scst_cmd_init_done()
        SCST_CMD_STATE_PARSE,               // __scst_init_cmd()
        SCST_CMD_STATE_PREPARE_SPACE,       // scst_parse_cmd(): parse() said DEFAULT
        SCST_CMD_STATE_TGT_PRE_EXEC,        // scst_prepare_space(): a READ, no preprocessing
        SCST_CMD_STATE_EXEC_CHECK_SN,       // scst_tgt_pre_exec()
        SCST_CMD_STATE_EXEC_CHECK_BLOCKING, // scst_exec_check_blocking()
        SCST_CMD_STATE_LOCAL_EXEC,          // scst_exec_check_blocking()
        SCST_CMD_STATE_REAL_EXEC,           // scst_exec_check_blocking(): not a local command
        SCST_CMD_STATE_EXEC_WAIT,           // scst_do_real_exec()
        SCST_CMD_STATE_PRE_DEV_DONE,        // scst_cmd_done_local(), from the handler's exec()
        SCST_CMD_STATE_DEV_DONE,            // scst_pre_dev_done(): not a MODE/LOG SELECT
        SCST_CMD_STATE_PRE_XMIT_RESP1,      // scst_dev_done()
        SCST_CMD_STATE_PRE_XMIT_RESP2,      // scst_pre_xmit_response1()
        SCST_CMD_STATE_XMIT_RESP,           // scst_pre_xmit_response2()
        SCST_CMD_STATE_XMIT_WAIT,           // scst_xmit_response()
        SCST_CMD_STATE_FINISHED,            // scst_tgt_cmd_done()
    ];
    assert_eq!(*states.lock(), expected);
    assert_eq!(r.status, SAM_STAT_GOOD);
    assert!(r.sense.is_empty());
    assert_eq!(r.resp_data_len, 8 * 512);
    assert_eq!(r.data, pattern(0x10, 8));
    // THREAD context: everything ran on the LUN's per-initiator thread.
    assert_eq!(r.thread, "dpdisk00_0");
    assert_eq!(*s.dops.exec_threads.lock(), vec!["dpdisk00_0".to_owned()]);
    assert!(wait_until(|| atomic_read(&sess.sess_cmd_count) == 0));
    scst_unregister_session(&sess, true, None);
}

/// The iSCSI-style path: scst_cmd_init_stage1_done() → preprocessing_done() →
/// scst_restart_cmd(), with the states C assigns on it.
#[test]
fn golden_preprocessing_path() {
    let _t = TRACE_TEST.lock();
    let s = Setup::new("tt_golden_pp");
    let sess = s.session("iqn.golden.pp");
    let states: Arc<Mutex<Vec<CmdState>>> = Arc::new(Mutex::new(Vec::new()));
    let st2 = states.clone();
    scst_set_cmd_state_trace(Some(Arc::new(move |c: &ScstCmd, st: CmdState| {
        if c.sess.initiator_name == "iqn.golden.pp" {
            st2.lock().push(st)
        }
    })));
    let cmd = scst_rx_cmd(&sess, &lun_field(1), &read10(3, 1), false).unwrap();
    scst_cmd_set_tag(&cmd, 9);
    scst_cmd_set_expected(&cmd, SCST_DATA_READ, 512);
    scst_cmd_init_stage1_done(&cmd, SCST_CONTEXT_DIRECT, true);
    drop(cmd);
    assert!(wait_until(
        || states.lock().last() == Some(&SCST_CMD_STATE_FINISHED)
    ));
    scst_set_cmd_state_trace(None);
    let expected = [
        SCST_CMD_STATE_INIT_WAIT,                 // scst_pre_init_cmd()
        SCST_CMD_STATE_INIT,                      // scst_cmd_init_done()
        SCST_CMD_STATE_PARSE,                     // __scst_init_cmd()
        SCST_CMD_STATE_PREPARE_SPACE,             // scst_parse_cmd()
        SCST_CMD_STATE_PREPROCESSING_DONE,        // scst_prepare_space(): preprocessing_only
        SCST_CMD_STATE_PREPROCESSING_DONE_CALLED, // scst_preprocessing_done()
        SCST_CMD_STATE_TGT_PRE_EXEC,              // scst_restart_cmd(): not a write
        SCST_CMD_STATE_EXEC_CHECK_SN,             // scst_tgt_pre_exec()
        SCST_CMD_STATE_EXEC_CHECK_BLOCKING,       // scst_exec_check_blocking()
        SCST_CMD_STATE_LOCAL_EXEC,                // scst_exec_check_blocking()
        SCST_CMD_STATE_REAL_EXEC,                 // scst_exec_check_blocking()
        SCST_CMD_STATE_EXEC_WAIT,                 // scst_do_real_exec()
        SCST_CMD_STATE_PRE_DEV_DONE,              // scst_cmd_done_local()
        SCST_CMD_STATE_DEV_DONE,                  // scst_pre_dev_done()
        SCST_CMD_STATE_PRE_XMIT_RESP1,            // scst_dev_done()
        SCST_CMD_STATE_PRE_XMIT_RESP2,            // scst_pre_xmit_response1()
        SCST_CMD_STATE_XMIT_RESP,                 // scst_pre_xmit_response2()
        SCST_CMD_STATE_XMIT_WAIT,                 // scst_xmit_response()
        SCST_CMD_STATE_FINISHED,                  // scst_tgt_cmd_done()
    ];
    assert_eq!(*states.lock(), expected);
    assert_eq!(s.tops.preprocessed.load(SeqCst), 1);
    let r = s.tops.resps.lock()[0].clone();
    assert_eq!(r.status, SAM_STAT_GOOD);
    assert_eq!(r.data, pattern(3, 1));
    assert_eq!(r.thread, "dpdisk10_0");
    scst_unregister_session(&sess, true, None);
}

#[test]
fn report_luns_is_built_by_the_core() {
    let s = Setup::new("tt_rluns");
    let sess = s.session("iqn.rluns");
    let cdb = [REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
    let r = s.cmd(&sess, 0, &cdb, 1, SCST_CONTEXT_DIRECT);
    assert_eq!(r.status, SAM_STAT_GOOD);
    assert_eq!(r.resp_data_len, 24);
    let mut want = vec![0u8; 24];
    want[3] = 16;
    want[17] = 1; // LUN 1, peripheral addressing
    assert_eq!(r.data, want);
    // The handler never saw it.
    assert!(s.dops.exec_threads.lock().is_empty());
    // SELECT REPORT 1 is refused with INVALID FIELD IN CDB (byte 2).
    let cdb = [REPORT_LUNS, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0];
    let r = s.cmd(&sess, 0, &cdb, 2, SCST_CONTEXT_DIRECT);
    assert_eq!(r.status, SAM_STAT_CHECK_CONDITION);
    assert_eq!(
        (r.sense[2], r.sense[12], r.sense[13]),
        (ILLEGAL_REQUEST, 0x24, 0)
    );
    assert_eq!(&r.sense[15..18], &[0xC0, 0, 2]);
    scst_unregister_session(&sess, true, None);
}

#[test]
fn unknown_lun_gets_lun_not_supported() {
    let s = Setup::new("tt_nolun");
    let sess = s.session("iqn.nolun");
    let r = s.cmd(&sess, 5, &read10(0, 1), 3, SCST_CONTEXT_THREAD);
    assert_eq!(r.status, SAM_STAT_CHECK_CONDITION);
    assert_eq!(r.sense.len(), 18);
    assert_eq!(r.sense[0], 0x70);
    assert_eq!(
        (r.sense[2], r.sense[12], r.sense[13]),
        (ILLEGAL_REQUEST, 0x25, 0)
    );
    assert!(r.data.is_empty());
    // No nexus: the global pool's thread answered.
    assert!(r.thread.starts_with("scstd"), "{}", r.thread);
    // An invalid LUN field (multi-level) is refused the same way at scst_rx_cmd().
    let cmd = scst_rx_cmd(&sess, &[0, 0, 0, 1, 0, 0, 0, 0], &read10(0, 1), false).unwrap();
    scst_cmd_set_tag(&cmd, 4);
    scst_cmd_init_done(&cmd, SCST_CONTEXT_DIRECT);
    let r = s
        .tops
        .resps
        .lock()
        .iter()
        .find(|r| r.tag == 4)
        .cloned()
        .unwrap();
    assert_eq!((r.sense[2], r.sense[12]), (ILLEGAL_REQUEST, 0x25));
    assert!(s.dops.exec_threads.lock().is_empty());
    assert!(wait_until(|| atomic_read(&sess.sess_cmd_count) == 0));
    scst_unregister_session(&sess, true, None);
}

#[test]
fn unknown_opcode_gets_invalid_opcode() {
    let s = Setup::new("tt_badop");
    let sess = s.session("iqn.badop");
    for (tag, cdb) in [
        (1u64, vec![0xC5u8, 0, 0, 0, 0, 0]), // vendor group: no row
        (2, vec![0x7F, 0, 0, 0, 0, 0, 0, 0x18, 0x0F, 0xFF]), // 0x7F with an unknown action
        (3, vec![0x02, 0, 0, 0, 0, 0]),      // no row for disks
    ] {
        let r = s.cmd(&sess, 0, &cdb, tag, SCST_CONTEXT_THREAD);
        assert_eq!(r.status, SAM_STAT_CHECK_CONDITION, "{cdb:02x?}");
        assert_eq!(
            (r.sense[2], r.sense[12], r.sense[13]),
            (ILLEGAL_REQUEST, 0x20, 0)
        );
    }
    // A too short CDB of a known opcode does not panic: it decodes with zeros.
    let r = s.cmd(&sess, 0, &[READ_10], 4, SCST_CONTEXT_THREAD);
    assert_eq!(r.status, SAM_STAT_GOOD);
    // A RDPROTECT field on a device without DIF is INVALID FIELD IN CDB.
    let mut cdb = read10(0, 1);
    cdb[1] = 0x20;
    let r = s.cmd(&sess, 0, &cdb, 5, SCST_CONTEXT_THREAD);
    assert_eq!((r.sense[2], r.sense[12]), (ILLEGAL_REQUEST, 0x24));
    // An empty CDB is refused at scst_rx_cmd().
    assert!(scst_rx_cmd(&sess, &lun_field(0), &[], false).is_none());
    assert!(wait_until(|| atomic_read(&sess.sess_cmd_count) == 0));
    scst_unregister_session(&sess, true, None);
}

#[test]
fn get_cdb_info_decodes_reads() {
    let s = Setup::new("tt_cdbinfo");
    let sess = s.session("iqn.cdbinfo");
    let dev = crate::scst_targ::scst_lookup_tgt_dev(&sess, 0)
        .unwrap()
        .dev
        .clone();
    let cases: [(Vec<u8>, i64, i64); 4] = [
        (vec![READ_6, 0x01, 0x02, 0x03, 0x00, 0], 0x010203, 256),
        (read10(0x1234_5678, 8).to_vec(), 0x1234_5678, 8),
        (
            vec![READ_12, 0, 0, 0, 0x10, 0, 0, 1, 0, 0, 0, 0],
            0x1000,
            0x10000,
        ),
        (
            vec![READ_16, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0],
            0x1_0000_0000,
            0x20,
        ),
    ];
    for (cdb, lba, len) in cases {
        let cmd = scst_rx_cmd(&sess, &lun_field(0), &cdb, false).unwrap();
        cmd.d.lock().dev = Some(dev.clone());
        assert_eq!(scst_get_cdb_info(&cmd), 0, "{cdb:02x?}");
        {
            let d = cmd.d.lock();
            assert_eq!(d.lba, lba, "{cdb:02x?}");
            assert_eq!(d.data_len, len);
            assert_eq!(i64::from(d.bufflen), len);
            assert_eq!(d.data_direction, SCST_DATA_READ);
            assert!(d.op_flags & SCST_TRANSFER_LEN_TYPE_FIXED != 0);
            assert!(d.op_flags & SCST_INFO_VALID != 0);
            assert_eq!(d.cdb_len, cdb.len());
        }
        // Never initialised: just drop the session reference it took.
        crate::scst_priv::__scst_cmd_put(&cmd);
    }
    scst_unregister_session(&sess, true, None);
}

#[test]
fn two_sessions_concurrently_on_their_own_threads() {
    let s = Setup::new("tt_two");
    let sa = s.session("iqn.a");
    let sb = s.session("iqn.b");
    let mut hs = Vec::new();
    for (k, sess) in [(0u64, sa.clone()), (1, sb.clone())] {
        let sess = sess.clone();
        hs.push(std::thread::spawn(move || {
            let mut cmds = Vec::new();
            for i in 0..50u64 {
                let tag = k * 1000 + i;
                let lun = i % 2;
                let lba = u32::try_from(i).unwrap_or(0);
                cmds.push(send(&sess, lun, &read10(lba, 2), tag, SCST_CONTEXT_THREAD));
            }
            cmds
        }));
    }
    for h in hs {
        drop(h.join().unwrap());
    }
    let tops = s.tops.clone();
    assert!(wait_until(|| tops.resps.lock().len() == 100));
    for r in s.tops.resps.lock().iter() {
        assert_eq!(r.status, SAM_STAT_GOOD);
        let i = r.tag % 1000;
        assert_eq!(r.data, pattern(u32::try_from(i).unwrap_or(0), 2));
        // Each initiator's LUN has its own thread: dpdisk<lun><nexus>_0.
        assert!(r.thread.starts_with("dpdisk"), "{}", r.thread);
        assert!(r.thread.ends_with("_0"));
    }
    let names = thread_names();
    for n in ["dpdisk00_0", "dpdisk01_0", "dpdisk10_0", "dpdisk11_0"] {
        assert!(names.iter().any(|t| t == n), "{n} in {names:?}");
    }
    assert_eq!(s.dops.attached_tgt.load(SeqCst), 4);
    scst_unregister_session(&sa, true, None);
    scst_unregister_session(&sb, true, None);
    assert_eq!(s.dops.detached_tgt.load(SeqCst), 4);
    // The per-initiator threads went with the sessions.
    let names = thread_names();
    assert!(!names.iter().any(|t| t.starts_with("dpdisk")), "{names:?}");
}

#[test]
fn session_unregistration_waits_for_its_commands() {
    let s = Setup::new("tt_unreg_wait");
    let sess = s.session("iqn.wait");
    s.dops.hold.store(true, SeqCst);
    let cmd = send(&sess, 0, &read10(1, 1), 11, SCST_CONTEXT_THREAD);
    drop(cmd);
    let dops = s.dops.clone();
    assert!(wait_until(|| dops.in_exec.load(SeqCst) == 1));
    let done = Arc::new(AtomicBool::new(false));
    let (s2, d2) = (sess.clone(), done.clone());
    let h = std::thread::spawn(move || {
        scst_unregister_session(&s2, true, None);
        d2.store(true, SeqCst);
    });
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !done.load(SeqCst),
        "unregistration did not wait for the command"
    );
    s.dops.hold.store(false, SeqCst);
    h.join().unwrap();
    assert!(done.load(SeqCst));
    let r = s.tops.resps.lock()[0].clone();
    assert_eq!((r.tag, r.status), (11, SAM_STAT_GOOD));
    assert_eq!(atomic_read(&sess.refcnt), 0);
}

#[test]
fn resid_and_direct_context() {
    let s = Setup::new("tt_resid");
    let sess = s.session("iqn.resid");
    // The initiator expects 1024 bytes for an 8-block READ: residual overflow reported.
    let cmd = scst_rx_cmd(&sess, &lun_field(0), &read10(0, 8), false).unwrap();
    scst_cmd_set_tag(&cmd, 21);
    scst_cmd_set_expected(&cmd, SCST_DATA_READ, 1024);
    scst_cmd_init_done(&cmd, SCST_CONTEXT_DIRECT);
    // DIRECT: processed on this thread, finished before the call returned.
    let r = s.tops.resps.lock()[0].clone();
    assert_eq!(
        r.thread,
        std::thread::current().name().unwrap_or("").to_owned()
    );
    assert_eq!(r.data.len(), 1024);
    assert_eq!(scst_get_resid(&cmd), Some((1024 - 4096, 0)));
    assert_eq!(scst_cmd_get_state(&cmd), SCST_CMD_STATE_FINISHED);
    scst_unregister_session(&sess, true, None);
}

/// A target driver with `rdy_to_xfer()` (the data arrive from another thread through
/// `scst_rx_data()`) that answers the first `xmit_response()` of each command QUEUE FULL.
#[derive(Default)]
struct WrTgtOps {
    inner: TgtOps,
    rdy: Mutex<Vec<Arc<ScstCmd>>>,
    queue_full_once: Mutex<Vec<u64>>,
}

impl ScstTgtTemplateOps for WrTgtOps {
    fn release(&self, _tgt: &Arc<ScstTgt>) -> i32 {
        0
    }
    fn has_rdy_to_xfer(&self) -> bool {
        true
    }
    fn rdy_to_xfer(&self, cmd: &Arc<ScstCmd>) -> Option<i32> {
        self.rdy.lock().push(cmd.clone());
        Some(SCST_TGT_RES_SUCCESS)
    }
    fn xmit_response(&self, cmd: &Arc<ScstCmd>) -> i32 {
        let tag = scst_cmd_get_tag(cmd);
        {
            let mut q = self.queue_full_once.lock();
            if !q.contains(&tag) {
                q.push(tag);
                return SCST_TGT_RES_QUEUE_FULL;
            }
        }
        self.inner.xmit_response(cmd)
    }
}

/// WRITE(10) through RDY_TO_XFER / DATA_WAIT / `scst_rx_data()`, and a QUEUE FULL answer
/// retried from the target's retry list.
#[test]
fn write_through_rdy_to_xfer_and_queue_full_retry() {
    let _l = Loaded::new();
    let tops = Arc::new(WrTgtOps::default());
    let vtt = Arc::new(ScstTgtTemplate::new("tt_write", tops.clone()));
    scst_register_target_template(&vtt).unwrap();
    let tgt = scst_register_target(&vtt, Some("tt_write")).unwrap();
    let written: Arc<Mutex<Vec<u8>>> = Arc::new(Mutex::new(Vec::new()));
    struct WrDev(Arc<Mutex<Vec<u8>>>);
    impl ScstDevTypeOps for WrDev {
        fn parse(&self, cmd: &Arc<ScstCmd>) -> CmdState {
            scst_sbc_generic_parse(cmd);
            SCST_CMD_STATE_DEFAULT
        }
        fn exec(&self, cmd: &Arc<ScstCmd>) -> Option<i32> {
            if let Some(data) = scst_cmd_with_buf_mut(cmd, |b| b.to_vec()) {
                *self.0.lock() = data;
            }
            scst_cmd_set_completed(cmd);
            scst_cmd_done(cmd, SCST_CMD_STATE_DEFAULT, SCST_CONTEXT_SAME);
            Some(SCST_EXEC_COMPLETED)
        }
    }
    let mut dt = ScstDevType::new("wr_disk", TYPE_DISK, Arc::new(WrDev(written.clone())));
    dt.exec_sync = true;
    let dt = Arc::new(dt);
    scst_register_virtual_dev_driver(&dt).unwrap();
    let id = scst_register_virtual_device(&dt, "wrdisk").unwrap();
    {
        let mut g = scst_mutex.lock();
        let dev = g
            .scst_dev_list
            .iter()
            .find(|(_, d)| d.virt_id == id)
            .map(|(_, d)| d.clone())
            .unwrap();
        let acg = g.scst_default_acg.clone().unwrap();
        scst_acg_add_lun(&mut g, &acg, &dev, 0, false).unwrap();
    }
    let sess = scst_register_session(&tgt, false, "iqn.write", None, None).unwrap();
    clear_ua(&sess);

    let cdb = [WRITE_10, 0, 0, 0, 0, 4, 0, 0, 2, 0];
    let cmd = scst_rx_cmd(&sess, &lun_field(0), &cdb, false).unwrap();
    scst_cmd_set_tag(&cmd, 31);
    scst_cmd_set_expected(&cmd, SCST_DATA_WRITE, 1024);
    scst_cmd_init_done(&cmd, SCST_CONTEXT_THREAD);
    let t2 = tops.clone();
    assert!(wait_until(|| t2.rdy.lock().len() == 1));
    assert_eq!(scst_cmd_get_state(&cmd), SCST_CMD_STATE_DATA_WAIT);
    // threads_num 0: the global pool ran it.
    let payload: Vec<u8> = (0..1024u32).map(|i| (i * 7) as u8).collect();
    let rcmd = tops.rdy.lock()[0].clone();
    let h = std::thread::spawn(move || {
        let n = scst_cmd_with_write_sg_mut(&rcmd, |sg, write_len| {
            assert_eq!(write_len, 1024);
            kemu::scatterlist::sg_copy_from_buffer(sg, &payload)
        });
        assert_eq!(n, 1024);
        crate::scst_targ::scst_rx_data(&rcmd, SCST_RX_STATUS_SUCCESS, SCST_CONTEXT_THREAD);
    });
    h.join().unwrap();
    assert!(wait_until(|| t2.inner.resps.lock().len() == 1));
    let r = tops.inner.resps.lock()[0].clone();
    assert_eq!((r.tag, r.status), (31, SAM_STAT_GOOD));
    assert!(r.data.is_empty());
    let want: Vec<u8> = (0..1024u32).map(|i| (i * 7) as u8).collect();
    assert_eq!(*written.lock(), want);
    assert_eq!(*tops.queue_full_once.lock(), vec![31]);
    assert_eq!(scst_get_resid(&cmd), None);
    drop(cmd);

    scst_unregister_session(&sess, true, None);
    scst_unregister_virtual_device(id);
    scst_unregister_target_template(&vtt);
    scst_unregister_virtual_dev_driver(&dt);
}

/// REQUEST SENSE and INQUIRY to a LUN that does not exist are answered with data, as C does.
#[test]
fn request_sense_and_inquiry_to_unknown_lun() {
    let s = Setup::new("tt_nolun_data");
    let sess = s.session("iqn.nolun.data");
    let r = s.cmd(
        &sess,
        9,
        &[REQUEST_SENSE, 0, 0, 0, 18, 0],
        1,
        SCST_CONTEXT_DIRECT,
    );
    assert_eq!(r.status, SAM_STAT_GOOD);
    assert_eq!(r.data.len(), 18);
    assert_eq!(
        (r.data[0], r.data[2], r.data[12]),
        (0x70, ILLEGAL_REQUEST, 0x25)
    );
    let r = s.cmd(&sess, 9, &[INQUIRY, 0, 0, 0, 36, 0], 2, SCST_CONTEXT_DIRECT);
    assert_eq!(r.status, SAM_STAT_GOOD);
    assert_eq!(r.data.len(), 36);
    assert_eq!((r.data[0], r.data[2], r.data[4]), (0x7F, 6, 32));
    assert!(s.dops.exec_threads.lock().is_empty());
    scst_unregister_session(&sess, true, None);
}

/// LUNs added to or removed from a group with a live session change its nexuses (and so
/// REPORT LUNS and the per-initiator threads) at once.
#[test]
fn luns_follow_the_group_of_a_live_session() {
    let s = Setup::new("tt_live_luns");
    let sess = s.session("iqn.live");
    let id = scst_register_virtual_device(&s.dt, "dpdisk7").unwrap();
    let (acg, dev) = {
        let g = scst_mutex.lock();
        let dev = g
            .scst_dev_list
            .iter()
            .find(|(_, d)| d.virt_id == id)
            .map(|(_, d)| d.clone())
            .unwrap();
        (g.scst_default_acg.clone().unwrap(), dev)
    };
    scst_acg_add_lun(&mut scst_mutex.lock(), &acg, &dev, 7, false).unwrap();
    assert!(wait_until(|| thread_names()
        .iter()
        .any(|t| t == "dpdisk70_0")));
    let cdb = [REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
    let r = s.cmd(&sess, 0, &cdb, 1, SCST_CONTEXT_DIRECT);
    assert_eq!(r.data[3], 24);
    assert_eq!(r.data[25], 7);
    // The new nexus starts with POWER ON / RESET, then serves.
    let r = s.cmd(&sess, 7, &read10(5, 1), 2, SCST_CONTEXT_THREAD);
    assert_eq!(
        (r.status, r.sense[2], r.sense[12]),
        (SAM_STAT_CHECK_CONDITION, UNIT_ATTENTION, 0x29)
    );
    let r = s.cmd(&sess, 7, &read10(5, 1), 4, SCST_CONTEXT_THREAD);
    assert_eq!((r.status, r.thread.as_str()), (SAM_STAT_GOOD, "dpdisk70_0"));

    crate::scst_lib::scst_acg_del_lun(&mut scst_mutex.lock(), &acg, 7, false).unwrap();
    assert!(!thread_names().iter().any(|t| t == "dpdisk70_0"));
    let r = s.cmd(&sess, 7, &read10(5, 1), 3, SCST_CONTEXT_THREAD);
    assert_eq!((r.sense[2], r.sense[12]), (ILLEGAL_REQUEST, 0x25));
    scst_unregister_virtual_device(id);
    scst_unregister_session(&sess, true, None);
}

/// Commands that arrive while an atomically registered session is still initialising wait
/// on `init_deferred_cmd_list` and run once it is ready.
#[test]
fn commands_wait_for_session_init() {
    let s = Setup::new("tt_deferred");
    // Hold scst_mgmtd back: it needs scst_mutex to initialise the session.
    let g = scst_mutex.lock();
    let sess = scst_register_session(&s.tgt, true, "iqn.deferred", None, None).unwrap();
    let cmd = send(&sess, 0, &read10(2, 1), 41, SCST_CONTEXT_THREAD);
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(scst_cmd_get_state(&cmd), SCST_CMD_STATE_INIT_WAIT);
    assert_eq!(sess.sess_list_lock.lock().init_deferred_cmd_list.len(), 1);
    drop(g);
    let tops = s.tops.clone();
    assert!(wait_until(|| tops.resps.lock().len() == 1));
    // It ran once the session was ready; as the first command of the new nexus it carries
    // the POWER ON / RESET unit attention.
    let r = s.tops.resps.lock()[0].clone();
    assert_eq!((r.tag, r.status), (41, SAM_STAT_CHECK_CONDITION));
    assert_eq!((r.sense[2], r.sense[12]), (UNIT_ATTENTION, 0x29));
    assert!(r.data.is_empty());
    drop(cmd);
    scst_unregister_session(&sess, true, None);
}

/// ORDERED, SIMPLE and (implicitly) HEAD OF QUEUE commands of one nexus all complete, in the
/// SN order the core assigns.
#[test]
fn ordered_simple_and_head_of_queue() {
    let s = Setup::new("tt_order");
    let sess = s.session("iqn.order");
    let mut cmds = Vec::new();
    for (tag, qt) in [
        (1u64, SCST_CMD_QUEUE_SIMPLE),
        (2, SCST_CMD_QUEUE_ORDERED),
        (3, SCST_CMD_QUEUE_SIMPLE),
        (4, SCST_CMD_QUEUE_UNTAGGED),
        (5, SCST_CMD_QUEUE_ORDERED),
        (6, SCST_CMD_QUEUE_HEAD_OF_QUEUE),
    ] {
        let cmd = scst_rx_cmd(&sess, &lun_field(0), &read10(0, 1), false).unwrap();
        scst_cmd_set_tag(&cmd, tag);
        scst_cmd_set_queue_type(&cmd, qt);
        scst_cmd_set_expected(&cmd, SCST_DATA_READ, 512);
        scst_cmd_init_done(&cmd, SCST_CONTEXT_THREAD);
        cmds.push(cmd);
    }
    // TEST UNIT READY is an implicit HEAD OF QUEUE command.
    let tur = send(
        &sess,
        0,
        &[TEST_UNIT_READY, 0, 0, 0, 0, 0],
        7,
        SCST_CONTEXT_THREAD,
    );
    let tops = s.tops.clone();
    assert!(wait_until(|| tops.resps.lock().len() == 7));
    assert!(s
        .tops
        .resps
        .lock()
        .iter()
        .all(|r| r.status == SAM_STAT_GOOD));
    assert_eq!(scst_cmd_get_queue_type(&tur), SCST_CMD_QUEUE_HEAD_OF_QUEUE);
    // UNTAGGED is processed as SIMPLE.
    assert_eq!(scst_cmd_get_queue_type(&cmds[3]), SCST_CMD_QUEUE_SIMPLE);
    let sn: Vec<u32> = cmds[..5].iter().map(|c| c.sn.load(SeqCst)).collect();
    let base = sn[0];
    let rel: Vec<u32> = sn.iter().map(|v| v.wrapping_sub(base)).collect();
    assert_eq!(rel, vec![0, 1, 2, 2, 3]);
    assert!(!cmds[5].sn_set.load(SeqCst));
    let tgt_dev = crate::scst_targ::scst_lookup_tgt_dev(&sess, 0).unwrap();
    let od = &tgt_dev.curr_order_data;
    assert_eq!(od.sn_lock.lock().hq_cmd_count, 0);
    assert_eq!(atomic_read(&od.def_cmd_count), 0);
    // Everything done: the last ORDERED command (SN base+3) moved the expected SN past itself
    // when it was done (scst_dev_done(): synchronous handlers advance it on completion).
    assert_eq!(od.expected_sn.load(SeqCst), base.wrapping_add(4));
    drop((cmds, tur));
    scst_unregister_session(&sess, true, None);
}

/// Every opcode, with all-ones and pseudo-random CDBs of every length from 1 to 16 bytes,
/// goes through the whole state machine without a panic and gets exactly one response.
#[test]
fn arbitrary_cdbs_never_panic() {
    let s = Setup::new("tt_fuzz");
    let sess = s.session("iqn.fuzz");
    let mut seed: u64 = 0x1234_5678_9abc_def0;
    let mut next = || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as u8
    };
    let mut tag = 0u64;
    for op in 0..=255u8 {
        let mut cdbs = vec![{
            let mut c = vec![0xFFu8; 16];
            c[0] = op;
            c
        }];
        for len in 1..=16usize {
            let mut c: Vec<u8> = (0..len).map(|_| next()).collect();
            c[0] = op;
            // Keep transfer lengths moderate so that the test does not allocate gigabytes.
            for b in c.iter_mut().skip(6) {
                *b &= 0x03;
            }
            cdbs.push(c);
        }
        for cdb in cdbs {
            tag += 1;
            let lun = u64::from(next() % 3);
            let cmd = scst_rx_cmd(&sess, &lun_field(lun), &cdb, false).unwrap();
            scst_cmd_set_tag(&cmd, tag);
            scst_cmd_set_expected(&cmd, SCST_DATA_READ, 4096);
            scst_cmd_init_done(&cmd, SCST_CONTEXT_DIRECT);
        }
    }
    let tops = s.tops.clone();
    let n = usize::try_from(tag).unwrap_or(0);
    assert!(wait_until(|| tops.resps.lock().len() == n));
    assert!(wait_until(|| atomic_read(&sess.sess_cmd_count) == 0));
    // The device budgets are all given back.
    let g = scst_mutex.lock();
    for (_, dev) in g.scst_dev_list.iter() {
        assert_eq!(
            atomic_read(&dev.dev_mem_lim.alloced_pages),
            0,
            "{}",
            dev.virt_name
        );
    }
    drop(g);
    scst_unregister_session(&sess, true, None);
}

/// A command whose buffer would exceed the device's memory budget (`scst_max_dev_cmd_mem`)
/// is answered BUSY, as C's SGV allocation failure is.
#[test]
fn device_memory_budget_gives_busy() {
    let s = Setup::new("tt_memlim");
    let sess = s.session("iqn.memlim");
    let dev = crate::scst_targ::scst_lookup_tgt_dev(&sess, 0)
        .unwrap()
        .dev
        .clone();
    atomic_set(&dev.dev_mem_lim.max_allowed_pages, 2);
    let r = s.cmd(&sess, 0, &read10(0, 24), 1, SCST_CONTEXT_THREAD);
    assert_eq!(r.status, SAM_STAT_BUSY);
    let r = s.cmd(&sess, 0, &read10(0, 24), 2, SCST_CONTEXT_DIRECT);
    assert_eq!(r.status, SAM_STAT_BUSY);
    let r = s.cmd(&sess, 0, &read10(0, 8), 3, SCST_CONTEXT_THREAD);
    assert_eq!(r.status, SAM_STAT_GOOD);
    assert_eq!(atomic_read(&dev.dev_mem_lim.alloced_pages), 0);
    scst_unregister_session(&sess, true, None);
}

/// Sends a WRITE(10) of `blocks` 512-byte blocks (the test driver has no `rdy_to_xfer()`,
/// so the command goes straight to execution) and waits for its response.
fn write10_cmd(s: &Setup, sess: &Arc<ScstSession>, blocks: u16, tag: u64, no_sgv: bool) -> Resp {
    let b = blocks.to_be_bytes();
    let cdb = [WRITE_10, 0, 0, 0, 0, 8, 0, b[0], b[1], 0];
    let cmd = scst_rx_cmd(sess, &lun_field(0), &cdb, false).unwrap();
    scst_cmd_set_tag(&cmd, tag);
    scst_cmd_set_queue_type(&cmd, SCST_CMD_QUEUE_SIMPLE);
    scst_cmd_set_expected(&cmd, SCST_DATA_WRITE, i32::from(blocks) * 512);
    if no_sgv {
        scst_cmd_set_no_sgv(&cmd);
    }
    scst_cmd_init_done(&cmd, SCST_CONTEXT_THREAD);
    drop(cmd);
    let tops = s.tops.clone();
    assert!(wait_until(|| tops
        .resps
        .lock()
        .iter()
        .any(|r| r.tag == tag)));
    let r = s.tops.resps.lock().iter().find(|r| r.tag == tag).cloned();
    r.unwrap()
}

/// Issue 7: the data buffers of WRITE(10) commands come from the nexus's SGV pool; after a
/// warm-up every further command of the same size is a cache hit (the pool allocates
/// nothing new), a different size uses another cache, and `no_sgv` commands bypass the
/// cache.
#[test]
fn sgv_cache_serves_write_buffers_after_warm_up() {
    use crate::scst_mem::{sgv_global_stats, sgv_norm_pool, sgv_pool_stats};
    let s = Setup::new("tt_sgv");
    let sess = s.session("iqn.sgv");
    let tgt_dev = crate::scst_targ::scst_lookup_tgt_dev(&sess, 0).unwrap();
    let pool = tgt_dev.pools.clone().expect("the nexus has an SGV pool");
    assert!(Arc::ptr_eq(&pool, sgv_norm_pool.lock().as_ref().unwrap()));
    assert!(!tgt_dev.tgt_dev_clust_pool);
    let dev = tgt_dev.dev.clone();
    drop(tgt_dev);

    let before = sgv_pool_stats(&pool);
    assert_eq!(before.total_alloc(), 0, "a fresh pool: {before:?}");
    // Warm-up: the first 4 KiB command allocates, the next ones hit.
    const WARM: u64 = 4;
    for tag in 1..=WARM {
        let r = write10_cmd(&s, &sess, 8, tag, false);
        assert_eq!(r.status, SAM_STAT_GOOD);
    }
    let warm = sgv_pool_stats(&pool);
    assert_eq!(warm.caches[0].name, "sgv-4K");
    assert_eq!(warm.caches[0].total_alloc, 4);
    assert_eq!(warm.caches[0].total_alloc - warm.caches[0].hit_alloc, 1);
    assert_eq!(warm.cached_entries, 1);
    assert_eq!(warm.cached_pages, 1);

    // Steady state: all hits, nothing new allocated.
    const N: u64 = 32;
    for tag in 100..100 + N {
        let r = write10_cmd(&s, &sess, 8, tag, false);
        assert_eq!(r.status, SAM_STAT_GOOD);
    }
    let hot = sgv_pool_stats(&pool);
    let n = i32::try_from(N).unwrap();
    assert_eq!(hot.caches[0].total_alloc, warm.caches[0].total_alloc + n);
    assert_eq!(hot.caches[0].hit_alloc, warm.caches[0].hit_alloc + n);
    assert_eq!(
        hot.miss_alloc(),
        warm.miss_alloc(),
        "allocations stayed flat"
    );
    assert_eq!(hot.cached_entries, 1);
    assert!(wait_until(|| atomic_read(&sess.sess_cmd_count) == 0));
    assert_eq!(sgv_pool_stats(&pool).inactive_cached_pages, 1);

    // 12 KiB goes to the 16 KiB cache.
    for tag in 200..203 {
        let r = write10_cmd(&s, &sess, 24, tag, false);
        assert_eq!(r.status, SAM_STAT_GOOD);
    }
    let mixed = sgv_pool_stats(&pool);
    assert_eq!(mixed.caches[0].total_alloc, hot.caches[0].total_alloc);
    assert_eq!(mixed.caches[2].name, "sgv-16K");
    assert_eq!(
        (mixed.caches[2].total_alloc, mixed.caches[2].hit_alloc),
        (3, 2)
    );
    assert_eq!(mixed.cached_entries, 2);
    assert_eq!(mixed.cached_pages, 1 + 4);

    // no_sgv: "other" buffers, allocated and freed each time, not cached.
    for tag in 300..303 {
        let r = write10_cmd(&s, &sess, 8, tag, true);
        assert_eq!(r.status, SAM_STAT_GOOD);
    }
    let other = sgv_pool_stats(&pool);
    assert_eq!(other.other_alloc, 3);
    assert_eq!(other.total_alloc(), mixed.total_alloc());
    assert_eq!(other.cached_entries, 2);

    assert!(wait_until(|| atomic_read(&sess.sess_cmd_count) == 0));
    assert_eq!(atomic_read(&dev.dev_mem_lim.alloced_pages), 0);
    let g = sgv_global_stats();
    assert_eq!(g.inactive_pages, 5);
    assert!(g.sgv_pages_total >= 5);
    let text = crate::scst_mem::sgv_procinfo_show();
    assert!(text.contains("sgv-4K"), "{text}");
    scst_unregister_session(&sess, true, None);
}

#[test]
fn maintenance_in_reports_are_built_by_the_core() {
    let s = Setup::new("tt_rsoc");
    let sess = s.session("iqn.rsoc");
    // REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS: always local.
    let cdb = [MAINTENANCE_IN, 0x0D, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0];
    let r = s.cmd(&sess, 0, &cdb, 1, SCST_CONTEXT_THREAD);
    assert_eq!(r.status, SAM_STAT_GOOD);
    assert_eq!(r.data, [0xF8, 0, 0, 0]);
    // REPTD: the extended format (timeouts 300 and 150 in 100 ms units).
    let cdb = [MAINTENANCE_IN, 0x0D, 0x80, 0, 0, 0, 0, 0, 0, 16, 0, 0];
    let r = s.cmd(&sess, 0, &cdb, 2, SCST_CONTEXT_THREAD);
    assert_eq!(
        r.data,
        [0xF8, 0, 0, 0x0C, 1, 0, 0xA0, 0, 0, 0, 0x01, 0x2C, 0, 0, 0, 0x96]
    );
    assert!(s.dops.exec_threads.lock().is_empty());

    // REPORT SUPPORTED OPERATION CODES: the handler's list, all commands.
    s.dops.rsoc.store(true, SeqCst);
    let cdb = [MAINTENANCE_IN, 0x0C, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
    let r = s.cmd(&sess, 0, &cdb, 3, SCST_CONTEXT_THREAD);
    assert_eq!(r.status, SAM_STAT_GOOD);
    assert_eq!(
        r.data,
        [
            0,
            0,
            0,
            24, // command data length
            TEST_UNIT_READY,
            0,
            0,
            0,
            0,
            0,
            0,
            6, //
            REPORT_LUNS,
            0,
            0,
            0,
            0,
            0,
            0,
            12, //
            MAINTENANCE_IN,
            0,
            0,
            0x0C,
            0,
            1,
            0,
            12, // SERVACTV
        ]
    );
    // One command (REPORTING OPTIONS 1), cut to the allocation length of 8.
    let cdb = [MAINTENANCE_IN, 0x0C, 1, REPORT_LUNS, 0, 0, 0, 0, 0, 8, 0, 0];
    let r = s.cmd(&sess, 0, &cdb, 4, SCST_CONTEXT_THREAD);
    assert_eq!(r.data, [0, 3, 0, 12, REPORT_LUNS, 0, 0xFF, 0]);
    // REPORTING OPTIONS 1 for an opcode with service actions: INVALID FIELD IN CDB.
    let cdb = [
        MAINTENANCE_IN,
        0x0C,
        1,
        MAINTENANCE_IN,
        0,
        0,
        0,
        0,
        1,
        0,
        0,
        0,
    ];
    let r = s.cmd(&sess, 0, &cdb, 5, SCST_CONTEXT_THREAD);
    assert_eq!(r.status, SAM_STAT_CHECK_CONDITION);
    assert_eq!((r.sense[2], r.sense[12]), (ILLEGAL_REQUEST, 0x24));
    assert_eq!(&r.sense[15..18], &[0xC8, 0, 2]);
    assert!(s.dops.exec_threads.lock().is_empty());

    // Without get_supported_opcodes() the handler gets the command.
    s.dops.rsoc.store(false, SeqCst);
    let cdb = [MAINTENANCE_IN, 0x0C, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
    let r = s.cmd(&sess, 0, &cdb, 6, SCST_CONTEXT_THREAD);
    assert_eq!(r.status, SAM_STAT_GOOD);
    assert_eq!(s.dops.exec_threads.lock().len(), 1);
    assert!(wait_until(|| atomic_read(&sess.sess_cmd_count) == 0));
    scst_unregister_session(&sess, true, None);
}

// ---------------------------------------------------------------------------------------------
// Unit attentions
// ---------------------------------------------------------------------------------------------

const TUR: [u8; 6] = [TEST_UNIT_READY, 0, 0, 0, 0, 0];

/// (status, key, ASC, ASCQ) of a fixed-format answer.
fn ua_of(r: &Resp) -> (u8, u8, u8, u8) {
    let b = |i: usize| r.sense.get(i).copied().unwrap_or(0);
    (r.status, b(2), b(12), b(13))
}

/// The first command of a new nexus gets CHECK CONDITION with POWER ON, RESET, OR BUS
/// DEVICE RESET OCCURRED (fixed format), without the handler executing it; the second is
/// served.
#[test]
fn new_nexus_reports_reset_unit_attention_once() {
    let s = Setup::new("tt_ua_new");
    let sess = scst_register_session(&s.tgt, false, "iqn.ua.new", None, None).unwrap();
    let r = s.cmd(&sess, 0, &read10(1, 1), 1, SCST_CONTEXT_THREAD);
    assert_eq!(
        ua_of(&r),
        (SAM_STAT_CHECK_CONDITION, UNIT_ATTENTION, 0x29, 0)
    );
    assert_eq!((r.sense[0], r.sense.len()), (0x70, 18));
    assert!(s.dops.exec_threads.lock().is_empty());
    let r = s.cmd(&sess, 0, &read10(1, 1), 2, SCST_CONTEXT_THREAD);
    assert_eq!(r.status, SAM_STAT_GOOD);
    assert_eq!(r.data, pattern(1, 1));
    // LUN 1 is another nexus with its own unit attention.
    let r = s.cmd(&sess, 1, &TUR, 3, SCST_CONTEXT_DIRECT);
    assert_eq!(
        ua_of(&r),
        (SAM_STAT_CHECK_CONDITION, UNIT_ATTENTION, 0x29, 0)
    );
    let r = s.cmd(&sess, 1, &TUR, 4, SCST_CONTEXT_DIRECT);
    assert_eq!(r.status, SAM_STAT_GOOD);
    scst_unregister_session(&sess, true, None);
}

/// INQUIRY and REPORT LUNS (SCST_SKIP_UA) neither get nor consume the unit attention.
#[test]
fn inquiry_and_report_luns_do_not_consume_the_unit_attention() {
    let s = Setup::new("tt_ua_skip");
    let sess = scst_register_session(&s.tgt, false, "iqn.ua.skip", None, None).unwrap();
    let r = s.cmd(&sess, 0, &[INQUIRY, 0, 0, 0, 36, 0], 1, SCST_CONTEXT_THREAD);
    assert_eq!(r.status, SAM_STAT_GOOD);
    let cdb = [REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
    let r = s.cmd(&sess, 0, &cdb, 2, SCST_CONTEXT_THREAD);
    assert_eq!(r.status, SAM_STAT_GOOD);
    let r = s.cmd(&sess, 0, &TUR, 3, SCST_CONTEXT_THREAD);
    assert_eq!(
        ua_of(&r),
        (SAM_STAT_CHECK_CONDITION, UNIT_ATTENTION, 0x29, 0)
    );
    scst_unregister_session(&sess, true, None);
}

/// REQUEST SENSE returns the pending unit attention as its data (GOOD) and consumes it.
#[test]
fn request_sense_returns_the_pending_unit_attention() {
    let s = Setup::new("tt_ua_rs");
    let sess = scst_register_session(&s.tgt, false, "iqn.ua.rs", None, None).unwrap();
    let r = s.cmd(
        &sess,
        0,
        &[REQUEST_SENSE, 0, 0, 0, 18, 0],
        1,
        SCST_CONTEXT_THREAD,
    );
    assert_eq!(r.status, SAM_STAT_GOOD);
    assert_eq!(r.resp_data_len, 18);
    assert_eq!(
        (r.data[0], r.data[2], r.data[12], r.data[13]),
        (0x70, UNIT_ATTENTION, 0x29, 0)
    );
    // The handler did not answer it.
    assert!(s.dops.exec_threads.lock().is_empty());
    let r = s.cmd(&sess, 0, &TUR, 2, SCST_CONTEXT_THREAD);
    assert_eq!(r.status, SAM_STAT_GOOD);
    scst_unregister_session(&sess, true, None);
}

/// REPORTED LUNS DATA HAS CHANGED reaches every session once: a global unit attention,
/// queued on every nexus and freed on the others when delivered on one.
#[test]
fn reported_luns_changed_reaches_every_session() {
    let s = Setup::new("tt_ua_rlc");
    let sa = s.session("iqn.ua.rlc.a");
    let sb = s.session("iqn.ua.rlc.b");
    {
        let g = scst_mutex.lock();
        let acg = g.scst_default_acg.clone().unwrap();
        crate::scst_lib::scst_report_luns_changed(&g, &acg);
    }
    for (i, sess) in [&sa, &sb].into_iter().enumerate() {
        let tag = 10 * (i as u64 + 1);
        let r = s.cmd(sess, 1, &TUR, tag, SCST_CONTEXT_THREAD);
        assert_eq!(
            ua_of(&r),
            (SAM_STAT_CHECK_CONDITION, UNIT_ATTENTION, 0x3F, 0x0E)
        );
        let r = s.cmd(sess, 0, &TUR, tag + 1, SCST_CONTEXT_THREAD);
        assert_eq!(r.status, SAM_STAT_GOOD);
        let r = s.cmd(sess, 1, &TUR, tag + 2, SCST_CONTEXT_THREAD);
        assert_eq!(r.status, SAM_STAT_GOOD);
    }
    // REPORT LUNS clears it: the answer is the new data.
    {
        let g = scst_mutex.lock();
        let acg = g.scst_default_acg.clone().unwrap();
        crate::scst_lib::scst_report_luns_changed(&g, &acg);
    }
    let cdb = [REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
    let r = s.cmd(&sa, 0, &cdb, 30, SCST_CONTEXT_THREAD);
    assert_eq!(r.status, SAM_STAT_GOOD);
    let r = s.cmd(&sa, 1, &TUR, 31, SCST_CONTEXT_THREAD);
    assert_eq!(r.status, SAM_STAT_GOOD);
    scst_unregister_session(&sa, true, None);
    scst_unregister_session(&sb, true, None);
}

/// A good MODE SELECT queues MODE PARAMETERS CHANGED for the device's other nexuses only;
/// CAPACITY DATA HAS CHANGED reaches every nexus of the disk.
#[test]
fn mode_parameters_and_capacity_changed() {
    let s = Setup::new("tt_ua_mode");
    let sa = s.session("iqn.ua.mode.a");
    let sb = s.session("iqn.ua.mode.b");
    let r = s.cmd(
        &sa,
        0,
        &[MODE_SELECT, 0x10, 0, 0, 0, 0],
        1,
        SCST_CONTEXT_THREAD,
    );
    assert_eq!(r.status, SAM_STAT_GOOD);
    let r = s.cmd(&sa, 0, &TUR, 2, SCST_CONTEXT_THREAD);
    assert_eq!(r.status, SAM_STAT_GOOD);
    let r = s.cmd(&sb, 0, &TUR, 3, SCST_CONTEXT_THREAD);
    assert_eq!(
        ua_of(&r),
        (SAM_STAT_CHECK_CONDITION, UNIT_ATTENTION, 0x2A, 0x01)
    );
    let r = s.cmd(&sb, 1, &TUR, 4, SCST_CONTEXT_THREAD);
    assert_eq!(r.status, SAM_STAT_GOOD);

    let dev = s.dev(1);
    crate::scst_lib::scst_capacity_data_changed(&dev);
    for (tag, sess) in [(6, &sa), (7, &sb)] {
        let r = s.cmd(sess, 1, &TUR, tag, SCST_CONTEXT_THREAD);
        assert_eq!(
            ua_of(&r),
            (SAM_STAT_CHECK_CONDITION, UNIT_ATTENTION, 0x2A, 0x09)
        );
    }
    scst_unregister_session(&sa, true, None);
    scst_unregister_session(&sb, true, None);
}

/// A device with descriptor sense gets the unit attentions of other kinds in descriptor
/// format; the POWER ON / RESET one stays fixed, as SPC requires.
#[test]
fn unit_attention_sense_follows_d_sense() {
    let s = Setup::new("tt_ua_dsense");
    let sess = s.session("iqn.ua.dsense");
    let dev = s.dev(1);
    dev.d_sense.store(true, SeqCst);
    crate::scst_lib::scst_capacity_data_changed(&dev);
    let r = s.cmd(&sess, 1, &TUR, 2, SCST_CONTEXT_THREAD);
    assert_eq!(r.status, SAM_STAT_CHECK_CONDITION);
    assert_eq!(&r.sense[..4], &[0x72, UNIT_ATTENTION, 0x2A, 0x09]);
    dev.d_sense.store(false, SeqCst);
    scst_unregister_session(&sess, true, None);
}

// ---------------------------------------------------------------------------------------------
// Task management
// ---------------------------------------------------------------------------------------------

impl Setup {
    /// Waits for the `n`-th finished task management function and returns it.
    fn tm_wait(&self, n: usize) -> (TmFn, MgmtStatus, usize) {
        let tops = self.tops.clone();
        assert!(wait_until(|| tops.tm_done.lock().len() >= n));
        self.tops.tm_done.lock()[n - 1]
    }
}

/// ABORT TASK of a command the handler holds: the function waits until the command is done
/// and its (suppressed) response finished, then answers SUCCESS; the command is freed.
#[test]
fn abort_task_of_a_command_held_in_the_handler() {
    let s = Setup::new("tt_tm_abort");
    let sess = s.session("iqn.tm.abort");
    s.dops.hold.store(true, SeqCst);
    drop(send(&sess, 0, &read10(1, 1), 5, SCST_CONTEXT_THREAD));
    let dops = s.dops.clone();
    assert!(wait_until(|| dops.in_exec.load(SeqCst) == 1));
    scst_rx_mgmt_fn_tag(&sess, SCST_ABORT_TASK, 5, false, None).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        s.tops.tm_done.lock().is_empty(),
        "waits for the aborted command"
    );
    s.dops.hold.store(false, SeqCst);
    let (f, st, resps_before) = s.tm_wait(1);
    assert_eq!((f, st), (SCST_ABORT_TASK, SCST_MGMT_STATUS_SUCCESS));
    // The aborted command reached xmit_response() (marked aborted) before the TM response.
    assert_eq!(resps_before, 1);
    let r = s.tops.resps.lock()[0].clone();
    assert_eq!(r.tag, 5);
    assert!(r.aborted);
    assert_eq!(s.tops.tm_affected_done.load(SeqCst), 1);
    assert!(wait_until(|| atomic_read(&sess.sess_cmd_count) == 0));
    // The nexus serves the next command.
    let r = s.cmd(&sess, 0, &read10(2, 1), 6, SCST_CONTEXT_THREAD);
    assert_eq!((r.status, r.aborted), (SAM_STAT_GOOD, false));
    scst_unregister_session(&sess, true, None);
}

/// ABORT TASK of a tag nobody uses: TASK DOES NOT EXIST; a LUN function for a LUN without a
/// device: LUN DOES NOT EXIST; CLEAR ACA without ACA succeeds.
#[test]
fn tm_unknown_task_and_lun() {
    let s = Setup::new("tt_tm_unknown");
    let sess = s.session("iqn.tm.unknown");
    scst_rx_mgmt_fn_tag(&sess, SCST_ABORT_TASK, 77, false, None).unwrap();
    assert_eq!(
        s.tm_wait(1),
        (SCST_ABORT_TASK, SCST_MGMT_STATUS_TASK_NOT_EXIST, 0)
    );
    scst_rx_mgmt_fn_lun(&sess, SCST_LUN_RESET, Some(&lun_field(9)), false, None).unwrap();
    assert_eq!(
        s.tm_wait(2),
        (SCST_LUN_RESET, SCST_MGMT_STATUS_LUN_NOT_EXIST, 0)
    );
    scst_rx_mgmt_fn_lun(&sess, SCST_CLEAR_ACA, Some(&lun_field(0)), false, None).unwrap();
    assert_eq!(s.tm_wait(3), (SCST_CLEAR_ACA, SCST_MGMT_STATUS_SUCCESS, 0));
    // Parameters C asserts are refused.
    let p = ScstRxMgmtParams {
        fn_: SCST_ABORT_TASK,
        ..Default::default()
    };
    assert_eq!(scst_rx_mgmt_fn(&sess, &p), Err(kemu::Errno::EINVAL));
    let p = ScstRxMgmtParams {
        fn_: SCST_LUN_RESET,
        ..Default::default()
    };
    assert_eq!(scst_rx_mgmt_fn(&sess, &p), Err(kemu::Errno::EINVAL));
    // SCST_PR_ABORT_ALL is internal: refused without its PREEMPT AND ABORT command.
    assert_eq!(
        scst_rx_mgmt_fn_lun(&sess, SCST_PR_ABORT_ALL, Some(&lun_field(0)), false, None),
        Err(kemu::Errno::EINVAL)
    );
    assert!(wait_until(|| atomic_read(&sess.sess_cmd_count) == 0));
    scst_unregister_session(&sess, true, None);
}

/// LUN RESET from one session: the other session's command on the LUN is aborted (as
/// "other initiator": it completed, so its status is still delivered), the function waits
/// until it is done, and every nexus of the device gets POWER ON, RESET OCCURRED (06/29/00,
/// scst_process_reset() with scst_sense_reset_UA); the other LUN is untouched.
#[test]
fn lun_reset_aborts_and_queues_the_reset_ua() {
    let s = Setup::new("tt_tm_lunreset");
    let sa = s.session("iqn.tm.lr.a");
    let sb = s.session("iqn.tm.lr.b");
    s.dops.hold.store(true, SeqCst);
    drop(send(&sb, 0, &read10(3, 1), 7, SCST_CONTEXT_THREAD));
    let dops = s.dops.clone();
    assert!(wait_until(|| dops.in_exec.load(SeqCst) == 1));
    scst_rx_mgmt_fn_lun(&sa, SCST_LUN_RESET, Some(&lun_field(0)), false, None).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        s.tops.tm_done.lock().is_empty(),
        "waits until the command is done"
    );
    s.dops.hold.store(false, SeqCst);
    let (f, st, _) = s.tm_wait(1);
    assert_eq!((f, st), (SCST_LUN_RESET, SCST_MGMT_STATUS_SUCCESS));
    let tops = s.tops.clone();
    assert!(wait_until(|| tops.resps.lock().iter().any(|r| r.tag == 7)));
    let r = s
        .tops
        .resps
        .lock()
        .iter()
        .find(|r| r.tag == 7)
        .cloned()
        .unwrap();
    assert_eq!((r.status, r.aborted), (SAM_STAT_GOOD, false));
    for (tag, sess) in [(10, &sa), (20, &sb)] {
        let r = s.cmd(sess, 0, &TUR, tag, SCST_CONTEXT_THREAD);
        assert_eq!(
            ua_of(&r),
            (SAM_STAT_CHECK_CONDITION, UNIT_ATTENTION, 0x29, 0)
        );
        let r = s.cmd(sess, 0, &TUR, tag + 1, SCST_CONTEXT_THREAD);
        assert_eq!(r.status, SAM_STAT_GOOD);
        let r = s.cmd(sess, 1, &TUR, tag + 2, SCST_CONTEXT_THREAD);
        assert_eq!(r.status, SAM_STAT_GOOD);
    }
    scst_unregister_session(&sa, true, None);
    scst_unregister_session(&sb, true, None);
}

/// TARGET RESET resets every LUN of the session's group; ABORT TASK SET aborts the
/// session's commands of one LUN only.
#[test]
fn target_reset_and_abort_task_set() {
    let s = Setup::new("tt_tm_tgtreset");
    let sess = s.session("iqn.tm.tr");
    scst_rx_mgmt_fn_lun(&sess, SCST_TARGET_RESET, None, false, None).unwrap();
    assert_eq!(
        s.tm_wait(1),
        (SCST_TARGET_RESET, SCST_MGMT_STATUS_SUCCESS, 0)
    );
    for (tag, lun) in [(1, 0), (2, 1)] {
        let r = s.cmd(&sess, lun, &TUR, tag, SCST_CONTEXT_THREAD);
        assert_eq!(
            ua_of(&r),
            (SAM_STAT_CHECK_CONDITION, UNIT_ATTENTION, 0x29, 0)
        );
    }

    s.dops.hold.store(true, SeqCst);
    drop(send(&sess, 1, &read10(4, 1), 3, SCST_CONTEXT_THREAD));
    let dops = s.dops.clone();
    assert!(wait_until(|| dops.in_exec.load(SeqCst) == 1));
    scst_rx_mgmt_fn_lun(&sess, SCST_ABORT_TASK_SET, Some(&lun_field(1)), false, None).unwrap();
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(s.tops.tm_done.lock().len(), 1);
    s.dops.hold.store(false, SeqCst);
    assert_eq!(s.tm_wait(2).1, SCST_MGMT_STATUS_SUCCESS);
    let r = s
        .tops
        .resps
        .lock()
        .iter()
        .find(|r| r.tag == 3)
        .cloned()
        .unwrap();
    assert!(r.aborted);
    // No unit attention for an abort.
    let r = s.cmd(&sess, 1, &TUR, 4, SCST_CONTEXT_THREAD);
    assert_eq!(r.status, SAM_STAT_GOOD);
    scst_unregister_session(&sess, true, None);
}

/// NEXUS LOSS SESS aborts the session's commands and queues I_T NEXUS LOSS OCCURRED; the
/// driver's task_mgmt_affected_cmds_done() and task_mgmt_fn_done() are both called.
#[test]
fn nexus_loss_sess_queues_nexus_loss_ua() {
    let s = Setup::new("tt_tm_nexus");
    let sess = s.session("iqn.tm.nexus");
    scst_rx_mgmt_fn_lun(
        &sess,
        SCST_NEXUS_LOSS_SESS,
        Some(&lun_field(0)),
        false,
        None,
    )
    .unwrap();
    assert_eq!(
        s.tm_wait(1),
        (SCST_NEXUS_LOSS_SESS, SCST_MGMT_STATUS_SUCCESS, 0)
    );
    assert_eq!(s.tops.tm_affected_done.load(SeqCst), 1);
    let r = s.cmd(&sess, 1, &TUR, 1, SCST_CONTEXT_THREAD);
    assert_eq!(
        ua_of(&r),
        (SAM_STAT_CHECK_CONDITION, UNIT_ATTENTION, 0x29, 0x07)
    );
    scst_unregister_session(&sess, true, None);
    // The session's own unregistration (SCST_UNREG_SESS_TM) calls no driver callback.
    assert_eq!(s.tops.tm_done.lock().len(), 1);
}

/// ABORT TASK of a command waiting for its SN behind an ORDERED command that the handler
/// holds: scst_unblock_aborted_cmds() takes it off the deferred list, it finishes aborted and
/// the function answers at once, while the ORDERED command still executes.
#[test]
fn abort_task_of_a_command_deferred_by_its_sn() {
    let s = Setup::new("tt_tm_deferred");
    let sess = s.session("iqn.tm.deferred");
    s.dops.hold.store(true, SeqCst);
    let mut cmds = Vec::new();
    let mut holder = None;
    for (tag, qt) in [(1u64, SCST_CMD_QUEUE_ORDERED), (2, SCST_CMD_QUEUE_SIMPLE)] {
        let cmd = scst_rx_cmd(&sess, &lun_field(0), &read10(0, 1), false).unwrap();
        scst_cmd_set_tag(&cmd, tag);
        scst_cmd_set_queue_type(&cmd, qt);
        scst_cmd_set_expected(&cmd, SCST_DATA_READ, 512);
        if tag == 1 {
            // Executed (and held) on its own thread, so the LUN's thread stays free to
            // defer the next command.
            let c = cmd.clone();
            holder = Some(std::thread::spawn(move || {
                scst_cmd_init_done(&c, SCST_CONTEXT_DIRECT)
            }));
            let dops = s.dops.clone();
            assert!(wait_until(|| dops.in_exec.load(SeqCst) == 1));
        } else {
            scst_cmd_init_done(&cmd, SCST_CONTEXT_THREAD);
        }
        cmds.push(cmd);
    }
    let od = scst_cmd_get_tgt_dev(&cmds[1])
        .unwrap()
        .curr_order_data
        .clone();
    assert!(wait_until(|| atomic_read(&od.def_cmd_count) == 1));
    assert_eq!(scst_cmd_get_state(&cmds[1]), SCST_CMD_STATE_EXEC_CHECK_SN);

    scst_rx_mgmt_fn_tag(&sess, SCST_ABORT_TASK, 2, false, None).unwrap();
    let (f, st, n) = s.tm_wait(1);
    assert_eq!((f, st, n), (SCST_ABORT_TASK, SCST_MGMT_STATUS_SUCCESS, 1));
    let r = s.tops.resps.lock()[0].clone();
    assert_eq!((r.tag, r.aborted), (2, true));
    {
        // Off the deferred list; its SN waits on the skipped list (scst_unblock_deferred())
        // until the ORDERED command is done.
        let l = od.sn_lock.lock();
        assert!(l.deferred_cmd_list.is_empty());
        assert_eq!(l.skipped_sn_list.len(), 1);
    }
    assert_eq!(
        s.dops.in_exec.load(SeqCst),
        1,
        "the aborted command never executed"
    );

    s.dops.hold.store(false, SeqCst);
    if let Some(h) = holder {
        h.join().unwrap();
    }
    let tops = s.tops.clone();
    assert!(wait_until(|| tops.resps.lock().len() == 2));
    let r = s.tops.resps.lock()[1].clone();
    assert_eq!((r.tag, r.status, r.aborted), (1, SAM_STAT_GOOD, false));
    assert!(wait_until(|| atomic_read(&od.def_cmd_count) == 0));
    drop(cmds);
    assert!(wait_until(|| atomic_read(&sess.sess_cmd_count) == 0));
    scst_unregister_session(&sess, true, None);
}

/// The nexus of `sess` to LUN `lun`.
fn tgt_dev_of(sess: &Arc<ScstSession>, lun: u64) -> Arc<ScstTgtDev> {
    sess.sess_tgt_dev_list
        .read()
        .iter()
        .flat_map(|l| l.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>())
        .find(|t| t.lun == lun)
        .unwrap()
}

/// A READ(10) past the end of the disk, with NACA set in the control byte if `naca`.
fn read10_past_end(naca: bool) -> [u8; 10] {
    let mut cdb = read10(0xF000_0000, 1);
    cdb[9] = if naca { CONTROL_BYTE_NACA_BIT } else { 0 };
    cdb
}

impl Setup {
    /// Sends one command with the given task attribute and waits for its response.
    fn cmd_q(&self, sess: &Arc<ScstSession>, cdb: &[u8], tag: u64, queue_type: i32) -> Resp {
        let cmd = scst_rx_cmd(sess, &lun_field(0), cdb, false).unwrap();
        scst_cmd_set_tag(&cmd, tag);
        scst_cmd_set_queue_type(&cmd, queue_type);
        if cdb[0] == READ_10 {
            scst_cmd_set_expected(&cmd, SCST_DATA_READ, 512);
        } else {
            scst_cmd_set_expected(&cmd, SCST_DATA_NONE, 0);
        }
        scst_cmd_init_done(&cmd, SCST_CONTEXT_THREAD);
        drop(cmd);
        self.wait_resp(tag)
    }

    /// Establishes ACA on LUN 0 of `sess` with a NACA READ(10) past the end.
    fn establish_aca(&self, sess: &Arc<ScstSession>, tag: u64) {
        let r = self.cmd(sess, 0, &read10_past_end(true), tag, SCST_CONTEXT_THREAD);
        assert_eq!(
            ua_of(&r),
            (SAM_STAT_CHECK_CONDITION, ILLEGAL_REQUEST, 0x21, 0)
        );
        let t = tgt_dev_of(sess, 0);
        assert_eq!(
            t.curr_order_data.aca_tgt_dev.load(SeqCst),
            scst_tgt_dev_id(&t)
        );
    }
}

/// ACA (shared task set): a CHECK CONDITION of a command with NACA establishes ACA on its
/// nexus. Then from that nexus a SIMPLE command gets ACA ACTIVE and an ACA command runs;
/// another nexus gets BUSY (ACA ACTIVE with NACA set) and INVALID MESSAGE for an ACA
/// command, and may not CLEAR ACA. CLEAR ACA from the faulted nexus clears it, after which
/// SIMPLE commands run and an ACA command is invalid again.
#[test]
fn aca_established_by_naca_and_cleared_by_clear_aca() {
    let s = Setup::new("tt_aca_clear");
    atomic_set(&s.dev(0).tst, i32::from(SCST_TST_0_SINGLE_TASK_SET));
    let sa = s.session("iqn.aca.a");
    let sb = s.session("iqn.aca.b");
    s.establish_aca(&sa, 1);
    let r = s.cmd_q(&sa, &TUR, 2, SCST_CMD_QUEUE_SIMPLE);
    assert_eq!(r.status, SAM_STAT_ACA_ACTIVE);
    let r = s.cmd_q(&sb, &TUR, 3, SCST_CMD_QUEUE_SIMPLE);
    assert_eq!(r.status, SAM_STAT_BUSY);
    let mut tur_naca = TUR;
    tur_naca[5] = CONTROL_BYTE_NACA_BIT;
    let r = s.cmd_q(&sb, &tur_naca, 4, SCST_CMD_QUEUE_SIMPLE);
    assert_eq!(r.status, SAM_STAT_ACA_ACTIVE);
    let r = s.cmd_q(&sb, &TUR, 5, SCST_CMD_QUEUE_ACA);
    assert_eq!(
        ua_of(&r),
        (SAM_STAT_CHECK_CONDITION, ILLEGAL_REQUEST, 0x49, 0)
    );
    // The one ACA command of the faulted nexus runs; LUN 1 is untouched.
    let r = s.cmd_q(&sa, &TUR, 6, SCST_CMD_QUEUE_ACA);
    assert_eq!(r.status, SAM_STAT_GOOD);
    let r = s.cmd(&sa, 1, &TUR, 7, SCST_CONTEXT_THREAD);
    assert_eq!(r.status, SAM_STAT_GOOD);
    let t = tgt_dev_of(&sa, 0);
    assert!(t.curr_order_data.sn_lock.lock().aca_cmd.is_none());
    scst_rx_mgmt_fn_lun(&sb, SCST_CLEAR_ACA, Some(&lun_field(0)), false, None).unwrap();
    assert_eq!(s.tm_wait(1).1, SCST_MGMT_STATUS_REJECTED);
    assert_ne!(t.curr_order_data.aca_tgt_dev.load(SeqCst), 0);
    scst_rx_mgmt_fn_lun(&sa, SCST_CLEAR_ACA, Some(&lun_field(0)), false, None).unwrap();
    assert_eq!(s.tm_wait(2), (SCST_CLEAR_ACA, SCST_MGMT_STATUS_SUCCESS, 7));
    assert_eq!(t.curr_order_data.aca_tgt_dev.load(SeqCst), 0);
    for (tag, sess) in [(10, &sa), (11, &sb)] {
        let r = s.cmd_q(sess, &TUR, tag, SCST_CMD_QUEUE_SIMPLE);
        assert_eq!(r.status, SAM_STAT_GOOD);
    }
    let r = s.cmd_q(&sa, &TUR, 12, SCST_CMD_QUEUE_ACA);
    assert_eq!(
        ua_of(&r),
        (SAM_STAT_CHECK_CONDITION, ILLEGAL_REQUEST, 0x49, 0)
    );
    assert!(wait_until(|| atomic_read(&sa.sess_cmd_count) == 0));
    scst_unregister_session(&sa, true, None);
    scst_unregister_session(&sb, true, None);
}

/// The same CHECK CONDITION without NACA establishes no ACA; with separate task sets (the
/// default) an ACA stays on its own nexus.
#[test]
fn aca_needs_naca_and_stays_in_its_task_set() {
    let s = Setup::new("tt_aca_nonaca");
    let sa = s.session("iqn.aca.n.a");
    let sb = s.session("iqn.aca.n.b");
    let r = s.cmd(&sa, 0, &read10_past_end(false), 1, SCST_CONTEXT_THREAD);
    assert_eq!(
        ua_of(&r),
        (SAM_STAT_CHECK_CONDITION, ILLEGAL_REQUEST, 0x21, 0)
    );
    let t = tgt_dev_of(&sa, 0);
    assert_eq!(t.curr_order_data.aca_tgt_dev.load(SeqCst), 0);
    let r = s.cmd_q(&sa, &TUR, 2, SCST_CMD_QUEUE_SIMPLE);
    assert_eq!(r.status, SAM_STAT_GOOD);
    s.establish_aca(&sa, 3);
    let r = s.cmd_q(&sb, &TUR, 4, SCST_CMD_QUEUE_SIMPLE);
    assert_eq!(r.status, SAM_STAT_GOOD);
    let r = s.cmd_q(&sa, &TUR, 5, SCST_CMD_QUEUE_SIMPLE);
    assert_eq!(r.status, SAM_STAT_ACA_ACTIVE);
    // A CHECK CONDITION of the ACA command without NACA clears the ACA.
    let r = s.cmd_q(&sa, &read10_past_end(false), 6, SCST_CMD_QUEUE_ACA);
    assert_eq!(
        ua_of(&r),
        (SAM_STAT_CHECK_CONDITION, ILLEGAL_REQUEST, 0x21, 0)
    );
    assert_eq!(t.curr_order_data.aca_tgt_dev.load(SeqCst), 0);
    let r = s.cmd_q(&sa, &TUR, 7, SCST_CMD_QUEUE_SIMPLE);
    assert_eq!(r.status, SAM_STAT_GOOD);
    assert!(wait_until(|| atomic_read(&sa.sess_cmd_count) == 0));
    scst_unregister_session(&sa, true, None);
    scst_unregister_session(&sb, true, None);
}

/// LUN RESET clears an ACA (scst_process_reset()); commands run again afterwards (the
/// first one reporting the reset).
#[test]
fn lun_reset_clears_aca() {
    let s = Setup::new("tt_aca_lunreset");
    let sa = s.session("iqn.aca.lr.a");
    s.establish_aca(&sa, 1);
    scst_rx_mgmt_fn_lun(&sa, SCST_LUN_RESET, Some(&lun_field(0)), false, None).unwrap();
    assert_eq!(s.tm_wait(1).1, SCST_MGMT_STATUS_SUCCESS);
    let t = tgt_dev_of(&sa, 0);
    assert_eq!(t.curr_order_data.aca_tgt_dev.load(SeqCst), 0);
    let r = s.cmd_q(&sa, &TUR, 2, SCST_CMD_QUEUE_SIMPLE);
    assert_eq!(
        ua_of(&r),
        (SAM_STAT_CHECK_CONDITION, UNIT_ATTENTION, 0x29, 0)
    );
    let r = s.cmd_q(&sa, &TUR, 3, SCST_CMD_QUEUE_SIMPLE);
    assert_eq!(r.status, SAM_STAT_GOOD);
    assert!(wait_until(|| atomic_read(&sa.sess_cmd_count) == 0));
    scst_unregister_session(&sa, true, None);
}

/// While ACA is active, the answer of a command of another nexus that was already executing
/// is held back until the ACA is cleared (shared task set).
#[test]
fn aca_holds_back_answers_of_other_nexuses() {
    let s = Setup::new("tt_aca_defer");
    atomic_set(&s.dev(0).tst, i32::from(SCST_TST_0_SINGLE_TASK_SET));
    let sa = s.session("iqn.aca.d.a");
    let sb = s.session("iqn.aca.d.b");
    s.dops.hold_tur.store(true, SeqCst);
    let in_exec = s.dops.in_exec.load(SeqCst);
    drop(send(&sb, 0, &TUR, 1, SCST_CONTEXT_THREAD));
    let dops = s.dops.clone();
    assert!(wait_until(|| dops.in_exec.load(SeqCst) == in_exec + 1));
    // HEAD OF QUEUE, not to wait for the SN of the executing command.
    let r = s.cmd_q(&sa, &read10_past_end(true), 2, SCST_CMD_QUEUE_HEAD_OF_QUEUE);
    assert_eq!(
        ua_of(&r),
        (SAM_STAT_CHECK_CONDITION, ILLEGAL_REQUEST, 0x21, 0)
    );
    let ta = tgt_dev_of(&sa, 0);
    assert_eq!(
        ta.curr_order_data.aca_tgt_dev.load(SeqCst),
        scst_tgt_dev_id(&ta)
    );
    s.dops.hold_tur.store(false, SeqCst);
    let t = tgt_dev_of(&sb, 0);
    let od = t.curr_order_data.clone();
    assert!(wait_until(|| od.sn_lock.lock().deferred_cmd_list.len() == 1));
    assert!(!s.tops.resps.lock().iter().any(|r| r.tag == 1));
    scst_rx_mgmt_fn_lun(&sa, SCST_CLEAR_ACA, Some(&lun_field(0)), false, None).unwrap();
    assert_eq!(s.tm_wait(1).1, SCST_MGMT_STATUS_SUCCESS);
    let tops = s.tops.clone();
    assert!(wait_until(|| tops.resps.lock().iter().any(|r| r.tag == 1)));
    let r = s
        .tops
        .resps
        .lock()
        .iter()
        .find(|r| r.tag == 1)
        .cloned()
        .unwrap();
    assert_eq!(r.status, SAM_STAT_GOOD);
    assert!(wait_until(|| atomic_read(&sb.sess_cmd_count) == 0));
    scst_unregister_session(&sa, true, None);
    scst_unregister_session(&sb, true, None);
}
