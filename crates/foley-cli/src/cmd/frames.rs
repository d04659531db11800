//! `foley frames`: sample frames and write them as PNG files for inspection.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use foley_media::{FrameReader, FrameRequest, Rational, Resize};

use crate::output::{progress, write_atomic};

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
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("{}: cannot create the output directory", args.output.display()))?;
    let bar = progress(reader.expected().unwrap_or(0) as u64, "frames");
    let mut count = 0;
    for frame in reader {
        let frame = frame?;
        let path = args.output.join(format!("frame_{:06}.png", frame.index));
        write_atomic(&path, |tmp| write_png(tmp, frame.width, frame.height, &frame.rgb))?;
        count += 1;
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!("wrote {count} frames to {}", args.output.display());
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
