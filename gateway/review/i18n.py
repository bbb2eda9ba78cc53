"""The review page's UI text in English and Simplified Chinese.

The language comes from the ``assay_lang`` cookie (set by the page's language toggle), else from
the browser's ``Accept-Language`` (q-values honoured), else English. A key missing from a language
falls back to English and then to the key itself, so a page never fails to render over a string.
"""

from __future__ import annotations

LANGS = ("en", "zh")
LANG_COOKIE = "assay_lang"

MESSAGES: dict[str, tuple[str, str]] = {
    # chrome
    "title": ("Assay review", "Assay 内容审核"),
    "queue": ("Queue", "审核队列"),
    "logout": ("Sign out", "退出"),
    "signed_in_as": ("Signed in as", "当前用户"),
    "language": ("中文", "English"),
    "shortcuts": (
        "Keys: a approve · r reject · c claim · e escalate · n next",
        "快捷键：a 通过 · r 拒绝 · c 认领 · e 升级 · n 下一条",
    ),
    # login
    "login_title": ("Sign in with a reviewer key", "使用审核员密钥登录"),
    "api_key": ("API key", "API 密钥"),
    "sign_in": ("Sign in", "登录"),
    "login_failed": ("That key cannot sign in here.", "此密钥无法登录。"),
    # queue
    "filters": ("Filters", "筛选"),
    "state": ("State", "状态"),
    "tenant": ("Tenant", "租户"),
    "category": ("Category", "类别"),
    "policy": ("Policy", "策略"),
    "overdue": ("Overdue", "已超时"),
    "mine": ("Claimed by me", "我认领的"),
    "apply": ("Apply", "应用"),
    "any": ("any", "全部"),
    "priority": ("Priority", "优先级"),
    "item": ("Item", "条目"),
    "created": ("Created", "创建时间"),
    "due": ("Due", "截止时间"),
    "approvals": ("Approvals", "批准数"),
    "claimed_by": ("Claimed by", "认领人"),
    "empty_queue": ("Nothing here.", "暂无内容。"),
    "previous": ("Previous", "上一页"),
    "next_page": ("Next page", "下一页"),
    "of_total": ("of", "共"),
    # states
    "state_open": ("open", "待处理"),
    "state_all": ("all", "全部"),
    "state_pending": ("pending", "待审核"),
    "state_claimed": ("claimed", "已认领"),
    "state_releasing": ("releasing", "发布中"),
    "state_escalated": ("escalated", "已升级"),
    "state_approved": ("approved", "已通过"),
    "state_rejected": ("rejected", "已拒绝"),
    # item
    "review": ("Review", "审核"),
    "generated_image": ("Held image", "待审图片"),
    "input_image": ("Input image", "输入图片"),
    "prompt": ("Prompt", "提示词"),
    "prompt_hidden": (
        "The prompt is not stored (policy: digest only).",
        "提示词未保存（策略：仅保存摘要）。",
    ),
    "why_held": ("Why it was held", "拦截原因"),
    "rule_fired": ("Policy rule", "触发的策略规则"),
    "findings": ("Findings", "检测结果"),
    "check": ("Check", "检测项"),
    "score": ("Score", "分数"),
    "target": ("Target", "对象"),
    "reason": ("Reason", "原因"),
    "boxes": ("Marked regions", "标记区域"),
    "near_duplicates": ("Near-duplicate matches", "近似重复匹配"),
    "source": ("Source", "来源"),
    "distance": ("Distance", "距离"),
    "similarity": ("Similarity", "相似度"),
    "licence": ("Licence", "许可"),
    "source_missing": ("source image not on this machine", "源图片不在本机"),
    "history": ("History", "处理记录"),
    "actor": ("By", "操作人"),
    "action": ("Action", "操作"),
    "when": ("When", "时间"),
    "ledger_record": ("Ledger record", "账本记录"),
    "claim": ("Claim", "认领"),
    "unclaim": ("Give back", "放弃认领"),
    "approve": ("Approve", "通过"),
    "reject": ("Reject", "拒绝"),
    "escalate": ("Escalate", "升级"),
    "comment": ("Comment", "备注"),
    "add_comment": ("Add comment", "添加备注"),
    "reason_code": ("Reason code", "原因代码"),
    "choose": ("choose…", "请选择…"),
    "next_item": ("Next item", "下一条"),
    "four_eyes": ("Four-eyes: two different reviewers must approve", "四眼原则：需两位不同审核员批准"),
    "first_approval_by": ("First approval by", "第一次批准"),
    "claimed_by_you": ("You hold this item until", "您已认领，有效期至"),
    "claimed_by_other": ("Claimed by another reviewer until", "已被其他审核员认领，有效期至"),
    "escalated_admin": ("Escalated: an admin decides.", "已升级：由管理员决定。"),
    "decided": ("Decided", "已决定"),
    "done_claimed": ("You claimed this item.", "已认领。"),
    "done_unclaimed": ("You gave the item back.", "已放弃认领。"),
    "done_approved_first": (
        "First approval recorded; a second reviewer must approve.",
        "已记录第一次批准；需另一位审核员批准。",
    ),
    "done_approved": ("Approved and released.", "已通过并发布。"),
    "done_rejected": ("Rejected.", "已拒绝。"),
    "done_escalated": ("Escalated.", "已升级。"),
    "done_commented": ("Comment added.", "已添加备注。"),
    "no_next": ("No more items to review.", "没有待审核的条目了。"),
    "error": ("Something is wrong", "出错了"),
    "back_to_queue": ("Back to the queue", "返回队列"),
    "model": ("Model", "模型"),
    "mode": ("Mode", "模式"),
    # actions in the history
    "action_queued": ("queued", "进入队列"),
    "action_claimed": ("claimed", "认领"),
    "action_unclaimed": ("gave back", "放弃认领"),
    "action_approved_first": ("first approval", "第一次批准"),
    "action_approved": ("approved", "通过"),
    "action_rejected": ("rejected", "拒绝"),
    "action_escalated": ("escalated", "升级"),
    "action_commented": ("commented", "备注"),
    # reason codes
    "code_no_violation": ("no violation", "未违规"),
    "code_false_positive": ("false positive", "误报"),
    "code_consent_on_file": ("consent on file", "已有授权"),
    "code_licensed": ("licensed", "已获许可"),
    "code_public_interest": ("public interest", "公共利益"),
    "code_real_person": ("real person without consent", "未经同意的真实人物"),
    "code_likeness": ("protected likeness", "受保护的肖像"),
    "code_sexual": ("sexual content", "色情内容"),
    "code_minors": ("minors", "未成年人"),
    "code_violence": ("violence", "暴力"),
    "code_hate": ("hate", "仇恨"),
    "code_copyright": ("copyright", "版权"),
    "code_pii": ("personal data", "个人信息"),
    "code_unsure": ("unsure", "无法确定"),
    "code_legal": ("needs legal", "需法务判断"),
    "code_policy_gap": ("policy gap", "策略未覆盖"),
    "code_other": ("other (say why)", "其他（请说明）"),
    # categories
    # complaints and appeals
    "kind_complaint": ("Complaint", "投诉"),
    "kind_appeal": ("Appeal", "申诉"),
    "kind_generation": ("Held generation", "待审生成"),
    "subject": ("Record complained of", "所涉记录"),
    "case_reason": ("Reason", "理由"),
    "case_text": ("What they wrote", "陈述"),
    "case_contact": ("Contact", "联系方式"),
    "first_deciders": ("First decision by (may not decide)", "原决定人（不得裁决）"),
    "outcome": ("Outcome", "结果"),
    "decide": ("Decide", "裁决"),
    "outcome_complaint_upheld": ("upheld: withdraw the content", "成立：下架内容"),
    "outcome_complaint_rejected": ("rejected: keep the content", "不成立：保留内容"),
    "outcome_appeal_overturned": ("overturned: the first decision was wrong", "改判：原决定有误"),
    "outcome_appeal_upheld": ("upheld: the first decision stands", "维持原决定"),
    "cat_privacy": ("privacy / deepfake", "隐私 / 深度伪造"),
    "cat_unlabelled": ("unlabelled", "未标识"),
    "cat_appeal": ("appeal", "申诉"),
    "cat_sexual": ("sexual", "色情"),
    "cat_minors": ("minors", "未成年人"),
    "cat_violence": ("violence", "暴力"),
    "cat_self_harm": ("self-harm", "自残"),
    "cat_hate": ("hate", "仇恨"),
    "cat_extremism": ("extremism", "极端主义"),
    "cat_illegal": ("illegal", "违法"),
    "cat_real_person": ("real person", "真实人物"),
    "cat_likeness": ("likeness", "肖像"),
    "cat_pii": ("personal data", "个人信息"),
    "cat_copyright": ("copyright", "版权"),
    "cat_political": ("political", "政治"),
    "cat_other": ("other", "其他"),
}


def pick_lang(cookie: str | None, accept_language: str | None) -> str:
    if cookie in LANGS:
        return cookie
    best, best_q = "en", -1.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGS and q > best_q:
            best, best_q = primary, q
    return best


class Translator:
    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGS else "en"
        self._i = LANGS.index(self.lang)

    def __call__(self, key: str) -> str:
        pair = MESSAGES.get(key)
        if pair is None:
            return key
        return pair[self._i] or pair[0]
