//! Configuration layering: defaults < configuration file < environment < flags, each setting
//! named once. These call the pure layering with explicit environments: the process's own
//! environment is never changed.

use anju::config::{self, Scope, SETTINGS};
use secrecy::ExposeSecret;
use std::collections::HashMap;
use std::io::Write;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

/// The settings `args` give on a command line shaped like `anju`'s.
fn flags(args: &[&str]) -> Vec<(&'static str, String)> {
    let command = clap::Command::new("anju")
        .args(config::flag_args(Scope::Global))
        .subcommand(clap::Command::new("serve").args(config::flag_args(Scope::Serve)))
        .subcommand(clap::Command::new("migrate"));
    let matches = command
        .try_get_matches_from(std::iter::once("anju").chain(args.iter().copied()))
        .unwrap();
    config::flag_values(&matches).unwrap()
}

fn load(
    file: Option<&tempfile::NamedTempFile>,
    env: &HashMap<String, String>,
    flags: &[(&str, String)],
) -> Result<config::Config, String> {
    config::load(file.map(|f| f.path()), env, flags).map_err(|e| format!("{e:#}"))
}

#[test]
fn defaults_then_file_then_environment_then_flags() {
    let none = HashMap::new();
    let c = load(None, &none, &[]).unwrap();
    assert_eq!(c.serve.max_cost, 20_000);
    assert_eq!(c.database.url, config::DEFAULT_DATABASE_URL);
    assert_eq!(c.cache.prefix, "anju");
    assert_eq!(c.serve.listen.to_string(), "127.0.0.1:8000");
    assert_eq!(c.serve.rate_limits, config::DEFAULT_RATE_LIMITS);

    let f = file(
        "ANJU_MAX_COST = 100\nDATABASE_URL = \"sqlite://file.db\"\nANJU_CACHE_PREFIX = \"file\"\n\
         ANJU_PRODUCTION = true\n",
    );
    let c = load(Some(&f), &none, &[]).unwrap();
    assert_eq!(c.serve.max_cost, 100);
    assert_eq!(c.database.url, "sqlite://file.db");
    assert_eq!(c.cache.prefix, "file");
    assert!(c.serve.production);

    let e = env(&[
        ("ANJU_MAX_COST", "200"),
        ("DATABASE_URL", "sqlite://env.db"),
        ("ANJU_PRODUCTION", "false"),
    ]);
    let c = load(Some(&f), &e, &[]).unwrap();
    assert_eq!(c.serve.max_cost, 200);
    assert_eq!(c.database.url, "sqlite://env.db");
    assert_eq!(
        c.cache.prefix, "file",
        "the file still gives what the environment does not"
    );
    assert!(!c.serve.production);

    let given = flags(&[
        "--database-url",
        "sqlite://flag.db",
        "serve",
        "--max-cost",
        "300",
    ]);
    let c = load(Some(&f), &e, &given).unwrap();
    assert_eq!(c.serve.max_cost, 300);
    assert_eq!(c.database.url, "sqlite://flag.db");
    assert_eq!(c.cache.prefix, "file");
}

#[test]
fn global_flags_count_before_and_after_the_command() {
    let before = flags(&["--cache-prefix", "a", "serve"]);
    let after = flags(&["serve", "--cache-prefix", "b", "--listen", "127.0.0.1:0"]);
    let none = HashMap::new();
    assert_eq!(load(None, &none, &before).unwrap().cache.prefix, "a");
    let c = load(None, &none, &after).unwrap();
    assert_eq!(c.cache.prefix, "b");
    assert_eq!(c.serve.listen.port(), 0);
    assert!(flags(&["migrate"]).is_empty());
}

#[test]
fn the_file_is_named_by_the_flag_or_the_environment() {
    let by_env = file("ANJU_CACHE_PREFIX = \"by-env\"\n");
    let by_flag = file("ANJU_CACHE_PREFIX = \"by-flag\"\n");
    let e = env(&[(config::CONFIG_FILE_VAR, by_env.path().to_str().unwrap())]);
    assert_eq!(load(None, &e, &[]).unwrap().cache.prefix, "by-env");
    assert_eq!(
        load(Some(&by_flag), &e, &[]).unwrap().cache.prefix,
        "by-flag"
    );
    let missing = env(&[(config::CONFIG_FILE_VAR, "/nonexistent/anju.toml")]);
    let err = format!("{:#}", load(None, &missing, &[]).unwrap_err());
    assert!(
        err.contains("cannot read configuration file /nonexistent/anju.toml"),
        "{err}"
    );
}

#[test]
fn text_that_looks_like_a_number_stays_text() {
    let e = env(&[("ANJU_CACHE_PREFIX", "0123"), ("ANJU_JWT_ISSUER", "true")]);
    let c = load(None, &e, &[]).unwrap();
    assert_eq!(c.cache.prefix, "0123");
    assert_eq!(c.auth.jwt_issuer, "true");
    // A number in the file is read as its text, as the environment would give it.
    let f = file("ANJU_CACHE_PREFIX = 42\nANJU_DATABASE_MAX_CONNECTIONS = \"4\"\n");
    let c = load(Some(&f), &HashMap::new(), &[]).unwrap();
    assert_eq!(c.cache.prefix, "42");
    assert_eq!(c.database.max_connections, 4);
}

#[test]
fn an_unknown_file_key_is_refused_with_the_known_ones() {
    let f = file("ANJU_MAX_COST = 1\nANJU_MAX_CST = 2\n");
    let err = format!("{:#}", load(Some(&f), &HashMap::new(), &[]).unwrap_err());
    assert!(err.contains("unknown setting `ANJU_MAX_CST`"), "{err}");
    assert!(err.contains(&f.path().display().to_string()), "{err}");
    for s in SETTINGS {
        assert!(err.contains(s.name), "{err} does not list {}", s.name);
    }
    let f = file("ANJU_MAX_COST = [1]\n");
    let err = format!("{:#}", load(Some(&f), &HashMap::new(), &[]).unwrap_err());
    assert!(
        err.contains("`ANJU_MAX_COST` must be a string, number or boolean"),
        "{err}"
    );
}

#[test]
fn a_bad_value_is_refused_naming_the_setting_and_its_source() {
    let f = file("ANJU_MAX_DEPTH = \"deep\"\n");
    let err = format!("{:#}", load(Some(&f), &HashMap::new(), &[]).unwrap_err());
    assert!(err.contains("ANJU_MAX_DEPTH"), "{err}");
    assert!(
        err.contains(&format!("configuration file {}", f.path().display())),
        "{err}"
    );

    let e = env(&[("ANJU_LISTEN", "nowhere")]);
    let err = format!("{:#}", load(None, &e, &[]).unwrap_err());
    assert!(err.contains("environment variable ANJU_LISTEN"), "{err}");

    let e = env(&[("ANJU_PUBLIC_READS", "perhaps")]);
    let err = format!("{:#}", load(None, &e, &[]).unwrap_err());
    assert!(
        err.contains("environment variable ANJU_PUBLIC_READS"),
        "{err}"
    );

    let given = flags(&["serve", "--max-cost", "lots"]);
    let err = format!("{:#}", load(None, &HashMap::new(), &given).unwrap_err());
    assert!(err.contains("--max-cost (ANJU_MAX_COST)"), "{err}");
}

#[test]
fn secrets_never_print() {
    let secret = "s3cret-s3cret-s3cret-s3cret-s3cret";
    let e = env(&[
        ("ANJU_JWT_SECRET", secret),
        ("DATABASE_URL", "postgres://anju:dbpass@db:5432/anju"),
        ("REDIS_URL", "redis://:redispass@cache:6379/0"),
    ]);
    let c = load(None, &e, &[]).unwrap();
    assert_eq!(
        c.auth.jwt_secret.as_ref().map(|s| s.expose_secret()),
        Some(secret)
    );
    let printed = format!("{c:?} {c:#?} {:?}", c.serve);
    for hidden in [secret, "dbpass", "redispass"] {
        assert!(!printed.contains(hidden), "{hidden} printed in {printed}");
    }
    assert!(
        printed.contains("postgres://anju:***@db:5432/anju"),
        "{printed}"
    );
    // Neither does a configuration written out.
    let written = serde_json::to_string(&c).unwrap();
    assert!(!written.contains(secret), "{written}");
}

#[test]
fn every_setting_lands_in_the_configuration_and_every_field_is_a_setting() {
    let defaults = serde_json::to_value(config::Config::default()).unwrap();
    let mut fields = Vec::new();
    for (section, values) in defaults.as_object().unwrap() {
        for field in values.as_object().unwrap().keys() {
            fields.push(format!("{section}.{field}"));
        }
    }
    let mut keys: Vec<String> = SETTINGS.iter().map(|s| s.key.to_string()).collect();
    fields.sort();
    keys.sort();
    assert_eq!(fields, keys);
    let mut names: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), SETTINGS.len(), "a setting is named twice");
}
