//! `foley probe`: describe a media file.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

/// Describe a media file.
#[derive(Args)]
pub struct ProbeArgs {
    /// The media file (any container ffmpeg reads).
    pub file: PathBuf,
    /// Print machine-readable JSON instead of a summary.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ProbeArgs) -> Result<()> {
    let info = foley_media::probe(&args.file)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(());
    }
    println!("file:      {}", info.path);
    println!("container: {}", info.container);
    println!("duration:  {}", info.duration.map_or("unknown".into(), |d| format!("{d:.3} s")));
    match &info.video {
        Some(v) => {
            let fps = v.fps.map_or("unknown".into(), |f| format!("{f} ({:.3})", f.as_f64()));
            let frames = v.frame_count.map_or("unknown".into(), |n| n.to_string());
            println!(
                "video:     {} {}x{} (displayed {}x{}, rotation {}°), {fps} fps, {frames} frames",
                v.codec, v.width, v.height, v.display_width, v.display_height, v.rotation
            );
        }
        None => println!("video:     none"),
    }
    if info.audio.is_empty() {
        println!("audio:     none");
    }
    for a in &info.audio {
        println!("audio:     #{} {} {} Hz, {} channel(s)", a.index, a.codec, a.sample_rate, a.channels);
    }
    Ok(())
}
