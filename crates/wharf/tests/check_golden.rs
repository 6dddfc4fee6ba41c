//! `wharf check` on a corpus of Compose files and configurations (`tests/check_corpus/<case>/`),
//! each with its expected output (`expected.txt`: standard output, standard error, exit status).
//! A case runs `wharf check --compose=docker-compose.yml`, or the arguments in its `args` file
//! (one per line), in its own directory. `WHARF_BLESS=1` rewrites the expected outputs.

use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/check_corpus")
}

fn run_case(dir: &Path, format: &[&str]) -> String {
    let args: Vec<String> = match std::fs::read_to_string(dir.join("args")) {
        Ok(text) => text.lines().map(str::to_string).collect(),
        Err(_) => vec!["--compose=docker-compose.yml".into()],
    };
    run(dir, "check", &args, format)
}

fn run(dir: &Path, command: &str, args: &[String], format: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .arg(command)
        .args(args)
        .args(format)
        .current_dir(dir)
        .env_remove("TRAEFIK_CONFIGFILE")
        .output()
        .expect("run wharf check");
    // Static files are named by absolute path (the working directory joined): make it relative.
    let prefix = format!("{}/", dir.display());
    let text = |b: &[u8]| String::from_utf8_lossy(b).replace(&prefix, "");
    format!(
        "{}--- stderr\n{}--- exit {}\n",
        text(&out.stdout),
        text(&out.stderr),
        out.status.code().unwrap_or(-1)
    )
}

/// Compares each case's output with its golden file (or rewrites them with `WHARF_BLESS=1`).
fn golden(
    cases: &[PathBuf],
    expected_of: fn(&Path) -> PathBuf,
    output_of: impl Fn(&Path) -> String,
) {
    let bless = std::env::var_os("WHARF_BLESS").is_some();
    let mut failed = Vec::new();
    for case in cases {
        let got = output_of(case);
        let expected_path = expected_of(case);
        if bless {
            std::fs::write(&expected_path, &got).expect("bless");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if got != expected {
            failed.push(format!(
                "== {}\n-- expected\n{expected}-- got\n{got}",
                case.display()
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// The entries of `dir` that `keep` accepts, sorted.
fn entries(dir: &Path, keep: fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("corpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| keep(p))
        .collect();
    found.sort();
    found
}

#[test]
fn check_reports_what_each_broken_stack_gets_wrong() {
    let cases = entries(&corpus(), |p| p.is_dir());
    assert!(cases.len() >= 4, "the corpus is missing");
    golden(
        &cases,
        |case| case.join("expected.txt"),
        |case| run_case(case, &[]),
    );
}

/// `explain` on the design's stack: each `explain-<name>.args` beside `explain-<name>.txt`.
#[test]
fn explain_says_which_router_wins_and_why_the_others_lose() {
    let dir = corpus().join("design");
    let cases = entries(&dir, |p| p.extension().is_some_and(|e| e == "args"));
    assert!(cases.len() >= 3, "the explain cases are missing");
    golden(
        &cases,
        |case| case.with_extension("txt"),
        |case| {
            let args: Vec<String> = std::fs::read_to_string(case)
                .expect("args")
                .lines()
                .map(str::to_string)
                .collect();
            run(&dir, "explain", &args, &[])
        },
    );
}

#[test]
fn check_speaks_json_for_ci() {
    let out = run_case(&corpus().join("broken-labels"), &["--format=json"]);
    let json_text = out.split("--- stderr").next().expect("stdout");
    let doc: serde_json::Value = serde_json::from_str(json_text).expect("JSON on stdout");
    let issues = doc["issues"].as_array().expect("issues");
    assert_eq!(doc["summary"]["errors"].as_u64(), Some(issues.len() as u64));
    let typo = issues
        .iter()
        .find(|i| i["message"] == "unknown key `http.routers.typos.rul`")
        .expect("the typo");
    assert_eq!(typo["severity"], "error");
    assert_eq!(typo["origin"], "docker-compose.yml:15:9");
    assert_eq!(typo["hint"], "did you mean `http.routers.typos.rule`?");
    assert!(out.ends_with("--- exit 1\n"), "{out}");
}
