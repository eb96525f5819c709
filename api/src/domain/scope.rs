//! What one caller may see (CONTRACT §4): the whole register, an area's subtree (with the names
//! of the area's ancestors), or one site. Built once per request from the caller's credentials,
//! and a required argument of every finder, list and write of the domain, so no read or write
//! can forget it. The visibility rule is written here once, as SQL conditions.

use entity::{
    area, area_closure, audit_log, employment, homestead, household, member, site, site_work,
};
use sea_orm::sea_query::{Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{ColumnTrait, Condition};

/// The codes of `ancestor` and every area below it.
pub(super) fn subtree(ancestor: &str) -> SelectStatement {
    Query::select()
        .column(area_closure::Column::DescendantCode)
        .from(area_closure::Entity)
        .and_where(Expr::col(area_closure::Column::AncestorCode).eq(ancestor))
        .to_owned()
}

/// The codes of the sites located in `ancestor`'s subtree.
pub(super) fn sites_in(ancestor: &str) -> SelectStatement {
    Query::select()
        .column(site::Column::Code)
        .from(site::Entity)
        .and_where(Expr::col(site::Column::TownshipCode).in_subquery(subtree(ancestor)))
        .to_owned()
}

/// The codes of `descendant`'s ancestors (itself excluded).
fn ancestors_of(descendant: &str) -> SelectStatement {
    Query::select()
        .column(area_closure::Column::AncestorCode)
        .from(area_closure::Entity)
        .and_where(Expr::col(area_closure::Column::DescendantCode).eq(descendant))
        .and_where(Expr::col(area_closure::Column::Depth).gt(0))
        .to_owned()
}

/// What a caller may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope(Reach);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Reach {
    /// The whole register: a principal at the tree's root, or a caller whose reads are
    /// limited otherwise (anonymous public reads show no personal record at all).
    Everything,
    /// An area's subtree, and for a site manager one site in it.
    Area { area: String, site: Option<String> },
}

impl Scope {
    /// The whole register.
    pub fn everything() -> Scope {
        Scope(Reach::Everything)
    }

    /// The subtree of `area` (and the names of its ancestors).
    pub fn subtree(area: impl Into<String>) -> Scope {
        Scope(Reach::Area {
            area: area.into(),
            site: None,
        })
    }

    /// One site, which lies in `area`'s subtree.
    pub fn site(area: impl Into<String>, site: impl Into<String>) -> Scope {
        Scope(Reach::Area {
            area: area.into(),
            site: Some(site.into()),
        })
    }

    /// Whether nothing is hidden.
    pub fn is_everything(&self) -> bool {
        self.0 == Reach::Everything
    }

    /// The area whose subtree this is, unless it is everything.
    pub fn area(&self) -> Option<&str> {
        match &self.0 {
            Reach::Everything => None,
            Reach::Area { area, .. } => Some(area),
        }
    }

    /// The one site of a site manager's scope.
    pub fn site_only(&self) -> Option<&str> {
        match &self.0 {
            Reach::Area { site: Some(s), .. } => Some(s),
            _ => None,
        }
    }

    /// Areas in the subtree, and the area's ancestors.
    pub fn areas(&self) -> Condition {
        match &self.0 {
            Reach::Everything => Condition::all(),
            Reach::Area { area, .. } => Condition::any()
                .add(area::Column::Code.in_subquery(subtree(area)))
                .add(area::Column::Code.in_subquery(ancestors_of(area))),
        }
    }

    /// Areas in the subtree (not the ancestors, whose names alone are visible).
    pub fn areas_below(&self) -> Condition {
        match &self.0 {
            Reach::Everything => Condition::all(),
            Reach::Area { area, .. } => {
                Condition::all().add(area::Column::Code.in_subquery(subtree(area)))
            }
        }
    }

    /// Sites located in the subtree (the one site, for a site manager).
    pub fn sites(&self) -> Condition {
        match &self.0 {
            Reach::Everything => Condition::all(),
            Reach::Area { area, site } => {
                let mut c =
                    Condition::all().add(site::Column::TownshipCode.in_subquery(subtree(area)));
                if let Some(s) = site {
                    c = c.add(site::Column::Code.eq(s.clone()));
                }
                c
            }
        }
    }

    /// Works of visible sites.
    pub fn site_works(&self) -> Condition {
        self.refers_to(
            site_work::Column::SiteCode,
            site::Column::Code,
            self.sites(),
        )
    }

    /// Households whose site or origin village lies in the subtree (for a site manager, the
    /// households of the site).
    pub fn households(&self) -> Condition {
        use household::Column as H;
        match &self.0 {
            Reach::Everything => Condition::all(),
            Reach::Area {
                area,
                site: Some(s),
            } => Condition::all()
                .add(H::SiteCode.eq(s.clone()))
                .add(H::SiteCode.in_subquery(sites_in(area))),
            Reach::Area { area, site: None } => Condition::any()
                .add(H::SiteCode.in_subquery(sites_in(area)))
                .add(H::OriginVillageCode.in_subquery(subtree(area))),
        }
    }

    /// Members of visible households.
    pub fn members(&self) -> Condition {
        self.refers_to(
            member::Column::HouseholdCode,
            household::Column::Code,
            self.households(),
        )
    }

    /// Employments of visible members.
    pub fn employments(&self) -> Condition {
        self.refers_to(
            employment::Column::MemberIdNumber,
            member::Column::IdNumber,
            self.members(),
        )
    }

    /// Rows whose `column` refers to a `key` of a row that `visible` lets through (nothing
    /// hidden: every row).
    fn refers_to<C: ColumnTrait, K: ColumnTrait>(
        &self,
        column: C,
        key: K,
        visible: Condition,
    ) -> Condition {
        match &self.0 {
            Reach::Everything => Condition::all(),
            Reach::Area { .. } => Condition::all().add(
                column.in_subquery(
                    Query::select()
                        .column(key)
                        .from(key.entity_name())
                        .cond_where(visible)
                        .to_owned(),
                ),
            ),
        }
    }

    /// Homesteads in the subtree's villages, or of a visible household (for a site manager, the
    /// homesteads of the site's households).
    pub fn homesteads(&self) -> Condition {
        let of_visible = self.refers_to(
            homestead::Column::HouseholdCode,
            household::Column::Code,
            self.households(),
        );
        match &self.0 {
            Reach::Area { area, site: None } => Condition::any()
                .add(homestead::Column::VillageCode.in_subquery(subtree(area)))
                .add(of_visible),
            _ => of_visible,
        }
    }

    /// Entries of the audit log written by principals of the subtree.
    pub fn audit_entries(&self) -> Condition {
        match &self.0 {
            Reach::Everything => Condition::all(),
            Reach::Area { area, .. } => {
                Condition::all().add(audit_log::Column::AreaCode.in_subquery(subtree(area)))
            }
        }
    }
}
