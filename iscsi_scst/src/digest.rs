// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2004 - 2006 Xiranet Communications GmbH <arne.redlich@xiranet.com>
// Copyright (C) 2007 - 2016 Vladislav Bolkhovitin
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! iSCSI header and data digests: the port of `iscsi-scst/kernel/digest.c` and `digest.h`.
//!
//! The only digest besides "None" is CRC32C (RFC 3720 §12.1, Castagnoli polynomial, reflected
//! `0x82F63B78`). A digest is the standard, finalized CRC-32C of the bytes it covers:
//!
//! - the **header digest** covers the 48-byte BHS and the AHS (whose length is a multiple of 4);
//! - the **data digest** covers the data segment **and its pad bytes** up to the next multiple
//!   of 4. On receive the pad bytes are the ones that came off the wire (`conn->rpadding`), on
//!   send they are zero.
//!
//! On the wire the 4 digest bytes are **little-endian** (`u32::to_le_bytes`), the one iSCSI
//! field that is. The functions here return and take the digest as the CRC value (`u32`); a
//! digest read from the socket is `u32::from_le_bytes(bytes)` and one to send is
//! `crc.to_le_bytes()`. (The C keeps it as the 4-byte memory image in a `__be32`, which is the
//! same thing seen from the other side.) RFC 3720 B.4: 32 zero bytes give `0x8a9136aa`, sent as
//! `aa 36 91 8a`.
//!
//! The kernel's `crc32c(seed, buf, len)` is the bare register update, with no inversion on
//! either side; the C starts from a seed of all ones, feeds every piece through it in turn, and
//! inverts the result. The `crc32c` crate's `crc32c_append(crc, buf)` instead takes and returns
//! *finalized* values: it inverts on entry, updates, and inverts on exit. Starting it from 0
//! (the finalized CRC of nothing, whose register is all ones) and chaining it over the same
//! pieces therefore yields exactly the C's final, inverted value, with the intermediate
//! inversions cancelling out.
//!
//! The C functions take a `struct iscsi_cmnd` or `struct iscsi_conn`, which are not ported
//! yet (`iscsi.rs`, `conn.rs`). Until they are, the C-named entry points take the pieces of
//! the command the C reads (its BHS and AHS, its data size, the request's scatterlist …),
//! each documented with the field it stands for; they become thin adapters over a command
//! once one exists. The core, [`evaluate_crc32_from_sg`], [`digest_header`] and
//! [`digest_data`], is public so that callers can digest plain byte slices too.
//!
//! Not ported: the `CONFIG_SCST_ISCSI_DEBUG_DIGEST_FAILURES` fault injection (a debug build
//! option), and the `TRACE_DBG`/`TRACE_MGMT_DBG` lines and the PDU dump after a failed data
//! digest, which wait for the crate's trace flag word and `iscsi_dump_pdu()`.
//!
//! [`evaluate_crc32_from_sg`]: crate::digest::evaluate_crc32_from_sg
//! [`digest_header`]: crate::digest::digest_header
//! [`digest_data`]: crate::digest::digest_data

use crate::abi::{DIGEST_ALL, DIGEST_NONE};
use crate::iscsi_hdr::{
    cmnd_opcode, cmnd_scsicode, IscsiDataInHdr, IscsiDataOutHdr, IscsiHdr, ISCSI_OP_SCSI_DATA_IN,
    ISCSI_OP_SCSI_DATA_OUT,
};
use kemu::scatterlist::{sg_virt, Scatterlist};
use kemu::{Errno, PRINT_CRIT_ERROR, PRINT_ERROR, PRINT_WARNING};
use zerocopy::IntoBytes;

/// C: digest.c `digest_alg_available()`: checks that the algorithms in a `DIGEST_*` mask
/// (a HeaderDigest/DataDigest parameter) can be computed. CRC32C is always built in here (the
/// `crc32c` crate), so every mask is accepted unchanged and the C's error branch for a kernel
/// without libcrc32c has nothing to do.
pub fn digest_alg_available(val: &mut i32) {
    let _ = val;
}

/// C: digest.c `digest_init()`: a connection whose negotiated digest masks name no known
/// algorithm falls back to [`DIGEST_NONE`]. Until `iscsi_conn` is ported this takes its two
/// fields, `conn->hdigest_type` and `conn->ddigest_type`. Never fails (the C returns 0).
pub fn digest_init(hdigest_type: &mut i32, ddigest_type: &mut i32) -> Result<(), Errno> {
    if *hdigest_type & DIGEST_ALL == 0 {
        *hdigest_type = DIGEST_NONE;
    }

    if *ddigest_type & DIGEST_ALL == 0 {
        *ddigest_type = DIGEST_NONE;
    }

    Ok(())
}

/// C: digest.c `evaluate_crc32_from_sg()`: the CRC32C digest of the first `nbytes` bytes of
/// `sg` (the pieces in order, as the C walks a scatterlist), followed by the pad bytes that
/// round `nbytes` up to a multiple of 4, taken from `padding` in memory order (as the C reads
/// them through a byte pointer to the `u32`; for received padding they are the wire bytes).
/// Returns the finalized CRC (see the module doc for the byte order on the wire). If the
/// pieces hold fewer than `nbytes` bytes, the digest covers what they hold, then the pad.
pub fn evaluate_crc32_from_sg<'a, I>(sg: I, nbytes: usize, padding: u32) -> u32
where
    I: IntoIterator<Item = &'a [u8]>,
{
    // The finalized CRC of no bytes is 0: the kernel's register after a seed of all ones,
    // inverted. crc32c_append() continues from a finalized value (module doc).
    let mut crc: u32 = 0;
    let pad_bytes = nbytes.next_multiple_of(4) - nbytes;
    let mut left = nbytes;

    for piece in sg {
        if left == 0 {
            break;
        }
        let d = left.min(piece.len());
        crc = crc32c::crc32c_append(crc, &piece[..d]);
        left -= d;
    }

    if pad_bytes != 0 {
        crc = crc32c::crc32c_append(crc, &padding.to_ne_bytes()[..pad_bytes]);
    }

    crc
}

/// C: digest.c `digest_header()`: the header digest of a PDU, over its BHS (`pdu->bhs`, 48
/// bytes) and its AHS (`pdu->ahs`, `pdu->ahssize` bytes; the C rounds that size up to 4, which
/// it always is — a shorter tail is padded with zeros here).
pub fn digest_header(bhs: &[u8], ahs: &[u8]) -> u32 {
    evaluate_crc32_from_sg([bhs, ahs], bhs.len() + ahs.len(), 0)
}

/// C: digest.c `digest_data()`: the data digest of `size` bytes starting `offset` bytes into
/// a command's data buffer `sg` (C `cmd->sg`), plus the pad bytes from `padding` (see
/// [`evaluate_crc32_from_sg`]).
///
/// Adapted: the C finds the first entry with `offset >> PAGE_SHIFT`, which holds because
/// SCST's buffers are one page per entry after the first; this walks the entry lengths
/// instead, which finds the same entry then and any other layout too. The C treats a buffer
/// shorter than `offset + size` as a bug (`sBUG_ON`); so does this, logging a critical error
/// (and asserting in debug builds) before digesting what there is.
pub fn digest_data(sg: &[Scatterlist], size: u32, offset: u32, padding: u32) -> u32 {
    let size = size as usize;
    let offset = offset as usize;

    let avail: usize = sg.iter().map(|e| sg_virt(e).len()).sum();
    let enough = offset + size <= avail;
    if !enough {
        PRINT_CRIT_ERROR!(
            "digest_data: buffer of {} bytes is shorter than offset {} + size {}",
            avail,
            offset,
            size
        );
    }
    debug_assert!(enough, "digest_data beyond the end of the data buffer");

    let mut skip = offset;
    let pieces = sg.iter().filter_map(move |e| {
        let v = sg_virt(e);
        if skip >= v.len() {
            skip -= v.len();
            None
        } else {
            let piece = &v[skip..];
            skip = 0;
            Some(piece)
        }
    });

    evaluate_crc32_from_sg(pieces, size, padding)
}

/// C: digest.c `digest_rx_header()`: checks a received PDU's header digest. Until
/// `iscsi_cmnd` is ported this takes the command's `pdu.bhs`, its AHS (`pdu.ahs`,
/// `pdu.ahssize` bytes) and the received digest `cmnd->hdigest` (as a value: `from_le_bytes`
/// of the 4 wire bytes).
///
/// Returns `EIO` (C `-EIO`) on a mismatch.
pub fn digest_rx_header(bhs: &IscsiHdr, ahs: &[u8], hdigest: u32) -> Result<(), Errno> {
    let crc = digest_header(bhs.as_bytes(), ahs);
    if crc != hdigest {
        PRINT_ERROR!("{}", "RX header digest failed");
        return Err(Errno::EIO);
    }

    Ok(())
}

/// C: digest.c `digest_tx_header()`: computes the header digest of a PDU to send. The C
/// stores it in `cmnd->hdigest`; until `iscsi_cmnd` is ported this takes `pdu.bhs` and the
/// AHS and returns the digest (send it as `to_le_bytes()`).
pub fn digest_tx_header(bhs: &IscsiHdr, ahs: &[u8]) -> u32 {
    digest_header(bhs.as_bytes(), ahs)
}

/// The parts of the request command whose buffer a received data segment landed in, as
/// [`digest_rx_data`] reads them (C: `cmnd->cmd_req` for a Data-Out, otherwise the command
/// itself). Stands in for `&iscsi_cmnd` until `iscsi.rs` ports it.
#[derive(Debug, Clone, Copy)]
pub struct DigestReq<'a> {
    /// C `req->pdu.bhs`: the request's header (its CDB's opcode goes into a warning).
    pub bhs: &'a IscsiHdr,
    /// C `req->sg`: the request's data buffer.
    pub sg: &'a [Scatterlist],
    /// C `req->bufflen`: the buffer's length.
    pub bufflen: u32,
    /// C `req->prelim_compl_flags`: nonzero once the request is aborted or preliminarily
    /// completed (`ISCSI_CMD_ABORTED`, `ISCSI_CMD_PRELIM_COMPLETED`).
    pub prelim_compl_flags: usize,
}

/// C: digest.c `digest_rx_data()`: checks the data digest of a received PDU (SCSI Command
/// with immediate data, Data-Out, NOP-Out). Until `iscsi_cmnd` is ported this takes the
/// received command's `pdu.bhs` and `pdu.datasize`, the request it belongs to (`None` for a
/// Data-Out whose `cmnd->cmd_req` is NULL; for other opcodes the command itself), the pad
/// bytes received (`conn->rpadding`) and the received digest `cmnd->ddigest` (as a value:
/// `from_le_bytes` of the wire bytes).
///
/// A Data-Out's data sits at its BufferOffset in the request's buffer; other PDUs' data at
/// offset 0. No check is made (success) for a Data-Out without a request, for a request
/// already completed preliminarily (its data went to a shared scratch buffer, so the digest
/// would fail anyway, and its buffer description may be incomplete), or for data that would
/// reach past the request's buffer (a write residual overflow, which the C also lets pass
/// with a warning rather than add buffer space for a case that practically never occurs).
/// Returns `EIO` (C `-EIO`) on a mismatch.
pub fn digest_rx_data(
    bhs: &IscsiHdr,
    datasize: u32,
    req: Option<DigestReq<'_>>,
    rpadding: u32,
    ddigest: u32,
) -> Result<(), Errno> {
    let (req, offset) = match cmnd_opcode(bhs) {
        ISCSI_OP_SCSI_DATA_OUT => {
            let Some(req) = req else {
                // A Data-Out of a command that was completed early has no request left.
                return Ok(());
            };
            let req_hdr = IscsiDataOutHdr::from_bhs(bhs);
            (req, req_hdr.buffer_offset.get())
        }
        _ => match req {
            Some(req) => (req, 0),
            None => return Ok(()),
        },
    };

    if req.prelim_compl_flags != 0 {
        return Ok(());
    }

    // The C adds the two as u32 and could wrap; here the sum cannot.
    let end = u64::from(offset) + u64::from(datasize);
    if end > u64::from(req.bufflen) {
        PRINT_WARNING!(
            "Skipping RX data digest check for residual overflow command op {:x} (data size {}, buffer size {})",
            cmnd_scsicode(req.bhs),
            end,
            req.bufflen
        );
        return Ok(());
    }

    let crc = digest_data(req.sg, datasize, offset, rpadding);

    if crc != ddigest {
        PRINT_ERROR!("RX data digest failed, stable pages disabled?");
        return Err(Errno::EIO);
    }

    Ok(())
}

/// C: digest.c `digest_tx_data()`: computes the data digest of a PDU to send (Data-In, or
/// the data segment of a SCSI Response, NOP-In …). The C stores it in `cmnd->ddigest`; until
/// `iscsi_cmnd` is ported this takes the PDU's `pdu.bhs` and `pdu.datasize` and the
/// scatterlist its data comes from (`cmnd->sg`, which for a Data-In is the request's buffer)
/// and returns the digest (send it as `to_le_bytes()`). A Data-In's data starts at its
/// BufferOffset, other PDUs' at 0; the padding is zeros.
pub fn digest_tx_data(bhs: &IscsiHdr, datasize: u32, sg: &[Scatterlist]) -> u32 {
    let offset = match cmnd_opcode(bhs) {
        ISCSI_OP_SCSI_DATA_IN => IscsiDataInHdr::from_bhs(bhs).buffer_offset.get(),
        _ => 0,
    };

    digest_data(sg, datasize, offset, 0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::abi::DIGEST_CRC32C;
    use crate::iscsi_hdr::{
        IscsiScsiCmdHdr, ISCSI_CMD_FINAL, ISCSI_CMD_READ, ISCSI_OP_IMMEDIATE, ISCSI_OP_NOP_IN,
        ISCSI_OP_NOP_OUT, ISCSI_OP_SCSI_CMD,
    };
    use kemu::mm::{alloc_page, GFP_KERNEL, PAGE_SIZE};
    use kemu::scatterlist::{sg_init_table, sg_set_page, sg_virt_mut};
    use proptest::prelude::*;
    use zerocopy::FromBytes;

    /// An independent bitwise CRC-32C (reflected 0x82F63B78, init and final XOR all ones).
    fn crc32c_bitwise(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0x82F6_3B78
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    /// RFC 3720 B.4: the READ(10) SCSI Command PDU of the CRC examples.
    fn rfc3720_read_pdu() -> [u8; 48] {
        let mut b = [0u8; 48];
        b[0] = 0x01;
        b[1] = 0xc0;
        b[16] = 0x14;
        b[22] = 0x04;
        b[27] = 0x14;
        b[31] = 0x18;
        b[32] = 0x28;
        b[40] = 0x02;
        b
    }

    /// A scatterlist of `chunks.len()` pages, entry i holding `chunks[i]` at page offset
    /// `first_offset` (entry 0) or 0 (the others).
    fn sgl(chunks: &[&[u8]], first_offset: u32) -> Vec<Scatterlist> {
        let mut sg = sg_init_table(chunks.len());
        for (i, (e, c)) in sg.iter_mut().zip(chunks).enumerate() {
            let off = if i == 0 { first_offset } else { 0 };
            let page = alloc_page(GFP_KERNEL).unwrap();
            assert!(off as usize + c.len() <= PAGE_SIZE);
            sg_set_page(e, page, u32::try_from(c.len()).unwrap(), off);
            sg_virt_mut(e).copy_from_slice(c);
        }
        sg
    }

    #[test]
    fn rfc3720_b4_vectors() {
        let zeros = [0u8; 32];
        let ones = [0xffu8; 32];
        let inc: Vec<u8> = (0u8..32).collect();
        let dec: Vec<u8> = (0u8..32).rev().collect();
        let pdu = rfc3720_read_pdu();
        for (data, want) in [
            (&zeros[..], 0x8a91_36aa_u32),
            (&ones[..], 0x62a8_ab43),
            (&inc[..], 0x46dd_794e),
            (&dec[..], 0x113f_db5c),
            (&pdu[..], 0xd996_3a56),
        ] {
            assert_eq!(crc32c_bitwise(data), want);
            assert_eq!(evaluate_crc32_from_sg([data], data.len(), 0), want);
        }
        // The PDU vector as a header digest (no AHS).
        assert_eq!(digest_header(&pdu, &[]), 0xd996_3a56);
        let bhs = IscsiHdr::read_from_bytes(&pdu).unwrap();
        assert_eq!(digest_tx_header(&bhs, &[]), 0xd996_3a56);
        assert_eq!(digest_rx_header(&bhs, &[], 0xd996_3a56), Ok(()));
        assert_eq!(digest_rx_header(&bhs, &[], 0xd996_3a57), Err(Errno::EIO));
    }

    #[test]
    fn wire_order_is_little_endian() {
        let d = evaluate_crc32_from_sg([&[0u8; 32][..]], 32, 0);
        assert_eq!(d.to_le_bytes(), [0xaa, 0x36, 0x91, 0x8a]);
        let pdu = rfc3720_read_pdu();
        assert_eq!(
            digest_header(&pdu, &[]).to_le_bytes(),
            [0x56, 0x3a, 0x96, 0xd9]
        );
    }

    #[test]
    fn data_digest_includes_the_pad_bytes() {
        let payload = [1u8, 2, 3, 4, 5];
        let padded = [1u8, 2, 3, 4, 5, 0, 0, 0];
        let want = crc32c_bitwise(&padded);
        assert_eq!(want, crc32c::crc32c(&padded));
        assert_ne!(want, crc32c::crc32c(&payload));
        assert_eq!(evaluate_crc32_from_sg([&payload[..]], 5, 0), want);
        // Received pad bytes are digested as they came, in memory order of the u32.
        let rpadding = u32::from_ne_bytes([0xa1, 0xb2, 0xc3, 0xd4]);
        assert_eq!(
            evaluate_crc32_from_sg([&payload[..]], 5, rpadding),
            crc32c_bitwise(&[1, 2, 3, 4, 5, 0xa1, 0xb2, 0xc3])
        );
        // One, two, three pad bytes; none for a multiple of 4.
        for (n, pad) in [(7usize, 1usize), (6, 2), (5, 3), (4, 0), (8, 0)] {
            let data: Vec<u8> = (1..=n as u8).collect();
            let mut full = data.clone();
            full.extend_from_slice(&[0xa1, 0xb2, 0xc3, 0xd4][..pad]);
            assert_eq!(
                evaluate_crc32_from_sg([&data[..]], n, rpadding),
                crc32c_bitwise(&full),
                "{n} bytes"
            );
        }
        // No data: no pad either, the CRC of nothing.
        assert_eq!(evaluate_crc32_from_sg([&[][..]], 0, rpadding), 0);
    }

    #[test]
    fn evaluate_covers_only_nbytes() {
        let data: Vec<u8> = (0u8..20).collect();
        // 10 of 20 bytes, split over pieces; the tail beyond nbytes is ignored and the pad
        // follows byte 10.
        let want = crc32c_bitwise(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0]);
        assert_eq!(
            evaluate_crc32_from_sg([&data[..3], &data[3..8], &data[8..]], 10, 0),
            want
        );
        assert_eq!(evaluate_crc32_from_sg([&data[..]], 10, 0), want);
        // Pieces shorter than nbytes: what is there, then the pad of nbytes.
        assert_eq!(
            evaluate_crc32_from_sg([&data[..2]], 6, 0),
            crc32c_bitwise(&[0, 1, 0, 0])
        );
    }

    #[test]
    fn header_digest_covers_bhs_and_ahs() {
        let bhs = rfc3720_read_pdu();
        let ahs = [0u8, 5, 2, 0, 0, 0, 0x10, 0];
        let mut all = bhs.to_vec();
        all.extend_from_slice(&ahs);
        let want = crc32c_bitwise(&all);
        assert_eq!(digest_header(&bhs, &ahs), want);
        let h = IscsiHdr::read_from_bytes(&bhs).unwrap();
        assert_eq!(digest_tx_header(&h, &ahs), want);
        assert_eq!(digest_rx_header(&h, &ahs, want), Ok(()));
        assert_eq!(digest_rx_header(&h, &[], want), Err(Errno::EIO));
        // A short AHS tail is padded with zeros.
        let mut padded = bhs.to_vec();
        padded.extend_from_slice(&[9, 9, 0, 0]);
        assert_eq!(digest_header(&bhs, &[9, 9]), crc32c_bitwise(&padded));
    }

    #[test]
    fn digest_data_walks_the_scatterlist_from_offset() {
        let a: Vec<u8> = (0..PAGE_SIZE - 100).map(|i| (i % 251) as u8).collect();
        let b: Vec<u8> = (0..PAGE_SIZE).map(|i| (i % 241) as u8).collect();
        let c: Vec<u8> = (0..300).map(|i| (i % 13) as u8).collect();
        let sg = sgl(&[&a, &b, &c], 100);
        let mut flat = a.clone();
        flat.extend_from_slice(&b);
        flat.extend_from_slice(&c);
        let total = u32::try_from(flat.len()).unwrap();

        // Whole buffer.
        assert_eq!(digest_data(&sg, total, 0, 0), crc32c_bitwise(&flat));
        // Starting inside the first entry, ending inside the second, odd size (pad 3).
        let (off, size) = (50usize, PAGE_SIZE + 5);
        let mut want = flat[off..off + size].to_vec();
        want.extend_from_slice(&[0, 0, 0]);
        assert_eq!(
            digest_data(&sg, size as u32, off as u32, 0),
            crc32c_bitwise(&want)
        );
        // Starting exactly at the second entry.
        let off = a.len();
        assert_eq!(
            digest_data(&sg, 8, off as u32, 0),
            crc32c_bitwise(&flat[off..off + 8])
        );
        // Starting in the last entry and running to the very end: no assertion.
        let off = flat.len() - 7;
        let mut want = flat[off..].to_vec();
        want.push(0);
        assert_eq!(digest_data(&sg, 7, off as u32, 0), crc32c_bitwise(&want));
        // Zero bytes.
        assert_eq!(digest_data(&sg, 0, 10, 0), 0);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "digest_data beyond the end")]
    fn digest_data_past_the_buffer_is_a_bug() {
        let sg = sgl(&[&[1, 2, 3, 4]], 0);
        let _ = digest_data(&sg, 4, 1, 0);
    }

    fn data_out_bhs(buffer_offset: u32) -> IscsiHdr {
        let mut bhs = IscsiHdr::default();
        let h = IscsiDataOutHdr::from_bhs_mut(&mut bhs);
        h.opcode = ISCSI_OP_SCSI_DATA_OUT;
        h.buffer_offset.set(buffer_offset);
        bhs
    }

    #[test]
    fn rx_data_of_a_data_out_uses_its_buffer_offset() {
        let buf: Vec<u8> = (0u8..64).collect();
        let sg = sgl(&[&buf[..40], &buf[40..]], 0);
        let mut req_bhs = IscsiHdr::default();
        cmd_hdr_setup(&mut req_bhs);
        let req = DigestReq {
            bhs: &req_bhs,
            sg: &sg,
            bufflen: 64,
            prelim_compl_flags: 0,
        };
        let bhs = data_out_bhs(30);
        let rpad = u32::from_ne_bytes([7, 7, 7, 7]);
        let mut want = buf[30..43].to_vec();
        want.extend_from_slice(&[7, 7, 7]);
        let good = crc32c_bitwise(&want);

        assert_eq!(digest_rx_data(&bhs, 13, Some(req), rpad, good), Ok(()));
        assert_eq!(
            digest_rx_data(&bhs, 13, Some(req), rpad, good ^ 1),
            Err(Errno::EIO)
        );
        // Zero pad bytes give another digest.
        assert_eq!(
            digest_rx_data(&bhs, 13, Some(req), 0, good),
            Err(Errno::EIO)
        );
        // Data ending exactly at the buffer end is checked …
        let bhs_end = data_out_bhs(60);
        let end = crc32c_bitwise(&buf[60..64]);
        assert_eq!(digest_rx_data(&bhs_end, 4, Some(req), 0, end), Ok(()));
        assert_eq!(
            digest_rx_data(&bhs_end, 4, Some(req), 0, end ^ 1),
            Err(Errno::EIO)
        );
        // … one byte more is a residual overflow and passes unchecked.
        assert_eq!(digest_rx_data(&bhs_end, 5, Some(req), 0, 0), Ok(()));
        // An offset that would wrap a u32 sum is an overflow too, not a wrapped small offset.
        let bhs_wrap = data_out_bhs(u32::MAX - 1);
        assert_eq!(digest_rx_data(&bhs_wrap, 4, Some(req), 0, 0), Ok(()));
        // No request: nothing to check.
        assert_eq!(digest_rx_data(&bhs, 13, None, rpad, 0), Ok(()));
        // A preliminarily completed request is not checked.
        let prelim = DigestReq {
            prelim_compl_flags: 1 << 1,
            ..req
        };
        assert_eq!(digest_rx_data(&bhs, 13, Some(prelim), rpad, 0), Ok(()));
        let aborted = DigestReq {
            prelim_compl_flags: 1,
            ..req
        };
        assert_eq!(digest_rx_data(&bhs, 13, Some(aborted), rpad, 0), Ok(()));
    }

    fn cmd_hdr_setup(bhs: &mut IscsiHdr) {
        let h = IscsiScsiCmdHdr::from_bhs_mut(bhs);
        h.opcode = ISCSI_OP_SCSI_CMD;
        h.flags = ISCSI_CMD_FINAL | ISCSI_CMD_READ;
        h.scb[0] = 0x2a;
    }

    #[test]
    fn rx_data_of_other_pdus_starts_at_zero() {
        let buf: Vec<u8> = (100u8..110).collect();
        let sg = sgl(&[&buf], 0);
        // A SCSI Command with immediate data whose BHS bytes 40..44 (a Data-Out's
        // BufferOffset) are not zero: they must not be used as an offset.
        let mut bhs = IscsiHdr::default();
        cmd_hdr_setup(&mut bhs);
        IscsiDataOutHdr::from_bhs_mut(&mut bhs).buffer_offset.set(4);
        let req = DigestReq {
            bhs: &bhs,
            sg: &sg,
            bufflen: 10,
            prelim_compl_flags: 0,
        };
        let mut want = buf[..6].to_vec();
        want.extend_from_slice(&[0, 0]);
        let good = crc32c_bitwise(&want);
        assert_eq!(digest_rx_data(&bhs, 6, Some(req), 0, good), Ok(()));
        assert_eq!(
            digest_rx_data(&bhs, 6, Some(req), 0, crc32c_bitwise(&buf[4..10])),
            Err(Errno::EIO)
        );
        // A NOP-Out with ping data, the immediate bit set.
        let mut nop = IscsiHdr {
            opcode: ISCSI_OP_NOP_OUT | ISCSI_OP_IMMEDIATE,
            ..Default::default()
        };
        nop.spec3[1].set(4);
        let req = DigestReq { bhs: &nop, ..req };
        assert_eq!(digest_rx_data(&nop, 6, Some(req), 0, good), Ok(()));
        assert_eq!(
            digest_rx_data(&nop, 6, Some(req), 0, !good),
            Err(Errno::EIO)
        );
        // Residual overflow on a command: unchecked.
        assert_eq!(digest_rx_data(&nop, 11, Some(req), 0, 0), Ok(()));
        assert_eq!(digest_rx_data(&nop, 6, None, 0, 0), Ok(()));
    }

    #[test]
    fn tx_data_of_a_data_in_uses_its_buffer_offset() {
        let buf: Vec<u8> = (0u8..=255).collect();
        let sg = sgl(&[&buf[..100], &buf[100..]], 0);
        let mut bhs = IscsiHdr::default();
        let h = IscsiDataInHdr::from_bhs_mut(&mut bhs);
        h.opcode = ISCSI_OP_SCSI_DATA_IN;
        h.buffer_offset.set(98);
        let mut want = buf[98..103].to_vec();
        want.extend_from_slice(&[0, 0, 0]);
        assert_eq!(digest_tx_data(&bhs, 5, &sg), crc32c_bitwise(&want));

        // A NOP-In (or SCSI Response) digests from offset 0 whatever bytes 40..44 hold.
        bhs.opcode = ISCSI_OP_NOP_IN;
        assert_eq!(digest_tx_data(&bhs, 8, &sg), crc32c_bitwise(&buf[..8]));
    }

    #[test]
    fn digest_init_falls_back_to_none() {
        for (h, d, want_h, want_d) in [
            (0, 0, DIGEST_NONE, DIGEST_NONE),
            (DIGEST_CRC32C, 0, DIGEST_CRC32C, DIGEST_NONE),
            (0, DIGEST_CRC32C, DIGEST_NONE, DIGEST_CRC32C),
            (DIGEST_ALL, DIGEST_NONE, DIGEST_ALL, DIGEST_NONE),
            (0b100, 0b1000, DIGEST_NONE, DIGEST_NONE),
            (0b101, 0b110, 0b101, 0b110),
        ] {
            let (mut hd, mut dd) = (h, d);
            assert_eq!(digest_init(&mut hd, &mut dd), Ok(()));
            assert_eq!((hd, dd), (want_h, want_d), "in {h:#b} {d:#b}");
        }
    }

    #[test]
    fn digest_alg_available_accepts_crc32c() {
        for v in [DIGEST_NONE, DIGEST_CRC32C, DIGEST_ALL] {
            let mut val = v;
            digest_alg_available(&mut val);
            assert_eq!(val, v);
        }
    }

    proptest! {
        #[test]
        fn pieces_digest_like_their_concatenation(
            data in proptest::collection::vec(any::<u8>(), 0..300),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
            padding in any::<u32>(),
        ) {
            let mut at: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
            at.sort_unstable();
            let mut pieces = Vec::new();
            let mut prev = 0;
            for &c in &at {
                pieces.push(&data[prev..c]);
                prev = c;
            }
            pieces.push(&data[prev..]);
            let whole = evaluate_crc32_from_sg([&data[..]], data.len(), padding);
            prop_assert_eq!(evaluate_crc32_from_sg(pieces, data.len(), padding), whole);
            let mut full = data.clone();
            let pad = data.len().next_multiple_of(4) - data.len();
            full.extend_from_slice(&padding.to_ne_bytes()[..pad]);
            prop_assert_eq!(whole, crc32c_bitwise(&full));
        }
    }
}
