// SPDX-License-Identifier: GPL-2.0-only
//! Starting the real `iscsi-scstd` binary for a test: in the foreground, on a port the kernel
//! picks (`-p 0`), with a fresh state directory; the listen address is read from the
//! `iscsi-scstd: listening on ADDR` line it prints. The process is stopped by its PID with
//! SIGTERM (as an operator would), and must then exit with status 0.

use std::fmt;
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// How long the server may take to print its listen address, and to exit after SIGTERM.
pub const SERVER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long building the binary may take when it is missing.
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);
/// The binary's name.
pub const BINARY: &str = "iscsi-scstd";
/// Set this to use another binary than the one next to the test executable.
pub const BINARY_ENV: &str = "ISCSI_SCSTD_BIN";

/// Something that went wrong starting or stopping the server.
#[derive(Debug)]
pub enum ServerError {
    /// The binary is missing and could not be built.
    Build(String),
    /// An I/O error (spawning, files, signals).
    Io(String),
    /// The process exited before it listened.
    Exited(Exited),
    /// No `listening on` line within [`SERVER_TIMEOUT`].
    NoListen {
        /// What the process printed so far.
        stdout: String,
        /// Its standard error so far.
        stderr: String,
    },
    /// The process did not exit within [`SERVER_TIMEOUT`] after SIGTERM (it was killed).
    NoExit {
        /// Its standard error.
        stderr: String,
    },
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::Build(m) => write!(f, "cannot build {BINARY}: {m}"),
            ServerError::Io(m) => write!(f, "{m}"),
            ServerError::Exited(e) => write!(
                f,
                "{BINARY} exited before listening ({:?})\nstdout:\n{}\nstderr:\n{}",
                e.status, e.stdout, e.stderr
            ),
            ServerError::NoListen { stdout, stderr } => write!(
                f,
                "{BINARY} printed no listen address within {SERVER_TIMEOUT:?}\nstdout:\n{stdout}\
                 \nstderr:\n{stderr}"
            ),
            ServerError::NoExit { stderr } => write!(
                f,
                "{BINARY} did not exit within {SERVER_TIMEOUT:?} after SIGTERM (killed)\n\
                 stderr:\n{stderr}"
            ),
        }
    }
}

impl std::error::Error for ServerError {}

/// A process that ended: its status and what it printed.
#[derive(Debug)]
pub struct Exited {
    /// The exit status.
    pub status: ExitStatus,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Built at most once per test process.
static BUILD: Mutex<Option<Result<PathBuf, String>>> = Mutex::new(None);

/// `target/<profile>` of the test executable (`target/<profile>/deps/<test>-<hash>`).
fn profile_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("{} has no target/<profile> above it", exe.display()))
}

/// Runs `cmd` to its end within `limit`, its output going to `log`.
fn run_logged(cmd: &mut Command, log: &Path, limit: Duration) -> Result<ExitStatus, String> {
    let out = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("spawning {cmd:?}: {e}"))?;
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return Ok(st),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(100)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{cmd:?} did not finish within {limit:?}"));
            }
            Err(e) => return Err(format!("waiting for {cmd:?}: {e}")),
        }
    }
}

/// The `iscsi-scstd` binary: `$ISCSI_SCSTD_BIN`, else `target/<profile>/iscsi-scstd` next to
/// the test executable, built there with `cargo build --bin iscsi-scstd` when missing.
///
/// An existing binary is used as it is: `cargo test -p scst_tests` alone does not rebuild it
/// (build it, or run the whole workspace, after changing the daemon).
pub fn binary() -> Result<PathBuf, ServerError> {
    if let Some(p) = std::env::var_os(BINARY_ENV) {
        return Ok(PathBuf::from(p));
    }
    let mut slot = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = slot.as_ref() {
        return r.clone().map_err(ServerError::Build);
    }
    let r = find_or_build();
    *slot = Some(r.clone());
    r.map_err(ServerError::Build)
}

fn find_or_build() -> Result<PathBuf, String> {
    let profile_dir = profile_dir()?;
    let bin = profile_dir.join(BINARY);
    if bin.is_file() {
        return Ok(bin);
    }
    let profile = profile_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| format!("{} has no name", profile_dir.display()))?;
    let target_dir = profile_dir
        .parent()
        .ok_or_else(|| format!("{} has no parent", profile_dir.display()))?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(crate::workspace_root())
        .args(["build", "--bin", BINARY, "--target-dir"])
        .arg(target_dir);
    match profile.as_str() {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        p => {
            cmd.args(["--profile", p]);
        }
    }
    let log = std::env::temp_dir().join(format!("scst-tests-build-{}.log", std::process::id()));
    let st = run_logged(&mut cmd, &log, BUILD_TIMEOUT)?;
    let out = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    if !st.success() || !bin.is_file() {
        return Err(format!("{cmd:?}: {st}\n{out}"));
    }
    Ok(bin)
}

/// A running `iscsi-scstd` of one test. Dropping it stops the process (SIGTERM, then SIGKILL
/// if it does not exit in time) and removes its state directory unless the test failed.
#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    /// The first listen address printed.
    pub addr: SocketAddr,
    /// The process ID.
    pub pid: u32,
    /// The state directory (`--state-dir`).
    pub state_dir: PathBuf,
    /// Everything printed on standard output up to the listen line(s).
    pub stdout: String,
}

/// The state directory of `test` in this process (temporary directory, PID, test name).
pub fn state_dir_of(test: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "scst-tests-iscsi-scstd-{}-{test}",
        std::process::id()
    ))
}

/// A fresh, empty state directory for `test` in this process.
pub fn fresh_state_dir(test: &str) -> Result<PathBuf, ServerError> {
    let dir = state_dir_of(test);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| ServerError::Io(format!("{e}")))?;
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| ServerError::Io(format!("{}: {e}", dir.display())))?;
    Ok(dir)
}

fn read_lossy(p: &Path) -> String {
    std::fs::read(p)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

fn listen_addr(stdout: &str) -> Option<SocketAddr> {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("iscsi-scstd: listening on "))
        .and_then(|a| a.trim().parse().ok())
}

impl Server {
    /// Starts `iscsi-scstd -f -p 0 --state-dir <fresh dir> ARGS…` and waits (at most
    /// [`SERVER_TIMEOUT`]) for its `listening on` line. A process that exits first is
    /// [`ServerError::Exited`] with its status and output.
    pub fn start(test: &str, args: &[&str]) -> Result<Server, ServerError> {
        Server::start_on(test, 0, args)
    }

    /// [`Server::start`] with `-p PORT` instead of `-p 0`.
    pub fn start_on(test: &str, port: u16, args: &[&str]) -> Result<Server, ServerError> {
        Server::start_prepared(test, port, args, |_| Ok(()))
    }

    /// [`Server::start_on`], with `prepare` called on the fresh, empty state directory before
    /// the process starts (to put files there that the server reads, e.g. a backing file).
    pub fn start_prepared(
        test: &str,
        port: u16,
        args: &[&str],
        prepare: impl FnOnce(&Path) -> std::io::Result<()>,
    ) -> Result<Server, ServerError> {
        let bin = binary()?;
        let state_dir = fresh_state_dir(test)?;
        prepare(&state_dir)
            .map_err(|e| ServerError::Io(format!("preparing {}: {e}", state_dir.display())))?;
        let out_path = state_dir.join("stdout.log");
        let err_path = state_dir.join("stderr.log");
        let io = |e: std::io::Error| ServerError::Io(format!("{e}"));
        let out = File::create(&out_path).map_err(io)?;
        let err = File::create(&err_path).map_err(io)?;
        let mut child = Command::new(&bin)
            .args(["-f", "-p", &port.to_string(), "--state-dir"])
            .arg(&state_dir)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| ServerError::Io(format!("spawning {}: {e}", bin.display())))?;
        let pid = child.id();
        let deadline = Instant::now() + SERVER_TIMEOUT;
        loop {
            let stdout = read_lossy(&out_path);
            if let Some(addr) = listen_addr(&stdout) {
                // The target lines follow the listen lines in the same flush.
                thread::sleep(Duration::from_millis(20));
                return Ok(Server {
                    child: Some(child),
                    addr,
                    pid,
                    state_dir,
                    stdout: read_lossy(&out_path),
                });
            }
            match child.try_wait() {
                Ok(Some(status)) => {
                    return Err(ServerError::Exited(Exited {
                        status,
                        stdout: read_lossy(&out_path),
                        stderr: read_lossy(&err_path),
                    }))
                }
                Ok(None) => {}
                Err(e) => return Err(ServerError::Io(format!("waiting for {pid}: {e}"))),
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ServerError::NoListen {
                    stdout,
                    stderr: read_lossy(&err_path),
                });
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// [`Server::start`] with `-c <state dir>/iscsi-scstd.conf` holding `config` (iscsi-scstd.conf
    /// syntax; written into the fresh state directory before the process starts).
    pub fn start_with_config(test: &str, config: &str) -> Result<Server, ServerError> {
        let path = state_dir_of(test).join("iscsi-scstd.conf");
        let arg = path.to_string_lossy().into_owned();
        Server::start_prepared(test, 0, &["-c", &arg], |_| std::fs::write(&path, config))
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Its standard error so far (the log).
    pub fn stderr(&self) -> String {
        read_lossy(&self.state_dir.join("stderr.log"))
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// Sends SIGTERM to the PID and waits (at most [`SERVER_TIMEOUT`]) for the exit.
    fn terminate(&mut self) -> Result<ExitStatus, ServerError> {
        let Some(mut child) = self.child.take() else {
            return Err(ServerError::Io("already stopped".to_owned()));
        };
        if let Ok(Some(st)) = child.try_wait() {
            return Ok(st);
        }
        let kill = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .stdin(Stdio::null())
            .status();
        if let Err(e) = kill {
            let _ = child.kill();
            let _ = child.wait();
            return Err(ServerError::Io(format!("kill -TERM {}: {e}", self.pid)));
        }
        let deadline = Instant::now() + SERVER_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(st)) => return Ok(st),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(ServerError::NoExit {
                        stderr: self.stderr(),
                    });
                }
            }
        }
    }

    /// Stops the server by its PID with SIGTERM; returns its exit status (the caller checks
    /// it is 0) and standard error.
    pub fn stop(mut self) -> Result<(ExitStatus, String), ServerError> {
        let st = self.terminate()?;
        Ok((st, self.stderr()))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.terminate();
        }
        if thread::panicking() {
            // Keep the log for the failure report.
            let err = self.stderr();
            let tail: Vec<&str> = err.lines().rev().take(60).collect();
            eprintln!(
                "--- {BINARY} (pid {}) stderr, last lines; state in {} ---",
                self.pid,
                self.state_dir.display()
            );
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
        } else {
            let _ = std::fs::remove_dir_all(&self.state_dir);
        }
    }
}

/// Runs the binary with `args` (plus `-f -p PORT --state-dir <fresh dir>`) expecting it to
/// exit by itself within [`SERVER_TIMEOUT`] without listening: its status and output. A
/// process that listens instead is stopped and reported as an error.
pub fn run_expecting_exit(test: &str, port: u16, args: &[&str]) -> Result<Exited, ServerError> {
    match Server::start_on(test, port, args) {
        Err(ServerError::Exited(e)) => {
            let _ = std::fs::remove_dir_all(state_dir_of(test));
            Ok(e)
        }
        Err(e) => Err(e),
        Ok(s) => Err(ServerError::Io(format!(
            "{BINARY} listened on {} instead of exiting:\n{}",
            s.addr, s.stdout
        ))),
    }
}

/// Numbers the scratch directories of [`run_tool`].
static TOOL_RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Runs a client tool (libiscsi, qemu-img …) with a deadline, its output going to files (no
/// pipes to drain): (exit code — `None` when it was killed at the deadline or could not be
/// started —, stdout, stderr).
pub fn run_tool(cmd: &mut Command, limit: Duration) -> (Option<i32>, String, String) {
    let dir = std::env::temp_dir().join(format!(
        "scst-tests-tool-{}-{}",
        std::process::id(),
        TOOL_RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let fail = |e: String| (None, String::new(), e);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return fail(format!("{}: {e}", dir.display()));
    }
    let (out_p, err_p) = (dir.join("stdout"), dir.join("stderr"));
    let files = File::create(&out_p).and_then(|o| File::create(&err_p).map(|e| (o, e)));
    let (out_f, err_f) = match files {
        Ok(f) => f,
        Err(e) => return fail(format!("{}: {e}", dir.display())),
    };
    let mut child = match cmd.stdin(Stdio::null()).stdout(out_f).stderr(err_f).spawn() {
        Ok(c) => c,
        Err(e) => return fail(format!("spawning {cmd:?}: {e}")),
    };
    let deadline = Instant::now() + limit;
    let code = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st.code(),
            Ok(None) if Instant::now() <= deadline => thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let out = String::from_utf8_lossy(&std::fs::read(&out_p).unwrap_or_default()).into_owned();
    let err = String::from_utf8_lossy(&std::fs::read(&err_p).unwrap_or_default()).into_owned();
    let _ = std::fs::remove_dir_all(&dir);
    (code, out, err)
}
