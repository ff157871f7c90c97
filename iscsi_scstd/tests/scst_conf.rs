// SPDX-License-Identifier: GPL-2.0-only
//! `iscsi-scstd --scst-conf FILE` end to end: the real binary, started with
//! `-f -p 0 --state-dir <tmp> --scst-conf <file>`, serves exactly the LUNs of the file's
//! `[ASSIGNMENT Default]` with the sizes of their backing files (checked with the raw test
//! initiator `scst_tests::initiator`); a bad file makes it exit with status 2 and a
//! `FILE:LINE:` message before it listens. The server is stopped by PID with SIGTERM and must
//! exit with status 0.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use scst_tests::initiator::{
    decode_lun, parse_read_capacity16, parse_report_luns, Connection, LoginParams,
};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_iscsi-scstd");
const TARGET: &str = "iqn.2026-11.org.scst-rs:default";
const INITIATOR: &str = "iqn.2026-11.org.scst-rs.test:scst-conf";
/// For the server to print its address, to exit, and for each step on the wire.
const TIMEOUT: Duration = Duration::from_secs(30);
const STEP: Duration = Duration::from_secs(5);

/// A fresh, empty directory for one test.
fn fresh_dir(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("scst-conf-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A sparse file of `size` bytes.
fn sparse(path: &Path, size: u64) {
    std::fs::File::create(path).unwrap().set_len(size).unwrap();
}

/// The server: the child and its address.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(dir: &Path, conf: &Path) -> Server {
        let mut child = Command::new(BINARY)
            .args(["-f", "-p", "0", "--state-dir"])
            .arg(dir.join("state"))
            .arg("--scst-conf")
            .arg(conf)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("stderr")).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(a) = line.strip_prefix("iscsi-scstd: listening on ") {
                    let _ = tx.send(a.parse::<SocketAddr>().ok());
                }
            }
        });
        match rx.recv_timeout(TIMEOUT) {
            Ok(Some(addr)) => Server { child, addr },
            other => {
                let _ = child.kill();
                let _ = child.wait();
                let stderr = std::fs::read_to_string(dir.join("stderr")).unwrap_or_default();
                panic!("no listening address ({other:?}); stderr:\n{stderr}");
            }
        }
    }

    /// SIGTERM by PID, then wait (bounded) for the exit.
    fn stop(mut self) -> ExitStatus {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("iscsi-scstd did not exit after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn serves_the_luns_of_the_file() {
    let dir = fresh_dir("good");
    let (a, b) = (dir.join("a.img"), dir.join("b.img"));
    let (a_size, b_size) = (64u64 << 20, 3u64 << 20);
    sparse(&a, a_size);
    sparse(&b, b_size);
    let conf = dir.join("scst.conf");
    std::fs::write(
        &conf,
        format!(
            "# test\n[HANDLER vdisk]\nDEVICE disk_a,{},,512\nDEVICE disk_b,{},,4096\n\
             DEVICE null1,/dev/zero,NULLIO\n\n[ASSIGNMENT Default]\nDEVICE disk_a,0\n\
             DEVICE disk_b,1\nDEVICE null1,2\n",
            a.display(),
            b.display()
        ),
    )
    .unwrap();

    let server = Server::start(&dir, &conf);
    let mut c = Connection::connect(server.addr, STEP).unwrap();
    c.login(&LoginParams::normal(INITIATOR, TARGET))
        .unwrap()
        .into_success()
        .unwrap();

    let rl = c.report_luns(4096).unwrap().into_good().unwrap();
    let luns: BTreeSet<u16> = parse_report_luns(&rl.data)
        .into_iter()
        .map(|l| decode_lun(l).unwrap())
        .collect();
    assert_eq!(luns, BTreeSet::from([0, 1, 2]));

    // (LUN, bytes, block size); NULLIO: VDISK_NULLIO_SIZE (2.5 TiB) at 512.
    for (lun, bytes, bs) in [
        (0u16, a_size, 512u32),
        (1, b_size, 4096),
        (2, 5u64 * (1 << 40) / 2, 512),
    ] {
        // The first command of a LUN may meet a unit attention; retry it once.
        let mut r = c.read_capacity16(lun).unwrap();
        if !r.is_good() {
            r = c.read_capacity16(lun).unwrap();
        }
        let r = r.into_good().unwrap();
        let (last_lba, block) = parse_read_capacity16(&r.data).unwrap();
        assert_eq!(block, bs, "LUN {lun}");
        assert_eq!((last_lba + 1) * u64::from(block), bytes, "LUN {lun}");
    }
    let _ = c.logout();
    drop(c);

    let st = server.stop();
    assert_eq!(st.code(), Some(0), "{st:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs the binary with `conf` and expects exit status 2, `want` on stderr and no
/// `listening on` line.
fn expect_exit_2(dir: &Path, conf: &Path, want: &str) {
    let mut child = Command::new(BINARY)
        .args(["-f", "-p", "0", "--state-dir"])
        .arg(dir.join("state"))
        .arg("--scst-conf")
        .arg(conf)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + TIMEOUT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("iscsi-scstd did not exit with a bad --scst-conf");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{stderr}");
    assert!(!stdout.contains("listening on"), "stdout:\n{stdout}");
    assert!(
        stderr.lines().any(|l| l.starts_with(want)),
        "want {want:?} in stderr:\n{stderr}"
    );
}

#[test]
fn bad_file_exits_2() {
    let dir = fresh_dir("bad");
    let a = dir.join("a.img");
    sparse(&a, 1 << 20);
    let conf = dir.join("scst.conf");
    // A parse error on line 4: nothing is applied, the daemon never starts.
    std::fs::write(
        &conf,
        format!(
            "[HANDLER vdisk]\nDEVICE disk_a,{}\n[ASSIGNMENT Default]\nDEVICE disk_a,99999\n",
            a.display()
        ),
    )
    .unwrap();
    let want = format!("{}:4: bad LUN \"99999\"", conf.display());
    expect_exit_2(&dir, &conf, &want);

    // An error while applying (the backing file is missing) on line 3.
    std::fs::write(
        &conf,
        format!(
            "[HANDLER vdisk]\nDEVICE disk_a,{}\nDEVICE disk_b,{}\n",
            a.display(),
            dir.join("missing.img").display()
        ),
    )
    .unwrap();
    let want = format!("{}:3: vdisk: open disk_b ", conf.display());
    expect_exit_2(&dir, &conf, &want);
    let _ = std::fs::remove_dir_all(&dir);
}
