// SPDX-License-Identifier: GPL-2.0-only
//! FILEIO command execution of `scst_vdisk.c`: the backing file descriptor shared by the
//! sessions (`vdisk_open_fd()`, `vdisk_close_fd()`), READ and WRITE through
//! `preadv(2)`/`pwritev(2)` straight between the file and the command's scatterlist pages
//! (C `fileio_exec_read()`, `fileio_exec_write()` with `vfs_readv()`/`vfs_writev()`), and
//! the cache flushes (`vdisk_fsync()`, `vdisk_synchronize_cache()`, `vdisk_exec_start_stop()`),
//! and VERIFY / WRITE AND VERIFY (`vdev_exec_verify()`, `fileio_exec_write_verify()`,
//! `blockio_exec_write_verify()`).
//!
//! Durability as C: a write-through device's file is open with `O_DSYNC` (C
//! `vdev_open_fd()`), so each write is stable when it returns; otherwise a FUA write,
//! SYNCHRONIZE CACHE, START STOP UNIT and VERIFY flush the file with `fdatasync(2)`, except
//! on NV_CACHE devices, where the flush is skipped because the cache is taken to be
//! non-volatile.

use super::exec::{ComplStatus, VdiskCmdParams, LEN_MEM, TRACE_ORDER, UIO_MAXIOV};
use super::TRACE_FLAG;
use super::{vdev_open_fd, ScstVdiskDev};
use kemu::scatterlist::{sg_virt, sg_virt_mut, Scatterlist};
use kemu::{Errno, PRINT_ERROR, PRINT_INFO, PRINT_WARNING, TRACE, TRACE_DBG};
use scst_core::scst_const::{
    scst_sense_miscompare_error, scst_sense_no_medium, scst_sense_read_error,
    scst_sense_write_error, scst_space_allocation_failed_write_protect, SCST_DATA_WRITE,
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

/// C `vdisk_fsync()` with a NULL command (and `__vdisk_fsync_fileio()`): flushes the backing
/// file of `virt_dev` unless the device is NV-cache, write-through (its file is open with
/// `O_DSYNC`), O_DIRECT or NULLIO, in which case nothing is done. C flushes the byte range
/// with `filemap_write_and_wait_range()` (FILEIO) or issues a block-device flush (BLOCKIO);
/// user space flushes the whole file's data with `fdatasync(2)`, on a regular file or a
/// block device alike. A closed file (no session) has nothing to flush. Counts in
/// [`ScstVdiskDev::fsync_cnt`].
pub fn vdisk_fsync_dev(virt_dev: &ScstVdiskDev) -> Result<(), Errno> {
    if virt_dev.nv_cache.load(Relaxed)
        || virt_dev.wt_flag.load(Relaxed)
        || virt_dev.o_direct_flag.load(Relaxed)
        || virt_dev.nullio
    {
        return Ok(());
    }
    let Some(fd) = virt_dev.fd.read().clone() else {
        return Ok(());
    };
    virt_dev.fsync_cnt.fetch_add(1, Relaxed);
    fd.sync_data().map_err(|e| {
        let e = Errno::from_raw(e.raw_os_error().unwrap_or(Errno::EIO as i32));
        PRINT_ERROR!("sync range failed ({})", -(e as i32));
        e
    })
}

/// C `vdisk_fsync()` + `vdisk_fsync_fileio()` with the command: [`vdisk_fsync_dev`], and a
/// failure is set on the command as C does: `ENOMEM` → BUSY, anything else → MEDIUM ERROR,
/// WRITE FAULT (03/03/00). (C's `async` completion of the command is the caller's
/// `vdev_do_job()` completion here.)
pub fn vdisk_fsync(p: &mut VdiskCmdParams<'_>) -> Result<(), Errno> {
    let res = vdisk_fsync_dev(p.virt_dev);
    match res {
        Ok(()) => {}
        Err(Errno::ENOMEM) => p.scst_set_busy(),
        Err(_) => p.scst_set_cmd_error(scst_sense_write_error),
    }
    res
}

/// C `vdisk_synchronize_cache()`: SYNCHRONIZE CACHE(10)/(16). The range is the LBA to the
/// end of the device when the NUMBER OF BLOCKS is 0 (the core's CDB table gives these
/// commands a data length of 0 in r7105, so always), and the flush is [`vdisk_fsync`]: a
/// no-op for NV_CACHE, WRITE_THROUGH, O_DIRECT and NULLIO devices. An LBA beyond the end
/// was refused before (C `vdisk_parse_offset()`: LOGICAL BLOCK ADDRESS OUT OF RANGE).
///
/// IMMED: C completes the command first and then flushes without a command, so a flush
/// error is not reported; the port flushes, then completes, and does not report the error
/// either (the order differs only in when GOOD is sent). r7105 dereferences the NULL
/// command on that path when the flush is skipped (scst-reference §9.8); the port does not.
pub fn vdisk_synchronize_cache(p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    let immed = p.cdb_byte(1) & 0x2 != 0;
    let mut data_len = p.data_len;
    if data_len == 0 {
        data_len = p.virt_dev.file_size.load(Relaxed) - p.loff;
    }
    TRACE!(
        TRACE_ORDER,
        "SYNCHRONIZE_CACHE: loff={}, data_len={}, immed={}",
        p.loff,
        data_len,
        u8::from(immed)
    );
    if immed {
        // C: vdisk_fsync(..., cmd = NULL, ...), "ToDo: vdisk_fsync() error processing".
        let _ = vdisk_fsync_dev(p.virt_dev);
    } else {
        let _ = vdisk_fsync(p);
    }
    ComplStatus::CmdSucceeded
}

/// C `vdisk_exec_start_stop()`: START STOP UNIT flushes the whole device (C:
/// `vdisk_fsync(0, file_size, dev, ..., cmd, false)`, errors set on the command) and
/// succeeds. r7105 looks at none of the CDB's bits: START, LOEJ and IMMED are ignored,
/// for vcdrom too (no eject), and so does the port.
pub fn vdisk_exec_start_stop(p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    let _ = vdisk_fsync(p);
    ComplStatus::CmdSucceeded
}

/// C `vdev_read_sync()` + `fileio_read_sync()`: reads `buf.len()` bytes at `*loff` into
/// `buf`, advancing `*loff` by what was read. A NULLIO device reads nothing, returns the
/// length and leaves `*loff` as is (as C). BLOCKIO reads the block device like a file
/// (C: `blockio_read_sync()` with bios). One `pread(2)`: a short read is returned as such.
fn vdev_read_sync(
    virt_dev: &ScstVdiskDev,
    fd: Option<&File>,
    buf: &mut [u8],
    loff: &mut i64,
) -> Result<usize, Errno> {
    if virt_dev.nullio {
        return Ok(buf.len());
    }
    let Some(fd) = fd else {
        return Err(Errno::EBADF);
    };
    let n = nix::sys::uio::pread(fd, buf, off_t_of(*loff))?;
    *loff += i64::try_from(n).unwrap_or(i64::MAX);
    Ok(n)
}

/// Why [`vdev_exec_verify`] stopped early.
enum VerifyFail {
    /// The medium could not be read (`None`: short read).
    Read(Option<Errno>),
    /// The data-out differs from the medium; the offset of the first differing byte in
    /// the data-out buffer (for the log: r7105 reports no INFORMATION).
    Miscompare(usize),
}

/// C `vdev_exec_verify()`: VERIFY(10/12/16), and the verify half of WRITE AND VERIFY. First
/// flushes (C `vdisk_fsync()` of the range; a failure ends the command with its error),
/// then reads the medium from `p.loff` in pieces of at most [`LEN_MEM`] bytes: for
/// `p.data_len` bytes when no data comes with the command (BYTCHK 0: a medium check,
/// GOOD unless a read fails), or along the data-out buffer when it does (BYTCHK 1, or
/// WRITE AND VERIFY: `data_direction` WRITE), comparing each piece with it.
///
/// Errors as C: a failed or short read → MEDIUM ERROR, UNRECOVERED READ ERROR (03/11/00;
/// `EAGAIN` → BUSY); a difference → MISCOMPARE, MISCOMPARE DURING VERIFY OPERATION
/// (0E/1D/00). r7105 sets the sense with `scst_set_cmd_error()`, so the INFORMATION field
/// is not valid (SBC would put the offset of the first differing byte there; the port
/// only logs that offset, at debug level).
pub fn vdev_exec_verify(p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    let mut loff = p.loff;
    let data_len = p.data_len;
    if vdisk_fsync(p).is_err() {
        return ComplStatus::CmdSucceeded;
    }

    // C: "for file I/O, unless the cache is cleared before verifying, there is not much
    // point in this" — the data may well come from the page cache; kept as C has it.
    let compare = p.data_direction == SCST_DATA_WRITE;
    TRACE_DBG!(
        "VERIFY with compare {} at offset {} and len {}",
        u8::from(compare),
        loff,
        data_len
    );

    let fd = if p.virt_dev.nullio {
        None
    } else {
        match vdisk_fd(p) {
            Some(fd) => Some(fd),
            None => return ComplStatus::CmdSucceeded,
        }
    };
    let virt_dev = p.virt_dev;
    let mut mem_verify = vec![0u8; LEN_MEM];

    // One piece of the medium into mem_verify, as C's read-and-check of `len_mem` bytes.
    let read_piece = |mem: &mut [u8], loff: &mut i64| -> Result<(), VerifyFail> {
        match vdev_read_sync(virt_dev, fd.as_deref(), mem, loff) {
            Ok(n) if n == mem.len() => Ok(()),
            r => {
                PRINT_ERROR!("verify() returned {:?} from {}", r, mem.len());
                Err(VerifyFail::Read(r.err()))
            }
        }
    };
    let res: Result<(), VerifyFail> = (|| {
        if compare {
            let iv = sg_iov(p.sg, p.bufflen());
            let mut done = 0usize;
            for seg in &iv {
                for piece in seg.chunks(LEN_MEM) {
                    TRACE_DBG!("Verify: piece {} at buffer offset {}", piece.len(), done);
                    let mem = &mut mem_verify[..piece.len()];
                    read_piece(mem, &mut loff)?;
                    if let Some(i) = piece.iter().zip(mem.iter()).position(|(a, b)| a != b) {
                        return Err(VerifyFail::Miscompare(done + i));
                    }
                    done += piece.len();
                }
            }
        } else {
            let mut length = u64::try_from(data_len).unwrap_or(0);
            while length > 0 {
                let len_mem = usize::try_from(length).map_or(LEN_MEM, |l| l.min(LEN_MEM));
                TRACE_DBG!("Verify: length {} - len_mem {}", length, len_mem);
                read_piece(&mut mem_verify[..len_mem], &mut loff)?;
                length -= len_mem as u64;
            }
        }
        Ok(())
    })();

    match res {
        Ok(()) => {}
        Err(VerifyFail::Read(Some(Errno::EAGAIN))) => p.scst_set_busy(),
        Err(VerifyFail::Read(_)) => p.scst_set_cmd_error(scst_sense_read_error),
        Err(VerifyFail::Miscompare(off)) => {
            TRACE_DBG!("Verify: miscompare at data-out offset {}", off);
            p.scst_set_cmd_error(scst_sense_miscompare_error);
        }
    }
    ComplStatus::CmdSucceeded
}

/// C `fileio_exec_write_verify()`: WRITE AND VERIFY(10/12/16): [`fileio_exec_write`], then,
/// if the write left the status GOOD, [`vdev_exec_verify`] of the same range against the
/// data-out (BYTCHK is not looked at, as in C). Write-through devices need no flush in
/// between: their file is open with `O_DSYNC`.
pub fn fileio_exec_write_verify(p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    fileio_exec_write(p);
    if p.error.is_none() {
        vdev_exec_verify(p);
    }
    ComplStatus::CmdSucceeded
}

/// C `blockio_exec_write_verify()`: r7105 does not verify on BLOCKIO; it warns and only
/// writes (the port's BLOCKIO write is [`fileio_exec_write`] on the block device).
pub fn blockio_exec_write_verify(p: &mut VdiskCmdParams<'_>) -> ComplStatus {
    PRINT_WARNING!("vdisk_blockio: WRITE VERIFY is not yet implemented");
    fileio_exec_write(p)
}

#[cfg(test)]
mod tests;
