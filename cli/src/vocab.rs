//! How coded values and money are said to people: the Chinese labels of
//! the ledger's codes (临时救助 for `temporary`, 因病 for `illness`),
//! read from spreadsheets and options and shown in tables, and fen as
//! yuan. A table of words with no behaviour: everything that reads or
//! says a value looks here, and this looks nowhere else.

/// The Chinese locale of the table (`cli/locales/app.yml`).
pub const ZH: &str = "zh-CN";

/// Spreadsheet labels accepted for coded values: (field, label, code). The
/// codes themselves are accepted too.
pub(crate) const LABELS: &[(&str, &str, &str)] = &[
    ("tier", "救助户", "assisted"),
    ("tier", "脆弱户", "vulnerable"),
    ("tier", "监测户", "monitored"),
    ("cause", "疾病", "illness"),
    ("cause", "因病", "illness"),
    ("cause", "残疾", "disability"),
    ("cause", "因残", "disability"),
    ("cause", "教育", "education"),
    ("cause", "因学", "education"),
    ("cause", "灾害", "disaster"),
    ("cause", "因灾", "disaster"),
    ("cause", "失业", "unemployment"),
    ("cause", "住房", "housing"),
    ("cause", "养老", "elderly"),
    ("cause", "其他", "other"),
    ("method", "现金", "cash"),
    ("method", "实物", "in_kind"),
    ("method", "服务", "service"),
    ("method", "代金券", "voucher"),
    ("category", "最低生活保障", "dibao"),
    ("category", "低保", "dibao"),
    ("category", "特困供养", "tekun"),
    ("category", "特困", "tekun"),
    ("category", "临时救助", "temporary"),
    ("category", "医疗救助", "medical"),
    ("category", "大病救助", "medical"),
    ("category", "教育救助", "education"),
    ("category", "住房救助", "housing"),
    ("category", "就业救助", "employment"),
    ("category", "受灾人员救助", "disaster"),
    ("category", "灾害救助", "disaster"),
    ("category", "其他", "other"),
    ("source", "财政", "fiscal"),
    ("source", "财政资金", "fiscal"),
    ("source", "捐赠", "donation"),
    ("source", "社会捐赠", "donation"),
    ("source", "众筹", "crowdfunding"),
    ("source", "工会经费", "union_dues"),
    ("source", "其他", "other"),
    ("org_type", "政府", "government"),
    ("org_type", "政府部门", "government"),
    ("org_type", "工会", "union"),
    ("org_type", "慈善组织", "charity"),
    ("org_type", "慈善", "charity"),
    ("org_type", "其他", "other"),
    ("decision", "通过", "approve"),
    ("decision", "同意", "approve"),
    ("decision", "驳回", "reject"),
    ("decision", "不同意", "reject"),
    ("risk", "因病", "illness"),
    ("risk", "疾病", "illness"),
    ("risk", "因残", "disability"),
    ("risk", "残疾", "disability"),
    ("risk", "因学", "education"),
    ("risk", "教育", "education"),
    ("risk", "因灾", "disaster"),
    ("risk", "灾害", "disaster"),
    ("risk", "失业", "unemployment"),
    ("risk", "就业", "unemployment"),
    ("risk", "住房", "housing"),
    ("risk", "养老", "elderly"),
    ("risk", "收入骤减", "income"),
    ("risk", "收入", "income"),
    ("risk", "其他", "other"),
    ("recovery_reason", "多发", "overpaid"),
    ("recovery_reason", "超发", "overpaid"),
    ("recovery_reason", "不符合条件", "ineligible"),
    ("recovery_reason", "违规领取", "ineligible"),
    ("recovery_reason", "挪用", "misappropriated"),
    ("recovery_reason", "违规使用", "misappropriated"),
    ("recovery_reason", "结余", "unused"),
    ("recovery_reason", "未使用", "unused"),
    ("recovery_reason", "其他", "other"),
    ("alert", "逾期未回访", "overdue_review"),
    ("alert", "长期未获救助", "unassisted"),
];

/// A coded value as its reader says it: its first label in Chinese, the
/// code itself in English.
pub fn label(field: &str, code: &str) -> String {
    label_in(&rust_i18n::locale(), field, code)
}

/// [`label`] in `locale`.
pub fn label_in(locale: &str, field: &str, code: &str) -> String {
    if locale != ZH {
        return code.to_owned();
    }
    LABELS
        .iter()
        .find(|(f, _, c)| *f == field && *c == code)
        .map_or_else(|| code.to_owned(), |(_, label, _)| (*label).to_owned())
}

/// The accepted values of a coded field: `label(code)`, one per code.
pub fn accepted(field: &str) -> Vec<String> {
    let mut accepted: Vec<String> = Vec::new();
    for (_, label, code) in LABELS.iter().filter(|(f, _, _)| *f == field) {
        if !accepted.iter().any(|a| a.ends_with(&format!("({code})"))) {
            accepted.push(format!("{label}({code})"));
        }
    }
    accepted
}

/// Fen as yuan with thousands separators: `1234567` → `12,345.67`.
pub fn yuan(fen: u64) -> String {
    let whole = (fen / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{grouped}.{:02}", fen % 100)
}
