//! Putting a soundtrack on a video without touching the video stream.

use std::path::Path;

use crate::ffmpeg::{ffmpeg, run};
use crate::{AtomicOutput, MediaError, ensure_not_input, probe};

/// Writes `out` = the video stream of `video`, copied bit-exactly (rotation metadata kept),
/// plus the first audio stream of `audio` encoded as AAC and padded with silence or trimmed
/// to the video's duration.
pub fn mux(video: &Path, audio: &Path, out: &Path) -> Result<(), MediaError> {
    ensure_not_input(out, &[video, audio])?;
    let vinfo = probe(video)?;
    let vstream = vinfo.video.as_ref().ok_or_else(|| MediaError::NoVideo { path: video.into() })?;
    if vstream.frame_count == Some(0) {
        return Err(MediaError::NoFrames { path: video.into(), detail: String::new() });
    }
    let ainfo = probe(audio)?;
    if ainfo.audio.is_empty() {
        return Err(MediaError::NoAudio { path: audio.into() });
    }
    let duration =
        vstream.duration.or(vinfo.duration).ok_or_else(|| MediaError::Unreadable { path: video.into(), detail: "the video's duration is unknown".into() })?;

    // AAC takes mono or stereo in standard layouts; "1 channel (FL)" (our WAVs) or 5.1 inputs
    // are remixed by naming the channel count.
    let channels = ainfo.audio[0].channels.clamp(1, 2).to_string();
    let tmp = AtomicOutput::new(out)?;
    let mut cmd = ffmpeg()?;
    cmd.arg("-i").arg(video).arg("-i").arg(audio);
    cmd.args(["-map", &format!("0:{}", vstream.index), "-map", "1:a:0"])
        .args(["-c:v", "copy", "-c:a", "aac", "-b:a", "192k", "-ac", &channels])
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

/// Reads every packet of `path` without decoding and reports a truncated file.
fn demux_check(path: &Path) -> Result<(), MediaError> {
    let mut cmd = ffmpeg()?;
    cmd.arg("-i").arg(path).args(["-map", "0", "-c", "copy", "-f", "null", "-"]);
    run(cmd, path).map(|_| ())
}
