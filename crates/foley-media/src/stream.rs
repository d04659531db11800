//! Windows of frames from one streaming decode: long-form generation reads each video once per
//! frame rate, window after window, holding only the frames the current window needs.

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
