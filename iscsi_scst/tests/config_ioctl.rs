// SPDX-License-Identifier: GPL-2.0-only
//! The control device `iscsi-scst-ctl` as the daemon sees it: every ioctl of the procfs build
//! against the loaded driver (SCST core + iscsi-scst in this test process), with the errno C
//! returns for bad arguments. One test, because the modules are process-wide.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

use iscsi_scst::abi::*;
use kemu::chrdev::{chrdev_open, proc_devices, CharDevFile, UserMemory};
use kemu::Errno;

fn ctl_major() -> u32 {
    proc_devices()
        .lines()
        .find_map(|l| {
            let mut it = l.split_whitespace();
            let major = it.next()?.parse().ok()?;
            (it.next()? == "iscsi-scst-ctl").then_some(major)
        })
        .expect("iscsi-scst-ctl registered")
}

fn register(f: &CharDevFile, version: &str) -> Result<iscsi_kern_register_info, Errno> {
    let v = format!("{version}\0");
    let mut mem = UserMemory::new();
    let mut reg = iscsi_kern_register_info::default();
    reg.set_version(mem.map(v.as_bytes()));
    f.ioctl_struct_with_mem(REGISTER_USERD, &mut reg, &mem)?;
    Ok(reg)
}

fn add_target(f: &CharDevFile, tid: u32, name: &str) -> Result<i32, Errno> {
    let mut info = iscsi_kern_target_info {
        tid,
        ..Default::default()
    };
    set_cstr(&mut info.name, name.as_bytes());
    f.ioctl_struct(ADD_TARGET, &mut info)
}

fn session_info(tid: u32, sid: u64, initiator: &str) -> iscsi_kern_session_info {
    let mut s = iscsi_kern_session_info {
        tid,
        sid,
        exp_cmd_sn: 1,
        ..Default::default()
    };
    set_cstr(&mut s.initiator_name, initiator.as_bytes());
    set_cstr(&mut s.full_initiator_name, initiator.as_bytes());
    s.session_params[key_max_connections] = 1;
    s.session_params[key_max_recv_data_length] = 8192;
    s.session_params[key_max_xmit_data_length] = 8192;
    s.session_params[key_max_burst_length] = 262_144;
    s.session_params[key_first_burst_length] = 65_536;
    s.session_params[key_max_outstanding_r2t] = 1;
    s.session_params[key_header_digest] = DIGEST_NONE;
    s.session_params[key_data_digest] = DIGEST_NONE;
    s.session_params[key_target_recv_data_length] = 8192;
    s.session_params[key_initiator_recv_data_length] = 8192;
    s.target_params[key_queued_cmnds] = 32;
    s.target_params[key_rsp_timeout] = 90;
    s.target_params[key_nop_in_interval] = 0;
    s.target_params[key_nop_in_timeout] = 30;
    s
}

#[test]
fn control_device_ioctls_and_their_errors() {
    scst_core::scst_main::init_scst().unwrap();
    iscsi_scst::iscsi::iscsi_init().unwrap();
    assert_eq!(iscsi_scst::iscsi::iscsi_init().err(), Some(Errno::EBUSY));

    let major = ctl_major();
    let f = chrdev_open(major).unwrap();
    // One opener at a time (C open(): -EBUSY).
    assert_eq!(chrdev_open(major).err(), Some(Errno::EBUSY));

    // REGISTER_USERD: the interface version must match; the answer is the driver's limits.
    assert_eq!(register(&f, "0.0.0_bogus").err(), Some(Errno::EINVAL));
    let reg = register(&f, ISCSI_SCST_INTERFACE_VERSION).unwrap();
    assert_eq!(reg.max_data_seg_len(), 1 << 20, "256 iovecs of 4 KiB pages");
    assert_eq!(reg.max_queued_cmds(), MAX_NR_QUEUED_CMNDS);

    // An unknown command, and a too short argument.
    assert_eq!(f.ioctl(0x1234_5678, &mut []).err(), Some(Errno::EINVAL));
    assert_eq!(
        f.ioctl(ADD_TARGET, &mut [0u8; 4]).err(),
        Some(Errno::EFAULT)
    );

    // Targets: tid chosen by the driver, duplicates refused, unknown ones not found.
    let tid = add_target(&f, 0, "iqn.2026-11.test:a").unwrap();
    assert!(tid > 0);
    let tid = u32::try_from(tid).unwrap();
    assert_eq!(
        add_target(&f, 0, "iqn.2026-11.test:a").err(),
        Some(Errno::EEXIST)
    );
    assert_eq!(
        add_target(&f, tid, "iqn.2026-11.test:b").err(),
        Some(Errno::EEXIST)
    );
    assert_eq!(add_target(&f, 0, "").err(), Some(Errno::EINVAL));
    let mut del = iscsi_kern_target_info {
        tid: 999,
        ..Default::default()
    };
    assert_eq!(
        f.ioctl_struct(DEL_TARGET, &mut del).err(),
        Some(Errno::ENOENT)
    );

    // No LUNs: the initiator would see nothing (scst_initiator_has_luns() → 0).
    let mut allowed = iscsi_kern_initiator_info {
        tid,
        ..Default::default()
    };
    set_cstr(&mut allowed.full_initiator_name, b"iqn.2026-11.test:init");
    assert_eq!(f.ioctl_struct(ISCSI_INITIATOR_ALLOWED, &mut allowed), Ok(0));
    allowed.tid = 999;
    assert_eq!(
        f.ioctl_struct(ISCSI_INITIATOR_ALLOWED, &mut allowed).err(),
        Some(Errno::ENOENT)
    );

    // Sessions.
    let sid = 0x0000_0123_4567_8001_u64;
    let mut s = session_info(tid, sid, "iqn.2026-11.test:init");
    f.ioctl_struct(ADD_SESSION, &mut s).unwrap();
    assert_eq!(
        f.ioctl_struct(ADD_SESSION, &mut s).err(),
        Some(Errno::EEXIST)
    );
    let mut s_bad = session_info(999, sid, "iqn.2026-11.test:init");
    assert_eq!(
        f.ioctl_struct(ADD_SESSION, &mut s_bad).err(),
        Some(Errno::ENOENT)
    );

    // Parameters: read back what ADD_SESSION set (clamped by the driver's limits).
    let mut p = iscsi_kern_params_info {
        tid,
        sid,
        params_type: key_session,
        ..Default::default()
    };
    f.ioctl_struct(ISCSI_PARAM_GET, &mut p).unwrap();
    assert_eq!(p.session_params[key_max_recv_data_length], 8192);
    assert_eq!(p.session_params[key_max_burst_length], 262_144);
    p.params_type = key_target;
    f.ioctl_struct(ISCSI_PARAM_GET, &mut p).unwrap();
    assert_eq!(p.target_params[key_queued_cmnds], 32);
    assert_eq!(p.target_params[key_rsp_timeout], 90);
    // sid 0 → EINVAL; unknown sid → ENOENT; unknown type → EINVAL.
    p.sid = 0;
    assert_eq!(
        f.ioctl_struct(ISCSI_PARAM_GET, &mut p).err(),
        Some(Errno::EINVAL)
    );
    p.sid = 77;
    assert_eq!(
        f.ioctl_struct(ISCSI_PARAM_GET, &mut p).err(),
        Some(Errno::ENOENT)
    );
    p.sid = sid;
    p.params_type = 9;
    assert_eq!(
        f.ioctl_struct(ISCSI_PARAM_GET, &mut p).err(),
        Some(Errno::EINVAL)
    );
    // A set of target keys is clamped (QueuedCommands 0 → MIN_NR_QUEUED_CMNDS).
    p.params_type = key_target;
    p.target_params[key_queued_cmnds] = 0;
    f.ioctl_struct(ISCSI_PARAM_SET, &mut p).unwrap();
    f.ioctl_struct(ISCSI_PARAM_GET, &mut p).unwrap();
    assert_eq!(p.target_params[key_queued_cmnds], MIN_NR_QUEUED_CMNDS);

    // Connections: a descriptor that is no socket, an unknown session.
    let mut c = iscsi_kern_conn_info {
        tid,
        sid,
        cid: 0,
        fd: 1_000_000,
        ..Default::default()
    };
    assert_eq!(f.ioctl_struct(ADD_CONN, &mut c).err(), Some(Errno::EBADF));
    c.sid = 42;
    assert_eq!(f.ioctl_struct(ADD_CONN, &mut c).err(), Some(Errno::ENOENT));
    assert_eq!(f.ioctl_struct(DEL_CONN, &mut c).err(), Some(Errno::ENOENT));

    // A real socket: the connection is taken over; a second one in the session is refused
    // (MaxConnections 1); session parameters can no longer change; the target is busy.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut peer = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (ours, _) = l.accept().unwrap();
    c.sid = sid;
    c.fd = ours.as_raw_fd();
    c.stat_sn = 5;
    f.ioctl_struct(ADD_CONN, &mut c).unwrap();
    drop(ours); // the driver holds its own reference (C fget)
    let (ours2, _) = {
        let _p2 = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        l.accept().unwrap()
    };
    let mut c2 = c;
    c2.cid = 1;
    c2.fd = ours2.as_raw_fd();
    assert_eq!(f.ioctl_struct(ADD_CONN, &mut c2).err(), Some(Errno::EEXIST));
    p.params_type = key_session;
    assert_eq!(
        f.ioctl_struct(ISCSI_PARAM_SET, &mut p).err(),
        Some(Errno::EBUSY)
    );
    let mut del = iscsi_kern_target_info {
        tid,
        ..Default::default()
    };
    assert_eq!(
        f.ioctl_struct(DEL_TARGET, &mut del).err(),
        Some(Errno::EBUSY)
    );
    assert_eq!(
        f.ioctl_struct(DEL_SESSION, &mut s).err(),
        Some(Errno::EBUSY)
    );

    // DEL_CONN closes it: the peer sees the connection end.
    f.ioctl_struct(DEL_CONN, &mut c).unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(peer.read(&mut buf).unwrap(), 0, "EOF after DEL_CONN");

    // Closing the control device deletes every target (C release() → target_del_all()).
    f.close();
    assert_eq!(iscsi_scst::target::nr_targets(), 0);

    iscsi_scst::iscsi::iscsi_exit();
    scst_core::scst_main::exit_scst();
}
