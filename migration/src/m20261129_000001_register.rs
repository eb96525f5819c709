//! The relocation register: areas and their closure, sites, works, households, members,
//! employments and homesteads.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Columns every mutable record carries.
fn audited(mut table: TableCreateStatement) -> TableCreateStatement {
    table
        .col(timestamp_with_time_zone("created_at"))
        .col(timestamp_with_time_zone("updated_at"))
        .col(integer("version").default(1));
    table
}

fn fk(
    name: &str,
    from: (&'static str, &'static str),
    to: (&'static str, &'static str),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Restrict)
        .on_update(ForeignKeyAction::Restrict)
        .to_owned()
}

fn index(
    table: &'static str,
    name: &str,
    cols: &[&'static str],
    unique: bool,
) -> IndexCreateStatement {
    let mut idx = Index::create();
    idx.name(name).table(table);
    for col in cols {
        idx.col(*col);
    }
    if unique {
        idx.unique();
    }
    idx.to_owned()
}

/// Tables in creation order; `down` drops them in reverse.
const TABLES: &[&str] = &[
    "areas",
    "area_closure",
    "sites",
    "site_works",
    "households",
    "members",
    "employments",
    "homesteads",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(audited(
                Table::create()
                    .table("areas")
                    .col(string("code").primary_key())
                    .col(string("name"))
                    .col(string("level"))
                    .col(string_null("parent_code"))
                    .col(boolean("poverty_village"))
                    .col(boolean("whole_village_relocation"))
                    .foreign_key(&mut fk(
                        "fk_areas_parent",
                        ("areas", "parent_code"),
                        ("areas", "code"),
                    ))
                    .to_owned(),
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("area_closure")
                    .col(string("ancestor_code"))
                    .col(string("descendant_code"))
                    .col(integer("depth"))
                    .primary_key(Index::create().col("ancestor_code").col("descendant_code"))
                    .foreign_key(&mut fk(
                        "fk_closure_ancestor",
                        ("area_closure", "ancestor_code"),
                        ("areas", "code"),
                    ))
                    .foreign_key(&mut fk(
                        "fk_closure_descendant",
                        ("area_closure", "descendant_code"),
                        ("areas", "code"),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(audited(
                Table::create()
                    .table("sites")
                    .col(string("code").primary_key())
                    .col(string("name"))
                    .col(string("township_code"))
                    .col(string("placement"))
                    .col(string("setting"))
                    .col(integer("planned_households"))
                    .col(integer("planned_persons"))
                    .col(double_null("latitude"))
                    .col(double_null("longitude"))
                    .col(date_null("construction_started_on"))
                    .foreign_key(&mut fk(
                        "fk_sites_township",
                        ("sites", "township_code"),
                        ("areas", "code"),
                    ))
                    .to_owned(),
            ))
            .await?;
        manager
            .create_table(audited(
                Table::create()
                    .table("site_works")
                    .col(string("code").primary_key())
                    .col(string("site_code"))
                    .col(string("category"))
                    .col(string("name"))
                    .col(date_null("completed_on"))
                    .foreign_key(&mut fk(
                        "fk_site_works_site",
                        ("site_works", "site_code"),
                        ("sites", "code"),
                    ))
                    .to_owned(),
            ))
            .await?;
        manager
            .create_table(audited(
                Table::create()
                    .table("households")
                    .col(string("code").primary_key())
                    .col(string("head_name"))
                    .col(string("head_id_number"))
                    .col(string_null("phone"))
                    .col(string("origin_village_code"))
                    .col(string("site_code"))
                    .col(integer("persons"))
                    .col(boolean("registered_poor"))
                    .col(date_null("moved_in_on"))
                    .col(date_null("poverty_exit_on"))
                    .col(date_null("relapsed_on"))
                    .foreign_key(&mut fk(
                        "fk_households_origin",
                        ("households", "origin_village_code"),
                        ("areas", "code"),
                    ))
                    .foreign_key(&mut fk(
                        "fk_households_site",
                        ("households", "site_code"),
                        ("sites", "code"),
                    ))
                    .to_owned(),
            ))
            .await?;
        manager
            .create_table(audited(
                Table::create()
                    .table("members")
                    .col(string("id_number").primary_key())
                    .col(string("household_code"))
                    .col(string("name"))
                    .col(string("relation"))
                    .col(date("birth_date"))
                    .col(string("gender"))
                    .col(string("labor_capacity"))
                    .foreign_key(&mut fk(
                        "fk_members_household",
                        ("members", "household_code"),
                        ("households", "code"),
                    ))
                    .to_owned(),
            ))
            .await?;
        manager
            .create_table(audited(
                Table::create()
                    .table("employments")
                    .col(big_pk_auto("id"))
                    .col(string("member_id_number"))
                    .col(string("path"))
                    .col(string("employer"))
                    .col(string("location"))
                    .col(date("started_on"))
                    .col(date_null("ended_on"))
                    .col(integer_null("monthly_income_yuan"))
                    .foreign_key(&mut fk(
                        "fk_employments_member",
                        ("employments", "member_id_number"),
                        ("members", "id_number"),
                    ))
                    .to_owned(),
            ))
            .await?;
        manager
            .create_table(audited(
                Table::create()
                    .table("homesteads")
                    .col(big_pk_auto("id"))
                    .col(string("household_code"))
                    .col(string("village_code"))
                    .col(integer("seq"))
                    .col(double("area_mu"))
                    .col(boolean("exempt"))
                    .col(date_null("demolished_on"))
                    .col(date_null("reclaimed_on"))
                    .col(string_null("reclaimed_use"))
                    .foreign_key(&mut fk(
                        "fk_homesteads_household",
                        ("homesteads", "household_code"),
                        ("households", "code"),
                    ))
                    .foreign_key(&mut fk(
                        "fk_homesteads_village",
                        ("homesteads", "village_code"),
                        ("areas", "code"),
                    ))
                    .to_owned(),
            ))
            .await?;

        for idx in [
            index("areas", "ix_areas_parent", &["parent_code"], false),
            index(
                "area_closure",
                "ix_area_closure_descendant",
                &["descendant_code", "ancestor_code"],
                false,
            ),
            index("sites", "ix_sites_township", &["township_code"], false),
            index(
                "site_works",
                "ix_site_works_site",
                &["site_code", "category"],
                false,
            ),
            index("households", "ix_households_site", &["site_code"], false),
            index(
                "households",
                "ix_households_origin",
                &["origin_village_code"],
                false,
            ),
            index(
                "members",
                "ix_members_household",
                &["household_code"],
                false,
            ),
            index(
                "employments",
                "ux_employments_key",
                &["member_id_number", "path", "employer", "started_on"],
                true,
            ),
            index(
                "homesteads",
                "ux_homesteads_key",
                &["household_code", "village_code", "seq"],
                true,
            ),
            index(
                "homesteads",
                "ix_homesteads_village",
                &["village_code"],
                false,
            ),
        ] {
            manager.create_index(idx).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES.iter().rev() {
            manager
                .drop_table(Table::drop().table(*table).to_owned())
                .await?;
        }
        Ok(())
    }
}
