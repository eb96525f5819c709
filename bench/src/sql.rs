//! Q3's page as SQL alone: the statements the server runs for an executed Q3, sent by the load
//! generator straight to the database, with no HTTP and no GraphQL in between.
//!
//! The row it gives is the most Q3x could reach on this machine if the server cost nothing
//! beyond its database calls: it measures the database and the client library decoding its rows,
//! as the reference "what the equivalent SQL alone allows" does.

use anju::auth::audit;
use anju::auth::{Principal, Role};
use anju::db::key_in;
use anju::domain::pagination::PageRequest;
use anju::domain::register::{self as reg, HouseholdFilter};
use entity::{area, employment, household, member, site};
use sea_orm::{DatabaseConnection, DbErr, EntityTrait, QueryFilter};

/// The page: the first 100 households, as Q3 asks for them.
const PAGE_SIZE: u64 = 100;

/// One caller's Q3 page, run as SQL.
#[derive(Debug)]
pub struct PageSql {
    db: DatabaseConnection,
    who: Principal,
}

/// What one page read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PageCounts {
    pub households: usize,
    pub sites: usize,
    pub villages: usize,
    pub members: usize,
    pub employments: usize,
}

impl PageSql {
    /// The page as an admin of `root` reads it: unmasked, so every page is audited.
    pub fn new(db: DatabaseConnection, root: &str) -> Self {
        Self {
            db,
            who: Principal {
                actor: "user:bench".into(),
                role: Role::Admin,
                area_code: root.to_owned(),
                site_code: None,
                pii: true,
            },
        }
    }

    /// Runs the page's statements in the server's order: the households, then their sites,
    /// origin villages and members (with the members' employments) side by side, then the
    /// audit entry for the members shown unmasked.
    pub async fn run(&self) -> Result<PageCounts, DbErr> {
        let db = &self.db;
        let filter = HouseholdFilter {
            area_codes: Vec::new(),
            site_codes: Vec::new(),
            origin_area_codes: Vec::new(),
            moved_in: None,
            registered_poor: None,
            as_of: chrono::Utc::now().date_naive(),
        };
        let page = reg::households(
            db,
            &anju::domain::scope::Scope::everything(),
            &filter,
            &PageRequest::forward(PAGE_SIZE, None),
        )
        .await?;
        let rows = page.items;
        let site_codes = distinct(&rows, |h| &h.site_code);
        let village_codes = distinct(&rows, |h| &h.origin_village_code);
        let codes = distinct(&rows, |h| &h.code);
        let sites = site::Entity::find()
            .filter(key_in(db, site::Column::Code, &site_codes))
            .all(db);
        let villages = area::Entity::find()
            .filter(key_in(db, area::Column::Code, &village_codes))
            .all(db);
        let members = async {
            let members = member::Entity::find()
                .filter(key_in(db, member::Column::HouseholdCode, &codes))
                .all(db)
                .await?;
            let ids: Vec<String> = members.iter().map(|m| m.id_number.clone()).collect();
            let employments = employment::Entity::find()
                .filter(key_in(db, employment::Column::MemberIdNumber, &ids))
                .all(db)
                .await?;
            Ok::<_, DbErr>((ids, employments.len()))
        };
        let (sites, villages, (mut ids, employments)) =
            futures::future::try_join3(sites, villages, members).await?;
        ids.sort();
        let members = ids.len();
        let read: Vec<(&'static str, String)> = ids.into_iter().map(|id| ("member", id)).collect();
        let request_id = uuid::Uuid::new_v4().simple().to_string();
        audit::record_reads(db, &self.who, &request_id, None, &read).await?;
        Ok(PageCounts {
            households: rows.len(),
            sites: sites.len(),
            villages: villages.len(),
            members,
            employments,
        })
    }
}

/// The different values of one column of the page's households.
fn distinct(rows: &[household::Model], of: impl Fn(&household::Model) -> &str) -> Vec<String> {
    let mut keys: Vec<String> = rows.iter().map(|h| of(h).to_owned()).collect();
    keys.sort();
    keys.dedup();
    keys
}
