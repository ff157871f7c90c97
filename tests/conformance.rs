// SPDX-License-Identifier: GPL-2.0-only
//! The libiscsi conformance suite (`iscsi-test-cu`, run by `../shared/tools/conformance.sh`)
//! against LUN 0 of the real `iscsi-scstd`, as a ratchet: `tests/conformance-baseline.txt`
//! (a conformance.sh summary) holds the per-test results of the last accepted run, and this
//! test fails when a test that passed there does not pass now (it fails, crashes, hangs or is
//! skipped), when there are fewer passes or more failures than there, when the server's PID
//! changed or it logged a panic, or when it stops answering INQUIRY. (Tests in [`RACY`] may
//! go either way: their outcome depends on a race SCST has too.) Each test of the suite
//! runs with a bounded time (`CU_SUITE_TIMEOUT=30` per suite process, `CU_TIMEOUT=300` for
//! the whole run), so a hang costs a test, not the CI budget.
//!
//! To move the ratchet after an improvement, copy the summary this test keeps in
//! `target/tmp/conformance-ours-summary.txt` over `tests/conformance-baseline.txt`
//! (docs/CONFORMANCE.md explains every failure and skip). Without `iscsi-test-cu` or conformance.sh the test prints a `SKIP` line and passes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use scst_tests::server::{run_tool, Server};
use scst_tests::workspace_root;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const DEFAULT_TARGET: &str = "iqn.2026-11.org.scst-rs:default";

fn shared_dir() -> PathBuf {
    std::env::var_os("SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("..").join("shared"))
}

fn on_path(name: &str) -> bool {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .any(|d| Path::new(d).join(name).is_file())
}

/// The per-test results of a conformance.sh summary (its `RESULTS:` list: `  PASS Suite.Test`).
fn results(summary: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut in_results = false;
    for line in summary.lines() {
        if line.starts_with("RESULTS:") {
            in_results = true;
            continue;
        }
        if in_results {
            if !line.starts_with(' ') {
                break;
            }
            let mut f = line.split_whitespace();
            if let (Some(st), Some(t)) = (f.next(), f.next()) {
                out.insert(t.to_owned(), st.to_owned());
            }
        }
    }
    out
}

/// Tests whose result depends on a race that SCST has too, so either result is accepted:
/// - AbortTaskSimpleAsync sends a WRITE and at once an ABORT TASK for it. When the WRITE
///   completes first, iscsi-scst answers FUNCTION COMPLETE (r7105 `cmnd_abort_pre_checks`:
///   RefCmdSN within the window before the request's CmdSN — RFC 3720 §10.5.1 b), which the
///   test counts as a failure; when the ABORT wins, the test passes.
/// - Reserve6.Logout / Reserve6.ITNexusLoss: the holder logs out (or drops its connection),
///   logs in again, and the other initiator's RESERVE(6) must then succeed. SCST releases
///   the reservation when the old session's nexuses are freed (`scst_free_tgt_dev` →
///   `scst_clear_reservation`), which happens asynchronously after the Logout Response
///   (session unregistration on `scsi_tm` and `scst_mgmtd`), so a fast enough re-login and
///   RESERVE(6) still see the old holder — about 1 run of the suite in 30 here (debug build,
///   2 vCPUs).
const RACY: &[&str] = &[
    "iSCSITMF.AbortTaskSimpleAsync",
    "Reserve6.Logout",
    "Reserve6.ITNexusLoss",
];

fn is_bad(st: Option<&String>) -> bool {
    matches!(st.map(String::as_str), Some("FAIL" | "CRASH"))
}

fn count(r: &BTreeMap<String, String>, what: &str) -> usize {
    r.values().filter(|s| s.as_str() == what).count()
}

#[test]
fn libiscsi_conformance_does_not_regress() {
    let test = "libiscsi_conformance_does_not_regress";
    let script = shared_dir().join("tools").join("conformance.sh");
    if !script.is_file() {
        println!(
            "SKIP {test}: {} not found (set SHARED_DIR)",
            script.display()
        );
        return;
    }
    if !on_path("iscsi-test-cu") {
        println!(
            "SKIP {test}: iscsi-test-cu not found (../shared/tools/install-test-deps.sh \
             installs libiscsi-bin)"
        );
        return;
    }
    let baseline_path = workspace_root()
        .join("tests")
        .join("conformance-baseline.txt");
    let baseline_text = std::fs::read_to_string(&baseline_path)
        .unwrap_or_else(|e| panic!("{}: {e}", baseline_path.display()));
    let baseline = results(&baseline_text);
    assert!(
        baseline.len() > 200,
        "{}: only {} per-test results",
        baseline_path.display(),
        baseline.len()
    );
    let (b_pass, b_fail) = (count(&baseline, "PASS"), count(&baseline, "FAIL"));

    let mut server = Server::start(test, &[]).unwrap_or_else(|e| panic!("{test}: {e}"));
    let pid = server.pid;
    let url = format!("iscsi://{}/{DEFAULT_TARGET}/0", server.addr);
    let results_dir = server.state_dir.join("conformance");
    let (code, out, err) = run_tool(
        Command::new("bash")
            .arg(&script)
            .arg("ours")
            .arg(&url)
            .env("RESULTS_DIR", &results_dir)
            .env("CU_TIMEOUT", "300")
            .env("CU_SUITE_TIMEOUT", "30")
            .env("BASELINE", &baseline_path),
        Duration::from_secs(420),
    );
    let summary_path = results_dir.join("conformance-ours-summary.txt");
    println!("{out}");
    eprintln!("{err}");
    println!("summary: {}", summary_path.display());
    let summary = std::fs::read_to_string(&summary_path)
        .unwrap_or_else(|e| panic!("{}: {e}\n{out}\n{err}", summary_path.display()));
    let now = results(&summary);

    // Kept for moving the ratchet (the server's state directory goes when the test passes).
    let keep = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("conformance-ours-summary.txt");
    if std::fs::write(&keep, &summary).is_ok() {
        println!("summary kept in {}", keep.display());
    }

    // The ratchet, test by test: what passed must still pass, nothing may newly fail (the
    // racy tests aside), and the totals may not get worse.
    let racy = |t: &str| RACY.contains(&t);
    let lost: Vec<String> = baseline
        .iter()
        .filter(|(t, st)| {
            !racy(t) && st.as_str() == "PASS" && now.get(*t).map(String::as_str) != Some("PASS")
        })
        .map(|(t, _)| format!("{t}: {}", now.get(t).map_or("not run", String::as_str)))
        .collect();
    let newly_failing: Vec<&String> = now
        .iter()
        .filter(|(t, st)| !racy(t) && is_bad(Some(st)) && !is_bad(baseline.get(*t)))
        .map(|(t, _)| t)
        .collect();
    let gained: Vec<&String> = now
        .iter()
        .filter(|(t, st)| {
            st.as_str() == "PASS" && baseline.get(*t).map(String::as_str) != Some("PASS")
        })
        .map(|(t, _)| t)
        .collect();
    let racy_passed = RACY
        .iter()
        .filter(|t| baseline.get(**t).map(String::as_str) == Some("PASS"))
        .count();
    let racy_not_failed = RACY.iter().filter(|t| !is_bad(baseline.get(**t))).count();
    let (n_pass, n_fail) = (
        count(&now, "PASS"),
        count(&now, "FAIL") + count(&now, "CRASH"),
    );
    println!(
        "conformance now: {n_pass} passed, {n_fail} failed, {} skipped (baseline {b_pass} \
         passed, {b_fail} failed); newly passing: {gained:?}",
        count(&now, "SKIP")
    );
    assert!(
        lost.is_empty(),
        "tests that passed in the baseline no longer pass: {lost:#?}"
    );
    assert!(
        newly_failing.is_empty(),
        "tests newly failing: {newly_failing:#?}"
    );
    assert!(
        n_pass + racy_passed >= b_pass,
        "{n_pass} passed, fewer than the baseline's {b_pass}"
    );
    assert!(
        n_fail <= b_fail + racy_not_failed,
        "{n_fail} failed, more than the baseline's {b_fail}"
    );
    assert_eq!(
        code,
        Some(0),
        "conformance.sh failed (INQUIRY check):\n{out}\n{err}"
    );

    // The same server process ran the whole suite and never panicked.
    assert!(
        server.is_running(),
        "iscsi-scstd (pid {pid}) is gone after the suite"
    );
    assert_eq!(server.pid, pid);
    let log = server.stderr();
    assert!(
        !log.contains("panicked"),
        "iscsi-scstd panicked during the suite:\n{log}"
    );
    let (st, stderr) = server.stop().unwrap();
    assert_eq!(st.code(), Some(0), "exit after SIGTERM: {st}\n{stderr}");
}
