//! The closed vocabularies of beauty retail: product types, skin types, concerns and so on.
//! Each is an enum so a typo is a 400, not a silent new facet value.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

macro_rules! vocabulary {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $s)] $variant),+
        }

        // Written out, not derived: the derive does not see a `serde(rename)` a macro passes
        // it, and would document `Oily` where the wire says `oily`.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::Type::String)
                    .enum_values(Some([$($s),+]))
                    .into()
            }
        }

        impl ToSchema for $name {}

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$variant),)+ _ => None }
            }

            /// The accepted values, for error messages.
            pub fn expected() -> String {
                [$($s),+].join(", ")
            }
        }
    };
}

vocabulary!(ProductType {
    Skincare => "skincare", Makeup => "makeup", Fragrance => "fragrance",
    Haircare => "haircare", Body => "body", Tools => "tools",
});

vocabulary!(ProductStatus { Draft => "draft", Active => "active", Archived => "archived" });

vocabulary!(SkinType {
    Dry => "dry", Oily => "oily", Combination => "combination", Normal => "normal", Sensitive => "sensitive",
});

vocabulary!(Concern {
    Acne => "acne", Ageing => "ageing", Hyperpigmentation => "hyperpigmentation", Redness => "redness",
    Dehydration => "dehydration", Dullness => "dullness", Pores => "pores", DarkCircles => "dark_circles",
    Dryness => "dryness", Oiliness => "oiliness", SunDamage => "sun_damage", Texture => "texture",
});

vocabulary!(HairType {
    Straight => "straight", Wavy => "wavy", Curly => "curly", Coily => "coily", Fine => "fine",
    Thick => "thick", Oily => "oily", Dry => "dry", ColourTreated => "colour_treated",
});

vocabulary!(Finish { Matte => "matte", Satin => "satin", Natural => "natural", Dewy => "dewy", Shimmer => "shimmer", Glossy => "glossy" });

vocabulary!(Coverage { Sheer => "sheer", Light => "light", Medium => "medium", Full => "full" });

vocabulary!(Undertone { Warm => "warm", Cool => "cool", Neutral => "neutral", Olive => "olive" });

vocabulary!(AgeBand {
    Under25 => "under_25", From25To34 => "25_34", From35To44 => "35_44", From45To54 => "45_54",
    From55 => "55_plus",
});

vocabulary!(CertificationKind {
    Vegan => "vegan", CrueltyFree => "cruelty_free", Organic => "organic", Natural => "natural",
    Halal => "halal", ReefSafe => "reef_safe", FairTrade => "fair_trade",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabularies_round_trip_and_reject_unknowns() {
        for t in ProductType::ALL {
            assert_eq!(ProductType::parse(t.as_str()), Some(*t));
        }
        assert_eq!(Concern::parse("dark_circles"), Some(Concern::DarkCircles));
        assert_eq!(SkinType::parse("Oily"), None);
        assert!(serde_json::from_str::<SkinType>("\"greasy\"").is_err());
        assert!(ProductType::expected().contains("fragrance"));
    }
}
