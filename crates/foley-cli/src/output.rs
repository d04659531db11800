//! Output helpers shared by commands: atomic file writes and progress bars.

use std::path::Path;

use anyhow::{Context, Result};
use foley_media::AtomicOutput;
use indicatif::{ProgressBar, ProgressStyle};

/// Runs `write` on a temporary path beside `dest`, then renames it onto `dest`; on error
/// nothing is left behind.
pub fn write_atomic(dest: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let out = AtomicOutput::new(dest)?;
    write(out.path()).with_context(|| format!("writing {}", dest.display()))?;
    out.commit()?;
    Ok(())
}

/// A progress bar with a message, counting `len` units (hidden when stderr is not a terminal).
pub fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(ProgressStyle::with_template("{msg:>12} [{bar:32}] {pos}/{len} {elapsed_precise} eta {eta}").expect("static template").progress_chars("=> "));
    bar.set_message(what.to_string());
    bar
}

/// A spinner for work of unknown length.
pub fn spinner(what: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_message(what.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}
