//! Dataset splits by seed range. Seeds `>= 900000` are held out for evaluation: never used for
//! training or tuning.

use std::ops::Range;

use serde::{Deserialize, Serialize};

/// First held-out seed.
pub const HELDOUT_START: u64 = 900_000;
/// Duration of the long-form scenes (10 minutes).
pub const LONG_FORM_DURATION: f64 = 600.0;
/// Seeds of the long-form test scenes (inside the test range).
pub const LONG_FORM_SEEDS: Range<u64> = 899_900..899_910;
/// Seeds of the long-form held-out scenes.
pub const LONG_FORM_HELDOUT_SEEDS: Range<u64> = 999_900..999_910;

/// A split of the scene seeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Seeds 0..800000.
    Train,
    /// Seeds 800000..850000: model selection and tuning.
    Val,
    /// Seeds 850000..900000: reported development results.
    Test,
    /// Seeds >= 900000: held-out evaluation only.
    Heldout,
}

impl Split {
    /// All splits.
    pub const ALL: [Split; 4] = [Self::Train, Self::Val, Self::Test, Self::Heldout];

    /// The seed range of the split (held-out is open-ended; its range stops at `u64::MAX`).
    pub fn seeds(self) -> Range<u64> {
        match self {
            Self::Train => 0..800_000,
            Self::Val => 800_000..850_000,
            Self::Test => 850_000..HELDOUT_START,
            Self::Heldout => HELDOUT_START..u64::MAX,
        }
    }

    /// The split a seed belongs to.
    pub fn of(seed: u64) -> Split {
        Self::ALL.into_iter().find(|s| s.seeds().contains(&seed)).unwrap_or(Self::Heldout)
    }

    /// Name (`train`, `val`, `test`, `heldout`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Val => "val",
            Self::Test => "test",
            Self::Heldout => "heldout",
        }
    }

    /// True for splits a training or tuning run may read.
    pub fn usable_for_training(self) -> bool {
        matches!(self, Self::Train | Self::Val)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_partition_the_seeds_and_hold_out_the_top() {
        assert_eq!(Split::of(0), Split::Train);
        assert_eq!(Split::of(799_999), Split::Train);
        assert_eq!(Split::of(800_000), Split::Val);
        assert_eq!(Split::of(899_999), Split::Test);
        assert_eq!(Split::of(900_000), Split::Heldout);
        assert_eq!(Split::of(u64::MAX), Split::Heldout);
        for w in Split::ALL.windows(2) {
            assert_eq!(w[0].seeds().end, w[1].seeds().start);
        }
        assert!(!Split::Heldout.usable_for_training());
        assert!(LONG_FORM_SEEDS.clone().all(|s| Split::of(s) == Split::Test));
        assert!(LONG_FORM_HELDOUT_SEEDS.clone().all(|s| Split::of(s) == Split::Heldout));
    }
}
