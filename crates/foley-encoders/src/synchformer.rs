//! Synchformer's visual branch (MotionFormer). Being ported.
