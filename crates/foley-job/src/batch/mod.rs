//! Many generation jobs at once (`foley batch`): every video of a folder, or every row of a CSV
//! manifest, each given its soundtrack in one output folder by a few worker threads that share
//! one set of loaded models.
//!
//! [`collect`] turns the input into [`BatchItem`]s and checks, before any work, everything that
//! concerns the batch as a whole (the manifest, the options, outputs that would collide or
//! replace an input). [`Batch::run`] then runs them: a failing item (a bad file, a bad row's
//! options, a generation error) is reported in the [`Summary`] and the next one goes on.

mod folder;
mod manifest;
mod run;
mod summary;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::models::ModelChoice;
use crate::spec::{GenerateSpec, default_output};

pub use folder::VIDEO_EXTENSIONS;
pub use manifest::COLUMNS;
pub use run::BatchProgress;
pub use summary::{ItemReport, SUMMARY_CSV, SUMMARY_JSON, Status, Summary};

/// One job of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchItem {
    /// The job; its `output` is always set, inside the batch's output folder.
    pub spec: GenerateSpec,
    /// How messages name the item: its input, with the manifest row it comes from.
    pub label: String,
}

impl BatchItem {
    /// The mp4 this item writes.
    pub fn mp4(&self) -> PathBuf {
        self.spec.output.clone().unwrap_or_else(|| default_output(&self.spec.input))
    }

    /// The wav this item writes, beside the mp4.
    pub fn wav(&self) -> PathBuf {
        self.mp4().with_extension("wav")
    }
}

/// A checked batch, ready to run.
#[derive(Debug, Clone)]
pub struct Batch {
    pub items: Vec<BatchItem>,
    /// Where the outputs and the summary go (created when the batch runs).
    pub out_dir: PathBuf,
    /// The generator every item uses (loaded once).
    pub choice: ModelChoice,
}

/// The items of `input` (a folder of videos, or a `.csv` manifest), each the `template` job with
/// its own input, its outputs `out_dir/<stem>.foley.mp4` and `.wav`, and a manifest row's
/// overrides. Fails, before anything is written, on: options that make no sense for a batch, a
/// bad manifest (naming its row and column), sampling options a row or the template gets wrong,
/// no items, two items writing the same output, an output that would replace an input of the
/// batch. The template's `input` and `output` are ignored.
pub fn collect(input: &Path, out_dir: &Path, template: &GenerateSpec) -> Result<Batch> {
    check_template(template)?;
    let choice = template.model_choice()?;
    if out_dir.exists() && !out_dir.is_dir() {
        bail!("{}: exists and is not a folder; -o takes the folder the outputs go to", out_dir.display());
    }
    let meta = std::fs::metadata(input).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => anyhow::anyhow!("{}: no such folder or file", input.display()),
        _ => anyhow::anyhow!("{}: {e}", input.display()),
    })?;
    let entries: Vec<Entry> = if meta.is_dir() {
        folder::videos(input)?.into_iter().map(|video| Entry { label: video.display().to_string(), spec: with_input(template, video), stem: None }).collect()
    } else if input.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) {
        manifest::read(input, template)?
            .into_iter()
            .map(|row| Entry { label: format!("{} (row {} of {})", row.spec.input.display(), row.row, input.display()), spec: row.spec, stem: row.stem })
            .collect()
    } else {
        bail!("{}: expected a folder of videos or a .csv manifest", input.display());
    };
    let items: Vec<BatchItem> = entries.into_iter().map(|e| e.into_item(out_dir)).collect();
    if items.is_empty() {
        match meta.is_dir() {
            true => bail!("{}: no videos in this folder (files ending in .{})", input.display(), VIDEO_EXTENSIONS.join(", .")),
            false => bail!("{}: the manifest has no rows", input.display()),
        }
    }
    // A manifest row's own steps and cfg.
    for item in &items {
        item.spec.sample_options(&choice).with_context(|| item.label.clone())?;
    }
    check_outputs(&items, out_dir)?;
    Ok(Batch { items, out_dir: out_dir.to_path_buf(), choice })
}

/// An item before its outputs are named: `stem` from a manifest's `output` column, else the
/// input's own.
struct Entry {
    spec: GenerateSpec,
    stem: Option<String>,
    label: String,
}

impl Entry {
    fn into_item(self, out_dir: &Path) -> BatchItem {
        let Entry { mut spec, stem, label } = self;
        let stem = stem.unwrap_or_else(|| spec.input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into()));
        spec.output = Some(out_dir.join(format!("{stem}.foley.mp4")));
        BatchItem { spec, label }
    }
}

fn with_input(template: &GenerateSpec, input: PathBuf) -> GenerateSpec {
    GenerateSpec { input, output: None, ..template.clone() }
}

/// Options that concern one video's own soundtrack or stream cannot apply to every item.
fn check_template(t: &GenerateSpec) -> Result<()> {
    if let Some(s) = &t.stream {
        bail!("--stream {}: makes no sense for a batch (each video gets its own wav in the output folder)", s.display());
    }
    if t.audio.is_some() || t.inpaint.is_some() || t.extend.is_some() {
        bail!("--audio, --inpaint and --extend edit one video's existing soundtrack: use `foley generate` for that, not a batch");
    }
    // Options every item shares are refused once, not once per video.
    t.check_options()
}

/// No two items write the same file, and no item writes over an input of the batch.
fn check_outputs(items: &[BatchItem], out_dir: &Path) -> Result<()> {
    let mut seen: HashMap<PathBuf, &BatchItem> = HashMap::new();
    for item in items {
        if let Some(first) = seen.insert(item.mp4(), item) {
            bail!(
                "{} and {} would both write {}: give them different stems in a CSV manifest's `output` column (see `foley batch --help`)",
                first.label,
                item.label,
                item.mp4().display()
            );
        }
    }
    // Outputs only land in `out_dir`: if it does not exist yet, no input can be there.
    let Ok(dir) = std::fs::canonicalize(out_dir) else { return Ok(()) };
    let inputs: HashSet<PathBuf> = items.iter().filter_map(|i| std::fs::canonicalize(&i.spec.input).ok()).collect();
    for item in items {
        for out in [item.mp4(), item.wav()] {
            if out.file_name().is_some_and(|name| inputs.contains(&dir.join(name))) {
                bail!(
                    "{}: is an input of this batch and would be overwritten by the output of {}; choose another output folder or stem",
                    out.display(),
                    item.label
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(input: &str, mp4: &str) -> BatchItem {
        let spec = GenerateSpec { input: input.into(), output: Some(mp4.into()), ..Default::default() };
        BatchItem { spec, label: input.into() }
    }

    #[test]
    fn two_items_with_one_output_are_refused_naming_both() {
        let items = [item("a/x.mp4", "out/x.foley.mp4"), item("a/y.mp4", "out/y.foley.mp4"), item("a/x.mov", "out/x.foley.mp4")];
        let err = check_outputs(&items, Path::new("/nonexistent/out")).unwrap_err().to_string();
        assert!(err.contains("a/x.mp4 and a/x.mov would both write out/x.foley.mp4") && err.contains("`output` column"), "{err}");
        assert!(check_outputs(&items[..2], Path::new("/nonexistent/out")).is_ok());
    }

    #[test]
    fn options_for_one_soundtrack_are_refused() {
        let ok = GenerateSpec::default();
        assert!(check_template(&ok).is_ok());
        let stream = GenerateSpec { stream: Some("-".into()), ..Default::default() };
        assert!(check_template(&stream).unwrap_err().to_string().contains("--stream"));
        let inpaint = GenerateSpec { inpaint: Some("1:2".into()), ..Default::default() };
        assert!(check_template(&inpaint).unwrap_err().to_string().contains("--inpaint"));
    }

    #[test]
    fn items_are_named_by_stem_inside_the_output_folder() {
        let e = Entry { spec: with_input(&GenerateSpec::default(), "videos/clip.v2.mp4".into()), stem: None, label: String::new() };
        let item = e.into_item(Path::new("out"));
        assert_eq!((item.mp4(), item.wav()), (PathBuf::from("out/clip.v2.foley.mp4"), PathBuf::from("out/clip.v2.foley.wav")));
        let e = Entry { spec: with_input(&GenerateSpec::default(), "clip.mp4".into()), stem: Some("take".into()), label: String::new() };
        assert_eq!(e.into_item(Path::new("out")).mp4(), PathBuf::from("out/take.foley.mp4"));
    }
}
