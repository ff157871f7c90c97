// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2002 - 2003 Ardis Technolgies <roman@ardistech.com>
// Copyright (C) 2007 - 2016 Vladislav Bolkhovitin
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! The daemon's connections: the port of `iscsi-scst/usr/conn.c` — allocation, freeing,
//! handing a logged-in connection to the driver (`ADD_CONN`) and resetting the PDU transfer
//! state.
//!
//! Connections live in [`Daemon::connections`] and are named by [`ConnHandle`]s (see
//! [`crate::iscsid`]); the functions that only touch the connection itself take
//! `&mut Connection`.
#![doc(alias = "conn.c")]

use std::os::fd::RawFd;

use iscsi_scst::abi::session_key_last;

use crate::ctldev::kernel_conn_create;
use crate::iscsid::{
    ConnHandle, Connection, Daemon, Pdu, BHS_SIZE, IOSTATE_FREE, IOSTATE_READ_BHS,
    IOSTATE_WRITE_BHS, STATE_FREE,
};
use crate::param::params_set_defaults;
use crate::target::target_find_by_id_mut;

/// C `ISCSI_CONN_NEW` (`conn.c`; defined there but not used).
pub const ISCSI_CONN_NEW: i32 = 1;
/// C `ISCSI_CONN_EXIT` (`conn.c`; defined there but not used).
pub const ISCSI_CONN_EXIT: i32 = 5;

/// C: conn.c conn_alloc(): a new connection in [`STATE_FREE`] whose session keys start at
/// the local defaults of `d`'s session key table; returns its handle.
pub fn conn_alloc(d: &mut Daemon) -> ConnHandle {
    let mut conn = Connection {
        state: STATE_FREE,
        ..Connection::default()
    };

    let mut session_params = [0u32; session_key_last];
    params_set_defaults(&mut session_params, &d.session_keys);

    for (p, v) in conn.session_params.iter_mut().zip(session_params) {
        p.val = v;
    }

    d.conn_insert(conn)
}

/// C: conn.c conn_free(): takes the connection off its session's `conn_list` (if it is on
/// one) and frees it with its names.
pub fn conn_free(d: &mut Daemon, conn: ConnHandle) {
    let Some(c) = d.connections.remove(&conn) else {
        return;
    };

    if let Some(sid) = c.sess {
        if let Some(target) = target_find_by_id_mut(d, c.tid) {
            for s in target
                .sessions_list
                .iter_mut()
                .filter(|s| s.sid.id64() == sid)
            {
                s.conn_list.retain(|&h| h != conn);
            }
        }
    }
}

/// C: conn.c conn_pass_to_kern(): hands the logged-in connection's socket `fd` to the driver
/// (`ADD_CONN` with the connection's session, cid and sequence numbers) and, if that worked,
/// marks it [`passed_to_kern`](Connection::passed_to_kern). Errors are only logged: the
/// daemon closes its side of the connection either way.
pub fn conn_pass_to_kern(d: &mut Daemon, conn: ConnHandle, fd: RawFd) {
    let Some(c) = d.conn(conn) else {
        return;
    };

    log::debug!(
        "fd {fd}, cid {}, stat_sn {}, exp_stat_sn {} sid {:x}",
        c.cid,
        c.stat_sn,
        c.exp_stat_sn,
        c.sid.id64()
    );

    // C dereferences conn->sess unchecked; a connection without a session is not passed.
    let Some(sid) = c.sess else {
        log::error!("conn_pass_to_kern: connection {:x} has no session", c.cid);
        return;
    };

    let err = kernel_conn_create(
        d,
        c.tid,
        sid,
        u32::from(c.cid),
        c.stat_sn,
        c.exp_stat_sn,
        fd,
    );

    if err.is_ok() {
        if let Some(c) = d.conn_mut(conn) {
            c.passed_to_kern = true;
        }
    }
}

/// C: conn.c conn_read_pdu(): prepares to receive the next request's BHS.
pub fn conn_read_pdu(conn: &mut Connection) {
    conn.iostate = IOSTATE_READ_BHS;
    conn.buffer = 0;
    conn.rwsize = BHS_SIZE;
}

/// C: conn.c conn_write_pdu(): clears the response and prepares to send its BHS.
pub fn conn_write_pdu(conn: &mut Connection) {
    conn.iostate = IOSTATE_WRITE_BHS;
    conn.rsp = Pdu::default();
    conn.buffer = 0;
    conn.rwsize = BHS_SIZE;
}

/// C: conn.c conn_free_rsp_buf_list(): drops the queued text response segments and the
/// response's data.
pub fn conn_free_rsp_buf_list(conn: &mut Connection) {
    conn.rsp_buf_list.clear();

    conn.rsp.datasize = 0;
    conn.rsp.data = Vec::new();
}

/// C: conn.c conn_free_pdu(): ends any PDU transfer and frees the request and response
/// buffers. (C frees the receive buffer through `req.ahs`, which points at it, and leaves
/// `req_buffer` dangling; here both are emptied.)
pub fn conn_free_pdu(conn: &mut Connection) {
    conn.iostate = IOSTATE_FREE;
    conn.req.ahs = Vec::new();
    conn.req_buffer = Vec::new();
    conn.rsp.ahs = Vec::new();
    conn_free_rsp_buf_list(conn);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctldev::fake::{daemon_with_fake, Call};
    use crate::iscsid::BufSegment;
    use crate::session::{conn_find, session_create, session_find_id};
    use crate::target::{target_add, target_create};
    use iscsi_scst::abi::{key_first_burst_length, key_initial_r2t, key_max_recv_data_length};

    #[test]
    fn conn_alloc_uses_current_defaults() {
        let mut d = Daemon::new();
        d.session_keys[key_max_recv_data_length].local_def = 1 << 20;
        let h = conn_alloc(&mut d);
        let c = d.conn(h).unwrap();
        assert_eq!(c.state, STATE_FREE);
        assert_eq!(c.session_params[key_initial_r2t].val, 0);
        assert_eq!(c.session_params[key_max_recv_data_length].val, 1 << 20);
        assert_eq!(c.session_params[key_first_burst_length].val, 65536);
        assert!(c.session_params.iter().all(|p| p.key_state == 0));
        assert_ne!(conn_alloc(&mut d), h);
    }

    #[test]
    fn conn_free_unlinks_from_session() {
        let (mut d, _fake) = daemon_with_fake("conn-free");
        let t = target_create(&d, "iqn.t");
        let tid = target_add(&mut d, t, 0, 0).unwrap();
        let h = conn_alloc(&mut d);
        {
            let c = d.conn_mut(h).unwrap();
            c.tid = tid;
            c.initiator = Some("iqn.i".into());
            c.cid = 5;
        }
        session_create(&mut d, h).unwrap();
        let sid = d.conn(h).unwrap().sess.unwrap();
        let s = session_find_id(&d, tid, sid).unwrap();
        assert_eq!(conn_find(&d, s, 5), Some(h));

        conn_free(&mut d, h);
        assert!(d.conn(h).is_none());
        let s = session_find_id(&d, tid, sid).unwrap();
        assert!(s.conn_list.is_empty());
        // Freeing twice, or a connection on no session, is harmless.
        conn_free(&mut d, h);
        let lone = conn_alloc(&mut d);
        conn_free(&mut d, lone);
        assert!(d.connections.is_empty());
    }

    #[test]
    fn conn_pass_to_kern_sends_add_conn() {
        let (mut d, fake) = daemon_with_fake("conn-pass");
        let t = target_create(&d, "iqn.t");
        let tid = target_add(&mut d, t, 0, 0).unwrap();
        let h = conn_alloc(&mut d);
        {
            let c = d.conn_mut(h).unwrap();
            c.tid = tid;
            c.initiator = Some("iqn.i".into());
            c.cid = 2;
            c.stat_sn = 17;
            c.exp_stat_sn = 18;
        }
        // Without a session nothing is sent.
        conn_pass_to_kern(&mut d, h, 33);
        assert!(!d.conn(h).unwrap().passed_to_kern);

        session_create(&mut d, h).unwrap();
        let sid = d.conn(h).unwrap().sess.unwrap();
        fake.take();
        conn_pass_to_kern(&mut d, h, 33);
        assert!(d.conn(h).unwrap().passed_to_kern);
        let calls = fake.take();
        let [Call::AddConn(i)] = &calls[..] else {
            panic!("{calls:?}")
        };
        assert_eq!(
            (i.tid, i.sid, i.cid, i.stat_sn, i.exp_stat_sn, i.fd),
            (tid, sid, 2, 17, 18, 33)
        );

        // A refused ADD_CONN leaves the flag clear.
        let h2 = conn_alloc(&mut d);
        {
            let c = d.conn_mut(h2).unwrap();
            c.tid = tid;
            c.sess = Some(sid);
        }
        conn_pass_to_kern(&mut d, h2, -1);
        assert!(!d.conn(h2).unwrap().passed_to_kern);
    }

    #[test]
    fn pdu_state_resets() {
        let mut c = Connection::default();
        conn_read_pdu(&mut c);
        assert_eq!((c.iostate, c.buffer, c.rwsize), (IOSTATE_READ_BHS, 0, 48));

        c.rsp.datasize = 5;
        c.rsp.data = vec![1; 5];
        c.rsp.bhs.opcode = 0x23;
        conn_write_pdu(&mut c);
        assert_eq!((c.iostate, c.rwsize), (IOSTATE_WRITE_BHS, 48));
        assert_eq!(c.rsp, Pdu::default());

        c.rsp_buf_list.push(BufSegment {
            len: 3,
            data: vec![0; 8192],
        });
        c.rsp.data = vec![0; 3];
        c.rsp.datasize = 3;
        c.req.ahs = vec![0; 4];
        c.req_buffer = vec![0; 8192];
        c.rsp.ahs = vec![0; 4];
        conn_free_pdu(&mut c);
        assert_eq!(c.iostate, IOSTATE_FREE);
        assert!(c.rsp_buf_list.is_empty());
        assert!(c.req.ahs.is_empty() && c.req_buffer.is_empty() && c.rsp.ahs.is_empty());
        assert_eq!((c.rsp.datasize, c.rsp.data.len()), (0, 0));
    }
}
