//! A deterministic generator of data sets shaped like Yushe county (榆社县), at any size.
//!
//! With the default options it is Yushe itself as the relocation campaign left it: 山西省 晋中市
//! 榆社县, its nine townships and their villages (some poverty villages, some relocated whole),
//! about twenty resettlement sites finished across 2017–2020 (a few still building), and exactly
//! 4,029 households with 9,614 people. Larger sizes add synthetic counties under Shanxi's cities,
//! one per ~4,000 households, with Yushe's people per household and one site per ~200 households
//! unless told how many people and sites to have in all.
//!
//! Every value comes from a ChaCha8 generator seeded from the options (one stream per county),
//! so the same options always give the same bytes. Rows are written as they are made, one
//! county at a time, so memory stays bounded at any size.

mod geography;
mod households;
mod names;
mod sink;

use chrono::{NaiveDate, TimeDelta};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// Yushe's people per its households: 9,614 in 4,029.
const YUSHE_HOUSEHOLDS: usize = 4029;
const YUSHE_PERSONS: usize = 9614;

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Households to generate; 4,029 (with 9,614 people) is Yushe itself.
    pub households: usize,
    /// Seed of the random generator: the same options always give the same data set.
    pub seed: u64,
    /// People in all, from one to eight per household; `None` is Yushe's ratio (9,614 in 4,029
    /// households).
    pub persons: Option<usize>,
    /// Resettlement sites in all, shared among the counties by households (at least one each, at
    /// most 999); `None` is one per ~200 households.
    pub sites: Option<usize>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            households: 4029,
            seed: 20_170_101,
            persons: None,
            sites: None,
        }
    }
}

/// Counts of what was generated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoSummary {
    pub areas: usize,
    pub sites: usize,
    pub households: usize,
    pub persons: usize,
}

/// Writes the data set as the contract's seven CSV files in `dir` (created if missing).
///
/// Options that cannot be met (more than eight people per household or fewer than one, fewer
/// sites than counties, more than their households or 999 a county) are refused as
/// `InvalidInput` before anything is written.
pub fn write_csv(opts: &DemoOptions, dir: &Path) -> std::io::Result<DemoSummary> {
    let households = opts.households;
    let persons = opts
        .persons
        .unwrap_or((households * YUSHE_PERSONS + YUSHE_HOUSEHOLDS / 2) / YUSHE_HOUSEHOLDS);
    let invalid = |message: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, message);
    if !(households..=households * 8).contains(&persons) {
        return Err(invalid(format!(
            "{persons} people cannot live in {households} households: each has one to eight"
        )));
    }
    let slots = geography::counties(households, persons, opts.sites);
    if let Some(wanted) = opts.sites {
        // The counties' shares, as bounded there, add up to less or more than asked.
        if slots.iter().map(|s| s.sites).sum::<usize>() != wanted {
            return Err(invalid(format!(
                "{wanted} sites cannot be shared among {} counties of {households} households: \
                 each county has at least one site, at most 999 and no more than its households",
                slots.len()
            )));
        }
    }
    let mut sink = sink::Sink::create(dir)?;
    let mut summary = DemoSummary {
        areas: geography::write_top(&mut sink, &slots)?,
        ..DemoSummary::default()
    };
    for slot in slots {
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
        rng.set_stream(slot.index as u64);
        let county = geography::county(&mut rng, slot);
        summary.areas += geography::write_county(&mut rng, &mut sink, &county)?;
        summary.sites += county.sites.len();
        households::write(&mut rng, &mut sink, &county)?;
    }
    summary.households = sink.households.rows();
    summary.persons = sink.members.rows();
    sink.finish()?;
    Ok(summary)
}

/// A calendar day; the generator only names days that exist.
fn day(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap_or_default()
}

/// `days` after `date` (before it when negative).
fn days_after(date: NaiveDate, days: i64) -> NaiveDate {
    date.checked_add_signed(TimeDelta::days(days))
        .unwrap_or(date)
}
