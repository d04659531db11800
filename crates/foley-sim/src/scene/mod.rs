//! Scene generation: a seed decides the layout, the sound sources (one family per slot, an
//! optional walker on the ground), silent distractors, and every sound cue with its exact time.
//!
//! Layout (scene units, y down): sky above, the ground band below [`GROUND_Y`], and three
//! slots side by side standing on the ground, each holding one source family.

mod cart;
mod distractor;
mod door;
mod drop;
mod explosion;
mod fire;
mod glass;
pub mod ground;
mod gun;
mod walk;
mod water;

use anyhow::{Result, ensure};
use serde::{Deserialize, Serialize};

use crate::canvas::{Canvas, Rgb, mix};
use crate::classes::SoundClass;
use crate::rng::Rng;
use ground::Ground;

/// Top of the ground band.
pub const GROUND_Y: f32 = 0.8;
/// Rate (Hz) of the control curves of continuous sources (gain, playback rate).
pub const CONTROL_RATE: f64 = 100.0;
/// Probability that a sampled scene has a walker on the ground.
pub const WALKER_PROBABILITY: f64 = 0.5;
/// Probability that a slot of a sampled scene stays empty.
pub const EMPTY_SLOT_PROBABILITY: f64 = 0.3;
/// Number of slots side by side.
pub const NUM_SLOTS: usize = 3;
/// No cue starts before this time, so every event has a frame before it.
const FIRST_ONSET: f64 = 0.1;

/// A kind of sound source; each has its own module with its look, physics and cues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// A walker on the ground; footsteps take the class of the tile under the foot.
    Walk,
    /// Objects fall onto a slab of wood, metal, stone, soft earth or water.
    Drop,
    /// A door swings open and bangs shut.
    Door,
    /// A thrown stone shatters a glass pane.
    Glass,
    /// A gun fires bursts with muzzle flashes.
    Gun,
    /// A barrel explodes with a flash and debris.
    Explosion,
    /// A campfire whose flame size drives the crackle gain (continuous).
    Fire,
    /// A cart on rails whose speed drives rate and pitch (continuous).
    Cart,
    /// A spout pouring into a pool; the flow drives the gain (continuous).
    Water,
}

impl Family {
    /// All families.
    pub const ALL: [Family; 9] = [Self::Walk, Self::Drop, Self::Door, Self::Glass, Self::Gun, Self::Explosion, Self::Fire, Self::Cart, Self::Water];

    /// The families that occupy a slot, with their sampling weights (they sum to 1).
    pub const SLOT_WEIGHTS: [(Family, f64); 8] = [
        (Self::Drop, 0.22),
        (Self::Door, 0.12),
        (Self::Glass, 0.10),
        (Self::Gun, 0.12),
        (Self::Explosion, 0.08),
        (Self::Fire, 0.12),
        (Self::Cart, 0.12),
        (Self::Water, 0.12),
    ];

    /// The snake_case name (`walk`, `drop`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Walk => "walk",
            Self::Drop => "drop",
            Self::Door => "door",
            Self::Glass => "glass",
            Self::Gun => "gun",
            Self::Explosion => "explosion",
            Self::Fire => "fire",
            Self::Cart => "cart",
            Self::Water => "water",
        }
    }

    /// Parses a family name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// A rectangle in scene units: `[x0, y0, x1, y1]`.
pub type Bbox = [f32; 4];

/// A sound to place in the mix: when, what, how loud, and where it is seen.
#[derive(Debug, Clone, PartialEq)]
pub struct Cue {
    /// Onset in seconds.
    pub onset: f64,
    pub class: SoundClass,
    /// Linear gain from the scene physics (1 = the class's full level).
    pub gain: f32,
    /// Random bits that choose the recording among the class's recordings.
    pub pick: u64,
    /// Where the cause is visible, in scene units.
    pub bbox: Bbox,
    /// For continuous sources: the offset and control curves.
    pub sustain: Option<Sustain>,
}

/// Control curves of a continuous source, sampled at [`CONTROL_RATE`] from the onset.
#[derive(Debug, Clone, PartialEq)]
pub struct Sustain {
    /// Offset in seconds.
    pub offset: f64,
    /// Gain multiplier over time (multiplies [`Cue::gain`]).
    pub gain: Vec<f32>,
    /// Playback rate over time (1 = original speed and pitch).
    pub rate: Vec<f32>,
}

/// A region of the scene that holds one source.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    pub x0: f32,
    pub x1: f32,
    pub top: f32,
    pub floor: f32,
}

impl Slot {
    /// Width in scene units.
    pub fn w(&self) -> f32 {
        self.x1 - self.x0
    }
    /// Height in scene units.
    pub fn h(&self) -> f32 {
        self.floor - self.top
    }
    /// The x at fraction `f` of the width.
    pub fn x(&self, f: f32) -> f32 {
        self.x0 + f * self.w()
    }
    /// The y at fraction `f` of the height (0 = top, 1 = floor).
    pub fn y(&self, f: f32) -> f32 {
        self.top + f * self.h()
    }
}

/// Something drawn in the scene: a sound source or a silent distractor.
pub trait Element: Send + Sync {
    /// Short name for the sources table (`walker`, `door`, `birds`, ...).
    fn name(&self) -> &'static str;
    /// The family, or `None` for a silent distractor.
    fn family(&self) -> Option<Family>;
    /// Parts that never change, drawn once into the background.
    fn draw_static(&self, _c: &mut Canvas) {}
    /// The element at time `t` (seconds).
    fn draw(&self, t: f64, c: &mut Canvas);
    /// Every sound the element makes over the scene.
    fn cues(&self) -> Vec<Cue>;
}

/// Everything that determines a scene.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SceneConfig {
    pub seed: u64,
    /// Duration in seconds (any length; long-form scenes keep generating events).
    pub duration: f64,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Families to place; empty samples them from the seed (see `docs/sim.md`).
    pub families: Vec<Family>,
    /// Add silent moving distractors.
    pub distractors: bool,
}

impl SceneConfig {
    /// The default scene for `seed`: 224x224 at MMAudio's sync frame rate (25 fps), sampled
    /// families, distractors on.
    pub fn new(seed: u64, duration: f64) -> Self {
        let fps = foley_seq::SequenceConfig::mmaudio_16k(duration).sync_frame_rate as u32;
        Self { seed, duration, width: 224, height: 224, fps, families: Vec::new(), distractors: true }
    }

    /// Checks sizes, rates and the family list.
    pub fn validate(&self) -> Result<()> {
        ensure!(self.duration.is_finite() && self.duration > 0.2, "duration must be > 0.2 s, got {}", self.duration);
        ensure!((16..=4096).contains(&self.width) && (16..=4096).contains(&self.height), "frame size {}x{} out of 16..=4096", self.width, self.height);
        ensure!(self.width.is_multiple_of(2) && self.height.is_multiple_of(2), "frame size {}x{} must be even (H.264 4:2:0)", self.width, self.height);
        ensure!((1..=240).contains(&self.fps), "fps {} out of 1..=240", self.fps);
        let slots = self.families.iter().filter(|f| **f != Family::Walk).count();
        ensure!(slots <= NUM_SLOTS, "at most {NUM_SLOTS} slot families besides walk, got {slots}");
        Ok(())
    }

    /// Number of video frames: frame `k` shows the scene at `k / fps`.
    pub fn num_frames(&self) -> usize {
        (self.duration * self.fps as f64 + 1e-9).floor() as usize
    }
}

/// A source of the scene, as listed in `events.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    pub id: u32,
    pub name: String,
    /// `None` for silent distractors.
    pub family: Option<Family>,
}

/// A generated scene: draws any frame and lists every cue.
pub struct Scene {
    pub config: SceneConfig,
    background: Canvas,
    ground: Ground,
    elements: Vec<Box<dyn Element>>,
    cues: Vec<(u32, Cue)>,
}

impl Scene {
    /// Generates the scene of `config` (deterministic in the config).
    pub fn generate(config: &SceneConfig) -> Result<Scene> {
        config.validate()?;
        let rng = Rng::new(config.seed);
        let mut pick = rng.fork(0);
        let (walker, slot_families) = choose_families(config, &mut pick)?;
        let duration = config.duration;

        let ground = Ground::generate(&mut rng.fork(1), walker);
        let mut elements: Vec<Box<dyn Element>> = Vec::new();
        if config.distractors {
            let free: Vec<Slot> = (0..NUM_SLOTS).filter(|&i| slot_families[i].is_none()).map(slot).collect();
            elements.extend(distractor::spawn(&mut rng.fork(2), &free, duration));
        }
        for (i, fam) in slot_families.iter().enumerate() {
            if let Some(f) = fam {
                elements.push(spawn_in_slot(*f, &mut rng.fork(10 + i as u64), slot(i), duration));
            }
        }
        if walker {
            elements.push(Box::new(walk::Walker::generate(&mut rng.fork(3), &ground, duration)));
        }

        let mut background = Canvas::new(config.width, config.height);
        draw_sky(&mut background, &mut rng.fork(4));
        ground.draw(&mut background);
        for e in &elements {
            e.draw_static(&mut background);
        }

        let last = (config.num_frames().max(2) - 1) as f64 / config.fps as f64;
        let mut cues = Vec::new();
        for (id, e) in elements.iter().enumerate() {
            for mut cue in e.cues() {
                if cue.onset < FIRST_ONSET || cue.onset >= last {
                    continue;
                }
                if let Some(s) = &mut cue.sustain {
                    s.offset = s.offset.min(duration);
                }
                cues.push((id as u32, cue));
            }
        }
        cues.sort_by(|a, b| a.1.onset.total_cmp(&b.1.onset).then(a.0.cmp(&b.0)));
        Ok(Scene { config: config.clone(), background, ground, elements, cues })
    }

    /// Every cue with its source id, sorted by onset.
    pub fn cues(&self) -> &[(u32, Cue)] {
        &self.cues
    }

    /// The ground tiles (their surfaces decide the footstep classes).
    pub fn ground(&self) -> &Ground {
        &self.ground
    }

    /// The sources (sounding and silent) with their ids.
    pub fn sources(&self) -> Vec<SourceInfo> {
        let it = self.elements.iter().enumerate();
        it.map(|(i, e)| SourceInfo { id: i as u32, name: e.name().to_string(), family: e.family() }).collect()
    }

    /// Number of frames.
    pub fn num_frames(&self) -> usize {
        self.config.num_frames()
    }

    /// A canvas of the scene's frame size, to pass to [`Scene::render_frame`].
    pub fn canvas(&self) -> Canvas {
        Canvas::new(self.config.width, self.config.height)
    }

    /// Draws frame `k` (time `k / fps`) into `canvas`.
    pub fn render_frame(&self, k: usize, canvas: &mut Canvas) {
        let t = k as f64 / self.config.fps as f64;
        canvas.copy_from(&self.background);
        for e in &self.elements {
            e.draw(t, canvas);
        }
    }
}

/// Slot `i` of the layout.
fn slot(i: usize) -> Slot {
    let w = 1.0 / NUM_SLOTS as f32;
    Slot { x0: i as f32 * w + 0.01, x1: (i + 1) as f32 * w - 0.01, top: 0.3, floor: GROUND_Y }
}

fn spawn_in_slot(f: Family, rng: &mut Rng, s: Slot, duration: f64) -> Box<dyn Element> {
    match f {
        Family::Drop => Box::new(drop::Drops::generate(rng, s, duration)),
        Family::Door => Box::new(door::Door::generate(rng, s, duration)),
        Family::Glass => Box::new(glass::Pane::generate(rng, s, duration)),
        Family::Gun => Box::new(gun::Gun::generate(rng, s, duration)),
        Family::Explosion => Box::new(explosion::Barrel::generate(rng, s, duration)),
        Family::Fire => Box::new(fire::Campfire::generate(rng, s, duration)),
        Family::Cart => Box::new(cart::Cart::generate(rng, s, duration)),
        Family::Water => Box::new(water::Spout::generate(rng, s, duration)),
        Family::Walk => unreachable!("the walker is not a slot family"),
    }
}

/// Whether there is a walker, and the family of each slot.
fn choose_families(config: &SceneConfig, rng: &mut Rng) -> Result<(bool, [Option<Family>; NUM_SLOTS])> {
    let mut slots = [None; NUM_SLOTS];
    if !config.families.is_empty() {
        let walker = config.families.contains(&Family::Walk);
        let rest: Vec<Family> = config.families.iter().copied().filter(|f| *f != Family::Walk).collect();
        // Spread the requested families over the slots in a seed-dependent order.
        let mut order: Vec<usize> = (0..NUM_SLOTS).collect();
        for i in (1..NUM_SLOTS).rev() {
            order.swap(i, rng.below(i + 1));
        }
        for (f, i) in rest.iter().zip(order) {
            slots[i] = Some(*f);
        }
        return Ok((walker, slots));
    }
    let weights: Vec<f64> = Family::SLOT_WEIGHTS.iter().map(|w| w.1).collect();
    let walker = rng.chance(WALKER_PROBABILITY);
    for s in &mut slots {
        if !rng.chance(EMPTY_SLOT_PROBABILITY) {
            *s = Some(Family::SLOT_WEIGHTS[rng.weighted(&weights)].0);
        }
    }
    if !walker && slots.iter().all(Option::is_none) {
        slots[rng.below(NUM_SLOTS)] = Some(Family::SLOT_WEIGHTS[rng.weighted(&weights)].0);
    }
    Ok((walker, slots))
}

/// A vertical sky gradient with a seed-dependent hue.
fn draw_sky(c: &mut Canvas, rng: &mut Rng) {
    let top: Rgb = [(60.0 + rng.range(0.0, 60.0)) as u8, (110.0 + rng.range(0.0, 60.0)) as u8, (170.0 + rng.range(0.0, 70.0)) as u8];
    let bottom = mix(top, [235, 230, 215], rng.range(0.4, 0.8) as f32);
    c.vertical_gradient(0.0, GROUND_Y, top, bottom);
}

/// A smooth random curve in `[0, 1]` (cosine-interpolated knots every `1 / rate` seconds).
#[derive(Debug, Clone)]
pub struct Wobble {
    knots: Vec<f32>,
    rate: f64,
}

impl Wobble {
    /// Knots covering `duration` seconds at `rate` knots per second.
    pub fn new(rng: &mut Rng, duration: f64, rate: f64) -> Self {
        let n = (duration * rate).ceil() as usize + 2;
        Self { knots: (0..n).map(|_| rng.f64() as f32).collect(), rate }
    }

    /// The curve at time `t`.
    pub fn at(&self, t: f64) -> f32 {
        let x = (t.max(0.0) * self.rate).min((self.knots.len() - 2) as f64);
        let i = x.floor() as usize;
        let f = ((1.0 - (std::f64::consts::PI * (x - i as f64)).cos()) * 0.5) as f32;
        self.knots[i] * (1.0 - f) + self.knots[i + 1] * f
    }
}

/// Short radial lines around an impact point: the visible mark of a hit, fading over `life` seconds.
pub fn draw_burst(c: &mut Canvas, x: f32, y: f32, age: f64, life: f64, size: f32, color: Rgb) {
    if !(0.0..life).contains(&age) {
        return;
    }
    let k = (age / life) as f32;
    let (r0, r1) = (size * (0.3 + 0.6 * k), size * (0.8 + 0.9 * k));
    for i in 0..7 {
        let a = std::f32::consts::PI * (1.0 + i as f32 / 6.0);
        let (dx, dy) = (a.cos(), a.sin());
        c.line(&[(x + dx * r0, y + dy * r0), (x + dx * r1, y + dy * r1)], 0.008, color, 1.0 - 0.7 * k);
    }
}
