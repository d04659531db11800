//! Putting a soundtrack on a video without touching the video stream.

use std::path::Path;

use crate::ffmpeg::{check_input, ffmpeg, run};
use crate::{AtomicOutput, MediaError, VideoStream, ensure_not_input, probe};

/// How a soundtrack is put into an output container: which video codecs it can carry as a
/// stream copy and which audio codec is encoded.
struct Container {
    extensions: &'static [&'static str],
    /// `None`: any codec ffmpeg can copy.
    video: Option<&'static [&'static str]>,
    audio: &'static [&'static str],
}

const CONTAINERS: [Container; 4] = [
    Container {
        extensions: &["mp4", "m4v"],
        video: Some(&["h264", "hevc", "av1", "vp9", "mpeg4", "mpeg2video", "mpeg1video", "mjpeg"]),
        audio: &["-c:a", "aac", "-b:a", "192k"],
    },
    Container { extensions: &["mov"], video: None, audio: &["-c:a", "aac", "-b:a", "192k"] },
    Container { extensions: &["mkv"], video: None, audio: &["-c:a", "aac", "-b:a", "192k"] },
    Container { extensions: &["webm"], video: Some(&["vp8", "vp9", "av1"]), audio: &["-c:a", "libopus", "-b:a", "128k"] },
];

/// Can `video` be copied into a file named `out`? Checked before any work, so a job fails at
/// once instead of after generating; the error names the file and says what would work.
pub fn check_muxable(video_path: &Path, video: &VideoStream, out: &Path) -> Result<(), MediaError> {
    container_for(video_path, video, out).map(|_| ())
}

fn container_for(video_path: &Path, video: &VideoStream, out: &Path) -> Result<&'static Container, MediaError> {
    if out.is_dir() {
        return Err(MediaError::IsDirectory { path: out.into() });
    }
    let ext = out.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
    let Some(c) = CONTAINERS.iter().find(|c| c.extensions.contains(&ext.as_str())) else {
        return Err(MediaError::InvalidArgument(format!("{}: output must end in .mp4, .m4v, .mov, .mkv or .webm", out.display())));
    };
    match c.video {
        Some(codecs) if !codecs.contains(&video.codec.as_str()) => Err(MediaError::InvalidArgument(format!(
            "{}: its {} video cannot be copied into a .{ext} file ({ext} takes {}); write .mkv or .mov instead (they take any codec)",
            video_path.display(),
            video.codec,
            codecs.join(", ")
        ))),
        _ => Ok(c),
    }
}

/// Writes `out` = the video stream of `video`, copied bit-exactly (rotation metadata kept),
/// plus the first audio stream of `audio` encoded (AAC; Opus for .webm) and padded with
/// silence or trimmed to the video's duration.
pub fn mux(video: &Path, audio: &Path, out: &Path) -> Result<(), MediaError> {
    ensure_not_input(out, &[video, audio])?;
    let vinfo = probe(video)?;
    let vstream = vinfo.video.as_ref().ok_or_else(|| MediaError::NoVideo { path: video.into() })?;
    if vstream.frame_count == Some(0) {
        return Err(MediaError::NoFrames { path: video.into(), detail: String::new() });
    }
    let container = container_for(video, vstream, out)?;
    let channels = audio_channels(audio)?;
    let duration =
        vstream.duration.or(vinfo.duration).ok_or_else(|| MediaError::Unreadable { path: video.into(), detail: "the video's duration is unknown".into() })?;

    // AAC and Opus take mono or stereo in standard layouts; "1 channel (FL)" (our WAVs) or 5.1 inputs
    // are remixed by naming the channel count.
    let channels = channels.clamp(1, 2).to_string();
    let tmp = AtomicOutput::new(out)?;
    let mut cmd = ffmpeg()?;
    cmd.arg("-i").arg(video).arg("-i").arg(audio);
    cmd.args(["-map", &format!("0:{}", vstream.index), "-map", "1:a:0"])
        .args(["-c:v", "copy"])
        .args(container.audio)
        .args(["-ac", &channels])
        .args(["-af", &format!("apad=whole_dur={duration},atrim=end={duration}")])
        .args(["-map_metadata", "0", "-movflags", "+faststart", "-y"])
        .arg(tmp.path());
    match run(cmd, out) {
        // ffmpeg does not say which input was cut off; demuxing each again (no decoding) does.
        Err(MediaError::Truncated { detail, .. }) => {
            let culprit = [video, audio].into_iter().find(|p| demux_check(p).is_err()).unwrap_or(video);
            return Err(MediaError::Truncated { path: culprit.into(), detail });
        }
        other => other?,
    };
    tmp.commit()
}

/// Channels of `audio`'s first audio stream. A WAV's header says it (foley's own soundtracks:
/// no ffprobe process for them); anything else is probed.
fn audio_channels(audio: &Path) -> Result<u32, MediaError> {
    // Before any read: a FIFO or device would block the header read forever.
    check_input(audio)?;
    if let Ok(wav) = hound::WavReader::open(audio) {
        return Ok(wav.spec().channels.into());
    }
    let info = probe(audio)?;
    info.audio.first().map(|a| a.channels).ok_or_else(|| MediaError::NoAudio { path: audio.into() })
}

/// Reads every packet of `path` without decoding and reports a truncated file.
fn demux_check(path: &Path) -> Result<(), MediaError> {
    let mut cmd = ffmpeg()?;
    cmd.arg("-i").arg(path).args(["-map", "0", "-c", "copy", "-f", "null", "-"]);
    run(cmd, path).map(|_| ())
}
