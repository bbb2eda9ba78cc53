"""Words for each concept, in English, Simplified Chinese and Traditional Chinese.

Why a lexicon rather than a learned vocabulary: the default model is trained on two CPU cores in a
few hours, and free-text encoders did not learn to follow prompts in that budget (see the model
card). Mapping every language's words for "red" onto one shared concept id makes English and
Chinese prompts equally good by construction and leaves the network only the pictures to learn.
Adding a synonym here needs no retraining; adding a concept does (see ``concepts.py``).
"""

from __future__ import annotations

from typing import Final

#: (slot kind, concept name) for each word. Kind "colour" is resolved to the foreground colour or
#: the background colour by the tokenizer from the words around it.
Concept = tuple[str, str]

_EN: dict[str, list[str]] = {
    "colour:red": ["red", "scarlet", "crimson"],
    "colour:orange": ["orange"],
    "colour:yellow": ["yellow"],
    "colour:green": ["green"],
    "colour:cyan": ["cyan", "turquoise", "aqua"],
    "colour:blue": ["blue", "navy"],
    "colour:purple": ["purple", "violet"],
    "colour:pink": ["pink"],
    "colour:brown": ["brown"],
    "colour:black": ["black"],
    "colour:white": ["white"],
    "colour:gray": ["gray", "grey"],
    "shape:circle": ["circle", "circles", "disc", "disk", "dot", "round"],
    "shape:square": ["square", "squares", "box"],
    "shape:triangle": ["triangle", "triangles", "triangular"],
    "shape:star": ["star", "stars"],
    "shape:heart": ["heart", "hearts"],
    "shape:ring": ["ring", "rings", "donut", "doughnut", "annulus"],
    "size:small": ["small", "little", "tiny"],
    "size:large": ["large", "big", "huge"],
    "position:centre": ["centre", "center", "middle", "central", "centered", "centred"],
    "position:left": ["left"],
    "position:right": ["right"],
    "position:top": ["top", "upper"],
    "position:bottom": ["bottom", "lower"],
    "background:": ["background", "backdrop", "backgrounds"],
}

_ZH: dict[str, list[str]] = {
    "colour:red": ["红色", "红", "紅色", "紅"],
    "colour:orange": ["橙色", "橙", "橘色", "橘黄色", "橘黃色"],
    "colour:yellow": ["黄色", "黄", "黃色", "黃"],
    "colour:green": ["绿色", "绿", "綠色", "綠"],
    "colour:cyan": ["青色", "青", "蓝绿色", "藍綠色"],
    "colour:blue": ["蓝色", "蓝", "藍色", "藍"],
    "colour:purple": ["紫色", "紫"],
    "colour:pink": ["粉色", "粉红色", "粉红", "粉紅色", "粉紅", "粉"],
    "colour:brown": ["棕色", "棕", "褐色", "咖啡色"],
    "colour:black": ["黑色", "黑"],
    "colour:white": ["白色", "白"],
    "colour:gray": ["灰色", "灰"],
    "shape:circle": ["圆形", "圆", "圓形", "圓", "圆点", "圓點"],
    "shape:square": ["正方形", "方形", "方块", "方塊"],
    "shape:triangle": ["三角形", "三角"],
    "shape:star": ["星形", "星星", "五角星", "星"],
    "shape:heart": ["心形", "爱心", "愛心", "心"],
    "shape:ring": ["圆环", "圓環", "环形", "環形", "圆圈", "圓圈", "环", "環"],
    "size:small": ["小", "小型"],
    "size:large": ["大", "大型", "巨大"],
    "position:centre": ["中间", "中間", "中央", "中心", "正中", "居中"],
    "position:left": ["左边", "左邊", "左侧", "左側", "左"],
    "position:right": ["右边", "右邊", "右侧", "右側", "右"],
    "position:top": ["上方", "顶部", "頂部", "上部", "顶端", "頂端"],
    "position:bottom": ["下方", "底部", "下部", "底端"],
    "background:": ["背景", "底色"],
}

#: Words that carry no attribute and are skipped silently (anything else unknown is reported).
EN_FILLER: Final[frozenset[str]] = frozenset(
    """a an the on in at of with and is are there its it this that one single some
    side sits sitting placed located positioned shown drawn set against over upon
    plain simple flat solid coloured colored color colour image picture drawing photo
    shape shaped object figure please draw make generate render show create part area
    corner near toward towards to by""".split()
)
ZH_FILLER: Final[frozenset[str]] = frozenset(
    """的 在 上 一个 一個 个 個 一 有 是 和 与 與 位于 位於 处 處 边 邊 画 畫 图 圖 图片 圖片
    张 張 里 裡 裏 面 着 著 颜色 顏色 请 請 生成 绘制 繪製 放 放在 一张 一張 纯 純 色 形状 形狀
    中 部 侧 側 位置 图形 圖形 那 这 這 块 塊 只 着色 着色的""".split()
)


def _index(table: dict[str, list[str]]) -> dict[str, Concept]:
    out: dict[str, Concept] = {}
    for key, words in table.items():
        kind, _, name = key.partition(":")
        for word in words:
            if word in out:
                raise ValueError(f"lexicon word {word!r} is listed twice")
            out[word] = (kind, name)
    return out


EN_WORDS: Final[dict[str, Concept]] = _index(_EN)
ZH_WORDS: Final[dict[str, Concept]] = _index(_ZH)
#: Longest Chinese entry, for greedy longest-match segmentation.
ZH_MAX_LEN: Final[int] = max(len(w) for w in list(ZH_WORDS) + list(ZH_FILLER))
