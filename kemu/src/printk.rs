// SPDX-License-Identifier: GPL-2.0-only
//! `printk` and SCST's logging macros (`scst/include/scst_debug.h`): `PRINT_ERROR`,
//! `PRINT_CRIT_ERROR`, `PRINT_WARNING`, `PRINT_INFO`, and the mask-gated `TRACE*` family.
//!
//! Messages go to the `log` facade (target = the Rust module path), so a binary picks the sink
//! with [`init_logging`]. The `PRINT_*` macros always log, with SCST's `***ERROR***: `-style
//! prefixes so logs stay comparable with a kernel running SCST.
//!
//! The `TRACE*` macros log only when their mask bit is set in the **trace flag word of the
//! calling module**, as SCST's `trace_flag` per source file: the macros name `TRACE_FLAG`
//! without a path, so it resolves where the macro is used. Each ported module (or its crate
//! root, imported with `use`) declares
//! `static TRACE_FLAG: kemu::printk::TraceFlag = TraceFlag::new(SCST_DEFAULT_LOG_FLAGS);`.
//! The `trace_level` /proc files change that word at run time.

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// C `TRACE_NULL`.
pub const TRACE_NULL: u32 = 0x0000_0000;
/// C `TRACE_DEBUG`.
pub const TRACE_DEBUG: u32 = 0x0000_0001;
/// C `TRACE_FUNCTION`.
pub const TRACE_FUNCTION: u32 = 0x0000_0002;
/// C `TRACE_LINE`.
pub const TRACE_LINE: u32 = 0x0000_0004;
/// C `TRACE_PID`.
pub const TRACE_PID: u32 = 0x0000_0008;
/// C `TRACE_ENTRYEXIT`.
pub const TRACE_ENTRYEXIT: u32 = 0x0000_0010;
/// C `TRACE_BUFF`.
pub const TRACE_BUFF: u32 = 0x0000_0020;
/// C `TRACE_MEMORY`.
pub const TRACE_MEMORY: u32 = 0x0000_0040;
/// C `TRACE_SG_OP`.
pub const TRACE_SG_OP: u32 = 0x0000_0080;
/// C `TRACE_OUT_OF_MEM`.
pub const TRACE_OUT_OF_MEM: u32 = 0x0000_0100;
/// C `TRACE_MINOR`: less important events.
pub const TRACE_MINOR: u32 = 0x0000_0200;
/// C `TRACE_MGMT`.
pub const TRACE_MGMT: u32 = 0x0000_0400;
/// C `TRACE_MGMT_DEBUG`.
pub const TRACE_MGMT_DEBUG: u32 = 0x0000_0800;
/// C `TRACE_SCSI`.
pub const TRACE_SCSI: u32 = 0x0000_1000;
/// C `TRACE_SPECIAL`: filtering debug and the like.
pub const TRACE_SPECIAL: u32 = 0x0000_2000;
/// C `TRACE_FLOW_CONTROL`: flow control in action.
pub const TRACE_FLOW_CONTROL: u32 = 0x0000_4000;
/// C `TRACE_PRES`: persistent reservations.
pub const TRACE_PRES: u32 = 0x0000_8000;
/// C `TRACE_BLOCKING`.
pub const TRACE_BLOCKING: u32 = 0x0001_0000;
/// C `TRACE_ALL`.
pub const TRACE_ALL: u32 = 0xffff_ffff;

/// C `SCST_DEFAULT_LOG_FLAGS` (`scst_priv.h`) of a tracing, non-debug build (the build the
/// port reproduces): out-of-memory, management, PIDs and special filtering.
pub const SCST_DEFAULT_LOG_FLAGS: u32 = TRACE_OUT_OF_MEM | TRACE_MGMT | TRACE_PID | TRACE_SPECIAL;

/// C `unsigned long trace_flag`: the mask word of one module, read by the `TRACE*` macros.
#[derive(Debug)]
pub struct TraceFlag(AtomicU32);

impl TraceFlag {
    /// C: `unsigned long trace_flag = mask;`.
    pub const fn new(mask: u32) -> Self {
        Self(AtomicU32::new(mask))
    }
    /// C: reading `trace_flag`.
    pub fn get(&self) -> u32 {
        self.0.load(Relaxed)
    }
    /// C: assigning `trace_flag` (a write to a `trace_level` file).
    pub fn set(&self, mask: u32) {
        self.0.store(mask, Relaxed)
    }
    /// C: `trace_flag & mask`, the test inside `TRACE()`.
    pub fn enabled(&self, mask: u32) -> bool {
        self.get() & mask != 0
    }
}

/// C `PRINT_ERROR(fmt, …)`: always logged, prefixed `***ERROR***: `.
#[macro_export]
macro_rules! PRINT_ERROR {
    ($($arg:tt)+) => { $crate::__log::error!("***ERROR***: {}", format_args!($($arg)+)) };
}

/// C `PRINT_CRIT_ERROR(fmt, …)`: always logged, prefixed `***CRITICAL ERROR***: `.
#[macro_export]
macro_rules! PRINT_CRIT_ERROR {
    ($($arg:tt)+) => { $crate::__log::error!("***CRITICAL ERROR***: {}", format_args!($($arg)+)) };
}

/// C `PRINT_WARNING(fmt, …)`: always logged, prefixed `***WARNING***: `.
#[macro_export]
macro_rules! PRINT_WARNING {
    ($($arg:tt)+) => { $crate::__log::warn!("***WARNING***: {}", format_args!($($arg)+)) };
}

/// C `PRINT_INFO(fmt, …)`: always logged.
#[macro_export]
macro_rules! PRINT_INFO {
    ($($arg:tt)+) => { $crate::__log::info!($($arg)+) };
}

/// C `TRACE(mask, fmt, …)`: logged when `mask` is enabled in the calling module's
/// `TRACE_FLAG`.
#[macro_export]
macro_rules! TRACE {
    ($mask:expr, $($arg:tt)+) => {
        if TRACE_FLAG.enabled($mask) {
            $crate::__log::info!($($arg)+)
        }
    };
}

/// C `TRACE_DBG(fmt, …)`: a [`TRACE!`] with `TRACE_DEBUG`, at debug level.
#[macro_export]
macro_rules! TRACE_DBG {
    ($($arg:tt)+) => {
        if TRACE_FLAG.enabled($crate::printk::TRACE_DEBUG) {
            $crate::__log::debug!($($arg)+)
        }
    };
}

/// C `TRACE_MGMT_DBG(fmt, …)`: a [`TRACE!`] with `TRACE_MGMT_DEBUG`, at debug level.
#[macro_export]
macro_rules! TRACE_MGMT_DBG {
    ($($arg:tt)+) => {
        if TRACE_FLAG.enabled($crate::printk::TRACE_MGMT_DEBUG) {
            $crate::__log::debug!($($arg)+)
        }
    };
}

/// C `TRACE_MGMT(fmt, …)`: management events.
#[macro_export]
macro_rules! TRACE_MGMT {
    ($($arg:tt)+) => { $crate::TRACE!($crate::printk::TRACE_MGMT, $($arg)+) };
}

/// C `TRACE_SCSI(fmt, …)`.
#[macro_export]
macro_rules! TRACE_SCSI {
    ($($arg:tt)+) => { $crate::TRACE!($crate::printk::TRACE_SCSI, $($arg)+) };
}

/// C `TRACE_MEM(fmt, …)`.
#[macro_export]
macro_rules! TRACE_MEM {
    ($($arg:tt)+) => {
        if TRACE_FLAG.enabled($crate::printk::TRACE_MEMORY) {
            $crate::__log::trace!($($arg)+)
        }
    };
}

/// C `TRACE_SG(fmt, …)`.
#[macro_export]
macro_rules! TRACE_SG {
    ($($arg:tt)+) => {
        if TRACE_FLAG.enabled($crate::printk::TRACE_SG_OP) {
            $crate::__log::trace!($($arg)+)
        }
    };
}

/// C `TRACE_ENTRY()`: logs entry into the calling function with `TRACE_ENTRYEXIT`.
#[macro_export]
macro_rules! TRACE_ENTRY {
    () => {
        if TRACE_FLAG.enabled($crate::printk::TRACE_ENTRYEXIT) {
            $crate::__log::trace!("ENTRY {}:{}", module_path!(), line!())
        }
    };
}

/// C `TRACE_EXIT()`: logs the exit of the calling function with `TRACE_ENTRYEXIT`.
#[macro_export]
macro_rules! TRACE_EXIT {
    () => {
        if TRACE_FLAG.enabled($crate::printk::TRACE_ENTRYEXIT) {
            $crate::__log::trace!("EXIT {}:{}", module_path!(), line!())
        }
    };
}

/// C `TRACE_EXIT_RES(res)`: logs the exit and the result with `TRACE_ENTRYEXIT`.
#[macro_export]
macro_rules! TRACE_EXIT_RES {
    ($res:expr) => {
        if TRACE_FLAG.enabled($crate::printk::TRACE_ENTRYEXIT) {
            $crate::__log::trace!("EXIT {}:{}: {:?}", module_path!(), line!(), $res)
        }
    };
}

/// Where [`init_logging`] sends messages (C: the console, or syslog for the daemon).
#[derive(Debug)]
pub enum LogSink {
    /// Standard error (the foreground mode, `-f`).
    Stderr,
    /// A file (the daemonised mode logs there instead of syslog).
    File(std::fs::File),
}

/// Installs the process's log sink at `level` (C: the printk console log level). Fails if a logger
/// is already installed.
pub fn init_logging(level: log::LevelFilter, sink: LogSink) -> Result<(), log::SetLoggerError> {
    let config = simplelog::ConfigBuilder::new()
        .set_thread_level(log::LevelFilter::Error)
        .set_thread_mode(simplelog::ThreadLogMode::Names)
        .set_target_level(log::LevelFilter::Off)
        .build();
    match sink {
        LogSink::Stderr => simplelog::TermLogger::init(
            level,
            config,
            simplelog::TerminalMode::Stderr,
            simplelog::ColorChoice::Never,
        ),
        LogSink::File(f) => simplelog::WriteLogger::init(level, config, f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    static TRACE_FLAG: TraceFlag = TraceFlag::new(TRACE_MGMT);

    #[test]
    fn trace_flag_gates() {
        assert!(TRACE_FLAG.enabled(TRACE_MGMT));
        assert!(!TRACE_FLAG.enabled(TRACE_DEBUG));
        assert!(TRACE_FLAG.enabled(TRACE_MGMT | TRACE_DEBUG));
        let f = TraceFlag::new(0);
        assert_eq!(f.get(), 0);
        f.set(TRACE_SCSI | TRACE_PRES);
        assert_eq!(f.get(), 0x9000);
        assert!(f.enabled(TRACE_PRES) && !f.enabled(TRACE_MINOR));
        assert_eq!(TRACE_ALL, u32::MAX);
        assert_eq!(SCST_DEFAULT_LOG_FLAGS, 0x2508);
    }

    #[test]
    fn macros_evaluate_arguments_only_when_enabled() {
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        // Without a logger `log` skips its arguments; open it up so only our gating counts.
        log::set_max_level(log::LevelFilter::Trace);
        fn arg() -> usize {
            CALLS.fetch_add(1, Relaxed)
        }
        crate::TRACE_DBG!("disabled {}", arg());
        crate::TRACE_MEM!("disabled {}", arg());
        crate::TRACE_SG!("disabled {}", arg());
        crate::TRACE_SCSI!("disabled {}", arg());
        crate::TRACE_MGMT_DBG!("disabled {}", arg());
        crate::TRACE_ENTRY!();
        crate::TRACE_EXIT!();
        crate::TRACE_EXIT_RES!(arg());
        assert_eq!(CALLS.load(Relaxed), 0);
        crate::TRACE_MGMT!("enabled {}", arg());
        crate::TRACE!(TRACE_MGMT, "enabled {}", arg());
        assert_eq!(CALLS.load(Relaxed), 2);
        crate::PRINT_ERROR!("e {}", arg());
        crate::PRINT_CRIT_ERROR!("c {}", arg());
        crate::PRINT_WARNING!("w {}", arg());
        crate::PRINT_INFO!("i {}", arg());
        assert_eq!(CALLS.load(Relaxed), 6);
    }

    /// The only test in this crate that installs the process's logger.
    #[test]
    fn init_logging_writes_scst_prefixes_to_the_file() {
        let path = std::env::temp_dir().join(format!("kemu-log-{}.txt", std::process::id()));
        let f = std::fs::File::create(&path).unwrap();
        init_logging(log::LevelFilter::Info, LogSink::File(f)).unwrap();
        let again = init_logging(log::LevelFilter::Info, LogSink::Stderr);
        assert!(again.is_err(), "a second logger must be refused");
        crate::PRINT_ERROR!("disk {} gone", 7);
        crate::PRINT_WARNING!("slow");
        crate::PRINT_CRIT_ERROR!("bad");
        log::logger().flush();
        let text = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert!(text.contains("***ERROR***: disk 7 gone"), "{text}");
        assert!(text.contains("***WARNING***: slow"), "{text}");
        assert!(text.contains("***CRITICAL ERROR***: bad"), "{text}");
    }
}
