//! The demo catalogue: realistic beauty products generated deterministically from the word
//! lists in `data/demo.json`, so every run and every machine gets the same shop.

use rouge_catalog::input::{BrandInput, CategoryInput, ProductInput, ShadeInput, VariantInput};
use rouge_catalog::values::{Size, SizeUnit};
use rouge_catalog::*;
use serde_json::Value;

const DEMO_JSON: &str = include_str!("../../../data/demo.json");

/// `#rrggbb` with each channel moved by up to 6 either way.
fn jitter(hex: &str, rng: &mut Rng) -> String {
    let channel = |i: usize| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("80"), 16).unwrap_or(128);
    let mut out = String::from("#");
    for i in [1, 3, 5] {
        let moved = (i32::from(channel(i)) + rng.below(13) as i32 - 6).clamp(0, 255);
        out.push_str(&format!("{moved:02X}"));
    }
    out
}

/// A small deterministic generator (xorshift64*): the same seed gives the same catalogue.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, v: &'a [Value]) -> &'a Value {
        &v[self.below(v.len())]
    }
}

pub struct Demo {
    pub brands: Vec<BrandInput>,
    /// Parents before children.
    pub categories: Vec<CategoryInput>,
    /// The featured products first (see [`Demo::featured`]), then the generated ones.
    pub products: Vec<ProductInput>,
    /// How many of `products` are the hand-written ones the README's examples name
    /// (`data/demo.json`, `featured`): always there, always in stock.
    pub featured: usize,
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().map(s).collect()).unwrap_or_default()
}

fn variant(sku: String, cents: i64, size: Option<Size>, shade: Option<ShadeInput>) -> VariantInput {
    VariantInput { size, shade, ..VariantInput::new(sku, cents, "EUR") }
}

fn ml(amount: u64) -> Option<Size> {
    Some(Size { amount: amount as u32, unit: SizeUnit::Ml })
}

/// The demo shop with `count` products.
pub fn generate(count: usize) -> Demo {
    let d: Value = serde_json::from_str(DEMO_JSON).expect("data/demo.json is valid");
    let mut rng = Rng(0x5EED_0FB0_7A11);
    let brands: Vec<BrandInput> = d["brands"]
        .as_array()
        .expect("brands")
        .iter()
        .map(|b| BrandInput {
            name: s(b),
            slug: None,
            description: format!("{} is an independent beauty house.", s(b)),
        })
        .collect();
    let brand_slugs: Vec<String> =
        brands.iter().map(|b| rouge_kernel::Slug::from_name(&b.name).expect("brand slug").to_string()).collect();
    let slug = |name: &str| rouge_kernel::Slug::from_name(name).expect("category slug").to_string();
    let categories: Vec<CategoryInput> = d["categories"]
        .as_array()
        .expect("categories")
        .iter()
        .enumerate()
        .map(|(i, c)| CategoryInput { name: s(&c[0]), slug: None, parent: c[1].as_str().map(slug), position: i as i32 })
        .collect();
    let today = chrono::Utc::now().date_naive();
    let mut products = Vec::with_capacity(count);
    let mut seen = std::collections::HashSet::new();
    for f in d["featured"].as_array().expect("featured").iter().take(count) {
        let mut p: ProductInput = serde_json::from_value(f.clone()).expect("a featured product is a ProductInput");
        for c in &mut p.certifications {
            c.expires_on = today + chrono::Days::new(730);
        }
        let slug = rouge_kernel::Slug::from_name(&format!("{} {}", p.brand, p.name)).expect("slug").to_string();
        seen.insert(slug.clone());
        p.slug = Some(slug);
        products.push(p);
    }
    let featured = products.len();
    for i in 0..count - featured {
        let bi = rng.below(brand_slugs.len());
        let brand = &brand_slugs[bi];
        let code: String = brand.split('-').filter_map(|w| w.chars().next()).collect::<String>().to_uppercase();
        let sku = |k: usize| format!("{code}-{i:05}-{k}");
        let kind = [0, 0, 0, 0, 1, 1, 1, 2, 3, 3, 4, 5][i % 12];
        let mut p = ProductInput {
            status: ProductStatus::Active,
            ..ProductInput::new(String::new(), brand.clone(), ProductType::Skincare)
        };
        match kind {
            0 => {
                let sk = &d["skincare"];
                let form = rng.pick(sk["forms"].as_array().expect("forms"));
                let active = rng.pick(sk["actives"].as_array().expect("actives"));
                let base = strs(rng.pick(sk["bases"].as_array().expect("bases")));
                p.name = format!("{} {}", s(&active[0]), s(&form[0]));
                p.category = Some(s(&form[1]));
                let mut ing = base.clone();
                let actives: Vec<String> = strs(&active[1]).into_iter().filter(|a| !base.contains(a)).collect();
                ing.splice(2..2, actives);
                p.ingredients = ing;
                p.skin_types = strs(&active[2]).iter().filter_map(|x| SkinType::parse(x)).collect();
                p.concerns = strs(&active[3]).iter().filter_map(|x| Concern::parse(x)).collect();
                p.pao_months = Some([6, 12, 12, 24][rng.below(4)]);
                if s(&form[0]).contains("SPF") {
                    p.spf = Some(50);
                }
                let size = form[2].as_u64().unwrap_or(30);
                let price = 900 + rng.below(50) as i64 * 100 - 1;
                p.variants.push(variant(sku(0), price, ml(size), None));
                if rng.below(3) == 0 {
                    p.variants.push(variant(sku(1), price * 17 / 10 / 100 * 100 - 1, ml(size * 2), None));
                }
                p.description = format!(
                    "A {} with {} for {} skin.",
                    s(&form[0]).to_lowercase(),
                    s(&active[0]),
                    strs(&active[2]).join(" or ")
                );
            }
            1 => {
                let mk = &d["makeup"];
                let form = rng.pick(mk["forms"].as_array().expect("forms"));
                let lips = s(&form[1]) == "lips";
                p.product_type = ProductType::Makeup;
                p.name = format!(
                    "{} {}",
                    ["Soft", "Second Skin", "Velvet", "Luminous", "Weightless", "Pure"][rng.below(6)],
                    s(&form[0])
                );
                p.category = Some(s(&form[1]));
                p.ingredients = strs(&mk["base"]);
                p.finish = Finish::parse(form[3].as_str().unwrap_or_default());
                p.coverage = Coverage::parse(form[4].as_str().unwrap_or_default());
                p.pao_months = Some(12);
                let shades = mk[if lips { "lip_shades" } else { "shades" }].as_array().expect("shades");
                let price = 1800 + rng.below(25) as i64 * 100 - 1;
                // Each brand's shades a little off the palette, as real ranges are (their own
                // generator, so the rest of the catalogue is what it always was).
                let mut tint = Rng(0x7147_5EED ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                for (k, sh) in shades.iter().enumerate() {
                    let shade = ShadeInput {
                        name: s(&sh[0]),
                        hex: jitter(&s(&sh[1]), &mut tint),
                        undertone: Undertone::parse(sh[2].as_str().unwrap_or_default()).unwrap_or(Undertone::Neutral),
                        depth: sh[3].as_u64().unwrap_or(5) as u8,
                    };
                    p.variants.push(variant(sku(k), price, ml(form[2].as_u64().unwrap_or(30)), Some(shade)));
                }
                p.description = format!("A {} with a {} finish.", s(&form[0]).to_lowercase(), s(&form[3]));
            }
            2 => {
                let fr = &d["fragrance"];
                let form = rng.pick(fr["forms"].as_array().expect("forms"));
                let note = s(rng.pick(fr["notes"].as_array().expect("notes")));
                p.product_type = ProductType::Fragrance;
                p.name = format!("{note} {}", s(&form[0]));
                p.category = Some(s(&form[1]));
                p.ingredients = strs(&fr["base"]);
                p.pao_months = Some(36);
                let size = form[2].as_u64().unwrap_or(50);
                let price = 4500 + rng.below(60) as i64 * 100 - 1;
                p.variants.push(variant(sku(0), price, ml(size), None));
                p.variants.push(variant(sku(1), price * 16 / 10 / 100 * 100 - 1, ml(size * 2), None));
                p.variants[0].scent = Some(note.clone());
                p.variants[1].scent = Some(note.clone());
                p.description = format!("{note}: a scent for every day.");
            }
            3 => {
                let form = rng.pick(d["haircare"]["forms"].as_array().expect("forms"));
                p.product_type = ProductType::Haircare;
                p.name =
                    format!("{} {}", ["Curl", "Repair", "Volume", "Gloss", "Scalp", "Bond"][rng.below(6)], s(&form[0]));
                p.category = Some(s(&form[1]));
                p.ingredients = strs(&form[3]);
                let ht = strs(&d["haircare"]["hair_types"]);
                p.hair_types = vec![HairType::parse(&ht[rng.below(ht.len())]).expect("hair type")];
                p.pao_months = Some(12);
                p.variants.push(variant(
                    sku(0),
                    1200 + rng.below(20) as i64 * 100 - 1,
                    ml(form[2].as_u64().unwrap_or(250)),
                    None,
                ));
                p.description = format!(
                    "A {} for {} hair.",
                    s(&form[0]).to_lowercase(),
                    p.hair_types[0].as_str().replace('_', "-")
                );
            }
            4 => {
                let form = rng.pick(d["body"]["forms"].as_array().expect("forms"));
                p.product_type = ProductType::Body;
                p.name = format!("{} {}", ["Fig", "Oat", "Almond", "Neroli", "Unscented"][rng.below(5)], s(&form[0]));
                p.category = Some(s(&form[1]));
                p.ingredients = strs(&form[3]);
                p.skin_types = vec![SkinType::Dry];
                p.pao_months = Some(12);
                p.variants.push(variant(
                    sku(0),
                    1000 + rng.below(20) as i64 * 100 - 1,
                    ml(form[2].as_u64().unwrap_or(250)),
                    None,
                ));
                p.description = format!("A {} for the whole family.", s(&form[0]).to_lowercase());
            }
            _ => {
                let form = rng.pick(d["tools"]["forms"].as_array().expect("forms"));
                p.product_type = ProductType::Tools;
                p.name = s(&form[0]);
                p.category = Some(s(&form[1]));
                p.variants.push(variant(
                    sku(0),
                    1500 + rng.below(30) as i64 * 100 - 1,
                    Some(Size { amount: 1, unit: SizeUnit::Pcs }),
                    None,
                ));
                p.description = format!("A {} that lasts.", s(&form[0]).to_lowercase());
            }
        }
        if rng.below(3) == 0 {
            let c = rng.pick(d["certifiers"].as_array().expect("certifiers"));
            p.certifications.push(Certification {
                kind: CertificationKind::parse(c[0].as_str().unwrap_or_default()).expect("certification"),
                body: s(&c[1]),
                expires_on: today + chrono::Days::new(365 + rng.below(700) as u64),
            });
        }
        p.tags = vec![p.product_type.as_str().to_owned()];
        let mut slug = rouge_kernel::Slug::from_name(&format!("{brand} {}", p.name)).expect("slug").to_string();
        if !seen.insert(slug.clone()) {
            slug = format!("{slug}-{i}");
            p.name = format!("{} No. {}", p.name, i % 1000);
            seen.insert(slug.clone());
        }
        p.slug = Some(slug);
        products.push(p);
    }
    Demo { brands, categories, products, featured }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_demo_is_deterministic_and_covers_the_shop() {
        let a = super::generate(300);
        let b = super::generate(300);
        assert_eq!(a.products, b.products);
        assert_eq!(a.brands.len(), 25);
        for t in rouge_catalog::ProductType::ALL {
            assert!(a.products.iter().any(|p| p.product_type == *t), "no {t:?}");
        }
        assert!(a.products.iter().any(|p| p.variants.iter().any(|v| v.shade.is_some())));
        // The products the README names, once each.
        let slugs: Vec<&str> = a.products.iter().filter_map(|p| p.slug.as_deref()).collect();
        assert_eq!(slugs.iter().filter(|s| **s == "lumen-lab-niacinamide-10-serum").count(), 1);
        assert_eq!(a.products.len(), 300);
        assert!(
            a.featured >= 4
                && a.products[..a.featured].iter().all(|p| p.status == rouge_catalog::ProductStatus::Active)
        );
        let skus: std::collections::HashSet<&str> =
            a.products.iter().flat_map(|p| p.variants.iter().map(|v| v.sku.as_str())).collect();
        for sku in ["LL-GLOW-30", "LL-GLOW-50", "LL-NIA-30"] {
            assert!(skus.contains(sku), "{sku}");
        }
    }
}
