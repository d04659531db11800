//! Windows of frames from one streaming decode: long-form generation reads each video once per
//! frame rate, window after window, holding only the frames the current window needs.
//! [`FrameStream`] serves windows that start on the reader's own frame grid; [`SourceFrames`]
//! applies MMAudio's rule (the first frame at or after each instant) to any instants, as a
//! decode from each window's own start would.

use std::collections::VecDeque;

use crate::{Frame, FrameReader, MediaError};

/// Frames of a [`FrameReader`] by target index, fetched in increasing windows.
pub struct FrameStream {
    reader: FrameReader,
    buffer: VecDeque<Frame>,
    /// The last frame decoded (repeated past the end of the video).
    last: Option<Frame>,
    ended: bool,
}

impl FrameStream {
    pub fn new(reader: FrameReader) -> Self {
        Self { reader, buffer: VecDeque::new(), last: None, ended: false }
    }

    /// Frames `from .. from + n` of the reader's grid (frame `k` stands for `start + k / fps`).
    /// Past the end of the video the last frame repeats; frames before `from` are released, so
    /// windows must not move backwards.
    pub fn take(&mut self, from: usize, n: usize) -> Result<Vec<Frame>, MediaError> {
        while self.buffer.front().is_some_and(|f| f.index < from) {
            self.buffer.pop_front();
        }
        while !self.ended && self.buffer.back().is_none_or(|f| f.index + 1 < from + n) {
            match self.reader.next() {
                Some(frame) => {
                    let frame = frame?;
                    self.last = Some(frame.clone());
                    if frame.index >= from {
                        self.buffer.push_back(frame);
                    }
                }
                None => self.ended = true,
            }
        }
        let Some(last) = &self.last else {
            return Err(MediaError::NoFrames { path: self.reader.path().into(), detail: String::new() });
        };
        Ok((from..from + n).map(|k| self.buffer.get(k.wrapping_sub(self.buffer.front().map_or(0, |f| f.index))).unwrap_or(last).clone()).collect())
    }
}

/// Decoded frames chosen by time: for each instant, the first frame whose timestamp is at or
/// after it (the rule [`FrameReader`] applies on its grid), for windows starting anywhere.
pub struct SourceFrames {
    reader: FrameReader,
    buffer: VecDeque<Frame>,
    ended: bool,
}

impl SourceFrames {
    /// `reader` is only read through [`FrameReader::next_decoded`].
    pub fn new(reader: FrameReader) -> Self {
        Self { reader, buffer: VecDeque::new(), ended: false }
    }

    /// The frames for `instants` (seconds after the reader's start, increasing; negative ones
    /// get the first frame). Past the end of the video the last frame repeats. Frames before
    /// `instants[0]` are released, so later calls must not ask for earlier instants.
    pub fn at(&mut self, instants: &[f64]) -> Result<Vec<Frame>, MediaError> {
        const EPS: f64 = 1e-9;
        if let Some(&first) = instants.first() {
            // Earlier frames are never chosen again (the last one stays: it is what repeats if
            // the video ends before the first instant).
            while self.buffer.len() > 1 && self.buffer[0].time < first - EPS {
                self.buffer.pop_front();
            }
        }
        let mut out = Vec::with_capacity(instants.len());
        let mut i = 0;
        for &t in instants {
            loop {
                if let Some(pos) = (i..self.buffer.len()).find(|&j| self.buffer[j].time >= t - EPS) {
                    i = pos;
                    break;
                }
                match (!self.ended).then(|| self.reader.next_decoded()).transpose()?.flatten() {
                    Some(frame) => self.buffer.push_back(frame),
                    None => {
                        self.ended = true;
                        i = self.buffer.len().saturating_sub(1);
                        break;
                    }
                }
            }
            let frame = self.buffer.get(i).ok_or_else(|| MediaError::NoFrames { path: self.reader.path().into(), detail: String::new() })?;
            out.push(frame.clone());
        }
        Ok(out)
    }
}
