//! A batch manifest: a CSV file with a header row, one video per row and that row's own options.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};

use crate::spec::GenerateSpec;

/// The columns a manifest may have (`video` is required; an empty cell keeps the command line's
/// value), in the order they are documented.
pub const COLUMNS: &[&str] = &["video", "prompt", "negative", "seed", "start", "duration", "steps", "cfg", "output"];

/// One manifest row: its job (the template with the row's overrides) and its output stem.
pub(super) struct Row {
    pub spec: GenerateSpec,
    pub stem: Option<String>,
    /// The line of the file the row starts on (the header is row 1), as messages name it.
    pub row: u64,
}

/// Reads the manifest at `path`; relative `video` paths are taken from the manifest's folder.
pub(super) fn read(path: &Path, template: &GenerateSpec) -> Result<Vec<Row>> {
    let file = std::fs::File::open(path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    parse(path, file, template)
}

/// Parses manifest text; `path` names it in messages and resolves relative video paths.
pub(super) fn parse(path: &Path, text: impl Read, template: &GenerateSpec) -> Result<Vec<Row>> {
    let m = path.display();
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text);
    let header = reader.headers().map_err(|e| csv_error(path, e))?.clone();
    let mut columns = Vec::with_capacity(header.len());
    for (i, name) in header.iter().enumerate() {
        // Spreadsheets often start a UTF-8 CSV with a byte-order mark.
        let name = name.trim_start_matches('\u{feff}').trim().to_lowercase();
        match COLUMNS.iter().position(|c| *c == name) {
            _ if name.is_empty() => bail!("{m}: row 1 (the header): column {} has no name (expected some of: {})", i + 1, COLUMNS.join(", ")),
            Some(_) if columns.contains(&name) => bail!("{m}: row 1 (the header): column `{name}` appears twice"),
            Some(_) => columns.push(name),
            None => bail!("{m}: row 1 (the header): unknown column `{name}` (a manifest takes: {})", COLUMNS.join(", ")),
        }
    }
    if !columns.iter().any(|c| c == "video") {
        bail!("{m}: row 1 (the header): no `video` column (the header names the columns: {})", COLUMNS.join(", "));
    }
    let base = path.parent().filter(|p| !p.as_os_str().is_empty());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(path, e))?;
        let row = record.position().map_or(0, |p| p.line());
        if record.len() > columns.len() {
            bail!("{m}: row {row}: {} cells, but the header names {} columns", record.len(), columns.len());
        }
        let mut spec = GenerateSpec { output: None, ..template.clone() };
        let mut stem = None;
        let mut video = None;
        for (column, cell) in columns.iter().zip(record.iter()).filter(|(_, cell)| !cell.is_empty()) {
            let bad = |what: &str| anyhow!("{m}: row {row}, column `{column}`: `{cell}` is not {what}");
            match column.as_str() {
                "video" => video = Some(PathBuf::from(cell)),
                "prompt" => spec.prompt = Some(cell.to_string()),
                "negative" => spec.negative = Some(cell.to_string()),
                "seed" => spec.seed = cell.parse().map_err(|_| bad("a whole number from 0 to 18446744073709551615"))?,
                "start" => spec.start = finite(cell).ok_or_else(|| bad("a number of seconds"))?,
                "duration" => spec.duration = Some(finite(cell).ok_or_else(|| bad("a number of seconds"))?),
                "steps" => spec.steps = Some(cell.parse().map_err(|_| bad("a whole number of steps"))?),
                "cfg" => spec.cfg = Some(finite(cell).ok_or_else(|| bad("a number"))? as f32),
                "output" => stem = Some(output_stem(cell).ok_or_else(|| bad("a file stem (a name without folders, e.g. `take-2`)"))?),
                _ => unreachable!("columns are checked against COLUMNS"),
            }
        }
        let video = video.ok_or_else(|| anyhow!("{m}: row {row}, column `video`: the cell is empty (every row names its video)"))?;
        spec.input = match base {
            Some(dir) if video.is_relative() => dir.join(video),
            _ => video,
        };
        rows.push(Row { spec, stem, row });
    }
    Ok(rows)
}

fn finite(cell: &str) -> Option<f64> {
    cell.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A name for `OUT_DIR/<stem>.foley.mp4`: no folders, nothing that names a folder.
fn output_stem(cell: &str) -> Option<String> {
    let ok = !matches!(cell, "." | "..") && !cell.contains(['/', '\\', '\0']);
    ok.then(|| cell.to_string())
}

fn csv_error(path: &Path, e: csv::Error) -> anyhow::Error {
    let m = path.display();
    let row = e.position().map_or(String::new(), |p| format!(" row {}:", p.line()));
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => anyhow!("{m}:{row} not UTF-8 text (save the manifest as UTF-8 CSV)"),
        csv::ErrorKind::Io(err) => anyhow!("{m}: {err}"),
        _ => anyhow!("{m}:{row} {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<Vec<Row>> {
        let template = GenerateSpec { seed: 7, prompt: Some("rain".into()), steps: Some(2), ..Default::default() };
        parse(Path::new("jobs/m.csv"), text.as_bytes(), &template)
    }

    fn error(text: &str) -> String {
        format!("{:#}", parse_text(text).err().expect("an error"))
    }

    #[test]
    fn rows_override_the_command_line_and_empty_cells_keep_it() {
        let rows = parse_text(
            "\u{feff}Video, prompt ,seed,start,duration,steps,cfg,negative,output\n\
             a.mp4,\"dog, barking\",3,1.5,2,4,3.5,wind,take-1\n\
             /abs/b.mov,,,,,,,,\n\
             sub/c.mp4\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 3);
        let (a, b, c) = (&rows[0], &rows[1], &rows[2]);
        assert_eq!((a.row, b.row, c.row), (2, 3, 4));
        assert_eq!(a.spec.input, PathBuf::from("jobs/a.mp4"), "relative to the manifest's folder");
        assert_eq!(a.spec.prompt.as_deref(), Some("dog, barking"));
        assert_eq!((a.spec.seed, a.spec.start, a.spec.duration, a.spec.steps, a.spec.cfg), (3, 1.5, Some(2.0), Some(4), Some(3.5)));
        assert_eq!((a.spec.negative.as_deref(), a.stem.as_deref()), (Some("wind"), Some("take-1")));
        assert_eq!(b.spec.input, PathBuf::from("/abs/b.mov"));
        for r in [b, c] {
            assert_eq!((r.spec.prompt.as_deref(), r.spec.seed, r.spec.start, r.spec.duration, r.spec.steps), (Some("rain"), 7, 0.0, None, Some(2)));
            assert_eq!((r.spec.cfg, r.stem.as_deref(), r.spec.output.as_deref()), (None, None, None));
        }
        assert_eq!(c.spec.input, PathBuf::from("jobs/sub/c.mp4"));
    }

    #[test]
    fn header_errors_name_the_manifest_and_the_column() {
        let e = error("video,prompt,speed\na.mp4,x,2\n");
        assert!(e.starts_with("jobs/m.csv: row 1") && e.contains("unknown column `speed`") && e.contains("video, prompt"), "{e}");
        let e = error("prompt,seed\nx,2\n");
        assert!(e.contains("row 1") && e.contains("no `video` column"), "{e}");
        let e = error("video,seed,seed\na.mp4,1,2\n");
        assert!(e.contains("column `seed` appears twice"), "{e}");
        let e = error("video,,seed\na.mp4,,2\n");
        assert!(e.contains("column 2 has no name"), "{e}");
    }

    #[test]
    fn cell_errors_name_the_row_and_the_column() {
        for (text, phrase) in [
            ("video,seed\na.mp4,1\nb.mp4,-1\n", "row 3, column `seed`: `-1` is not a whole number"),
            ("video,start\na.mp4,1\nb.mp4,soon\n", "row 3, column `start`: `soon` is not a number of seconds"),
            ("video,duration\na.mp4,inf\n", "row 2, column `duration`: `inf` is not a number of seconds"),
            ("video,steps\na.mp4,2.5\n", "row 2, column `steps`: `2.5` is not a whole number of steps"),
            ("video,cfg\na.mp4,NaN\n", "row 2, column `cfg`"),
            ("video,output\na.mp4,x/y\n", "row 2, column `output`: `x/y` is not a file stem"),
            ("video,output\na.mp4,..\n", "column `output`: `..`"),
            ("video,seed\na.mp4,1\n,2\n", "row 3, column `video`: the cell is empty"),
            ("video,seed\na.mp4,1,9\n", "row 2: 3 cells, but the header names 2 columns"),
            ("video,prompt\na.mp4,\"one\ntwo\"\nb.mp4,x,y\n", "row 4: 3 cells"),
        ] {
            let e = error(text);
            assert!(e.starts_with("jobs/m.csv: row") && e.contains(phrase), "{text:?}: {e}");
        }
        let latin1 = parse(Path::new("m.csv"), &b"video\na.mp4\n\xff.mp4\n"[..], &GenerateSpec::default()).err().unwrap().to_string();
        assert!(latin1.contains("m.csv: row 3: not UTF-8"), "{latin1}");
    }

    #[test]
    fn a_header_alone_has_no_rows() {
        assert!(parse_text("video,prompt\n").unwrap().is_empty());
        assert!(error("").contains("no `video` column"));
    }
}
