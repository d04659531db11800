//! The upload form of `POST /api/jobs`: which fields exist, streaming its files to the job's
//! directory under the size limit, and turning its text fields into a [`GenerateSpec`].
//!
//! Clients never give paths: the spec's files are the server's (`job_dir`), the model is the
//! one the server loaded.

use std::collections::BTreeMap;
use std::path::Path;

use axum::extract::Multipart;
use axum::extract::multipart::{Field, MultipartError};
use axum::http::StatusCode;
use foley_job::{GenerateSpec, SamplerKind};
use tokio::io::AsyncWriteExt;

use crate::http::ApiError;
use crate::job_dir;

/// What a form field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Text,
    /// A whole number >= 0.
    Integer,
    Number,
    Boolean,
    Sampler,
}

/// One accepted field: its name, kind and meaning (also the OpenAPI document's).
pub(crate) struct FieldDoc {
    pub name: &'static str,
    pub kind: Kind,
    pub doc: &'static str,
}

/// Every field the form accepts; any other is refused.
pub(crate) const FIELDS: &[FieldDoc] = &[
    FieldDoc { name: job_dir::VIDEO, kind: Kind::File, doc: "The video to give sound to (required; probed with ffprobe before the job is queued)." },
    FieldDoc { name: job_dir::AUDIO, kind: Kind::File, doc: "An existing soundtrack, for `inpaint` or `extend`." },
    FieldDoc {
        name: job_dir::REFERENCE_AUDIO,
        kind: Kind::File,
        doc: "A recording whose first `overlap` seconds (from `reference_start`) are known audio before the clip.",
    },
    FieldDoc { name: "prompt", kind: Kind::Text, doc: "Text prompt, e.g. \"footsteps, glass breaking\"." },
    FieldDoc { name: "negative", kind: Kind::Text, doc: "Negative text prompt." },
    FieldDoc { name: "steps", kind: Kind::Integer, doc: "Sampling steps (default: the model's; the shortcut sampler takes a power of two)." },
    FieldDoc { name: "sampler", kind: Kind::Sampler, doc: "ODE integrator: `shortcut` or `euler` (default: the model's)." },
    FieldDoc { name: "cfg", kind: Kind::Number, doc: "Classifier-free guidance weight, >= 1 (1 = none)." },
    FieldDoc { name: "seed", kind: Kind::Integer, doc: "Noise seed (same seed, same output). Default 0." },
    FieldDoc { name: "start", kind: Kind::Number, doc: "Start of the part to give sound to, seconds. Default 0." },
    FieldDoc { name: "duration", kind: Kind::Number, doc: "Length of that part, seconds (default: the rest of the video)." },
    FieldDoc { name: "overlap", kind: Kind::Number, doc: "Overlap between long-form windows, seconds." },
    FieldDoc { name: "loudness", kind: Kind::Number, doc: "Integrated loudness of the output, LUFS (below 0)." },
    FieldDoc { name: "true_peak", kind: Kind::Number, doc: "True-peak ceiling, dBTP (at most 0)." },
    FieldDoc { name: "raw_level", kind: Kind::Boolean, doc: "`true`: keep the decoder's raw level (no loudness normalization)." },
    FieldDoc { name: "inpaint", kind: Kind::Text, doc: "`START:END` seconds of `audio` to regenerate." },
    FieldDoc { name: "extend", kind: Kind::Number, doc: "Seconds to continue `audio` past its end." },
    FieldDoc { name: "reference_start", kind: Kind::Number, doc: "Where the reference's excerpt starts, seconds." },
];

/// Longest text field accepted, bytes.
const MAX_TEXT: usize = 16 * 1024;
/// Most sampling steps a job may ask for: a job's time limit cannot interrupt a window, so a
/// window's cost is bounded here.
const MAX_STEPS: u64 = 1024;

/// A read upload: the job's spec and the text fields as given.
pub(crate) struct Upload {
    pub spec: GenerateSpec,
    pub options: BTreeMap<String, String>,
}

/// Reads the whole form: files into `dir` (at most `max_upload` bytes together), text fields
/// checked and applied to `defaults`.
pub(crate) async fn read(mut form: Multipart, dir: &Path, max_upload: u64, defaults: &GenerateSpec) -> Result<Upload, ApiError> {
    let mut options = BTreeMap::new();
    let mut files = Vec::new();
    let mut uploaded = 0u64;
    while let Some(mut field) = form.next_field().await.map_err(|e| form_error(e, max_upload))? {
        let name = field.name().ok_or_else(|| ApiError::bad_request("a form field has no name"))?.to_string();
        let Some(kind) = FIELDS.iter().find(|f| f.name == name).map(|f| f.kind) else {
            let names: Vec<&str> = FIELDS.iter().map(|f| f.name).collect();
            return Err(ApiError::bad_request(format!("unknown field \"{name}\" (the form takes: {})", names.join(", "))));
        };
        if files.contains(&name) || options.contains_key(&name) {
            return Err(ApiError::bad_request(format!("field \"{name}\" is given twice")));
        }
        if kind == Kind::File {
            uploaded += save(&mut field, &dir.join(&name), max_upload - uploaded).await.map_err(|e| e.for_field(&name, max_upload))?;
            files.push(name);
        } else {
            let value = text(&mut field, &name, max_upload).await?;
            // A form's empty input means "not given".
            if !value.is_empty() {
                options.insert(name, value);
            }
        }
    }
    if !files.iter().any(|f| f == job_dir::VIDEO) {
        return Err(ApiError::bad_request("missing the file field \"video\" (the video to give sound to)"));
    }
    let has = |name: &str| files.iter().any(|f| f == name);
    let spec = spec(defaults, &options, dir, has(job_dir::AUDIO), has(job_dir::REFERENCE_AUDIO))?;
    Ok(Upload { spec, options })
}

/// Why saving a file field stopped.
enum SaveError {
    TooLarge,
    Form(MultipartError),
    Disk(std::io::Error),
}

impl SaveError {
    fn for_field(self, name: &str, max_upload: u64) -> ApiError {
        match self {
            SaveError::TooLarge => too_large(max_upload),
            SaveError::Form(e) => form_error(e, max_upload),
            SaveError::Disk(e) => ApiError::internal(format!("saving the uploaded {name}: {e}")),
        }
    }
}

/// Streams a file field to `path`; returns its size, at most `budget` bytes.
async fn save(field: &mut Field<'_>, path: &Path, budget: u64) -> Result<u64, SaveError> {
    let mut file = tokio::fs::File::create(path).await.map_err(SaveError::Disk)?;
    let mut size = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(SaveError::Form)? {
        size += chunk.len() as u64;
        if size > budget {
            return Err(SaveError::TooLarge);
        }
        file.write_all(&chunk).await.map_err(SaveError::Disk)?;
    }
    file.flush().await.map_err(SaveError::Disk)?;
    Ok(size)
}

async fn text(field: &mut Field<'_>, name: &str, max_upload: u64) -> Result<String, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| form_error(e, max_upload))? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_TEXT {
            return Err(ApiError::bad_request(format!("field \"{name}\" is longer than {} KiB", MAX_TEXT / 1024)));
        }
    }
    let value = String::from_utf8(bytes).map_err(|_| ApiError::bad_request(format!("field \"{name}\" is not UTF-8 text")))?;
    Ok(value.trim().to_string())
}

fn too_large(max_upload: u64) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("the upload is larger than this server's limit of {} (--max-upload)", size_text(max_upload)))
}

/// A size as people read it: MiB when whole, else KiB, else bytes.
pub(crate) fn size_text(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

/// A malformed form (400) or one over the body limit (413).
pub(crate) fn form_error(e: MultipartError, max_upload: u64) -> ApiError {
    match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => too_large(max_upload),
        status if status.is_client_error() => ApiError::new(status, format!("malformed multipart form: {}", e.body_text())),
        _ => ApiError::bad_request(format!("reading the upload failed: {} (was the request cut off?)", e.body_text())),
    }
}

/// `defaults` with the form's options and the server's own paths.
fn spec(defaults: &GenerateSpec, options: &BTreeMap<String, String>, dir: &Path, audio: bool, reference: bool) -> Result<GenerateSpec, ApiError> {
    let mut spec = GenerateSpec {
        input: dir.join(job_dir::VIDEO),
        output: Some(dir.join(job_dir::MP4)),
        audio: audio.then(|| dir.join(job_dir::AUDIO)),
        reference_audio: reference.then(|| dir.join(job_dir::REFERENCE_AUDIO)),
        stream: None,
        ..defaults.clone()
    };
    for (name, value) in options {
        match name.as_str() {
            "prompt" => spec.prompt = Some(value.clone()),
            "negative" => spec.negative = Some(value.clone()),
            "steps" => {
                let steps = integer(name, value)?;
                if steps > MAX_STEPS {
                    return Err(ApiError::bad_request(format!("field \"steps\": at most {MAX_STEPS} on this server, got {steps}")));
                }
                spec.steps = Some(steps as usize)
            }
            "sampler" => {
                spec.sampler = Some(match value.as_str() {
                    "shortcut" => SamplerKind::Shortcut,
                    "euler" => SamplerKind::Euler,
                    _ => return Err(ApiError::bad_request(format!("field \"sampler\": expected shortcut or euler, got \"{value}\""))),
                })
            }
            "cfg" => spec.cfg = Some(number(name, value)? as f32),
            "seed" => spec.seed = integer(name, value)?,
            "start" => spec.start = number(name, value)?,
            "duration" => spec.duration = Some(number(name, value)?),
            "overlap" => spec.overlap = number(name, value)?,
            "loudness" => spec.loudness = number(name, value)?,
            "true_peak" => spec.true_peak = number(name, value)?,
            "raw_level" => {
                spec.raw_level = match value.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(ApiError::bad_request(format!("field \"raw_level\": expected true or false, got \"{value}\""))),
                }
            }
            "inpaint" => spec.inpaint = Some(value.clone()),
            "extend" => spec.extend = Some(number(name, value)?),
            "reference_start" => spec.reference_start = number(name, value)?,
            // `read` admits only the fields of FIELDS; files are not options.
            other => return Err(ApiError::internal(format!("form field \"{other}\" has no meaning in a job"))),
        }
    }
    Ok(spec)
}

fn integer(name: &str, value: &str) -> Result<u64, ApiError> {
    value.parse().map_err(|_| ApiError::bad_request(format!("field \"{name}\": expected a whole number >= 0, got \"{value}\"")))
}

fn number(name: &str, value: &str) -> Result<f64, ApiError> {
    match value.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(ApiError::bad_request(format!("field \"{name}\": expected a number, got \"{value}\""))),
    }
}

/// `message` (a job check's, written for the command line) in the form's terms: `--true-peak`
/// is the field `true_peak`.
pub(crate) fn in_form_terms(message: &str) -> String {
    let mut out = message.to_string();
    for field in FIELDS {
        let flag = format!("--{}", field.name.replace('_', "-"));
        if field.kind == Kind::File {
            out = out.replace(&format!("{flag} FILE"), &format!("the file field \"{}\"", field.name));
        }
        out = out.replace(&flag, field.name);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn options_override_defaults_and_paths_are_the_servers() {
        let defaults = GenerateSpec { model: Some("m.safetensors".into()), steps: Some(4), stream: Some("/etc/x".into()), ..Default::default() };
        let dir = Path::new("/data/jobs/ab");
        let got = spec(&defaults, &options(&[("steps", "2"), ("sampler", "euler"), ("raw_level", "true"), ("duration", "1.5")]), dir, true, false).unwrap();
        assert_eq!(got.input, dir.join("video"));
        assert_eq!(got.output.as_deref(), Some(dir.join("result.mp4").as_path()));
        assert_eq!(got.audio.as_deref(), Some(dir.join("audio").as_path()));
        assert_eq!((got.reference_audio, got.stream), (None, None));
        assert_eq!((got.steps, got.sampler, got.raw_level, got.duration), (Some(2), Some(SamplerKind::Euler), true, Some(1.5)));
        assert_eq!(got.model.as_deref(), Some("m.safetensors"), "the server's model");
    }

    #[test]
    fn bad_values_name_their_field() {
        let dir = Path::new("/d");
        for (field, value, expected) in [
            ("steps", "abc", "field \"steps\": expected a whole number >= 0, got \"abc\""),
            ("steps", "-2", "field \"steps\": expected a whole number >= 0, got \"-2\""),
            ("steps", "4096", "field \"steps\": at most 1024 on this server, got 4096"),
            ("cfg", "inf", "field \"cfg\": expected a number, got \"inf\""),
            ("sampler", "rk4", "field \"sampler\": expected shortcut or euler, got \"rk4\""),
            ("raw_level", "yes", "field \"raw_level\": expected true or false, got \"yes\""),
        ] {
            let err = spec(&GenerateSpec::default(), &options(&[(field, value)]), dir, false, false).err().unwrap();
            assert_eq!((err.status, err.message.as_str()), (StatusCode::BAD_REQUEST, expected));
        }
    }

    #[test]
    fn command_line_flags_become_field_names() {
        assert_eq!(
            in_form_terms("--loudness must be below 0 LUFS and --true-peak at most 0 dBTP"),
            "loudness must be below 0 LUFS and true_peak at most 0 dBTP"
        );
        assert_eq!(in_form_terms("--reference-audio cannot be combined with --inpaint"), "reference_audio cannot be combined with inpaint");
        assert_eq!(in_form_terms("give it with --audio FILE"), "give it with the file field \"audio\"");
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(size_text(512 << 20), "512 MiB");
        assert_eq!(size_text(1024), "1 KiB");
        assert_eq!(size_text(1000), "1000 bytes");
    }
}
