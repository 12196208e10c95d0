//! What the binary tests share: starting accounts-local and reading its address.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};

/// Spawns `command` (accounts-local with its options) with stdout piped, and waits for its
/// ready line. Returns the child, its address, the ready line and its stdout (kept open: it
/// prints a line when it stops).
pub fn spawn_ready(command: &mut Command) -> (Child, String, String, BufReader<ChildStdout>) {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .expect("start accounts-local");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut ready = String::new();
    stdout.read_line(&mut ready).unwrap();
    let addr = ready
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no URL in the ready line: {ready:?}"))
        .to_owned();
    (child, addr, ready, stdout)
}
