//! foley-sim: procedural audio-visual scenes voiced by real recordings, with the exact time of
//! every sound known.
//!
//! - [`bank`]: the sound bank, built from Debian game packages into a cache directory.
//! - [`corpus`]: the vocoder corpus, every recorded effect of fourteen Debian game packages, split
//!   train / validation by file.
//! - [`scene`]: seeded 2D scenes (walker, drops, doors, glass, guns, explosions, fire, carts,
//!   water, silent distractors) drawn with tiny-skia at any size and duration.
//! - [`mix`]: recordings placed sample-accurately at the cue times, gains from the physics.
//! - [`render`]: the in-memory clip (frames, waveform, events) and the mp4/wav/events.json
//!   writer.
//! - [`splits`]: documented seed ranges; seeds >= 900000 are held out for evaluation.
//!
//! ```no_run
//! use foley_sim::{bank::Bank, render::render_clip, scene::SceneConfig};
//! let bank = Bank::load(&foley_sim::bank::default_dir(), 16_000)?;
//! let clip = render_clip(&SceneConfig::new(7, 8.0), &bank, &Default::default())?;
//! assert_eq!(clip.num_frames, 200);
//! # anyhow::Ok(())
//! ```

pub mod bank;
pub mod canvas;
pub mod classes;
pub mod corpus;
pub mod events;
pub mod mix;
pub mod onset;
pub mod render;
pub mod rng;
pub mod scene;
pub mod splits;

pub use classes::{Material, SoundClass, Surface};
pub use events::Event;
pub use scene::{Family, Scene, SceneConfig};
