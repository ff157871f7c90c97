// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2004 - 2005 FUJITA Tomonori <tomof@acm.org>
// Copyright (C) 2007 - 2016 Vladislav Bolkhovitin
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! The daemon's side of the control device: the port of `iscsi-scst/usr/ctldev.c`, the
//! `kernel_*` wrappers around the ioctls of `iscsi-scst-ctl` (scst-reference.md §5.2), plus
//! `driver_major()` and `create_and_open_dev()` of `misc.c`, which only `kernel_open()` uses.
//!
//! Each wrapper fills the [`iscsi_scst::abi`] struct as C does (zeroed, then the fields) and
//! calls the driver through [`Daemon::ctrl_fd`] with [`CharDevFile::ioctl_struct`]; a C result
//! of `-errno` is `Err(errno)`. Without an open control device the wrappers fail with `EBADF`,
//! as an ioctl on C's unset descriptor would.
//!
//! Adapted for the port:
//! - `create_and_open_dev()` finds the major in [`kemu::chrdev::proc_devices`] as C finds it
//!   in `/proc/devices`, but opens the device with [`chrdev_open`] instead of unlinking,
//!   `mknod()`ing and opening `/dev/iscsi-scst-ctl`; it has no read-only mode (the emulated
//!   file has no access mode).
//! - The user pointers of `REGISTER_USERD` (the interface version string) and `ADD_TARGET` (the
//!   attribute array) are passed through [`UserMemory`].
//! - The wrappers that C gives a `struct target *` or `struct connection *` take `&mut Target`
//!   or a [`ConnHandle`]; `kernel_initiator_allowed()` returns a `bool`.
//! - Left out, sysfs build only: `kernel_attr_add()`, `kernel_attr_del()`,
//!   `kernel_user_add()`, `kernel_user_del()`.
#![doc(alias = "ctldev.c")]

use iscsi_scst::abi::{
    self, iscsi_kern_attr, iscsi_kern_conn_info, iscsi_kern_initiator_info, iscsi_kern_params_info,
    iscsi_kern_register_info, iscsi_kern_session_info, iscsi_kern_target_info, key_session,
    session_key_last, set_cstr, target_key_last, ISCSI_SCST_INTERFACE_VERSION,
};
use kemu::chrdev::{chrdev_open, proc_devices, CharDevFile, UserMemory};
use kemu::Errno;
use zerocopy::IntoBytes;

use crate::iscsid::{ConnHandle, Daemon, Target};
use crate::param::{
    IscsiParam, ISCSI_PER_PORTAL_ACL_ATTR_NAME, ISCSI_TARGET_REDIRECTION_ATTR_NAME,
};
use crate::target::{iscsi_make_full_initiator_name, target_find_by_id};

/// C `CTL_DEVICE`: the name the driver registers its control device under.
pub const CTL_DEVICE: &str = "iscsi-scst-ctl";

/// The open control device (C `ctrl_fd`), or `EBADF` when there is none.
fn ctrl(d: &Daemon) -> Result<&CharDevFile, Errno> {
    d.ctrl_fd.as_ref().ok_or(Errno::EBADF)
}

/// A C `unsigned int` key value in the driver's `s32` field (same bits).
fn s32(v: u32) -> i32 {
    v.cast_signed()
}

/// C: misc.c driver_major(): the major of character device `dev`, from the lines
/// `"<major> <name>"` of `/proc/devices` ([`proc_devices`] here); `ENOENT` if `dev` is not
/// there.
pub fn driver_major(dev: &str) -> Result<u32, Errno> {
    let devices = proc_devices();
    let found = devices.lines().find_map(|line| {
        let mut it = line.split_whitespace();
        let devn = it.next()?.parse::<i64>().ok()?;
        let name = it.next()?;
        if devn > 0 && name == dev {
            u32::try_from(devn).ok()
        } else {
            None
        }
    });
    found.ok_or_else(|| {
        log::error!("cannot find {dev} in /proc/devices - make sure the module is loaded");
        Errno::ENOENT
    })
}

/// C: misc.c create_and_open_dev(): opens the character device `dev` by the major
/// [`driver_major`] finds (adapted: no device node is created; see the module doc).
pub fn create_and_open_dev(dev: &str) -> Result<CharDevFile, Errno> {
    let devn = driver_major(dev)?;
    chrdev_open(devn).inspect_err(|e| log::error!("cannot open /dev/{dev} {}", e.desc()))
}

/// C: ctldev.c kernel_open(): opens `iscsi-scst-ctl` and registers the daemon with the driver
/// (`REGISTER_USERD` with the interface version), storing the driver's limits in
/// `d.iscsi_init_params`. Returns the open device, which the caller keeps in
/// [`Daemon::ctrl_fd`]. A version the driver refuses is `EINVAL`.
pub fn kernel_open(d: &mut Daemon) -> Result<CharDevFile, Errno> {
    kernel_open_dev(d, CTL_DEVICE)
}

/// [`kernel_open`] for the control device registered as `dev` (tests and the main loop's
/// tests serve fakes under names of their own).
pub(crate) fn kernel_open_dev(d: &mut Daemon, dev: &str) -> Result<CharDevFile, Errno> {
    let ctlfd = create_and_open_dev(dev)?;

    // The driver reads the version as a NUL-terminated string at a user address.
    let version = format!("{ISCSI_SCST_INTERFACE_VERSION}\0");
    let mut mem = UserMemory::new();
    let mut reg = iscsi_kern_register_info::default();
    reg.set_version(mem.map(version.as_bytes()));

    match ctlfd.ioctl_struct_with_mem(abi::REGISTER_USERD, &mut reg, &mem) {
        Err(e) => {
            log::error!(
                "Unable to register: {}. Incompatible version of the kernel module?",
                e.desc()
            );
            ctlfd.close();
            Err(e)
        }
        Ok(_) => {
            log::debug!(
                "max_data_seg_len {}, max_queued_cmds {}",
                reg.max_data_seg_len(),
                reg.max_queued_cmds()
            );
            d.iscsi_init_params.max_data_seg_len = reg.max_data_seg_len();
            d.iscsi_init_params.max_queued_cmds = reg.max_queued_cmds();
            Ok(ctlfd)
        }
    }
}

/// An attribute of the `ADD_TARGET` array.
fn kern_attr(mode: u32, name: &str) -> iscsi_kern_attr {
    let mut a = iscsi_kern_attr {
        mode,
        ..Default::default()
    };
    set_cstr(&mut a.name, name.as_bytes());
    a
}

/// C: ctldev.c kernel_target_create(): `ADD_TARGET` for `target`, asking for id `tid` (0: the
/// driver chooses). Returns the tid the driver assigned, also stored in `target.tid`.
///
/// As C does in both builds, the target's sysfs attributes are passed along (`attrs_num`,
/// `attrs_ptr`): `per_portal_acl`, `redirect`, the session and target keys shown in sysfs, the
/// accounts and the allowed portals. A procfs driver ignores them.
pub fn kernel_target_create(
    d: &Daemon,
    target: &mut Target,
    tid: u32,
    cookie: u32,
) -> Result<u32, Errno> {
    let mut info = iscsi_kern_target_info {
        tid,
        cookie,
        ..Default::default()
    };
    set_cstr(&mut info.name, target.name.as_bytes());

    let mut kern_attrs = vec![
        kern_attr(0o644, ISCSI_PER_PORTAL_ACL_ATTR_NAME),
        kern_attr(0o644, ISCSI_TARGET_REDIRECTION_ATTR_NAME),
    ];
    kern_attrs.extend(
        d.session_keys
            .iter()
            .chain(d.target_keys.iter())
            .filter(|k| k.show_in_sysfs)
            .map(|k| kern_attr(0o644, k.name)),
    );
    kern_attrs.extend(
        target
            .target_in_accounts
            .iter()
            .chain(&target.target_out_accounts)
            .chain(&target.allowed_portals)
            .map(|a| kern_attr(a.sysfs_mode, &a.sysfs_name)),
    );
    info.attrs_num = u32::try_from(kern_attrs.len()).map_err(|_| Errno::ENOMEM)?;

    let mut mem = UserMemory::new();
    info.attrs_ptr = mem.map(kern_attrs.as_slice().as_bytes());

    log::debug!(
        "Adding target {} (attrs_num {})",
        target.name,
        info.attrs_num
    );

    match ctrl(d)?.ioctl_struct_with_mem(abi::ADD_TARGET, &mut info, &mem) {
        Err(e) => {
            log::error!("Can't create target {}: {}", target.name, e.desc());
            Err(e)
        }
        Ok(res) => {
            let tid = res.cast_unsigned();
            target.tid = tid;
            Ok(tid)
        }
    }
}

/// C: ctldev.c kernel_target_destroy(): `DEL_TARGET` for target `tid`.
pub fn kernel_target_destroy(d: &Daemon, tid: u32, cookie: u32) -> Result<(), Errno> {
    let mut info = iscsi_kern_target_info {
        tid,
        cookie,
        ..Default::default()
    };

    ctrl(d)?
        .ioctl_struct(abi::DEL_TARGET, &mut info)
        .map(drop)
        .inspect_err(|e| log::error!("Can't destroy target {} {tid}", e.desc()))
}

/// C: ctldev.c kernel_initiator_allowed(): `ISCSI_INITIATOR_ALLOWED`: whether the initiator
/// known to the driver's ACLs as `full_initiator_name` has LUNs on target `tid`.
pub fn kernel_initiator_allowed(
    d: &Daemon,
    tid: u32,
    full_initiator_name: &str,
) -> Result<bool, Errno> {
    let mut info = iscsi_kern_initiator_info {
        tid,
        ..Default::default()
    };
    set_cstr(
        &mut info.full_initiator_name,
        full_initiator_name.as_bytes(),
    );

    ctrl(d)?
        .ioctl_struct(abi::ISCSI_INITIATOR_ALLOWED, &mut info)
        .map(|res| res != 0)
        .inspect_err(|e| {
            log::error!(
                "Can't find out initiator {full_initiator_name} permissions ({}, tid {tid}",
                e.desc()
            );
        })
}

/// C: ctldev.c kernel_conn_destroy(): `DEL_CONN` for connection `cid` of session `sid`.
///
/// C leaves the other fields of the struct uninitialised; here they are zero.
pub fn kernel_conn_destroy(d: &Daemon, tid: u32, sid: u64, cid: u32) -> Result<(), Errno> {
    let mut info = iscsi_kern_conn_info {
        tid,
        sid,
        cid,
        ..Default::default()
    };

    ctrl(d)?
        .ioctl_struct(abi::DEL_CONN, &mut info)
        .map(drop)
        .inspect_err(|e| {
            log::debug!(
                "Can't destroy conn ({}, tid {tid}, sid {sid:#x}, cid {cid}",
                e.desc()
            );
        })
}

/// C: ctldev.c kernel_params_get(): `ISCSI_PARAM_GET`: the session (`type` = `key_session`)
/// or target (`key_target`) parameters of the live session `sid`, into `params[..].val`.
///
/// `sid` 0 is `EINVAL`. As in C, `params` is overwritten even when the ioctl fails (then with
/// the zeroes it was sent with).
pub fn kernel_params_get(
    d: &Daemon,
    tid: u32,
    sid: u64,
    r#type: u32,
    params: &mut [IscsiParam],
) -> Result<(), Errno> {
    if sid == 0 {
        log::error!("kernel_params_get(): sid must be not 0");
        return Err(Errno::EINVAL);
    }

    let mut info = iscsi_kern_params_info {
        tid,
        sid,
        params_type: r#type,
        ..Default::default()
    };

    let res = ctrl(d)?
        .ioctl_struct(abi::ISCSI_PARAM_GET, &mut info)
        .map(drop);
    if let Err(e) = res {
        log::debug!(
            "Can't get session params for session {sid:#x} (tid {tid}, err {}): {}",
            kemu::errno_neg(e),
            e.desc()
        );
    }

    let src: &[i32] = if r#type == key_session {
        &info.session_params[..session_key_last]
    } else {
        &info.target_params[..target_key_last]
    };
    for (p, v) in params.iter_mut().zip(src) {
        p.val = v.cast_unsigned();
    }

    res
}

/// C: ctldev.c kernel_params_set(): `ISCSI_PARAM_SET`: changes the session or target
/// parameters of the live session `sid`; `partial` is the bit mask of the parameters to
/// change (0: all). `sid` 0 is `EINVAL`.
pub fn kernel_params_set(
    d: &Daemon,
    tid: u32,
    sid: u64,
    r#type: u32,
    partial: u32,
    params: &[IscsiParam],
) -> Result<(), Errno> {
    if sid == 0 {
        log::error!("kernel_params_set(): sid must be not 0");
        return Err(Errno::EINVAL);
    }

    let mut info = iscsi_kern_params_info {
        tid,
        sid,
        params_type: r#type,
        partial,
        ..Default::default()
    };

    let dst: &mut [i32] = if info.params_type == key_session {
        &mut info.session_params[..]
    } else {
        &mut info.target_params[..]
    };
    for (v, p) in dst.iter_mut().zip(params) {
        *v = s32(p.val);
    }

    ctrl(d)?
        .ioctl_struct(abi::ISCSI_PARAM_SET, &mut info)
        .map(drop)
        .inspect_err(|e| {
            log::error!(
                "Can't set session params for session {sid:#x} (tid {tid}, type {}, partial {partial}, err {}): {}",
                r#type,
                kemu::errno_neg(*e),
                e.desc()
            );
        })
}

/// C: ctldev.c kernel_session_create(): `ADD_SESSION` for the session of connection `conn`
/// (its `sess`), with the parameters negotiated on the connection and the target's values.
///
/// `EINVAL` when the connection's target is unknown (and, where C would dereference NULL,
/// when the handle or the connection's session is unknown).
pub fn kernel_session_create(d: &Daemon, conn: ConnHandle) -> Result<(), Errno> {
    let c = d.conn(conn).ok_or(Errno::EINVAL)?;

    let Some(target) = target_find_by_id(d, c.tid) else {
        log::error!("Target {} not found", c.tid);
        return Err(Errno::EINVAL);
    };
    let sess = c
        .sess
        .and_then(|sid| target.sessions_list.iter().find(|s| s.sid.id64() == sid))
        .ok_or(Errno::EINVAL)?;

    let mut info = Box::new(iscsi_kern_session_info {
        tid: c.tid,
        sid: sess.sid.id64(),
        exp_cmd_sn: c.exp_cmd_sn,
        ..Default::default()
    });
    set_cstr(&mut info.initiator_name, sess.initiator.as_bytes());

    // procfs build: the CHAP user name goes along (empty without one).
    set_cstr(
        &mut info.user_name,
        c.user.as_deref().unwrap_or_default().as_bytes(),
    );

    let full = iscsi_make_full_initiator_name(
        target.per_portal_acl,
        &sess.initiator,
        c.target_portal.as_deref().unwrap_or_default(),
    );
    set_cstr(&mut info.full_initiator_name, full.as_bytes());

    for (v, p) in info.session_params.iter_mut().zip(&c.session_params) {
        *v = s32(p.val);
    }
    for (v, p) in info.target_params.iter_mut().zip(&target.target_params) {
        *v = s32(*p);
    }

    ctrl(d)?
        .ioctl_struct(abi::ADD_SESSION, &mut *info)
        .map(drop)
        .inspect_err(|e| {
            log::error!(
                "Can't create sess {:#x} (tid {}, initiator {}): {}",
                sess.sid.id64(),
                c.tid,
                sess.initiator,
                e.desc()
            );
        })
}

/// C: ctldev.c kernel_session_destroy(): `DEL_SESSION` for session `sid` of target `tid`.
pub fn kernel_session_destroy(d: &Daemon, tid: u32, sid: u64) -> Result<(), Errno> {
    let mut info = Box::new(iscsi_kern_session_info {
        tid,
        sid,
        ..Default::default()
    });

    ctrl(d)?
        .ioctl_struct(abi::DEL_SESSION, &mut *info)
        .map(drop)
        .inspect_err(|e| {
            log::debug!("Can't destroy sess {sid:#x} (tid {tid}): {}", e.desc());
        })
}

/// C: ctldev.c kernel_conn_create(): `ADD_CONN`: hands the socket `fd` of connection `cid`
/// to the driver, which adds it to session `sid` and continues from `stat_sn` /
/// `exp_stat_sn`.
pub fn kernel_conn_create(
    d: &Daemon,
    tid: u32,
    sid: u64,
    cid: u32,
    stat_sn: u32,
    exp_stat_sn: u32,
    fd: i32,
) -> Result<(), Errno> {
    let mut info = iscsi_kern_conn_info {
        tid,
        sid,
        cid,
        stat_sn,
        exp_stat_sn,
        fd,
        ..Default::default()
    };

    ctrl(d)?
        .ioctl_struct(abi::ADD_CONN, &mut info)
        .map(drop)
        .inspect_err(|e| {
            log::error!(
                "Can't create conn {cid:x} (sess {sid:#x}, tid {tid}): {}",
                e.desc()
            );
        })
}

/// A fake `iscsi-scst-ctl` driver for the tests of this crate: it records every ioctl it
/// receives and answers like the driver, with a few scripted refusals.
#[cfg(test)]
pub(crate) mod fake {
    use super::*;
    use iscsi_scst::abi::*;
    use kemu::chrdev::{register_chrdev, unregister_chrdev, FileOperations, IoctlArg};
    use std::sync::{Arc, Mutex};

    /// One ioctl as the fake driver received it.
    #[derive(Clone, Debug)]
    pub(crate) enum Call {
        Register {
            version: String,
        },
        AddTarget {
            info: iscsi_kern_target_info,
            attrs: Vec<iscsi_kern_attr>,
        },
        DelTarget(iscsi_kern_target_info),
        AddSession(Box<iscsi_kern_session_info>),
        DelSession(Box<iscsi_kern_session_info>),
        AddConn(iscsi_kern_conn_info),
        DelConn(iscsi_kern_conn_info),
        ParamSet(iscsi_kern_params_info),
        ParamGet(iscsi_kern_params_info),
        InitiatorAllowed(iscsi_kern_initiator_info),
    }

    /// The fake driver. Scripted answers: `ADD_TARGET` of a name containing `refuse` is
    /// `ENOSPC`; `DEL_TARGET` of tid 5 succeeds (a leftover), of tid 7 is `EBUSY`, of a tid it
    /// did not add `ENOENT`; `ADD_SESSION` of an initiator containing `refuse` is `EEXIST`;
    /// `ADD_CONN` with a negative fd is `EBADF`; `ISCSI_INITIATOR_ALLOWED` says no for names
    /// containing `deny`; `ISCSI_PARAM_GET` answers 100 + i / 200 + i.
    #[derive(Default)]
    pub(crate) struct FakeCtl {
        pub(crate) calls: Mutex<Vec<Call>>,
        pub(crate) tids: Mutex<Vec<u32>>,
        /// `REGISTER_USERD` fails with `EINVAL` when set.
        pub(crate) bad_version: bool,
    }

    impl FakeCtl {
        fn record(&self, c: Call) {
            self.calls.lock().unwrap().push(c);
        }

        /// The calls received so far, then forgets them.
        pub(crate) fn take(&self) -> Vec<Call> {
            std::mem::take(&mut *self.calls.lock().unwrap())
        }
    }

    fn name_of(field: &[u8]) -> String {
        String::from_utf8_lossy(cstr(field)).into_owned()
    }

    impl FileOperations for FakeCtl {
        fn unlocked_ioctl(&self, cmd: u32, arg: &mut IoctlArg<'_>) -> Result<i32, Errno> {
            match cmd {
                REGISTER_USERD => {
                    let mut reg: iscsi_kern_register_info = arg.copy_from_user()?;
                    let v = arg.strncpy_from_user(reg.version(), 256)?;
                    let version = String::from_utf8(v).unwrap();
                    let ok = version == ISCSI_SCST_INTERFACE_VERSION && !self.bad_version;
                    self.record(Call::Register { version });
                    if !ok {
                        return Err(Errno::EINVAL);
                    }
                    reg.set_max_data_seg_len(1 << 20);
                    reg.set_max_queued_cmds(2048);
                    arg.copy_to_user(&reg)?;
                    Ok(0)
                }
                ADD_TARGET => {
                    let info: iscsi_kern_target_info = arg.copy_from_user()?;
                    let mut attrs = Vec::new();
                    for i in 0..u64::from(info.attrs_num) {
                        let addr = info.attrs_ptr + i * size_of::<iscsi_kern_attr>() as u64;
                        attrs.push(arg.copy_from_user_ptr::<iscsi_kern_attr>(addr)?);
                    }
                    self.record(Call::AddTarget { info, attrs });
                    if name_of(&info.name).contains("refuse") {
                        return Err(Errno::ENOSPC);
                    }
                    let mut tids = self.tids.lock().unwrap();
                    let tid = if info.tid != 0 {
                        info.tid
                    } else {
                        tids.iter().max().map_or(1, |m| m + 1)
                    };
                    tids.push(tid);
                    Ok(i32::try_from(tid).unwrap())
                }
                DEL_TARGET => {
                    let info: iscsi_kern_target_info = arg.copy_from_user()?;
                    self.record(Call::DelTarget(info));
                    let mut tids = self.tids.lock().unwrap();
                    match info.tid {
                        5 => Ok(0),
                        7 => Err(Errno::EBUSY),
                        tid => match tids.iter().position(|&t| t == tid) {
                            Some(p) => {
                                tids.remove(p);
                                Ok(0)
                            }
                            None => Err(Errno::ENOENT),
                        },
                    }
                }
                ADD_SESSION => {
                    let info: iscsi_kern_session_info = arg.copy_from_user()?;
                    let refuse = name_of(&info.initiator_name).contains("refuse");
                    self.record(Call::AddSession(Box::new(info)));
                    if refuse {
                        Err(Errno::EEXIST)
                    } else {
                        Ok(0)
                    }
                }
                DEL_SESSION => {
                    let info: iscsi_kern_session_info = arg.copy_from_user()?;
                    self.record(Call::DelSession(Box::new(info)));
                    Ok(0)
                }
                ADD_CONN => {
                    let info: iscsi_kern_conn_info = arg.copy_from_user()?;
                    self.record(Call::AddConn(info));
                    if info.fd < 0 {
                        Err(Errno::EBADF)
                    } else {
                        Ok(0)
                    }
                }
                DEL_CONN => {
                    let info: iscsi_kern_conn_info = arg.copy_from_user()?;
                    self.record(Call::DelConn(info));
                    Ok(0)
                }
                ISCSI_PARAM_SET => {
                    let info: iscsi_kern_params_info = arg.copy_from_user()?;
                    self.record(Call::ParamSet(info));
                    Ok(0)
                }
                ISCSI_PARAM_GET => {
                    let mut info: iscsi_kern_params_info = arg.copy_from_user()?;
                    self.record(Call::ParamGet(info));
                    for (i, v) in info.session_params.iter_mut().enumerate() {
                        *v = 100 + i32::try_from(i).unwrap();
                    }
                    for (i, v) in info.target_params.iter_mut().enumerate() {
                        *v = 200 + i32::try_from(i).unwrap();
                    }
                    arg.copy_to_user(&info)?;
                    Ok(0)
                }
                ISCSI_INITIATOR_ALLOWED => {
                    let info: iscsi_kern_initiator_info = arg.copy_from_user()?;
                    self.record(Call::InitiatorAllowed(info));
                    Ok(i32::from(
                        !name_of(&info.full_initiator_name).contains("deny"),
                    ))
                }
                _ => Err(Errno::ENOTTY),
            }
        }
    }

    /// Registers `fake` as character device `name` (unique per test) and returns its major;
    /// the registration is dropped with the returned guard.
    pub(crate) struct Registered {
        major: u32,
        name: String,
    }

    impl Drop for Registered {
        fn drop(&mut self) {
            unregister_chrdev(self.major, &self.name);
        }
    }

    pub(crate) fn register(name: &str, fake: Arc<FakeCtl>) -> Registered {
        let major = register_chrdev(0, name, fake).unwrap();
        Registered {
            major,
            name: name.to_owned(),
        }
    }

    /// A daemon whose control device is a fresh [`FakeCtl`] registered as `name`, opened and
    /// registered with `kernel_open`'s code; the registration call is already forgotten.
    pub(crate) fn daemon_with_fake(name: &str) -> (Daemon, Arc<FakeCtl>) {
        let fake = Arc::new(FakeCtl::default());
        let reg = register(name, fake.clone());
        let mut d = Daemon::new();
        let file = kernel_open_dev(&mut d, name).unwrap();
        d.ctrl_fd = Some(file);
        // The open file keeps working after the name is unregistered.
        drop(reg);
        fake.take();
        (d, fake)
    }
}

#[cfg(test)]
mod tests {
    use super::fake::{daemon_with_fake, register, Call, FakeCtl};
    use super::*;
    use crate::iscsi_hdr::IscsiSid;
    use crate::iscsid::{Connection, IscsiAttr, Session};
    use crate::target::{target_add, target_create};
    use iscsi_scst::abi::{cstr, key_max_sessions, key_target};
    use std::sync::Arc;

    #[test]
    fn kernel_open_registers_interface_version() {
        let fake = Arc::new(FakeCtl::default());
        let _reg = register("ctl-open-ok", fake.clone());
        let mut d = Daemon::new();
        let file = kernel_open_dev(&mut d, "ctl-open-ok").unwrap();
        assert_eq!(driver_major("ctl-open-ok"), Ok(file.major()));
        match fake.take().as_slice() {
            [Call::Register { version }] => assert_eq!(version, ISCSI_SCST_INTERFACE_VERSION),
            other => panic!("{other:?}"),
        }
        assert_eq!(d.iscsi_init_params.max_data_seg_len, 1 << 20);
        assert_eq!(d.iscsi_init_params.max_queued_cmds, 2048);
    }

    #[test]
    fn kernel_open_failures() {
        let mut d = Daemon::new();
        assert_eq!(
            kernel_open_dev(&mut d, "ctl-not-registered").unwrap_err(),
            Errno::ENOENT
        );

        let fake = Arc::new(FakeCtl {
            bad_version: true,
            ..FakeCtl::default()
        });
        let _reg = register("ctl-open-badver", fake.clone());
        assert_eq!(
            kernel_open_dev(&mut d, "ctl-open-badver").unwrap_err(),
            Errno::EINVAL
        );
        assert_eq!(d.iscsi_init_params.max_data_seg_len, 0);
    }

    #[test]
    fn wrappers_without_device_are_ebadf() {
        let d = Daemon::new();
        assert_eq!(kernel_target_destroy(&d, 1, 0), Err(Errno::EBADF));
        assert_eq!(kernel_conn_create(&d, 1, 2, 3, 4, 5, 6), Err(Errno::EBADF));
        assert_eq!(kernel_initiator_allowed(&d, 1, "x"), Err(Errno::EBADF));
    }

    #[test]
    fn add_target_passes_name_and_attributes() {
        let (mut d, fake) = daemon_with_fake("ctl-add-target");
        let mut t = target_create(&d, "iqn.2026-01.test:t1");
        t.target_in_accounts.push(IscsiAttr {
            attr_key: "joe".into(),
            attr_value: Some("secretsecret".into()),
            sysfs_mode: 0o600,
            sysfs_name: "IncomingUser".into(),
        });
        assert_eq!(kernel_target_create(&d, &mut t, 0, 0), Ok(1));
        assert_eq!(t.tid, 1);
        let calls = fake.take();
        let Call::AddTarget { info, attrs } = &calls[0] else {
            panic!("{calls:?}")
        };
        assert_eq!(cstr(&info.name), b"iqn.2026-01.test:t1");
        assert_eq!(info.tid, 0);
        // per_portal_acl, redirect, 10 session keys and 5 target keys shown in sysfs, 1 user.
        assert_eq!(info.attrs_num, 18);
        let names: Vec<_> = attrs.iter().map(|a| cstr(&a.name).to_vec()).collect();
        assert_eq!(names[0], b"per_portal_acl");
        assert_eq!(names[1], b"redirect");
        assert_eq!(names[2], b"InitialR2T");
        assert_eq!(names[16], b"MaxSessions");
        assert_eq!(names[17], b"IncomingUser");
        assert_eq!(attrs[17].mode, 0o600);
        assert!(attrs[..17].iter().all(|a| a.mode == 0o644));

        // Through target_add, a second target gets the next tid.
        let t2 = target_create(&d, "iqn.2026-01.test:t2");
        assert_eq!(target_add(&mut d, t2, 0, 0), Ok(2));
    }

    #[test]
    fn session_conn_and_param_ioctls() {
        let (mut d, fake) = daemon_with_fake("ctl-session");
        let t = target_create(&d, "iqn.t");
        let tid = target_add(&mut d, t, 0, 0).unwrap();
        d.targets_list[0].target_params[key_max_sessions] = 4;
        d.targets_list[0].per_portal_acl = true;
        let sid = IscsiSid {
            isid: [0x80, 1, 2, 3, 4, 5],
            tsih: 7.into(),
        };
        d.targets_list[0].sessions_list.push(Session {
            initiator: "iqn.ini".into(),
            target: tid,
            sid,
            conn_list: Vec::new(),
        });
        let mut c = Connection {
            tid,
            sess: Some(sid.id64()),
            exp_cmd_sn: 42,
            user: Some("joe".into()),
            target_portal: Some("10.0.0.1".into()),
            ..Connection::default()
        };
        for (i, p) in c.session_params.iter_mut().enumerate() {
            p.val = u32::try_from(i).unwrap() + 1;
        }
        let h = d.conn_insert(c);
        fake.take();

        kernel_session_create(&d, h).unwrap();
        kernel_conn_create(&d, tid, sid.id64(), 3, 10, 11, 77).unwrap();
        assert_eq!(
            kernel_conn_create(&d, tid, sid.id64(), 3, 10, 11, -1),
            Err(Errno::EBADF)
        );
        kernel_conn_destroy(&d, tid, sid.id64(), 3).unwrap();
        kernel_session_destroy(&d, tid, sid.id64()).unwrap();
        let calls = fake.take();

        let Call::AddSession(s) = &calls[0] else {
            panic!("{calls:?}")
        };
        assert_eq!(s.tid, tid);
        assert_eq!(s.sid, sid.id64());
        assert_eq!(s.exp_cmd_sn, 42);
        assert_eq!(cstr(&s.initiator_name), b"iqn.ini");
        assert_eq!(cstr(&s.user_name), b"joe");
        assert_eq!(cstr(&s.full_initiator_name), b"iqn.ini#10.0.0.1");
        assert_eq!(s.session_params[0], 1);
        assert_eq!(s.session_params[25], 26);
        assert_eq!(s.target_params, [32, 90, 30, 30, 4]);

        let Call::AddConn(ci) = &calls[1] else {
            panic!("{calls:?}")
        };
        assert_eq!(
            (ci.tid, ci.sid, ci.cid, ci.stat_sn, ci.exp_stat_sn, ci.fd),
            (tid, sid.id64(), 3, 10, 11, 77)
        );
        assert!(matches!(&calls[3], Call::DelConn(ci) if ci.cid == 3 && ci.fd == 0));
        assert!(matches!(&calls[4], Call::DelSession(s) if s.sid == sid.id64()));

        // A connection without a session: C would crash; here EINVAL and no ioctl.
        let h2 = d.conn_insert(Connection {
            tid,
            ..Connection::default()
        });
        assert_eq!(kernel_session_create(&d, h2), Err(Errno::EINVAL));
        assert!(fake.take().is_empty());
    }

    #[test]
    fn params_set_and_get() {
        let (d, fake) = daemon_with_fake("ctl-params");
        let mut params = [IscsiParam::default(); session_key_last];
        for (i, p) in params.iter_mut().enumerate() {
            p.val = u32::try_from(i).unwrap() * 3;
        }
        params[0].val = u32::MAX;
        kernel_params_set(&d, 1, 0x99, key_session, 0x5, &params).unwrap();
        let mut tparams = [IscsiParam::default(); target_key_last];
        tparams[key_max_sessions].val = 9;
        kernel_params_set(&d, 1, 0x99, key_target, 0, &tparams).unwrap();
        assert_eq!(
            kernel_params_set(&d, 1, 0, key_target, 0, &tparams),
            Err(Errno::EINVAL)
        );

        kernel_params_get(&d, 1, 0x99, key_session, &mut params).unwrap();
        assert_eq!(params[0].val, 100);
        assert_eq!(params[25].val, 125);
        kernel_params_get(&d, 1, 0x99, key_target, &mut tparams).unwrap();
        assert_eq!(tparams[4].val, 204);

        let calls = fake.take();
        let Call::ParamSet(s) = &calls[0] else {
            panic!("{calls:?}")
        };
        assert_eq!((s.tid, s.sid, s.params_type, s.partial), (1, 0x99, 0, 5));
        assert_eq!(s.session_params[0], -1);
        assert_eq!(s.session_params[25], 75);
        assert_eq!(s.target_params, [0; 5]);
        let Call::ParamSet(t) = &calls[1] else {
            panic!("{calls:?}")
        };
        assert_eq!(t.params_type, 1);
        assert_eq!(t.target_params, [0, 0, 0, 0, 9]);
        assert_eq!(t.session_params, [0; 26]);
        assert!(matches!(&calls[2], Call::ParamGet(g) if g.sid == 0x99 && g.params_type == 0));
    }

    #[test]
    fn initiator_allowed() {
        let (d, fake) = daemon_with_fake("ctl-ini-allowed");
        assert_eq!(kernel_initiator_allowed(&d, 3, "iqn.ok#10.0.0.1"), Ok(true));
        assert_eq!(kernel_initiator_allowed(&d, 3, "iqn.deny"), Ok(false));
        let calls = fake.take();
        assert!(matches!(&calls[0], Call::InitiatorAllowed(i)
            if i.tid == 3 && cstr(&i.full_initiator_name) == b"iqn.ok#10.0.0.1"));
    }
}
