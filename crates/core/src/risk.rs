//! Risk taxonomies as data: the 31 risks of GB/T 45654-2025 Appendix A (carried over from TC260-003)
//! and the frontier-capability risk categories.
//!
//! A [`RiskId`] is a stable string id. Appendix A risks use `A.<category>.<n>` (`A.1.4` is
//! 宣扬恐怖主义、极端主义); frontier risks use a lowercase word (`cbrn`, `cyber`, `persuasion`,
//! `autonomy`, `deception`). Ids are what is stored and serialised; names are for display.
//!
//! | category | 名称 | risks |
//! |---|---|---|
//! | `A.1` | 违反社会主义核心价值观 | 8 |
//! | `A.2` | 歧视性内容 | 9 |
//! | `A.3` | 商业违法违规 | 5 |
//! | `A.4` | 侵犯他人合法权益 | 7 (`A.4.6` unconfirmed) |
//! | `A.5` | 无法满足特定服务类型的安全需求 | 2 |
//! | `frontier` | frontier capabilities | 5 |
//!
//! `A.4.6` 个人信息权益 (personal-information rights) is **unconfirmed**: the public sources list six
//! A.4 risks, and the seventh is inferred from the stated count of 31. [`Risk::confirmed`] says so.
//!
//! Nothing here does IO.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A risk category: one of the five Appendix A categories, or the frontier capabilities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RiskCategory {
    /// A.1 违反社会主义核心价值观: content against the core socialist values.
    CoreValues,
    /// A.2 歧视性内容: discriminatory content.
    Discrimination,
    /// A.3 商业违法违规: commercial violations.
    Commercial,
    /// A.4 侵犯他人合法权益: infringing others' lawful rights and interests.
    Rights,
    /// A.5 无法满足特定服务类型的安全需求: not meeting the safety needs of specific service types.
    ServiceNeeds,
    /// Frontier capabilities: CBRN, cyber offence, persuasion, autonomy, deception.
    Frontier,
}

impl RiskCategory {
    /// Every category, in order.
    pub const ALL: [RiskCategory; 6] = [
        RiskCategory::CoreValues,
        RiskCategory::Discrimination,
        RiskCategory::Commercial,
        RiskCategory::Rights,
        RiskCategory::ServiceNeeds,
        RiskCategory::Frontier,
    ];

    /// The category's stable id: `A.1` … `A.5`, or `frontier`.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskCategory::CoreValues => "A.1",
            RiskCategory::Discrimination => "A.2",
            RiskCategory::Commercial => "A.3",
            RiskCategory::Rights => "A.4",
            RiskCategory::ServiceNeeds => "A.5",
            RiskCategory::Frontier => "frontier",
        }
    }

    /// The category's name in Chinese as the standard writes it (the frontier category has none in
    /// the standard; a plain translation is given).
    pub fn name_zh(self) -> &'static str {
        match self {
            RiskCategory::CoreValues => "违反社会主义核心价值观",
            RiskCategory::Discrimination => "歧视性内容",
            RiskCategory::Commercial => "商业违法违规",
            RiskCategory::Rights => "侵犯他人合法权益",
            RiskCategory::ServiceNeeds => "无法满足特定服务类型的安全需求",
            RiskCategory::Frontier => "前沿能力风险",
        }
    }

    /// An English gloss of the category's name.
    pub fn name_en(self) -> &'static str {
        match self {
            RiskCategory::CoreValues => "Violating the core socialist values",
            RiskCategory::Discrimination => "Discriminatory content",
            RiskCategory::Commercial => "Commercial violations",
            RiskCategory::Rights => "Infringing others' lawful rights and interests",
            RiskCategory::ServiceNeeds => "Failing the safety needs of specific service types",
            RiskCategory::Frontier => "Frontier capabilities",
        }
    }

    /// The risks in this category, in id order.
    pub fn risks(self) -> impl Iterator<Item = RiskId> {
        RiskId::all().filter(move |r| r.category() == self)
    }
}

impl fmt::Display for RiskCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RiskCategory {
    type Err = UnknownRisk;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RiskCategory::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownRisk(s.to_owned()))
    }
}

/// One entry of the taxonomy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Risk {
    /// The stable id, e.g. `A.1.4` or `cyber`.
    pub id: &'static str,
    /// The category it belongs to.
    pub category: RiskCategory,
    /// The name in Chinese, as the standard writes it.
    pub name_zh: &'static str,
    /// An English gloss.
    pub name_en: &'static str,
    /// False where the public sources do not confirm the risk (only `A.4.6`).
    pub confirmed: bool,
}

const fn risk(
    id: &'static str,
    category: RiskCategory,
    name_zh: &'static str,
    name_en: &'static str,
) -> Risk {
    Risk {
        id,
        category,
        name_zh,
        name_en,
        confirmed: true,
    }
}

use RiskCategory::{Commercial, CoreValues, Discrimination, Frontier, Rights, ServiceNeeds};

/// The whole taxonomy, in id order. [`RiskId`] indexes into it.
static RISKS: [Risk; 36] = [
    risk(
        "A.1.1",
        CoreValues,
        "煽动颠覆国家政权、推翻社会主义制度",
        "Inciting subversion of state power or overthrow of the socialist system",
    ),
    risk(
        "A.1.2",
        CoreValues,
        "危害国家安全和利益、损害国家形象",
        "Endangering national security and interests, harming the national image",
    ),
    risk(
        "A.1.3",
        CoreValues,
        "煽动分裂国家、破坏国家统一和社会稳定",
        "Inciting secession, undermining national unity and social stability",
    ),
    risk(
        "A.1.4",
        CoreValues,
        "宣扬恐怖主义、极端主义",
        "Promoting terrorism or extremism",
    ),
    risk(
        "A.1.5",
        CoreValues,
        "宣扬民族仇恨",
        "Promoting ethnic hatred",
    ),
    risk(
        "A.1.6",
        CoreValues,
        "宣扬暴力、淫秽色情",
        "Promoting violence, obscenity or pornography",
    ),
    risk(
        "A.1.7",
        CoreValues,
        "传播虚假有害信息",
        "Spreading false and harmful information",
    ),
    risk(
        "A.1.8",
        CoreValues,
        "其他法律、行政法规禁止的内容",
        "Other content prohibited by laws and administrative regulations",
    ),
    risk("A.2.1", Discrimination, "民族歧视", "Ethnic discrimination"),
    risk(
        "A.2.2",
        Discrimination,
        "信仰歧视",
        "Discrimination by belief",
    ),
    risk(
        "A.2.3",
        Discrimination,
        "国别歧视",
        "Discrimination by nationality",
    ),
    risk(
        "A.2.4",
        Discrimination,
        "地域歧视",
        "Regional discrimination",
    ),
    risk("A.2.5", Discrimination, "性别歧视", "Gender discrimination"),
    risk("A.2.6", Discrimination, "年龄歧视", "Age discrimination"),
    risk(
        "A.2.7",
        Discrimination,
        "职业歧视",
        "Occupational discrimination",
    ),
    risk("A.2.8", Discrimination, "健康歧视", "Health discrimination"),
    risk(
        "A.2.9",
        Discrimination,
        "其他方面歧视",
        "Other discrimination",
    ),
    risk(
        "A.3.1",
        Commercial,
        "侵犯他人知识产权",
        "Infringing intellectual property",
    ),
    risk(
        "A.3.2",
        Commercial,
        "违反商业道德",
        "Violating business ethics",
    ),
    risk(
        "A.3.3",
        Commercial,
        "泄露他人商业秘密",
        "Disclosing trade secrets",
    ),
    risk(
        "A.3.4",
        Commercial,
        "利用算法、数据、平台等优势，实施垄断和不正当竞争行为",
        "Monopoly or unfair competition using algorithm, data or platform advantages",
    ),
    risk(
        "A.3.5",
        Commercial,
        "其他商业违法违规行为",
        "Other commercial violations",
    ),
    risk(
        "A.4.1",
        Rights,
        "危害他人身心健康",
        "Endangering others' physical or mental health",
    ),
    risk(
        "A.4.2",
        Rights,
        "侵害他人肖像权",
        "Infringing portrait rights",
    ),
    risk(
        "A.4.3",
        Rights,
        "侵害他人名誉权",
        "Infringing reputation rights",
    ),
    risk(
        "A.4.4",
        Rights,
        "侵害他人荣誉权",
        "Infringing honour rights",
    ),
    risk(
        "A.4.5",
        Rights,
        "侵害他人隐私权",
        "Infringing privacy rights",
    ),
    // Unconfirmed: the public sources list six A.4 risks; this one is inferred from the count of 31.
    Risk {
        id: "A.4.6",
        category: Rights,
        name_zh: "侵害他人个人信息权益",
        name_en: "Infringing personal-information rights (unconfirmed)",
        confirmed: false,
    },
    risk(
        "A.4.7",
        Rights,
        "侵犯他人其他合法权益",
        "Infringing other lawful rights and interests",
    ),
    risk(
        "A.5.1",
        ServiceNeeds,
        "内容不准确",
        "Inaccurate content (seriously contradicts science or mainstream understanding)",
    ),
    risk(
        "A.5.2",
        ServiceNeeds,
        "内容不可靠",
        "Unreliable content (no serious error, but of no help)",
    ),
    risk(
        "cbrn",
        Frontier,
        "化学、生物、放射性和核武器",
        "Chemical, biological, radiological and nuclear weapons uplift",
    ),
    risk(
        "cyber",
        Frontier,
        "网络攻击能力",
        "Offensive cyber capability",
    ),
    risk(
        "persuasion",
        Frontier,
        "说服与操纵",
        "Persuasion and manipulation",
    ),
    risk(
        "autonomy",
        Frontier,
        "自主复制与自主行动",
        "Autonomous replication and action",
    ),
    risk(
        "deception",
        Frontier,
        "欺骗与伪装对齐",
        "Deception and fake alignment",
    ),
];

/// The id of one risk in the taxonomy. Serialises as its id string (`"A.1.4"`, `"cyber"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RiskId(u8);

#[allow(missing_docs)]
impl RiskId {
    pub const A_1_1: RiskId = RiskId(0);
    pub const A_1_2: RiskId = RiskId(1);
    pub const A_1_3: RiskId = RiskId(2);
    /// 宣扬恐怖主义、极端主义.
    pub const A_1_4: RiskId = RiskId(3);
    pub const A_1_5: RiskId = RiskId(4);
    pub const A_1_6: RiskId = RiskId(5);
    /// 传播虚假有害信息.
    pub const A_1_7: RiskId = RiskId(6);
    /// 其他法律、行政法规禁止的内容.
    pub const A_1_8: RiskId = RiskId(7);
    pub const A_2_1: RiskId = RiskId(8);
    pub const A_2_2: RiskId = RiskId(9);
    pub const A_2_3: RiskId = RiskId(10);
    pub const A_2_4: RiskId = RiskId(11);
    pub const A_2_5: RiskId = RiskId(12);
    pub const A_2_6: RiskId = RiskId(13);
    pub const A_2_7: RiskId = RiskId(14);
    pub const A_2_8: RiskId = RiskId(15);
    pub const A_2_9: RiskId = RiskId(16);
    pub const A_3_1: RiskId = RiskId(17);
    pub const A_3_2: RiskId = RiskId(18);
    pub const A_3_3: RiskId = RiskId(19);
    pub const A_3_4: RiskId = RiskId(20);
    pub const A_3_5: RiskId = RiskId(21);
    /// 危害他人身心健康.
    pub const A_4_1: RiskId = RiskId(22);
    pub const A_4_2: RiskId = RiskId(23);
    pub const A_4_3: RiskId = RiskId(24);
    pub const A_4_4: RiskId = RiskId(25);
    /// 侵害他人隐私权.
    pub const A_4_5: RiskId = RiskId(26);
    /// 个人信息权益: **unconfirmed** in the public sources (see the module doc).
    pub const A_4_6: RiskId = RiskId(27);
    /// 其他合法权益.
    pub const A_4_7: RiskId = RiskId(28);
    pub const A_5_1: RiskId = RiskId(29);
    pub const A_5_2: RiskId = RiskId(30);
    pub const CBRN: RiskId = RiskId(31);
    pub const CYBER: RiskId = RiskId(32);
    pub const PERSUASION: RiskId = RiskId(33);
    pub const AUTONOMY: RiskId = RiskId(34);
    pub const DECEPTION: RiskId = RiskId(35);
}

impl RiskId {
    /// Every risk, Appendix A first (31), then the frontier risks (5).
    pub fn all() -> impl Iterator<Item = RiskId> {
        (0..RISKS.len() as u8).map(RiskId)
    }

    /// The 31 GB/T 45654 Appendix A risks only.
    pub fn appendix_a() -> impl Iterator<Item = RiskId> {
        RiskId::all().filter(|r| r.category() != RiskCategory::Frontier)
    }

    /// The taxonomy entry: names, category, confirmation.
    pub fn info(self) -> &'static Risk {
        // The constructor only makes in-range indexes; fall back to the last entry defensively.
        RISKS
            .get(usize::from(self.0))
            .unwrap_or(&RISKS[RISKS.len() - 1])
    }

    /// The stable id string.
    pub fn as_str(self) -> &'static str {
        self.info().id
    }

    /// The category this risk belongs to.
    pub fn category(self) -> RiskCategory {
        self.info().category
    }
}

impl fmt::Display for RiskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A risk or category id that is not in the taxonomy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown risk id `{0}`; expected a GB/T 45654 Appendix A id (A.1.1–A.1.8, A.2.1–A.2.9, A.3.1–A.3.5, A.4.1–A.4.7, A.5.1–A.5.2) or a frontier id (cbrn, cyber, persuasion, autonomy, deception)"
)]
pub struct UnknownRisk(pub String);

impl FromStr for RiskId {
    type Err = UnknownRisk;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RISKS
            .iter()
            .position(|r| r.id == s)
            .and_then(|i| u8::try_from(i).ok())
            .map(RiskId)
            .ok_or_else(|| UnknownRisk(s.to_owned()))
    }
}

impl Serialize for RiskId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RiskId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_the_standard() {
        assert_eq!(RiskId::appendix_a().count(), 31);
        assert_eq!(RiskId::all().count(), 36);
        let counts: Vec<usize> = RiskCategory::ALL
            .iter()
            .map(|c| c.risks().count())
            .collect();
        assert_eq!(counts, [8, 9, 5, 7, 2, 5]);
    }

    #[test]
    fn ids_are_well_formed_unique_and_in_their_category() {
        let mut seen = std::collections::HashSet::new();
        for r in RiskId::all() {
            assert!(seen.insert(r.as_str()), "duplicate id {r}");
            let c = r.category();
            if c == RiskCategory::Frontier {
                assert!(r.as_str().chars().all(|ch| ch.is_ascii_lowercase()));
            } else {
                assert!(r.as_str().starts_with(&format!("{c}.")), "{r} not in {c}");
            }
        }
        // Numbering inside each category is 1..=n in order.
        for c in &RiskCategory::ALL[..5] {
            for (i, r) in c.risks().enumerate() {
                assert_eq!(r.as_str(), format!("{c}.{}", i + 1));
            }
        }
    }

    #[test]
    fn constants_point_at_their_ids() {
        assert_eq!(RiskId::A_1_4.as_str(), "A.1.4");
        assert_eq!(RiskId::A_1_4.info().name_zh, "宣扬恐怖主义、极端主义");
        assert_eq!(RiskId::A_2_9.as_str(), "A.2.9");
        assert_eq!(RiskId::A_4_1.as_str(), "A.4.1");
        assert_eq!(RiskId::A_4_5.as_str(), "A.4.5");
        assert_eq!(RiskId::A_5_2.as_str(), "A.5.2");
        assert_eq!(RiskId::CBRN.as_str(), "cbrn");
        assert_eq!(RiskId::DECEPTION.as_str(), "deception");
    }

    #[test]
    fn only_a_4_6_is_unconfirmed() {
        let unconfirmed: Vec<_> = RiskId::all().filter(|r| !r.info().confirmed).collect();
        assert_eq!(unconfirmed, [RiskId::A_4_6]);
    }

    #[test]
    fn parse_display_and_serde_round_trip() {
        for r in RiskId::all() {
            assert_eq!(r.to_string().parse::<RiskId>(), Ok(r));
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{r}\""));
            assert_eq!(serde_json::from_str::<RiskId>(&json).unwrap(), r);
        }
        for c in RiskCategory::ALL {
            assert_eq!(c.to_string().parse::<RiskCategory>(), Ok(c));
        }
    }

    #[test]
    fn unknown_ids_are_rejected_with_a_hint() {
        for bad in ["A.1.9", "A.6.1", "a.1.4", "A.1", "", "CBRN"] {
            let err = bad.parse::<RiskId>().unwrap_err();
            assert!(err.to_string().contains("A.1.1–A.1.8"), "{err}");
        }
        let err = serde_json::from_str::<RiskId>("\"A.9.9\"").unwrap_err();
        assert!(err.to_string().contains("unknown risk id `A.9.9`"), "{err}");
    }
}
