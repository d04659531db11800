//! What an interrupted run leaves behind: nothing.
//!
//! Every ffmpeg/ffprobe child and every temporary output is registered here while it lives.
//! [`install_signal_cleanup`] makes SIGINT, SIGTERM and SIGHUP kill the registered children,
//! delete the registered temporaries and exit (status 128 + signal). A run killed with SIGKILL
//! cannot clean up; its temporaries carry its process id in their names
//! (`.STEM.foley-PID.XXXXXX.EXT`), and the next output written to the same directory deletes
//! those whose process is gone ([`remove_stale_temporaries`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Mutex, OnceLock};

#[derive(Default)]
struct Registry {
    children: BTreeSet<u32>,
    temporaries: BTreeSet<PathBuf>,
    /// Set once a signal arrived: nothing new may start, cleanup is under way.
    exiting: bool,
}

fn registry() -> &'static Mutex<Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(Mutex::default)
}

fn lock() -> std::sync::MutexGuard<'static, Registry> {
    registry().lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A registered child process; deregistered when dropped (after the child was waited for).
pub(crate) struct ChildGuard(u32);

impl ChildGuard {
    /// Starts `cmd` and registers the child under one lock: a signal's cleanup, which takes the
    /// same lock, either runs before the spawn (then the child is killed at once) or after the
    /// registration (then it kills the child), never in between, where the child would outlive us.
    pub(crate) fn spawn(cmd: &mut Command) -> std::io::Result<(Child, Self)> {
        let mut reg = lock();
        let child = cmd.spawn()?;
        if reg.exiting {
            // SAFETY: kill(2) on the pid just spawned.
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGKILL);
            }
        }
        reg.children.insert(child.id());
        let pid = child.id();
        Ok((child, Self(pid)))
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        lock().children.remove(&self.0);
    }
}

/// A registered temporary file; deregistered when dropped.
pub(crate) struct TempGuard(PathBuf);

impl TempGuard {
    pub(crate) fn new(path: &Path) -> Self {
        lock().temporaries.insert(path.to_path_buf());
        Self(path.to_path_buf())
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        lock().temporaries.remove(&self.0);
    }
}

/// The marker in temporary file names that precedes the owning process id.
pub(crate) const TEMP_MARKER: &str = ".foley-";

/// On SIGINT, SIGTERM or SIGHUP: kill the registered ffmpeg children, delete the registered
/// temporary outputs, print what happened and exit with 128 + the signal number. Call once,
/// early in `main`.
pub fn install_signal_cleanup() -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new().name("foley-signals".into()).spawn(move || {
        if let Some(signal) = signals.forever().next() {
            let removed = cleanup_now();
            let name = match signal {
                SIGINT => "interrupt",
                SIGTERM => "terminate",
                _ => "hang-up",
            };
            eprintln!("\nfoley: stopped by {name} signal; {removed} temporary file(s) removed, no output written");
            std::process::exit(128 + signal);
        }
    })?;
    Ok(())
}

/// Kills every registered child and deletes every registered temporary; returns how many
/// temporaries were removed. Later registrations are refused (see [`is_exiting`]).
fn cleanup_now() -> usize {
    let mut reg = lock();
    reg.exiting = true;
    for &pid in &reg.children {
        // SAFETY: kill(2) on a pid we spawned and have not yet reaped (a zombie at worst).
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGKILL);
        }
    }
    reg.temporaries.iter().filter(|p| if p.is_dir() { std::fs::remove_dir_all(p).is_ok() } else { std::fs::remove_file(p).is_ok() }).count()
}

/// True once a termination signal is being handled (new work should not start).
pub fn is_exiting() -> bool {
    lock().exiting
}

/// Deletes temporaries of foley processes that no longer exist from `dir`: names of the form
/// `.STEM.foley-PID.XXXXXX[.EXT]` (files, and staging directories) whose PID is not a live process. Errors are ignored:
/// this is housekeeping, never a reason to fail.
pub(crate) fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temp_owner) else { continue };
        if pid == std::process::id() || process_alive(pid) {
            continue;
        }
        match entry.file_type() {
            Ok(t) if t.is_file() => drop(std::fs::remove_file(entry.path())),
            Ok(t) if t.is_dir() => drop(std::fs::remove_dir_all(entry.path())),
            _ => {}
        }
    }
}

/// The owning pid of a temporary's file name, if it is one of ours.
fn temp_owner(name: &str) -> Option<u32> {
    if !name.starts_with('.') {
        return None;
    }
    let (_, rest) = name.rsplit_once(TEMP_MARKER)?;
    let (pid, random) = rest.split_once('.')?;
    (random.split('.').next()?.len() >= 6).then_some(())?;
    pid.parse().ok()
}

fn process_alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_carry_their_owner() {
        assert_eq!(temp_owner(".demo.foley.foley-4242.a1B2c3.mp4"), Some(4242));
        assert_eq!(temp_owner(".x.foley-17.abcdef"), Some(17));
        assert_eq!(temp_owner("demo.foley-4242.a1B2c3.mp4"), None, "not hidden");
        assert_eq!(temp_owner(".notes.foley-4242.ab.txt"), None, "random part too short");
        assert_eq!(temp_owner(".thesis.tex"), None);
    }

    #[test]
    fn stale_temporaries_of_dead_processes_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        // A pid that cannot be alive (above the kernel's pid_max of 2^22).
        let dead = format!(".out{TEMP_MARKER}{}.Xy12Z9.wav", 5_000_000);
        let live = format!(".out{TEMP_MARKER}{}.Qw34Er.wav", std::process::id());
        for name in [dead.as_str(), live.as_str(), "out.wav", ".hidden-user-file", "thesis.tex"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        remove_stale_temporaries(dir.path());
        let mut left: Vec<String> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        left.sort();
        assert_eq!(left, [".hidden-user-file", live.as_str(), "out.wav", "thesis.tex"]);
    }
}
