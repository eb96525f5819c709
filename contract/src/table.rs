//! The seven files of a data set (CONTRACT §1) and their columns, in the contract's order.

/// One file of the data set.
#[derive(Debug)]
pub struct Table {
    /// File name inside the data-set folder.
    pub file: &'static str,
    /// The contract's columns, key first.
    pub columns: &'static [&'static str],
}

pub const AREAS: Table = Table {
    file: "areas.csv",
    columns: &[
        "code",
        "name",
        "level",
        "parent_code",
        "poverty_village",
        "whole_village_relocation",
    ],
};

pub const SITES: Table = Table {
    file: "sites.csv",
    columns: &[
        "code",
        "name",
        "township_code",
        "placement",
        "setting",
        "planned_households",
        "planned_persons",
        "latitude",
        "longitude",
        "construction_started_on",
    ],
};

pub const SITE_WORKS: Table = Table {
    file: "site_works.csv",
    columns: &["site_code", "code", "category", "name", "completed_on"],
};

pub const HOUSEHOLDS: Table = Table {
    file: "households.csv",
    columns: &[
        "code",
        "head_name",
        "head_id_number",
        "phone",
        "origin_village_code",
        "site_code",
        "persons",
        "registered_poor",
        "moved_in_on",
        "poverty_exit_on",
        "relapsed_on",
    ],
};

pub const MEMBERS: Table = Table {
    file: "members.csv",
    columns: &[
        "household_code",
        "id_number",
        "name",
        "relation",
        "birth_date",
        "gender",
        "labor_capacity",
    ],
};

pub const EMPLOYMENTS: Table = Table {
    file: "employments.csv",
    columns: &[
        "member_id_number",
        "path",
        "employer",
        "location",
        "started_on",
        "ended_on",
        "monthly_income_yuan",
    ],
};

pub const HOMESTEADS: Table = Table {
    file: "homesteads.csv",
    columns: &[
        "household_code",
        "village_code",
        "area_mu",
        "exempt",
        "demolished_on",
        "reclaimed_on",
        "reclaimed_use",
    ],
};

/// The files in dependency order: a file only refers to files before it.
pub const ALL: [&Table; 7] = [
    &AREAS,
    &SITES,
    &SITE_WORKS,
    &HOUSEHOLDS,
    &MEMBERS,
    &EMPLOYMENTS,
    &HOMESTEADS,
];

/// Position of a file in [`ALL`], for ordering reports.
pub fn order(file: &str) -> usize {
    ALL.iter().position(|t| t.file == file).unwrap_or(ALL.len())
}
