// SPDX-License-Identifier: GPL-2.0-only
//! Unit tests of the vdisk command execution against the values of scst-reference §9 and
//! r7105's scst_vdisk.c (expected bytes written out as literals).

use super::*;
use crate::scst_vdisk::fileio::{vdisk_attach_tgt, vdisk_detach_tgt};
use crate::scst_vdisk::{scst_vdisk_mutex, vdev_create, vdisk_file_devtype};
use kemu::mm::{alloc_page, __GFP_ZERO, GFP_KERNEL};
use kemu::scatterlist::{sg_copy_to_buffer, sg_init_table, sg_set_page, sg_virt_mut};
use kemu::Errno;
use std::io::Write;

/// A device as `vdev_create()` makes it, with `nblocks` 512-byte blocks.
fn vdev(name: &str, nblocks: u64) -> ScstVdiskDev {
    let g = scst_vdisk_mutex.lock();
    let v = vdev_create(&g, &vdisk_file_devtype, name).unwrap();
    drop(g);
    v.nblocks.store(nblocks, Relaxed);
    v.file_size.store((nblocks << 9).cast_signed(), Relaxed);
    v
}

/// A scatterlist of entries of the given (length, offset) in fresh zeroed pages.
fn sgl(lens: &[(u32, u32)]) -> Vec<Scatterlist> {
    let mut sg = sg_init_table(lens.len());
    for (e, &(len, off)) in sg.iter_mut().zip(lens) {
        sg_set_page(e, alloc_page(GFP_KERNEL | __GFP_ZERO).unwrap(), len, off);
    }
    sg
}

/// Runs `cdb` through `vdev_do_job` with a buffer of `alloc` bytes; returns the error and
/// the first `resp_data_len` bytes of the buffer.
fn run(
    v: &ScstVdiskDev,
    ctx: &VdiskCmdCtx,
    cdb: &[u8],
    alloc: u32,
) -> (Option<VdiskCmdError>, Vec<u8>) {
    let mut sg = if alloc == 0 {
        Vec::new()
    } else {
        sgl(&[(alloc, 0)])
    };
    let mut p = VdiskCmdParams::new(cdb, ctx, v, &mut sg, 0);
    assert!(vdev_do_job(&mut p, VdiskOps::of(v)));
    let (err, n) = (p.error, p.resp_data_len);
    let mut out = vec![0u8; n];
    sg_copy_to_buffer(&sg, &mut out);
    (err, out)
}

fn disk_ctx(v: &ScstVdiskDev) -> VdiskCmdCtx {
    let mut c = VdiskCmdCtx::new(v, TYPE_DISK, 1);
    c.saved_mode_pages_enabled = true;
    c
}

#[test]
fn standard_inquiry_fileio() {
    let v = vdev("disk1", 2048);
    let ctx = disk_ctx(&v);
    let (err, d) = run(&v, &ctx, &[INQUIRY, 0, 0, 0, 255, 0], 255);
    assert_eq!(err, None);
    let mut exp = vec![
        0x00, // PQ 0, TYPE_DISK
        0x00, // not removable
        0x06, // SPC-4
        0x22, // NormACA | response data format 2
        59,   // additional length: 31 + 22 + 3 descriptors
        0x08, // 3PC
        0x10, // MultiP
        0x02, // CmdQue
    ];
    exp.extend_from_slice(b"SCST_FIO");
    exp.extend_from_slice(b"disk1           ");
    exp.extend_from_slice(b" 330"); // r7105 SCST_FIO_REV, leading space
    exp.extend_from_slice(&[0; 22]); // 36..58: no vendor-specific data
    exp.extend_from_slice(&[0x00, 0x8B, 0x09, 0x60, 0x04, 0x63]); // SAM-4, iSCSI, SPC-4
    assert_eq!(d, exp);
    assert_eq!(d.len(), 64);
}

#[test]
fn standard_inquiry_flags_and_truncation() {
    let v = vdev("rmv", 2048);
    v.removable.store(true, Relaxed);
    let mut ctx = disk_ctx(&v);
    // Allocation length 36: the data is cut, resp_data_len follows.
    let (err, d) = run(&v, &ctx, &[INQUIRY, 0, 0, 0, 36, 0], 36);
    assert_eq!(err, None);
    assert_eq!(d.len(), 36);
    assert_eq!(&d[..2], &[0x00, 0x80]);
    // vcdrom: type 5.
    ctx.dev_type = TYPE_ROM;
    let (_, d) = run(&v, &ctx, &[INQUIRY, 0, 0, 0, 255, 0], 255);
    assert_eq!(d[0], 0x05);
    // dummy: PQ 1, type 1Fh.
    ctx.dev_type = TYPE_DISK;
    v.dummy.store(true, Relaxed);
    let (_, d) = run(&v, &ctx, &[INQUIRY, 0, 0, 0, 255, 0], 255);
    assert_eq!(d[0], 0x3f);
    // ALUA offline wins over dummy: PQ 1 with the device type.
    ctx.alua_state = SCST_TG_STATE_OFFLINE;
    let (_, d) = run(&v, &ctx, &[INQUIRY, 0, 0, 0, 255, 0], 255);
    assert_eq!(d[0], 0x20);
    // ALUA configured: TPGS implicit (0x10) | 3PC; + explicit (0x20) with expl_alua.
    ctx.alua_state = SCST_TG_STATE_OPTIMIZED;
    ctx.alua_configured = true;
    v.expl_alua.store(true, Relaxed);
    let (_, d) = run(&v, &ctx, &[INQUIRY, 0, 0, 0, 255, 0], 255);
    assert_eq!(d[5], 0x10 | 0x20 | 0x08);
    // Empty buffer: nothing done, not even the CMDDT check (C: length <= 0 → out).
    let (err, d) = run(&v, &ctx, &[INQUIRY, CMDDT, 0, 0, 0, 0], 0);
    assert_eq!((err, d.len()), (None, 0));
}

#[test]
fn inquiry_errors() {
    let v = vdev("e", 2048);
    let ctx = disk_ctx(&v);
    let inv = |f, b| {
        Some(VdiskCmdError::InvalidFieldInCdb {
            field_offs: f,
            bit_offs: b,
        })
    };
    // CMDDT: byte 1, bit 1.
    assert_eq!(
        run(&v, &ctx, &[INQUIRY, CMDDT, 0, 0, 255, 0], 255).0,
        inv(1, 0x8001)
    );
    // Page code without EVPD: byte 2.
    assert_eq!(
        run(&v, &ctx, &[INQUIRY, 0, 0x80, 0, 255, 0], 255).0,
        inv(2, 0)
    );
    // Unsupported VPD page; B2h of a non-thin device; B0h of a CD-ROM.
    assert_eq!(
        run(&v, &ctx, &[INQUIRY, EVPD, 0x99, 0, 255, 0], 255).0,
        inv(2, 0)
    );
    assert_eq!(
        run(&v, &ctx, &[INQUIRY, EVPD, 0xB2, 0, 255, 0], 255).0,
        inv(2, 0)
    );
    let mut rom = ctx.clone();
    rom.dev_type = TYPE_ROM;
    assert_eq!(
        run(&v, &rom, &[INQUIRY, EVPD, 0xB0, 0, 255, 0], 255).0,
        inv(2, 0)
    );
    // The error is ILLEGAL REQUEST 24/00.
    assert_eq!(inv(2, 0).unwrap().sense(), Some((0x05, 0x24, 0x00)));
    // A truncated CDB does not panic: missing bytes read as 0.
    assert_eq!(run(&v, &ctx, &[INQUIRY], 255).0, None);
}

#[test]
fn vpd_pages() {
    let v = vdev("disk1", 2048);
    let ctx = disk_ctx(&v);
    // 00h: 00 80 83 86 B0 B1 (disk, not thin).
    let (_, d) = run(&v, &ctx, &[INQUIRY, EVPD, 0x00, 0, 255, 0], 255);
    assert_eq!(
        d,
        [0x00, 0x00, 0x00, 0x06, 0x00, 0x80, 0x83, 0x86, 0xB0, 0xB1]
    );
    // 80h: usn "b8fdbd32".
    let (_, d) = run(&v, &ctx, &[INQUIRY, EVPD, 0x80, 0, 255, 0], 255);
    let mut exp = vec![0x00, 0x80, 0x00, 0x08];
    exp.extend_from_slice(b"b8fdbd32");
    assert_eq!(d, exp);
    // 83h: T10 vendor id, relative target port 1, EUI-64 from t10_dev_id.
    let (_, d) = run(&v, &ctx, &[INQUIRY, EVPD, 0x83, 0, 255, 0], 255);
    let mut exp = vec![0x00, 0x83, 0x00, 46];
    exp.extend_from_slice(&[0x02, 0x01, 0x00, 22]); // ASCII, T10 vendor id, 8 + 14
    exp.extend_from_slice(b"SCST_FIOb8fdbd32-disk1");
    exp.extend_from_slice(&[0x01, 0x14, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01]); // rel. port 1
    exp.extend_from_slice(&[0x01, 0x02, 0x00, 0x08]); // binary, EUI-64, 8 bytes
    exp.extend_from_slice(b"b8fdbd32"); // compatibility mode: t10_dev_id[0..8]
    assert_eq!(d, exp);
    // 86h: length 3Ch; 07, V_SUP 1, LUICLR 1.
    let (_, d) = run(&v, &ctx, &[INQUIRY, EVPD, 0x86, 0, 255, 0], 255);
    assert_eq!(d.len(), 64);
    assert_eq!(&d[..8], &[0x00, 0x86, 0x00, 0x3C, 0x00, 0x07, 0x01, 0x01]);
    // B0h at 512-byte blocks: granularity 8, max 8 MiB = 16384 blocks, optimal 512 KiB =
    // 1024 blocks, max WRITE SAME 256 MiB = 0x80000 blocks.
    let (_, d) = run(&v, &ctx, &[INQUIRY, EVPD, 0xB0, 0, 255, 0], 255);
    let mut exp = vec![0u8; 64];
    exp[..16].copy_from_slice(&[
        0x00, 0xB0, 0x00, 0x3C, 0x01, 0xFF, 0x00, 0x08, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x04,
        0x00,
    ]);
    exp[36..44].copy_from_slice(&[0, 0, 0, 0, 0, 0x08, 0x00, 0x00]);
    assert_eq!(d, exp);
    // B1h: 15000 rpm (0x3A98), or 1 when not rotational.
    let (_, d) = run(&v, &ctx, &[INQUIRY, EVPD, 0xB1, 0, 255, 0], 255);
    assert_eq!(d.len(), 64);
    assert_eq!(&d[..6], &[0x00, 0xB1, 0x00, 0x3C, 0x3A, 0x98]);
    v.rotational.store(false, Relaxed);
    let (_, d) = run(&v, &ctx, &[INQUIRY, EVPD, 0xB1, 0, 255, 0], 255);
    assert_eq!(&d[4..6], &[0x00, 0x01]);
}

#[test]
fn vpd_thin_and_ids() {
    let v = vdev("thin", 2048);
    v.thin_provisioned.store(true, Relaxed);
    v.unmap_max_lba_cnt.store(0x80000, Relaxed);
    v.unmap_opt_gran.store(1, Relaxed);
    let mut ctx = disk_ctx(&v);
    let (_, d) = run(&v, &ctx, &[INQUIRY, EVPD, 0x00, 0, 255, 0], 255);
    assert_eq!(d, [0, 0, 0, 7, 0x00, 0x80, 0x83, 0x86, 0xB0, 0xB1, 0xB2]);
    // B2h: LBPU | LBPWS | LBPWS10, provisioning type 2.
    let (_, d) = run(&v, &ctx, &[INQUIRY, EVPD, 0xB2, 0, 255, 0], 255);
    assert_eq!(d, [0x00, 0xB2, 0x00, 0x04, 0x00, 0xE0, 0x02, 0x00]);
    // B0h UNMAP fields.
    let (_, d) = run(&v, &ctx, &[INQUIRY, EVPD, 0xB0, 0, 255, 0], 255);
    assert_eq!(
        &d[20..32],
        &[0, 0x08, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 1]
    );
    // CD-ROM: 00h lists no block pages.
    ctx.dev_type = TYPE_ROM;
    let (_, d) = run(&v, &ctx, &[INQUIRY, EVPD, 0x00, 0, 255, 0], 255);
    assert_eq!(d, [0x05, 0, 0, 4, 0x00, 0x80, 0x83, 0x86]);

    // 83h with a SCSI name (NUL-padded to 4), a target port group, EUI-64 and NAA set.
    ctx.dev_type = TYPE_DISK;
    ctx.tg_id = 2;
    {
        let mut s = v.vdisk_serial.write();
        s.scsi_device_name = "iqn.x".into(); // 5 → 8 bytes
        s.vend_specific_id = "V".into();
        s.eui64_id = vec![1, 2, 3, 4, 5, 6, 7, 8];
        s.naa_id = vec![0x60, 1, 2, 3, 4, 5, 6, 7];
    }
    let (_, d) = run(&v, &ctx, &[INQUIRY, EVPD, 0x83, 0, 255, 0], 255);
    let exp: Vec<u8> = [
        &[0x00, 0x83, 0x00, 4 + 8 + 4 + 9 + 8 + 8 + 12 + 12][..],
        &[0x03, 0x28, 0x00, 0x08],
        b"iqn.x\0\0\0",
        &[0x02, 0x01, 0x00, 9],
        b"SCST_FIOV",
        &[0x01, 0x14, 0x00, 0x04, 0, 0, 0, 1],
        &[0x01, 0x15, 0x00, 0x04, 0, 0, 0, 2],
        &[0x01, 0x02, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8],
        &[0x01, 0x03, 0x00, 0x08, 0x60, 1, 2, 3, 4, 5, 6, 7],
    ]
    .concat();
    assert_eq!(d, exp);
}

#[test]
fn read_capacity() {
    let v = vdev("rc", 2048);
    let ctx = disk_ctx(&v);
    let (err, d) = run(&v, &ctx, &[READ_CAPACITY, 0, 0, 0, 0, 0, 0, 0, 0, 0], 8);
    assert_eq!(err, None);
    assert_eq!(d, [0x00, 0x00, 0x07, 0xFF, 0x00, 0x00, 0x02, 0x00]);
    // PMI 0 with an LBA: byte 2.
    let (err, _) = run(&v, &ctx, &[READ_CAPACITY, 0, 0, 0, 0, 1, 0, 0, 0, 0], 8);
    assert_eq!(
        err,
        Some(VdiskCmdError::InvalidFieldInCdb {
            field_offs: 2,
            bit_offs: 0
        })
    );
    // PMI 1: the LBA is not checked.
    let (err, _) = run(&v, &ctx, &[READ_CAPACITY, 0, 0, 0, 0, 1, 0, 0, 1, 0], 8);
    assert_eq!(err, None);
    // More than 2^32 blocks: 0xFFFFFFFF.
    v.nblocks.store(1 << 33, Relaxed);
    let (_, d) = run(&v, &ctx, &[READ_CAPACITY, 0, 0, 0, 0, 0, 0, 0, 0, 0], 8);
    assert_eq!(d, [0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x02, 0x00]);
    // READ CAPACITY(16): 64-bit last LBA, exponent 3 (4096 / 512), no LBPME.
    let mut cdb = [0u8; 16];
    cdb[0] = SERVICE_ACTION_IN_16;
    cdb[1] = SAI_READ_CAPACITY_16;
    cdb[13] = 32;
    let (err, d) = run(&v, &ctx, &cdb, 32);
    assert_eq!(err, None);
    let mut exp = vec![0u8; 32];
    exp[..15].copy_from_slice(&[0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 2, 0, 0, 3, 0]);
    assert_eq!(d, exp);
    // Thin: LBPME; discard_zeroes_data adds LBPRZ.
    v.thin_provisioned.store(true, Relaxed);
    assert_eq!(run(&v, &ctx, &cdb, 32).1[14], 0x80);
    v.discard_zeroes_data.store(true, Relaxed);
    assert_eq!(run(&v, &ctx, &cdb, 32).1[14], 0xC0);
    // Allocation length 12: cut.
    assert_eq!(run(&v, &ctx, &cdb, 12).1.len(), 12);
    // GET LBA STATUS and unknown service actions: byte 1, bit 0.
    cdb[1] = SAI_GET_LBA_STATUS;
    assert_eq!(
        run(&v, &ctx, &cdb, 32).0,
        Some(VdiskCmdError::InvalidFieldInCdb {
            field_offs: 1,
            bit_offs: 0x8000
        })
    );
}

#[test]
fn mode_sense_all_pages() {
    let v = vdev("ms", 2048);
    let ctx = disk_ctx(&v);
    let (err, d) = run(&v, &ctx, &[MODE_SENSE, 0, 0x3F, 0, 255, 0], 255);
    assert_eq!(err, None);
    // Header: length 131, medium type = device type 0, DPOFUA, block descriptor length 8.
    assert_eq!(&d[..4], &[131, 0x00, 0x10, 0x08]);
    // Block descriptor: 2048 blocks, density 0, 512-byte blocks.
    assert_eq!(&d[4..12], &[0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x02, 0x00]);
    let pages = &d[12..];
    let exp: Vec<u8> = [
        // 01h read-write error recovery
        &[0x01, 0x0a, 0xc0, 0x01, 0, 0, 0, 0, 0x01, 0, 0xff, 0xff][..],
        // 02h disconnect-reconnect
        &[
            0x02, 0x0e, 0x80, 0x80, 0, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
        // 03h format device: 56 sectors/track, 512-byte sectors, HSEC
        &[
            0x03, 0x16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 56, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0,
        ],
        // 08h caching: PS (saved pages enabled), WCE (not write-through)
        &[
            0x88, 0x12, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x14, 0, 0, 0, 0, 0, 0,
        ],
        // 0Ah control: PS, TST 1, queue algorithm 1
        &[0x8a, 0x0a, 0x20, 0x10, 0, 0, 0, 0, 0, 0, 0x02, 0x4b],
        // 1Ch informational exceptions: DEXCPT
        &[0x1c, 0x0a, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        // 04h rigid geometry: 1 cylinder (2048 / (255 * 56) rounded up), 255 heads, 15000 rpm
        &[
            0x04, 0x16, 0, 0, 0x01, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x3a, 0x98, 0,
            0,
        ],
    ]
    .concat();
    assert_eq!(pages, &exp[..]);
    assert_eq!(d.len(), 132);
}

#[test]
fn mode_sense_variants() {
    let v = vdev("msv", 2048);
    let mut ctx = disk_ctx(&v);
    // MODE SENSE(10), DBD, caching page, write-through: no WCE; read-only LUN: WP.
    v.wt_flag.store(true, Relaxed);
    ctx.tgt_dev_rd_only = true;
    let (err, d) = run(
        &v,
        &ctx,
        &[MODE_SENSE_10, DBD, 0x08, 0, 0, 0, 0, 0, 255, 0],
        255,
    );
    assert_eq!(err, None);
    assert_eq!(&d[..8], &[0x00, 26, 0x00, 0x90, 0, 0, 0, 0]);
    assert_eq!(&d[8..11], &[0x88, 0x12, 0x00]);
    // Changeable values (PC 1): WCE changeable; control page: all but TST/ATO.
    let (_, d) = run(&v, &ctx, &[MODE_SENSE, DBD, 0x48, 0, 255, 0], 255);
    assert_eq!(&d[4..8], &[0x88, 0x12, 0x04, 0x00]);
    let (_, d) = run(&v, &ctx, &[MODE_SENSE, DBD, 0x4A, 0, 255, 0], 255);
    assert_eq!(
        &d[4..],
        &[0x8a, 0x0a, 0x1c, 0xf6, 0x08, 0x40, 0, 0, 0, 0, 0, 0]
    );
    // Default values (PC 2): WCE from DEF_WRITE_THROUGH (0) → set.
    let (_, d) = run(&v, &ctx, &[MODE_SENSE, DBD, 0x88, 0, 255, 0], 255);
    assert_eq!(d[6], 0x04);
    // Saved values (PC 3): wt_flag_saved 0 → WCE; disabled saved pages → 39/00.
    let (_, d) = run(&v, &ctx, &[MODE_SENSE, DBD, 0xC8, 0, 255, 0], 255);
    assert_eq!(d[6], 0x04);
    ctx.saved_mode_pages_enabled = false;
    assert_eq!(
        run(&v, &ctx, &[MODE_SENSE, DBD, 0xC8, 0, 255, 0], 255).0,
        Some(VdiskCmdError::Sense((0x05, 0x39, 0x00)))
    );
    // No PS without saved pages.
    let (_, d) = run(&v, &ctx, &[MODE_SENSE, DBD, 0x0A, 0, 255, 0], 255);
    assert_eq!(d[4], 0x0a);
    // Subpage → byte 3; unknown page → byte 2 bit 0; disk pages on a CD-ROM.
    assert_eq!(
        run(&v, &ctx, &[MODE_SENSE, 0, 0x08, 1, 255, 0], 255).0,
        Some(VdiskCmdError::InvalidFieldInCdb {
            field_offs: 3,
            bit_offs: 0
        })
    );
    let bad = Some(VdiskCmdError::InvalidFieldInCdb {
        field_offs: 2,
        bit_offs: 0x8000,
    });
    assert_eq!(run(&v, &ctx, &[MODE_SENSE, 0, 0x05, 0, 255, 0], 255).0, bad);
    ctx.dev_type = TYPE_ROM;
    assert_eq!(run(&v, &ctx, &[MODE_SENSE, 0, 0x08, 0, 255, 0], 255).0, bad);
    // CD-ROM all pages: 01, 0A, 1C; no DPOFUA; medium type 5.
    let (_, d) = run(&v, &ctx, &[MODE_SENSE, DBD, 0x3F, 0, 255, 0], 255);
    assert_eq!(d.len(), 4 + 12 + 12 + 12);
    assert_eq!(&d[..4], &[39, 0x05, 0x80, 0x00]);
    assert_eq!((d[4], d[16], d[28]), (0x01, 0x0a, 0x1c));
    // Allocation length cuts the data.
    ctx.dev_type = TYPE_DISK;
    assert_eq!(
        run(&v, &ctx, &[MODE_SENSE, 0, 0x3F, 0, 20, 0], 20).1.len(),
        20
    );
}

#[test]
fn misc_ops() {
    let v = vdev("misc", 2048);
    let ctx = disk_ctx(&v);
    // TEST UNIT READY, RESERVE, SEND DIAGNOSTIC: success, no data.
    for op in [TEST_UNIT_READY, RESERVE, RELEASE, SEND_DIAGNOSTIC] {
        assert_eq!(run(&v, &ctx, &[op, 0, 0, 0, 0, 0], 0).0, None);
    }
    // Unknown opcodes → 20/00.
    for op in [0xFFu8, 0x02, READ_TOC] {
        assert_eq!(
            run(&v, &ctx, &[op, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0).0,
            Some(VdiskCmdError::Sense((0x05, 0x20, 0x00))),
            "{op:#x}"
        );
    }
    // LOG SENSE → byte 2, bit 0.
    assert_eq!(
        run(&v, &ctx, &[LOG_SENSE, 0, 0, 0, 0, 0, 0, 0, 255, 0], 255).0,
        Some(VdiskCmdError::InvalidFieldInCdb {
            field_offs: 2,
            bit_offs: 0x8000
        })
    );
    // REQUEST SENSE: fixed-format NO SENSE, 18 bytes, cut to the allocation length.
    let (err, d) = run(&v, &ctx, &[REQUEST_SENSE, 0, 0, 0, 252, 0], 252);
    assert_eq!(err, None);
    assert_eq!(
        d,
        [0x70, 0, 0, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(run(&v, &ctx, &[REQUEST_SENSE, 0, 0, 0, 8, 0], 8).1.len(), 8);
    // READ TOC of a CD-ROM of 2048 blocks: track 1 and the lead-out at 2048.
    let mut rom = ctx.clone();
    rom.dev_type = TYPE_ROM;
    let (err, d) = run(&v, &rom, &[READ_TOC, 0, 0, 0, 0, 0, 0, 0, 32, 0], 32);
    assert_eq!(err, None);
    assert_eq!(
        d,
        [
            0x00, 0x12, 0x01, 0x01, 0, 0x14, 0x01, 0, 0, 0, 0, 0, 0, 0x14, 0xAA, 0, 0, 0, 0x08,
            0x00
        ]
    );
}

#[test]
fn vcdrom_checks() {
    let v = vdev("cd", 2048);
    v.cdrom_empty.store(true, Relaxed);
    assert_eq!(vcdrom_exec_checks(&v, INQUIRY, false), Ok(()));
    assert_eq!(
        vcdrom_exec_checks(&v, TEST_UNIT_READY, false),
        Err(VdiskCmdError::Sense((0x02, 0x3a, 0x00)))
    );
    v.cdrom_empty.store(false, Relaxed);
    v.media_changed.store(true, Relaxed);
    assert_eq!(vcdrom_exec_checks(&v, TEST_UNIT_READY, true), Ok(()));
    assert_eq!(
        vcdrom_exec_checks(&v, TEST_UNIT_READY, false),
        Err(VdiskCmdError::Sense((0x06, 0x28, 0x00)))
    );
    // Reported once.
    assert_eq!(vcdrom_exec_checks(&v, TEST_UNIT_READY, false), Ok(()));
}

#[test]
fn parse_offset() {
    let v = vdev("po", 2048); // 1 MiB
    let r10 = [READ_10, 0, 0, 0, 0, 2, 0, 0, 8, 0];
    assert_eq!(
        vdisk_parse_offset(&v, &r10, true, 2, 4096, false),
        Ok(VdiskParsedOffset {
            loff: 1024,
            fua: false
        })
    );
    // Last block exactly; one past the end; huge LBAs do not wrap.
    vdisk_parse_offset(&v, &r10, true, 2047, 512, false).unwrap();
    let oor = Err(VdiskCmdError::Sense((0x05, 0x21, 0x00)));
    assert_eq!(vdisk_parse_offset(&v, &r10, true, 2047, 1024, false), oor);
    assert_eq!(
        vdisk_parse_offset(&v, &r10, true, 2048, 0, false),
        Ok(VdiskParsedOffset {
            loff: 1 << 20,
            fua: false
        })
    );
    assert_eq!(
        vdisk_parse_offset(&v, &r10, true, u64::MAX, 512, false),
        oor
    );
    assert_eq!(vdisk_parse_offset(&v, &r10, true, 1 << 55, 512, false), oor);
    // Commands without an LBA are not checked.
    vdisk_parse_offset(&v, &[INQUIRY], true, u64::MAX, 512, true).unwrap();
    // Unknown to the core → 20/00; empty CD-ROM → 3A/00.
    assert_eq!(
        vdisk_parse_offset(&v, &[0xFF], false, 0, 0, false),
        Err(VdiskCmdError::Sense((0x05, 0x20, 0x00)))
    );
    v.cdrom_empty.store(true, Relaxed);
    assert_eq!(
        vdisk_parse_offset(&v, &r10, true, 4096, 512, false),
        Err(VdiskCmdError::Sense((0x02, 0x3a, 0x00)))
    );
    // FUA of WRITE(10).
    let w10 = [WRITE_10, 0x08, 0, 0, 0, 0, 0, 0, 1, 0];
    assert!(
        vdisk_parse_offset(&v, &w10, true, 0, 512, false)
            .unwrap()
            .fua
    );
}

/// A backing file of `size` bytes whose byte i is `i * 7 % 251`, removed on drop.
struct Backing(std::path::PathBuf);

impl Backing {
    fn new(tag: &str, size: usize) -> Self {
        let p = std::env::temp_dir().join(format!("vdisk-exec-{}-{tag}.img", std::process::id()));
        let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::File::create(&p).unwrap().write_all(&data).unwrap();
        Self(p)
    }
}

impl Drop for Backing {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn pattern(from: usize, len: usize) -> Vec<u8> {
    (from..from + len).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn fileio_read_and_write() {
    let f = Backing::new("rw", 1 << 20);
    let mut v = vdev("frw", 2048);
    v.filename = Some(f.0.to_str().unwrap().to_owned());
    let ctx = disk_ctx(&v);
    // No session: no file open → 3A/00 instead of C's NULL dereference.
    let mut sg = sgl(&[(512, 0)]);
    let mut p = VdiskCmdParams::new(&[READ_10], &ctx, &v, &mut sg, 0);
    vdev_do_job(&mut p, VdiskOps::Fileio);
    assert_eq!(p.error, Some(VdiskCmdError::Sense((0x02, 0x3a, 0x00))));

    vdisk_attach_tgt(&v, false).unwrap();
    vdisk_attach_tgt(&v, false).unwrap();
    assert_eq!(v.tgt_dev_cnt.load(Relaxed), 2);
    // READ(10) of 8 blocks at LBA 3 into three uneven pieces.
    let cdb = [READ_10, 0, 0, 0, 0, 3, 0, 0, 8, 0];
    let off = vdisk_parse_offset(&v, &cdb, true, 3, 4096, false).unwrap();
    let mut sg = sgl(&[(1000, 96), (3000, 0), (96, 4000)]);
    let mut p = VdiskCmdParams::new(&cdb, &ctx, &v, &mut sg, off.loff);
    assert!(vdev_do_job(&mut p, VdiskOps::Fileio));
    assert_eq!(p.error, None);
    let mut got = vec![0u8; 4096];
    sg_copy_to_buffer(&sg, &mut got);
    assert_eq!(got, pattern(3 * 512, 4096));

    // WRITE(10) at LBA 1, then read it back.
    let wcdb = [WRITE_10, 0x08, 0, 0, 0, 1, 0, 0, 2, 0];
    let mut sg = sgl(&[(700, 0), (324, 10)]);
    for e in sg.iter_mut() {
        sg_virt_mut(e).fill(0xA5);
    }
    let mut p = VdiskCmdParams::new(&wcdb, &ctx, &v, &mut sg, 512);
    p.fua = true;
    vdev_do_job(&mut p, VdiskOps::Fileio);
    assert_eq!(p.error, None);
    let mut sg = sgl(&[(2048, 0)]);
    let mut p = VdiskCmdParams::new(&[READ_10], &ctx, &v, &mut sg, 0);
    vdev_do_job(&mut p, VdiskOps::Fileio);
    let mut got = vec![0u8; 2048];
    sg_copy_to_buffer(&sg, &mut got);
    assert_eq!(got[..512], pattern(0, 512)[..]);
    assert!(got[512..1536].iter().all(|&b| b == 0xA5));
    assert_eq!(got[1536..], pattern(1536, 512)[..]);

    // The file shrank under the device: a short read is 03/11/00 as C's vfs_readv() check.
    let fd = v.fd.read().clone().unwrap();
    fd.set_len(1000).unwrap();
    let mut sg = sgl(&[(1024, 0)]);
    let mut p = VdiskCmdParams::new(&[READ_10], &ctx, &v, &mut sg, 512);
    vdev_do_job(&mut p, VdiskOps::Fileio);
    assert_eq!(p.error, Some(VdiskCmdError::Sense((0x03, 0x11, 0x00))));

    // SYNCHRONIZE CACHE and START STOP UNIT flush and succeed.
    for op in [SYNCHRONIZE_CACHE, START_STOP] {
        let mut sg = Vec::new();
        let cdb = [op, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut p = VdiskCmdParams::new(&cdb, &ctx, &v, &mut sg, 0);
        assert!(vdev_do_job(&mut p, VdiskOps::Fileio));
        assert_eq!(p.error, None);
    }

    vdisk_detach_tgt(&v);
    assert!(v.fd.read().is_some());
    vdisk_detach_tgt(&v);
    assert!(v.fd.read().is_none());
}

#[test]
fn attach_tgt_errors_and_nullio() {
    let mut v = vdev("missing", 2048);
    v.filename = Some("/nonexistent/vdisk-exec-missing.img".into());
    assert_eq!(vdisk_attach_tgt(&v, false), Err(Errno::ENOENT));
    assert_eq!(v.tgt_dev_cnt.load(Relaxed), 0);

    // NULLIO: nothing opened; READ leaves the buffer alone unless read_zero.
    let mut n = vdev("null", 2048);
    n.nullio = true;
    vdisk_attach_tgt(&n, false).unwrap();
    assert!(n.fd.read().is_none());
    let ctx = disk_ctx(&n);
    let mut sg = sgl(&[(512, 0), (512, 100)]);
    for e in sg.iter_mut() {
        sg_virt_mut(e).fill(0xAA);
    }
    let mut p = VdiskCmdParams::new(&[READ_10], &ctx, &n, &mut sg, 0);
    vdev_do_job(&mut p, VdiskOps::of(&n));
    assert_eq!(p.error, None);
    let mut got = vec![0u8; 1024];
    sg_copy_to_buffer(&sg, &mut got);
    assert!(got.iter().all(|&b| b == 0xAA));
    n.read_zero.store(true, Relaxed);
    let mut p = VdiskCmdParams::new(&[READ_10], &ctx, &n, &mut sg, 0);
    vdev_do_job(&mut p, VdiskOps::of(&n));
    sg_copy_to_buffer(&sg, &mut got);
    assert!(got.iter().all(|&b| b == 0));
    // WRITE and VERIFY succeed without I/O.
    for op in [WRITE_10, VERIFY, WRITE_VERIFY] {
        let cdb = [op];
        let mut p = VdiskCmdParams::new(&cdb, &ctx, &n, &mut sg, 0);
        vdev_do_job(&mut p, VdiskOps::Nullio);
        assert_eq!(p.error, None);
    }
    vdisk_detach_tgt(&n);
}
