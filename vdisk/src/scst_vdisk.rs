// SPDX-License-Identifier: GPL-2.0-only
//
// Port of scst_vdisk.c. Upstream copyright:
//  Copyright (C) 2004 - 2016 Vladislav Bolkhovitin <vst@vlnb.net>
//  Copyright (C) 2004 - 2005 Leonid Stoljar
//  Copyright (C) 2007 Ming Zhang <blackmagic02881 at gmail dot com>
//  Copyright (C) 2007 Ross Walker <rswwalker at hotmail dot com>
//  Copyright (C) 2007 - 2016 SanDisk Corporation
//  Copyright (C) 2008 - 2016 Bart Van Assche <bvanassche@acm.org>
// Rust port: Copyright (C) 2026 The scst-rs authors.
// Licensed under the GNU General Public License, version 2 only.

//! Port of `scst/src/dev_handlers/scst_vdisk.c` (SCST r7105, procfs build): device management
//! of the virtual disk handler — the `vdisk_fileio`, `vdisk_blockio`, `vdisk_nullio` and
//! `vcdrom` device types, the `struct scst_vdisk_dev` objects on `vdev_list`, their creation
//! and deletion through the `/proc/scsi_tgt/vdisk/vdisk` commands, and the module init/exit.
//! SCSI command execution is in the sub-modules [`exec`], [`fileio`], [`nullio`] and
//! [`cmd`].
//!
//! # Locking
//!
//! C's `scst_vdisk_mutex` protects `vdev_list` and is the outer lock with respect to
//! `scst_mutex`: it is taken before `scst_register_virtual_device()` and
//! `scst_unregister_virtual_device()`, which call this handler's `attach()`/`detach()` with
//! `scst_mutex` held. In C those callbacks search `vdev_list` without locking, relying on the
//! caller holding `scst_vdisk_mutex`. The callbacks here cannot reach the caller's guard, so
//! the thread that holds [`scst_vdisk_mutex`] publishes the list it sees in a thread-local
//! (`VdevListHeld`) for the duration of those calls; `vdev_find_held()` searches it. The
//! lock order stays C's.

// Globals keep their C names (scst_vdisk_mutex, vdisk_file_devtype, num_threads …).
#![allow(non_upper_case_globals)]

pub mod cmd; // parse()/exec() over the core's ScstCmd
pub mod exec; // SCSI command execution shared by the handlers (INQUIRY, MODE SENSE …)
pub mod fileio; // FILEIO: the backing file descriptor and READ through preadv(2)
pub mod mode_select; // MODE SELECT: the caching and control pages
pub mod nullio; // NULLIO: READ without I/O
pub mod op_descr; // the opcode descriptors for REPORT SUPPORTED OPERATION CODES
pub mod provision; // WRITE SAME, UNMAP, FORMAT UNIT

use kemu::atomic::{atomic_read, atomic_set, AtomicT};
use kemu::list::{AtomicListHandle, List};
use kemu::printk::{TraceFlag, SCST_DEFAULT_LOG_FLAGS};
use kemu::sync::{Mutex, MutexGuard, RwLock, SpinLock};
use kemu::{Errno, PRINT_ERROR, PRINT_INFO, PRINT_WARNING, TRACE, TRACE_DBG};
use scst_core::scst::{
    CmdState, ScstCmd, ScstDevType, ScstDevTypeOps, ScstDevice, ScstGetSupportedOpcodesFn,
    ScstTgtDev,
};
use scst_core::scst_const::{SCST_TST_1_SEP_TASK_SETS, TYPE_DISK, TYPE_ROM};
use scst_core::scst_main::{
    scst_register_virtual_dev_driver, scst_register_virtual_device,
    scst_unregister_virtual_dev_driver, scst_unregister_virtual_device,
};
use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::sync::atomic::{
    AtomicBool, AtomicI32, AtomicI64, AtomicU32, AtomicU64, Ordering::Relaxed,
};
use std::sync::{Arc, LazyLock, Weak};

/// C `trace_flag` of scst_vdisk.c (`SCST_DEFAULT_DEV_LOG_FLAGS` in C; the core's default
/// mask until the per-handler masks are ported).
static TRACE_FLAG: TraceFlag = TraceFlag::new(SCST_DEFAULT_LOG_FLAGS);

/// C `SCST_FIO_VENDOR`: the 8-byte ASCII T10 vendor id of FILEIO (and NULLIO) devices.
pub const SCST_FIO_VENDOR: &str = "SCST_FIO";
/// C `SCST_BIO_VENDOR`: the T10 vendor id of BLOCKIO devices.
pub const SCST_BIO_VENDOR: &str = "SCST_BIO";
/// C `SCST_FIO_REV`: the 4-byte product revision level. At r7105 it has a leading space
/// although the C comment calls it left aligned (upstream moved the space in r7123).
pub const SCST_FIO_REV: &str = " 330";
/// C `MAX_USN_LEN`: size of the unit serial number buffer, NUL included.
pub const MAX_USN_LEN: usize = 20 + 1;

/// C `DEF_DISK_BLOCK_SHIFT`: 512-byte blocks by default.
pub const DEF_DISK_BLOCK_SHIFT: i32 = 9;
/// C `DEF_CDROM_BLOCK_SHIFT` (used only by the sysfs `vcdrom_add_device`).
pub const DEF_CDROM_BLOCK_SHIFT: i32 = 11;
/// C `DEF_RD_ONLY`.
pub const DEF_RD_ONLY: bool = false;
/// C `DEF_WRITE_THROUGH`.
pub const DEF_WRITE_THROUGH: bool = false;
/// C `DEF_NV_CACHE`.
pub const DEF_NV_CACHE: bool = false;
/// C `DEF_O_DIRECT`.
pub const DEF_O_DIRECT: bool = false;
/// C `DEF_DUMMY`.
pub const DEF_DUMMY: bool = false;
/// C `DEF_READ_ZERO`.
pub const DEF_READ_ZERO: bool = false;
/// C `DEF_REMOVABLE`.
pub const DEF_REMOVABLE: bool = false;
/// C `DEF_ROTATIONAL`.
pub const DEF_ROTATIONAL: bool = true;
/// C `DEF_THIN_PROVISIONED`.
pub const DEF_THIN_PROVISIONED: bool = false;
/// C `DEF_EXPL_ALUA`.
pub const DEF_EXPL_ALUA: bool = false;
/// C `DEF_TST`: a separate task set per I_T nexus.
pub const DEF_TST: u8 = SCST_TST_1_SEP_TASK_SETS;
/// C `VDISK_NULLIO_SIZE`: 5 TiB / 2 = 2.5 TiB, the size of a NULLIO device.
pub const VDISK_NULLIO_SIZE: i64 = 5 * 1024 * 1024 * 1024 * 1024 / 2;
/// C `DEF_NUM_THREADS` (kernels ≥ 2.6.29): default of the `num_threads` parameter.
pub const DEF_NUM_THREADS: i32 = 8;
/// C `VDEV_MODE_PAGES_DIR`: where MODE SELECT saves pages (`SCST_VAR_DIR/vdev_mode_pages`).
pub const VDEV_MODE_PAGES_DIR: &str = "/var/lib/scst/vdev_mode_pages";

/// C module parameter `num_threads`: threads per initiator of `vdisk_fileio` and `vcdrom`.
/// Read when the device types are first built (C: read-only parameter, read at init).
pub static num_threads: AtomicT = AtomicT::new(DEF_NUM_THREADS);

/// C module parameter `scst_vdisk_ID` (procfs builds): the "SCST virtual disk subsystem ID",
/// the upper 32 bits of every device's `dev_id_num`.
pub static scst_vdisk_ID: AtomicT = AtomicT::new(0);

/// C `vdev_saved_mode_pages_enabled`: cleared at init when [`VDEV_MODE_PAGES_DIR`] is missing.
pub static vdev_saved_mode_pages_enabled: AtomicBool = AtomicBool::new(true);

/// The identity attributes that C protects with the global `vdisk_serial_rwlock`. Each
/// device keeps them under its own `RwLock` (see [`ScstVdiskDev::vdisk_serial`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VdiskSerial {
    /// C `t10_vend_id_set`: set manually.
    pub t10_vend_id_set: bool,
    /// C `vend_specific_id_set`.
    pub vend_specific_id_set: bool,
    /// C `prod_id_set`.
    pub prod_id_set: bool,
    /// C `prod_rev_lvl_set`.
    pub prod_rev_lvl_set: bool,
    /// C `scsi_device_name_set`.
    pub scsi_device_name_set: bool,
    /// C `t10_dev_id_set`.
    pub t10_dev_id_set: bool,
    /// C `usn_set`.
    pub usn_set: bool,
    /// C `t10_vend_id[8 + 1]`.
    pub t10_vend_id: String,
    /// C `vend_specific_id[128 + 1]`.
    pub vend_specific_id: String,
    /// C `prod_id[16 + 1]`.
    pub prod_id: String,
    /// C `prod_rev_lvl[4 + 1]`.
    pub prod_rev_lvl: String,
    /// C `scsi_device_name[256 + 1]`.
    pub scsi_device_name: String,
    /// C `t10_dev_id[16 + 8 + 2]`: the T10 device id, at most 25 characters.
    pub t10_dev_id: String,
    /// C `eui64_id` / `eui64_id_len` (length 0: unset).
    pub eui64_id: Vec<u8>,
    /// C `naa_id` / `naa_id_len` (length 0: unset).
    pub naa_id: Vec<u8>,
    /// C `usn[MAX_USN_LEN]`: the unit serial number.
    pub usn: String,
    /// C `inq_vend_specific` / `inq_vend_specific_len`.
    pub inq_vend_specific: Vec<u8>,
}

/// C `struct scst_vdisk_dev`: one virtual disk or CD-ROM of this handler (the fields that
/// creation and identity need so far; the I/O state comes with command execution).
///
/// Fields fixed once the device is on `vdev_list` are plain. The flags, which C protects with
/// `flags_lock` *or* suspended activity plus `scst_vdisk_mutex`, are atomics; so are the size
/// fields, which C reads without a lock.
#[doc(alias = "scst_vdisk_dev")]
#[derive(Debug)]
pub struct ScstVdiskDev {
    /// C `nblocks`: size in blocks of `1 << blk_shift` bytes.
    pub nblocks: AtomicU64,
    /// C `file_size`: size in bytes.
    pub file_size: AtomicI64,
    /// C `rd_only`.
    pub rd_only: AtomicBool,
    /// C `wt_flag`: WRITE_THROUGH.
    pub wt_flag: AtomicBool,
    /// C `nv_cache`.
    pub nv_cache: AtomicBool,
    /// C `o_direct_flag` (procfs `O_DIRECT` is accepted and ignored, as in C).
    pub o_direct_flag: AtomicBool,
    /// C `zero_copy`.
    pub zero_copy: AtomicBool,
    /// C `nullio`: no backing storage.
    pub nullio: bool,
    /// C `blockio`: direct block-device I/O.
    pub blockio: bool,
    /// C `cdrom_empty`: a vcdrom without medium.
    pub cdrom_empty: AtomicBool,
    /// C `dummy`.
    pub dummy: AtomicBool,
    /// C `read_zero`.
    pub read_zero: AtomicBool,
    /// C `removable`.
    pub removable: AtomicBool,
    /// C `thin_provisioned`.
    pub thin_provisioned: AtomicBool,
    /// C `rotational`.
    pub rotational: AtomicBool,
    /// C `tst`.
    pub tst: u8,
    /// C `expl_alua`.
    pub expl_alua: AtomicBool,
    /// C `reexam_pending`: a BLOCKIO size read failed with `EMEDIUMTYPE` (DRBD passive?).
    pub reexam_pending: AtomicBool,
    /// C `virt_id`: what `scst_register_virtual_device()` returned.
    pub virt_id: AtomicI32,
    /// C `name[64 + 1]`: the device name, at most 64 characters.
    pub name: String,
    /// C `filename` (`None` for a NULLIO device created without one, or an empty vcdrom).
    pub filename: Option<String>,
    /// C `command_set_version` (set only by the sysfs `add_device`; 0 in procfs builds).
    pub command_set_version: u16,
    /// The identity attributes; C `vdisk_serial_rwlock` (see [`VdiskSerial`]).
    pub vdisk_serial: RwLock<VdiskSerial>,
    /// C `dev`: the SCST device, set by `vdisk_attach()`.
    pub dev: SpinLock<Weak<ScstDevice>>,
    /// C `vdev_devt`: the handler the device is registered with (procfs `NULLIO`/`BLOCKIO`
    /// switch it from `vdisk_fileio`).
    pub vdev_devt: Arc<ScstDevType>,
    /// C `blk_shift`: the block shift handed to `attach()`.
    pub blk_shift: i32,
    /// C `wt_flag_saved`: the saved WRITE_THROUGH (caching mode page, PC = 3). Zero as C's
    /// `kzalloc` leaves it until MODE SELECT saves pages (not ported yet).
    pub wt_flag_saved: AtomicBool,
    /// C `discard_zeroes_data`: LBPRZ. Always 0 for FILEIO in r7105 (`vdisk_attach()`);
    /// BLOCKIO would take it from the queue limits.
    pub discard_zeroes_data: AtomicBool,
    /// C `unmap_opt_gran`: OPTIMAL UNMAP GRANULARITY of VPD page B0h (thin devices).
    pub unmap_opt_gran: AtomicU32,
    /// C `unmap_align`: UNMAP GRANULARITY ALIGNMENT of VPD page B0h (0: none).
    pub unmap_align: AtomicU32,
    /// C `unmap_max_lba_cnt`: MAXIMUM UNMAP LBA COUNT of VPD page B0h.
    pub unmap_max_lba_cnt: AtomicU32,
    /// C `dev->dpicz`: DPICZ of the control mode page, changed by MODE SELECT (the core's
    /// `ScstDevice` has no such field yet; C keeps it there).
    pub dpicz: AtomicBool,
    /// C `prevent_allow_medium_removal`: the PREVENT bit of the last PREVENT ALLOW MEDIUM
    /// REMOVAL (C protects it with `flags_lock`).
    pub prevent_allow_medium_removal: AtomicBool,
    /// C `format_active`: FORMAT UNIT is running; other commands but INQUIRY, REPORT LUNS
    /// and REQUEST SENSE get NOT READY, FORMAT IN PROGRESS (C: set under `flags_lock`, read
    /// without it).
    pub format_active: AtomicBool,
    /// C `format_progress_done`: the progress REQUEST SENSE reports while formatting.
    pub format_progress_done: AtomicU64,
    /// C `format_progress_to_do`.
    pub format_progress_to_do: AtomicU64,
    /// C `media_changed`: a vcdrom medium change is to be reported as a unit attention.
    /// C protects it with `flags_lock`; an atomic swap gives the same test-and-clear.
    pub media_changed: AtomicBool,
    /// C `tgt_dev_cnt`: sessions (tgt_devs) that use the device; `scst_mutex` held in C.
    pub tgt_dev_cnt: AtomicI32,
    /// C `fd`: the backing file, open while [`Self::tgt_dev_cnt`] > 0 (FILEIO, BLOCKIO,
    /// vcdrom with a medium). C reads it without a lock, relying on `scst_mutex` and
    /// suspended activity for the few writers (`attach_tgt`, `detach_tgt`, MODE SELECT);
    /// the lock here only makes that safe and is never held across I/O (readers clone
    /// the `Arc`).
    pub fd: RwLock<Option<Arc<File>>>,
    /// Port only (C has no such counter): how many times the backing file was flushed
    /// (`fdatasync(2)` by [`fileio::vdisk_fsync`]), failed flushes included. User space
    /// cannot observe durability, so tests check FUA, SYNCHRONIZE CACHE and NV_CACHE
    /// through this count.
    pub fsync_cnt: AtomicU64,
    /// C `vdev_list_entry` (in `vdev_list`, under [`scst_vdisk_mutex`]).
    vdev_list_entry: AtomicListHandle,
}

impl ScstVdiskDev {
    /// C `vdev_get_filename()`: the backing file name, or `"none"`.
    pub fn vdev_get_filename(&self) -> &str {
        self.filename.as_deref().unwrap_or("none")
    }

    /// The block size, `1 << blk_shift`.
    pub fn block_size(&self) -> u32 {
        1u32 << self.blk_shift.clamp(0, 31)
    }
}

/// What C's `scst_vdisk_mutex` protects.
#[derive(Debug)]
pub struct VdevList {
    /// C `vdev_list`: every vdisk and vcdrom device, in creation order.
    pub vdev_list: List<Arc<ScstVdiskDev>>,
}

/// C `scst_vdisk_mutex`: protects the addition and deletion of vdisks and related activities
/// such as searching; the outer lock with respect to `scst_mutex`.
pub static scst_vdisk_mutex: Mutex<VdevList> = Mutex::new(VdevList {
    vdev_list: List::new(),
});

thread_local! {
    /// `vdev_list` as seen by this thread while it holds [`scst_vdisk_mutex`] and calls into
    /// the core (see the module documentation).
    static VDEV_LIST_HELD: RefCell<Vec<Arc<ScstVdiskDev>>> = const { RefCell::new(Vec::new()) };
}

/// Publishes `vdev_list` to the `attach()`/`detach()` callbacks run by this thread, which
/// holds [`scst_vdisk_mutex`] (proved by the guard), until dropped.
struct VdevListHeld;

impl VdevListHeld {
    fn new(g: &MutexGuard<'_, VdevList>) -> Self {
        let v: Vec<_> = g.vdev_list.iter().map(|(_, d)| d.clone()).collect();
        VDEV_LIST_HELD.with(|h| *h.borrow_mut() = v);
        VdevListHeld
    }
}

impl Drop for VdevListHeld {
    fn drop(&mut self) {
        VDEV_LIST_HELD.with(|h| h.borrow_mut().clear());
    }
}

/// C `vdev_find()` as called from `vdisk_attach()`: searches the list published by the
/// thread holding [`scst_vdisk_mutex`].
fn vdev_find_held(name: &str) -> Option<Arc<ScstVdiskDev>> {
    VDEV_LIST_HELD.with(|h| h.borrow().iter().find(|v| v.name == name).cloned())
}

/// C `vdev_find()`: the device called `name`; `scst_vdisk_mutex` held.
pub fn vdev_find(g: &MutexGuard<'_, VdevList>, name: &str) -> Option<Arc<ScstVdiskDev>> {
    g.vdev_list
        .iter()
        .find(|(_, v)| v.name == name)
        .map(|(_, v)| v.clone())
}

/// The callbacks of the four vdisk device types (C: the `.attach`, `.detach`,
/// `.attach_tgt`, `.detach_tgt`, `.parse` and `.exec` members of `vdisk_file_devtype` and its
/// siblings; parse and exec pick FILEIO/BLOCKIO/NULLIO/vcdrom behaviour from the device, see
/// [`cmd`]).
#[derive(Debug)]
pub struct VdiskDevTypeOps {
    /// C `.get_supported_opcodes`: `vdisk_get_supported_opcodes` or, for vcdrom,
    /// `vcdrom_get_supported_opcodes`.
    pub get_supported_opcodes: ScstGetSupportedOpcodesFn,
}

impl ScstDevTypeOps for VdiskDevTypeOps {
    fn attach(&self, dev: &Arc<ScstDevice>) -> i32 {
        match vdisk_attach(dev) {
            Ok(()) => 0,
            Err(e) => kemu::errno_neg(e),
        }
    }
    fn detach(&self, dev: &Arc<ScstDevice>) {
        vdisk_detach(dev)
    }
    fn attach_tgt(&self, tgt_dev: &Arc<ScstTgtDev>) -> i32 {
        let Some(virt_dev) = vdev_of(&tgt_dev.dev) else {
            PRINT_ERROR!("Device {} is not a vdisk device", tgt_dev.dev.virt_name);
            return kemu::errno_neg(Errno::EINVAL);
        };
        match fileio::vdisk_attach_tgt(&virt_dev, tgt_dev.dev.dev_rd_only.load(Relaxed)) {
            Ok(()) => 0,
            Err(e) => kemu::errno_neg(e),
        }
    }
    fn detach_tgt(&self, tgt_dev: &Arc<ScstTgtDev>) {
        if let Some(virt_dev) = vdev_of(&tgt_dev.dev) {
            fileio::vdisk_detach_tgt(&virt_dev);
        }
    }
    fn parse(&self, cmd: &Arc<ScstCmd>) -> CmdState {
        cmd::vdisk_parse(cmd)
    }
    fn exec(&self, cmd: &Arc<ScstCmd>) -> Option<i32> {
        Some(cmd::vdisk_exec(cmd))
    }
    fn get_supported_opcodes(&self) -> Option<ScstGetSupportedOpcodesFn> {
        Some(self.get_supported_opcodes)
    }
}

/// C `dev->dh_priv` of a vdisk device: its [`ScstVdiskDev`] (set by `vdisk_attach()`).
pub fn vdev_of(dev: &ScstDevice) -> Option<Arc<ScstVdiskDev>> {
    let p = dev.dh_priv.read().clone()?;
    p.downcast::<ScstVdiskDev>().ok()
}

/// C: the `num_threads < 1` check of `init_scst_vdisk_driver()`.
fn vdisk_num_threads() -> i32 {
    let n = atomic_read(&num_threads);
    if n < 1 {
        PRINT_ERROR!(
            "num_threads can not be less than 1, use default {}",
            DEF_NUM_THREADS
        );
        atomic_set(&num_threads, DEF_NUM_THREADS);
        return DEF_NUM_THREADS;
    }
    n
}

fn vdisk_devtype_common(name: &'static str, type_: i32) -> ScstDevType {
    let get_supported_opcodes: ScstGetSupportedOpcodesFn = if type_ == TYPE_ROM {
        op_descr::vcdrom_get_supported_opcodes
    } else {
        op_descr::vdisk_get_supported_opcodes
    };
    let ops = VdiskDevTypeOps {
        get_supported_opcodes,
    };
    let mut t = ScstDevType::new(name, type_, Arc::new(ops));
    t.parse_atomic = true;
    t.dev_done_atomic = true;
    t.auto_cm_assignment_possible = true;
    t
}

/// C `vdisk_file_devtype`: `vdisk_fileio`, TYPE_DISK, synchronous exec, `num_threads`
/// threads per initiator. Its name is user-space ABI (a /proc and /sys entry).
pub static vdisk_file_devtype: LazyLock<Arc<ScstDevType>> = LazyLock::new(|| {
    let mut t = vdisk_devtype_common("vdisk_fileio", TYPE_DISK);
    t.exec_sync = true;
    t.threads_num = vdisk_num_threads();
    Arc::new(t)
});

/// C `vdisk_blk_devtype`: `vdisk_blockio`, TYPE_DISK, one thread, no proc directory.
pub static vdisk_blk_devtype: LazyLock<Arc<ScstDevType>> = LazyLock::new(|| {
    let mut t = vdisk_devtype_common("vdisk_blockio", TYPE_DISK);
    t.threads_num = 1;
    t.no_proc = true;
    Arc::new(t)
});

/// C `vdisk_null_devtype`: `vdisk_nullio`, TYPE_DISK, one thread, no proc directory.
pub static vdisk_null_devtype: LazyLock<Arc<ScstDevType>> = LazyLock::new(|| {
    let mut t = vdisk_devtype_common("vdisk_nullio", TYPE_DISK);
    t.threads_num = 1;
    t.no_proc = true;
    Arc::new(t)
});

/// C `vcdrom_devtype`: `vcdrom`, TYPE_ROM, synchronous exec, `num_threads` threads.
pub static vcdrom_devtype: LazyLock<Arc<ScstDevType>> = LazyLock::new(|| {
    let mut t = vdisk_devtype_common("vcdrom", TYPE_ROM);
    t.exec_sync = true;
    t.threads_num = vdisk_num_threads();
    Arc::new(t)
});

fn errno_of(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(Errno::EIO as i32))
}

/// C `vdev_open_fd()`: opens `name` read-write, or read-only when `read_only`, adding
/// `O_DIRECT` for `o_direct_flag` and `O_DSYNC` for write-through without NV cache.
pub fn vdev_open_fd(virt_dev: &ScstVdiskDev, name: &str, read_only: bool) -> Result<File, Errno> {
    let mut flags = 0;
    if virt_dev.o_direct_flag.load(Relaxed) {
        flags |= libc::O_DIRECT;
    }
    if virt_dev.wt_flag.load(Relaxed) && !virt_dev.nv_cache.load(Relaxed) {
        flags |= libc::O_DSYNC;
    }
    TRACE_DBG!(
        "Opening file {}, flags 0x{:x}, read_only {}",
        name,
        flags,
        read_only
    );
    let mut o = OpenOptions::new();
    o.read(true).write(!read_only).custom_flags(flags);
    o.open(name).map_err(|e| {
        let err = errno_of(&e);
        if err == Errno::EMEDIUMTYPE {
            TRACE!(
                kemu::printk::TRACE_MINOR,
                "Unable to open {} with EMEDIUMTYPE, DRBD passive?",
                name
            );
        } else {
            PRINT_ERROR!("filp_open({}) failed: {}", name, kemu::errno_neg(err));
        }
        err
    })
}

/// C `vdisk_get_file_size()`: the size in bytes of the regular file or block device
/// `filename`, opened read-only; `EINVAL` for other file types, or when `blockio` asks for a
/// block device and `filename` is not one.
pub fn vdisk_get_file_size(filename: &str, blockio: bool) -> Result<i64, Errno> {
    let mut fd = File::open(filename).map_err(|e| {
        let err = errno_of(&e);
        if err == Errno::EMEDIUMTYPE && blockio {
            TRACE!(
                kemu::printk::TRACE_MINOR,
                "Unable to open {} with EMEDIUMTYPE, DRBD passive?",
                filename
            );
        } else {
            PRINT_ERROR!("filp_open({}) failed: {}", filename, kemu::errno_neg(err));
        }
        err
    })?;
    let ft = fd.metadata().map_err(|e| errno_of(&e))?;
    let is_blk = ft.file_type().is_block_device();
    if blockio && !is_blk {
        PRINT_ERROR!("File {} is NOT a block device", filename);
        return Err(Errno::EINVAL);
    }
    let size = if ft.is_file() {
        ft.len()
    } else if is_blk {
        // A block device's size is that of the device, not of its inode.
        fd.seek(SeekFrom::End(0)).map_err(|e| errno_of(&e))?
    } else {
        return Err(Errno::EINVAL);
    };
    i64::try_from(size).map_err(|_| Errno::EFBIG)
}

/// C `vdisk_reexamine()`: re-reads the size of fileio, blockio and vcdrom devices (never of
/// nullio ones) and recomputes `nblocks`. A BLOCKIO device whose open fails with
/// `EMEDIUMTYPE` is marked `reexam_pending` instead of failing.
fn vdisk_reexamine(virt_dev: &ScstVdiskDev) -> Result<(), Errno> {
    let cdrom_empty = virt_dev.cdrom_empty.load(Relaxed);
    if !virt_dev.nullio && !cdrom_empty {
        let Some(filename) = virt_dev.filename.as_deref() else {
            return Err(Errno::EINVAL);
        };
        match vdisk_get_file_size(filename, virt_dev.blockio) {
            Ok(sz) => {
                virt_dev.file_size.store(sz, Relaxed);
                // C checks flush support here too (BLOCKIO: nothing to check in user
                // space, fdatasync(2) works on any file).
                provision::vdisk_check_tp_support(virt_dev);
            }
            Err(Errno::EMEDIUMTYPE) if virt_dev.blockio => {
                TRACE_DBG!("Reexam pending (dev {})", virt_dev.name);
                virt_dev.reexam_pending.store(true, Relaxed);
                return Ok(());
            }
            Err(e) => return Err(e),
        }
    } else if cdrom_empty {
        virt_dev.file_size.store(0, Relaxed);
    }
    let fs = u64::try_from(virt_dev.file_size.load(Relaxed)).unwrap_or(0);
    virt_dev
        .nblocks
        .store(fs >> virt_dev.blk_shift.clamp(0, 63), Relaxed);
    Ok(())
}

/// C `vdisk_attach()`: the device `dev` was registered for a vdisk handler. Finds its
/// [`ScstVdiskDev`] by name (the caller of `scst_register_virtual_device()` holds
/// [`scst_vdisk_mutex`]), links them and reads the backing size.
///
/// Deviation (documented): a NULLIO device whose size is 0 gets [`VDISK_NULLIO_SIZE`] here,
/// as upstream r7141 and the usermode adaptation do; r7105's procfs path left it at 0 blocks.
///
/// Not yet done for lack of fields in `ScstDevice`: C copies `block_shift`/`block_size`,
/// `cluster_mode`, `dev_rd_only`, `tst`, `queue_alg`, `qerr`, `swp`, `tas`, `d_sense`,
/// `dpicz`, `ato` and `dh_priv` into the SCST device; the handler keeps them in
/// [`ScstVdiskDev`]. DIF checks are skipped (no DIF in procfs builds), mode pages and
/// cluster mode come later.
fn vdisk_attach(dev: &Arc<ScstDevice>) -> Result<(), Errno> {
    TRACE_DBG!("virt_id {} ({})", dev.virt_id, dev.virt_name);

    if dev.virt_id == 0 {
        PRINT_ERROR!("Not a virtual device");
        return Err(Errno::EINVAL);
    }

    let Some(virt_dev) = vdev_find_held(&dev.virt_name) else {
        PRINT_ERROR!("Device {} not found", dev.virt_name);
        return Err(Errno::EINVAL);
    };

    *virt_dev.dev.lock() = Arc::downgrade(dev);

    if virt_dev.zero_copy.load(Relaxed) && virt_dev.o_direct_flag.load(Relaxed) {
        PRINT_ERROR!(
            "{}: combining zero_copy with o_direct is not supported",
            virt_dev.vdev_get_filename()
        );
        return Err(Errno::EINVAL);
    }

    if virt_dev.nullio && virt_dev.file_size.load(Relaxed) == 0 {
        virt_dev.file_size.store(VDISK_NULLIO_SIZE, Relaxed);
    }

    // C: dev->block_shift / dev->block_size and dev->dev_rd_only.
    atomic_set(&dev.block_shift, virt_dev.blk_shift);
    atomic_set(&dev.block_size, 1 << virt_dev.blk_shift.clamp(0, 30));
    dev.dev_rd_only
        .store(virt_dev.rd_only.load(Relaxed), Relaxed);

    vdisk_reexamine(&virt_dev)?;

    if !virt_dev.cdrom_empty.load(Relaxed) {
        let nblocks = virt_dev.nblocks.load(Relaxed);
        PRINT_INFO!(
            "Attached SCSI target virtual {} {} (file=\"{}\", fs={}MB, bs={}, nblocks={}, cyln={}{})",
            if dev.type_ == TYPE_DISK { "disk" } else { "cdrom" },
            virt_dev.name,
            virt_dev.vdev_get_filename(),
            virt_dev.file_size.load(Relaxed) >> 20,
            virt_dev.block_size(),
            nblocks,
            nblocks / 64 / 32,
            if nblocks < 64 * 32 {
                " !WARNING! cyln less than 1"
            } else {
                ""
            }
        );
    } else {
        PRINT_INFO!("Attached empty SCSI target virtual cdrom {}", virt_dev.name);
    }

    // C: dev->dh_priv and the control mode page values of the device (the _saved and
    // _default twins are in exec::VdiskDevModeParams until the core has them).
    *dev.dh_priv.write() = Some(virt_dev.clone() as Arc<dyn std::any::Any + Send + Sync>);
    atomic_set(&dev.tst, i32::from(virt_dev.tst));
    dev.tmf_only.store(false, Relaxed);
    dev.d_sense.store(false, Relaxed);
    atomic_set(
        &dev.queue_alg,
        i32::from(scst_core::scst_const::SCST_QUEUE_ALG_1_UNRESTRICTED_REORDER),
    );
    atomic_set(
        &dev.qerr,
        i32::from(scst_core::scst_const::SCST_QERR_0_ALL_RESUME),
    );
    dev.swp.store(false, Relaxed);
    dev.tas.store(false, Relaxed);
    Ok(())
}

/// C `vdisk_detach()`: the device leaves the handler (`scst_mutex` held). The
/// [`ScstVdiskDev`] itself is freed by the caller of `scst_unregister_virtual_device()`.
fn vdisk_detach(dev: &Arc<ScstDevice>) {
    TRACE_DBG!("virt_id {}", dev.virt_id);
    match vdev_of(dev) {
        Some(virt_dev) => {
            PRINT_INFO!(
                "Detached virtual device {} (\"{}\")",
                virt_dev.name,
                virt_dev.vdev_get_filename()
            );
            *virt_dev.dev.lock() = Weak::new();
        }
        None => PRINT_INFO!("Detached virtual device {}", dev.virt_name),
    }
    // C: dev->dh_priv = NULL ("virt_dev will be freed by the caller").
    *dev.dh_priv.write() = None;
}

/// The kernel's `crc32c(seed, buf, len)`: the raw CRC-32C register update (reflected
/// polynomial 0x82F63B78) without pre- or post-inversion.
fn crc32c_raw(seed: u32, data: &[u8]) -> u32 {
    let mut crc = seed;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ if crc & 1 != 0 { 0x82F6_3B78 } else { 0 };
        }
    }
    crc
}

/// C `vdisk_gen_dev_id_num()`: `(scst_vdisk_ID << 32) | crc32c(0, name + NUL)`.
pub fn vdisk_gen_dev_id_num(virt_dev_name: &str) -> u64 {
    let mut bytes = virt_dev_name.as_bytes().to_vec();
    bytes.push(0);
    let dev_id_num = crc32c_raw(0, &bytes);
    // C shifts the int parameter as a 64-bit value after sign extension.
    let id = i64::from(atomic_read(&scst_vdisk_ID)) as u64;
    (id << 32) | u64::from(dev_id_num)
}

/// At most `max` bytes of `s`, cut at a character boundary (C: `"%.*s"` into a fixed buffer).
fn trunc(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// C `vdev_create_node()` / `vdev_create()`: a new device `name` for `devt` with the default
/// flags and identity: `t10_dev_id` = `"<dev_id_num hex>-<name>"` (25 characters at most),
/// `usn` = `"<dev_id_num hex>"`, vendor `SCST_FIO`, product id = the name (16 characters),
/// revision [`SCST_FIO_REV`]. `EEXIST` for an existing name or USN, `EINVAL` for a name longer
/// than 64 characters. `scst_vdisk_mutex` held. (NUMA nodes do not exist here.)
pub fn vdev_create(
    g: &MutexGuard<'_, VdevList>,
    devt: &Arc<ScstDevType>,
    name: &str,
) -> Result<ScstVdiskDev, Errno> {
    if vdev_find(g, name).is_some() {
        return Err(Errno::EEXIST);
    }

    if name.len() > 64 {
        PRINT_ERROR!("Name {} is too long (max allowed {})", name, 64);
        return Err(Errno::EINVAL);
    }

    let dev_id_num = vdisk_gen_dev_id_num(name);
    let t10_dev_id = trunc(&format!("{dev_id_num:x}-{name}"), 16 + 8 + 2 - 1);
    TRACE_DBG!("t10_dev_id {}", t10_dev_id);
    let usn = trunc(&format!("{dev_id_num:x}"), MAX_USN_LEN - 1);
    TRACE_DBG!("usn {}", usn);

    if let Some((_, vv)) = g
        .vdev_list
        .iter()
        .find(|(_, vv)| vv.vdisk_serial.read().usn == usn)
    {
        PRINT_ERROR!("New usn {} conflicts with one of dev {}", usn, vv.name);
        return Err(Errno::EEXIST);
    }

    let serial = VdiskSerial {
        t10_vend_id: trunc(SCST_FIO_VENDOR, 8),
        vend_specific_id: trunc(&t10_dev_id, 128),
        prod_id: trunc(name, 16),
        prod_rev_lvl: trunc(SCST_FIO_REV, 4),
        scsi_device_name: String::new(),
        t10_dev_id,
        usn,
        ..VdiskSerial::default()
    };

    Ok(ScstVdiskDev {
        nblocks: AtomicU64::new(0),
        file_size: AtomicI64::new(0),
        rd_only: AtomicBool::new(DEF_RD_ONLY),
        wt_flag: AtomicBool::new(false),
        nv_cache: AtomicBool::new(false),
        o_direct_flag: AtomicBool::new(false),
        zero_copy: AtomicBool::new(false),
        nullio: false,
        blockio: false,
        cdrom_empty: AtomicBool::new(false),
        dummy: AtomicBool::new(DEF_DUMMY),
        read_zero: AtomicBool::new(DEF_READ_ZERO),
        removable: AtomicBool::new(DEF_REMOVABLE),
        thin_provisioned: AtomicBool::new(DEF_THIN_PROVISIONED),
        rotational: AtomicBool::new(DEF_ROTATIONAL),
        tst: DEF_TST,
        expl_alua: AtomicBool::new(DEF_EXPL_ALUA),
        reexam_pending: AtomicBool::new(false),
        virt_id: AtomicI32::new(0),
        name: name.to_owned(),
        filename: None,
        command_set_version: 0,
        vdisk_serial: RwLock::new(serial),
        dev: SpinLock::new(Weak::new()),
        vdev_devt: devt.clone(),
        blk_shift: DEF_DISK_BLOCK_SHIFT,
        wt_flag_saved: AtomicBool::new(false),
        discard_zeroes_data: AtomicBool::new(false),
        unmap_opt_gran: AtomicU32::new(0),
        unmap_align: AtomicU32::new(0),
        unmap_max_lba_cnt: AtomicU32::new(0),
        dpicz: AtomicBool::new(false),
        prevent_allow_medium_removal: AtomicBool::new(false),
        format_active: AtomicBool::new(false),
        format_progress_done: AtomicU64::new(0),
        format_progress_to_do: AtomicU64::new(0),
        media_changed: AtomicBool::new(false),
        tgt_dev_cnt: AtomicI32::new(0),
        fd: RwLock::new(None),
        fsync_cnt: AtomicU64::new(0),
        vdev_list_entry: AtomicListHandle::new(),
    })
}

/// C `scst_calc_block_shift()` (scst_lib.c; not in scst_core yet): the shift of
/// `sector_size`, 0 meaning 512. A value that is not a power of two is rounded down with a
/// warning (C: `WARN_ONCE`); a result below 9 is an error (`None`).
pub fn scst_calc_block_shift(sector_size: i32) -> Option<i32> {
    let sector_size = if sector_size == 0 { 512 } else { sector_size };
    // C's ilog2() of an int works on its u32 value.
    let v = sector_size.cast_unsigned();
    let block_shift = 31 - v.leading_zeros().cast_signed();
    if 1u32 << block_shift != v {
        PRINT_WARNING!("1 << {} != {}", block_shift, sector_size);
    }
    if block_shift < 9 {
        PRINT_ERROR!("Wrong sector size {}", sector_size);
        return None;
    }
    Some(block_shift)
}

/// A flag of the procfs `open` command (and of [`VdiskOpenParams`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VdiskOpenFlag {
    /// `WRITE_THROUGH`.
    WriteThrough,
    /// `NV_CACHE`.
    NvCache,
    /// `READ_ONLY`.
    ReadOnly,
    /// `O_DIRECT`: accepted and ignored, as in C.
    ODirect,
    /// `NULLIO`: switches the device to `vdisk_nullio`.
    Nullio,
    /// `BLOCKIO`: switches the device to `vdisk_blockio`, vendor `SCST_BIO`.
    Blockio,
    /// `REMOVABLE`.
    Removable,
}

/// The `open` flags with the prefix C matches them by, in C's order.
const VDISK_OPEN_FLAGS: [(&str, VdiskOpenFlag); 7] = [
    ("WRITE_THROUGH", VdiskOpenFlag::WriteThrough),
    ("NV_CACHE", VdiskOpenFlag::NvCache),
    ("READ_ONLY", VdiskOpenFlag::ReadOnly),
    ("O_DIRECT", VdiskOpenFlag::ODirect),
    ("NULLIO", VdiskOpenFlag::Nullio),
    ("BLOCKIO", VdiskOpenFlag::Blockio),
    ("REMOVABLE", VdiskOpenFlag::Removable),
];

/// C: the flag branches of `vdisk_write_proc()`'s `open`.
fn vdisk_set_open_flag(virt_dev: &mut ScstVdiskDev, flag: VdiskOpenFlag) {
    match flag {
        VdiskOpenFlag::WriteThrough => {
            *virt_dev.wt_flag.get_mut() = true;
            TRACE_DBG!("WRITE_THROUGH");
        }
        VdiskOpenFlag::NvCache => {
            *virt_dev.nv_cache.get_mut() = true;
            TRACE_DBG!("NON-VOLATILE CACHE");
        }
        VdiskOpenFlag::ReadOnly => {
            *virt_dev.rd_only.get_mut() = true;
            TRACE_DBG!("READ_ONLY");
        }
        VdiskOpenFlag::ODirect => {
            PRINT_INFO!(
                "O_DIRECT flag doesn't currently work, ignoring it, use fileio_tgt in O_DIRECT mode instead"
            );
        }
        VdiskOpenFlag::Nullio => {
            virt_dev.nullio = true;
            // C calls this a bad hack that still holds outside procfs.
            virt_dev.vdev_devt = vdisk_null_devtype.clone();
            TRACE_DBG!("NULLIO");
        }
        VdiskOpenFlag::Blockio => {
            virt_dev.blockio = true;
            // C creates the bio set here (with block I/O, later).
            virt_dev.vdev_devt = vdisk_blk_devtype.clone();
            virt_dev.vdisk_serial.get_mut().t10_vend_id = trunc(SCST_BIO_VENDOR, 8);
            TRACE_DBG!("BLOCKIO");
        }
        VdiskOpenFlag::Removable => {
            *virt_dev.removable.get_mut() = true;
            TRACE_DBG!("REMOVABLE");
        }
    }
}

/// C `vdisk_report_registering()`: logs the new device with its non-default flags.
fn vdisk_report_registering(virt_dev: &ScstVdiskDev) {
    let mut flags: Vec<String> = Vec::new();
    if virt_dev.wt_flag.load(Relaxed) {
        flags.push("WRITE_THROUGH".into());
    }
    if virt_dev.nv_cache.load(Relaxed) {
        flags.push("NV_CACHE".into());
    }
    if virt_dev.rd_only.load(Relaxed) {
        flags.push("READ_ONLY".into());
    }
    if virt_dev.o_direct_flag.load(Relaxed) {
        flags.push("O_DIRECT".into());
    }
    if virt_dev.nullio {
        flags.push("NULLIO".into());
    }
    if virt_dev.blockio {
        flags.push("BLOCKIO".into());
    }
    if virt_dev.removable.load(Relaxed) {
        flags.push("REMOVABLE".into());
    }
    if virt_dev.tst != DEF_TST {
        flags.push(format!("TST {}", virt_dev.tst));
    }
    if virt_dev.rotational.load(Relaxed) {
        flags.push("ROTATIONAL".into());
    }
    if virt_dev.thin_provisioned.load(Relaxed) {
        flags.push("THIN_PROVISIONED".into());
    }
    if virt_dev.zero_copy.load(Relaxed) {
        flags.push("ZERO_COPY".into());
    }
    if virt_dev.dummy.load(Relaxed) {
        flags.push("DUMMY".into());
    }
    let f = if flags.is_empty() {
        String::new()
    } else {
        format!("({})", flags.join(", "))
    };
    PRINT_INFO!(
        "Registering virtual {} device {} {}",
        virt_dev.vdev_devt.name,
        virt_dev.name,
        f
    );
}

/// C: the tail of `vdisk_write_proc()`'s `open`, shared with [`vdisk_add_fileio`] and
/// [`vdisk_add_nullio`]: checks that the file name is absolute (unless NULLIO), puts the
/// device on `vdev_list` and registers it with SCST, which calls `vdisk_attach()` (opening
/// the backing file to read its size: a missing file fails here, e.g. `ENOENT`). On failure
/// the device is taken off the list again. Returns the virtual device id.
fn vdev_open_register(
    g: &mut MutexGuard<'_, VdevList>,
    mut virt_dev: ScstVdiskDev,
    filename: Option<&str>,
) -> Result<i32, Errno> {
    if let Some(f) = filename {
        if !virt_dev.nullio && !f.starts_with('/') {
            PRINT_ERROR!("File path \"{}\" is not absolute", f);
            // C leaks virt_dev on this path; here it is simply dropped.
            return Err(Errno::EINVAL);
        }
        virt_dev.filename = Some(f.to_owned());
    }

    let virt_dev = Arc::new(virt_dev);
    let h = g.vdev_list.add_tail(virt_dev.clone());
    virt_dev.vdev_list_entry.set(h);

    vdisk_report_registering(&virt_dev);
    let res = {
        let _held = VdevListHeld::new(g);
        scst_register_virtual_device(&virt_dev.vdev_devt, &virt_dev.name)
    };
    match res {
        Ok(virt_id) => {
            virt_dev.virt_id.store(virt_id, Relaxed);
            TRACE_DBG!(
                "Added virt_dev (name {}, file name {}, id {}, block size {}) to vdev_list",
                virt_dev.name,
                virt_dev.vdev_get_filename(),
                virt_id,
                virt_dev.block_size()
            );
            Ok(virt_id)
        }
        Err(e) => {
            if let Some(h) = virt_dev.vdev_list_entry.take() {
                g.vdev_list.del(h);
            }
            Err(e)
        }
    }
}

/// C `vdev_del_device()`: unregisters the device from SCST (removing its LUNs), takes it off
/// `vdev_list` and frees it. `scst_vdisk_mutex` held.
pub fn vdev_del_device(g: &mut MutexGuard<'_, VdevList>, virt_dev: &Arc<ScstVdiskDev>) {
    {
        let _held = VdevListHeld::new(g);
        scst_unregister_virtual_device(virt_dev.virt_id.load(Relaxed));
    }
    if let Some(h) = virt_dev.vdev_list_entry.take() {
        g.vdev_list.del(h);
    }
    PRINT_INFO!("Virtual device {} unregistered", virt_dev.name);
    TRACE_DBG!("virt_id {} unregistered", virt_dev.virt_id.load(Relaxed));
}

/// Options of a device created through the Rust API; the fields mirror the procfs `open`
/// arguments after FILE_NAME.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VdiskOpenParams {
    /// BLOCK_SIZE (0: the default 512). Goes through [`scst_calc_block_shift`].
    pub block_size: u32,
    /// The flags, applied in order as the procfs parser applies them.
    pub flags: Vec<VdiskOpenFlag>,
}

fn vdisk_add_device(
    name: &str,
    filename: Option<&str>,
    params: &VdiskOpenParams,
    extra: Option<VdiskOpenFlag>,
) -> Result<i32, Errno> {
    let mut g = scst_vdisk_mutex.lock_interruptible()?;
    let mut virt_dev = vdev_create(&g, &vdisk_file_devtype, name)?;
    // C: block_size is an uint32_t passed to scst_calc_block_shift() as an int.
    let Some(block_shift) = scst_calc_block_shift(params.block_size.cast_signed()) else {
        return Err(Errno::EINVAL);
    };
    virt_dev.blk_shift = block_shift;
    for f in params.flags.iter().copied().chain(extra) {
        vdisk_set_open_flag(&mut virt_dev, f);
    }
    vdev_open_register(&mut g, virt_dev, filename)
}

/// Creates a FILEIO device (BLOCKIO or NULLIO if `params.flags` says so) as the procfs
/// command `open NAME FILE_NAME [BLOCK_SIZE] [FLAGS]` does, through the same functions
/// (`vdev_create()` and the registration tail of C `vdisk_write_proc()`). Returns the
/// virtual device id. Errors as C's: `EEXIST` (name in use), `EINVAL` (bad name, relative
/// path, bad block size), the `open(2)` error of the backing file (e.g. `ENOENT`).
pub fn vdisk_add_fileio(
    name: &str,
    filename: &str,
    params: &VdiskOpenParams,
) -> Result<i32, Errno> {
    vdisk_add_device(name, Some(filename), params, None)
}

/// Creates a NULLIO device `name` (C procfs: `open NAME none NULLIO`) of
/// [`VDISK_NULLIO_SIZE`] bytes at 512-byte blocks, through the same functions as the procfs
/// `open`. Returns the virtual device id.
///
/// Deviation: r7105's procfs path leaves a NULLIO device at size 0; the sysfs path, upstream
/// r7141 and the usermode adaptation give it [`VDISK_NULLIO_SIZE`], and so does the port
/// (in `vdisk_attach()`), for this function and the procfs command alike.
pub fn vdisk_add_nullio(name: &str) -> Result<i32, Errno> {
    vdisk_add_device(
        name,
        None,
        &VdiskOpenParams::default(),
        Some(VdiskOpenFlag::Nullio),
    )
}

/// Deletes the vdisk device `name` (procfs `close NAME`): `EINVAL` if unknown.
pub fn vdisk_del_device(name: &str) -> Result<(), Errno> {
    let mut g = scst_vdisk_mutex.lock_interruptible()?;
    let Some(virt_dev) = vdev_find(&g, name) else {
        PRINT_ERROR!("Device {} not found", name);
        return Err(Errno::EINVAL);
    };
    vdev_del_device(&mut g, &virt_dev);
    Ok(())
}

/// C `isspace()` for the ASCII range.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// A cursor over the command line (C: the `char *p` walking `i_buf`).
struct Cursor<'a> {
    s: &'a str,
    p: usize,
}

impl<'a> Cursor<'a> {
    fn at(&self) -> u8 {
        self.s.as_bytes().get(self.p).copied().unwrap_or(0)
    }
    fn rest(&self) -> &'a str {
        self.s.get(self.p..).unwrap_or("")
    }
    fn skip_spaces(&mut self) {
        while self.p < self.s.len() && is_space(self.at()) {
            self.p += 1;
        }
    }
    /// Skips spaces, then returns the next run of non-spaces and steps over the one
    /// character that ends it (C: `*p++ = '\0'`).
    fn token(&mut self) -> &'a str {
        self.skip_spaces();
        let start = self.p;
        while self.p < self.s.len() && !is_space(self.at()) {
            self.p += 1;
        }
        let t = &self.s[start..self.p];
        if self.p < self.s.len() {
            self.p += 1;
        }
        t
    }
}

/// C `simple_strtoul(p, &end, 0)`: an unsigned number in base 16 (`0x` prefix), 8 (leading
/// `0`) or 10, wrapping on overflow like C; returns the value and the bytes consumed.
fn simple_strtoul(s: &str) -> (u64, usize) {
    let b = s.as_bytes();
    let (base, mut i) = if b.first() == Some(&b'0') {
        if b.get(1).map(|c| c.to_ascii_lowercase()) == Some(b'x')
            && b.get(2).is_some_and(u8::is_ascii_hexdigit)
        {
            (16u64, 2)
        } else {
            (8u64, 0)
        }
    } else {
        (10u64, 0)
    };
    let mut v: u64 = 0;
    while let Some(d) = b.get(i).and_then(|c| char::from(*c).to_digit(16)) {
        let d = u64::from(d);
        if d >= base {
            break;
        }
        v = v.wrapping_mul(base).wrapping_add(d);
        i += 1;
    }
    (v, i)
}

/// C `vdisk_write_proc()`: executes one write to `/proc/scsi_tgt/vdisk/vdisk` for the
/// handler `dev_type`. Commands (case-sensitive, each keyword followed by a space):
/// `open NAME FILE_NAME [BLOCK_SIZE] [FLAGS]`, `close NAME`, `resync_size NAME`,
/// `set_t10_dev_id NAME ID`. A write that is empty or starts with NUL does nothing. Errors
/// are C's: `EINVAL` for an unknown command, a missing or too long name, a missing file name,
/// a block size followed by garbage or below 512, an unknown flag, a relative path or an
/// unknown device; `EEXIST` for a name in use; registration errors as they come.
///
/// `resync_size` answers as r7105 does while no session has the device open: the backing
/// file is opened by `attach_tgt()` (not ported yet), so it is always `EMEDIUMTYPE`; on a
/// NULLIO device, where r7105 hits a kernel BUG, the port returns `EINVAL`.
pub fn vdisk_write_proc(buffer: &str, dev_type: &Arc<ScstDevType>) -> Result<(), Errno> {
    if buffer.is_empty() || buffer.as_bytes()[0] == 0 {
        return Ok(());
    }
    // C copies the buffer with "%.*s", which stops at a NUL.
    let mut line = buffer.split('\0').next().unwrap_or("");

    let mut g = scst_vdisk_mutex.lock_interruptible()?;

    if let Some(l) = line.strip_suffix('\n') {
        line = l;
    }
    let (action, rest) = if let Some(r) = line.strip_prefix("close ") {
        (0, r)
    } else if let Some(r) = line.strip_prefix("open ") {
        (1, r)
    } else if let Some(r) = line.strip_prefix("resync_size ") {
        (2, r)
    } else if let Some(r) = line.strip_prefix("set_t10_dev_id ") {
        (3, r)
    } else {
        PRINT_ERROR!("Unknown action \"{}\"", line);
        return Err(Errno::EINVAL);
    };

    let mut p = Cursor { s: rest, p: 0 };
    let name = p.token();
    if name.is_empty() {
        PRINT_ERROR!("Name required");
        return Err(Errno::EINVAL);
    } else if name.len() > 64 {
        PRINT_ERROR!("Name is too long (max {} characters)", 64);
        return Err(Errno::EINVAL);
    }

    match action {
        1 => {
            // open
            let filename = p.token();
            if filename.is_empty() {
                PRINT_ERROR!("File name required");
                return Err(Errno::EINVAL);
            }

            let mut virt_dev = vdev_create(&g, dev_type, name)?;
            *virt_dev.wt_flag.get_mut() = DEF_WRITE_THROUGH;
            *virt_dev.nv_cache.get_mut() = DEF_NV_CACHE;
            *virt_dev.o_direct_flag.get_mut() = DEF_O_DIRECT;

            p.skip_spaces();
            let mut block_shift = DEF_DISK_BLOCK_SHIFT;
            if p.at().is_ascii_digit() {
                let (v, n) = simple_strtoul(p.rest());
                p.p += n;
                if p.at() != 0 && !is_space(p.at()) {
                    PRINT_ERROR!("Parse error: \"{}\"", p.rest());
                    return Err(Errno::EINVAL);
                }
                p.skip_spaces();
                // C stores the unsigned long in a uint32_t, then passes it as an int.
                let block_size = v as u32;
                match scst_calc_block_shift(block_size.cast_signed()) {
                    Some(s) => block_shift = s,
                    None => return Err(Errno::EINVAL),
                }
            }
            virt_dev.blk_shift = block_shift;

            while p.p < p.s.len() {
                let rest = p.rest();
                let Some((kw, flag)) = VDISK_OPEN_FLAGS.iter().find(|(kw, _)| rest.starts_with(kw))
                else {
                    PRINT_ERROR!("Unknown flag \"{}\"", rest);
                    return Err(Errno::EINVAL);
                };
                p.p += kw.len();
                vdisk_set_open_flag(&mut virt_dev, *flag);
                p.skip_spaces();
            }

            vdev_open_register(&mut g, virt_dev, Some(filename))?;
        }
        0 => {
            // close
            let Some(virt_dev) = vdev_find(&g, name) else {
                PRINT_ERROR!("Device {} not found", name);
                return Err(Errno::EINVAL);
            };
            vdev_del_device(&mut g, &virt_dev);
        }
        2 => {
            // resync_size
            let Some(virt_dev) = vdev_find(&g, name) else {
                PRINT_ERROR!("Device {} not found", name);
                return Err(Errno::EINVAL);
            };
            if virt_dev.nullio {
                PRINT_ERROR!("Device {} is NULLIO: nothing to resync", name);
                return Err(Errno::EINVAL);
            }
            // C vdisk_resync_size(): the backing file is not open (no session has it).
            return Err(Errno::EMEDIUMTYPE);
        }
        _ => {
            // set_t10_dev_id
            let Some(virt_dev) = vdev_find(&g, name) else {
                PRINT_ERROR!("Device {} not found", name);
                return Err(Errno::EINVAL);
            };
            p.skip_spaces();
            let t10_dev_id = p.rest();
            if t10_dev_id.is_empty() {
                PRINT_ERROR!("T10 device id required");
                return Err(Errno::EINVAL);
            }
            let mut serial = virt_dev.vdisk_serial.write();
            serial.t10_dev_id = trunc(t10_dev_id, 16 + 8 + 2 - 1);
            PRINT_INFO!(
                "T10 device id for device {} changed to {}",
                virt_dev.name,
                serial.t10_dev_id
            );
        }
    }
    Ok(())
}

/// The procfs text command written to `/proc/scsi_tgt/vdisk/vdisk` (C `vdisk_write_proc()`
/// with `vdisk_file_devtype`, the handler that owns that file). See [`vdisk_write_proc`].
pub fn vdisk_write_proc_cmd(line: &str) -> Result<(), Errno> {
    vdisk_write_proc(line, &vdisk_file_devtype)
}

/// C `init_scst_vdisk()`: registers one device type with SCST. (Its `/proc` directory and
/// help file come with the port of scst_proc.c.)
fn init_scst_vdisk(devtype: &Arc<ScstDevType>) -> Result<(), Errno> {
    scst_register_virtual_dev_driver(devtype)
}

/// C `exit_scst_vdisk()`: deletes every vdisk device (all handlers' alike, as C does), then
/// unregisters the device type.
fn exit_scst_vdisk(devtype: &Arc<ScstDevType>) {
    let mut g = scst_vdisk_mutex.lock();
    while let Some((_, virt_dev)) = g.vdev_list.first() {
        let virt_dev = virt_dev.clone();
        vdev_del_device(&mut g, &virt_dev);
    }
    drop(g);
    scst_unregister_virtual_dev_driver(devtype);
}

/// Whether the "module" is loaded: a second [`init_scst_vdisk_driver`] is `EBUSY` (the kernel
/// refuses to load a loaded module) and [`exit_scst_vdisk_driver`] without init does nothing.
static vdisk_module_loaded: Mutex<bool> = Mutex::new(false);

/// C `vdev_check_mode_pages_path()`: disables saved mode pages, with a warning, when
/// [`VDEV_MODE_PAGES_DIR`] does not exist. Always succeeds.
fn vdev_check_mode_pages_path() {
    if let Err(e) = std::fs::metadata(VDEV_MODE_PAGES_DIR) {
        PRINT_WARNING!(
            "Unable to find {} (err {}), saved mode pages disabled. You should create this directory manually or reinstall SCST",
            VDEV_MODE_PAGES_DIR,
            kemu::errno_neg(errno_of(&e))
        );
        vdev_saved_mode_pages_enabled.store(false, Relaxed);
    }
}

/// C `init_scst_vdisk_driver()`, the module init: checks the mode-pages directory and
/// `num_threads`, then registers `vdisk_fileio`, `vdisk_blockio`, `vdisk_nullio` and `vcdrom`
/// (undoing the registrations already made if one fails). SCST must be initialised. A second
/// call is `EBUSY`; it may be called again after [`exit_scst_vdisk_driver`].
pub fn init_scst_vdisk_driver() -> Result<(), Errno> {
    let mut loaded = vdisk_module_loaded.lock();
    if *loaded {
        return Err(Errno::EBUSY);
    }
    vdev_saved_mode_pages_enabled.store(true, Relaxed);
    vdev_check_mode_pages_path();
    vdisk_num_threads();

    init_scst_vdisk(&vdisk_file_devtype)?;
    if let Err(e) = init_scst_vdisk(&vdisk_blk_devtype) {
        exit_scst_vdisk(&vdisk_file_devtype);
        return Err(e);
    }
    if let Err(e) = init_scst_vdisk(&vdisk_null_devtype) {
        exit_scst_vdisk(&vdisk_blk_devtype);
        exit_scst_vdisk(&vdisk_file_devtype);
        return Err(e);
    }
    if let Err(e) = init_scst_vdisk(&vcdrom_devtype) {
        exit_scst_vdisk(&vdisk_null_devtype);
        exit_scst_vdisk(&vdisk_blk_devtype);
        exit_scst_vdisk(&vdisk_file_devtype);
        return Err(e);
    }
    *loaded = true;
    Ok(())
}

/// C `exit_scst_vdisk_driver()`, the module exit: deletes every device and unregisters the
/// four device types.
pub fn exit_scst_vdisk_driver() {
    let mut loaded = vdisk_module_loaded.lock();
    if !*loaded {
        return;
    }
    exit_scst_vdisk(&vdisk_null_devtype);
    exit_scst_vdisk(&vdisk_blk_devtype);
    exit_scst_vdisk(&vdisk_file_devtype);
    exit_scst_vdisk(&vcdrom_devtype);
    *loaded = false;
}

#[cfg(test)]
mod tests {
    use super::*;
    use scst_core::scst_main::{exit_scst, init_scst, scst_mutex};

    /// Every test touches SCST's and this module's globals: one at a time.
    static TEST_MUTEX: Mutex<()> = Mutex::new(());

    /// SCST and the vdisk handler loaded for one test; unloaded on drop (even on panic).
    struct Loaded {
        _g: MutexGuard<'static, ()>,
    }

    impl Loaded {
        fn new() -> Self {
            let g = TEST_MUTEX.lock();
            init_scst().unwrap();
            init_scst_vdisk_driver().unwrap();
            Self { _g: g }
        }
    }

    impl Drop for Loaded {
        fn drop(&mut self) {
            exit_scst_vdisk_driver();
            exit_scst();
        }
    }

    /// A sparse file of `size` bytes under the temp dir, removed on drop.
    struct TmpFile(std::path::PathBuf);

    impl TmpFile {
        fn new(tag: &str, size: u64) -> Self {
            let p =
                std::env::temp_dir().join(format!("vdisk-test-{}-{}.img", std::process::id(), tag));
            let f = File::create(&p).unwrap();
            f.set_len(size).unwrap();
            Self(p)
        }
        fn path(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }

    impl Drop for TmpFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// The SCST device `name` and its handler's name, looked up in `scst_dev_list`.
    fn scst_dev(name: &str) -> Option<(Arc<ScstDevice>, &'static str)> {
        let g = scst_mutex.lock();
        g.scst_dev_list
            .iter()
            .find(|(_, d)| d.virt_name == name)
            .map(|(_, d)| (d.clone(), d.handler.access(&g).name))
    }

    fn vdev(name: &str) -> Option<Arc<ScstVdiskDev>> {
        vdev_find(&scst_vdisk_mutex.lock(), name)
    }

    fn nvdevs() -> usize {
        scst_vdisk_mutex.lock().vdev_list.len()
    }

    #[test]
    fn devtypes_match_c() {
        let _l = Loaded::new();
        assert_eq!(vdisk_file_devtype.name, "vdisk_fileio");
        assert_eq!(vdisk_file_devtype.type_, TYPE_DISK);
        assert!(vdisk_file_devtype.exec_sync);
        assert_eq!(vdisk_file_devtype.threads_num, DEF_NUM_THREADS);
        assert!(!vdisk_file_devtype.no_proc);
        assert_eq!(vdisk_blk_devtype.name, "vdisk_blockio");
        assert_eq!(vdisk_blk_devtype.threads_num, 1);
        assert!(vdisk_blk_devtype.no_proc && !vdisk_blk_devtype.exec_sync);
        assert_eq!(vdisk_null_devtype.name, "vdisk_nullio");
        assert!(vdisk_null_devtype.no_proc);
        assert_eq!(vcdrom_devtype.name, "vcdrom");
        assert_eq!(vcdrom_devtype.type_, TYPE_ROM);
        assert!(vcdrom_devtype.exec_sync);
        let g = scst_mutex.lock();
        let names: Vec<_> = g
            .scst_virtual_dev_type_list
            .iter()
            .map(|(_, t)| t.name)
            .collect();
        assert_eq!(
            names,
            ["vdisk_fileio", "vdisk_blockio", "vdisk_nullio", "vcdrom"]
        );
    }

    #[test]
    fn fileio_on_1mib_sparse_file() {
        let _l = Loaded::new();
        let f = TmpFile::new("fileio", 1 << 20);
        let id = vdisk_add_fileio("disk1", f.path(), &VdiskOpenParams::default()).unwrap();
        assert!(id > 0);
        let v = vdev("disk1").unwrap();
        // C default block size: DEF_DISK_BLOCK_SHIFT 9 → 512 bytes; 1 MiB / 512 = 2048.
        assert_eq!(v.block_size(), 512);
        assert_eq!(v.file_size.load(Relaxed), 1 << 20);
        assert_eq!(v.nblocks.load(Relaxed), 2048);
        assert_eq!(v.virt_id.load(Relaxed), id);
        let (dev, h) = scst_dev("disk1").unwrap();
        assert_eq!(h, "vdisk_fileio");
        assert_eq!(dev.virt_id, id);
        assert!(Arc::ptr_eq(&v.dev.lock().upgrade().unwrap(), &dev));
        // C vdisk_attach(): dh_priv, block size and the control-page values on the device.
        assert!(Arc::ptr_eq(&vdev_of(&dev).unwrap(), &v));
        assert_eq!(atomic_read(&dev.block_size), 512);
        assert_eq!(atomic_read(&dev.block_shift), 9);
        assert_eq!(atomic_read(&dev.tst), 1);
        assert!(!dev.dev_rd_only.load(Relaxed));
        assert_eq!(v.vdisk_serial.read().t10_vend_id, "SCST_FIO");
        assert_eq!(v.vdisk_serial.read().prod_rev_lvl, " 330");

        vdisk_del_device("disk1").unwrap();
        assert!(vdev_of(&dev).is_none());
        assert!(scst_dev("disk1").is_none());
        assert!(vdev("disk1").is_none());
        assert_eq!(vdisk_del_device("disk1"), Err(Errno::EINVAL));
    }

    #[test]
    fn nullio_size() {
        let _l = Loaded::new();
        vdisk_add_nullio("null1").unwrap();
        let v = vdev("null1").unwrap();
        assert_eq!(v.file_size.load(Relaxed), 2_748_779_069_440);
        assert_eq!(v.nblocks.load(Relaxed), 2_748_779_069_440 / 512);
        assert_eq!(v.vdev_get_filename(), "none");
        assert_eq!(scst_dev("null1").unwrap().1, "vdisk_nullio");
        // The procfs path gets the same size (documented deviation from r7105).
        vdisk_write_proc_cmd("open null2 none NULLIO\n").unwrap();
        let v = vdev("null2").unwrap();
        assert_eq!(v.file_size.load(Relaxed), VDISK_NULLIO_SIZE);
        assert_eq!(scst_dev("null2").unwrap().1, "vdisk_nullio");
    }

    #[test]
    fn duplicate_name_is_eexist() {
        let _l = Loaded::new();
        let f = TmpFile::new("dup", 1 << 20);
        vdisk_add_fileio("d", f.path(), &VdiskOpenParams::default()).unwrap();
        assert_eq!(
            vdisk_add_fileio("d", f.path(), &VdiskOpenParams::default()),
            Err(Errno::EEXIST)
        );
        assert_eq!(vdisk_add_nullio("d"), Err(Errno::EEXIST));
        let line = format!("open d {}\n", f.path());
        assert_eq!(vdisk_write_proc_cmd(&line), Err(Errno::EEXIST));
        assert_eq!(nvdevs(), 1);
    }

    #[test]
    fn missing_backing_file_registers_nothing() {
        let _l = Loaded::new();
        let p = std::env::temp_dir().join(format!("vdisk-test-{}-missing", std::process::id()));
        let p = p.to_str().unwrap();
        // C: vdisk_attach() -> vdisk_get_file_size() -> filp_open() fails with -ENOENT,
        // which scst_register_virtual_device() and the write handler return as is.
        assert_eq!(
            vdisk_add_fileio("m", p, &VdiskOpenParams::default()),
            Err(Errno::ENOENT)
        );
        assert_eq!(
            vdisk_write_proc_cmd(&format!("open m {p}\n")),
            Err(Errno::ENOENT)
        );
        assert!(scst_dev("m").is_none());
        assert_eq!(nvdevs(), 0);
    }

    #[test]
    fn procfs_open_close_lines() {
        let _l = Loaded::new();
        let f = TmpFile::new("proc", 1 << 20);
        let fp = f.path();

        // Empty and NUL-led writes do nothing.
        assert_eq!(vdisk_write_proc_cmd(""), Ok(()));
        assert_eq!(vdisk_write_proc_cmd("\0open x /y"), Ok(()));

        // Unknown actions: the keyword must be followed by a space, case-sensitive.
        for l in ["close\n", "OPEN a /b\n", "delete a\n", "open\n"] {
            assert_eq!(vdisk_write_proc_cmd(l), Err(Errno::EINVAL), "{l:?}");
        }
        // Name and file name required; name at most 64 characters.
        assert_eq!(vdisk_write_proc_cmd("open \n"), Err(Errno::EINVAL));
        assert_eq!(vdisk_write_proc_cmd("open a\n"), Err(Errno::EINVAL));
        let long = "n".repeat(65);
        assert_eq!(
            vdisk_write_proc_cmd(&format!("open {long} {fp}\n")),
            Err(Errno::EINVAL)
        );
        // Relative path, block-size garbage, too small a block size, unknown flag.
        assert_eq!(vdisk_write_proc_cmd("open a rel\n"), Err(Errno::EINVAL));
        for tail in ["4096x", "256", "08", "512 FOO", "512 READ_ONLYX"] {
            assert_eq!(
                vdisk_write_proc_cmd(&format!("open a {fp} {tail}\n")),
                Err(Errno::EINVAL),
                "{tail}"
            );
        }
        assert_eq!(nvdevs(), 0);
        assert!(scst_dev("a").is_none());

        // A good line: block size in hex, flags by prefix, with or without spaces.
        vdisk_write_proc_cmd(&format!(
            "open a {fp} 0x1000 WRITE_THROUGHREAD_ONLY  NV_CACHE O_DIRECT REMOVABLE\n"
        ))
        .unwrap();
        let v = vdev("a").unwrap();
        assert_eq!(v.block_size(), 4096);
        assert_eq!(v.nblocks.load(Relaxed), 256);
        assert!(v.wt_flag.load(Relaxed) && v.rd_only.load(Relaxed));
        assert!(v.nv_cache.load(Relaxed) && v.removable.load(Relaxed));
        assert!(!v.o_direct_flag.load(Relaxed));
        assert_eq!(v.filename.as_deref(), Some(fp));

        // A non-power of two is rounded down; 0 means 512; no trailing newline is fine.
        vdisk_write_proc_cmd(&format!("open b {fp} 1000")).unwrap();
        assert_eq!(vdev("b").unwrap().block_size(), 512);
        assert_eq!(
            vdisk_write_proc_cmd(&format!("open c {fp} 0 BLOCKIO\n")),
            Err(Errno::EINVAL)
        );
        vdisk_write_proc_cmd(&format!("open c {fp} 0\n")).unwrap();
        assert_eq!(vdev("c").unwrap().block_size(), 512);

        // resync_size with no session: the backing file is not open.
        assert_eq!(
            vdisk_write_proc_cmd("resync_size a\n"),
            Err(Errno::EMEDIUMTYPE)
        );
        assert_eq!(vdisk_write_proc_cmd("resync_size z\n"), Err(Errno::EINVAL));

        // set_t10_dev_id keeps embedded spaces and truncates to 25 characters.
        vdisk_write_proc_cmd("set_t10_dev_id a   my id 0123456789012345678901\n").unwrap();
        assert_eq!(
            vdev("a").unwrap().vdisk_serial.read().t10_dev_id,
            "my id 0123456789012345678"
        );
        assert_eq!(
            vdisk_write_proc_cmd("set_t10_dev_id a  \n"),
            Err(Errno::EINVAL)
        );

        // close: unknown name is EINVAL; a known one unregisters.
        assert_eq!(vdisk_write_proc_cmd("close zz\n"), Err(Errno::EINVAL));
        assert_eq!(vdisk_write_proc_cmd("close \n"), Err(Errno::EINVAL));
        vdisk_write_proc_cmd("close a\n").unwrap();
        assert!(scst_dev("a").is_none());
        assert!(vdev("a").is_none());
        assert!(scst_dev("b").is_some());
    }

    #[test]
    fn identity_from_name() {
        let _l = Loaded::new();
        // Hand computation of C vdisk_gen_dev_id_num(): CRC-32C register update (reflected
        // polynomial 0x82F63B78), seed 0, no inversions, over "disk1\0", with
        // scst_vdisk_ID = 0 in the upper half: 0xb8fdbd32 (also "null1\0" -> 0xdba7df64,
        // "disk0\0" -> 0xab5f2545; cross-checked with an independent bitwise script).
        assert_eq!(vdisk_gen_dev_id_num("disk1"), 0xb8fd_bd32);
        assert_eq!(vdisk_gen_dev_id_num("null1"), 0xdba7_df64);
        assert_eq!(vdisk_gen_dev_id_num("disk0"), 0xab5f_2545);

        vdisk_add_nullio("disk1").unwrap();
        let v = vdev("disk1").unwrap();
        let s = v.vdisk_serial.read().clone();
        assert_eq!(s.t10_dev_id, "b8fdbd32-disk1");
        assert_eq!(s.usn, "b8fdbd32");
        assert_eq!(s.vend_specific_id, "b8fdbd32-disk1");
        assert_eq!(s.prod_id, "disk1");
        assert!(s.eui64_id.is_empty() && s.naa_id.is_empty());

        // t10_dev_id is cut at 25 characters, prod_id at 16.
        let name = "a_rather_long_device_name";
        vdisk_add_nullio(name).unwrap();
        let s = vdev(name).unwrap().vdisk_serial.read().clone();
        let full = format!("{:x}-{name}", vdisk_gen_dev_id_num(name));
        assert_eq!(s.t10_dev_id, full[..25]);
        assert_eq!(s.prod_id, name[..16]);

        // With scst_vdisk_ID set, it fills the upper 32 bits.
        atomic_set(&scst_vdisk_ID, 1);
        let n = vdisk_gen_dev_id_num("disk1");
        atomic_set(&scst_vdisk_ID, 0);
        assert_eq!(n, 0x1_b8fd_bd32);
    }

    #[test]
    fn reinit_after_exit() {
        {
            let _l = Loaded::new();
            assert_eq!(init_scst_vdisk_driver(), Err(Errno::EBUSY));
            vdisk_add_nullio("r").unwrap();
        }
        let _l = Loaded::new();
        assert_eq!(nvdevs(), 0);
        vdisk_add_nullio("r").unwrap();
        assert!(scst_dev("r").is_some());
    }
}
