//! Dense optical flow by Farnebäck's polynomial expansion, following OpenCV's
//! `calcOpticalFlowFarneback` (box-filter variant, `flags = 0`) step by step, because AV-Align
//! thresholds the mean flow magnitude of that exact estimator.
//!
//! Per pyramid level (coarse to fine, `scale = pyr_scale^k`, levels stop before a side drops
//! under 32 px): Gaussian pre-blur with `sigma = (1/scale - 1) / 2` (size `round(5 sigma) | 1`,
//! at least 3; sigma 0 means OpenCV's fixed `[1/4, 1/2, 1/4]`), bilinear resize, quadratic
//! polynomial expansion of each image (`poly_n`, `poly_sigma`), then `iterations` rounds of:
//! box-blur the per-pixel normal equations over `win_size`, solve the 2x2 system for the flow,
//! rebuild the equations at the new displacement. The flow is upsampled by bilinear resize and
//! scaled by `1 / pyr_scale` between levels.

/// A single-channel f32 image, row-major.
#[derive(Debug, Clone)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

impl Image {
    /// OpenCV's `cvtColor(RGB2GRAY)` on 8-bit RGB (fixed point, weights 4899/9617/1868 over 2¹⁴).
    pub fn from_rgb(width: usize, height: usize, rgb: &[u8]) -> Self {
        let data = rgb.chunks_exact(3).map(|p| ((p[0] as u32 * 4899 + p[1] as u32 * 9617 + p[2] as u32 * 1868 + 8192) >> 14) as f32).collect();
        Self { width, height, data }
    }
}

/// `calcOpticalFlowFarneback` parameters (AV-Align's: 0.5, 3, 15, 3, 5, 1.2).
#[derive(Debug, Clone, Copy)]
pub struct FarnebackParams {
    pub pyr_scale: f64,
    pub levels: usize,
    pub win_size: usize,
    pub iterations: usize,
    pub poly_n: usize,
    pub poly_sigma: f64,
}

impl FarnebackParams {
    pub const AV_ALIGN: FarnebackParams = FarnebackParams { pyr_scale: 0.5, levels: 3, win_size: 15, iterations: 3, poly_n: 5, poly_sigma: 1.2 };

    /// Scales of the pyramid levels used for an image of this size, finest first.
    fn scales(&self, width: usize, height: usize) -> Vec<f64> {
        let mut scales = vec![1.0];
        let mut s = 1.0;
        for _ in 0..self.levels {
            s *= self.pyr_scale;
            if (width as f64 * s) < 32.0 || (height as f64 * s) < 32.0 {
                break;
            }
            scales.push(s);
        }
        scales
    }
}

/// The polynomial expansions of one frame at every pyramid level (reused for two frame pairs).
pub struct Expansion {
    /// Per level (finest first): width, height, 5 coefficients per pixel.
    levels: Vec<(usize, usize, Vec<f32>)>,
}

impl Expansion {
    pub fn new(img: &Image, p: &FarnebackParams) -> Self {
        let levels = p
            .scales(img.width, img.height)
            .into_iter()
            .map(|scale| {
                let sigma = (1.0 / scale - 1.0) * 0.5;
                let size = (((sigma * 5.0).round_ties_even() as usize) | 1).max(3);
                let blurred = gaussian_blur(img, size, sigma);
                let (w, h) = ((img.width as f64 * scale).round() as usize, (img.height as f64 * scale).round() as usize);
                let resized = resize(&blurred.data, blurred.width, blurred.height, 1, w, h);
                (w, h, poly_expansion(&resized, w, h, p.poly_n, p.poly_sigma))
            })
            .collect();
        Self { levels }
    }
}

/// Mean flow magnitude from `prev` to `next` (what AV-Align records per frame pair).
pub fn mean_flow_magnitude(prev: &Expansion, next: &Expansion, p: &FarnebackParams) -> f64 {
    let flow = farneback(prev, next, p);
    let sum: f64 = flow.chunks_exact(2).map(|f| ((f[0] * f[0] + f[1] * f[1]) as f64).sqrt()).sum();
    sum / (flow.len() / 2).max(1) as f64
}

/// Dense flow (dx, dy interleaved) at full resolution.
pub fn farneback(prev: &Expansion, next: &Expansion, p: &FarnebackParams) -> Vec<f32> {
    let mut flow: Vec<f32> = Vec::new();
    let mut prev_size = (0, 0);
    for k in (0..prev.levels.len()).rev() {
        let (w, h, r0) = &prev.levels[k];
        let r1 = &next.levels[k].2;
        flow = if flow.is_empty() {
            vec![0f32; w * h * 2]
        } else {
            let up = resize(&flow, prev_size.0, prev_size.1, 2, *w, *h);
            up.into_iter().map(|v| (v as f64 / p.pyr_scale) as f32).collect()
        };
        let mut m = update_matrices(r0, r1, &flow, *w, *h);
        for it in 0..p.iterations {
            flow = solve_blurred(&m, *w, *h, p.win_size);
            if it + 1 < p.iterations {
                m = update_matrices(r0, r1, &flow, *w, *h);
            }
        }
        prev_size = (*w, *h);
    }
    flow
}

/// OpenCV's `getGaussianKernel`: fixed small kernels when sigma <= 0, else sampled and normalized.
fn gaussian_kernel(size: usize, sigma: f64) -> Vec<f64> {
    if sigma <= 0.0 && size == 3 {
        return vec![0.25, 0.5, 0.25];
    }
    let sigma = if sigma > 0.0 { sigma } else { ((size as f64 - 1.0) * 0.5 - 1.0) * 0.3 + 0.8 };
    let c = (size / 2) as f64;
    let k: Vec<f64> = (0..size).map(|i| (-((i as f64 - c).powi(2)) / (2.0 * sigma * sigma)).exp()).collect();
    let s: f64 = k.iter().sum();
    k.into_iter().map(|v| v / s).collect()
}

/// Reflect-101 index (`dcb|abcd|cba`).
fn reflect101(i: isize, n: usize) -> usize {
    let n = n as isize;
    if n == 1 {
        return 0;
    }
    let mut i = i;
    while i < 0 || i >= n {
        i = if i < 0 { -i } else { 2 * n - 2 - i };
    }
    i as usize
}

/// Separable Gaussian blur with reflect-101 borders (`GaussianBlur`'s default).
fn gaussian_blur(img: &Image, size: usize, sigma: f64) -> Image {
    let k = gaussian_kernel(size, sigma);
    let r = (size / 2) as isize;
    let (w, h) = (img.width, img.height);
    let mut tmp = vec![0f32; w * h];
    for y in 0..h {
        let row = &img.data[y * w..(y + 1) * w];
        for x in 0..w {
            let s: f64 = k.iter().enumerate().map(|(j, kv)| kv * row[reflect101(x as isize + j as isize - r, w)] as f64).sum();
            tmp[y * w + x] = s as f32;
        }
    }
    let mut out = vec![0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let s: f64 = k.iter().enumerate().map(|(j, kv)| kv * tmp[reflect101(y as isize + j as isize - r, h) * w + x] as f64).sum();
            out[y * w + x] = s as f32;
        }
    }
    Image { width: w, height: h, data: out }
}

/// Bilinear resize with OpenCV's pixel-centre mapping, `ch` interleaved channels.
fn resize(src: &[f32], sw: usize, sh: usize, ch: usize, dw: usize, dh: usize) -> Vec<f32> {
    let taps = |d: usize, s: usize| -> Vec<(usize, usize, f32)> {
        let scale = s as f64 / d as f64;
        (0..d)
            .map(|i| {
                let f = (i as f64 + 0.5) * scale - 0.5;
                let mut i0 = f.floor() as isize;
                let mut frac = (f - i0 as f64) as f32;
                if i0 < 0 {
                    i0 = 0;
                    frac = 0.0;
                }
                if i0 as usize >= s - 1 {
                    return (s - 1, s - 1, 0.0);
                }
                (i0 as usize, i0 as usize + 1, frac)
            })
            .collect()
    };
    let (xs, ys) = (taps(dw, sw), taps(dh, sh));
    let mut out = vec![0f32; dw * dh * ch];
    for (y, &(y0, y1, fy)) in ys.iter().enumerate() {
        for (x, &(x0, x1, fx)) in xs.iter().enumerate() {
            for c in 0..ch {
                let at = |yy: usize, xx: usize| src[(yy * sw + xx) * ch + c];
                let top = at(y0, x0) * (1.0 - fx) + at(y0, x1) * fx;
                let bottom = at(y1, x0) * (1.0 - fx) + at(y1, x1) * fx;
                out[(y * dw + x) * ch + c] = top * (1.0 - fy) + bottom * fy;
            }
        }
    }
    out
}

/// Farnebäck's quadratic fit in a Gaussian-weighted window (OpenCV `FarnebackPolyExp`):
/// per pixel `[ry, rx, ryy, rxx, rxy]`, borders replicated.
fn poly_expansion(src: &[f32], w: usize, h: usize, n: usize, sigma: f64) -> Vec<f32> {
    let ni = n as isize;
    let mut g: Vec<f64> = (-ni..=ni).map(|x| (-(x * x) as f64 / (2.0 * sigma * sigma)).exp()).collect();
    let s: f64 = g.iter().sum();
    g.iter_mut().for_each(|v| *v = (*v / s) as f32 as f64);
    let at = |x: isize| g[(x + ni) as usize];
    let (xg, xxg): (Vec<f64>, Vec<f64>) = (-ni..=ni).map(|x| (((x as f64) * at(x)) as f32 as f64, ((x * x) as f64 * at(x)) as f32 as f64)).unzip();
    // Inverse of the 6x6 normal matrix: only four distinct entries are needed.
    let (mut g00, mut g11, mut g33, mut g55) = (0f64, 0f64, 0f64, 0f64);
    for y in -ni..=ni {
        for x in -ni..=ni {
            let wgt = at(y) * at(x);
            let (xf, yf) = (x as f64, y as f64);
            g00 += wgt;
            g11 += wgt * xf * xf;
            g33 += wgt * xf.powi(4);
            g55 += wgt * xf * xf * yf * yf;
        }
    }
    // G = [[g00,0,0,g11,g11,0],[0,g11,..],[0,0,g11,..],[g11,0,0,g33,g55,0],[g11,0,0,g55,g33,0],[..,g55]].
    let ig11 = 1.0 / g11;
    let ig55 = 1.0 / g55;
    // Block {0,3,4}: [[g00,g11,g11],[g11,g33,g55],[g11,g55,g33]]; its inverse's (0,1) and (1,1).
    let det = g00 * (g33 * g33 - g55 * g55) - g11 * (g11 * g33 - g55 * g11) + g11 * (g11 * g55 - g33 * g11);
    let ig03 = -(g11 * g33 - g11 * g55) / det;
    let ig33 = (g00 * g33 - g11 * g11) / det;
    let mut out = vec![0f32; w * h * 5];
    let mut row = vec![0f32; (w + 2 * n) * 3];
    for y in 0..h {
        // Vertical pass: weights g, xg (odd), xxg.
        for x in 0..w {
            let c = src[y * w + x];
            row[(x + n) * 3] = c * at(0) as f32;
            row[(x + n) * 3 + 1] = 0.0;
            row[(x + n) * 3 + 2] = 0.0;
        }
        for k in 1..=n {
            let (g0, g1, g2) = (at(k as isize) as f32, xg[n + k] as f32, xxg[n + k] as f32);
            let (up, down) = (y.saturating_sub(k), (y + k).min(h - 1));
            for x in 0..w {
                let (a, b) = (src[up * w + x], src[down * w + x]);
                let p = a + b;
                let i = (x + n) * 3;
                row[i] += g0 * p;
                row[i + 1] += g1 * (b - a);
                row[i + 2] += g2 * p;
            }
        }
        for x in 0..n {
            for c in 0..3 {
                row[x * 3 + c] = row[n * 3 + c];
                row[(w + n + x) * 3 + c] = row[(w + n - 1) * 3 + c];
            }
        }
        // Horizontal pass.
        for x in 0..w {
            let i = |d: isize| ((x + n) as isize + d) as usize * 3;
            let g0 = at(0);
            let (mut b1, mut b2, mut b3) = (row[i(0)] as f64 * g0, 0f64, row[i(0) + 1] as f64 * g0);
            let (mut b4, mut b5, mut b6) = (0f64, row[i(0) + 2] as f64 * g0, 0f64);
            for k in 1..=ni {
                let (p, m) = (i(k), i(-k));
                let tg = row[p] as f64 + row[m] as f64;
                let gk = at(k);
                b1 += tg * gk;
                b4 += tg * xxg[(ni + k) as usize];
                b2 += (row[p] as f64 - row[m] as f64) * xg[(ni + k) as usize];
                b3 += (row[p + 1] as f64 + row[m + 1] as f64) * gk;
                b6 += (row[p + 1] as f64 - row[m + 1] as f64) * xg[(ni + k) as usize];
                b5 += (row[p + 2] as f64 + row[m + 2] as f64) * gk;
            }
            let o = (y * w + x) * 5;
            out[o + 1] = (b2 * ig11) as f32;
            out[o] = (b3 * ig11) as f32;
            out[o + 3] = (b1 * ig03 + b4 * ig33) as f32;
            out[o + 2] = (b1 * ig03 + b5 * ig33) as f32;
            out[o + 4] = (b6 * ig55) as f32;
        }
    }
    out
}

/// Per-pixel normal equations `[g11, g12, g22, h1, h2]` at the current flow (OpenCV
/// `FarnebackUpdateMatrices`, including its border down-weighting).
fn update_matrices(r0: &[f32], r1: &[f32], flow: &[f32], w: usize, h: usize) -> Vec<f32> {
    const BORDER: [f32; 5] = [0.14, 0.14, 0.4472, 0.4472, 0.4472];
    let mut m = vec![0f32; w * h * 5];
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let (dx, dy) = (flow[i * 2], flow[i * 2 + 1]);
            let (fx, fy) = (x as f32 + dx, y as f32 + dy);
            let (x1, y1) = (fx.floor() as isize, fy.floor() as isize);
            let (fx, fy) = (fx - x1 as f32, fy - y1 as f32);
            let r = &r0[i * 5..i * 5 + 5];
            let (mut r2, mut r3, r4, r5, r6);
            if x1 >= 0 && y1 >= 0 && (x1 as usize) < w - 1 && (y1 as usize) < h - 1 {
                let (a00, a01, a10, a11) = ((1.0 - fx) * (1.0 - fy), fx * (1.0 - fy), (1.0 - fx) * fy, fx * fy);
                let base = (y1 as usize * w + x1 as usize) * 5;
                let s = |c: usize| a00 * r1[base + c] + a01 * r1[base + 5 + c] + a10 * r1[base + w * 5 + c] + a11 * r1[base + w * 5 + 5 + c];
                r2 = s(0);
                r3 = s(1);
                r4 = (r[2] + s(2)) * 0.5;
                r5 = (r[3] + s(3)) * 0.5;
                r6 = (r[4] + s(4)) * 0.25;
            } else {
                r2 = 0.0;
                r3 = 0.0;
                r4 = r[2];
                r5 = r[3];
                r6 = r[4] * 0.5;
            }
            r2 = (r[0] - r2) * 0.5;
            r3 = (r[1] - r3) * 0.5;
            r2 += r4 * dy + r6 * dx;
            r3 += r6 * dy + r5 * dx;
            let edge = |v: usize, n: usize| {
                if v < 5 {
                    BORDER[v]
                } else if v >= n - 5 {
                    BORDER[n - v - 1]
                } else {
                    1.0
                }
            };
            let scale = if x < 5 || y < 5 || x + 5 >= w || y + 5 >= h { edge(x, w) * edge(y, h) } else { 1.0 };
            let (r2, r3, r4, r5, r6) = (r2 * scale, r3 * scale, r4 * scale, r5 * scale, r6 * scale);
            m[i * 5] = r4 * r4 + r6 * r6;
            m[i * 5 + 1] = (r4 + r5) * r6;
            m[i * 5 + 2] = r5 * r5 + r6 * r6;
            m[i * 5 + 3] = r4 * r2 + r6 * r3;
            m[i * 5 + 4] = r6 * r2 + r5 * r3;
        }
    }
    m
}

/// Box-blurs the equations over `win x win` (replicated borders, f64 sums) and solves each
/// pixel's regularized 2x2 system (OpenCV `FarnebackUpdateFlow_Blur`).
fn solve_blurred(m: &[f32], w: usize, h: usize, win: usize) -> Vec<f32> {
    let r = (win / 2) as isize;
    let scale = 1.0 / (win * win) as f64;
    // Vertical sums with replicated rows.
    let mut v = vec![0f64; w * h * 5];
    for x in 0..w * 5 {
        let mut acc: f64 = (-r..=r).map(|d| m[(d.clamp(0, h as isize - 1) as usize) * w * 5 + x] as f64).sum();
        for y in 0..h {
            v[y * w * 5 + x] = acc;
            let out = (y as isize - r).clamp(0, h as isize - 1) as usize;
            let inn = (y as isize + r + 1).clamp(0, h as isize - 1) as usize;
            acc += m[inn * w * 5 + x] as f64 - m[out * w * 5 + x] as f64;
        }
    }
    let mut flow = vec![0f32; w * h * 2];
    for y in 0..h {
        let row = &v[y * w * 5..(y + 1) * w * 5];
        let mut acc = [0f64; 5];
        for d in -r..=r {
            let xx = d.clamp(0, w as isize - 1) as usize;
            for c in 0..5 {
                acc[c] += row[xx * 5 + c];
            }
        }
        for x in 0..w {
            let [g11, g12, g22, h1, h2] = acc.map(|a| a * scale);
            let idet = 1.0 / (g11 * g22 - g12 * g12 + 1e-3);
            flow[(y * w + x) * 2] = ((g11 * h2 - g12 * h1) * idet) as f32;
            flow[(y * w + x) * 2 + 1] = ((g22 * h1 - g12 * h2) * idet) as f32;
            let out = (x as isize - r).clamp(0, w as isize - 1) as usize;
            let inn = (x as isize + r + 1).clamp(0, w as isize - 1) as usize;
            for c in 0..5 {
                acc[c] += row[inn * 5 + c] - row[out * 5 + c];
            }
        }
    }
    flow
}
