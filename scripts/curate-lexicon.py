#!/usr/bin/env python3
"""Curate Warden's starter keyword lexicon from the houbb/sensitive-word raw list.

Deterministic, Python 3 standard library only. Reads the raw list (Apache-2.0, GitHub
houbb/sensitive-word, src/main/resources/ at commit bac9a301ed0ada86ad2469c0a18f2594eeba15ec)
and the hand-written entries in crates/guard/lexicons/warden-entries.tsv, and writes

    crates/guard/lexicons/starter.tsv   term<TAB>tier<TAB>risks<TAB>origin
    crates/guard/lexicons/allow.txt     benign words inside which a term does not count

Usage:
    scripts/curate-lexicon.py [--raw DIR]          write the two files
    scripts/curate-lexicon.py --counts [--raw DIR] also print the counts tables (markdown)
    scripts/curate-lexicon.py --check [--raw DIR]  also print hit rates on the ACTIVATION half
                                                   of the benign eval text (even ids only)

The raw directory defaults to $WARDEN_HOUBB_DIR, then shared/data/lexicons/houbb-sensitive-word
under the repository root, then ../shared/data/lexicons/houbb-sensitive-word next to it.

Matching in --check mirrors crates/guard/src/fold.rs (width folding, lower case, Cyrillic/Greek
look-alikes, traditional->simplified from crates/guard/data/t2s.txt, invisible characters dropped,
separators dropped) so that deduplication and the sanity numbers agree with the Rust side.
"""

import collections
import csv
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LEX = ROOT / "crates" / "guard" / "lexicons"
T2S = ROOT / "crates" / "guard" / "data" / "t2s.txt"
WARDEN_ENTRIES = LEX / "warden-entries.tsv"
RAW_SUBDIR = Path("data") / "lexicons" / "houbb-sensitive-word"


# --------------------------------------------------------------------------------------------
# Folding: a mirror of crates/guard/src/fold.rs
# --------------------------------------------------------------------------------------------

def _load_t2s():
    table = {}
    for line in T2S.read_text(encoding="utf-8").splitlines():
        if len(line) >= 3:
            table[line[0]] = line[2]
    return table


_T2S = _load_t2s()
_HOMOGLYPH = {}
for _latin, _looks in {
    "a": "аα", "b": "вβ", "c": "сϲ", "d": "ԁ", "e": "еεё", "g": "ɡ", "h": "һн", "i": "іιı",
    "j": "ј", "k": "кκ", "m": "м", "n": "пη", "o": "оοσ", "p": "рρ", "q": "ԛ", "s": "ѕ",
    "t": "тτ", "u": "υμ", "v": "ν", "w": "ԝω", "x": "хχ", "y": "уγ",
}.items():
    for _c in _looks:
        _HOMOGLYPH[_c] = _latin

_INVISIBLE_RANGES = [
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xE0000, 0xE007F),
]
_SEPARATOR_RANGES = [
    (0x00A1, 0x00BF), (0x00D7, 0x00D7), (0x00F7, 0x00F7), (0x2010, 0x205E), (0x2190, 0x2BFF),
    (0x2E00, 0x2E7F), (0x3001, 0x3003), (0x3008, 0x3020), (0x30FB, 0x30FB), (0xFE10, 0xFE1F),
    (0xFE30, 0xFE6F), (0xFF5F, 0xFF65), (0xFFE0, 0xFFEE), (0x1F000, 0x1FAFF),
]
# Rust's char::is_whitespace (Unicode White_Space).
_WHITESPACE = set(
    "\u0009\u000a\u000b\u000c\u000d\u0020\u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004"
    "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _in(ranges, o):
    return any(a <= o <= b for a, b in ranges)


def fold_char(c):
    """None for an invisible or separator character, else the folded character."""
    o = ord(c)
    if _in(_INVISIBLE_RANGES, o):
        return None
    if 0xFF01 <= o <= 0xFF5E:
        c = chr(o - 0xFEE0)
    elif o == 0x3000:
        c = " "
    o = ord(c)
    if (c in _WHITESPACE or (o < 128 and not c.isalnum() and 33 <= o <= 126)
            or o < 0x20 or 0x7F <= o <= 0x9F or _in(_SEPARATOR_RANGES, o)):
        return None
    if o < 128:
        c = c.lower()
    else:
        low = c.lower()
        if len(low) == 1:
            c = low
    c = _HOMOGLYPH.get(c, c)
    if ord(c) >= 0x3400:
        c = _T2S.get(c, c)
    return c


_FOLD_CACHE = {}


def fold(text):
    out = []
    for c in text:
        f = _FOLD_CACHE.get(c, 0)
        if f == 0:
            f = _FOLD_CACHE[c] = fold_char(c)
        if f is not None:
            out.append(f)
    return "".join(out)


def is_latin(folded):
    return bool(folded) and all(c.isascii() and c.isalnum() for c in folded)


# --------------------------------------------------------------------------------------------
# Content rules: keyword families -> risks. A raw entry's tags say which families may apply.
# --------------------------------------------------------------------------------------------

# Family name -> (risks, keywords). Keywords are matched on the folded term.
FAMILIES = {
    # A.1.4 terrorism / extremism
    "terror": ("A.1.4", [
        "恐怖袭击", "恐怖分子", "恐怖组织", "恐怖主义", "恐怖活动", "极端主义", "极端组织", "圣战",
        "人体炸弹", "人肉炸弹", "自杀式", "基地组织", "伊斯兰国", "isis", "暴恐", "爆恐", "劫机",
        "斩首", "塔利班", "拉登", "炸学校", "炸医院", "炸政府", "炸车站", "炸地铁", "爆炸袭击",
        "东突", "东伊运", "伊扎布特", "哈里发", "吉哈德", "圣战士",
    ]),
    # A.1.3 secession, national unity, social stability
    "secession": ("A.1.3", [
        "台独", "藏独", "疆独", "港独", "蒙独", "东突", "台湾独立", "西藏独立", "新疆独立",
        "香港独立", "内蒙独立", "蒙古独立", "台湾国", "分裂国家", "分裂祖国", "达赖", "雪山狮子",
        "自由西藏", "民族自决", "独立建国", "藏青会", "世维会", "热比娅", "东土耳其斯坦", "西藏流亡",
        "流亡政府", "台湾共和国", "公投", "暴乱", "骚乱", "动乱", "游行", "示威", "罢工", "罢课",
        "罢教", "罢市", "上访", "访民", "维权", "群体事件", "群体性事件", "集会", "请愿",
        "打砸抢", "围攻", "冲击政府", "静坐",
    ]),
    # A.1.1 subversion of state power / the socialist system
    "subversion": ("A.1.1", [
        "推翻", "颠覆", "打倒", "下台", "革命", "起义", "政变", "民运", "民主运动", "64", "六四",
        "学潮", "89", "天安门", "专制", "独裁", "1党", "党专政", "结束共产党", "亡党", "灭共",
        "反共", "倒共", "共匪", "共狗", "共贼", "共奴", "共铲", "邪党", "恶党", "退党", "脱党",
        "党退", "3退", "9评", "宪章", "茉莉花", "颜色革命", "组党", "多党", "党禁", "暴政",
        "解体", "崩溃", "垮台", "灭亡", "血债", "屠杀", "镇压", "人权", "自由亚洲", "美国之音",
        "大纪元", "新唐人", "希望之声", "看中国", "博讯", "多维", "阿波罗网", "中国之春",
        "民阵", "民联", "民主党", "新党", "自民党", "共产王朝", "中共", "共产党", "共党", "党魁",
    ]),
    # A.1.5 ethnic hatred
    "ethnic": ("A.1.5", [
        "民族仇恨", "灭族", "种族灭绝", "种族清洗", "排华", "屠华", "杀汉", "杀回", "灭回", "灭藏",
        "灭维", "杀维", "维族人", "维吾尔", "回民", "回族", "藏人", "藏族", "汉人", "汉族",
        "满清", "蒙元", "鞑子", "支那", "支那人", "少数民族", "民族矛盾", "民族冲突", "民族问题",
    ]),
    # A.1.7 false and harmful information, rumours
    "rumour": ("A.1.7", [
        "谣言", "传言", "内幕", "真相", "曝光", "暴光", "爆料", "揭秘", "秘闻", "惊天", "预言",
        "末日", "大谎言", "谎言", "假新闻", "地震", "秘密", "黑幕", "丑闻", "绯闻", "隐情",
        "不为人知", "鲜为人知", "被封杀", "封杀", "禁书", "禁播", "不敢报道", "被删",
    ]),
    # A.1.8: cults (邪教)
    "cult": ("A.1.8", [
        "法轮", "法伦", "法仑", "法抡", "法论", "发伦", "发轮", "发论", "发抡", "法lun", "falun",
        "flg", "李洪志", "李弘志", "全能神", "东方闪电", "门徒会", "呼喊派", "邪教", "真善忍",
        "转法", "大法", "明慧", "神韵", "九评", "9评", "乏伦", "乏仑", "伐伦", "伐仑", "伦功",
        "仑功", "法功", "功友", "大法弟子", "统一教", "观音法门", "主神教", "灵仙真佛宗", "血水圣灵",
        "中功", "华藏宗门",
    ]),
    # A.1.4 + A.1.8: bomb-making manuals (the "Anarchist Cookbook")
    "cookbook": ("A.1.4,A.1.8", [
        "无政府主义者食谱", "无政府主义食谱", "无政府主义者烹饪", "无政府主义者手册", "无政府食谱",
        "无政府主义者的烹饪",
    ]),
    # A.1.8: weapons
    "weapon": ("A.1.8", [
        "刀", "开山刀", "兰博刀", "博伊刀", "求生刀", "手铐", "掌心雷", "气动狗", "汽动狗", "手拉狗",
        "狗粮", "pcp", "awp", "燃烧弹", "雷汞", "起爆",
        "枪", "木仓", "qiang", "狗子弹", "手狗", "气狗", "汽狗", "步狗", "猎狗", "短狗", "长狗",
        "钢珠狗", "左轮狗", "军狗", "狗配件", "弩", "军刺", "军刀", "刀具", "匕首", "子弹", "弹药",
        "铅弹", "霰弹", "手雷", "手榴弹", "炸药", "雷管", "火药", "导火索", "tnt", "炸弹", "地雷",
        "燃烧瓶", "爆炸物", "54式", "64式", "77式", "92式", "95式", "56式", "仿真", "猎枪",
        "钢珠", "秃鹰", "消音器", "瞄准镜", "麻醉", "电击器", "电击棒", "电棍", "警棍", "甩棍",
        "催泪", "防身", "砍刀", "弹夹", "弹头", "枪管", "射钉", "核弹", "氢弹", "脏弹", "原子弹",
        "军火", "军品", "ak47", "ak", "m16", "ppk", "马枪", "连发", "单发", "弓箭", "弹弓",
        "尼泊尔", "卡巴", "跳刀", "三棱", "3棱", "爆破", "炸",
    ]),
    # A.1.8: explosives (also weapons; used for the synthesis rule)
    "explosive": ("A.1.8", [
        "炸药", "雷管", "火药", "导火索", "tnt", "炸弹", "地雷", "燃烧瓶", "爆炸物", "黑索今",
        "硝酸铵", "硝化甘油", "c4", "铵梯", "爆炸装置", "土炸", "rdx", "太安", "苦味酸",
    ]),
    # A.1.8: drugs
    "drug": ("A.1.8", [
        "毒品", "冰毒", "海洛因", "海luo因", "大麻", "可卡因", "古柯", "摇头丸", "k粉", "氯胺酮",
        "麻古", "甲基苯丙胺", "苯丙胺", "安非他", "麻黄", "鸦片", "吗啡", "杜冷丁", "芬太尼",
        "lsd", "迷幻", "罂粟", "白粉", "牙签", "神仙水", "happy水", "开心水", "卡西酮", "羟亚胺",
        "麻果", "止咳水", "笑气", "迷药", "迷魂", "蒙汗", "听话", "催情", "春药", "迷情", "乖乖水",
        "3唑仑", "三唑仑", "ghb", "γ羟基丁酸", "冰古", "植物冰", "钻石冰", "白冰", "黄冰", "晶冰",
        "纯冰", "4号", "麦角", "毒", "嗑药", "磕药", "溜冰", "昏迷药", "迷昏", "拍肩", "失意",
        "喵喵", "浴盐", "邮票", "tiv", "k仔", "丸仔", "冰妹", "溜k", "吸食", "注射", "贩",
        "安眠酮", "甲卡", "胡椒基甲酮", "黄麻素", "麻素", "媚药", "性药", "昏药", "疯药", "马药",
        "氟硝", "西泮", "美沙酮", "氯氨酮", "冰砖", "奶油冰", "水果冰", "化学冰", "朝鲜冰", "冰钻",
        "high粉", "king粉", "迷奸", "迷晕", "迷香", "失忆", "强暴药", "昏迷粉", "乖乖药", "曲马多",
        "可待因", "替马西泮", "海乐神", "麻姑", "缅古", "缅果", "摇头糖", "苍蝇粉", "苍蝇水",
        "红娘粉", "催眠", "赌博药", "赌博粉", "氰化", "砒霜", "铊", "毒鼠强",
    ]),
    # A.1.8: gambling
    "gambling": ("A.1.8", [
        "赌", "博彩", "娱乐城", "娱乐场", "百家乐", "下注", "投注", "6合彩", "六合彩", "老虎机",
        "时时彩", "21点", "轮盘", "庄家", "坐庄", "赔率", "码报", "特码", "1肖", "彩金", "返水",
        "真人视讯", "菠菜", "博园", "赌球", "赌场", "足彩", "彩票", "牌9", "牌九", "骰宝", "德州扑克",
        "斗地主", "炸金花", "金花", "捕鱼机", "游戏机", "私彩", "外围", "盘口", "亚博", "博狗",
        "bet", "365", "威尼斯人", "澳门", "葡京", "金沙", "皇冠", "伟德", "立博", "利来", "博娱",
        "真钱", "真人娱乐", "现金娱乐", "线上娱乐", "在线娱乐", "网上娱乐", "娱乐平台", "赢钱",
        "提款", "荷官", "龙虎斗", "棋牌", "钱庄",
    ]),
    # A.1.6: pornography / obscenity
    "porn": ("A.1.6", [
        "色情", "成人", "淫", "裸", "性交", "做爱", "作爱", "乱伦", "强奸", "轮奸", "奸", "口交",
        "肛交", "乳交", "阴道", "阴茎", "阴户", "阴唇", "阴蒂", "阴毛", "阴部", "龟头", "鸡巴",
        "屄", "逼", "穴", "乳", "奶", "射精", "自慰", "手淫", "援交", "援助交际", "小姐", "嫖",
        "妓", "卖春", "买春", "性服务", "包夜", "1夜", "a片", "av", "黄片", "黄色", "3级", "色站",
        "激情", "情色", "调教", "少妇", "熟女", "人妻", "丝袜", "巨乳", "口爆", "性爱", "性奴",
        "做鸡", "鸡婆", "兽交", "群交", "乱交", "换妻", "3p", "艳照", "种子", "h漫", "h图",
        "无码", "有码", "写真", "露点", "走光", "诱惑", "春宫", "床戏", "裸聊", "果聊", "文聊",
        "色", "性", "骚", "浪", "欲", "插", "操", "干", "日", "舔", "吹箫", "内射", "高潮",
        "处女", "破处", "开苞", "开包", "幼女", "萝莉", "偷拍", "偷窥", "自拍", "贴图", "导航",
        "电影", "影院", "视频", "成仁", "美女", "meinv", "mm", "小电影", "爽", "嫩", "屁股", "胸",
        "玉女", "风月", "伴游", "陪聊", "陪睡", "包养", "二奶", "2奶", "小三", "按摩", "推油",
        "桑拿", "会所", "大保健", "全套", "半套", "上门", "兼职", "找小姐", "鸭", "同城", "约炮",
        "炮", "一夜情", "援", "女优", "番号", "快播", "成人电视棒", "电视棒",
        "肉棒", "肉棍", "草榴", "阳具", "鸡鸡", "吸吮", "潮吹", "无修正", "黄站", "艳", "荡",
    ]),
    # A.1.6 + A.4.1: violence against persons, hired violence
    "violence": ("A.1.6,A.4.1", [
        "杀人", "砍人", "砍死", "杀死", "杀了", "弄死", "替人报仇", "帮人报仇", "替人复仇", "报仇",
        "复仇", "报复", "打手", "杀手", "雇凶", "买凶", "绑架", "虐待", "虐杀", "血腥", "碎尸",
        "分尸", "肢解", "抛尸", "群砍", "打架", "讨债", "收债", "追债", "替人出气", "恩怨",
        "毁容", "泼硫酸", "硫酸", "灭门", "屠", "凶杀", "杀", "暴力", "殴打", "斗殴", "黑社会",
        "古惑仔", "私家侦探",
    ]),
    # A.4.1: self-harm, endangering health
    "selfharm": ("A.4.1", [
        "自杀", "割腕", "安乐死", "跳楼", "烧炭", "上吊", "自残", "轻生", "服毒",
    ]),
    # A.3.5 + A.1.8: fake documents, counterfeit money, invoices, exam fraud, financial crime
    "fraud": ("A.3.5,A.1.8", [
        "假证", "办证", "假文凭", "文凭", "学历", "毕业证", "学位证", "身份证", "驾照", "驾驶证",
        "行驶证", "户口本", "户口", "结婚证", "离婚证", "护照", "签证", "资格证", "证书", "公章",
        "印章", "刻章", "发票", "代开", "税票", "假币", "假钞", "伪钞", "伪币", "高仿币", "硬币",
        "纸币", "套现", "洗钱", "信用卡", "银行卡", "传销", "非法集资", "资金盘", "刷单", "刷信誉",
        "刷钻", "刷钱", "删帖", "删贴", "删除", "负面", "水军", "代考", "替考", "助考", "保过",
        "枪手", "答案", "考题", "试题", "试卷", "作弊", "考试", "四六级", "46级", "4级", "6级",
        "军官证", "警官证", "士兵证", "记者证", "警服", "警徽", "警察", "军装", "制服", "警用",
        "车牌", "军牌", "套牌", "假牌", "牌照", "假烟", "假酒", "假药", "骗", "诈", "中奖",
        "黑客", "骇客", "盗号", "木马", "钓鱼", "代办", "办理", "文凭", "学历证", "职称", "串号",
        "无抵押", "贷款", "高利贷", "网贷", "赚钱", "致富", "秒赚", "日赚", "兼职刷", "代写",
        "论文", "医托", "庞氏", "股票", "股市", "内幕消息", "彩票预测", "预测", "q币", "魔币",
        "点卡", "账号", "帐号", "买号", "卖号", "盗", "窃", "人皮面具", "仿真面具", "易容面具",
        "面单", "警衔", "国安证", "假钱", "假人民币", "仿钞", "网银", "买官", "卖官",
    ]),
    # A.3.1: intellectual property (piracy, cracks, counterfeit brands, game cheats)
    "ip": ("A.3.1", [
        "盗版", "破解", "注册机", "私服", "外挂", "高仿", "仿牌", "a货", "山寨", "复刻", "原单",
        "尾单", "精仿", "1比1", "超a", "假名牌", "翻版", "d版", "绿色版", "免费版",
    ]),
    # A.4.5: privacy (surveillance tools, data trading, doxxing)
    "privacy": ("A.4.5", [
        "窃听", "监听", "卧底", "间谍软件", "间谍", "定位", "偷看", "短信拦截", "拦截", "监控",
        "监视", "针孔", "偷拍", "摄像", "开房记录", "开房", "个人信息", "身份证号", "户籍",
        "查询", "通话记录", "通话清单", "短信记录", "数据", "资料", "名录", "名单", "客户",
        "人肉", "隐私", "跟踪", "追踪", "偷听", "手机号", "号码", "住址", "信息", "flexispy",
        "任意显", "改号", "伪基站", "群发", "屏蔽", "干扰器", "开锁", "万能钥匙", "解码器",
        "透视", "扫描", "侦探", "调查",
    ]),
    # A.3.3: trade secrets (business/customer data)
    "secret": ("A.3.3", [
        "商业秘密", "客户资料", "客户数据", "客户名单", "企业名录", "企业数据", "公司数据",
        "股民", "业主数据", "业主资料", "车主数据", "车主资料", "会员数据", "会员资料", "名录",
        "内部资料", "商业机密",
    ]),
    # A.1.8 + A.4.1: organ trade, trafficking, surrogacy
    "organ": ("A.1.8,A.4.1", [
        "肾", "肝源", "卖肝", "卖血", "器官", "角膜", "收养", "卖娃", "卖婴", "婴儿", "拐卖",
        "人贩", "代孕", "借种", "卖卵", "卵子", "精子", "卖精", "卖身", "偷渡",
    ]),
    # A.4.3: insults and profanity aimed at persons (reputation)
    "insult": ("A.4.3", [
        "操你", "草你", "日你", "干你", "你妈", "他妈", "她妈", "尼玛", "傻逼", "傻b", "傻x",
        "傻屄", "煞笔", "沙比", "傻比", "傻叉", "sb", "你大爷", "他祖宗", "祖宗", "狗屁", "王八蛋",
        "王8", "贱人", "婊子", "表子", "biao子", "婊", "fuck", "shit", "屎", "狗日", "狗娘",
        "混蛋", "杂种", "畜生", "人渣", "去死", "滚", "垃圾", "废物", "蠢", "白痴", "脑残",
        "猪头", "死全家", "全家死", "妈逼", "妈b", "妈的", "丫的", "仆街", "册那", "卧槽", "我操",
        "靠", "犊子",
    ]),
    # A.4.2: portrait rights (face swap, deep-nude)
    "portrait": ("A.4.2", [
        "换脸", "脱衣软件", "去衣", "一键脱衣", "1键脱衣", "明星合成", "合成照", "p图", "艳照门",
    ]),
}

# Which families each raw tag allows. Untagged entries may use every family.
TAG_FAMILIES = {
    "0": ["terror", "secession", "subversion", "ethnic", "rumour", "cult", "insult", "cookbook"],
    "1": ["drug", "explosive", "weapon", "selfharm", "violence", "porn"],
    "2": ["porn", "privacy", "portrait", "insult", "organ", "cookbook", "drug"],
    "3": ["gambling", "fraud"],
    "4": ["terror", "weapon", "explosive", "drug", "violence", "selfharm", "fraud", "ip",
          "privacy", "secret", "organ", "portrait", "insult", "porn", "gambling", "cult",
          "cookbook"],
}
# The risk a tag falls back to when no family keyword of that tag matches.
TAG_DEFAULT = {"0": "A.1.2", "1": "A.1.8", "2": "A.1.6", "3": "A.1.8", "4": "A.1.8"}
# Families whose keywords are too generic to map an UNTAGGED entry on their own.
WEAK_FOR_UNTAGGED = {"rumour"}
# Keywords too generic to map an untagged entry (they are fine inside a tagged entry).
WEAK_KEYWORDS = {
    "枪", "狗", "炸", "毒", "赌", "淫", "裸", "奸", "屄", "逼", "穴", "乳", "奶", "色", "性",
    "骚", "浪", "欲", "插", "操", "干", "日", "舔", "爽", "嫩", "胸", "炮", "鸭", "援", "屠",
    "杀", "贩", "盗", "窃", "骗", "诈", "肾", "婊", "滚", "屎", "蠢", "靠", "仿真", "电影",
    "视频", "导航", "美女", "mm", "影院", "自拍", "贴图", "同城", "上门", "兼职", "按摩",
    "会所", "桑拿", "高潮", "种子", "写真", "诱惑", "激情", "黄色", "成人", "数据", "资料",
    "名单", "客户", "信息", "号码", "手机号", "查询", "定位", "监控", "摄像", "扫描", "调查",
    "开锁", "屏蔽", "拦截", "删除", "负面", "考试", "试题", "试卷", "答案", "预测", "股票",
    "股市", "贷款", "刀", "艳", "荡", "吸吮", "催眠", "失忆", "棋牌", "赢钱", "提款", "狗粮",
    "铊", "氰化", "赚钱", "致富", "中奖", "账号", "帐号", "论文", "代写", "办理", "代办",
    "户口", "护照", "签证", "证书", "硬币", "纸币", "警察", "制服", "车牌", "牌照", "澳门",
    "金沙", "皇冠", "bet", "365", "游戏机", "斗地主", "金花", "彩票", "足彩", "外围", "盘口",
    "麻醉", "防身", "弓箭", "弹弓", "连发", "单发", "ak", "卡巴", "尼泊尔", "跟踪", "追踪",
    "隐私", "垃圾", "废物", "祖宗", "革命", "下台", "人权", "镇压", "崩溃", "解体", "灭亡",
    "民主党", "新党", "多维", "看中国", "64", "89", "中共", "共产党", "天安门", "游行", "示威",
    "集会", "静坐", "维权", "围攻", "汉人", "汉族", "回族", "藏族", "藏人", "少数民族",
    "婴儿", "精子", "卵子", "器官", "角膜", "收养", "注射", "吸食", "4号", "邮票", "听话",
    "失意", "喵喵", "拍肩", "溜冰", "白粉", "牙签", "暴力", "杀了", "报仇", "复仇", "报复",
    "恩怨", "硫酸", "打架", "侦探", "私家侦探", "黑社会", "白痴", "脑残", "猪头", "混蛋",
    "畜生", "人渣", "去死", "妈的", "丫的", "卧槽", "犊子", "sb", "大法", "转法", "神韵",
    "明慧", "中功", "法功", "功友", "1夜", "偷看", "偷听", "间谍", "卧底", "黑客", "骇客",
    "木马", "钓鱼", "p图", "合成照", "复刻", "原单", "尾单", "绿色版", "免费版", "山寨", "翻版",
    "1比1", "超a", "内幕", "真相", "秘密", "曝光", "末日", "预言", "地震", "谎言", "3级",
    "av", "h图", "炸弹", "小姐", "包养", "小三", "二奶", "伴游", "陪聊", "全套", "半套",
    "推油", "风月", "玉女", "屁股", "处女", "偷拍", "偷窥", "开房", "住址", "q币", "点卡",
    "买号", "卖号", "刷钱", "作弊", "伪币", "学历", "文凭", "驾照", "身份证", "公投",
    "传言", "揭秘", "爆料", "惊天", "秘闻", "丑闻", "绯闻", "隐情", "封杀", "禁书",
    "劫机", "斩首", "拉登", "骚乱", "动乱", "暴乱", "罢工", "罢课", "罢市", "上访", "访民",
    "请愿", "独裁", "专制", "学潮", "推翻", "颠覆", "打倒", "起义", "政变", "屠杀", "血债",
    "维吾尔", "回民", "满清", "蒙元", "反共", "人肉", "自残", "轻生", "跳楼", "上吊", "安乐死",
    "杀人", "杀死", "弄死", "砍死", "凶杀", "虐待", "绑架", "殴打", "斗殴", "古惑仔",
}

# Two-character raw entries are dropped (too many are common words) unless listed here; these
# are kept, always as `flag`.
KEEP_TWO_CHAR = {
    # drugs
    "冰毒", "毒品", "鸦片", "大麻", "嗑药", "磕药", "春药", "迷药", "媚药", "k粉", "白冰", "麻古",
    # porn / obscenity
    "卖淫", "嫖娼", "强奸", "轮奸", "乱伦", "口交", "肛交", "兽交", "乳交", "淫秽", "淫乱",
    "淫荡", "裸聊", "援交", "妓女", "做爱", "无码", "a片", "黄片", "乱交", "性奴", "兽奸",
    "奸淫", "内射", "淫妇", "淫穴", "操逼", "肏屄", "鸡巴", "奸杀", "奸幼", "幼逼",
    # insults
    "傻逼", "傻屄", "妈逼", "操你", "傻b",
    # gambling
    "赌博", "赌场", "赌球", "博彩", "赌具", "赌马", "赌术", "黄赌",
    # weapons / explosives
    "枪支", "枪械", "手枪", "步枪", "机枪", "气枪", "汽枪", "猎枪", "炸药", "弓弩", "军火",
    "买枪", "卖枪", "售枪", "土枪", "真枪", "弩箭", "手弩",
    # fraud / illegal trade
    "假币", "假钞", "伪钞", "伪币", "假证", "办证", "洗钱", "传销", "代孕", "代考", "刷单",
    "删帖", "删贴", "刻章", "买肾", "卖肾", "卖肝", "买肝", "拐卖", "卖娃",
    # politics / stability / terrorism
    "台独", "藏独", "疆独", "港独", "东突", "学潮", "政变", "劫机", "邪教", "共匪", "邪党",
    "退党", "党退", "1党",
}

# Raw entries dropped by hand: ordinary words, public figures' bare names that carry no risk by
# themselves, and entries that the benign activation text showed to be everyday words.
DROP = {
    "家政服务", "中国人民志愿军", "解放军", "政治", "军事", "国务院", "人民日报", "光明日报",
    "社会主义", "资本主义", "帝国主义", "形式主义", "主义", "总理", "财政部", "民政局", "烟草局",
    "国家", "日本人", "日本", "独立", "孙中山", "卡耐基", "甜蜜家庭", "宪法法院", "哥哥在国家队踢球",
    "取消中国国家足球队", "发生关系", "床伴", "夹紧", "素人", "遗言", "送礼", "革命", "毛骨悚然",
    "网页游戏", "活动主页", "随机抽选", "成语解释的纠正", "写真", "教养院", "东正教", "香港大学生",
    "兼职学生", "超级公子", "龙火之心", "天地玄门", "隐者之路", "世界风云录", "华夏神龙", "铁血3国志",
    "专业办理", "杀人事件", "血染的风采", "白领遇见黑领", "赣江学院", "月球极可能是人造天体",
    "人鬼情未了", "昨日重现", "小龙女", "下载速度", "性情中人", "电影下载", "验证码", "证券",
    "国家领导人", "人大常委", "商品销售", "通行证",
    # everyday, medical or topic words seen in the benign activation half (even ids only)
    "身份证", "银行卡号", "学历证书", "学历证", "同性恋", "双性恋", "性生活", "性行为", "性骚扰",
    "性工作者", "妈妈的", "性冷淡", "人体器官", "提供身份证", "提供身份证复印件",
}


# --------------------------------------------------------------------------------------------
# Tiers
# --------------------------------------------------------------------------------------------

# Block needs the language of an advertisement or a recipe around an illegal item: a bare
# "出售枪支" or "制作冰毒" is also how court rulings, news and teaching material speak (非法买卖枪支罪),
# so those stay `flag`.
AD = [
    "qq", "电话", "微信", "手机", "专卖", "专售", "专销", "批发", "直销", "供应", "订购", "到货",
    "货源", "价格", "代购", "团购", "0售", "甩卖", "包邮", "货到付款", "验货付款", "送货上门",
    "出货", "联系方式", "预定", "订制", "定制", "厂家", "网购", "购买网", "销售网", "专营",
]
RECIPE = [
    "配方", "制法", "图纸", "教程", "工艺", "制作方法", "合成方法", "制作过程", "制造方法",
    "制作教学", "教学", "diy", "提炼", "做法", "怎么做", "如何制作", "怎样制作", "配制方法",
    "合成过程", "制造过程", "制作流程", "cad", "模型图纸", "文件下载", "制作手册", "手册",
]
ANY_TRADE = AD + ["出售", "销售", "售", "购买", "买卖", "转让", "求购", "收购", "卖", "买", "提供"]
# Slang for drugs and guns that news and legal text do not use: any trade word will do.
SLANG = [
    "手狗", "气狗", "汽狗", "步狗", "短狗", "长狗", "钢珠狗", "左轮狗", "军狗", "木仓", "qiang",
    "汔枪", "秃鹰", "冰古", "白冰", "黄冰", "纯冰", "植物冰", "钻石冰", "白牙签", "黄牙签",
    "麻果", "神仙水", "happy水", "听话水", "听话药", "乖乖水", "乖乖药", "迷情水", "迷情粉",
    "拍肩药", "失意药", "喵喵", "冰砖", "奶油冰", "水果冰", "朝鲜冰", "high粉", "king粉",
    "迷奸药", "迷奸粉", "迷晕药", "昏迷粉", "强暴药", "催情水", "催情液", "催情粉", "摇头糖",
]
# Named controlled drugs and incapacitating drugs (not generic chemicals).
CORE_DRUG = [
    "冰毒", "海洛因", "大麻", "可卡因", "古柯", "摇头丸", "k粉", "氯胺酮", "麻古", "甲基苯丙胺",
    "安非他命", "鸦片", "罂粟", "卡西酮", "迷药", "迷魂药", "蒙汗药", "3唑仑", "三唑仑", "ghb",
    "毒品", "羟亚胺", "麻黄素", "昏迷药", "迷幻药", "lsd", "甲卡西酮", "安眠酮", "迷香",
    "氟硝西泮", "美沙酮", "催情药", "春药",
] + SLANG
CORE_WEAPON = [
    "枪", "弓弩", "弩", "子弹", "弹药", "铅弹", "霰弹", "手雷", "手榴弹", "炸药", "雷管",
    "火药", "导火索", "tnt", "炸弹", "地雷", "燃烧瓶", "燃烧弹", "爆炸物", "黑索今", "铵梯",
    "消音器", "军刺", "电击器", "麻醉枪", "54式", "64式", "77式", "92式", "95式", "钢珠",
    "雷汞", "起爆药", "掌心雷",
] + SLANG
FAKE_DOC = [
    "假证", "办证", "假文凭", "文凭", "毕业证", "学位证", "学历证", "身份证", "驾照", "驾驶证",
    "行驶证", "户口本", "结婚证", "离婚证", "护照", "资格证", "证书", "公章", "印章", "刻章",
    "发票", "税票", "假币", "假钞", "伪钞", "仿钞", "假钱", "假人民币", "军官证", "警官证",
    "记者证", "国安证", "军人证", "车牌", "军牌", "套牌", "警服", "警徽", "警衔", "作弊器",
]
EXAM = ["考题", "答案", "试题", "真题"]
SURVEIL = [
    "窃听", "监听", "卧底软件", "间谍软件", "定位软件", "短信拦截", "针孔", "偷拍器",
    "开房记录", "通话记录", "通话清单", "短信记录", "任意显", "改号软件", "串号", "伪基站",
    "干扰器", "flexispy", "客户资料", "业主数据", "业主资料", "车主数据", "车主资料",
    "股民数据", "股民资料", "名录", "面单", "通讯录", "考生数据", "考生信息", "新生儿数据",
]
# Porn-site, porn-media and sexual-service words; they block only with something around them
# (`免费a片`, `裸聊qq`), never bare.
SEX_STRONG = [
    "裸聊", "果聊", "援交", "a片", "黄片", "黄站", "色站", "淫图", "淫色", "淫电影", "色情网站",
    "色情电影", "色情视频", "色情小说", "色情图片", "成人电影", "成人影院", "成人网站",
    "成人视频", "成人导航", "成人小说", "成人图片", "乱伦小说", "包夜", "全套服务", "性服务",
    "av女优", "av电影", "av影院", "无码影院", "成人电视棒", "草榴",
]
CHILD = ["幼女", "萝莉", "幼幼", "幼交", "童交", "幼齿", "未成年", "12岁", "13岁", "14岁"]
CHILD_MEDIA = ["a片", "视频", "淫图", "下载", "电影", "图片", "种子", "嫩穴", "小穴", "援交",
               "性交", "做爱", "开苞", "色情"]
GAMBLE = ["赌", "博彩", "百家乐", "娱乐城", "投注", "下注", "六合彩", "6合彩", "时时彩", "真钱",
          "彩金"]
GAMBLE_SOLICIT = ["网址", "官网", "开户", "注册送", "送彩金", "返水", "qq", "电话", "微信",
                  "真人视讯", "备用网", "代理", "提款", "网上赌", "在线赌", "网上真钱", "真钱游戏"]
HIRED_VIOLENCE = ["替人报仇", "帮人报仇", "替人复仇", "替人出气", "替人收债", "替人讨债",
                  "找打手", "打手电话", "找杀手", "杀手电话", "杀手qq", "雇佣杀手", "杀手雇佣"]
ORGAN = ["肾源", "卖肾", "买肾", "卖肝", "买肝", "肝源", "肝脏", "器官", "卖卵", "卖娃", "卖婴",
         "领养女宝", "收养女宝"]
# Entries with these anywhere never go to block (legal, news, medical or teaching contexts).
NEVER_BLOCK = [
    "新闻", "报道", "研究", "治疗", "医院", "法律", "法规", "打击", "严打", "禁毒", "戒毒",
    "扫黄", "举报", "公安", "警方", "破获", "查处", "传播", "非法", "涉嫌", "罪", "案", "犯",
    "被", "禁止", "危害", "识别", "防范", "抓", "判",
]


def has(term, words):
    return any(w in term for w in words)


def tier_for(term, tags, families):
    """`block` for entries unambiguous in any context, else `flag`."""
    if len(term) < 4 or has(term, NEVER_BLOCK):
        return "flag"
    if tags and tags <= {"0"}:
        return "flag"  # political mentions are not violations by themselves
    ad, recipe, trade = has(term, AD), has(term, RECIPE), has(term, ANY_TRADE)
    if "drug" in families:
        if has(term, SLANG) and trade:
            return "block"
        if has(term, CORE_DRUG) and (ad or recipe):
            return "block"
    if {"weapon", "explosive", "cookbook"} & families:
        if has(term, SLANG) and trade:
            return "block"
        if has(term, CORE_WEAPON) and (ad or recipe):
            return "block"
    if "cookbook" in families and has(term, ["下载", "pdf", "txt", "doc", "rar", "电子", "中文版"]):
        return "block"
    if "fraud" in families:
        if has(term, FAKE_DOC) and ad:
            return "block"
        if has(term, EXAM) and ad and has(term, ["考", "级", "试"]):
            return "block"
    if "privacy" in families and has(term, SURVEIL) and ad:
        return "block"
    if "porn" in families:
        for w in SEX_STRONG:
            if w in term and len(term) > len(w):
                return "block"
        if has(term, CHILD) and has(term, CHILD_MEDIA):
            return "block"
    if "gambling" in families and has(term, GAMBLE) and has(term, GAMBLE_SOLICIT):
        return "block"
    if has(term, HIRED_VIOLENCE):
        return "block"
    if has(term, ORGAN) and ad:
        return "block"
    return "flag"


# --------------------------------------------------------------------------------------------
# Allowlist additions: benign words that contain a term (the raw allowlist comes first).
# --------------------------------------------------------------------------------------------

EXTRA_ALLOW = [
    # contain 2-character entries kept as flag
    "大麻疹", "大麻哈鱼", "大麻籽", "工业大麻", "大麻纤维", "汉麻",
    "鸦片战争",
    "赌气", "打赌", "赌咒", "赌注",
    "传销案", "禁毒", "戒毒", "缉毒", "毒品犯罪",
    "假币识别", "识别假币",
    "刷单诈骗", "删帖声明",
    "强奸罪", "卖淫罪",
    # contain hand-written A.2 terms
    "玉米棒子", "棒子面", "哑巴亏", "吃哑巴亏", "聋哑人", "盲人按摩", "老东西了",
    "人妖泰国", "母狗粮",
    # contain raw entries that matched the benign activation text
]


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------

def raw_dir(argv):
    if "--raw" in argv:
        return Path(argv[argv.index("--raw") + 1])
    env = os.environ.get("WARDEN_HOUBB_DIR")
    if env:
        return Path(env)
    for base in (ROOT / "shared", ROOT.parent / "shared"):
        if (base / RAW_SUBDIR).is_dir():
            return base / RAW_SUBDIR
    sys.exit("curate-lexicon: raw list not found; pass --raw DIR or set WARDEN_HOUBB_DIR")


def read_lines(path):
    return [l.rstrip("\r") for l in path.read_text(encoding="utf-8").split("\n")]


def map_risks(folded, tags):
    """(risks, families) for a raw entry; empty risks means unmappable."""
    if tags:
        allowed = sorted({f for t in tags for f in TAG_FAMILIES[t]})
    else:
        allowed = sorted(f for f in FAMILIES if f not in WEAK_FOR_UNTAGGED)
    families = set()
    risks = set()
    for fam in allowed:
        risk, words = FAMILIES[fam]
        hit = [w for w in words if w in folded]
        if not tags:
            hit = [w for w in hit if w not in WEAK_KEYWORDS]
        if hit:
            families.add(fam)
            risks.update(risk.split(","))
    # A tag whose families matched nothing falls back to its default risk; the broad tags 0
    # (politics) and 4 (illegal) only when nothing at all matched.
    matched_any = bool(families)
    for t in sorted(tags):
        if set(TAG_FAMILIES[t]) & families:
            continue
        if t in {"0", "4"} and matched_any:
            continue
        risks.add(TAG_DEFAULT[t])
        families.add("tag" + t)
    if "terror" in families:
        risks.add("A.1.4")
    return risks, families


def risk_key(r):
    return tuple(int(p) for p in r[2:].split("."))


MAX_TERM_CHARS = 20


def curate(raw):
    dict_terms = [l.strip() for l in read_lines(raw / "sensitive_word_dict.txt")]
    tags = {}
    for line in read_lines(raw / "sensitive_word_tags.txt"):
        if line.strip():
            term, t = line.rsplit(" ", 1)
            tags.setdefault(term.strip(), set()).update(t.split(","))
    en_terms = [l.strip() for l in read_lines(raw / "sensitive_word_dict_en.txt")]
    stats = collections.Counter()

    entries = {}  # folded -> [term, tier, risks(set), origin]
    sources = sorted(set(t for t in dict_terms if t) | set(tags))
    for term in sources:
        stats["raw"] += 1
        if any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in term):
            stats["drop: control characters (encoding debris)"] += 1
            continue
        folded = fold(term)
        if len(folded) < 2:
            stats["drop: empty or one character after folding"] += 1
            continue
        if len(folded) > MAX_TERM_CHARS:
            # Spam sentences, not keywords: they never recur verbatim, and a streamed answer is
            # held back by as many characters as the longest term has.
            stats[f"drop: longer than {MAX_TERM_CHARS} characters"] += 1
            continue
        if term in DROP or folded in DROP:
            stats["drop: hand-listed ordinary word"] += 1
            continue
        if len(folded) == 2 and folded not in KEEP_TWO_CHAR:
            stats["drop: two characters, not on the keep list"] += 1
            continue
        t = tags.get(term, set())
        risks, families = map_risks(folded, t)
        if not risks:
            stats["drop: untagged and no content rule maps it"] += 1
            continue
        if not any(not f.startswith("tag") for f in families) and len(folded) <= 4:
            stats["drop: no content rule matched, four characters or fewer"] += 1
            continue
        tier = tier_for(folded, t, families)
        origin = "houbb:" + (",".join(sorted(t)) if t else "-")
        if folded in entries:
            stats["merged: duplicate after folding"] += 1
            old = entries[folded]
            old[2] |= risks
            if tier == "flag":
                old[1] = "flag"
            merged = sorted(set(old[3][6:].split(",")) | set(origin[6:].split(",")) - {"-"})
            old[3] = "houbb:" + (",".join(merged) if merged else "-")
            continue
        entries[folded] = [term, tier, set(risks), origin]

    en_map = {
        "fuck": ("flag", "A.4.3"), "shit": ("flag", "A.4.3"), "sex": ("flag", "A.1.6"),
        "sexy": ("flag", "A.1.6"), "prostitute": ("flag", "A.1.6"), "whore": ("flag", "A.1.6,A.4.3"),
        "harlot": ("flag", "A.1.6,A.4.3"), "hooker": ("flag", "A.1.6"),
        # Slang senses ("coward", "prostitute"); the plain words are ordinary English.
        "chicken": ("flag", "A.4.3"), "duck": ("flag", "A.1.6"), "fowl": ("flag", "A.4.3"),
    }
    for term in en_terms:
        if not term:
            continue
        folded = fold(term)
        tier, risk = en_map.get(folded, ("flag", "A.1.6"))
        stats["raw (en)"] += 1
        if folded in entries:
            stats["merged: duplicate after folding"] += 1
            continue
        entries[folded] = [term, tier, set(risk.split(",")), "houbb:en"]

    for number, line in enumerate(read_lines(WARDEN_ENTRIES), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            sys.exit(f"{WARDEN_ENTRIES}:{number}: expected term<TAB>tier<TAB>risks")
        term, tier, risk = (f.strip() for f in fields)
        folded = fold(term)
        if len(folded) < 2 or tier not in {"block", "flag"}:
            sys.exit(f"{WARDEN_ENTRIES}:{number}: bad entry")
        stats["warden"] += 1
        if folded in entries:
            # the hand-written mapping adds its risks; the stricter-of-both tier is `flag`
            old = entries[folded]
            old[2] |= set(risk.split(","))
            if tier == "flag":
                old[1] = "flag"
            stats["warden: merged into a raw entry"] += 1
            continue
        entries[folded] = [term, tier, set(risk.split(",")), "warden"]

    rows = []
    for folded, (term, tier, risks, origin) in entries.items():
        risk_s = ",".join(sorted(risks, key=risk_key))
        rows.append((term, tier, risk_s, origin))
    rows.sort(key=lambda r: (r[0].encode("utf-8"), r[1], r[2], r[3]))
    return rows, stats


HEADER = """\
# Warden starter keyword lexicon. GENERATED by scripts/curate-lexicon.py; do not edit by hand
# (hand-written entries live in warden-entries.tsv, hand-picked drops and rules in the script).
#
# Columns, tab-separated:
#   term    as the source spells it; Warden folds it (width, case, traditional->simplified,
#           invisible characters, spaces and punctuation) before matching
#   tier    block: unambiguous in any context; flag: worth a look, a mention is not a violation
#   risks   GB/T 45654-2025 Appendix A risk ids (A.1.1 ... A.5.2), comma-separated
#   origin  houbb:<tags> from houbb/sensitive-word (tags 0 politics, 1 drugs, 2 porn,
#           3 gambling, 4 illegal; `-` untagged; `en` the English list), or warden (hand-written)
#
# Source of houbb entries: GitHub houbb/sensitive-word, src/main/resources/ at commit
# bac9a301ed0ada86ad2469c0a18f2594eeba15ec, Apache-2.0 (see LICENSE.houbb.txt).
# Which entries are active is decided by Warden's activation gate (inactive.tsv), not here.
# Curation rules and counts: README.md.
"""


def write_outputs(raw, rows):
    body = "".join(f"{t}\t{tier}\t{r}\t{o}\n" for t, tier, r, o in rows)
    (LEX / "starter.tsv").write_text(HEADER + body, encoding="utf-8", newline="\n")
    allow_raw = [l.strip() for l in read_lines(raw / "sensitive_word_allow.txt") if l.strip()]
    seen = set()
    lines = [
        "# Warden starter allowlist: a lexicon hit that lies wholly inside one of these words does",
        "# not count. GENERATED by scripts/curate-lexicon.py.",
        "# First the houbb/sensitive-word allowlist (Apache-2.0, see LICENSE.houbb.txt), then",
        "# Warden's additions.",
        "# houbb/sensitive-word sensitive_word_allow.txt",
    ]
    for w in allow_raw:
        if fold(w) not in seen:
            seen.add(fold(w))
            lines.append(w)
    lines.append("# warden")
    for w in EXTRA_ALLOW:
        if fold(w) not in seen:
            seen.add(fold(w))
            lines.append(w)
    (LEX / "allow.txt").write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")
    return [fold(l) for l in lines if l and not l.startswith("#")]


ALL_RISKS = (
    [f"A.1.{i}" for i in range(1, 9)] + [f"A.2.{i}" for i in range(1, 10)]
    + [f"A.3.{i}" for i in range(1, 6)] + [f"A.4.{i}" for i in range(1, 8)]
    + ["A.5.1", "A.5.2"]
)
REFERENCE = {**{f"A.1.{i}": 200 for i in range(1, 9)}, **{f"A.2.{i}": 100 for i in range(1, 10)}}


def print_counts(rows, stats):
    print("| step | entries |\n|---|---:|")
    for k in sorted(stats):
        print(f"| {k} | {stats[k]} |")
    tiers = collections.Counter(r[1] for r in rows)
    origins = collections.Counter(r[3].split(":")[0] for r in rows)
    print(f"\ntotal {len(rows)}; block {tiers['block']}; flag {tiers['flag']}; "
          f"houbb {origins['houbb']}; warden {origins['warden']}\n")
    per = {r: collections.Counter() for r in ALL_RISKS}
    cat = {c: collections.Counter() for c in ["A.1", "A.2", "A.3", "A.4", "A.5"]}
    for term, tier, risks, _ in rows:
        for r in risks.split(","):
            per[r][tier] += 1
        for c in sorted({r[:3] for r in risks.split(",")}):
            cat[c][tier] += 1
    print("| risk | block | flag | total | reference | shortfall |\n|---|---:|---:|---:|---:|---:|")
    for r in ALL_RISKS:
        c = per[r]
        tot = c["block"] + c["flag"]
        ref = REFERENCE.get(r)
        short = "" if ref is None else (str(max(0, ref - tot)) if tot < ref else "0")
        print(f"| {r} | {c['block']} | {c['flag']} | {tot} | {ref or '-'} | {short} |")
    print("\n| category | block | flag | total |\n|---|---:|---:|---:|")
    for c, v in cat.items():
        print(f"| {c} | {v['block']} | {v['flag']} | {v['block'] + v['flag']} |")


# --------------------------------------------------------------------------------------------
# --check: hit rates on the ACTIVATION half (even ids / even line numbers) only
# --------------------------------------------------------------------------------------------

EVAL = ROOT / "crates" / "eval" / "data"


def activation_texts():
    benign = []
    for item in json.loads((EVAL / "safetybench" / "test_zh_subset.json").read_text("utf-8")):
        if int(item["id"]) % 2 == 0:
            benign.append(item["question"] + "\n" + "\n".join(item.get("options", [])))
    with open(EVAL / "xstest" / "xstest_prompts.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if not row["type"].startswith("contrast_") and int(row["id"]) % 2 == 0:
                benign.append(row["prompt"])
    harmful = []
    for path in (EVAL / "flames" / "Flames_1k_Chinese.jsonl",
                 EVAL / "cvalues" / "cvalues_responsibility_prompts.jsonl"):
        for i, line in enumerate(path.read_text("utf-8").splitlines()):
            if i % 2 == 0 and line.strip():
                harmful.append(json.loads(line)["prompt"])
    return benign, harmful


class Matcher:
    def __init__(self, rows, allow):
        self.terms = collections.defaultdict(list)  # first two chars -> [(folded, row)]
        self.single = collections.defaultdict(list)
        for row in rows:
            f = fold(row[0])
            self.terms[f[:2]].append((f, row))
        self.allow = [a for a in allow if a]

    def hits(self, text):
        f = fold(text)
        allowed = []
        for a in self.allow:
            start = f.find(a)
            while start >= 0:
                allowed.append((start, start + len(a)))
                start = f.find(a, start + 1)
        out = []
        for i in range(len(f) - 1):
            for term, row in self.terms.get(f[i:i + 2], ()):
                j = i + len(term)
                if f.startswith(term, i):
                    if is_latin(term) and ((i > 0 and f[i - 1].isascii() and f[i - 1].isalnum())
                                           or (j < len(f) and f[j].isascii() and f[j].isalnum())):
                        continue  # Latin terms match whole words only (word boundaries approx.)
                    if any(s <= i and j <= e for s, e in allowed):
                        continue
                    out.append(row)
        return out


def check(rows, allow):
    benign, harmful = activation_texts()
    m = Matcher(rows, allow)
    for name, texts in (("benign activation half", benign), ("harmful-ish even lines", harmful)):
        mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
        per_tier = collections.Counter()
        docs = collections.Counter()
        terms = collections.Counter()
        for t in texts:
            hs = m.hits(t)
            for row in hs:
                per_tier[row[1]] += 1
                terms[(row[1], row[0], row[2])] += 1
            for tier in {row[1] for row in hs}:
                docs[tier] += 1
        print(f"\n## {name}: {len(texts)} texts, {mb:.3f} MB")
        for tier in ("block", "flag"):
            print(f"{tier}: {per_tier[tier]} hits = {per_tier[tier] / mb:.0f}/MB; "
                  f"{docs[tier]} texts ({100 * docs[tier] / len(texts):.1f}%) with a hit")
        print("top terms:", ", ".join(f"{k[1]}[{k[0]}]={v}" for k, v in terms.most_common(60)))


def main(argv):
    raw = raw_dir(argv)
    rows, stats = curate(raw)
    allow = write_outputs(raw, rows)
    if "--counts" in argv:
        print_counts(rows, stats)
    if "--check" in argv:
        check(rows, allow)


if __name__ == "__main__":
    main(sys.argv[1:])
