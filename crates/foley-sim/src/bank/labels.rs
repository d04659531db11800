//! Which packaged files are which class. Minetest and Teeworlds files are matched by file name,
//! OpenArena files by their path inside the `.pk3` archives.

use super::copyright::glob_match;
use crate::classes::SoundClass::{self, *};

/// `(package, pattern, class)`: the pattern is matched against the file name (loose files) or
/// the member path (inside `.pk3` archives).
pub const RULES: &[(&str, &str, SoundClass)] = &[
    // minetest-data: Minetest Game's sounds.
    ("minetest-data", "default_grass_footstep.*.ogg", FootstepGrass),
    ("minetest-data", "default_wood_footstep.*.ogg", FootstepWood),
    ("minetest-data", "default_hard_footstep.*.ogg", FootstepStone),
    ("minetest-data", "default_metal_footstep.*.ogg", FootstepMetal),
    ("minetest-data", "default_gravel_footstep.*.ogg", FootstepGravel),
    ("minetest-data", "default_snow_footstep.*.ogg", FootstepSnow),
    ("minetest-data", "default_water_footstep.*.ogg", FootstepWater),
    ("minetest-data", "default_sand_footstep.*.ogg", FootstepSand),
    ("minetest-data", "default_dirt_footstep.*.ogg", FootstepDirt),
    ("minetest-data", "doors_*_open.ogg", DoorOpen),
    ("minetest-data", "xpanes_*_open.ogg", DoorOpen),
    ("minetest-data", "default_chest_open.ogg", DoorOpen),
    ("minetest-data", "doors_*_close.ogg", DoorClose),
    ("minetest-data", "xpanes_*_close.ogg", DoorClose),
    ("minetest-data", "default_chest_close.ogg", DoorClose),
    ("minetest-data", "default_break_glass.*.ogg", GlassBreak),
    ("minetest-data", "tnt_explode.ogg", Explosion),
    ("minetest-data", "default_dig_choppy.*.ogg", ImpactWood),
    ("minetest-data", "default_dig_metal.ogg", ImpactMetal),
    ("minetest-data", "default_dug_metal.*.ogg", ImpactMetal),
    ("minetest-data", "default_place_node_metal.*.ogg", ImpactMetal),
    ("minetest-data", "default_dig_cracky.*.ogg", ImpactStone),
    ("minetest-data", "default_place_node_hard.*.ogg", ImpactStone),
    ("minetest-data", "default_place_node.*.ogg", ImpactSoft),
    ("minetest-data", "default_dug_node.*.ogg", ImpactSoft),
    ("minetest-data", "default_dig_crumbly.ogg", ImpactSoft),
    ("minetest-data", "fire_fire.*.ogg", Fire),
    ("minetest-data", "fire_large.ogg", Fire),
    ("minetest-data", "fire_small.ogg", Fire),
    ("minetest-data", "carts_cart_moving.*.ogg", Cart),
    ("minetest-data", "env_sounds_water.*.ogg", Water),
    // openarena-data: members of baseoa/pak0.pk3 and missionpack/mp-pak0.pk3.
    ("openarena-data", "sound/player/footsteps/step*.wav", FootstepStone),
    ("openarena-data", "sound/player/footsteps/boot*.wav", FootstepStone),
    ("openarena-data", "sound/player/footsteps/clank*.wav", FootstepMetal),
    ("openarena-data", "sound/player/footsteps/splash*.wav", FootstepWater),
    ("openarena-data", "sound/movers/doors/dr1_strt.wav", DoorOpen),
    ("openarena-data", "sound/movers/doors/dr1_end.wav", DoorClose),
    ("openarena-data", "sound/weapons/rocket/rocklx1a.wav", Explosion),
    ("openarena-data", "sound/weapons/proxmine/wstbexpl.wav", Explosion),
    ("openarena-data", "sound/weapons/machinegun/machgf*b.wav", Gunshot),
    ("openarena-data", "sound/weapons/shotgun/sshotf1b.wav", Gunshot),
    ("openarena-data", "sound/weapons/vulcan/vulcanf*b.wav", Gunshot),
    ("openarena-data", "sound/weapons/grenade/hgrenb*a.wav", ImpactMetal),
    ("openarena-data", "sound/player/watr_in.wav", Splash),
    ("openarena-data", "sound/player/watr_out.wav", Splash),
    ("openarena-data", "sound/world/fire1.wav", Fire),
    ("openarena-data", "sound/world/fire2.wav", Fire),
    ("openarena-data", "sound/world/firesoft.wav", Fire),
    ("openarena-data", "sound/world/waterfall.wav", Water),
    // teeworlds-data: WavPack files in data/audio.
    ("teeworlds-data", "wp_gun_fire-*.wv", Gunshot),
    ("teeworlds-data", "wp_shotty_fire-*.wv", Gunshot),
    ("teeworlds-data", "wp_flump_explo-*.wv", Explosion),
    ("teeworlds-data", "wp_hammer_hit-*.wv", ImpactSoft),
    ("teeworlds-data", "foley_body_impact-*.wv", ImpactSoft),
    ("teeworlds-data", "foley_land-*.wv", ImpactSoft),
];

/// The class of a file of `package` named `name` (file name, or member path inside a `.pk3`).
pub fn label(package: &str, name: &str) -> Option<SoundClass> {
    RULES.iter().find(|r| r.0 == package && glob_match(r.1, name)).map(|r| r.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_pick_the_first_matching_rule() {
        assert_eq!(label("minetest-data", "default_place_node_metal.1.ogg"), Some(ImpactMetal));
        assert_eq!(label("minetest-data", "default_place_node.2.ogg"), Some(ImpactSoft));
        assert_eq!(label("minetest-data", "doors_steel_door_close.ogg"), Some(DoorClose));
        assert_eq!(label("openarena-data", "sound/player/footsteps/clank3.wav"), Some(FootstepMetal));
        assert_eq!(label("openarena-data", "sound/player/footsteps/energy1.wav"), None);
        assert_eq!(label("teeworlds-data", "wp_gun_fire-02.wv"), Some(Gunshot));
        assert_eq!(label("teeworlds-data", "music_menu.wv"), None);
    }

    #[test]
    fn every_class_has_a_rule() {
        for c in SoundClass::ALL {
            assert!(RULES.iter().any(|r| r.2 == c), "no recordings would be labelled {}", c.name());
        }
    }
}
