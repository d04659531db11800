"""AV-Align reference numbers (dev only): the metric as its authors' script computes it, with
OpenCV's Farneback flow and librosa onsets, for comparison with foley-eval's Rust implementation.

Usage: /root/.cache/foley/venv/bin/python scripts/dev/avalign_reference.py VIDEO [VIDEO ...]
Prints per video: fps, frames, number of video peaks, number of audio onsets, AV-Align of the
video's own audio, and the mean flow magnitude (a cheap check of the flow estimator).
"""
import sys

import cv2
import librosa
import numpy as np


def flow_trajectory(path):
    cap = cv2.VideoCapture(path)
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    cap.release()

    def of(a, b):
        flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
        return cv2.mean(cv2.magnitude(flow[..., 0], flow[..., 1]))[0]

    traj = [of(frames[0], frames[1])] + [of(frames[i - 1], frames[i]) for i in range(1, len(frames))]
    return traj, fps


def peaks(traj, fps):
    return [i / fps for i in range(1, len(traj) - 1) if traj[i - 1] < traj[i] > traj[i + 1] and traj[i] > 0.1]


def onsets(path):
    y, sr = librosa.load(path)
    env = librosa.onset.onset_strength(y=y, sr=sr)
    return librosa.frames_to_time(librosa.onset.onset_detect(onset_envelope=env, sr=sr), sr=sr)


def iou(a, v, fps):
    hits = sum(1 for x in a if any(p - 1 / fps < x < p + 1 / fps for p in v))
    return hits / (len(a) + len(v) - hits)


for path in sys.argv[1:]:
    traj, fps = flow_trajectory(path)
    v, a = peaks(traj, fps), onsets(path)
    print(f"{path.split('/')[-1]}\tfps {fps:.3f}\tframes {len(traj)}\tvideo peaks {len(v)}\t"
          f"onsets {len(a)}\tAV-Align {iou(a, v, fps):.4f}\tmean flow {np.mean(traj):.4f}")
