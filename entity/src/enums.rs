//! The register's enumerations, stored as the lower-case codes of the interchange contract.

use sea_orm::entity::prelude::*;

/// Defines a string-coded enum with the codes the CSV contract and the database share.
macro_rules! coded_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, EnumIter, DeriveActiveEnum, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        #[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
        pub enum $name {
            $($(#[$vmeta])* #[sea_orm(string_value = $code)] $variant,)+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The contract's code for this value.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code,)+ }
            }

            /// Parses a contract code; `None` when the code is unknown.
            pub fn from_code(code: &str) -> Option<Self> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }

            /// The accepted codes, for error messages.
            pub fn codes() -> String {
                [$($code),+].join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

coded_enum!(
    /// Level of an administrative division.
    AreaLevel { Province = "province", City = "city", County = "county", Township = "township", Village = "village" }
);
coded_enum!(
    /// 安置方式: how a site houses its households.
    Placement { Centralized = "centralized", Dispersed = "dispersed" }
);
coded_enum!(
    /// Where a resettlement site was built.
    SiteSetting {
        CountyTown = "county_town", MarketTown = "market_town", CentralVillage = "central_village",
        IndustrialPark = "industrial_park", TourismArea = "tourism_area", Other = "other",
    }
);
coded_enum!(
    /// Category of a site's construction works.
    WorkCategory { Main = "main", Infrastructure = "infrastructure", PublicFacility = "public_facility", Ancillary = "ancillary" }
);
coded_enum!(
    /// A member's relation to the household head.
    Relation { Head = "head", Spouse = "spouse", Child = "child", Parent = "parent", Other = "other" }
);
coded_enum!(
    /// Gender as recorded on the resident ID.
    Gender { Male = "male", Female = "female" }
);
coded_enum!(
    /// Labour capacity: `full` and `partial` members count as laborers.
    LaborCapacity { Full = "full", Partial = "partial", None = "none" }
);
coded_enum!(
    /// The path by which a laborer found work.
    EmploymentPath {
        DirectedExport = "directed_export", Local = "local", HomeFlexible = "home_flexible",
        PublicWelfarePost = "public_welfare_post",
    }
);
coded_enum!(
    /// Where the work is.
    EmploymentLocation { InCounty = "in_county", InProvince = "in_province", OutOfProvince = "out_of_province" }
);
coded_enum!(
    /// What reclaimed homestead land became.
    ReclaimedUse { Cropland = "cropland", Forest = "forest", Grassland = "grassland", Other = "other" }
);
