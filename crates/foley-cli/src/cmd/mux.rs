//! `foley mux`: put a soundtrack on a video without re-encoding the video.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::output::spinner;

/// Copy the video stream of VIDEO bit-exactly and add the first audio stream of AUDIO as AAC,
/// padded with silence or trimmed to the video's duration. Rotation metadata is kept.
#[derive(Args)]
pub struct MuxArgs {
    /// The video whose picture is kept (its own audio, if any, is dropped).
    pub video: PathBuf,
    /// The soundtrack: any file with an audio stream.
    pub audio: PathBuf,
    /// Output file (e.g. `.mp4`); must not be one of the inputs.
    #[arg(short, long)]
    pub output: PathBuf,
}

pub fn run(args: MuxArgs) -> Result<()> {
    let bar = spinner("muxing");
    foley_media::mux(&args.video, &args.audio, &args.output)?;
    bar.finish_and_clear();
    println!("wrote {}", args.output.display());
    Ok(())
}
