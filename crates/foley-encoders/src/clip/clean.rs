//! open_clip's text cleaning before BPE (`_clean_lower`): `ftfy.fix_text`, Python's
//! `html.unescape` twice, `strip`, whitespace runs collapsed to one space, lowercase.
//!
//! ftfy (6.x, default configuration) is reproduced step by step except `fix_encoding`, its
//! heuristic mojibake repair (re-decoding text that looks like UTF-8 read as Windows-1252 and
//! similar), which is not ported: text that is already valid Unicode, what a user types, is left
//! alone by it.

use std::sync::LazyLock;

use regex::{Captures, Regex};
use unicode_normalization::UnicodeNormalization;

/// `_clean_lower`: the string SimpleTokenizer splits into words.
pub fn clean_lower(text: &str) -> String {
    let text = fix_text(text);
    let text = html_unescape(&html_unescape(&text));
    // `strip()` then `" ".join(split())`: the split already drops the ends.
    text.split(is_py_space).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Python's `str.isspace`: Unicode White_Space plus the four ASCII separators U+001C..U+001F.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `ftfy.fix_text` with the default configuration (less `fix_encoding`): every fixer in ftfy's
/// order, then NFC, repeated until nothing changes.
pub fn fix_text(text: &str) -> String {
    // ftfy's `unescape_html="auto"`: text with a `<` may be HTML that means its entities.
    let unescape = !text.contains('<');
    let mut text = text.to_string();
    loop {
        let original = text.clone();
        if unescape {
            text = ftfy_unescape_html(&text);
        }
        text = fix_chars(&text);
        text = text.replace("\r\n", "\n").replace(['\r', '\u{2028}', '\u{2029}', '\u{85}'], "\n");
        text = ANSI_ESCAPE.replace_all(&text, "").into_owned();
        text.retain(|c| !is_removed_control(c));
        text = text.nfc().collect();
        if text == original {
            return text;
        }
    }
}

static ANSI_ESCAPE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\x1b\[((?:\d|;)*)([a-zA-Z])").expect("valid regex"));

/// ftfy's character-wise fixers in order: `fix_c1_controls`, `fix_latin_ligatures`,
/// `fix_character_width`, `uncurl_quotes`.
fn fix_chars(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let c = if ('\u{80}'..='\u{9f}').contains(&c) { cp1252_c1(c as u32) } else { c };
        for c in ligature(c).map_or_else(|| c.to_string(), str::to_string).chars() {
            for c in full_width(c).chars() {
                out.push(match c {
                    '\u{2bc}' | '\u{2018}'..='\u{201b}' => '\'',
                    '\u{201c}'..='\u{201f}' => '"',
                    c => c,
                });
            }
        }
    }
    out
}

/// The "sloppy" Windows-1252 reading of a C1 control code point (bytes Windows-1252 leaves
/// undefined keep their Latin-1 meaning).
fn cp1252_c1(code: u32) -> char {
    const TABLE: [u32; 32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D, 0x017D, 0x8F, //
        0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
    ];
    char::from_u32(TABLE[(code - 0x80) as usize]).expect("valid code point")
}

/// ftfy's `LIGATURES`: Latin typographic ligatures and legacy digraphs.
fn ligature(c: char) -> Option<&'static str> {
    Some(match c {
        'Ĳ' => "IJ",
        'ĳ' => "ij",
        'ŉ' => "ʼn",
        'Ǳ' => "DZ",
        'ǲ' => "Dz",
        'ǳ' => "dz",
        'Ǆ' => "DŽ",
        'ǅ' => "Dž",
        'ǆ' => "dž",
        'Ǉ' => "LJ",
        'ǈ' => "Lj",
        'ǉ' => "lj",
        'Ǌ' => "NJ",
        'ǋ' => "Nj",
        'ǌ' => "nj",
        'ﬀ' => "ff",
        'ﬁ' => "fi",
        'ﬂ' => "fl",
        'ﬃ' => "ffi",
        'ﬄ' => "ffl",
        'ﬅ' => "ſt",
        'ﬆ' => "st",
        _ => return None,
    })
}

/// ftfy's `WIDTH_MAP`: halfwidth and fullwidth forms (U+FF01..U+FFEF) to their NFKC form, and
/// the ideographic space to a space.
fn full_width(c: char) -> String {
    match c {
        '\u{3000}' => " ".to_string(),
        '\u{ff01}'..='\u{ffef}' => std::iter::once(c).nfkc().collect(),
        c => c.to_string(),
    }
}

/// ftfy's `remove_control_chars`.
fn is_removed_control(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{e}'..='\u{1f}' | '\u{7f}' | '\u{206a}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffc}')
}

static FTFY_ENTITY: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"&#?[0-9A-Za-z]{1,24};").expect("valid regex"));

/// ftfy's `unescape_html`: only entities that end in `;`, plus all-caps spellings of the
/// lowercase ones (`&EACUTE;` -> `É`) when that spelling is not itself an entity.
fn ftfy_unescape_html(text: &str) -> String {
    FTFY_ENTITY
        .replace_all(text, |caps: &Captures| {
            let m = &caps[0];
            if let Some(value) = html5_entity(m) {
                return value.to_string();
            }
            if m.starts_with("&#") {
                let value = html_unescape(m);
                return if value.contains(';') { m.to_string() } else { value };
            }
            let lower = m.to_ascii_lowercase();
            match html5_entity(&lower) {
                Some(value) if lower.to_ascii_uppercase() == m && html_unescape(m) == m => value.to_uppercase(),
                _ => m.to_string(),
            }
        })
        .into_owned()
}

/// The WHATWG named character reference `entity` (`&name;` or a legacy `&name`).
fn html5_entity(entity: &str) -> Option<&'static str> {
    htmlize::ENTITIES.get(entity.as_bytes()).map(|v| std::str::from_utf8(v).expect("entity table is UTF-8"))
}

static CHAR_REF: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\x0c <&#;]{1,32};?)").expect("valid regex"));

/// Python's `html.unescape`: numeric and named character references, named ones also without
/// `;` by longest known prefix.
pub fn html_unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    CHAR_REF
        .replace_all(text, |caps: &Captures| {
            let s = &caps[1];
            if let Some(num) = s.strip_prefix('#') {
                let num = num.trim_end_matches(';');
                let code = match num.strip_prefix(['x', 'X']) {
                    Some(hex) => parse_saturating(hex, 16),
                    None => parse_saturating(num, 10),
                };
                return numeric_char_ref(code);
            }
            if let Some(value) = html5_entity(&format!("&{s}")) {
                return value.to_string();
            }
            let bounds: Vec<usize> = s.char_indices().map(|(i, _)| i).skip(2).collect();
            for &end in bounds.iter().rev() {
                if let Some(value) = html5_entity(&format!("&{}", &s[..end])) {
                    return format!("{value}{}", &s[end..]);
                }
            }
            format!("&{s}")
        })
        .into_owned()
}

/// Digits in `radix`, saturating past the Unicode range (the value is then only out of range).
fn parse_saturating(digits: &str, radix: u32) -> u32 {
    digits.chars().fold(0u32, |acc, d| acc.saturating_mul(radix).saturating_add(d.to_digit(radix).unwrap_or(0)).min(0x0100_0000))
}

/// Python's `html._replace_charref` for a numeric reference.
fn numeric_char_ref(code: u32) -> String {
    match code {
        0 => '\u{fffd}'.to_string(),
        0x0d => '\r'.to_string(),
        0x80..=0x9f => cp1252_c1(code).to_string(),
        0xd800..=0xdfff | 0x11_0000.. => '\u{fffd}'.to_string(),
        0x1..=0x8 | 0xb | 0xe..=0x1f | 0x7f | 0xfdd0..=0xfdef => String::new(),
        c if c & 0xfffe == 0xfffe => String::new(),
        c => char::from_u32(c).expect("valid code point").to_string(),
    }
}
