//! Licences from a Debian package's machine-readable `debian/copyright` (DEP-5).
//!
//! Debian's `Files:` patterns name paths in the *source* tree (`mtg/mods/doors/sounds/*`),
//! while we see installed paths (`usr/share/games/minetest/games/minetest_game/mods/doors/...`).
//! A pattern therefore applies when it matches a tail of the installed path, optionally after
//! dropping the pattern's first directory (the source tree's top-level folder name). As in
//! DEP-5, the last matching stanza wins.

/// One `Files:` stanza: its patterns, licence short name and copyright holders.
#[derive(Debug, Clone, PartialEq)]
pub struct Stanza {
    pub files: Vec<String>,
    pub license: String,
    pub copyright: String,
}

/// The licence and copyright that apply to one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Licence {
    pub license: String,
    pub copyright: String,
}

/// Parses the `Files:` stanzas of a DEP-5 copyright file (other stanzas are skipped).
pub fn parse(text: &str) -> Vec<Stanza> {
    let mut out = Vec::new();
    for para in text.split("\n\n") {
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in para.lines() {
            if line.starts_with([' ', '\t']) {
                if let Some(last) = fields.last_mut() {
                    last.1.push('\n');
                    last.1.push_str(line.trim());
                }
            } else if let Some((k, v)) = line.split_once(':') {
                fields.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let get = |k: &str| fields.iter().find(|f| f.0.eq_ignore_ascii_case(k)).map(|f| f.1.clone());
        let (Some(files), Some(license)) = (get("Files"), get("License")) else {
            continue;
        };
        let files = files.split_whitespace().map(str::to_string).collect();
        // The first line of License is the short name; the rest is the text.
        let license = license.lines().next().unwrap_or("").trim().to_string();
        let copyright = get("Copyright").unwrap_or_default().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ");
        out.push(Stanza { files, license, copyright });
    }
    out
}

/// The licence of `path` (relative to the package root, `/`-separated): the last stanza with a
/// pattern matching a tail of the path.
pub fn licence_of(stanzas: &[Stanza], path: &str) -> Option<Licence> {
    stanzas
        .iter()
        .rev()
        .find(|s| s.files.iter().any(|p| pattern_matches(p, path)))
        .map(|s| Licence { license: s.license.clone(), copyright: s.copyright.clone() })
}

fn pattern_matches(pattern: &str, path: &str) -> bool {
    let mut candidates = vec![pattern];
    if let Some((_, rest)) = pattern.split_once('/')
        && rest.contains('/')
    {
        candidates.push(rest);
    }
    let tails = std::iter::once(path).chain(path.match_indices('/').map(|(i, _)| &path[i + 1..]));
    let tails: Vec<&str> = tails.collect();
    candidates.iter().any(|p| tails.iter().any(|t| glob_match(p, t)))
}

/// Shell-style match where `*` matches any run of characters (including `/`, as in DEP-5)
/// and `?` any one character.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
Upstream-Name: Minetest\n\nFiles: *\nCopyright: 2010 celeron55\nLicense: LGPL-2.1+\n\n\
Files: *.ogg\n       *.png\nCopyright: 2010-2016, celeron55\n           2012, PilzAdam\nLicense: CC-BY-SA-3.0\n text\n\n\
Files: mtg/mods/doors/sounds/*\nCopyright: 2014, CGEffex\nLicense: CC-BY-3.0\n\n\
Files: mtg/mods/tnt/sounds/*\nCopyright: no-copyright\nLicense: CC0-1.0\n";

    #[test]
    fn last_matching_stanza_wins_on_installed_paths() {
        let st = parse(SAMPLE);
        assert_eq!(st.len(), 4);
        let root = "usr/share/games/minetest/games/minetest_game/mods";
        let lic = |p: &str| licence_of(&st, &format!("{root}/{p}")).unwrap().license;
        assert_eq!(lic("default/sounds/default_grass_footstep.1.ogg"), "CC-BY-SA-3.0");
        assert_eq!(lic("doors/sounds/doors_door_open.ogg"), "CC-BY-3.0");
        assert_eq!(lic("tnt/sounds/tnt_explode.ogg"), "CC0-1.0");
        assert_eq!(lic("default/init.lua"), "LGPL-2.1+");
        assert_eq!(st[1].copyright, "2010-2016, celeron55; 2012, PilzAdam");
    }

    #[test]
    fn glob_semantics() {
        assert!(glob_match("*.ogg", "a/b/c.ogg"));
        assert!(glob_match("default_*_footstep.?.ogg", "default_grass_footstep.1.ogg"));
        assert!(!glob_match("default_*_footstep.?.ogg", "default_grass_footstep.ogg"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("a*b", "ac"));
    }
}
