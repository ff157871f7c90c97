// SPDX-License-Identifier: GPL-2.0-only
//! **scst_core** — the port of the SCST core (`scst/src/*.c`, `scst/include/*.h` of SCST r7105):
//! target-driver and device-handler registration (`scst_main.c`), the command state machine,
//! task management and session handling (`scst_targ.c`), object management, access groups,
//! unit attentions, sense and the CDB table (`scst_lib.c`), the `/proc/scsi_tgt` handlers
//! (`scst_proc.c`), persistent reservations (`scst_pres.c`), ALUA (`scst_tg.c`), the SGV buffer
//! pool (`scst_mem.c`) and the public structures of `scst.h`/`scst_const.h`.
//!
//! One C file becomes one module of the same stem; docs/PORTING.md tracks which are ported.
//! So far: the constants of `scst_const.h` and `scst.h`; the management layer — registration
//! of target drivers, targets, sessions, virtual device handlers, devices and LUNs, the
//! procfs access groups, the global threads; and the command datapath — `scst_cmd`,
//! `scst_tgt_dev` with its command threads, the `SCST_CMD_STATE_*` state machine with SN
//! ordering, local REPORT LUNS / REQUEST SENSE, the CDB table and sense helpers (`scst_main`,
//! `scst_targ`, `scst_lib`, `scst_priv`); the SGV buffer cache (`scst_mem`); SPC-2 and
//! persistent reservations (`scst_pres`). Task management, unit attentions, ALUA and activity
//! suspension come later.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod scst; // scst.h: the public SCST interface
pub mod scst_const; // scst_const.h: SCST's shared constants
pub mod scst_lib; // scst_lib.c: object management (targets, devices, sessions, groups)
pub mod scst_main; // scst_main.c: registration, global lists and threads, init/exit
pub mod scst_mem; // scst_mem.c + scst_mem.h + scst_sgv.h: the SGV buffer cache
pub mod scst_pres; // scst_pres.c + scst_pres.h: persistent reservations
pub mod scst_priv; // scst_priv.h: the core's private helpers
pub mod scst_proc; // scst_proc.c: the /proc/scsi_tgt write commands
pub mod scst_targ; // scst_targ.c: sessions, the command state machine, the command threads

#[cfg(test)]
mod tests_datapath; // the command datapath end to end (issue 6)

/// Helpers shared by the unit tests of the modules that touch SCST's globals.
#[cfg(test)]
pub(crate) mod testutil {
    use crate::scst::{
        ScstDevType, ScstDevTypeOps, ScstDevice, ScstSession, ScstTgt, ScstTgtTemplate,
        ScstTgtTemplateOps,
    };
    use crate::scst_main::exit_scst;
    use crate::scst_targ::scst_unregister_session;
    use kemu::sync::{Mutex, MutexGuard};
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;

    /// Every test that touches the globals holds this for its whole run.
    static SCST_TEST_MUTEX: Mutex<()> = Mutex::new(());

    /// SCST loaded for one test: `init_scst()` on creation, `exit_scst()` on drop (also when
    /// the test panics), with the test mutex held in between.
    pub(crate) struct Loaded {
        _g: MutexGuard<'static, ()>,
    }

    impl Loaded {
        pub(crate) fn new() -> Self {
            let g = SCST_TEST_MUTEX.lock();
            crate::scst_main::init_scst().unwrap();
            Self { _g: g }
        }
    }

    impl Drop for Loaded {
        fn drop(&mut self) {
            exit_scst();
        }
    }

    /// Holds the test mutex without loading SCST.
    pub(crate) fn serialise() -> MutexGuard<'static, ()> {
        SCST_TEST_MUTEX.lock()
    }

    /// A target driver whose `release()` unregisters (and waits for) the sessions it was
    /// given, as real drivers do.
    #[derive(Default)]
    pub(crate) struct TestTgtOps {
        pub(crate) sessions: Mutex<Vec<Arc<ScstSession>>>,
        pub(crate) released: AtomicUsize,
        pub(crate) unregister_on_release: bool,
    }

    impl ScstTgtTemplateOps for TestTgtOps {
        fn release(&self, _tgt: &Arc<ScstTgt>) -> i32 {
            self.released.fetch_add(1, SeqCst);
            if self.unregister_on_release {
                let sessions = std::mem::take(&mut *self.sessions.lock());
                for s in sessions {
                    scst_unregister_session(&s, true, None);
                }
            }
            0
        }
    }

    pub(crate) fn template(name: &'static str, ops: Arc<TestTgtOps>) -> Arc<ScstTgtTemplate> {
        Arc::new(ScstTgtTemplate::new(name, ops))
    }

    /// A device handler counting its attach()/detach() calls; attach fails when asked to.
    #[derive(Default)]
    pub(crate) struct TestDevOps {
        pub(crate) attached: AtomicUsize,
        pub(crate) detached: AtomicUsize,
        pub(crate) fail_attach: bool,
    }

    impl ScstDevTypeOps for TestDevOps {
        fn attach(&self, _dev: &Arc<ScstDevice>) -> i32 {
            self.attached.fetch_add(1, SeqCst);
            if self.fail_attach {
                -(kemu::Errno::EIO as i32)
            } else {
                0
            }
        }
        fn detach(&self, _dev: &Arc<ScstDevice>) {
            self.detached.fetch_add(1, SeqCst);
        }
    }

    pub(crate) fn dev_type(name: &'static str, ops: Arc<TestDevOps>) -> Arc<ScstDevType> {
        Arc::new(ScstDevType::new(name, 0, ops))
    }

    pub(crate) use kemu::testutil::wait_until;

    /// The names (`comm`) of this process's threads.
    pub(crate) fn thread_names() -> Vec<String> {
        let mut v = Vec::new();
        if let Ok(rd) = std::fs::read_dir("/proc/self/task") {
            for e in rd.flatten() {
                if let Ok(s) = std::fs::read_to_string(e.path().join("comm")) {
                    v.push(s.trim_end().to_owned());
                }
            }
        }
        v
    }
}
