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

// ---------------------------------------------------------------------------------------
// REPORT SUPPORTED OPERATION CODES lists, WRITE SAME, UNMAP, FORMAT UNIT, MODE SELECT
// ---------------------------------------------------------------------------------------

use crate::scst_vdisk::op_descr::{vcdrom_opcode_descriptors, vdisk_opcode_descriptors};
use scst_core::scst_targ::scst_build_supported_opcodes;
use std::sync::Arc;

fn inv_cdb(field_offs: u16, bit_offs: i32) -> Option<VdiskCmdError> {
    Some(VdiskCmdError::InvalidFieldInCdb {
        field_offs,
        bit_offs,
    })
}

fn inv_parm(field_offs: u16, bit_offs: i32) -> Option<VdiskCmdError> {
    Some(VdiskCmdError::InvalidFieldInParmList {
        field_offs,
        bit_offs,
    })
}

/// Runs `cdb` with `data` as the data-out buffer (one scatterlist entry per 4 KiB), at byte
/// offset `loff` with a data length of `data_len` bytes; returns the error and the buffer.
fn run_out(
    v: &ScstVdiskDev,
    ctx: &VdiskCmdCtx,
    cdb: &[u8],
    data: &[u8],
    loff: i64,
    data_len: usize,
) -> (Option<VdiskCmdError>, Vec<u8>) {
    let lens: Vec<(u32, u32)> = data.chunks(4096).map(|c| (c.len() as u32, 0)).collect();
    let mut sg = sgl(&lens);
    sg_copy_from_buffer(&mut sg, data);
    let mut p = VdiskCmdParams::new(cdb, ctx, v, &mut sg, loff);
    p.data_len = i64::try_from(data_len).unwrap();
    p.data_direction = SCST_DATA_WRITE;
    assert!(vdev_do_job(&mut p, VdiskOps::of(v)));
    let err = p.error;
    let mut out = vec![0u8; data.len()];
    sg_copy_to_buffer(&sg, &mut out);
    (err, out)
}

/// A FILEIO device of `nblocks` 512-byte blocks on a fresh patterned file, open.
fn open_fileio(name: &str, nblocks: u64) -> (Backing, ScstVdiskDev) {
    let f = Backing::new(name, (nblocks as usize) << 9);
    let mut v = vdev(name, nblocks);
    v.filename = Some(f.0.to_str().unwrap().to_owned());
    vdisk_attach_tgt(&v, false).unwrap();
    (f, v)
}

#[test]
fn rsoc_lists_exactly_the_implemented_opcodes() {
    let ops: Vec<(u8, Option<u16>)> = vdisk_opcode_descriptors
        .iter()
        .map(|d| {
            (
                d.od_opcode,
                d.od_serv_action_valid.then_some(d.od_serv_action),
            )
        })
        .collect();
    // r7105's vdisk list without RTPG, STPG, EXTENDED COPY, COMPARE AND WRITE, PR IN/OUT.
    let want: Vec<(u8, Option<u16>)> = vec![
        (SYNCHRONIZE_CACHE, None),
        (SYNCHRONIZE_CACHE_16, None),
        (MODE_SENSE, None),
        (MODE_SENSE_10, None),
        (MODE_SELECT, None),
        (MODE_SELECT_10, None),
        (LOG_SELECT, None),
        (LOG_SENSE, None),
        (START_STOP, None),
        (READ_CAPACITY, None),
        (SEND_DIAGNOSTIC, None),
        (READ_6, None),
        (READ_10, None),
        (READ_12, None),
        (READ_16, None),
        (WRITE_6, None),
        (WRITE_10, None),
        (WRITE_12, None),
        (WRITE_16, None),
        (WRITE_VERIFY, None),
        (WRITE_VERIFY_12, None),
        (WRITE_VERIFY_16, None),
        (VERIFY, None),
        (VERIFY_12, None),
        (VERIFY_16, None),
        (SERVICE_ACTION_IN_16, Some(0x10)),
        (WRITE_SAME, None),
        (WRITE_SAME_16, None),
        (UNMAP, None),
        (FORMAT_UNIT, None),
        (INQUIRY, None),
        (TEST_UNIT_READY, None),
        (RESERVE, None),
        (RELEASE, None),
        (RESERVE_10, None),
        (RELEASE_10, None),
        (PERSISTENT_RESERVE_IN, None),
        (PERSISTENT_RESERVE_OUT, None),
        (REPORT_LUNS, None),
        (REQUEST_SENSE, None),
        (MAINTENANCE_IN, Some(0x0C)),
        (MAINTENANCE_IN, Some(0x0D)),
    ];
    assert_eq!(ops, want);
    for d in vdisk_opcode_descriptors
        .iter()
        .chain(vcdrom_opcode_descriptors.iter())
    {
        assert_eq!(usize::from(d.od_cdb_size), d.od_cdb_usage_bits.len());
        assert_eq!(d.od_cdb_usage_bits[0], d.od_opcode);
    }

    // Every listed command that reaches vdisk (not REPORT LUNS / MAINTENANCE IN / PERSISTENT
    // RESERVE IN and OUT, which the core answers) is dispatched to an op: none answers INVALID OPERATION CODE on a thin
    // FILEIO device.
    let (_f, v) = open_fileio("rsoc", 64);
    v.thin_provisioned.store(true, Relaxed);
    v.unmap_max_lba_cnt.store(1 << 19, Relaxed);
    let dev = scst_core::scst_lib::scst_alloc_device(TYPE_DISK, "rsoc", 1);
    *v.dev.lock() = Arc::downgrade(&dev);
    let ctx = disk_ctx(&v);
    for d in vdisk_opcode_descriptors.iter() {
        if matches!(
            d.od_opcode,
            REPORT_LUNS | MAINTENANCE_IN | PERSISTENT_RESERVE_IN | PERSISTENT_RESERVE_OUT
        ) {
            continue;
        }
        let mut cdb = vec![0u8; usize::from(d.od_cdb_size)];
        cdb[0] = d.od_opcode;
        if d.od_serv_action_valid {
            cdb[1] = d.od_serv_action as u8;
        }
        let (err, _) = run_out(&v, &ctx, &cdb, &[0u8; 512], 0, 512);
        assert_ne!(
            err.and_then(|e| e.sense()),
            Some(scst_sense_invalid_opcode),
            "{:02x?}",
            cdb
        );
    }
    vdisk_detach_tgt(&v);
}

#[test]
fn rsoc_formats_of_the_vdisk_list() {
    let l: &[&scst_core::scst::ScstOpcodeDescriptor] = &vdisk_opcode_descriptors;
    // One command: READ(10) with RDPROTECT, DPO and FUA in the usage data of byte 1.
    let b = scst_build_supported_opcodes(l, 1, READ_10, 0, false).unwrap();
    assert_eq!(
        b,
        [0, 3, 0, 10, READ_10, 0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0xFF, 0xFF, 0x04]
    );
    // WRITE(10): WRPROTECT, DPO, FUA, FUA_NV.
    let b = scst_build_supported_opcodes(l, 1, WRITE_10, 0, false).unwrap();
    assert_eq!(b[5], 0xFA);
    // READ(16) with RCTD: the timeouts descriptor after the 16 usage bytes (60 s).
    let b = scst_build_supported_opcodes(l, 1, READ_16, 0, true).unwrap();
    assert_eq!(b.len(), 4 + 16 + 12);
    assert_eq!(&b[..6], &[0, 0x80 | 3, 0, 16, READ_16, 0xF8][..]);
    assert_eq!(&b[20..], &[0, 0xA, 0, 0, 0, 0, 0, 1, 0, 0, 0, 60]);
    // READ CAPACITY(16) by service action.
    let b = scst_build_supported_opcodes(l, 2, SERVICE_ACTION_IN_16, 0x10, false).unwrap();
    assert_eq!(&b[..6], &[0, 3, 0, 16, SERVICE_ACTION_IN_16, 0x10]);
    // Not implemented: COMPARE AND WRITE, EXTENDED COPY → SUPPORT 0.
    for op in [COMPARE_AND_WRITE, EXTENDED_COPY] {
        assert_eq!(
            scst_build_supported_opcodes(l, 1, op, 0, false).unwrap(),
            [0; 4]
        );
    }
    // PERSISTENT RESERVE IN (scst_pres): listed (C's descriptor has no service action).
    let b = scst_build_supported_opcodes(l, 1, PERSISTENT_RESERVE_IN, 0, false).unwrap();
    assert_eq!(&b[..5], &[0, 3, 0, 10, PERSISTENT_RESERVE_IN]);
    // All commands: 42 descriptors of 8 bytes.
    let b = scst_build_supported_opcodes(l, 0, 0, 0, false).unwrap();
    assert_eq!(b.len(), 4 + 42 * 8);
    assert_eq!(&b[..4], &[0, 0, 1, 80]);
    assert_eq!(&b[4..12], &[SYNCHRONIZE_CACHE, 0, 0, 0, 0, 0, 0, 10]);

    // The device types hand the core their lists (C: .get_supported_opcodes).
    use crate::scst_vdisk::{vcdrom_devtype, vdisk_file_devtype};
    assert!(vdisk_file_devtype.ops.get_supported_opcodes().is_some());
    assert!(vcdrom_devtype.ops.get_supported_opcodes().is_some());
    assert!(vcdrom_opcode_descriptors
        .iter()
        .any(|d| d.od_opcode == READ_TOC));
    assert!(!vcdrom_opcode_descriptors
        .iter()
        .any(|d| d.od_opcode == UNMAP));
}

#[test]
fn write_same_writes_the_block_n_times() {
    let (f, v) = open_fileio("ws", 400);
    let ctx = disk_ctx(&v);
    let block: Vec<u8> = (0..512).map(|i| (i % 13) as u8 + 100).collect();
    // WRITE SAME(10): LBA 2, 5 blocks.
    let cdb = [WRITE_SAME, 0, 0, 0, 0, 2, 0, 0, 5, 0];
    let (err, _) = run_out(&v, &ctx, &cdb, &block, 2 * 512, 5 * 512);
    assert_eq!(err, None);
    let data = std::fs::read(&f.0).unwrap();
    assert_eq!(data[..1024], pattern(0, 1024)[..]);
    for b in 2..7 {
        assert_eq!(data[b * 512..(b + 1) * 512], block[..], "block {b}");
    }
    assert_eq!(data[7 * 512..8 * 512], pattern(7 * 512, 512)[..]);
    // WRITE SAME(16) of 300 blocks (more than one 128 KiB internal write) from LBA 10.
    let cdb = [
        WRITE_SAME_16,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        10,
        0,
        0,
        0x01,
        0x2C,
        0,
        0,
    ];
    let (err, _) = run_out(&v, &ctx, &cdb, &[0x5A; 512], 10 * 512, 300 * 512);
    assert_eq!(err, None);
    let data = std::fs::read(&f.0).unwrap();
    assert!(data[10 * 512..310 * 512].iter().all(|&b| b == 0x5A));
    assert_eq!(data[310 * 512..311 * 512], pattern(310 * 512, 512)[..]);

    // ANCHOR: byte 1 bit 4; LBDATA/PBDATA: byte 1 bit 1; no blocks: the length field.
    let (err, _) = run_out(
        &v,
        &ctx,
        &[WRITE_SAME, 0x10, 0, 0, 0, 0, 0, 0, 1, 0],
        &block,
        0,
        512,
    );
    assert_eq!(err, inv_cdb(1, 0x8004));
    let (err, _) = run_out(
        &v,
        &ctx,
        &[WRITE_SAME, 0x02, 0, 0, 0, 0, 0, 0, 1, 0],
        &block,
        0,
        512,
    );
    assert_eq!(err, inv_cdb(1, 0x8001));
    let (err, _) = run_out(
        &v,
        &ctx,
        &[WRITE_SAME, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        &block,
        0,
        0,
    );
    assert_eq!(err, inv_cdb(7, 0));
    // Above max_write_same_len: the length field of WRITE SAME(16).
    let mut small = ctx.clone();
    small.max_write_same_len = 4 * 512;
    let (err, _) = run_out(&v, &small, &cdb, &block, 0, 5 * 512);
    assert_eq!(err, inv_cdb(10, 0));
    // UNMAP bit on a device that is not thin provisioned: INVALID OPERATION CODE (r7105).
    let (err, _) = run_out(
        &v,
        &ctx,
        &[WRITE_SAME, 0x08, 0, 0, 0, 0, 0, 0, 1, 0],
        &block,
        0,
        512,
    );
    assert_eq!(err, Some(VdiskCmdError::Sense(scst_sense_invalid_opcode)));
    vdisk_detach_tgt(&v);
}

fn unmap_list(ranges: &[(u64, u32)]) -> Vec<u8> {
    let mut l = vec![0u8; 8];
    l[..2].copy_from_slice(&((6 + 16 * ranges.len()) as u16).to_be_bytes());
    l[2..4].copy_from_slice(&((16 * ranges.len()) as u16).to_be_bytes());
    for &(lba, n) in ranges {
        l.extend_from_slice(&lba.to_be_bytes());
        l.extend_from_slice(&n.to_be_bytes());
        l.extend_from_slice(&[0; 4]);
    }
    l
}

fn unmap_cdb(len: usize) -> [u8; 10] {
    let l = (len as u16).to_be_bytes();
    [UNMAP, 0, 0, 0, 0, 0, 0, l[0], l[1], 0]
}

#[test]
fn unmap_punches_holes_in_thin_files() {
    use std::os::unix::fs::MetadataExt;
    let (f, v) = open_fileio("unmap", 2048);
    let ctx = disk_ctx(&v);
    std::fs::File::open(&f.0).unwrap().sync_all().unwrap();
    let list = unmap_list(&[(256, 512), (1024, 256)]);
    // r7105 procfs FILEIO: not thin provisioned → INVALID OPERATION CODE.
    let (err, _) = run_out(&v, &ctx, &unmap_cdb(list.len()), &list, 0, list.len());
    assert_eq!(err, Some(VdiskCmdError::Sense(scst_sense_invalid_opcode)));

    // Thin (as C's vdisk_check_tp_support() sets a file up): 256 MiB per command.
    v.thin_provisioned.store(true, Relaxed);
    v.unmap_opt_gran.store(1, Relaxed);
    v.unmap_max_lba_cnt.store((256 * 1024 * 1024) >> 9, Relaxed);
    let before = std::fs::metadata(&f.0).unwrap().blocks();
    let (err, _) = run_out(&v, &ctx, &unmap_cdb(list.len()), &list, 0, list.len());
    assert_eq!(err, None);
    let md = std::fs::metadata(&f.0).unwrap();
    assert_eq!(md.len(), 2048 * 512, "KEEP_SIZE");
    assert!(
        md.blocks() <= before - (768 * 512) / 512,
        "st_blocks {} → {}",
        before,
        md.blocks()
    );
    let data = std::fs::read(&f.0).unwrap();
    assert!(data[256 * 512..768 * 512].iter().all(|&b| b == 0));
    assert!(data[1024 * 512..1280 * 512].iter().all(|&b| b == 0));
    assert_eq!(
        data[768 * 512..1024 * 512],
        pattern(768 * 512, 256 * 512)[..]
    );

    // WRITE SAME with UNMAP deallocates too.
    let (err, _) = run_out(
        &v,
        &ctx,
        &[WRITE_SAME, 0x08, 0, 0, 0x07, 0, 0, 0, 8, 0],
        &[0u8; 512],
        1792 * 512,
        8 * 512,
    );
    assert_eq!(err, None);
    let data = std::fs::read(&f.0).unwrap();
    assert!(data[1792 * 512..1800 * 512].iter().all(|&b| b == 0));

    // Bad parameter lists and CDBs.
    let mut bad = unmap_list(&[(0, 1)]);
    bad[3] = 8; // descriptor length not a multiple of 16
    let (err, _) = run_out(&v, &ctx, &unmap_cdb(bad.len()), &bad, 0, bad.len());
    assert_eq!(err, inv_parm(2, 0));
    let short = unmap_list(&[(0, 1)]);
    let (err, _) = run_out(&v, &ctx, &unmap_cdb(16), &short, 0, 24);
    assert_eq!(
        err,
        inv_parm(2, 0),
        "descriptor length beyond the list length"
    );
    let many = unmap_list(&[(0, 1 << 19), (0, 1)]);
    let (err, _) = run_out(&v, &ctx, &unmap_cdb(many.len()), &many, 0, many.len());
    assert_eq!(err, inv_parm(0, 0));
    let beyond = unmap_list(&[(2040, 16)]);
    let (err, _) = run_out(&v, &ctx, &unmap_cdb(beyond.len()), &beyond, 0, beyond.len());
    assert_eq!(
        err,
        Some(VdiskCmdError::Sense(scst_sense_block_out_range_error))
    );
    let mut anchor = unmap_cdb(list.len());
    anchor[1] = 1;
    let (err, _) = run_out(&v, &ctx, &anchor, &list, 0, list.len());
    assert_eq!(err, inv_cdb(1, 0x8000));
    // A descriptor length of 0 and a tiny list: nothing to do.
    let (err, _) = run_out(&v, &ctx, &unmap_cdb(8), &[0, 6, 0, 0, 0, 0, 0, 0], 0, 8);
    assert_eq!(err, None);
    let (err, _) = run_out(&v, &ctx, &unmap_cdb(2), &[0, 0], 0, 2);
    assert_eq!(err, None);
    vdisk_detach_tgt(&v);
}

#[test]
fn format_unit() {
    let (f, v) = open_fileio("fmt", 64);
    let ctx = disk_ctx(&v);
    assert_eq!(run(&v, &ctx, &[FORMAT_UNIT, 0, 0, 0, 0, 0], 0).0, None);
    // FMTPINFO without FMTDATA: byte 1 bit 6.
    assert_eq!(
        run(&v, &ctx, &[FORMAT_UNIT, 0x80, 0, 0, 0, 0], 0).0,
        inv_cdb(1, 0x8006)
    );
    let fu = |b1: u8, list: &[u8]| {
        run_out(
            &v,
            &ctx,
            &[FORMAT_UNIT, b1, 0, 0, 0, 0],
            list,
            0,
            list.len(),
        )
        .0
    };
    // FMTDATA, header of 4 bytes, no protection: success (IMMED too).
    assert_eq!(fu(0x10, &[0, 0, 0, 0]), None);
    assert_eq!(fu(0x10, &[0, 2, 0, 0]), None);
    // Too short header; initialization pattern; protection usage without FMTPINFO.
    assert_eq!(
        fu(0x10, &[0, 0]),
        Some(VdiskCmdError::Sense(
            scst_sense_parameter_list_length_invalid
        ))
    );
    assert_eq!(fu(0x10, &[0, 8, 0, 0]), inv_parm(1, 0x8003));
    assert_eq!(fu(0x10, &[1, 0, 0, 0]), inv_parm(0, 0x8000));
    // FMTPINFO 2 (type 1): a valid type, but not the device's (no DIF): byte 1 bit 6.
    assert_eq!(fu(0x90, &[0, 0, 0, 0]), inv_cdb(1, 0x8006));
    // LONGLIST: 8-byte header needed; P_I_INFORMATION must be 0.
    assert_eq!(fu(0x30, &[0, 0, 0, 0]), inv_cdb(1, 0x8005));
    assert_eq!(fu(0x30, &[0, 0, 0, 0x10, 0, 0, 0, 0]), inv_parm(3, 0x8004));
    assert_eq!(fu(0x30, &[0, 0, 0, 0, 0, 0, 0, 0]), None);
    // A thin device is deallocated entirely.
    v.thin_provisioned.store(true, Relaxed);
    assert_eq!(fu(0x10, &[0, 0, 0, 0]), None);
    assert!(std::fs::read(&f.0).unwrap().iter().all(|&b| b == 0));

    // While formatting: FORMAT IN PROGRESS for all but INQUIRY, REPORT LUNS, REQUEST SENSE,
    // which reports the progress (sense key specific bytes 15–17).
    v.format_active.store(true, Relaxed);
    v.format_progress_to_do.store(64 << 16, Relaxed);
    v.format_progress_done.store(16, Relaxed);
    assert_eq!(
        run(&v, &ctx, &[TEST_UNIT_READY, 0, 0, 0, 0, 0], 0).0,
        Some(VdiskCmdError::Sense(scst_sense_format_in_progress))
    );
    assert_eq!(run(&v, &ctx, &[INQUIRY, 0, 0, 0, 36, 0], 36).0, None);
    let (err, d) = run(&v, &ctx, &[REQUEST_SENSE, 0, 0, 0, 18, 0], 18);
    assert_eq!(err, None);
    assert_eq!(
        d,
        [0x70, 0, 2, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 4, 4, 0, 0x80, 0, 0]
    );
    v.format_progress_done.store(64 * 100, Relaxed);
    let (_, d) = run(&v, &ctx, &[REQUEST_SENSE, 0, 0, 0, 18, 0], 18);
    assert_eq!(&d[15..], &[0x80, 0, 100]);
    v.format_active.store(false, Relaxed);
    vdisk_detach_tgt(&v);
}

/// A device attached to an `ScstDevice` with vdisk_attach()'s control page values.
fn attached(v: &ScstVdiskDev, name: &str) -> Arc<scst_core::scst::ScstDevice> {
    let dev = scst_core::scst_lib::scst_alloc_device(TYPE_DISK, name, 1);
    kemu::atomic::atomic_set(
        &dev.queue_alg,
        i32::from(SCST_QUEUE_ALG_1_UNRESTRICTED_REORDER),
    );
    *v.dev.lock() = Arc::downgrade(&dev);
    dev
}

fn msel6(list: &[u8], sp: bool) -> [u8; 6] {
    [MODE_SELECT, 0x10 | u8::from(sp), 0, 0, list.len() as u8, 0]
}

#[test]
fn mode_select_changes_what_mode_sense_returns() {
    let (_f, v) = open_fileio("msel", 64);
    let dev = attached(&v, "msel");
    let ctx = disk_ctx(&v);
    // Control page before: TST 1 (separate task sets, vdisk's default), QUEUE ALGORITHM
    // MODIFIER 1, everything else 0.
    let sense_ctrl = |v: &ScstVdiskDev| {
        let c = disk_ctx(v);
        run(v, &c, &[MODE_SENSE, DBD, 0x0A, 0, 255, 0], 255).1
    };
    assert_eq!(
        sense_ctrl(&v)[4..],
        [0x8a, 0x0a, 0x20, 0x10, 0, 0, 0, 0, 0, 0, 0x02, 0x4b]
    );
    // MODE SELECT(6): D_SENSE, QErr 1, SWP, TAS, DPICZ, TMF_ONLY.
    let list = [
        0, 0, 0, 0, 0x0A, 0x0A, 0x3C, 0x12, 0x08, 0x40, 0, 0, 0, 0, 0x02, 0x4b,
    ];
    let (err, _) = run_out(&v, &ctx, &msel6(&list, false), &list, 0, list.len());
    assert_eq!(err, None);
    assert!(dev.d_sense.load(Relaxed) && dev.swp.load(Relaxed) && dev.tas.load(Relaxed));
    assert!(dev.tmf_only.load(Relaxed) && v.dpicz.load(Relaxed));
    assert_eq!(kemu::atomic::atomic_read(&dev.qerr), 1);
    assert_eq!(
        sense_ctrl(&v)[4..],
        [0x8a, 0x0a, 0x3C, 0x12, 0x08, 0x40, 0, 0, 0, 0, 0x02, 0x4b]
    );
    // REQUEST SENSE now answers in descriptor format.
    let c = disk_ctx(&v);
    assert_eq!(run(&v, &c, &[REQUEST_SENSE, 0, 0, 0, 18, 0], 18).1[0], 0x72);

    // MODE SELECT(10) with a block descriptor: caching page WCE 0 → write-through, and the
    // file is reopened with O_DSYNC.
    let mut list = vec![0u8; 8 + 8 + 20];
    list[7] = 8;
    list[16] = 0x08;
    list[17] = 18;
    let cdb = [MODE_SELECT_10, 0x10, 0, 0, 0, 0, 0, 0, list.len() as u8, 0];
    assert!(!v.wt_flag.load(Relaxed));
    let (err, _) = run_out(&v, &ctx, &cdb, &list, 0, list.len());
    assert_eq!(err, None);
    assert!(v.wt_flag.load(Relaxed));
    let fd = v.fd.read().clone().unwrap();
    let fl = nix::fcntl::fcntl(&*fd, nix::fcntl::FcntlArg::F_GETFL).unwrap();
    assert_ne!(fl & libc::O_DSYNC, 0);
    let c = disk_ctx(&v);
    let d = run(&v, &c, &[MODE_SENSE, DBD, 0x08, 0, 255, 0], 255).1;
    assert_eq!(d[4 + 2] & WCE, 0);
    // And back: WCE 1.
    list[18] = WCE;
    let (err, _) = run_out(&v, &ctx, &cdb, &list, 0, list.len());
    assert_eq!(err, None);
    assert!(!v.wt_flag.load(Relaxed));
    vdisk_detach_tgt(&v);
}

#[test]
fn mode_select_bad_parameter_lists() {
    let (_f, v) = open_fileio("mselbad", 64);
    let _dev = attached(&v, "mselbad");
    let ctx = disk_ctx(&v);
    let ctrl = |b2: u8, b3: u8| -> Vec<u8> {
        vec![0, 0, 0, 0, 0x0A, 0x0A, b2, b3, 0, 0, 0, 0, 0, 0, 0x02, 0x4b]
    };
    let ms = |list: &[u8], sp: bool| run_out(&v, &ctx, &msel6(list, sp), list, 0, list.len()).0;
    let good = ctrl(0x20, 0x10);
    // PF 0: byte 1.
    let mut no_pf = msel6(&good, false);
    no_pf[1] = 0;
    assert_eq!(run_out(&v, &ctx, &no_pf, &good, 0, 16).0, inv_cdb(1, 0));
    // Block descriptor length 4: the header's byte 3.
    let mut bdl = good.clone();
    bdl[3] = 4;
    assert_eq!(ms(&bdl, false), inv_parm(3, 0));
    // PS set; an unsupported page; a control page of the wrong length.
    let mut ps = good.clone();
    ps[4] |= 0x80;
    assert_eq!(ms(&ps, false), inv_parm(4, 0x8007));
    let mut iec = good.clone();
    iec[4] = 0x1C;
    assert_eq!(ms(&iec, false), inv_parm(4, 0x8000));
    let mut len = good.clone();
    len[5] = 8;
    assert_eq!(ms(&len, false), inv_parm(5, 0));
    // TST change (byte 2 bits 5-7), QUEUE ALGORITHM MODIFIER 5, QErr 2.
    assert_eq!(ms(&ctrl(0, 0x10), false), inv_parm(6, 0x8005));
    assert_eq!(ms(&ctrl(0x20, 0x50), false), inv_parm(7, 0x8004));
    assert_eq!(ms(&ctrl(0x20, 0x14), false), inv_parm(7, 0x8001));
    // Saving (SP): refused as without saved pages.
    assert_eq!(ms(&good, true), inv_cdb(2, 0x8001));
    let caching = [
        0u8, 0, 0, 0, 0x08, 18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    assert_eq!(ms(&caching, true), inv_cdb(1, 0x8000));
    let mut clen = caching;
    clen[5] = 10;
    assert_eq!(ms(&clen, false), inv_parm(5, 0));
    // The caching page is not accepted on a CD-ROM.
    let mut rom = ctx.clone();
    rom.dev_type = TYPE_ROM;
    assert_eq!(
        run_out(&v, &rom, &msel6(&caching, false), &caching, 0, 24).0,
        inv_parm(4, 0x8000)
    );
    // Cluster mode: INVALID FIELD IN CDB without a pointer.
    let mut cl = ctx.clone();
    cl.mode.cluster_mode = true;
    assert_eq!(
        run_out(&v, &cl, &msel6(&good, false), &good, 0, 16).0,
        Some(VdiskCmdError::Sense(scst_sense_invalid_field_in_cdb))
    );
    // A truncated page does not panic.
    assert_eq!(ms(&good[..7], false), None);
    vdisk_detach_tgt(&v);
}

#[test]
fn maintenance_in_out_and_prevent_allow() {
    let v = vdev("maint", 64);
    let ctx = disk_ctx(&v);
    // REPORT TARGET PORT GROUPS: ALUA is not ported → INVALID OPERATION CODE.
    let rtpg = [MAINTENANCE_IN, 0x0A, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
    assert_eq!(
        run(&v, &ctx, &rtpg, 256).0,
        Some(VdiskCmdError::Sense(scst_sense_invalid_opcode))
    );
    // Another service action: byte 1, bit 0.
    let mi = [MAINTENANCE_IN, 0x05, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
    assert_eq!(run(&v, &ctx, &mi, 256).0, inv_cdb(1, 0x8000));
    let mo = [MAINTENANCE_OUT, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(run(&v, &ctx, &mo, 0).0, inv_cdb(1, 0x8000));
    // PREVENT ALLOW MEDIUM REMOVAL remembers PREVENT.
    assert_eq!(
        run(&v, &ctx, &[ALLOW_MEDIUM_REMOVAL, 0, 0, 0, 1, 0], 0).0,
        None
    );
    assert!(v.prevent_allow_medium_removal.load(Relaxed));
    assert_eq!(
        run(&v, &ctx, &[ALLOW_MEDIUM_REMOVAL, 0, 0, 0, 0, 0], 0).0,
        None
    );
    assert!(!v.prevent_allow_medium_removal.load(Relaxed));
}

#[test]
fn thin_provisioning_check_as_r7105() {
    use crate::scst_vdisk::provision::{
        vdisk_check_tp_support, vdisk_read_discard_limits, VdiskDiscardLimits,
    };
    // FILEIO: never thin without the (sysfs-only) manual setting.
    let (_f, v) = open_fileio("tpchk", 64);
    vdisk_check_tp_support(&v);
    assert!(!v.thin_provisioned.load(Relaxed));
    // Once thin (sysfs), a file gets granularity 1, no alignment, 256 MiB per UNMAP.
    v.thin_provisioned.store(true, Relaxed);
    vdisk_check_tp_support(&v);
    assert_eq!(v.unmap_opt_gran.load(Relaxed), 1);
    assert_eq!(v.unmap_max_lba_cnt.load(Relaxed), 1 << 19);
    assert!(!v.discard_zeroes_data.load(Relaxed));
    vdisk_detach_tgt(&v);
    // BLOCKIO on something that is not a block device: not thin.
    let mut b = vdev("tpblk", 64);
    b.blockio = true;
    b.filename = v.filename.clone();
    b.thin_provisioned.store(true, Relaxed);
    vdisk_check_tp_support(&b);
    assert!(!b.thin_provisioned.load(Relaxed));

    // The sysfs limits of a partition: the queue is its disk's.
    let root = std::env::temp_dir().join(format!("vdisk-sysfs-{}", std::process::id()));
    let part = root.join("sda").join("sda1");
    std::fs::create_dir_all(root.join("sda/queue")).unwrap();
    std::fs::create_dir_all(&part).unwrap();
    std::fs::write(root.join("sda/queue/discard_max_bytes"), "2147450880\n").unwrap();
    std::fs::write(root.join("sda/queue/discard_granularity"), "4096\n").unwrap();
    std::fs::write(part.join("discard_alignment"), "0\n").unwrap();
    assert_eq!(
        vdisk_read_discard_limits(&part),
        Some(VdiskDiscardLimits {
            max_discard_bytes: 2147450880,
            discard_granularity: 4096,
            discard_alignment: 0,
            discard_zeroes_data: false,
        })
    );
    assert_eq!(vdisk_read_discard_limits(&root.join("nothing")), None);
    let _ = std::fs::remove_dir_all(&root);
}
