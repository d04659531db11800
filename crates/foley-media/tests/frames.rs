//! Frame selection on synthetic frame-counter videos made with ffmpeg at test time: every
//! source frame shows its own index, so the index of each sampled frame is read back from its
//! pixels and compared with MMAudio's rule computed in exact rational arithmetic.

mod common;

use std::path::Path;

use common::{H264_LOSSLESS, Q, counter_frame, encode_frames, expected_indices, ffprobe, is_red, read_counter};
use foley_media::{Frame, FrameReader, FrameRequest, MediaError, Rational, Resize, probe};

const W: u32 = 96;
const H: u32 = 64;
/// Where the source's central square lands in each output used below: (x0, y0, w, h).
const CROP32: (f64, f64, f64, f64) = (0.0, 0.0, 32.0, 32.0);
const SQUASH48X32: (f64, f64, f64, f64) = (8.0, 0.0, 32.0, 32.0);

/// A constant-rate counter video of `n` frames at `rate`; returns each frame's exact time.
fn cfr_source(path: &Path, rate: &str, n: u32) -> Vec<Q> {
    let r: Rational = rate.parse().unwrap();
    encode_frames(path, (W, H), (0..n).map(|i| counter_frame(i, W, H)), &["-framerate", rate], H264_LOSSLESS);
    let info = probe(path).unwrap();
    let v = info.video.unwrap();
    assert_eq!(v.fps, Some(r), "{rate}: probed fps");
    assert_eq!(v.frame_count, Some(n as u64), "{rate}: probed frame count");
    assert_eq!((v.width, v.height, v.rotation), (W, H, 0));
    (0..n).map(|i| Q(i as i128 * r.den as i128, r.num as i128)).collect()
}

/// Samples `path` and returns the counter value read from each frame (checking the frame's
/// own index and time along the way).
fn sample(path: &Path, fps: i64, start: f64, duration: Option<f64>, resize: Resize) -> Vec<u32> {
    let request = FrameRequest { fps: Rational::new(fps, 1).unwrap(), start, duration, resize };
    let reader = FrameReader::open(path, &request).unwrap();
    let (w, _) = reader.size();
    let region = match resize {
        Resize::CropSquare(32) => CROP32,
        Resize::Squash { width: 48, height: 32 } => SQUASH48X32,
        other => panic!("no counter region for {other:?}"),
    };
    let frames: Vec<Frame> = reader.map(Result::unwrap).collect();
    for (k, f) in frames.iter().enumerate() {
        assert_eq!(f.index, k);
        assert!((f.time - k as f64 / fps as f64).abs() < 1e-12);
        assert!(f.source_time >= f.time - 1e-9, "frame {k} chosen before its instant");
    }
    frames.iter().map(|f| read_counter(&f.rgb, w, region)).collect()
}

/// Whole file and a window (start 0.5 s, 1.5 s long), at 8 fps (crop) and 25 fps (squash).
fn check_all_windows(path: &Path, times: &[Q], what: &str) {
    for (fps, resize) in [(8, Resize::CropSquare(32)), (25, Resize::Squash { width: 48, height: 32 })] {
        let whole = sample(path, fps, 0.0, None, resize);
        assert_eq!(whole, expected_indices(times, Q(0, 1), Q(fps as i128, 1), None), "{what} at {fps} fps, whole");
        let window = sample(path, fps, 0.5, Some(1.5), resize);
        let n = (1.5 * fps as f64) as usize;
        let expected = expected_indices(times, Q(1, 2), Q(fps as i128, 1), Some(n));
        assert_eq!(expected.len(), n, "the window lies inside the video");
        assert_eq!(window, expected, "{what} at {fps} fps, start 0.5 s, duration 1.5 s");
    }
}

fn check_cfr(rate: &str, n: u32) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("counter.mp4");
    let times = cfr_source(&path, rate, n);
    check_all_windows(&path, &times, rate);
}

#[test]
fn cfr_24() {
    check_cfr("24", 72);
}

#[test]
fn cfr_25() {
    check_cfr("25", 75);
}

#[test]
fn cfr_ntsc_30000_1001() {
    check_cfr("30000/1001", 90);
}

#[test]
fn cfr_15() {
    check_cfr("15", 45);
}

#[test]
fn cfr_60() {
    check_cfr("60", 180);
}

/// Frame `i` of the VFR source is shown at this many milliseconds: durations cycle
/// 20, 45, 100 ms, so a 25 fps sampler both skips frames and repeats them.
fn vfr_pts_ms(i: u32) -> u32 {
    165 * (i / 3) + [0, 20, 65][(i % 3) as usize]
}

#[test]
fn vfr() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vfr.mp4");
    let n = 54;
    // Input at 1000 fps makes the time base 1 ms; setpts moves each frame to its own instant.
    let setpts = r"setpts=165*floor(N/3)+20*gte(mod(N\,3)\,1)+45*gte(mod(N\,3)\,2)";
    let mut out_args = vec!["-vf", setpts, "-fps_mode", "passthrough", "-video_track_timescale", "1000"];
    out_args.extend_from_slice(H264_LOSSLESS);
    encode_frames(&path, (W, H), (0..n).map(|i| counter_frame(i, W, H)), &["-framerate", "1000"], &out_args);

    // ffprobe confirms the file really is variable-rate, with exactly our timestamps.
    let probed: Vec<u32> = ffprobe(&["-select_streams", "v", "-show_entries", "frame=pts", "-of", "csv=p=0", path.to_str().unwrap()])
        .lines()
        .map(|l| l.trim().trim_end_matches(','))
        .filter(|l| !l.is_empty())
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(probed, (0..n).map(vfr_pts_ms).collect::<Vec<_>>(), "frame timestamps (ms) of the VFR file");
    let mut steps: Vec<u32> = probed.windows(2).map(|w| w[1] - w[0]).collect();
    steps.sort();
    steps.dedup();
    assert_eq!(steps, [20, 45, 100], "the file is variable frame rate");

    let times: Vec<Q> = (0..n).map(|i| Q(vfr_pts_ms(i) as i128, 1000)).collect();
    let at25 = expected_indices(&times, Q(0, 1), Q(25, 1), None);
    assert!(at25.windows(2).any(|w| w[0] == w[1]), "25 fps repeats a frame across the 100 ms gaps");
    assert!(at25.windows(2).any(|w| w[1] > w[0] + 1), "25 fps skips a frame in the 20 ms steps");
    check_all_windows(&path, &times, "VFR");
}

/// Crop keeps exactly the centred square (no red band) of a landscape and a portrait source;
/// squash keeps the whole picture at the requested size.
#[test]
fn resize_modes_geometry() {
    let dir = tempfile::tempdir().unwrap();
    for (w, h) in [(96, 64), (64, 96)] {
        let path = dir.path().join(format!("src_{w}x{h}.mp4"));
        encode_frames(&path, (w, h), (0..10).map(|i| counter_frame(i + 37, w, h)), &["-framerate", "25"], H264_LOSSLESS);
        let first = |resize| {
            let request = FrameRequest { fps: Rational::new(25, 1).unwrap(), start: 0.0, duration: Some(0.04), resize };
            let mut reader = FrameReader::open(&path, &request).unwrap();
            let size = reader.size();
            let frame = reader.next().unwrap().unwrap();
            assert!(reader.next().is_none(), "duration 0.04 s at 25 fps is one frame");
            assert_eq!((frame.width, frame.height), size);
            assert_eq!(frame.rgb.len(), (size.0 * size.1 * 3) as usize);
            frame
        };

        let native = first(Resize::Native);
        assert_eq!((native.width, native.height), (w, h));
        assert!(is_red(&native.rgb[..3]), "{w}x{h}: the source corner is red (the test can fail)");
        let side = w.min(h) as f64;
        let square = (((w as f64 - side) / 2.0), ((h as f64 - side) / 2.0), side, side);
        assert_eq!(read_counter(&native.rgb, w, square), 37);

        let crop = first(Resize::CropSquare(32));
        assert_eq!((crop.width, crop.height), (32, 32));
        assert_eq!(read_counter(&crop.rgb, 32, CROP32), 37);
        // Bicubic filtering may tint the outermost pixels; everything inside must be the square.
        for y in 2..30 {
            for x in 2..30 {
                let p = (y * 32 + x) * 3;
                assert!(!is_red(&crop.rgb[p..p + 3]), "{w}x{h} crop: red at ({x}, {y})");
            }
        }
        let chw = crop.to_chw_f32();
        assert_eq!(chw.len(), 3 * 32 * 32);
        assert_eq!(chw[32 * 32 + 5], crop.rgb[5 * 3 + 1] as f32 / 255.0, "CHW layout, green plane");

        let squash = first(Resize::Squash { width: 40, height: 24 });
        assert_eq!((squash.width, squash.height), (40, 24));
        // The whole picture is kept: the red bands are at the ends of the long axis.
        let (sx, sy) = (40.0 / w as f64, 24.0 / h as f64);
        let region = (square.0 * sx, square.1 * sy, side * sx, side * sy);
        assert_eq!(read_counter(&squash.rgb, 40, region), 37);
        let red_at = |x: usize, y: usize| is_red(&squash.rgb[(y * 40 + x) * 3..(y * 40 + x) * 3 + 3]);
        if w > h {
            assert!(red_at(1, 12) && red_at(38, 12), "squash keeps the left and right bands");
        } else {
            assert!(red_at(20, 1) && red_at(20, 22), "squash keeps the top and bottom bands");
        }
    }
}

/// Requests that cannot be served fail with the file named, not a panic.
#[test]
fn bad_requests() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.mp4");
    encode_frames(&path, (W, H), (0..10).map(|i| counter_frame(i, W, H)), &["-framerate", "25"], H264_LOSSLESS);
    let request = |start, duration| FrameRequest { fps: Rational::new(8, 1).unwrap(), start, duration, resize: Resize::CropSquare(32) };
    assert!(matches!(FrameReader::open(&path, &request(-1.0, None)), Err(MediaError::InvalidArgument(_))));
    assert!(matches!(FrameReader::open(&path, &request(0.0, Some(0.0))), Err(MediaError::InvalidArgument(_))));
    // Starting after the end: no frame at all is an error naming the file.
    let err = FrameReader::open(&path, &request(5.0, None)).err().unwrap();
    assert!(matches!(err, MediaError::NoFrames { .. }), "{err}");
    assert!(err.to_string().contains("c.mp4"), "{err}");
}

/// `SourceFrames` picks, for instants anywhere, the frame a `FrameReader` started at each
/// window's own start would pick (long-form windows off the 8 fps grid), reading the file once.
#[test]
fn source_frames_follow_the_rule_at_any_instants() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cfr30.mp4");
    let times = cfr_source(&path, "30", 90);
    let request = FrameRequest { fps: Rational::new(8, 1).unwrap(), start: 0.0, duration: Some(3.0), resize: Resize::CropSquare(32) };
    let mut frames = foley_media::SourceFrames::new(FrameReader::open(&path, &request).unwrap());
    // Three overlapping windows starting at 0, 0.96 and 1.92 s (0.16 s quanta, off the 8 fps grid).
    for start in [0.0, 0.96, 1.92] {
        let instants: Vec<f64> = (0..8).map(|j| start + j as f64 / 8.0).collect();
        let got: Vec<u32> = frames.at(&instants).unwrap().iter().map(|f| read_counter(&f.rgb, 32, CROP32)).collect();
        // MMAudio's rule on those instants, exactly; past the 3 s end the last frame repeats.
        let want: Vec<u32> = instants
            .iter()
            .map(|&t| {
                let t = Q((t * 100.0).round() as i128, 100);
                times.iter().position(|&s| s.ge(t)).unwrap_or(times.len() - 1) as u32
            })
            .collect();
        assert_eq!(got, want, "window at {start} s");
    }
}

#[test]
fn a_prefetched_reader_gives_the_frames_of_a_fresh_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("counter.mp4");
    let times = cfr_source(&path, "25", 50);
    let request = FrameRequest { fps: Rational::new(8, 1).unwrap(), start: 0.5, duration: Some(1.0), resize: Resize::CropSquare(32) };
    let other = FrameRequest { fps: Rational::new(25, 1).unwrap(), ..request };
    foley_media::prefetch(&path, &request).unwrap();
    foley_media::prefetch(&path, &other).unwrap();
    let expected = expected_indices(&times, Q(1, 2), Q(8, 1), Some(8));
    // The first open of `request` takes the prefetched reader, the second starts a new one.
    for round in ["prefetched", "fresh"] {
        let reader = FrameReader::open(&path, &request).unwrap();
        let counters: Vec<u32> = reader.map(|f| read_counter(&f.unwrap().rgb, 32, CROP32)).collect();
        assert_eq!(counters, expected, "{round} reader");
    }
    // The reader of a request nobody opened is stopped.
    foley_media::drop_prefetched();
}
