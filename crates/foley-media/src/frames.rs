//! Streaming frame sampling with MMAudio's selection rule.
//!
//! ffmpeg decodes every frame of the first video stream (rotation applied), a `showinfo`
//! filter reports each frame's exact timestamp on stderr, and the frame is resized before it
//! enters the pipe. For each target instant `k / fps` after `start` we keep the first decoded
//! frame whose timestamp is at or after it, so frames repeat when the source is slower and
//! variable frame rates need no special case. Only one decoded frame is held at a time.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Stdio};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, channel};
use std::thread::JoinHandle;

use crate::cleanup::ChildGuard;
use crate::ffmpeg::{check_input, check_truncation, spawn, stderr_summary, tool_command};
use crate::{MAX_FRAME_SIDE, MediaError, Rational, probe};

/// How frames are resized before they reach the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resize {
    /// Shorter side to `S` (bicubic), then a centred `S x S` crop (torchvision's
    /// `Resize(S)` + `CenterCrop(S)`).
    CropSquare(u32),
    /// Scale to exactly `width x height`, ignoring the aspect ratio.
    Squash { width: u32, height: u32 },
    /// Keep the displayed size.
    Native,
}

/// Which frames to sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameRequest {
    /// Target frame rate.
    pub fps: Rational,
    /// Start time in seconds.
    pub start: f64,
    /// Duration in seconds; `None` samples to the end of the video.
    pub duration: Option<f64>,
    pub resize: Resize,
}

/// One sampled frame: packed RGB, row-major, `height x width x 3`.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Target index `k`: the frame stands for instant `start + k / fps`.
    pub index: usize,
    /// `k / fps`, seconds after `start`.
    pub time: f64,
    /// Timestamp of the decoded frame that was chosen, seconds after `start`.
    pub source_time: f64,
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl Frame {
    /// Pixels as f32 in `[0, 1]`, channel-first `(3, H, W)`.
    pub fn to_chw_f32(&self) -> Vec<f32> {
        self.to_chw_with(|v| v as f32 / 255.0)
    }

    /// Pixels through `value`, channel-first `(3, H, W)`.
    pub fn to_chw_with(&self, value: impl Fn(u8) -> f32) -> Vec<f32> {
        let plane = (self.width * self.height) as usize;
        let mut out = vec![0f32; 3 * plane];
        for (i, px) in self.rgb.chunks_exact(3).enumerate() {
            for c in 0..3 {
                out[c * plane + i] = value(px[c]);
            }
        }
        out
    }
}

/// A running sampler; iterate it to receive frames in order. Dropping it stops ffmpeg.
pub struct FrameReader {
    path: PathBuf,
    child: Child,
    _child_guard: ChildGuard,
    stdout: ChildStdout,
    timestamps: Receiver<ShowInfo>,
    stderr_thread: Option<JoinHandle<String>>,
    time_base: Option<Rational>,
    fps: Rational,
    width: u32,
    height: u32,
    /// Number of frames the request covers (`None`: until the video ends).
    expected: Option<usize>,
    next_index: usize,
    current: Option<(i64, Vec<u8>)>,
    finished: bool,
}

/// Readers started by [`prefetch`], waiting for the [`FrameReader::open`] that asks for them.
static PREFETCHED: Mutex<Vec<(PathBuf, FrameRequest, FrameReader)>> = Mutex::new(Vec::new());

/// Starts decoding `request` of `path` now, for a later [`FrameReader::open`] with the same
/// arguments: ffmpeg's start-up (~0.1-0.2 s of dynamic linking and probing) then overlaps other
/// work, such as loading models. A reader nobody opens is stopped by [`drop_prefetched`] (or by
/// the end of the process: its pipe closes).
pub fn prefetch(path: &Path, request: &FrameRequest) -> Result<(), MediaError> {
    let reader = FrameReader::start(path, request)?;
    PREFETCHED.lock().unwrap_or_else(|e| e.into_inner()).push((path.to_path_buf(), *request, reader));
    Ok(())
}

/// Stops every prefetched reader that was not opened.
pub fn drop_prefetched() {
    PREFETCHED.lock().unwrap_or_else(|e| e.into_inner()).clear();
}

impl FrameReader {
    /// Probes `path` and starts decoding (or takes the reader [`prefetch`] started for it).
    pub fn open(path: &Path, request: &FrameRequest) -> Result<Self, MediaError> {
        let mut parked = PREFETCHED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = parked.iter().position(|(p, r, _)| p == path && r == request) {
            tracing::debug!(path = %path.display(), "frames: prefetched reader taken");
            return Ok(parked.swap_remove(i).2);
        }
        drop(parked);
        Self::start(path, request)
    }

    fn start(path: &Path, request: &FrameRequest) -> Result<Self, MediaError> {
        check_input(path)?;
        if request.fps.num <= 0 || !(request.start >= 0.0) || request.duration.is_some_and(|d| !(d > 0.0)) {
            return Err(MediaError::InvalidArgument(format!(
                "frame request needs fps > 0, start >= 0 and duration > 0 (got fps {}, start {}, duration {:?})",
                request.fps, request.start, request.duration
            )));
        }
        let info = probe(path)?;
        let video = info.video.ok_or_else(|| MediaError::NoVideo { path: path.into() })?;
        if video.frame_count == Some(0) || video.display_width == 0 || video.display_height == 0 {
            return Err(MediaError::NoFrames { path: path.into(), detail: String::new() });
        }
        if let Some(end) = video.duration.or(info.duration).filter(|&end| request.start >= end) {
            let detail = format!(" in the requested range (start {} s is at or past the end, {end} s)", request.start);
            return Err(MediaError::NoFrames { path: path.into(), detail });
        }
        let (filter, width, height) = resize_filter(video.display_width, video.display_height, request.resize);
        if width == 0 || height == 0 || width > MAX_FRAME_SIDE || height > MAX_FRAME_SIDE {
            return Err(MediaError::TooLarge { path: path.into(), width, height, max: MAX_FRAME_SIDE });
        }
        let expected = request.duration.map(|d| (d * request.fps.num as f64 / request.fps.den as f64 + 1e-9).floor() as usize);
        if expected == Some(0) {
            let detail =
                format!(" in the requested range (a duration of {} s is shorter than one frame at {} fps)", request.duration.unwrap_or(0.0), request.fps);
            return Err(MediaError::NoFrames { path: path.into(), detail });
        }

        let mut cmd = tool_command("ffmpeg")?;
        cmd.args(["-nostdin", "-nostats", "-loglevel", "info"]);
        if request.start > 0.0 {
            cmd.args(["-ss", &format!("{}", request.start)]);
        }
        cmd.arg("-i").arg(path);
        cmd.args(["-map", &format!("0:{}", video.index), "-an", "-sn", "-dn"])
            .args(["-vf", &format!("showinfo=checksum=0{filter}")])
            .args(["-fps_mode", "passthrough", "-pix_fmt", "rgb24", "-f", "rawvideo", "pipe:1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let (mut child, _child_guard) = spawn(&mut cmd, path)?;
        let stdout = child.stdout.take().expect("stdout is piped");
        widen_pipe(&stdout);
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, timestamps) = channel();
        let stderr_thread = std::thread::spawn(move || parse_showinfo(stderr, tx));

        Ok(Self {
            path: path.into(),
            child,
            _child_guard,
            stdout,
            timestamps,
            stderr_thread: Some(stderr_thread),
            time_base: None,
            fps: request.fps,
            width,
            height,
            expected,
            next_index: 0,
            current: None,
            finished: false,
        })
    }

    /// The file being read.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Output frame size `(width, height)`.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Number of frames the request covers, if it has a duration.
    pub fn expected(&self) -> Option<usize> {
        self.expected
    }

    /// Is `pts` (stream time base) at or after target instant `k / fps`? Exact integer test.
    fn covers(&self, pts: i64, k: usize) -> bool {
        let tb = self.time_base.unwrap_or(Rational { num: 1, den: 1_000_000 });
        (k as i128) * (self.fps.den as i128) * (tb.den as i128) <= (pts as i128) * (tb.num as i128) * (self.fps.num as i128)
    }

    /// Reads the next decoded frame and its timestamp; `None` at the end of the stream.
    fn read_decoded(&mut self) -> Result<Option<(i64, Vec<u8>)>, MediaError> {
        let mut buf = vec![0u8; (self.width * self.height * 3) as usize];
        if let Err(e) = self.stdout.read_exact(&mut buf) {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                return Ok(None);
            }
            return Err(MediaError::io(&self.path, e));
        }
        loop {
            match self.timestamps.recv() {
                Ok(ShowInfo::TimeBase(tb)) => self.time_base = Some(tb),
                Ok(ShowInfo::Pts(pts)) => return Ok(Some((pts, buf))),
                Err(_) => {
                    return Err(MediaError::Ffmpeg { path: self.path.clone(), detail: "a frame arrived without a timestamp".into() });
                }
            }
        }
    }

    /// Waits for ffmpeg after the stream ended and turns a failure into an error.
    fn finish(&mut self) -> Result<(), MediaError> {
        self.finished = true;
        let status = self.child.wait().map_err(|e| MediaError::io(&self.path, e))?;
        let log = self.stderr_thread.take().map(|t| t.join().unwrap_or_default()).unwrap_or_default();
        if !status.success() {
            return Err(MediaError::Ffmpeg { path: self.path.clone(), detail: stderr_summary(&log) });
        }
        check_truncation(&log, &self.path)?;
        if self.next_index == 0 {
            let detail = " in the requested range (is the start time past the end of the video?)".into();
            return Err(MediaError::NoFrames { path: self.path.clone(), detail });
        }
        Ok(())
    }

    /// The next *decoded* frame, every one once (no sampling at `fps`): `index` counts decoded
    /// frames, `time` and `source_time` are its timestamp after `start`. For choosing frames
    /// by time oneself ([`crate::SourceFrames`]); do not mix with iterating the reader.
    pub fn next_decoded(&mut self) -> Result<Option<Frame>, MediaError> {
        if self.finished {
            return Ok(None);
        }
        let Some((pts, rgb)) = self.read_decoded()? else {
            self.finish()?;
            return Ok(None);
        };
        let time = pts as f64 * self.time_base.unwrap_or(Rational { num: 1, den: 1_000_000 }).as_f64();
        self.next_index += 1;
        Ok(Some(Frame { index: self.next_index - 1, time, source_time: time, width: self.width, height: self.height, rgb }))
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, MediaError> {
        if self.finished || self.expected.is_some_and(|n| self.next_index >= n) {
            return Ok(None);
        }
        let k = self.next_index;
        loop {
            if let Some((pts, _)) = &self.current {
                if self.covers(*pts, k) {
                    break;
                }
            }
            match self.read_decoded()? {
                Some(decoded) => self.current = Some(decoded),
                None => {
                    self.finish()?;
                    return Ok(None);
                }
            }
        }
        let (pts, rgb) = self.current.as_ref().expect("loop breaks only with a frame");
        let tb = self.time_base.unwrap_or(Rational { num: 1, den: 1_000_000 });
        self.next_index += 1;
        Ok(Some(Frame {
            index: k,
            time: k as f64 * self.fps.den as f64 / self.fps.num as f64,
            source_time: *pts as f64 * tb.as_f64(),
            width: self.width,
            height: self.height,
            rgb: rgb.clone(),
        }))
    }
}

impl Iterator for FrameReader {
    type Item = Result<Frame, MediaError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_frame() {
            Ok(frame) => frame.map(Ok),
            Err(e) => {
                self.finished = true;
                Some(Err(e))
            }
        }
    }
}

impl Drop for FrameReader {
    fn drop(&mut self) {
        // Stopped early or after an error, ffmpeg may still be running (or blocked writing):
        // kill it before waiting. A child that already exited and was reaped is not signalled.
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(t) = self.stderr_thread.take() {
            let _ = t.join();
        }
    }
}

/// Lets ffmpeg write up to 1 MiB ahead of the reader (Linux pipes hold 64 KiB, less than one
/// 224x224 frame, so decoder and reader would otherwise take turns every few dozen KiB). Where
/// the system refuses, the pipe keeps its size.
fn widen_pipe(pipe: &ChildStdout) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: fcntl on a descriptor this process owns; F_SETPIPE_SZ only resizes the buffer.
        unsafe { libc::fcntl(pipe.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20) };
    }
}

/// What the `showinfo` filter reports, in order: the time base, then one timestamp per frame.
enum ShowInfo {
    TimeBase(Rational),
    Pts(i64),
}

/// Forwards `showinfo` facts to the reader; returns the rest of the log for error messages.
/// Reads to the end of the pipe whatever it carries: ffmpeg echoes the file's own metadata
/// (titles, file names) byte for byte, and a reader that stopped at the first non-UTF-8 line
/// would leave ffmpeg blocked on a full pipe.
fn parse_showinfo(stderr: impl Read, tx: std::sync::mpsc::Sender<ShowInfo>) -> String {
    let mut log = String::new();
    let mut reader = BufReader::new(stderr);
    let mut bytes = Vec::new();
    let mut listening = true;
    loop {
        bytes.clear();
        match reader.read_until(b'\n', &mut bytes) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&bytes);
        let line = line.trim_end_matches(['\n', '\r']);
        if !line.contains("Parsed_showinfo") {
            log.push_str(&line);
            log.push('\n');
            continue;
        }
        let message = if let Some(rest) = line.split("config in time_base:").nth(1) {
            let tb = rest.split(',').next().unwrap_or("").trim();
            tb.split_once('/').and_then(|(n, d)| Rational::new(n.parse().ok()?, d.parse().ok()?)).map(ShowInfo::TimeBase)
        } else if let Some(rest) = line.split(" pts:").nth(1) {
            // A frame without a timestamp (NOPTS) is placed at the far future, never before others.
            let pts = rest.split_whitespace().next().unwrap_or("");
            Some(ShowInfo::Pts(pts.parse().unwrap_or(i64::MAX / 4)))
        } else {
            None
        };
        // The reader may be gone (dropped early); keep draining so ffmpeg can exit.
        if let Some(m) = message.filter(|_| listening) {
            listening = tx.send(m).is_ok();
        }
    }
    log
}

/// The ffmpeg filter suffix for a resize mode, and the output size it produces.
fn resize_filter(width: u32, height: u32, resize: Resize) -> (String, u32, u32) {
    match resize {
        Resize::Native => (String::new(), width, height),
        Resize::Squash { width: w, height: h } => (format!(",scale={w}:{h}:flags=bicubic"), w, h),
        Resize::CropSquare(s) => {
            // torchvision Resize(int): the shorter side becomes s, the longer int(s * long / short).
            let (w, h) =
                if width <= height { (s, (s as u64 * height as u64 / width as u64) as u32) } else { ((s as u64 * width as u64 / height as u64) as u32, s) };
            // torchvision CenterCrop: offsets round((size - s) / 2), Python rounding (half to even).
            let x = round_half_even((w - s) as f64 / 2.0);
            let y = round_half_even((h - s) as f64 / 2.0);
            (format!(",scale={w}:{h}:flags=bicubic,crop={s}:{s}:{x}:{y}"), s, s)
        }
    }
}

fn round_half_even(v: f64) -> u32 {
    let r = v.round();
    (if (v - v.trunc()).abs() == 0.5 && r % 2.0 != 0.0 { r - 1.0 } else { r }) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_square_follows_torchvision() {
        assert_eq!(resize_filter(1280, 720, Resize::CropSquare(224)).0, ",scale=398:224:flags=bicubic,crop=224:224:87:0");
        assert_eq!(resize_filter(320, 568, Resize::CropSquare(224)).0, ",scale=224:397:flags=bicubic,crop=224:224:0:86");
        assert_eq!(round_half_even(2.5), 2);
        assert_eq!(round_half_even(3.5), 4);
    }
}
