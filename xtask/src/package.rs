//! `cargo xtask build`: the handler crates, compiled for Lambda and packaged as deterministic zips.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use contract::Function;
use sha2::{Digest, Sha256};
use synth::config::Architecture;

use crate::BadInput;

/// The newest glibc symbol version a binary may need: Lambda's `provided.al2023` ships glibc 2.34.
pub const MAX_GLIBC: (u32, u32) = (2, 34);

/// Which cargo profile the functions are built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Tuned for size and cold start (fat LTO, one codegen unit, stripped); panics unwind (see Cargo.toml).
    Release,
    /// Fast to build; for tests and `xtask local`.
    Debug,
}

/// A packaged function.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub function: Function,
    pub zip: PathBuf,
    /// Hex SHA-256 of the zip; the S3 key is derived from it.
    pub sha256: String,
    pub size: u64,
}

impl Artifact {
    /// The content-addressed S3 key: a changed binary gives a new key, an unchanged one the same.
    pub fn s3_key(&self, prefix: &str) -> String {
        format!("{prefix}/{}/{}.zip", self.function, self.sha256)
    }
}

/// Where the packaged zips go: `target/lambda/<function>/bootstrap.zip`.
pub fn lambda_dir() -> anyhow::Result<PathBuf> {
    Ok(crate::target_dir()?.join("lambda"))
}

/// Builds every function for `arch` and packages it.
pub fn build(
    root: &Path,
    functions: &[Function],
    arch: Architecture,
    profile: Profile,
) -> anyhow::Result<Vec<Artifact>> {
    let target = arch.rust_target();
    let native =
        matches!((arch, std::env::consts::ARCH), (Architecture::X86_64, "x86_64") | (Architecture::Arm64, "aarch64"));
    if !native && !target_installed(target) {
        return Err(BadInput(format!(
            "architecture {} needs the Rust target {target}, which is not installed; run `rustup target add {target}` and \
             install a cross linker (Debian: `apt-get install gcc-aarch64-linux-gnu`, then set \
             CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc), or set architecture = \"x86_64\" in stages.toml",
            arch.lambda_name()
        ))
        .into());
    }
    let out_dir = compile(root, functions, (!native).then_some(target), profile)?;

    functions
        .iter()
        .map(|f| {
            let binary = out_dir.join(f.name());
            let bytes = fs::read(&binary).with_context(|| format!("reading {}", binary.display()))?;
            check_binary(f, &bytes, arch).with_context(|| format!("checking {}", binary.display()))?;
            package(f, &bytes)
        })
        .collect()
}

/// Set by `cargo xtask test` for the whole suite: a debug build of the functions then shares what the
/// suite's `cargo test` compiled (see [`compile`]).
pub const SHARE_TEST_BUILD: &str = "XTASK_SHARE_TEST_BUILD";

/// Compiles the function binaries, for `target` (a cross-compilation triple) or for this machine,
/// and returns the directory that holds them. Shared by `build` and `cargo xtask local`, which runs
/// the binaries here and packages nothing.
///
/// The directory is the one cargo reports it wrote each executable to (its JSON messages), not one
/// worked out beside it: whatever sets the target directory (`CARGO_TARGET_DIR`,
/// `CARGO_BUILD_TARGET_DIR`, `build.target-dir` in a cargo config), what is packaged is what cargo just
/// built, and a function cargo did not report is an error rather than a stale file picked up.
pub fn compile(root: &Path, functions: &[Function], target: Option<&str>, profile: Profile) -> anyhow::Result<PathBuf> {
    // Signup and reset embed the breached-password filter; the breached crate's build script reads it from here.
    crate::corpus::ensure(&devenv::target_dir_of(root)?)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root).args(["build", "--message-format=json-render-diagnostics"]);
    // Cargo's JSON messages come on stdout; its progress and the rendered errors stay on the terminal.
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::inherit());
    if profile == Profile::Release {
        cmd.arg("--release");
    }
    if profile == Profile::Debug && target.is_none() && std::env::var_os(SHARE_TEST_BUILD).is_some() {
        // Inside `cargo xtask test`: select what `cargo test --workspace` selected, so that cargo unifies
        // features the same way and reuses every dependency it compiled (only the function binaries are
        // new), where `-p <function>` alone builds a second copy of tokio, hyper and the AWS SDK.
        cmd.args(["--workspace", "--bins", "--tests"]);
    } else {
        for f in functions {
            cmd.args(["-p", f.name()]);
        }
    }
    if let Some(target) = target {
        cmd.args(["--target", target]);
    }
    eprintln!("building {} functions ({profile:?}, {})...", functions.len(), target.unwrap_or("this machine"));
    let output = cmd.output().context("running cargo build")?;
    if !output.status.success() {
        bail!("cargo build of the functions failed; fix the errors above and run again");
    }
    let built = executables(&String::from_utf8_lossy(&output.stdout));
    binaries_dir(functions, &built)
}

/// The executables cargo reports in its JSON messages (`compiler-artifact` of a `bin` target), by target
/// name. Fresh ones are reported too, with the path they are at.
pub fn executables(messages: &str) -> std::collections::BTreeMap<String, PathBuf> {
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter(|m| m["target"]["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "bin")))
        // A bin's own unit tests (built by `--tests`) are a bin target too: not the binary.
        .filter(|m| m["profile"]["test"] != true)
        .filter_map(|m| Some((m["target"]["name"].as_str()?.to_owned(), PathBuf::from(m["executable"].as_str()?))))
        .collect()
}

/// The one directory holding every function's executable as cargo reported it.
pub fn binaries_dir(
    functions: &[Function],
    built: &std::collections::BTreeMap<String, PathBuf>,
) -> anyhow::Result<PathBuf> {
    let mut dir: Option<PathBuf> = None;
    for f in functions {
        let path = built.get(f.name()).with_context(|| {
            format!("cargo built no executable for {f}; is handlers/{f}/src/main.rs its binary (no [[bin]] renaming)?")
        })?;
        let parent = path.parent().map(Path::to_path_buf).unwrap_or_default();
        match &dir {
            Some(d) if *d != parent => bail!("cargo put {f}'s executable in {}, not {}", parent.display(), d.display()),
            Some(_) => {}
            None => dir = Some(parent),
        }
    }
    dir.context("no functions to build")
}

fn target_installed(target: &str) -> bool {
    Command::new("rustc")
        .args(["--print", "target-libdir", "--target", target])
        .output()
        .ok()
        .and_then(|o| o.status.success().then(|| String::from_utf8_lossy(&o.stdout).trim().to_owned()))
        .is_some_and(|dir| {
            Path::new(&dir).join("libstd.rlib").exists()
                || fs::read_dir(&dir).is_ok_and(|mut d| {
                    d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("libstd-")))
                })
        })
}

/// Zips `binary` as `bootstrap` with fixed timestamps and permissions, so the same binary always gives
/// the same bytes and hash, and writes `bootstrap.zip`, `bootstrap.zip.sha256` and
/// `bootstrap.zip.binary-sha256` (the hash of the binary inside).
///
/// Compressing a binary takes seconds; hashing it, milliseconds. So when the zip on disk was made from a
/// binary with this binary's hash, and still matches its own checksum, it is reused as it is: a deploy
/// with nothing rebuilt does no packaging work.
pub fn package(function: &Function, binary: &[u8]) -> anyhow::Result<Artifact> {
    package_in(&lambda_dir()?.join(function.name()), function, binary)
}

/// [`package`] into `dir`.
pub fn package_in(dir: &Path, function: &Function, binary: &[u8]) -> anyhow::Result<Artifact> {
    let dir = dir.to_path_buf();
    let zip = dir.join("bootstrap.zip");
    let binary_sha256 = hex_sha256(binary);
    if let Some(artifact) = cached(function, &dir, &binary_sha256) {
        return Ok(artifact);
    }
    let bytes = zip_bootstrap(binary)?;
    let sha256 = hex_sha256(&bytes);
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    // The binary's hash goes last and is removed first: an interrupted run leaves no record that vouches
    // for a zip it did not finish.
    let _ = fs::remove_file(dir.join(BINARY_SUM));
    fs::write(&zip, &bytes).with_context(|| format!("writing {}", zip.display()))?;
    fs::write(dir.join(ZIP_SUM), format!("{sha256}  bootstrap.zip\n")).context("writing the checksum")?;
    fs::write(dir.join(BINARY_SUM), format!("{binary_sha256}  bootstrap\n")).context("writing the checksum")?;
    Ok(Artifact { function: function.clone(), zip, sha256, size: bytes.len() as u64 })
}

const ZIP_SUM: &str = "bootstrap.zip.sha256";
const BINARY_SUM: &str = "bootstrap.zip.binary-sha256";

/// The zip in `dir`, if it was made from the binary whose hash is `binary_sha256` and is intact.
fn cached(function: &Function, dir: &Path, binary_sha256: &str) -> Option<Artifact> {
    let recorded = |name: &str| {
        fs::read_to_string(dir.join(name)).ok().and_then(|s| s.split_whitespace().next().map(str::to_owned))
    };
    if recorded(BINARY_SUM)? != binary_sha256 {
        return None;
    }
    let zip = dir.join("bootstrap.zip");
    let bytes = fs::read(&zip).ok()?;
    let sha256 = hex_sha256(&bytes);
    (recorded(ZIP_SUM)? == sha256).then(|| Artifact {
        function: function.clone(),
        zip,
        sha256,
        size: bytes.len() as u64,
    })
}

/// The lowercase hex SHA-256 of `bytes`.
pub fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The zip bytes: one entry, `bootstrap`, mode 0755, dated 1980-01-01 (the zip epoch).
pub fn zip_bootstrap(binary: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9))
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o755);
    writer.start_file("bootstrap", options).context("starting the zip entry")?;
    writer.write_all(binary).context("compressing the binary")?;
    Ok(writer.finish().context("finishing the zip")?.into_inner())
}

/// Whether a function binary can run on Lambda for `arch`: an ELF for that machine that needs no
/// glibc newer than `provided.al2023`'s.
pub fn check_binary(function: &Function, elf: &[u8], arch: Architecture) -> anyhow::Result<()> {
    check_elf(&format!("{function}'s bootstrap"), elf, arch)
}

/// Whether `elf` (named `what` in errors) runs on Amazon Linux 2023 for `arch`: Lambda's
/// `provided.al2023` and CodeBuild's AL2023 images alike, whose glibc is 2.34.
pub fn check_elf(what: &str, elf: &[u8], arch: Architecture) -> anyhow::Result<()> {
    use object::Object as _;
    let file = object::File::parse(elf).map_err(|e| BadInput(format!("{what} is not an ELF binary ({e})")))?;
    let machine = match file.architecture() {
        object::Architecture::X86_64 => Some(Architecture::X86_64),
        object::Architecture::Aarch64 => Some(Architecture::Arm64),
        _ => None,
    };
    if machine != Some(arch) {
        return Err(BadInput(format!(
            "{what} is built for {:?}, but the stage runs on {}; build for the stage with `cargo xtask build --stage \
             <stage>`",
            file.architecture(),
            arch.lambda_name()
        ))
        .into());
    }
    if let Some(needed) = max_glibc(elf)?
        && needed > MAX_GLIBC
    {
        return Err(BadInput(format!(
            "{what} needs glibc {}.{}, newer than the {}.{} of Amazon Linux 2023; find the dependency that pulled in \
             the newer symbol (`objdump -T` on the binary)",
            needed.0, needed.1, MAX_GLIBC.0, MAX_GLIBC.1
        ))
        .into());
    }
    Ok(())
}

/// Reads the packaged zips from a directory laid out like `target/lambda/` (`<function>/bootstrap.zip`
/// and its `.sha256`), for deploying what an earlier `cargo xtask build` produced. Each zip must match
/// its checksum file and hold a `bootstrap` that runs on Lambda for `arch`: what is uploaded is what
/// was built, for the right machine.
pub fn existing(dir: &Path, functions: &[Function], arch: Architecture) -> anyhow::Result<Vec<Artifact>> {
    functions
        .iter()
        .map(|function| {
            let zip = dir.join(function.name()).join("bootstrap.zip");
            let bytes = fs::read(&zip)
                .map_err(|e| BadInput(format!("reading {}: {e}; run `cargo xtask build` first", zip.display())))?;
            let sha256 = hex_sha256(&bytes);
            let sum_file = dir.join(function.name()).join(ZIP_SUM);
            let recorded = fs::read_to_string(&sum_file).map_err(|e| {
                BadInput(format!(
                    "reading {}: {e}; run `cargo xtask build` to write zip and checksum",
                    sum_file.display()
                ))
            })?;
            if recorded.split_whitespace().next() != Some(sha256.as_str()) {
                return Err(BadInput(format!(
                    "{} does not match its checksum file {} (SHA-256 {sha256}); it changed after the build: rebuild \
                     with `cargo xtask build`",
                    zip.display(),
                    sum_file.display()
                ))
                .into());
            }
            let binary = unzip_bootstrap(&bytes).with_context(|| format!("reading {}", zip.display()))?;
            check_binary(function, &binary, arch).with_context(|| format!("checking {}", zip.display()))?;
            Ok(Artifact { function: function.clone(), zip, sha256, size: bytes.len() as u64 })
        })
        .collect()
}

/// The `bootstrap` entry of a function zip.
pub fn unzip_bootstrap(zip: &[u8]) -> anyhow::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).context("not a zip file")?;
    let mut entry = archive.by_name("bootstrap").context("the zip has no `bootstrap` entry")?;
    let mut out = Vec::new();
    entry.read_to_end(&mut out).context("unpacking bootstrap")?;
    Ok(out)
}

/// The newest `GLIBC_x.y` symbol version an ELF binary requires, if it requires any.
pub fn max_glibc(elf: &[u8]) -> anyhow::Result<Option<(u32, u32)>> {
    use object::read::elf::{ElfFile64, FileHeader as _};
    let file = ElfFile64::<object::Endianness>::parse(elf).context("not a 64-bit ELF file")?;
    let endian = file.endian();
    let sections = file.elf_header().sections(endian, elf).context("reading ELF sections")?;
    let Some((mut needs, link)) = sections.gnu_verneed(endian, elf).context("reading version needs")? else {
        return Ok(None);
    };
    let strings = sections.strings(endian, elf, link).context("reading version names")?;
    let mut max = None;
    while let Some((_, mut auxes)) = needs.next().context("reading version needs")? {
        while let Some(aux) = auxes.next().context("reading version needs")? {
            let name = aux.name(endian, strings).context("reading a version name")?;
            if let Some(version) =
                std::str::from_utf8(name).ok().and_then(|n| n.strip_prefix("GLIBC_")).and_then(parse_version)
            {
                max = max.max(Some(version));
            }
        }
    }
    Ok(max)
}

fn parse_version(v: &str) -> Option<(u32, u32)> {
    let mut parts = v.split('.');
    Some((parts.next()?.parse().ok()?, parts.next().map_or(Some(0), |m| m.parse().ok())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_binaries_are_where_cargo_says_it_built_them() {
        // Two messages as `cargo build --message-format=json` writes them (trimmed), a library and a
        // fresh binary in a target directory set by a cargo config.
        let messages = r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"auth"},"executable":null,"fresh":true}
{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"hello"},"profile":{"test":false},"executable":"/elsewhere/debug/hello","fresh":true}
{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"hello"},"profile":{"test":true},"executable":"/elsewhere/debug/deps/hello-0f1e","fresh":true}
{"reason":"build-finished","success":true}"#;
        let built = executables(messages);
        assert_eq!(built.len(), 1);
        assert_eq!(built["hello"], Path::new("/elsewhere/debug/hello"), "the binary, not its unit tests' harness");
        let hello = crate::declared::function("hello");
        assert_eq!(binaries_dir(std::slice::from_ref(&hello), &built).unwrap(), Path::new("/elsewhere/debug"));
        // A function cargo did not report is an error, not a stale file picked up from the usual place.
        let signup = crate::declared::function("signup");
        assert!(binaries_dir(&[hello, signup], &built).unwrap_err().to_string().contains("no executable for signup"));
    }

    #[test]
    fn zips_are_deterministic_and_executable() {
        let a = zip_bootstrap(b"\x7fELF pretend binary").unwrap_or_else(|e| panic!("{e}"));
        let b = zip_bootstrap(b"\x7fELF pretend binary").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a, b);
        assert_ne!(a, zip_bootstrap(b"\x7fELF other binary").unwrap_or_else(|e| panic!("{e}")));
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(a)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(archive.len(), 1);
        let entry = archive.by_index(0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(entry.name().map(|n| n.into_owned()).ok().as_deref(), Some("bootstrap"));
        assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));
    }

    #[test]
    fn an_unchanged_binary_is_not_zipped_again_and_a_tampered_zip_is_replaced() {
        let dir = std::env::temp_dir().join(format!("xtask-package-cache-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let first =
            package_in(&dir, &crate::declared::function("hello"), b"\x7fELF one").unwrap_or_else(|e| panic!("{e}"));
        let zip = dir.join("bootstrap.zip");
        let written = fs::metadata(&zip).and_then(|m| m.modified()).unwrap_or_else(|e| panic!("{e}"));
        std::thread::sleep(std::time::Duration::from_millis(20));

        let again =
            package_in(&dir, &crate::declared::function("hello"), b"\x7fELF one").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.sha256, first.sha256);
        let untouched = fs::metadata(&zip).and_then(|m| m.modified()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(untouched, written, "the zip of an unchanged binary is reused, not rewritten");

        let changed =
            package_in(&dir, &crate::declared::function("hello"), b"\x7fELF two").unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(changed.sha256, first.sha256);
        assert_eq!(unzip_bootstrap(&fs::read(&zip).unwrap()).unwrap(), b"\x7fELF two");

        // Someone swaps the zip but leaves the checksum files: the zip no longer matches its own sum,
        // so it is rebuilt from the binary rather than trusted.
        fs::write(&zip, zip_bootstrap(b"\x7fELF planted").unwrap()).unwrap();
        let rebuilt =
            package_in(&dir, &crate::declared::function("hello"), b"\x7fELF two").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rebuilt.sha256, changed.sha256);
        assert_eq!(unzip_bootstrap(&fs::read(&zip).unwrap()).unwrap(), b"\x7fELF two");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn versions_parse_and_order() {
        assert_eq!(parse_version("2.34"), Some((2, 34)));
        assert_eq!(parse_version("2.2.5"), Some((2, 2)));
        assert!(Some((2, 35)) > Some(MAX_GLIBC));
        assert!((2, 9) < MAX_GLIBC);
    }

    #[test]
    fn reads_the_glibc_needs_of_a_real_binary() {
        // This test's own executable is a dynamically linked ELF built on this machine.
        let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
        let bytes = fs::read(exe).unwrap_or_else(|e| panic!("{e}"));
        let needed = max_glibc(&bytes).unwrap_or_else(|e| panic!("{e}"));
        let (major, minor) =
            needed.unwrap_or_else(|| panic!("a dynamically linked test binary needs some GLIBC version"));
        assert_eq!(major, 2);
        assert!(minor >= 2, "GLIBC_2.{minor}");
        assert!(max_glibc(b"not an elf").is_err());
    }
}
