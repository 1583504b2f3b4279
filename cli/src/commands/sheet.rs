//! `import`: a spreadsheet's rows signed and submitted, and its report.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use cli::client::NodeClient;
use cli::i18n;
use cli::receipt::{self, Submitter};
use cli::{import, write_durably};
use ledger::keyfile;
use rust_i18n::t;

use super::{interrupt_flag, progress, trust, witnessed_receipts};
use crate::{ImportArgs, SignerArgs};

pub(crate) fn import_csv(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let ImportArgs {
        signer:
            SignerArgs {
                node,
                vkey,
                key,
                issuer,
            },
        kind,
        service,
        encoding,
        allow_repeat,
        allow_duplicates,
        report,
        dry_run,
        witnessed,
        wait,
        receipts,
        proofs_dir,
        file,
    } = args;
    let key = keyfile::read(&key)?;
    let bytes = std::fs::read(&file).with_context(|| t!("io.reading", path = file.display()))?;
    let mut rows = import::read_rows(&bytes, &encoding, kind)?;
    // The report speaks the input's language: Chinese for a Chinese sheet
    // or a Chinese interface.
    let report_zh = rows.gbk || rows.chinese_headers || i18n::is_zh();
    let report_gbk = rows.gbk;
    // One ID number that is none stops the whole file, before anything is
    // asked of the pseudonym service or sent to the node.
    if rows.bad_ids > 0 {
        say_rows(
            rows.errors
                .iter()
                .filter(|e| e.problems.iter().any(|p| p.key.starts_with("row.id_"))),
        );
        return Err(cli::Failed(t!("import.bad_ids", count = rows.bad_ids).into_owned()).into());
    }
    let client = NodeClient::new(&node.node);
    let verifier = cli::trusted_verifier(&client, vkey.vkey, vkey.genesis)?;
    if rows.needs_pseudonyms() {
        use cli::pseudonym::client::PseudonymClient;
        let pseudonyms =
            PseudonymClient::from_ledger(&client, service.as_deref(), key.clone(), &issuer)?;
        rows.pseudonymise(&|domain, ids| pseudonyms.pseudonyms(domain, ids))?;
    }
    let trust = trust(verifier.clone(), &witnessed)?;
    let size_before = client.log_info()?.size;
    let opts = import::Import {
        issuer: &issuer,
        kind,
        key: &key,
        allow_repeat,
        dry_run,
        allow_duplicates,
    };
    let preflight = import::preflight(&client, &opts, &rows)?;
    for warning in &preflight.warnings {
        eprintln!("{}", t!("msg.warning", message = warning));
    }
    if !rows.ignored.is_empty() {
        eprintln!(
            "{}",
            t!("import.ignored", columns = rows.ignored.join(", "))
        );
    }
    let mut receipts_out = receipts
        .filter(|_| !dry_run)
        .map(|p| std::fs::File::create(&p).with_context(|| t!("io.creating", path = p.display())))
        .transpose()?
        .map(std::io::BufWriter::new);
    let proofs = proofs_dir
        .filter(|_| !dry_run)
        .map(|d| receipt::ProofsDir::create(&d))
        .transpose()?;
    let stop = interrupt_flag()?;
    let started = std::time::Instant::now();
    let bar = progress(0, &t!("progress.importing"));
    let mut submitter = Submitter::new(&client, &verifier);
    let mut witness = |outcomes: &mut [receipt::Outcome]| {
        if trust.policy.is_some() {
            witnessed_receipts(&client, &trust, outcomes, Duration::from_secs(wait))?;
        }
        Ok(())
    };
    let summary = import::run(
        &opts,
        &client,
        &mut submitter,
        rows,
        &preflight.funds,
        size_before,
        &bar,
        &stop,
        &mut witness,
        |r| {
            if let Some(out) = receipts_out.as_mut() {
                // One whole line per write: an interrupted run leaves whole lines.
                let mut line = serde_json::to_vec(r)?;
                line.push(b'\n');
                out.write_all(&line)?;
            }
            if let Some(dir) = &proofs {
                dir.write(r)?;
            }
            Ok(())
        },
    )?;
    if let Some(out) = receipts_out {
        out.into_inner()?.sync_all()?;
    }
    say_rows(summary.errors.iter().take(20));
    if summary.errors.len() > 20 {
        eprintln!("{}", t!("import.more", count = summary.errors.len() - 20));
    }
    if let Some(report) = report {
        write_report(&report, &summary.errors, report_gbk, report_zh)?;
    }
    let secs = started.elapsed().as_secs_f64();
    let refused = summary.errors.len() as u64 - summary.held;
    if dry_run {
        println!(
            "{}",
            t!(
                "import.dry_summary",
                rows = summary.rows,
                added = summary.added,
                already = summary.already,
                held = summary.held,
                refused = refused
            )
        );
    } else {
        println!(
            "{}",
            t!(
                "import.summary",
                rows = summary.rows,
                added = summary.added,
                already = summary.already,
                held = summary.held,
                refused = refused,
                secs = format!("{secs:.1}"),
                rate = format!("{:.0}", summary.rows as f64 / secs.max(1e-9))
            )
        );
    }
    if summary.duplicates > 0 {
        eprintln!("{}", t!("import.duplicates", count = summary.duplicates));
    }
    if let Some(n) = summary.interrupted_after {
        eprintln!("{}", t!("import.interrupted", rows = n));
        return Ok(ExitCode::from(130));
    }
    Ok(if summary.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Says each row not imported on stderr: its row, its code, what the code
/// means and what is wrong, in the interface's language.
fn say_rows<'a>(errors: impl IntoIterator<Item = &'a import::RowError>) {
    let locale = rust_i18n::locale();
    for e in errors {
        let message = t!(
            "explain",
            meaning = cli::explain::meaning(&locale, &e.code.as_str()),
            message = e.message_in(&locale)
        );
        eprintln!(
            "{}",
            t!("import.row", row = e.row, code = e.code, message = message)
        );
    }
}

/// Writes the rows not imported so that Excel opens the file as it is: in
/// GBK if the input was GBK, else UTF-8 with a BOM; in Chinese (column
/// names, every problem, how to fix) if `zh`. One line per row, with all
/// its problems; amounts in yuan.
pub(crate) fn write_report(
    path: &Path,
    errors: &[import::RowError],
    gbk: bool,
    zh: bool,
) -> anyhow::Result<()> {
    use cli::explain;
    let locale = if zh { explain::ZH } else { "en" };
    let header = |key: &str| explain::lookup(locale, key);
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        header("report.row"),
        header("report.code"),
        header("report.message"),
        header("report.fix"),
    ])?;
    for e in errors {
        let message = explain::lookup(locale, "explain")
            .replace("%{meaning}", &explain::meaning(locale, &e.code.as_str()))
            .replace("%{message}", &e.message_in(locale));
        w.write_record([
            e.row.to_string(),
            e.code.to_string(),
            message,
            explain::fix(locale, &e.code.as_str()),
        ])?;
    }
    let text = String::from_utf8(w.into_inner()?)?;
    let bytes = if gbk {
        encoding_rs::GBK.encode(&text).0.into_owned()
    } else {
        let mut b = b"\xEF\xBB\xBF".to_vec();
        b.extend_from_slice(text.as_bytes());
        b
    };
    write_durably(path, &bytes).with_context(|| format!("writing {}", path.display()))
}
