// SPDX-License-Identifier: GPL-2.0-only
//! `struct scatterlist`: a data buffer as a vector of (page, offset, length) pieces, with
//! `sg_init_table()`, `sg_set_page()`, `sg_page()`, `sg_virt()`, `sg_copy_from_buffer()`,
//! `sg_copy_to_buffer()` and `sg_nents()`.
//!
//! SCST hands command data between the target driver, the core and the device handler as a
//! scatterlist (`cmd->sg`, `cmd->sg_cnt`); the SGV pool (`scst_mem.c`, ported on top of this)
//! caches whole scatterlists with their pages. An entry here owns its page, so a scatterlist
//! is a `Vec<Scatterlist>` whose pages return to the page pool when it is dropped.

use crate::mm::{page_address, page_address_mut, Page};
use std::io::{IoSlice, IoSliceMut};

/// C `struct scatterlist`: `length` bytes at `offset` in `page`.
#[derive(Debug, Default)]
#[doc(alias = "scatterlist")]
pub struct Scatterlist {
    page: Option<Page>,
    /// C `sg->offset`.
    pub offset: u32,
    /// C `sg->length`.
    pub length: u32,
}

/// C `sg_init_table(sgl, nents)`: `nents` empty entries.
pub fn sg_init_table(nents: usize) -> Vec<Scatterlist> {
    (0..nents).map(|_| Scatterlist::default()).collect()
}

/// C `sg_set_page(sg, page, len, offset)`: points the entry at `len` bytes at `offset` of
/// `page` and returns the page it held before. `offset + len` beyond the page is clamped to
/// the page.
pub fn sg_set_page(sg: &mut Scatterlist, page: Page, len: u32, offset: u32) -> Option<Page> {
    let size = u32::try_from(page_address(&page).len()).unwrap_or(u32::MAX);
    let offset = offset.min(size);
    sg.offset = offset;
    sg.length = len.min(size - offset);
    sg.page.replace(page)
}

/// C `sg_page(sg)`.
pub fn sg_page(sg: &Scatterlist) -> Option<&Page> {
    sg.page.as_ref()
}

/// Takes the page out of the entry (C: the owner frees `sg_page(sg)`), leaving it empty.
pub fn sg_take_page(sg: &mut Scatterlist) -> Option<Page> {
    sg.length = 0;
    sg.offset = 0;
    sg.page.take()
}

/// C `sg_virt(sg)`: the entry's bytes (empty without a page).
pub fn sg_virt(sg: &Scatterlist) -> &[u8] {
    match &sg.page {
        Some(p) => &page_address(p)[sg.offset as usize..(sg.offset + sg.length) as usize],
        None => &[],
    }
}

/// C `sg_virt(sg)` for writing.
pub fn sg_virt_mut(sg: &mut Scatterlist) -> &mut [u8] {
    let (o, l) = (sg.offset as usize, sg.length as usize);
    match &mut sg.page {
        Some(p) => &mut page_address_mut(p)[o..o + l],
        None => &mut [],
    }
}

/// C `sg_nents(sgl)`: entries that hold data.
pub fn sg_nents(sgl: &[Scatterlist]) -> usize {
    sgl.iter().filter(|sg| sg.page.is_some()).count()
}

/// The total data length of the list (C: the sum of `sg->length`, `cmd->bufflen`).
pub fn sg_total_len(sgl: &[Scatterlist]) -> usize {
    sgl.iter().map(|sg| sg.length as usize).sum()
}

/// C `sg_copy_from_buffer(sgl, nents, buf, buflen)`: copies `buf` into the list; returns the
/// bytes copied (less than `buf.len()` if the list is shorter).
pub fn sg_copy_from_buffer(sgl: &mut [Scatterlist], buf: &[u8]) -> usize {
    let mut done = 0;
    for sg in sgl {
        if done == buf.len() {
            break;
        }
        let dst = sg_virt_mut(sg);
        let n = dst.len().min(buf.len() - done);
        dst[..n].copy_from_slice(&buf[done..done + n]);
        done += n;
    }
    done
}

/// C `sg_copy_to_buffer(sgl, nents, buf, buflen)`: copies the list into `buf`; returns the
/// bytes copied.
pub fn sg_copy_to_buffer(sgl: &[Scatterlist], buf: &mut [u8]) -> usize {
    let mut done = 0;
    for sg in sgl {
        if done == buf.len() {
            break;
        }
        let src = sg_virt(sg);
        let n = src.len().min(buf.len() - done);
        buf[done..done + n].copy_from_slice(&src[..n]);
        done += n;
    }
    done
}

/// The list as I/O vectors for `writev`/`sendmsg` (C: the kernel builds `struct kvec`s from
/// `sg_virt()` the same way).
pub fn sg_iovec(sgl: &[Scatterlist]) -> Vec<IoSlice<'_>> {
    sgl.iter()
        .filter(|sg| sg.length > 0)
        .map(|sg| IoSlice::new(sg_virt(sg)))
        .collect()
}

/// The list as I/O vectors for `readv`/`recvmsg` (C: `struct kvec`s from `sg_virt()`).
pub fn sg_iovec_mut(sgl: &mut [Scatterlist]) -> Vec<IoSliceMut<'_>> {
    sgl.iter_mut()
        .filter(|sg| sg.length > 0)
        .map(|sg| IoSliceMut::new(sg_virt_mut(sg)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::{alloc_page, __GFP_ZERO, GFP_KERNEL, PAGE_SIZE};

    fn sgl_of(lens: &[(u32, u32)]) -> Vec<Scatterlist> {
        let mut sgl = sg_init_table(lens.len());
        for (sg, &(len, off)) in sgl.iter_mut().zip(lens) {
            let old = sg_set_page(sg, alloc_page(GFP_KERNEL | __GFP_ZERO).unwrap(), len, off);
            assert!(old.is_none());
        }
        sgl
    }

    #[test]
    fn set_page_and_views() {
        let mut sgl = sg_init_table(3);
        assert_eq!(sgl.len(), 3);
        assert_eq!(sg_nents(&sgl), 0);
        assert_eq!(sg_total_len(&sgl), 0);
        assert!(sg_virt(&sgl[0]).is_empty());
        assert!(sg_virt_mut(&mut sgl[0]).is_empty());
        let p = alloc_page(GFP_KERNEL | __GFP_ZERO).unwrap();
        assert!(sg_set_page(&mut sgl[1], p, 100, 10).is_none());
        assert_eq!((sgl[1].offset, sgl[1].length), (10, 100));
        assert_eq!(sg_nents(&sgl), 1);
        assert_eq!(sg_total_len(&sgl), 100);
        sg_virt_mut(&mut sgl[1])[0] = 7;
        assert_eq!(page_address(sg_page(&sgl[1]).unwrap())[10], 7);
        assert_eq!(sg_virt(&sgl[1]).len(), 100);
        // Clamped to the page.
        let p2 = alloc_page(GFP_KERNEL).unwrap();
        let old = sg_set_page(&mut sgl[1], p2, 5000, 4000).unwrap();
        assert_eq!(page_address(&old)[10], 7);
        assert_eq!((sgl[1].offset, sgl[1].length), (4000, 96));
        let p3 = alloc_page(GFP_KERNEL).unwrap();
        sg_set_page(&mut sgl[2], p3, 10, 9999);
        assert_eq!((sgl[2].offset, sgl[2].length), (PAGE_SIZE as u32, 0));
        assert!(sg_take_page(&mut sgl[1]).is_some());
        assert_eq!((sgl[1].offset, sgl[1].length), (0, 0));
        assert!(sg_page(&sgl[1]).is_none());
    }

    #[test]
    fn copy_round_trip_across_entries() {
        let mut sgl = sgl_of(&[(4096, 0), (1000, 96), (3000, 1)]);
        assert_eq!(sg_total_len(&sgl), 8096);
        let data: Vec<u8> = (0..8096u32).map(|i| (i * 7 % 251) as u8).collect();
        assert_eq!(sg_copy_from_buffer(&mut sgl, &data), 8096);
        assert_eq!(sg_virt(&sgl[1])[0], data[4096]);
        assert_eq!(sg_virt(&sgl[2])[0], data[5096]);
        let mut back = vec![0u8; 8096];
        assert_eq!(sg_copy_to_buffer(&sgl, &mut back), 8096);
        assert_eq!(back, data);
        // Shorter buffer; longer buffer.
        let mut short = vec![0u8; 5000];
        assert_eq!(sg_copy_to_buffer(&sgl, &mut short), 5000);
        assert_eq!(short[..], data[..5000]);
        let mut long = vec![0xffu8; 9000];
        assert_eq!(sg_copy_to_buffer(&sgl, &mut long), 8096);
        assert_eq!(long[8096], 0xff);
        assert_eq!(sg_copy_from_buffer(&mut sgl, &[1u8; 9000]), 8096);
        // Ends inside the second entry.
        assert_eq!(sg_copy_from_buffer(&mut sgl, &[4u8; 5000]), 5000);
        assert_eq!(sg_virt(&sgl[1])[903..905], [4, 1]);
        assert_eq!(sg_copy_from_buffer(&mut sgl, &[2u8; 10]), 10);
        assert_eq!(sg_virt(&sgl[0])[9..11], [2, 4]);
    }

    #[test]
    fn iovecs_follow_the_entries() {
        let mut sgl = sgl_of(&[(10, 0), (0, 0), (20, 5)]);
        sg_copy_from_buffer(&mut sgl, &[3u8; 30]);
        let iov = sg_iovec(&sgl);
        assert_eq!(iov.iter().map(|v| v.len()).collect::<Vec<_>>(), [10, 20]);
        let mut iov = sg_iovec_mut(&mut sgl);
        assert_eq!(iov.len(), 2);
        iov[1][0] = 9;
        drop(iov);
        assert_eq!(sg_virt(&sgl[2])[0], 9);
        assert_eq!(page_address(sg_page(&sgl[2]).unwrap())[5], 9);
    }
}
