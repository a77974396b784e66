//! The committed templates must be what `cargo xtask synth` generates from the committed stages.toml.

mod support;
use support::scratch;

#[test]
fn committed_templates_are_current() {
    let root = devenv::workspace_root().unwrap();
    let config = xtask::load_config(&root.join("stages.toml")).unwrap_or_else(|e| panic!("{e:#}"));
    let expected = xtask::templates::expected(&root, &config, None).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(expected.iter().any(|f| f.path == "README.md"), "the README's generated blocks are checked too");
    let drift = xtask::templates::compare(&root, &expected, true).unwrap_or_else(|e| panic!("{e:#}"));
    let report: Vec<String> = drift.iter().map(ToString::to_string).collect();
    assert!(report.is_empty(), "{}", report.join("\n"));
}

#[test]
fn a_stale_file_is_reported_with_the_command_that_fixes_it() {
    let dir = scratch::dir("stale");
    std::fs::copy(devenv::workspace_root().unwrap().join("stages.toml"), dir.join("stages.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let config = xtask::load_config(&dir.join("stages.toml")).unwrap_or_else(|e| panic!("{e:#}"));
    let expected = xtask::templates::expected(&dir, &config, None).unwrap_or_else(|e| panic!("{e:#}"));
    xtask::templates::write(&dir, &expected, true).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(xtask::templates::compare(&dir, &expected, true).unwrap_or_else(|e| panic!("{e:#}")).is_empty());

    std::fs::write(dir.join("templates/dev/api.yaml"), "edited by hand\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::remove_file(dir.join("templates/prod/iam.md")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(dir.join("templates/qa")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("templates/qa/api.yaml"), "old stage\n").unwrap_or_else(|e| panic!("{e}"));
    let drift: Vec<String> = xtask::templates::compare(&dir, &expected, true)
        .unwrap_or_else(|e| panic!("{e:#}"))
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        drift,
        [
            "templates/dev/api.yaml is stale; run `cargo xtask synth`",
            "templates/prod/iam.md is missing; run `cargo xtask synth`",
            "templates/qa/api.yaml is not generated from stages.toml; run `cargo xtask synth` to remove it",
        ]
    );
    // Writing repairs all three, and removes the stage directory nothing generates.
    xtask::templates::write(&dir, &expected, true).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(xtask::templates::compare(&dir, &expected, true).unwrap_or_else(|e| panic!("{e:#}")).is_empty());
    assert!(!dir.join("templates/qa").exists());
}

/// Every list README.md has that the code knows is a generated block, and an edited one is stale.
#[test]
fn the_readme_lists_are_generated_and_an_edited_one_is_stale() {
    let root = devenv::workspace_root().unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap_or_else(|e| panic!("{e}"));
    for name in synth::docs::SECTIONS {
        assert!(readme.contains(&format!("<!-- generated:{name} -->")), "README.md lacks the {name} block");
    }
    let dir = scratch::dir("readme");
    std::fs::copy(root.join("stages.toml"), dir.join("stages.toml")).unwrap_or_else(|e| panic!("{e}"));
    let edited = readme.replacen("| `hello` |", "| `hullo` |", 1);
    assert_ne!(edited, readme);
    std::fs::write(dir.join("README.md"), &edited).unwrap_or_else(|e| panic!("{e}"));
    let config = xtask::load_config(&dir.join("stages.toml")).unwrap_or_else(|e| panic!("{e:#}"));
    let expected = xtask::templates::expected(&dir, &config, None).unwrap_or_else(|e| panic!("{e:#}"));
    let drift: Vec<String> = xtask::templates::compare(&dir, &expected, false)
        .unwrap_or_else(|e| panic!("{e:#}"))
        .iter()
        .map(ToString::to_string)
        .filter(|d| d.starts_with("README"))
        .collect();
    assert_eq!(drift, ["README.md is stale; run `cargo xtask synth`"]);
}
