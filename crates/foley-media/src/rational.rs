//! Exact frame rates and time bases, as ffmpeg reports them (`30000/1001`).

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// A non-negative rational number `num / den` with `den > 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rational {
    pub num: i64,
    pub den: i64,
}

impl Rational {
    /// `num / den`; `None` when `den` is 0 (ffmpeg's "unknown" is `0/0`).
    pub fn new(num: i64, den: i64) -> Option<Self> {
        (den != 0).then(|| if den < 0 { Self { num: -num, den: -den } } else { Self { num, den } })
    }

    /// The value as a float.
    pub fn as_f64(&self) -> f64 {
        self.num as f64 / self.den as f64
    }

    /// A rational close to `value`, with denominator 1001 or 1000 when that is exact enough.
    pub fn approximate(value: f64) -> Option<Self> {
        if !(value.is_finite() && value > 0.0) {
            return None;
        }
        for den in [1, 1001, 1000, 1_000_000] {
            let num = (value * den as f64).round();
            if (num / den as f64 - value).abs() < 1e-9 * value.max(1.0) || den == 1_000_000 {
                return Rational::new(num as i64, den);
            }
        }
        None
    }
}

impl fmt::Display for Rational {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 { write!(f, "{}", self.num) } else { write!(f, "{}/{}", self.num, self.den) }
    }
}

impl FromStr for Rational {
    type Err = String;

    /// Parses `"25"`, `"30000/1001"` or `"29.97"`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a positive rate (examples: 25, 30000/1001, 29.97)");
        let r = match s.split_once('/') {
            Some((n, d)) => Rational::new(n.trim().parse().map_err(|_| bad())?, d.trim().parse().map_err(|_| bad())?),
            None => match s.trim().parse::<i64>() {
                Ok(n) => Rational::new(n, 1),
                Err(_) => Rational::approximate(s.trim().parse::<f64>().map_err(|_| bad())?),
            },
        };
        r.filter(|r| r.num > 0).ok_or_else(bad)
    }
}

impl Serialize for Rational {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ffmpeg_rates() {
        assert_eq!("30000/1001".parse(), Ok(Rational { num: 30000, den: 1001 }));
        assert_eq!("25".parse(), Ok(Rational { num: 25, den: 1 }));
        assert_eq!("29.97".parse(), Ok(Rational { num: 29970, den: 1000 }));
        assert!("0/0".parse::<Rational>().is_err());
        assert!("fast".parse::<Rational>().is_err());
    }
}
