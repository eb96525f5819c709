//! GraphQL enums: the register's enumerations in upper case, converted to and from the stored
//! ones so that the storage type never becomes the API by accident.

use async_graphql::Enum;
use entity::enums as db;

/// Declares a GraphQL enum mirroring a stored one, with conversions both ways.
macro_rules! mirror_enum {
    ($(#[$meta:meta])* $name:ident => $db:ty { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl From<$db> for $name {
            fn from(v: $db) -> Self {
                match v { $(<$db>::$variant => $name::$variant),+ }
            }
        }

        impl From<$name> for $db {
            fn from(v: $name) -> Self {
                match v { $($name::$variant => <$db>::$variant),+ }
            }
        }
    };
}

mirror_enum!(
    /// Level of an administrative division.
    AreaLevel => db::AreaLevel {
        /// 省
        Province,
        /// 市
        City,
        /// 县
        County,
        /// 乡镇
        Township,
        /// 村
        Village,
    }
);
mirror_enum!(
    /// 安置方式: how a site houses its households.
    Placement => db::Placement {
        /// 集中安置: centralized placement.
        Centralized,
        /// 分散安置: dispersed placement.
        Dispersed,
    }
);
mirror_enum!(
    /// Where a resettlement site was built.
    SiteSetting => db::SiteSetting {
        /// 县城
        CountyTown,
        /// 集镇
        MarketTown,
        /// 中心村
        CentralVillage,
        /// 产业园区
        IndustrialPark,
        /// 乡村旅游区
        TourismArea,
        /// Anywhere else.
        Other,
    }
);
mirror_enum!(
    /// Category of a site's construction works.
    WorkCategory => db::WorkCategory {
        /// 主体工程: the housing itself.
        Main,
        /// 水电路网等基础设施: water, power, roads and networks.
        Infrastructure,
        /// 文教卫体等公共设施: schools, clinics and other public facilities.
        PublicFacility,
        /// 绿化美化等附属工程: landscaping and other ancillary works.
        Ancillary,
    }
);
mirror_enum!(
    /// A member's relation to the household head.
    Relation => db::Relation {
        /// 户主
        Head,
        /// 配偶
        Spouse,
        /// 子女
        Child,
        /// 父母
        Parent,
        /// 其他
        Other,
    }
);
mirror_enum!(
    /// Gender as recorded on the resident ID.
    Gender => db::Gender {
        /// 男
        Male,
        /// 女
        Female,
    }
);
mirror_enum!(
    /// Labour capacity. `FULL` and `PARTIAL` members count as laborers.
    LaborCapacity => db::LaborCapacity {
        /// 有劳动能力
        Full,
        /// 弱劳动力
        Partial,
        /// 无劳动力
        None,
    }
);
mirror_enum!(
    /// The path by which a laborer found work (三篇文章 and public-welfare posts).
    EmploymentPath => db::EmploymentPath {
        /// 定向输出就业: directed labour export.
        DirectedExport,
        /// 就地就近就业: local jobs.
        Local,
        /// 居家灵活就业: home-based, flexible work.
        HomeFlexible,
        /// 公益岗位: public-welfare posts.
        PublicWelfarePost,
    }
);
mirror_enum!(
    /// Where the work is.
    EmploymentLocation => db::EmploymentLocation {
        /// Inside the county.
        InCounty,
        /// Elsewhere in the province.
        InProvince,
        /// Outside the province.
        OutOfProvince,
    }
);
mirror_enum!(
    /// What reclaimed homestead land became.
    ReclaimedUse => db::ReclaimedUse {
        /// 耕地
        Cropland,
        /// 林地
        Forest,
        /// 草地
        Grassland,
        /// Any other use.
        Other,
    }
);
