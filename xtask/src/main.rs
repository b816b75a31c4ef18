//! `cargo xtask`: build steps beyond `cargo build`.
//!
//!     cargo xtask dist [--jigdo BIN | --features LIST] [--out DIR] [--release N] [--sign-key FILE]
//!     cargo xtask man [--jigdo BIN | --features LIST] [--out DIR]
//!     cargo xtask completions [--jigdo BIN | --features LIST] [--out DIR]
//!
//! `dist` builds the release `jigdo` binary (unless `--jigdo` names one; default features:
//! `librepo`, as the test command builds it), renders its man pages into `OUT/man` and its
//! bash, zsh and fish completions into `OUT/completions`, and builds the RPM of jigdo
//! (`specs/ostree-jigdo.spec`) into `OUT/rpm` with rpmbuild. `man` and `completions` do only
//! their step. OUT defaults to `target/dist`. Paths written are printed, one a line.

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask dist|man|completions [--jigdo BIN | --features LIST] \
[--out DIR] [--release N] [--sign-key FILE]";

struct Options {
    task: String,
    jigdo: Option<PathBuf>,
    features: String,
    out: PathBuf,
    release: String,
    sign_key: Option<PathBuf>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let task = args.next().ok_or(USAGE)?;
    if !matches!(task.as_str(), "dist" | "man" | "completions") {
        return Err(format!("unknown task {task:?}\n{USAGE}"));
    }
    let mut o = Options {
        task,
        jigdo: None,
        features: "librepo".into(),
        out: xtask::target_dir().join("dist"),
        release: "1".into(),
        sign_key: None,
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--jigdo" => o.jigdo = Some(PathBuf::from(value()?)),
            "--features" => o.features = value()?,
            "--out" => o.out = PathBuf::from(value()?),
            "--release" => o.release = value()?,
            "--sign-key" => o.sign_key = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Err(USAGE.into()),
            _ => return Err(format!("unknown argument {flag:?}\n{USAGE}")),
        }
    }
    Ok(o)
}

fn run(o: Options) -> xtask::Result<()> {
    let jigdo = match o.jigdo {
        Some(j) => j,
        None => xtask::build_jigdo(&o.features)?,
    };
    let generated = xtask::generate(&jigdo, &o.out)?;
    let mut written = Vec::new();
    match o.task.as_str() {
        "man" => written.extend(generated.man_pages),
        "completions" => written.extend(generated.completions),
        _ => {
            written.extend(generated.man_pages.iter().cloned());
            written.extend(generated.completions.iter().cloned());
            written.push(xtask::build_rpm(&xtask::RpmInputs {
                jigdo,
                generated,
                out_dir: o.out.join("rpm"),
                release: o.release,
                sign_key: o.sign_key,
            })?);
        }
    }
    for p in written {
        println!("{}", p.display());
    }
    Ok(())
}

fn main() -> ExitCode {
    match parse(std::env::args().skip(1)).and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
