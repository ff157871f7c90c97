// SPDX-License-Identifier: GPL-2.0-only
//! FILEIO command execution of `scst_vdisk.c`: the backing file descriptor shared by the
//! sessions (`vdisk_open_fd()`, `vdisk_close_fd()`), READ and WRITE through
//! `preadv(2)`/`pwritev(2)` straight between the file and the command's scatterlist pages
//! (C `fileio_exec_read()`, `fileio_exec_write()` with `vfs_readv()`/`vfs_writev()`), and
//! the cache flushes (`vdisk_fsync()`, `vdisk_synchronize_cache()`, `vdisk_exec_start_stop()`).

use super::exec::{ComplStatus, VdiskCmdParams, UIO_MAXIOV};
use super::TRACE_FLAG;
use super::{vdev_open_fd, ScstVdiskDev};
use kemu::scatterlist::{sg_virt, sg_virt_mut, Scatterlist};
use kemu::{Errno, PRINT_ERROR, PRINT_INFO, TRACE_DBG};
use scst_core::scst_const::{
    scst_sense_no_medium, scst_sense_read_error, scst_sense_write_error,
    scst_space_allocation_failed_write_protect,
};
use std::fs::File;
use std::io::{IoSlice, IoSliceMut};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// C `vdisk_open_fd()`: opens the backing file (read-only when `read_only`) into
/// `virt_dev->fd`. The device must have a file name and no open file.
pub fn vdisk_open_fd(virt_dev: &ScstVdiskDev, read_only: bool) -> Result<(), Errno> {
    let Some(filename) = virt_dev.filename.as_deref() else {
        PRINT_ERROR!("Device {} has no file", virt_dev.name);
        return Err(Errno::EINVAL);
    };
    let f = vdev_open_fd(virt_dev, filename, read_only)?;
    *virt_dev.fd.write() = Some(Arc::new(f));
    Ok(())
}

/// C `vdisk_close_fd()`: closes the backing file (the last in-flight command holding the
/// `Arc` closes it when it finishes).
pub fn vdisk_close_fd(virt_dev: &ScstVdiskDev) {
    *virt_dev.fd.write() = None;
}

/// C `vdisk_attach_tgt()` (with `scst_mutex` held): one more session uses the device; the
/// first one opens the backing file (C keeps one `fd` per device, not per session), read-only
/// when `dev_rd_only`. NULLIO devices and empty CD-ROMs open nothing. An open failure undoes
/// the count, except `EMEDIUMTYPE` on BLOCKIO (DRBD secondary: reopened on exec in C).
pub fn vdisk_attach_tgt(virt_dev: &ScstVdiskDev, dev_rd_only: bool) -> Result<(), Errno> {
    virt_dev.tgt_dev_cnt.fetch_add(1, Relaxed);
    if virt_dev.fd.read().is_some() {
        return Ok(());
    }
    if !virt_dev.nullio && !virt_dev.cdrom_empty.load(Relaxed) {
        if let Err(e) = vdisk_open_fd(virt_dev, dev_rd_only) {
            if e == Errno::EMEDIUMTYPE && virt_dev.blockio {
                return Ok(());
            }
            virt_dev.tgt_dev_cnt.fetch_sub(1, Relaxed);
            return Err(e);
        }
    }
    Ok(())
}

/// C `vdisk_detach_tgt()` (with `scst_mutex` held): the last session closes the file.
pub fn vdisk_detach_tgt(virt_dev: &ScstVdiskDev) {
    if virt_dev.tgt_dev_cnt.fetch_sub(1, Relaxed) == 1 {
        vdisk_close_fd(virt_dev);
    }
}

/// The open backing file of the command's device. C dereferences `virt_dev->fd` and would
/// crash on a closed one; the port answers MEDIUM NOT PRESENT as C's `blockio_exec()` does
/// for a closed fd.
fn vdisk_fd(p: &mut VdiskCmdParams<'_>) -> Option<Arc<File>> {
    let fd = p.virt_dev.fd.read().clone();
    if fd.is_none() {
        PRINT_ERROR!("Closed FD on exec (dev {})", p.virt_dev.name);
        p.scst_set_cmd_error(scst_sense_no_medium);
    }
    fd
}

fn off_t_of(loff: i64) -> libc::off_t {
    loff
}

/// The first `max` bytes of the scatterlist as iovecs (C: the `scst_get_buf_first()` /
/// `scst_get_buf_next()` walk, which stops at `cmd->bufflen`).
fn sg_iov_mut(sg: &mut [Scatterlist], mut max: usize) -> Vec<IoSliceMut<'_>> {
    let mut iv = Vec::with_capacity(sg.len());
    for e in sg.iter_mut() {
        if max == 0 {
            break;
        }
        let b = sg_virt_mut(e);
        let n = b.len().min(max);
        if n > 0 {
            iv.push(IoSliceMut::new(&mut b[..n]));
        }
        max -= n;
    }
    iv
}

/// As [`sg_iov_mut`], for writing out.
fn sg_iov(sg: &[Scatterlist], mut max: usize) -> Vec<IoSlice<'_>> {
    let mut iv = Vec::with_capacity(sg.len());
    for e in sg {
        if max == 0 {
            break;
        }
        let b = sg_virt(e);
        let n = b.len().min(max);
        if n > 0 {
            iv.push(IoSlice::new(&b[..n]));
        }
        max -= n;
    }
    iv
}

/// C `fileio_exec_read()`: reads the command's buffer (its whole length) from the backing
/// file at `p.loff` with `preadv(2)`, at most [`UIO_MAXIOV`] pages per call. As C's
/// `vfs_readv()` path: a failed or short read (EOF) → MEDIUM ERROR, UNRECOVERED READ ERROR
/// (11/00); `EAGAIN` → BUSY.
pub fn fileio_exec_read(p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    let Some(fd) = vdisk_fd(p) else {
        return ComplStatus::CmdSucceeded;
    };
    let mut loff = p.loff;
    let mut err = None;
    {
        let len = p.bufflen();
        let mut iv: Vec<IoSliceMut<'_>> = sg_iov_mut(p.sg, len);
        for chunk in iv.chunks_mut(UIO_MAXIOV) {
            let full_len: usize = chunk.iter().map(|v| v.len()).sum();
            TRACE_DBG!("Reading iv_count {}, full_len {}", chunk.len(), full_len);
            match nix::sys::uio::preadv(&*fd, chunk, off_t_of(loff)) {
                Ok(n) if n == full_len => loff += i64::try_from(n).unwrap_or(i64::MAX),
                r => {
                    PRINT_ERROR!("readv() returned {:?} from {}", r, full_len);
                    err = Some(r.err());
                    break;
                }
            }
        }
    }
    match err {
        None => {}
        Some(Some(Errno::EAGAIN)) => p.scst_set_busy(),
        Some(_) => p.scst_set_cmd_error(scst_sense_read_error),
    }
    ComplStatus::CmdSucceeded
}

/// C `fileio_exec_write()`: writes the command's buffer to the backing file at `p.loff`
/// with `pwritev(2)`, restarting after a short write as C does. `EAGAIN` → BUSY; `ENOSPC`
/// → DATA PROTECT, SPACE ALLOCATION FAILED WRITE PROTECT (27/07); another error → MEDIUM
/// ERROR, WRITE FAULT (03/00). With FUA the file is then flushed (C: `vdisk_fsync()`, a
/// no-op for write-through or NV-cache devices).
pub fn fileio_exec_write(p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    let Some(fd) = vdisk_fd(p) else {
        return ComplStatus::CmdSucceeded;
    };
    let mut loff = p.loff;
    let mut failed = None;
    {
        let iv: Vec<IoSlice<'_>> = sg_iov(p.sg, p.bufflen());
        'chunks: for chunk in iv.chunks(UIO_MAXIOV) {
            let mut eiv: Vec<IoSlice<'_>> = chunk.to_vec();
            let mut eiv: &mut [IoSlice<'_>] = &mut eiv;
            let mut full_len: usize = eiv.iter().map(|v| v.len()).sum();
            while full_len > 0 {
                TRACE_DBG!("Writing: eiv_count {}, full_len {}", eiv.len(), full_len);
                match nix::sys::uio::pwritev(&*fd, eiv, off_t_of(loff)) {
                    Err(e) => {
                        PRINT_ERROR!("write() returned {} from {}", e, full_len);
                        failed = Some(e);
                        break 'chunks;
                    }
                    Ok(n) => {
                        if n < full_len {
                            // C: "sometimes write() returns less than requested": restart.
                            if n == 0 {
                                PRINT_INFO!(
                                    "Suspicious: write() returned 0 from {} (iv_count={})",
                                    full_len,
                                    eiv.len()
                                );
                            }
                        }
                        full_len -= n;
                        loff += i64::try_from(n).unwrap_or(i64::MAX);
                        IoSlice::advance_slices(&mut eiv, n);
                    }
                }
            }
        }
    }
    match failed {
        None => {}
        Some(Errno::EAGAIN) => p.scst_set_busy(),
        Some(Errno::ENOSPC) => p.scst_set_cmd_error(scst_space_allocation_failed_write_protect),
        Some(_) => p.scst_set_cmd_error(scst_sense_write_error),
    }
    if p.fua {
        let _ = vdisk_fsync(p);
    }
    ComplStatus::CmdSucceeded
}

/// C `vdisk_fsync()` + `vdisk_fsync_fileio()`: flushes the backing file unless the device
/// is NV-cache, write-through, O_DIRECT or NULLIO. C flushes the byte range with
/// `filemap_write_and_wait_range()`; user space flushes the file's data (`fdatasync(2)`).
/// A failure → MEDIUM ERROR, WRITE FAULT (`ENOMEM`: BUSY).
pub fn vdisk_fsync(p: &mut VdiskCmdParams<'_>) -> Result<(), Errno> {
    let v = p.virt_dev;
    if v.nv_cache.load(Relaxed)
        || v.wt_flag.load(Relaxed)
        || v.o_direct_flag.load(Relaxed)
        || v.nullio
    {
        return Ok(());
    }
    let Some(fd) = p.virt_dev.fd.read().clone() else {
        return Ok(());
    };
    if let Err(e) = fd.sync_data() {
        let e = Errno::from_raw(e.raw_os_error().unwrap_or(Errno::EIO as i32));
        PRINT_ERROR!("sync range failed ({})", -(e as i32));
        if e == Errno::ENOMEM {
            p.scst_set_busy();
        } else {
            p.scst_set_cmd_error(scst_sense_write_error);
        }
        return Err(e);
    }
    Ok(())
}

/// C `vdisk_synchronize_cache()`: SYNCHRONIZE CACHE(10)/(16) → [`vdisk_fsync`].
///
/// Deviation: C answers an IMMED command before flushing (and r7105 dereferences a NULL
/// command on that path, see scst-reference §9.8); the port flushes first, then completes,
/// IMMED or not.
pub fn vdisk_synchronize_cache(p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    TRACE_DBG!(
        "SYNCHRONIZE_CACHE: loff={}, immed={}",
        p.loff,
        p.cdb_byte(1) & 0x2
    );
    let _ = vdisk_fsync(p);
    ComplStatus::CmdSucceeded
}

/// C `vdisk_exec_start_stop()`: START STOP UNIT flushes the whole device and succeeds
/// (errors of the flush are set on the command, as C's `vdisk_fsync(..., cmd, false)`).
pub fn vdisk_exec_start_stop(p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    let _ = vdisk_fsync(p);
    ComplStatus::CmdSucceeded
}
