// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2004 - 2016 Vladislav Bolkhovitin <vst@vlnb.net>
// Copyright (C) 2004 - 2005 Leonid Stoljar
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! C: `scst/src/scst_proc.c` — the `/proc/scsi_tgt` interface of the procfs build.
//!
//! So far only the **write commands** that manage access groups are ported, as plain
//! functions taking the text written (and, for the per-group files, the group's name):
//!
//! - [`scst_proc_scsi_tgt_gen_write`]: `/proc/scsi_tgt/scsi_tgt` (`add_group`, `del_group`,
//!   `rename_group`, `assign`);
//! - [`scst_proc_groups_devices_write`]: `/proc/scsi_tgt/groups/<G>/devices` (`add`,
//!   `replace`, `del`, `clear`);
//! - [`scst_proc_groups_names_write`]: `/proc/scsi_tgt/groups/<G>/names` (`add`, `del`,
//!   `move`, `clear`).
//!
//! Each returns `Ok(())` where C returns the written length, and C's `-errno` otherwise. The
//! parsing follows C token by token: one trailing newline is dropped, keywords are matched
//! case-insensitively as prefixes (`"add "` with its space), tokens are separated by C
//! `isspace()` characters. The /proc tree itself (the PDE entries, reads, FUSE) comes later.
//!
//! Deviations, all documented in docs/PORTING.md: activity is not suspended around the
//! commands (`scst_suspend_activity` is not ported yet; `scst_mutex` is taken as in C);
//! `scst_check_reassign_sessions()` is not ported (no session moves between groups); a
//! missing LUN in
//! `add`/`replace` is `EINVAL` (C reads the byte after the string, which maps LUN 0);
//! `add_group` with an empty name is `EINVAL` (C fails later, creating the proc directory);
//! `rename_group` is `EOPNOTSUPP` after C's checks (a group's name is immutable in the port).

use std::sync::Arc;

use crate::scst::{ScstAcg, ScstDevice};
use crate::scst_const::{
    SCST_DEFAULT_ACG_NAME, SCST_LUN_ADDR_METHOD_FLAT, SCST_LUN_ADDR_METHOD_LUN,
    SCST_LUN_ADDR_METHOD_PERIPHERAL, SCST_MAX_LUN,
};
use crate::scst_lib::{
    scst_acg_add_acn, scst_acg_add_lun, scst_acg_del_lun, scst_acg_remove_name, scst_del_free_acg,
    scst_del_free_acn,
};
use crate::scst_main::{scst_mutex, scst_trace_flag as TRACE_FLAG, ScstMutexGuard};
use kemu::mm::PAGE_SIZE;
use kemu::{Errno, PRINT_ERROR, TRACE_DBG, TRACE_MGMT_DBG};

/// C `SCST_PROC_BLOCK_SIZE`: the largest write a /proc file accepts.
pub const SCST_PROC_BLOCK_SIZE: usize = PAGE_SIZE - 512;

/// C `isspace()` in the "C" locale.
fn c_isspace(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// C `strncasecmp(keyword, p, strlen(keyword)) == 0`: `p` starts with `keyword`, ignoring
/// ASCII case; the rest of `p`.
fn strip_keyword<'a>(p: &'a str, keyword: &str) -> Option<&'a str> {
    let n = keyword.len();
    (p.len() >= n && p.as_bytes()[..n].eq_ignore_ascii_case(keyword.as_bytes())).then(|| &p[n..])
}

/// Skips leading C whitespace.
fn skip_spaces(p: &str) -> &str {
    p.trim_start_matches(|c: char| c.is_ascii() && c_isspace(c as u8))
}

/// The next token (up to C whitespace or the end) and what follows it, starting at the
/// whitespace character that ended the token (empty at the end of the text).
fn split_token(p: &str) -> (&str, &str) {
    let end = p.bytes().position(c_isspace).unwrap_or(p.len());
    (&p[..end], &p[end..])
}

/// The checks every write starts with (C: the length check, the copy into a page with a NUL
/// after it, and dropping one trailing newline). An embedded NUL ends the text, as in C.
fn proc_write_prologue(buf: &str) -> Result<&str, Errno> {
    if buf.len() > SCST_PROC_BLOCK_SIZE {
        return Err(Errno::EOVERFLOW);
    }
    let p = buf.split('\0').next().unwrap_or("");
    Ok(p.strip_suffix('\n').unwrap_or(p))
}

/// C `simple_strtoul(s, &end, 0)`: base from the prefix (`0x` hex when a hex digit follows,
/// `0` octal, else decimal); the value (wrapping like C's `unsigned long`) and the number of
/// bytes read, 0 if no digit was found.
fn simple_strtoul(s: &str) -> (u64, usize) {
    let b = s.as_bytes();
    let (base, mut i) =
        if b.len() >= 3 && b[0] == b'0' && (b[1] | 0x20) == b'x' && b[2].is_ascii_hexdigit() {
            (16u64, 2)
        } else if b.first() == Some(&b'0') {
            (8, 0)
        } else {
            (10, 0)
        };
    let start = i;
    let mut v: u64 = 0;
    while let Some(d) = b.get(i).and_then(|c| (*c as char).to_digit(base as u32)) {
        v = v.wrapping_mul(base).wrapping_add(u64::from(d));
        i += 1;
    }
    if i == start {
        (0, 0)
    } else {
        (v, i)
    }
}

/// The group named `name` in `scst_acg_list` (exact compare, as C's `strcmp`).
fn scst_find_acg_by_name(g: &ScstMutexGuard<'_>, name: &str) -> Option<Arc<ScstAcg>> {
    g.scst_acg_list
        .iter()
        .find(|(_, a)| a.acg_name == name)
        .map(|(_, a)| a.clone())
}

/// The device whose `virt_name` is `name` in `scst_dev_list`.
fn scst_find_dev_by_name(g: &ScstMutexGuard<'_>, name: &str) -> Option<Arc<ScstDevice>> {
    g.scst_dev_list
        .iter()
        .find(|(_, d)| d.virt_name == name)
        .map(|(_, d)| d.clone())
}

/// C `scst_proc_group_add()`: creates the global group `name` with `addr_method`. Called with
/// `scst_mutex` held.
///
/// C allocates through `scst_alloc_add_acg()` and then sets `acg->addr_method`; the port's
/// `addr_method` is fixed at construction, so the group is built here with it (the rest is
/// what `scst_alloc_add_acg()` does). The group's proc subtree comes with the /proc tree.
fn scst_proc_group_add(
    g: &mut ScstMutexGuard<'_>,
    name: &str,
    addr_method: i32,
) -> Result<(), Errno> {
    let acg = Arc::new(ScstAcg::new(name, addr_method));
    TRACE_DBG!("Adding acg {} to scst_acg_list", name);
    let h = g.scst_acg_list.add_tail(acg.clone());
    acg.acg_list_entry.set(h);
    Ok(())
}

/// C `scst_proc_del_free_acg()`: deletes a group that no session uses (`EBUSY` otherwise);
/// the `Default` group is never deleted. Called with `scst_mutex` held.
fn scst_proc_del_free_acg(g: &mut ScstMutexGuard<'_>, acg: &Arc<ScstAcg>) -> Result<(), Errno> {
    let is_default = g
        .scst_default_acg
        .as_ref()
        .is_some_and(|d| Arc::ptr_eq(d, acg));
    if is_default {
        return Ok(());
    }
    if !acg.acg_sess_list.access(g).is_empty() {
        PRINT_ERROR!("Session is not empty");
        return Err(Errno::EBUSY);
    }
    scst_del_free_acg(g, acg, false)
}

/// The actions of `/proc/scsi_tgt/scsi_tgt`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum GenAction {
    Assign,
    AddGroup,
    DelGroup,
    RenameGroup,
}

/// C `scst_proc_scsi_tgt_gen_write()`: a write to `/proc/scsi_tgt/scsi_tgt`.
///
/// - `add_group NAME [FLAT|LUN]`: a new group; an existing name or `Default` → `EINVAL`, an
///   unknown 3rd token or a 4th token → `EINVAL`.
/// - `del_group NAME`: unknown or `Default` → `EINVAL`, extra token → `EINVAL`, sessions in
///   the group → `EBUSY`.
/// - `rename_group OLD NEW`: C's checks (`EINVAL`), then `EOPNOTSUPP` (see the module doc).
/// - `assign H:C:I:L HANDLER`: always `EINVAL` (no pass-through devices).
///
/// Anything else → `EINVAL`; more than [`SCST_PROC_BLOCK_SIZE`] bytes → `EOVERFLOW`.
pub fn scst_proc_scsi_tgt_gen_write(buf: &str) -> Result<(), Errno> {
    let p = proc_write_prologue(buf)?;
    let (action, p) = if let Some(r) = strip_keyword(p, "assign ") {
        (GenAction::Assign, r)
    } else if let Some(r) = strip_keyword(p, "add_group ") {
        (GenAction::AddGroup, r)
    } else if let Some(r) = strip_keyword(p, "del_group ") {
        (GenAction::DelGroup, r)
    } else if let Some(r) = strip_keyword(p, "rename_group ") {
        (GenAction::RenameGroup, r)
    } else {
        PRINT_ERROR!("Unknown action \"{}\"", p);
        return Err(Errno::EINVAL);
    };

    let mut g = scst_mutex.lock_interruptible().map_err(|_| Errno::EINTR)?;

    let p = skip_spaces(p);
    if action == GenAction::Assign {
        return scst_proc_assign_handler(p);
    }

    let (name, rest) = split_token(p);
    let pp = skip_spaces(rest);
    let mut addr_method = SCST_LUN_ADDR_METHOD_PERIPHERAL;
    if !pp.is_empty() {
        match action {
            GenAction::AddGroup => {
                let (method, after) = split_token(pp);
                if !skip_spaces(after).is_empty() {
                    PRINT_ERROR!("Too many arguments");
                    return Err(Errno::EINVAL);
                }
                if method.eq_ignore_ascii_case("FLAT") {
                    addr_method = SCST_LUN_ADDR_METHOD_FLAT;
                } else if method.eq_ignore_ascii_case("LUN") {
                    addr_method = SCST_LUN_ADDR_METHOD_LUN;
                } else {
                    PRINT_ERROR!("Unexpected argument {}", method);
                    return Err(Errno::EINVAL);
                }
            }
            GenAction::DelGroup => {
                PRINT_ERROR!("Too many arguments");
                return Err(Errno::EINVAL);
            }
            _ => {}
        }
    }

    if name == SCST_DEFAULT_ACG_NAME {
        PRINT_ERROR!("Attempt to add/delete/rename predefined group \"{}\"", name);
        return Err(Errno::EINVAL);
    }

    let acg = scst_find_acg_by_name(&g, name);
    if let Some(a) = &acg {
        TRACE_DBG!("group (acg) {} found", a.acg_name);
    }

    match action {
        GenAction::AddGroup => {
            if acg.is_some() {
                PRINT_ERROR!("acg name {} exist", name);
                return Err(Errno::EINVAL);
            }
            if name.is_empty() {
                PRINT_ERROR!("Group name required");
                return Err(Errno::EINVAL);
            }
            scst_proc_group_add(&mut g, name, addr_method)
        }
        GenAction::DelGroup => {
            let Some(acg) = acg else {
                PRINT_ERROR!("acg name {} not found", name);
                return Err(Errno::EINVAL);
            };
            scst_proc_del_free_acg(&mut g, &acg)
        }
        GenAction::RenameGroup => {
            if acg.is_none() {
                PRINT_ERROR!("acg name {} not found", name);
                return Err(Errno::EINVAL);
            }
            let (new_name, after) = split_token(pp);
            if !skip_spaces(after).is_empty() {
                PRINT_ERROR!("Too many arguments");
                return Err(Errno::EINVAL);
            }
            PRINT_ERROR!(
                "Renaming group {} to {} is not supported yet",
                name,
                new_name
            );
            Err(Errno::EOPNOTSUPP)
        }
        GenAction::Assign => unreachable!("handled above"),
    }
}

/// C `scst_proc_assign_handler()`: `assign H:C:I:L HANDLER_NAME`. There are no pass-through
/// SCSI devices in usermode, so after the syntax check the device is never found: `EINVAL`.
fn scst_proc_assign_handler(p: &str) -> Result<(), Errno> {
    let p = skip_spaces(p);
    let mut rest = p;
    // H, C and I are each followed by ':'; L ends the address.
    for _ in 0..3 {
        let (_, n) = simple_strtoul(rest);
        match rest[n..].strip_prefix(':') {
            Some(r) => rest = r,
            None => {
                PRINT_ERROR!("Syntax error on {}", p);
                return Err(Errno::EINVAL);
            }
        }
    }
    PRINT_ERROR!("Device {} not found", split_token(p).0);
    Err(Errno::EINVAL)
}

/// The actions of `groups/<G>/devices` and `groups/<G>/names`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum GroupAction {
    Add,
    Del,
    Replace,
    Move,
    Clear,
}

/// C `scst_proc_groups_devices_write()`: a write to `/proc/scsi_tgt/groups/<acg_name>/devices`.
///
/// - `add V_NAME LUN [READ_ONLY]`: maps the device (looked up by `virt_name`; unknown →
///   `EINVAL`) as LUN `LUN` (`DEC`, `0xHEX`, `0OCT`; above `SCST_MAX_LUN` or missing →
///   `EINVAL`); an option not starting with `READ_ONLY` → `EINVAL`; LUN in use → `EEXIST`.
/// - `replace V_NAME LUN [READ_ONLY]`: as `add`, deleting the LUN's mapping first if any.
/// - `del V_NAME`: deletes the first LUN of the group that maps the device; unknown device →
///   `EINVAL`; a known device that is not mapped here is logged and is success (as C).
/// - `clear`: deletes every LUN of the group.
///
/// An unknown group (no such /proc directory) → `ENOENT`.
pub fn scst_proc_groups_devices_write(acg_name: &str, buf: &str) -> Result<(), Errno> {
    let p = proc_write_prologue(buf)?;
    let (action, p) = if strip_keyword(p, "clear").is_some() {
        (GroupAction::Clear, p)
    } else if let Some(r) = strip_keyword(p, "add ") {
        (GroupAction::Add, r)
    } else if let Some(r) = strip_keyword(p, "del ") {
        (GroupAction::Del, r)
    } else if let Some(r) = strip_keyword(p, "replace ") {
        (GroupAction::Replace, r)
    } else {
        PRINT_ERROR!("Unknown action \"{}\"", p);
        return Err(Errno::EINVAL);
    };

    let mut g = scst_mutex.lock_interruptible().map_err(|_| Errno::EINTR)?;
    let acg = scst_find_acg_by_name(&g, acg_name).ok_or(Errno::ENOENT)?;

    if action == GroupAction::Clear {
        let luns: Vec<u64> = acg
            .acg_dev_list
            .access(&g)
            .iter()
            .map(|(_, a)| a.lun)
            .collect();
        let n = luns.len();
        for (i, lun) in luns.into_iter().enumerate() {
            scst_acg_del_lun(&mut g, &acg, lun, i + 1 == n)?;
        }
        return Ok(());
    }

    let p = skip_spaces(p);
    let (dev_name, rest) = split_token(p);
    let Some(dev) = scst_find_dev_by_name(&g, dev_name) else {
        PRINT_ERROR!("Device {} not found", dev_name);
        return Err(Errno::EINVAL);
    };
    TRACE_DBG!("Device {} found", dev_name);

    if action == GroupAction::Del {
        // Only the first LUN of the device in this group goes (kept as C for compatibility).
        let lun = acg
            .acg_dev_list
            .access(&g)
            .iter()
            .find(|(_, a)| Arc::ptr_eq(&a.dev, &dev))
            .map(|(_, a)| a.lun);
        match lun {
            Some(lun) => scst_acg_del_lun(&mut g, &acg, lun, true)?,
            None => PRINT_ERROR!("Device is not found in group {}", acg.acg_name),
        }
        return Ok(());
    }

    // add / replace: the LUN, then an optional READ_ONLY.
    let e = skip_spaces(rest);
    let (virt_lun, n) = simple_strtoul(e);
    if n == 0 {
        PRINT_ERROR!("LUN required after device {}", dev_name);
        return Err(Errno::EINVAL);
    }
    // C stores the value in an `unsigned int`.
    let virt_lun = u64::from(virt_lun as u32);
    if virt_lun > SCST_MAX_LUN {
        PRINT_ERROR!("Too big LUN {} (max {})", virt_lun, SCST_MAX_LUN);
        return Err(Errno::EINVAL);
    }
    let e = skip_spaces(&e[n..]);
    let mut read_only = false;
    if !e.is_empty() {
        if strip_keyword(e, "READ_ONLY").is_some() {
            read_only = true;
        } else {
            PRINT_ERROR!("Unknown option \"{}\"", e);
            return Err(Errno::EINVAL);
        }
    }

    let exists = acg
        .acg_dev_list
        .access(&g)
        .iter()
        .any(|(_, a)| a.lun == virt_lun);
    let mut dev_replaced = false;
    if exists {
        if action == GroupAction::Add {
            PRINT_ERROR!(
                "virt lun {} already exists in group {}",
                virt_lun,
                acg.acg_name
            );
            return Err(Errno::EEXIST);
        }
        scst_acg_del_lun(&mut g, &acg, virt_lun, false)?;
        dev_replaced = true;
    }

    scst_acg_add_lun(&mut g, &acg, &dev, virt_lun, read_only)?;

    if action == GroupAction::Add {
        crate::scst_lib::scst_report_luns_changed(&g, &acg);
    }
    if dev_replaced {
        let tgt_devs: Vec<_> = dev
            .dev_tgt_dev_list
            .access(&g)
            .iter()
            .filter(|(_, t)| {
                t.lun == virt_lun
                    && t.acg_dev
                        .acg
                        .upgrade()
                        .is_some_and(|a| Arc::ptr_eq(&a, &acg))
            })
            .map(|(_, t)| t.clone())
            .collect();
        for tgt_dev in &tgt_devs {
            TRACE_MGMT_DBG!("INQUIRY DATA HAS CHANGED on tgt_dev {:?}", tgt_dev);
            let (k, a, q) = crate::scst_const::SCST_LOAD_SENSE(
                crate::scst_const::scst_sense_inquiry_data_changed,
            );
            crate::scst_lib::scst_gen_aen_or_ua(tgt_dev, k, a, q);
        }
    }
    Ok(())
}

/// C `scst_proc_groups_names_write()`: a write to `/proc/scsi_tgt/groups/<acg_name>/names`.
///
/// - `add NAME`: a new initiator-name pattern; duplicate → `EEXIST`, extra token → `EINVAL`.
/// - `del NAME`: not found → `EINVAL`, extra token → `EINVAL`.
/// - `move NAME NEW_GROUP`: unknown group or extra token → `EINVAL`; if adding to the new
///   group fails, the name is put back and the error returned.
/// - `clear`: removes every name.
///
/// An unknown group (no such /proc directory) → `ENOENT`.
pub fn scst_proc_groups_names_write(acg_name: &str, buf: &str) -> Result<(), Errno> {
    let p = proc_write_prologue(buf)?;
    let (action, p) = if strip_keyword(p, "clear").is_some() {
        (GroupAction::Clear, p)
    } else if let Some(r) = strip_keyword(p, "add ") {
        (GroupAction::Add, r)
    } else if let Some(r) = strip_keyword(p, "del ") {
        (GroupAction::Del, r)
    } else if let Some(r) = strip_keyword(p, "move ") {
        (GroupAction::Move, r)
    } else {
        PRINT_ERROR!("Unknown action \"{}\"", p);
        return Err(Errno::EINVAL);
    };

    let (name, pp) = if action == GroupAction::Clear {
        ("", "")
    } else {
        let (name, rest) = split_token(skip_spaces(p));
        let pp = skip_spaces(rest);
        if !pp.is_empty() && matches!(action, GroupAction::Add | GroupAction::Del) {
            PRINT_ERROR!("Too many arguments");
            return Err(Errno::EINVAL);
        }
        (name, pp)
    };

    let mut g = scst_mutex.lock_interruptible().map_err(|_| Errno::EINTR)?;
    let acg = scst_find_acg_by_name(&g, acg_name).ok_or(Errno::ENOENT)?;

    match action {
        GroupAction::Add => scst_acg_add_acn(&mut g, &acg, name),
        GroupAction::Del => scst_acg_remove_name(&mut g, &acg, name, true),
        GroupAction::Move => {
            let (new_name, after) = split_token(pp);
            if !skip_spaces(after).is_empty() {
                PRINT_ERROR!("Too many arguments");
                return Err(Errno::EINVAL);
            }
            let Some(new_acg) = scst_find_acg_by_name(&g, new_name) else {
                PRINT_ERROR!("Group {} not found", new_name);
                return Err(Errno::EINVAL);
            };
            scst_acg_remove_name(&mut g, &acg, name, false)?;
            if let Err(e) = scst_acg_add_acn(&mut g, &new_acg, name) {
                // C ignores a failure to put the name back.
                let _ = scst_acg_add_acn(&mut g, &acg, name);
                return Err(e);
            }
            Ok(())
        }
        GroupAction::Clear => {
            let acns: Vec<_> = acg
                .acn_list
                .access(&g)
                .iter()
                .map(|(_, a)| a.clone())
                .collect();
            for acn in &acns {
                scst_del_free_acn(&mut g, acn, false);
            }
            TRACE_DBG!("scst_check_reassign_sessions() is not ported");
            Ok(())
        }
        GroupAction::Replace => unreachable!("not an action of names"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scst_main::{scst_register_virtual_dev_driver, scst_register_virtual_device};
    use crate::testutil::{dev_type, Loaded, TestDevOps};

    fn group_luns(name: &str) -> Vec<(u64, String, bool)> {
        let g = scst_mutex.lock();
        let acg = scst_find_acg_by_name(&g, name).unwrap();
        let mut v: Vec<_> = acg
            .acg_dev_list
            .access(&g)
            .iter()
            .map(|(_, a)| (a.lun, a.dev.virt_name.clone(), a.acg_dev_rd_only))
            .collect();
        v.sort();
        v
    }

    fn group_names(name: &str) -> Vec<String> {
        let g = scst_mutex.lock();
        let acg = scst_find_acg_by_name(&g, name).unwrap();
        let v = acg
            .acn_list
            .access(&g)
            .iter()
            .map(|(_, a)| a.name.clone())
            .collect();
        v
    }

    fn groups() -> Vec<(String, i32)> {
        let g = scst_mutex.lock();
        g.scst_acg_list
            .iter()
            .map(|(_, a)| (a.acg_name.clone(), a.addr_method))
            .collect()
    }

    /// SCST loaded with two virtual devices `d1` and `d2`.
    fn setup() -> Loaded {
        let l = Loaded::new();
        let dt = dev_type("proc_test", Arc::new(TestDevOps::default()));
        scst_register_virtual_dev_driver(&dt).unwrap();
        scst_register_virtual_device(&dt, "d1").unwrap();
        scst_register_virtual_device(&dt, "d2").unwrap();
        l
    }

    #[test]
    fn simple_strtoul_bases() {
        assert_eq!(simple_strtoul("12 x"), (12, 2));
        assert_eq!(simple_strtoul("0x1f"), (31, 4));
        assert_eq!(simple_strtoul("010"), (8, 3));
        assert_eq!(simple_strtoul("0x"), (0, 1));
        assert_eq!(simple_strtoul("abc"), (0, 0));
    }

    #[test]
    fn add_and_del_group() {
        let _l = Loaded::new();
        assert_eq!(scst_proc_scsi_tgt_gen_write("add_group g1\n"), Ok(()));
        assert_eq!(scst_proc_scsi_tgt_gen_write("ADD_GROUP g2 flat\n"), Ok(()));
        assert_eq!(scst_proc_scsi_tgt_gen_write("add_group g3 LUN"), Ok(()));
        assert_eq!(
            groups(),
            vec![
                ("Default".to_owned(), SCST_LUN_ADDR_METHOD_PERIPHERAL),
                ("g1".to_owned(), SCST_LUN_ADDR_METHOD_PERIPHERAL),
                ("g2".to_owned(), SCST_LUN_ADDR_METHOD_FLAT),
                ("g3".to_owned(), SCST_LUN_ADDR_METHOD_LUN),
            ]
        );
        // Existing names and Default are EINVAL, not EEXIST.
        assert_eq!(
            scst_proc_scsi_tgt_gen_write("add_group g1\n"),
            Err(Errno::EINVAL)
        );
        for bad in [
            "add_group Default\n",
            "del_group Default\n",
            "add_group g4 PERIPHERAL\n",
            "add_group g4 FLAT x\n",
            "del_group g1 x\n",
            "del_group nosuch\n",
            "add_group\n",
            "frobnicate g1\n",
            "assign 0:0:0:0 dev_disk\n",
            "assign junk dev_disk\n",
            "rename_group nosuch x\n",
            "rename_group g1 x y\n",
        ] {
            assert_eq!(
                scst_proc_scsi_tgt_gen_write(bad),
                Err(Errno::EINVAL),
                "{bad}"
            );
        }
        assert_eq!(
            scst_proc_scsi_tgt_gen_write("rename_group g1 g9\n"),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(
            scst_proc_scsi_tgt_gen_write(&"x".repeat(SCST_PROC_BLOCK_SIZE + 1)),
            Err(Errno::EOVERFLOW)
        );
        assert_eq!(scst_proc_scsi_tgt_gen_write("del_group g1\n"), Ok(()));
        assert_eq!(scst_proc_scsi_tgt_gen_write("del_group  g2"), Ok(()));
        assert_eq!(scst_proc_scsi_tgt_gen_write("del_group g3\n"), Ok(()));
        assert_eq!(groups().len(), 1);
    }

    #[test]
    fn devices_add_replace_del_clear() {
        let _l = setup();
        let w = |s: &str| scst_proc_groups_devices_write("Default", s);
        assert_eq!(w("add d1 0\n"), Ok(()));
        assert_eq!(w("add d2 0x10 READ_ONLY\n"), Ok(()));
        assert_eq!(w("ADD d1 010 \n"), Ok(()));
        assert_eq!(
            group_luns("Default"),
            vec![
                (0, "d1".to_owned(), false),
                (8, "d1".to_owned(), false),
                (16, "d2".to_owned(), true),
            ]
        );
        // Duplicate LUN → EEXIST; unknown device, bad LUN, bad option → EINVAL.
        assert_eq!(w("add d2 0\n"), Err(Errno::EEXIST));
        for bad in [
            "add nosuch 1\n",
            "add d1\n",
            "add d1 \n",
            "add d1 x\n",
            "add d1 16384\n",
            "add d1 1 WRITE\n",
            "add d1 1x\n",
            "del nosuch\n",
            "insert d1 1\n",
            "\n",
        ] {
            assert_eq!(w(bad), Err(Errno::EINVAL), "{bad:?}");
        }
        assert_eq!(w("add d1 16383\n"), Ok(()));
        // scstadmin's exact bytes: a space before the newline, then a NUL.
        assert_eq!(w("add d2 20 \n\0"), Ok(()));
        assert_eq!(w("del d2\n\0junk"), Ok(()));
        // replace: takes LUN 0 over for d2.
        assert_eq!(w("replace d2 0 read_only\n"), Ok(()));
        assert!(group_luns("Default").contains(&(0, "d2".to_owned(), true)));
        // del: the first LUN of d1 (8), then 16383; a third del finds none and succeeds.
        assert_eq!(w("del d1\n"), Ok(()));
        assert_eq!(w("del d1\n"), Ok(()));
        assert_eq!(w("del d1\n"), Ok(()));
        assert_eq!(
            group_luns("Default"),
            vec![(0, "d2".to_owned(), true), (20, "d2".to_owned(), false)]
        );
        assert_eq!(w("clear\n"), Ok(()));
        assert!(group_luns("Default").is_empty());
        assert_eq!(
            scst_proc_groups_devices_write("nosuch", "clear\n"),
            Err(Errno::ENOENT)
        );
    }

    #[test]
    fn devices_in_another_group() {
        let _l = setup();
        assert_eq!(scst_proc_scsi_tgt_gen_write("add_group g1\n"), Ok(()));
        assert_eq!(scst_proc_groups_devices_write("g1", "add d1 0\n"), Ok(()));
        assert_eq!(
            scst_proc_groups_devices_write("Default", "add d1 0\n"),
            Ok(())
        );
        assert_eq!(group_luns("g1"), vec![(0, "d1".to_owned(), false)]);
        assert_eq!(scst_proc_scsi_tgt_gen_write("del_group g1\n"), Ok(()));
        assert_eq!(group_luns("Default"), vec![(0, "d1".to_owned(), false)]);
    }

    #[test]
    fn names_add_del_move_clear() {
        let _l = Loaded::new();
        assert_eq!(scst_proc_scsi_tgt_gen_write("add_group g1\n"), Ok(()));
        let w = |s: &str| scst_proc_groups_names_write("Default", s);
        assert_eq!(w("add iqn.a\n"), Ok(()));
        assert_eq!(w("add iqn.b*\n"), Ok(()));
        assert_eq!(w("add iqn.a\n"), Err(Errno::EEXIST));
        assert_eq!(w("add iqn.c x\n"), Err(Errno::EINVAL));
        assert_eq!(w("del iqn.c\n"), Err(Errno::EINVAL));
        assert_eq!(w("del iqn.a x\n"), Err(Errno::EINVAL));
        assert_eq!(w("move iqn.a nosuch\n"), Err(Errno::EINVAL));
        assert_eq!(w("move iqn.a g1 x\n"), Err(Errno::EINVAL));
        assert_eq!(w("rename iqn.a\n"), Err(Errno::EINVAL));
        assert_eq!(w("move iqn.a g1\n"), Ok(()));
        assert_eq!(group_names("Default"), vec!["iqn.b*".to_owned()]);
        assert_eq!(group_names("g1"), vec!["iqn.a".to_owned()]);
        // Moving onto a name the target group has: EEXIST, and the name stays where it was.
        assert_eq!(w("add iqn.a\n"), Ok(()));
        assert_eq!(w("move iqn.a g1\n"), Err(Errno::EEXIST));
        assert_eq!(
            group_names("Default"),
            vec!["iqn.b*".to_owned(), "iqn.a".to_owned()]
        );
        assert_eq!(w("del iqn.b*\n"), Ok(()));
        assert_eq!(w("clear\n"), Ok(()));
        assert!(group_names("Default").is_empty());
        assert_eq!(
            scst_proc_groups_names_write("nosuch", "clear\n"),
            Err(Errno::ENOENT)
        );
    }
}
