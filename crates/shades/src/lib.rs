//! Shade matching: a shade's colour in CIELAB (from its sRGB hex, D65 white) and the CIEDE2000
//! colour difference between two shades (Sharma, Wu and Dalal, 2005), the standard measure of
//! how different two colours look. "Find my shade" ranks other brands' shades by it. No I/O.

/// A colour in CIELAB (D65): lightness 0–100, green–red `a`, blue–yellow `b`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Lab {
    pub l: f64,
    pub a: f64,
    pub b: f64,
}

/// D65 reference white (2° observer), as sRGB defines it.
const WHITE: [f64; 3] = [0.950_47, 1.0, 1.088_83];

impl Lab {
    /// The colour of an sRGB hex (`#rrggbb` or `rrggbb`); `None` when it is not one.
    pub fn from_hex(hex: &str) -> Option<Lab> {
        let h = hex.strip_prefix('#').unwrap_or(hex);
        if h.len() != 6 || !h.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let channel = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).ok().map(|v| f64::from(v) / 255.0);
        let (r, g, b) = (channel(0)?, channel(2)?, channel(4)?);
        Some(Lab::from_srgb(r, g, b))
    }

    /// From sRGB channels in 0–1.
    pub fn from_srgb(r: f64, g: f64, b: f64) -> Lab {
        // Undo sRGB's transfer curve, then its primaries to XYZ (IEC 61966-2-1).
        let lin = |c: f64| if c <= 0.040_45 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) };
        let (r, g, b) = (lin(r), lin(g), lin(b));
        let x = 0.412_456_4 * r + 0.357_576_1 * g + 0.180_437_5 * b;
        let y = 0.212_672_9 * r + 0.715_152_2 * g + 0.072_175_0 * b;
        let z = 0.019_333_9 * r + 0.119_192_0 * g + 0.950_304_1 * b;
        let f = |t: f64| {
            const E: f64 = 216.0 / 24_389.0;
            const K: f64 = 24_389.0 / 27.0;
            if t > E { t.cbrt() } else { (K * t + 16.0) / 116.0 }
        };
        let (fx, fy, fz) = (f(x / WHITE[0]), f(y / WHITE[1]), f(z / WHITE[2]));
        Lab { l: 116.0 * fy - 16.0, a: 500.0 * (fx - fy), b: 200.0 * (fy - fz) }
    }
}

/// CIEDE2000 ΔE₀₀ between two colours (kL = kC = kH = 1): about 1 is a just-noticeable
/// difference, under 2–3 two foundations that read as the same shade on skin.
pub fn ciede2000(x: Lab, y: Lab) -> f64 {
    use std::f64::consts::PI;
    let deg = |r: f64| r * 180.0 / PI;
    let rad = |d: f64| d * PI / 180.0;
    let c1 = x.a.hypot(x.b);
    let c2 = y.a.hypot(y.b);
    let c_bar = (c1 + c2) / 2.0;
    let c7 = c_bar.powi(7);
    let g = 0.5 * (1.0 - (c7 / (c7 + 25f64.powi(7))).sqrt());
    let (a1, a2) = ((1.0 + g) * x.a, (1.0 + g) * y.a);
    let (c1p, c2p) = (a1.hypot(x.b), a2.hypot(y.b));
    let hue = |b: f64, a: f64| {
        if b == 0.0 && a == 0.0 {
            0.0
        } else {
            let h = deg(b.atan2(a));
            if h < 0.0 { h + 360.0 } else { h }
        }
    };
    let (h1, h2) = (hue(x.b, a1), hue(y.b, a2));
    let dl = y.l - x.l;
    let dc = c2p - c1p;
    let dh = if c1p * c2p == 0.0 {
        0.0
    } else if (h2 - h1).abs() <= 180.0 {
        h2 - h1
    } else if h2 - h1 > 180.0 {
        h2 - h1 - 360.0
    } else {
        h2 - h1 + 360.0
    };
    let d_hue = 2.0 * (c1p * c2p).sqrt() * rad(dh / 2.0).sin();
    let l_bar = (x.l + y.l) / 2.0;
    let cp_bar = (c1p + c2p) / 2.0;
    let h_bar = if c1p * c2p == 0.0 {
        h1 + h2
    } else if (h1 - h2).abs() <= 180.0 {
        (h1 + h2) / 2.0
    } else if h1 + h2 < 360.0 {
        (h1 + h2 + 360.0) / 2.0
    } else {
        (h1 + h2 - 360.0) / 2.0
    };
    let t = 1.0 - 0.17 * rad(h_bar - 30.0).cos() + 0.24 * rad(2.0 * h_bar).cos() + 0.32 * rad(3.0 * h_bar + 6.0).cos()
        - 0.20 * rad(4.0 * h_bar - 63.0).cos();
    let d_theta = 30.0 * (-((h_bar - 275.0) / 25.0).powi(2)).exp();
    let cp7 = cp_bar.powi(7);
    let rc = 2.0 * (cp7 / (cp7 + 25f64.powi(7))).sqrt();
    let l50 = (l_bar - 50.0).powi(2);
    let sl = 1.0 + 0.015 * l50 / (20.0 + l50).sqrt();
    let sc = 1.0 + 0.045 * cp_bar;
    let sh = 1.0 + 0.015 * cp_bar * t;
    let rt = -rad(2.0 * d_theta).sin() * rc;
    let (tl, tc, th) = (dl / sl, dc / sc, d_hue / sh);
    (tl * tl + tc * tc + th * th + rt * tc * th).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab(l: f64, a: f64, b: f64) -> Lab {
        Lab { l, a, b }
    }

    /// The 34 test pairs published with the formula's implementation notes (Sharma, Wu and
    /// Dalal, "The CIEDE2000 color-difference formula", Color Research & Application 30, 2005,
    /// table 1), with their ΔE₀₀ to four decimals.
    const SHARMA: [([f64; 3], [f64; 3], f64); 34] = [
        ([50.0, 2.6772, -79.7751], [50.0, 0.0, -82.7485], 2.0425),
        ([50.0, 3.1571, -77.2803], [50.0, 0.0, -82.7485], 2.8615),
        ([50.0, 2.8361, -74.0200], [50.0, 0.0, -82.7485], 3.4412),
        ([50.0, -1.3802, -84.2814], [50.0, 0.0, -82.7485], 1.0000),
        ([50.0, -1.1848, -84.8006], [50.0, 0.0, -82.7485], 1.0000),
        ([50.0, -0.9009, -85.5211], [50.0, 0.0, -82.7485], 1.0000),
        ([50.0, 0.0, 0.0], [50.0, -1.0, 2.0], 2.3669),
        ([50.0, -1.0, 2.0], [50.0, 0.0, 0.0], 2.3669),
        ([50.0, 2.4900, -0.0010], [50.0, -2.4900, 0.0009], 7.1792),
        ([50.0, 2.4900, -0.0010], [50.0, -2.4900, 0.0010], 7.1792),
        ([50.0, 2.4900, -0.0010], [50.0, -2.4900, 0.0011], 7.2195),
        ([50.0, 2.4900, -0.0010], [50.0, -2.4900, 0.0012], 7.2195),
        ([50.0, -0.0010, 2.4900], [50.0, 0.0009, -2.4900], 4.8045),
        ([50.0, -0.0010, 2.4900], [50.0, 0.0010, -2.4900], 4.8045),
        ([50.0, -0.0010, 2.4900], [50.0, 0.0011, -2.4900], 4.7461),
        ([50.0, 2.5, 0.0], [50.0, 0.0, -2.5], 4.3065),
        ([50.0, 2.5, 0.0], [73.0, 25.0, -18.0], 27.1492),
        ([50.0, 2.5, 0.0], [61.0, -5.0, 29.0], 22.8977),
        ([50.0, 2.5, 0.0], [56.0, -27.0, -3.0], 31.9030),
        ([50.0, 2.5, 0.0], [58.0, 24.0, 15.0], 19.4535),
        ([50.0, 2.5, 0.0], [50.0, 3.1736, 0.5854], 1.0000),
        ([50.0, 2.5, 0.0], [50.0, 3.2972, 0.0], 1.0000),
        ([50.0, 2.5, 0.0], [50.0, 1.8634, 0.5757], 1.0000),
        ([50.0, 2.5, 0.0], [50.0, 3.2592, 0.3350], 1.0000),
        ([60.2574, -34.0099, 36.2677], [60.4626, -34.1751, 39.4387], 1.2644),
        ([63.0109, -31.0961, -5.8663], [62.8187, -29.7946, -4.0864], 1.2630),
        ([61.2901, 3.7196, -5.3901], [61.4292, 2.2480, -4.9620], 1.8731),
        ([35.0831, -44.1164, 3.7933], [35.0232, -40.0716, 1.5901], 1.8645),
        ([22.7233, 20.0904, -46.6940], [23.0331, 14.9730, -42.5619], 2.0373),
        ([36.4612, 47.8580, 18.3852], [36.2715, 50.5065, 21.2231], 1.4146),
        ([90.8027, -2.0831, 1.4410], [91.1528, -1.6435, 0.0447], 1.4441),
        ([90.9257, -0.5406, -0.9208], [88.6381, -0.8985, -0.7239], 1.5381),
        ([6.7747, -0.2908, -2.4247], [5.8714, -0.0985, -2.2286], 0.6377),
        ([2.0776, 0.0795, -1.1350], [0.9033, -0.0636, -0.5514], 0.9082),
    ];

    #[test]
    fn every_published_test_pair_is_matched_to_four_decimals() {
        for (i, (x, y, want)) in SHARMA.iter().enumerate() {
            let (x, y) = (lab(x[0], x[1], x[2]), lab(y[0], y[1], y[2]));
            let got = ciede2000(x, y);
            assert!((got - want).abs() < 5e-5, "pair {}: {got:.4} instead of {want}", i + 1);
            assert!((ciede2000(y, x) - got).abs() < 1e-9, "pair {}: the difference is symmetric", i + 1);
        }
    }

    #[test]
    fn hex_colours_convert_to_lab_as_srgb_defines() {
        let close = |x: Lab, y: Lab| (x.l - y.l).abs() < 0.01 && (x.a - y.a).abs() < 0.01 && (x.b - y.b).abs() < 0.01;
        assert!(close(Lab::from_hex("#ffffff").unwrap(), lab(100.0, 0.0, 0.0)), "white");
        assert!(close(Lab::from_hex("000000").unwrap(), lab(0.0, 0.0, 0.0)), "black");
        // sRGB red, green and blue in CIELAB (D65), as colour references give them.
        assert!(close(Lab::from_hex("#ff0000").unwrap(), lab(53.2408, 80.0925, 67.2032)));
        assert!(close(Lab::from_hex("#00ff00").unwrap(), lab(87.7347, -86.1827, 83.1793)));
        assert!(close(Lab::from_hex("#0000ff").unwrap(), lab(32.2970, 79.1875, -107.8602)));
        assert_eq!(Lab::from_hex("#fff"), None);
        assert_eq!(Lab::from_hex("#gg0000"), None);
        assert_eq!(ciede2000(Lab::from_hex("#c8a27c").unwrap(), Lab::from_hex("#c8a27c").unwrap()), 0.0);
    }
}
