//! The CLI's languages: English and Simplified Chinese, from one table
//! (`cli/locales/app.yml`, compiled in by `rust-i18n`). Chinese when
//! `--lang zh` is given or the locale (`LC_ALL`, `LC_MESSAGES`, `LANG`) is
//! `zh_*`; English otherwise. Help text comes from the doc comments in
//! English and from the table's `cli.*` and `arg.*` keys in Chinese; every
//! SPEC error code has one explanation (`code.*`).

use std::borrow::Cow;

use ledger::code::Detail;
use rust_i18n::t;

use crate::refusal::NodeError;
use crate::vocab::ZH;

/// Chooses the language: `flag` (`zh…` or `en…`), else the environment's locale.
pub fn choose(flag: Option<&str>) {
    let from_env = || {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
    };
    let lang = flag.map(str::to_owned).or_else(from_env);
    let zh = lang.is_some_and(|l| l.to_ascii_lowercase().starts_with("zh"));
    rust_i18n::set_locale(if zh { ZH } else { "en" });
}

/// Whether the interface speaks Chinese.
pub fn is_zh() -> bool {
    &*rust_i18n::locale() == ZH
}

/// The text of `key` in the current language, if the table has one there.
fn lookup(key: &str) -> Option<Cow<'static, str>> {
    lookup_in(&rust_i18n::locale(), key)
}

fn lookup_in(locale: &str, key: &str) -> Option<Cow<'static, str>> {
    crate::_rust_i18n_try_translate(locale, key).map(|c| Cow::Owned(c.into_owned()))
}

/// `cmd` with its help in the current language: descriptions of commands
/// and options from the table where it has them, clap's own headings and
/// built-in options too.
pub fn localize(cmd: clap::Command) -> clap::Command {
    let cmd = exit_codes(cmd.after_help(""));
    if !is_zh() {
        return cmd;
    }
    localize_at(cmd, "")
}

/// The exit statuses, from the table, after the help of the root and of
/// every command that asks for them with an `after_help`.
fn exit_codes(mut cmd: clap::Command) -> clap::Command {
    if cmd.get_after_help().is_some() {
        cmd = cmd.after_help(t!("cli.exit_codes").into_owned());
    }
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(&name, exit_codes);
    }
    cmd
}

fn localize_at(mut cmd: clap::Command, path: &str) -> clap::Command {
    let key = |leaf: &str| {
        if path.is_empty() {
            format!("cli.{leaf}")
        } else {
            format!("cli.{path}.{leaf}")
        }
    };
    if let Some(about) = lookup(&key("about")) {
        cmd = cmd.about(about.into_owned()).long_about(None);
    }
    let is_root = path.is_empty();
    cmd = cmd
        .help_template(format!(
            "{{before-help}}{{about-with-newline}}\n{} {{usage}}\n\n{{all-args}}{{after-help}}",
            t!("clap.usage")
        ))
        .subcommand_help_heading(t!("clap.commands").into_owned())
        .next_help_heading(t!("clap.options").into_owned())
        // clap makes its help and version options and help subcommand
        // itself, in English: ours instead.
        .disable_help_flag(true)
        .disable_help_subcommand(true)
        .arg(
            clap::Arg::new("help")
                .short('h')
                .long("help")
                .action(clap::ArgAction::Help)
                .global(is_root),
        );
    if is_root {
        cmd = cmd.disable_version_flag(true).arg(
            clap::Arg::new("version")
                .short('V')
                .long("version")
                .action(clap::ArgAction::Version),
        );
    }
    let ids: Vec<String> = cmd
        .get_arguments()
        .map(|a| a.get_id().as_str().to_owned())
        .collect();
    for id in ids {
        let help = lookup(&key(&id)).or_else(|| lookup(&format!("arg.{id}")));
        let heading = t!("clap.options").into_owned();
        let positional = t!("clap.arguments").into_owned();
        cmd = cmd.mut_arg(&id, |a| {
            let heading = if a.is_positional() {
                positional
            } else {
                heading
            };
            // clap writes "[env: …] [default: …]" in English: said here instead.
            let mut extra = String::new();
            if let Some(env) = a.get_env().filter(|_| !a.is_hide_env_set()) {
                extra.push_str(&format!(" [环境变量 {}]", env.to_string_lossy()));
            }
            let defaults: Vec<String> = a
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            if !defaults.is_empty() && !a.is_hide_default_value_set() {
                extra.push_str(&format!(" [默认 {}]", defaults.join(",")));
            }
            let text = help
                .map(Cow::into_owned)
                .or_else(|| a.get_help().map(|h| h.to_string()));
            let a = a
                .help_heading(heading)
                .hide_env(true)
                .hide_default_value(true);
            match text {
                Some(h) => a.help(format!("{h}{extra}")).long_help(None),
                None => a,
            }
        });
    }
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in names {
        let sub_path = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}.{name}")
        };
        cmd = cmd.mut_subcommand(&name, |s| localize_at(s, &sub_path));
    }
    cmd
}

/// An error as the user reads it: its chain of causes joined by ": ", in
/// the interface's language. In Chinese the causes that come from outside
/// this crate's table (a node's refusal, the operating system, a key file,
/// JSON) are said from the table too; a cause with nothing to add after
/// them is left out.
pub fn say_error(e: &anyhow::Error) -> String {
    if !is_zh() {
        return format!("{e:#}");
    }
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let (said, last) = say_cause(cause);
        if !said.is_empty() && parts.last() != Some(&said) {
            parts.push(said);
        }
        if last {
            break;
        }
    }
    parts.join("：")
}

/// One cause in Chinese, and whether the causes below it add nothing.
fn say_cause(cause: &(dyn std::error::Error + 'static)) -> (String, bool) {
    use ledger::keyfile::KeyFileError;
    if let Some(n) = cause.downcast_ref::<crate::refusal::NodeError>() {
        return (node_error(n), true);
    }
    if let Some(io) = cause.downcast_ref::<std::io::Error>() {
        return (io_error(io), true);
    }
    if let Some(j) = cause.downcast_ref::<serde_json::Error>() {
        let said = t!("err.json", line = j.line(), column = j.column());
        return (said.into_owned(), true);
    }
    if let Some(k) = cause.downcast_ref::<KeyFileError>() {
        return match (key_file(k), k) {
            (Some(said), _) => (said, true),
            // An I/O error: its path here, the system's words below.
            (None, KeyFileError::Io { path, .. }) => (path.display().to_string(), false),
            (None, _) => (k.to_string(), true),
        };
    }
    if let Some(u) = cause.downcast_ref::<ureq::Error>() {
        let said = match u {
            ureq::Error::Io(io) => io_error(io),
            ureq::Error::Timeout(_) => t!("err.timeout").into_owned(),
            ureq::Error::HostNotFound => t!("err.host_not_found").into_owned(),
            ureq::Error::ConnectionFailed => t!("err.connection_failed").into_owned(),
            ureq::Error::BadUri(_) => t!("err.bad_url").into_owned(),
            ureq::Error::BodyExceedsLimit(limit) => t!("err.too_large", limit = limit).into_owned(),
            other => t!("err.http", message = other.to_string()).into_owned(),
        };
        return (said, true);
    }
    (cause.to_string(), false)
}

/// The operating system's error, by its kind.
fn io_error(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    let key = match e.kind() {
        K::NotFound => "err.io.not_found",
        K::PermissionDenied => "err.io.permission",
        K::AlreadyExists => "err.io.exists",
        K::ConnectionRefused => "err.io.refused",
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
            "err.io.reset"
        }
        K::TimedOut => "err.timeout",
        K::IsADirectory => "err.io.directory",
        K::NotADirectory => "err.io.not_directory",
        K::StorageFull => "err.io.full",
        K::InvalidData => "err.io.invalid_data",
        _ => return t!("err.io.other", message = e.to_string()).into_owned(),
    };
    t!(key).into_owned()
}

/// A node's refusal in Chinese: from its details (the rules' refusals with
/// their numbers, what was not found), else by its code's explanation.
pub fn node_error(e: &NodeError) -> String {
    if !is_zh() {
        return format!("{}: {}", e.code_str(), e.message);
    }
    match &e.detail {
        Some(Detail::NoSeq { seq, size, .. }) => {
            return t!("err.no_seq", seq = seq, size = size).into_owned()
        }
        Some(Detail::NotFound { thing, id }) => {
            if let Some(thing) = lookup(&format!("thing.{thing}")) {
                return t!("err.not_found", thing = thing, id = id).into_owned();
            }
        }
        _ => {}
    }
    let problem = crate::explain::node_refusal(e, |_| None);
    if problem.key != "row.node" {
        return problem.to_string();
    }
    let code = e.code_str();
    t!(
        "err.node",
        meaning = crate::explain::meaning(ZH, &code),
        code = code
    )
    .into_owned()
}

/// clap's own parse error in Chinese (clap writes its errors in English):
/// what was wrong, the usage and where to find help. `None` for what is
/// not an error (help, version) or when the interface speaks English.
pub fn clap_error(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !is_zh() {
        return None;
    }
    let text = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => Some(v.join("、")),
        Some(ContextValue::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let arg = text(ContextKind::InvalidArg).unwrap_or_default();
    let value = text(ContextKind::InvalidValue).unwrap_or_default();
    let mut message = match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        | ErrorKind::DisplayVersion => return None,
        ErrorKind::UnknownArgument => t!("clap.unknown_argument", arg = arg),
        ErrorKind::InvalidSubcommand => t!(
            "clap.unknown_command",
            command = text(ContextKind::InvalidSubcommand).unwrap_or_default()
        ),
        ErrorKind::MissingSubcommand => t!(
            "clap.missing_command",
            command = text(ContextKind::InvalidSubcommand).unwrap_or_default()
        ),
        ErrorKind::MissingRequiredArgument => t!("clap.missing", args = arg),
        ErrorKind::InvalidValue if value.is_empty() => t!("clap.no_value", arg = arg),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            t!("clap.invalid_value", arg = arg, value = value)
        }
        ErrorKind::ArgumentConflict => match text(ContextKind::PriorArg) {
            Some(prior) if prior != arg => t!("clap.conflict", arg = arg, prior = prior),
            _ => t!("clap.repeated", arg = arg),
        },
        ErrorKind::TooManyValues => t!("clap.too_many", arg = arg, value = value),
        ErrorKind::NoEquals => t!("clap.no_equals", arg = arg),
        ErrorKind::InvalidUtf8 => t!("clap.not_utf8"),
        _ => t!("clap.wrong_count", arg = arg),
    }
    .into_owned();
    // The reason a value parser gave, if it said it in Chinese (ours do);
    // a library's English reason is left out.
    if let Some(source) = std::error::Error::source(e).map(|s| s.to_string()) {
        if source
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
        {
            message.push('：');
            message.push_str(&source);
        }
    }
    if let Some(ContextValue::Strings(valid)) = e
        .get(ContextKind::ValidValue)
        .filter(|v| !matches!(v, ContextValue::Strings(v) if v.is_empty()))
    {
        message.push_str(&t!("clap.valid", values = valid.join("、")));
    }
    if let Some(ContextValue::StyledStrs(s)) = e.get(ContextKind::SuggestedArg) {
        let s: Vec<String> = s.iter().map(|s| s.to_string()).collect();
        message.push_str(&t!("clap.did_you_mean", value = s.join("、")));
    } else if let Some(ContextValue::String(s)) = e.get(ContextKind::SuggestedArg) {
        message.push_str(&t!("clap.did_you_mean", value = s));
    }
    if let Some(ContextValue::Strings(s)) = e.get(ContextKind::SuggestedSubcommand) {
        message.push_str(&t!("clap.did_you_mean", value = s.join("、")));
    }
    let mut out = t!("msg.error", message = message).into_owned();
    if let Some(ContextValue::StyledStr(usage)) = e.get(ContextKind::Usage) {
        let usage = usage.to_string();
        let usage = usage.trim().trim_start_matches("Usage:").trim();
        out.push_str(&format!("\n\n{} {usage}", t!("clap.usage")));
    }
    out.push_str(&format!("\n\n{}", t!("clap.try_help")));
    Some(out)
}

/// `code: explanation (message)`, as refusals are printed; in Chinese the
/// explanation alone, with the numbers of the refusals the CLI knows.
pub fn coded(e: &NodeError) -> String {
    if is_zh() {
        return node_error(e);
    }
    format!("{}: {}", e.code_str(), explain(e))
}

/// A refusal of the rules (checked here before signing, or by the node)
/// in the interface's language.
pub fn refusal(e: &NodeError) -> String {
    if is_zh() {
        node_error(e)
    } else {
        e.message.clone()
    }
}

/// What the PII guard found, in the interface's language.
pub fn pii(found: ledger::ident::Pii) -> Cow<'static, str> {
    match found {
        ledger::ident::Pii::ResidentId => t!("pii.resident_id"),
        ledger::ident::Pii::Mobile => t!("pii.mobile"),
    }
}

/// A kind of entry as its reader says it (`kind.*`), or as it is.
pub fn kind(kind: &str) -> String {
    lookup(&format!("kind.{kind}")).map_or_else(|| kind.to_owned(), Cow::into_owned)
}

/// A refusal as its reader should see it: the code's explanation, then the
/// node's (or the import's) own words, amounts in yuan.
pub fn explain(e: &NodeError) -> String {
    explain_in(&rust_i18n::locale(), e)
}

fn explain_in(locale: &str, e: &NodeError) -> String {
    let meaning = lookup_in(locale, &format!("code.{}", e.code_str()));
    let message = in_yuan(locale, e).unwrap_or_else(|| e.message.clone());
    match meaning {
        Some(m) => t!("explain", locale = locale, meaning = m, message = message).into_owned(),
        None => message,
    }
}

/// A fund's balance short, said in yuan.
fn in_yuan(locale: &str, e: &NodeError) -> Option<String> {
    let Some(Detail::InsufficientBalance {
        fund,
        available,
        needed,
        ..
    }) = &e.detail
    else {
        return None;
    };
    Some(
        t!(
            "code.insufficient_balance",
            locale = locale,
            fund = fund,
            available = crate::vocab::yuan(*available),
            needed = crate::vocab::yuan(*needed)
        )
        .into_owned(),
    )
}

/// A key or secret file's fault in the interface's language, with what to
/// do; `None` for an I/O error, said as the system says it.
pub fn key_file(e: &ledger::keyfile::KeyFileError) -> Option<String> {
    use ledger::keyfile::KeyFileError;
    Some(
        match e {
            KeyFileError::Io { .. } => return None,
            KeyFileError::Exposed { path, mode } => t!(
                "keyfile.exposed",
                path = path.display(),
                mode = format!("{mode:o}")
            ),
            KeyFileError::Malformed(path) => t!("keyfile.malformed", path = path.display()),
            KeyFileError::Exists(path) => t!("keyfile.exists", path = path.display()),
            KeyFileError::Empty(path) => t!("keyfile.empty", path = path.display()),
        }
        .into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_amounts_are_explained_in_both_languages() {
        let detail = Detail::InsufficientBalance {
            fund: "MED".into(),
            available: 9_174_900,
            needed: 100_000_000,
            reversing: None,
        };
        let node: NodeError =
            ledger::rules::Refusal::because(ledger::code::Code::RuleViolation, detail).into();
        let node = &node;
        assert_eq!(
            explain_in("en", node),
            "a rule of the ledger forbids it (insufficient balance in fund MED: 91,749.00 yuan available, 1,000,000.00 yuan needed)"
        );
        assert_eq!(
            explain_in(ZH, node),
            "违反账本规则（资金 MED 余额不足：可用 91,749.00 元，需要 1,000,000.00 元）"
        );
        // Every SPEC code has an explanation in both languages.
        for code in ledger::code::Code::ALL.map(|c| c.as_str()) {
            for locale in ["en", ZH] {
                assert!(
                    lookup_in(locale, &format!("code.{code}")).is_some(),
                    "{locale} {code}"
                );
            }
        }
    }
}
