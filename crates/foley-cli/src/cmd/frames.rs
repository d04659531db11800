//! `foley frames`: sample frames and write them as PNG files for inspection.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use foley_media::{FrameReader, FrameRequest, Rational, Resize};

use crate::output::progress;

/// Sample frames at a target rate and write them as PNG files.
#[derive(Args)]
pub struct FramesArgs {
    /// The video file.
    pub file: PathBuf,
    /// Target frame rate, e.g. 8, 25 or 30000/1001.
    #[arg(long, default_value = "8")]
    pub fps: Rational,
    /// Output size in pixels: the square side in crop mode, width and height in squash mode.
    #[arg(long, default_value_t = 224)]
    pub size: u32,
    /// How frames are resized.
    #[arg(long, value_enum, default_value_t = Mode::Crop)]
    pub mode: Mode,
    /// Start time in seconds.
    #[arg(long, default_value_t = 0.0)]
    pub start: f64,
    /// Duration in seconds (default: to the end of the video).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Output directory (created if missing); frames are written as frame_000000.png, ...
    #[arg(short, long)]
    pub output: PathBuf,
}

/// Resize modes.
#[derive(Clone, Copy, ValueEnum)]
pub enum Mode {
    /// Shorter side to SIZE, then a centred SIZExSIZE crop.
    Crop,
    /// Scale to SIZExSIZE, ignoring the aspect ratio.
    Squash,
}

pub fn run(args: FramesArgs) -> Result<()> {
    let resize = match args.mode {
        Mode::Crop => Resize::CropSquare(args.size),
        Mode::Squash => Resize::Squash { width: args.size, height: args.size },
    };
    let request = FrameRequest { fps: args.fps, start: args.start, duration: args.duration, resize };
    let reader = FrameReader::open(&args.file, &request)?;
    // Frames stream into a temporary directory beside the output; only a complete run moves
    // them into place, so a failure midway (e.g. a truncated file) leaves no partial output.
    if args.output.exists() && !args.output.is_dir() {
        anyhow::bail!("{}: exists and is not a directory", args.output.display());
    }
    let staging = foley_media::StagingDir::for_dest(&args.output)?;
    let bar = progress(reader.expected().unwrap_or(0) as u64, "frames");
    let mut names = Vec::new();
    for frame in reader {
        let frame = frame?;
        let name = format!("frame_{:06}.png", frame.index);
        write_png(&staging.path().join(&name), frame.width, frame.height, &frame.rgb)
            .with_context(|| format!("writing {}", args.output.join(&name).display()))?;
        names.push(name);
        bar.inc(1);
    }
    bar.finish_and_clear();
    publish(staging.path(), &names, &args.output)?;
    println!("wrote {} frames to {}", names.len(), args.output.display());
    Ok(())
}

/// Moves the finished frames `names` from `staging` into `output` (renamed as a whole when
/// `output` does not exist yet).
fn publish(staging: &Path, names: &[String], output: &Path) -> Result<()> {
    if !output.exists() {
        return std::fs::rename(staging, output).with_context(|| format!("{}: cannot create the output directory", output.display()));
    }
    anyhow::ensure!(output.is_dir(), "{}: exists and is not a directory", output.display());
    for name in names {
        std::fs::rename(staging.join(name), output.join(name)).with_context(|| format!("writing {}", output.join(name).display()))?;
    }
    Ok(())
}

/// Writes packed RGB8 as a PNG file.
pub fn write_png(path: &Path, width: u32, height: u32, rgb: &[u8]) -> Result<()> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut encoder = png::Encoder::new(file, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header()?.write_image_data(rgb)?;
    Ok(())
}
