//! open_clip's `SimpleTokenizer` (OpenAI CLIP's byte-level BPE): clean and lowercase, split into
//! words with CLIP's regex, map each word's UTF-8 bytes to printable characters, merge by BPE
//! rank with `</w>` marking the word end, and frame with SOT/EOT.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use anyhow::Context;
use regex::Regex;

use super::clean::clean_lower;
use crate::fetch::{ModelCache, OPEN_CLIP_BPE};

/// Merges the vocabulary uses, lines `1..=48894` of the file: with the 512 byte tokens and the
/// two specials that makes CLIP's 49408 ids.
const N_MERGES: usize = 49152 - 256 - 2;
const START_OF_TEXT: &str = "<start_of_text>";
const END_OF_TEXT: &str = "<end_of_text>";

/// The CLIP BPE tokenizer.
#[derive(Debug, Clone)]
pub struct ClipTokenizer {
    /// Byte -> the printable character standing for it (GPT-2's `bytes_to_unicode`).
    byte_chars: [char; 256],
    encoder: HashMap<String, u32>,
    ranks: HashMap<(String, String), u32>,
    pattern: Regex,
    sot: u32,
    eot: u32,
}

/// GPT-2's `bytes_to_unicode`: printable Latin-1 bytes stand for themselves, the other bytes for
/// 256, 257, ... in byte order. Returned in vocabulary order (printable bytes first).
fn bytes_to_unicode() -> Vec<(u8, char)> {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut pairs: Vec<(u8, char)> = (0..=255u8).filter(|&b| printable(b)).map(|b| (b, char::from(b))).collect();
    let others = (0..=255u8).filter(|&b| !printable(b));
    pairs.extend(others.zip(256u32..).map(|(b, c)| (b, char::from_u32(c).expect("valid code point"))));
    pairs
}

impl ClipTokenizer {
    /// From `bpe_simple_vocab_16e6.txt.gz`.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let mut text = String::new();
        flate2::read::GzDecoder::new(file).read_to_string(&mut text).with_context(|| format!("{}: not a gzipped UTF-8 BPE vocabulary", path.display()))?;
        Self::from_merges(&text).with_context(|| format!("{}: not CLIP's BPE merge list", path.display()))
    }

    /// From the model cache (`OPEN_CLIP_BPE`), with the usual "run `foley models fetch`" error
    /// when absent.
    pub fn from_cache(cache: &ModelCache) -> anyhow::Result<Self> {
        let dir = cache.require(&OPEN_CLIP_BPE)?;
        Self::load(&dir.join(OPEN_CLIP_BPE.files[0].name))
    }

    /// The vocabulary: 256 byte characters, the same with `</w>`, one token per merge, SOT, EOT.
    fn from_merges(text: &str) -> anyhow::Result<Self> {
        let lines: Vec<&str> = text.split('\n').collect();
        anyhow::ensure!(lines.len() > N_MERGES, "{} lines, expected at least {}", lines.len(), N_MERGES + 1);
        let mut merges = Vec::with_capacity(N_MERGES);
        for (i, line) in lines[1..=N_MERGES].iter().enumerate() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            let [a, b] = parts[..] else { anyhow::bail!("line {}: expected a pair of symbols, got {line:?}", i + 2) };
            merges.push((a.to_string(), b.to_string()));
        }
        let bytes = bytes_to_unicode();
        let mut byte_chars = ['\0'; 256];
        for &(b, c) in &bytes {
            byte_chars[b as usize] = c;
        }
        let mut vocab: Vec<String> = bytes.iter().map(|&(_, c)| c.to_string()).collect();
        vocab.extend(bytes.iter().map(|&(_, c)| format!("{c}</w>")));
        vocab.extend(merges.iter().map(|(a, b)| format!("{a}{b}")));
        vocab.extend([START_OF_TEXT.to_string(), END_OF_TEXT.to_string()]);
        // Later duplicates win, as in Python's `dict(zip(vocab, range))`.
        let encoder: HashMap<String, u32> = vocab.into_iter().zip(0u32..).collect();
        let ranks = merges.into_iter().zip(0u32..).collect();
        let pattern = Regex::new(&format!(r"(?i){START_OF_TEXT}|{END_OF_TEXT}|'s|'t|'re|'ve|'m|'ll|'d|[\p{{L}}]+|[\p{{N}}]|[^\s\p{{L}}\p{{N}}]+"))?;
        let (sot, eot) = (encoder[START_OF_TEXT], encoder[END_OF_TEXT]);
        Ok(Self { byte_chars, encoder, ranks, pattern, sot, eot })
    }

    /// open_clip's tokenizer for one text: exactly `context_length` ids (SOT, BPE, EOT, zero
    /// padding; truncated keeping EOT).
    pub fn encode(&self, text: &str, context_length: usize) -> Vec<u32> {
        let mut ids = vec![self.sot];
        let text = clean_lower(text);
        for word in self.pattern.find_iter(&text) {
            let word = word.as_str();
            if word == START_OF_TEXT || word == END_OF_TEXT {
                ids.push(self.encoder[word]);
                continue;
            }
            let symbols: Vec<String> = word.bytes().map(|b| self.byte_chars[b as usize].to_string()).collect();
            ids.extend(self.bpe(symbols).iter().map(|s| self.encoder[s.as_str()]));
        }
        ids.push(self.eot);
        if ids.len() > context_length {
            ids.truncate(context_length);
            if let Some(last) = ids.last_mut() {
                *last = self.eot;
            }
        }
        ids.resize(context_length, 0);
        ids
    }

    /// Merge the word's symbols (the last one gets `</w>`), lowest rank first, every occurrence
    /// of the chosen pair left to right, until no ranked pair remains.
    fn bpe(&self, mut word: Vec<String>) -> Vec<String> {
        if let Some(last) = word.last_mut() {
            last.push_str("</w>");
        }
        while word.len() > 1 {
            let best = word.windows(2).filter_map(|p| self.ranks.get(&(p[0].clone(), p[1].clone())).map(|&r| (r, p))).min_by_key(|&(r, _)| r);
            let Some((_, pair)) = best else { break };
            let (first, second) = (pair[0].clone(), pair[1].clone());
            let mut merged = Vec::with_capacity(word.len());
            let mut i = 0;
            while i < word.len() {
                if word[i] == first && i + 1 < word.len() && word[i + 1] == second {
                    merged.push(format!("{first}{second}"));
                    i += 2;
                } else {
                    merged.push(std::mem::take(&mut word[i]));
                    i += 1;
                }
            }
            word = merged;
        }
        word
    }
}
