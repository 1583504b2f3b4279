// Texts of the page in Chinese (the default) and English. The choice is
// remembered per browser (localStorage). Static labels carry
// data-i18n="key" (text), data-i18n-placeholder or data-i18n-label
// (aria-label); views call t() as they render.

import { yuanText } from "./money.js";

const zh = {
  title: "救助资金公开账本",
  tagline: "监督问效：每一笔资金的来源与去向都由机构签名、按哈希链记录，您可以在浏览器里亲自核验。家庭只以化名（bnf_…）出现。",
  skip: "跳到正文",
  lang_switch: "English",
  lang_label: "English（切换为英文）",
  search: "搜索",
  search_label: "搜索机构、资金、条目序号或化名",
  search_placeholder: "机构、资金、序号或 bnf_…",
  nav_label: "栏目",
  nav_home: "概览", nav_funds: "资金", nav_alerts: "重复救助", nav_needs: "需求认领", nav_monitoring: "防返贫监测",
  monitoring_title: "防止返贫动态监测：各县（区）监测户", monitoring_note: "预警按每条记录的记账时间（北京时间）逐条判定：回访逾期，或纳入监测60天以上仍未获救助。回访完成或得到救助后，预警即解除。",
  monitoring_alerts_title: "监测预警（最新在前）", col_monitored: "监测户", col_overdue: "回访逾期", col_unassisted: "未获救助",
  col_alert: "预警", col_risks: "风险类型", col_since: "期限/起始", col_open: "仍存在",
  pending_title: "待第二人审批的发放", pending_note: "本机构资金中达到双人审批起点的发放，须由本机构另一把有审批权限的密钥批准后才算支出；在此之前，金额从余额中预留。",
  pending_approval: "待审批", approval_threshold: "双人审批起点", recovered: "资金回笼", recovery_rate: "回笼率",
  nav_assessments: "考核评估", nav_credits: "信用积分", nav_orgs: "机构", nav_trust: "核验与信任", nav_money: "收支明细",
  loading: "正在加载…",
  footer: "本页的合计与列表由节点根据签名的账本条目计算，标有“未核验”；单条记录的“核验”在您的浏览器中验证签名、哈希链与检查点，不依赖本站的说法。",
  unverified: "未核验：以下数字由节点根据账本条目计算，未经您的浏览器或审计方核验。单条记录可打开后点“核验”。",
  node_says: "节点所述，未核验",
  report_to: "问题与举报：{0}",
  proof_title: "核验回执文件", proof_note: "把提交时得到的回执文件（.tlog-proof，C2SP 格式）和它对应的条目（.json）拖到这里，或分别选择：您的浏览器会离线核验，不向节点请求任何数据。",
  proof_drop: "把两个文件拖到此处，或：", proof_file: "回执（.tlog-proof）", proof_entry: "条目（.json）",
  proof_need_both: "需要回执文件和条目文件各一个。", proof_bad_entry: "条目文件无法读取：{0}",
  proof_ok: "✓ 回执核验通过：该条目是账本第 {0} 条，在规模 {1} 的树中。",
  step_format: "回执文件格式正确（C2SP tlog-proof）", tech_format: "SPEC §4.2", fail_format: "这意味着：这不是本账本的回执文件，或文件已损坏。",
  money_title: "收支明细（按签署日期）", money_note: "按入账、划转、发放、回收的签署日期排列；金额以元计。每次最多查看 20,000 条，可能需要翻页才能看到更多结果。",
  filter_from: "起始日期", filter_to: "截止日期", filter_min: "最低金额（元）", filter_max: "最高金额（元）", filter_org: "签发机构", filter_fund: "资金", filter_kind: "类型",
  col_reversed: "已冲正", org_totals: "所管资金合计", col_funds_owned: "管理资金数",
  download_csv: "下载 CSV", download_json: "下载 JSON", scroll_hint: "表格较宽，可左右滑动查看 →",
  col_payments: "各笔发放（机构 · 金额 · 日期）",
  places: "地区", region_bad: "{0} 不是六位行政区划代码", region_unknown: "找不到地区“{0}”", filter_region_hint: "如 南京、鼓楼区",
  audited: "审计核算", audited_by: "由 {0} 根据第 0 至 {1} 条账本条目重新计算，签名已在您的浏览器中核验。",
  audited_failed: "审计核算未通过核验（{0}）：下列审计数字不可信，请报告。",
  audited_disagree: "警告：审计方意见不一！{0} 对同样的第 0 至 {2} 条条目算出了不同的数字（上面是 {1} 的）。请报告。",
  audited_node_differs: "警告：节点对第 0 至 {0} 条条目给出的数字与审计方的不同！请报告。",
  audited_newer: "此后又有 {0} 条新条目：下面的总览包含它们，尚未经审计。",
  field_amount: "金额", field_approval_threshold: "大额审批线", field_beneficiary: "受助家庭（化名）", field_budget: "预算",
  field_category: "类别", field_cause: "原因", field_currency: "币种", field_date: "日期", field_decision: "审核结论",
  field_disbursement: "原发放序号", field_end: "截止", field_findings: "走访情况", field_from: "来源", field_from_fund: "调出资金",
  field_fund: "资金", field_grade: "等级", field_holder: "积分持有者", field_method: "发放方式", field_need: "需求",
  field_next_review_by: "下次回访", field_note: "说明", field_org: "机构", field_points: "积分", field_reason: "原因",
  field_ref: "凭证号", field_region: "地区", field_review_by: "回访期限", field_risks: "返贫风险", field_roles: "角色",
  field_score: "得分", field_source: "资金来源", field_start: "起始", field_subject: "考核对象", field_summary: "说明",
  field_tier: "对象类别", field_title: "名称", field_to_fund: "调入资金", field_version: "规则版本", field_service: "服务地址",
  api: "API 说明", licences: "第三方库及许可",
  received: "到账", transferred: "调拨", disbursed: "发放", balance: "余额",
  orgs: "机构", funds: "资金", disbursements: "发放笔数", beneficiaries: "受助家庭（化名）",
  needs_open: "待认领需求", needs_claimed: "已认领", needs_fulfilled: "已完成",
  checkpoint: "最新检查点", checkpoint_size: "条目数", checkpoint_time: "最后记账时间",
  witnessed_by: "见证方联署", no_policy: "本节点未配置见证方",
  glance: "总览", glance_counts: "机构、资金、家庭与需求数目，检查点", unit_yuan: "元",
  chart_month: "按月发放金额（元）", chart_category: "按资金类别发放（元）", chart_issuer: "按机构类型发放（元）",
  chart_region: "按地区发放（元）", chart_budget: "预算执行：预算、到账与发放（元）", chart_flow: "资金流向",
  region_all: "全部省份", region_up: "返回上一级", region_hint: "点击柱形或下表中的地区查看下一级。",
  show_table: "以表格查看",
  budget: "预算", execution: "执行率",
  col_region: "地区", col_month: "月份", col_category: "类别", col_type: "类型", col_count: "笔数", col_amount: "金额（元）",
  col_fund: "资金", col_title: "名称", col_owner: "管理机构", col_seq: "序号", col_kind: "类型", col_date: "日期",
  col_issuer: "签发机构", col_time: "记账时间", col_cause: "原因", col_beneficiary: "化名",
  col_need: "需求", col_state: "状态", col_publisher: "发布机构", col_claimer: "认领机构", col_summary: "说明", col_reviews: "审核机构",
  col_published: "发布", col_claimed: "认领", col_fulfilled: "完成", col_subject: "考核对象", col_period: "考核期",
  col_score: "得分", col_grade: "等级", col_assessor: "考核机构", col_indicator: "指标", col_target: "目标",
  col_actual: "实际", col_weight: "权重", col_holder: "持有者", col_awarded: "获得", col_redeemed: "兑换",
  col_name: "名称", col_id: "编号", col_registered: "登记序号", col_key: "公钥", col_roles: "角色",
  col_added: "添加序号", col_revoked: "撤销序号", col_counterpart: "对方", col_alerts: "提醒数",
  col_points: "积分",
  overlap_title: "重复救助：同一原因、90天内由不同机构救助", overlap_note: "按原因和区县统计；数字由重复救助提醒算出。",
  alerts_title: "重复救助提醒（最新在前）",
  needs_title: "需求认领（认领、完成后自动下架）", filter_state: "状态", filter_category: "类别", filter_region: "地区",
  filter_apply: "筛选", any: "全部",
  assessments_title: "考核评估结果", credits_title: "信用积分（志愿者只以化名出现）", orgs_title: "参与机构",
  funds_title: "资金", fund_title: "资金详情", org_title: "机构详情", keys_title: "签名公钥",
  flows_title: "资金往来条目", entries_title: "条目", entries_all: "全部签发的条目", bnf_title: "化名的全部救助记录", holder_title: "积分记录",
  search_title: "搜索结果", search_none: "没有找到。", next: "下一页", prev: "上一页", page: "第 {0} 页",
  sort_hint: "点击表头排序",
  entry_title: "条目 #{0}", statement: "签名声明", signature: "签名", leaf_hash: "叶哈希", logged_at: "记账时间",
  issuer_key: "签名公钥", corrected_by: "已被更正（条目 #{0}）", reversed: "已冲销", not_corrected: "未被更正",
  body: "内容", prev_hash: "前一条哈希", nonce: "编号",
  verify: "核验", verifying: "正在核验…", verify_ok: "✓ 核验通过：以上每一步都在您的浏览器中完成。",
  verify_fail: "✗ 核验失败：{0}",
  step_signature: "签名真实：这条记录确实由所署名的机构签发，签发后内容没有改动",
  step_leaf: "显示的内容就是账本里这条记录的原样",
  step_checkpoint: "账本的“封条”（检查点）由本账本的公钥签署",
  step_inclusion: "这条记录就在封条封存的账本之中，没有被删改",
  step_witnesses: "独立的见证方（如审计机关）确认了这个封条", step_skipped: "本节点未配置见证方，此步跳过",
  tech_signature: "Ed25519 签名，SPEC §2", tech_leaf: "叶哈希，SPEC §3", tech_checkpoint: "C2SP 检查点，SPEC §4",
  tech_inclusion: "默克尔包含证明，RFC 9162", tech_witnesses: "见证联署与法定数，SPEC §4.1",
  fail_signature: "这意味着：记录的内容与机构的签名对不上，可能在途中或被节点改动过。请不要相信这条记录，复制本页地址并报告。",
  fail_leaf: "这意味着：节点给出的记录与它自己的哈希对不上，数据有误。请不要相信这条记录，并报告。",
  fail_checkpoint: "这意味着：封条不是本账本的公钥签署的，这个节点可能是假冒的或被篡改。请不要相信本页的任何内容，并报告。",
  fail_inclusion: "这意味着：这条记录不在封条封存的账本中，可能是后来插入或改动的。请不要相信这条记录，并报告。",
  fail_witnesses: "这意味着：见证方没有确认这个封条，账本可能对不同的人显示不同的历史。请稍后再试；若一直如此，请报告。",
  trust_title: "核验与信任", anchor_vkey: "账本公钥（由运营方配置）", fingerprint: "指纹",
  anchor_note: "请把这些指纹与在其他渠道（公告、政府网站）公布的指纹比对。",
  policy_title: "见证策略", witness: "见证方", monitor_title: "本浏览器的监督记录",
  monitor_none: "尚未记录检查点。", monitor_last: "上次核验的检查点：{0} 条，根哈希 {1}",
  monitor_ok: "本次访问的检查点与上次一致地延续（一致性证明已核验）。", monitor_forget: "清除本浏览器的记录",
  anchor_mismatch: "警告：/v1/log 公布的公钥与运营方配置的不一致：{0}",
  banner_fork: "警告：账本历史被改写或分叉！本次看到的检查点不能延续您上次核验过的检查点。",
  banner_rollback: "警告：账本被回滚！本次看到的检查点比您上次核验过的更短。",
  banner_bad: "警告：本次看到的检查点未通过核验：{0}",
  banner_key: "警告：账本的签名公钥变了！本页现在信任的公钥不是您上次核验账本时用的那一个。若运营方没有公开说明换钥，请勿相信本页，并报告。",
  banner_old_key: "上次核验所用的公钥",
  banner_report: "请复制下面的文字，向审计机关或纪检监察机关报告：",
  copy: "复制", copied: "已复制",
  error: "加载失败：{0}",
  yes: "是", no: "否",
};

const en = {
  title: "Aid Funds Public Ledger",
  tagline: "Supervision that asks for results: every yuan's source and use is signed by the organisation and chained by hash, and you can verify it in your own browser. Families appear only as pseudonyms (bnf_…).",
  skip: "Skip to content",
  lang_switch: "中文",
  lang_label: "中文 (switch to Chinese)",
  search: "Search",
  search_label: "Search an organisation, fund, entry number or pseudonym",
  search_placeholder: "Organisation, fund, seq or bnf_…",
  nav_label: "Sections",
  nav_home: "Overview", nav_funds: "Funds", nav_alerts: "Duplicate aid", nav_needs: "Needs board", nav_monitoring: "Monitoring",
  monitoring_title: "Households monitored against falling back into poverty, by county", monitoring_note: "Alerts are decided entry by entry from each entry's time (Beijing time): a review overdue, or more than 60 days under monitoring without aid. A review made or aid given ends the alert.",
  monitoring_alerts_title: "Monitoring alerts (newest first)", col_monitored: "Monitored", col_overdue: "Review overdue", col_unassisted: "Without aid",
  col_alert: "Alert", col_risks: "Risks", col_since: "Due / since", col_open: "Still open",
  pending_title: "Payments waiting for a second approval", pending_note: "A payment from this organisation's funds at or over the fund's threshold counts as paid only once another key of the organisation with the approve role approves it; until then its amount is held back from the balance.",
  pending_approval: "Waiting for approval", approval_threshold: "Second approval from", recovered: "Recovered", recovery_rate: "Recovery rate",
  nav_assessments: "Assessments", nav_credits: "Credit points", nav_orgs: "Organisations", nav_trust: "Verify & trust", nav_money: "Payments",
  loading: "Loading…",
  footer: "Totals and lists on this page are computed by the node from the signed entries and are marked “not verified”; an entry's “Verify” checks its signature, hash chain and checkpoint in your browser, without taking this site's word.",
  unverified: "Not verified: these figures are computed by the node from the ledger's entries; neither your browser nor an auditor has checked them. Open any entry and press “Verify” to check it.",
  node_says: "as the node says; not verified",
  report_to: "To report a problem: {0}",
  proof_title: "Check a receipt file", proof_note: "Drop here the receipt file you got when submitting (.tlog-proof, C2SP) and the entry it is for (.json), or choose them: your browser checks them offline, asking the node for nothing.",
  proof_drop: "Drop both files here, or:", proof_file: "Receipt (.tlog-proof)", proof_entry: "Entry (.json)",
  proof_need_both: "A receipt file and an entry file are both needed.", proof_bad_entry: "The entry file cannot be read: {0}",
  proof_ok: "✓ Receipt verified: the entry is number {0} of the ledger, in the tree of size {1}.",
  step_format: "The receipt file is well formed (C2SP tlog-proof)", tech_format: "SPEC §4.2", fail_format: "What this means: this is not a receipt file of this ledger, or it is damaged.",
  money_title: "Payments and receipts (by signed date)", money_note: "Receipts, transfers, payments and recoveries by the date they were signed for; amounts in CNY. A request looks at up to 20,000 entries: more results may be a page further.",
  filter_from: "From", filter_to: "To", filter_min: "At least (CNY)", filter_max: "At most (CNY)", filter_org: "Signed by", filter_fund: "Fund", filter_kind: "Kind",
  col_reversed: "Reversed", org_totals: "Totals of the funds it manages", col_funds_owned: "Funds managed",
  download_csv: "Download CSV", download_json: "Download JSON", scroll_hint: "Wide table: scroll sideways to see more →",
  col_payments: "The payments (organisation · amount · date)",
  places: "Places", region_bad: "{0} is not a six-digit region code", region_unknown: "No place called “{0}”", filter_region_hint: "e.g. 南京, 鼓楼区",
  audited: "Audited figures", audited_by: "Recomputed by {0} from entries 0 to {1}; their signatures were verified in your browser.",
  audited_failed: "The audited figures failed verification ({0}): do not trust the figures below, and report it.",
  audited_disagree: "Warning: the auditors disagree! {0} computed other figures from the same entries 0 to {2} (those above are {1}'s). Report it.",
  audited_node_differs: "Warning: the node's figures for entries 0 to {0} differ from the auditors'! Report it.",
  audited_newer: "{0} entries came after: the overview below includes them and is not audited yet.",
  field_amount: "Amount", field_approval_threshold: "Approval threshold", field_beneficiary: "Family (pseudonym)", field_budget: "Budget",
  field_category: "Category", field_cause: "Cause", field_currency: "Currency", field_date: "Date", field_decision: "Decision",
  field_disbursement: "Payment seq", field_end: "Ends", field_findings: "Findings", field_from: "From", field_from_fund: "From fund",
  field_fund: "Fund", field_grade: "Grade", field_holder: "Holder", field_method: "Method", field_need: "Need",
  field_next_review_by: "Next review", field_note: "Note", field_org: "Organisation", field_points: "Points", field_reason: "Reason",
  field_ref: "Voucher", field_region: "Region", field_review_by: "Review by", field_risks: "Risks", field_roles: "Roles",
  field_score: "Score", field_source: "Source", field_start: "Starts", field_subject: "Subject", field_summary: "Summary",
  field_tier: "Household tier", field_title: "Title", field_to_fund: "To fund", field_version: "Rules version", field_service: "Service URL",
  api: "API description", licences: "Third-party libraries and licences",
  received: "Received", transferred: "Transferred", disbursed: "Disbursed", balance: "Balance",
  orgs: "Organisations", funds: "Funds", disbursements: "Disbursements", beneficiaries: "Beneficiaries (pseudonyms)",
  needs_open: "Open needs", needs_claimed: "Claimed", needs_fulfilled: "Fulfilled",
  checkpoint: "Latest checkpoint", checkpoint_size: "Entries", checkpoint_time: "Last logged at",
  witnessed_by: "Cosigned by witnesses", no_policy: "This node has no witness policy",
  glance: "At a glance", glance_counts: "Organisations, funds, families and needs; the checkpoint", unit_yuan: "CNY",
  chart_month: "Disbursed by month (CNY)", chart_category: "Disbursed by fund category (CNY)", chart_issuer: "Disbursed by issuer type (CNY)",
  chart_region: "Disbursed by region (CNY)", chart_budget: "Budget execution: budget, received and disbursed (CNY)", chart_flow: "Where the money came from and went",
  region_all: "All provinces", region_up: "Up one level", region_hint: "Select a bar or a region in the table to see the level below.",
  show_table: "Show as a table",
  budget: "Budget", execution: "Execution",
  col_region: "Region", col_month: "Month", col_category: "Category", col_type: "Type", col_count: "Count", col_amount: "Amount (CNY)",
  col_fund: "Fund", col_title: "Title", col_owner: "Managed by", col_seq: "Seq", col_kind: "Kind", col_date: "Date",
  col_issuer: "Issuer", col_time: "Logged at", col_cause: "Cause", col_beneficiary: "Pseudonym",
  col_need: "Need", col_state: "State", col_publisher: "Published by", col_claimer: "Claimed by", col_summary: "Summary", col_reviews: "Reviewed by",
  col_published: "Published", col_claimed: "Claimed", col_fulfilled: "Fulfilled", col_subject: "Subject", col_period: "Period",
  col_score: "Score", col_grade: "Grade", col_assessor: "Assessed by", col_indicator: "Indicator", col_target: "Target",
  col_actual: "Actual", col_weight: "Weight", col_holder: "Holder", col_awarded: "Awarded", col_redeemed: "Redeemed",
  col_name: "Name", col_id: "ID", col_registered: "Registered at", col_key: "Public key", col_roles: "Roles",
  col_added: "Added at", col_revoked: "Revoked at", col_counterpart: "Counterpart", col_alerts: "Alerts",
  col_points: "Points",
  overlap_title: "Duplicate aid: same cause, different organisations, within 90 days", overlap_note: "By cause and county, computed from the duplicate-aid alerts.",
  alerts_title: "Duplicate-aid alerts (newest first)",
  needs_title: "Needs board (taken down once claimed and fulfilled)", filter_state: "State", filter_category: "Category", filter_region: "Place",
  filter_apply: "Filter", any: "Any",
  assessments_title: "Assessment results", credits_title: "Credit points (volunteers appear only as pseudonyms)", orgs_title: "Organisations",
  funds_title: "Funds", fund_title: "Fund", org_title: "Organisation", keys_title: "Signing keys",
  flows_title: "Entries of this fund", entries_title: "Entries", entries_all: "Every entry it issued", bnf_title: "All aid to this pseudonym", holder_title: "Points history",
  search_title: "Search results", search_none: "Nothing found.", next: "Next page", prev: "Previous page", page: "Page {0}",
  sort_hint: "Select a column header to sort",
  entry_title: "Entry #{0}", statement: "Signed statement", signature: "Signature", leaf_hash: "Leaf hash", logged_at: "Logged at",
  issuer_key: "Signing key", corrected_by: "Corrected (entry #{0})", reversed: "Reversed", not_corrected: "Not corrected",
  body: "Content", prev_hash: "Previous hash", nonce: "Nonce",
  verify: "Verify", verifying: "Verifying…", verify_ok: "✓ Verified: every step above ran in your browser.",
  verify_fail: "✗ Verification failed: {0}",
  step_signature: "The signature is genuine: the organisation named signed this record, and nothing changed since",
  step_leaf: "What you see is the ledger's record exactly as kept",
  step_checkpoint: "The ledger's seal (its checkpoint) is signed by this ledger's key",
  step_inclusion: "The record is in the ledger under that seal, not added or altered later",
  step_witnesses: "Independent witnesses (such as an audit office) confirmed the seal", step_skipped: "This node has no witnesses: step skipped",
  tech_signature: "Ed25519 signature, SPEC §2", tech_leaf: "leaf hash, SPEC §3", tech_checkpoint: "C2SP checkpoint, SPEC §4",
  tech_inclusion: "Merkle inclusion proof, RFC 9162", tech_witnesses: "cosignatures and quorum, SPEC §4.1",
  fail_signature: "What this means: the record does not match the organisation's signature; it was changed on its way or by the node. Do not trust this record; copy this page's address and report it.",
  fail_leaf: "What this means: the node's record does not match its own hash; the data is wrong. Do not trust this record, and report it.",
  fail_checkpoint: "What this means: the seal is not signed by this ledger's key; this node may be an impostor or tampered with. Trust nothing on this page, and report it.",
  fail_inclusion: "What this means: the record is not in the sealed ledger; it may have been added or changed later. Do not trust this record, and report it.",
  fail_witnesses: "What this means: the witnesses did not confirm the seal; the ledger may be showing different histories to different people. Try again later; if it stays so, report it.",
  trust_title: "Verify & trust", anchor_vkey: "Ledger key (configured by the operator)", fingerprint: "Fingerprint",
  anchor_note: "Compare these fingerprints with those published elsewhere (notices, government sites).",
  policy_title: "Witness policy", witness: "Witness", monitor_title: "This browser's monitoring record",
  monitor_none: "No checkpoint recorded yet.", monitor_last: "Last verified checkpoint: {0} entries, root {1}",
  monitor_ok: "This visit's checkpoint consistently extends the last one (consistency proof verified).", monitor_forget: "Forget this browser's record",
  anchor_mismatch: "Warning: the key /v1/log publishes differs from the one the operator configured: {0}",
  banner_fork: "Warning: the ledger's history was rewritten or forked! This checkpoint does not extend the one you verified before.",
  banner_rollback: "Warning: the ledger was rolled back! This checkpoint is shorter than the one you verified before.",
  banner_bad: "Warning: this checkpoint failed verification: {0}",
  banner_key: "Warning: the ledger's signing key changed! This page now trusts another key than the one you verified the ledger with before. Unless the operator announced the change, do not trust this page, and report it.",
  banner_old_key: "The key you verified with before",
  banner_report: "Copy the text below and report it to an audit office or a discipline-inspection body:",
  copy: "Copy", copied: "Copied",
  error: "Loading failed: {0}",
  yes: "yes", no: "no",
};

// Words of the ledger's vocabularies (SPEC §6) and province names.
const words = {
  zh: {
    dibao: "低保", tekun: "特困", temporary: "临时救助", medical: "医疗救助", education: "教育救助", housing: "住房救助",
    employment: "就业救助", disaster: "受灾救助", other: "其他", government: "政府部门", union: "工会", charity: "慈善组织",
    illness: "疾病", disability: "残疾", unemployment: "失业", elderly: "养老",
    fiscal: "财政", donation: "捐赠", crowdfunding: "众筹", union_dues: "工会经费",
    assisted: "救助对象", vulnerable: "困难群众", monitored: "监测对象", cash: "现金", in_kind: "实物", service: "服务", voucher: "代金券",
    open: "待认领", claimed: "已认领", fulfilled: "已完成", org: "机构", fund: "资金", region: "地区",
    excellent: "优秀", good: "良好", fair: "合格", poor: "不合格",
    registrar: "登记", admin: "管理", disburse: "发放", credit: "积分", assess: "考核", publish: "发布",
    "org.register": "机构登记", "key.add": "添加公钥", "key.revoke": "撤销公钥", "fund.open": "设立资金", "fund.receive": "资金到账",
    "fund.transfer": "资金调拨", disbursement: "救助发放", "credit.award": "积分奖励", "credit.redeem": "积分兑换",
    "assessment.result": "考核结果", "need.publish": "发布需求", "need.claim": "认领需求", "need.release": "放弃认领",
    "need.fulfil": "完成需求", correction: "更正",
    overdue_review: "回访逾期", unassisted: "未获救助", income: "收入骤减", approved: "已审批",
    pending: "待审核", rejected: "已驳回", review: "审核", monitor: "监测", approve: "审批通过", reject: "驳回",
    "rules.activate": "启用规则版本", "pseudonym.key": "假名服务公钥", "need.review": "需求审核",
    "household.monitor": "纳入监测", "household.visit": "监测回访", "household.close": "解除监测",
    "fund.recover": "资金回笼", "disbursement.approve": "支出审批通过", "disbursement.reject": "支出审批驳回",
  },
  en: {
    dibao: "Minimum living allowance", tekun: "Extreme poverty support", temporary: "Temporary assistance", medical: "Medical aid",
    education: "Education aid", housing: "Housing aid", employment: "Employment aid", disaster: "Disaster relief", other: "Other",
    government: "Government", union: "Trade union", charity: "Charity", illness: "Illness", disability: "Disability",
    unemployment: "Unemployment", elderly: "Old age", fiscal: "Public budget", donation: "Donation", crowdfunding: "Crowdfunding",
    union_dues: "Union dues", assisted: "Assisted household", vulnerable: "Vulnerable household", monitored: "Monitored household",
    cash: "Cash", in_kind: "In kind", service: "Service", voucher: "Voucher", open: "Open", claimed: "Claimed", fulfilled: "Fulfilled",
    org: "Organisation", fund: "Fund", region: "Region", excellent: "Excellent", good: "Good", fair: "Fair", poor: "Poor",
    registrar: "Registrar", admin: "Admin", disburse: "Disburse", credit: "Credit", assess: "Assess", publish: "Publish",
    "org.register": "Organisation registered", "key.add": "Key added", "key.revoke": "Key revoked", "fund.open": "Fund opened",
    "fund.receive": "Funds received", "fund.transfer": "Funds transferred", disbursement: "Disbursement", "credit.award": "Points awarded",
    "credit.redeem": "Points redeemed", "assessment.result": "Assessment result", "need.publish": "Need published",
    "need.claim": "Need claimed", "need.release": "Claim released", "need.fulfil": "Need fulfilled", correction: "Correction",
    overdue_review: "Review overdue", unassisted: "Without aid", income: "Income loss", approved: "Approved",
    pending: "Pending review", rejected: "Rejected", review: "Review", monitor: "Monitor", approve: "Approve", reject: "Reject",
    "rules.activate": "Rules version activated", "pseudonym.key": "Pseudonym service key", "need.review": "Need reviewed",
    "household.monitor": "Household monitored", "household.visit": "Household visited", "household.close": "Monitoring ended",
    "fund.recover": "Money recovered", "disbursement.approve": "Payment approved", "disbursement.reject": "Payment rejected",
  },
};

const provinces = {
  "110000": ["北京市", "Beijing"], "120000": ["天津市", "Tianjin"], "130000": ["河北省", "Hebei"], "140000": ["山西省", "Shanxi"],
  "150000": ["内蒙古自治区", "Inner Mongolia"], "210000": ["辽宁省", "Liaoning"], "220000": ["吉林省", "Jilin"],
  "230000": ["黑龙江省", "Heilongjiang"], "310000": ["上海市", "Shanghai"], "320000": ["江苏省", "Jiangsu"], "330000": ["浙江省", "Zhejiang"],
  "340000": ["安徽省", "Anhui"], "350000": ["福建省", "Fujian"], "360000": ["江西省", "Jiangxi"], "370000": ["山东省", "Shandong"],
  "410000": ["河南省", "Henan"], "420000": ["湖北省", "Hubei"], "430000": ["湖南省", "Hunan"], "440000": ["广东省", "Guangdong"],
  "450000": ["广西壮族自治区", "Guangxi"], "460000": ["海南省", "Hainan"], "500000": ["重庆市", "Chongqing"], "510000": ["四川省", "Sichuan"],
  "520000": ["贵州省", "Guizhou"], "530000": ["云南省", "Yunnan"], "540000": ["西藏自治区", "Tibet"], "610000": ["陕西省", "Shaanxi"],
  "620000": ["甘肃省", "Gansu"], "630000": ["青海省", "Qinghai"], "640000": ["宁夏回族自治区", "Ningxia"], "650000": ["新疆维吾尔自治区", "Xinjiang"],
  "710000": ["台湾省", "Taiwan"], "810000": ["香港特别行政区", "Hong Kong"], "820000": ["澳门特别行政区", "Macao"],
};

const KEY = "aidledger:lang";
let current = localStorage.getItem(KEY) === "en" ? "en" : "zh";

export const lang = () => current;

export function setLang(l) {
  current = l === "en" ? "en" : "zh";
  localStorage.setItem(KEY, current);
}

/** The text `key` in the current language, `{0}`… replaced by `args`. */
export function t(key, ...args) {
  const text = (current === "en" ? en : zh)[key] ?? key;
  return text.replace(/\{(\d)\}/g, (_, i) => String(args[Number(i)]));
}

/** A vocabulary word (kind, category, cause, …) in the current language. */
export const word = (w) => (w == null ? "" : words[current][w] ?? String(w));

/** GB/T 2260 names by code (`GET /v1/regions`), set once at start. */
let places = {};
export const setPlaces = (map) => { places = map || {}; };

/** A region by name: a province (in English, its English name), a city,
 * or a county with its city (or, under a municipality, its province):
 * 南京市鼓楼区 and 福州市鼓楼区 are two places. The bare code when the
 * name is unknown. */
export function regionName(code) {
  code = String(code);
  if (code.endsWith("0000")) {
    const p = provinces[code];
    return (current === "en" ? p?.[1] : places[code] ?? p?.[0]) ?? code;
  }
  const own = places[code];
  if (!own) return code;
  if (code.endsWith("00")) return own;
  const city = places[code.slice(0, 4) + "00"];
  const above = city ?? places[code.slice(0, 2) + "0000"] ?? provinces[code.slice(0, 2) + "0000"]?.[0] ?? "";
  return above + own;
}

/** Codes of the regions whose name contains `text` (or whose full name,
 * city and county together, does), provinces first: what "南京" or
 * "鼓楼区" finds. */
export function findPlaces(text, limit = 50) {
  const q = text.trim();
  if (!q) return [];
  const out = [];
  for (const code of Object.keys(places).sort()) {
    const english = provinces[code]?.[1]?.toLowerCase();
    if (places[code].includes(q) || regionName(code).includes(q) || english === q.toLowerCase()) out.push(code);
    if (out.length >= limit) break;
  }
  const level = (c) => (c.endsWith("0000") ? 0 : c.endsWith("00") ? 1 : 2);
  return out.sort((a, b) => level(a) - level(b) || a.localeCompare(b));
}

/** Applies the language to the static labels under `root`. */
export function applyStatic(root) {
  document.documentElement.lang = current === "en" ? "en" : "zh-CN";
  document.title = `${t("title")} · aidledger`;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
}

/** Keys of both dictionaries, for a check that neither lacks one. */
export const keys = () => ({ zh: Object.keys(zh), en: Object.keys(en) });

/** Money in fen (number, BigInt or digits) as yuan with two decimals, grouped; exact however large. */
export const yuan = (fen) => {
  if (fen == null || fen === "") return "—";
  return current === "en" ? `¥${yuanText(fen, "en-US")}` : `${yuanText(fen, "zh-CN")} 元`;
};

/** Fen as a resident reads a large sum at a glance: in Chinese in 万元 or
 * 亿元 to two decimals (rounded half up, from BigInt digits), in English
 * the exact amount grouped. Shown with the exact amount beside it. */
export const yuanBrief = (fen) => {
  if (fen == null || fen === "" || current === "en") return yuan(fen);
  const n = BigInt(fen);
  const abs = n < 0n ? -n : n;
  const [unit, scale] = abs >= 10n ** 10n ? ["亿元", 10n ** 8n] : abs >= 10n ** 6n ? ["万元", 10n ** 4n] : [null, 1n];
  if (!unit) return yuan(fen);
  const hundredths = (abs + scale / 2n) / scale; // of the unit, rounded
  const whole = (hundredths / 100n).toLocaleString("zh-CN");
  return `${n < 0n ? "-" : ""}${whole}.${String(hundredths % 100n).padStart(2, "0")} ${unit}`;
};

/** A UTC time (RFC 3339, or seconds since 1970) in Beijing time, with
 * the zone named: `2026-01-01 12:10:00 北京时间`. */
export const beijing = (utc, seconds = true) => {
  const ms = typeof utc === "number" ? utc * 1000 : Date.parse(utc);
  if (Number.isNaN(ms)) return String(utc);
  const local = new Date(ms + 8 * 3600 * 1000).toISOString().replace("T", " ").slice(0, seconds ? 19 : 16);
  return `${local} ${current === "en" ? "Beijing time (UTC+8)" : "北京时间"}`;
};

/** A count, grouped. */
export const num = (n) => Number(n).toLocaleString(current === "en" ? "en-US" : "zh-CN");
