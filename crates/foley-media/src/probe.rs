//! `ffprobe` as a typed description of a media file.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ffmpeg::{check_input, output, tool_command, unreadable};
use crate::{MAX_FRAME_SIDE, MediaError, Rational};

/// What a media file contains.
#[derive(Debug, Clone, Serialize)]
pub struct MediaInfo {
    pub path: String,
    /// ffmpeg's demuxer name(s), e.g. `mov,mp4,m4a,3gp,3g2,mj2`.
    pub container: String,
    /// Container duration in seconds, when known.
    pub duration: Option<f64>,
    /// The first video stream (cover art excluded).
    pub video: Option<VideoStream>,
    /// Every audio stream, in file order.
    pub audio: Vec<AudioStream>,
}

/// A video stream as displayed (width and height after rotation).
#[derive(Debug, Clone, Serialize)]
pub struct VideoStream {
    pub index: usize,
    pub codec: String,
    /// Stored (coded) width and height.
    pub width: u32,
    pub height: u32,
    /// Size after applying `rotation`.
    pub display_width: u32,
    pub display_height: u32,
    /// Average frame rate (`avg_frame_rate`, else `r_frame_rate`).
    pub fps: Option<Rational>,
    /// Number of frames (from the container, else counted from packets).
    pub frame_count: Option<u64>,
    /// Display rotation in degrees, counter-clockwise as in ffmpeg's display matrix.
    pub rotation: i32,
    pub duration: Option<f64>,
    /// The stream's time base, e.g. `1/15360`.
    pub time_base: Option<Rational>,
}

/// An audio stream.
#[derive(Debug, Clone, Serialize)]
pub struct AudioStream {
    pub index: usize,
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u32,
    pub duration: Option<f64>,
}

#[derive(Deserialize)]
struct ProbeJson {
    #[serde(default)]
    streams: Vec<StreamJson>,
    format: Option<FormatJson>,
}

#[derive(Deserialize)]
struct FormatJson {
    format_name: Option<String>,
    duration: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct StreamJson {
    index: usize,
    codec_type: Option<String>,
    codec_name: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    avg_frame_rate: Option<String>,
    r_frame_rate: Option<String>,
    time_base: Option<String>,
    nb_frames: Option<String>,
    duration: Option<String>,
    sample_rate: Option<String>,
    channels: Option<u32>,
    tags: Option<std::collections::HashMap<String, String>>,
    side_data_list: Vec<serde_json::Value>,
    disposition: Option<std::collections::HashMap<String, i64>>,
}

/// Describes `path`; fails with a precise reason if it is not a readable media file.
///
/// A job asks about its input several times (checks, frame readers, mux): the answer for a file
/// whose size and modification time are unchanged is remembered for the process, so ffprobe
/// runs once per file version.
pub fn probe(path: &Path) -> Result<MediaInfo, MediaError> {
    check_input(path)?;
    let key = std::fs::canonicalize(path).ok().zip(std::fs::metadata(path).ok().and_then(|m| Some((m.len(), m.modified().ok()?))));
    if let Some((file, version)) = &key
        && let Some(info) = cache().lock().unwrap_or_else(|e| e.into_inner()).get(file).filter(|(v, _)| v == version)
    {
        return Ok(MediaInfo { path: path.display().to_string(), ..info.1.clone() });
    }
    let info = run_ffprobe(path)?;
    if let Some((file, version)) = key {
        let mut cache = cache().lock().unwrap_or_else(|e| e.into_inner());
        // A server probes every upload: keep the memory bounded.
        if cache.len() >= PROBE_CACHE_FILES {
            cache.clear();
        }
        cache.insert(file, (version, info.clone()));
    }
    Ok(info)
}

/// Files whose probe is remembered at once.
const PROBE_CACHE_FILES: usize = 64;

type ProbeCache = std::collections::HashMap<std::path::PathBuf, ((u64, std::time::SystemTime), MediaInfo)>;

fn cache() -> &'static std::sync::Mutex<ProbeCache> {
    static CACHE: std::sync::OnceLock<std::sync::Mutex<ProbeCache>> = std::sync::OnceLock::new();
    CACHE.get_or_init(Default::default)
}

fn run_ffprobe(path: &Path) -> Result<MediaInfo, MediaError> {
    let mut cmd = tool_command("ffprobe")?;
    cmd.args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams"]).arg(path);
    let out = output(&mut cmd, path)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(unreadable(path, &stderr));
    }
    // Tags are the file's own bytes, not always UTF-8 (a title of FF FE): read them lossily.
    let json = String::from_utf8_lossy(&out.stdout);
    let parsed: ProbeJson =
        serde_json::from_str(&json).map_err(|e| MediaError::Unreadable { path: path.into(), detail: format!("unexpected ffprobe output: {e}") })?;
    let format = parsed.format.ok_or_else(|| MediaError::Unreadable { path: path.into(), detail: "ffprobe found no container".into() })?;
    if parsed.streams.is_empty() {
        return Err(MediaError::Unreadable { path: path.into(), detail: "no audio or video streams".into() });
    }

    let mut video = None;
    let mut audio = Vec::new();
    for s in &parsed.streams {
        match s.codec_type.as_deref() {
            Some("video") if video.is_none() && !is_cover_art(s) => video = Some(video_stream(path, s)?),
            Some("audio") => audio.push(AudioStream {
                index: s.index,
                codec: s.codec_name.clone().unwrap_or_default(),
                sample_rate: s.sample_rate.as_deref().and_then(|r| r.parse().ok()).unwrap_or(0),
                channels: s.channels.unwrap_or(0),
                duration: parse_f64(&s.duration),
            }),
            _ => {}
        }
    }
    let container = format.format_name.unwrap_or_default();
    if container.starts_with("mov,") {
        check_mp4_boxes(path)?;
    }
    let duration = parse_f64(&format.duration);
    // A video cut to nothing (e.g. an empty edit list) still declares its samples, but the
    // container's duration is exactly 0 and decoding yields no frame.
    if video.is_some() && duration == Some(0.0) {
        return Err(MediaError::NoFrames { path: path.into(), detail: " (the file's duration is 0 s)".into() });
    }
    if let Some(v) = video.as_mut().filter(|v| v.frame_count.is_none()) {
        v.frame_count = count_packets(path, v.index).ok();
    }
    Ok(MediaInfo { path: path.display().to_string(), container, duration, video, audio })
}

fn video_stream(path: &Path, s: &StreamJson) -> Result<VideoStream, MediaError> {
    let (width, height) = (s.width.unwrap_or(0), s.height.unwrap_or(0));
    if width > MAX_FRAME_SIDE || height > MAX_FRAME_SIDE {
        return Err(MediaError::TooLarge { path: path.into(), width, height, max: MAX_FRAME_SIDE });
    }
    let rotation = rotation(s);
    let (display_width, display_height) = if rotation.rem_euclid(180) == 90 { (height, width) } else { (width, height) };
    let fps = parse_rational(&s.avg_frame_rate).or_else(|| parse_rational(&s.r_frame_rate));
    Ok(VideoStream {
        index: s.index,
        codec: s.codec_name.clone().unwrap_or_default(),
        width,
        height,
        display_width,
        display_height,
        fps,
        frame_count: s.nb_frames.as_deref().and_then(|n| n.parse().ok()),
        rotation,
        duration: parse_f64(&s.duration),
        time_base: parse_rational(&s.time_base),
    })
}

/// Attached pictures (album art) are "video" streams with a single image; skip them.
fn is_cover_art(s: &StreamJson) -> bool {
    s.disposition.as_ref().and_then(|d| d.get("attached_pic")).copied().unwrap_or(0) == 1
}

/// Rotation from the display matrix side data, else the legacy `rotate` tag (clockwise).
fn rotation(s: &StreamJson) -> i32 {
    let from_matrix = s.side_data_list.iter().find_map(|d| d.get("rotation").and_then(serde_json::Value::as_f64)).map(|r| r.round() as i32);
    let from_tag = || {
        let tag = s.tags.as_ref()?.get("rotate")?;
        Some(-tag.parse::<i32>().ok()?)
    };
    let r = from_matrix.or_else(from_tag).unwrap_or(0).rem_euclid(360);
    if r > 180 { r - 360 } else { r }
}

/// Counts packets of stream `index` (demux only, no decoding) when the container has no count.
fn count_packets(path: &Path, index: usize) -> Result<u64, MediaError> {
    let mut cmd = tool_command("ffprobe")?;
    cmd.args(["-v", "error", "-count_packets", "-select_streams"])
        .arg(index.to_string())
        .args(["-show_entries", "stream=nb_read_packets", "-of", "csv=p=0"])
        .arg(path);
    let out = output(&mut cmd, path)?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .trim_end_matches(',')
        .parse()
        .map_err(|_| MediaError::Unreadable { path: path.into(), detail: "could not count video packets".into() })
}

/// An MP4/MOV file is a sequence of top-level boxes, each declaring its size. ffprobe reads the
/// index (`moov`) and reports the full duration even when the media data (`mdat`) after it was
/// cut off; a box that runs past the end of the file is the sign (four reads per box, no decoding).
fn check_mp4_boxes(path: &Path) -> Result<(), MediaError> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).map_err(|e| MediaError::io(path, e))?;
    let len = f.metadata().map_err(|e| MediaError::io(path, e))?.len();
    let mut pos = 0u64;
    while pos + 8 <= len {
        let mut head = [0u8; 16];
        f.seek(SeekFrom::Start(pos)).map_err(|e| MediaError::io(path, e))?;
        let got = f.read(&mut head).map_err(|e| MediaError::io(path, e))?;
        let size32 = u32::from_be_bytes(head[..4].try_into().expect("4 bytes")) as u64;
        let kind = String::from_utf8_lossy(&head[4..8]).into_owned();
        let size = match size32 {
            // Size 0: the box runs to the end of the file.
            0 => return Ok(()),
            1 if got >= 16 => u64::from_be_bytes(head[8..16].try_into().expect("8 bytes")),
            1 => return Ok(()),
            s => s,
        };
        if size < 8 {
            return Ok(()); // Not a box layout we understand; ffprobe already accepted the file.
        }
        if pos + size > len {
            let detail = format!("its `{kind}` box declares {size} bytes at offset {pos}, but the file ends after {len} bytes");
            return Err(MediaError::Truncated { path: path.into(), detail });
        }
        pos += size;
    }
    Ok(())
}

fn parse_f64(s: &Option<String>) -> Option<f64> {
    s.as_deref().and_then(|v| v.parse().ok()).filter(|v: &f64| v.is_finite())
}

fn parse_rational(s: &Option<String>) -> Option<Rational> {
    let (n, d) = s.as_deref()?.split_once('/')?;
    Rational::new(n.parse().ok()?, d.parse().ok()?).filter(|r| r.num > 0)
}
