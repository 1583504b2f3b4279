//! The CLI's languages: English and Simplified Chinese, from one table
//! (`cli/locales/app.yml`, compiled in by `rust-i18n`). Chinese when
//! `--lang zh` is given or the locale (`LC_ALL`, `LC_MESSAGES`, `LANG`) is
//! `zh_*`; English otherwise. Help text comes from the doc comments in
//! English and from the table's `cli.*` and `arg.*` keys in Chinese; every
//! SPEC error code has one explanation (`code.*`).

use std::borrow::Cow;

use rust_i18n::t;

const ZH: &str = "zh-CN";

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

/// `code: explanation (message)`, as refusals are printed.
pub fn coded(code: &str, message: &str) -> String {
    format!("{code}: {}", explain(code, message))
}

/// A refusal as its reader should see it: the code's explanation, then the
/// node's (or the import's) own words, amounts in yuan.
pub fn explain(code: &str, message: &str) -> String {
    explain_in(&rust_i18n::locale(), code, message)
}

fn explain_in(locale: &str, code: &str, message: &str) -> String {
    let meaning = lookup_in(locale, &format!("code.{code}"));
    let message = in_yuan(locale, message).unwrap_or_else(|| message.to_owned());
    match meaning {
        Some(m) => t!("explain", locale = locale, meaning = m, message = message).into_owned(),
        None => message,
    }
}

/// The rules' "insufficient balance in fund "F": A available, B needed" (fen),
/// said in yuan.
fn in_yuan(locale: &str, message: &str) -> Option<String> {
    let rest = message.strip_prefix("insufficient balance in fund ")?;
    let (fund, rest) = rest.split_once(": ")?;
    let (available, rest) = rest.split_once(" available, ")?;
    let needed = rest.strip_suffix(" needed")?;
    let (available, needed): (u64, u64) = (available.parse().ok()?, needed.parse().ok()?);
    Some(
        t!(
            "code.insufficient_balance",
            locale = locale,
            fund = fund.trim_matches('"'),
            available = crate::import::yuan(available),
            needed = crate::import::yuan(needed)
        )
        .into_owned(),
    )
}

/// A key or secret file's fault in the interface's language, with what to
/// do; `None` for an I/O error, said as the system says it.
pub fn key_file(e: &ledger::keyfile::KeyFileError) -> Option<String> {
    use ledger::keyfile::{KeyFileError, MIN_SECRET};
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
            KeyFileError::Short { path, len } => t!(
                "keyfile.short",
                path = path.display(),
                len = len,
                min = MIN_SECRET
            ),
        }
        .into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_amounts_are_explained_in_both_languages() {
        let node = "insufficient balance in fund \"MED\": 9174900 available, 100000000 needed";
        assert_eq!(
            explain_in("en", "rule_violation", node),
            "a rule of the ledger forbids it (insufficient balance in fund MED: 91,749.00 yuan available, 1,000,000.00 yuan needed)"
        );
        assert_eq!(
            explain_in(ZH, "rule_violation", node),
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
