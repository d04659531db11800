//! Helpers shared by the media integration tests: ffmpeg/ffprobe runs and a frame-counter
//! video whose every frame shows its own index as a pattern of big black/white blocks.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs ffmpeg with `args` (quiet, overwriting); panics with its stderr on failure.
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg").args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]).args(args).output().expect("ffmpeg runs");
    assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Runs ffprobe with `args` and returns its stdout.
pub fn ffprobe(args: &[&str]) -> String {
    let out = Command::new("ffprobe").args(["-v", "error"]).args(args).output().expect("ffprobe runs");
    assert!(out.status.success(), "ffprobe {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Pipes `frames` raw RGB frames into ffmpeg (`input_args` describe the rawvideo input's rate,
/// `output_args` the encoding) and writes `path`.
pub fn encode_frames(path: &Path, (w, h): (u32, u32), frames: impl Iterator<Item = Vec<u8>>, input_args: &[&str], output_args: &[&str]) {
    let size = format!("{w}x{h}");
    let mut child = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", &size])
        .args(input_args)
        .args(["-i", "pipe:0"])
        .args(output_args)
        .arg(path)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ffmpeg starts");
    let mut stdin = child.stdin.take().unwrap();
    for f in frames {
        // A write error means ffmpeg quit; its stderr, checked below, says why.
        if stdin.write_all(&f).is_err() {
            break;
        }
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "encoding {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
}

/// Lossless H.264 (qp 0) in mp4: the counter blocks survive exactly enough to be read back.
pub const H264_LOSSLESS: &[&str] = &["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p"];

/// Bits of the counter: 4 columns x 2 rows of blocks inside the frame's central square.
const COLS: u32 = 4;
const ROWS: u32 = 2;

/// The frame-counter picture: the central square (the part a centre crop keeps) holds frame
/// index `i` as 8 black/white blocks (bit 0 top-left, row-major); outside it is pure red.
pub fn counter_frame(i: u32, w: u32, h: u32) -> Vec<u8> {
    assert!(i < 1 << (COLS * ROWS), "counter overflows");
    let side = w.min(h);
    let (x0, y0) = ((w - side) / 2, (h - side) / 2);
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    for y in 0..h {
        for x in 0..w {
            let p = ((y * w + x) * 3) as usize;
            let inside = x >= x0 && x < x0 + side && y >= y0 && y < y0 + side;
            let px = if inside {
                let (c, r) = ((x - x0) * COLS / side, (y - y0) * ROWS / side);
                if i >> (r * COLS + c) & 1 == 1 { [255, 255, 255] } else { [0, 0, 0] }
            } else {
                [255, 0, 0]
            };
            rgb[p..p + 3].copy_from_slice(&px);
        }
    }
    rgb
}

/// Reads the counter back from a packed RGB picture of width `w` in which the source's central
/// square occupies `[x0, x0 + sw) x [y0, y0 + sh)` (fractional pixels), averaging a small
/// neighbourhood around each block centre.
pub fn read_counter(rgb: &[u8], w: u32, (x0, y0, sw, sh): (f64, f64, f64, f64)) -> u32 {
    let mut value = 0;
    for r in 0..ROWS {
        for c in 0..COLS {
            let cx = (x0 + (c as f64 + 0.5) * sw / COLS as f64) as i64;
            let cy = (y0 + (r as f64 + 0.5) * sh / ROWS as f64) as i64;
            let (mut sum, mut n) = (0u32, 0u32);
            for dy in -1..=1 {
                for dx in -1..=1 {
                    let p = (((cy + dy) * w as i64 + cx + dx) * 3) as usize;
                    sum += rgb[p + 1] as u32; // green: white 255, black 0, red 0
                    n += 1;
                }
            }
            if sum / n > 128 {
                value |= 1 << (r * COLS + c);
            }
        }
    }
    value
}

/// Is this pixel clearly red (the area outside the central square)?
pub fn is_red(px: &[u8]) -> bool {
    px[0] > 160 && px[1] < 90 && px[2] < 90
}

/// An exact non-negative rational, `num / den`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Q(pub i128, pub i128);

impl Q {
    pub fn ge(self, o: Q) -> bool {
        self.0 * o.1 >= o.0 * self.1
    }
    pub fn add(self, o: Q) -> Q {
        Q(self.0 * o.1 + o.0 * self.1, self.1 * o.1)
    }
}

/// MMAudio's selection rule in exact arithmetic: for each target instant `start + k / fps`
/// (k < `count` if given) the index of the first source frame whose time is at or after it;
/// sampling ends when no source frame is left.
pub fn expected_indices(source_times: &[Q], start: Q, fps: Q, count: Option<usize>) -> Vec<u32> {
    let mut out = Vec::new();
    for k in 0.. {
        if count.is_some_and(|n| k >= n) {
            break;
        }
        let instant = start.add(Q(k as i128 * fps.1, fps.0));
        match source_times.iter().position(|&t| t.ge(instant)) {
            Some(i) => out.push(i as u32),
            None => break,
        }
    }
    out
}
