// SPDX-License-Identifier: GPL-2.0-only
//! Unit tests of the FILEIO write path against r7105's scst_vdisk.c: FUA, WRITE_THROUGH
//! (`O_DSYNC`), NV_CACHE, SYNCHRONIZE CACHE, VERIFY, WRITE AND VERIFY, read-only devices
//! and accesses beyond the end.
//!
//! Durability cannot be observed from user space: "the file was flushed" is checked through
//! the port's [`ScstVdiskDev::fsync_cnt`], which [`vdisk_fsync_dev`] increments for each
//! `fdatasync(2)` it makes.

use super::*;
use crate::scst_vdisk::exec::{
    vdev_do_job, vdisk_parse_offset, VdiskCmdCtx, VdiskCmdError, VdiskOps,
};
use crate::scst_vdisk::{scst_vdisk_mutex, vdev_create, vdisk_file_devtype};
use kemu::mm::{alloc_page, __GFP_ZERO, GFP_KERNEL};
use kemu::scatterlist::{sg_copy_from_buffer, sg_init_table, sg_set_page};
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use scst_core::scst_const::*;
use std::io::Write;

/// 64 KiB of a known pattern (more than [`LEN_MEM`], so VERIFY reads in two pieces).
const SIZE: usize = 64 * 1024;
const SIZE_I64: i64 = 64 * 1024;

fn pattern() -> Vec<u8> {
    (0..SIZE).map(|i| (i * 7 % 251) as u8).collect()
}

/// A backing file with [`pattern`] and a FILEIO device on it, opened as the first session
/// would (C `vdisk_attach_tgt()`), read-only when `rd_only`. The file is removed on drop.
struct Dev {
    v: ScstVdiskDev,
    path: std::path::PathBuf,
}

impl Dev {
    fn new(tag: &str, setup: impl FnOnce(&mut ScstVdiskDev)) -> Self {
        let path =
            std::env::temp_dir().join(format!("vdisk-wr-{}-{}.img", std::process::id(), tag));
        File::create(&path).unwrap().write_all(&pattern()).unwrap();
        let mut v = {
            let g = scst_vdisk_mutex.lock();
            vdev_create(&g, &vdisk_file_devtype, tag).unwrap()
        };
        v.filename = Some(path.to_str().unwrap().to_owned());
        v.file_size.store(SIZE_I64, Relaxed);
        v.nblocks.store((SIZE >> 9) as u64, Relaxed);
        setup(&mut v);
        let ro = v.rd_only.load(Relaxed);
        vdisk_attach_tgt(&v, ro).unwrap();
        Self { v, path }
    }

    fn contents(&self) -> Vec<u8> {
        std::fs::read(&self.path).unwrap()
    }

    fn fsyncs(&self) -> u64 {
        self.v.fsync_cnt.load(Relaxed)
    }

    /// The open flags of the backing file (`fcntl(F_GETFL)`).
    fn oflags(&self) -> OFlag {
        let fd = self.v.fd.read().clone().unwrap();
        OFlag::from_bits_retain(fcntl(&*fd, FcntlArg::F_GETFL).unwrap())
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        vdisk_detach_tgt(&self.v);
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Runs `cdb` on the device through `vdev_do_job()` as `fileio_exec()` would after
/// `vdisk_parse_offset()`: the offset of `lba`, `data_len` bytes, with `data` as the
/// data-out buffer (4 KiB pages; data direction WRITE) or no buffer (direction NONE).
fn exec(
    d: &Dev,
    cdb: &[u8],
    lba: u64,
    data_len: usize,
    data: Option<&[u8]>,
) -> Option<VdiskCmdError> {
    let v = &d.v;
    let off = vdisk_parse_offset(v, cdb, true, lba, i64::try_from(data_len).unwrap(), false)
        .expect("offset accepted");
    let ctx = VdiskCmdCtx::new(v, TYPE_DISK, 1);
    let mut sg = match data {
        None => Vec::new(),
        Some(b) => {
            let mut sg = sg_init_table(b.len().div_ceil(4096));
            let mut left = b.len();
            for e in sg.iter_mut() {
                let n = left.min(4096);
                sg_set_page(e, alloc_page(GFP_KERNEL | __GFP_ZERO).unwrap(), n as u32, 0);
                left -= n;
            }
            sg_copy_from_buffer(&mut sg, b);
            sg
        }
    };
    let mut p = VdiskCmdParams::new(cdb, &ctx, v, &mut sg, off.loff);
    p.fua = off.fua;
    p.data_len = i64::try_from(data_len).unwrap();
    p.data_direction = if data.is_some() {
        SCST_DATA_WRITE
    } else {
        SCST_DATA_NONE
    };
    assert!(vdev_do_job(&mut p, VdiskOps::of(v)));
    p.error
}

fn write10(lba: u32, blocks: u16, fua: bool) -> [u8; 10] {
    let l = lba.to_be_bytes();
    let n = blocks.to_be_bytes();
    [
        WRITE_10,
        if fua { 0x08 } else { 0 },
        l[0],
        l[1],
        l[2],
        l[3],
        0,
        n[0],
        n[1],
        0,
    ]
}

fn lba4_len2(op: u8, b1: u8, lba: u32, blocks: u16) -> [u8; 10] {
    let l = lba.to_be_bytes();
    let n = blocks.to_be_bytes();
    [op, b1, l[0], l[1], l[2], l[3], 0, n[0], n[1], 0]
}

fn lba8_len4(op: u8, b1: u8, lba: u64, blocks: u32) -> [u8; 16] {
    let mut c = [0u8; 16];
    c[0] = op;
    c[1] = b1;
    c[2..10].copy_from_slice(&lba.to_be_bytes());
    c[10..14].copy_from_slice(&blocks.to_be_bytes());
    c
}

const MISCOMPARE: Option<VdiskCmdError> = Some(VdiskCmdError::Sense((0x0E, 0x1D, 0x00)));

#[test]
fn fua_write_is_flushed_unless_write_through_or_nv_cache() {
    let d = Dev::new("fua", |_| {});
    let data = vec![0xA5u8; 1024];
    // Plain WRITE(10): no flush.
    assert_eq!(exec(&d, &write10(2, 2, false), 2, 1024, Some(&data)), None);
    assert_eq!(d.fsyncs(), 0);
    // FUA: one fdatasync after the write (C: vdisk_fsync() at out_sync).
    assert_eq!(exec(&d, &write10(4, 2, true), 4, 1024, Some(&data)), None);
    assert_eq!(d.fsyncs(), 1);
    // WRITE(16) with FUA as well; WRITE(6) has no FUA bit.
    let w16 = lba8_len4(WRITE_16, 0x08, 8, 1);
    assert_eq!(exec(&d, &w16, 8, 512, Some(&data[..512])), None);
    assert_eq!(d.fsyncs(), 2);
    let w6 = [WRITE_6, 0, 0, 9, 1, 0];
    assert_eq!(exec(&d, &w6, 9, 512, Some(&data[..512])), None);
    assert_eq!(d.fsyncs(), 2);
    let c = d.contents();
    assert_eq!(&c[1024..2048], &data[..]);
    assert_eq!(&c[2048..3072], &data[..]);
    assert_eq!(&c[4096..5120], &data[..]);
    assert_eq!(&c[..1024], &pattern()[..1024]);

    // WRITE_THROUGH: the file is O_DSYNC; a FUA write needs no flush.
    let d = Dev::new("fua_wt", |v| *v.wt_flag.get_mut() = true);
    assert_eq!(exec(&d, &write10(0, 2, true), 0, 1024, Some(&data)), None);
    assert_eq!(d.fsyncs(), 0);
    assert_eq!(&d.contents()[..1024], &data[..]);

    // NV_CACHE: FUA is a no-op.
    let d = Dev::new("fua_nv", |v| *v.nv_cache.get_mut() = true);
    assert_eq!(exec(&d, &write10(0, 2, true), 0, 1024, Some(&data)), None);
    assert_eq!(d.fsyncs(), 0);
    assert_eq!(&d.contents()[..1024], &data[..]);
}

#[test]
fn write_through_opens_with_o_dsync() {
    let d = Dev::new("wt", |v| *v.wt_flag.get_mut() = true);
    let f = d.oflags();
    assert!(f.contains(OFlag::O_DSYNC), "{f:?}");
    assert_eq!(f & OFlag::O_ACCMODE, OFlag::O_RDWR);
    // Default: no O_DSYNC.
    let d = Dev::new("nowt", |_| {});
    assert!(!d.oflags().contains(OFlag::O_DSYNC));
    // WRITE_THROUGH with NV_CACHE: C vdev_open_fd() leaves O_DSYNC out.
    let d = Dev::new("wtnv", |v| {
        *v.wt_flag.get_mut() = true;
        *v.nv_cache.get_mut() = true;
    });
    assert!(!d.oflags().contains(OFlag::O_DSYNC));
    // READ_ONLY: opened O_RDONLY.
    let d = Dev::new("ro_flags", |v| *v.rd_only.get_mut() = true);
    assert_eq!(d.oflags() & OFlag::O_ACCMODE, OFlag::O_RDONLY);
}

#[test]
fn synchronize_cache_flushes_unless_nv_cache() {
    let d = Dev::new("sync", |_| {});
    let sc10 = lba4_len2(SYNCHRONIZE_CACHE, 0, 0, 0);
    assert_eq!(exec(&d, &sc10, 0, 0, None), None);
    assert_eq!(d.fsyncs(), 1);
    let sc16 = lba8_len4(SYNCHRONIZE_CACHE_16, 0, 16, 8);
    assert_eq!(exec(&d, &sc16, 16, 0, None), None);
    assert_eq!(d.fsyncs(), 2);
    // IMMED (byte 1 bit 1): flushed too, GOOD.
    let immed = lba4_len2(SYNCHRONIZE_CACHE, 0x02, 0, 0);
    assert_eq!(exec(&d, &immed, 0, 0, None), None);
    assert_eq!(d.fsyncs(), 3);
    // START STOP UNIT flushes as well (C vdisk_exec_start_stop()); LOEJ is ignored.
    assert_eq!(exec(&d, &[START_STOP, 0, 0, 0, 0x02, 0], 0, 0, None), None);
    assert_eq!(d.fsyncs(), 4);

    // NV_CACHE: SYNCHRONIZE CACHE and START STOP UNIT are no-ops, GOOD.
    let d = Dev::new("sync_nv", |v| *v.nv_cache.get_mut() = true);
    assert_eq!(exec(&d, &sc10, 0, 0, None), None);
    assert_eq!(exec(&d, &immed, 0, 0, None), None);
    assert_eq!(exec(&d, &sc16, 16, 0, None), None);
    assert_eq!(exec(&d, &[START_STOP, 0, 0, 0, 1, 0], 0, 0, None), None);
    assert_eq!(d.fsyncs(), 0);

    // WRITE_THROUGH: nothing to flush either.
    let d = Dev::new("sync_wt", |v| *v.wt_flag.get_mut() = true);
    assert_eq!(exec(&d, &sc10, 0, 0, None), None);
    assert_eq!(d.fsyncs(), 0);
}

#[test]
fn beyond_the_end_is_lba_out_of_range() {
    let d = Dev::new("end", |_| {});
    let v = &d.v;
    let nblocks = (SIZE >> 9) as u64; // 128
    let range = |cdb: &[u8], lba: u64, len: i64| vdisk_parse_offset(v, cdb, true, lba, len, false);
    // WRITE(10) of 2 blocks at the last LBA: 05/21/00.
    assert_eq!(
        range(&write10(127, 2, false), nblocks - 1, 1024),
        Err(VdiskCmdError::Sense((0x05, 0x21, 0x00)))
    );
    // Ending exactly at the end is fine.
    range(&write10(126, 2, false), nblocks - 2, 1024).unwrap();
    // SYNCHRONIZE CACHE: its data length is 0, so only the LBA counts (C: loff + 0 >
    // file_size): LBA = nblocks is accepted, nblocks + 1 refused, whatever the NUMBER OF
    // BLOCKS says.
    let sc = lba4_len2(SYNCHRONIZE_CACHE, 0, 128, 1000);
    range(&sc, nblocks, 0).unwrap();
    let sc = lba4_len2(SYNCHRONIZE_CACHE, 0, 129, 0);
    assert_eq!(
        range(&sc, nblocks + 1, 0),
        Err(VdiskCmdError::Sense((0x05, 0x21, 0x00)))
    );
    // VERIFY(16) past the end.
    let vf = lba8_len4(VERIFY_16, 0, 120, 9);
    assert_eq!(
        range(&vf, 120, 9 * 512),
        Err(VdiskCmdError::Sense((0x05, 0x21, 0x00)))
    );
    // SYNCHRONIZE CACHE at LBA = nblocks: GOOD, flushed.
    let sc = lba4_len2(SYNCHRONIZE_CACHE, 0, 128, 0);
    assert_eq!(exec(&d, &sc, nblocks, 0, None), None);
    assert_eq!(d.fsyncs(), 1);
}

#[test]
fn verify_bytchk_1_compares_with_the_medium() {
    let d = Dev::new("vrfy", |_| {});
    let pat = pattern();
    // VERIFY(10) BYTCHK=1 (byte 1 bit 1) of 96 blocks at LBA 4: equal → GOOD.
    let cdb = lba4_len2(VERIFY, 0x02, 4, 96);
    let same = &pat[2048..2048 + 96 * 512];
    assert_eq!(exec(&d, &cdb, 4, same.len(), Some(same)), None);
    // C flushes before reading (vdisk_fsync() of the range).
    assert_eq!(d.fsyncs(), 1);
    // One byte different, in the second LEN_MEM piece: MISCOMPARE 0E/1D/00 (r7105 sets
    // no INFORMATION, see vdev_exec_verify()).
    let mut diff = same.to_vec();
    diff[40_000] ^= 0xff;
    assert_eq!(exec(&d, &cdb, 4, diff.len(), Some(&diff)), MISCOMPARE);
    // In the first byte.
    let mut diff = same.to_vec();
    diff[0] ^= 1;
    assert_eq!(exec(&d, &cdb, 4, diff.len(), Some(&diff)), MISCOMPARE);
    // VERIFY(12) and VERIFY(16), BYTCHK=1.
    let mut c12 = [0u8; 12];
    c12[0] = VERIFY_12;
    c12[1] = 0x02;
    c12[2..6].copy_from_slice(&1u32.to_be_bytes());
    c12[6..10].copy_from_slice(&1u32.to_be_bytes());
    assert_eq!(exec(&d, &c12, 1, 512, Some(&pat[512..1024])), None);
    assert_eq!(exec(&d, &c12, 1, 512, Some(&pat[..512])), MISCOMPARE);
    let c16 = lba8_len4(VERIFY_16, 0x02, 127, 1);
    assert_eq!(exec(&d, &c16, 127, 512, Some(&pat[SIZE - 512..])), None);
    // The medium is not changed by VERIFY.
    assert_eq!(d.contents(), pat);
    // NV_CACHE: no flush before reading.
    let d = Dev::new("vrfy_nv", |v| *v.nv_cache.get_mut() = true);
    assert_eq!(exec(&d, &c16, 127, 512, Some(&pat[SIZE - 512..])), None);
    assert_eq!(d.fsyncs(), 0);
}

#[test]
fn verify_bytchk_0_checks_the_medium() {
    let d = Dev::new("vrfy0", |_| {});
    // VERIFY(10) BYTCHK=0 of the whole device: reads it, GOOD.
    let cdb = lba4_len2(VERIFY, 0, 0, 128);
    assert_eq!(exec(&d, &cdb, 0, SIZE, None), None);
    assert_eq!(d.fsyncs(), 1);
    // A medium shorter than the device (the file shrank): the short read is
    // MEDIUM ERROR, UNRECOVERED READ ERROR 03/11/00.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&d.path)
        .unwrap()
        .set_len((SIZE - 512) as u64)
        .unwrap();
    assert_eq!(
        exec(&d, &cdb, 0, SIZE, None),
        Some(VdiskCmdError::Sense((0x03, 0x11, 0x00)))
    );
}

#[test]
fn write_and_verify_round_trip() {
    let d = Dev::new("wv", |_| {});
    let data: Vec<u8> = (0..8 * 512).map(|i| (i % 13) as u8 + 1).collect();
    for (i, cdb) in [
        lba4_len2(WRITE_VERIFY, 0, 8, 8).to_vec(),
        {
            let mut c = vec![0u8; 12];
            c[0] = WRITE_VERIFY_12;
            c[2..6].copy_from_slice(&16u32.to_be_bytes());
            c[6..10].copy_from_slice(&8u32.to_be_bytes());
            c
        },
        lba8_len4(WRITE_VERIFY_16, 0, 24, 8).to_vec(),
    ]
    .iter()
    .enumerate()
    {
        let lba = 8 * (i as u64 + 1);
        assert_eq!(exec(&d, cdb, lba, data.len(), Some(&data)), None);
        let off = usize::try_from(lba).unwrap() * 512;
        assert_eq!(&d.contents()[off..off + data.len()], &data[..]);
    }
    // Each verify flushed first (no FUA on WRITE AND VERIFY).
    assert_eq!(d.fsyncs(), 3);
    // Then VERIFY BYTCHK=1 of what was written: GOOD.
    let cdb = lba4_len2(VERIFY, 0x02, 8, 8);
    assert_eq!(exec(&d, &cdb, 8, data.len(), Some(&data)), None);

    // A failed write is not verified: a read-only file gives WRITE FAULT 03/03/00 only.
    let d = Dev::new("wv_ro", |v| *v.rd_only.get_mut() = true);
    let cdb = lba4_len2(WRITE_VERIFY, 0, 0, 8);
    assert_eq!(
        exec(&d, &cdb, 0, data.len(), Some(&data)),
        Some(VdiskCmdError::Sense((0x03, 0x03, 0x00)))
    );
    assert_eq!(d.fsyncs(), 0);
}

#[test]
fn read_only_device() {
    // The DATA PROTECT answer to a write on a read-only LUN is the core's (C
    // scst_do_local_exec(), SCST_WRITE_MEDIUM, before the handler sees the command). What
    // vdisk does: the file is open read-only, MODE SENSE reports WP, and a write that
    // still reaches it fails in pwritev(2) with EBADF → MEDIUM ERROR, WRITE FAULT, as C's
    // vfs_writev() would.
    let d = Dev::new("ro", |v| *v.rd_only.get_mut() = true);
    assert_eq!(d.oflags() & OFlag::O_ACCMODE, OFlag::O_RDONLY);
    let data = vec![0x5Au8; 512];
    assert_eq!(
        exec(&d, &write10(0, 1, true), 0, 512, Some(&data)),
        Some(VdiskCmdError::Sense((0x03, 0x03, 0x00)))
    );
    assert_eq!(d.contents(), pattern());
    // Reads and VERIFY work.
    let cdb = lba4_len2(VERIFY, 0x02, 0, 1);
    assert_eq!(exec(&d, &cdb, 0, 512, Some(&pattern()[..512])), None);
}

#[test]
fn blockio_write_and_verify_only_writes() {
    // C blockio_exec_write_verify(): "not yet implemented", writes without verifying. The
    // port's BLOCKIO does its I/O on the file; a regular file stands in for the device.
    let d = Dev::new("bwv", |v| v.blockio = true);
    let data = vec![0x11u8; 1024];
    let cdb = lba4_len2(WRITE_VERIFY, 0, 2, 2);
    assert_eq!(exec(&d, &cdb, 2, 1024, Some(&data)), None);
    assert_eq!(&d.contents()[1024..2048], &data[..]);
    assert_eq!(d.fsyncs(), 0);
    // VERIFY on BLOCKIO is vdev_exec_verify(), as on FILEIO.
    let cdb = lba4_len2(VERIFY, 0x02, 2, 2);
    assert_eq!(exec(&d, &cdb, 2, 1024, Some(&data)), None);
    assert_eq!(exec(&d, &cdb, 2, 1024, Some(&[0u8; 1024])), MISCOMPARE);
}

#[test]
fn nullio_write_path_does_no_io() {
    let mut v = {
        let g = scst_vdisk_mutex.lock();
        vdev_create(&g, &vdisk_file_devtype, "nwr").unwrap()
    };
    v.nullio = true;
    v.file_size.store(SIZE_I64, Relaxed);
    v.nblocks.store((SIZE >> 9) as u64, Relaxed);
    let d = Dev {
        v,
        path: std::env::temp_dir().join("vdisk-wr-nonexistent"),
    };
    let data = vec![1u8; 512];
    // VERIFY BYTCHK=1 with any data, WRITE AND VERIFY, SYNCHRONIZE CACHE, FUA write: GOOD.
    assert_eq!(
        exec(&d, &lba4_len2(VERIFY, 2, 0, 1), 0, 512, Some(&data)),
        None
    );
    assert_eq!(exec(&d, &lba4_len2(VERIFY, 0, 0, 1), 0, 512, None), None);
    assert_eq!(
        exec(&d, &lba4_len2(WRITE_VERIFY, 0, 0, 1), 0, 512, Some(&data)),
        None
    );
    assert_eq!(exec(&d, &write10(0, 1, true), 0, 512, Some(&data)), None);
    assert_eq!(
        exec(&d, &lba4_len2(SYNCHRONIZE_CACHE, 2, 0, 0), 0, 0, None),
        None
    );
    assert_eq!(d.fsyncs(), 0);
}
