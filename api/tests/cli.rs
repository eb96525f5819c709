//! The `anju` command itself. (Building this test also builds the binary that the workspace's
//! integration tests start as separate processes.)

use std::process::Command;

fn anju() -> Command {
    Command::new(env!("CARGO_BIN_EXE_anju"))
}

#[test]
fn schema_command_prints_the_committed_schema() {
    let out = anju().arg("schema").output().expect("run anju schema");
    assert!(out.status.success());
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql"))
            .expect("read schema.graphql");
    assert_eq!(String::from_utf8_lossy(&out.stdout), committed);
}

#[test]
fn a_bad_data_set_fails_with_its_breaches_and_a_nonzero_exit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("cli.db");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("data folder");
    // Only one of the seven files is there.
    std::fs::write(
        data.join("areas.csv"),
        "code,name,level,parent_code,poverty_village,whole_village_relocation\n",
    )
    .expect("write areas.csv");
    let out = anju()
        .env(
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", db.display()),
        )
        .arg("import")
        .arg(&data)
        .output()
        .expect("run anju import");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("sites.csv"),
        "the missing file is named: {stderr}"
    );
}

#[test]
fn a_configuration_file_supplies_settings_the_environment_does_not() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("from-file.db");
    let config = dir.path().join("anju.toml");
    std::fs::write(
        &config,
        format!("DATABASE_URL = \"sqlite://{}?mode=rwc\"\n", db.display()),
    )
    .expect("write config");
    let out = anju()
        .env_remove("DATABASE_URL")
        .args(["--config", config.to_str().expect("utf-8 path"), "migrate"])
        .output()
        .expect("run anju migrate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(db.exists(), "the database named in the file was created");

    std::fs::write(&config, "DATABASE_ULR = \"sqlite://x.db\"\n").expect("write config");
    let out = anju()
        .args(["--config", config.to_str().expect("utf-8 path"), "migrate"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown setting `DATABASE_ULR`"));
}
