//! The sound classes of foley-sim and the ground surfaces / materials that select them.

use serde::{Deserialize, Serialize};

/// Every class of sound a scene can make. Footsteps and impacts are split by the surface or
/// material that is visibly touched, so the picture decides the class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SoundClass {
    FootstepGrass,
    FootstepWood,
    FootstepStone,
    FootstepMetal,
    FootstepGravel,
    FootstepSnow,
    FootstepWater,
    FootstepSand,
    FootstepDirt,
    DoorOpen,
    DoorClose,
    GlassBreak,
    Explosion,
    Gunshot,
    ImpactWood,
    ImpactMetal,
    ImpactStone,
    ImpactSoft,
    Splash,
    /// Continuous: crackling fire, gain follows the flame size.
    Fire,
    /// Continuous: a rolling cart, rate and pitch follow its speed.
    Cart,
    /// Continuous: running water, gain follows the flow.
    Water,
}

impl SoundClass {
    /// All classes, in a fixed order (the index order of class vectors).
    pub const ALL: [SoundClass; 22] = [
        Self::FootstepGrass,
        Self::FootstepWood,
        Self::FootstepStone,
        Self::FootstepMetal,
        Self::FootstepGravel,
        Self::FootstepSnow,
        Self::FootstepWater,
        Self::FootstepSand,
        Self::FootstepDirt,
        Self::DoorOpen,
        Self::DoorClose,
        Self::GlassBreak,
        Self::Explosion,
        Self::Gunshot,
        Self::ImpactWood,
        Self::ImpactMetal,
        Self::ImpactStone,
        Self::ImpactSoft,
        Self::Splash,
        Self::Fire,
        Self::Cart,
        Self::Water,
    ];

    /// The snake_case name used in files (`footstep_grass`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::FootstepGrass => "footstep_grass",
            Self::FootstepWood => "footstep_wood",
            Self::FootstepStone => "footstep_stone",
            Self::FootstepMetal => "footstep_metal",
            Self::FootstepGravel => "footstep_gravel",
            Self::FootstepSnow => "footstep_snow",
            Self::FootstepWater => "footstep_water",
            Self::FootstepSand => "footstep_sand",
            Self::FootstepDirt => "footstep_dirt",
            Self::DoorOpen => "door_open",
            Self::DoorClose => "door_close",
            Self::GlassBreak => "glass_break",
            Self::Explosion => "explosion",
            Self::Gunshot => "gunshot",
            Self::ImpactWood => "impact_wood",
            Self::ImpactMetal => "impact_metal",
            Self::ImpactStone => "impact_stone",
            Self::ImpactSoft => "impact_soft",
            Self::Splash => "splash",
            Self::Fire => "fire",
            Self::Cart => "cart",
            Self::Water => "water",
        }
    }

    /// Parses a class name as written by [`SoundClass::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Position in [`SoundClass::ALL`].
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|&c| c == self).expect("every class is listed in ALL")
    }

    /// Continuous sources loop their recording between an onset and an offset.
    pub fn is_continuous(self) -> bool {
        matches!(self, Self::Fire | Self::Cart | Self::Water)
    }

    /// Level of the class at full physical gain, in dB relative to a peak-normalized recording:
    /// an explosion is louder than a footstep.
    pub fn level_db(self) -> f32 {
        match self {
            Self::Explosion => 0.0,
            Self::Gunshot | Self::GlassBreak => -3.0,
            Self::DoorClose | Self::ImpactMetal | Self::ImpactStone | Self::ImpactWood => -6.0,
            Self::Splash | Self::ImpactSoft | Self::DoorOpen => -8.0,
            Self::Fire | Self::Cart | Self::Water => -12.0,
            _ => -10.0, // footsteps
        }
    }
}

/// A ground surface a walker can step on; its look (colour, texture) decides the footstep class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Surface {
    Grass,
    Wood,
    Stone,
    Metal,
    Gravel,
    Snow,
    Water,
    Sand,
    Dirt,
}

impl Surface {
    /// All surfaces; walkers draw their tiles uniformly from this list.
    pub const ALL: [Surface; 9] = [Self::Grass, Self::Wood, Self::Stone, Self::Metal, Self::Gravel, Self::Snow, Self::Water, Self::Sand, Self::Dirt];

    /// The footstep class of this surface.
    pub fn footstep(self) -> SoundClass {
        match self {
            Self::Grass => SoundClass::FootstepGrass,
            Self::Wood => SoundClass::FootstepWood,
            Self::Stone => SoundClass::FootstepStone,
            Self::Metal => SoundClass::FootstepMetal,
            Self::Gravel => SoundClass::FootstepGravel,
            Self::Snow => SoundClass::FootstepSnow,
            Self::Water => SoundClass::FootstepWater,
            Self::Sand => SoundClass::FootstepSand,
            Self::Dirt => SoundClass::FootstepDirt,
        }
    }

    /// Base colour (RGB) of the surface.
    pub fn color(self) -> [u8; 3] {
        match self {
            Self::Grass => [70, 150, 60],
            Self::Wood => [150, 100, 55],
            Self::Stone => [128, 128, 125],
            Self::Metal => [150, 165, 185],
            Self::Gravel => [110, 100, 90],
            Self::Snow => [240, 244, 250],
            Self::Water => [50, 110, 200],
            Self::Sand => [220, 200, 130],
            Self::Dirt => [115, 80, 50],
        }
    }
}

/// The material of a slab that objects fall onto; decides the impact class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Material {
    Wood,
    Metal,
    Stone,
    Soft,
    Water,
}

impl Material {
    /// All materials; slabs draw theirs uniformly from this list.
    pub const ALL: [Material; 5] = [Self::Wood, Self::Metal, Self::Stone, Self::Soft, Self::Water];

    /// The impact class of an object landing on this material.
    pub fn impact(self) -> SoundClass {
        match self {
            Self::Wood => SoundClass::ImpactWood,
            Self::Metal => SoundClass::ImpactMetal,
            Self::Stone => SoundClass::ImpactStone,
            Self::Soft => SoundClass::ImpactSoft,
            Self::Water => SoundClass::Splash,
        }
    }

    /// Coefficient of restitution: how much speed a bounce keeps (water swallows the object).
    pub fn restitution(self) -> f64 {
        match self {
            Self::Metal => 0.55,
            Self::Wood => 0.45,
            Self::Stone => 0.4,
            Self::Soft => 0.15,
            Self::Water => 0.0,
        }
    }

    /// The surface with the same look, used to texture the slab.
    pub fn surface(self) -> Surface {
        match self {
            Self::Wood => Surface::Wood,
            Self::Metal => Surface::Metal,
            Self::Stone => Surface::Stone,
            Self::Soft => Surface::Dirt,
            Self::Water => Surface::Water,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for c in SoundClass::ALL {
            assert_eq!(SoundClass::from_name(c.name()), Some(c));
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{}\"", c.name()));
        }
        assert_eq!(SoundClass::ALL.iter().filter(|c| c.is_continuous()).count(), 3);
    }
}
