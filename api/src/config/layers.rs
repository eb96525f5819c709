//! How the configuration is read: four layers, each a figment provider, merged lowest first.
//!
//! 1. the defaults: [`Config::default`];
//! 2. the optional TOML configuration file (`--config FILE`, or [`CONFIG_FILE_VAR`]), keyed by
//!    the settings' names; an unknown key is refused;
//! 3. the environment: the variables named by [`SETTINGS`], no others;
//! 4. the command-line flags.
//!
//! The file, the environment and the flags all give text (a number or boolean in the file is
//! read as its text), which becomes the setting's type when the configuration is extracted: a
//! value that does not fit is refused, naming the setting and where the value came from.

use super::{setting, Config, Scope, Setting, SETTINGS};
use figment::providers::Serialized;
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The environment variable naming the configuration file when `--config` does not.
pub const CONFIG_FILE_VAR: &str = "ANJU_CONFIG";

/// The name of the environment layer's metadata.
const ENVIRONMENT: &str = "environment";
/// The name of the flags layer's metadata.
const FLAGS: &str = "command line";

/// The configuration from its layers: `config_file` is the `--config` flag's value, `env` the
/// environment (only the variables named by [`SETTINGS`] and [`CONFIG_FILE_VAR`] are looked at)
/// and `flags` the values given on the command line, by setting name.
pub fn load(
    config_file: Option<&Path>,
    env: &HashMap<String, String>,
    flags: &[(&str, String)],
) -> anyhow::Result<Config> {
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    let file = config_file
        .map(Path::to_path_buf)
        .or_else(|| env.get(CONFIG_FILE_VAR).map(PathBuf::from));
    if let Some(path) = file {
        figment = figment.merge(file_layer(&path)?);
    }
    figment = figment.merge(Layer {
        source: Source::Environment,
        values: SETTINGS
            .iter()
            .filter_map(|s| env.get(s.name).map(|v| (s, v.clone())))
            .collect(),
    });
    let flags = flags
        .iter()
        .map(|(name, value)| match setting(name) {
            Some(s) => Ok((s, value.clone())),
            None => Err(anyhow::anyhow!("no setting is named `{name}`")),
        })
        .collect::<anyhow::Result<_>>()?;
    figment = figment.merge(Layer {
        source: Source::Flags,
        values: flags,
    });
    figment.extract_lossy::<Config>().map_err(explain)
}

/// The settings (and [`CONFIG_FILE_VAR`]) this process's environment sets.
pub fn process_env() -> anyhow::Result<HashMap<String, String>> {
    let mut env = HashMap::new();
    for name in SETTINGS.iter().map(|s| s.name).chain([CONFIG_FILE_VAR]) {
        if let Some(value) = std::env::var_os(name) {
            let value = value
                .into_string()
                .map_err(|_| anyhow::anyhow!("environment variable {name} is not valid UTF-8"))?;
            env.insert(name.to_owned(), value);
        }
    }
    Ok(env)
}

/// The flags of the settings of `scope`, for clap: each takes one value, and its help names
/// the environment variable and the default.
pub fn flag_args(scope: Scope) -> Vec<clap::Arg> {
    let defaults = serde_json::to_value(Config::default()).unwrap_or_default();
    SETTINGS
        .iter()
        .filter(|s| s.scope == scope && scope != Scope::NoFlag)
        .map(|s| {
            let field = s.key.rsplit('.').next().unwrap_or(s.key);
            let mut help = format!("{} [env: {}]", s.help.trim_end_matches('.'), s.name);
            let pointer = format!("/{}", s.key.replace('.', "/"));
            match defaults.pointer(&pointer) {
                Some(serde_json::Value::String(d)) => help.push_str(&format!(" [default: {d}]")),
                Some(serde_json::Value::Null) | None => {}
                Some(d) => help.push_str(&format!(" [default: {d}]")),
            }
            clap::Arg::new(s.name)
                .long(s.flag)
                .value_name(field.to_uppercase())
                .help(help)
                .action(clap::ArgAction::Set)
                .global(scope == Scope::Global)
        })
        .collect()
}

/// A command's configuration: [`load`] over this process's environment and the flags in
/// `matches`, with `config_file` (`--config`) when given.
pub fn from_process(
    config_file: Option<&Path>,
    matches: &clap::ArgMatches,
) -> anyhow::Result<Config> {
    load(config_file, &process_env()?, &flag_values(matches)?)
}

/// The settings given as flags in `matches` (made with [`flag_args`]), by setting name, for
/// [`load`].
pub fn flag_values(matches: &clap::ArgMatches) -> anyhow::Result<Vec<(&'static str, String)>> {
    let mut out: Vec<(&'static str, String)> = Vec::new();
    let mut level = Some(matches);
    while let Some(m) = level {
        for s in SETTINGS.iter().filter(|s| s.scope != Scope::NoFlag) {
            // Nothing but the command line sets these arguments: they have no default and no
            // environment variable in clap.
            let Ok(Some(mut raw)) = m.try_get_raw(s.name) else {
                continue;
            };
            let Some(value) = raw.next_back() else {
                continue;
            };
            let value = value
                .to_str()
                .ok_or_else(|| anyhow::anyhow!("--{} is not valid UTF-8", s.flag))?;
            out.retain(|(name, _)| *name != s.name);
            out.push((s.name, value.to_owned()));
        }
        level = m.subcommand().map(|(_, sub)| sub);
    }
    Ok(out)
}

/// Where a layer's values come from.
enum Source {
    File(PathBuf),
    Environment,
    Flags,
}

/// One layer: text values of settings.
struct Layer {
    source: Source,
    values: Vec<(&'static Setting, String)>,
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        match &self.source {
            Source::File(path) => Metadata::from(
                format!("configuration file {}", path.display()),
                path.as_path(),
            ),
            Source::Environment => Metadata::named(ENVIRONMENT),
            Source::Flags => Metadata::named(FLAGS),
        }
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut sections = Dict::new();
        for (setting, value) in &self.values {
            let Some((section, field)) = setting.key.split_once('.') else {
                return Err(figment::Error::from(format!(
                    "setting {} has no section in `{}`",
                    setting.name, setting.key
                )));
            };
            let section = sections
                .entry(section.to_owned())
                .or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, fields) = section {
                fields.insert(field.to_owned(), Value::from(value.clone()));
            }
        }
        Ok(Profile::Default.collect(sections))
    }
}

/// The layer of the TOML file at `path`, whose keys are settings' names.
fn file_layer(path: &Path) -> anyhow::Result<Layer> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read configuration file {}: {e}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| anyhow::anyhow!("configuration file {}: {e}", path.display()))?;
    let mut values = Vec::new();
    for (key, value) in table {
        let Some(setting) = setting(&key) else {
            let known: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
            anyhow::bail!(
                "configuration file {}: unknown setting `{key}` (known: {})",
                path.display(),
                known.join(", ")
            );
        };
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Float(f) => f.to_string(),
            other => anyhow::bail!(
                "configuration file {}: `{key}` must be a string, number or boolean, not {other}",
                path.display()
            ),
        };
        values.push((setting, value));
    }
    Ok(Layer {
        source: Source::File(path.to_owned()),
        values,
    })
}

/// A refusal naming each setting whose value does not fit, and where that value came from.
fn explain(error: figment::Error) -> anyhow::Error {
    let reasons: Vec<String> = error
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let origin = e.metadata.as_ref().map(|m| m.name.to_string());
            let Some(setting) = SETTINGS.iter().find(|s| s.key == key) else {
                return match origin {
                    Some(origin) => format!("{origin}: {}", e.kind),
                    None => e.kind.to_string(),
                };
            };
            let name = setting.name;
            let place = match origin.as_deref() {
                Some(ENVIRONMENT) => format!("environment variable {name}"),
                Some(FLAGS) => format!("--{} ({name})", setting.flag),
                Some(file) => format!("{file}: {name}"),
                None => name.to_owned(),
            };
            format!("{place}: {}", e.kind)
        })
        .collect();
    anyhow::anyhow!("invalid configuration: {}", reasons.join("; "))
}
